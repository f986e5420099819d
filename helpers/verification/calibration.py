"""How the cross-encoders' sentence scores become a calibrated abstract verdict: the fitted maps
(`Calibration`, stored as models/verifier/calibration.json), the per-pair scores and their features."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError


@dataclass
class Calibration:
    """How sentence scores become a calibrated abstract verdict; fitted on out-of-fold scores of the SciFact
    train claims (training/verifier/cv.py fit, or calibrate.py for an 80/20 split) and stored as
    models/verifier/calibration.json.

    P(evidence) is a logistic map over the abstract's relevance features (`evidence_features`): one for a paper
    found for the claim (`pair_evidence`), one for a paper chosen for it, i.e. its own source or a paper it cites
    (`cited_evidence`: evidence far more often), and one with five extra features when the abstracts are a claim's
    ranked retrieval candidates (`ranked_evidence`: `ranked_features`); P(REFUTES | evidence) is a logistic map over the direction features (`direction_features`). Then
    P(SUPPORTS) = P(ev)(1 - P(ref)), P(REFUTES) = P(ev) P(ref), P(NEI) = 1 - P(ev).
    """

    temperature: float = 1.0  # softmax temperature of the 3-way (relevance) model's sentence logits
    rationale_threshold: float = 0.5  # further rationale sentences need relevance >= this
    evidence_threshold: float = 0.5  # SUPPORTS/REFUTES only when its calibrated probability >= this
    top_sentences: int = 2  # the most relevant sentences whose direction is read
    pair_evidence: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])  # coef rel1, rel2; intercept
    cited_evidence: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])  # the same, for a chosen paper
    # + gap, 1/(1+rank), and the retrieval's own scores (helpers.retrieval.search.RETRIEVAL_FEATURES)
    ranked_evidence: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    direction: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])  # coef dir, claim negation; intercept
    # the model files these maps were fitted on: several = an ensemble (their logits are averaged)
    relevance_models: list[str] = field(default_factory=lambda: ["model.onnx"])
    direction_models: list[str] = field(default_factory=lambda: ["direction.onnx"])
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.exists():
            raise ModelError(f"{path}: verifier calibration file missing")
        try:
            cal = cls(**json.loads(path.read_text()))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: unreadable calibration: {exc}") from exc
        for name, n in (("pair_evidence", 3), ("cited_evidence", 3), ("ranked_evidence", 8), ("direction", 3)):
            if len(getattr(cal, name)) != n:
                raise ModelError(f"{path}: {name}: expected {n} numbers (coefficients, then intercept)")
        for name in ("relevance_models", "direction_models"):
            files = getattr(cal, name)
            if not isinstance(files, list) or not all(isinstance(f, str) and f.endswith(".onnx") for f in files):
                raise ModelError(f"{path}: {name}: expected a list of .onnx file names")
        if not cal.relevance_models:
            raise ModelError(f"{path}: relevance_models: expected at least one .onnx file name")
        return cal

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


NEGATED = re.compile(r"\b(not|no|never|without|cannot|fails?|lacks?|ineffective|unable)\b|n't", re.I)
GAP_CLIP = 8.0


@dataclass
class PairScores:
    """What the models say about one (claim, abstract) pair, before calibration."""

    relevance: np.ndarray  # per sentence: 1 - P(NEI) of the 3-way model
    p_refutes: np.ndarray  # per top sentence (most relevant first): P(REFUTES | evidence) of the direction model
    top: list[int]  # indices of those sentences
    negated_claim: bool

    def evidence_features(self) -> list[float]:
        """logit of the best and second-best sentence relevance."""
        r = np.sort(self.relevance)[::-1]
        if len(r) == 0:
            return [-14.0, -14.0]
        return [float(_logit(r[0])), float(_logit(r[1])) if len(r) > 1 else -14.0]

    def direction_features(self) -> list[float]:
        """Relevance-weighted mean logit P(REFUTES) over the top sentences, and whether the claim is negated."""
        if not len(self.p_refutes):
            return [0.0, float(self.negated_claim)]
        w = self.relevance[self.top[:len(self.p_refutes)]] + 1e-6
        return [float(np.sum(w * _logit(self.p_refutes)) / w.sum()), float(self.negated_claim)]


def ranked_features(scores: list[PairScores], retrieval: Sequence[Sequence[float]]) -> list[list[float]]:
    """Per candidate of one claim (in retrieval order): relevance margin over the best other candidate, 1/(1+rank),
    then the retrieval's own scores of it (`retrieval`, one row per candidate: `helpers.retrieval.search.hybrid_scored`)."""
    if len(retrieval) != len(scores):
        raise ValueError(f"retrieval: {len(retrieval)} rows of scores for {len(scores)} candidates")
    best = [s.evidence_features()[0] for s in scores]
    out = []
    for i, b in enumerate(best):
        others = best[:i] + best[i + 1:]
        gap = b - max(others) if others else GAP_CLIP
        out.append([float(np.clip(gap, -GAP_CLIP, GAP_CLIP)), 1.0 / (1 + i), *map(float, retrieval[i])])
    return out


def calibrated_probs(scores: PairScores, cal: Calibration, context: list[float] | None = None,
                     cited: bool = False) -> np.ndarray:
    """Calibrated P(SUPPORTS, REFUTES, NEI) for one abstract (`context`: its `ranked_features`, if ranked;
    `cited`: the paper was chosen for the claim, not found for it)."""
    if context is None:
        w = np.asarray(cal.cited_evidence if cited else cal.pair_evidence)
        x = scores.evidence_features()
    else:
        w = np.asarray(cal.ranked_evidence)
        x = scores.evidence_features() + list(context)
    p_ev = _sigmoid(float(w[:-1] @ np.asarray(x) + w[-1]))
    d = np.asarray(cal.direction)
    p_ref = _sigmoid(float(d[:-1] @ np.asarray(scores.direction_features()) + d[-1]))
    return np.array([p_ev * (1 - p_ref), p_ev * p_ref, 1 - p_ev])
