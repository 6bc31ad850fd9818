"""Sentence-aware chunks bounded by the embedding model's own tokenizer.

A chunk is whole sentences packed up to a token budget, and the next chunk starts with the
last sentences of the previous one (the overlap), so an answer that straddles a boundary is
still inside one chunk. Spans point into `Article.text`, which is what citations highlight.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from coiassist.models import Article, Chunk
from coiassist.sentences import split_sentences

# Bumped whenever the chunk boundaries for the same text and settings would change,
# so that an index built by an older chunker is rebuilt instead of mixed.
CHUNKER_VERSION = 3

# (texts) -> list of token offsets per text, each (start_char, end_char), no special tokens.
TokenOffsets = Callable[[Sequence[str]], list[list[tuple[int, int]]]]


def _split_long(
    text: str, start: int, offsets: list[tuple[int, int]], end: int, budget: int
) -> list[tuple[int, int]]:
    """Cut one over-long sentence into pieces of at most `budget` tokens, where a word starts.

    A model token is often part of a word ("arbejdsgruppens" is several); a piece that began
    inside a word would be quoted from there ("jdsgruppens arbejde ..."). Only a word longer than
    the whole budget is cut inside.
    """
    pieces = []
    piece_start = start
    i = budget
    while i < len(offsets):
        j = i
        while j > 0 and start + offsets[j][0] > piece_start and not text[start + offsets[j][0] - 1].isspace():
            j -= 1
        if start + offsets[j][0] <= piece_start:
            j = i
        cut = start + offsets[j][0]
        pieces.append((piece_start, cut))
        piece_start = cut
        i = j + budget
    pieces.append((piece_start, end))
    return pieces


def _units(text: str, token_offsets: TokenOffsets, budget: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens), long ones already cut to fit the budget."""
    spans = split_sentences(text)
    offsets = token_offsets([text[s:e] for s, e in spans])
    units: list[tuple[int, int, int]] = []
    for (start, end), toks in zip(spans, offsets, strict=True):
        if len(toks) <= budget:
            units.append((start, end, max(len(toks), 1)))
            continue
        for piece_start, piece_end in _split_long(text, start, toks, end, budget):
            units.append((piece_start, piece_end, budget))
    # Leading whitespace of a cut piece is not part of the chunk.
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), e, n) for s, e, n in units if text[s:e].strip()]


def chunk_article(article: Article, token_offsets: TokenOffsets, budget: int, overlap: int) -> list[Chunk]:
    """Pack sentences into chunks of at most `budget` tokens, repeating up to `overlap` tokens."""
    if budget < 1 or overlap < 0 or overlap >= budget:
        raise ValueError("need 0 <= overlap < budget")
    units = _units(article.text, token_offsets, budget)
    page_starts = [offset for _, offset in article.pages]
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last = first
        used = units[first][2]
        while last + 1 < len(units) and used + units[last + 1][2] <= budget:
            last += 1
            used += units[last][2]
        start, end = units[first][0], units[last][1]
        page = article.pages[bisect.bisect_right(page_starts, start) - 1][0] if article.pages else 0
        ordinal = len(chunks)
        chunks.append(
            Chunk(
                id=f"{article.id}:{ordinal}",
                article_id=article.id,
                ordinal=ordinal,
                start=start,
                end=end,
                text=article.text[start:end],
                title=article.title,
                lang=article.lang,
                page=page,
            )
        )
        if last + 1 >= len(units):
            break
        # Step back over whole sentences worth at most `overlap` tokens, but always move forward.
        nxt = last + 1
        carried = 0
        while nxt - 1 > first and carried + units[nxt - 1][2] <= overlap:
            nxt -= 1
            carried += units[nxt][2]
        first = nxt
    return chunks


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees: the title gives a short chunk its context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text
