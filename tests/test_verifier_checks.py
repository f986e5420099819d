"""The claim-only direction prior of `training/verifier/checks.py claims`: cross-fitted, centred on the base rate."""

from __future__ import annotations

import numpy as np

from training.verifier.checks import _claim_prior


def test_claim_prior_learns_wording_from_other_folds_only(capsys) -> None:
    # REFUTES claims say "never"; the prior of a held-out claim comes from the other folds' claims alone
    claims = []
    for i in range(80):
        refuted = i % 3 == 0
        text = f"drug {i % 7} never lowers marker {i % 5}" if refuted else f"drug {i % 7} lowers marker {i % 5}"
        claims.append({"id": i, "claim": text, "evidence": {"1": [{"label": "CONTRADICT" if refuted else "SUPPORT"}]}})
    claims.append({"id": 999, "claim": "drug 3 never lowers marker 2", "evidence": {}})  # no evidence: a prior all the same
    fold = {c["id"]: c["id"] % 5 for c in claims}
    prior = _claim_prior(claims, fold)
    assert set(prior) == {c["id"] for c in claims}
    refuted = [prior[c["id"]] for c in claims[:80] if "never" in c["claim"]]
    supported = [prior[c["id"]] for c in claims[:80] if "never" not in c["claim"]]
    assert min(refuted) > 0 > max(supported)  # centred on the base rate: sign = which way the wording points
    assert prior[999] > 0
    assert "right on 1.000 of 80 claims" in capsys.readouterr().out
    assert np.isfinite(list(prior.values())).all()
