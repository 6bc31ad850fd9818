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


def index_texts(settings: Any) -> list[str]:
    """The exact texts the indexer embedded, read back from the published snapshot."""
    from coiassist.chunking import embedding_text
    from coiassist.models import Chunk
    from coiassist.snapshot import open_snapshot

    _, folder = open_snapshot(settings.index_dir)
    import sqlite3

    db = sqlite3.connect(folder / "chunks.sqlite")
    rows = db.execute(
        "SELECT c.id, c.article_id, c.ordinal, c.text, a.title, a.lang FROM chunks c "
        "JOIN articles a ON a.id = c.article_id"
    ).fetchall()
    db.close()
    return [
        embedding_text(
            Chunk(id=r[0], article_id=r[1], ordinal=r[2], start=0, end=0, text=r[3], title=r[4], lang=r[5])
        )
        for r in rows
    ]


def bench_indexing(corpus: Path, workdir: Path, repeats: int, with_float32: bool) -> dict[str, Any]:
    """End-to-end `index_corpus` in fresh homes, then raw `encode` on the same chunk texts."""
    from coiassist.embeddings import load_embedder
    from coiassist.indexer import index_corpus

    runs = []
    home = workdir
    for i in range(repeats):
        home = workdir / f"home-{i}"
        shutil.rmtree(home, ignore_errors=True)
        settings = settings_for(home, corpus)
        load_embedder(settings).model  # noqa: B018 -- load outside the timing, as a server would
        started = time.perf_counter()
        report = index_corpus(settings, corpus)
        seconds = time.perf_counter() - started
        runs.append((seconds, report.chunks_total))
        say(f"  index_corpus run {i + 1}: {report.chunks_total} chunks in {seconds:.1f} s")
    chunks = runs[-1][1]
    settings = settings_for(home, corpus)
    texts = index_texts(settings)
    embedder = load_embedder(settings)
    model = embedder.model
    raw = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.encode(texts, batch_size=embedder.batch_size, convert_to_numpy=True, show_progress_bar=False)
        raw.append(time.perf_counter() - started)
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
    if with_float32:
        fp32 = float32_model(embedder.model_dir)
        times = []
        for _ in range(max(1, repeats - 1)):
            started = time.perf_counter()
            fp32.encode(texts, batch_size=embedder.batch_size, convert_to_numpy=True, show_progress_bar=False)
            times.append(time.perf_counter() - started)
        result["float32_encode_chunks_per_s"] = spread([chunks / s for s in times])
        result["speedup_vs_float32"] = round(
            result["index_chunks_per_s"]["median"] / result["float32_encode_chunks_per_s"]["median"], 3
        )
    return result


