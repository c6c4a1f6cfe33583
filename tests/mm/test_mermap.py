"""Tests of pagealloc.mm.mermap: the series' mermap (shared/spec/series.md 2.11).

The first group mirrors the KUnit suite ``mm/tests/mermap_kunit.c``
(linux-mm/linux-mm@d7720e0f; the reserved-slot case from bjackman/linux@4de1a02c and
intel-lab-lkp/linux@f620d5b8).  Then the comment diagram of ``mermap_alloc()``, the
security property (a put page stays reachable from its CPU until that CPU's next local
flush), misuse errors, the three stored variants, and ``clear_page_mermap()``.
"""
from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from pagealloc.mm.mermap import (
    CLEAR_PAGE_MERMAP_MM,
    CLEAR_PAGE_MERMAP_V2,
    MERMAP_BASE_ADDR,
    MERMAP_BJACKMAN_072BC4B,
    MERMAP_CPU_REGION_PAGES,
    MERMAP_INTEL_LKP_1E956F9,
    MERMAP_LINUX_MM,
    PAGE_SIZE,
    Mermap,
    MermapAlloc,
    MermapContextError,
    MermapDoublePutError,
    MermapInvariantError,
    MermapNotPreparedError,
    MermapProtError,
    MermapReservedUnavailable,
    MermapSizeError,
    MermapVariant,
    MermapWrongCPUError,
    clear_page_mermap,
)


def prepared(ncpus: int = 1, *, region_pages: int = MERMAP_CPU_REGION_PAGES,
             variant: MermapVariant = MERMAP_LINUX_MM, strict: bool = True,
             kernel_pte_global: bool = True,
             flush_local: Callable[[int], None] | None = None) -> Mermap:
    mm = Mermap(ncpus, region_pages, flush_local=flush_local, variant=variant,
                strict=strict, kernel_pte_global=kernel_pte_global)
    assert mm.mm_prepare() == 0
    return mm


def must(alloc: MermapAlloc | None) -> MermapAlloc:
    assert alloc is not None
    return alloc


# --- constants read from the series -----------------------------------------------------
def test_region_is_pmd_size_and_four_slots() -> None:
    # MERMAP_CPU_REGION_SIZE = PMD_SIZE (pgtable_64_types.h @b7f5c72f); allocs[4]
    assert MERMAP_CPU_REGION_PAGES * PAGE_SIZE == 2 << 20
    assert MERMAP_LINUX_MM.nr_allocs == 4 and not MERMAP_LINUX_MM.reserve_slot
    assert MERMAP_INTEL_LKP_1E956F9.nr_allocs == 3 and MERMAP_INTEL_LKP_1E956F9.reserve_slot
    assert MERMAP_BASE_ADDR == 0xFFFF880000200000


# --- KUnit mirrors (mm/tests/mermap_kunit.c) ---------------------------------------------
def test_basic_alloc() -> None:
    mm = prepared()
    alloc = must(mm.get(0, pfn=777, nr_pages=1))
    assert mm.translate(0, alloc.base) == 777
    assert alloc.addr == MERMAP_BASE_ADDR
    mm.put(alloc)


def test_size() -> None:
    mm = prepared()
    region = mm.cpu_end(0) - mm.cpu_base(0) - 1          # minus the reserved page: 511
    assert region == MERMAP_CPU_REGION_PAGES - 1
    large_size = region - 1

    full = must(mm.get(0, 10, region))                    # whole region at once
    mm.put(full)
    assert mm.get(0, 10, region + 1) is None              # larger than the region: NULL
    assert mm.tlb_flushes(0) == 0                         # ...and it did not flush

    large = must(mm.get(0, 10, large_size))               # tiptoe up to the edge
    assert mm.tlb_flushes(0) == 1                         # reusing [0, 510) needed a flush
    small = must(mm.get(0, 10, 1))
    assert mm.get(0, 10, 1) is None                       # ...then past it

    reserved = mm.get_reserved(0, 10, preemption_disabled=True)   # IRQs off
    assert reserved.base == mm.cpu_end(0) - 1
    mm.put(reserved)
    mm.put(small)
    mm.put(large)
    assert mm.stats["fail_no_space"] == 2


def test_multiple_allocs() -> None:
    mm = prepared()
    pages = [1000 + 17 * i for i in range(mm.nr_allocs)]
    allocs = [must(mm.get(0, p, 1)) for p in pages]
    for a in allocs:
        assert mm.cpu_base(0) <= a.base < mm.cpu_end(0)
    # "read through the mappings" and find the pages written earlier
    assert [mm.translate(0, a.base) for a in allocs] == pages
    for a in allocs:
        mm.put(a)


