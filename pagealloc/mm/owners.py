"""Owner handles, folio kinds and the LRU lists: what reclaim and migration may do with memory.

Models the folio facts that mm/vmscan.c and mm/migrate.c read (``folio_test_anon()``,
``folio_is_file_lru()``, ``PG_dirty``, ``PG_writeback``, ``PG_referenced``, ``PG_active``,
``PG_lru``), the per-node ``struct lruvec`` with its four evictable lists
(include/linux/mmzone.h ``enum lru_list``; mm/swap.c ``folio_add_lru()``,
``folio_mark_accessed()``, ``folio_activate()``; include/linux/mm_inline.h
``lruvec_add_folio()``/``lruvec_del_folio()``), and the reclaimable slab caches that
``shrink_slab()`` asks to give memory back.  Linux 7.2 without MGLRU (``lru_gen_enabled()``
false, the Debian default build leaves it off at runtime unless enabled).

Every owned allocation gets a *handle*: an integer that stays valid while compaction or
``alloc_contig_range()`` migrates the data to another PFN (the owner follows its page),
and while reclaim swaps it out or evicts it (the handle then has no PFN until
:meth:`Owners.touch` faults it back in).  The layout keeps no object per page frame: three
dicts keyed by handle or head PFN, sized by the number of owned blocks.

Kinds (what the kernel could do with the block):

==================  =====================================================================
``OWN_ANON``        movable anonymous memory (``GFP_HIGHUSER_MOVABLE``): migratable;
                    reclaimable (swap-out) only if the machine has swap
``OWN_FILE``        page cache (``GFP_HIGHUSER_MOVABLE``): migratable; clean pages are
                    dropped by reclaim, dirty ones are written back first
``OWN_SLAB``        a reclaimable slab page (``GFP_KERNEL|__GFP_RECLAIMABLE``, dentries and
                    inodes): not migratable, freed by the shrinkers in proportion
``OWN_UNMOVABLE``   kernel memory (``GFP_KERNEL``): neither migratable nor reclaimable
==================  =====================================================================

Simplifications, and why the allocator still sees the kernel's behaviour: each slab page
holds one object (so a shrinker that frees an object frees its page; real slabs free pages
only when all objects go, which makes the kernel *less* effective than the model at giving
memory back; the order of pages freed is kept); folios enter the LRU at once (the per-CPU
``folio_batch`` of ``folio_add_lru()`` is drained immediately, as ``lru_add_drain()`` does
before every reclaim and compaction pass).
"""

from __future__ import annotations

from collections import OrderedDict

from pagealloc.mm import gfp as G

NIL = -1

OWN_ANON = 1
OWN_FILE = 2
OWN_SLAB = 3
OWN_UNMOVABLE = 4
OWN_KIND_MASK = 0x7
KIND_NAMES = {"anon": OWN_ANON, "file": OWN_FILE, "slab": OWN_SLAB, "unmovable": OWN_UNMOVABLE}

ORDER_SHIFT = 3
ORDER_FIELD = 0xF << ORDER_SHIFT
F_REFERENCED = 1 << 7      # PG_referenced
F_ACTIVE = 1 << 8          # PG_active
F_DIRTY = 1 << 9           # PG_dirty
F_WRITEBACK = 1 << 10      # PG_writeback
F_LRU = 1 << 11            # PG_lru: on an LRU (or slab) list
F_SWAPPED = 1 << 12        # anon data in swap: not resident
F_EVICTED = 1 << 13        # page cache dropped: not resident (a refault reads it again)
F_RECLAIM = 1 << 14        # PG_reclaim: rotate to the tail when writeback ends

# enum lru_list
LRU_INACTIVE_ANON = 0
LRU_ACTIVE_ANON = 1
LRU_INACTIVE_FILE = 2
LRU_ACTIVE_FILE = 3
LRU_SLAB = 4               # not a kernel LRU: the reclaimable slab caches' objects in age order
NR_LRU_LISTS = 5
LRU_NAMES = ("inactive_anon", "active_anon", "inactive_file", "active_file", "slab")

#: the GFP mask each kind allocates with by default (include/linux/gfp_types.h)
DEFAULT_GFP = {
    OWN_ANON: G.GFP_HIGHUSER_MOVABLE,
    OWN_FILE: G.GFP_HIGHUSER_MOVABLE,
    OWN_SLAB: G.GFP_KERNEL | G.__GFP_RECLAIMABLE,
    OWN_UNMOVABLE: G.GFP_KERNEL,
}


