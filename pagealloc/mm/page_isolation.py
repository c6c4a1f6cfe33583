"""Pageblock isolation and contiguous-range allocation (Linux 7.2).

Models ``mm/page_isolation.c`` of Linux 7.2 (``page_is_unmovable``,
``has_unmovable_pages``, ``set_migratetype_isolate``, ``unset_migratetype_isolate``,
``isolate_single_pageblock``, ``start_isolate_page_range``, ``undo_isolate_page_range``,
``test_pages_isolated``), the isolation primitives of ``mm/page_alloc.c`` that the
allocator model (:class:`pagealloc.mm.page_alloc.PageAllocator`) does not have
(``find_large_buddy``, ``__move_freepages_block_isolate`` and its two wrappers,
``__isolate_free_page``, ``__putback_isolated_page``, the contiguous-range free path
``free_contig_range``), and the strict free-page isolation of ``mm/compaction.c``
(``isolate_freepages_block``/``isolate_freepages_range``, ``release_free_list``) that
``alloc_contig_frozen_range()`` uses.  Every function takes the allocator first; none
changes the allocator's code.  Citations are ``file:line`` in the 7.2 tree
(``pi.c`` = mm/page_isolation.c, ``pa.c`` = mm/page_alloc.c, ``co.c`` = mm/compaction.c).

7.2 facts the model follows (they differ from the 6.12 text of the spec, section 6):

* MIGRATE_ISOLATE is the separate ``PB_migrate_isolate`` pageblock bit (bit 4 of
  ``Mem.pb``); the block's migratetype bits survive isolation and are what the free pages
  move back to (``__move_freepages_block_isolate()``, pa.c:2099).
* The isolation "flags" are gone: 7.2 takes ``enum pb_isolate_mode``
  (include/linux/page-isolation.h:50) -- ``PB_ISOLATE_MODE_MEM_OFFLINE`` (the old
  MEMORY_OFFLINE|REPORT_FAILURE: skip hwpoisoned/offline pages and dump the unmovable page),
  ``PB_ISOLATE_MODE_CMA_ALLOC`` (the old CMA_ALLOCATION), ``PB_ISOLATE_MODE_OTHER``.
* ``isolate_single_pageblock()`` (pi.c:320) no longer migrates anything: an in-use
  non-hugetlb compound page straddling the range boundary makes it fail with -EBUSY.

Not modelled (no such page facts in the model): hugetlb folios, PageHWPoison,
PageOffline, unaccepted memory, page migration (``__alloc_contig_migrate_range()``), and
the page-reporting notifier.  KIND_MOVABLE stands for ``PageLRU() ||
page_has_movable_ops()``; for a compound page it is read as PageLRU.

Free blocks taken off the free lists by :func:`isolate_free_page` (the kernel's
``__isolate_free_page()``) carry ``PS_ISOLATED | order`` in ``Mem.pstate`` while they are
held (``set_page_private(page, order)`` on ``cc->freepages``).

Supported profiles: those with ``isolate_bit`` (7.2 and the series built on it).  A
pageblock carrying freetype flags (the __GFP_UNMAPPED series) has no ISOLATE list in the
series' freetype scheme; isolating one raises :class:`NotImplementedError`.
"""

from __future__ import annotations

from enum import IntEnum

from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import (
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    migratetype_is_mergeable,
)
from pagealloc.mm.mmzone import (
    KIND_COMPOUND,
    KIND_MOVABLE,
    MAX_PAGE_ORDER,
    NIL,
    NR_PAGE_ORDERS,
    ORDER_MASK,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    PB_FREETYPE_FLAGS_SHIFT,
    PB_MIGRATE_ISOLATE,
    PB_MIGRATETYPE_MASK,
    PS_ALLOC,
    PS_BUDDY,
    PS_HOLE,
    PS_ISOLATED,
    PS_MASK,
    PS_PCP,
    PS_RESERVED,
    WMARK_MIN,
    Zone,
)
from pagealloc.mm.page_alloc import (
    FPI_NONE,
    FPI_SKIP_REPORT_NOTIFY,
    FPI_TO_TAIL,
    ZONE_MOVABLE,
    PageAllocator,
    PageStateError,
    pcp_allowed_order,
)

EBUSY = 16
EINVAL = 22

MAX_ORDER_NR_PAGES = 1 << MAX_PAGE_ORDER
#: SECTION_SIZE_BITS (27 on x86-64) - PAGE_SHIFT: pfn_to_online_page() works per section
PFN_SECTION_SHIFT = 27 - 12
#: MAX_FOLIO_ORDER (x86-64 with gigantic folios: PUD_ORDER)
MAX_FOLIO_ORDER = 18


class PbIsolateMode(IntEnum):
    """``enum pb_isolate_mode`` (include/linux/page-isolation.h:50, Linux 7.2)."""

    MEM_OFFLINE = 0
    CMA_ALLOC = 1
    OTHER = 2


PB_ISOLATE_MODE_MEM_OFFLINE = PbIsolateMode.MEM_OFFLINE
PB_ISOLATE_MODE_CMA_ALLOC = PbIsolateMode.CMA_ALLOC
PB_ISOLATE_MODE_OTHER = PbIsolateMode.OTHER

#: ``cc->freepages[]``: one list of block heads per order, in list_add_tail() order
FreeLists = list[list[int]]


# ---------------------------------------------------------------------- small helpers
def pageblock_start_pfn(pfn: int) -> int:
    """``pageblock_start_pfn()``."""
    return pfn & ~(PAGEBLOCK_NR_PAGES - 1)


def pageblock_end_pfn(pfn: int) -> int:
    """``pageblock_end_pfn()``."""
    return pageblock_start_pfn(pfn) + PAGEBLOCK_NR_PAGES


def pageblock_align(pfn: int) -> int:
    """``pageblock_align()``: ALIGN(pfn, pageblock_nr_pages)."""
    return (pfn + PAGEBLOCK_NR_PAGES - 1) & ~(PAGEBLOCK_NR_PAGES - 1)


def _ffs(x: int) -> int:
    """``__ffs()``: index of the lowest set bit (x != 0)."""
    return (x & -x).bit_length() - 1


def _ilog2(x: int) -> int:
    return x.bit_length() - 1


def pfn_to_online_page(alloc: PageAllocator, pfn: int) -> bool:
    """``pfn_to_online_page() != NULL``: the pfn lies in a 128 MiB memory section that holds
    some RAM (the same rule as ``Machine.section_online()``); holes inside such a section
    have a (PageReserved) struct page."""
    mem = alloc.mem
    if pfn < 0 or pfn >= mem.max_pfn:
        return False
    lo = (pfn >> PFN_SECTION_SHIFT) << PFN_SECTION_SHIFT
    hi = min(lo + (1 << PFN_SECTION_SHIFT), mem.max_pfn)
    return mem.pstate.count(PS_HOLE, lo, hi) != hi - lo


