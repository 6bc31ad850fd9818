"""Calibrate the extractive backend's refusal and sentence choice on the dev question sets.

Every NorQuAD dev passage, SQuAD-da dev paragraph and UD document is cut into ~700-character
chunks of whole sentences (one sentence of overlap) and indexed with BM25. For each question, sets
of N chunks (`--sources`, by default the `top_k` setting's default, as the backend gets them):

- answerable: the chunk holding the answer plus the N-1 best other BM25 chunks, the answer chunk at
  its BM25 rank (at most Nth), as retrieval would hand them over;
- related: the N best BM25 chunks of other articles that do not hold the answer (on-topic sources
  that do not answer: the hard case for a refusal);
- random: N random chunks of other articles in the question's language (off-topic retrieval);
- other_related / other_random: the same two, from chunks in the other language only (a Danish
  question put to Norwegian sources that do not answer it, and the reverse).

The backend answers each question from each source set. Reported per language: abstention
precision and recall (answerable + related, or answerable + random), refusal recall with the
other language's sources (R_other_related, R_other_random), the share of answerable questions
refused, and key-fact containment (the gold answer string inside the answer; a refusal
contains nothing) over all answerable questions and over those answered.

Usage: .venv/bin/python bench/calibrate_extractive.py [--data /work/shared/data]
           [--set ABSTAIN_THRESHOLD=0.25 ...] [--similarity-weight 0.6] [--home .coiassist]
           [--sources 8] [--cache /tmp/calibrate-extractive.pkl]
Deterministic (fixed seed); the cache only saves the ~30 s of chunking and indexing. With a
similarity weight above 0 the sentences are embedded too (about 3 minutes more on 2 cores).
"""

from __future__ import annotations

import argparse
import ast
import json
import pickle
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coiassist.analyzer import index_terms, normalize, query_terms
from coiassist.backends import extractive
from coiassist.backends.base import GenerationRequest, Source
from coiassist.config import Settings, load_settings
from coiassist.embeddings import load_embedder
from coiassist.lexical import LexicalIndex
from coiassist.phrases import phrases_for
from coiassist.sentences import split_sentences

CHUNK_CHARS = 700
DOCS = ("norquad-dev-docs.jsonl", "da-qa-dev-docs.jsonl", "ud-docs-da.jsonl", "ud-docs-nb.jsonl")
QUESTIONS = ("norquad-dev.jsonl", "da-qa-dev.jsonl")


@dataclass(frozen=True)
class Chunk:
    doc: str
    title: str
    text: str
    lang: str


def _load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _chunks(doc: dict[str, Any]) -> list[Chunk]:
    text = doc["text"]
    out: list[Chunk] = []
    current: list[tuple[int, int]] = []
    for span in split_sentences(text):
        if current and span[1] - current[0][0] > CHUNK_CHARS:
            out.append(Chunk(doc["id"], doc["title"], text[current[0][0] : current[-1][1]], doc["lang"]))
            current = current[-1:]
        current.append(span)
    if current:
        out.append(Chunk(doc["id"], doc["title"], text[current[0][0] : current[-1][1]], doc["lang"]))
    return out


def build_cases(data: Path, size: int) -> tuple[list[Chunk], list[dict[str, Any]]]:
    """Every question with its source sets of `size` chunks each (see the module docstring)."""
    chunks = [c for name in DOCS for doc in _load(data / name) for c in _chunks(doc)]
    index = LexicalIndex.build(
        [str(i) for i in range(len(chunks))], [index_terms(c.text, c.lang) for c in chunks]
    )
    rng = random.Random(7)
    by_lang: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        by_lang.setdefault(c.lang, []).append(i)
    # Chunks in every language but each one, for questions put to the other language's sources.
    other_lang = {
        lang: [i for other, ids in by_lang.items() if other != lang for i in ids] for lang in by_lang
    }
    cases = []
    for name in QUESTIONS:
        for q in _load(data / name):
            answers = [normalize(a) for a in q["answers"]]

            def holds(i: int, answers: list[str] = answers) -> bool:
                return any(a in normalize(chunks[i].text) for a in answers)

            gold = [i for i, c in enumerate(chunks) if c.doc == q["context_id"] and holds(i)]
            if not gold:
                continue
            hits = [int(i) for i, _ in index.search(query_terms(q["question"], q["lang"]), 40)]
            g = next((i for i in hits if i in gold), gold[0])
            answerable = [i for i in hits if i != g][: size - 1]
            answerable.insert(min(hits.index(g) if g in hits else size - 1, size - 1), g)
            related = [i for i in hits if chunks[i].doc != q["context_id"] and not holds(i)][:size]
            pool = [i for i in by_lang[q["lang"]] if chunks[i].doc != q["context_id"]]
            other = other_lang[q["lang"]]
            other_hits = [int(i) for i, _ in index.search(query_terms(q["question"], None), 400)]
            cases.append(
                {
                    "q": q,
                    "answerable": answerable,
                    "related": related,
                    "random": rng.sample(pool, size),
                    "other_related": [i for i in other_hits if chunks[i].lang != q["lang"]][:size],
                    "other_random": rng.sample(other, size),
                }
            )
    return chunks, cases


