"""The plain, frozen records that cross module boundaries.

Data flows one way: corpus → Article → Chunk → index; question → Passage → backend → Answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One article as read from the corpus; `text` is what chunk spans point into."""

    id: str
    title: str
    text: str
    lang: str  # da, nb or nn
    content_hash: str  # sha256 of title, text and the metadata that reaches the index
    source: str  # path of the file it came from, relative to the corpus root
    url: str = ""
    date: str = ""  # ISO date (YYYY-MM-DD) when known
    # (page number, character offset where that page starts in `text`), for PDFs
    pages: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ReadFailure:
    """A corpus file (or JSONL line) that could not be read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A span of an article's text; `text == article.text[start:end]`."""

    id: str  # f"{article_id}:{ordinal}"
    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    title: str
    lang: str
    page: int = 0  # first PDF page the chunk touches, 0 when not a PDF


@dataclass(frozen=True)
class Passage:
    """A chunk as retrieved for a query, with the article facts a citation shows."""

    chunk_id: str
    article_id: str
    ordinal: int
    title: str
    text: str
    lang: str
    start: int
    end: int
    score: float
    date: str = ""
    url: str = ""
    page: int = 0


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer; the support span is relative to `text`."""

    key: int
    article_id: str
    chunk_id: str
    title: str
    text: str
    date: str = ""
    url: str = ""
    lang: str = ""
    start: int = 0  # span of the chunk in the article text
    end: int = 0
    support_start: int = -1  # span of the supporting sentence inside `text`, -1 when none
    support_end: int = -1


@dataclass(frozen=True)
class SentenceCheck:
    """The citation checker's verdict on one answer sentence."""

    text: str
    keys: tuple[int, ...]
    support: float  # share of the sentence's content stems found in the cited passages
    supported: bool
    missing: tuple[str, ...] = ()  # numbers or names absent from the cited text


@dataclass(frozen=True)
class Answer:
    """What a question gets back: text with [n] markers, its sources and the check."""

    question: str
    language: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]
    backend: str
    checks: tuple[SentenceCheck, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "the LLM backend failed; this is the offline answer"
    standalone_query: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
