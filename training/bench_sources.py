"""A dead online source costs seconds: `workbench run` over all five online sources on the local replay server.

Usage:
    .venv/bin/python training/bench_sources.py [--hang arxiv] [--fail semantic_scholar] [--limit 30]
        [--cases healthy,cached,hang,500] [--baseline /path/to/another/checkout] [--cap 600]

Cases, each one `workbench run` of the same params file (all five online sources, `limit` records each) in a
fresh process with a fresh cache: ``healthy``; ``cached`` (the healthy run's cache again: it must send no
request and write the same files); ``hang`` (one source accepts every request and never answers);
``500`` (another answers HTTP 500 to every request). The runs get the default timeouts, retries, back-off,
rates and time budget: every ``WORKBENCH_HTTP_*``, ``WORKBENCH_*_RATE`` and ``WORKBENCH_SOURCE_BUDGET`` knob is
removed from their environment. The replay server is the test suite's (`tests/test_sources_online.Replay`),
serving the recorded API responses from the data root.

Prints one Markdown table: wall time, the retrieval notebook's time, requests per source, the faulted source's
status and error, and whether each healthy source is ``ok`` with the record count and the requests it has
in the healthy run (the replay answers a request alike every time, so the same requests bring the same
records; the merged records can still differ, where the dead source was the one that joined two of them). ``--baseline`` runs the same cases with another checkout's code (e.g. main before issue 20)
in the same invocation, and compares its healthy run with this one; a run past ``--cap`` seconds is killed and
reported as such.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from pytest_httpserver import HTTPServer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from helpers.config import data_root  # noqa: E402
from helpers.http import SECRET_ENV  # noqa: E402
from helpers.retrieval.sources.registry import ONLINE_SOURCES  # noqa: E402
from tests.test_sources_online import PREFIX, Replay  # noqa: E402  (the tests' replay server, reused)

SLUG = "bench-online-sources"
STABLE = ["papers.csv", "records.jsonl", "claims.csv", "prisma.json", "references.bib", "report.json", "search.json"]
NEW_KEYS = ("stopped", "skipped_queries")  # search.json keys added by issue 20 (absent from a baseline's)


def params(limit: int) -> dict:
    return {
        "question": "Do large language model agents with tools help chemistry research?",
        "slug": SLUG,
        "sources": [{"name": s, "limit": limit} for s in ONLINE_SOURCES],
        "min_papers": 2,
        "max_papers": 10,
        "criteria": {
            "include_any": [["language model", "llm", "gpt", "agent", "machine learning", "artificial intelligence"]],
            "min_relevance": 0.1,
        },
    }


def run_env(base: str, cache: Path, work: Path, root: Path) -> dict[str, str]:
    """The environment of one run: defaults for every HTTP knob, no secrets, sources on the replay server."""
    drop = {*SECRET_ENV, "WORKBENCH_SOURCE_BUDGET", "WORKBENCH_PARAMS"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith("WORKBENCH_HTTP_") and not (k.startswith("WORKBENCH_") and k.endswith(("_RATE", "_URL")))
    }
    env.update(
        WORKBENCH_CACHE_DIR=str(cache),
        WORKBENCH_OUTPUTS_DIR=str(work / "outputs"),
        WORKBENCH_REVIEWS_DIR=str(work / "reviews"),
        NO_PROXY="127.0.0.1,localhost",
        WORKBENCH_DATA_ROOT=str(data_root()),
        PYTHONPATH=str(root),
        PYTHONDONTWRITEBYTECODE="1",  # leave the baseline's checkout as it was
        MPLBACKEND="Agg",
    )
    for name, prefix in PREFIX.items():
        env[f"WORKBENCH_{name.upper()}_URL"] = base + prefix
    return env


def one_run(root: Path, params_file: Path, env: dict[str, str], cap: float) -> tuple[float, int | str]:
    """`workbench run params_file` with `root`'s code in a new process group; (seconds, exit code or 'killed')."""
    code = "import helpers, sys; from helpers.cli import app; sys.argv[0] = 'workbench'; app()"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code, "run", str(params_file)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=cap)
        rc: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its kernels: this group is ours alone
        out, _ = proc.communicate()
        rc = "killed"
    if rc not in (0, "killed"):
        print(out[-3000:], file=sys.stderr)
    return time.monotonic() - t0, rc


def per_source(out: Path) -> dict[str, tuple[str, int]]:
    """(status, records) per source, from search.json."""
    path = out / "search.json"
    sources = json.loads(path.read_text())["sources"] if path.exists() else []
    return {r["source"]: (r["status"], r["n_records"]) for r in sources}


def without_new_keys(text: str) -> str:
    data = json.loads(text)
    for entry in [*data.get("sources", []), *data.get("dedup", {}).get("per_source", {}).values()]:
        for k in NEW_KEYS:
            entry.pop(k, None)
    return json.dumps(data, sort_keys=True)


