"""Reported quantities: the numbers that answer an open or how-large question (a speed-up, an accuracy change,
a memory saving), each kept with its unit, metric, direction, method, condition, paper and sentence.

Extraction is pattern-based over the question-focused evidence sentences (arXiv's LaTeX such as `$2.3\\times$`
and `49\\%` is read as 2.3x and 49%). Quantities are comparable when they share a metric and a unit; those are
summarised across papers (count, min / median / max).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from statistics import median

import pandas as pd

# (metric, pattern) in order of precedence: the first that names the number's clause wins
METRICS: list[tuple[str, re.Pattern]] = [(m, re.compile(p, re.I)) for m, p in (
    ("pass@k", r"pass@\s?\d+"),
    ("speed-up", r"speed-?ups?|\bspeed\b|speed-|faster|accelerat\w*|acceleration"),
    ("throughput", r"throughput|tokens?\s*(per (second|forward pass|step)|/\s?s)|tok/s|requests per second"),
    ("latency", r"latency|time[- ]to[- ]first[- ]token|ttft|inference time|wall[- ]clock|run-?time|decoding time"),
    ("memory", r"memory|footprint|vram|kv[- ]cache size|storage"),
    ("compression", r"compress\w*|model size|size reduction|smaller"),
    ("energy / cost", r"energy|cost|flops|compute|gpu hours"),
    ("accuracy", r"accuracy|correctness"),
    ("F1", r"\bf1\b|f-score"),
    ("exact match", r"exact[- ]match|\bem\b"),
    ("win rate", r"win[- ]rate"),
    ("perplexity", r"perplexity|\bppl\b"),
    ("agreement", r"agreement|correlation|kappa|spearman|pearson|concordance"),
    ("error rate", r"error rate|hallucination rate|\bwer\b|failure rate"),
    ("score", r"score|performance|quality|bleu|rouge"),
)]
INCREASE = re.compile(r"\b(increas\w*|improv\w*|gain\w*|boost\w*|higher|more|up to|faster|outperform\w*|raise\w*|"
                      r"rise[sn]?|rising|grow\w*|better)\b", re.I)
DECREASE = re.compile(r"\b(reduc\w*|decreas\w*|drop\w*|lower\w*|degrad\w*|loss|los\w+|fewer|less|cut\w*|sav\w+|"
                      r"slower|declin\w*|hurt\w*|worse)\b", re.I)
_LATEX = [(re.compile(r"\\times|\\texttimes"), "×"), (re.compile(r"\\%"), "%"), (re.compile(r"\$|\\,|\\!|~"), " "),
          (re.compile(r"\\(approx|sim)"), "~"), (re.compile(r"\\[a-zA-Z]+\{([^}]*)\}"), r"\1")]
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                "twice": 2}
_QUANTITY = re.compile(
    r"(?:(?<![\w.])(?P<sign>[+\-−])\s?)?(?P<num>\d+(?:[.,]\d+)?|two|three|four|five|six|seven|eight|nine|ten)\s?(?P<unit>×|x\b|times\b|%|percent\b|percentage points?\b|"
    r"pp\b|points?\b|tokens?/sec\b|tokens?/s\b|tok/s\b|ms\b|GB\b|MB\b|s\b)", re.I)
_METHOD = re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9-]*|[A-Z][a-z]+[A-Z][A-Za-z0-9-]*)\s+(?:\([^)]*\)\s+)?"
                     r"(?:achieves?|outperforms?|reduces?|improves?|reaches|delivers?|yields?|attains?|obtains?|"
                     r"provides?|enables?|accelerates?|speeds? up|is|has|consistently|also|can|further)\b")
_CONDITION = re.compile(r"\b(?:on|across|for|with|at|under)\s+((?:[A-Z0-9][\w@.+-]*|comparable \w+|the same \w+|"
                        r"\w+ accuracy|no \w+ loss)(?:[ ,/]+(?:and\s+)?[A-Z0-9][\w@.+-]*){0,3})")
UNITS = {"tokens/sec": "tokens/s", "token/sec": "tokens/s", "token/s": "tokens/s", "x": "×", "times": "×", "×": "×", "%": "%", "percent": "%", "percentage point": "pp",
         "percentage points": "pp", "pp": "pp", "point": "points", "points": "points"}
NOT_METHODS = frozenset("LLM LLMs GPU GPUs CPU AI NLP ML RL SOTA API APIs KV".split())


@dataclass
class Quantity:
    """One reported number."""

    value: float
    unit: str  # ×, %, pp, points, tokens/s, ms, s, GB, MB
    metric: str
    direction: str  # increase | decrease | ""
    bound: str  # "up to" | "at least" | ""
    method: str
    condition: str
    paper_id: str
    sentence_index: int
    sentence: str
    sub_question: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def plain(text: str) -> str:
    """arXiv LaTeX made readable for extraction (the claims themselves stay exact)."""
    for pattern, repl in _LATEX:
        text = pattern.sub(repl, text)
    return re.sub(r"\s+", " ", text)


_BOUNDARY = re.compile(r"[,;:()]|\b(?:while|whereas|but|and|and also)\b")


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around a span: from the previous to the next comma, semicolon, 'while', 'and', ... ."""
    lefts = [m.end() for m in _BOUNDARY.finditer(text, 0, start)]
    right = _BOUNDARY.search(text, end)
    return (lefts[-1] if lefts else 0), (right.start() if right else len(text))


