"""ipywidgets review panels for JupyterLab: claims (accept / reject / relabel) and screening (include / exclude).

Every click is appended at once to `params/reviews/<slug>.jsonl` (see `helpers.review.decisions`); nothing is kept only
in the widget. The panels are plain classes so tests can drive their callbacks (`button.click()`, `.value = ...`).
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as w
import pandas as pd

from ..outputs import load_records, read_jsonl
from ..records import LABELS, Paper
from ..text import paper_sentences
from . import decisions as reviews

QUICK_KEYS = {"a": ("accept", None), "r": ("reject", None), "s": ("relabel", "SUPPORTS"),
              "f": ("relabel", "REFUTES"), "n": ("relabel", "NOT ENOUGH INFO")}


def highlight(sentences: list[str], index: int) -> str:
    """The abstract as HTML with the claim's sentence marked; all text escaped."""
    parts = []
    for i, s in enumerate(sentences):
        t = html.escape(s)
        parts.append(f"<mark>{t}</mark>" if i == index else t)
    return " ".join(parts)


class ClaimsPanel:
    """A filterable, paginated claims table with accept / reject / relabel, a note and quick keys."""

    def __init__(self, slug: str, out_dir: Path, page_size: int = 5, reviews_file: Path | None = None) -> None:
        self.slug, self.out_dir, self.page_size, self.reviews_file = slug, Path(out_dir), page_size, reviews_file
        rows = read_jsonl(self.out_dir / "claims.jsonl")
        self.claims = pd.DataFrame(rows)
        self.papers = {r["id"]: Paper.from_dict(r) for r in load_records(self.out_dir)}
        self.page = 0
        self.current: str | None = None
        self.label_filter = w.Dropdown(options=["all", *LABELS], value="all", description="Label")
        self.min_conf = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="Min conf.")
        self.paper_filter = w.Dropdown(options=["all", *sorted(self.claims["paper_id"].unique())] if len(self.claims) else ["all"],
                                       value="all", description="Paper")
        self.status_filter = w.Dropdown(options=["all", "pending", "decided"], value="all", description="Status")
        self.prev_btn = w.Button(description="◀ Prev", tooltip="previous page")
        self.next_btn = w.Button(description="Next ▶", tooltip="next page")
        self.page_label = w.HTML()
        self.summary = w.HTML()
        self.quick = w.Text(placeholder="quick keys for the highlighted claim: a accept, r reject, s/f/n relabel "
                                        "SUPPORTS/REFUTES/NEI, then Enter", continuous_update=False,
                            layout=w.Layout(width="70%"))
        self.rows_box = w.VBox()
        self.controls: dict[str, dict[str, w.Widget]] = {}
        for f in (self.label_filter, self.min_conf, self.paper_filter, self.status_filter):
            f.observe(lambda _: self._goto(0), names="value")
        self.prev_btn.on_click(lambda _: self._goto(self.page - 1))
        self.next_btn.on_click(lambda _: self._goto(self.page + 1))
        self.quick.observe(self._on_quick, names="value")
        self.widget = w.VBox([
            w.HBox([self.label_filter, self.min_conf]), w.HBox([self.paper_filter, self.status_filter]),
            self.summary, self.quick, self.rows_box, w.HBox([self.prev_btn, self.page_label, self.next_btn]),
        ])
        self._goto(0)

    # -- state --------------------------------------------------------------------------------------
    def decisions(self) -> dict[str, reviews.ReviewDecision]:
        return {i: d for (k, i), d in reviews.latest(self.slug, self.reviews_file).items() if k == "claim"}

    def filtered(self) -> pd.DataFrame:
        df = self.claims
        if not len(df):
            return df
        if self.label_filter.value != "all":
            df = df[df["label"] == self.label_filter.value]
        df = df[df["confidence"].astype(float) >= self.min_conf.value]
        if self.paper_filter.value != "all":
            df = df[df["paper_id"] == self.paper_filter.value]
        decided = set(self.decisions())
        if self.status_filter.value == "pending":
            df = df[~df["claim_id"].isin(decided)]
        elif self.status_filter.value == "decided":
            df = df[df["claim_id"].isin(decided)]
        return df

    def decide(self, claim_id: str, decision: str, label: str | None = None, note: str = "") -> reviews.ReviewDecision:
        """Record one decision (appended to the reviews file immediately) and refresh the view."""
        dec = reviews.append(self.slug, reviews.ReviewDecision("claim", claim_id, decision, label, note),
                             self.reviews_file)
        self._refresh_summary()
        self._render_rows()
        return dec

    # -- view ---------------------------------------------------------------------------------------
    def _goto(self, page: int) -> None:
        n_pages = max(1, -(-len(self.filtered()) // self.page_size))
        self.page = max(0, min(page, n_pages - 1))
        self.page_label.value = f"&nbsp;page {self.page + 1} of {n_pages}&nbsp;"
        self._refresh_summary()
        self._render_rows()

    def _refresh_summary(self) -> None:
        d = self.decisions()
        ids = set(self.claims["claim_id"]) if len(self.claims) else set()
        counts = {k: sum(1 for i, x in d.items() if i in ids and x.decision == k) for k in ("accept", "reject", "relabel")}
        reviewed = sum(counts.values())
        self.summary.value = (f"<b>Reviewed {reviewed} of {len(ids)}</b> claims — accepted {counts['accept']}, "
                              f"rejected {counts['reject']}, relabelled {counts['relabel']}; {len(ids) - reviewed} pending.")

    def _render_rows(self) -> None:
        page = self.filtered().iloc[self.page * self.page_size:(self.page + 1) * self.page_size]
        decided = self.decisions()
        self.controls = {}
        rows = []
        for _, c in page.iterrows():
            cid = c["claim_id"]
            paper = self.papers.get(c["paper_id"])
            sents = paper_sentences(paper) if paper else [c["claim"]]
            evidence = "".join(
                f"<li>{html.escape(e['paper_id'])} — <b>{html.escape(e['label'])}</b> {e['confidence']:.2f}: "
                f"“{html.escape(e['text'])}”</li>" for e in (c.get("evidence") or []))
            state = decided.get(cid)
            status = (f"<span style='color:#2f6db5'>decided: {html.escape(state.decision)}"
                      f"{' → ' + html.escape(state.label) if state.label else ''}</span>" if state else "pending")
            head = w.HTML(
                f"<div style='border-top:1px solid #ccd;padding-top:4px'><b>{html.escape(cid)}</b> · "
                f"<b>{html.escape(c['label'])}</b> ({float(c['confidence']):.2f}) · {status}<br>"
                f"<i>{html.escape(paper.title if paper else c['paper_id'])}</i><br>"
                f"<div style='font-size:90%'>{highlight(sents, int(c['sentence_index']))}</div>"
                f"<div style='font-size:85%'>Evidence from other papers:<ul>{evidence or '<li>none found</li>'}</ul></div></div>")
            accept = w.Button(description="Accept", button_style="success", tooltip="accept the claim as labelled")
            reject = w.Button(description="Reject", button_style="danger", tooltip="drop the claim from the report")
            relabel = w.Dropdown(options=LABELS, value=c["label"], description="Relabel", layout=w.Layout(width="260px"))
            apply = w.Button(description="Apply label", tooltip="set the chosen label")
            note = w.Text(placeholder="note (optional)", layout=w.Layout(width="40%"))
            focus = w.Button(description="Quick keys here", tooltip="make this the claim quick keys act on")
            accept.on_click(lambda _, cid=cid, note=note: self.decide(cid, "accept", note=note.value))
            reject.on_click(lambda _, cid=cid, note=note: self.decide(cid, "reject", note=note.value))
            apply.on_click(lambda _, cid=cid, note=note, rl=relabel: self.decide(cid, "relabel", rl.value, note.value))
            focus.on_click(lambda _, cid=cid: setattr(self, "current", cid))
            self.controls[cid] = {"accept": accept, "reject": reject, "relabel": relabel, "apply": apply,
                                  "note": note, "focus": focus}
            rows.append(w.VBox([head, w.HBox([accept, reject, relabel, apply, focus]), note]))
        if self.current not in self.controls:
            self.current = next(iter(self.controls), None)
        self.rows_box.children = rows

    def _on_quick(self, change) -> None:
        key = (change["new"] or "").strip().lower()
        if not key or key not in QUICK_KEYS or self.current is None:
            return
        decision, label = QUICK_KEYS[key]
        ids = list(self.controls)
        cid = self.current
        self.decide(cid, decision, label)
        pos = ids.index(cid) + 1 if cid in ids else 0
        self.current = ids[pos] if pos < len(ids) else self.current
        self.quick.value = ""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class ScreeningPanel:
    """Include or exclude screened papers with a reason; paginated, filterable by decision."""

    def __init__(self, slug: str, table: pd.DataFrame, page_size: int = 8, reviews_file: Path | None = None) -> None:
        self.slug, self.table, self.page_size, self.reviews_file = slug, table.reset_index(drop=True), page_size, reviews_file
        self.page = 0
        self.decision_filter = w.Dropdown(options=["all", "included", "excluded"], value="included", description="Show")
        self.prev_btn, self.next_btn = w.Button(description="◀ Prev"), w.Button(description="Next ▶")
        self.page_label, self.summary, self.rows_box = w.HTML(), w.HTML(), w.VBox()
        self.controls: dict[str, dict[str, w.Widget]] = {}
        self.decision_filter.observe(lambda _: self._goto(0), names="value")
        self.prev_btn.on_click(lambda _: self._goto(self.page - 1))
        self.next_btn.on_click(lambda _: self._goto(self.page + 1))
        self.widget = w.VBox([self.decision_filter, self.summary, self.rows_box,
                              w.HBox([self.prev_btn, self.page_label, self.next_btn])])
        self._goto(0)

    def filtered(self) -> pd.DataFrame:
        if self.decision_filter.value == "all":
            return self.table
        return self.table[self.table["decision"] == self.decision_filter.value]

    def decide(self, paper_id: str, decision: str, reason: str = "") -> reviews.ReviewDecision:
        dec = reviews.append(self.slug, reviews.ReviewDecision("paper", paper_id, decision, None, reason),
                             self.reviews_file)
        self._render()
        return dec

    def _goto(self, page: int) -> None:
        n_pages = max(1, -(-len(self.filtered()) // self.page_size))
        self.page = max(0, min(page, n_pages - 1))
        self.page_label.value = f"&nbsp;page {self.page + 1} of {n_pages}&nbsp;"
        self._render()

    def _render(self) -> None:
        decided = {i: d for (k, i), d in reviews.latest(self.slug, self.reviews_file).items() if k == "paper"}
        self.summary.value = f"<b>{len(decided)}</b> paper decisions recorded (applied on the next run)."
        page = self.filtered().iloc[self.page * self.page_size:(self.page + 1) * self.page_size]
        rows, self.controls = [], {}
        for _, p in page.iterrows():
            pid = p["id"]
            d = decided.get(pid)
            state = f" · <span style='color:#2f6db5'>you: {html.escape(d.decision)}</span>" if d else ""
            head = w.HTML(f"<b>{html.escape(str(p['title']))}</b> ({p['year']}) · relevance {float(p['relevance']):.2f} · "
                          f"{html.escape(p['decision'])}{' — ' + html.escape(str(p['exclusion_reason'])) if p['exclusion_reason'] else ''}{state}")
            reason = w.Text(placeholder="reason (required to exclude)", layout=w.Layout(width="45%"))
            inc = w.Button(description="Include", button_style="success")
            exc = w.Button(description="Exclude", button_style="danger")
            inc.on_click(lambda _, pid=pid, r=reason: self.decide(pid, "include", r.value))
            exc.on_click(lambda _, pid=pid, r=reason: self.decide(pid, "exclude", r.value or "no reason given"))
            self.controls[pid] = {"include": inc, "exclude": exc, "reason": reason}
            rows.append(w.VBox([head, w.HBox([inc, exc, reason])]))
        self.rows_box.children = rows

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def claims_panel(slug: str, out_dir: Path, **kw) -> ClaimsPanel:
    return ClaimsPanel(slug, out_dir, **kw)


def screening_panel(slug: str, table: pd.DataFrame, **kw) -> ScreeningPanel:
    return ScreeningPanel(slug, table, **kw)
