"""Trace formats beyond raw ftrace text: trace-cmd report, perf script, compressed input and
the converted binary form (pagealloc.workload.ftrace, pagealloc.workload.tracebin).

The trace-cmd and perf lines are laid out as those tools print them:
``trace_show_data()`` in trace-cmd's ``tracecmd/trace-read.c`` (``"%16s-%-5d [%03d]"``,
``" %6.1000d:"``, the event name padded to 20 columns; ``-l``: ``"%8.8s-%-5d %3d"`` plus the
latency flags; ``-R``: libtraceevent ``tep_print_fields()``) and
``perf_sample__fprintf_start()``/``process_event()`` in ``tools/perf/builtin-script.c``
(``"%16s %7d [%03d] %12s: "``, optional ``"%10lu "`` period, ``"%*s: "`` event name).
The equivalence tests render the head of a real 7.2 trace in each layout and require the
same events as the ftrace text gives.
"""
from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import os
import re
import struct
from pathlib import Path
from typing import Any, Callable

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pagealloc.cli import main
from pagealloc.mm.gfp import GFP_TABLE_6_1, GFP_TABLE_7_2
from pagealloc.workload.errors import InputFormatError
from pagealloc.workload.ftrace import (
    BINARY_MAGIC,
    FORMATS,
    TraceEvent,
    TraceFormatError,
    compression,
    detect_format,
    parse_line,
    read_trace,
)
from pagealloc.workload.tracebin import convert_trace, read_converted, read_header

N_REAL = 30_000          # lines of the real 7.2 frag trace used (12 header lines included)

# Lines of events the head of that trace lacks (traces README section 7).
EXTRA = [
    "         kswapd0-42      [000] d..3.    22.749645: mm_page_pcpu_drain: page=ffffea0004070740 pfn=0x101c1d order=0 migratetype=1",
    "          gtwork-370     [000] .....    22.795978: mm_page_alloc: page=0000000000000000 pfn=0x0 order=9 migratetype=1 gfp_flags=GFP_TRANSHUGE|__GFP_NORETRY|__GFP_THISNODE",
    "            init-1       [000] .....    28.243519: mm_compaction_isolate_freepages: range=(0xbfc00 ~ 0xbfe00) nr_scanned=512 nr_taken=0",
    "            init-1       [000] .l...    28.249484: mm_migrate_pages: nr_succeeded=32 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=compaction",
]

_FT = re.compile(r"\s*(.*)-(\d+) +\[(\d+)\] (\S+) +(\S+): ([\w.-]+): ?(.*)")
_SUBSYS = {"mm_migrate_pages": "migrate", "tracing_mark_write": "ftrace", "gt_show": "ftrace"}
# raw field order of each kmem record (event_formats/*.format)
_RAW_ORDER = {
    "mm_page_alloc": ("pfn", "order", "gfp_flags", "migratetype"),
    "mm_page_free": ("pfn", "order"),
    "mm_page_free_batched": ("pfn",),
    "mm_page_alloc_zone_locked": ("pfn", "order", "migratetype", "percpu_refill"),
    "mm_page_pcpu_drain": ("pfn", "order", "migratetype"),
    "mm_page_alloc_extfrag": ("pfn", "alloc_order", "fallback_order", "alloc_migratetype",
                              "fallback_migratetype", "change_ownership"),
}


@pytest.fixture(scope="module")
def real_head(traces_dir: Path) -> list[str]:
    """The header and first lines of the real 7.2 frag trace, plus a few rarer events."""
    with lzma.open(traces_dir / "linux-7.2" / "frag" / "trace.txt.xz", "rt") as fh:
        head = [ln.rstrip("\n") for ln in itertools.islice(fh, N_REAL)]
    return head + EXTRA


def _split(line: str) -> tuple[str, str, str, str, str, str, str]:
    m = _FT.fullmatch(line)
    assert m is not None, line
    return m.groups()  # type: ignore[return-value]


def _tool_page(body: str, n: int) -> str:
    """libtraceevent prints ``page=`` its own way; NULL in two spellings."""
    page = body.split()[0]
    if page in ("page=0000000000000000", "page=(nil)"):
        return body.replace(page, "page=(nil)" if n % 2 else "page=0x0", 1)
    return body.replace(page, f"page=0x{int(page[5:], 16) - 0xffffea0000000000:x}", 1)


def to_tracecmd(lines: list[str], latency: bool = False) -> tuple[list[str], dict[int, int]]:
    """``trace-cmd report`` (``-l`` with ``latency``) of the same events; old->new line map."""
    out = ["version = 6", "cpus=1"]
    where: dict[int, int] = {}
    for n, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        task, pid, cpu, flags, ts, name, body = _split(line)
        if name in ("tracing_mark_write", "gt_show"):
            name, body = ("print" if name == "tracing_mark_write" else "bprint"), f"{name}: {body}"
        elif name.startswith("mm_page"):
            body = _tool_page(body, n)
        if latency:
            prefix = f"{task[:8]:>8}-{int(pid):<5} {int(cpu):3d}{flags}"
        else:
            prefix = f"{task:>16}-{int(pid):<5} [{int(cpu):03d}]"
        out.append(f"{prefix} {ts:>12}: {name}: {' ' * max(0, 20 - len(name))}{body}")
        where[n] = len(out)
    return out, where


