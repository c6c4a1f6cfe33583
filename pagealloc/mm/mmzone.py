"""Zone state: free areas, per-CPU pagesets, watermarks and the per-PFN encoding.

Models ``include/linux/mmzone.h`` (``struct zone``, ``struct free_area``,
``struct per_cpu_pages``, zone flags, watermark accessors) and
``include/linux/pageblock-flags.h`` for Linux 7.2 on x86-64.

Layout of the model (no Python object per page frame):

* one byte per PFN, ``Mem.pstate``: the upper nibble says what the PFN is (``PS_*``),
  the lower nibble the order of the block whose head it is.  Only the head of a block
  carries a state; the other PFNs of a free, pcp or allocated block are 0.  ``PS_BUDDY``
  is the kernel's ``PageBuddy`` plus ``buddy_order()``.
* two bytes per PFN, ``Mem.plist``: the list a free or pcp head is linked on.
* one byte per PFN, ``Mem.pkind``: the mobility facts of an allocated block (requested
  migratetype, ``PageLRU``/movable_ops, compound), read by ``prep_move_freepages_block``.
* one byte per pageblock, ``Mem.pb``: the pageblock flags (migratetype bits 0-2,
  ``PB_compact_skip`` bit 3, ``PB_migrate_isolate`` bit 4, freetype flags from bit 5).
* doubly linked lists threaded through two dicts (``nxt``, ``prv``) keyed by PFN, with
  head and tail per list id: O(1) add to head, add to tail, delete and pop, and memory
  proportional to the number of free blocks rather than to RAM.
"""

from __future__ import annotations

from array import array

from pagealloc.mm.freetype import MIGRATE_ISOLATE, NR_FREETYPE_IDXS

MAX_PAGE_ORDER = 10
NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1
PAGEBLOCK_ORDER = 9
PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER
HPAGE_PMD_ORDER = 9
PAGE_ALLOC_COSTLY_ORDER = 3
NR_LOWORDER_PCP_LISTS = 3 * (PAGE_ALLOC_COSTLY_ORDER + 1)
NR_PCP_THP = 2
NR_PCP_LISTS = NR_LOWORDER_PCP_LISTS + NR_PCP_THP
CONFIG_PCP_BATCH_SCALE_MAX = 5
SWAP_CLUSTER_MAX = 32
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8
BOOT_PAGESET_HIGH = 0
BOOT_PAGESET_BATCH = 1

# per-PFN state byte (upper nibble) -----------------------------------------------------
PS_NONE = 0x00       # tail of a block, or a PFN inside an allocated/free block
PS_BUDDY = 0x10      # PageBuddy head; low nibble = buddy_order()
PS_PCP = 0x20        # head of a block on a pcp list; low nibble = order
PS_ALLOC = 0x30      # head of an allocated block; low nibble = order
PS_RESERVED = 0x40   # PageReserved: never given to the buddy allocator (per PFN)
PS_HOLE = 0x50       # not RAM (no struct page in a real kernel's sense)
PS_ISOLATED = 0x60   # head of a free block taken off the lists by __isolate_free_page()
PS_MASK = 0xF0
ORDER_MASK = 0x0F

# allocation facts (pkind) ---------------------------------------------------------------
KIND_MT_MASK = 0x07          # requested migratetype
KIND_MOVABLE = 0x08          # PageLRU() or page_has_movable_ops(): counted by prep_move_freepages_block
KIND_COMPOUND = 0x10         # __GFP_COMP

# pageblock flag bits (pageblock-flags.h, Linux 7.2 with CONFIG_MEMORY_ISOLATION) ---------
PB_MIGRATETYPE_MASK = 0x07
PB_COMPACT_SKIP = 0x08
PB_MIGRATE_ISOLATE = 0x10
PB_FREETYPE_FLAGS_SHIFT = 5

# zone watermark indices
WMARK_MIN = 0
WMARK_LOW = 1
WMARK_HIGH = 2
WMARK_PROMO = 3

# per_cpu_pages.flags
PCPF_PREV_FREE_HIGH_ORDER = 0x1
PCPF_FREE_HIGH_BATCH = 0x2

NIL = -1


class PerCpuPages:
    """``struct per_cpu_pages`` of one zone on one CPU (lists live in :class:`Mem`)."""

    __slots__ = (
        "cpu", "count", "high", "high_min", "high_max", "batch", "flags",
        "alloc_factor", "free_count", "expire", "free_factor", "list_base",
    )

    def __init__(self, cpu: int, list_base: int) -> None:
        # per_cpu_pages_init(): memset 0, boot pageset high/batch
        self.cpu = cpu
        self.count = 0
        self.high = 0
        self.high_min = BOOT_PAGESET_HIGH
        self.high_max = BOOT_PAGESET_HIGH
        self.batch = BOOT_PAGESET_BATCH
        self.flags = 0
        self.alloc_factor = 0
        self.free_count = 0
        self.expire = 0
        self.free_factor = 0   # Linux 6.1 only
        self.list_base = list_base


