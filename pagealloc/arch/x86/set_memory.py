"""The x86-64 kernel direct map at page-table-leaf granularity, and the
change_page_attr (CPA) rules that split it.

This models, for Linux 7.2:

* the boot-time construction of the direct map (``arch/x86/mm/init.c``
  ``init_mem_mapping()``, ``memory_map_top_down()``,
  ``init_range_memory_mapping()``, ``init_memory_mapping()``,
  ``split_mem_range()``, ``adjust_range_page_size_mask()``,
  ``probe_page_size_mask()``; ``arch/x86/mm/init_64.c``
  ``phys_pud_init()``/``phys_pmd_init()``/``phys_pte_init()`` with their
  ``update_page_count()`` calls);
* ``set_direct_map_valid_noflush()`` -> ``__set_pages_p()`` /
  ``__set_pages_np()`` -> ``__change_page_attr_set_clr()`` ->
  ``__change_page_attr()`` -> ``should_split_large_page()`` /
  ``split_large_page()`` / ``__split_large_page()`` and
  ``split_page_count()`` (``arch/x86/mm/pat/set_memory.c``);
* ``kernel_page_present()``, ``arch_report_meminfo()`` and the vm events
  ``direct_map_level2_splits`` / ``direct_map_level3_splits``.

Only the attributes that the page allocator's use of the direct map changes
are modelled: PRESENT (and the _PAGE_GLOBAL bit that a not-present round trip
loses, see below).  RW/NX/caching attributes, static_protections() and the
high kernel mapping alias are not modelled; the boot-time permission splits
they cause are injected with ``boot_split_pfns`` (and ``set_memory_4k()`` for
the ones made after boot).

State layout (no object per page):

* ``_l1``: one byte per 1 GiB region (PUD entry): none, a 1G leaf (present,
  present but non-global, not present) or a pointer to a PMD table;
* ``_l2``: one byte per 2 MiB region (PMD entry) with the same encoding; the
  bytes of regions under a 1G leaf (or under no PUD at all) are 0;
* ``_pte``: for split 2 MiB regions only, ``region -> bytearray(512)`` with one
  byte per 4 KiB PTE (0 = pte_none, i.e. a hole).

Values are PFNs throughout (1 PFN = 4 KiB).
"""
from __future__ import annotations

import bisect
from typing import Callable, Iterable

from pagealloc.mm.vmstat import render_directmap

__all__ = [
    "PG_LEVEL_NONE", "PG_LEVEL_4K", "PG_LEVEL_2M", "PG_LEVEL_1G",
    "ENOMEM", "EFAULT", "DirectMap",
]

PG_LEVEL_NONE, PG_LEVEL_4K, PG_LEVEL_2M, PG_LEVEL_1G = 0, 1, 2, 3

ENOMEM = 12
EFAULT = 14

PTRS_PER_TABLE = 512
PMD_PAGES = 1 << 9            # 4K pages per 2 MiB
PUD_PAGES = 1 << 18           # 4K pages per 1 GiB
ISA_END_PFN = 0x100           # ISA_END_ADDRESS (1 MiB) >> PAGE_SHIFT

# Entry encoding (one byte per entry, every level).
E_NONE = 0          # pte_none()/pmd_none()/pud_none(): nothing mapped
E_PRESENT = 1       # present leaf, PAGE_KERNEL (global) as built at boot
E_NOT_PRESENT = 2   # leaf with _PAGE_PRESENT cleared (pfn kept)
E_PRESENT_NG = 3    # present again after a not-present round trip: no _PAGE_GLOBAL
E_TABLE = 4         # points to the next-level table (only in _l1 and _l2)

_LEAVES = (E_PRESENT, E_NOT_PRESENT, E_PRESENT_NG)
_FILL_PRESENT = bytes.maketrans(b"\x00", b"\x01")

# page_size_mask bits (1 << PG_LEVEL_2M, 1 << PG_LEVEL_1G)
_M2 = 1 << PG_LEVEL_2M
_M1G = 1 << PG_LEVEL_1G


