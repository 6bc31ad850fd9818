"""The eval runner: question files, gold matching, set conversion, comparison, and a real small run."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from coiassist.config import Settings
from coiassist.errors import ConfigError
from coiassist.evaluation import (
    EvalItem,
    compare_runs,
    external_set,
    format_table,
    gold_problems,
    load_questions,
    parse_item,
    repo_root,
    retrieval_query,
    run_eval,
    score_passages,
)
from coiassist.ingest import read_corpus
from coiassist.models import Passage


def _passage(article: str, ordinal: int, text: str, score: float) -> Passage:
    return Passage(
        chunk_id=f"{article}:{ordinal}",
        article_id=article,
        ordinal=ordinal,
        title="",
        text=text,
        lang="da",
        start=0,
        end=len(text),
        score=score,
    )


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_handwritten_and_squad_rows_parse_to_gold_units() -> None:
    mine = parse_item(
        {
            "id": "q1",
            "question": "Hvem?",
            "gold_article": ["a", "b"],
            "gold_passage": ["første", "anden"],
            "key_facts": ["x", "y"],
            "lang": "da",
            "history": [{"role": "user", "content": "Før"}, {"role": "assistant", "content": "Svar"}],
        },
        "f:1",
    )
    assert mine.gold_articles == ("a", "b")
    assert mine.gold_units == (("første",), ("anden",))  # both passages are needed
    assert mine.key_facts == (("x",), ("y",))
    squad = parse_item(
        {"id": "s", "question": "Hvornår?", "answers": ["1215", "i 1215"], "context_id": "c"}, "f:2"
    )
    assert squad.gold_articles == ("c",)
    assert squad.gold_units == (("1215", "i 1215"),)  # alternatives of one unit
    assert squad.key_facts == (("1215", "i 1215"),)


def test_eval_searches_for_what_the_chat_searches_for() -> None:
    def item(question: str, history: list[dict[str, str]] | None = None) -> EvalItem:
        row = {"id": "q", "question": question, "gold_article": "a", "lang": "da"}
        return parse_item({**row, "history": history or []}, "f:1")

    assert retrieval_query(item("Opsummer artiklen om de danske prisvindere"), "da") == "danske prisvindere"
    assert retrieval_query(item("Hvad siger artiklen om Astrid Krag?"), "da") == "Hvad om Astrid Krag?"
    follow_up = item(
        "Hvem talte der?",
        [
            {"role": "user", "content": "Hvad skete på Velfærdens Innovationsdag?"},
            {"role": "assistant", "content": "…"},
        ],
    )
    assert "Velfærdens Innovationsdag" in retrieval_query(follow_up, "da")


def test_bad_question_files_are_refused_with_their_line(tmp_path: Path) -> None:
    no_gold = _write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "question": "Hvad?"}])
    with pytest.raises(ConfigError, match=r"a\.jsonl:1: an answerable question needs"):
        load_questions(no_gold)
    twice = _write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"id": "1", "question": "Hvad?", "abstain": True},
            {"id": "1", "question": "Hvem?", "abstain": True},
        ],
    )
    with pytest.raises(ConfigError, match="occurs twice"):
        load_questions(twice)


def test_a_passage_counts_only_in_a_gold_article_holding_the_phrase() -> None:
    item = parse_item(
        {"id": "q", "question": "?", "gold_article": "gold", "gold_passage": "500+ deltagere"}, "f:1"
    )
    ranked = [
        _passage("other", 0, "Der var 500+ deltagere i Oslo.", 0.9),  # right phrase, wrong article
        _passage("gold", 3, "Programmet blev lagt om.", 0.8),
        _passage("gold", 1, "Over  500+ DELTAGERE mødte op.", 0.7),
    ]
    scores = score_passages(item, ranked)
    assert scores["passage"] == {"hit1": 0.0, "hit5": 1.0, "mrr10": pytest.approx(1 / 3), "ndcg10": 0.5}
    # Article level: "other" first, "gold" second.
    assert scores["article"] is not None
    assert scores["article"]["mrr10"] == 0.5


def test_a_tie_with_another_article_counts_against_the_system() -> None:
    item = parse_item({"id": "q", "question": "?", "gold_article": "gold", "gold_passage": "fem"}, "f:1")
    tied = [_passage("gold", 0, "Han har fem VM-gull.", 0.5), _passage("other", 0, "Noe annet.", 0.5)]
    scores = score_passages(item, tied)
    assert scores["passage"] is not None
    assert scores["article"] is not None
    assert scores["passage"]["mrr10"] == 0.5
    assert scores["article"]["mrr10"] == 0.5


def test_an_unanswerable_item_has_no_ranking_scores() -> None:
    item = parse_item({"id": "u", "question": "Hvad kostede billetten?", "abstain": True}, "f:1")
    assert score_passages(item, [_passage("a", 0, "tekst", 1.0)]) == {"passage": None, "article": None}


def test_handwritten_set_labels_match_the_corpus() -> None:
    items = load_questions(repo_root() / "evals" / "handwritten.jsonl")
    articles, failures = read_corpus(repo_root() / "corpus")
    assert not failures
    texts = {a.id: a.text for a in articles}
    assert {"000_74ad8f97b165a93f", "003_bdb09a8fcfa0e7c3"} <= texts.keys()
    assert gold_problems(items, texts) == []
    # Every key fact is verbatim in a gold article (the extractive backend can only quote).
    for item in items:
        body = "\n".join(texts[a] for a in item.gold_articles)
        assert all(fact[0] in body for fact in item.key_facts), item.id
    kinds = Counter(i.kind for i in items)
    langs = Counter(i.lang for i in items)
    assert len(items) >= 40
    assert kinds["unanswerable"] >= 8
    assert set(kinds) == {
        "lexical",
        "paraphrase",
        "cross-language",
        "multi-passage",
        "follow-up",
        "unanswerable",
    }
    assert min(langs["da"], langs["nb"] + langs["nn"]) >= 0.4 * len(items)
    assert all(i.history for i in items if i.kind == "follow-up")


def test_gold_problems_name_missing_articles_and_phrases() -> None:
    items = [
        parse_item({"id": "1", "question": "?", "gold_article": "x", "gold_passage": "findes"}, "f:1"),
        parse_item({"id": "2", "question": "?", "gold_article": "a", "gold_passage": "findes ikke"}, "f:2"),
    ]
    problems = gold_problems(items, {"a": "Denne tekst findes."})
    assert problems == [
        "1: gold article(s) x not in the corpus",
        "2: gold phrase 'findes ikke' not found in its article(s)",
    ]


def _fake_data(folder: Path) -> Path:
    folder.mkdir()
    _write_jsonl(
        folder / "norquad-dev.jsonl",
        [
            {
                "id": "n1",
                "question": "Hvor mange VM-gull har Svindal?",
                "answers": ["fem"],
                "context_id": "d1",
                "lang": "nb",
            }
        ],
    )
    _write_jsonl(
        folder / "norquad-dev-docs.jsonl",
        [{"id": "d1", "title": "Svindal", "text": "Svindal har fem VM-gull.", "lang": "nb", "source": "x"}],
    )
    for lang in ("da", "nb", "nn"):
        _write_jsonl(
            folder / f"ud-docs-{lang}.jsonl",
            [
                {
                    "id": f"ud-{lang}",
                    "title": "Første linje",
                    "text": "Første linje. Mere.",
                    "lang": lang,
                    "source": "y",
                }
            ],
        )
    return folder


def test_external_set_becomes_an_articles_file_rebuilt_only_when_inputs_change(tmp_path: Path) -> None:
    data = _fake_data(tmp_path / "data")
    home = tmp_path / "home"
    first = external_set("norquad", data, home)
    rows = [json.loads(line) for line in first.corpus.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["d1", "ud-da", "ud-nb", "ud-nn"]
    assert rows[0] == {
        "id": "d1",
        "title": "Svindal",
        "text": "Svindal\nSvindal har fem VM-gull.",
        "lang": "nb",
    }
    stamp = first.corpus.stat().st_mtime_ns
    assert external_set("norquad", data, home).corpus.stat().st_mtime_ns == stamp
    _write_jsonl(data / "ud-docs-nn.jsonl", [{"id": "ud-nn2", "title": "T", "text": "T. U.", "lang": "nn"}])
    again = external_set("norquad", data, home)
    assert "ud-nn2" in again.corpus.read_text(encoding="utf-8")
    assert again.inputs["ud-docs-nn.jsonl"] != first.inputs["ud-docs-nn.jsonl"]


def test_missing_external_data_says_where_to_point(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="COIASSIST_EVAL_DATA"):
        external_set("squad-da", tmp_path, tmp_path / "home")


def _record(qid: str, hit: float, mode: str = "bm25") -> dict[str, object]:
    scores = {"hit1": hit, "hit5": hit, "mrr10": hit, "ndcg10": hit}
    return {"set": "s", "mode": mode, "id": qid, "passage": scores, "article": scores, "answer": None}


def test_comparison_calls_a_strictly_better_run_better_per_mode() -> None:
    # bm25 improves on 12 of 20 questions; dense stays the same (and is worse than bm25 throughout).
    old = [_record(f"q{i}", 0.0 if i < 12 else 1.0) for i in range(20)]
    old += [_record(f"q{i}", 0.0, "dense") for i in range(20)]
    new = [_record(f"q{i}", 1.0) for i in range(20)] + [_record(f"q{i}", 0.0, "dense") for i in range(20)]
    rows = {(r.mode, r.metric): r.result for r in compare_runs(old, new)}
    assert rows[("bm25", "passage.hit5")].verdict == "better"
    assert (rows[("bm25", "passage.hit5")].wins, rows[("bm25", "passage.hit5")].losses) == (12, 0)
    assert rows[("dense", "passage.hit5")].verdict == "no difference"
    assert rows[("dense", "passage.hit5")].ties == 20
    assert {r.result.verdict for r in compare_runs(new, new)} == {"no difference"}


# ---- a real run: real articles, real model, real index -------------------------------------


def _question(
    qid: str, question: str, lang: str, article: str = "", phrase: str = "", **extra: object
) -> dict[str, object]:
    row: dict[str, object] = {"id": qid, "question": question, "lang": lang, **extra}
    if article:
        row.update(gold_article=article, gold_passage=phrase)
    return row


QUESTIONS = [
    _question("da-1", "Hvor mange penge brugte Aarhus Kommune på velfærdsteknologi?", "da",
              "velfaerd", "12 millioner kroner", key_facts=["12 millioner"]),
    _question("nb-1", "Hvor lenge har Asker testet tillitsreformen?", "nb",
              "tillid", "i tre år sammen med KS", key_facts=["tre år"]),
    _question("nn-1", "Kor mange prosjekt har senteret i Volda hjelpt?", "nn",
              "nynorsk", "over 40 prosjekt", key_facts=["40"]),
    _question("fu-1", "Hvornår åbnede det?", "da", "nynorsk", "opna i 2019", history=[
        {"role": "user", "content": "Hvad har Volda og højskolen lavet sammen?"},
        {"role": "assistant", "content": "Et senter for tenesteinnovasjon [1]."},
    ]),
    _question("u-1", "Hvad koster en robotplæneklipper i Odense?", "da", abstain=True),
]  # fmt: skip


def test_eval_run_scores_a_small_corpus_in_every_mode_and_compares_with_itself(
    tmp_path: Path, corpus: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    questions = _write_jsonl(tmp_path / "mine.jsonl", QUESTIONS)
    report = run_eval(
        settings, corpus, questions, tmp_path / "run1", modes=("bm25", "dense", "hybrid"), answers=True
    )

    assert [(r.set, r.mode, r.questions) for r in report.rows] == [
        ("mine", "bm25", 5), ("mine", "dense", 5), ("mine", "hybrid", 5)
    ]  # fmt: skip
    assert report.problems["mine"] == []
    bm25 = report.rows[0].scores
    assert bm25["passage.hit5"].n == 4  # the unanswerable item is not ranked
    assert bm25["passage.hit5"].mean == 1.0  # lexical questions over three short articles
    assert bm25["article.hit1"].mean == 1.0
    # Answers from the real assistant (offline extractive backend): markers must point at citations.
    assert bm25["answer.citations_valid"].mean == 1.0
    assert bm25["answer.key_facts"].n == 3  # the items with key facts
    assert bm25["answer.language_ok"].n == 5
    assert bm25["answer.abstain_recall"].n == 1
    lines = (tmp_path / "run1" / "per_question.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 15
    follow_up = next(r for r in records if r["id"] == "fu-1")
    assert "Volda" in follow_up["query"]  # the chat's offline follow-up rewrite
    da_1 = next(r for r in records if r["id"] == "da-1" and r["mode"] == "bm25")
    assert "12 millioner" in da_1["answer"]["text"]
    assert da_1["answer"]["key_facts"] == 1.0
    assert (tmp_path / "run1" / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "run1" / "summary.json").read_text(encoding="utf-8"))
    assert summary["inputs"]["mine"]["mine.jsonl"] == report.inputs["mine"]["mine.jsonl"]
    assert "| mine | hybrid | 5 |" in (tmp_path / "run1" / "report.md").read_text(encoding="utf-8")
    table = format_table(report)
    assert table.splitlines()[0].split()[:3] == ["set", "mode", "n"]

    again = run_eval(
        settings, corpus, questions, tmp_path / "run2", modes=("bm25",), baseline=tmp_path / "run1"
    )
    assert again.index["mine"]["unchanged"] == 3  # the eval home's index is reused
    assert again.comparisons
    assert {c.mode for c in again.comparisons} == {"bm25"}
    assert {c.result.verdict for c in again.comparisons} == {"no difference"}
    assert "compared with" in format_table(again)
