"""PRISMA 2020 flow counts (which must add up) and the flow-diagram figure."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field


@dataclass
class PrismaCounts:
    identified_per_source: dict[str, int]
    duplicates_removed: int
    excluded_automation: dict[str, int]  # reason category -> count
    excluded_reviewer: dict[str, int] = field(default_factory=dict)
    included: int = 0
    failed_sources: dict[str, str | None] = field(default_factory=dict)
    partial_sources: dict[str, str | None] = field(default_factory=dict)
    missing_records: int = 0  # records failed/partial sources said they had but did not deliver
    missing_unknown: list[str] = field(default_factory=list)  # failed sources whose missing count is unknown

    @property
    def identified(self) -> int:
        return sum(self.identified_per_source.values())

    @property
    def screened(self) -> int:
        return self.identified - self.duplicates_removed

    def check(self) -> None:
        """Raise if the flow does not add up (screened = excluded + included)."""
        excluded = sum(self.excluded_automation.values()) + sum(self.excluded_reviewer.values())
        if self.screened != excluded + self.included:
            raise ValueError(
                f"PRISMA counts do not add up: screened {self.screened} != excluded {excluded} + included {self.included}"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(identified=self.identified, screened=self.screened,
                 excluded_automation_total=sum(self.excluded_automation.values()),
                 excluded_reviewer_total=sum(self.excluded_reviewer.values()))
        return d


def reason_category(reason: str) -> str:
    """Collapse a per-record reason to its category ("relevance 0.21 below ..." -> "relevance below threshold")."""
    for prefix, cat in (("relevance", "relevance below threshold"), ("does not mention", "missing inclusion keywords"),
                        ("beyond max_papers", "beyond max_papers (lower ranked)"), ("outside year", "outside year range"),
                        ("exclusion keyword", "exclusion keyword"), ("survey", "survey or review"),
                        ("no abstract", "no abstract available")):
        if reason.startswith(prefix):
            return cat
    return reason


def count(identified_per_source: dict[str, int], duplicates_removed: int, decisions: list[dict],
          failed_sources: dict[str, str | None] | None = None, partial_sources: dict[str, str | None] | None = None,
          missing_records: int = 0, missing_unknown: list[str] | None = None) -> PrismaCounts:
    """Build checked counts from per-record decisions (dicts with `decision`, `reason`, `excluded_by`)."""
    auto: Counter[str] = Counter()
    reviewer: Counter[str] = Counter()
    included = 0
    for d in decisions:
        if d["decision"] == "included":
            included += 1
        elif d.get("excluded_by") == "reviewer":
            reviewer[d.get("reason") or "excluded by reviewer"] += 1
        else:
            auto[reason_category(d.get("reason", ""))] += 1
    counts = PrismaCounts(dict(identified_per_source), duplicates_removed, dict(auto), dict(reviewer), included,
                          dict(failed_sources or {}), dict(partial_sources or {}), missing_records,
                          list(missing_unknown or []))
    counts.check()
    return counts


def figure(counts: PrismaCounts):
    """A PRISMA 2020-style flow diagram (matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6.5))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)

    def box(x, y, w, h, text, color="#eef3fb"):
        ax.add_patch(plt.Rectangle((x, y), w, h, facecolor=color, edgecolor="#33506e", linewidth=1.2))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5, wrap=True)

    def arrow(x1, y1, x2, y2):
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1), arrowprops=dict(arrowstyle="->", color="#33506e"))

    src_lines = "\n".join(f"{s}: {n}" + (" (FAILED)" if s in counts.failed_sources else
                                          " (PARTIAL)" if s in counts.partial_sources else "")
                          for s, n in counts.identified_per_source.items())
    if counts.missing_records or counts.missing_unknown:
        src_lines += f"\nnot retrieved: {counts.missing_records}" + (" + unknown" if counts.missing_unknown else "")
    for s in counts.failed_sources:
        if s not in counts.identified_per_source:
            src_lines += f"\n{s}: 0 (FAILED)"
    box(0.3, 7.4, 4.6, 2.2, f"Records identified (n = {counts.identified})\n{src_lines}")
    box(5.6, 7.4, 4.1, 2.2, f"Removed before screening:\nduplicates (n = {counts.duplicates_removed})", "#f7f3e8")
    arrow(4.9, 8.5, 5.6, 8.5)
    box(0.3, 4.3, 4.6, 2.2, f"Records screened\n(n = {counts.screened})")
    arrow(2.6, 7.4, 2.6, 6.5)
    auto = "\n".join(f"{k}: {v}" for k, v in sorted(counts.excluded_automation.items(), key=lambda kv: -kv[1]))
    rev = sum(counts.excluded_reviewer.values())
    text = f"Excluded by automation (n = {sum(counts.excluded_automation.values())})\n{auto}"
    text += f"\nExcluded by reviewer (n = {rev})"
    box(5.6, 3.9, 4.1, 3.0, text, "#f7f3e8")
    arrow(4.9, 5.4, 5.6, 5.4)
    box(0.3, 1.0, 4.6, 1.8, f"Studies included in synthesis\n(n = {counts.included})", "#e6f4ea")
    arrow(2.6, 4.3, 2.6, 2.8)
    for y, label in ((8.5, "Identification"), (5.4, "Screening"), (1.9, "Included")):
        ax.text(0.05, y, label, rotation=90, ha="center", va="center", fontsize=9, color="#33506e", weight="bold")
    fig.tight_layout()
    return fig
