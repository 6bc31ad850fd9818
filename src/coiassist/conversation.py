"""Follow-up questions: turning "Hvem talte der?" into a query that retrieval can use alone.

With an LLM backend the model rewrites the question (prompts/rewrite.*); the extractive
backend and any failed rewrite use the deterministic method here: a question that leans on
the previous turn gets that turn's key terms and names carried over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from coiassist.analyzer import content_stems, tokenize
from coiassist.citations import SENTENCE_OPENERS

# Words that point back at something said before (da, nb, nn).
_ANAPHORA = frozenset(
    [
        "der",
        "det",
        "den",
        "dette",
        "denne",
        "disse",
        "de",
        "dem",
        "han",
        "hun",
        "ham",
        "hende",
        "hans",
        "hendes",
        "deres",
        "dens",
        "dets",
        "dei",
        "dykk",
        "ho",
        "honom",
        "hennar",
        "hennes",
        "deira",
        "sin",
        "sitt",
        "sine",
        "slik",
        "sådan",
        "sådanne",
        "således",
        "også",
        "ogso",
        "dér",
        "her",
    ]
)
_OPENERS = re.compile(
    r"^\s*(og|men|så|hva med|hvad med|kva med|hvordan med|korleis med|hvorfor|kvifor|what about)\b",
    re.IGNORECASE,
)
# A name's words stand on one line: "Key note med Jocelyne Bourgon\nDen ny syntese ..." holds
# "Jocelyne Bourgon", not "Jocelyne Bourgon Den".
_NAME = re.compile(r"\b[A-ZÆØÅ][\wæøåÆØÅ-]+(?:[ \t]+[A-ZÆØÅ][\wæøåÆØÅ-]+)*")
_SHORT = 6  # words; shorter questions rarely stand alone
# Names of the previous answer carried into a follow-up: the first ones are what it is about; more
# would pull retrieval towards every place the answer happened to mention.
ANSWER_NAMES = 2
# Names carried in all: those of the conversation's subject first, then the last answer's.
TOPIC_NAMES = 4
# Earlier questions a follow-up's subject is looked for in, when each was a follow-up too.
TOPIC_TURNS = 4
_MARKER = re.compile(r"\[\d+(?:,\s*\d+)*\]")


def _last_user_index(history: Sequence[Mapping[str, object]]) -> int | None:
    """Position of the last user message with text, or None."""
    for i in range(len(history) - 1, -1, -1):
        if history[i].get("role") == "user" and isinstance(history[i].get("content"), str):
            return i
    return None


def last_user_turn(history: Sequence[Mapping[str, object]]) -> str:
    i = _last_user_index(history)
    return "" if i is None else str(history[i]["content"])


def is_follow_up(question: str, history: Sequence[Mapping[str, object]]) -> bool:
    """Does the question need the previous turn to be understood?"""
    if not last_user_turn(history):
        return False
    words = tokenize(question)
    return len(words) <= _SHORT or bool(_OPENERS.match(question)) or any(w in _ANAPHORA for w in words)


def _names(text: str) -> list[str]:
    names = []
    for match in _NAME.finditer(text):
        # The first word of a sentence, or after a colon ("Ifølge artiklerne: Relateret til ..."),
        # is capitalised anyway; keep it only when a name follows.
        before = text[: match.start()].rstrip(" \t")
        at_start = not before or before[-1] in SENTENCE_OPENERS or before[-1] == "\n"
        name = match.group(0)
        if at_start and " " not in name:
            continue
        names.append(name)
    return names


def _carried_names(
    question: str, history: Sequence[Mapping[str, object]], turns: int = TOPIC_TURNS
) -> list[str]:
    """The previous question's names and, when the question names nothing, the names the previous
    question leaned on itself and the first ANSWER_NAMES names of the previous answer ("det første
    af dem" is among them); at most TOPIC_NAMES, none the question repeats.

    Through the names a follow-up leaned on, the subject of a conversation lasts: "Hvad er
    Borgerdesign?", "Hvem står bag?", "Hvornår startede det?" asks about Borgerdesign, not only
    about whom the second answer named.
    """
    previous = last_user_turn(history)
    earlier = _before_last_user_turn(history)
    names = _names(previous)
    # Only a question that names nothing itself leans on what came before the previous question
    # and on what the answer named: "Hvor foregår Nevenra?" must not drift to another article
    # because the last answer mentioned Volda.
    if not _names(question):
        if turns > 1 and is_follow_up(previous, earlier):
            names += _carried_names(previous, earlier, turns - 1)
        answer = _names(_MARKER.sub(" ", _last_answer(history)))
        answered = [n for n in answer if n not in names and n not in previous]
        names += answered[:ANSWER_NAMES]
    carried: list[str] = []
    for name in names:
        if name not in question and name not in carried and len(carried) < TOPIC_NAMES:
            carried.append(name)
    return carried


def _before_last_user_turn(history: Sequence[Mapping[str, object]]) -> Sequence[Mapping[str, object]]:
    i = _last_user_index(history)
    return () if i is None else history[:i]


def _last_answer(history: Sequence[Mapping[str, object]]) -> str:
    for message in reversed(history):
        if message.get("role") == "assistant" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def rewrite_follow_up(question: str, history: Sequence[Mapping[str, object]], lang: str) -> str:
    """The question plus the names it leans on (`_carried_names`) and the previous question's
    content words it does not repeat."""
    previous = last_user_turn(history)
    if not previous:
        return question
    own = set(content_stems(question, lang))
    carried = _carried_names(question, history)
    seen = set(own)
    for word in tokenize(previous):
        stems = content_stems(word, lang)
        if stems and stems[0] not in seen and not any(word.lower() in n.lower() for n in carried):
            seen.add(stems[0])
            carried.append(word)
    return f"{question.strip()} ({' '.join(carried)})" if carried else question
