"""Models mm/vmstat.c: counters and the /proc text renderers.

The allocator model hands the renderers plain, read-only *views*
(:class:`ZoneView`, :class:`NodeView`, :class:`PcpView`), so nothing here
depends on the model's internals.  Every renderer reproduces, byte for byte,
what the Debian cloud-amd64 builds of two kernels print:

* ``"7.2"``: Debian 7.2.13 (CONFIG_CMA=y, CONFIG_MEMORY_ISOLATION=y, NUMA).
* ``"6.1"``: Debian 6.1.192 (no CONFIG_CMA, CONFIG_MEMORY_ISOLATION=y, NUMA).

Any other ``kernel`` string raises :class:`ValueError`.

Conventions shared by all views
-------------------------------
Migratetypes use the *model* numbering everywhere: 0 Unmovable, 1 Movable,
2 Reclaimable, 3 HighAtomic, 4 CMA, 5 Isolate.  On 7.2 this is also the
kernel numbering.  The 6.1 kernel has no CMA migratetype, so its rows are
Unmovable, Movable, Reclaimable, HighAtomic, Isolate: model index 5 is shown
as the fifth row (kernel index 4) and model index 4 must stay empty (a
non-zero CMA count on 6.1 is a :class:`ValueError`, since that kernel cannot
have one).

Counter values are taken *as /proc shows them*: the THP-unit node items
(:data:`THP_UNIT_ITEMS`) must already be divided by HPAGE_PMD_NR, and
``pgpgin``/``pgpgout`` already be in KiB.  Negative state values (zone, NUMA
and node items) print as 0, as zone_page_state() and friends clamp them on
SMP kernels; event counters are unsigned and wrap modulo 2**64.

Column padding rule (zoneinfo)
------------------------------
zoneinfo_show_print() prints every vm item as ``"\\n      %-12s %lu"``: six
spaces, the name left-justified in a 12-character field, one space, the
value.  Names shorter than 12 characters are therefore padded to 12
(``nr_mapped    429``: 9 + 3 + 1 spaces), longer ones are followed by exactly
one space (``nr_file_pages 928``).  /proc/vmstat uses no padding at all
(``name value``, seq_put_decimal_ull()).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "KERNELS",
    "MIGRATETYPE_NAMES_7_2",
    "MIGRATETYPE_NAMES_6_1",
    "MIGRATE_UNMOVABLE",
    "MIGRATE_MOVABLE",
    "MIGRATE_RECLAIMABLE",
    "MIGRATE_HIGHATOMIC",
    "MIGRATE_CMA",
    "MIGRATE_ISOLATE",
    "NR_MIGRATETYPES",
    "NR_PAGE_ORDERS",
    "MAX_PAGE_ORDER",
    "PAGETYPEINFO_CAP",
    "THP_UNIT_ITEMS",
    "VMSTAT_ITEMS_7_2",
    "VMSTAT_ITEMS_6_1",
    "VMSTAT_DEPRECATED_ITEMS",
    "PcpView",
    "ZoneView",
    "NodeView",
    "ContigPageInfo",
    "migratetype_rows",
    "migratetype_names",
    "vmstat_items",
    "zone_stat_items",
    "numa_event_items",
    "node_stat_items",
    "render_buddyinfo",
    "render_pagetypeinfo",
    "render_zoneinfo",
    "render_vmstat",
    "fill_contig_page_info",
    "fragmentation_index_for",
    "unusable_free_index",
    "extfrag_for_order",
    "format_extfrag_index_line",
    "format_unusable_index_line",
    "render_extfrag_index",
    "render_unusable_index",
    "render_show_mem_zone",
    "render_directmap",
]

#: The kernel profiles the renderers know.
KERNELS: tuple[str, ...] = ("7.2", "6.1")

# ---------------------------------------------------------------------------
# Migratetypes
# ---------------------------------------------------------------------------

MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_HIGHATOMIC = 3
MIGRATE_CMA = 4
MIGRATE_ISOLATE = 5
#: Number of migratetypes in the model numbering (the 7.2 MIGRATE_TYPES).
NR_MIGRATETYPES = 6

#: migratetype_names[] of the 7.2 Debian build, in model (= kernel) order.
MIGRATETYPE_NAMES_7_2 = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")
#: migratetype_names[] of the 6.1 Debian build (no CONFIG_CMA), in kernel order.
MIGRATETYPE_NAMES_6_1 = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")

#: Model migratetype shown in each kernel row, in kernel order.
_ROWS: dict[str, tuple[int, ...]] = {
    "7.2": (0, 1, 2, 3, 4, 5),
    "6.1": (0, 1, 2, 3, 5),
}
_NAMES: dict[str, tuple[str, ...]] = {"7.2": MIGRATETYPE_NAMES_7_2, "6.1": MIGRATETYPE_NAMES_6_1}

#: show_migration_types() letters, by model migratetype.
_MT_LETTERS = ("U", "M", "E", "H", "C", "I")

#: NR_PAGE_ORDERS on 7.2 (MAX_PAGE_ORDER + 1) and MAX_ORDER on 6.1: both 11.
NR_PAGE_ORDERS = 11
#: MAX_PAGE_ORDER (7.2); on 6.1 the equivalent bound is MAX_ORDER - 1.
MAX_PAGE_ORDER = NR_PAGE_ORDERS - 1

#: pagetypeinfo_showfree_print() stops counting a free list at this length
#: and prints ``">100000"``.
PAGETYPEINFO_CAP = 100000

_U64 = (1 << 64) - 1


def _check_kernel(kernel: str) -> str:
    if kernel not in _ROWS:
        raise ValueError(f"unknown kernel profile {kernel!r}; expected one of {KERNELS}")
    return kernel


def migratetype_rows(kernel: str) -> tuple[int, ...]:
    """Model migratetypes shown by *kernel*, in the kernel's row order."""
    return _ROWS[_check_kernel(kernel)]


