"""Incremental indexing: read the corpus, embed only what changed, publish a new snapshot.

The collection name is derived from the embedder and chunking settings, so changing either
builds a fresh collection (and catalog) beside the live one instead of mixing vectors; the
switch happens only when the new one is complete. One writer at a time (a lock file).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from coiassist import analyzer
from coiassist.catalog import Catalog
from coiassist.chunking import CHUNKER_VERSION, chunk_article, embedding_text
from coiassist.config import Settings
from coiassist.embeddings import Embedder, load_embedder
from coiassist.errors import CorpusError, IndexCorruptError, IndexLockedError, IndexStoreError
from coiassist.ingest import read_corpus
from coiassist.models import Article, Chunk, ReadFailure
from coiassist.snapshot import Pointer, publish
from coiassist.vectors import VectorStore, forget_clients, open_client

log = logging.getLogger(__name__)

# Chunks embedded and committed together: a killed run loses at most this much work.
COMMIT_CHUNKS = 512
# (done, total, message) after each embedding step; the CLI draws a bar, the UI a gr.Progress.
Progress = Callable[[int, int, str], None]


@dataclass
class IndexReport:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    errors: list[ReadFailure] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # articles kept because their file failed to read
    rebuilt: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "chunks_embedded": self.chunks_embedded,
            "chunks_total": self.chunks_total,
            "seconds": round(self.seconds, 3),
            "errors": [{"path": e.path, "reason": e.reason} for e in self.errors],
        }


def chunk_budget(settings: Settings, embedder: Embedder) -> int:
    """Tokens per chunk: the setting, but never past what the model reads (minus title room)."""
    prompt = embedder.count_tokens(settings.passage_prompt) if settings.passage_prompt else 0
    return max(16, min(settings.chunk_tokens, embedder.max_seq_length - 2 - prompt - 32))


def collection_base(settings: Settings, embedder: Embedder) -> str:
    """Name stem shared by every collection built with these embedding and chunking settings."""
    parts = [
        embedder.identity,
        f"chunker{CHUNKER_VERSION}",
        str(chunk_budget(settings, embedder)),
        str(settings.chunk_overlap_tokens),
        analyzer.ANALYZER_VERSION,
    ]
    return "coi-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def _lock(settings: Settings) -> FileLock:
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.index_dir / "index.lock"), timeout=0)


def _pick_collection(index_dir: Path, base: str, live: Pointer | None, rebuild: bool) -> str:
    """The live collection when compatible; else resume an unfinished build; else a new one."""
    if live is not None and live.collection.startswith(base + "-") and not rebuild:
        return live.collection
    live_name = live.collection if live else ""
    unfinished = sorted(
        p.stem.removeprefix("catalog-")
        for p in index_dir.glob(f"catalog-{base}-*.sqlite")
        if p.stem.removeprefix("catalog-") != live_name
    )
    if unfinished:
        return unfinished[-1]
    return f"{base}-{uuid.uuid4().hex[:8]}"


def _record(article_id: str, ordinal: int, content_hash: str) -> dict[str, Any]:
    """A chunk vector's metadata in Chroma: readers keep a vector only when its hash is published."""
    return {"article_id": article_id, "ordinal": ordinal, "hash": content_hash}


def _reconcile(catalog: Catalog, vectors: VectorStore) -> None:
    """Make the collection hold exactly the catalog's chunks: missing vectors are put back from
    the catalog where it keeps them, and articles whose vectors it lacks are marked to redo."""
    expected = catalog.chunk_hashes()
    dirty = catalog.dirty()
    if not dirty and vectors.count() == len(expected):
        return
    stored = vectors.all_records()
    strays = [cid for cid, h in stored.items() if expected.get(cid) != h]
    if strays:
        log.info("removing %d vectors the catalog does not list", len(strays))
        vectors.delete_ids(strays)
    missing = [
        cid
        for cid, content_hash in expected.items()
        if stored.get(cid) != content_hash and cid.rsplit(":", 1)[0] not in dirty  # dirty: redone anyway
    ]
    redo: set[str] = set()
    put_back = 0
    for begin in range(0, len(missing), COMMIT_CHUNKS):
        part = missing[begin : begin + COMMIT_CHUNKS]
        kept = catalog.vectors_of(part)
        redo.update(cid.rsplit(":", 1)[0] for cid in part if cid not in kept)
        ids = [cid for cid in part if cid in kept]
        if ids:
            where = [cid.rsplit(":", 1) for cid in ids]  # (article id, ordinal)
            metas = [_record(aid, int(n), expected[cid]) for cid, (aid, n) in zip(ids, where, strict=True)]
            vectors.add(ids, np.stack([kept[cid] for cid in ids]), metas)
            put_back += len(ids)
    if put_back:
        log.info("put back %d vectors from the catalog", put_back)
    if redo:
        log.info("re-embedding %d articles whose vectors are missing", len(redo))
        catalog.mark_dirty(redo)


