"""The BM25 index over analysed chunks: search, masks, persistence, corruption, real retrieval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coiassist.analyzer import index_terms, query_terms
from coiassist.errors import IndexCorruptError
from coiassist.lexical import LexicalIndex

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

PASSAGES = {
    "velfaerd": ("Velfærdsinnovation i kommunerne skal gøre hjemmeplejen bedre.", "da"),
    "aarhus": ("Aarhus Kommune har åbnet et nyt bibliotek ved havnen.", "da"),
    "kbh": ("København satser på cykelstier og grønne tage.", "da"),
    "skole": ("Skolene i Bergen fikk nye nettbrett til elevene i høst.", "nb"),
    "kyr": ("Bøndene i dalen har sleppt kyrne ut på beite for sommaren.", "nn"),
}


@pytest.fixture
def index() -> LexicalIndex:
    ids = list(PASSAGES)
    return LexicalIndex.build(ids, [index_terms(text, lang) for text, lang in PASSAGES.values()])


def top_id(index: LexicalIndex, query: str, lang: str | None = None) -> str:
    hits = index.search(query_terms(query, lang), k=3)
    assert hits, f"no hit for {query!r}"
    return hits[0][0]


def test_compound_is_found_by_its_head_word(index: LexicalIndex) -> None:
    assert top_id(index, "Hvad sker der med innovation?", "da") == "velfaerd"


def test_old_and_new_spelling_find_the_same_city(index: LexicalIndex) -> None:
    assert top_id(index, "bibliotek i Århus") == "aarhus"
    assert top_id(index, "Kobenhavn") == "kbh"


def test_norwegian_question_finds_danish_passage(index: LexicalIndex) -> None:
    assert top_id(index, "Hva gjør kommunene med innovasjon i hjemmepleien?") == "velfaerd"


def test_nynorsk_passage_is_found_by_bokmal_question(index: LexicalIndex) -> None:
    assert top_id(index, "Når slipper bøndene kuene på beite?", "nb") == "kyr"


def test_results_are_sorted_and_cut_at_k(index: LexicalIndex) -> None:
    hits = index.search(query_terms("kommunerne skolene bibliotek cykelstier"), k=2)
    assert len(hits) == 2
    assert hits[0][1] >= hits[1][1] > 0


def test_unknown_terms_return_nothing(index: LexicalIndex) -> None:
    assert index.search(["zzzqqq", "#xqzq"], k=5) == []
    assert index.search([], k=5) == []


def test_allowed_mask_excludes_positions(index: LexicalIndex) -> None:
    allowed = np.array([i != "velfaerd" for i in index.ids])
    hits = index.search(query_terms("velfærdsinnovation i kommunerne"), k=5, allowed=allowed)
    assert "velfaerd" not in [h[0] for h in hits]


def test_empty_index_searches_saves_and_loads(tmp_path: Path) -> None:
    empty = LexicalIndex.build([], [])
    assert len(empty) == 0
    assert empty.search(["anything"], k=5) == []
    empty.save(tmp_path / "lex")
    assert LexicalIndex.load(tmp_path / "lex").search(["anything"], k=5) == []


def test_document_without_terms_is_indexed(tmp_path: Path) -> None:
    index = LexicalIndex.build(["a", "b"], [[], index_terms("cykelstier", "da")])
    assert [h[0] for h in index.search(query_terms("cykelsti"), k=5)] == ["b"]


def test_save_and_load_give_the_same_results(index: LexicalIndex, tmp_path: Path) -> None:
    target = tmp_path / "lex"
    index.save(target)
    index.save(target)  # replacing an existing index leaves no temporary folders behind
    assert [p.name for p in tmp_path.iterdir()] == ["lex"]
    loaded = LexicalIndex.load(target)
    assert loaded.ids == index.ids
    query = query_terms("kommunerne og skolene")
    assert loaded.search(query, k=5) == index.search(query, k=5)


def test_missing_directory_is_reported_as_corrupt(tmp_path: Path) -> None:
    with pytest.raises(IndexCorruptError, match="rebuild"):
        LexicalIndex.load(tmp_path / "nowhere")


def test_missing_matrix_file_is_reported_as_corrupt(index: LexicalIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "lex")
    (tmp_path / "lex" / "indptr.csc.index.npy").unlink()
    with pytest.raises(IndexCorruptError, match=r"indptr"):
        LexicalIndex.load(tmp_path / "lex")


def test_truncated_matrix_file_is_reported_as_corrupt(index: LexicalIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "lex")
    data = tmp_path / "lex" / "data.csc.index.npy"
    data.write_bytes(data.read_bytes()[:20])
    with pytest.raises(IndexCorruptError):
        LexicalIndex.load(tmp_path / "lex")


def test_id_count_mismatch_is_reported_as_corrupt(index: LexicalIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "lex")
    (tmp_path / "lex" / "ids.json").write_text(json.dumps(["only-one"]), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="1 ids"):
        LexicalIndex.load(tmp_path / "lex")


def load_jsonl(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.skipif(not DATA.is_dir(), reason="dev data (shared/data) is not beside the repository")
def test_dev_questions_find_their_passages_among_distractors() -> None:
    docs = load_jsonl("norquad-dev-docs.jsonl")[:25] + load_jsonl("da-qa-dev-docs.jsonl")[:25]
    docs += load_jsonl("ud-docs-da.jsonl")[:40] + load_jsonl("ud-docs-nb.jsonl")[:20]
    index = LexicalIndex.build(
        [d["id"] for d in docs], [index_terms(d["title"] + "\n" + d["text"], d["lang"]) for d in docs]
    )
    known = set(index.ids)
    questions = [
        q for q in load_jsonl("norquad-dev.jsonl") + load_jsonl("da-qa-dev.jsonl") if q["context_id"] in known
    ]
    assert len(questions) > 50
    found = sum(
        q["context_id"] in [h[0] for h in index.search(query_terms(q["question"]), k=5)] for q in questions
    )
    assert found / len(questions) >= 0.9


def test_documents_without_any_terms_find_nothing() -> None:
    index = LexicalIndex.build(["a", "b"], [[], []])
    assert len(index) == 2
    assert index.search(query_terms("noget som helst"), k=5) == []


def test_emphasised_name_outweighs_common_words_it_would_lose_to() -> None:
    passages = {
        "kirke": "Kirken blev kritiseret af mange borgere.",
        "lortie": "Andrew Lortie var kendt for sin kritik af paven og kirken.",
        "byen": "Byen havde mange præster.",
        "paven": "Paven besøgte London.",
        "messen": "Messen varede to timer.",
        "skolen": "Skolen fik nye bøger.",
    }
    index = LexicalIndex.build(list(passages), [index_terms(t, "da") for t in passages.values()])
    question = query_terms("Hvad kritiserede Lortie ved kirken?")
    plain = index.search(question, k=3)
    assert [hit[0] for hit in plain[:2]] == ["kirke", "lortie"]  # two shared words beat the name
    stressed = index.search(question, k=3, emphasis=query_terms("Lortie"), emphasis_weight=0.75)
    assert [hit[0] for hit in stressed[:2]] == ["lortie", "kirke"]
    # A weight of 0 changes nothing.
    assert index.search(question, k=3, emphasis=query_terms("Lortie")) == plain
