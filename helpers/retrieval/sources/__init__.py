"""Scholarly sources behind one interface (`base.Source`): the local corpus store and the online APIs, one
module each; `get_source("local:arxiv-cs")`, `get_source("openalex")`, ... (see `registry.py`)."""

from __future__ import annotations

from .base import Source, SourceResult
from .registry import ONLINE_SOURCES, get_source

__all__ = ["ONLINE_SOURCES", "Source", "SourceResult", "get_source"]
