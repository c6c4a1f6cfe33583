"""``pagealloc sweep``: the grid, local workers, determinism, one point again, Dask, errors, CLI;
the ``[machine]`` grid and trace points."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from pagealloc.cli import main
from pagealloc.experiments.sweep import (
    PARAM_KEYS,
    SweepSpecError,
    load_spec,
    normalized,
    parse_spec,
    run_point,
    run_points,
    summarize,
    write_table,
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


def test_dask_local_cluster(spec_path: Path, rows: list[dict[str, object]],
                            machine_rows: list[dict[str, object]]) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        got = run_points(load_spec(spec_path).points, dask=cluster.scheduler_address)
        got_m = run_points(parse_spec(MACHINE_SPEC, "m.toml").points[:2],
                           dask=cluster.scheduler_address)
    assert json.dumps(got, sort_keys=True) == json.dumps(rows, sort_keys=True)
    assert json.dumps(got_m, sort_keys=True) == json.dumps(machine_rows[:2], sort_keys=True)


MACHINE_SPEC = """\
name = "size-cpus"
scenarios = ["secretmem"]
profiles = ["unmapped-v2"]
seeds = [1]
scale = 0.03125

[machine]
memory = ["256M", 536870912]
cpus = [1, 4]
watermark_boost_factor = 0
"""


@pytest.fixture(scope="module")
def machine_rows() -> list[dict[str, object]]:
    return run_points(parse_spec(MACHINE_SPEC, "m.toml").points, workers=2)


def test_rows_without_machine_or_traces_have_no_new_columns(rows: list[dict[str, object]]) -> None:
    for r in rows:
        assert not [k for k in r if k.startswith("machine_") or k in ("trace", "what_if", "limit")]


def test_machine_grid_order_and_parameters() -> None:
    sp = parse_spec(SPEC + "[machine]\nmemory = [\"256M\", \"1G\"]\ncpus = [1, 4]\n", "g.toml")
    # scenarios x profiles x knobs x machine (memory slowest, then cpus) x seeds x scales
    got = [(p["variant"], p["machine_memory"], p["machine_cpus"], p["seed"]) for p in sp.points]
    assert len(got) == 16 and [p["point"] for p in sp.points] == list(range(16))
    assert got[:5] == [("unmapped-v2", 256 << 20, 1, 1), ("unmapped-v2", 256 << 20, 1, 2),
                       ("unmapped-v2", 256 << 20, 4, 1), ("unmapped-v2", 256 << 20, 4, 2),
                       ("unmapped-v2", 1 << 30, 1, 1)]
    assert got[8] == ("unmapped-v4", 256 << 20, 1, 1)
    assert list(sp.points[0])[:len(PARAM_KEYS)] == list(PARAM_KEYS)
    # one value is a one-element axis; lowmem_reserve_ratio: one array is one value
    one = parse_spec(SPEC + "[machine]\ncpus = 2\nlowmem_reserve_ratio = [256, 256, 32, 0, 0]\n",
                     "g.toml").points
    assert len(one) == 4 and one[0]["machine_cpus"] == 2
    assert one[0]["machine_lowmem_reserve_ratio"] == "256 256 32 0 0"
    two = parse_spec(SPEC + "[machine]\nlowmem_reserve_ratio = [[256, 256, 32, 0, 0], "
                     "[1, 1, 1, 0, 0]]\n", "g.toml").points
    assert len(two) == 8 and two[2]["machine_lowmem_reserve_ratio"] == "1 1 1 0 0"


def test_machine_points_run_reproduce_and_match_compare_set(
        machine_rows: list[dict[str, object]]) -> None:
    from pagealloc.experiments.compare import compare_scenario, parse_variant
    rows = machine_rows
    assert [(r["machine_memory"], r["machine_cpus"], r["machine_watermark_boost_factor"])
            for r in rows] == [(256 << 20, 1, 0), (256 << 20, 4, 0), (512 << 20, 1, 0),
                               (512 << 20, 4, 0)]
    assert list(rows[0])[:10] == list(PARAM_KEYS) + [
        "machine_memory", "machine_cpus", "machine_watermark_boost_factor"]
    ipis = [int(str(r["tlb_ipis"])) for r in rows]
    assert ipis[0] == 0 < ipis[1]                          # one CPU: nobody to interrupt
    dm = [int(str(r["directmap_2m_kb_end"])) for r in rows]
    assert dm[2] > dm[0]                                   # more memory
    # the row is all run_point needs, also read back from JSON
    again = run_point(json.loads(json.dumps(rows[3])))
    assert json.dumps(again, sort_keys=True) == json.dumps(rows[3], sort_keys=True)
    # the same numbers as pagealloc compare --set memory=512M --set cpus=4 ...
    cmp = compare_scenario("secretmem", [parse_variant("unmapped-v2")], seed=1, scale=0.03125,
                           overrides={"memory": "512M", "cpus": 4, "watermark_boost_factor": 0})
    for k, v in cmp.columns[0].items():
        if isinstance(v, (int, float)) and not k.startswith("failures "):
            assert rows[3][k] == v, k


@pytest.mark.parametrize("text, line, key, what", [
    (SPEC.replace('"unmapped-v4"', '"unmapped-v9"'), 3, "profiles[1]", "unknown profile"),
    (SPEC.replace("scale = 0.03125", "scale = -1"), 5, "scale", "out of range"),
    (SPEC + "[knobs]\nflip_mode = [\"sideways\"]\n", 7, "knobs.flip_mode", "sideways"),
    (SPEC + "colour = 1\n", 6, "colour", "unknown key"),
    (SPEC.replace('["secretmem"]', '["nope.toml"]'), 2, "scenarios[0]", "nope"),
    (SPEC.replace("seeds = [1, 2]", "seeds = [1, \"x\"]"), 4, "seeds[1]", "integer"),
    (SPEC + "[machine]\ncolour = [1]\n", 7, "machine.colour", "unknown machine field"),
    (SPEC + "[machine]\nmemory = \"1G\"\ncpus = [1, 0]\n", 8, "machine.cpus[1]", "1..1024"),
    (SPEC + "[machine]\nmemory = [\"lots\"]\n", 7, "machine.memory[0]", "cannot parse size"),
    (SPEC + "[machine]\nthp = 1\n", 7, "machine.thp", "expected a boolean"),
    (SPEC + "[machine]\nreserved = [[0, 1]]\n", 7, "machine.reserved", "cannot be swept"),
    (SPEC + "[machine]\nlowmem_reserve_ratio = [1, 2]\n", 7, "machine.lowmem_reserve_ratio",
     "5 non-negative"),
    (SPEC + "machine = 3\n", 6, "machine", "expected a table"),
    (SPEC + "traces = [\"no/such/capture\"]\n", 6, "traces[0]", "not a capture directory"),
    (SPEC + "limit = 10\n", 6, "limit", "trace points only"),
    (SPEC + "what_if = [\"gfp=GFP_KERNEL:unmapped\"]\n", 6, "what_if", "trace points only"),
    ("profiles = [\"linux-7.2\"]\n", 1, "scenarios", "scenarios, traces or both"),
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


def _fake_capture(d: Path) -> Path:
    (d / "snap_before").mkdir(parents=True)
    (d / "trace.txt").write_text("")
    return d


@pytest.mark.parametrize("extra, line, key, what", [
    ("seeds = [1]\n", 3, "seeds", "scenario points only"),
    ("[machine]\ncpus = [2]\n", 3, "machine", "scenario points only"),
    ("limit = -1\n", 3, "limit", "integer >= 0"),
    ("what_if = [\"gfp=NOT_A_FLAG:unmapped\"]\n", 3, "what_if[0]", "NOT_A_FLAG"),
    ("what_if = \"order=9\"\n", 3, "what_if", "MATCH:ACTION"),
])
def test_trace_spec_errors(tmp_path: Path, extra: str, line: int, key: str, what: str) -> None:
    _fake_capture(tmp_path / "cap")
    spec = tmp_path / "t.toml"
    spec.write_text('traces = ["cap"]\nprofiles = ["unmapped-v2"]\n' + extra)
    with pytest.raises(SweepSpecError) as ei:
        load_spec(spec)
    e = ei.value
    assert (e.lineno, e.field) == (line, key) and what in e.problem, str(e)


def test_trace_points_not_multiplied(tmp_path: Path) -> None:
    cap = _fake_capture(tmp_path / "caps" / "one")
    spec = tmp_path / "t.toml"
    spec.write_text(SPEC + 'traces = ["caps/one"]\nlimit = 5\nwhat_if = ["gfp=GFP_KERNEL:unmapped", '
                    '"order=0,gfp=GFP_HIGHUSER_MOVABLE:drop"]\n[machine]\ncpus = [1, 2]\n')
    pts = load_spec(spec).points
    assert len(pts) == 8 + 2          # 2 profiles x 2 cpus x 2 seeds, then one per profile
    tr = pts[8:]
    assert [(p["point"], p["variant"]) for p in tr] == [(8, "unmapped-v2"), (9, "unmapped-v4")]
    assert tr[0] == {"point": 8, "scenario": None, "variant": "unmapped-v2",
                     "profile": "unmapped-v2", "seed": None, "scale": None, "every": 1000,
                     "trace": str(cap.resolve()), "limit": 5,
                     "what_if": "gfp=GFP_KERNEL:unmapped; order=0,gfp=GFP_HIGHUSER_MOVABLE:drop"}


def test_trace_points_replay_in_workers(tmp_path: Path) -> None:
    """A scenario point and a trace point of linux-7.2/anon (``limit``: a few hundred
    requests; every trace point reads the whole trace) in two worker processes."""
    from tests.conftest import TRACES
    anon = TRACES / "linux-7.2" / "anon"
    if not anon.is_dir():
        pytest.skip(f"real trace not found at {anon}")
    spec = tmp_path / "t.toml"
    spec.write_text(f"""\