def migratetype_names(kernel: str) -> tuple[str, ...]:
    """The kernel's migratetype_names[] (mm/page_alloc.c) for *kernel*."""
    return _NAMES[_check_kernel(kernel)]


# ---------------------------------------------------------------------------
# vm item names (taken from the real /proc/vmstat of each Debian build)
# ---------------------------------------------------------------------------

#: Every line name of /proc/vmstat on 7.2, in order (vmstat_text[] followed by
#: the deprecated ``nr_unstable`` trailer that vmstat_show() always prints as 0).
VMSTAT_ITEMS_7_2: tuple[str, ...] = (
    # zone_stat_item (12)
    "nr_free_pages", "nr_free_pages_blocks", "nr_zone_inactive_anon", "nr_zone_active_anon",
    "nr_zone_inactive_file", "nr_zone_active_file", "nr_zone_unevictable",
    "nr_zone_write_pending", "nr_mlock", "nr_zspages", "nr_free_cma", "nr_unaccepted",
    # numa_stat_item (6)
    "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other",
    # node_stat_item (67)
    "nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file",
    "nr_unevictable", "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_isolated_anon",
    "nr_isolated_file", "workingset_nodes", "workingset_refault_anon",
    "workingset_refault_file", "workingset_activate_anon", "workingset_activate_file",
    "workingset_restore_anon", "workingset_restore_file", "workingset_nodereclaim",
    "nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback", "nr_shmem",
    "nr_shmem_hugepages", "nr_shmem_pmdmapped", "nr_file_hugepages", "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages", "nr_vmscan_write", "nr_vmscan_immediate_reclaim",
    "nr_dirtied", "nr_written", "nr_throttled_written", "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired", "nr_foll_pin_released", "nr_vmalloc", "nr_kernel_stack",
    "nr_page_table_pages", "nr_sec_page_table_pages", "nr_iommu_pages", "nr_swapcached",
    "pgpromote_success", "pgpromote_candidate", "pgpromote_candidate_nrl", "pgdemote_kswapd",
    "pgdemote_direct", "pgdemote_khugepaged", "pgdemote_proactive", "pgsteal_kswapd",
    "pgsteal_direct", "pgsteal_khugepaged", "pgsteal_proactive", "pgsteal_anon", "pgsteal_file",
    "pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged", "pgscan_proactive", "pgscan_anon",
    "pgscan_file", "pgrefill", "nr_hugetlb", "nr_balloon_pages", "nr_kernel_file_pages",
    "nr_gpu_active", "nr_gpu_reclaim",
    # vm_stat_item
    "nr_dirty_threshold", "nr_dirty_background_threshold",
    "nr_memmap_pages", "nr_memmap_boot_pages",
    # vm_event_item
    "pgpgin", "pgpgout", "pswpin", "pswpout",
    "pgalloc_dma", "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable", "pgalloc_device",
    "allocstall_dma", "allocstall_dma32", "allocstall_normal", "allocstall_movable",
    "allocstall_device", "pgskip_dma", "pgskip_dma32", "pgskip_normal", "pgskip_movable",
    "pgskip_device", "pgfree", "pgactivate", "pgdeactivate", "pglazyfree", "pgfault",
    "pgmajfault", "pglazyfreed", "pgreuse", "pgscan_direct_throttle", "zone_reclaim_success",
    "zone_reclaim_failed", "pginodesteal", "slabs_scanned", "kswapd_inodesteal",
    "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly", "pageoutrun", "pgrotated",
    "drop_pagecache", "drop_slab", "oom_kill", "numa_pte_updates", "numa_huge_pte_updates",
    "numa_hint_faults", "numa_hint_faults_local", "numa_pages_migrated", "pgmigrate_success",
    "pgmigrate_fail", "thp_migration_success", "thp_migration_fail", "thp_migration_split",
    "compact_migrate_scanned", "compact_free_scanned", "compact_isolated", "compact_stall",
    "compact_fail", "compact_success", "compact_daemon_wake", "compact_daemon_migrate_scanned",
    "compact_daemon_free_scanned", "htlb_buddy_alloc_success", "htlb_buddy_alloc_fail",
    "cma_alloc_success", "cma_alloc_fail", "unevictable_pgs_culled", "unevictable_pgs_scanned",
    "unevictable_pgs_rescued", "unevictable_pgs_mlocked", "unevictable_pgs_munlocked",
    "unevictable_pgs_cleared", "unevictable_pgs_stranded", "thp_fault_alloc",
    "thp_fault_fallback", "thp_fault_fallback_charge", "thp_collapse_alloc",
    "thp_collapse_alloc_failed", "thp_file_alloc", "thp_file_fallback",
    "thp_file_fallback_charge", "thp_file_mapped", "thp_split_page", "thp_split_page_failed",
    "thp_deferred_split_page", "thp_underused_split_page", "thp_split_pmd",
    "thp_scan_exceed_none_pte", "thp_scan_exceed_swap_pte", "thp_scan_exceed_share_pte",
    "thp_split_pud", "thp_zero_page_alloc", "thp_zero_page_alloc_failed", "thp_swpout",
    "thp_swpout_fallback", "balloon_inflate", "balloon_deflate", "balloon_migrate", "swap_ra",
    "swap_ra_hit", "swpin_zero", "swpout_zero", "ksm_swpin_copy", "cow_ksm", "zswpin",
    "zswpout", "zswpwb", "direct_map_level2_splits", "direct_map_level3_splits",
    "direct_map_level2_collapses", "direct_map_level3_collapses",
    # deprecated trailer
    "nr_unstable",
)

