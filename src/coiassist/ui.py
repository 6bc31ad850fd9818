"""The web chat and admin tab (Gradio 6).

Answers stream into a `gr.Chatbot` with their `[n]` markers; under each answer a sources block
shows, per citation, the article facts and the cited passage with the supporting sentence
marked, and the whole article can be opened at that passage. Everything that comes from an
article, a model or a user is escaped before it reaches a Markdown renderer (Gradio's sanitizer
is the second layer, a Content-Security-Policy header the third); nothing goes into `gr.HTML`.
The conversation lives in per-session state, never in module globals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coiassist import admin
from coiassist.assistant import Assistant
from coiassist.config import Settings
from coiassist.errors import (
    AuthError,
    CoiassistError,
    ConfigError,
    IndexEmptyError,
)
from coiassist.models import Answer, Citation
from coiassist.phrases import phrases_for
from coiassist.retrieval import Retriever
from coiassist.sanitize import clean_question, escape_markdown
from coiassist.ui_render import (
    answer_markdown,
    article_markdown,
    backend_markdown,
    error_message,
    notes_markdown,
    reindex_markdown,
    sources_markdown,
    stats_markdown,
    upload_lines,
)
from coiassist.ui_text import UI_LANGUAGES, UiText, ui_text

log = logging.getLogger(__name__)

Turn = dict[str, Any]  # one question and its answer, as kept in the session state
ChatOutputs = tuple[list[dict[str, Any]], list[Turn], str, str, Any]

# System fonts only: a GoogleFont would be fetched from the internet on every page load.
THEME = gr.themes.Default(
    primary_hue=gr.themes.colors.blue,
    font=[gr.themes.Font("system-ui"), "sans-serif"],
    font_mono=[gr.themes.Font("ui-monospace"), "monospace"],
).set(
    # White on the default primary fill is below WCAG AA contrast; the 700 shade passes.
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_text_color="white",
    button_cancel_background_fill="#b91c1c",
    button_cancel_background_fill_hover="#991b1b",
    button_cancel_text_color="white",
    color_accent="*primary_700",  # the selected tab's label is drawn in the accent colour
)
CSS = """
#article-view mark, #chat mark { background: #fff3a3; color: #111; }
"""
# No remote images or media even if markup slipped through both escaping and the sanitizer.
CSP = "img-src 'self' data: blob:; media-src 'self' data: blob:; object-src 'none'; base-uri 'self'"
SCROLL_TO_PASSAGE = (
    "() => { document.querySelector('#article-view blockquote')?.scrollIntoView({block: 'center'}); }"
)
ALLOWED_UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl"]
# Answers with the extractive backend are light (~0.1 s of CPU); an LLM backend mostly waits on
# HTTP. Four at a time keeps two cores busy and lets a quick question pass a slow one. Admin work
# runs one at a time in its own lane, so the chat keeps answering (from the previous snapshot)
# while it indexes. The queue is bounded (unbounded queues are a resource risk) but holds a few
# questions for each of 20 colleagues asking at once: past it, a user is told to try again.
CHAT_CONCURRENCY = 4
QUEUE_SIZE = 64
# Partial answers are sent at most this often: every update re-sends the whole conversation, so
# sending each LLM token (or each quoted sentence, ~10 ms apart) would spend the two cores on
# serialising chat history instead of answering. A person cannot read faster than this anyway.
STREAM_INTERVAL_S = 0.15
# Gradio spots a progress parameter by its default; the admin lane runs one action at a time.
_PROGRESS = gr.Progress()


class _SecurityHeaders:
    """ASGI middleware adding the CSP and nosniff headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CSP.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


# ---------------------------------------------------------------- the app