def test_multiple_allocs_reserved_slot_variant() -> None:
    # bjackman/linux@4de1a02c, intel-lab-lkp/linux@f620d5b8: normal_allocs[] + reserve_alloc
    mm = prepared(variant=MERMAP_INTEL_LKP_1E956F9)
    pages = [500 + i for i in range(mm.nr_allocs + 1)]
    allocs = [must(mm.get(0, p, 1)) for p in pages[:-1]]
    assert [mm.translate(0, a.base) for a in allocs] == pages[:-1]
    assert mm.get(0, pages[-1], 1) is None                # out of alloc structures
    reserved = mm.get_reserved(0, pages[-1])              # only the reserved one works
    assert mm.translate(0, reserved.base) == pages[-1]
    mm.put(reserved)


def test_multiple_allocs_reserved_fails_with_shared_slots() -> None:
    # The same KUnit step fails on allocs[4] (linux-mm@b7f5c72f): mermap_get_reserved()
    # needs a free slot like everyone else, so "always succeeds" does not hold.
    mm = prepared()
    allocs = [must(mm.get(0, 100 + i, 1)) for i in range(4)]
    assert mm.get(0, 200, 1) is None
    with pytest.raises(MermapReservedUnavailable):
        mm.get_reserved(0, 200)
    assert mm.stats["fail_no_slot"] == 2 and mm.stats["reserved_failures"] == 1
    for a in allocs:
        mm.put(a)


@pytest.mark.parametrize("variant", [MERMAP_LINUX_MM, MERMAP_BJACKMAN_072BC4B,
                                     MERMAP_INTEL_LKP_1E956F9], ids=lambda v: v.name)
def test_tlb_flushed(variant: MermapVariant) -> None:
    flushed: list[int] = []
    mm = prepared(2, variant=variant, flush_local=flushed.append)
    prev, iters = -1, 0
    for i in range(1_000_000):
        assert mm.tlb_flushes(1) == 0, f"unexpected flush before alloc {i}"
        alloc = must(mm.get(1, 42, 1))
        mm.put(alloc)
        iters += 1
        if alloc.base < prev:
            break
        prev = alloc.base
    else:
        pytest.fail("no address reuse")
    assert mm.tlb_flushes(1) == 1
    assert iters == MERMAP_CPU_REGION_PAGES                # 511 fresh pages, then the wrap
    assert flushed == [1] and mm.tlb_flushes(0) == 0


# --- the state machine of mermap_alloc()'s comment ----------------------------------------
def test_comment_diagram() -> None:
    # 16 pages: 15 for mermap_get() plus the reserved one, so the first 15 characters are
    # exactly the diagram in mm/mermap.c.
    mm = prepared(region_pages=16)

    def state() -> str:
        return mm.window_state(0)[:15]

    assert state() == "_______________"           # Start with everything free.
    a = must(mm.get(0, 100, 4))
    assert state() == "AAAA___________"           # Allocate something.
    mm.put(a)
    assert state() == "TTTT___________"           # Free it (needs a TLB flush now).
    b = must(mm.get(0, 200, 9))
    assert state() == "TTTTAAAAAAAAA__"           # Allocate something else.
    c = must(mm.get(0, 300, 2))
    assert state() == "TTTTAAAAAAAAAAA"           # Allocate the remaining space.
    mm.put(b)
    assert state() == "TTTTTTTTTTTTTAA"           # Free the allocation before last.
    assert mm.get(0, 400, 1) is None              # Could be reused, but isn't: fails.
    assert mm.tlb_flushes(0) == 0
    mm.put(c)
    assert state() == "TTTTTTTTTTTTTTT"           # Free the last allocation.
    d = must(mm.get(0, 500, 2))                   # Next allocation flushes first...
    assert mm.tlb_flushes(0) == 1
    assert state() == "AA_____________"           # ...and is back at the beginning.
    mm.put(d)


def test_wrap_restarts_after_highest_in_use_allocation() -> None:
    mm = prepared(region_pages=16)
    low = must(mm.get(0, 1, 3))
    high = must(mm.get(0, 2, 5))                  # [3, 8)
    rest = must(mm.get(0, 3, 7))                  # [8, 15)
    mm.put(low)
    mm.put(rest)
    again = must(mm.get(0, 4, 6))                 # no room at 15: flush, restart at 8
    assert (again.base, mm.tlb_flushes(0)) == (8, 1)
    assert mm.window_state(0)[:15] == "___AAAAAAAAAAA_"   # [0, 3) flushed but unused
    mm.put(again)
    mm.put(high)


