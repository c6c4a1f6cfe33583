"""The package stays mypy --strict clean (the brief: core fully typed)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_mypy_strict_clean() -> None:
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.skip("mypy not installed")
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "pagealloc"], cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
