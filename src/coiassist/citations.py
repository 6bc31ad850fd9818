"""Checks that every answer sentence is backed by the passages its `[n]` markers cite.

Deterministic and offline, so the same answer always gets the same verdict: a sentence is
supported when enough of its content stems occur in the cited passages and every number and name
in it does too. This is exact for the extractive backend (it quotes) and a lexical proxy for LLMs
(see notes/quality.md §1: "lexical citation recall").
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from coiassist import sentences
from coiassist.analyzer import content_stems, spellings, tokenize
from coiassist.errors import ConfigError
from coiassist.models import SentenceCheck
from coiassist.phrases import is_frame_phrase

# Calibrated on the dev sets (889 questions of NorQuAD dev and da-qa dev, passages cut into
# ~700-character chunks): a real passage sentence cited to its own chunk scores 1.0 (all 889); cited
# to the top BM25 chunk of another article it scores a median of 0.07 (99th percentile 0.51) and
# passes 0.2% of the time; cited to a random chunk it never passes. A sentence spliced from 2/3
# of a real sentence and 1/3 of a foreign one scores a median of 0.69 and passes 9.8% at 0.7.
SUPPORT_THRESHOLD = 0.7

# Appended to a sentence the citations do not support (policy "flag"); brackets and a question
# mark read the same in every language and cannot be mistaken for a `[n]` marker.
FLAG = "[?]"

# A passage sentence must share at least this share of the answer sentence's stems to be shown
# as its support (notes/quality.md suggests 0.3 as the per-citation precision cut).
SPAN_MIN_SUPPORT = 0.3

# Stems that agree on their first letters count as the same word, so a Norwegian sentence is
# supported by Danish text ("innovasjon" ~ "innovation", "velferd" ~ "velfærd").
PREFIX_CHARS = 5
PREFIX_SHARE = 0.6
# The shortest stem that counts as found inside a longer compound.
COMPOUND_PART_CHARS = 5
# The longest ending an inflected common noun in a hyphenated name may add ("-ene", "-ets").
INFLECTION_CHARS = 3
# The shortest part of a compound name that the text writes apart ("Warszawa" + "pagt").
NAME_PART_CHARS = 4
# Loose matching (answer selection only, never the support check): compounds that share a long
# head ("løysingsgalleri" ~ "løsningsgalleri", nynorsk and Danish spellings of the same word).
TAIL_CHARS = 7

MARKER = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
# Markers (and flags) that follow a sentence's final punctuation belong to that sentence.
_TRAILER = re.compile(r"(?:[ \t]*(?:\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]|\[\?\]))+")
_MARKER_WITH_SPACE = re.compile(r"[ \t]*(\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])")
# A word that starts with a letter and not inside a token: the "A" of "2A-satellitten" or the "P"
# of "21P" is part of a code (checked as a number), not a name of its own.
_WORD = re.compile(r"(?<![^\W_])[^\W\d_][\w’'-]*")
_FOLD = str.maketrans({"æ": "e", "ø": "o", "å": "a"})
_SOFT = re.compile(r"([aeiouyæøå])([bdg])")
_HARD = {"b": "p", "d": "t", "g": "k"}
# What a word follows when it is capitalised as the start of a sentence, a clause after a colon
# or a quote, not as a name.
SENTENCE_OPENERS = frozenset(".!?:«»\"'“”‘’„‚-–—(")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,!?;:…])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (trimmed, ordered, disjoint); `[n]` markers after a full stop stay with it.

    The splitting itself is `coiassist.sentences` (shared with chunking); answers add markers
    like "… februar. [1] Den …", which would otherwise open the next sentence.
    """
    spans = sentences.split_sentences(text)
    merged: list[tuple[int, int]] = []
    for span_start, end in spans:
        start = span_start
        trailer = _TRAILER.match(text, start, end)
        if merged and trailer and trailer.end() > start and "\n" not in text[merged[-1][1] : start]:
            merged[-1] = (merged[-1][0], trailer.end())
            start = trailer.end()
            while start < end and text[start].isspace():
                start += 1
        if start < end:
            merged.append((start, end))
    return merged


def _keys_of(marker: str) -> list[int]:
    return [int(k) for k in re.findall(r"\d+", marker)]


def _clean(sentence: str) -> str:
    """The sentence without markers or flags, as the checker and the UI read it."""
    text = MARKER.sub("", sentence).replace(FLAG, "")
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    text: str  # cleaned
    keys: tuple[int, ...]


