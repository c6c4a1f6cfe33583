"""Decide mode: how often does the model pick the kernel's PFN? (the engine behind
``pagealloc replay --mode decide`` and ``pagealloc fidelity``)

:class:`DecideReplay` starts from an exact dump of a real trace, then walks the trace to the
next dump.  For every successful ``mm_page_alloc`` the model allocates with the same
gfp/order/CPU (a buddy or pcp-refill allocation at its ``mm_page_alloc_zone_locked``
lines, where the kernel took the block: its task can be preempted before
``mm_page_alloc`` fires); the walk
counts whether it chose the kernel's PFN (overall, by order/migratetype and by path: pcp
hit, pcp refill, buddy, fallback), then continues from
the kernel's state: the model's page goes back where it came from and the kernel's page is
taken from wherever the model holds it; the kernel's pcp refills replace the model's
(``rmqueue_bulk()``: every page moved is traced with ``percpu_refill=1``) and the kernel's
pcp drains are applied as traced (``mm_page_pcpu_drain``; the model drains nothing by
itself, ``PageAllocator.trace_drains``).  Frees go through the model's free path.  The
per-CPU vmstat deltas are folded at whole trace seconds (``vmstat_update()``).  When the
walk reaches the next dump, the model's state is compared with that dump
(:func:`compare_state`: free pages and blocks, pageblock types, pagetypeinfo cells, pcp
pages).

Kernel paths without events (traces README section 9) are inferred from the trace itself,
each by one method of :class:`DecideReplay` that names the kernel function it stands for,
and counted in the stats: vfree blocks coming back whole (a traced block once all its pages
are freed; on 7.2 a kworker's run of contiguous order-0 frees in naturally aligned chunks,
as ``free_prepared_contig_range()`` frees them), ``alloc_pages_bulk()`` pages and the pcp
refills that fed it (a refill whose first page the next allocation does not take), a task
preempted inside the allocator before its event fired, softirq frees that skip the pcp
lists (preempt depth >= 2, or interrupting a task between two of its pcp drain or batched
free lines, under its pcp lock), batched frees reaching the pcp list at their
``mm_page_free_batched`` line, and ``mm_page_alloc`` lines printed after softirq frees that
happened later.  The three lookahead inferences (bulk, preempted, softirq) are applied only
when they make the model's pick the kernel's.  Compaction's free-page isolation, which has no
kmem event, is replayed by the model's own ``isolate_freepages_block()`` over each
``mm_compaction_isolate_freepages`` range (:meth:`DecideReplay.isolate_freepages`).
A trace with kswapd's ``mm_vmscan_kswapd_wake``/``mm_vmscan_kswapd_sleep`` lines switches the
per-CPU vmstat threshold where the kernel does (:meth:`DecideReplay.kswapd_threshold`) and
takes off the watermark boosts each ``balance_pgdat()`` pass clears at its wake line
(:meth:`DecideReplay.kswapd_boost_decay`); without them nothing changes.

    python -m pagealloc.workload.decide ../shared/traces/linux-7.2/anon [--dump 1] [--limit N]
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pagealloc.machine import Machine
from pagealloc.mm.freetype import MIGRATE_HIGHATOMIC
from pagealloc.mm.mmzone import (
    KIND_COMPOUND,
    NIL,
    ORDER_MASK,
    PAGEBLOCK_ORDER,
    PS_ALLOC,
    PS_BUDDY,
    PS_ISOLATED,
    PS_MASK,
    PS_PCP,
    PerCpuPages,
    Zone,
)
from pagealloc.mm.tracepoints import TraceRecorder
from pagealloc.workload.ftrace import TraceEvent
from pagealloc.workload.state import KIND_UNKNOWN, machine_from_snapshot

if TYPE_CHECKING:
    from pagealloc.workload.replay import Interval

#: events of an interval that the decide walk does not step through (compaction's free-page
#: isolation is applied before the next walked event: :meth:`DecideReplay.isolate_freepages`)
_NOT_WALKED = ("mm_compaction_isolate_freepages", "mm_migrate_pages")
_ISOLATE_FREE = re.compile(r"range=\(0x([0-9a-f]+) ~ 0x([0-9a-f]+)\) nr_scanned=(\d+) nr_taken=(\d+)")
#: the strides ``isolate_freepages()`` scans with: 1 (sync, or after a block gave pages),
#: else doubling up to ``COMPACT_CLUSTER_MAX`` (32) while blocks give nothing
_STRIDES = (1, 2, 4, 8, 16, 32)
#: the walk keeps this many events past ``limit`` allocations, so that the batched-free
#: pairing of the last ones still finds their ``mm_page_free_batched`` lines
_LIMIT_SLACK = 5000
#: misses and refill misses reported with the model's reasoning
_FIRST_MISSES = 10
_FIRST_REFILL_MISSES = 5


def covering_block(m: Machine, pfn: int) -> tuple[int, int, int]:
    """(head, order, state) of the block holding pfn."""
    ps = m.mem.pstate
    for order in range(0, 11):
        head = pfn & ~((1 << order) - 1)
        s = ps[head]
        if s & PS_MASK in (PS_ALLOC, PS_PCP, PS_BUDDY) and (s & ORDER_MASK) >= order:
            if head + (1 << (s & ORDER_MASK)) > pfn:
                return head, s & ORDER_MASK, s & PS_MASK
    return NIL, 0, 0


def pcp_holding(m: Machine, zone: Zone, lid: int) -> PerCpuPages:
    """The pcp (of whichever CPU) whose lists include list ``lid``."""
    nr_lists = m.profile.nr_pcp_lists
    return next(p for p in zone.pcp if p.list_base <= lid < p.list_base + nr_lists)


def take_page(m: Machine, pfn: int, order: int) -> bool:
    """Force the block [pfn, pfn + 2^order) allocated, wherever the model holds it."""
    mem, alloc = m.mem, m.alloc
    head, horder, st = covering_block(m, pfn)
    if head == NIL or st == PS_ALLOC:
        return False
    zone = alloc.zone_of(pfn)
    if horder < order:
        return _take_range(m, pfn, order)
    if st == PS_PCP:
        if head != pfn or horder != order:
            return False
        mem.list_del(pfn)
        mem.pstate[pfn] = 0
        pcp = pcp_holding(m, zone, mem.plist[pfn])
        pcp.count -= 1 << order
    else:
        ft = mem.get_pfnblock_freetype(head)
        alloc.del_page_from_free_list(head, zone, horder, ft)
        # break_down_buddy_pages(): free the parts around the target
        high = horder
        cur = head
        while high > order:
            high -= 1
            size = 1 << high
            if pfn >= cur + size:
                alloc._add_to_free_list(cur, zone, high, ft, False)
                mem.pstate[cur] = PS_BUDDY | high
                alloc.account_freepages(zone, size, ft)
                cur += size
            else:
                alloc._add_to_free_list(cur + size, zone, high, ft, False)
                mem.pstate[cur + size] = PS_BUDDY | high
                alloc.account_freepages(zone, size, ft)
    mem.pstate[pfn] = PS_ALLOC | order
    return True


def _take_range(m: Machine, pfn: int, order: int) -> bool:
    """:func:`take_page` of a kernel block that the model holds as several smaller free
    blocks (buddy or pcp; the model missed a merge, e.g. after a pcp-skipping free): every
    one of them leaves its list and the range becomes one allocated block.  False, with
    nothing changed, if any page of the range is allocated in the model."""
    mem, alloc = m.mem, m.alloc
    end = pfn + (1 << order)
    parts: list[tuple[int, int, int]] = []
    q = pfn
    while q < end:
        head, horder, st = covering_block(m, q)
        if head == NIL or st == PS_ALLOC or head < pfn or head + (1 << horder) > end:
            return False
        parts.append((head, horder, st))
        q = head + (1 << horder)
    zone = alloc.zone_of(pfn)
    nr_lists = m.profile.nr_pcp_lists
    for head, horder, st in parts:
        if st == PS_PCP:
            lid = mem.plist[head]
            pcp = next(p for p in zone.pcp if p.list_base <= lid < p.list_base + nr_lists)
            mem.list_del(head)
            pcp.count -= 1 << horder
        else:
            alloc.del_page_from_free_list(head, zone, horder, mem.get_pfnblock_freetype(head))
        mem.pstate[head] = 0
    mem.pstate[pfn] = PS_ALLOC | order
    return True


def _split_free_block_at(m: Machine, pfn: int) -> bool:
    """Split the model's free buddy block that spans ``pfn`` (its head below ``pfn``) into
    naturally aligned free blocks none of which crosses ``pfn``, as ``expand()`` splits
    (the piece nearer ``pfn`` is split further, the other goes back whole to the head of
    its list).  False when no buddy block spans ``pfn``."""
    if not 0 < pfn < m.mem.max_pfn:
        return False
    head, order, st = covering_block(m, pfn)
    if st != PS_BUDDY or head == pfn:
        return False
    mem, alloc = m.mem, m.alloc
    zone = alloc.zone_of(head)
    ft = mem.get_pfnblock_freetype(head)
    alloc.del_page_from_free_list(head, zone, order, ft)
    mem.pstate[head] = 0

    def add(p: int, o: int) -> None:
        alloc._add_to_free_list(p, zone, o, ft, False)
        mem.pstate[p] = PS_BUDDY | o
        alloc.account_freepages(zone, 1 << o, ft)

    cur, high = head, order
    while True:
        high -= 1
        size = 1 << high
        if pfn >= cur + size:
            add(cur, high)
            cur += size
            if cur == pfn:
                add(cur, high)
                return True
        else:
            add(cur + size, high)


def prepare_free(m: Machine, pfn: int, order: int, pending: dict[int, set[int]],
                 cpu: int = 0) -> str:
    """Make the model's state admit a free of (pfn, order); return how.  ``pending`` holds,
    per high-order block being freed page by page, the pages freed so far; ``cpu`` is the
    CPU of the free (a completed vfree block goes to its pcp list).

    ``vfree_page``/``vfree_block``: 7.2 ``vfree()`` -> ``free_pages_bulk()``: the pages
    of a non-compound block are traced one by one by ``free_pages_prepare()``, then the
    whole aligned block goes back with no event (traces README 9.2)."""
    mem = m.mem
    s = mem.pstate[pfn]
    if s == PS_ALLOC | order:
        return "ok"
    head, horder, st = covering_block(m, pfn)
    if st in (PS_PCP, PS_BUDDY):
        return "already_free"
    if st == PS_ALLOC and horder > order and not mem.pkind[head] & KIND_COMPOUND \
            and not mem.pkind[head] & KIND_UNKNOWN and m.profile.kernel == "7.2":
        done = pending.setdefault(head, set())
        done.add(pfn)
        if len(done) == 1 << horder:
            del pending[head]
            m.alloc.free_frozen_pages(head, horder, cpu)
            return "vfree_block"
        return "vfree_page"
    if st == PS_ALLOC and horder > order and not mem.pkind[head] & KIND_COMPOUND:
        kind = mem.pkind[head]
        for p in range(head, head + (1 << horder)):
            mem.pstate[p] = PS_ALLOC
            mem.pkind[p] = kind
        if order == 0:
            return "split"
    if order > 0 and all(mem.pstate[p] == PS_ALLOC and mem.pkind[p] & KIND_UNKNOWN
                         for p in range(pfn, pfn + (1 << order))):
        mem.pkind[pfn + 1:pfn + (1 << order)] = bytes((1 << order) - 1)
        mem.pstate[pfn + 1:pfn + (1 << order)] = bytes((1 << order) - 1)
        mem.pstate[pfn] = PS_ALLOC | order
        return "coalesce"
    if mem.pstate[pfn] == PS_ALLOC | order:
        return "split"
    return "bad"


def compare_state(m: Machine, ref: Machine) -> dict[str, float]:
    """The model's state against a kernel dump's, at the same instant.

    ``free_page_agreement``: Jaccard index of the sets of pages on the buddy free lists
    (same PFN free in both / free in either); ``free_block_agreement``: the same over
    (pfn, order) free blocks; ``pageblock_agreement``: share of pageblocks whose
    migratetype (pageblock flags, isolate bit aside) matches; ``pagetypeinfo_max_cell_error``:
    the largest relative difference ``|a - b| / max(a, b)`` over the /proc/pagetypeinfo
    cells (zone, migratetype, order) of free blocks; ``pcp_pages_model``/``_kernel``: pages
    on pcp lists.
    """
    def blocks(mm: Machine) -> tuple[set[tuple[int, int]], collections.Counter[tuple[int, int, int]]]:
        out: set[tuple[int, int]] = set()
        cells: collections.Counter[tuple[int, int, int]] = collections.Counter()
        for z in mm.zones:
            if not z.present_pages:
                continue
            for order, idx, pfn in mm.free_blocks(z):
                out.add((pfn, order))
                cells[(z.idx, idx, order)] += 1
        return out, cells

    mb, mc = blocks(m)
    rb, rc = blocks(ref)

    def pages(bs: set[tuple[int, int]]) -> set[int]:
        return {q for pfn, order in bs for q in range(pfn, pfn + (1 << order))}

    mp, rp = pages(mb), pages(rb)
    union = len(mp | rp)
    bunion = len(mb | rb)
    nblocks = min(len(m.mem.pb), len(ref.mem.pb))
    same_pb = sum(1 for b in range(nblocks) if m.mem.pb[b] & 7 == ref.mem.pb[b] & 7)
    worst = 0.0
    for cell in set(mc) | set(rc):
        a, b = mc[cell], rc[cell]
        worst = max(worst, abs(a - b) / max(a, b))

    def pcp_pages(mm: Machine) -> int:
        return sum(p.count for z in mm.zones if z.present_pages for p in z.pcp)

    return {
        "free_page_agreement": round(len(mp & rp) / union, 4) if union else 1.0,
        "free_block_agreement": round(len(mb & rb) / bunion, 4) if bunion else 1.0,
        "pageblock_agreement": round(same_pb / nblocks, 4) if nblocks else 1.0,
        "pagetypeinfo_max_cell_error": round(worst, 4),
        "pcp_pages_model": pcp_pages(m),
        "pcp_pages_kernel": pcp_pages(ref),
    }


def _pcp_order(order: int) -> bool:
    """``pcp_allowed_order()`` with THP: orders 0..PAGE_ALLOC_COSTLY_ORDER and the PMD order."""
    return order <= 3 or order == 9


class DecideReplay:
    """Decide mode over one dump interval of a capture (see the module docstring).

    ``interval`` (from :func:`pagealloc.workload.replay.load_intervals`) saves reading the
    trace again; ``limit`` stops after that many allocations (and skips the comparison with
    the next dump); ``follow_drains=False`` lets the model drain its pcp lists by itself
    instead of applying the kernel's ``mm_page_pcpu_drain`` lines; ``decide_at_zone_locked=False``
    decides buddy allocations at their ``mm_page_alloc`` line instead of their zone_locked
    line (:meth:`decide_buddy_allocs_at_zone_locked`).  :meth:`run` walks the
    interval once and returns the result dict (``match_rate``, ``stats``, ``by_order``,
    ``by_path``, ``first_misses``, ``first_refill_misses``, ``state_at_next_dump``)."""

    def __init__(self, capture: Path, dump_id: int = 1, limit: int = 0,
                 profile: str | None = None, interval: "Interval | None" = None,
                 follow_drains: bool = True, replay_compaction: bool = True,
                 infer_pcp_lock_held: bool = True, infer_bulk_refill: bool = True,
                 decide_at_zone_locked: bool = True) -> None:
        from pagealloc.workload.replay import dump_snapshots, load_intervals
        self.capture = capture
        self.dump_id = dump_id
        self.limit = limit
        self.profile = profile
        self.follow_drains = follow_drains
        self.replay_compaction = replay_compaction
        self.infer_pcp_lock_held = infer_pcp_lock_held
        self.infer_bulk_refill = infer_bulk_refill
        self.decide_at_zone_locked = decide_at_zone_locked
        self.snaps = dump_snapshots(capture)
        self.m = m = machine_from_snapshot(capture / self.snaps[dump_id], profile)
        if interval is None:
            interval = next(iv for iv in load_intervals(capture, m.profile.gfp_table)
                            if iv.dump_id == dump_id)
        self.interval = interval
        #: CPUs of the machine: the dump's pagesets (an event on another CPU is an error)
        self.ncpus = m.ncpus
        #: the CPU of the event being applied (``smp_processor_id()``)
        self.cpu = 0
        self.restore_outstanding_orders()
        self.rec = TraceRecorder()
        m.attach(self.rec)
        m.alloc.trace_drains = follow_drains
        self.stats: collections.Counter[str] = collections.Counter()
        self.by_order: collections.Counter[str] = collections.Counter()
        self.by_path: collections.Counter[str] = collections.Counter()
        self.first_misses: list[str] = []
        self.refill_misses: list[str] = []
        #: the kernel's pcp refill pages (``percpu_refill=1``) since the last allocation
        self.kernel_refill: list[int] = []
        #: (migratetype, order) of the kernel's pending refill lines
        self.kernel_refill_type = (0, 0)
        #: an ``mm_page_alloc_extfrag`` since the last allocation: on 7.2 a claimed block's
        #: first page, handed out first, has no ``zone_locked`` line (traces README 9.3)
        self.extfrag_since_alloc = False
        #: the three fields above are the current CPU's (:attr:`cpu`); the other CPUs'
        #: are kept here (a refill and its allocation run on one CPU, and other CPUs'
        #: lines may come between them): cpu -> (refill pages, refill type, extfrag seen)
        self.other_cpus: dict[int, tuple[list[int], tuple[int, int], bool]] = {}
        #: per high-order block being vfree'd page by page, the pages freed so far
        self.pending_vfree: dict[int, set[int]] = {}
        #: pages another, preempted task took before this point: pfn -> order; their
        #: ``mm_page_alloc`` line comes later (:meth:`explain_skipped_pcp_page`)
        self.reserved: dict[int, int] = {}
        #: pcp-order pages last freed in softirq at preempt depth >= 2 (README 9.5)
        self.softirq_freed: set[int] = set()
        # built by the passes over the interval's events (:meth:`run`)
        self.events: list[TraceEvent] = []
        self.skip: set[int] = set()
        self.deferred: dict[int, TraceEvent] = {}
        self.to_buddy: set[int] = set()
        #: event index -> (first, last) event index of its vfree run; the run's events by
        #: its last index (:meth:`find_vfree_contig_runs`)
        self.contig_run: dict[int, tuple[int, int]] = {}
        self.contig_members: dict[int, list[int]] = {}
        self.by_pfn: dict[int, list[tuple[int, str, int]]] = {}
        #: id of an ``mm_page_alloc`` moved to its zone_locked line -> that line (its time
        #: and CPU are the allocation's: :meth:`decide_buddy_allocs_at_zone_locked`)
        self.decided_at: dict[int, TraceEvent] = {}
        #: compaction free-page isolations to apply before a walked event (by its id), and
        #: those after the last one
        self.isolations: dict[int, list[TraceEvent]] = {}
        self.trailing_isolations: list[TraceEvent] = []
        self.next_fold = 0.0
        #: kswapd's threshold switches in the interval, (line, woke), in line order, and the
        #: next one to apply (:meth:`kswapd_threshold`)
        self.kswapd_marks: list[tuple[int, bool]] = []
        self.next_kswapd = 0
        self.load_kswapd_marks()
        #: the next dump's machine and free-page bitmap (:meth:`load_next_dump`)
        self.next_ref: Machine | None = None
        self.next_free: bytearray | None = None

    # ------------------------------------------------------------------ set-up
    def restore_outstanding_orders(self) -> None:
        """Give the allocations made before the dump and still outstanding at it their
        real order (a dump shows allocated pages one by one; traces README 12: read the
        trace before the dump to know what is outstanding).  ``__GFP_COMP`` (0x40000)
        marks a compound block (``prep_compound_page()``).  The dump's compound layout comes
        from ``kpageflags``, which is read after the dump (traces README 11: snapshot
        activity): a block freed and allocated again in between shows the later
        allocation's layout (e.g. a non-compound vmalloc block at the dump, an order-2
        compound slab page in ``kpageflags``), so any layout of allocated blocks that tiles
        the outstanding block is replaced by the trace's."""
        m = self.m
        ps = m.mem.pstate
        for pfn, (order, gfp) in self.interval.outstanding.items():
            size = 1 << order
            if not order:
                continue
            comp = KIND_COMPOUND if gfp & 0x40000 else 0
            if ps[pfn] == PS_ALLOC | order and m.mem.pkind[pfn] & KIND_COMPOUND == comp:
                continue                 # the dump's layout is the trace's
            q = pfn
            while q < pfn + size and ps[q] & PS_MASK == PS_ALLOC:
                q += 1 << (ps[q] & ORDER_MASK)
            if q == pfn + size:
                ps[pfn:pfn + size] = bytes(size)
                m.mem.pkind[pfn:pfn + size] = bytes(size)
                ps[pfn] = PS_ALLOC | order
                m.mem.pkind[pfn] = comp

    def load_kswapd_marks(self) -> None:
        """kswapd's threshold switches for this interval (``mm_vmscan_kswapd_wake``/``_sleep``
        lines, :attr:`Interval.kswapd`, read with the rest by ``load_intervals()``); the
        dump's threshold is the pressure one when the last kswapd line before it is a wake.
        The dump has no threshold: its load gives every zone the normal one."""
        if self.interval.kswapd_awake:
            self.m.kswapd.set_pgdat_percpu_threshold(True)
            self.stats["kswapd_awake_at_dump"] += 1
        self.kswapd_marks = list(self.interval.kswapd)

    def kswapd_threshold(self, lineno: float) -> None:
        """Apply kswapd's threshold switches traced before line ``lineno``, with the model's
        ``set_pgdat_percpu_threshold()`` (mm/vmscan.c): ``kswapd_try_to_sleep()`` fires
        ``mm_vmscan_kswapd_sleep`` and then restores the normal threshold before
        ``schedule()``; woken, it sets the pressure threshold and ``kswapd()`` fires
        ``mm_vmscan_kswapd_wake`` before ``balance_pgdat()`` (on every pass of its loop, as
        the model's ``Kswapd.run()`` sets it).  So at a sleep line the normal threshold
        starts, and at a wake line the pressure threshold is already in force."""
        marks = self.kswapd_marks
        k = self.next_kswapd
        while k < len(marks) and marks[k][0] < lineno:
            woke = marks[k][1]
            self.m.kswapd.set_pgdat_percpu_threshold(woke)
            self.stats["kswapd_wake_lines" if woke else "kswapd_sleep_lines"] += 1
            if woke:
                self.kswapd_boost_decay()
            k += 1
        self.next_kswapd = k

    def kswapd_boost_decay(self) -> None:
        """``balance_pgdat()`` reads every zone's ``watermark_boost`` when it starts and, if
        any was set, takes that much off each at its end (``zone->watermark_boost -=
        min(zone->watermark_boost, zone_boosts[i])``, under zone->lock), whatever it
        reclaimed.  No tracepoint marks the pass's end; the model's kswapd runs the whole
        pass right after its wake line, so the boosts go there.  The wake line does not
        print ``highest_zoneidx``: every zone's boost is taken (allocation wakeups ask up
        to the highest zone of the request, which holds or tops every boosted zone)."""
        for z in self.m.zones:
            if z.managed_pages and z.watermark_boost:
                self.stats["kswapd_boosts_decayed"] += 1
                z.watermark_boost = 0

    def select_events(self) -> list[TraceEvent]:
        """The interval's events that the walk uses, up to ``limit`` allocations plus
        :data:`_LIMIT_SLACK` events."""
        events: list[TraceEvent] = []
        n_allocs = extra = 0
        pending: list[TraceEvent] = []
        for ev in self.interval.events:
            if ev.name in _NOT_WALKED:
                if self.replay_compaction and ev.name == "mm_compaction_isolate_freepages":
                    pending.append(ev)
                continue
            if pending:
                self.isolations[id(ev)] = pending
                pending = []
            events.append(ev)
            if ev.name == "mm_page_alloc":
                n_allocs += 1
            if self.limit and n_allocs >= self.limit:
                extra += 1
                if extra > _LIMIT_SLACK:
                    break
        self.trailing_isolations = pending
        return events

    def reorder_allocs_before_softirq_frees(self) -> None:
        """``trace_mm_page_alloc()`` fires at the end of ``__alloc_frozen_pages_noprof()``
        (7.2; ``__alloc_pages()`` in 6.1), so softirq frees printed just before an
        allocation may have run after its page was taken: unless the allocation's page is
        one of them, apply the allocation first.  Only frees on the allocation's CPU (a
        softirq interrupting the allocating task)."""
        evs = self.events
        i = 0
        while i < len(evs):
            ev = evs[i]
            if ev.name == "mm_page_free" and ev.softirq:
                j = i
                while j < len(evs) and evs[j].name in ("mm_page_free", "mm_page_free_batched") \
                        and evs[j].softirq:
                    j += 1
                if j < len(evs) and evs[j].name == "mm_page_alloc" and not evs[j].softirq \
                        and all(e.cpu == evs[j].cpu for e in evs[i:j]) \
                        and evs[j].fields["pfn"] not in {e.fields["pfn"] for e in evs[i:j]}:
                    evs.insert(i, evs.pop(j))
                    self.stats["alloc_before_softirq_free"] += 1
                    i = j + 1
                    continue
            i += 1

    def decide_buddy_allocs_at_zone_locked(self) -> None:
        """A buddy allocation is decided where its ``mm_page_alloc_zone_locked`` line
        (``percpu_refill=0``) is printed: ``__rmqueue_smallest()`` traces it under
        ``zone->lock`` as it takes the block (both kernels; ``rmqueue_buddy()``), while
        ``trace_mm_page_alloc()`` fires only at the end of ``__alloc_frozen_pages_noprof()``
        (7.2; ``__alloc_pages()`` in 6.1).  A task preempted in between (after the
        ``spin_unlock_irqrestore()``, e.g. a ``need_resched`` flag at the zone_locked
        line) lets other tasks free and allocate before its ``mm_page_alloc`` line; the
        kernel's watermark checks and free lists were those at the zone_locked line.  So
        the ``mm_page_alloc`` moves to right after its task's zone_locked line of the same
        PFN and order when the task has no other line between them (interrupt lines in its
        context excepted); the watermark fold time and CPU are the zone_locked line's
        (:attr:`decided_at`).  Not done for an allocation that a compaction isolation
        precedes (it stays where the isolation applies).

        Likewise a pcp refill: ``rmqueue_bulk()`` traces every page it moves
        (``percpu_refill=1``) and ``__rmqueue_pcplist()`` pops the list's head, the first
        of them, under the same pcp lock; an ``mm_page_alloc`` of the task with that first
        page moves to right after the task's last refill line."""
        evs = self.events
        #: pid -> (index of its last zone_locked line, index of the line with the page the
        #: allocation takes: the buddy line, or the first line of a refill run)
        pending: dict[int, tuple[int, int]] = {}
        moves: dict[int, int] = {}            # zone_locked index -> alloc index
        moved: set[int] = set()
        for i, ev in enumerate(evs):
            if ev.softirq or (len(ev.flags) > 2 and ev.flags[2] in "hH"):
                continue
            name = ev.name
            if name == "mm_page_alloc_zone_locked":
                prev = pending.get(ev.pid)
                if ev.fields["percpu_refill"] and prev is not None \
                        and evs[prev[1]].fields["percpu_refill"]:
                    pending[ev.pid] = (i, prev[1])       # the refill run goes on
                else:
                    pending[ev.pid] = (i, i)
                continue
            zp = pending.pop(ev.pid, None)
            if zp is None or name != "mm_page_alloc" or id(ev) in self.isolations:
                continue
            z, first = zp
            zl = evs[first]
            if i != z + 1 and (zl.fields["pfn"], zl.fields["order"]) == \
                    (ev.fields["pfn"], ev.fields["order"]):
                moves[z] = i
                moved.add(i)
                self.decided_at[id(ev)] = evs[z]
        if not moves:
            return
        out: list[TraceEvent] = []
        for i, ev in enumerate(evs):
            if i in moved:
                continue
            out.append(ev)
            j = moves.get(i)
            if j is not None:
                out.append(evs[j])
        self.events = out
        self.stats["alloc_decided_at_zone_locked"] += len(moves)

    def pair_batched_frees(self) -> None:
        """A batched free reaches the pcp list at its ``mm_page_free_batched`` line, not at
        its ``mm_page_free`` line: ``free_unref_folios()`` (7.2; ``free_unref_page_list()``
        in 6.1) traces ``free_pages_prepare()`` for the whole batch first, then commits each
        page with ``trace_mm_page_free_batched()`` (traces README 9.6, 12).  Fills ``skip``
        (the free lines) and ``deferred`` (batched line -> its free)."""
        pending: dict[int, int] = {}
        for i, ev in enumerate(self.events):
            if ev.name == "mm_page_free":
                pending[ev.fields["pfn"]] = i
            elif ev.name == "mm_page_free_batched":
                jf = pending.pop(ev.fields["pfn"], None)
                if jf is not None:
                    self.skip.add(jf)
                    self.deferred[i] = self.events[jf]
            elif ev.name == "mm_page_alloc":
                pending.pop(ev.fields["pfn"], None)

    def infer_pcp_skipping_frees(self) -> None:
        """A softirq free whose page is next taken by a ``zone_locked`` (buddy) event went
        straight to the buddy lists: ``__free_frozen_pages()`` (7.2; ``free_unref_page()``
        in 6.1) found the pcp lock held by the task it interrupted (``pcp_spin_trylock()``
        failed) and called ``free_one_page()`` (traces README 9.5).  Inferred by looking
        ahead; fills ``to_buddy`` (ids of such free events)."""
        last_free: dict[int, int] = {}
        evs = self.events
        for i, ev in enumerate(evs):
            if ev.name == "mm_page_free":
                last_free[ev.fields["pfn"]] = i
            elif ev.name in ("mm_page_alloc_zone_locked", "mm_page_alloc", "mm_page_pcpu_drain"):
                jf = last_free.pop(ev.fields["pfn"], None)
                if jf is not None and ev.name == "mm_page_alloc_zone_locked" and evs[jf].softirq:
                    self.to_buddy.add(id(evs[jf]))
        if self.infer_pcp_lock_held:
            self.infer_frees_under_held_pcp_lock()

    def infer_frees_under_held_pcp_lock(self) -> None:
        """Softirq frees that interrupted a task holding its pcp lock went to the buddy
        lists: the pcp lock only disables preemption, so softirqs run under it (at the
        ``zone->lock`` unlock with IRQs restored, or at any interrupt) and their
        ``pcp_spin_trylock()`` fails: ``free_one_page()`` (traces README 9.5).  The lock is
        known held when the burst of softirq events sits right between two lines of one
        task that are both

        * ``mm_page_pcpu_drain``: ``free_pcppages_bulk()`` runs under the pcp lock (from
          ``free_frozen_page_commit()``, ``drain_pages_zone()``, ``decay_pcp_high()`` in
          7.2; ``free_unref_page_commit()``, ``drain_pages_zone()`` in 6.1), or
        * ``mm_page_free_batched``: ``free_unref_folios()`` (7.2) keeps the pcp lock from one
          commit to the next of a zone; ``free_unref_page_list()`` (6.1) too, except that it
          drops it after every ``SWAP_CLUSTER_MAX`` (32) commits.

        Between two lines means between two lines of the same CPU: the lock is per CPU
        and so are the softirqs that find it held (other CPUs' lines in between are
        ignored)."""
        batch_limit = 32 if self.m.profile.kernel == "6.1" else 0
        for evs in self.events_per_cpu():
            n = len(evs)
            i = 0
            while i < n:
                if not evs[i].softirq:
                    i += 1
                    continue
                j = i
                while j < n and evs[j].softirq:
                    j += 1
                held = False
                if 0 < i and j < n and evs[i - 1].pid == evs[j].pid:
                    name = evs[i - 1].name
                    if name == evs[j].name == "mm_page_pcpu_drain":
                        held = True
                    elif name == evs[j].name == "mm_page_free_batched":
                        held = not batch_limit or \
                            self._batched_commits_before(evs, i, evs[i - 1].pid) % batch_limit != 0
                if held:
                    for e in evs[i:j]:
                        if e.name == "mm_page_free" and id(e) not in self.to_buddy:
                            self.to_buddy.add(id(e))
                            self.stats["free_under_pcp_lock_inferred"] += 1
                i = j

    def indices_per_cpu(self) -> list[list[int]]:
        """The indices of the walked events of each CPU, in trace order (one list per CPU
        with events)."""
        per: dict[int, list[int]] = {}
        for i, ev in enumerate(self.events):
            per.setdefault(ev.cpu, []).append(i)
        return [per[c] for c in sorted(per)]

    def events_per_cpu(self) -> list[list[TraceEvent]]:
        """The walked events of each CPU, in trace order (one list per CPU with events)."""
        evs = self.events
        return [[evs[i] for i in idx] for idx in self.indices_per_cpu()]

    @staticmethod
    def _batched_commits_before(evs: list[TraceEvent], i: int, pid: int) -> int:
        """``mm_page_free_batched`` lines of task ``pid`` in its run of batched commits that
        ends right before event ``i`` of ``evs`` (one CPU's events; interrupts and its
        drains inside the run skipped)."""
        count = 0
        k = i - 1
        while k >= 0:
            e = evs[k]
            if e.softirq or (len(e.flags) > 2 and e.flags[2] == "h"):
                pass
            elif e.pid == pid and e.name == "mm_page_free_batched":
                count += 1
            elif not (e.pid == pid and e.name == "mm_page_pcpu_drain"):
                break
            k -= 1
        return count

    def find_vfree_contig_runs(self) -> None:
        """Runs of consecutive order-0 frees of contiguous PFNs by a kworker (vfree's
        deferred free work) at preempt depth 0, with no batched partner: 7.2 ``vfree()`` ->
        ``free_pages_bulk()`` -> ``__free_contig_range()``, whose
        ``free_prepared_contig_range()`` frees the run in naturally aligned chunks after
        tracing each page (traces README 9.2; see :meth:`free_contig_run`).  Compaction's
        and split folios' frees of contiguous pages come from the task itself and reach the
        pcp lists one by one; page-table and other single frees under a lock show preempt
        depth >= 1.  6.1's ``vfree()`` frees page by page: nothing to infer.  Consecutive
        means consecutive among the lines of the kworker's CPU.  Fills ``contig_run``
        (event index -> (first, last) of its run) and ``contig_members``."""
        if self.m.profile.kernel != "7.2":
            return
        evs, skip = self.events, self.skip
        for idx in self.indices_per_cpu():
            a = 0
            n_ev = len(idx)
            while a < n_ev:
                i = idx[a]
                ev = evs[i]
                b = a
                if ev.name == "mm_page_free" and ev.fields["order"] == 0 and ev.flags[3:4] == "." \
                        and not ev.softirq and i not in skip and ev.task.startswith("kworker"):
                    while b + 1 < n_ev:
                        q = idx[b + 1]
                        nx = evs[q]
                        if not (nx.name == "mm_page_free" and nx.fields["order"] == 0
                                and nx.pid == ev.pid and nx.flags[3:4] == "." and not nx.softirq
                                and q not in skip
                                and nx.fields["pfn"] == evs[idx[b]].fields["pfn"] + 1):
                            break
                        b += 1
                if b > a:
                    members = idx[a:b + 1]
                    for q in members:
                        self.contig_run[q] = (members[0], members[-1])
                    self.contig_members[members[-1]] = members
                a = b + 1

    def index_by_pfn(self) -> None:
        """Per PFN, the sorted (index, event name, pid) of the events naming it: the
        lookahead of :meth:`explain_skipped_pcp_page` (a batched free counts at its
        ``mm_page_free_batched`` line)."""
        by_pfn = self.by_pfn
        for i, ev in enumerate(self.events):
            if ev.name in ("mm_page_alloc", "mm_page_free", "mm_page_alloc_zone_locked",
                           "mm_page_pcpu_drain") and i not in self.skip:
                by_pfn.setdefault(ev.fields["pfn"], []).append((i, ev.name, ev.pid))
        for i, dev in list(self.deferred.items()):
            by_pfn.setdefault(dev.fields["pfn"], []).append((i, "mm_page_free", dev.pid))
        for lst in by_pfn.values():
            lst.sort()

    def next_event(self, pfn: int, after: int) -> tuple[str, int]:
        """(name, pid) of the next event naming ``pfn`` after index ``after``."""
        lst = self.by_pfn.get(pfn)
        if not lst:
            return "", 0
        j = bisect.bisect_right(lst, (after, "\xff", 1 << 62))
        return (lst[j][1], lst[j][2]) if j < len(lst) else ("", 0)

    # ------------------------------------------------------------------ inferences
    def fold_vmstat(self, ts: float) -> None:
        """``vmstat_update()`` -> ``refresh_cpu_vm_stats()`` folds the per-CPU vmstat
        deltas about once a second (``round_jiffies_relative(sysctl_stat_interval)``, both
        kernels); the watermark checks read the folded ``NR_FREE_PAGES``, so the fold times
        matter at the watermarks: fold at whole trace seconds.  ``vmstat_update()`` is per-CPU
        work, each CPU folding its own deltas: every CPU's are folded at each whole second
        (the rule the synthetic captures' ``Machine.tick()`` follows; the kernel's
        ``round_jiffies`` skews CPU n by 3n jiffies, which no trace line shows)."""
        if ts < self.next_fold:
            return
        self.next_fold = float(int(ts) + 1)
        for z in self.m.zones:
            if not z.pcp:
                continue
            diff = z.vm_free_diff
            for cpu, d in enumerate(diff):
                if d:
                    z.vm_nr_free_pages += d
                    diff[cpu] = 0
        self.stats["vmstat_folds"] += 1

    def explain_skipped_pcp_page(self, q: int, i: int, pid: int, order: int) -> str:
        """Which event-less path took pcp page ``q`` before event ``i`` (traces README 9):

        ``bulk_alloc_inferred``: its next event is its free: ``alloc_pages_bulk_noprof()``
        (7.2; ``__alloc_pages_bulk()`` in 6.1) took it off the pcp list with no
        ``mm_page_alloc`` (9.1), or it has no later event and the next dump holds it
        allocated; ``preempted_alloc_inferred``: its next event is another
        task's ``mm_page_alloc``: that task took it and was preempted before
        ``trace_mm_page_alloc()`` at the end of ``__alloc_frozen_pages_noprof()`` (6.1
        ``__alloc_pages()``); ``free_skipped_pcp_inferred``: it was freed in softirq under a
        held pcp lock and went to the buddy lists (``free_one_page()``, 9.5).  ``""``: none."""
        nxt_name, nxt_pid = self.next_event(q, i)
        if nxt_name == "mm_page_free" and order == 0:
            return "bulk_alloc_inferred"
        if not nxt_name and order == 0 and self.next_free is not None and not self.next_free[q]:
            # no later event, and the next dump holds it allocated: taken without an event
            return "bulk_alloc_inferred"
        if nxt_name == "mm_page_alloc" and nxt_pid != pid:
            return "preempted_alloc_inferred"
        if q in self.softirq_freed and _pcp_order(order):
            return "free_skipped_pcp_inferred"
        return ""

    def apply_lookahead(self, p: int, k: int, i: int, pid: int, order: int) -> int:
        """Explain a miss by event-less paths when that makes the model's pick the kernel's.

        If the model picked pcp page ``p`` and the kernel's page ``k`` sits further down a
        pcp list of the allocating CPU with no refill in between, and every page before it
        (``p``, then the list from its head down to ``k``) is explained by
        :meth:`explain_skipped_pcp_page`, apply those explanations and return ``k``: the
        model's choice was the kernel's.  Else return ``p``."""
        m, stats = self.m, self.stats
        mem = m.mem
        if not (p != k and p != NIL and mem.pstate[p] == PS_ALLOC | order
                and mem.pstate[k] == PS_PCP | order
                and not any(n_ == "mm_page_alloc_zone_locked" for (n_, _c, _a) in self.rec.events)):
            return p
        zone = m.alloc.zone_of(k)
        pcp = zone.pcp[self.cpu]
        if not pcp.list_base <= mem.plist[k] < pcp.list_base + m.profile.nr_pcp_lists:
            return p                 # on another CPU's list: no task here could take it
        why_p = self.explain_skipped_pcp_page(p, i, pid, order)
        chain: list[tuple[int, str]] = []
        q = mem.lhead[mem.plist[k]]
        while why_p and q != k and q != NIL and len(chain) < 64:
            why = self.explain_skipped_pcp_page(q, i, pid, order)
            if not why:
                break
            chain.append((q, why))
            q = mem.nxt[q]
        if not (why_p and q == k):
            return p
        for x, why in [(p, why_p)] + chain:
            stats[why] += 1
            if x != p:
                mem.list_del(x)
                pcp.count -= 1 << order
                mem.pstate[x] = PS_ALLOC | order
            if why == "preempted_alloc_inferred":
                self.reserved[x] = order
            elif why == "free_skipped_pcp_inferred":
                self.softirq_freed.discard(x)
                m.alloc.free_one_page(zone, x, order, 0)
        mem.list_del(k)
        pcp.count -= 1 << order
        mem.pstate[k] = PS_ALLOC | order
        return k

    def repair_refill(self, model: list[int], kernel: list[int], k: int, order: int,
                      req_mt: int) -> None:
        """Continue from the kernel's pcp refill (``rmqueue_bulk()``, both kernels): pages
        the model moved to the pcp list and the kernel did not go back to the buddy lists;
        the kernel's go from the buddy lists to the list's tail (``list_add_tail()``), in its
        order, on the pcp of the refilling CPU (:attr:`cpu`)."""
        m, stats = self.m, self.stats
        kset = set(kernel)
        for q in model:
            if q not in kset and m.mem.pstate[q] == PS_PCP | order:
                m.alloc.drain_pcp_page(q, order)
                stats["refill_pages_returned"] += 1
        mt = req_mt if 0 <= req_mt < 3 else 1
        if kernel:
            # the kernel refills an empty list: pages the model still holds on it are
            # ones the kernel's list no longer had (resync them to the buddy lists)
            zone = m.alloc.zone_of(kernel[0])
            lid = zone.pcp[self.cpu].list_base + m.profile.order_to_pindex(mt, order)
            for q in m.mem.list_entries(lid):
                if q not in kset:
                    m.alloc.drain_pcp_page(q, order)
                    stats["pcp_list_resync"] += 1
        mset = set(model)
        for q in kernel:
            if q == k or q in mset or m.mem.pstate[q] == PS_PCP | order:
                continue
            if not take_page(m, q, order):
                stats["refill_page_not_free_in_model"] += 1
                continue
            m.alloc.pcp_insert(m.alloc.zone_of(q).pcp[self.cpu], q, mt, order, tail=True)
            stats["refill_pages_taken"] += 1

    def apply_refill_without_alloc(self) -> None:
        """The kernel's pending pcp refill did not serve the next ``mm_page_alloc``: an
        allocation served by a refill takes the refilled list's head, its first page
        (``rmqueue_bulk()`` adds at the tail of the empty list, ``__rmqueue_pcplist()`` pops
        the head; both kernels), so this refill fed an ``alloc_pages_bulk()`` that has no
        ``mm_page_alloc`` (traces README 9.1).  Not inferred after an
        ``mm_page_alloc_extfrag``: a 7.2 claim hands out the claimed block's first page,
        which has no ``zone_locked`` line (README 9.3).  Apply it to the pcp list of its own type
        (:meth:`repair_refill`), not to the list of the next request."""
        mt, order = self.kernel_refill_type
        refill, self.kernel_refill = self.kernel_refill, []
        self.stats["refill_without_alloc_inferred"] += 1
        if self.follow_drains:
            self.repair_refill([], refill, NIL, order, mt)

    def give_back(self, p: int, order: int, req_mt: int) -> None:
        """Undo the model's allocation of ``p`` where it came from: the head of the pcp
        list it was popped from (``__rmqueue_pcplist()`` takes the head of the allocating
        CPU's list; pcp hits and refills both use the request's migratetype list), or the
        buddy lists.  A pick the
        model's state holds only because a softirq free skipped the pcp lists in the kernel
        (README 9.5, ``free_one_page()``) goes to the buddy lists."""
        m = self.m
        m.mem.pstate[p] = 0
        m.mem.pkind[p] = 0
        zone = m.alloc.zone_of(p)
        ft = m.mem.get_pfnblock_freetype(p)
        if _pcp_order(order) and p in self.softirq_freed:
            self.stats["free_skipped_pcp_inferred"] += 1
            self.softirq_freed.discard(p)
            m.mem.pstate[p] = PS_ALLOC | order
            m.alloc.free_one_page(zone, p, order, 0)
        elif _pcp_order(order):
            mt = req_mt if 0 <= req_mt < 3 else (ft & 7 if (ft & 7) < 3 else 1)
            m.alloc.pcp_insert(zone.pcp[self.cpu], p, mt, order, tail=False)
        else:
            m.mem.pstate[p] = PS_ALLOC | order
            m.alloc.free_one_page(zone, p, order, 0)

    def describe(self, q: int, order: int) -> str:
        """Where the model held page ``q`` when the kernel handed it out."""
        m = self.m
        head, horder, st = covering_block(m, q)
        if head == NIL:
            return "unknown"
        where = {PS_PCP: "on a pcp list", PS_BUDDY: "free in the buddy lists",
                 PS_ALLOC: "allocated"}.get(st, "elsewhere")
        if st == PS_PCP:
            mem = m.mem
            lid = mem.plist[head]
            pos = 0
            x = mem.lhead[lid]
            while x != NIL and x != head and pos < 4096:
                x = mem.nxt[x]
                pos += 1
            where += f" at position {pos}"
        elif st == PS_BUDDY:
            where += f" (order-{horder} block {head:#x})"
        return where

    def preview_isolate_freepages(self, lo: int, hi: int, stride: int) -> tuple[int, int]:
        """(nr_scanned, nr_taken) that ``isolate_freepages_block(strict=false)`` (both
        kernels) would report over [lo, hi) with ``stride`` on the model's state, without
        taking anything: every ``stride``-th pfn is visited, a compound page ending inside
        the range is stepped over whole, a free buddy block is taken whole and the walk
        resumes ``stride`` pages after it (the range's end is where the kernel stopped)."""
        ps = self.m.mem.pstate
        pkind = self.m.mem.pkind
        owners = self.m.alloc.owners
        blockpfn = lo
        scanned = taken = 0
        while blockpfn < hi:
            scanned += 1
            s = ps[blockpfn]
            st, order = s & PS_MASK, s & ORDER_MASK
            if st == PS_ALLOC and order and (pkind[blockpfn] & KIND_COMPOUND or (
                    owners is not None and blockpfn in owners.pfn_h)):
                if blockpfn + (1 << order) <= hi:
                    blockpfn += (1 << order) - 1
                    scanned += (1 << order) - 1
            elif st == PS_BUDDY:
                scanned += (1 << order) - 1
                taken += 1 << order
                blockpfn += (1 << order) - 1
            blockpfn += stride
        return scanned, taken

    def isolate_freepages(self, ev: TraceEvent) -> None:
        """``mm_compaction_isolate_freepages``: compaction's free scanner took the free
        blocks of ``range`` off the buddy lists with ``__isolate_free_page()``, which has no
        kmem event (traces README 9.4); the migration targets carved from them are used
        without ``mm_page_alloc``, and the unused ones come back with ``mm_page_free``
        (``release_free_list()`` in 7.2, ``release_freepages()`` in 6.1).

        Runs the model's :func:`pagealloc.mm.compaction.isolate_freepages_block` over the
        range, with the stride of ``isolate_freepages()`` (1, or doubling to 32 after
        blocks that gave nothing) that reproduces the event's ``nr_scanned`` and
        ``nr_taken`` on the model's state (:meth:`preview_isolate_freepages`; stride 1 if
        none does), then holds every isolated block as allocated with an unknown layout
        (``KIND_UNKNOWN``: compaction splits it into targets of any order), so that the
        owners' later frees of targets and the release of unused pages apply to it."""
        mt = _ISOLATE_FREE.search(ev.text)
        if mt is None:
            self.stats["compaction_isolate_unparsed"] += 1
            return
        lo, hi = int(mt.group(1), 16), int(mt.group(2), 16)
        nr_scanned, nr_taken = int(mt.group(3)), int(mt.group(4))
        if not nr_taken:
            return
        from pagealloc.mm.compaction import CompactControl, isolate_freepages_block
        m, stats = self.m, self.stats
        m.alloc.cpu = ev.cpu                 # the compacting CPU accounts the isolated pages
        if not (0 <= lo < hi <= m.mem.max_pfn) or m.mem.pb_zone[lo >> PAGEBLOCK_ORDER] == 0xFF:
            stats["compaction_isolate_out_of_range"] += 1
            return
        want = (nr_scanned, nr_taken)
        stride = next((sd for sd in _STRIDES if self.preview_isolate_freepages(lo, hi, sd) == want), 0)
        if not stride and (_split_free_block_at(m, hi) | _split_free_block_at(m, lo)):
            # the model holds a free block across an end of the range where the kernel
            # had free blocks inside it (a scanner ends a range at the end of the block
            # it took, or at the pageblock end; it takes blocks whose head it visits):
            # the model missed a split, e.g. where compaction's untraced fast path
            # (fast_isolate_freepages()) or its capture took pages
            stats["compaction_isolate_split_at_ends"] += 1
            stride = next((sd for sd in _STRIDES if self.preview_isolate_freepages(lo, hi, sd) == want), 0)
        if not stride:
            # the model's state in the range differs from the kernel's: scan it as the
            # kernel's nr_scanned says (stride 1 visits every pfn: nr_scanned == hi - lo)
            stats["compaction_isolate_stride_unknown"] += 1
            stride = min(_STRIDES, key=lambda sd: (abs(self.preview_isolate_freepages(lo, hi, sd)[0]
                                                       - nr_scanned), sd))
        cc = CompactControl(m.alloc.zone_of(lo), -1)
        cc.nr_migratepages = 1 << 62          # the range's end is where the kernel stopped
        taken, _reached = isolate_freepages_block(m.alloc, cc, lo, hi, stride)
        stats["compaction_isolated_pages"] += taken
        stats["compaction_isolated_kernel"] += nr_taken
        if taken != nr_taken:
            stats["compaction_isolate_mismatch"] += 1
        mem = m.mem
        for order, heads in enumerate(cc.freepages):
            for head in heads:
                if mem.pstate[head] == PS_ISOLATED | order:
                    mem.pstate[head] = PS_ALLOC | order
                    mem.pkind[head:head + (1 << order)] = bytes([KIND_UNKNOWN]) * (1 << order)

    # ------------------------------------------------------------------ events
    def on_alloc(self, i: int, ev: TraceEvent) -> bool:
        """One ``mm_page_alloc``: the model decides, the result is scored, the state is
        repaired to the kernel's choice.  False when the limit check is to be skipped."""
        m, stats, by_order, by_path = self.m, self.stats, self.by_order, self.by_path
        f = ev.fields
        if f["pfn"] < 0:
            stats["alloc_failed_in_kernel"] += 1
            return False
        k, order = f["pfn"], f["order"]
        if self.kernel_refill and self.kernel_refill[0] != k and self.infer_bulk_refill \
                and not self.extfrag_since_alloc:
            self.apply_refill_without_alloc()
        self.extfrag_since_alloc = False
        if self.reserved.get(k, -1) == order:
            # the model chose this page when the kernel really took it (apply_lookahead)
            del self.reserved[k]
            key = f"order{order}/mt{f['migratetype']}"
            by_order[key + ":n"] += 1
            by_order[key + ":match"] += 1
            stats["allocs"] += 1
            stats["match"] += 1
            self.kernel_refill = []
            return False
        rec = self.rec
        rec.events.clear()
        p = m.alloc.alloc_pages(f["gfp_flags"], order, self.cpu)
        p = self.apply_lookahead(p, k, i, ev.pid, order)
        stats["extfrag_model"] += sum(1 for e in rec.events if e[0] == "mm_page_alloc_extfrag")
        model_refill = [a[0] for (n_, _c, a) in rec.events if n_ == "mm_page_alloc_zone_locked" and a[3]]
        kernel_refill = self.kernel_refill
        if kernel_refill or model_refill:
            stats["refills"] += 1
            stats["refills_equal"] += kernel_refill == model_refill
            if kernel_refill != model_refill and len(self.refill_misses) < _FIRST_REFILL_MISSES:
                self.refill_misses.append(
                    f"line {ev.lineno}: kernel {len(kernel_refill)} pages "
                    f"{[hex(x) for x in kernel_refill]} model "
                    f"{len(model_refill)} {[hex(x) for x in model_refill]}")
        self.kernel_refill = []
        key = f"order{order}/mt{f['migratetype']}"
        by_order[key + ":n"] += 1
        stats["allocs"] += 1
        # the model's path: a pcp hit, a pcp refill (rmqueue_bulk), the buddy lists
        # (rmqueue_buddy) or a fallback (claim/steal: an extfrag event), or it failed
        names = [n_ for (n_, _c, _a) in rec.events]
        path = ("failed" if p == NIL else "fallback" if "mm_page_alloc_extfrag" in names
                else "pcp_refill" if model_refill
                else "buddy" if "mm_page_alloc_zone_locked" in names else "pcp")
        by_path[path + ":n"] += 1
        if p == k:
            stats["match"] += 1
            by_order[key + ":match"] += 1
            by_path[path + ":match"] += 1
        else:
            if len(self.first_misses) < _FIRST_MISSES:
                kz = m.alloc.zone_of(k).name if 0 <= k < m.mem.max_pfn else "?"
                mz = m.alloc.zone_of(p).name if p != NIL else "-"
                self.first_misses.append(
                    f"line {ev.lineno}: kernel {k:#x} ({kz}) model {p:#x} ({mz}, via {path}) "
                    f"order {order} gfp {f['gfp_flags']:#x}; the kernel's page was "
                    f"{self.describe(k, order)} in the model")
            if p != NIL:
                self.give_back(p, order, f["migratetype"])
            if not take_page(m, k, order):
                stats["kernel_page_not_free_in_model"] += 1
        if self.follow_drains and kernel_refill != model_refill:
            self.repair_refill(model_refill, kernel_refill, k, order, f["migratetype"])
        return True

    def free_contig_run(self, i: int) -> bool:
        """A free inside a 7.2 vfree run (:meth:`find_vfree_contig_runs`): at the run's last
        page, ``free_prepared_contig_range()`` frees it in naturally aligned chunks of up to
        ``MAX_PAGE_ORDER`` with no further event (traces README 9.2).  Only pages whose
        allocation the trace never showed (in use at the dump, block order unknown) are
        freed so; a vfree of a block the trace allocated is handled by
        :func:`prepare_free`, and pages of a split folio reach the pcp lists one by one.
        False when the limit check is to be skipped."""
        m, stats = self.m, self.stats
        _start, end = self.contig_run[i]
        if i != end:
            return False
        pfns = [self.events[q].fields["pfn"] for q in self.contig_members[end]]
        if all(m.mem.pstate[q] == PS_ALLOC and m.mem.pkind[q] & KIND_UNKNOWN for q in pfns):
            pfn, left = pfns[0], len(pfns)
            while left:
                o = min((pfn & -pfn).bit_length() - 1 if pfn else 10, left.bit_length() - 1, 10)
                kind = m.mem.pkind[pfn] & ~KIND_COMPOUND
                m.mem.pstate[pfn + 1:pfn + (1 << o)] = bytes((1 << o) - 1)
                m.mem.pkind[pfn + 1:pfn + (1 << o)] = bytes((1 << o) - 1)
                m.mem.pstate[pfn] = PS_ALLOC | o
                m.mem.pkind[pfn] = kind
                m.alloc.free_frozen_pages(pfn, o, self.cpu)
                stats["free_contig_chunk_order%d" % o] += 1
                pfn += 1 << o
                left -= 1 << o
        else:
            for q in pfns:
                how = prepare_free(m, q, 0, self.pending_vfree, self.cpu)
                stats["free_" + how] += 1
                if how in ("ok", "split", "coalesce"):
                    m.alloc.free_frozen_pages(q, 0, self.cpu)
        return True

    def on_free(self, ev: TraceEvent) -> None:
        """One ``mm_page_free`` (at its ``mm_page_free_batched`` line when batched): through
        the model's free path, after :func:`prepare_free`; a free of a page the model holds
        free was an ``alloc_pages_bulk()`` page (README 9.1); a softirq free inferred to skip
        the pcp lists (:meth:`infer_pcp_skipping_frees`) goes to ``free_one_page()``."""
        m, stats = self.m, self.stats
        f = ev.fields
        if ev.softirq and ev.flags[3:4].isdigit() and int(ev.flags[3]) >= 2:
            # README 9.5: every pcp-skipping free seen had preempt depth >= 2
            self.softirq_freed.add(f["pfn"])
        else:
            self.softirq_freed.discard(f["pfn"])
        how = prepare_free(m, f["pfn"], f["order"], self.pending_vfree, self.cpu)
        if how == "already_free" and take_page(m, f["pfn"], f["order"]):
            how = "bulk_allocated"
        stats["free_" + how] += 1
        if how in ("ok", "split", "coalesce", "bulk_allocated"):
            if id(ev) in self.to_buddy and _pcp_order(f["order"]):
                stats["free_skipped_pcp"] += 1
                zone = m.alloc.free_pages_prepare(f["pfn"], f["order"])
                m.alloc.free_one_page(zone, f["pfn"], f["order"], 0)
            else:
                m.alloc.free_frozen_pages(f["pfn"], f["order"], self.cpu)

    def on_drain(self, ev: TraceEvent) -> None:
        """``mm_page_pcpu_drain``: decide mode follows the kernel's pcp drains (every pcp
        -> buddy move is traced by ``free_pcppages_bulk()``); only the allocations are the
        model's to choose.

        The line's CPU is the drainer's, not always the owner's: ``__drain_all_pages()``
        drains every CPU's lists from the calling CPU (``drain_pages_zone(cpu, zone)``,
        7.2 and 6.1), so the page leaves whichever CPU's pcp list holds it
        (``PageAllocator.drain_pcp_page()``), and the buddy accounting
        (``__free_one_page()`` -> ``account_freepages()``) goes to the drainer's vmstat
        delta (:attr:`cpu`).  The line's ``migratetype`` is the free list the page goes
        to: on 6.1 the type cached in ``page->index`` at free or refill
        (``get_pcppage_migratetype()``; the pageblock's when the zone has isolated
        pageblocks), which the model can have lost (a page taken back from the buddy
        lists by a repair), so it is the source; on 7.2 ``get_pfnblock_migratetype()``,
        checked against the model's pageblock (``drain_migratetype_differs``)."""
        if not self.follow_drains:
            return
        f = ev.fields
        pfn, order, mt = f["pfn"], f["order"], f["migratetype"]
        m, stats = self.m, self.stats
        mem = m.mem
        if 0 <= pfn < mem.max_pfn and mem.pstate[pfn] == PS_PCP | order:
            if m.profile.pcp_cached_migratetype:
                # 6.1 prints Isolate as 4; a pcp page's cached type is U/M/R or HighAtomic
                if not m.alloc.zone_of(pfn).nr_isolate_pageblock and 0 <= mt <= MIGRATE_HIGHATOMIC \
                        and mem.pkind[pfn] != mt:
                    stats["drain_cached_type_from_trace"] += 1
                    mem.pkind[pfn] = mt
            elif mt != mem.get_pfnblock_migratetype(pfn):
                stats["drain_migratetype_differs"] += 1
        stats["drains_applied" if m.alloc.drain_pcp_page(pfn, order)
              else "drains_not_on_model_pcp"] += 1

    def set_cpu(self, cpu: int) -> None:
        """Make ``cpu`` the running CPU (``smp_processor_id()``): the model's allocations,
        frees and pcp repairs use its pcp lists, its vmstat delta is the one accounted, and
        the pending refill state (:attr:`kernel_refill`) is its own."""
        if cpu != self.cpu:
            self.other_cpus[self.cpu] = (self.kernel_refill, self.kernel_refill_type,
                                         self.extfrag_since_alloc)
            self.kernel_refill, self.kernel_refill_type, self.extfrag_since_alloc = \
                self.other_cpus.pop(cpu, ([], (0, 0), False))
            self.cpu = cpu
        self.m.alloc.cpu = cpu

    def step(self, i: int, ev: TraceEvent, cpu: int | None = None) -> bool:
        """Apply event ``i`` on ``cpu`` (default the event's own; a batched free is applied
        at its ``mm_page_free_batched`` line, on that line's CPU, which commits it to its
        pcp list); False when the limit check is to be skipped."""
        self.set_cpu(ev.cpu if cpu is None else cpu)
        name = ev.name
        if name == "mm_page_alloc_extfrag":
            self.stats["extfrag_kernel"] += 1
            self.extfrag_since_alloc = True
            return False
        if name == "mm_page_alloc_zone_locked":
            if ev.fields["percpu_refill"]:
                if not self.kernel_refill:
                    self.kernel_refill_type = (ev.fields["migratetype"], ev.fields["order"])
                self.kernel_refill.append(ev.fields["pfn"])
            return False
        if name == "mm_page_pcpu_drain":
            self.on_drain(ev)
            return False
        if name == "mm_page_alloc":
            return self.on_alloc(i, ev)
        if name == "mm_page_free" and i in self.contig_run:
            return self.free_contig_run(i)
        if name == "mm_page_free":
            self.on_free(ev)
        return True

    # ------------------------------------------------------------------ the walk
    def run(self) -> dict[str, object]:
        """Walk the interval; return the result (see the class docstring)."""
        self.load_next_dump()
        self.events = self.select_events()
        self.reorder_allocs_before_softirq_frees()
        if self.decide_at_zone_locked:
            self.decide_buddy_allocs_at_zone_locked()
        self.pair_batched_frees()
        self.infer_pcp_skipping_frees()
        self.find_vfree_contig_runs()
        self.index_by_pfn()
        self.check_cpus()
        events, skip, deferred, limit = self.events, self.skip, self.deferred, self.limit
        self.next_fold = float(int(events[0].ts) + 1) if events else 0.0
        isolations = self.isolations
        stopped = False
        decided_at = self.decided_at
        kswapd = bool(self.kswapd_marks)
        for i, ev in enumerate(events):
            at = decided_at.get(id(ev), ev) if decided_at else ev
            self.fold_vmstat(at.ts)
            if kswapd:
                self.kswapd_threshold(at.lineno)
            if isolations:
                for iso in isolations.get(id(ev), ()):
                    self.isolate_freepages(iso)
            if i in skip:
                continue
            if self.step(i, deferred.get(i, ev), at.cpu) and limit and self.stats["allocs"] >= limit:
                stopped = True
                break
        if not stopped:
            for iso in self.trailing_isolations:
                self.isolate_freepages(iso)
            if kswapd:
                self.kswapd_threshold(math.inf)
        return self.result()

    def result(self) -> dict[str, object]:
        """The result dict; with the next dump reached (no ``limit``), the model's state
        against that dump (:func:`compare_state`): the allocations were repaired to the
        kernel's choices, so what differs comes from paths without events and from the
        model's free-path placement."""
        stats = self.stats
        rate = stats["match"] / max(1, stats["allocs"])
        out: dict[str, object] = {
            "capture": str(self.capture), "dump": self.dump_id, "events": len(self.events),
            "match_rate": round(rate, 4),
            "stats": dict(stats), "by_order": dict(sorted(self.by_order.items())),
            "by_path": dict(sorted(self.by_path.items())),
            "first_misses": self.first_misses, "first_refill_misses": self.refill_misses}
        if self.next_ref is not None:
            out["next_dump"] = self.dump_id + 1
            out["state_at_next_dump"] = compare_state(self.m, self.next_ref)
        return out

    def check_cpus(self) -> None:
        """Every walked event (and compaction isolation) ran on a CPU the machine has: the
        dump's pagesets give the CPUs, so a line on another CPU is an error naming the
        trace file and line."""
        from pagealloc.workload.replay import check_event_cpus
        check_event_cpus(self.capture, self.events, self.ncpus)
        for isos in self.isolations.values():
            check_event_cpus(self.capture, isos, self.ncpus)
        check_event_cpus(self.capture, self.trailing_isolations, self.ncpus)

    def load_next_dump(self) -> None:
        """Load the next dump when the walk will reach it (no ``limit``): the comparison of
        :meth:`result`, and the free pages (buddy and pcp) that
        :meth:`explain_skipped_pcp_page` reads for pages with no later event."""
        nxt = self.dump_id + 1
        if self.interval.next_id == nxt and not self.limit and nxt in self.snaps:
            from pagealloc.workload.replay import free_pages_of
            self.next_ref = machine_from_snapshot(self.capture / self.snaps[nxt], self.profile)
            self.next_free = free_pages_of(self.next_ref)[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("--dump", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args(argv)
    print(json.dumps(DecideReplay(a.capture, a.dump, a.limit).run(), indent=1))
    return 0


__all__ = ["DecideReplay", "compare_state", "covering_block", "main", "pcp_holding", "prepare_free",
           "take_page"]


if __name__ == "__main__":
    sys.exit(main())
