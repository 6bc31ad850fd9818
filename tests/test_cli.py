"""The CLI contract: JSON shapes other tools rely on, and one clear line for every user error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coiassist.config import Settings
from coiassist.embeddings import BUNDLED_MODEL, resolve_precision
from tests.conftest import REPO, write_corpus


def run(
    *args: str,
    home: Path,
    cwd: Path | None = None,
    extra_env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COIASSIST_HOME": str(home), **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "coiassist", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        input=stdin,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    result = run("index", "--corpus", str(REPO / "corpus"), "--json", home=home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "added",
        "changed",
        "unchanged",
        "deleted",
        "chunks_embedded",
        "chunks_total",
        "seconds",
        "errors",
    }
    assert report["added"] == 2 and report["chunks_total"] == report["chunks_embedded"] > 2
    return home


def test_search_json_shape(home: Path) -> None:
    result = run("search", "nærhedsreform", "--k", "3", "--json", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["query"] == "nærhedsreform"
    assert 1 <= len(data["results"]) <= 3
    first = data["results"][0]
    assert set(first) == {"rank", "article_id", "chunk_id", "title", "text", "score"}
    assert first["rank"] == 1 and first["chunk_id"].startswith(first["article_id"] + ":")


def test_ask_json_shape(home: Path) -> None:
    result = run("ask", "Hvem åbnede Velfærdens Innovationsdag?", "--json", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"question", "language", "answer", "abstained", "citations", "backend", "timings_ms"} <= set(data)
    assert data["language"] == "da" and data["backend"] == "extractive"
    assert "Astrid Krag" in data["answer"] and data["abstained"] is False


def test_batch_search_and_ask_pass_ids_through(home: Path, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "question": "Asker Velferdslab"})
        + "\n"
        + json.dumps({"id": "b", "question": "Hvad er temaet for Velfærdens Innovationsdag?"})
        + "\n",
        encoding="utf-8",
    )
    for command in ("search", "ask"):
        result = run(command, "--batch", str(batch), home=home)
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line["id"] for line in lines] == ["a", "b"]


def test_stats_and_config(home: Path) -> None:
    stats = json.loads(run("stats", "--json", home=home).stdout)
    assert stats["articles"] == 2 and stats["languages"] == {"da": 1, "nb": 1}
    assert stats["chunks"] > 2 and stats["model"] and stats["last_indexed"]
    assert stats["vectors"] == stats["chunks"] and stats["vector_problem"] == ""
    assert stats["model"] == f"{BUNDLED_MODEL}, {resolve_precision('auto')}"  # what embedded it
    config = run("config", home=home)
    assert config.returncode == 0
    for name in Settings.__dataclass_fields__:
        assert f"COIASSIST_{name.upper()}" in config.stdout


def test_backends_lists_the_registry(home: Path) -> None:
    result = run("backends", home=home)
    assert result.returncode == 0
    assert "extractive" in result.stdout and "ready" in result.stdout
    assert "openai" in result.stdout and "ollama" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("ask", ""), {}, "empty"),
        (("search", "x"), {"COIASSIST_TOP_K": "many"}, "top_k"),
        (("index", "--corpus", "/nonexistent/corpus"), {}, "does not exist"),
        (("ask", "Hvad er velfærd?", "--backend", "gpt-99"), {}, "extractive"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    home: Path, args: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    result = run(*args, home=home, extra_env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert needle in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_empty_home_tells_how_to_index(tmp_path: Path) -> None:
    result = run("search", "innovation", home=tmp_path / "empty")
    assert result.returncode != 0 and "coiassist index" in result.stderr


def test_index_exit_codes(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "tom.txt").write_text("", encoding="utf-8")
    home = tmp_path / "home"
    ok = run("index", "--corpus", str(corpus), home=home)
    assert ok.returncode == 0 and "tom.txt" in ok.stderr
    strict = run("index", "--corpus", str(corpus), "--strict", home=home)
    assert strict.returncode == 1
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "tom.txt").write_text("", encoding="utf-8")
    nothing = run("index", "--corpus", str(only_bad), home=tmp_path / "home2")
    assert nothing.returncode == 1 and "nothing could be indexed" in nothing.stderr


def test_module_and_console_script_agree(home: Path) -> None:
    script = Path(sys.executable).parent / "coiassist"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("coiassist ")
