"""``pagealloc capture`` (pagealloc.workload.capture) against a fake tracefs/procfs tree.

The fake tracefs is plain files: writing ``1`` to an ``enable`` file leaves ``1`` in it, and
the capture logs every write, so the tests see what was switched on and that everything is
switched back.  CMD is a small Python program that records the enable files while it runs
and "produces" events by copying a prepared trace into the fake ``trace`` file.  One test
uses the real tracefs and skips cleanly where it is absent or not writable.
"""
from __future__ import annotations

import json
import lzma
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from pagealloc.cli import main
from pagealloc.workload.capture import (
    DEFAULT_EVENTS,
    KMEM_PAGE_EVENTS,
    KSWAPD_EVENTS,
    CaptureConfig,
    CaptureError,
    capture,
)

TRACE = """\
# tracer: nop
#
# entries-in-buffer/entries-written: 9/9   #P:1
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
            init-1       [000] ...1.     5.584430: tracing_mark_write: GT_SNAPSHOT_before_BEGIN
            init-1       [000] ...1.     5.584431: tracing_mark_write: GT_KPAGEFLAGS id=1 BEGIN
            init-1       [000] ...1.     5.584440: tracing_mark_write: GT_WORKLOAD_BEGIN work
            init-1       [000] .....     5.585209: mm_page_alloc: page=ffffea0004062200 pfn=0x101888 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP
            init-1       [000] ..s11     5.583905: mm_page_free: page=ffffea00044c2f00 pfn=0x1130bc order=0
          gtwork-295     [000] dl.3.     5.620269: mm_page_alloc_zone_locked: page=ffffea0004078000 pfn=0x101e00 order=9 migratetype=1 percpu_refill=1
         kswapd0-39      [000] .....     5.620300: mm_vmscan_kswapd_wake: nid=0 order=0
         kswapd0-39      [000] .....     5.720300: mm_vmscan_kswapd_sleep: nid=0
            init-1       [000] .....    28.249484: mm_migrate_pages: nr_succeeded=32 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=compaction
            init-1       [000] ...1.    28.249490: tracing_mark_write: GT_WORKLOAD_END work
"""

COMPACTION_EVENTS = ("mm_compaction_begin", "mm_compaction_end")


def _fake_tree(root: Path, real_snapshot: Path | None = None) -> tuple[Path, Path, Path, Path]:
    """tracefs, proc, debugfs, sysfs under ``root``; proc files from ``real_snapshot`` if given."""
    tfs, proc, dbg, sysfs = root / "tracing", root / "proc", root / "debug", root / "sys"
    for d in (tfs, proc, dbg / "extfrag", sysfs / "kernel/mm/transparent_hugepage/khugepaged"):
        d.mkdir(parents=True)
    (tfs / "tracing_on").write_text("1\n")              # on before: must come back on
    (tfs / "buffer_size_kb").write_text("1408\n")
    (tfs / "trace_clock").write_text("local [global] counter uptime perf mono\n")
    (tfs / "trace_marker").write_text("")
    (tfs / "trace").write_text("stale text from before the capture\n")
    (tfs / "set_event").write_text("")
    for system, names in (("kmem", KMEM_PAGE_EVENTS), ("compaction", COMPACTION_EVENTS),
                          ("migrate", ("mm_migrate_pages",)), ("vmscan", KSWAPD_EVENTS),
                          ("ftrace", ("print",))):
        for n in names:
            d = tfs / "events" / system / n
            d.mkdir(parents=True)
            (d / "format").write_text(f"name: {n}\nID: 1\nformat:\n")
            if system != "ftrace":
                (d / "enable").write_text("0\n")
    (tfs / "events" / "kmem" / "mm_page_free" / "enable").write_text("1\n")   # was on already
    (tfs / "per_cpu" / "cpu0").mkdir(parents=True)
    (tfs / "per_cpu" / "cpu0" / "stats").write_text("entries: 7\noverrun: 0\ndropped events: 0\n")
    files = ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "slabinfo")
    if real_snapshot is not None:
        for f in files:
            shutil.copy(real_snapshot / f, proc / f)
        (proc / "kpageflags").write_bytes(lzma.decompress((real_snapshot / "kpageflags.xz").read_bytes()))
        shutil.copy(real_snapshot.parent / "iomem.txt", proc / "iomem")
    else:
        for f in files:
            (proc / f).write_text(f"fake {f}\n")
        (proc / "kpageflags").write_bytes(np.arange(4096, dtype="<u8").tobytes())
        (proc / "iomem").write_text("00001000-0009fbff : System RAM\n")
    (proc / "version").write_text("Linux version 7.2.13+deb14-cloud-amd64 (debian-kernel@lists.debian.org)\n")
    (proc / "cmdline").write_text("console=ttyS0\n")
    (proc / "cpuinfo").write_text("processor\t: 0\n")
    (proc / "uptime").write_text("12.34 10.00\n")
    (proc / "sys" / "vm").mkdir(parents=True)
    (proc / "sys" / "vm" / "min_free_kbytes").write_text("67584\n")
    (proc / "sys" / "vm" / "watermark_scale_factor").write_text("10\n")
    (dbg / "extfrag" / "extfrag_index").write_text("Node 0, zone Normal -1.000\n")
    (dbg / "extfrag" / "unusable_index").write_text("Node 0, zone Normal 0.000\n")
    thp = sysfs / "kernel/mm/transparent_hugepage"
    (thp / "enabled").write_text("[always] madvise never\n")
    (thp / "defrag").write_text("always defer defer+madvise [madvise] never\n")
    (thp / "khugepaged" / "defrag").write_text("1\n")
    return tfs, proc, dbg, sysfs