class Zone:
    """``struct zone``: identity, sizes, watermarks, counters and free-area bookkeeping.

    ``nr_free_pages`` is the exact NR_FREE_PAGES; ``vm_nr_free_pages`` is the folded
    global counter that ``zone_page_state()`` returns (it lags by the per-CPU deltas in
    ``vm_free_diff`` exactly as the kernel's vmstat does).
    """

    __slots__ = (
        "idx", "name", "node", "zone_start_pfn", "spanned_pages", "present_pages",
        "managed_pages", "cma_pages", "_watermark", "watermark_boost", "lowmem_reserve",
        "nr_reserved_highatomic", "nr_free_highatomic", "nr_free", "list_base",
        "nr_free_pages", "vm_nr_free_pages", "vm_free_diff", "stat_threshold",
        "stat_residual",
        "nr_free_pages_blocks", "nr_free_cma_pages", "pcp",
        "pageset_high_min", "pageset_high_max", "pageset_batch",
        "below_high", "boosted_watermark", "reclaim_active", "nr_isolate_pageblock",
        "compact_cached_free_pfn", "compact_cached_migrate_pfn", "compact_considered",
        "compact_defer_shift", "compact_order_failed", "compact_blockskip_flush",
        "numa_hit", "nr_free_pages_blocks_unmapped",
        "compact_init_migrate_pfn", "compact_init_free_pfn",
    )

    def __init__(self, idx: int, name: str, node: int) -> None:
        self.idx = idx
        self.name = name
        self.node = node
        self.zone_start_pfn = 0
        self.spanned_pages = 0
        self.present_pages = 0
        self.managed_pages = 0
        self.cma_pages = 0
        self._watermark = [0, 0, 0, 0]
        self.watermark_boost = 0
        self.lowmem_reserve = [0, 0, 0, 0, 0]
        self.nr_reserved_highatomic = 0
        self.nr_free_highatomic = 0
        self.nr_free = [0] * NR_PAGE_ORDERS
        self.list_base = 0
        self.nr_free_pages = 0
        self.vm_nr_free_pages = 0
        self.vm_free_diff: list[int] = []
        self.stat_threshold = 0
        # the per-CPU deltas as they stood when stat_threshold last changed: the kernel does
        # not fold on set_pgdat_percpu_threshold(), so a delta beyond a lowered threshold is
        # legal only while it is still this untouched residual (any update brings |delta|
        # within the threshold in __mod_zone_page_state())
        self.stat_residual: list[int] = []
        self.nr_free_pages_blocks = 0
        self.nr_free_cma_pages = 0
        self.pcp: list[PerCpuPages] = []
        self.pageset_high_min = 0
        self.pageset_high_max = 0
        self.pageset_batch = 0
        self.below_high = False        # ZONE_BELOW_HIGH
        self.boosted_watermark = False  # ZONE_BOOSTED_WATERMARK
        self.reclaim_active = False    # ZONE_RECLAIM_ACTIVE
        self.nr_isolate_pageblock = 0
        self.compact_cached_free_pfn = 0
        self.compact_cached_migrate_pfn = [0, 0]
        self.compact_considered = 0
        self.compact_defer_shift = 0
        self.compact_order_failed = 0
        self.compact_blockskip_flush = False
        # where __reset_isolation_suitable() last found a source/target block (mm/compaction.c);
        # 0 at boot like the kernel's zeroed struct zone
        self.compact_init_migrate_pfn = 0
        self.compact_init_free_pfn = 0
        self.numa_hit = 0             # zone_statistics(): one node, so hit == local
        self.nr_free_pages_blocks_unmapped = 0   # series v4: NR_FREE_PAGES_BLOCKS_UNMAPPED

    @property
    def zone_end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        """``populated_zone()``: the zone has present pages."""
        return self.present_pages != 0

    def zone_spans_pfn(self, pfn: int) -> bool:
        return self.zone_start_pfn <= pfn < self.zone_start_pfn + self.spanned_pages

    def wmark_pages(self, i: int) -> int:
        """``wmark_pages()``: base watermark plus the current boost."""
        return self._watermark[i] + self.watermark_boost

    def min_wmark_pages(self) -> int:
        return self._watermark[WMARK_MIN] + self.watermark_boost

    def low_wmark_pages(self) -> int:
        return self._watermark[WMARK_LOW] + self.watermark_boost

    def high_wmark_pages(self) -> int:
        return self._watermark[WMARK_HIGH] + self.watermark_boost

    def promo_wmark_pages(self) -> int:
        return self._watermark[WMARK_PROMO] + self.watermark_boost

    def buddy_list(self, order: int, ftidx: int) -> int:
        """List id of ``free_area[order].free_list[ftidx]``."""
        return self.list_base + order * NR_FREETYPE_IDXS + ftidx

    def __repr__(self) -> str:
        return f"<Zone {self.name} {self.zone_start_pfn:#x}-{self.zone_end_pfn:#x}>"