def first_valid_page(alloc: PageAllocator, pfn: int, nr_pages: int) -> int:
    """``__first_valid_page()`` (pi.c:283): the first online pfn of the range, or NIL."""
    end = pfn + nr_pages
    while pfn < end:
        if pfn_to_online_page(alloc, pfn):
            return pfn
        # the rest of this section is offline too
        pfn = ((pfn >> PFN_SECTION_SHIFT) + 1) << PFN_SECTION_SHIFT
    return NIL


def buddy_order(alloc: PageAllocator, pfn: int) -> int:
    """``PageBuddy(page) ? buddy_order(page) : -1``."""
    s = alloc.mem.pstate[pfn]
    return s & ORDER_MASK if s & PS_MASK == PS_BUDDY else -1


def covering_block(alloc: PageAllocator, pfn: int) -> tuple[int, int]:
    """Head and order of the free, pcp, isolated or allocated block that contains ``pfn``
    (``compound_head()`` for a compound page); ``(NIL, 0)`` if none does."""
    pstate = alloc.mem.pstate
    s = pstate[pfn]
    if s & PS_MASK in (PS_ALLOC, PS_PCP, PS_BUDDY, PS_ISOLATED):
        return pfn, s & ORDER_MASK
    if s:
        return NIL, 0
    for order in range(1, NR_PAGE_ORDERS):
        head = pfn & ~((1 << order) - 1)
        s = pstate[head]
        if s & PS_MASK in (PS_ALLOC, PS_PCP, PS_BUDDY, PS_ISOLATED) and (s & ORDER_MASK) >= order:
            return head, s & ORDER_MASK
    return NIL, 0


def _compound_of(alloc: PageAllocator, pfn: int) -> tuple[int, int]:
    """``PageCompound(page)``: (head, order) of the allocated compound page holding ``pfn``,
    or ``(NIL, 0)``."""
    head, order = covering_block(alloc, pfn)
    if head == NIL or order == 0:
        return NIL, 0
    mem = alloc.mem
    if mem.pstate[head] & PS_MASK == PS_ALLOC and mem.pkind[head] & KIND_COMPOUND:
        return head, order
    return NIL, 0


def get_pageblock_isolate(alloc: PageAllocator, pfn: int) -> bool:
    """``get_pageblock_isolate()`` (include/linux/page-isolation.h:14): the PB_migrate_isolate bit."""
    return bool(alloc.mem.pb[pfn >> PAGEBLOCK_ORDER] & PB_MIGRATE_ISOLATE)


def is_migrate_isolate_page(alloc: PageAllocator, pfn: int) -> bool:
    """``is_migrate_isolate_page()`` (page-isolation.h:6)."""
    return alloc.mem.get_pfnblock_migratetype(pfn) == MIGRATE_ISOLATE


def toggle_pageblock_isolate(alloc: PageAllocator, pfn: int, isolate: bool) -> None:
    """``toggle_pageblock_isolate()`` (pa.c:2072): set or clear only PB_migrate_isolate."""
    b = pfn >> PAGEBLOCK_ORDER
    if isolate:
        alloc.mem.pb[b] |= PB_MIGRATE_ISOLATE
    else:
        alloc.mem.pb[b] &= ~PB_MIGRATE_ISOLATE & 0xFF


def _block_migratetype(alloc: PageAllocator, pfn: int) -> int:
    """``__get_pfnblock_flags_mask(page, pfn, PAGEBLOCK_MIGRATETYPE_MASK)``: the type bits
    without the isolate bit.  A block with freetype flags is not supported."""
    f = alloc.mem.pb[pfn >> PAGEBLOCK_ORDER]
    if f >> PB_FREETYPE_FLAGS_SHIFT:
        raise NotImplementedError(
            f"pageblock {pageblock_start_pfn(pfn):#x} has freetype flags: isolating blocks of "
            "the __GFP_UNMAPPED series is not modelled")
    return f & PB_MIGRATETYPE_MASK


def _require_isolate_bit(alloc: PageAllocator) -> None:
    if not alloc.profile.isolate_bit:
        raise NotImplementedError(
            f"profile {alloc.profile.name}: page isolation is modelled for Linux 7.2 "
            "(PB_migrate_isolate bit) only")


def _skip_to(alloc: PageAllocator, pfn: int) -> int:
    """Where a pfn-by-pfn walk that treats every page of a non-compound, non-buddy block
    alike may continue: past the block headed at ``pfn`` (pcp, isolated, or allocated
    non-compound), else ``pfn + 1``.  Pure speed-up: the kernel visits each such page and
    each gives the same answer (tail pages have refcount 0, no PageBuddy, no PageCompound)."""
    mem = alloc.mem
    s = mem.pstate[pfn]
    st = s & PS_MASK
    if st == PS_PCP or st == PS_ISOLATED or (st == PS_ALLOC and not mem.pkind[pfn] & KIND_COMPOUND):
        return pfn + (1 << (s & ORDER_MASK))
    return pfn + 1


# ---------------------------------------------------------------------- page_alloc.c
def find_large_buddy(alloc: PageAllocator, start_pfn: int) -> int:
    """``find_large_buddy()`` (pa.c:2043): the head of a free buddy that starts at or before
    ``start_pfn`` and covers it, else ``start_pfn``.

    The search starts at order ``__ffs(start_pfn)`` (MAX_PAGE_ORDER for pfn 0), tests
    ``start_pfn`` itself, then aligns down one order at a time up to MAX_PAGE_ORDER.
    """
    order = _ffs(start_pfn) if start_pfn else MAX_PAGE_ORDER
    pfn = start_pfn
    while buddy_order(alloc, pfn) < 0:
        order += 1
        if order > MAX_PAGE_ORDER:
            return start_pfn
        pfn &= ~0 << order
    if pfn + (1 << buddy_order(alloc, pfn)) > start_pfn:
        return pfn
    return start_pfn


def find_buddy_page_pfn(alloc: PageAllocator, pfn: int, order: int) -> int:
    """``find_buddy_page_pfn()`` (mm/internal.h:787) with ``page_is_buddy()``
    (internal.h:729): the buddy pfn if it is a free head of the same order in the same
    zone, else NIL."""
    buddy = pfn ^ (1 << order)
    mem = alloc.mem
    if buddy >= mem.max_pfn or mem.pstate[buddy] != PS_BUDDY | order:
        return NIL
    if mem.pb_zone[buddy >> PAGEBLOCK_ORDER] != mem.pb_zone[pfn >> PAGEBLOCK_ORDER]:
        return NIL
    return buddy


