"""Tests of pagealloc.machine: boot (memblock_free_all, init_per_zone_wmark_min), the
numbers of the real 7.2 guest, the request API, and a randomized stress test.

Kernel references are to Linux 7.2 (/root/.cache/pagealloc/linux-7.2); ``pa.c:NNNN`` is a
line of mm/page_alloc.c.  Expected values are derived by hand from the source and, for
the real guest, compared with /work/shared/traces/README.md section 3.
"""
from __future__ import annotations

import math
import os
import random

import pytest

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import MIGRATE_MOVABLE
from pagealloc.mm.mmzone import PS_ALLOC, PS_MASK, Zone
from pagealloc.mm.page_alloc import (
    PageStateError,
    setup_per_zone_lowmem_reserve,
    zone_batchsize,
    zone_highsize,
)

M = MIGRATE_MOVABLE

# The real 7.2 guest (README section 3): e820 RAM 0x1-0x9e, 0x100-0xbffd6,
# 0x100000-0x1bffff.  Reservations chosen so that managed is DMA 3840, DMA32 752304
# (its value when the watermarks were last computed, at hugepage_init()) and Normal
# 758470: the first MiB, 29991 pages of kernel/initrd at 16 MiB, the memmap at the top.
GUEST_RAM = [(1, 0x9F), (0x100, 0xBFFD7), (0x100000, 0x1C0000)]
GUEST_RESERVED = [(0, 0x100), (0x1000, 0x1000 + 29991), (0x1C0000 - 27962, 0x1C0000)]


def guest(**kw) -> Machine:
    return Machine(ram_ranges=GUEST_RAM, reserved=GUEST_RESERVED, cpus=1, **kw)


def lst(m: Machine, z, order: int, mt: int) -> list[int]:
    return m.mem.list_entries(z.buddy_list(order, mt))