# --- security: stale translations until the next local flush ------------------------------
def test_put_leaves_stale_translation_until_next_local_flush() -> None:
    flushed: list[int] = []
    mm = prepared(2, region_pages=16, flush_local=flushed.append)
    secret = must(mm.get(0, 4242, 1))
    assert 4242 in mm.translations(0) and not mm.stale_translations(0)
    mm.put(secret)
    # PTE is the sentinel now, but nothing flushed: CPU 0 can still reach the page
    assert not mm.is_mapped(4242, 1)
    assert mm.stale_translations(0) == {4242} and 4242 in mm.translations(0)
    assert mm.has_stale(4242, 1)
    assert mm.translate(0, secret.base) == 4242
    assert 4242 not in mm.translations(1)         # it is CPU 0's TLB, not CPU 1's
    assert flushed == []
    # use the rest of the window without a flush; still reachable
    for i in range(14):
        mm.put(must(mm.get(0, 10 + i, 1)))
    assert flushed == [] and mm.has_stale(4242, 1)
    # the wrap does the local flush; the old translation is gone
    new = must(mm.get(0, 9999, 1))
    assert flushed == [0]
    assert new.base == secret.base                # the same address now maps a new page
    assert 4242 not in mm.translations(0) and not mm.has_stale(4242, 1)
    assert mm.translate(0, new.base) == 9999
    mm.put(new)


def test_external_local_flush_also_drops_stale_entries() -> None:
    mm = prepared(region_pages=16)
    mm.put(must(mm.get(0, 7, 2)))
    assert mm.has_stale(7, 2)
    mm.note_local_flush(0)
    assert not mm.has_stale(7, 2) and mm.next_addr(0) == 2


def test_live_mapping_is_reachable_but_not_stale() -> None:
    mm = prepared(region_pages=16)
    a = must(mm.get(0, 50, 3))
    assert mm.is_mapped(51, 1) and not mm.has_stale(50, 3)
    assert mm.translations(0) == {50, 51, 52}
    mm.put(a)


# --- setup, context, misuse ---------------------------------------------------------------
def test_ready_and_idempotent_prepare() -> None:
    mm = Mermap(2)
    assert not mm.ready()
    with pytest.raises(MermapNotPreparedError):
        mm.get(0, 1, 1)
    assert mm.mm_prepare() == 0 and mm.ready() and mm.local_region_used
    assert not mm.ready(in_task=False)
    a = must(mm.get(0, 1, 1))
    assert mm.mm_prepare() == 0                   # idempotent: state kept
    assert mm.next_addr(0) == 1 and mm.in_use(0) == [a]
    mm.put(a)


def test_migration_disabled_until_put() -> None:
    mm = prepared()
    a = must(mm.get(0, 1, 1))
    b = mm.get_reserved(0, 2)
    assert mm.migrate_disabled(0) == 2
    mm.put(b)
    mm.put(a)
    assert mm.migrate_disabled(0) == 0


def test_put_twice() -> None:
    mm = prepared()
    a = must(mm.get(0, 1, 1))
    mm.put(a)
    with pytest.raises(MermapDoublePutError):
        mm.put(a)
    lax = prepared(strict=False)
    b = must(lax.get(0, 1, 1))
    lax.put(b)
    lax.put(b)                                    # WARN_ON_ONCE(!alloc->in_use); return
    assert lax.stats["warnings"] == 1 and lax.stats["puts"] == 1


def test_put_of_stale_handle_frees_the_new_owner_in_the_kernel() -> None:
    mm = prepared(strict=False)
    old = must(mm.get(0, 1, 1))
    mm.put(old)
    new = must(mm.get(0, 2, 1))                   # same slot, new generation
    assert new.slot == old.slot
    mm.put(old)                                   # the kernel's pointer frees `new`
    assert mm.in_use(0) == [] and mm.violations[-1][0] == "stale_handle_put"
    strict = prepared()
    o = must(strict.get(0, 1, 1))
    strict.put(o)
    n = must(strict.get(0, 2, 1))
    with pytest.raises(MermapDoublePutError):
        strict.put(o)
    strict.put(n)


def test_put_on_wrong_cpu() -> None:
    mm = prepared(2)
    a = must(mm.get(0, 1, 1))
    with pytest.raises(MermapWrongCPUError):
        mm.put(a, cpu=1)
    mm.put(a, cpu=0)


