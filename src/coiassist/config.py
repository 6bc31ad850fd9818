"""One settings object: defaults in code, then a TOML file, then COIASSIST_* variables, then flags.

Every field carries its description; `coiassist config` prints them with the effective values
and a test fails when the README leaves one out.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from coiassist.errors import ConfigError

ENV_PREFIX = "COIASSIST_"
CONFIG_FILE_ENV = "COIASSIST_CONFIG"
DEFAULT_CONFIG_FILE = "coiassist.toml"


def _setting(default: Any, description: str, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"description": description, "choices": choices})


@dataclass(frozen=True)
class Settings:
    home: Path = _setting(Path(".coiassist"), "Folder for the index, caches, uploads and feedback.")
    corpus: Path = _setting(Path("corpus"), "Folder (or single file) of articles to index.")
    chroma_url: str = _setting(
        "", "URL of a Chroma server (e.g. http://127.0.0.1:8000); empty uses the embedded Chroma in home."
    )
    embedding_model: str = _setting(
        "", "sentence-transformers model name or folder; empty uses the bundled all-MiniLM-L6-v2."
    )
    embedding_precision: str = _setting(
        "auto",
        "Precision for embedding passages: auto (bfloat16 where the CPU computes it natively, "
        "AVX512-BF16 or AMX; else float32), bfloat16 (same rankings, 2.35x as fast there, 6x slower "
        "where emulated) or float32.",
        ("auto", "bfloat16", "float32"),
    )
    query_prompt: str = _setting("", "Prefix for queries, e.g. 'query: ' for e5 models.")
    passage_prompt: str = _setting("", "Prefix for passages, e.g. 'passage: ' for e5 models.")
    chunk_tokens: int = _setting(
        200, "Largest chunk in model tokens (capped at the model's maximum sequence length)."
    )
    chunk_overlap_tokens: int = _setting(40, "Tokens of whole sentences repeated between chunks.")
    embed_batch_size: int = _setting(32, "Chunks per embedding batch.")
    threads: int = _setting(2, "CPU threads for embedding and the vector index.")
    retrieval_mode: str = _setting(
        "hybrid", "How passages are found: hybrid, bm25 or dense.", ("hybrid", "bm25", "dense")
    )
    fusion: str = _setting(
        "score",
        "How hybrid mode fuses BM25 and dense: score (normalised scores, the measured best) or rrf.",
        ("score", "rrf"),
    )
    dense_weight: float = _setting(
        0.1, "Weight of the dense side in the fusion (BM25 has weight 1); chosen on the dev sets."
    )
    name_weight: float = _setting(
        0.5,
        'Extra BM25 weight of the question\'s names (capitalised words inside it, "Lortie", '
        '"Djengis Khan"): they say what it is about; chosen on the dev sets, 0 turns it off.',
    )
    article_weight: float = _setting(
        0.25,
        "Share of the fused score of an article's second-best chunk that its best chunk gains: "
        "a long article whose chunks each hold some of the question's words outranks a short "
        "one that shares its common words (score fusion and single modes; not with rrf); chosen "
        "on the dev sets, 0 turns it off.",
    )
    rrf_k: int = _setting(60, "Rank constant of the reciprocal-rank fusion (fusion = rrf).")
    top_k: int = _setting(5, "Passages given to the answer backend.")
    extractive_similarity_weight: float = _setting(
        0.0,
        "Weight of the embedding similarity of question and sentence when the extractive backend "
        "picks sentences (the words they share weigh 1 and alone decide whether to answer and how "
        "many sentences); 0 turns it off. With the bundled English model no weight helped on the "
        "dev sets; try it with a multilingual model and check with `coiassist eval --compare`.",
    )
    backend: str = _setting("extractive", "Answer backend: extractive, openai or ollama.")
    llm_model: str = _setting("", "Model name for the openai/ollama backends.")
    llm_base_url: str = _setting(
        "", "Base URL of the LLM server, e.g. http://127.0.0.1:11434 (ollama) or http://127.0.0.1:8000/v1."
    )
    llm_api_key_env: str = _setting(
        "", "Name of the environment variable holding the API key (the key itself is never stored)."
    )
    llm_connect_timeout: float = _setting(5.0, "Seconds to wait for the LLM server to accept a connection.")
    llm_read_timeout: float = _setting(60.0, "Seconds of silence allowed between streamed tokens.")
    llm_deadline: float = _setting(120.0, "Seconds an LLM answer may take in total.")
    llm_retries: int = _setting(2, "Retries before the first token (429, 5xx, connection errors).")
    llm_max_tokens: int = _setting(600, "Largest answer the LLM may write, in tokens.")
    context_tokens: int = _setting(3000, "Token budget for the sources in an LLM prompt.")
    tiktoken_file: str = _setting(
        "", "Path to a tiktoken encoding file for counting LLM tokens offline; empty searches the cache."
    )
    fallback_to_extractive: bool = _setting(
        True, "When the LLM backend fails, answer with the extractive backend and say so."
    )
    unsupported_sentences: str = _setting(
        "drop",
        "What to do with answer sentences their citations do not support: drop or flag.",
        ("drop", "flag"),
    )
    default_language: str = _setting(
        "da", "Language when a question is too short to tell: da, nb or nn.", ("da", "nb", "nn")
    )
    answer_language: str = _setting(
        "auto",
        "Force the answer language (da, nb, nn) or follow the question (auto).",
        ("auto", "da", "nb", "nn"),
    )
    max_question_chars: int = _setting(2000, "Longer questions are refused with a message.")
    host: str = _setting("127.0.0.1", "Address the web chat binds to.")
    port: int = _setting(7860, "Port of the web chat.")
    auth_user: str = _setting("", "User name for the web chat login (required for a non-local bind).")
    auth_password: str = _setting("", "Password for the web chat login.")
    admin_password: str = _setting(
        "", "Password for the admin tab; admin is off on a non-local bind without it."
    )
    max_upload_mb: int = _setting(20, "Largest uploaded file in MB.")
    max_uploads: int = _setting(20, "Most files in one upload.")
    log_level: str = _setting("WARNING", "Logging level: DEBUG, INFO, WARNING or ERROR.")

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    def describe(self) -> list[tuple[str, Any, str]]:
        """(name, effective value, description) for every setting."""
        return [(f.name, getattr(self, f.name), f.metadata["description"]) for f in fields(self)]


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    try:
        if kind in (Path, "Path"):
            return Path(raw)
        if kind in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r} has an invalid value {raw!r}") from None


def load_settings(overrides: dict[str, Any] | None = None, config_file: Path | None = None) -> Settings:
    """Defaults, then the TOML file, then COIASSIST_* variables, then `overrides` (CLI flags)."""
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = config_file or Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        section = data.get("coiassist", data)
        for key, raw in section.items():
            if key not in known:
                raise ConfigError(f"unknown setting {key!r} in {path}; see `coiassist config`")
            values[key] = raw
    elif CONFIG_FILE_ENV in os.environ:
        raise ConfigError(f"config file {path} (from {CONFIG_FILE_ENV}) does not exist")

    for name in known:
        env = ENV_PREFIX + name.upper()
        if env in os.environ:
            values[name] = os.environ[env]
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = raw

    typed = {name: _coerce(name, raw, known[name].type) for name, raw in values.items()}
    settings = dataclasses.replace(Settings(), **typed)
    for f in fields(settings):
        choices = f.metadata["choices"]
        if choices and getattr(settings, f.name) not in choices:
            raise ConfigError(
                f"setting {f.name!r} is {getattr(settings, f.name)!r}; choose one of {', '.join(choices)}"
            )
    if settings.chunk_overlap_tokens >= settings.chunk_tokens:
        raise ConfigError("chunk_overlap_tokens must be smaller than chunk_tokens")
    if settings.top_k < 1:
        raise ConfigError("top_k must be at least 1")
    for weight in ("dense_weight", "name_weight", "article_weight", "extractive_similarity_weight"):
        if getattr(settings, weight) < 0:
            raise ConfigError(f"{weight} must be 0 or more")
    return settings
