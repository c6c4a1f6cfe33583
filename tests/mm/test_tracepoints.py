"""Tracepoint text (pagealloc.mm.tracepoints) against what real 6.1 and 7.2 kernels printed.

The kmem events are rebuilt from the parsed fields of real trace lines, in the argument
order documented in the module docstring of :mod:`pagealloc.mm.tracepoints`, and must come
out byte for byte as the kernel printed them (``TP_printk`` of include/trace/events/kmem.h,
the ``trace_print_context()`` prefix of kernel/trace/trace_output.c).
"""
from __future__ import annotations

import io
import lzma
import re
from pathlib import Path

import pytest

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.gfp import GFP_TABLE_6_1, GFP_TABLE_7_2, GfpTable
from pagealloc.mm.tracepoints import (
    TraceRecorder,
    TraceWriter,
    format_event,
    format_line,
    page_ptr,
)
from pagealloc.workload.ftrace import KMEM_EVENTS, parse_line

#: argument order of each kmem event, as the tracepoints module docstring documents it
ARG_ORDER: dict[str, tuple[str, ...]] = {
    "mm_page_alloc": ("pfn", "order", "migratetype", "gfp_flags"),
    "mm_page_free": ("pfn", "order"),
    "mm_page_free_batched": ("pfn",),
    "mm_page_alloc_zone_locked": ("pfn", "order", "migratetype", "percpu_refill"),
    "mm_page_pcpu_drain": ("pfn", "order", "migratetype"),
    "mm_page_alloc_extfrag": ("pfn", "alloc_order", "fallback_order", "alloc_migratetype",
                              "fallback_migratetype", "change_ownership"),
}

N_PER_TYPE = 150        # first N lines of each kmem event type
N_EXTFRAG = 20          # extfrag is rare: 40 lines in 7.2 frag, 29 in 6.1 frag
N_FAILED = 20           # failed allocations (page=0000000000000000 pfn=0x0), 7.2 frag only

_EVENT_RE = re.compile(r"\] \S* +\d+\.\d{6}: (mm_page_\w+): ")


def _sample(path: Path, want_failed: int) -> list[tuple[int, str]]:
    """First N_PER_TYPE (N_EXTFRAG) lines of each kmem event, every new gfp string, and failed allocs.

    Reads the decompressed trace (the same text as ``xz -dc <path>``) only as far as needed.
    """
    want = dict.fromkeys(KMEM_EVENTS, N_PER_TYPE)
    want["mm_page_alloc_extfrag"] = N_EXTFRAG
    counts = dict.fromkeys(KMEM_EVENTS, 0)
    failed = 0
    gfps: set[str] = set()
    out: list[tuple[int, str]] = []
    with lzma.open(path, "rt") as fh:
        for lineno, line in enumerate(fh, 1):
            if "mm_page_" not in line:
                continue
            m = _EVENT_RE.search(line)
            if m is None:
                continue
            name = m.group(1)
            line = line.rstrip("\n")
            keep = counts[name] < want[name]
            if name == "mm_page_alloc":
                g = line.rsplit("gfp_flags=", 1)[1]
                if g not in gfps:
                    gfps.add(g)
                    keep = True
                if "page=0000000000000000" in line and failed < want_failed:
                    failed += 1
                    keep = True
            if keep:
                counts[name] += 1
                out.append((lineno, line))
            if failed >= want_failed and all(counts[k] >= want[k] for k in want):
                break
    assert all(counts[k] >= want[k] for k in want), counts
    assert failed == want_failed
    return out


@pytest.fixture(scope="module")
def samples(traces_dir: Path) -> dict[str, tuple[GfpTable, list[tuple[int, str]]]]:
    return {
        "7.2": (GFP_TABLE_7_2, _sample(traces_dir / "linux-7.2" / "frag" / "trace.txt.xz", N_FAILED)),
        "6.1": (GFP_TABLE_6_1, _sample(traces_dir / "linux-6.1" / "frag" / "trace.txt.xz", 0)),
    }


