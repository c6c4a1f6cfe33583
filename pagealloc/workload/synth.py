"""Synthetic captures: the model writes a capture directory whose ground truth is known.

A real capture (``../shared/traces``, ``pagealloc capture``) is a trace plus exact dumps of
the kernel's allocator state; the replays (:mod:`pagealloc.workload.replay`,
:mod:`pagealloc.workload.decide`, :mod:`pagealloc.workload.fidelity`) measure the model
against it.  Here the model plays the kernel: it runs a workload with its tracepoint sink on
and writes the same layout, so a replay of the result replays the model itself, with every
decision known, on any number of CPUs (the shared real captures all have one vCPU).

* :func:`write_buddydump` writes a machine's state as a ``gt_buddydump`` (the exact inverse
  of :func:`pagealloc.workload.snapshot.parse_buddydump`, 7.2 or 6.1 variant: header, ``Z``
  lines, ``B`` lines, free lists in list order, per CPU a ``C`` line and its pcp ``P`` lines).
* :func:`kpageflags_array` is what ``/proc/kpageflags`` would read for the machine
  (``KPF_BUDDY`` on every page of a free block, ``KPF_LRU`` on movable pages, compound
  head/tail bits, ``KPF_RESERVED``, ``KPF_NOPAGE`` on holes), which
  :func:`pagealloc.workload.state.machine_from_dump` reads back beside a dump to classify
  in-use pages (movable pages count in the claim heuristic).
* :func:`synth_capture` runs a workload (the tuples of :mod:`pagealloc.workload.mixed`:
  ``(OP_ALLOC, gfp, order, cpu)``, ``(OP_FREE, slot, order, cpu)``) and writes
  ``trace.txt`` (ftrace text: the standard header with ``#P:<cpus>``, one line per
  tracepoint with the CPU that ran the request in its ``[cpu]`` field), the markers of the
  shared captures around every dump (``GT_SNAPSHOT_<name>_BEGIN``, ``gt_show: GT_BUDDYDUMP
  id=N``, ``GT_SNAPSHOT_<name>_END``, ``GT_WORKLOAD_BEGIN/END``), a ``snap_*`` directory per
  dump (``gt_buddydump``, ``kpageflags.xz``, ``buddyinfo``, ``pagetypeinfo``, ``zoneinfo``),
  a dump at the start, every ``dumps_every`` kmem events and at the end, and
  ``version.txt``, ``iomem.txt``, ``sysctl_vm/`` and ``summary.json`` (with the ``dumps``
  list that :func:`pagealloc.workload.replay.dump_snapshots` reads).  Deterministic: the same
  machine and workload give byte-identical files.

    pagealloc synth OUT [--memory 1G] [--cpus 4] [--events 20000] [--seed 1]
        [--dumps-every 5000] [--profile linux-7.2|linux-6.1] [--untraced N] [--warmup N]
        [--batch-frees N] [--tick --step-us US] [--set FIELD=VALUE]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import lzma
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, TextIO

import numpy as np

from pagealloc.machine import Machine
from pagealloc.mm.freetype import MIGRATE_CMA, MIGRATE_ISOLATE, MIGRATE_TYPES
from pagealloc.mm.mmzone import (
    KIND_COMPOUND,
    KIND_MOVABLE,
    NR_PAGE_ORDERS,
    ORDER_MASK,
    PAGEBLOCK_ORDER,
    PB_COMPACT_SKIP,
    PB_MIGRATE_ISOLATE,
    PS_ALLOC,
    PS_BUDDY,
    PS_HOLE,
    PS_MASK,
    PS_RESERVED,
)
from pagealloc.mm.tracepoints import format_event, format_line
from pagealloc.workload.mixed import OP_ALLOC, MixedSpec, mixed_stream
from pagealloc.workload.snapshot import decode_pindex

__all__ = [
    "buddydump_text",
    "write_buddydump",
    "kpageflags_array",
    "write_snapshot",
    "SynthResult",
    "synth_capture",
    "synth_mixed",
    "add_parser",
    "cmd_synth",
    "main",
]

#: ``/proc/version`` of the kernels the dump variants stand for (fidelity picks the profile
#: from it)
VERSION_TEXT = {
    "7.2": "Linux version 7.2.13-pagealloc-synth (pagealloc synth) #1 SMP PREEMPT_DYNAMIC\n",
    "6.1": "Linux version 6.1.192-pagealloc-synth (pagealloc synth) #1 SMP PREEMPT_DYNAMIC\n",
}
_HEADER_72 = ("kernel=7.x max_page_order={mpo} nr_loworder_pcp_lists=12 migrate_types=6 "
              "nr_pageblock_bits=8 pb_isolate_bit=4 pb_compact_skip_bit=3 hpage_pmd_order=9")
#: 6.1 numbers Isolate 4 in ``B`` and ``F`` lines (no CMA type)
_ISOLATE_61 = 4
_NR_PCP_LISTS = 14
_NR_LOWORDER = 12

# /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h)
KPF_LRU = 5
KPF_BUDDY = 10
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_NOPAGE = 20
KPF_RESERVED = 32


# ---------------------------------------------------------------------- the dump writer
def _check_kernel(m: Machine, kernel: str) -> None:
    if kernel not in ("7.2", "6.1"):
        raise ValueError(f"kernel {kernel!r}: the dump format has variants 7.2 and 6.1")
    if m.profile.kernel != kernel:
        raise ValueError(f"a {kernel} dump of a machine with profile {m.profile.name} "
                         f"(kernel {m.profile.kernel}) would not load back as the same state")


def buddydump_text(m: Machine, dump_id: int, kernel: str = "7.2") -> str:
    """The ``gt_buddydump`` text of ``m``'s state (traces README section 6).

    Raises ValueError for state the format cannot hold: free blocks on the series'
    UNMOVABLE|UNMAPPED list, pages on pcp lists past the 14 upstream ones, CMA on 6.1."""
    _check_kernel(m, kernel)
    is72 = kernel == "7.2"
    out: list[str] = []
    head = f"# gt_buddydump id={dump_id} pageblock_order={PAGEBLOCK_ORDER} " \
           f"max_order={NR_PAGE_ORDERS} nr_pcp_lists={_NR_PCP_LISTS}"
    if is72:
        head += " " + _HEADER_72.format(mpo=NR_PAGE_ORDERS - 1)
    out.append(head)
    mem = m.mem
    isolate_bit = m.profile.isolate_bit
    for z in m.zones:
        if not z.present_pages:
            continue
        zl = (f"Z {z.node} {z.name} start_pfn={z.zone_start_pfn:x} end_pfn={z.zone_end_pfn:x} "
              f"present={z.present_pages} managed={z.managed_pages} nr_free={z.vm_nr_free_pages} "
              f"wmark_min={z.min_wmark_pages()} wmark_low={z.low_wmark_pages()} "
              f"wmark_high={z.high_wmark_pages()} boost={z.watermark_boost} "
              f"reserved_highatomic={z.nr_reserved_highatomic}")
        if is72:
            zl += (f" nr_free_highatomic={z.nr_free_highatomic} "
                   f"nr_free_blocks={z.nr_free_pages_blocks} nr_free_cma={z.nr_free_cma_pages} "
                   f"cma_pages={z.cma_pages} nr_free_snapshot={z.nr_free_pages}")
        out.append(zl)
        # pageblocks of the zone span in memory sections with RAM (pfn_valid())
        first = z.zone_start_pfn >> PAGEBLOCK_ORDER
        last = (z.zone_end_pfn - 1) >> PAGEBLOCK_ORDER
        for b in range(first, last + 1):
            pfn = b << PAGEBLOCK_ORDER
            if not m.section_online(pfn):
                continue
            val = mem.pb[b]
            mt = val & 7
            if is72:
                if not isolate_bit and mt == MIGRATE_ISOLATE:
                    mt, iso = 1, 1
                else:
                    iso = 1 if val & PB_MIGRATE_ISOLATE else 0
                out.append(f"B {pfn:x} {mt} {iso} {1 if val & PB_COMPACT_SKIP else 0}")
            else:
                if val & PB_MIGRATE_ISOLATE or mt == MIGRATE_ISOLATE:
                    mt = _ISOLATE_61
                elif mt == MIGRATE_CMA:
                    raise ValueError(f"pageblock {pfn:#x} is CMA: a 6.1 dump has no CMA type")
                out.append(f"B {pfn:x} {mt}")
        for order, idx, pfn in m.free_blocks(z):
            if idx >= MIGRATE_TYPES:
                raise ValueError(f"free block {pfn:#x} order {order} on free list {idx} "
                                 "(UNMOVABLE|UNMAPPED): not in the dump format")
            if not is72:
                if idx == MIGRATE_ISOLATE:
                    idx = _ISOLATE_61
                elif idx == MIGRATE_CMA:
                    raise ValueError(f"free block {pfn:#x} on the CMA list: a 6.1 dump has none")
            out.append(f"F {order} {idx} {pfn:x}")
        for cpu, pcp in enumerate(z.pcp):
            if is72:
                out.append(f"C {cpu} count={pcp.count} high={pcp.high} batch={pcp.batch} "
                           f"free_factor=-1 high_min={pcp.high_min} high_max={pcp.high_max} "
                           f"alloc_factor={pcp.alloc_factor} free_count={pcp.free_count} "
                           f"flags={pcp.flags:x} expire={pcp.expire}")
            else:
                out.append(f"C {cpu} count={pcp.count} high={pcp.high} batch={pcp.batch} "
                           f"free_factor={pcp.free_factor}")
            for pindex, pfn in m.pcp_blocks(z, cpu):
                if pindex >= _NR_PCP_LISTS:
                    raise ValueError(f"pcp page {pfn:#x} on list {pindex} (the series' unmapped "
                                     "bank): not in the dump format")
                order, mt = decode_pindex(pindex, _NR_LOWORDER, 9)
                out.append(f"P {cpu} {pindex} {order} {mt} {pfn:x}")
    return "\n".join(out) + "\n"


def write_buddydump(machine: Machine, path: str | os.PathLike[str], dump_id: int,
                    kernel: str = "7.2") -> Path:
    """Write ``machine``'s allocator state as a ``gt_buddydump`` (xz if ``path`` ends in
    ``.xz``); :func:`pagealloc.workload.snapshot.load_buddydump` and
    :func:`pagealloc.workload.state.machine_from_dump` give the same free lists (order and
    content), pageblock types, pcp lists per CPU and ``/proc`` counts back."""
    text = buddydump_text(machine, dump_id, kernel)
    p = Path(path)
    if p.name.endswith(".xz"):
        p.write_bytes(lzma.compress(text.encode("ascii"), preset=1))
    else:
        p.write_text(text, encoding="ascii")
    return p


# ---------------------------------------------------------------------- kpageflags
def kpageflags_array(m: Machine) -> np.ndarray:
    """``/proc/kpageflags`` of ``m`` (one u64 per PFN from 0 to the end of RAM).

    Free buddy blocks have ``KPF_BUDDY`` on every page; pcp pages read as 0; reserved pages
    ``KPF_RESERVED``; holes ``KPF_NOPAGE``; an allocated block the model counts as movable
    (``KIND_MOVABLE``: PageLRU) has ``KPF_LRU`` on every page if compound, else on its
    head only (the model's claim heuristic counts a non-compound block's head alone);
    ``__GFP_COMP`` blocks have compound head and tail bits."""
    n = max(b for _a, b in m.ram_ranges)
    st = np.frombuffer(m.mem.pstate, dtype=np.uint8)[:n]
    kind = np.frombuffer(m.mem.pkind, dtype=np.uint8)[:n]
    flags = np.zeros(n, dtype="<u8")
    state = st & PS_MASK
    flags[state == PS_HOLE] = 1 << KPF_NOPAGE
    flags[state == PS_RESERVED] = 1 << KPF_RESERVED
    order = st & ORDER_MASK
    buddy = np.flatnonzero(state == PS_BUDDY)
    alloc = np.flatnonzero(state == PS_ALLOC)
    for o in range(NR_PAGE_ORDERS):
        span = np.arange(1 << o, dtype=np.int64)
        heads = buddy[order[buddy] == o]
        if len(heads):
            idx = (heads[:, None] + span[None, :]).ravel()
            flags[idx[idx < n]] |= np.uint64(1 << KPF_BUDDY)
        heads = alloc[order[alloc] == o]
        if not len(heads):
            continue
        k = kind[heads]
        comp = heads[(k & KIND_COMPOUND) != 0]
        mov = (k & KIND_MOVABLE) != 0
        flags[heads[mov]] |= np.uint64(1 << KPF_LRU)
        if o and len(comp):
            flags[comp] |= np.uint64(1 << KPF_COMPOUND_HEAD)
            tails = (comp[:, None] + span[None, 1:]).ravel()
            flags[tails[tails < n]] |= np.uint64(1 << KPF_COMPOUND_TAIL)
            mc = heads[mov & ((k & KIND_COMPOUND) != 0)]
            if len(mc):
                t = (mc[:, None] + span[None, 1:]).ravel()
                flags[t[t < n]] |= np.uint64(1 << KPF_LRU)
    return flags


# ---------------------------------------------------------------------- a snapshot directory
def _iomem_text(m: Machine) -> str:
    return "".join(f"{a << 12:08x}-{(b << 12) - 1:08x} : System RAM\n" for a, b in sorted(m.ram_ranges))


def _sysctl_files(m: Machine) -> dict[str, str]:
    cfg = m.config
    out = {
        "min_free_kbytes": str(m.min_free_kbytes or cfg.min_free_kbytes or 0),
        "lowmem_reserve_ratio": "\t".join(str(x) for x in cfg.lowmem_reserve_ratio),
    }
    for key in ("watermark_scale_factor", "watermark_boost_factor", "percpu_pagelist_high_fraction",
                "defrag_mode", "extfrag_threshold", "compaction_proactiveness"):
        v = getattr(cfg, key, None)
        if v is not None:
            out[key] = str(int(v))
    return out


def write_snapshot(m: Machine, snapdir: Path, dump_id: int, kernel: str = "7.2",
                   kpageflags: bool = True) -> None:
    """One ``snap_*`` directory: the dump, ``kpageflags.xz`` and the ``/proc`` views, all
    of the same instant (a real capture reads the ``/proc`` files later)."""
    snapdir.mkdir(parents=True, exist_ok=True)
    write_buddydump(m, snapdir / "gt_buddydump", dump_id, kernel)
    if kpageflags:
        raw = kpageflags_array(m).tobytes()
        (snapdir / "kpageflags.xz").write_bytes(lzma.compress(raw, preset=1))
    for name in ("buddyinfo", "pagetypeinfo", "zoneinfo"):
        (snapdir / name).write_text(m.proc(name))


# ---------------------------------------------------------------------- the trace
_FLAGS = {
    "mm_page_alloc": ".....",
    "mm_page_free": ".....",
    "mm_page_free_batched": "...1.",
    "mm_page_alloc_zone_locked": "d..2.",
    "mm_page_pcpu_drain": "d..2.",
    "mm_page_alloc_extfrag": "d..2.",
}
_KMEM = ("mm_page_alloc", "mm_page_free", "mm_page_free_batched", "mm_page_alloc_zone_locked",
         "mm_page_pcpu_drain", "mm_page_alloc_extfrag")
_FTRACE_HEADER = """\
# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:{cpus}
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""
_HEADER_LINES = 12


