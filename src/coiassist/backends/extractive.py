"""The offline answer backend: quotes the source sentences that best answer the question.

No model and no network, and deterministic, so it is the default, the fallback when an LLM
fails and the backend the tests and the demo use. Every sentence it writes is a verbatim source
sentence followed by its `[n]`; only the frame (lead-in, refusal) is its own, in the question's
language. Sources are untrusted text: sentences that carry markup or read as instructions to an
assistant are never quoted, so an article cannot make the answer link, embed or obey anything.
A bare URL in an ordinary sentence stays plain text (never a markdown link or image), so the chat
fetches nothing by itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from coiassist.analyzer import content_stems, normalize, tokenize
from coiassist.backends.base import GenerationRequest, Source
from coiassist.citations import StemSet, name_found, names_in
from coiassist.config import Settings
from coiassist.phrases import phrases_for
from coiassist.sentences import split_sentences

# Below this evidence (the idf-weighted share of the question's content stems found in the best
# sentence, see `score_sentences`) the backend refuses instead of answering. Calibrated on NorQuAD
# dev (389 nb questions) and da-qa dev (500 da questions), passages cut into ~700-character chunks:
# answerable = the chunk holding the answer plus the 4 best BM25 chunks of a 3,223-chunk pool;
# unanswerable = 5 random chunks of other articles. At 0.2, abstention precision/recall is
# 0.98/0.96 (nb) and 0.91/0.95 (da); 2.3% (nb) and 9.4% (da, machine-translated questions) of
# answerable questions are refused; the gold answer string is in 73% (nb) and 80% (da) of the
# answers given. When the unanswerable sources are instead the 5 best BM25 chunks of other
# articles (related-sounding), recall falls to 0.61 (nb) and 0.54 (da): lexical overlap cannot
# tell "about the same thing" from "answers it", so the refusal mainly catches off-topic retrieval.
ABSTAIN_THRESHOLD = 0.2

MAX_SENTENCES = 3
# A further sentence joins the answer only when it scores nearly as well as the best one.
FOLLOW_RATIO = 0.8
# How much a sentence that holds what the question asks for (a number, a name, a date) gains.
TYPE_BONUS = 0.15
MIN_WORDS = 4


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NUMBER_WORDS = _words(
    "en et ett ein eitt to tre fire fem seks syv sju otte åtte ni ti elleve tolv tretten fjorten "
    "femten seksten sytten atten nitten tyve tjue tjuge tredive tretti tredve fyrre førti halvtreds "
    "femti hundrede hundre tusind tusen million millioner millionar milliard milliarder milliardar "
    "dusin halvdelen halvparten procent prosent"
)
_MONTHS = _words(
    "januar februar marts mars april maj mai juni juli august september oktober november december desember"
)
_YEAR = re.compile(r"^(1[0-9]|20)\d\d$")

# What a question asks for, by its opening words (normalised, so "hvornår" and "når" alike).
_ASKS_NUMBER = re.compile(
    r"\b(hvor|kor) (mange|meget|mye|mykje|stor|store|lang|lange|høy|høg|høj|gammel|gamal|"
    r"mange prosent|mange procent|ofte|langt|tung|dyr)\b|\bhvilken (andel|pris)\b"
)
_ASKS_DATE = re.compile(
    r"\b(hvornår|når|kva tid|hvilket år|hvilket årstal|i hvilket år|kva år|hvilken dato|"
    r"hvilket århundrede|hvilket århundre)\b"
)
_ASKS_NAME = re.compile(r"\b(hvem|kven|hvilken person|hva heter|hvad hedder|kva heiter)\b")

# Sentences an attacker writes to steer an assistant; quoting them would relay the attack.
_INSTRUCTION = re.compile(
    r"\b(ignor\w*|glem\w*|disregard|forget|overse)\b.{0,60}\b(instru\w*|regl\w*|rules|prompt\w*|"
    r"tidligere|previous|above|ovenfor|ovenstående)"
    r"|\b(system ?prompt|systeminstru\w*|jailbreak|developer mode)\b"
    r"|\b(svar|svare|answer|respond|reply|output|skriv|write|print)\w* (kun|bare|berre|only)\b"
    r"|\b(reveal|afslør\w*|avslør\w*|vis|show) (your|din|dine|dit|ditt|dei|the) "
    r"(prompt|instru\w*|system\w*|hemmelig\w*|secret\w*)"
    r"|\b(you are|du er) (now|nu|nå|no) \b"
    r"|\b(as an ai|som en ai|som ein ai|language model|sprogmodel|språkmodell)\b"
)
# Markup that would render as a link, an image or HTML in the chat.
_MARKUP = re.compile(r"!?\[[^\]]*\]\([^)]*\)|<\s*/?\s*[a-zA-Z][^>]*>|\[[^\]]*\]:\s*\S")
_LEADING_JUNK = "-–—•*#> \t"
_QUOTES = {'"': '"', "«": "»", "“": "”", "'": "'", "„": "“"}
_TERMINAL = tuple(".!?…\"'»”)")


@dataclass(frozen=True)
class Candidate:
    """A source sentence scored for the question."""

    key: int
    text: str  # as it will be quoted
    score: float  # evidence in [0, 1 + TYPE_BONUS]
    coverage: float  # idf-weighted share of the question's content stems it contains
    order: tuple[int, int]  # (source position, sentence position), for stable ties


def _quotable(sentence: str) -> str:
    """The sentence as quoted: leading dashes, bullets and an unmatched opening quote removed."""
    text = " ".join(sentence.split()).lstrip(_LEADING_JUNK)
    if text[:1] in _QUOTES and _QUOTES[text[0]] not in text[1:]:
        text = text[1:].lstrip()
    return text


def _admissible(text: str) -> bool:
    words = text.split()
    if len(words) < MIN_WORDS:
        return False
    # A line without final punctuation is a title or caption fragment, not an answer.
    if not text.endswith(_TERMINAL) and len(words) < 12:
        return False
    return not (_MARKUP.search(text) or _INSTRUCTION.search(normalize(text)))


def _asks(question: str) -> str:
    q = " ".join(tokenize(question))
    if _ASKS_NUMBER.search(q):
        return "number"
    if _ASKS_DATE.search(q):
        return "date"
    if _ASKS_NAME.search(q):
        return "name"
    return ""


def _has(kind: str, text: str) -> bool:
    tokens = tokenize(text)
    if kind == "number":
        return any(t[0].isdigit() or t in _NUMBER_WORDS for t in tokens)
    if kind == "date":
        return any(_YEAR.match(t) or t in _MONTHS for t in tokens)
    if kind == "name":
        words = text.split()
        return any(w[:1].isupper() for w in words[1:])
    return False


def score_sentences(question: str, sources: Sequence[Source], lang: str) -> list[Candidate]:
    """Every quotable source sentence with its evidence for the question, best first.

    Only sources that contain a name of the question (when it has any) take part. Evidence is the
    share of the question's content stems a sentence contains, each stem weighted by its idf over
    the candidate sentences (a word every sentence shares proves little), plus TYPE_BONUS when the
    sentence holds what the question asks for.
    """
    query = list(dict.fromkeys(content_stems(question, lang)))
    if not query:
        return []
    # A source that has none of the names the question asks about ("Svindal") cannot answer it.
    names = names_in(question)
    seen: set[str] = set()
    pool: list[tuple[int, str, StemSet, tuple[int, int]]] = []
    for s_pos, source in enumerate(sources):
        source_tokens = set(tokenize(source.text))
        if names and not any(name_found(name, source_tokens) for name in names):
            continue
        for i, (start, end) in enumerate(split_sentences(source.text)):
            text = _quotable(source.text[start:end])
            key = normalize(text)
            if key in seen or not _admissible(text):
                continue
            seen.add(key)
            stems = StemSet(content_stems(text, source.lang or lang))
            pool.append((source.key, text, stems, (s_pos, i)))
    if not pool:
        return []
    n = len(pool)
    df = {q: sum(1 for _, _, stems, _ in pool if q in stems) for q in query}
    # Short stems ("ny", "år") say less than long ones, whatever their idf.
    idf = {q: math.log(1 + (n + 1) / (df[q] + 0.5)) * min(len(q), 6) / 6 for q in query}
    total = sum(idf.values())
    kind = _asks(question)
    candidates = []
    for source_key, text, stems, order in pool:
        coverage = sum(idf[q] for q in query if q in stems) / total
        bonus = TYPE_BONUS if kind and coverage > 0 and _has(kind, text) else 0.0
        candidates.append(Candidate(source_key, text, coverage + bonus, coverage, order))
    candidates.sort(key=lambda c: (-c.score, c.order))
    return candidates


def select_sentences(question: str, sources: Sequence[Source], lang: str) -> list[Candidate]:
    """The 1-3 sentences to quote, best first; empty when the evidence is below ABSTAIN_THRESHOLD."""
    ranked = score_sentences(question, sources, lang)
    if not ranked or ranked[0].coverage < ABSTAIN_THRESHOLD:
        return []
    best = ranked[0]
    chosen = [best]
    for cand in ranked[1:]:
        if len(chosen) == MAX_SENTENCES or cand.score < FOLLOW_RATIO * best.score:
            break
        if cand.coverage >= ABSTAIN_THRESHOLD:
            chosen.append(cand)
    return chosen


class ExtractiveBackend:
    """Answers by quoting; needs nothing, so `check()` is always empty."""

    name = "extractive"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self) -> list[str]:
        return []

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the lead-in, then one quoted sentence with its `[n]` at a time (or the refusal)."""
        phrases = phrases_for(request.language)
        chosen = select_sentences(request.question, request.sources, request.language)
        if not chosen:
            yield phrases.refusal
            return
        yield phrases.lead_in + "\n\n"
        for i, cand in enumerate(chosen):
            yield ("" if i == 0 else " ") + f"{cand.text} [{cand.key}]"
