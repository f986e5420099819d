"""The trained verifier on real SciFact pairs, its abstention rule, offline loading, and `eval verify` end to end.

Real lines are read from the shared data at test time (nothing is copied into the repository). The pairs are
from SciFact train claims, on which the shipped models were trained (training/verifier/cv.py): a sanity check of
the shipped models, calibration and decision rule, not a benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import config
from helpers.errors import ModelError
from helpers.records import Paper
from helpers.verification.verifier import (
    Calibration,
    LexicalVerifier,
    NliVerifier,
    PairScores,
    Verdict,
    calibrated_probs,
    corroborate,
    decide,
    load_verifier,
    ranked_features,
    tally,
)

SCIFACT = config.data_root() / "scifact"
pytestmark = pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="shared SciFact data not present")
CDCA_DOC, CCL_DOC, MAC_DOC = 1568684, 2177022, 7521113
CLAIM_IDS = (250, 197, 85)  # 250 refuted by CDCA_DOC; 197 supported by CCL_DOC; 85 supported by MAC_DOC


def _lines(path: Path, keep) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line for line in fh if keep(json.loads(line))]


@pytest.fixture(scope="module")
def verifier() -> NliVerifier:
    return NliVerifier()


@pytest.fixture(scope="module")
def claims() -> dict[int, dict]:
    return {c["id"]: c for c in map(json.loads, _lines(SCIFACT / "claims_train.jsonl", lambda c: c["id"] in CLAIM_IDS))}


@pytest.fixture(scope="module")
def papers() -> dict[int, Paper]:
    rows = map(json.loads, _lines(SCIFACT / "corpus.jsonl", lambda d: d["doc_id"] in (CDCA_DOC, CCL_DOC, MAC_DOC)))
    return {d["doc_id"]: Paper(id=f"scifact:{d['doc_id']}", title=d["title"], abstract=" ".join(d["abstract"]),
                               sentences=d["abstract"]) for d in rows}


def test_load_verifier_offline_is_the_trained_model() -> None:
    v = load_verifier()  # pytest-socket blocks the network: loading must not need it
    assert isinstance(v, NliVerifier) and v.calibration.temperature > 0
    assert isinstance(load_verifier("lexical"), LexicalVerifier)


def test_missing_model_is_a_model_error(tmp_path, monkeypatch) -> None:
    shipped = config.models_dir() / "verifier"
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="calibration.json: verifier calibration file missing"):
        load_verifier()
    folder = tmp_path / "verifier"
    folder.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (folder / name).symlink_to(shipped / name)
    cal = Calibration(relevance_models=["model.onnx", "model-s9.onnx"])
    (folder / "calibration.json").write_text(cal.to_json())
    with pytest.raises(ModelError, match=r"model-s9.onnx: verifier model file missing"):  # a member of the ensemble
        load_verifier()
    cal = Calibration(relevance_models=["model.onnx"], direction_models=["direction.onnx", "direction-s9.onnx"])
    (folder / "direction.onnx").symlink_to(shipped / "direction.onnx")
    (folder / "calibration.json").write_text(cal.to_json())
    with pytest.raises(ModelError, match=r"direction-s9.onnx: verifier model file missing"):  # not silently dropped
        load_verifier()
    (folder / "calibration.json").write_text(Calibration(direction_models=[]).to_json())
    assert load_verifier().direction is None  # no direction model, when the calibration names none


def test_an_ensemble_averages_its_members_logits() -> None:
    from helpers.verification.crossencoder import CrossEncoder

    pairs = [("Vitamin D lowers the risk of fractures.", "Vitamin D had no effect on fracture risk in the trial."),
             ("Smoking causes lung cancer.", "The weather was sunny all week.")]
    members = Calibration.load(config.models_dir() / "verifier" / "calibration.json").relevance_models
    assert len(members) >= 2, "the shipped calibration names an ensemble"
    alone = [CrossEncoder(threads=1, filename=m).logits(pairs) for m in members]
    together = CrossEncoder(threads=1, filename=members).logits(pairs)
    assert not np.allclose(alone[0], alone[1], atol=1e-3)  # two different runs
    np.testing.assert_allclose(together, np.mean(alone, axis=0), atol=1e-5)


def test_bad_calibration_is_a_model_error(tmp_path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"temperature": 1.0, "direction": [1.0, 0.0]}))
    with pytest.raises(ModelError, match=r"calibration.json: direction: expected 3 numbers"):
        Calibration.load(path)
    path.write_text(json.dumps({"coef": [[1.0]]}))  # an old-format file
    with pytest.raises(ModelError, match="unreadable calibration"):
        Calibration.load(path)
    path.write_text(json.dumps({"relevance_models": "model.onnx"}))
    with pytest.raises(ModelError, match=r"calibration.json: relevance_models: expected a list of .onnx file names"):
        Calibration.load(path)
    path.write_text(json.dumps({"relevance_models": []}))
    with pytest.raises(ModelError, match=r"calibration.json: relevance_models: expected at least one"):
        Calibration.load(path)


def test_supported_and_unrelated(verifier, claims, papers) -> None:
    sup, unrel = verifier.verify_many([(claims[197]["claim"], papers[CCL_DOC]), (claims[197]["claim"], papers[CDCA_DOC])])
    gold_sents = claims[197]["evidence"][str(CCL_DOC)][0]["sentences"]
    assert sup.label == "SUPPORTS" and set(gold_sents) & set(sup.sentences)
    assert sup.evidence == [papers[CCL_DOC].sentences[i] for i in sup.sentences]
    assert unrel.label == "NOT ENOUGH INFO" and not unrel.sentences
    for v in (sup, unrel):
        assert 0 <= v.confidence <= 1 and abs(sum(v.probs.values()) - 1) < 1e-5
        assert v.confidence == pytest.approx(v.probs[v.label])


def test_labels_on_forty_pairs_of_each_kind(verifier) -> None:
    """The first 40 SUPPORT and 40 CONTRADICT (claim, evidence abstract) pairs of SciFact train, and 40 claims
    against another claim's evidence abstract, each judged on its own. The shipped models were trained on these
    claims: this checks the models, calibration and decision rule together, not accuracy on unseen claims
    (MODEL_CARD.md has those figures). An always-abstaining or always-SUPPORTS verifier fails it."""
    corpus = {d["doc_id"]: d for d in map(json.loads, open(SCIFACT / "corpus.jsonl", encoding="utf-8"))}
    pairs: dict[str, list[tuple[str, int]]] = {"SUPPORT": [], "CONTRADICT": []}
    for c in map(json.loads, open(SCIFACT / "claims_train.jsonl", encoding="utf-8")):
        for doc, sets in c["evidence"].items():
            pairs[sets[0]["label"]].append((c["claim"], int(doc)))
    sup, ref = pairs["SUPPORT"][:40], pairs["CONTRADICT"][:40]
    far = pairs["SUPPORT"][200:240]  # other topics: claims further down the file
    unrelated = [(claim, doc) for (claim, _), (_, doc) in zip(sup, far, strict=True)]

    def labels(ps: list[tuple[str, int]]) -> list[str]:
        papers = [Paper(id=f"scifact:{d}", title=corpus[d]["title"], abstract=" ".join(corpus[d]["abstract"]),
                        sentences=corpus[d]["abstract"]) for _, d in ps]
        return [v.label for v in verifier.verify_many([(c, p) for (c, _), p in zip(ps, papers, strict=True)])]

    on_sup, on_ref, on_unrel = labels(sup), labels(ref), labels(unrelated)
    assert on_sup.count("SUPPORTS") >= 20 and on_sup.count("REFUTES") <= 4
    assert on_ref.count("REFUTES") >= 20 and on_ref.count("SUPPORTS") <= 10
    assert on_unrel.count("NOT ENOUGH INFO") >= 34


@pytest.mark.xfail(reason="known limitation: claim 250's refuting sentence gets too little relevance (P(evidence) "
                          "below the threshold); direction is right for 75% of evidence abstracts (MODEL_CARD.md)",
                   strict=False)
def test_refuted(verifier, claims, papers) -> None:
    assert verifier.verify(claims[250]["claim"], papers[CDCA_DOC]).label == "REFUTES"


def test_corroborate_counts(verifier, claims, papers) -> None:
    verdicts = corroborate(verifier, claims[197]["claim"], [papers[CCL_DOC], papers[CDCA_DOC], papers[MAC_DOC]])
    assert [v.label for v in verdicts] == ["SUPPORTS", "NOT ENOUGH INFO", "NOT ENOUGH INFO"]
    assert tally(verdicts) == {"SUPPORTS": 1, "REFUTES": 0, "NOT ENOUGH INFO": 2}


def _scores(relevance: list[float], p_ref: float) -> PairScores:
    rel = np.array(relevance)
    return PairScores(rel, np.array([p_ref]), [int(np.argmax(rel))], negated_claim=False)


def test_a_pairs_verdict_does_not_depend_on_what_else_is_checked(verifier, claims, papers) -> None:
    """The int8 model quantises activations per run: scored in one batch with other pairs, a pair's confidence
    would shift with its neighbours. Checked alone or among others, it must be the same verdict, to the digit."""
    claim = claims[197]["claim"]
    alone = verifier.verify(claim, papers[CCL_DOC])
    crowd = verifier.verify_many([(claims[85]["claim"], papers[MAC_DOC]), (claim, papers[CCL_DOC]),
                                  (claims[250]["claim"], papers[CDCA_DOC]), (claim, papers[MAC_DOC])])[1]
    assert (crowd.label, crowd.sentences) == (alone.label, alone.sentences)
    assert crowd.probs == alone.probs


def test_weak_evidence_is_never_supports() -> None:
    # identity maps: P(evidence) = best sentence relevance, P(REFUTES | evidence) = the direction model's value
    cal = Calibration(evidence_threshold=0.6, rationale_threshold=0.5, pair_evidence=[1.0, 0.0, 0.0],
                      direction=[1.0, 0.0, 0.0])
    for rel in (0.05, 0.3, 0.55, 0.62):  # P(SUPPORTS) = rel * 0.95 < 0.6
        v = decide(_scores([rel, 0.01], 0.05), ["a", "b"], cal)
        assert v.label == "NOT ENOUGH INFO" and not v.sentences
        assert v.confidence == pytest.approx(1 - rel, abs=1e-6)
    v = decide(_scores([0.01, 0.9, 0.7], 0.05), ["a", "b", "c"], cal)
    assert v.label == "SUPPORTS" and v.sentences == [1, 2] and v.confidence == pytest.approx(0.9 * 0.95, abs=1e-6)
    v = decide(_scores([0.9, 0.01], 0.9), ["a", "b"], cal)
    assert v.label == "REFUTES" and v.confidence == pytest.approx(0.81, abs=1e-6)
    # relevant, but the direction is a coin toss: abstain rather than guess
    assert decide(_scores([0.99, 0.01], 0.5), ["a", "b"], cal).label == "NOT ENOUGH INFO"


def test_ranked_features_by_hand() -> None:
    a, b, c = _scores([0.9], 0.1), _scores([0.5], 0.1), _scores([0.1], 0.1)
    logit = lambda p: float(np.log(p / (1 - p)))  # noqa: E731
    retrieval = [[0.7, 30.0, 1.0], [0.5, 12.0, 0.6], [0.2, 0.0, 0.1]]  # cosine, BM25, fused score
    feats = ranked_features([a, b, c], retrieval)
    assert feats[0] == pytest.approx([logit(0.9) - logit(0.5), 1.0, 0.7, 30.0, 1.0])
    assert feats[1] == pytest.approx([logit(0.5) - logit(0.9), 0.5, 0.5, 12.0, 0.6])
    assert feats[2] == pytest.approx([logit(0.1) - logit(0.9), 1 / 3, 0.2, 0.0, 0.1])
    assert ranked_features([a], [[0.1, 2.0, 1.0]]) == [[8.0, 1.0, 0.1, 2.0, 1.0]]  # a lone candidate: margin clipped
    with pytest.raises(ValueError, match="retrieval: 2 rows of scores for 3 candidates"):
        ranked_features([a, b, c], retrieval[:2])


def test_eval_verify_end_to_end(tmp_path, monkeypatch, claims) -> None:
    from typer.testing import CliRunner

    from helpers.cli import app

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    docs = {CDCA_DOC, CCL_DOC, MAC_DOC} | {d for c in claims.values() for d in c["cited_doc_ids"]}
    n_other = [0]

    def keep(d: dict) -> bool:  # the claims' documents plus a few distractors
        if d["doc_id"] in docs:
            return True
        n_other[0] += 1
        return n_other[0] <= 5

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(_lines(SCIFACT / "corpus.jsonl", keep)))
    claims_file = tmp_path / "claims.jsonl"
    claims_file.write_text("".join(json.dumps(claims[i]) + "\n" for i in CLAIM_IDS))
    out = tmp_path / "pred.jsonl"
    result = CliRunner().invoke(app, ["eval", "verify", "--corpus", str(corpus), "--claims", str(claims_file),
                                      "--out", str(out), "--top-k", "2"])
    assert result.exit_code == 0, result.output
    assert "nli-minilm" in result.output and "lexical-overlap" in result.output and "ECE" in result.output
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["id"] for p in preds] == list(CLAIM_IDS)
    by_id = {p["id"]: p["evidence"] for p in preds}
    assert by_id[197][str(CCL_DOC)]["label"] == "SUPPORT"
    assert by_id[85][str(MAC_DOC)]["label"] == "SUPPORT"
    assert "abs label F1" in result.output
    assert "WARNING: 3 of 3 claims were in nli-minilm's training data" in result.output
    for ev in by_id.values():
        for pred in ev.values():
            assert 0 <= pred["confidence"] <= 1 and pred["sentences"]
    # oracle: the cited abstracts, judged as papers chosen for the claim (the cited map)
    result = CliRunner().invoke(app, ["eval", "verify", "--oracle", "--corpus", str(corpus), "--claims",
                                      str(claims_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    oracle = {p["id"]: p["evidence"] for p in map(json.loads, out.read_text().splitlines())}
    assert oracle[197][str(CCL_DOC)]["label"] == "SUPPORT" and oracle[85][str(MAC_DOC)]["label"] == "SUPPORT"


def test_score_counts_gold_abstracts_among_those_checked() -> None:
    from helpers.evaluation.verification import Run, score

    nei = Verdict("NOT ENOUGH INFO", 0.9, {"SUPPORTS": 0.05, "REFUTES": 0.05, "NOT ENOUGH INFO": 0.9})
    claims = [{"id": 1, "claim": "x", "evidence": {"10": [{"sentences": [0], "label": "SUPPORT"}],
                                                  "11": [{"sentences": [1], "label": "CONTRADICT"}]}},
              {"id": 2, "claim": "y", "evidence": {}}]
    run = Run("t", [{"id": 1, "evidence": {}}, {"id": 2, "evidence": {}}], [[("10", nei), ("99", nei)], [("10", nei)]], 1.0)
    assert score(run, claims, has_gold=True)["gold_checked"] == 0.5  # doc 11 was never retrieved for claim 1


def test_a_paper_chosen_for_the_claim_uses_the_cited_map() -> None:
    """Same scores, three provenances: found (per-pair map), chosen (cited map), ranked (ranked map, flag ignored)."""
    cal = Calibration(evidence_threshold=0.5, pair_evidence=[1.0, 0.0, -3.0], cited_evidence=[1.0, 0.0, 3.0],
                      ranked_evidence=[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -9.0], direction=[0.0, 0.0, -4.0])
    sc = _scores([0.5, 0.1], p_ref=0.1)  # best relevance logit 0
    found, chosen = calibrated_probs(sc, cal), calibrated_probs(sc, cal, cited=True)
    assert found[2] == pytest.approx(1 - 1 / (1 + np.exp(3.0)))
    assert chosen[2] == pytest.approx(1 - 1 / (1 + np.exp(-3.0)))
    assert decide(sc, ["a", "b"], cal).label == "NOT ENOUGH INFO"
    assert decide(sc, ["a", "b"], cal, cited=True).label == "SUPPORTS"
    ranked = calibrated_probs(sc, cal, [0.0, 1.0, 0.5, 10.0, 1.0], cited=True)
    assert ranked[2] == pytest.approx(1 - 1 / (1 + np.exp(9.0)))


def test_verify_many_takes_one_cited_flag_per_pair(verifier, claims, papers) -> None:
    pairs = [(claims[85]["claim"], papers[MAC_DOC]), (claims[85]["claim"], papers[CDCA_DOC])]
    mixed = verifier.verify_many(pairs, cited=[True, False])
    assert mixed[0].probs == verifier.verify_many(pairs[:1], cited=True)[0].probs
    assert mixed[1].probs == verifier.verify_many(pairs[1:])[0].probs
    assert mixed[0].probs["NOT ENOUGH INFO"] < verifier.verify_many(pairs[:1])[0].probs["NOT ENOUGH INFO"]
    with pytest.raises(ValueError, match="cited: 1 flags for 2 pairs"):
        verifier.verify_many(pairs, cited=[True])


def test_grounding_is_checked_as_cited_and_corroboration_as_found() -> None:
    """check_claims: the claim's own source is a paper chosen for it; the other papers were found for it."""
    from helpers.verification.claims import Claim
    from helpers.verification.stage import check_claims

    seen: list[tuple[str, bool]] = []

    class Recorder:
        name = "recorder"

        def verify(self, claim, paper):  # pragma: no cover - not called
            raise AssertionError

        def verify_many(self, pairs, cited=False):
            seen.extend((p.id, c) for (_, p), c in zip(pairs, cited, strict=True))
            return [Verdict("NOT ENOUGH INFO", 1.0, {"SUPPORTS": 0.0, "REFUTES": 0.0, "NOT ENOUGH INFO": 1.0})
                    for _ in pairs]

    own = Paper(id="p:1", title="Own", abstract="Routing sparse experts speeds up inference.")
    pool = [own, Paper(id="p:2", title="Other", abstract="Sparse experts and routing for inference speed."),
            Paper(id="p:3", title="Third", abstract="Sparse routing of experts.")]
    claim = Claim("c1", "p:1", "Routing sparse experts speeds up inference.", 0, 1.0, 1.0)
    check_claims([claim], {"p:1": own}, pool, Recorder(), threshold=0.6)
    assert seen[0] == ("p:1", True) and sorted(seen[1:]) == [("p:2", False), ("p:3", False)]