def _ts_ns(line: str) -> int:
    """The line's timestamp (seconds.microseconds) as exact nanoseconds."""
    tok = line[line.index("]") + 1:].split()[1].rstrip(":")
    sec, usec = tok.split(".")
    assert len(usec) == 6
    return (int(sec) * 1_000_000 + int(usec)) * 1000


def _event_text(line: str) -> str:
    """The text after the ftrace prefix: ``<name>: <fields>``."""
    m = re.search(r" \d+\.\d{6}: ", line)
    assert m is not None
    return line[m.end():]


@pytest.mark.parametrize("kernel", ["7.2", "6.1"])
def test_format_event_reproduces_real_kmem_lines(samples, kernel: str) -> None:  # type: ignore[no-untyped-def]
    """``format_event`` prints every kmem event exactly as the real kernel's TP_printk did
    (page=%p as vmemmap address, pfn=0x%lx, symbolic gfp_flags with that kernel's
    show_gfp_flags table, extfrag's computed pageblock_order and fragmenting)."""
    table, lines = samples[kernel]
    seen = set()
    for lineno, line in lines:
        ev = parse_line(line, lineno, f"linux-{kernel}/frag", table)
        assert ev is not None and ev.name in ARG_ORDER
        args = tuple(ev.fields[f] for f in ARG_ORDER[ev.name])
        assert format_event(ev.name, args, table) == _event_text(line), (kernel, lineno)
        seen.add(ev.name)
    assert seen == set(KMEM_EVENTS)


@pytest.mark.parametrize("kernel", ["7.2", "6.1"])
def test_format_line_reproduces_real_lines(samples, kernel: str) -> None:  # type: ignore[no-untyped-def]
    """``format_line`` rebuilds the whole line: ``%16s-%-7d [%03d] <flags> %5lu.%06lu: `` with
    task, pid, cpu, the 5 irq-info flag characters and the microsecond timestamp."""
    table, lines = samples[kernel]
    for lineno, line in lines:
        ev = parse_line(line, lineno, "trace", table)
        assert ev is not None
        ns = _ts_ns(line)
        assert round(ev.ts * 1_000_000) * 1000 == ns
        args = tuple(ev.fields[f] for f in ARG_ORDER[ev.name])
        got = format_line(ev.task, ev.pid, ev.cpu, ev.flags, ns, format_event(ev.name, args, table))
        assert got == line, (kernel, lineno)


def test_failed_allocation_prints_null_page_and_pfn_zero(samples) -> None:  # type: ignore[no-untyped-def]
    """A failed ``mm_page_alloc`` (pfn -1 in the model) prints ``page=0000000000000000
    pfn=0x0``: kmem.h prints NULL and 0 when ``pfn == -1UL`` (82 such lines in 7.2 frag)."""
    table, lines = samples["7.2"]
    failed = [(n, ln) for n, ln in lines if "page=0000000000000000" in ln]
    assert len(failed) == N_FAILED
    for lineno, line in failed:
        ev = parse_line(line, lineno, "trace", table)
        assert ev is not None and ev.fields["pfn"] == -1
        assert ev.fields["order"] == 9
        args = (ev.fields["pfn"], ev.fields["order"], ev.fields["migratetype"], ev.fields["gfp_flags"])
        text = format_event("mm_page_alloc", args, table)
        assert text == _event_text(line)
        assert "page=0000000000000000 pfn=0x0 " in text
    # the two THP attempts of a fault that fell back (traces README section 7)
    gfps = {parse_line(ln, n, "t", table).fields["gfp_flags"] for n, ln in failed}  # type: ignore[union-attr]
    assert G.GFP_TRANSHUGE in gfps
    assert G.GFP_TRANSHUGE | G.__GFP_NORETRY | G.__GFP_THISNODE in gfps


