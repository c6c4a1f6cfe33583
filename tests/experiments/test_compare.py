"""``pagealloc compare``: variants, the table's rows, determinism, errors, outputs."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from pagealloc.cli import main
from pagealloc.experiments.compare import (
    SECURITY_ROWS,
    Comparison,
    Variant,
    compare_scenario,
    mixed_pageblocks,
    parse_variant,
    track_contents,
)
from pagealloc.experiments.cost import COMPONENTS
from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.profiles import ProfileError


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_parse_variant_applies_common_then_own_knobs() -> None:
    v = parse_variant("unmapped-v2+flip_mode=claim+zero_on_map_back=true", {"flip_order": "before_steal"})
    assert v.label == "unmapped-v2+flip_mode=claim+zero_on_map_back=true"
    assert v.profile.flip_mode == "claim" and v.profile.zero_on_map_back is True
    assert v.profile.flip_order == "before_steal"
    assert parse_variant("linux-7.2").profile.name == "linux-7.2"
    with pytest.raises(ProfileError, match="flip_mode"):
        parse_variant("unmapped-v2+flip_mode=sideways")
    with pytest.raises(ProfileError, match="'nope'"):
        parse_variant("unmapped-v2+nope=1")


def test_mixed_pageblocks_counts_blocks_with_two_mobilities() -> None:
    m = Machine(memory="128M", cpus=1, thp=False)
    assert mixed_pageblocks(m) == (0, 0)
    # an unmovable page stolen into a movable block: the block holds both kinds
    movable = [m.alloc_pages(G.GFP_HIGHUSER_MOVABLE | G.__GFP_NOWARN, 0) for _ in range(64)]
    assert all(p is not None for p in movable)
    mixed0, _ = mixed_pageblocks(m)
    u = m.alloc_pages(G.GFP_KERNEL, 0)
    assert u is not None
    mixed, polluted = mixed_pageblocks(m)
    same_block = any(p is not None and p >> 9 == u >> 9 for p in movable)
    assert mixed == mixed0 + (1 if same_block else 0)
    assert polluted >= (1 if same_block and m.pageblock_migratetype(u) == 1 else 0)


@pytest.fixture(scope="module")
def vm_host() -> tuple[Comparison, dict[str, dict[str, dict[str, int]]]]:
    """vm-host at 1/16 (it reclaims, compacts and migrates) through three variants, with each
    machine's counters at the end."""
    vs = [parse_variant(s) for s in ("linux-7.2", "unmapped-v2", "unmapped-v2+zero_on_map_back=true")]
    seen: dict[str, dict[str, dict[str, int]]] = {}

    def keep(v: Variant, m: Machine) -> None:
        seen[v.label] = {"metrics": dict(m.metrics()),
                         "contents": dict(m.contents.stats) if m.contents is not None else {}}
    return compare_scenario("vm-host", vs, scale=1 / 16, every=500, on_machine=keep), seen


def test_compare_scenario_columns_and_rows(vm_host: tuple[Comparison, dict[str, Any]]) -> None:
    cmp, _ = vm_host
    assert cmp.labels == ["linux-7.2", "unmapped-v2", "unmapped-v2+zero_on_map_back=true"]
    for row in ("alloc_failures", "spurious_unmapped_failures", "flips_to_unmapped", "tlb_ipis",
                "directmap_4k_kb_worst", "mixed_pageblocks_end", "free_order9_blocks_min",
                "extfrag", "compact_stall", "pgscan_kswapd", "pages_zeroed", "security_exposures",
                "cost_total_us"):
        assert row in cmp.rows
    assert cmp.value("linux-7.2", "flips_to_unmapped") == 0
    assert cmp.value("unmapped-v2", "flips_to_unmapped") > 0
    # same requests: the events differ only through failures; v2's TLB flushes cost IPIs
    assert cmp.value("unmapped-v2", "tlb_ipis") == 3 * cmp.value("unmapped-v2", "tlb_flush_full")
    assert isinstance(cmp.value("unmapped-v2", "free_order9_blocks_mean"), float)