def move_freepages_block_isolate(alloc: PageAllocator, zone: Zone, pfn: int, isolate: bool) -> bool:
    """``__move_freepages_block_isolate()`` (pa.c:2099): isolate or unisolate ``pfn``'s block.

    * Already in the requested state: VM_WARN_ONCE, False (pa.c:2107-2110).
    * ``prep_move_freepages_block()`` refuses a block straddling the zone span: False.
    * A free buddy larger than a pageblock covering the block (``find_large_buddy()``) is
      taken off its list with its own block's type, the bit is toggled, and
      ``split_large_buddy()`` frees it again one pageblock at a time, each half onto its
      block's list (pa.c:2120-2131).
    * Otherwise every free block of the pageblock moves (to the list TAIL,
      ``move_to_free_list()``) between the remembered migratetype and MIGRATE_ISOLATE, and
      the bit is toggled (pa.c:2133-2148).
    """
    if isolate == get_pageblock_isolate(alloc, pfn):
        alloc.vm_warn("move_freepages_block_isolate:already_" + ("isolated" if isolate else "unisolated"))
        return False
    ok, start_pfn, _, _ = alloc.prep_move_freepages_block(zone, pfn, False)
    if not ok:
        return False
    mem = alloc.mem
    if PAGEBLOCK_ORDER != MAX_PAGE_ORDER:
        buddy_pfn = find_large_buddy(alloc, start_pfn)
        order = buddy_order(alloc, buddy_pfn)
        if order > PAGEBLOCK_ORDER:
            alloc.del_page_from_free_list(buddy_pfn, zone, order, mem.get_pfnblock_freetype(buddy_pfn))
            toggle_pageblock_isolate(alloc, pfn, isolate)
            alloc.split_large_buddy(zone, buddy_pfn, order, FPI_NONE)
            return True
    if isolate:
        from_mt = _block_migratetype(alloc, pfn)
        to_mt = MIGRATE_ISOLATE
    else:
        from_mt = MIGRATE_ISOLATE
        to_mt = _block_migratetype(alloc, pfn)
    alloc._move_freepages_block(zone, start_pfn, from_mt, to_mt)
    toggle_pageblock_isolate(alloc, start_pfn, isolate)
    return True


def pageblock_isolate_and_move_free_pages(alloc: PageAllocator, zone: Zone, pfn: int) -> bool:
    """``pageblock_isolate_and_move_free_pages()`` (pa.c:2151)."""
    return move_freepages_block_isolate(alloc, zone, pfn, True)


def pageblock_unisolate_and_move_free_pages(alloc: PageAllocator, zone: Zone, pfn: int) -> bool:
    """``pageblock_unisolate_and_move_free_pages()`` (pa.c:2156)."""
    return move_freepages_block_isolate(alloc, zone, pfn, False)


def isolate_free_page(alloc: PageAllocator, pfn: int, order: int) -> int:
    """``__isolate_free_page()`` (pa.c:3123): take a free block off its list; pages taken.

    Outside an isolated block the order-0 watermark ``_watermark[WMARK_MIN] + 2^order``
    with ALLOC_CMA must hold, else 0 (pa.c:3128-3139).  The block is unlinked
    (``del_page_from_free_list()``, out of NR_FREE_PAGES unless ISOLATE) and held as
    ``PS_ISOLATED | order``.  For ``order >= pageblock_order - 1`` every pageblock it covers
    whose type is mergeable is turned MOVABLE with ``move_freepages_block()``
    (pa.c:3147-3159).
    """
    mem = alloc.mem
    zone = alloc.zone_of(pfn)
    ft = mem.get_pfnblock_freetype(pfn)
    if ft & 7 != MIGRATE_ISOLATE:
        watermark = zone._watermark[WMARK_MIN] + (1 << order)
        if not alloc.zone_watermark_ok(zone, 0, watermark, 0, G.ALLOC_CMA):
            return 0
    alloc.del_page_from_free_list(pfn, zone, order, ft)
    mem.pstate[pfn] = PS_ISOLATED | order
    if order >= PAGEBLOCK_ORDER - 1:
        endpage = pfn + (1 << order) - 1
        page = pfn
        while page < endpage:
            mt = mem.get_pfnblock_migratetype(page)
            if migratetype_is_mergeable(mt):
                _block_migratetype(alloc, page)          # no freetype flags
                alloc.move_freepages_block(zone, page, mt, MIGRATE_MOVABLE)
            page += PAGEBLOCK_NR_PAGES
    return 1 << order


def putback_isolated_page(alloc: PageAllocator, pfn: int, order: int, mt: int) -> None:
    """``__putback_isolated_page()`` (pa.c:3173): ``__free_one_page()`` with
    FPI_SKIP_REPORT_NOTIFY | FPI_TO_TAIL, merging with any free buddy."""
    zone = alloc.zone_of(pfn)
    alloc.mem.pstate[pfn] = 0
    alloc._free_one_page(pfn, zone, order, mt, FPI_SKIP_REPORT_NOTIFY | FPI_TO_TAIL)


# ---------------------------------------------------------------------- page_isolation.c
def page_is_unmovable(alloc: PageAllocator, zone: Zone, pfn: int,
                      mode: int = PB_ISOLATE_MODE_OTHER) -> tuple[bool, int]:
    """``page_is_unmovable()`` (pi.c:18): (unmovable?, step to the next pfn to look at).

    In order: PageReserved (``PS_RESERVED``, and holes, which the kernel marks reserved)
    is unmovable (pi.c:27); in ZONE_MOVABLE everything else is movable (pi.c:35); a
    compound page is movable iff PageLRU (KIND_MOVABLE), and the step skips to its end
    (pi.c:44-74); a page with refcount 0 -- a tail of a non-compound block, a pcp or held
    (``PS_ISOLATED``) page, or a buddy (step ``2^order``) -- is movable (pi.c:82-86);
    an in-use head is movable iff PageLRU or movable_ops (pi.c:108).  The
    MEM_OFFLINE exemptions for PageHWPoison/PageOffline (pi.c:92, 105) have no pages to
    apply to in the model.
    """
    mem = alloc.mem
    s = mem.pstate[pfn]
    st = s & PS_MASK
    if st == PS_RESERVED or st == PS_HOLE:
        return True, 1
    if zone.idx == ZONE_MOVABLE:
        return False, 1
    head, order = _compound_of(alloc, pfn)
    if head != NIL:
        if order > MAX_FOLIO_ORDER:
            return True, 1
        if not mem.pkind[head] & KIND_MOVABLE:      # !PageLRU(page); hugetlb not modelled
            return True, 1
        nr_pages = 1 << order
        return False, (pfn | (nr_pages - 1)) + 1 - pfn
    if st != PS_ALLOC:                               # !page_ref_count(page)
        if st == PS_BUDDY:
            return False, 1 << (s & ORDER_MASK)
        return False, 1
    if mem.pkind[pfn] & KIND_MOVABLE:                # PageLRU || page_has_movable_ops
        return False, 1
    return True, 1


