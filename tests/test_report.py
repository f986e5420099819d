"""Report content: escaping of paper strings, references, limitations derived from the run."""

from __future__ import annotations

import json

import pytest

from helpers.params import parse_params
from helpers.records import Paper
from helpers.retrieval import stage as retrieval
from helpers.synthesis import references, report
from helpers.synthesis.scoring import scoring_stage
from helpers.text import md_escape
from helpers.verification.stage import claims_stage

EVIL = 'Speculative decoding <script>alert(1)</script><img src=x onerror="alert(2)"> draft model speedup'


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    """A run whose top paper carries a hostile title, injected through the source (built once per module)."""
    from helpers.retrieval.sources import local

    orig = local.LocalSource.search

    def search(self, *a, **kw):
        res = orig(self, *a, **kw)
        res.records[0].title = EVIL
        return res

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(local.LocalSource, "search", search)
        built = _evil_outputs(tmp_path_factory.mktemp("evil"))
    return built


def _evil_outputs(tmp_path):
    params = parse_params({"question": "Does speculative decoding speed up LLM inference without quality loss?",
                           "slug": "evil", "sources": ["local:fixture"], "min_papers": 2, "max_papers": 60,
                           "criteria": {"include_any": [["speculative decoding", "draft model"],
                                                        ["speedup", "faster", "latency"]]}})
    out = tmp_path / "evil"
    result = retrieval.run(params)
    assert EVIL in [p.title for p in result.included], "the hostile record must reach the report"
    retrieval.save(result, out)
    claims_stage(params, out)
    scoring_stage(params, out)
    report.report_stage(params, out)
    return params, out


def test_hostile_strings_are_inert(evil_run):
    _, out = evil_run
    html = (out / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = (out / "report.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert report.consistency_problems(out) == []


def test_report_sections_and_limitations(evil_run):
    params, out = evil_run
    md = (out / "report.md").read_text()
    stated = json.loads((out / "report.json").read_text())
    assert md.startswith(f"# {md_escape(params.title)}")
    assert "No person has reviewed the claims yet" in md
    assert "preprints that have not been peer-reviewed" in md  # arXiv-only evidence is flagged
    assert stated["answer_status"] in ("answered", "partly answered", "not answered", "insufficient")
    # escaping is for what papers and params say; the workbench's own wording reads cleanly in raw Markdown
    methods = md.split("## Methods", 1)[1].split("## Results", 1)[0]
    assert "confidence ≥ 0.60" in methods and "&gt;" not in methods


def test_reference_formats_round_trip():
    import rispy

    ps = [Paper(id="arxiv:2501.00001", title="A {braced} & 50% title", authors=["Jörg Müller", "Ann Lee"], year=2025,
                ids={"arxiv": "2501.00001"}, type="preprint", venue="arXiv"),
          Paper(id="doi:10.1/x", title="Published", authors=["Jörg Müller"], year=2025, ids={"doi": "10.1/x"},
                venue="Nature")]
    import bibtexparser

    lib = bibtexparser.parse_string(references.bibtex(ps))
    assert [e.key for e in lib.entries] == ["muller2025braced", "muller2025published"]
    assert lib.entries[1]["doi"] == "10.1/x" and lib.entries[0]["eprint"] == "2501.00001"
    back = rispy.loads(references.ris(ps))
    assert [b["title"] for b in back] == [p.title for p in ps] and back[1]["doi"] == "10.1/x"
    csl = json.loads(references.csl_json(ps))
    assert csl[1]["DOI"] == "10.1/x" and csl[0]["issued"] == {"date-parts": [[2025]]}
