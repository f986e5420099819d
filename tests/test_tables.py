"""Notebook tables: paper text is escaped, text columns are wide, and two runs render the same HTML."""

import re

import pandas as pd

from helpers.tables import text_table


def _frame(claim: str = "Speculative decoding gives a 2.5x speed-up.") -> pd.DataFrame:
    return pd.DataFrame({"claim_id": ["c1"], "claim": [claim], "confidence": [0.8123]})


def test_paper_text_is_escaped_not_rendered():
    html = text_table(_frame("<script>alert(1)</script> & <b>bold</b>")).to_html()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_text_columns_are_wide_and_numbers_rounded():
    html = text_table(_frame()).to_html()
    assert "min-width: 28em" in html and "0.81" in html and "0.8123" not in html


def test_the_same_table_renders_the_same_html_twice():
    """pandas gives each Styler a random CSS id; ours comes from the table, so re-runs compare equal."""
    assert text_table(_frame()).to_html() == text_table(_frame()).to_html()
    ids = {re.search(r'id="T_([0-9a-z]+)"', text_table(_frame(c)).to_html()).group(1) for c in ("a", "b")}
    assert len(ids) == 2  # two different tables in one notebook keep separate styles
