"""Which questions ask what an article is about, what about, and the words that name the articles."""

from __future__ import annotations

import pytest

from coiassist.analyzer import content_stems
from coiassist.intent import (
    asks_summary,
    asks_which_articles,
    listed,
    names,
    search_text,
    summary_subject,
    without_article_words,
)


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("Hvad handler artiklen om Velfærdens Innovationsdag om?", "Velfærdens Innovationsdag"),
        ("Opsummer artiklen om de danske prisvindere", "danske prisvindere"),
        ("Hva handler artikkelen om Region Syddanmark om?", "Region Syddanmark"),
        ("Hvad er hovedbudskabet i artiklen om velfærdsinnovation?", "velfærdsinnovation"),
        ("Hvad går artiklen om Nærhed ud på?", "Nærhed"),
        ("Kan du give mig et kort resumé af Velfærdens Innovationsdag?", "Velfærdens Innovationsdag"),
        ("Oppsummer Tilbake til skole", "Tilbake til skole"),
        ("Kva handlar artikkelen om prisvinnarane om?", "prisvinnarane"),
        ("Gi meg et sammendrag av artikkelen om Asker Velferdslab.", "Asker Velferdslab"),
        ("Hvad handler artiklen om?", ""),
        (
            "Hvad er de vigtigste pointer i artiklen om Velfærdens Innovationsdag?",
            "Velfærdens Innovationsdag",
        ),
        ("Kva er dei viktigaste poenga i artikkelen om prisen?", "prisen"),
    ],
)
def test_summary_question_and_its_subject(question: str, subject: str) -> None:
    assert asks_summary(question)
    assert summary_subject(question) == subject


@pytest.mark.parametrize(
    "question",
    [
        "Hvad handler Tilbake til skole om?",  # about the project: its sentences answer it
        "Hvad står der i artiklen om politikernes rolle?",  # what it says of a topic, not its gist
        "Hvilke regler gjelder ifølge artikkelen?",
        "Hvordan handler kommunen ifølge artiklen?",
        "Hva er hovedpoenget med prosjektet?",  # no word for the article
        "Hvad er de vigtigste pointer fra Astrid Krag?",
        "Hvilken artikel i Grundgesetz giver ret til at oprette private skoler?",
    ],
)
def test_questions_for_facts_are_not_summary_questions(question: str) -> None:
    assert not asks_summary(question)


def test_words_that_refer_to_the_articles_are_left_out_of_what_is_looked_for() -> None:
    question = "Hva sier artikkelen om Asker Velferdslab?"
    left = without_article_words(question)
    assert content_stems(left, "nb") == content_stems("Asker Velferdslab", "nb")
    assert without_article_words("Ifølge artiklen, hvem åbnede dagen?") == "hvem åbnede dagen?"
    assert without_article_words("Hvad står der i artiklen om Astrid Krag?") == "Hvad om Astrid Krag?"


@pytest.mark.parametrize(
    ("question", "left"),
    [
        ("Fortæl om Borgerdesign", "Borgerdesign"),
        ("Kan du fortælle mig lidt om Den ny syntese?", "Den ny syntese?"),
        ("Fortell meg mer om Asker Velferdslab.", "Asker Velferdslab."),
        ("Hva vet du om Utenforregnskapet?", "Utenforregnskapet?"),
        ("Forklar hvorfor Astrid Krag talte om handlekraft", "hvorfor Astrid Krag talte om handlekraft"),
        ("Beskriv Borgerservice-to-go", "Borgerservice-to-go"),
    ],
)
def test_a_request_to_be_told_about_something_looks_for_that_thing(question: str, left: str) -> None:
    assert without_article_words(question) == left
    assert search_text(question) == left


@pytest.mark.parametrize(
    "question",
    [
        "Hvilken artikel i Grundgesetz giver ret til at oprette private skoler?",  # a law's article
        "Når la Sahin ut det omstridte innlegget sitt om tyrkias militære?",  # his post
        "Hvad sagde Astrid Krag om nærhed?",
    ],
)
def test_articles_and_posts_the_question_is_about_stay(question: str) -> None:
    assert without_article_words(question) == question
    assert search_text(question) == question


def test_search_is_for_the_subject_of_a_summary_question() -> None:
    assert search_text("Opsummer artiklen om de danske prisvindere") == "danske prisvindere"
    # Nothing to search for but the question itself: the backend refuses it (see test_extractive).
    assert search_text("Hvad handler artiklen om?") == "Hvad handler artiklen om?"


@pytest.mark.parametrize(
    ("question", "count", "words"),
    [
        ("Hvilke fire takeaways nævnes?", 4, ("takeaways", "nævnes")),
        ("Hva er de tre viktigste rådene?", 3, ("viktigste", "rådene")),
        ("Hvilke 4 takeaways fremhæver COI?", 4, ("takeaways", "fremhæver")),
        ("Kva er dei fem tiltaka?", 5, ("tiltaka",)),
        ("Hvem var de to?", 0, ()),  # no list asked for
        ("Hvilke 25 kommuner deltog?", 0, ()),  # too long a list to quote item by item
        ("Hvilket år blev prisen uddelt?", 0, ()),
    ],
)
def test_list_questions_say_how_many_of_what(question: str, count: int, words: tuple[str, ...]) -> None:
    assert listed(question) == (count, words)


@pytest.mark.parametrize(
    ("question", "which"),
    [
        ("Hvilke artikler handler om Norge?", True),
        ("Kva artiklar handlar om Asker?", True),
        ("Hvilke tekster omhandler borgerinddragelse?", True),
        ("Hvilken artikel handler om Borgerdesign?", False),  # one article: its lede
        ("Hvad handler artiklen om Velfærdens Innovationsdag om?", False),
    ],
)
def test_which_articles_is_a_question_for_several(question: str, which: bool) -> None:
    assert asks_summary(question)
    assert asks_which_articles(question) is which


def test_names_of_a_rewritten_follow_up_include_the_first_carried_one() -> None:
    # A word after "(" reads as a clause's first, but in a rewrite it is the conversation's subject.
    assert names("Hvornår startede det? (Borgerdesign COI står bag)") == ["Borgerdesign", "COI"]
    assert names("Hvem er Julie Becher?") == ["Julie", "Becher"]