def read_stable(out: Path) -> dict[str, str]:
    return {n: (out / n).read_text(encoding="utf-8") if (out / n).exists() else "" for n in STABLE}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hang", default="arxiv", help="the source that hangs in the 'hang' case")
    ap.add_argument("--fail", default="semantic_scholar", help="the source that answers 500 in the '500' case")
    ap.add_argument("--limit", type=int, default=30, help="records per source (the replay's arXiv pages hold 10)")
    ap.add_argument("--cases", default="healthy,cached,hang,500")
    ap.add_argument("--baseline", type=Path, help="another checkout whose code runs the same cases, for comparison")
    ap.add_argument("--cap", type=float, default=600, help="seconds after which a run is killed")
    args = ap.parse_args()
    cases = args.cases.split(",")
    roots = [("this", REPO)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    replay = Replay()
    server.expect_request(re.compile(".*")).respond_with_handler(replay)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    work = Path(tempfile.mkdtemp(prefix="bench-sources-"))
    params_file = work / "online.yaml"
    params_file.write_text(yaml.safe_dump(params(args.limit)))
    print(f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.2f}; work folder {work}", flush=True)

    rows, outs, healthy_sent = [], {}, {}
    for label, root in roots:
        for case in cases:
            if case == "cached" and (label, "healthy") not in outs:
                continue
            replay.reset()
            if case == "hang":
                replay.faults[args.hang] = {"kind": "hang", "seconds": 3600}
            elif case == "500":
                replay.faults[args.fail] = {"kind": "500"}
            cache = work / label / ("healthy" if case == "cached" else case) / "cache"
            case_dir = work / label / case
            load0 = os.getloadavg()[0]
            wall, rc = one_run(root, params_file, run_env(base, cache, case_dir, root), args.cap)
            load1 = os.getloadavg()[0]
            with replay.lock:
                sent = Counter(s for s, *_ in replay.log)
            if case == "healthy":
                healthy_sent[label] = sent
            out = case_dir / "outputs" / SLUG
            outs[(label, case)] = out
            manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
            search = json.loads((out / "search.json").read_text()) if (out / "search.json").exists() else {}
            by_src = {r["source"]: r for r in search.get("sources", [])}
            broken = args.hang if case == "hang" else args.fail if case == "500" else None
            fault = "-"
            if broken and broken in by_src:
                r = by_src[broken]
                fault = f"{broken} **{r['status']}**, {r['n_records']} records: {r['error']}"
            kept = "-"
            healthy_out = outs.get((label, "healthy"))
            if case != "healthy" and healthy_out is not None and out.exists():
                # each healthy source: ok, the healthy run's record count, and the same requests (the replay
                # answers a request alike every time, so the same requests mean the same records)
                want, got = per_source(healthy_out), per_source(out)
                same = [s for s in ONLINE_SOURCES if s != broken and want.get(s) == got.get(s)
                        and got[s][0] == "ok" and (case == "cached" or sent[s] == healthy_sent[label][s])]
                kept = f"{len(same)}/{len(ONLINE_SOURCES) - (broken is not None)} ok with all their records" + (
                    "" if case == "cached" else " and the same requests")
            if case == "cached" and healthy_out is not None:
                identical = read_stable(out) == read_stable(healthy_out)
                kept += f"; {'all' if identical else 'NOT all'} of {', '.join(STABLE)} byte-identical"
            timing = manifest.get("timings_s", {})
            rows.append({
                "case": case + (f" ({broken})" if broken else ""),
                "code": label,
                "wall": f"{wall:.1f}" + ("" if rc == 0 else f" ({rc})"),
                "retrieval": f"{timing['01_retrieval']:.1f}" if "01_retrieval" in timing else "-",
                "requests": " / ".join(str(sent.get(s, 0)) for s in ONLINE_SOURCES) + f" = {sum(sent.values())}",
                "fault": fault,
                "kept": kept,
                "load": f"{load0:.1f} → {load1:.1f}",
            })
            print(f"  {label} {case}: {wall:.1f} s, exit {rc}, requests {dict(sent)}", flush=True)
    server.stop()

    print(f"\n| case | code | wall s | 01_retrieval s | requests ({' / '.join(ONLINE_SOURCES)}) | faulted source "
          "| healthy sources vs the healthy run | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['code']} | {r['wall']} | {r['retrieval']} | {r['requests']} | {r['fault']} "
              f"| {r['kept']} | {r['load']} |")
    if ("baseline", "healthy") in outs and ("this", "healthy") in outs:
        a, b = read_stable(outs[("this", "healthy")]), read_stable(outs[("baseline", "healthy")])
        a["search.json"], b["search.json"] = without_new_keys(a["search.json"]), without_new_keys(b["search.json"])
        diff = [n for n in STABLE if a[n] != b[n]]
        print(f"\nhealthy run, this code vs the baseline: {', '.join(STABLE)} "
              + ("identical (search.json apart from the new keys " + ", ".join(NEW_KEYS) + ")" if not diff
                 else f"DIFFER: {', '.join(diff)}"))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
