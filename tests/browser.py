"""Headless Debian chromium driven by playwright (no browser download), for the browser tests."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    path = os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER"):
            pytest.fail("chromium not found but WORKBENCH_REQUIRE_BROWSER is set (apt-get install chromium)")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    return path


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
