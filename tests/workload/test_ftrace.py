"""The ftrace text reader (pagealloc.workload.ftrace) on real and hand-made trace lines.

Line format (kernel/trace/trace_output.c ``trace_print_context()``, traces README section 7):
``<task>-<pid> [<cpu>] <flags> <sec>.<usec>: <event>: <fields>``, where the task name may
contain ``-``, ``/``, ``:`` and spaces, so the PID is the number after the last ``-``.
"""
from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import re
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from pagealloc.mm import gfp as G
from pagealloc.mm.gfp import GFP_TABLE_6_1, GFP_TABLE_7_2
from pagealloc.mm.tracepoints import format_line
from pagealloc.workload.ftrace import (
    KMEM_EVENTS,
    TraceFormatError,
    open_text,
    parse_line,
    read_trace,
)

FREE = "mm_page_free: page=ffffea00044c2f00 pfn=0x1130bc order=0"
ALLOC = ("mm_page_alloc: page=ffffea0004062200 pfn=0x101888 order=0 migratetype=1 "
         "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP")


def line(task_pid: str, event: str, flags: str = "..s11", ts: str = "5.583905") -> str:
    """A line laid out as trace_print_context() does: %16s-%-7d [%03d] flags %5lu.%06lu."""
    task, pid = task_pid.rsplit("-", 1)
    return f"{task:>16}-{pid:<7} [000] {flags} {ts:>12}: {event}"


# ---------------------------------------------------------------------------- prefix


@pytest.mark.parametrize("task,pid", [
    ("<idle>", 0),
    ("kworker/0:1", 12),
    ("jbd2/vdc-8", 150),
    ("kworker/u4:0", 12),
    ("ksoftirqd/0", 14),
    ("Web Content", 4242),
    ("a-b-c d:e/f", 7),
    ("init", 1),
    ("averyverylongcomm", 1234567),
])
def test_task_names_with_dash_slash_colon_space(task: str, pid: int) -> None:
    """The task name keeps its '-', '/', ':' and spaces; the PID is after the last '-'."""
    ev = parse_line(line(f"{task}-{pid}", FREE), 3, "t")
    assert ev is not None
    assert (ev.task, ev.pid, ev.cpu, ev.flags, ev.name) == (task, pid, 0, "..s11", "mm_page_free")
    assert ev.fields == {"pfn": 0x1130BC, "order": 0}
    assert ev.lineno == 3
    assert ev.ts == pytest.approx(5.583905, abs=1e-9)


def test_real_prefix_variants() -> None:
    """Lines copied from the real traces: other CPUs' padding, the 7.2 lazy need-resched
    flags ('l', 'L'), softirq flags, and timestamps with more second digits."""
    real = [
        ("          gtwork-295     [000] dl.3.     5.620269: mm_page_alloc_zone_locked: "
         "page=ffffea0004078000 pfn=0x101e00 order=9 migratetype=1 percpu_refill=1",
         ("gtwork", 295, "dl.3.", 5.620269, "mm_page_alloc_zone_locked")),
        ("         kswapd0-42      [000] d..3.    22.749645: mm_page_pcpu_drain: "
         "page=ffffea0004070740 pfn=0x101c1d order=0 migratetype=1",
         ("kswapd0", 42, "d..3.", 22.749645, "mm_page_pcpu_drain")),
        ("     ksoftirqd/0-14      [000] ..s1.     7.000001: mm_page_free_batched: "
         "page=ffffea0004063980 pfn=0x1018e6 order=0",
         ("ksoftirqd/0", 14, "..s1.", 7.000001, "mm_page_free_batched")),
        ("  jbd2/vdc-8-110     [003] .Ls2. 123456.000100: " + FREE,
         ("jbd2/vdc-8", 110, ".Ls2.", 123456.0001, "mm_page_free")),
    ]
    for text, (task, pid, flags, ts, name) in real:
        ev = parse_line(text)
        assert ev is not None
        assert (ev.task, ev.pid, ev.flags, ev.name) == (task, pid, flags, name)
        assert ev.ts == pytest.approx(ts, abs=1e-9)
    assert parse_line(real[3][0]).cpu == 3  # type: ignore[union-attr]
    assert parse_line(real[2][0]).softirq  # type: ignore[union-attr]
    assert not parse_line(real[0][0]).softirq  # type: ignore[union-attr]


