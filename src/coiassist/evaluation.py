"""`coiassist eval`: score retrieval (and optionally answers) on question sets, side by side per mode.

Each set is indexed into its own home under `<home>/eval-homes/<set>/`, so an eval never touches
the live index and a second run only re-reads what changed. Gold labels are an article id plus
short verbatim phrases; the chunk that holds a phrase is found at scoring time, so re-chunking
keeps the labels valid. Every number is deterministic (bootstrap with a fixed seed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coiassist import conversation, intent, metrics
from coiassist.assistant import Assistant
from coiassist.config import Settings
from coiassist.errors import ConfigError
from coiassist.evalreport import (
    ANSWER_METRICS,
    RANK_METRICS,
    ComparisonRow,
    EvalReport,
    ResultRow,
    format_table,
    write_outputs,
)
from coiassist.indexer import index_corpus
from coiassist.ingest import read_corpus
from coiassist.language import detect_language
from coiassist.models import Answer, Passage
from coiassist.retrieval import Retriever, open_retriever

__all__ = ["EvalReport", "format_table", "run_eval"]

EVAL_DATA_ENV = "COIASSIST_EVAL_DATA"
MODES = ("bm25", "dense", "hybrid")
DEPTH = 10  # passages retrieved per question; every ranking metric is @10 or shallower
UD_DOCS = ("ud-docs-da.jsonl", "ud-docs-nb.jsonl", "ud-docs-nn.jsonl")
# External sets: question file and the files whose documents form its corpus (gold docs first).
EXTERNAL_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "norquad": ("norquad-dev.jsonl", ("norquad-dev-docs.jsonl", *UD_DOCS)),
    "squad-da": ("da-qa-dev.jsonl", ("da-qa-dev-docs.jsonl", *UD_DOCS)),
}
HANDWRITTEN = "handwritten"
KNOWN_SETS = (HANDWRITTEN, *EXTERNAL_SETS)


def repo_root() -> Path:
    """The source checkout this module runs from (evals/ and the shared data sit relative to it)."""
    return Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """External eval data: $COIASSIST_EVAL_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get(EVAL_DATA_ENV)
    return Path(env) if env else repo_root().parent / "shared" / "data"


def default_run_dir(settings: Settings) -> Path:
    """A fresh, time-stamped folder for one run's outputs."""
    return settings.home / "eval-runs" / time.strftime("%Y%m%d-%H%M%S")


# ---- question sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalItem:
    """One question with its gold labels, normalised from either file shape.

    `gold_units` are what a relevant passage must hold: one unit per gold passage, each a tuple
    of alternative phrases (SQuAD-style `answers` are alternatives of a single unit).
    """

    id: str
    question: str
    lang: str
    gold_articles: tuple[str, ...]
    gold_units: tuple[tuple[str, ...], ...]
    key_facts: tuple[tuple[str, ...], ...]
    abstain: bool
    kind: str
    history: tuple[dict[str, str], ...] = ()
    # Per gold unit: match whole words only (see `with_matching`).
    whole_words: tuple[bool, ...] = ()

    def matches(self, unit: int, text: str) -> bool:
        strict = self.whole_words[unit] if self.whole_words else True
        return any(metrics.contains_phrase(text, phrase, strict) for phrase in self.gold_units[unit])


def with_matching(item: EvalItem, texts: Mapping[str, str]) -> EvalItem:
    """Match a gold phrase as a whole word when it occurs so in its article, else as a substring.

    Human-written gold phrases are whole words, but 29 of SQuAD-da's aligned answers are parts of
    words; without the fallback those questions could never score a passage hit.
    """
    body = "\n".join(texts.get(a, "") for a in item.gold_articles)
    strict = tuple(
        any(metrics.contains_phrase(body, phrase) for phrase in unit) or not body for unit in item.gold_units
    )
    return dataclasses.replace(item, whole_words=strict)


