"""Screening relevance on bare questions: salience of the facets against a binary "named at all", same run.

Usage: WORKBENCH_CACHE_DIR=... python training/bench_screening.py [--show] [PARAMS...]
(default: the eight `params/bench/` questions and the two seed questions, all with hand-written criteria)

Each question is run bare, as `workbench new` would start it: only `question`, `sources` and `year_from`, so the
criteria are derived from the question. Its candidates are retrieved once, then screened twice: with the
shipped relevance (`screening.salience`: how often each facet is named) and with the baseline, where a facet
named once counts as much as one named throughout. For each, the top 10 included papers are checked against the
question's hand-written criteria (title and abstract name a keyword of every group): a proxy for "on topic" that
a look-alike naming each keyword once still passes, so it is read beside the titles (`--show`), not instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.params import load_params, parse_params
from helpers.retrieval import screening, stage
from helpers.retrieval.dedup import merge_results
from helpers.text import facet_hits

DEFAULT = sorted(str(p) for p in Path("params/bench").glob("*.yaml")) + [
    "params/coding-throughput-tradeoff.yaml", "params/moe-routing-multimodal.yaml"]
TOP = 10


def bare(params):
    data = {"question": params.question, "slug": f"bare-{params.slug}",
            "sources": [s.model_dump(exclude_none=True) for s in params.sources]}
    if params.year_from:
        data["year_from"] = params.year_from
    return parse_params(data, "<bare params>")


def top(papers, params, semantic, sets, binary: bool):
    real = screening.salience
    if binary:
        screening.salience = lambda title, abstract, groups: [1.0 if h else 0.0 for h in facet_hits(
            f"{title} {abstract}", groups)]
    try:
        decisions = screening.screen(papers, params, semantic, sets)
    finally:
        screening.salience = real
    by_id = {p.id: p for p in papers}
    inc = sorted((d for d in decisions if d.decision == "included"), key=lambda d: -d.relevance)
    return [by_id[d.paper_id] for d in inc]


def on_topic(paper, criteria) -> bool:
    return all(facet_hits(f"{paper.title} {paper.abstract}", criteria))


def main(argv: list[str]) -> None:
    show = "--show" in argv
    files = [a for a in argv if not a.startswith("--")] or DEFAULT
    rows = []
    for f in files:
        hand = load_params(f)
        params = bare(hand)
        analysis = stage.analyse_question(params)
        plan = stage.plan_queries(params, analysis)
        papers, _ = merge_results(stage.gather(params, plan))
        semantic = screening.semantic_similarity(plan.question, [p for p in papers if p.abstract])
        sets, _ = screening.relax(screening.criteria_sets(params, analysis), papers, params.min_papers)
        crit = hand.criteria.include_any
        res = {}
        for name, binary in (("binary", True), ("salience", False)):
            inc = top(papers, params, semantic, sets, binary)
            res[name] = (len(inc), sum(on_topic(p, crit) for p in inc[:TOP]), inc[:TOP])
        rows.append((hand.slug, res))
        if show:
            for name, (_, _, inc) in res.items():
                print(f"\n{hand.slug} [{name}]")
                for i, p in enumerate(inc, 1):
                    print(f"  {i:2d} {'*' if on_topic(p, crit) else ' '} {p.title[:100]}")
    print(f"\n| question (bare) | included, binary | top {TOP} meeting hand-written criteria, binary "
          f"| included, salience | top {TOP} meeting them, salience |")
    print("|---|---|---|---|---|")
    tot = {"binary": [0, 0], "salience": [0, 0]}
    for slug, res in rows:
        cells = []
        for name in ("binary", "salience"):
            n, hits, inc = res[name]
            tot[name][0] += hits
            tot[name][1] += len(inc)
            cells += [str(n), f"{hits} of {len(inc)}"]
        print(f"| {slug} | " + " | ".join(cells) + " |")
    print("| **all** | | " + f"**{tot['binary'][0]} of {tot['binary'][1]}** | | "
          f"**{tot['salience'][0]} of {tot['salience'][1]}** |")


if __name__ == "__main__":
    main(sys.argv[1:])
