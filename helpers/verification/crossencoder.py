"""The shipped claim–sentence cross-encoders (int8 ONNX MiniLM, onnxruntime + tokenizers only, no torch):
`model.onnx` scores (claim, sentence) pairs as SUPPORTS / REFUTES / NOT ENOUGH INFO (used for relevance),
`direction.onnx` as SUPPORTS / REFUTES (used for the direction of evidence). Either may be an ensemble of several
runs of the recipe (`model-s1.onnx`, ...: the calibration names the files), whose logits are averaged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import config
from ..errors import ModelError
from ..records import LABELS

MAX_LEN = 128  # claim + one sentence


def model_dir() -> Path:
    """Folder holding model.onnx, tokenizer.json and calibration.json."""
    return config.models_dir() / "verifier"


def env_threads() -> int:
    """onnxruntime intra-op threads for the verifier when none is passed: `WORKBENCH_ORT_THREADS` (the variable the
    embedder reads too; `workbench batch` sets it per worker), or 0 = onnxruntime's default (one per core)."""
    try:
        return max(0, int(os.environ.get("WORKBENCH_ORT_THREADS", "0") or 0))
    except ValueError:
        return 0


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class CrossEncoder:
    """Logits for (claim, sentence) pairs from the ONNX model, or the mean logits of several models of one
    architecture and tokenizer (an ensemble: `filename` a sequence of files, each pair tokenised once)."""

    def __init__(self, folder: Path | None = None, threads: int = 0, filename: str | Sequence[str] = "model.onnx",
                 max_len: int = MAX_LEN) -> None:
        folder = Path(folder or model_dir())
        names = [filename] if isinstance(filename, str) else list(filename)
        if not names:
            raise ModelError(f"{folder}: no verifier model file named")
        for path in [folder / n for n in names] + [folder / "tokenizer.json"]:
            if not path.exists():
                raise ModelError(f"{path}: verifier model file missing (train it: see training/verifier/README.md)")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            opts = ort.SessionOptions()
            threads = threads or env_threads()
            if threads:
                opts.intra_op_num_threads = threads
            self.sessions = [ort.InferenceSession(str(folder / n), opts, providers=["CPUExecutionProvider"])
                             for n in names]
            self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # a corrupt or incompatible file: one clear line
            raise ModelError(f"{folder}: cannot load verifier model: {exc}") from exc
        self.tokenizer.enable_truncation(max_length=max_len, strategy="longest_first")
        self.tokenizer.no_padding()
        self._inputs = {i.name for i in self.sessions[0].get_inputs()}
        self._widths = {o.name: o.shape[-1] for o in self.sessions[0].get_outputs()}
        widths = {sess.get_outputs()[0].shape[-1] for sess in self.sessions}
        if len(widths) > 1:
            raise ModelError(f"{folder}: {', '.join(names)}: the ensemble's models give different numbers of labels")
        width = widths.pop()
        self.n_labels = width if isinstance(width, int) else len(LABELS)

    def logits(self, pairs: list[tuple[str, str]], batch_size: int = 1) -> np.ndarray:
        """Logits (n, n_labels) for the pairs (batches, if any, sorted by length to keep padding small).

        One pair per run by default: the int8 model quantises activations dynamically, with one scale for the
        whole batch, so in a batch a pair's logits depend on its neighbours and on the padding (by up to 0.6 in
        a logit). Alone, each pair always gets the same score, at about 8–12% less throughput on 2 cores
        (`python -m training.verifier.checks batching`)."""
        return self.outputs(pairs, ("logits",), batch_size)["logits"]

    def outputs(self, pairs: list[tuple[str, str]], names: tuple[str, ...] = ("logits",),
                batch_size: int = 1) -> dict[str, np.ndarray]:
        """The named outputs (each (n, width)) for the pairs, averaged over the ensemble's models."""
        missing = [n for n in names if n not in self._widths]
        if missing:
            raise ModelError(f"model has no output {', '.join(missing)} (outputs: {', '.join(self._widths)})")
        acc = {n: np.zeros((len(pairs), self._widths[n] if isinstance(self._widths[n], int) else self.n_labels),
                           dtype=np.float32) for n in names}
        if not pairs:
            return acc
        encs = self.tokenizer.encode_batch([(c, s) for c, s in pairs])
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        feeds = []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for row, i in enumerate(idx):
                e = encs[i]
                n = len(e.ids)
                ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            feeds.append((idx, {k: v for k, v in feed.items() if k in self._inputs}))
        # one model at a time over every batch: alternating models per pair evicts each one's weights from the
        # CPU caches (2.7x slower for two models instead of 2x)
        for sess in self.sessions:
            for idx, feed in feeds:
                for name, arr in zip(names, sess.run(list(names), feed), strict=True):
                    acc[name][idx] += arr
        return {n: a / len(self.sessions) for n, a in acc.items()}