def to_tracecmd_raw(events: list[TraceEvent]) -> list[str]:
    """``trace-cmd report -R`` of the kmem events (raw record fields, tep_print_fields())."""
    out = ["cpus=1"]
    for ev in events:
        if ev.name not in _RAW_ORDER:
            continue
        vals = []
        for k in _RAW_ORDER[ev.name]:
            v = ev.fields[k]
            if k == "pfn":
                vals.append(f"pfn=0x{v if v >= 0 else (1 << 64) - 1:x}")
            elif k == "gfp_flags":
                vals.append(f"gfp_flags=0x{v:x}")
            else:
                vals.append(f"{k}={v}")
        out.append(f"{ev.task:>16}-{ev.pid:<5} [{ev.cpu:03d}] {ev.ts:12.6f}: {ev.name}: "
                   f"{' ' * max(0, 20 - len(ev.name))} {' '.join(vals)}")
    return out


def to_perf(lines: list[str]) -> tuple[list[str], dict[int, int]]:
    """``perf script`` of the same events; every 7th has a period column and every 11th a
    two-frame call chain and a blank line after it (``-g``)."""
    out: list[str] = []
    where: dict[int, int] = {}
    width = len("compaction:mm_compaction_isolate_freepages")
    for n, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        task, pid, cpu, flags, ts, name, body = _split(line)
        if name in ("tracing_mark_write", "gt_show"):
            ev = "ftrace:print" if name == "tracing_mark_write" else "ftrace:bprint"
            body = f"{name}: {body}"
        else:
            ev = f"{_SUBSYS.get(name, 'compaction' if 'compaction' in name else 'kmem')}:{name}"
            if name.startswith("mm_page"):
                body = _tool_page(body, n)
        period = f"{1:10d} " if n % 7 == 0 else ""
        out.append(f"{task:>16} {int(pid):>7} [{int(cpu):03d}] {ts:>12}: {period}{ev:>{width}}: {body}")
        where[n] = len(out)
        if n % 11 == 0:
            out += ["\t    ffffffff81234567 __alloc_pages+0x1a7 ([kernel.kallsyms])",
                    "\t    ffffffff81234abc alloc_pages_mpol+0x91 ([kernel.kallsyms])", ""]
    return out, where


def _write(path: Path, lines: list[str]) -> Path:
    data = "".join(ln + "\n" for ln in lines).encode()
    if path.suffix == ".xz":
        data = lzma.compress(data, preset=0)
    elif path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    elif path.suffix == ".bz2":
        data = bz2.compress(data)
    elif path.suffix == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def _key(ev: TraceEvent, flags: bool = True) -> tuple[Any, ...]:
    return (ev.lineno, ev.task, ev.pid, ev.cpu, ev.flags if flags else "", ev.ts, ev.name,
            ev.fields, ev.text)


# ---------------------------------------------------------------------------- equivalence


def test_tracecmd_report_gives_the_ftrace_events(real_head: list[str], tmp_path: Path) -> None:
    """The head of a real trace as ``trace-cmd report`` prints it (no flags column, padded
    names, print/bprint markers, libtraceevent page pointers) reads to the same events,
    detected as trace-cmd, with line numbers of its own file."""
    ref = list(read_trace(_write(tmp_path / "t.txt", real_head)))
    text, where = to_tracecmd(real_head)
    p = _write(tmp_path / "report.txt", text)
    assert detect_format(p) == "trace-cmd"
    got = list(read_trace(p))
    assert len(got) == len(ref) == N_REAL - 12 + len(EXTRA)
    assert [_key(e, False) for e in got] == [
        _key(TraceEvent(where[e.lineno], e.task, e.pid, e.cpu, "", e.ts, e.name, e.fields, e.text))
        for e in ref]
    assert sum(e.name == "gt_show" for e in got) == 1
    assert sum(e.name == "tracing_mark_write" for e in got) >= 5
    assert next(e for e in got if e.name == "mm_page_alloc" and e.fields["pfn"] == -1).fields["order"] == 9


def test_tracecmd_latency_format(real_head: list[str], tmp_path: Path) -> None:
    """``trace-cmd report -l``: task cut to 8 characters, flags glued to the CPU number."""
    ref = list(read_trace(_write(tmp_path / "t.txt", real_head)))
    text, where = to_tracecmd(real_head, latency=True)
    p = _write(tmp_path / "report-l.txt.gz", text)
    assert detect_format(p) == "trace-cmd"
    got = list(read_trace(p))
    assert [_key(e) for e in got] == [
        _key(TraceEvent(where[e.lineno], e.task[:8].lstrip(), e.pid, e.cpu, e.flags, e.ts, e.name,
                        e.fields, e.text)) for e in ref]
    assert any(e.softirq for e in got)


