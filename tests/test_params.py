"""Params validation: every bad file fails before anything runs, with one line naming file and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers.errors import ParamsError
from helpers.params import load_params, parse_params, slugify

GOOD = {"question": "Does speculative decoding speed up inference without quality loss?"}


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({**GOOD, "colour": "red"}, "colour", "unknown key"),
        ({"slug": "x"}, "question", "required"),
        ({**GOOD, "year_from": 2026, "year_to": 2020}, "year_from", "inverted"),
        ({**GOOD, "criteria": {"min_relevance": 2}}, "criteria.min_relevance", "less than or equal"),
        ({**GOOD, "criteria": {"include": [["a"]]}}, "criteria.include", "unknown key"),
        ({**GOOD, "sources": []}, "sources", "at least 1"),
        ({**GOOD, "sources": ["no such source!"]}, "sources.0.name", "not a source name"),
        ({**GOOD, "api_key": "abc"}, "api_key", "secrets"),
        ({**GOOD, "sources": [{"name": "openalex", "mailto": "me@x.org"}]}, "sources[0].mailto", "secrets"),
    ],
)
def test_invalid_params_name_the_field(data, field, words):
    with pytest.raises(ParamsError) as exc:
        parse_params(data, "params/q.yaml")
    assert exc.value.field == field
    msg = str(exc.value)
    assert msg.startswith("params/q.yaml: ") and words in msg and "\n" not in msg


def test_defaults_and_slug():
    p = parse_params({**GOOD, "sources": ["local:arxiv-cs", {"name": "openalex", "limit": 20}]})
    assert p.slug == slugify(GOOD["question"]) == "does-speculative-decoding-speed-up-inference-without-quality"
    assert [s.name for s in p.sources] == ["local:arxiv-cs", "openalex"] and p.sources[1].limit == 20


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("question: [unclosed\n")
    with pytest.raises(ParamsError, match="bad.yaml: line"):
        load_params(bad)
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "nope.yaml")


def test_shipped_params_are_valid():
    for f in sorted(Path("params").glob("*.yaml")):
        assert load_params(f).slug


def test_cli_rejects_before_running_and_leaves_outputs(tmp_path):
    out = tmp_path / "outputs"
    (out / "keep").mkdir(parents=True)
    (out / "keep" / "report.md").write_text("last good")
    bad = tmp_path / "q.yaml"
    bad.write_text("question: Does anything at all happen here?\nyear_from: 2026\nyear_to: 2020\n")
    proc = subprocess.run([sys.executable, "-m", "helpers.cli", "run", str(bad), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "q.yaml" in lines[0] and "year_from" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["keep"]
    assert (out / "keep" / "report.md").read_text() == "last good"
