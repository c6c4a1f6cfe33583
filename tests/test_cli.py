"""The command line (pagealloc.cli.main): /proc views, info, the mixed run, and input errors.

Errors in the input end with a one-line ``pagealloc: <message naming the field>`` on stderr
and exit status 2 (module docstring of pagealloc/cli.py).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pagealloc.cli import main
from pagealloc.machine import Machine
from pagealloc.workload.ftrace import parse_line
from pagealloc.workload.mixed import OP_ALLOC, OP_FREE, MixedSpec, mixed_stream
from pagealloc.workload.state import machine_from_snapshot

SYNTH = "# pagealloc: layout synthesized"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------- proc


def test_proc_buddyinfo_1g_one_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    """A 1 GiB machine has two populated zones, DMA and DMA32; /proc/buddyinfo prints one
    line each as frag_show_print() does: ``Node %d, zone %8s `` then ``%6lu `` per order 0..10."""
    rc, out, err = run(capsys, "proc", "buddyinfo", "--memory", "1G", "--cpus", "1")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 2 and out.endswith("\n")
    total = 0
    for ln, zone in zip(lines, ("DMA", "DMA32")):
        m = re.fullmatch(r"Node 0, zone +(\w+) ((?: +\d+ ){11})", ln)
        assert m is not None, ln
        assert m.group(1) == zone
        counts = [int(x) for x in m.group(2).split()]
        assert ln == f"Node 0, zone {zone:>8} " + "".join(f"{c:6d} " for c in counts)
        total += sum(c << o for o, c in enumerate(counts))
    m2 = Machine(memory="1G", cpus=1)
    assert out == m2.proc("buddyinfo")
    assert total == m2.nr_free_pages()            # just booted: nothing on pcp lists


def test_proc_pagetypeinfo_of_a_72_snapshot(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``proc pagetypeinfo --snapshot`` renders the loaded dump; 7.2 (CONFIG_CMA) prints a CMA
    row per zone and a CMA column in the block counts, and the DMA/DMA32 lines equal what
    the real kernel printed (nothing moves below 4 GiB in 'anon')."""
    snap = traces_dir / "linux-7.2" / "anon" / "snap_before"
    rc, out, err = run(capsys, "proc", "pagetypeinfo", "--snapshot", str(snap))
    assert rc == 0 and err == ""
    assert not out.startswith(SYNTH)
    assert out == machine_from_snapshot(snap).proc("pagetypeinfo")
    for zone in ("DMA", "DMA32", "Normal"):
        assert re.search(rf"^Node +0, zone +{zone}, type +CMA( +\d+){{11}} $", out, re.M), zone
    assert re.search(r"^Number of blocks type .* CMA +Isolate $", out, re.M)
    real = (snap / "pagetypeinfo").read_text()
    assert ([ln for ln in out.splitlines() if "Normal" not in ln]
            == [ln for ln in real.splitlines() if "Normal" not in ln])


