"""The HTML report and the rendered notebooks in a real headless browser: content shows, hostile text from the
records and the question stays text, and every page has its own intact title."""

from __future__ import annotations

import pytest

from tests.browser import launch

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _open(page, path):
    events = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return events


def test_report_renders_answer_claims_figures_and_neutralises_scripts(hostile_run):
    from playwright.sync_api import sync_playwright

    params, out = hostile_run
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        events = _open(page, out / "report.html")
        assert page.title() == params.title and "<script>window.PWN=7</script>" in page.title()  # intact, as text
        assert page.locator("#answer").is_visible() and len(page.locator("#answer .main").inner_text()) > 20
        assert page.locator("#claims tr").count() >= 2  # header + at least one claim
        for fig in ("#prisma-figure", "#score-figure"):
            assert page.eval_on_selector(fig, "img => img.complete && img.naturalWidth > 100")
        refs = page.locator("#references").inner_text()
        assert "<script>window.PWN=1</script>" in refs and '<img src=x onerror="window.PWN=2">' in refs  # text ...
        assert page.locator("#references script, #references img, #references svg, pwn-img, pwn-svg").count() == 0
        assert page.evaluate("typeof window.PWN") == "undefined"  # ... never run
        assert events["dialogs"] == [] and events["errors"] == []
        page.screenshot(path=str(out / "report-screenshot.png"), full_page=False)
        browser.close()


@pytest.mark.parametrize("notebook", ["01_retrieval", "02_claims", "03_scoring", "04_report"])
def test_rendered_notebook_has_its_title_tables_and_hostile_text_inert(notebook, hostile_run):
    from playwright.sync_api import sync_playwright

    params, out = hostile_run
    stage = {"01_retrieval": "1 · Retrieval", "02_claims": "2 · Claims", "03_scoring": "3 · Answer and scoring",
             "04_report": "4 · Report"}[notebook]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        events = _open(page, out / f"{notebook}.html")
        assert page.title() == f"{stage}: {params.question}"  # names the stage and the question, tags as text
        body = page.locator("body").inner_text()
        assert "retrieval.run(" not in body and "claims_stage(" not in body and "report_stage(" not in body
        assert page.locator("table").count() >= 1
        assert page.locator("pwn-img, pwn-svg").count() == 0 and page.evaluate("typeof window.PWN") == "undefined"
        assert events["dialogs"] == []
        if notebook in ("01_retrieval", "04_report"):
            assert "<script>window.PWN=1</script>" in body  # the hostile titles are shown, as text
        if notebook == "04_report":
            assert "Answer" in body and page.locator("a[href^='javascript:']").count() == 0
        browser.close()
