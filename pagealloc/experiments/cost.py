"""Modelled CPU cost
-----------------

Turns the model's event counters into modelled time, so that two profiles (or two policies)
run on the same workload can be compared in nanoseconds as well as in events.  The model is
a plain linear one: every component is ``count x unit cost``, and ``total_ns`` is their sum.
It is a *documented guess*, not a measurement: every default below comes from a published
figure, cited next to it, and the ones that are derived rather than read off a source say
so (``[inferred]``).  Override them with measured values (``perf``, ``bpftrace``) through
:meth:`CostParams.from_mapping`.

What a nanosecond means here: time spent on the CPU that runs the allocator, plus the time
it waits for other CPUs (an IPI round trip covers sending the IPI, the remote handler doing
its flush, and the acknowledgement).  Not modelled: TLB-refill misses on the remote CPUs
after a full flush, lock contention (``zone->lock``, ``cpa_lock``), and NUMA distance.

Counters are read by the model's names (see :data:`COUNTERS` and
:data:`VM_EVENT_COUNTERS`); a missing counter counts
as 0 and any other key is ignored.  Components and the counters they charge:

================== ================================================ ===============================
component          counters                                         unit cost
================== ================================================ ===============================
allocations        ``pgalloc_*`` (pages)                            ``alloc_fast_ns``
frees              ``pgfree`` (pages)                               ``free_fast_ns``
flips              ``flip_to_unmapped`` + ``flip_to_mapped``        ``buddy_op_ns``
tlb_full_flushes   ``flush_full``                                   ``full_flush_local_ns``
ipis               ``ipis``                                         ``ipi_round_trip_ns``
invlpgb            ``invlpgb``                                      ``invlpgb_ns``
ranged_flush_pages ``pages_flushed_ranged``                         ``ranged_flush_per_page_ns``
cpa_calls          ``cpa_calls``                                    ``cpa_call_ns``
cpa_splits         ``direct_map_level{2,3}_splits``                 ``cpa_split_ns``
pages_zeroed       ``pages_zeroed_alloc`` + ``_free`` + ``_mermap`` 4096 B / ``zero_bandwidth_...``
map_back_zeroing   ``pages_zeroed_map_back``                        4096 B / ``zero_block_...``
mermap_flushes     ``local_flushes`` (mermap)                       ``mermap_local_flush_ns``
compaction_scan    ``compact_migrate_scanned`` + ``_free_scanned``  ``compact_scan_per_page_ns``
migrate_copy       ``pgmigrate_success`` (pages)                    4096 B / ``migrate_copy_...``
migrate_remap      ``pgmigrate_success`` (pages)                    ``migrate_page_ns``
reclaim_scan       ``pgscan_kswapd`` + ``pgscan_direct``            ``reclaim_scan_per_page_ns``
reclaim_steal      ``pgsteal_kswapd`` + ``pgsteal_direct``          ``reclaim_steal_per_page_ns``
swap_out           ``pswpout`` (pages)                              ``swap_out_per_page_ns``
================== ================================================ ===============================

Counted once, never twice: a CPA split's ``flush_tlb_all()`` is charged through
``flush_full``/``ipis`` (not in ``cpa_split_ns``); the page-table page it allocates through
``pgalloc_*``; the mermap's local flush through the mermap's ``local_flushes`` (the TLB
model's ``flush_local`` counts the same flush and is not read); ``flip_pages_*`` and
``flush_ranged`` are not charged, their work being in the CPA, flush and IPI components.
Compaction and reclaim: ``compact_daemon_*_scanned`` are the kcompactd part of
``compact_*_scanned`` (``compact_zone()`` counts the latter for every caller and
``kcompactd_do_work()`` the former again, ``mm/compaction.c``) and are not read; ``pgscan_anon``/``pgscan_file`` (and ``pgsteal_*``) split the same pages by LRU
type and are not read; a migrated page's source is freed through ``pgfree`` and a reclaimed
page through ``pgfree`` (charged in ``frees``, not in ``migrate_*`` or ``reclaim_steal``);
``compact_isolated`` counts pages the scanners already charged.  Not charged, for want of a
counter: the buddy allocator's merges in ``__free_one_page()`` and splits in ``expand()``
(the model, like the kernel, counts neither: their work is inside ``alloc_fast_ns`` and
``free_fast_ns``), and dirty page-cache writeback (the model keeps no ``pgpgout``; the
flushers' I/O is not on the allocating CPU).

Worked example (defaults, 4 CPUs): flipping one 2 MiB-mapped pageblock to unmapped is one
``__rmqueue`` of the block (``buddy_op_ns`` 166.7), one CPA call (317.5), and a full flush
of a 512-page range, i.e. a local ``__flush_tlb_all()`` (3,300) and 3 IPIs (3 x 1,500):
8,284.2 ns.  ``PGALLOC`` counts ``1 << order`` pages per allocation, so high-order
allocations are charged per page, which overstates them.

Sources are quoted from ``shared/spec/anchors.md`` section C and
``shared/spec/series.md`` sections 2.9, 2.11 and 4.2, and from the mails and pages
named in each field's ``source``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from pagealloc.machine import Machine

__all__ = (
    "COMPONENTS",
    "COUNTERS",
    "PAGE_SIZE",
    "VM_EVENT_COUNTERS",
    "CostParams",
    "counter_delta",
    "describe",
    "machine_counters",
    "modelled_cost",
)

PAGE_SIZE = 4096

#: every counter :func:`modelled_cost` reads, besides the ``pgalloc_*`` family
COUNTERS = (
    "pgfree", "flip_to_unmapped", "flip_to_mapped", "flush_full", "ipis", "invlpgb",
    "pages_flushed_ranged", "cpa_calls", "direct_map_level2_splits",
    "direct_map_level3_splits", "pages_zeroed_alloc", "pages_zeroed_free",
    "pages_zeroed_mermap", "pages_zeroed_map_back", "local_flushes",
)
#: the vm events of compaction, migration and reclaim it reads (``/proc/vmstat`` names; a
#: vm event appears in :func:`machine_counters` once it has been counted)
VM_EVENT_COUNTERS = (
    "compact_migrate_scanned", "compact_free_scanned", "pgmigrate_success",
    "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "pswpout",
)
#: the components of :func:`modelled_cost`, in its order (``total_ns`` is their sum)
COMPONENTS = (
    "allocations", "frees", "flips", "tlb_full_flushes", "ipis", "invlpgb",
    "ranged_flush_pages", "cpa_calls", "cpa_splits", "pages_zeroed", "map_back_zeroing",
    "mermap_flushes", "compaction_scan", "migrate_copy", "migrate_remap", "reclaim_scan",
    "reclaim_steal", "swap_out",
)

_BANDWIDTHS = ("zero_bandwidth_bytes_per_ns", "zero_block_bandwidth_bytes_per_ns",
               "migrate_copy_bandwidth_bytes_per_ns")

#: Mel Gorman, "Defer initialisation of struct pages to kthreads" v4 cover letter: on a
#: 1 TB machine each of the 4 nodes' kswapd "initialised deferred memory in 1148ms"
_DEFERRED_INIT_NS_PER_PAGE = 1148e6 / ((1 << 40) // 4 // PAGE_SIZE)
#: Shivank Garg, move_pages() between two nodes of an AMD Zen 3 EPYC, vanilla v7.1-rc1,
#: single-threaded serial folio_copy: 3.31 GB/s with 4K folios, 11.02 GB/s with 2M folios
_MOVE_PAGES_4K_BYTES_PER_NS = 3.31
_MOVE_PAGES_2M_BYTES_PER_NS = 11.02
#: per 4 KiB page, move_pages() of 4K folios less the copy: unmap, TLB flush, remap
_UNMAP_REMAP_NS = PAGE_SIZE / _MOVE_PAGES_4K_BYTES_PER_NS - PAGE_SIZE / _MOVE_PAGES_2M_BYTES_PER_NS
#: Huang Ying, "mm, THP, swap: delay splitting THP after swapped out": swap-out throughput
#: 5.81 GB/s (before the patch) with 16 processes, vm-scalability swap-w-seq, Xeon E5 v3,
#: swap on a RAM-simulated PMEM device
_SWAP_OUT_BYTES_PER_NS = 5.81
_SWAP_OUT_PROCESSES = 16


def _p(default: float, unit: str, source: str, inferred: bool = False) -> Any:
    """A cost field: its default, unit and citation (``inferred``: derived, not read off)."""
    return field(default=default,
                 metadata={"unit": unit, "source": source, "inferred": inferred})


@dataclass(frozen=True)
class CostParams:
    """Unit costs, in nanoseconds (bandwidths in bytes/ns, i.e. GB/s).

    Each field's ``metadata`` holds its ``unit``, its ``source`` and whether the default is
    ``inferred``; :func:`describe` prints them.  The derivations:

    ``alloc_fast_ns`` = 94: Linux 4 KiB allocation on one core (984 ns with 26 cores
    allocating at once), LLFree, Wrenger et al., USENIX ATC 2023; anchors.md C3.

    ``free_fast_ns`` = 231 / 3.0 / 2 = 38.5 [inferred]: half of an order-0 ``alloc_page()``
    + ``__free_page()`` pair, 231 cycles (Jesper Dangaard Brouer, page_bench01, linux-mm
    2 Dec 2016), at 3.0 GHz, the clock implied by his "10G wirespeed budget (201 cycles)"
    (67.2 ns per 64-byte frame).  Splitting the pair in half is the inference.

    ``buddy_op_ns`` = 500 / 3.0 = 166.7 [inferred]: the ``zone->lock`` work of one flip
    (``__rmqueue()`` of the pageblock and freeing the remainder, series.md 2.9), taken as
    one order-3 ``alloc_pages()`` + ``__free_pages()`` pair, which bypassed the pcp lists in
    2016: "approx 500 cycles" (Brouer, quoted by Mel Gorman, linux-mm 11 Apr 2016), 3.0 GHz.

    ``ipi_round_trip_ns`` = 1,500: "~1-3 us per IPI round trip; rule of thumb ~1.5 us x
    cores" (anchors.md C2, secondary and low-quality sources).  Charging every remote CPU
    a full round trip is pessimistic where IPIs go out in parallel.

    ``full_flush_local_ns`` = 33 x 100 = 3,300 [inferred]: the kernel flushes everything
    instead of more than ``tlb_single_page_flush_ceiling`` = 33 single-page flushes of
    "about 100 ns" each (``arch/x86/mm/tlb.c``, commit a5102476a24b), so it rates a full
    flush, refills included, at about that.  The bare ``__flush_tlb()`` is 96 cycles (Ingo
    Molnar, linux-mm 8 Jun 2015): override with ~32 to leave refills out.

    ``ranged_flush_per_page_ns`` = 100: "Each single flush is about 100 ns"
    (``arch/x86/mm/tlb.c``, commit a5102476a24b; Molnar measured 260 cycles for
    ``__flush_tlb_one()``).  Remote CPUs' invlpgs are inside the IPI round trip.

    ``invlpgb_ns`` = 0.1 x 35 x 1,500 = 5,250 [inferred]: on a 36-core AMD Milan, INVLPGB
    cut TLB-invalidation CPU time from 40% to 4% (Rik van Riel, "AMD broadcast TLB
    invalidation" v5 cover letter), i.e. a tenth of IPIs to the other 35 CPUs.

    ``cpa_call_ns`` = 4096 / 12.9 = 317.5 [inferred, upper bound]: Michael Roth's SEV-SNP
    host, 1 TB / 128-vCPU guest, direct map pre-split to 4K, allocated 12.9 GB/s, the
    direct-map updates serialised by ``cpa_lock`` (series.md 4.2).  Assuming one CPA call
    per 4 KiB page, the whole per-page path took 317.5 ns, so a CPA call took no more.

    ``cpa_split_ns`` = 4096 / 13.7 = 299 [inferred]: filling the new page table, 512 entries
    (4 KiB), at ``zero_bandwidth_bytes_per_ns``; its allocation and its ``flush_tlb_all()``
    are charged elsewhere.  Cross-check against Roth's 2M-split-on-demand figure (8.0 vs
    12.9 GB/s, i.e. 99.6 us more per 2 MiB): with 64 CPUs a split costs here
    299 + 94 + 3,300 + 63 x 1,500 = 98.2 us.

    ``zero_bandwidth_bytes_per_ns`` = 13.7: x86 ``clear_pages()`` on AMD Milan, 4 KB chunks
    13.7 GB/s (2 MB: 15.1, 1 GB: 38.1); commit "x86/clear_page: introduce clear_pages()",
    Jan 2026 (anchors.md C3, secondary).  For page-at-a-time zeroing: on alloc, on free,
    through the mermap.

    ``zero_block_bandwidth_bytes_per_ns`` = 15.1: the same source, 2 MB chunks, for zeroing
    a whole pageblock when it is mapped back [inferred: that it is cleared as one extent].

    ``mermap_local_flush_ns`` = 3,300 [inferred]: ``arch_mermap_flush_tlb()`` is
    ``__flush_tlb_all()`` on the local CPU, no IPI (series.md 2.11), so it costs
    ``full_flush_local_ns``.

    ``compact_scan_per_page_ns`` = 1,148 ms / 67,108,864 = 17.1 [inferred]: one PFN looked
    at by ``isolate_migratepages_block()`` or ``isolate_freepages_block()`` (a read of its
    ``struct page``: ``PageBuddy()``, ``PageLRU()``, ``page_count()``), taken as one
    ``struct page`` initialised by deferred init: Mel Gorman's "kswapd N initialised deferred
    memory in 1148ms" on a 1 TB machine with 4 nodes (lkml, April 2015), assuming 256 GiB,
    i.e. 67,108,864 pages, per node.

    ``migrate_copy_bandwidth_bytes_per_ns`` = 11.02 [inferred]: ``folio_copy()`` of a
    migrated page, at the ``move_pages()`` throughput with 2 MiB folios (Shivank Garg,
    vanilla v7.1-rc1, AMD Zen 3 EPYC, single-threaded serial copy, lkml 8 May 2026), where
    the copy dominates; the inference is that the copy runs at that rate for 4 KiB too.

    ``migrate_page_ns`` = 4096 / 3.31 - 4096 / 11.02 = 865.8 [inferred]: the rest of
    migrating one 4 KiB folio (``migrate_folio_unmap()``: rmap walk, migration entries,
    their TLB flush; ``move_to_new_folio()``; ``remove_migration_ptes()``): the same
    source's 4K ``move_pages()`` time per folio, 3.31 GB/s, less its copy.  Charged per
    ``pgmigrate_success`` page, which overstates THPs (as ``PGALLOC`` does).

    ``reclaim_scan_per_page_ns`` = 17.1 [inferred, lower bound]: ``isolate_lru_folios()``
    visits each scanned folio's ``struct page`` once, priced as ``compact_scan_per_page_ns``;
    the ``folio_check_references()`` rmap walk of a mapped folio costs more (override it).

    ``reclaim_steal_per_page_ns`` = 865.8 [inferred]: ``shrink_folio_list()`` reclaiming a
    folio (``try_to_unmap()`` through the rmap with its TLB flush, ``__remove_mapping()``)
    does what migration does besides the copy, so it costs ``migrate_page_ns``; the free is
    in ``free_fast_ns``.

    ``swap_out_per_page_ns`` = 16 x 4096 / 5.81 - 865.8 - 17.1 - 38.5 = 10,358.5 [inferred,
    upper bound]: Huang Ying's swap-out throughput, 5.81 GB/s with 16 processes on a Xeon
    E5 v3 with swap on a RAM-simulated PMEM device (commit bd4c82c22c36, "mm, THP, swap:
    delay splitting THP after swapped out", 2017), is 11,279.9 ns of one process per page
    if the 16 did nothing but reclaim; less that page's scan, steal and free (charged in
    their components) it is ``add_to_swap()`` and ``pageout()``: the swap-cache entry and
    the write (a memory copy on that device; a real disk's wait is not CPU time).
    """

    alloc_fast_ns: float = _p(
        94.0, "ns/page",
        "LLFree (ATC'23) https://www.usenix.org/conference/atc23/presentation/wrenger ; "
        "anchors.md C3")
    free_fast_ns: float = _p(
        231 / 3.0 / 2, "ns/page",
        "Brouer page_bench01, 231 cycles alloc+free, linux-mm 2016-12-02 "
        "<20161202131344.12ce594c@redhat.com>; half, at 3.0 GHz", inferred=True)
    buddy_op_ns: float = _p(
        500 / 3.0, "ns/flip",
        "Brouer, order-3 alloc+free ~500 cycles, linux-mm 2016-04-11 "
        "<20160411180703.GA27534@suse.de>; at 3.0 GHz", inferred=True)
    ipi_round_trip_ns: float = _p(
        1500.0, "ns/IPI",
        "anchors.md C2: ~1-3 us per IPI, ~1.5 us x cores (secondary, low quality)")
    full_flush_local_ns: float = _p(
        33 * 100.0, "ns/flush",
        "tlb_single_page_flush_ceiling 33 x 100 ns, arch/x86/mm/tlb.c (a5102476a24b)",
        inferred=True)
    ranged_flush_per_page_ns: float = _p(
        100.0, "ns/page",
        "arch/x86/mm/tlb.c comment 'Each single flush is about 100 ns' (a5102476a24b)")
    invlpgb_ns: float = _p(
        0.1 * 35 * 1500.0, "ns/broadcast",
        "van Riel INVLPGB v5, 40% -> 4% on 36-core Milan, "
        "https://lkml.iu.edu/hypermail/linux/kernel/2501.1/11787.html", inferred=True)
    cpa_call_ns: float = _p(
        PAGE_SIZE / 12.9, "ns/call",
        "Roth, SNP DirectMap4K 12.9 GB/s per 4K CPA, series.md 4.2; upper bound",
        inferred=True)
    cpa_split_ns: float = _p(
        PAGE_SIZE / 13.7, "ns/split",
        "one 4 KiB page table written at 13.7 GB/s; cross-checked with Roth, series.md 4.2",
        inferred=True)
    zero_bandwidth_bytes_per_ns: float = _p(
        13.7, "bytes/ns",
        "clear_pages() AMD Milan 4 KB chunks, anchors.md C3; "
        "https://lexplain.net/commit-analyses/cb431accb36e51b64ce34b5cc4d5ed292895fd84")
    zero_block_bandwidth_bytes_per_ns: float = _p(
        15.1, "bytes/ns",
        "clear_pages() AMD Milan 2 MB chunks, anchors.md C3 (same commit)", inferred=True)
    mermap_local_flush_ns: float = _p(
        33 * 100.0, "ns/flush",
        "local __flush_tlb_all(), series.md 2.11; = full_flush_local_ns", inferred=True)
    compact_scan_per_page_ns: float = _p(
        _DEFERRED_INIT_NS_PER_PAGE, "ns/page",
        "one struct page, as Gorman's deferred init: 1 TB, 4 nodes, 1148 ms per node, "
        "https://lkml.iu.edu/hypermail/linux/kernel/1504.3/03018.html", inferred=True)
    migrate_copy_bandwidth_bytes_per_ns: float = _p(
        _MOVE_PAGES_2M_BYTES_PER_NS, "bytes/ns",
        "Garg, move_pages() 2M folios 11.02 GB/s, vanilla v7.1-rc1, "
        "https://lkml.iu.edu/hypermail/linux/kernel/2605.1/00684.html", inferred=True)
    migrate_page_ns: float = _p(
        _UNMAP_REMAP_NS,
        "ns/page",
        "Garg, move_pages() 4K folios 3.31 GB/s less the copy at 11.02 GB/s, "
        "https://lkml.iu.edu/hypermail/linux/kernel/2605.1/00684.html", inferred=True)
    reclaim_scan_per_page_ns: float = _p(
        _DEFERRED_INIT_NS_PER_PAGE, "ns/page",
        "= compact_scan_per_page_ns (one struct page visit; lower bound), "
        "https://lkml.iu.edu/hypermail/linux/kernel/1504.3/03018.html", inferred=True)
    reclaim_steal_per_page_ns: float = _p(
        _UNMAP_REMAP_NS,
        "ns/page",
        "= migrate_page_ns (unmap through the rmap, TLB flush, mapping update), "
        "https://lkml.iu.edu/hypermail/linux/kernel/2605.1/00684.html", inferred=True)
    swap_out_per_page_ns: float = _p(
        _SWAP_OUT_PROCESSES * PAGE_SIZE / _SWAP_OUT_BYTES_PER_NS
        - _UNMAP_REMAP_NS
        - _DEFERRED_INIT_NS_PER_PAGE - 231 / 3.0 / 2, "ns/page",
        "Huang Ying, swap-out 5.81 GB/s with 16 processes (PMEM swap), less scan, steal and "
        "free, <20170724051840.2309-12-ying.huang@intel.com>; upper bound", inferred=True)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"cost parameter {f.name}: not a number: {v!r}")
            if not math.isfinite(v) or v < 0 or (f.name in _BANDWIDTHS and v == 0):
                raise ValueError(f"cost parameter {f.name}: out of range: {v!r}")

    @classmethod
    def from_mapping(cls, d: Mapping[str, float | str],
                     base: CostParams | None = None) -> CostParams:
        """``base`` (the defaults) with the fields named in ``d`` replaced, e.g. from a JSON
        profile or ``--set ipi_round_trip_ns=2000``; numeric strings are accepted.

        :raises ValueError: naming an unknown key, or a value that is not a number >= 0.
        """
        names = {f.name for f in fields(cls)}
        changes: dict[str, float] = {}
        for key, value in d.items():
            if key not in names:
                raise ValueError(f"unknown cost parameter {key!r} (known: {', '.join(sorted(names))})")
            if isinstance(value, bool):
                raise ValueError(f"cost parameter {key}: not a number: {value!r}")
            try:
                changes[key] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"cost parameter {key}: not a number: {value!r}") from None
        return replace(base if base is not None else cls(), **changes)


def _count(counters: Mapping[str, int], name: str) -> int:
    n = counters.get(name, 0)
    if n < 0:
        raise ValueError(f"counter {name} is negative: {n}")
    return n


def modelled_cost(counters: Mapping[str, int], params: CostParams = CostParams()) -> dict[str, float]:
    """Modelled time per component, in ns, and their sum as ``total_ns``.

    :param counters: the model's counters by name (:func:`machine_counters`, or a
        :func:`counter_delta` of two snapshots); missing ones count as 0.
    :raises ValueError: for a negative counter.
    """
    c = counters
    alloc_pages = 0
    for name in c:
        if name.startswith("pgalloc_"):
            alloc_pages += _count(c, name)
    zeroed = (_count(c, "pages_zeroed_alloc") + _count(c, "pages_zeroed_free")
              + _count(c, "pages_zeroed_mermap"))
    p = params
    out = {
        "allocations": alloc_pages * p.alloc_fast_ns,
        "frees": _count(c, "pgfree") * p.free_fast_ns,
        "flips": (_count(c, "flip_to_unmapped") + _count(c, "flip_to_mapped")) * p.buddy_op_ns,
        "tlb_full_flushes": _count(c, "flush_full") * p.full_flush_local_ns,
        "ipis": _count(c, "ipis") * p.ipi_round_trip_ns,
        "invlpgb": _count(c, "invlpgb") * p.invlpgb_ns,
        "ranged_flush_pages": _count(c, "pages_flushed_ranged") * p.ranged_flush_per_page_ns,
        "cpa_calls": _count(c, "cpa_calls") * p.cpa_call_ns,
        "cpa_splits": (_count(c, "direct_map_level2_splits")
                       + _count(c, "direct_map_level3_splits")) * p.cpa_split_ns,
        "pages_zeroed": zeroed * PAGE_SIZE / p.zero_bandwidth_bytes_per_ns,
        "map_back_zeroing": (_count(c, "pages_zeroed_map_back") * PAGE_SIZE
                             / p.zero_block_bandwidth_bytes_per_ns),
        "mermap_flushes": _count(c, "local_flushes") * p.mermap_local_flush_ns,
        "compaction_scan": ((_count(c, "compact_migrate_scanned")
                             + _count(c, "compact_free_scanned")) * p.compact_scan_per_page_ns),
        "migrate_copy": (_count(c, "pgmigrate_success") * PAGE_SIZE
                         / p.migrate_copy_bandwidth_bytes_per_ns),
        "migrate_remap": _count(c, "pgmigrate_success") * p.migrate_page_ns,
        "reclaim_scan": ((_count(c, "pgscan_kswapd") + _count(c, "pgscan_direct"))
                         * p.reclaim_scan_per_page_ns),
        "reclaim_steal": ((_count(c, "pgsteal_kswapd") + _count(c, "pgsteal_direct"))
                          * p.reclaim_steal_per_page_ns),
        "swap_out": _count(c, "pswpout") * p.swap_out_per_page_ns,
    }
    assert tuple(out) == COMPONENTS
    out["total_ns"] = sum(out.values())
    return out


def machine_counters(m: Machine) -> dict[str, int]:
    """Every counter of a :class:`~pagealloc.machine.Machine` that the cost model reads, in
    one flat mapping: vm events, allocator, TLB, direct-map, content and mermap stats.

    The boot counts ``pgfree``: take a snapshot after boot and cost a
    :func:`counter_delta`.  A name kept by two parts (``pages_zeroed_map_back``) is one
    counter and must agree.
    """
    parts: list[Mapping[str, int]] = [m.vm_events(), m.alloc.stats]
    for attr in ("tlb", "directmap", "contents", "mermap"):
        obj = getattr(m, attr, None)
        if obj is not None:
            parts.append(obj.stats)
    out: dict[str, int] = {}
    for part in parts:
        for k, v in part.items():
            if k in out and out[k] != v:
                raise ValueError(f"counter {k} disagrees between model parts: {out[k]} != {v}")
            out[k] = v
    return out


def counter_delta(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    """``after - before`` per counter (a counter missing from ``before`` was 0)."""
    return {k: v - before.get(k, 0) for k, v in after.items()}


def describe(params: CostParams = CostParams()) -> str:
    """The parameter table for reports: field, value, unit, source; ``*`` marks a value
    that overrides the default, ``[inferred]`` a default derived rather than published."""
    default = CostParams()
    rows = [("field", "value", "unit", "source")]
    for f in fields(params):
        v = getattr(params, f.name)
        src = str(f.metadata["source"])
        if f.metadata["inferred"]:
            src = "[inferred] " + src
        mark = ""
        if v != getattr(default, f.name):
            mark = "*"
            src = f"overridden (default {getattr(default, f.name):,.1f}: {src})"
        rows.append((f.name, f"{v:,.1f}{mark}", str(f.metadata["unit"]), src))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:<{w[2]}}  {r[3]}" for r in rows]
    lines.insert(1, "  ".join("-" * n for n in w) + "  " + "-" * 6)
    return "\n".join(lines)
