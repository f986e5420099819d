"""The `workbench` command line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Evidence Workbench: research question -> checkable evidence synthesis.", no_args_is_help=True)
corpus_app = typer.Typer(help="Manage local corpora.", no_args_is_help=True)
eval_app = typer.Typer(help="Benchmarks: retrieval and verification.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
app.add_typer(eval_app, name="eval")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@corpus_app.command("add")
def corpus_add(name: str, path: Path) -> None:
    """Register a JSONL corpus under NAME and build its search index."""
    from .errors import WorkbenchError
    from .store import add_corpus

    try:
        store = add_corpus(name, path)
    except WorkbenchError as exc:
        _fail(exc)
    typer.echo(f"{name}: {len(store)} documents indexed at {store.db_path}")


@corpus_app.command("list")
def corpus_list() -> None:
    """List known corpora and whether their index is built."""
    from .store import registered, store_path

    for name, path in sorted(registered().items()):
        typer.echo(f"{name}\t{path}\t{'built' if store_path(name).exists() else 'not built'}")


@eval_app.command("verify")
def eval_verify(
    corpus: Path = typer.Option(..., help="SciFact-format corpus.jsonl"),
    claims: Path = typer.Option(..., help="SciFact-format claims JSONL (gold evidence optional)"),
    out: Path = typer.Option(..., help="where to write SciFact-format predictions"),
    oracle: bool = typer.Option(False, help="check the claims' cited_doc_ids instead of retrieving"),
    top_k: int = typer.Option(3, help="abstracts retrieved per claim"),
    baseline: bool = typer.Option(True, help="also run the lexical baseline on the same abstracts"),
) -> None:
    """Verify claims against their abstracts; print SciFact metrics, ECE and speed."""
    from .errors import WorkbenchError
    from .eval_verify import evaluate, report
    from .verify import LexicalVerifier, load_verifier

    try:
        verifiers = [load_verifier()] + ([LexicalVerifier()] if baseline else [])
        runs = evaluate(corpus, claims, verifiers, top_k=top_k, oracle=oracle, out=out)
    except WorkbenchError as exc:
        _fail(exc)
    typer.echo(report(runs, "oracle (cited_doc_ids)" if oracle else f"open (retrieval top-{top_k})"))
    typer.echo(f"predictions: {out}")


if __name__ == "__main__":
    app()