def retrieval_query(item: EvalItem, default_language: str) -> str:
    """What the assistant searches for: a follow-up gets the offline rewrite the chat uses.

    That rewrite carries the previous question's names and content words over, so "Hvornår
    startede det første af dem?" is scored the way the extractive backend would search it. As in
    the chat, a summary question is searched for by its subject (`intent.search_text`).
    """
    question = item.question
    if conversation.is_follow_up(question, item.history):
        question = conversation.rewrite_follow_up(question, item.history, item.lang or default_language)
    return intent.search_text(question)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def parse_item(row: Mapping[str, Any], where: str) -> EvalItem:
    """One question-file row → EvalItem; `where` (path:line) goes into error messages."""
    if not isinstance(row.get("question"), str) or not row["question"].strip():
        raise ConfigError(f"{where}: a question row needs a non-empty 'question'")
    if not row.get("id"):
        raise ConfigError(f"{where}: a question row needs an 'id'")
    articles = [str(a) for a in _as_list(row.get("gold_article", row.get("context_id")))]
    abstain = bool(row.get("abstain", False))
    if not abstain and not articles:
        raise ConfigError(f"{where}: an answerable question needs 'gold_article' or 'context_id'")
    passages = [str(p) for p in _as_list(row.get("gold_passage"))]
    answers = tuple(str(a) for a in _as_list(row.get("answers")) if str(a).strip())
    units = tuple((p,) for p in passages) if passages else ((answers,) if answers else ())
    facts = tuple((str(f),) for f in _as_list(row.get("key_facts")))
    history = tuple(
        {"role": str(turn["role"]), "content": str(turn["content"])} for turn in _as_list(row.get("history"))
    )
    return EvalItem(
        id=str(row["id"]),
        question=row["question"],
        lang=str(row.get("lang", "")),
        gold_articles=tuple(articles),
        gold_units=units,
        key_facts=facts or ((answers,) if answers else ()),
        abstain=abstain,
        kind=str(row.get("kind", "")),
        history=history,
    )


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number}: expected a JSON object")
        yield number, row


def load_questions(path: Path) -> list[EvalItem]:
    """Read a question file; duplicate ids are refused because paired comparison keys on them."""
    items = [parse_item(row, f"{path}:{n}") for n, row in _read_jsonl(path)]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ConfigError(f"{path}: question id {item.id!r} occurs twice")
        seen.add(item.id)
    if not items:
        raise ConfigError(f"{path}: no questions")
    return items


def gold_problems(items: Sequence[EvalItem], texts: Mapping[str, str]) -> list[str]:
    """Gold labels that cannot be right: unknown article ids, phrases absent from their articles."""
    problems = []
    for item in items:
        missing = [a for a in item.gold_articles if a not in texts]
        if missing:
            problems.append(f"{item.id}: gold article(s) {', '.join(missing)} not in the corpus")
            continue
        body = "\n".join(texts[a] for a in item.gold_articles)
        for unit in item.gold_units:
            if not any(metrics.contains_phrase(body, phrase, whole_words=False) for phrase in unit):
                problems.append(f"{item.id}: gold phrase {unit[0]!r} not found in its article(s)")
    return problems


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class EvalSet:
    """A question file and the corpus (folder or articles JSONL) it asks about."""

    name: str
    questions: Path
    corpus: Path
    inputs: dict[str, str]  # file name → sha256 of every file the set was built from


