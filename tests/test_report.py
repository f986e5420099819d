"""Report content and exports on a run over hostile records (tests/hostile.py): escaping, exports that parse back
to exactly the included papers, no control or bidi character, real readers; limitations derived from the run."""

from __future__ import annotations

import json

from helpers import spreadsheet
from helpers.outputs import load_papers
from helpers.records import Paper
from helpers.synthesis import references, report
from helpers.text import md_escape, one_line
from tests import readers
from tests.hostile import HOSTILE, N_NORMAL, forbidden_in, live_markup
from tests.test_exports import assert_no_formula_cells, check_bibtex, check_csl, check_csv, check_ris


def test_hostile_strings_are_inert(hostile_run):
    _, out = hostile_run
    html = (out / "report.html").read_text()
    assert "<script>window.PWN" not in html and "<img src=x" not in html and live_markup(html) == []
    assert "&lt;script&gt;window.PWN=1&lt;/script&gt;" in html
    md = (out / "report.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md and "\\[a link](javascript:" in md
    assert report.consistency_problems(out) == []


def test_every_hostile_string_reaches_the_exports(hostile_run):
    """The run is a real test: each hostile string (and an empty title) is in an included paper's title."""
    _, out = hostile_run
    included, _, _ = load_papers(out)
    titles = [p.title for p in included]
    for h in HOSTILE:
        assert any(t.startswith(one_line(h)) for t in titles), h
    assert "" in titles and len(included) >= len(HOSTILE) + N_NORMAL
    assert sum(1 for p in included if "Smith and Jones" in p.authors) >= len(HOSTILE)


def test_exports_parse_back_to_exactly_the_included_papers(hostile_run):
    _, out = hostile_run
    included, _, _ = load_papers(out)
    check_bibtex((out / "references.bib").read_text(), included)
    check_ris((out / "references.ris").read_text(), included)
    check_csl((out / "references.json").read_text(), included)
    check_csv((out / "references.csv").read_text(), included)


def test_no_output_file_holds_a_control_or_bidi_character(hostile_run):
    _, out = hostile_run
    files = [f for f in out.rglob("*") if f.is_file()]
    assert len(files) >= 25 and {f.suffix for f in files} >= {".csv", ".json", ".jsonl", ".md", ".html", ".bib", ".ris", ".ipynb"}
    assert {f.name: forbidden_in(f) for f in files if forbidden_in(f)} == {}


def test_no_html_output_carries_live_markup(hostile_run):
    _, out = hostile_run
    pages = sorted(out.glob("*.html"))
    assert [p.name for p in pages] == ["01_retrieval.html", "02_claims.html", "03_scoring.html", "04_report.html", "report.html"]
    for page in pages:
        html = page.read_text()
        assert "window.PWN" in html, page.name  # the hostile text is there ...
        assert live_markup(html) == [], page.name  # ... as text only


def test_spreadsheet_csvs_neutralise_formulas_and_read_back_exactly(hostile_run):
    _, out = hostile_run
    for name in ("papers.csv", "claims.csv", "claims_rejected.csv", "references.csv"):
        assert_no_formula_cells((out / name).read_text())
    for name in ("papers.csv", "claims.csv", "references.csv"):
        assert "\"'=HYPERLINK(" in (out / name).read_text(), name  # neutralised, not dropped
    # what the stages read back is the text itself: claims.csv against claims.jsonl, papers.csv against records
    claims = spreadsheet.read_csv(out / "claims.csv")
    exact = {d["claim_id"]: d["claim"] for d in map(json.loads, (out / "claims.jsonl").read_text().splitlines())}
    assert claims["claim"].tolist() == [exact[c] for c in claims["claim_id"]]
    assert any(c.startswith("=HYPERLINK(") for c in claims["claim"])
    papers = spreadsheet.read_csv(out / "papers.csv", dtype=str)
    titles = {p.id: p.title for p in load_papers(out)[1]}
    assert papers["title"].tolist() == [titles[i] for i in papers["id"]]


def test_real_readers_read_one_record_per_included_paper(hostile_run):
    """bibutils (ris2xml, bib2xml) and pandoc --citeproc, as a reference manager or a paper would read the files."""
    _, out = hostile_run
    included, _, _ = load_papers(out)
    counts = readers.read_exports(out)
    assert set(counts.values()) == {len(included)}, counts
    normal = [i for i, p in enumerate(included) if "PWN" not in p.title and p.title and "Smith and Jones" not in p.authors]
    assert len(normal) >= 3  # untouched papers in the same run (3 of the N_NORMAL are included)
    for titles in (readers.ris_titles(out / "references.ris"), readers.bib_titles(out / "references.bib")):
        assert [titles[i] for i in normal] == [included[i].title for i in normal]  # normal records read exactly


def test_report_sections_and_limitations(hostile_run):
    params, out = hostile_run
    md = (out / "report.md").read_text()
    stated = json.loads((out / "report.json").read_text())
    assert md.startswith(f"# {md_escape(params.title)}")
    assert "No person has reviewed the claims yet" in md
    assert "preprints that have not been peer-reviewed" in md  # arXiv-only evidence is flagged
    assert stated["answer_status"] in ("answered", "partly answered", "not answered", "insufficient")
    # escaping is for what papers and params say; the workbench's own wording reads cleanly in raw Markdown
    methods = md.split("## Methods", 1)[1].split("## Results", 1)[0]
    assert "confidence ≥ 0.60" in methods and "&gt;=" not in methods and "&gt; " not in methods


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
