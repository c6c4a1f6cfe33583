"""Tests of the compaction model (pagealloc/mm/compaction.py, Linux 7.2 mm/compaction.c).

Each test is named for the kernel behaviour it pins.  States are built on small machines
by filling memory with allocations that can neither reclaim nor compact
(``GFP_HIGHUSER_MOVABLE`` without ``__GFP_RECLAIM``), splitting the pageblock-sized
blocks into order-0 pages and handing some of them to owners (``Owners.new``: an anon
folio on the LRU, which compaction can migrate); pages nobody owns are pinned.  The
invariant checker runs after every compaction step (``alloc.step_check``).
"""
from __future__ import annotations

import random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pagealloc.machine import Machine
from pagealloc.mm import compaction as C
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, freetype_idx
from pagealloc.mm.mmzone import (
    NIL,
    PAGEBLOCK_NR_PAGES,
    PS_ALLOC,
    PS_ISOLATED,
    Zone,
)
from pagealloc.mm.owners import OWN_ANON
from pagealloc.mm.page_alloc import AllocContext
from pagealloc.mm.tracepoints import TraceRecorder, format_event

NORECLAIM = G.GFP_HIGHUSER_MOVABLE & ~G.__GFP_RECLAIM
NORECLAIM_KERNEL = G.GFP_KERNEL & ~G.__GFP_RECLAIM
ALLOC_FLAGS = G.ALLOC_WMARK_MIN | G.ALLOC_CMA


# ---------------------------------------------------------------------- state builders
def fill(m: Machine) -> tuple[list[int], list[int]]:
    """Allocate (unowned) order-9 blocks, then order-0 pages, until the watermarks stop
    both, draining the pcp lists between rounds; return (order-9 heads, order-0 pfns)."""
    blocks: list[int] = []
    small: list[int] = []
    while True:
        n = len(blocks) + len(small)
        for order, out in ((9, blocks), (0, small)):
            while True:
                p = m.alloc_pages(NORECLAIM, order)
                if p is None:
                    break
                out.append(p)
        m.drain_all_pages()
        if len(blocks) + len(small) == n:
            return blocks, small


def zone_blocks(m: Machine, zone: Zone, blocks: list[int]) -> list[int]:
    return sorted(b for b in blocks if zone.zone_spans_pfn(b))


def adopt(m: Machine, pfn: int) -> int:
    """Hand an allocated order-0 page to a new anon owner (a movable LRU folio)."""
    return m.owners.new(pfn, 0, OWN_ANON, m.mem.pb_zone[pfn >> 9])


def movable_ac(m: Machine) -> AllocContext:
    ac = m.alloc.prepare_alloc(G.GFP_HIGHUSER_MOVABLE)[4]
    assert ac is not None
    return ac


def free_order9_blocks(m: Machine, zone: Zone) -> int:
    return sum(1 << (o - 9) for o, _idx, _pfn in m.free_blocks(zone) if o >= 9)


def unmovable_block_state() -> tuple[Machine, Zone, int, list[int]]:
    """The anon pages to evacuate sit in an UNMOVABLE pageblock B (the lowest one of
    DMA32); every MOVABLE block has a pinned page every 64 pages and is otherwise free.

    Returns (machine, DMA32, B, the owner handles left in B)."""
    m = Machine(memory="128M", cpus=1)
    blocks, _ = fill(m)
    dma32 = m.zone("DMA32")
    blocks = zone_blocks(m, dma32, blocks)
    b = blocks[0]
    for p in blocks:
        m.split_page(p, 9)
    m.alloc.set_pageblock_migratetype(b, MIGRATE_UNMOVABLE)   # a block with no free page
    hs = [adopt(m, p) for p in range(b, b + PAGEBLOCK_NR_PAGES)]
    for h in hs[1::2]:
        m.free_owned(h)
    for blk in blocks[1:]:
        for p in range(blk, blk + PAGEBLOCK_NR_PAGES):
            if p % 64:
                m.free_pages(p, 0)
    m.drain_all_pages()
    m.check()
    assert free_order9_blocks(m, dma32) == 0
    return m, dma32, b, hs[0::2]


