"""Tracepoint text in the kernel's format, and sinks that collect or write it.

Models the ``TP_printk`` formats of ``include/trace/events/kmem.h`` (Linux 7.2 and 6.1 print
the kmem events identically) and the ftrace line prefix of
``kernel/trace/trace_output.c`` (``%16s-%-7d [%03d] %s %5lu.%06lu: ``).  ``page=`` is
printed as the vmemmap address ``0xffffea0000000000 + 64 * pfn``, which is what the
real traces show with ``no_hash_pointers``.

The model emits events as ``(name, cpu, args)`` with integer args in this order:

===========================  =======================================================
``mm_page_alloc``            pfn (-1 on failure), order, migratetype, gfp_flags
``mm_page_free``             pfn, order
``mm_page_free_batched``     pfn
``mm_page_alloc_zone_locked`` pfn, order, migratetype, percpu_refill
``mm_page_pcpu_drain``       pfn, order, migratetype
``mm_page_alloc_extfrag``    pfn, alloc_order, fallback_order, alloc_mt, fallback_mt,
                             change_ownership
``mm_vmscan_wakeup_kswapd``  nid, zid, order, gfp_flags
``mm_vmscan_kswapd_wake``    nid, zid (highest_zoneidx), order
``mm_vmscan_kswapd_sleep``   nid
``console``                  the text of one printk() line (OOM and allocation-failure
                             reports with the show_mem buddy dump)
``mm_migrate_pages``         succeeded, failed, thp_succeeded, thp_failed, thp_split,
                             large_folio_split, mode, reason (include/trace/events/migrate.h)
===========================  =======================================================

Compaction events (include/trace/events/compaction.h, Linux 7.2; ``zone`` is the zone
index, printed with ``ZONE_TYPE``, ``status``/``ret`` with ``COMPACTION_STATUS``):

==========================================  ============================================
``mm_compaction_isolate_migratepages``      start_pfn, end_pfn, nr_scanned, nr_taken
``mm_compaction_isolate_freepages``         start_pfn, end_pfn, nr_scanned, nr_taken
``mm_compaction_fast_isolate_freepages``    start_pfn, end_pfn, nr_scanned, nr_taken
``mm_compaction_migratepages``              nr_migratepages, nr_succeeded
``mm_compaction_begin``                     zone_start, migrate_pfn, free_pfn, zone_end, sync
``mm_compaction_end``                       zone_start, migrate_pfn, free_pfn, zone_end, sync,
                                            status
``mm_compaction_try_to_compact_pages``      order, gfp_mask, prio
``mm_compaction_finished``                  nid, zone, order, ret
``mm_compaction_suitable``                  nid, zone, order, ret
``mm_compaction_deferred``                  nid, zone, order, considered, defer_shift,
                                            order_failed
``mm_compaction_defer_compaction``          (as mm_compaction_deferred)
``mm_compaction_defer_reset``               (as mm_compaction_deferred)
``mm_compaction_kcompactd_sleep``           nid
``mm_compaction_wakeup_kcompactd``          nid, order, highest_zoneidx
``mm_compaction_kcompactd_wake``            nid, order, highest_zoneidx
==========================================  ============================================
"""

from __future__ import annotations

from typing import Callable, TextIO

from pagealloc.mm.gfp import GFP_TABLE_7_2, GfpTable, show_gfp_flags
from pagealloc.mm.migrate import MIGRATE_MODE_NAMES, MIGRATE_REASON_NAMES

VMEMMAP_BASE = 0xFFFFEA0000000000
PAGEBLOCK_ORDER = 9


def page_ptr(pfn: int) -> str:
    """``%p`` of ``pfn_to_page(pfn)`` (unhashed), or the NULL page."""
    if pfn < 0:
        return "0000000000000000"
    return f"{VMEMMAP_BASE + 64 * pfn:016x}"


