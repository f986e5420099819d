"""`workbench eval verify`: run a verifier over SciFact-format claims and score it with SciFact's metrics.

For each claim the abstracts come from retrieval over the corpus (top-k) or, with `oracle`, from the claim's
`cited_doc_ids`. Predictions are written in SciFact's format with a confidence per abstract.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..records import Paper
from ..retrieval.search import hybrid_scored
from ..retrieval.store import CorpusStore, fingerprint
from ..verification.verifier import Verdict, Verifier, claim_key
from .metrics import abstract_level, expected_calibration_error, sentence_level

TO_SCIFACT = {"SUPPORTS": "SUPPORT", "REFUTES": "CONTRADICT"}
FROM_SCIFACT = {v: k for k, v in TO_SCIFACT.items()}
EVAL_STORE = "evalcorpus"


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def corpus_store(corpus: Path) -> CorpusStore:
    """A store for a SciFact-format corpus file, built once per file content under the cache."""
    db = config.cache_dir() / "corpora" / f"{EVAL_STORE}-{fingerprint(Path(corpus))[:16]}.sqlite"
    return CorpusStore(db, EVAL_STORE) if db.exists() else CorpusStore.build(EVAL_STORE, Path(corpus), db, progress=False)


def doc_key(paper: Paper) -> str:
    return paper.ids.get(EVAL_STORE) or paper.id.split(":", 1)[-1]


def candidates(store: CorpusStore, claims: list[dict], top_k: int, oracle: bool
               ) -> tuple[list[list[Paper]], list[list[list[float]]] | None]:
    """Abstracts to check per claim: retrieved top-k with their retrieval scores (`hybrid_scored`), or the cited
    documents (oracle; no scores)."""
    if oracle:
        return [store.get(f"{EVAL_STORE}:{d}" for d in c.get("cited_doc_ids", [])) for c in claims], None
    papers, scores = [], []
    for c in claims:
        hits = hybrid_scored(store, c["claim"], k=top_k)
        kept = [(found[0], row) for h, row in hits if (found := store.get([h.doc_id]))]
        papers.append([p for p, _ in kept])
        scores.append([row for _, row in kept])
    return papers, scores


def gold_label(claim: dict, doc: str) -> str:
    sets = (claim.get("evidence") or {}).get(doc)
    return FROM_SCIFACT[sets[0]["label"]] if sets else "NOT ENOUGH INFO"


@dataclass
class Run:
    """One verifier's predictions over a claim set, with timing."""

    name: str
    predictions: list[dict]
    verdicts: list[list[tuple[str, Verdict]]]  # per claim: (doc id, verdict)
    seconds: float
    metrics: dict = field(default_factory=dict)


def run_verifier(verifier: Verifier, claims: list[dict], papers: list[list[Paper]],
                 retrieval: list[list[list[float]]] | None = None) -> Run:
    """Verify every (claim, candidate abstract) pair; SciFact-format predictions. With `retrieval` (the open
    setting: each candidate's retrieval scores) a verifier that has `verify_ranked_many` judges each claim's
    candidates together, in retrieval order."""
    t0 = time.perf_counter()
    ranked = retrieval is not None
    if ranked and hasattr(verifier, "verify_ranked_many"):
        groups = [(c["claim"], ps, rs) for c, ps, rs in zip(claims, papers, retrieval, strict=True)]
        flat = [v for vs in verifier.verify_ranked_many(groups) for v in vs]
    else:
        # not ranked = the oracle setting: the claim's cited abstracts, chosen for it
        flat = verifier.verify_many([(c["claim"], p) for c, ps in zip(claims, papers, strict=True) for p in ps],
                                    cited=not ranked)
    seconds = time.perf_counter() - t0
    preds, per_claim, i = [], [], 0
    for c, ps in zip(claims, papers, strict=True):
        evidence, rows = {}, []
        for p in ps:
            v = flat[i]
            i += 1
            rows.append((doc_key(p), v))
            if v.label in TO_SCIFACT:
                evidence[doc_key(p)] = {"label": TO_SCIFACT[v.label], "sentences": v.sentences,
                                        "confidence": round(v.confidence, 4)}
        preds.append({"id": c["id"], "evidence": evidence})
        per_claim.append(rows)
    return Run(verifier.name, preds, per_claim, seconds)


