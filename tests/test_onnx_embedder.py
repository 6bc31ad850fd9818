from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coiassist.config import Settings
from coiassist.embeddings import Embedder, load_embedder, resolve_precision
from coiassist.indexer import index_corpus
from coiassist.onnx_embedder import OnnxEncoder, pooling_mode

QUESTIONS = [
    "Hvad er nærhedsreformen?",
    "Kva gjer kommunen med velferdsteknologi?",
    "Hvor mange kommuner deltok i forsøket med digitale tjenester i 2023?",
]


def exported_embedder(make_settings: Callable[..., Settings], corpus: Path) -> Embedder:
    """The embedder of a home that `index_corpus` has run in: its ONNX query model exported."""
    settings = make_settings()
    index_corpus(settings, corpus)
    indexed = load_embedder(settings)
    assert indexed.onnx_path is not None and indexed.onnx_path.is_file()
    return indexed


def test_index_run_exports_a_query_model_that_matches_torch(
    make_settings: Callable[..., Settings], corpus: Path, embedder: Embedder
) -> None:
    indexed = exported_embedder(make_settings, corpus)
    for question in QUESTIONS:
        fast = indexed.embed_query(question)
        reference = embedder.model.encode_query([question], convert_to_numpy=True)[0]
        reference = reference / np.linalg.norm(reference)
        # The reference may run in bfloat16; against float32 the ONNX vectors agree to 1e-6.
        assert float(fast @ reference) > 0.999
        assert abs(float(np.linalg.norm(fast)) - 1.0) < 1e-5


def test_padded_batches_embed_like_single_texts(make_settings: Callable[..., Settings], corpus: Path) -> None:
    indexed = exported_embedder(make_settings, corpus)
    assert indexed.onnx_path is not None
    encoder = OnnxEncoder(indexed.onnx_path, indexed.model_dir, indexed.max_seq_length)
    batch = encoder.encode(QUESTIONS)
    for row, question in zip(batch, QUESTIONS, strict=True):
        np.testing.assert_allclose(row, encoder.encode([question])[0], atol=1e-4)


def test_queries_fall_back_to_torch_without_an_export(tmp_path: Path, embedder: Embedder) -> None:
    without = Embedder(embedder.model_dir, name="m", precision=embedder.precision, onnx_dir=tmp_path)
    vector = without.embed_query(QUESTIONS[0])
    assert vector.shape == (384,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert not (tmp_path / without.fingerprint).exists()


def test_pooling_follows_the_model_config(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    config = tmp_path / "1_Pooling" / "config.json"
    config.write_text(json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert pooling_mode(tmp_path) == "cls"
    config.write_text(json.dumps({"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}))
    assert pooling_mode(tmp_path) == "mean"


def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it(tmp_path: Path) -> None:
    amx = tmp_path / "amx"
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n")
    avx2 = tmp_path / "avx2"
    avx2.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n")
    assert resolve_precision("auto", amx) == "bfloat16"
    assert resolve_precision("auto", avx2) == "float32"
    assert resolve_precision("auto", tmp_path / "absent") == "float32"  # not Linux: play safe
    assert resolve_precision("bfloat16", avx2) == "bfloat16"  # an explicit setting wins


def test_embedder_of_the_default_settings_uses_the_resolved_precision(
    make_settings: Callable[..., Settings],
) -> None:
    embedder = load_embedder(make_settings())
    assert embedder.precision == resolve_precision("auto") != "auto"


def test_sentences_embed_through_the_export_like_passages_through_torch(
    make_settings: Callable[..., Settings], corpus: Path, embedder: Embedder
) -> None:
    indexed = exported_embedder(make_settings, corpus)
    # Mixed lengths: batched by length inside, rows must come back in the caller's order.
    sentences = [
        *QUESTIONS,
        "Kort.",
        "Kommunerne arbejder med velfærdsinnovation for at løse de store udfordringer.",
    ]
    fast = indexed.embed_sentences(sentences)
    reference = embedder.embed_passages(sentences)
    assert fast.shape == reference.shape == (len(sentences), 384)
    for row, ref in zip(fast, reference, strict=True):
        assert float(row @ ref) > 0.999
