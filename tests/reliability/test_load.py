"""Twenty people chatting for a minute while the index is rebuilt: no errors, no crossed wires."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from coiassist.config import load_settings
from coiassist.indexer import index_corpus
from coiassist.vectors import forget_clients
from tests.conftest import free_port
from tests.reliability.helpers import cli_env, code_name, wait_for_http, write_articles

pytestmark = pytest.mark.reliability

USERS = 20
SECONDS = 60.0
AFTER_QUESTIONS = 40
ARTICLES = 60
# gradio_client opens a new httpx client for every request, and with certificate checks on, each
# one loads the CA bundle into a fresh SSL context: that was 84% of this load generator's CPU,
# taken from the server on the same two cores. The server is plain HTTP on loopback: no TLS to check.
_PLAIN_HTTP: dict[str, Any] = {"verbose": False, "ssl_verify": False}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _text(result: Any) -> str:
    return json.dumps(result, ensure_ascii=False)


def test_twenty_users_for_a_minute_during_a_reindex(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_articles(corpus, range(ARTICLES))
    home = tmp_path / "home"
    settings = load_settings(
        {"home": home, "corpus": corpus, "chunk_tokens": 40, "chunk_overlap_tokens": 10},
        config_file=tmp_path / "none.toml",
    )
    index_corpus(settings)
    forget_clients()

    port = free_port()
    env = cli_env(home, {"COIASSIST_CORPUS": str(corpus), "COIASSIST_ADMIN_PASSWORD": "hemmeligt"})
    server = subprocess.Popen(
        [sys.executable, "-m", "coiassist", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    errors: list[str] = []
    crossed: list[str] = []
    answered = [0] * USERS
    rss: list[tuple[float, float]] = []
    reindexed: list[tuple[float, float]] = []  # (finished at, took), seconds
    lock = threading.Lock()
    try:
        wait_for_http(url, server, tmp_path / "serve.log")

        start = time.monotonic()

        stop_at = start + SECONDS

        def user(n: int) -> None:
            client = Client(url, **_PLAIN_HTTP)
            own = code_name(n)
            asked = 0
            think = random.Random(n)
            while time.monotonic() < stop_at:
                time.sleep(think.uniform(0.5, 2.0))  # reading the answer, typing the next question
                question = f"Hvad handler projekt {own} om?" if asked % 2 == 0 else f"Hvor foregår {own}?"
                began = time.monotonic()
                try:
                    result = client.predict(question, "da", "auto", api_name="/chat")
                except Exception as exc:  # the load test counts every kind of failure
                    with lock:
                        errors.append(f"user {n}: {type(exc).__name__}: {exc}")
                    continue
                took = time.monotonic() - began
                asked += 1
                messages = result[0]
                users_said = [m for m in messages if m.get("role") == "user"]
                text = _text(messages[-2:])
                with lock:
                    latencies.append(took)
                    answered[n] += 1
                    if (
                        own not in text
                        or len(users_said) != asked
                        or any(own not in _text(m) for m in users_said)
                    ):
                        crossed.append(f"user {n} turn {asked}: {text[:300]}")

        def reindex() -> None:
            time.sleep(10)
            write_articles(corpus, range(ARTICLES, ARTICLES + 30))
            write_articles(corpus, range(0, 10), version=1)
            admin = Client(url, **_PLAIN_HTTP)
            began = time.monotonic()
            try:
                result = admin.predict("hemmeligt", "da", api_name="/reindex")
                if "30" not in _text(result):
                    with lock:
                        errors.append(f"reindex: {_text(result)[:300]}")
            except Exception as exc:  # counted like a chat failure
                with lock:
                    errors.append(f"reindex: {type(exc).__name__}: {exc}")
            finally:
                done = time.monotonic()
                reindexed.append((done - start, done - began))

        threads = [threading.Thread(target=user, args=(n,)) for n in range(USERS)]
        threads.append(threading.Thread(target=reindex))
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            rss.append((time.monotonic() - start, _rss_mb(server.pid)))
            time.sleep(2)
        for thread in threads:
            thread.join()
        assert server.poll() is None, "the server died under load"
        # Memory once the load and the re-index are over (its model stays loaded): more chat does
        # not make it grow.
        settled = _rss_mb(server.pid)
        client = Client(url, **_PLAIN_HTTP)
        for n in range(AFTER_QUESTIONS):
            client.predict(f"Hvad handler projekt {code_name(n % USERS)} om?", "da", "auto", api_name="/chat")
        after_more = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)

    samples = [mb for _, mb in rss]
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else 0.0
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0
    worst = latencies[-1] if latencies else 0.0
    finished, took = reindexed[0] if reindexed else (-1.0, -1.0)
    print(
        f"load: {len(latencies)} answers from {USERS} users in {SECONDS:.0f} s, "
        f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s; re-index {took:.1f} s, done at "
        f"{finished:.0f} s; RSS MB first {samples[0]:.0f}, max {max(samples):.0f}, after it all "
        f"{settled:.0f}, after {AFTER_QUESTIONS} more answers {after_more:.0f}"
    )
    assert errors == [], errors[:5]
    assert crossed == [], crossed[:3]
    assert all(answered), answered
    assert after_more <= settled * 1.05 + 20