def scattered_anon_state(memory: str = "128M", pinned_every_block: int = 4, keep: float = 0.4,
                         seed: int = 1, **kw: object) -> tuple[Machine, Zone, dict[int, int], list[int]]:
    """DMA32's blocks full of anon pages of which a random ``keep`` share stays; every
    ``pinned_every_block``-th block keeps one unowned (pinned) page at offset 100.

    Returns (machine, DMA32, handle -> content byte, pinned pfns)."""
    m = Machine(memory=memory, cpus=1, **kw)   # type: ignore[arg-type]
    blocks, _ = fill(m)
    dma32 = m.zone("DMA32")
    blocks = zone_blocks(m, dma32, blocks)
    rnd = random.Random(seed)
    pinned: list[int] = []
    handles: dict[int, int] = {}
    data = m.contents.data if m.contents is not None else None
    for i, blk in enumerate(blocks):
        m.split_page(blk, 9)
        for p in range(blk, blk + PAGEBLOCK_NR_PAGES):
            if i % pinned_every_block == 0 and p - blk == 100:
                pinned.append(p)
                continue
            h = adopt(m, p)
            if rnd.random() < keep:
                handles[h] = 2 + h % 250
                if data is not None:
                    data[p] = handles[h]
            else:
                m.free_owned(h)
    m.drain_all_pages()
    m.check()
    return m, dma32, handles, pinned


# ---------------------------------------------------------------------- deferral
def test_defer_compaction_backoff_grows_to_64_and_compaction_restarting() -> None:
    m = Machine(memory="64M", cpus=1)
    alloc = m.alloc
    z = m.zone("DMA32")
    rec = TraceRecorder()
    m.attach(rec)
    for i in range(1, 8):
        C.defer_compaction(alloc, z, 9)
        assert z.compact_defer_shift == min(i, C.COMPACT_MAX_DEFER_SHIFT)
        assert z.compact_considered == 0
    assert z.compact_order_failed == 0          # min(order_failed=0, 9)
    # orders below compact_order_failed are never deferred; raise it as a success would
    C.compaction_defer_reset(alloc, z, 8, False)
    assert (z.compact_order_failed, z.compact_defer_shift) == (9, 6)
    assert not C.compaction_deferred(alloc, z, 8)
    deferred = [C.compaction_deferred(alloc, z, 9) for _ in range(64)]
    assert deferred == [True] * 63 + [False]
    assert z.compact_considered == 64
    assert C.compaction_restarting(z, 9) and not C.compaction_restarting(z, 8)
    assert not C.compaction_deferred(alloc, z, 9)     # stays at the limit
    C.compaction_defer_reset(alloc, z, 9, True)
    assert (z.compact_considered, z.compact_defer_shift, z.compact_order_failed) == (0, 0, 10)
    lines = [format_event(n, a) for n, _c, a in rec.events if n.startswith("mm_compaction")]
    assert lines[0] == ("mm_compaction_defer_compaction: node=0 zone=DMA32    order=9 "
                        "order_failed=0 consider=0 limit=2")
    assert ("mm_compaction_deferred: node=0 zone=DMA32    order=9 order_failed=9 consider=63 "
            "limit=64") in lines
    assert lines[-1] == ("mm_compaction_defer_reset: node=0 zone=DMA32    order=9 "
                         "order_failed=10 consider=0 limit=1")


def test_try_to_compact_pages_skips_deferred_zone_above_min_priority() -> None:
    m, dma32, b, _ = unmovable_block_state()
    dma32.compact_defer_shift = 3
    dma32.compact_considered = 0
    ac = movable_ac(m)
    rc, page = C.try_to_compact_pages(m.alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS, ac,
                                      C.COMPACT_PRIO_SYNC_LIGHT)
    assert (rc, page) == (C.COMPACT_DEFERRED, NIL)
    assert dma32.compact_considered == 1
    # MIN_COMPACT_PRIORITY ignores deferral
    rc, page = C.try_to_compact_pages(m.alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS, ac,
                                      C.COMPACT_PRIO_SYNC_FULL)
    assert rc == C.COMPACT_SUCCESS and page == b
    assert C.try_to_compact_pages(m.alloc, G.GFP_NOIO, 9, 0, ac, C.COMPACT_PRIO_SYNC_FULL) \
        == (C.COMPACT_SKIPPED, NIL)                 # gfp_compaction_allowed(): no __GFP_IO


