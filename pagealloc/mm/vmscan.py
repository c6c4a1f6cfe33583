"""Reclaim: the LRU scan, the slab shrinker, direct reclaim and kswapd.

Models mm/vmscan.c and mm/shrinker.c of Linux 7.2 with the classic two-list LRU (MGLRU off):
``get_scan_count()``, ``shrink_lruvec()``, ``shrink_list()``, ``shrink_active_list()``,
``shrink_inactive_list()`` / ``isolate_lru_folios()`` / ``shrink_folio_list()``,
``do_shrink_slab()``, ``shrink_node()``, ``shrink_zones()``, ``compaction_ready()``,
``do_try_to_free_pages()``, ``try_to_free_pages()``, and kswapd: ``wakeup_kswapd()``,
``pgdat_balanced()``, ``balance_pgdat()``, ``kswapd_shrink_node()``,
``prepare_kswapd_sleep()``, ``kswapd_try_to_sleep()`` with its HZ/10 nap, the
pressure/normal vmstat thresholds, ``kswapd_failures``; plus ``drop_caches``.

What is simplified, and why the allocator still sees the kernel's behaviour:

* ``get_scan_count()``'s SCAN_FRACT uses the swappiness split with equal anon/file costs
  (``calculate_pressure_balance()`` with no refault history): the model has no refaults
  to weigh.  Without swap it is SCAN_FILE, as in the kernel, which is what decides whether
  anon memory can be reclaimed at all.
* ``folio_check_references()``: the model has one "accessed" bit per folio
  (:meth:`Owners.folio_mark_accessed` sets PG_referenced).  A referenced anon folio is
  activated (a mapped page whose PTE was young), a referenced file folio is reclaimed
  clean (unmapped page cache read with ``read()``), an unreferenced one is reclaimed;
  the referenced bit is cleared by the check.
* I/O: dirty page cache met by reclaim gets PG_reclaim and is activated, and writeback
  starts (the flushers); anon pages go to swap with writeback started.  Writeback ends at
  :func:`end_writeback_all` (the end of each ``shrink_node()`` pass and each time tick),
  rotating PG_reclaim folios to the inactive tail (``folio_rotate_reclaimable()``), so
  the next scan frees them, as in the kernel where I/O completes between passes.
* Throttling (``reclaim_throttle()``, ``throttle_direct_reclaim()``), memcg, workingset
  refault detection and ``cache_trim_mode`` are not modelled: they change timing, not
  which pages the allocator gets back.
* The shrinker is one cache of one-object slab pages (:mod:`pagealloc.mm.owners`), with
  the kernel's ``nr_deferred`` carry-over and SHRINK_BATCH.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from pagealloc.mm import gfp as G
from pagealloc.mm.mmzone import PAGE_ALLOC_COSTLY_ORDER, SWAP_CLUSTER_MAX, NIL
from pagealloc.mm.owners import (
    F_ACTIVE,
    F_DIRTY,
    F_EVICTED,
    F_LRU,
    F_RECLAIM,
    F_REFERENCED,
    F_SWAPPED,
    F_WRITEBACK,
    LRU_ACTIVE_ANON,
    LRU_ACTIVE_FILE,
    LRU_INACTIVE_ANON,
    LRU_INACTIVE_FILE,
    LRU_SLAB,
    ORDER_FIELD,
    ORDER_SHIFT,
    OWN_FILE,
    OWN_KIND_MASK,
    Owners,
)

if TYPE_CHECKING:
    from pagealloc.mm.mmzone import Zone
    from pagealloc.mm.page_alloc import PageAllocator

GFP_IO = G.__GFP_IO                     # (module level: no name mangling in classes)
GFP_DIRECT_RECLAIM = G.__GFP_DIRECT_RECLAIM
DEF_PRIORITY = 12
MAX_RECLAIM_RETRIES = 16
SHRINK_BATCH = 128
DEFAULT_SEEKS = 2
FOLIO_BATCH_SIZE = 31          # PAGEVEC_SIZE / folio_batch: frees are batched this way
HZ_NS = 1_000_000_000
KSWAPD_NAP_NS = HZ_NS // 10    # schedule_timeout(HZ/10) in kswapd_try_to_sleep()
ZONE_NAMES_LOWER = ("dma", "dma32", "normal", "movable", "device")

SCAN_EQUAL = 0
SCAN_FRACT = 1
SCAN_ANON = 2
SCAN_FILE = 3


def can_reclaim_anon_pages(alloc: "PageAllocator") -> bool:
    """``can_reclaim_anon_pages()`` (vmscan.c:337, no memcg, no demotion): free swap."""
    o = alloc.owners
    return o is not None and o.get_nr_swap_pages() > 0


def zone_reclaimable_pages(alloc: "PageAllocator", zone: "Zone") -> int:
    """``zone_reclaimable_pages()`` (vmscan.c:367): file LRU pages, plus anon with swap."""
    o = alloc.owners
    if o is None:
        return 0
    zid = zone.idx
    nr = o.nr_pages[LRU_INACTIVE_FILE][zid] + o.nr_pages[LRU_ACTIVE_FILE][zid]
    if o.get_nr_swap_pages() > 0:
        nr += o.nr_pages[LRU_INACTIVE_ANON][zid] + o.nr_pages[LRU_ACTIVE_ANON][zid]
    return nr


def int_sqrt(x: int) -> int:
    r = 0
    while (r + 1) * (r + 1) <= x:
        r += 1
    return r


class ScanControl:
    """``struct scan_control`` (the fields the model reads)."""

    __slots__ = ("nr_to_reclaim", "gfp_mask", "order", "priority", "reclaim_idx",
                 "may_writepage", "may_swap", "nr_scanned", "nr_reclaimed", "is_kswapd",
                 "compaction_ready", "may_deactivate")

    def __init__(self, gfp_mask: int, order: int, reclaim_idx: int, nr_to_reclaim: int,
                 is_kswapd: bool) -> None:
        self.nr_to_reclaim = nr_to_reclaim
        self.gfp_mask = gfp_mask
        self.order = order
        self.priority = DEF_PRIORITY
        self.reclaim_idx = reclaim_idx
        self.may_writepage = True
        self.may_swap = True
        self.nr_scanned = 0
        self.nr_reclaimed = 0
        self.is_kswapd = is_kswapd
        self.compaction_ready = False
        self.may_deactivate = 3          # DEACTIVATE_ANON | DEACTIVATE_FILE


class Reclaim:
    """The reclaim machinery of one node: LRU scanning, the shrinker, writeback, kswapd."""

    def __init__(self, alloc: "PageAllocator", owners: Owners, swappiness: int = 60) -> None:
        self.alloc = alloc
        self.owners = owners
        self.swappiness = swappiness
        self.nr_deferred = 0                       # the slab shrinker's deferred scan count
        self.under_writeback: dict[int, None] = {}  # handles with I/O in flight, in start order
        self.kswapd: Kswapd | None = None

    # --- writeback --------------------------------------------------------------------
    def start_writeback(self, h: int) -> None:
        o = self.owners
        o.set_flags(h, F_WRITEBACK | F_RECLAIM, F_DIRTY)
        self.under_writeback[h] = None

    def end_writeback_all(self) -> None:
        """``folio_end_writeback()`` for every folio with I/O in flight: a PG_reclaim folio
        still on the LRU is rotated to the inactive tail (``folio_rotate_reclaimable()``)."""
        o = self.owners
        pending = self.under_writeback
        self.under_writeback = {}
        for h in pending:
            info = o.h_info.get(h)
            if info is None or not info & F_WRITEBACK:
                continue
            o.set_flags(h, 0, F_WRITEBACK)
            if info & F_RECLAIM:
                o.set_flags(h, 0, F_RECLAIM)
                if info & F_LRU:
                    o.lruvec_del_folio(h)
                    o.set_flags(h, 0, F_ACTIVE)
                    o.lruvec_add_folio_tail(h)
                    self.alloc.count_vm_events("pgrotated",
                                               1 << ((info & ORDER_FIELD) >> ORDER_SHIFT))

    # --- LRU scanning -----------------------------------------------------------------
    def inactive_is_low(self, inactive_lru: int) -> bool:
        """``inactive_is_low()``: inactive * int_sqrt(10 * GB) < active."""
        o = self.owners
        inactive = o.lru_pages(inactive_lru)
        active = o.lru_pages(inactive_lru + 1)
        gb = (inactive + active) >> 18
        ratio = int_sqrt(10 * gb) if gb else 1
        return inactive * ratio < active

    def get_scan_count(self, sc: ScanControl) -> list[int]:
        """``get_scan_count()``: how many pages of each evictable list to scan."""
        o = self.owners
        swappiness = self.swappiness
        if not sc.may_swap or not can_reclaim_anon_pages(self.alloc):
            balance = SCAN_FILE
        elif not sc.priority and swappiness:
            balance = SCAN_EQUAL
        else:
            balance = SCAN_FRACT
        # calculate_pressure_balance() with equal costs: anon : file = swappiness : 200 - swappiness
        fraction = (swappiness, 200 - swappiness)
        denominator = 200
        nr = [0, 0, 0, 0]
        for lru in (LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE):
            file = lru >= LRU_INACTIVE_FILE
            size = sum(o.nr_pages[lru][: sc.reclaim_idx + 1])     # lruvec_lru_size()
            scan = size >> sc.priority
            if balance == SCAN_FRACT:
                scan = -(-scan * fraction[file] // denominator)   # DIV64_U64_ROUND_UP
            elif balance == SCAN_FILE and not file:
                scan = 0
            nr[lru] = scan
        return nr

    def shrink_lruvec(self, sc: ScanControl) -> None:
        """``shrink_lruvec()``: scan the lists in SWAP_CLUSTER_MAX chunks; once enough is
        reclaimed (kswapd, or below DEF_PRIORITY), scale the rest down proportionally."""
        nr = self.get_scan_count(sc)
        targets = list(nr)
        nr_reclaimed = 0
        nr_to_reclaim = sc.nr_to_reclaim
        proportional = not sc.is_kswapd and sc.priority == DEF_PRIORITY
        while nr[LRU_INACTIVE_ANON] or nr[LRU_ACTIVE_FILE] or nr[LRU_INACTIVE_FILE]:
            for lru in range(4):
                if nr[lru]:
                    n = min(nr[lru], SWAP_CLUSTER_MAX)
                    nr[lru] -= n
                    nr_reclaimed += self.shrink_list(lru, n, sc)
            if nr_reclaimed < nr_to_reclaim or proportional:
                continue
            nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE]
            nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON]
            if not nr_file or not nr_anon:
                break
            if nr_file > nr_anon:
                lru = 0
                percentage = nr_anon * 100 // (targets[0] + targets[1] + 1)
            else:
                lru = 2
                percentage = nr_file * 100 // (targets[2] + targets[3] + 1)
            nr[lru] = 0
            nr[lru + 1] = 0
            lru = 2 if lru == 0 else 0
            for ll in (lru, lru + 1):
                scanned = targets[ll] - nr[ll]
                nr[ll] = targets[ll] * (100 - percentage) // 100
                nr[ll] -= min(nr[ll], scanned)
        sc.nr_reclaimed += nr_reclaimed
        if can_reclaim_anon_pages(self.alloc) and self.inactive_is_low(LRU_INACTIVE_ANON):
            self.shrink_active_list(SWAP_CLUSTER_MAX, LRU_ACTIVE_ANON, sc)

    def shrink_list(self, lru: int, nr_to_scan: int, sc: ScanControl) -> int:
        """``shrink_list()``: active lists are aged only when their inactive list is low."""
        if lru in (LRU_ACTIVE_ANON, LRU_ACTIVE_FILE):
            if self.inactive_is_low(lru - 1):
                self.shrink_active_list(nr_to_scan, lru, sc)
            return 0
        return self.shrink_inactive_list(nr_to_scan, lru, sc)

    def isolate_lru_folios(self, nr_to_scan: int, lru: int, sc: ScanControl) -> tuple[list[int], int]:
        """``isolate_lru_folios()``: take folios from the list's tail; folios of zones above
        ``reclaim_idx`` are skipped (put back at the head, ``pgskip_<zone>``)."""
        o = self.owners
        lst = o.lru[lru]
        taken: list[int] = []
        skipped: list[int] = []
        scanned = 0
        nr_taken = 0
        h_info = o.h_info
        h_zid = o.h_zid
        while lst and scanned < nr_to_scan:
            h = next(iter(lst))
            if h_zid[h] > sc.reclaim_idx:
                o.lruvec_del_folio(h)
                skipped.append(h)
                continue
            o.lruvec_del_folio(h)
            taken.append(h)
            n = 1 << ((h_info[h] & ORDER_FIELD) >> ORDER_SHIFT)
            scanned += n
            nr_taken += n
        for h in skipped:
            o.lruvec_add_folio(h)
            self.alloc.count_vm_events("pgskip_" + ZONE_NAMES_LOWER[h_zid[h]],
                                       1 << ((h_info[h] & ORDER_FIELD) >> ORDER_SHIFT))
        return taken, nr_taken

    def shrink_active_list(self, nr_to_scan: int, lru: int, sc: ScanControl) -> None:
        """``shrink_active_list()``: deactivate folios from the active tail to the inactive
        head (executable file folios that were referenced would stay; the model has none)."""
        o = self.owners
        taken, nr_taken = self.isolate_lru_folios(nr_to_scan, lru, sc)
        self.alloc.count_vm_events("pgrefill", nr_taken)
        for h in taken:
            o.set_flags(h, 0, F_ACTIVE)
            o.lruvec_add_folio(h)
        self.alloc.count_vm_events("pgdeactivate", nr_taken)

    def shrink_inactive_list(self, nr_to_scan: int, lru: int, sc: ScanControl) -> int:
        """``shrink_inactive_list()`` + ``shrink_folio_list()``: free what can go, activate
        what was referenced or is under I/O, keep the rest; frees are batched through
        ``free_unref_folios()``."""
        o = self.owners
        alloc = self.alloc
        taken, nr_taken = self.isolate_lru_folios(nr_to_scan, lru, sc)
        if not taken:
            return 0
        who = "kswapd" if sc.is_kswapd else "direct"
        file = lru == LRU_INACTIVE_FILE
        alloc.count_vm_events("pgscan_" + who, nr_taken)
        alloc.count_vm_events("pgscan_file" if file else "pgscan_anon", nr_taken)
        sc.nr_scanned += nr_taken
        to_free: list[tuple[int, int]] = []
        nr_reclaimed = 0
        nr_activate = 0
        for h in taken:
            info = o.h_info[h]
            order = (info & ORDER_FIELD) >> ORDER_SHIFT
            n = 1 << order
            if info & F_WRITEBACK:                       # cases 1-2: activate_locked
                o.set_flags(h, F_ACTIVE | F_RECLAIM)
                o.lruvec_add_folio(h)
                nr_activate += n
                continue
            referenced = bool(info & F_REFERENCED)       # folio_check_references()
            if referenced:
                o.set_flags(h, 0, F_REFERENCED)
                if not file:                             # FOLIOREF_ACTIVATE
                    o.set_flags(h, F_ACTIVE)
                    o.lruvec_add_folio(h)
                    nr_activate += n
                    continue
            if not file:
                if not info & F_SWAPPED:
                    if not (sc.may_swap and o.get_nr_swap_pages() >= n):
                        o.set_flags(h, F_ACTIVE)         # no swap space: activate_locked
                        o.lruvec_add_folio(h)
                        nr_activate += n
                        continue
                    # add_to_swap() + pageout(): written to swap (a slot is taken); the
                    # folio is freed when reclaim meets it again after the write ended
                    o.nr_swapped_pages += n
                    o.set_flags(h, F_SWAPPED)
                    alloc.count_vm_events("pswpout", n)
                    self.start_writeback(h)
                    o.lruvec_add_folio(h)                # keep_locked
                    continue
            elif info & F_DIRTY:
                # dirty page cache: PG_reclaim, the flushers write it, activate_locked
                self.start_writeback(h)
                o.set_flags(h, F_ACTIVE)
                o.lruvec_add_folio(h)
                nr_activate += n
                continue
            # free_it: remove_mapping() (or the swap-cache entry) and batch the free
            pfn = o.h_pfn[h]
            if file:
                o.set_flags(h, F_EVICTED)
            o.move(h, NIL, o.h_zid[h])
            to_free.append((pfn, order))
            nr_reclaimed += n
        if nr_activate:
            alloc.count_vm_events("pgactivate", nr_activate)
        for i in range(0, len(to_free), FOLIO_BATCH_SIZE):
            alloc.free_unref_folios(to_free[i:i + FOLIO_BATCH_SIZE], alloc.cpu)
        if nr_reclaimed:
            alloc.count_vm_events("pgsteal_" + who, nr_reclaimed)
            alloc.count_vm_events("pgsteal_file" if file else "pgsteal_anon", nr_reclaimed)
        if alloc.step_check is not None:
            alloc.step_check()
        return nr_reclaimed

    # --- slab -------------------------------------------------------------------------
    def shrink_slab(self, priority: int) -> int:
        """``shrink_slab()`` -> ``do_shrink_slab()`` for the reclaimable slab cache: scan
        ``(freeable >> priority) * 4 / seeks`` objects plus the deferred count, in batches of
        SHRINK_BATCH, oldest first; referenced objects get a second chance."""
        o = self.owners
        alloc = self.alloc
        lst = o.lru[LRU_SLAB]
        freeable = len(lst)
        if not freeable:
            return 0
        nr = self.nr_deferred
        self.nr_deferred = 0
        delta = (freeable >> priority) * 4 // DEFAULT_SEEKS
        total_scan = min((nr >> priority) + delta, 2 * freeable)
        freed = 0
        scanned = 0
        while total_scan >= SHRINK_BATCH or total_scan >= freeable:
            nr_to_scan = min(SHRINK_BATCH, total_scan)
            if not lst or nr_to_scan == 0:
                break
            for _ in range(min(nr_to_scan, len(lst))):
                h = next(iter(lst))
                info = o.h_info[h]
                if info & F_REFERENCED:                  # list_lru_walk: rotate
                    o.set_flags(h, 0, F_REFERENCED)
                    lst.move_to_end(h)
                    continue
                freed += self.evict_slab(h)
            alloc.count_vm_events("slabs_scanned", nr_to_scan)
            total_scan -= nr_to_scan
            scanned += nr_to_scan
        self.nr_deferred = min(max(nr + delta - scanned, 0), 2 * freeable)
        return freed

    def evict_slab(self, h: int) -> int:
        """A shrinker frees the object of ``h`` and with it its slab page; the handle stays,
        not resident (a later lookup re-creates it, see :meth:`Machine.touch`)."""
        o = self.owners
        info = o.h_info[h]
        pfn = o.h_pfn[h]
        order = (info & ORDER_FIELD) >> ORDER_SHIFT
        o.lruvec_del_folio(h)
        o.set_flags(h, F_EVICTED)
        o.move(h, NIL, o.h_zid[h])
        self.alloc.free_frozen_pages(pfn, order, self.alloc.cpu)
        return 1 << order

    def shrink_node(self, sc: ScanControl) -> None:
        """``shrink_node()``: the LRU lists, then the shrinkers; slab pages freed count
        towards ``nr_reclaimed`` (``flush_reclaim_state()``)."""
        before = sc.nr_reclaimed
        self.shrink_lruvec(sc)
        sc.nr_reclaimed += self.shrink_slab(sc.priority)
        self.end_writeback_all()
        if sc.nr_reclaimed > before and self.kswapd is not None:
            self.kswapd.kswapd_failures = 0                # kswapd_clear_hopeless()

    # --- direct reclaim ---------------------------------------------------------------
    def compaction_ready(self, zone: "Zone", sc: ScanControl) -> bool:
        """``compaction_ready()`` (7.2): the allocation can already succeed at min, or
        compaction is suitable against the high watermark."""
        from pagealloc.mm import compaction as C
        if not sc.gfp_mask & GFP_IO:
            return False
        if self.alloc.zone_watermark_ok(zone, sc.order, zone.min_wmark_pages(), sc.reclaim_idx, 0):
            return True
        return bool(C.compaction_suitable(self.alloc, zone, sc.order, zone.high_wmark_pages(),
                                          sc.reclaim_idx))

    def shrink_zones(self, zonelist: list["Zone"], sc: ScanControl) -> None:
        """``shrink_zones()``: one node, so one ``shrink_node()``; costly orders skip zones
        where compaction is ready."""
        shrunk = False
        for zone in zonelist:
            if zone.idx > sc.reclaim_idx:
                continue
            if sc.order > PAGE_ALLOC_COSTLY_ORDER and self.compaction_ready(zone, sc):
                sc.compaction_ready = True
                continue
            if shrunk:
                continue
            shrunk = True
            self.shrink_node(sc)

    def do_try_to_free_pages(self, zonelist: list["Zone"], sc: ScanControl) -> int:
        """``do_try_to_free_pages()``: ``allocstall_<zone>``, then priority 12 down to 0
        until SWAP_CLUSTER_MAX pages are back or compaction is ready."""
        self.alloc.count_vm_events("allocstall_" + ZONE_NAMES_LOWER[sc.reclaim_idx], 1)
        while True:
            sc.nr_scanned = 0
            self.shrink_zones(zonelist, sc)
            if sc.nr_reclaimed >= sc.nr_to_reclaim or sc.compaction_ready:
                break
            sc.priority -= 1
            if sc.priority < 0:
                break
        if sc.nr_reclaimed:
            return sc.nr_reclaimed
        return 1 if sc.compaction_ready else 0

    def try_to_free_pages(self, order: int, gfp: int, highest_zoneidx: int) -> int:
        """``try_to_free_pages()``: direct reclaim of SWAP_CLUSTER_MAX pages."""
        sc = ScanControl(gfp, order, G.gfp_zone(gfp & G.GFP_ZONEMASK), SWAP_CLUSTER_MAX, False)
        return self.do_try_to_free_pages(self.alloc.zonelist, sc)

    def reclaim_clean_pages_from_list(self, handles: list[int]) -> tuple[int, list[int]]:
        """``reclaim_clean_pages_from_list()`` (vmscan.c:1587, 7.2): isolated clean page
        cache is dropped rather than migrated (``shrink_folio_list()`` ignoring
        references); returns (pages reclaimed, the handles still to migrate)."""
        o = self.owners
        alloc = self.alloc
        keep: list[int] = []
        to_free: list[tuple[int, int]] = []
        nr = 0
        for h in handles:
            info = o.h_info[h]
            if info & OWN_KIND_MASK != OWN_FILE or info & (F_DIRTY | F_WRITEBACK):
                keep.append(h)
                continue
            order = (info & ORDER_FIELD) >> ORDER_SHIFT
            to_free.append((o.h_pfn[h], order))
            o.nr_isolated -= 1
            o.set_flags(h, F_EVICTED, F_ACTIVE)
            o.move(h, NIL, o.h_zid[h])
            nr += 1 << order
        for i in range(0, len(to_free), FOLIO_BATCH_SIZE):
            alloc.free_unref_folios(to_free[i:i + FOLIO_BATCH_SIZE], alloc.cpu)
        return nr, keep

    # --- drop_caches ------------------------------------------------------------------
    def drop_caches(self, mode: int) -> int:
        """``drop_caches_sysctl_handler()``: 1 drops clean page cache
        (``invalidate_mapping_pages()``: not dirty, not under writeback), 2 the reclaimable
        slab (``drop_slab()``), 3 both.  Returns the pages freed."""
        if mode not in (1, 2, 3):
            raise ValueError(f"drop_caches: {mode!r} must be 1, 2 or 3")
        o = self.owners
        alloc = self.alloc
        freed = 0
        if mode & 1:
            batch: list[tuple[int, int]] = []
            for lru in (LRU_INACTIVE_FILE, LRU_ACTIVE_FILE):
                for h in list(o.lru[lru]):
                    info = o.h_info[h]
                    if info & (F_DIRTY | F_WRITEBACK):
                        continue
                    order = (info & ORDER_FIELD) >> ORDER_SHIFT
                    batch.append((o.h_pfn[h], order))
                    o.lruvec_del_folio(h)
                    o.set_flags(h, F_EVICTED)
                    o.move(h, NIL, o.h_zid[h])
                    freed += 1 << order
                    if len(batch) == FOLIO_BATCH_SIZE:
                        alloc.free_unref_folios(batch, alloc.cpu)
                        batch = []
            if batch:
                alloc.free_unref_folios(batch, alloc.cpu)
            alloc.count_vm_events("drop_pagecache", 1)
        if mode & 2:
            while True:                                  # drop_slab(): until < 10 freed
                n = 0
                for h in list(o.lru[LRU_SLAB]):
                    n += self.evict_slab(h)
                freed += n
                if n < 10:
                    break
            alloc.count_vm_events("drop_slab", 1)
        return freed


class Kswapd:
    """kswapd of the node as an explicit agent (``kswapd()``, vmscan.c, 7.2).

    ``waiting`` is ``waitqueue_active(&pgdat->kswapd_wait)``: kswapd sleeps, or naps for
    HZ/10 in ``kswapd_try_to_sleep()``.  :meth:`wakeup_kswapd` sets ``woken``; the machine
    calls :meth:`run` at the end of the request that woke it (one vCPU: kswapd runs when
    the allocating task yields) and :meth:`tick` as time passes, which ends a nap.
    """

    def __init__(self, alloc: "PageAllocator", reclaim: Reclaim, ncpus: int) -> None:
        self.alloc = alloc
        self.reclaim = reclaim
        self.ncpus = ncpus
        self.nr_zones = len(alloc.zones)
        self.kswapd_order = 0
        self.kswapd_highest_zoneidx = self.nr_zones        # MAX_NR_ZONES: none requested
        self.kswapd_failures = 0
        self.waiting = True
        self.woken = False
        self.nap_until = -1                                # ns; -1: not napping
        self.nap_args = (0, 0)
        self.prev_highest_zoneidx = self.nr_zones - 1
        self.now_ns = 0
        self.kcompactd_wakeup: Callable[[int, int], object] | None = None
        self.reset_isolation_suitable: Callable[[], None] | None = None

    # --- predicates -------------------------------------------------------------------
    def pgdat_balanced(self, order: int, highest_zoneidx: int) -> bool:
        """``pgdat_balanced()``: any managed zone up to ``highest_zoneidx`` meets its high
        watermark at ``order`` (NR_FREE_PAGES_BLOCKS with defrag_mode and order > 0)."""
        alloc = self.alloc
        mark = -1
        for zone in alloc.zones[: highest_zoneidx + 1]:
            if not zone.managed_pages:
                continue
            mark = zone.high_wmark_pages()
            free = zone.nr_free_pages_blocks if alloc.defrag_mode and order else zone.nr_free_pages
            if alloc._zone_watermark_ok(zone, order, mark, highest_zoneidx, 0, free):
                return True
        return mark == -1

    def pgdat_watermark_boosted(self, highest_zoneidx: int) -> bool:
        return any(z.managed_pages and z.watermark_boost
                   for z in self.alloc.zones[: highest_zoneidx + 1])

    def hopeless(self) -> bool:
        """``kswapd_test_hopeless()``: MAX_RECLAIM_RETRIES balance runs reclaimed nothing."""
        return self.kswapd_failures >= MAX_RECLAIM_RETRIES

    def set_pgdat_percpu_threshold(self, pressure: bool) -> None:
        """``set_pgdat_percpu_threshold()``: the smaller vmstat threshold while awake."""
        from pagealloc.mm.page_alloc import (
            calculate_normal_threshold,
            calculate_pressure_threshold,
        )
        calc = calculate_pressure_threshold if pressure else calculate_normal_threshold
        for z in self.alloc.zones:
            if z.managed_pages:
                z.stat_residual = list(z.vm_free_diff)
                z.stat_threshold = calc(z, self.ncpus)

    # --- wakeup -----------------------------------------------------------------------
    def wakeup_kswapd(self, zone: "Zone", gfp: int, order: int, highest_zoneidx: int) -> None:
        """``wakeup_kswapd()``: record the request; wake a waiting kswapd unless the node is
        hopeless or balanced and unboosted (then kcompactd, for non-blocking callers)."""
        alloc = self.alloc
        if not zone.managed_pages:
            return
        cur = self.kswapd_highest_zoneidx
        if cur == self.nr_zones or cur < highest_zoneidx:
            self.kswapd_highest_zoneidx = highest_zoneidx
        if self.kswapd_order < order:
            self.kswapd_order = order
        if not self.waiting:
            return
        if self.hopeless() or (self.pgdat_balanced(order, highest_zoneidx)
                               and not self.pgdat_watermark_boosted(highest_zoneidx)):
            if not gfp & GFP_DIRECT_RECLAIM and self.kcompactd_wakeup is not None:
                self.kcompactd_wakeup(order, highest_zoneidx)
            return
        alloc.stats["kswapd_wakeup"] += 1
        if alloc.sink is not None:
            alloc.emit("mm_vmscan_wakeup_kswapd", zone.node, highest_zoneidx, order, gfp)
        self.waiting = False
        self.woken = True
        alloc.kswapd_awake = True
        if self.nap_until >= 0:                # woken during the HZ/10 nap: remaining != 0
            self.nap_until = -1
            alloc.count_vm_events("kswapd_low_wmark_hit_quickly", 1)
            r_order, hz = self.nap_args
            self.kswapd_highest_zoneidx = self._highest(hz)
            if self.kswapd_order < r_order:
                self.kswapd_order = r_order

    def _highest(self, prev: int) -> int:
        """``kswapd_highest_zoneidx()``."""
        cur = self.kswapd_highest_zoneidx
        return prev if cur == self.nr_zones else cur

    # --- the thread -------------------------------------------------------------------
    def run(self) -> None:
        """The ``kswapd()`` loop from a wakeup until it waits again."""
        alloc = self.alloc
        saved_cpu = alloc.cpu
        while self.woken:
            self.woken = False
            alloc_order = self.kswapd_order
            hz = self._highest(self.prev_highest_zoneidx)
            self.prev_highest_zoneidx = hz
            self.kswapd_order = 0
            self.kswapd_highest_zoneidx = self.nr_zones
            self.set_pgdat_percpu_threshold(True)
            if alloc.sink is not None:
                alloc.emit("mm_vmscan_kswapd_wake", 0, hz, alloc_order)
            reclaim_order = self.balance_pgdat(alloc_order, hz)
            self.kswapd_try_to_sleep(alloc_order, reclaim_order, hz)
        alloc.cpu = saved_cpu

    def kswapd_try_to_sleep(self, alloc_order: int, reclaim_order: int, hz: int) -> None:
        """``kswapd_try_to_sleep()``: balanced (or hopeless) -> reset skip hints, wake
        kcompactd, nap HZ/10 (:meth:`tick` finishes it); else count
        ``kswapd_high_wmark_hit_quickly`` and reclaim again."""
        if self.prepare_kswapd_sleep(reclaim_order, hz):
            if self.reset_isolation_suitable is not None:
                self.reset_isolation_suitable()
            if self.kcompactd_wakeup is not None:
                self.kcompactd_wakeup(alloc_order, hz)
            self.waiting = True
            self.alloc.kswapd_awake = False
            self.nap_until = self.now_ns + KSWAPD_NAP_NS
            self.nap_args = (reclaim_order, hz)
            return
        self.alloc.count_vm_events("kswapd_high_wmark_hit_quickly", 1)
        self.kswapd_order = max(self.kswapd_order, alloc_order)
        self.woken = True

    def prepare_kswapd_sleep(self, order: int, hz: int) -> bool:
        """``prepare_kswapd_sleep()``: hopeless, or balanced."""
        return self.hopeless() or self.pgdat_balanced(order, hz)

    def tick(self, now_ns: int) -> None:
        """Time passes: a nap that ran out with nobody waking kswapd ends in full sleep
        (normal vmstat thresholds) if the node is still balanced, else kswapd runs again."""
        self.now_ns = now_ns
        if self.nap_until < 0 or now_ns < self.nap_until:
            return
        self.nap_until = -1
        r_order, hz = self.nap_args
        if self.prepare_kswapd_sleep(r_order, hz):
            if self.alloc.sink is not None:
                self.alloc.emit("mm_vmscan_kswapd_sleep", 0)
            self.set_pgdat_percpu_threshold(False)
            return
        self.alloc.count_vm_events("kswapd_high_wmark_hit_quickly", 1)
        self.waiting = False
        self.woken = True
        self.alloc.kswapd_awake = True
        self.run()

    def balance_pgdat(self, order: int, highest_zoneidx: int) -> int:
        """``balance_pgdat()``: reclaim until a zone meets its high watermark (or, in boost
        mode, until the boost is reclaimed without writeback or swap); decay the boosts
        and wake kcompactd at pageblock order afterwards."""
        alloc = self.alloc
        zones = alloc.zones
        sc = ScanControl(G.GFP_KERNEL, order, highest_zoneidx, 0, True)
        alloc.count_vm_events("pageoutrun", 1)
        zone_boosts = [0] * len(zones)
        nr_boost_reclaim = 0
        for i, z in enumerate(zones[: highest_zoneidx + 1]):
            if z.managed_pages:
                nr_boost_reclaim += z.watermark_boost
                zone_boosts[i] = z.watermark_boost
        boosted = nr_boost_reclaim != 0
        balanced_out = False
        while True:                                         # restart:
            for z in zones[: highest_zoneidx + 1]:
                z.reclaim_active = True                    # set_reclaim_active()
            sc.priority = DEF_PRIORITY
            restart = False
            while True:
                nr_reclaimed = sc.nr_reclaimed
                raise_priority = True
                sc.reclaim_idx = highest_zoneidx
                balanced = self.pgdat_balanced(sc.order, highest_zoneidx)
                if not balanced and nr_boost_reclaim:
                    nr_boost_reclaim = 0
                    restart = True
                    break
                if not nr_boost_reclaim and balanced:
                    balanced_out = True
                    break
                if nr_boost_reclaim and sc.priority == DEF_PRIORITY - 2:
                    raise_priority = False
                sc.may_writepage = not nr_boost_reclaim
                sc.may_swap = not nr_boost_reclaim
                # kswapd_age_node()
                if can_reclaim_anon_pages(alloc) and self.reclaim.inactive_is_low(LRU_INACTIVE_ANON):
                    self.reclaim.shrink_active_list(SWAP_CLUSTER_MAX, LRU_ACTIVE_ANON, sc)
                sc.nr_scanned = 0
                if self.kswapd_shrink_node(sc):
                    raise_priority = False
                nr_reclaimed = sc.nr_reclaimed - nr_reclaimed
                nr_boost_reclaim -= min(nr_boost_reclaim, nr_reclaimed)
                if nr_boost_reclaim and not nr_reclaimed:
                    break
                if raise_priority or not nr_reclaimed:
                    sc.priority -= 1
                if sc.priority < 1:
                    break
            if not restart:
                break
        if not balanced_out and not sc.nr_reclaimed and not boosted:
            self.kswapd_failures += 1
        for z in zones[: highest_zoneidx + 1]:
            z.reclaim_active = False                       # clear_reclaim_active()
        if boosted:
            for i in range(highest_zoneidx + 1):
                if zone_boosts[i]:
                    z = zones[i]
                    z.watermark_boost -= min(z.watermark_boost, zone_boosts[i])
            if self.kcompactd_wakeup is not None:
                self.kcompactd_wakeup(9, highest_zoneidx)   # pageblock_order
        return sc.order

    def kswapd_shrink_node(self, sc: ScanControl) -> bool:
        """``kswapd_shrink_node()``: aim for the zones' high watermarks; drop to order 0
        once ``compact_gap(order)`` pages are reclaimed."""
        before = sc.nr_reclaimed
        sc.nr_to_reclaim = 0
        for z in self.alloc.zones[: sc.reclaim_idx + 1]:
            if z.managed_pages:
                sc.nr_to_reclaim += max(z.high_wmark_pages(), SWAP_CLUSTER_MAX)
        self.reclaim.shrink_node(sc)
        if sc.order and sc.nr_reclaimed >= 2 << sc.order:
            sc.order = 0
        return max(sc.nr_scanned, sc.nr_reclaimed - before) >= sc.nr_to_reclaim
