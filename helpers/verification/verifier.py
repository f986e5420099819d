"""Claim verification: label a claim against one abstract (SUPPORTS / REFUTES / NOT ENOUGH INFO).

Interface used by the pipeline and `workbench eval verify`:
    verifier = load_verifier()
    verdict = verifier.verify(claim_text, paper)     # -> Verdict

This file holds the interface, the trained `NliVerifier` (the default: an int8 ONNX MiniLM cross-encoder
scoring each claim–sentence pair, aggregated to an abstract verdict with calibrated probabilities, see
`calibration.py`) and a transparent lexical baseline (the benchmark baseline).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..records import LABELS, Paper
from ..text import content_words, paper_sentences
from .calibration import NEGATED, Calibration, PairScores, calibrated_probs, ranked_features

NEGATION = frozenset("not no never neither nor without fails fail failed cannot unable lack lacks decrease "
                     "decreases decreased reduce reduces reduced lower worse degrade degrades".split())


@dataclass
class Verdict:
    """The verifier's decision for one (claim, abstract) pair."""

    label: str
    confidence: float  # calibrated probability of `label`
    probs: dict[str, float]
    sentences: list[int] = field(default_factory=list)  # rationale: indices into the abstract's sentences
    evidence: list[str] = field(default_factory=list)  # the rationale sentences' text
    method: str = ""


class Verifier(Protocol):
    name: str

    def verify(self, claim: str, paper: Paper) -> Verdict: ...

    def verify_many(self, pairs: list[tuple[str, Paper]], cited: bool | Sequence[bool] = False) -> list[Verdict]: ...


class LexicalVerifier:
    """Baseline: word overlap picks the rationale; a negation mismatch flips to REFUTES. Uncalibrated."""

    name = "lexical-overlap"

    def __init__(self, support_at: float = 0.5) -> None:
        self.support_at = support_at

    def verify(self, claim: str, paper: Paper) -> Verdict:
        claim_words = set(content_words(claim))
        sents = paper_sentences(paper)
        best_i, best = -1, 0.0
        for i, s in enumerate(sents):
            overlap = len(claim_words & set(content_words(s))) / max(1, len(claim_words))
            if overlap > best:
                best_i, best = i, overlap
        if best_i < 0 or best < self.support_at:
            p_nei = 1.0 - 0.5 * best
            probs = {"SUPPORTS": (1 - p_nei) * 0.7, "REFUTES": (1 - p_nei) * 0.3, "NOT ENOUGH INFO": p_nei}
            return Verdict("NOT ENOUGH INFO", p_nei, probs, method=self.name)
        neg_claim = bool(claim_words & NEGATION)
        neg_sent = bool(set(content_words(sents[best_i])) & NEGATION)
        label = "REFUTES" if neg_claim != neg_sent else "SUPPORTS"
        conf = 0.5 + 0.5 * best
        other = "SUPPORTS" if label == "REFUTES" else "REFUTES"
        probs = {label: conf * 0.9, other: conf * 0.1, "NOT ENOUGH INFO": 1 - conf}
        return Verdict(label, probs[label], probs, [best_i], [sents[best_i]], method=self.name)

    def verify_many(self, pairs: list[tuple[str, Paper]], cited: bool | Sequence[bool] = False) -> list[Verdict]:
        return [self.verify(c, p) for c, p in pairs]


def decide(scores: PairScores, sentences: list[str], cal: Calibration, context: list[float] | None = None,
           method: str = "", cited: bool = False) -> Verdict:
    """Abstract verdict: label = likelier of SUPPORTS/REFUTES if its calibrated probability reaches the
    evidence threshold, else NOT ENOUGH INFO (abstain); rationale = the most relevant sentences."""
    probs = calibrated_probs(scores, cal, context, cited)
    prob_map = dict(zip(LABELS, map(float, probs), strict=True))
    k = int(np.argmax(probs[:2]))
    if probs[k] < cal.evidence_threshold or not len(scores.relevance):
        return Verdict("NOT ENOUGH INFO", prob_map["NOT ENOUGH INFO"], prob_map, method=method)
    order = np.argsort(-scores.relevance)
    chosen = sorted(int(i) for i in order[:3] if scores.relevance[i] >= cal.rationale_threshold) or [int(order[0])]
    return Verdict(LABELS[k], prob_map[LABELS[k]], prob_map, chosen, [sentences[i] for i in chosen], method=method)


TRAINING_CLAIMS = "training_claims.txt"


