"""A BM25 index over analysed chunks, built on bm25s.

bm25s cannot add documents, so the caller keeps each chunk's terms and rebuilds the whole matrix
after changes. With character n-grams a chunk has ~500 terms, and bm25s' own build counts them
document by document in Python; `_ArrayBM25` overrides its documented build hook with the same
Lucene BM25 formula computed over flat numpy arrays, which keeps a rebuild at 100k chunks within
seconds. Search scores every document with `get_scores_from_ids` and takes the top k with
`numpy.argpartition`, because bm25s' own top-k step is slow on large vocabularies.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import scipy.sparse as sp

from coiassist.analyzer import NGRAM_PREFIX, NGRAM_WEIGHT
from coiassist.errors import IndexCorruptError

# bm25s sets its own logger to DEBUG and prints every build; we report progress ourselves.
logging.getLogger("bm25s").setLevel(logging.WARNING)

__all__ = ["BM25_B", "BM25_K1", "LexicalIndex"]

# Chosen on the dev sets by bench/tune_lexical.py --grid; k1 0.7–1.5 and b 0.4–0.9 all land within
# ±0.005 of each other, and these were best at chunk level.
BM25_K1 = 0.9
BM25_B = 0.75

_IDS_FILE = "ids.json"
_BM25_FILES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "vocab.index.json")


@dataclass(frozen=True)
class _FlatCorpus:
    """Every document's term ids end to end, with each document's length."""

    ids: np.ndarray
    lengths: np.ndarray


@dataclass(frozen=True)
class _Tokenized:
    """What bm25s.BM25.index accepts as pre-tokenised input: `.ids` and `.vocab`."""

    ids: _FlatCorpus
    vocab: dict[str, int]


class _ArrayBM25(bm25s.BM25):
    """bm25s with a vectorised Lucene-BM25 build; scoring, saving and loading are bm25s' own."""

    def build_index_from_ids(
        self, unique_token_ids: list[int], corpus_token_ids: _FlatCorpus, **_: Any
    ) -> dict[str, Any]:
        lengths = corpus_token_ids.lengths
        n_docs, n_vocab = len(lengths), len(unique_token_ids)
        docs = np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
        ones = np.ones(len(docs), dtype=np.float32)
        # The CSC constructor sums duplicate (doc, term) entries into term frequencies.
        tf = sp.csc_matrix((ones, (docs, corpus_token_ids.ids)), shape=(n_docs, n_vocab))
        tf.sum_duplicates()
        df = np.diff(tf.indptr).astype(np.float64)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        avg_len = max(float(lengths.mean()), 1e-9)
        norm = self.k1 * ((1.0 - self.b) + self.b * lengths / avg_len)
        term_of_entry = np.repeat(np.arange(n_vocab), np.diff(tf.indptr))
        data = idf[term_of_entry] * tf.data / (norm[tf.indices] + tf.data)
        self.nonoccurrence_array = None
        return {
            "data": data.astype(self.dtype),
            "indices": tf.indices.astype(self.int_dtype),
            "indptr": tf.indptr.astype(self.int_dtype),
            "num_docs": n_docs,
        }


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
    ) -> LexicalIndex:
        """Index `terms[i]` (already analysed) under `ids[i]` with Lucene BM25."""
        if len(ids) != len(terms):
            raise ValueError(f"{len(ids)} ids but {len(terms)} term lists")
        if not ids:
            return cls([], None)
        # A defaultdict numbering new terms as they come keeps the mapping loop in C.
        vocab: defaultdict[str, int] = defaultdict()
        vocab.default_factory = vocab.__len__
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        # Through a list: about a quarter faster than numpy.fromiter over the same map.
        flat = np.array(list(map(vocab.__getitem__, chain.from_iterable(terms))), dtype=np.int32)
        bm25 = _ArrayBM25(k1=k1, b=b, method="lucene")
        corpus = _Tokenized(_FlatCorpus(flat, lengths), dict(vocab))
        bm25.index(corpus, create_empty_token=False, show_progress=False)
        return cls(ids, bm25)

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def scores(
        self,
        query_terms: Sequence[str],
        ngram_weight: float = NGRAM_WEIGHT,
        emphasis: Sequence[str] = (),
        emphasis_weight: float = 0.0,
    ) -> np.ndarray | None:
        """BM25 score of every document in index order, or None when no query term is indexed.

        Stems count fully and n-gram terms (see `coiassist.analyzer`) at `ngram_weight`; the stems
        in `emphasis` (the question's names) count `emphasis_weight` more.
        """
        if self._bm25 is None:
            return None
        unique = [t for t in dict.fromkeys(query_terms) if t]
        stressed = [t for t in dict.fromkeys(emphasis) if t and not t.startswith(NGRAM_PREFIX)]
        total: np.ndarray | None = None
        for weight, group in (
            (1.0, [t for t in unique if not t.startswith(NGRAM_PREFIX)]),
            (ngram_weight, [t for t in unique if t.startswith(NGRAM_PREFIX)]),
            (emphasis_weight, stressed),
        ):
            token_ids = self._bm25.get_tokens_ids(group)
            if token_ids and weight:
                part = np.asarray(self._bm25.get_scores_from_ids(token_ids)) * weight
                total = part if total is None else total + part
        return total

    def search(
        self,
        query_terms: Sequence[str],
        k: int,
        allowed: np.ndarray | None = None,
        emphasis: Sequence[str] = (),
        emphasis_weight: float = 0.0,
    ) -> list[tuple[str, float]]:
        """Top `k` (id, score) with a positive score; `allowed` masks positions (metadata filters),
        `emphasis` stems count `emphasis_weight` more (see `scores`)."""
        scores = self.scores(query_terms, emphasis=emphasis, emphasis_weight=emphasis_weight)
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
