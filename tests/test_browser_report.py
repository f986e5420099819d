"""The HTML report and a rendered notebook in a real headless browser: content shows, hostile text stays text."""

from __future__ import annotations

import pytest

from tests.browser import launch
from tests.test_report import evil_run  # noqa: F401  (fixture: a run whose top paper has a hostile title)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _open(page, path):
    events = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return events


def test_report_renders_answer_claims_figures_and_neutralises_scripts(evil_run):  # noqa: F811
    from playwright.sync_api import sync_playwright

    _, out = evil_run
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        events = _open(page, out / "report.html")
        assert page.locator("#answer").is_visible() and len(page.locator("#answer .main").inner_text()) > 20
        assert page.locator("#claims tr").count() >= 2  # header + at least one claim
        for fig in ("#prisma-figure", "#score-figure"):
            assert page.eval_on_selector(fig, "img => img.complete && img.naturalWidth > 100")
        refs = page.locator("#references").inner_text()
        assert "<script>alert(1)</script>" in refs  # shown as text ...
        assert page.locator("#references script, #references img").count() == 0  # ... never as elements
        assert events["dialogs"] == [] and events["errors"] == []
        page.screenshot(path=str(out / "report-screenshot.png"), full_page=False)
        browser.close()


@pytest.mark.parametrize("notebook", ["02_claims", "04_report"])
def test_rendered_notebook_opens_with_tables_and_hostile_title_inert(notebook, evil_run, tmp_path):  # noqa: F811
    import nbformat
    from nbclient import NotebookClient
    from playwright.sync_api import sync_playwright

    from helpers import config
    from helpers.runner import render_html

    params, out = evil_run
    nb = nbformat.read(config.notebooks_dir() / f"{notebook}.ipynb", as_version=4)
    params_file = tmp_path / "evil.yaml"
    import yaml

    params_file.write_text(yaml.safe_dump(params.model_dump(mode="json")))
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source += f"\nparams_file = {str(params_file)!r}\nout_dir = {str(out)!r}"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(config.notebooks_dir())}}).execute()
    executed = tmp_path / f"{notebook}.ipynb"
    nbformat.write(nb, executed)
    html_path = tmp_path / f"{notebook}.html"
    render_html(executed, html_path)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        events = _open(page, html_path)
        body = page.locator("body").inner_text()
        assert "claims_stage(" not in body and "report_stage(" not in body  # plumbing hidden
        assert page.locator("table").count() >= 1
        assert events["dialogs"] == []
        if notebook == "04_report":
            assert "Answer" in body and "<script>alert(1)</script>" in body
        browser.close()
