"""``pagealloc sweep``: the grid, local workers, determinism, one point again, Dask, errors, CLI."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pagealloc.cli import main
from pagealloc.experiments.sweep import (
    PARAM_KEYS,
    SweepSpecError,
    load_spec,
    parse_spec,
    run_point,
    run_points,
    summarize,
)

SPEC = """\
name = "v2-vs-v4"
scenarios = ["secretmem"]
profiles = ["unmapped-v2", "unmapped-v4"]
seeds = [1, 2]
scale = 0.03125
"""


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("sweep") / "spec.toml"
    p.write_text(SPEC)
    return p


@pytest.fixture(scope="module")
def rows(spec_path: Path) -> list[dict[str, object]]:
    return run_points(load_spec(spec_path).points, workers=2)


def test_grid_points_in_order(spec_path: Path) -> None:
    pts = load_spec(spec_path).points
    assert [(p["point"], p["variant"], p["seed"]) for p in pts] == [
        (0, "unmapped-v2", 1), (1, "unmapped-v2", 2), (2, "unmapped-v4", 1), (3, "unmapped-v4", 2)]
    assert all(p["scale"] == 0.03125 and p["scenario"] == "secretmem" for p in pts)


def test_local_workers_rows_complete_deterministic_and_reproducible(
        spec_path: Path, rows: list[dict[str, object]]) -> None:
    assert [r["point"] for r in rows] == [0, 1, 2, 3]
    for r in rows:
        assert list(r)[:len(PARAM_KEYS)] == list(PARAM_KEYS)
        for k in ("flips_to_unmapped", "tlb_ipis", "alloc_failures", "cost_total_us",
                  "free_order9_blocks_mean", "events"):
            assert isinstance(r[k], (int, float)), k
    assert rows[0]["events"] != rows[1]["events"]          # the seeds differ
    assert rows[0]["pages_zeroed"] != rows[2]["pages_zeroed"]  # v4 drops __GFP_ZERO
    again = run_points(load_spec(spec_path).points, workers=1)
    assert json.dumps(again, sort_keys=True) == json.dumps(rows, sort_keys=True)
    one = run_point(rows[3])                               # from the recorded parameters
    assert json.dumps(one, sort_keys=True) == json.dumps(rows[3], sort_keys=True)
    summ = {s["metric"]: s for s in summarize(rows)}
    assert summ["pages_zeroed"]["best"] in (2, 3) and summ["pages_zeroed"]["worst"] in (0, 1)


def test_dask_local_cluster(spec_path: Path, rows: list[dict[str, object]]) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        got = run_points(load_spec(spec_path).points, dask=cluster.scheduler_address)
    assert json.dumps(got, sort_keys=True) == json.dumps(rows, sort_keys=True)


@pytest.mark.parametrize("text, line, key, what", [
    (SPEC.replace('"unmapped-v4"', '"unmapped-v9"'), 3, "profiles[1]", "unknown profile"),
    (SPEC.replace("scale = 0.03125", "scale = -1"), 5, "scale", "out of range"),
    (SPEC + "[knobs]\nflip_mode = [\"sideways\"]\n", 7, "knobs.flip_mode", "sideways"),
    (SPEC + "colour = 1\n", 6, "colour", "unknown key"),
    (SPEC.replace('["secretmem"]', '["nope.toml"]'), 2, "scenarios[0]", "nope"),
    (SPEC.replace("seeds = [1, 2]", "seeds = [1, \"x\"]"), 4, "seeds[1]", "integer"),
])
def test_spec_errors_name_file_line_key(text: str, line: int, key: str, what: str) -> None:
    with pytest.raises(SweepSpecError) as ei:
        parse_spec(text, "grid.toml")
    e = ei.value
    assert (e.path, e.lineno, e.field) == ("grid.toml", line, key)
    assert what in e.problem and str(e).startswith(f"grid.toml:{line}: field '{key}'")


def test_knob_grid_expands_every_profile() -> None:
    sp = parse_spec(SPEC + "[knobs]\nzero_on_map_back = [false, true]\n", "g.toml")
    assert len(sp.points) == 8
    assert sp.points[1]["variant"] == "unmapped-v2+zero_on_map_back=false"
    assert sp.points[2]["variant"] == "unmapped-v2+zero_on_map_back=true"


def test_cli_sweep_only_and_errors(spec_path: Path, tmp_path: Path, rows: list[dict[str, object]],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert main(["sweep", str(spec_path), "--workers", "1", "--out", str(out)]) == 0
    text, err = capsys.readouterr()
    assert text.startswith("sweep v2-vs-v4  4 points") and "pages_zeroed" in text
    assert "4/4 points" in err and (out / "sweep.csv").is_file()
    table = json.loads((out / "sweep.json").read_text())
    assert json.dumps(table, sort_keys=True) == json.dumps(rows, sort_keys=True)
    assert (out / "sweep.csv").read_text().splitlines()[0].startswith("point,scenario,variant")
    # sweep.parquet: the same rows as sweep.json, and as the CSV's text
    import pyarrow.parquet as pq     # a main dependency: written always
    back = pq.read_table(out / "sweep.parquet").to_pylist()
    assert json.dumps(back, sort_keys=True) == json.dumps(table, sort_keys=True)
    with open(out / "sweep.csv", newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [{k: str(v) for k, v in r.items()} for r in back] == csv_rows
    assert main(["sweep", str(spec_path), "--only", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == rows[2]
    assert main(["sweep", str(spec_path), "--only", "9"]) == 2
    assert "--only 9" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC + "every = 0\n")
    assert main(["sweep", str(bad)]) == 2
    assert f"{bad}:6: field 'every'" in capsys.readouterr().err