def write_articles_jsonl(sources: Sequence[Path], target: Path) -> None:
    """Documents in the data README's shape → articles JSONL with the title as the first line."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for source in sources:
            for _, doc in _read_jsonl(source):
                title, text = str(doc.get("title", "")), str(doc["text"])
                article = {"id": doc["id"], "title": title, "text": f"{title}\n{text}", "lang": doc["lang"]}
                out.write(json.dumps(article, ensure_ascii=False) + "\n")
    tmp.replace(target)


def external_set(name: str, data_dir: Path, home: Path) -> EvalSet:
    """Build (or reuse, when its inputs' sha256 match) the articles JSONL of a NorQuAD/SQuAD-da set."""
    question_file, doc_files = EXTERNAL_SETS[name]
    paths = [data_dir / question_file, *(data_dir / f for f in doc_files)]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise ConfigError(
            f"eval set {name!r} needs {', '.join(absent)}; set {EVAL_DATA_ENV} to the folder that holds them"
        )
    inputs = {p.name: sha256_file(p) for p in paths}
    corpus = home / "articles.jsonl"
    stamp = home / "inputs.json"
    stamp_text = json.dumps(inputs, sort_keys=True)
    if not (corpus.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == stamp_text):
        write_articles_jsonl(paths[1:], corpus)
        stamp.write_text(stamp_text, encoding="utf-8")
    return EvalSet(name, paths[0], corpus, inputs)


def resolve_sets(
    settings: Settings,
    corpus: Path | None,
    questions: Path | None,
    sets: Sequence[str],
    data_dir: Path,
) -> list[EvalSet]:
    """The sets to run: an explicit corpus + question file, else the named sets (default: all)."""
    homes = settings.home / "eval-homes"
    if (corpus is None) != (questions is None):
        raise ConfigError("give both --corpus and --questions, or neither")
    chosen: list[EvalSet] = []
    if corpus is not None and questions is not None:
        if not corpus.exists():
            raise ConfigError(f"eval corpus {corpus} does not exist")
        name = questions.stem
        chosen.append(EvalSet(name, questions, corpus, {questions.name: sha256_file(questions)}))
    unknown = [s for s in sets if s not in KNOWN_SETS]
    if unknown:
        raise ConfigError(f"unknown eval set {', '.join(unknown)}; choose from {', '.join(KNOWN_SETS)}")
    # By default every set whose data is here; a set named explicitly must be found.
    names = list(sets) or (
        []
        if chosen
        else [HANDWRITTEN, *(n for n, (qfile, _) in EXTERNAL_SETS.items() if (data_dir / qfile).is_file())]
    )
    for name in names:
        if name == HANDWRITTEN:
            path = repo_root() / "evals" / "handwritten.jsonl"
            chosen.append(EvalSet(name, path, settings.corpus, {path.name: sha256_file(path)}))
        else:
            chosen.append(external_set(name, data_dir, homes / name))
    return chosen


# ---- scoring ---------------------------------------------------------------------------------


def score_passages(item: EvalItem, passages: Sequence[Passage]) -> dict[str, dict[str, float] | None]:
    """Passage- and article-level ranking metrics of one retrieved list (None where no gold applies)."""
    gold = set(item.gold_articles)

    def units_in(p: Passage) -> frozenset[int]:
        if p.article_id not in gold:
            return frozenset()
        return frozenset(i for i in range(len(item.gold_units)) if item.matches(i, p.text))

    scores = [p.score for p in passages]
    result: dict[str, dict[str, float] | None] = {"passage": None, "article": None}
    if item.gold_units:
        covers = [units_in(p) for p in passages]
        order = metrics.pessimistic_order([bool(c) for c in covers], scores)
        ranking = metrics.score_ranking([covers[i] for i in order], len(item.gold_units))
        result["passage"] = dataclasses.asdict(ranking)
    if gold:
        # Ties are resolved against the system again, this time by article relevance.
        order = metrics.pessimistic_order([p.article_id in gold for p in passages], scores)
        articles = metrics.distinct_in_order([passages[i].article_id for i in order])
        index = {a: i for i, a in enumerate(item.gold_articles)}
        art_covers = [frozenset({index[a]}) if a in index else frozenset() for a in articles]
        result["article"] = dataclasses.asdict(metrics.score_ranking(art_covers, len(index)))
    return result


def score_answer(item: EvalItem, answer: Answer) -> dict[str, Any]:
    """Answer metrics of one question; see evals/README.md for how each is judged."""
    keys = [c.key for c in answer.citations]
    frame = metrics.answer_frame(answer.answer, [c.text for c in answer.citations])
    facts = None if item.abstain else metrics.key_fact_recall(answer.answer, item.key_facts)
    return {
        "text": answer.answer,
        "abstained": answer.abstained,
        "language": answer.language,
        "backend": answer.backend,
        "citations": [c.chunk_id for c in answer.citations],
        "key_facts": facts,
        "citations_valid": 1.0 if metrics.citations_valid(answer.answer, keys) else 0.0,
        "supported": metrics.supported_rate([c.supported for c in answer.checks]),
        "language_ok": 1.0
        if metrics.answer_language_ok(item.lang, answer.language, frame, detect_language)
        else 0.0,
        "frame": frame,
        "notes": list(answer.notes),
    }


# ---- the run ---------------------------------------------------------------------------------


def _metric_values(records: Sequence[dict[str, Any]], name: str) -> list[float]:
    group, metric = name.split(".")
    return [r[group][metric] for r in records if r.get(group) and r[group].get(metric) is not None]


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, metrics.Estimate]:
    """Mean and CI of every metric over the records that carry it; abstention as pooled ratios."""
    scores = {
        f"{group}.{m}": metrics.bootstrap_ci(_metric_values(records, f"{group}.{m}"))
        for group in ("passage", "article")
        for m in RANK_METRICS
    }
    answered = [r for r in records if r.get("answer")]
    if answered:
        for m in ANSWER_METRICS:
            scores[f"answer.{m}"] = metrics.bootstrap_ci(_metric_values(answered, f"answer.{m}"))
        declined = [1.0 if r["answer"]["abstained"] else 0.0 for r in answered]
        should = [1.0 if r["abstain"] else 0.0 for r in answered]
        both = [d * s for d, s in zip(declined, should, strict=True)]
        scores["answer.abstain_precision"] = metrics.bootstrap_ratio_ci(both, declined)
        scores["answer.abstain_recall"] = metrics.bootstrap_ratio_ci(both, should)
    return scores


