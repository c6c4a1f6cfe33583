"""The buddy allocator: free lists, pcp lists, fallbacks, watermarks, freeing.

Models ``mm/page_alloc.c`` of Linux 7.2 (Debian 7.2.13), function by function.  Names
follow the kernel: ``__rmqueue_smallest`` is :meth:`PageAllocator.rmqueue_smallest`;
where both ``__foo`` and ``foo`` exist the double-underscore one is ``_foo``
(``_free_one_page`` / ``free_one_page``, ``_rmqueue`` / ``rmqueue``,
``_zone_watermark_ok`` / ``zone_watermark_ok``).  Pages are PFNs (ints); ``NIL`` (-1)
is the NULL page.

Concurrency is not modelled: with the zone lock held nothing else runs, trylocks always
succeed, and the current CPU (``smp_processor_id()``) is the ``cpu`` of the request.
Profile fields select version-specific rules (see :mod:`pagealloc.profiles`); each such
branch cites the kernel function it follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, cast

from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import (
    FALLBACKS,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    NR_FREETYPE_IDXS,
    FREETYPE_UNMAPPED,
    freetype_idx,
    migratetype_is_mergeable,
)
from pagealloc.mm.mmzone import (
    CONFIG_PCP_BATCH_SCALE_MAX,
    HPAGE_PMD_ORDER,
    KIND_COMPOUND,
    KIND_MOVABLE,
    MAX_PAGE_ORDER,
    MIN_PERCPU_PAGELIST_HIGH_FRACTION,
    NIL,
    NR_LOWORDER_PCP_LISTS,
    NR_PAGE_ORDERS,
    ORDER_MASK,
    PAGE_ALLOC_COSTLY_ORDER,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    PB_FREETYPE_FLAGS_SHIFT,
    PB_MIGRATE_ISOLATE,
    PB_MIGRATETYPE_MASK,
    PCPF_FREE_HIGH_BATCH,
    PCPF_PREV_FREE_HIGH_ORDER,
    PS_ALLOC,
    PS_BUDDY,
    PS_MASK,
    PS_PCP,
    WMARK_HIGH,
    WMARK_LOW,
    WMARK_MIN,
    Mem,
    PerCpuPages,
    Zone,
)
from pagealloc.mm.owners import Owners

if TYPE_CHECKING:
    from pagealloc.mm.compaction import CompactionSysctl, Kcompactd
    from pagealloc.mm.vmscan import Kswapd, Reclaim
from pagealloc.profiles import Profile

NFT = NR_FREETYPE_IDXS
#: bit of a prepare_alloc() cache key standing for the v4 ALLOC_UNMAPPED alloc flag
UNMAPPED_KEY = 1 << 40

# ALLOC_* flags and zone/watermark indices as module constants (hot path)
ALLOC_CMA = G.ALLOC_CMA
ALLOC_NOBLOCK = G.ALLOC_NOBLOCK
ALLOC_UNMAPPED = G.ALLOC_UNMAPPED
GFP_UNMAPPED_BIT = G.__GFP_UNMAPPED
GFP_ZERO_BIT = G.__GFP_ZERO
#: pkind of a block lost by the v2 flip error path
KIND_LEAKED = 0x40
#: pkind bit of a folio taken out of the direct map on its own (profile per-folio-zap)
KIND_ZAPPED = 0x80
ALLOC_CPUSET = G.ALLOC_CPUSET
ALLOC_HIGHATOMIC = G.ALLOC_HIGHATOMIC
ALLOC_KSWAPD = G.ALLOC_KSWAPD
ALLOC_MIN_RESERVE = G.ALLOC_MIN_RESERVE
ALLOC_NOFRAGMENT = G.ALLOC_NOFRAGMENT
ALLOC_NON_BLOCK = G.ALLOC_NON_BLOCK
ALLOC_NO_WATERMARKS = G.ALLOC_NO_WATERMARKS
ALLOC_OOM = G.ALLOC_OOM
ALLOC_RESERVES = G.ALLOC_RESERVES
ALLOC_WMARK_LOW = G.ALLOC_WMARK_LOW
ALLOC_WMARK_MASK = G.ALLOC_WMARK_MASK
ZONE_DEVICE = G.ZONE_DEVICE
ZONE_MOVABLE = G.ZONE_MOVABLE
ZONE_NORMAL = G.ZONE_NORMAL

# GFP bits used inside classes (``G.__GFP_*`` would be name-mangled there)
GFP_KSWAPD_RECLAIM_BIT = G.__GFP_KSWAPD_RECLAIM
GFP_DIRECT_RECLAIM_BIT = G.__GFP_DIRECT_RECLAIM
GFP_COMP_BIT = G.__GFP_COMP
GFP_ATOMIC_6_1_BIT = G.__GFP_ATOMIC_6_1
GFP_MEMALLOC_BIT = G.__GFP_MEMALLOC
GFP_NOMEMALLOC_BIT = G.__GFP_NOMEMALLOC
GFP_IO_FLAG = G.__GFP_IO
MAX_COMPACT_RETRIES = 16   # mm/page_alloc.c
GFP_NOFAIL_FLAG = G.__GFP_NOFAIL
GFP_NORETRY_FLAG = G.__GFP_NORETRY
GFP_THISNODE_FLAG = G.__GFP_THISNODE
GFP_RETRY_MAYFAIL_FLAG = G.__GFP_RETRY_MAYFAIL
GFP_HARDWALL_FLAG = G.__GFP_HARDWALL
GFP_NOWARN_FLAG = G.__GFP_NOWARN

# fpi_t (mm/page_alloc.c)
FPI_NONE = 0
FPI_SKIP_REPORT_NOTIFY = 1
FPI_TO_TAIL = 2
FPI_TRYLOCK = 4

# enum rmqueue_mode
RMQUEUE_NORMAL = 0
RMQUEUE_CMA = 1
RMQUEUE_CLAIM = 2
RMQUEUE_STEAL = 3

# enum fallback_result (Linux 7.2, mm/internal.h)
FALLBACK_FOUND = 0
FALLBACK_EMPTY = -1
FALLBACK_NOCLAIM = -2


class PageStateError(ValueError):
    """A request that contradicts the page's state (double free, bad order, not RAM)."""


#: Receives every tracepoint the model emits: ``sink(name, cpu, args)`` with the raw fields.
EventSink = Callable[[str, int, tuple[int, ...]], None]


class DirectMapLike(Protocol):
    """What the allocator needs of :class:`pagealloc.arch.x86.set_memory.DirectMap`."""

    def set_direct_map_valid_noflush(self, pfn: int, nr: int, valid: bool) -> int: ...


class TLBLike(Protocol):
    """What the allocator needs of :class:`pagealloc.arch.x86.tlb.TLB`."""

    def unmap(self, pfn: int, nr: int) -> None: ...

    def flush_tlb_kernel_range(self, pfn_start: int, pfn_end: int, cpu: int) -> None: ...


class ContentsLike(Protocol):
    """Page-content tracking: who last wrote each page (see :mod:`pagealloc.mm.contents`)."""

    def zero(self, pfn: int, nr: int, by: str) -> None: ...

    def on_alloc(self, pfn: int, order: int, gfp: int, ft: int, unmapped: bool = False) -> None: ...

    def on_free(self, pfn: int, order: int) -> None: ...

    data: bytearray


class CaptureControl:
    """``struct capture_control`` (mm/internal.h, 7.2): set by ``compact_zone_order()`` on
    the compacting task so that ``__free_one_page()`` hands it a freed page of its order."""

    __slots__ = ("zone", "migratetype", "order", "page")

    def __init__(self, zone: Zone, migratetype: int, order: int) -> None:
        self.zone = zone
        self.migratetype = migratetype
        self.order = order
        self.page = NIL


class AllocContext:
    """``struct alloc_context``: the zonelist walk of one request."""

    __slots__ = ("highest_zoneidx", "migratetype", "zonelist", "preferred", "gfp")

    def __init__(self, gfp: int, highest_zoneidx: int, migratetype: int,
                 zonelist: list[Zone], preferred: int) -> None:
        self.gfp = gfp
        self.highest_zoneidx = highest_zoneidx
        self.migratetype = migratetype
        self.zonelist = zonelist
        self.preferred = preferred     # index into zonelist of ac->preferred_zoneref


def pcp_allowed_order(order: int) -> bool:
    """``pcp_allowed_order()`` (THP on): orders 0-3 and HPAGE_PMD_ORDER."""
    return order <= PAGE_ALLOC_COSTLY_ORDER or order == HPAGE_PMD_ORDER


def order_to_pindex(mt: int, order: int) -> int:
    """``order_to_pindex()`` (THP on): 3*order+mt, or 12/13 for PMD-order pages."""
    if order > PAGE_ALLOC_COSTLY_ORDER:
        return NR_LOWORDER_PCP_LISTS + (1 if mt == MIGRATE_MOVABLE else 0)
    return 3 * order + mt


def pindex_to_order(pindex: int) -> int:
    """``pindex_to_order()``."""
    if pindex >= NR_LOWORDER_PCP_LISTS:
        return HPAGE_PMD_ORDER
    return pindex // 3


_PINDEX_ORDER = tuple(pindex_to_order(i) for i in range(NR_LOWORDER_PCP_LISTS + 2))