def test_comments_and_blank_lines_are_skipped() -> None:
    """The 12-line ftrace header starts with '#'; blank lines carry nothing."""
    for text in ("# tracer: nop", "#", "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
                 "", "   ", "   # indented comment"):
        assert parse_line(text) is None


# ---------------------------------------------------------------------------- events


def test_kmem_fields_decoded() -> None:
    """Every kmem event's fields come out as ints (pfn hex, gfp_flags as a mask)."""
    ev = parse_line(line("init-1", ALLOC, "....."))
    assert ev is not None
    assert ev.fields == {"pfn": 0x101888, "order": 0, "migratetype": 1,
                         "gfp_flags": G.GFP_HIGHUSER_MOVABLE | G.__GFP_ZERO | G.__GFP_COMP}
    assert ev.text == ""                      # decoded events keep no raw text
    ev = parse_line(line("init-1", "mm_page_alloc_extfrag: page=ffffea0005ec0000 pfn=0x17b000 "
                         "alloc_order=0 fallback_order=10 pageblock_order=9 alloc_migratetype=0 "
                         "fallback_migratetype=1 fragmenting=0 change_ownership=1", "d..3."))
    assert ev is not None and ev.fields == {
        "pfn": 0x17B000, "alloc_order": 0, "fallback_order": 10, "pageblock_order": 9,
        "alloc_migratetype": 0, "fallback_migratetype": 1, "fragmenting": 0, "change_ownership": 1}
    ev = parse_line(line("init-1", "mm_page_alloc: page=0000000000000000 pfn=0x0 order=9 "
                         "migratetype=1 gfp_flags=GFP_TRANSHUGE|__GFP_NORETRY|__GFP_THISNODE", "....."))
    assert ev is not None and ev.fields["pfn"] == -1          # failed allocation
    ev = parse_line(line("init-1", "mm_page_alloc: page=(nil) pfn=0x0 order=0 migratetype=0 "
                         "gfp_flags=none", "....."))
    assert ev is not None and ev.fields["pfn"] == -1 and ev.fields["gfp_flags"] == 0


def test_gfp_names_follow_the_kernel_table() -> None:
    """__GFP_ATOMIC exists on 6.1 only; __GFP_NO_OBJ_EXT on 7.2 only (mmflags.h)."""
    a61 = line("init-1", "mm_page_alloc: page=ffffea0004062200 pfn=0x101888 order=0 "
               "migratetype=0 gfp_flags=GFP_ATOMIC|__GFP_ATOMIC", ".....")
    assert parse_line(a61, table=GFP_TABLE_6_1) is not None
    with pytest.raises(TraceFormatError, match="gfp_flags"):
        parse_line(a61, table=GFP_TABLE_7_2)
    a72 = a61.replace("__GFP_ATOMIC", "__GFP_NO_OBJ_EXT")
    assert parse_line(a72, table=GFP_TABLE_7_2) is not None
    with pytest.raises(TraceFormatError, match="gfp_flags"):
        parse_line(a72, table=GFP_TABLE_6_1)


def test_markers_and_dump_points() -> None:
    """tracing_mark_write markers and the gt_show dump lines come through with their text."""
    ev = parse_line(line("init-1", "tracing_mark_write: GT_PHASE x", "...1."))
    assert ev is not None
    assert (ev.name, ev.text, ev.fields) == ("tracing_mark_write", "GT_PHASE x", {})
    ev = parse_line(line("init-1", "tracing_mark_write: GT_PHASE hog_4811MB_leave_800MB", "...1."))
    assert ev is not None and ev.text == "GT_PHASE hog_4811MB_leave_800MB"
    ev = parse_line(line("init-1", "tracing_mark_write: GT_NOTE a: b=c d", "...1."))
    assert ev is not None and (ev.name, ev.text) == ("tracing_mark_write", "GT_NOTE a: b=c d")
    ev = parse_line(line("cat-355", "gt_show: GT_BUDDYDUMP id=1", "d...."), 17, "t")
    assert ev is not None
    assert (ev.task, ev.pid, ev.name, ev.text, ev.lineno) == ("cat", 355, "gt_show", "GT_BUDDYDUMP id=1", 17)
    # other events keep their raw text and are not decoded
    ev = parse_line(line("init-1", "mm_compaction_isolate_freepages: range=(0xbfc00 ~ 0xbfe00) "
                         "nr_scanned=512 nr_taken=0", "....."))
    assert ev is not None and ev.name == "mm_compaction_isolate_freepages" and ev.fields == {}
    assert ev.text.startswith("range=(0xbfc00 ~ 0xbfe00)")


