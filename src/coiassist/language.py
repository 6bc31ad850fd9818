"""Tell Danish, Norwegian Bokmål and Nynorsk apart, offline.

lingua (its models ship in the wheel) does the statistics. Alone it confuses Bokmål and Nynorsk on
about one sentence in twelve, and Danish and Bokmål on short sentences. Words that exist in only some
of the three written standards (hvad/hva/kva, af/av, ikke/ikkje, jeg/eg) settle most of those cases,
and they are exactly the words short chat questions start with, so each one found multiplies the
odds of its languages by e. Measured on /work/shared/data/ud-docs-*.jsonl (tests/test_language.py):
every document right, and about 95 % of sentences against 93 % for lingua alone. Pairs of
frequent words spelt differently in Danish and Norwegian (mod/mot, bag/bak, klub/klubb, været/vært)
settle more short questions: with the other language as fallback, 0.889 of the NorQuAD dev
questions (0.871 before) and 0.902 of SQuAD-da's come out right; most of the rest read the same in
both languages ("Hvem er Horst Seehofer?").

English and Swedish are in the detector only as distractors: text that looks like them has no
Danish/Norwegian verdict, so callers get their fallback instead of a coin toss.
"""

from __future__ import annotations

import math
import re
from functools import cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

LANGUAGES = ("da", "nb", "nn")

_LINGUA_CODES = {
    Language.DANISH: "da",
    Language.BOKMAL: "nb",
    Language.NYNORSK: "nn",
    Language.SWEDISH: "sv",
    Language.ENGLISH: "en",
}

# lingua's speed is linear in the text; a few pages decide a language as well as a whole book.
_MAX_CHARS = 10_000
# Fewer words than this and no marker word: lingua's guesses are near chance (58-84 % on word pairs).
_MIN_WORDS = 3
# Below this share for da+nb+nn together the text is more English or Swedish than Scandinavian.
_MIN_SCANDINAVIAN = 0.5
# A question's language is taken from the question only when the winner has at least this posterior.
_QUESTION_CONFIDENCE = 0.6

# Below this posterior the question rules out the previous turn's language.
_RULED_OUT = 0.1

_WORD = re.compile(r"[^\W\d_]+")


def _markers() -> dict[str, frozenset[str]]:
    """Frequent words and the written standards they belong to (only words missing from at least one)."""
    groups = {
        "da": "af mig dig sig hvad hvornår nu efter blev gennem igennem ud op hende bog bøger sådan "
        "nogle noget nogen tilbage spørgsmål måske endnu altid aldrig købe jer vores fik gik tog "
        "mod bag næste uge guld klub mellem igen blandt penge selskab hjælp hjælpe sidste syv otte "
        "kvinde mand lidt arbejde bruge bruger lave kende vide været blevet bliver blive siger sagde "
        "vandt deltog regeringen anden andet",
        "nb nn": "å meg deg seg av etter gjennom ut opp tilbake kanskje alltid aldri fikk gikk tok spørsmål "
        "mot bak neste uke gull klubb mellom igjen blant penger selskap hjelp hjelpe enn siste sju åtte "
        "kvinne mann litt arbeid bruke bruker lage kjenne vite blir bli sa vant deltok regjeringen",
        "nb": "hva ble noe noen mye nå hvis selv mer vært sier annen annet",
        "da nb": "jeg ikke hvem hvorfor hvor hvordan de hun være et en fra",
        "nn": "eg ikkje kva korleis kvifor kven kvar frå berre dei vere hjå mykje noko nokon sjølv meir "
        "eit ein ho vart gjere seier kjem heile då òg no",
    }
    table: dict[str, frozenset[str]] = {}
    for langs, words in groups.items():
        for word in words.split():
            table[word] = frozenset(langs.split())
    return table


_MARKERS = _markers()


@cache
def _detector() -> LanguageDetector:
    """Built once: high-accuracy mode takes ~1 s and ~170 MB, worth 4 points of sentence accuracy."""
    return LanguageDetectorBuilder.from_languages(*_LINGUA_CODES).with_preloaded_language_models().build()


def language_posterior(text: str) -> dict[str, float] | None:
    """Probability of da, nb and nn for `text`, or None when the text is too short or not Scandinavian."""
    sample = text[:_MAX_CHARS]
    words = [w.lower() for w in _WORD.findall(sample)]
    marks = {lang: 0 for lang in LANGUAGES}
    for word in words:
        for lang in _MARKERS.get(word, ()):
            marks[lang] += 1
    has_marker = any(marks.values())
    if len(words) < _MIN_WORDS and not has_marker:
        return None
    confidence = {
        _LINGUA_CODES[c.language]: c.value for c in _detector().compute_language_confidence_values(sample)
    }
    if sum(confidence.get(lang, 0.0) for lang in LANGUAGES) < _MIN_SCANDINAVIAN and not has_marker:
        return None
    # The small floor keeps a marker word able to overrule a confident but wrong lingua verdict.
    logits = {lang: math.log(confidence.get(lang, 0.0) + 1e-3) + marks[lang] for lang in LANGUAGES}
    top = max(logits.values())
    weights = {lang: math.exp(logit - top) for lang, logit in logits.items()}
    total = sum(weights.values())
    return {lang: weight / total for lang, weight in weights.items()}


def detect_language(text: str, fallback: str = "da") -> str:
    """da, nb or nn for a text; `fallback` when it is too short or looks like another language."""
    posterior = language_posterior(text)
    if posterior is None:
        return fallback
    return max(posterior, key=posterior.__getitem__)


def detect_question_language(question: str, previous: str | None, fallback: str) -> str:
    """The language of a chat question: its own when clear, else the previous turn's, else `fallback`.

    A question that is clearly Norwegian but unclear between Bokmål and Nynorsk keeps a Norwegian
    previous turn's standard, and is Bokmål otherwise.
    """
    posterior = language_posterior(question)
    earlier = previous if previous in LANGUAGES else fallback
    if posterior is None:
        return earlier
    best = max(posterior, key=posterior.__getitem__)
    if posterior[best] >= _QUESTION_CONFIDENCE:
        return best
    # Clearly Norwegian but unclear which standard ("Når var studiebesøket?"): that is decided
    # before ruling Danish out, or lingua's lean on three words would make it Nynorsk.
    norwegian = posterior["nb"] + posterior["nn"]
    if norwegian >= _QUESTION_CONFIDENCE:
        return earlier if earlier in ("nb", "nn") else "nb"
    # A question may be unclear and still rule a language out ("Hvem ..." is never Nynorsk).
    if posterior[earlier] < _RULED_OUT:
        return best
    return earlier
