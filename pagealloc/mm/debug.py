"""Invariant checks: the kernel's DEBUG_VM checks and the ones it relies on silently.

Models the conditions behind ``VM_BUG_ON_PAGE``/``VM_WARN_ONCE`` in mm/page_alloc.c
(``__add_to_free_list`` freelist hygiene, ``__free_one_page`` alignment and range
checks, ``bad_range``), ``check_new_page``/``free_page_is_bad`` state checks, and the
accounting identities the allocator maintains (NR_FREE_PAGES, nr_free per order,
NR_FREE_PAGES_BLOCKS, nr_free_highatomic, pcp counts), plus the structural properties a
buddy allocator must keep: every PFN in exactly one state, blocks naturally aligned and
inside one zone, no two free buddies left unmerged where ``__free_one_page`` would have
merged them.

:func:`check_machine` runs all of them (O(RAM) with numpy, O(free blocks) in Python) and
raises :class:`InvariantError` describing the first violation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pagealloc.mm.freetype import (
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    NR_FREETYPE_IDXS,
    freetype_idx,
)
from pagealloc.mm.mmzone import (
    CONFIG_PCP_BATCH_SCALE_MAX,
    MAX_PAGE_ORDER,
    NIL,
    NR_PAGE_ORDERS,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    PB_MIGRATETYPE_MASK,
    PS_ALLOC,
    PS_BUDDY,
    PS_HOLE,
    PS_ISOLATED,
    PS_MASK,
    PS_PCP,
    PS_RESERVED,
    Mem,
    Zone,
)

if TYPE_CHECKING:
    from pagealloc.machine import Machine


class InvariantError(AssertionError):
    """An allocator invariant does not hold; the message says which and where."""


def _fail(msg: str) -> None:
    raise InvariantError(msg)


def check_lists(mem: Mem) -> None:
    """Every list is a well-formed doubly linked list whose entries record it."""
    seen: set[int] = set()
    for lid in range(len(mem.lhead)):
        prev = NIL
        p = mem.lhead[lid]
        n = 0
        while p != NIL:
            if p in seen:
                _fail(f"list {lid}: pfn {p:#x} linked twice (cycle or on two lists)")
            seen.add(p)
            if mem.prv.get(p) != prev:
                _fail(f"list {lid}: pfn {p:#x} prev is {mem.prv.get(p)} expected {prev}")
            if mem.plist[p] != lid:
                _fail(f"list {lid}: pfn {p:#x} records list {mem.plist[p]}")
            prev = p
            p = mem.nxt[p]
            n += 1
        if mem.ltail[lid] != prev:
            _fail(f"list {lid}: tail {mem.ltail[lid]} but last entry {prev}")
    if len(seen) != len(mem.nxt) or len(seen) != len(mem.prv):
        _fail(f"{len(mem.nxt)} linked pfns but {len(seen)} reachable from list heads")


def check_page_states(m: "Machine") -> None:
    """Each RAM PFN is in exactly one state; blocks aligned, inside one zone, not overlapping."""
    mem = m.mem
    st = np.frombuffer(mem.pstate, dtype=np.uint8)
    n = mem.max_pfn
    kind = st & PS_MASK
    order = (st & 0x0F).astype(np.int64)
    is_head = (kind == PS_BUDDY) | (kind == PS_PCP) | (kind == PS_ALLOC) | (kind == PS_ISOLATED)
    heads = np.nonzero(is_head)[0]
    ords = order[heads]
    if np.any(ords > MAX_PAGE_ORDER):
        bad = heads[ords > MAX_PAGE_ORDER][0]
        _fail(f"pfn {bad:#x}: order {order[bad]} > MAX_PAGE_ORDER")
    sizes = np.left_shift(1, ords)
    misaligned = (heads & (sizes - 1)) != 0
    if np.any(misaligned):
        i = int(np.nonzero(misaligned)[0][0])
        _fail(f"pfn {int(heads[i]):#x}: block of order {int(ords[i])} not naturally aligned")
    ends = heads + sizes
    if np.any(ends > n):
        _fail("a block extends beyond the end of memory")
    cov = np.zeros(n + 1, dtype=np.int32)
    np.add.at(cov, heads, 1)
    np.add.at(cov, ends, -1)
    cov = np.cumsum(cov[:n])
    single = (kind == PS_RESERVED) | (kind == PS_HOLE)
    total = cov + single.astype(np.int32)
    if np.any(total != 1):
        i = int(np.nonzero(total != 1)[0][0])
        what = "in no block and not reserved" if total[i] == 0 else "in two blocks"
        _fail(f"pfn {i:#x} ({st[i]:#x}) is {what}")
    stray = (~is_head) & (~single) & (st != 0)
    if np.any(stray):
        i = int(np.nonzero(stray)[0][0])
        _fail(f"pfn {i:#x} has unknown state {st[i]:#x}")
    # inside one zone: the first and last pageblock of every block belong to one zone
    pbz = np.frombuffer(mem.pb_zone, dtype=np.uint8)
    zfirst = pbz[heads >> PAGEBLOCK_ORDER]
    zlast = pbz[(ends - 1) >> PAGEBLOCK_ORDER]
    if np.any(zfirst != zlast) or np.any(zfirst == 0xFF):
        i = int(np.nonzero((zfirst != zlast) | (zfirst == 0xFF))[0][0])
        _fail(f"pfn {int(heads[i]):#x}: block crosses a zone boundary or lies outside every zone")
    for z in m.zones:
        if not z.spanned_pages:
            continue
        inside = (heads >= z.zone_start_pfn) & (heads < z.zone_end_pfn)
        if np.any(ends[inside] > z.zone_end_pfn):
            _fail(f"zone {z.name}: a block extends past zone_end_pfn")


def check_zone(m: "Machine", z: Zone) -> None:
    """Free-list hygiene, no missed merges, and every counter equal to a recount."""
    mem = m.mem
    pstate = mem.pstate
    hygiene = m.profile.free_list_hygiene
    nr_free_pages = 0
    blocks = 0
    blocks_unmapped = 0
    highatomic = 0
    cma = 0
    for order in range(NR_PAGE_ORDERS):
        count = 0
        for idx in range(NR_FREETYPE_IDXS):
            lid = z.buddy_list(order, idx)
            p = mem.lhead[lid]
            while p != NIL:
                count += 1
                if pstate[p] != PS_BUDDY | order:
                    _fail(f"zone {z.name}: pfn {p:#x} on free list order {order} but state {pstate[p]:#x}")
                if not z.zone_start_pfn <= p < z.zone_end_pfn:
                    _fail(f"zone {z.name}: free pfn {p:#x} outside the zone")
                # every pageblock the block covers has the list's freetype (7.2 freelist
                # hygiene; the 6.1 profile lets lists and pageblocks disagree)
                last = p + (1 << order) - 1
                for b in range(p >> PAGEBLOCK_ORDER, (last >> PAGEBLOCK_ORDER) + 1):
                    if not hygiene:
                        break
                    ft = mem.get_pfnblock_freetype(b << PAGEBLOCK_ORDER)
                    if freetype_idx(ft) != idx:
                        _fail(f"zone {z.name}: pfn {p:#x} order {order} on list {idx} "
                              f"but pageblock {b << PAGEBLOCK_ORDER:#x} has freetype {ft}")
                size = 1 << order
                if idx != MIGRATE_ISOLATE:
                    nr_free_pages += size
                    if order >= PAGEBLOCK_ORDER:
                        blocks += size
                        if idx == NR_FREETYPE_IDXS - 1:
                            blocks_unmapped += size
                if idx == MIGRATE_HIGHATOMIC:
                    highatomic += size
                if idx == MIGRATE_CMA:
                    cma += size
                _check_merged(m, z, p, order)
                p = mem.nxt[p]
        if count != z.nr_free[order]:
            _fail(f"zone {z.name}: free_area[{order}].nr_free is {z.nr_free[order]} but lists hold {count}")
    if nr_free_pages != z.nr_free_pages:
        _fail(f"zone {z.name}: NR_FREE_PAGES {z.nr_free_pages} but free lists hold {nr_free_pages}")
    if z.pcp and z.vm_nr_free_pages + sum(z.vm_free_diff) != z.nr_free_pages:
        _fail(f"zone {z.name}: vmstat global {z.vm_nr_free_pages} + per-cpu deltas "
              f"{sum(z.vm_free_diff)} != NR_FREE_PAGES {z.nr_free_pages}")
    # __mod_zone_page_state() keeps every per-CPU delta within the threshold; only a delta
    # left untouched since set_pgdat_percpu_threshold() (or a snapshot load) lowered the
    # threshold may exceed it, and then it still equals the residual recorded at that time
    t = z.stat_threshold
    res = z.stat_residual
    for cpu, d in enumerate(z.vm_free_diff):
        if (d > t or d < -t) and (cpu >= len(res) or d != res[cpu]):
            _fail(f"zone {z.name}: cpu {cpu} vmstat delta {d} beyond threshold {t}")
    if blocks != z.nr_free_pages_blocks:
        _fail(f"zone {z.name}: NR_FREE_PAGES_BLOCKS {z.nr_free_pages_blocks} but recount {blocks}")
    if blocks_unmapped != z.nr_free_pages_blocks_unmapped:
        _fail(f"zone {z.name}: NR_FREE_PAGES_BLOCKS_UNMAPPED {z.nr_free_pages_blocks_unmapped} "
              f"but recount {blocks_unmapped}")
    if highatomic != z.nr_free_highatomic:
        _fail(f"zone {z.name}: nr_free_highatomic {z.nr_free_highatomic} but recount {highatomic}")
    if cma != z.nr_free_cma_pages:
        _fail(f"zone {z.name}: NR_FREE_CMA_PAGES {z.nr_free_cma_pages} but recount {cma}")
    # pageblock-level counters
    if z.spanned_pages:
        iso = ha = 0
        b0 = z.zone_start_pfn >> PAGEBLOCK_ORDER
        b1 = (z.zone_end_pfn - 1) >> PAGEBLOCK_ORDER
        for b in range(b0, b1 + 1):
            mt = mem.get_pfnblock_migratetype(b << PAGEBLOCK_ORDER)
            iso += mt == MIGRATE_ISOLATE
            # the type bits: an isolated HighAtomic block (7.2: separate isolate bit) stays
            # reserved in nr_reserved_highatomic
            ha += (mem.pb[b] & PB_MIGRATETYPE_MASK) == MIGRATE_HIGHATOMIC
        if iso != z.nr_isolate_pageblock:
            _fail(f"zone {z.name}: nr_isolate_pageblock {z.nr_isolate_pageblock} but {iso} isolated blocks")
        if ha * PAGEBLOCK_NR_PAGES != z.nr_reserved_highatomic:
            _fail(f"zone {z.name}: nr_reserved_highatomic {z.nr_reserved_highatomic} but "
                  f"{ha} HighAtomic pageblocks")
    # pcp lists: entries have the list's order, counts add up
    for pcp in z.pcp:
        total = 0
        for pindex in range(m.profile.nr_pcp_lists):
            order = m.profile.pindex_to_order(pindex)
            p = mem.lhead[pcp.list_base + pindex]
            while p != NIL:
                if pstate[p] != PS_PCP | order:
                    _fail(f"zone {z.name} cpu {pcp.cpu}: pfn {p:#x} on pcp list {pindex} "
                          f"but state {pstate[p]:#x}")
                if not z.zone_start_pfn <= p < z.zone_end_pfn:
                    _fail(f"zone {z.name} cpu {pcp.cpu}: pcp pfn {p:#x} outside the zone")
                total += 1 << order
                p = mem.nxt[p]
        if total != pcp.count:
            _fail(f"zone {z.name} cpu {pcp.cpu}: pcp->count {pcp.count} but lists hold {total}")
        if pcp.free_count > (pcp.batch << CONFIG_PCP_BATCH_SCALE_MAX) + (1 << 9) or pcp.free_count < 0:
            _fail(f"zone {z.name} cpu {pcp.cpu}: free_count {pcp.free_count} out of range")
        if pcp.alloc_factor > CONFIG_PCP_BATCH_SCALE_MAX:
            _fail(f"zone {z.name} cpu {pcp.cpu}: alloc_factor {pcp.alloc_factor} > max")
    w = z._watermark
    if not w[0] <= w[1] <= w[2] <= w[3]:
        _fail(f"zone {z.name}: watermarks not ordered {w}")


def _check_merged(m: "Machine", z: Zone, pfn: int, order: int) -> None:
    """A free buddy pair of the same order must be one __free_one_page() would not merge.

    Only below pageblock_order: at and above it the kernel moves whole free blocks between
    lists without merging them (unreserve_highatomic_pageblock(), pageblock unisolation,
    move_freepages_block()), so two mergeable free order-9 buddies are a legal state.
    """
    if order >= PAGEBLOCK_ORDER:
        return
    mem = m.mem
    b = pfn ^ (1 << order)
    if b >= mem.max_pfn or mem.pstate[b] != PS_BUDDY | order:
        return
    if order >= PAGEBLOCK_ORDER:
        if mem.pb_zone[b >> PAGEBLOCK_ORDER] != mem.pb_zone[pfn >> PAGEBLOCK_ORDER]:
            return
        a_ft = mem.get_pfnblock_freetype(pfn)
        b_ft = mem.get_pfnblock_freetype(b)
        if not m.alloc.can_merge_freetypes(a_ft, b_ft):
            return
    _fail(f"zone {z.name}: free buddies {min(pfn, b):#x} and {max(pfn, b):#x} of order {order} "
          f"left unmerged")


def check_direct_map(m: "Machine") -> None:
    """The series' security invariant on free memory: blocks on the UNMOVABLE|UNMAPPED lists
    (and pcp entries of the unmapped bank) are absent from the direct map, every other free
    block is present; the direct map's own bookkeeping holds."""
    dm = getattr(m, "directmap", None)
    if dm is None:
        return
    dm.check()
    if not m.profile.unmapped:
        return
    mem = m.mem
    from pagealloc.mm.freetype import FREETYPE_UNMAPPED_IDX
    for z in m.zones:
        if not z.present_pages:
            continue
        for order in range(NR_PAGE_ORDERS):
            for idx in range(NR_FREETYPE_IDXS):
                for pfn in mem.list_entries(z.buddy_list(order, idx)):
                    present = dm.is_present(pfn)
                    if present == (idx == FREETYPE_UNMAPPED_IDX):
                        _fail(f"zone {z.name}: free pfn {pfn:#x} order {order} on list {idx} is "
                              f"{'present in' if present else 'absent from'} the direct map")
        for pcp in z.pcp:
            for pindex in range(m.profile.nr_pcp_lists):
                unmapped_bank = pindex >= 14
                for pfn in mem.list_entries(pcp.list_base + pindex):
                    if dm.is_present(pfn) == unmapped_bank:
                        _fail(f"zone {z.name}: pcp pfn {pfn:#x} on list {pindex} has the wrong "
                              f"direct-map state")