def has_unmovable_pages(alloc: PageAllocator, start_pfn: int, end_pfn: int,
                        mode: int = PB_ISOLATE_MODE_OTHER) -> int:
    """``has_unmovable_pages()`` (pi.c:134): the first unmovable pfn of a range inside one
    pageblock, or NIL.

    A CMA pageblock is entirely movable for PB_ISOLATE_MODE_CMA_ALLOC and entirely
    unmovable (its first page is returned) for every other mode (pi.c:143-153); otherwise
    :func:`page_is_unmovable` is asked pfn by pfn with its step (pi.c:155-163).
    """
    if pageblock_start_pfn(start_pfn) != pageblock_start_pfn(end_pfn - 1):
        raise ValueError(f"has_unmovable_pages({start_pfn:#x}, {end_pfn:#x}): range spans pageblocks")
    zone = alloc.zone_of(start_pfn)
    if alloc.mem.get_pfnblock_migratetype(start_pfn) == MIGRATE_CMA:
        if mode == PB_ISOLATE_MODE_CMA_ALLOC:
            return NIL
        return start_pfn
    pfn = start_pfn
    while pfn < end_pfn:
        unmovable, step = page_is_unmovable(alloc, zone, pfn, mode)
        if unmovable:
            return pfn
        pfn = _skip_to(alloc, pfn) if step == 1 else pfn + step
    return NIL


def set_migratetype_isolate(alloc: PageAllocator, pfn: int, mode: int, start_pfn: int,
                            end_pfn: int) -> int:
    """``set_migratetype_isolate()`` (pi.c:172): isolate ``pfn``'s pageblock; 0 or -EBUSY.

    -EBUSY if the block is already isolated (pi.c:188); if an unmovable page lies in the
    intersection of the block with ``[start_pfn, end_pfn)`` (pi.c:198-203); or if the
    block straddles the zone span (``pageblock_isolate_and_move_free_pages()`` fails,
    pi.c:205).  On success the free pages are on the ISOLATE lists and
    ``zone->nr_isolate_pageblock`` is incremented (pi.c:207).  In MEM_OFFLINE mode the
    kernel then dumps the unmovable page (pi.c:211-217): use :func:`has_unmovable_pages`
    to get it.
    """
    _require_isolate_bit(alloc)
    zone = alloc.zone_of(pfn)
    if is_migrate_isolate_page(alloc, pfn):
        return -EBUSY
    _block_migratetype(alloc, pfn)
    lo = max(pfn, start_pfn)
    hi = min(pageblock_end_pfn(pfn), end_pfn)
    if has_unmovable_pages(alloc, lo, hi, mode) == NIL:
        if not pageblock_isolate_and_move_free_pages(alloc, zone, pfn):
            return -EBUSY
        zone.nr_isolate_pageblock += 1
        return 0
    return -EBUSY


def unset_migratetype_isolate(alloc: PageAllocator, pfn: int) -> None:
    """``unset_migratetype_isolate()`` (pi.c:222): give ``pfn``'s pageblock its type back.

    Nothing if the block is not isolated (pi.c:231).  If ``pfn`` heads a free buddy of
    order ``pageblock_order <= order < MAX_PAGE_ORDER`` whose buddy is free and in a
    non-isolated block, it is taken off (``__isolate_free_page()``), the bit cleared and
    the page freed again with ``__putback_isolated_page()`` so that it merges
    (pi.c:242-257, 275-277).  Otherwise
    ``pageblock_unisolate_and_move_free_pages()`` moves the free pages to the TAIL of the
    remembered type's lists (pi.c:269-274).  ``nr_isolate_pageblock`` is decremented
    (pi.c:279).
    """
    zone = alloc.zone_of(pfn)
    if not is_migrate_isolate_page(alloc, pfn):
        return
    isolated_page = False
    order = buddy_order(alloc, pfn)
    if PAGEBLOCK_ORDER <= order < MAX_PAGE_ORDER:
        buddy = find_buddy_page_pfn(alloc, pfn, order)
        if buddy != NIL and not is_migrate_isolate_page(alloc, buddy):
            isolated_page = isolate_free_page(alloc, pfn, order) != 0
            if not isolated_page:
                alloc.vm_warn("unset_migratetype_isolate:isolate_free_page")
    if not isolated_page:
        if not pageblock_unisolate_and_move_free_pages(alloc, zone, pfn):
            alloc.vm_warn("unset_migratetype_isolate:unisolate")
    else:
        toggle_pageblock_isolate(alloc, pfn, False)      # clear_pageblock_isolate()
        putback_isolated_page(alloc, pfn, order, alloc.mem.get_pfnblock_freetype(pfn))
    zone.nr_isolate_pageblock -= 1


def isolate_single_pageblock(alloc: PageAllocator, boundary_pfn: int, mode: int,
                             isolate_before: bool, skip_isolation: bool) -> int:
    """``isolate_single_pageblock()`` (pi.c:320): isolate the pageblock before
    (``isolate_before``) or after ``boundary_pfn`` and check for pages straddling it.

    The block is isolated with the whole block as the unmovable-check range (pi.c:350)
    unless ``skip_isolation`` (it already is, pi.c:347).  If the page on the other side
    of the boundary is not online, done (pi.c:370-376).  Then
    ``[max(ALIGN_DOWN(block, MAX_ORDER_NR_PAGES), zone_start), boundary_pfn)`` is walked
    (pi.c:378-437): free buddies are skipped (a buddy still crossing the boundary is a
    VM_WARN); a compound page ending at or before the boundary is skipped (hugetlb would be
    too, not modelled); a compound page crossing the boundary fails the call -- 7.2 does not
    migrate it -- and the block is unisolated again (pi.c:412-443); everything else is
    stepped over.  Returns 0 or -EBUSY.
    """
    if boundary_pfn & (PAGEBLOCK_NR_PAGES - 1):
        raise ValueError(f"isolate_single_pageblock: boundary {boundary_pfn:#x} not pageblock aligned")
    isolate_pageblock = boundary_pfn - PAGEBLOCK_NR_PAGES if isolate_before else boundary_pfn
    zone = alloc.zone_of(isolate_pageblock)
    start_pfn = max(isolate_pageblock & ~(MAX_ORDER_NR_PAGES - 1), zone.zone_start_pfn)
    if skip_isolation:
        if not get_pageblock_isolate(alloc, isolate_pageblock):
            raise AssertionError("isolate_single_pageblock: skip_isolation on a block not isolated")
    else:
        ret = set_migratetype_isolate(alloc, isolate_pageblock, mode, isolate_pageblock,
                                      isolate_pageblock + PAGEBLOCK_NR_PAGES)
        if ret:
            return ret
    if isolate_before:
        if not pfn_to_online_page(alloc, boundary_pfn):
            return 0
    elif not pfn_to_online_page(alloc, boundary_pfn - 1):
        return 0
    pfn = start_pfn
    while pfn < boundary_pfn:
        page = first_valid_page(alloc, pfn, boundary_pfn - pfn)
        if page == NIL:                                  # VM_BUG_ON(!page)
            raise AssertionError(f"isolate_single_pageblock: no valid page in [{pfn:#x}, {boundary_pfn:#x})")
        pfn = page
        order = buddy_order(alloc, pfn)
        if order >= 0:
            if pfn + (1 << order) > boundary_pfn:
                alloc.vm_warn("isolate_single_pageblock:buddy_crosses_boundary")
            pfn += 1 << order
            continue
        head, order = _compound_of(alloc, pfn)
        if head != NIL:
            nr_pages = 1 << order
            if head + nr_pages <= boundary_pfn:
                pfn = head + nr_pages
                continue
            # in-use compound page across the boundary: 7.2 gives up (no migration)
            if not skip_isolation:
                unset_migratetype_isolate(alloc, isolate_pageblock)
            return -EBUSY
        pfn = _skip_to(alloc, pfn)
    return 0


