"""Checks on the shipped verifier that need no training, from a calibration cache (`calibrate.py --cache`):

    python -m training.verifier.checks batching  --cache CAL.pkl   # logits alone vs in batches; throughput
    python -m training.verifier.checks direction --cache CAL.pkl   # other ways of reading the direction
    python -m training.verifier.checks features --bundle .cv --scores OUT/scores.pkl.gz   # on 809 out-of-fold claims
    python -m training.verifier.checks claims --bundle .cv --scores RUN0/scores.pkl.gz [RUN1/...] [--embed]

`batching`: the relevance model's logits for the sentences of the first 60 candidate abstracts, scored in batches
of 64 and 16 and one pair at a time: pairs/s and the largest logit difference against one pair at a time.

`direction`: calibrate.py's cross-fitted open label-only F1 (best threshold of its grid, top-5 candidates) for
alternatives to the shipped reading (the direction model on the 2 most relevant sentences, two map features):
the top 1 or 3 sentences, the top 2 joined into one input, at most one verdict per claim, and extra features in
the direction map (lexical polarity mismatch, null-result wording, the 3-way model's own SUPPORTS-vs-REFUTES logit).

`features`: the same cross-fitted F1 on the five-fold out-of-fold scores of all 809 SciFact train claims
(`cv.py run` / `fit`), for the number of candidates per claim, the direction-map features above and extra
features in the evidence maps (claim-word overlap of the best sentence, the 3-way model's best SUPPORTS and REFUTES
logits, the direction model's certainty, the number of sentences with relevance > 0.5).

`claims`: readings across a claim's candidates, on the out-of-fold scores (several runs: their ensemble), with the
ranked map as shipped: one direction shared by a claim's verdicts (each candidate's P(REFUTES | evidence) moved
towards the claim's P(evidence)-weighted mean), a claim-only prior (TF-IDF logistic regression of the claim text
alone, SUPPORTS vs REFUTES, fitted on the other cross-fitting folds' claims, added to the direction logit), and
with `--embed` the bi-encoder's sentence cosines (the retrieval's own MiniLM, claim against each sentence of the
candidate) as ranked-map features: best cosine, then also the second best, or its margin over the other
candidates' best. Embedding the ~20,000 sentences of the top-5 candidates takes about 5 min on 2 cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.records import LABELS
from helpers.text import content_words
from helpers.verification.calibration import Calibration, PairScores, _logit, calibrated_probs
from helpers.verification.crossencoder import CrossEncoder, softmax
from helpers.verification.verifier import Verdict
from training.verifier.calibrate import best_threshold, cross_fitted, metrics

UP = re.compile(r"\b(increas\w*|higher|more|greater|elevat\w*|enhanc\w*|improv\w*|promot\w*|activat\w*|"
                r"up-?regulat\w*|induc\w*|stimulat\w*|rise|rises|gain\w*|positive\w*|benefit\w*|augment\w*|"
                r"accelerat\w*|exacerbat\w*)\b", re.I)
DOWN = re.compile(r"\b(decreas\w*|lower|less|fewer|reduc\w*|inhibit\w*|suppress\w*|impair\w*|worsen\w*|"
                  r"down-?regulat\w*|prevent\w*|declin\w*|loss|negative\w*|attenuat\w*|diminish\w*|block\w*|"
                  r"abolish\w*|protect\w*)\b", re.I)
NULL = re.compile(r"\b(no|not|neither|nor)\b[^.;]{0,40}\b(significant\w*|effect|difference|association|associated|"
                  r"change|correlat\w*|increase|decrease|improve\w*|reduc\w*|altered|affect\w*)|\bdid not\b|"
                  r"\bwas not\b|\bwere not\b|\bfailed to\b|\bunchanged\b|\bsimilar\b|\bcomparable\b", re.I)


@dataclass
class _WithExtra(PairScores):
    """PairScores whose direction features carry extra columns (the fitted map takes any number)."""

    extra: list[float] = field(default_factory=list)

    def direction_features(self) -> list[float]:
        return super().direction_features() + self.extra


@dataclass
class _WithEvidenceExtra(PairScores):
    """PairScores whose evidence features carry extra columns (best relevance stays first, for the rank margin)."""

    extra: list[float] = field(default_factory=list)

    def evidence_features(self) -> list[float]:
        return super().evidence_features() + self.extra


def _polarity(text: str) -> int:
    return int(np.sign(len(UP.findall(text)) - len(DOWN.findall(text))))


def batching(items: list[dict]) -> None:
    pairs = [(it["claim"]["claim"], s) for it in items[:60] for s in it["sentences"]]
    enc = CrossEncoder(threads=2)
    alone = None
    for bs in (1, 64, 16):
        t0 = time.time()
        out = enc.logits(pairs, batch_size=bs)
        rate = len(pairs) / (time.time() - t0)
        alone = out if alone is None else alone
        print(f"batch {bs:>2}: {rate:.0f} pairs/s, largest logit difference vs one at a time "
              f"{float(np.abs(out - alone).max()):.3f} ({len(pairs)} pairs)")


def direction(items: list[dict], claims: list[dict], temperature: float) -> None:
    base = Calibration(top_sentences=2, temperature=temperature)
    shipped = [it["scores"] for it in items]

    def report(name: str, scores: list[PairScores]) -> tuple[dict, float]:
        for it, sc in zip(items, scores, strict=True):
            it["scores"] = sc
        m, et = best_threshold(items, claims, base, 5)
        print(f"{name}: open label-only F1 {m['label_only_f1']:.3f} (P {m['precision']:.3f} R {m['recall']:.3f}, "
              f"threshold {et})", flush=True)
        return m, et

    _, et = report("shipped (top 2 sentences)", shipped)
    _, pairs = cross_fitted(items, claims, Calibration(**{**base.__dict__, "evidence_threshold": et}), "open")
    best: dict[int, tuple[float, int]] = {}
    for it, v in pairs:
        if v.label != "NOT ENOUGH INFO":
            cid = it["claim"]["id"]
            best[cid] = max(best.get(cid, (-1.0, 0)), (v.confidence, id(it)))
    one = [(it, v) if v.label == "NOT ENOUGH INFO" or best[it["claim"]["id"]][1] == id(it)
           else (it, Verdict("NOT ENOUGH INFO", v.probs["NOT ENOUGH INFO"], v.probs)) for it, v in pairs]
    print(f"at most one verdict per claim: open label-only F1 {metrics(one, claims)['label_only_f1']:.3f}")

    dir_enc = CrossEncoder(threads=2, filename="direction.onnx")
    top3 = [[int(j) for j in np.argsort(-sc.relevance)[:3]] for sc in shipped]
    p3 = softmax(dir_enc.logits([(it["claim"]["claim"], it["sentences"][j])
                                 for it, tp in zip(items, top3, strict=True) for j in tp]))[:, 1]
    starts = np.cumsum([0] + [len(tp) for tp in top3])
    for n in (1, 3):
        report(f"top {n} sentence(s)", [PairScores(sc.relevance, p3[a:a + len(tp)][:n], tp[:n], sc.negated_claim)
                                        for sc, tp, a in zip(shipped, top3, starts, strict=False)])
    joined = softmax(dir_enc.logits([(it["claim"]["claim"], " ".join(it["sentences"][j] for j in sorted(tp[:2])))
                                     for it, tp in zip(items, top3, strict=True)]))[:, 1]
    report("top 2 joined into one input", [PairScores(sc.relevance, np.array([q]), tp[:1], sc.negated_claim)
                                           for sc, tp, q in zip(shipped, top3, joined, strict=True)])

    three = softmax(CrossEncoder(threads=2).logits([(it["claim"]["claim"], it["sentences"][j])
                                                    for it, sc in zip(items, shipped, strict=True)
                                                    for j in sc.top]), temperature)
    p_ref3 = three[:, 1] / (three[:, 0] + three[:, 1] + 1e-9)
    k, extra = 0, {}
    for it, sc in zip(items, shipped, strict=True):
        cols = _direction_extras(it["claim"]["claim"], [it["sentences"][j] for j in sc.top], sc,
                                 p_ref3[k:k + len(sc.top)])
        k += len(sc.top)
        for name, c in cols.items():
            extra.setdefault(name, []).append(_WithExtra(sc.relevance, sc.p_refutes, sc.top, sc.negated_claim, c))
    for name, scores in extra.items():
        report(f"direction map + {name}", scores)


def _direction_extras(claim: str, tops: list[str], sc: PairScores, p_ref3: np.ndarray) -> dict[str, list[float]]:
    """The direction-map extras of `direction`, for one candidate (p_ref3: the 3-way model's P(REFUTES | SUP or
    REF) on the top sentences)."""
    mismatch = float(np.mean([_polarity(claim) * _polarity(s) for s in tops])) if tops else 0.0
    null_s, null_c = float(any(NULL.search(s) for s in tops)), float(bool(NULL.search(claim)))
    null = [null_s * (1 - null_c), null_c * (1 - null_s)]
    w = sc.relevance[sc.top] + 1e-6
    three_way = float(np.sum(w * _logit(p_ref3)) / w.sum()) if len(sc.top) else 0.0
    return {"polarity mismatch": [mismatch], "null result": null, "polarity + null": [mismatch, *null],
            "3-way logit": [three_way], "null + 3-way logit": [*null, three_way]}


def _per_fold(items: list[dict], base: Calibration) -> None:
    """The share of evidence among the open top-5 candidates and the cited abstracts, and, per model fold, the
    temperature and direction map fitted on that fold alone (how much a 162-claim fit varies)."""
    from training.verifier.calibrate import fit_maps, fit_temperature, with_context

    with_context(items, 5)
    for name, group in (("open top-5 candidates", [it for it in items if it["context"] is not None]),
                        ("cited abstracts", [it for it in items if it["cited"]])):
        print(f"evidence among {name}: {np.mean([it['gold'] < 2 for it in group]):.3f} of {len(group)}")
    for f in sorted({it["claim"]["fold"] for it in items}):
        part = [it for it in items if it["claim"]["fold"] == f]
        logits, gold = [], []
        for it in part:
            if it["gold"] < 2:
                rationale = {i for s in it["claim"]["evidence"][it["doc"]] for i in s["sentences"]}
                logits.append(it["logits3"])
                gold += [it["gold"] if i in rationale else 2 for i in range(len(it["sentences"]))]
        d = fit_maps(part, base).direction
        print(f"fold {f} alone: temperature {fit_temperature(np.concatenate(logits), np.array(gold)):.3f}, direction map "
              f"(direction logit, claim negation, intercept) {', '.join(f'{x:+.2f}' for x in d)}")


def features(bundle: Path, scores_path: Path) -> None:
    from training.verifier.cv import scored_items

    scores = pickle.loads(gzip.decompress(scores_path.read_bytes()))
    items, claims, temperature = scored_items(bundle, scores)
    base = Calibration(top_sentences=2, temperature=temperature)
    shipped = [it["scores"] for it in items]

    def report(name: str, scored: list[PairScores], k: int = 5) -> None:
        for it, sc in zip(items, scored, strict=True):
            it["scores"] = sc
        m, et = best_threshold(items, claims, base, k)
        print(f"{name}: open label-only F1 {m['label_only_f1']:.3f} (P {m['precision']:.3f} R {m['recall']:.3f}, "
              f"ECE {m['ece']:.3f}, threshold {et})", flush=True)

    print(f"{len(claims)} claims, {len(items)} candidates, temperature {temperature:.3f}")
    _per_fold(items, base)
    for k in (3, 5, 7, 10):
        report(f"top {k} candidates" + (" (shipped)" if k == 5 else ""), shipped, k)
    direction: dict[str, list[PairScores]] = {}
    evidence: dict[str, list[PairScores]] = {n: [] for n in ("claim-word overlap of the best sentence",
                                                             "best SUPPORTS and REFUTES logits of the 3-way model",
                                                             "direction certainty", "sentences with relevance > 0.5")}
    for it, sc in zip(items, shipped, strict=True):
        claim, tops = it["claim"]["claim"], [it["sentences"][j] for j in sc.top]
        p3 = softmax(it["logits3"], temperature)
        p_ref3 = p3[sc.top, 1] / (p3[sc.top, 0] + p3[sc.top, 1] + 1e-9)
        for name, cols in _direction_extras(claim, tops, sc, p_ref3).items():
            direction.setdefault(name, []).append(_WithExtra(sc.relevance, sc.p_refutes, sc.top, sc.negated_claim, cols))
        words = set(content_words(claim))
        cols = [[len(words & set(content_words(tops[0]))) / max(1, len(words)) if tops else 0.0],
                [float(_logit(p3[:, 0].max())), float(_logit(p3[:, 1].max()))],
                [float(np.abs(_logit(sc.p_refutes)).mean()) if len(sc.p_refutes) else 0.0],
                [float(np.log1p((sc.relevance > 0.5).sum()))]]
        for name, c in zip(evidence, cols, strict=True):
            evidence[name].append(_WithEvidenceExtra(sc.relevance, sc.p_refutes, sc.top, sc.negated_claim, c))
    for name, scored in direction.items():
        report(f"direction map + {name}", scored)
    for name, scored in evidence.items():
        report(f"evidence maps + {name}", scored)


def _claim_prior(claims: list[dict], fold: dict[int, int]) -> dict[int, float]:
    """Cross-fitted claim-only direction prior: per claim, the logit of P(REFUTES) from a TF-IDF logistic
    regression on the claim text of the other folds' claims with evidence, less their base-rate logit."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    label = {c["id"]: int(next(iter(c["evidence"].values()))[0]["label"] == "CONTRADICT") for c in claims if c["evidence"]}
    prior, right = {}, []
    for f in sorted(set(fold.values())):
        train = [c for c in claims if fold[c["id"]] != f and c["id"] in label]
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit([c["claim"] for c in train])
        y = [label[c["id"]] for c in train]
        lr = LogisticRegression(max_iter=2000).fit(vec.transform([c["claim"] for c in train]), y)
        test = [c for c in claims if fold[c["id"]] == f]
        base = float(_logit(np.mean(y)))
        for c, z in zip(test, lr.decision_function(vec.transform([c["claim"] for c in test])), strict=True):
            prior[c["id"]] = float(z) - base
            if c["id"] in label:
                right.append((z > 0) == bool(label[c["id"]]))
    print(f"claim-only direction: right on {np.mean(right):.3f} of {len(right)} claims with evidence "
          f"(always SUPPORTS {1 - np.mean(list(label.values())):.3f})")
    return prior