def test_proc_zoneinfo_61_has_no_promo(traces_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """6.1 zoneinfo has min/low/high but no ``promo`` watermark (added in 6.2 with
    WMARK_PROMO); the 7.2 rendering of a 7.2 dump prints it for every zone.  The watermark
    lines equal the real files'."""
    wm_rx = re.compile(r"^ +(min|low|high|promo) +\d+$", re.M)
    snap61 = traces_dir / "linux-6.1" / "anon" / "snap_before"
    rc, out, _ = run(capsys, "proc", "zoneinfo", "--snapshot", str(snap61))
    assert rc == 0
    assert not re.search(r"^\s+promo\s", out, re.M)
    assert re.findall(r"^Node 0, zone +(\w+)$", out, re.M) == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    wms = [m.group(0) for m in wm_rx.finditer(out)]
    assert [w.split()[0] for w in wms] == ["min", "low", "high"] * 5
    assert wms == [m.group(0) for m in wm_rx.finditer((snap61 / "zoneinfo").read_text())]
    snap72 = traces_dir / "linux-7.2" / "anon" / "snap_before"
    rc, out72, _ = run(capsys, "proc", "zoneinfo", "--snapshot", str(snap72))
    assert rc == 0
    wms = [m.group(0) for m in wm_rx.finditer(out72)]
    assert [w.split()[0] for w in wms] == ["min", "low", "high", "promo"] * 5
    assert wms == [m.group(0) for m in wm_rx.finditer((snap72 / "zoneinfo").read_text())]


def test_proc_vmstat_lines_are_name_value(capsys: pytest.CaptureFixture[str]) -> None:
    """/proc/vmstat is one ``name value`` per line, names unique, nr_free_pages first and
    equal to the free pages buddyinfo shows on a freshly booted machine."""
    rc, out, _ = run(capsys, "proc", "vmstat", "--memory", "1G", "--cpus", "2")
    assert rc == 0
    lines = out.splitlines()
    assert len(lines) > 10
    pairs = []
    for ln in lines:
        assert re.fullmatch(r"[a-z][a-z0-9_]* \d+", ln), ln
        k, v = ln.split(" ")
        pairs.append((k, int(v)))
    names = [k for k, _ in pairs]
    assert len(set(names)) == len(names)
    assert names[0] == "nr_free_pages"
    for k in ("pgfree", "pgalloc_dma32", "nr_free_pages_blocks"):
        assert k in names
    vm = dict(pairs)
    assert vm["nr_free_pages"] == Machine(memory="1G", cpus=2).nr_free_pages()
    assert vm["pgfree"] == vm["nr_free_pages"]        # boot frees count in pgfree, nothing allocated


def _fallback_snapdir(src: Path, tmp_path: Path) -> Path:
    snap = tmp_path / "cap" / "snap_x"
    snap.mkdir(parents=True)
    for f in ("zoneinfo", "pagetypeinfo"):
        shutil.copy(src / f, snap / f)
    return snap


def test_proc_fallback_prints_synthesized_banner(traces_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Without a gt_buddydump the snapshot is synthesized from zoneinfo+pagetypeinfo: the
    output starts with the '# pagealloc: layout synthesized' line, and the counts after it
    are the real kernel's (pagetypeinfo and buddyinfo)."""
    src = traces_dir / "linux-7.2" / "anon" / "snap_before"
    snap = _fallback_snapdir(src, tmp_path)
    for name in ("pagetypeinfo", "buddyinfo"):
        rc, out, err = run(capsys, "proc", name, "--snapshot", str(snap))
        assert rc == 0 and err == ""
        first, rest = out.split("\n", 1)
        assert first.startswith(SYNTH)
        assert rest == (src / name).read_text()


@pytest.mark.parametrize("snap", ["linux-6.1/anon/snap_before", "linux-6.1/reclaim/snap_after",
                                  "linux-7.2/frag/snap_m03_mid_thp_touched", "linux-7.2/reclaim/snap_after"])
def test_proc_fallback_loads_every_real_snapshot(traces_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str], snap: str) -> None:
    """zoneinfo+pagetypeinfo of any real snapshot can be synthesized, with exact counts."""
    src = traces_dir / snap
    rc, out, err = run(capsys, "proc", "pagetypeinfo", "--snapshot", str(_fallback_snapdir(src, tmp_path)))
    assert (rc, err) == (0, "")
    assert out.split("\n", 1)[1] == (src / "pagetypeinfo").read_text()


# ---------------------------------------------------------------------------- info


def test_info_1g(capsys: pytest.CaptureFixture[str]) -> None:
    """info: profile, CPUs and min_free_kbytes, then one line per populated zone.  A 1 GiB
    QEMU pc guest gets DMA present 3998 / managed 3840, DMA32 present 258007 and the THP-raised
    min_free_kbytes 45056, as the real 6.1 guest (traces README section 3); low-min and
    high-low are max(min/4, managed*watermark_scale_factor/10000) (__setup_per_zone_wmarks)."""
    rc, out, err = run(capsys, "info", "--memory", "1G", "--cpus", "1")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "profile linux-7.2  cpus 1  min_free_kbytes 45056"
    assert len(lines) == 3
    rx = re.compile(r" *(\w+): pfn (0x[0-9a-f]+)-(0x[0-9a-f]+) present (\d+) managed (\d+) "
                    r"free (\d+) min/low/high (\d+)/(\d+)/(\d+)")
    zones = {}
    for ln in lines[1:]:
        m = rx.fullmatch(ln)
        assert m is not None, ln
        zones[m.group(1)] = [int(x, 0) for x in m.groups()[1:]]
    assert list(zones) == ["DMA", "DMA32"]
    assert zones["DMA"][:4] == [0x1, 0x1000, 3998, 3840]
    assert zones["DMA32"][:3] == [0x1000, 0x3FFD7, 258007]
    for start, end, present, managed, free, mn, lo, hi in zones.values():
        assert free == managed
        assert lo - mn == hi - lo == max(mn >> 2, managed * 10 // 10000)
    rc, out, _ = run(capsys, "info", "--memory", "1G", "--cpus", "1", "--set", "watermark_scale_factor=1000")
    assert rc == 0
    for ln in out.splitlines()[1:]:
        g = [int(x, 0) for x in rx.fullmatch(ln).groups()[1:]]  # type: ignore[union-attr]
        managed, mn, lo, hi = g[3], g[5], g[6], g[7]
        assert lo - mn == hi - lo == max(mn >> 2, managed * 1000 // 10000)


# ---------------------------------------------------------------------------- run


def _run_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict:  # type: ignore[type-arg]
    rc, out, err = run(capsys, "run", "--events", "3000", "--json", "--memory", "1G", "--cpus", "2", *extra)
    assert rc == 0 and err == ""
    return json.loads(out)  # type: ignore[no-any-return]


def test_run_json_is_consistent_and_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    """``run --json``: every event is an allocation or a free of a live block; the vmstat
    counters agree with the stream (pgalloc_* = pages allocated, pgfree grows by the pages
    freed); the same seed gives identical JSON and another seed a different one."""
    a = _run_json(capsys)
    b = _run_json(capsys)
    assert a == b
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = _run_json(capsys, "--seed", "43")
    assert c != a and c["seed"] == 43 and a["seed"] == 42
    assert (a["scenario"], a["profile"], a["events"]) == ("mixed", "linux-7.2", 3000)
    for d, seed in ((a, 42), (c, 43)):
        assert d["alloc_failures"] == 0 == d["model_stats"]["alloc_fail"]
        assert d["allocs"] + d["frees"] == d["events"]
        assert d["frees"] > 0
        boot = Machine(memory="1G", cpus=2)
        ram = sum(z.managed_pages for z in boot.zones)
        ev = list(mixed_stream(MixedSpec(events=3000, seed=seed, cpus=2), ram))
        assert sum(1 for e in ev if e[0] == OP_ALLOC) == d["allocs"]
        assert sum(1 for e in ev if e[0] == OP_FREE) == d["frees"]
        alloc_pages = sum(1 << e[2] for e in ev if e[0] == OP_ALLOC)
        free_pages = sum(1 << e[2] for e in ev if e[0] == OP_FREE)
        vm = d["vmstat"]
        assert vm["pgalloc_dma"] + vm["pgalloc_dma32"] + vm["pgalloc_normal"] + vm["pgalloc_movable"] == alloc_pages
        assert vm["pgfree"] - boot.vmstat()["pgfree"] == free_pages


def test_run_default_machine_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    """``run --events 2000 --check-every 500`` on the default 16 GiB / 4 CPU machine runs the
    invariant checker every 500 events and at the end, and prints the summary and buddyinfo."""
    rc, out, err = run(capsys, "run", "--events", "2000", "--check-every", "500")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "scenario mixed  profile linux-7.2  seed 42  events 2000"
    assert re.fullmatch(r"allocs (\d+)  frees (\d+)  failures 0", lines[1])
    a, f = map(int, re.findall(r"\d+", lines[1])[:2])
    assert a + f == 2000
    assert [ln.split(",")[1].split()[1] for ln in lines if ln.startswith("Node 0, zone")] == ["DMA", "DMA32", "Normal"]
    assert "events/s" in err


def test_run_events_file_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--events-file`` writes ftrace-format lines that parse_line reads back; they replay
    consistently (every mm_page_free frees a block an earlier mm_page_alloc returned, with
    its order) and their counts match the JSON summary."""
    path = tmp_path / "events.txt"
    rc, out, _ = run(capsys, "run", "--events", "2000", "--json", "--memory", "512M", "--cpus", "2",
                     "--events-file", str(path))
    assert rc == 0
    d = json.loads(out)
    lines = path.read_text().splitlines()
    assert lines
    live: dict[int, int] = {}
    names: dict[str, int] = {}
    for i, ln in enumerate(lines, 1):
        ev = parse_line(ln, i, str(path))
        assert ev is not None
        assert ev.cpu in (0, 1) and ev.task == "pagealloc"
        names[ev.name] = names.get(ev.name, 0) + 1
        if ev.name == "mm_page_alloc" and ev.fields["pfn"] >= 0:
            assert ev.fields["pfn"] not in live
            live[ev.fields["pfn"]] = ev.fields["order"]
        elif ev.name == "mm_page_free":
            assert live.pop(ev.fields["pfn"]) == ev.fields["order"]
    assert names["mm_page_alloc"] == d["allocs"] + d["alloc_failures"]
    assert names["mm_page_free"] == d["frees"]
    assert names.get("mm_page_alloc_zone_locked", 0) > 0
    assert len(live) == d["allocs"] - d["frees"]


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("argv,needle", [
    (["--memory", "4X"], "memory"),
    (["--set", "memory=4X"], "memory"),
    (["--set", "nosuch=1"], "nosuch"),
    (["--set", "nosuch"], "nosuch"),
    (["--set", "watermark_scale_factor=0"], "watermark_scale_factor: 0 must be an integer in 1..3000"),
    (["--set", "watermark_scale_factor=3001"], "watermark_scale_factor"),
    (["--set", "watermark_scale_factor=ten"], "watermark_scale_factor"),
    (["--set", "thp=maybe"], "thp"),
    (["--set", "defrag_mode=2"], "defrag_mode"),
    (["--cpus", "0"], "cpus"),
    (["--cpus", "-3"], "cpus"),
    (["--memory", "32M"], "memory"),
])
@pytest.mark.parametrize("cmd", [["info"], ["proc", "buddyinfo"], ["run", "--events", "10"]])
def test_bad_input_exits_2_naming_the_field(capsys: pytest.CaptureFixture[str], cmd: list[str],
                                            argv: list[str], needle: str) -> None:
    """A bad size, knob or value ends with exit 2 and one stderr line naming the field."""
    rc, out, err = run(capsys, *cmd, "--memory", "1G", *argv)
    assert rc == 2
    assert out == ""
    assert err.startswith("pagealloc: ") and err.count("\n") == 1
    assert needle in err


@pytest.mark.parametrize("wsf", ["1", "3000"])
def test_watermark_scale_factor_range_is_inclusive(capsys: pytest.CaptureFixture[str], wsf: str) -> None:
    """vm.watermark_scale_factor accepts 1..3000 (sysctl extra1/extra2 of mm/page_alloc.c)."""
    rc, _, _ = run(capsys, "info", "--memory", "1G", "--set", f"watermark_scale_factor={wsf}")
    assert rc == 0


def test_unknown_profile_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--profile only accepts the known profiles; argparse exits 2 naming the option."""
    with pytest.raises(SystemExit) as ei:
        main(["info", "--memory", "1G", "--profile", "linux-9.9"])
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "--profile" in err and "linux-9.9" in err


def test_unknown_scenario_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Only the built-in 'mixed' scenario exists."""
    rc, out, err = run(capsys, "run", "nosuch", "--events", "10", "--memory", "1G")
    assert (rc, out) == (2, "")
    assert "scenario" in err and "nosuch" in err


def test_snapshot_on_empty_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty snapshot directory has neither a gt_buddydump nor zoneinfo to fall back on."""
    rc, out, err = run(capsys, "proc", "buddyinfo", "--snapshot", str(tmp_path))
    assert (rc, out) == (2, "")
    assert str(tmp_path) in err and "gt_buddydump" in err and "zoneinfo" in err


def test_snapshot_missing_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A snapshot path that does not exist is an input error, not a traceback."""
    rc, out, err = run(capsys, "info", "--snapshot", str(tmp_path / "nope"))
    assert (rc, out) == (2, "")
    assert "nope" in err


def test_set_reserved_bad_value_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A list-valued knob given a scalar is an input error: exit 2 naming 'reserved'."""
    rc, _, err = run(capsys, "info", "--memory", "1G", "--set", "reserved=0")
    assert rc == 2 and "reserved" in err


def test_unmapped_profile_run_with_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    """`run --profile unmapped-v2 --unmapped-share` flips blocks (full TLB flushes in the
    JSON), profile knobs go through --set, and a bad knob value exits 2 naming it."""
    rc, out, _ = run(capsys, "run", "--profile", "unmapped-v2", "--memory", "1G", "--cpus", "2",
                     "--events", "4000", "--unmapped-share", "0.5", "--json",
                     "--set", "zero_on_map_back=true", "--set", "flip_remainder=expand")
    assert rc == 0
    data = json.loads(out)
    assert data["profile"].startswith("unmapped-v2,")
    assert data["model_stats"]["flip_to_unmapped"] >= 1
    assert data["tlb"]["flush_full"] >= data["model_stats"]["flip_to_unmapped"]
    rc, _, err = run(capsys, "run", "--profile", "unmapped-v2", "--set", "flip_remainder=nope")
    assert rc == 2 and "flip_remainder" in err
    rc, _, err = run(capsys, "run", "--memory", "1G", "--unmapped-share", "0.5")
    assert rc == 2 and "unmapped profile" in err


def test_proc_meminfo_directmap(capsys: pytest.CaptureFixture[str]) -> None:
    """`proc meminfo` prints the DirectMap lines (arch_report_meminfo) of the machine."""
    rc, out, _ = run(capsys, "proc", "meminfo", "--memory", "1G", "--cpus", "1")
    assert rc == 0
    assert [ln.split(":")[0] for ln in out.splitlines()] == ["DirectMap4k", "DirectMap2M", "DirectMap1G"]


@pytest.mark.parametrize("profile", ["linux-7.2", "unmapped-v2", "unmapped-v4", "per-folio-zap",
                                     "unmapped-cache-2023"])
def test_run_json_metrics_use_the_issue_names(capsys: pytest.CaptureFixture[str], profile: str) -> None:
    """Every `run --json` carries the series counters under the names automation relies
    on (issue 4), for every profile; they agree with the underlying model counters, and the
    issue's knob names (flip_mode, flip_order, on_no_block, freetypes_equal) work with --set."""
    args = ["run", "--profile", profile, "--memory", "1G", "--cpus", "2", "--events", "4000", "--json"]
    if profile != "linux-7.2":
        args += ["--unmapped-share", "0.5"]
    if profile.startswith("unmapped-v"):
        args += ["--set", "flip_mode=claim", "--set", "flip_order=before_steal",
                 "--set", "on_no_block=fail", "--set", "freetypes_equal=flags"]
    rc, out, _ = run(capsys, *args)
    assert rc == 0
    data = json.loads(out)
    met = data["metrics"]
    assert sorted(met) == sorted(Machine.METRICS)
    assert all(isinstance(v, int) and v >= 0 for v in met.values())
    assert met["flips_to_unmapped"] == data["model_stats"]["flip_to_unmapped"]
    assert met["spurious_unmapped_failures"] == data["model_stats"]["spurious_unmapped_failures"]
    if profile == "linux-7.2":
        assert met["flips_to_unmapped"] == met["tlb_flush_full"] == met["security_exposures"] == 0
    else:
        assert met["tlb_flush_ranged"] + met["tlb_flush_full"] >= 1
        assert met["tlb_ipis"] == data["tlb"]["ipis"] > 0
    if profile.startswith("unmapped-v"):
        assert met["flips_to_unmapped"] >= 1
        assert data["profile"].count("flip_mode=claim") == 1
