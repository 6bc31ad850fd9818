from __future__ import annotations

from coiassist.chunking import chunk_article, embedding_text
from coiassist.embeddings import Embedder
from coiassist.models import Article
from tests.conftest import ARTICLES, REPO


def _article(text: str, pages: tuple[tuple[int, int], ...] = ()) -> Article:
    return Article(id="a", title="Titel", text=text, lang="da", content_hash="h", source="a.txt", pages=pages)


def test_chunk_spans_point_at_the_article_text(embedder: Embedder) -> None:
    text = (REPO / "corpus" / "000_74ad8f97b165a93f.txt").read_text(encoding="utf-8")
    article = _article(text)
    chunks = chunk_article(article, embedder.token_offsets, budget=120, overlap=30)
    assert len(chunks) > 5
    for n, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.id == f"a:{n}" and chunk.ordinal == n
        assert embedder.count_tokens(chunk.text) <= 120 + 4  # joins may add a token or two


def test_chunks_cover_every_sentence_and_overlap(embedder: Embedder) -> None:
    text = ARTICLES["velfaerd.txt"]
    chunks = chunk_article(_article(text), embedder.token_offsets, budget=60, overlap=30)
    assert len(chunks) >= 3
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    # consecutive chunks share whole sentences when the overlap allows
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:], strict=False))


def test_overlong_sentence_is_cut_within_budget(embedder: Embedder) -> None:
    text = "Innovation " * 300 + "slutter her."
    chunks = chunk_article(_article(text), embedder.token_offsets, budget=50, overlap=10)
    assert len(chunks) >= 6
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert embedder.count_tokens(chunk.text) <= 50


def test_overlong_sentence_is_cut_where_a_word_starts(embedder: Embedder) -> None:
    # Long words the model reads as several tokens, and no full stop for 400 words.
    text = " ".join(["arbejdsgruppens velfærdsinnovationsprojekter"] * 200) + " slutter her."
    chunks = chunk_article(_article(text), embedder.token_offsets, budget=50, overlap=10)
    assert len(chunks) >= 10
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == " "
        assert embedder.count_tokens(chunk.text) <= 50


def test_chunk_knows_its_pdf_page(embedder: Embedder) -> None:
    page_one = "Første side handler om borgerinddragelse. " * 8
    page_two = "Anden side handler om ledelse og tillid. " * 8
    text = page_one + "\n" + page_two
    article = _article(text, pages=((1, 0), (2, len(page_one) + 1)))
    chunks = chunk_article(article, embedder.token_offsets, budget=40, overlap=0)
    assert chunks[0].page == 1
    assert chunks[-1].page == 2


def test_embedding_text_carries_the_title() -> None:
    chunk = chunk_article(_article("Kort tekst."), lambda texts: [[(0, 1)] for _ in texts], 10, 0)[0]
    assert embedding_text(chunk) == "Titel\nKort tekst."