name = "trace"
scenarios = ["secretmem"]
traces = ["{os.path.relpath(anon, tmp_path)}"]
profiles = ["unmapped-v2"]
seeds = [1]
scale = 0.03125
every = 100
limit = 300
what_if = ["gfp=GFP_HIGHUSER_MOVABLE:unmapped"]

[machine]
cpus = [2]
""")
    sp = load_spec(spec)
    assert len(sp.points) == 2 and sp.points[1]["trace"] == str(anon.resolve())
    rows = run_points(sp.points, workers=2)
    scn, tr = rows
    assert scn["machine_cpus"] == 2 and "trace" not in scn
    assert {k: tr[k] for k in sp.points[1]} == sp.points[1]       # the row's parameters
    assert "machine_cpus" not in tr and tr["seed"] is None and tr["limit"] == 300
    assert tr["allocs"] == 300 and tr["events"] > 300
    assert tr["flips_to_unmapped"] >= 1                # the what-if rule made unmapped requests
    for k in ("cost_total_us", "free_order9_blocks_mean", "directmap_4k_kb_worst",
              "pages_zeroed", "alloc_failures", "tlb_flush_full"):
        assert isinstance(tr[k], (int, float)), k
    # the table: a scenario-only metric is null on the trace row, a parameter the row
    # lacks is null; Parquet reads back what JSON holds
    full = normalized(rows)
    assert full[1]["model_seconds"] is None and full[1]["machine_cpus"] is None
    assert full[0]["trace"] is None and isinstance(full[0]["model_seconds"], float)
    assert {s["metric"] for s in summarize(rows)} >= {"events", "allocs"}
    paths = write_table(rows, tmp_path / "out")
    import pyarrow.parquet as pq
    back = pq.read_table(paths[2]).to_pylist()
    assert json.dumps(back, sort_keys=True) == json.dumps(json.loads(paths[1].read_text()),
                                                           sort_keys=True)
    # the scenario row from its normalized form (trace: null) gives the same row
    assert json.dumps(run_point(full[0]), sort_keys=True) == json.dumps(scn, sort_keys=True)


def test_trace_point_reproduces_from_its_row(tmp_path: Path) -> None:
    """A trace point (linux-7.2/pagecache, a small capture) run in two worker processes at
    once, the second from the first's parameters read back from JSON: the same row."""
    from tests.conftest import TRACES
    cap = TRACES / "linux-7.2" / "pagecache"
    if not cap.is_dir():
        pytest.skip(f"real trace not found at {cap}")
    spec = tmp_path / "t.toml"
    spec.write_text(f'traces = ["{cap}"]\nprofiles = ["unmapped-v2+flip_mode=claim"]\n'
                    'limit = 500\nevery = 50\nwhat_if = ["gfp=GFP_HIGHUSER_MOVABLE:unmapped"]\n')
    (pt,) = load_spec(spec).points
    dup = json.loads(json.dumps(pt)) | {"point": 1}
    a, b = run_points([pt, dup], workers=2)
    assert a["allocs"] == 500 and a["variant"] == "unmapped-v2+flip_mode=claim"
    assert json.dumps(b | {"point": 0}, sort_keys=True) == json.dumps(a, sort_keys=True)