# ---------------------------------------------------------------------- reference math
def ref_wmarks(managed: list[int], min_free_kbytes: int, wsf: int = 10) -> list[tuple[int, int, int]]:
    """__setup_per_zone_wmarks() (pa.c:6506) for lowmem zones: (min, low, high)."""
    pages_min = min_free_kbytes >> 2
    lowmem = sum(managed)
    out = []
    for mp in managed:
        tmp = pages_min * mp // lowmem
        step = max(tmp >> 2, (mp // 10000) * wsf + ((mp % 10000) * wsf) // 10000)
        out.append((tmp, tmp + step, tmp + 2 * step))
    return out


def ref_min_free_kbytes(managed: list[int], highs: list[int]) -> int:
    """calculate_min_free_kbytes() (pa.c:6618) with nr_free_buffer_pages() (pa.c:5644)."""
    nfbp = sum(max(0, mp - h) for mp, h in zip(managed, highs))
    return min(max(math.isqrt(nfbp * 4 * 16), 128), 262144)


# ====================================================================== boot
def test_memblock_free_all_boot_lists_64m():
    """__free_pages_memory() (mm/memblock.c:2234): each free range is freed ascending in
    chunks of order min(MAX_PAGE_ORDER, __ffs(start)) shrunk to fit, through
    __free_pages_core() -> __free_pages_ok(FPI_TO_TAIL) (pa.c:1588), so every list is
    ascending; memmap_init() marks every pageblock MOVABLE.

    64M (QEMU layout: RAM 0x1-0x9e, 0x100-0x3fd6; reserved first MiB, the 32 MiB
    kernel image 0x1000-0x2fff, memmap 0x3ed7-0x3fd6): DMA is 0x100-0xfff = o8 0x100,
    o9 0x200, o10 0x400, 0x800, 0xc00; DMA32 0x3000-0x3ed6 = o10 0x3000, 0x3400, 0x3800,
    o9 0x3c00, o7 0x3e00, o6 0x3e80, o4 0x3ec0, o2 0x3ed0, o1 0x3ed4, o0 0x3ed6.
    """
    m = Machine(memory="64M", cpus=1)
    assert m.config.resolved_ram_ranges() == [(1, 0x9F), (0x100, 0x3FD7)]
    assert m.config.resolved_reserved() == [(0, 0x100), (0x1000, 0x3000), (0x3ED7, 0x3FD7)]
    dma, dma32 = m.zone("DMA"), m.zone("DMA32")
    assert (dma.zone_start_pfn, dma.zone_end_pfn, dma.present_pages, dma.managed_pages) == \
        (1, 0x1000, 3998, 3840)
    assert (dma32.zone_start_pfn, dma32.zone_end_pfn, dma32.present_pages, dma32.managed_pages) == \
        (0x1000, 0x3FD7, 12247, 3799)
    assert m.free_blocks(dma) == [(8, M, 0x100), (9, M, 0x200), (10, M, 0x400),
                                  (10, M, 0x800), (10, M, 0xC00)]
    assert m.free_blocks(dma32) == [
        (0, M, 0x3ED6), (1, M, 0x3ED4), (2, M, 0x3ED0), (4, M, 0x3EC0), (6, M, 0x3E80),
        (7, M, 0x3E00), (9, M, 0x3C00), (10, M, 0x3000), (10, M, 0x3400), (10, M, 0x3800)]
    assert all(m.pageblock_migratetype(b << 9) == M for b in range(0, 0x3FD7 >> 9))
    for z in (dma, dma32):
        assert z.nr_free_pages == z.managed_pages == z.vm_nr_free_pages
    assert [z.name for z in m.alloc.zonelist] == ["DMA32", "DMA"]
    m.check()


def test_qemu_layout_matches_real_guests():
    """MachineConfig.resolved_ram_ranges(): QEMU pc puts 3 GiB below 4 GiB when the
    machine has >= 3.5 GiB, and keeps the last 41 pages below the low RAM end:
    6144 MiB -> 0x1-0x9e, 0x100-0xbffd6, 0x100000-0x1bffff (the 7.2 guest) and
    1024 MiB -> 0x1-0x9e, 0x100-0x3ffd6 (the 6.1 guest)."""
    m6 = Machine(memory="6G", cpus=1, boot=False)
    assert m6.config.resolved_ram_ranges() == GUEST_RAM
    m1 = Machine(memory="1G", cpus=1, boot=False)
    assert m1.config.resolved_ram_ranges() == [(1, 0x9F), (0x100, 0x3FFD7)]
    z = m6.zone("DMA32")
    assert (z.zone_start_pfn, z.zone_end_pfn, z.present_pages) == (0x1000, 0x100000, 782295)
    n = m6.zone("Normal")
    assert (n.zone_start_pfn, n.zone_end_pfn, n.present_pages) == (0x100000, 0x1C0000, 786432)


# ====================================================================== real 7.2 guest
def test_real_guest_watermarks_and_min_free_kbytes():
    """init_per_zone_wmark_min() (pa.c:6634) then set_recommended_min_free_kbytes()
    (mm/khugepaged.c:3055) on the 7.2 guest (managed 3840 / 752304 / 758470).

    THP: 3 zones -> 512*3*2 + 512*3*3*3 = 16896 pages (< nr_free_buffer_pages / 20)
    -> 67584 kB.  __setup_per_zone_wmarks() (pa.c:6506): pages_min 16896 split by
    managed: 42 / 8392 / 8460; step max(tmp / 4, managed * 10 / 10000): 10 / 2098 /
    2115.  README: min/low/high DMA 42/52/62, DMA32 8392/10490/12588, Normal
    8460/10575/12690, promo 72, 14686, 14805, min_free_kbytes 67584.
    """
    m = guest()
    assert [z.managed_pages for z in m.populated_zones()] == [3840, 752304, 758470]
    assert m.min_free_kbytes == 67584
    assert [tuple(z._watermark) for z in m.populated_zones()] == [
        (42, 52, 62, 72), (8392, 10490, 12588, 14686), (8460, 10575, 12690, 14805)]
    assert ref_wmarks([3840, 752304, 758470], 67584) == [
        (42, 52, 62), (8392, 10490, 12588), (8460, 10575, 12690)]


def test_real_guest_pcp_batch_and_high():
    """zone_batchsize() (pa.c:6032) and zone_highsize() (pa.c:6080) through
    zone_set_pageset_high_and_batch() (pa.c:6192), 1 CPU, high_fraction 0:
    DMA batch 1 (3840 >> 12 = 0), high_min = low 52, high_max = 3840 / 8 = 480;
    DMA32 batch 63, 10490 / 94038; Normal 63, 10575 / 94808 (README section 3)."""
    m = guest()
    got = [(z.pcp[0].batch, z.pcp[0].high_min, z.pcp[0].high_max, z.pcp[0].high)
           for z in m.populated_zones()]
    assert got == [(1, 52, 480, 0), (63, 10490, 94038, 0), (63, 10575, 94808, 0)]


def test_real_guest_lowmem_reserve_protection():
    """setup_per_zone_lowmem_reserve() (pa.c:6461): lowmem_reserve[j] = (sum of managed
    of zones i+1..j) / sysctl_lowmem_reserve_ratio[i].  adjust_managed_page_count()
    (pa.c:6338) recomputes it when managed pages change, which is why the guest shows
    protection for DMA32 managed 755526 (its final value) while its watermarks were
    set at 752304:
    at boot:  DMA (0, 2938, 5901, 5901, 5901), DMA32 (0, 0, 2962, 2962, 2962);
    at 755526: DMA (0, 2951, 5914, 5914, 5914) -- README section 3.
    """
    m = guest()
    dma, dma32, normal = m.zone("DMA"), m.zone("DMA32"), m.zone("Normal")
    assert dma.lowmem_reserve == [0, 2938, 5901, 5901, 5901]
    assert dma32.lowmem_reserve == [0, 0, 2962, 2962, 2962]
    assert normal.lowmem_reserve == [0, 0, 0, 0, 0]
    dma32.managed_pages = 755526                       # free_initmem() etc.
    setup_per_zone_lowmem_reserve(m.zones, m.config.lowmem_reserve_ratio)
    assert dma.lowmem_reserve == [0, 2951, 5914, 5914, 5914]
    assert dma32.lowmem_reserve == [0, 0, 2962, 2962, 2962]


def test_lowmem_reserve_ratio_zero_clears_row():
    """setup_per_zone_lowmem_reserve() (pa.c:6484): ``clear = !ratio ||
    !zone_managed_pages(zone)``; ratio 0 for DMA32 zeroes its row."""
    m = guest(lowmem_reserve_ratio=(128, 0, 32, 0, 0))
    assert m.zone("DMA").lowmem_reserve == [0, 752304 // 128, (752304 + 758470) // 128,
                                            (752304 + 758470) // 128, (752304 + 758470) // 128]
    assert m.zone("DMA32").lowmem_reserve == [0, 0, 0, 0, 0]


# ====================================================================== min_free_kbytes
def test_min_free_kbytes_user_value():
    """min_free_kbytes_sysctl_handler() -> setup_per_zone_wmarks() (pa.c:6577): a user
    value replaces the computed one; pages_min = 20000 >> 2 = 5000 split by managed."""
    m = guest(min_free_kbytes=20000)
    assert m.min_free_kbytes == 20000
    want = ref_wmarks([3840, 752304, 758470], 20000)
    assert [tuple(z._watermark[:3]) for z in m.populated_zones()] == want
    assert sum(w[0] for w in want) == 4998          # rounding down per zone
    assert m.zone("DMA32").pcp[0].high_min == want[1][1]


def test_min_free_kbytes_thp_raise_is_capped_by_5_percent():
    """set_recommended_min_free_kbytes() (mm/khugepaged.c:3090):
    recommended = min(recommended, nr_free_buffer_pages() / 20) -> with 1 GiB (2 zones:
    DMA, DMA32) 512*2*2 + 512*2*9 = 11264 pages = 45056 kB (the 6.1 guest's value)."""
    m = Machine(memory="1G", cpus=1)
    assert m.min_free_kbytes == 45056


def test_min_free_kbytes_without_thp_is_recomputed_after_first_watermarks():
    """8G, transparent_hugepage=never.  Kernel order: init_per_zone_wmark_min()
    (postcore) computes isqrt(16 * 4 * 2035415) = 11413 with zero watermarks; then
    hugepage_init() (subsys_initcall, mm/huge_memory.c:1095; totalram >= 512 MiB) ->
    start_stop_khugepaged() -> set_recommended_min_free_kbytes(): THP disabled ->
    calculate_min_free_kbytes() again, now with high marks 11 / 2576 / 4331:
    nr_free_buffer_pages = 3829 + 755143 + 1269525 = 2028497 -> isqrt(129823808) = 11394.
    """
    m = Machine(memory="8G", cpus=2, thp=False)
    managed = [z.managed_pages for z in m.populated_zones()]
    assert managed == [3840, 757719, 1273856]
    first = ref_min_free_kbytes(managed, [0, 0, 0])
    assert first == 11413
    highs = [w[2] for w in ref_wmarks(managed, first)]
    assert highs == [11, 2576, 4331]
    assert ref_min_free_kbytes(managed, highs) == 11394
    assert m.min_free_kbytes == 11394


def test_min_free_kbytes_small_machine_gets_no_thp_raise():
    """256M (managed 3840 + 52183 = 56023 pages < 131072): only
    calculate_min_free_kbytes() (pa.c:6618) at init_per_zone_wmark_min():
    isqrt(16 * 4 * 56023) = 1893 kB."""
    m = Machine(memory="256M", cpus=1)
    managed = [z.managed_pages for z in m.populated_zones()]
    assert managed == [3840, 52183]
    assert ref_min_free_kbytes(managed, [0, 0]) == 1893
    assert m.min_free_kbytes == 1893


def test_min_free_kbytes_small_machine_without_thp():
    """calculate_min_free_kbytes() (pa.c:6618) at boot, nr_free_buffer_pages() with the
    watermarks still 0: 256M, THP off -> isqrt(64 * 56023) = 1893; clamped to >= 128."""
    m = Machine(memory="256M", cpus=1, thp=False)
    assert m.min_free_kbytes == 1893
    assert [tuple(z._watermark[:3]) for z in m.populated_zones()] == ref_wmarks([3840, 52183], 1893)


# ====================================================================== batch / high
def _zone(managed: int, low: int = 0) -> Zone:
    z = Zone(1, "DMA32", 0)
    z.managed_pages = managed
    z._watermark = [0, low, 0, 0]
    return z


@pytest.mark.parametrize("managed,batch", [
    (3840, 1), (8191, 1), (8192, 1), (16384, 3), (65536, 15), (131072, 31),
    (262144, 63), (752304, 63), (1 << 30, 63)])
def test_zone_batchsize(managed, batch):
    """zone_batchsize() (pa.c:6032): b = min(managed >> 12, 64); 1 if b <= 1, else
    rounddown_pow_of_two(b + b / 2) - 1 (8192 -> 2 -> 3 -> 2 - 1 = 1; 16384 -> 4 -> 6
    -> 3; 65536 -> 16 -> 24 -> 15; 131072 -> 32 -> 48 -> 31; >= 262144 -> 63)."""
    assert zone_batchsize(_zone(managed)) == batch


def test_zone_highsize():
    """zone_highsize() (pa.c:6080): total = low watermark (or managed / fraction), split
    over nr_split_cpus = CPUs of the node + cpu_online, at least batch << 2."""
    assert zone_highsize(_zone(752304, 10490), 63, 0, 0, 1) == 10490
    assert zone_highsize(_zone(752304, 10490), 63, 0, 8, 1) == 94038
    assert zone_highsize(_zone(752304, 10490), 63, 0, 0, 4) == 2622
    assert zone_highsize(_zone(752304, 10490), 63, 1, 0, 4) == 2098
    assert zone_highsize(_zone(3840, 52), 1, 0, 0, 1) == 52
    assert zone_highsize(_zone(3840, 52), 1, 0, 0, 64) == 4          # batch << 2
    assert zone_highsize(_zone(752304, 100), 63, 0, 0, 1) == 252


def test_percpu_pagelist_high_fraction_fixes_high():
    """zone_set_pageset_high_and_batch() (pa.c:6192): with
    percpu_pagelist_high_fraction, high_min = high_max = managed / fraction / CPUs."""
    m = guest(percpu_pagelist_high_fraction=100)
    p = m.zone("DMA32").pcp[0]
    assert (p.batch, p.high_min, p.high_max) == (63, 7523, 7523)


def test_pcpf_free_high_batch_from_cache_slice():
    """zone_pcp_update_cacheinfo() (pa.c:6256): PCPF_FREE_HIGH_BATCH iff the CPU's data
    cache slice in pages > 3 * batch (63 -> 189 pages: 756 kB is not enough, 760 is)."""
    from pagealloc.mm.mmzone import PCPF_FREE_HIGH_BATCH
    assert not guest(cpu_data_slice_kb=756).zone("DMA32").pcp[0].flags & PCPF_FREE_HIGH_BATCH
    assert guest(cpu_data_slice_kb=760).zone("DMA32").pcp[0].flags & PCPF_FREE_HIGH_BATCH


def test_stat_threshold():
    """calculate_normal_threshold() (mm/vmstat.c): 2 * fls(cpus) * (1 + fls(managed >>
    15)), at most 125: guest DMA32 (752304 >> 15 = 22) -> 2 * 1 * 6 = 12; 8G Normal
    (1273856 >> 15 = 38) with 64 CPUs -> 2 * 7 * 7 = 98, with 256 -> 126 -> 125."""
    assert guest().zone("DMA32").stat_threshold == 12
    assert Machine(memory="8G", cpus=64).zone("Normal").stat_threshold == 98
    assert Machine(memory="8G", cpus=256).zone("Normal").stat_threshold == 125


# ====================================================================== request API
def test_alloc_and_free_api_errors():
    """__free_pages_prepare() checks (pa.c:1312, bad_page()): freeing a page that is not
    the head of an allocated block of that order is an error (the model raises)."""
    m = Machine(memory="64M", cpus=2)
    p = m.alloc_pages("GFP_KERNEL", 2)
    assert p is not None
    with pytest.raises(PageStateError, match="order 2"):
        m.free_pages(p, 1)
    m.free_pages(p, 2)
    with pytest.raises(PageStateError, match="already free"):
        m.free_pages(p, 2)
    with pytest.raises(PageStateError):
        m.free_pages(p + 1, 0)
    with pytest.raises(PageStateError, match="beyond"):
        m.free_pages(1 << 40, 0)
    with pytest.raises(ValueError, match="cpu"):
        m.alloc_pages("GFP_KERNEL", 0, cpu=2)
    with pytest.raises(ValueError, match="cpu"):
        m.free_pages(p, 0, cpu=5)
    # order > MAX_PAGE_ORDER: WARN_ON_ONCE_GFP and NULL (pa.c:5336)
    assert m.alloc_pages("GFP_KERNEL", 11) is None
    assert m.alloc.stats["vm_warn"] == 1
    m.check()


def test_gfp_strings_and_ints_are_equivalent():
    """Machine.alloc_pages() accepts a trace-style GFP string or the integer."""
    a, b = Machine(memory="64M", cpus=1), Machine(memory="64M", cpus=1)
    got_a = [a.alloc_pages("GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP", o) for o in range(4)]
    got_b = [b.alloc_pages(G.GFP_HIGHUSER_MOVABLE | G.__GFP_ZERO | G.__GFP_COMP, o) for o in range(4)]
    assert got_a == got_b


def test_split_page():
    """split_page() (pa.c:3110): a non-compound order-n page becomes 2**n order-0 pages that
    can be freed one by one; compound pages cannot be split."""
    m = Machine(memory="64M", cpus=1)
    p = m.alloc_pages("GFP_KERNEL", 3)
    m.split_page(p, 3)
    for q in range(p, p + 8):
        assert m.mem.pstate[q] == PS_ALLOC
    for q in range(p, p + 8):
        m.free_pages(q, 0)
    c = m.alloc_pages("GFP_KERNEL|__GFP_COMP", 2)
    with pytest.raises(PageStateError, match="compound"):
        m.split_page(c, 2)
    m.check()


def test_free_everything_restores_boot_state():
    """Allocating a mix and freeing it all, then draining the pcp lists, gives back
    NR_FREE_PAGES of boot; with no fallback having changed any pageblock (only MOVABLE
    requests) the free lists are exactly the boot lists again, since every buddy
    merges back (__free_one_page(), pa.c:936)."""
    m = Machine(memory="64M", cpus=2)
    boot = {z.name: m.free_blocks(z) for z in m.populated_zones()}
    free0 = m.nr_free_pages()
    rnd = random.Random(5)
    live = []
    for i in range(3000):
        if live and rnd.random() < 0.4:
            pfn, order, cpu = live.pop(rnd.randrange(len(live)))
            m.free_pages(pfn, order, cpu)
        else:
            order = rnd.choice([0, 0, 1, 2, 3, 4, 9])
            cpu = rnd.randrange(2)
            p = m.alloc_pages("GFP_HIGHUSER_MOVABLE", order, cpu)
            if p is not None:
                live.append((p, order, cpu))
    for pfn, order, cpu in live:
        m.free_pages(pfn, order, cpu)
    m.drain_all_pages()
    assert m.nr_free_pages() == free0
    assert {z.name: sorted(m.free_blocks(z)) for z in m.populated_zones()} == \
        {k: sorted(v) for k, v in boot.items()}
    m.check()


# ====================================================================== stress
def test_stress_interleaved_allocs():
    """In the style of the series' KUnit test_stress_interleaved_allocs
    (mm/tests/page_alloc_kunit.c, shared/spec/series.md 2.15): random orders 0-3, at
    most N live allocations, failures tolerated, no PFN handed out twice (a page
    tracker, as the KUnit test's xarray), m.check() at the end.  Small by default;
    PAGEALLOC_STRESS=1 runs 1,000,000 iterations with up to 65,536 live allocations.
    """
    big = os.environ.get("PAGEALLOC_STRESS") == "1"
    iters, max_live = (1_000_000, 65_536) if big else (100_000, 1_500)
    m = Machine(memory="1G" if big else "64M", cpus=2)
    rnd = random.Random(20260101)
    gfps = [G.GFP_KERNEL, G.GFP_HIGHUSER_MOVABLE, G.GFP_KERNEL | G.__GFP_RECLAIMABLE,
            G.GFP_ATOMIC, G.GFP_NOWAIT]
    owner = bytearray(m.mem.max_pfn)     # 1 while handed out
    live: list[tuple[int, int, int]] = []
    failures = 0
    for i in range(iters):
        if len(live) >= max_live or (live and rnd.random() < 0.45):
            pfn, order, cpu = live.pop(rnd.randrange(len(live)))
            for q in range(pfn, pfn + (1 << order)):
                owner[q] = 0
            m.free_pages(pfn, order, cpu)
            continue
        order = rnd.randrange(4)
        cpu = rnd.randrange(2)
        pfn = m.alloc_pages(rnd.choice(gfps), order, cpu)
        if pfn is None:
            failures += 1
            continue
        assert pfn % (1 << order) == 0
        for q in range(pfn, pfn + (1 << order)):
            assert not owner[q], f"pfn {q:#x} handed out twice (iteration {i})"
            owner[q] = 1
        assert m.mem.pstate[pfn] == PS_ALLOC | order
        live.append((pfn, order, cpu))
        if i % 5000 == 0:
            m.check()
    m.check()
    for pfn, order, cpu in live:
        m.free_pages(pfn, order, cpu)
    m.drain_all_pages()
    m.check()
    assert sum(1 for p in range(m.mem.max_pfn) if m.mem.pstate[p] & PS_MASK == PS_ALLOC) == 0
    assert m.nr_free_pages() == sum(z.managed_pages for z in m.populated_zones())
    assert failures < iters