def test_kswapd_wake_and_sleep_lines() -> None:
    """kswapd's wake and sleep (``pagealloc capture``'s default events; decide switches the
    vmstat threshold at them) come through as non-kmem events with their text, from the
    raw text and from each reader."""
    ev = parse_line("         kswapd0-39      [000] .....   123.456789: mm_vmscan_kswapd_wake: nid=0 order=0",
                    5, "t")
    assert ev is not None
    assert (ev.task, ev.pid, ev.cpu, ev.name, ev.text, ev.fields, ev.lineno) == (
        "kswapd0", 39, 0, "mm_vmscan_kswapd_wake", "nid=0 order=0", {}, 5)
    assert ev.ts == pytest.approx(123.456789, abs=1e-9)
    ev = parse_line("kswapd0-39 [000] ..... 123.456789: mm_vmscan_kswapd_sleep: nid=0")
    assert ev is not None and (ev.task, ev.pid, ev.name, ev.text) == ("kswapd0", 39, "mm_vmscan_kswapd_sleep", "nid=0")
    assert "mm_vmscan_kswapd_wake" not in KMEM_EVENTS and "mm_vmscan_kswapd_sleep" not in KMEM_EVENTS


def test_kswapd_lines_in_a_trace_file(tmp_path: Path) -> None:
    p = tmp_path / "trace.txt.xz"
    p.write_bytes(lzma.compress("\n".join([
        "# tracer: nop", line("kswapd0-39", "mm_vmscan_kswapd_wake: nid=0 order=3", "....."),
        line("init-1", FREE), line("kswapd0-39", "mm_vmscan_kswapd_sleep: nid=0", ".....")]).encode() + b"\n"))
    evs = list(read_trace(p))
    assert [(e.name, e.text, e.lineno) for e in evs] == [
        ("mm_vmscan_kswapd_wake", "nid=0 order=3", 2), ("mm_page_free", "", 3),
        ("mm_vmscan_kswapd_sleep", "nid=0", 4)]


# ---------------------------------------------------------------------------- errors


BAD_LINES = [
    # (line, field named in the error)
    ("            init-x1      [000] .....     5.585209: " + FREE, "pid"),
    ("            init         [000] .....     5.585209: " + FREE, "pid"),
    ("            init-1        000  .....     5.585209: " + FREE, "cpu"),
    ("            init-1       [0a0] .....     5.585209: " + FREE, "cpu"),
    ("            init-1       [000]", "timestamp"),
    ("            init-1       [000] .....     5.58x209: " + FREE, "timestamp"),
    ("            init-1       [000] .....     5.585209 mm_page_free page=0 pfn=0x1 order=0", "timestamp"),
    ("            init-1       [000] .....     5.585209: mm_page_free page=0", "event"),
    (line("init-1", "mm_page_free: page=ffffea00044c2f00 pfn=0x1130bc"), "order"),
    (line("init-1", "mm_page_free: page=ffffea00044c2f00 order=0"), "pfn"),
    (line("init-1", "mm_page_alloc: page=ffffea0004062200 pfn=0x101888 order=0 migratetype=1"),
     "gfp_flags"),
    (line("init-1", "mm_page_alloc: page=ffffea0004062200 pfn=0x101888 order=0 gfp_flags=GFP_KERNEL"),
     "migratetype"),
    (line("init-1", "mm_page_alloc_zone_locked: page=ffffea0004078000 pfn=0x101e00 order=9 migratetype=1"),
     "percpu_refill"),
    (line("init-1", ALLOC.replace("__GFP_ZERO", "__GFP_BOGUS")), "gfp_flags"),
    (line("init-1", ALLOC.replace("GFP_HIGHUSER_MOVABLE|", "GFP_HIGHUSER_MOVABLE||")), "gfp_flags"),
    (line("init-1", ALLOC.replace("gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP", "gfp_flags=")),
     "gfp_flags"),
    (line("init-1", "mm_page_free: page=ffffea00044c2f00 pfn=1130bc order=0"), "pfn"),
    (line("init-1", "mm_page_free: page=ffffea00044c2f00 pfn=0x1130bc order=zero"), "order"),
    (line("init-1", "mm_page_pcpu_drain: page=ffffea0004070740 pfn=0x101c1d order=0 migratetype=1.5"),
     "migratetype"),
    (line("init-1", "mm_page_free: page=ffffea00044c2f00 pfn=0x1130bc order=0 stray"), "stray"),
]


