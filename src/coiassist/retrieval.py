"""Finding passages: BM25 built for Danish/Norwegian carries recall, dense vectors may help.

The retriever reads the published snapshot (chunk texts, article facts, BM25) and the vector
collection it names. Dense hits count only when their article hash matches the snapshot, so
a re-index in progress never mixes new vectors with old text. The two rankings are fused by
normalised scores with a small dense weight (or weighted reciprocal rank); the method and weight
were chosen on the dev sets by bench/tune_fusion.py (figures in docs/evaluation-log.md).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coiassist import analyzer, intent
from coiassist.config import Settings
from coiassist.embeddings import Embedder, load_embedder
from coiassist.errors import CoiassistError, ConfigError, IndexCorruptError
from coiassist.lexical import LexicalIndex
from coiassist.models import Passage
from coiassist.sentences import numbered_items
from coiassist.snapshot import ArticleRow, Pointer, open_snapshot, read_rows
from coiassist.vectors import VectorStore, forget_clients, open_client

log = logging.getLogger(__name__)
MODES = ("hybrid", "bm25", "dense")
# Candidates taken from each side before fusion: deep enough that fusion can reorder.
_DEPTH = 50


@dataclass(frozen=True)
class SearchFilters:
    lang: str | None = None
    article_id: str | None = None
    date_from: str | None = None  # inclusive ISO dates; articles without a date are excluded
    date_to: str | None = None

    def active(self) -> bool:
        return any((self.lang, self.article_id, self.date_from, self.date_to))


class _Snapshot:
    """One published snapshot loaded for reading."""

    def __init__(self, pointer: Pointer, folder: Path) -> None:
        self.pointer = pointer
        self.folder = folder
        rows, self.articles = read_rows(folder)
        self.lexical = LexicalIndex.load(folder / "lexical")
        self.ids = [row[0] for row in rows]
        if list(self.lexical.ids) != self.ids:
            raise IndexCorruptError(
                f"the BM25 index in {folder} does not match its chunks; run `coiassist index --rebuild`"
            )
        self.position = {chunk_id: i for i, chunk_id in enumerate(self.ids)}
        self.outdated = (
            f"the index was built by analyzer version {pointer.analyzer} and this version reads "
            f"text as version {analyzer.ANALYZER_VERSION}; run `coiassist index` to rebuild it"
            if pointer.analyzer != analyzer.ANALYZER_VERSION
            else ""
        )
        if self.outdated:
            # Still served: word search finds less until the re-index, but it still answers.
            log.warning(self.outdated)
        self.rows = rows
        self.article_of = [row[1] for row in rows]
        self.hash_of_article = {aid: row.content_hash for aid, row in self.articles.items()}
        self._db = sqlite3.connect(
            f"file:{folder / 'chunks.sqlite'}?mode=ro", uri=True, check_same_thread=False
        )
        self._db_lock = threading.Lock()

    def texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._db_lock:
            found = self._db.execute(f"SELECT id, text FROM chunks WHERE id IN ({marks})", list(chunk_ids))
            return dict(found.fetchall())

    def mask(self, filters: SearchFilters) -> np.ndarray:
        keep_articles = {
            aid
            for aid, row in self.articles.items()
            if (not filters.lang or row.lang == filters.lang)
            and (not filters.article_id or aid == filters.article_id)
            and (not filters.date_from or (row.date and row.date >= filters.date_from))
            and (not filters.date_to or (row.date and row.date[: len(filters.date_to)] <= filters.date_to))
        }
        return np.fromiter((aid in keep_articles for aid in self.article_of), dtype=bool, count=len(self.ids))

    def article_chunks(self, article_id: str) -> list[tuple[str, int, int, str]]:
        with self._db_lock:
            return self._db.execute(
                'SELECT id, start, "end", text FROM chunks WHERE article_id = ? ORDER BY ordinal',
                (article_id,),
            ).fetchall()

    def close(self) -> None:
        self._db.close()


class Retriever:
    """Hybrid search over the live index; reloads by itself after a re-index publishes."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._lock = threading.Lock()
        self._snapshot = self._load()
        self._checked = time.monotonic()

    def _load(self) -> _Snapshot:
        pointer, folder = open_snapshot(self.settings.index_dir)
        return _Snapshot(pointer, folder)

    @property
    def snapshot(self) -> _Snapshot:
        """The live snapshot, checking `CURRENT` at most every second for a newer one."""
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._checked = now
            self.refresh()
        return self._snapshot

    def refresh(self) -> bool:
        """Switch to a newer published snapshot if there is one; True when it switched."""
        pointer = Pointer.read(self.settings.index_dir)
        if pointer is None or pointer.snapshot == self._snapshot.pointer.snapshot:
            return False
        if pointer.writer_pid != os.getpid():
            forget_clients()
        with self._lock:
            fresh = self._load()
            self._snapshot = fresh
        return True

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    def _vectors(self, snap: _Snapshot) -> VectorStore:
        client = open_client(self.settings.home, self.settings.chroma_url, self.settings.threads)
        return VectorStore(client, snap.pointer.collection, self.settings.threads)

    def lexical_hits(
        self, snap: _Snapshot, query: str, depth: int, mask: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """(position, BM25 score), best first. The question's names count `name_weight` more: a rare
        name ("Lortie") says which passage it asks about, where the other words ("katolsk kirke",
        "kritiserede") match many (the `name_weight` setting)."""
        terms = analyzer.query_terms(query)
        names = intent.names(query)
        stressed = analyzer.query_terms(" ".join(names)) if names else []
        hits = snap.lexical.search(
            terms, depth, allowed=mask, emphasis=stressed, emphasis_weight=self.settings.name_weight
        )
        return [(snap.position[cid], score) for cid, score in hits]

    def dense_hits(
        self, snap: _Snapshot, query: str, depth: int, mask: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """(position, cosine similarity) of published chunks, best first."""
        if not snap.ids:
            return []
        vector = self.embedder.embed_query(query)
        # A filter keeps few candidates: look deeper rather than ask Chroma to filter (slow at scale).
        want = min(len(snap.ids), depth * (4 if mask is not None else 1))
        hits = []
        for chunk_id, article_hash, similarity in self._vectors(snap).query(vector, want):
            pos = snap.position.get(chunk_id)
            if pos is None or snap.hash_of_article.get(snap.article_of[pos]) != article_hash:
                continue  # a vector from an unfinished run, or of a chunk no longer published
            if mask is not None and not mask[pos]:
                continue
            hits.append((pos, similarity))
        return hits[:depth]

    def search(
        self, query: str, k: int = 10, mode: str | None = None, filters: SearchFilters | None = None
    ) -> list[Passage]:
        """The best `k` passages for `query`, best first."""
        mode = mode or self.settings.retrieval_mode
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        snap = self.snapshot
        mask = snap.mask(filters) if filters and filters.active() else None
        depth = max(_DEPTH, k * 3)
        rankings: list[tuple[list[tuple[int, float]], float]] = []
        lows: list[float | None] = []
        if mode in ("hybrid", "bm25"):
            lexical = self.lexical_hits(snap, query, depth, mask)
            rankings.append((lexical, 1.0))
            lows.append(0.0 if len(lexical) < depth else None)  # every match listed: the rest score 0
        if mode in ("hybrid", "dense"):
            try:
                rankings.append((self.dense_hits(snap, query, depth, mask), self.settings.dense_weight))
            except CoiassistError as exc:
                if mode == "dense":
                    raise
                # Lexical results alone are still a good answer; say so in the log, not to the user
                # (one line: the error says what is wrong, a traceback would read as a crash).
                log.warning("dense retrieval failed (%s); answering from BM25 alone", exc)
        if self.settings.fusion == "rrf" and len(rankings) > 1:
            # Reciprocal ranks are nearly flat (1/61, 1/62, ...): a share of another chunk's would
            # outweigh the ranking itself, so the article weight applies to scores only.
            fused = fuse(rankings, self.settings.rrf_k)
        else:
            # One ranking (bm25 or dense mode, or dense search down) keeps its order, scaled.
            weighted = rankings if len(rankings) > 1 else [(ranking, 1.0) for ranking, _ in rankings]
            fused = with_article_evidence(
                snap.rows, fuse_scores(weighted, lows), self.settings.article_weight
            )
        return self._passages(snap, _dedupe(snap, fused, k))

    def _passages(self, snap: _Snapshot, scored: list[tuple[int, float]]) -> list[Passage]:
        ids = [snap.ids[pos] for pos, _ in scored]
        texts = snap.texts(ids)
        passages = []
        for pos, score in scored:
            chunk_id, article_id, ordinal, start, end, page = snap.rows[pos]
            art = snap.articles[article_id]
            passages.append(
                Passage(
                    chunk_id=chunk_id,
                    article_id=article_id,
                    ordinal=int(ordinal),
                    title=art.title,
                    text=texts.get(chunk_id, ""),
                    lang=art.lang,
                    start=int(start),
                    end=int(end),
                    score=float(score),
                    date=art.date,
                    url=art.url,
                    page=int(page),
                )
            )
        return passages

    def following(self, passages: Sequence[Passage]) -> list[Passage]:
        """The chunk after each passage in its article, unless it is one of `passages` already.

        An answer often goes on in the sentence after the one that matches the question, and that
        sentence may open the next chunk; the extractive backend quotes it from there.
        """
        return self._chunks_at(passages, lambda p: p.ordinal + 1)

    def openings(self, passages: Sequence[Passage]) -> list[Passage]:
        """The first chunk of each passage's article, unless it is one of `passages` already: a
        question about what an article is about is answered by its opening (see `intent`)."""
        return self._chunks_at(passages, lambda p: 0)

    def _chunks_at(self, passages: Sequence[Passage], ordinal: Callable[[Passage], int]) -> list[Passage]:
        """For each passage, the chunk at `ordinal(passage)` in its article, each once and none of
        `passages`."""
        snap = self.snapshot
        seen = {p.chunk_id for p in passages}
        found = []
        for passage in passages:
            pos = snap.position.get(f"{passage.article_id}:{ordinal(passage)}")
            if pos is not None and snap.ids[pos] not in seen:
                seen.add(snap.ids[pos])
                found.append((pos, 0.0))
        return self._passages(snap, found)

    def listing(self, passages: Sequence[Passage], count: int) -> list[Passage]:
        """The chunks that hold the lines numbered 1 to `count` of each passage's article, unless
        among `passages` already; none from an article that does not number exactly that many
        (see `intent.listed`)."""
        snap = self.snapshot
        seen = {p.chunk_id for p in passages}
        found: list[tuple[int, float]] = []
        for article_id in dict.fromkeys(p.article_id for p in passages):
            missing = set(range(1, count + 2))  # and count + 1, which must stay missing
            holding = []
            for chunk_id, _start, _end, text in snap.article_chunks(article_id):
                numbers = missing & numbered_items(text).keys()
                if numbers:
                    missing -= numbers
                    holding.append(chunk_id)
            if missing == {count + 1}:
                found += [(snap.position[c], 0.0) for c in holding if c not in seen and c in snap.position]
                seen.update(holding)
        return self._passages(snap, found)

    def stats(self) -> dict[str, Any]:
        """What is published, and whether dense search can use its vectors: when it cannot, hybrid
        search answers from BM25 alone, which only a log line would otherwise tell an admin."""
        snap = self.snapshot
        langs: dict[str, int] = {}
        for row in snap.articles.values():
            langs[row.lang] = langs.get(row.lang, 0) + 1
        try:
            vectors, vector_problem = self._vectors(snap).count(), ""
        except CoiassistError as exc:
            vectors, vector_problem = None, str(exc)
        return {
            "articles": len(snap.articles),
            "chunks": len(snap.ids),
            "vectors": vectors,
            "vector_problem": vector_problem,
            "outdated": snap.outdated,
            "languages": dict(sorted(langs.items())),
            "model": snap.pointer.model,
            "collection": snap.pointer.collection,
            "last_indexed": snap.pointer.indexed_at,
        }

    def articles(self) -> list[ArticleRow]:
        """Every published article."""
        return list(self.snapshot.articles.values())

    def article(self, article_id: str) -> tuple[ArticleRow, list[tuple[str, int, int, str]]] | None:
        """The article's facts and its chunks (id, start, end, text), for showing it whole."""
        snap = self.snapshot
        row = snap.articles.get(article_id)
        if row is None:
            return None
        return row, snap.article_chunks(article_id)


def fuse(
    rankings: Sequence[tuple[Sequence[tuple[int, float]], float]], rrf_k: int
) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: sum of weight / (rrf_k + rank) over the rankings."""
    scores: dict[int, float] = {}
    for ranking, weight in rankings:
        if weight <= 0:
            continue
        for rank, (pos, _) in enumerate(ranking, start=1):
            scores[pos] = scores.get(pos, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def fuse_scores(
    rankings: Sequence[tuple[Sequence[tuple[int, float]], float]], lows: Sequence[float | None] = ()
) -> list[tuple[int, float]]:
    """Sum of weight × score, each ranking's scores scaled to [0, 1] by min-max.

    BM25 scores are unbounded and cosines are not comparable across queries; after scaling, a
    small dense weight only reorders candidates that BM25 finds close, which is what the dev sets
    reward (see bench/tune_fusion.py). `lows[i]`, when given, is what every chunk that ranking i
    leaves out scores, and is then the minimum: BM25 lists only the chunks that match, so when it
    lists fewer than it was asked for, the rest score 0. Scaled from its own last hit instead, the
    last of a few matches scored 0 and lost to chunks the dense side alone found ("Hvem er Julie
    Becher?" over corpus/: the second of two chunks that name her fell out of the top 5).
    """
    scores: dict[int, float] = {}
    for i, (ranking, weight) in enumerate(rankings):
        if weight <= 0 or not ranking:
            continue
        values = [score for _, score in ranking]
        floor = lows[i] if i < len(lows) else None
        low, high = min(values) if floor is None else min(floor, *values), max(values)
        span = (high - low) or 1.0
        for pos, score in ranking:
            scores[pos] = scores.get(pos, 0.0) + weight * (score - low) / span
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def with_article_evidence(
    rows: Sequence[tuple[Any, ...]], fused: list[tuple[int, float]], weight: float
) -> list[tuple[int, float]]:
    """The best chunk of each article gains `weight` times the fused score of its runner-up.

    A question about a long article (COI's run to 20+ chunks) shares a few words with each of
    several chunks, while a news article that happens to use its common words matches once; the
    article's second match is evidence that its best one is about the question. With the
    hand-written questions asked of corpus/ plus the 667 UD documents, the right article was in
    the top 5 for 0.958 of them instead of 0.917; on the dev sets no figure moved significantly
    (docs/evaluation-log.md). Only the best chunk gains: lifting every chunk of the article
    filled the top 5 with the one article a cross-language question shares common words with
    ("Hva er de fire takeawayene fra Velferdens innovasjonsdag?" lost the Danish article to the
    Norwegian one). `rows[pos][1]` is the chunk's article id.
    """
    if weight <= 0:
        return fused
    by_article: dict[str, list[float]] = {}
    for pos, score in fused:  # best first, so each article's list is too
        by_article.setdefault(rows[pos][1], []).append(score)
    boosted = []
    for pos, score in fused:
        scores = by_article[rows[pos][1]]
        other = scores[1] if score == scores[0] and len(scores) > 1 else 0.0
        boosted.append((pos, score + weight * other))
    return sorted(boosted, key=lambda item: (-item[1], item[0]))


def _dedupe(snap: _Snapshot, fused: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    """Drop a chunk that mostly repeats a better-ranked chunk of the same article (overlap)."""
    kept: list[tuple[int, float]] = []
    for pos, score in fused:
        _, article_id, _, start, end, _ = snap.rows[pos]
        repeat = False
        for other, _ in kept:
            _, other_article, _, o_start, o_end, _ = snap.rows[other]
            if other_article == article_id:
                shared = min(end, o_end) - max(start, o_start)
                if shared > 0.5 * min(end - start, o_end - o_start):
                    repeat = True
                    break
        if not repeat:
            kept.append((pos, score))
        if len(kept) == k:
            break
    return kept


_RETRIEVERS: dict[Path, Retriever] = {}
_RETRIEVERS_LOCK = threading.Lock()


def open_retriever(settings: Settings) -> Retriever:
    """A retriever over the live index of `settings.home` (one per home per process)."""
    key = settings.index_dir.resolve()
    with _RETRIEVERS_LOCK:
        existing = _RETRIEVERS.get(key)
        if existing is None or existing.settings != settings:
            existing = Retriever(settings)
            _RETRIEVERS[key] = existing
        return existing
