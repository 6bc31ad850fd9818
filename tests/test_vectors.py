"""The dense store on a real embedded Chroma: its search finds the nearest vectors, not some of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coiassist.vectors import EF_SEARCH, VectorStore, forget_clients, open_client


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