def score(run: Run, claims: list[dict], has_gold: bool) -> dict:
    """SciFact metrics (when gold is present), ECE over every checked abstract, claims/s."""
    m: dict = {"claims": len(claims), "seconds": round(run.seconds, 2),
               "claims_per_s": round(len(claims) / run.seconds, 1) if run.seconds else None,
               "abstracts_checked": sum(len(rows) for rows in run.verdicts)}
    if has_gold:
        m["abstract"] = abstract_level(run.predictions, claims)
        m["sentence"] = sentence_level(run.predictions, claims)
        conf, ok, decided = [], [], []
        for c, rows in zip(claims, run.verdicts, strict=True):
            for doc, v in rows:
                conf.append(v.confidence)
                ok.append(v.label == gold_label(c, doc))
                decided.append(v.label != "NOT ENOUGH INFO")
        m["ece"] = expected_calibration_error(conf, ok)  # over every checked abstract, NEI verdicts included
        sel = [i for i, d in enumerate(decided) if d]  # over SUPPORTS/REFUTES verdicts only (stricter)
        m["ece_decided"] = expected_calibration_error([conf[i] for i in sel], [ok[i] for i in sel])
        m["abstracts_decided"] = len(sel)
        gold = [(c["id"], str(d)) for c in claims for d in (c.get("evidence") or {})]
        checked = {(c["id"], doc) for c, rows in zip(claims, run.verdicts, strict=True) for doc, _ in rows}
        m["gold_checked"] = round(sum(g in checked for g in gold) / len(gold), 3) if gold else None
    run.metrics = m
    return m


def evaluate(corpus: Path, claims_path: Path, verifiers: list[Verifier], top_k: int = 3, oracle: bool = False,
             out: Path | None = None) -> list[Run]:
    """Run each verifier on the same candidates; the first one's predictions are written to `out`."""
    claims = read_jsonl(claims_path)
    store = corpus_store(corpus)
    t0 = time.perf_counter()
    papers, retrieval = candidates(store, claims, top_k, oracle)
    retrieval_s = time.perf_counter() - t0
    has_gold = any("evidence" in c for c in claims)
    runs = []
    for v in verifiers:
        run = run_verifier(v, claims, papers, retrieval)
        score(run, claims, has_gold)
        run.metrics["retrieval_seconds"] = round(retrieval_s, 2)
        runs.append(run)
    trained_on = getattr(verifiers[0], "trained_on", frozenset()) if verifiers else frozenset()
    if runs:
        runs[0].metrics["claims_seen_in_training"] = sum(claim_key(c["claim"]) in trained_on for c in claims)
    if out is not None:
        from ..atomic import write_text

        write_text(Path(out), "".join(json.dumps(p) + "\n" for p in runs[0].predictions))
    return runs


def report(runs: list[Run], setting: str) -> str:
    """A plain-text table of the runs' metrics."""
    lines = [f"setting: {setting}"]
    head = f"{'verifier':<18}{'abs label F1':>13}{'P':>7}{'R':>7}{'abs +rat F1':>12}{'sent F1':>9}{'sent+lab F1':>12}{'ECE':>7}{'ECE dec':>8}{'claims/s':>10}"
    lines.append(head)
    for r in runs:
        m = r.metrics
        if "abstract" in m:
            a, s = m["abstract"], m["sentence"]
            lines.append(f"{r.name:<18}{a['label_only']['f1']:>13.3f}{a['label_only']['precision']:>7.3f}"
                         f"{a['label_only']['recall']:>7.3f}{a['label_rationale']['f1']:>12.3f}"
                         f"{s['selection_only']['f1']:>9.3f}{s['selection_label']['f1']:>12.3f}{m['ece']:>7.3f}"
                         f"{m['ece_decided']:>8.3f}{m['claims_per_s']:>10}")
        else:
            lines.append(f"{r.name:<18}{'(no gold evidence)':>13}{'':>61}{m['claims_per_s']:>10}")
    if runs:
        m = runs[0].metrics
        lines.append(f"{m['claims']} claims, {m.get('abstracts_checked', '?')} abstracts checked; claims/s = verification only "
                     f"(retrieval took {m['retrieval_seconds']} s). ECE: 10 bins over every checked abstract; "
                     "'ECE dec' over SUPPORTS/REFUTES verdicts only.")
        if m.get("gold_checked") is not None:
            lines.append(f"gold evidence abstracts among those checked (the retrieval ceiling): {m['gold_checked']:.3f}")
        if m.get("claims_seen_in_training"):
            lines.append(f"WARNING: {m['claims_seen_in_training']} of {m['claims']} claims were in {runs[0].name}'s "
                         "training data: on them these figures measure fit, not accuracy.")
    return "\n".join(lines)
