"""The report's LLM parts (Markdown): the checked LLM answer beside the extractive one, labelled with the
model's name, with the removed sentences struck through and their reasons; the plan and reader in the methods.
Only sentences that passed the checks appear as text; the struck-through list is the only other LLM text."""

from __future__ import annotations

from ..llm import notes
from ..text import md_escape as e


def _cites(ctx: dict, cites: list[int]) -> str:
    return "".join(f"[{c}]" for c in cites)


def answer_lines(ctx: dict) -> list[str]:
    """`## Answer by <model>`: per sub-question the kept sentences with their citations, then the removed ones."""
    llm = ctx.get("llm")
    if not llm or not any(a["sentences"] or a["unsupported"] for a in llm["answers"]):
        return []
    L = [f"## Answer by {e(llm['model'])} (LLM, checked sentence by sentence)", "",
         "Written by the model from verbatim quotes of the included abstracts; each sentence below cites included "
         "papers whose quotes the verifier found to support it. It does not replace the answer, claims or counts "
         "above.", ""]
    removed = []
    for a in llm["answers"]:
        if not (a["sentences"] or a["unsupported"]):
            continue
        L += [f"### {a['id']}. {e(a['question'])}", ""]
        kept = " ".join(f"{e(s['text'])} {_cites(ctx, s['supported_by'])}" for s in a["sentences"])
        L += [kept or "_No sentence of the model's answer passed the checks._", ""]
        removed += [(a["id"], s) for s in a["unsupported"]]
    if removed:
        L += [f"**Unsupported (removed): {len(removed)} sentence(s)**", ""]
        L += [f"- {sid}: ~~{e(s['text'])}~~ {_cites(ctx, s['cites'])} ({e(s['reason'])})" for sid, s in removed]
        L.append("")
    return L


def methods_lines(ctx: dict) -> list[str]:
    """The plan and the reader's method, each a paragraph."""
    out = []
    for text in (notes.plan_summary(ctx.get("plan")), notes.reader_summary(ctx.get("llm"))):
        if text:
            head, _, rest = text.partition(": ")
            out += [f"**{e(head)}:** {e(rest)}", ""]
    return out
