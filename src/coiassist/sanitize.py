"""Untrusted text made harmless: article text and model output never become live markup.

Two layers, used by the assistant (what an answer may contain) and the UI (how text is shown):
`strip_markup` removes images, links, HTML tags and control characters from text that will be
shown as an answer; `escape_markdown` makes any text render literally in Gradio's Markdown.
"""

from __future__ import annotations

import re
import unicodedata

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^)(]|\([^)]*\))*\)")
_REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!?][^>]*>")
# Control characters, and lone surrogates (JSON may carry "\ud800"; no encoder accepts them).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Every character Markdown or HTML could act on.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&=^])")
# The colon of "scheme://", so a bare URL in an article never becomes a live link.
_SCHEME_COLON = re.compile(r"(?<=[A-Za-z0-9]):(?=//)")


def clean_question(text: str) -> str:
    """A question as typed, minus control characters and odd Unicode forms."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()


def strip_markup(text: str) -> str:
    """Text without markdown images, link targets, reference definitions or HTML tags.

    `[n]` citation markers are kept: they are not links (no parentheses follow).
    """
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_DEF.sub("", text)
    text = _TAG.sub("", text)
    return _CONTROL.sub("", text)


def escape_markdown(text: str) -> str:
    """Render `text` literally in a Markdown component: no markup, no HTML, no links."""
    escaped = _SCHEME_COLON.sub(r"\\:", _MD_SPECIAL.sub(r"\\\1", text))
    return escaped.replace("\n", "  \n")
