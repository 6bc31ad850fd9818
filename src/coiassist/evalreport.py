"""Rendering an eval run: the text table, report.md, plot.png, summary.json and per_question.jsonl.

Kept apart from the runner so the numbers (evaluation.py) and their presentation change separately.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coiassist import metrics
from coiassist.config import Settings

RANK_METRICS = ("hit1", "hit5", "mrr10", "ndcg10")
ANSWER_METRICS = ("key_facts", "citations_valid", "supported", "language_ok")


@dataclass(frozen=True)
class ResultRow:
    """One set × mode line of the report."""

    set: str
    mode: str
    questions: int
    scores: dict[str, metrics.Estimate]  # "passage.hit5", "article.ndcg10", "answer.key_facts", ...
    latency_ms: float  # median retrieval time per question


@dataclass(frozen=True)
class ComparisonRow:
    set: str
    mode: str
    metric: str
    result: metrics.PairedComparison


@dataclass
class EvalReport:
    run_dir: Path
    rows: list[ResultRow]
    breakdown: dict[str, list[tuple[str, str, int, float, float]]] = field(default_factory=dict)
    comparisons: list[ComparisonRow] = field(default_factory=list)
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    index: dict[str, dict[str, object]] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    baseline: Path | None = None


TABLE_COLUMNS = (
    ("P hit@1", "passage.hit1"),
    ("P hit@5", "passage.hit5"),
    ("P MRR@10", "passage.mrr10"),
    ("P nDCG@10", "passage.ndcg10"),
    ("A hit@1", "article.hit1"),
    ("A hit@5", "article.hit5"),
    ("A MRR@10", "article.mrr10"),
    ("A nDCG@10", "article.ndcg10"),
    ("key facts", "answer.key_facts"),
    ("cit. valid", "answer.citations_valid"),
    ("supported", "answer.supported"),
    ("abst. P", "answer.abstain_precision"),
    ("abst. R", "answer.abstain_recall"),
    ("lang ok", "answer.language_ok"),
)


# The terminal table leaves out two article-level columns to stay readable; report.md has all.
_TERMINAL_SKIP = ("article.hit5", "article.mrr10")


def _columns(report: EvalReport, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    present = {name for row in report.rows for name, est in row.scores.items() if est.n}
    return [(label, name) for label, name in TABLE_COLUMNS if name in present and name not in skip]


def format_table(report: EvalReport) -> str:
    """Plain-text table, one line per set × mode: each cell is mean [95% CI]."""
    columns = _columns(report, _TERMINAL_SKIP)
    header = ["set", "mode", "n", *(label for label, _ in columns), "ms"]
    lines = [
        [
            r.set,
            r.mode,
            str(r.questions),
            *(r.scores[name].format() for _, name in columns),
            f"{r.latency_ms:.0f}",
        ]
        for r in report.rows
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    out = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *lines]
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    if report.comparisons:
        out += ["", f"compared with {report.baseline}:"]
        out += [
            f"{c.set} {c.mode} {c.metric}: {c.result.diff.format()} "
            f"(+{c.result.wins}/-{c.result.losses}, sign p={c.result.p_sign:.3g}) {c.result.verdict}"
            for c in report.comparisons
        ]
    return "\n".join(out)


def _markdown(report: EvalReport, settings: Settings) -> str:
    columns = _columns(report)
    lines = [
        "# coiassist eval",
        "",
        f"Run {report.run_dir.name}. Cells are means with a 95% bootstrap interval "
        f"({metrics.BOOTSTRAP_RESAMPLES} resamples, seed {metrics.BOOTSTRAP_SEED}). "
        "P = passage level (the chunk holding the gold phrase), "
        "A = article level (distinct articles in rank order).",
        "",
        f"Settings: embedding model `{settings.embedding_model or 'bundled all-MiniLM-L6-v2'}`, "
        f"chunk_tokens {settings.chunk_tokens}, overlap {settings.chunk_overlap_tokens}, "
        f"dense_weight {settings.dense_weight}, rrf_k {settings.rrf_k}, backend {settings.backend}.",
        "",
        "| set | mode | n | " + " | ".join(label for label, _ in columns) + " | ms |",
        "|---|---|---:|" + "---:|" * len(columns) + "---:|",
    ]
    lines += [
        f"| {r.set} | {r.mode} | {r.questions} | "
        + " | ".join(r.scores[name].format() for _, name in columns)
        + f" | {r.latency_ms:.0f} |"
        for r in report.rows
    ]
    for title, rows in report.breakdown.items():
        lines += [
            "",
            f"## {title}",
            "",
            "| group | mode | n | P hit@5 | A hit@5 |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [f"| {g} | {m} | {n} | {p:.3f} | {a:.3f} |" for g, m, n, p, a in rows]
    if report.comparisons:
        lines += [
            "",
            f"## Compared with {report.baseline}",
            "",
            "Paired over the questions both runs scored; new − old. A change counts only when the "
            "interval of the difference excludes 0.",
            "",
            "| set | mode | metric | diff [95% CI] | wins | losses | sign p | verdict |",
            "|---|---|---|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| {c.set} | {c.mode} | {c.metric} | {c.result.diff.format()} | {c.result.wins} | "
            f"{c.result.losses} | {c.result.p_sign:.3g} | {c.result.verdict} |"
            for c in report.comparisons
        ]
    lines += ["", "## Inputs", ""]
    for name, files in report.inputs.items():
        lines += [f"- {name}: " + ", ".join(f"`{f}` sha256 {h[:16]}…" for f, h in files.items())]
        lines += [f"  - index: {json.dumps(report.index.get(name, {}))}"]
        lines += [f"  - gold label problem: {p}" for p in report.problems.get(name, [])]
    return "\n".join(lines) + "\n"


def _plot(report: EvalReport, path: Path) -> None:
    """Bars of passage hit@5 and nDCG@10 per set and mode, with the 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(dict.fromkeys(r.set for r in report.rows))
    modes = list(dict.fromkeys(r.mode for r in report.rows))
    panels = [
        ("passage.hit5", "passage hit@5"),
        ("passage.ndcg10", "passage nDCG@10"),
        ("article.hit5", "article hit@5"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8), squeeze=False)
    width = 0.8 / max(len(modes), 1)
    for ax, (name, title) in zip(axes[0], panels, strict=True):
        for j, mode in enumerate(modes):
            xs, ys, errs = [], [], []
            for i, set_name in enumerate(sets):
                row = next((r for r in report.rows if r.set == set_name and r.mode == mode), None)
                est = row.scores.get(name) if row else None
                if est is None or not est.n:
                    continue
                xs.append(i + (j - (len(modes) - 1) / 2) * width)
                ys.append(est.mean)
                errs.append((est.mean - est.low, est.high - est.mean))
            if xs:
                ax.bar(xs, ys, width, label=mode, yerr=list(zip(*errs, strict=True)), capsize=3)
        ax.set_xticks(range(len(sets)), sets)
        ax.set_ylim(0, 1.05)
        ax.set_title(title)
    axes[0][0].legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(report: EvalReport, records: Sequence[dict[str, Any]], settings: Settings) -> None:
    """per_question.jsonl (the input of --compare), summary.json, report.md and plot.png."""
    out = report.run_dir
    with (out / "per_question.jsonl").open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    summary = {
        "settings": {k: str(v) for k, v, _ in settings.describe() if "password" not in k},
        "inputs": report.inputs,
        "index": report.index,
        "gold_problems": report.problems,
        "results": [
            {
                "set": r.set,
                "mode": r.mode,
                "questions": r.questions,
                "latency_ms": r.latency_ms,
                "scores": {k: dataclasses.asdict(v) for k, v in r.scores.items()},
            }
            for r in report.rows
        ],
        "comparisons": [
            {
                "set": c.set,
                "mode": c.mode,
                "metric": c.metric,
                "diff": dataclasses.asdict(c.result.diff),
                "wins": c.result.wins,
                "losses": c.result.losses,
                "p_sign": c.result.p_sign,
                "verdict": c.result.verdict,
            }
            for c in report.comparisons
        ],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(_markdown(report, settings), encoding="utf-8")
    _plot(report, out / "plot.png")
