"""Synthetic captures (pagealloc.workload.synth): the dump writer's round trip, and the
replays run on a capture the model wrote of itself, whose ground truth is known."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pagealloc.cli import main
from pagealloc.machine import Machine
from pagealloc.mm.mmzone import PAGEBLOCK_ORDER
from pagealloc.profiles import get_profile
from pagealloc.workload.ftrace import read_trace
from pagealloc.workload.mixed import OP_ALLOC, MixedSpec, mixed_stream, run_mixed
from pagealloc.workload.replay import ReplayError, decide, drive, dump_snapshots, follow, load_intervals
from pagealloc.workload.snapshot import check_dump, load_buddydump
from pagealloc.workload.state import machine_from_dump, machine_from_snapshot
from pagealloc.workload.synth import (
    buddydump_text,
    kpageflags_array,
    synth_capture,
    synth_mixed,
    write_buddydump,
)


def _worked(cpus: int, profile: str = "linux-7.2", events: int = 6000) -> Machine:
    m = Machine(memory="512M", cpus=cpus, profile=profile)
    ram = sum(b - a for a, b in m.ram_ranges)
    run_mixed(m, mixed_stream(MixedSpec(events=events, seed=7, cpus=cpus), ram))
    return m


def _online_blocks(m: Machine) -> list[tuple[int, int]]:
    out = []
    for z in m.populated_zones():
        for b in range(z.zone_start_pfn >> PAGEBLOCK_ORDER, ((z.zone_end_pfn - 1) >> PAGEBLOCK_ORDER) + 1):
            if m.section_online(b << PAGEBLOCK_ORDER):
                out.append((b, m.mem.pb[b]))
    return out


@pytest.mark.parametrize("profile", ["linux-7.2", "linux-6.1"])
@pytest.mark.parametrize("cpus", [1, 4])
@pytest.mark.parametrize("worked", [False, True], ids=["fresh", "after_workload"])
def test_buddydump_round_trip(tmp_path: Path, cpus: int, worked: bool, profile: str) -> None:
    m = _worked(cpus, profile) if worked else Machine(memory="512M", cpus=cpus, profile=profile)
    kernel = get_profile(profile).kernel
    path = write_buddydump(m, tmp_path / "gt_buddydump", 3, kernel)
    dump = load_buddydump(path)
    assert dump.id == 3 and dump.kernel == kernel
    # the only problem check_dump may see is nr_free lagging the per-CPU deltas (README 6.5)
    assert all("nr_free=" in p for p in check_dump(dump))
    r = machine_from_dump(dump, None, None, True, ram_ranges=m.ram_ranges,
                          kpageflags=kpageflags_array(m))
    assert r.profile.name == profile and r.ncpus == cpus
    for z, rz in zip(m.zones, r.zones):
        assert z.present_pages == rz.present_pages
        if not z.present_pages:
            continue
        assert m.free_blocks(z) == r.free_blocks(rz)            # order and content
        for cpu in range(cpus):
            assert m.pcp_blocks(z, cpu) == r.pcp_blocks(rz, cpu)
            p, rp = z.pcp[cpu], rz.pcp[cpu]
            assert (p.count, p.high, p.batch) == (rp.count, rp.high, rp.batch)
        assert z.nr_free_pages == rz.nr_free_pages
        if profile == "linux-6.1":
            # page->index, the type a drain frees the page to, is restored from its pcp list
            for cpu in range(cpus):
                for _pindex, pfn in m.pcp_blocks(z, cpu):
                    assert r.mem.pkind[pfn] == m.mem.pkind[pfn], hex(pfn)
    assert _online_blocks(m) == _online_blocks(r)
    for name in ("buddyinfo", "pagetypeinfo"):
        assert m.proc(name) == r.proc(name)
    # and the loaded machine writes the same dump again
    assert buddydump_text(r, 3, kernel) == path.read_text()


def test_kpageflags_classify_in_use_pages_as_the_model_does(tmp_path: Path) -> None:
    m = _worked(1)
    write_buddydump(m, tmp_path / "gt_buddydump.xz", 1)
    r = machine_from_dump(load_buddydump(tmp_path / "gt_buddydump.xz"), None, None, True,
                          ram_ranges=m.ram_ranges, kpageflags=kpageflags_array(m))
    # the claim heuristic's counts (free and movable pages per pageblock) are the model's
    for z, rz in zip(m.zones, r.zones):
        if not z.present_pages:
            continue
        for b in range(z.zone_start_pfn >> PAGEBLOCK_ORDER, (z.zone_end_pfn - 1) >> PAGEBLOCK_ORDER):
            pfn = b << PAGEBLOCK_ORDER
            if pfn < z.zone_start_pfn or not m.section_online(pfn):
                continue
            assert m.alloc.prep_move_freepages_block(z, pfn, True) == \
                r.alloc.prep_move_freepages_block(rz, pfn, True), hex(pfn)


def test_writer_refuses_a_mismatched_kernel(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="6.1 dump"):
        write_buddydump(Machine(memory="256M", cpus=1), tmp_path / "d", 1, "6.1")


@pytest.fixture(scope="module")
def cap1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "cpu1"
    synth_mixed(out, memory="512M", cpus=1, requests=8000, seed=3, dumps_every=3000)
    return out


@pytest.fixture(scope="module")
def cap4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "cpu4"
    synth_mixed(out, memory="512M", cpus=4, requests=8000, seed=3, dumps_every=3000)
    return out


def test_capture_layout_and_markers(cap1: Path) -> None:
    summary = json.loads((cap1 / "summary.json").read_text())
    snaps = dump_snapshots(cap1)
    assert snaps[1] == "snap_before" and snaps[max(snaps)] == "snap_after" and len(snaps) >= 3
    lines = (cap1 / "trace.txt").read_text().splitlines()
    assert lines[2].endswith("#P:1") and len(lines) == summary["trace_lines"]
    for d in summary["dumps"]:
        assert lines[d["line"] - 1].endswith(f"gt_show: GT_BUDDYDUMP id={d['id']}")
        assert load_buddydump(cap1 / d["snapshot"] / "gt_buddydump").id == d["id"]
        label = d["snapshot"][len("snap_"):]
        assert lines[d["line"] - 2].endswith(f"GT_SNAPSHOT_{label}_BEGIN")
        assert lines[d["line"]].endswith(f"GT_SNAPSHOT_{label}_END")
    assert any(mk["marker"] == "GT_WORKLOAD_BEGIN synth" for mk in summary["markers"])
    m = machine_from_snapshot(cap1 / "snap_after")
    assert m.proc("buddyinfo") == (cap1 / "snap_after" / "buddyinfo").read_text()
    assert (cap1 / "version.txt").read_text().startswith("Linux version 7.2")


def test_capture_is_deterministic(cap1: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    synth_mixed(again, memory="512M", cpus=1, requests=8000, seed=3, dumps_every=3000)
    for rel in ("trace.txt", "summary.json", "snap_after/gt_buddydump", "snap_before/kpageflags.xz"):
        assert (cap1 / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_events_carry_the_cpu_of_their_request(tmp_path: Path) -> None:
    m = Machine(memory="256M", cpus=4)
    ram = sum(b - a for a, b in m.ram_ranges)
    stream = list(mixed_stream(MixedSpec(events=3000, seed=5, cpus=4), ram))
    synth_capture(tmp_path / "c", m, stream, dumps_every=0)
    traced = [ev.cpu for ev in read_trace(tmp_path / "c" / "trace.txt") if ev.name == "mm_page_alloc"]
    assert traced == [cpu for op, _a, _o, cpu in stream if op == OP_ALLOC]
    assert set(traced) == {0, 1, 2, 3}


def test_one_cpu_self_replay_is_exact(cap1: Path) -> None:
    """The model replaying its own 1-CPU capture: follow finds nothing to explain, decide
    picks every PFN, and the state at every next dump is the dump's."""
    intervals = load_intervals(cap1, get_profile("linux-7.2").gfp_table)
    fr = follow(cap1, None, intervals)
    assert sum(r.inconsistencies for r in fr) == 0
    assert not any(r.explained for r in fr)
    assert all(r.replay_free_not_dump == 0 and r.dump_free_not_replay == 0
               for r in fr if r.next_id is not None)
    res = decide(cap1, None, [iv for iv in intervals if iv.next_id is not None])
    allocs = sum(r["stats"]["allocs"] for r in res)
    assert allocs > 3000
    assert sum(r["stats"].get("match", 0) for r in res) == allocs
    for r in res:
        st = r["state_at_next_dump"]
        assert st["free_block_agreement"] == 1.0 and st["pageblock_agreement"] == 1.0
        assert st["pcp_pages_model"] == st["pcp_pages_kernel"]