def _record(
    eval_set: str, mode: str, item: EvalItem, query: str, passages: Sequence[Passage], seconds: float
) -> dict[str, Any]:
    return {
        "set": eval_set,
        "mode": mode,
        "id": item.id,
        "lang": item.lang,
        "kind": item.kind,
        "abstain": item.abstain,
        "question": item.question,
        "query": query,
        "ranked": [[p.chunk_id, p.article_id, round(p.score, 6)] for p in passages],
        **score_passages(item, passages),
        "answer": None,
        "retrieval_ms": round(seconds * 1000, 2),
    }


def _corpus_texts(corpus: Path) -> dict[str, str]:
    articles, _ = read_corpus(corpus)
    return {a.id: a.text for a in articles}


def _run_set(
    settings: Settings, eval_set: EvalSet, modes: Sequence[str], answers: bool, report: EvalReport
) -> list[dict[str, Any]]:
    # Its own embedded index: never the live one, never a shared Chroma server.
    home = settings.home / "eval-homes" / eval_set.name
    local = dataclasses.replace(settings, home=home, corpus=eval_set.corpus, chroma_url="")
    items = load_questions(eval_set.questions)
    indexed = index_corpus(local, corpus=eval_set.corpus)
    report.index[eval_set.name] = indexed.as_json()
    texts = _corpus_texts(eval_set.corpus)
    report.problems[eval_set.name] = gold_problems(items, texts)
    items = [with_matching(item, texts) for item in items]
    retriever = open_retriever(local)
    records: list[dict[str, Any]] = []
    for mode in modes:
        ask = _asker(dataclasses.replace(local, retrieval_mode=mode), retriever) if answers else None
        for item in items:
            query = retrieval_query(item, settings.default_language)
            started = time.perf_counter()
            passages = retriever.search(query, k=DEPTH, mode=mode)
            record = _record(eval_set.name, mode, item, query, passages, time.perf_counter() - started)
            if ask is not None:
                record["answer"] = score_answer(item, ask(item))
            records.append(record)
    return records