def start_isolate_page_range(alloc: PageAllocator, start_pfn: int, end_pfn: int,
                             mode: int = PB_ISOLATE_MODE_OTHER) -> int:
    """``start_isolate_page_range()`` (pi.c:482): isolate every pageblock that
    ``[start_pfn, end_pfn)`` touches; 0 or -EBUSY with nothing left isolated.

    The first block (pi.c:494) and the last block (pi.c:503, with ``skip_isolation`` when
    they are the same block) go through :func:`isolate_single_pageblock`; the inner blocks
    through :func:`set_migratetype_isolate` with the caller's range (pi.c:510-521).  On a
    failure the blocks isolated so far are unisolated (pi.c:505, 516-518).
    """
    isolate_start = pageblock_start_pfn(start_pfn)
    isolate_end = pageblock_align(end_pfn)
    skip_isolation = False
    ret = isolate_single_pageblock(alloc, isolate_start, mode, False, skip_isolation)
    if ret:
        return ret
    if isolate_start == isolate_end - PAGEBLOCK_NR_PAGES:
        skip_isolation = True
    ret = isolate_single_pageblock(alloc, isolate_end, mode, True, skip_isolation)
    if ret:
        unset_migratetype_isolate(alloc, isolate_start)
        return ret
    pfn = isolate_start + PAGEBLOCK_NR_PAGES
    while pfn < isolate_end - PAGEBLOCK_NR_PAGES:
        page = first_valid_page(alloc, pfn, PAGEBLOCK_NR_PAGES)
        if page != NIL and set_migratetype_isolate(alloc, page, mode, start_pfn, end_pfn):
            undo_isolate_page_range(alloc, isolate_start, pfn)
            unset_migratetype_isolate(alloc, isolate_end - PAGEBLOCK_NR_PAGES)
            return -EBUSY
        pfn += PAGEBLOCK_NR_PAGES
    return 0


def undo_isolate_page_range(alloc: PageAllocator, start_pfn: int, end_pfn: int) -> None:
    """``undo_isolate_page_range()`` (pi.c:532): unisolate every isolated pageblock the
    range touches, ascending."""
    pfn = pageblock_start_pfn(start_pfn)
    isolate_end = pageblock_align(end_pfn)
    while pfn < isolate_end:
        page = first_valid_page(alloc, pfn, PAGEBLOCK_NR_PAGES)
        if page != NIL and is_migrate_isolate_page(alloc, page):
            unset_migratetype_isolate(alloc, page)
        pfn += PAGEBLOCK_NR_PAGES


def test_page_isolated_in_pageblock(alloc: PageAllocator, pfn: int, end_pfn: int,
                                    mode: int = PB_ISOLATE_MODE_OTHER) -> int:
    """``__test_page_isolated_in_pageblock()`` (pi.c:556): walk free buddies from ``pfn``;
    return the first pfn that is not in one (or where the walk passed ``end_pfn``).  The
    MEM_OFFLINE HWPoison/PageOffline exemptions (pi.c:570-581) have no pages in the model."""
    while pfn < end_pfn:
        order = buddy_order(alloc, pfn)
        if order < 0:
            break
        pfn += 1 << order
    return pfn


def test_pages_isolated(alloc: PageAllocator, start_pfn: int, end_pfn: int,
                        mode: int = PB_ISOLATE_MODE_OTHER) -> int:
    """``test_pages_isolated()`` (pi.c:604): 0 if every page of the range is free, -EBUSY.

    First every pageblock reached by stepping ``pageblock_nr_pages`` from ``start_pfn``
    must be isolated (pi.c:627-631 -- with an unaligned ``start_pfn`` the last block the
    range touches may be skipped, as in the kernel); then from ``start_pfn`` every page
    must lie in a free buddy (pi.c:641): pcp pages, held pages and in-use pages fail, and so
    does a ``start_pfn`` inside (not at the head of) a buddy.  Emits
    ``test_pages_isolated(start_pfn, end_pfn, fin_pfn)``
    (include/trace/events/page_isolation.h; success iff ``fin_pfn >= end_pfn``).
    """
    pfn = start_pfn
    while pfn < end_pfn:
        page = first_valid_page(alloc, pfn, PAGEBLOCK_NR_PAGES)
        if page != NIL and not is_migrate_isolate_page(alloc, page):
            break
        pfn += PAGEBLOCK_NR_PAGES
    page = first_valid_page(alloc, start_pfn, end_pfn - start_pfn)
    if pfn < end_pfn or page == NIL:
        ret = -EBUSY
    else:
        pfn = test_page_isolated_in_pageblock(alloc, start_pfn, end_pfn, mode)
        ret = -EBUSY if pfn < end_pfn else 0
    alloc.emit("test_pages_isolated", start_pfn, end_pfn, pfn)
    return ret


# ---------------------------------------------------------------------- compaction.c
def pageblock_pfn_to_page(alloc: PageAllocator, start_pfn: int, end_pfn: int, zone: Zone) -> bool:
    """``pageblock_pfn_to_page()`` / ``__pageblock_pfn_to_page()`` (pa.c:1660): both ends
    valid, the start online, both in ``zone``."""
    mem = alloc.mem
    last = end_pfn - 1
    if last >= mem.max_pfn or not pfn_to_online_page(alloc, start_pfn):
        return False
    zs = mem.pb_zone[start_pfn >> PAGEBLOCK_ORDER]
    return zs == zone.idx and mem.pb_zone[last >> PAGEBLOCK_ORDER] == zs