def test_size_larger_than_region() -> None:
    mm = prepared()
    with pytest.raises(MermapSizeError):
        mm.get(0, 1, MERMAP_CPU_REGION_PAGES + 1)
    assert mm.get(0, 1, MERMAP_CPU_REGION_PAGES) is None   # passes the size check, no room
    lax = prepared(strict=False)
    assert lax.get(0, 1, MERMAP_CPU_REGION_PAGES + 1) is None
    assert lax.stats["fail_oversize"] == 1 and lax.stats["warnings"] == 0


def test_global_pgprot_refused_on_x86() -> None:
    mm = prepared()
    with pytest.raises(MermapProtError):
        mm.get(0, 1, 1, prot="PAGE_KERNEL")
    assert mm.migrate_disabled(0) == 0
    pti = prepared(kernel_pte_global=False)       # __default_kernel_pte_mask drops _PAGE_GLOBAL
    pti.put(must(pti.get(0, 1, 1, prot="PAGE_KERNEL")))
    old = prepared(variant=MERMAP_BJACKMAN_072BC4B)   # no arch_mermap_pgprot_allowed() yet
    old.put(must(old.get(0, 1, 1, prot="PAGE_KERNEL")))
    lax = prepared(strict=False)
    assert lax.get(0, 1, 1, prot="PAGE_KERNEL") is None and lax.stats["fail_prot"] == 1


def test_context_checks() -> None:
    mm = prepared()
    with pytest.raises(MermapContextError):
        mm.get(0, 1, 1, in_task=False)
    with pytest.raises(MermapContextError):
        mm.get_reserved(0, 1, preemption_disabled=False)
    lax = prepared(strict=False)
    assert lax.get(0, 1, 1, in_task=False) is None
    r = lax.get_reserved(0, 1, preemption_disabled=False)   # lockdep splat, then carries on
    lax.put(r)
    assert lax.stats["warnings"] == 2 and lax.stats["fail_not_in_task"] == 1


# --- differences between the stored versions -----------------------------------------------
def _fill_with_reserved_gets(mm: Mermap, cpu: int) -> None:
    """What clear_page_mermap()'s slow path does for a 512-page clear."""
    for i in range(mm.region_pages):
        mm.put(mm.get_reserved(cpu, 1000 + i))
    assert mm.next_addr(cpu) == mm.cpu_end(cpu)


def test_unsigned_space_check_overruns_into_next_cpu_window() -> None:
    # bjackman/linux@072bc4b4: `size > cpu_end - mc->next_addr` wraps once the reserved
    # path has moved next_addr to the very end, so the next get lands in CPU 1's window.
    mm = prepared(2, region_pages=16, variant=MERMAP_BJACKMAN_072BC4B, strict=False)
    _fill_with_reserved_gets(mm, 0)
    a = must(mm.get(0, 77, 1))
    assert a.base == mm.cpu_base(1) and mm.tlb_flushes(0) == 0
    assert ("window_overrun", 0, 16) in mm.violations
    strict = prepared(2, region_pages=16, variant=MERMAP_BJACKMAN_072BC4B)
    _fill_with_reserved_gets(strict, 0)
    with pytest.raises(MermapInvariantError):
        strict.get(0, 77, 1)


def test_additive_space_check_wraps_instead() -> None:
    mm = prepared(2, region_pages=16)
    _fill_with_reserved_gets(mm, 0)
    a = must(mm.get(0, 77, 1))
    assert a.base == mm.cpu_base(0) and mm.tlb_flushes(0) == 1 and not mm.violations


def test_reserve_slot_excluded_from_restart_point() -> None:
    # intel-lab-lkp/linux@1e956f94: the restart point ignores reserve_alloc, and the flush
    # happens before the WARN about it; a later reserved get then remaps the reserved page
    # while this CPU may still hold the old translation.
    mm = prepared(region_pages=16, variant=MERMAP_INTEL_LKP_1E956F9, strict=False)
    for i in range(15):
        mm.put(must(mm.get(0, i, 1)))
    held = mm.get_reserved(0, 900)                # [15, 16)
    assert mm.get(0, 1, 1) is None                # flushes, resets next_addr, then WARNs
    assert mm.stats["fail_reserve_busy"] == 1 and mm.tlb_flushes(0) == 1
    mm.put(held)
    for i in range(15):
        mm.put(must(mm.get(0, i, 1)))
    again = mm.get_reserved(0, 901)
    assert again.base == 15
    assert ("remap_before_flush", 0, 15) in mm.violations


# --- clear_page_mermap() (mm/page_alloc.c) -------------------------------------------------
def test_clear_small_range_uses_fast_path() -> None:
    mm = prepared()
    assert clear_page_mermap(mm, 0, 300, 8) == list(range(300, 308))
    assert mm.stats["gets"] == 1 and mm.stats["reserved_gets"] == 0


