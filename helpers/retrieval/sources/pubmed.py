"""PubMed via NCBI E-utilities: `esearch.fcgi` for PMIDs, then `efetch.fcgi` for the records (XML).

Endpoint: https://eutils.ncbi.nlm.nih.gov/entrez/eutils (``WORKBENCH_PUBMED_URL``). Both replies are parsed
with `Bio.Entrez.read` (its DTDs ship with Biopython, so parsing never touches the network). ``email``
(``WORKBENCH_CONTACT_EMAIL``) and ``api_key`` (``WORKBENCH_NCBI_API_KEY``) come from the environment and are
never part of a cache key. NCBI allows 3 requests/s, 10/s with a key (``WORKBENCH_PUBMED_RATE=10``).
"""

from __future__ import annotations

import io
from typing import Any

from Bio import Entrez

from ...http import env_secret
from ...records import Paper
from ...text import clean_text
from .web import OnlineSource, Page, YearRange, as_int, make_ids, paper_id


def _entrez(body: bytes) -> Any:
    """`Bio.Entrez.read` over bytes; raises on truncated XML or an HTML error page."""
    data = Entrez.read(io.BytesIO(body))
    if not isinstance(data, dict):
        raise ValueError("not an E-utilities reply")
    return data


def parse_esearch(body: bytes) -> tuple[list[str], int | None]:
    data = _entrez(body)
    if "IdList" not in data:
        raise ValueError("no IdList in esearch reply")
    return [str(i) for i in data["IdList"]], as_int(data.get("Count"))


def parse_efetch(body: bytes) -> list[Paper]:
    data = _entrez(body)
    if "PubmedArticle" not in data:
        raise ValueError("no PubmedArticle in efetch reply")
    return [p for p in (article_to_paper(a) for a in data["PubmedArticle"]) if p]


def _year(article: dict[str, Any]) -> int | None:
    pub = ((article.get("Journal") or {}).get("JournalIssue") or {}).get("PubDate") or {}
    year = as_int(pub.get("Year")) or as_int(str(pub.get("MedlineDate", ""))[:4])
    if year is None:
        for d in article.get("ArticleDate") or []:
            year = as_int(d.get("Year"))
            if year:
                break
    return year


def article_to_paper(rec: dict[str, Any]) -> Paper | None:
    """One `PubmedArticle` (as parsed by Bio.Entrez) as a `Paper`."""
    cit = rec.get("MedlineCitation") or {}
    art = cit.get("Article") or {}
    pmid = str(cit.get("PMID", "")).strip()
    doi = pmc = None
    for aid in (rec.get("PubmedData") or {}).get("ArticleIdList") or []:
        kind = getattr(aid, "attributes", {}).get("IdType")
        if kind == "doi" and not doi:
            doi = str(aid)
        elif kind == "pmc" and not pmc:
            pmc = str(aid)
    if not doi:
        for loc in art.get("ELocationID") or []:
            if getattr(loc, "attributes", {}).get("EIdType") == "doi":
                doi = str(loc)
                break
    ids = make_ids(doi=doi, pmid=pmid, pmc=pmc)
    title = clean_text(art.get("ArticleTitle"))
    if not pmid or not title:
        return None
    parts = []
    for t in (art.get("Abstract") or {}).get("AbstractText") or []:
        label = getattr(t, "attributes", {}).get("Label")
        parts.append(f"{label}: {clean_text(t)}" if label else clean_text(t))
    authors = []
    for a in art.get("AuthorList") or []:
        name = a.get("CollectiveName") or " ".join(x for x in (a.get("ForeName"), a.get("LastName")) if x)
        if name:
            authors.append(clean_text(name))
    types = [str(t) for t in art.get("PublicationTypeList") or []]
    return Paper(
        id=paper_id(ids) or f"pmid:{pmid}",
        title=title,
        abstract=" ".join(p for p in parts if p),
        authors=authors,
        year=_year(art),
        venue=clean_text((art.get("Journal") or {}).get("Title")) or None,
        type=types[0] if types else None,
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        ids=ids,
    )


class PubMedSource(OnlineSource):
    name = "pubmed"
    default_url = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
    page_size = 200  # PMIDs fetched per efetch call

    def _auth(self) -> dict[str, str]:
        params = {"tool": "evidence-workbench"}
        email, key = env_secret("WORKBENCH_CONTACT_EMAIL"), env_secret("WORKBENCH_NCBI_API_KEY")
        if email:
            params["email"] = email
        if key:
            params["api_key"] = key
        return params

    def fetch_page(self, query: str, cursor: Any, size: int, year_range: YearRange) -> Page:
        params: dict[str, Any] = {
            "db": "pubmed",
            "term": query,
            "retstart": cursor,
            "retmax": size,
            "sort": "relevance",
            **self._auth(),
        }
        lo, hi = year_range
        if lo or hi:
            params.update({"datetype": "pdat", "mindate": f"{lo or 1800}", "maxdate": f"{hi or 3000}"})
        pmids, total = self.get("/esearch.fcgi", params, parse=parse_esearch)
        if not pmids:
            return Page([], total, None)
        papers = self.get(
            "/efetch.fcgi",
            {"db": "pubmed", "id": ",".join(pmids), "retmode": "xml", **self._auth()},
            parse=parse_efetch,
        )
        order = {pmid: i for i, pmid in enumerate(pmids)}  # keep esearch's relevance order
        papers.sort(key=lambda p: order.get(p.ids.get("pmid", ""), len(order)))
        n = cursor + len(pmids)
        return Page(papers, total, n if total is None or n < total else None)