def _metric(text: str, start: int, end: int) -> str:
    """The metric nearest the number within its clause (words after it first: "37% higher throughput"), else
    within 60 characters either side."""
    lo, hi = _clause(text, start, end)
    for a, b in ((lo, hi), (max(0, start - 60), min(len(text), end + 40))):
        found = [(m.start() - end if m.start() >= end else start - m.end() + 8, name)
                 for name, pat in METRICS for m in pat.finditer(text, a, b)]
        if found:
            return min(found)[1]
    return ""


def quantities(sentence: str, paper_id: str = "", sentence_index: int = 0, sub_question: str = "") -> list[Quantity]:
    """Every number with a unit in `sentence` that names a metric in its clause (years, counts and model sizes
    without a metric are left out)."""
    text = plain(sentence)
    out = []
    for m in _QUANTITY.finditer(text):
        unit = UNITS.get(m.group("unit").lower(), m.group("unit"))
        if unit == "s" and not re.search(r"\d\s?s\b(?!\w)", m.group(0)):
            continue
        lo, hi = _clause(text, m.start(), m.end())
        clause = text[lo:hi]
        window = text[max(0, m.start() - 60): m.end() + 40]
        metric = _metric(text, m.start(), m.end())
        if not metric:
            continue
        if unit == "×" and metric in ("throughput", "latency"):
            metric = "speed-up"  # "7.2x throughput", "3x lower latency": the same measure as a speed-up
        elif unit == "×" and metric in ("accuracy", "score"):
            metric = "speed-up" if re.search(r"fast|speed|throughput|accelerat", window, re.I) else metric
        before = text[max(0, m.start() - 40): m.start()]
        bound = "up to" if re.search(r"up to\s*$|as much as\s*$", before, re.I) else \
            "at least" if re.search(r"(at least|over|more than)\s*$", before, re.I) else ""
        sign = (m.group("sign") or "").strip()
        num = m.group("num").lower()
        value = float(NUMBER_WORDS.get(num, 0) or num.replace(",", "."))
        up, down = INCREASE.search(clause), DECREASE.search(clause)
        direction = "decrease" if sign in ("-", "−") else "increase" if sign == "+" else \
            "decrease" if down and (not up or down.start() < up.start()) else "increase" if up else ""
        if metric == "speed-up" and not direction:
            direction = "increase"  # a speed-up is an increase in speed, whatever the sentence's verbs
        methods = [x for x in _METHOD.findall(text) if x not in NOT_METHODS and not x.isdigit()]
        cond = _CONDITION.search(text, m.end())
        condition = cond.group(1).strip(" ,") if cond and cond.start() - m.end() < 60 else ""
        out.append(Quantity(value, unit, metric, direction, bound, methods[0] if methods else "",
                            condition, paper_id, sentence_index, sentence, sub_question))
    return out


FINDINGS_COLUMNS = ["sub_question", "paper_id", "sentence_index", "metric", "direction", "bound", "value", "unit",
                    "method", "condition", "sentence"]


def table(found: list[Quantity]) -> pd.DataFrame:
    """findings.csv: one row per reported quantity."""
    return pd.DataFrame([q.to_dict() for q in found], columns=FINDINGS_COLUMNS)


def summary(found: list[Quantity]) -> list[dict]:
    """Comparable quantities (same metric, unit and direction) across papers: count, papers, min / median / max.
    A group holds one value per paper (its largest), so one paper's many numbers do not outweigh the others."""
    groups: dict[tuple[str, str, str], dict[str, float]] = {}
    for q in found:
        key = (q.metric, q.unit, q.direction)
        per_paper = groups.setdefault(key, {})
        per_paper[q.paper_id] = max(per_paper.get(q.paper_id, q.value), q.value)
    out = []
    for (metric, unit, direction), per_paper in groups.items():
        vals = sorted(per_paper.values())
        out.append({"metric": metric, "unit": unit, "direction": direction, "papers": len(per_paper),
                    "papers_ids": sorted(per_paper), "min": vals[0], "median": median(vals), "max": vals[-1]})
    return sorted(out, key=lambda g: (-g["papers"], g["metric"]))
