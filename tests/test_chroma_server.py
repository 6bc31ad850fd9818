"""Server mode: the same index against a real `chroma run` on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from coiassist.config import Settings
from coiassist.errors import IndexStoreError
from coiassist.indexer import index_corpus
from coiassist.retrieval import Retriever
from coiassist.snapshot import open_snapshot
from coiassist.vectors import EF_SEARCH, open_client
from tests.conftest import free_port
from tests.index_helpers import assert_consistent, index_state

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma CLI ships with the chromadb package"
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data / "server.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_index_and_search_through_a_chroma_server(
    make_settings: Callable[..., Settings], corpus: Path, chroma_url: str
) -> None:
    settings = make_settings(chroma_url=chroma_url, chunk_tokens=40, chunk_overlap_tokens=10)
    report = index_corpus(settings, corpus)
    assert report.added == 3 and report.chunks_total > 3
    assert_consistent(index_state(settings))
    again = index_corpus(settings, corpus)
    assert again.chunks_embedded == 0
    hits = Retriever(settings).search("tillitsreform i offentlig sektor", k=3, mode="dense")
    assert hits and hits[0].article_id == "tillid"
    pointer, _ = open_snapshot(settings.index_dir)
    collection = open_client(settings.home, chroma_url).get_collection(pointer.collection)
    assert collection.configuration["hnsw"]["ef_search"] == EF_SEARCH
    # nothing of the dense side is stored locally in server mode
    assert not (settings.index_dir / "chroma").exists()


def test_unreachable_server_is_a_clear_error(make_settings: Callable[..., Settings], corpus: Path) -> None:
    settings = make_settings(chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(IndexStoreError, match="Chroma server running"):
        index_corpus(settings, corpus)
