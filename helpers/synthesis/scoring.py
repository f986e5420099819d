"""The answer and scoring stage: the graded answer from the run's files (answer.json), then the independent
reviewers rate the synthesis (review.json and the score-breakdown figure review.png)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import spreadsheet
from ..atomic import write_text
from ..outputs import load_analysis, load_json, load_papers, load_records, reference_numbers
from ..params import Params
from .answer import answer
from .reviewers import Synthesis, review


def answer_stage(params: Params, out_dir: Path) -> dict:
    """The answer to each sub-question from the run's reading of the included papers; writes answer.json."""
    out_dir = Path(out_dir)
    included, _, relevance = load_papers(out_dir)
    claims = spreadsheet.read_csv(out_dir / "claims.csv").to_dict("records")
    ans = answer(load_analysis(out_dir), included, relevance, load_json(out_dir, "evidence.json", {}),
                 load_json(out_dir, "stance.json", {}), load_json(out_dir, "findings.json", {}).get("summary", {}),
                 claims, reference_numbers(included), params.min_papers, params.support_threshold,
                 params.min_stance_papers).to_dict()
    write_text(out_dir / "answer.json", json.dumps(ans, indent=1, ensure_ascii=False))
    return ans


def synthesis(params: Params, out_dir: Path) -> Synthesis:
    """The reviewers' view of a run, read back from its files."""
    out_dir = Path(out_dir)
    recs = load_records(out_dir)
    papers_csv = spreadsheet.read_csv(out_dir / "papers.csv")
    src = dict(zip(papers_csv["id"], papers_csv["source"]))
    papers = [{**r, "source": src.get(r["id"], r.get("source", ""))} for r in recs]
    claims = spreadsheet.read_csv(out_dir / "claims.csv").to_dict("records")
    prisma = json.loads((out_dir / "prisma.json").read_text())
    question = load_json(out_dir, "question.json", {})
    facets = params.criteria.include_any or question.get("facets", [])
    return Synthesis(params.question, facets, params.min_papers, params.support_threshold, papers, claims,
                     prisma, prisma.get("failed_sources", {}), load_json(out_dir, "answer.json", {}))


def scoring_stage(params: Params, out_dir: Path) -> dict:
    """The answer (answer.json), then the independent reviewers; write review.json and review.png."""
    out_dir = Path(out_dir)
    answer_stage(params, out_dir)
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
