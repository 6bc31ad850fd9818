"""The indexer's durable working state: which articles and chunks are in the vector collection.

One SQLite file per collection. Every batch of articles is committed as it completes, so a
run that is killed loses at most one batch, and the next run starts where it stopped. An
article is marked dirty *before* its vectors are touched and cleared in the same transaction
that records its chunks: after a crash, dirty articles are re-done, whatever state Chroma is in.

Each chunk's vector is kept here too (float32, 1.5 KB at 384 dimensions), committed with its
chunk: SQLite survives a crash where Chroma's own files may not, so vectors that Chroma lost are
put back without the model. Catalogs from before this have no vectors; their articles are
embedded again when their vectors are lost.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from coiassist.errors import IndexCorruptError, IndexStoreError
from coiassist.models import Article, Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, title TEXT NOT NULL, lang TEXT NOT NULL,
    date TEXT NOT NULL, url TEXT NOT NULL, source TEXT NOT NULL, pages TEXT NOT NULL,
    n_chunks INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, article_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER NOT NULL,
    text TEXT NOT NULL, terms TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks (article_id, ordinal);
CREATE TABLE IF NOT EXISTS dirty (article_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS vectors (chunk_id TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""

# SQLite's lowest bound on the parameters of one query (999 before 3.32): the indexer asks for the
# vectors of up to COMMIT_CHUNKS (512) chunks at a time, which then takes one query.
_MAX_PARAMETERS = 999


class Catalog:
    """Articles, their chunks and analysed terms, as committed to the vector collection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            # A full disk or a read-only folder (disk I/O error, readonly database): the file is
            # fine, so a rebuild would not help; say what will.
            raise IndexStoreError(
                f"cannot write the index catalog {path} ({exc}); free disk space or fix permissions, "
                "then run `coiassist index` again"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(
                f"the index catalog {path} is unreadable ({exc}); run `coiassist index --rebuild`"
            ) from None
        except OSError as exc:
            raise IndexStoreError(f"cannot write the index catalog {path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    # -- reading ---------------------------------------------------------------------------
    def get_meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    @property
    def version(self) -> int:
        return int(self.get_meta("version", "0"))

    def article_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT id, content_hash FROM articles"))

    def article_sources(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT id, source FROM articles"))

    def dirty(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT article_id FROM dirty")}

    def chunk_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_hashes(self) -> dict[str, str]:
        """chunk id → content hash of its article: what the vector collection must hold."""
        query = "SELECT c.id, a.content_hash FROM chunks c JOIN articles a ON a.id = c.article_id"
        return dict(self.db.execute(query))

    def vectors_of(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The kept vectors of these chunks (chunks of older catalogs have none)."""
        found: dict[str, np.ndarray] = {}
        for begin in range(0, len(chunk_ids), _MAX_PARAMETERS):
            part = list(chunk_ids[begin : begin + _MAX_PARAMETERS])
            marks = ",".join("?" * len(part))
            query = f"SELECT chunk_id, vector FROM vectors WHERE chunk_id IN ({marks})"
            for chunk_id, blob in self.db.execute(query, part):
                found[chunk_id] = np.frombuffer(blob, dtype="<f4")
        return found

    def iter_terms(self) -> Iterator[tuple[str, str]]:
        """(chunk id, space-joined terms) in the published order."""
        yield from self.db.execute("SELECT id, terms FROM chunks ORDER BY article_id, ordinal")

    # -- writing ---------------------------------------------------------------------------
    def _bump(self) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('version', '1') "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def mark_dirty(self, article_ids: Iterable[str]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO dirty VALUES (?)", [(a,) for a in article_ids])

    def remove_articles(self, article_ids: Sequence[str]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            for article_id in article_ids:
                self._delete_chunks(article_id)
                self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                self.db.execute("DELETE FROM dirty WHERE article_id = ?", (article_id,))
            self._bump()

    def _delete_chunks(self, article_id: str) -> None:
        of_article = "SELECT id FROM chunks WHERE article_id = ?"
        self.db.execute(f"DELETE FROM vectors WHERE chunk_id IN ({of_article})", (article_id,))
        self.db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))

    def store_articles(
        self, entries: Sequence[tuple[Article, Sequence[Chunk], Sequence[str], np.ndarray]]
    ) -> None:
        """Record articles with their chunks, terms and vectors, and clear their dirty marks, atomically."""
        with self.db:
            self.db.execute("BEGIN")
            for article, chunks, terms, vectors in entries:
                self._delete_chunks(article.id)
                self.db.execute(
                    "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.id,
                        article.content_hash,
                        article.title,
                        article.lang,
                        article.date,
                        article.url,
                        article.source,
                        json.dumps(article.pages),
                        len(chunks),
                    ),
                )
                self.db.executemany(
                    'INSERT INTO chunks (id, article_id, ordinal, start, "end", page, text, terms) '
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (c.id, c.article_id, c.ordinal, c.start, c.end, c.page, c.text, t)
                        for c, t in zip(chunks, terms, strict=True)
                    ],
                )
                self.db.executemany(
                    "INSERT INTO vectors (chunk_id, vector) VALUES (?, ?)",
                    [
                        (c.id, np.asarray(v, dtype="<f4").tobytes())
                        for c, v in zip(chunks, vectors, strict=True)
                    ],
                )
                self.db.execute("DELETE FROM dirty WHERE article_id = ?", (article.id,))
            self._bump()
