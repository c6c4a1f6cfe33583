"""Memory compaction: the migrate and free scanners, deferral, capture and kcompactd.

Models ``mm/compaction.c`` of Linux 7.2 (with ``include/linux/compaction.h`` and the
``struct compact_control`` of ``mm/internal.h``): suitability (``__compaction_suitable``,
``compaction_suitable``, ``compaction_suit_allocation_order``,
``compaction_zonelist_suitable``), deferral (``defer_compaction``, ``compaction_deferred``,
``compaction_defer_reset``, ``compaction_restarting``), the pageblock skip hints and cached
scanner positions, the migrate scanner (``fast_find_migrateblock``,
``isolate_migratepages``, ``isolate_migratepages_block``, ``isolate_migratepages_range``),
the free scanner (``fast_isolate_freepages``, ``isolate_freepages``,
``isolate_freepages_block``), the migration callbacks (``compaction_alloc``,
``compaction_free``), ``compact_zone``, direct compaction (``compact_zone_order``,
``try_to_compact_pages``), ``compact_node`` for ``/proc/sys/vm/compact_memory`` and
proactive compaction, and kcompactd (:class:`Kcompactd`).  Citations ``co.c:N`` are lines
of mm/compaction.c in the 7.2 tree.

How the model maps the kernel's objects (no object per page frame):

* ``cc->freepages[order]`` are lists of held block heads (``PS_ISOLATED | order`` in
  ``Mem.pstate``), index 0 being the list head; ``cc->migratepages`` is a list of owner
  handles (:mod:`pagealloc.mm.owners`), index 0 being the list head (``list_add()``, so the
  folio isolated last migrates first, as in the kernel).
* ``PageLRU()`` is an owned anon or file block with PG_lru set; an owned block of order > 0
  is a large folio (``PageCompound``) whether or not it was allocated with ``__GFP_COMP``.
  An allocated block without an owner behaves as pinned: the scanner cannot isolate it.
* Locks, ``need_resched()``, ``fatal_signal_pending()`` and lock contention do not exist
  in a single-threaded model: ``cc.contended`` stays False, async compaction is never cut
  short by a reschedule, and the ``COMPACT_CLUSTER_MAX`` lock breaks change nothing.
* Pages the migrate scanner or the free scanner cannot use are stepped over a block at a
  time (the kernel visits them one by one with the same outcome); ``nr_scanned`` counts
  them exactly as the kernel does.

A page captured for a direct compactor (``compaction_capture()`` in ``__free_one_page()``,
:meth:`PageAllocator.capture_check`) is held as ``PS_ISOLATED | order`` from the moment
compaction notices it until the caller prepares it (``prep_new_page()``), so the invariant
checker sees it as a held block.

Not modelled: hugetlb folios (``PageHuge``, ``isolate_or_dissolve_huge_folio``),
non-LRU movable_ops pages (zsmalloc, balloon), unevictable and inaccessible mappings,
memory hotplug holes (``skip_offline_sections``: every section of the model is online or a
hole inside a pageblock), cpusets and NUMA (one node).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import (
    MIGRATE_CMA,
    MIGRATE_MOVABLE,
    freetype_idx,
    is_migrate_movable,
)
from pagealloc.mm.migrate import (
    ENOMEM,
    MIGRATE_ASYNC,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
    MR_COMPACTION,
    migrate_pages,
    putback_movable_pages,
)
from pagealloc.mm.mmzone import (
    HPAGE_PMD_ORDER,
    KIND_COMPOUND,
    MAX_PAGE_ORDER,
    NIL,
    NR_PAGE_ORDERS,
    ORDER_MASK,
    PAGE_ALLOC_COSTLY_ORDER,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    PB_COMPACT_SKIP,
    PS_ALLOC,
    PS_BUDDY,
    PS_ISOLATED,
    PS_MASK,
    Zone,
)
from pagealloc.mm.owners import F_LRU, F_WRITEBACK, OWN_FILE, OWN_KIND_MASK
from pagealloc.mm.page_alloc import CaptureControl
from pagealloc.mm.page_isolation import (
    covering_block,
    isolate_free_page,
    pageblock_end_pfn,
    pageblock_pfn_to_page,
    pageblock_start_pfn,
    pfn_to_online_page,
    release_free_list,
)
from pagealloc.mm.vmscan import zone_reclaimable_pages
from pagealloc.mm.vmstat import extfrag_for_order, fill_contig_page_info, fragmentation_index_for

if TYPE_CHECKING:
    from pagealloc.mm.page_alloc import AllocContext, PageAllocator

# enum compact_result (include/linux/compaction.h), ascending: callers take max()
COMPACT_NOT_SUITABLE_ZONE = 0
COMPACT_SKIPPED = 1
COMPACT_DEFERRED = 2
COMPACT_NO_SUITABLE_PAGE = 3
COMPACT_CONTINUE = 4
COMPACT_COMPLETE = 5
COMPACT_PARTIAL_SKIPPED = 6
COMPACT_CONTENDED = 7
COMPACT_SUCCESS = 8
#: COMPACTION_STATUS of include/trace/events/mmflags.h
COMPACT_RESULT_NAMES = {
    COMPACT_SKIPPED: "skipped", COMPACT_DEFERRED: "deferred", COMPACT_CONTINUE: "continue",
    COMPACT_SUCCESS: "success", COMPACT_PARTIAL_SKIPPED: "partial_skipped",
    COMPACT_COMPLETE: "complete", COMPACT_NO_SUITABLE_PAGE: "no_suitable_page",
    COMPACT_NOT_SUITABLE_ZONE: "not_suitable_zone", COMPACT_CONTENDED: "contended",
}

# enum compact_priority (include/linux/compaction.h)
COMPACT_PRIO_SYNC_FULL = 0
MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL
COMPACT_PRIO_SYNC_LIGHT = 1
MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
COMPACT_PRIO_ASYNC = 2
INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC

# isolate_migrate_t (co.c:1921)
ISOLATE_ABORT = 0
ISOLATE_NONE = 1
ISOLATE_SUCCESS = 2

# isolate_mode_t (include/linux/mmzone.h)
ISOLATE_ASYNC_MIGRATE = 0x4
ISOLATE_UNEVICTABLE = 0x8

#: COMPACT_CLUSTER_MAX = SWAP_CLUSTER_MAX (include/linux/swap.h)
COMPACT_CLUSTER_MAX = 32
#: do not skip compaction more than 64 times (co.c:121)
COMPACT_MAX_DEFER_SHIFT = 6
#: the order proactive compaction measures fragmentation at (THP on: HPAGE_PMD_ORDER)
COMPACTION_HPAGE_ORDER = HPAGE_PMD_ORDER
#: kcompactd's proactive check interval (co.c:33)
HPAGE_FRAG_CHECK_INTERVAL_MSEC = 500
#: cc->fast_start_pfn once the fast search's hint was used (co.c:1945)
ULONG_MAX = (1 << 64) - 1

#: MAX_COMPACT_RETRIES (mm/page_alloc.c): should_compact_retry()'s limit after SUCCESS
MAX_COMPACT_RETRIES = 16

EAGAIN = 11
EINTR = 4

_MOVABLE_IDX = freetype_idx(MIGRATE_MOVABLE)


@dataclass
class CompactionSysctl:
    """The vm.* compaction sysctls (co.c:3320-3351), per machine.

    ``compaction_proactiveness`` (default 20), ``extfrag_threshold`` (500) and
    ``compact_unevictable_allowed`` (CONFIG_COMPACT_UNEVICTABLE_DEFAULT = 1).
    """

    compaction_proactiveness: int = 20
    extfrag_threshold: int = 500
    compact_unevictable_allowed: int = 1


_DEFAULT_SYSCTL = CompactionSysctl()


def sysctl_of(alloc: "PageAllocator") -> CompactionSysctl:
    """The machine's compaction sysctls (``alloc.compaction_sysctl``, set by
    :class:`Kcompactd`), or the kernel defaults."""
    s = alloc.compaction_sysctl
    return s if isinstance(s, CompactionSysctl) else _DEFAULT_SYSCTL


class CompactControl:
    """``struct compact_control`` (mm/internal.h, 7.2).

    ``freepages[order]``: held free block heads, head first; ``migratepages``: isolated
    owner handles, head first.  ``cpu`` is the CPU the compactor runs on (whose pcp lists
    receive the migrated-away pages and are drained by ``lru_add_drain_cpu_zone()``);
    ``kswapd_running`` overrides ``kswapd_is_running()`` for proactive compaction.
    """

    __slots__ = (
        "freepages", "migratepages", "nr_freepages", "nr_migratepages", "free_pfn",
        "migrate_pfn", "fast_start_pfn", "zone", "total_migrate_scanned",
        "total_free_scanned", "fast_search_fail", "search_order", "gfp_mask", "order",
        "migratetype", "alloc_flags", "highest_zoneidx", "mode", "ignore_skip_hint",
        "no_set_skip_hint", "ignore_block_suitable", "direct_compaction",
        "proactive_compaction", "whole_zone", "contended", "finish_pageblock",
        "alloc_contig", "cpu", "kswapd_running", "unmapped",
    )

    def __init__(self, zone: Zone, order: int, gfp_mask: int = G.GFP_KERNEL,
                 mode: int = MIGRATE_ASYNC, *, search_order: int = 0, alloc_flags: int = 0,
                 highest_zoneidx: int = 0, ignore_skip_hint: bool = False,
                 no_set_skip_hint: bool = False, ignore_block_suitable: bool = False,
                 direct_compaction: bool = False, proactive_compaction: bool = False,
                 whole_zone: bool = False, alloc_contig: bool = False, cpu: int = 0,
                 kswapd_running: bool | None = None, unmapped: bool = False) -> None:
        self.freepages: list[list[int]] = [[] for _ in range(NR_PAGE_ORDERS)]
        self.migratepages: list[int] = []
        self.nr_freepages = 0
        self.nr_migratepages = 0
        self.free_pfn = 0
        self.migrate_pfn = 0
        self.fast_start_pfn = 0
        self.zone = zone
        self.total_migrate_scanned = 0
        self.total_free_scanned = 0
        self.fast_search_fail = 0
        self.search_order = search_order
        self.gfp_mask = gfp_mask
        self.order = order
        self.migratetype = G.gfp_migratetype(gfp_mask)
        self.alloc_flags = alloc_flags
        self.highest_zoneidx = highest_zoneidx
        self.mode = mode
        self.ignore_skip_hint = ignore_skip_hint
        self.no_set_skip_hint = no_set_skip_hint
        self.ignore_block_suitable = ignore_block_suitable
        self.direct_compaction = direct_compaction
        self.proactive_compaction = proactive_compaction
        self.whole_zone = whole_zone
        self.contended = False
        self.finish_pageblock = False
        self.alloc_contig = alloc_contig
        self.cpu = cpu
        self.kswapd_running = kswapd_running
        #: series v4 (24/26): an unmapped request; its watermark counts only free whole
        #: *mapped* blocks (NR_FREE_PAGES_BLOCKS_MAPPED), the blocks a flip can take
        self.unmapped = unmapped


# ---------------------------------------------------------------------- small helpers
def is_via_compact_memory(order: int) -> bool:
    """``is_via_compact_memory()`` (co.c:51): order -1 is compact_memory/proactive."""
    return order == -1


def compact_gap(order: int) -> int:
    """``compact_gap()`` (include/linux/compaction.h:68): 2 << order free pages of slack."""
    return 2 << order


def block_start_pfn(pfn: int, order: int) -> int:
    """``block_start_pfn()`` (co.c:66)."""
    return pfn & ~((1 << order) - 1)


def block_end_pfn(pfn: int, order: int) -> int:
    """``block_end_pfn()`` (co.c:67): ALIGN(pfn + 1, 1 << order)."""
    size = 1 << order
    return (pfn + 1 + size - 1) & ~(size - 1)


def pageblock_aligned(pfn: int) -> bool:
    """``pageblock_aligned()``."""
    return not pfn & (PAGEBLOCK_NR_PAGES - 1)


def _step(alloc: "PageAllocator") -> None:
    """Run the test hook after an isolation step or a migration batch."""
    hook = alloc.step_check
    if hook is not None:
        hook()


def _hold_captured(alloc: "PageAllocator") -> None:
    """A page captured by ``compaction_capture()`` is in no state after
    ``__free_one_page()``; hold it (``PS_ISOLATED``) until the caller prepares it."""
    capc = alloc.capc
    if capc is not None and capc.page != NIL and alloc.mem.pstate[capc.page] == 0:
        alloc.mem.pstate[capc.page] = PS_ISOLATED | capc.order


def _tp_defer(alloc: "PageAllocator", name: str, zone: Zone, order: int) -> None:
    if alloc.sink is not None:
        alloc.emit(name, zone.node, zone.idx, order, zone.compact_considered,
                   zone.compact_defer_shift, zone.compact_order_failed)


def get_pageblock_skip(alloc: "PageAllocator", pfn: int) -> bool:
    """``get_pageblock_skip()``: the PB_compact_skip bit of ``pfn``'s pageblock."""
    return bool(alloc.mem.pb[pfn >> PAGEBLOCK_ORDER] & PB_COMPACT_SKIP)


