"""The optional LLM reader against a local OpenAI-compatible fake on 127.0.0.1 (tests/fake_llm.py): settings,
the cache (no key in it), every fault kind, the quote check, the citation and verifier check of each sentence,
and what the report says. No test touches another host."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from helpers.errors import ParamsError
from helpers.llm import notes
from helpers.llm.answer import llm_answer_stage
from helpers.llm.check import check_sentences, grounding, split_citations
from helpers.llm.client import LLMClient, LLMError
from helpers.llm.plan import apply_plan, plan_stage, validate_plan
from helpers.llm.read import check_quotes, match_quote
from helpers.llm.settings import DEFAULT_URL, LLMSettings, resolve
from helpers.params import load_params, parse_params
from helpers.synthesis import llm_section
from tests.fake_llm import FABRICATED, UNSUPPORTED, FakeLLM, serve

FIXTURE = Path(__file__).parent / "fixtures" / "fixture.yaml"
SENTINEL = "sk-SENTINEL-7f3a9c-never-store-me"
BASE = {"question": "Does speculative decoding speed up inference?", "sources": ["local:fixture"]}


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"


def settings(url: str, **kw) -> LLMSettings:
    values = {"url": url, "model": "fake-model", "temperature": 0.0, "seed": 13, "timeout": 5.0, "max_papers": 4,
              "context": 4096, "source": "params", **kw}
    return LLMSettings(**values)


@pytest.fixture(scope="module")
def retrieved(tmp_path_factory):
    """The retrieval stage's files for the fixture question (what the LLM stage reads), in a fresh folder."""
    from helpers.retrieval import stage

    out = tmp_path_factory.mktemp("llm-retrieved")
    params = load_params(FIXTURE)
    stage.save(stage.run(params), out)
    return params, out


@pytest.fixture(scope="module")
def verifier():
    from helpers.verification.verifier import load_verifier

    return load_verifier()


# -- settings ---------------------------------------------------------------------------------------------------

def test_llm_is_off_by_default_on_by_block_or_url_and_the_params_win():
    assert resolve(parse_params(BASE), env={}) is None
    assert resolve(parse_params({**BASE, "llm": None}), env={}).url == DEFAULT_URL  # a bare `llm:` turns it on
    env = {"WORKBENCH_LLM_URL": "http://127.0.0.1:9/v1", "WORKBENCH_LLM_MODEL": "env-model",
           "WORKBENCH_LLM_TIMEOUT": "7", "WORKBENCH_LLM_API_KEY": SENTINEL}
    s = resolve(parse_params(BASE), env=env)
    assert (s.url, s.model, s.timeout, s.temperature, s.seed, s.source) == \
        ("http://127.0.0.1:9/v1", "env-model", 7.0, 0.0, 13, "environment")
    s = resolve(parse_params({**BASE, "llm": {"url": "http://127.0.0.1:8/v1", "temperature": 0.5, "seed": 3}}), env=env)
    assert (s.url, s.model, s.temperature, s.seed, s.source) == \
        ("http://127.0.0.1:8/v1", "env-model", 0.5, 3, "params and environment")
    assert resolve(parse_params({**BASE, "llm": {"enabled": False}}), env=env) is None
    assert SENTINEL not in json.dumps(s.to_dict())


@pytest.mark.parametrize(("llm", "field", "message"), [
    ({"temprature": 0}, "llm.temprature", "unknown key"),
    ({"url": "ftp://x/v1"}, "llm.url", "not an http(s) base URL"),
    ({"url": "http://user:pw@127.0.0.1/v1"}, "llm.url", "without credentials"),
    ({"api_key": "x"}, "llm.api_key", "secrets do not belong in params"),
    ({"temperature": 5}, "llm.temperature", "less than or equal to 2"),
])
def test_the_llm_block_is_validated_like_the_rest(llm, field, message):
    with pytest.raises(ParamsError) as err:
        parse_params({**BASE, "llm": llm}, "q.yaml")
    assert err.value.field == field and message in err.value.message and str(err.value).startswith("q.yaml: ")


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(ParamsError) as err:
        resolve(parse_params(BASE), env={"WORKBENCH_LLM_URL": "http://127.0.0.1:9/v1", "WORKBENCH_LLM_TIMEOUT": "-1"})
    assert (err.value.path, err.value.field) == ("environment", "WORKBENCH_LLM_TIMEOUT")