# ---------------------------------------------------------------------- suitability
def test_fragmentation_index_and_extfrag_for_order_hand_computed() -> None:
    z = Zone(1, "DMA32", 0)
    z.nr_free = [100, 50, 10] + [0] * 8
    # free_pages = 100 + 100 + 40 = 240, 160 blocks, none >= order 9:
    # 1000 - (1000 + 240 * 1000 / 512) / 160 = 1000 - (1000 + 468) / 160 = 1000 - 9
    assert C.fragmentation_index(z, 9) == 991
    assert C.fragmentation_score_zone(z) == 100
    assert C.fragmentation_index(z, 2) == -1000        # order-2 blocks are free
    # 1000 - (1000 + 240 * 1000 / 8) / 160 = 1000 - 31000 / 160 = 1000 - 193
    assert C.fragmentation_index(z, 3) == 807
    z.nr_free[10] = 1
    assert C.fragmentation_index(z, 9) == -1000
    # (1264 - 2 * 512) * 100 / 1264
    assert C.fragmentation_score_zone(z) == 18
    z.nr_free = [0] * 11
    assert C.fragmentation_index(z, 9) == 0


def test_compaction_suitable_watermark_gap_and_extfrag_threshold() -> None:
    m = Machine(memory="128M", cpus=1)
    alloc = m.alloc
    z = m.zone("DMA32")
    hz = z.idx
    low, mn = z.low_wmark_pages(), z.min_wmark_pages()
    # costly order: min + compact_gap(9) + (low - min) = low + 1024 must be exceeded
    assert not C.__compaction_suitable(alloc, z, 9, mn, hz, low + 1024)
    assert C.__compaction_suitable(alloc, z, 9, mn, hz, low + 1025)
    # non-costly order: min + 2 << 3
    assert not C.__compaction_suitable(alloc, z, 3, mn, hz, mn + 16)
    assert C.__compaction_suitable(alloc, z, 3, mn, hz, mn + 17)
    rec = TraceRecorder()
    m.attach(rec)
    # a fresh zone has free order-10 blocks: fragindex -1000, suitable
    assert C.compaction_suitable(alloc, z, 9, mn, hz)
    # fragindex 991 > 500: failure due to fragmentation -> suitable
    z.nr_free[:] = [100, 50, 10] + [0] * 8
    free = z.vm_nr_free_pages
    z.vm_nr_free_pages = low + 5000
    try:
        assert C.compaction_suitable(alloc, z, 9, mn, hz)
        m.alloc.compaction_sysctl = C.CompactionSysctl(extfrag_threshold=995)  # type: ignore[attr-defined]
        assert not C.compaction_suitable(alloc, z, 9, mn, hz)      # 0 <= 991 <= 995
        assert C.compaction_suitable(alloc, z, 3, mn, hz)          # not costly: no fragindex
        z.vm_nr_free_pages = low + 1024
        assert not C.compaction_suitable(alloc, z, 9, mn, hz)
    finally:
        z.vm_nr_free_pages = free
        del m.alloc.compaction_sysctl  # type: ignore[attr-defined]
    rets = [format_event(n, a) for n, _c, a in rec.events if n == "mm_compaction_suitable"]
    assert rets == [
        "mm_compaction_suitable: node=0 zone=DMA32    order=9 ret=continue",
        "mm_compaction_suitable: node=0 zone=DMA32    order=9 ret=continue",
        "mm_compaction_suitable: node=0 zone=DMA32    order=9 ret=not_suitable_zone",
        "mm_compaction_suitable: node=0 zone=DMA32    order=3 ret=continue",
        "mm_compaction_suitable: node=0 zone=DMA32    order=9 ret=skipped",
    ]


def test_compaction_suit_allocation_order_success_when_watermark_already_met() -> None:
    m = Machine(memory="128M", cpus=1)
    z = m.zone("DMA32")
    assert C.compaction_suit_allocation_order(m.alloc, z, 9, z.idx, ALLOC_FLAGS, False, False) \
        == C.COMPACT_SUCCESS