class _TraceSink:
    """The machine's tracepoint sink while the workload runs: ftrace lines with the CPU
    that emitted them, one microsecond apart (``trace_clock`` local)."""

    def __init__(self, out: TextIO, table: Any, start_ns: int, step_ns: int, task: str) -> None:
        self.out = out
        self.table = table
        self.t_ns = start_ns
        self.step_ns = step_ns
        self.task = task
        self.lines = 0                      # lines written (events and markers)
        self.counts: collections.Counter[str] = collections.Counter()
        self.other: collections.Counter[str] = collections.Counter()
        self.orders: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        self.cpu_counts: collections.Counter[int] = collections.Counter()

    def line(self, task: str, pid: int, cpu: int, flags: str, event: str) -> int:
        self.out.write(format_line(task, pid, cpu, flags, self.t_ns, event) + "\n")
        self.t_ns += self.step_ns
        self.lines += 1
        return self.lines

    def __call__(self, name: str, cpu: int, args: tuple[int, ...]) -> None:
        if name.startswith("vm_warn:"):
            return                                   # a model check, not a tracepoint
        self.line(self.task, 100 + cpu, cpu, _FLAGS.get(name, "....."),
                  format_event(name, args, self.table))
        if name in _KMEM:
            self.counts[name] += 1
            self.cpu_counts[cpu] += 1
            if name != "mm_page_alloc_extfrag":
                self.orders[name][0 if name == "mm_page_free_batched" else args[1]] += 1
        else:
            self.other[name] += 1

    def kmem_total(self) -> int:
        return sum(self.counts.values())


