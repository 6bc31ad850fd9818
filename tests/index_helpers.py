"""What an index holds, read back from every side, so tests can compare two indexes exactly."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from coiassist.config import Settings
from coiassist.lexical import LexicalIndex
from coiassist.snapshot import open_snapshot
from coiassist.vectors import VectorStore, open_client


@dataclass(frozen=True)
class IndexState:
    chunks: tuple[tuple[str, int, int, str], ...]  # (chunk id, start, end, text) as published
    lexical_ids: tuple[str, ...]
    vector_ids: tuple[str, ...]
    vector_count: int


def published_chunks(settings: Settings) -> tuple[tuple[tuple[str, int, int, str], ...], tuple[str, ...]]:
    """The published chunks and the BM25 index's chunk ids, read without opening Chroma."""
    _, folder = open_snapshot(settings.index_dir)
    db = sqlite3.connect(folder / "chunks.sqlite")
    try:
        chunks = tuple(db.execute('SELECT id, start, "end", text FROM chunks ORDER BY id'))
    finally:
        db.close()
    return chunks, tuple(sorted(LexicalIndex.load(folder / "lexical").ids))


def index_state(settings: Settings) -> IndexState:
    pointer, _ = open_snapshot(settings.index_dir)
    chunks, lexical_ids = published_chunks(settings)
    store = VectorStore(open_client(settings.home, settings.chroma_url), pointer.collection)
    records = store.all_records()
    return IndexState(
        chunks=chunks,
        lexical_ids=lexical_ids,
        vector_ids=tuple(sorted(records)),
        vector_count=store.count(),
    )


def assert_consistent(state: IndexState) -> None:
    """The published chunks, the BM25 index and the vectors name exactly the same chunks."""
    ids = tuple(sorted(c[0] for c in state.chunks))
    assert ids == state.lexical_ids
    assert ids == state.vector_ids
    assert state.vector_count == len(ids)
    assert len(set(ids)) == len(ids)