def set_pageblock_skip(alloc: "PageAllocator", pfn: int) -> None:
    """``set_pageblock_skip()``."""
    alloc.mem.pb[pfn >> PAGEBLOCK_ORDER] |= PB_COMPACT_SKIP


def clear_pageblock_skip(alloc: "PageAllocator", pfn: int) -> None:
    """``clear_pageblock_skip()``."""
    alloc.mem.pb[pfn >> PAGEBLOCK_ORDER] &= ~PB_COMPACT_SKIP & 0xFF


def _large_folio(alloc: "PageAllocator", head: int, order: int) -> bool:
    """``PageCompound()`` of an allocated head: ``__GFP_COMP``, or an owned block of order
    > 0 (a large folio in the kernel)."""
    if not order:
        return False
    if alloc.mem.pkind[head] & KIND_COMPOUND:
        return True
    owners = alloc.owners
    return owners is not None and head in owners.pfn_h


def _page_lru(alloc: "PageAllocator", pfn: int) -> bool:
    """``PageLRU(page)``: the folio holding ``pfn`` is owned and on an LRU list (a tail
    page reads its head's flag)."""
    owners = alloc.owners
    if owners is None:
        return False
    h = owners.pfn_h.get(pfn)
    if h is None and alloc.mem.pstate[pfn] == 0:
        head, order = covering_block(alloc, pfn)
        if head != NIL and order and alloc.mem.pstate[head] & PS_MASK == PS_ALLOC:
            h = owners.pfn_h.get(head)
    return h is not None and bool(owners.h_info[h] & F_LRU)


def _end_of_covering(alloc: "PageAllocator", pfn: int) -> int:
    """One past the block (free, pcp, held or allocated) that contains ``pfn``, or
    ``pfn + 1``: every page up to there gives a scanner the same answer as ``pfn``."""
    head, order = covering_block(alloc, pfn)
    if head == NIL:
        return pfn + 1
    return head + (1 << order)


# ---------------------------------------------------------------------- fragmentation
def fragmentation_index(zone: Zone, order: int) -> int:
    """``fragmentation_index()`` (mm/vmstat.c:1144): -1000 if a suitable block is free,
    else 0 (lack of memory) .. 1000 (fragmentation)."""
    return fragmentation_index_for(order, fill_contig_page_info(zone.nr_free, order))


def fragmentation_score_zone(zone: Zone) -> int:
    """``fragmentation_score_zone()`` (co.c:2215): ``extfrag_for_order(zone,
    COMPACTION_HPAGE_ORDER)``, 0..100."""
    return extfrag_for_order(zone.nr_free, COMPACTION_HPAGE_ORDER)


def _node_present_pages(alloc: "PageAllocator") -> int:
    return sum(z.present_pages for z in alloc.zones)


def fragmentation_score_zone_weighted(alloc: "PageAllocator", zone: Zone) -> int:
    """``fragmentation_score_zone_weighted()`` (co.c:2230): the score scaled by the zone's
    share of the node's present pages."""
    return zone.present_pages * fragmentation_score_zone(zone) // (_node_present_pages(alloc) + 1)


def fragmentation_score_node(alloc: "PageAllocator") -> int:
    """``fragmentation_score_node()`` (co.c:2245): sum of the weighted zone scores."""
    return sum(fragmentation_score_zone_weighted(alloc, z) for z in alloc.zones if z.populated())