def _units(answer: str) -> list[_Unit]:
    units = []
    for start, end in split_sentences(answer):
        raw = answer[start:end]
        keys = tuple(dict.fromkeys(k for m in MARKER.findall(raw) for k in _keys_of(m)))
        text = _clean(raw)
        if text:
            units.append(_Unit(start, end, text, keys))
    return units


def parse_markers(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence without markers, cited keys in order) for every sentence of the answer."""
    return [(u.text, u.keys) for u in _units(answer)]


def strip_invalid_markers(answer: str, valid_keys: Collection[int]) -> str:
    """Remove citations of keys that point at no source; a marker left empty disappears."""
    valid = set(valid_keys)

    def keep(match: re.Match[str]) -> str:
        kept = [k for k in dict.fromkeys(_keys_of(match.group(1))) if k in valid]
        if not kept:
            return ""
        spacing = match.group(0)[: match.start(1) - match.start(0)]
        return spacing + "[" + ", ".join(map(str, kept)) + "]"

    return _MARKER_WITH_SPACE.sub(keep, answer)


def _fold(stem: str) -> str:
    """A spelling key shared by Danish and Norwegian: æ/ø/å, "-sjon" ~ "-tion", and the soft
    consonants Danish writes after a vowel ("åbne" ~ "åpne", "bog" ~ "bok", "tid" ~ "tid")."""
    folded = stem.translate(_FOLD).replace("sjon", "tion")
    return _SOFT.sub(lambda m: m.group(1) + _HARD[m.group(2)], folded)


class StemSet:
    """The stems of some text, matched exactly or as near spellings (numbers: exactly).

    A stem of COMPOUND_PART_CHARS letters or more is also found as the head or tail of a compound.
    Two stems are near when they share a prefix of at least PREFIX_CHARS letters that covers
    PREFIX_SHARE of the longer one: "innovasjon" ~ "innovation", but "journey" !~ "journalist".
    With `loose`, stems that end alike over TAIL_CHARS letters and PREFIX_SHARE of the longer one
    are near too; that finds more answers but would let the support check pass too much.
    """

    def __init__(self, stems: Iterable[str], loose: bool = False) -> None:
        self.loose = loose
        self.exact = {_fold(s) for s in stems}
        self._by_prefix: dict[str, list[str]] = {}
        for stem in sorted(self.exact):
            if len(stem) >= PREFIX_CHARS and not stem[0].isdigit():
                self._by_prefix.setdefault(stem[:PREFIX_CHARS], []).append(stem)

    def __contains__(self, stem: object) -> bool:
        if not isinstance(stem, str):
            return False
        folded = _fold(stem)
        if folded in self.exact:
            return True
        if any(_near(folded, other) for other in self._by_prefix.get(folded[:PREFIX_CHARS], ())):
            return True
        if len(folded) < COMPOUND_PART_CHARS or folded[0].isdigit():
            return False
        # A compound holds its parts: "rapport" is in "kvartalsrapport", "aksje" in "aksjekurs".
        if any(other.startswith(folded) or other.endswith(folded) for other in self.exact):
            return True
        return self.loose and any(_same_tail(folded, other) for other in self.exact)

    def spelt_alike(self, stem: str) -> bool:
        """Is a stem here within one edit of `stem` (two from six letters on)? Danish and Norwegian
        spell many a shared word apart ("projek" / "prosjekt"); looser than `in`, so only the
        refusal rules use it, for sources in the other language."""
        folded = _fold(stem)
        if len(folded) < 4 or folded[0].isdigit():
            return False
        most = 2 if len(folded) >= 6 else 1
        return any(
            abs(len(other) - len(folded)) <= most and _edits(folded, other, most) <= most
            for other in self.exact
        )

    def share_of(self, stems: Collection[str]) -> float:
        """Share of `stems` found here; a sentence with no content words is fully supported."""
        if not stems:
            return 1.0
        return sum(1 for s in stems if s in self) / len(stems)


def _near(a: str, b: str) -> bool:
    shared = len(os.path.commonprefix([a, b]))
    return shared >= PREFIX_CHARS and shared >= PREFIX_SHARE * max(len(a), len(b))


def _edits(a: str, b: str, most: int) -> int:
    """Levenshtein distance of `a` and `b`, or `most + 1` as soon as it must exceed `most`."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > most:
            return most + 1
        previous = current
    return previous[-1]