# ---------------------------------------------------------------------- direct compaction
def test_async_direct_compaction_only_migrates_from_movable_blocks_sync_does() -> None:
    """suitable_migration_source() (7.2): async direct compaction for a MOVABLE request
    scans only MOVABLE/CMA blocks, so the anon pages of an UNMOVABLE block stay; from
    COMPACT_PRIO_SYNC_LIGHT every block is a source and an order-9 page forms."""
    m, dma32, b, hs = unmovable_block_state()
    m.alloc.step_check = m.check
    ac = movable_ac(m)
    before = {h: m.owner_pfn(h) for h in hs}
    rc, page = C.try_to_compact_pages(m.alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS, ac,
                                      C.COMPACT_PRIO_ASYNC)
    assert page == NIL and rc in (C.COMPACT_COMPLETE, C.COMPACT_PARTIAL_SKIPPED)
    assert {h: m.owner_pfn(h) for h in hs} == before
    assert m.vm_events().get("pgmigrate_success", 0) == 0
    assert dma32.compact_defer_shift == 0                # async never defers
    rc, page = C.try_to_compact_pages(m.alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS, ac,
                                      C.COMPACT_PRIO_SYNC_LIGHT)
    assert (rc, page) == (C.COMPACT_SUCCESS, b)
    assert all(not b <= (m.owner_pfn(h) or 0) < b + 512 for h in hs)
    assert m.vm_events()["pgmigrate_success"] == len(hs)
    assert dma32.compact_order_failed == 10            # compaction_defer_reset(order 9)


def test_capture_hands_the_freed_pageblock_to_the_compactor() -> None:
    """compaction_capture(): the order-9 block freed when B's last pages leave is taken
    in __free_one_page() before it reaches a free list; it is held for the caller."""
    m, dma32, b, _ = unmovable_block_state()
    m.alloc.step_check = m.check
    rec = TraceRecorder()
    m.attach(rec)
    rc, page = C.try_to_compact_pages(m.alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS,
                                      movable_ac(m), C.COMPACT_PRIO_SYNC_FULL)
    assert (rc, page) == (C.COMPACT_SUCCESS, b)
    assert m.alloc.capc is None
    assert m.mem.pstate[b] == PS_ISOLATED | 9
    assert free_order9_blocks(m, dma32) == 0            # never on a free list
    m.check()
    # the captured block came from an UNMOVABLE block for a MOVABLE request: extfrag
    assert ("mm_page_alloc_extfrag", (b, 9, 9, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE)) in \
        [(n, a[:5]) for n, _c, a in rec.events]
    names = [n for n, _c, _a in rec.events]
    assert names[0] == "mm_compaction_try_to_compact_pages"
    assert "mm_compaction_begin" in names and names[-1] == "mm_compaction_defer_reset"
    # the caller prepares it (prep_new_page())
    m.alloc.post_alloc_hook(b, 9, G.GFP_HIGHUSER_MOVABLE, MIGRATE_MOVABLE)
    m.check()
    m.free_pages(b, 9)
    m.check()


def test_scanners_meeting_sets_blockskip_flush_and_resets_cached_positions() -> None:
    m, dma32, _, _ = unmovable_block_state()
    m.alloc.step_check = m.check
    dma32.compact_cached_migrate_pfn[:] = [dma32.zone_start_pfn + 4096] * 2
    rc, _ = C.try_to_compact_pages(m.alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS,
                                   movable_ac(m), C.COMPACT_PRIO_ASYNC)
    assert rc == C.COMPACT_PARTIAL_SKIPPED           # started from the cached position
    assert dma32.compact_blockskip_flush
    assert dma32.compact_cached_migrate_pfn == [dma32.zone_start_pfn] * 2
    assert dma32.compact_cached_free_pfn == (dma32.zone_end_pfn - 1) & ~511