def _workload(tmp: Path, tfs: Path, status: int = 0) -> list[str]:
    """CMD: record the enable files and tracing_on while running, 'record' TRACE, exit."""
    (tmp / "prepared_trace").write_text(TRACE)
    code = (
        "import sys, pathlib, shutil\n"
        f"t = pathlib.Path({str(tfs)!r})\n"
        "seen = {str(p.relative_to(t)): p.read_text().strip() for p in sorted(t.glob('events/*/*/enable'))}\n"
        "seen['tracing_on'] = (t / 'tracing_on').read_text().strip()\n"
        f"pathlib.Path({str(tmp / 'seen.txt')!r}).write_text(repr(seen))\n"
        f"shutil.copy({str(tmp / 'prepared_trace')!r}, t / 'trace')\n"
        "print('hello from the workload')\n"
        f"sys.exit({status})\n"
    )
    return [sys.executable, "-c", code]


def _cfg(tmp: Path, cmd: list[str], **kw: object) -> CaptureConfig:
    paths: dict[str, object] = {"tracefs": tmp / "tracing", "proc": tmp / "proc", "debugfs": tmp / "debug",
                                "sysfs": tmp / "sys"}
    paths.update(kw)
    return CaptureConfig(out=tmp / "out", cmd=cmd, **paths)  # type: ignore[arg-type]


def _enables(tfs: Path) -> dict[str, str]:
    return {str(p.relative_to(tfs)): p.read_text().strip() for p in sorted(tfs.glob("events/*/*/enable"))}