class OwnerError(ValueError):
    """A request names a handle that does not exist or is in the wrong state."""


def folio_lru_list(info: int) -> int:
    """``folio_lru_list()``: which list a folio with these flags belongs on (-1: none)."""
    kind = info & OWN_KIND_MASK
    if kind == OWN_ANON:
        return LRU_ACTIVE_ANON if info & F_ACTIVE else LRU_INACTIVE_ANON
    if kind == OWN_FILE:
        return LRU_ACTIVE_FILE if info & F_ACTIVE else LRU_INACTIVE_FILE
    if kind == OWN_SLAB:
        return LRU_SLAB
    return NIL


class Owners:
    """Owned blocks: handle -> head PFN and flags, head PFN -> handle, and the LRU lists.

    Each list is an ``OrderedDict`` of handles whose *end* is the kernel list's head
    (``list_add()`` of ``lruvec_add_folio()``) and whose *start* is its tail, where
    ``isolate_lru_folios()`` takes folios from (``lru_to_folio()``): O(1) add, delete and
    pop.  ``nr_pages[lru][zid]`` mirrors ``NR_ZONE_INACTIVE_ANON`` etc. per zone.
    """

    def __init__(self, nr_zones: int, swap_pages: int = 0) -> None:
        self.swap_pages = swap_pages          # total swap space (pages)
        self.h_pfn: dict[int, int] = {}
        self.h_info: dict[int, int] = {}
        self.h_zid: dict[int, int] = {}
        self.pfn_h: dict[int, int] = {}
        self.next_handle = 1
        self.lru: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(NR_LRU_LISTS)]
        self.nr_pages: list[list[int]] = [[0] * nr_zones for _ in range(NR_LRU_LISTS)]
        self.nr_isolated = 0
        self.nr_swapped_pages = 0

    def get_nr_swap_pages(self) -> int:
        """``get_nr_swap_pages()``: free swap slots."""
        return self.swap_pages - self.nr_swapped_pages

    # --- handles --------------------------------------------------------------------
    def new(self, pfn: int, order: int, kind: int, zid: int, flags: int = 0) -> int:
        """Record a new owned block at ``pfn``; put it on its LRU (``folio_add_lru()``)."""
        h = self.next_handle
        self.next_handle = h + 1
        self.h_pfn[h] = pfn
        self.h_info[h] = kind | (order << ORDER_SHIFT) | flags
        self.h_zid[h] = zid
        self.pfn_h[pfn] = h
        self.lruvec_add_folio(h)
        return h

    def info(self, h: int) -> int:
        try:
            return self.h_info[h]
        except KeyError:
            raise OwnerError(f"no owner handle {h}") from None

    def kind(self, h: int) -> int:
        return self.h_info[h] & OWN_KIND_MASK

    def forget(self, h: int) -> None:
        """The owner frees its memory (``munmap``, truncate, ``kmem_cache_free``)."""
        if self.h_info[h] & F_LRU:
            self.lruvec_del_folio(h)
        pfn = self.h_pfn.pop(h)
        info = self.h_info.pop(h)
        del self.h_zid[h]
        if pfn != NIL:
            del self.pfn_h[pfn]
        if info & F_SWAPPED:
            self.nr_swapped_pages -= 1 << ((info & ORDER_FIELD) >> ORDER_SHIFT)

    def move(self, h: int, new_pfn: int, zid: int) -> None:
        """The data of ``h`` now lives at ``new_pfn`` (migration, or a fault back in)."""
        old = self.h_pfn[h]
        if old != NIL:
            del self.pfn_h[old]
        self.h_pfn[h] = new_pfn
        self.h_zid[h] = zid
        if new_pfn != NIL:
            self.pfn_h[new_pfn] = h

    # --- LRU (mm/swap.c, include/linux/mm_inline.h) ------------------------------------
    def lruvec_add_folio(self, h: int) -> None:
        """``lruvec_add_folio()``: to the head of the folio's list, PG_lru set."""
        info = self.h_info[h]
        lru = folio_lru_list(info)
        if lru == NIL:
            return
        self.lru[lru][h] = None
        self.nr_pages[lru][self.h_zid[h]] += 1 << ((info & ORDER_FIELD) >> ORDER_SHIFT)
        self.h_info[h] = info | F_LRU

    def lruvec_add_folio_tail(self, h: int) -> None:
        """``lruvec_add_folio_tail()``: to the tail (``folio_rotate_reclaimable()``)."""
        self.lruvec_add_folio(h)
        lru = folio_lru_list(self.h_info[h])
        self.lru[lru].move_to_end(h, last=False)

    def lruvec_del_folio(self, h: int) -> None:
        """``lruvec_del_folio()``: off its list, PG_lru cleared."""
        info = self.h_info[h]
        lru = folio_lru_list(info)
        del self.lru[lru][h]
        self.nr_pages[lru][self.h_zid[h]] -= 1 << ((info & ORDER_FIELD) >> ORDER_SHIFT)
        self.h_info[h] = info & ~F_LRU

    def folio_isolate_lru(self, h: int) -> bool:
        """``folio_isolate_lru()``: take a folio off the LRU for migration (False if not on)."""
        if not self.h_info[h] & F_LRU:
            return False
        self.lruvec_del_folio(h)
        self.nr_isolated += 1
        return True

    def folio_putback_lru(self, h: int) -> None:
        """``folio_putback_lru()``: an isolated folio goes back to its list's head."""
        self.nr_isolated -= 1
        self.lruvec_add_folio(h)

    def folio_mark_accessed(self, h: int) -> bool:
        """``folio_mark_accessed()`` (mm/swap.c, 7.2 without MGLRU): the first access sets
        PG_referenced, the second activates an inactive folio; True if it was activated."""
        info = self.h_info[h]
        if not info & F_REFERENCED:
            self.h_info[h] = info | F_REFERENCED
            return False
        if info & F_ACTIVE or folio_lru_list(info) in (NIL, LRU_SLAB):
            return False
        self.folio_activate(h)
        self.h_info[h] &= ~F_REFERENCED
        return True

    def folio_activate(self, h: int) -> None:
        """``folio_activate()``: move an inactive LRU folio to the head of the active list."""
        on_lru = bool(self.h_info[h] & F_LRU)
        if on_lru:
            self.lruvec_del_folio(h)
        self.h_info[h] |= F_ACTIVE
        if on_lru:
            self.lruvec_add_folio(h)

    def set_flags(self, h: int, set_bits: int = 0, clear_bits: int = 0) -> None:
        """Change page flags of ``h`` that do not move it between lists."""
        self.h_info[h] = (self.h_info[h] | set_bits) & ~clear_bits

    def stat_items(self) -> dict[str, int]:
        """The node/zone vmstat items of owned memory, by /proc/vmstat name: the LRU sizes
        (``nr_zone_*`` and ``nr_*``), ``nr_slab_reclaimable`` (resident reclaimable slab
        pages), ``nr_anon_pages``, ``nr_file_pages``, ``nr_dirty``, ``nr_writeback``,
        ``nr_isolated_anon``/``_file`` and the swap in use (``nr_swap_used``, not a
        vmstat item: ``SwapTotal - SwapFree`` of /proc/meminfo)."""
        out: dict[str, int] = {}
        for lru, name in enumerate(LRU_NAMES[:4]):
            n = self.lru_pages(lru)
            out["nr_zone_" + name] = n
            out["nr_" + name] = n
        anon = file = slab = dirty = wb = iso_anon = iso_file = 0
        for h, info in self.h_info.items():
            if self.h_pfn[h] == NIL:
                continue
            n = 1 << ((info & ORDER_FIELD) >> ORDER_SHIFT)
            kind = info & OWN_KIND_MASK
            if kind == OWN_ANON:
                anon += n
                if not info & F_LRU:
                    iso_anon += n
            elif kind == OWN_FILE:
                file += n
                if info & F_DIRTY:
                    dirty += n
                if info & F_WRITEBACK:
                    wb += n
                if not info & F_LRU:
                    iso_file += n
            elif kind == OWN_SLAB:
                slab += n
        out.update(nr_anon_pages=anon, nr_file_pages=file, nr_slab_reclaimable=slab,
                   nr_dirty=dirty, nr_writeback=wb, nr_isolated_anon=iso_anon,
                   nr_isolated_file=iso_file, nr_swap_used=self.nr_swapped_pages)
        return out

    def lru_pages(self, lru: int) -> int:
        return sum(self.nr_pages[lru])

    def zone_lru_pages(self, zid: int, lru: int) -> int:
        """``zone_page_state(zone, NR_ZONE_LRU_BASE + lru)``."""
        return self.nr_pages[lru][zid]