def test_skip_bits_set_honoured_and_cleared_by_reset_isolation_suitable() -> None:
    m, dma32, b, _ = unmovable_block_state()
    alloc = m.alloc
    alloc.step_check = m.check
    ac = movable_ac(m)
    C.try_to_compact_pages(alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS, ac, C.COMPACT_PRIO_ASYNC)
    starts = range(dma32.zone_start_pfn, dma32.zone_end_pfn, PAGEBLOCK_NR_PAGES)
    skipped = [p for p in starts if C.get_pageblock_skip(alloc, p)]
    assert skipped and b not in skipped             # B was never a source for async
    scanned = m.vm_events()["compact_migrate_scanned"]
    # a second async pass honours the skip bits: the blocks are not scanned again
    C.try_to_compact_pages(alloc, G.GFP_HIGHUSER_MOVABLE, 9, ALLOC_FLAGS, ac, C.COMPACT_PRIO_ASYNC)
    assert m.vm_events()["compact_migrate_scanned"] - scanned < scanned
    assert dma32.compact_blockskip_flush
    C.reset_isolation_suitable(alloc)               # kswapd going to sleep
    assert not dma32.compact_blockskip_flush
    # every block still skipped has no buddy at any 8th page and no LRU page sampled
    left = [p for p in starts if C.get_pageblock_skip(alloc, p)]
    assert len(left) < len(skipped)
    for p in left:
        assert p < b
    assert dma32.compact_init_migrate_pfn == b       # the first block with an LRU page


def test_fast_isolate_freepages_rotates_the_movable_free_list() -> None:
    """move_freelist_head(): the entry taken from the tail end becomes the list head (the
    entries before it move to the tail) and is then isolated."""
    m, dma32, _, _ = unmovable_block_state()
    alloc = m.alloc
    order = 3
    lid = dma32.buddy_list(order, freetype_idx(MIGRATE_MOVABLE))
    cc = C.CompactControl(dma32, 4, G.GFP_HIGHUSER_MOVABLE, C.MIGRATE_SYNC_LIGHT,
                          search_order=4, direct_compaction=True)
    cc.migrate_pfn = dma32.zone_start_pfn
    cc.free_pfn = (dma32.zone_end_pfn - 1) & ~511
    cc.nr_migratepages = 1
    distance = cc.free_pfn - cc.migrate_pfn
    low_pfn = C.pageblock_start_pfn(cc.free_pfn - (distance >> 2))
    min_pfn = C.pageblock_start_pfn(cc.free_pfn - (distance >> 1))
    # order the list so that, from the tail: two entries below min_pfn (no candidates),
    # then one at or above low_pfn (the preferred top quarter)
    entries = m.mem.list_entries(lid)
    chosen = next(p for p in entries if p >= low_pfn)
    for p in [chosen] + [q for q in entries if q < min_pfn][:2]:
        m.mem.list_move_tail(p, lid)
    before = m.mem.list_entries(lid)
    i = before.index(chosen)
    assert len(before) > 10 and i == len(before) - 3
    C.fast_isolate_freepages(alloc, cc)
    assert cc.freepages[order] == [chosen] and cc.nr_freepages == 8
    assert m.mem.pstate[chosen] == PS_ISOLATED | order
    assert m.mem.list_entries(lid) == before[i + 1:] + before[:i]
    assert cc.fast_search_fail == 0 and cc.search_order == order
    C.release_free_list(alloc, cc.freepages)
    m.drain_all_pages()
    m.check()


def test_move_freelist_head_and_tail_are_the_kernels_list_cuts() -> None:
    m = Machine(memory="64M", cpus=1)
    mem = m.mem
    lid = mem.new_lists(1)
    for p in (10, 20, 30, 40, 50):
        mem.list_add_tail(lid, p)
    C.move_freelist_head(m.alloc, lid, 40)       # list_cut_before + list_splice_tail
    assert mem.list_entries(lid) == [40, 50, 10, 20, 30]
    C.move_freelist_tail(m.alloc, lid, 50)       # list_cut_position + list_splice_tail
    assert mem.list_entries(lid) == [10, 20, 30, 40, 50]
    C.move_freelist_head(m.alloc, lid, NIL)      # the cursor ended on the list head
    C.move_freelist_tail(m.alloc, lid, 50)       # already last
    assert mem.list_entries(lid) == [10, 20, 30, 40, 50]
    for p in (10, 20, 30, 40, 50):
        mem.list_del(p)


