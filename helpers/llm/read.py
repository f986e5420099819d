"""Reading: the model reads each included paper's abstract for the question and returns a short summary with
verbatim supporting quotes (JSON constrained by a schema). Every quote is checked against its abstract, exactly
or at rapidfuzz similarity >= 95 on whitespace-normalised text; a quote that fails is dropped and counted, and
a quote that passes is kept as the abstract's own words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rapidfuzz import fuzz

from ..records import Paper
from ..text import one_line
from .client import LLMClient, LLMError

QUOTE_MIN_CHARS = 20  # shorter is a phrase, not a supporting statement
QUOTE_MIN_RATIO = 95.0
READ_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "quotes": {"type": "array", "items": {"type": "string"}, "minItems": 0, "maxItems": 3},
    },
    "required": ["summary", "quotes"],
}
SYSTEM = "You read research abstracts for a systematic review. Reply with JSON only."
PROMPT = """Question: {question}

Paper [{ref}]: {title}
Abstract: {abstract}

Reply as JSON:
- "summary": one or two sentences on what this paper says about the question.
- "quotes": up to 3 sentences copied word for word from the abstract that bear on the question."""
MAX_TOKENS = 350


@dataclass
class Reading:
    """One paper as the model read it: the kept quotes (abstract text) and the dropped ones with the reason."""

    paper_id: str
    ref: int
    status: str = "ok"  # ok | failed
    summary: str = ""
    quotes: list[str] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    fault: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def match_quote(quote: str, abstract: str) -> tuple[str | None, str]:
    """(the abstract's own words for `quote`, "") when the quote is in the abstract exactly or at similarity >= 95
    (whitespace-normalised); else (None, the reason)."""
    q, a = one_line(quote).strip(" \"'“”"), one_line(abstract)
    if len(q) < QUOTE_MIN_CHARS:
        return None, f"shorter than {QUOTE_MIN_CHARS} characters"
    if q in a:
        return q, ""
    al = fuzz.partial_ratio_alignment(q, a)
    if al is None or al.score < QUOTE_MIN_RATIO:
        return None, f"not in the abstract (best similarity {0 if al is None else al.score:.0f} < {QUOTE_MIN_RATIO:.0f})"
    start, end = al.dest_start, al.dest_end
    while start > 0 and not a[start - 1].isspace():  # whole words of the abstract
        start -= 1
    while end < len(a) and not a[end].isspace():
        end += 1
    span = a[start:end].strip()
    if fuzz.ratio(q, span) < QUOTE_MIN_RATIO:
        return None, f"not in the abstract (similarity {fuzz.ratio(q, span):.0f} < {QUOTE_MIN_RATIO:.0f})"
    return span, ""


def check_quotes(quotes: list, abstract: str) -> tuple[list[str], list[dict]]:
    """(kept quotes as the abstract's words, no duplicates; dropped quotes with their reasons)."""
    kept, dropped = [], []
    for quote in quotes:
        if not isinstance(quote, str):
            dropped.append({"quote": str(quote)[:200], "reason": "not text"})
            continue
        span, reason = match_quote(quote, abstract)
        if span is None:
            dropped.append({"quote": quote[:400], "reason": reason})
        elif span not in kept:
            kept.append(span)
    return kept, dropped


def read_paper(client: LLMClient, question: str, paper: Paper, ref: int) -> Reading:
    """The model's reading of one abstract, its quotes checked; a fault is recorded on the reading."""
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": PROMPT.format(question=question, ref=ref, title=one_line(paper.title),
                                                          abstract=one_line(paper.abstract))}]
    out = Reading(paper.id, ref)
    try:
        data = client.chat_json(messages, READ_SCHEMA, MAX_TOKENS)
    except LLMError as exc:
        out.status, out.fault = "failed", {"kind": exc.kind, "message": exc.message}
        return out
    quotes = data.get("quotes") if isinstance(data.get("quotes"), list) else []
    out.summary = one_line(data["summary"]) if isinstance(data.get("summary"), str) else ""
    out.quotes, out.dropped = check_quotes(quotes, paper.abstract)
    return out


def read_papers(client: LLMClient, question: str, papers: list[Paper], refs: dict[str, int],
                progress: bool = True) -> list[Reading]:
    """Each paper read in turn, with a progress bar; after the server is found down, the rest fail at once."""
    from tqdm.auto import tqdm

    return [read_paper(client, question, p, refs[p.id])
            for p in tqdm(papers, desc="LLM reading papers", unit="paper", disable=not progress)]
