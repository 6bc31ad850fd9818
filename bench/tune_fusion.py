"""Choose how BM25 and dense rankings are fused, on the dev sets, by measurement.

For every question of each set the BM25 and the dense candidates are fetched once; each fusion
variant then reorders them, and the usual retrieval metrics are computed with the evaluation
suite's own scoring. Prints one table per set; the chosen default is the variant that never loses
to BM25 alone (paired, see `coiassist eval --compare`) and wins where it can.

    python bench/tune_fusion.py --home .coiassist   # uses <home>/eval-homes/<set> built by `coiassist eval`
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from coiassist import evaluation, metrics
from coiassist.config import load_settings
from coiassist.retrieval import Retriever, _dedupe, fuse, fuse_scores, with_article_evidence

Hits = list[tuple[int, float]]
DEPTH = 50


def variants() -> dict[str, Callable[[Hits, Hits], list[tuple[int, float]]]]:
    """Each fusion as `Retriever.search` does it: BM25 scaled from 0 when it lists every match,
    and score fusion (not RRF) followed by the article evidence."""

    def lows(lex: Hits) -> list[float | None]:
        return [0.0 if len(lex) < DEPTH else None]

    table: dict[str, Callable[[Hits, Hits], list[tuple[int, float]]]] = {
        "bm25": lambda lex, den: fuse_scores([(lex, 1.0)], lows(lex)),
    }
    for k in (5, 60):
        for w in (0.1, 0.3):
            table[f"rrf k={k} w={w}"] = lambda lex, den, k=k, w=w: fuse([(lex, 1.0), (den, w)], k)
    for w in (0.05, 0.1, 0.2, 0.3):
        table[f"score w={w}"] = lambda lex, den, w=w: fuse_scores([(lex, 1.0), (den, w)], lows(lex))
    return table


def run_set(name: str, home: Path, corpus: Path, questions: Path) -> None:
    settings = dataclasses.replace(load_settings(), home=home, corpus=corpus)
    retriever = Retriever(settings)
    snap = retriever.snapshot
    # Gold phrases that occur only inside longer words match as substrings, as in `coiassist eval`.
    texts = evaluation._corpus_texts(corpus)
    items = [evaluation.with_matching(item, texts) for item in evaluation.load_questions(questions)]
    cached = []
    for item in items:
        query = evaluation.retrieval_query(item, settings.default_language)
        cached.append(
            (
                item,
                retriever.lexical_hits(snap, query, DEPTH, None),
                retriever.dense_hits(snap, query, DEPTH, None),
            )
        )
    print(f"\n{name}: {len(items)} questions")
    print(
        f"{'variant':<18} {'art hit@1':>9} {'art hit@5':>9} {'art MRR':>8} {'psg hit@5':>9} {'psg nDCG':>8}"
    )
    baseline: Sequence[float] | None = None
    for label, fusion in variants().items():
        rows: dict[str, list[float]] = {"a1": [], "a5": [], "amrr": [], "p5": [], "pndcg": []}
        for item, lex, den in cached:
            fused = fusion(lex, den)
            if not label.startswith("rrf"):
                fused = with_article_evidence(snap.rows, fused, settings.article_weight)
            passages = retriever._passages(snap, _dedupe(snap, fused, 10))
            scored = evaluation.score_passages(item, passages)
            art, psg = scored["article"], scored["passage"]
            if art is not None:
                rows["a1"].append(art["hit1"])
                rows["a5"].append(art["hit5"])
                rows["amrr"].append(art["mrr10"])
            if psg is not None:
                rows["p5"].append(psg["hit5"])
                rows["pndcg"].append(psg["ndcg10"])
        mean = {k: statistics.fmean(v) if v else float("nan") for k, v in rows.items()}
        verdict = ""
        if baseline is None:
            baseline = rows["amrr"]
        else:
            diff = metrics.paired_compare(baseline, rows["amrr"])
            verdict = f"MRR vs bm25: {diff.verdict} (+{diff.wins}/-{diff.losses})"
        print(
            f"{label:<18} {mean['a1']:>9.3f} {mean['a5']:>9.3f} {mean['amrr']:>8.3f} "
            f"{mean['p5']:>9.3f} {mean['pndcg']:>8.3f}  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".coiassist"))
    parser.add_argument("--data", type=Path, default=evaluation.default_data_dir())
    args = parser.parse_args()
    homes = args.home / "eval-homes"
    for name in ("norquad", "squad-da"):
        question_file = evaluation.EXTERNAL_SETS[name][0]
        run_set(name, homes / name, homes / name / "articles.jsonl", args.data / question_file)
    run_set(
        "handwritten",
        homes / "handwritten",
        evaluation.repo_root() / "corpus",
        evaluation.repo_root() / "evals" / "handwritten.jsonl",
    )


if __name__ == "__main__":
    main()
