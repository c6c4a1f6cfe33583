"""The __GFP_UNMAPPED series: freetypes, the pcp bank, the direct-map flip and its variants.

Mirrors the series' KUnit tests (mm/tests/page_alloc_kunit.c: test_alloc_map_unmap,
test_pindex_helpers, test_freetype_idx) and pins the review's questions (shared/seed,
shared/spec/series.md 2.9, 2.17, 5) to observable outcomes.
"""
from __future__ import annotations

import random

import pytest

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import (
    FREETYPE_UNMAPPED,
    MIGRATE_TYPES,
    NR_FREETYPE_IDXS,
    freetype_idx,
)
from pagealloc.mm.debug import InvariantError
from pagealloc.profiles import UNMAPPED_V2, UNMAPPED_V4, with_knobs

GFP_UNMAPPED = G.GFP_KERNEL | G.__GFP_UNMAPPED


def _alloc_unmapped(m: Machine, order: int = 0, gfp: int = GFP_UNMAPPED, owner: int = 7) -> int | None:
    if m.profile.unmapped == "v4":
        return m.alloc_pages(gfp & ~G.__GFP_UNMAPPED, order, 0, unmapped=True, owner=owner)
    return m.alloc_pages(gfp, order, 0, owner=owner)


def _present_pages(m: Machine) -> int:
    return sum(z.present_pages for z in m.zones)


@pytest.mark.parametrize("profile", [UNMAPPED_V2, UNMAPPED_V4], ids=["v2", "v4"])
def test_alloc_map_unmap(profile) -> None:  # type: ignore[no-untyped-def]
    """KUnit test_alloc_map_unmap: node_present_pages/2 + 1 unmapped order-0 pages are all
    absent from the direct map and in UNMAPPED pageblocks; after freeing them, the same
    number of mapped pages (forcing map-back flips) are all present."""
    m = Machine(memory="256M", cpus=2, profile=profile, thp=False)
    n = _present_pages(m) // 2 + 1
    pages = [_alloc_unmapped(m) for _ in range(n)]
    assert all(p is not None for p in pages)
    for p in pages:
        assert p is not None
        assert not m.directmap.is_present(p)
        assert m.mem.get_pfnblock_freetype(p) >> 3 == FREETYPE_UNMAPPED
    assert m.alloc.stats["flip_to_unmapped"] >= n // 512
    m.check()
    for p in pages:
        assert p is not None
        m.free_pages(p, 0)
    mapped = [m.alloc_pages(G.GFP_KERNEL, 0, 0) for _ in range(n)]
    assert all(p is not None for p in mapped)
    for p in mapped:
        assert p is not None and m.directmap.is_present(p)
    assert m.alloc.stats["flip_to_mapped"] > 0
    m.check()


def test_unmapping_flushes_the_tlb_once_per_block() -> None:
    """Each flip to unmapped is one flush_tlb_kernel_range() over 512 pages: above the
    33-page ceiling, so a full flush IPI'd to every other CPU; mapping back needs none.
    No unmapped page is handed out while a stale translation could reach it."""
    m = Machine(memory="512M", cpus=4, profile=UNMAPPED_V2, thp=False)
    for _ in range(3 * 512):
        assert _alloc_unmapped(m) is not None
    flips = m.alloc.stats["flip_to_unmapped"]
    assert flips == 3
    assert m.tlb.stats["flush_full"] == flips and m.tlb.stats["ipis"] == 3 * flips
    assert m.contents is not None
    assert m.contents.stats["unmapped_reachable_by_stale_tlb"] == 0
    assert m.contents.stats["unmapped_present_in_direct_map"] == 0


def test_noblock_requests_cannot_flip() -> None:
    """ALLOC_NOBLOCK (no __GFP_DIRECT_RECLAIM): the flip needs IRQs on for the shootdown, so
    a GFP_NOWAIT|__GFP_UNMAPPED request with no free unmapped page fails."""
    m = Machine(memory="256M", cpus=1, profile=UNMAPPED_V2, thp=False)
    assert m.alloc_pages(G.GFP_NOWAIT | G.__GFP_UNMAPPED, 0) is None
    assert m.alloc.stats["flip_noblock_refused"] >= 1
    assert m.alloc.stats["flip_to_unmapped"] == 0
    # memory was plentiful: the failure is spurious (a flip or compaction could serve it)
    assert m.metrics()["spurious_unmapped_failures"] == 1
    # a design refusal (v2 outside a task: no mermap) is not counted as spurious
    assert m.alloc_pages(GFP_UNMAPPED, 0, context="irq") is None
    assert m.metrics()["spurious_unmapped_failures"] == 1
    # nor is a mapped failure
    assert m.alloc_pages("GFP_KERNEL", 11) is None
    assert m.metrics()["spurious_unmapped_failures"] == 1


