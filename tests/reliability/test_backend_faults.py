"""LLM and Chroma servers that refuse, stall, drop or talk garbage: a clear message, no hang."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from coiassist.assistant import Assistant
from coiassist.config import Settings, load_settings
from coiassist.errors import BackendError, IndexStoreError
from coiassist.indexer import index_corpus
from coiassist.retrieval import Retriever
from coiassist.vectors import forget_clients
from tests.llm_server import LLMServer, Reply, closed_port_url, openai_deltas, openai_stream
from tests.reliability.helpers import assert_one_line_error, cli_env, code_name, run_cli, write_articles

pytestmark = pytest.mark.reliability

DEADLINE = 3.0
QUESTION = f"Hvad handler projekt {code_name(4)} om?"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("backends")
    write_articles(root / "corpus", range(12))
    settings = load_settings(
        {"home": root / "home", "corpus": root / "corpus", "chunk_tokens": 40, "chunk_overlap_tokens": 10},
        config_file=root / "none.toml",
    )
    index_corpus(settings)
    forget_clients()
    return settings


def _llm(settings: Settings, url: str, **more: object) -> Settings:
    return dataclasses.replace(
        settings,
        backend="openai",
        llm_base_url=url + "/v1",
        llm_model="test-model",
        llm_connect_timeout=1.0,
        llm_read_timeout=1.0,
        llm_deadline=DEADLINE,
        llm_retries=1,
        **more,  # type: ignore[arg-type]
    )


FAULTS = {
    "refused": None,
    "stalls before answering": Reply(before=30),
    "stalls mid-stream": Reply(chunks=[openai_deltas(["Projektet handler"])], stall=30),
    "drops the connection": Reply(chunks=[openai_deltas(["Projektet"])], drop=True),
    "answers garbage": Reply(chunks=[b"<html>502 Bad Gateway, not JSON</html>\n"], content_type="text/html"),
    "answers HTTP 500": Reply(status=500, chunks=[b'{"error": {"message": "overloaded"}}']),
    "trickles past the deadline": Reply(chunks=[openai_deltas(["ord "])] * 40, between=0.5),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_failing_llm_falls_back_to_extractive_with_a_note_within_the_deadline(
    fault: str, indexed: Settings
) -> None:
    with LLMServer() as server:
        reply = FAULTS[fault]
        url = closed_port_url() if reply is None else server.url
        if reply is not None:
            server.script(reply, reply, reply)
        started = time.monotonic()
        answer = Assistant(_llm(indexed, url)).ask(QUESTION)
        elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 3, f"{fault}: {elapsed:.1f} s"
    assert answer.backend == "extractive"
    assert answer.notes and not answer.abstained
    assert any(c.article_id.endswith("artikel-0004") for c in answer.citations)


def test_without_fallback_the_cli_says_so_in_one_line(indexed: Settings) -> None:
    with LLMServer() as server:
        server.script(Reply(before=30), Reply(before=30))
        env = cli_env(
            indexed.home,
            {
                "COIASSIST_BACKEND": "openai",
                "COIASSIST_LLM_BASE_URL": server.url + "/v1",
                "COIASSIST_LLM_MODEL": "test-model",
                "COIASSIST_LLM_READ_TIMEOUT": "1",
                "COIASSIST_LLM_DEADLINE": str(DEADLINE),
                "COIASSIST_FALLBACK_TO_EXTRACTIVE": "false",
            },
        )
        result = run_cli(["ask", QUESTION], env, timeout=120)
    assert_one_line_error(result)


def test_a_good_llm_answer_still_works_next_to_the_faults(indexed: Settings) -> None:
    """The fault tests are meaningful only if the same set-up answers when the server behaves."""
    with LLMServer() as server:
        server.script(Reply(chunks=[openai_stream([f"Projektet {code_name(4)} handler om ældrepleje [1]."])]))
        answer = Assistant(_llm(indexed, server.url)).ask(QUESTION)
    assert answer.backend == "openai"
    with pytest.raises(BackendError), LLMServer() as server:
        server.script(Reply(before=30))
        Assistant(_llm(indexed, server.url, fallback_to_extractive=False)).ask(QUESTION)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_chroma(data: Path, port: int) -> subprocess.Popen[bytes]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("chroma server did not start")


def test_chroma_server_that_goes_away_degrades_to_bm25_and_says_so(tmp_path: Path) -> None:
    write_articles(tmp_path / "corpus", range(12))
    port = _free_port()
    proc = _start_chroma(tmp_path / "chroma", port)
    try:
        settings = load_settings(
            {
                "home": tmp_path / "home",
                "corpus": tmp_path / "corpus",
                "chroma_url": f"http://127.0.0.1:{port}",
                "chunk_tokens": 40,
                "chunk_overlap_tokens": 10,
            },
            config_file=tmp_path / "none.toml",
        )
        index_corpus(settings)
        retriever = Retriever(settings)
        assert retriever.search(QUESTION, k=3, mode="dense")
    finally:
        proc.kill()
        proc.wait()

    started = time.monotonic()
    with pytest.raises(IndexStoreError, match="did not answer|Chroma server"):
        retriever.search(QUESTION, k=3, mode="dense")
    hits = retriever.search(QUESTION, k=3)  # hybrid: BM25 still answers from the snapshot
    assert hits and hits[0].article_id.endswith("artikel-0004")
    assert time.monotonic() - started < 30

    env = cli_env(settings.home, {"COIASSIST_CHROMA_URL": settings.chroma_url})
    answered = run_cli(["ask", "--json", QUESTION], env)
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["citations"]
    assert_one_line_error(run_cli(["search", "--mode", "dense", QUESTION], env), "Chroma")
    assert_one_line_error(run_cli(["index", "--corpus", str(tmp_path / "corpus")], env), "Chroma server")
