"""Rule-by-rule tests of pagealloc.mm.page_alloc against Linux 7.2's mm/page_alloc.c.

Every test pins one rule of the kernel to a worked example whose expected values were
derived by hand from the 7.2 source (/root/.cache/pagealloc/linux-7.2); each docstring
names the kernel function and its line in 7.2's mm/page_alloc.c (``pa.c:NNNN`` below).
States are built either by booting a small machine and allocating/freeing, or directly
through the allocator's primitives (:func:`empty_zone` + :func:`free_chunk`), which is the
same as the kernel reaching that state by any allocation history.

Machines used:

* ``Machine(memory="64M", cpus=1)``: DMA (managed 3840) + DMA32.  At boot the DMA free
  lists are MOVABLE o8 [0x100], o9 [0x200], o10 [0x400, 0x800, 0xc00] (memblock frees
  0x100-0xfff ascending in maximal aligned chunks, FPI_TO_TAIL).
* :func:`flat`: RAM 0x1000-0x11000 (256 MiB), nothing reserved, DMA32 only: 64 order-10
  MOVABLE blocks; vm.min_free_kbytes set to 12952 so the numbers do not depend on the
  boot-time min_free_kbytes rules (tested in tests/test_machine.py).
  min/low/high 3238/4047/4856 (step max(3238 / 4, 65) = 809), batch 15 (managed 65536 >> 12 = 16,
  rounddown_pow_of_two(24) - 1), high_min 4047 (low / 1 CPU), high_max 8192
  (managed / 8), PCPF_FREE_HIGH_BATCH set (1 MiB slice = 256 pages > 3 * 15).
"""
from __future__ import annotations

import pytest

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import (
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    NR_FREETYPE_IDXS,
)
from pagealloc.mm.mmzone import (
    KIND_COMPOUND,
    KIND_MOVABLE,
    NR_PAGE_ORDERS,
    PCPF_FREE_HIGH_BATCH,
    PCPF_PREV_FREE_HIGH_ORDER,
    PS_ALLOC,
    PS_BUDDY,
    PS_PCP,
    PerCpuPages,
)
from pagealloc.mm.page_alloc import (
    FPI_NONE,
    FPI_TO_TAIL,
    NIL,
    RMQUEUE_NORMAL,
    AllocContext,
)

U, M, R, H = MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_HIGHATOMIC
GFP_KERNEL = G.GFP_KERNEL
GFP_MOVABLE = G.GFP_HIGHUSER_MOVABLE


# ---------------------------------------------------------------------- helpers
def flat(cpus: int = 1, **kw) -> Machine:
    """DMA32-only machine, RAM 0x1000-0x11000, no reservations (64 order-10 blocks),
    vm.min_free_kbytes = 12952 (pages_min 3238)."""
    kw.setdefault("min_free_kbytes", 12952)
    return Machine(ram_ranges=[(0x1000, 0x11000)], reserved=[], cpus=cpus, **kw)


def lst(m: Machine, z, order: int, mt: int) -> list[int]:
    """free_area[order].free_list[mt] from head to tail."""
    return m.mem.list_entries(z.buddy_list(order, mt))


def pcpl(m: Machine, z, pindex: int, cpu: int = 0) -> list[int]:
    """pcp->lists[pindex] from head to tail."""
    return m.mem.list_entries(z.pcp[cpu].list_base + pindex)


def record(m: Machine) -> list[tuple[str, tuple[int, ...]]]:
    ev: list[tuple[str, tuple[int, ...]]] = []
    m.attach(lambda name, cpu, args: ev.append((name, args)))
    return ev


def named(ev, name: str) -> list[tuple[int, ...]]:
    return [args for n, args in ev if n == name]


def empty_zone(m: Machine, z, movable: bool = True) -> None:
    """Allocate every free page of ``z`` as an order-0 page (state builder).

    ``movable`` sets PageLRU on all of them (what prep_move_freepages_block counts).
    """
    m.drain_all_pages()
    a, mem = m.alloc, m.mem
    kind = (MIGRATE_MOVABLE | KIND_MOVABLE) if movable else MIGRATE_UNMOVABLE
    for order in range(NR_PAGE_ORDERS):
        for ft in range(NR_FREETYPE_IDXS):
            for pfn in mem.list_entries(z.buddy_list(order, ft)):
                a.del_page_from_free_list(pfn, z, order, ft)
                for p in range(pfn, pfn + (1 << order)):
                    mem.pstate[p] = PS_ALLOC
                    mem.pkind[p] = kind
    assert z.nr_free_pages == 0


def free_chunk(m: Machine, pfn: int, order: int, fpi: int = FPI_NONE) -> None:
    """Free 2**order allocated order-0 pages at ``pfn`` as one block via __free_pages_ok()."""
    mem = m.mem
    for p in range(pfn, pfn + (1 << order)):
        assert mem.pstate[p] == PS_ALLOC, hex(p)
        mem.pstate[p] = 0
        mem.pkind[p] = 0
    mem.pstate[pfn] = PS_ALLOC | order
    m.alloc._free_pages_ok(pfn, order, fpi)


def set_kind(m: Machine, start: int, n: int, movable: bool) -> None:
    for p in range(start, start + n):
        m.mem.pkind[p] = (MIGRATE_MOVABLE | KIND_MOVABLE) if movable else MIGRATE_UNMOVABLE


def as_block(m: Machine, pfn: int, order: int) -> None:
    """Turn 2**order allocated order-0 pages into one allocated order-``order`` block."""
    mem = m.mem
    for p in range(pfn, pfn + (1 << order)):
        assert mem.pstate[p] == PS_ALLOC, hex(p)
        mem.pstate[p] = 0
    mem.pstate[pfn] = PS_ALLOC | order


def set_block(m: Machine, z, pfn: int, mt: int) -> None:
    """set_pageblock_migratetype() plus the zone counter the kernel keeps with it
    (nr_reserved_highatomic for HIGHATOMIC, nr_isolate_pageblock for ISOLATE)."""
    m.alloc.set_pageblock_migratetype(pfn, mt)
    if mt == H:
        z.nr_reserved_highatomic += 512
    elif mt == MIGRATE_ISOLATE:
        z.nr_isolate_pageblock += 1


def rmqueue_direct(m: Machine, z, order: int, mt: int, alloc_flags: int = 0) -> int:
    """__rmqueue() with a fresh RMQUEUE_NORMAL mode, as rmqueue_buddy() calls it."""
    a = m.alloc
    a.rmqm = RMQUEUE_NORMAL
    return a._rmqueue(z, order, mt, alloc_flags)


# ====================================================================== expand / smallest
def test_expand_pushes_upper_halves_to_list_heads_and_keeps_lowest():
    """expand() (pa.c:1702) via page_del_and_expand() (pa.c:1730).

    Splitting DMA's order-10 head 0x400 down to order 0 puts the upper half of each
    split, 0x600 (o9), 0x500 (o8), ... 0x401 (o0), at the HEAD of its list
    (``__add_to_free_list(..., tail=false)``), in front of the boot blocks 0x200 (o9)
    and 0x100 (o8); the page handed back is 0x400, the lowest.  Only the 1 page that
    leaves the lists is taken out of NR_FREE_PAGES.
    """
    m = Machine(memory="64M", cpus=1)
    z, a = m.zone("DMA"), m.alloc
    assert lst(m, z, 10, M) == [0x400, 0x800, 0xC00]
    free0 = z.nr_free_pages
    a.page_del_and_expand(z, 0x400, 0, 10, M)
    assert lst(m, z, 10, M) == [0x800, 0xC00]
    assert lst(m, z, 9, M) == [0x600, 0x200]
    assert lst(m, z, 8, M) == [0x500, 0x100]
    for order in range(7, -1, -1):
        assert lst(m, z, order, M) == [0x400 + (1 << order)]
        assert m.mem.pstate[0x400 + (1 << order)] == PS_BUDDY | order
    assert z.nr_free_pages == free0 - 1
    assert [z.nr_free[o] for o in range(11)] == [1] * 8 + [2, 2, 2]
    a.post_alloc_hook(0x400, 0, 0, U)
    m.check()


def test_rmqueue_smallest_takes_smallest_order_then_list_head():
    """__rmqueue_smallest() (pa.c:1889): the smallest order with a block of exactly
    this type, the head of that list; no fallback to other types.

    Fresh DMA: order 0 comes from the order-8 block 0x100 (not an order-10 block);
    order 9 from 0x200; order 10 from the list head 0x400, then 0x800.  UNMOVABLE has
    no free blocks, so it returns NULL.  mm_page_alloc_zone_locked reports
    percpu_refill = pcp_allowed_order(order) && migratetype < MIGRATE_PCPTYPES.
    """
    m = Machine(memory="64M", cpus=1)
    z, a = m.zone("DMA"), m.alloc
    ev = record(m)
    assert a.rmqueue_smallest(z, 0, U) == NIL
    assert a.rmqueue_smallest(z, 0, M) == 0x100
    assert a.rmqueue_smallest(z, 9, M) == 0x200
    assert a.rmqueue_smallest(z, 10, M) == 0x400
    assert a.rmqueue_smallest(z, 10, M) == 0x800
    assert a.rmqueue_smallest(z, 4, M) == 0x110   # o4 half pushed by the first split
    assert named(ev, "mm_page_alloc_zone_locked") == [
        (0x100, 0, M, 1), (0x200, 9, M, 1), (0x400, 10, M, 0), (0x800, 10, M, 0),
        (0x110, 4, M, 0)]


def test_repeated_order0_takes_ascending_pfns_from_a_split_block():
    """__rmqueue_smallest() + expand() (pa.c:1889, 1702): after splitting 0x100 (o8)
    the next order-0 requests get 0x101, 0x102, 0x103, ... (each time the lowest
    page of the smallest free block, whose upper halves went to the list heads)."""
    m = Machine(memory="64M", cpus=1)
    z, a = m.zone("DMA"), m.alloc
    got = [a.rmqueue_smallest(z, 0, M) for _ in range(40)]
    assert got == list(range(0x100, 0x100 + 40))


