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


_URL_ATTRS = {"href", "src", "srcset", "action", "formaction", "xlink:href", "data", "poster", "background"}
_LOADING = {"img", "iframe", "frame", "svg", "object", "embed", "video", "audio", "source", "link", "image", "use"}


class _LiveMarkup(HTMLParser):
    """Collects what in an HTML page came from record text as live markup: an injected element, an event handler,
    a script, a link to anything but a web address (``javascript:``), anything that loads by itself. Record text
    may show up in inert places: an element's text, a heading's anchor id, a plain http(s) link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag.startswith("pwn-"):
            self.found.append(f"<{tag}> element")
        for name, value in attrs:
            value = value or ""
            if "PWN" not in value and "PWN" not in name:
                continue
            web_link = tag == "a" and name == "href" and re.match(r"(https?://|#)", value.strip(), re.I)
            if name.startswith("on") or name == "style" or (name in _URL_ATTRS and not web_link) \
                    or tag in _LOADING or "PWN" in name:
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


# -- a corpus of real arXiv abstracts with hostile text added, run through the whole pipeline --------------------

HOSTILE_QUESTION = ("Does speculative decoding speed up large language model inference <script>window.PWN=7</script>"
                    " without changing output \u202eytilauq\u202c?")
FORMULA_CLAIM = ('=HYPERLINK("http://pwn.example","PWN") We show that speculative decoding achieves a 2.5x speedup '
                 "without any loss in output quality.")
N_NORMAL = 4  # the first speculative-decoding papers stay as they are: normal records in the same run


def build_hostile_corpus(path: Path) -> Path:
    """The fixture corpus (72 real arXiv abstracts) with hostile text added to the titles, abstracts and author
    names of its speculative-decoding papers (one per hostile string, then an empty title and very long strings);
    written as JSON with escapes, as an API would send it (NUL, lone surrogates)."""
    import json

    from tests.fixture_corpus import build_fixture_corpus

    lines = build_fixture_corpus(path.with_name("fixture-source.jsonl")).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    targets = [r for r in records if "speculative decoding" in r["title"].lower()][N_NORMAL:]
    extras = [None, LONG]  # None: an empty title
    for i, rec in enumerate(targets):
        k = i % (len(HOSTILE) + len(extras))
        h = HOSTILE[k] if k < len(HOSTILE) else extras[k - len(HOSTILE)]
        other = HOSTILE[(k + 5) % len(HOSTILE)]
        rec["title"] = "\x00 \u202e\n " if h is None else f"{h} {rec['title']}"
        rec["abstract"] = f"{other}\n{rec['abstract']} {h or ''}"
        rec["authors"] = [f"{h or ''} {rec['authors'][0]}", "Smith and Jones", other, *rec["authors"][1:]]
        if k == 0:
            rec["abstract"] = f"{FORMULA_CLAIM} {rec['abstract']}"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path
