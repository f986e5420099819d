"""A local OpenAI-compatible fake (pytest-httpserver on 127.0.0.1) that answers the workbench's three prompts
the way a model might, faults included: a fabricated quote beside a real one, a sentence citing a paper that was
not included, an unsupported sentence; or a malformed reply, a hang, an error status when asked to."""

from __future__ import annotations

import json
import re
import time

from werkzeug import Request, Response

FABRICATED = "Our method makes every model exactly one thousand times faster on all hardware."
UNSUPPORTED = "The included papers show that cats can beat GPUs at decoding long sequences."


def completion(content: str, prompt_tokens: int = 100, completion_tokens: int = 20) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def with_logprobs(body: dict, top: list[tuple[str, float]]) -> dict:
    """A one-token completion whose first token carries `top` as its top log-probabilities."""
    out = completion(top[0][0], completion_tokens=1)
    out["choices"][0]["logprobs"] = {"content": [{
        "token": top[0][0], "logprob": top[0][1], "bytes": None,
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in top[:body.get("top_logprobs", 20)]]}]}
    return out


def stance_top(user: str) -> list[tuple[str, float]]:
    """The fake's answer to the stance prompt: "no" when the abstract says a thing did not help, else "yes"."""
    abstract = user.split("Abstract:\n", 1)[1].split("\n\nQuestion:", 1)[0].lower()
    negative = any(w in abstract for w in ("did not", "no significant", "not improve", "no speed-up"))
    first, second = ("no", "yes") if negative else ("yes", "no")
    return [(first, -0.1), (first.capitalize(), -2.5), ("maybe", -3.0), (second, -4.0), (" " + first, -6.0)]


class FakeLLM:
    """Request handler; `mode` picks the behaviour ("good", "bad_json", "hang", "error", "context").
    `requests` keeps every request body and its Authorization header."""

    def __init__(self, mode: str = "good", hang_s: float = 3.0) -> None:
        self.mode, self.hang_s = mode, hang_s
        self.requests: list[dict] = []

    def reply(self, user: str) -> dict:
        if "Plan as JSON" in user:
            return {"sub_questions": ["Does speculative decoding speed up inference?",
                                      "Does speculative decoding change output quality?"],
                    "keyword_groups": [["speculative decoding", "draft model"], ["speedup", "latency", "throughput"]],
                    "search_queries": ["speculative decoding speedup", "draft model verification latency"]}
        if "Abstract:" in user:
            abstract = user.split("Abstract: ", 1)[1].split("\n\nReply as JSON", 1)[0]
            first = re.split(r"(?<=[.!?])\s+", abstract)[0]
            return {"summary": "The paper studies faster decoding.", "quotes": [first, FABRICATED]}
        if "Evidence, quoted" in user:
            m = re.search(r'^\[(\d+)\] "(.+)"$', user, re.M)
            n, quote = int(m.group(1)), m.group(2)
            return {"sentences": [{"text": quote, "cites": [n]},
                                  {"text": "Speculative decoding was studied in many papers.", "cites": [99]},
                                  {"text": UNSUPPORTED, "cites": [n]}]}
        return {}

    def __call__(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        self.requests.append({"body": body, "authorization": request.headers.get("Authorization")})
        if self.mode == "hang":
            time.sleep(self.hang_s)
        if self.mode == "error":
            return Response(json.dumps({"error": {"message": "internal"}}), status=500, content_type="application/json")
        if self.mode == "context":
            return Response(json.dumps({"error": {"message": "Requested tokens exceed context window of 4096"}}),
                            status=400, content_type="application/json")
        user = body["messages"][-1]["content"]
        if body.get("logprobs"):
            if self.mode == "no_logprobs":
                return Response(json.dumps(completion("yes", completion_tokens=1)), content_type="application/json")
            return Response(json.dumps(with_logprobs(body, stance_top(user))), content_type="application/json")
        content = "{not json" if self.mode == "bad_json" else json.dumps(self.reply(user))
        return Response(json.dumps(completion(content)), content_type="application/json")


def serve(httpserver, fake: FakeLLM) -> str:
    """Route the fake's endpoint on `httpserver`; returns the base URL (…/v1)."""
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(fake)
    return httpserver.url_for("/v1")
