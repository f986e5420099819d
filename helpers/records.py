"""The project's own record type for a scholarly paper, whatever source it came from, and the verdict labels."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .text import normalise, one_line

_ARXIV_VERSION = re.compile(r"v\d+$")
_WEB_URL = re.compile(r"^https?://[^\s]+$", re.I)

# The three verdicts a claim can get, from the verifier or from a person.
LABELS = ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")


def normalise_doi(doi: str | None) -> str | None:
    """Lower-case DOI without resolver prefix, or None."""
    if not doi:
        return None
    doi = doi.strip().lower()
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi)
    return doi or None


def normalise_arxiv(arxiv_id: str | None) -> str | None:
    """arXiv id without version or URL prefix ("2503.11731", "hep-th/9901001")."""
    if not arxiv_id:
        return None
    arxiv_id = arxiv_id.strip()
    arxiv_id = re.sub(r"^(https?://arxiv\.org/(abs|pdf)/|arxiv:)", "", arxiv_id, flags=re.I)
    arxiv_id = arxiv_id.removesuffix(".pdf")
    return _ARXIV_VERSION.sub("", arxiv_id) or None


@dataclass
class Paper:
    """One bibliographic record with its abstract.

    `id` is the workbench's stable key (e.g. ``arxiv:2503.11731``, ``doi:10.1/x``, ``scifact:4983``);
    `ids` keeps every external identifier known (doi, arxiv, pmid, openalex, s2).
    """

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    venue: str | None = None
    type: str | None = None
    source: str = ""
    url: str | None = None
    ids: dict[str, str] = field(default_factory=dict)
    citation_count: int | None = None
    categories: list[str] = field(default_factory=list)
    sentences: list[str] | None = None  # the abstract's own sentence split, when the source gives one
    sources: list[str] = field(default_factory=list)  # every source that returned it (after de-duplication)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Paper:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def normalised(self) -> Paper:
        """This record with every text field normalised (`text.normalise`): what enters the workbench from any
        source or corpus file. The abstract keeps its line breaks; every other field is one line."""
        def opt(value: str | None) -> str | None:
            return one_line(value) or None if value is not None else None

        return Paper(
            id=one_line(self.id), title=one_line(self.title), abstract=normalise(self.abstract),
            authors=[a for a in map(one_line, self.authors) if a], year=self.year, venue=opt(self.venue),
            type=opt(self.type), source=one_line(self.source), url=opt(self.url),
            ids={one_line(k): one_line(v) for k, v in self.ids.items() if one_line(v)},
            citation_count=self.citation_count, categories=[c for c in map(one_line, self.categories) if c],
            sentences=[normalise(s) for s in self.sentences] if self.sentences is not None else None,
            sources=[one_line(s) for s in self.sources],
        )

    @property
    def doi(self) -> str | None:
        return self.ids.get("doi")

    @property
    def arxiv_id(self) -> str | None:
        return self.ids.get("arxiv")

    @property
    def link(self) -> str | None:
        """The best public URL: DOI resolver, then arXiv abs page, then the source URL if it is a web (http or
        https) address; never a ``javascript:`` or other link a record could carry."""
        if self.doi:
            return f"https://doi.org/{self.doi}"
        if self.arxiv_id:
            return f"https://arxiv.org/abs/{self.arxiv_id}"
        return self.url if self.url and _WEB_URL.match(self.url) else None
