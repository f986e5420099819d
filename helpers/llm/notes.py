"""What the report says about the LLM reader: its methods line, its plan, and its limitations (what failed and
how much), from plan.json and llm_answer.json. A server that was down or timed out is one line."""

from __future__ import annotations

from .client import FATAL

KIND_WORDS = {"bad_json": "a reply that was not the JSON asked for", "context": "a request too long for the "
              "model's context", "refused": "a request the server refused", "server": "a server error",
              "down": "the server unreachable", "timeout": "no answer within the time limit"}


def _who(rec: dict) -> str:
    return f"{rec['model']} at {rec['settings']['url']}"


def limitations(plan: dict | None, llm: dict | None, stance: dict | None = None) -> list[str]:
    """The LLM reader's limitation lines (none when it was off or everything passed)."""
    recs = [r for r in (plan, stance, llm) if r]
    if not recs:
        return []
    faults = [f for r in recs for f in r.get("faults", [])]
    fatal = [f for f in faults if f["kind"] in FATAL]
    out = []
    if fatal:
        f = fatal[0]
        parts = {"plan": "the plan", "stance": "the stance reading", "read": "reading", "answer": "the LLM answer"}
        skipped = sorted({parts[x["stage"]] for x in fatal}, key=list(parts.values()).index)
        out.append(f"The LLM reader ({_who(recs[0])}) failed: {f['message']}; {' and '.join(skipped)} "
                   f"{'was' if len(skipped) == 1 else 'were'} skipped for that, and the extractive answer stands "
                   "on its own where the model gave none.")
    other = [f for f in faults if f["kind"] not in FATAL]
    by_kind: dict[str, list[dict]] = {}
    for f in other:
        by_kind.setdefault(f["kind"], []).append(f)
    n_read = len(llm["readings"]) if llm else 0
    for kind, fs in by_kind.items():
        papers = sum(f["stage"] == "read" for f in fs)
        rest = [f["stage"] for f in fs if f["stage"] != "read"]
        what = ([f"{papers} of {n_read} papers' readings"] if papers else []) + \
            [{"plan": "the plan", "answer": "the answer to a sub-question", "stance": "the stance reading"}[s]
             for s in rest]
        out.append(f"The LLM reader got {KIND_WORDS.get(kind, kind)} for {', '.join(what)}; "
                   f"{'that part was' if len(fs) == 1 else 'those parts were'} skipped.")
    if llm and llm.get("counts"):
        c = llm["counts"]
        if c["quotes_dropped"]:
            out.append(f"{c['quotes_dropped']} of {c['quotes_dropped'] + c['quotes_kept']} quotes the LLM gave were "
                       "not in their abstract (exactly or at similarity ≥ 95) and were dropped.")
        if c["sentences_removed"]:
            why = "; ".join(f"{n} {k}" for k, n in sorted(c["removed_by_reason"].items()))
            out.append(f"{c['sentences_removed']} of {c['sentences_removed'] + c['sentences_kept']} sentences of the "
                       f"LLM answer were removed ({why}); they are listed, struck through, under the LLM answer.")
    return out


def plan_summary(plan: dict | None) -> str | None:
    """The plan in one methods paragraph (None without one)."""
    if not plan or not plan.get("plan"):
        return None
    p, used = plan["plan"], plan["used"]
    groups = " AND ".join("(" + " OR ".join(g) + ")" for g in p["criteria"]) or "none"
    use = [k.replace("_", " ") for k, v in used.items() if v]
    return (f"LLM plan ({plan['model']}): sub-questions: {' '.join(p['sub_questions']) or 'none'}; keyword groups: "
            f"{groups}; extra queries: {'; '.join(p['extra_queries']) or 'none'}. "
            + (f"Retrieval used the plan's {' and '.join(use)}" if use else "Retrieval used none of it")
            + (" (the rest: the params' own, or not asked for with llm.plan_uses)." if not all(used.values()) else ".")
            + (" Records only its extra queries found are added to the candidates and, at the max_papers cap, rank "
               "after every record the question's own queries found." if used.get("extra_queries") else ""))


def reader_summary(llm: dict | None) -> str | None:
    """How the LLM answer was made, in one methods paragraph (None when the reader was off)."""
    if not llm:
        return None
    s, c = llm["settings"], llm.get("counts") or {}
    if not c.get("papers_read"):
        return f"LLM reader: {_who(llm)} was asked to read the included abstracts but read none (see the limitations)."
    return (f"LLM reader: {_who(llm)} (temperature {s['temperature']:g}, seed {s['seed']}) read the abstracts of the "
            f"{c.get('papers', 0)} most relevant included papers ({c.get('papers_read', 0)} read), each for a summary "
            f"and verbatim quotes; a quote was kept only when found in its abstract exactly or at rapidfuzz similarity "
            f"≥ 95 ({c.get('quotes_kept', 0)} kept, {c.get('quotes_dropped', 0)} dropped). From the kept quotes it "
            f"wrote a short paragraph per sub-question; every sentence had to cite included papers, and the verifier "
            f"had to find support for it in a cited paper's quotes, which had to hold most of its words ({c.get('sentences_kept', 0)} sentences kept, "
            f"{c.get('sentences_removed', 0)} removed). Every request and reply is cached, so a re-run is identical.")
