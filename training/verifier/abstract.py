"""An abstract-level model, measured and not shipped: all-MiniLM-L6-v2 fine-tuned 3-way (SUPPORTS / REFUTES / NEI)
on (claim, abstract view) pairs, where the view (`abstract_view`) is the title and the abstract's sentences in
their order, as many as fit 384 tokens, the most relevant (by the 3-way sentence model) first. The sentence models
judge each sentence alone; this one reads them together, as MultiVerS and ParagraphJoint do with larger encoders.

Trained with the five folds of cv.py, so its out-of-fold logits can join the sentence models' in the calibration:
1. here (the views need the sentence models' out-of-fold relevance, from a `cv.py run`):
       PYTHONPATH=. .venv/bin/python -m training.verifier.abstract views --bundle .cv --scores CV_OUT/scores.pkl.gz
   writes .cv/abstract_items.json.gz: every candidate's view and, for an evidence abstract, its view without the
   rationale sentences (a NOT ENOUGH INFO example: the label must come from the evidence, not the topic).
2. on one GPU (six trainings side by side, 200 s on one H100):
       python3 -m training.verifier.abstract run --bundle .cv --out $OUT
   writes scores.pkl.gz (out-of-fold logits per candidate), cv.json and the final abstract.onnx in parts.
3. here: `python -m training.verifier.abstract measure --bundle .cv --scores CV_OUT/scores.pkl.gz [...]
   --abstract-scores OUT/scores.pkl.gz` prints the cross-fitted open figures with and without the abstract
   model's evidence logit as a third feature of the P(evidence) maps.
Training rows: each training claim's candidates (evidence views x2, their rationale-free views as NEI, the other
candidates as NEI) plus the non-SciFact sentence pairs of the data recipe; 2 epochs, lr 3e-5, batch 16.

Result (docs/benchmarks.md): +0.008, +0.012 and +0.008 open label-only F1 over the first run, the second run and
their ensemble of the sentence models (with the ranked map as shipped), from one training run of this model; not
shipped, since a third model would put the ensemble's 100 claims at about 62 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.verifier.cv import ALL, FOLDS, _dump_gz, _load_gz, run

MAX_LEN = 384  # tokens: claim + abstract view
VIEW_WORDS = 230  # word budget of an abstract view: with the claim, about MAX_LEN tokens
GAP = "..."


def abstract_view(title: str, sentences: Sequence[str], relevance: Sequence[float], budget: int = VIEW_WORDS) -> str:
    """What the abstract-level model reads: the title, then the abstract's sentences in their own order, as many
    as fit `budget` words, the most relevant first (so the whole abstract when it fits; at least the most relevant
    sentence). Left-out stretches show as "..."."""
    sizes = [len(s.split()) for s in sentences]
    used, keep = len(title.split()), set()
    for i in np.argsort(-np.asarray(relevance, dtype=float), kind="stable"):
        if keep and used + sizes[i] > budget:
            continue
        keep.add(int(i))
        used += sizes[i]
    title = title.strip()
    parts = [title if not title or title[-1] in ".?!" else title + "."]
    prev = -1
    for i in sorted(keep):
        if i != prev + 1:
            parts.append(GAP)
        parts.append(sentences[i])
        prev = i
    if sentences and prev != len(sentences) - 1:
        parts.append(GAP)
    return " ".join(p for p in parts if p)


RECIPE = {"epochs": 2, "lr": 3e-5, "seed": 20, "batch": 16}
UPSAMPLE_EVIDENCE = 2
ITEMS = "abstract_items.json.gz"


def views(items: list[dict], scores: dict, titles: dict[str, str], temperature: float) -> list[dict]:
    """Per candidate: its abstract view under the out-of-fold sentence relevance, and for an evidence abstract
    (gold < 2) also the view of the abstract without its rationale sentences (None if nothing is left)."""
    from helpers.verification.crossencoder import softmax

    out = []
    for it in items:
        sc = scores.get((it["cid"], it["doc"]))
        if sc is None:
            continue
        rel = 1.0 - softmax(sc["logits3"], temperature)[:, 2]
        title, sents = titles.get(it["doc"], ""), it["sentences"]
        dropped = None
        if it["gold"] < 2 and it.get("rationale"):
            rest = [j for j in range(len(sents)) if j not in set(it["rationale"])]
            if rest:
                dropped = abstract_view(title, [sents[j] for j in rest], rel[rest])
        out.append({"cid": it["cid"], "doc": it["doc"], "claim": it["claim"], "gold": it["gold"],
                    "view": abstract_view(title, sents, rel), "dropped": dropped})
    return out


def training_rows(items: list[dict], claim_ids: set[int]) -> list[dict]:
    """(claim, view, label) rows from the candidates of `claim_ids`: evidence views up-sampled, their
    rationale-free views as NEI, the other candidates as NEI."""
    rows = []
    for it in items:
        if it["cid"] not in claim_ids:
            continue
        row = {"claim": it["claim"], "sentence": it["view"], "label": it["gold"], "src": "scifact-abstract"}
        rows.append(row)
        if it["gold"] < 2:
            rows += [row] * (UPSAMPLE_EVIDENCE - 1)
            if it["dropped"]:
                rows.append({**row, "sentence": it["dropped"], "label": 2})
    return rows


def train_fold(bundle_dir: Path, k: int | str, work: Path, smoke: bool = False) -> None:
    """Fold k's abstract model (k = "all": every claim) as int8 ONNX in `work`; for a numbered fold also the
    out-of-fold logits of its claims' candidates (work/scores.pkl)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from helpers.verification.crossencoder import CrossEncoder
    from training.verifier.export import export_int8
    from training.verifier.train import LABELS, fit

    t0 = time.time()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    torch.backends.cuda.matmul.allow_tf32 = True
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    work.mkdir(parents=True, exist_ok=True)
    fold = {c["id"]: c["fold"] for c in _load_gz(bundle_dir / "claims.json.gz")}
    items = _load_gz(bundle_dir / ITEMS)
    rows = training_rows(items, {cid for cid, f in fold.items() if k == ALL or f != k})
    rows += _load_gz(bundle_dir / "other_pairs.json.gz")
    if smoke:
        random.Random(20).shuffle(rows)
        rows = rows[:200]
    log = {"fold": k, "device": dev, "rows": len(rows)}

    def note(msg: str) -> None:
        log[msg] = round(time.time() - t0)
        print(f"[abstract fold {k} {time.time() - t0:5.0f}s] {msg}", flush=True)

    tok = AutoTokenizer.from_pretrained(bundle_dir / "base")
    model = AutoModelForSequenceClassification.from_pretrained(
        bundle_dir / "base", num_labels=3, id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)}).float().to(dev)
    torch.manual_seed(RECIPE["seed"])
    fit(model, tok, rows, torch.nn.CrossEntropyLoss(), random.Random(RECIPE["seed"]), batch=RECIPE["batch"],
        epochs=RECIPE["epochs"], lr=RECIPE["lr"], max_len=MAX_LEN)
    note("trained")
    export_int8(model, tok, work / "abstract.onnx")
    note("exported")
    if k != ALL:
        shutil.copy(bundle_dir / "tokenizer.json", work / "tokenizer.json")
        mine = [it for it in items if fold[it["cid"]] == k][:30 if smoke else None]
        enc = CrossEncoder(work, threads=int(os.environ.get("OMP_NUM_THREADS", "2")), filename="abstract.onnx",
                           max_len=MAX_LEN)
        logits = enc.logits([(it["claim"], it["view"]) for it in mine])
        (work / "scores.pkl").write_bytes(pickle.dumps({(it["cid"], it["doc"]): lg for it, lg in
                                                        zip(mine, logits, strict=True)}))
        note(f"scored {len(mine)} candidates")
    (work / "log.json").write_text(json.dumps(log, indent=1))


