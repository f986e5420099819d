"""Stages 2 and 3 as functions over `outputs/<slug>/` files, so notebooks stay thin and tests can call them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import claims as claims_mod
from . import reviews
from .atomic import write_text
from .params import Params
from .records import Paper
from .retrieval import load_records
from .reviewers import Synthesis, review
from .verification import check_claims, table
from .verify import Verifier, load_verifier


def load_papers(out_dir: Path) -> tuple[list[Paper], list[Paper], dict[str, float]]:
    """(included papers, all screened papers, relevance by id) from records.jsonl."""
    recs = load_records(out_dir)
    all_papers = [Paper.from_dict(r) for r in recs]
    inc_ids = {r["id"] for r in recs if r["decision"] == "included"}
    return [p for p in all_papers if p.id in inc_ids], all_papers, {r["id"]: r["relevance"] for r in recs}


def apply_claim_reviews(df: pd.DataFrame, slug: str) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def claims_stage(params: Params, out_dir: Path, verifier: Verifier | None = None) -> pd.DataFrame:
    """Extract claims from the included papers, verify each, apply reviews; write claims.csv/jsonl."""
    out_dir = Path(out_dir)
    included, all_papers, _ = load_papers(out_dir)
    verifier = verifier or load_verifier()
    extracted = claims_mod.extract(included, params)
    by_id = {p.id: p for p in all_papers}
    # corroboration pool: every screened record with an abstract (included first), not only the included set
    pool = included + [p for p in all_papers if p.id not in {q.id for q in included}][:100]
    checks = check_claims(extracted, by_id, pool, verifier, params.support_threshold)
    df = table(checks)
    df["method"] = getattr(verifier, "name", type(verifier).__name__)
    kept, rejected = apply_claim_reviews(df, params.slug or "")
    write_text(out_dir / "claims.csv", kept.to_csv(index=False))
    write_text(out_dir / "claims_rejected.csv", rejected.to_csv(index=False))
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


def synthesis(params: Params, out_dir: Path) -> Synthesis:
    """The reviewers' view of a run, read back from its files."""
    out_dir = Path(out_dir)
    recs = load_records(out_dir)
    papers_csv = pd.read_csv(out_dir / "papers.csv", keep_default_na=False)
    src = dict(zip(papers_csv["id"], papers_csv["source"]))
    papers = [{**r, "source": src.get(r["id"], r.get("source", ""))} for r in recs]
    claims = pd.read_csv(out_dir / "claims.csv", keep_default_na=False).to_dict("records")
    prisma = json.loads((out_dir / "prisma.json").read_text())
    return Synthesis(params.question, params.criteria.include_any, params.min_papers, params.support_threshold, papers, claims,
                     prisma, prisma.get("failed_sources", {}))


def scoring_stage(params: Params, out_dir: Path) -> dict:
    """Run the independent reviewers; write review.json and the score-breakdown figure review.png."""
    out_dir = Path(out_dir)
    result = review(synthesis(params, out_dir))
    write_text(out_dir / "review.json", json.dumps(result, indent=1))
    fig = score_figure(result)
    fig.savefig(out_dir / "review.png", dpi=130)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return result


def score_figure(result: dict):
    """Horizontal bars: every reviewer's items, grouped, with the reviewer's mean."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = [(r["reviewer"], i["name"], i["score"]) for r in result["reviewers"] for i in r["items"] if i["score"] is not None]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.4))
    colors = plt.cm.tab10.colors
    names = [r["reviewer"] for r in result["reviewers"]]
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [s for _, _, s in rows], color=[colors[names.index(r) % 10] for r, _, _ in rows])
    ax.set_yticks(y, [f"{r}: {n}" for r, n, _ in rows], fontsize=8)
    ax.set_xlim(0, 10)
    ax.set_xlabel("item score (0-10)")
    alpha = result["agreement"]["krippendorff_alpha"]
    ax.set_title(f"Overall {result['overall']:.1f}/10 (spread {result['spread'].get('min', 0):.1f}-"
                 f"{result['spread'].get('max', 0):.1f}; Krippendorff's alpha "
                 f"{'n/a' if alpha is None else f'{alpha:.2f}'})", fontsize=10)
    fig.tight_layout()
    return fig
