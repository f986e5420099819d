"""Cross-source de-duplication and its PRISMA counts (pure: no network, no files)."""

from __future__ import annotations

import copy
import itertools
import random

from helpers.records import Paper
from helpers.retrieval.dedup import TITLE_THRESHOLD, dedupe, merge_results, normalise_title, titles_match
from helpers.retrieval.sources.base import SourceResult
from helpers.retrieval.sources.web import make_ids, paper_id

_SERIAL = itertools.count()


def P(source: str, title: str, year: int | None = 2023, abstract: str = "", **ids: str) -> Paper:
    ids_ = make_ids(**ids)
    return Paper(
        id=paper_id(ids_) or f"x:{next(_SERIAL)}",
        title=title,
        abstract=abstract,
        year=year,
        ids=ids_,
        source=source,
        sources=[source],
    )


def test_make_ids_and_paper_id():
    ids = make_ids(doi="https://doi.org/10.48550/arXiv.2304.05376v2", pmid=" 123 ")
    assert ids == {"doi": "10.48550/arxiv.2304.05376v2", "arxiv": "2304.05376", "pmid": "123"}
    assert paper_id(ids) == "doi:10.48550/arxiv.2304.05376v2"
    assert paper_id(make_ids(arxiv="http://arxiv.org/abs/2101.00001v3", s2="abc")) == "arxiv:2101.00001"
    assert paper_id(make_ids(openalex="W1", s2="abc")) == "openalex:W1"


def test_normalise_title():
    assert normalise_title("  Über <i>Naïve</i> Bayes: a Study! ") == "uber naive bayes a study"


def test_preprint_and_published_merge_by_arxiv_id_keeping_both_ids():
    published = P(
        "crossref",
        "Augmenting large language models with chemistry tools",
        2024,
        "Published abstract.",
        doi="10.1038/s42256-024-00832-8",
    )
    bridge = P(
        "semantic_scholar",
        "Augmenting large language models with chemistry tools",
        2023,
        doi="10.1038/s42256-024-00832-8",
        arxiv="2304.05376",
        s2="354d",
    )
    preprint = P(
        "arxiv",
        "ChemCrow: Augmenting large-language models with chemistry tools",
        2023,
        "Preprint abstract, longer than the published one.",
        arxiv="2304.05376v5",
    )
    preprint_oa = P(
        "openalex",
        "ChemCrow: Augmenting large-language models with chemistry tools",
        2023,
        doi="10.48550/arxiv.2304.05376",
        openalex="W4365597205",
    )
    results = [
        SourceResult("crossref", [published]),
        SourceResult("semantic_scholar", [bridge]),
        SourceResult("arxiv", [preprint]),
        SourceResult("openalex", [preprint_oa]),
    ]
    papers, stats = merge_results(results)
    assert len(papers) == 1
    m = papers[0]
    assert m.id == "doi:10.1038/s42256-024-00832-8"
    assert m.ids["arxiv"] == "2304.05376" and m.ids["preprint_doi"] == "10.48550/arxiv.2304.05376"
    assert m.ids["s2"] == "354d" and m.ids["openalex"] == "W4365597205"
    assert m.sources == ["crossref", "semantic_scholar", "arxiv", "openalex"]
    assert m.title == "Augmenting large language models with chemistry tools" and m.year == 2024
    assert m.abstract == "Published abstract."
    assert (
        stats["records_identified"] == 4
        and stats["duplicates_removed"] == 3
        and stats["records_after_dedup"] == 1
    )
    assert stats["duplicates_by_identifier"] == 3 and stats["duplicates_by_title"] == 0


def test_fuzzy_title_and_year_merge_when_no_shared_id():
    a = P("pubmed", "Effect of native oxide layers on copper thin-film tensile properties.", 2015, pmid="1")
    b = P(
        "arxiv",
        "Effect of Native Oxide Layers on Copper Thin Film Tensile Properties",
        2014,
        "abs",
        arxiv="1501.00001",
    )
    c = P(
        "openalex",
        "Effect of native oxide layers on copper thin-film tensile properties",
        2019,
        openalex="W9",
    )
    papers, stats = merge_results(
        [SourceResult("pubmed", [a]), SourceResult("arxiv", [b]), SourceResult("openalex", [c])]
    )
    assert len(papers) == 2  # c is four years off: a different work (or a re-publication) is not merged
    merged = next(p for p in papers if len(p.sources) == 2)
    assert merged.ids == {"pmid": "1", "arxiv": "1501.00001"} and merged.abstract == "abs"
    assert stats["duplicates_by_title"] == 1


def test_conflicting_identifiers_block_a_title_merge():
    a = P("crossref", "A survey of retrieval augmented generation methods", 2023, doi="10.1/a")
    b = P("openalex", "A survey of retrieval-augmented generation methods", 2023, doi="10.2/b")
    c = P("arxiv", "A survey of retrieval augmented generation methods", 2023, arxiv="2301.00001")
    d = P("arxiv", "A survey of retrieval augmented generation methods", 2023, arxiv="2302.00002")
    papers, _ = dedupe([a, b])
    assert len(papers) == 2  # two different published DOIs
    papers, _ = dedupe([c, d])
    assert len(papers) == 2  # two different arXiv ids


def test_title_rule_guards():
    a = P("x", "Language models are few-shot learners: GPT-3 evaluated", 2020)
    b = P("y", "Language models are few-shot learners: GPT-4 evaluated", 2020)
    assert not titles_match(a, b)  # different numbers
    c = P("x", "A study of retrieval augmented generation methods", 2020)
    d = P("y", "A study of retrieval augmented generation methods", None)
    assert titles_match(c, d)  # exact title, one year unknown
    c.authors, d.authors = ["Jane Smith"], ["J. Smith"]
    assert titles_match(c, d)
    d.authors = ["Kim Wong"]
    assert not titles_match(c, d)  # different first authors
    assert not titles_match(P("x", "Title number one about things"), P("y", "Title number two about things"))