def test_isolate_migratepages_block_stops_at_compact_cluster_max() -> None:
    m, dma32, handles, _ = scattered_anon_state("64M", keep=1.0)
    cc = C.CompactControl(dma32, -1, G.GFP_KERNEL, C.MIGRATE_SYNC, ignore_skip_hint=True,
                          whole_zone=True)
    blk = next(p for p in range(dma32.zone_start_pfn, dma32.zone_end_pfn, 512)
               if m.mem.pstate[p] == PS_ALLOC and p in m.owners.pfn_h)
    assert C.isolate_migratepages_block(m.alloc, cc, blk, blk + 512, 0) == 0
    assert cc.nr_migratepages == C.COMPACT_CLUSTER_MAX == len(cc.migratepages)
    assert cc.migrate_pfn == blk + 32
    # list_add(): the folio isolated last is the list head
    assert m.owners.h_pfn[cc.migratepages[0]] == blk + 31
    assert m.owners.h_pfn[cc.migratepages[-1]] == blk
    C.putback_movable_pages(m.alloc, cc.migratepages)
    m.check()


# ---------------------------------------------------------------------- compact_memory
def test_compact_memory_frees_pageblocks_and_owners_follow_their_data() -> None:
    m, dma32, handles, pinned = scattered_anon_state("128M", init_on_free=True)
    assert m.contents is not None
    alloc = m.alloc
    alloc.step_check = m.check
    before = free_order9_blocks(m, dma32)
    pfns = {h: m.owner_pfn(h) for h in handles}
    C.compact_memory(alloc)
    alloc.step_check = None
    m.drain_all_pages()
    m.check()
    after = free_order9_blocks(m, dma32)
    assert after >= before + 10, (before, after)
    moved = [h for h in handles if m.owner_pfn(h) != pfns[h]]
    assert len(moved) > len(handles) // 4
    data = m.contents.data
    for h, byte in handles.items():
        pfn = m.owner_pfn(h)
        assert pfn is not None and m.mem.pstate[pfn] == PS_ALLOC
        assert data[pfn] == byte, (h, pfn)
    # pinned (unowned) pages were never moved
    for p in pinned:
        assert m.mem.pstate[p] == PS_ALLOC and p not in m.owners.pfn_h
    ev = m.vm_events()
    assert ev["pgmigrate_success"] == len(moved)
    assert ev["compact_migrate_scanned"] > 0 and ev["compact_free_scanned"] > 0
    assert ev["compact_isolated"] >= 2 * len(moved)


def test_compact_memory_never_moves_pinned_pages() -> None:
    """An allocated page without an owner cannot be isolated (folio_isolate_lru())."""
    m = Machine(memory="64M", cpus=1)
    blocks, small = fill(m)
    dma32 = m.zone("DMA32")
    for p in zone_blocks(m, dma32, blocks):
        m.split_page(p, 9)
        for q in range(p, p + 512):
            if q % 16:
                m.free_pages(q, 0)
    m.drain_all_pages()
    states = bytes(m.mem.pstate)
    m.alloc.step_check = m.check
    C.compact_memory(m.alloc)
    m.drain_all_pages()
    assert m.vm_events().get("pgmigrate_success", 0) == 0
    allocated = [i for i, s in enumerate(states) if s == PS_ALLOC]
    assert all(m.mem.pstate[i] == PS_ALLOC for i in allocated)


# ---------------------------------------------------------------------- kcompactd
def test_kcompactd_proactive_compaction_starts_above_high_score_stops_at_low() -> None:
    m, dma32, handles, _ = scattered_anon_state("128M", pinned_every_block=1000, keep=0.5)
    alloc = m.alloc
    alloc.step_check = m.check
    kd = C.Kcompactd(alloc, proactiveness=20)
    low, high = C.fragmentation_score_wmark(alloc, True), C.fragmentation_score_wmark(alloc, False)
    assert (low, high) == (80, 90)
    score0 = C.fragmentation_score_node(alloc)
    assert score0 > high
    assert kd.timeout(499_999_999, kswapd_running=False) == 0
    # kswapd running: no proactive compaction, the timeout is rearmed
    assert kd.timeout(500_000_000, kswapd_running=True) == 1
    assert kd.proactive_runs == 0
    assert kd.timeout(1_000_000_000, kswapd_running=False) == 1
    assert kd.proactive_runs == 1
    zscore = C.fragmentation_score_zone(dma32)
    assert low - 15 <= zscore <= low, zscore              # stopped at the low mark
    assert C.fragmentation_score_node(alloc) <= high
    ev = m.vm_events()
    assert ev["compact_daemon_migrate_scanned"] > 0 and ev["compact_daemon_free_scanned"] > 0
    assert kd.timeout(1_500_000_000, kswapd_running=False) == 1
    assert kd.proactive_runs == 1                           # below the high mark now
    m.check()


