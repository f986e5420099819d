"""Five-fold training over all 809 SciFact train claims: out-of-fold scores for the calibration and for honest
figures, and the shipped models trained on every claim.

The 80/20 split (data.py) trains the models on 647 claims and fits and measures the calibration on the other 162.
Here fold 0 is that same validation split and the other 647 claims are split at random into folds 1-4. For each
fold, the 3-way and direction models are trained by the shipped recipe (train.py, direction.py: the same data,
epochs and learning rates) on the other folds' claims plus the non-SciFact pairs, exported to int8 ONNX and used,
through the shipped inference code (`helpers.verification.crossencoder.CrossEncoder`, one pair at a time), to score the fold's claims
against their candidate abstracts. So every claim is scored by models that never saw it; the calibration is fitted
on all 809 claims instead of 162 and measured cross-fitted on all of them; and the shipped models, trained on all
809 claims (25% more in-domain data), are the "final" fold. Their figures are those of a model trained on 4/5 of
the claims, so slightly conservative for the final models.

1. here, project venv (retrieval for the candidates and hard negatives):
       PYTHONPATH=. .venv/bin/python -m training.verifier.cv bundle --data $W --out .cv
       PYTHONPATH=. /work/venv-train/bin/python -m training.verifier.sweep half --out .cv
2. on one GPU (the six trainings run side by side, about 5 min on an H200):
       python3 -m training.verifier.cv run --bundle .cv --out $OUT
   writes scores.pkl.gz (out-of-fold logits), cv.json (timings) and the final models as int8 ONNX parts.
   Any other model folder can score the same candidates here (`score --models DIR --folds 0`): the previous
   models scored on fold 0, then `fit`, reproduce calibrate.py's figures for them.
3. here:
       cat OUT/model.onnx.part* > models/verifier/model.onnx; cat OUT/direction.onnx.part* > models/verifier/direction.onnx
       python -m training.verifier.cv fit --bundle .cv --scores OUT/scores.pkl.gz [--write]
   fits the temperature, maps and thresholds exactly as calibrate.py does (`calibrate.select`), prints the
   cross-fitted figures on all 809 claims and on fold 0 alone (comparable with the 80/20 figures), and writes
   models/verifier/calibration.json with `--write`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helpers.atomic import write_bytes, write_text

FOLDS = 5
ALL = "all"
DIR_TOP = 4  # direction logits are kept for the 4 most relevant sentences (temperature 1); 2 are read
PART = 15_000_000


def _dump_gz(path: Path, obj) -> None:
    write_bytes(path, gzip.compress(json.dumps(obj).encode()))


def _load_gz(path: Path):
    return json.loads(gzip.decompress(path.read_bytes()))


def assign_folds(claims: list[dict], val_ids: set[int], seed: int = 20) -> dict[int, int]:
    """Fold 0 = the 80/20 validation split; the other claims shuffled (seeded) into folds 1..FOLDS-1."""
    rest = sorted(c["id"] for c in claims if c["id"] not in val_ids)
    random.Random(seed).shuffle(rest)
    return {**{cid: 0 for cid in val_ids}, **{cid: 1 + i % (FOLDS - 1) for i, cid in enumerate(rest)}}


def kept_claims(claims: list[dict], fraction: float, seed: int = 77) -> set[int] | None:
    """A random `fraction` of the claims (None: all), for a learning curve: each claim draws one number from a
    seeded generator in id order and is kept below `fraction`, so a smaller fraction's claims are a subset of a
    larger one's."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction: {fraction} is not in (0, 1]")
    if fraction == 1:
        return None
    rng = random.Random(seed)
    return {c["id"] for c in sorted(claims, key=lambda c: c["id"]) if rng.random() < fraction}


def held_docs(claims: list[dict], fold: dict[int, int], k: int | str) -> set[int]:
    """Abstracts cited by (or evidence for) fold k's claims: left out of fold k's corpus pairs."""
    if k == ALL:
        return set()
    return {int(d) for c in claims if fold[c["id"]] == k for d in [*c.get("cited_doc_ids", []), *c["evidence"]]}


