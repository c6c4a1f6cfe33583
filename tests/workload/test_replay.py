"""Trace replay: follow, decide and drive (what-if) modes (pagealloc.workload.replay)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pagealloc.cli import main
from pagealloc.mm import gfp as G
from pagealloc.mm.gfp import GFP_TABLE_7_2
from pagealloc.workload.ftrace import parse_line
from pagealloc.workload.replay import (
    Interval,
    ReplayError,
    follow,
    follow_interval,
    parse_what_if,
)

ALL = os.environ.get("PAGEALLOC_STRESS") == "1"
FAST = [("linux-7.2", "highorder"), ("linux-7.2", "fork"), ("linux-7.2", "pagecache"),
        ("linux-6.1", "fork"), ("linux-6.1", "highorder"), ("linux-6.1", "frag")]
EVERY = [(k, w) for k in ("linux-7.2", "linux-6.1")
         for w in ("anon", "fork", "frag", "highorder", "pagecache", "reclaim")]

PFX = "            init-1       [000] ....."


def ev(lineno: int, body: str, flags: str = "....."):  # type: ignore[no-untyped-def]
    return parse_line(f"            init-1       [000] {flags}     5.000000: {body}", lineno)


def alloc(pfn: int, order: int = 0) -> str:
    return (f"mm_page_alloc: page=ffffea0000000000 pfn={pfn:#x} order={order} migratetype=0 "
            f"gfp_flags=GFP_KERNEL")


def free(pfn: int, order: int = 0) -> str:
    return f"mm_page_free: page=ffffea0000000000 pfn={pfn:#x} order={order}"


def test_follow_reports_allocs_of_non_free_and_frees_of_free_pages() -> None:
    free_map = bytearray(64)
    free_map[0:16] = b"\x01" * 16
    on_pcp = bytearray(64)
    on_pcp[8:10] = b"\x01\x01"
    events = [ev(10, alloc(0, 2)), ev(11, alloc(2)), ev(12, free(12)), ev(13, free(8)),
              ev(14, free(0, 2)), ev(15, "mm_page_free_batched: page=ffffea0000000000 pfn=0x0 order=0"),
              ev(16, alloc(40))]
    r = follow_interval(Interval(1, 2, events, {}), free_map, on_pcp)
    assert r.allocs == 3 and r.frees == 3
    assert r.unexplained == {"alloc_of_non_free": 2, "free_of_free": 1}
    assert r.first_unexplained[0] == "line 11: alloc of 0x2 order 0: page 0x2 is not free (taken at line 10)"
    assert "line 16" in r.first_unexplained[2] and "in use at the dump" in r.first_unexplained[2]
    # 0x8 was free on a pcp list: alloc_pages_bulk() took it without an event (README 9.1)
    assert r.explained["alloc_pages_bulk (README 9.1)"] == 1
    assert r.explained["mm_page_free_batched duplicate (README 9.6)"] == 1


def test_follow_explains_compaction_isolation_and_targets() -> None:
    free_map = bytearray(b"\x01" * 1024)
    events = [
        ev(1, "mm_compaction_isolate_freepages: range=(0x100 ~ 0x200) nr_scanned=10 nr_taken=4"),
        ev(2, free(0x104)),                       # an isolated page given back
        ev(3, "mm_migrate_pages: nr_succeeded=2 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 "
              "nr_thp_split=0 nr_split=0 mode=MIGRATE_ASYNC reason=compaction"),
        ev(4, free(0x300)), ev(5, free(0x301)),   # two targets freed by their owner
        ev(6, free(0x302)),                       # nothing left to explain it
    ]
    r = follow_interval(Interval(1, 2, events, {}), free_map, bytearray(1024))
    assert r.explained["compaction isolated page given back (README 9.4)"] == 1
    assert r.explained["compaction migration target freed (README 9.4)"] == 2
    assert r.explained["compaction_isolated_pages"] == 4
    assert r.unexplained == {"free_of_free": 1}


def test_what_if_rules() -> None:
    t = GFP_TABLE_7_2
    r = parse_what_if("gfp=GFP_HIGHUSER_MOVABLE:unmapped", t)
    assert r.matches(G.GFP_HIGHUSER_MOVABLE | G.__GFP_ZERO, 0)
    assert not r.matches(G.GFP_KERNEL, 0)
    r = parse_what_if("gfp==GFP_KERNEL,order=2:drop", t)
    assert r.matches(G.GFP_KERNEL, 2) and not r.matches(G.GFP_KERNEL, 0)
    assert not r.matches(G.GFP_KERNEL | G.__GFP_ZERO, 2)
    r = parse_what_if("gfp=GFP_KERNEL:gfp=GFP_ATOMIC", t)
    assert r.action == "gfp" and r.new_gfp == G.GFP_ATOMIC
    for bad, field in (("GFP_KERNEL", "rule"), ("gfp=NOPE:unmapped", "match"),
                       ("order=x:drop", "match"), ("gfp=GFP_KERNEL:explode", "action"),
                       ("order=1:drop", "match")):
        with pytest.raises(ReplayError, match=field):
            parse_what_if(bad, t)


def test_replay_cli_errors_name_the_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "version.txt").write_text("Linux version 7.2.13 (x)\n")
    assert main(["replay", str(tmp_path)]) == 2
    assert "no trace.txt" in capsys.readouterr().err
    assert main(["replay", str(tmp_path), "--what-if", "gfp=GFP_KERNEL:unmapped",
                 "--mode", "follow"]) == 2


@pytest.mark.parametrize("kernel,workload", EVERY if ALL else FAST)
def test_follow_finds_no_unexplained_inconsistency(traces_dir: Path, kernel: str,
                                                   workload: str) -> None:
    """Every inconsistency of the page-level follow replay is one of the event-less kernel
    paths of the traces README section 9; at each next dump the replay's free pages equal
    the dump's except the compaction targets (9.4) and, on 6.1, the snapshot reader's
    bulk-allocated kernel stack (9.1: 4 pages, 12 in fork)."""
    rs = follow(traces_dir / kernel / workload)
    assert sum(r.inconsistencies for r in rs) == 0, [r.first_unexplained for r in rs]
    for r in rs:
        if r.replay_free_not_dump is None:
            continue
        assert r.dump_free_not_replay == 0
        assert r.replay_free_not_dump - r.dump_diff_explained <= 12


def test_replay_cli_follow_decide_and_what_if(traces_dir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cap = str(traces_dir / "linux-7.2" / "fork")
    assert main(["replay", cap, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "follow" and out["unexplained"] == 0 and out["profile"] == "linux-7.2"
    assert main(["replay", cap, "--mode", "decide", "--limit", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0.8 <= out["decide_pfn_match"] <= 1.0
    assert main(["replay", cap, "--profile", "unmapped-v4", "--limit", "5000", "--json",
                 "--what-if", "gfp=GFP_HIGHUSER_MOVABLE:unmapped"]) == 0
    res = json.loads(capsys.readouterr().out)["result"]
    assert res["allocs"] == 5000 and res["rewritten"]["unmapped"] > 1000
    assert res["metrics"]["flips_to_unmapped"] >= 1
    assert res["metrics"]["security_exposures"] == 0
    assert main(["replay", cap, "--limit", "100"]) == 0
    assert "unexplained inconsistencies: 0" in capsys.readouterr().out


def test_intervals_cut_at_capture_kpageflags_markers(tmp_path: Path) -> None:
    """A ``pagealloc capture`` trace marks its snapshot points with
    ``GT_KPAGEFLAGS id=N BEGIN``: load_intervals cuts there, as at gt_show lines."""
    from pagealloc.workload.replay import load_intervals
    lines = [
        f"{PFX}     1.000000: {alloc(0x10)}",
        f"{PFX}     1.100000: tracing_mark_write: GT_KPAGEFLAGS id=1 BEGIN",
        f"{PFX}     1.200000: tracing_mark_write: GT_KPAGEFLAGS id=1 END",
        f"{PFX}     1.300000: {free(0x10)}",
        f"{PFX}     1.400000: {alloc(0x20)}",
        f"{PFX}     1.500000: tracing_mark_write: GT_KPAGEFLAGS id=2 BEGIN",
        f"{PFX}     1.600000: {free(0x20)}",
    ]
    (tmp_path / "trace.txt").write_text("\n".join(lines) + "\n")
    ivs = load_intervals(tmp_path, GFP_TABLE_7_2)
    assert [(iv.dump_id, iv.next_id, len(iv.events)) for iv in ivs] == [(1, 2, 2), (2, None, 1)]
    assert ivs[0].outstanding == {0x10: (0, G.GFP_KERNEL)}


def test_drive_samples_on_the_request_cadence_and_returns_the_machine(traces_dir: Path) -> None:
    """drive(every=N, sample=f) calls f with the machine every N replayed requests
    (mm_page_alloc and mm_page_free lines) and at the end, as a scenario run samples; the
    machine comes back in the result, and a machine passed in (first_dump_machine) is the
    one driven."""
    from pagealloc.experiments.compare import measure_state
    from pagealloc.workload.replay import drive, first_dump_machine, load_intervals
    cap = traces_dir / "linux-7.2" / "fork"
    m = first_dump_machine(cap, "linux-7.2")
    ivs = load_intervals(cap, m.profile.gfp_table)
    res = drive(cap, "linux-7.2", [], ivs, limit=3000, machine=m, every=1000,
                sample=measure_state)
    assert res.machine is m
    marks = [s["event"] for s in res.samples]
    assert marks[:-1] == list(range(1000, res.events, 1000)) and marks[-1] == res.events
    assert len(marks) >= 4 and all("free_order9_blocks" in s for s in res.samples)
    assert res.samples[-1]["free_pages"] == m.nr_free_pages()
    plain = drive(cap, "linux-7.2", [], ivs, limit=3000)
    assert plain.samples == [] and plain.as_dict() == res.as_dict()
    assert plain.machine is not m and plain.machine.nr_free_pages() == m.nr_free_pages()


def test_replay_cli_drive_every(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``pagealloc replay --mode drive --every N`` puts compare's samples in result.samples."""
    cap = str(traces_dir / "linux-7.2" / "fork")
    assert main(["replay", cap, "--mode", "drive", "--limit", "1500", "--every", "1000",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["result"]
    assert [s["event"] for s in res["samples"]][:-1] == list(range(1000, res["events"], 1000))
    assert res["samples"][-1]["event"] == res["events"]
    assert {"free_order9_blocks", "directmap_4k_kb", "mixed_pageblocks"} <= set(res["samples"][0])
    assert main(["replay", cap, "--mode", "drive", "--every", "-1"]) == 2