def build(bundle_dir: Path, scores_path: Path, corpus_path: Path) -> None:
    """Write the bundle's abstract views (step 1)."""
    import gzip

    from training.verifier.cv import scored_items

    scores = pickle.loads(gzip.decompress(scores_path.read_bytes()))
    _, _, temperature = scored_items(bundle_dir, scores)
    claims = {c["id"]: c for c in _load_gz(bundle_dir / "claims.json.gz")}
    titles = {str(d["doc_id"]): d["title"] for d in map(json.loads, open(corpus_path, encoding="utf-8"))}
    items = _load_gz(bundle_dir / "items.json.gz")
    for it in items:
        sets = claims[it["cid"]]["evidence"].get(it["doc"], [])
        it["rationale"] = sorted({i for s in sets for i in s["sentences"]})
    out = views(items, scores, titles, temperature)
    _dump_gz(bundle_dir / ITEMS, out)
    n_ev = sum(v["gold"] < 2 for v in out)
    print(json.dumps({"views": len(out), "evidence": n_ev, "rationale_free": sum(bool(v["dropped"]) for v in out),
                      "temperature": round(temperature, 3),
                      "mean_words": round(float(np.mean([len(v["view"].split()) for v in out])), 1)}))


def first_rate(items: list[dict], claims: list[dict], key, depth: int = 10) -> float:
    """Share of the gold evidence pairs whose abstract comes first among its claim's top-`depth` candidates when
    they are ordered by `key` (smallest first)."""
    by: dict[int, list[dict]] = {}
    for it in items:
        if it["rank"] < depth:
            by.setdefault(it["claim"]["id"], []).append(it)
    return sum(min(group, key=key)["gold"] < 2 for group in by.values()) / sum(len(c["evidence"]) for c in claims)


