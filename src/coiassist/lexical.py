"""A BM25 index over analysed chunks, built on bm25s.

bm25s cannot add documents, so the caller keeps each chunk's terms and rebuilds the whole matrix
after changes; `build` maps terms to ids itself and hands bm25s integer ids, which keeps a
rebuild at 100k chunks within seconds. Search scores every document with `get_scores` and takes
the top k with `numpy.argpartition`, because bm25s' own top-k step is slow on large vocabularies.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from coiassist.analyzer import NGRAM_PREFIX, NGRAM_WEIGHT
from coiassist.errors import IndexCorruptError

__all__ = ["BM25_B", "BM25_K1", "BM25_METHOD", "LexicalIndex"]

# Chosen on the dev sets by bench/tune_lexical.py (passage and chunk level agree).
BM25_K1 = 0.9
BM25_B = 0.6
BM25_METHOD = "lucene"

_IDS_FILE = "ids.json"
_BM25_FILES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "vocab.index.json")


class LexicalIndex:
    """Chunk ids in index order plus the bm25s score matrix over their terms."""

    def __init__(self, ids: Sequence[str], bm25: bm25s.BM25 | None) -> None:
        self._ids = list(ids)
        self._bm25 = bm25  # None for an index with no documents

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        terms: Sequence[Sequence[str]],
        *,
        k1: float = BM25_K1,
        b: float = BM25_B,
        method: str = BM25_METHOD,
    ) -> LexicalIndex:
        """Index `terms[i]` (already analysed) under `ids[i]`."""
        if len(ids) != len(terms):
            raise ValueError(f"{len(ids)} ids but {len(terms)} term lists")
        if not ids:
            return cls([], None)
        vocab: dict[str, int] = {}
        corpus_ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in terms]
        # bm25s scores a document with no terms through this empty token; without it an
        # all-stopword chunk would break indexing.
        vocab.setdefault("", len(vocab))
        bm25 = bm25s.BM25(k1=k1, b=b, method=method)
        bm25.index((corpus_ids, vocab), create_empty_token=False, show_progress=False)
        return cls(ids, bm25)

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def scores(self, query_terms: Sequence[str], ngram_weight: float = NGRAM_WEIGHT) -> np.ndarray | None:
        """BM25 score of every document in index order, or None when no query term is indexed.

        Stems count fully and n-gram terms (see `coiassist.analyzer`) at `ngram_weight`.
        """
        if self._bm25 is None:
            return None
        unique = [t for t in dict.fromkeys(query_terms) if t]
        total: np.ndarray | None = None
        for weight, group in (
            (1.0, [t for t in unique if not t.startswith(NGRAM_PREFIX)]),
            (ngram_weight, [t for t in unique if t.startswith(NGRAM_PREFIX)]),
        ):
            token_ids = self._bm25.get_tokens_ids(group)
            if token_ids and weight:
                part = np.asarray(self._bm25.get_scores_from_ids(token_ids)) * weight
                total = part if total is None else total + part
        return total

    def search(
        self, query_terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """Top `k` (id, score) with a positive score; `allowed` masks positions (metadata filters)."""
        scores = self.scores(query_terms)
        if scores is None or k <= 0:
            return []
        if allowed is not None:
            if allowed.shape != scores.shape:
                raise ValueError(f"allowed mask has shape {allowed.shape}, index has {scores.shape}")
            scores = np.where(allowed, scores, 0.0)
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in top if scores[i] > 0.0]

    def save(self, directory: Path) -> None:
        """Write the index to `directory`, replacing any old one only once the new one is complete."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            if self._bm25 is not None:
                self._bm25.save(tmp, show_progress=False)
            (tmp / _IDS_FILE).write_text(json.dumps(self._ids, ensure_ascii=False), encoding="utf-8")
            old = None
            if directory.exists():
                old = directory.with_name(f".{directory.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                directory.rename(old)
            tmp.rename(directory)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read an index written by `save`; raise IndexCorruptError when it is missing or damaged."""
        directory = Path(directory)
        hint = "rebuild the index (coiassist index --rebuild)"
        try:
            ids = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(f"lexical index at {directory} is unreadable ({exc}); {hint}") from exc
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise IndexCorruptError(f"lexical index at {directory} has a malformed id list; {hint}")
        if not ids:
            return cls([], None)
        missing = [name for name in _BM25_FILES if not (directory / name).is_file()]
        if missing:
            raise IndexCorruptError(f"lexical index at {directory} lacks {', '.join(missing)}; {hint}")
        try:
            bm25 = bm25s.BM25.load(directory, show_progress=False, verbosity=0)
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(f"lexical index at {directory} is unreadable ({exc}); {hint}") from exc
        num_docs = bm25.scores.get("num_docs")
        indptr = bm25.scores.get("indptr")
        if num_docs != len(ids) or indptr is None or len(indptr) != len(bm25.vocab_dict) + 1:
            raise IndexCorruptError(
                f"lexical index at {directory} holds {num_docs} documents for {len(ids)} ids; {hint}"
            )
        return cls(ids, bm25)