#: Every line name of /proc/vmstat on 6.1, in order (see :data:`VMSTAT_ITEMS_7_2`).
VMSTAT_ITEMS_6_1: tuple[str, ...] = (
    # zone_stat_item (11)
    "nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
    "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock",
    "nr_bounce", "nr_zspages", "nr_free_cma",
    # numa_stat_item (6)
    "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other",
    # node_stat_item (43)
    "nr_inactive_anon", "nr_active_anon",
    "nr_inactive_file", "nr_active_file", "nr_unevictable", "nr_slab_reclaimable",
    "nr_slab_unreclaimable", "nr_isolated_anon", "nr_isolated_file", "workingset_nodes",
    "workingset_refault_anon", "workingset_refault_file", "workingset_activate_anon",
    "workingset_activate_file", "workingset_restore_anon", "workingset_restore_file",
    "workingset_nodereclaim", "nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty",
    "nr_writeback", "nr_writeback_temp", "nr_shmem", "nr_shmem_hugepages", "nr_shmem_pmdmapped",
    "nr_file_hugepages", "nr_file_pmdmapped", "nr_anon_transparent_hugepages",
    "nr_vmscan_write", "nr_vmscan_immediate_reclaim", "nr_dirtied", "nr_written",
    "nr_throttled_written", "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired",
    "nr_foll_pin_released", "nr_kernel_stack", "nr_page_table_pages", "nr_sec_page_table_pages",
    "nr_swapcached", "pgpromote_success", "pgpromote_candidate",
    # writeback_stat_item
    "nr_dirty_threshold", "nr_dirty_background_threshold",
    # vm_event_item
    "pgpgin", "pgpgout", "pswpin", "pswpout", "pgalloc_dma",
    "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable", "pgalloc_device", "allocstall_dma",
    "allocstall_dma32", "allocstall_normal", "allocstall_movable", "allocstall_device",
    "pgskip_dma", "pgskip_dma32", "pgskip_normal", "pgskip_movable", "pgskip_device", "pgfree",
    "pgactivate", "pgdeactivate", "pglazyfree", "pgfault", "pgmajfault", "pglazyfreed",
    "pgrefill", "pgreuse", "pgsteal_kswapd", "pgsteal_direct", "pgdemote_kswapd",
    "pgdemote_direct", "pgscan_kswapd", "pgscan_direct", "pgscan_direct_throttle",
    "pgscan_anon", "pgscan_file", "pgsteal_anon", "pgsteal_file", "zone_reclaim_failed",
    "pginodesteal", "slabs_scanned", "kswapd_inodesteal", "kswapd_low_wmark_hit_quickly",
    "kswapd_high_wmark_hit_quickly", "pageoutrun", "pgrotated", "drop_pagecache", "drop_slab",
    "oom_kill", "numa_pte_updates", "numa_huge_pte_updates", "numa_hint_faults",
    "numa_hint_faults_local", "numa_pages_migrated", "pgmigrate_success", "pgmigrate_fail",
    "thp_migration_success", "thp_migration_fail", "thp_migration_split",
    "compact_migrate_scanned", "compact_free_scanned", "compact_isolated", "compact_stall",
    "compact_fail", "compact_success", "compact_daemon_wake", "compact_daemon_migrate_scanned",
    "compact_daemon_free_scanned", "htlb_buddy_alloc_success", "htlb_buddy_alloc_fail",
    "unevictable_pgs_culled", "unevictable_pgs_scanned", "unevictable_pgs_rescued",
    "unevictable_pgs_mlocked", "unevictable_pgs_munlocked", "unevictable_pgs_cleared",
    "unevictable_pgs_stranded", "thp_fault_alloc", "thp_fault_fallback",
    "thp_fault_fallback_charge", "thp_collapse_alloc", "thp_collapse_alloc_failed",
    "thp_file_alloc", "thp_file_fallback", "thp_file_fallback_charge", "thp_file_mapped",
    "thp_split_page", "thp_split_page_failed", "thp_deferred_split_page", "thp_split_pmd",
    "thp_scan_exceed_none_pte", "thp_scan_exceed_swap_pte", "thp_scan_exceed_share_pte",
    "thp_split_pud", "thp_zero_page_alloc", "thp_zero_page_alloc_failed", "thp_swpout",
    "thp_swpout_fallback", "balloon_inflate", "balloon_deflate", "balloon_migrate", "swap_ra",
    "swap_ra_hit", "ksm_swpin_copy", "cow_ksm", "direct_map_level2_splits",
    "direct_map_level3_splits",
    # deprecated trailer
    "nr_unstable",
)