def _answer(
    backend: extractive.ExtractiveBackend, q: dict[str, Any], chunks: list[Chunk], ids: list[int]
) -> str:
    sources = tuple(
        Source(key=k, title=chunks[i].title, text=chunks[i].text, lang=chunks[i].lang, article=chunks[i].doc)
        for k, i in enumerate(ids, 1)
    )
    return "".join(backend.generate(GenerationRequest(q["question"], q["lang"], sources)))


def evaluate(
    chunks: list[Chunk], cases: list[dict[str, Any]], settings: Settings
) -> dict[str, dict[str, float]]:
    backend = extractive.ExtractiveBackend(settings)
    results: dict[str, dict[str, float]] = {}
    for lang in sorted({c["q"]["lang"] for c in cases}):
        refusal = phrases_for(lang).refusal
        sub = [c for c in cases if c["q"]["lang"] == lang]
        refused = contained = 0
        # Refusals per set of sources that do not answer (see the module docstring).
        refused_with = dict.fromkeys(("related", "random", "other_related", "other_random"), 0)
        for case in sub:
            q = case["q"]
            text = _answer(backend, q, chunks, case["answerable"])
            if text == refusal:
                refused += 1
            elif any(normalize(a) in normalize(text) for a in q["answers"]):
                contained += 1
            for sources in refused_with:
                refused_with[sources] += _answer(backend, q, chunks, case[sources]) == refusal
        n = len(sub)
        answered = n - refused
        related, rand = refused_with["related"], refused_with["random"]
        results[lang] = {
            "n": n,
            "P_related": round(related / max(related + refused, 1), 3),
            "R_related": round(related / n, 3),
            "P_random": round(rand / max(rand + refused, 1), 3),
            "R_random": round(rand / n, 3),
            "R_other_related": round(refused_with["other_related"] / n, 3),
            "R_other_random": round(refused_with["other_random"] / n, 3),
            "refused_answerable": round(refused / n, 3),
            "contain_all": round(contained / n, 3),
            "contain_answered": round(contained / max(answered, 1), 3),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=None, help="pickle of the built cases (reused)")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE: override a constant")
    parser.add_argument(
        "--sources",
        type=int,
        default=Settings().top_k,
        help="chunks per source set (default: the top_k setting's default)",
    )
    parser.add_argument(
        "--similarity-weight",
        type=float,
        default=Settings().extractive_similarity_weight,
        help="extractive_similarity_weight (default: the setting's default)",
    )
    parser.add_argument(
        "--home", type=Path, default=Path(".coiassist"), help="home holding (or getting) the ONNX model"
    )
    args = parser.parse_args()
    cached = pickle.loads(args.cache.read_bytes()) if args.cache and args.cache.exists() else None
    if cached is not None and cached[0] == args.sources:
        chunks, cases = [Chunk(*row) for row in cached[1]], cached[2]
    else:
        chunks, cases = build_cases(args.data, args.sources)
        if args.cache:
            rows = [(c.doc, c.title, c.text, c.lang) for c in chunks]
            args.cache.write_bytes(pickle.dumps((args.sources, rows, cases)))
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        setattr(extractive, name, ast.literal_eval(value))
    settings = load_settings({"home": args.home, "extractive_similarity_weight": args.similarity_weight})
    if settings.extractive_similarity_weight > 0:
        # Sentences are embedded with the ONNX export that `coiassist index` makes for queries.
        load_embedder(settings).export_query_model()
    for lang, figures in evaluate(chunks, cases, settings).items():
        print(lang, json.dumps(figures))


if __name__ == "__main__":
    main()
