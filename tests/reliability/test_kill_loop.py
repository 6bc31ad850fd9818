"""Index runs killed with SIGKILL at random points never leave the chat a wrong or broken index."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from coiassist.config import Settings, load_settings
from coiassist.errors import IndexCorruptError
from coiassist.indexer import index_corpus
from coiassist.ingest import read_corpus
from coiassist.retrieval import Retriever
from coiassist.snapshot import Pointer, open_snapshot
from coiassist.vectors import forget_clients
from tests.index_helpers import assert_consistent, index_state, published_chunks
from tests.reliability.helpers import WarmRunner, cli_env, code_name, run_cli, write_articles

pytestmark = pytest.mark.reliability

N_ARTICLES = 200
KILLS = 20


def _settings(home: Path, corpus: Path) -> Settings:
    return load_settings(
        {"home": home, "corpus": corpus, "chunk_tokens": 40, "chunk_overlap_tokens": 10},
        config_file=home / "none.toml",
    )


def _mutate(corpus: Path, rng: random.Random, next_id: int, round_no: int) -> int:
    """Add, change and delete articles, as editors do between index runs; sometimes many."""
    files = sorted(corpus.rglob("*.txt"))
    for path in rng.sample(files, 3):
        path.unlink()
    changes = rng.choice([5, 20, 60, 150])
    for path in rng.sample(sorted(corpus.rglob("*.txt")), changes):
        number = int(path.stem.split("-")[1])
        write_articles(corpus, [number], version=round_no)
    write_articles(corpus, range(next_id, next_id + 4))
    return next_id + 4


def _published_articles_are_whole(folder: Path) -> set[str]:
    """Every published article has all its chunks 0..n-1 (never half an article); its ids."""
    db = sqlite3.connect(folder / "chunks.sqlite")
    try:
        wanted = dict(db.execute("SELECT id, n_chunks FROM articles"))
        have: dict[str, list[int]] = {}
        for article_id, ordinal in db.execute("SELECT article_id, ordinal FROM chunks"):
            have.setdefault(article_id, []).append(ordinal)
    finally:
        db.close()
    for article_id, n in wanted.items():
        assert sorted(have.get(article_id, [])) == list(range(n)), article_id
    assert set(have) <= set(wanted)
    return set(wanted)


def _check_reader_after_kill(settings: Settings, query: str) -> tuple[int, bool]:
    """A reader now sees one published index, BM25 and chunks agreeing, and answers from it.

    Chroma's vector files are not crash-safe: a kill while Chroma writes them can leave files it
    cannot load. Then hybrid search answers from BM25 alone, dense search says to run `coiassist
    index`, and the next index run repairs them. Returns (published chunks, vectors damaged).
    """
    forget_clients()  # the killed process wrote Chroma; read it afresh
    if Pointer.read(settings.index_dir) is None:
        return 0, False  # killed during the very first build: nothing published, nothing wrong served
    _, folder = open_snapshot(settings.index_dir)
    chunks, lexical_ids = published_chunks(settings)
    published = {c[0]: c[3] for c in chunks}
    assert tuple(sorted(published)) == lexical_ids
    _published_articles_are_whole(folder)
    retriever = Retriever(settings)
    damaged = False
    for mode in ("dense", "hybrid", "bm25"):
        try:
            passages = retriever.search(query, k=5, mode=mode)
        except IndexCorruptError as exc:
            assert mode == "dense" and "run `coiassist index`" in str(exc), exc
            damaged = True
            continue
        assert passages or mode == "dense"
        for passage in passages:
            assert published.get(passage.chunk_id) == passage.text, (mode, passage.chunk_id)
    return len(published), damaged


def _written_since(paths: Iterable[Path], since: float) -> bool:
    """Was any of the files written after `since`? SQLite deletes its journal at any moment."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime > since:
                return True
    return False


def test_sigkill_at_random_points_then_resume_equals_a_clean_rebuild(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_articles(corpus, range(N_ARTICLES))
    home = tmp_path / "home"
    settings = _settings(home, corpus)
    env = cli_env(home)
    runner = WarmRunner()
    rng = random.Random(20261123)
    log = tmp_path / "runs.log"

    kills = cli_checks = damaged_rounds = 0
    next_id = N_ARTICLES
    outcomes: list[str] = []
    for round_no in range(1, 60):
        if kills >= KILLS:
            break
        if round_no > 2:
            next_id = _mutate(corpus, rng, next_id, round_no)
        since = time.time()
        t0 = time.monotonic()
        proc = runner.start(["index", "--corpus", str(corpus)], env, log)
        # Start the clock once the run writes its catalog: it has read the corpus and loaded the model.
        deadline = time.monotonic() + 120
        while proc.is_alive() and time.monotonic() < deadline:
            if _written_since(settings.index_dir.glob("catalog-*.sqlite*"), since):
                break
            time.sleep(0.02)
        t1 = time.monotonic()
        if round_no == 2:
            proc.join(300)  # one run resumes the killed first build and publishes it
        else:
            time.sleep(rng.uniform(0, 0.3) if rng.random() < 0.3 else rng.uniform(0.3, 4.0))
        finished = not proc.is_alive()
        if not finished:
            proc.kill()
        proc.join(30)
        # A run can end between the check and the signal: then it finished, and no kill happened.
        finished = finished or proc.exitcode == 0
        if not finished:
            kills += 1
        assert proc.exitcode == (0 if finished else -9), log.read_text()[-3000:]
        outcomes.append("done" if finished else "killed")
        t2 = time.monotonic()

        query = f"Hvad handler projekt {code_name(rng.randrange(next_id))} om?"
        published, damaged = _check_reader_after_kill(settings, query)
        assert published or round_no == 1
        damaged_rounds += damaged
        if round_no % 7 == 3:
            # A fresh process, as the chat would start after a crash, answers from the published index.
            state = {c[0]: c[3] for c in published_chunks(settings)[0]}
            result = run_cli(["search", "--json", "--k", "5", "tillidsreform i kommunen"], env)
            assert result.returncode == 0, result.stderr
            hits = json.loads(result.stdout)["results"]
            assert hits and all(state.get(h["chunk_id"]) == h["text"] for h in hits)
            cli_checks += 1
        checked = time.monotonic() - t2
        print(f"round {round_no}: start {t1 - t0:.1f} s, run {t2 - t1:.1f} s, check {checked:.1f} s")
    print(f"kill loop: {kills} kills in {len(outcomes)} runs: {' '.join(outcomes)}")
    print(f"kill loop: {damaged_rounds} kills left Chroma's vector files damaged")
    assert kills >= KILLS
    assert cli_checks >= 1

    result = run_cli(["index", "--json", "--corpus", str(corpus)], env)
    assert result.returncode == 0, result.stderr
    forget_clients()
    final = index_state(settings)
    assert_consistent(final)

    articles, errors = read_corpus(corpus)
    assert not errors
    _, folder = open_snapshot(settings.index_dir)
    assert _published_articles_are_whole(folder) == {a.id for a in articles}  # none lost, none extra

    clean = _settings(tmp_path / "clean", corpus)
    index_corpus(clean, corpus)
    forget_clients()
    assert final == index_state(clean)

    ask = run_cli(["ask", "--json", f"Hvad handler projekt {code_name(5)} om?"], env)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert not answer["abstained"]
    assert any(c["article_id"].endswith("artikel-0005") for c in answer["citations"])
