"""The citation checker: sentence spans, markers, support verdicts, policies and highlight spans."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coiassist.citations import (
    FLAG,
    SUPPORT_THRESHOLD,
    StemSet,
    apply_policy,
    check_answer,
    name_found,
    parse_markers,
    split_sentences,
    strip_invalid_markers,
    support_span,
)
from coiassist.errors import ConfigError
from coiassist.phrases import PHRASES, is_frame_phrase, phrases_for

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ARTICLE = (CORPUS / "000_74ad8f97b165a93f.txt").read_text(encoding="utf-8")
NORWEGIAN = (CORPUS / "003_bdb09a8fcfa0e7c3.txt").read_text(encoding="utf-8")

OKSNEHALLEN = (
    "Øksnehallen summede med energi fra 500+ velfærdsinnovatører på Velfærdens Innovationsdag "
    "torsdag den 27. februar."
)
KRAG = "Som repræsentant for regeringen reflekterede Social- og Indenrigsminister Astrid Krag (S) over nærhed"
BOURGON = "Den ny syntese kalder Jocelyne Bourgon rammen for, hvordan vi kan styre den offentlige sektor"


def paragraph(start: str) -> str:
    return next(p for p in ARTICLE.split("\n") if p.startswith(start))


PASSAGES = {1: paragraph("Øksnehallen"), 2: paragraph(KRAG), 3: paragraph(BOURGON)}


def texts(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_abbreviations_and_ordinal_dates_do_not_end_sentences() -> None:
    text = "Astrid Krag åbnede dagen med en tale om bl.a. nærhed den 27. februar. Det gik fx. godt, jf. COI."
    assert texts(text) == [
        "Astrid Krag åbnede dagen med en tale om bl.a. nærhed den 27. februar.",
        "Det gik fx. godt, jf. COI.",
    ]


def test_initials_do_not_end_sentences() -> None:
    text = "Prisen blev givet af H.C. Jensen og K. Olsen fra Aarhus. De talte i en time. Så kom pausen."
    assert texts(text) == [
        "Prisen blev givet af H.C. Jensen og K. Olsen fra Aarhus.",
        "De talte i en time.",
        "Så kom pausen.",
    ]


def test_line_breaks_and_quote_dashes_start_sentences() -> None:
    lines = texts(NORWEGIAN)
    assert lines[0].startswith("De små nyanseforskjellene")
    assert any(line.startswith("- De små nyanseforskjellene skjerper") for line in lines)
    assert "Lene Krogh Jeppesen, COI" in lines


def test_markers_after_the_full_stop_stay_with_their_sentence() -> None:
    answer = (
        f"{PHRASES['da'].lead_in}\n\n{OKSNEHALLEN} [1] Astrid Krag holdt tale [2, 3]. Det var godt.[1][3]"
    )
    assert texts(answer) == [
        PHRASES["da"].lead_in,
        f"{OKSNEHALLEN} [1]",
        "Astrid Krag holdt tale [2, 3].",
        "Det var godt.[1][3]",
    ]
    assert parse_markers(answer) == [
        (PHRASES["da"].lead_in, ()),
        (OKSNEHALLEN, (1,)),
        ("Astrid Krag holdt tale.", (2, 3)),
        ("Det var godt.", (1, 3)),
    ]


def test_markers_of_unknown_sources_are_stripped() -> None:
    answer = "Første [1]. Anden [7]. Tredje [2, 9]. Fjerde [3][8]."
    assert strip_invalid_markers(answer, {1, 2, 3}) == "Første [1]. Anden. Tredje [2]. Fjerde [3]."


def test_verbatim_quote_is_supported() -> None:
    (check,) = check_answer(f"{OKSNEHALLEN} [1]", PASSAGES, "da")
    assert check.supported and check.support == 1.0 and check.keys == (1,) and check.missing == ()


def test_sentence_citing_the_wrong_passage_is_unsupported() -> None:
    (check,) = check_answer(f"{OKSNEHALLEN} [3]", PASSAGES, "da")
    assert not check.supported
    assert check.support < SUPPORT_THRESHOLD
    assert "500" in check.missing and "27" in check.missing


def test_changed_number_is_reported_missing() -> None:
    (check,) = check_answer(f"{OKSNEHALLEN.replace('500+', '600')} [1]", PASSAGES, "da")
    assert not check.supported
    assert check.missing == ("600",)


def test_changed_name_is_reported_missing() -> None:
    sentence = "Som repræsentant for regeringen talte minister Mette Frederiksen om nærhed [2]."
    (check,) = check_answer(sentence, PASSAGES, "da")
    assert not check.supported
    assert check.missing == ("Mette", "Frederiksen")


SKY = (
    "Da Sky Digital blev lanceret i 1998, brugte den nye tjeneste Astra 2A-satellitten, som lå på "
    "28.5°E, og senere Eutelsat 33C."
)


def test_a_letter_inside_a_code_is_no_name_of_its_own() -> None:
    # "2A" and "33C" are codes, checked as numbers: the "A" and "C" alone are not names to look for.
    (check,) = check_answer(f"{SKY} [1]", {1: SKY}, "da")
    assert check.supported and check.missing == ()
    (changed,) = check_answer(f"{SKY.replace('2A', '2B')} [1]", {1: SKY}, "da")
    assert not changed.supported and changed.missing == ("2b",)


RIEMANN = "Riemann hypotese fra 1859 handler om primtal. Basel problem blev løst af Euler."


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("Riemann-hypotesen", True),  # the inflected common noun of a hyphenated name
        ("Basel-problemet", True),
        ("Riemann-formodningen", False),  # another noun
        ("Basel-problemløsningen", False),  # more than an ending
        ("Goldbach-hypotesen", False),  # another name
    ],
)
def test_hyphenated_name_is_found_with_its_noun_inflected(name: str, found: bool) -> None:
    assert name_found(name, RIEMANN) is found


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("Warszawapagtens", True),  # a name and an inflected noun the text writes apart
        ("Guisehus", True),  # in either order
        ("Vestbanen", False),  # "vest" is no name in the text
        ("Warszawaplanen", False),  # "planen" is not in the text
    ],
)
def test_compound_name_is_found_where_the_text_writes_it_apart(name: str, found: bool) -> None:
    text = "Øst mod vest gik banen. Krigsplanen kom fra Warszawa pagt, skrev hertugen af hus Guise."
    assert name_found(name, text) is found


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("COI", True),  # Center for Offentlig Innovation
        ("KL", True),  # Kommunernes Landsforening
        ("NY", True),  # New York, part of a longer run
        ("CO", True),
        ("KOI", False),
        ("DR", False),  # no such run
    ],
)
def test_abbreviation_is_found_by_the_initials_of_capitalised_words(name: str, found: bool) -> None:
    text = "Center for Offentlig Innovation og Kommunernes Landsforening mødtes i New York City i går."
    assert name_found(name, text) is found


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("Nærhedsreformen", True),  # the definite form of "nærhedsreform"
        ("Velferdslaben", True),
        ("Jensen", False),  # a surname, not "Jens" made definite
        ("Frederiksen", False),  # nor the genitive "Frederiks"
        ("Reformen", False),  # too short a stem to tell from a name
    ],
)
def test_one_word_name_may_be_a_noun_of_the_text_in_its_definite_form(name: str, found: bool) -> None:
    text = "Den kommende nærhedsreform og Asker Velferdslab. Jens talte om Frederiks reform."
    assert name_found(name, text) is found


def test_uncited_sentence_is_unsupported_but_frame_phrases_are_exempt() -> None:
    answer = f"{PHRASES['nn'].lead_in}\n\n{OKSNEHALLEN}\n\n{PHRASES['nn'].refusal}"
    lead, uncited, refusal = check_answer(answer, PASSAGES, "nn")
    assert lead.supported and refusal.supported
    assert not uncited.supported and uncited.keys == ()


def test_citation_of_a_missing_source_supports_nothing() -> None:
    (check,) = check_answer(f"{OKSNEHALLEN} [9]", PASSAGES, "da")
    assert not check.supported and check.support == 0.0


def test_norwegian_wording_is_supported_by_the_danish_passage() -> None:
    sentence = "Øksnehallen summet med energi fra 500+ velferdsinnovatører på Velferdens Innovasjonsdag [1]."
    (check,) = check_answer(sentence, PASSAGES, "nb")
    assert check.supported, check


def test_claim_that_writes_a_hyphenated_compound_as_one_word_is_supported() -> None:
    passage = {1: "Dette er også tankegangen rundt Utenfor-regnskapet og Asker Velferdslab."}
    (check,) = check_answer("Tankegangen rundt Utenforregnskapet [1].", passage, "nb")
    assert check.supported and check.support == 1.0, check


def test_stem_matching_bridges_spelling_not_unrelated_words() -> None:
    stems = StemSet(["innovation", "velfærd", "åbn", "kvartalsrapport"])
    assert all(s in stems for s in ["innovasjon", "velferd", "åpn", "rapport"])
    assert "journalist" not in StemSet(["journey"])
    assert "2018" not in StemSet(["2019"])


ANSWER = f"{PHRASES['da'].lead_in}\n\n{OKSNEHALLEN} [1] Astrid Krag sagde nej til 900 nye love. [2]"


def test_drop_policy_removes_unsupported_sentences() -> None:
    checks = check_answer(ANSWER, PASSAGES, "da")
    assert [c.supported for c in checks] == [True, True, False]
    assert apply_policy(ANSWER, checks, "drop") == f"{PHRASES['da'].lead_in}\n\n{OKSNEHALLEN} [1]"


def test_flag_policy_marks_unsupported_sentences() -> None:
    checks = check_answer(ANSWER, PASSAGES, "da")
    flagged = apply_policy(ANSWER, checks, "flag")
    assert flagged == f"{ANSWER} {FLAG}"
    # The flag is not a marker: the flagged answer parses to the same sentences and keys.
    assert parse_markers(flagged) == parse_markers(ANSWER)


def test_nothing_supported_leaves_nothing() -> None:
    answer = f"{PHRASES['da'].lead_in}\n\nAstrid Krag sagde nej til 900 nye love. [2]"
    assert apply_policy(answer, check_answer(answer, PASSAGES, "da"), "drop") == ""


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        apply_policy(ANSWER, check_answer(ANSWER, PASSAGES, "da"), "ignore")


def test_support_span_points_at_the_quoted_sentence() -> None:
    passage = PASSAGES[1]
    start, end = support_span(f"{OKSNEHALLEN} [1]", passage, "da") or (0, 0)
    assert passage[start:end] == OKSNEHALLEN


def test_support_span_finds_the_paraphrased_sentence() -> None:
    passage = PASSAGES[3]
    span = support_span(
        "Jocelyne Bourgon kalder rammen for styring af den offentlige sektor den ny syntese.", passage, "da"
    )
    assert span is not None
    assert passage[span[0] : span[1]].startswith("Den ny syntese kalder Jocelyne Bourgon")


def test_support_span_is_none_for_an_unrelated_sentence() -> None:
    assert support_span("Haaland scoret tre mål mot Brighton.", PASSAGES[1], "nb") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Æø.!?\n\t[]12-«»'\"")), max_size=120) | st.text(max_size=80))
def test_sentence_spans_are_ordered_disjoint_and_cover_all_text(text: str) -> None:
    spans = split_sentences(text)
    covered = set()
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        covered.update(range(start, end))
        previous_end = end
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@settings(max_examples=100, deadline=None)
@given(
    answer=st.text(alphabet=st.sampled_from(list("Astrid Krag 500+ [1] [2, 3]. \nøÆ?")), max_size=100),
    passage=st.text(max_size=100),
)
def test_check_answer_never_fails_and_support_is_a_share(answer: str, passage: str) -> None:
    checks = check_answer(answer, {1: passage, 2: ARTICLE[:300]}, "da")
    for check in checks:
        assert 0.0 <= check.support <= 1.0
        if check.supported and not is_frame_phrase(check.text):
            assert check.support >= SUPPORT_THRESHOLD and not check.missing and check.keys
    for policy in ("drop", "flag"):
        apply_policy(answer, checks, policy)


def test_phrases_follow_the_language() -> None:
    assert phrases_for("nn").sources == "Kjelder"
    assert phrases_for("no").refusal == PHRASES["nb"].refusal
    assert phrases_for("sv") == PHRASES["da"]


def test_spelt_alike_allows_an_edit_or_two_by_length() -> None:
    known = StemSet(["prosjekt", "kaffe", "vant"])
    assert "projek" not in known  # not the same word to the support check
    assert known.spelt_alike("projek")  # two edits, six letters
    assert known.spelt_alike("vandt")  # one edit
    assert not known.spelt_alike("klima")
    assert known.spelt_alike("kafe")  # one edit, four letters
    assert not known.spelt_alike("ka")  # too short to say


def test_noreg_is_the_nynorsk_name_of_norge() -> None:
    assert name_found("Noreg", "Premien var en studietur til Norge.")
    assert name_found("Norge", "Premien var ei studiereise til Noreg.")
    assert not name_found("Noreg", "Premien var en studietur til Sverige.")