@pytest.mark.parametrize("text,fieldname", BAD_LINES)
def test_malformed_line_names_file_line_and_field(text: str, fieldname: str) -> None:
    """A malformed line raises TraceFormatError '<file>:<line>: field '<f>': <why>'."""
    with pytest.raises(TraceFormatError) as ei:
        parse_line(text, 41, "some/trace.txt")
    e = ei.value
    assert (e.path, e.lineno, e.field) == ("some/trace.txt", 41, fieldname)
    assert str(e).startswith(f"some/trace.txt:41: field '{fieldname}': ")
    assert isinstance(e, ValueError)


def _write(path: Path, lines: list[str]) -> Path:
    opener = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open,
              ".zst": zstandard.open}.get(path.suffix, open)
    with opener(path, "wt", encoding="utf-8") as fh:  # type: ignore[operator]
        fh.write("".join(ln + "\n" for ln in lines))
    return path


GOOD = [
    "# tracer: nop",
    "#",
    line("<idle>-0", FREE),
    line("kworker/0:1-12", ALLOC, "....."),
    line("jbd2/vdc-8-150", "mm_page_free_batched: page=ffffea00044c2f00 pfn=0x1130bc order=0", "...4."),
    line("init-1", "tracing_mark_write: GT_PHASE x", "...1."),
    line("cat-355", "gt_show: GT_BUDDYDUMP id=1", "d...."),
]


@pytest.mark.parametrize("suffix", [".txt", ".xz", ".gz", ".bz2", ".zst"])
def test_read_trace_plain_and_compressed(tmp_path: Path, suffix: str) -> None:
    """read_trace decompresses by suffix and yields the same events, with 1-based line numbers
    that count the header."""
    p = _write(tmp_path / f"trace{suffix}", GOOD)
    evs = list(read_trace(p))
    assert [(e.lineno, e.task, e.pid, e.name) for e in evs] == [
        (3, "<idle>", 0, "mm_page_free"),
        (4, "kworker/0:1", 12, "mm_page_alloc"),
        (5, "jbd2/vdc-8", 150, "mm_page_free_batched"),
        (6, "init", 1, "tracing_mark_write"),
        (7, "cat", 355, "gt_show"),
    ]
    with open_text(p) as fh:
        assert fh.read().splitlines() == GOOD


@pytest.mark.parametrize("suffix", [".txt", ".xz", ".gz", ".zst"])
def test_read_trace_error_names_file_and_line(tmp_path: Path, suffix: str) -> None:
    """A bad line deep in a (compressed) file is reported with the file name, its 1-based
    line number and the field; nothing after it is yielded."""
    bad = GOOD[:4] + [line("init-1", "mm_page_free: page=ffffea00044c2f00 pfn=0xZZ order=0")] + GOOD[4:]
    p = _write(tmp_path / f"trace{suffix}", bad)
    got = []
    with pytest.raises(TraceFormatError) as ei:
        for ev in read_trace(p):
            got.append(ev.lineno)
    assert got == [3, 4]
    assert (ei.value.path, ei.value.lineno, ei.value.field) == (str(p), 5, "pfn")
    assert str(ei.value).startswith(f"{p}:5: field 'pfn': ")


def test_lenient_skips_and_records_bad_lines(tmp_path: Path) -> None:
    """lenient=True skips malformed lines and records their line numbers in ``skipped``."""
    lines = list(GOOD)
    lines.insert(3, line("init-x", FREE))                                       # line 4: pid
    lines.insert(5, line("init-1", ALLOC.replace("__GFP_COMP", "__GFP_NOPE")))  # line 6: gfp
    lines.append(line("init-1", "mm_page_free: page=ffffea00044c2f00 pfn=0x1130bc"))  # 10: order
    p = _write(tmp_path / "trace.gz", lines)
    skipped: list[int] = []
    evs = list(read_trace(p, lenient=True, skipped=skipped))
    assert skipped == [4, 6, 10]
    assert [e.lineno for e in evs] == [3, 5, 7, 8, 9]
    assert len(list(read_trace(p, lenient=True))) == 5          # no list: still skips
    with pytest.raises(TraceFormatError):
        list(read_trace(p))