def test_map_back_without_zeroing_exposes_data() -> None:
    """The seed's question 1: v2 maps a block back without zeroing it, so a mapped user gets
    the unmapped user's data; the zero-on-map-back variant closes it."""
    def run(zero: bool) -> Machine:
        prof = with_knobs(UNMAPPED_V2, zero_on_map_back=zero)
        m = Machine(memory="256M", cpus=1, profile=prof, thp=False)
        n = _present_pages(m) // 2 + 1
        pages = [_alloc_unmapped(m, owner=9) for _ in range(n)]
        for p in pages:
            assert p is not None
            m.free_pages(p, 0)
        for _ in range(n):
            assert m.alloc_pages(G.GFP_KERNEL, 0) is not None
        m.check()
        return m
    leaky = run(False)
    assert leaky.contents is not None and leaky.contents.stats["exposed_map_back_without_zeroing"] > 0
    safe = run(True)
    assert safe.contents is not None
    assert safe.contents.stats["exposed_map_back_without_zeroing"] == 0
    assert safe.alloc.stats["pages_zeroed_map_back"] > 0


def test_expand_and_free_loop_leave_identical_lists() -> None:
    """The seed's question 4: giving the flip's remainder back with expand() instead of the
    per-order __free_one_page() loop leaves exactly the same free lists."""
    def lists(remainder: str) -> list[list[tuple[int, int, int]]]:
        m = Machine(memory="256M", cpus=1, profile=with_knobs(UNMAPPED_V2, flip_remainder=remainder),
                    thp=False)
        for order in (0, 3, 1, 2, 0):
            assert _alloc_unmapped(m, order) is not None
        m.check()
        return [m.free_blocks(z) for z in m.zones if z.present_pages]
    assert lists("free_loop") == lists("expand")


def test_unmapped_requests_use_the_unmapped_pcp_bank() -> None:
    """Series 14/19: unmapped pcp lists follow the THP lists (pindex 14 + order, THP 18);
    pages freed from an unmapped block return to that bank."""
    m = Machine(memory="256M", cpus=1, profile=UNMAPPED_V2, thp=False)
    p = _alloc_unmapped(m)
    assert p is not None
    m.free_pages(p, 0)
    z = m.alloc.zone_of(p)
    assert (14, p) in m.pcp_blocks(z, 0)
    assert m.profile.nr_pcp_lists == 19


def test_pindex_helpers() -> None:
    """KUnit test_pindex_helpers: every order/mt/{0, UNMAPPED} maps below NR_PCP_LISTS,
    uniquely except the shared THP U/R list, round-trips through pindex_to_order, and every
    pindex is used."""
    prof = UNMAPPED_V2
    seen: dict[int, tuple[int, int]] = {}
    for order in (0, 1, 2, 3, 9):
        for mt in range(3):
            for flags in (0, FREETYPE_UNMAPPED):
                if flags and mt != 0:
                    continue
                ft = mt | (flags << 3)
                pi = prof.order_to_pindex(ft, order)
                assert 0 <= pi < prof.nr_pcp_lists
                assert prof.pindex_to_order(pi) == order
                if pi in seen:
                    assert order == 9 and not flags and {mt, seen[pi][1]} == {0, 2}
                seen[pi] = (order, mt)
    assert set(seen) == set(range(prof.nr_pcp_lists))


def test_freetype_idx() -> None:
    """KUnit test_freetype_idx: indices are in [0, NR_FREETYPE_IDXS) and all are used;
    only UNMOVABLE|UNMAPPED of the flagged freetypes has a list."""
    idxs = {freetype_idx(mt) for mt in range(MIGRATE_TYPES)}
    idxs.add(freetype_idx(0 | (FREETYPE_UNMAPPED << 3)))
    assert idxs == set(range(NR_FREETYPE_IDXS))
    for mt in range(1, MIGRATE_TYPES):
        assert freetype_idx(mt | (FREETYPE_UNMAPPED << 3)) == -1


