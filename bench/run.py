"""Benchmarks: indexing throughput, query latency, incremental re-index, cold start, memory, a peer.

`python bench/run.py` runs the 1k and 10k chunk points and the dev-data corpus; `--large` adds
100k (its index is built once and kept in bench/out/, so later runs reuse it). Every figure is
repeated and printed as min/median/max with the machine's load, because the machines are
shared. Raw results go to bench/out/<name>.json, a summary to bench/results/latest.json and
the scaling plot to docs/bench-scaling.png. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results" / "latest.json"
PLOT = ROOT / "docs" / "bench-scaling.png"
PEER_VENV = ROOT / "bench" / ".venv-peer"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DOC_FILES = (
    "norquad-dev-docs.jsonl",
    "da-qa-dev-docs.jsonl",
    "ud-docs-da.jsonl",
    "ud-docs-nb.jsonl",
    "ud-docs-nn.jsonl",
)
QUESTION_FILES = ("norquad-dev.jsonl", "da-qa-dev.jsonl")


# ---------------------------------------------------------------- helpers


def spread(values: Sequence[float]) -> dict[str, float]:
    """min/median/max of repeated measurements."""
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
        "n": len(values),
    }


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "n": len(ordered)}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load_average()}] {message}", flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    versions = {}
    for package in ("torch", "sentence-transformers", "onnxruntime", "chromadb", "bm25s"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        **versions,
        "load_at_start": load_average(),
    }


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    """Current and peak resident memory of a process, from /proc (no psutil needed)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": found.get("VmRSS", 0.0), "peak_rss_mb": found.get("VmHWM", 0.0)}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(home: Path, corpus: Path) -> Any:
    from coiassist.config import load_settings

    return load_settings({"home": home, "corpus": corpus})


# ---------------------------------------------------------------- corpora


def read_documents(data: Path) -> list[dict[str, str]]:
    docs = []
    for name in DOC_FILES:
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            docs.append({"id": row["id"], "title": row["title"], "text": row["text"], "lang": row["lang"]})
    return docs


def variant(doc: dict[str, str], k: int) -> dict[str, str]:
    """The k-th variant of a document: paragraphs rotated, title and id marked, so that
    repeating documents to reach a size still gives distinct chunks and vectors."""
    if k == 0:
        return doc
    paragraphs = doc["text"].split("\n")
    shift = k % len(paragraphs)
    text = "\n".join(paragraphs[shift:] + paragraphs[:shift])
    return {**doc, "id": f"{doc['id']}-v{k}", "title": f"{doc['title']} ({k})", "text": text}


def chunk_counts(docs: list[dict[str, str]]) -> list[int]:
    """Chunks each document makes with the default settings (tokenizer only, no model)."""
    from coiassist.chunking import chunk_article
    from coiassist.embeddings import load_embedder
    from coiassist.indexer import chunk_budget
    from coiassist.ingest import read_corpus

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.jsonl"
        write_jsonl(path, docs)
        settings = settings_for(Path(tmp) / "home", path)
        articles, _ = read_corpus(path)
    embedder = load_embedder(settings)
    budget = chunk_budget(settings, embedder)
    by_id = {
        a.id: len(chunk_article(a, embedder.token_offsets, budget, settings.chunk_overlap_tokens))
        for a in articles
    }
    ordered = list(by_id.values())
    if len(ordered) != len(docs):
        raise SystemExit(f"read {len(ordered)} of {len(docs)} benchmark documents")
    return ordered


def scaled(docs: list[dict[str, str]], counts: list[int], target: int) -> list[dict[str, str]]:
    """Documents (variants after the originals) until about `target` chunks."""
    chosen: list[dict[str, str]] = []
    total = 0
    k = 0
    while total < target:
        for doc, n in zip(docs, counts, strict=True):
            chosen.append(variant(doc, k))
            total += n
            if total >= target:
                break
        k += 1
    return chosen


