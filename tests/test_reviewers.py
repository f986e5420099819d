"""Independent reviewers: scores discriminate on-topic from off-topic and strong from weak evidence."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.params import parse_params
from helpers.retrieval import stage as retrieval
from helpers.synthesis import report
from helpers.synthesis.reviewers import ReviewerReport, krippendorff_alpha, review
from helpers.synthesis.scoring import scoring_stage, synthesis
from helpers.verification.stage import claims_stage

# stance_threshold 0.5: these tests need runs whose yes/no parts get verdicts (the reviewers are what they test)
BASE = {"question": "Does speculative decoding speed up large language model inference without changing output quality?",
        "min_papers": 3, "max_papers": 8, "retrieval_method": "bm25", "stance_threshold": 0.5,
        "criteria": {"include_any": [["speculative decoding", "draft model", "draft tokens"],
                                     ["speedup", "speed-up", "throughput", "latency", "faster", "acceleration"]]}}


def _run(tmp_path, slug, corpus, **over):
    params = parse_params({**BASE, "slug": slug, "sources": [f"local:{corpus}"], **over})
    out = tmp_path / slug
    retrieval.save(retrieval.run(params), out)
    claims_stage(params, out)
    result = scoring_stage(params, out)
    report.report_stage(params, out)
    return params, out, result


@pytest.fixture(scope="module")
def on_topic(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("on"), "on-topic", "fixture")


def test_off_topic_corpus_scores_far_lower_and_says_insufficient(on_topic, tmp_path):
    _, _, good = on_topic
    _, out, bad = _run(tmp_path, "off-topic", "scifact")  # biomedical abstracts for an LLM question
    assert bad["overall"] <= good["overall"] - 3, (bad["overall"], good["overall"])
    answer = json.loads((out / "answer.json").read_text())
    assert answer["status"] == "insufficient" and "does not answer" in answer["text"]
    assert "does not answer this question" in (out / "report.md").read_text()


def test_removing_verification_evidence_lowers_evidence_score(on_topic, tmp_path):
    params, out, good = on_topic
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False)
    claims["label"] = "NOT ENOUGH INFO"
    claims["evidence_paper_ids"] = ""
    claims["supported_by"] = 0
    claims["contradiction"] = False
    weak = synthesis(params, out)
    weak.claims = claims.to_dict("records")
    strong = synthesis(params, out)
    strong.claims = [{**c, "label": "SUPPORTS", "confidence": 0.9} for c in claims.to_dict("records")]
    by = lambda res: {r["reviewer"]: r for r in res["reviewers"]}  # noqa: E731
    w, s = by(review(weak))["evidence"], by(review(strong))["evidence"]
    assert w["score"] < s["score"]
    assert {i["name"]: i["score"] for i in w["items"]}["corroboration"] == 0
    assert review(weak)["overall"] < review(strong)["overall"]


def test_different_questions_get_different_scores_and_reasons(on_topic, tmp_path):
    _, _, a = on_topic
    _, _, b = _run(tmp_path, "moe", "fixture",
                   question="Does mixture-of-experts routing reduce inference cost of large language models?",
                   criteria={"include_any": [["mixture-of-experts", "experts", "moe"], ["inference", "cost", "efficient"]]})
    assert a["overall"] != b["overall"]
    reasons = lambda res: {(r["reviewer"], i["name"]): i["reason"] for r in res["reviewers"] for i in r["items"]}  # noqa: E731
    ra, rb = reasons(a), reasons(b)
    assert sum(ra[k] != rb[k] for k in ra) >= 3


def test_every_item_has_a_reason_and_bounded_score(on_topic):
    _, _, res = on_topic
    assert len(res["reviewers"]) >= 4
    for r in res["reviewers"]:
        for it in r["items"]:
            assert it["reason"] and "\n" not in it["reason"]
            assert (it["score"] is None and "cannot be judged" in it["reason"]) or 0 <= it["score"] <= 10
    weighted = sum(r["score"] * r["weight"] for r in res["reviewers"]) / sum(r["weight"] for r in res["reviewers"])
    if res["cap"]:
        assert res["overall"] == res["cap"]["at"] < weighted
    else:
        assert res["spread"]["min"] <= res["overall"] <= res["spread"]["max"]
        assert res["overall"] == pytest.approx(weighted, abs=0.01)
    weights = {r["reviewer"]: r["weight"] for r in res["reviewers"]}
    assert weights["evidence"] == 2.0 and weights["answer"] == 2.0


def test_an_answer_that_does_not_answer_scores_at_most_4(on_topic):
    params, out, res = on_topic
    s = synthesis(params, out)
    answered = dict(s.answer, status="answered")
    answered["sub_answers"] = [dict(a, status="answered") for a in s.answer["sub_answers"]]
    s.answer = answered
    high = review(s)
    s.answer = dict(answered, status="not answered",
                    sub_answers=[dict(a, status="not answered", addressing=[]) for a in answered["sub_answers"]])
    low = review(s)
    by = lambda r: {x["reviewer"]: x for x in r["reviewers"]}  # noqa: E731
    assert by(low)["answer"]["score"] < by(high)["answer"]["score"]
    assert low["overall"] <= 4.0 and (low["cap"] is not None or low["overall"] <= 4.0)
    assert high["overall"] > low["overall"]


def test_krippendorff_alpha_against_hand_computed_values():
    # perfect agreement -> 1; two coders, interval data, one disagreement, hand-computed below
    same = [ReviewerReport("a", "", [], {"x": 1, "y": 5, "z": 9}), ReviewerReport("b", "", [], {"x": 1, "y": 5, "z": 9})]
    assert krippendorff_alpha(same) == 1.0
    # coder a: 1,2,3; coder b: 1,2,4 (interval metric, n = 6 pairable values)
    # D_o = (1/n) * sum_u 1/(m_u-1) * sum_{ordered pairs in u} (c-k)^2 = (1/6) * 2 = 1/3
    # D_e = sum over ordered pairs of all 6 values of (v-v')^2 / (n(n-1)) = 2*41 / 30 = 82/30
    # alpha = 1 - D_o/D_e = 1 - (1/3)/(82/30) = 1 - 10/82 = 0.878
    r = [ReviewerReport("a", "", [], {"x": 1, "y": 2, "z": 3}), ReviewerReport("b", "", [], {"x": 1, "y": 2, "z": 4})]
    assert krippendorff_alpha(r) == pytest.approx(0.878, abs=0.001)
    assert krippendorff_alpha(r[:1]) is None