def measure(bundle_dir: Path, scores_paths: list[Path], abstract_path: Path) -> None:
    """Cross-fitted open figures (best evidence threshold) of the sentence models' scores (several files: their
    ensemble), without and with the abstract model's evidence logit as a third feature of the P(evidence) maps;
    and how often each ordering (retrieval, sentence relevance, abstract model) puts a gold abstract first, and the
    abstract model's direction on the gold evidence abstracts of the top 5."""
    import gzip
    from dataclasses import dataclass

    from helpers.verification.calibration import Calibration, PairScores
    from training.verifier.calibrate import GRID, cross_fitted, with_context
    from training.verifier.cv import merge_scores, scored_items

    @dataclass
    class WithAbstract(PairScores):
        abstract_evidence: float = 0.0

        def evidence_features(self) -> list[float]:
            return super().evidence_features() + [self.abstract_evidence]

    runs = [pickle.loads(gzip.decompress(p.read_bytes())) for p in scores_paths]
    scores = merge_scores(runs)[0] if len(runs) > 1 else runs[0]
    abstract = pickle.loads(gzip.decompress(abstract_path.read_bytes()))
    items, claims, temperature = scored_items(bundle_dir, scores)
    with_context(items, 5)
    base = Calibration(top_sentences=2, temperature=temperature)

    def report(name: str) -> None:
        best = max(((cross_fitted(items, claims, Calibration(**{**base.__dict__, "evidence_threshold": et}), "open")[0],
                     et) for et in GRID), key=lambda m: m[0]["label_only_f1"])
        print(f"{name}: threshold {best[1]}, {best[0]}", flush=True)

    logits = {id(it): abstract[(it["claim"]["id"], it["doc"])].astype(float) for it in items}
    evidence = {i: float(np.logaddexp(lg[0], lg[1]) - lg[2]) for i, lg in logits.items()}  # logit of 1 - P(NEI)
    orders = {"retrieval": lambda it: it["rank"], "sentence relevance": lambda it: -float(max(it["scores"].relevance)),
              "abstract model": lambda it: -evidence[id(it)]}
    print("gold abstract first among the top 10: " + ", ".join(
        f"{name} {first_rate(items, claims, key):.3f}" for name, key in orders.items()))
    ev = [it for it in items if it["gold"] < 2 and it["rank"] < 5]
    right = np.mean([(logits[id(it)][1] > logits[id(it)][0]) == (it["gold"] == 1) for it in ev])
    print(f"abstract model's direction right on {right:.3f} of {len(ev)} gold evidence abstracts in the top 5 "
          f"(always-SUPPORTS {np.mean([it['gold'] == 0 for it in ev]):.3f})")
    report("sentence models")
    for it in items:
        it["scores"] = WithAbstract(**vars(it["scores"]), abstract_evidence=evidence[id(it)])
    report("+ abstract model")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("views")
    v.add_argument("--bundle", type=Path, required=True)
    v.add_argument("--scores", type=Path, required=True, help="the sentence models' out-of-fold scores (cv.py run)")
    v.add_argument("--corpus", type=Path, default=Path("../shared/data/scifact/corpus.jsonl"))
    f = sub.add_parser("fold")
    f.add_argument("--bundle", type=Path, required=True)
    f.add_argument("--fold", required=True)
    f.add_argument("--work", type=Path, required=True)
    f.add_argument("--smoke", action="store_true")
    r = sub.add_parser("run")
    r.add_argument("--bundle", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--deadline", type=float, default=420)
    r.add_argument("--smoke", action="store_true")
    r.add_argument("--folds", nargs="+", default=None)
    m = sub.add_parser("measure")
    m.add_argument("--bundle", type=Path, required=True)
    m.add_argument("--scores", type=Path, nargs="+", required=True, help="the sentence models' out-of-fold scores")
    m.add_argument("--abstract-scores", type=Path, required=True)
    args = ap.parse_args()
    if args.cmd == "measure":
        measure(args.bundle, args.scores, args.abstract_scores)
    elif args.cmd == "views":
        build(args.bundle, args.scores, args.corpus)
    elif args.cmd == "fold":
        train_fold(args.bundle, args.fold if args.fold == ALL else int(args.fold), args.work, args.smoke)
    else:
        run(args.bundle, args.out, args.deadline, args.smoke, args.folds, module="training.verifier.abstract",
            files=("abstract.onnx",), n_folds=FOLDS)


if __name__ == "__main__":
    main()