def test_extfrag_line_exact() -> None:
    """One real 7.2 extfrag line (traces README section 7), rebuilt from its arguments:
    pageblock_order=9 and fragmenting=(fallback_order < pageblock_order) are computed."""
    real = ("            init-1       [000] d..3.    10.196727: mm_page_alloc_extfrag: "
            "page=ffffea0005ec0000 pfn=0x17b000 alloc_order=0 fallback_order=10 pageblock_order=9 "
            "alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1")
    ev = format_event("mm_page_alloc_extfrag", (0x17B000, 0, 10, 0, 1, 1))
    assert format_line("init", 1, 0, "d..3.", 10_196_727_000, ev) == real
    # a fallback below pageblock order fragments
    frag = format_event("mm_page_alloc_extfrag", (0x17B000, 0, 3, 0, 1, 0))
    assert "fallback_order=3 pageblock_order=9" in frag and "fragmenting=1 change_ownership=0" in frag


def _print_fmt_table(format_text: str) -> list[tuple[int, str]]:
    """The ``__print_flags`` table of an ``mm_page_alloc`` tracefs format file, evaluated."""
    fmt = format_text[format_text.index("print fmt:"):]
    body = fmt[fmt.index("__print_flags("):]
    out = []
    for expr, name in re.findall(r'\{\s*\( unsigned long\)(.*?), "(\w+)"\}', body):
        e = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr.replace("( gfp_t)", ""))
        assert re.fullmatch(r"[0-9a-fA-Fx()|&~<> ]+", e), e
        out.append((eval(e, {"__builtins__": {}}), name))  # noqa: S307 - digits and operators only
    return out


@pytest.mark.parametrize("kernel,table", [("7.2", GFP_TABLE_7_2), ("6.1", GFP_TABLE_6_1)])
def test_gfp_table_is_the_kernels_print_fmt_table(traces_dir: Path, kernel: str, table: GfpTable) -> None:
    """The show_gfp_flags table (masks, names and their order, which decides the rendering)
    equals the one compiled into the real kernel's mm_page_alloc ``print fmt``."""
    fmt = (traces_dir / f"linux-{kernel}" / "frag" / "event_formats" / "mm_page_alloc.format").read_text()
    assert _print_fmt_table(fmt) == [tuple(e) for e in table.entries]


def test_page_pointer_is_unhashed_vmemmap_address() -> None:
    """``page=%p`` with no_hash_pointers is ``vmemmap_base + 64 * pfn`` (nokaslr base)."""
    assert page_ptr(0x1130BC) == "ffffea00044c2f00"
    assert page_ptr(0) == "ffffea0000000000"
    assert page_ptr(-1) == "0000000000000000"


def test_timestamp_rounds_to_nearest_microsecond() -> None:
    """kernel/trace/trace_output.c trace_print_time(): ``t = ns2usecs(ts)`` where
    ns2usecs() adds 500 ns before dividing, so 1.999999500 s prints as 2.000000."""
    assert format_line("t", 1, 0, ".....", 1_999_999_499, "x: y").endswith("     1.999999: x: y")
    assert format_line("t", 1, 0, ".....", 1_999_999_500, "x: y").endswith("     2.000000: x: y")
    assert format_line("t", 1, 0, ".....", 5_583_905_499, "x: y").endswith("     5.583905: x: y")
    assert format_line("t", 1, 0, ".....", 5_583_905_500, "x: y").endswith("     5.583906: x: y")


def test_wakeup_kswapd_format() -> None:
    """include/trace/events/vmscan.h: mm_vmscan_wakeup_kswapd records zid but prints
    ``nid=%d order=%d gfp_flags=%s`` (zid dropped from the output in 2019, commit
    3b775998eca7 "include/trace/events/vmscan.h: drop zone id from kswapd tracepoints")."""
    assert (format_event("mm_vmscan_wakeup_kswapd", (0, 2, 3, G.GFP_KERNEL))
            == "mm_vmscan_wakeup_kswapd: nid=0 order=3 gfp_flags=GFP_KERNEL")