def test_four_cpu_follow_is_exact(cap4: Path) -> None:
    """Follow mode works at page level, whatever CPU an event ran on."""
    fr = follow(cap4)
    assert sum(r.inconsistencies for r in fr) == 0
    assert all(r.replay_free_not_dump == 0 and r.dump_free_not_replay == 0
               for r in fr if r.next_id is not None)


def test_four_cpu_decide_is_exact(cap4: Path) -> None:
    """Decide runs every event on its CPU: each allocation from that CPU's pcp lists,
    each free onto them, drains from whichever CPU's list holds the page."""
    res = decide(cap4)
    allocs = sum(r["stats"]["allocs"] for r in res)
    assert sum(r["stats"].get("match", 0) for r in res) == allocs
    for r in res:
        st = r["state_at_next_dump"]
        assert st["free_block_agreement"] == 1.0 and st["pcp_pages_model"] == st["pcp_pages_kernel"]


def test_four_cpu_drive_reproduces_the_capture(cap4: Path) -> None:
    """Drive mode runs each request on its line's CPU: with no what-if rule the model makes
    the capture's own decisions again and ends in the last dump's state, pcp lists per CPU
    included."""
    r = drive(cap4)
    assert r.failures == 0 and not r.skipped and r.allocs > 3000
    snaps = dump_snapshots(cap4)
    ref = machine_from_snapshot(cap4 / snaps[max(snaps)])
    m = r.machine
    for z, rz in zip(m.zones, ref.zones):
        if not z.present_pages:
            continue
        assert m.free_blocks(z) == ref.free_blocks(rz)
        for cpu in range(4):
            assert m.pcp_blocks(z, cpu) == ref.pcp_blocks(rz, cpu)


