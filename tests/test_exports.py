"""Every export parsed back with its own format's library gives exactly the papers written, field by field,
whatever text they hold (hypothesis), and spreadsheet CSVs never start a cell with a formula."""

from __future__ import annotations

import csv
import io
import json
import re

import bibtexparser
import pandas as pd
import rispy
from bibtexparser.middlewares.names import split_multiple_persons_names
from hypothesis import given
from hypothesis import strategies as st

from helpers import spreadsheet
from helpers.records import Paper
from helpers.synthesis import references
from helpers.text import one_line
from tests.hostile import HOSTILE, LONG, TEXT

_BIB_CHAR = {v: k for table in (references.BIB_ESCAPES, references.BIB_UNMATCHED) for k, v in table.items()}
_BIB_TOKEN = re.compile("|".join(re.escape(v) for v in sorted(_BIB_CHAR, key=len, reverse=True)))
_URL_TOKEN = re.compile("|".join(re.escape(v) for v in references.BIB_VERBATIM.values()))
_URL_CHAR = {v: k for k, v in references.BIB_VERBATIM.items()}


def bib_decode(value: str) -> str:
    """The plain text a BibTeX field written by `references.bib_text` stands for (the writer's exact inverse)."""
    return _BIB_TOKEN.sub(lambda m: _BIB_CHAR[m.group()], value)


def bib_names(value: str) -> list[str]:
    """The names of an author field, split where BibTeX splits them (bibtexparser's own splitter)."""
    names = split_multiple_persons_names(value)
    return [bib_decode(n[1:-1] if n.startswith("{") and n.endswith("}") else n) for n in names]


def url_decode(value: str) -> str:
    return _URL_TOKEN.sub(lambda m: _URL_CHAR[m.group()], value)


def check_bibtex(text: str, papers: list[Paper]) -> None:
    lib = bibtexparser.parse_string(text)
    assert lib.failed_blocks == [] and len(lib.entries) == len(papers) and len(lib.blocks) == len(papers)
    assert len({e.key for e in lib.entries}) == len(papers)
    for e, p in zip(lib.entries, papers):
        f = e.fields_dict
        assert bib_decode(f["title"].value[1:-1]) == p.title
        assert bib_names(f["author"].value) == (p.authors or ["Anonymous"])
        assert ("year" in f) == bool(p.year) and (not p.year or f["year"].value == str(p.year))
        if p.doi:
            assert url_decode(f["doi"].value) == p.doi
        elif p.arxiv_id:
            assert url_decode(f["eprint"].value) == p.arxiv_id
        if p.link:
            assert url_decode(f["url"].value) == p.link
        if p.venue and p.venue.lower() != "arxiv":
            assert bib_decode(f["journal"].value) == p.venue


def check_ris(text: str, papers: list[Paper]) -> None:
    assert len(re.findall(r"^TY  - ", text, re.M)) == len(re.findall(r"^ER  - ", text, re.M)) == len(papers)
    back = rispy.loads(text)
    assert len(back) == len(papers)
    for r, p in zip(back, papers):
        assert r.get("title", "") == p.title and r.get("authors", []) == p.authors and r["id"] == p.id
        assert r.get("abstract", "") == one_line(p.abstract)  # RIS values are one line
        assert r.get("year") == (str(p.year) if p.year else None) and r.get("doi") == p.doi
        assert r.get("urls") == ([p.link.replace(";", "%3B")] if p.link else None) and r.get("secondary_title") == p.venue


def check_csl(text: str, papers: list[Paper]) -> None:
    items = json.loads(text)
    assert len(items) == len(papers)
    for it, p in zip(items, papers):
        assert it["title"] == p.title and [a["literal"] for a in it["author"]] == p.authors
        assert it.get("DOI") == p.doi and it.get("URL") == p.link and it.get("container-title") == p.venue


def check_csv(text: str, papers: list[Paper]) -> None:
    assert_no_formula_cells(text)
    df = spreadsheet.read_csv(io.StringIO(text), dtype=str)
    assert len(df) == len(papers)
    for row, p in zip(df.to_dict("records"), papers):
        assert (row["id"], row["title"], row["authors"]) == (p.id, p.title, "; ".join(p.authors))
        assert (row["year"], row["venue"], row["doi"], row["url"]) == (str(p.year or ""), p.venue or "", p.doi or "", p.link or "")


def assert_no_formula_cells(text: str) -> None:
    """No cell of a spreadsheet CSV starts with what a spreadsheet runs as a formula (numbers aside)."""
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            if cell.startswith(spreadsheet.FORMULA_START):
                float(cell)  # only a number may start with "-" or "+"


def check_all(papers: list[Paper]) -> None:
    check_bibtex(references.bibtex(papers), papers)
    check_ris(references.ris(papers), papers)
    check_csl(references.csl_json(papers), papers)
    check_csv(references.csv(papers), papers)


IDENT = st.text(st.characters(blacklist_characters="%", blacklist_categories=["Cs"]), min_size=1, max_size=20)