def test_freetypes_equal_ignoring_flags_merges_mapped_with_unmapped() -> None:
    """series.md 2.1/2.17 #1: if freetypes_equal() compares only migratetypes, freeing an
    unmapped order-9 block next to a free mapped UNMOVABLE one merges them into an order-10
    block whose halves disagree on direct-map presence; with the flag check they stay apart."""
    def run(flags: bool) -> tuple[bool, int]:
        m = Machine(memory="256M", cpus=1, profile=with_knobs(UNMAPPED_V2, freetypes_equal="flags" if flags else "migratetype"),
                    thp=False)
        a = m.alloc
        # an unmapped order-9 block, then its buddy as a mapped UNMOVABLE order-9 block
        u = _alloc_unmapped(m, 9)
        assert u is not None
        buddy = u ^ 512
        z = a.zone_of(u)
        if m.mem.pstate[buddy] == 0x10 | 9:
            a.del_page_from_free_list(buddy, z, 9, m.mem.get_pfnblock_freetype(buddy))
        else:
            pytest.skip("buddy block not free in this layout")
        a.set_pageblock_migratetype(buddy, 0)
        m.mem.pstate[buddy] = 0x30 | 9
        m.free_pages(buddy, 9)
        m.free_pages(u, 9)
        head = u & ~1023
        return m.mem.pstate[head] == 0x10 | 10, head
    merged, head = run(False)
    assert merged
    kept_apart, _ = run(True)
    assert not kept_apart


def test_v4_refuses_unmapped_zero() -> None:
    """v4: ALLOC_UNMAPPED and __GFP_ZERO are incompatible (the allocator does no zeroing)."""
    m = Machine(memory="256M", cpus=1, profile=UNMAPPED_V4, thp=False)
    assert m.alloc_pages(G.GFP_KERNEL | G.__GFP_ZERO, 0, unmapped=True) is None
    assert m.alloc.stats["unmapped_zero_refused"] == 1
    assert m.alloc_pages(G.GFP_KERNEL, 0, unmapped=True) is not None


def test_flip_splits_a_1g_direct_map_page_once() -> None:
    """A flip inside a 1 GiB direct-map leaf splits it once (one page-table page, allocated
    from this allocator as a mapped unmovable page) and rewrites the 2 MiB entry in place;
    splits are never undone (set_direct_map_valid_noflush via change_page_attr)."""
    m = Machine(memory="8G", cpus=2, profile=UNMAPPED_V2)
    before = list(m.directmap.direct_pages_count)
    assert before[3] > 0
    high = [_alloc_unmapped(m, 9) for _ in range(4)]
    assert all(p is not None for p in high)
    assert m.directmap.stats["direct_map_level3_splits"] >= 1
    assert m.directmap.stats["pgtable_pages_allocated"] >= 1
    for p in high:
        assert p is not None
        m.free_pages(p, 9)
    m.check()
    assert m.directmap.direct_pages_count[3] < before[3]


def test_v2_zeroes_unmapped_pages_through_the_mermap() -> None:
    """v2 20/22: __GFP_UNMAPPED|__GFP_ZERO clears through the mermap.  An order-0 request
    fits the window (fast path, one get); an order-9 one never fits the 511 usable pages,
    so it takes the slow path, which in v2 clears the first page 512 times (series.md
    2.17 #5): the other 511 pages keep the previous unmapped user's data."""
    m = Machine(memory="256M", cpus=1, profile=UNMAPPED_V2, thp=False)
    assert m.mermap is not None and m.contents is not None
    p = _alloc_unmapped(m, 9, owner=3)
    assert p is not None
    m.free_pages(p, 9)
    q = _alloc_unmapped(m, 9, gfp=GFP_UNMAPPED | G.__GFP_ZERO, owner=4)
    assert q == p                              # the same block comes back
    assert m.contents.stats["pages_zeroed_mermap"] == 512
    assert m.contents.stats["exposed_between_unmapped_users"] == 511
    assert m.mermap.stats["reserved_gets"] == 512
    r = _alloc_unmapped(m, 0, gfp=GFP_UNMAPPED | G.__GFP_ZERO, owner=4)
    assert r is not None and m.mermap.stats["gets"] >= 1


