"""Shared test fixtures: where the real kernel traces live.

CI clones the project next to a copy of ``shared/``, so the traces are at
``<repo>/../shared/traces``.  Tests that need them skip when it is absent.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TRACES = SHARED / "traces"


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    if not TRACES.is_dir():
        pytest.skip(f"real traces not found at {TRACES}")
    return TRACES