class Mem:
    """Per-PFN arrays, pageblock flags and the linked lists of one machine."""

    __slots__ = ("max_pfn", "pstate", "plist", "pkind", "pb", "pb_zone", "nxt", "prv",
                 "lhead", "ltail", "zones_by_idx")

    def __init__(self, max_pfn: int) -> None:
        self.max_pfn = max_pfn
        self.pstate = bytearray(max_pfn)
        self.plist = array("H", bytes(2 * max_pfn))
        self.pkind = bytearray(max_pfn)
        nblocks = (max_pfn + PAGEBLOCK_NR_PAGES - 1) >> PAGEBLOCK_ORDER
        self.pb = bytearray(nblocks)
        self.pb_zone = bytearray(b"\xff" * nblocks)
        self.nxt: dict[int, int] = {}
        self.prv: dict[int, int] = {}
        self.lhead: list[int] = []
        self.ltail: list[int] = []
        self.zones_by_idx: list[Zone | None] = []

    def new_lists(self, n: int) -> int:
        """Reserve ``n`` consecutive list ids; return the first."""
        base = len(self.lhead)
        if base + n > 0xFFFF:
            raise ValueError("too many free/pcp lists for the 16-bit list ids")
        self.lhead.extend([NIL] * n)
        self.ltail.extend([NIL] * n)
        return base

    # --- list primitives (include/linux/list.h) --------------------------------------
    def list_add(self, lid: int, pfn: int) -> None:
        """``list_add()``: insert at the head."""
        h = self.lhead[lid]
        self.nxt[pfn] = h
        self.prv[pfn] = NIL
        if h != NIL:
            self.prv[h] = pfn
        else:
            self.ltail[lid] = pfn
        self.lhead[lid] = pfn
        self.plist[pfn] = lid

    def list_add_tail(self, lid: int, pfn: int) -> None:
        """``list_add_tail()``: insert at the tail."""
        t = self.ltail[lid]
        self.prv[pfn] = t
        self.nxt[pfn] = NIL
        if t != NIL:
            self.nxt[t] = pfn
        else:
            self.lhead[lid] = pfn
        self.ltail[lid] = pfn
        self.plist[pfn] = lid

    def list_del(self, pfn: int) -> int:
        """``list_del()``; returns the list id the entry was on."""
        lid = self.plist[pfn]
        p = self.prv.pop(pfn)
        n = self.nxt.pop(pfn)
        if p != NIL:
            self.nxt[p] = n
        else:
            self.lhead[lid] = n
        if n != NIL:
            self.prv[n] = p
        else:
            self.ltail[lid] = p
        return lid

    def list_pop_head(self, lid: int) -> int:
        """Remove and return the head of a non-empty list (``list_first_entry`` + ``list_del``)."""
        pfn = self.lhead[lid]
        n = self.nxt.pop(pfn)
        del self.prv[pfn]
        self.lhead[lid] = n
        if n != NIL:
            self.prv[n] = NIL
        else:
            self.ltail[lid] = NIL
        return pfn

    def list_pop_tail(self, lid: int) -> int:
        """Remove and return the tail of a non-empty list (``list_last_entry`` + ``list_del``)."""
        pfn = self.ltail[lid]
        p = self.prv.pop(pfn)
        del self.nxt[pfn]
        self.ltail[lid] = p
        if p != NIL:
            self.nxt[p] = NIL
        else:
            self.lhead[lid] = NIL
        return pfn

    def list_move_tail(self, pfn: int, lid: int) -> None:
        """``list_move_tail()``."""
        self.list_del(pfn)
        self.list_add_tail(lid, pfn)

    def list_move(self, pfn: int, lid: int) -> None:
        """``list_move()``: to the head of ``lid``."""
        self.list_del(pfn)
        self.list_add(lid, pfn)

    def list_entries(self, lid: int) -> list[int]:
        """All PFNs on list ``lid`` from head to tail."""
        out: list[int] = []
        p = self.lhead[lid]
        nxt = self.nxt
        while p != NIL:
            out.append(p)
            p = nxt[p]
        return out

    def list_len(self, lid: int) -> int:
        n = 0
        p = self.lhead[lid]
        nxt = self.nxt
        while p != NIL:
            n += 1
            p = nxt[p]
        return n

    # --- pageblock flags (mm/page_alloc.c get/set_pfnblock_*; Linux 7.2) ----------------
    def get_pfnblock_migratetype(self, pfn: int) -> int:
        """``get_pfnblock_migratetype()``: MIGRATE_ISOLATE if the isolate bit is set."""
        f = self.pb[pfn >> PAGEBLOCK_ORDER]
        return MIGRATE_ISOLATE if f & PB_MIGRATE_ISOLATE else f & PB_MIGRATETYPE_MASK

    def get_pfnblock_freetype(self, pfn: int) -> int:
        """The block's freetype: migratetype (or ISOLATE) plus the freetype flag bits."""
        f = self.pb[pfn >> PAGEBLOCK_ORDER]
        mt = MIGRATE_ISOLATE if f & PB_MIGRATE_ISOLATE else f & PB_MIGRATETYPE_MASK
        return mt | ((f >> PB_FREETYPE_FLAGS_SHIFT) << 3)