def check_owners(m: "Machine") -> None:
    """Owner handles (mm/owners.py): every resident owned block is an allocated head of its
    order in the zone recorded for it; ``pfn_h`` is the inverse of ``h_pfn``; a folio is on
    exactly the LRU list its flags name iff PG_lru is set (or it is isolated); the per-zone
    LRU page counts and the used swap slots add up."""
    from pagealloc.mm.owners import (
        F_LRU,
        F_SWAPPED,
        NR_LRU_LISTS,
        ORDER_FIELD,
        ORDER_SHIFT,
        folio_lru_list,
    )
    o = getattr(m, "owners", None)
    if o is None:
        return
    mem = m.mem
    counts = [[0] * len(o.nr_pages[0]) for _ in range(NR_LRU_LISTS)]
    swapped = 0
    off_lru = 0
    for h, info in o.h_info.items():
        order = (info & ORDER_FIELD) >> ORDER_SHIFT
        pfn = o.h_pfn[h]
        if info & F_SWAPPED:
            swapped += 1 << order
        if pfn != NIL:
            if mem.pstate[pfn] != PS_ALLOC | order:
                _fail(f"owner {h}: pfn {pfn:#x} is not an allocated order-{order} head "
                      f"(state {mem.pstate[pfn]:#x})")
            if o.pfn_h.get(pfn) != h:
                _fail(f"owner {h}: pfn_h[{pfn:#x}] is {o.pfn_h.get(pfn)}")
            if mem.pb_zone[pfn >> PAGEBLOCK_ORDER] != o.h_zid[h]:
                _fail(f"owner {h}: recorded zone {o.h_zid[h]} but pfn {pfn:#x} is in zone "
                      f"{mem.pb_zone[pfn >> PAGEBLOCK_ORDER]}")
        lru = folio_lru_list(info)
        if info & F_LRU:
            if lru < 0 or h not in o.lru[lru]:
                _fail(f"owner {h}: PG_lru set but not on list {lru}")
            counts[lru][o.h_zid[h]] += 1 << order
        elif lru >= 0 and pfn != NIL:
            off_lru += 1
    if len(o.pfn_h) != sum(1 for p in o.h_pfn.values() if p != NIL):
        _fail("owners: pfn_h has entries for no resident handle")
    if sum(len(lst) for lst in o.lru) != sum(1 for i in o.h_info.values() if i & F_LRU):
        _fail("owners: an LRU list holds a handle without PG_lru")
    if counts != o.nr_pages:
        _fail(f"owners: LRU page counts {o.nr_pages} but the lists hold {counts}")
    if swapped != o.nr_swapped_pages:
        _fail(f"owners: {o.nr_swapped_pages} swap slots used but {swapped} pages swapped")
    if off_lru != o.nr_isolated:
        _fail(f"owners: {off_lru} resident LRU folios off their lists, "
              f"{o.nr_isolated} isolated")


def check_machine(m: "Machine") -> None:
    """Run every invariant on a machine; raise :class:`InvariantError` on the first failure."""
    check_lists(m.mem)
    check_page_states(m)
    for z in m.zones:
        if z.present_pages:
            check_zone(m, z)
    check_direct_map(m)
    check_owners(m)
