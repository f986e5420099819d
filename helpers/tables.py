"""Tables for reading in JupyterLab: the long text columns (claims, sentences, titles) get the width,
left-aligned and wrapped; short columns stay narrow and unwrapped. Every cell is HTML-escaped."""

from __future__ import annotations

import hashlib

import pandas as pd

TEXT_COLUMNS = ("claim", "sentence", "text", "title", "quote", "reason", "question", "exclusion_reason")


def text_table(df: pd.DataFrame, text_columns: tuple[str, ...] | list[str] | None = None, digits: int = 2):
    """A pandas Styler of `df` with its text columns wide (min 28em) and wrapped, the others narrow."""
    wide = [c for c in (text_columns or TEXT_COLUMNS) if c in df.columns]
    narrow = [c for c in df.columns if c not in wide]
    styler = df.style.hide(axis="index").format(precision=digits, escape="html")  # paper text stays text
    # the CSS id comes from the table itself, not pandas' random one, so that two runs render the same
    styler = styler.set_uuid(hashlib.sha1(repr((list(df.columns), df.shape, df.to_string(max_rows=20)))
                                          .encode("utf-8")).hexdigest()[:10])
    styler = styler.set_table_styles([
        {"selector": "th", "props": "text-align: left; vertical-align: bottom; white-space: nowrap;"},
        {"selector": "td", "props": "text-align: left; vertical-align: top;"},
    ])
    if wide:
        styler = styler.set_properties(subset=wide, **{"white-space": "normal", "min-width": "28em",
                                                       "max-width": "60em", "word-break": "normal"})
    if narrow:
        styler = styler.set_properties(subset=narrow, **{"white-space": "nowrap", "width": "1%"})
    return styler


def sub_questions_frame(analysis) -> pd.DataFrame:
    """One row per sub-question: id, kind, role, text and its facets (each by its phrase)."""
    return pd.DataFrame([{"id": s.id, "kind": s.kind, "role": s.role, "question": s.text,
                          "facets": "; ".join(f[0] for f in s.facets)} for s in analysis.sub_questions],
                        columns=["id", "kind", "role", "question", "facets"])


def stances_frame(stances: dict, titles: dict[str, str]) -> pd.DataFrame:
    """stance.json as a table: sub-question, paper, stance, confidence, title."""
    rows = [{"sub_question": q, "paper_id": pid, "stance": st["label"], "confidence": st["confidence"],
             "title": titles.get(pid, "")} for q, by in stances.items() for pid, st in by.items()]
    return pd.DataFrame(rows, columns=["sub_question", "paper_id", "stance", "confidence", "title"])