def write_jsonl(path: Path, docs: Sequence[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")


def questions(data: Path, limit: int) -> list[str]:
    found = []
    for name in QUESTION_FILES:
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            found.append(json.loads(line)["question"])
    step = max(1, len(found) // limit)
    return found[::step][:limit]


# ---------------------------------------------------------------- indexing


def index_texts(settings: Any) -> tuple[list[str], list[str]]:
    """Chunk ids and the exact texts the indexer embedded, read back from the live snapshot."""
    import sqlite3

    from coiassist.chunking import embedding_text
    from coiassist.models import Chunk
    from coiassist.snapshot import open_snapshot

    _, folder = open_snapshot(settings.index_dir)
    db = sqlite3.connect(folder / "chunks.sqlite")
    rows = db.execute(
        "SELECT c.id, c.article_id, c.ordinal, c.text, a.title, a.lang FROM chunks c "
        "JOIN articles a ON a.id = c.article_id ORDER BY c.id"
    ).fetchall()
    db.close()
    texts = [
        embedding_text(
            Chunk(id=r[0], article_id=r[1], ordinal=r[2], start=0, end=0, text=r[3], title=r[4], lang=r[5])
        )
        for r in rows
    ]
    return [r[0] for r in rows], texts


def stored_vectors(settings: Any, ids: list[str]) -> Any:
    """The vectors the indexer stored in Chroma, in the order of `ids`."""
    import numpy as np

    from coiassist.snapshot import Pointer
    from coiassist.vectors import open_client

    pointer = Pointer.read(settings.index_dir)
    assert pointer is not None
    collection = open_client(settings.home, "").get_collection(pointer.collection)
    found: dict[str, Any] = {}
    for begin in range(0, len(ids), 5000):
        got = collection.get(ids=ids[begin : begin + 5000], include=["embeddings"])
        found.update(zip(got["ids"], got["embeddings"], strict=True))
    return np.asarray([found[i] for i in ids], dtype=np.float32)


def bench_indexing(corpus: Path, workdir: Path, repeats: int) -> tuple[dict[str, Any], Path]:
    """End-to-end `index_corpus` in fresh homes, then raw `encode` on the same chunk texts."""
    from coiassist.embeddings import load_embedder
    from coiassist.indexer import index_corpus

    runs = []
    home = workdir
    # The one-time ONNX export of the query model (seconds) stays out of the timing: later
    # homes copy it, as every index run after a machine's first does.
    load_embedder(settings_for(workdir / "home-warm", corpus)).export_query_model()
    for i in range(repeats):
        home = workdir / f"home-{i}"
        shutil.rmtree(home, ignore_errors=True)
        settings = settings_for(home, corpus)
        load_embedder(settings).model  # noqa: B018 -- loaded outside the timing, as a server would
        started = time.perf_counter()
        report = index_corpus(settings, corpus)
        seconds = time.perf_counter() - started
        runs.append((seconds, report.chunks_total))
        say(f"  index_corpus run {i + 1}: {report.chunks_total} chunks in {seconds:.1f} s")
    chunks = runs[-1][1]
    settings = settings_for(home, corpus)
    _, texts = index_texts(settings)
    embedder = load_embedder(settings)
    model = embedder.model
    raw = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.encode(texts, batch_size=embedder.batch_size, convert_to_numpy=True, show_progress_bar=False)
        raw.append(time.perf_counter() - started)
    say(f"  raw encode: {chunks / statistics.median(raw):.1f} chunks/s")
    result: dict[str, Any] = {
        "chunks": chunks,
        "tokens": sum(len(t) for t in embedder.token_offsets(texts)),
        "precision": embedder.precision,
        "index_seconds": spread([s for s, _ in runs]),
        "index_chunks_per_s": spread([chunks / s for s, _ in runs]),
        "encode_seconds": spread(raw),
        "encode_chunks_per_s": spread([chunks / s for s in raw]),
    }
    result["pipeline_efficiency"] = round(
        result["index_chunks_per_s"]["median"] / result["encode_chunks_per_s"]["median"], 3
    )
    return result, home


def float32_model(model_dir: Path) -> Any:
    """The sentence-transformers float32 baseline (what a default pipeline would run)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def bench_float32(data: Path, home: Path, corpus: Path, indexing: dict[str, Any]) -> dict[str, Any]:
    """The float32 baseline on the same chunks; bfloat16 quality and the ONNX query model against it."""
    import numpy as np

    from coiassist.embeddings import load_embedder

    settings = settings_for(home, corpus)
    ids, texts = index_texts(settings)
    embedder = load_embedder(settings)
    fp32 = float32_model(embedder.model_dir)
    started = time.perf_counter()
    full = fp32.encode(
        texts, batch_size=embedder.batch_size, convert_to_numpy=True, normalize_embeddings=True
    )
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "float32_encode_chunks_per_s": round(len(texts) / seconds, 2),
        "index_speedup_vs_float32": round(indexing["index_chunks_per_s"]["median"] * seconds / len(texts), 3),
        "encode_speedup_vs_float32": round(
            indexing["encode_chunks_per_s"]["median"] * seconds / len(texts), 3
        ),
    }
    say(f"  float32 encode: {result['float32_encode_chunks_per_s']} chunks/s")
    stored = stored_vectors(settings, ids)
    asked = questions(data, 889)
    queries = fp32.encode(asked, convert_to_numpy=True, normalize_embeddings=True)
    overlaps = [
        len(set(np.argsort(-(full @ q))[:10].tolist()) & set(np.argsort(-(stored @ q))[:10].tolist())) / 10
        for q in queries
    ]
    cosines = (stored * full).sum(axis=1)
    result["bfloat16_vs_float32"] = {
        "passages": len(texts),
        "queries": len(asked),
        "cosine_min": round(float(cosines.min()), 6),
        "cosine_mean": round(float(cosines.mean()), 6),
        "top10_overlap_mean": round(float(np.mean(overlaps)), 4),
    }
    if not embedder.export_query_model():
        result["onnx_queries"] = {"error": "ONNX export failed"}
        return result
    onnx_ms, torch_ms, onnx_cos, same = [], [], [], 0
    for question, reference in zip(asked[:300], queries[:300], strict=False):
        started = time.perf_counter()
        vector = embedder.embed_query(question)
        onnx_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        fp32.encode([question], convert_to_numpy=True, normalize_embeddings=True)
        torch_ms.append((time.perf_counter() - started) * 1000)
        onnx_cos.append(float(vector @ reference))
        same += np.argsort(-(full @ vector))[:10].tolist() == np.argsort(-(full @ reference))[:10].tolist()
    result["onnx_queries"] = {
        "queries": len(onnx_ms),
        "cosine_min": round(min(onnx_cos), 7),
        "identical_top10": round(same / len(onnx_ms), 4),
        "onnx_ms": percentiles(onnx_ms),
        "torch_float32_ms": percentiles(torch_ms),
    }
    return result


def bench_incremental(docs: list[dict[str, str]], home: Path, repeats: int) -> dict[str, Any]:
    """One article of an indexed corpus changes: time the re-index and count what it embedded."""
    from coiassist.chunking import embedding_text
    from coiassist.embeddings import load_embedder
    from coiassist.indexer import index_corpus
    from coiassist.retrieval import open_retriever

    corpus = home.parent / "incremental.jsonl"
    articles = [dict(d) for d in docs]
    settings = settings_for(home, corpus)
    embedder = load_embedder(settings)
    middle = len(articles) // 2
    # The home was built from another file; index this one once, untimed, so the runs below see
    # only their own change.
    write_jsonl(corpus, articles)
    index_corpus(settings, corpus)
    seconds, own, embedded = [], [], []
    total = 0
    for i in range(repeats):
        changed = articles[middle]
        articles[middle] = {**changed, "text": changed["text"] + f"\nEndnu en sætning, nummer {i}."}
        write_jsonl(corpus, articles)
        started = time.perf_counter()
        report = index_corpus(settings, corpus)
        seconds.append(time.perf_counter() - started)
        embedded.append(report.chunks_embedded)
        total = report.chunks_total
        retriever = open_retriever(settings)
        retriever.refresh()
        _, chunks = retriever.article(articles[middle]["id"]) or (None, [])
        title = articles[middle]["title"]
        started = time.perf_counter()
        embedder.embed_passages([embedding_text_of(title, c[3], embedding_text) for c in chunks])
        own.append(time.perf_counter() - started)
    return {
        "articles": len(articles),
        "chunks_total": total,
        "chunks_embedded": embedded,
        "reindex_seconds": spread(seconds),
        "own_embedding_seconds": spread(own),
        "overhead_seconds": spread([s - o for s, o in zip(seconds, own, strict=True)]),
    }


def embedding_text_of(title: str, text: str, render: Callable[[Any], str]) -> str:
    from coiassist.models import Chunk

    return render(
        Chunk(id="x:0", article_id="x", ordinal=0, start=0, end=0, text=text, title=title, lang="da")
    )


# ---------------------------------------------------------------- queries, cold start, memory


def query_worker(home: Path, data: Path, count: int) -> None:
    """Runs in its own process (so its peak memory is that of a serving process)."""
    from coiassist.assistant import Assistant
    from coiassist.config import load_settings
    from coiassist.retrieval import open_retriever

    settings = load_settings({"home": home})
    retriever = open_retriever(settings)
    assistant = Assistant(settings, retriever)
    asked = questions(data, count)
    for question in asked[:5]:  # warm-up: model session, caches, detector
        assistant.ask(question, backend="extractive")
    search_ms, ask_ms = [], []
    for question in asked:
        started = time.perf_counter()
        retriever.search(question, k=10)
        search_ms.append((time.perf_counter() - started) * 1000)
    for question in asked:
        started = time.perf_counter()
        assistant.ask(question, backend="extractive")
        ask_ms.append((time.perf_counter() - started) * 1000)
    heavy = {name: name in sys.modules for name in ("torch", "sentence_transformers", "gradio")}
    result = {
        "search_ms": percentiles(search_ms),
        "ask_ms": percentiles(ask_ms),
        "imported": heavy,
        **rss_mb(),
    }
    print(json.dumps(result))


def bench_queries(home: Path, data: Path, count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker-queries", str(home), "--data", str(data), "--count", str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cli_env(home: Path) -> dict[str, str]:
    return {**os.environ, "COIASSIST_HOME": str(home), "COIASSIST_BACKEND": "extractive"}


def bench_cold_ask(home: Path, question: str, repeats: int) -> dict[str, Any]:
    """Process start to printed answer: `coiassist ask` as a user runs it."""
    exe = str(Path(sys.executable).with_name("coiassist"))
    times, cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([exe, "ask", question], env=cli_env(home), capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != 0:
            return {"error": done.stderr.decode(errors="replace").strip()[-300:]}
    probe = (
        "import json, sys\nfrom coiassist.cli import main\n"
        f"main(['ask', {question!r}])\n"
        "print(json.dumps({m: m in sys.modules for m in "
        "('torch', 'sentence_transformers', 'gradio', 'chromadb', 'lingua')}), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=cli_env(home), capture_output=True, check=False)
    imported = json.loads(done.stderr.decode().strip().splitlines()[-1]) if done.returncode == 0 else {}
    # CPU seconds as well: on a shared, loaded machine wall time mostly measures the neighbours.
    return {"seconds": spread(times), "cpu_seconds": spread(cpu), "imported": imported}


def bench_serve(home: Path, repeats: int, timeout: float = 120.0) -> dict[str, Any]:
    """`coiassist serve` from process start until its page answers 200, and its memory then."""
    exe = str(Path(sys.executable).with_name("coiassist"))
    times, cpu, memory = [], [], {}
    for _ in range(repeats):
        port = free_port()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [exe, "serve", "--port", str(port)],
            env=cli_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            while True:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    return {"error": err.strip()[-300:] or f"exit {proc.returncode}"}
                if time.perf_counter() - started > timeout:
                    return {"error": f"no HTTP 200 within {timeout:.0f} s"}
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    time.sleep(0.1)
            times.append(time.perf_counter() - started)
            cpu.append(cpu_seconds(proc.pid))
            memory = rss_mb(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    return {"seconds": spread(times), "cpu_seconds": spread(cpu), **memory}


# ---------------------------------------------------------------- the peer


def ensure_peer() -> Path | None:
    """The LlamaIndex venv (benchmark only, never a dependency of coiassist), made on demand."""
    python = PEER_VENV / "bin" / "python"
    probe = [str(python), "-c", "import llama_index.core, llama_index.embeddings.huggingface"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    say("creating the peer venv bench/.venv-peer (LlamaIndex) ...")
    steps = [
        [sys.executable, "-m", "venv", str(PEER_VENV)],
        [str(python), "-m", "pip", "install", "-q", "torch==2.13.0"],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "llama-index-core",
            "llama-index-embeddings-huggingface",
            "llama-index-vector-stores-chroma",
        ],
    ]
    for step in steps:
        if subprocess.run(step, check=False).returncode != 0:
            return None
    return python


def bench_peer(corpus: Path, model_dir: Path, workdir: Path, repeats: int) -> dict[str, Any]:
    python = ensure_peer()
    if python is None:
        return {"error": "could not install LlamaIndex into bench/.venv-peer (offline?)"}
    runs = []
    for i in range(repeats):
        done = subprocess.run(
            [
                str(python),
                str(ROOT / "bench" / "peer_llamaindex.py"),
                str(corpus),
                str(model_dir),
                str(workdir / f"peer-{i}"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return {"error": done.stderr.strip()[-400:]}
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        say(f"  LlamaIndex run {i + 1}: {runs[-1]['nodes']} nodes in {runs[-1]['seconds']:.1f} s")
    return {
        "nodes": runs[-1]["nodes"],
        "versions": runs[-1]["versions"],
        "seconds": spread([r["seconds"] for r in runs]),
        "nodes_per_s": spread([r["nodes"] / r["seconds"] for r in runs]),
    }


# ---------------------------------------------------------------- 100k with a kept index


def kept_index(docs: list[dict[str, str]], key: str) -> tuple[Path, dict[str, Any] | None]:
    """A home kept between runs for the large point; its indexing figures if already built."""
    home = OUT / f"home-{key}"
    stamp = home / "bench-index.json"
    digest = hashlib.sha1(json.dumps(docs, ensure_ascii=False).encode()).hexdigest()[:16]
    if stamp.is_file():
        saved = json.loads(stamp.read_text())
        if saved.get("digest") == digest:
            return home, saved["result"]
    shutil.rmtree(home, ignore_errors=True)
    return home, {"digest": digest}


def build_large(docs: list[dict[str, str]], key: str) -> tuple[Path, dict[str, Any]]:
    from coiassist.embeddings import load_embedder
    from coiassist.indexer import index_corpus

    home, saved = kept_index(docs, key)
    if saved is not None and "digest" not in saved:
        say(f"  reusing the {key} index built by an earlier run")
        return home, {**saved, "reused": True}
    corpus = home / "corpus.jsonl"
    write_jsonl(corpus, docs)
    settings = settings_for(home, corpus)
    load_embedder(settings).model  # noqa: B018
    started = time.perf_counter()
    report = index_corpus(settings, corpus)
    seconds = time.perf_counter() - started
    result = {
        "chunks": report.chunks_total,
        "index_seconds": spread([seconds]),
        "index_chunks_per_s": spread([report.chunks_total / seconds]),
    }
    assert saved is not None
    (home / "bench-index.json").write_text(json.dumps({"digest": saved["digest"], "result": result}))
    return home, result


# ---------------------------------------------------------------- report


def table(summary: dict[str, Any]) -> str:
    """The figures as a Markdown table (pasted into the README)."""
    lines = [
        "| corpus | chunks | index chunks/s | raw encode chunks/s | search p50 / p95 ms "
        "| ask p50 / p95 ms | query process peak RSS MB | serve RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, point in summary["points"].items():
        idx, q, serve = point.get("indexing", {}), point.get("queries", {}), point.get("serve", {})
        cells = [name, str(idx.get("chunks", "–"))]
        for key in ("index_chunks_per_s", "encode_chunks_per_s"):
            cells.append(f"{idx[key]['median']:.1f}" if key in idx else "–")
        for key in ("search_ms", "ask_ms"):
            cells.append(f"{q[key]['p50']:.1f} / {q[key]['p95']:.1f}" if key in q else "–")
        cells.append(str(q.get("peak_rss_mb", "–")))
        cells.append(str(serve.get("rss_mb", "–")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for n, p in summary["points"].items() if n != "dev" and "indexing" in p]
    points.sort(key=lambda p: p["indexing"]["chunks"])
    sizes = [p["indexing"]["chunks"] for p in points]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), dpi=80)
    axes[0].plot(sizes, [p["indexing"]["index_seconds"]["median"] for p in points], "o-")
    axes[0].set_title("index time (s)")
    for key, label in (("search_ms", "search"), ("ask_ms", "ask (extractive)")):
        axes[1].plot(
            [s for s, p in zip(sizes, points, strict=True) if key in p.get("queries", {})],
            [p["queries"][key]["p95"] for p in points if key in p.get("queries", {})],
            "o-",
            label=label,
        )
    axes[1].set_title("query p95 (ms)")
    axes[1].legend(fontsize=8)
    axes[2].plot(
        [s for s, p in zip(sizes, points, strict=True) if "peak_rss_mb" in p.get("queries", {})],
        [p["queries"]["peak_rss_mb"] for p in points if "peak_rss_mb" in p.get("queries", {})],
        "o-",
    )
    axes[2].set_title("query process peak RSS (MB)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("chunks")
        ax.grid(alpha=0.3)
    fig.suptitle(f"coiassist on {summary['machine']['cores']} CPU cores ({summary['machine']['date']})")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT)


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data)
    OUT.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"machine": machine(), "points": {}, "large": args.large}
    say(f"machine: {summary['machine']}")
    docs = read_documents(data)
    counts = chunk_counts(docs)
    say(f"{len(docs)} documents, {sum(counts)} chunks with the default settings")
    work = Path(tempfile.mkdtemp(prefix="work-", dir=OUT))
    names = ["1k", "dev", "10k"] + (["100k"] if args.large else [])
    sizes = {"1k": 1000, "10k": 10_000, "100k": 100_000}
    try:
        for name in args.points.split(",") if args.points else names:
            chosen = docs if name == "dev" else scaled(docs, counts, sizes[name])
            say(f"point {name}: {len(chosen)} articles")
            point: dict[str, Any] = {"articles": len(chosen)}
            if name in ("10k", "100k"):
                # Built once and kept in bench/out: at ~50-80 chunks/s these take many minutes.
                home, point["indexing"] = build_large(chosen, name)
            else:
                corpus = work / name / f"{name}.jsonl"
                write_jsonl(corpus, chosen)
                repeats = args.repeats if name == "1k" else 1
                point["indexing"], home = bench_indexing(corpus, work / name, repeats)
            if name == "1k":
                point["float32"] = bench_float32(data, home, corpus, point["indexing"])
                say("  cold start ...")
                summary["cold_ask"] = bench_cold_ask(home, questions(data, 1)[0], args.repeats)
                summary["cold_serve"] = bench_serve(home, args.repeats)
                if not args.no_peer:
                    say("  LlamaIndex peer ...")
                    from coiassist.embeddings import load_embedder

                    model_dir = load_embedder(settings_for(home, corpus)).model_dir
                    summary["peer"] = bench_peer(corpus, model_dir, work, args.peer_repeats)
                    if "seconds" in summary["peer"]:
                        summary["peer"]["our_speedup"] = round(
                            summary["peer"]["seconds"]["median"]
                            / point["indexing"]["index_seconds"]["median"],
                            3,
                        )
            if name == "dev":
                say("  incremental re-index ...")
                summary["incremental"] = bench_incremental(chosen, home, args.repeats)
            say("  query latency ...")
            point["queries"] = bench_queries(home, data, args.queries)
            say("  serve ...")
            point["serve"] = bench_serve(home, 1)
            summary["points"][name] = point
            say(f"  {name}: {json.dumps(point)}")
            partial = {**summary, "machine": {**summary["machine"], "load_at_end": load_average()}}
            (OUT / "partial.json").write_text(json.dumps(partial, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summary["machine"]["load_at_end"] = load_average()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add the 100k-chunk point (long)")
    parser.add_argument("--data", default=os.environ.get("COIASSIST_BENCH_DATA", str(DEFAULT_DATA)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, default=2)
    parser.add_argument("--queries", type=int, default=200, help="questions per latency measurement")
    parser.add_argument("--points", help="comma-separated subset of dev,1k,10k,100k")
    parser.add_argument("--no-peer", action="store_true", help="skip the LlamaIndex comparison")
    parser.add_argument("--keep", action="store_true", help="keep the work folder in bench/out")
    parser.add_argument("--name", default="", help="result file name (default: small or large)")
    parser.add_argument("--plot-only", action="store_true", help="redraw plot and table from bench/out")
    parser.add_argument("--worker-queries", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_queries:
        query_worker(Path(args.worker_queries), Path(args.data), args.count)
        return 0
    name = args.name or ("large" if args.large else "small")
    if args.plot_only:
        summary = json.loads((OUT / f"{name}.json").read_text())
        plot(summary)
        print(table(summary))
        return 0
    summary = run(args)
    earlier = OUT / f"{name}.json"
    if args.points and earlier.is_file():
        # A partial run adds its points to the last full one of the same name.
        merged = json.loads(earlier.read_text())
        merged["points"].update(summary.pop("points"))
        merged.update(summary)
        summary = merged
    (OUT / f"{name}.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    plot(summary)
    print(table(summary))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("points",)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
