"""One interface for every scholarly source, local or online."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ...records import Paper


@dataclass
class SourceResult:
    """What one source returned for one search: its records and whether it fully worked."""

    source: str
    records: list[Paper] = field(default_factory=list)
    status: str = "ok"  # ok | partial | failed
    error: str | None = None
    queries: list[str] = field(default_factory=list)
    requested: int = 0  # records the source said it had (when known)
    stopped: str | None = None  # why the source stopped early: "not answering" (circuit open) | "time budget"
    skipped_queries: int = 0  # planned queries never sent because it stopped early
    # local sources: how dense (semantic) scores were computed (`LocalSource.dense_info`); None for online ones
    dense: dict | None = None
    added: list[str] = field(default_factory=list)  # local sources: ids of the records only the extra queries found

    def to_dict(self) -> dict:
        out = {"source": self.source, "n_records": len(self.records), "status": self.status,
               "error": self.error, "queries": self.queries, "requested": self.requested,
               "stopped": self.stopped, "skipped_queries": self.skipped_queries}
        if self.dense is not None:
            out["dense"] = self.dense
        if self.added:
            out["added_by_extra_queries"] = len(self.added)
        return out


class Source(Protocol):
    """A searchable source. `search` never raises for source faults: it reports them in the result."""

    name: str

    def search(self, question: str, queries: list[str], limit: int,
               year_range: tuple[int | None, int | None] = (None, None)) -> SourceResult: ...
    # online sources also take `budget=` (seconds for the whole search; see `web.OnlineSource.search`); the local
    # source takes `extra=`, the queries among `queries` that add records without displacing (`sources.local`)