@st.composite
def papers(draw) -> list[Paper]:
    """Records as they are after entering (normalised), built from anything a source could send."""
    out = []
    for i in range(draw(st.integers(1, 4))):
        ids = {"arxiv": draw(IDENT)} if draw(st.booleans()) else {"doi": draw(IDENT)}
        out.append(Paper(id=f"x:{i}{draw(TEXT)}", title=draw(TEXT), abstract=draw(TEXT),
                         authors=draw(st.lists(TEXT, max_size=4)), year=draw(st.none() | st.integers(1900, 2100)),
                         venue=draw(st.none() | TEXT), url=draw(st.none() | TEXT), ids=ids,
                         type=draw(st.sampled_from(["preprint", "article"])),
                         categories=draw(st.lists(IDENT, max_size=2))).normalised())
    return [p for p in out if p.id]


@given(papers())
def test_every_export_parses_back_to_exactly_the_papers(ps):
    check_all(ps)


def test_hostile_strings_in_every_field_round_trip():
    ps = [Paper(id=f"arxiv:2501.{i:05d}", title=h, abstract=f"{h}\n\n{h}", authors=[h, "Smith and Jones", "Ann Lee"],
                year=2025, venue=h, ids={"arxiv": f"2501.{i:05d}"}, type="preprint").normalised()
          for i, h in enumerate([*HOSTILE, LONG, ""])]
    check_all(ps)
    ris = references.ris(ps)
    assert len(re.findall(r"^TY  - ", ris, re.M)) == len(ps)  # the forged "TY  - JOUR" line stays inside its title
    bib = bibtexparser.parse_string(references.bibtex(ps))
    keys = [e.key for e in bib.entries]
    assert len(set(keys)) == len(ps) and all(re.fullmatch(r"[a-z0-9]+", k) for k in keys)  # keys stay plain


def test_reference_formats_keep_normal_text_as_before():
    """Ordinary records are written as they always were (the demo's exports do not change)."""
    p = Paper(id="arxiv:2501.00001", title="Fast-dLLM++: Fréchet Decoding", authors=["Jörg Müller", "Ann Lee"],
              year=2025, ids={"arxiv": "2501.00001"}, type="preprint", venue="arXiv", categories=["cs.CL"])
    assert references.bibtex([p]) == (
        "@misc{muller2025fast,\n\ttitle = {{Fast-dLLM++: Fréchet Decoding}},\n\tauthor = {Jörg Müller and Ann Lee},\n"
        "\tyear = {2025},\n\teprint = {2501.00001},\n\tarchivePrefix = {arXiv},\n\tprimaryClass = {cs.CL},\n"
        "\turl = {https://arxiv.org/abs/2501.00001}\n}\n")
    assert references.bib_text("A {braced} & 50% $x$ #1 a_b") == r"A \{braced\} \& 50\% \$x\$ \#1 a\_b"
    assert references.bib_text("} {a} {") == r"\textbraceright{} \{a\} \textbraceleft{}"
    assert references.bib_text("\\cmd ~ ^") == r"\textbackslash{}cmd \textasciitilde{} \textasciicircum{}"
    assert references.bib_name("Smith and Jones") == "{Smith and Jones}" and references.bib_name("Alexander") == "Alexander"


def test_spreadsheet_cells_are_neutralised_and_restored_exactly():
    values = ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "＝1", "'=already", "''", "'plain", "'", "", "plain",
              "50% -ok", "a=b"]
    df = pd.DataFrame({"text": values, "number": [-1.5] * len(values), "n": range(len(values))})
    text = spreadsheet.to_csv(df)
    assert_no_formula_cells(text)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == len(values) + 1 and rows[6][0] == "'\rx"  # a carriage return stays inside its cell
    cells = [r[0] for r in rows[1:]]
    assert rows[1][:2] == ["'=1+1", "-1.5"] and cells[1:5] == ["'+1", "'-2+3", "'@SUM(A1)", "'\tx"]
    assert cells[6:10] == ["'＝1", "''=already", "'" * 3, "'plain"]  # an apostrophe the writer did not add is kept
    assert cells[10:] == ["'", "", "plain", "50% -ok", "a=b"]  # only a formula-like start changes
    back = spreadsheet.read_csv(io.StringIO(text))
    assert back["text"].tolist() == values and back["number"].tolist() == [-1.5] * len(values)
    assert back["n"].tolist() == list(range(len(values)))  # numbers stay numbers
    plain = pd.DataFrame({"a": ["x", "y"], "b": [1.25, None]})
    assert spreadsheet.to_csv(plain) == plain.to_csv(index=False)  # nothing to neutralise: byte for byte as before


@given(st.lists(TEXT, min_size=1, max_size=6))
def test_spreadsheet_round_trip_property(values):
    values = [one_line(v) for v in values]
    text = spreadsheet.to_csv(pd.DataFrame({"v": values}))
    assert_no_formula_cells(text)
    assert spreadsheet.read_csv(io.StringIO(text), dtype=str)["v"].tolist() == values
