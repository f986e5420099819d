"""The claims stage: extract claims from the included papers, check every claim against its own source
(grounding) and, independently, against the other retrieved papers (corroboration: supported by k,
contradicted by m), apply a person's decisions, and write claims.csv / claims.jsonl / verification.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import spreadsheet
from ..atomic import write_text
from ..outputs import load_analysis, load_papers
from ..params import Params
from ..records import Paper
from ..review.apply import apply_claim_decisions
from ..text import paper_sentences, stems
from . import reading
from .claims import Claim, select
from .verifier import Verifier, load_verifier


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
            "sub_question": self.claim.sub_question, "answer_score": self.claim.score,
        }


def _overlap(claim: str, paper: Paper) -> float:
    c = stems(claim)
    p = stems(f"{paper.title} {paper.abstract}")
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
            "grounding_confidence", "sub_question", "answer_score"]
    return pd.DataFrame([c.row() for c in checks], columns=cols)


def claims_stage(params: Params, out_dir: Path, verifier: Verifier | None = None,
                 stance_model=None) -> pd.DataFrame:
    """Read the included papers for each sub-question (evidence, stances, quantities), take the sentences that
    answer as claims, verify each, apply reviews; write claims.csv/jsonl and the reading's files. `stance_model`
    reads the stances (default: the verifier's stance head)."""
    out_dir = Path(out_dir)
    included, all_papers, _ = load_papers(out_dir)
    verifier = verifier or load_verifier()
    analysis = load_analysis(out_dir)
    found = reading.read(analysis, included, verifier, stance_model=stance_model,
                         stance_threshold=params.stance_threshold)
    reading.save(found, out_dir)
    extracted = select(found.evidence, included, analysis.sub_questions, params.claims_per_paper)
    by_id = {p.id: p for p in all_papers}
    # corroboration pool: every screened record with an abstract (included first), not only the included set
    pool = included + [p for p in all_papers if p.id not in {q.id for q in included}][:100]
    checks = check_claims(extracted, by_id, pool, verifier, params.support_threshold)
    df = table(checks)
    df["method"] = getattr(verifier, "name", type(verifier).__name__)
    kept, rejected = apply_claim_decisions(df, params.slug or "")
    write_text(out_dir / "claims.csv", spreadsheet.to_csv(kept))
    write_text(out_dir / "claims_rejected.csv", spreadsheet.to_csv(rejected))
    detail = [{**c.row(), "evidence": c.evidence, "checked_against_ids": c.checked_against} for c in checks]
    write_text(out_dir / "claims.jsonl", "\n".join(json.dumps(d, ensure_ascii=False) for d in detail) + "\n")
    write_text(out_dir / "verification.json", json.dumps({
        "verifier": df["method"].iloc[0] if len(df) else getattr(verifier, "name", ""),
        "support_threshold": params.support_threshold,
        "how": ("Each claim is checked against up to 5 other screened papers most similar to it. It is labelled "
                "SUPPORTS or REFUTES only when at least one of those papers gets that label with calibrated "
                f"confidence ≥ {params.support_threshold:.2f}; otherwise NOT ENOUGH INFO. Grounding against "
                "its own source abstract is reported separately."),
    }, indent=1))
    return kept
