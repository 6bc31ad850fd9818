"""The contract every answer backend meets; backends know nothing of retrieval or citations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Source:
    """One numbered source as the backend sees it: `[key]` in the answer points here."""

    key: int
    title: str
    text: str
    lang: str = ""
    # The key of the source this one continues (the next chunk of the same article), for a quote
    # that runs over a chunk border; 0 for a retrieved source.
    continues: int = 0
    # The article the chunk comes from; sources with none are told apart by their titles.
    article: str = ""
    # The article's first chunk, which opens with its lede: what a summary question is answered by.
    opening: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend may use to write an answer.

    `messages` is the rendered chat prompt (system + history + user) for LLM backends;
    the extractive backend reads `question`, `language` and `sources` instead.
    """

    question: str
    language: str  # da, nb or nn: the language the frame of the answer must be in
    sources: tuple[Source, ...]
    messages: tuple[dict[str, str], ...] = ()
    history: tuple[dict[str, str], ...] = field(default=())


class Backend(Protocol):
    """An answer backend: `check()` says what is missing (empty means ready)."""

    name: str

    def check(self) -> list[str]: ...

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the answer in pieces; raise a BackendError subclass on failure."""
        ...