def format_event(name: str, args: tuple[int, ...], table: GfpTable = GFP_TABLE_7_2) -> str:
    """The event part of a trace line, ``<name>: <fields>``, as the kernel prints it."""
    if name == "mm_page_alloc":
        pfn, order, mt, gfp = args
        return (f"mm_page_alloc: page={page_ptr(pfn)} pfn=0x{max(pfn, 0):x} order={order} "
                f"migratetype={mt} gfp_flags={show_gfp_flags(gfp, table)}")
    if name == "mm_page_free":
        pfn, order = args
        return f"mm_page_free: page={page_ptr(pfn)} pfn=0x{pfn:x} order={order}"
    if name == "mm_page_free_batched":
        (pfn,) = args
        return f"mm_page_free_batched: page={page_ptr(pfn)} pfn=0x{pfn:x} order=0"
    if name == "mm_page_alloc_zone_locked":
        pfn, order, mt, refill = args
        return (f"mm_page_alloc_zone_locked: page={page_ptr(pfn)} pfn=0x{max(pfn, 0):x} "
                f"order={order} migratetype={mt} percpu_refill={refill}")
    if name == "mm_page_pcpu_drain":
        pfn, order, mt = args
        return (f"mm_page_pcpu_drain: page={page_ptr(pfn)} pfn=0x{pfn:x} order={order} "
                f"migratetype={mt}")
    if name == "mm_page_alloc_extfrag":
        pfn, alloc_order, fallback_order, alloc_mt, fallback_mt, change = args
        return (f"mm_page_alloc_extfrag: page={page_ptr(pfn)} pfn=0x{pfn:x} "
                f"alloc_order={alloc_order} fallback_order={fallback_order} "
                f"pageblock_order={PAGEBLOCK_ORDER} alloc_migratetype={alloc_mt} "
                f"fallback_migratetype={fallback_mt} "
                f"fragmenting={1 if fallback_order < PAGEBLOCK_ORDER else 0} "
                f"change_ownership={change}")
    if name == "mm_vmscan_wakeup_kswapd":
        nid, _zid, order, gfp = args            # include/trace/events/vmscan.h: no zid since v5.4
        return (f"mm_vmscan_wakeup_kswapd: nid={nid} order={order} "
                f"gfp_flags={show_gfp_flags(gfp, table)}")
    if name == "mm_vmscan_kswapd_wake":      # include/trace/events/vmscan.h
        nid, _zid, order = args
        return f"mm_vmscan_kswapd_wake: nid={nid} order={order}"
    if name == "mm_vmscan_kswapd_sleep":
        return f"mm_vmscan_kswapd_sleep: nid={args[0]}"
    if name == "console":                     # printk:console, TP_printk("%s", msg)
        return f"console: {args[0]}"
    if name.startswith("mm_compaction_"):
        return format_compaction_event(name, args, table)
    if name == "mm_migrate_pages":
        ok, failed, thp_ok, thp_failed, thp_split, split, mode, reason = args
        return (f"mm_migrate_pages: nr_succeeded={ok} nr_failed={failed} "
                f"nr_thp_succeeded={thp_ok} nr_thp_failed={thp_failed} "
                f"nr_thp_split={thp_split} nr_split={split} mode={MIGRATE_MODE_NAMES[mode]} "
                f"reason={MIGRATE_REASON_NAMES[reason]}")
    return f"{name}: " + " ".join(str(a) for a in args)


#: COMPACTION_STATUS (include/trace/events/mmflags.h) by enum compact_result value
_COMPACTION_STATUS = {1: "skipped", 2: "deferred", 4: "continue", 8: "success",
                      6: "partial_skipped", 5: "complete", 3: "no_suitable_page",
                      0: "not_suitable_zone", 7: "contended"}
#: ZONE_TYPE (include/trace/events/mmflags.h) on x86-64: no HighMem
_ZONE_TYPE = {0: "DMA", 1: "DMA32", 2: "Normal", 3: "Movable"}


def _symbolic(value: int, table: dict[int, str]) -> str:
    """``__print_symbolic()``: the name, or the value in hex when it has none."""
    return table.get(value, f"0x{value & 0xFFFFFFFFFFFFFFFF:x}")


