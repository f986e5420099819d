"""The LLM's answer probabilities on PubMedQA-L, for fitting the LLM stance head (helpers/llm/stance.py).

    python -m training.stance.llm_features --pubmedqa ../shared/data/pubmedqa/pqal_trainval.json \
        --out models/stance/llm-features-trainval.jsonl [--gguf models/llm/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf]

Each item is asked the workbench's stance prompt (`helpers.llm.stance.messages`, reasoning-required: question and
contexts, never LONG_ANSWER) and the first token's top candidates are kept: one line per item, {"id", "top"}.
With --gguf the model runs in this process through llama-cpp-python, the prompt rendered with the model's ChatML
template as its server renders it, and the top candidates computed from the full logits (temperature 0); without
it, through the configured OpenAI-compatible endpoint (WORKBENCH_LLM_URL) and the workbench's LLM client.
Resumable: items already in --out are skipped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from helpers.evaluation.stance import load_pubmedqa
from helpers.llm.stance import TOP, messages


def chatml(msgs: list[dict]) -> str:
    """The Qwen2.5 ChatML rendering of a conversation with a system message, up to the assistant's turn."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs) + "<|im_start|>assistant\n"


class InProcess:
    """Top first-token candidates from a GGUF run in this process (llama-cpp-python)."""

    def __init__(self, gguf: Path, threads: int = 2) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=threads, verbose=False, seed=0)

    def top(self, msgs: list[dict]) -> list[tuple[str, float]]:
        toks = self.llm.tokenize(chatml(msgs).encode(), add_bos=False, special=True)
        self.llm.reset()
        self.llm.eval(toks)
        z = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),)).astype(float)
        z -= np.logaddexp.reduce(z)
        best = np.argsort(-z)[:TOP]
        return [(self.llm.detokenize([int(i)]).decode("utf-8", "replace"), float(z[i])) for i in best]


class Endpoint:
    """Top first-token candidates through the workbench's LLM client."""

    def __init__(self) -> None:
        from helpers.llm.client import LLMClient
        from helpers.llm.settings import resolve

        settings = resolve(None)
        if settings is None:
            raise SystemExit("no LLM endpoint: set WORKBENCH_LLM_URL or pass --gguf")
        self.client = LLMClient(settings)

    def top(self, msgs: list[dict]) -> list[tuple[str, float]]:
        return self.client.first_token_logprobs(msgs, TOP)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pubmedqa", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gguf", type=Path, help="run this GGUF in-process instead of asking the endpoint")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    items = load_pubmedqa(args.pubmedqa)
    done = set()
    if args.out.exists():
        done = {json.loads(line)["id"] for line in args.out.read_text().splitlines() if line.strip()}
    reader = InProcess(args.gguf, args.threads) if args.gguf else Endpoint()
    t0, n = time.perf_counter(), 0
    with args.out.open("a", encoding="utf-8") as f:
        for it in items:
            if it["id"] in done:
                continue
            top = reader.top(messages(it["question"], it["sentences"]))
            f.write(json.dumps({"id": it["id"], "top": top}, ensure_ascii=False) + "\n")
            f.flush()
            n += 1
            if n % 50 == 0:
                print(f"{n} items, {(time.perf_counter() - t0) / n:.2f} s each", flush=True)
    print(f"{n} items read, {len(done)} were there already")


if __name__ == "__main__":
    main()
