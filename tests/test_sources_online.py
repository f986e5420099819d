"""The five online sources against a real local HTTP server that replays recorded API responses.

The replay server (pytest-httpserver on 127.0.0.1) serves bodies recorded from the real APIs
(``<data root>/api-fixtures``, read in place) for the endpoint shapes the adapters call, and injects faults
per source: 429 with Retry-After, 500s, a hang past the timeout, truncated JSON/XML, an HTML error page, an
empty result set, a record without abstract, a non-ASCII title. Timeouts and back-off are made small through
the WORKBENCH_HTTP_* knobs so the whole file runs in seconds. No test touches the network.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from helpers.config import data_root
from helpers.errors import ParamsError
from helpers.http import HttpSettings, backoff_wait, get_client, parse_retry_after, redact, reset_clients
from helpers.params import parse_params
from helpers.retrieval.dedup import merge_results
from helpers.retrieval.sources import get_source
from helpers.retrieval.sources.online import search_all
from helpers.retrieval.sources.registry import ONLINE_SOURCES

FIX = data_root() / "api-fixtures"
pytestmark = pytest.mark.skipif(
    not FIX.is_dir(), reason="recorded API fixtures (api-fixtures) not found under the data root"
)

PREFIX = {
    "openalex": "/openalex",
    "crossref": "/crossref",
    "arxiv": "/arxiv/api",
    "semantic_scholar": "/s2/graph/v1",
    "pubmed": "/pubmed/eutils",
}
NONASCII = "Über naïve Zähler — 量子 retrieval: ça marche ✓"
SENTINELS = {
    "WORKBENCH_CONTACT_EMAIL": "sentinel.mail.7f3a@example.invalid",
    "WORKBENCH_S2_API_KEY": "SENTINELS2KEY9b1c",
    "WORKBENCH_NCBI_API_KEY": "SENTINELNCBIKEY4d2e",
}
QUESTION = "Do language-model agents with tools help chemistry research?"
QUERY = "large language models chemistry tools"
LIMIT = 30
TIMEOUT = 0.5  # the read timeout in the hang tests (others use a roomier one, robust to a loaded machine)


def _load(rel: str) -> dict:
    return json.loads((FIX / rel).read_text(encoding="utf-8"))


class Replay:
    """Request handler: recorded bodies routed by path + query, with per-source fault injection."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: dict[str, dict] = {}
        self.log: list[tuple[str, str, dict, dict]] = []
        self.openalex = [
            w
            for f in (
                "paper-qa__test_title_search_paper_attributes2__3.json",
                "paper-qa__test_title_search_paper_attributes1__2.json",
                "paper-qa__test_title_search_paper_attributes0__3.json",
            )
            for w in _load(f"openalex/{f}")["results"]
        ]
        self.crossref = [
            i
            for f in (
                "paper-qa__test_title_search_paper_attributes2__0.json",
                "paper-qa__test_title_search_paper_attributes0__0.json",
                "paper-qa__test_title_search_paper_attributes1__0.json",
                "paper-qa__test_bulk_title_search__5.json",
                "paper-qa__test_bulk_title_search__3.json",
                "habanero__test_works_query__0.json",
            )
            for i in _load(f"crossref/{f}")["message"]["items"]
        ]
        turing = {
            k: v
            for k, v in _load("semantic-scholar/semanticscholar__testdata__Paper.json").items()
            if k not in {"citations", "references", "embedding", "tldr", "citationStyles"}
        }
        self.s2 = [
            d
            for f in (
                "paper-qa__test_title_search_paper_attributes2__2.json",
                "paper-qa__test_title_search_paper_attributes1__1.json",
                "paper-qa__test_title_search_paper_attributes0__2.json",
            )
            for d in _load(f"semantic-scholar/{f}")["data"]
        ] + [turing]
        self.arxiv = {
            int(m.group(1)): p.read_bytes()
            for p in (FIX / "arxiv").glob("arxiv.py__q_testing_s*_m10_*.xml")
            if (m := re.search(r"_s(\d+)_m10_", p.name))
        }
        # PubMed: a tiny database of the recorded PubmedArticle elements, keyed by PMID
        self.pubmed: dict[str, str] = {}
        for name in ("pubmed1", "pubmed2", "pubmed5", "pubmed6", "pubmed7"):
            text = (FIX / "pubmed" / f"biopython__{name}.xml").read_text(encoding="utf-8")
            for art in re.findall(r"<PubmedArticle>.*?</PubmedArticle>", text, flags=re.S):
                pmid = re.search(r"<PMID[^>]*>(\d+)</PMID>", art).group(1)
                self.pubmed.setdefault(pmid, art)
        pm1 = (FIX / "pubmed" / "biopython__pubmed1.xml").read_text(encoding="utf-8")
        self.pubmed_head = pm1[: pm1.index("<PubmedArticleSet>")]
        self.esearch = (FIX / "pubmed" / "biopython__esearch1.xml").read_text(encoding="utf-8")

    # -- bookkeeping ----------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.log.clear()

    def count(self, source: str | None = None) -> int:
        with self.lock:
            return sum(1 for s, *_ in self.log if source in (None, s))

    def _source(self, path: str) -> str:
        for name, prefix in PREFIX.items():
            if path.startswith(prefix):
                return name
        return "?"

    # -- routing --------------------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        source = self._source(request.path)
        args = request.args.to_dict()
        with self.lock:
            self.log.append((source, request.full_path, args, dict(request.headers)))
            fault = self.faults.get(source)
            fire = False
            if fault and fault.get("when", lambda a: True)(args):
                times = fault.get("times")
                fire = times is None or times > 0
                if times:
                    fault["times"] = times - 1
        kind = fault["kind"] if fire else None
        if kind == "429":
            return Response(
                "Too Many Requests", status=429, headers={"Retry-After": str(fault.get("retry_after", 1))}
            )
        if kind == "500":
            return Response("Internal Server Error", status=500)
        if kind == "html":
            return Response(
                "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway"
                "</h1><p>The proxy could not reach the upstream.</p></body></html>",
                status=200,
                content_type="text/html",
            )
        if kind == "hang":
            time.sleep(fault.get("seconds", 3 * TIMEOUT))
        body, ctype = getattr(self, f"_{source}")(request.path, args, kind)
        if kind == "truncated":
            body = body[: len(body) // 2]
        return Response(body, status=200, content_type=ctype)

    def _openalex(self, path: str, args: dict, kind: str | None) -> tuple[bytes, str]:
        works = [] if kind == "empty" else json.loads(json.dumps(self.openalex))
        if kind == "noabstract" and works:
            works[0]["abstract_inverted_index"] = None
        if kind == "nonascii" and works:
            works[0]["title"] = works[0]["display_name"] = NONASCII
        body = {
            "meta": {
                "count": len(works),
                "db_response_time_ms": 5,
                "page": None,
                "per_page": 25,
                "next_cursor": None,
                "groups_count": None,
            },
            "results": works,
            "group_by": [],
        }
        return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"

    def _crossref(self, path: str, args: dict, kind: str | None) -> tuple[bytes, str]:
        items = [] if kind == "empty" else json.loads(json.dumps(self.crossref))
        if kind == "nonascii" and items:
            items[0]["title"] = [NONASCII]
        start, rows = int(args.get("offset", 0)), int(args.get("rows", 20))
        body = {
            "status": "ok",
            "message-type": "work-list",
            "message-version": "1.0.0",
            "message": {
                "facets": {},
                "total-results": len(items),
                "items": items[start : start + rows],
                "items-per-page": rows,
                "query": {"start-index": start, "search-terms": args.get("query")},
            },
        }
        return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"

    def _semantic_scholar(self, path: str, args: dict, kind: str | None) -> tuple[bytes, str]:
        if kind == "empty":  # the recorded empty search reply: no "data" key at all
            return json.dumps(
                _load("semantic-scholar/semanticscholar__test_empty_paginated_results__0.json")
            ).encode(), "application/json"
        data = json.loads(json.dumps(self.s2))
        if kind == "nonascii":
            data[0]["title"] = NONASCII
        start, limit = int(args.get("offset", 0)), int(args.get("limit", 100))
        body = {"total": len(data), "offset": start, "data": data[start : start + limit]}
        if start + limit < len(data):
            body["next"] = start + limit
        return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"

    def _arxiv(self, path: str, args: dict, kind: str | None) -> tuple[bytes, str]:
        start = int(args.get("start", 0))
        body = self.arxiv.get(start, self.arxiv[0])
        if kind == "empty" or start not in self.arxiv:
            body = re.sub(rb"<entry>.*</entry>", b"", body, flags=re.S)
            body = re.sub(rb"<opensearch:totalResults>\d+", b"<opensearch:totalResults>0", body)
        if kind == "nonascii":
            body = re.sub(
                rb"(<entry>.*?<title>)[^<]*(</title>)",
                lambda m: m.group(1) + NONASCII.encode() + m.group(2),
                body,
                count=1,
                flags=re.S,
            )
        return body, "application/atom+xml"

    def _pubmed(self, path: str, args: dict, kind: str | None) -> tuple[bytes, str]:
        pmids = [] if kind == "empty" else list(self.pubmed)
        if path.endswith("esearch.fcgi"):
            start, n = int(args.get("retstart", 0)), int(args.get("retmax", 20))
            page = pmids[start : start + n]
            ids = "".join(f"<Id>{p}</Id>\n" for p in page)
            body = re.sub(
                r"<Count>\d+</Count><RetMax>\d+</RetMax><RetStart>\d+</RetStart><IdList>.*?</IdList>",
                f"<Count>{len(pmids)}</Count><RetMax>{len(page)}</RetMax><RetStart>{start}</RetStart>"
                f"<IdList>\n{ids}</IdList>",
                self.esearch,
                flags=re.S,
            )
            return body.encode("utf-8"), "text/xml"
        arts = [self.pubmed[p] for p in args.get("id", "").split(",") if p in self.pubmed]
        if kind == "nonascii" and arts:
            arts[0] = re.sub(
                r"<ArticleTitle>.*?</ArticleTitle>",
                f"<ArticleTitle>{NONASCII}</ArticleTitle>",
                arts[0],
                flags=re.S,
            )
        body = self.pubmed_head + "<PubmedArticleSet>\n" + "\n".join(arts) + "\n</PubmedArticleSet>\n"
        return body.encode("utf-8"), "text/xml"


@pytest.fixture(scope="module")
def replay():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    handler = Replay()
    server.expect_request(re.compile(".*")).respond_with_handler(handler)
    server.start()
    handler.base = f"http://127.0.0.1:{server.port}"
    yield handler
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def env(replay, monkeypatch, tmp_path):
    """All five sources pointed at the replay server, a fresh cache, small timeouts and back-off."""
    replay.reset()
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # a proxy in the environment must not catch the replay
    for name, prefix in PREFIX.items():
        monkeypatch.setenv(f"WORKBENCH_{name.upper()}_URL", replay.base + prefix)
        monkeypatch.setenv(f"WORKBENCH_{name.upper()}_RATE", "1000/1")
    for key, value in {
        "WORKBENCH_HTTP_TIMEOUT": "3",
        "WORKBENCH_HTTP_RETRIES": "2",
        "WORKBENCH_HTTP_BACKOFF": "0.01",
        "WORKBENCH_HTTP_BACKOFF_MAX": "0.05",
        "WORKBENCH_HTTP_RETRY_AFTER_MAX": "2",
        "WORKBENCH_HTTP_CACHE": "on",
    }.items():
        monkeypatch.setenv(key, value)
    for key in SENTINELS:
        monkeypatch.delenv(key, raising=False)
    reset_clients()
    yield replay
    reset_clients()


def run_all(limit: int = LIMIT):
    results = search_all([(name, limit) for name in ONLINE_SOURCES], QUESTION, [QUERY])
    return {r.source: r for r in results}, results


# -- the happy path ---------------------------------------------------------------------------------------


def test_all_five_sources_search_and_deduplicate(env):
    by, results = run_all()
    assert all(r.status == "ok" and r.error is None for r in results), [r.to_dict() for r in results]
    counts = {s: len(r.records) for s, r in by.items()}
    assert counts == {
        "openalex": 4,
        "crossref": 7,
        "arxiv": LIMIT,
        "semantic_scholar": 4,
        "pubmed": len(env.pubmed),
    }
    assert by["arxiv"].requested == LIMIT and by["crossref"].requested == 7
    for r in results:
        for p in r.records:
            assert p.title and p.id.split(":", 1)[0] in {"doi", "arxiv", "pmid", "openalex", "s2"}
            assert p.sources == [r.source] and p.source == r.source
            assert p.id == f"{p.id.split(':', 1)[0]}:{p.ids[p.id.split(':', 1)[0]]}"

    # OpenAlex abstracts are rebuilt from the inverted index
    chem_oa = next(p for p in by["openalex"].records if p.doi == "10.1038/s42256-024-00832-8")
    assert chem_oa.abstract.startswith("Large language models (LLMs) have shown strong performance")
    assert chem_oa.citation_count and chem_oa.year == 2024 and chem_oa.venue == "Nature Machine Intelligence"
    # the arXiv DOI yields the arXiv id; PubMed keeps PMID and DOI; S2 keeps every external id
    pre = next(p for p in by["openalex"].records if p.doi == "10.48550/arxiv.2304.05376")
    assert pre.ids["arxiv"] == "2304.05376"
    pm = next(p for p in by["pubmed"].records if p.ids["pmid"] == "30108519")
    assert pm.doi == "10.3389/fphys.2018.01034" and pm.year == 2018
    assert "MLSS ( P < 0.001; ES: 3.54)" in pm.abstract  # MathML/HTML stripped, a literal "<" kept
    s2 = next(p for p in by["semantic_scholar"].records if p.doi == "10.1038/s42256-024-00832-8")
    assert s2.ids["arxiv"] == "2304.05376" and s2.ids["pmid"] == "38799228" and s2.abstract == ""
    turing = next(p for p in by["semantic_scholar"].records if p.doi == "10.1093/mind/lix.236.433")
    assert turing.abstract.startswith("I propose to consider the question")
    # Crossref: JATS stripped; a record without an abstract is kept with an empty one
    cr_noabs = next(p for p in by["crossref"].records if p.doi == "10.1007/s40278-023-41815-2")
    assert cr_noabs.abstract == ""
    assert all("<jats:" not in p.abstract for p in by["crossref"].records)

    papers, stats = merge_results(results)
    identified = sum(counts.values())
    assert stats["records_identified"] == identified
    assert sum(s["records"] for s in stats["per_source"].values()) == identified
    assert stats["records_after_dedup"] == len(papers) == identified - stats["duplicates_removed"]
    assert stats["duplicates_removed"] == stats["duplicates_by_identifier"] + stats["duplicates_by_title"] > 0
    assert stats["failed_sources"] == [] and stats["missing_records"] == 0
    # ChemCrow: published (OpenAlex, Crossref, S2) and preprint (OpenAlex) merged into one record
    chem = [p for p in papers if "chemistry tools" in p.title.lower()]
    assert len(chem) == 1
    c = chem[0]
    assert c.id == "doi:10.1038/s42256-024-00832-8"
    assert c.ids["arxiv"] == "2304.05376" and c.ids["preprint_doi"] == "10.48550/arxiv.2304.05376"
    assert set(c.sources) == {"openalex", "crossref", "semantic_scholar"}
    assert c.abstract  # the published record's abstract, not S2's empty one
    copper = [p for p in papers if "native oxide layers" in p.title.lower()]
    assert len(copper) == 1 and set(copper[0].sources) == {"openalex", "crossref", "semantic_scholar"}
    ids = [p.id for p in papers]
    assert len(ids) == len(set(ids))


def test_second_identical_run_is_served_from_the_cache(env):
    first, _ = run_all()
    sent = env.count()
    assert sent >= 5
    reset_clients()  # a new process would start with a fresh client: only the on-disk cache remains
    second, _ = run_all()
    assert env.count() == sent, "the second run made HTTP requests"
    assert {s: [p.to_dict() for p in r.records] for s, r in first.items()} == {
        s: [p.to_dict() for p in r.records] for s, r in second.items()
    }
    assert get_client().network_calls == 0


def test_offline_mode_replays_cache_and_fails_cleanly_on_a_miss(env, monkeypatch):
    src = get_source("crossref")
    src.search(QUESTION, [QUERY], 10)
    monkeypatch.setenv("WORKBENCH_HTTP_CACHE", "offline")
    reset_clients()
    sent = env.count()
    assert len(src.search(QUESTION, [QUERY], 10).records) == 7
    miss = src.search(QUESTION, ["an uncached query"], 10)
    assert miss.status == "failed" and "offline" in miss.error
    assert env.count() == sent


# -- faults -----------------------------------------------------------------------------------------------

HEALTHY = {"openalex": 4, "crossref": 7, "arxiv": LIMIT, "semantic_scholar": 4}


def _assert_healthy_kept(by: dict, broken: str, pubmed_n: int) -> None:
    expected = {**HEALTHY, "pubmed": pubmed_n}
    for name, n in expected.items():
        if name != broken:
            assert by[name].status == "ok" and len(by[name].records) == n, by[name].to_dict()


@pytest.mark.parametrize("kind", ["500", "hang", "truncated", "html"])
@pytest.mark.parametrize("broken", ONLINE_SOURCES)
def test_a_failing_source_is_reported_and_the_others_are_kept(env, monkeypatch, broken, kind):
    env.faults[broken] = {"kind": kind}
    if kind == "hang":
        monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", str(TIMEOUT))
        reset_clients()
    t0 = time.monotonic()
    by, results = run_all()
    elapsed = time.monotonic() - t0
    r = by[broken]
    assert r.status == "failed" and r.records == []
    assert r.error and "\n" not in r.error and r.error.startswith(f"{broken}:")
    assert "after 3 attempts" in r.error
    if kind == "hang":
        assert "timed out" in r.error
        assert elapsed < 3 * (TIMEOUT + 0.5) + 3, elapsed  # bounded by the timeouts, not by the server
    if kind == "500":
        assert "HTTP 500" in r.error
    if kind in {"truncated", "html"}:
        assert "unparseable" in r.error
    _assert_healthy_kept(by, broken, len(env.pubmed))
    assert env.count(broken) == 3  # one try + two retries; nothing else for that source
    papers, stats = merge_results(results)
    assert stats["failed_sources"] == [broken]
    assert stats["per_source"][broken]["missing"] is None  # it never said how many it had
    assert stats["records_identified"] == sum(len(x.records) for x in results)


def test_a_fault_on_a_later_page_gives_partial_and_keeps_earlier_pages(env):
    env.faults["arxiv"] = {"kind": "500", "when": lambda a: int(a.get("start", 0)) >= 20}
    by, results = run_all()
    a = by["arxiv"]
    assert a.status == "partial" and len(a.records) == 20 and "HTTP 500" in a.error
    _, stats = merge_results(results)
    assert stats["partial_sources"] == ["arxiv"]
    assert stats["per_source"]["arxiv"]["missing"] == LIMIT - 20 == stats["missing_records"]


def test_pubmed_efetch_failure_after_a_good_esearch(env, monkeypatch):
    monkeypatch.setattr("helpers.retrieval.sources.pubmed.PubMedSource.page_size", 3)
    env.faults["pubmed"] = {
        "kind": "html",
        "when": lambda a: "id" in a and a["id"].split(",")[0] != next(iter(env.pubmed)),
    }
    r = get_source("pubmed").search(QUESTION, [QUERY], 10)
    assert r.status == "partial" and len(r.records) == 3 and r.requested == min(10, len(env.pubmed))


def test_429_with_retry_after_is_honoured_then_succeeds(env):
    env.faults["semantic_scholar"] = {"kind": "429", "times": 1, "retry_after": 1}
    t0 = time.monotonic()
    r = get_source("semantic_scholar").search(QUESTION, [QUERY], LIMIT)
    elapsed = time.monotonic() - t0
    assert r.status == "ok" and len(r.records) == 4
    assert env.count("semantic_scholar") == 2
    assert elapsed >= 0.95  # waited for Retry-After, not the 10 ms back-off


def test_retry_after_is_capped(env, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HTTP_RETRY_AFTER_MAX", "0.2")
    reset_clients()
    env.faults["openalex"] = {"kind": "429", "retry_after": 3600}
    t0 = time.monotonic()
    r = get_source("openalex").search(QUESTION, [QUERY], LIMIT)
    assert r.status == "failed" and "HTTP 429" in r.error
    assert time.monotonic() - t0 < 2


def test_transient_500_recovers(env):
    env.faults["crossref"] = {"kind": "500", "times": 2}
    r = get_source("crossref").search(QUESTION, [QUERY], LIMIT)
    assert r.status == "ok" and len(r.records) == 7 and env.count("crossref") == 3


def test_failed_bodies_are_not_cached(env):
    env.faults["openalex"] = {"kind": "truncated"}
    assert get_source("openalex").search(QUESTION, [QUERY], LIMIT).status == "failed"
    env.faults.clear()
    r = get_source("openalex").search(QUESTION, [QUERY], LIMIT)
    assert r.status == "ok" and len(r.records) == 4


@pytest.mark.parametrize("source", ONLINE_SOURCES)
def test_empty_result_set_is_ok_with_no_records(env, source):
    env.faults[source] = {"kind": "empty"}
    r = get_source(source).search(QUESTION, [QUERY], LIMIT)
    assert r.status == "ok" and r.records == [] and r.error is None


@pytest.mark.parametrize("source", ONLINE_SOURCES)
def test_non_ascii_title_survives(env, source):
    env.faults[source] = {"kind": "nonascii"}
    r = get_source(source).search(QUESTION, [QUERY], LIMIT)
    assert r.status == "ok"
    assert NONASCII in [p.title for p in r.records]


def test_record_without_abstract_is_kept(env):
    env.faults["openalex"] = {"kind": "noabstract"}
    r = get_source("openalex").search(QUESTION, [QUERY], LIMIT)
    assert len(r.records) == 4
    assert sorted(p.abstract == "" for p in r.records) == [False, False, False, True]


# -- a dead source costs seconds: the circuit breaker, the time budget, split timeouts ----------------------

QUERIES = [QUERY, "tool-using agents for chemistry", "language models in the chemistry lab"]
# requests a healthy search over the three QUERIES sends (the replay answers every query alike, so
# PubMed's efetch of the same PMIDs is a cache hit after the first query)
HEALTHY_REQUESTS = {"openalex": 3, "crossref": 3, "arxiv": 9, "semantic_scholar": 3, "pubmed": 4}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def blackhole():
    """A listening socket whose accept queue is full, so a further connect gets no answer (as a host behind a
    dropped network does): only the connect timeout ends it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fill = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fill.append(c)
    probe = socket.socket()
    probe.settimeout(0.2)
    try:
        probe.connect(("127.0.0.1", port))
        pytest.skip("this kernel completes connections beyond a full accept queue")
    except TimeoutError:
        pass
    finally:
        probe.close()
    yield f"http://127.0.0.1:{port}"
    for c in [*fill, srv]:
        c.close()


def _search_all_three(budget: float | None = None):
    specs = [(name, LIMIT, budget) for name in ONLINE_SOURCES]
    return {r.source: r for r in search_all(specs, QUESTION, QUERIES)}


@pytest.mark.parametrize(
    ("broken", "kind"),
    # the black hole is the HTTP layer's alone (the connect timeout); the others run through every adapter
    [(b, k) for k in ("500", "hang", "refused") for b in ONLINE_SOURCES] + [("arxiv", "blackhole"), ("pubmed", "blackhole")],
)
def test_a_dead_source_gets_one_query_s_retries_then_its_circuit_opens(env, monkeypatch, request, broken, kind):
    if kind == "hang":
        monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", str(TIMEOUT))
        env.faults[broken] = {"kind": "hang"}
    elif kind == "500":
        env.faults[broken] = {"kind": "500"}
    else:
        dead = request.getfixturevalue("blackhole") if kind == "blackhole" else f"http://127.0.0.1:{_closed_port()}"
        monkeypatch.setenv(f"WORKBENCH_{broken.upper()}_URL", dead + PREFIX[broken])
        monkeypatch.setenv("WORKBENCH_HTTP_CONNECT_TIMEOUT", "0.3")
    reset_clients()
    t0 = time.monotonic()
    by = _search_all_three()
    elapsed = time.monotonic() - t0
    r = by[broken]
    # the first query used its 1 + 2 attempts; the other two were never sent
    sent = get_client().sent[broken]
    assert sent == 3 and env.count(broken) == (3 if kind in {"500", "hang"} else 0)
    assert r.status == "failed" and r.records == [] and r.stopped == "not answering" and r.skipped_queries == 2
    assert r.queries == QUERIES and "\n" not in r.error
    assert r.error.startswith(f"{broken}: ") and r.error.endswith("after 3 attempts; not answering, so 2 of 3 queries were skipped")
    assert {"500": "HTTP 500", "hang": f"timed out after {TIMEOUT:g} s", "refused": "connection error",
            "blackhole": "connect timed out after 0.3 s"}[kind] in r.error
    if kind in {"hang", "blackhole"}:  # three timeouts and two short back-offs, not nine timeouts
        per_try = TIMEOUT if kind == "hang" else 0.3
        assert elapsed < 3 * (per_try + 0.5) + 3, elapsed
    # every healthy source ran all three queries and kept all its records
    _assert_healthy_kept(by, broken, len(env.pubmed))
    for name, n in HEALTHY_REQUESTS.items():
        if name != broken:
            assert env.count(name) == n and by[name].skipped_queries == 0 and by[name].stopped is None, name
    _, stats = merge_results(list(by.values()))
    assert stats["failed_sources"] == [broken] and stats["per_source"][broken]["skipped_queries"] == 2


def test_a_host_that_dies_mid_query_keeps_its_pages_and_skips_the_rest(env):
    env.faults["arxiv"] = {"kind": "500", "when": lambda a: int(a.get("start", 0)) >= 20}
    r = get_source("arxiv").search(QUESTION, QUERIES, LIMIT)
    assert r.status == "partial" and len(r.records) == 20 and r.stopped == "not answering"
    assert r.skipped_queries == 2 and env.count("arxiv") == 2 + 3  # two good pages, then 1 + 2 attempts
    assert r.error == "arxiv: HTTP 500 after 3 attempts; not answering, so 2 of 3 queries were skipped"
    _, stats = merge_results([r])
    assert stats["partial_sources"] == ["arxiv"] and stats["missing_unknown"] == ["arxiv"]


def test_429_does_not_open_the_circuit(env):
    env.faults["semantic_scholar"] = {"kind": "429", "retry_after": 0.01}
    r = get_source("semantic_scholar").search(QUESTION, QUERIES, LIMIT)
    assert env.count("semantic_scholar") == 3 * 3  # every query got its own attempts
    assert r.status == "failed" and r.stopped is None and r.skipped_queries == 0
    assert r.error == "semantic_scholar: HTTP 429 after 3 attempts (and 2 more)"


def test_a_retry_after_past_the_budget_is_not_slept(env):
    env.faults["openalex"] = {"kind": "429", "retry_after": 30}  # capped at 2 s: still past a 1 s budget
    t0 = time.monotonic()
    r = get_source("openalex").search(QUESTION, QUERIES, LIMIT, budget=1)
    assert time.monotonic() - t0 < 1
    assert env.count("openalex") == 1 and r.status == "failed" and r.stopped == "time budget"
    assert r.skipped_queries == 2
    assert r.error == "openalex: HTTP 429 after 1 attempt; time budget of 1 s spent, so 2 of 3 queries were skipped"


def test_the_budget_cuts_a_hung_request_short(env):
    env.faults["crossref"] = {"kind": "hang", "seconds": 5}  # read timeout 3 s, budget 0.5 s
    t0 = time.monotonic()
    r = get_source("crossref").search(QUESTION, QUERIES, LIMIT, budget=0.5)
    assert time.monotonic() - t0 < 0.5 + 1.5
    assert env.count("crossref") == 1 and r.status == "failed" and r.stopped == "time budget"
    # the read timeout (3 s) was cut to what was left of the budget
    assert re.fullmatch(r"crossref: timed out after 0(\.[0-5])? s after 1 attempt; time budget of 0\.5 s spent, "
                        r"so 2 of 3 queries were skipped", r.error), r.error


def test_a_slow_source_stops_at_its_budget_and_keeps_what_it_fetched(env):
    env.faults["arxiv"] = {"kind": "hang", "seconds": 0.3}  # every page answers, 0.3 s late
    t0 = time.monotonic()
    r = get_source("arxiv").search(QUESTION, QUERIES, LIMIT, budget=1.0)
    assert time.monotonic() - t0 < 1.0 + 1.5
    sent = env.count("arxiv")
    assert 1 <= sent <= 4 < HEALTHY_REQUESTS["arxiv"]  # pages start 0.3 s apart (or later) within 1 s
    assert r.status == "partial" and r.stopped == "time budget" and r.skipped_queries >= 1
    assert 10 <= len(r.records) <= 10 * sent and len(r.records) % 10 == 0
    assert "time budget of 1 s spent" in r.error and re.search(r", so [12] of 3 quer(y was|ies were) skipped$", r.error)
    # a healthy source well inside its budget is not touched by it
    ok = get_source("crossref").search(QUESTION, QUERIES, LIMIT, budget=30)
    assert ok.status == "ok" and ok.error is None and ok.stopped is None and len(ok.records) == 7


def test_the_budget_comes_from_the_params_and_the_environment(env, monkeypatch):
    from helpers.retrieval.stage import gather, plan_queries

    for name in ("crossref", "openalex", "pubmed"):
        env.faults[name] = {"kind": "hang", "seconds": 5}
    monkeypatch.setenv("WORKBENCH_SOURCE_BUDGET", "0.4")
    reset_clients()
    params = parse_params({"question": QUESTION, "source_budget": 0.3, "extra_queries": QUERIES[1:],
                           "sources": [{"name": "crossref", "budget": 0.6}, "openalex"]})
    by = {r.source: r for r in gather(params, plan_queries(params))}
    assert "time budget of 0.6 s spent" in by["crossref"].error  # the source's own budget
    assert "time budget of 0.3 s spent" in by["openalex"].error  # the params' budget for every source
    env_only = get_source("pubmed").search(QUESTION, QUERIES, LIMIT)
    assert "time budget of 0.4 s spent" in env_only.error  # WORKBENCH_SOURCE_BUDGET
    assert [env.count(n) for n in ("crossref", "openalex", "pubmed")] == [1, 1, 1]
    for bad in ({"source_budget": 0}, {"sources": [{"name": "arxiv", "budget": -1}]}):
        with pytest.raises(ParamsError, match="budget"):
            parse_params({"question": QUESTION, **bad})


def test_timeouts_are_split_connect_short_read_longer(monkeypatch):
    for key in ("WORKBENCH_HTTP_TIMEOUT", "WORKBENCH_HTTP_CONNECT_TIMEOUT", "WORKBENCH_SOURCE_BUDGET"):
        monkeypatch.delenv(key, raising=False)
    s = HttpSettings.from_env()
    assert (s.connect_timeout, s.timeout, s.source_budget) == (5.0, 30.0, 60.0)
    monkeypatch.setenv("WORKBENCH_HTTP_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", "45")
    monkeypatch.setenv("WORKBENCH_SOURCE_BUDGET", "0")
    s = HttpSettings.from_env()
    assert (s.connect_timeout, s.timeout, s.source_budget) == (2.0, 45.0, None)
    monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", "1")  # the connect timeout never exceeds the read timeout
    assert HttpSettings.from_env().connect_timeout == 1.0


# -- secrets ----------------------------------------------------------------------------------------------


def _cache_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_secrets_are_sent_but_never_stored_or_reported(env, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for key, value in SENTINELS.items():
        monkeypatch.setenv(key, value)
    reset_clients()
    env.faults["pubmed"] = {"kind": "500", "when": lambda a: "id" in a}  # a failure message to inspect too
    by, results = run_all()
    # the secrets really were sent where each API wants them
    sent = {s: (args, headers) for s, _, args, headers in env.log}
    assert sent["openalex"][0]["mailto"] == SENTINELS["WORKBENCH_CONTACT_EMAIL"]
    assert sent["crossref"][0]["mailto"] == SENTINELS["WORKBENCH_CONTACT_EMAIL"]
    assert sent["semantic_scholar"][1]["X-Api-Key"] == SENTINELS["WORKBENCH_S2_API_KEY"]
    assert sent["pubmed"][0]["api_key"] == SENTINELS["WORKBENCH_NCBI_API_KEY"]
    assert by["pubmed"].status == "partial" or by["pubmed"].status == "failed"
    # ... but appear in no result, no error, no stats and no cache file
    _, stats = merge_results(results)
    dumped = json.dumps([r.to_dict() for r in results]) + json.dumps(stats, default=str)
    dumped += json.dumps([p.to_dict() for r in results for p in r.records])
    # our log lines, urllib3's DEBUG URLs included (the replay server's own access log is not ours)
    dumped += "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    cache = _cache_bytes(tmp_path / "cache")
    assert cache
    for value in SENTINELS.values():
        assert value not in dumped
        assert value.encode() not in cache
        assert value.replace("@", "%40").encode() not in cache
    # cache keys do not depend on the secrets: with other values, or none, the same search is a cache hit
    env.faults.clear()
    n = env.count()
    for change in ("other", "none"):
        for key in SENTINELS:
            if change == "other":
                monkeypatch.setenv(key, "another-value-123")
            else:
                monkeypatch.delenv(key)
        reset_clients()
        again = get_source("crossref").search(QUESTION, [QUERY], LIMIT)
        assert len(again.records) == 7 and env.count() == n


def test_redact_hides_secret_values(monkeypatch):
    monkeypatch.setenv("WORKBENCH_NCBI_API_KEY", "abc123secret")
    monkeypatch.setenv("WORKBENCH_CONTACT_EMAIL", "me@x.org")
    assert redact("GET /efetch?api_key=abc123secret&email=me%40x.org") == "GET /efetch?api_key=***&email=***"


# -- back-off and rate limit ------------------------------------------------------------------------------


def test_backoff_is_exponential_with_jitter_and_retry_after_capped():
    s = HttpSettings(backoff=1.0, backoff_max=5.0, retry_after_max=10.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        waits = [backoff_wait(s, attempt, None) for _ in range(200)]
        assert 0 <= min(waits) and max(waits) <= ceiling and len(set(waits)) > 100
    assert backoff_wait(s, 1, 3.0) == 3.0
    assert backoff_wait(s, 1, 120.0) == 10.0
    assert parse_retry_after("7") == 7.0 and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") < 1  # a date in the past: no wait


def test_rate_limit_is_shared_across_processes(tmp_path):
    """Two processes share arXiv's bucket: 1 request per 0.5 s means 4 slots span >= 1.5 s."""
    code = (
        "import time,sys; from helpers.http import HttpClient, HttpSettings; "
        "c = HttpClient(HttpSettings.from_env()); "
        "[c._acquire('arxiv') or print(time.time(), flush=True) for _ in range(2)]"
    )
    env = {
        "WORKBENCH_CACHE_DIR": str(tmp_path),
        "WORKBENCH_ARXIV_RATE": "1/0.5",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PATH": "/usr/bin:/bin",
    }
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    stamps = sorted(float(x) for p in procs for x in p.communicate(timeout=30)[0].split())
    assert len(stamps) == 4
    assert stamps[-1] - stamps[0] >= 1.4, stamps


def test_processes_opening_a_new_cache_at_once_all_get_it(tmp_path):
    """Seen in CI: two processes opening a fresh HTTP cache at once, one got "database is locked" while the file
    was switched to WAL. Four at once, three times over, must all open it."""
    code = "from helpers.http import HttpClient, HttpSettings; HttpClient(HttpSettings.from_env()); print('opened')"
    for round_ in range(3):
        env = {"WORKBENCH_CACHE_DIR": str(tmp_path / str(round_)),
               "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PATH": "/usr/bin:/bin"}
        procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [p.communicate(timeout=60) for p in procs]
        assert all(out.strip() == "opened" for out, _ in results), [err[-300:] for _, err in results]


def test_unknown_source_name_becomes_a_failed_result(env):
    (r,) = search_all([("no_such_source", 5)], QUESTION, [QUERY])
    assert r.status == "failed" and "no_such_source" in r.error


def test_counter_sanity(env):
    # every request the adapters made went to the replay server and was routed to a known source
    run_all(limit=5)
    assert "?" not in Counter(s for s, *_ in env.log)


def test_year_range_is_sent_to_each_api_and_enforced(env):
    results = search_all([(n, LIMIT) for n in ONLINE_SOURCES], QUESTION, [QUERY], (2023, 2024))
    for r in results:
        assert r.status == "ok"
        assert all(2023 <= p.year <= 2024 for p in r.records if p.year is not None), r.source
    first: dict[str, dict] = {}
    for source, _, args, _ in env.log:
        first.setdefault(source, args)
    assert first["openalex"]["filter"] == "from_publication_date:2023-01-01,to_publication_date:2024-12-31"
    assert first["crossref"]["filter"] == "from-pub-date:2023,until-pub-date:2024"
    assert first["arxiv"]["search_query"].endswith("AND submittedDate:[202301010000 TO 202412312359]")
    assert first["semantic_scholar"]["year"] == "2023-2024"
    assert (first["pubmed"]["mindate"], first["pubmed"]["maxdate"]) == ("2023", "2024")
    by = {r.source: r for r in results}
    assert len(by["openalex"].records) == 3  # the 2015 copper paper is dropped