def test_folio_zap_versus_freetype_flips() -> None:
    """E1/E8 in miniature: 1024 unmapped order-0 pages.  The per-folio design (per-folio-zap:
    secretmem/guest_memfd today) flushes the TLB once per page and splits 2 MiB direct-map
    entries down to 4K (allocating page tables); the series flips two whole pageblocks:
    two full flushes, no 2M->4K splits.  Freed zapped pages are restored and zeroed, so no
    data is exposed."""
    from pagealloc.profiles import FOLIO_ZAP
    zap = Machine(memory="1G", cpus=4, profile=FOLIO_ZAP, thp=False)
    v2 = Machine(memory="1G", cpus=4, profile=UNMAPPED_V2, thp=False)
    pages = {}
    for m in (zap, v2):
        pages[m.profile.name] = [m.alloc_pages(GFP_UNMAPPED, 0, 0, owner=6) for _ in range(1024)]
        assert all(p is not None and not m.directmap.is_present(p) for p in pages[m.profile.name])
        m.check()
    assert zap.tlb.stats["flush_tlb_kernel_range"] == 1024
    # every range flush and every post-split flush_tlb_all() IPIs the 3 other CPUs
    assert zap.tlb.stats["ipis"] == 3 * (1024 + zap.tlb.stats["flush_tlb_all"])
    assert zap.directmap.stats["direct_map_level2_splits"] >= 2
    assert zap.directmap.direct_pages_count[1] > v2.directmap.direct_pages_count[1]
    assert v2.tlb.stats["flush_tlb_kernel_range"] == 2
    assert v2.directmap.stats["direct_map_level2_splits"] == 0
    for p in pages["per-folio-zap"]:
        assert p is not None
        zap.free_pages(p, 0)
        assert zap.directmap.is_present(p)
    assert zap.contents is not None and zap.contents.stats["pages_zeroed_free"] == 1024
    for _ in range(2048):
        assert zap.alloc_pages(G.GFP_KERNEL, 0) is not None
    assert zap.contents.stats["pages_exposed"] == 0
    zap.check()


def test_free_pages_blocks_split_by_direct_map_state() -> None:
    """v4 23/26: NR_FREE_PAGES_BLOCKS_MAPPED/_UNMAPPED count free pages in >= pageblock
    blocks of each kind; an unmapped order-9 block freed back lands in _UNMAPPED."""
    m = Machine(memory="256M", cpus=1, profile=UNMAPPED_V4, thp=False)
    before = m.vmstat()
    assert before["nr_free_pages_blocks_unmapped"] == 0
    p = m.alloc_pages(G.GFP_KERNEL, 9, unmapped=True)
    assert p is not None
    m.free_pages(p, 9)
    m.drain_all_pages()
    after = m.vmstat()
    assert after["nr_free_pages_blocks_unmapped"] == 512
    assert after["nr_free_pages_blocks_mapped"] + 512 == after["nr_free_pages_blocks"]
    m.check()


def test_page_table_pages_do_not_take_the_callers_owner() -> None:
    """A flip that splits the direct map allocates a page-table page from inside the
    allocation; that page is the kernel's, and the unmapped allocation still gets its
    caller's owner class."""
    m = Machine(memory="8G", cpus=1, profile=UNMAPPED_V2)
    p = _alloc_unmapped(m, 9, owner=11)
    assert p is not None and m.directmap.stats["pgtable_pages_allocated"] >= 1
    assert m.contents is not None
    assert m.contents.data[p] == 11
    for pt in m.directmap.pgtable_pfns:
        assert m.contents.data[pt] in (0, 1)


def test_v2_unmapped_needs_a_mermap_ready_context() -> None:
    """v2 prepare_alloc_pages(): WARN_ON(!mermap_ready()) fails unmapped requests from a
    kthread or IRQ even without __GFP_ZERO (series.md 2.17 #8); v4 has no such rule."""
    m = Machine(memory="256M", cpus=1, profile=UNMAPPED_V2, thp=False)
    assert m.alloc_pages(GFP_UNMAPPED, 0, context="kthread") is None
    assert m.alloc.stats["unmapped_no_mermap"] == 1 and m.alloc.stats["vm_warn"] == 1
    assert m.alloc_pages(G.GFP_KERNEL, 0, context="irq") is not None
    assert m.alloc_pages(GFP_UNMAPPED, 0) is not None
    v4 = Machine(memory="256M", cpus=1, profile=UNMAPPED_V4, thp=False)
    assert v4.alloc_pages(G.GFP_KERNEL, 0, unmapped=True, context="kthread") is not None