def test_four_cpu_61_drains_batched_frees_decide_exactly(tmp_path: Path) -> None:
    """6.1 on four CPUs with pcp drains, batched frees and a traced warm-up."""
    out = tmp_path / "c"
    r = synth_mixed(out, memory="512M", cpus=4, requests=6000, seed=2, dumps_every=2000,
                    profile="linux-6.1", warmup=500, batch_frees=8,
                    machine={"percpu_pagelist_high_fraction": 400})
    assert r.events["mm_page_pcpu_drain"] > 0 and r.events["mm_page_free_batched"] > 0
    res = decide(out, "linux-6.1")
    allocs = sum(x["stats"]["allocs"] for x in res)
    assert allocs and sum(x["stats"].get("match", 0) for x in res) == allocs
    assert all(x["state_at_next_dump"]["free_block_agreement"] == 1.0 for x in res)


def test_remote_drains_leave_the_owners_pcp_list(tmp_path: Path) -> None:
    """``__drain_all_pages()`` drains other CPUs' lists from the calling CPU, so a drain
    line's CPU is the drainer's: decide takes the page off whichever CPU's list holds it.
    The capture's drain lines are moved to the next CPU, as a remote drainer prints them."""
    out = tmp_path / "c"
    synth_mixed(out, memory="512M", cpus=4, requests=4000, seed=5, dumps_every=2000,
                machine={"percpu_pagelist_high_fraction": 400})
    lines = (out / "trace.txt").read_text().splitlines(keepends=True)
    moved = 0
    for n, ln in enumerate(lines):
        if "mm_page_pcpu_drain:" in ln:
            cpu = int(ln.split("[", 1)[1][:3])
            lines[n] = ln.replace(f"[{cpu:03d}]", f"[{(cpu + 1) % 4:03d}]", 1)
            moved += 1
    assert moved
    (out / "trace.txt").write_text("".join(lines))
    res = decide(out)
    allocs = sum(x["stats"]["allocs"] for x in res)
    assert sum(x["stats"].get("match", 0) for x in res) == allocs
    assert sum(x["stats"].get("drains_applied", 0) for x in res) == moved
    assert not any(x["stats"].get("drains_not_on_model_pcp") for x in res)