def _embed_and_store(
    articles: Sequence[Article],
    settings: Settings,
    embedder: Embedder,
    catalog: Catalog,
    vectors: VectorStore,
    report: IndexReport,
    progress: Progress | None,
) -> None:
    budget = chunk_budget(settings, embedder)
    planned = [
        (a, chunk_article(a, embedder.token_offsets, budget, settings.chunk_overlap_tokens)) for a in articles
    ]
    total = sum(len(chunks) for _, chunks in planned)
    done = 0
    batch: list[tuple[Article, list[Chunk]]] = []

    def flush() -> None:
        nonlocal done
        if not batch:
            return
        ids = [a.id for a, _ in batch]
        catalog.mark_dirty(ids)
        vectors.delete_articles(ids)
        chunks = [c for _, cs in batch for c in cs]
        start_done = done

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total, "embedding")

        vecs = embedder.embed_passages([embedding_text(c) for c in chunks], progress=step)
        done = start_done + len(chunks)
        hashes = {a.id: a.content_hash for a, _ in batch}
        metas = [_record(c.article_id, c.ordinal, hashes[c.article_id]) for c in chunks]
        if chunks:
            vectors.add([c.id for c in chunks], vecs, metas)
        entries = []
        first = 0
        for a, cs in batch:
            terms = [" ".join(analyzer.index_terms(embedding_text(c), c.lang)) for c in cs]
            entries.append((a, cs, terms, vecs[first : first + len(cs)]))
            first += len(cs)
        catalog.store_articles(entries)
        report.chunks_embedded += len(chunks)
        batch.clear()

    pending = 0
    for article, chunks in planned:
        batch.append((article, chunks))
        pending += len(chunks)
        if pending >= COMMIT_CHUNKS:
            flush()
            pending = 0
    flush()