def test_kcompactd_proactive_backoff_when_score_does_not_improve() -> None:
    m = Machine(memory="128M", cpus=1)
    blocks, _ = fill(m)
    for p in blocks:                      # pinned pages everywhere: nothing can move
        m.split_page(p, 9)
        for q in range(p, p + 512, 2):
            m.free_pages(q, 0)
    m.drain_all_pages()
    kd = C.Kcompactd(m.alloc, proactiveness=20)
    assert C.should_proactive_compact_node(m.alloc, False)
    assert kd.timeout(500_000_000, False) == 1 and kd.proactive_runs == 1
    assert kd.timeout_ns == 500_000_000 << 6
    assert kd.timeout(500_000_000 + (500_000_000 << 6) - 1, False) == 0


def test_wakeup_kcompactd_ignores_order_0_and_unsuitable_nodes() -> None:
    m, dma32, b, hs = unmovable_block_state()
    kd = C.Kcompactd(m.alloc)
    rec = TraceRecorder()
    m.attach(rec)
    assert not kd.wakeup_kcompactd(0, 1) and not kd.pending
    assert kd.wakeup_kcompactd(9, 1) and kd.pending
    assert format_event(*[(n, a) for n, _c, a in rec.events][-1]) == \
        "mm_compaction_wakeup_kcompactd: nid=0 order=9 classzone_idx=DMA32   "
    m.alloc.step_check = m.check
    assert kd.run(now_ns=0)
    assert not kd.pending and kd.kcompactd_max_order == 0
    assert kd.kcompactd_highest_zoneidx == kd.nr_zones - 1
    ev = m.vm_events()
    assert ev["compact_daemon_wake"] == 1
    # kcompactd is not a direct compactor: every block is a source, B is emptied
    assert free_order9_blocks(m, dma32) >= 1 or dma32.compact_defer_shift == 1
    assert all(not b <= (m.owner_pfn(h) or 0) < b + 512 for h in hs)
    assert not dma32.compact_blockskip_flush               # only direct compaction sets it
    # the node now has an order-9 page: COMPACT_SUCCESS from the suitability check
    assert not kd.wakeup_kcompactd(9, 1)
    names = [n for n, _c, _a in rec.events if n.startswith("mm_compaction_kcompactd")]
    assert names == ["mm_compaction_kcompactd_wake", "mm_compaction_kcompactd_sleep"]


def test_compaction_tracepoint_formats() -> None:
    assert format_event("mm_compaction_begin", (0x1000, 0x1000, 0x7e00, 0x7fd7, 1)) == \
        ("mm_compaction_begin: zone_start=0x1000 migrate_pfn=0x1000 free_pfn=0x7e00 "
         "zone_end=0x7fd7, mode=sync")
    assert format_event("mm_compaction_end", (0x1000, 0x7e00, 0x7e00, 0x7fd7, 0, 6)) == \
        ("mm_compaction_end: zone_start=0x1000 migrate_pfn=0x7e00 free_pfn=0x7e00 "
         "zone_end=0x7fd7, mode=async status=partial_skipped")
    assert format_event("mm_compaction_isolate_migratepages", (0x3000, 0x3020, 32, 16)) == \
        "mm_compaction_isolate_migratepages: range=(0x3000 ~ 0x3020) nr_scanned=32 nr_taken=16"
    assert format_event("mm_compaction_migratepages", (32, 30)) == \
        "mm_compaction_migratepages: nr_migrated=30 nr_failed=2"
    assert format_event("mm_compaction_try_to_compact_pages", (9, G.GFP_HIGHUSER_MOVABLE, 1)) == \
        ("mm_compaction_try_to_compact_pages: order=9 gfp_mask=GFP_HIGHUSER_MOVABLE "
         "priority=1")
    assert format_event("mm_compaction_finished", (0, 2, 9, 3)) == \
        "mm_compaction_finished: node=0 zone=Normal   order=9 ret=no_suitable_page"
    assert format_event("mm_compaction_kcompactd_sleep", (0,)) == "mm_compaction_kcompactd_sleep: nid=0"
    assert format_event("mm_compaction_kcompactd_wake", (0, -1, 3)) == \
        "mm_compaction_kcompactd_wake: nid=0 order=-1 classzone_idx=Movable "


