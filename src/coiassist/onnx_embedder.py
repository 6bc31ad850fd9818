"""Query embeddings without torch: the model exported once to ONNX, run by ONNX Runtime.

Importing torch and sentence-transformers costs 6-10 s, which dominated the time to a first
answer. The index run (which has torch loaded anyway) exports the transformer to ONNX in the
home folder; queries then need only onnxruntime and `tokenizers` (~0.1 s to import). It runs
in float32, so its vectors match the torch float32 model (cosine >= 0.9999, see bench/).
Pooling follows the model's own `1_Pooling/config.json`.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coiassist.errors import ModelError

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def pooling_mode(model_dir: Path) -> str:
    """ "mean" or "cls", from the sentence-transformers pooling config (mean when absent)."""
    config = model_dir / "1_Pooling" / "config.json"
    if config.is_file():
        data = json.loads(config.read_text(encoding="utf-8"))
        if data.get("pooling_mode_cls_token"):
            return "cls"
        if data.get("pooling_mode_mean_tokens", True):
            return "mean"
        raise ModelError(f"{config}: only mean or CLS pooling can run in ONNX")
    return "mean"


def _transformer_dir(model_dir: Path) -> Path:
    """The folder of the model's Transformer module (the model folder itself for most models)."""
    modules = model_dir / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if str(module.get("type", "")).endswith("Transformer"):
                return model_dir / str(module.get("path", ""))
    return model_dir


def export_onnx(model_dir: Path, target: Path) -> None:
    """Export the model's transformer, loaded afresh in float32, to `target` (atomically).

    Loaded afresh because the passage model may be bfloat16, whose rounded weights would make
    the export lossy.
    """
    import torch
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(
        str(_transformer_dir(model_dir)), dtype=torch.float32, attn_implementation="eager"
    ).eval()

    class _LastHidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    # A padded example, so the traced graph keeps the attention-mask path.
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    dynamic = {name: {0: "batch", 1: "seq"} for name in (*_INPUTS, "last_hidden_state")}
    try:
        # The exporter warns about tracing details that do not apply to a fixed encoder graph;
        # users running `coiassist index` should not see them.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LastHidden(transformer),
                (ids, mask, torch.zeros_like(ids)),
                str(tmp),
                dynamo=False,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=dynamic,
                opset_version=17,
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class OnnxEncoder:
    """Embeds short texts (queries) with ONNX Runtime and the model's fast tokenizer."""

    def __init__(self, onnx_path: Path, model_dir: Path, max_seq_length: int, threads: int = 2) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(
                f"onnxruntime or tokenizers is not installed ({exc}); run `make setup`"
            ) from None
        tokenizer_file = model_dir / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ModelError(f"{model_dir} has no tokenizer.json; the ONNX query path needs one")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_seq_length)
        self.tokenizer.no_padding()
        self.pooling = pooling_mode(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors on a broken file
            raise ModelError(f"cannot load {onnx_path}: {exc}") from None
        self._wanted = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unnormalised pooled vectors, one row per text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (hidden,) = self.session.run(None, {k: v for k, v in feeds.items() if k in self._wanted})
        if self.pooling == "cls":
            return np.asarray(hidden[:, 0, :], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        return np.asarray(summed / np.maximum(weights.sum(axis=1), 1e-9), dtype=np.float32)
