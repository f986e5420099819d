"""Hostile text for the export tests: a fixed list of strings, hypothesis strategies around them, and the checks
every output must pass (no control or bidi character, no live markup from record text)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# The same examples on every run (reproducible in CI), no example database written into the checkout.
settings.register_profile("workbench", database=None, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("workbench")

# Every executable payload carries "PWN", every injected element is a <pwn-...> tag: the HTML check looks for them.
HOSTILE = [
    "<script>window.PWN=1</script>",
    '<img src=x onerror="window.PWN=2"><pwn-img>',
    '<a href="javascript:window.PWN=3">click</a> <svg onload=window.PWN=4><pwn-svg>',
    "[a link](javascript:window.PWN=5) ![an image](http://pwn.example/PWN.png) <javascript:window.PWN=6>",
    "{{ 7*7 }} {% if PWN %}x{% endif %} ${7*7} %(title)s %s {0}",
    "} @article{forged, title={PWN}, author={Mallory}} @comment{",
    "\\input{/etc/passwd} \\write18{touch PWN} $\\alpha$ ~ ^ # & % _",
    "first line\nTY  - JOUR\nTI  - Forged record PWN\nER  - \n",
    '=HYPERLINK("http://pwn.example","PWN")',
    "+1+1 PWN",
    "-2+3 PWN",
    "@SUM(1+1) PWN",
    "NUL\x00byte \x07bell \x1b[31mred\x1b[0m \x85NEL \x9bCSI",
    "\u202eright-to-left override\u202c \u2067isolate\u2069 \u202aembedding\u202c",
    "carriage\r\nreturn\rline\u2028separator\u2029paragraph\x0bvt\x0cff",
    "tab\there, \"double\" 'single', comma; semicolon | pipe * star _ under",
    "Cafe\u0301 (decomposed) Ångström \ud800 lone surrogate",
    "Robert'); DROP TABLE papers;--",
]
LONG = "very long " * 800  # 8,000 characters
# What may never appear in any output file (text.normalise removes them at the edge).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

# Text as it might arrive: anything, weighted towards the hostile strings and the characters they are made of.
_NASTY_CHARS = st.sampled_from(list("\x00\t\n\r\x0b\x85\u2028\u202e\u2066{}\\@%$#&_~^\"',;=+-<>[]()|*` ")
                               + ["\ud800", "e\u0301", " and ", "TY  - ", "\nER  - "])
TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(_NASTY_CHARS, st.text(max_size=5)), max_size=25).map("".join),
    st.sampled_from(HOSTILE + ["", " ", LONG]),
)


def forbidden_in(path: Path) -> list[str]:
    """The forbidden characters in one output file (binary figures are not text and are skipped)."""
    if path.suffix == ".png":
        return []
    return sorted(set(FORBIDDEN.findall(path.read_text(encoding="utf-8", errors="surrogateescape"))))


class _LiveMarkup(HTMLParser):
    """Collects what in an HTML page came from record text as markup rather than as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag.startswith("pwn-"):
            self.found.append(f"<{tag}> element")
        for name, value in attrs:
            if "PWN" in (value or "") or "PWN" in name:
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            kind = dict(attrs).get("type") or ""
            self._script = "" if "json" not in kind else None  # JSON data blocks hold text, not code

    def handle_data(self, data):
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            if "PWN" in self._script:
                self.found.append(f"<script> running {self._script[:60]!r}")
            self._script = None


def live_markup(html: str) -> list[str]:
    """Elements, attributes and scripts in `html` that carry a hostile payload (empty: all of it is inert text)."""
    parser = _LiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found