def fragmentation_score_wmark(alloc: "PageAllocator", low: bool) -> int:
    """``fragmentation_score_wmark()`` (co.c:2262, 7.2): ``wmark_low = 100 -
    proactiveness``, the high mark ``min(wmark_low + min(10, wmark_low / 2), 100)``."""
    wmark_low = 100 - sysctl_of(alloc).compaction_proactiveness
    leeway = min(10, wmark_low // 2)
    return wmark_low if low else min(wmark_low + leeway, 100)


def kswapd_is_running(alloc: "PageAllocator", cc: CompactControl | None = None) -> bool:
    """``kswapd_is_running()`` (co.c:2200): the caller's override, else ``kswapd_awake``."""
    if cc is not None and cc.kswapd_running is not None:
        return cc.kswapd_running
    return bool(alloc.kswapd_awake)


def should_proactive_compact_node(alloc: "PageAllocator", kswapd_running: bool | None = None) -> bool:
    """``should_proactive_compact_node()`` (co.c:2271): proactiveness on, kswapd asleep and
    the node score above the high mark."""
    if kswapd_running is None:
        kswapd_running = bool(alloc.kswapd_awake)
    if not sysctl_of(alloc).compaction_proactiveness or kswapd_running:
        return False
    return fragmentation_score_node(alloc) > fragmentation_score_wmark(alloc, False)


# ---------------------------------------------------------------------- deferral
def defer_compaction(alloc: "PageAllocator", zone: Zone, order: int) -> None:
    """``defer_compaction()`` (co.c:126): restart the count, double the skip limit (at
    most 1 << COMPACT_MAX_DEFER_SHIFT), remember the lowest failed order."""
    zone.compact_considered = 0
    zone.compact_defer_shift += 1
    if order < zone.compact_order_failed:
        zone.compact_order_failed = order
    if zone.compact_defer_shift > COMPACT_MAX_DEFER_SHIFT:
        zone.compact_defer_shift = COMPACT_MAX_DEFER_SHIFT
    _tp_defer(alloc, "mm_compaction_defer_compaction", zone, order)


def compaction_deferred(alloc: "PageAllocator", zone: Zone, order: int) -> bool:
    """``compaction_deferred()`` (co.c:141): True if this attempt should be skipped."""
    defer_limit = 1 << zone.compact_defer_shift
    if order < zone.compact_order_failed:
        return False
    zone.compact_considered += 1
    if zone.compact_considered >= defer_limit:
        zone.compact_considered = defer_limit
        return False
    _tp_defer(alloc, "mm_compaction_deferred", zone, order)
    return True


def compaction_defer_reset(alloc: "PageAllocator", zone: Zone, order: int,
                           alloc_success: bool) -> None:
    """``compaction_defer_reset()`` (co.c:164): after a success of ``order`` (an
    allocation, or compaction expecting one)."""
    if alloc_success:
        zone.compact_considered = 0
        zone.compact_defer_shift = 0
    if order >= zone.compact_order_failed:
        zone.compact_order_failed = order + 1
    _tp_defer(alloc, "mm_compaction_defer_reset", zone, order)


def compaction_restarting(zone: Zone, order: int) -> bool:
    """``compaction_restarting()`` (co.c:178): the maximal deferral has run out."""
    if order < zone.compact_order_failed:
        return False
    return (zone.compact_defer_shift == COMPACT_MAX_DEFER_SHIFT
            and zone.compact_considered >= 1 << zone.compact_defer_shift)


# ---------------------------------------------------------------------- skip hints
def isolation_suitable(alloc: "PageAllocator", cc: CompactControl, pfn: int) -> bool:
    """``isolation_suitable()`` (co.c:188): scan the block unless its skip bit is set
    (and hints are honoured)."""
    if cc.ignore_skip_hint:
        return True
    return not get_pageblock_skip(alloc, pfn)


def reset_cached_positions(zone: Zone) -> None:
    """``reset_cached_positions()`` (co.c:197): both migrate pfns to the zone start, the
    free pfn to the zone's last pageblock."""
    zone.compact_cached_migrate_pfn[0] = zone.zone_start_pfn
    zone.compact_cached_migrate_pfn[1] = zone.zone_start_pfn
    zone.compact_cached_free_pfn = pageblock_start_pfn(zone.zone_end_pfn - 1)


def pageblock_skip_persistent(alloc: "PageAllocator", pfn: int) -> bool:
    """``pageblock_skip_persistent()`` (co.c:262): the page belongs to an allocated
    compound page of at least pageblock order."""
    head, order = covering_block(alloc, pfn)
    if head == NIL or alloc.mem.pstate[head] & PS_MASK != PS_ALLOC:
        return False
    return _large_folio(alloc, head, order) and order >= PAGEBLOCK_ORDER


def _reset_isolation_pfn(alloc: "PageAllocator", zone: Zone, pfn: int, check_source: bool,
                         check_target: bool) -> bool:
    """``__reset_isolation_pfn()`` (co.c:276): clear ``pfn``'s block's skip bit if a
    sample of every 8th page finds an LRU page (source) or a free buddy (target)."""
    mem = alloc.mem
    if not pfn_to_online_page(alloc, pfn):
        return False
    if mem.pb_zone[pfn >> PAGEBLOCK_ORDER] != zone.idx:
        return False
    if pageblock_skip_persistent(alloc, pfn):
        return False
    if check_source and check_target and not get_pageblock_skip(alloc, pfn):
        return True
    if not check_source and check_target and \
            mem.get_pfnblock_migratetype(pfn) != MIGRATE_MOVABLE:
        return False
    block_pfn = max(pageblock_start_pfn(pfn), zone.zone_start_pfn)
    if pfn_to_online_page(alloc, block_pfn):
        pfn = block_pfn
    end = min(pageblock_end_pfn(pfn) - 1, zone.zone_end_pfn - 1)
    if not pfn_to_online_page(alloc, end):
        return False
    page = pfn
    while True:
        if check_source and _page_lru(alloc, page):
            clear_pageblock_skip(alloc, page)
            return True
        if check_target and mem.pstate[page] & PS_MASK == PS_BUDDY:
            clear_pageblock_skip(alloc, page)
            return True
        page += 1 << PAGE_ALLOC_COSTLY_ORDER
        if page > end:
            return False


def __reset_isolation_suitable(alloc: "PageAllocator", zone: Zone) -> None:
    """``__reset_isolation_suitable()`` (co.c:349): once a full compaction finished
    (``compact_blockskip_flush``), walk the zone from both ends, clearing skip bits of
    blocks that still look like sources (lower half) or targets (upper half), and restart
    the scanners (and ``compact_init_*_pfn``) at the outermost such blocks."""
    migrate_pfn = zone.zone_start_pfn
    free_pfn = zone.zone_end_pfn - 1
    reset_migrate = free_pfn
    reset_free = migrate_pfn
    source_set = False
    free_set = False
    if not zone.compact_blockskip_flush:
        return
    zone.compact_blockskip_flush = False
    while migrate_pfn < free_pfn:
        if _reset_isolation_pfn(alloc, zone, migrate_pfn, True, source_set) and \
                migrate_pfn < reset_migrate:
            source_set = True
            reset_migrate = migrate_pfn
            zone.compact_init_migrate_pfn = reset_migrate
            zone.compact_cached_migrate_pfn[0] = reset_migrate
            zone.compact_cached_migrate_pfn[1] = reset_migrate
        if _reset_isolation_pfn(alloc, zone, free_pfn, free_set, True) and free_pfn > reset_free:
            free_set = True
            reset_free = free_pfn
            zone.compact_init_free_pfn = reset_free
            zone.compact_cached_free_pfn = reset_free
        migrate_pfn += PAGEBLOCK_NR_PAGES
        free_pfn -= PAGEBLOCK_NR_PAGES
    if reset_migrate >= reset_free:
        zone.compact_cached_migrate_pfn[0] = migrate_pfn
        zone.compact_cached_migrate_pfn[1] = migrate_pfn
        zone.compact_cached_free_pfn = free_pfn



def reset_isolation_suitable(alloc: "PageAllocator") -> None:
    """``reset_isolation_suitable()`` (co.c:402): every populated zone of the node (called
    when kswapd goes to sleep)."""
    for zone in alloc.zones:
        if zone.populated():
            __reset_isolation_suitable(alloc, zone)


def test_and_set_skip(alloc: "PageAllocator", cc: CompactControl, pfn: int) -> bool:
    """``test_and_set_skip()`` (co.c:419): set the skip bit; True if it was set already."""
    if cc.ignore_skip_hint:
        return False
    skip = get_pageblock_skip(alloc, pfn)
    if not skip and not cc.no_set_skip_hint:
        set_pageblock_skip(alloc, pfn)
    return skip


def update_cached_migrate(cc: CompactControl, pfn: int) -> None:
    """``update_cached_migrate()`` (co.c:434): advance the cached migrate pfns to the end
    of ``pfn``'s pageblock (the sync one only for sync compaction).  Callers pass a block
    end, so the cache moves one block beyond it, as in the kernel."""
    zone = cc.zone
    if cc.no_set_skip_hint:
        return
    pfn = pageblock_end_pfn(pfn)
    if pfn > zone.compact_cached_migrate_pfn[0]:
        zone.compact_cached_migrate_pfn[0] = pfn
    if cc.mode != MIGRATE_ASYNC and pfn > zone.compact_cached_migrate_pfn[1]:
        zone.compact_cached_migrate_pfn[1] = pfn


def update_pageblock_skip(alloc: "PageAllocator", cc: CompactControl, page: int, pfn: int) -> None:
    """``update_pageblock_skip()`` (co.c:456): mark ``page``'s block skipped and pull the
    cached free pfn down to ``pfn``."""
    zone = cc.zone
    if cc.no_set_skip_hint:
        return
    set_pageblock_skip(alloc, page)
    if pfn < zone.compact_cached_free_pfn:
        zone.compact_cached_free_pfn = pfn


# ---------------------------------------------------------------------- free scanner
def isolate_freepages_block(alloc: "PageAllocator", cc: CompactControl, start_pfn: int,
                            end_pfn: int, stride: int) -> tuple[int, int]:
    """``isolate_freepages_block(strict=false)`` (co.c:574): (pages isolated, pfn reached).

    Visits every ``stride``-th pfn: a compound page is skipped whole when it ends inside
    the range; every free buddy is taken (any order) with ``__isolate_free_page()`` and
    appended to ``cc.freepages[order]``; the walk stops once ``cc.nr_freepages`` covers
    ``cc.nr_migratepages``, or when the watermark check of ``__isolate_free_page()``
    fails.  Emits ``mm_compaction_isolate_freepages``, adds to ``total_free_scanned`` and
    ``compact_isolated``.  (The strict flavour is
    :func:`pagealloc.mm.page_isolation.isolate_freepages_block`.)
    """
    mem = alloc.mem
    pstate = mem.pstate
    nr_scanned = 0
    total_isolated = 0
    blockpfn = start_pfn
    while blockpfn < end_pfn:
        nr_scanned += 1
        s = pstate[blockpfn]
        st = s & PS_MASK
        if st == PS_BUDDY:
            order = s & ORDER_MASK
            isolated = isolate_free_page(alloc, blockpfn, order)
            if not isolated:
                break
            nr_scanned += isolated - 1
            total_isolated += isolated
            cc.nr_freepages += isolated
            cc.freepages[order].append(blockpfn)
            if cc.nr_migratepages <= cc.nr_freepages:
                blockpfn += isolated
                break
            blockpfn += isolated - 1 + stride
            continue
        if st == PS_ALLOC and _large_folio(alloc, blockpfn, s & ORDER_MASK):
            order = s & ORDER_MASK
            if blockpfn + (1 << order) <= end_pfn:
                blockpfn += (1 << order) - 1
                nr_scanned += (1 << order) - 1
            blockpfn += stride
            continue
        # isolate_fail: every pfn up to the end of this block fails alike
        nxt = min(_end_of_covering(alloc, blockpfn), end_pfn)
        steps = max(1, (nxt - blockpfn + stride - 1) // stride)
        nr_scanned += steps - 1
        blockpfn += steps * stride
    if blockpfn > end_pfn:
        blockpfn = end_pfn
    if alloc.sink is not None:
        alloc.emit("mm_compaction_isolate_freepages", start_pfn, blockpfn, nr_scanned, total_isolated)
    cc.total_free_scanned += nr_scanned
    if total_isolated:
        alloc.count_vm_events("compact_isolated", total_isolated)
    return total_isolated, blockpfn


def suitable_migration_target(alloc: "PageAllocator", cc: CompactControl, pfn: int) -> bool:
    """``suitable_migration_target()`` (co.c:1428): not a block starting with a free page
    as large as what we are building; a MOVABLE or CMA block unless
    ``ignore_block_suitable``."""
    s = alloc.mem.pstate[pfn]
    if s & PS_MASK == PS_BUDDY:
        order = cc.order if cc.order > 0 else PAGEBLOCK_ORDER
        if s & ORDER_MASK >= order:
            return False
    if cc.ignore_block_suitable:
        return True
    return is_migrate_movable(alloc.mem.get_pfnblock_migratetype(pfn))


def freelist_scan_limit(cc: CompactControl) -> int:
    """``freelist_scan_limit()`` (co.c:1456)."""
    return (COMPACT_CLUSTER_MAX >> min(63, cc.fast_search_fail)) + 1


def compact_scanners_met(cc: CompactControl) -> bool:
    """``compact_scanners_met()`` (co.c:1467): the free scanner reached the migrate
    scanner's pageblock."""
    return (cc.free_pfn >> PAGEBLOCK_ORDER) <= (cc.migrate_pfn >> PAGEBLOCK_ORDER)


def move_freelist_head(alloc: "PageAllocator", lid: int, freepage: int) -> None:
    """``move_freelist_head()`` (co.c:1479): the entries before ``freepage`` move to the
    tail, so ``freepage`` becomes the head (a cyclic rotation; NIL = the list head
    itself, a no-op)."""
    mem = alloc.mem
    if freepage == NIL or mem.lhead[lid] == freepage:
        return
    while True:
        p = mem.list_pop_tail(lid)
        mem.list_add(lid, p)
        if p == freepage:
            return


def move_freelist_tail(alloc: "PageAllocator", lid: int, freepage: int) -> None:
    """``move_freelist_tail()`` (co.c:1496): the entries up to and including ``freepage``
    move to the tail, so ``freepage`` becomes the tail."""
    mem = alloc.mem
    if mem.ltail[lid] == freepage:
        return
    while True:
        p = mem.list_pop_head(lid)
        mem.list_add_tail(lid, p)
        if p == freepage:
            return


def fast_isolate_around(alloc: "PageAllocator", cc: CompactControl, pfn: int) -> None:
    """``fast_isolate_around()`` (co.c:1507): isolate the rest of ``pfn``'s pageblock
    (stride 1) unless enough pages are held or this is async direct compaction; mark the
    block skipped when it was scanned to its end."""
    if cc.nr_freepages >= cc.nr_migratepages:
        return
    if cc.direct_compaction and cc.mode == MIGRATE_ASYNC:
        return
    zone = cc.zone
    start_pfn = max(pageblock_start_pfn(pfn), zone.zone_start_pfn)
    end_pfn = min(pageblock_end_pfn(pfn), zone.zone_end_pfn)
    if not pageblock_pfn_to_page(alloc, start_pfn, end_pfn, zone):
        return
    _, reached = isolate_freepages_block(alloc, cc, start_pfn, end_pfn, 1)
    if reached == end_pfn and not cc.no_set_skip_hint:
        set_pageblock_skip(alloc, start_pfn)


def next_search_order(cc: CompactControl, order: int) -> int:
    """``next_search_order()`` (co.c:1536): the next order down, wrapping at 0 to
    ``cc.order - 1``; -1 (and ``search_order`` moved down) once the search wrapped."""
    order -= 1
    if order < 0:
        order = cc.order - 1
    if order == cc.search_order:
        cc.search_order -= 1
        if cc.search_order < 0:
            cc.search_order = cc.order - 1
        return -1
    return order


def fast_isolate_freepages(alloc: "PageAllocator", cc: CompactControl) -> None:
    """``fast_isolate_freepages()`` (co.c:1553): take a free page from the MOVABLE free
    lists near the top of the scan space instead of scanning linearly.

    Orders ``search_order`` downward (round robin, :func:`next_search_order`) are searched
    from each list's *tail* for a page at or above ``low_pfn`` (top quarter of the space
    between the scanners), settling for the highest page above ``min_pfn`` (top half);
    the list is rotated so that the chosen (or last scanned) entry becomes its head
    (:func:`move_freelist_head`).  The page is isolated and its pageblock isolated around
    it (:func:`fast_isolate_around`).  Failures count ``fast_search_fail``; at the first
    scan from the zone end the free scanner restarts at the highest block seen.
    """
    limit = max(1, freelist_scan_limit(cc) >> 1)
    nr_scanned = 0
    total_isolated = 0
    highest = 0
    page = NIL
    scan_start = False
    if cc.order <= 0:
        return
    zone = cc.zone
    mem = alloc.mem
    if cc.free_pfn >= zone.compact_init_free_pfn:
        limit = PAGEBLOCK_NR_PAGES >> 1
        scan_start = True
    distance = cc.free_pfn - cc.migrate_pfn
    low_pfn = pageblock_start_pfn(cc.free_pfn - (distance >> 2))
    min_pfn = pageblock_start_pfn(cc.free_pfn - (distance >> 1))
    if min_pfn > low_pfn:
        alloc.vm_warn("fast_isolate_freepages:min_pfn")
        low_pfn = min_pfn
    # min_t(unsigned int, ...): a negative search_order compares as huge
    if cc.search_order < 0 or cc.search_order > cc.order - 1:
        cc.search_order = cc.order - 1
    order = cc.search_order
    while page == NIL and order >= 0:
        if zone.nr_free[order]:
            lid = zone.buddy_list(order, _MOVABLE_IDX)
            order_scanned = 0
            high_pfn = 0
            freepage = NIL
            p = mem.ltail[lid]
            while p != NIL:                        # list_for_each_entry_reverse
                order_scanned += 1
                nr_scanned += 1
                if p >= highest:
                    highest = max(pageblock_start_pfn(p), zone.zone_start_pfn)
                if p >= low_pfn:
                    cc.fast_search_fail = 0
                    cc.search_order = order
                    page = p
                    freepage = p
                    break
                if p >= min_pfn and p > high_pfn:
                    high_pfn = p
                    limit >>= 1
                if order_scanned >= limit:
                    freepage = p
                    break
                p = mem.prv[p]
            if page == NIL and high_pfn:
                page = high_pfn
                freepage = page
            move_freelist_head(alloc, lid, freepage)
            if page != NIL:
                if isolate_free_page(alloc, page, order):
                    nr_isolated = 1 << order
                    nr_scanned += nr_isolated - 1
                    total_isolated += nr_isolated
                    cc.nr_freepages += nr_isolated
                    cc.freepages[order].append(page)
                    alloc.count_vm_events("compact_isolated", nr_isolated)
                else:
                    order = cc.search_order + 1
                    page = NIL
            if cc.nr_freepages >= cc.nr_migratepages:
                break
            if order_scanned >= limit:
                limit = max(1, limit >> 1)
        order = next_search_order(cc, order)
    if alloc.sink is not None:
        alloc.emit("mm_compaction_fast_isolate_freepages", min_pfn, cc.free_pfn, nr_scanned,
                   total_isolated)
    if page == NIL:
        cc.fast_search_fail = (cc.fast_search_fail + 1) & 0xFFFF
        if scan_start:
            if highest >= min_pfn:
                page = highest
                cc.free_pfn = highest
            elif cc.direct_compaction and 0 <= min_pfn < mem.max_pfn:
                if pageblock_pfn_to_page(alloc, min_pfn,
                                         min(pageblock_end_pfn(min_pfn), zone.zone_end_pfn), zone):
                    page = min_pfn
                    if not suitable_migration_target(alloc, cc, page):
                        page = NIL
                cc.free_pfn = min_pfn
    if highest and highest >= zone.compact_cached_free_pfn:
        highest -= PAGEBLOCK_NR_PAGES
        zone.compact_cached_free_pfn = highest
    cc.total_free_scanned += nr_scanned
    if page == NIL:
        return
    fast_isolate_around(alloc, cc, page)


def isolate_freepages(alloc: "PageAllocator", cc: CompactControl) -> None:
    """``isolate_freepages()`` (co.c:1726): the free scanner, downward from
    ``cc.free_pfn`` to the migrate scanner's pageblock, in suitable, not-skipped blocks;
    stride 32 (async, doubling while blocks give nothing) or 1; stops once enough pages
    are held, and records where to restart in ``cc.free_pfn``."""
    fast_isolate_freepages(alloc, cc)
    if cc.nr_freepages:
        _step(alloc)
        return
    zone = cc.zone
    isolate_start_pfn = cc.free_pfn
    block_start = pageblock_start_pfn(isolate_start_pfn)
    block_end = min(block_start + PAGEBLOCK_NR_PAGES, zone.zone_end_pfn)
    low_pfn = pageblock_end_pfn(cc.migrate_pfn)
    stride = COMPACT_CLUSTER_MAX if cc.mode == MIGRATE_ASYNC else 1
    while block_start >= low_pfn:
        if pageblock_pfn_to_page(alloc, block_start, block_end, zone) and \
                suitable_migration_target(alloc, cc, block_start) and \
                isolation_suitable(alloc, cc, block_start):
            nr_isolated, isolate_start_pfn = isolate_freepages_block(
                alloc, cc, isolate_start_pfn, block_end, stride)
            if isolate_start_pfn == block_end:
                update_pageblock_skip(alloc, cc, block_start, block_start - PAGEBLOCK_NR_PAGES)
            if cc.nr_freepages >= cc.nr_migratepages:
                if isolate_start_pfn >= block_end:
                    isolate_start_pfn = block_start - PAGEBLOCK_NR_PAGES
                break
            elif isolate_start_pfn < block_end:
                break
            stride = 1 if nr_isolated else min(COMPACT_CLUSTER_MAX, stride << 1)
        block_end = block_start
        block_start -= PAGEBLOCK_NR_PAGES
        isolate_start_pfn = block_start
    cc.free_pfn = isolate_start_pfn
    _step(alloc)


def compaction_alloc(alloc: "PageAllocator", cc: CompactControl, order: int) -> int:
    """``compaction_alloc()`` (co.c:1846): the migration target for an order-``order``
    folio: the head of the smallest non-empty ``cc.freepages[o >= order]`` (running the
    free scanner once if all are empty), split like ``expand()`` with the upper halves
    pushed to the heads of the lower lists, then ``post_alloc_hook(__GFP_MOVABLE)`` and
    ``prep_compound_page()``; NIL if nothing can be found."""
    has_isolated_pages = False
    freepages = cc.freepages
    while True:
        start_order = order
        while start_order < NR_PAGE_ORDERS and not freepages[start_order]:
            start_order += 1
        if start_order < NR_PAGE_ORDERS:
            break
        if has_isolated_pages:
            return NIL
        isolate_freepages(alloc, cc)
        has_isolated_pages = True
    pstate = alloc.mem.pstate
    freepage = freepages[start_order].pop(0)
    size = 1 << start_order
    while start_order > order:
        start_order -= 1
        size >>= 1
        freepages[start_order].insert(0, freepage + size)
        pstate[freepage + size] = PS_ISOLATED | start_order
    pstate[freepage] = 0
    # the data is copied in right after (move_to_new_folio()), so the content tracker
    # is not told about this allocation
    alloc.post_alloc_hook(freepage, order, G.__GFP_MOVABLE, MIGRATE_MOVABLE)
    if order:
        alloc.mem.pkind[freepage] |= KIND_COMPOUND
    cc.nr_freepages -= 1 << order
    cc.nr_migratepages -= 1 << order
    return freepage


def compaction_free(alloc: "PageAllocator", cc: CompactControl, dst: int, order: int) -> None:
    """``compaction_free()`` (co.c:1904): an unused target goes back to the head of
    ``cc.freepages[order]`` after ``free_pages_prepare()``."""
    alloc.free_pages_prepare(dst, order)
    alloc.mem.pstate[dst] = PS_ISOLATED | order
    cc.freepages[order].insert(0, dst)
    cc.nr_freepages += 1 << order
    cc.nr_migratepages += 1 << order


# ---------------------------------------------------------------------- migrate scanner
def too_many_isolated(alloc: "PageAllocator", cc: CompactControl) -> bool:
    """``too_many_isolated()`` (co.c:779): more folios isolated than half the LRU (an
    eighth with __GFP_FS).  The model counts isolated folios, the kernel pages."""
    owners = alloc.owners
    if owners is None:
        return False
    inactive = owners.lru_pages(2) + owners.lru_pages(0)   # LRU_INACTIVE_FILE + _ANON
    active = owners.lru_pages(3) + owners.lru_pages(1)
    isolated = owners.nr_isolated
    if cc.gfp_mask & G.__GFP_FS:
        inactive >>= 3
        active >>= 3
    return isolated > (inactive + active) // 2


def skip_isolation_on_order(order: int, target_order: int) -> bool:
    """``skip_isolation_on_order()`` (co.c:819): a folio at least as large as the target
    (unless compacting everything), or of pageblock order, is not worth moving."""
    if not is_via_compact_memory(target_order) and order >= target_order:
        return True
    return order >= PAGEBLOCK_ORDER


def isolate_migratepages_block(alloc: "PageAllocator", cc: CompactControl, low_pfn: int,
                               end_pfn: int, mode: int) -> int:
    """``isolate_migratepages_block()`` (co.c:855): isolate the movable folios of
    ``[low_pfn, end_pfn)`` (one pageblock) onto ``cc.migratepages``; 0 or -EAGAIN.

    Per page: a skip-marked block is abandoned at its first page; free buddies are
    stepped over by their order; compound pages are skipped whole when
    :func:`skip_isolation_on_order` says so (not for ``alloc_contig``); only PageLRU
    folios are taken (``folio_isolate_lru()``), and not file folios without ``__GFP_FS``
    nor, with ``ISOLATE_ASYNC_MIGRATE`` (every mode but MIGRATE_SYNC), folios under
    writeback (dirty folios pass: anon has no mapping, and the file systems modelled have
    ``->migrate_folio``).  The first isolation marks the block skipped
    (``test_and_set_skip()``) and gives up if it already was.  Isolation stops at
    ``COMPACT_CLUSTER_MAX`` pages unless ``finish_pageblock``.  Async direct compaction
    (``skip_on_failure``) puts back what it took from a ``1 << cc.order`` aligned chunk
    at the first failure and jumps to the next chunk.  A block scanned to its end with
    nothing isolated (or with ``finish_pageblock``) is marked skipped and the cached
    migrate pfn advanced.
    """
    cc.migrate_pfn = low_pfn
    mem = alloc.mem
    pstate = mem.pstate
    owners = alloc.owners
    pfn_h = owners.pfn_h if owners is not None else {}
    nr_scanned = 0
    nr_isolated = 0
    start_pfn = low_pfn
    skip_on_failure = False
    next_skip_pfn = 0
    skip_updated = False
    valid_page = NIL
    zone_start = cc.zone.zone_start_pfn
    if too_many_isolated(alloc, cc):
        if cc.nr_migratepages:
            return -EAGAIN
        if cc.mode == MIGRATE_ASYNC:
            return -EAGAIN
        # sync: reclaim_throttle() until isolated folios come back; nothing else runs in
        # the model while we wait, so carry on as the kernel does after the wait
    if cc.direct_compaction and cc.mode == MIGRATE_ASYNC:
        skip_on_failure = True
        next_skip_pfn = block_end_pfn(low_pfn, cc.order)
    gfp_fs = bool(cc.gfp_mask & G.__GFP_FS)
    async_migrate = bool(mode & ISOLATE_ASYNC_MIGRATE)
    while low_pfn < end_pfn:
        if skip_on_failure and low_pfn >= next_skip_pfn:
            if nr_isolated:
                break
            next_skip_pfn = block_end_pfn(low_pfn, cc.order)
        nr_scanned += 1
        if valid_page == NIL and (pageblock_aligned(low_pfn) or low_pfn == zone_start):
            if not isolation_suitable(alloc, cc, low_pfn):
                low_pfn = end_pfn
                break
            valid_page = low_pfn
        s = pstate[low_pfn]
        st = s & PS_MASK
        if st == PS_BUDDY:
            order = s & ORDER_MASK
            if 0 < order <= MAX_PAGE_ORDER:
                low_pfn += (1 << order) - 1
                nr_scanned += (1 << order) - 1
            low_pfn += 1
            continue
        fast_forward = True
        if st == PS_ALLOC:
            order = s & ORDER_MASK
            h = pfn_h.get(low_pfn, NIL)
            if _large_folio(alloc, low_pfn, order) and not cc.alloc_contig and \
                    skip_isolation_on_order(order, cc.order):
                low_pfn += (1 << order) - 1
                nr_scanned += (1 << order) - 1
                fast_forward = False
            elif h != NIL and owners is not None and owners.h_info[h] & F_LRU:
                info = owners.h_info[h]
                mapping = info & OWN_KIND_MASK == OWN_FILE
                if (mapping and not gfp_fs) or (async_migrate and info & F_WRITEBACK):
                    pass                                   # isolate_fail_put
                else:
                    if not skip_updated and valid_page != NIL:
                        skip_updated = True
                        if test_and_set_skip(alloc, cc, valid_page) and not cc.finish_pageblock:
                            low_pfn = end_pfn
                            break
                    owners.folio_isolate_lru(h)
                    nr = 1 << order
                    low_pfn += nr - 1
                    cc.migratepages.insert(0, h)           # list_add()
                    cc.nr_migratepages += nr
                    nr_isolated += nr
                    nr_scanned += nr - 1
                    if cc.nr_migratepages >= COMPACT_CLUSTER_MAX and not cc.finish_pageblock \
                            and not cc.contended:
                        low_pfn += 1
                        break
                    low_pfn += 1
                    continue
        # isolate_fail
        if not skip_on_failure:
            if fast_forward:
                nxt = min(_end_of_covering(alloc, low_pfn), end_pfn)
                nr_scanned += nxt - low_pfn - 1
                low_pfn = nxt
            else:
                low_pfn += 1
            continue
        if nr_isolated:
            putback_movable_pages(alloc, cc.migratepages)
            cc.migratepages.clear()
            cc.nr_migratepages = 0
            nr_isolated = 0
        if low_pfn < next_skip_pfn:
            low_pfn = next_skip_pfn - 1
            next_skip_pfn += 1 << cc.order
        low_pfn += 1
    if low_pfn > end_pfn:
        low_pfn = end_pfn
    if low_pfn == end_pfn and (not nr_isolated or cc.finish_pageblock):
        if not cc.no_set_skip_hint and valid_page != NIL and not skip_updated:
            set_pageblock_skip(alloc, valid_page)
        update_cached_migrate(cc, low_pfn)
    if alloc.sink is not None:
        alloc.emit("mm_compaction_isolate_migratepages", start_pfn, low_pfn, nr_scanned, nr_isolated)
    cc.total_migrate_scanned += nr_scanned
    if nr_isolated:
        alloc.count_vm_events("compact_isolated", nr_isolated)
    cc.migrate_pfn = low_pfn
    return 0


def isolate_migratepages_range(alloc: "PageAllocator", cc: CompactControl, start_pfn: int,
                               end_pfn: int) -> int:
    """``isolate_migratepages_range()`` (co.c:1337): isolate from a pfn range block by
    block (``ISOLATE_UNEVICTABLE``) until ``COMPACT_CLUSTER_MAX`` pages are held; 0 or an
    error.  For ``alloc_contig_range()``: the caller's ``cc`` has order -1,
    MIGRATE_SYNC, ``ignore_skip_hint``, ``no_set_skip_hint`` and ``alloc_contig``."""
    pfn = start_pfn
    block_start = max(pageblock_start_pfn(pfn), cc.zone.zone_start_pfn)
    block_end = pageblock_end_pfn(pfn)
    ret = 0
    while pfn < end_pfn:
        block_end = min(block_end, end_pfn)
        if pageblock_pfn_to_page(alloc, block_start, block_end, cc.zone):
            ret = isolate_migratepages_block(alloc, cc, pfn, block_end, ISOLATE_UNEVICTABLE)
            if ret:
                break
            if cc.nr_migratepages >= COMPACT_CLUSTER_MAX:
                break
        pfn = block_end
        block_start = block_end
        block_end += PAGEBLOCK_NR_PAGES
    return ret


def suitable_migration_source(alloc: "PageAllocator", cc: CompactControl, pfn: int) -> bool:
    """``suitable_migration_source()`` (co.c:1376, 7.2): not a block covered by a huge
    compound page; background compaction takes any block; direct compaction never a CMA
    block without ALLOC_CMA; sync direct compaction any other block; async direct
    compaction only MOVABLE/CMA blocks for MOVABLE or >= pageblock-order requests, else
    blocks of the request's own migratetype."""
    if pageblock_skip_persistent(alloc, pfn):
        return False
    if not cc.direct_compaction:
        return True
    block_mt = alloc.mem.get_pfnblock_migratetype(pfn)
    if block_mt == MIGRATE_CMA and not cc.alloc_flags & G.ALLOC_CMA:
        return False
    if cc.mode != MIGRATE_ASYNC:
        return True
    if cc.migratetype == MIGRATE_MOVABLE or cc.order >= PAGEBLOCK_ORDER:
        return is_migrate_movable(block_mt)
    return block_mt == cc.migratetype


def update_fast_start_pfn(cc: CompactControl, pfn: int) -> None:
    """``update_fast_start_pfn()`` (co.c:1943)."""
    if cc.fast_start_pfn == ULONG_MAX:
        return
    if not cc.fast_start_pfn:
        cc.fast_start_pfn = pfn
    cc.fast_start_pfn = min(cc.fast_start_pfn, pfn)


def reinit_migrate_pfn(cc: CompactControl) -> int:
    """``reinit_migrate_pfn()`` (co.c:1955): restart the linear scan at the lowest block
    the fast search once found, once."""
    if not cc.fast_start_pfn or cc.fast_start_pfn == ULONG_MAX:
        return cc.migrate_pfn
    cc.migrate_pfn = cc.fast_start_pfn
    cc.fast_start_pfn = ULONG_MAX
    return cc.migrate_pfn


def fast_find_migrateblock(alloc: "PageAllocator", cc: CompactControl) -> int:
    """``fast_find_migrateblock()`` (co.c:1971): for costly orders, pick as migration
    source a not-skipped block low in the zone that already has free pages, found on the
    MOVABLE free lists of orders ``cc.order - 1`` down to PAGE_ALLOC_COSTLY_ORDER (head
    first, at most :func:`freelist_scan_limit` entries); the found (or first unexamined)
    entry is rotated to its list's tail (:func:`move_freelist_tail`)."""
    limit = freelist_scan_limit(cc)
    nr_scanned = 0
    pfn = cc.migrate_pfn
    found_block = False
    zone = cc.zone
    zone_start = zone.zone_start_pfn
    if cc.ignore_skip_hint:
        return pfn
    if cc.finish_pageblock:
        return pfn
    if pfn != zone_start and pfn != pageblock_start_pfn(pfn):
        return pfn
    if cc.order <= PAGE_ALLOC_COSTLY_ORDER:
        return pfn
    if cc.direct_compaction and cc.migratetype != MIGRATE_MOVABLE and cc.order < PAGEBLOCK_ORDER:
        return pfn
    distance = (cc.free_pfn - cc.migrate_pfn) >> 1
    if cc.migrate_pfn != zone_start:
        distance >>= 2
    high_pfn = pageblock_start_pfn(cc.migrate_pfn + distance)
    mem = alloc.mem
    order = cc.order - 1
    while order >= PAGE_ALLOC_COSTLY_ORDER and not found_block and nr_scanned < limit:
        if zone.nr_free[order]:
            lid = zone.buddy_list(order, _MOVABLE_IDX)
            p = mem.lhead[lid]
            while p != NIL:
                nxt = mem.nxt[p]
                if nr_scanned >= limit:
                    nr_scanned += 1
                    move_freelist_tail(alloc, lid, p)
                    break
                nr_scanned += 1
                if p < high_pfn:
                    if get_pageblock_skip(alloc, p):
                        p = nxt
                        continue
                    move_freelist_tail(alloc, lid, p)
                    update_fast_start_pfn(cc, p)
                    pfn = max(pageblock_start_pfn(p), zone_start)
                    cc.fast_search_fail = 0
                    found_block = True
                    break
                p = nxt
        order -= 1
    cc.total_migrate_scanned += nr_scanned
    if not found_block:
        cc.fast_search_fail = (cc.fast_search_fail + 1) & 0xFFFF
        pfn = reinit_migrate_pfn(cc)
    return pfn


def isolate_migratepages(alloc: "PageAllocator", cc: CompactControl) -> int:
    """``isolate_migratepages()`` (co.c:2093): from the fast-search block or
    ``cc.migrate_pfn``, the first pageblock below the free scanner that is not skipped and
    is a :func:`suitable_migration_source` is scanned with
    :func:`isolate_migratepages_block`; ISOLATE_SUCCESS, ISOLATE_NONE or ISOLATE_ABORT."""
    sysctl = sysctl_of(alloc)
    isolate_mode = (ISOLATE_UNEVICTABLE if sysctl.compact_unevictable_allowed else 0) | \
        (ISOLATE_ASYNC_MIGRATE if cc.mode != MIGRATE_SYNC else 0)
    zone = cc.zone
    zone_start = zone.zone_start_pfn
    low_pfn = fast_find_migrateblock(alloc, cc)
    block_start = max(pageblock_start_pfn(low_pfn), zone_start)
    fast_find_block = low_pfn != cc.migrate_pfn and not cc.fast_search_fail
    block_end = pageblock_end_pfn(low_pfn)
    while block_end <= cc.free_pfn:
        if pageblock_pfn_to_page(alloc, block_start, block_end, zone):
            if (pageblock_aligned(low_pfn) or low_pfn == zone_start) and not fast_find_block \
                    and not isolation_suitable(alloc, cc, block_start):
                pass
            elif not suitable_migration_source(alloc, cc, block_start):
                update_cached_migrate(cc, block_end)
            else:
                if isolate_migratepages_block(alloc, cc, low_pfn, block_end, isolate_mode):
                    return ISOLATE_ABORT
                break
        fast_find_block = False
        cc.migrate_pfn = low_pfn = block_end
        block_start = block_end
        block_end += PAGEBLOCK_NR_PAGES
    return ISOLATE_SUCCESS if cc.nr_migratepages else ISOLATE_NONE


# ---------------------------------------------------------------------- suitability
def __compact_finished(alloc: "PageAllocator", cc: CompactControl) -> int:
    """``__compact_finished()`` (co.c:2282): COMPLETE/PARTIAL_SKIPPED when the scanners
    met (resetting the cached positions, and asking for the skip bits to be flushed after
    a direct compaction); for proactive compaction CONTINUE while the zone's score is
    above the low mark; CONTINUE for compact_memory or inside a pageblock; SUCCESS when
    a block of the order is free for the migratetype (or CMA for MOVABLE, or a claimable
    fallback); else NO_SUITABLE_PAGE."""
    zone = cc.zone
    migratetype = cc.migratetype
    if compact_scanners_met(cc):
        reset_cached_positions(zone)
        if cc.direct_compaction:
            zone.compact_blockskip_flush = True
        return COMPACT_COMPLETE if cc.whole_zone else COMPACT_PARTIAL_SKIPPED
    if cc.proactive_compaction:
        if kswapd_is_running(alloc, cc):
            return COMPACT_PARTIAL_SKIPPED
        score = fragmentation_score_zone(zone)
        ret = COMPACT_CONTINUE if score > fragmentation_score_wmark(alloc, True) else COMPACT_SUCCESS
        return COMPACT_CONTENDED if cc.contended else ret
    if is_via_compact_memory(cc.order):
        return COMPACT_CONTINUE
    if not pageblock_aligned(cc.migrate_pfn):
        return COMPACT_CONTINUE
    if alloc.defrag_mode and not cc.direct_compaction:
        if alloc._zone_watermark_ok(zone, cc.order, zone.high_wmark_pages(), cc.highest_zoneidx,
                                    cc.alloc_flags, zone.nr_free_pages_blocks):
            return COMPACT_SUCCESS
        return COMPACT_CONTINUE
    ret = COMPACT_NO_SUITABLE_PAGE
    for order in range(cc.order, NR_PAGE_ORDERS):
        if not alloc.free_area_empty(zone, order, migratetype):
            return COMPACT_SUCCESS
        if alloc.has_cma and migratetype == MIGRATE_MOVABLE and \
                not alloc.free_area_empty(zone, order, MIGRATE_CMA):
            return COMPACT_SUCCESS
        if alloc.find_suitable_fallback(zone, order, migratetype, True) >= 0:
            return COMPACT_SUCCESS
    if cc.contended:
        ret = COMPACT_CONTENDED
    return ret


def compact_finished(alloc: "PageAllocator", cc: CompactControl) -> int:
    """``compact_finished()`` (co.c:2394): :func:`__compact_finished` with its trace
    event; NO_SUITABLE_PAGE means CONTINUE."""
    ret = __compact_finished(alloc, cc)
    if alloc.sink is not None:
        alloc.emit("mm_compaction_finished", cc.zone.node, cc.zone.idx, cc.order, ret)
    if ret == COMPACT_NO_SUITABLE_PAGE:
        ret = COMPACT_CONTINUE
    return ret


def __compaction_suitable(alloc: "PageAllocator", zone: Zone, order: int, watermark: int,
                          highest_zoneidx: int, free_pages: int) -> bool:
    """``__compaction_suitable()`` (co.c:2406, 7.2): order-0 ``watermark +
    compact_gap(order)`` (plus low - min for costly orders) with ALLOC_CMA on
    ``free_pages``."""
    watermark += compact_gap(order)
    if order > PAGE_ALLOC_COSTLY_ORDER:
        watermark += zone.low_wmark_pages() - zone.min_wmark_pages()
    return alloc._zone_watermark_ok(zone, 0, watermark, highest_zoneidx, G.ALLOC_CMA, free_pages)


def compaction_suitable(alloc: "PageAllocator", zone: Zone, order: int, watermark: int,
                        highest_zoneidx: int) -> bool:
    """``compaction_suitable()`` (co.c:2436): :func:`__compaction_suitable` on NR_FREE_PAGES
    and, for costly orders, a fragmentation index outside ``[0, extfrag_threshold]``
    (failure would be for lack of memory, not fragmentation).  Emits
    ``mm_compaction_suitable``."""
    suitable = __compaction_suitable(alloc, zone, order, watermark, highest_zoneidx,
                                     alloc.zone_page_state_free(zone))
    if suitable:
        result = COMPACT_CONTINUE
        if order > PAGE_ALLOC_COSTLY_ORDER:
            fragindex = fragmentation_index(zone, order)
            if 0 <= fragindex <= sysctl_of(alloc).extfrag_threshold:
                suitable = False
                result = COMPACT_NOT_SUITABLE_ZONE
    else:
        result = COMPACT_SKIPPED
    if alloc.sink is not None:
        alloc.emit("mm_compaction_suitable", zone.node, zone.idx, order, result)
    return suitable


def compaction_zonelist_suitable(alloc: "PageAllocator", ac: "AllocContext", order: int,
                                 alloc_flags: int, gfp_mask: int = 0) -> bool:
    """``compaction_zonelist_suitable()`` (co.c:2481, for ``should_compact_retry()``): some
    zone would pass :func:`__compaction_suitable` at the min watermark counting free
    pages plus a 1/order share of its reclaimable pages."""
    for zone in ac.zonelist:
        if zone.idx > ac.highest_zoneidx:
            continue
        available = zone_reclaimable_pages(alloc, zone) // order
        available += max(zone.vm_nr_free_pages + sum(zone.vm_free_diff), 0)  # _snapshot
        if __compaction_suitable(alloc, zone, order, zone.min_wmark_pages(), ac.highest_zoneidx,
                                 available):
            return True
    return False


def compaction_suit_allocation_order(alloc: "PageAllocator", zone: Zone, order: int,
                                     highest_zoneidx: int, alloc_flags: int,
                                     async_: bool, kcompactd: bool,
                                     unmapped: bool = False) -> int:
    """``compaction_suit_allocation_order()`` (co.c:2523): SUCCESS if the allocation's
    watermark already holds at ``order``; SKIPPED if costly async compaction without
    ALLOC_CMA would only have CMA memory to work with, or :func:`compaction_suitable`
    says no; else CONTINUE.  kcompactd with defrag_mode counts only free whole blocks; an
    unmapped request of the series v4 only free whole mapped blocks
    (``NR_FREE_PAGES_BLOCKS_MAPPED``, bjackman/linux mm/compaction.c@075be59b)."""
    if unmapped:
        free_pages = zone.nr_free_pages_blocks - zone.nr_free_pages_blocks_unmapped
    elif kcompactd and alloc.defrag_mode:
        free_pages = zone.nr_free_pages_blocks
    else:
        free_pages = alloc.zone_page_state_free(zone)
    watermark = zone.wmark_pages(alloc_flags & G.ALLOC_WMARK_MASK)
    if alloc._zone_watermark_ok(zone, order, watermark, highest_zoneidx, alloc_flags, free_pages):
        return COMPACT_SUCCESS
    if order > PAGE_ALLOC_COSTLY_ORDER and async_ and not alloc_flags & G.ALLOC_CMA:
        if not alloc._zone_watermark_ok(zone, 0, watermark + compact_gap(order), highest_zoneidx,
                                        0, alloc.zone_page_state_free(zone)):
            return COMPACT_SKIPPED
    if not compaction_suitable(alloc, zone, order, watermark, highest_zoneidx):
        return COMPACT_SKIPPED
    return COMPACT_CONTINUE


# ---------------------------------------------------------------------- compact_zone
def compact_zone(alloc: "PageAllocator", cc: CompactControl,
                 capc: CaptureControl | None = None) -> int:
    """``compact_zone()`` (co.c:2564): run both scanners over one zone until
    :func:`compact_finished` says stop; returns the ``compact_result``.

    Starts from the cached positions (or the zone ends with ``whole_zone``), after
    checking :func:`compaction_suit_allocation_order` (except for order -1) and clearing
    skip bits if :func:`compaction_restarting`.  Each round isolates a batch
    (:func:`isolate_migratepages`) and migrates it (``migrate_pages()`` with
    :func:`compaction_alloc`/:func:`compaction_free`); a failed batch in a partly scanned
    block makes ASYNC/SYNC_LIGHT rescan the rest of the block (``finish_pageblock``); a
    captured page ends with SUCCESS; when the migrate scanner leaves the ``1 << order``
    chunk it migrated from, this CPU's pcp lists of the zone are drained
    (``lru_add_drain_cpu_zone()``) so the freed pages merge.  Held free pages go back at
    the end (``release_free_list()``) and the cached free pfn moves back up to them.
    """
    zone = cc.zone
    start_pfn = zone.zone_start_pfn
    end_pfn = zone.zone_end_pfn
    sync = cc.mode != MIGRATE_ASYNC
    cc.total_migrate_scanned = 0
    cc.total_free_scanned = 0
    cc.nr_migratepages = 0
    cc.nr_freepages = 0
    cc.freepages = [[] for _ in range(NR_PAGE_ORDERS)]
    cc.migratepages = []
    cc.migratetype = G.gfp_migratetype(cc.gfp_mask)
    if not is_via_compact_memory(cc.order):
        ret = compaction_suit_allocation_order(alloc, zone, cc.order, cc.highest_zoneidx,
                                               cc.alloc_flags, cc.mode == MIGRATE_ASYNC,
                                               not cc.direct_compaction, cc.unmapped)
        if ret != COMPACT_CONTINUE:
            return ret
    if compaction_restarting(zone, cc.order):
        __reset_isolation_suitable(alloc, zone)
    cc.fast_start_pfn = 0
    if cc.whole_zone:
        cc.migrate_pfn = start_pfn
        cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
    else:
        cc.migrate_pfn = zone.compact_cached_migrate_pfn[int(sync)]
        cc.free_pfn = zone.compact_cached_free_pfn
        if cc.free_pfn < start_pfn or cc.free_pfn >= end_pfn:
            cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
            zone.compact_cached_free_pfn = cc.free_pfn
        if cc.migrate_pfn < start_pfn or cc.migrate_pfn >= end_pfn:
            cc.migrate_pfn = start_pfn
            zone.compact_cached_migrate_pfn[0] = cc.migrate_pfn
            zone.compact_cached_migrate_pfn[1] = cc.migrate_pfn
        if cc.migrate_pfn <= zone.compact_init_migrate_pfn:
            cc.whole_zone = True
    last_migrated_pfn = 0
    update_cached = not sync and \
        zone.compact_cached_migrate_pfn[0] == zone.compact_cached_migrate_pfn[1]
    if alloc.sink is not None:
        alloc.emit("mm_compaction_begin", start_pfn, cc.migrate_pfn, cc.free_pfn, end_pfn, int(sync))
    # lru_add_drain(): folios join the LRU at once in the model (mm/owners.py)
    cpu = cc.cpu
    while True:
        ret = compact_finished(alloc, cc)
        if ret != COMPACT_CONTINUE:
            break
        iteration_start_pfn = cc.migrate_pfn
        cc.finish_pageblock = \
            pageblock_start_pfn(last_migrated_pfn) == pageblock_start_pfn(iteration_start_pfn)
        stop = False
        while True:                                            # rescan:
            isolated = isolate_migratepages(alloc, cc)
            _step(alloc)
            if isolated == ISOLATE_ABORT:
                ret = COMPACT_CONTENDED
                putback_movable_pages(alloc, cc.migratepages)
                cc.migratepages = []
                cc.nr_migratepages = 0
                stop = True
                break
            if isolated == ISOLATE_NONE:
                if update_cached:
                    zone.compact_cached_migrate_pfn[1] = zone.compact_cached_migrate_pfn[0]
                break                                          # goto check_drain
            update_cached = False
            last_migrated_pfn = max(start_pfn, pageblock_start_pfn(cc.migrate_pfn - 1))
            nr_migratepages = cc.nr_migratepages
            folios = cc.migratepages
            cc.migratepages = []
            err, nr_succeeded, failed = migrate_pages(
                alloc, folios, lambda src, order: compaction_alloc(alloc, cc, order),
                lambda dst, order: compaction_free(alloc, cc, dst, order),
                cc.mode, MR_COMPACTION, cpu)
            if alloc.sink is not None:
                alloc.emit("mm_compaction_migratepages", nr_migratepages, nr_succeeded)
            cc.nr_migratepages = 0
            _hold_captured(alloc)
            if err:
                putback_movable_pages(alloc, failed)
                _step(alloc)
                if err == -ENOMEM and not compact_scanners_met(cc):
                    ret = COMPACT_CONTENDED
                    stop = True
                    break
                if not pageblock_aligned(cc.migrate_pfn) and not cc.ignore_skip_hint and \
                        not cc.finish_pageblock and cc.mode < MIGRATE_SYNC:
                    cc.finish_pageblock = True
                    if cc.order == COMPACTION_HPAGE_ORDER:
                        last_migrated_pfn = 0
                    continue                                   # goto rescan
            else:
                _step(alloc)
            if capc is not None and capc.page != NIL:
                ret = COMPACT_SUCCESS
                stop = True
            break
        if stop:
            break
        # check_drain:
        if cc.order > 0 and last_migrated_pfn:
            if last_migrated_pfn < block_start_pfn(cc.migrate_pfn, cc.order):
                alloc.drain_pages_zone(cpu, zone)              # lru_add_drain_cpu_zone()
                last_migrated_pfn = 0
                _hold_captured(alloc)
                _step(alloc)
    # out:
    if cc.nr_freepages > 0:
        free_pfn = release_free_list(alloc, cc.freepages, cpu)
        cc.nr_freepages = 0
        free_pfn = pageblock_start_pfn(free_pfn)
        if free_pfn > zone.compact_cached_free_pfn:
            zone.compact_cached_free_pfn = free_pfn
    _hold_captured(alloc)
    alloc.count_vm_events("compact_migrate_scanned", cc.total_migrate_scanned)
    alloc.count_vm_events("compact_free_scanned", cc.total_free_scanned)
    if alloc.sink is not None:
        alloc.emit("mm_compaction_end", start_pfn, cc.migrate_pfn, cc.free_pfn, end_pfn, int(sync), ret)
    _step(alloc)
    return ret


def compact_zone_order(alloc: "PageAllocator", zone: Zone, order: int, gfp_mask: int, prio: int,
                       alloc_flags: int, highest_zoneidx: int,
                       capc: CaptureControl | None, cpu: int | None = None,
                       unmapped: bool = False) -> int:
    """``compact_zone_order()`` (co.c:2802): direct compaction of one zone: ASYNC for
    COMPACT_PRIO_ASYNC, else SYNC_LIGHT; at MIN_COMPACT_PRIORITY the whole zone, ignoring
    skip hints and block suitability."""
    min_prio = prio == MIN_COMPACT_PRIORITY
    cc = CompactControl(zone, order, gfp_mask,
                        MIGRATE_ASYNC if prio == COMPACT_PRIO_ASYNC else MIGRATE_SYNC_LIGHT,
                        search_order=order, alloc_flags=alloc_flags,
                        highest_zoneidx=highest_zoneidx, direct_compaction=True,
                        whole_zone=min_prio, ignore_skip_hint=min_prio,
                        ignore_block_suitable=min_prio,
                        cpu=alloc.cpu if cpu is None else cpu, unmapped=unmapped)
    return compact_zone(alloc, cc, capc)


def gfp_compaction_allowed(gfp_mask: int) -> bool:
    """``gfp_compaction_allowed()`` (include/linux/gfp.h:434): needs __GFP_IO."""
    return bool(gfp_mask & G.__GFP_IO)


def try_to_compact_pages(alloc: "PageAllocator", gfp_mask: int, order: int, alloc_flags: int,
                         ac: "AllocContext", prio: int, capture_order: int | None = None,
                         cpu: int | None = None) -> tuple[int, int]:
    """``try_to_compact_pages()`` (co.c:2836) with the capture set-up of
    ``__alloc_pages_direct_compact()`` (mm/page_alloc.c:4144): compact each zone of the
    zonelist up to ``ac.highest_zoneidx``; returns ``(compact_result, captured pfn or
    NIL)``.

    Zones whose compaction is deferred are skipped above MIN_COMPACT_PRIORITY; a zone
    where compaction expects success (or captured a page) stops the walk with
    ``compaction_defer_reset(zone, order, False)``; sync priorities defer zones that ended
    COMPLETE or PARTIAL_SKIPPED.  While a zone is compacted ``alloc.capc`` is a
    ``capture_control`` for ``capture_order`` (default ``order``; the slow path passes the
    request's order when ``ALLOC_NOFRAGMENT`` promoted ``order`` to pageblock_order) and
    ``ac.migratetype``.  A captured block is held (``PS_ISOLATED``) for the caller, which
    prepares it with ``prep_new_page()`` and counts COMPACTSTALL/COMPACTSUCCESS.
    """
    if not gfp_compaction_allowed(gfp_mask):
        return COMPACT_SKIPPED, NIL
    if alloc.sink is not None:
        alloc.emit("mm_compaction_try_to_compact_pages", order, gfp_mask, prio)
    rc = COMPACT_SKIPPED
    cap_order = order if capture_order is None else capture_order
    captured = NIL
    saved = alloc.capc
    for zone in ac.zonelist:
        if zone.idx > ac.highest_zoneidx:
            continue
        if prio > MIN_COMPACT_PRIORITY and compaction_deferred(alloc, zone, order):
            rc = max(COMPACT_DEFERRED, rc)
            continue
        capc = CaptureControl(zone, ac.migratetype, cap_order)
        alloc.capc = capc
        try:
            status = compact_zone_order(alloc, zone, order, gfp_mask, prio, alloc_flags,
                                        ac.highest_zoneidx, capc, cpu,
                                        unmapped=bool(ac.migratetype >> 3))
            _hold_captured(alloc)
        finally:
            alloc.capc = saved
        if capc.page != NIL:
            captured = capc.page
            status = COMPACT_SUCCESS
        rc = max(status, rc)
        if status == COMPACT_SUCCESS:
            compaction_defer_reset(alloc, zone, order, False)
            break
        if prio != COMPACT_PRIO_ASYNC and status in (COMPACT_COMPLETE, COMPACT_PARTIAL_SKIPPED):
            defer_compaction(alloc, zone, order)
    return rc, captured


# ---------------------------------------------------------------------- whole-node compaction
def compact_node(alloc: "PageAllocator", proactive: bool, cpu: int = 0,
                 kswapd_running: bool | None = None) -> int:
    """``compact_node()`` (co.c:2924): compact every populated zone with order -1, the
    whole zone, ignoring skip hints: MIGRATE_SYNC for compact_memory, SYNC_LIGHT and
    ``proactive_compaction`` (stop at the low score, count KCOMPACTD_*_SCANNED) for
    kcompactd's proactive work.  Returns 0."""
    cc: CompactControl | None = None
    for zone in alloc.zones:
        if not zone.populated():
            continue
        if cc is None:
            cc = CompactControl(zone, -1, G.GFP_KERNEL,
                                MIGRATE_SYNC_LIGHT if proactive else MIGRATE_SYNC,
                                ignore_skip_hint=True, whole_zone=True,
                                proactive_compaction=proactive, cpu=cpu,
                                kswapd_running=kswapd_running)
        cc.zone = zone
        compact_zone(alloc, cc, None)
        if proactive:
            alloc.count_vm_events("compact_daemon_migrate_scanned", cc.total_migrate_scanned)
            alloc.count_vm_events("compact_daemon_free_scanned", cc.total_free_scanned)
    return 0


def compact_memory(alloc: "PageAllocator", cpu: int = 0) -> int:
    """``echo 1 > /proc/sys/vm/compact_memory`` (``sysctl_compaction_handler()`` ->
    ``compact_nodes()``, co.c:2961): ``lru_add_drain_all()`` (nothing to drain in the
    model) then :func:`compact_node` of the one node, not proactive."""
    return compact_node(alloc, False, cpu)


# ---------------------------------------------------------------------- kcompactd
class Kcompactd:
    """kcompactd of the node (co.c:3054-3266) as an explicit agent.

    The thread sleeps on ``kcompactd_wait``; :meth:`wakeup_kcompactd` records the order
    and zone and sets :attr:`pending` (the wake-up) when some zone is suitable;
    :meth:`run` is one pass of the loop with work (``kcompactd_do_work()``);
    :meth:`timeout` lets time pass: every ``HPAGE_FRAG_CHECK_INTERVAL_MSEC`` without work
    (when proactiveness > 0) the proactive check runs (:func:`should_proactive_compact_node`
    -> :func:`compact_node` with ``proactive``), backing off to 500 ms << 6 when the node
    score did not go down.  The sysctls are per machine: the constructor installs them as
    ``alloc.compaction_sysctl`` (read by direct compaction too).
    """

    def __init__(self, alloc: "PageAllocator", proactiveness: int = 20,
                 extfrag_threshold: int = 500, nid: int = 0, cpu: int = 0) -> None:
        if not 0 <= proactiveness <= 100:
            raise ValueError(f"compaction_proactiveness {proactiveness}: expected 0..100")
        if not 0 <= extfrag_threshold <= 1000:
            raise ValueError(f"extfrag_threshold {extfrag_threshold}: expected 0..1000")
        self.alloc = alloc
        self.sysctl = CompactionSysctl(proactiveness, extfrag_threshold)
        alloc.compaction_sysctl = self.sysctl
        self.nid = nid
        self.cpu = cpu
        self.nr_zones = max((z.idx for z in alloc.zones if z.populated()), default=-1) + 1
        self.kcompactd_max_order = 0
        self.kcompactd_highest_zoneidx = self.nr_zones - 1
        self.proactive_compact_trigger = False
        self.default_timeout_ns = HPAGE_FRAG_CHECK_INTERVAL_MSEC * 1_000_000
        #: the current wait's timeout (None: MAX_SCHEDULE_TIMEOUT) and when the wait began
        self.timeout_ns: int | None = self.default_timeout_ns
        self.sleep_start_ns = 0
        self.woken = False
        self.runs = 0
        self.proactive_runs = 0
        self._sleep(0)

    # -- helpers ---------------------------------------------------------------------
    def _sleep(self, now_ns: int) -> None:
        """The top of the loop: pick the timeout and wait (``mm_compaction_kcompactd_sleep``)."""
        if not self.sysctl.compaction_proactiveness:
            self.timeout_ns = None
        self.sleep_start_ns = now_ns
        self.alloc.emit("mm_compaction_kcompactd_sleep", self.nid)

    def kcompactd_work_requested(self) -> bool:
        """``kcompactd_work_requested()`` (co.c:3054)."""
        return self.kcompactd_max_order > 0 or self.proactive_compact_trigger

    @property
    def pending(self) -> bool:
        """The thread was woken and has work (:meth:`run` would do something)."""
        return self.woken and self.kcompactd_work_requested()

    def kcompactd_node_suitable(self) -> bool:
        """``kcompactd_node_suitable()`` (co.c:3060): some zone up to the requested index
        gets CONTINUE from ``compaction_suit_allocation_order()`` (min watermark, or high
        with defrag_mode)."""
        alloc = self.alloc
        hz = self.kcompactd_highest_zoneidx
        alloc_flags = G.ALLOC_WMARK_HIGH if alloc.defrag_mode else G.ALLOC_WMARK_MIN
        for zone in alloc.zones:
            if zone.idx > hz or not zone.populated():
                continue
            if compaction_suit_allocation_order(alloc, zone, self.kcompactd_max_order, hz,
                                                alloc_flags, False, True) == COMPACT_CONTINUE:
                return True
        return False

    # -- the kernel entry points -----------------------------------------------------
    def wakeup_kcompactd(self, order: int, highest_zoneidx: int) -> bool:
        """``wakeup_kcompactd()`` (co.c:3166): remember the largest order and lowest zone
        index asked for; wake the thread (True) if it sleeps and the node is suitable.
        Order 0 is ignored."""
        if not order:
            return False
        if self.kcompactd_max_order < order:
            self.kcompactd_max_order = order
        if self.kcompactd_highest_zoneidx > highest_zoneidx:
            self.kcompactd_highest_zoneidx = highest_zoneidx
        if not self.kcompactd_node_suitable():
            return False
        self.alloc.emit("mm_compaction_wakeup_kcompactd", self.nid, order, highest_zoneidx)
        self.woken = True
        return True

    def set_proactiveness(self, value: int) -> None:
        """A write to vm.compaction_proactiveness
        (``compaction_proactiveness_sysctl_handler()``, co.c:2977): a non-zero value
        triggers a proactive pass at once (``proactive_compact_trigger``)."""
        if not 0 <= value <= 100:
            raise ValueError(f"compaction_proactiveness {value}: expected 0..100")
        self.sysctl.compaction_proactiveness = value
        if value and not self.proactive_compact_trigger:
            self.proactive_compact_trigger = True
            self.alloc.emit("mm_compaction_wakeup_kcompactd", self.nid, -1, self.nr_zones - 1)
            self.woken = True

    def kcompactd_do_work(self) -> None:
        """``kcompactd_do_work()`` (co.c:3086): SYNC_LIGHT compaction for the requested
        order in every zone up to the requested index that is neither deferred nor
        unsuitable; SUCCESS resets the deferral, COMPLETE/PARTIAL_SKIPPED drain the zone's
        pcp lists and defer; then the request is forgotten."""
        alloc = self.alloc
        cc: CompactControl | None = None
        order = self.kcompactd_max_order
        hz = self.kcompactd_highest_zoneidx
        alloc_flags = G.ALLOC_WMARK_HIGH if alloc.defrag_mode else G.ALLOC_WMARK_MIN
        alloc.emit("mm_compaction_kcompactd_wake", self.nid, order, hz)
        alloc.count_vm_events("compact_daemon_wake", 1)
        for zone in alloc.zones:
            if zone.idx > hz or not zone.populated():
                continue
            if compaction_deferred(alloc, zone, order):
                continue
            if compaction_suit_allocation_order(alloc, zone, order, zone.idx, alloc_flags,
                                                False, True) != COMPACT_CONTINUE:
                continue
            if cc is None:
                cc = CompactControl(zone, order, G.GFP_KERNEL, MIGRATE_SYNC_LIGHT,
                                    search_order=order, highest_zoneidx=hz,
                                    alloc_flags=alloc_flags, cpu=self.cpu)
            cc.zone = zone
            status = compact_zone(alloc, cc, None)
            if status == COMPACT_SUCCESS:
                compaction_defer_reset(alloc, zone, order, False)
            elif status in (COMPACT_PARTIAL_SKIPPED, COMPACT_COMPLETE):
                alloc.drain_all_pages(zone)
                defer_compaction(alloc, zone, order)
            alloc.count_vm_events("compact_daemon_migrate_scanned", cc.total_migrate_scanned)
            alloc.count_vm_events("compact_daemon_free_scanned", cc.total_free_scanned)
        if self.kcompactd_max_order <= order:
            self.kcompactd_max_order = 0
        if self.kcompactd_highest_zoneidx >= hz:
            self.kcompactd_highest_zoneidx = self.nr_zones - 1

    def compact_node(self, proactive: bool, kswapd_running: bool | None = None) -> int:
        """:func:`compact_node` of this node on kcompactd's CPU."""
        return compact_node(self.alloc, proactive, self.cpu, kswapd_running)

    def _proactive(self, kswapd_running: bool | None) -> None:
        """The loop's timeout branch (co.c:3236-3258)."""
        self.timeout_ns = self.default_timeout_ns
        if should_proactive_compact_node(self.alloc, kswapd_running):
            prev_score = fragmentation_score_node(self.alloc)
            self.compact_node(True, kswapd_running)
            self.proactive_runs += 1
            score = fragmentation_score_node(self.alloc)
            if score >= prev_score:
                self.timeout_ns = self.default_timeout_ns << COMPACT_MAX_DEFER_SHIFT
        self.proactive_compact_trigger = False

    def run(self, now_ns: int | None = None, kswapd_running: bool | None = None) -> bool:
        """One pass of the kcompactd loop after a wake-up (co.c:3216-3235): with requested
        work ``kcompactd_do_work()`` (or, for a proactiveness write, the proactive
        check), then back to sleep with the default timeout.  False if not woken with
        work."""
        if not self.pending:
            return False
        self.woken = False
        if self.proactive_compact_trigger:
            self._proactive(kswapd_running)
        else:
            self.kcompactd_do_work()
            self.timeout_ns = self.default_timeout_ns
        self.runs += 1
        self._sleep(self.sleep_start_ns if now_ns is None else now_ns)
        return True

    def timeout(self, now_ns: int, kswapd_running: bool | None = None) -> int:
        """Let time reach ``now_ns``: every wait that expires runs one loop pass
        (co.c:3224-3258): ``kcompactd_do_work()`` if an order is still recorded (a wake-up
        that found no suitable zone: ``wait_event_timeout()`` returns true when the
        condition holds at the timeout), else the proactive branch.  Returns how many
        waits expired.  Pending work is not run here (call :meth:`run` first: a woken
        thread does not time out)."""
        n = 0
        while not self.pending and self.timeout_ns is not None and \
                now_ns >= self.sleep_start_ns + self.timeout_ns:
            t = self.sleep_start_ns + self.timeout_ns
            if self.kcompactd_work_requested() and not self.proactive_compact_trigger:
                self.kcompactd_do_work()
                self.timeout_ns = self.default_timeout_ns
                self.runs += 1
            else:
                self._proactive(kswapd_running)
            n += 1
            self._sleep(t)
        return n