def isolate_freepages_block(alloc: PageAllocator, zone: Zone, start_pfn: int, end_pfn: int,
                            freelist: FreeLists) -> tuple[int, int]:
    """``isolate_freepages_block(strict=true)`` (co.c:574): (pages isolated, pfn reached).

    Stride 1; each free buddy is taken with ``__isolate_free_page()`` and appended to
    ``freelist[order]``; the first page that is not a free buddy head (compound, in use,
    pcp, a tail) or a failed isolation stops the walk, and then 0 is returned although the
    pages already taken stay on ``freelist`` (co.c:629-665, 689-690).  Counts the
    ``compact_isolated`` vm event (co.c:693-694).
    """
    blockpfn = start_pfn
    total_isolated = 0
    while blockpfn < end_pfn:
        order = buddy_order(alloc, blockpfn)
        if order < 0:
            break
        isolated = isolate_free_page(alloc, blockpfn, order)
        if not isolated:
            break
        total_isolated += isolated
        freelist[order].append(blockpfn)
        blockpfn += isolated
    if blockpfn > end_pfn:
        blockpfn = end_pfn
    if blockpfn < end_pfn:
        total_isolated = 0
    if total_isolated:
        alloc.count_vm_events("compact_isolated", total_isolated)
    return total_isolated, blockpfn


def release_free_list(alloc: PageAllocator, freepages: FreeLists, cpu: int = 0) -> int:
    """``release_free_list()`` (co.c:91): give held blocks back, order by order:
    ``mark_allocated(page, order, __GFP_MOVABLE)`` then ``__free_pages()`` (so pcp orders
    of non-isolated blocks go to the pcp lists).  Returns the highest pfn freed."""
    high_pfn = 0
    for order in range(NR_PAGE_ORDERS):
        for pfn in freepages[order]:
            alloc.mem.pstate[pfn] = 0
            _post_alloc_hook(alloc, pfn, order, G.__GFP_MOVABLE)
            alloc.free_frozen_pages(pfn, order, cpu)
            high_pfn = max(high_pfn, pfn)
        freepages[order].clear()
    return high_pfn


def isolate_freepages_range(alloc: PageAllocator, start_pfn: int, end_pfn: int,
                            cpu: int = 0) -> tuple[int, FreeLists]:
    """``isolate_freepages_range()`` (co.c:713): take every free page of
    ``[start_pfn, end_pfn)`` off the free lists, pageblock by pageblock, strictly.

    Returns ``(outer_end, freepages)``: one past the last pfn taken (beyond ``end_pfn`` if a
    buddy crossed it) and the held blocks per order; or ``(0, empty lists)`` after giving
    back everything taken (``release_free_list()``) when a page was not free or a block
    failed ``pageblock_pfn_to_page()`` (co.c:722-773).
    """
    zone = alloc.zone_of(start_pfn)
    freepages: FreeLists = [[] for _ in range(NR_PAGE_ORDERS)]
    pfn = start_pfn
    block_start_pfn = max(pageblock_start_pfn(pfn), zone.zone_start_pfn)
    block_end_pfn = pageblock_end_pfn(pfn)
    while pfn < end_pfn:
        isolate_start_pfn = pfn
        if pfn >= block_end_pfn:
            block_start_pfn = pageblock_start_pfn(pfn)
            block_end_pfn = pageblock_end_pfn(pfn)
        block_end_pfn = min(block_end_pfn, end_pfn)
        if not pageblock_pfn_to_page(alloc, block_start_pfn, block_end_pfn, zone):
            break
        isolated, _ = isolate_freepages_block(alloc, zone, isolate_start_pfn, block_end_pfn, freepages)
        if not isolated:
            break
        pfn += isolated
        block_start_pfn = block_end_pfn
        block_end_pfn += PAGEBLOCK_NR_PAGES
    if pfn < end_pfn:
        release_free_list(alloc, freepages, cpu)
        return 0, freepages
    return pfn, freepages


# ---------------------------------------------------------------------- contig ranges
def _post_alloc_hook(alloc: PageAllocator, pfn: int, order: int, gfp: int) -> None:
    """``post_alloc_hook()``: the block is in use (and, where tracked, written/zeroed)."""
    alloc.post_alloc_hook(pfn, order, gfp, G.gfp_migratetype(gfp))
    if alloc.contents is not None:
        alloc.contents.on_alloc(pfn, order, gfp, G.gfp_migratetype(gfp))


def split_free_frozen_pages(alloc: PageAllocator, freepages: FreeLists, gfp: int) -> list[int]:
    """``split_free_frozen_pages()`` (pa.c:7076): ``post_alloc_hook()`` every held block,
    then ``__split_page()`` it into order-0 in-use pages; returns them in list order."""
    mem = alloc.mem
    out: list[int] = []
    for order in range(NR_PAGE_ORDERS):
        for pfn in freepages[order]:
            mem.pstate[pfn] = 0
            _post_alloc_hook(alloc, pfn, order, gfp)
            kind = mem.pkind[pfn] & ~KIND_COMPOUND
            for p in range(pfn, pfn + (1 << order)):
                mem.pstate[p] = PS_ALLOC
                mem.pkind[p] = kind
                out.append(p)
        freepages[order].clear()
    return out


def free_frozen_pages_prepared(alloc: PageAllocator, pfn: int, order: int, cpu: int = 0) -> None:
    """``__free_frozen_pages(page, order, FPI_PREPARED)`` (pa.c:2937): the block's pages were
    prepared one by one already (so no ``mm_page_free`` for the block).  Non-pcp orders go
    through ``__free_pages_ok()`` to ``free_one_page()``; a block in an isolated pageblock
    goes to ``free_one_page()`` (pa.c:2962-2966); the rest to this CPU's pcp list, CMA and
    HIGHATOMIC as MOVABLE."""
    alloc.cpu = cpu
    zone = alloc.zone_of(pfn)
    if not pcp_allowed_order(order):
        alloc.free_one_page(zone, pfn, order, FPI_NONE)
        return
    alloc.free_prepared_pcp_order(zone, pfn, order, cpu, FPI_NONE)


def free_prepared_contig_range(alloc: PageAllocator, pfn: int, nr_pages: int, cpu: int = 0) -> None:
    """``free_prepared_contig_range()`` (pa.c:6902): free naturally aligned chunks, each of
    order ``min(__ffs(pfn), ilog2(nr_pages), MAX_PAGE_ORDER)``."""
    while nr_pages:
        order = _ffs(pfn) if pfn else MAX_PAGE_ORDER
        order = min(order, _ilog2(nr_pages), MAX_PAGE_ORDER)
        free_frozen_pages_prepared(alloc, pfn, order, cpu)
        pfn += 1 << order
        nr_pages -= 1 << order