def test_capture_writes_the_trace_directory_layout(tmp_path: Path) -> None:
    tfs, proc, _d, _s = _fake_tree(tmp_path)
    out_lines: list[str] = []

    class Echo:
        def write(self, s: str) -> int:
            out_lines.append(s)
            return len(s)

        def flush(self) -> None:
            pass

    res = capture(_cfg(tmp_path, _workload(tmp_path, tfs)), stdout=Echo())  # type: ignore[arg-type]
    out = tmp_path / "out"
    assert res.cmd_status == 0
    # the layout of ../shared/traces/<kernel>/<workload>/
    for f in ("trace.txt.xz", "summary.json", "version.txt", "iomem.txt", "cmdline.txt", "uname.txt",
              "cpuinfo.txt", "set_event.txt", "buffer_size_kb.txt", "trace_clock.txt", "trace_stats.txt",
              "workload.log", "workload_uptime.txt", "sysctl_vm/min_free_kbytes", "thp/settings.txt",
              "event_formats/mm_page_alloc.format", "event_formats/mm_migrate_pages.format",
              "event_formats/compaction_mm_compaction_begin.format", "event_formats/ftrace_print.format",
              "event_formats/vmscan_mm_vmscan_kswapd_wake.format",
              "event_formats/vmscan_mm_vmscan_kswapd_sleep.format"):
        assert (out / f).is_file(), f
    for snap in ("snap_before", "snap_after"):
        for f in ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "slabinfo",
                  "extfrag_index", "extfrag_unusable_index", "kpageflags.xz", "buddyinfo.after_kpageflags"):
            assert (out / snap / f).is_file(), (snap, f)
        assert lzma.decompress((out / snap / "kpageflags.xz").read_bytes()) == (proc / "kpageflags").read_bytes()
    assert lzma.decompress((out / "trace.txt.xz").read_bytes()).decode() == TRACE
    assert (out / "version.txt").read_text().startswith("Linux version 7.2.13")
    assert (out / "thp" / "settings.txt").read_text().splitlines() == [
        "[always] madvise never", "always defer defer+madvise [madvise] never", "1"]
    assert (out / "workload.log").read_text() == "hello from the workload\n"
    assert "".join(out_lines) == "hello from the workload\n"
    assert (out / "workload_uptime.txt").read_text() == "start=12.34 end=12.34\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events_total"] == {"mm_page_alloc": 1, "mm_page_free": 1, "mm_page_free_batched": 0,
                                       "mm_page_alloc_zone_locked": 1, "mm_page_pcpu_drain": 0,
                                       "mm_page_alloc_extfrag": 0}
    assert summary["events_in_workload_window"]["mm_page_alloc"] == 1
    assert summary["order_histogram"]["mm_page_alloc_zone_locked"] == {"9": 1}
    assert summary["other_events_total"] == {"mm_vmscan_kswapd_wake": 1, "mm_vmscan_kswapd_sleep": 1,
                                             "mm_migrate_pages": 1}
    assert summary["capture"]["events"][-2:] == ["vmscan:mm_vmscan_kswapd_wake", "vmscan:mm_vmscan_kswapd_sleep"]
    assert summary["trace_lines"] == len(TRACE.splitlines())
    assert [m["marker"] for m in summary["markers"]][:2] == ["GT_SNAPSHOT_before_BEGIN", "GT_KPAGEFLAGS id=1 BEGIN"]
    assert summary["dumps"][0] == {"id": 1, "snapshot": "snap_before", "kind": "kpageflags", "pfns": 4096,
                                   "line": 14}
    assert summary["dumps"][1]["snapshot"] == "snap_after"
    assert summary["ring_buffer_stats"] == {"entries": "7", "overrun": "0", "dropped events": "0"}
    assert summary["capture"]["cmd_exit_status"] == 0
    # markers went to trace_marker in order
    assert (tfs / "trace_marker").read_text().splitlines() == [
        "GT_SNAPSHOT_before_BEGIN", "GT_KPAGEFLAGS id=1 BEGIN", "GT_KPAGEFLAGS id=1 END",
        "GT_SNAPSHOT_before_END", f"GT_WORKLOAD_BEGIN {os.path.basename(sys.executable)}",
        f"GT_WORKLOAD_END {os.path.basename(sys.executable)}", "GT_SNAPSHOT_after_BEGIN",
        "GT_KPAGEFLAGS id=2 BEGIN", "GT_KPAGEFLAGS id=2 END", "GT_SNAPSHOT_after_END"]


def test_events_on_while_cmd_runs_and_restored_after(tmp_path: Path) -> None:
    tfs, _p, _d, _s = _fake_tree(tmp_path)
    before = _enables(tfs)
    res = capture(_cfg(tmp_path, _workload(tmp_path, tfs)), stdout=open(os.devnull, "w"))
    seen = eval((tmp_path / "seen.txt").read_text())
    assert seen.pop("tracing_on") == "1"
    assert all(v == "1" for v in seen.values()), seen          # every default event was on
    assert set(seen) == set(before)
    assert _enables(tfs) == before                              # back off (mm_page_free stays on)
    assert (tfs / "tracing_on").read_text().strip() == "1"      # it was on before
    assert (tfs / "buffer_size_kb").read_text().strip() == "1408"
    assert (tfs / "trace_clock").read_text().strip() == "global"
    writes = res.tracefs_writes
    i_on = writes.index(("events/kmem/mm_page_alloc/enable", "1"))
    i_off = writes.index(("events/kmem/mm_page_alloc/enable", "0"))
    assert writes[0] == ("tracing_on", "0") and i_on < i_off
    assert ("buffer_size_kb", "65536") in writes and ("trace_clock", "local") in writes


def test_failing_cmd_reports_status_and_restores(tmp_path: Path) -> None:
    tfs, _p, _d, _s = _fake_tree(tmp_path)
    before = _enables(tfs)
    res = capture(_cfg(tmp_path, _workload(tmp_path, tfs, status=3)), stdout=open(os.devnull, "w"))
    assert res.cmd_status == 3
    assert _enables(tfs) == before
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["capture"]["cmd_exit_status"] == 3
    assert (tmp_path / "out" / "snap_after" / "kpageflags.xz").is_file()


def test_cmd_that_cannot_start_is_127(tmp_path: Path) -> None:
    tfs, _p, _d, _s = _fake_tree(tmp_path)
    before = _enables(tfs)
    res = capture(_cfg(tmp_path, [str(tmp_path / "no-such-program")]), stdout=open(os.devnull, "w"))
    assert res.cmd_status == 127 and "cannot run" in res.warnings[0]
    assert _enables(tfs) == before