def test_unmapped_cache_2023_as_posted_and_fixed() -> None:
    """Rapoport's 2023 unmapped_alloc(): one PMD-order refill feeds 100 order-0 requests.
    As posted, the refill removes only the requested page from the direct map (per-page
    set_direct_map_invalid_noflush() splitting the 2M entry), so the next 99 pages handed
    out are still mapped -- counted by the security check; unmapping the whole block fixes
    it without any 4K split.  Freed pages go back to the cache, never to the buddy."""
    from pagealloc.profiles import UNMAPPED_CACHE_2023

    def run(whole: bool) -> Machine:
        m = Machine(memory="512M", cpus=2, profile=with_knobs(UNMAPPED_CACHE_2023,
                                                              cache_unmap_whole_block=whole),
                    thp=False)
        got = [m.alloc_pages(GFP_UNMAPPED, 0, 0, owner=5) for _ in range(100)]
        assert all(p is not None for p in got)
        assert m.unmapped_cache is not None and m.unmapped_cache.stats["refills"] == 1
        free_before = m.nr_free_pages()
        for p in got:
            assert p is not None
            m.free_pages(p, 0)
        assert m.nr_free_pages() == free_before            # the cache keeps its pages
        assert m.unmapped_cache.cached_pages() == 512
        m.check()
        return m
    posted = run(False)
    assert posted.contents is not None
    assert posted.contents.stats["unmapped_present_in_direct_map"] == 99
    assert posted.directmap.stats["direct_map_level2_splits"] == 1
    fixed = run(True)
    assert fixed.contents is not None
    assert fixed.contents.stats["unmapped_present_in_direct_map"] == 0
    assert fixed.directmap.stats["direct_map_level2_splits"] == 0


def _flip_with_failing_pgtables(path: str) -> tuple[Machine, int, int]:
    """4 GiB v2 machine whose direct-map splits cannot get a page-table page; 3000
    unmapped order-0 requests.  Returns (machine, pages lost from the free counts, served)."""
    m = Machine(memory="4G", cpus=2, profile=with_knobs(UNMAPPED_V2, flip_error_path=path), thp=False)
    free0 = sum(z.nr_free_pages for z in m.zones)
    m.directmap.alloc_pgtable = lambda: None          # pte_alloc_one_kernel() fails
    served = 0
    for _ in range(3000):
        if _alloc_unmapped(m, 0, owner=5) is None:
            break
        served += 1
    return m, free0 - sum(z.nr_free_pages for z in m.zones), served


def test_flip_error_path_as_posted_fixed_and_leaking() -> None:
    """series.md 2.9 / 2.17 #2: when set_direct_map_valid_noflush() fails (a 1G leaf cannot
    be split for want of a page-table page), the bjackman v2-code snapshot returns NULL
    and leaks the whole block, over and over; v2 as posted (the seed) and mm-code free it
    with the *requested* freetype (mm-code without the zone lock), so a still-mapped block
    lands on the unmapped list and is handed out as unmapped while present in the direct
    map (the invariant checker catches it); the fix (restore the direct map, free with the
    pageblock's freetype) loses nothing."""
    m, lost, served = _flip_with_failing_pgtables("leak")
    st = m.alloc.stats
    assert served == 3000 and st["flip_cpa_error"] > 100
    assert st["flip_leaked_pages"] == st["flip_cpa_error"] * 512
    assert lost >= st["flip_leaked_pages"] + served
    m.check()                                         # leaked blocks are accounted
    assert m.contents is not None and m.contents.stats["unmapped_present_in_direct_map"] == 0

    assert UNMAPPED_V2.flip_error_path == "free_requested_ft"      # the seed
    for path in ("free_requested_ft", "free_unlocked"):
        m, lost, served = _flip_with_failing_pgtables(path)
        assert m.alloc.stats["flip_cpa_error"] >= 1 and m.alloc.stats["flip_leaked_pages"] == 0
        assert m.contents is not None and m.contents.stats["unmapped_present_in_direct_map"] > 1000
        assert (m.alloc.stats["flip_error_free_unlocked"] > 0) == (path == "free_unlocked")
        with pytest.raises(InvariantError, match="direct-map state"):
            m.check()

    m, lost, served = _flip_with_failing_pgtables("restore")
    assert served == 3000 and m.alloc.stats["flip_cpa_error"] >= 1
    assert m.alloc.stats["flip_leaked_pages"] == 0 and lost < 3000 + 1024   # only pcp slack
    assert m.contents is not None and m.contents.stats["unmapped_present_in_direct_map"] == 0
    m.check()