def test_event_on_a_cpu_without_pageset_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "c"
    synth_mixed(out, memory="256M", cpus=2, requests=1000, seed=1, dumps_every=0)
    lines = (out / "trace.txt").read_text().splitlines(keepends=True)
    n = next(i for i, ln in enumerate(lines) if "mm_page_alloc:" in ln and "[001]" in ln)
    lines[n] = lines[n].replace("[001]", "[005]", 1)
    (out / "trace.txt").write_text("".join(lines))
    for run in (lambda: decide(out), lambda: drive(out)):
        with pytest.raises(ReplayError, match=rf"trace.txt:{n + 1}: field 'cpu': "
                                              r"mm_page_alloc on CPU 5, but the dump has "
                                              r"pagesets for 2 CPUs \(0..1\)"):
            run()


def test_warmup_untraced_and_batched_frees_replay_exactly(tmp_path: Path) -> None:
    """Blocks in use before tracing started (orders only in kpageflags and the frees),
    allocations outstanding at the first dump, and frees through free_unref_folios()
    (mm_page_free then mm_page_free_batched): still exact on one CPU."""
    out = tmp_path / "c"
    r = synth_mixed(out, memory="512M", cpus=1, requests=8000, seed=4, dumps_every=3000,
                    untraced=1500, warmup=500, batch_frees=8)
    assert r.events["mm_page_free_batched"] > 0
    intervals = load_intervals(out, get_profile("linux-7.2").gfp_table)
    assert intervals[0].outstanding                       # the warm-up's allocations
    fr = follow(out, None, intervals)
    assert sum(x.inconsistencies for x in fr) == 0
    assert set().union(*(x.explained for x in fr)) <= {"mm_page_free_batched duplicate (README 9.6)"}
    res = decide(out, None, [iv for iv in intervals if iv.next_id is not None])
    allocs = sum(x["stats"]["allocs"] for x in res)
    assert allocs and sum(x["stats"].get("match", 0) for x in res) == allocs
    assert all(x["state_at_next_dump"]["free_block_agreement"] == 1.0 for x in res)


def test_one_cpu_61_with_drains_decides_exactly(tmp_path: Path) -> None:
    """6.1 drains a pcp page to the free list of the type cached in page->index at free or
    refill: restored from the pcp list at a dump load (state._install_dump), and taken
    from the drain line's migratetype (DecideReplay.on_drain)."""
    out = tmp_path / "c"
    r = synth_mixed(out, memory="512M", cpus=1, requests=6000, seed=1, dumps_every=1500,
                    profile="linux-6.1", machine={"percpu_pagelist_high_fraction": 400})
    assert r.events["mm_page_pcpu_drain"] > 0
    assert sum(x.inconsistencies for x in follow(out)) == 0
    res = decide(out, "linux-6.1")
    allocs = sum(x["stats"]["allocs"] for x in res)
    assert sum(x["stats"].get("match", 0) for x in res) == allocs


