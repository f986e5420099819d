"""Text normalisation at the edge: what a record's text may hold once it has entered (any source, any corpus)."""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from helpers.records import Paper
from helpers.retrieval.store import parse_record
from helpers.text import normalise, one_line
from tests.hostile import FORBIDDEN, HOSTILE, TEXT


def test_normalise_removes_controls_and_bidi_and_keeps_text():
    assert normalise("a\x00b\x07c\x1bd\x7fe\x85f\x9bg") == "abc" + "d" + "e\nfg"  # NEL is a line break
    assert normalise("\u202eevil\u202c \u2066iso\u2069 \u202aemb\u202c \u202bx\u202d") == "evil iso emb x"
    assert normalise("tab\tkept\nnewline kept") == "tab\tkept\nnewline kept"
    assert normalise("crlf\r\ncr\rls\u2028ps\u2029end") == "crlf\ncr\nls\nps\nend"
    assert normalise("Cafe\u0301") == "Caf\u00e9"  # NFC
    assert normalise("lone \ud800 surrogate") == "lone  surrogate"
    assert normalise(None) == "" and normalise(2025) == "2025"
    assert one_line("  A\ttitle\n\nover   lines \u2028") == "A title over lines"
    # ordinary text passes unchanged: quotes, markup-like text, non-Latin scripts and right-to-left letters
    plain = "Müller's \"LLM\" <b>x</b> {{ y }} 数据 שלום — 50% & more"
    assert normalise(plain) == one_line(plain) == plain


@given(TEXT)
def test_normalise_properties(text):
    out, line = normalise(text), one_line(text)
    assert not FORBIDDEN.search(out) and not FORBIDDEN.search(line)
    assert unicodedata.is_normalized("NFC", out) and unicodedata.is_normalized("NFC", line)
    assert "\n" not in line and "  " not in line and line == line.strip()
    assert normalise(out) == out and one_line(line) == line  # idempotent: normalising twice changes nothing
    assert line == one_line(out)


def test_every_hostile_string_normalises_clean():
    for text in HOSTILE:
        assert not FORBIDDEN.search(normalise(text)), text
        assert "\n" not in one_line(text)


def test_records_are_normalised_where_they_enter():
    """A local corpus line (parse_record) and an online source's record (OnlineSource.search) both arrive
    normalised: title, authors and venue on one line, the abstract's line breaks kept, no control or bidi text."""
    line = json.loads(json.dumps({
        "id": "2501.00001v2", "title": "A\ntitle\x00 with \u202eRLO\u202c", "abstract": "First.\r\nSecond\x07.",
        "authors": ["Ann\n Lee", " ", "Bo\u2066 Li\u2069"], "categories": ["cs.CL\x00"], "published": "2025-01-02"}))
    p = parse_record(line, "c")
    assert (p.title, p.abstract, p.authors, p.categories) == ("A title with RLO", "First.\nSecond.", ["Ann Lee", "Bo Li"], ["cs.CL"])
    sf = parse_record({"doc_id": 7, "title": "T\u202e", "abstract": ["One\x00.", " Two.\u2029"]}, "sf")
    assert sf.sentences == ["One.", "Two."] and sf.abstract == "One. Two." and sf.title == "T"

    from helpers.retrieval.sources.web import OnlineSource, Page

    class Fake(OnlineSource):
        name = "fake"

        def fetch_page(self, query, cursor, size, year_range):
            return Page([Paper(id="doi:10.1/x", title="On\x00line\n title", authors=["\u202eEve"], venue=" J\nX ",
                               ids={"doi": "10.1/x"})], 1, None)

    got = Fake().search("q", ["q"], 5).records[0]
    assert (got.title, got.authors, got.venue, got.source) == ("Online title", ["Eve"], "J X", "fake")


@given(st.builds(Paper, id=TEXT, title=TEXT, abstract=TEXT, authors=st.lists(TEXT, max_size=4), venue=st.none() | TEXT,
                 url=st.none() | TEXT, ids=st.dictionaries(st.sampled_from(["doi", "arxiv"]), TEXT, max_size=2)))
def test_normalised_paper_holds_no_forbidden_text(paper):
    n = paper.normalised()
    text = json.dumps(n.to_dict(), ensure_ascii=False)
    assert not FORBIDDEN.search(text)
    assert all("\n" not in x for x in [n.title, n.venue or "", *n.authors, *n.ids.values()])
    assert all(n.authors) and n.normalised() == n
    assert n.link is None or n.link.startswith(("https://doi.org/", "https://arxiv.org/abs/", "http://", "https://"))


def test_link_is_only_ever_a_web_address():
    assert Paper(id="x", title="t", url="javascript:alert(1)").link is None
    assert Paper(id="x", title="t", url="data:text/html,<script>").link is None
    assert Paper(id="x", title="t", url="https://example.org/a").link == "https://example.org/a"
    assert Paper(id="x", title="t", url="https://x", ids={"doi": "10.1/y"}).link == "https://doi.org/10.1/y"
