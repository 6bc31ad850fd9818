"""From a question to a checked answer: the one place where the pieces meet.

question → language → standalone query → retrieval → numbered sources → backend →
markers validated → sentences checked against their citations → Answer.
A backend that fails gives way to the extractive answer (with a note) unless configured not to.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from coiassist import citations, conversation, intent, prompts
from coiassist.backends.base import Backend, GenerationRequest, Source
from coiassist.backends.registry import create_backend
from coiassist.config import Settings
from coiassist.errors import BackendError, QuestionError
from coiassist.language import detect_language, detect_question_language, language_posterior
from coiassist.models import Answer, Citation, Passage
from coiassist.phrases import phrases_for
from coiassist.retrieval import Retriever, SearchFilters, open_retriever
from coiassist.sanitize import clean_question, strip_markup
from coiassist.tokens import fit_sources

log = logging.getLogger(__name__)
# "Hvilke artikler ...?" searches this many times `top_k` passages deep for distinct articles.
WHICH_ARTICLES_DEPTH = 5
History = Sequence[Mapping[str, Any]]


class Assistant:
    """Answers questions over the live index with the configured backend."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None) -> None:
        self.settings = settings
        self._retriever = retriever
        self._backends: dict[str, Backend] = {}

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = open_retriever(self.settings)
        return self._retriever

    def backend(self, name: str | None = None) -> Backend:
        name = name or self.settings.backend
        if name not in self._backends:
            self._backends[name] = create_backend(name, self.settings)
        return self._backends[name]

    def ask(
        self,
        question: str,
        history: History = (),
        language: str | None = None,
        backend: str | None = None,
        filters: SearchFilters | None = None,
    ) -> Answer:
        """The final answer (the last item of `stream`)."""
        final = None
        for item in self.stream(question, history, language, backend, filters):
            if isinstance(item, Answer):
                final = item
        assert final is not None  # stream always ends with an Answer
        return final

    def _validate(self, question: str) -> str:
        text = clean_question(question)
        if not text:
            raise QuestionError("the question is empty; write a question about the articles")
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(text)} characters long; the limit is "
                f"{self.settings.max_question_chars}. Ask a shorter question"
            )
        if not any(ch.isalnum() for ch in text):
            raise QuestionError("the question has no words; write a question about the articles")
        return text

    def language_of(self, question: str, history: History, forced: str | None) -> str:
        forced = forced or (
            self.settings.answer_language if self.settings.answer_language != "auto" else None
        )
        if forced:
            return forced
        previous_turn = conversation.last_user_turn(history)
        previous = detect_language(previous_turn, self.settings.default_language) if previous_turn else None
        # Judge by the question's own words, without its names, when there are enough of them or
        # they are clear on their own ("Hvad er …" is Danish whatever name follows).
        own_words = _without_names(question)
        posterior = language_posterior(own_words) if own_words else None
        enough = len(own_words.split()) >= _MIN_OWN_WORDS
        clear = posterior is not None and max(posterior.values()) >= _CLEAR
        text = own_words if enough or clear else question
        return detect_question_language(text, previous, self.settings.default_language)

    def standalone_query(self, question: str, history: History, lang: str, backend: Backend) -> str:
        """The question rewritten to stand alone when it leans on the conversation."""
        if not conversation.is_follow_up(question, history):
            return question
        if backend.name != "extractive":
            try:
                messages = prompts.render_rewrite_messages(question, lang, history)
                request = GenerationRequest(
                    question=question, language=lang, sources=(), messages=tuple(messages)
                )
                return prompts.clean_rewrite("".join(backend.generate(request)), question)
            except BackendError as exc:
                log.warning(
                    "rewriting the follow-up with %s failed (%s); using the offline rewrite",
                    backend.name,
                    exc,
                )
        return conversation.rewrite_follow_up(question, history, lang)

    def _retrieve(self, query: str, filters: SearchFilters | None) -> list[Passage]:
        """The passages for the (standalone) question. "Hvilke artikler handler om X?" gets the best
        passage of each of as many articles, from a deeper search: the best passages for X are
        often all in one article."""
        k = self.settings.top_k
        text = intent.search_text(query)
        if intent.asks_summary(query) and intent.asks_which_articles(query):
            return _best_of_each_article(
                self.retriever.search(text, k=k * WHICH_ARTICLES_DEPTH, filters=filters), k
            )
        return self.retriever.search(text, k=k, filters=filters)

    def stream(
        self,
        question: str,
        history: History = (),
        language: str | None = None,
        backend: str | None = None,
        filters: SearchFilters | None = None,
    ) -> Iterator[str | Answer]:
        """Partial answer texts while the backend writes, then the final, checked Answer."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        text = self._validate(question)
        lang = self.language_of(text, history, language)
        chosen = self.backend(backend)
        query = self.standalone_query(text, history, lang, chosen)
        timings["language_and_rewrite"] = _ms(clock)

        step = time.perf_counter()
        passages = self._retrieve(query, filters)
        if passages and intent.asks_summary(query):
            passages = passages + self.retriever.openings(passages)
        count, _ = intent.listed(query)
        if passages and count:
            passages = passages + self.retriever.listing(passages, count)
        timings["retrieve"] = _ms(step)
        phrases = phrases_for(lang)
        base = Answer(
            question=text,
            language=lang,
            answer="",
            abstained=True,
            citations=(),
            backend=chosen.name,
            standalone_query=query if query != text else "",
        )
        if not passages:
            timings["total"] = _ms(clock)
            yield dataclasses.replace(base, answer=phrases.no_sources, timings_ms=timings)
            return

        notes: list[str] = []
        step = time.perf_counter()
        raw = ""
        retrieved = len(passages)
        try:
            if chosen.name == "extractive":
                # It may quote on into the next chunk; an LLM sees the retrieved passages only.
                passages = passages + self.retriever.following(passages)
            for piece in self._generate(chosen, text, query, lang, _sources(passages, retrieved), history):
                raw += piece
                yield strip_markup(raw)
        except BackendError as exc:
            if not self.settings.fallback_to_extractive or chosen.name == "extractive":
                raise
            log.warning("backend %s failed: %s", chosen.name, exc)
            notes.append(f"{phrases.fallback} ({exc})")
            chosen = self.backend("extractive")
            passages = passages + self.retriever.following(passages)
            raw = ""
            for piece in self._generate(chosen, text, query, lang, _sources(passages, retrieved), history):
                raw += piece
                yield strip_markup(raw)
        timings["generate"] = _ms(step)

        step = time.perf_counter()
        answer = self._checked(strip_markup(raw), lang, passages, notes)
        timings["check"] = _ms(step)
        timings["total"] = _ms(clock)
        yield dataclasses.replace(
            answer,
            question=text,
            backend=chosen.name,
            notes=tuple(notes),
            standalone_query=base.standalone_query,
            timings_ms=timings,
        )

    def _generate(
        self, backend: Backend, question: str, query: str, lang: str, sources: list[Source], history: History
    ) -> Iterator[str]:
        if backend.name == "extractive":
            # It reads no history, so it gets the standalone form of a follow-up.
            request = GenerationRequest(question=query, language=lang, sources=tuple(sources))
        else:
            fitted = fit_sources(sources, self.settings.context_tokens, self.settings)
            messages = prompts.render_answer_messages(question, lang, fitted, history)
            request = GenerationRequest(
                question=question,
                language=lang,
                sources=tuple(fitted),
                messages=tuple(messages),
                history=tuple(
                    {"role": str(m.get("role")), "content": str(m.get("content"))} for m in history
                ),
            )
        yield from backend.generate(request)

    def _checked(self, raw: str, lang: str, passages: list[Passage], notes: list[str]) -> Answer:
        """Validate markers, check every sentence against its sources, keep what holds."""
        phrases = phrases_for(lang)
        by_key = {i: p for i, p in enumerate(passages, 1)}
        text = citations.strip_invalid_markers(raw.strip(), by_key)
        refusal = Answer(
            question="", language=lang, answer=phrases.refusal, abstained=True, citations=(), backend=""
        )
        if not text or prompts.is_no_answer(text):
            return refusal
        checks = citations.check_answer(text, {k: p.text for k, p in by_key.items()}, lang)
        kept = citations.apply_policy(text, checks, self.settings.unsupported_sentences)
        if not kept:
            return dataclasses.replace(refusal, checks=checks)
        if any(not c.supported for c in checks):
            notes.append(
                phrases.dropped if self.settings.unsupported_sentences == "drop" else phrases.flagged
            )
        cited: list[Citation] = []
        # The first sentence that cites each key is the one its highlight supports.
        first_citing: dict[int, str] = {}
        for sentence, keys in citations.parse_markers(kept):
            for key in keys:
                first_citing.setdefault(key, sentence)
        for key in sorted(first_citing.keys() & by_key.keys()):
            passage = by_key[key]
            sentence = first_citing[key]
            span = citations.support_span(sentence, passage.text, lang) if sentence else None
            cited.append(
                Citation(
                    key=key,
                    article_id=passage.article_id,
                    chunk_id=passage.chunk_id,
                    title=passage.title,
                    text=passage.text,
                    date=passage.date,
                    url=passage.url,
                    lang=passage.lang,
                    start=passage.start,
                    end=passage.end,
                    support_start=span[0] if span else -1,
                    support_end=span[1] if span else -1,
                )
            )
        return Answer(
            question="",
            language=lang,
            answer=kept,
            abstained=False,
            citations=tuple(cited),
            backend="",
            checks=checks,
        )


# Question words left without the names that are enough to judge the language by, and a
# posterior on fewer words that is clear enough all the same.
_MIN_OWN_WORDS = 3
_CLEAR = 0.6  # as confident as language.detect_question_language asks a question to be


def _best_of_each_article(passages: Sequence[Passage], most: int) -> list[Passage]:
    """The best-ranked passage of each article, in rank order, at most `most` of them."""
    best: dict[str, Passage] = {}
    for passage in passages:
        best.setdefault(passage.article_id, passage)
    return list(best.values())[:most]


def _sources(passages: Sequence[Passage], retrieved: int) -> list[Source]:
    """The passages numbered for the backend. Those after the first `retrieved` are the chunks
    that follow a retrieved one in its article (`Retriever.following`): they say which one they
    continue and carry only their text after its end (chunks overlap). An article's first chunk
    is marked as its opening."""
    by_id = {p.chunk_id: (key, p) for key, p in enumerate(passages, 1)}
    sources = []
    for key, p in enumerate(passages, 1):
        before = by_id.get(f"{p.article_id}:{p.ordinal - 1}") if key > retrieved else None
        text, continues = (
            (p.text, 0) if before is None else (p.text[max(0, before[1].end - p.start) :], before[0])
        )
        sources.append(
            Source(
                key=key,
                title=p.title,
                text=text,
                lang=p.lang,
                continues=continues,
                article=p.article_id,
                opening=p.ordinal == 0,
            )
        )
    return sources


def _without_names(question: str) -> str:
    """The question without its names: a Norwegian asking about "Velfærdens Innovationsdag" writes
    the Danish name, which would otherwise pull the detected language towards Danish."""
    names = set(citations.names_in(question))
    words = []
    for word in question.split():
        if word.strip(".,;:!?«»\"'()") not in names:
            words.append(word)
        else:
            # After an abbreviation the rest is an ordinary word of the question's language:
            # "VM-gull" is Norwegian, while "Utenfor-regnskapet" stays a name.
            head, _, rest = word.partition("-")
            if head.isupper() and rest[:1].islower():
                words.append(rest)
    return " ".join(words)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def answer_json(answer: Answer) -> dict[str, Any]:
    """The `ask --json` shape (a contract other tools rely on; extra keys may be added)."""
    return {
        "question": answer.question,
        "language": answer.language,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "citations": [
            {
                "key": c.key,
                "article_id": c.article_id,
                "chunk_id": c.chunk_id,
                "title": c.title,
                "text": c.text,
                "date": c.date,
                "url": c.url,
                "support": [c.support_start, c.support_end] if c.support_start >= 0 else None,
            }
            for c in answer.citations
        ],
        "backend": answer.backend,
        "notes": list(answer.notes),
        "standalone_query": answer.standalone_query,
        "checks": [
            {
                "sentence": c.text,
                "keys": list(c.keys),
                "support": round(c.support, 3),
                "supported": c.supported,
                "missing": list(c.missing),
            }
            for c in answer.checks
        ],
        "timings_ms": answer.timings_ms,
    }
