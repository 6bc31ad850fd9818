"""Deterministic evaluation metrics: ranking quality, confidence intervals, paired tests, answers.

Pure functions over plain values, so every number in an eval report can be recomputed by hand.
Ranking metrics take relevance flags in rank order; when scores are given, tied items are
ordered pessimistically (non-relevant first) so a system never earns credit from a lucky tie.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20240229

_CITATION = re.compile(r"\[(\d+)\]")


def normalize_text(text: str) -> str:
    """Casefold, NFKC and collapse whitespace: the form in which gold strings are matched."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def contains_phrase(text: str, phrase: str, whole_words: bool = True) -> bool:
    """Whether `phrase` occurs in `text` after normalisation, by default not inside a longer word.

    The word-edge check stops the answer "fem" from matching "femten"; `whole_words=False` is
    for gold spans that are themselves parts of words (machine-translated SQuAD has "fransk"
    marked inside "franske").
    """
    needle = normalize_text(phrase)
    if not needle:
        return False
    if not whole_words:
        return needle in normalize_text(text)
    head = r"(?<!\w)" if needle[0].isalnum() else ""
    tail = r"(?!\w)" if needle[-1].isalnum() else ""
    return re.search(head + re.escape(needle) + tail, normalize_text(text)) is not None


def pessimistic_order(relevant: Sequence[bool], scores: Sequence[float]) -> list[int]:
    """Positions in rank order by descending score, non-relevant first within each tie.

    Retrieval returns tied items in an arbitrary (if deterministic) order; ranking metrics
    should not reward that order, so ties are resolved against the system.
    """
    if len(scores) != len(relevant):
        raise ValueError("scores and relevance flags differ in length")
    return sorted(range(len(relevant)), key=lambda i: (-scores[i], bool(relevant[i]), i))


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant item is among the first k, else 0.0."""
    return 1.0 if any(relevant[:k]) else 0.0


def mrr_at_k(relevant: Sequence[bool], k: int) -> float:
    """Reciprocal rank of the first relevant item within the first k, 0.0 when none is."""
    for rank, rel in enumerate(relevant[:k], start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(gains: Sequence[float], k: int, n_relevant: int) -> float:
    """Binary-gain nDCG@k; `n_relevant` is how many relevant items exist (sets the ideal ranking)."""
    if n_relevant <= 0:
        return 0.0
    dcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(gains[:k], start=1))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(n_relevant, k) + 1))
    return dcg / ideal


def distinct_in_order(items: Sequence[Hashable]) -> list[Hashable]:
    """Items with repeats removed, keeping the first occurrence: passages → ranked articles."""
    seen: set[Hashable] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def coverage_gains(covers: Sequence[frozenset[int]]) -> list[float]:
    """Gain 1 for each ranked item that covers a gold unit no earlier item covered, else 0.

    With several gold passages (an answer spanning two), a second chunk repeating the first
    gold phrase adds nothing; nDCG then rewards finding both parts early.
    """
    found: set[int] = set()
    gains = []
    for units in covers:
        new = units - found
        gains.append(1.0 if new else 0.0)
        found |= new
    return gains


@dataclass(frozen=True)
class RankingScores:
    """The four ranking metrics of one query at one level (passage or article)."""

    hit1: float
    hit5: float
    mrr10: float
    ndcg10: float


def score_ranking(covers: Sequence[frozenset[int]], n_units: int) -> RankingScores:
    """Score one ranking where each item lists the gold units (passages/articles) it covers."""
    relevant = [bool(c) for c in covers]
    return RankingScores(
        hit1=hit_at_k(relevant, 1),
        hit5=hit_at_k(relevant, 5),
        mrr10=mrr_at_k(relevant, 10),
        ndcg10=ndcg_at_k(coverage_gains(covers), 10, n_units),
    )


@dataclass(frozen=True)
class Estimate:
    """A mean with its bootstrap 95% confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 3) -> str:
        if self.n == 0 or math.isnan(self.mean):
            return "–"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_ci(
    values: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = 0.95,
) -> Estimate:
    """Mean and percentile bootstrap interval; the fixed seed makes reports reproducible."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    means = data[_resample_indices(data.size, resamples, seed)].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Estimate(float(data.mean()), float(low), float(high), int(data.size))


def bootstrap_ratio_ci(
    numerators: Sequence[float],
    denominators: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = 0.95,
) -> Estimate:
    """Σnum/Σden with a bootstrap interval over items, for precision/recall-style rates.

    Resamples whose denominator is 0 are left out of the interval.
    """
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if num.shape != den.shape:
        raise ValueError("numerators and denominators differ in length")
    if den.sum() == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    idx = _resample_indices(num.size, resamples, seed)
    sums_den = den[idx].sum(axis=1)
    keep = sums_den > 0
    ratios = num[idx].sum(axis=1)[keep] / sums_den[keep]
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return Estimate(float(num.sum() / den.sum()), float(low), float(high), int(den.sum()))


@dataclass(frozen=True)
class PairedComparison:
    """New run minus old run on the same items: the difference, its interval and a sign test."""

    diff: Estimate
    wins: int  # items where the new run scores higher
    losses: int
    ties: int
    p_sign: float  # exact two-sided sign test on the untied items (McNemar's exact test for 0/1 scores)

    @property
    def verdict(self) -> str:
        """better/worse only when the interval of the difference excludes 0."""
        if self.diff.n == 0:
            return "n/a"
        if self.diff.low > 0:
            return "better"
        if self.diff.high < 0:
            return "worse"
        return "no difference"


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided binomial test of wins vs losses at p=0.5."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_compare(
    old: Sequence[float],
    new: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> PairedComparison:
    """Paired bootstrap of mean(new − old) plus a sign test; items must be in the same order."""
    if len(old) != len(new):
        raise ValueError("paired runs must score the same items")
    a = np.asarray(old, dtype=float)
    b = np.asarray(new, dtype=float)
    delta = b - a
    wins = int((delta > 0).sum())
    losses = int((delta < 0).sum())
    return PairedComparison(
        diff=bootstrap_ci(delta.tolist(), resamples, seed),
        wins=wins,
        losses=losses,
        ties=int(delta.size) - wins - losses,
        p_sign=sign_test_p(wins, losses),
    )


# ---- answer metrics -------------------------------------------------------------------------


def key_fact_recall(answer: str, key_facts: Sequence[Sequence[str]]) -> float | None:
    """Share of key facts found in the answer (normalised containment); None without key facts.

    Each fact is a group of alternative strings, any of which counts (SQuAD lists variants).
    """
    if not key_facts:
        return None
    text = normalize_text(answer)
    found = sum(any(normalize_text(alt) in text for alt in fact) for fact in key_facts)
    return found / len(key_facts)


def cited_keys(answer: str) -> list[int]:
    """The numbers of every [n] marker in the answer, in order."""
    return [int(m) for m in _CITATION.findall(answer)]


def citations_valid(answer: str, citation_keys: Sequence[int]) -> bool:
    """Every [n] in the answer points at a returned citation (vacuously true without markers)."""
    known = set(citation_keys)
    return all(key in known for key in cited_keys(answer))


def supported_rate(supported: Sequence[bool]) -> float | None:
    """Share of checked answer sentences their citations support; None when nothing was checked."""
    if not supported:
        return None
    return sum(bool(s) for s in supported) / len(supported)


def language_family(lang: str) -> str:
    """Bokmål and Nynorsk both count as Norwegian for answer-language accuracy."""
    return "no" if lang in {"nb", "nn", "no"} else lang


def answer_frame(answer: str, quoted_sources: Sequence[str]) -> str:
    """The answer's own words: [n] markers and sentences quoted from the sources removed.

    The extractive backend quotes its sources, so their language says nothing about the
    answer's; what remains (intro, refusal, glue) is what must be in the question's language.
    """
    sources = [normalize_text(s) for s in quoted_sources]
    kept = []
    # A marker ends a quote even when the quoted line had no full stop (a heading, a caption).
    for sentence in re.split(r"(?<=[.!?:])\s+|\n+", _CITATION.sub("\n", answer)):
        norm = normalize_text(sentence).strip(" •-–*")
        if norm and not any(norm in source for source in sources):
            kept.append(sentence.strip())
    return " ".join(kept)


def answer_language_ok(
    expected: str,
    declared: str,
    frame: str,
    detect: Callable[[str], str],
    min_frame_words: int = 4,
) -> bool:
    """The declared answer language matches, and so does the detected frame when long enough.

    Short frames (a bullet list of quotes with no glue) are judged by the declared language
    only: language ID on two or three words is little better than a guess.
    """
    want = language_family(expected)
    if language_family(declared) != want:
        return False
    if len(frame.split()) < min_frame_words:
        return True
    return language_family(detect(frame)) == want