# ---------------------------------------------------------------- 1. here: the bundle


def bundle(data: Path, corpus_path: Path, out: Path, depth: int = 10, n_retrieved: int = 5,
           per_retrieved_neg: int = 2) -> None:
    """claims (with folds), SciFact pairs per claim, the other training pairs, every claim's candidate abstracts
    (hybrid top-`depth`, cited and gold, with sentences) and corpus pairs per abstract."""
    from helpers.evaluation.verification import corpus_store
    from helpers.retrieval.search import hybrid_scored
    from helpers.retrieval.store import open_corpus
    from helpers.text import paper_sentences
    from training.verifier.augment import corpus_pairs
    from training.verifier.calibrate import CLASS
    from training.verifier.data import read_jsonl, scifact_pairs

    out.mkdir(parents=True, exist_ok=True)
    claims = read_jsonl(corpus_path.parent / "claims_train.jsonl")
    val_ids = {c["id"] for c in read_jsonl(data / "val_claims.jsonl")}
    fold = assign_folds(claims, val_ids)
    corpus = {d["doc_id"]: d for d in read_jsonl(corpus_path)}
    rng, sci_store = random.Random(20), open_corpus("scifact")
    sci = [{**r, "cid": c["id"]} for c in claims for r in scifact_pairs([c], corpus, rng, n_retrieved=n_retrieved,
                                                                        per_retrieved_neg=per_retrieved_neg,
                                                                        store=sci_store)]
    other = [r for r in read_jsonl(data / "train.jsonl") if not r["src"].startswith("scifact")]
    store, items = corpus_store(corpus_path), []
    for c in claims:
        hits = {h.doc_id.split(":", 1)[1]: row for h, row in hybrid_scored(store, c["claim"], k=depth)}
        ranked, cited = list(hits), [str(d) for d in c.get("cited_doc_ids", [])]
        for doc in dict.fromkeys(ranked + cited + list(c["evidence"])):
            sets = c["evidence"].get(doc, [])
            items.append({"cid": c["id"], "claim": c["claim"], "doc": doc, "gold": CLASS[sets[0]["label"]] if sets else 2,
                          "rank": ranked.index(doc) if doc in ranked else 99, "cited": doc in cited,
                          "retrieval": hits.get(doc),
                          "sentences": paper_sentences(store.get([f"{store.name}:{doc}"])[0])})
    cp = {str(d): p for d, doc in corpus.items() if (p := corpus_pairs([doc["abstract"]]))}
    _dump_gz(out / "claims.json.gz", [{**c, "fold": fold[c["id"]]} for c in claims])
    _dump_gz(out / "scifact_pairs.json.gz", sci)
    _dump_gz(out / "other_pairs.json.gz", other)
    _dump_gz(out / "items.json.gz", items)
    _dump_gz(out / "corpus_pairs.json.gz", cp)
    shutil.copy(Path("models/verifier/tokenizer.json"), out / "tokenizer.json")
    print(json.dumps({"claims": len(claims), "folds": [sum(f == k for f in fold.values()) for k in range(FOLDS)],
                      "scifact_pairs": len(sci), "other_pairs": len(other), "items": len(items),
                      "corpus_pair_abstracts": len(cp)}, indent=1))


# ---------------------------------------------------------------- 2. on the GPU: one fold


