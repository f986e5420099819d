"""Screening and PRISMA counts on real records: every record decided, reasons given, counts add up."""

from __future__ import annotations

import pytest

from helpers.params import parse_params
from helpers.records import Paper
from helpers.retrieval import prisma
from helpers.retrieval import stage as retrieval
from helpers.retrieval.screening import screen
from helpers.review.decisions import ReviewDecision, append

Q = {"question": "Does speculative decoding speed up large language model inference without changing output quality?",
     "slug": "screen-test", "sources": ["local:fixture"], "max_papers": 6, "min_papers": 2,
     "criteria": {"include_any": [["speculative decoding", "draft model"], ["speedup", "throughput", "latency", "faster"]],
                  "min_relevance": 0.3}}


def test_every_record_is_decided_and_counts_add_up():
    params = parse_params(Q)
    r = retrieval.run(params)
    assert {d.paper_id for d in r.decisions} == {p.id for p in r.papers}
    assert all(d.reason for d in r.decisions if d.decision == "excluded")
    assert not any(d.reason for d in r.decisions if d.decision == "included" and not d.reason.startswith("included by"))
    assert 0 < r.prisma.included <= 6
    assert r.prisma.screened == sum(r.prisma.excluded_automation.values()) + r.prisma.included
    table = r.table()
    assert (table.decision == "included").sum() == r.prisma.included
    assert all("speculative" in p.title.lower() or "draft" in p.abstract.lower() for p in r.included)
    # the cap keeps the most relevant: nothing excluded for the cap outranks an included paper
    capped = [d for d in r.decisions if d.reason.startswith("beyond max_papers")]
    if capped:
        assert max(d.relevance for d in capped) <= min(d.relevance for d in r.decisions if d.decision == "included")


def _paper(i, title, abstract, year=2025):
    return Paper(id=f"t:{i}", title=title, abstract=abstract, year=year)


def test_reasons_for_each_rule():
    params = parse_params({**Q, "year_from": 2024, "criteria": {**Q["criteria"], "exclude_any": ["quantum"]}})
    papers = [
        _paper(1, "Faster speculative decoding", "We show speculative decoding gives a 2x speedup with a draft model."),
        _paper(2, "Old speculative decoding", "Speculative decoding speedup.", year=2019),
        _paper(3, "Quantum speculative decoding", "A quantum speedup for speculative decoding."),
        _paper(4, "A survey of speculative decoding", "We survey speculative decoding and its speedup."),
        _paper(5, "Image segmentation", "We segment images faster."),
        _paper(6, "Empty", ""),
    ]
    reasons = {d.paper_id: (d.decision, d.reason) for d in screen(papers, params)}
    assert reasons["t:1"][0] == "included"
    assert reasons["t:2"] == ("excluded", "outside year range (2019)")
    assert reasons["t:3"] == ("excluded", "exclusion keyword: quantum")
    assert reasons["t:4"] == ("excluded", "survey or review (secondary source)")
    assert reasons["t:5"][1].startswith("does not mention: speculative decoding")
    assert reasons["t:6"] == ("excluded", "no abstract available")


def test_prisma_rejects_counts_that_do_not_add_up():
    with pytest.raises(ValueError, match="do not add up"):
        prisma.PrismaCounts({"a": 10}, 1, {"relevance below threshold": 3}, {}, 5).check()


def test_reviewer_exclusion_is_counted_apart():
    params = parse_params({**Q, "slug": "screen-reviewer"})
    first = retrieval.run(params)
    victim = first.included[0].id
    append("screen-reviewer", ReviewDecision("paper", victim, "exclude", note="not an LLM paper"))
    again = retrieval.run(params)
    d = {x.paper_id: x for x in again.decisions}[victim]
    assert d.decision == "excluded" and d.reason == "excluded by reviewer: not an LLM paper"
    assert again.prisma.excluded_reviewer == {"excluded by reviewer: not an LLM paper": 1}
    assert again.prisma.included == first.prisma.included - 1
    again.prisma.check()
