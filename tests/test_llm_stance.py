"""The LLM stance reader: the answer probabilities it reads from an OpenAI-compatible endpoint (the local fake),
the head that must be fitted for the model in use, and what happens when the endpoint fails."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.errors import ModelError
from helpers.llm import notes
from helpers.llm import stance as llm_stance
from helpers.llm.client import LLMClient
from helpers.llm.settings import LLMSettings
from helpers.records import Paper
from helpers.verification.stance import FEATURES, StanceHead, StanceModel
from tests.fake_llm import FakeLLM, serve
from tests.test_llm import closed_port_url

QUESTION = "Does speculative decoding speed up inference?"
YES = Paper(id="p:yes", title="Fast", abstract="We propose a draft model. Speculative decoding gives a 2.5x speed-up "
                                               "at the same output quality.")
NO = Paper(id="p:no", title="Slow", abstract="We test a draft model. Speculative decoding did not improve latency "
                                             "on our hardware.")


def settings(url: str, model: str = "fake-model", stance: bool = True) -> LLMSettings:
    return LLMSettings(url=url, model=model, temperature=0.0, seed=13, timeout=5.0, max_papers=4, context=4096,
                       source="params", stance=stance)


def head(model: str = "fake-model") -> StanceHead:
    """A head that follows the LLM: log P(no) - log P(yes) drives yes against no."""
    n = len(FEATURES) + len(llm_stance.LLM_FEATURES)
    w = np.zeros((3, n))
    w[0, len(FEATURES)], w[1, len(FEATURES)] = -1.0, 1.0
    return StanceHead(w.tolist(), [0.0, 0.0, -3.0], 1.0, list(FEATURES) + list(llm_stance.LLM_FEATURES),
                      meta={"llm_model": model})


@pytest.fixture(scope="module")
def base():
    return StanceModel()


def test_answer_probabilities_sum_the_spellings_and_floor_the_missing():
    lp = llm_stance.answer_logprobs([("Yes", -0.5), (" yes", -2.0), ("no", -1.5), ("The", -4.0)])
    assert lp["yes"] == pytest.approx(np.logaddexp(-0.5, -2.0))
    assert lp["no"] == -1.5
    assert lp["maybe"] == -4.0 - llm_stance.FLOOR  # below every candidate read
    assert llm_stance.llm_features(lp) == [pytest.approx(lp["no"] - lp["yes"]), pytest.approx(-4.0 - 1.0 - lp["yes"])]


def test_the_head_is_used_only_for_the_model_it_was_fitted_for(tmp_path):
    path = tmp_path / "stance-llm.json"
    path.write_text(json.dumps(head("qwen-x").__dict__))
    assert llm_stance.load_head("qwen-x", path) is not None
    assert llm_stance.load_head("another-model", path) is None
    model, note = llm_stance.stance_model(settings("http://127.0.0.1:9/v1", "another-model"), None, path)
    assert model is None and "another-model" in note and "no stance head is fitted" in note
    assert llm_stance.stance_model(None, None, path)[0] is None
    model, note = llm_stance.stance_model(settings("http://127.0.0.1:9/v1", "qwen-x", stance=False), None, path)
    assert model is None and "llm.stance is off" in note  # opt-in: the head exists, but the params did not ask
    # a head over other features is refused, naming the file
    path.write_text(json.dumps(StanceHead(np.zeros((3, len(FEATURES))).tolist(), [0, 0, 0], 1.0,
                                          list(FEATURES), meta={"llm_model": "qwen-x"}).__dict__))
    with pytest.raises(ModelError, match="stance-llm.json: features"):
        llm_stance.load_head("qwen-x", path)


def test_the_llm_reads_the_direction_and_a_rerun_asks_nothing(fake_server, base, tmp_path):
    fake = FakeLLM()
    url = serve(fake_server, fake)
    model = llm_stance.LLMStanceModel(LLMClient(settings(url), cache_root=tmp_path), base, head())
    yes, no = model.stances(QUESTION, [YES, NO])
    assert (yes.label, no.label) == ("yes", "no")
    assert yes.method == no.method == "stance-verifier+llm-lr (fake-model)"
    assert yes.probs["yes"] > 0.9 and no.probs["no"] > 0.9 and abs(sum(yes.probs.values()) - 1) < 1e-9
    sent = [r["body"] for r in fake.requests]
    assert len(sent) == 2 and all(b["logprobs"] is True and b["max_tokens"] == 1 for b in sent)
    assert "did not improve latency" in sent[1]["messages"][-1]["content"]
    again = llm_stance.LLMStanceModel(LLMClient(settings(url), cache_root=tmp_path), base, head())
    assert [s.probs for s in again.stances(QUESTION, [YES, NO])] == [yes.probs, no.probs]
    assert len(fake.requests) == 2 and again.client.usage.cache_hits == 2


def test_a_server_down_falls_back_to_the_verifier_head_with_one_fault(base, tmp_path):
    model = llm_stance.LLMStanceModel(LLMClient(settings(closed_port_url()), cache_root=tmp_path), base, head())
    got = model.stances(QUESTION, [YES, NO])
    alone = base.stances(QUESTION, [YES, NO])
    assert [s.probs for s in got] == [s.probs for s in alone]  # read by the verifier's head, as without the LLM
    assert all(s.method == base.name for s in got)
    assert model.read_by_llm == 0 and [f["kind"] for f in model.faults] == ["down"]
    assert model.client.usage.requests == 1  # the second paper was not sent
    lines = notes.limitations(None, None, {"model": "fake-model", "settings": {"url": "http://127.0.0.1:1/v1"},
                                           "faults": model.faults})
    assert len(lines) == 1 and "the stance reading was skipped" in lines[0]


def test_a_server_without_log_probabilities_is_a_fault_per_paper(fake_server, base, tmp_path):
    url = serve(fake_server, FakeLLM(mode="no_logprobs"))
    model = llm_stance.LLMStanceModel(LLMClient(settings(url), cache_root=tmp_path), base, head())
    got = model.stances(QUESTION, [YES, NO])
    assert all(s.method == base.name for s in got)
    assert [f["kind"] for f in model.faults] == ["bad_json", "bad_json"]
    assert "log-probabilities" in model.faults[0]["message"]


def test_the_run_record_says_which_head_read(fake_server, base, tmp_path, monkeypatch):
    from helpers.params import parse_params

    params = parse_params({"question": QUESTION, "sources": ["local:fixture"]}, "q.yaml")
    monkeypatch.delenv("WORKBENCH_LLM_URL", raising=False)
    assert llm_stance.record(tmp_path, params, None, "off") is None and not (tmp_path / "llm_stance.json").exists()
    monkeypatch.setenv("WORKBENCH_LLM_URL", serve(fake_server, FakeLLM()))
    monkeypatch.setenv("WORKBENCH_LLM_MODEL", "fake-model")
    model = llm_stance.LLMStanceModel(LLMClient(llm_stance.resolve(params), cache_root=tmp_path / "c"), base, head())
    model.stances(QUESTION, [YES])
    rec = llm_stance.record(tmp_path, params, model, "the verifier's features with fake-model's")
    assert json.loads((tmp_path / "llm_stance.json").read_text()) == json.loads(json.dumps(rec))
    assert rec["papers_read"] == 1 and rec["faults"] == [] and rec["usage"]["requests"] == 1
    assert "127.0.0.1" in rec["settings"]["url"] and "api_key" not in json.dumps(rec)


def test_a_server_an_earlier_stage_found_down_is_not_asked_again():
    from helpers.llm.client import found_down

    stance_rec = {"faults": [{"stage": "stance", "kind": "bad_json", "message": "no log-probabilities"},
                             {"stage": "stance", "kind": "down", "message": "cannot reach it"}]}
    assert found_down(None, {"faults": [stance_rec["faults"][0]]}) is None  # a malformed reply is not fatal
    err = found_down(None, stance_rec)
    assert err.kind == "down" and err.message == "cannot reach it"
    client = LLMClient(settings("http://127.0.0.1:9/v1"))
    client.broken = err
    with pytest.raises(type(err), match="down: cannot reach it"):
        client.first_token_logprobs([{"role": "user", "content": "Abstract:\nx\n\nQuestion: y?"}])
    assert client.usage.requests == 0
