"""Compare analyzer variants and BM25 parameters on the dev question sets; print a table and exit.

One index holds every dev passage (NorQuAD validation, SQuAD-da dev) and every UD document
(da, nb, nn) as distractors; each question is searched against all of it. Articles are
`title + "\n" + text`. "passage" indexes whole articles; "chunk" splits them into overlapping
windows of whole sentences (~130 words, ~25 words of overlap, close to 200 model tokens with 40
of overlap), each with the title in front as the indexer does, and ranks an article by its best
chunk. Metrics count distinct articles in rank order.

Usage: .venv/bin/python bench/tune_lexical.py [--data /work/shared/data] [--grid] [--timing [N ...]]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from coiassist.analyzer import (
    NGRAM_PREFIX,
    NGRAM_WEIGHT,
    AnalyzerConfig,
    analyze_index,
    analyze_query,
    index_terms,
    query_terms,
)
from coiassist.lexical import BM25_B, BM25_K1, LexicalIndex

CHUNK_WORDS = 130
OVERLAP_WORDS = 25
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Question:
    text: str
    lang: str
    article_id: str


@dataclass(frozen=True)
class Unit:
    """What gets indexed: a whole article or one chunk of it."""

    article_id: str
    text: str
    lang: str
    title: str = ""


def load_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_data(data: Path) -> tuple[list[Unit], dict[str, list[Question]]]:
    articles = []
    for name in ("norquad-dev-docs", "da-qa-dev-docs", "ud-docs-da", "ud-docs-nb", "ud-docs-nn"):
        for row in load_jsonl(data / f"{name}.jsonl"):
            articles.append(Unit(row["id"], row["title"] + "\n" + row["text"], row["lang"], row["title"]))
    sets = {}
    for name, path in (("NorQuAD", "norquad-dev"), ("SQuAD-da", "da-qa-dev")):
        sets[name] = [
            Question(r["question"], r["lang"], r["context_id"]) for r in load_jsonl(data / f"{path}.jsonl")
        ]
    return articles, sets


def chunk(article: Unit) -> list[Unit]:
    """Windows of whole sentences of about CHUNK_WORDS words, repeating the last ~OVERLAP_WORDS.

    Each chunk is indexed with the article's title in front, as the indexer does.
    """
    body = article.text.removeprefix(article.title + "\n")
    sentences = [s for s in _SENTENCE_END.split(body) if s.strip()]
    chunks: list[Unit] = []
    current: list[str] = []

    def emit() -> None:
        chunks.append(replace(article, text=article.title + "\n" + " ".join(current)))

    for sentence in sentences:
        if current and sum(len(s.split()) for s in current) + len(sentence.split()) > CHUNK_WORDS:
            emit()
            overlap: list[str] = []
            while (
                current and sum(len(s.split()) for s in overlap) + len(current[-1].split()) <= OVERLAP_WORDS
            ):
                overlap.insert(0, current.pop())
            current = overlap
        current.append(sentence)
    if current:
        emit()
    return chunks


class BM25Params(NamedTuple):
    k1: float = BM25_K1
    b: float = BM25_B


@dataclass(frozen=True)
class Variant:
    name: str
    config: AnalyzerConfig
    query_lang: bool = True  # False: the query's language is unknown (lang=None)
    decompound: bool = False  # add corpus-vocabulary compound parts to the index terms
    fuse_ngrams: bool = False  # words and n-grams as two BM25 indexes fused by RRF
    ngram_weight: float = NGRAM_WEIGHT  # of query n-grams beside whole stems, in one index


def decompound(terms: list[list[str]]) -> list[list[str]]:
    """Add the longest known tail (and its head) of each long term, split against the vocabulary."""
    counts: dict[str, int] = {}
    for doc in terms:
        for t in doc:
            if not t.startswith(NGRAM_PREFIX):
                counts[t] = counts.get(t, 0) + 1
    vocab = {t for t, c in counts.items() if c >= 2 and len(t) >= 4}
    parts: dict[str, tuple[str, ...]] = {}
    for term in counts:
        if len(term) < 8 or term[0].isdigit():
            continue
        for i in range(3, len(term) - 3):
            tail = term[i:]
            if tail in vocab:
                head = term[:i]
                heads = [h for h in (head, head[:-1] if head[-1] in "se" else "") if h in vocab]
                parts[term] = (tail, *heads[:1])
                break
    return [doc + [p for t in doc for p in parts.get(t, ())] for doc in terms]


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, pos in enumerate(ranking):
            fused[pos] = fused.get(pos, 0.0) + 1.0 / (k + rank + 1)
    return fused


def top_positions(scores: np.ndarray | None, k: int) -> list[int]:
    if scores is None:
        return []
    k = min(k, scores.size)
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")] if scores[i] > 0]


def evaluate(
    units: list[Unit],
    questions: dict[str, list[Question]],
    variant: Variant,
    bm25: BM25Params | None = None,
) -> dict[str, tuple[float, float, float]]:
    """(hit@1, hit@5, MRR@10) over distinct articles, per question set."""
    terms = analyze_index(((u.text, u.lang) for u in units), variant.config)
    if variant.decompound:
        terms = decompound(terms)
    ids = [str(i) for i in range(len(units))]
    params = bm25 or BM25Params()
    searchers: list[Callable[[list[str]], np.ndarray | None]]
    if variant.fuse_ngrams:
        words = LexicalIndex.build(
            ids, [[t for t in d if not t.startswith(NGRAM_PREFIX)] for d in terms], **params._asdict()
        )
        grams = LexicalIndex.build(
            ids, [[t for t in d if t.startswith(NGRAM_PREFIX)] for d in terms], **params._asdict()
        )
        searchers = [
            lambda q: words.scores([t for t in q if not t.startswith(NGRAM_PREFIX)]),
            lambda q: grams.scores([t for t in q if t.startswith(NGRAM_PREFIX)]),
        ]
    else:
        index = LexicalIndex.build(ids, terms, **params._asdict())
        searchers = [lambda q: index.scores(q, ngram_weight=variant.ngram_weight)]
    out = {}
    for set_name, qs in questions.items():
        qterms = analyze_query(((q.text, q.lang if variant.query_lang else None) for q in qs), variant.config)
        hit1 = hit5 = mrr = 0.0
        for q, qt in zip(qs, qterms, strict=True):
            rankings = [top_positions(search(qt), 200) for search in searchers]
            if len(rankings) > 1:
                fused = rrf(rankings)
                ranking = sorted(fused, key=lambda p: -fused[p])
            else:
                ranking = rankings[0]
            articles = list(dict.fromkeys(units[p].article_id for p in ranking))[:10]
            if q.article_id in articles:
                rank = articles.index(q.article_id) + 1
                hit1 += rank == 1
                hit5 += rank <= 5
                mrr += 1.0 / rank
        n = len(qs)
        out[set_name] = (hit1 / n, hit5 / n, mrr / n)
    return out


_NO_NGRAMS = AnalyzerConfig(ngram=0)
_UNPADDED = AnalyzerConfig(ngram_pad=False)
VARIANTS = [
    Variant("raw", AnalyzerConfig(stem=False, stopwords=False, ngram=0)),
    Variant("stem", replace(_NO_NGRAMS, query_both_stemmers=False)),
    Variant("stem, no stopword list", replace(_NO_NGRAMS, stopwords=False, query_both_stemmers=False)),
    Variant("stem, query both stemmers", _NO_NGRAMS),
    Variant("stem, query lang unknown", _NO_NGRAMS, query_lang=False),
    Variant("stem+decompound", _NO_NGRAMS, decompound=True),
    Variant("stem+4g(words>=7)", replace(_UNPADDED, ngram_min_word=7), ngram_weight=1.0),
    Variant("stem+4g", _UNPADDED, ngram_weight=1.0),
    Variant("stem+4g, 4g weight 1/3", _UNPADDED),
    Variant("stem+4g+decompound, weight 1/3", _UNPADDED, decompound=True),
    Variant("stem | 4g, RRF of two indexes", _UNPADDED, fuse_ngrams=True),
    Variant("stem+padded 4g, weight 1", AnalyzerConfig(), ngram_weight=1.0),
    Variant("stem+padded 3g, weight 1/3", AnalyzerConfig(ngram=3)),
    Variant("stem+padded 5g, weight 1/3", AnalyzerConfig(ngram=5)),
    Variant("stem+padded 4g, weight 1/2", AnalyzerConfig(), ngram_weight=0.5),
    Variant("stem+padded 4g, weight 1/3 (default)", AnalyzerConfig()),
    Variant("default, query lang unknown", AnalyzerConfig(), query_lang=False),
    Variant("default, query stemmed in its lang only", AnalyzerConfig(query_both_stemmers=False)),
]

BM25_GRID = [BM25Params(k1, b) for k1 in (0.7, 0.9, 1.2, 1.5) for b in (0.4, 0.6, 0.75, 0.9)]


def row(name: str, level: str, res: dict[str, tuple[float, float, float]], seconds: float) -> str:
    cells = "  ".join(f"{h1:.3f} {h5:.3f} {m:.3f}" for h1, h5, m in res.values())
    return f"{name:36} {level:7} {cells}  {seconds:5.1f}s"


def timing(chunks: list[Unit], questions: dict[str, list[Question]], sizes: Sequence[int]) -> None:
    """Analysis, build and search times on synthetic chunks drawn from the dev vocabulary.

    Each synthetic chunk is ~130 words sampled from the dev chunks' running text, with one word in
    twenty given a random suffix so the vocabulary keeps growing with the corpus as real text does.
    """
    rng = random.Random(13)
    pool = [w for c in chunks for w in c.text.split()]
    letters = "abcdefghijklmnopqrstuvwxyzæøå"
    queries = [(q.text, q.lang) for qs in questions.values() for q in qs][:200]
    for size in sizes:
        texts = []
        for _ in range(size):
            words = rng.sample(pool, CHUNK_WORDS)
            for i in range(0, CHUNK_WORDS, 20):
                words[i] += "".join(rng.choices(letters, k=3))
            texts.append(" ".join(words))
        start = time.perf_counter()
        terms = [index_terms(t, "da") for t in texts]
        analysed = time.perf_counter() - start
        start = time.perf_counter()
        index = LexicalIndex.build([str(i) for i in range(size)], terms)
        built = time.perf_counter() - start
        qterms = [query_terms(text, lang) for text, lang in queries]
        latencies = []
        for qt in qterms:
            start = time.perf_counter()
            index.search(qt, 10)
            latencies.append(time.perf_counter() - start)
        p50, p95 = np.percentile(latencies, [50, 95]) * 1000
        n_terms = sum(map(len, terms))
        print(
            f"{size:>7} chunks ({CHUNK_WORDS * size / 1e6:.1f}M words, {n_terms / 1e6:.1f}M terms): "
            f"analyse {analysed:.1f} s, build {built:.1f} s, search p50 {p50:.1f} ms p95 {p95:.1f} ms",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--grid", action="store_true", help="also search BM25 k1 and b")
    parser.add_argument(
        "--timing", type=int, nargs="*", metavar="N", help="only time analysis, build and search at N chunks"
    )
    args = parser.parse_args()
    articles, questions = load_data(args.data)
    chunks = [c for a in articles for c in chunk(a)]
    if args.timing is not None:
        timing(chunks, questions, args.timing or [10_000, 100_000])
        return
    print(
        f"{len(articles)} articles, {len(chunks)} chunks; "
        + ", ".join(f"{k}: {len(v)} q" for k, v in questions.items())
    )
    header = "  ".join(f"{k + ' h@1 h@5 MRR@10':22}" for k in questions)
    print(f"{'variant':36} {'level':7} {header}")
    for variant in VARIANTS:
        for level, units in (("passage", articles), ("chunk", chunks)):
            start = time.perf_counter()
            res = evaluate(units, questions, variant)
            print(row(variant.name, level, res, time.perf_counter() - start), flush=True)
    if args.grid:
        best = next(v for v in VARIANTS if v.name.endswith("(default)"))
        for params in BM25_GRID:
            for level, units in (("passage", articles), ("chunk", chunks)):
                start = time.perf_counter()
                res = evaluate(units, questions, best, params)
                name = f"default, k1={params.k1} b={params.b}"
                print(row(name, level, res, time.perf_counter() - start), flush=True)


if __name__ == "__main__":
    main()