# -- the quote and citation checks -----------------------------------------------------------------------------

ABSTRACT = ("Speculative decoding accelerates inference.  It uses a small draft model\nto propose tokens. "
            "On code tasks it reaches a 2.5x speedup with identical outputs.")


def test_a_quote_passes_exactly_or_at_similarity_95_and_is_kept_as_the_abstracts_words():
    assert match_quote("It uses a small draft model to propose tokens.", ABSTRACT)[0] == \
        "It uses a small draft model to propose tokens."  # whitespace normalised
    near = "On code tasks it reaches a 2.5x speed-up with identical outputs."  # one character changed
    span, _ = match_quote(near, ABSTRACT)
    assert span == "On code tasks it reaches a 2.5x speedup with identical outputs."
    assert fuzz.ratio(near, span) >= 95  # the reference library agrees
    for bad in ("On code tasks it reaches a 9x speedup and better outputs than before.", FABRICATED):
        span, reason = match_quote(bad, ABSTRACT)
        assert span is None and "not in the abstract" in reason
    assert match_quote("a 2.5x speedup", ABSTRACT)[0] is None  # too short to support anything
    kept, dropped = check_quotes(["Speculative decoding accelerates inference.", FABRICATED, 7], ABSTRACT)
    assert kept == ["Speculative decoding accelerates inference."] and len(dropped) == 2


def test_citations_are_read_from_marks_and_lists():
    assert split_citations("A is fast [1, 3]. ", [2]) == ("A is fast.", [2, 1, 3])
    assert split_citations("B [4][5]", None) == ("B", [4, 5])
    assert split_citations("C", [True, "x", 6]) == ("C", [6])


def test_each_sentence_needs_an_included_citation_and_a_supporting_quote(verifier):
    quotes = {1: ["On code tasks it reaches a 2.5x speedup with identical outputs."], 2: []}
    raw = [{"text": "On code tasks speculative decoding reaches a 2.5x speedup with identical outputs.", "cites": [1]},
           {"text": "Speculative decoding is fast.", "cites": [7]},
           {"text": "It has no citation at all.", "cites": []},
           {"text": "Paper two found a speedup.", "cites": [2]},
           {"text": UNSUPPORTED, "cites": [1]}]
    out = check_sentences(raw, {1, 2, 3}, quotes, verifier, 0.6)
    assert [s.kept for s in out] == [True, False, False, False, False]
    assert out[0].supported_by == [1] and out[0].support >= 0.6
    assert "[7], not an included paper" in out[1].reason and out[2].reason == "cites no paper"
    assert "no verified quote" in out[3].reason and "no cited quote supports it" in out[4].reason


def test_a_sentence_restating_the_question_is_not_grounded_in_unrelated_quotes(verifier):
    """Seen with the local model on seed question 2: the verifier passed this sentence (0.6+) against quotes about
    a mixture-of-experts method that say nothing of throughput; the word check removes it."""
    quotes = {8: ["MARS (Missingness-Aware Residual-guided Specialization), a mixture-of-experts framework that guides "
                  "expert specialization based on how representations are reshaped by missingness.",
                  "The residual signal guides a residual router to assign samples to experts specialized for the "
                  "corresponding deviation patterns."]}
    claim = "Integrating sparse expert routing in alignment-focused multimodal models improves inference throughput."
    (s,) = check_sentences([{"text": claim, "cites": [8]}], {8}, quotes, verifier, 0.6)
    assert not s.kept and ("its words are mostly not in the cited quotes" in s.reason
                           or "no cited quote supports it" in s.reason)
    assert grounding(claim, quotes[8]) < 0.5 <= grounding("A residual router assigns samples to specialized experts.",
                                                          quotes[8])


def test_a_sentence_that_only_restates_the_question_is_removed_even_when_a_quote_scores_it(verifier):
    """Seen with the local model on the bare seed question 2: the restated question, citing papers 1-8, passed the
    verifier (0.75) and the word check against one quote from a paper on another kind of routing."""
    question = ("Does integrating sparse expert routing in alignment-focused multimodal models improve inference "
                "throughput?")
    quotes = {6: ["Sparse expert routing in our multimodal model improves inference throughput by 12.3% under "
                  "realistic deployment."]}
    restated = "Integrating sparse expert routing in alignment-focused multimodal models improves inference throughput."
    finding = "Sparse expert routing improved multimodal inference throughput by 12.3% under realistic deployment."
    a, b = check_sentences([{"text": restated, "cites": [6]}, {"text": finding, "cites": [6]}], {6}, quotes,
                           verifier, 0.6, question)
    assert not a.kept and a.reason.startswith("it only restates the question")
    assert b.kept and b.supported_by == [6]  # the same quote's finding, with what it adds, stays
    # without the question (the earlier call form) the restatement passes on its quotes alone: the rule removes it
    (c,) = check_sentences([{"text": restated, "cites": [6]}], {6}, quotes, verifier, 0.6)
    assert c.kept and c.supported_by == [6]