def test_compare_shows_every_cost_component_it_sums(
        vm_host: tuple[Comparison, dict[str, Any]]) -> None:
    cmp, _ = vm_host
    shown = [r for r in cmp.rows if r.startswith("cost_") and r != "cost_total_us"]
    assert shown == [f"cost_{c}_us" for c in COMPONENTS]
    for label in cmp.labels:
        col = cmp.columns[cmp.labels.index(label)]
        parts = [float(col[r]) for r in shown]                     # type: ignore[arg-type]
        total = float(col["cost_total_us"])                         # type: ignore[arg-type]
        # each row is rounded to 0.1 us: the rows add up to the total within that
        assert sum(parts) == pytest.approx(total, abs=0.05 * (len(parts) + 1))
        assert col["cost_allocations_us"] > 0                       # type: ignore[operator]
    # vm-host reclaims, compacts and migrates: their components are charged
    for r in ("cost_compaction_scan_us", "cost_migrate_copy_us", "cost_reclaim_scan_us"):
        assert cmp.value("linux-7.2", r) > 0, r                     # type: ignore[operator]


def test_compare_compaction_and_reclaim_rows_are_the_machines(
        vm_host: tuple[Comparison, dict[str, Any]]) -> None:
    cmp, seen = vm_host
    for label in cmp.labels:
        met = seen[label]["metrics"]
        for r in ("compact_migrate_scanned", "compact_free_scanned", "compact_isolated",
                  "pgmigrate_success", "pgmigrate_fail", "pgscan_kswapd", "pgsteal_kswapd",
                  "pswpout", "slabs_scanned"):
            assert cmp.value(label, r) == met[r], (label, r)
    assert cmp.value("linux-7.2", "compact_isolated") > 0
    assert cmp.value("linux-7.2", "slabs_scanned") > 0


def test_compare_security_rows_show_unmapped_pages_left_in_the_direct_map() -> None:
    """The 2023 RFC's cache as posted unmaps only the requested pages of its PMD block, so
    later unmapped allocations come out still in the direct map; the fix unmaps it all."""
    vs = [parse_variant(s) for s in ("unmapped-cache-2023",
                                     "unmapped-cache-2023+cache_unmap_whole_block=true")]
    stats: dict[str, dict[str, int]] = {}

    def keep(v: Variant, m: Machine) -> None:
        assert m.contents is not None
        stats[v.label] = dict(m.contents.stats)
    cmp = compare_scenario("secretmem", vs, scale=1 / 32, on_machine=keep)
    for r in SECURITY_ROWS:
        assert r in cmp.rows
        for label in cmp.labels:
            assert cmp.value(label, r) == stats[label][r], (label, r)
    assert cmp.value(vs[0].label, "unmapped_present_in_direct_map") > 0   # type: ignore[operator]
    assert cmp.value(vs[1].label, "unmapped_present_in_direct_map") == 0