def _same_tail(a: str, b: str) -> bool:
    shared = len(os.path.commonprefix([a[::-1], b[::-1]]))
    return shared >= TAIL_CHARS and shared >= PREFIX_SHARE * max(len(a), len(b))


def _numbers(text: str) -> set[str]:
    # "1.000" and "1000" are the same number; "27." and "500+" are 27 and 500.
    return {re.sub(r"[.,]", "", t) for t in tokenize(text) if t[0].isdigit()}


def names_in(sentence: str) -> list[str]:
    """Capitalised words that are not the first word of the sentence or of a clause after a colon."""
    names = []
    for match in _WORD.finditer(sentence):
        before = sentence[: match.start()].rstrip()
        if not before or before[-1] in SENTENCE_OPENERS or not match.group()[0].isupper():
            continue
        names.append(match.group())
    return names


def name_found(name: str, text: str) -> bool:
    """Is every word of the name in `text` (same spelling key, a genitive -s, or a compound)?

    The lower-case part of a hyphenated name is an inflected common noun ("Riemann-hypotesen",
    "Basel-problemet" in a text that says "Riemann hypotese", "Basel problem"): it is found in a
    token that it extends by at most INFLECTION_CHARS letters. A compound name may be written
    apart (`_written_apart`). A one-word name may be the definite form of a word of the text
    ("Nærhedsreformen", `_definite`).
    """
    folded, capitalised, initials = _words_of(text)
    lone = len(tokenize(name)) == 1  # a one-word name may be a noun in its definite form
    for part in name.split("-"):
        common_noun = part[:1].islower()
        for word in tokenize(part):
            token = _fold(word)
            if any(_fold(w) in folded for w in spellings(word)) or (
                token.endswith("s") and token[:-1] in folded
            ):
                continue
            if part.isupper() and token in initials:
                continue  # "COI" in a text that says "Center for Offentlig Innovation"
            if len(token) >= 3 and any(t.startswith(token) for t in folded):
                continue
            if common_noun and any(_inflected(token, t) for t in folded):
                continue
            if not common_noun and _written_apart(token, capitalised, folded):
                continue
            if lone and any(_definite(token, t) for t in folded):
                continue
            return False
    return True


# Endings of a noun's definite form: "Nærhedsreformen" names the "nærhedsreform" of the text.
_DEFINITE_ENDINGS = ("en", "et", "n", "t", "ene", "ne", "erne", "ane", "a")
# The shortest stem that a one-word name may extend by a definite ending: shorter ones are often
# a first name or a word before a surname ("Jens" of "Jensen").
DEFINITE_STEM_CHARS = 8


def _definite(word: str, stem: str) -> bool:
    """Is `word` the definite form of `stem`, and not a surname in -sen ("Frederiksen")?"""
    ending = word[len(stem) :]
    return (
        len(stem) >= DEFINITE_STEM_CHARS
        and word.startswith(stem)
        and ending in _DEFINITE_ENDINGS
        and not (stem.endswith("s") and ending == "en")
    )


# Capitalised words in a row, with at most one short lower-case word between two of them.
_CAPITALISED_RUN = re.compile(r"[A-ZÆØÅ]\w+(?:\s+(?:[a-zæøå]{1,3}\s+)?[A-ZÆØÅ]\w+)+")


