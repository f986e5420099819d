"""Reference lists of the included papers: BibTeX (bibtexparser), RIS (rispy), CSL-JSON (json) and CSV (pandas).

Whatever a record's text holds, each file has exactly one record per paper. The text reached here normalised
(`text.normalise`: no control or bidi characters, titles and names on one line). On top of that, each writer
applies its format's own rules:
- BibTeX: the text is plain text, so every LaTeX special character is escaped (`bib_text`; backslash, braces,
  ``$``, ``%``, ``#``, ``&``, ``_``, ``~``, ``^``), and so a title cannot end its field, open an entry or run a
  macro; a brace without a partner becomes a macro, so that braces always pair up. A name holding "and" (or
  starting with an escape) is braced so that it stays one name. Identifiers are written verbatim, with braces
  and backslashes percent-encoded (as in a URL).
- RIS is line-based and has no escaping, so every value is one line: an abstract's line breaks become spaces,
  and no ``TY  -`` line can start inside a value. A ``;`` in a URL is percent-encoded (readers split UR at it).
- CSV: `spreadsheet.to_csv` (quoted by pandas, formula-like cells neutralised).
"""

from __future__ import annotations

import json
import re
import unicodedata

import bibtexparser
import pandas as pd
import rispy
from bibtexparser.model import Entry, Field

from .. import spreadsheet
from ..records import Paper
from ..text import one_line

# Plain text in a BibTeX field: each LaTeX special character and what stands for it (one pass, so no double escape).
BIB_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "%": r"\%", "#": r"\#",
               "&": r"\&", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
# A brace without its partner: written as a macro, so that every field's braces still pair up for BibTeX and for
# the name splitter (which count braces whether escaped or not).
BIB_UNMATCHED = {"{": r"\textbraceleft{}", "}": r"\textbraceright{}"}
_AND = re.compile(r"\sand\s", re.I)  # BibTeX splits a name list at " and " (any case), outside braces
# Characters that cannot stand in a verbatim BibTeX field (doi, url, eprint), percent-encoded as in a URL.
BIB_VERBATIM = {"{": "%7B", "}": "%7D", "\\": "%5C"}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def cite_keys(papers: list[Paper]) -> dict[str, str]:
    """Stable, unique BibTeX keys: surname + year + first title word (a, b, ... on clashes)."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    for p in papers:
        surname = _ascii(p.authors[0].split()[-1]) if p.authors else "anon"
        word = next((w for w in re.findall(r"[A-Za-z]+", _ascii(p.title)) if len(w) > 3), "paper")
        base = re.sub(r"[^a-z0-9]", "", f"{surname}{p.year or ''}{word}".lower()) or "ref"
        key, n = base, 0
        while key in used:
            n += 1
            key = f"{base}{chr(ord('a') + n - 1)}"
        used.add(key)
        keys[p.id] = key
    return keys


class _PlainRisWriter(rispy.RisWriter):
    """RIS without rispy's "1." counter lines, which some reference managers reject."""

    def set_header(self, count: int) -> str:
        return ""


def _unmatched_braces(text: str) -> set[int]:
    opened: list[int] = []
    alone: set[int] = set()
    for i, c in enumerate(text):
        if c == "{":
            opened.append(i)
        elif c == "}":
            if opened:
                opened.pop()
            else:
                alone.add(i)
    return alone | set(opened)


def bib_text(text: str) -> str:
    """Plain text as the content of a BibTeX field: every LaTeX special character escaped, braces that pair up
    as ``\\{ \\}``, a brace alone as ``\\textbraceleft{}`` / ``\\textbraceright{}``."""
    text = text or ""
    alone = _unmatched_braces(text)
    return "".join(BIB_UNMATCHED[c] if i in alone else BIB_ESCAPES.get(c, c) for i, c in enumerate(text))


def bib_name(name: str) -> str:
    """One author as a BibTeX name; braced when it holds "and" (so that it is never read as two names) or starts
    with an escape (which bibtexparser's name splitter would not see as the start of a name)."""
    text = bib_text(name)
    return "{" + text + "}" if _AND.search(f" {name} ") or text.startswith("\\") else text


def bib_verbatim(text: str) -> str:
    """An identifier or URL as a verbatim BibTeX field (braces and backslashes percent-encoded)."""
    return "".join(BIB_VERBATIM.get(c, c) for c in text)


def bibtex(papers: list[Paper]) -> str:
    keys = cite_keys(papers)
    lib = bibtexparser.Library()
    for p in papers:
        fields = [Field("title", "{" + bib_text(p.title) + "}"),
                  Field("author", " and ".join(bib_name(a) for a in p.authors) or "Anonymous")]
        if p.year:
            fields.append(Field("year", str(p.year)))
        if p.arxiv_id and not p.doi:
            fields += [Field("eprint", bib_verbatim(p.arxiv_id)), Field("archivePrefix", "arXiv")]
            if p.categories:
                fields.append(Field("primaryClass", bib_verbatim(p.categories[0])))
        if p.doi:
            fields.append(Field("doi", bib_verbatim(p.doi)))
        if p.venue and p.venue.lower() != "arxiv":
            fields.append(Field("journal", bib_text(p.venue)))
        if p.link:
            fields.append(Field("url", bib_verbatim(p.link)))
        entry_type = "article" if p.doi and p.type != "preprint" else "misc"
        lib.add(Entry(entry_type, keys[p.id], fields))
    return bibtexparser.write_string(lib)


def ris(papers: list[Paper]) -> str:
    """RIS, one record per paper: every value on one line (RIS has no escaping; a line break would end it)."""
    entries = []
    for p in papers:
        e = {"type_of_reference": "JOUR" if p.doi and p.type != "preprint" else "GEN", "title": p.title,
             "authors": list(p.authors), "abstract": p.abstract, "id": p.id}
        if p.year:
            e["year"] = str(p.year)
        if p.doi:
            e["doi"] = p.doi
        if p.link:
            e["urls"] = [p.link.replace(";", "%3B")]  # readers split UR at ";" (rispy does)
        if p.venue:
            e["secondary_title"] = p.venue
        entries.append({k: [one_line(x) for x in v] if isinstance(v, list) else one_line(v) for k, v in e.items()})
    return rispy.dumps(entries, implementation=_PlainRisWriter)


def csl_json(papers: list[Paper]) -> str:
    keys = cite_keys(papers)
    items = []
    for p in papers:
        item = {"id": keys[p.id], "type": "article-journal" if p.doi and p.type != "preprint" else "article",
                "title": p.title, "author": [{"literal": a} for a in p.authors]}
        if p.year:
            item["issued"] = {"date-parts": [[p.year]]}
        if p.doi:
            item["DOI"] = p.doi
        if p.link:
            item["URL"] = p.link
        if p.venue:
            item["container-title"] = p.venue
        items.append(item)
    return json.dumps(items, indent=1, ensure_ascii=False)


def csv(papers: list[Paper]) -> str:
    """One row per paper, for a spreadsheet (`spreadsheet.to_csv`)."""
    keys = cite_keys(papers)
    df = pd.DataFrame([{"key": keys[p.id], "id": p.id, "title": p.title, "authors": "; ".join(p.authors),
                        "year": p.year, "venue": p.venue or "", "doi": p.doi or "", "arxiv_id": p.arxiv_id or "",
                        "url": p.link or ""} for p in papers],
                      columns=["key", "id", "title", "authors", "year", "venue", "doi", "arxiv_id", "url"])
    df["year"] = df["year"].astype("Int64")  # 2025, or empty: never 2025.0 when some year is missing
    return spreadsheet.to_csv(df)
