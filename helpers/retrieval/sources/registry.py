"""Which module implements which source: a name -> class table, imported on first use.

To add a source, write a module with a class that implements `base.Source` (an online one subclasses
`web.OnlineSource` and implements `fetch_page`), then add its line to `SOURCES`.
"""

from __future__ import annotations

import importlib

from .base import Source

# name -> "module:Class" (modules of this package); `local` takes the corpus name from `local:<corpus>`
SOURCES: dict[str, str] = {
    "local": "local:LocalSource",
    "openalex": "openalex:OpenAlexSource",
    "crossref": "crossref:CrossrefSource",
    "arxiv": "arxiv_api:ArxivSource",
    "semantic_scholar": "semantic_scholar:SemanticScholarSource",
    "pubmed": "pubmed:PubMedSource",
}
ONLINE_SOURCES = tuple(name for name in SOURCES if name != "local")


def get_source(spec: str) -> Source:
    """Instantiate the source named by `spec` (`local:<corpus>` or an online source's name)."""
    kind = "local" if spec.startswith("local:") else spec
    if kind not in SOURCES:
        raise KeyError(f"unknown source '{spec}' (known: local:<corpus>, {', '.join(ONLINE_SOURCES)})")
    module, cls_name = SOURCES[kind].split(":")
    cls = getattr(importlib.import_module(f"{__package__}.{module}"), cls_name)
    return cls(spec.split(":", 1)[1]) if kind == "local" else cls()