@lru_cache(maxsize=256)
def _words_of(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The folded tokens of `text`, those of its words that start with a capital, and the
    initials of each run of 2 to 5 capitalised words ("Center for Offentlig Innovation": "coi")."""
    tokens = frozenset(_fold(t) for t in tokenize(text))
    capitalised = frozenset(_fold(t) for word in text.split() if word[:1].isupper() for t in tokenize(word))
    initials = set()
    for run in _CAPITALISED_RUN.finditer(text):
        letters = [word[0] for word in run.group().split() if word[0].isupper()]
        for size in range(2, 6):
            for start in range(len(letters) - size + 1):
                initials.add(_fold("".join(letters[start : start + size]).lower()))
    return tokens, capitalised, frozenset(initials)


def _written_apart(word: str, names: frozenset[str], tokens: frozenset[str]) -> bool:
    """Is the compound name `word` a capitalised word of the text and a (perhaps inflected) other?

    "Warszawapagtens" in a text that says "Warszawa pagt", "Guisehus" in one that says "hus Guise";
    not "Vestbanen" in one that says "vest for" and "banen".
    """
    for cut in range(NAME_PART_CHARS, len(word) - 2):
        head, tail = word[:cut], word[cut:]
        if head in names and any(tail == t or _inflected(tail, t, NAME_PART_CHARS) for t in tokens):
            return True
    return False


def _inflected(word: str, stem: str, min_stem: int = COMPOUND_PART_CHARS) -> bool:
    """Is `word` `stem` plus an ending ("hypotesen" of "hypotese", "problemet" of "problem")?"""
    ending = len(word) - len(stem)
    return len(stem) >= min_stem and 0 < ending <= INFLECTION_CHARS and word.startswith(stem)


def missing_facts(sentence: str, cited_text: str) -> tuple[str, ...]:
    """Numbers and names of `sentence` that the cited text does not contain."""
    cited_numbers = _numbers(cited_text)
    missing = [n for n in sorted(_numbers(sentence)) if n not in cited_numbers]
    missing += [n for n in dict.fromkeys(names_in(sentence)) if not name_found(n, cited_text)]
    return tuple(missing)


def sentence_support(sentence: str, cited_text: str, lang: str) -> float:
    """Share of the sentence's content stems (distinct) found in the cited text, in [0, 1]."""
    stems = set(content_stems(sentence, lang))
    return StemSet(content_stems(cited_text, lang, joined=True)).share_of(stems)


def check_answer(
    answer: str, passages: Mapping[int, str], lang: str, threshold: float = SUPPORT_THRESHOLD
) -> tuple[SentenceCheck, ...]:
    """One verdict per answer sentence; uncited sentences fail unless they are frame phrases."""
    stem_sets: dict[int, StemSet] = {}
    checks = []
    for unit in _units(answer):
        if is_frame_phrase(unit.text):
            checks.append(SentenceCheck(unit.text, (), 1.0, True))
            continue
        cited = [k for k in unit.keys if k in passages]
        if not cited:
            checks.append(SentenceCheck(unit.text, unit.keys, 0.0, False))
            continue
        for key in cited:
            if key not in stem_sets:
                stem_sets[key] = StemSet(content_stems(passages[key], lang, joined=True))
        stems = set(content_stems(unit.text, lang))
        found = sum(1 for s in stems if any(s in stem_sets[k] for k in cited))
        support = found / len(stems) if stems else 1.0
        missing = missing_facts(unit.text, "\n".join(passages[k] for k in cited))
        supported = support >= threshold and not missing
        checks.append(SentenceCheck(unit.text, unit.keys, support, supported, missing))
    return tuple(checks)


def apply_policy(answer: str, checks: Iterable[SentenceCheck], policy: str) -> str:
    """Drop unsupported sentences, or flag them with FLAG; "" when nothing supported is left.

    `checks` must come from `check_answer` on this same answer.
    """
    if policy not in ("drop", "flag"):
        raise ConfigError(f"unsupported_sentences is {policy!r}; choose drop or flag")
    units = _units(answer)
    checks = list(checks)
    if [u.text for u in units] != [c.text for c in checks]:
        raise ValueError("the checks were not made for this answer")
    if not any(c.supported and not is_frame_phrase(c.text) for c in checks):
        return ""
    out: list[str] = []
    pos = 0
    for unit, check in zip(units, checks, strict=True):
        if check.supported:
            continue
        out.append(answer[pos : unit.end] if policy == "flag" else answer[pos : unit.start])
        if policy == "flag":
            out.append(" " + FLAG)
            pos = unit.end
        else:
            pos = unit.end
            while pos < len(answer) and answer[pos] in " \t":
                pos += 1
    out.append(answer[pos:])
    lines = [line.rstrip() for line in "".join(out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def support_span(sentence: str, passage_text: str, lang: str) -> tuple[int, int] | None:
    """The span in `passage_text` that best supports `sentence` (for highlighting), or None."""
    clean = _clean(sentence)
    words = clean.split()
    if not words:
        return None
    verbatim = re.search(r"\s+".join(map(re.escape, words)), passage_text)
    if verbatim:
        return verbatim.span()
    stems = set(content_stems(clean, lang))
    if not stems:
        return None
    best: tuple[float, int, int] | None = None
    for start, end in sentences.split_sentences(passage_text):
        share = StemSet(content_stems(passage_text[start:end], lang, joined=True)).share_of(stems)
        if share >= SPAN_MIN_SUPPORT and (best is None or share > best[0]):
            best = (share, start, end)
    return None if best is None else (best[1], best[2])
