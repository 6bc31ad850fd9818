"""Rendering for the web chat: answers, sources, articles and messages as escaped Markdown.

Pure functions, no Gradio: everything that comes from an article, a model or a user goes through
`escape_markdown` here before it reaches a Markdown component; our own markup (bold, quotes,
`<mark>` around a supporting sentence, links from article metadata) is added around it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from coiassist import admin
from coiassist.config import Settings
from coiassist.errors import (
    BackendError,
    CoiassistError,
    IndexCorruptError,
    IndexEmptyError,
    IndexLockedError,
    QuestionError,
)
from coiassist.indexer import IndexReport
from coiassist.models import Answer, Citation
from coiassist.sanitize import clean_question, escape_markdown, strip_markup
from coiassist.snapshot import ArticleRow
from coiassist.ui_text import UiText


def answer_markdown(text: str) -> str:
    """An answer as literal text: `[n]` markers stay visible, no markup survives."""
    return escape_markdown(strip_markup(text))


def _highlighted_lines(text: str, start: int, end: int) -> list[str]:
    """`text` escaped line by line, the [start, end) span wrapped in <mark> on each line it covers."""
    if not 0 <= start < end <= len(text):
        start = end = 0
    lines: list[str] = [""]
    for piece, marked in ((text[:start], False), (text[start:end], True), (text[end:], False)):
        for i, part in enumerate(piece.split("\n")):
            if i:
                lines.append("")
            escaped = escape_markdown(part)
            lines[-1] += f"<mark>{escaped}</mark>" if marked and part.strip() else escaped
    return lines


def _quote(lines: list[str]) -> str:
    return "\n".join(f"> {line}  " if line.strip() else ">" for line in lines)


def _link(url: str) -> str:
    """A web link from our own metadata (ingest allows only http/https); anything else shows nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    target = quote(url, safe=":/?#@!$&'*+,;=%~-._")
    return f"[{escape_markdown(parts.netloc)}]({target})"


def citation_markdown(c: Citation, t: UiText) -> str:
    facts = [f"**\\[{c.key}\\] {escape_markdown(c.title)}**"]
    if c.date:
        facts.append(escape_markdown(c.date))
    if c.lang:
        facts.append(t.language_names.get(c.lang, escape_markdown(c.lang)))
    link = _link(c.url) if c.url else ""
    if link:
        facts.append(link)
    return " · ".join(facts) + "\n\n" + _quote(_highlighted_lines(c.text, c.support_start, c.support_end))


def sources_markdown(citations: list[Citation], t: UiText) -> str:
    return "\n\n".join(citation_markdown(c, t) for c in citations)


def article_markdown(
    row: ArticleRow, chunks: list[tuple[str, int, int, str]], citation: Citation, t: UiText
) -> str:
    """The whole article, the cited passage as a quote with its supporting sentence marked."""
    text = _article_text(chunks)
    start, end = max(0, citation.start), min(len(text), citation.end)
    title, lang, date, url = row.title, row.lang, row.date, row.url
    facts = [t.language_names.get(lang, escape_markdown(lang))]
    if date:
        facts.insert(0, escape_markdown(date))
    if url and _link(url):
        facts.append(_link(url))
    before = "\n".join(_highlighted_lines(text[:start].rstrip(), 0, 0)).replace("\n", "  \n")
    passage = _quote(_highlighted_lines(text[start:end], citation.support_start, citation.support_end))
    after = "\n".join(_highlighted_lines(text[end:].lstrip(), 0, 0)).replace("\n", "  \n")
    head = f"### {escape_markdown(title)}\n\n{' · '.join(facts)}\n\n"
    return head + "\n\n".join(
        part for part in (before, f"**{t.cited_passage}**\n\n" + passage, after) if part
    )


def _article_text(chunks: list[tuple[str, int, int, str]]) -> str:
    """The article text rebuilt from its chunks' spans (overlaps taken once, gaps as a paragraph break)."""
    out = ""
    for _, start, end, text in sorted(chunks, key=lambda c: c[1]):
        if start > len(out):
            out += "\n" * (start - len(out))  # keeps every offset where the index put it
        if end > len(out):
            out += text[len(out) - start :]
    return out


def notes_markdown(answer: Answer) -> str:
    return "\n\n".join(f"*{escape_markdown(note)}*" for note in answer.notes)


def backend_markdown(answer: Answer, t: UiText) -> str:
    """The backend indicator: who answered, and why when it was a fallback."""
    said = (
        t.backend_extractive if answer.backend == "extractive" else t.backend_llm.format(name=answer.backend)
    )
    return "  \n".join([said, *(escape_markdown(n) for n in answer.notes)])


def stats_markdown(stats: dict[str, Any], t: UiText) -> str:
    langs = ", ".join(f"{t.language_names.get(k, k)}: {v}" for k, v in stats["languages"].items())
    vectors = (
        str(stats["vectors"])
        if stats["vectors"] is not None
        else t.stats_vectors_unusable.format(problem=escape_markdown(stats["vector_problem"]))
    )
    outdated = f"\n| ⚠ | {t.stats_outdated} |" if stats.get("outdated") else ""
    return (
        f"| | |\n|---|---|\n"
        f"| {t.stats_articles} | {stats['articles']} |\n"
        f"| {t.stats_languages} | {escape_markdown(langs)} |\n"
        f"| {t.stats_chunks} | {stats['chunks']} |\n"
        f"| {t.stats_vectors} | {vectors} |\n"
        f"| {t.stats_model} | {escape_markdown(str(stats['model']))} |\n"
        f"| {t.stats_last_indexed} | {escape_markdown(str(stats['last_indexed']))} |{outdated}"
    )


def error_message(exc: CoiassistError, t: UiText, settings: Settings, question: str) -> str:
    """A coiassist error as a chat message in the UI language (never a traceback)."""
    if isinstance(exc, IndexEmptyError):
        return t.empty_index
    if isinstance(exc, QuestionError):
        if len(clean_question(question)) > settings.max_question_chars:
            return t.question_too_long.format(limit=settings.max_question_chars)
        return t.question_empty
    if isinstance(exc, BackendError):
        return f"{t.backend_down}  \n*{escape_markdown(str(exc))}*"
    if isinstance(exc, IndexLockedError):
        return t.index_busy
    if isinstance(exc, IndexCorruptError):
        return t.index_broken
    return f"{t.generic_error}  \n*{escape_markdown(str(exc))}*"


def upload_lines(report: admin.UploadReport, t: UiText) -> list[str]:
    lines = []
    for ok in report.accepted:
        titles = ", ".join(escape_markdown(title) for title in ok.titles[:5])
        lines.append(f"- {t.accepted}: {escape_markdown(ok.name)} → {escape_markdown(ok.stored)} ({titles})")
    for bad in report.rejected:
        detail = f" ({escape_markdown(bad.detail)})" if bad.detail else ""
        lines.append(f"- {t.rejected}: {escape_markdown(bad.name)} — {t.reasons[bad.code]}{detail}")
    return lines


def reindex_markdown(report: IndexReport, t: UiText) -> str:
    text = t.reindexed.format(
        added=report.added,
        changed=report.changed,
        deleted=report.deleted,
        chunks=report.chunks_total,
        seconds=report.seconds,
    )
    skipped = [
        f"- {t.skipped_files}: {escape_markdown(e.path)} ({escape_markdown(e.reason)})" for e in report.errors
    ]
    return "\n".join([text, *skipped])
