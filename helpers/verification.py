"""The verification stage: every claim checked against its own source (grounding) and, independently,
against the other retrieved papers (corroboration: supported by k, contradicted by m)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .claims import Claim
from .records import Paper
from .screening import stem
from .text import content_words, paper_sentences
from .verify import Verifier

LABELS = ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")


@dataclass
class ClaimCheck:
    claim: Claim
    label: str
    confidence: float
    grounding_label: str
    grounding_confidence: float
    supported_by: list[str] = field(default_factory=list)
    contradicted_by: list[str] = field(default_factory=list)
    evidence: list[dict] = field(default_factory=list)  # {paper_id, label, confidence, sentences, text}
    checked_against: list[str] = field(default_factory=list)
    contradiction: bool = False

    def row(self) -> dict:
        return {
            "claim_id": self.claim.claim_id, "paper_id": self.claim.paper_id, "claim": self.claim.text,
            "sentence_index": self.claim.sentence_index, "label": self.label, "confidence": round(self.confidence, 4),
            "evidence_paper_ids": ";".join(e["paper_id"] for e in self.evidence),
            "supported_by": len(self.supported_by), "contradicted_by": len(self.contradicted_by),
            "contradiction": self.contradiction, "checked_against": len(self.checked_against),
            "grounding_label": self.grounding_label, "grounding_confidence": round(self.grounding_confidence, 4),
        }


def _overlap(claim: str, paper: Paper) -> float:
    c = {stem(w) for w in content_words(claim)}
    p = {stem(w) for w in content_words(f"{paper.title} {paper.abstract}")}
    return len(c & p) / max(1, len(c))


def candidates_for(claim: Claim, pool: list[Paper], n: int) -> list[Paper]:
    """The `n` papers of the pool (other than the claim's source) most likely to speak to the claim."""
    others = [p for p in pool if p.id != claim.paper_id and p.abstract]
    others.sort(key=lambda p: -_overlap(claim.text, p))
    return others[:n]


def check_claims(claims: list[Claim], papers: dict[str, Paper], pool: list[Paper], verifier: Verifier,
                 threshold: float, n_candidates: int = 5) -> list[ClaimCheck]:
    """Verify every claim. A claim is SUPPORTS / REFUTES only when some other paper's verdict has that label
    with confidence >= `threshold`; otherwise NOT ENOUGH INFO. Conflicting strong verdicts are flagged."""
    pairs: list[tuple[str, Paper]] = []
    index: list[tuple[int, str]] = []
    cands: list[list[Paper]] = []
    for ci, claim in enumerate(claims):
        pairs.append((claim.text, papers[claim.paper_id]))
        index.append((ci, "ground"))
        cs = candidates_for(claim, pool, n_candidates)
        cands.append(cs)
        for p in cs:
            pairs.append((claim.text, p))
            index.append((ci, p.id))
    # the claim's own source was chosen for it (cited map); the other papers were found for it
    verdicts = verifier.verify_many(pairs, cited=[what == "ground" for _, what in index]) if pairs else []
    per_claim: dict[int, list] = {i: [] for i in range(len(claims))}
    ground: dict[int, object] = {}
    for (ci, what), (_, paper), v in zip(index, pairs, verdicts):
        if what == "ground":
            ground[ci] = v
        else:
            per_claim[ci].append((paper, v))
    checks = []
    for ci, claim in enumerate(claims):
        g = ground[ci]
        sup = [(p, v) for p, v in per_claim[ci] if v.label == "SUPPORTS" and v.confidence >= threshold]
        ref = [(p, v) for p, v in per_claim[ci] if v.label == "REFUTES" and v.confidence >= threshold]
        best_sup = max((v.confidence for _, v in sup), default=0.0)
        best_ref = max((v.confidence for _, v in ref), default=0.0)
        if sup or ref:
            label = "SUPPORTS" if best_sup >= best_ref else "REFUTES"
            conf = max(best_sup, best_ref)
        else:
            label = "NOT ENOUGH INFO"
            strongest = max((max(v.probs.get("SUPPORTS", 0), v.probs.get("REFUTES", 0)) for _, v in per_claim[ci]),
                            default=0.0)
            conf = 1.0 - strongest
        evidence = []
        for p, v in sup + ref:
            sents = paper_sentences(p)
            evidence.append({"paper_id": p.id, "label": v.label, "confidence": round(v.confidence, 4),
                             "sentences": list(v.sentences),
                             "text": " ".join(sents[i] for i in v.sentences if i < len(sents))})
        checks.append(ClaimCheck(
            claim, label, conf, g.label, g.confidence, [p.id for p, _ in sup], [p.id for p, _ in ref],
            evidence, [p.id for p in cands[ci]], contradiction=bool(sup and ref),
        ))
    return checks


def table(checks: list[ClaimCheck]) -> pd.DataFrame:
    cols = ["claim_id", "paper_id", "claim", "sentence_index", "label", "confidence", "evidence_paper_ids",
            "supported_by", "contradicted_by", "contradiction", "checked_against", "grounding_label",
            "grounding_confidence"]
    return pd.DataFrame([c.row() for c in checks], columns=cols)