def _round_up(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def _round_down(x: int, a: int) -> int:
    return x // a * a


def _indices(buf: bytearray, value: int) -> list[int]:
    """Indices of the bytes equal to value (bytearray.find loop)."""
    out: list[int] = []
    needle = bytes((value,))
    i = buf.find(needle)
    while i >= 0:
        out.append(i)
        i = buf.find(needle, i + 1)
    return out


def _is_present_value(v: int) -> bool:
    return v == E_PRESENT or v == E_PRESENT_NG


class _MapRange:
    """struct map_range of arch/x86/mm/init.c (in PFNs)."""

    __slots__ = ("start", "end", "mask")

    def __init__(self, start: int, end: int, mask: int) -> None:
        self.start = start
        self.end = end
        self.mask = mask

    def __repr__(self) -> str:
        return f"_MapRange({self.start:#x}, {self.end:#x}, {self.mask})"


class DirectMap:
    """The direct map of one x86-64 machine.

    ``ram_ranges`` are the memblock memory ranges (half-open PFN ranges, e.g.
    the ``node 0: [mem ...]`` lines of the boot log), sorted or not; adjacent
    ranges are merged as memblock does.

    ``gbpages``: CONFIG_X86_DIRECT_GBPAGES and a CPU with GBPAGES (without
    ``nogbpages``); ``debug_pagealloc``: probe_page_size_mask() then maps
    everything with 4K pages.

    ``alloc_pgtable`` is the page allocator as ``split_large_page()`` calls it
    (``pte_alloc_one_kernel()``: one order-0 GFP_KERNEL|__GFP_ZERO page): it
    returns a PFN or None (-ENOMEM), and may itself call
    ``set_direct_map_valid_noflush()`` (cpa_lock is dropped around the
    allocation).  ``free_pgtable`` receives a page-table page that was
    allocated but not used because a nested call split the same large page
    first (``split_large_page()`` then calls ``pte_free_kernel()``).
    ``flush_tlb_all`` is called for the ``flush_tlb_all()`` that
    ``__split_large_page()`` does after every split (e.g. ``TLB.flush_tlb_all``).

    ``boot_split_pfns``: 2 MiB regions (given by any PFN inside) that the boot
    itself splits to 4K PTEs, as the permission changes on the kernel image
    and its direct-map alias do (``mark_rodata_ro()`` ->
    ``cpa_process_alias()``).  They use boot page tables, and are not counted
    as vm events because system_state is not SYSTEM_RUNNING yet.

    ``exact_boot_count``: the kernel counts a 1G/2M/4K leaf again each time a
    later ``init_memory_mapping()`` chunk re-visits it before bootmem (see
    ``count_skew``); True gives the ideal count instead.
    """

    def __init__(self, ram_ranges: list[tuple[int, int]], gbpages: bool = True,
                 alloc_pgtable: Callable[[], int | None] | None = None, *,
                 free_pgtable: Callable[[int], None] | None = None,
                 flush_tlb_all: Callable[[], None] | None = None,
                 boot_split_pfns: Iterable[int] = (),
                 debug_pagealloc: bool = False,
                 exact_boot_count: bool = False,
                 system_running: bool = True) -> None:
        ranges = sorted((int(s), int(e)) for s, e in ram_ranges if e > s)
        merged: list[tuple[int, int]] = []
        for s, e in ranges:
            if merged and s <= merged[-1][1]:
                ps, pe = merged[-1]
                merged[-1] = (ps, max(pe, e))
            else:
                merged.append((s, e))
        if not merged:
            raise ValueError("no RAM")
        self.ram_ranges: list[tuple[int, int]] = merged
        self._ram_starts = [s for s, _ in merged]
        self.max_pfn: int = merged[-1][1]
        self.alloc_pgtable = alloc_pgtable
        self.free_pgtable = free_pgtable
        self.flush_tlb_all = flush_tlb_all

        # probe_page_size_mask(), Linux 7.2 arch/x86/mm/init.c
        self._page_size_mask = 0
        if not debug_pagealloc:
            self._page_size_mask |= _M2
        self.gbpages: bool = bool(gbpages and not debug_pagealloc)   # direct_gbpages
        if self.gbpages:
            self._page_size_mask |= _M1G
        self.exact_boot_count = exact_boot_count

        n1 = max(1, _round_up(max(self.max_pfn, ISA_END_PFN), PUD_PAGES) // PUD_PAGES)
        self._n1 = n1
        self._l1 = bytearray(n1)
        self._l2 = bytearray(n1 * PTRS_PER_TABLE)
        self._pte: dict[int, bytearray] = {}

        self.direct_pages_count: list[int] = [0, 0, 0, 0]
        # direct_pages_count[level] minus the recount of leaves at that level
        self.count_skew: list[int] = [0, 0, 0, 0]
        self.stats: dict[str, int] = {
            "direct_map_level2_splits": 0,
            "direct_map_level3_splits": 0,
            "cpa_calls": 0,
            "cpa_lock_acquisitions": 0,      # one per __change_page_attr() step
            "cpa_lock_retakes": 0,           # re-taken after a split's allocation
            "pgtable_pages_allocated": 0,
            "pgtable_alloc_failures": 0,
            "pgtable_pages_freed_race": 0,
            "max_recursion_depth": 0,
            "split_flush_tlb_all": 0,
            "cpa_faults": 0,
            "cpa_1g_checked": 0, "cpa_1g_sameprot": 0, "cpa_1g_preserved": 0,
            "cpa_2m_checked": 0, "cpa_2m_sameprot": 0, "cpa_2m_preserved": 0,
            "cpa_4k_install": 0,
            "boot_pgtable_pages": 0,
            "boot_splits_2m": 0,
            "boot_splits_1g": 0,
        }
        # (depth, pfn, level) of every split after boot, in order.
        self.split_records: list[tuple[int, int, int]] = []
        # page-table pages allocated by CPA splits: pfn -> (level split, first pfn of the leaf)
        self.pgtable_pfns: dict[int, tuple[int, int]] = {}
        # CPA_FLUSHTLB of the call that returned last
        self.flush_needed: bool = False
        self.system_running = False

        self._depth = 0
        self._cpa_lock_held = False
        self._pfn_mapped: list[tuple[int, int]] = []
        self.max_pfn_mapped = 0

        self._init_mem_mapping()
        for pfn in boot_split_pfns:
            self._boot_split_to_4k(int(pfn))
        self.system_running = system_running

    # ------------------------------------------------------------------
    # memblock helpers
    # ------------------------------------------------------------------

    def _is_region_memory(self, start: int, end: int) -> bool:
        """memblock_is_region_memory(): [start, end) inside one memory range."""
        i = bisect.bisect_right(self._ram_starts, start) - 1
        if i < 0:
            return False
        s, e = self.ram_ranges[i]
        return s <= start and end <= e

    def is_ram(self, pfn: int) -> bool:
        i = bisect.bisect_right(self._ram_starts, pfn) - 1
        return i >= 0 and pfn < self.ram_ranges[i][1]

    # ------------------------------------------------------------------
    # boot: init_mem_mapping()
    # ------------------------------------------------------------------

    def _init_mem_mapping(self) -> None:
        """init_mem_mapping(), Linux 7.2 arch/x86/mm/init.c.

        The ISA range [0, 1 MiB) is always mapped, "regardless of memory
        holes" (so PFN 0 and 0x9f-0xff get 4K PTEs on a PC), then the rest top
        down (memblock is top-down on x86 unless movable_node).
        """
        self._init_memory_mapping(0, ISA_END_PFN)
        self._memory_map_top_down(ISA_END_PFN, self.max_pfn)

    def _memory_map_top_down(self, map_start: int, map_end: int) -> None:
        """memory_map_top_down(), Linux 7.2 arch/x86/mm/init.c.

        The first chunk is the top-most 2 MiB block that memblock can allocate
        (modelled as the top-most 2 MiB-aligned block of RAM: the model does
        not know memblock.reserved); the step grows 2 MiB -> 512 MiB -> 128 GiB
        (get_new_step_size(): << 8) once the RAM mapped so far reaches it.
        """
        real_end = 0
        for s, e in reversed(self.ram_ranges):
            top = _round_down(min(e, map_end), PMD_PAGES)
            if top - PMD_PAGES >= max(s, map_start):
                real_end = top
                break
        if not real_end:
            real_end = max(map_start, _round_down(map_end, PMD_PAGES))
        step = PMD_PAGES
        mapped = 0
        last_start = real_end
        while last_start > map_start:
            if last_start > step:
                start = _round_down(last_start - 1, step)
                if start < map_start:
                    start = map_start
            else:
                start = map_start
            mapped += self._init_range_memory_mapping(start, last_start)
            last_start = start
            if mapped >= step:
                step <<= 8
        if real_end < map_end:
            self._init_range_memory_mapping(real_end, map_end)

    def _init_range_memory_mapping(self, r_start: int, r_end: int) -> int:
        """init_range_memory_mapping(): map the RAM parts of [r_start, r_end)."""
        mapped = 0
        for s, e in self.ram_ranges:
            start = min(max(s, r_start), r_end)
            end = min(max(e, r_start), r_end)
            if start >= end:
                continue
            self._init_memory_mapping(start, end)
            mapped += end - start
        return mapped

    def _init_memory_mapping(self, start: int, end: int) -> None:
        """init_memory_mapping(): split_mem_range() then map each range."""
        ret = end
        for mr in self.split_mem_range(start, end):
            ret = self._phys_map(mr.start, mr.end, mr.mask)
        self._add_pfn_range_mapped(start, max(ret, end))

    def _add_pfn_range_mapped(self, start: int, end: int) -> None:
        """add_pfn_range_mapped(): pfn_mapped[] and max_pfn_mapped."""
        ranges = sorted(self._pfn_mapped + [(start, end)])
        out: list[tuple[int, int]] = []
        for s, e in ranges:
            if out and s <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        self._pfn_mapped = out
        self.max_pfn_mapped = max(self.max_pfn_mapped, end)

    def pfn_range_is_mapped(self, start: int, end: int) -> bool:
        """pfn_range_is_mapped(), Linux 7.2 arch/x86/mm/init.c."""
        return any(s <= start and end <= e for s, e in self._pfn_mapped)

    def split_mem_range(self, start: int, end: int) -> list[_MapRange]:
        """split_mem_range() + adjust_range_page_size_mask() + merging, x86-64,
        Linux 7.2 arch/x86/mm/init.c (before bootmem).

        4K head up to the first 2M boundary, 2M up to the first 1G boundary,
        1G-aligned middle (2M|1G), 2M to the last 2M boundary, 4K tail.  A 4K
        (2M) range becomes 2M (1G) when its whole enclosing 2M (1G) region is
        one memblock memory range.  Adjacent ranges of equal mask are merged.
        """
        psm = self._page_size_mask
        mr: list[_MapRange] = []

        def save(s: int, e: int, mask: int) -> None:
            if s < e:
                mr.append(_MapRange(s, e, mask))

        limit = end
        pfn = start
        end_pfn = min(_round_up(pfn, PMD_PAGES), limit)
        if start < end_pfn:
            save(start, end_pfn, 0)
            pfn = end_pfn
        s = _round_up(pfn, PMD_PAGES)
        e = _round_up(pfn, PUD_PAGES)
        if e > _round_down(limit, PMD_PAGES):
            e = _round_down(limit, PMD_PAGES)
        if s < e:
            save(s, e, psm & _M2)
            pfn = e
        s = _round_up(pfn, PUD_PAGES)
        e = _round_down(limit, PUD_PAGES)
        if s < e:
            save(s, e, psm & (_M2 | _M1G))
            pfn = e
        s = _round_up(pfn, PMD_PAGES)
        e = _round_down(limit, PMD_PAGES)
        if s < e:
            save(s, e, psm & _M2)
            pfn = e
        save(pfn, limit, 0)

        # adjust_range_page_size_mask()
        for r in mr:
            if (psm & _M2) and not (r.mask & _M2):
                if self._is_region_memory(_round_down(r.start, PMD_PAGES),
                                          _round_up(r.end, PMD_PAGES)):
                    r.mask |= _M2
            if (psm & _M1G) and not (r.mask & _M1G):
                if self._is_region_memory(_round_down(r.start, PUD_PAGES),
                                          _round_up(r.end, PUD_PAGES)):
                    r.mask |= _M1G

        merged: list[_MapRange] = []
        for r in mr:
            if merged and merged[-1].end == r.start and merged[-1].mask == r.mask:
                merged[-1].end = r.end
            else:
                merged.append(r)
        return merged

    def _count(self, level: int, n: int, revisits: int) -> None:
        """update_page_count() as phys_*_init() call it before bootmem: a leaf
        that already existed is counted again (``pages++`` on re-use)."""
        if self.exact_boot_count:
            self.direct_pages_count[level] += n - revisits
        else:
            self.direct_pages_count[level] += n
            self.count_skew[level] += revisits

    def _phys_map(self, start: int, end: int, mask: int) -> int:
        """kernel_physical_mapping_init() -> phys_pud_init(), Linux 7.2
        arch/x86/mm/init_64.c.  Returns paddr_last (as a PFN)."""
        last = end
        g = start // PUD_PAGES
        while g * PUD_PAGES < end:
            a = max(start, g * PUD_PAGES)
            b = min(end, (g + 1) * PUD_PAGES)
            v = self._l1[g]
            if v in _LEAVES:
                if mask & _M1G:
                    self._count(PG_LEVEL_1G, 1, 1)
                    last = (g + 1) * PUD_PAGES
                    g += 1
                    continue
                # The kernel replaces the 1G leaf by a fresh PMD table filled
                # only over [a, b) and keeps the 1G count.
                self._l1[g] = E_TABLE
                self._l2[g * PTRS_PER_TABLE:(g + 1) * PTRS_PER_TABLE] = bytes(PTRS_PER_TABLE)
                self.count_skew[PG_LEVEL_1G] += 1
                self.stats["boot_pgtable_pages"] += 1
                last = self._phys_pmd(a, b, mask)
            elif v == E_NONE and mask & _M1G:
                self._l1[g] = E_PRESENT
                self._count(PG_LEVEL_1G, 1, 0)
                last = (g + 1) * PUD_PAGES
            else:
                if v == E_NONE:
                    self._l1[g] = E_TABLE
                    self.stats["boot_pgtable_pages"] += 1
                last = self._phys_pmd(a, b, mask)
            g += 1
        return last

    def _phys_pmd(self, start: int, end: int, mask: int) -> int:
        """phys_pmd_init(), Linux 7.2 arch/x86/mm/init_64.c (one PMD table)."""
        m0 = start // PMD_PAGES
        m1 = (end + PMD_PAGES - 1) // PMD_PAGES
        l2 = self._l2
        if mask & _M2:
            seg = l2[m0:m1]
            if seg.count(E_TABLE) == 0:
                revisits = len(seg) - seg.count(E_NONE)
                self._count(PG_LEVEL_2M, len(seg), revisits)
                l2[m0:m1] = seg.translate(_FILL_PRESENT)
                return m1 * PMD_PAGES
        last = end
        for m in range(m0, m1):
            c = max(start, m * PMD_PAGES)
            d = min(end, (m + 1) * PMD_PAGES)
            w = l2[m]
            if w == E_TABLE:
                last = self._phys_pte(m, c, d)
            elif w in _LEAVES:
                if mask & _M2:
                    self._count(PG_LEVEL_2M, 1, 1)
                    last = (m + 1) * PMD_PAGES
                else:
                    # leaf replaced by a fresh PTE table over [c, d); count kept
                    l2[m] = E_TABLE
                    self._pte[m] = bytearray(PTRS_PER_TABLE)
                    self.count_skew[PG_LEVEL_2M] += 1
                    self.stats["boot_pgtable_pages"] += 1
                    last = self._phys_pte(m, c, d)
            elif mask & _M2:
                l2[m] = E_PRESENT
                self._count(PG_LEVEL_2M, 1, 0)
                last = (m + 1) * PMD_PAGES
            else:
                l2[m] = E_TABLE
                self._pte[m] = bytearray(PTRS_PER_TABLE)
                self.stats["boot_pgtable_pages"] += 1
                last = self._phys_pte(m, c, d)
        return last

    def _phys_pte(self, m: int, start: int, end: int) -> int:
        """phys_pte_init(), Linux 7.2 arch/x86/mm/init_64.c."""
        tbl = self._pte[m]
        i = start - m * PMD_PAGES
        j = end - m * PMD_PAGES
        seg = tbl[i:j]
        revisits = len(seg) - seg.count(E_NONE)
        self._count(PG_LEVEL_4K, len(seg), revisits)
        tbl[i:j] = seg.translate(_FILL_PRESENT)
        return end

    def _boot_split_to_4k(self, pfn: int) -> None:
        """A permission split made during boot (mark_rodata_ro() ->
        cpa_process_alias() on the kernel image's direct-map alias): the leaf
        over ``pfn`` is split down to 4K PTEs with the same presence, using
        boot page tables; split_page_count() adds no vm event before
        SYSTEM_RUNNING."""
        while True:
            level, _ = self._lookup(pfn)
            if level == PG_LEVEL_NONE:
                raise ValueError(f"boot split of unmapped pfn {pfn:#x}")
            if level == PG_LEVEL_4K:
                return
            self._do_split(pfn, level)
            self.stats["boot_pgtable_pages"] += 1
            self.stats["boot_splits_2m" if level == PG_LEVEL_2M else "boot_splits_1g"] += 1

    # ------------------------------------------------------------------
    # lookups
    # ------------------------------------------------------------------

    def _lookup(self, pfn: int) -> tuple[int, int]:
        """lookup_address(): (level, entry value) of the entry that maps pfn.
        Level PG_LEVEL_NONE (or value E_NONE) means no entry (a hole)."""
        if pfn < 0:
            return PG_LEVEL_NONE, E_NONE
        g = pfn // PUD_PAGES
        if g >= self._n1:
            return PG_LEVEL_NONE, E_NONE
        v = self._l1[g]
        if v == E_NONE:
            return PG_LEVEL_NONE, E_NONE
        if v != E_TABLE:
            return PG_LEVEL_1G, v
        m = pfn // PMD_PAGES
        w = self._l2[m]
        if w == E_NONE:
            return PG_LEVEL_NONE, E_NONE
        if w != E_TABLE:
            return PG_LEVEL_2M, w
        x = self._pte[m][pfn - m * PMD_PAGES]
        if x == E_NONE:
            return PG_LEVEL_NONE, E_NONE
        return PG_LEVEL_4K, x

    def is_present(self, pfn: int) -> bool:
        """kernel_page_present(), Linux 7.2 arch/x86/mm/pat/set_memory.c:
        _PAGE_PRESENT of the leaf mapping pfn (False for a hole, where the
        kernel would dereference a NULL pte)."""
        return _is_present_value(self._lookup(pfn)[1])

    def is_global(self, pfn: int) -> bool:
        """_PAGE_GLOBAL of the leaf: lost by a not-present -> present round
        trip (__set_pages_np() clears it via pgprot_clear_protnone_bits(),
        __set_pages_p() sets only PRESENT|RW)."""
        return self._lookup(pfn)[1] == E_PRESENT

    def level_of(self, pfn: int) -> int:
        """The page-table level of the leaf mapping pfn (lookup_address()'s
        level), PG_LEVEL_NONE for a hole."""
        level, v = self._lookup(pfn)
        return level if v != E_NONE else PG_LEVEL_NONE

    def range_present(self, pfn: int, nr: int) -> bool:
        """True iff every page of [pfn, pfn + nr) is present."""
        p, end = pfn, pfn + nr
        while p < end:
            level, v = self._lookup(p)
            if not _is_present_value(v):
                return False
            p = self._leaf_end(p, level) if level != PG_LEVEL_NONE else p + 1
        return True

    @staticmethod
    def _leaf_end(pfn: int, level: int) -> int:
        if level == PG_LEVEL_1G:
            return (pfn // PUD_PAGES + 1) * PUD_PAGES
        if level == PG_LEVEL_2M:
            return (pfn // PMD_PAGES + 1) * PMD_PAGES
        return pfn + 1

    # ------------------------------------------------------------------
    # change_page_attr
    # ------------------------------------------------------------------

    def set_direct_map_valid_noflush(self, pfn: int, nr: int, valid: bool) -> int:
        """set_direct_map_valid_noflush(page, nr, valid), Linux 7.2
        arch/x86/mm/pat/set_memory.c: __set_pages_p() (mask_set =
        PRESENT|RW) or __set_pages_np() (mask_clr = PRESENT|RW|DIRTY), both
        with CPA_NO_CHECK_ALIAS, through __change_page_attr_set_clr(); no TLB
        flush here (``flush_needed`` is CPA_FLUSHTLB for the caller).
        Returns 0, -ENOMEM or -EFAULT."""
        return self._cpa(pfn, nr, present=valid, force_split=False)

    def set_direct_map_invalid_noflush(self, pfn: int) -> int:
        """set_direct_map_invalid_noflush() = __set_pages_np(page, 1)."""
        return self._cpa(pfn, 1, present=False, force_split=False)

    def set_direct_map_default_noflush(self, pfn: int) -> int:
        """set_direct_map_default_noflush() = __set_pages_p(page, 1)."""
        return self._cpa(pfn, 1, present=True, force_split=False)

    def set_memory_4k(self, pfn: int, nr: int) -> int:
        """set_memory_4k() on the direct map (cpa->force_split, Linux 7.2):
        split every large leaf of the range down to 4K without changing
        presence; the model's stand-in for runtime permission splits of the
        direct-map alias (e.g. module text, counted as vm events)."""
        return self._cpa(pfn, nr, present=None, force_split=True)

    def _cpa(self, pfn: int, nr: int, present: bool | None, force_split: bool) -> int:
        """__change_page_attr_set_clr(), Linux 7.2: one __change_page_attr()
        step per large page or per 4K page, each under cpa_lock."""
        if self._cpa_lock_held:
            raise RuntimeError("CPA re-entered with cpa_lock held (deadlock)")
        self.stats["cpa_calls"] += 1
        self._depth += 1
        if self._depth > self.stats["max_recursion_depth"]:
            self.stats["max_recursion_depth"] = self._depth
        flushtlb = False
        ret = 0
        try:
            cur, rem = pfn, nr
            while rem > 0:
                self.stats["cpa_lock_acquisitions"] += 1
                self._cpa_lock_held = True
                try:
                    ret, done, changed = self._change_page_attr(cur, rem, present, force_split)
                finally:
                    self._cpa_lock_held = False
                flushtlb = flushtlb or changed
                if ret:
                    break
                assert 0 < done <= rem
                rem -= done
                cur += done
        finally:
            self._depth -= 1
            self.flush_needed = flushtlb
        return ret

    def _change_page_attr(self, pfn: int, numpages: int, present: bool | None,
                          force_split: bool) -> tuple[int, int, bool]:
        """__change_page_attr() + __should_split_large_page(), Linux 7.2.

        Returns (error, pages handled, CPA_FLUSHTLB set)."""
        while True:   # the "repeat:" label
            level, v = self._lookup(pfn)
            if v == E_NONE:
                # __cpa_process_fault(): a hole inside the direct map is
                # expected; one page is consumed.
                self.stats["cpa_faults"] += 1
                if 0 <= pfn < self.max_pfn_mapped:
                    return 0, 1, False
                return -EFAULT, 0, False
            if level == PG_LEVEL_4K:
                self.stats["cpa_4k_install"] += 1
                new = self._new_value(v, present)
                if new != v:
                    self._set_entry(pfn, level, new)
                    return 0, 1, True
                return 0, 1, False
            size = PUD_PAGES if level == PG_LEVEL_1G else PMD_PAGES
            tag = "cpa_1g_" if level == PG_LEVEL_1G else "cpa_2m_"
            lp_start = pfn // size * size
            numpages = min(numpages, lp_start + size - pfn)
            if not force_split:
                self.stats[tag + "checked"] += 1
                new = self._new_value(v, present)
                if new == v:
                    self.stats[tag + "sameprot"] += 1
                    return 0, numpages, False
                if pfn == lp_start and numpages == size:
                    self._set_entry(pfn, level, new)
                    self.stats[tag + "preserved"] += 1
                    return 0, numpages, True
            err = self._split_large_page(pfn, level)
            if err:
                return err, 0, False

    @staticmethod
    def _new_value(v: int, present: bool | None) -> int:
        if present is None:
            return v
        if present:
            return v if _is_present_value(v) else E_PRESENT_NG
        return E_NOT_PRESENT

    def _set_entry(self, pfn: int, level: int, value: int) -> None:
        if level == PG_LEVEL_1G:
            self._l1[pfn // PUD_PAGES] = value
        elif level == PG_LEVEL_2M:
            self._l2[pfn // PMD_PAGES] = value
        else:
            m = pfn // PMD_PAGES
            self._pte[m][pfn - m * PMD_PAGES] = value

    def _split_large_page(self, pfn: int, level: int) -> int:
        """split_large_page() + __split_large_page(), Linux 7.2.

        cpa_lock is dropped around the page-table allocation, so the
        allocator may re-enter CPA.  Afterwards the entry is looked up again:
        if it is no longer the same large leaf (a nested call split it), the
        page is freed and the caller repeats the lookup."""
        self._cpa_lock_held = False
        try:
            base = self.alloc_pgtable() if self.alloc_pgtable is not None else None
        finally:
            self._cpa_lock_held = True
            self.stats["cpa_lock_retakes"] += 1
        if base is None:
            self.stats["pgtable_alloc_failures"] += 1
            return -ENOMEM
        self.stats["pgtable_pages_allocated"] += 1
        now_level, now_v = self._lookup(pfn)
        if now_level != level or now_v not in _LEAVES:
            self.stats["pgtable_pages_freed_race"] += 1
            if self.free_pgtable is not None:
                self.free_pgtable(base)
            return 0
        if base in self.pgtable_pfns:
            raise RuntimeError(f"pfn {base:#x} handed out twice as a page table")
        size = PUD_PAGES if level == PG_LEVEL_1G else PMD_PAGES
        self.pgtable_pfns[base] = (level, pfn // size * size)
        self._do_split(pfn, level)
        self.split_records.append((self._depth, pfn, level))
        self.stats["split_flush_tlb_all"] += 1
        if self.flush_tlb_all is not None:
            self.flush_tlb_all()
        return 0

    def _do_split(self, pfn: int, level: int) -> None:
        """Replace the leaf by 512 entries of the next level with the same
        attributes, and split_page_count(level)."""
        if level == PG_LEVEL_1G:
            g = pfn // PUD_PAGES
            v = self._l1[g]
            self._l1[g] = E_TABLE
            self._l2[g * PTRS_PER_TABLE:(g + 1) * PTRS_PER_TABLE] = bytes((v,)) * PTRS_PER_TABLE
        else:
            m = pfn // PMD_PAGES
            v = self._l2[m]
            self._l2[m] = E_TABLE
            self._pte[m] = bytearray((v,)) * PTRS_PER_TABLE
        self._split_page_count(pfn, level)

    def _split_page_count(self, pfn: int, level: int) -> None:
        """split_page_count(), Linux 7.2: only for an address inside
        pfn_mapped[], and a no-op while the counter is 0; the vm event only
        when system_state == SYSTEM_RUNNING."""
        if not self.pfn_range_is_mapped(pfn, pfn + 1) or self.direct_pages_count[level] == 0:
            self.count_skew[level] += 1
            self.count_skew[level - 1] -= PTRS_PER_TABLE
            return
        self.direct_pages_count[level] -= 1
        self.direct_pages_count[level - 1] += PTRS_PER_TABLE
        if self.system_running:
            if level == PG_LEVEL_2M:
                self.stats["direct_map_level2_splits"] += 1
            else:
                self.stats["direct_map_level3_splits"] += 1

    # ------------------------------------------------------------------
    # reports and invariants
    # ------------------------------------------------------------------

    def meminfo_lines(self) -> str:
        """The DirectMap lines of /proc/meminfo (arch_report_meminfo())."""
        c = self.direct_pages_count
        return render_directmap(c[PG_LEVEL_4K], c[PG_LEVEL_2M], c[PG_LEVEL_1G], self.gbpages)

    def recount(self) -> list[int]:
        """Leaf entries per level, counted from the tables."""
        l1, l2 = self._l1, self._l2
        n1g = sum(l1.count(v) for v in _LEAVES)
        n2m = sum(l2.count(v) for v in _LEAVES)
        n4k = sum(PTRS_PER_TABLE - t.count(E_NONE) for t in self._pte.values())
        return [0, n4k, n2m, n1g]

    def not_present_pages(self) -> int:
        """Pages whose leaf is not present."""
        n = self._l1.count(E_NOT_PRESENT) * PUD_PAGES
        n += self._l2.count(E_NOT_PRESENT) * PMD_PAGES
        n += sum(t.count(E_NOT_PRESENT) for t in self._pte.values())
        return n

    def check(self) -> None:
        """Invariants; raises AssertionError."""
        rc = self.recount()
        for lvl in (PG_LEVEL_4K, PG_LEVEL_2M, PG_LEVEL_1G):
            assert self.direct_pages_count[lvl] == rc[lvl] + self.count_skew[lvl], (
                f"level {lvl}: direct_pages_count {self.direct_pages_count[lvl]} != "
                f"recount {rc[lvl]} + skew {self.count_skew[lvl]}")
        l1, l2 = self._l1, self._l2
        for g in range(self._n1):
            seg = l2[g * PTRS_PER_TABLE:(g + 1) * PTRS_PER_TABLE]
            if l1[g] != E_TABLE:
                assert seg.count(E_NONE) == PTRS_PER_TABLE, f"PMDs under non-table PUD {g}"
        assert set(_indices(l2, E_TABLE)) == set(self._pte), \
            "PTE tables out of sync with PMD entries"
        for m in self._pte:
            assert l1[m // PTRS_PER_TABLE] == E_TABLE
        # every RAM pfn has a leaf (present, or made not-present by CPA)
        for s, e in self.ram_ranges:
            p = s
            while p < e:
                g = p // PUD_PAGES
                gend = min(e, (g + 1) * PUD_PAGES)
                v = l1[g]
                assert v != E_NONE, f"RAM pfn {p:#x} has no PUD"
                if v == E_TABLE:
                    m0, m1 = p // PMD_PAGES, (gend - 1) // PMD_PAGES + 1
                    seg = l2[m0:m1]
                    assert seg.count(E_NONE) == 0, f"RAM in [{p:#x}, {gend:#x}) has no PMD"
                    for m in range(m0, m1):
                        if seg[m - m0] == E_TABLE:
                            i = max(p, m * PMD_PAGES) - m * PMD_PAGES
                            j = min(gend, (m + 1) * PMD_PAGES) - m * PMD_PAGES
                            assert self._pte[m][i:j].count(E_NONE) == 0, \
                                f"RAM in 2M region {m:#x} has no PTE"
                p = gend
        # page-table pages: one per runtime split, each a RAM page that is
        # mapped (the kernel writes page tables through the direct map)
        splits = (self.stats["pgtable_pages_allocated"]
                  - self.stats["pgtable_pages_freed_race"])
        assert len(self.pgtable_pfns) == splits == len(self.split_records)
        for base in self.pgtable_pfns:
            assert self.is_present(base), f"page-table page {base:#x} is not mapped"