def _small_machine_trace(profile: str) -> tuple[Machine, TraceWriter, TraceRecorder, io.StringIO]:
    m = Machine(memory="256M", cpus=2, profile=profile)
    buf = io.StringIO()
    table = m.profile.gfp_table
    w = TraceWriter(buf, lambda: m.now_ns, table)
    rec = TraceRecorder()
    m.attach(w)
    m.attach(rec)
    return m, w, rec, buf


@pytest.mark.parametrize("profile", ["linux-7.2", "linux-6.1"])
def test_trace_writer_alloc_free_round_trip(profile: str) -> None:
    """A TraceWriter on a Machine writes one ftrace line per event; mm_page_alloc and
    mm_page_free lines parse back (parse_line, same gfp table) to the pfn and order of the
    request, with the request's gfp_flags and migratetype and the model clock as timestamp."""
    m, w, rec, buf = _small_machine_trace(profile)
    table = m.profile.gfp_table
    reqs = [("GFP_KERNEL", 0, 0, 0), ("GFP_HIGHUSER_MOVABLE", 0, 1, 1), ("GFP_KERNEL", 3, 0, 0),
            ("GFP_TRANSHUGE", 9, 1, 1), (G.GFP_KERNEL | G.__GFP_RECLAIMABLE, 1, 2, 1)]
    got: list[tuple[int, int]] = []
    for gfp, order, _mt, cpu in reqs:
        m.tick(0.25)
        pfn = m.alloc_pages(gfp, order, cpu)
        assert pfn is not None
        got.append((pfn, order))
    m.tick(0.5)
    for (pfn, order), (_g, _o, _mt, cpu) in zip(got, reqs):
        m.free_pages(pfn, order, cpu)
    lines = buf.getvalue().splitlines()
    assert len(lines) == w.lines == len(rec.events)
    evs = [parse_line(ln, i, "writer", table) for i, ln in enumerate(lines, 1)]
    assert all(e is not None for e in evs)
    # every line is exactly what format_line/format_event make of the recorded event
    for ln, ev, (name, cpu, args) in zip(lines, evs, rec.events):
        assert ev.name == name and ev.cpu == cpu and ev.task == "pagealloc" and ev.pid == 1
        assert ln.endswith(format_event(name, args, table))
    allocs = [e for e in evs if e.name == "mm_page_alloc"]
    frees = [e for e in evs if e.name == "mm_page_free"]
    assert [(e.fields["pfn"], e.fields["order"]) for e in allocs] == got
    assert [(e.fields["pfn"], e.fields["order"]) for e in frees] == got
    for e, (gfp, _order, mt, cpu) in zip(allocs, reqs):
        assert e.fields["gfp_flags"] == m.parse_gfp(gfp)
        assert e.fields["migratetype"] == mt
        assert e.cpu == cpu
    assert [round(e.ts, 6) for e in allocs] == [0.25, 0.5, 0.75, 1.0, 1.25]
    assert all(round(e.ts, 6) == 1.75 for e in frees)


def test_vmscan_and_console_event_formats() -> None:
    """include/trace/events/vmscan.h and printk:console TP_printk text."""
    from pagealloc.mm.tracepoints import format_event
    assert format_event("mm_vmscan_kswapd_wake", (0, 2, 3)) == "mm_vmscan_kswapd_wake: nid=0 order=3"
    assert format_event("mm_vmscan_kswapd_sleep", (0,)) == "mm_vmscan_kswapd_sleep: nid=0"
    assert format_event("console", ("Mem-Info:",)) == "console: Mem-Info:"  # type: ignore[arg-type]
    assert format_event("mm_migrate_pages", (3, 1, 0, 0, 0, 0, 2, 0)) == (
        "mm_migrate_pages: nr_succeeded=3 nr_failed=1 nr_thp_succeeded=0 nr_thp_failed=0 "
        "nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=compaction")