def test_tracecmd_raw_fields(real_head: list[str], tmp_path: Path) -> None:
    """``trace-cmd report -R``: raw kmem records (hex longs, numeric gfp_flags, no page,
    pfn -1UL for a failed allocation, no order in mm_page_free_batched, no pageblock_order
    or fragmenting in mm_page_alloc_extfrag) decode to the same fields."""
    ref = [e for e in read_trace(_write(tmp_path / "t.txt", real_head)) if e.name in _RAW_ORDER]
    p = _write(tmp_path / "raw.txt", to_tracecmd_raw(ref))
    got = list(read_trace(p, fmt="trace-cmd"))
    assert [(e.name, e.pid, e.ts, e.fields) for e in got] == [(e.name, e.pid, e.ts, e.fields) for e in ref]
    names = {e.name for e in got}
    assert names == set(_RAW_ORDER)


def test_perf_script_gives_the_ftrace_events(real_head: list[str], tmp_path: Path) -> None:
    """The same events as ``perf script`` prints them (subsystem-prefixed names aligned to
    the longest, a period column on some, call chains and blank lines between samples)."""
    ref = list(read_trace(_write(tmp_path / "t.txt", real_head)))
    text, where = to_perf(real_head)
    p = _write(tmp_path / "perf.txt.zst", text)
    assert compression(p) == "zst" and detect_format(p) == "perf-script"
    got = list(read_trace(p))
    assert [_key(e, False) for e in got] == [
        _key(TraceEvent(where[e.lineno], e.task, e.pid, e.cpu, "", e.ts, e.name, e.fields, e.text))
        for e in ref]


def test_perf_pid_tid_and_unknown_comm() -> None:
    """``-F +pid`` prints pid/tid (the event's PID is the thread's); comm may hold spaces."""
    ev = parse_line("     Web Content  4242/4250  [001]  3012.449172:  kmem:mm_page_free: "
                    "page=0x5a2c0 pfn=0x5a2c0 order=0", 5, "p", fmt="perf-script")
    assert ev is not None and (ev.task, ev.pid, ev.cpu, ev.name, ev.fields) == (
        "Web Content", 4250, 1, "mm_page_free", {"pfn": 0x5A2C0, "order": 0})
    ev = parse_line("             :-1    -1 [000]     1.000001: kmem:mm_page_free: page=0x1 "
                    "pfn=0x1 order=0", 1, "p", fmt="perf-script")
    assert ev is not None and (ev.task, ev.pid) == (":-1", -1)
    ev = parse_line("         kswapd0    42 [000]    22.749645: kmem:mm_page_pcpu_drain: page=0x1c1d "
                    "pfn=0x101c1d order=0 migratetype=1 ffffffff8128f0a7 free_pcppages_bulk+0x1f7 "
                    "([kernel.kallsyms])", fmt="perf-script")
    assert ev is not None and ev.fields == {"pfn": 0x101C1D, "order": 0, "migratetype": 1}
    assert parse_line("# ========", fmt="perf-script") is None
    assert parse_line("", fmt="perf-script") is None


# ---------------------------------------------------------------------------- binary form


def test_binary_round_trip_equals_text(real_head: list[str], tmp_path: Path) -> None:
    """convert_trace writes a file that reads back to exactly the text's events (flags,
    text, line numbers), from any source format; the bytes are deterministic."""
    src = _write(tmp_path / "t.txt.xz", real_head)
    ref = list(read_trace(src))
    out = tmp_path / "t.patr"
    h = convert_trace(src, out)
    assert (h["events"], h["lines"], h["skipped"], h["source_format"], h["gfp_table"]) == (
        len(ref), len(real_head), 0, "ftrace", "7.2")
    assert out.read_bytes()[:8] == BINARY_MAGIC and detect_format(out) == "binary"
    assert list(read_trace(out)) == ref
    assert read_header(out)["markers"][0] == [25, "tracing_mark_write", "GT_SETUP_BEGIN frag"]
    assert ["gt_show", "GT_BUDDYDUMP id=1"] in [m[1:] for m in h["markers"]]
    assert os.path.getsize(out) < os.path.getsize(src) * 3
    out2 = tmp_path / "again.patr"
    convert_trace(src, out2)
    assert out2.read_bytes() == out.read_bytes()
    perf_text, _ = to_perf(real_head)
    perf = _write(tmp_path / "p.txt", perf_text)
    convert_trace(perf, tmp_path / "p.patr")
    assert list(read_trace(tmp_path / "p.patr")) == list(read_trace(perf))


