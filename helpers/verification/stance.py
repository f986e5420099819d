"""A paper's stance on a yes/no question: yes / no / mixed / not addressed, with a calibrated confidence.

The model (models/stance/: an int8 ONNX MiniLM cross-encoder with four outputs, yes / no / maybe / unrelated, and
its calibration) reads the question with the end of the abstract, where findings are stated: sentences are taken
from the end until the token budget is spent (`tail_sentences`), the same way it was trained
(training/stance/). PubMedQA's "maybe" is read as "mixed", "unrelated" as "not addressed".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..errors import ModelError
from ..records import Paper
from ..text import paper_sentences


def tail_sentences(question: str, sentences: Sequence[str], tokenizer, max_len: int) -> list[str]:
    """The last sentences of an abstract that fit, with `question`, into `max_len` word pieces (in their
    order; at least the last sentence, which the pair encoding then truncates if it alone is too long).
    `tokenizer` counts word pieces: it must not truncate."""
    budget = max_len - len(tokenizer.encode(question, add_special_tokens=False).ids) - 3
    sents = [s for s in sentences if s.strip()]
    if not sents:
        return []
    lengths = [len(e.ids) for e in tokenizer.encode_batch(list(sents), add_special_tokens=False)]
    kept: list[str] = []
    for sent, n in zip(reversed(sents), reversed(lengths), strict=True):
        if kept and n > budget:
            break
        kept.append(sent)
        budget -= n
    return kept[::-1]


STANCE_OUTPUTS = ("yes", "no", "maybe", "unrelated")  # the model's outputs, in order
READING = {"yes": "yes", "no": "no", "maybe": "mixed", "unrelated": "not addressed"}
MAX_LEN = 192  # word pieces of question + abstract tail read (trained at this length)


@dataclass
class Stance:
    """One paper's stance on one yes/no question."""

    label: str  # yes | no | mixed | not addressed
    confidence: float  # calibrated probability of `label`
    probs: dict[str, float]  # yes / no / maybe over the three answers (calibrated), and P(unrelated)
    method: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StanceCalibration:
    """How the model's outputs become calibrated yes / no / maybe probabilities: an optional linear answer head
    over the pooled vector and the logits (`head`: weights 3 x (width + 4), intercept 3), then per-answer offsets
    and a temperature, all fitted out of fold on PubMedQA (training/stance/head.py); `meta` records how."""

    temperature: float = 1.0
    bias: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # added to the yes / no / maybe scores
    unrelated_threshold: float = 0.5
    meta: dict = field(default_factory=dict)
    head: dict | None = None

    @classmethod
    def load(cls, path: Path) -> StanceCalibration:
        if not path.exists():
            raise ModelError(f"{path}: stance calibration missing")
        try:
            cal = cls(**json.loads(path.read_text()))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable stance calibration: {exc}") from exc
        if len(cal.bias) != 3 or cal.temperature <= 0:
            raise ModelError(f"{path}: bias: expected 3 numbers and a positive temperature")
        if cal.head is not None and (len(cal.head.get("weights", [])) != 3 or len(cal.head.get("intercept", [])) != 3):
            raise ModelError(f"{path}: head: expected 3 rows of weights and 3 intercepts")
        return cal

    def scores(self, logits: np.ndarray, pooled: np.ndarray | None = None) -> np.ndarray:
        """The yes / no / maybe scores before offsets and temperature: the head's, or the model's own logits."""
        logits = np.atleast_2d(logits)
        if self.head is None:
            return logits[:, :3]
        if pooled is None:
            raise ModelError("stance calibration has an answer head: the model's pooled output is needed")
        x = np.hstack([np.atleast_2d(pooled), logits])
        return x @ np.asarray(self.head["weights"]).T + np.asarray(self.head["intercept"])

    def answer_probs(self, logits: np.ndarray, pooled: np.ndarray | None = None) -> np.ndarray:
        """Calibrated P(yes, no, maybe) (rows: items); `logits` are already scores when there is no head."""
        z = (self.scores(logits, pooled) + np.asarray(self.bias)) / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def model_dir() -> Path:
    return config.models_dir() / "stance"


class StanceModel:
    """The trained stance cross-encoder (int8 ONNX) with its calibration."""

    name = "stance-minilm"

    def __init__(self, folder: Path | None = None, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        from .crossencoder import CrossEncoder

        folder = Path(folder or model_dir())
        self.calibration = StanceCalibration.load(folder / "calibration.json")
        self.encoder = CrossEncoder(folder, threads=threads, filename="model.onnx", max_len=MAX_LEN)
        self._count = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._count.no_truncation()
        self._count.no_padding()

    def inputs(self, question: str, sentences: Sequence[str]) -> tuple[str, str]:
        """(question, the end of the abstract that fits): what the model reads."""
        return question, " ".join(tail_sentences(question, list(sentences), self._count, MAX_LEN))

    def run(self, items: list[tuple[str, Sequence[str]]]) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, pooled vectors or None) for each (question, abstract sentences)."""
        names = ("logits", "pooled") if self.calibration.head is not None else ("logits",)
        out = self.encoder.outputs([self.inputs(q, s) for q, s in items], names)
        return out["logits"], out.get("pooled")

    def answer(self, items: list[tuple[str, Sequence[str]]]) -> list[tuple[str, float, np.ndarray]]:
        """PubMedQA's task: yes / no / maybe for each (question, abstract sentences), with its probability."""
        probs = self.calibration.answer_probs(*self.run(items)) if items else np.zeros((0, 3))
        return [(STANCE_OUTPUTS[int(np.argmax(p))], float(p.max()), p) for p in probs]

    def stances(self, question: str, papers: list[Paper]) -> list[Stance]:
        """Each paper's stance on `question`: not addressed when the model reads the abstract as unrelated."""
        if not papers:
            return []
        raw, pooled = self.run([(question, paper_sentences(p)) for p in papers])
        answer = self.calibration.answer_probs(raw, pooled)
        z = raw - raw.max(axis=1, keepdims=True)
        unrelated = np.exp(z[:, 3]) / np.exp(z).sum(axis=1)
        out = []
        for p3, pu in zip(answer, unrelated, strict=True):
            probs = {"yes": float(p3[0]), "no": float(p3[1]), "maybe": float(p3[2]), "unrelated": float(pu)}
            if pu >= self.calibration.unrelated_threshold:
                out.append(Stance("not addressed", float(pu), probs, self.name))
            else:
                k = int(np.argmax(p3))
                out.append(Stance(READING[STANCE_OUTPUTS[k]], float(p3[k]), probs, self.name))
        return out
