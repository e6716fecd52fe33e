"""The documentation: the README is a short front door, the site builds strictly, and the
benchmarks' figures are written for it by ``benchmarks/_report.py``."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_CHARS = 12_000  # issue #17: the README is the front door, the manual is docs/


def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_readme_is_short():
    assert len(readme()) <= README_MAX_CHARS


def test_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert commands == ["./install.sh test && .venv/bin/python -m pytest -n 2"]
    assert commands[0] in readme().splitlines()


def test_readme_has_the_run_command_and_the_picture():
    lines = readme().splitlines()
    assert "./install.sh && .venv/bin/siting run" in lines
    assert "](docs/map.png)" in readme()
    assert (ROOT / "docs" / "map.png").is_file()


def test_readme_links_point_at_files_that_exist():
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme())
    local = [t for t in targets if "://" not in t]
    assert "docs/guide/index.md" in local
    missing = [t for t in local if not (ROOT / t).exists()]
    assert missing == []


def test_readme_keeps_no_development_journal():
    text = readme()
    for phrase in ("this session", "previous session", "| run |", "run 22"):
        assert phrase not in text


def test_every_test_the_guarantees_page_names_exists():
    """The "What siting guarantees" page names the test that holds each promise: a renamed or
    deleted test must not leave a promise without one."""
    page = (ROOT / "docs" / "guide" / "guarantees.md").read_text(encoding="utf-8")
    files = {f.stem for f in (ROOT / "tests").glob("test_*.py")}
    named = set(re.findall(r"\b(test_[a-z0-9_]*[a-z0-9])\b", page)) - files
    defined = set()
    for f in (ROOT / "tests").glob("*.py"):
        defined |= set(re.findall(r"def (test_[a-z0-9_]+)\(", f.read_text(encoding="utf-8")))
    assert len(named) > 80
    assert named <= defined, sorted(named - defined)


@pytest.mark.slow
def test_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about its successor
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "WARNING" not in proc.stderr
    pages = {
        "index.html": "coal → concentrate → coke → chemicals → materials",
        "guide/index.html": "./install.sh test",
        "guide/cli/index.html": "usage: siting fetch osm",  # the hook followed the commands
        "reference/scenario/index.html": "",
        "api/run/index.html": "siting.run",
        "api/models/index.html": "PMedian",
        "how/models/index.html": "Lagrangian relaxation",
        "data/provenance/index.html": "Provenance of the embedded default Kuzbass layers",
        "performance/index.html": "Measured",  # a benchmark's figures, included
        "webmap/index.html": "map.png",
        "qgis/index.html": "qgis_project.png",
    }
    for page, text in pages.items():
        html = (site / page).read_text(encoding="utf-8")
        assert text in html, page
    # Sphinx roles in docstrings become inline code (docs/hooks/sphinx_roles.py)
    assert ":func:" not in (site / "api" / "models" / "index.html").read_text(encoding="utf-8")
    # No page fetches fonts or scripts from elsewhere: the site works offline.
    for html in site.rglob("*.html"):
        assert "fonts.googleapis.com" not in html.read_text(encoding="utf-8"), html


def report_module() -> ModuleType:
    """benchmarks/_report.py, which the benchmarks import as a script's sibling."""
    spec = importlib.util.spec_from_file_location("_report", ROOT / "benchmarks" / "_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_writes_a_table_and_where_it_was_measured(tmp_path):
    report = report_module()
    rows = [
        {"cells": "1.00 M", "ours": 0.172, "same": "yes", "diff": None},
        {"cells": "4.00 M", "ours": 0.86, "same": "yes", "diff": 1500},
    ]
    path = report.record(
        "cost_distance", rows, command="python benchmarks/x.py --docs", out_dir=tmp_path
    )
    assert path == tmp_path / "cost_distance.md"
    text = path.read_text(encoding="utf-8")
    assert (
        "| cells | ours | same | diff |\n"
        "|---:|---:|---|---:|\n"
        "| 1.00 M | 0.172 | yes | – |\n"
        "| 4.00 M | 0.86 | yes | 1,500 |\n"
    ) in text
    assert "```bash\npython benchmarks/x.py --docs\n```" in text
    assert f"- Python: {platform.python_implementation()} {platform.python_version()}" in text
    assert re.search(rf"- cores: {len(os.sched_getaffinity(0))}( usable of \d+)?\n", text)
    assert re.search(r"Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert re.search(r"- packages: siting \S+, numpy \S+", text)


def test_record_writes_printed_lines_as_text(tmp_path):
    report = report_module()
    lines = ["whatif cold_s=97.50 warm_s=20.80 ratio=0.213"]
    text = report.record("whatif", lines, command="c", out_dir=tmp_path).read_text("utf-8")
    assert "```text\nwhatif cold_s=97.50 warm_s=20.80 ratio=0.213\n```" in text


def test_record_refuses_bad_names_and_ragged_rows(tmp_path):
    report = report_module()
    with pytest.raises(ValueError, match="benchmark name"):
        report.record("../escape", ["x"], command="c", out_dir=tmp_path)
    with pytest.raises(ValueError, match="columns"):
        report.record("ragged", [{"a": 1}, {"b": 2}], command="c", out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
