"""The metric code on fixtures small enough to score by hand."""

from __future__ import annotations

import math

import pytest

from coiassist.metrics import (
    answer_frame,
    answer_language_ok,
    bootstrap_ci,
    bootstrap_ratio_ci,
    citations_valid,
    contains_phrase,
    coverage_gains,
    distinct_in_order,
    hit_at_k,
    key_fact_recall,
    mrr_at_k,
    ndcg_at_k,
    paired_compare,
    pessimistic_order,
    score_ranking,
    sign_test_p,
    supported_rate,
)


def test_hit_at_k_counts_only_the_first_k() -> None:
    ranking = [False, False, True, False]
    assert hit_at_k(ranking, 1) == 0.0
    assert hit_at_k(ranking, 2) == 0.0
    assert hit_at_k(ranking, 3) == 1.0
    assert hit_at_k([], 5) == 0.0


def test_mrr_uses_the_first_relevant_rank_and_stops_at_k() -> None:
    assert mrr_at_k([False, True, True], 10) == 0.5
    assert mrr_at_k([False, False, False, True], 10) == 0.25
    assert mrr_at_k([False, False, False, True], 3) == 0.0


def test_tied_scores_are_ordered_against_the_system() -> None:
    # The relevant item shares the top score with two others: it ranks third, not first.
    relevant = [True, False, False, False]
    scores = [0.9, 0.9, 0.9, 0.1]
    order = pessimistic_order(relevant, scores)
    ranked = [relevant[i] for i in order]
    assert ranked == [False, False, True, False]
    assert mrr_at_k(ranked, 10) == pytest.approx(1 / 3)
    # Distinct scores keep their order.
    assert pessimistic_order([False, True], [0.9, 0.5]) == [0, 1]


def test_ndcg_matches_a_hand_computed_value() -> None:
    # Relevant at ranks 2 and 3 out of 2 relevant: DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3).
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k([0, 1, 1, 0], 10, 2) == pytest.approx(expected)
    assert ndcg_at_k([1, 0, 0], 10, 1) == 1.0
    assert ndcg_at_k([0, 0, 0], 10, 0) == 0.0


def test_a_repeated_gold_passage_earns_no_second_gain() -> None:
    # Two gold phrases (units 0 and 1); ranks 1 and 2 both contain unit 0, rank 3 holds unit 1.
    covers = [frozenset({0}), frozenset({0}), frozenset({1}), frozenset()]
    assert coverage_gains(covers) == [1.0, 0.0, 1.0, 0.0]
    scores = score_ranking(covers, n_units=2)
    assert scores.hit1 == 1.0
    assert scores.mrr10 == 1.0
    assert scores.ndcg10 == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))


def test_articles_are_ranked_by_their_first_passage() -> None:
    passages = ["a", "a", "b", "a", "c", "b"]
    assert distinct_in_order(passages) == ["a", "b", "c"]
    # Gold article "c" is the 5th passage but the 3rd distinct article.
    articles = distinct_in_order(passages)
    covers = [frozenset({0}) if art == "c" else frozenset() for art in articles]
    assert score_ranking(covers, n_units=1).mrr10 == pytest.approx(1 / 3)


def test_phrase_containment_ignores_case_and_spacing_but_not_word_edges() -> None:
    assert contains_phrase("Over  500+ VELFÆRDSINNOVATØRER", "500+ velfærdsinnovatører")
    assert contains_phrase("Han har fem VM-gull.", "fem")
    assert not contains_phrase("Han har femten VM-gull.", "fem")
    assert not contains_phrase("anything", "  ")
    assert contains_phrase("de franske kolonier", "fransk", whole_words=False)
    assert not contains_phrase("de franske kolonier", "fransk")