@dataclass
class SynthResult:
    """What :func:`synth_capture` wrote."""

    out_dir: Path
    trace_lines: int = 0
    requests: int = 0
    allocs: int = 0
    alloc_failures: int = 0
    frees: int = 0
    events: dict[str, int] = field(default_factory=dict)
    events_per_cpu: dict[int, int] = field(default_factory=dict)
    dumps: list[dict[str, Any]] = field(default_factory=list)


def synth_capture(out_dir: str | os.PathLike[str], machine: Machine,
                  workload: Iterable[tuple[int, int, int, int]], dumps_every: int = 5000, *,
                  name: str = "synth", kernel: str | None = None, start_s: float = 1.0,
                  step_us: int = 1, tick: bool = False, kpageflags: bool = True,
                  untraced: int = 0, warmup: int = 0, batch_frees: int = 0,
                  meta: dict[str, Any] | None = None) -> SynthResult:
    """Run ``workload`` on ``machine`` and write a capture directory at ``out_dir``.

    ``workload``: :mod:`pagealloc.workload.mixed` tuples; an allocation runs on its CPU
    (``alloc_pages(..., cpu)``; every tracepoint it fires carries that CPU), a free frees
    the block of that earlier allocation slot on its CPU (failed allocations leave the slot
    empty).  Dumps: id 1 (``snap_before``) before the first request, one after the request
    that brings the kmem event count to each multiple of ``dumps_every`` (``0``: none),
    and the last (``snap_after``) after the last request.  Each trace line is ``step_us``
    later than the one before, from ``start_s``; with ``tick`` the machine's
    ``vmstat_update()`` runs (``Machine.tick``) at every whole trace second, as the kernel's
    does (the decide replay folds the vmstat deltas there), else the model's clock stands
    still (keep the trace under a second then, ``1e6 / step_us`` lines).  ``kernel``: the
    dump variant, by default the machine profile's.  ``meta`` is stored in
    ``summary.json`` under ``synthetic``.  An existing ``out_dir`` is replaced.

    Like a real capture: the first ``untraced`` requests run before tracing starts (their
    blocks are in use at the first dump with no allocation in the trace: the replays must
    find their orders from ``kpageflags`` and the frees), the next ``warmup`` are traced
    before the first dump (their allocations are outstanding at it).  ``batch_frees=N``
    frees runs of consecutive frees on one CPU together, up to N at a time, through
    ``free_unref_folios()`` (``Machine.free_pages_batched``: an ``mm_page_free`` line per
    folio, then an ``mm_page_free_batched`` line per folio as it reaches the pcp list)."""
    m = machine
    kernel = kernel or m.profile.kernel
    _check_kernel(m, kernel)
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "version.txt").write_text(VERSION_TEXT[kernel])
    (out / "iomem.txt").write_text(_iomem_text(m))
    sysdir = out / "sysctl_vm"
    sysdir.mkdir()
    for key, val in _sysctl_files(m).items():
        (sysdir / key).write_text(val + "\n")
    (out / "trace_clock.txt").write_text("[local]\n")

    res = SynthResult(out)
    body_path = out / "trace.body.tmp"
    markers: list[dict[str, Any]] = []
    dumps: list[dict[str, Any]] = []
    counts_at: list[dict[str, int]] = []
    step_ns = step_us * 1000
    with open(body_path, "w", encoding="ascii") as body:
        sink = _TraceSink(body, m.profile.gfp_table, int(start_s * 1e9), step_ns, name)

        def marker(text: str, cpu: int = 0) -> None:
            ln = sink.line("gtsnap", 90, cpu, "...1.", f"tracing_mark_write: {text}")
            markers.append({"line": ln + _HEADER_LINES, "marker": text})

        def dump(snap: str) -> None:
            dump_id = len(dumps) + 1
            label = snap[len("snap_"):]
            marker(f"GT_SNAPSHOT_{label}_BEGIN")
            ln = sink.line("cat", 91, 0, "d....", f"gt_show: GT_BUDDYDUMP id={dump_id}")
            write_snapshot(m, out / snap, dump_id, kernel, kpageflags)
            marker(f"GT_SNAPSHOT_{label}_END")
            dumps.append({"id": dump_id, "line": ln + _HEADER_LINES, "snapshot": snap})
            counts_at.append(dict(sink.counts))

        pfns: dict[int, int] = {}
        slot = 0
        batch: list[tuple[int, int]] = []
        batch_cpu = -1

        def flush() -> None:
            nonlocal batch
            if batch:
                m.free_pages_batched(batch, batch_cpu)
                res.frees += len(batch)
                batch = []

        def request(op: int, a: int, order: int, cpu: int) -> None:
            nonlocal slot, batch_cpu
            res.requests += 1
            if batch and (op == OP_ALLOC or cpu != batch_cpu or len(batch) >= batch_frees):
                flush()
            if op == OP_ALLOC:
                p = m.alloc_pages(a, order, cpu)
                if p is None:
                    res.alloc_failures += 1
                else:
                    pfns[slot] = p
                    res.allocs += 1
                slot += 1
                return
            p = pfns.pop(a, None)
            if p is None:
                return
            if batch_frees > 0:
                batch_cpu = cpu
                batch.append((p, order))
            else:
                m.free_pages(p, order, cpu)
                res.frees += 1

        it = iter(workload)
        for op, a, order, cpu in itertools.islice(it, untraced):
            request(op, a, order, cpu)
        flush()
        if warmup:
            m.attach(sink)
            try:
                for op, a, order, cpu in itertools.islice(it, warmup):
                    request(op, a, order, cpu)
                flush()
            finally:
                m.detach(sink)
        dump("snap_before")
        marker(f"GT_WORKLOAD_BEGIN {name}")
        window_start = dict(sink.counts)
        m.attach(sink)
        try:
            next_dump = sink.kmem_total() + dumps_every if dumps_every > 0 else -1
            n_mid = 0
            last_sec = int(sink.t_ns // 1_000_000_000)
            for op, a, order, cpu in it:
                if tick:
                    sec = int(sink.t_ns // 1_000_000_000)
                    if sec > last_sec:
                        # vmstat_update() on every CPU at each whole second crossed
                        now = m.now_ns
                        to_next = 1_000_000_000 - now % 1_000_000_000
                        m.tick((to_next + (sec - last_sec - 1) * 1_000_000_000) / 1e9)
                        last_sec = sec
                request(op, a, order, cpu)
                if 0 < next_dump <= sink.kmem_total():
                    flush()
                    m.detach(sink)
                    n_mid += 1
                    dump(f"snap_m{n_mid:02d}_events_{sink.kmem_total()}")
                    m.attach(sink)
                    while next_dump <= sink.kmem_total():
                        next_dump += dumps_every
            flush()
        finally:
            m.detach(sink)
        window_end = dict(sink.counts)
        marker(f"GT_WORKLOAD_END {name}")
        dump("snap_after")
    total = sink.lines
    with open(out / "trace.txt", "w", encoding="ascii") as fh:
        fh.write(_FTRACE_HEADER.format(n=total, cpus=m.ncpus))
        with open(body_path, encoding="ascii") as body_in:
            shutil.copyfileobj(body_in, fh)
    body_path.unlink()

    for i, d in enumerate(dumps[:-1]):
        nxt = counts_at[i + 1]
        d["events_until_next_dump"] = {k: nxt.get(k, 0) - counts_at[i].get(k, 0) for k in _KMEM}
    events_total = {k: sink.counts.get(k, 0) for k in _KMEM}
    summary = {
        "trace_lines": total + _HEADER_LINES,
        "events_total": events_total,
        "events_in_workload_window": {k: window_end.get(k, 0) - window_start.get(k, 0) for k in _KMEM},
        "other_events_total": dict(sorted(sink.other.items())) | {"gt_show": len(dumps)},
        "order_histogram": {k: {str(o): c for o, c in sorted(v.items())}
                            for k, v in sorted(sink.orders.items())},
        "markers": markers,
        "dumps": dumps,
        "events_per_cpu": {str(c): n for c, n in sorted(sink.cpu_counts.items())},
        "synthetic": {"generator": "pagealloc.workload.synth", "profile": m.profile.name,
                      "cpus": m.ncpus, "requests": res.requests, "allocs": res.allocs,
                      "alloc_failures": res.alloc_failures, "frees": res.frees,
                      "dumps_every": dumps_every, "tick": tick, "untraced": untraced,
                      "warmup": warmup, "batch_frees": batch_frees, **(meta or {})},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    res.trace_lines = total + _HEADER_LINES
    res.events = events_total
    res.events_per_cpu = dict(sorted(sink.cpu_counts.items()))
    res.dumps = dumps
    return res


def synth_mixed(out_dir: str | os.PathLike[str], *, memory: str = "1G", cpus: int = 1,
                requests: int = 20000, seed: int = 1, dumps_every: int = 5000,
                profile: str = "linux-7.2", target_occupancy: float = 0.6,
                order_weights: tuple[float, float, float, float, float] = (70, 10, 8, 7, 5),
                tick: bool = False, step_us: int = 1, untraced: int = 0, warmup: int = 0,
                batch_frees: int = 0, machine: dict[str, Any] | None = None) -> SynthResult:
    """A synthetic capture of the seeded mixed stream (:mod:`pagealloc.workload.mixed`) on a
    fresh machine: ``requests`` allocations and frees spread over ``cpus`` CPUs (the
    first ``untraced`` and ``warmup`` of them before the first dump, see
    :func:`synth_capture`).  ``machine``: more :class:`~pagealloc.config.MachineConfig`
    fields, e.g. ``{"percpu_pagelist_high_fraction": 400}`` for small pcp lists (drains)."""
    m = Machine(memory=memory, cpus=cpus, profile=profile, **(machine or {}))
    spec = MixedSpec(events=requests, seed=seed, cpus=cpus, target_occupancy=target_occupancy,
                     order_weights=order_weights)
    ram_pages = sum(b - a for a, b in m.ram_ranges)
    meta = {"workload": "mixed", "memory": memory, "seed": seed,
            "target_occupancy": target_occupancy, "order_weights": list(order_weights),
            "machine": dict(machine or {})}
    return synth_capture(out_dir, m, mixed_stream(spec, ram_pages), dumps_every, tick=tick,
                         step_us=step_us, untraced=untraced, warmup=warmup,
                         batch_frees=batch_frees, meta=meta)


def add_parser(sub: Any) -> None:
    """The ``pagealloc synth`` subcommand (called by :func:`pagealloc.cli.make_parser`)."""
    sp = sub.add_parser("synth", help="write a synthetic capture: the model runs the seeded "
                        "mixed stream, tracing and dumping itself (replay/fidelity input "
                        "with a known ground truth, any number of CPUs)")
    _add_arguments(sp)
    sp.set_defaults(func=cmd_synth)


def _add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("out", type=Path, help="the capture directory to write (replaced)")
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--events", type=int, default=20000, metavar="N",
                    help="workload requests (allocations and frees)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dumps-every", type=int, default=5000, metavar="N",
                    help="kmem events between dumps (0: only before and after)")
    ap.add_argument("--profile", default="linux-7.2", choices=("linux-7.2", "linux-6.1"))
    ap.add_argument("--occupancy", type=float, default=0.6, help="target share of RAM in use")
    ap.add_argument("--untraced", type=int, default=0, metavar="N",
                    help="requests run before tracing starts")
    ap.add_argument("--warmup", type=int, default=0, metavar="N",
                    help="traced requests before the first dump")
    ap.add_argument("--batch-frees", type=int, default=0, metavar="N",
                    help="free runs of frees on one CPU through free_unref_folios(), N at most")
    ap.add_argument("--tick", action="store_true",
                    help="vmstat_update() on every CPU at each whole trace second")
    ap.add_argument("--step-us", type=int, default=1, metavar="US",
                    help="microseconds between trace lines")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a MachineConfig field, e.g. percpu_pagelist_high_fraction=400")


def cmd_synth(args: Any) -> int:
    """``pagealloc synth OUT``."""
    fields: dict[str, Any] = {}
    for item in args.set:
        key, eq, val = item.partition("=")
        if not eq:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE")
        fields[key] = int(val) if val.lstrip("-").isdigit() else val
    r = synth_mixed(args.out, memory=args.memory, cpus=args.cpus, requests=args.events,
                    seed=args.seed, dumps_every=args.dumps_every, profile=args.profile,
                    target_occupancy=args.occupancy, tick=args.tick, step_us=args.step_us,
                    untraced=args.untraced, warmup=args.warmup, batch_frees=args.batch_frees,
                    machine=fields)
    print(f"{r.out_dir}: {r.trace_lines} trace lines, {len(r.dumps)} dumps, "
          f"{r.allocs} allocs ({r.alloc_failures} failed), {r.frees} frees; "
          + " ".join(f"{k}={v}" for k, v in r.events.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pagealloc.workload.synth",
                                 description="Write a synthetic capture: the model runs the "
                                             "seeded mixed stream and traces and dumps itself.")
    _add_arguments(ap)
    return cmd_synth(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
