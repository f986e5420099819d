"""A person's decisions: appended, never rewritten, last per id wins, survive torn writes; panels write them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.errors import ReviewError
from helpers.params import parse_params
from helpers.retrieval import stage as retrieval
from helpers.review import decisions as reviews
from helpers.review.panels import ClaimsPanel, ScreeningPanel
from helpers.synthesis.scoring import scoring_stage
from helpers.verification.stage import claims_stage

Q = {"question": "Does speculative decoding speed up LLM inference without quality loss?", "sources": ["local:fixture"],
     "min_papers": 2, "max_papers": 6,
     "criteria": {"include_any": [["speculative decoding", "draft model"], ["speedup", "faster", "latency"]]}}


def test_append_only_last_wins(tmp_path):
    f = tmp_path / "r.jsonl"
    reviews.append("s", reviews.ReviewDecision("claim", "C1", "accept"), f)
    reviews.append("s", reviews.ReviewDecision("claim", "C1", "relabel", "REFUTES", note="misread"), f)
    reviews.append("s", reviews.ReviewDecision("paper", "arxiv:1", "exclude", note="off topic"), f)
    lines = f.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["decision"] == "accept"  # history kept
    latest = reviews.latest("s", f)
    assert latest[("claim", "C1")].label == "REFUTES" and latest[("paper", "arxiv:1")].note == "off topic"
    assert all(json.loads(x)["at"] and json.loads(x)["reviewer"] for x in lines)


def test_invalid_decisions_rejected(tmp_path):
    with pytest.raises(ReviewError):
        reviews.append("s", reviews.ReviewDecision("claim", "C1", "relabel", "MAYBE"), tmp_path / "r.jsonl")
    with pytest.raises(ReviewError):
        reviews.append("s", reviews.ReviewDecision("paper", "p", "accept"), tmp_path / "r.jsonl")


def test_torn_last_line_is_skipped_and_next_append_is_intact(tmp_path):
    f = tmp_path / "r.jsonl"
    reviews.append("s", reviews.ReviewDecision("claim", "C1", "reject"), f)
    with open(f, "a") as fh:
        fh.write('{"kind": "claim", "id": "C2", "deci')  # a writer killed mid-line
    with pytest.warns(UserWarning, match="skipped"):
        assert list(reviews.latest("s", f)) == [("claim", "C1")]
    reviews.append("s", reviews.ReviewDecision("claim", "C3", "accept"), f)
    with pytest.warns(UserWarning):
        assert set(reviews.latest("s", f)) == {("claim", "C1"), ("claim", "C3")}


@pytest.fixture()
def run_out(tmp_path):
    params = parse_params({**Q, "slug": "panel-" + "".join(ch for ch in tmp_path.name.lower() if ch.isalnum())[-12:]})
    out = tmp_path / "out"
    retrieval.save(retrieval.run(params), out)
    claims_stage(params, out)
    return params, out


def test_claims_panel_buttons_write_decisions(run_out):
    params, out = run_out
    panel = ClaimsPanel(params.slug, out, page_size=3)
    ids = list(panel.controls)
    assert len(ids) == min(3, len(panel.claims)) >= 2
    panel.controls[ids[0]]["note"].value = "off-topic finding"
    panel.controls[ids[0]]["reject"].click()
    ctl = panel.controls[ids[1]]
    ctl["relabel"].value = "REFUTES"
    ctl["apply"].click()
    lines = [json.loads(x) for x in reviews.reviews_path(params.slug).read_text().splitlines()]
    assert [(x["id"], x["decision"], x["label"], x["note"]) for x in lines] == [
        (ids[0], "reject", None, "off-topic finding"), (ids[1], "relabel", "REFUTES", "")]
    assert "Reviewed 2 of" in panel.summary.value
    panel.status_filter.value = "pending"
    assert not set(panel.filtered().claim_id) & {ids[0], ids[1]}
    # quick keys act on the highlighted claim and move on
    panel.status_filter.value = "all"
    target = list(panel.controls)[-1]
    panel.current = target
    panel.quick.value = "f"
    assert reviews.latest(params.slug)[("claim", target)].label == "REFUTES"
    assert panel.quick.value == ""  # cleared, ready for the next key


def test_panel_filters_and_pages(run_out):
    params, out = run_out
    panel = ClaimsPanel(params.slug, out, page_size=2)
    n = len(panel.claims)
    panel.min_conf.value = 1.0
    assert all(panel.filtered().confidence.astype(float) >= 1.0)
    panel.min_conf.value = 0.0
    panel.label_filter.value = "NOT ENOUGH INFO"
    assert set(panel.filtered().label) <= {"NOT ENOUGH INFO"}
    panel.label_filter.value = "all"
    panel.next_btn.click()
    assert panel.page == (1 if n > 2 else 0)


def test_rerun_honours_reject_relabel_and_exclusion(run_out):
    params, out = run_out
    from helpers.synthesis import report

    claims0 = __import__("pandas").read_csv(out / "claims.csv")
    keep_paper = claims0.paper_id.iloc[0]
    target_claims = claims0[claims0.paper_id != keep_paper]
    rejected, relabelled = claims0.claim_id.iloc[0], claims0.claim_id.iloc[1]
    reviews.append(params.slug, reviews.ReviewDecision("claim", rejected, "reject", note="not a finding"))
    reviews.append(params.slug, reviews.ReviewDecision("claim", relabelled, "relabel", "REFUTES"))
    assert len(target_claims), "the fixture run must yield claims from at least two papers"
    excluded_paper = target_claims.paper_id.iloc[-1]
    reviews.append(params.slug, reviews.ReviewDecision("paper", excluded_paper, "exclude", note="wrong population"))
    retrieval.save(retrieval.run(params), out)
    claims = claims_stage(params, out)
    scoring_stage(params, out)
    report.report_stage(params, out)
    assert rejected not in set(claims.claim_id)
    row = claims[claims.claim_id == relabelled].iloc[0]
    assert row.label == "REFUTES" and row.label_source == "reviewer"
    md = (out / "report.md").read_text()
    assert "set by reviewer" in md and "A person reviewed 2 claims (1 rejected, 1 relabelled)" in md
    prisma = json.loads((out / "prisma.json").read_text())
    assert excluded_paper not in set(claims.paper_id)
    assert prisma["excluded_reviewer"] == {"excluded by reviewer: wrong population": 1}
    assert report.consistency_problems(out) == []


def test_screening_panel_writes_paper_decisions(run_out):
    params, out = run_out
    table = __import__("pandas").read_csv(out / "papers.csv", keep_default_na=False)
    panel = ScreeningPanel(params.slug, table)
    pid = next(iter(panel.controls))
    panel.controls[pid]["reason"].value = "wrong task"
    panel.controls[pid]["exclude"].click()
    assert reviews.latest(params.slug)[("paper", pid)].note == "wrong task"


def test_kill_during_claims_loses_no_decision(tmp_path):
    """kill -9 during notebook 2 of a run: the decisions already made survive and the next run completes."""
    slug = "fixture-speculative-decoding"
    fixture = Path("tests/fixtures/fixture.yaml").resolve()
    out_root = tmp_path / "outputs"
    reviews.append(slug, reviews.ReviewDecision("paper", "arxiv:0000.00000", "exclude", note="before kill"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "helpers.cli", "run", str(fixture), "--out", str(out_root)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out_root.glob(".*staging*/02_claims.ipynb")):
        time.sleep(0.2)
    reviews.append(slug, reviews.ReviewDecision("claim", "C-during", "accept", note="while running"))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    latest = reviews.latest(slug)
    assert latest[("paper", "arxiv:0000.00000")].note == "before kill"
    assert latest[("claim", "C-during")].note == "while running"
    done = subprocess.run([sys.executable, "-m", "helpers.cli", "run", str(fixture), "--out", str(out_root)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out_root / slug / "report.html").exists()
    assert reviews.latest(slug)[("claim", "C-during")].decision == "accept"


def test_review_command_lists_decided_and_pending(run_out, monkeypatch):
    from typer.testing import CliRunner

    from helpers.cli import app

    params, out = run_out
    claims = __import__("pandas").read_csv(out / "claims.csv")
    first = claims.claim_id.iloc[0]
    reviews.append(params.slug, reviews.ReviewDecision("claim", first, "relabel", "REFUTES", note="misread"))
    monkeypatch.setenv("WORKBENCH_OUTPUTS_DIR", str(out.parent))
    (out.parent / params.slug).mkdir(exist_ok=True)
    import shutil

    shutil.copy(out / "claims.jsonl", out.parent / params.slug / "claims.jsonl")
    res = CliRunner().invoke(app, ["review", params.slug])
    assert res.exit_code == 0, res.output
    assert f"claim\t{first}\trelabel -> REFUTES" in res.output
    assert f"1 claim and 0 paper decisions; {len(claims) - 1} of {len(claims)} claims pending" in res.output
    assert first not in [line.split("\t")[1] for line in res.output.splitlines() if line.startswith("pending")]


def test_claim_and_paper_ids_are_stable_across_reruns(tmp_path):
    params = parse_params({**Q, "slug": "stable-ids"})
    ids = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        retrieval.save(retrieval.run(params), out)
        claims = claims_stage(params, out)
        papers = __import__("pandas").read_csv(out / "papers.csv")
        ids.append((list(claims.claim_id), list(papers.id)))
    assert ids[0] == ids[1] and ids[0][0]