def test_claims_the_models_were_trained_on_are_recognised(tmp_path, verifier, claims) -> None:
    from helpers.verification.verifier import claim_key, training_claims

    assert claim_key("CCL19 is  a ligand for CCR7.") == claim_key("ccl19 is a ligand for ccr7.")
    assert claim_key("CCL19 is a ligand for CCR7.") != claim_key("CCL19 is not a ligand for CCR7.")
    assert all(claim_key(c["claim"]) in verifier.trained_on for c in claims.values())  # SciFact train claims
    assert claim_key("A claim nobody trained on.") not in verifier.trained_on
    (tmp_path / "training_claims.txt").write_text("# header\nabc123\n\n")
    assert training_claims(tmp_path) == {"abc123"} and training_claims(tmp_path / "none") == frozenset()


def test_eval_verify_counts_only_the_training_claims(tmp_path, monkeypatch, claims) -> None:
    from helpers.evaluation.verification import evaluate, report

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(_lines(SCIFACT / "corpus.jsonl", lambda d: d["doc_id"] in (CCL_DOC, MAC_DOC))))
    new = {**claims[197], "id": 1, "claim": "CCL19 binds CCR7 on dendritic cells in mice."}
    path = tmp_path / "claims.jsonl"
    path.write_text(json.dumps(claims[85]) + "\n" + json.dumps(new) + "\n")
    runs = evaluate(corpus, path, [NliVerifier()], top_k=1, oracle=True)
    assert runs[0].metrics["claims_seen_in_training"] == 1
    assert "WARNING: 1 of 2 claims were in nli-minilm's training data" in report(runs, "oracle")