# -- the client: cache, key, faults ------------------------------------------------------------------------------

MESSAGES = [{"role": "user", "content": "Research question: Does X help Y?\nPlan as JSON: ..."}]


def test_replies_are_cached_by_request_never_by_key(fake_server, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LLM_API_KEY", SENTINEL)
    fake = FakeLLM()
    url = serve(fake_server, fake)
    first = LLMClient(settings(url), cache_root=tmp_path)
    reply = first.chat_json(MESSAGES, {"type": "object"})
    assert fake.requests[0]["authorization"] == f"Bearer {SENTINEL}"  # sent to the server ...
    assert fake.requests[0]["body"]["seed"] == 13 and fake.requests[0]["body"]["temperature"] == 0
    assert fake.requests[0]["body"]["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    monkeypatch.setenv("WORKBENCH_LLM_API_KEY", "another-key")
    again = LLMClient(settings(url), cache_root=tmp_path)
    assert again.chat_json(MESSAGES, {"type": "object"}) == reply and len(fake.requests) == 1
    assert (again.usage.requests, again.usage.cache_hits, first.usage.tokens_in) == (0, 1, 100)
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1 and SENTINEL not in files[0].read_text()  # ... never stored
    LLMClient(settings(url, seed=14), cache_root=tmp_path).chat_json(MESSAGES, {"type": "object"})
    assert len(fake.requests) == 2  # another setting is another request


@pytest.mark.parametrize(("mode", "kind"), [("bad_json", "bad_json"), ("error", "server"), ("context", "context"),
                                            ("hang", "timeout")])
def test_each_fault_has_its_kind(fake_server, tmp_path, mode, kind):
    url = serve(fake_server, FakeLLM(mode, hang_s=2.0))
    client = LLMClient(settings(url, timeout=0.5), cache_root=tmp_path)
    with pytest.raises(LLMError) as err:
        client.chat_json(MESSAGES, {"type": "object"})
    assert err.value.kind == kind
    assert (client.broken is not None) == (kind == "timeout")  # a hung server is not asked again


def test_a_server_down_is_asked_once_and_a_long_request_never_sent(tmp_path):
    client = LLMClient(settings(closed_port_url()), cache_root=tmp_path)
    with pytest.raises(LLMError) as err:
        client.chat(MESSAGES)
    assert err.value.kind == "down" and client.usage.requests == 1
    with pytest.raises(LLMError):
        client.chat([{"role": "user", "content": "another"}])
    assert client.usage.requests == 1
    small = LLMClient(settings(closed_port_url(), context=600), cache_root=tmp_path)
    with pytest.raises(LLMError) as err:
        small.chat([{"role": "user", "content": "word " * 600}], max_tokens=300)
    assert err.value.kind == "context" and small.usage.requests == 0


# -- the plan -------------------------------------------------------------------------------------------------

def test_the_plan_feeds_retrieval_only_where_the_params_are_silent():
    plan = validate_plan({"sub_questions": ["Does X speed up Y?", "no question mark", "Does X speed up Y?"],
                          "keyword_groups": [["Speculative Decoding", "draft model", "x"], ["one"]],
                          "search_queries": ["speculative decoding speedup", "one"]})
    assert plan == {"sub_questions": ["Does X speed up Y?"], "criteria": [["speculative decoding", "draft model"]],
                    "extra_queries": ["speculative decoding speedup"]}
    bare, used = apply_plan(parse_params(BASE), plan)
    assert all(used.values()) and bare.criteria.include_any == plan["criteria"]
    assert [s.text for s in bare.sub_questions] == plan["sub_questions"] and bare.extra_queries == plan["extra_queries"]
    own = parse_params({**BASE, "criteria": {"include_any": [["a", "b"]]}, "extra_queries": ["mine here"]})
    kept, used = apply_plan(own, plan)
    assert used == {"sub_questions": True, "criteria": False, "extra_queries": False}
    assert kept.criteria.include_any == [["a", "b"]] and kept.extra_queries == ["mine here"]
    only_queries, used = apply_plan(parse_params(BASE), plan, resolve(parse_params({**BASE, "llm": {}}), env={}).plan_uses)
    assert used == {"sub_questions": False, "criteria": False, "extra_queries": True}  # the default
    assert only_queries.extra_queries == plan["extra_queries"] and not only_queries.sub_questions
    with pytest.raises(LLMError):
        validate_plan({"sub_questions": ["no"], "keyword_groups": [], "search_queries": []})


# -- the stage on real retrieval outputs ---------------------------------------------------------------------------

def test_fabricated_quotes_and_unsupported_sentences_never_reach_the_report(fake_server, retrieved, verifier, tmp_path):
    params, out = retrieved
    fake = FakeLLM()
    s = settings(serve(fake_server, fake))
    rec = llm_answer_stage(params, out, s, LLMClient(s, cache_root=tmp_path), verifier, progress=False)
    n_inc = sum(1 for line in (out / "records.jsonl").read_text().splitlines() if '"included"' in line)
    c = rec["counts"]
    assert c["papers"] == c["papers_read"] == 4 and c["quotes_dropped"] == 4  # each fabricated quote
    assert all(FABRICATED not in q for r in rec["readings"] for q in r["quotes"])
    assert c["sentences_kept"] >= 1 and c["removed_by_reason"]["outside the included set"] == len(rec["answers"])
    for a in rec["answers"]:
        for sent in a["sentences"]:
            assert sent["supported_by"] and all(1 <= n <= n_inc for n in sent["supported_by"])
        assert any(UNSUPPORTED == u["text"] for u in a["unsupported"])
    ctx = {"llm": rec, "plan": None}
    md = "\n".join(llm_section.answer_lines(ctx))
    kept_part, _, removed_part = md.partition("**Unsupported (removed)")
    assert "Answer by fake-model" in md and FABRICATED not in md and UNSUPPORTED not in kept_part
    assert f"~~{UNSUPPORTED}~~" in removed_part and f"{c['sentences_removed']} sentence(s)" in removed_part
    lines = notes.limitations(None, rec)
    assert any(line.startswith("4 of 8 quotes the LLM gave were not in their abstract") for line in lines)
    assert json.loads((out / "llm_answer.json").read_text())["counts"] == c


def test_a_server_down_leaves_one_limitation_line(retrieved, tmp_path):
    params, out = retrieved
    run = tmp_path / "run"
    run.mkdir()
    for f in ("records.jsonl", "question.json"):
        (run / f).write_bytes((out / f).read_bytes())
    s = settings(closed_port_url())
    same, plan = plan_stage(params, run, s, LLMClient(s, cache_root=tmp_path))
    assert same == params and plan["status"] == "failed" and plan["faults"][0]["kind"] == "down"
    client = LLMClient(s, cache_root=tmp_path)
    rec = llm_answer_stage(params, run, s, client, verifier=None, progress=False)
    assert rec["status"] == "failed" and client.usage.requests == 0  # plan.json said down: nothing more is sent
    lines = notes.limitations(plan, rec)
    assert len(lines) == 1 and "cannot reach" in lines[0] and "extractive answer stands" in lines[0]
    assert llm_section.answer_lines({"llm": rec}) == []


def test_malformed_replies_and_long_abstracts_are_counted(fake_server, retrieved, tmp_path):
    params, out = retrieved
    s = settings(serve(fake_server, FakeLLM("bad_json")))
    rec = llm_answer_stage(params, out, s, LLMClient(s, cache_root=tmp_path), verifier=None, progress=False)
    assert rec["status"] == "failed" and {f["kind"] for f in rec["faults"]} == {"bad_json"}
    assert notes.limitations(None, rec) == ["The LLM reader got a reply that was not the JSON asked for for 4 of 4 "
                                            "papers' readings; those parts were skipped."]
    s = settings(serve(fake_server, FakeLLM()), context=600)  # a fresh cache: the malformed replies are cached
    rec = llm_answer_stage(params, out, s, LLMClient(s, cache_root=tmp_path / "b"), verifier=None, progress=False)
    assert {f["kind"] for f in rec["faults"]} == {"context"} and rec["counts"]["papers_read"] == 0
    assert "too long for the model's context" in notes.limitations(None, rec)[0]