def test_error_during_capture_restores_tracefs(tmp_path: Path) -> None:
    """kpageflags becomes unreadable after the preflight: the capture stops with an error
    naming it, and every tracefs file is back to its old value."""
    tfs, proc, _d, _s = _fake_tree(tmp_path)
    before = _enables(tfs)
    (proc / "kpageflags").unlink()
    (proc / "kpageflags").mkdir()                 # readable per access(), fails to open
    with pytest.raises(CaptureError, match=r"proc/kpageflags: cannot read"):
        capture(_cfg(tmp_path, _workload(tmp_path, tfs)), stdout=open(os.devnull, "w"))
    assert _enables(tfs) == before
    assert (tfs / "tracing_on").read_text().strip() == "1"
    assert (tfs / "buffer_size_kb").read_text().strip() == "1408"


def test_selected_events_only(tmp_path: Path) -> None:
    tfs, _p, _d, _s = _fake_tree(tmp_path)
    res = capture(_cfg(tmp_path, _workload(tmp_path, tfs), events=("kmem:mm_page_alloc", "compaction:*")),
                  stdout=open(os.devnull, "w"))
    seen = eval((tmp_path / "seen.txt").read_text())
    on = {k for k, v in seen.items() if v == "1" and k != "tracing_on"}
    assert on == {"events/kmem/mm_page_alloc/enable", "events/kmem/mm_page_free/enable",
                  "events/compaction/mm_compaction_begin/enable", "events/compaction/mm_compaction_end/enable"}
    assert res.cmd_status == 0


@pytest.mark.parametrize("events, match", [
    (("kmem:nope",), r"events/kmem/nope/enable: no such event"),
    (("nosys:*",), r"events/nosys: no such event system"),
    (("mm_page_alloc",), r"expected SYSTEM:EVENT"),
])
def test_bad_events_name_the_path(tmp_path: Path, events: tuple[str, ...], match: str) -> None:
    tfs, _p, _d, _s = _fake_tree(tmp_path)
    with pytest.raises(CaptureError, match=match):
        capture(_cfg(tmp_path, ["true"], events=events))
    assert (tfs / "tracing_on").read_text().strip() == "1"        # nothing was touched


def test_missing_tracefs_proc_and_nonempty_out(tmp_path: Path) -> None:
    tfs, proc, _d, _s = _fake_tree(tmp_path)
    with pytest.raises(CaptureError, match=rf"{tmp_path / 'nowhere'}: no tracefs here"):
        capture(_cfg(tmp_path, ["true"], tracefs=tmp_path / "nowhere"))
    (proc / "zoneinfo").unlink()
    with pytest.raises(CaptureError, match=r"proc/zoneinfo: not readable"):
        capture(_cfg(tmp_path, ["true"]))
    (proc / "zoneinfo").write_text("x\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").write_text("x")
    with pytest.raises(CaptureError, match=r"out: exists and is not an empty directory"):
        capture(_cfg(tmp_path, ["true"]))


def test_not_root_is_a_clear_error() -> None:
    """On the real interfaces a non-root user is told that root is needed, naming the paths."""
    cfg = CaptureConfig(out=Path("unused"), cmd=["true"])
    with pytest.raises(CaptureError, match=r"needs root \(euid 1000\): /sys/kernel/tracing and /proc/kpageflags"):
        capture(cfg, euid=1000)


def test_unwritable_tracefs_names_the_file(tmp_path: Path) -> None:
    tfs, _p, _d, _s = _fake_tree(tmp_path)
    (tfs / "tracing_on").chmod(0o444)
    if os.access(tfs / "tracing_on", os.W_OK):
        pytest.skip("running as root: file modes do not stop writes")
    with pytest.raises(CaptureError, match=r"tracing_on: not writable \(not root"):
        capture(_cfg(tmp_path, ["true"]))


def test_cli_capture_exit_status_is_cmds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tfs, proc, dbg, sysfs = _fake_tree(tmp_path)
    argv = ["capture", "--out", str(tmp_path / "out"), "--tracefs", str(tfs), "--proc", str(proc),
            "--debugfs", str(dbg), "--sysfs", str(sysfs), "--buffer-kb", "4096", "--name", "work",
            "--events", "kmem:mm_page_alloc,kmem:mm_page_free", "--"] + _workload(tmp_path, tfs, status=5)
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert f"wrote {tmp_path / 'out'}" in err and "exited with status 5" in err and "mm_page_alloc=1" in err
    assert (tfs / "trace_marker").read_text().splitlines()[4] == "GT_WORKLOAD_BEGIN work"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["capture"]["events"] == ["kmem:mm_page_alloc", "kmem:mm_page_free"]
    assert summary["capture"]["buffer_size_kb"] == 4096