# ====================================================================== pcp refill / alloc
def test_rmqueue_bulk_appends_ascending_at_tail_and_allocation_pops_head():
    """rmqueue_bulk() (pa.c:2523) list_add_tail()s each page; __rmqueue_pcplist()
    (pa.c:3316) takes list_first_entry().

    flat machine, first GFP_KERNEL order-0 request: no UNMOVABLE free page, so the
    claim takes the MOVABLE o10 head 0x1000 whole (pageblocks 0x1000, 0x1200 become
    UNMOVABLE), then 14 more __rmqueue_smallest() calls; batch = nr_pcp_alloc() = 15.
    The list is 0x1000..0x100e ascending; the caller gets 0x1000 and 0x1001..0x100e
    stay, head first.  pcp->count = 14, alloc_factor 1, high = 4047 + 15.
    """
    m = flat()
    z = m.zone("DMA32")
    pcp = z.pcp[0]
    ev = record(m)
    assert m.alloc_pages(GFP_KERNEL, 0) == 0x1000
    assert pcpl(m, z, 0) == list(range(0x1001, 0x100F))
    assert all(m.mem.pstate[p] == PS_PCP for p in range(0x1001, 0x100F))
    assert (pcp.count, pcp.alloc_factor, pcp.high) == (14, 1, 4062)
    assert m.pageblock_migratetype(0x1000) == U and m.pageblock_migratetype(0x1200) == U
    assert named(ev, "mm_page_alloc_extfrag") == [(0x1000, 0, 10, U, M, 1)]
    assert [a[0] for a in named(ev, "mm_page_alloc_zone_locked")] == list(range(0x1001, 0x100F))
    assert named(ev, "mm_page_alloc")[-1] == (0x1000, 0, U, GFP_KERNEL)
    # the next 14 requests pop the head; the 16th refills with batch 30 (alloc_factor 1)
    assert [m.alloc_pages(GFP_KERNEL, 0) for _ in range(14)] == list(range(0x1001, 0x100F))
    assert pcp.count == 0
    assert m.alloc_pages(GFP_KERNEL, 0) == 0x100F
    assert pcpl(m, z, 0) == list(range(0x1010, 0x102D))
    assert (pcp.count, pcp.alloc_factor, pcp.high) == (29, 2, 4092)
    m.check()


@pytest.mark.parametrize("gfp,order,pindex,expected_list", [
    (GFP_KERNEL, 1, 3, [0x1002, 0x1004, 0x1006, 0x1008, 0x100A, 0x100C]),   # batch 15 >> 1 = 7
    (GFP_KERNEL | G.__GFP_RECLAIMABLE, 3, 11, [0x1008]),                  # max(15 >> 3, 2) = 2
    (G.GFP_TRANSHUGE_LIGHT, 9, 13, [0x1200]),                              # THP list, 2 pages
])
def test_rmqueue_bulk_high_order_refill(gfp, order, pindex, expected_list):
    """rmqueue_bulk() (pa.c:2523) with nr_pcp_alloc()'s high-order batch (pa.c:3264):
    the refill fills pcp->lists[order_to_pindex(mt, order)] (pa.c:651) with ascending
    blocks from the first o10 block 0x1000 and the caller gets 0x1000."""
    m = flat()
    z = m.zone("DMA32")
    assert m.alloc_pages(gfp, order) == 0x1000
    assert pcpl(m, z, pindex) == expected_list
    assert z.pcp[0].count == len(expected_list) << order
    m.check()


def test_nr_pcp_alloc_order0_growth_and_cap():
    """nr_pcp_alloc() (pa.c:3264), order 0: batch << alloc_factor, alloc_factor grows
    while batch <= max_nr_alloc and stops at CONFIG_PCP_BATCH_SCALE_MAX (5); high grows
    by batch up to high_max unless ZONE_BELOW_HIGH.

    flat machine (batch 15, high_min 4047, high_max 8192, count 0):
      refill 1..6: 15, 30, 60, 120, 240, 480 (alloc_factor 1..5), high 4062 ... 4992;
      refill 7: 480 again (alloc_factor stays 5), high 5472.
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    pcp = z.pcp[0]
    got = []
    for _ in range(8):
        got.append((a.nr_pcp_alloc(pcp, z, 0), pcp.alloc_factor, pcp.high))
    assert got == [(15, 1, 4062), (30, 2, 4092), (60, 3, 4152), (120, 4, 4272),
                   (240, 5, 4512), (480, 5, 4992), (480, 5, 5472), (480, 5, 5952)]


def test_nr_pcp_alloc_limited_by_max_nr_alloc():
    """nr_pcp_alloc() (pa.c:3264): max_nr_alloc = max(high - count - batch, batch);
    batch = min(batch, max_nr_alloc) and alloc_factor only grows if batch fitted.

    high_min = high_max = 100 (no growth), count 90, batch 15, alloc_factor 3: batch
    would be 120 but max_nr_alloc = max(100 - 90 - 15, 15) = 15 -> 15, alloc_factor
    stays 3.  With count 0: max_nr_alloc = 85, 120 > 85 -> 85, alloc_factor stays 3.
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    pcp = PerCpuPages(0, z.pcp[0].list_base)
    pcp.batch, pcp.high_min, pcp.high_max, pcp.alloc_factor = 15, 100, 100, 3
    pcp.count = 90
    assert a.nr_pcp_alloc(pcp, z, 0) == 15
    assert (pcp.alloc_factor, pcp.high) == (3, 100)
    pcp.count = 0
    assert a.nr_pcp_alloc(pcp, z, 0) == 85
    assert pcp.alloc_factor == 3
    pcp.alloc_factor = 2          # 60 <= 85: grows
    assert a.nr_pcp_alloc(pcp, z, 0) == 60
    assert pcp.alloc_factor == 3


@pytest.mark.parametrize("order,expected", [(1, 7), (2, 3), (3, 2), (9, 2)])
def test_nr_pcp_alloc_high_orders(order, expected):
    """nr_pcp_alloc() (pa.c:3264), order > 0: base batch (no alloc_factor scaling,
    alloc_factor untouched), then ``max(batch >> order, 2)``: 15 -> 7, 3, 2, 2 (THP)."""
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    pcp = z.pcp[0]
    pcp.alloc_factor = 3
    assert a.nr_pcp_alloc(pcp, z, order) == expected
    assert pcp.alloc_factor == 3
    assert pcp.high == 4047 + 15          # high still grows by base batch


def test_nr_pcp_alloc_boot_pageset_and_batch1_and_below_high():
    """nr_pcp_alloc() (pa.c:3264): high < batch (boot pageset: high 0, batch 1) -> 1;
    batch 1 (small zone) is never scaled by order (``if (batch > 1)``); under
    ZONE_BELOW_HIGH pcp->high does not grow."""
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    boot = PerCpuPages(0, z.pcp[0].list_base)       # per_cpu_pages_init(): 0/0/1
    assert a.nr_pcp_alloc(boot, z, 0) == 1
    assert boot.alloc_factor == 0
    small = PerCpuPages(0, z.pcp[0].list_base)
    small.batch, small.high_min, small.high_max = 1, 52, 480   # the real DMA zone
    assert a.nr_pcp_alloc(small, z, 3) == 1
    assert small.high == 53
    assert [a.nr_pcp_alloc(small, z, 0) for _ in range(3)] == [1, 2, 4]
    pcp = z.pcp[0]
    z.below_high = True
    assert a.nr_pcp_alloc(pcp, z, 0) == 15
    assert pcp.high == 4047


def test_pcp_free_is_lifo():
    """free_frozen_page_commit() (pa.c:2832) list_add()s to the pcp list head and
    __rmqueue_pcplist() pops the head: last freed, first reallocated.  A free halves
    alloc_factor and adds 1 << order to free_count; an allocation halves free_count."""
    m = flat()
    z = m.zone("DMA32")
    pcp = z.pcp[0]
    pages = [m.alloc_pages(GFP_MOVABLE, 0) for _ in range(3)]
    assert pages == [0x1000, 0x1001, 0x1002]
    assert pcp.alloc_factor == 1
    for p in pages:
        m.free_pages(p, 0)
    assert pcpl(m, z, 1)[:4] == [0x1002, 0x1001, 0x1000, 0x1003]
    assert (pcp.alloc_factor, pcp.free_count) == (0, 3)
    assert [m.alloc_pages(GFP_MOVABLE, 0) for _ in range(4)] == [0x1002, 0x1001, 0x1000, 0x1003]
    assert pcp.free_count == 0         # 3 >> 1 >> 1 >> 1 >> 1
    m.check()


# ====================================================================== pcp freeing
def _pcp_lists_state(m: Machine):
    """flat machine, zone emptied; pcp lists of cpu 0 built by freeing:

    pindex 0 (o0 UNMOVABLE):   [0x1202, 0x1201, 0x1200]   (freed 0x1200, 0x1201, 0x1202)
    pindex 1 (o0 MOVABLE):     [0x1001, 0x1000]
    pindex 3 (o1 UNMOVABLE):   [0x1210]
    pindex 8 (o2 RECLAIMABLE): [0x1400]
    pindex 13 (THP MOVABLE):   [0x1600]
    """
    z, a = m.zone("DMA32"), m.alloc
    empty_zone(m, z)
    a.set_pageblock_migratetype(0x1200, U)
    a.set_pageblock_migratetype(0x1400, R)
    for p in (0x1200, 0x1201, 0x1202, 0x1000, 0x1001):
        m.free_pages(p, 0)
    for pfn, order in ((0x1210, 1), (0x1400, 2), (0x1600, 9)):
        as_block(m, pfn, order)
        m.free_pages(pfn, order)
    pcp = z.pcp[0]
    assert pcp.count == 3 + 2 + 2 + 4 + 512
    assert pcpl(m, z, 0) == [0x1202, 0x1201, 0x1200]
    assert pcpl(m, z, 1) == [0x1001, 0x1000]
    assert pcpl(m, z, 3) == [0x1210]
    assert pcpl(m, z, 8) == [0x1400]
    assert pcpl(m, z, 13) == [0x1600]
    return z, pcp


def test_free_pcppages_bulk_starts_at_pindex_list_by_list_from_tail():
    """free_pcppages_bulk() (pa.c:1459): start at the requested pindex; empty each list
    from its tail (list_last_entry) while count > 0; then the next non-empty pindex.

    count 7 from pindex 1: 0x1000, 0x1001 (list 1, tail first, count 7->5), 0x1210
    (list 3, order 1, ->3), 0x1400 (list 8, order 2, ->-1) and stop; lists 0 and 13
    untouched.  mm_page_pcpu_drain carries (pfn, order, pageblock migratetype).
    """
    m = flat()
    z, pcp = _pcp_lists_state(m)
    ev = record(m)
    m.alloc.free_pcppages_bulk(z, 7, pcp, 1)
    assert named(ev, "mm_page_pcpu_drain") == [
        (0x1000, 0, M), (0x1001, 0, M), (0x1210, 1, U), (0x1400, 2, R)]
    assert pcpl(m, z, 0) == [0x1202, 0x1201, 0x1200]
    assert pcpl(m, z, 13) == [0x1600]
    assert pcp.count == 3 + 512
    m.check()


def test_free_pcppages_bulk_wraps_at_nr_pcp_lists():
    """free_pcppages_bulk() (pa.c:1459): ``if (++pindex > NR_PCP_LISTS - 1) pindex = 0``.

    count 3 from pindex 13: the THP list 0x1600 goes first (one 512-page entry ends
    the call: count 3 - 512 < 0).  Then count 3 from pindex 12 with 12 and 13 empty
    wraps to list 0 and frees its tail first: 0x1200, 0x1201, 0x1202.
    """
    m = flat()
    z, pcp = _pcp_lists_state(m)
    ev = record(m)
    m.alloc.free_pcppages_bulk(z, 3, pcp, 13)
    assert named(ev, "mm_page_pcpu_drain") == [(0x1600, 9, M)]
    ev.clear()
    m.alloc.free_pcppages_bulk(z, 3, pcp, 12)
    assert named(ev, "mm_page_pcpu_drain") == [(0x1200, 0, U), (0x1201, 0, U), (0x1202, 0, U)]
    assert pcp.count == 2 + 2 + 4
    m.check()