class PageAllocator:
    """One node's page allocator: the zones, their lists, and every allocator path."""

    def __init__(self, mem: Mem, zones: list[Zone], ncpus: int, profile: Profile,
                 watermark_boost_factor: int = 15000, defrag_mode: int = 0,
                 has_cma: bool = True) -> None:
        self.mem = mem
        self.zones = zones                     # all zones of the node, by zone index
        self.ncpus = ncpus
        self.profile = profile
        self.watermark_boost_factor = watermark_boost_factor
        self.defrag_mode = defrag_mode
        self.has_cma = has_cma
        self.cpu = 0                           # smp_processor_id() of the running request
        self.rmqm = RMQUEUE_NORMAL             # *mode of __rmqueue() within rmqueue_bulk()
        self.vm_events: dict[str, int] = {}
        self.pgalloc = [0] * len(zones)        # PGALLOC per zone ("pgalloc_<zone>")
        self.pgfree = 0                        # PGFREE
        self.stats: dict[str, int] = {
            "extfrag": 0, "extfrag_fragmenting": 0, "claim_block": 0, "claim_whole_block": 0,
            "steal": 0, "alloc_fail": 0, "kswapd_wakeup": 0, "highatomic_reserve": 0,
            "highatomic_unreserve": 0, "watermark_boost": 0, "vm_warn": 0,
            # the __GFP_UNMAPPED series
            "flip_to_unmapped": 0, "flip_to_mapped": 0, "flip_pages_to_unmapped": 0,
            "flip_pages_to_mapped": 0, "flip_no_block": 0, "flip_noblock_refused": 0,
            "flip_cpa_error": 0, "flip_leaked_pages": 0, "flip_max_depth": 0,
            "pages_zeroed_map_back": 0, "unmapped_zero_refused": 0,
            "folio_zap": 0, "folio_zap_pages": 0, "folio_restore": 0, "unmapped_no_mermap": 0,
            "spurious_unmapped_failures": 0, "freetype_no_list_lookups": 0,
            "flip_error_free_unlocked": 0,
            # memory pressure
            "slowpath": 0, "oom": 0, "warn_alloc": 0, "compaction_captured": 0,
            "flip_isolate_migrate": 0, "flip_isolate_migrate_failed": 0,
        }
        self.sink: EventSink | None = None
        self.hygiene = profile.free_list_hygiene
        self.unusable_free_highatomic = profile.watermark_unusable_free_highatomic
        self.unmapped = profile.unmapped              # "", "v2", "v4"
        self.directmap: DirectMapLike | None = None   # arch/x86/set_memory.DirectMap
        self.tlb: TLBLike | None = None               # arch/x86/tlb.TLB
        self.contents: ContentsLike | None = None     # page-content tracking (security)
        self.owners: Owners | None = None             # owner handles and LRU (mm/owners.py)
        self.capc: CaptureControl | None = None       # current->capture_control
        #: a trace replay applies the kernel's pcp drains itself (see free_pcppages_bulk)
        self.trace_drains = False
        self.reclaim: Reclaim | None = None           # mm/vmscan.py, attached by Machine
        self.kswapd: Kswapd | None = None
        self.kcompactd: Kcompactd | None = None
        self.compaction_sysctl: CompactionSysctl | None = None   # set by Kcompactd
        self.show_mem_lines: Callable[[], list[str]] | None = None
        self.log: list[str] = []                      # printk() lines (OOM, warn_alloc)
        #: invariant check run after every compaction/migration/reclaim step (tests set it)
        self.step_check: Callable[[], None] | None = None
        self.rmq_limit = RMQUEUE_STEAL + 1            # _rmqueue() stops before this mode
        #: flip_order variant: the fallback mode a flippable pcp refill stops before (0: none)
        pos = profile.flip_order if profile.unmapped in ("v2", "v4") else "after_steal"
        self.flip_first_limit = {"after_steal": 0, "before_steal": RMQUEUE_STEAL,
                                 "before_claim": RMQUEUE_CLAIM}[pos]
        self.flip_depth = 0
        #: mermap_ready(): the request runs in a task with an mm (set per request by Machine)
        self.mermap_ready = True
        self.pcp_auto = profile.pcp_model == "auto"
        #: profile knobs of the series' unmapped pcp bank (E12): bank present, refill size
        self.unmapped_pcp_bank = profile.unmapped_pcp != "none"
        self.unmapped_pcp_batch = 0 if profile.unmapped_pcp_batch == "auto" \
            else int(profile.unmapped_pcp_batch)
        self.fallback_6_1 = profile.fallback == "rmqueue_fallback"
        self.debug_vm = False
        self.kswapd_order = 0
        self.kswapd_highest_zoneidx = -1
        self.kswapd_awake = False
        self.wakeup_hook: Callable[[Zone, int, int, int], None] | None = None
        # zonelist: populated zones from the highest index down (build_zonerefs_node)
        self.zonelist = [z for z in reversed(zones) if z.managed_pages > 0]
        self._gfp_cache: dict[int, tuple[int, int, int, int, AllocContext | None, int]] = {}
        self.pgalloc_names = ["pgalloc_" + z.name.lower() for z in zones]
        # order_to_pindex() for every (order, freetype < 16), -1 where there is no pcp list
        self.pindex_table = [-1] * (NR_PAGE_ORDERS << 4)
        for o in range(NR_PAGE_ORDERS):
            if pcp_allowed_order(o):
                for ft in range(16):
                    if (ft & 7) < MIGRATE_PCPTYPES:
                        self.pindex_table[(o << 4) | ft] = profile.order_to_pindex(ft, o)

    # ------------------------------------------------------------------ events
    def emit(self, name: str, *args: int) -> None:
        sink = self.sink
        if sink is not None:
            sink(name, self.cpu, args)

    def count_vm_events(self, item: str, n: int) -> None:
        ev = self.vm_events
        ev[item] = ev.get(item, 0) + n

    def all_vm_events(self) -> dict[str, int]:
        """Every event counter by its /proc/vmstat name (pgalloc_*, pgfree, and the rest)."""
        out = dict(self.vm_events)
        for name, n in zip(self.pgalloc_names, self.pgalloc):
            out[name] = out.get(name, 0) + n
        out["pgfree"] = out.get("pgfree", 0) + self.pgfree
        return out

    def vm_warn(self, what: str) -> None:
        """A ``VM_WARN_ONCE`` condition: counted, and reported to the event sink."""
        self.stats["vm_warn"] += 1
        if self.sink is not None:
            self.sink("vm_warn:" + what, self.cpu, ())

    # ------------------------------------------------------------------ accounting
    def account_freepages(self, zone: Zone, nr_pages: int, mt: int) -> None:
        """``account_freepages()``: NR_FREE_PAGES (with per-CPU vmstat drift), CMA, HighAtomic."""
        m = mt & 7                           # freetype flags do not change the accounting
        if m == MIGRATE_ISOLATE:
            return
        zone.nr_free_pages += nr_pages
        # __mod_zone_page_state(): per-CPU delta folded into the global once over threshold
        diff = zone.vm_free_diff
        x = diff[self.cpu] + nr_pages
        t = zone.stat_threshold
        if x > t or x < -t:
            zone.vm_nr_free_pages += x
            x = 0
        diff[self.cpu] = x
        if m == MIGRATE_CMA:
            zone.nr_free_cma_pages += nr_pages
        elif m == MIGRATE_HIGHATOMIC:
            zone.nr_free_highatomic += nr_pages

    @staticmethod
    def zone_page_state_free(zone: Zone) -> int:
        """``zone_page_state(zone, NR_FREE_PAGES)``: the folded global, clamped at 0 (SMP)."""
        x = zone.vm_nr_free_pages
        return x if x > 0 else 0

    # ------------------------------------------------------------------ free lists
    def _add_to_free_list(self, pfn: int, zone: Zone, order: int, ft: int, tail: bool) -> None:
        """``__add_to_free_list()``: link a block (head or tail) and count it in nr_free."""
        if self.debug_vm and self.mem.get_pfnblock_freetype(pfn) != ft:
            self.vm_warn("add_to_free_list:type")
        lid = zone.list_base + order * NFT + freetype_idx(ft)
        if tail:
            self.mem.list_add_tail(lid, pfn)
        else:
            self.mem.list_add(lid, pfn)
        zone.nr_free[order] += 1
        if order >= PAGEBLOCK_ORDER and (ft & 7) != MIGRATE_ISOLATE:
            zone.nr_free_pages_blocks += 1 << order
            if ft >> 3:
                zone.nr_free_pages_blocks_unmapped += 1 << order

    def move_to_free_list(self, pfn: int, zone: Zone, order: int, old_mt: int, new_mt: int) -> None:
        """``move_to_free_list()``: to the TAIL of the new type's list, moving the counts."""
        if self.debug_vm and self.mem.get_pfnblock_freetype(pfn) != old_mt:
            self.vm_warn("move_to_free_list:type")
        mem = self.mem
        mem.list_del(pfn)
        mem.list_add_tail(zone.list_base + order * NFT + freetype_idx(new_mt), pfn)
        nr = 1 << order
        self.account_freepages(zone, -nr, old_mt)
        self.account_freepages(zone, nr, new_mt)
        if order >= PAGEBLOCK_ORDER and ((old_mt & 7) == MIGRATE_ISOLATE) != ((new_mt & 7) == MIGRATE_ISOLATE):
            zone.nr_free_pages_blocks += nr if (old_mt & 7) == MIGRATE_ISOLATE else -nr
            if new_mt >> 3:
                zone.nr_free_pages_blocks_unmapped += nr if (old_mt & 7) == MIGRATE_ISOLATE else -nr

    def _del_page_from_free_list(self, pfn: int, zone: Zone, order: int, mt: int) -> None:
        """``__del_page_from_free_list()``: unlink, clear PageBuddy, uncount nr_free."""
        if self.debug_vm and self.mem.get_pfnblock_freetype(pfn) != mt:
            self.vm_warn("del_page_from_free_list:type")
        mem = self.mem
        mem.list_del(pfn)
        if not self.hygiene:
            mt = (mem.plist[pfn] - zone.list_base) % NFT
        mem.pstate[pfn] = 0
        zone.nr_free[order] -= 1
        if order >= PAGEBLOCK_ORDER and (mt & 7) != MIGRATE_ISOLATE:
            zone.nr_free_pages_blocks -= 1 << order
            if mt >> 3:
                zone.nr_free_pages_blocks_unmapped -= 1 << order

    def del_page_from_free_list(self, pfn: int, zone: Zone, order: int, mt: int) -> None:
        """``del_page_from_free_list()``: unlink and take the pages out of NR_FREE_PAGES."""
        if not self.hygiene:
            mt = self.list_mt(pfn, zone)
        self._del_page_from_free_list(pfn, zone, order, mt)
        self.account_freepages(zone, -(1 << order), mt)

    def list_mt(self, pfn: int, zone: Zone) -> int:
        """The free-list index a free block is actually linked on (6.1 allows it to differ
        from its pageblock's type)."""
        return (self.mem.plist[pfn] - zone.list_base) % NFT

    def free_area_empty(self, zone: Zone, order: int, ft: int) -> bool:
        return self.mem.lhead[zone.list_base + order * NFT + freetype_idx(ft)] == NIL

    # ------------------------------------------------------------------ pageblocks
    def set_pageblock_migratetype(self, pfn: int, mt: int) -> None:
        """``set_pageblock_migratetype()`` (7.2): write the 3 type bits, clear isolate.

        ``MIGRATE_ISOLATE`` sets only the separate isolate bit (Linux 6.17+ layout);
        the 6.1 profile stores ISOLATE in the type bits, losing the old type.
        """
        pb = self.mem.pb
        b = pfn >> PAGEBLOCK_ORDER
        if mt == MIGRATE_ISOLATE and self.profile.isolate_bit:
            pb[b] |= PB_MIGRATE_ISOLATE
            return
        pb[b] = (pb[b] & ~(PB_MIGRATETYPE_MASK | PB_MIGRATE_ISOLATE)) | mt

    def change_pageblock_range(self, pfn: int, start_order: int, mt: int) -> None:
        """``change_pageblock_range()``: retype every pageblock of a >= pageblock block."""
        for i in range(1 << (start_order - PAGEBLOCK_ORDER)):
            self.set_pageblock_migratetype(pfn + i * PAGEBLOCK_NR_PAGES, mt)

    def zone_of(self, pfn: int) -> Zone:
        """``page_zone()``."""
        z = self.mem.pb_zone[pfn >> PAGEBLOCK_ORDER]
        if z == 0xFF:
            raise PageStateError(f"pfn {pfn:#x} is not in any zone")
        return self.zones[z]

    # ------------------------------------------------------------------ allocation core
    def expand(self, zone: Zone, pfn: int, low: int, high: int, ft: int) -> int:
        """``expand()``: push the upper halves, largest first, to the list heads."""
        mem = self.mem
        pstate = mem.pstate
        base = zone.list_base + freetype_idx(ft)
        size = 1 << high
        nr_added = 0
        blocks = (ft & 7) != MIGRATE_ISOLATE
        unmapped_blocks = blocks and ft >> 3
        nr_free = zone.nr_free
        while high > low:
            high -= 1
            size >>= 1
            p = pfn + size
            mem.list_add(base + high * NFT, p)
            nr_free[high] += 1
            if high >= PAGEBLOCK_ORDER and blocks:
                zone.nr_free_pages_blocks += size
                if unmapped_blocks:
                    zone.nr_free_pages_blocks_unmapped += size
            pstate[p] = PS_BUDDY | high
            nr_added += size
        return nr_added

    def page_del_and_expand(self, zone: Zone, pfn: int, low: int, high: int, ft: int) -> None:
        """``page_del_and_expand()``."""
        self._del_page_from_free_list(pfn, zone, high, ft)
        nr_pages = (1 << high) - self.expand(zone, pfn, low, high, ft)
        self.account_freepages(zone, -nr_pages, ft)

    def rmqueue_smallest(self, zone: Zone, order: int, ft: int) -> int:
        """``__rmqueue_smallest()``: the smallest block of exactly this freetype."""
        idx = freetype_idx(ft)
        if idx < 0:
            # a freetype with no list (HIGHATOMIC|UNMAPPED from rmqueue_buddy()'s
            # ALLOC_HIGHATOMIC/ALLOC_OOM/ALLOC_NON_BLOCK lookups, series.md 2.2, 2.17 #6):
            # v2 19/22 as posted already returns NULL here (the seed's hunk in
            # __rmqueue_smallest()), as does v4; counted to show how often it happens
            self.stats["freetype_no_list_lookups"] += 1
            return NIL
        lhead = self.mem.lhead
        lid = zone.list_base + order * NFT + idx
        for current_order in range(order, NR_PAGE_ORDERS):
            pfn = lhead[lid]
            if pfn != NIL:
                self.page_del_and_expand(zone, pfn, order, current_order, ft)
                if self.sink is not None:
                    self.emit("mm_page_alloc_zone_locked", pfn, order, ft & 7,
                              1 if (pcp_allowed_order(order) and (ft & 7) < MIGRATE_PCPTYPES) else 0)
                return pfn
            lid += NFT
        return NIL

    def prep_move_freepages_block(self, zone: Zone, pfn: int,
                                  count: bool) -> tuple[bool, int, int, int]:
        """``prep_move_freepages_block()``: (ok, start_pfn, free pages, movable pages).

        Counts a page as movable if it is PageLRU or has movable_ops: every page of a
        movable compound (a tail reads its head's flag), only the head of a non-compound
        high-order page.  Refuses blocks straddling the zone's span.
        """
        start = pfn & ~(PAGEBLOCK_NR_PAGES - 1)
        end = start + PAGEBLOCK_NR_PAGES
        if not (zone.zone_spans_pfn(start) and zone.zone_spans_pfn(end - 1)):
            return False, start, 0, 0
        if not count:
            return True, start, 0, 0
        mem = self.mem
        pstate = mem.pstate
        pkind = mem.pkind
        free = movable = 0
        p = start
        # A compound page larger than a pageblock that began in an earlier block.
        if pstate[p] == 0:
            head, order = self._covering_head(p)
            if head != NIL and pstate[head] & PS_MASK == PS_ALLOC and pkind[head] & KIND_MOVABLE \
                    and pkind[head] & KIND_COMPOUND:
                n = min(head + (1 << order), end) - p
                movable += n
                p += n
        while p < end:
            s = pstate[p]
            st = s & PS_MASK
            if st == PS_BUDDY:
                nr = 1 << (s & ORDER_MASK)
                free += nr
                p += nr
                continue
            if st == PS_ALLOC or st == PS_PCP:
                nr = 1 << (s & ORDER_MASK)
                if st == PS_ALLOC and pkind[p] & KIND_MOVABLE:
                    movable += min(nr, end - p) if pkind[p] & KIND_COMPOUND else 1
                p += nr
                continue
            p += 1
        return True, start, free, movable

    def _covering_head(self, pfn: int) -> tuple[int, int]:
        """The head and order of an allocated/pcp/free block covering ``pfn`` from below."""
        pstate = self.mem.pstate
        for order in range(1, NR_PAGE_ORDERS):
            head = pfn & ~((1 << order) - 1)
            s = pstate[head]
            if s and s & PS_MASK in (PS_ALLOC, PS_PCP, PS_BUDDY) and (s & ORDER_MASK) >= order:
                return head, s & ORDER_MASK
        return NIL, 0

    def _move_freepages_block(self, zone: Zone, start_pfn: int, old_mt: int, new_mt: int) -> int:
        """``__move_freepages_block()``: move every free block of the pageblock, ascending."""
        pstate = self.mem.pstate
        end = start_pfn + PAGEBLOCK_NR_PAGES
        pfn = start_pfn
        moved = 0
        while pfn < end:
            s = pstate[pfn]
            if s & PS_MASK != PS_BUDDY:
                pfn += 1
                continue
            order = s & ORDER_MASK
            self.move_to_free_list(pfn, zone, order, old_mt, new_mt)
            pfn += 1 << order
            moved += 1 << order
        return moved

    def move_freepages_block(self, zone: Zone, pfn: int, old_mt: int, new_mt: int) -> int:
        """``move_freepages_block()``: -1 if the block straddles the zone, else pages moved."""
        ok, start, _, _ = self.prep_move_freepages_block(zone, pfn, False)
        if not ok:
            return -1
        res = self._move_freepages_block(zone, start, old_mt, new_mt)
        self.set_pageblock_migratetype(start, new_mt)
        return res

    def boost_watermark(self, zone: Zone) -> bool:
        """``boost_watermark()``: raise the boost by a pageblock, capped at high*factor."""
        if not self.watermark_boost_factor:
            return False
        if PAGEBLOCK_NR_PAGES * 4 > zone.managed_pages:
            return False
        # mult_frac(x, n, d): (x / d) * n + ((x % d) * n) / d
        high = zone._watermark[WMARK_HIGH]
        f = self.watermark_boost_factor
        max_boost = (high // 10000) * f + ((high % 10000) * f) // 10000
        if not max_boost:
            return False
        max_boost = max(PAGEBLOCK_NR_PAGES, max_boost)
        zone.watermark_boost = min(zone.watermark_boost + PAGEBLOCK_NR_PAGES, max_boost)
        self.stats["watermark_boost"] += 1
        return True

    @staticmethod
    def should_try_claim_block(order: int, start_mt: int) -> bool:
        """``should_try_claim_block()`` (7.2; ``can_steal_fallback()`` before v6.15)."""
        if order >= PAGEBLOCK_ORDER:
            return True
        if order >= PAGEBLOCK_ORDER // 2:
            return True
        if start_mt == MIGRATE_RECLAIMABLE or start_mt == MIGRATE_UNMOVABLE:
            return True
        return False

    def find_suitable_fallback(self, zone: Zone, order: int, mt: int, claimable: bool) -> int:
        """``find_suitable_fallback()``: a fallback migratetype, FALLBACK_EMPTY or _NOCLAIM.

        Fallback freetypes keep the requester's flags (series.md 2.7); a flagged freetype
        without a list finds nothing.
        """
        if claimable and not self.should_try_claim_block(order, mt & 7):
            return FALLBACK_NOCLAIM
        if zone.nr_free[order] == 0:
            return FALLBACK_EMPTY
        flags = mt & ~7
        lhead = self.mem.lhead
        base = zone.list_base + order * NFT
        for fb in FALLBACKS[mt & 7]:
            ft = fb | flags
            idx = freetype_idx(ft)
            if idx >= 0 and lhead[base + idx] != NIL:
                return ft
        return FALLBACK_EMPTY

    def try_to_claim_block(self, zone: Zone, pfn: int, current_order: int, order: int,
                           start_type: int, block_type: int, alloc_flags: int) -> int:
        """``try_to_claim_block()`` (7.2): whole-block takeover, or claim if >= half alike."""
        if current_order >= PAGEBLOCK_ORDER:
            self.del_page_from_free_list(pfn, zone, current_order, block_type)
            self.change_pageblock_range(pfn, current_order, start_type & 7)
            nr_added = self.expand(zone, pfn, order, current_order, start_type)
            self.account_freepages(zone, nr_added, start_type)
            self.stats["claim_whole_block"] += 1
            return pfn
        if self.boost_watermark(zone) and (alloc_flags & ALLOC_KSWAPD):
            zone.boosted_watermark = True
        ok, start_pfn, free_pages, movable_pages = self.prep_move_freepages_block(zone, pfn, True)
        if not ok:
            return NIL
        if (start_type & 7) == MIGRATE_MOVABLE:
            alike_pages = movable_pages
        elif (block_type & 7) == MIGRATE_MOVABLE:
            alike_pages = PAGEBLOCK_NR_PAGES - (free_pages + movable_pages)
        else:
            alike_pages = 0
        if free_pages + alike_pages >= (1 << (PAGEBLOCK_ORDER - 1)):
            self._move_freepages_block(zone, start_pfn, block_type, start_type)
            self.set_pageblock_migratetype(start_pfn, start_type & 7)
            self.stats["claim_block"] += 1
            return self.rmqueue_smallest(zone, order, start_type)
        return NIL

    def trace_extfrag(self, pfn: int, alloc_order: int, fallback_order: int,
                      alloc_mt: int, fallback_mt: int) -> None:
        """``trace_mm_page_alloc_extfrag()``: counted, and emitted with change_ownership."""
        self.stats["extfrag"] += 1
        if fallback_order < PAGEBLOCK_ORDER:
            self.stats["extfrag_fragmenting"] += 1
        if self.sink is not None:
            change = 1 if (alloc_mt & 7) == self.mem.get_pfnblock_migratetype(pfn) else 0
            self.emit("mm_page_alloc_extfrag", pfn, alloc_order, fallback_order,
                      alloc_mt & 7, fallback_mt & 7, change)

    def rmqueue_claim(self, zone: Zone, order: int, start_mt: int, alloc_flags: int) -> int:
        """``__rmqueue_claim()``: largest fallback block first, down to min_order."""
        min_order = order
        if order < PAGEBLOCK_ORDER and alloc_flags & ALLOC_NOFRAGMENT:
            min_order = PAGEBLOCK_ORDER
        lhead = self.mem.lhead
        for current_order in range(MAX_PAGE_ORDER, min_order - 1, -1):
            fb = self.find_suitable_fallback(zone, current_order, start_mt, True)
            if fb == FALLBACK_EMPTY:
                continue
            if fb == FALLBACK_NOCLAIM:
                break
            pfn = lhead[zone.list_base + current_order * NFT + freetype_idx(fb)]
            page = self.try_to_claim_block(zone, pfn, current_order, order, start_mt, fb, alloc_flags)
            if page != NIL:
                self.trace_extfrag(page, order, current_order, start_mt, fb)
                return page
        return NIL

    def rmqueue_steal(self, zone: Zone, order: int, start_mt: int) -> int:
        """``__rmqueue_steal()``: smallest fallback block; its pageblock keeps its type."""
        lhead = self.mem.lhead
        for current_order in range(order, NR_PAGE_ORDERS):
            fb = self.find_suitable_fallback(zone, current_order, start_mt, False)
            if fb == FALLBACK_EMPTY:
                continue
            pfn = lhead[zone.list_base + current_order * NFT + freetype_idx(fb)]
            self.page_del_and_expand(zone, pfn, order, current_order, fb)
            self.stats["steal"] += 1
            self.trace_extfrag(pfn, order, current_order, start_mt, fb)
            return pfn
        return NIL

    def _rmqueue(self, zone: Zone, order: int, mt: int, alloc_flags: int) -> int:
        """``__rmqueue()`` with ``*mode`` in ``self.rmqm`` (kept across rmqueue_bulk())."""
        if self.fallback_6_1:
            return self._rmqueue_6_1(zone, order, mt, alloc_flags)
        if alloc_flags & ALLOC_CMA and zone.nr_free_cma_pages > self.zone_page_state_free(zone) // 2:
            page = self.rmqueue_smallest(zone, order, MIGRATE_CMA)
            if page != NIL:
                return page
        mode = self.rmqm
        if mode == RMQUEUE_NORMAL:
            page = self.rmqueue_smallest(zone, order, mt)
            if page != NIL:
                return page
        if mode <= RMQUEUE_CMA:
            if alloc_flags & ALLOC_CMA:
                page = self.rmqueue_smallest(zone, order, MIGRATE_CMA)
                if page != NIL:
                    self.rmqm = RMQUEUE_CMA
                    return page
        if mode <= RMQUEUE_CLAIM and self.rmq_limit > RMQUEUE_CLAIM:
            page = self.rmqueue_claim(zone, order, mt, alloc_flags)
            if page != NIL:
                self.rmqm = RMQUEUE_NORMAL
                return page
        if not (alloc_flags & ALLOC_NOFRAGMENT) and self.rmq_limit > RMQUEUE_STEAL:
            page = self.rmqueue_steal(zone, order, mt)
            if page != NIL:
                self.rmqm = RMQUEUE_STEAL
                return page
        return NIL

    # -------------------------------------------------- Linux 6.1 fallback (profile linux-6.1)
    def _rmqueue_6_1(self, zone: Zone, order: int, mt: int, alloc_flags: int) -> int:
        """``__rmqueue()`` of 6.1: smallest, else ``__rmqueue_fallback()`` and retry."""
        while True:
            page = self.rmqueue_smallest(zone, order, mt)
            if page != NIL:
                return page
            if not self.rmqueue_fallback_6_1(zone, order, mt, alloc_flags):
                return NIL

    @staticmethod
    def can_steal_fallback_6_1(order: int, start_mt: int) -> bool:
        """``can_steal_fallback()`` (6.1)."""
        return order >= PAGEBLOCK_ORDER or order >= PAGEBLOCK_ORDER // 2 or \
            start_mt == MIGRATE_RECLAIMABLE or start_mt == MIGRATE_UNMOVABLE

    def find_suitable_fallback_6_1(self, zone: Zone, order: int, start_mt: int) -> tuple[int, bool]:
        """``find_suitable_fallback(only_stealable=false)`` (6.1): (fallback mt or -1, can_steal)."""
        if zone.nr_free[order] == 0:
            return -1, False
        lhead = self.mem.lhead
        base = zone.list_base + order * NFT
        for fb in FALLBACKS[start_mt]:
            if lhead[base + fb] != NIL:
                return fb, self.can_steal_fallback_6_1(order, start_mt)
        return -1, False

    def rmqueue_fallback_6_1(self, zone: Zone, order: int, start_mt: int, alloc_flags: int) -> bool:
        """``__rmqueue_fallback()`` (6.1): largest first, small movable steals smallest first."""
        min_order = PAGEBLOCK_ORDER if (order < PAGEBLOCK_ORDER and alloc_flags & ALLOC_NOFRAGMENT) \
            else order
        cur = -1
        fb = -1
        can_steal = False
        for current_order in range(MAX_PAGE_ORDER, min_order - 1, -1):
            fb, can_steal = self.find_suitable_fallback_6_1(zone, current_order, start_mt)
            if fb == -1:
                continue
            cur = current_order
            if not can_steal and start_mt == MIGRATE_MOVABLE and current_order > order:
                cur = -1        # goto find_smallest
            break
        else:
            return False
        if cur == -1:
            for current_order in range(order, NR_PAGE_ORDERS):
                fb, can_steal = self.find_suitable_fallback_6_1(zone, current_order, start_mt)
                if fb != -1:
                    cur = current_order
                    break
            if cur == -1:
                return False
        page = self.mem.lhead[zone.list_base + cur * NFT + fb]
        self.steal_suitable_fallback_6_1(zone, page, alloc_flags, start_mt, can_steal)
        self.trace_extfrag(page, order, cur, start_mt, fb)
        return True

    def steal_suitable_fallback_6_1(self, zone: Zone, page: int, alloc_flags: int, start_type: int,
                                    whole_block: bool) -> None:
        """``steal_suitable_fallback()`` (6.1): move the block's free pages even if unclaimed."""
        mem = self.mem
        current_order = mem.pstate[page] & ORDER_MASK
        old_block_type = mem.get_pfnblock_migratetype(page)
        single = True
        if old_block_type != MIGRATE_HIGHATOMIC:
            if current_order >= PAGEBLOCK_ORDER:
                self.change_pageblock_range(page, current_order, start_type)
                self.stats["claim_whole_block"] += 1
            else:
                if self.boost_watermark(zone) and alloc_flags & ALLOC_KSWAPD:
                    zone.boosted_watermark = True
                if whole_block:
                    free_pages, movable_pages = self.move_freepages_block_6_1(zone, page, start_type)
                    if start_type == MIGRATE_MOVABLE:
                        alike = movable_pages
                    elif old_block_type == MIGRATE_MOVABLE:
                        alike = PAGEBLOCK_NR_PAGES - (free_pages + movable_pages)
                    else:
                        alike = 0
                    if free_pages:
                        single = False
                        if free_pages + alike >= (1 << (PAGEBLOCK_ORDER - 1)):
                            self.set_pageblock_migratetype(page, start_type)
                            self.stats["claim_block"] += 1
                        else:
                            self.stats["steal"] += 1
        if single:
            if current_order < PAGEBLOCK_ORDER:
                self.stats["steal"] += 1
            self.move_to_free_list(page, zone, current_order, self.list_mt(page, zone), start_type)

    def move_freepages_block_6_1(self, zone: Zone, pfn: int, mt: int) -> tuple[int, int]:
        """``move_freepages_block()`` (6.1): (free pages moved to ``mt``'s tails, movable pages).

        A block starting before the zone is walked from ``pfn``; one ending after it moves
        nothing.  The pageblock's type is left to the caller.
        """
        start = pfn & ~(PAGEBLOCK_NR_PAGES - 1)
        end = start + PAGEBLOCK_NR_PAGES - 1
        if not zone.zone_spans_pfn(start):
            start = pfn
        if not zone.zone_spans_pfn(end):
            return 0, 0
        mem = self.mem
        pstate = mem.pstate
        pkind = mem.pkind
        moved = movable = 0
        p = start
        while p <= end:
            s = pstate[p]
            st = s & PS_MASK
            if st == PS_BUDDY:
                order = s & ORDER_MASK
                self.move_to_free_list(p, zone, order, self.list_mt(p, zone), mt)
                p += 1 << order
                moved += 1 << order
                continue
            if st == PS_ALLOC and pkind[p] & KIND_MOVABLE:
                nr = 1 << (s & ORDER_MASK)
                movable += min(nr, end + 1 - p) if pkind[p] & KIND_COMPOUND else 1
                p += nr
                continue
            if st == PS_ALLOC or st == PS_PCP:
                p += 1 << (s & ORDER_MASK)
                continue
            p += 1
        return moved, movable

    def rmqueue_bulk(self, zone: Zone, order: int, count: int, lid: int, mt: int,
                     alloc_flags: int) -> int:
        """``rmqueue_bulk()``: refill a pcp list under one zone lock, keeping the mode."""
        self.rmqm = RMQUEUE_NORMAL
        mem = self.mem
        pstate = mem.pstate
        state = PS_PCP | order
        cache_mt = self.profile.pcp_cached_migratetype
        limit = self.flip_first_limit
        if limit and (alloc_flags & ALLOC_NOBLOCK or freetype_idx(mt ^ (1 << 3)) < 0):
            limit = 0
        if limit:
            # flip_order variant: the refill takes no fallback that the flip (tried next,
            # in rmqueue_buddy() when the refill comes back empty) could avoid
            self.rmq_limit = limit
        i = 0
        while i < count:
            page = self._rmqueue(zone, order, mt, alloc_flags)
            if page == NIL:
                break
            mem.list_add_tail(lid, page)
            pstate[page] = state
            if cache_mt:
                mem.pkind[page] = mt & 7      # 6.1 set_pcppage_migratetype()
            i += 1
        if limit:
            self.rmq_limit = RMQUEUE_STEAL + 1
        return i

    # ------------------------------------------------------------------ pcp
    def nr_pcp_alloc(self, pcp: PerCpuPages, zone: Zone, order: int) -> int:
        """``nr_pcp_alloc()`` (7.2): refill size with alloc_factor scaling and high growth."""
        base_batch = pcp.batch
        high_min = pcp.high_min
        high_max = pcp.high_max
        high = pcp.high = min(max(pcp.high, high_min), high_max)
        if high < base_batch:
            return 1
        batch = base_batch if order else (base_batch << pcp.alloc_factor)
        if high_min != high_max and not zone.below_high:
            high = pcp.high = min(high + batch, high_max)
        if not order:
            max_nr_alloc = max(high - pcp.count - base_batch, base_batch)
            if batch <= max_nr_alloc and pcp.alloc_factor < CONFIG_PCP_BATCH_SCALE_MAX:
                pcp.alloc_factor += 1
            batch = min(batch, max_nr_alloc)
        if batch > 1:
            batch = max(batch >> order, 2)
        return batch

    def _rmqueue_pcplist(self, zone: Zone, order: int, mt: int, alloc_flags: int,
                         pcp: PerCpuPages, lid: int) -> int:
        """``__rmqueue_pcplist()``: pop the list head, refilling it if empty."""
        mem = self.mem
        lhead = mem.lhead
        if lhead[lid] == NIL:
            if self.pcp_auto:
                batch = self.nr_pcp_alloc(pcp, zone, order)
                if alloc_flags & ALLOC_HIGHATOMIC:
                    return NIL
            else:
                batch = pcp.batch                   # 6.1 __rmqueue_pcplist()
                if batch > 1:
                    batch = max(batch >> order, 2)
            if mt >> 3 and self.unmapped_pcp_batch:
                batch = max(self.unmapped_pcp_batch >> order, 1)    # knob unmapped_pcp_batch
            alloced = self.rmqueue_bulk(zone, order, batch, lid, mt, alloc_flags)
            pcp.count += alloced << order
            if lhead[lid] == NIL:
                return NIL
        page = mem.list_pop_head(lid)
        pcp.count -= 1 << order
        return page

    def rmqueue_pcplist(self, preferred: Zone, zone: Zone, order: int, mt: int,
                        alloc_flags: int) -> int:
        """``rmqueue_pcplist()``: halve free_count, allocate from this CPU's pcp list."""
        pcp = zone.pcp[self.cpu]
        if self.pcp_auto:
            pcp.free_count >>= 1
        else:
            pcp.free_factor >>= 1                   # 6.1 rmqueue_pcplist()
        lid = pcp.list_base + self.pindex_table[(order << 4) | mt]
        mem = self.mem
        if mem.lhead[lid] != NIL:       # __rmqueue_pcplist() without a refill: pop the head
            page = mem.list_pop_head(lid)
            pcp.count -= 1 << order
        else:
            page = self._rmqueue_pcplist(zone, order, mt, alloc_flags, pcp, lid)
        if page != NIL:
            self.pgalloc[zone.idx] += 1 << order
            zone.numa_hit += 1           # zone_statistics(preferred, zone, 1)
        return page

    def rmqueue_buddy(self, preferred: Zone, zone: Zone, order: int, alloc_flags: int,
                      mt: int) -> int:
        """``rmqueue_buddy()``: HIGHATOMIC first for ALLOC_HIGHATOMIC, else __rmqueue()."""
        page = NIL
        if alloc_flags & ALLOC_HIGHATOMIC:
            page = self.rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC | (mt & ~7))
        if page == NIL:
            self.rmqm = RMQUEUE_NORMAL
            pos = self.profile.flip_order if self.unmapped else "after_steal"
            if pos != "after_steal":
                # variant: try the flip before claiming / stealing (the patch's own note)
                self.rmq_limit = RMQUEUE_CLAIM if pos == "before_claim" else RMQUEUE_STEAL
                page = self._rmqueue(zone, order, mt, alloc_flags)
                self.rmq_limit = RMQUEUE_STEAL + 1
                if page == NIL:
                    page = self.rmqueue_buddy_unlocked_fallback(zone, order, alloc_flags, mt)
                if page == NIL:
                    self.rmqm = RMQUEUE_CLAIM if pos == "before_claim" else RMQUEUE_STEAL
                    page = self._rmqueue(zone, order, mt, alloc_flags)
            else:
                page = self._rmqueue(zone, order, mt, alloc_flags)
            if page == NIL and alloc_flags & (ALLOC_OOM | ALLOC_NON_BLOCK):
                page = self.rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC | (mt & ~7))
            if page == NIL and pos == "after_steal":
                page = self.rmqueue_buddy_unlocked_fallback(zone, order, alloc_flags, mt)
            if page == NIL:
                return NIL
        if alloc_flags & ALLOC_HIGHATOMIC and self.profile.highatomic_reserve == "rmqueue_buddy":
            self.reserve_highatomic_pageblock(page, order, zone)
        self.pgalloc[zone.idx] += 1 << order
        zone.numa_hit += 1
        return page

    def rmqueue_buddy_unlocked_fallback(self, zone: Zone, order: int, alloc_flags: int,
                                        ft: int) -> int:
        """After the zone lock is dropped: the series' ``__rmqueue_direct_map()``; upstream
        has nothing here."""
        if self.unmapped not in ("v2", "v4"):
            return NIL
        return self.rmqueue_direct_map(zone, order, alloc_flags, ft)

    def rmqueue_direct_map(self, zone: Zone, request_order: int, alloc_flags: int, ft: int) -> int:
        """``__rmqueue_direct_map()`` (series v2 19/22, shared/seed): flip a whole free block
        of the other kind (mapped <-> unmapped) and allocate from it.

        Takes ``max(order, pageblock_order)`` pages of the other freetype with
        ``__rmqueue()`` (start mode RMQUEUE_NORMAL as posted, or CLAIM), changes their
        direct-map presence (``set_direct_map_valid_noflush()``, which may allocate page
        tables and recurse into the allocator), flushes the TLB when unmapping, sets the
        pageblocks' freetype flag, and gives back the rest of the block (per-order
        ``__free_one_page()`` loop as posted, or ``expand()``).
        """
        ft_other = ft ^ (1 << 3)
        want_mapped = not (ft >> 3)
        if freetype_idx(ft_other) < 0:
            return NIL
        if alloc_flags & ALLOC_NOBLOCK:
            self.stats["flip_noblock_refused"] += 1
            return NIL
        alloc_order = max(request_order, PAGEBLOCK_ORDER)
        nr_blocks = 1 << (alloc_order - PAGEBLOCK_ORDER)
        nr = nr_blocks << PAGEBLOCK_ORDER
        self.rmqm = RMQUEUE_CLAIM if self.profile.flip_mode == "claim" else RMQUEUE_NORMAL
        page = self._rmqueue(zone, alloc_order, ft_other, alloc_flags)
        if page == NIL:
            self.stats["flip_no_block"] += 1
            return NIL
        self.flip_depth += 1
        self.stats["flip_max_depth"] = max(self.stats["flip_max_depth"], self.flip_depth)
        cpu = self.cpu
        err = 0
        if self.directmap is not None:
            err = self.directmap.set_direct_map_valid_noflush(page, nr, want_mapped)
        self.cpu = cpu
        self.flip_depth -= 1
        if err:
            self.stats["flip_cpa_error"] += 1
            if self.profile.flip_error_path == "restore":
                # the fix: put the direct map back as it was (only the pages already
                # changed need it, so no split is needed) and free the block under the
                # lock with the freetype its pageblock still has
                if self.directmap is not None:
                    self.directmap.set_direct_map_valid_noflush(page, nr, not want_mapped)
                self._free_one_page(page, zone, alloc_order, ft_other, FPI_SKIP_REPORT_NOTIFY)
            elif self.profile.flip_error_path == "leak":
                # v2-code: returns NULL and never frees the block [series.md 2.9, 2.17 #2]
                self.mem.pstate[page] = PS_ALLOC | alloc_order
                self.mem.pkind[page] = KIND_LEAKED
                self.stats["flip_leaked_pages"] += nr
            else:
                # v2 as posted (under the zone lock) and mm-code (without it):
                # __free_one_page() with the requested freetype while the pageblock flags
                # and the direct map still say ft_other (series.md 2.17 #2)
                if self.profile.flip_error_path == "free_unlocked":
                    self.stats["flip_error_free_unlocked"] += 1
                self._free_one_page(page, zone, alloc_order, ft, FPI_SKIP_REPORT_NOTIFY)
            return NIL
        if not want_mapped and self.tlb is not None:
            self.tlb.unmap(page, nr)
            self.tlb.flush_tlb_kernel_range(page, page + nr, cpu)
        for i in range(nr_blocks):
            self.set_pageblock_freetype_flags(page + i * PAGEBLOCK_NR_PAGES, ft >> 3)
        if want_mapped:
            self.stats["flip_to_mapped"] += nr_blocks
            self.stats["flip_pages_to_mapped"] += nr
            if self.profile.zero_on_map_back and self.contents is not None:
                self.contents.zero(page, nr, "map_back")
                self.stats["pages_zeroed_map_back"] += nr
        else:
            self.stats["flip_to_unmapped"] += nr_blocks
            self.stats["flip_pages_to_unmapped"] += nr
        if self.sink is not None:
            self.emit("flip_direct_map", page, alloc_order, 0 if want_mapped else 1)
        if request_order >= alloc_order:
            return page
        if self.profile.flip_remainder == "expand":
            nr_added = self.expand(zone, page, request_order, alloc_order, ft)
            self.account_freepages(zone, nr_added, ft)
        else:
            for i in range(request_order, alloc_order):
                q = page + (1 << i)
                self.mem.pstate[q] = PS_ALLOC | i
                self._free_one_page(q, zone, i, ft, FPI_SKIP_REPORT_NOTIFY)
        return page

    def set_pageblock_freetype_flags(self, pfn: int, flags: int) -> None:
        """``set_pageblock_freetype_flags()``: write only the freetype flag bits."""
        b = pfn >> PAGEBLOCK_ORDER
        pb = self.mem.pb
        pb[b] = (pb[b] & 0x1F) | (flags << PB_FREETYPE_FLAGS_SHIFT)

    def rmqueue(self, preferred: Zone, zone: Zone, order: int, gfp: int, alloc_flags: int,
                mt: int) -> int:
        """``rmqueue()``: pcp for pcp orders, else buddy; wake kswapd after a boost."""
        page = NIL
        if (order <= PAGE_ALLOC_COSTLY_ORDER or order == HPAGE_PMD_ORDER) and (
                self.unmapped_pcp_bank or not mt >> 3):
            page = self.rmqueue_pcplist(preferred, zone, order, mt, alloc_flags)
        if page == NIL:
            page = self.rmqueue_buddy(preferred, zone, order, alloc_flags, mt)
        if zone.boosted_watermark and (alloc_flags & ALLOC_KSWAPD or not self.pcp_auto):
            zone.boosted_watermark = False
            self.wakeup_kswapd(zone, 0, 0, zone.idx)
        return page

    # ------------------------------------------------------------------ highatomic
    def reserve_highatomic_pageblock(self, pfn: int, order: int, zone: Zone) -> None:
        """``reserve_highatomic_pageblock()``: reserve up to ~1% of the zone, a block at a time."""
        if self.profile.highatomic_reserve != "rmqueue_buddy":
            # 6.1: limit managed/100 + a pageblock; only the containing pageblock
            if zone.nr_reserved_highatomic >= zone.managed_pages // 100 + PAGEBLOCK_NR_PAGES:
                return
            mt = self.mem.get_pfnblock_migratetype(pfn)
            if not migratetype_is_mergeable(mt):
                return
            zone.nr_reserved_highatomic += PAGEBLOCK_NR_PAGES
            self.set_pageblock_migratetype(pfn, MIGRATE_HIGHATOMIC)
            self.move_freepages_block_6_1(zone, pfn, MIGRATE_HIGHATOMIC)
            self.stats["highatomic_reserve"] += 1
            return
        if zone.managed_pages // 100 < PAGEBLOCK_NR_PAGES:
            return
        max_managed = -(-(zone.managed_pages // 100) // PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES
        if zone.nr_reserved_highatomic >= max_managed:
            return
        mt = self.mem.get_pfnblock_migratetype(pfn)
        if not migratetype_is_mergeable(mt):
            return
        if order < PAGEBLOCK_ORDER:
            if self.move_freepages_block(zone, pfn, mt, MIGRATE_HIGHATOMIC) == -1:
                return
            zone.nr_reserved_highatomic += PAGEBLOCK_NR_PAGES
        else:
            self.change_pageblock_range(pfn, order, MIGRATE_HIGHATOMIC)
            zone.nr_reserved_highatomic += 1 << order
        self.stats["highatomic_reserve"] += 1

    def unreserve_highatomic_pageblock(self, ac: AllocContext, force: bool) -> bool:
        """``unreserve_highatomic_pageblock()``: give one reserved block back to ac's type."""
        for zone in ac.zonelist[ac.preferred:]:
            if zone.idx > ac.highest_zoneidx:
                continue
            if not force and zone.nr_reserved_highatomic <= PAGEBLOCK_NR_PAGES:
                continue
            for order in range(NR_PAGE_ORDERS):
                pfn = self.mem.lhead[zone.buddy_list(order, MIGRATE_HIGHATOMIC)]
                if pfn == NIL:
                    continue
                if self.profile.highatomic_reserve != "rmqueue_buddy":
                    # 6.1 unreserve_highatomic_pageblock()
                    if self.mem.get_pfnblock_migratetype(pfn) == MIGRATE_HIGHATOMIC:
                        zone.nr_reserved_highatomic -= min(PAGEBLOCK_NR_PAGES,
                                                           zone.nr_reserved_highatomic)
                    self.set_pageblock_migratetype(pfn, ac.migratetype & 7)
                    moved, _ = self.move_freepages_block_6_1(zone, pfn, ac.migratetype & 7)
                    if moved > 0:
                        self.stats["highatomic_unreserve"] += 1
                        return True
                    continue
                size = max(PAGEBLOCK_NR_PAGES, 1 << order)
                if size > zone.nr_reserved_highatomic:
                    self.vm_warn("unreserve_highatomic:underflow")
                    size = zone.nr_reserved_highatomic
                zone.nr_reserved_highatomic -= size
                if order < PAGEBLOCK_ORDER:
                    ret = self.move_freepages_block(zone, pfn, MIGRATE_HIGHATOMIC, ac.migratetype)
                else:
                    self.move_to_free_list(pfn, zone, order, MIGRATE_HIGHATOMIC, ac.migratetype)
                    self.change_pageblock_range(pfn, order, ac.migratetype)
                    ret = 1
                if ret == -1:
                    self.vm_warn("unreserve_highatomic:zone_boundary")
                if ret > 0:
                    self.stats["highatomic_unreserve"] += 1
                    return True
        return False

    # ------------------------------------------------------------------ watermarks
    def _zone_watermark_unusable_free(self, z: Zone, order: int, alloc_flags: int) -> int:
        """``__zone_watermark_unusable_free()``."""
        unusable = (1 << order) - 1
        if not (alloc_flags & ALLOC_RESERVES):
            unusable += z.nr_free_highatomic if self.unusable_free_highatomic \
                else z.nr_reserved_highatomic
        if self.has_cma and not (alloc_flags & ALLOC_CMA):
            unusable += z.nr_free_cma_pages
        return unusable

    def _zone_watermark_ok(self, z: Zone, order: int, mark: int, highest_zoneidx: int,
                           alloc_flags: int, free_pages: int) -> bool:
        """``__zone_watermark_ok()``: order-0 reserve check, then a suitable free block."""
        min_ = mark
        free_pages -= self._zone_watermark_unusable_free(z, order, alloc_flags)
        if alloc_flags & ALLOC_RESERVES:
            if alloc_flags & ALLOC_MIN_RESERVE:
                min_ -= min_ // 2
                if alloc_flags & ALLOC_NON_BLOCK:
                    min_ -= min_ // 4
            if alloc_flags & ALLOC_OOM:
                min_ -= min_ // 2
        if free_pages <= min_ + z.lowmem_reserve[highest_zoneidx]:
            return False
        if not order:
            return True
        lhead = self.mem.lhead
        for o in range(order, NR_PAGE_ORDERS):
            if not z.nr_free[o]:
                continue
            base = z.list_base + o * NFT
            for mt in range(MIGRATE_PCPTYPES):
                if lhead[base + mt] != NIL:
                    return True
            if self.has_cma and alloc_flags & ALLOC_CMA and lhead[base + MIGRATE_CMA] != NIL:
                return True
            if alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_OOM) and \
                    lhead[base + MIGRATE_HIGHATOMIC] != NIL:
                return True
            if self.order_check_extra(z, o, alloc_flags):
                return True
        return False

    def order_check_extra(self, z: Zone, order: int, alloc_flags: int) -> bool:
        """Extra lists the high-order watermark check may count (the series' hook)."""
        return False

    def zone_watermark_ok(self, z: Zone, order: int, mark: int, highest_zoneidx: int,
                          alloc_flags: int) -> bool:
        """``zone_watermark_ok()`` on ``zone_page_state(NR_FREE_PAGES)``."""
        return self._zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags,
                                       self.zone_page_state_free(z))

    def zone_watermark_fast(self, z: Zone, order: int, mark: int, highest_zoneidx: int,
                            alloc_flags: int, gfp: int = 0) -> bool:
        """``zone_watermark_fast()``: cheap order-0 test, the full test, boost exemption."""
        free_pages = self.zone_page_state_free(z)
        if not order:
            reserved = self._zone_watermark_unusable_free(z, 0, alloc_flags)
            usable = free_pages - min(free_pages, reserved)
            if usable > mark + z.lowmem_reserve[highest_zoneidx]:
                return True
        if self._zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages):
            return True
        if not order and z.watermark_boost and (alloc_flags & ALLOC_WMARK_MASK) == WMARK_MIN and (
                gfp & GFP_ATOMIC_6_1_BIT if self.profile.boost_exemption_gfp_atomic
                else alloc_flags & ALLOC_MIN_RESERVE):
            return self._zone_watermark_ok(z, 0, z._watermark[WMARK_MIN], highest_zoneidx,
                                           alloc_flags, free_pages)
        return False

    # ------------------------------------------------------------------ get_page_from_freelist
    def alloc_flags_nofragment(self, zone: Zone | None, gfp: int) -> int:
        """``alloc_flags_nofragment()``: ALLOC_NOFRAGMENT when Normal is preferred (1 node)."""
        alloc_flags = gfp & GFP_KSWAPD_RECLAIM_BIT
        if self.defrag_mode:
            return alloc_flags | ALLOC_NOFRAGMENT
        if zone is None or zone.idx != ZONE_NORMAL:
            return alloc_flags
        return alloc_flags | ALLOC_NOFRAGMENT

    def get_page_from_freelist(self, gfp: int, order: int, alloc_flags: int,
                               ac: AllocContext) -> int:
        """``get_page_from_freelist()``: walk the zonelist, test watermarks, rmqueue()."""
        zonelist = ac.zonelist
        preferred = zonelist[ac.preferred]
        hz = ac.highest_zoneidx
        pcp_auto = self.pcp_auto
        while True:
            no_fallback = alloc_flags & ALLOC_NOFRAGMENT
            for i in range(ac.preferred, len(zonelist)):
                zone = zonelist[i]
                if zone.idx > hz:
                    continue
                if pcp_auto and not zone.below_high:
                    if self.zone_watermark_fast(zone, order, zone.high_wmark_pages(), hz,
                                                alloc_flags, gfp):
                        page = self.rmqueue(preferred, zone, order, gfp, alloc_flags,
                                            ac.migratetype)
                        if page != NIL:
                            return page
                        continue
                    zone.below_high = True
                mark = zone._watermark[alloc_flags & ALLOC_WMARK_MASK] + zone.watermark_boost
                if not self.zone_watermark_fast(zone, order, mark, hz, alloc_flags, gfp):
                    if not (alloc_flags & ALLOC_NO_WATERMARKS):
                        continue     # node_reclaim_mode is 0 (the default): next zone
                page = self.rmqueue(preferred, zone, order, gfp, alloc_flags, ac.migratetype)
                if page != NIL:
                    if alloc_flags & ALLOC_HIGHATOMIC and not pcp_auto:
                        self.reserve_highatomic_pageblock(page, order, zone)   # 6.1 site
                    return page
            if no_fallback and not self.defrag_mode:
                alloc_flags &= ~ALLOC_NOFRAGMENT
                continue
            return NIL

    # ------------------------------------------------------------------ kswapd hooks
    def wakeup_kswapd(self, zone: Zone, gfp: int, order: int, highest_zoneidx: int) -> None:
        """``wakeup_kswapd()`` (mm/vmscan.c): the kswapd agent decides (see
        :class:`pagealloc.mm.vmscan.Kswapd`); without one, record the request."""
        if self.kswapd is not None:
            self.kswapd.wakeup_kswapd(zone, gfp, order, highest_zoneidx)
            return
        if self.kswapd_highest_zoneidx < highest_zoneidx:
            self.kswapd_highest_zoneidx = highest_zoneidx
        self.kswapd_order = max(self.kswapd_order, order)
        self.stats["kswapd_wakeup"] += 1
        if self.wakeup_hook is not None:
            self.wakeup_hook(zone, gfp, order, highest_zoneidx)
        if self.sink is not None:
            self.emit("mm_vmscan_wakeup_kswapd", zone.node, zone.idx, order, gfp)

    def wake_all_kswapds(self, order: int, gfp: int, ac: AllocContext) -> None:
        """``wake_all_kswapds()``: one node, so one wakeup at the first managed zone;
        with ``defrag_mode`` kswapd is asked for at least a pageblock."""
        reclaim_order = max(order, PAGEBLOCK_ORDER) if self.defrag_mode else order
        for zone in ac.zonelist[ac.preferred:]:
            if zone.idx <= ac.highest_zoneidx and zone.managed_pages:
                self.wakeup_kswapd(zone, gfp, reclaim_order, ac.highest_zoneidx)
                return

    # ------------------------------------------------------------------ entry points
    def prepare_alloc(self, gfp: int) -> tuple[int, int, int, int, AllocContext | None, int]:
        """``prepare_alloc_pages()`` + ``alloc_flags_nofragment()``, cached per GFP mask.

        Returns (highest_zoneidx, freetype, preferred zonelist index or -1, fast-path
        alloc_flags, the read-only AllocContext, the allocation's pkind byte).
        """
        hit = self._gfp_cache.get(gfp)
        if hit is not None:
            return hit
        hz = G.gfp_zone(gfp & G.GFP_ZONEMASK)
        mt = self.gfp_freetype(gfp)
        preferred = -1
        for i, z in enumerate(self.zonelist):
            if z.idx <= hz:
                preferred = i
                break
        flags = G.gfp_to_alloc_flags_cma(gfp, ALLOC_WMARK_LOW, self.has_cma)
        if self.unmapped in ("v2", "v4") and not (gfp & GFP_DIRECT_RECLAIM_BIT):
            flags |= ALLOC_NOBLOCK           # init_alloc_flags() of the series
        ac: AllocContext | None = None
        if preferred >= 0:
            flags |= self.alloc_flags_nofragment(self.zonelist[preferred], gfp)
            ac = AllocContext(gfp, hz, mt, self.zonelist, preferred)
        kind = mt & 7
        if kind == MIGRATE_MOVABLE:
            kind |= KIND_MOVABLE
        if gfp & GFP_COMP_BIT:
            kind |= KIND_COMPOUND
        res = (hz, mt, preferred, flags, ac, kind)
        self._gfp_cache[gfp] = res
        return res

    def gfp_freetype(self, gfp: int) -> int:
        """``gfp_migratetype()``; in the series ``gfp_freetype()``: ``__GFP_UNMAPPED`` (v2) or
        ``ALLOC_UNMAPPED`` (v4, passed here as bit 40 of the cache key) add
        FREETYPE_UNMAPPED and force MIGRATE_UNMOVABLE (``WARN_ON_ONCE`` otherwise)."""
        mt = G.gfp_migratetype(gfp & 0xFFFFFFFF)
        if self.unmapped in ("v2", "v4") and gfp & (UNMAPPED_KEY | GFP_UNMAPPED_BIT):
            if mt != MIGRATE_UNMOVABLE:
                self.vm_warn("gfp_freetype:unmapped_not_unmovable")
            return MIGRATE_UNMOVABLE | (FREETYPE_UNMAPPED << 3)
        return mt

    def alloc_pages(self, gfp: int, order: int, cpu: int = 0, unmapped: bool = False) -> int:
        """``__alloc_frozen_pages_noprof()``: fast path, then the slow path; NIL on failure.

        ``unmapped`` is the series v4's ``ALLOC_UNMAPPED`` alloc flag (v2 uses the
        ``__GFP_UNMAPPED`` bit of ``gfp``).
        """
        self.cpu = cpu
        if order > MAX_PAGE_ORDER or order < 0:
            self.vm_warn("alloc_pages:order")
            return NIL
        key = gfp | UNMAPPED_KEY if unmapped else gfp
        hz, mt, preferred, alloc_flags, ac, kind = self.prepare_alloc(key)
        page = NIL
        if mt >> 3:
            if gfp & GFP_ZERO_BIT and self.unmapped == "v4":
                # v4: ALLOC_UNMAPPED and __GFP_ZERO are incompatible (no allocator zeroing)
                self.stats["unmapped_zero_refused"] += 1
                ac = None
            elif self.unmapped == "v2" and not self.mermap_ready:
                # v2 prepare_alloc_pages(): WARN_ON(!mermap_ready()) fails every unmapped
                # request outside a task with an mm (series.md 2.5, 2.17 #8)
                self.vm_warn("prepare_alloc_pages:!mermap_ready")
                self.stats["unmapped_no_mermap"] += 1
                ac = None
        if ac is not None:
            page = self.get_page_from_freelist(gfp, order, alloc_flags, ac)
            if page == NIL:
                page = self.alloc_pages_slowpath(gfp, order, ac)
        if page != NIL:
            # prep_new_page() -> post_alloc_hook(): the block is in use
            self.mem.pstate[page] = PS_ALLOC | order
            self.mem.pkind[page] = kind
            if self.contents is not None:
                zap = self.unmapped == "zap" and bool(unmapped or gfp & GFP_UNMAPPED_BIT)
                if zap:
                    self.folio_zap_direct_map(page, order)
                self.contents.on_alloc(page, order, gfp, mt, zap)
        else:
            self.stats["alloc_fail"] += 1
            if mt >> 3 and ac is not None and self.spurious_unmapped_failure(hz, order):
                self.stats["spurious_unmapped_failures"] += 1
        if self.sink is not None:
            self.emit("mm_page_alloc", page, order, mt & 7, gfp)
        return page

    def spurious_unmapped_failure(self, hz: int, order: int) -> bool:
        """A failed unmapped request counts as *spurious* (issue 4's counter, a model metric
        with no kernel counterpart) when the eligible zones (``zone_idx <= highest_zoneidx``)
        together hold at least ``2**order`` free pages above their min watermarks: the memory
        was there, and a flip of a suitable block, compaction or reclaim could have served
        it, but the series' fast path (no whole free block of the other kind, or
        ``ALLOC_NOBLOCK``) gave up.  Requests refused by design (v4 ``__GFP_ZERO``, v2
        without ``mermap_ready()``) never get here."""
        spare = 0
        for z in self.zonelist:
            if z.idx <= hz:
                spare += max(z.nr_free_pages - z._watermark[WMARK_MIN], 0)
        return spare >= 1 << order

    def folio_zap_direct_map(self, page: int, order: int) -> None:
        """The per-folio design of secretmem/guest_memfd today (series v4 patch 1,
        ``folio_zap_direct_map()``): take this folio alone out of the direct map
        (``set_direct_map_valid_noflush()``, splitting large entries as needed) and flush its
        range at once."""
        nr = 1 << order
        cpu = self.cpu
        if self.directmap is not None and self.directmap.set_direct_map_valid_noflush(page, nr, False):
            self.stats["flip_cpa_error"] += 1
        self.cpu = cpu
        if self.tlb is not None:
            self.tlb.unmap(page, nr)
            self.tlb.flush_tlb_kernel_range(page, page + nr, cpu)
        self.mem.pkind[page] |= KIND_ZAPPED
        self.stats["folio_zap"] += 1
        self.stats["folio_zap_pages"] += nr

    def folio_restore_direct_map(self, page: int, order: int) -> None:
        """``folio_restore_direct_map()`` on free: map the folio back (no flush needed) and
        zero it, as secretmem does after restoring the direct map."""
        nr = 1 << order
        if self.directmap is not None:
            self.directmap.set_direct_map_valid_noflush(page, nr, True)
        if self.contents is not None:
            self.contents.zero(page, nr, "free")
        self.stats["folio_restore"] += 1

    def post_alloc_hook(self, page: int, order: int, gfp: int, mt: int) -> None:
        """``prep_new_page()``/``post_alloc_hook()``: mark the block allocated."""
        self.mem.pstate[page] = PS_ALLOC | order
        self.mem.pkind[page] = self.prepare_alloc(gfp)[5]

    def alloc_pages_slowpath(self, gfp: int, order: int, ac: AllocContext) -> int:
        """``__alloc_pages_slowpath()`` (mm/page_alloc.c, Linux 7.2), in its order.

        ``restart:`` costly requests, and high-order non-movable ones, that may compact
        start with async compaction (``compact_first``, INIT_COMPACT_PRIORITY) instead of
        reclaim; ``gfp_to_alloc_flags()``.  ``retry:`` wake kswapd; try the freelists at
        min with the reserves the flags allow; ``__gfp_pfmemalloc_flags()`` (only
        ``__GFP_MEMALLOC`` applies: the model has no PF_MEMALLOC tasks or OOM victims) and
        the one retry of ``can_retry_reserves``; non-blocking callers fail here (with
        ``defrag_mode``, after dropping ALLOC_NOFRAGMENT); direct reclaim
        (``__alloc_pages_direct_reclaim()``, skipped on the compact-first pass); direct
        compaction; after the compact-first pass, ``__GFP_NORETRY|__GFP_THISNODE`` give up
        and the others retry at DEF_COMPACT_PRIORITY; ``__GFP_NORETRY`` and costly orders
        without ``__GFP_RETRY_MAYFAIL`` stop; ``should_reclaim_retry()``,
        ``should_compact_retry()``, ``defrag_mode``'s last relaxation;
        ``__alloc_pages_may_oom()``; ``nopage:`` ``__GFP_NOFAIL`` keeps trying with
        ALLOC_MIN_RESERVE; ``warn_alloc()``.  Without the reclaim agents attached (a bare
        :class:`PageAllocator`, as the trace probes use) the request ends where direct
        reclaim would begin, after ``should_reclaim_retry()``'s last resort (unreserve a
        highatomic block, retry once).
        """
        from pagealloc.mm import compaction as C
        can_direct_reclaim = bool(gfp & GFP_DIRECT_RECLAIM_BIT)
        can_compact = can_direct_reclaim and bool(gfp & GFP_IO_FLAG)
        nofail = bool(gfp & GFP_NOFAIL_FLAG)
        costly = order > PAGE_ALLOC_COSTLY_ORDER
        if nofail and not can_direct_reclaim:
            self.vm_warn("alloc_pages_slowpath:nofail_without_reclaim")
        self.stats["slowpath"] += 1
        compaction_retries = 0
        no_progress_loops = 0
        compact_result = C.COMPACT_SKIPPED
        compact_priority = C.DEF_COMPACT_PRIORITY
        compact_first = False
        if can_compact and (costly or (order > 0 and ac.migratetype != MIGRATE_MOVABLE)):
            compact_first = True
            compact_priority = C.INIT_COMPACT_PRIORITY
        alloc_flags = G.gfp_to_alloc_flags(gfp, order, self.has_cma, bool(self.defrag_mode))
        if self.unmapped in ("v2", "v4") and not can_direct_reclaim:
            alloc_flags |= ALLOC_NOBLOCK
        can_retry_reserves = True
        did_some_progress = 0
        try_isolate_migrate = bool(ac.migratetype >> 3) and \
            self.profile.on_no_block == "isolate_migrate"
        while True:                                          # retry:
            if alloc_flags & ALLOC_KSWAPD:
                self.wake_all_kswapds(order, gfp, ac)
            page = self.get_page_from_freelist(gfp, order, alloc_flags, ac)
            if page != NIL:
                return page
            reserve_flags = 0
            if gfp & GFP_MEMALLOC_BIT and not (gfp & GFP_NOMEMALLOC_BIT):
                reserve_flags = ALLOC_NO_WATERMARKS
            if reserve_flags:
                alloc_flags = G.gfp_to_alloc_flags_cma(gfp, reserve_flags, self.has_cma) | \
                    (alloc_flags & ALLOC_KSWAPD)
            if not (alloc_flags & ALLOC_CPUSET) or reserve_flags:
                if can_retry_reserves:
                    can_retry_reserves = False
                    continue
            if not can_direct_reclaim:
                if self.defrag_mode and alloc_flags & ALLOC_NOFRAGMENT and \
                        gfp & GFP_KSWAPD_RECLAIM_BIT:
                    alloc_flags &= ~ALLOC_NOFRAGMENT
                    continue
                break                                        # goto nopage
            if self.reclaim is None:
                # a bare PageAllocator (the trace probes): no reclaim or compaction agents,
                # so the request ends at should_reclaim_retry()'s last resort
                if self.unreserve_highatomic_pageblock(ac, True):
                    return self.get_page_from_freelist(gfp, order, alloc_flags, ac)
                break
            if try_isolate_migrate:
                # on_no_block=isolate_migrate (the reviewer's alternative, see
                # page_isolation.isolate_migrate_for_flip): once per slow path, make a
                # whole free mapped block in place and retry the flip
                try_isolate_migrate = False
                from pagealloc.mm.page_isolation import isolate_migrate_for_flip
                zones = [z for z in ac.zonelist[ac.preferred:] if z.idx <= ac.highest_zoneidx]
                cpu = self.cpu
                done = isolate_migrate_for_flip(self, zones, cpu)
                self.cpu = cpu
                if done:
                    continue
            if not compact_first:
                page, did_some_progress = self.alloc_pages_direct_reclaim(gfp, order,
                                                                          alloc_flags, ac)
                if page != NIL:
                    return page
            page, compact_result = self.alloc_pages_direct_compact(gfp, order, alloc_flags, ac,
                                                                   compact_priority)
            if page != NIL:
                return page
            if compact_first:
                if gfp & GFP_NORETRY_FLAG and gfp & GFP_THISNODE_FLAG:
                    break
                if not gfp & GFP_NORETRY_FLAG:
                    compact_priority = C.DEF_COMPACT_PRIORITY
                compact_first = False
                continue
            if gfp & GFP_NORETRY_FLAG:
                break
            if costly and (not can_compact or not gfp & GFP_RETRY_MAYFAIL_FLAG):
                break
            retry, no_progress_loops = self.should_reclaim_retry(
                gfp, order, ac, alloc_flags, did_some_progress > 0, no_progress_loops)
            if retry:
                continue
            if did_some_progress > 0 and can_compact:
                retry, compact_priority, compaction_retries = self.should_compact_retry(
                    gfp, ac, order, alloc_flags, compact_result, compact_priority,
                    compaction_retries)
                if retry:
                    continue
            if self.defrag_mode and alloc_flags & ALLOC_NOFRAGMENT:
                alloc_flags &= ~ALLOC_NOFRAGMENT
                continue
            page, did_some_progress = self.alloc_pages_may_oom(gfp, order, ac)
            if page != NIL:
                return page
            if did_some_progress:
                no_progress_loops = 0
                continue
            break
        # nopage:
        if nofail and can_direct_reclaim:
            page = self.get_page_from_freelist(gfp, order, ALLOC_MIN_RESERVE | ALLOC_CPUSET, ac)
            if page != NIL:
                return page
            # the kernel loops forever here (cond_resched(); goto retry); the model gives
            # up after one more round and says so
            self.vm_warn("alloc_pages_slowpath:nofail_gave_up")
        self.warn_alloc(gfp, order)
        return NIL

    def alloc_pages_direct_reclaim(self, gfp: int, order: int, alloc_flags: int,
                                   ac: AllocContext) -> tuple[int, int]:
        """``__alloc_pages_direct_reclaim()`` + ``__perform_reclaim()``: reclaim
        (``try_to_free_pages()``, at pageblock order for ALLOC_NOFRAGMENT non-movable
        requests), then try the freelists; once more after ``unreserve_highatomic_pageblock()``
        and ``drain_all_pages()``.  Returns (page, did_some_progress)."""
        reclaim = self.reclaim
        assert reclaim is not None
        reclaim_order = order
        if alloc_flags & ALLOC_NOFRAGMENT and ac.migratetype != MIGRATE_MOVABLE:
            reclaim_order = max(order, PAGEBLOCK_ORDER)
        cpu = self.cpu
        progress = reclaim.try_to_free_pages(reclaim_order, gfp, ac.highest_zoneidx)
        self.cpu = cpu
        if not progress:
            return NIL, 0
        page = self.get_page_from_freelist(gfp, order, alloc_flags, ac)
        if page == NIL:
            self.unreserve_highatomic_pageblock(ac, False)
            self.drain_all_pages(None)
            page = self.get_page_from_freelist(gfp, order, alloc_flags, ac)
        return page, progress

    def alloc_pages_direct_compact(self, gfp: int, order: int, alloc_flags: int,
                                   ac: AllocContext, prio: int) -> tuple[int, int]:
        """``__alloc_pages_direct_compact()``: compact (at pageblock order for
        ALLOC_NOFRAGMENT non-movable requests; never for order 0) with capture; count
        ``compact_stall`` and then ``compact_success`` or ``compact_fail``.  Returns
        (page, compact_result)."""
        from pagealloc.mm import compaction as C
        compact_order = order
        if alloc_flags & ALLOC_NOFRAGMENT and ac.migratetype != MIGRATE_MOVABLE:
            compact_order = max(order, PAGEBLOCK_ORDER)
        if ac.migratetype >> 3 and self.profile.on_no_block == "compact":
            # series v4 24/26 "always direct compact for unmapped allocs": a flip needs a
            # whole free mapped block, so compact at pageblock order, even for order 0
            compact_order = max(order, PAGEBLOCK_ORDER)
        if not compact_order:
            return NIL, C.COMPACT_SKIPPED
        cpu = self.cpu
        result, page = C.try_to_compact_pages(self, gfp, compact_order, alloc_flags, ac, prio,
                                              capture_order=order)
        self.cpu = cpu
        if page != NIL:
            result = C.COMPACT_SUCCESS
        if result == C.COMPACT_SKIPPED or result == C.COMPACT_DEFERRED:
            return NIL, result
        self.count_vm_events("compact_stall", 1)
        if page == NIL:
            page = self.get_page_from_freelist(gfp, order, alloc_flags, ac)
        else:
            self.stats["compaction_captured"] += 1
        if page != NIL:
            zone = self.zone_of(page)
            zone.compact_blockskip_flush = False
            C.compaction_defer_reset(self, zone, compact_order, True)
            self.count_vm_events("compact_success", 1)
            return page, result
        self.count_vm_events("compact_fail", 1)
        return NIL, result

    def should_reclaim_retry(self, gfp: int, order: int, ac: AllocContext, alloc_flags: int,
                             did_some_progress: bool, no_progress_loops: int) -> tuple[bool, int]:
        """``should_reclaim_retry()``: retry while some zone could meet min with all its
        reclaimable pages freed, up to MAX_RECLAIM_RETRIES loops without progress (costly
        orders never count as progress); the last chance unreserves a highatomic block."""
        from pagealloc.mm.vmscan import MAX_RECLAIM_RETRIES, zone_reclaimable_pages
        if did_some_progress and order <= PAGE_ALLOC_COSTLY_ORDER:
            no_progress_loops = 0
        else:
            no_progress_loops += 1
        ret = False
        if no_progress_loops <= MAX_RECLAIM_RETRIES:
            for zone in ac.zonelist[ac.preferred:]:
                if zone.idx > ac.highest_zoneidx:
                    continue
                available = zone_reclaimable_pages(self, zone) + zone.nr_free_pages
                if self._zone_watermark_ok(zone, order, zone.min_wmark_pages(),
                                           ac.highest_zoneidx, alloc_flags, available):
                    ret = True
                    break
        if not ret:
            return self.unreserve_highatomic_pageblock(ac, True), no_progress_loops
        return True, no_progress_loops

    def should_compact_retry(self, gfp: int, ac: AllocContext, order: int, alloc_flags: int,
                             compact_result: int, prio: int,
                             retries: int) -> tuple[bool, int, int]:
        """``should_compact_retry()``: SKIPPED retries if reclaim could make compaction
        suitable; SUCCESS (raced) up to MAX_COMPACT_RETRIES (a quarter for costly orders);
        otherwise escalate the priority down to MIN_COMPACT(_COSTLY)_PRIORITY.  Returns
        (retry, priority, retries)."""
        from pagealloc.mm import compaction as C
        if not order:
            return False, prio, retries
        if compact_result == C.COMPACT_SKIPPED:
            return C.compaction_zonelist_suitable(self, ac, order, alloc_flags), prio, retries
        max_retries = MAX_COMPACT_RETRIES
        if compact_result == C.COMPACT_SUCCESS:
            if order > PAGE_ALLOC_COSTLY_ORDER:
                max_retries //= 4
            retries += 1
            if retries <= max_retries:
                return True, prio, retries
        min_priority = C.MIN_COMPACT_COSTLY_PRIORITY if order > PAGE_ALLOC_COSTLY_ORDER \
            else C.MIN_COMPACT_PRIORITY
        if prio > min_priority:
            return True, prio - 1, retries
        return False, prio, retries

    def alloc_pages_may_oom(self, gfp: int, order: int, ac: AllocContext) -> tuple[int, int]:
        """``__alloc_pages_may_oom()``: one last try at the high watermark, then the OOM
        killer, except for costly orders, ``__GFP_RETRY_MAYFAIL|__GFP_THISNODE`` and
        requests below ZONE_NORMAL.  The model has no processes to kill: ``out_of_memory()``
        prints its header with the show_mem buddy dump to the event stream (``console``
        lines) and ends as the kernel does when nothing is killable, with no progress."""
        page = self.get_page_from_freelist((gfp | GFP_HARDWALL_FLAG) & ~GFP_DIRECT_RECLAIM_BIT,
                                           order, G.ALLOC_WMARK_HIGH | ALLOC_CPUSET, ac)
        if page != NIL:
            return page, 0
        if order > PAGE_ALLOC_COSTLY_ORDER:
            return NIL, 0
        if gfp & (GFP_RETRY_MAYFAIL_FLAG | GFP_THISNODE_FLAG):
            return NIL, 0
        if ac.highest_zoneidx < ZONE_NORMAL:
            return NIL, 0
        self.stats["oom"] += 1
        self.printk(f"pagealloc invoked oom-killer: gfp_mask={self.format_gfp(gfp)}, "
                    f"order={order}, oom_score_adj=0")
        self.show_mem()
        self.printk("Out of memory and no killable processes...")
        return NIL, 0

    def warn_alloc(self, gfp: int, order: int) -> None:
        """``warn_alloc()``: the allocation-failure report with the buddy dump, unless
        ``__GFP_NOWARN``."""
        self.stats["warn_alloc"] += 1
        if gfp & GFP_NOWARN_FLAG or self.sink is None:
            return
        self.printk(f"pagealloc: page allocation failure: order:{order}, "
                    f"mode:{self.format_gfp(gfp)}, nodemask=(null)")
        self.show_mem()

    def format_gfp(self, gfp: int) -> str:
        """``%#x(%pGg)``: the mask and its flag names."""
        return f"{gfp & 0xFFFFFFFF:#x}({G.show_gfp_flags(gfp & 0xFFFFFFFF, self.profile.gfp_table)})"

    def show_mem(self) -> None:
        """``__show_mem()``: the per-zone buddy lines of ``__show_free_areas()``."""
        if self.show_mem_lines is None:
            return
        for line in self.show_mem_lines():
            self.printk(line)

    def printk(self, text: str) -> None:
        """A kernel log line, sent to the event stream as the ``console`` tracepoint."""
        self.log.append(text)
        if self.sink is not None:
            self.sink("console", self.cpu, cast(tuple[int, ...], (text,)))

    # ------------------------------------------------------------------ freeing
    def _free_one_page(self, pfn: int, zone: Zone, order: int, mt: int, fpi: int) -> None:
        """``__free_one_page()``: merge with free buddies, then head or tail of the list."""
        mem = self.mem
        pstate = mem.pstate
        pb_zone = mem.pb_zone
        self.account_freepages(zone, 1 << order, mt)
        buddy_pfn = 0
        capc = self.capc
        while order < MAX_PAGE_ORDER:
            if capc is not None and self.capture_check(pfn, zone, order, mt):
                self.account_freepages(zone, -(1 << order), mt)
                return
            buddy_pfn = pfn ^ (1 << order)
            if pstate[buddy_pfn] != PS_BUDDY | order:
                break
            buddy_mt = mt
            if order >= PAGEBLOCK_ORDER:
                if pb_zone[buddy_pfn >> PAGEBLOCK_ORDER] != zone.idx:
                    break
                buddy_mt = mem.get_pfnblock_freetype(buddy_pfn)
                if not self.can_merge_freetypes(mt, buddy_mt):
                    break
            elif not self.hygiene:
                buddy_mt = self.list_mt(buddy_pfn, zone)
            self._del_page_from_free_list(buddy_pfn, zone, order, buddy_mt)
            if buddy_mt != mt:
                if self.profile.merge_retype_buddy:
                    self.change_pageblock_range(buddy_pfn, order, mt & 7)
                if not self.hygiene:
                    # 6.1 keeps no per-type free counters, so a buddy from another list
                    # just joins; the model's HighAtomic/CMA/isolate counts move with it
                    lmt = self.list_mt(buddy_pfn, zone)
                    self.account_freepages(zone, -(1 << order), lmt)
                    self.account_freepages(zone, 1 << order, mt)
            pfn &= buddy_pfn
            order += 1
        pstate[pfn] = PS_BUDDY | order
        if fpi & FPI_TO_TAIL:
            to_tail = True
        else:
            to_tail = self.buddy_merge_likely(pfn, buddy_pfn, order, zone)
        self._add_to_free_list(pfn, zone, order, mt, to_tail)

    def can_merge_freetypes(self, a: int, b: int) -> bool:
        """The cross-pageblock merge rule of ``__free_one_page()`` (7.2) for freetypes a, b.

        Upstream: equal, or both mergeable migratetypes.  The series' flag rule is the
        same with freetype flags required equal (series.md 2.6).
        """
        # freetypes_equal(): (mt, flags); the stored flag-carrying freetype.h compares the
        # migratetype only, letting mapped and unmapped blocks merge (series.md 2.1)
        if a == b or (self.profile.freetypes_equal == "migratetype" and (a & 7) == (b & 7)):
            return True
        if not migratetype_is_mergeable(a & 7) or not migratetype_is_mergeable(b & 7):
            return False
        return (a >> 3) == (b >> 3)

    def capture_check(self, pfn: int, zone: Zone, order: int, mt: int) -> bool:
        """``task_capc()`` + ``compaction_capture()`` (mm/page_alloc.c, 7.2): a direct
        compactor of this zone takes a freed page of exactly its order before it merges,
        unless it would pollute CMA, ISOLATE or (below pageblock order) a MOVABLE block
        for a non-movable request; a capture across migratetypes is an extfrag event."""
        capc = self.capc
        if capc is None or capc.page != NIL or capc.zone is not zone or order != capc.order:
            return False
        m = mt & 7
        if m == MIGRATE_CMA or m == MIGRATE_ISOLATE:
            return False
        want = capc.migratetype & 7
        if order < PAGEBLOCK_ORDER and m == MIGRATE_MOVABLE and want != MIGRATE_MOVABLE:
            return False
        if (mt >> 3) != (capc.migratetype >> 3):
            return False         # series v4: capc->freetype's flags must match the block's
        if m != want:
            self.trace_extfrag(pfn, capc.order, order, want, m)
        capc.page = pfn
        return True

    def buddy_merge_likely(self, pfn: int, buddy_pfn: int, order: int, zone: Zone) -> bool:
        """``buddy_merge_likely()``: is the parent's buddy free? Uses the stale buddy_pfn."""
        if order >= MAX_PAGE_ORDER - 1:
            return False
        higher = buddy_pfn & pfn
        hb = higher ^ (1 << (order + 1))
        if self.mem.pstate[hb] != PS_BUDDY | (order + 1):
            return False
        if order + 1 >= PAGEBLOCK_ORDER and \
                self.mem.pb_zone[hb >> PAGEBLOCK_ORDER] != zone.idx:
            return False
        return True

    def split_large_buddy(self, zone: Zone, pfn: int, order: int, fpi: int) -> None:
        """``split_large_buddy()``: free a >pageblock block one pageblock at a time."""
        end = pfn + (1 << order)
        if order > PAGEBLOCK_ORDER:
            order = PAGEBLOCK_ORDER
        get_ft = self.mem.get_pfnblock_freetype
        while True:
            self._free_one_page(pfn, zone, order, get_ft(pfn), fpi)
            pfn += 1 << order
            if pfn == end:
                break

    def free_one_page(self, zone: Zone, pfn: int, order: int, fpi: int) -> None:
        """``free_one_page()``: straight to the buddy lists; counts PGFREE.

        7.2 frees a > pageblock block per pageblock (``split_large_buddy()``); 6.1 frees it
        whole with the first pageblock's type (``__free_pages_ok()``, 6.1).
        """
        if self.profile.split_large_buddy:
            self.split_large_buddy(zone, pfn, order, fpi)
        else:
            self._free_one_page(pfn, zone, order, self.mem.get_pfnblock_freetype(pfn), fpi)
        self.pgfree += 1 << order

    def free_pages_prepare(self, pfn: int, order: int) -> Zone:
        """``__free_pages_prepare()``: check the block, emit mm_page_free, clear its state."""
        mem = self.mem
        s = mem.pstate[pfn]
        if s != PS_ALLOC | order:
            raise PageStateError(self.describe_bad_free(pfn, order))
        zone = self.zone_of(pfn)
        if self.sink is not None:
            self.emit("mm_page_free", pfn, order)
        if mem.pkind[pfn] & KIND_ZAPPED:
            self.folio_restore_direct_map(pfn, order)
        if self.contents is not None:
            self.contents.on_free(pfn, order)
        mem.pstate[pfn] = 0
        mem.pkind[pfn] = 0
        return zone

    def describe_bad_free(self, pfn: int, order: int) -> str:
        s = self.mem.pstate[pfn]
        st = s & PS_MASK
        what = {0: "not the head of an allocated block", PS_BUDDY: "already free (PageBuddy)",
                PS_PCP: "already free (on a pcp list)", PS_ALLOC: "allocated",
                0x40: "reserved", 0x50: "not RAM"}.get(st, f"in state {s:#x}")
        if st == PS_ALLOC:
            return f"free of pfn {pfn:#x} order {order}: allocated with order {s & ORDER_MASK}"
        return f"free of pfn {pfn:#x} order {order}: page is {what}"

    def _free_pages_ok(self, pfn: int, order: int, fpi: int) -> None:
        """``__free_pages_ok()``."""
        zone = self.free_pages_prepare(pfn, order)
        self.free_one_page(zone, pfn, order, fpi)

    def free_frozen_pages(self, pfn: int, order: int, cpu: int = 0, fpi: int = FPI_NONE) -> None:
        """``__free_frozen_pages()``: pcp orders to this CPU's pcp list, the rest to buddy."""
        self.cpu = cpu
        if not (order <= PAGE_ALLOC_COSTLY_ORDER or order == HPAGE_PMD_ORDER):
            self._free_pages_ok(pfn, order, fpi)
            return
        self.free_prepared_pcp_order(self.free_pages_prepare(pfn, order), pfn, order, cpu, fpi)

    def free_prepared_pcp_order(self, zone: Zone, pfn: int, order: int, cpu: int, fpi: int) -> None:
        """The rest of ``__free_frozen_pages()`` (7.2) for a pcp order once the pages are
        prepared: an isolated pageblock's block to ``free_one_page()``, CMA and HIGHATOMIC
        onto the MOVABLE pcp list, then the pcp commit (6.1: ``free_unref_page_commit()``
        with ``page->index`` = the pageblock type)."""
        ft = self.mem.get_pfnblock_freetype(pfn)
        mt = ft & 7
        if mt >= MIGRATE_PCPTYPES:
            if mt == MIGRATE_ISOLATE:
                self.free_one_page(zone, pfn, order, fpi)
                return
            ft = (ft & ~7) | MIGRATE_MOVABLE
        if ft >> 3 and not self.unmapped_pcp_bank:
            self.free_one_page(zone, pfn, order, fpi)       # knob unmapped_pcp=none
            return
        if self.pcp_auto:
            self.free_frozen_page_commit(zone, zone.pcp[cpu], pfn, ft, order, fpi)
        else:
            self.mem.pkind[pfn] = mt                 # 6.1 page->index = pageblock type
            self.free_unref_page_commit_6_1(zone, zone.pcp[cpu], pfn, ft, order)

    def free_unref_folios(self, folios: list[tuple[int, int]], cpu: int = 0) -> None:
        """``free_unref_folios()``: the batched path; emits mm_page_free_batched per pcp folio."""
        self.cpu = cpu
        prepared: list[tuple[int, int, Zone]] = []
        for pfn, order in folios:
            zone = self.free_pages_prepare(pfn, order)
            if not pcp_allowed_order(order):
                self.free_one_page(zone, pfn, order, FPI_NONE)
                continue
            prepared.append((pfn, order, zone))
        for pfn, order, zone in prepared:
            ft = self.mem.get_pfnblock_freetype(pfn)
            if ft & 7 == MIGRATE_ISOLATE:
                self.free_one_page(zone, pfn, order, FPI_NONE)
                continue
            if ft & 7 >= MIGRATE_PCPTYPES:
                ft = (ft & ~7) | MIGRATE_MOVABLE
            if ft >> 3 and not self.unmapped_pcp_bank:
                self.free_one_page(zone, pfn, order, FPI_NONE)  # knob unmapped_pcp=none
                continue
            if self.sink is not None:
                self.emit("mm_page_free_batched", pfn)
            if self.pcp_auto:
                self.free_frozen_page_commit(zone, zone.pcp[cpu], pfn, ft, order, FPI_NONE)
            else:
                self.mem.pkind[pfn] = self.mem.get_pfnblock_migratetype(pfn)
                self.free_unref_page_commit_6_1(zone, zone.pcp[cpu], pfn, ft, order)

    def nr_pcp_free(self, pcp: PerCpuPages, batch: int, high: int, free_high: bool) -> int:
        """``nr_pcp_free()``."""
        if free_high:
            return min(pcp.count, batch << CONFIG_PCP_BATCH_SCALE_MAX)
        if high < batch:
            return 1
        return min(max(pcp.free_count, batch), high - batch)

    def nr_pcp_high(self, pcp: PerCpuPages, zone: Zone, batch: int, free_high: bool) -> int:
        """``nr_pcp_high()`` (7.2): the auto-tuned high, adjusted for pressure."""
        high_min = pcp.high_min
        high_max = pcp.high_max
        high = pcp.high = min(max(pcp.high, high_min), high_max)
        if not high:
            return 0
        if free_high:
            pcp.high = max(high - (batch << CONFIG_PCP_BATCH_SCALE_MAX), high_min)
            return 0
        if zone.reclaim_active:
            free_count = max(pcp.free_count, batch)
            pcp.high = max(high - free_count, high_min)
            return min(batch << 2, pcp.high)
        if high_min == high_max:
            return high
        if zone.below_high:
            free_count = max(pcp.free_count, batch)
            pcp.high = max(high - free_count, high_min)
            high = max(pcp.count, high_min)
        elif pcp.count >= high:
            need_high = pcp.free_count + batch
            if pcp.high < need_high:
                pcp.high = min(max(need_high, high_min), high_max)
        return high

    def pcp_push(self, pcp: PerCpuPages, pfn: int, ft: int, order: int) -> int:
        """The common start of both commit versions: count PGFREE, ``list_add()`` the page
        at the head of its pcp list (LIFO), account it; returns the pindex."""
        self.pgfree += 1 << order
        pindex = self.pindex_table[(order << 4) | ft]
        mem = self.mem
        mem.list_add(pcp.list_base + pindex, pfn)
        mem.pstate[pfn] = PS_PCP | order
        pcp.count += 1 << order
        return pindex

    def pcp_insert(self, pcp: PerCpuPages, pfn: int, ft: int, order: int, tail: bool) -> int:
        """Put the free block ``pfn`` on its pcp list with the pcp accounting and no vmstat
        event: ``list_add_tail()`` as ``rmqueue_bulk()`` refills a list (``tail``), else
        ``list_add()`` as the free path does; ``pcp->count``, the page's pcp state and, on
        6.1, ``set_pcppage_migratetype()`` (the type a later drain returns it to).  For
        state repairs (a trace replay putting back a page it took, or taking the kernel's
        refill): unlike :meth:`pcp_push`, no ``PGFREE``.  Returns the pindex."""
        pindex = self.pindex_table[(order << 4) | ft]
        if pindex < 0:
            raise PageStateError(f"pcp_insert: no pcp list for order {order} freetype {ft}")
        mem = self.mem
        if mem.pstate[pfn] & PS_MASK in (PS_BUDDY, PS_PCP):
            raise PageStateError(f"pcp_insert: pfn {pfn:#x} is already free (state "
                                 f"{mem.pstate[pfn]:#x})")
        if tail:
            mem.list_add_tail(pcp.list_base + pindex, pfn)
        else:
            mem.list_add(pcp.list_base + pindex, pfn)
        mem.pstate[pfn] = PS_PCP | order
        if self.profile.pcp_cached_migratetype:
            mem.pkind[pfn] = ft & 7
        pcp.count += 1 << order
        return pindex

    def free_frozen_page_commit(self, zone: Zone, pcp: PerCpuPages, pfn: int, ft: int,
                                order: int, fpi: int) -> None:
        """``free_frozen_page_commit()`` (7.2): LIFO push, free_high, batched overflow drain."""
        pcp.alloc_factor >>= 1
        # pcp_push(), inlined: this is the hottest free path
        self.pgfree += 1 << order
        pindex = self.pindex_table[(order << 4) | ft]
        mem = self.mem
        mem.list_add(pcp.list_base + pindex, pfn)
        mem.pstate[pfn] = PS_PCP | order
        pcp.count += 1 << order
        batch = pcp.batch
        free_high = False
        if order and order <= PAGE_ALLOC_COSTLY_ORDER:
            free_high = (pcp.free_count >= batch + pcp.high_min // 2
                         and bool(pcp.flags & PCPF_PREV_FREE_HIGH_ORDER)
                         and (not (pcp.flags & PCPF_FREE_HIGH_BATCH) or pcp.count >= batch))
            pcp.flags |= PCPF_PREV_FREE_HIGH_ORDER
        elif pcp.flags & PCPF_PREV_FREE_HIGH_ORDER:
            pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER
        if pcp.free_count < (batch << CONFIG_PCP_BATCH_SCALE_MAX):
            pcp.free_count += 1 << order
        if fpi & FPI_TRYLOCK:
            return
        high = self.nr_pcp_high(pcp, zone, batch, free_high)
        if pcp.count < high:
            return
        to_free = self.nr_pcp_free(pcp, batch, high, free_high)
        while to_free > 0 and pcp.count > 0:
            n = min(to_free, batch)
            self.free_pcppages_bulk(zone, n, pcp, pindex)
            to_free -= n
            if to_free == 0 or pcp.count == 0:
                break
        if zone.below_high and self.zone_watermark_ok(zone, 0, zone.high_wmark_pages(),
                                                      ZONE_MOVABLE, 0):
            zone.below_high = False

    def free_unref_page_commit_6_1(self, zone: Zone, pcp: PerCpuPages, pfn: int, ft: int,
                                   order: int) -> None:
        """``free_unref_page_commit()`` (6.1): fixed high, free_factor, whole-pcp free_high."""
        pindex = self.pcp_push(pcp, pfn, ft, order)
        free_high = pcp.free_factor > 0 and 1 <= order <= PAGE_ALLOC_COSTLY_ORDER
        high = self.nr_pcp_high_6_1(pcp, zone, free_high)
        if pcp.count >= high:
            self.free_pcppages_bulk(zone, self.nr_pcp_free_6_1(pcp, high, pcp.batch, free_high),
                                    pcp, pindex)

    @staticmethod
    def nr_pcp_high_6_1(pcp: PerCpuPages, zone: Zone, free_high: bool) -> int:
        """``nr_pcp_high()`` (6.1)."""
        if not pcp.high or free_high:
            return 0
        if not zone.reclaim_active:
            return pcp.high
        return min(pcp.batch << 2, pcp.high)

    @staticmethod
    def nr_pcp_free_6_1(pcp: PerCpuPages, high: int, batch: int, free_high: bool) -> int:
        """``nr_pcp_free()`` (6.1): doubling with free_factor, or the whole pcp on free_high."""
        if free_high:
            return pcp.count
        if high < batch:
            return 1
        min_nr, max_nr = batch, high - batch
        b = batch << pcp.free_factor
        if b < max_nr and pcp.free_factor < CONFIG_PCP_BATCH_SCALE_MAX:
            pcp.free_factor += 1
        return min(max(b, min_nr), max_nr)

    def free_pcppages_bulk(self, zone: Zone, count: int, pcp: PerCpuPages, pindex: int) -> None:
        """``free_pcppages_bulk()``: round-robin from ``pindex``, each list from its tail.

        A trace replay that follows the kernel's drains (``trace_drains``) applies each
        ``mm_page_pcpu_drain`` with :meth:`drain_pcp_page` instead, so the model drains
        nothing by itself."""
        if self.trace_drains:
            return
        count = min(pcp.count, count)
        mem = self.mem
        lhead = mem.lhead
        nr_lists = self.profile.nr_pcp_lists
        base = pcp.list_base
        pindex -= 1
        get_ft = mem.get_pfnblock_freetype
        cached = self.profile.pcp_cached_migratetype
        while count > 0:
            while True:
                pindex += 1
                if pindex > nr_lists - 1:
                    pindex = 0
                if lhead[base + pindex] != NIL:
                    break
            order = self.profile.pindex_to_order(pindex)
            nr_pages = 1 << order
            lid = base + pindex
            while True:
                page = mem.list_pop_tail(lid)
                if cached and not zone.nr_isolate_pageblock:
                    mt = mem.pkind[page]                # 6.1: page->index
                    mem.pkind[page] = 0
                else:
                    mt = get_ft(page)
                mem.pstate[page] = 0
                count -= nr_pages
                pcp.count -= nr_pages
                self._free_one_page(page, zone, order, mt, FPI_NONE)
                if self.sink is not None:
                    self.emit("mm_page_pcpu_drain", page, order, mt & 7)
                if not (count > 0 and lhead[lid] != NIL):
                    break

    def drain_pcp_page(self, pfn: int, order: int) -> bool:
        """One page of ``free_pcppages_bulk()``: ``pfn`` leaves its pcp list for the buddy
        lists (the kernel's ``mm_page_pcpu_drain``, applied by a trace replay).  False if
        the model does not hold ``pfn`` on a pcp list with that order."""
        mem = self.mem
        if mem.pstate[pfn] != PS_PCP | order:
            return False
        zone = self.zone_of(pfn)
        lid = mem.plist[pfn]
        pcp = next(p for p in zone.pcp
                   if p.list_base <= lid < p.list_base + self.profile.nr_pcp_lists)
        mem.list_del(pfn)
        if self.profile.pcp_cached_migratetype and not zone.nr_isolate_pageblock:
            mt = mem.pkind[pfn]
            mem.pkind[pfn] = 0
        else:
            mt = mem.get_pfnblock_freetype(pfn)
        mem.pstate[pfn] = 0
        pcp.count -= 1 << order
        self._free_one_page(pfn, zone, order, mt, FPI_NONE)
        return True

    def drain_pages_zone(self, cpu: int, zone: Zone) -> None:
        """``drain_pages_zone()`` (mm/page_alloc.c, 6.1 and 7.2): empty ``cpu``'s pcp of one
        zone in capped bulk frees.  It runs on the calling CPU, which need not be ``cpu``:
        ``__drain_all_pages()`` drains every CPU's lists remotely under their pcp locks, so
        the ``mm_page_pcpu_drain`` lines carry the drainer's CPU and the NR_FREE_PAGES
        delta goes to the drainer's per-CPU vmstat diff (``self.cpu`` stays as it is)."""
        pcp = zone.pcp[cpu]
        while pcp.count:
            to_drain = min(pcp.count, pcp.batch << CONFIG_PCP_BATCH_SCALE_MAX)
            self.free_pcppages_bulk(zone, to_drain, pcp, 0)

    def drain_all_pages(self, zone: Zone | None = None) -> None:
        """``drain_all_pages()``: every CPU with pcp pages (in one zone or all)."""
        for cpu in range(self.ncpus):
            for z in self.zones:
                if not z.pcp or (zone is not None and z is not zone):
                    continue
                if z.pcp[cpu].count:
                    self.drain_pages_zone(cpu, z)

    def decay_pcp_high(self, zone: Zone, pcp: PerCpuPages) -> bool:
        """``decay_pcp_high()``: shrink high by 1/8 toward high_min, drain the excess."""
        todo = False
        high_min = pcp.high_min
        batch = pcp.batch
        if pcp.high > high_min:
            pcp.high = max(pcp.count - (batch << CONFIG_PCP_BATCH_SCALE_MAX),
                           pcp.high - (pcp.high >> 3), high_min)
            if pcp.high > high_min:
                todo = True
        to_drain = pcp.count - pcp.high
        while to_drain > 0:
            n = min(to_drain, batch)
            self.free_pcppages_bulk(zone, n, pcp, 0)
            todo = True
            to_drain -= n
        return todo

    def refresh_cpu_vm_stats(self, cpu: int) -> None:
        """``refresh_cpu_vm_stats(do_pagesets=true)``: fold this CPU's deltas, decay pcp high."""
        saved = self.cpu
        self.cpu = cpu
        for zone in self.zones:
            if not zone.pcp:
                continue
            d = zone.vm_free_diff[cpu]
            if d:
                zone.vm_nr_free_pages += d
                zone.vm_free_diff[cpu] = 0
            if self.pcp_auto:
                self.decay_pcp_high(zone, zone.pcp[cpu])
        self.cpu = saved

    # ------------------------------------------------------------------ boot
    def free_pages_core(self, pfn: int, order: int) -> None:
        """``__free_pages_core()`` at boot: ``__free_pages_ok(page, order, FPI_TO_TAIL)``."""
        mem = self.mem
        mem.pstate[pfn] = PS_ALLOC | order
        self._free_pages_ok(pfn, order, FPI_TO_TAIL)