@pytest.mark.parametrize("profile", [UNMAPPED_V2, UNMAPPED_V4], ids=["v2", "v4"])
def test_highatomic_unmapped_lookup_has_no_list(profile) -> None:  # type: ignore[no-untyped-def]
    """series.md 2.2 / 2.17 #6: rmqueue_buddy()'s ALLOC_HIGHATOMIC / ALLOC_NON_BLOCK lookups
    ask for HIGHATOMIC|UNMAPPED, a freetype with no free list.  The seed shows v2 19/22
    guarding __rmqueue_smallest() (freetype_idx() < 0 returns NULL), so the suspected
    out-of-bounds lookup does not happen in v2 as posted: the lookups are counted and no
    highatomic (mapped) page is handed out as unmapped, in v2 and v4."""
    m = Machine(memory="256M", cpus=1, profile=profile, thp=False)
    gfp = (G.GFP_ATOMIC | G.__GFP_UNMAPPED) if profile is UNMAPPED_V2 else G.GFP_ATOMIC
    for _ in range(4):
        if profile is UNMAPPED_V2:
            m.alloc_pages(gfp, 4)
        else:
            m.alloc_pages(gfp, 4, unmapped=True)
    assert m.alloc.stats["freetype_no_list_lookups"] > 0
    assert m.contents is not None and m.contents.stats["unmapped_present_in_direct_map"] == 0
    m.check()


def _mapped_requests_after_unmapped_use(pos: str, free_every: int) -> dict[str, int]:
    """Eight pageblocks flipped to unmapped and freed again; MOVABLE memory filled with
    order-0 pages and one in ``free_every`` freed; then 1024 mapped GFP_KERNEL pages.
    Returns the fallback/flip counters of that last phase."""
    from pagealloc.experiments.review import fragmented_after_unmapped_use
    m, allocated = fragmented_after_unmapped_use(pos, free_every, 8)
    assert allocated == 8 * 512
    before = dict(m.alloc.stats)
    for _ in range(1024):
        assert m.alloc_pages(G.GFP_KERNEL, 0) is not None
    m.check()
    return {k: m.alloc.stats[k] - before[k]
            for k in ("steal", "claim_block", "extfrag_fragmenting", "flip_to_mapped")}


def test_steal_before_flip_fragments_movable_blocks() -> None:
    """The patch's own note (seed): __rmqueue_steal() runs before __rmqueue_direct_map(), so
    with free unmapped blocks idle, mapped UNMOVABLE requests pollute MOVABLE pageblocks.
    As posted (after_steal) 1024 requests steal hundreds of pages into fragmented movable
    blocks (each a fragmenting extfrag event) and flip nothing back; flipping before the
    steal maps one free unmapped block back and steals nothing; flipping before the claim
    also avoids claiming half-free movable blocks."""
    posted = _mapped_requests_after_unmapped_use("after_steal", 4)
    assert posted["steal"] > 500 and posted["extfrag_fragmenting"] > 500
    assert posted["flip_to_mapped"] == 0
    early = _mapped_requests_after_unmapped_use("before_steal", 4)
    assert early["steal"] == early["extfrag_fragmenting"] == 0 and early["flip_to_mapped"] >= 1
    # half-free movable blocks: claimed (block converted) as posted, flipped back instead
    posted = _mapped_requests_after_unmapped_use("after_steal", 2)
    assert posted["claim_block"] >= 1 and posted["flip_to_mapped"] == 0
    early = _mapped_requests_after_unmapped_use("before_claim", 2)
    assert early["claim_block"] == early["extfrag_fragmenting"] == 0 and early["flip_to_mapped"] >= 1