def index_corpus(
    settings: Settings,
    corpus: Path | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IndexReport:
    """Bring the index in line with the corpus, doing the least work; see the module docstring."""
    started = time.monotonic()
    corpus = corpus or settings.corpus
    if not corpus.exists():
        raise CorpusError(f"corpus {corpus} does not exist; put articles there or pass --corpus PATH")
    try:
        with _lock(settings):
            return _index_locked(settings, corpus, rebuild, progress, started)
    except Timeout:
        raise IndexLockedError(
            f"another index run is using {settings.index_dir}; wait for it to finish and try again"
        ) from None
    except OSError as exc:  # the lock file itself cannot be made: a read-only or full disk
        raise IndexStoreError(
            f"cannot write the index in {settings.index_dir}: {exc.strerror or exc}; "
            "free disk space or fix permissions, then run `coiassist index` again"
        ) from None


def _index_locked(
    settings: Settings, corpus: Path, rebuild: bool, progress: Progress | None, started: float
) -> IndexReport:
    index_dir = settings.index_dir
    embedder = load_embedder(settings)
    live = Pointer.read(index_dir) if not rebuild else _read_pointer_quietly(index_dir)
    base = collection_base(settings, embedder)
    name = _pick_collection(index_dir, base, live, rebuild)
    fresh_build = live is None or name != live.collection

    articles, errors = read_corpus(corpus)
    report = IndexReport(errors=list(errors), rebuilt=fresh_build and live is not None)

    try:
        catalog = Catalog(index_dir / f"catalog-{name}.sqlite")
    except IndexCorruptError:
        if not rebuild:
            raise
        _set_aside(index_dir / f"catalog-{name}.sqlite")  # a rebuild starts over without it
        name = f"{base}-{uuid.uuid4().hex[:8]}"
        fresh_build = True
        catalog = Catalog(index_dir / f"catalog-{name}.sqlite")
    try:
        vectors, moved = _open_vectors(settings, name, rebuild)
        _reconcile(catalog, vectors)

        known = catalog.article_hashes()
        dirty = catalog.dirty()
        failed_files = {e.path.split(":", 1)[0] for e in errors}
        current = {a.id: a for a in articles}
        todo: list[Article] = []
        for article in articles:
            if article.id not in known:
                report.added += 1
                todo.append(article)
            elif known[article.id] != article.content_hash or article.id in dirty:
                report.changed += 1
                todo.append(article)
            else:
                report.unchanged += 1
        sources = catalog.article_sources()
        gone = []
        for article_id in known:
            if article_id in current:
                continue
            if sources.get(article_id, "") in failed_files:
                report.kept.append(article_id)  # the file is broken now: keep its last good version
                continue
            gone.append(article_id)
        report.deleted = len(gone)
        if gone:
            catalog.mark_dirty(gone)
            vectors.delete_articles(gone)
            catalog.remove_articles(gone)

        _embed_and_store(todo, settings, embedder, catalog, vectors, report, progress)
        report.chunks_total = catalog.chunk_count()
        if report.chunks_total:
            embedder.export_query_model()  # once per model: queries then start without torch

        published = catalog.get_meta("published_version")
        # After a move, a new snapshot makes readers in other processes open the new Chroma folder.
        if fresh_build or moved or published != str(catalog.version) or live is None:
            publish(index_dir, catalog, name, f"{embedder.name}, {embedder.precision}")
            catalog.set_meta("published_version", str(catalog.version))
        if fresh_build and live is not None:
            _retire(index_dir, settings, live.collection)
    except (OSError, sqlite3.OperationalError) as exc:  # a full disk, a read-only folder
        raise IndexStoreError(
            f"cannot write the index in {index_dir}: {getattr(exc, 'strerror', None) or exc}; "
            "free disk space or fix permissions, then run `coiassist index` again"
        ) from None
    finally:
        catalog.close()
    report.seconds = time.monotonic() - started
    return report


def _open_vectors(settings: Settings, name: str, rebuild: bool) -> tuple[VectorStore, bool]:
    """The collection to write, read once. A local Chroma folder whose files are damaged is moved
    aside and a new one started: Chroma's files are not crash-safe (a run killed while Chroma
    writes them leaves files it cannot load again; the kill-loop test sees this), and `_reconcile`
    then puts the catalog's copies of the vectors back. A folder that cannot be opened at all (a
    permission, a full disk) is moved only by --rebuild, since the cause may pass. A Chroma
    server's collections are never moved. Returns the store and whether the folder was moved."""
    try:
        vectors = VectorStore(
            open_client(settings.home, settings.chroma_url, settings.threads), name, settings.threads
        )
        vectors.create()
        vectors.count()
        return vectors, False
    except IndexCorruptError as exc:
        if settings.chroma_url:
            raise
        log.warning("%s", str(exc).partition("; run ")[0])  # its cure is what this run does now
    except IndexStoreError:
        if not rebuild or settings.chroma_url:
            raise
    forget_clients()
    _set_aside(settings.index_dir / "chroma")
    vectors = VectorStore(
        open_client(settings.home, settings.chroma_url, settings.threads), name, settings.threads
    )
    vectors.create()
    return vectors, True


def _set_aside(path: Path) -> None:
    """Rename a broken part of the index out of the way, keeping it for inspection."""
    if not path.exists():
        return
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}")
    log.warning("%s is unreadable; moved it to %s and rebuilding", path, aside)
    os.replace(path, aside)


def _read_pointer_quietly(index_dir: Path) -> Pointer | None:
    """For --rebuild: a broken CURRENT must not stop the rebuild that repairs it."""
    try:
        return Pointer.read(index_dir)
    except IndexStoreError:
        return None


def _retire(index_dir: Path, settings: Settings, collection: str) -> None:
    """Drop a collection and its catalog once nothing points at them any more."""
    client = open_client(settings.home, settings.chroma_url, settings.threads)
    VectorStore(client, collection).drop()
    for suffix in ("", "-wal", "-shm"):
        (index_dir / f"catalog-{collection}.sqlite{suffix}").unlink(missing_ok=True)
