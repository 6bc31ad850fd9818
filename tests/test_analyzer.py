"""The Danish/Norwegian analyzer: normalisation, stems, stopwords, compounds, cross-language queries."""

from __future__ import annotations

from coiassist.analyzer import NGRAM_PREFIX, content_stems, index_terms, normalize, query_terms, tokenize


def stems(terms: list[str]) -> list[str]:
    return [t for t in terms if not t.startswith(NGRAM_PREFIX)]


def test_danish_inflections_share_a_stem() -> None:
    assert stems(index_terms("innovationer", "da")) == stems(index_terms("innovationen", "da"))
    assert stems(index_terms("innovationer", "da")) == ["innovation"]


def test_norwegian_inflections_share_a_stem() -> None:
    assert stems(index_terms("innovasjonen", "nb")) == stems(index_terms("innovasjoner", "nb"))
    assert set(stems(query_terms("innovasjon", "nb"))) >= set(stems(index_terms("innovasjonen", "nb")))


def test_norwegian_agent_nouns_share_one_stem_in_every_form() -> None:
    # Snowball alone gives "ordfør" for the indefinite singular but "ordfører" for the definite
    # and "lederne" → "ledern" for the definite plural.
    for forms in ("ordfører ordføreren ordførere ordførerne", "leder lederen ledere lederne"):
        assert len({tuple(stems(index_terms(w, "nb"))) for w in forms.split()}) == 1, forms
    assert stems(index_terms("ordføraren", "nn")) == stems(index_terms("ordføreren", "nb"))
    assert set(stems(query_terms("politikerne", "nb"))) & set(stems(index_terms("politikere", "nb")))
    # Only inflected forms lose the ending: "kamera" and the name "Byrara" keep their letters.
    assert stems(index_terms("kamera Byrara", "nn")) == ["kamer", "byrar"]


def test_nynorsk_plural_meets_bokmal_plural() -> None:
    assert stems(index_terms("kommunane", "nn")) == stems(index_terms("kommunene", "nb"))


def test_compound_shares_ngrams_with_its_head_word() -> None:
    compound = set(index_terms("velfærdsinnovation", "da"))
    query = query_terms("innovation", "da")
    grams = [t for t in query if t.startswith(NGRAM_PREFIX)]
    # All but the word-initial n-gram ("_inn") of the query word occur inside the compound.
    assert sum(g in compound for g in grams) == len(grams) - 1


def test_old_aa_spelling_matches_aa_letter() -> None:
    assert normalize("Aarhus") == normalize("Århus") == "århus"
    assert normalize("Aabenraa") == "åbenrå"
    assert index_terms("Aarhus", "da") == index_terms("Århus", "da")


def test_aa_inside_a_word_is_left_alone() -> None:
    # Inside a word "aa" is usually a compound seam (data|analyse), not an old å.
    assert normalize("dataanalyse") == "dataanalyse"


def test_ascii_o_for_oe_is_not_folded() -> None:
    # Mapping o→ø would merge real words (for/før, mode/møde); "Kobenhavn" is left to the n-grams.
    assert normalize("Kobenhavn") != normalize("København")
    shared = set(index_terms("København", "da")) & set(query_terms("Kobenhavn"))
    assert any(t.startswith(NGRAM_PREFIX) for t in shared)


def test_german_and_swedish_umlauts_fold_to_nordic_letters() -> None:
    assert normalize("Bärentsen Öresund") == normalize("Bærentsen Øresund")
    assert normalize("idé café") == "ide cafe"


def test_tokenize_keeps_numbers_and_drops_punctuation() -> None:
    assert tokenize("Den 27. maj 2020 steg prisen 1,5 procent!") == [
        "den", "27", "maj", "2020", "steg", "prisen", "1,5", "procent",
    ]  # fmt: skip


def test_tokenize_splits_hyphens_and_drops_possessive_s() -> None:
    assert tokenize("NTB's VM-gull") == ["ntb", "vm", "gull"]


def test_stopwords_are_removed_in_all_three_languages() -> None:
    assert index_terms("og det er i en af dem", "da") == []
    assert index_terms("hva er det som ikke kan", "nb") == []
    assert index_terms("eg veit ikkje kva dei", "nn") == index_terms("veit", "nn")


def test_question_words_of_either_language_are_dropped_from_queries() -> None:
    assert stems(query_terms("Hvad hva hvem kven hvilken", "nb")) == []


def test_unknown_query_language_gets_both_stems() -> None:
    da_stem = stems(index_terms("løysingane", "da"))
    no_stem = stems(index_terms("løysingane", "nb"))
    assert da_stem != no_stem
    assert set(stems(query_terms("løysingane"))) == set(da_stem + no_stem)


def test_query_terms_are_unique() -> None:
    terms = query_terms("innovation innovation innovationen", "da")
    assert len(terms) == len(set(terms))


def test_content_stems_have_no_ngrams_and_no_stopwords() -> None:
    assert content_stems("Kommunerne har mange innovationer", "da") == ["kommun", "innovation"]
    assert content_stems("Kommunane har mange innovasjonar", "nn") == ["kommun", "innovasjon"]


def test_joined_content_stems_add_hyphenated_words_written_as_one() -> None:
    text = "tankegangen rundt Utenfor-regnskapet i 2020-tallet"
    assert content_stems(text, "nb") == ["tankegang", "rund", "utenfor", "regnskap", "2020", "tall"]
    assert content_stems(text, "nb", joined=True)[-1:] == ["utenforregnskap"]  # not "2020tall"


def test_nynorsk_noreg_and_norge_find_each_other() -> None:
    # Nynorsk writes "Noreg" for Norway; Bokmål and Danish write "Norge".
    assert set(query_terms("Norge")) <= set(query_terms("Kvifor ser danskar til Noreg?"))
    assert set(query_terms("Noreg")) <= set(query_terms("Hvorfor ser danskere til Norge?"))
    assert content_stems("Noregs kommunar", "nn")[0] == content_stems("Norges kommuner", "nb")[0]