#: Lines vmstat_show() appends after the last real item, always with value 0.
VMSTAT_DEPRECATED_ITEMS: tuple[str, ...] = ("nr_unstable",)

#: Node items that /proc prints in THP units (vmstat_item_print_in_thp()):
#: callers pass them already divided by HPAGE_PMD_NR.
THP_UNIT_ITEMS: frozenset[str] = frozenset({
    "nr_anon_transparent_hugepages", "nr_file_hugepages", "nr_shmem_hugepages",
    "nr_shmem_pmdmapped", "nr_file_pmdmapped",
})

_VMSTAT_ITEMS: dict[str, tuple[str, ...]] = {"7.2": VMSTAT_ITEMS_7_2, "6.1": VMSTAT_ITEMS_6_1}
# (NR_VM_ZONE_STAT_ITEMS, NR_VM_NUMA_EVENT_ITEMS, NR_VM_NODE_STAT_ITEMS)
_SECTION_SIZES: dict[str, tuple[int, int, int]] = {"7.2": (12, 6, 67), "6.1": (11, 6, 43)}


def vmstat_items(kernel: str) -> tuple[str, ...]:
    """Names of every /proc/vmstat line of *kernel*'s Debian build, in order."""
    return _VMSTAT_ITEMS[_check_kernel(kernel)]


def zone_stat_items(kernel: str) -> tuple[str, ...]:
    """zone_stat_item names (the first NR_VM_ZONE_STAT_ITEMS of vmstat_text[])."""
    nz, _, _ = _SECTION_SIZES[_check_kernel(kernel)]
    return _VMSTAT_ITEMS[kernel][:nz]


def numa_event_items(kernel: str) -> tuple[str, ...]:
    """numa_stat_item names (CONFIG_NUMA), printed per zone by zoneinfo."""
    nz, nn, _ = _SECTION_SIZES[_check_kernel(kernel)]
    return _VMSTAT_ITEMS[kernel][nz:nz + nn]


def node_stat_items(kernel: str) -> tuple[str, ...]:
    """node_stat_item names, printed as zoneinfo's "per-node stats"."""
    nz, nn, nnode = _SECTION_SIZES[_check_kernel(kernel)]
    return _VMSTAT_ITEMS[kernel][nz + nn:nz + nn + nnode]


# ---------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class PcpView:
    """One CPU's struct per_cpu_pages of a zone."""

    cpu: int
    count: int
    high: int
    batch: int
    high_min: int = 0  # printed on 7.2 only
    high_max: int = 0  # printed on 7.2 only


@dataclass(slots=True)
class ZoneView:
    """Read-only snapshot of one struct zone, as the /proc renderers need it.

    ``free_counts[order][mt]`` is the length of ``free_area[order].free_list[mt]``
    (model numbering, 6 types); ``nr_free[order]`` is ``free_area[order].nr_free``;
    ``block_counts[mt]`` counts pageblocks by migratetype (isolated blocks as 5).
    Watermarks already include the boost (wmark_pages()).  ``protection`` is
    lowmem_reserve[] for every zone type of the node.  ``zone_items`` holds any
    other zone or NUMA vm item (missing ones print 0); the dedicated fields
    ``nr_free_pages``, ``nr_free_pages_blocks`` and ``nr_free_cma`` win over
    entries of the same name in ``zone_items``.
    """

    node: int
    name: str
    zone_idx: int
    start_pfn: int
    spanned: int
    present: int
    managed: int
    free_counts: list[list[int]]
    nr_free: list[int]
    block_counts: list[int]
    wmark_min: int
    wmark_low: int
    wmark_high: int
    wmark_promo: int
    boost: int
    protection: list[int]
    nr_free_pages: int
    zone_items: dict[str, int]
    pcp: list[PcpView]
    cma_pages: int = 0
    nr_free_pages_blocks: int = 0
    nr_free_cma: int = 0
    stat_threshold: int = 0
    node_unreclaimable: int = 0
    reserved_highatomic: int = 0
    free_highatomic: int = 0

    @property
    def populated(self) -> bool:
        """populated_zone(): the zone has present pages."""
        return self.present != 0