def claim_key(text: str) -> str:
    """A short fingerprint of a claim's text (case and spacing ignored), to tell training claims apart."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()[:12]


def training_claims(folder: Path) -> frozenset[str]:
    """Fingerprints (`claim_key`) of the claims the models in `folder` were trained on; empty if not recorded."""
    path = folder / TRAINING_CLAIMS
    if not path.exists():
        return frozenset()
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


class NliVerifier:
    """Trained verifier: int8 ONNX MiniLM cross-encoders over (claim, sentence) pairs (relevance: 3-way model;
    direction: 2-way model, read on the most relevant sentences; each may be an ensemble of runs, logits averaged,
    as the calibration names them) and a calibrated abstract-level map."""

    name = "nli-minilm"

    def __init__(self, folder: Path | None = None, threads: int = 0, calibration: Calibration | None = None) -> None:
        from .crossencoder import CrossEncoder, model_dir

        folder = Path(folder or model_dir())
        self.calibration = cal = calibration or Calibration.load(folder / "calibration.json")
        self.encoder = CrossEncoder(folder, threads=threads, filename=cal.relevance_models)
        # the files the maps were fitted on must all be there (a missing one is a ModelError naming it); none named
        # (`direction_models: []`) = the 3-way model's own SUPPORTS-vs-REFUTES share
        self.direction = CrossEncoder(folder, threads=threads, filename=cal.direction_models) \
            if cal.direction_models else None
        self.trained_on = training_claims(folder)

    def score(self, pairs: list[tuple[str, Paper]]) -> list[tuple[PairScores, list[str]]]:
        """Model scores for each pair, in two passes: relevance of every sentence, then the direction
        of the top sentences."""
        from .crossencoder import softmax

        cal = self.calibration
        sents = [paper_sentences(p) for _, p in pairs]
        flat = [(claim, s) for (claim, _), ss in zip(pairs, sents, strict=True) for s in ss]
        probs = softmax(self.encoder.logits(flat), cal.temperature)
        rel_all = 1.0 - probs[:, 2]
        out, start = [], 0
        dir_pairs = []
        for (claim, _), ss in zip(pairs, sents, strict=True):
            rel = rel_all[start:start + len(ss)]
            p3 = probs[start:start + len(ss)]
            start += len(ss)
            top = [int(j) for j in np.argsort(-rel)[:cal.top_sentences]]
            dir_pairs += [(claim, ss[j]) for j in top]
            # without a direction model, the 3-way model's own SUPPORTS-vs-REFUTES choice
            p_ref = p3[top, 1] / (p3[top, 0] + p3[top, 1] + 1e-9)
            out.append((PairScores(rel, p_ref, top, bool(NEGATED.search(claim))), ss))
        if self.direction is not None and dir_pairs:
            p = softmax(self.direction.logits(dir_pairs))[:, 1]
            start = 0
            for sc, _ in out:
                sc.p_refutes = p[start:start + len(sc.top)]
                start += len(sc.top)
        return out

    def verify(self, claim: str, paper: Paper) -> Verdict:
        return self.verify_many([(claim, paper)])[0]

    def verify_many(self, pairs: list[tuple[str, Paper]], cited: bool | Sequence[bool] = False) -> list[Verdict]:
        """Each pair judged on its own. `cited` (one flag, or one per pair): the paper was chosen for the claim
        (its source, a paper it cites) rather than found for it, so evidence is far likelier a priori."""
        flags = [cited] * len(pairs) if isinstance(cited, bool) else list(cited)
        if len(flags) != len(pairs):
            raise ValueError(f"cited: {len(flags)} flags for {len(pairs)} pairs")
        return [decide(sc, ss, self.calibration, method=self.name, cited=c)
                for (sc, ss), c in zip(self.score(pairs), flags, strict=True)]

    def verify_ranked(self, claim: str, papers: list[Paper], retrieval: Sequence[Sequence[float]]) -> list[Verdict]:
        """The claim against its retrieved candidates, best first: the calibration also uses each abstract's
        rank, its relevance margin over the other candidates (most claims have one evidence abstract) and the
        retrieval's own scores of it (`retrieval`: a row per paper, from `helpers.retrieval.search.hybrid_scored`)."""
        return self.verify_ranked_many([(claim, papers, retrieval)])[0]

    def verify_ranked_many(self, groups: list[tuple[str, list[Paper], Sequence[Sequence[float]]]]
                           ) -> list[list[Verdict]]:
        """`verify_ranked` for many claims, scored in one batched pass."""
        scored = self.score([(claim, p) for claim, papers, _ in groups for p in papers])
        out, start = [], 0
        for _, papers, retrieval in groups:
            part = scored[start:start + len(papers)]
            start += len(papers)
            context = ranked_features([sc for sc, _ in part], retrieval)
            out.append([decide(sc, ss, self.calibration, ctx, self.name)
                        for (sc, ss), ctx in zip(part, context, strict=True)])
        return out


def corroborate(verifier: Verifier, claim: str, papers: list[Paper]) -> list[Verdict]:
    """Check one claim against several papers (one batched call), verdicts in the papers' order."""
    return verifier.verify_many([(claim, p) for p in papers])


def tally(verdicts: list[Verdict]) -> dict[str, int]:
    """How many papers support / refute / say nothing about a claim."""
    return {label: sum(v.label == label for v in verdicts) for label in LABELS}


def load_verifier(name: str = "default") -> Verifier:
    """The shipped verifier: "default"/"nli" = trained cross-encoder (ModelError if its files are missing),
    "lexical" = the word-overlap baseline."""
    if name in ("default", "nli", NliVerifier.name):
        return NliVerifier()
    if name in ("lexical", LexicalVerifier.name):
        return LexicalVerifier()
    raise ValueError(f"unknown verifier '{name}' (known: nli, lexical)")
