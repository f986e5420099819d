"""What the included papers say about each sub-question: the sentences that answer it (`evidence`), each paper's
stance on the yes/no ones (`stance`), and the quantities reported for the others (`findings`).

Written by the claims stage as `evidence.json`, `stance.json`, `findings.csv` and `findings.json`; the answer is
built from these files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import spreadsheet
from ..atomic import write_text
from ..question import QuestionAnalysis
from ..records import Paper
from .evidence import Evidence, Ranker, rank
from .findings import Quantity, quantities, summary
from .findings import table as findings_table
from .stance import Stance, StanceModel

EVIDENCE_KEPT = 3  # sentences kept per paper and sub-question in evidence.json
QUANTITY_SENTENCES = 3  # evidence sentences per paper read for quantities


@dataclass
class Reading:
    analysis: QuestionAnalysis
    evidence: dict[tuple[str, str], list[Evidence]]
    stances: dict[str, dict[str, Stance]] = field(default_factory=dict)  # sub-question -> paper -> stance
    quantities: list[Quantity] = field(default_factory=list)

    def addressing(self, sq_id: str) -> list[str]:
        """Ids of the papers with at least one sentence that addresses the sub-question."""
        return sorted({pid for (pid, q), ev in self.evidence.items() if q == sq_id and any(e.addresses for e in ev)})


def read(analysis: QuestionAnalysis, papers: list[Paper], verifier, ranker: Ranker | None = None,
         stance_model: StanceModel | None = None, stance_threshold: float = 0.6) -> Reading:
    """Rank every paper's sentences for every sub-question; read the stance of each paper on the yes/no ones
    (a paper none of whose sentences addresses a sub-question is "not addressed"; a stance below
    `stance_threshold` is "unclear"); pull the reported quantities out of the evidence sentences of the other
    sub-questions."""
    ranker = ranker or Ranker.load()
    evidence = rank(papers, analysis, ranker, verifier)
    reading = Reading(analysis, evidence)
    yes_no = [sq for sq in analysis.sub_questions if sq.kind == "yes-no"]
    if yes_no and papers:
        model = stance_model or StanceModel(verifier=verifier)
        for sq in yes_no:
            addressed = set(reading.addressing(sq.id))
            read = [p for p in papers if p.id in addressed]
            by_id = {}
            for p, st in zip(read, model.stances(sq.text, read), strict=True):
                by_id[p.id] = st if st.confidence >= stance_threshold else \
                    Stance("unclear", st.confidence, st.probs, f"{st.method} (most likely {st.label}, below "
                                                               f"{stance_threshold:.2f})")
            reading.stances[sq.id] = {p.id: by_id.get(p.id) or Stance("not addressed", 1.0, {}, "evidence: no sentence "
                                                                       "of the paper addresses it") for p in papers}
    for sq in analysis.sub_questions:
        if sq.kind == "yes-no" and sq.role != "condition":
            continue
        for paper in papers:
            ev = [e for e in evidence.get((paper.id, sq.id), []) if e.addresses][:QUANTITY_SENTENCES]
            for e in ev:
                reading.quantities += quantities(e.text, paper.id, e.sentence_index, sq.id)
    return reading


def save(reading: Reading, out_dir: Path) -> None:
    """evidence.json, stance.json, findings.csv and findings.json."""
    out_dir = Path(out_dir)
    ev = {}
    for (pid, q), items in reading.evidence.items():
        ev.setdefault(q, {})[pid] = [e.to_dict() for e in items[:EVIDENCE_KEPT]]
    write_text(out_dir / "evidence.json", json.dumps(ev, indent=1, ensure_ascii=False))
    write_text(out_dir / "stance.json", json.dumps(
        {q: {pid: s.to_dict() for pid, s in by.items()} for q, by in reading.stances.items()}, indent=1))
    write_text(out_dir / "findings.csv", spreadsheet.to_csv(findings_table(reading.quantities)))
    per_sq = {sq.id: summary([x for x in reading.quantities if x.sub_question == sq.id])
              for sq in reading.analysis.sub_questions}
    write_text(out_dir / "findings.json", json.dumps({"summary": per_sq}, indent=1))