def test_cli_synth_then_fidelity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    assert main(["synth", str(out), "--memory", "256M", "--cpus", "2", "--events", "2000",
                 "--dumps-every", "1000", "--set", "percpu_pagelist_high_fraction=100"]) == 0
    assert "trace lines" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["synthetic"]["cpus"] == 2
    assert main(["fidelity", str(out), "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["follow_inconsistencies"] == 0 and row["kernel"] == "7.2"


@pytest.mark.parametrize("cpus", [1, 4])
def test_pressure_capture_decides_exactly_with_kswapd_lines(tmp_path: Path, cpus: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Under pressure the model's kswapd wakes: its ``mm_vmscan_kswapd_wake`` line (kernel
    format, after the pressure vmstat threshold is set, as kswapd() fires it after
    kswapd_try_to_sleep() set it) is where decide sets the pressure threshold and takes off
    the watermark boosts balance_pgdat() clears; a dump taken while kswapd is awake starts
    with the pressure threshold.  Without the kswapd lines decide misses allocations."""
    from pagealloc.workload import replay as replay_mod
    out = tmp_path / "c"
    synth_mixed(out, memory="512M", cpus=cpus, requests=10000, seed=1, dumps_every=2500,
                target_occupancy=0.97)
    lines = [ln for ln in (out / "trace.txt").read_text().splitlines() if "mm_vmscan_kswapd_" in ln]
    assert lines and all(re.search(r": mm_vmscan_kswapd_wake: nid=0 order=\d+$", ln)
                         or re.search(r": mm_vmscan_kswapd_sleep: nid=0$", ln) for ln in lines)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["other_events_total"]["mm_vmscan_kswapd_wake"] == sum("kswapd_wake:" in ln for ln in lines)
    res = decide(out)
    allocs = sum(r["stats"]["allocs"] for r in res)
    assert allocs > 7000
    assert sum(r["stats"].get("match", 0) for r in res) == allocs
    assert sum(r["stats"].get("kswapd_wake_lines", 0) for r in res) > 0
    assert sum(r["stats"].get("kswapd_boosts_decayed", 0) for r in res) > 0
    for r in res:
        st = r["state_at_next_dump"]
        assert st["free_block_agreement"] == 1.0 and st["pcp_pages_model"] == st["pcp_pages_kernel"]
    # the same capture with the kswapd lines ignored: the threshold and boosts stay put
    monkeypatch.setattr(replay_mod, "KSWAPD_LINES", frozenset())
    res = decide(out)
    assert sum(r["stats"].get("match", 0) for r in res) < sum(r["stats"]["allocs"] for r in res)


def test_kswapd_sleep_line_restores_the_normal_threshold(cap1: Path) -> None:
    """At a wake line the pressure threshold is in force, after a sleep line the normal one
    (kswapd_try_to_sleep(): trace_mm_vmscan_kswapd_sleep(), then
    set_pgdat_percpu_threshold(pgdat, calculate_normal_threshold)); the model's own
    set_pgdat_percpu_threshold() records the residual the checker allows."""
    from pagealloc.mm.page_alloc import calculate_normal_threshold, calculate_pressure_threshold
    from pagealloc.workload.decide import DecideReplay
    d = DecideReplay(cap1, 1)
    zones = [z for z in d.m.zones if z.managed_pages]
    normal = [calculate_normal_threshold(z, d.m.ncpus) for z in zones]
    assert [z.stat_threshold for z in zones] == normal
    d.kswapd_marks = [(100, True), (200, False)]
    d.kswapd_threshold(150)
    assert [z.stat_threshold for z in zones] == [calculate_pressure_threshold(z, d.m.ncpus) for z in zones]
    assert all(z.stat_residual == z.vm_free_diff for z in zones)
    d.kswapd_threshold(201)
    assert [z.stat_threshold for z in zones] == normal
    assert d.stats["kswapd_wake_lines"] == d.stats["kswapd_sleep_lines"] == 1