# ---------------------------------------------------------------------- boot-time setup
def zone_batchsize(zone: Zone) -> int:
    """``zone_batchsize()`` (7.2): ~0.025% of the zone or 256 KiB, as 2^n-1."""
    batch = min(zone.managed_pages >> 12, (256 * 1024) >> 12)
    if batch <= 1:
        return 1
    b = batch + batch // 2
    return (1 << (b.bit_length() - 1)) - 1


def zone_highsize(zone: Zone, batch: int, cpu_online: int, high_fraction: int, ncpus: int) -> int:
    """``zone_highsize()``: low watermark (or managed/fraction) split across the node's CPUs."""
    if not high_fraction:
        total = zone.low_wmark_pages()
    else:
        total = zone.managed_pages // high_fraction
    nr_split_cpus = ncpus + cpu_online
    if not nr_split_cpus:
        nr_split_cpus = ncpus
    return max(total // nr_split_cpus, batch << 2)


def zone_set_pageset_high_and_batch(zone: Zone, cpu_online: int, high_fraction: int,
                                    ncpus: int, fixed_high: bool = False) -> None:
    """``zone_set_pageset_high_and_batch()``: batch, high_min, high_max on every CPU.

    ``fixed_high`` is Linux 6.1's rule: one ``high`` (``zone_highsize()``) written to
    ``pcp->high`` directly (``pageset_update()``), no auto-tuning range.
    """
    new_batch = zone_batchsize(zone)
    if fixed_high:
        high = zone_highsize(zone, new_batch, cpu_online, high_fraction, ncpus)
        zone.pageset_high_min = zone.pageset_high_max = high
        zone.pageset_batch = new_batch
        for pcp in zone.pcp:
            pcp.batch = new_batch
            pcp.high = pcp.high_min = pcp.high_max = high
        return
    if high_fraction:
        new_high_min = zone_highsize(zone, new_batch, cpu_online, high_fraction, ncpus)
        new_high_max = new_high_min
    else:
        new_high_min = zone_highsize(zone, new_batch, cpu_online, 0, ncpus)
        new_high_max = zone_highsize(zone, new_batch, cpu_online,
                                     MIN_PERCPU_PAGELIST_HIGH_FRACTION, ncpus)
    if (zone.pageset_high_min, zone.pageset_high_max, zone.pageset_batch) == \
            (new_high_min, new_high_max, new_batch):
        return
    zone.pageset_high_min = new_high_min
    zone.pageset_high_max = new_high_max
    zone.pageset_batch = new_batch
    for pcp in zone.pcp:
        pcp.batch = new_batch
        pcp.high_min = new_high_min
        pcp.high_max = new_high_max


def nr_free_buffer_pages(zones: list[Zone]) -> int:
    """``nr_free_buffer_pages()``: managed minus high watermark, zones up to Normal."""
    total = 0
    for z in zones:
        if z.idx <= ZONE_NORMAL:
            total += max(0, z.managed_pages - z.high_wmark_pages())
    return total


def int_sqrt(x: int) -> int:
    """``int_sqrt()``: floor of the square root."""
    import math
    return math.isqrt(x)


def calculate_min_free_kbytes(zones: list[Zone]) -> int:
    """``calculate_min_free_kbytes()``: sqrt(lowmem_kbytes * 16), clamped to 128..262144."""
    lowmem_kbytes = nr_free_buffer_pages(zones) * 4
    return min(max(int_sqrt(lowmem_kbytes * 16), 128), 262144)


def recommended_min_free_kbytes(zones: list[Zone], min_free_kbytes: int) -> int:
    """``set_recommended_min_free_kbytes()`` (mm/khugepaged.c): the THP raise."""
    nr_zones = sum(1 for z in zones if z.populated() and z.idx <= ZONE_NORMAL)
    recommended = PAGEBLOCK_NR_PAGES * nr_zones * 2
    recommended += PAGEBLOCK_NR_PAGES * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    recommended = min(recommended, nr_free_buffer_pages(zones) // 20)
    recommended <<= 2
    return max(recommended, min_free_kbytes)


def setup_per_zone_wmarks(zones: list[Zone], min_free_kbytes: int, watermark_scale_factor: int,
                          high_fraction: int, ncpus: int, movable_capped: bool = True,
                          fixed_high: bool = False) -> None:
    """``__setup_per_zone_wmarks()`` then ``zone_pcp_update(zone, 0)`` for every zone.

    ``movable_capped``: ZONE_MOVABLE's min is clamped like highmem (7.2; 6.1 caps only
    highmem, which x86-64 does not have).
    """
    pages_min = min_free_kbytes >> 2
    lowmem_pages = sum(z.managed_pages for z in zones if z.idx != ZONE_MOVABLE and z.idx != ZONE_DEVICE)
    for z in zones:
        tmp = pages_min * z.managed_pages // lowmem_pages if lowmem_pages else 0
        if z.idx == ZONE_MOVABLE and movable_capped:
            z._watermark[WMARK_MIN] = min(max(z.managed_pages // 1024, 32), 128)
        else:
            z._watermark[WMARK_MIN] = tmp
        m = z.managed_pages
        step = max(tmp >> 2, (m // 10000) * watermark_scale_factor
                   + ((m % 10000) * watermark_scale_factor) // 10000)
        z.watermark_boost = 0
        z._watermark[WMARK_LOW] = z._watermark[WMARK_MIN] + step
        z._watermark[WMARK_HIGH] = z._watermark[WMARK_LOW] + step
        z._watermark[3] = z._watermark[WMARK_HIGH] + step
    for z in zones:
        if z.pcp:
            zone_set_pageset_high_and_batch(z, 0, high_fraction, ncpus, fixed_high)


def setup_per_zone_lowmem_reserve(zones: list[Zone], ratios: tuple[int, ...]) -> None:
    """``setup_per_zone_lowmem_reserve()``: lowmem_reserve[j] = managed above / ratio."""
    n = len(zones)
    for i in range(n - 1):
        zone = zones[i]
        ratio = ratios[i]
        clear = not ratio or not zone.managed_pages
        managed = 0
        for j in range(i + 1, n):
            managed += zones[j].managed_pages
            zone.lowmem_reserve[j] = 0 if clear else managed // ratio


def calculate_normal_threshold(zone: Zone, ncpus: int) -> int:
    """``calculate_normal_threshold()`` (mm/vmstat.c): the per-CPU vmstat fold threshold."""
    mem = zone.managed_pages >> (27 - 12)
    return min(125, 2 * ncpus.bit_length() * (1 + mem.bit_length()))


def calculate_pressure_threshold(zone: Zone, ncpus: int) -> int:
    """``calculate_pressure_threshold()``: the smaller threshold while kswapd runs."""
    distance = zone.low_wmark_pages() - zone.min_wmark_pages()
    return min(125, max(1, distance // ncpus))
