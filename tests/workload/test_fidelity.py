"""`pagealloc fidelity`: the per-capture fidelity row and its automation-facing keys."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pagealloc.cli import main
from pagealloc.workload.errors import InputFormatError
from pagealloc.workload.fidelity import kernel_version, profile_for

KEYS = {"dir", "events", "follow_inconsistencies", "decide_pfn_match", "dump_state_agreement",
        "pagetypeinfo_max_cell_error", "extfrag_agreement"}


def test_profile_is_the_nearest_not_newer() -> None:
    """version.txt picks the profile: the nearest upstream profile not newer than the kernel."""
    assert profile_for((7, 2)) == "linux-7.2"
    assert profile_for((7, 5)) == "linux-7.2"
    assert profile_for((6, 12)) == "linux-6.1"
    assert profile_for((6, 1)) == "linux-6.1"
    assert profile_for((5, 10)) == "linux-6.1"          # older than every profile: the oldest


def test_kernel_version_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="version.txt:1: field 'version'"):
        kernel_version(tmp_path)
    (tmp_path / "version.txt").write_text("not a kernel\n")
    with pytest.raises(InputFormatError, match="no 'Linux version"):
        kernel_version(tmp_path)


def test_fidelity_json_on_a_real_capture_keeps_rows_past_a_bad_dir(
        traces_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """linux-7.2/highorder over all its dump intervals: every key automation relies on,
    in range, the 7.2 profile chosen from version.txt, decide match >= 97%; a broken
    directory after it exits 2 naming it while the computed row is still printed."""
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(traces_dir / "linux-7.2" / "highorder" / "version.txt", bad / "version.txt")
    (bad / "summary.json").write_text("{not json")
    rc = main(["fidelity", str(traces_dir / "linux-7.2" / "highorder"), str(bad), "--json"])
    out, err = capsys.readouterr()
    assert rc == 2 and "summary.json:1: field 'summary'" in err and str(bad) in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 1
    r = rows[0]
    assert KEYS <= set(r)
    assert r["profile"] == "linux-7.2" and r["kernel"] == "7.2" and r["dumps"] >= 2
    assert r["events"] > 100_000 and r["allocs"] > 50_000
    assert 0.97 <= r["decide_pfn_match"] <= 1.0
    assert 0.0 <= r["dump_state_agreement"] <= 1.0
    assert 0.0 <= r["pagetypeinfo_max_cell_error"] <= 1.0
    assert 0.0 <= r["extfrag_agreement"] <= 1.0
    assert r["follow_inconsistencies"] >= 0
