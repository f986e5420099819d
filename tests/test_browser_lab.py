"""JupyterLab in a real browser: run the claims notebook, read its claims table, click Reject, find the decision on
disk."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import config
from helpers.params import load_params
from helpers.retrieval import stage as retrieval
from helpers.review import decisions as reviews
from tests.browser import launch

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TOKEN = "workbench-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path):
    nb_dir = tmp_path / "lab"
    shutil.copytree(config.notebooks_dir(), nb_dir)  # JupyterLab autosaves: never open the repo's own copies
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={nb_dir}", "--LabApp.news_url=",
         "--ServerApp.port_retries=0", "--allow-root", "--LabApp.extension_manager=readonly", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start within 90 s")
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


def test_click_reject_in_jupyterlab_writes_decision(lab):
    from playwright.sync_api import sync_playwright

    params = load_params(os.environ["WORKBENCH_PARAMS"])
    out = config.outputs_dir() / params.slug
    retrieval.save(retrieval.run(params), out)  # notebook 1's files, which notebook 2 reads
    path = reviews.reviews_path(params.slug)
    before = path.read_text().count("\n") if path.exists() else 0
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{lab}/lab/tree/02_claims.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        select = page.get_by_role("button", name="Select", exact=True)
        try:  # JupyterLab may ask which kernel to start
            select.click(timeout=8_000)
        except Exception:
            pass
        page.wait_for_selector(".jp-Toolbar-kernelName", timeout=60_000)
        page.wait_for_timeout(2_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        reject = page.locator("button.widget-button", has_text="Reject").first
        try:
            reject.wait_for(state="visible", timeout=180_000)
        except Exception:
            page.screenshot(path=os.environ.get("WORKBENCH_LAB_SHOT", str(Path(out) / "lab-failure.png")), full_page=True)
            raise
        layout = page.evaluate("""() => {
            for (const table of document.querySelectorAll('.jp-OutputArea-output table')) {
                const heads = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
                const col = heads.indexOf('claim');
                const row = table.querySelector('tbody tr');
                if (col < 0 || !row) continue;
                const cell = row.children[col], style = getComputedStyle(cell);
                return {share: cell.getBoundingClientRect().width / table.getBoundingClientRect().width,
                        white: style.whiteSpace, align: style.textAlign, height: cell.getBoundingClientRect().height,
                        id: row.children[0].getBoundingClientRect().width};
            }
            return null;
        }""")
        reject.scroll_into_view_if_needed()
        reject.click()
        deadline = time.time() + 30
        while time.time() < deadline:
            if path.exists() and path.read_text().count("\n") > before:
                break
            time.sleep(0.3)
        page.screenshot(path=str(Path(out) / "lab-screenshot.png"))
        browser.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()[before:]]
    assert len(lines) == 1 and lines[0]["kind"] == "claim" and lines[0]["decision"] == "reject"
    # the claims table gives the claim the width: wide, wrapped, left-aligned; the id column stays narrow
    assert layout is not None, "no claims table with a 'claim' column in the notebook's output"
    assert layout["share"] > 0.25 and layout["white"] == "normal" and layout["align"] in ("left", "start"), layout
    assert layout["id"] < layout["share"] * 1400 / 2
    claim_ids = {json.loads(x)["claim_id"] for x in (out / "claims.jsonl").read_text().splitlines() if x.strip()}
    assert lines[0]["id"] in claim_ids
