"""Sentence spans for Danish and Norwegian text.

Chunking packs these spans and the answer side quotes them, so one splitter serves both.
It splits after . ! ? … (and a closing quote) when the next word starts a sentence, and at
line breaks; it does not split after common abbreviations ("bl.a.", "f.eks."), initials
("D.W. Griffith") or ordinal numbers ("27. februar").
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    [
        "bl.a",
        "f.eks",
        "fx",
        "ca",
        "nr",
        "kl",
        "mv",
        "osv",
        "dvs",
        "jf",
        "evt",
        "inkl",
        "ekskl",
        "mht",
        "vedr",
        "ang",
        "pga",
        "iflg",
        "ifølge",
        "hhv",
        "etc",
        "mr",
        "mrs",
        "dr",
        "prof",
        "st",
        "tlf",
        "ds",
        "dk",
        "m.m",
        "m.fl",
        "o.l",
        "o.a",
        "fr",
        "hr",
        "pkt",
        "stk",
        "kap",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "okt",
        "nov",
        "dec",
        "mill",
        "mia",
        "mio",
        "kr",
        "ift",
        "mfl",
        "bla",
        "ptv",
        "resp",
        "dept",
        "vs",
        "ibid",
        "eks",
        "f.o.m",
        "t.o.m",
        "o.s.v",
        "p.t",
        "s.u",
        "pr",
    ]
)
# A sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)")
_NEWLINE = re.compile(r"\n+")
# "J. Smith", "D.W. Griffith": initials, one letter each, do not end a sentence.
_INITIALS = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")


def _ends_sentence(text: str, dot: int, after: int) -> bool:
    """Is the punctuation at `dot` a real sentence end, given the next word at `after`?"""
    if after >= len(text):
        return True
    nxt = text[after]
    if text[dot] != ".":
        return True
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lower().strip("(\"'«“")
    if word in _ABBREVIATIONS or _INITIALS.fullmatch(word):
        return False
    # "27. februar", "3. plads": an ordinal is followed by a lower-case word.
    if word.isdigit() and not nxt.isupper():
        return False
    return nxt.isupper() or nxt.isdigit() or nxt in "\"'«“-–—(["


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences in `text`, trimmed, in order."""
    spans: list[tuple[int, int]] = []
    for start, end in _iter_blocks(text):
        cursor = start
        for match in _END.finditer(text, start, end):
            after = match.end()
            while after < end and text[after].isspace():
                after += 1
            # "1. Åbningstale": a list number is not a sentence of its own.
            if text[cursor : match.start()].strip().isdigit():
                continue
            if _ends_sentence(text, match.start(), after if after < end else len(text)):
                spans.append((cursor, match.end()))
                cursor = after
        if cursor < end:
            spans.append((cursor, end))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _iter_blocks(text: str) -> list[tuple[int, int]]:
    """Spans of the non-empty lines: a line break always ends a sentence (titles, list items)."""
    blocks = []
    pos = 0
    for match in _NEWLINE.finditer(text):
        if text[pos : match.start()].strip():
            blocks.append((pos, match.start()))
        pos = match.end()
    if text[pos:].strip():
        blocks.append((pos, len(text)))
    return blocks


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# "1. Åbningstale ved ..." or "2) Borgerdesign": a line that opens with its number in a list.
_NUMBERED_LINE = re.compile(r"^[ \t]*(\d{1,2})[.)][ \t]+(\S[^\n]*?)[ \t]*$", re.MULTILINE)
# Longer lines are paragraphs that happen to open with a number ("27. februar var ...").
MAX_ITEM_WORDS = 20


def numbered_items(text: str) -> dict[int, str]:
    """The lines of `text` that open with a list number, by number, without it: a listicle's
    sections ("4 vigtige takeaways": "1. Åbningstale ved ...") or a list's items. The first line
    of each number counts."""
    items: dict[int, str] = {}
    for match in _NUMBERED_LINE.finditer(text):
        if len(match.group(2).split()) <= MAX_ITEM_WORDS:
            items.setdefault(int(match.group(1)), match.group(2))
    return items
