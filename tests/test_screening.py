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


def test_a_concept_named_once_in_passing_ranks_below_a_paper_about_it(monkeypatch):
    """Both papers name every keyword group and the same question words, so the criteria and the word coverage
    tie; the one that names the experts once, in passing, ranks below the one that is about them."""
    from helpers.retrieval import screening
    from helpers.text import facet_hits

    groups = [["mixture of experts", "moe", "expert", "experts"], ["multimodal", "vision-language"],
              ["throughput", "latency"]]
    params = parse_params({"question": "Does mixture of experts routing improve multimodal model throughput?",
                           "slug": "salience-test", "sources": ["local:fixture"]})
    title = "Sparse routing for multimodal models"
    about = _paper(1, title, "Unlike dense designs, we use a mixture of experts. The experts specialise by modality. "
                             "Each token is sent to two experts. Our models raise throughput by 1.8x.")
    passing = _paper(2, title, "Unlike static mixture of experts designs, we ground objects. The grounding "
                               "specialises by modality. Each token is sent to two heads. Our models raise "
                               "throughput by 1.8x.")
    assert screening.salience(about.title, about.abstract, groups) == [1.0, 2 / 3, 1 / 3]  # the title counts twice
    assert screening.salience(passing.title, passing.abstract, groups) == [1 / 3, 2 / 3, 1 / 3]
    assert screening.salience("", "We use experts. Experts help.", groups[:1]) == [2 / 3]  # no title: none counts twice
    (r_about, m_about), (r_passing, m_passing) = (screening.relevance(p, params, None, [groups])
                                                  for p in (about, passing))
    assert m_about == m_passing == 3  # both meet every group
    assert r_about > r_passing + 0.1
    # with a group counted as soon as it is named, the two tie: salience is what tells them apart
    monkeypatch.setattr(screening, "salience",
                        lambda t, a, g: [1.0 if h else 0.0 for h in facet_hits(f"{t} {a}", g)])
    assert screening.relevance(about, params, None, [groups]) == screening.relevance(passing, params, None, [groups])


def test_records_only_an_llm_plan_found_fill_places_and_never_take_them():
    """The plan's extra queries may find a look-alike that outscores on-topic records; at the max_papers cap the
    question's own records come first, and the plan's fill only the places they leave."""
    params = parse_params({**Q, "max_papers": 2, "min_papers": 1})
    about = "Speculative decoding with a draft model gives a {x} speedup at equal quality."
    papers = [_paper(1, "Speculative decoding speedup", about.format(x="2x")),
              _paper(2, "Draft model latency", about.format(x="1.5x")),
              _paper(3, "Speculative decoding speedup and draft model latency, throughput, faster",
                     about.format(x="3x") + " Speculative decoding is faster. The draft model cuts latency.")]
    plain = {d.paper_id: d for d in screen(papers, params)}
    assert plain["t:3"].decision == "included" and plain["t:3"].relevance > max(plain["t:1"].relevance,
                                                                              plain["t:2"].relevance)
    tiered = {d.paper_id: d for d in screen(papers, params, after={"t:3"})}
    assert [tiered[i].decision for i in ("t:1", "t:2", "t:3")] == ["included", "included", "excluded"]
    assert "found only by the LLM plan's queries" in tiered["t:3"].reason
    roomy = parse_params({**Q, "max_papers": 3, "min_papers": 1})
    assert all(d.decision == "included" for d in screen(papers, roomy, after={"t:3"}))  # a free place: it fills it
