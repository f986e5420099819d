"""How a person's decisions are applied on every run: they override the automation and are never lost.

Paper decisions (include / exclude, with a reason) act on the screening; claim decisions (accept / reject /
relabel) act on the verified claims. The last decision per id wins (`decisions.latest`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import pandas as pd

from . import decisions as reviews


class ScreeningDecision(Protocol):
    """What a paper decision acts on (the screening's `Decision`)."""

    paper_id: str
    decision: str
    reason: str
    excluded_by: str


def apply_paper_decisions(decisions: Iterable[ScreeningDecision], slug: str) -> None:
    """A person's paper decisions override the automation: excluded papers leave with their reason."""
    latest = reviews.latest(slug)
    for d in decisions:
        dec = latest.get(("paper", d.paper_id))
        d.excluded_by = ""
        if dec is None:
            continue
        if dec.decision == "exclude":
            d.decision, d.reason = "excluded", f"excluded by reviewer: {dec.note or 'no reason given'}"
            d.excluded_by = "reviewer"
        elif dec.decision == "include":
            d.decision, d.reason = "included", f"included by reviewer{': ' + dec.note if dec.note else ''}"


def apply_claim_decisions(df: pd.DataFrame, slug: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply a person's claim decisions: (claims kept, claims rejected). Relabels keep the machine's label."""
    latest = reviews.latest(slug)
    df = df.copy()
    df["verifier_label"] = df["label"]
    df["label_source"] = "verifier"
    df["review"] = ""
    df["review_note"] = ""
    rejected = []
    for i, row in df.iterrows():
        dec = latest.get(("claim", row["claim_id"]))
        if dec is None:
            continue
        df.at[i, "review_note"] = dec.note or ""
        if dec.decision == "reject":
            rejected.append(i)
            df.at[i, "review"] = "rejected"
        elif dec.decision == "relabel":
            df.at[i, "label"] = dec.label
            df.at[i, "label_source"] = "reviewer"
            df.at[i, "review"] = "relabelled"
        else:
            df.at[i, "review"] = "accepted"
    return df.drop(index=rejected).reset_index(drop=True), df.loc[rejected].reset_index(drop=True)
