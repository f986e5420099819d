"""Embedding speed against its limit: the bare ONNX model on the same inputs, in the same run.

Usage: WORKBENCH_CACHE_DIR=... python training/bench_embed.py [--docs 2000] [--tokens 64] [--threads 1,2]
                                                              [--chunk 250] [--batch-tokens 4096]

Inputs: `--docs` arXiv abstracts ("title. abstract", every k-th row of the store: a fixed sample), truncated to
`--tokens` word pieces. The texts are taken in chunks, and every path and thread count runs on each chunk in
turn, so a change in the machine's load (it is shared) hits them alike. It times, per thread count:
- the bare model: `session.run` alone over the very batches the embedder builds (tokenized and padded
  beforehand), either one batch at a time on a session with that many intra-op threads, or that many batches at
  once on a one-thread session; the faster of the two is the limit;
- `embedder`: `Embedder.encode` (tokenize, batch by token count, run, mean-pool, normalise);
- `on demand`: `OnDemandIndex.vectors` into an empty cache (store lookup, keys, encode, on-demand files written);
- `full build`: `DenseIndex.for_store` on a store of the same documents (encode, checkpoints, complete index);
- `before (issue 21)`: the previous embedder: 32 texts per batch sorted by characters, intra-op threads (1 by
  default then).
Each rate is documents/s, and each share is of the faster bare model's rate at the same thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from helpers.retrieval.embed import Embedder, available_cores, normalise
from helpers.retrieval.store import CorpusStore, embed_text, open_corpus


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def old_encode(emb: Embedder, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """The embedder before issue 21: sort by character length, 32 texts per batch, pad to the batch's longest."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), batch_size):
        idx = order[start:start + batch_size]
        encs = emb.tokenizer.encode_batch([texts[i] or " " for i in idx])
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encs):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        (hidden,) = emb.session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                             "token_type_ids": np.zeros_like(ids)})
        m = mask[..., None].astype(np.float32)
        out[idx] = normalise(((hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)).astype(np.float32))
    return out


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def session(threads: int):
    """A separate session with `threads` intra-op threads (the bare model's and the previous embedder's)."""
    import onnxruntime as ort

    from helpers.retrieval.embed import default_model_path

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(default_model_path()), opts, providers=["CPUExecutionProvider"])


PATHS = ("bare model, 1 batch at a time, intra-op threads", "bare model, one batch per thread at once",
         "embedder", "on demand", "full build", "before (issue 21)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", default=f"1,{available_cores()}")
    ap.add_argument("--chunk", type=int, default=250, help="texts per interleaved chunk")
    ap.add_argument("--batch-tokens", type=int, default=None)
    args = ap.parse_args()
    from concurrent.futures import ThreadPoolExecutor

    from helpers.retrieval.dense import DenseIndex
    from helpers.retrieval.ondemand import OnDemandIndex

    src = open_corpus("arxiv-cs")
    ids = src.doc_ids()
    ids = ids[:: max(1, len(ids) // args.docs)][: args.docs]
    papers = src.get(ids)
    texts = [embed_text(p.title, p.abstract) for p in papers]
    work = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    print(f"{len(texts)} arXiv abstracts, {args.tokens} tokens, {available_cores()} cores available, chunks of "
          f"{args.chunk} (every path runs on each chunk in turn, so load changes hit them alike); "
          f"load average at start {load()}")
    threads = [int(t) for t in args.threads.split(",")]
    kw = {"batch_tokens": args.batch_tokens} if args.batch_tokens else {}
    embedders = {th: Embedder(max_length=args.tokens, threads=th, **kw) for th in threads}
    intra = {th: session(th) for th in threads}
    pools = {th: ThreadPoolExecutor(th) for th in threads}
    for th, emb in embedders.items():  # warm-up: the first runs of a session allocate its memory
        emb.encode(texts[:64])
        for b in emb.batches(texts[:64]):
            intra[th].run(None, b.feed())
    seconds = {(p, th): 0.0 for p in PATHS for th in threads}
    padding = [0, 0]
    for c, start in enumerate(range(0, len(texts), args.chunk)):
        part = texts[start:start + args.chunk]
        jsonl = work / f"c{c}.jsonl"
        jsonl.write_text("".join(json.dumps({"_id": p.id, "title": p.title, "text": p.abstract}) + "\n"
                                 for p in papers[start:start + args.chunk]))
        for th, emb in embedders.items():
            batches = emb.batches(part)  # the very inputs the embedder feeds the model
            padding[0] += sum(int(b.mask.sum()) for b in batches)
            padding[1] += sum(b.mask.size for b in batches)
            t, _ = timed(lambda th=th, batches=batches: [intra[th].run(["last_hidden_state"], b.feed())
                                                         for b in batches])
            seconds[(PATHS[0], th)] += t
            t, _ = timed(lambda th=th, batches=batches, emb=emb: list(pools[th].map(
                lambda batch: emb.session.run(["last_hidden_state"], batch.feed()), batches)))
            seconds[(PATHS[1], th)] += t
            t, ref = timed(lambda emb=emb, part=part: emb.encode(part))
            seconds[("embedder", th)] += t
            old_emb = Embedder(max_length=args.tokens, threads=1)
            old_emb.session = intra[th]
            t, old = timed(lambda old_emb=old_emb, part=part: old_encode(old_emb, part))
            seconds[("before (issue 21)", th)] += t
            assert np.allclose(old, ref, atol=1e-5), "the previous embedder gives other vectors"
            folder = work / f"c{c}-t{th}-od"
            folder.mkdir()
            store = CorpusStore.build("bench", jsonl, folder / "bench.sqlite", progress=False)
            od = OnDemandIndex(store, args.tokens, embedder=emb)
            t, got = timed(lambda od=od, store=store: od.vectors(store.doc_ids()))
            seconds[("on demand", th)] += t
            assert np.allclose(got, ref, atol=1e-5), "on-demand vectors differ from the embedder's"
            folder = work / f"c{c}-t{th}-full"
            folder.mkdir()
            store = CorpusStore.build("bench", jsonl, folder / "bench.sqlite", progress=False)
            t, full = timed(lambda store=store, emb=emb: DenseIndex.for_store(store, args.tokens, False, emb))
            seconds[("full build", th)] += t
            assert np.allclose(full.vectors, ref, atol=1e-5), "full-index vectors differ from the embedder's"
        if c % 2 == 1:
            print(f"  {start + len(part)} texts done; load {load()}", flush=True)
    n = len(texts)
    print(f"\ndocs/s (share of the faster bare model at the same thread count); padding "
          f"{padding[1] / max(1, padding[0]) - 1:.1%} of the real word pieces")
    print("| path | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in threads) + " |")
    print("|---|" + "---|" * len(threads))
    for name in PATHS:
        cells = []
        for th in threads:
            limit = min(seconds[(PATHS[0], th)], seconds[(PATHS[1], th)])
            cells.append(f"{n / seconds[(name, th)]:.0f} ({limit / seconds[(name, th)]:.0%})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"load average at end {load()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
