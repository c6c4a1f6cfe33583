"""Decide mode: how often does the model pick the kernel's PFN? (the engine behind
``pagealloc replay --mode decide`` and ``pagealloc fidelity``)

Starts from an exact dump of a real trace, then walks the trace to the next dump. For every
successful ``mm_page_alloc`` the model allocates with the same gfp/order/CPU; the walk
counts whether it chose the kernel's PFN (overall, by order/migratetype and by path: pcp hit,
pcp refill, buddy, fallback), then continues from the kernel's state: the model's page goes
back where it came from and the kernel's page is taken from wherever the model holds it;
the kernel's pcp refills replace the model's (``rmqueue_bulk()``: every page moved is traced
with ``percpu_refill=1``) and the kernel's pcp drains are applied as traced
(``mm_page_pcpu_drain``; the model drains nothing by itself, ``PageAllocator.trace_drains``).
Frees go through the model's free path.  The per-CPU vmstat deltas are folded at whole trace
seconds (``vmstat_update()``).  When the walk reaches the next dump, the model's state is
compared with that dump (:func:`compare_state`: free pages and blocks, pageblock types,
pagetypeinfo cells, pcp pages).

Kernel paths without events (traces README section 9) are inferred from the trace itself and
counted in the stats: vfree blocks coming back whole (a traced block once all its pages are
freed; on 7.2 a kworker's run of contiguous order-0 frees in naturally aligned chunks, as
``free_prepared_contig_range()`` frees them), ``alloc_pages_bulk()`` pages, a task
preempted inside the allocator before its event fired, softirq frees that skip the pcp lists
(preempt depth >= 2), batched frees reaching the pcp list at their ``mm_page_free_batched``
line, and ``mm_page_alloc`` lines printed after softirq frees that happened later.  The three
lookahead inferences (bulk, preempted, softirq) are applied only when they make the model's
pick the kernel's.

    python -m pagealloc.workload.decide_probe ../shared/traces/linux-7.2/anon [--dump 1] [--limit N]
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pagealloc.machine import Machine
from pagealloc.mm.mmzone import KIND_COMPOUND, NIL, ORDER_MASK, PS_ALLOC, PS_BUDDY, PS_MASK, PS_PCP
from pagealloc.mm.tracepoints import TraceRecorder
from pagealloc.workload.ftrace import TraceEvent
from pagealloc.workload.state import KIND_UNKNOWN, machine_from_snapshot

if TYPE_CHECKING:
    from pagealloc.workload.replay import Interval


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


def take_page(m: Machine, pfn: int, order: int) -> bool:
    """Force the block [pfn, pfn + 2^order) allocated, wherever the model holds it."""
    mem, alloc = m.mem, m.alloc
    head, horder, st = covering_block(m, pfn)
    if head == NIL or st == PS_ALLOC:
        return False
    zone = alloc.zone_of(pfn)
    if st == PS_PCP:
        if head != pfn or horder != order:
            return False
        mem.list_del(pfn)
        mem.pstate[pfn] = 0
        pcp = next(p for p in zone.pcp if p.list_base <= mem.plist[pfn] < p.list_base + m.profile.nr_pcp_lists)
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


def prepare_free(m: Machine, pfn: int, order: int, pending: dict[int, set[int]]) -> str:
    """Make the model's state admit a free of (pfn, order); return how.  ``pending`` holds,
    per high-order block being freed page by page, the pages freed so far."""
    mem = m.mem
    s = mem.pstate[pfn]
    if s == PS_ALLOC | order:
        return "ok"
    head, horder, st = covering_block(m, pfn)
    if st in (PS_PCP, PS_BUDDY):
        return "already_free"
    if st == PS_ALLOC and horder > order and not mem.pkind[head] & KIND_COMPOUND \
            and not mem.pkind[head] & KIND_UNKNOWN and m.profile.kernel == "7.2":
        # vfree -> free_pages_bulk(): the pages are traced one by one, then the whole
        # aligned block goes back with no event (traces README 9.2)
        done = pending.setdefault(head, set())
        done.add(pfn)
        if len(done) == 1 << horder:
            del pending[head]
            m.alloc.free_frozen_pages(head, horder, 0)
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


def probe(capture: Path, dump_id: int = 1, limit: int = 0,
          profile: str | None = None, interval: "Interval | None" = None,
          follow_drains: bool = True) -> dict[str, object]:
    """Decide mode over one dump interval; ``interval`` (from
    :func:`pagealloc.workload.replay.load_intervals`) saves reading the trace again."""
    from pagealloc.workload.replay import dump_snapshots, load_intervals
    snaps = dump_snapshots(capture)
    m = machine_from_snapshot(capture / snaps[dump_id], profile)
    if interval is None:
        interval = next(iv for iv in load_intervals(capture, m.profile.gfp_table)
                        if iv.dump_id == dump_id)
    # allocations made before the dump and still outstanding at it: their real order
    # (traces README 12: read the trace before the dump to know what is outstanding)
    for pfn, (order, gfp) in interval.outstanding.items():
        size = 1 << order
        ps = m.mem.pstate
        if order and all(ps[q] == PS_ALLOC for q in range(pfn, pfn + size)):
            ps[pfn:pfn + size] = bytes(size)
            m.mem.pkind[pfn:pfn + size] = bytes(size)
            ps[pfn] = PS_ALLOC | order
            m.mem.pkind[pfn] = KIND_COMPOUND if gfp & 0x40000 else 0
    rec = TraceRecorder()
    m.attach(rec)
    m.alloc.trace_drains = follow_drains
    stats: collections.Counter[str] = collections.Counter()
    by_order: collections.Counter[str] = collections.Counter()
    by_path: collections.Counter[str] = collections.Counter()
    kernel_refill: list[int] = []
    pending_vfree: dict[int, set[int]] = {}
    first_misses: list[str] = []
    refill_misses: list[str] = []
    reached_next = interval.next_id == dump_id + 1
    events: list[TraceEvent] = []
    n_allocs = extra = 0
    for ev in interval.events:
        if ev.name in ("mm_compaction_isolate_freepages", "mm_migrate_pages"):
            continue
        events.append(ev)
        if ev.name == "mm_page_alloc":
            n_allocs += 1
        if limit and n_allocs >= limit:
            extra += 1
            if extra > 5000:      # room for the batched-free pairing below
                break
    interval_events = events
    # mm_page_alloc is emitted at the end of __alloc_pages(): softirq frees printed just
    # before it may have run after its page was taken.  If the page is not one of them,
    # apply the allocation first.
    i = 0
    while i < len(interval_events):
        ev = interval_events[i]
        if ev.name == "mm_page_free" and ev.softirq:
            j = i
            while j < len(interval_events) and interval_events[j].name in ("mm_page_free", "mm_page_free_batched") \
                    and interval_events[j].softirq:
                j += 1
            if j < len(interval_events) and interval_events[j].name == "mm_page_alloc" and not interval_events[j].softirq \
                    and interval_events[j].fields["pfn"] not in {e.fields["pfn"] for e in interval_events[i:j]}:
                interval_events.insert(i, interval_events.pop(j))
                stats["alloc_before_softirq_free"] += 1
                i = j + 1
                continue
        i += 1
    # A batched free reaches the pcp list at its mm_page_free_batched line, not at its
    # mm_page_free line (traces README 12): move such frees to the batched line.
    pending: dict[int, int] = {}
    deferred: dict[int, object] = {}
    skip: set[int] = set()
    for i, ev in enumerate(interval_events):
        if ev.name == "mm_page_free":
            pending[ev.fields["pfn"]] = i
        elif ev.name == "mm_page_free_batched":
            jf = pending.pop(ev.fields["pfn"], None)
            if jf is not None:
                skip.add(jf)
                deferred[i] = interval_events[jf]
        elif ev.name == "mm_page_alloc":
            pending.pop(ev.fields["pfn"], None)
    # A pcp-order free whose page is next taken by a zone_locked (buddy) event went straight
    # to the buddy lists: its pcp trylock failed (traces README 9.5).  Inferred by looking ahead.
    to_buddy: set[int] = set()
    softirq_freed: set[int] = set()
    last_free: dict[int, int] = {}
    for i, ev in enumerate(interval_events):
        if ev.name == "mm_page_free":
            last_free[ev.fields["pfn"]] = i
        elif ev.name in ("mm_page_alloc_zone_locked", "mm_page_alloc", "mm_page_pcpu_drain"):
            jf = last_free.pop(ev.fields["pfn"], None)
            if jf is not None and ev.name == "mm_page_alloc_zone_locked" and interval_events[jf].softirq:
                to_buddy.add(id(interval_events[jf]))
    # runs of consecutive order-0 frees of contiguous PFNs by a kworker (vfree's deferred
    # free work) at preempt depth 0 with no batched partner: 7.2's vfree through
    # free_pages_bulk() (see the mm_page_free branch); compaction's and split folios' frees
    # of contiguous pages come from the task itself and reach the pcp lists one by one
    contig_run: dict[int, tuple[int, int]] = {}
    if m.profile.kernel == "7.2":
        i = 0
        n_ev = len(interval_events)
        while i < n_ev:
            ev = interval_events[i]
            j = i
            # (preempt depth 0: vfree runs in task context; page-table and other single
            # frees under a lock show depth >= 1 and reach the pcp list one by one)
            if ev.name == "mm_page_free" and ev.fields["order"] == 0 and ev.flags[3:4] == "." \
                    and not ev.softirq and i not in skip and ev.task.startswith("kworker"):
                while j + 1 < n_ev:
                    nx = interval_events[j + 1]
                    if not (nx.name == "mm_page_free" and nx.fields["order"] == 0
                            and nx.pid == ev.pid and nx.flags[3:4] == "." and not nx.softirq
                            and j + 1 not in skip
                            and nx.fields["pfn"] == interval_events[j].fields["pfn"] + 1):
                        break
                    j += 1
            if j > i:
                for q in range(i, j + 1):
                    contig_run[q] = (i, j)
            i = j + 1
    # per PFN, the (index, event) sequence of the events naming it: lookahead for the
    # event-less bulk allocations (see the mm_page_alloc branch)
    by_pfn: dict[int, list[tuple[int, str, int]]] = {}
    for i, ev in enumerate(interval_events):
        if ev.name in ("mm_page_alloc", "mm_page_free", "mm_page_alloc_zone_locked",
                       "mm_page_pcpu_drain") and i not in skip:
            by_pfn.setdefault(ev.fields["pfn"], []).append((i, ev.name, ev.pid))
    for i, dev in list(deferred.items()):
        by_pfn.setdefault(dev.fields["pfn"], []).append((i, "mm_page_free", dev.pid))  # type: ignore[attr-defined]
    for lst in by_pfn.values():
        lst.sort()

    def next_event(pfn: int, after: int) -> tuple[str, int]:
        """(name, pid) of the next event naming ``pfn`` after index ``after``."""
        lst = by_pfn.get(pfn)
        if not lst:
            return "", 0
        j = bisect.bisect_right(lst, (after, "\xff", 1 << 62))
        return (lst[j][1], lst[j][2]) if j < len(lst) else ("", 0)

    # pages another, preempted task took before this point; their mm_page_alloc line comes
    # later (the event fires at the end of __alloc_pages())
    reserved: dict[int, int] = {}

    def explain(q: int, i: int, pid: int, order: int) -> str:
        """Which event-less path took pcp page ``q`` before event ``i`` (see below)."""
        nxt_name, nxt_pid = next_event(q, i)
        if nxt_name == "mm_page_free" and order == 0:
            return "bulk_alloc_inferred"
        if nxt_name == "mm_page_alloc" and nxt_pid != pid:
            return "preempted_alloc_inferred"
        if q in softirq_freed and (order <= 3 or order == 9):
            return "free_skipped_pcp_inferred"
        return ""

    def repair_refill(model: list[int], kernel: list[int], k: int, order: int,
                      req_mt: int) -> None:
        """Continue from the kernel's pcp refill (``rmqueue_bulk()``): pages the model
        moved to the pcp list and the kernel did not go back to the buddy lists; the
        kernel's go from the buddy lists to the list's tail, in its order."""
        kset = set(kernel)
        for q in model:
            if q not in kset and m.mem.pstate[q] == PS_PCP | order:
                m.alloc.drain_pcp_page(q, order)
                stats["refill_pages_returned"] += 1
        if kernel:
            # the kernel refills an empty list: pages the model still holds on it are
            # ones the kernel's list no longer had (resync them to the buddy lists)
            zone = m.alloc.zone_of(kernel[0])
            mt = req_mt if 0 <= req_mt < 3 else 1
            lid = zone.pcp[0].list_base + m.profile.order_to_pindex(mt, order)
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
            zone = m.alloc.zone_of(q)
            pcp = zone.pcp[0]
            mt = req_mt if 0 <= req_mt < 3 else 1
            m.mem.list_add_tail(pcp.list_base + m.profile.order_to_pindex(mt, order), q)
            m.mem.pstate[q] = PS_PCP | order
            if m.profile.pcp_cached_migratetype:
                m.mem.pkind[q] = mt
            pcp.count += 1 << order
            stats["refill_pages_taken"] += 1

    def describe(q: int, order: int) -> str:
        """Where the model held page ``q`` when the kernel handed it out."""
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

    def give_back(p: int, order: int, req_mt: int) -> None:
        """Undo the model's allocation of ``p`` where it came from."""
        m.mem.pstate[p] = 0
        m.mem.pkind[p] = 0
        zone = m.alloc.zone_of(p)
        ft = m.mem.get_pfnblock_freetype(p)
        if (order <= 3 or order == 9) and p in softirq_freed:
            # the model's pick was freed in softirq and the kernel never handed it
            # out: its free skipped the pcp (README 9.5); put it on the buddy lists
            stats["free_skipped_pcp_inferred"] += 1
            softirq_freed.discard(p)
            m.mem.pstate[p] = PS_ALLOC | order
            m.alloc.free_one_page(zone, p, order, 0)
        elif order <= 3 or order == 9:
            # back to the head of the pcp list it came from: the request's
            # migratetype (pcp hits and refills both use that list); 6.1 also
            # caches that type in page->index for the drain
            mt = req_mt if 0 <= req_mt < 3 else (ft & 7 if (ft & 7) < 3 else 1)
            pcp = zone.pcp[0]
            m.mem.list_add(pcp.list_base + m.profile.order_to_pindex(mt, order), p)
            m.mem.pstate[p] = PS_PCP | order
            if m.profile.pcp_cached_migratetype:
                m.mem.pkind[p] = mt
            pcp.count += 1 << order
        else:
            m.mem.pstate[p] = PS_ALLOC | order
            m.alloc.free_one_page(zone, p, order, 0)

    # vmstat_update() folds the per-CPU vmstat deltas about once a second
    # (round_jiffies_relative(sysctl_stat_interval)); the watermark checks read the folded
    # counter, so the fold times matter at the watermarks: fold at whole trace seconds
    next_fold = float(int(interval_events[0].ts) + 1) if interval_events else 0.0
    for i, ev in enumerate(interval_events):
        if ev.ts >= next_fold:
            next_fold = float(int(ev.ts) + 1)
            for z in m.zones:
                if z.pcp and z.vm_free_diff[0]:
                    z.vm_nr_free_pages += z.vm_free_diff[0]
                    z.vm_free_diff[0] = 0
            stats["vmstat_folds"] += 1
        if i in skip:
            continue
        if i in deferred:
            ev = deferred[i]  # type: ignore[assignment]
        f = ev.fields
        if ev.name == "mm_page_alloc_extfrag":
            stats["extfrag_kernel"] += 1
            continue
        if ev.name == "mm_page_alloc_zone_locked":
            if f["percpu_refill"]:
                kernel_refill.append(f["pfn"])
            continue
        if ev.name == "mm_page_pcpu_drain":
            # decide mode follows the kernel's pcp drains (every pcp -> buddy move is traced
            # by free_pcppages_bulk()); only the allocations are the model's to choose
            if follow_drains:
                stats["drains_applied" if m.alloc.drain_pcp_page(f["pfn"], f["order"])
                      else "drains_not_on_model_pcp"] += 1
            continue
        if ev.name == "mm_page_alloc":
            if f["pfn"] < 0:
                stats["alloc_failed_in_kernel"] += 1
                continue
            k, order = f["pfn"], f["order"]
            if reserved.get(k, -1) == order:
                # the model chose this page when the kernel really took it (see above)
                del reserved[k]
                key = f"order{order}/mt{f['migratetype']}"
                by_order[key + ":n"] += 1
                by_order[key + ":match"] += 1
                stats["allocs"] += 1
                stats["match"] += 1
                kernel_refill = []
                continue
            rec.events.clear()
            p = m.alloc.alloc_pages(f["gfp_flags"], order, 0)
            # Event-less paths that explain a miss (traces README 9): a pcp page the kernel
            # skipped whose next event is its free was taken by alloc_pages_bulk() (9.1); one
            # whose next event is another task's mm_page_alloc was taken by that task, which
            # was preempted before its event fired (the event comes at the end of
            # __alloc_pages()); one freed in softirq under a held pcp lock went to the buddy
            # lists (9.5).  Applied only when every page the model would hand out before the
            # kernel's (its pick, then the same pcp list down to the kernel's page, with no
            # refill in between) is explained so: then the model's choice was the kernel's.
            if p != k and p != NIL and m.mem.pstate[p] == PS_ALLOC | order and \
                    m.mem.pstate[k] == PS_PCP | order and \
                    not any(n_ == "mm_page_alloc_zone_locked" for (n_, _c, _a) in rec.events):
                why_p = explain(p, i, ev.pid, order)
                chain: list[tuple[int, str]] = []
                q = m.mem.lhead[m.mem.plist[k]]
                while why_p and q != k and q != NIL and len(chain) < 64:
                    why = explain(q, i, ev.pid, order)
                    if not why:
                        break
                    chain.append((q, why))
                    q = m.mem.nxt[q]
                if why_p and q == k:
                    zone = m.alloc.zone_of(k)
                    pcp = zone.pcp[0]
                    for x, why in [(p, why_p)] + chain:
                        stats[why] += 1
                        if x != p:
                            m.mem.list_del(x)
                            pcp.count -= 1 << order
                            m.mem.pstate[x] = PS_ALLOC | order
                        if why == "preempted_alloc_inferred":
                            reserved[x] = order
                        elif why == "free_skipped_pcp_inferred":
                            softirq_freed.discard(x)
                            m.alloc.free_one_page(zone, x, order, 0)
                    m.mem.list_del(k)
                    pcp.count -= 1 << order
                    m.mem.pstate[k] = PS_ALLOC | order
                    p = k
            stats["extfrag_model"] += sum(1 for e in rec.events if e[0] == "mm_page_alloc_extfrag")
            model_refill = [a[0] for (n_, _c, a) in rec.events if n_ == "mm_page_alloc_zone_locked" and a[3]]
            if kernel_refill or model_refill:
                stats["refills"] += 1
                stats["refills_equal"] += kernel_refill == model_refill
                if kernel_refill != model_refill and len(refill_misses) < 5:
                    refill_misses.append(f"line {ev.lineno}: kernel {len(kernel_refill)} pages "
                                         f"{[hex(x) for x in kernel_refill]} model "
                                         f"{len(model_refill)} {[hex(x) for x in model_refill]}")
            k_refill = kernel_refill
            kernel_refill = []
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
                if len(first_misses) < 10:
                    kz = m.alloc.zone_of(k).name if 0 <= k < m.mem.max_pfn else "?"
                    mz = m.alloc.zone_of(p).name if p != NIL else "-"
                    first_misses.append(
                        f"line {ev.lineno}: kernel {k:#x} ({kz}) model {p:#x} ({mz}, via {path}) "
                        f"order {order} gfp {f['gfp_flags']:#x}; the kernel's page was "
                        f"{describe(k, order)} in the model")
                if p != NIL:
                    give_back(p, order, f["migratetype"])
                if not take_page(m, k, order):
                    stats["kernel_page_not_free_in_model"] += 1
            if follow_drains and k_refill != model_refill:
                repair_refill(model_refill, k_refill, k, order, f["migratetype"])
        elif ev.name == "mm_page_free" and i in contig_run:
            # 7.2 vfree -> free_pages_bulk() -> __free_contig_range(): each page is traced
            # by free_pages_prepare(), then free_prepared_contig_range() frees the run in
            # naturally aligned chunks with no further event (traces README 9.2)
            start, end = contig_run[i]
            if i != end:
                continue
            pfns = [interval_events[q].fields["pfn"] for q in range(start, end + 1)]
            # only pages whose allocation the trace never showed (in use at the dump, block
            # order unknown): a vfree of a block the trace allocated is handled by
            # prepare_free(), and pages of a split folio reach the pcp lists one by one
            if all(m.mem.pstate[q] == PS_ALLOC and m.mem.pkind[q] & KIND_UNKNOWN for q in pfns):
                pfn, left = pfns[0], len(pfns)
                while left:
                    o = min((pfn & -pfn).bit_length() - 1 if pfn else 10, left.bit_length() - 1, 10)
                    kind = m.mem.pkind[pfn] & ~KIND_COMPOUND
                    m.mem.pstate[pfn + 1:pfn + (1 << o)] = bytes((1 << o) - 1)
                    m.mem.pkind[pfn + 1:pfn + (1 << o)] = bytes((1 << o) - 1)
                    m.mem.pstate[pfn] = PS_ALLOC | o
                    m.mem.pkind[pfn] = kind
                    m.alloc.free_frozen_pages(pfn, o, 0)
                    stats["free_contig_chunk_order%d" % o] += 1
                    pfn += 1 << o
                    left -= 1 << o
            else:
                for q in pfns:
                    how = prepare_free(m, q, 0, pending_vfree)
                    stats["free_" + how] += 1
                    if how in ("ok", "split", "coalesce"):
                        m.alloc.free_frozen_pages(q, 0, 0)
        elif ev.name == "mm_page_free":
            if ev.softirq and ev.flags[3:4].isdigit() and int(ev.flags[3]) >= 2:
                # README 9.5: every pcp-skipping free seen had preempt depth >= 2
                softirq_freed.add(f["pfn"])
            else:
                softirq_freed.discard(f["pfn"])
            how = prepare_free(m, f["pfn"], f["order"], pending_vfree)
            if how == "already_free" and take_page(m, f["pfn"], f["order"]):
                # alloc_pages_bulk() took it without an event (traces README 9.1)
                how = "bulk_allocated"
            stats["free_" + how] += 1
            if how in ("ok", "split", "coalesce", "bulk_allocated"):
                if id(ev) in to_buddy and (f["order"] <= 3 or f["order"] == 9):
                    # the pcp trylock failed under an interrupted pcp section: straight to
                    # the buddy lists (traces README 9.5)
                    stats["free_skipped_pcp"] += 1
                    zone = m.alloc.free_pages_prepare(f["pfn"], f["order"])
                    m.alloc.free_one_page(zone, f["pfn"], f["order"], 0)
                else:
                    m.alloc.free_frozen_pages(f["pfn"], f["order"], 0)
        if limit and stats["allocs"] >= limit:
            break
    rate = stats["match"] / max(1, stats["allocs"])
    out: dict[str, object] = {
        "capture": str(capture), "dump": dump_id, "events": len(interval_events),
        "match_rate": round(rate, 4),
        "stats": dict(stats), "by_order": dict(sorted(by_order.items())),
        "by_path": dict(sorted(by_path.items())),
        "first_misses": first_misses, "first_refill_misses": refill_misses}
    nxt = [snaps[dump_id + 1]] if dump_id + 1 in snaps else []
    if reached_next and not limit and nxt:
        # the model's state at the next dump, against that dump (the allocations were
        # repaired to the kernel's choices, so what differs comes from paths without events
        # and from the model's free-path placement)
        out["next_dump"] = dump_id + 1
        out["state_at_next_dump"] = compare_state(m, machine_from_snapshot(capture / nxt[0], profile))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("--dump", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    print(json.dumps(probe(a.capture, a.dump, a.limit), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