def test_cli_compare_is_deterministic_and_writes_csv_json(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = ("compare", "secretmem", "--profiles", "unmapped-v2,per-folio-zap", "--scale", "0.03125",
            "--seed", "3")
    rc, out1, _ = run(capsys, *args, "--out", str(tmp_path))
    assert rc == 0
    rc, out2, _ = run(capsys, *args)
    assert rc == 0 and out1 == out2
    assert "flips_to_unmapped" in out1 and "per-folio-zap" in out1
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [c["label"] for c in data["columns"]] == ["unmapped-v2", "per-folio-zap"]
    csv_lines = (tmp_path / "compare.csv").read_text().splitlines()
    assert csv_lines[0] == "metric,unmapped-v2,per-folio-zap"
    assert len(csv_lines) == len(data["rows"]) + 1
    # the Parquet table holds the CSV's rows: same metrics, same numbers
    import pyarrow.parquet as pq     # a main dependency: written always
    tbl = pq.read_table(tmp_path / "compare.parquet")
    assert tbl.column_names == ["metric", "unmapped-v2", "per-folio-zap"]
    got = [[r["metric"], r["unmapped-v2"], r["per-folio-zap"]] for r in tbl.to_pylist()]
    want = [[c[0]] + [None if x == "" else float(x) for x in c[1:]]
            for c in csv.reader(io.StringIO("\n".join(csv_lines[1:])))]
    assert got == want and len(got) == len(data["rows"])


@pytest.mark.parametrize("argv, field", [
    (("--profiles", "unmapped-v9"), "unmapped-v9"),
    (("--profiles", "unmapped-v2+flip_mode=sideways"), "flip_mode"),
    (("--profiles", "unmapped-v2", "--set", "flip_order=never"), "flip_order"),
    (("--profiles", "unmapped-v2", "--set", "no_such_knob=1"), "no_such_knob"),
])
def test_cli_compare_bad_profile_or_knob(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                         field: str) -> None:
    rc, out, err = run(capsys, "compare", "secretmem", *argv, "--scale", "0.03125")
    assert rc == 2 and out == ""
    assert field in err


def test_every_column_counts_pages_zeroed(vm_host: tuple[Comparison, dict[str, Any]]) -> None:
    """linux-7.2 builds no content tracker; compare gives it one, so its __GFP_ZERO pages
    are counted and charged like the series' (vm-host's requests are the same in both)."""
    cmp, seen = vm_host
    assert cmp.value("linux-7.2", "pages_zeroed") == seen["linux-7.2"]["metrics"]["pages_zeroed"]
    assert cmp.value("linux-7.2", "pages_zeroed") > 0                  # type: ignore[operator]
    assert cmp.value("linux-7.2", "cost_pages_zeroed_us") > 0          # type: ignore[operator]
    m = Machine(memory="128M", cpus=1)
    assert m.contents is None
    track_contents(m)
    tracker = m.contents
    assert m.alloc.contents is tracker is not None
    assert m.alloc_pages(G.GFP_KERNEL | G.__GFP_ZERO, 2) is not None
    assert m.alloc_pages(G.GFP_KERNEL, 1) is not None
    assert m.metrics()["pages_zeroed"] == 4
    track_contents(m)                                    # already tracked: kept
    assert m.contents is tracker


def test_compare_trace_has_time_series_and_cost() -> None:
    """A capture directory is replayed in drive mode per column from its first dump, with
    samples every ``every`` replayed requests: the time-series rows (free order-9 blocks
    mean/min, DirectMap worst, mixed pageblocks max) and the modelled cost are filled, and
    the unmapped what-if shows up as flips only in the series' column."""
    from pagealloc.experiments.compare import compare_trace
    from tests.conftest import TRACES
    cap = TRACES / "linux-7.2" / "anon"
    if not cap.is_dir():
        pytest.skip("shared traces absent")
    cmp = compare_trace(cap, [parse_variant("linux-7.2"), parse_variant("unmapped-v2")],
                        limit=3000, what_if=["gfp=GFP_HIGHUSER_MOVABLE:unmapped"], every=500)
    assert cmp.kind == "trace"
    main_col, v2 = cmp.columns
    for col, samples in zip(cmp.columns, cmp.samples):
        assert col["allocs"] == 3000
        assert len(samples) >= 3000 // 500
        assert col["free_order9_blocks_min"] <= col["free_order9_blocks_mean"]
        assert col["free_order9_blocks_min"] == min(s["free_order9_blocks"] for s in samples)
        assert col["directmap_4k_kb_worst"] >= col["directmap_4k_kb_end"]
        assert col["cost_total_us"] is not None and col["cost_total_us"] > 0
        assert col["pages_zeroed"] > 0          # anon faults are __GFP_ZERO
    assert main_col["flips_to_unmapped"] == 0 < v2["flips_to_unmapped"]
    assert main_col["security_exposures"] == v2["security_exposures"] == 0