def test_binary_keeps_lenient_skips(tmp_path: Path) -> None:
    """A lenient conversion records the bad lines: a lenient read skips them exactly as the
    text reader does, a strict read raises at the first with its line and field."""
    lines = [_line("init-1", FREE), _line("init-x", FREE), _line("init-1", ALLOC),
             _line("init-1", FREE.replace("order=0", "order=zz")), _line("cat-3", "gt_show: GT_BUDDYDUMP id=1")]
    src = _write(tmp_path / "t.txt", lines)
    out = tmp_path / "t.patr"
    h = convert_trace(src, out, lenient=True)
    assert h["skipped"] == 2 and [s[:2] for s in h["skipped_lines"]] == [[2, "pid"], [4, "order"]]
    sk_text: list[int] = []
    sk_bin: list[int] = []
    assert list(read_trace(out, lenient=True, skipped=sk_bin)) == list(read_trace(src, lenient=True, skipped=sk_text))
    assert sk_bin == sk_text == [2, 4]
    got: list[int] = []
    with pytest.raises(TraceFormatError) as ei:
        for ev in read_trace(out):
            got.append(ev.lineno)
    assert got == [1] and (ei.value.lineno, ei.value.field) == (2, "pid")
    with pytest.raises(TraceFormatError) as ei:
        convert_trace(src, tmp_path / "strict.patr")
    assert (ei.value.lineno, ei.value.field) == (2, "pid")
    assert not (tmp_path / "strict.patr").exists() and not (tmp_path / "strict.patr.tmp").exists()


def test_binary_gfp_table_must_match(tmp_path: Path) -> None:
    """gfp_flags were decoded with one kernel's names: reading with the other table fails."""
    src = _write(tmp_path / "t.txt", [_line("init-1", ALLOC)])
    convert_trace(src, tmp_path / "t.patr", GFP_TABLE_7_2)
    with pytest.raises(TraceFormatError, match="gfp_table|GFP table") as ei:
        list(read_trace(tmp_path / "t.patr", GFP_TABLE_6_1))
    assert ei.value.field == "gfp_table"
    assert len(list(read_converted(tmp_path / "t.patr", None))) == 1


@pytest.mark.parametrize("damage", ["truncate_header", "truncate_data", "bad_json", "bad_magic",
                                    "flip_blob", "wrong_version", "bad_layout"])