def test_drain_all_pages_drains_from_pindex0_in_capped_bulks():
    """drain_pages_zone() (pa.c:2620): free_pcppages_bulk(zone, min(count, batch << 5),
    pcp, 0) until empty: pindex order 0, 1, 3, 8, 13."""
    m = flat()
    z, pcp = _pcp_lists_state(m)
    ev = record(m)
    m.drain_all_pages()
    assert [a[0] for a in named(ev, "mm_page_pcpu_drain")] == [
        0x1200, 0x1201, 0x1202, 0x1000, 0x1001, 0x1210, 0x1400, 0x1600]
    assert pcp.count == 0
    m.check()


def test_free_high_for_order1_in_7_2_needs_batch_plus_half_high_min():
    """free_frozen_page_commit() (pa.c:2832), 7.2 rule for orders 1..3:
    free_high = free_count >= batch + high_min / 2 && PCPF_PREV_FREE_HIGH_ORDER &&
    (!PCPF_FREE_HIGH_BATCH || count >= batch); then nr_pcp_high() returns 0 and
    nr_pcp_free() frees min(count, batch << 5), in batch-sized free_pcppages_bulk calls.

    flat machine with 16 CPUs: batch 15, high_min 4047 / 16 = 252, high_max 512.
    Threshold 15 + 126 = 141.  Consecutive order-1 frees into an empty pcp: before
    free #k free_count = 2(k-1); free #71 (free_count 140) keeps all 142 pages, free
    #72 (free_count 142) drains all 144 and lowers pcp->high to max(high - 480, 252).
    (The pre-7.x rule, free_count >= batch, would have fired at free #9.)
    """
    m = flat(cpus=16)
    z = m.zone("DMA32")
    pcp = z.pcp[0]
    assert (pcp.batch, pcp.high_min, pcp.high_max) == (15, 252, 512)
    assert pcp.flags & PCPF_FREE_HIGH_BATCH
    pages = [m.alloc_pages(GFP_KERNEL, 1) for _ in range(72)]
    m.drain_all_pages()
    assert pcp.count == 0 and pcp.free_count == 0
    assert not pcp.flags & PCPF_PREV_FREE_HIGH_ORDER
    for k, p in enumerate(pages[:71], start=1):
        m.free_pages(p, 1)
        assert pcp.count == 2 * k, k
    assert pcp.free_count == 142 and pcp.flags & PCPF_PREV_FREE_HIGH_ORDER
    high_before = pcp.high
    ev = record(m)
    m.free_pages(pages[71], 1)
    assert pcp.count == 0
    assert pcp.high == max(high_before - 480, 252)
    # drained from the freed page's own pindex (3: order 1 UNMOVABLE), tail first,
    # i.e. in the order the pages were freed
    assert named(ev, "mm_page_pcpu_drain") == [(p, 1, U) for p in pages]
    m.check()


def test_free_high_conditions():
    """free_frozen_page_commit() (pa.c:2832): the three free_high conditions, with the
    thresholds set directly (batch 15, high_min 100: free_count must reach 65).

    * first high-order free after an order-0 free: PCPF_PREV_FREE_HIGH_ORDER not yet
      set -> no free_high (the flag is set afterwards);
    * PCPF_FREE_HIGH_BATCH set and count < batch -> no free_high;
    * an order-0 free clears PCPF_PREV_FREE_HIGH_ORDER.
    """
    m = flat()
    z = m.zone("DMA32")
    pcp = z.pcp[0]
    pages = [m.alloc_pages(GFP_KERNEL, 1) for _ in range(4)]
    p0 = m.alloc_pages(GFP_KERNEL, 0)
    m.drain_all_pages()
    pcp.high_min, pcp.high_max, pcp.high = 100, 1000, 1000
    pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER
    pcp.free_count = 65
    m.free_pages(pages[0], 1)              # PREV flag not set yet: kept
    assert pcp.count == 2 and pcp.flags & PCPF_PREV_FREE_HIGH_ORDER
    m.free_pages(pages[1], 1)              # count 4 < batch 15 with FREE_HIGH_BATCH: kept
    assert pcp.count == 4
    pcp.flags &= ~PCPF_FREE_HIGH_BATCH
    m.free_pages(pages[2], 1)              # now free_high: everything goes
    assert pcp.count == 0
    m.free_pages(p0, 0)                    # order 0 clears PREV_FREE_HIGH_ORDER
    assert not pcp.flags & PCPF_PREV_FREE_HIGH_ORDER
    pcp.free_count = 500
    m.free_pages(pages[3], 1)
    assert pcp.count == 3
    m.check()


def _unit_pcp(z, count=0, high=0, high_min=100, high_max=1000, batch=15, free_count=0):
    pcp = PerCpuPages(0, z.pcp[0].list_base)
    pcp.count, pcp.high, pcp.high_min, pcp.high_max = count, high, high_min, high_max
    pcp.batch, pcp.free_count = batch, free_count
    return pcp


def test_nr_pcp_high_cases():
    """nr_pcp_high() (pa.c:2777), each branch on a worked example (batch 15):

    * high clamped into [high_min, high_max] first; 0 (boot pageset) -> 0;
    * free_high: pcp->high = max(high - (15 << 5), high_min), returns 0;
    * ZONE_RECLAIM_ACTIVE: pcp->high = max(high - max(free_count, batch), high_min),
      returns min(batch << 2, pcp->high);
    * high_min == high_max: returns high;
    * ZONE_BELOW_HIGH: pcp->high = max(high - max(free_count, batch), high_min),
      returns max(count, high_min);
    * count >= high: pcp->high raised to clamp(free_count + batch, min, max).
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    assert a.nr_pcp_high(_unit_pcp(z, high_min=0, high_max=0), z, 1, False) == 0
    p = _unit_pcp(z, high=50)                       # clamped up to 100
    assert a.nr_pcp_high(p, z, 15, False) == 100 and p.high == 100
    p = _unit_pcp(z, high=900)
    assert a.nr_pcp_high(p, z, 15, True) == 0 and p.high == 420
    p = _unit_pcp(z, high=150)
    assert a.nr_pcp_high(p, z, 15, True) == 0 and p.high == 100
    z.reclaim_active = True
    p = _unit_pcp(z, high=900, free_count=40)
    assert a.nr_pcp_high(p, z, 15, False) == 60 and p.high == 860
    p = _unit_pcp(z, high=110, free_count=5)
    assert a.nr_pcp_high(p, z, 15, False) == 60 and p.high == 100
    z.reclaim_active = False
    p = _unit_pcp(z, high=300, high_min=300, high_max=300, count=999)
    assert a.nr_pcp_high(p, z, 15, False) == 300 and p.high == 300
    z.below_high = True
    p = _unit_pcp(z, high=900, count=250, free_count=40)
    assert a.nr_pcp_high(p, z, 15, False) == 250 and p.high == 860
    p = _unit_pcp(z, high=900, count=20, free_count=0)
    assert a.nr_pcp_high(p, z, 15, False) == 100 and p.high == 885
    z.below_high = False
    p = _unit_pcp(z, high=200, count=200, free_count=400)
    assert a.nr_pcp_high(p, z, 15, False) == 200 and p.high == 415
    p = _unit_pcp(z, high=200, count=200, free_count=2000)
    assert a.nr_pcp_high(p, z, 15, False) == 200 and p.high == 1000
    p = _unit_pcp(z, high=200, count=199, free_count=400)
    assert a.nr_pcp_high(p, z, 15, False) == 200 and p.high == 200


def test_nr_pcp_free_cases():
    """nr_pcp_free() (pa.c:2752): free_high -> min(count, batch << 5); high < batch
    -> 1; else clamp(free_count, batch, high - batch)."""
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    assert a.nr_pcp_free(_unit_pcp(z, count=1000), 15, 0, True) == 480
    assert a.nr_pcp_free(_unit_pcp(z, count=100), 15, 0, True) == 100
    assert a.nr_pcp_free(_unit_pcp(z, count=100), 15, 10, False) == 1
    assert a.nr_pcp_free(_unit_pcp(z, free_count=3), 15, 400, False) == 15
    assert a.nr_pcp_free(_unit_pcp(z, free_count=200), 15, 400, False) == 200
    assert a.nr_pcp_free(_unit_pcp(z, free_count=480), 15, 400, False) == 385


def test_zone_below_high_set_by_allocation_and_shrinks_pcp():
    """get_page_from_freelist() (pa.c:3794) sets ZONE_BELOW_HIGH when the high-mark
    check fails and then uses the alloc_flags mark; with the bit set, freeing into
    the pcp (nr_pcp_high(), pa.c:2777) returns max(count, high_min) so the list is
    trimmed once count reaches high_min, and free_frozen_page_commit() clears the bit
    again once zone_watermark_ok(high) holds after a drain.

    flat machine, 16 CPUs (high_min 252).  All but 4608 pages of the zone are taken
    (4608 < high 4856, > low 4047): the next allocation sets ZONE_BELOW_HIGH.
    """
    m = flat(cpus=16)
    z, a = m.zone("DMA32"), m.alloc
    taken = []
    while z.nr_free_pages > 4608:
        pfn = a.rmqueue_smallest(z, 9, M)
        a.post_alloc_hook(pfn, 9, GFP_MOVABLE, M)
        taken.append(pfn)
    assert z.nr_free_pages == 4608
    assert not z.below_high
    pages = [m.alloc_pages(GFP_MOVABLE, 0) for _ in range(300)]
    assert z.below_high
    pcp = z.pcp[0]
    m.drain_all_pages()
    assert pcp.count == 0 and pcp.free_count == 0
    # Block 1: count 512, free_count 512; below high: pcp->high = max(high - 512, 252)
    # = 252, nr_pcp_high() returns max(512, 252) = 512 <= count -> nr_pcp_free() =
    # clamp(512, 15, 497) = 497 -> the first free_pcppages_bulk(15) frees the block.
    # NR_FREE_PAGES 4308 + 512 = 4820 <= 4856: still below high.
    m.free_pages(taken[0], 9)
    assert (pcp.count, pcp.high, z.below_high) == (0, 252, True)
    # Block 2: same trim; 5332 > 4856 -> ZONE_BELOW_HIGH cleared.
    m.free_pages(taken[1], 9)
    assert (pcp.count, z.below_high) == (0, False)
    # Block 3, not below high: count 512 >= high 252 -> need_high = 512 + 15 -> pcp->high
    # = clamp(527, 252, 512) = 512, but this call still returns the old 252 -> drained.
    m.free_pages(taken[2], 9)
    assert (pcp.count, pcp.high) == (0, 512)
    # Block 4: high 512, count 512 >= 512 -> drained again.
    m.free_pages(taken[3], 9)
    assert pcp.count == 0
    # An order-0 free now stays (count 1 < 512)
    m.free_pages(pages[0], 0)
    assert pcp.count == 1
    m.check()


def test_decay_pcp_high_on_vmstat_tick():
    """decay_pcp_high() (pa.c:2564), run from refresh_cpu_vm_stats() every second:
    pcp->high = max3(count - (batch << 5), high - high / 8, high_min), then drain
    count - high pages (batch at a time, from pindex 0).

    flat machine: 5000 pages on the pcp, pcp->high 8000.  Ticks: 7000, 6125, 5360
    (nothing drained), 4690 (310 drained), max3(4210, 4104, 4047) = 4210 (480
    drained), max3(3730, 3684, 4047) = 4047 (163 drained), then unchanged.
    """
    m = flat()
    z = m.zone("DMA32")
    pcp = z.pcp[0]
    pages = [m.alloc_pages(GFP_MOVABLE, 0) for _ in range(5000)]
    m.drain_all_pages()
    pcp.high = 8000
    for p in pages:
        m.free_pages(p, 0)
    assert pcp.count == 5000
    seen = []
    for _ in range(7):
        m.tick(1.0)
        seen.append((pcp.high, pcp.count))
    assert seen == [(7000, 5000), (6125, 5000), (5360, 5000), (4690, 4690),
                    (4210, 4210), (4047, 4047), (4047, 4047)]
    m.check()


# ====================================================================== __free_one_page
def test_free_one_page_merges_buddies_upward():
    """__free_one_page() (pa.c:936): while the order-n buddy (pfn ^ 1 << n) is a free
    block of the same order, take it off its list and continue at the combined pfn.

    Zone emptied; free 0x2001, 0x2000 (-> o1 at 0x2000), 0x2002 o1 (-> o2 at 0x2000),
    0x2004 o2 (-> o3), 0x2008 o3 (-> o4).
    """
    m = flat()
    z = m.zone("DMA32")
    empty_zone(m, z)
    free_chunk(m, 0x2001, 0)
    free_chunk(m, 0x2000, 0)
    assert lst(m, z, 0, M) == [] and lst(m, z, 1, M) == [0x2000]
    free_chunk(m, 0x2002, 1)
    free_chunk(m, 0x2004, 2)
    free_chunk(m, 0x2008, 3)
    assert [lst(m, z, o, M) for o in range(5)] == [[], [], [], [], [0x2000]]
    assert m.mem.pstate[0x2000] == PS_BUDDY | 4 and z.nr_free_pages == 16
    m.check()


def test_buddy_merge_likely_puts_block_at_tail_when_parent_buddy_is_free():
    """__free_one_page() (pa.c:1015) -> buddy_merge_likely() (pa.c:885): after the last
    (failed) buddy lookup, higher = buddy_pfn & pfn; if the order+1 buddy of that is a
    free block of order+1, the freed block goes to the list TAIL.

    Zone emptied.  Free 0x3001 (buddy 0x3000 busy; 0x3002 not free) -> head.  Free
    0x2002 o1 (buddy 0x2000 o1 busy).  Free 0x2001: buddy_pfn 0x2000 is busy, higher
    0x2000, its o1 buddy 0x2002 is free o1 -> tail: list o0 = [0x3001, 0x2001].
    Free 0x4001 with 0x4002 busy -> head: [0x4001, 0x3001, 0x2001].
    """
    m = flat()
    z = m.zone("DMA32")
    empty_zone(m, z)
    free_chunk(m, 0x3001, 0)
    free_chunk(m, 0x2002, 1)
    free_chunk(m, 0x2001, 0)
    assert lst(m, z, 0, M) == [0x3001, 0x2001]
    free_chunk(m, 0x4001, 0)
    assert lst(m, z, 0, M) == [0x4001, 0x3001, 0x2001]
    m.check()


def test_buddy_merge_likely_uses_buddy_pfn_of_the_final_order():
    """__free_one_page() (pa.c:936): buddy_pfn is what find_buddy_page_pfn() computed
    at the order where merging stopped (it is written even when no buddy is found),
    so after merging 0x2005 with 0x2004 the tail test looks at higher = 0x2006 & 0x2004
    = 0x2004 and its o2 buddy 0x2000.

    Zone emptied.  0x2000 o2 free, 0x2006 o1 busy, 0x2004 free o0; freeing 0x2005
    merges to o1 at 0x2004, stops at o1 (0x2006 busy), 0x2000 is free o2 -> tail of
    the o1 list, behind 0x3002 (freed before, head).
    """
    m = flat()
    z = m.zone("DMA32")
    empty_zone(m, z)
    free_chunk(m, 0x2000, 2)
    free_chunk(m, 0x3002, 1)
    free_chunk(m, 0x2004, 0)
    assert lst(m, z, 1, M) == [0x3002]
    free_chunk(m, 0x2005, 0)
    assert lst(m, z, 0, M) == []
    assert lst(m, z, 1, M) == [0x3002, 0x2004]
    assert lst(m, z, 2, M) == [0x2000]
    m.check()


def test_fpi_to_tail_and_order9_tail_rule():
    """__free_one_page() (pa.c:1010-1015): FPI_TO_TAIL always puts the block at the
    tail; buddy_merge_likely() returns false for order >= MAX_PAGE_ORDER - 1 (= 9).

    Zone emptied.  0x2000 o9 freed (head), 0x3000 o9 freed with FPI_TO_TAIL -> tail.
    0x4000 o9 is freed while 0x4800, the o10 buddy of its parent, is free: at order 9
    buddy_merge_likely() says false, so it goes to the head.
    """
    m = flat()
    z = m.zone("DMA32")
    empty_zone(m, z)
    free_chunk(m, 0x2000, 9)
    free_chunk(m, 0x3000, 9, FPI_TO_TAIL)
    assert lst(m, z, 9, M) == [0x2000, 0x3000]
    free_chunk(m, 0x4800, 10)           # the o10 buddy of 0x4000's parent
    free_chunk(m, 0x4000, 9)
    assert lst(m, z, 9, M) == [0x4000, 0x2000, 0x3000]
    assert lst(m, z, 10, M) == [0x4800]
    m.check()


def test_merge_across_pageblocks_between_mergeable_types_retypes_buddy_block():
    """__free_one_page() (pa.c:968-999): at order >= pageblock_order the buddy's type is
    read from its pageblock; MOVABLE and UNMOVABLE are both mergeable, so they merge,
    and change_pageblock_range() retypes the buddy's pageblock to the freer's type.

    Zone emptied; pageblock 0x1200 UNMOVABLE; free 0x1200 o9 (UNMOVABLE list), then
    0x1000 o9 (MOVABLE): one o10 block 0x1000 on the MOVABLE list, 0x1200 now MOVABLE.
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    empty_zone(m, z)
    a.set_pageblock_migratetype(0x1200, U)
    free_chunk(m, 0x1200, 9)
    assert lst(m, z, 9, U) == [0x1200]
    free_chunk(m, 0x1000, 9)
    assert lst(m, z, 9, U) == [] and lst(m, z, 10, M) == [0x1000]
    assert m.pageblock_migratetype(0x1200) == M
    assert z.nr_free_pages_blocks == 1024
    m.check()


@pytest.mark.parametrize("other", [H, MIGRATE_ISOLATE])
def test_no_merge_across_pageblocks_with_highatomic_or_isolate(other):
    """__free_one_page() (pa.c:968-980): if the types differ and either is not
    migratetype_is_mergeable() (HIGHATOMIC, ISOLATE), merging stops at order 9.

    Zone emptied; pageblock 0x1200 HIGHATOMIC (or isolated); free 0x1200 o9 then
    0x1000 o9 MOVABLE: two o9 blocks on their own lists, types unchanged.  An isolated
    free block is not in NR_FREE_PAGES (account_freepages(), pa.c:772).
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    empty_zone(m, z)
    set_block(m, z, 0x1200, other)
    free_chunk(m, 0x1200, 9)
    free_chunk(m, 0x1000, 9)
    assert lst(m, z, 9, other) == [0x1200]
    assert lst(m, z, 9, M) == [0x1000]
    assert lst(m, z, 10, M) == [] and lst(m, z, 10, other) == []
    assert m.pageblock_migratetype(0x1200) == other
    assert m.pageblock_migratetype(0x1000) == M
    if other == H:
        assert z.nr_free_pages == 1024 and z.nr_free_highatomic == 512
    else:
        assert z.nr_free_pages == 512
    m.check()


def test_highatomic_blocks_merge_with_each_other():
    """__free_one_page() (pa.c:977): equal types merge at order 9 even if not
    mergeable: two HIGHATOMIC pageblocks form an o10 HIGHATOMIC block."""
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    empty_zone(m, z)
    set_block(m, z, 0x1000, H)
    set_block(m, z, 0x1200, H)
    free_chunk(m, 0x1200, 9)
    free_chunk(m, 0x1000, 9)
    assert lst(m, z, 10, H) == [0x1000]
    m.check()


def test_split_large_buddy_frees_each_pageblock_with_its_own_type():
    """split_large_buddy() (pa.c:1510): a non-pcp free of order > pageblock_order is
    freed one pageblock at a time, each with get_pfnblock_migratetype() of that block.

    Zone emptied; 0x1200 HIGHATOMIC; freeing 0x1000 as one o10 block gives 0x1000 o9
    MOVABLE and 0x1200 o9 HIGHATOMIC (they cannot merge).
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    empty_zone(m, z)
    set_block(m, z, 0x1200, H)
    free_chunk(m, 0x1000, 10)
    assert lst(m, z, 9, M) == [0x1000] and lst(m, z, 9, H) == [0x1200]
    m.check()


def test_no_merge_across_zones(monkeypatch):
    """page_is_buddy() (mm/internal.h:742, used by __free_one_page() pa.c:964) refuses
    a buddy in another zone.  x86 zone ends are MAX_PAGE_ORDER aligned, so the case is
    built with ZONE_DMA ending at 0x1200: 0x1000 o9 (DMA) and 0x1200 o9 (DMA32) are
    buddies by PFN but stay two order-9 blocks in their own zones.
    """
    import pagealloc.machine as machine_mod
    from pagealloc.config import MAX_DMA32_PFN
    monkeypatch.setattr(machine_mod, "ZONE_BOUNDS",
                        ((0, 0x1200), (0x1200, MAX_DMA32_PFN), (MAX_DMA32_PFN, 1 << 62)))
    m = Machine(ram_ranges=[(0x800, 0x2000)], reserved=[], cpus=1, boot=False)
    dma, dma32, a = m.zone("DMA"), m.zone("DMA32"), m.alloc
    a.free_pages_core(0x1000, 9)
    a.free_pages_core(0x1200, 9)
    assert lst(m, dma, 9, M) == [0x1000] and lst(m, dma32, 9, M) == [0x1200]
    assert lst(m, dma, 10, M) == [] and lst(m, dma32, 10, M) == []
    assert dma.nr_free_pages == 512 and dma32.nr_free_pages == 512


# ====================================================================== claim / steal
def test_claim_takes_largest_order_first_and_whole_block():
    """__rmqueue_claim() (pa.c:2361) walks current_order from MAX_PAGE_ORDER down;
    try_to_claim_block() (pa.c:2286) takes a >= pageblock_order block whole:
    del_page_from_free_list, change_pageblock_range() on every pageblock, expand()
    the remainder onto the NEW type's lists.

    Fresh 64M DMA, UNMOVABLE order 0: the o10 head 0x400 (not o8 0x100 or o9 0x200)
    -> pageblocks 0x400 and 0x600 UNMOVABLE; UNMOVABLE o9 [0x600], o8 [0x500] ...
    o0 [0x401]; MOVABLE keeps 0x100, 0x200, 0x800, 0xc00.  extfrag: (0x400, 0, 10,
    UNMOVABLE, MOVABLE, change_ownership 1).
    """
    m = Machine(memory="64M", cpus=1)
    z, a = m.zone("DMA"), m.alloc
    ev = record(m)
    assert a.rmqueue_claim(z, 0, U, 0) == 0x400
    assert [m.pageblock_migratetype(p) for p in range(0, 0x1000, 0x200)] == \
        [M, M, U, U, M, M, M, M]
    assert lst(m, z, 9, U) == [0x600]
    for order in range(8, -1, -1):
        assert lst(m, z, order, U) == [0x400 + (1 << order)]
    assert lst(m, z, 8, M) == [0x100] and lst(m, z, 9, M) == [0x200]
    assert lst(m, z, 10, M) == [0x800, 0xC00]
    assert named(ev, "mm_page_alloc_extfrag") == [(0x400, 0, 10, U, M, 1)]
    assert named(ev, "mm_page_alloc_zone_locked") == []     # no __rmqueue_smallest()
    assert z.nr_free_pages == 3840 - 1
    assert z.watermark_boost == 0                           # no boost for whole blocks
    a.post_alloc_hook(0x400, 0, 0, U)
    m.check()
    # With no o10 left, a RECLAIMABLE order-3 request takes an o9 block whole (one
    # pageblock retyped); fallbacks[RECLAIMABLE] = {UNMOVABLE, MOVABLE} (pa.c:1921),
    # so it is UNMOVABLE's 0x600, not MOVABLE's 0x200.
    for pfn in (0x800, 0xC00):
        a.del_page_from_free_list(pfn, z, 10, M)
        a.post_alloc_hook(pfn, 10, 0, M)
    assert a.rmqueue_claim(z, 3, R, 0) == 0x600
    assert m.pageblock_migratetype(0x600) == R and m.pageblock_migratetype(0x400) == U
    assert [lst(m, z, o, R) for o in range(3, 9)] == \
        [[0x608], [0x610], [0x620], [0x640], [0x680], [0x700]]
    assert lst(m, z, 9, M) == [0x200]


def _claim_block(m: Machine, block_mt: int, free_at: int, free_order: int,
                 alike: int, alike_movable: bool):
    """Zone emptied; pageblock 0x2000 of type ``block_mt`` holds one free chunk
    (0x2000 + free_at, free_order); ``alike`` allocated pages at 0x2000.. have
    PageLRU == ``alike_movable``, all other allocated pages the opposite."""
    z = m.zone("DMA32")
    empty_zone(m, z, movable=not alike_movable)
    set_block(m, z, 0x2000, block_mt)
    set_kind(m, 0x2000, alike, alike_movable)
    free_chunk(m, 0x2000 + free_at, free_order)
    return z


@pytest.mark.parametrize("nonmovable,claimed", [(128, True), (127, False)])
def test_claim_unmovable_into_movable_block_half_rule(nonmovable, claimed):
    """try_to_claim_block() (pa.c:2286, 7.2): for a non-movable request falling back
    into a MOVABLE block, alike = pageblock_nr_pages - (free + movable) (every
    non-movable page); claim iff free + alike >= 1 << (pageblock_order - 1) = 256.

    Pageblock 0x2000: 128 free pages (o7 at 0x2180), ``nonmovable`` non-LRU pages,
    the rest PageLRU.  128 + 128 = 256 claims: block UNMOVABLE, the o7 chunk moved
    to the UNMOVABLE list and split there (halves on UNMOVABLE lists), extfrag
    change_ownership 1.  128 + 127 = 255 does not: __rmqueue_steal() (pa.c:2416)
    takes the same chunk, the halves stay on MOVABLE lists, the block stays MOVABLE,
    change_ownership 0.  Either way the attempt boosted the watermark by a pageblock.
    """
    m = flat()
    z = _claim_block(m, M, 0x180, 7, nonmovable, False)
    ev = record(m)
    assert rmqueue_direct(m, z, 0, U) == 0x2180
    want = U if claimed else M
    assert m.pageblock_migratetype(0x2000) == want
    assert [lst(m, z, o, want) for o in range(7)] == [[0x2180 + (1 << o)] for o in range(7)]
    assert named(ev, "mm_page_alloc_extfrag") == [(0x2180, 0, 7, U, M, int(claimed))]
    assert z.watermark_boost == 512
    m.alloc.post_alloc_hook(0x2180, 0, 0, U)
    m.check()


@pytest.mark.parametrize("movable,claimed", [(128, True), (127, False)])
def test_claim_movable_into_unmovable_block_counts_movable_pages(movable, claimed):
    """try_to_claim_block() (pa.c:2286): for a MOVABLE request alike = the block's
    movable pages (PageLRU || movable_ops, prep_move_freepages_block() pa.c:1975).

    UNMOVABLE pageblock 0x2000 with a free o7 chunk at 0x2180 (128) and ``movable``
    PageLRU pages: 128 + 128 claims (block MOVABLE), 128 + 127 steals (stays
    UNMOVABLE).  current_order 7 >= pageblock_order / 2, so a movable order-0 request
    may claim (should_try_claim_block(), pa.c:2205).
    """
    m = flat()
    z = _claim_block(m, U, 0x180, 7, movable, True)
    ev = record(m)
    assert rmqueue_direct(m, z, 0, M) == 0x2180
    assert m.pageblock_migratetype(0x2000) == (M if claimed else U)
    assert named(ev, "mm_page_alloc_extfrag") == [(0x2180, 0, 7, M, U, int(claimed))]
    m.alloc.post_alloc_hook(0x2180, 0, GFP_MOVABLE, M)
    m.check()


def test_claim_counts_compound_movable_tail_pages():
    """prep_move_freepages_block() (pa.c:1975) tests PageLRU(page) page by page; for a
    compound (__GFP_COMP) folio every tail reads the head's LRU flag, so an order-7
    movable folio counts 128 movable pages, while a non-compound order-7 block counts
    only its head.

    UNMOVABLE pageblock 0x2000, free o7 at 0x2180, an order-7 movable block at 0x2000,
    everything else non-movable: compound -> 128 + 128 claims; plain -> 128 + 1 steals.
    """
    for compound, claimed in ((True, True), (False, False)):
        m = flat()
        z = _claim_block(m, U, 0x180, 7, 0, True)
        as_block(m, 0x2000, 7)
        m.mem.pkind[0x2000] = M | KIND_MOVABLE | (KIND_COMPOUND if compound else 0)
        assert rmqueue_direct(m, z, 0, M) == 0x2180
        assert m.pageblock_migratetype(0x2000) == (M if claimed else U), compound


@pytest.mark.parametrize("nonlru,claimed", [(128, True), (127, False)])
def test_claim_half_rule_with_pages_from_alloc_pages(nonlru, claimed):
    """try_to_claim_block() (pa.c:2286) on a pageblock filled by real allocations,
    PageLRU controlled with ``m.alloc_pages(..., movable=...)``.

    flat machine with vm.min_free_kbytes = 128 (min 32), every o10 block but 0x1000
    taken away.  900 GFP_HIGHUSER_MOVABLE order-0 allocations get 0x1000..0x1383 in
    order (pcp refills are ascending); the first ``nonlru`` are not PageLRU.  After a
    drain the leftover 124 pages are o2 0x1384 .. o6 0x13c0; freeing 0x1180..0x11ff
    (and draining) makes an o7 at 0x1180.  An UNMOVABLE order-0 fallback tries the
    largest chunk first, 0x1180: free 128 + alike (non-LRU) ``nonlru``.  With 128 the
    block is claimed and 0x1180 returned; with 127 every claim attempt fails (0x1200's
    block has 124 free, 388 LRU) and __rmqueue_steal() takes the SMALLEST fallback
    chunk, 0x1384 (o2), leaving both blocks MOVABLE.
    """
    m = flat(min_free_kbytes=128)
    z, a = m.zone("DMA32"), m.alloc
    for pfn in lst(m, z, 10, M)[1:]:
        a.del_page_from_free_list(pfn, z, 10, M)
        a.post_alloc_hook(pfn, 10, GFP_MOVABLE, M)
    got = [m.alloc_pages(GFP_MOVABLE, 0, movable=i >= nonlru) for i in range(900)]
    assert got == list(range(0x1000, 0x1384))
    m.drain_all_pages()
    for p in range(0x1180, 0x1200):
        m.free_pages(p, 0)
    m.drain_all_pages()
    assert m.free_blocks(z) == [(2, M, 0x1384), (3, M, 0x1388), (4, M, 0x1390),
                                (5, M, 0x13A0), (6, M, 0x13C0), (7, M, 0x1180)]
    ev = record(m)
    page = rmqueue_direct(m, z, 0, U)
    if claimed:
        assert page == 0x1180 and m.pageblock_migratetype(0x1000) == U
        assert named(ev, "mm_page_alloc_extfrag") == [(0x1180, 0, 7, U, M, 1)]
    else:
        assert page == 0x1384 and m.pageblock_migratetype(0x1000) == M
        assert named(ev, "mm_page_alloc_extfrag") == [(0x1384, 0, 2, U, M, 0)]
    assert m.pageblock_migratetype(0x1200) == M
    a.post_alloc_hook(page, 0, GFP_KERNEL, U)
    m.check()


def test_pcp_pages_count_as_alike_for_unmovable_claim():
    """prep_move_freepages_block() (pa.c:1975) counts only PageBuddy pages as free and
    PageLRU/movable_ops pages as movable; pages sitting on a pcp list are neither, so
    for an UNMOVABLE request into a MOVABLE block they count as alike.

    MOVABLE pageblock 0x2000, everything PageLRU except: free o7 0x2180 and 128
    order-0 pages 0x2000..0x207f freed onto the pcp list (not drained).  free 128,
    movable 256, alike 512 - 384 = 128 -> 256 -> claimed.  The pcp pages stay where
    they are (__move_freepages_block() moves PageBuddy blocks only).
    """
    m = flat()
    z = _claim_block(m, M, 0x180, 7, 0, False)      # every allocated page PageLRU
    for p in range(0x2000, 0x2080):
        m.free_pages(p, 0)
    assert z.pcp[0].count == 128
    assert m.alloc.prep_move_freepages_block(z, 0x2180, True) == (True, 0x2000, 128, 256)
    assert rmqueue_direct(m, z, 0, U) == 0x2180
    assert m.pageblock_migratetype(0x2000) == U
    assert pcpl(m, z, 1) == list(range(0x207F, 0x1FFF, -1))
    m.alloc.post_alloc_hook(0x2180, 0, 0, U)
    m.check()


def test_noclaim_break_for_small_movable_requests():
    """find_suitable_fallback() (pa.c:2254) returns FALLBACK_NOCLAIM when
    should_try_claim_block(current_order, MOVABLE) is false, i.e. current_order <
    pageblock_order / 2 = 4; __rmqueue_claim() then breaks, and __rmqueue_steal()
    takes the smallest fallback block, leaving the pageblock's type.

    UNMOVABLE pageblock 0x2000 with one PageLRU page every 16 (0x2000, 0x2010, ...)
    and everything else free: chunks o0 +1, o1 +2, o2 +4, o3 +8 per 16 pages, 480
    free pages (free + alike would be 512 >= 256), but no chunk of order >= 4.  A
    MOVABLE order-0 request steals the head of the UNMOVABLE o0 list, 0x21f1 (freed
    last), the block stays UNMOVABLE, extfrag (0x21f1, 0, 0, M, U, 0).
    The mirror case (UNMOVABLE request, MOVABLE block) is claimed at order 3:
    everything moves to UNMOVABLE (ascending, to the tails) and 0x2001 is returned.
    """
    for req, block in ((M, U), (U, M)):
        m = flat()
        z = m.zone("DMA32")
        empty_zone(m, z, movable=False)
        set_block(m, z, 0x2000, block)
        set_kind(m, 0x2000, 512, True)
        for base in range(0x2000, 0x2200, 16):
            for off, order in ((1, 0), (2, 1), (4, 2), (8, 3)):
                free_chunk(m, base + off, order)
        assert z.nr_free_pages == 480
        ev = record(m)
        page = rmqueue_direct(m, z, 0, req)
        if req == M:
            assert page == 0x21F1
            assert m.pageblock_migratetype(0x2000) == U
            assert named(ev, "mm_page_alloc_extfrag") == [(0x21F1, 0, 0, M, U, 0)]
            assert z.watermark_boost == 0          # no claim attempted
        else:
            assert page == 0x2001
            assert m.pageblock_migratetype(0x2000) == U
            assert named(ev, "mm_page_alloc_extfrag") == [(0x2001, 0, 3, U, M, 1)]
            assert lst(m, z, 0, U)[:2] == [0x2011, 0x2021]
            assert lst(m, z, 0, M) == []
        m.alloc.post_alloc_hook(page, 0, 0, req)
        m.check()


def test_movable_order4_request_may_claim():
    """should_try_claim_block() (pa.c:2205): current_order >= pageblock_order / 2 (4)
    lets a MOVABLE request claim; an order-4 chunk in an UNMOVABLE block whose other
    pages are all PageLRU (16 + 496 >= 256) is claimed by a MOVABLE order-4 request."""
    m = flat()
    z = _claim_block(m, U, 0x100, 4, 512, True)
    assert rmqueue_direct(m, z, 4, M) == 0x2100
    assert m.pageblock_migratetype(0x2000) == M


def test_rmqueue_bulk_remembers_steal_mode():
    """rmqueue_bulk() (pa.c:2523) keeps ``rmqm`` across its __rmqueue() calls
    (pa.c:2454): after the first page is stolen the mode is RMQUEUE_STEAL and later
    pages skip __rmqueue_smallest() and __rmqueue_claim().  Observable: only the
    first call tried (and failed) a claim, so the watermark is boosted once (512),
    not once per page.  The stolen pages go to the pcp list of the REQUEST's type.

    MOVABLE pageblock 0x2000, free o7 0x2180, 127 non-LRU pages (claim fails);
    rmqueue() for UNMOVABLE order 0 refills 15 pages 0x2180..0x218e onto pcp list 0.
    """
    m = flat()
    z = _claim_block(m, M, 0x180, 7, 127, False)
    ev = record(m)
    a = m.alloc
    a.cpu = 0
    page = a.rmqueue(z, z, 0, GFP_KERNEL, G.ALLOC_WMARK_LOW | G.ALLOC_KSWAPD, U)
    assert page == 0x2180
    assert pcpl(m, z, 0) == list(range(0x2181, 0x218F))
    assert z.watermark_boost == 512
    assert [e[:2] for e in named(ev, "mm_page_alloc_extfrag")] == \
        [(p, 0) for p in range(0x2180, 0x218F)]
    assert m.pageblock_migratetype(0x2000) == M


@pytest.mark.parametrize("kswapd", [True, False])
def test_claim_boost_wakes_kswapd_only_with_alloc_kswapd(kswapd):
    """try_to_claim_block() (pa.c:2309): boost_watermark() and, with ALLOC_KSWAPD, set
    ZONE_BOOSTED_WATERMARK; rmqueue() (pa.c:3403) then clears it and calls
    wakeup_kswapd(zone, 0, 0, zone_idx) (mm_vmscan_wakeup_kswapd nid 0, zid 1,
    order 0, gfp 0)."""
    m = flat()
    z = _claim_block(m, M, 0x180, 7, 128, False)
    ev = record(m)
    a = m.alloc
    a.cpu = 0
    flags = G.ALLOC_WMARK_LOW | (G.ALLOC_KSWAPD if kswapd else 0)
    gfp = GFP_KERNEL if kswapd else GFP_KERNEL & ~G.__GFP_KSWAPD_RECLAIM
    assert a.rmqueue(z, z, 0, gfp, flags, U) == 0x2180
    assert z.watermark_boost == 512
    assert not z.boosted_watermark
    assert named(ev, "mm_vmscan_wakeup_kswapd") == ([(0, 1, 0, 0)] if kswapd else [])


def test_boost_watermark_cap_and_minimum():
    """boost_watermark() (pa.c:2163): +pageblock_nr_pages per call, capped at
    max(pageblock_nr_pages, mult_frac(high, watermark_boost_factor, 10000)).

    flat: high 4856 -> cap 7284: 512, 1024, ..., 7168, 7284, 7284.
    64M DMA: high < 342 (277 in the model) -> mult_frac < 512 -> cap 512: 512, 512.
    A zone with fewer than 4 pageblocks managed, or factor 0: no boost (false).
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    assert z.high_wmark_pages() == 4856
    got = []
    for _ in range(16):
        assert a.boost_watermark(z)
        got.append(z.watermark_boost)
    assert got == [512 * i for i in range(1, 15)] + [7284, 7284]
    m64 = Machine(memory="64M", cpus=1)
    dma = m64.zone("DMA")
    assert dma._watermark[2] * 15000 // 10000 < 512 and dma.managed_pages == 3840
    assert m64.alloc.boost_watermark(dma) and m64.alloc.boost_watermark(dma)
    assert dma.watermark_boost == 512
    tiny = Machine(ram_ranges=[(1, 0x9F), (0x100, 0x800), (0x1000, 0x5000)], reserved=[], cpus=1)
    assert tiny.zone("DMA").managed_pages == 158 + 1792 < 4 * 512
    assert not tiny.alloc.boost_watermark(tiny.zone("DMA"))
    assert tiny.zone("DMA").watermark_boost == 0
    nob = flat(watermark_boost_factor=0)
    assert not nob.alloc.boost_watermark(nob.zone("DMA32"))


# ====================================================================== ALLOC_NOFRAGMENT
def _normal_with_only(m: Machine, order: int) -> list[int]:
    """8G machine: take every free block of Normal as order-``order`` MOVABLE blocks
    (allocated), then free every other one (the lower halves B of each (B, B + size)
    pair) so that Normal holds only free order-``order`` MOVABLE blocks whose buddies
    are allocated (plus the boot's small blocks of lower order at the zone's end).
    Returns the still-allocated upper halves."""
    z, a = m.zone("Normal"), m.alloc
    taken = []
    while True:
        pfn = a.rmqueue_smallest(z, order, M)
        if pfn == NIL:
            break
        a.post_alloc_hook(pfn, order, GFP_MOVABLE, M)
        taken.append(pfn)
    lower = [p for p in taken if not p & (1 << order)]
    for p in lower:
        m.free_pages(p, order)
    m.drain_all_pages()
    assert all(z.nr_free[o] == 0 for o in range(order + 1, 11))
    assert all(not lst(m, z, o, t) for o in range(11) for t in (U, R, H))
    return [p for p in taken if p & (1 << order)]


def test_nofragment_unmovable_claims_whole_free_order9_block_in_normal():
    """alloc_flags_nofragment() (pa.c:3742) sets ALLOC_NOFRAGMENT when the preferred
    zone is ZONE_NORMAL; __rmqueue_claim() (pa.c:2361) then only looks at orders >=
    pageblock_order (min_order = 9) and __rmqueue() (pa.c:2454) never steals.

    8G machine, Normal holds no UNMOVABLE/RECLAIMABLE free page and no o10 block but
    many free o9 MOVABLE blocks: a GFP_KERNEL order-0 request claims the head o9 block
    B whole (its pageblock becomes UNMOVABLE), the pcp refill (batch 63) takes
    B..B+62 from it, the caller gets B.  extfrag (B, 0, 9, U, M, 1).
    """
    m = Machine(memory="8G", cpus=2)
    z = m.zone("Normal")
    assert m.alloc.prepare_alloc(GFP_KERNEL)[3] & G.ALLOC_NOFRAGMENT
    _normal_with_only(m, 9)
    head = lst(m, z, 9, M)[0]
    nr9 = z.nr_free[9]
    ev = record(m)
    page = m.alloc_pages(GFP_KERNEL, 0, cpu=0)
    assert page == head
    assert m.pageblock_migratetype(head) == U
    assert z.nr_free[9] == nr9 - 1
    assert pcpl(m, z, 0) == list(range(head + 1, head + 63))
    assert named(ev, "mm_page_alloc_extfrag") == [(head, 0, 9, U, M, 1)]
    m.check()


def test_nofragment_prefers_dma32_whole_block_over_stealing_in_normal():
    """get_page_from_freelist() (pa.c:3794) with ALLOC_NOFRAGMENT: Normal has free
    MOVABLE memory, but only o8 blocks (and smaller), so neither claim (min_order 9)
    nor steal (forbidden) finds anything there; the zonelist walk continues to DMA32,
    which claims its o10 head 0x3000 whole.  Only if that failed everywhere would the
    walk be retried without ALLOC_NOFRAGMENT (pa.c:3975).  Normal's lists and
    pageblock types are untouched.
    """
    m = Machine(memory="8G", cpus=2)
    z, dma32 = m.zone("Normal"), m.zone("DMA32")
    _normal_with_only(m, 8)
    before = m.free_blocks(z)
    types = bytes(m.mem.pb[0x100000 >> 9:0x240000 >> 9])
    assert lst(m, dma32, 10, M)[0] == 0x3000
    ev = record(m)
    page = m.alloc_pages(GFP_KERNEL, 0, cpu=0)
    assert page == 0x3000
    assert m.pageblock_migratetype(0x3000) == U and m.pageblock_migratetype(0x3200) == U
    assert m.free_blocks(z) == before
    assert bytes(m.mem.pb[0x100000 >> 9:0x240000 >> 9]) == types
    assert named(ev, "mm_page_alloc_extfrag") == [(0x3000, 0, 10, U, M, 1)]
    m.check()


def test_no_nofragment_without_normal_zone():
    """alloc_flags_nofragment() (pa.c:3742): only a ZONE_NORMAL preferred zone gets
    ALLOC_NOFRAGMENT (defrag_mode=1 sets it always); on the 64M machine the preferred
    zone for GFP_KERNEL is DMA32, so small fallbacks steal in place."""
    m = Machine(memory="64M", cpus=1)
    assert not m.alloc.prepare_alloc(GFP_KERNEL)[3] & G.ALLOC_NOFRAGMENT
    m8 = Machine(memory="8G", cpus=2)
    assert not m8.alloc.prepare_alloc(G.GFP_KERNEL | G.__GFP_DMA32)[3] & G.ALLOC_NOFRAGMENT
    assert m8.alloc.prepare_alloc(GFP_MOVABLE)[3] & G.ALLOC_NOFRAGMENT
    md = Machine(memory="64M", cpus=1, defrag_mode=1)
    assert md.alloc.prepare_alloc(GFP_KERNEL)[3] & G.ALLOC_NOFRAGMENT


# ====================================================================== watermarks
@pytest.mark.parametrize("flags,threshold", [
    (0, 3238),
    (G.ALLOC_HIGHATOMIC, 3238),
    (G.ALLOC_NON_BLOCK, 3238),                                    # GFP_NOWAIT: no discount
    (G.ALLOC_MIN_RESERVE, 1619),                                  # __GFP_HIGH: min - min/2
    (G.ALLOC_MIN_RESERVE | G.ALLOC_NON_BLOCK, 1215),              # GFP_ATOMIC: - min/4 more
    (G.ALLOC_OOM, 1619),                                          # OOM victim: min - min/2
    (G.ALLOC_OOM | G.ALLOC_MIN_RESERVE, 810),
    (G.ALLOC_OOM | G.ALLOC_MIN_RESERVE | G.ALLOC_NON_BLOCK, 608),
])
def test_zone_watermark_ok_reserve_fractions(flags, threshold):
    """__zone_watermark_ok() (pa.c:3588): with ALLOC_RESERVES bits, min -= min/2 for
    ALLOC_MIN_RESERVE, then min -= min/4 for ALLOC_NON_BLOCK (only with MIN_RESERVE),
    then min -= min/2 for ALLOC_OOM; ok iff free_pages > min + lowmem_reserve.
    flat machine, mark = min watermark 3238."""
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    assert z.min_wmark_pages() == 3238
    assert a._zone_watermark_ok(z, 0, 3238, 2, flags, threshold + 1)
    assert not a._zone_watermark_ok(z, 0, 3238, 2, flags, threshold)


def test_zone_watermark_unusable_free():
    """__zone_watermark_unusable_free() (pa.c:3561): (1 << order) - 1, plus
    nr_free_highatomic unless the request has ALLOC_RESERVES, plus NR_FREE_CMA_PAGES
    unless ALLOC_CMA (CONFIG_CMA=y in 7.2)."""
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    assert a._zone_watermark_unusable_free(z, 0, 0) == 0
    assert a._zone_watermark_unusable_free(z, 3, 0) == 7
    z.nr_free_highatomic, z.nr_free_cma_pages = 100, 50
    assert a._zone_watermark_unusable_free(z, 0, 0) == 150
    assert a._zone_watermark_unusable_free(z, 2, G.ALLOC_CMA) == 103
    assert a._zone_watermark_unusable_free(z, 0, G.ALLOC_NON_BLOCK) == 50
    assert a._zone_watermark_unusable_free(z, 0, G.ALLOC_OOM | G.ALLOC_CMA) == 0
    assert not a._zone_watermark_ok(z, 0, 3238, 2, 0, 3238 + 150)
    assert a._zone_watermark_ok(z, 0, 3238, 2, 0, 3238 + 151)


def test_zone_watermark_ok_lowmem_reserve():
    """__zone_watermark_ok() (pa.c:3632): the order-0 test is against
    min + z->lowmem_reserve[highest_zoneidx].  64M DMA: lowmem_reserve
    [0, 14, 14, 14, 14] (DMA32 managed 3799 / 256): a GFP_DMA request (idx 0) needs
    free > min, a GFP_KERNEL one (idx 2) needs free > min + 14."""
    m = Machine(memory="64M", cpus=1)
    z, a = m.zone("DMA"), m.alloc
    assert z.lowmem_reserve == [0, 14, 14, 14, 14]
    mark = z.min_wmark_pages()
    assert a._zone_watermark_ok(z, 0, mark, 0, 0, mark + 1)
    assert not a._zone_watermark_ok(z, 0, mark, 2, 0, mark + 14)
    assert a._zone_watermark_ok(z, 0, mark, 2, 0, mark + 15)


def test_zone_watermark_ok_high_order_needs_a_suitable_free_block():
    """__zone_watermark_ok() (pa.c:3640-3663): for order > 0, some free_area[o], o >=
    order, must have a block on a MIGRATE_PCPTYPES list, or on CMA with ALLOC_CMA, or
    on HIGHATOMIC with ALLOC_HIGHATOMIC or ALLOC_OOM.

    Zone emptied, then: free o1 MOVABLE at 0x2000 and a HIGHATOMIC o3 at 0x4000.
    order 1: ok; order 2: only HIGHATOMIC -> ok just for ALLOC_HIGHATOMIC / ALLOC_OOM
    (ALLOC_MIN_RESERVE is not enough); order 4: never.
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    empty_zone(m, z)
    set_block(m, z, 0x4000, H)
    free_chunk(m, 0x2000, 1)
    free_chunk(m, 0x4000, 3)
    big = 10 ** 6
    ok = lambda order, flags: a._zone_watermark_ok(z, order, 0, 2, flags, big)  # noqa: E731
    assert ok(1, 0)
    assert not ok(2, 0)
    assert not ok(2, G.ALLOC_MIN_RESERVE | G.ALLOC_NON_BLOCK)
    assert ok(2, G.ALLOC_HIGHATOMIC)
    assert ok(3, G.ALLOC_OOM)
    assert not ok(4, G.ALLOC_HIGHATOMIC | G.ALLOC_OOM)


def test_zone_watermark_fast_boost_exemption():
    """zone_watermark_fast() (pa.c:3673): order-0 fast test on usable free pages; if
    everything fails, an order-0 ALLOC_MIN_RESERVE request at WMARK_MIN ignores the
    boost: retried against _watermark[WMARK_MIN].

    flat: min 3238, boost 512 -> mark 3750.  With 1700 free pages, __GFP_HIGH
    (min -> 1875 with boost) fails, but 1700 > 3238 - 1619 -> ok.  Not for WMARK_LOW,
    not without ALLOC_MIN_RESERVE, not for order 1.
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    z.watermark_boost = 512
    z.vm_nr_free_pages = 1700
    mark = z.min_wmark_pages()
    assert mark == 3750
    wmin, wlow = G.ALLOC_WMARK_MIN, G.ALLOC_WMARK_LOW
    assert a.zone_watermark_fast(z, 0, mark, 2, wmin | G.ALLOC_MIN_RESERVE)
    assert not a.zone_watermark_fast(z, 0, mark, 2, wmin)
    assert not a.zone_watermark_fast(z, 0, mark, 2, wlow | G.ALLOC_MIN_RESERVE)
    assert not a.zone_watermark_fast(z, 1, mark, 2, wmin | G.ALLOC_MIN_RESERVE)
    z.vm_nr_free_pages = 1600
    assert not a.zone_watermark_fast(z, 0, mark, 2, wmin | G.ALLOC_MIN_RESERVE)
    # fast path: usable = free - min(free, reserved) compared with mark directly
    z.watermark_boost, z.vm_nr_free_pages, z.nr_free_highatomic = 0, 3400, 200
    assert not a.zone_watermark_fast(z, 0, 3238, 2, 0)            # 3200 <= 3238
    assert a.zone_watermark_fast(z, 0, 3238, 2, G.ALLOC_NON_BLOCK)


# ====================================================================== highatomic
def _flat_low(m: Machine, free: int) -> None:
    """Take o10 MOVABLE blocks off the flat zone (ascending) until ``free`` pages remain."""
    z, a = m.zone("DMA32"), m.alloc
    while z.nr_free_pages > free:
        pfn = a.rmqueue_smallest(z, 10, M)
        a.post_alloc_hook(pfn, 10, GFP_MOVABLE, M)
    assert z.nr_free_pages == free


def test_highatomic_reserved_by_high_order_atomic_slowpath():
    """gfp_to_alloc_flags() (pa.c:4533) gives a GFP_ATOMIC order>0 request
    ALLOC_MIN_RESERVE|ALLOC_NON_BLOCK|ALLOC_HIGHATOMIC; __rmqueue_pcplist() (pa.c:3316)
    refuses to refill for it, rmqueue_buddy() (pa.c:3212) allocates and then calls
    reserve_highatomic_pageblock() (pa.c:3437), which moves the page's pageblock to
    MIGRATE_HIGHATOMIC (move_freepages_block()) and adds pageblock_nr_pages to
    nr_reserved_highatomic.

    flat machine with 3072 free pages (3 o10 blocks 0x10400, 0x10800, 0x10c00): below
    low (4047), so the fast path fails; the slow path checks min 3238 -> 1619 -> 1215.
    The claim takes 0x10400 whole (UNMOVABLE), the page is 0x10400, its pageblock then
    becomes HIGHATOMIC with the 510 free pages of the split (0x10402 o1 .. 0x10500
    o8, moved ascending to the HIGHATOMIC tails); 0x10600 stays UNMOVABLE.  kswapd is
    woken for order 1.  The next GFP_ATOMIC order-1 is served from the reserve first
    (0x10402) and reserves nothing more (its block is not mergeable).
    """
    m = flat()
    z = m.zone("DMA32")
    _flat_low(m, 3072)
    ev = record(m)
    page = m.alloc_pages(G.GFP_ATOMIC, 1)
    assert page == 0x10400
    assert m.pageblock_migratetype(0x10400) == H and m.pageblock_migratetype(0x10600) == U
    assert z.nr_reserved_highatomic == 512 and z.nr_free_highatomic == 510
    assert [lst(m, z, o, H) for o in range(1, 9)] == [[0x10400 + (1 << o)] for o in range(1, 9)]
    assert lst(m, z, 9, U) == [0x10600]
    assert pcpl(m, z, 3) == []                   # no refill for ALLOC_HIGHATOMIC ...
    assert z.pcp[0].high == 4047                 # ... but nr_pcp_alloc() ran first
    # trace_mm_vmscan_wakeup_kswapd(nid, highest_zoneidx, order, gfp): GFP_ATOMIC -> Normal
    assert (0, 2, 1, G.GFP_ATOMIC) in named(ev, "mm_vmscan_wakeup_kswapd")
    assert m.alloc_pages(G.GFP_ATOMIC, 1) == 0x10402
    assert z.nr_reserved_highatomic == 512
    m.check()


def test_highatomic_reserve_cap_is_about_one_percent():
    """reserve_highatomic_pageblock() (pa.c:3437): nothing if managed / 100 <
    pageblock_nr_pages; stop at max_managed = ALIGN(managed / 100, pageblock_nr_pages);
    only mergeable (PCPTYPES) pageblocks are taken.

    flat: 655 -> cap 1024 (two pageblocks); 64M DMA: 38 < 512 -> never.
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    a.reserve_highatomic_pageblock(0x1000, 1, z)
    a.reserve_highatomic_pageblock(0x1000, 1, z)         # already HIGHATOMIC: no-op
    assert z.nr_reserved_highatomic == 512
    a.reserve_highatomic_pageblock(0x1200, 1, z)
    assert z.nr_reserved_highatomic == 1024
    a.reserve_highatomic_pageblock(0x1400, 1, z)         # at the cap
    assert z.nr_reserved_highatomic == 1024 and m.pageblock_migratetype(0x1400) == M
    m.check()
    # an order >= pageblock_order page: change_pageblock_range(), += 1 << order
    m2 = flat()
    z2 = m2.zone("DMA32")
    p = m2.alloc.rmqueue_smallest(z2, 10, M)
    m2.alloc.post_alloc_hook(p, 10, 0, U)
    m2.alloc.reserve_highatomic_pageblock(p, 10, z2)
    assert z2.nr_reserved_highatomic == 1024
    assert m2.pageblock_migratetype(p) == H and m2.pageblock_migratetype(p + 512) == H
    m64 = Machine(memory="64M", cpus=1)
    dma = m64.zone("DMA")
    m64.alloc.reserve_highatomic_pageblock(0x400, 1, dma)
    assert dma.nr_reserved_highatomic == 0 and m64.pageblock_migratetype(0x400) == M


def test_order0_nonblocking_falls_back_to_highatomic_reserve():
    """rmqueue_buddy() (pa.c:3240): if __rmqueue() fails and alloc_flags has ALLOC_OOM
    or ALLOC_NON_BLOCK, take __rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC).

    Zone emptied but for 1536 HIGHATOMIC pages (o10 0x4000, o9 0x4400): GFP_ATOMIC
    order 0 passes the slow-path check (reserves count for ALLOC_RESERVES: 1536 >
    1215), the pcp refill finds nothing (HIGHATOMIC is no fallback), and the buddy
    path takes the smallest HIGHATOMIC block, 0x4400.  No reservation (order 0).
    GFP_NOWAIT (ALLOC_NON_BLOCK without __GFP_HIGH) fails the min check (1536 <= 3238).
    """
    m = flat()
    z = m.zone("DMA32")
    empty_zone(m, z)
    for b in (0x4000, 0x4200, 0x4400):
        set_block(m, z, b, H)
        free_chunk(m, b, 9)
    assert lst(m, z, 10, H) == [0x4000] and lst(m, z, 9, H) == [0x4400]
    assert m.alloc_pages(G.GFP_NOWAIT, 0) is None
    assert m.alloc_pages(G.GFP_ATOMIC, 0) == 0x4400
    assert z.nr_reserved_highatomic == 1536
    m.check()


def test_unreserve_highatomic_pageblock():
    """unreserve_highatomic_pageblock() (pa.c:3486): unless ``force``, keep one
    pageblock; otherwise take the HIGHATOMIC free page of the smallest order, subtract
    max(pageblock_nr_pages, 1 << order) from nr_reserved_highatomic and move its
    pageblock to ac->migratetype (move_freepages_block for order < pageblock_order).

    Zone emptied; HIGHATOMIC pageblocks 0x4000 (free o3 at 0x4008) and 0x4200 (free
    o9).  Non-forced with 1024 reserved: the o3 page's block 0x4000 -> MOVABLE (512
    left reserved).  Non-forced again: nothing (512 <= pageblock).  Forced: 0x4200 ->
    MOVABLE, reserve 0.
    """
    m = flat()
    z, a = m.zone("DMA32"), m.alloc
    empty_zone(m, z)
    set_block(m, z, 0x4000, H)
    set_block(m, z, 0x4200, H)
    free_chunk(m, 0x4008, 3)
    free_chunk(m, 0x4200, 9)
    ac = AllocContext(GFP_MOVABLE, 2, M, a.zonelist, 0)
    assert a.unreserve_highatomic_pageblock(ac, False)
    assert m.pageblock_migratetype(0x4000) == M and lst(m, z, 3, M) == [0x4008]
    assert z.nr_reserved_highatomic == 512 and z.nr_free_highatomic == 512
    assert not a.unreserve_highatomic_pageblock(ac, False)
    assert a.unreserve_highatomic_pageblock(ac, True)
    assert m.pageblock_migratetype(0x4200) == M and lst(m, z, 9, M) == [0x4200]
    assert z.nr_reserved_highatomic == 0 and z.nr_free_highatomic == 0
    m.check()


# ====================================================================== zonelist walk
def test_zonelist_fallback_respects_lowmem_reserve():
    """get_page_from_freelist() (pa.c:3794) walks Normal -> DMA32 -> DMA, skipping a
    zone whose watermark check fails; the check (__zone_watermark_ok(), pa.c:3632)
    is against mark + z->lowmem_reserve[ac->highest_zoneidx].

    64M machine, DMA32 drained below its min watermark: GFP_KERNEL falls back to DMA,
    where the claim takes DMA's o10 head 0x400 whole.  Then DMA is drained to
    min + 10 free pages: GFP_KERNEL (highest_zoneidx 2, lowmem_reserve 14) fails even
    in the slow path (min + 14), GFP_DMA (highest_zoneidx 0, reserve 0) still gets a
    page there.
    """
    m = Machine(memory="64M", cpus=1)
    dma, dma32, a = m.zone("DMA"), m.zone("DMA32"), m.alloc

    def drain_to(z, target):
        while z.nr_free_pages > target:
            top = max(o for o in range(11) if (1 << o) <= z.nr_free_pages - target)
            for order in range(top, -1, -1):
                mt = next((t for t in (M, U, R) if lst(m, z, order, t)), None)
                if mt is not None:
                    p = a.rmqueue_smallest(z, order, mt)
                    a.post_alloc_hook(p, order, GFP_MOVABLE, mt)
                    break
            else:
                p = a.rmqueue_smallest(z, 0, next(t for t in (M, U, R)
                                                  if any(lst(m, z, o, t) for o in range(11))))
                a.post_alloc_hook(p, 0, GFP_MOVABLE, M)

    drain_to(dma32, dma32.min_wmark_pages() - 1)
    assert m.alloc_pages(GFP_KERNEL, 0) == 0x400
    assert dma.lowmem_reserve[2] == 14 and dma.lowmem_reserve[0] == 0
    m.drain_all_pages()                  # pcp pages go back: push DMA32 below min again
    drain_to(dma32, dma32.min_wmark_pages() - 1)
    drain_to(dma, dma.min_wmark_pages() + 10)
    m.tick(1.0)                          # vmstat_update folds the per-CPU NR_FREE_PAGES deltas
    assert dma.nr_free_pages == dma.min_wmark_pages() + 10
    assert m.alloc_pages(GFP_KERNEL, 0) is None
    p = m.alloc_pages(G.GFP_KERNEL | G.__GFP_DMA, 0)
    assert p is not None and p < 0x1000
    m.check()


# ====================================================================== defrag_mode
def _flat_only_order8(m: Machine) -> list[int]:
    """flat zone holding only free o8 MOVABLE blocks (every other one of all o8 pairs)."""
    z, a = m.zone("DMA32"), m.alloc
    taken = []
    while True:
        p = a.rmqueue_smallest(z, 8, M)
        if p == NIL:
            break
        a.post_alloc_hook(p, 8, GFP_MOVABLE, M)
        taken.append(p)
    for p in taken:
        if not p & 256:
            m.free_pages(p, 8)
    assert z.nr_free_pages == 32768 and z.nr_free[8] == 128
    return taken


def test_defrag_mode_nonblocking_request_falls_back_after_slowpath():
    """defrag_mode=1: alloc_flags_nofragment() (pa.c:3752) and gfp_to_alloc_flags()
    (pa.c:4578) always set ALLOC_NOFRAGMENT and get_page_from_freelist() never drops
    it (pa.c:3976).  flat zone with 32768 free pages, all in o8 MOVABLE blocks: no
    claim at >= pageblock_order is possible, so GFP_NOWAIT order 0 fails fast path and
    first slow-path attempt; then (no direct reclaim, KSWAPD_RECLAIM set) the slow path
    drops ALLOC_NOFRAGMENT and retries: the claim takes the head o8 block B (free 256
    + alike 255 >= 256) and B is returned.
    """
    m = flat(defrag_mode=1)
    z = m.zone("DMA32")
    _flat_only_order8(m)
    head = lst(m, z, 8, M)[0]
    assert m.alloc_pages(G.GFP_NOWAIT, 0) == head
    assert m.pageblock_migratetype(head) == U


def test_defrag_mode_blocks_fallback_in_fast_path():
    """get_page_from_freelist() (pa.c:3976): with defrag_mode the ALLOC_NOFRAGMENT pass
    is not retried without it, so a request that would have to fall back below
    pageblock_order gets nothing from get_page_from_freelist()."""
    m = flat(defrag_mode=1)
    z, a = m.zone("DMA32"), m.alloc
    _flat_only_order8(m)
    hz, mt, pref, flags = a.prepare_alloc(GFP_KERNEL)[:4]
    assert flags & G.ALLOC_NOFRAGMENT
    ac = AllocContext(GFP_KERNEL, hz, mt, a.zonelist, pref)
    assert a.get_page_from_freelist(GFP_KERNEL, 0, flags, ac) == NIL
    assert z.nr_free[8] == 128
    m2 = flat()
    _flat_only_order8(m2)
    assert m2.alloc_pages(GFP_KERNEL, 0) is not None


def test_defrag_mode_wakes_kswapd_for_pageblock_order():
    """wake_all_kswapds() (pa.c:4507): in defrag_mode kswapd is asked to reclaim (and
    kcompactd to compact) for at least pageblock_order.  flat zone taken below the low
    watermark: GFP_KERNEL order 0 enters the slow path -> mm_vmscan_wakeup_kswapd with
    order 9."""
    m = flat(defrag_mode=1)
    z, a = m.zone("DMA32"), m.alloc
    while z.nr_free_pages > 4000:
        p = a.rmqueue_smallest(z, 9, M)
        a.post_alloc_hook(p, 9, GFP_MOVABLE, M)
    ev = record(m)
    assert m.alloc_pages(GFP_KERNEL, 0) is not None
    wakes = named(ev, "mm_vmscan_wakeup_kswapd")
    assert wakes and all(w[2] == 9 for w in wakes)
