"""The CSV files a person opens in a spreadsheet: papers.csv, claims.csv, claims_rejected.csv and references.csv.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or their full-width forms), a tab or a carriage return
can be run as a formula by Excel, LibreOffice or Google Sheets (CSV injection). Following OWASP's advice, such a
cell is written with a leading apostrophe, which makes a spreadsheet treat it as text. Numbers are left as they
are (``-0.5`` is a number, not a formula). A text that already starts with an apostrophe followed by one of those
characters, or by a second apostrophe, gets one more apostrophe. That keeps the change reversible: `read_csv`
restores every value exactly, so what one stage writes is what the next stage reads. Quoting is pandas' own
(``csv.QUOTE_MINIMAL``: a cell with a comma, quote or line break is quoted, quotes doubled).
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_ESCAPED = (*FORMULA_START, "'")


def neutralise(value: str) -> str:
    """A cell's text as written: a leading apostrophe when a spreadsheet could read it as a formula."""
    if value.startswith(FORMULA_START) or (value.startswith("'") and value[1:].startswith(_ESCAPED)):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The text `neutralise` was given (the inverse: one leading apostrophe it added removed)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_ESCAPED) else value


def _map_text(df: pd.DataFrame, fn) -> pd.DataFrame:
    """`fn` applied to every text cell; columns with nothing to change are left untouched (dtypes kept)."""
    out = df
    for col in df.columns:
        values = list(df[col])
        mapped = [fn(v) if isinstance(v, str) else v for v in values]
        if mapped != values:
            out = out.copy() if out is df else out
            out[col] = pd.Series(mapped, index=df.index, dtype=object)
    return out


def to_csv(df: pd.DataFrame) -> str:
    """`df` as CSV text for a spreadsheet, formula-like text cells neutralised."""
    out = _map_text(df, neutralise)
    # The csv module quotes a cell for the characters of the line terminator only; a carriage return inside a
    # cell (normalised record text has none) would split its row unless lines end with CRLF.
    has_cr = any(isinstance(v, str) and "\r" in v for col in out.columns for v in out[col])
    return out.to_csv(index=False, lineterminator="\r\n" if has_cr else "\n")


def read_csv(path, **kwargs) -> pd.DataFrame:
    """A CSV written by `to_csv` (a path or file), every text cell restored; empty cells stay empty strings.
    Keyword arguments go to `pandas.read_csv` (``dtype=str`` reads every cell as the text written)."""
    return _map_text(pd.read_csv(path, keep_default_na=False, **kwargs), restore)
