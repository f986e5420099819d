"""Reading a run's files back (JSONL), and comparing two runs' output folders (`workbench diff`): volatile parts
ignored, real changes found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from helpers.outputs import compare_runs, read_jsonl


def _run_folder(root: Path, date: str, cell_id: str, claim: str, seconds: float) -> Path:
    out = root
    out.mkdir(parents=True)
    (out / "report.md").write_text(f"# T\n\n**Date:** {date} UTC\n\nAnswer.\n")
    (out / "claims.csv").write_text(f"claim_id,claim\nC1,{claim}\n")
    (out / "manifest.json").write_text(json.dumps({"slug": "s", "timings_s": {"total": seconds},
                                                   "finished": date, "corpora": {"x": "abc"}}))
    nb = {"cells": [{"cell_type": "code", "id": cell_id, "source": f"x = {seconds}",
                     "outputs": [{"output_type": "stream", "text": f"{claim}\n"},
                                 {"output_type": "display_data", "metadata": {},
                                  "data": {"text/plain": f"<pandas.io.formats.style.Styler at {hex(id(root))}>"}}]}]}
    (out / "01_retrieval.ipynb").write_text(json.dumps(nb))
    (out / "01_retrieval.html").write_text(f'<div id="cell-id={cell_id}">{claim}</div>')
    return out


def test_same_run_at_another_time_compares_equal(tmp_path):
    a = _run_folder(tmp_path / "a", "2026-12-01 10:39", "1446ae01", "X speeds up Y.", 40.1)
    b = _run_folder(tmp_path / "b", "2026-12-02 08:00", "f65d7b55", "X speeds up Y.", 27.6)
    assert compare_runs(a, b) == []


def test_changed_claim_or_missing_file_is_reported(tmp_path):
    a = _run_folder(tmp_path / "a", "2026-12-01 10:39", "1446ae01", "X speeds up Y.", 40.1)
    b = _run_folder(tmp_path / "b", "2026-12-01 10:39", "1446ae01", "X slows down Y.", 40.1)
    assert compare_runs(a, b) == ["differs: 01_retrieval.html", "differs: 01_retrieval.ipynb", "differs: claims.csv"]
    shutil.copytree(a, tmp_path / "c")
    (tmp_path / "c" / "report.md").unlink()
    assert compare_runs(a, tmp_path / "c") == [f"only in {a}: report.md"]
    m = json.loads((a / "manifest.json").read_text())
    m["corpora"] = {"x": "def"}
    (tmp_path / "c" / "manifest.json").write_text(json.dumps(m))
    assert "differs: manifest.json" in compare_runs(a, tmp_path / "c")


def test_read_jsonl_splits_only_at_newlines(tmp_path):
    rows = [{"t": "line\u2028separator \x85 \x1c \x0c"}, {"t": "plain"}]
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    assert len(path.read_text(encoding="utf-8").splitlines()) > 2  # what str.splitlines would have cut
    assert read_jsonl(path) == rows


def test_a_styler_table_id_and_an_object_address_are_not_differences(tmp_path):
    """pandas gives every Styler table a random id and its repr an address: two runs' notebooks differ there only."""
    a, b = tmp_path / "a", tmp_path / "b"
    for root, tid, addr, title in ((a, "c168e", "0x7f0364a75b10", "One"), (b, "d6ef4", "0x7fb4001d2010", "One")):
        root.mkdir()
        (root / "t.html").write_text(f'<style>#T_{tid} th {{}} #T_{tid}_row0_col0 {{}}</style><table id="T_{tid}">{title}')
        (root / "n.ipynb").write_text(json.dumps({"cells": [{"outputs": [
            {"data": {"text/html": [f'<table id="T_{tid}">'], "text/plain": [f"<Styler at {addr}>"]}}]}]}))
    assert compare_runs(a, b) == []
    (b / "t.html").write_text('<style>#T_d6ef4 th {}</style><table id="T_d6ef4">Two')
    assert compare_runs(a, b) == ["differs: t.html"]