def test_short_generic_titles_are_never_merged_by_title():
    papers, _ = dedupe(
        [P("crossref", "Editorial", 2020, doi="10.1/x"), P("openalex", "Editorial", 2020, openalex="W2")]
    )
    assert len(papers) == 2


def test_failed_and_partial_sources_counted_for_prisma():
    ok = SourceResult("openalex", [P("openalex", "Title number one about things", doi="10.1/1")], requested=1)
    partial = SourceResult(
        "arxiv",
        [P("arxiv", "Title number two about things", arxiv="2301.1")],
        status="partial",
        error="arxiv: HTTP 500 after 3 attempts",
        requested=30,
    )
    failed = SourceResult(
        "pubmed", [], status="failed", error="pubmed: timed out after 0.5 s after 3 attempts"
    )
    papers, stats = merge_results([ok, partial, failed])
    assert stats["failed_sources"] == ["pubmed"] and stats["partial_sources"] == ["arxiv"]
    assert stats["per_source"]["arxiv"] == {
        "status": "partial",
        "records": 1,
        "requested": 30,
        "missing": 29,
        "error": "arxiv: HTTP 500 after 3 attempts",
        "stopped": None,
        "skipped_queries": 0,
    }
    assert stats["per_source"]["pubmed"]["missing"] is None and stats["missing_unknown"] == ["pubmed"]
    assert stats["missing_records"] == 29
    assert stats["records_identified"] == 2 == len(papers)
    # a source stopped before all its queries ran: what the skipped ones would have found is unknown
    cut = SourceResult("crossref", [P("crossref", "Title number three about things", doi="10.1/3")],
                       status="partial", error="crossref: HTTP 503 after 5 attempts; not answering, so 2 of 3 queries were skipped",
                       requested=1, stopped="not answering", skipped_queries=2)
    _, stats = merge_results([ok, partial, failed, cut, cut])
    e = stats["per_source"]["crossref"]
    assert e["missing"] is None and e["stopped"] == "not answering" and e["skipped_queries"] == 4
    assert stats["partial_sources"] == ["arxiv", "crossref"] and stats["missing_unknown"] == ["pubmed", "crossref"]
    assert stats["missing_records"] == 29


def test_merge_is_pure_and_deterministic():
    recs = [
        P("a", "Deep learning for protein structure prediction", doi="10.1/p"),
        P("b", "Deep learning for protein structure prediction", doi="10.1/P", s2="s"),
    ]
    results = [SourceResult("a", [recs[0]]), SourceResult("b", [recs[1]])]
    before = copy.deepcopy(results)
    out1 = merge_results(results)
    out2 = merge_results(results)
    assert results == before
    assert [p.to_dict() for p in out1[0]] == [p.to_dict() for p in out2[0]] and out1[1] == out2[1]
    assert out1[0][0].sources == ["a", "b"]


def _oracle_clusters(papers: list[Paper], threshold: float) -> int:
    """Brute force over all pairs: link those sharing an id, then (in pair order) those the title rule accepts
    whose clusters do not conflict; count the components."""
    n = len(papers)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(n), 2):
        a, b = papers[i], papers[j]
        if any(a.ids.get(k) and a.ids.get(k) == b.ids.get(k) for k in ("doi", "arxiv", "pmid")):
            parent[find(i)] = find(j)
    for i, j in itertools.combinations(range(n), 2):
        if not titles_match(papers[i], papers[j], threshold):
            continue
        ci = [papers[k] for k in range(n) if find(k) == find(i)]
        cj = [papers[k] for k in range(n) if find(k) == find(j)]
        conflict = any(
            {p.ids[k] for p in ci if k in p.ids}
            and {p.ids[k] for p in cj if k in p.ids}
            and not {p.ids[k] for p in ci if k in p.ids} & {p.ids[k] for p in cj if k in p.ids}
            for k in ("arxiv", "pmid", "doi")
        )
        if not conflict:
            parent[find(i)] = find(j)
    return len({find(i) for i in range(n)})


def test_dedupe_matches_a_brute_force_oracle():
    rng = random.Random(7)
    words = "graph neural network protein folding retrieval language model survey benchmark causal".split()
    base = [" ".join(rng.sample(words, 6)) for _ in range(12)]
    papers = []
    for k in range(60):
        b = rng.randrange(len(base))
        t = base[b]
        if rng.random() < 0.3:
            t = t.title() + "."
        if rng.random() < 0.2:
            t = t.replace(" ", "-", 1)
        ids = {}
        r = rng.random()
        if r < 0.3:
            ids["arxiv"] = f"2301.{b:05d}"  # the work's own arXiv id
        elif r < 0.4:
            ids["arxiv"] = f"2302.{k:05d}"  # a different id: blocks title merges
        elif r < 0.6:
            ids["pmid"] = str(rng.randint(1, 4))
        papers.append(P(f"s{k % 5}", t, rng.choice([2020, 2021, 2023, None]), **ids))
    got, rules = dedupe(papers)
    assert rules["by_title"] > 5 and rules["by_identifier"] > 5  # both rules are exercised
    # the oracle and dedupe agree on the number of works (no DOIs here, so no preprint-DOI subtleties)
    assert len(got) == _oracle_clusters(papers, TITLE_THRESHOLD)