# ---------------------------------------------------------------------- stateful
class CompactionStateMachine(RuleBasedStateMachine):
    """Random owned allocations, frees and compaction passes on a 64M machine with the
    invariant checker after every compaction step; owners always find their data."""

    def __init__(self) -> None:
        super().__init__()
        self.m: Machine | None = None
        self.live: dict[int, int] = {}

    @initialize(seed=st.integers(0, 1 << 16), keep=st.floats(0.2, 0.8))
    def boot(self, seed: int, keep: float) -> None:
        """Start fragmented: anon pages down to 1500 free pages, a random share freed."""
        self.m = m = Machine(memory="64M", cpus=2, init_on_free=True)
        self.alloc("anon", 0, 1 << 14, 0)
        rnd = random.Random(seed)
        for h in sorted(self.live):
            if rnd.random() > keep:
                del self.live[h]
                m.free_owned(h)
        m.alloc.step_check = m.check

    @precondition(lambda self: self.m is not None)
    @rule(kind=st.sampled_from(["anon", "anon", "file", "unmovable"]),
          order=st.sampled_from([0, 0, 0, 1, 3, 9]), n=st.integers(1, 500), cpu=st.integers(0, 1))
    def alloc(self, kind: str, order: int, n: int, cpu: int) -> None:
        m = self.m
        assert m is not None and m.contents is not None
        for _ in range(n if order < 3 else 4):
            if m.nr_free_pages() < 1500:
                return
            h = m.alloc_owned(kind, order, cpu, NORECLAIM if kind != "unmovable" else
                              NORECLAIM_KERNEL)
            if h is None:
                return
            byte = 2 + h % 250
            pfn = m.owner_pfn(h)
            assert pfn is not None
            m.contents.data[pfn:pfn + (1 << order)] = bytes([byte]) * (1 << order)
            self.live[h] = byte

    @precondition(lambda self: self.m is not None and self.live)
    @rule(data=st.data(), frac=st.floats(0.05, 0.9))
    def free(self, data: st.DataObject, frac: float) -> None:
        m = self.m
        assert m is not None
        seed = data.draw(st.integers(0, 1 << 16), label="seed")
        rnd = random.Random(seed)
        for h in sorted(self.live):
            if rnd.random() < frac:
                del self.live[h]
                m.free_owned(h)

    @precondition(lambda self: self.m is not None)
    @rule(prio=st.sampled_from([C.COMPACT_PRIO_ASYNC, C.COMPACT_PRIO_SYNC_LIGHT,
                                C.COMPACT_PRIO_SYNC_FULL]), order=st.sampled_from([2, 4, 9, 10]))
    def direct(self, prio: int, order: int) -> None:
        m = self.m
        assert m is not None
        rc, page = C.try_to_compact_pages(m.alloc, G.GFP_HIGHUSER_MOVABLE, order, ALLOC_FLAGS,
                                          movable_ac(m), prio)
        if page != NIL:
            assert rc == C.COMPACT_SUCCESS and m.mem.pstate[page] == PS_ISOLATED | order
            m.alloc.post_alloc_hook(page, order, G.GFP_HIGHUSER_MOVABLE, MIGRATE_MOVABLE)
            m.free_pages(page, order)

    @precondition(lambda self: self.m is not None)
    @rule()
    def compact_memory(self) -> None:
        assert self.m is not None
        C.compact_memory(self.m.alloc)

    @precondition(lambda self: self.m is not None)
    @rule(order=st.sampled_from([1, 9]))
    def kcompactd(self, order: int) -> None:
        m = self.m
        assert m is not None
        kd = C.Kcompactd(m.alloc)
        kd.wakeup_kcompactd(order, 1)
        kd.run(0)
        kd.timeout(500_000_000, False)

    @invariant()
    def owners_find_their_data(self) -> None:
        m = self.m
        if m is None:
            return
        m.check()
        assert m.contents is not None
        for h, byte in self.live.items():
            pfn = m.owner_pfn(h)
            assert pfn is not None and m.contents.data[pfn] == byte


TestCompactionStateful = CompactionStateMachine.TestCase
TestCompactionStateful.settings = settings(
    max_examples=8, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