def test_damaged_binary_names_the_part(tmp_path: Path, damage: str) -> None:
    src = _write(tmp_path / "t.txt", [_line("init-1", ALLOC), _line("init-1", FREE)])
    out = tmp_path / "t.patr"
    h = convert_trace(src, out)
    data = out.read_bytes()
    (hlen,) = struct.unpack("<I", data[8:12])
    if damage == "truncate_header":
        data = data[:12 + hlen // 2]
    elif damage == "truncate_data":
        data = data[:-5]
    elif damage == "bad_json":
        data = data[:12] + b"[" + data[13:]
    elif damage == "bad_magic":
        data = b"X" + data[1:]
    elif damage == "flip_blob":
        data = data[:12 + hlen + 6] + bytes([data[12 + hlen + 6] ^ 0xFF]) + data[12 + hlen + 7:]
    else:
        head = data[12:12 + hlen].decode()
        head = head.replace('"version":1', '"version":9') if damage == "wrong_version" else \
            head.replace(f'"layouts":{h["layouts"]!s}'.replace(" ", "").replace("'", '"'), '"layouts":[["pfn"]]')
        enc = head.encode()
        data = data[:8] + struct.pack("<I", len(enc)) + enc + data[12 + hlen:]
    out.write_bytes(data)
    with pytest.raises(TraceFormatError) as ei:
        list(read_trace(out, fmt="binary"))
    assert ei.value.path == str(out)
    assert isinstance(ei.value, InputFormatError)


# ---------------------------------------------------------------------------- compression


FREE = "mm_page_free: page=ffffea00044c2f00 pfn=0x1130bc order=0"
ALLOC = ("mm_page_alloc: page=ffffea0004062200 pfn=0x101888 order=0 migratetype=1 "
         "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP")


def _line(task_pid: str, event: str, flags: str = "....." , ts: str = "5.583905") -> str:
    task, pid = task_pid.rsplit("-", 1)
    return f"{task:>16}-{pid:<7} [000] {flags} {ts:>12}: {event}"


MANY = [_line(f"task{i}-{i}", FREE if i % 2 else ALLOC, ts=f"{5 + i / 1000:.6f}") for i in range(3000)]


@pytest.mark.parametrize("suffix", [".xz", ".gz", ".bz2", ".zst"])
def test_truncated_compressed_input(tmp_path: Path, suffix: str) -> None:
    """A compressed file cut short raises TraceFormatError (field 'file') at the line it
    reached, after yielding the lines before; lenient does not hide it."""
    p = _write(tmp_path / f"t{suffix}", MANY)
    data = p.read_bytes()
    p.write_bytes(data[:len(data) // 2])
    for lenient in (False, True):
        got: list[int] = []
        with pytest.raises(TraceFormatError) as ei:
            for ev in read_trace(p, lenient=lenient):
                got.append(ev.lineno)
        e = ei.value
        assert (e.path, e.field) == (str(p), "file") and e.lineno >= 1
        assert got == list(range(1, len(got) + 1)) and len(got) < len(MANY)
        assert "truncated" in str(e)


@pytest.mark.parametrize("kind", ["xz", "gz", "bz2", "zst"])
def test_compression_by_magic_bytes(tmp_path: Path, kind: str) -> None:
    """The magic decides, whatever the name; the suffix is used only when there is none."""
    p = _write(tmp_path / f"x.{kind}", MANY[:10])
    q = tmp_path / "no-suffix-trace"
    q.write_bytes(p.read_bytes())
    assert compression(q) == kind
    assert [e.lineno for e in read_trace(q)] == list(range(1, 11))
    plain = tmp_path / f"plain.{kind}"
    plain.write_text("\n".join(MANY[:3]) + "\n")
    with pytest.raises(TraceFormatError) as ei:
        list(read_trace(plain))
    assert ei.value.field == "file"


@pytest.mark.parametrize("suffix", [".xz", ".gz", ".zst"])
def test_corrupt_compressed_data(tmp_path: Path, suffix: str) -> None:
    """A damaged byte in a checksummed stream (xz, gzip; zstd written with a checksum)
    raises TraceFormatError naming the file, not a decompressor exception."""
    p = _write(tmp_path / f"t{suffix}", MANY)
    if suffix == ".zst":
        text = "".join(ln + "\n" for ln in MANY).encode()
        p.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(text))
    damaged = bytearray(p.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    p.write_bytes(bytes(damaged))
    with pytest.raises(TraceFormatError) as ei:
        list(read_trace(p))
    assert ei.value.path == str(p) and ei.value.lineno >= 1


# ---------------------------------------------------------------------------- malformed lines


BAD = [
    # (format, line, field)
    ("trace-cmd", "            init-1     [000]     5.585209: mm_page_free:         page=0x1 pfn=0xZZ order=0", "pfn"),
    ("trace-cmd", "            init-1     [000]     5.585209: mm_page_free:         pfn=0x1", "order"),
    ("trace-cmd", "            init-x     [000]     5.585209: mm_page_free:         pfn=0x1 order=0", "pid"),
    ("trace-cmd", "            init-1     [0x0]     5.585209: mm_page_free: pfn=0x1 order=0", "cpu"),
    ("trace-cmd", "            init-1     [000]     5.58x209: mm_page_free: pfn=0x1 order=0", "timestamp"),
    ("trace-cmd", "            init-1     [000]     5.585209 mm_page_free pfn=0x1 order=0", "timestamp"),
    ("trace-cmd", "            init-1     [000", "cpu"),
    ("trace-cmd", "cpus=x", "cpu"),
    ("trace-cmd", "            init-1     [000]     5.585209: mm_page_alloc:        page=0x1 pfn=0x1 order=0 migratetype=1 gfp_flags=GFP_BOGUS", "gfp_flags"),
    ("trace-cmd", "            init-1     [000]     5.585209: mm_page_alloc:        pfn=0x1 order=0 gfp_flags=0x1ffffffffffffffff migratetype=1", "gfp_flags"),
    ("trace-cmd", "            init-1     [000]     5.585209: mm_page_free:         pfn=0x1ffffffffffffffff order=0", "pfn"),
    ("trace-cmd", "    init-1       0d..3     5.585209: mm_page_alloc_extfrag: pfn=0x17b000 alloc_order=0", "fallback_order"),
    ("perf-script", "            init     x [000]     5.585209: kmem:mm_page_free: page=0x1 pfn=0x1 order=0", "pid"),
    ("perf-script", "            init     1  000      5.585209: kmem:mm_page_free: page=0x1 pfn=0x1 order=0", "cpu"),
    ("perf-script", "            init     1 [0a0]     5.585209: kmem:mm_page_free: page=0x1 pfn=0x1 order=0", "cpu"),
    ("perf-script", "            init     1 [000]     5.58x209: kmem:mm_page_free: page=0x1 pfn=0x1 order=0", "timestamp"),
    ("perf-script", "            init     1 [000]     5.585209: kmem mm_page_free page=0x1 pfn=0x1 order=0", "event"),
    ("perf-script", "            init     1 [000]     5.585209: kmem:mm_page_free: page=0x1 pfn=0x1", "order"),
    ("perf-script", "            init     1 [000]     5.585209: kmem:mm_page_free: page=0x1 pfn=1_0 order=0", "pfn"),
    ("perf-script", "            init     1 [000]     5.585209: kmem:mm_page_pcpu_drain: page=0x1 pfn=0x1 order=0 migratetype=x", "migratetype"),
    ("perf-script", "            init     1 [000]     5.585209: kmem:mm_page_alloc: page=0x1 pfn=0x1 order=0 migratetype=0", "gfp_flags"),
    ("perf-script", "            init     1 [000]", "timestamp"),
    ("ftrace", "            init-1       [000] .....     5.585209: : x", "event"),
    ("ftrace", "            init-1       [000] .....     5.585209: mm_page_free: page=0 pfn=0x1 order=+1", "order"),
    ("ftrace", "            init-1       [000] .....     5.585209: mm_page_free: page=0 pfn=0x1 order=99999999999999999999", "order"),
    ("ftrace", "            init-1       [000] .....     5.58_5209: mm_page_free: page=0 pfn=0x1 order=0", "timestamp"),
    ("ftrace", "            init-١       [000] .....     5.585209: mm_page_free: page=0 pfn=0x1 order=0", "pid"),
]


@pytest.mark.parametrize("fmt,text,fieldname", BAD)
def test_malformed_lines_name_file_line_field(fmt: str, text: str, fieldname: str) -> None:
    with pytest.raises(TraceFormatError) as ei:
        parse_line(text, 7, "cap/trace.txt", fmt=fmt)
    e = ei.value
    assert (e.path, e.lineno, e.field) == ("cap/trace.txt", 7, fieldname)
    assert str(e).startswith(f"cap/trace.txt:7: field '{fieldname}': ")


@pytest.mark.parametrize("fmt", ["trace-cmd", "perf-script"])
def test_lenient_counts_bad_lines_in_every_format(tmp_path: Path, fmt: str) -> None:
    good = {"trace-cmd": "     kworker/0:1-12    [000]     5.585209: mm_page_free:         page=0x1 pfn=0x1 order=0",
            "perf-script": "     kworker/0:1    12 [000]     5.585209: kmem:mm_page_free: page=0x1 pfn=0x1 order=0"}[fmt]
    bad = [b for f, b, _ in BAD if f == fmt]
    lines = list(itertools.chain.from_iterable((good, b) for b in bad)) + [good[:30]]
    p = _write(tmp_path / "t.txt", lines)
    skipped: list[int] = []
    evs = list(read_trace(p, lenient=True, skipped=skipped, fmt=fmt))
    assert [e.lineno for e in evs] == list(range(1, 2 * len(bad), 2))
    assert skipped == list(range(2, 2 * len(bad) + 1, 2)) + [2 * len(bad) + 1]
    with pytest.raises(TraceFormatError) as ei:
        list(read_trace(p, fmt=fmt))
    assert ei.value.lineno == 2


def test_format_forcing_and_unknown_format(tmp_path: Path) -> None:
    p = _write(tmp_path / "t.txt", [_line("init-1", FREE)])
    assert detect_format(p) == "ftrace"
    assert len(list(read_trace(p, fmt="trace-cmd"))) == 1
    with pytest.raises(TraceFormatError) as ei:
        list(read_trace(p, fmt="perf-script"))
    assert ei.value.lineno == 1
    with pytest.raises(TraceFormatError, match="unknown trace format") as ei:
        list(read_trace(p, fmt="ctf"))
    assert ei.value.field == "format"
    with pytest.raises(TraceFormatError) as ei:
        list(read_trace(p, fmt="binary"))
    assert ei.value.field == "magic"
    assert set(FORMATS) == {"ftrace", "trace-cmd", "perf-script", "binary"}


@pytest.mark.parametrize("first,fmt", [
    ("# tracer: nop", "ftrace"),
    ("            init-1       [000] .....     5.583905: " + FREE, "ftrace"),
    ("            init-1       [000]      5.583905: " + FREE, "trace-cmd"),     # irq-info off: same parse
    ("version = 6", "trace-cmd"),
    ("cpus=2", "trace-cmd"),
    ("          <idle>-0     [000]       500000: mm_page_free:         page=0x1 pfn=0x1 order=0", "trace-cmd"),
    ("    init-1       0d..3     5.585209: mm_page_free: pfn=0x1 order=0", "trace-cmd"),
    ("    jbd2/vdc-8     150 [000]     5.585209: kmem:mm_page_free: page=0x1 pfn=0x1 order=0", "perf-script"),
    ("garbage", "ftrace"),
])
def test_detect_format(tmp_path: Path, first: str, fmt: str) -> None:
    """The first line that tells decides; comments and blank lines before it do not."""
    p = _write(tmp_path / "t.txt.gz", ["", "#", first, first])
    assert detect_format(p) == fmt


def test_tracecmd_integer_time_is_microseconds() -> None:
    """Below one second trace-cmd prints the time as ``%12llu`` microseconds."""
    ev = parse_line("          <idle>-0     [000]       500000: mm_page_free:         "
                    "page=0x1 pfn=0x1 order=0", fmt="trace-cmd")
    assert ev is not None and ev.ts == pytest.approx(0.5)


def test_cli_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``pagealloc convert TRACE OUT [--lenient]`` writes the binary form; a bad line stops
    it with status 2 and file:line: field, unless --lenient."""
    src = _write(tmp_path / "t.txt.gz", [_line("init-1", ALLOC), _line("init-x", FREE)])
    out = tmp_path / "t.patr"
    assert main(["convert", str(src), str(out)]) == 2
    assert f"{src}:2: field 'pid'" in capsys.readouterr().err
    assert main(["convert", str(src), str(out), "--lenient"]) == 0
    said = capsys.readouterr().out
    assert "1 events from 2 lines" in said and "1 skipped" in said
    assert [e.name for e in read_trace(out, lenient=True)] == ["mm_page_alloc"]
    assert main(["convert", str(src), str(tmp_path / "x.patr"), "--lenient", "--profile", "linux-6.1"]) == 0
    assert read_header(tmp_path / "x.patr")["gfp_table"] == "6.1"


def _spy_converted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the files read_trace reads through the converted-form reader."""
    from pagealloc.workload import tracebin
    seen: list[str] = []
    real = tracebin.read_converted

    def spy(path: Any, *a: Any, **k: Any) -> Any:
        seen.append(os.fspath(path))
        return real(path, *a, **k)

    monkeypatch.setattr(tracebin, "read_converted", spy)
    return seen


def _age(path: Path, seconds: int) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))


def test_read_trace_uses_a_matching_converted_sibling(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``pagealloc convert TRACE`` (no OUT) writes TRACE.patr; read_trace(TRACE) then reads
    it (same events) while it is not older than TRACE and its header records TRACE's name,
    size and SHA-256; for a compressed trace, trace.txt.patr is found too."""
    from pagealloc.workload.tracebin import converted_sibling, sibling_names
    src = _write(tmp_path / "trace.txt.xz", MANY[:200])
    ref = list(read_trace(src, use_converted=False))
    assert sibling_names(src) == [f"{src}.patr", str(tmp_path / "trace.txt.patr")]
    assert converted_sibling(src, GFP_TABLE_7_2) is None
    _age(src, 10)
    assert main(["convert", str(src)]) == 0
    capsys.readouterr()
    out = Path(f"{src}.patr")
    h = read_header(out)
    assert h["source_size"] == src.stat().st_size and len(h["source_sha256"]) == 64
    assert converted_sibling(src, GFP_TABLE_7_2) == str(out)
    seen = _spy_converted(monkeypatch)
    assert list(read_trace(src)) == ref and seen == [str(out)]
    assert list(read_trace(src, use_converted=False)) == ref and seen == [str(out)]
    # the other name, for a compressed trace
    out.rename(tmp_path / "trace.txt.patr")
    assert list(read_trace(src)) == ref and seen[-1] == str(tmp_path / "trace.txt.patr")


def test_read_trace_ignores_a_stale_or_foreign_converted_file(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The text is read when the converted file is older than it, was converted from other
    bytes (same name and size), with another GFP table, or left lines out (strict read:
    the text's error names the text)."""
    from pagealloc.workload.tracebin import converted_sibling
    seen = _spy_converted(monkeypatch)
    src = _write(tmp_path / "t.txt", MANY[:50])
    out = tmp_path / "t.txt.patr"
    _age(src, 10)
    convert_trace(src, out)
    assert converted_sibling(src, GFP_TABLE_7_2) == str(out)
    assert converted_sibling(src, GFP_TABLE_6_1) is None           # other table: the text
    assert len(list(read_trace(src, GFP_TABLE_6_1))) == 50 and seen == []
    _age(out, 20)                                                   # older than the text
    assert converted_sibling(src, GFP_TABLE_7_2) is None
    convert_trace(src, out)
    swapped = MANY[1:50] + MANY[:1]                                 # same size, other bytes
    _write(src, swapped)
    _age(src, 30)
    assert converted_sibling(src, GFP_TABLE_7_2) is None
    assert [e.lineno for e in read_trace(src)] == list(range(1, 51)) and seen == []
    assert next(read_trace(src)).pid == 1
    other = _write(tmp_path / "u.txt", swapped)                     # converted from another file
    convert_trace(other, out)
    assert converted_sibling(src, GFP_TABLE_7_2) is None
    bad = _write(tmp_path / "b.txt", [_line("init-1", ALLOC), _line("init-x", FREE)])
    _age(bad, 10)
    convert_trace(bad, tmp_path / "b.txt.patr", lenient=True)
    assert converted_sibling(bad, GFP_TABLE_7_2) is None
    with pytest.raises(TraceFormatError) as ei:
        list(read_trace(bad))
    assert ei.value.path == str(bad) and ei.value.lineno == 2
    assert converted_sibling(bad, GFP_TABLE_7_2, lenient=True) == str(tmp_path / "b.txt.patr")
    sk: list[int] = []
    assert len(list(read_trace(bad, lenient=True, skipped=sk))) == 1 and sk == [2]
    assert seen == [str(tmp_path / "b.txt.patr")]


# ---------------------------------------------------------------------------- fuzz

SAMPLES = [
    _line("kworker/0:1-12", ALLOC, "d..3."),
    _line("jbd2/vdc-8-150", "mm_page_alloc_extfrag: page=ffffea0005ec0000 pfn=0x17b000 alloc_order=0 "
          "fallback_order=10 pageblock_order=9 alloc_migratetype=0 fallback_migratetype=1 "
          "fragmenting=0 change_ownership=1"),
    _line("init-1", "tracing_mark_write: GT_PHASE x"),
    "     kworker/0:1-12    [000]     5.585209: mm_page_alloc_zone_locked: page=0x1 pfn=0x101e00 order=9 migratetype=1 percpu_refill=1",
    "    init-1       0d..3     5.585209: mm_page_free_batched: pfn=0x17b000",
    "             cat-355   [000]    17.159305: bprint:               gt_show: GT_BUDDYDUMP id=1",
    "     kworker/0:1    12 [000]     5.585209:          1 kmem:mm_page_pcpu_drain: page=0x1 pfn=0x101c1d order=0 migratetype=1",
    "            init     1/1 [000]     5.585209: ftrace:print: tracing_mark_write: GT_NOTE a: b=c d",
    "cpus=1",
    "         kswapd0    42 [000]    22.749645: kmem:mm_page_free: page=0x1 pfn=0x1 order=0 ffffffff8128f0a7 f+0x1 ([kernel.kallsyms])",
    "    init-1       0-0x11     5.585209: mm_page_alloc:        pfn=0xffffffffffffffff order=0 gfp_flags=0x152cca migratetype=1",
]


def _mutate(data: st.DataObject, line: str) -> str:
    kind = data.draw(st.sampled_from(["edit", "truncate", "swap", "insert", "delete", "dup"]))
    if not line:
        return data.draw(st.text(max_size=20))
    i = data.draw(st.integers(0, len(line) - 1))
    if kind == "edit":
        c = data.draw(st.characters(codec="utf-8") | st.sampled_from(list(" -[]:=.x0189afAF|#\t")))
        return line[:i] + c + line[i + 1:]
    if kind == "truncate":
        return line[:i]
    if kind == "insert":
        return line[:i] + data.draw(st.text(alphabet=" -[]:=.x0189|_", max_size=4)) + line[i:]
    if kind == "delete":
        return line[:i] + line[i + data.draw(st.integers(1, 8)):]
    toks = line.split(" ")
    a, b = data.draw(st.integers(0, len(toks) - 1)), data.draw(st.integers(0, len(toks) - 1))
    if kind == "swap":
        toks[a], toks[b] = toks[b], toks[a]
    else:
        toks.insert(a, toks[b])
    return " ".join(toks)


def _ends_cleanly(fn: Callable[[], object]) -> None:
    try:
        fn()
    except TraceFormatError as e:
        assert isinstance(e, InputFormatError) and e.path and e.field is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_lines_every_reader(data: st.DataObject) -> None:
    """Mutated lines (byte edits, truncations, token swaps and duplications) end in an
    event, None or a TraceFormatError in every text reader, never another exception."""
    line = data.draw(st.sampled_from(SAMPLES))
    for _ in range(data.draw(st.integers(1, 3))):
        line = _mutate(data, line)
    for fmt in ("ftrace", "trace-cmd", "perf-script"):
        for table in (GFP_TABLE_7_2, GFP_TABLE_6_1):
            _ends_cleanly(lambda: parse_line(line, 3, "fuzz", table, fmt=fmt))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_files_and_converted_files(tmp_path: Path, data: st.DataObject) -> None:
    """Whole files of mutated lines, plain or compressed, through format detection, lenient
    and strict reading and conversion; converted files with random byte damage."""
    lines = [_mutate(data, data.draw(st.sampled_from(SAMPLES))) for _ in range(data.draw(st.integers(1, 6)))]
    suffix = data.draw(st.sampled_from([".txt", ".xz", ".gz", ".zst"]))
    p = _write(tmp_path / f"f{suffix}", lines)
    if data.draw(st.booleans()):
        whole = p.read_bytes()
        p.write_bytes(whole[:data.draw(st.integers(0, len(whole)))])
    _ends_cleanly(lambda: list(read_trace(p)))
    _ends_cleanly(lambda: list(read_trace(p, lenient=True)))
    out = tmp_path / "f.patr"
    try:
        convert_trace(p, out, lenient=True)
    except TraceFormatError:
        return
    raw = bytearray(out.read_bytes())
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    out.write_bytes(bytes(raw))
    _ends_cleanly(lambda: list(read_trace(out, lenient=True)))
    _ends_cleanly(lambda: list(read_converted(out, None)))