def train_fold(bundle_dir: Path, k: int | str, work: Path, smoke: bool = False, seed: int = 0,
               fraction: float = 1.0) -> None:
    """Fold k's two models by the shipped recipe (k = "all": every claim), exported to int8 ONNX in `work`;
    for a numbered fold, also its claims' out-of-fold logits (work/scores.pkl). `seed` is added to every seed of
    the recipe (data order, dropout): 0 is the shipped recipe, another value a second run of it. `fraction` < 1
    trains on that share of the SciFact claims only (`kept_claims`; the other data sets and the corpus pairs stay
    whole): a point of the learning curve."""
    import torch
    from transformers import AutoTokenizer

    from training.verifier.direction import direction_pairs
    from training.verifier.export import export_int8
    from training.verifier.recipe import STAGE1, STAGE2, THREE_WAY, direction_model, three_way, train_stage

    t0 = time.time()
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(threads)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    work.mkdir(parents=True, exist_ok=True)
    claims = _load_gz(bundle_dir / "claims.json.gz")
    fold = {c["id"]: c["fold"] for c in claims}
    keep = kept_claims(claims, fraction)
    sci = [r for r in _load_gz(bundle_dir / "scifact_pairs.json.gz")
           if (k == ALL or fold[r["cid"]] != k) and (keep is None or r["cid"] in keep)]
    rows = _load_gz(bundle_dir / "other_pairs.json.gz") + sci
    cp = _load_gz(bundle_dir / "corpus_pairs.json.gz")
    if smoke:
        rows, cp = rows[:400], dict(list(cp.items())[:60])
    random.Random(20 + seed).shuffle(rows)
    with open(work / "train.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    log = {"fold": k, "device": dev, "pairs": len(rows), "scifact_pairs": len(sci), "seed": seed, "fraction": fraction}

    def note(msg: str) -> None:
        log[msg] = round(time.time() - t0)
        print(f"[fold {k} {time.time() - t0:5.0f}s] {msg}", flush=True)

    tok = AutoTokenizer.from_pretrained(bundle_dir / "base")
    model = three_way(bundle_dir / "base", tok, work / "train.jsonl", dev, seed=THREE_WAY["seed"] + seed)
    direction = direction_model(bundle_dir / "base", model.state_dict(), dev)
    note("3-way trained")
    export_int8(model, tok, work / "model.onnx")
    del model

    base_rows = direction_pairs(work / "train.jsonl", 3, random.Random(20 + seed))
    held = held_docs(claims, fold, k)
    corpus_rows = [p for d, ps in cp.items() if int(d) not in held for p in ps]
    log["direction_pairs"], log["corpus_pairs"] = len(base_rows), len(corpus_rows)
    train_stage(direction, tok, base_rows, **{**STAGE1, "seed": STAGE1["seed"] + seed})
    train_stage(direction, tok, base_rows + corpus_rows, **{**STAGE2, "seed": STAGE2["seed"] + seed})
    note("direction trained")
    export_int8(direction, tok, work / "direction.onnx")
    note("exported")
    if k != ALL:
        shutil.copy(bundle_dir / "tokenizer.json", work / "tokenizer.json")
        ids = {c["id"] for c in claims if fold[c["id"]] == k}
        items = [it for it in _load_gz(bundle_dir / "items.json.gz") if it["cid"] in ids]
        if smoke:
            items = items[:30]
        (work / "scores.pkl").write_bytes(pickle.dumps(score_items(items, work, threads)))
        note(f"scored {len(items)} candidates")
    (work / "log.json").write_text(json.dumps(log, indent=1))


def score_items(items: list[dict], folder: Path, threads: int = 2) -> dict[tuple[int, str], dict]:
    """3-way logits of every sentence and direction logits of the DIR_TOP most relevant (temperature 1), by the
    shipped inference code, one pair at a time."""
    from helpers.verification.crossencoder import CrossEncoder, softmax

    rel_enc = CrossEncoder(folder, threads=threads)
    dir_enc = CrossEncoder(folder, threads=threads, filename="direction.onnx")
    flat = [(it["claim"], s) for it in items for s in it["sentences"]]
    logits = rel_enc.logits(flat)
    out, start, dir_pairs = {}, 0, []
    for it in items:
        lg = logits[start:start + len(it["sentences"])]
        start += len(it["sentences"])
        top = [int(j) for j in np.argsort(-(1 - softmax(lg)[:, 2]))[:DIR_TOP]]
        out[(it["cid"], it["doc"])] = {"logits3": lg, "dir_top": top}
        dir_pairs += [(it["claim"], it["sentences"][j]) for j in top]
    dl = dir_enc.logits(dir_pairs)
    start = 0
    for sc in out.values():
        sc["dir_logits"] = dl[start:start + len(sc["dir_top"])]
        start += len(sc["dir_top"])
    return out


# ---------------------------------------------------------------- 2. on the GPU: all folds side by side


def run(bundle_dir: Path, out: Path, deadline: float, smoke: bool = False, folds: list[str] | None = None,
        module: str = "training.verifier.cv", files: tuple[str, ...] = ("model.onnx", "direction.onnx"),
        n_folds: int = FOLDS, seed: int = 0, fraction: float = 1.0, threads: int | None = None) -> None:
    """Train the folds and the final models (`module`'s `fold` command) in parallel processes; gather the
    out-of-fold scores and the final ONNX `files` (in parts) into `out`. What the processes that finished by
    `deadline` seconds wrote is kept; nothing from a process that was stopped or failed. Runs with another
    `seed` or `fraction` work in their own folders, so several can run at once (`threads` per process: set it so
    that all of them together stay within the cores)."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/cv-work") / f"{module.rsplit('.', 1)[-1]}-s{seed}-f{fraction:g}"
    procs = {}
    # side by side, each process keeps to 2 threads (more threads than cores made two processes on 2 cores 10x slower than one)
    n = str(threads or max(1, min(2, (os.cpu_count() or 2) // len(folds or range(n_folds + 1)))))
    env = {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "TOKENIZERS_PARALLELISM": "false"}
    for k in folds or [ALL, *map(str, range(n_folds))]:
        shutil.rmtree(work / k, ignore_errors=True)
        cmd = [sys.executable, "-m", module, "fold", "--bundle", str(bundle_dir), "--fold", str(k),
               "--work", str(work / str(k))] + (["--smoke"] if smoke else []) + (["--seed", str(seed)] if seed else []) \
            + (["--fraction", str(fraction)] if fraction != 1 else [])
        procs[k] = subprocess.Popen(cmd, stdout=open(out / f"fold-{k}.log", "w"), stderr=subprocess.STDOUT, env=env)
    t0 = time.time()
    while any(p.poll() is None for p in procs.values()) and time.time() - t0 < deadline:
        time.sleep(5)
    status = {str(k): p.poll() for k, p in procs.items()}
    for p in procs.values():
        if p.poll() is None:
            p.kill()
    scores, logs = {}, {}
    for k in procs:
        if (work / str(k) / "log.json").exists():
            logs[str(k)] = json.loads((work / str(k) / "log.json").read_text())
        if status[str(k)] == 0 and (work / str(k) / "scores.pkl").exists():  # a killed fold may leave half a file
            scores.update(pickle.loads((work / str(k) / "scores.pkl").read_bytes()))
    (out / "scores.pkl.gz").write_bytes(gzip.compress(pickle.dumps(scores)))
    for name in files:
        path = work / ALL / name
        if status.get(ALL) == 0 and path.exists():
            blob = path.read_bytes()
            for j in range(0, (len(blob) + PART - 1) // PART):
                (out / f"{name}.part{j}").write_bytes(blob[j * PART:(j + 1) * PART])
    (out / "cv.json").write_text(json.dumps({"exit": status, "seconds": round(time.time() - t0), "logs": logs,
                                             "scored": len(scores)}, indent=1))
    # the logs of the folds, tails only, into one file (fewer files come back)
    with open(out / "folds.log", "w") as f:
        for k in procs:
            lines = (out / f"fold-{k}.log").read_text().splitlines()
            f.write(f"==== fold {k} ({len(lines)} lines)\n" + "\n".join(lines[-15:]) + "\n")
            (out / f"fold-{k}.log").unlink()
    print(json.dumps({"exit": status, "seconds": round(time.time() - t0), "scored": len(scores)}))


# ---------------------------------------------------------------- 3. here: the calibration on 809 claims


def scored_items(bundle_dir: Path, scores: dict, temperature: float | None = None) -> tuple[list[dict], list[dict], float]:
    """calibrate.py-style items (PairScores from the out-of-fold logits) for every scored candidate, the claims,
    and the temperature (fitted by NLL on the gold evidence abstracts' sentences unless given)."""
    from helpers.verification.calibration import NEGATED, PairScores
    from helpers.verification.crossencoder import softmax
    from training.verifier.calibrate import fit_temperature

    claims = _load_gz(bundle_dir / "claims.json.gz")
    by_id = {c["id"]: c for c in claims}
    raw = [it for it in _load_gz(bundle_dir / "items.json.gz") if (it["cid"], it["doc"]) in scores]
    if temperature is None:
        logits, gold = [], []
        for it in raw:
            c = by_id[it["cid"]]
            if it["gold"] < 2:
                rationale = {i: it["gold"] for s in c["evidence"][it["doc"]] for i in s["sentences"]}
                logits.append(scores[(it["cid"], it["doc"])]["logits3"])
                gold += [rationale.get(i, 2) for i in range(len(it["sentences"]))]
        temperature = fit_temperature(np.concatenate(logits), np.array(gold))
    items, missing = [], 0
    for it in raw:
        sc = scores[(it["cid"], it["doc"])]
        rel = 1.0 - softmax(sc["logits3"], temperature)[:, 2]
        top = [int(j) for j in np.argsort(-rel)[:2]]
        where = {j: i for i, j in enumerate(sc["dir_top"])}
        missing += sum(j not in where for j in top)
        p_dir = softmax(sc["dir_logits"])[:, 1]
        p3 = softmax(sc["logits3"][top], temperature)
        p_ref = np.array([p_dir[where[j]] if j in where else p3[n, 1] / (p3[n, 0] + p3[n, 1]) for n, j in enumerate(top)])
        c = by_id[it["cid"]]
        items.append({"claim": c, "doc": it["doc"], "gold": it["gold"], "rank": it["rank"], "cited": it["cited"],
                      "retrieval": it.get("retrieval"),
                      "sentences": it["sentences"], "logits3": sc["logits3"],
                      "scores": PairScores(rel, p_ref, top, bool(NEGATED.search(c["claim"])))})
    if missing:
        print(f"{missing} top sentences had no direction logits (3-way ratio used)")
    return items, [c for c in claims if any(it["claim"] is c for it in items)], temperature


def merge_scores(runs: list[dict]) -> tuple[dict, int]:
    """Out-of-fold scores of an ensemble from several runs' scores (same candidates): mean 3-way logits; for the
    DIR_TOP most relevant sentences under those, the mean direction logits of the runs that read the sentence (a
    run read its own DIR_TOP). Also returns how many sentences only some runs had read (an approximation: the
    shipped ensemble reads the same sentences with every direction model)."""
    from helpers.verification.crossencoder import softmax

    out, partial = {}, 0
    for key, first in runs[0].items():
        members = [r[key] for r in runs]
        logits3 = np.mean([m["logits3"] for m in members], axis=0)
        top, dir_logits = [], []
        for j in np.argsort(-(1 - softmax(logits3)[:, 2]))[:DIR_TOP]:
            read = [m["dir_logits"][m["dir_top"].index(int(j))] for m in members if int(j) in m["dir_top"]]
            if read:
                partial += len(read) < len(members)
                top.append(int(j))
                dir_logits.append(np.mean(read, axis=0))
        out[key] = {"logits3": logits3, "dir_top": top,
                    "dir_logits": np.asarray(dir_logits, dtype=np.float32).reshape(-1, first["dir_logits"].shape[-1])}
    return out, partial


def member_files(seeds: list[int]) -> tuple[list[str], list[str]]:
    """The shipped file names of the runs with these seed offsets: model.onnx / direction.onnx for 0,
    model-s{n}.onnx / direction-s{n}.onnx for n."""
    name = lambda stem, n: f"{stem}.onnx" if n == 0 else f"{stem}-s{n}.onnx"  # noqa: E731
    return [name("model", n) for n in seeds], [name("direction", n) for n in seeds]


def fit(bundle_dir: Path, scores_paths: list[Path], write: bool, top_ks: list[int], seeds: list[int] | None = None) -> None:
    """Temperature, maps and thresholds on all out-of-fold scores (calibrate.select); figures on all claims
    and on fold 0 alone; calibration.json with `write`. Several scores files (runs with the seed offsets `seeds`,
    default 0, 1, ...) are fitted as one ensemble."""
    from helpers.verification.calibration import Calibration
    from helpers.verification.crossencoder import model_dir
    from helpers.verification.verifier import TRAINING_CLAIMS
    from training.verifier.calibrate import best_threshold, cross_fitted, direction_accuracy, outcomes, select

    runs = [pickle.loads(gzip.decompress(p.read_bytes())) for p in scores_paths]
    seeds = list(range(len(runs))) if seeds is None else seeds
    if len(seeds) != len(runs):
        raise SystemExit(f"--seeds: {len(seeds)} seeds for {len(runs)} scores files")
    scores = runs[0]
    if len(runs) > 1:
        scores, partial = merge_scores(runs)
        print(f"ensemble of {len(runs)} runs; {partial} top sentences read by only some runs' direction models")
    items, claims, temperature = scored_items(bundle_dir, scores)
    print(f"{len(claims)} claims, {len(items)} candidates, temperature {temperature:.3f}", flush=True)
    rel_files, dir_files = member_files(seeds)
    base = Calibration(top_sentences=2, temperature=temperature, relevance_models=rel_files, direction_models=dir_files)
    zero = [c for c in claims if c["fold"] == 0]
    zero_items = [it for it in items if it["claim"]["fold"] == 0]
    m0, et0 = best_threshold(zero_items, zero, base, 5)
    d0 = direction_accuracy(zero_items, zero, Calibration(**{**base.__dict__, "evidence_threshold": et0}))
    print(f"fold 0 alone (the 80/20 validation claims, {len(zero)}): cross-fitted {m0}, threshold {et0}, {d0}",
          flush=True)
    cal, report = select(items, claims, base, top_ks)
    print(f"open, cross-fitted, top {cal.meta['top_k']}: {outcomes(cross_fitted(items, claims, cal, 'open')[1], claims)}")
    report["fold0_alone"] = {"cross_fitted": m0, "evidence_threshold": et0, **d0}
    runs_note = f" (an ensemble of {len(runs)} runs of the recipe, seed offsets {seeds})" if len(runs) > 1 else ""
    cal.meta = {"fitted_on": f"SciFact train, all {len(claims)} claims, out-of-fold scores of 5 models each trained "
                             f"on the other 4/5 (training/verifier/cv.py){runs_note}", "top_k": cal.meta["top_k"],
                "retrieval": f"hybrid top-{cal.meta['top_k']}", **report}
    print(json.dumps(report, indent=1))
    if write:
        path = write_text(model_dir() / "calibration.json", cal.to_json() + "\n")
        print(f"wrote {path}")
        write_training_claims(_load_gz(bundle_dir / "claims.json.gz"), model_dir() / TRAINING_CLAIMS)


def write_training_claims(claims: list[dict], path: Path) -> None:
    """The fingerprints of the claims the shipped models were trained on (`eval verify` warns about them)."""
    from helpers.verification.verifier import claim_key

    keys = sorted({claim_key(c["claim"]) for c in claims})
    write_text(path, f"# claim_key() of the {len(keys)} SciFact train claims the shipped models were trained on "
                     "(training/verifier/cv.py)\n" + "".join(k + "\n" for k in keys))
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bundle")
    b.add_argument("--data", type=Path, required=True, help="the data recipe's folder (train.jsonl, val_claims.jsonl)")
    b.add_argument("--corpus", type=Path, default=Path("../shared/data/scifact/corpus.jsonl"))
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--n-retrieved", type=int, default=5, help="retrieved non-evidence abstracts per claim (hard negatives)")
    b.add_argument("--per-retrieved-neg", type=int, default=2, help="NEI sentences taken from each of them")
    f = sub.add_parser("fold")
    f.add_argument("--bundle", type=Path, required=True)
    f.add_argument("--fold", required=True)
    f.add_argument("--work", type=Path, required=True)
    f.add_argument("--smoke", action="store_true")
    f.add_argument("--seed", type=int, default=0, help="added to the recipe's seeds (0: the shipped recipe)")
    f.add_argument("--fraction", type=float, default=1.0, help="share of the SciFact training claims (learning curve)")
    r = sub.add_parser("run")
    r.add_argument("--bundle", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--deadline", type=float, default=480, help="seconds after which unfinished folds are stopped")
    r.add_argument("--smoke", action="store_true", help="tiny data: check the whole run on a CPU")
    r.add_argument("--folds", nargs="+", default=None, help="only these (default: all and 0-4)")
    r.add_argument("--seed", type=int, default=0, help="added to the recipe's seeds: a second run of the recipe")
    r.add_argument("--fraction", type=float, default=1.0,
                   help="train on this share of the SciFact claims (a learning curve; use with --folds 0 1 2 3 4)")
    r.add_argument("--threads", type=int, default=None, help="per process (default: the cores shared out, at most 2)")
    sc = sub.add_parser("score", help="score the bundle's candidates of some folds with a model folder, here")
    sc.add_argument("--bundle", type=Path, required=True)
    sc.add_argument("--models", type=Path, required=True, help="holds model.onnx, direction.onnx, tokenizer.json")
    sc.add_argument("--folds", type=int, nargs="+", required=True)
    sc.add_argument("--out", type=Path, required=True, help="scores.pkl.gz, as `run` writes it")
    ft = sub.add_parser("fit")
    ft.add_argument("--bundle", type=Path, required=True)
    ft.add_argument("--scores", type=Path, nargs="+", required=True, help="one run's scores, or several (an ensemble)")
    ft.add_argument("--seeds", type=int, nargs="+", default=None, help="the runs' seed offsets (default 0 1 ...)")
    ft.add_argument("--top-k", type=int, nargs="+", default=[5])
    ft.add_argument("--write", action="store_true", help="write models/verifier/calibration.json")
    args = ap.parse_args()
    if args.cmd == "bundle":
        bundle(args.data, args.corpus, args.out, n_retrieved=args.n_retrieved, per_retrieved_neg=args.per_retrieved_neg)
    elif args.cmd == "fold":
        train_fold(args.bundle, args.fold if args.fold == ALL else int(args.fold), args.work, args.smoke, args.seed,
                   args.fraction)
    elif args.cmd == "score":
        folds = set(args.folds)
        ids = {c["id"] for c in _load_gz(args.bundle / "claims.json.gz") if c["fold"] in folds}
        items = [it for it in _load_gz(args.bundle / "items.json.gz") if it["cid"] in ids]
        write_bytes(args.out, gzip.compress(pickle.dumps(score_items(items, args.models))))
        print(f"scored {len(items)} candidates of {len(ids)} claims -> {args.out}")
    elif args.cmd == "run":
        run(args.bundle, args.out, args.deadline, args.smoke, args.folds, seed=args.seed, fraction=args.fraction,
            threads=args.threads)
    else:
        fit(args.bundle, args.scores, args.write, args.top_k, args.seeds)


if __name__ == "__main__":
    main()
