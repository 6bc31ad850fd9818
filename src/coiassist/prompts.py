"""Chat prompts for the LLM backends, rendered from the files in `prompts/` with named fields.

A prompt file holds the system message, a line `=== user ===`, then the user message. Sources
go into the user message as fenced data, never into the system message, so text inside an
article cannot pose as our instructions (OWASP LLM01).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from coiassist.backends.base import Source
from coiassist.errors import ConfigError
from coiassist.phrases import phrases_for

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
LANGUAGES = ("da", "nb", "nn")
USER_MARKER = "=== user ==="

# The exact reply the answer prompt asks for when the sources do not answer; code detects it.
# It is the extractive backend's refusal too, so every backend refuses in the same words.
NO_ANSWER = {lang: phrases_for(lang).refusal for lang in LANGUAGES}

# Speaker names in the conversation the rewrite prompt shows the model.
SPEAKERS = {
    "da": {"user": "Bruger", "assistant": "Assistent"},
    "nb": {"user": "Bruker", "assistant": "Assistent"},
    "nn": {"user": "Brukar", "assistant": "Assistent"},
}

# Fields each purpose's file must use, no more and no fewer.
FIELDS = {
    "answer": frozenset({"keys", "no_answer", "sources", "question"}),
    "rewrite": frozenset({"conversation", "question"}),
}

MAX_HISTORY_MESSAGES = 6  # three exchanges: enough context for a follow-up, bounded cost
MAX_HISTORY_CHARS = 2000  # per message; a long earlier answer is cut

_FENCE = re.compile(r"<(/?)(source)", re.IGNORECASE)
_CITATION = re.compile(r"\s*\[\d+\]")


def _check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ConfigError(f"no prompt in language {lang!r}; known: {', '.join(LANGUAGES)}")


@cache
def load_prompt(purpose: str, lang: str) -> str:
    """The text of `prompts/{purpose}.{lang}.txt`."""
    if purpose not in FIELDS:
        raise ConfigError(f"no prompt for {purpose!r}; known: {', '.join(FIELDS)}")
    _check_language(lang)
    path = PROMPTS_DIR / f"{purpose}.{lang}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read prompt file {path}: {exc.strerror}") from None


def template_fields(template: str) -> set[str]:
    """The named fields a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def render_prompt(purpose: str, lang: str, fields: Mapping[str, str]) -> tuple[str, str]:
    """(system message, user message) of a prompt; the fields must match the file's exactly."""
    template = load_prompt(purpose, lang)
    used = template_fields(template)
    if used != set(fields):
        raise ConfigError(
            f"prompt {purpose}.{lang}.txt uses fields {sorted(used)} but the code supplies {sorted(fields)}"
        )
    system, marker, user = template.partition("\n" + USER_MARKER + "\n")
    if not marker:
        raise ConfigError(f"prompt {purpose}.{lang}.txt lacks the line {USER_MARKER!r}")
    return system.strip().format_map(fields), user.strip().format_map(fields)


def neutralize(text: str) -> str:
    """Text with the source fence markers defused, so a source cannot close its own fence."""
    return _FENCE.sub(lambda m: "‹" + m.group(1) + m.group(2), text)


def format_source(source: Source) -> str:
    """One source fenced as data: `<source id="1" title="...">text</source>`."""
    title = " ".join(neutralize(source.title).replace('"', "'").split())
    return f'<source id="{source.key}" title="{title}">\n{neutralize(source.text).strip()}\n</source>'


def format_sources(sources: Sequence[Source]) -> str:
    return "\n\n".join(format_source(source) for source in sources)


def clean_history(history: Sequence[Mapping[str, object]]) -> list[dict[str, str]]:
    """The last text turns of a chat, citation markers removed from answers (their keys are stale)."""
    turns = []
    for message in history:
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant") or not isinstance(content, str) or not content.strip():
            continue
        if role == "assistant":
            content = _CITATION.sub("", content)
        turns.append({"role": str(role), "content": content.strip()[:MAX_HISTORY_CHARS]})
    return turns[-MAX_HISTORY_MESSAGES:]


def render_answer_messages(
    question: str, language: str, sources: Sequence[Source], history: Sequence[Mapping[str, object]] = ()
) -> list[dict[str, str]]:
    """System rules, the recent conversation, then the fenced sources with the question."""
    _check_language(language)
    keys = ", ".join(f"[{source.key}]" for source in sources)
    system, user = render_prompt(
        "answer",
        language,
        {
            "keys": keys,
            "no_answer": NO_ANSWER[language],
            "sources": format_sources(sources),
            "question": question.strip(),
        },
    )
    return [{"role": "system", "content": system}, *clean_history(history), {"role": "user", "content": user}]


def render_rewrite_messages(
    question: str, language: str, history: Sequence[Mapping[str, object]]
) -> list[dict[str, str]]:
    """Messages that ask for the follow-up `question` as one standalone question."""
    _check_language(language)
    speakers = SPEAKERS[language]
    conversation = "\n".join(
        f"{speakers[turn['role']]}: {' '.join(turn['content'].split())}" for turn in clean_history(history)
    )
    system, user = render_prompt(
        "rewrite", language, {"conversation": conversation, "question": question.strip()}
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def clean_rewrite(output: str, question: str) -> str:
    """The standalone question from a rewrite reply; the original question when the reply is unusable."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return question
    text = lines[0]
    # Models like to echo a label ("Selvstændigt spørgsmål: ...") or quote the question.
    label, colon, rest = text.partition(":")
    if colon and rest.strip() and len(label.split()) <= 3 and "?" not in label:
        text = rest.strip()
    text = text.strip("\"'«»“”„ ")
    if not text or len(text) > 3 * len(question) + 200:
        return question
    return text


def is_no_answer(text: str) -> bool:
    """True when an answer is (or begins with) the fixed reply for sources that do not answer."""
    normalized = " ".join(_CITATION.sub("", text).split()).casefold()
    return any(normalized.startswith(phrase.casefold().rstrip(".")) for phrase in NO_ANSWER.values())
