"""Language detection on real Danish, Bokmål and Nynorsk text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from coiassist.language import detect_language, detect_question_language, language_posterior

REPO = Path(__file__).resolve().parents[1]
# CI and developers have the shared folder beside the clone; elsewhere the dev-data test skips.
SHARED_DATA = REPO.parent / "shared" / "data"

NYNORSK = (
    "Kommunen har ikkje fått nok pengar til å byggje ut tenestene, og dei tilsette seier at dei "
    "berre rekk det mest naudsynte. Eg trur det er viktig at vi får høyre kva brukarane meiner."
)
BOKMAL = (
    "Kommunen har ikke fått nok penger til å bygge ut tjenestene, og de ansatte sier at de bare "
    "rekker det mest nødvendige. Jeg tror det er viktig at vi får høre hva brukerne mener."
)
DANISH = (
    "Kommunen har ikke fået penge nok til at udbygge tilbuddene, og medarbejderne siger, at de kun "
    "når det mest nødvendige. Jeg tror, det er vigtigt, at vi hører, hvad borgerne mener."
)


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+|\n", text.strip())


def _first_sentence(text: str) -> str:
    return _sentences(text)[0]


def test_the_three_written_standards_are_told_apart() -> None:
    assert detect_language(DANISH) == "da"
    assert detect_language(BOKMAL) == "nb"
    assert detect_language(NYNORSK) == "nn"


def test_seed_articles_are_danish_and_bokmal() -> None:
    corpus = REPO / "corpus"
    assert detect_language((corpus / "000_74ad8f97b165a93f.txt").read_text(encoding="utf-8")) == "da"
    assert detect_language((corpus / "003_bdb09a8fcfa0e7c3.txt").read_text(encoding="utf-8")) == "nb"


@pytest.mark.parametrize("text", ["", "   ", "ok", "2021", "COI!"])
def test_too_short_text_gets_the_fallback(text: str) -> None:
    assert detect_language(text, fallback="nn") == "nn"
    assert language_posterior(text) is None


def test_english_text_gets_the_fallback() -> None:
    text = "The centre supports public sector innovation through collaboration and shared knowledge."
    assert detect_language(text, fallback="nb") == "nb"


def test_posterior_sums_to_one_over_the_three_languages() -> None:
    posterior = language_posterior(BOKMAL)
    assert posterior is not None
    assert set(posterior) == {"da", "nb", "nn"}
    assert sum(posterior.values()) == pytest.approx(1.0)
    assert max(posterior, key=posterior.__getitem__) == "nb"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Hvad er nærhedsreformen?", "da"),
        ("Hvem vandt innovationsprisen i 2019?", "da"),
        ("Hva er Asker Velferdslab?", "nb"),
        ("Hvordan jobber kommunene med innovasjon?", "nb"),
        ("Kva er Asker Velferdslab?", "nn"),
        ("Korleis jobbar kommunane med innovasjon?", "nn"),
        ("Kvifor?", "nn"),
        # A word spelt differently in Danish and Norwegian settles a short question.
        ("Hvilken klubb spiller Christian Eriksen for?", "nb"),
        ("Hvem står bak Evil Corp?", "nb"),
        ("Hvilken klub spiller Christian Eriksen for?", "da"),
        ("Hvem står bag Evil Corp?", "da"),
    ],
)
def test_question_language_comes_from_the_question_when_clear(question: str, expected: str) -> None:
    for previous in (None, "da", "nb", "nn"):
        assert detect_question_language(question, previous, fallback="da") == expected


def test_unclear_question_keeps_the_previous_turns_language() -> None:
    assert detect_question_language("Og så?", "nb", fallback="da") == "nb"
    assert detect_question_language("ok", "nn", fallback="da") == "nn"
    assert detect_question_language("What is COI?", "nb", fallback="da") == "nb"


def test_unclear_question_without_history_gets_the_fallback() -> None:
    assert detect_question_language("ok", None, fallback="nn") == "nn"
    assert detect_question_language("What is COI?", None, fallback="da") == "da"


def test_norwegian_question_unclear_between_the_standards_is_bokmal_unless_the_chat_is_nynorsk() -> None:
    # lingua leans Nynorsk (0.55) on these three words; neither standard is clear.
    assert detect_question_language("Når var studiebesøket?", None, fallback="da") == "nb"
    assert detect_question_language("Når var studiebesøket?", "da", fallback="da") == "nb"
    assert detect_question_language("Når var studiebesøket?", "nn", fallback="da") == "nn"


def test_question_overrides_a_previous_language_it_rules_out() -> None:
    # "hvorfor" is Danish or Bokmål, never Nynorsk, so a Nynorsk history does not win.
    assert detect_question_language("Og hvorfor?", "nn", fallback="nn") in ("da", "nb")


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="dev data folder ../shared/data is not beside the clone")
def test_accuracy_on_ud_documents_sentences_and_first_sentences() -> None:
    right = {level: dict.fromkeys(("da", "nb", "nn"), 0) for level in ("document", "sentence", "first")}
    seen = {level: dict.fromkeys(("da", "nb", "nn"), 0) for level in right}
    abstained = dict.fromkeys(("da", "nb", "nn"), 0)
    for lang in ("da", "nb", "nn"):
        rows = (SHARED_DATA / f"ud-docs-{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        # Every Norwegian document and every fourth Danish one (of 536) keep the test to seconds.
        for row in rows if lang != "da" else rows[::4]:
            text = json.loads(row)["text"]
            units = {
                "document": [text],
                "first": [_first_sentence(text)],
                # The next three sentences of 40+ characters (headlines are shorter).
                "sentence": [s for s in _sentences(text)[1:] if len(s) >= 40][:3],
            }
            for level, texts in units.items():
                for unit in texts:
                    found = detect_language(unit, fallback="?")
                    seen[level][lang] += 1
                    right[level][lang] += found == lang
                    abstained[lang] += level == "first" and found == "?"
    accuracy = {
        level: {lang: round(right[level][lang] / seen[level][lang], 3) for lang in seen[level]}
        for level in seen
    }
    print(f"\naccuracy {accuracy}\nsizes {seen}\nfirst sentences too short to tell {abstained}")
    # Measured: every document right; sentences about 0.95; first sentences are mostly headlines,
    # two-word ones get the fallback by design: da 0.92, nb 0.74, nn 0.71.
    assert all(acc >= 0.97 for acc in accuracy["document"].values())
    assert all(acc >= 0.88 for acc in accuracy["sentence"].values())
    assert accuracy["first"]["da"] >= 0.85
    assert accuracy["first"]["nb"] >= 0.65
    assert accuracy["first"]["nn"] >= 0.6


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="dev data folder ../shared/data is not beside the clone")
def test_accuracy_on_dev_questions_when_the_fallback_is_the_other_language() -> None:
    """Questions are short: what the question itself settles, against a fallback that is wrong."""
    accuracy = {}
    for name, lang, fallback in (("norquad-dev", "nb", "da"), ("da-qa-dev", "da", "nb")):
        rows = [json.loads(line) for line in (SHARED_DATA / f"{name}.jsonl").read_text("utf-8").splitlines()]
        found = [detect_question_language(row["question"], None, fallback) for row in rows]
        accuracy[name] = sum(f == lang for f in found) / len(found)
    print(f"\nquestion language accuracy {accuracy}")
    # Measured: 0.889 (NorQuAD, 0.871 before the da/no spelling pairs) and 0.902; most of the
    # rest read the same in both languages ("Hvem er Horst Seehofer?").
    assert accuracy["norquad-dev"] >= 0.87
    assert accuracy["da-qa-dev"] >= 0.88