def float32_model(model_dir: Path) -> Any:
    """The sentence-transformers float32 baseline (what a default pipeline would run)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def bench_precision(data: Path, workdir: Path) -> dict[str, Any]:
    """bfloat16 passages against float32: cosine and top-10 overlap of dense retrieval on the dev sets."""
    import numpy as np

    from coiassist.embeddings import load_embedder

    corpus = workdir / "dev.jsonl"
    settings = settings_for(workdir / "home-0", corpus)
    texts = index_texts(settings)
    embedder = load_embedder(settings)
    bf16 = embedder.embed_passages(texts)
    fp32 = float32_model(embedder.model_dir)
    full = fp32.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    queries = fp32.encode(questions(data, 889), convert_to_numpy=True, normalize_embeddings=True)
    overlaps = []
    for query in queries:
        a = set(np.argsort(-(full @ query))[:10].tolist())
        b = set(np.argsort(-(bf16 @ query))[:10].tolist())
        overlaps.append(len(a & b) / 10)
    cosines = (bf16 * full).sum(axis=1)
    return {
        "passages": len(texts),
        "queries": len(queries),
        "cosine_min": round(float(cosines.min()), 6),
        "cosine_mean": round(float(cosines.mean()), 6),
        "top10_overlap_mean": round(float(np.mean(overlaps)), 4),
    }


def bench_onnx_queries(data: Path, workdir: Path) -> dict[str, Any]:
    """The ONNX query model against torch float32: cosine, identical top-10, latency."""
    import numpy as np

    from coiassist.embeddings import load_embedder

    settings = settings_for(workdir / "home-0", workdir / "dev.jsonl")
    embedder = load_embedder(settings)
    if not embedder.export_query_model():
        return {"error": "ONNX export failed"}
    texts = index_texts(settings)
    fp32 = float32_model(embedder.model_dir)
    passages = fp32.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    asked = questions(data, 300)
    onnx_ms, torch_ms, cosines, same = [], [], [], 0
    for question in asked:
        started = time.perf_counter()
        a = embedder.embed_query(question)
        onnx_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        b = fp32.encode([question], convert_to_numpy=True, normalize_embeddings=True)[0]
        torch_ms.append((time.perf_counter() - started) * 1000)
        cosines.append(float(a @ b))
        same += np.argsort(-(passages @ a))[:10].tolist() == np.argsort(-(passages @ b))[:10].tolist()
    return {
        "queries": len(asked),
        "cosine_min": round(min(cosines), 7),
        "identical_top10": round(same / len(asked), 4),
        "onnx_ms": percentiles(onnx_ms),
        "torch_float32_ms": percentiles(torch_ms),
    }


def bench_incremental(docs: list[dict[str, str]], workdir: Path, repeats: int) -> dict[str, Any]:
    """1,000 articles indexed; one changes; time the re-index and count what it embedded."""
    from coiassist.chunking import embedding_text
    from coiassist.embeddings import load_embedder
    from coiassist.indexer import index_corpus
    from coiassist.retrieval import open_retriever

    corpus = workdir / "incremental.jsonl"
    articles = [dict(d) for d in docs[:1000]]
    write_jsonl(corpus, articles)
    home = workdir / "home-incremental"
    shutil.rmtree(home, ignore_errors=True)
    settings = settings_for(home, corpus)
    first = index_corpus(settings, corpus)
    embedder = load_embedder(settings)
    seconds, own, embedded = [], [], []
    for i in range(repeats):
        articles[500] = {**articles[500], "text": articles[500]["text"] + f"\nEndnu en sætning, nummer {i}."}
        write_jsonl(corpus, articles)
        started = time.perf_counter()
        report = index_corpus(settings, corpus)
        seconds.append(time.perf_counter() - started)
        embedded.append(report.chunks_embedded)
        retriever = open_retriever(settings)
        retriever.refresh()
        _, chunks = retriever.article(articles[500]["id"]) or (None, [])
        title = articles[500]["title"]
        started = time.perf_counter()
        embedder.embed_passages([embedding_text_of(title, c[3], embedding_text) for c in chunks])
        own.append(time.perf_counter() - started)
    overhead = [s - o for s, o in zip(seconds, own, strict=True)]
    return {
        "articles": len(articles),
        "chunks_total": first.chunks_total,
        "chunks_embedded": embedded,
        "reindex_seconds": spread(seconds),
        "own_embedding_seconds": spread(own),
        "overhead_seconds": spread(overhead),
    }


def embedding_text_of(title: str, text: str, render: Callable[[Any], str]) -> str:
    from coiassist.models import Chunk

    return render(Chunk(id="x:0", article_id="x", ordinal=0, start=0, end=0, text=text, title=title, lang="da"))


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
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run([exe, "ask", question], env=cli_env(home), capture_output=True, check=False)
        times.append(time.perf_counter() - started)
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
    return {"seconds": spread(times), "imported": imported}


def bench_serve(home: Path, repeats: int, timeout: float = 120.0) -> dict[str, Any]:
    """`coiassist serve` from process start until its page answers 200, and its memory then."""
    exe = str(Path(sys.executable).with_name("coiassist"))
    times, memory = [], {}
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
            memory = rss_mb(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    return {"seconds": spread(times), **memory}


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
            [str(python), str(ROOT / "bench" / "peer_llamaindex.py"), str(corpus), str(model_dir),
             str(workdir / f"peer-{i}")],
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
    fig.savefig(PLOT, optimize=True)


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data)
    OUT.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"machine": machine(), "points": {}, "large": args.large}
    say(f"machine: {summary['machine']}")
    docs = read_documents(data)
    counts = chunk_counts(docs)
    say(f"{len(docs)} documents, {sum(counts)} chunks with the default settings")
    work = Path(tempfile.mkdtemp(prefix="coiassist-bench-", dir=OUT))
    try:
        sizes = {"dev": None, "1k": 1000, "10k": 10_000}
        if args.large:
            sizes["100k"] = 100_000
        for name in args.points.split(",") if args.points else sizes:
            target = sizes[name]
            chosen = docs if target is None else scaled(docs, counts, target)
            say(f"point {name}: {len(chosen)} articles")
            point: dict[str, Any] = {"articles": len(chosen)}
            if name == "100k":
                home, point["indexing"] = build_large(chosen, name)
            else:
                folder = work / name
                corpus = folder / f"{name}.jsonl"
                write_jsonl(corpus, chosen)
                repeats = args.repeats if target is None or target <= 1000 else 1
                point["indexing"] = bench_indexing(corpus, folder, repeats, with_float32=name != "10k")
                home = folder / "home-0"
                if name == "dev":
                    shutil.copy(corpus, folder / "dev.jsonl")
                    say("  bfloat16 against float32 ...")
                    summary["precision"] = bench_precision(data, folder)
                    say("  ONNX query model against torch ...")
                    summary["onnx_queries"] = bench_onnx_queries(data, folder)
            say("  query latency ...")
            point["queries"] = bench_queries(home, data, args.queries)
            say("  serve ...")
            point["serve"] = bench_serve(home, 1)
            if name == "dev":
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
                            summary["peer"]["seconds"]["median"] / point["indexing"]["index_seconds"]["median"],
                            3,
                        )
            if name == "1k":
                say("  incremental re-index ...")
                summary["incremental"] = bench_incremental(scaled(docs, counts, 10**9)[:1000], work, args.repeats)
            summary["points"][name] = point
            say(f"  {name}: {json.dumps(point)}")
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
    parser.add_argument("--worker-queries", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_queries:
        query_worker(Path(args.worker_queries), Path(args.data), args.count)
        return 0
    summary = run(args)
    name = args.name or ("large" if args.large else "small")
    (OUT / f"{name}.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    plot(summary)
    print(table(summary))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("points",)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