def _asker(settings: Settings, retriever: Retriever) -> Callable[[EvalItem], Answer]:
    """Ask the assistant as a chat user would: the question plus the earlier turns.

    The assistant searches in its retriever's mode, so each mode gets its own retriever
    (sharing the loaded model).
    """
    from coiassist.retrieval import Retriever

    assistant = Assistant(settings, retriever=Retriever(settings, embedder=retriever.embedder))
    return lambda item: assistant.ask(item.question, history=item.history)


def breakdown(records: Sequence[dict[str, Any]], by: str) -> list[tuple[str, str, int, float, float]]:
    """(value, mode, n, passage hit@5, article hit@5) per value of `by` ("kind" or "lang")."""
    rows = []
    for value in sorted({r[by] for r in records if r[by]}):
        for mode in dict.fromkeys(r["mode"] for r in records):
            group = [r for r in records if r[by] == value and r["mode"] == mode and r["article"]]
            if not group:
                continue
            p = _metric_values(group, "passage.hit5")
            a = _metric_values(group, "article.hit5")
            rows.append(
                (value, mode, len(group), statistics.fmean(p) if p else math.nan, statistics.fmean(a))
            )
    return rows


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "per_question.jsonl" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise ConfigError(f"no per-question results at {path}; pass the folder of an earlier eval run")
    return [row for _, row in _read_jsonl(path)]


def compare_runs(old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]) -> list[ComparisonRow]:
    """Paired tests of new vs old on the questions both runs scored, per set × mode × metric."""
    before = {(r["set"], r["mode"], r["id"]): r for r in old}
    rows = []
    groups = dict.fromkeys((r["set"], r["mode"]) for r in new)
    names = [f"{g}.{m}" for g in ("passage", "article") for m in RANK_METRICS]
    names += [f"answer.{m}" for m in ANSWER_METRICS]
    for set_name, mode in groups:
        mine = [r for r in new if (r["set"], r["mode"]) == (set_name, mode)]
        pairs = sorted(
            ((before[(set_name, mode, r["id"])], r) for r in mine if (set_name, mode, r["id"]) in before),
            key=lambda pair: pair[1]["id"],
        )
        for name in names:
            a, b = [], []
            for prev, cur in pairs:
                va, vb = _metric_values([prev], name), _metric_values([cur], name)
                if va and vb:
                    a.append(va[0])
                    b.append(vb[0])
            if a:
                rows.append(ComparisonRow(set_name, mode, name, metrics.paired_compare(a, b)))
    return rows


def run_eval(
    settings: Settings,
    corpus: Path | None,
    questions: Path | None,
    out_dir: Path,
    *,
    modes: Sequence[str] = MODES,
    answers: bool = False,
    baseline: Path | None = None,
    sets: Sequence[str] = (),
    data_dir: Path | None = None,
) -> EvalReport:
    """Run the chosen sets in every mode and write per_question.jsonl, summary.json, report.md, plot.png."""
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ConfigError(
            f"unknown retrieval mode {', '.join(bad) or '(none)'}; choose from {', '.join(MODES)}"
        )
    old = load_records(baseline) if baseline is not None else None
    chosen = resolve_sets(settings, corpus, questions, sets, data_dir or default_data_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    report = EvalReport(run_dir=out_dir, rows=[], baseline=baseline)
    records: list[dict[str, Any]] = []
    for eval_set in chosen:
        report.inputs[eval_set.name] = eval_set.inputs
        set_records = _run_set(settings, eval_set, modes, answers, report)
        records.extend(set_records)
        for mode in modes:
            mine = [r for r in set_records if r["mode"] == mode]
            report.rows.append(
                ResultRow(
                    eval_set.name,
                    mode,
                    len(mine),
                    summarise(mine),
                    statistics.median(r["retrieval_ms"] for r in mine),
                )
            )
        for by in ("kind", "lang"):
            if len({r[by] for r in set_records}) > 1:
                report.breakdown[f"{eval_set.name} by {by}"] = breakdown(set_records, by)
    if old is not None:
        report.comparisons = compare_runs(old, records)
    write_outputs(report, records, settings)
    return report