def _sentence_cosines(items: list[dict], claims: list[dict]) -> dict[tuple[int, str], np.ndarray]:
    """Cosine of the claim's and each sentence's bi-encoder embedding (the retrieval's MiniLM), for the ranked
    candidates."""
    from helpers.retrieval.embed import get_embedder

    ranked = [it for it in items if it["context"] is not None]
    docs = {it["doc"]: it["sentences"] for it in ranked}
    flat = [(d, s) for d, ss in docs.items() for s in ss]
    t0 = time.time()
    emb = get_embedder(128)
    vecs = emb.encode([s for _, s in flat], batch_size=64)
    print(f"embedded {len(flat)} sentences of {len(docs)} abstracts in {time.time() - t0:.0f} s", flush=True)
    by_doc: dict[str, list[np.ndarray]] = {}
    for (d, _), v in zip(flat, vecs, strict=True):
        by_doc.setdefault(d, []).append(v)
    cvec = dict(zip([c["id"] for c in claims], emb.encode([c["claim"] for c in claims]), strict=True))
    return {(it["claim"]["id"], it["doc"]): np.stack(by_doc[it["doc"]]) @ cvec[it["claim"]["id"]] for it in ranked}


def claim_readings(bundle: Path, scores_paths: list[Path], embed: bool) -> None:
    """The `claims` check: the shipped reading and the cross-candidate readings of the module docstring, each at
    its best evidence threshold, cross-fitted over claims exactly as `calibrate.cross_fitted` folds them."""
    from training.verifier.calibrate import FOLDS, GRID, fit_maps, with_context
    from training.verifier.cv import merge_scores, scored_items

    runs = [pickle.loads(gzip.decompress(p.read_bytes())) for p in scores_paths]
    items, claims, temperature = scored_items(bundle, merge_scores(runs)[0] if len(runs) > 1 else runs[0])
    base = Calibration(top_sentences=2, temperature=temperature)
    with_context(items, 5)
    ids = sorted(c["id"] for c in claims)
    random.Random(20).shuffle(ids)
    fold = {cid: i % FOLDS for i, cid in enumerate(ids)}  # calibrate.cross_fitted's folds

    def best(share: float = 0.0, prior: dict[int, float] | None = None) -> dict:
        """Cross-fitted metrics at the best evidence threshold, with the direction shared / shifted."""
        probs: list[tuple[dict, np.ndarray]] = []
        for f in range(FOLDS):
            fitted = fit_maps([it for it in items if fold[it["claim"]["id"]] != f], base)
            group: dict[int, list[tuple[dict, float, float]]] = {}
            for it in items:
                if fold[it["claim"]["id"]] == f and it["context"] is not None:
                    p = calibrated_probs(it["scores"], fitted, it["context"])
                    group.setdefault(it["claim"]["id"], []).append((it, p[0] + p[1], p[1] / max(1e-9, p[0] + p[1])))
            for cid, g in group.items():
                shared = sum(e * r for _, e, r in g) / max(1e-9, sum(e for _, e, _ in g))
                for it, e, r in g:
                    r = (1 - share) * r + share * shared
                    if prior is not None:
                        r = 1 / (1 + np.exp(-(float(_logit(r)) + prior[cid])))
                    probs.append((it, np.array([e * (1 - r), e * r, 1 - e])))
        out = []
        for et in GRID:
            pairs = []
            for it, q in probs:
                k = int(np.argmax(q[:2]))
                pm = dict(zip(LABELS, map(float, q), strict=True))
                pairs.append((it, Verdict(LABELS[k], float(q[k]), pm, it["scores"].top[:1]) if q[k] >= et else
                              Verdict("NOT ENOUGH INFO", float(q[2]), pm)))
            out.append(metrics(pairs, claims))
        return max(out, key=lambda m: m["label_only_f1"])

    def show(name: str, m: dict) -> None:
        print(f"{name}: open label-only F1 {m['label_only_f1']:.3f} (P {m['precision']:.3f} R {m['recall']:.3f}, "
              f"ECE {m['ece']:.3f})", flush=True)

    print(f"{len(claims)} claims, {len(items)} candidates, {len(runs)} run(s)")
    show("as shipped", best())
    for share in (0.25, 0.5, 1.0):
        show(f"direction shared by a claim's candidates, weight {share}", best(share))
    prior = _claim_prior(claims, fold)
    for w in (0.5, 1.0):
        show(f"claim-only prior x {w} added to the direction logit", best(prior={k: w * v for k, v in prior.items()}))
    if not embed:
        return
    cos = _sentence_cosines(items, claims)
    by: dict[int, list[dict]] = {}
    for it in items:
        if it["context"] is not None:
            by.setdefault(it["claim"]["id"], []).append(it)
    shipped = {id(it): list(it["context"]) for g in by.values() for it in g}
    for name in ("best sentence cosine", "best and second cosine", "best cosine and its margin"):
        for g in by.values():
            tops = [float(cos[(it["claim"]["id"], it["doc"])].max()) for it in g]
            for j, it in enumerate(g):
                c = np.sort(cos[(it["claim"]["id"], it["doc"])])[::-1]
                others = tops[:j] + tops[j + 1:]
                extra = {"best sentence cosine": [c[0]],
                         "best and second cosine": [c[0], c[1] if len(c) > 1 else 0.0],
                         "best cosine and its margin": [c[0], c[0] - max(others) if others else 0.0]}[name]
                it["context"] = shipped[id(it)] + [float(x) for x in extra]
        m, _ = best_threshold(items, claims, base, None)  # None: keep the extended context
        show(f"ranked map + {name}", m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("check", choices=["batching", "direction", "features", "claims"])
    ap.add_argument("--cache", type=Path, help="calibrate.py --cache pickle (batching, direction)")
    ap.add_argument("--bundle", type=Path, default=Path(".cv"), help="cv.py bundle folder (features)")
    ap.add_argument("--scores", type=Path, nargs="+", help="cv.py run's scores.pkl.gz (features: one; claims: one or more)")
    ap.add_argument("--embed", action="store_true", help="claims: also the bi-encoder sentence cosines (about 5 min)")
    ap.add_argument("--data", type=Path, default=Path(".cache/verifier-data"), help="holds val_claims.jsonl")
    args = ap.parse_args()
    if args.check in ("features", "claims"):
        if not args.scores:
            ap.error(f"{args.check} needs --scores")
        if args.check == "claims":
            return claim_readings(args.bundle, args.scores, args.embed)
        return features(args.bundle, args.scores[0])
    if not args.cache:
        ap.error(f"{args.check} needs --cache")
    temperature, items = pickle.loads(args.cache.read_bytes())
    if args.check == "batching":
        batching(items)
    else:
        claims = [json.loads(line) for line in open(args.data / "val_claims.jsonl", encoding="utf-8")]
        direction(items, claims, temperature)


if __name__ == "__main__":
    main()
