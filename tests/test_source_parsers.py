"""Each adapter's mapping of one recorded API reply to `Paper`s (no server: the parsers alone)."""

from __future__ import annotations

import json

import pytest

from helpers.config import data_root
from helpers.retrieval.sources.arxiv_api import arxiv_query, parse_feed
from helpers.retrieval.sources.crossref import item_to_paper
from helpers.retrieval.sources.openalex import openalex_abstract, work_to_paper
from helpers.retrieval.sources.pubmed import parse_efetch, parse_esearch
from helpers.retrieval.sources.semantic_scholar import s2_to_paper

FIX = data_root() / "api-fixtures"
pytestmark = pytest.mark.skipif(
    not FIX.is_dir(), reason="recorded API fixtures not found under the data root"
)


def test_openalex_inverted_index_rebuilds_the_abstract():
    assert (
        openalex_abstract({"world": [1], "Hello": [0], "again": [3], "hello": [2]})
        == "Hello world hello again"
    )
    assert openalex_abstract(None) == ""
    data = json.loads(
        (FIX / "openalex/paper-qa__test_title_search_paper_attributes1__2.json").read_text("utf-8")
    )
    p = work_to_paper(data["results"][0])
    assert p.id == "doi:10.48550/arxiv.2312.07559" and p.ids["arxiv"] == "2312.07559"
    assert p.ids["openalex"] == "W4389761608" and p.year == 2023 and p.abstract and p.authors


def test_arxiv_old_style_ids_and_api_error_entries():
    body = (FIX / "arxiv/arxiv.py__id_astro-ph_0601001_s0_m100_3150dca9dc76__0.xml").read_bytes()
    (p,) = parse_feed(body).records
    assert p.ids["arxiv"] == "astro-ph/0601001" and p.url == "https://arxiv.org/abs/astro-ph/0601001"
    assert (
        parse_feed((FIX / "arxiv/arxiv.py__id_0000.0000_s0_m100_8b51d9633a68__0.xml").read_bytes()).records
        == []
    )
    with pytest.raises(ValueError, match="arXiv API error"):
        parse_feed((FIX / "arxiv/arxiv.py__id_abc_s0_m100_b79c8dcf6bc3__0.xml").read_bytes())
    with pytest.raises(ValueError):
        parse_feed(b"<html><body>Service Unavailable</body></html>")


def test_arxiv_query_syntax():
    assert arxiv_query("graph neural networks") == "all:graph AND all:neural AND all:networks"
    assert arxiv_query('"large language" OR models') == 'all:"large language" AND all:models'
    assert arxiv_query("ti:transformer AND cat:cs.CL") == "ti:transformer AND cat:cs.CL"
    assert arxiv_query("x", (None, 2020)) == "(all:x) AND submittedDate:[199101010000 TO 202012312359]"


def test_crossref_item_without_abstract_and_with_jats():
    data = json.loads((FIX / "crossref/paper-qa__test_bulk_title_search__3.json").read_text("utf-8"))
    p = item_to_paper(data["message"]["items"][0])
    assert p.id == "doi:10.1007/s40278-023-41815-2" and p.abstract == ""
    q = item_to_paper(
        {
            "DOI": "10.1/X",
            "title": ["T <i>x</i>"],
            "abstract": "<jats:title>Abstract</jats:title><jats:p>A &lt; b.</jats:p>",
            "issued": {"date-parts": [[2020, 1]]},
            "author": [{"given": "Ada", "family": "Lovelace"}, {"name": "Consortium"}],
        }
    )
    assert (q.title, q.abstract, q.year, q.authors) == ("T x", "A < b.", 2020, ["Ada Lovelace", "Consortium"])


def test_semantic_scholar_paper_with_nulls():
    data = json.loads(
        (FIX / "semantic-scholar/semanticscholar__testdata__PaperWithNullValues.json").read_text("utf-8")
    )
    p = s2_to_paper(data)
    assert p is None or (p.title and p.id.split(":")[0] in {"doi", "arxiv", "pmid", "s2"})


def test_pubmed_esearch_and_efetch():
    ids, count = parse_esearch((FIX / "pubmed/biopython__esearch2.xml").read_bytes())
    assert count == 42249 and len(ids) == 100
    papers = parse_efetch((FIX / "pubmed/biopython__pubmed2.xml").read_bytes())
    assert [p.id for p in papers] == ["doi:10.1006/cryo.2001.2328", "doi:10.1006/jmre.2001.2429"]
    assert papers[0].ids["pmid"] == "11748933" and papers[0].venue == "Cryobiology" and papers[0].year == 2001
    assert papers[0].authors[0] == "A R Taddei"
    with pytest.raises(ValueError):  # Bio.Entrez's CorruptedXMLError: a truncated reply
        parse_efetch((FIX / "pubmed/biopython__pubmed2.xml").read_bytes()[:3000])