def free_contig_range(alloc: PageAllocator, pfn: int, nr_pages: int, cpu: int = 0) -> None:
    """``free_contig_range()`` (pa.c:7541) -> ``__free_contig_range()`` (pa.c:6996) ->
    ``__free_contig_range_common()`` (pa.c:6928): free a range of order-0 in-use pages.

    Each page is prepared on its own (``free_pages_prepare(page, 0)``: ``mm_page_free``
    order 0, content hooks); a page that is not an in-use order-0 page raises
    :class:`PageStateError` (the kernel's bad-page report).  Then the range is freed in
    naturally aligned chunks (:func:`free_prepared_contig_range`).  The kernel also cuts
    the range at memory-section boundaries; chunks never cross one, so the result is the
    same.  The 6.1 profile frees page by page with ``__free_page()`` (6.1 page_alloc.c:9498).
    """
    mem = alloc.mem
    if pfn < 0 or pfn + nr_pages > mem.max_pfn:
        raise PageStateError(f"free_contig_range({pfn:#x}, {nr_pages}): beyond the end of memory")
    for p in range(pfn, pfn + nr_pages):
        if mem.pstate[p] != PS_ALLOC:
            raise PageStateError(alloc.describe_bad_free(p, 0))
    if alloc.profile.kernel == "6.1":
        for p in range(pfn, pfn + nr_pages):
            alloc.free_frozen_pages(p, 0, cpu)
        return
    alloc.cpu = cpu
    for p in range(pfn, pfn + nr_pages):
        alloc.free_pages_prepare(p, 0)
    free_prepared_contig_range(alloc, pfn, nr_pages, cpu)


def isolate_free_range(alloc: PageAllocator, start: int, end: int,
                       mode: int = PB_ISOLATE_MODE_OTHER, gfp: int = G.GFP_KERNEL,
                       cpu: int = 0) -> int:
    """Take ``[start, end)`` of an isolated range out of the buddy allocator: the part of
    ``alloc_contig_frozen_range_noprof()`` (pa.c:7265-7287) after migration.

    ``outer_start = find_large_buddy(start)`` (a free buddy may begin before ``start``);
    ``test_pages_isolated(outer_start, end)`` must pass, else -EBUSY; then
    ``isolate_freepages_range()`` pulls every free buddy of ``[outer_start, end)`` off the
    ISOLATE lists (0 -> -EBUSY); ``split_free_frozen_pages()`` makes them order-0 in-use
    pages, and the parts outside the range, ``[outer_start, start)`` and
    ``[end, outer_end)``, are freed again (``__free_contig_frozen_range()``, pa.c:7136) --
    into the still-isolated blocks, so onto the ISOLATE lists.  Returns 0 with
    ``[start, end)`` held as order-0 in-use pages (free them with
    :func:`free_contig_range`), or -EBUSY with nothing taken.
    """
    outer_start = find_large_buddy(alloc, start)
    if test_pages_isolated(alloc, outer_start, end, mode):
        return -EBUSY
    outer_end, freepages = isolate_freepages_range(alloc, outer_start, end, cpu)
    if not outer_end:
        return -EBUSY
    split_free_frozen_pages(alloc, freepages, gfp)
    if start != outer_start:
        free_contig_range(alloc, outer_start, start - outer_start, cpu)
    if end != outer_end:
        free_contig_range(alloc, end, outer_end - end, cpu)
    return 0


def alloc_contig_verify_gfp_mask(gfp: int) -> int:
    """``__alloc_contig_verify_gfp_mask()`` (pa.c:7101): 0, or -EINVAL for GFP bits
    other than reclaim and the allowed action modifiers (placement hints are ignored)."""
    reclaim_mask = G.__GFP_IO | G.__GFP_FS | G.__GFP_RECLAIM
    action_mask = (G.__GFP_COMP | G.__GFP_RETRY_MAYFAIL | G.__GFP_NOWARN | G.__GFP_ZERO
                   | G.__GFP_ZEROTAGS | G.__GFP_SKIP_ZERO | G.__GFP_SKIP_KASAN)
    gfp &= ~(G.GFP_ZONEMASK | G.__GFP_RECLAIMABLE | G.__GFP_WRITE | G.__GFP_HARDWALL
             | G.__GFP_THISNODE | G.__GFP_MOVABLE)
    if gfp & ~(reclaim_mask | action_mask):
        return -EINVAL
    return 0


def alloc_migration_target(alloc: PageAllocator, gfp: int, order: int, cpu: int) -> int:
    """``alloc_migration_target()`` (mm/migrate.c:2191, 7.2): a new page from the normal
    allocator with the caller's mask; a large folio gets GFP_TRANSHUGE without reclaim.
    Pages of isolated blocks cannot be handed out, so the target lies elsewhere."""
    if order:
        gfp = (gfp & ~G.__GFP_RECLAIM) | G.GFP_TRANSHUGE
    return alloc.alloc_pages(gfp, order, cpu)


def alloc_contig_migrate_range(alloc: PageAllocator, start: int, end: int, gfp: int,
                               cpu: int = 0) -> int:
    """``__alloc_contig_migrate_range()`` (pa.c, 7.2): isolate up to COMPACT_CLUSTER_MAX
    in-use LRU folios of ``[start, end)`` at a time (``isolate_migratepages_range()`` with
    an order -1, MIGRATE_SYNC, skip-hint-free ``compact_control``), drop clean page cache
    (``reclaim_clean_pages_from_list()``), migrate the rest to
    :func:`alloc_migration_target`; a batch that keeps failing gives -EBUSY after 5 tries,
    a failed target allocation -ENOMEM.  Leftovers are put back.  0 on success.
    Pinned (unowned) pages are never isolated, so they stay, and the caller's
    ``test_pages_isolated()`` then fails."""
    from pagealloc.mm import compaction as C
    from pagealloc.mm.migrate import (
        ENOMEM,
        MIGRATE_SYNC,
        MR_CONTIG_RANGE,
        migrate_pages,
        putback_movable_pages,
    )
    if alloc.owners is None:
        return 0
    zone = alloc.zone_of(start)
    cc = C.CompactControl(zone, -1, gfp, MIGRATE_SYNC, ignore_skip_hint=True,
                          no_set_skip_hint=True, alloc_contig=True, cpu=cpu)
    pfn = start
    tries = 0
    ret = 0
    while pfn < end or cc.migratepages:
        if not cc.migratepages:
            cc.nr_migratepages = 0
            ret = C.isolate_migratepages_range(alloc, cc, pfn, end)
            if ret and ret != -C.EAGAIN:
                break
            pfn = cc.migrate_pfn
            tries = 0
            if not cc.migratepages:
                continue
        else:
            tries += 1
            if tries == 5:
                ret = -EBUSY
                break
        if alloc.reclaim is not None:
            nr, cc.migratepages = alloc.reclaim.reclaim_clean_pages_from_list(cc.migratepages)
            cc.nr_migratepages = len(cc.migratepages)
        if not cc.migratepages:
            continue
        ret, _nr, failed = migrate_pages(
            alloc, cc.migratepages,
            lambda src, order: alloc_migration_target(alloc, cc.gfp_mask, order, cpu),
            None, MIGRATE_SYNC, MR_CONTIG_RANGE, cpu)
        cc.migratepages = failed
        cc.nr_migratepages = len(failed)
        if alloc.step_check is not None:
            alloc.step_check()
        if ret == -ENOMEM:
            break
    if ret < 0:
        putback_movable_pages(alloc, cc.migratepages)
        cc.migratepages = []
    return ret if ret < 0 else 0


