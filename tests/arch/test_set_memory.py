"""Tests of pagealloc.arch.x86.set_memory: the boot layout of the x86-64 direct
map (Linux 7.2 arch/x86/mm/init.c, init_64.c) and the CPA split rules
(arch/x86/mm/pat/set_memory.c) that set_direct_map_valid_noflush() follows.

Expected values are derived by hand from the 7.2 source and, for the real
guests, compared with the meminfo/vmstat files of /work/shared/traces.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from pagealloc.arch.x86.set_memory import (
    EFAULT,
    ENOMEM,
    PG_LEVEL_1G,
    PG_LEVEL_2M,
    PG_LEVEL_4K,
    PG_LEVEL_NONE,
    DirectMap,
)
from pagealloc.arch.x86.tlb import TLB

GUEST_72 = [(0x1, 0x9f), (0x100, 0xbffd7), (0x100000, 0x1c0000)]   # README section 3
GUEST_61 = [(0x1, 0x9f), (0x100, 0x3ffd7)]
# A 16 GiB PC: 3 GiB below the PCI hole, 13 GiB above 4 GiB.
PC_16G = [(0x1, 0x9f), (0x100, 0xbffd7), (0x100000, 0x440000)]

GIB = 1 << 18     # pages
MIB2 = 1 << 9


class PoolAlloc:
    """A stand-in page allocator for page-table pages: hands out PFNs from a
    pool of mapped RAM; ``hook`` runs inside the allocation (re-entrancy)."""

    def __init__(self, start: int, n: int = 64) -> None:
        self.free = list(range(start + n - 1, start - 1, -1))
        self.calls = 0
        self.hook: Callable[[int], None] | None = None
        self.freed: list[int] = []

    def __call__(self) -> int | None:
        self.calls += 1
        if self.hook is not None:
            self.hook(self.calls)
        return self.free.pop() if self.free else None

    def give_back(self, pfn: int) -> None:
        self.freed.append(pfn)
        self.free.append(pfn)


def _meminfo_directmap(path: Path) -> str:
    return "".join(line + "\n" for line in path.read_text().splitlines()
                   if line.startswith("DirectMap"))


def _vmstat(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        k, _, v = line.partition(" ")
        if k == name:
            return int(v)
    raise KeyError(name)


# ---------------------------------------------------------------------------
# boot layout
# ---------------------------------------------------------------------------


def test_split_mem_range_7_2_guest() -> None:
    d = DirectMap(GUEST_72, gbpages=False)
    # the low RAM range as the last top-down chunk maps it
    mrs = [(r.start, r.end, r.mask) for r in d.split_mem_range(0x100, 0xbffd7)]
    assert mrs == [(0x100, 0x200, 0), (0x200, 0xbfe00, 1 << PG_LEVEL_2M), (0xbfe00, 0xbffd7, 0)]


def test_boot_layout_7_2_guest() -> None:
    """init_mem_mapping() on the 7.2 guest (no gbpages under TCG):
    4K: ISA [0, 0x100) 256 + head [0x100, 0x200) 256 + tail [0xbfe00, 0xbffd7) 471 = 983;
    2M: [0x200, 0xbfe00) 1534 + [0x100000, 0x1c0000) 1536 = 3070."""
    d = DirectMap(GUEST_72, gbpages=False)
    assert d.direct_pages_count == [0, 983, 3070, 0]
    assert d.meminfo_lines() == ("DirectMap4k:        3932 kB\n"
                                 "DirectMap2M:     6287360 kB\n")
    assert d.count_skew == [0, 0, 0, 0]
    # the ISA range is mapped regardless of holes: PFN 0 and 0x9f-0xff too
    assert d.is_present(0) and d.level_of(0) == PG_LEVEL_4K
    assert d.is_present(0xa0)
    assert d.level_of(0x1ff) == PG_LEVEL_4K and d.level_of(0x200) == PG_LEVEL_2M
    assert d.level_of(0xbffd6) == PG_LEVEL_4K
    assert d.level_of(0xbffd7) == PG_LEVEL_NONE and not d.is_present(0xbffd7)
    assert d.level_of(0xc0000) == PG_LEVEL_NONE
    assert d.level_of(0x1bffff) == PG_LEVEL_2M
    assert d.stats["direct_map_level2_splits"] == 0
    d.check()


# The real kernels also split 2 MiB leaves over the kernel image for its
# permissions (mark_rodata_ro() -> cpa_process_alias() on the direct-map alias;
# the image is at 0x1000000-0x41fffff, see iomem.txt): 9 before SYSTEM_RUNNING
# on 7.2 (no vm event), and 3 or 4 after it (counted in direct_map_level2_splits:
# module text and the like).  Which 2 MiB regions they are is not in the traces;
# these are illustrative picks inside the image; the counters do not depend on it.
BOOT_SPLITS_72 = [0x1000, 0x1200, 0x2200, 0x2400, 0x3000, 0x3200, 0x3400, 0x3c00, 0x4000]
RUNTIME_SPLITS_72 = [0x1a0000, 0x1a0200, 0x1a0400, 0x1a0600]


def _guest_72(runtime_splits: int) -> DirectMap:
    alloc = PoolAlloc(0x180000)
    d = DirectMap(GUEST_72, gbpages=False, alloc_pgtable=alloc,
                  boot_split_pfns=BOOT_SPLITS_72)
    for pfn in RUNTIME_SPLITS_72[:runtime_splits]:
        assert d.set_memory_4k(pfn, 1) == 0
    d.check()
    return d


@pytest.mark.parametrize("splits,dm4k,dm2m", [(4, 30556, 6260736), (3, 28508, 6262784)])
def test_7_2_guest_meminfo_with_kernel_image_splits(splits: int, dm4k: int, dm2m: int) -> None:
    """983 + 13 * 512 4K pages = 30556 kB, 3070 - 13 2M pages = 6260736 kB
    (anon); with 12 splits 28508/6262784 (the other 7.2 captures)."""
    d = _guest_72(splits)
    assert d.meminfo_lines() == (f"DirectMap4k:    {dm4k:8d} kB\n"
                                 f"DirectMap2M:    {dm2m:8d} kB\n")
    assert d.stats["direct_map_level2_splits"] == splits
    assert d.stats["boot_splits_2m"] == 9


def test_7_2_guest_matches_real_meminfo(traces_dir: Path) -> None:
    for workload, splits in (("anon", 4), ("fork", 3)):
        snap = traces_dir / "linux-7.2" / workload / "snap_before"
        assert _vmstat(snap / "vmstat", "direct_map_level2_splits") == splits
        assert _vmstat(snap / "vmstat", "direct_map_level3_splits") == 0
        assert _guest_72(splits).meminfo_lines() == _meminfo_directmap(snap / "meminfo")


def test_6_1_guest_layout_and_real_meminfo(traces_dir: Path) -> None:
    """6.1 guest (1 GiB): same 983 4K pages, 510 2M pages; its kernel split 11
    2M leaves before SYSTEM_RUNNING (vmstat 0)."""
    d = DirectMap(GUEST_61, gbpages=False)
    assert d.direct_pages_count == [0, 983, 510, 0]
    d = DirectMap(GUEST_61, gbpages=False, boot_split_pfns=[0x1000 + 0x200 * i for i in range(11)])
    snap = traces_dir / "linux-6.1" / "anon" / "snap_before"
    assert d.meminfo_lines() == _meminfo_directmap(snap / "meminfo")
    assert d.stats["direct_map_level2_splits"] == _vmstat(snap / "vmstat",
                                                          "direct_map_level2_splits") == 0
    d.check()


def test_16g_gbpages_layout() -> None:
    """1G leaves where the whole GiB is one memblock range: [1G, 2G) and
    [4G, 17G) (14 leaves); [0, 1G) and [2G, 3G) have holes -> 2M/4K."""
    d = DirectMap(PC_16G, gbpages=True, exact_boot_count=True)
    assert d.direct_pages_count[PG_LEVEL_1G] == 14
    assert d.level_of(GIB) == PG_LEVEL_1G
    assert d.level_of(0x100000) == PG_LEVEL_1G and d.level_of(0x43ffff) == PG_LEVEL_1G
    assert d.level_of(0x200) == PG_LEVEL_2M and d.level_of(2 * GIB) == PG_LEVEL_2M
    assert d.meminfo_lines().endswith("DirectMap1G:    14680064 kB\n")
    # 2M: [0x200, 1G) 511 + [2G, 0xbfe00) 511; 4K: ISA 256 + 256 + 471
    assert d.direct_pages_count == [0, 983, 1022, 14]
    d.check()


def test_16g_gbpages_kernel_recount_of_revisited_1g_leaf() -> None:
    """memory_map_top_down() maps [17G-2M, 17G), then [16.5G, 17G-2M), then
    [1M, 16.5G): each chunk's range gets the 1G mask from
    adjust_range_page_size_mask(), and phys_pud_init() counts an existing 1G
    leaf again before bootmem (pages++ on re-use), so the kernel's
    direct_pages_count[PG_LEVEL_1G] says 16 for 14 leaves."""
    d = DirectMap(PC_16G, gbpages=True)
    assert d.direct_pages_count[PG_LEVEL_1G] == 16
    assert d.count_skew == [0, 0, 0, 2]
    assert d.recount()[PG_LEVEL_1G] == 14
    d.check()


def test_no_gbpages_and_debug_pagealloc() -> None:
    d = DirectMap(PC_16G, gbpages=False)
    assert d.direct_pages_count[PG_LEVEL_1G] == 0
    assert "DirectMap1G" not in d.meminfo_lines()
    d = DirectMap([(0x100, 0x8000)], gbpages=True, debug_pagealloc=True)
    assert not d.gbpages
    assert d.direct_pages_count == [0, 0x8000, 0, 0]
    assert d.level_of(0x4000) == PG_LEVEL_4K
    d.check()


def test_1tib_builds() -> None:
    ram = [(0x1, 0x9f), (0x100, 0xbffd7), (0x100000, 0x100000 + 1024 * GIB)]
    for gb in (True, False):
        d = DirectMap(ram, gbpages=gb)
        d.check()
        assert d.is_present(0x100000 + 1000 * GIB)
    assert d.direct_pages_count[PG_LEVEL_2M] == 1534 + 1024 * 512


# ---------------------------------------------------------------------------
# set_direct_map_valid_noflush
# ---------------------------------------------------------------------------


def _pc16(alloc: PoolAlloc | None = None) -> tuple[DirectMap, PoolAlloc]:
    a = alloc if alloc is not None else PoolAlloc(0x100000)
    d = DirectMap(PC_16G, gbpages=True, alloc_pgtable=a, free_pgtable=a.give_back)
    return d, a


BLOCK = 0x200000 + 5 * MIB2     # a 2 MiB-aligned block inside the 1G leaf [8G, 9G)


def test_unmap_2m_block_in_1g_leaf_splits_once() -> None:
    d, a = _pc16()
    before = list(d.direct_pages_count)
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == 0
    assert d.flush_needed
    assert d.stats["direct_map_level3_splits"] == 1
    assert d.stats["direct_map_level2_splits"] == 0
    assert d.stats["pgtable_pages_allocated"] == 1 and a.calls == 1
    assert d.direct_pages_count[PG_LEVEL_1G] == before[PG_LEVEL_1G] - 1
    assert d.direct_pages_count[PG_LEVEL_2M] == before[PG_LEVEL_2M] + 512
    assert d.direct_pages_count[PG_LEVEL_4K] == before[PG_LEVEL_4K]
    assert "DirectMap2M:" in d.meminfo_lines()
    # the 2M leaf itself was rewritten as not-present, no second split
    assert d.level_of(BLOCK) == PG_LEVEL_2M and d.level_of(BLOCK + 511) == PG_LEVEL_2M
    assert not d.is_present(BLOCK) and not d.is_present(BLOCK + 511)
    assert d.is_present(BLOCK - 1) and d.is_present(BLOCK + 512)
    assert d.level_of(BLOCK + 512) == PG_LEVEL_2M
    assert d.split_records == [(1, BLOCK, PG_LEVEL_1G)]
    assert d.pgtable_pfns == {0x100000: (PG_LEVEL_1G, 0x200000)}
    # one __change_page_attr() step, one cpa_lock acquisition
    assert d.stats["cpa_lock_acquisitions"] == 1
    assert d.stats["cpa_2m_preserved"] == 1
    assert d.not_present_pages() == 512
    d.check()
    # unmapping it again: same prot, nothing to do, no flush needed
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == 0
    assert not d.flush_needed and d.stats["cpa_2m_sameprot"] == 1
    # mapping back: in place, no split, no re-merge of the 1G leaf
    assert d.set_direct_map_valid_noflush(BLOCK, 512, True) == 0
    assert d.is_present(BLOCK) and d.level_of(BLOCK) == PG_LEVEL_2M
    assert not d.is_global(BLOCK) and d.is_global(BLOCK + 512)
    assert d.level_of(BLOCK + 512) == PG_LEVEL_2M
    assert d.stats["pgtable_pages_allocated"] == 1
    d.check()


def test_unmap_single_page_splits_twice() -> None:
    d, a = _pc16()
    before = list(d.direct_pages_count)
    pfn = BLOCK + 7
    assert d.set_direct_map_valid_noflush(pfn, 1, False) == 0
    assert d.stats["direct_map_level3_splits"] == 1
    assert d.stats["direct_map_level2_splits"] == 1
    assert d.stats["pgtable_pages_allocated"] == 2
    assert d.direct_pages_count == [0, before[1] + 512, before[2] + 511, before[3] - 1]
    assert not d.is_present(pfn) and d.level_of(pfn) == PG_LEVEL_4K
    assert d.is_present(pfn - 1) and d.level_of(pfn - 1) == PG_LEVEL_4K
    assert d.level_of(BLOCK + 512) == PG_LEVEL_2M
    assert d.split_records == [(1, pfn, PG_LEVEL_1G), (1, pfn, PG_LEVEL_2M)]
    d.check()
    # mapping back never re-merges
    assert d.set_direct_map_valid_noflush(pfn, 1, True) == 0
    assert d.is_present(pfn) and d.level_of(pfn) == PG_LEVEL_4K
    assert d.direct_pages_count == [0, before[1] + 512, before[2] + 511, before[3] - 1]
    d.check()


def test_unmap_512_pages_in_split_region_is_512_steps() -> None:
    d, _ = _pc16()
    assert d.set_direct_map_valid_noflush(BLOCK + 1, 1, False) == 0
    n = d.stats["cpa_lock_acquisitions"]
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == 0
    assert d.stats["cpa_lock_acquisitions"] - n == 512
    assert d.not_present_pages() == 512
    assert d.stats["pgtable_pages_allocated"] == 2


def test_unaligned_range_across_2m_boundary() -> None:
    d, _ = _pc16()
    # 4 pages straddling the end of a 2M region inside a 1G leaf
    assert d.set_direct_map_valid_noflush(BLOCK + 510, 4, False) == 0
    assert d.stats["direct_map_level3_splits"] == 1
    assert d.stats["direct_map_level2_splits"] == 2
    assert d.not_present_pages() == 4
    assert d.is_present(BLOCK + 509) and d.is_present(BLOCK + 514)
    d.check()


def test_whole_1g_unmap_and_partial_map_back() -> None:
    d, _ = _pc16()
    g = 10 * GIB
    assert d.set_direct_map_valid_noflush(g, GIB, False) == 0
    assert d.stats["cpa_1g_preserved"] == 1 and d.stats["pgtable_pages_allocated"] == 0
    assert d.level_of(g) == PG_LEVEL_1G and not d.is_present(g + 12345)
    # mapping one page back splits the not-present 1G and 2M leaves
    assert d.set_direct_map_valid_noflush(g + 3, 1, True) == 0
    assert d.is_present(g + 3) and not d.is_present(g + 2) and not d.is_present(g + 512)
    assert d.level_of(g + 512) == PG_LEVEL_2M
    assert d.stats["direct_map_level3_splits"] == 1 and d.stats["direct_map_level2_splits"] == 1
    assert d.not_present_pages() == GIB - 1
    d.check()


def test_enomem_leaves_map_unchanged() -> None:
    d = DirectMap(PC_16G, gbpages=True, alloc_pgtable=lambda: None)
    before = list(d.direct_pages_count)
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == -ENOMEM
    assert d.direct_pages_count == before
    assert d.is_present(BLOCK) and d.level_of(BLOCK) == PG_LEVEL_1G
    assert d.stats["pgtable_alloc_failures"] == 1
    assert d.stats["pgtable_pages_allocated"] == 0 and d.not_present_pages() == 0
    assert not d.flush_needed
    d.check()
    # without any callback: the same
    d = DirectMap(PC_16G, gbpages=True)
    assert d.set_direct_map_valid_noflush(BLOCK + 1, 1, False) == -ENOMEM
    d.check()


def test_enomem_midway_is_not_rolled_back() -> None:
    """__change_page_attr_set_clr() stops at the failing step; earlier steps
    stay done (the caller sees -ENOMEM with part of the range changed)."""
    a = PoolAlloc(0x100000, n=1)
    d, _ = _pc16(a)
    # two 2M blocks in two different 1G leaves: [8G+..] and then [9G)
    start = 9 * GIB - 512
    assert d.set_direct_map_valid_noflush(start, 1024, False) == -ENOMEM
    assert not d.is_present(start) and d.is_present(9 * GIB)
    assert d.stats["pgtable_alloc_failures"] == 1
    d.check()


def test_hole_and_beyond_end() -> None:
    d, _ = _pc16()
    # [0xbffd7, 0xc0000) is a hole inside the direct map: each page faults
    n = d.stats["cpa_faults"]
    assert d.set_direct_map_valid_noflush(0xbffd0, 16, False) == 0
    assert d.stats["cpa_faults"] - n == 9
    assert not d.is_present(0xbffd6) and d.level_of(0xbffd7) == PG_LEVEL_NONE
    assert d.set_direct_map_valid_noflush(d.max_pfn_mapped, 1, False) == -EFAULT
    d.check()


# ---------------------------------------------------------------------------
# re-entrancy
# ---------------------------------------------------------------------------


def test_recursion_map_back_needs_no_pagetable() -> None:
    """The page-table allocation flips an unmapped block back to mapped
    (series 2.9 point 4): depth 2, no page table needed at depth 2."""
    d, a = _pc16()
    other = 12 * GIB + 64 * MIB2
    assert d.set_direct_map_valid_noflush(other, 512, False) == 0   # 1 split

    def hook(call: int) -> None:
        if call == 2:
            assert d.set_direct_map_valid_noflush(other, 512, True) == 0

    a.hook = hook
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == 0
    assert d.stats["max_recursion_depth"] == 2
    assert d.is_present(other) and not d.is_present(BLOCK)
    assert d.stats["pgtable_pages_allocated"] == 2
    assert [r[0] for r in d.split_records] == [1, 1]
    d.check()


def test_recursion_nested_unmap_splits_at_depth_2_and_3() -> None:
    d, a = _pc16()
    b2 = 12 * GIB + 3 * MIB2
    b3 = 14 * GIB + 9 * MIB2

    def hook(call: int) -> None:
        if call == 1:
            assert d.set_direct_map_valid_noflush(b2, 512, False) == 0
        elif call == 2:
            assert d.set_direct_map_valid_noflush(b3, 512, False) == 0

    a.hook = hook
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == 0
    assert d.stats["max_recursion_depth"] == 3
    assert d.split_records == [(3, b3, PG_LEVEL_1G), (2, b2, PG_LEVEL_1G), (1, BLOCK, PG_LEVEL_1G)]
    assert not d.is_present(BLOCK) and not d.is_present(b2) and not d.is_present(b3)
    assert len(set(d.pgtable_pfns)) == 3
    d.check()


def test_recursion_nested_split_of_same_leaf_frees_page() -> None:
    """A nested call splits the very 1G leaf the outer call is splitting:
    __split_large_page() finds a different kpte, the outer page is freed and
    the outer call repeats its lookup."""
    d, a = _pc16()
    same = BLOCK + 20 * MIB2     # same 1G region as BLOCK

    def hook(call: int) -> None:
        if call == 1:
            assert d.set_direct_map_valid_noflush(same, 512, False) == 0

    a.hook = hook
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == 0
    assert d.stats["direct_map_level3_splits"] == 1
    assert d.stats["pgtable_pages_allocated"] == 2
    assert d.stats["pgtable_pages_freed_race"] == 1 and len(a.freed) == 1
    assert d.split_records == [(2, same, PG_LEVEL_1G)]
    assert not d.is_present(BLOCK) and not d.is_present(same)
    d.check()


def test_reentry_under_cpa_lock_is_a_deadlock() -> None:
    d: DirectMap

    def bad_flush() -> None:
        d.set_direct_map_valid_noflush(0x300000, 512, False)

    a = PoolAlloc(0x100000)
    d = DirectMap(PC_16G, gbpages=True, alloc_pgtable=a, flush_tlb_all=bad_flush)
    with pytest.raises(RuntimeError, match="deadlock"):
        d.set_direct_map_valid_noflush(BLOCK, 1, False)


def test_split_flushes_tlb_all() -> None:
    tlb = TLB(4)
    a = PoolAlloc(0x100000)
    d = DirectMap(PC_16G, gbpages=True, alloc_pgtable=a,
                  flush_tlb_all=lambda: tlb.flush_tlb_all(0))
    tlb.unmap(0x300000, 512)
    assert d.set_direct_map_valid_noflush(BLOCK + 1, 1, False) == 0
    assert tlb.stats["flush_tlb_all"] == 2 and tlb.stats["ipis"] == 6
    assert not tlb.has_stale(0x300000, 512)
    # the change itself is not flushed: the caller must
    tlb.unmap(BLOCK + 1, 1)
    assert d.flush_needed and tlb.has_stale(BLOCK + 1, 1)


def test_pagetable_page_must_be_mapped() -> None:
    d, a = _pc16(PoolAlloc(BLOCK))      # allocator hands out pages of BLOCK
    assert d.set_direct_map_valid_noflush(BLOCK, 512, False) == 0
    with pytest.raises(AssertionError, match="not mapped"):
        d.check()