def test_bootstrap_interval_of_a_constant_is_that_constant() -> None:
    est = bootstrap_ci([0.7] * 25)
    assert est.n == 25
    assert est.mean == est.low == est.high == pytest.approx(0.7)


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible() -> None:
    values = [1.0] * 30 + [0.0] * 20
    first, second = bootstrap_ci(values), bootstrap_ci(values)
    assert first == second
    assert first.mean == pytest.approx(0.6)
    assert first.low < 0.6 < first.high
    # Roughly ±1.96·√(0.24/50) ≈ ±0.136 around the mean.
    assert 0.08 < first.high - first.mean < 0.2


def test_ratio_interval_pools_numerators_and_denominators() -> None:
    est = bootstrap_ratio_ci([1, 1, 0, 0], [1, 1, 1, 0])
    assert est.mean == pytest.approx(2 / 3)
    assert est.n == 3
    assert math.isnan(bootstrap_ratio_ci([0, 0], [0, 0]).mean)


def test_a_strictly_better_run_is_called_better() -> None:
    old = [0.0] * 30 + [1.0] * 10
    new = [1.0] * 40
    result = paired_compare(old, new)
    assert (result.wins, result.losses, result.ties) == (30, 0, 10)
    assert result.diff.mean == pytest.approx(0.75)
    assert result.diff.low > 0
    assert result.verdict == "better"
    assert result.p_sign == pytest.approx(2 * 0.5**30)
    assert paired_compare(new, old).verdict == "worse"


def test_identical_runs_show_no_difference() -> None:
    run = [1.0, 0.0, 1.0, 1.0]
    result = paired_compare(run, run)
    assert result.verdict == "no difference"
    assert result.p_sign == 1.0


def test_sign_test_is_exact_for_small_counts() -> None:
    # 5 wins, 0 losses: two-sided p = 2 · 0.5^5.
    assert sign_test_p(5, 0) == pytest.approx(0.0625)
    assert sign_test_p(3, 3) == 1.0


def test_key_fact_recall_is_the_share_of_facts_contained() -> None:
    answer = "Astrid  Krag åbnede dagen foran 500+ deltagere [1]."
    assert key_fact_recall(answer, [("astrid krag",), ("500",), ("Øksnehallen",)]) == pytest.approx(2 / 3)
    assert key_fact_recall(answer, [("Jin-dynastiet", "500")]) == 1.0  # any alternative counts
    assert key_fact_recall(answer, []) is None


def test_citation_markers_must_point_at_returned_citations() -> None:
    assert citations_valid("Svar [1] og [2].", [1, 2, 3])
    assert not citations_valid("Svar [1] og [4].", [1, 2, 3])
    assert citations_valid("Ingen kilder.", [])


def test_supported_rate_is_the_share_of_supported_sentences() -> None:
    assert supported_rate([True, False, True, True]) == 0.75
    assert supported_rate([]) is None


def test_answer_frame_drops_quoted_sentences_and_markers() -> None:
    source = "Prisen var en studietur til Norge. Besøket var digitalt."
    answer = "Ifølge kilden var det sådan: Prisen var en studietur til Norge. [1]"
    assert answer_frame(answer, [source]) == "Ifølge kilden var det sådan:"
    # A quoted line without a full stop still ends at its marker.
    heading = "Les mer om besøket her\n\nPrisen var en studietur til Norge."
    answer = "Ifølge artiklene: Les mer om besøket her [1] Prisen var en studietur til Norge. [1]"
    assert answer_frame(answer, [heading]) == "Ifølge artiklene:"


def test_answer_language_needs_the_declared_and_the_detected_frame_to_match() -> None:
    def always_danish(_text: str) -> str:
        return "da"

    assert answer_language_ok("nn", "nb", "", always_danish)  # nb and nn are both Norwegian
    assert not answer_language_ok("da", "nb", "", always_danish)
    long_frame = "Jeg fandt dette i kilderne om emnet"
    assert answer_language_ok("da", "da", long_frame, always_danish)
    assert not answer_language_ok("nb", "nb", long_frame, always_danish)