@dataclass(slots=True)
class NodeView:
    """One pg_data_t: every zone in zone order (populated or not) and node items."""

    node: int
    zones: list[ZoneView] = field(default_factory=list)
    node_items: dict[str, int] = field(default_factory=dict)

    @property
    def has_memory(self) -> bool:
        """node_state(nid, N_MEMORY): at least one zone has present pages."""
        return any(z.populated for z in self.zones)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _state(value: int) -> int:
    """A vm state as zone_page_state()/node_page_state() report it (clamped at 0)."""
    return value if value > 0 else 0


def _ulong(value: int) -> int:
    """An unsigned long printed with %lu."""
    return value & _U64


def _s32(value: int) -> int:
    """Truncate to a C ``int``."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _c_div(a: int, b: int) -> int:
    """C integer division (truncation toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _c_mod(a: int, b: int) -> int:
    """C ``%``: the remainder has the sign of the dividend."""
    return a - b * _c_div(a, b)


def _nr_orders(zone: ZoneView) -> int:
    n = len(zone.nr_free)
    if len(zone.free_counts) != n:
        raise ValueError(
            f"zone {zone.name}: free_counts has {len(zone.free_counts)} orders, nr_free has {n}"
        )
    return n


def _free_count(zone: ZoneView, order: int, mt: int, kernel: str) -> int:
    row = zone.free_counts[order]
    if len(row) != NR_MIGRATETYPES:
        raise ValueError(
            f"zone {zone.name} order {order}: expected {NR_MIGRATETYPES} migratetypes, got {len(row)}"
        )
    if kernel == "6.1" and row[MIGRATE_CMA]:
        raise ValueError(f"zone {zone.name} order {order}: CMA free pages on a kernel without CMA")
    return row[mt]


# ---------------------------------------------------------------------------
# /proc/buddyinfo
# ---------------------------------------------------------------------------


def _zone_prefix(node: int, zone: ZoneView) -> str:
    return "Node %d, zone %8s " % (node, zone.name)


def walk_zones_in_node(nodes: Sequence[NodeView]) -> Iterator[tuple[NodeView, ZoneView]]:
    """``walk_zones_in_node()`` with ``nolock``/``assert_populated`` as the /proc readers
    use it (mm/vmstat.c, 7.2 and 6.1): every populated zone of every node, in order."""
    for node in nodes:
        for zone in node.zones:
            if zone.populated:
                yield node, zone


def render_buddyinfo(nodes: Sequence[NodeView], kernel: str) -> str:
    """/proc/buddyinfo.

    Models mm/vmstat.c frag_show() / frag_show_print() walked over populated
    zones by walk_zones_in_node(), Linux 7.2 and 6.1 (same format).
    """
    _check_kernel(kernel)
    out: list[str] = []
    for node, zone in walk_zones_in_node(nodes):
        out.append(_zone_prefix(node.node, zone))
        out.extend("%6d " % _ulong(n) for n in zone.nr_free)
        out.append("\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# /proc/pagetypeinfo
# ---------------------------------------------------------------------------


def _pagetype_count(count: int) -> str:
    if count >= PAGETYPEINFO_CAP:
        return ">%6d " % PAGETYPEINFO_CAP
    return "%6d " % count


def render_pagetypeinfo(nodes: Sequence[NodeView], kernel: str, pageblock_order: int = 9) -> str:
    """/proc/pagetypeinfo.

    Models mm/vmstat.c pagetypeinfo_show() with pagetypeinfo_showfree(),
    pagetypeinfo_showfree_print() (free lists counted up to 100000, then
    ``">100000"``), pagetypeinfo_showblockcount() and
    pagetypeinfo_showblockcount_print(), Linux 7.2 and 6.1.  The Debian
    builds have no CONFIG_PAGE_OWNER, so pagetypeinfo_showmixedcount() prints
    nothing.  7.2 shows six type rows/columns, 6.1 five (no CMA).  Nodes
    without memory (N_MEMORY) print nothing.
    """
    _check_kernel(kernel)
    rows = _ROWS[kernel]
    names = _NAMES[kernel]
    out: list[str] = []
    for node in nodes:
        populated = [z for z in node.zones if z.populated]
        if not populated:
            continue
        nr_orders = _nr_orders(populated[0])
        out.append("Page block order: %d\n" % pageblock_order)
        out.append("Pages per block:  %d\n" % (1 << pageblock_order))
        out.append("\n")
        out.append("%-43s " % "Free pages count per migrate type at order")
        out.extend("%6d " % order for order in range(nr_orders))
        out.append("\n")
        for zone in populated:
            n = _nr_orders(zone)
            for mt, name in zip(rows, names):
                out.append("Node %4d, zone %8s, type %12s " % (node.node, zone.name, name))
                for order in range(n):
                    out.append(_pagetype_count(_free_count(zone, order, mt, kernel)))
                out.append("\n")
        out.append("\n%-23s" % "Number of blocks type ")
        out.extend("%12s " % name for name in names)
        out.append("\n")
        for zone in populated:
            if len(zone.block_counts) != NR_MIGRATETYPES:
                raise ValueError(f"zone {zone.name}: block_counts needs {NR_MIGRATETYPES} entries")
            if kernel == "6.1" and zone.block_counts[MIGRATE_CMA]:
                raise ValueError(f"zone {zone.name}: CMA pageblocks on a kernel without CMA")
            out.append(_zone_prefix(node.node, zone))
            out.extend("%12d " % _ulong(zone.block_counts[mt]) for mt in rows)
            out.append("\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# /proc/zoneinfo
# ---------------------------------------------------------------------------


def _item(name: str, value: int) -> str:
    return "\n      %-12s %d" % (name, value)


def _zone_item_value(zone: ZoneView, name: str) -> int:
    if name == "nr_free_pages":
        return zone.nr_free_pages
    if name == "nr_free_pages_blocks":
        return zone.nr_free_pages_blocks
    if name == "nr_free_cma":
        return zone.nr_free_cma
    return zone.zone_items.get(name, 0)


def render_zoneinfo(nodes: Sequence[NodeView], kernel: str) -> str:
    """/proc/zoneinfo.

    Models mm/vmstat.c zoneinfo_show() / zoneinfo_show_print() and
    is_zone_first_populated(), Linux 7.2 and 6.1.  Every zone of every node is
    printed; the node's "per-node stats" come before the first populated zone;
    unpopulated zones stop after ``protection:``.  Items use the ``%-12s``
    padding described in the module docstring.  Differences: 7.2 adds the
    ``promo`` watermark, pads the pcp fields as ``count:    `` and adds
    ``high_min``/``high_max``, and ends with ``reserved_highatomic`` and
    ``free_highatomic``; 6.1 prints ``count: ``, ``high:  ``, ``batch: ``.
    """
    _check_kernel(kernel)
    node_names = node_stat_items(kernel)
    zone_names = zone_stat_items(kernel) + numa_event_items(kernel)
    out: list[str] = []
    for node in nodes:
        first = next((i for i, z in enumerate(node.zones) if z.populated), None)
        for idx, zone in enumerate(node.zones):
            out.append("Node %d, zone %8s" % (node.node, zone.name))
            if idx == first:
                out.append("\n  per-node stats")
                for name in node_names:
                    out.append(_item(name, _state(node.node_items.get(name, 0))))
            out.append("\n  pages free     %d" % _state(zone.nr_free_pages))
            out.append("\n        boost    %d" % _ulong(zone.boost))
            out.append("\n        min      %d" % _ulong(zone.wmark_min))
            out.append("\n        low      %d" % _ulong(zone.wmark_low))
            out.append("\n        high     %d" % _ulong(zone.wmark_high))
            if kernel == "7.2":
                out.append("\n        promo    %d" % _ulong(zone.wmark_promo))
            out.append("\n        spanned  %d" % _ulong(zone.spanned))
            out.append("\n        present  %d" % _ulong(zone.present))
            out.append("\n        managed  %d" % _ulong(zone.managed))
            out.append("\n        cma      %d" % _ulong(zone.cma_pages))
            if not zone.protection:
                raise ValueError(f"zone {zone.name}: protection (lowmem_reserve) is empty")
            out.append("\n        protection: (%d" % zone.protection[0])
            out.extend(", %d" % r for r in zone.protection[1:])
            out.append(")")
            if not zone.populated:
                out.append("\n")
                continue
            for name in zone_names:
                out.append(_item(name, _state(_zone_item_value(zone, name))))
            out.append("\n  pagesets")
            for pcp in zone.pcp:
                out.append("\n    cpu: %d" % pcp.cpu)
                if kernel == "7.2":
                    out.append("\n              count:    %d" % pcp.count)
                    out.append("\n              high:     %d" % pcp.high)
                    out.append("\n              batch:    %d" % pcp.batch)
                    out.append("\n              high_min: %d" % pcp.high_min)
                    out.append("\n              high_max: %d" % pcp.high_max)
                else:
                    out.append("\n              count: %d" % pcp.count)
                    out.append("\n              high:  %d" % pcp.high)
                    out.append("\n              batch: %d" % pcp.batch)
                out.append("\n  vm stats threshold: %d" % zone.stat_threshold)
            out.append("\n  node_unreclaimable:  %d" % zone.node_unreclaimable)
            out.append("\n  start_pfn:           %d" % _ulong(zone.start_pfn))
            if kernel == "7.2":
                out.append("\n  reserved_highatomic: %d" % _ulong(zone.reserved_highatomic))
                out.append("\n  free_highatomic:     %d" % _ulong(zone.free_highatomic))
            out.append("\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# /proc/vmstat
# ---------------------------------------------------------------------------


def render_vmstat(items: Mapping[str, int], kernel: str) -> str:
    """/proc/vmstat.

    Models mm/vmstat.c vmstat_start() / vmstat_show(), Linux 7.2 and 6.1:
    one ``name value`` line per vmstat_text[] entry of the Debian build
    (:func:`vmstat_items`), then the deprecated ``nr_unstable 0``, which the
    kernel hard-codes to 0 whatever ``items`` says.  Zone, NUMA and node
    states are clamped at 0; the rest print as unsigned longs.
    """
    _check_kernel(kernel)
    nz, nn, nnode = _SECTION_SIZES[kernel]
    n_states = nz + nn + nnode
    out: list[str] = []
    for i, name in enumerate(_VMSTAT_ITEMS[kernel]):
        if name in VMSTAT_DEPRECATED_ITEMS:
            value = 0
        elif i < n_states:
            value = _state(items.get(name, 0))
        else:
            value = _ulong(items.get(name, 0))
        out.append("%s %d\n" % (name, value))
    return "".join(out)


# ---------------------------------------------------------------------------
# Fragmentation indices (debugfs extfrag/)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContigPageInfo:
    """struct contig_page_info."""

    free_pages: int
    free_blocks_total: int
    free_blocks_suitable: int


def fill_contig_page_info(nr_free: Sequence[int], suitable_order: int) -> ContigPageInfo:
    """Free pages, free blocks and blocks of at least *suitable_order*.

    Models mm/vmstat.c fill_contig_page_info(), Linux 7.2 (6.1 identical),
    with ``nr_free[order]`` = ``zone->free_area[order].nr_free``.
    """
    free_pages = 0
    total = 0
    suitable = 0
    for order, blocks in enumerate(nr_free):
        total += blocks
        free_pages += blocks << order
        if order >= suitable_order:
            suitable += blocks << (order - suitable_order)
    return ContigPageInfo(free_pages, total, suitable)


def fragmentation_index_for(order: int, info: ContigPageInfo,
                            max_page_order: int = MAX_PAGE_ORDER) -> int:
    """The fragmentation index (in thousandths) of an order-*order* request.

    Models mm/vmstat.c __fragmentation_index(), Linux 7.2 (6.1 identical up to
    the MAX_ORDER spelling): 0 for an order above MAX_PAGE_ORDER (the kernel
    warns) or no free blocks, -1000 when a suitable block exists, else
    ``1000 - (1000 + free_pages*1000/requested) / free_blocks_total`` in
    unsigned 64-bit arithmetic returned as a C int.  The result can be
    negative other than -1000 (down to -500, e.g. one free order-0 page and an
    order-1 request).
    """
    if order > max_page_order or order < 0:
        return 0
    if not info.free_blocks_total:
        return 0
    if info.free_blocks_suitable:
        return -1000
    requested = 1 << order
    scaled = ((info.free_pages * 1000) & _U64) // requested
    return _s32(1000 - ((1000 + scaled) & _U64) // info.free_blocks_total)


def unusable_free_index(order: int, info: ContigPageInfo) -> int:
    """Thousandths of the free memory unusable for an order-*order* request.

    Models mm/vmstat.c unusable_free_index(), Linux 7.2 and 6.1: 1000 when
    nothing is free.
    """
    if info.free_pages == 0:
        return 1000
    return _s32(((info.free_pages - (info.free_blocks_suitable << order)) * 1000)
                // info.free_pages)


def extfrag_for_order(nr_free: Sequence[int], order: int) -> int:
    """Percentage of free pages in blocks smaller than ``1 << order``.

    Models mm/vmstat.c extfrag_for_order(), Linux 7.2 and 6.1 (used by
    proactive compaction): 0 when nothing is free.
    """
    info = fill_contig_page_info(nr_free, order)
    if info.free_pages == 0:
        return 0
    return ((info.free_pages - (info.free_blocks_suitable << order)) * 100) // info.free_pages


def _thousandths(index: int, width: int) -> str:
    # seq_printf("%Nd.%03d ", index / 1000, index % 1000) with C semantics:
    # -500 prints as " 0.-500", -1000 as "-1.000".
    return "%*d.%03d " % (width, _c_div(index, 1000), _c_mod(index, 1000))


def format_extfrag_index_line(node: int, zone_name: str, indices: Sequence[int]) -> str:
    """One line of debugfs extfrag/extfrag_index from per-order indices.

    The ``"%2d.%03d "`` form of mm/vmstat.c extfrag_show_print(), Linux 7.2/6.1.
    """
    return "Node %d, zone %8s " % (node, zone_name) + "".join(
        _thousandths(i, 2) for i in indices) + "\n"


def format_unusable_index_line(node: int, zone_name: str, indices: Sequence[int]) -> str:
    """One line of debugfs extfrag/unusable_index from per-order indices.

    The ``"%d.%03d "`` form of mm/vmstat.c unusable_show_print(), Linux 7.2/6.1.
    """
    return "Node %d, zone %8s " % (node, zone_name) + "".join(
        _thousandths(i, 0) for i in indices) + "\n"


def render_extfrag_index(nodes: Sequence[NodeView], kernel: str) -> str:
    """debugfs extfrag/extfrag_index.

    Models mm/vmstat.c extfrag_show() / extfrag_show_print(), Linux 7.2 and
    6.1: per populated zone, __fragmentation_index() for every order.
    """
    _check_kernel(kernel)
    out: list[str] = []
    for node, zone in walk_zones_in_node(nodes):
        n = len(zone.nr_free)
        idx = [fragmentation_index_for(o, fill_contig_page_info(zone.nr_free, o), n - 1)
               for o in range(n)]
        out.append(format_extfrag_index_line(node.node, zone.name, idx))
    return "".join(out)


def render_unusable_index(nodes: Sequence[NodeView], kernel: str) -> str:
    """debugfs extfrag/unusable_index.

    Models mm/vmstat.c unusable_show() / unusable_show_print(), Linux 7.2 and
    6.1: per populated zone of a node with memory, unusable_free_index() for
    every order.
    """
    _check_kernel(kernel)
    out: list[str] = []
    for node, zone in walk_zones_in_node(nodes):
        idx = [unusable_free_index(o, fill_contig_page_info(zone.nr_free, o))
               for o in range(len(zone.nr_free))]
        out.append(format_unusable_index_line(node.node, zone.name, idx))
    return "".join(out)


# ---------------------------------------------------------------------------
# show_mem() buddy line
# ---------------------------------------------------------------------------


def render_show_mem_zone(zone: ZoneView, kernel: str) -> str:
    """The per-zone buddy line of show_mem(), without the trailing newline.

    Models __show_free_areas() and show_migration_types() of mm/show_mem.c,
    Linux 7.2 (mm/page_alloc.c in 6.1, same text): ``"Node N Zone: "`` (the
    node part because CONFIG_NUMA=y), then per order ``"<nr>*<size>kB "``
    followed, when nr_free is non-zero, by ``"(<letters>) "`` naming the
    non-empty free lists in migratetype order with the letters U M E H C I
    (no C on 6.1, which has no CMA type), then ``"= <total>kB"``.  The
    letters come from the free lists and the counts from nr_free, as in the
    kernel.  Only populated zones have a line; others raise ValueError.
    """
    _check_kernel(kernel)
    if not zone.populated:
        raise ValueError(f"zone {zone.name} is not populated: show_mem() skips it")
    n = _nr_orders(zone)
    parts = ["Node %d %s: " % (zone.node, zone.name)]
    total = 0
    for order in range(n):
        nr = _ulong(zone.nr_free[order])
        total += nr << order
        parts.append("%d*%dkB " % (nr, 4 << order))
        if nr:
            letters = "".join(_MT_LETTERS[mt] for mt in _ROWS[kernel]
                              if _free_count(zone, order, mt, kernel))
            parts.append("(%s) " % letters)
    parts.append("= %dkB" % (total * 4))
    return "".join(parts)


# ---------------------------------------------------------------------------
# DirectMap lines of /proc/meminfo
# ---------------------------------------------------------------------------


def render_directmap(pages_4k: int, pages_2m: int, pages_1g: int, gbpages: bool) -> str:
    """The DirectMap lines of /proc/meminfo on x86-64.

    Models arch/x86/mm/pat/set_memory.c arch_report_meminfo(), Linux 7.2 and
    6.1 (identical): the arguments count the direct-map leaf entries per level
    (direct_pages_count[]); DirectMap1G appears only with gbpages
    (direct_gbpages).
    """
    out = ["DirectMap4k:    %8d kB\n" % (_ulong(pages_4k) << 2 & _U64),
           "DirectMap2M:    %8d kB\n" % (_ulong(pages_2m) << 11 & _U64)]
    if gbpages:
        out.append("DirectMap1G:    %8d kB\n" % (_ulong(pages_1g) << 20 & _U64))
    return "".join(out)