@pytest.mark.parametrize("profile", [UNMAPPED_V2, UNMAPPED_V4], ids=["v2", "v4"])
def test_stress_interleaved_allocs_half_unmapped(profile) -> None:  # type: ignore[no-untyped-def]
    """The series' KUnit test_stress_interleaved_allocs (series.md 2.15): random orders 0-3,
    half of the requests unmapped, at most 1500 live allocations on 64 MiB, no PFN handed
    out twice, every unmapped page absent from the direct map and from every TLB when
    handed out (the contents counters stay 0), invariants checked along the way; after
    freeing everything all memory is free again."""
    m = Machine(memory="64M", cpus=2, profile=profile)
    rnd = random.Random(20260320)
    owner = bytearray(m.mem.max_pfn)
    live: list[tuple[int, int, int]] = []
    for i in range(40_000):
        if len(live) >= 1500 or (live and rnd.random() < 0.45):
            pfn, order, cpu = live.pop(rnd.randrange(len(live)))
            owner[pfn:pfn + (1 << order)] = bytes(1 << order)
            m.free_pages(pfn, order, cpu)
            continue
        order, cpu = rnd.randrange(4), rnd.randrange(2)
        if rnd.random() < 0.5:
            if profile is UNMAPPED_V4:
                pfn = m.alloc_pages(G.GFP_KERNEL, order, cpu, unmapped=True, owner=3)
            else:
                pfn = m.alloc_pages(GFP_UNMAPPED, order, cpu, owner=3)
        else:
            pfn = m.alloc_pages(rnd.choice([G.GFP_KERNEL, G.GFP_HIGHUSER_MOVABLE]), order, cpu)
        if pfn is None:
            continue
        for q in range(pfn, pfn + (1 << order)):
            assert not owner[q], f"pfn {q:#x} handed out twice (iteration {i})"
            owner[q] = 1
        live.append((pfn, order, cpu))
        if i % 5000 == 0:
            m.check()
    flips_seen = m.metrics()["flips_to_unmapped"]
    assert flips_seen >= 1
    assert m.contents is not None
    assert m.contents.stats["unmapped_present_in_direct_map"] == 0
    assert m.contents.stats["unmapped_reachable_by_stale_tlb"] == 0
    m.check()
    for pfn, order, cpu in live:
        m.free_pages(pfn, order, cpu)
    m.drain_all_pages()
    m.check()
    assert m.nr_free_pages() == sum(z.managed_pages for z in m.populated_zones())


def _no_free_block_machine(knob: str) -> Machine:
    """A v4 machine whose memory is a quarter free but in no whole free pageblock: owned
    anon pages everywhere, three in four freed (the seed's question 2 situation)."""
    m = Machine(memory="128M", cpus=1, profile=with_knobs(UNMAPPED_V4, on_no_block=knob))
    gfp = (G.GFP_HIGHUSER_MOVABLE & ~(G.__GFP_DIRECT_RECLAIM | G.__GFP_KSWAPD_RECLAIM)) \
        | G.__GFP_NOWARN
    hs = []
    while True:
        h = m.alloc_owned("anon", 0, gfp=gfp)
        if h is None:
            break
        hs.append(h)
    for i, h in enumerate(hs):
        if i % 4:
            m.free_owned(h)
    m.drain_all_pages()
    z = max(m.zones, key=lambda z: z.managed_pages)
    assert z.nr_free_pages > 10 * z.high_wmark_pages()
    assert z.nr_free_pages_blocks - z.nr_free_pages_blocks_unmapped < 512
    m.alloc.step_check = m.check
    return m


@pytest.mark.parametrize("knob", ["fail", "compact", "isolate_migrate"])
def test_unmapped_request_with_no_free_block(knob: str) -> None:
    """The seed's question 2: memory is plentiful but no whole free mapped block exists.
    ``fail`` (v2): the order-0 unmapped request fails (a spurious failure; order 0 never
    compacts); ``compact`` (v4 24/26): direct compaction at pageblock order makes a free
    mapped block, the flip takes it; ``isolate_migrate`` (the reviewer's alternative):
    one partly used movable block is isolated, its pages migrated out, and flipped."""
    m = _no_free_block_machine(knob)
    pfn = m.alloc_pages("GFP_KERNEL", 0, unmapped=True, owner=2)
    ev = m.vm_events()
    mt = m.metrics()
    if knob == "fail":
        assert pfn is None
        assert mt["spurious_unmapped_failures"] == 1
        assert ev.get("compact_stall", 0) == 0
    else:
        assert pfn is not None
        assert not m.directmap.is_present(pfn)
        assert mt["flips_to_unmapped"] == 1
        assert ev["pgmigrate_success"] > 0
        if knob == "compact":
            assert ev["compact_stall"] >= 1 and ev.get("compact_success", 0) == 1
            assert m.alloc.stats["flip_isolate_migrate"] == 0
        else:
            assert m.alloc.stats["flip_isolate_migrate"] == 1
            assert ev.get("compact_stall", 0) == 0
            assert ev["pgmigrate_success"] <= 512
    m.check()
