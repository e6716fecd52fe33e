"""The code base stays ruff-clean (lint and format), so CI catches what a reviewer would."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_check_is_clean():
    proc = ruff("check", "siting", "tests", "benchmarks")
    assert proc.returncode == 0, proc.stdout


def test_ruff_format_is_clean():
    proc = ruff("format", "--check", "siting", "tests", "benchmarks")
    assert proc.returncode == 0, proc.stdout


def test_mypy_is_clean():
    """`mypy siting` with the configuration in pyproject.toml reports no error."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "siting"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout
