"""Tests of pagealloc.mm.page_isolation against Linux 7.2's mm/page_isolation.c.

Each test names the kernel function (and its line in the 7.2 tree: ``pi.c`` =
mm/page_isolation.c, ``pa.c`` = mm/page_alloc.c, ``co.c`` = mm/compaction.c) whose rule it
pins; expected values were derived by hand from the 7.2 source.

Machine: ``Machine(memory="256M", cpus=2)``.  At boot DMA32 (0x1000-0xffd7) holds order-10
MOVABLE blocks from 0x3000 upwards; ``X = 0xc000`` and its neighbours ``X - 0x400`` and
``X + 0x400`` are free order-10 blocks (checked by :func:`machine`).

``m.check()`` runs every invariant of pagealloc/mm/debug.py; two free order-9 buddies in
isolated pageblocks are legal there (7.2 leaves them unmerged: ``__move_freepages_block()``
never merges, pi.c:235-240, and ``unset_migratetype_isolate()`` merges them on unisolation).
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm import page_isolation as PI
from pagealloc.mm.freetype import (
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_UNMOVABLE,
)
from pagealloc.mm.mmzone import (
    KIND_MOVABLE,
    NIL,
    PAGEBLOCK_ORDER,
    PB_MIGRATE_ISOLATE,
    PS_ALLOC,
    PS_BUDDY,
    PS_MASK,
    Zone,
)
from pagealloc.mm.page_alloc import FPI_NONE

M, U, ISO = MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, MIGRATE_ISOLATE
EBUSY = PI.EBUSY
X = 0xC000
BLK = 512
BIG = os.environ.get("PAGEALLOC_STRESS") == "1"


# ---------------------------------------------------------------------- helpers
def check(m: Machine) -> None:
    """m.check(): every invariant."""
    m.check()


def machine() -> tuple[Machine, Zone]:
    m = Machine(memory="256M", cpus=2)
    z = m.zone("DMA32")
    for pfn in (X - 1024, X, X + 1024):
        assert m.mem.pstate[pfn] == PS_BUDDY | 10 and m.pageblock_migratetype(pfn) == M
    return m, z


def blocks(m: Machine, z: Zone, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """Free blocks (pfn, order, list index) with lo <= pfn < hi, by pfn."""
    return sorted((pfn, o, idx) for o, idx, pfn in m.free_blocks(z) if lo <= pfn < hi)


def lst(m: Machine, z: Zone, order: int, mt: int) -> list[int]:
    return m.mem.list_entries(z.buddy_list(order, mt))


def type_bits(m: Machine, pfn: int) -> int:
    return m.mem.pb[pfn >> PAGEBLOCK_ORDER] & 7


def record(m: Machine) -> list[tuple[str, tuple[int, ...]]]:
    ev: list[tuple[str, tuple[int, ...]]] = []
    m.attach(lambda name, cpu, args: ev.append((name, args)))
    return ev


def in_use(m: Machine, pfn: int, order: int, gfp: int, movable: bool | None = None) -> None:
    """Make ``[pfn, pfn + 2^order)`` one in-use block allocated with ``gfp``: taken with
    alloc_contig_range() and given the state prep_new_page() leaves on an order-n block
    (head PS_ALLOC|order with the request's kind bits, tails 0); ``movable`` overrides
    PageLRU like Machine.alloc_pages(movable=...)."""
    assert PI.alloc_contig_range(m.alloc, pfn, pfn + (1 << order)) == 0
    mem = m.mem
    for p in range(pfn + 1, pfn + (1 << order)):
        mem.pstate[p] = mem.pkind[p] = 0
    mem.pstate[pfn] = PS_ALLOC | order
    kind = m.alloc.prepare_alloc(gfp)[5]
    if movable is not None:
        kind = (kind | KIND_MOVABLE) if movable else (kind & ~KIND_MOVABLE)
    mem.pkind[pfn] = kind


def make_cma(m: Machine, z: Zone, pfn: int) -> None:
    """Turn the free order-10 MOVABLE block at ``pfn`` into two CMA pageblocks, the way
    init_cma_reserved_pageblock() hands pageblocks to the buddy allocator (type CMA, then
    freed; the two halves merge)."""
    a = m.alloc
    a.del_page_from_free_list(pfn, z, 10, M)
    a.set_pageblock_migratetype(pfn, MIGRATE_CMA)
    a.set_pageblock_migratetype(pfn + BLK, MIGRATE_CMA)
    a._free_one_page(pfn, z, 10, MIGRATE_CMA, FPI_NONE)
    check(m)


# ---------------------------------------------------------------------- isolate / unisolate
def test_set_migratetype_isolate_parks_free_pages_on_isolate_list() -> None:
    """set_migratetype_isolate() (pi.c:172) -> pageblock_isolate_and_move_free_pages()
    (pa.c:2151) -> __move_freepages_block_isolate() (pa.c:2133-2148): every free block of
    the pageblock moves to the ISOLATE lists and out of NR_FREE_PAGES, the PB_migrate_isolate
    bit is set while the migratetype bits keep MOVABLE, nr_isolate_pageblock counts it.  An
    in-use movable page does not stop it (pi.c:108)."""
    m, z = machine()
    a = m.alloc
    assert PI.alloc_contig_range(a, X + 100, X + 101) == 0       # pfn X+100 in use
    m.mem.pkind[X + 100] |= KIND_MOVABLE                           # ... and PageLRU
    m.drain_all_pages()
    check(m)
    pieces = [(X, 6), (X + 64, 5), (X + 96, 2), (X + 101, 0), (X + 102, 1), (X + 104, 3),
              (X + 112, 4), (X + 128, 7), (X + 256, 8)]
    assert blocks(m, z, X, X + BLK) == [(p, o, M) for p, o in pieces]
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, X, X + BLK, PI.PB_ISOLATE_MODE_OTHER) == 0
    assert blocks(m, z, X, X + BLK) == [(p, o, ISO) for p, o in pieces]
    assert blocks(m, z, X + BLK, X + 2 * BLK) == [(X + BLK, 9, M)]
    assert free_before - z.nr_free_pages == 511
    assert m.pageblock_migratetype(X) == ISO and type_bits(m, X) == M
    assert z.nr_isolate_pageblock == 1
    assert PI.set_migratetype_isolate(a, X, PI.PB_ISOLATE_MODE_OTHER, X, X + BLK) == -EBUSY  # pi.c:188
    check(m)


def test_unset_migratetype_isolate_restores_type_at_list_tails() -> None:
    """unset_migratetype_isolate() (pi.c:222) without a mergeable >= pageblock buddy:
    pageblock_unisolate_and_move_free_pages() (pa.c:2156, 2137-2148) moves each free block
    back to the remembered type's list with move_to_free_list(), i.e. to the TAIL, and clears
    the bit; nr_isolate_pageblock drops; NR_FREE_PAGES is as before.  While X's block is
    isolated, the same fragments of block Y = X - 0x400 reach the MOVABLE tails; after the
    undo X's fragments are behind them."""
    m, z = machine()
    a = m.alloc
    Y = X - 1024
    assert PI.alloc_contig_range(a, X + 100, X + 101) == 0
    m.mem.pkind[X + 100] |= KIND_MOVABLE
    m.drain_all_pages()
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, X + 3, X + 4) == 0      # unaligned: the block of X+3
    assert PI.alloc_contig_range(a, Y + 100, Y + 101) == 0
    free_before -= 1                                                # Y+100 taken
    PI.undo_isolate_page_range(a, X + 3, X + 4)
    assert z.nr_free_pages == free_before and z.nr_isolate_pageblock == 0
    assert m.pageblock_migratetype(X) == M and not m.mem.pb[X >> PAGEBLOCK_ORDER] & PB_MIGRATE_ISOLATE
    pieces = blocks(m, z, X, X + BLK)
    assert len(pieces) == 9
    for pfn, order, idx in pieces:
        assert idx == M
        assert lst(m, z, order, M)[-2:] == [pfn - 1024, pfn], (hex(pfn), order)
    PI.unset_migratetype_isolate(a, X)                              # not isolated: nothing (pi.c:231)
    assert z.nr_isolate_pageblock == 0
    check(m)


def test_unset_migratetype_isolate_merges_through_putback() -> None:
    """unset_migratetype_isolate() (pi.c:242-257, 275-277): the block's head is a free
    order-9 buddy and its buddy block is free and not isolated, so it is taken off with
    __isolate_free_page() (pa.c:3123) and freed again with __putback_isolated_page()
    (pa.c:3173, FPI_TO_TAIL): the order-10 block comes back whole at the TAIL of the
    MOVABLE order-10 list."""
    m, z = machine()
    a = m.alloc
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, X, X + BLK) == 0
    assert blocks(m, z, X, X + 1024) == [(X, 9, ISO), (X + BLK, 9, M)]
    assert free_before - z.nr_free_pages == 512
    PI.undo_isolate_page_range(a, X, X + BLK)
    assert blocks(m, z, X, X + 1024) == [(X, 10, M)]
    assert lst(m, z, 10, M)[-1] == X
    assert z.nr_free_pages == free_before and z.nr_isolate_pageblock == 0
    check(m)


def test_two_isolated_halves_stay_unmerged_until_unisolated() -> None:
    """__move_freepages_block_isolate() (pa.c:2099) moves without merging: isolating both
    halves of an order-10 block leaves two order-9 ISOLATE buddies (pi.c:235-240).  Undo
    goes in pfn order: the first block's buddy is still isolated, so it is moved back
    (pa.c:2156); the second block's buddy no longer is, so __putback_isolated_page()
    merges the order-10 block again (pi.c:247-248, 277)."""
    m, z = machine()
    a = m.alloc
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, X, X + 1024) == 0
    assert blocks(m, z, X, X + 1024) == [(X, 9, ISO), (X + BLK, 9, ISO)]
    assert free_before - z.nr_free_pages == 1024 and z.nr_isolate_pageblock == 2
    check(m)
    PI.undo_isolate_page_range(a, X, X + 1024)
    assert blocks(m, z, X, X + 1024) == [(X, 10, M)]
    assert lst(m, z, 10, M)[-1] == X and z.nr_free_pages == free_before
    check(m)


@pytest.mark.parametrize("first_half", [True, False])
def test_straddling_free_order10_split_per_pageblock(first_half: bool) -> None:
    """find_large_buddy() (pa.c:2043) finds the order-10 buddy covering the block (the
    block's own start or the one before), and __move_freepages_block_isolate()
    (pa.c:2120-2131) takes it off, sets the bit, and split_large_buddy() (pa.c:1510) frees
    each pageblock half onto its own block's list: one ISOLATE, one MOVABLE."""
    m, z = machine()
    a = m.alloc
    iso = X if first_half else X + BLK
    other = X + BLK if first_half else X
    assert PI.find_large_buddy(a, X + BLK) == X
    assert PI.find_large_buddy(a, X + 700) == X
    assert PI.find_large_buddy(a, X) == X
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, iso, iso + BLK) == 0
    assert blocks(m, z, X, X + 1024) == sorted([(iso, 9, ISO), (other, 9, M)])
    assert free_before - z.nr_free_pages == 512
    assert PI.find_large_buddy(a, X + BLK) == X + BLK
    assert PI.find_large_buddy(a, X + 700) == X + BLK
    check(m)
    PI.undo_isolate_page_range(a, iso, iso + BLK)
    assert blocks(m, z, X, X + 1024) == [(X, 10, M)] and z.nr_free_pages == free_before
    check(m)


# ---------------------------------------------------------------------- unmovable pages
@pytest.mark.parametrize("gfp, order, movable, expect", [
    (G.GFP_KERNEL, 0, False, -EBUSY),                        # page_is_unmovable(): pi.c:116
    (G.GFP_KERNEL, 0, True, 0),                              # PageLRU/movable_ops: pi.c:108
    (G.GFP_KERNEL | G.__GFP_COMP, 2, False, -EBUSY),         # compound, !PageLRU: pi.c:66
    (G.GFP_HIGHUSER_MOVABLE | G.__GFP_COMP, 2, True, 0),     # compound LRU: pi.c:70-73
])
def test_has_unmovable_pages_decides(gfp: int, order: int, movable: bool, expect: int) -> None:
    """has_unmovable_pages() (pi.c:134) with page_is_unmovable() (pi.c:18): an in-use page
    that is neither PageLRU nor movable_ops refuses isolation with -EBUSY and nothing
    changes (pi.c:202-219); a movable one, pcp pages and free pages do not."""
    m, z = machine()
    a = m.alloc
    p = X + 100 & ~((1 << order) - 1)
    in_use(m, p, order, gfp, movable)
    blk = X
    before = (m.free_blocks(z), z.nr_free_pages, m.mem.pb[blk >> PAGEBLOCK_ORDER])
    assert PI.has_unmovable_pages(a, blk, blk + BLK) == (NIL if expect == 0 else p)
    assert PI.start_isolate_page_range(a, blk, blk + BLK) == expect
    if expect:
        assert (m.free_blocks(z), z.nr_free_pages, m.mem.pb[blk >> PAGEBLOCK_ORDER]) == before
        assert z.nr_isolate_pageblock == 0
    else:
        assert m.pageblock_migratetype(blk) == ISO and z.nr_isolate_pageblock == 1
    check(m)


def test_unmovable_page_outside_requested_part_of_first_block_counts() -> None:
    """isolate_single_pageblock() (pi.c:350-352) checks the WHOLE first and last pageblock
    for unmovable pages, not only the requested part; inner blocks are checked against the
    caller's range (pi.c:514-515)."""
    m, z = machine()
    a = m.alloc
    assert PI.alloc_contig_range(a, X + 10, X + 11) == 0          # unmovable (GFP_KERNEL)
    assert PI.start_isolate_page_range(a, X + 400, X + 500) == -EBUSY
    assert PI.set_migratetype_isolate(a, X, PI.PB_ISOLATE_MODE_OTHER, X + 400, X + 500) == 0
    PI.unset_migratetype_isolate(a, X)
    check(m)


def test_cma_pageblock_movable_only_for_cma_alloc() -> None:
    """has_unmovable_pages() (pi.c:143-153): a CMA pageblock counts as entirely movable for
    PB_ISOLATE_MODE_CMA_ALLOC, even with an unmovable page in it, and as unmovable (its first
    page) for any other mode, even when entirely free."""
    m, z = machine()
    a = m.alloc
    make_cma(m, z, X)
    assert PI.has_unmovable_pages(a, X, X + BLK, PI.PB_ISOLATE_MODE_OTHER) == X
    assert PI.start_isolate_page_range(a, X, X + BLK, PI.PB_ISOLATE_MODE_OTHER) == -EBUSY
    p = a.rmqueue_smallest(z, 0, MIGRATE_CMA)                      # an in-use CMA page ...
    m.mem.pstate[p] = PS_ALLOC
    m.mem.pkind[p] = U                                             # ... that is not movable
    assert X <= p < X + BLK
    assert PI.has_unmovable_pages(a, X, X + BLK, PI.PB_ISOLATE_MODE_CMA_ALLOC) == NIL
    cma_before = z.nr_free_cma_pages
    assert PI.start_isolate_page_range(a, X, X + BLK, PI.PB_ISOLATE_MODE_CMA_ALLOC) == 0
    assert cma_before - z.nr_free_cma_pages == 511                # account_freepages(): CMA too
    PI.undo_isolate_page_range(a, X, X + BLK)
    assert z.nr_free_cma_pages == cma_before and type_bits(m, X) == MIGRATE_CMA
    check(m)


def test_in_use_compound_straddling_the_boundary_fails() -> None:
    """isolate_single_pageblock() (pi.c:412-443): an in-use (non-hugetlb) compound page
    crossing the range boundary fails the isolation with -EBUSY and the block is unisolated
    again -- 7.2 does not migrate it here.  Both halves of an order-10 THP-like page."""
    m, z = machine()
    a = m.alloc
    p = m.alloc_pages(G.GFP_HIGHUSER_MOVABLE | G.__GFP_COMP, 10)
    assert p is not None
    before = (m.free_blocks(z), z.nr_free_pages)
    assert PI.has_unmovable_pages(a, p + BLK, p + 2 * BLK) == NIL   # tail of an LRU compound
    assert PI.start_isolate_page_range(a, p + BLK, p + 2 * BLK) == -EBUSY
    assert PI.start_isolate_page_range(a, p, p + BLK) == -EBUSY
    assert PI.start_isolate_page_range(a, p, p + 2 * BLK) == 0      # the whole page: fine
    PI.undo_isolate_page_range(a, p, p + 2 * BLK)
    assert (m.free_blocks(z), z.nr_free_pages) == before
    assert z.nr_isolate_pageblock == 0 and a.stats["vm_warn"] == 0
    check(m)


def test_in_use_non_compound_straddling_block_is_split_on_free() -> None:
    """page_is_unmovable() (pi.c:82-86): tails of a non-compound high-order page have
    refcount 0, so the second half of an unmovable order-10 allocation may be isolated
    (its head, in the first half, may not).  Freeing it, __free_pages_ok() ->
    split_large_buddy() (pa.c:1510) frees each pageblock with its own type; unisolating
    then merges the halves via __putback_isolated_page() (pi.c:247-277)."""
    m, z = machine()
    a = m.alloc
    p = m.alloc_pages(G.GFP_KERNEL, 10)
    assert p is not None and m.pageblock_migratetype(p) == U
    assert PI.start_isolate_page_range(a, p, p + BLK) == -EBUSY
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, p + BLK, p + 2 * BLK) == 0
    m.free_pages(p, 10)
    assert blocks(m, z, p, p + 1024) == [(p, 9, U), (p + BLK, 9, ISO)]
    assert z.nr_free_pages - free_before == 512
    check(m)
    PI.undo_isolate_page_range(a, p + BLK, p + 2 * BLK)
    assert blocks(m, z, p, p + 1024) == [(p, 10, U)]
    check(m)


# ---------------------------------------------------------------------- frees and pcp
def test_free_into_isolated_block_goes_to_isolate_list() -> None:
    """__free_frozen_pages() (pa.c:2962-2966): a page of an isolated pageblock bypasses the
    pcp lists and goes to free_one_page(), onto the ISOLATE list; NR_FREE_PAGES does not
    change (account_freepages() skips ISOLATE)."""
    m, z = machine()
    a = m.alloc
    assert PI.start_isolate_page_range(a, X, X + BLK) == 0
    assert PI.isolate_free_range(a, X + 8, X + 16) == 0
    assert all(m.mem.pstate[p] == PS_ALLOC for p in range(X + 8, X + 16))
    free0, pcp0 = z.nr_free_pages, z.pcp[1].count
    m.free_pages(X + 8, 0, cpu=1)
    assert z.pcp[1].count == pcp0 and z.nr_free_pages == free0
    assert (X + 8, 0, ISO) in blocks(m, z, X, X + BLK)
    check(m)


def test_pcp_pages_of_isolated_block_drain_to_isolate_list() -> None:
    """free_pcppages_bulk() (pa.c:1494-1503) re-reads the pageblock type, so pcp pages of a
    block isolated after they were freed land on the ISOLATE list at drain_all_pages()
    (pa.c:2747); before the drain test_pages_isolated() fails on them (pi.c:561-583), after
    it the whole block is one free order-9 ISOLATE buddy."""
    m, z = machine()
    a = m.alloc
    assert PI.alloc_contig_range(a, X, X + BLK) == 0
    for i in range(8):
        m.free_pages(X + i, 0, cpu=i & 1)                          # order-0 pcp pages
    PI.free_contig_range(a, X + 8, BLK - 8)     # chunks o3 (pcp), o4..o8 (buddy)
    on_pcp = [p for cpu in (0, 1) for _i, p in m.pcp_blocks(z, cpu) if X <= p < X + BLK]
    assert sorted(on_pcp) == list(range(X, X + 9))
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, X, X + BLK) == 0
    assert free_before - z.nr_free_pages == 512 - 16
    ev = record(m)
    assert PI.test_pages_isolated(a, X, X + BLK) == -EBUSY
    assert ev[-1] == ("test_pages_isolated", (X, X + BLK, X))
    free_iso = z.nr_free_pages
    m.drain_all_pages()
    assert z.nr_free_pages == free_iso
    assert blocks(m, z, X, X + BLK) == [(X, 9, ISO)]
    assert PI.test_pages_isolated(a, X, X + BLK) == 0
    assert ev[-1] == ("test_pages_isolated", (X, X + BLK, X + BLK))
    check(m)


# ---------------------------------------------------------------------- test_pages_isolated
def test_test_pages_isolated_only_when_every_page_is_free() -> None:
    """test_pages_isolated() (pi.c:604): every pageblock isolated (pi.c:627-636) and every
    page in a free buddy from start_pfn on (pi.c:556-587); an in-use page stops the walk at
    its pfn; start_pfn inside (not at the head of) a buddy fails at once."""
    m, z = machine()
    a = m.alloc
    assert PI.test_pages_isolated(a, X, X + BLK) == -EBUSY        # free but not isolated
    assert PI.start_isolate_page_range(a, X, X + BLK) == 0
    assert PI.test_pages_isolated(a, X, X + BLK) == 0
    assert PI.test_pages_isolated(a, X + 5, X + BLK) == -EBUSY    # inside the order-9 buddy
    assert PI.isolate_free_range(a, X + 200, X + 201) == 0         # one page in use
    ev = record(m)
    assert PI.test_pages_isolated(a, X, X + BLK) == -EBUSY
    assert ev[-1] == ("test_pages_isolated", (X, X + BLK, X + 200))
    assert PI.test_pages_isolated(a, X, X + 200) == 0
    PI.free_contig_range(a, X + 200, 1)
    assert PI.test_pages_isolated(a, X, X + BLK) == 0
    check(m)


def test_test_pages_isolated_unaligned_start_skips_last_block_check() -> None:
    """test_pages_isolated() (pi.c:627-631) steps pageblock_nr_pages from an unaligned
    start_pfn, so the isolate-bit check can miss the last block the range touches; the
    buddy walk (pi.c:641) then accepts a free, NOT isolated, block.  Kernel behaviour,
    reproduced."""
    m, z = machine()
    a = m.alloc
    assert PI.start_isolate_page_range(a, X, X + BLK) == 0
    assert PI.isolate_free_range(a, X, X + 256) == 0
    assert blocks(m, z, X, X + 1024) == [(X + 256, 8, ISO), (X + BLK, 9, M)]
    assert PI.test_pages_isolated(a, X + 256, X + 768) == 0       # block X+512 not checked
    assert PI.test_pages_isolated(a, X + 256, X + 1024) == -EBUSY
    check(m)


# ---------------------------------------------------------------------- contig cycle
def test_isolate_take_free_undo_cycle_restores_everything() -> None:
    """start_isolate_page_range() (pi.c:482) -> isolate_free_range() (the part of
    alloc_contig_frozen_range_noprof(), pa.c:7265-7287: find_large_buddy(),
    test_pages_isolated(), isolate_freepages_range() co.c:713, split and give back the
    parts outside the range) -> free_contig_range() (pa.c:7541, frees into the isolated
    blocks) -> undo_isolate_page_range() (pi.c:532): the free lists and NR_FREE_PAGES are
    exactly as before."""
    m, z = machine()
    a = m.alloc
    start, end = X + 100, X + 1500
    before = (m.free_blocks(z), z.nr_free_pages)
    free_before = z.nr_free_pages
    assert PI.start_isolate_page_range(a, start, end) == 0
    assert z.nr_isolate_pageblock == 3
    assert blocks(m, z, X, X + 2048) == [(X, 9, ISO), (X + 512, 9, ISO), (X + 1024, 9, ISO),
                                         (X + 1536, 9, M)]
    assert PI.isolate_free_range(a, start, end) == 0
    assert all(m.mem.pstate[p] == PS_ALLOC for p in range(start, end))
    assert a.vm_events.get("compact_isolated", 0) == 1536         # [X, X+1536) taken first
    # the outside parts went back onto the ISOLATE lists
    assert all(idx == ISO for _p, _o, idx in blocks(m, z, X, X + 1536))
    assert free_before - z.nr_free_pages == 1536
    check(m)
    PI.free_contig_range(a, start, end - start)
    assert free_before - z.nr_free_pages == 1536
    check(m)
    PI.undo_isolate_page_range(a, start, end)
    assert z.nr_isolate_pageblock == 0
    m.drain_all_pages()
    assert sorted(m.free_blocks(z)) == sorted(before[0]) and z.nr_free_pages == before[1]
    # block X came back whole as ISOLATE order 10: unisolating X splits it
    # (split_large_buddy), unisolating X+512 merges it again at the tail (putback); X+1024
    # merges with the MOVABLE X+1536 the same way
    assert lst(m, z, 10, M)[-2:] == [X, X + 1024]
    check(m)


def test_alloc_contig_range_then_free_contig_range() -> None:
    """alloc_contig_range_noprof() (pa.c:7321 -> 7164): isolate, drain, take, undo; the
    range is held as order-0 pages, the rest of its blocks is free again (after undo, on
    the MOVABLE lists, pa.c:7298-7299).  free_contig_range() (pa.c:7541) then frees chunks
    through the pcp lists where the order allows (pa.c:2977-2982); after a drain
    NR_FREE_PAGES is back."""
    m, z = machine()
    a = m.alloc
    free_before = z.nr_free_pages
    assert PI.alloc_contig_range(a, X + 1, X + 1000) == 0
    assert z.nr_isolate_pageblock == 0
    assert free_before - z.nr_free_pages == 999
    assert all(idx == M for _p, _o, idx in blocks(m, z, X, X + 1024))
    ev = record(m)
    PI.free_contig_range(a, X + 1, 999, cpu=1)
    frees = [args for name, args in ev if name == "mm_page_free"]
    assert frees == [(p, 0) for p in range(X + 1, X + 1000)]       # prepared page by page
    assert z.pcp[1].count > 0
    m.drain_all_pages()
    assert z.nr_free_pages == free_before
    assert blocks(m, z, X, X + 1024) == [(X, 10, M)]
    check(m)


def test_alloc_contig_range_busy_and_einval() -> None:
    """alloc_contig_frozen_range_noprof(): an in-use page in the range (no migration in the
    model) makes test_pages_isolated() fail, -EBUSY, everything unisolated (pa.c:7268-7271,
    7298); __GFP_COMP is refused by alloc_contig_range_noprof() (pa.c:7326), other
    modifiers by __alloc_contig_verify_gfp_mask() (pa.c:7101)."""
    m, z = machine()
    a = m.alloc
    p = m.alloc_pages(G.GFP_HIGHUSER_MOVABLE, 0)
    assert p is not None
    blk = p & ~(BLK - 1)
    m.drain_all_pages()
    before = z.nr_free_pages
    assert PI.alloc_contig_range(a, blk, blk + BLK) == -EBUSY
    assert z.nr_free_pages == before
    assert z.nr_isolate_pageblock == 0 and m.pageblock_migratetype(blk) == M
    assert PI.alloc_contig_range(a, X, X + 4, gfp=G.GFP_KERNEL | G.__GFP_COMP) == -PI.EINVAL
    assert PI.alloc_contig_range(a, X, X + 4, gfp=G.GFP_KERNEL | G.__GFP_NOFAIL) == -PI.EINVAL
    assert PI.alloc_contig_range(a, X, X + 4, gfp=G.GFP_HIGHUSER_MOVABLE | G.__GFP_NOWARN) == 0
    assert before - z.nr_free_pages == 4
    check(m)


def test_alloc_contig_range_failure_unisolates_foreign_blocks() -> None:
    """alloc_contig_frozen_range_noprof() (pa.c:7218-7220, 7298-7299): when
    start_isolate_page_range() fails, the ``done:`` path still runs
    undo_isolate_page_range(start, end), which unisolates blocks of the range that another
    user had isolated (here: block X+512, isolated first).  Kernel behaviour (6.1 has the
    same goto), reproduced."""
    m, z = machine()
    a = m.alloc
    assert PI.start_isolate_page_range(a, X + BLK, X + 2 * BLK) == 0
    assert PI.alloc_contig_range(a, X, X + 3 * BLK) == -EBUSY
    assert m.pageblock_migratetype(X + BLK) == M and z.nr_isolate_pageblock == 0
    check(m)


def test_isolate_freepages_range_strict_gives_back_on_hole() -> None:
    """isolate_freepages_range() (co.c:713) is strict: an in-use page in the range makes
    isolate_freepages_block() (co.c:629-665, 689-690) return 0 and everything taken so far is given
    back by release_free_list() (co.c:91, co.c:768-771)."""
    m, z = machine()
    a = m.alloc
    assert PI.start_isolate_page_range(a, X, X + 1024) == 0
    assert PI.isolate_free_range(a, X + 600, X + 601) == 0
    before = (sorted(m.free_blocks(z)), z.nr_free_pages)
    outer_end, freepages = PI.isolate_freepages_range(a, X, X + 1024)
    assert outer_end == 0 and all(not lst_ for lst_ in freepages)
    assert (sorted(m.free_blocks(z)), z.nr_free_pages) == before
    outer_end, freepages = PI.isolate_freepages_range(a, X, X + 600)
    assert outer_end == X + 600 and freepages[9] == [X] and freepages[6] == [X + BLK]
    PI.release_free_list(a, freepages)
    assert (sorted(m.free_blocks(z)), z.nr_free_pages) == before
    check(m)


def test_zone_straddling_block_refused() -> None:
    """prep_move_freepages_block() (pa.c:1975) refuses a pageblock that straddles the zone
    span, so pageblock_isolate_and_move_free_pages() fails (pa.c:2113-2114)."""
    m, _z = machine()
    dma = m.zone("DMA")
    assert dma.zone_start_pfn == 1
    assert not PI.pageblock_isolate_and_move_free_pages(m.alloc, dma, 0)
    assert m.pageblock_migratetype(0) == M
    check(m)


def test_6_1_profile_refused() -> None:
    """The module models 7.2's separate PB_migrate_isolate bit only."""
    m = Machine(memory="64M", cpus=1, profile="linux-6.1")
    with pytest.raises(NotImplementedError):
        PI.start_isolate_page_range(m.alloc, 0x2000, 0x2200)


# ---------------------------------------------------------------------- model findings
def test_debug_check_accepts_isolated_unmerged_order9_pair() -> None:
    """Isolating both halves of a free order-10 block leaves two order-9 buddies on the
    ISOLATE list, unmerged as in 7.2; the invariants accept it."""
    m, _z = machine()
    assert PI.start_isolate_page_range(m.alloc, X, X + 1024) == 0
    m.check()


def test_debug_highatomic_count_on_isolated_block() -> None:
    """An isolated HighAtomic block stays counted in nr_reserved_highatomic (7.2 keeps
    the type bits under the isolate bit)."""
    m, z = machine()
    p = m.alloc_pages(G.GFP_KERNEL, 3)
    assert p is not None
    m.alloc.reserve_highatomic_pageblock(p, 3, z)
    m.free_pages(p, 3)
    m.drain_all_pages()
    blk = p & ~(BLK - 1)
    assert PI.start_isolate_page_range(m.alloc, blk, blk + BLK) == 0
    m.check()


# ---------------------------------------------------------------------- Hypothesis
GFPS = {
    "unmovable": (G.GFP_KERNEL, None),
    "movable": (G.GFP_HIGHUSER_MOVABLE, None),
    "thp": (G.GFP_HIGHUSER_MOVABLE | G.__GFP_COMP, None),
    "reclaimable": (G.GFP_KERNEL | G.__GFP_RECLAIMABLE, None),
    "lru_kernel": (G.GFP_KERNEL, True),
}
ORDERS = [0, 0, 1, 2, 3, 4, 9, 10]


class IsolationMachine(RuleBasedStateMachine):
    """alloc / free / isolate / unisolate / test_pages_isolated / take (isolate_free_range)
    / alloc_contig_range / free_contig_range / drain on a 128M, 2-CPU machine, m.check()
    (with the 7.2 merge rule) after every step, plus: the isolated pageblocks are exactly
    those of the ranges this test isolated, nr_isolate_pageblock counts them, no VM_WARN,
    and free + isolated-free + pcp + handed-out pages add up to the boot NR_FREE_PAGES.  At
    the end everything is freed and unisolated and NR_FREE_PAGES is its boot value.

    No GFP_ATOMIC requests: a HIGHATOMIC block that gets isolated trips debug.py's
    HighAtomic count (see test_debug_highatomic_count_on_isolated_block)."""

    def __init__(self) -> None:
        super().__init__()
        self.m = Machine(memory="128M", cpus=2)
        self.z = self.m.zone("DMA32")
        self.m.check()
        self.boot_free = self.m.nr_free_pages()
        self.live: list[tuple[int, int, int]] = []            # (pfn, order, cpu)
        self.contig: list[tuple[int, int]] = []               # (pfn, nr) held order-0 pages
        self.isolated: list[tuple[int, int]] = []             # ranges we isolated

    def _blocks(self, start: int, end: int) -> set[int]:
        return set(range(start & ~(BLK - 1), PI.pageblock_align(end), BLK))

    def _owned_blocks(self) -> set[int]:
        out: set[int] = set()
        for s, e in self.isolated:
            out |= self._blocks(s, e)
        return out

    def _range(self, data: st.DataObject) -> tuple[int, int]:
        z = self.z
        lo = z.zone_start_pfn
        hi = z.zone_end_pfn
        if data.draw(st.booleans(), label="free_area"):
            lo, hi = 0x3000, 0x7D00                 # 128M: the unreserved part of DMA32
        start = data.draw(st.integers(lo, hi - 1), label="start")
        if data.draw(st.booleans(), label="aligned"):
            start &= ~(BLK - 1)
            start = max(start, lo)
        n = data.draw(st.integers(1, 2048), label="nr")
        return start, min(start + n, hi)

    @rule(kind=st.sampled_from(sorted(GFPS)), order=st.sampled_from(ORDERS), cpu=st.integers(0, 1))
    def alloc(self, kind: str, order: int, cpu: int) -> None:
        gfp, movable = GFPS[kind]
        pfn = self.m.alloc_pages(gfp, order, cpu, movable=movable)
        if pfn is not None:
            self.live.append((pfn, order, cpu))

    @precondition(lambda self: self.live)
    @rule(data=st.data(), cpu=st.integers(0, 1))
    def free(self, data: st.DataObject, cpu: int) -> None:
        i = data.draw(st.integers(0, len(self.live) - 1), label="victim")
        pfn, order, _ = self.live.pop(i)
        self.m.free_pages(pfn, order, cpu)

    @rule(data=st.data())
    def isolate(self, data: st.DataObject) -> None:
        start, end = self._range(data)
        owned = self._owned_blocks()
        ret = PI.start_isolate_page_range(self.m.alloc, start, end)
        assert ret in (0, -EBUSY)
        if ret == 0:
            assert not (self._blocks(start, end) & owned)     # pi.c:188: never twice
            self.isolated.append((start, end))

    @precondition(lambda self: self.isolated)
    @rule(data=st.data())
    def unisolate(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.isolated) - 1), label="range")
        start, end = self.isolated.pop(i)
        PI.undo_isolate_page_range(self.m.alloc, start, end)

    @precondition(lambda self: self.isolated)
    @rule(data=st.data())
    def check_isolated(self, data: st.DataObject) -> None:
        start, end = data.draw(st.sampled_from(self.isolated), label="range")
        if PI.test_pages_isolated(self.m.alloc, start, end) == 0:
            pfn = start
            while pfn < end:
                s = self.m.mem.pstate[pfn]
                assert s & PS_MASK == PS_BUDDY
                pfn += 1 << (s & 0xF)

    @precondition(lambda self: self.isolated)
    @rule(data=st.data(), cpu=st.integers(0, 1))
    def take(self, data: st.DataObject, cpu: int) -> None:
        start, end = data.draw(st.sampled_from(self.isolated), label="range")
        self.m.alloc.drain_all_pages(self.z)
        if PI.isolate_free_range(self.m.alloc, start, end, cpu=cpu) == 0:
            assert all(self.m.mem.pstate[p] == PS_ALLOC for p in range(start, end))
            self.contig.append((start, end - start))

    @rule(data=st.data(), cpu=st.integers(0, 1))
    def alloc_contig(self, data: st.DataObject, cpu: int) -> None:
        start, end = self._range(data)
        if self._blocks(start, end) & self._owned_blocks():
            return        # its failure path would unisolate our blocks (pa.c:7298)
        if PI.alloc_contig_range(self.m.alloc, start, end, cpu=cpu) == 0:
            self.contig.append((start, end - start))

    @precondition(lambda self: self.contig)
    @rule(data=st.data(), cpu=st.integers(0, 1))
    def free_contig(self, data: st.DataObject, cpu: int) -> None:
        i = data.draw(st.integers(0, len(self.contig) - 1), label="contig")
        pfn, nr = self.contig.pop(i)
        PI.free_contig_range(self.m.alloc, pfn, nr, cpu)

    @rule()
    def drain(self) -> None:
        self.m.drain_all_pages()

    @invariant()
    def model_invariants(self) -> None:
        m = self.m
        check(m)
        owned = self._owned_blocks()
        iso = {b for b in range(self.z.zone_start_pfn & ~(BLK - 1), self.z.zone_end_pfn, BLK)
               if m.pageblock_migratetype(b) == ISO}
        assert iso == owned
        assert self.z.nr_isolate_pageblock == len(owned)
        assert m.alloc.stats["vm_warn"] == 0          # no VM_WARN on any isolation path
        handed = sum(1 << o for _p, o, _c in self.live) + sum(n for _p, n in self.contig)
        on_pcp = sum(p.count for z in m.populated_zones() for p in z.pcp)
        isolated_free = sum(1 << o for z in m.populated_zones()
                            for o, idx, _p in m.free_blocks(z) if idx == ISO)
        assert m.nr_free_pages() + isolated_free + on_pcp + handed == self.boot_free

    def teardown(self) -> None:
        m = self.m
        for pfn, order, cpu in self.live:
            m.free_pages(pfn, order, cpu)
        for pfn, nr in self.contig:
            PI.free_contig_range(m.alloc, pfn, nr)
        for start, end in self.isolated:
            PI.undo_isolate_page_range(m.alloc, start, end)
        m.drain_all_pages()
        check(m)
        assert self.z.nr_isolate_pageblock == 0
        assert m.nr_free_pages() == self.boot_free


IsolationMachine.TestCase.settings = settings(
    max_examples=300 if BIG else 40,
    stateful_step_count=80 if BIG else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestIsolationMachine = IsolationMachine.TestCase


def test_alloc_contig_range_migrates_movable_pages_out() -> None:
    """__alloc_contig_migrate_range() (pa.c, 7.2): in-use LRU folios of the range are
    isolated and migrated (MIGRATE_SYNC, MR_CONTIG_RANGE) to pages outside it, clean page
    cache is dropped instead (reclaim_clean_pages_from_list()); the owners follow; a
    pinned (unowned) movable page keeps the range busy."""
    m = Machine(memory="128M", cpus=1)
    m.alloc.step_check = m.check
    anon = [m.alloc_owned("anon") for _ in range(600)]
    files = [m.alloc_owned("file") for _ in range(200)]
    assert None not in anon and None not in files
    pfns = {h: m.owner_pfn(h) for h in anon + files}          # type: ignore[misc]
    lo = min(p for p in pfns.values() if p is not None) & ~(BLK - 1)
    hi = lo + 2 * BLK
    inside = [h for h, p in pfns.items() if p is not None and lo <= p < hi]
    assert len(inside) > 300
    assert PI.alloc_contig_range(m.alloc, lo, hi) == 0
    ev = m.vm_events()
    moved = [h for h in inside if m.owners.kind(h) == 1]      # OWN_ANON
    assert ev["pgmigrate_success"] == len(moved)
    for h in inside:
        p = m.owner_pfn(h)
        if m.owners.kind(h) == 1:
            assert p is not None and not lo <= p < hi          # migrated out
        else:
            assert p is None                                   # clean page cache dropped
    for p in range(lo, hi):
        assert m.mem.pstate[p] == PS_ALLOC                     # the range is ours
    PI.free_contig_range(m.alloc, lo, hi - lo)
    m.check()
    # a pinned movable page (no owner to follow it) keeps its block busy
    pinned = m.alloc_pages("GFP_HIGHUSER_MOVABLE", 0)
    assert pinned is not None
    blk = pinned & ~(BLK - 1)
    assert PI.alloc_contig_range(m.alloc, blk, blk + BLK) == -EBUSY
    assert m.mem.pstate[pinned] == PS_ALLOC
    m.check()
