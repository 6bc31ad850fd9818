"""The dense side of the index: one Chroma collection of chunk vectors.

Embedded `PersistentClient` under the home folder by default, `HttpClient` when a server URL
is configured. We always pass our own vectors, so Chroma's default embedding function (which
downloads a model) is never created. Each record carries its article id and the article's
content hash: readers keep only vectors whose hash matches the published snapshot, so a
half-finished index run can never mix old text with new vectors.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from coiassist.errors import ConfigError, IndexCorruptError, IndexStoreError

log = logging.getLogger(__name__)
_BATCH = 200  # Chroma recommends 50-250 per write
# Graph candidates HNSW looks at per query (Chroma's default: 100). Retrieval asks for the 50
# nearest chunks and fuses their normalised scores, so a candidate set that misses some of them
# shifts every dense score. At 100, Chroma's 50 matched the exact 50 nearest for 9 of 100 NorQuAD
# dev questions (mean overlap 0.91, worst 0.58), and the set changed from process to process:
# Chroma re-inserts the vectors it has not yet written to the graph file (there 347 of 4,459) on
# every load, and the graph differs each time. At 1000: 95 of 100 exact, overlap 0.999, and
# three eval runs in separate processes agreed on all 500 SQuAD-da questions
# (docs/evaluation-log.md). Cost per query: +0.3 ms at 4.5k chunks; p95 3.4 -> 6.0 ms on 100k
# synthetic vectors.
EF_SEARCH = 1000
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _chroma_settings(threads: int) -> Any:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def check_hnsw_files(chroma_dir: Path) -> None:
    """Refuse a local Chroma folder whose vector files are shorter than their header says.

    hnswlib reads a truncated `data_level0.bin` (a copy cut short, a damaged disk) without
    complaint: dense search then returns unrelated chunks, or the process crashes. Each segment's
    `header.bin` (chroma-hnswlib's persistent format 1: int32 version, then size_t offset_level0,
    max_elements, cur_element_count and size_data_per_element) says how long its files must at
    least be. Other format versions are not checked. Segments Chroma has not written to disk yet
    (under ~1,000 vectors) have no header.
    """
    for header in sorted(chroma_dir.glob("*/header.bin")):
        raw = header.read_bytes()
        if len(raw) >= 4 and struct.unpack_from("<i", raw)[0] != 1:
            continue
        short = len(raw) < 36
        if not short:
            count, per_element = struct.unpack_from("<2Q", raw, 20)
            needed = {"data_level0.bin": count * per_element, "length.bin": 4 * count}
            short = any(
                not (header.parent / name).is_file() or (header.parent / name).stat().st_size < size
                for name, size in needed.items()
            )
        if short:
            raise IndexCorruptError(
                f"the vector index in {header.parent} is damaged (its files are shorter than its "
                "header says); run `coiassist index` to make its vectors again from the articles"
            )


def open_client(home: Path, chroma_url: str, threads: int = 2) -> Any:
    """One client per location per process: Chroma is thread-safe but not multi-client safe."""
    key = chroma_url or str(home.resolve())
    with _CLIENTS_LOCK:
        if key in _CLIENTS:
            return _CLIENTS[key]
        import chromadb

        try:
            if chroma_url:
                url = urlparse(chroma_url)
                if url.scheme not in {"http", "https"} or not url.hostname:
                    raise ConfigError(f"chroma_url {chroma_url!r} is not an http(s) URL")
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=_chroma_settings(threads),
                )
                client.heartbeat()
            else:
                path = home / "index" / "chroma"
                path.mkdir(parents=True, exist_ok=True)
                check_hnsw_files(path)
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings(threads))
        except (ConfigError, IndexCorruptError):
            raise
        except Exception as exc:  # chromadb raises many types (ValueError, httpx, Rust panics)
            where = chroma_url or str(home / "index" / "chroma")
            raise IndexStoreError(
                f"cannot open the vector index at {where}: {exc}. "
                + (
                    "Is the Chroma server running?"
                    if chroma_url
                    else "Run `coiassist index --rebuild` to rebuild it from the articles."
                )
            ) from None
        _CLIENTS[key] = client
        return client


def forget_clients() -> None:
    """Open fresh clients from now on: another process wrote the index, and Chroma caches a
    process-wide view of it that would not show the new vectors (chroma#3769)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    with _CLIENTS_LOCK:
        _CLIENTS.clear()
        SharedSystemClient.clear_system_cache()


def _unreachable(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError | ConnectionError)


# Pauses before making a write again that SQLite refused as "database is locked" (code 5).
# Embedded Chroma 1.5 sometimes refuses a write right after a collection is made (7 of 400
# `modify` calls here, more on a loaded machine) and the write succeeds when repeated; every write
# we make is a create-if-missing, upsert, delete or setting, so repeating it is safe.
_LOCKED_PAUSES = (0.1, 0.3, 1.0, 3.0)


def _locked(exc: Exception) -> bool:
    return "database is locked" in str(exc)


def _made_again_while_locked(call: Callable[..., Any], **arguments: Any) -> Any:
    """`call(**arguments)`, made again after each of _LOCKED_PAUSES while the database is locked."""
    for pause in _LOCKED_PAUSES:
        try:
            return call(**arguments)
        except Exception as exc:  # chromadb raises InternalError and others
            if not _locked(exc):
                raise
            log.info("Chroma reported its database locked; writing again in %.1f s", pause)
            time.sleep(pause)
    return call(**arguments)


def _write(name: str, call: Callable[..., Any], **arguments: Any) -> None:
    """One Chroma write; its failures (a full disk, a read-only folder, a server gone) as IndexStoreError."""
    try:
        _made_again_while_locked(call, **arguments)
    except Exception as exc:  # chromadb raises InternalError, httpx errors, sqlite errors
        raise IndexStoreError(
            f"cannot write the vector collection {name!r} ({exc}); free disk space, fix permissions "
            "or start the Chroma server, then run `coiassist index` again (nothing published is lost)"
        ) from None


def _read_failure(name: str, exc: Exception) -> IndexStoreError:
    """A failed read as the error that names its cure. Only a collection that is missing or cannot
    be loaded is damage (IndexCorruptError, which an index run repairs); a server that is down or
    a database busy with another process's write is not."""
    if _unreachable(exc):
        return IndexStoreError(f"the Chroma server did not answer ({exc}); is the Chroma server running?")
    if _locked(exc):
        return IndexStoreError(f"the vector index is busy ({exc}); try again in a moment")
    return IndexCorruptError(
        f"the vector collection {name!r} is missing or cannot be read ({exc}); "
        "run `coiassist index` to make its vectors again from the articles"
    )


class VectorStore:
    """Chunk vectors in one collection, named after the embedder and chunking settings."""

    def __init__(self, client: Any, name: str, threads: int = 2) -> None:
        self.client = client
        self.name = name
        self.threads = threads
        self._collection: Any = None

    def _get(self, create: bool) -> Any:
        if self._collection is None:
            try:
                if create:
                    self._collection = _made_again_while_locked(
                        self.client.get_or_create_collection,
                        name=self.name,
                        embedding_function=None,
                        configuration={
                            "hnsw": {"space": "cosine", "num_threads": self.threads, "ef_search": EF_SEARCH}
                        },
                    )
                else:
                    self._collection = self.client.get_collection(self.name, embedding_function=None)
            except Exception as exc:  # NotFoundError, or an unreachable server
                raise _read_failure(self.name, exc) from None
            if create:
                self._raise_ef_search()
        return self._collection

    def _raise_ef_search(self) -> None:
        """A collection made with a lower EF_SEARCH (before it was set) gets it at the next index
        run; readers never write, so until then it answers as before."""
        hnsw = (self._collection.configuration or {}).get("hnsw") or {}
        if int(hnsw.get("ef_search") or 0) < EF_SEARCH:
            _write(self.name, self._collection.modify, configuration={"hnsw": {"ef_search": EF_SEARCH}})

    def create(self) -> None:
        self._get(create=True)

    def count(self) -> int:
        """Vectors stored. The first read loads the collection's files, so a collection Chroma
        cannot load (a run killed while Chroma wrote them) fails here."""
        collection = self._get(create=False)
        try:
            return int(collection.count())
        except Exception as exc:  # chromadb raises InternalError; httpx errors for a server
            raise _read_failure(self.name, exc) from None

    def add(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        collection = self._get(create=True)
        for begin in range(0, len(ids), _BATCH):
            end = begin + _BATCH
            _write(
                self.name,
                collection.upsert,
                ids=list(ids[begin:end]),
                embeddings=vectors[begin:end],
                metadatas=list(metadatas[begin:end]),
            )

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        collection = self._get(create=True)
        for begin in range(0, len(article_ids), _BATCH):
            part = list(article_ids[begin : begin + _BATCH])
            where = {"article_id": part[0]} if len(part) == 1 else {"article_id": {"$in": part}}
            _write(self.name, collection.delete, where=where)

    def delete_ids(self, ids: Sequence[str]) -> None:
        collection = self._get(create=True)
        for begin in range(0, len(ids), _BATCH):
            _write(self.name, collection.delete, ids=list(ids[begin : begin + _BATCH]))

    def all_records(self) -> dict[str, str]:
        """chunk id → article content hash, for every stored vector."""
        collection = self._get(create=True)
        records: dict[str, str] = {}
        total = collection.count()
        page = 5000
        for offset in range(0, total, page):
            got = collection.get(include=["metadatas"], limit=page, offset=offset)
            for chunk_id, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                records[chunk_id] = str((meta or {}).get("hash", ""))
        return records

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, str, float]]:
        """(chunk id, article hash, cosine similarity) of the nearest vectors."""
        collection = self._get(create=False)
        try:
            result = collection.query(
                query_embeddings=[vector], n_results=k, include=["metadatas", "distances"]
            )
        except Exception as exc:  # a server that went away, a broken segment
            raise _read_failure(self.name, exc) from None
        ids = result["ids"][0]
        metas = (result.get("metadatas") or [[]])[0] or [{}] * len(ids)
        dists = (result.get("distances") or [[]])[0] or [1.0] * len(ids)
        return [
            (chunk_id, str((meta or {}).get("hash", "")), 1.0 - float(dist))
            for chunk_id, meta, dist in zip(ids, metas, dists, strict=False)
        ]

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception as exc:  # already gone is fine
            log.info("could not delete collection %s: %s", self.name, exc)
        self._collection = None