def test_open_text_zst_without_zstandard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """.zst needs the optional 'zstandard' package; without it the error names the file."""
    import builtins
    real_import = builtins.__import__

    def no_zstd(name, *a, **k):  # type: ignore[no-untyped-def]
        if name == "zstandard":
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_zstd)
    p = tmp_path / "t.zst"
    p.write_bytes(b"")
    with pytest.raises(TraceFormatError, match="zstandard") as ei:
        open_text(p)
    assert ei.value.path == str(p)


def test_irq_info_off_lines() -> None:
    """With ``options/irq-info`` off the kernel prints no flags column:
    ``%16s-%-7d [%03d]  %5lu.%06lu: <event>``; such lines parse with empty flags."""
    text = "            init-1       [000]      5.583905: " + FREE
    ev = parse_line(text)
    assert ev is not None
    assert (ev.task, ev.pid, ev.flags, ev.name) == ("init", 1, "", "mm_page_free")
    assert ev.ts == pytest.approx(5.583905, abs=1e-9)
    assert ev.fields == {"pfn": 0x1130BC, "order": 0}
    # format_line with no flags writes exactly this layout, and it reads back
    assert format_line("init", 1, 0, "", 5_583_905_000, FREE) == text
    ev = parse_line("  kworker/0:1-12      [000]     22.000001: " + ALLOC, 9, "t")
    assert ev is not None and (ev.task, ev.pid, ev.name, ev.fields["pfn"]) == ("kworker/0:1", 12, "mm_page_alloc", 0x101888)
    with pytest.raises(TraceFormatError) as ei:
        parse_line("            init-1       [000]      5.58x905: " + FREE, 9, "t")
    assert ei.value.field == "timestamp"


# ---------------------------------------------------------------------------- real trace

N_REAL = 50_000


def test_first_50k_lines_of_a_real_trace(traces_dir: Path, tmp_path: Path) -> None:
    """read_trace over the header and first 50k event lines of the real 7.2 frag trace
    yields one event per non-comment line, and per-event counts equal a ``grep -c ' <name>: '``
    of the same text (done here with plain string matching)."""
    src = traces_dir / "linux-7.2" / "frag" / "trace.txt.xz"
    with lzma.open(src, "rt") as fh:
        head = list(itertools.islice(fh, 12 + N_REAL))
    assert sum(1 for ln in head if ln.startswith("#")) == 12
    p = tmp_path / "head.txt.xz"
    with lzma.open(p, "wt", preset=0) as out:
        out.writelines(head)
    # grep -c equivalents
    names = set(KMEM_EVENTS) | {"tracing_mark_write", "gt_show"}
    grep = {n: sum(1 for ln in head if f" {n}: " in ln) for n in names}
    other = Counter(m.group(1) for ln in head if not ln.startswith("#")
                    for m in [re.search(r"\d: (\w+): ", ln)] if m and m.group(1) not in names)
    evs = list(read_trace(p))
    assert len(evs) == N_REAL
    got = Counter(e.name for e in evs)
    for n in names:
        assert got[n] == grep[n], n
    for n, c in other.items():
        assert got[n] == c, n
    assert sum(got.values()) == N_REAL
    assert grep["mm_page_alloc"] > 10_000 and grep["mm_page_alloc_extfrag"] >= 1
    assert grep["gt_show"] == 1 and grep["tracing_mark_write"] >= 3
    # line numbers are 1-based in the file, header included
    assert evs[0].lineno == 13 and evs[-1].lineno == 12 + N_REAL
    # the lone dump point of this window is gt_show id=1 (summary.json 'dumps')
    dump = next(e for e in evs if e.name == "gt_show")
    assert dump.text == "GT_BUDDYDUMP id=1"
    import json
    summary = json.loads((traces_dir / "linux-7.2" / "frag" / "summary.json").read_text())
    assert dump.lineno == summary["dumps"][0]["line"]
    markers = {(m["line"], m["marker"]) for m in summary["markers"] if m["line"] <= 12 + N_REAL}
    assert {(e.lineno, e.text) for e in evs if e.name == "tracing_mark_write"} == markers
