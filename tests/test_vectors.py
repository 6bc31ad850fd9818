"""The dense store on a real embedded Chroma: its search finds the nearest vectors, not some of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from coiassist.errors import IndexStoreError
from coiassist.vectors import EF_SEARCH, VectorStore, _write, forget_clients, open_client


def clustered_unit_vectors(n: int, dim: int = 384, seed: int = 3) -> np.ndarray:
    """Vectors in clusters, as sentence embeddings come: the hard case for a graph search."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(60, dim))
    vectors = centers[rng.integers(0, 60, size=n)] + 0.6 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    forget_clients()
    return VectorStore(open_client(tmp_path, ""), "vectors")


def test_dense_search_returns_the_exact_nearest_vectors(store: VectorStore) -> None:
    vectors = clustered_unit_vectors(3000)
    ids = [f"a{i // 4}:{i % 4}" for i in range(len(vectors))]
    store.add(ids, vectors, [{"article_id": i.split(":")[0], "hash": "h"} for i in ids])
    queries = clustered_unit_vectors(20, seed=4)
    for query in queries:
        exact = [ids[i] for i in np.argsort(-(vectors @ query))[:50]]
        found = store.query(query, 50)
        assert [chunk_id for chunk_id, _, _ in found] == exact
        assert found[0][2] == pytest.approx(float(vectors[ids.index(exact[0])] @ query), abs=1e-5)


def test_an_index_run_raises_the_search_depth_of_an_older_collection(tmp_path: Path) -> None:
    forget_clients()
    client = open_client(tmp_path, "")
    for name in ("old-written", "old-read"):
        client.create_collection(name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    assert client.get_collection("old-read").configuration["hnsw"]["ef_search"] < EF_SEARCH

    VectorStore(client, "old-written").create()  # what an index run does first
    assert client.get_collection("old-written").configuration["hnsw"]["ef_search"] == EF_SEARCH
    # A reader never writes: that collection keeps its depth until the next index run.
    assert VectorStore(client, "old-read").count() == 0
    assert client.get_collection("old-read").configuration["hnsw"]["ef_search"] < EF_SEARCH


class RefusedAsLocked:
    """A Chroma write that SQLite refuses as locked the first `times` calls, as Chroma 1.5 does now
    and then right after a collection is made (the message is Chroma's own)."""

    def __init__(self, write: Callable[..., Any], times: int) -> None:
        self.write, self.times, self.calls = write, times, 0

    def __call__(self, **arguments: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            raise RuntimeError("Database error: error returned from database: (code: 5) database is locked")
        return self.write(**arguments)


def test_a_write_refused_as_locked_is_made_again(store: VectorStore) -> None:
    store.create()
    collection = store.client.get_collection("vectors")
    upsert = RefusedAsLocked(collection.upsert, times=2)
    _write("vectors", upsert, ids=["a1:0"], embeddings=clustered_unit_vectors(1), metadatas=[{"hash": "h"}])
    assert upsert.calls == 3
    assert store.all_records() == {"a1:0": "h"}


def test_a_write_still_locked_or_failing_otherwise_is_reported(store: VectorStore) -> None:
    store.add(["a1:0"], clustered_unit_vectors(1), [{"article_id": "a1", "hash": "h"}])
    collection = store.client.get_collection("vectors")
    locked = RefusedAsLocked(collection.upsert, times=99)
    with pytest.raises(IndexStoreError, match="database is locked.*coiassist index"):
        _write("vectors", locked, ids=["a2:0"], embeddings=clustered_unit_vectors(1))
    assert locked.calls == 5  # the first try and four more, then it gives up

    wrong_size = RefusedAsLocked(collection.upsert, times=0)
    with pytest.raises(IndexStoreError, match="cannot write the vector collection"):
        _write("vectors", wrong_size, ids=["a2:0"], embeddings=clustered_unit_vectors(1, dim=7))
    assert wrong_size.calls == 1  # Chroma refused it for another reason: no second try
    assert store.all_records() == {"a1:0": "h"}
