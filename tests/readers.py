"""Real reference readers, as a person's tools would read our exports: Debian's bibutils (`ris2xml`, `bib2xml`,
which turn RIS and BibTeX into MODS XML) and pandoc's citeproc (BibTeX and CSL-JSON bibliographies).

`python -m tests.readers outputs/<slug>` prints how many records each reader finds in a run's exports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MODS = "{http://www.loc.gov/mods/v3}"
TOOLS = {"ris2xml": "bibutils", "bib2xml": "bibutils", "pandoc": "pandoc"}


def tool(name: str) -> str:
    """The path of a reader; a test fails when WORKBENCH_REQUIRE_READERS is set and it is missing, else skips."""
    path = shutil.which(name)
    if not path:
        import pytest

        hint = f"{name} not found (apt-get install {TOOLS[name]})"
        if os.environ.get("WORKBENCH_REQUIRE_READERS"):
            pytest.fail(f"{hint} but WORKBENCH_REQUIRE_READERS is set")
        pytest.skip(hint)
    return path


def _run(args: list[str], stdin: bytes | None = None) -> bytes:
    done = subprocess.run(args, input=stdin, capture_output=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.decode()[:300]}")
    return done.stdout


def mods_titles(xml: bytes) -> list[str]:
    """The title of each record in a MODS collection (bibutils splits "A: B" into title and subTitle)."""
    titles = []
    for mods in ET.fromstring(xml).iter(f"{MODS}mods"):
        info = mods.find(f"{MODS}titleInfo")
        parts = [] if info is None else [(info.findtext(f"{MODS}{t}") or "") for t in ("title", "subTitle")]
        titles.append(": ".join(p for p in parts if p))
    return titles


def ris_titles(path: Path) -> list[str]:
    """The records bibutils' ris2xml reads from an RIS file, by title."""
    return mods_titles(_run([tool("ris2xml"), str(path)]))


def bib_titles(path: Path) -> list[str]:
    """The records bibutils' bib2xml reads from a BibTeX file, by title."""
    return mods_titles(_run([tool("bib2xml"), str(path)]))


def citeproc_entries(bibliography: Path) -> int:
    """How many entries pandoc --citeproc lists when a document cites everything in `bibliography`."""
    html = _run([tool("pandoc"), "--citeproc", f"--bibliography={bibliography}", "-f", "markdown", "-t", "html"],
                stdin=b'---\nnocite: "@*"\n---\n').decode()
    return html.count('class="csl-entry"')


def read_exports(out_dir: Path) -> dict[str, int]:
    """Records each real reader finds in a run's reference files, beside the run's included papers."""
    out_dir = Path(out_dir)
    return {"included": json.loads((out_dir / "report.json").read_text())["included"],
            "ris2xml references.ris": len(ris_titles(out_dir / "references.ris")),
            "bib2xml references.bib": len(bib_titles(out_dir / "references.bib")),
            "pandoc --citeproc references.bib": citeproc_entries(out_dir / "references.bib"),
            "pandoc --citeproc references.json": citeproc_entries(out_dir / "references.json")}


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(folder, json.dumps(read_exports(Path(folder))))
