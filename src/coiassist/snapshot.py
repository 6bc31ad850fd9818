"""The published index: what queries read, replaced atomically at the end of an index run.

A snapshot folder holds the chunk texts and article facts (SQLite), the BM25 index and a
`meta.json`; the `CURRENT` file names the live snapshot and vector collection. Readers never
see a half-written snapshot: it is built under a temporary name, renamed, and only then does
`CURRENT` switch to it (one `os.replace`). The previous snapshot is kept so that a process
still reading it is not pulled from under.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from coiassist import analyzer
from coiassist.catalog import Catalog
from coiassist.errors import IndexCorruptError, IndexEmptyError
from coiassist.lexical import LexicalIndex

CURRENT = "CURRENT"


@dataclass(frozen=True)
class Pointer:
    """The contents of `CURRENT`: which snapshot and collection are live."""

    snapshot: str
    collection: str
    model: str
    indexed_at: str
    chunks: int
    articles: int
    writer_pid: int = 0  # a reader in another process must reopen Chroma to see new vectors
    # The analyzer that made the BM25 terms; pointers older than this field were all made by "1".
    # Queries are analysed by the running version, so an older index needs `coiassist index`.
    analyzer: str = "1"

    @staticmethod
    def read(index_dir: Path) -> Pointer | None:
        path = index_dir / CURRENT
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Pointer(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(
                f"{path} is unreadable ({exc}); run `coiassist index --rebuild`"
            ) from None


class ArticleRow(NamedTuple):
    """An article as published: what citations, stats and the admin tab show."""

    id: str
    title: str
    lang: str
    date: str
    url: str
    source: str
    content_hash: str
    n_chunks: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(index_dir: Path, catalog: Catalog, collection: str, model: str) -> Pointer:
    """Write a snapshot of `catalog` and make it the live one."""
    snapshots = index_dir / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    name = f"{collection}-v{catalog.version}-{time.time_ns()}"
    tmp = snapshots / (name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()

    db = sqlite3.connect(tmp / "chunks.sqlite")
    try:
        db.execute("ATTACH DATABASE ? AS cat", (str(catalog.path),))
        db.executescript(
            """
            CREATE TABLE articles AS SELECT id, title, lang, date, url, source, content_hash, n_chunks
                FROM cat.articles ORDER BY id;
            CREATE TABLE chunks AS SELECT id, article_id, ordinal, start, "end", page, text
                FROM cat.chunks ORDER BY article_id, ordinal;
            CREATE UNIQUE INDEX chunks_id ON chunks (id);
            """
        )
        db.commit()
        db.execute("DETACH DATABASE cat")
        n_chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        n_articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    finally:
        db.close()

    ids, terms = [], []
    for chunk_id, joined in catalog.iter_terms():
        ids.append(chunk_id)
        terms.append(joined.split())
    LexicalIndex.build(ids, terms).save(tmp / "lexical")

    pointer = Pointer(
        snapshot=name,
        collection=collection,
        model=model,
        indexed_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        chunks=int(n_chunks),
        articles=int(n_articles),
        writer_pid=os.getpid(),
        analyzer=analyzer.ANALYZER_VERSION,
    )
    (tmp / "meta.json").write_text(json.dumps(pointer.__dict__, indent=2), encoding="utf-8")
    final = snapshots / name
    os.replace(tmp, final)
    _fsync_dir(snapshots)
    current_tmp = index_dir / (CURRENT + ".tmp")
    current_tmp.write_text(json.dumps(pointer.__dict__, indent=2), encoding="utf-8")
    with open(current_tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(current_tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    _prune(snapshots, keep={name})
    return pointer


def _prune(snapshots: Path, keep: set[str]) -> None:
    """Keep the live snapshot and the one before it; remove older ones and leftovers."""
    finished = sorted(
        (p for p in snapshots.iterdir() if p.is_dir() and not p.name.endswith(".tmp")),
        key=lambda p: p.stat().st_mtime,
    )
    keep = keep | {p.name for p in finished[-2:]}
    for path in snapshots.iterdir():
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def open_snapshot(index_dir: Path) -> tuple[Pointer, Path]:
    """The live pointer and snapshot folder; clear errors when there is none or it is broken."""
    pointer = Pointer.read(index_dir)
    if pointer is None:
        raise IndexEmptyError(
            "nothing is indexed yet; run `coiassist index` (or use the admin tab) to index the articles"
        )
    folder = index_dir / "snapshots" / pointer.snapshot
    if not (folder / "chunks.sqlite").is_file() or not (folder / "lexical").is_dir():
        raise IndexCorruptError(
            f"the published index {folder} is incomplete; run `coiassist index --rebuild`"
        )
    return pointer, folder


def read_rows(folder: Path) -> tuple[list[tuple[Any, ...]], dict[str, ArticleRow]]:
    """(chunk rows without text, articles by id) from a snapshot folder."""
    try:
        db = sqlite3.connect(f"file:{folder / 'chunks.sqlite'}?mode=ro", uri=True)
        try:
            chunks = db.execute(
                'SELECT id, article_id, ordinal, start, "end", page FROM chunks ORDER BY article_id, ordinal'
            ).fetchall()
            articles = {
                row[0]: ArticleRow(*row)
                for row in db.execute(
                    "SELECT id, title, lang, date, url, source, content_hash, n_chunks FROM articles"
                )
            }
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(
            f"the published index {folder} is unreadable ({exc}); run `coiassist index --rebuild`"
        ) from None
    return chunks, articles