class ChatApp:
    """The handlers behind the UI, with the assistant and the feedback file they share."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant or Assistant(settings)
        self._feedback_lock = threading.Lock()

    @property
    def feedback_path(self) -> Path:
        return self.settings.home / "feedback.jsonl"

    def _retriever(self) -> Retriever | None:
        try:
            return self.assistant.retriever
        except IndexEmptyError:
            return None

    # -- chat

    def respond(
        self, message: str, turns: list[Turn] | None, ui_lang: str, answer_lang: str
    ) -> Iterator[ChatOutputs]:
        """Stream one answer: (chat messages, turns, textbox, backend indicator, source picker)."""
        t = ui_text(ui_lang)
        turns = list(turns or [])
        question = message or ""
        shown = [m for turn in turns for m in turn["messages"]]
        user_msg = {"role": "user", "content": escape_markdown(clean_question(question))}
        reply: dict[str, Any] = {"role": "assistant", "content": ""}
        yield [*shown, user_msg, reply], turns, "", t.thinking, gr.update()

        history = [
            m
            for turn in turns
            if not turn["failed"]
            for m in (
                {"role": "user", "content": turn["question"]},
                {"role": "assistant", "content": turn["answer"]},
            )
        ]
        forced = None if answer_lang in ("", "auto") else answer_lang
        final: Answer | None = None
        sent = time.monotonic()
        try:
            for item in self.assistant.stream(question, history, language=forced):
                if isinstance(item, Answer):
                    final = item
                elif time.monotonic() - sent >= STREAM_INTERVAL_S:
                    sent = time.monotonic()
                    reply = {"role": "assistant", "content": answer_markdown(item)}
                    yield [*shown, user_msg, reply], turns, "", t.thinking, gr.update()
        except CoiassistError as exc:
            log.info("question not answered: %s", exc)
            failed = {"role": "assistant", "content": error_message(exc, t, self.settings, question)}
            turns.append(_turn(question, None, [user_msg, failed]))
            yield [*shown, user_msg, failed], turns, "", "", gr.update()
            return
        except Exception:
            # The UI edge: the user gets a message, the log gets the traceback.
            log.exception("answering %r failed", question)
            failed = {"role": "assistant", "content": t.generic_error}
            turns.append(_turn(question, None, [user_msg, failed]))
            yield [*shown, user_msg, failed], turns, "", "", gr.update()
            return
        if final is None:  # pragma: no cover - stream always ends with an Answer
            raise RuntimeError("the assistant ended without an answer")

        messages = [user_msg, self._answer_message(final, t)]
        if final.citations:
            # A plain message, not a collapsible "thought": Gradio's accordion nests a button in a
            # button (axe: nested-interactive) and its arrow button has no accessible name.
            heading = f"**{phrases_for(final.language).sources} ({len(final.citations)})**\n\n"
            messages.append(
                {"role": "assistant", "content": heading + sources_markdown(list(final.citations), t)}
            )
        turns.append(_turn(question, final, messages))
        picker = gr.update(
            choices=[(f"[{c.key}] {c.title}", str(c.key)) for c in final.citations],
            value=None,
            interactive=bool(final.citations),
        )
        yield [*shown, *messages], turns, "", backend_markdown(final, t), picker

    def _answer_message(self, answer: Answer, t: UiText) -> dict[str, Any]:
        parts = [answer_markdown(answer.answer)]
        if answer.abstained:
            parts.append(f"*{t.unanswerable_hint}*")
        if answer.notes:
            parts.append(notes_markdown(answer))
        return {"role": "assistant", "content": "\n\n".join(parts)}

    def new_conversation(self) -> tuple[list[Any], list[Turn], str, Any, str]:
        """Cleared: chat, turns, backend indicator, source picker, feedback message."""
        return [], [], "", gr.update(choices=[], value=None, interactive=False), ""

    def open_article(self, choice: str | None, turns: list[Turn] | None, ui_lang: str) -> str:
        """The whole article behind source `choice` of the latest answer, at the cited passage."""
        t = ui_text(ui_lang)
        answered = [turn for turn in turns or [] if turn["citations"]]
        if not choice or not answered:
            return t.article_placeholder
        by_key = {c["key"]: c for c in answered[-1]["citations"]}
        try:
            citation = Citation(**by_key[int(choice)])
        except (KeyError, ValueError):
            return t.article_placeholder
        retriever = self._retriever()
        found = retriever.article(citation.article_id) if retriever else None
        if found is None:
            return t.article_placeholder
        row, chunks = found
        return article_markdown(row, chunks, citation, t)

    def feedback(
        self, turns: list[Turn] | None, comment: str, ui_lang: str, data: gr.LikeData
    ) -> tuple[str, str]:
        """Append a vote (and the optional comment) on an answer to `<home>/feedback.jsonl`."""
        t = ui_text(ui_lang)
        turn = _turn_at(turns or [], data.index)
        if turn is None or turn["failed"]:
            return t.feedback_none, comment
        vote = "up" if data.liked is True else "down" if data.liked is False else str(data.liked)
        record = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "vote": vote,
            "comment": (comment or "").strip()[:2000],
            "question": turn["question"],
            "answer": turn["answer"],
            "citations": [
                {k: c[k] for k in ("key", "article_id", "chunk_id", "title")} for c in turn["citations"]
            ],
            "backend": turn["backend"],
            "language": turn["language"],
        }
        self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
        with self._feedback_lock, self.feedback_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return (t.feedback_up if vote == "up" else t.feedback_down), ""

    # -- admin

    def stats(self, ui_lang: str) -> str:
        t = ui_text(ui_lang)
        retriever = self._retriever()
        return stats_markdown(retriever.stats(), t) if retriever else t.empty_index

    def _article_choices(self) -> Any:
        retriever = self._retriever()
        rows = admin.deletable_articles(retriever) if retriever else []
        return gr.update(choices=[(f"{title} ({source})", aid) for aid, title, source in rows], value=None)

    def _admin_outputs(self, message: str, ui_lang: str) -> tuple[str, str, Any]:
        return message, self.stats(ui_lang), self._article_choices()

    def _reindex(self, t: UiText, progress: gr.Progress) -> str:
        def report(done: int, total: int, what: str) -> None:
            progress((done, total), desc=f"{t.indexing}: {what}")

        progress(0, desc=t.indexing)
        result = admin.reindex(self.settings, self._retriever(), report)
        return reindex_markdown(result, t)

    def _guarded(self, action: Callable[[UiText], str], password: str, ui_lang: str) -> tuple[str, str, Any]:
        """Run an admin action after the password check; errors become messages."""
        t = ui_text(ui_lang)
        try:
            admin.check_admin(self.settings, password)
            return self._admin_outputs(action(t), ui_lang)
        except AuthError:
            return t.wrong_password, "", gr.update()
        except CoiassistError as exc:
            log.warning("admin action failed: %s", exc)
            return self._admin_outputs(error_message(exc, t, self.settings, ""), ui_lang)
        except Exception:
            log.exception("admin action failed")
            return self._admin_outputs(t.generic_error, ui_lang)

    def upload(
        self, files: list[str] | None, password: str, ui_lang: str, progress: gr.Progress = _PROGRESS
    ) -> tuple[str, str, Any]:
        def run(t: UiText) -> str:
            if not files:
                return t.no_files
            retriever = self._retriever()
            known = {row[0] for row in admin.deletable_articles(retriever)} if retriever else set()
            report = admin.save_uploads(self.settings, [(Path(f).name, Path(f)) for f in files], known)
            lines = upload_lines(report, t)
            if report.accepted:
                lines.append(self._reindex(t, progress))
            return "\n".join(lines)

        return self._guarded(run, password, ui_lang)

    def reindex(self, password: str, ui_lang: str, progress: gr.Progress = _PROGRESS) -> tuple[str, str, Any]:
        return self._guarded(lambda t: self._reindex(t, progress), password, ui_lang)

    def delete(
        self, article_id: str | None, password: str, ui_lang: str, progress: gr.Progress = _PROGRESS
    ) -> tuple[str, str, Any]:
        def run(t: UiText) -> str:
            retriever = self._retriever()
            rows = (
                {aid: (title, source) for aid, title, source in admin.deletable_articles(retriever)}
                if retriever
                else {}
            )
            if not article_id or article_id not in rows:
                return t.nothing_selected
            title, source = rows[article_id]
            refusal = admin.delete_source(self.settings, source)
            if refusal:
                return f"{t.rejected}: {escape_markdown(title)} — {t.reasons[refusal]}"
            return t.deleted.format(name=escape_markdown(title)) + "\n\n" + self._reindex(t, progress)

        return self._guarded(run, password, ui_lang)


def _turn(question: str, answer: Answer | None, messages: list[dict[str, Any]]) -> Turn:
    return {
        "question": question,
        "answer": answer.answer if answer else "",
        "citations": [dataclasses.asdict(c) for c in answer.citations] if answer else [],
        "backend": answer.backend if answer else "",
        "language": answer.language if answer else "",
        "failed": answer is None,
        "messages": messages,
    }


def _turn_at(turns: list[Turn], index: Any) -> Turn | None:
    """The turn whose assistant message sits at chat position `index`."""
    position = index[0] if isinstance(index, (list, tuple)) else index
    if not isinstance(position, int):
        return None
    offset = 0
    for turn in turns:
        size = len(turn["messages"])
        if offset <= position < offset + size:
            return turn if turn["messages"][position - offset]["role"] == "assistant" else None
        offset += size
    return None


def _set_lang_js(lang: str) -> str:
    return f"() => {{ document.documentElement.lang = '{lang}'; }}"


def build_app(settings: Settings, assistant: Assistant | None = None) -> tuple[gr.Blocks, ChatApp]:
    """The Blocks app (queued) and its handlers; launch it with `launch_options(settings)`."""
    # Uploads and cached files stay in our home, not in the system temp folder.
    os.environ["GRADIO_TEMP_DIR"] = str((settings.home / "gradio-tmp").resolve())
    app = ChatApp(settings, assistant)
    lang0 = settings.default_language if settings.default_language in UI_LANGUAGES else "da"
    t = ui_text(lang0)

    def lang_choices(tx: UiText) -> list[tuple[str, str]]:
        return [(tx.answer_auto, "auto"), *((tx.language_names[c], c) for c in UI_LANGUAGES)]

    with gr.Blocks(title=t.title, analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        turns = gr.State([])
        title = gr.Markdown(f"# {t.title}\n\n{t.intro}")
        with gr.Row():
            ui_lang = gr.Dropdown(
                choices=[(ui_text(c).language_names[c], c) for c in UI_LANGUAGES],
                value=lang0,
                label=t.ui_language,
                elem_id="ui-language",
            )
            answer_lang = gr.Dropdown(
                choices=lang_choices(t),
                value=settings.answer_language,
                label=t.answer_language,
                elem_id="answer-language",
            )
        with gr.Tabs():
            with gr.Tab(t.chat_tab, id="chat-tab") as chat_tab:
                chatbot = gr.Chatbot(
                    label=t.chatbot,
                    elem_id="chat",
                    height=520,
                    sanitize_html=True,
                    render_markdown=True,
                    latex_delimiters=[],
                    buttons=["copy"],
                    feedback_options=("Like", "Dislike"),
                )
                status = gr.Markdown("", elem_id="backend-status", latex_delimiters=[])
                with gr.Row():
                    question = gr.Textbox(
                        label=t.question,
                        placeholder=t.placeholder,
                        max_lines=4,
                        scale=5,
                        elem_id="question",
                    )
                    send = gr.Button(t.send, variant="primary", scale=1, elem_id="send")
                examples_title = gr.Markdown(f"**{t.examples}**")
                with gr.Row():
                    example_buttons = [
                        gr.Button(q, size="sm", variant="secondary", elem_classes=["example"])
                        for q in t.example_questions
                    ]
                with gr.Row():
                    comment = gr.Textbox(
                        label=t.comment, placeholder=t.comment_placeholder, scale=4, elem_id="comment"
                    )
                    clear = gr.Button(t.new_conversation, scale=1, elem_id="new-conversation")
                feedback_status = gr.Markdown("", elem_id="feedback-status")
                source_pick = gr.Dropdown(
                    choices=[], value=None, label=t.open_source, interactive=False, elem_id="source-pick"
                )
                article_view = gr.Markdown(t.article_placeholder, elem_id="article-view", latex_delimiters=[])

            with gr.Tab(t.admin_tab, id="admin-tab") as admin_tab:
                enabled = admin.admin_enabled(settings)
                admin_off = gr.Markdown(t.admin_off, visible=not enabled)
                with gr.Column(visible=enabled):
                    password = gr.Textbox(
                        label=t.admin_password,
                        type="password",
                        visible=bool(settings.admin_password),
                        elem_id="admin-password",
                    )
                    stats_title = gr.Markdown(f"### {t.stats}")
                    stats = gr.Markdown(app.stats(lang0) if enabled else "", elem_id="stats")
                    refresh = gr.Button(t.refresh, size="sm")
                    files = gr.Markdown(t.upload)
                    with gr.Row():
                        # A plain upload button: gr.File's drop zone nests its file list in a button
                        # (axe: nested-interactive) and labels it with an untranslated key.
                        upload = gr.UploadButton(
                            t.upload_button,
                            file_count="multiple",
                            file_types=ALLOWED_UPLOAD_TYPES,
                            type="filepath",
                            variant="primary",
                            elem_id="upload-button",
                        )
                        reindex = gr.Button(t.reindex_button, elem_id="reindex-button")
                    admin_result = gr.Markdown("", elem_id="admin-result")
                    delete_pick = gr.Dropdown(
                        choices=[], value=None, label=t.delete_label, elem_id="delete-pick"
                    )
                    delete = gr.Button(t.delete_button, variant="stop", elem_id="delete-button")

        chat_inputs = [question, turns, ui_lang, answer_lang]
        chat_outputs = [chatbot, turns, question, status, source_pick]
        chat_lane: dict[str, Any] = {"concurrency_limit": CHAT_CONCURRENCY, "concurrency_id": "chat"}
        question.submit(
            app.respond, chat_inputs, chat_outputs, api_name="chat", show_progress="hidden", **chat_lane
        )
        send.click(
            app.respond,
            chat_inputs,
            chat_outputs,
            api_visibility="private",
            show_progress="hidden",
            **chat_lane,
        )
        for button in example_buttons:
            button.click(
                app.respond,
                [button, turns, ui_lang, answer_lang],
                chat_outputs,
                api_visibility="private",
                show_progress="hidden",
                **chat_lane,
            )
        clear.click(
            app.new_conversation,
            None,
            [chatbot, turns, status, source_pick, feedback_status],
            api_visibility="private",
            queue=False,
        ).then(
            lambda lang: ui_text(lang).article_placeholder,
            ui_lang,
            article_view,
            api_visibility="private",
            queue=False,
        )
        chatbot.like(
            app.feedback, [turns, comment, ui_lang], [feedback_status, comment], api_visibility="private"
        )
        source_pick.change(
            app.open_article, [source_pick, turns, ui_lang], article_view, api_name="article", queue=False
        ).then(None, js=SCROLL_TO_PASSAGE)

        admin_lane: dict[str, Any] = {
            "concurrency_limit": 1,
            "concurrency_id": "admin",
            "api_visibility": "undocumented",
        }
        admin_outputs = [admin_result, stats, delete_pick]
        if enabled:
            upload.upload(
                app.upload, [upload, password, ui_lang], admin_outputs, api_name="upload", **admin_lane
            )
            reindex.click(app.reindex, [password, ui_lang], admin_outputs, api_name="reindex", **admin_lane)
            delete.click(
                app.delete, [delete_pick, password, ui_lang], admin_outputs, api_name="delete", **admin_lane
            )
            refresh.click(
                lambda lang: (app.stats(lang), app._article_choices()),
                ui_lang,
                [stats, delete_pick],
                api_name="stats",
                **admin_lane,
            )
            demo.load(app._article_choices, None, delete_pick, api_visibility="private", queue=False)

        def relabel(lang: str) -> list[Any]:
            tx = ui_text(lang)
            return [
                gr.update(value=f"# {tx.title}\n\n{tx.intro}"),
                gr.update(label=tx.ui_language),
                gr.update(label=tx.answer_language, choices=lang_choices(tx)),
                gr.update(label=tx.chat_tab),
                gr.update(label=tx.admin_tab),
                gr.update(label=tx.chatbot),
                gr.update(label=tx.question, placeholder=tx.placeholder),
                gr.update(value=tx.send),
                gr.update(value=f"**{tx.examples}**"),
                *(gr.update(value=q) for q in tx.example_questions),
                gr.update(label=tx.comment, placeholder=tx.comment_placeholder),
                gr.update(value=tx.new_conversation),
                gr.update(label=tx.open_source),
                gr.update(value=tx.article_placeholder),
                gr.update(value=tx.admin_off),
                gr.update(label=tx.admin_password),
                gr.update(value=f"### {tx.stats}"),
                gr.update(value=app.stats(lang) if enabled else ""),
                gr.update(value=tx.refresh),
                gr.update(value=tx.upload),
                gr.update(label=tx.upload_button),
                gr.update(value=tx.reindex_button),
                gr.update(label=tx.delete_label),
                gr.update(value=tx.delete_button),
            ]

        ui_lang.change(
            relabel,
            ui_lang,
            [
                title,
                ui_lang,
                answer_lang,
                chat_tab,
                admin_tab,
                chatbot,
                question,
                send,
                examples_title,
                *example_buttons,
                comment,
                clear,
                source_pick,
                article_view,
                admin_off,
                password,
                stats_title,
                stats,
                refresh,
                files,
                upload,
                reindex,
                delete_pick,
                delete,
            ],
            js="(lang) => { document.documentElement.lang = lang; return lang; }",
            api_visibility="private",
            queue=False,
        )
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CHAT_CONCURRENCY)
    return demo, app


def check_bind(settings: Settings) -> None:
    """Refuse to serve beyond this machine without a login."""
    if not admin.is_loopback(settings.host) and not (settings.auth_user and settings.auth_password):
        raise AuthError(
            f"refusing to serve on {settings.host} without a login: set auth_user and auth_password "
            "(COIASSIST_AUTH_USER, COIASSIST_AUTH_PASSWORD), or bind to 127.0.0.1"
        )


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `Blocks.launch`: local, private, bounded, no external assets."""
    lang = settings.default_language if settings.default_language in UI_LANGUAGES else "da"
    options: dict[str, Any] = {
        "server_name": settings.host,
        "server_port": settings.port,
        "share": False,
        "show_error": False,
        "max_file_size": f"{settings.max_upload_mb}mb",
        "footer_links": [],
        "run_history": False,
        "ssr_mode": False,
        "theme": THEME,
        "css": CSS,
        "js": _set_lang_js(lang),
        "app_kwargs": {"middleware": [Middleware(_SecurityHeaders)]},
        "quiet": True,
    }
    if settings.auth_user and settings.auth_password:
        options["auth"] = (settings.auth_user, settings.auth_password)
    return options


def serve(settings: Settings) -> None:
    """Serve the chat until interrupted (blocking)."""
    check_bind(settings)
    demo, app = build_app(settings)
    try:
        # Load the model and the index now, so the first question is not the slow one.
        app.assistant.retriever.embedder.embed_query("velfærd")
    except IndexEmptyError:
        log.warning("nothing is indexed yet; the chat will say how to index")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    # Gradio runs quiet (its banner mentions share links we never use); say where the chat is.
    try:
        demo.launch(**launch_options(settings), prevent_thread_lock=True)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise ConfigError(
            f"cannot serve on {host}:{settings.port} ({exc}); choose another --port or --host"
        ) from None
    print(f"coiassist: the chat is on http://{host}:{settings.port} (Ctrl+C stops it)", flush=True)
    demo.block_thread()
