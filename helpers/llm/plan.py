"""The plan: from a bare question, the model writes sub-questions, criteria keyword groups and extra search
queries (JSON constrained by a schema). It is saved to `plan.json`, printed as params YAML a person can copy,
shown in the report's methods, and feeds retrieval wherever the params give none of their own."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml

from ..atomic import write_text
from ..params import Params, parse_params
from ..text import one_line
from .client import LLMClient, LLMError
from .settings import LLMSettings, resolve

PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "sub_questions": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "keyword_groups": {"type": "array", "minItems": 1, "maxItems": 3,
                           "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 6}},
        "search_queries": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    },
    "required": ["sub_questions", "keyword_groups", "search_queries"],
}
SYSTEM = ("You plan literature searches for systematic reviews of research papers. Reply with JSON only.")
PROMPT = """Example. Research question: Does quantization reduce the memory of large language models without hurting accuracy?
Plan: {{"sub_questions": ["Does quantization reduce the memory of large language models?", "Does quantization hurt the accuracy of large language models?"], "keyword_groups": [["quantization", "quantized", "low-bit", "int4", "int8"], ["memory", "memory footprint", "compression", "model size"], ["accuracy", "perplexity", "performance degradation"]], "search_queries": ["low-bit quantization large language models memory", "quantized llm accuracy degradation"]}}

Research question: {question}
Plan as JSON: "sub_questions" (1 to 3 questions that together answer it), "keyword_groups" (one group per key concept of the question: specific terms and synonyms a relevant abstract would use, never generic words such as models, performance, method, benchmark), "search_queries" (2 or 3 short keyword queries)."""
MAX_TOKENS = 300


def _clean(text: object, max_len: int) -> str:
    return one_line(str(text))[:max_len].strip() if isinstance(text, str) else ""


def validate_plan(data: dict) -> dict:
    """The usable part of the model's plan: questions of 8+ characters ending in '?', keyword groups of short
    lower-case keywords (2+ per group), queries of 2+ words; `LLMError` ``bad_json`` when nothing is usable."""
    subs = []
    for s in data.get("sub_questions") or []:
        s = _clean(s, 250)
        if len(s) >= 8 and s.endswith("?") and s not in subs:
            subs.append(s)
    groups = []
    for g in data.get("keyword_groups") or []:
        if not isinstance(g, list):
            continue
        kws = []
        for k in g:
            k = re.sub(r"[^\w\s\-/@+.]", "", _clean(k, 40).lower()).strip()
            if len(k) >= 2 and len(k.split()) <= 4 and k not in kws:
                kws.append(k)
        if len(kws) >= 2:
            groups.append(kws[:8])
    queries = []
    for q in data.get("search_queries") or []:
        q = _clean(q, 120)
        if len(q.split()) >= 2 and q not in queries:
            queries.append(q)
    if not (subs or groups or queries):
        raise LLMError("bad_json", "the plan holds no usable sub-question, keyword group or query")
    return {"sub_questions": subs[:3], "criteria": groups[:3], "extra_queries": queries[:3]}


def make_plan(client: LLMClient, question: str) -> dict:
    """Ask the model for a plan and validate it."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT.format(question=question)}]
    return validate_plan(client.chat_json(messages, PLAN_SCHEMA, MAX_TOKENS))


USES = ("sub_questions", "criteria", "extra_queries")


def apply_plan(params: Params, plan: dict, uses: tuple[str, ...] = USES) -> tuple[Params, dict[str, bool]]:
    """The params retrieval uses: the plan's parts named in `uses` (sub-questions, criteria, extra queries)
    wherever the params give none. Returns the params and which parts the plan supplied."""
    data = params.model_dump(exclude_none=True)
    used = {"sub_questions": "sub_questions" in uses and not params.sub_questions and bool(plan.get("sub_questions")),
            "criteria": "criteria" in uses and not params.criteria.include_any and bool(plan.get("criteria")),
            "extra_queries": "extra_queries" in uses and not params.extra_queries and bool(plan.get("extra_queries"))}
    if used["sub_questions"]:
        data["sub_questions"] = [{"text": s} for s in plan["sub_questions"]]
    if used["criteria"]:
        data["criteria"] = {**data["criteria"], "include_any": plan["criteria"]}
    if used["extra_queries"]:
        data["extra_queries"] = plan["extra_queries"]
    return parse_params(data, "<params with the LLM plan>"), used


def plan_yaml(plan: dict) -> str:
    """The plan as params YAML to copy into a params file."""
    values = {}
    if plan.get("sub_questions"):
        values["sub_questions"] = plan["sub_questions"]
    if plan.get("criteria"):
        values["criteria"] = {"include_any": plan["criteria"]}
    if plan.get("extra_queries"):
        values["extra_queries"] = plan["extra_queries"]
    return yaml.safe_dump(values, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)


def plan_stage(params: Params, out_dir: Path, settings: LLMSettings | None = None,
               client: LLMClient | None = None) -> tuple[Params, dict | None]:
    """With the LLM on: the plan, written to `plan.json`, and the params retrieval should use. With it off:
    the params unchanged and None. A fault leaves the params as they are and is recorded in plan.json."""
    settings = settings or resolve(params)
    if settings is None:
        return params, None
    client = client or LLMClient(settings)
    t0 = time.monotonic()
    record: dict = {"status": "ok", "model": settings.model, "settings": settings.to_dict(), "plan": None,
                    "used": {"sub_questions": False, "criteria": False, "extra_queries": False}, "faults": []}
    out = params
    try:
        plan = make_plan(client, params.question)
        out, used = apply_plan(params, plan, settings.plan_uses)
        record.update(plan=plan, used=used, yaml=plan_yaml(plan))
    except LLMError as exc:
        record["status"] = "failed"
        record["faults"].append({"stage": "plan", "kind": exc.kind, "message": exc.message})
    except Exception as exc:  # noqa: BLE001 - a plan the params model rejects: keep the params
        record["status"] = "failed"
        record["faults"].append({"stage": "plan", "kind": "bad_json", "message": one_line(str(exc))[:200]})
    record["usage"] = client.summary()
    record["seconds"] = round(time.monotonic() - t0, 2)
    write_text(Path(out_dir) / "plan.json", json.dumps(record, indent=1, ensure_ascii=False))
    return out, record