def test_clear_pageblock_always_takes_slow_path() -> None:
    # 512 pages never fit the 511 usable ones; the reserved path maps each page
    mm = prepared(kernel_pte_global=False)
    assert clear_page_mermap(mm, 0, 4096, 512) == list(range(4096, 4608))
    assert mm.stats["get_failures"] == 1 and mm.stats["reserved_gets"] == 512
    assert mm.tlb_flushes(0) == 0                  # exactly filled the window
    clear_page_mermap(mm, 0, 8192, 512)
    assert mm.tlb_flushes(0) == 1


def test_clear_slow_path_with_global_page_kernel_cannot_map() -> None:
    # f42bec43's slow path passes PAGE_KERNEL; b7f5c72's pgprot check refuses it when
    # kernel PTEs are global, and mermap_get_reserved() returns NULL to a caller that
    # dereferences it.
    mm = prepared(strict=False)
    with pytest.raises(MermapReservedUnavailable):
        clear_page_mermap(mm, 0, 4096, 512)


def test_clear_pageblocks_on_072bc4b_overrun_after_the_first() -> None:
    # bjackman/linux mm/mermap.c@072bc4b4 (also 40bd0e25): the first order-9 clear fills the
    # 512-page window through the reserved page (next_addr == cpu_end), after which
    # `size > cpu_end - mc->next_addr` wraps in unsigned long: every later block is placed
    # past the window, without a flush; linux-mm@b7f5c72f's additive test has no overrun.
    mm = prepared(variant=MERMAP_BJACKMAN_072BC4B, strict=False)
    for i in range(4):
        clear_page_mermap(mm, 0, 4096 * (i + 1), 512)
    assert mm.stats["reserved_gets"] == 512 and mm.stats["gets"] == 3
    assert [k for k, _, _ in mm.violations] == ["window_overrun"] * 3
    assert mm.tlb_flushes(0) == 0 and mm.next_addr(0) == 4 * 512
    fixed = prepared(kernel_pte_global=False)
    for i in range(4):
        clear_page_mermap(fixed, 0, 4096 * (i + 1), 512)
    assert fixed.stats["reserved_gets"] == 4 * 512 and not fixed.violations


def test_clear_v2_slow_path_clears_first_page_repeatedly() -> None:
    mm = prepared(variant=MERMAP_BJACKMAN_072BC4B)
    cleared = clear_page_mermap(mm, 0, 64, 1024, caller=CLEAR_PAGE_MERMAP_V2)
    assert cleared == [64] * 1024 and mm.stats["fail_oversize"] == 1


def test_clear_mm_order10_clears_every_page() -> None:
    mm = prepared(kernel_pte_global=False)
    assert clear_page_mermap(mm, 0, 64, 1024, caller=CLEAR_PAGE_MERMAP_MM) == \
        list(range(64, 64 + 1024))
    assert mm.tlb_flushes(0) == 1                  # 1024 reserved pages: one wrap


# --- random sequences keep the rules ------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_random_sequences_keep_invariants(seed: int) -> None:
    rng = random.Random(seed)
    ncpus, region = 3, 32
    mm = prepared(ncpus, region_pages=region)
    live: list[MermapAlloc] = []
    last_flushes = [0] * ncpus
    last_base = [-1] * ncpus
    for _ in range(3000):
        cpu = rng.randrange(ncpus)
        op = rng.random()
        if op < 0.45:
            a = mm.get(cpu, rng.randrange(1 << 20), rng.randint(1, 12))
            if a is not None:
                live.append(a)
                assert mm.cpu_base(cpu) <= a.base and a.end <= mm.cpu_end(cpu) - 1
                if mm.tlb_flushes(cpu) == last_flushes[cpu]:
                    assert a.base > last_base[cpu]     # no reuse without a flush
                last_flushes[cpu], last_base[cpu] = mm.tlb_flushes(cpu), a.base
        elif op < 0.55:
            mine = [a for a in live if a.cpu == cpu]
            if len(mine) < mm.nr_allocs:
                r = mm.get_reserved(cpu, rng.randrange(1 << 20))
                mm.put(r)
        elif live:
            a = live.pop(rng.randrange(len(live)))
            mm.put(a)
            assert set(range(a.pfn, a.pfn + a.nr_pages)) <= mm.translations(a.cpu)
        for c in range(ncpus):
            assert mm.migrate_disabled(c) == sum(a.cpu == c for a in live)
    assert not mm.violations
