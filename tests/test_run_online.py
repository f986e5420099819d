"""A whole `workbench run` over all five online sources, pointed at the local replay server.

Checks the pipeline end to end: per-source PRISMA counts add up, a failing source is reported and the rest
kept, a second run is served from the cache with identical outputs, and no secret lands under outputs/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import runner
from helpers.synthesis.report import consistency_problems
from tests.test_sources_online import ONLINE_SOURCES, SENTINELS, env, replay  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow
STABLE = ["papers.csv", "claims.csv", "prisma.json", "references.bib", "references.ris", "report.json", "search.json"]


@pytest.fixture()
def online_params(tmp_path) -> Path:
    path = tmp_path / "online.yaml"
    path.write_text(yaml.safe_dump({
        "question": "Do large language model agents with tools help chemistry research?",
        "slug": "online-chemistry-agents",
        "sources": [{"name": s, "limit": 30} for s in ONLINE_SOURCES],
        "min_papers": 2, "max_papers": 10,
        "criteria": {"include_any": [["language model", "llm", "gpt", "agent", "machine learning", "artificial intelligence"]],
                     "min_relevance": 0.1},
    }))
    return path


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_five_sources_run_counts_cache_and_secrets(env, online_params, tmp_path, monkeypatch):  # noqa: F811
    for key, value in SENTINELS.items():
        monkeypatch.setenv(key, value)
    out_root = tmp_path / "outputs"
    first = runner.run(online_params, out_root=out_root, archive=True)
    out = first.out_dir
    prisma = json.loads((out / "prisma.json").read_text())
    assert set(prisma["identified_per_source"]) == set(ONLINE_SOURCES)
    assert all(n > 0 for n in prisma["identified_per_source"].values())
    assert prisma["identified"] == sum(prisma["identified_per_source"].values())
    assert prisma["screened"] == prisma["identified"] - prisma["duplicates_removed"]
    papers = pd.read_csv(out / "papers.csv", keep_default_na=False)
    assert len(papers) == prisma["screened"] and prisma["failed_sources"] == {}
    assert any(";" in s for s in papers.source)  # some records were found by several sources and merged
    assert consistency_problems(out) == []
    import zipfile

    archive = out_root / "online-chemistry-agents.zip"
    names = zipfile.ZipFile(archive).namelist()
    assert "online-chemistry-agents/report.html" in names and "online-chemistry-agents/references.bib" in names
    # no secret anywhere under outputs/ (files, rendered notebooks, the shareable zip)
    blob = _all_bytes(out_root)
    for value in SENTINELS.values():
        assert value.encode() not in blob, value
    # the second identical run makes no HTTP request and writes the same outputs
    before = {name: (out / name).read_bytes() for name in STABLE}
    n_requests = env.count()
    runner.run(online_params, out_root=out_root)
    assert env.count() == n_requests
    for name in STABLE:
        assert (out / name).read_bytes() == before[name], name


def test_a_failed_source_is_reported_and_the_rest_kept(env, online_params, tmp_path):  # noqa: F811
    env.faults["openalex"] = {"kind": "500"}
    out = runner.run(online_params, out_root=tmp_path / "outputs").out_dir
    prisma = json.loads((out / "prisma.json").read_text())
    assert list(prisma["failed_sources"]) == ["openalex"] and "HTTP 500" in prisma["failed_sources"]["openalex"]
    assert prisma["identified_per_source"]["openalex"] == 0
    assert all(prisma["identified_per_source"][s] > 0 for s in ONLINE_SOURCES if s != "openalex")
    # the first of the three planned queries used its retries; the circuit opened and the others were not sent
    search = json.loads((out / "search.json").read_text())
    oa = next(r for r in search["sources"] if r["source"] == "openalex")
    assert len(oa["queries"]) == 3 and env.count("openalex") == 3
    assert (oa["status"], oa["stopped"], oa["skipped_queries"]) == ("failed", "not answering", 2)
    assert search["dedup"]["per_source"]["openalex"]["skipped_queries"] == 2
    why = "openalex: HTTP 500 after 3 attempts; not answering, so 2 of 3 queries were skipped"
    assert prisma["failed_sources"]["openalex"] == oa["error"] == why
    md = (out / "report.md").read_text()
    assert "Source openalex failed" in md and "openalex (failed" in md
    assert f"Source openalex failed ({why}); its records are missing" in md
    assert consistency_problems(out) == []