def test_cli_capture_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture", "--tracefs", str(tmp_path / "none"), "--proc", str(tmp_path), "--", "true"]) == 2
    assert f"{tmp_path / 'none'}: no tracefs here" in capsys.readouterr().err
    assert main(["capture", "--tracefs", str(tmp_path)]) == 2
    assert "no command" in capsys.readouterr().err


def test_default_events_are_the_shared_captures(tmp_path: Path) -> None:
    assert DEFAULT_EVENTS[:6] == tuple(f"kmem:{e}" for e in KMEM_PAGE_EVENTS)
    assert "compaction:*" in DEFAULT_EVENTS and "migrate:mm_migrate_pages" in DEFAULT_EVENTS


def test_default_events_add_kswapd_wake_and_sleep(tmp_path: Path) -> None:
    """kswapd's wake and sleep are on by default (decide mode switches the vmstat threshold
    at them); the capture enables them and turns them off again."""
    assert DEFAULT_EVENTS[-2:] == ("vmscan:mm_vmscan_kswapd_wake", "vmscan:mm_vmscan_kswapd_sleep")
    assert KSWAPD_EVENTS == ("mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep")
    tfs, _p, _d, _s = _fake_tree(tmp_path)
    res = capture(_cfg(tmp_path, _workload(tmp_path, tfs)), stdout=open(os.devnull, "w"))
    seen = eval((tmp_path / "seen.txt").read_text())
    for e in KSWAPD_EVENTS:
        assert seen[f"events/vmscan/{e}/enable"] == "1"
        assert (f"events/vmscan/{e}/enable", "1") in res.tracefs_writes
        assert (tfs / "events" / "vmscan" / e / "enable").read_text().strip() == "0"
    # the saved trace reads back with kswapd's lines as non-kmem events
    from pagealloc.workload.ftrace import read_trace
    evs = [ev for ev in read_trace(tmp_path / "out" / "trace.txt.xz") if ev.name.startswith("mm_vmscan")]
    assert [(ev.name, ev.task, ev.pid, ev.text) for ev in evs] == [
        ("mm_vmscan_kswapd_wake", "kswapd0", 39, "nid=0 order=0"),
        ("mm_vmscan_kswapd_sleep", "kswapd0", 39, "nid=0")]


def test_capture_directory_loads_through_the_kpageflags_import(traces_dir: Path, tmp_path: Path) -> None:
    """With /proc files of a real kernel in the fake tree, the captured snapshot loads as a
    machine (no dump: the kpageflags import) that holds every invariant."""
    from pagealloc.workload.state import inference_report, machine_from_snapshot
    src = traces_dir / "linux-6.1" / "anon" / "snap_before"
    tfs, _p, _d, _s = _fake_tree(tmp_path, src)
    capture(_cfg(tmp_path, _workload(tmp_path, tfs)), stdout=open(os.devnull, "w"))
    m = machine_from_snapshot(tmp_path / "out" / "snap_before")
    m.check()
    rep = inference_report(m)
    assert rep is not None and rep.total("free_pages") == 186757
    assert m.proc("buddyinfo") == (src / "buddyinfo").read_text()


def test_real_tracefs(tmp_path: Path) -> None:
    """A real capture of ``true``; skipped without a writable tracefs (containers, non-root)."""
    t = Path("/sys/kernel/tracing")
    if not (t / "tracing_on").exists() or not os.access(t / "tracing_on", os.W_OK):
        pytest.skip(f"no writable tracefs at {t}")
    if not os.access("/proc/kpageflags", os.R_OK):
        pytest.skip("/proc/kpageflags not readable")
    before = (t / "events" / "kmem" / "mm_page_alloc" / "enable").read_text()
    cfg = CaptureConfig(out=tmp_path / "out", cmd=["sh", "-c", "head -c 4000000 /dev/zero > /dev/null"],
                        events=("kmem:mm_page_alloc", "kmem:mm_page_free"), buffer_size_kb=4096)
    res = capture(cfg, stdout=open(os.devnull, "w"))
    assert res.cmd_status == 0 and res.trace_lines > 12
    assert (t / "events" / "kmem" / "mm_page_alloc" / "enable").read_text() == before
    markers = [m["marker"] for m in res.markers]
    assert "GT_SNAPSHOT_before_BEGIN" in markers and "GT_SNAPSHOT_after_END" in markers