def alloc_contig_range(alloc: PageAllocator, start: int, end: int, cma: bool = False,
                       gfp: int = G.GFP_KERNEL, cpu: int = 0) -> int:
    """``alloc_contig_range_noprof()`` (pa.c:7321) over ``alloc_contig_frozen_range_noprof()``
    (pa.c:7164): 0 with ``[start, end)`` held as order-0 in-use pages, -EBUSY, -ENOMEM,
    or -EINVAL (``__GFP_COMP`` or a bad GFP mask).

    ``start_isolate_page_range()`` with PB_ISOLATE_MODE_CMA_ALLOC (``cma``) or _OTHER;
    ``drain_all_pages(zone)``; :func:`alloc_contig_migrate_range` moves the in-use LRU
    folios out with the compaction control's mask (``__alloc_contig_verify_gfp_mask()``:
    the reclaim bits of ``gfp`` plus ``__GFP_MOVABLE|__GFP_RETRY_MAYFAIL``), failing
    with anything but -EBUSY ends the attempt; then :func:`isolate_free_range`
    (``test_pages_isolated()`` fails with -EBUSY if pinned pages remain); finally, also on
    failure, ``undo_isolate_page_range(start, end)`` (pa.c:7298-7299).  As in the kernel,
    a failed ``start_isolate_page_range()`` is followed by that undo too, which
    unisolates blocks of the range that another user had isolated before the call.
    """
    if gfp & G.__GFP_COMP:
        alloc.vm_warn("alloc_contig_range:__GFP_COMP")
        return -EINVAL
    if alloc_contig_verify_gfp_mask(gfp):
        return -EINVAL
    reclaim_mask = G.__GFP_IO | G.__GFP_FS | G.__GFP_RECLAIM
    cc_gfp = (gfp & (reclaim_mask | G.__GFP_RETRY_MAYFAIL | G.__GFP_NOWARN)) | \
        G.__GFP_MOVABLE | G.__GFP_RETRY_MAYFAIL
    mode = PB_ISOLATE_MODE_CMA_ALLOC if cma else PB_ISOLATE_MODE_OTHER
    zone = alloc.zone_of(start)
    ret = start_isolate_page_range(alloc, start, end, mode)
    if not ret:
        alloc.drain_all_pages(zone)
        ret = alloc_contig_migrate_range(alloc, start, end, cc_gfp, cpu)
        if not ret or ret == -EBUSY:
            ret = isolate_free_range(alloc, start, end, mode, gfp, cpu)
    undo_isolate_page_range(alloc, start, end)
    return ret


def isolate_migrate_for_flip(alloc: PageAllocator, zones: list[Zone], cpu: int = 0,
                             max_candidates: int = 8) -> bool:
    """The reviewer's alternative to failing a flip with no free block (the seed, question
    2: "migrate inside the flip using pageblock isolation"; knob ``on_no_block=
    isolate_migrate``): make one whole free mapped pageblock out of a partly used MOVABLE
    one, in place.

    Candidates are the pageblocks with the most free pages on the MOVABLE free lists
    below pageblock order (ties: the higher PFN, where the free scanner starts), whose
    in-use pages are all owned LRU folios (migratable).  For each, in that order and at
    most ``max_candidates``: ``start_isolate_page_range()``, ``drain_all_pages(zone)``,
    :func:`alloc_contig_migrate_range`, ``test_pages_isolated()`` and
    ``undo_isolate_page_range()``, which merges the now free block and puts it back on
    the MOVABLE list where the flip's ``__rmqueue()`` claims it.  True once a block is
    free.  Not a kernel function: a model of the suggestion, built from the 7.2
    isolation primitives; counted in ``flip_isolate_migrate`` and
    ``flip_isolate_migrate_failed``.
    """
    from pagealloc.mm.freetype import MIGRATE_MOVABLE, freetype_idx
    from pagealloc.mm.mmzone import PS_ALLOC, PS_BUDDY, PS_MASK, ORDER_MASK, KIND_MOVABLE
    owners = alloc.owners
    if owners is None:
        return False
    mem = alloc.mem
    mov = freetype_idx(MIGRATE_MOVABLE)
    reclaim_mask = G.__GFP_IO | G.__GFP_FS | G.__GFP_RECLAIM
    cc_gfp = (G.GFP_KERNEL & reclaim_mask) | G.__GFP_MOVABLE | G.__GFP_RETRY_MAYFAIL
    for zone in zones:
        counts: dict[int, int] = {}
        for order in range(PAGEBLOCK_ORDER):
            for pfn in mem.list_entries(zone.buddy_list(order, mov)):
                b = pfn >> PAGEBLOCK_ORDER
                counts[b] = counts.get(b, 0) + (1 << order)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -kv[0]))
        tried = 0
        for b, _nfree in ranked:
            if tried >= max_candidates:
                break
            start = b << PAGEBLOCK_ORDER
            end = start + PAGEBLOCK_NR_PAGES
            if start < zone.zone_start_pfn or end > zone.zone_end_pfn:
                continue
            if mem.get_pfnblock_freetype(start) != MIGRATE_MOVABLE:
                continue
            movable = True
            pfn = start
            while pfn < end:
                st = mem.pstate[pfn]
                kind = st & PS_MASK
                if kind == PS_BUDDY:
                    pfn += 1 << (st & ORDER_MASK)
                    continue
                if kind == PS_ALLOC:
                    if pfn not in owners.pfn_h or not mem.pkind[pfn] & KIND_MOVABLE:
                        movable = False
                        break
                    pfn += 1 << (st & ORDER_MASK)
                    continue
                pfn += 1
            if not movable:
                continue
            tried += 1
            ok = False
            if not start_isolate_page_range(alloc, start, end, PB_ISOLATE_MODE_OTHER):
                alloc.drain_all_pages(zone)
                alloc_contig_migrate_range(alloc, start, end, cc_gfp, cpu)
                ok = not test_pages_isolated(alloc, start, end, PB_ISOLATE_MODE_OTHER)
            undo_isolate_page_range(alloc, start, end)
            if ok:
                alloc.stats["flip_isolate_migrate"] += 1
                return True
            alloc.stats["flip_isolate_migrate_failed"] += 1
    return False
