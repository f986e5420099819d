"""The LLM answer stage: read the included papers (`read`), write a short cited paragraph per sub-question
from the verified quotes, check every sentence (`check`), and write `llm_answer.json`. Off, or on a fault, the
extractive answer stands alone; what failed, and how much, is recorded for the report's limitations."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..atomic import write_text
from ..outputs import load_analysis, load_json, load_papers, reference_numbers
from ..params import Params
from .check import check_sentences
from .client import LLMClient, LLMError, estimate_tokens, found_down
from .read import read_papers
from .settings import LLMSettings, resolve

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"sentences": {"type": "array", "minItems": 1, "maxItems": 4, "items": {
        "type": "object", "properties": {"text": {"type": "string"},
                                         "cites": {"type": "array", "items": {"type": "integer"}, "minItems": 1}},
        "required": ["text", "cites"]}}},
    "required": ["sentences"],
}
SYSTEM = "You write short answers for a systematic review from quoted evidence only. Reply with JSON only."
PROMPT = """Question: {question}

Evidence, quoted from the papers (the number is the paper's):
{evidence}

Answer the question in 2 to 4 sentences using only this evidence. Reply as JSON: "sentences", a list of
objects with "text" (one sentence) and "cites" (the numbers of the papers whose quotes support it)."""
MAX_TOKENS = 400
MAX_SUB_QUESTIONS = 3


def evidence_block(readings: list[dict], budget_tokens: int) -> tuple[str, int]:
    """The verified quotes as numbered lines, most relevant paper first, as many as fit `budget_tokens`;
    returns the text and how many quotes were left out."""
    lines, used, left_out = [], 0, 0
    for r in readings:
        for q in r["quotes"]:
            line = f'[{r["ref"]}] "{q}"'
            cost = estimate_tokens([{"content": line}]) - 8
            if used + cost > budget_tokens:
                left_out += 1
                continue
            lines.append(line)
            used += cost
    return "\n".join(lines), left_out


def write_answer(client: LLMClient, question: str, evidence: str) -> list[dict]:
    """The model's sentences for one sub-question (raw: text and cites)."""
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": PROMPT.format(question=question, evidence=evidence)}]
    data = client.chat_json(messages, ANSWER_SCHEMA, MAX_TOKENS)
    sentences = data.get("sentences")
    if not isinstance(sentences, list) or not all(isinstance(s, dict) for s in sentences):
        raise LLMError("bad_json", "the answer holds no list of sentences")
    return sentences


def _fault(stage: str, exc: LLMError, **where) -> dict:
    return {"stage": stage, "kind": exc.kind, "message": exc.message, **where}


def llm_answer_stage(params: Params, out_dir: Path, settings: LLMSettings | None = None,
                     client: LLMClient | None = None, verifier=None, progress: bool = True) -> dict | None:
    """With the LLM on: read, answer, check; write and return llm_answer.json's record. Off: None (no file)."""
    out_dir = Path(out_dir)
    settings = settings or resolve(params)
    if settings is None:
        return None
    client = client or LLMClient(settings)
    included, _, _ = load_papers(out_dir)
    refs = reference_numbers(included)
    analysis = load_analysis(out_dir)
    rec: dict = {"status": "ok", "model": settings.model, "settings": settings.to_dict(), "readings": [],
                 "answers": [], "faults": [], "seconds": {}}
    client.broken = client.broken or found_down(load_json(out_dir, "plan.json"), load_json(out_dir, "llm_stance.json"))
    t0 = time.monotonic()
    to_read = included[:settings.max_papers]
    readings = [r.to_dict() for r in read_papers(client, params.question, to_read, refs, progress)]
    rec["readings"] = readings
    rec["seconds"]["read"] = round(time.monotonic() - t0, 2)
    for r in readings:
        if r["fault"]:
            rec["faults"].append({"stage": "read", **r["fault"], "paper_id": r["paper_id"], "ref": r["ref"]})
    quotes = {r["ref"]: r["quotes"] for r in readings if r["quotes"]}
    t_answer, t_check = 0.0, 0.0
    if quotes:
        if verifier is None:
            from ..verification.verifier import load_verifier

            verifier = load_verifier()
        budget = settings.context - MAX_TOKENS - 250
        for sq in analysis.sub_questions[:MAX_SUB_QUESTIONS]:
            evidence, left_out = evidence_block(readings, budget)
            entry = {"id": sq.id, "question": sq.text, "sentences": [], "unsupported": [],
                     "quotes_left_out": left_out}
            t1 = time.monotonic()
            try:
                raw = write_answer(client, sq.text, evidence)
            except LLMError as exc:
                rec["faults"].append(_fault("answer", exc, sub_question=sq.id))
                entry["fault"] = {"kind": exc.kind, "message": exc.message}
                rec["answers"].append(entry)
                t_answer += time.monotonic() - t1
                continue
            t2 = time.monotonic()
            t_answer += t2 - t1
            checked = check_sentences(raw, set(refs.values()), quotes, verifier, params.support_threshold, sq.text)
            t_check += time.monotonic() - t2
            entry["sentences"] = [s.to_dict() for s in checked if s.kept]
            entry["unsupported"] = [s.to_dict() for s in checked if not s.kept]
            rec["answers"].append(entry)
    rec["seconds"].update(answer=round(t_answer, 2), check=round(t_check, 2),
                          total=round(time.monotonic() - t0, 2))
    if not any(a["sentences"] for a in rec["answers"]):
        # a paper that could not be read does not make the answer fail: it was written, and nothing survived
        answered = quotes and not any(f["stage"] == "answer" for f in rec["faults"])
        rec["status"] = "no supported sentence" if answered else "failed"
    elif rec["faults"]:
        rec["status"] = "partial"
    rec["counts"] = counts(rec)
    rec["usage"] = client.summary()
    write_text(out_dir / "llm_answer.json", json.dumps(rec, indent=1, ensure_ascii=False))
    return rec


def counts(rec: dict) -> dict:
    """The figures the report and the manifest state."""
    rd = rec["readings"]
    removed: dict[str, int] = {}
    for a in rec["answers"]:
        for s in a["unsupported"]:
            key = ("outside the included set" if "not an included paper" in s["reason"] else
                   "no citation" if s["reason"] == "cites no paper" else
                   "not grounded in the quotes' words" if s["reason"].startswith("its words") else
                   "restates the question" if s["reason"].startswith("it only restates") else
                   "no supporting quote")
            removed[key] = removed.get(key, 0) + 1
    return {"papers": len(rd), "papers_read": sum(r["status"] == "ok" for r in rd),
            "quotes_kept": sum(len(r["quotes"]) for r in rd), "quotes_dropped": sum(len(r["dropped"]) for r in rd),
            "sentences_kept": sum(len(a["sentences"]) for a in rec["answers"]),
            "sentences_removed": sum(len(a["unsupported"]) for a in rec["answers"]), "removed_by_reason": removed}
