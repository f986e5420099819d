"""Reference lists of the included papers: BibTeX (bibtexparser), RIS (rispy), CSL-JSON and CSV."""

from __future__ import annotations

import json
import re
import unicodedata

import bibtexparser
import pandas as pd
import rispy
from bibtexparser.model import Entry, Field

from ..records import Paper

_BIB_SPECIAL = re.compile(r"([&%$#_{}])")


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


def _bib_escape(text: str) -> str:
    return _BIB_SPECIAL.sub(r"\\\1", text or "")


def bibtex(papers: list[Paper]) -> str:
    keys = cite_keys(papers)
    lib = bibtexparser.Library()
    for p in papers:
        fields = [Field("title", "{" + _bib_escape(p.title) + "}"),
                  Field("author", " and ".join(_bib_escape(a) for a in p.authors) or "Anonymous")]
        if p.year:
            fields.append(Field("year", str(p.year)))
        if p.arxiv_id and not p.doi:
            fields += [Field("eprint", p.arxiv_id), Field("archivePrefix", "arXiv")]
            if p.categories:
                fields.append(Field("primaryClass", p.categories[0]))
        if p.doi:
            fields.append(Field("doi", p.doi))
        if p.venue and p.venue.lower() != "arxiv":
            fields.append(Field("journal", _bib_escape(p.venue)))
        if p.link:
            fields.append(Field("url", p.link))
        entry_type = "article" if p.doi and p.type != "preprint" else "misc"
        lib.add(Entry(entry_type, keys[p.id], fields))
    return bibtexparser.write_string(lib)


def ris(papers: list[Paper]) -> str:
    entries = []
    for p in papers:
        e = {"type_of_reference": "JOUR" if p.doi and p.type != "preprint" else "GEN", "title": p.title,
             "authors": list(p.authors), "abstract": p.abstract, "id": p.id}
        if p.year:
            e["year"] = str(p.year)
        if p.doi:
            e["doi"] = p.doi
        if p.link:
            e["urls"] = [p.link]
        if p.venue:
            e["secondary_title"] = p.venue
        entries.append(e)
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
    keys = cite_keys(papers)
    return pd.DataFrame([{"key": keys[p.id], "id": p.id, "title": p.title, "authors": "; ".join(p.authors),
                          "year": p.year, "venue": p.venue or "", "doi": p.doi or "", "arxiv_id": p.arxiv_id or "",
                          "url": p.link or ""} for p in papers],
                        columns=["key", "id", "title", "authors", "year", "venue", "doi", "arxiv_id", "url"]).to_csv(index=False)
