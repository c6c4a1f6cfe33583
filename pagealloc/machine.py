"""The machine: one node's zones, CPUs and page allocator, built as x86-64 boots them.

Models the boot path that shapes the allocator's initial state: zone sizing
(``free_area_init()``/``zone_spanned_pages_in_node()``, mm/mm_init.c), ``memmap_init()``
marking every pageblock MOVABLE, ``memblock_free_all()`` handing the free memblock ranges
to the buddy allocator in maximal aligned chunks with ``FPI_TO_TAIL``
(``__free_pages_memory()``, mm/memblock.c), and ``init_per_zone_wmark_min()`` plus the
THP ``set_recommended_min_free_kbytes()`` raise.  A machine can instead be loaded from a
real kernel's ``gt_buddydump`` (see :mod:`pagealloc.workload.state`).

The :class:`Machine` is the single entry point for requests: :meth:`Machine.alloc_pages`,
:meth:`Machine.free_pages`, draining, time ticks, counters and ``/proc`` views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

from pagealloc.config import MAX_DMA32_PFN, MAX_DMA_PFN, MachineConfig, config_from_kwargs
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import MIGRATE_MOVABLE, NR_FREETYPE_IDXS
from pagealloc.mm.mmzone import (
    MAX_PAGE_ORDER,
    NIL,
    NR_PAGE_ORDERS,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    PCPF_FREE_HIGH_BATCH,
    PS_ALLOC,
    PS_HOLE,
    PS_MASK,
    PS_RESERVED,
    KIND_COMPOUND,
    KIND_MOVABLE,
    Mem,
    PerCpuPages,
    Zone,
)
from pagealloc.mm.page_alloc import (
    PageAllocator,
    PageStateError,
    calculate_min_free_kbytes,
    calculate_normal_threshold,
    recommended_min_free_kbytes,
    setup_per_zone_lowmem_reserve,
    setup_per_zone_wmarks,
)
from pagealloc.profiles import Profile, get_profile

if TYPE_CHECKING:
    from pagealloc.mm.vmstat import NodeView

#: pte_alloc_one_kernel(): GFP_PGTABLE_KERNEL = GFP_KERNEL | __GFP_ZERO
GFP_PGTABLE = G.GFP_KERNEL | G.__GFP_ZERO
GFP_UNMAPPED = G.__GFP_UNMAPPED
PFN_SECTION_SHIFT = 27 - 12   # SECTION_SIZE_BITS (x86-64) - PAGE_SHIFT

ZONE_BOUNDS = ((0, MAX_DMA_PFN), (MAX_DMA_PFN, MAX_DMA32_PFN), (MAX_DMA32_PFN, 1 << 62))

Sink = Callable[[str, int, tuple[int, ...]], None]


class Machine:
    """An x86-64 machine with one NUMA node, ``cpus`` CPUs and a page allocator.

    >>> m = Machine(memory="1G", cpus=1)
    >>> pfn = m.alloc_pages("GFP_KERNEL", 0)
    >>> m.free_pages(pfn, 0)
    """

    def __init__(self, config: MachineConfig | None = None, profile: str | Profile = "linux-7.2",
                 *, boot: bool = True, **kwargs: Any) -> None:
        if config is None:
            config = config_from_kwargs(**kwargs)
        elif kwargs:
            raise TypeError("pass either a MachineConfig or keyword fields, not both")
        config.validate()
        self.config = config
        self.profile = profile if isinstance(profile, Profile) else get_profile(profile)
        self.ncpus = config.cpus
        self.now_ns = 0
        self.synthesized_layout = False
        self.snapshot_source: str | None = None
        self.min_free_kbytes = 0
        self.sinks: list[Sink] = []
        ram = config.resolved_ram_ranges()
        reserved = config.resolved_reserved()
        max_pfn = ram[-1][1]
        nr = (max_pfn + (1 << MAX_PAGE_ORDER) - 1) & ~((1 << MAX_PAGE_ORDER) - 1)
        self.mem = Mem(nr)
        self.ram_ranges = ram
        self.reserved_ranges = reserved
        self.zones = self._build_zones(ram, reserved, max_pfn)
        self.alloc = PageAllocator(self.mem, self.zones, self.ncpus, self.profile,
                                   config.watermark_boost_factor, config.defrag_mode,
                                   self.profile.has_cma)
        if boot:
            self._memblock_free_all(ram, reserved)
            self.init_per_zone_wmark_min()
        self._attach_arch()
        from pagealloc.mm.owners import Owners
        self.owners = Owners(len(self.zones), config.swap >> 12)
        self.alloc.owners = self.owners
        self._attach_pressure()

    def _attach_arch(self) -> None:
        """The x86 direct map and TLB (arch/x86), and page-content tracking where the profile
        or config needs it (the series, init_on_alloc/init_on_free)."""
        from pagealloc.arch.x86.set_memory import DirectMap
        from pagealloc.arch.x86.tlb import TLB
        from pagealloc.mm.contents import Contents
        cfg = self.config
        self.tlb = TLB(self.ncpus)
        self.directmap = DirectMap(self.ram_ranges, cfg.gbpages, alloc_pgtable=self._alloc_pgtable,
                                   free_pgtable=self._free_pgtable,
                                   flush_tlb_all=lambda: self.tlb.flush_tlb_all(self.alloc.cpu))
        self.alloc.directmap = self.directmap
        self.alloc.tlb = self.tlb
        self.contents: Contents | None = None
        if self.profile.unmapped or cfg.init_on_alloc or cfg.init_on_free:
            self.contents = Contents(self.mem.max_pfn, cfg.init_on_alloc, cfg.init_on_free,
                                     self.profile.unmapped, self.directmap, self.tlb)
            self.alloc.contents = self.contents
        self.unmapped_cache = None
        if self.profile.unmapped == "cache":
            from pagealloc.mm.unmapped_cache import UnmappedCache
            self.unmapped_cache = UnmappedCache(self, self.profile.cache_unmap_whole_block)
        self.mermap = None
        if self.profile.unmapped == "v2":
            # v2 20/22: __GFP_UNMAPPED|__GFP_ZERO is zeroed through the current mm's mermap
            from pagealloc.mm.mermap import (
                CLEAR_PAGE_MERMAP_V2,
                MERMAP_BJACKMAN_072BC4B,
                Mermap,
                clear_page_mermap,
            )
            # the v2-era mermap (bjackman/linux, no pgprot check), as v2's caller expects
            mermap = Mermap(self.ncpus, strict=False, variant=MERMAP_BJACKMAN_072BC4B,
                            flush_local=lambda cpu: self.tlb.flush_tlb_local(cpu))
            mermap.mm_prepare()
            self.mermap = mermap
            if self.contents is not None:
                self.contents.mermap_clear = lambda pfn, nr: clear_page_mermap(
                    mermap, self.alloc.cpu, pfn, nr, CLEAR_PAGE_MERMAP_V2)

    def track_contents(self) -> None:
        """Attach a page-content tracker (:class:`pagealloc.mm.contents.Contents`) if the
        machine has none, so that zeroing and security events are measured on every profile.

        The machine builds one only for the series' profiles and for ``init_on_alloc`` /
        ``init_on_free``; without it ``pages_zeroed`` (the ``__GFP_ZERO`` zeroing of
        ``post_alloc_hook()``, mm/page_alloc.c 7.2) reads 0 whatever the run zeroed.  The
        tracker only observes (a byte per PFN) and never changes an allocation; scenario
        runs and ``compare`` columns call this, the bare fast path does not pay for it."""
        if self.contents is not None:
            return
        from pagealloc.mm.contents import Contents
        cfg = self.config
        self.contents = Contents(self.mem.max_pfn, cfg.init_on_alloc, cfg.init_on_free,
                                 self.profile.unmapped, self.directmap, self.tlb)
        self.alloc.contents = self.contents

    def _attach_pressure(self) -> None:
        """Reclaim, kswapd and kcompactd (mm/vmscan.c, mm/compaction.c) as agents."""
        from pagealloc.mm.compaction import Kcompactd, reset_isolation_suitable
        from pagealloc.mm.vmscan import Kswapd, Reclaim
        cfg = self.config
        alloc = self.alloc
        self.reclaim = Reclaim(alloc, self.owners, cfg.swappiness)
        self.kswapd = Kswapd(alloc, self.reclaim, self.ncpus)
        self.kcompactd = Kcompactd(alloc, cfg.compaction_proactiveness, cfg.extfrag_threshold)
        self.reclaim.kswapd = self.kswapd
        self.kswapd.kcompactd_wakeup = self.kcompactd.wakeup_kcompactd
        self.kswapd.reset_isolation_suitable = lambda: reset_isolation_suitable(alloc)
        alloc.reclaim = self.reclaim
        alloc.kswapd = self.kswapd
        alloc.kcompactd = self.kcompactd
        alloc.show_mem_lines = self._show_mem_lines

    def _show_mem_lines(self) -> list[str]:
        """``__show_free_areas()``'s per-zone buddy lines (mm/show_mem.c)."""
        from pagealloc.mm.vmstat import render_show_mem_zone
        k = self.profile.kernel
        return [render_show_mem_zone(zv, k) for nv in self.node_views() for zv in nv.zones
                if zv.populated]

    def _alloc_pgtable(self) -> int | None:
        """``pte_alloc_one_kernel()`` for a direct-map split: one zeroed order-0 page-table
        page, a mapped UNMOVABLE allocation (GFP_KERNEL|__GFP_ZERO) from this allocator."""
        contents = self.contents
        saved = contents.next_owner if contents is not None else 0
        if contents is not None:
            contents.next_owner = 1          # the kernel's own page: the caller's owner waits
        pfn = self.alloc.alloc_pages(GFP_PGTABLE, 0, self.alloc.cpu)
        if contents is not None:
            contents.next_owner = saved
        return None if pfn == NIL else pfn

    def _free_pgtable(self, pfn: int) -> None:
        """``pte_free_kernel()``: a page-table page that lost a split race goes back."""
        self.alloc.free_frozen_pages(pfn, 0, self.alloc.cpu)

    # ------------------------------------------------------------------ build
    def _build_zones(self, ram: list[tuple[int, int]], reserved: list[tuple[int, int]],
                     max_pfn: int) -> list[Zone]:
        """``free_area_init()``: spans, present and managed pages, pcp and list ids."""
        mem = self.mem
        node_start = ram[0][0]
        zones: list[Zone] = []
        for idx, name in enumerate(G.ZONE_NAMES):
            z = Zone(idx, name, 0)
            zones.append(z)
            if idx >= len(ZONE_BOUNDS):
                continue
            lo, hi = ZONE_BOUNDS[idx]
            start = max(lo, node_start)
            end = min(hi, max_pfn)
            if start >= end:
                continue
            present = sum(max(0, min(b, end) - max(a, start)) for a, b in ram)
            if not present:
                continue
            resv = 0
            for a, b in reserved:
                for ra, rb in ram:
                    lo2, hi2 = max(a, ra, start), min(b, rb, end)
                    if lo2 < hi2:
                        resv += hi2 - lo2
            z.zone_start_pfn = start
            z.spanned_pages = end - start
            z.present_pages = present
            z.managed_pages = present - resv
        pstate = mem.pstate
        pstate[:] = bytes([PS_HOLE]) * mem.max_pfn
        for a, b in ram:
            pstate[a:b] = bytes(b - a)
        for a, b in reserved:
            for ra, rb in ram:
                lo2, hi2 = max(a, ra), min(b, rb)
                if lo2 < hi2:
                    pstate[lo2:hi2] = bytes([PS_RESERVED]) * (hi2 - lo2)
        for z in zones:
            if not z.spanned_pages:
                continue
            first = z.zone_start_pfn >> PAGEBLOCK_ORDER
            last = (z.zone_end_pfn - 1) >> PAGEBLOCK_ORDER
            for b in range(first, last + 1):
                if mem.pb_zone[b] == 0xFF:
                    mem.pb_zone[b] = z.idx
                mem.pb[b] = MIGRATE_MOVABLE            # memmap_init(): every block MOVABLE
        for z in zones:
            z.list_base = mem.new_lists(NR_PAGE_ORDERS * NR_FREETYPE_IDXS)
            if z.present_pages:
                z.pcp = [PerCpuPages(cpu, mem.new_lists(self.profile.nr_pcp_lists))
                         for cpu in range(self.ncpus)]
                z.vm_free_diff = [0] * self.ncpus
        return zones

    def _memblock_free_all(self, ram: list[tuple[int, int]], reserved: list[tuple[int, int]]) -> None:
        """``memblock_free_all()``: free every unreserved range, ascending, maximal chunks."""
        free_ranges: list[tuple[int, int]] = []
        for a, b in ram:
            cur = a
            for ra, rb in reserved:
                if rb <= cur or ra >= b:
                    continue
                if ra > cur:
                    free_ranges.append((cur, ra))
                cur = max(cur, rb)
            if cur < b:
                free_ranges.append((cur, b))
        alloc = self.alloc
        for start, end in free_ranges:
            # __free_pages_memory(): order = min(MAX_PAGE_ORDER, __ffs(start)), shrunk to fit
            while start < end:
                order = MAX_PAGE_ORDER if start == 0 else min(MAX_PAGE_ORDER, (start & -start).bit_length() - 1)
                while start + (1 << order) > end:
                    order -= 1
                alloc.free_pages_core(start, order)
                start += 1 << order
        for z in self.zones:
            z.vm_nr_free_pages = z.nr_free_pages
            z.vm_free_diff = [0] * len(z.vm_free_diff)

    def init_per_zone_wmark_min(self) -> None:
        """``init_per_zone_wmark_min()`` and the THP raise (``set_recommended_min_free_kbytes``)."""
        cfg = self.config
        zones = self.zones
        prof = self.profile
        wm_args = (cfg.watermark_scale_factor, cfg.percpu_pagelist_high_fraction, self.ncpus,
                   prof.movable_wmark_capped, prof.pcp_model == "fixed")
        mfk = calculate_min_free_kbytes(zones)
        setup_per_zone_wmarks(zones, mfk, *wm_args)
        for z in zones:
            if z.pcp:
                z.stat_threshold = calculate_normal_threshold(z, self.ncpus)
        setup_per_zone_lowmem_reserve(zones, cfg.lowmem_reserve_ratio)
        # hugepage_init() (mm/huge_memory.c): below 512 MiB of RAM THP is switched off and
        # khugepaged never starts; otherwise start_stop_khugepaged() always ends in
        # set_recommended_min_free_kbytes(), which raises min_free_kbytes with THP on, or
        # recomputes it (now that high watermarks exist) with THP off
        totalram = sum(z.managed_pages for z in zones)
        if totalram >= (512 << 20) >> 12:
            if cfg.thp:
                mfk = recommended_min_free_kbytes(zones, mfk)
            else:
                mfk = calculate_min_free_kbytes(zones)
            setup_per_zone_wmarks(zones, mfk, *wm_args)
        if cfg.min_free_kbytes is not None:            # sysctl write after boot
            mfk = cfg.min_free_kbytes
            setup_per_zone_wmarks(zones, mfk, *wm_args)
        self.min_free_kbytes = mfk
        self.setup_pcp_cacheinfo()

    def setup_pcp_cacheinfo(self) -> None:
        """``zone_pcp_update_cacheinfo()``: PCPF_FREE_HIGH_BATCH if the LLC slice > 3 batches."""
        slice_pages = (self.config.cpu_data_slice_kb * 1024) >> 12
        for z in self.zones:
            for pcp in z.pcp:
                if slice_pages > 3 * pcp.batch:
                    pcp.flags |= PCPF_FREE_HIGH_BATCH
                else:
                    pcp.flags &= ~PCPF_FREE_HIGH_BATCH

    # ------------------------------------------------------------------ requests
    def parse_gfp(self, gfp: int | str) -> int:
        return gfp if isinstance(gfp, int) else G.parse_gfp(gfp, self.profile.gfp_table)

    def alloc_pages(self, gfp: int | str, order: int = 0, cpu: int = 0,
                    movable: bool | None = None, *, unmapped: bool = False,
                    owner: int | None = None, context: str = "task") -> int | None:
        """Allocate ``2**order`` pages; return the head PFN or None on failure.

        ``movable`` overrides whether the block counts as PageLRU/movable_ops for the
        claim heuristic (default: the request's migratetype is MOVABLE).  ``unmapped`` is
        the series v4's ``ALLOC_UNMAPPED`` (v2 uses ``__GFP_UNMAPPED`` in ``gfp``).
        ``owner`` names the user whose data the pages will hold (2.. for unmapped users),
        for the content/security tracking.  ``context`` is ``"task"`` (a process with an
        mm), ``"kthread"`` or ``"irq"``: v2 refuses unmapped requests outside a task
        (``mermap_ready()``).
        """
        if context not in ("task", "kthread", "irq"):
            raise ValueError(f"context {context!r}: expected task, kthread or irq")
        self.alloc.mermap_ready = context == "task"
        if not 0 <= cpu < self.ncpus:
            raise ValueError(f"cpu {cpu} out of range 0..{self.ncpus - 1}")
        g = self.parse_gfp(gfp)
        if unmapped and self.profile.unmapped != "v4":
            raise ValueError(f"unmapped=True is ALLOC_UNMAPPED (profile unmapped-v4); "
                             f"profile {self.profile.name} uses __GFP_UNMAPPED in gfp, or none")
        if owner is not None and self.contents is not None:
            self.contents.next_owner = owner
        if self.unmapped_cache is not None and g & GFP_UNMAPPED:
            self.alloc.cpu = cpu
            p = self.unmapped_cache.unmapped_pages_alloc(g, order, cpu)
            return None if p == NIL else p
        pfn = self.alloc.alloc_pages(g, order, cpu, unmapped)
        if self.kswapd.woken or self.kcompactd.woken:     # run_agents() checks the work
            self.run_agents()
        if pfn == NIL:
            return None
        if movable is not None:
            k = self.mem.pkind[pfn]
            self.mem.pkind[pfn] = (k | KIND_MOVABLE) if movable else (k & ~KIND_MOVABLE)
        return pfn

    def free_pages(self, pfn: int, order: int = 0, cpu: int = 0) -> None:
        """Free a block allocated with :meth:`alloc_pages` (``__free_pages()``).

        Freeing the current PFN of an owned block is :meth:`free_owned` of its handle."""
        if not 0 <= cpu < self.ncpus:
            raise ValueError(f"cpu {cpu} out of range 0..{self.ncpus - 1}")
        if not 0 <= pfn < self.mem.max_pfn:
            raise PageStateError(f"free of pfn {pfn:#x}: beyond the end of memory")
        h = self.owners.pfn_h.get(pfn)
        if h is not None:
            self.free_owned(h, cpu)
            return
        if self.unmapped_cache is not None and self.unmapped_cache.owns(pfn):
            self.unmapped_cache.unmapped_pages_free(pfn, order)
            return
        self.alloc.free_frozen_pages(pfn, order, cpu)

    # ------------------------------------------------------------------ owned memory
    def alloc_owned(self, kind: str, order: int = 0, cpu: int = 0, gfp: int | str | None = None,
                    *, dirty: bool = False) -> int | None:
        """Allocate an owned block of ``kind`` (``anon``, ``file``, ``slab``, ``unmovable``,
        see :mod:`pagealloc.mm.owners`); return its owner handle, or None on failure.

        The block gets the kind's default GFP mask unless ``gfp`` is given; anon and file
        blocks are PageLRU (migratable), join the inactive LRU list (``folio_add_lru()``),
        and file blocks may start ``dirty``.  The handle stays valid while migration moves
        the data (see :meth:`owner_pfn`) and while reclaim swaps or evicts it."""
        from pagealloc.mm.owners import DEFAULT_GFP, F_DIRTY, KIND_NAMES, OWN_FILE
        k = KIND_NAMES.get(kind)
        if k is None:
            raise ValueError(f"kind {kind!r}: expected one of {', '.join(KIND_NAMES)}")
        g = DEFAULT_GFP[k] if gfp is None else self.parse_gfp(gfp)
        pfn = self.alloc_pages(g, order, cpu, movable=k in (1, 2))
        if pfn is None:
            return None
        flags = F_DIRTY if dirty and k == OWN_FILE else 0
        return self.owners.new(pfn, order, k, self.mem.pb_zone[pfn >> PAGEBLOCK_ORDER], flags)

    def free_owned(self, handle: int, cpu: int = 0) -> None:
        """The owner releases its block (``munmap``, truncate, ``kmem_cache_free``): off the
        LRU, and freed with ``folio_put()`` if it is resident."""
        from pagealloc.mm.owners import ORDER_FIELD, ORDER_SHIFT
        info = self.owners.info(handle)
        pfn = self.owners.h_pfn[handle]
        self.owners.forget(handle)
        if pfn != NIL:
            self.alloc.free_frozen_pages(pfn, (info & ORDER_FIELD) >> ORDER_SHIFT, cpu)

    def owner_pfn(self, handle: int) -> int | None:
        """The head PFN holding ``handle``'s data now (None: swapped out or evicted)."""
        self.owners.info(handle)
        pfn = self.owners.h_pfn[handle]
        return None if pfn == NIL else pfn

    def touch(self, handle: int, cpu: int = 0) -> bool:
        """An access to ``handle``'s data: ``folio_mark_accessed()``; a swapped-out or
        evicted block is faulted back in (swap-in, a page-cache refault, or a slab object
        re-created after its shrinker freed it; counted as ``pswpin``/``pgmajfault``).
        False if the fault-in allocation failed."""
        from pagealloc.mm.owners import (
            DEFAULT_GFP,
            F_EVICTED,
            F_SWAPPED,
            ORDER_FIELD,
            ORDER_SHIFT,
            OWN_KIND_MASK,
        )
        o = self.owners
        info = o.info(handle)
        if o.h_pfn[handle] == NIL:
            order = (info & ORDER_FIELD) >> ORDER_SHIFT
            kind = info & OWN_KIND_MASK
            pfn = self.alloc_pages(DEFAULT_GFP[kind], order, cpu, movable=kind in (1, 2))
            if pfn is None:
                return False
            self.alloc.count_vm_events("pgmajfault", 1)
            if info & F_SWAPPED:
                self.alloc.count_vm_events("pswpin", 1 << order)
                o.nr_swapped_pages -= 1 << order
            o.set_flags(handle, clear_bits=F_SWAPPED | F_EVICTED)
            o.move(handle, pfn, self.mem.pb_zone[pfn >> PAGEBLOCK_ORDER])
            o.lruvec_add_folio(handle)
            return True
        o.folio_mark_accessed(handle)
        return True

    def mark_dirty(self, handle: int) -> None:
        """``folio_mark_dirty()`` on a page-cache block (a write)."""
        from pagealloc.mm.owners import F_DIRTY, OWN_FILE
        if self.owners.info(handle) & 7 != OWN_FILE:
            raise ValueError(f"handle {handle}: only page-cache blocks become dirty")
        self.owners.set_flags(handle, F_DIRTY)

    def run_agents(self) -> None:
        """Let woken kernel threads (kswapd, kcompactd) run: the model schedules them at
        the end of the request that woke them (one vCPU: they run when the task yields)."""
        if self.kswapd.woken:
            self.kswapd.run()
        if self.kcompactd.pending:
            self.kcompactd.run(self.now_ns)

    def drop_caches(self, mode: int = 3) -> int:
        """``echo mode > /proc/sys/vm/drop_caches``; returns the pages freed."""
        return self.reclaim.drop_caches(mode)

    def compact_memory(self) -> None:
        """``echo 1 > /proc/sys/vm/compact_memory``: compact every zone fully."""
        from pagealloc.mm.compaction import compact_memory
        compact_memory(self.alloc)

    def free_pages_batched(self, blocks: list[tuple[int, int]], cpu: int = 0) -> None:
        """Free folios through ``free_unref_folios()`` (release_pages, reclaim).

        On ``unmapped-cache-2023`` blocks of the cache go back to it (``__free_pages()``
        checks ``get_pageblock_unmapped()`` first), the rest to the batched path."""
        uc = self.unmapped_cache
        if uc is not None:
            for pfn, order in blocks:
                if uc.owns(pfn):
                    uc.unmapped_pages_free(pfn, order)
            blocks = [(p, o) for p, o in blocks if not uc.owns(p)]
        self.alloc.free_unref_folios(blocks, cpu)

    def split_page(self, pfn: int, order: int) -> None:
        """``split_page()``: turn a non-compound order-n block into 2**n order-0 pages."""
        mem = self.mem
        if mem.pstate[pfn] != PS_ALLOC | order:
            raise PageStateError(f"split_page({pfn:#x}, {order}): not an allocated order-{order} head")
        if mem.pkind[pfn] & KIND_COMPOUND:
            raise PageStateError(f"split_page({pfn:#x}, {order}): compound page")
        kind = mem.pkind[pfn]
        for p in range(pfn, pfn + (1 << order)):
            mem.pstate[p] = PS_ALLOC
            mem.pkind[p] = kind

    def drain_all_pages(self) -> None:
        """``drain_all_pages(NULL)``."""
        self.alloc.drain_all_pages(None)

    def tick(self, seconds: float = 1.0) -> None:
        """Advance time; every whole second run ``vmstat_update`` on each CPU."""
        start = self.now_ns
        self.now_ns += int(seconds * 1e9)
        for _ in range(self.now_ns // 1_000_000_000 - start // 1_000_000_000):
            for cpu in range(self.ncpus):
                self.alloc.refresh_cpu_vm_stats(cpu)
        self.reclaim.end_writeback_all()          # the flushers' I/O completes with time
        self.kswapd.tick(self.now_ns)
        self.kcompactd.timeout(self.now_ns, not self.kswapd.waiting)
        self.run_agents()

    # ------------------------------------------------------------------ observation
    def attach(self, sink: Sink) -> None:
        """Send every tracepoint to ``sink(name, cpu, args)``."""
        self.sinks.append(sink)
        self._update_sink()

    def detach(self, sink: Sink) -> None:
        self.sinks.remove(sink)
        self._update_sink()

    def _update_sink(self) -> None:
        sinks = list(self.sinks)
        if not sinks:
            self.alloc.sink = None
        elif len(sinks) == 1:
            self.alloc.sink = sinks[0]
        else:
            def fan(name: str, cpu: int, args: tuple[int, ...]) -> None:
                for s in sinks:
                    s(name, cpu, args)
            self.alloc.sink = fan

    def zone(self, name: str) -> Zone:
        for z in self.zones:
            if z.name.lower() == name.lower():
                return z
        raise KeyError(f"no zone named {name!r}")

    def populated_zones(self) -> Iterator[Zone]:
        return (z for z in self.zones if z.present_pages)

    def nr_free_pages(self) -> int:
        return sum(z.nr_free_pages for z in self.zones)

    def vm_events(self) -> dict[str, int]:
        return self.alloc.all_vm_events()

    def vmstat(self) -> dict[str, int]:
        """The /proc/vmstat items the model tracks, by kernel name."""
        zs = self.zones
        out: dict[str, int] = {
            "nr_free_pages": sum(max(0, z.vm_nr_free_pages) for z in zs),
            "nr_free_pages_blocks": sum(z.nr_free_pages_blocks for z in zs),
            "nr_free_cma": sum(z.nr_free_cma_pages for z in zs),
            "numa_hit": sum(z.numa_hit for z in zs),
            "numa_local": sum(z.numa_hit for z in zs),
        }
        if self.profile.unmapped in ("v2", "v4"):
            # series v4 23/26 splits NR_FREE_PAGES_BLOCKS by direct-map state [I: item names]
            unmapped = sum(z.nr_free_pages_blocks_unmapped for z in zs)
            out["nr_free_pages_blocks_unmapped"] = unmapped
            out["nr_free_pages_blocks_mapped"] = out["nr_free_pages_blocks"] - unmapped
        for name in ("pgalloc_dma", "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable",
                     "pgalloc_device", "pgfree"):
            out[name] = 0
        out.update(self.owners.stat_items())
        out.update(self.alloc.all_vm_events())
        return out

    def free_blocks(self, zone: Zone) -> list[tuple[int, int, int]]:
        """Every free block as (order, list index, pfn), per list from head to tail."""
        out: list[tuple[int, int, int]] = []
        for order in range(NR_PAGE_ORDERS):
            for idx in range(NR_FREETYPE_IDXS):
                for pfn in self.mem.list_entries(zone.buddy_list(order, idx)):
                    out.append((order, idx, pfn))
        return out

    def pcp_blocks(self, zone: Zone, cpu: int) -> list[tuple[int, int]]:
        """Every pcp entry of (zone, cpu) as (pindex, pfn), per list from head to tail."""
        pcp = zone.pcp[cpu]
        out: list[tuple[int, int]] = []
        for pindex in range(self.profile.nr_pcp_lists):
            for pfn in self.mem.list_entries(pcp.list_base + pindex):
                out.append((pindex, pfn))
        return out

    def allocated_blocks(self) -> Iterator[tuple[int, int]]:
        """(pfn, order) of every allocated block head."""
        ps = self.mem.pstate
        for pfn in range(self.mem.max_pfn):
            s = ps[pfn]
            if s & PS_MASK == PS_ALLOC:
                yield pfn, s & 0x0F

    def pageblock_migratetype(self, pfn: int) -> int:
        return self.mem.get_pfnblock_migratetype(pfn)

    # ------------------------------------------------------------------ /proc views
    def node_views(self) -> list["NodeView"]:
        """Read-only views of the node for the ``/proc`` renderers (:mod:`pagealloc.mm.vmstat`)."""
        from pagealloc.mm.vmstat import NodeView, PcpView, ZoneView
        mem = self.mem
        zviews = []
        for z in self.zones:
            free_counts = [[0] * 6 for _ in range(NR_PAGE_ORDERS)]
            blocks = [0] * 6
            pcps: list[PcpView] = []
            if z.present_pages:
                for order in range(NR_PAGE_ORDERS):
                    for mt in range(6):
                        free_counts[order][mt] = mem.list_len(z.buddy_list(order, mt))
                # pagetypeinfo_showblockcount_print(): pfn_to_online_page() skips blocks
                # of memory sections without any RAM
                pfn = z.zone_start_pfn
                while pfn < z.zone_end_pfn:
                    if self.section_online(pfn):
                        blocks[mem.get_pfnblock_migratetype(pfn)] += 1
                    pfn += PAGEBLOCK_NR_PAGES
                pcps = [PcpView(cpu=p.cpu, count=p.count, high=p.high, batch=p.batch,
                                high_min=p.high_min, high_max=p.high_max) for p in z.pcp]
            zviews.append(ZoneView(
                node=z.node, name=z.name, zone_idx=z.idx, start_pfn=z.zone_start_pfn,
                spanned=z.spanned_pages, present=z.present_pages, managed=z.managed_pages,
                free_counts=free_counts, nr_free=list(z.nr_free), block_counts=blocks,
                wmark_min=z.min_wmark_pages(), wmark_low=z.low_wmark_pages(),
                wmark_high=z.high_wmark_pages(), wmark_promo=z.promo_wmark_pages(),
                boost=z.watermark_boost, protection=list(z.lowmem_reserve),
                nr_free_pages=max(0, z.vm_nr_free_pages),
                zone_items={"nr_free_pages": max(0, z.vm_nr_free_pages),
                            "nr_free_pages_blocks": z.nr_free_pages_blocks,
                            "nr_free_cma": z.nr_free_cma_pages,
                            "numa_hit": z.numa_hit, "numa_local": z.numa_hit},
                pcp=pcps, cma_pages=z.cma_pages, nr_free_pages_blocks=z.nr_free_pages_blocks,
                nr_free_cma=z.nr_free_cma_pages, stat_threshold=z.stat_threshold,
                reserved_highatomic=z.nr_reserved_highatomic,
                free_highatomic=z.nr_free_highatomic))
        return [NodeView(node=0, zones=zviews, node_items={})]

    def section_online(self, pfn: int) -> bool:
        """``pfn_to_online_page() != NULL``: the 128 MiB memory section holds some RAM."""
        sec = pfn >> PFN_SECTION_SHIFT
        lo, hi = sec << PFN_SECTION_SHIFT, (sec + 1) << PFN_SECTION_SHIFT
        return any(a < hi and b > lo for a, b in self.ram_ranges)

    PROC_FILES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "extfrag_index",
                  "unusable_index")

    def proc(self, name: str) -> str:
        """Render a kernel file (``buddyinfo``, ``pagetypeinfo``, ``zoneinfo``, ``vmstat``,
        ``extfrag_index``, ``unusable_index``) exactly as this profile's kernel prints it."""
        from pagealloc.mm import vmstat as V
        k = self.profile.kernel
        if name == "vmstat":
            return V.render_vmstat(self.vmstat(), k)
        nodes = self.node_views()
        if name == "buddyinfo":
            return V.render_buddyinfo(nodes, k)
        if name == "pagetypeinfo":
            return V.render_pagetypeinfo(nodes, k, PAGEBLOCK_ORDER)
        if name == "zoneinfo":
            return V.render_zoneinfo(nodes, k)
        if name == "extfrag_index":
            return V.render_extfrag_index(nodes, k)
        if name == "unusable_index":
            return V.render_unusable_index(nodes, k)
        raise KeyError(f"unknown /proc view {name!r}; known: {', '.join(self.PROC_FILES)}")

    def meminfo_directmap(self) -> str:
        """The ``DirectMap4k/2M/1G`` lines of /proc/meminfo."""
        return self.directmap.meminfo_lines()

    #: the counters of :meth:`metrics`, in output order (issue 4's names, relied on by
    #: automation)
    METRICS = ("flips_to_unmapped", "flips_to_mapped", "tlb_flush_ranged", "tlb_flush_full",
               "tlb_ipis", "pagetable_pages", "directmap_splits_1g", "directmap_splits_2m",
               "pages_zeroed", "security_exposures", "spurious_unmapped_failures",
               # reclaim and compaction (issue 3), under their /proc/vmstat names
               "allocstall_dma", "allocstall_dma32", "allocstall_normal", "allocstall_movable",
               "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct",
               "pgscan_anon", "pgscan_file", "pgsteal_anon", "pgsteal_file", "pswpin",
               "pswpout", "pageoutrun", "kswapd_low_wmark_hit_quickly",
               "kswapd_high_wmark_hit_quickly", "slabs_scanned", "pgmigrate_success",
               "pgmigrate_fail", "compact_migrate_scanned", "compact_free_scanned",
               "compact_isolated", "compact_stall", "compact_fail", "compact_success",
               "compact_daemon_wake", "compact_daemon_migrate_scanned",
               "compact_daemon_free_scanned", "drop_pagecache", "drop_slab",
               # model counters: out_of_memory() reports and warn_alloc() failures
               "oom_reports", "alloc_failures")

    def metrics(self) -> dict[str, int]:
        """The series' headline counters under stable names, for every profile.

        ``flips_to_*``: whole-pageblock flips by ``__rmqueue_direct_map()``;
        ``tlb_flush_ranged``/``tlb_flush_full``: ``flush_tlb_kernel_range()`` flushes done by
        range and those over the 33-page ceiling (``tlb_single_page_flush_ceiling``) or
        ``flush_tlb_all()``; ``tlb_ipis``: IPIs sent to other CPUs; ``pagetable_pages``:
        page-table pages allocated at runtime by ``cpa_process_alias()``/``split_large_page()``;
        ``directmap_splits_1g``/``_2m``: runtime ``split_large_page()`` of 1G and 2M leaves;
        ``pages_zeroed``: pages zeroed by any path (init_on_alloc/free, ``__GFP_ZERO``, the
        mermap, map-back); ``security_exposures``: pages handed to a user holding another
        user's data unzeroed; ``spurious_unmapped_failures``: see
        :meth:`PageAllocator.spurious_unmapped_failure`.  Then the reclaim and
        compaction counters under their /proc/vmstat names, ``oom_reports`` (the
        ``out_of_memory()`` reports of the slow path) and ``alloc_failures`` (requests
        that returned no page).
        """
        a = self.alloc.stats
        ev = self.alloc.all_vm_events()
        t = self.tlb.stats
        d = self.directmap.stats
        c = self.contents.stats if self.contents is not None else {}
        return {
            "flips_to_unmapped": a["flip_to_unmapped"],
            "flips_to_mapped": a["flip_to_mapped"],
            "tlb_flush_ranged": t["flush_ranged"],
            "tlb_flush_full": t["flush_full"],
            "tlb_ipis": t["ipis"],
            "pagetable_pages": d["pgtable_pages_allocated"],
            "directmap_splits_1g": d["direct_map_level3_splits"],
            "directmap_splits_2m": d["direct_map_level2_splits"],
            "pages_zeroed": sum(v for k, v in c.items() if k.startswith("pages_zeroed_")),
            "security_exposures": c.get("exposures", 0),
            "spurious_unmapped_failures": a["spurious_unmapped_failures"],
        } | {name: ev.get(name, 0) for name in self.METRICS[11:-2]} | {
            "oom_reports": a["oom"],
            "alloc_failures": a["alloc_fail"],
        }

    def check(self) -> None:
        """Run every invariant (:mod:`pagealloc.mm.debug`); raise on the first violation."""
        from pagealloc.mm.debug import check_machine
        check_machine(self)

    @property
    def pageblock_nr_pages(self) -> int:
        return PAGEBLOCK_NR_PAGES

    def describe(self) -> str:
        """One line per zone: span, present, managed, free, watermarks."""
        lines = []
        for z in self.zones:
            if not z.present_pages:
                continue
            lines.append(
                f"{z.name:>7}: pfn {z.zone_start_pfn:#x}-{z.zone_end_pfn:#x} present {z.present_pages} "
                f"managed {z.managed_pages} free {z.nr_free_pages} "
                f"min/low/high {z.min_wmark_pages()}/{z.low_wmark_pages()}/{z.high_wmark_pages()}")
        return "\n".join(lines)


def is_allocated(m: Machine, pfn: int) -> bool:
    return m.mem.pstate[pfn] & PS_MASK == PS_ALLOC