def format_compaction_event(name: str, args: tuple[int, ...],
                            table: GfpTable = GFP_TABLE_7_2) -> str:
    """The ``TP_printk`` of the compaction events (include/trace/events/compaction.h)."""
    if name in ("mm_compaction_isolate_migratepages", "mm_compaction_isolate_freepages",
                "mm_compaction_fast_isolate_freepages"):
        start, end, scanned, taken = args
        return f"{name}: range=(0x{start:x} ~ 0x{end:x}) nr_scanned={scanned} nr_taken={taken}"
    if name == "mm_compaction_migratepages":
        nr_migratepages, nr_succeeded = args
        failed = (nr_migratepages - nr_succeeded) & 0xFFFFFFFF   # unsigned int arithmetic
        return f"{name}: nr_migrated={nr_succeeded} nr_failed={failed}"
    if name in ("mm_compaction_begin", "mm_compaction_end"):
        zone_start, migrate_pfn, free_pfn, zone_end, sync = args[:5]
        out = (f"{name}: zone_start=0x{zone_start:x} migrate_pfn=0x{migrate_pfn:x} "
               f"free_pfn=0x{free_pfn:x} zone_end=0x{zone_end:x}, "
               f"mode={'sync' if sync else 'async'}")
        if name == "mm_compaction_end":
            out += f" status={_symbolic(args[5], _COMPACTION_STATUS)}"
        return out
    if name == "mm_compaction_try_to_compact_pages":
        order, gfp, prio = args
        return f"{name}: order={order} gfp_mask={show_gfp_flags(gfp, table)} priority={prio}"
    if name in ("mm_compaction_finished", "mm_compaction_suitable"):
        nid, zone, order, ret = args
        return (f"{name}: node={nid} zone={_symbolic(zone, _ZONE_TYPE):<8} order={order} "
                f"ret={_symbolic(ret, _COMPACTION_STATUS)}")
    if name in ("mm_compaction_deferred", "mm_compaction_defer_compaction",
                "mm_compaction_defer_reset"):
        nid, zone, order, considered, defer_shift, order_failed = args
        return (f"{name}: node={nid} zone={_symbolic(zone, _ZONE_TYPE):<8} order={order} "
                f"order_failed={order_failed} consider={considered} limit={1 << defer_shift}")
    if name == "mm_compaction_kcompactd_sleep":
        (nid,) = args
        return f"{name}: nid={nid}"
    if name in ("mm_compaction_wakeup_kcompactd", "mm_compaction_kcompactd_wake"):
        nid, order, hz = args
        return f"{name}: nid={nid} order={order} classzone_idx={_symbolic(hz, _ZONE_TYPE):<8}"
    return f"{name}: " + " ".join(str(a) for a in args)


def format_line(task: str, pid: int, cpu: int, flags: str, ts_ns: int, event: str) -> str:
    """An ftrace ``trace`` line: ``<task>-<pid> [<cpu>] <flags> <sec>.<usec>: <event>``."""
    us = (ts_ns + 500) // 1000          # ns2usecs() rounds to the nearest microsecond
    return f"{task:>16}-{pid:<7} [{cpu:03d}] {flags} {us // 1_000_000:5d}.{us % 1_000_000:06d}: {event}"


class TraceRecorder:
    """A sink keeping every event as ``(name, cpu, args)`` (for tests and replay checks)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, tuple[int, ...]]] = []

    def __call__(self, name: str, cpu: int, args: tuple[int, ...]) -> None:
        self.events.append((name, cpu, args))

    def names(self) -> list[str]:
        return [e[0] for e in self.events]


class TraceWriter:
    """A sink writing ftrace-format lines; time comes from ``clock()`` (model nanoseconds)."""

    def __init__(self, out: TextIO, clock: Callable[[], int], table: GfpTable = GFP_TABLE_7_2,
                 task: str = "pagealloc", pid: int = 1) -> None:
        self.out = out
        self.clock = clock
        self.table = table
        self.task = task
        self.pid = pid
        self.lines = 0

    def __call__(self, name: str, cpu: int, args: tuple[int, ...]) -> None:
        self.out.write(format_line(self.task, self.pid, cpu, ".....", self.clock(),
                                   format_event(name, args, self.table)) + "\n")
        self.lines += 1
