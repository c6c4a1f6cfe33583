"""Reclaim: the LRU scan, the slab shrinkers, direct reclaim and kswapd.

Models mm/vmscan.c of Linux 7.2 (classic LRU, MGLRU off): ``zone_reclaimable_pages()``,
``can_reclaim_anon_pages()``; the reclaim paths are added below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pagealloc.mm.owners import (
    LRU_ACTIVE_ANON,
    LRU_ACTIVE_FILE,
    LRU_INACTIVE_ANON,
    LRU_INACTIVE_FILE,
)

if TYPE_CHECKING:
    from pagealloc.mm.mmzone import Zone
    from pagealloc.mm.page_alloc import PageAllocator


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
