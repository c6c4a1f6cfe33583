"""The 2023 design: ``unmapped_alloc()``, a cache of unmapped pages beside the buddy allocator.

Models Mike Rapoport's RFC "mm: introduce __GFP_UNMAPPED and unmapped_alloc()" (March 2023,
patch 2/5, ``mm/unmapped-alloc.c``; shared/spec/series.md 4.1) for side-by-side comparison
with the freetype flips of the 2026 series:

* the cache is its own small buddy allocator (one free list per order, merging on free,
  ``expand()`` on allocation) holding pages that have left the direct map;
* ``unmapped_pages_alloc(gfp, order)`` takes from the cache, else refills it with one block
  from the page allocator, preferring PMD order (``cache_order`` from ``PMD_ORDER`` down to
  ``order``, ``gfp & ~__GFP_UNMAPPED | __GFP_ZERO``), removes it from the direct map, flushes
  the TLB and adds it to the cache (marking its pageblock unmapped);
* freeing a page whose pageblock is marked unmapped returns it to the cache
  (``unmapped_pages_free()``); the cache never gives memory back to the buddy allocator
  (the shrinker came in a later patch).

As posted, the refill removes only the *requested* ``1 << order`` pages from the direct map
(``set_direct_map_invalid_noflush()`` per page, then a flush of that range) although the
whole ``cache_order`` block enters the cache; ``unmap_whole_block=True`` is the obvious fix.
The security counters show what the posted version hands out.

The RFC marks the *pageblock* unmapped; when a refill falls back below ``pageblock_order``
the other pages of that pageblock still belong to the buddy allocator, yet their frees are
routed into the cache too (``owns()`` models that as posted), where they are handed out as
"unmapped" while still in the direct map; ``unmapped_present_in_direct_map`` counts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pagealloc.mm import gfp as G
from pagealloc.mm.mmzone import NIL, NR_PAGE_ORDERS, PAGEBLOCK_ORDER

if TYPE_CHECKING:
    from pagealloc.machine import Machine

PMD_ORDER = 9
_GFP_UNMAPPED = G.__GFP_UNMAPPED
_GFP_ZERO = G.__GFP_ZERO


class UnmappedCache:
    """``struct unmapped_free_area free_area[MAX_ORDER]`` and its operations."""

    def __init__(self, m: "Machine", unmap_whole_block: bool = False) -> None:
        self.m = m
        self.unmap_whole_block = unmap_whole_block
        self.list_base = m.mem.new_lists(NR_PAGE_ORDERS)
        self.free_order: dict[int, int] = {}      # cache-free head -> order (PageUnmapped)
        self.nr_free = [0] * NR_PAGE_ORDERS
        self.nr_cached = [0] * NR_PAGE_ORDERS
        self.blocks: set[int] = set()             # heads of blocks taken from the buddy
        self.pageblocks: set[int] = set()         # PB_unmapped of the RFC
        self.stats: dict[str, int] = {"refills": 0, "refill_pages": 0, "cache_hits": 0,
                                      "allocs": 0, "frees": 0, "alloc_failures": 0}

    # --- the cache's own buddy allocator --------------------------------------------------
    def _add(self, pfn: int, order: int) -> None:
        self.m.mem.list_add(self.list_base + order, pfn)
        self.free_order[pfn] = order
        self.nr_free[order] += 1

    def _del(self, pfn: int, order: int) -> None:
        self.m.mem.list_del(pfn)
        del self.free_order[pfn]
        self.nr_free[order] -= 1

    def free_one_page(self, pfn: int, order: int, cache_refill: bool) -> None:
        """``__free_one_page()`` of the cache: merge with free cache buddies up to MAX."""
        if cache_refill:
            self.nr_cached[order] += 1
        while order < NR_PAGE_ORDERS - 1:
            buddy = pfn ^ (1 << order)
            if self.free_order.get(buddy) != order:
                break
            self._del(buddy, order)
            pfn &= buddy
            order += 1
        self._add(pfn, order)

    def rmqueue_smallest(self, order: int) -> int:
        """``__rmqueue_smallest()`` of the cache: smallest order, list head, ``expand()``."""
        lhead = self.m.mem.lhead
        for current in range(order, NR_PAGE_ORDERS):
            pfn = lhead[self.list_base + current]
            if pfn == NIL:
                continue
            self._del(pfn, current)
            high = current
            size = 1 << high
            while high > order:
                high -= 1
                size >>= 1
                self._add(pfn + size, high)
            return pfn
        return NIL

    # --- the API ----------------------------------------------------------------------------
    def unmapped_pages_alloc(self, gfp: int, order: int, cpu: int) -> int:
        """``unmapped_pages_alloc()``: from the cache, else refill it from the buddy."""
        m = self.m
        alloc = m.alloc
        page = self.rmqueue_smallest(order)
        if page != NIL:
            self.stats["cache_hits"] += 1
        else:
            g = (gfp & ~_GFP_UNMAPPED) | _GFP_ZERO
            cache_order = PMD_ORDER
            block = NIL
            contents = m.contents
            owner = contents.next_owner if contents is not None else 0
            if contents is not None:
                contents.next_owner = 1            # the refill block is the kernel's for now
            while cache_order >= order:
                block = alloc.alloc_pages(g, cache_order, cpu)
                if block != NIL:
                    break
                cache_order -= 1
            if contents is not None:
                contents.next_owner = owner
            if block == NIL:
                self.stats["alloc_failures"] += 1
                return NIL
            self.blocks.add(block)
            nr = 1 << (cache_order if self.unmap_whole_block else order)
            if self.unmap_whole_block:
                m.directmap.set_direct_map_valid_noflush(block, nr, False)
            else:
                for i in range(nr):            # set_direct_map_invalid_noflush() per page
                    m.directmap.set_direct_map_valid_noflush(block + i, 1, False)
            m.tlb.unmap(block, nr)
            m.tlb.flush_tlb_kernel_range(block, block + nr, cpu)
            # set_pageblock_unmapped(page) (the RFC's own pageblock bit, not a freetype):
            # frees into this pageblock come back to the cache
            self.pageblocks.add(block >> PAGEBLOCK_ORDER)
            self.stats["refills"] += 1
            self.stats["refill_pages"] += 1 << cache_order
            self.free_one_page(block, cache_order, True)
            page = self.rmqueue_smallest(order)
        self.stats["allocs"] += 1
        if m.contents is not None:
            m.contents.on_alloc(page, order, gfp, 0, True)
        return page

    def unmapped_pages_free(self, pfn: int, order: int) -> None:
        """``unmapped_pages_free()``: back into the cache (never to the buddy allocator)."""
        self.stats["frees"] += 1
        self.free_one_page(pfn, order, False)

    def owns(self, pfn: int) -> bool:
        """``get_pageblock_unmapped()``: the page's pageblock was given to the cache."""
        return (pfn >> PAGEBLOCK_ORDER) in self.pageblocks

    def cached_pages(self) -> int:
        return sum(n << o for o, n in enumerate(self.nr_free))
