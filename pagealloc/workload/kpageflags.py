"""Reconstruct the buddy allocator's state from ``/proc/kpageflags`` when no exact dump exists.

``/proc/kpageflags`` (``fs/proc/page.c`` ``kpage_read()``/``stable_page_flags()``, Linux 6.1
and 7.2) is one little-endian u64 per PFN with the bits of
``include/uapi/linux/kernel-page-flags.h`` (and the "kernel hacking" bits 32-42 of
``include/linux/kernel-page-flags.h``).  What it says about the allocator:

* ``KPF_BUDDY`` is set on **every** page of a free buddy block, not only on its head:
  ``stable_page_flags()`` (6.1) and ``set_ps_flags()`` (7.2 ``mm/util.c``) test
  ``PageBuddy(page) || (page_count(page) == 0 && is_free_buddy_page(page))``.  So the set of
  free pages is exact (for the instant each entry was read), but block boundaries are not
  exported: they follow from the buddy rules.  ``__free_one_page()`` merges a freed block with
  its buddy whenever the buddy is a free block of the same order, so the kernel never leaves
  two free buddies unmerged, except where merging is forbidden: never above ``MAX_PAGE_ORDER``,
  never across a zone boundary, and at ``order >= pageblock_order`` never between pageblocks
  whose migratetypes differ when either is not mergeable (HighAtomic, CMA, Isolate;
  ``migratetype_is_mergeable()``).  The free blocks are therefore the maximal naturally
  aligned runs of free pages, split where those rules forbid a merge
  (:func:`buddy_blocks`).  On all 48 dumps of ``../shared/traces`` this decomposition of the
  dump's own free pages gives back exactly the dump's blocks.
* Pages on the per-cpu lists have ``page_count() == 0`` but no ``PageBuddy``, and
  ``free_pages_prepare()`` cleared their flags: they read as 0.  So do in-use kernel pages
  without flags (vmalloc, the ftrace ring buffer, ...) and, on 7.2, PFNs with no online
  memmap (``kpage_read()`` writes 0 where 6.1 wrote ``KPF_NOPAGE``).
* No interface exports a pageblock's migratetype per block; ``/proc/pagetypeinfo`` gives how
  many blocks of each type a zone has and how many free blocks of each (type, order).

What is inferred, and how (:func:`infer_layout`):

* pageblock migratetypes: every block starts Movable, the boot type
  (``memmap_init_range()``), and the non-movable types are filled to ``pagetypeinfo``'s
  per-type block counts, choosing the blocks that best explain three observations
  (:func:`_assign_types`): what each block holds (slab, page-table and non-LRU compound pages
  are kernel memory of an Unmovable/Reclaimable ``gfp_migratetype()``, LRU/anon/mapped pages
  are movable), ``pagetypeinfo``'s free blocks per (type, order), and ``zoneinfo``'s pcp
  count (zero-flag pages in a Movable or Reclaimable block are pcp pages, in an Unmovable
  one kernel memory).  Without ``pagetypeinfo`` a block is Unmovable when it holds more
  kernel than movable pages.
* free-list membership: the free list of the block's pageblock type (on 7.2 every free block
  sits on its pageblock's list; on 6.1 a steal without claim can leave a block on another
  list, which kpageflags cannot show).
* list order: unknown.  Each list is built in ascending PFN order, the order
  ``memblock_free_all()`` leaves (``__free_pages_core()`` frees with ``FPI_TO_TAIL``).
* pcp pages: zero-flag pages in Movable and Reclaimable pageblocks (an in-use page there
  almost always carries LRU or slab flags); a wholly zero-flag aligned pageblock becomes an
  order-``HPAGE_PMD_ORDER`` pcp block, the rest order 0, on the list of the block's type.
  Zero-flag pages in Unmovable blocks cannot be told from kernel memory and stay in use;
  ``zoneinfo``'s ``count`` says how many pcp pages that leaves unplaced.

:class:`InferenceReport` counts all of this; :func:`compare_with_dump` measures a
reconstruction against an exact ``gt_buddydump``.  The result is a
:class:`~pagealloc.workload.snapshot.BuddyDump` (with ``kernel`` and ``header`` as a real
dump's), so :func:`pagealloc.workload.state.machine_from_dump` installs it.
"""

from __future__ import annotations

import gzip
import lzma
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import numpy.typing as npt

from pagealloc.workload.procfs import Pagetypeinfo, ZoneinfoZone
from pagealloc.workload.snapshot import (
    MIGRATETYPE_NAMES,
    MT_CMA,
    MT_HIGHATOMIC,
    MT_ISOLATE,
    MT_MOVABLE,
    MT_RECLAIMABLE,
    MT_UNMOVABLE,
    BuddyDump,
    DumpPcp,
    DumpZone,
)

__all__ = [
    "KpageflagsFormatError",
    "InferenceReport",
    "ZoneInference",
    "ReconstructionAccuracy",
    "read_kpageflags",
    "find_kpageflags",
    "ram_mask",
    "buddy_blocks",
    "infer_layout",
    "compare_with_dump",
]

# include/uapi/linux/kernel-page-flags.h
KPF_LOCKED = 0
KPF_ERROR = 1
KPF_REFERENCED = 2
KPF_UPTODATE = 3
KPF_DIRTY = 4
KPF_LRU = 5
KPF_ACTIVE = 6
KPF_SLAB = 7
KPF_WRITEBACK = 8
KPF_RECLAIM = 9
KPF_BUDDY = 10
KPF_MMAP = 11
KPF_ANON = 12
KPF_SWAPCACHE = 13
KPF_SWAPBACKED = 14
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_HUGE = 17
KPF_UNEVICTABLE = 18
KPF_HWPOISON = 19
KPF_NOPAGE = 20
KPF_KSM = 21
KPF_THP = 22
KPF_OFFLINE = 23
KPF_ZERO_PAGE = 24
KPF_IDLE = 25
KPF_PGTABLE = 26
# include/linux/kernel-page-flags.h ("kernel hacking assistances")
KPF_RESERVED = 32
KPF_MLOCKED = 33
KPF_OWNER_2 = 34       # KPF_MAPPEDTODISK in 6.1
KPF_PRIVATE = 35
KPF_PRIVATE_2 = 36
KPF_OWNER_PRIVATE = 37
KPF_ARCH = 38
KPF_UNCACHED = 39      # 6.1; not in 7.2
KPF_SOFTDIRTY = 40
KPF_ARCH_2 = 41
KPF_ARCH_3 = 42        # 7.2; not in 6.1

#: every bit either kernel can export; anything else means the file is not kpageflags
KPF_DEFINED_MASK = ((1 << (KPF_PGTABLE + 1)) - 1) | (((1 << (KPF_ARCH_3 + 1)) - 1) & ~((1 << KPF_RESERVED) - 1))

_MOVABLE_BITS = ((1 << KPF_LRU) | (1 << KPF_MMAP) | (1 << KPF_ANON) | (1 << KPF_SWAPCACHE)
                 | (1 << KPF_SWAPBACKED) | (1 << KPF_UNEVICTABLE) | (1 << KPF_THP) | (1 << KPF_KSM)
                 | (1 << KPF_MLOCKED))
_UNMOVABLE_BITS = (1 << KPF_SLAB) | (1 << KPF_PGTABLE)
_COMPOUND_BITS = (1 << KPF_COMPOUND_HEAD) | (1 << KPF_COMPOUND_TAIL)

PAGEBLOCK_ORDER = 9
PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER
MAX_PAGE_ORDER = 10
NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1
HPAGE_PMD_ORDER = 9
#: PAGES_PER_SECTION on x86-64 (SECTION_SIZE_BITS 27 - PAGE_SHIFT 12)
PAGES_PER_SECTION = 1 << 15
#: pcp list layout of both kernels (traces README 6.4): 3*order+mt for orders 0-3
NR_LOWORDER_PCP_LISTS = 12

# per-page classes used for pageblock typing
C_HOLE, C_FREE, C_RESERVED, C_UNMOVABLE, C_MOVABLE, C_ZERO, C_OTHER = range(7)

_TYPE_BY_NAME = {name: mt for mt, name in enumerate(MIGRATETYPE_NAMES)}
#: migratetype_is_mergeable(): only the pcp types merge with each other
_MERGEABLE = (MT_UNMOVABLE, MT_MOVABLE, MT_RECLAIMABLE)

U64Array = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]


class KpageflagsFormatError(ValueError):
    """A ``kpageflags`` file that is not a whole, valid array of u64 entries.

    ``str(err)`` reads ``<file>: byte offset <n> (pfn <x>): <problem>``.
    """

    def __init__(self, path: str, offset: int, problem: str) -> None:
        self.path = path
        self.offset = offset
        self.problem = problem
        super().__init__(f"{path}: byte offset {offset} (pfn {offset // 8:#x}): {problem}")


# ---------------------------------------------------------------------------------- reading
def find_kpageflags(snapdir: str | os.PathLike[str]) -> Path | None:
    """The kpageflags file of a snapshot directory (``kpageflags[.xz|.gz|.zst]``), or None."""
    d = Path(snapdir)
    for name in ("kpageflags.xz", "kpageflags", "kpageflags.gz", "kpageflags.zst"):
        if (d / name).is_file():
            return d / name
    return None


def _decompress(path: str, raw: bytes) -> bytes:
    try:
        if path.endswith(".xz"):
            return lzma.decompress(raw)
        if path.endswith(".gz"):
            return gzip.decompress(raw)
        if path.endswith(".zst"):
            return _zstd_decompress(path, raw)
    except (lzma.LZMAError, EOFError, OSError) as e:
        # decompress what can be, to say where the stream breaks
        got = _partial_decompress(path, raw)
        raise KpageflagsFormatError(path, got, f"compressed stream is corrupt or truncated ({e})") from None
    return raw


def _zstd_decompress(path: str, raw: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise KpageflagsFormatError(path, 0, "a .zst file needs the zstandard module") from None
    out = bytearray()
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        for i in range(0, len(raw), 1 << 20):
            out += dobj.decompress(raw[i:i + (1 << 20)])
    except zstandard.ZstdError as e:
        raise KpageflagsFormatError(path, len(out), f"compressed stream is corrupt or truncated ({e})") from None
    if not dobj.eof:
        raise KpageflagsFormatError(path, len(out), "compressed stream is truncated (the zstd frame does not end)")
    return bytes(out)


def _partial_decompress(path: str, raw: bytes) -> int:
    """How many bytes of a broken .xz/.gz stream decompress (the offset of the damage)."""
    d: "lzma.LZMADecompressor | None" = lzma.LZMADecompressor() if path.endswith(".xz") else None
    total = 0
    if d is None:
        import zlib
        z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            for i in range(0, len(raw), 65536):
                total += len(z.decompress(raw[i:i + 65536]))
        except zlib.error:
            pass
        return total
    try:
        for i in range(0, len(raw), 65536):
            total += len(d.decompress(raw[i:i + 65536]))
    except lzma.LZMAError:
        pass
    return total


def read_kpageflags(path: str | os.PathLike[str]) -> U64Array:
    """Read a ``/proc/kpageflags`` copy (plain, .xz, .gz or .zst): one u64 per PFN from PFN 0.

    Raises :class:`KpageflagsFormatError` naming the byte offset for a truncated entry, a
    corrupt compressed stream, bits that neither kernel exports, or ``KPF_NOPAGE`` (a hole,
    6.1) together with page flags.
    """
    p = os.fspath(path)
    with open(p, "rb") as fh:
        raw = _decompress(p, fh.read())
    if not raw:
        raise KpageflagsFormatError(p, 0, "empty file")
    if len(raw) % 8:
        whole = len(raw) - len(raw) % 8
        raise KpageflagsFormatError(p, whole, f"truncated: {len(raw) % 8} trailing bytes of an 8-byte entry")
    flags: U64Array = np.frombuffer(raw, dtype="<u8")
    bad = np.flatnonzero(flags & np.uint64(~KPF_DEFINED_MASK & ((1 << 64) - 1)))
    if len(bad):
        i = int(bad[0])
        extra = int(flags[i]) & ~KPF_DEFINED_MASK
        raise KpageflagsFormatError(p, 8 * i, f"value {int(flags[i]):#x} sets bits {extra:#x} that are not "
                                    "kpageflags bits (include/uapi/linux/kernel-page-flags.h); "
                                    f"{len(bad)} such entries")
    nopage = np.uint64(1 << KPF_NOPAGE)
    bad = np.flatnonzero(((flags & nopage) != 0) & (flags != nopage))
    if len(bad):
        i = int(bad[0])
        raise KpageflagsFormatError(p, 8 * i, f"value {int(flags[i]):#x}: KPF_NOPAGE (a hole) with page flags")
    return flags


def _bit(flags: U64Array, bit: int) -> BoolArray:
    out: BoolArray = (flags & np.uint64(1 << bit)) != 0
    return out


def ram_mask(flags: U64Array, ram_ranges: Sequence[tuple[int, int]] | None = None) -> BoolArray:
    """PFNs that are RAM with a memmap.

    From ``ram_ranges`` (``/proc/iomem`` "System RAM", PFN ranges end exclusive) when given;
    otherwise every PFN without ``KPF_NOPAGE`` (6.1 marks holes so), minus whole memory
    sections that read as all zero (7.2's ``kpage_read()`` writes 0 for a PFN without an
    online memmap, and an online section always holds some flagged page).
    """
    n = len(flags)
    if ram_ranges:
        mask = np.zeros(n, dtype=bool)
        for a, b in ram_ranges:
            mask[max(a, 0):min(b, n)] = True
        return mask
    mask = ~_bit(flags, KPF_NOPAGE)
    nsec = (n + PAGES_PER_SECTION - 1) // PAGES_PER_SECTION
    padded = np.zeros(nsec * PAGES_PER_SECTION, dtype=np.uint64)
    padded[:n] = flags
    empty = ~(padded.reshape(nsec, PAGES_PER_SECTION) != 0).any(axis=1)
    mask &= ~np.repeat(empty, PAGES_PER_SECTION)[:n]
    return mask


# ------------------------------------------------------------------------- buddy boundaries
def buddy_blocks(free: BoolArray, zone_id: npt.NDArray[np.int8],
                 pb_type: npt.NDArray[np.int8] | None = None) -> list[tuple[int, int]]:
    """Free blocks ``(pfn, order)`` in ascending PFN order: the maximal naturally aligned runs
    of ``free`` pages, as ``__free_one_page()`` (6.1 and 7.2) leaves them.

    A run of order ``o + 1`` exists only if both halves are free blocks of order ``o`` in the
    same zone (``page_is_buddy()`` checks ``page_zone_id()``), ``o + 1 <= MAX_PAGE_ORDER``,
    and, for ``o >= pageblock_order``, the two pageblock types are equal or both mergeable
    (``migratetype_is_mergeable()``).  ``zone_id`` is -1 outside every zone; ``pb_type``
    (per pageblock, default: all mergeable) decides the last rule.
    """
    n = len(free)
    size = 1 << MAX_PAGE_ORDER
    total = (n + size - 1) // size * size
    f = np.zeros(total, dtype=bool)
    f[:n] = free
    zid = np.full(total, -1, dtype=np.int8)
    zid[:n] = zone_id
    f &= zid >= 0
    # full[o][i]: the aligned order-o block i is wholly free and may be one buddy block
    full: list[BoolArray] = [f]
    mergeable_pb: BoolArray | None = None
    if pb_type is not None:
        t = np.full(total >> PAGEBLOCK_ORDER, MT_MOVABLE, dtype=np.int8)
        t[:len(pb_type)] = pb_type
        mergeable_pb = np.isin(t, _MERGEABLE)
        pbt = t
    for o in range(1, NR_PAGE_ORDERS):
        prev = full[o - 1].reshape(-1, 2)
        cur = prev[:, 0] & prev[:, 1]
        span = 1 << o
        first = zid[0::span]
        last = zid[span - 1::span]
        cur &= first == last
        if o > PAGEBLOCK_ORDER and mergeable_pb is not None:
            per = span >> PAGEBLOCK_ORDER
            lo = pbt[0::per]
            hi = pbt[per - 1::per]
            both = mergeable_pb[0::per] & mergeable_pb[per - 1::per]
            cur &= (lo == hi) | both
        full.append(cur)
    out: list[tuple[int, int]] = []
    for o in range(NR_PAGE_ORDERS):
        maximal = full[o].copy()
        if o < MAX_PAGE_ORDER:
            maximal &= ~np.repeat(full[o + 1], 2)
        for i in np.flatnonzero(maximal).tolist():
            out.append((i << o, o))
    out.sort()
    return out


# ------------------------------------------------------------------------------ inference
@dataclass(slots=True)
class ZoneInference:
    """What was inferred for one zone."""

    name: str
    pageblocks: int = 0
    #: pageblocks per type as inferred (7.2 numbering), and as pagetypeinfo counts them
    pageblocks_by_type: dict[int, int] = field(default_factory=dict)
    pagetypeinfo_blocks: dict[int, int] | None = None
    #: pageblocks typed by what they hold (slab/page-table/kernel-compound or movable pages);
    #: left Movable, the boot type, with nothing against it; given another type without
    #: content to show it (wholly free, zero-flag or reserved pages only: chosen by the
    #: objective of _assign_types); forced (the zone has blocks of one type only)
    pageblocks_by_content: int = 0
    pageblocks_default: int = 0
    pageblocks_guessed: int = 0
    pageblocks_forced: int = 0
    free_pages: int = 0
    free_blocks: int = 0
    #: blocks whose boundaries follow from the free pages and the buddy rules alone, and
    #: those whose merge depended on a guessed non-mergeable pageblock type
    blocks_exact: int = 0
    blocks_ambiguous: int = 0
    #: free pages by how their list (their pageblock's type) was decided, as for pageblocks
    pages_list_forced: int = 0
    pages_list_from_content: int = 0
    pages_list_default: int = 0
    pages_list_guessed: int = 0
    pcp_pages_guessed: int = 0
    pcp_pages_zoneinfo: int | None = None
    #: zero-flag pages of pcp-feeding blocks beyond what zoneinfo's pcp count allows
    #: (left in use: e.g. memmap not yet initialised by deferred init)
    zero_pages_left_in_use: int = 0
    #: sum over (type, order) of |inferred free blocks - pagetypeinfo|; None without it
    pagetypeinfo_cell_error: int | None = None


@dataclass(slots=True)
class InferenceReport:
    """How much of a kpageflags reconstruction is known and how much inferred."""

    source: str
    kernel: str
    zones: list[ZoneInference] = field(default_factory=list)
    list_order: str = "unknown: each free and pcp list in ascending PFN order"
    #: BUDDY entries that also carry other flags (a read racing a free); counted as free
    inconsistent_entries: int = 0
    have_pagetypeinfo: bool = False

    def total(self, name: str) -> int:
        """Sum of an integer :class:`ZoneInference` field over the zones (None counts 0)."""
        return sum(int(getattr(z, name) or 0) for z in self.zones)

    @property
    def pcp_pages_unplaced(self) -> int:
        """Pages ``zoneinfo`` counts on pcp lists that no zero-flag page could stand for."""
        return sum(max(0, (z.pcp_pages_zoneinfo or 0) - z.pcp_pages_guessed) for z in self.zones)

    def summary_lines(self) -> list[str]:
        """The report as ``#`` comment lines (the CLI prints them above a /proc view)."""
        t = self.total
        lines = [
            f"# pagealloc: layout inferred from {self.source} (no gt_buddydump): free pages exact, "
            "block boundaries by the buddy rules, lists and pcp pages guessed",
            f"#   free blocks {t('free_blocks')} ({t('free_pages')} pages): exact {t('blocks_exact')}, "
            f"ambiguous {t('blocks_ambiguous')}",
            f"#   free pages by how their list was chosen: block content {t('pages_list_from_content')}, "
            f"Movable by default {t('pages_list_default')}, guessed {t('pages_list_guessed')}, "
            f"forced {t('pages_list_forced')}",
            f"#   pageblocks {t('pageblocks')}: by content {t('pageblocks_by_content')}, "
            f"Movable by default {t('pageblocks_default')}, guessed {t('pageblocks_guessed')}, "
            f"forced {t('pageblocks_forced')}"
            + ("" if self.have_pagetypeinfo else " (no pagetypeinfo: counts unknown)"),
            f"#   pcp pages guessed {t('pcp_pages_guessed')}, unplaced {self.pcp_pages_unplaced}"
            + (f", zero-flag pages beyond the pcp count left in use {t('zero_pages_left_in_use')}"
               if t("zero_pages_left_in_use") else "") + f"; list order {self.list_order}",
        ]
        if self.inconsistent_entries:
            lines.append(f"#   {self.inconsistent_entries} KPF_BUDDY entries with other flags (taken as free)")
        return lines


def _zone_spans(zoneinfo: Sequence[ZoneinfoZone]) -> list[tuple[ZoneinfoZone, int, int]]:
    out = []
    for z in zoneinfo:
        if z.populated and z.present and z.start_pfn is not None:
            out.append((z, z.start_pfn, z.start_pfn + z.spanned))
    return out


def _block_features(cls: npt.NDArray[np.uint8], nblocks: int) -> npt.NDArray[np.int64]:
    """Pages of each class per pageblock: shape (nblocks, 7)."""
    total = nblocks * PAGEBLOCK_NR_PAGES
    c = np.full(total, C_HOLE, dtype=np.uint8)
    c[:min(len(cls), total)] = cls[:total]
    idx = np.repeat(np.arange(nblocks, dtype=np.int64), PAGEBLOCK_NR_PAGES) * 7 + c
    counts: npt.NDArray[np.int64] = np.bincount(idx, minlength=nblocks * 7).reshape(nblocks, 7)
    return counts


def _classify(flags: U64Array, ram: BoolArray) -> npt.NDArray[np.uint8]:
    """One of the C_* classes per PFN."""
    cls = np.full(len(flags), C_OTHER, dtype=np.uint8)
    cls[flags == 0] = C_ZERO
    comp = (flags & np.uint64(_COMPOUND_BITS)) != 0
    mov = (flags & np.uint64(_MOVABLE_BITS)) != 0
    cls[comp & ~mov] = C_UNMOVABLE               # kernel compound allocations (kmalloc_large, ...)
    cls[(flags & np.uint64(_UNMOVABLE_BITS)) != 0] = C_UNMOVABLE
    cls[mov] = C_MOVABLE
    cls[_bit(flags, KPF_RESERVED) | _bit(flags, KPF_ZERO_PAGE) | _bit(flags, KPF_OFFLINE)] = C_RESERVED
    cls[_bit(flags, KPF_BUDDY)] = C_FREE
    cls[~ram] = C_HOLE
    return cls


#: weights of the typing objective (see _assign_types): one page of contradicting content
#: costs as much as one free block too many or too few in a pagetypeinfo cell; a zero-flag
#: page off the pcp budget costs 1/16 (zoneinfo's pcp count is read before kpageflags and
#: moves with every allocation in between)
W_CONTENT = 1.0
W_FREE_CELL = 1.0
W_PCP_PAGE = 1.0 / 16
#: improvement swaps tried after the greedy fill, per zone
MAX_SWAPS = 64
#: in zones of more than LARGE_ZONE_UNITS pageblocks (64 GiB), the greedy fill moves in one
#: round every block whose move lowers the objective by at least STRONG_GAIN
LARGE_ZONE_UNITS = 1 << 15
STRONG_GAIN = 32.0
_NONMOVABLE = (MT_UNMOVABLE, MT_RECLAIMABLE, MT_HIGHATOMIC)
_PCP_TYPES = (MT_MOVABLE, MT_RECLAIMABLE, MT_CMA)


def _assign_types(feat: npt.NDArray[np.int64], blocks: list[int], counts: dict[int, int] | None,
                  free_cnt: npt.NDArray[np.int64], pairs: dict[int, int],
                  pti_free: npt.NDArray[np.int64] | None, pcp_count: int | None
                  ) -> tuple[dict[int, int], dict[int, str]]:
    """Pageblock type of every block of a zone, and how each was decided: 'content' (the
    block holds slab/page-table/kernel-compound pages and got a non-movable type, or movable
    pages and stayed movable), 'default' (left Movable with nothing in it to say so),
    'guessed' (given a non-movable type without such pages), 'forced' (the zone has one type).

    The types minimise ``W_CONTENT * (unmovable pages in movable-type blocks + movable
    pages in non-movable-type blocks) + W_FREE_CELL * sum |free blocks per (type, order) -
    pagetypeinfo| + W_PCP_PAGE * |zero-flag pages in pcp-feeding blocks - zoneinfo pcp
    count|`` under pagetypeinfo's per-type block counts: a greedy fill of the non-movable
    types from all-Movable (the boot state, ``memmap_init_range()``), then improving swaps.
    ``free_cnt[b]`` counts the free blocks per order headed in block ``b``; ``pairs`` maps
    the two blocks of a free order-10 block to each other (they share a type, as
    ``__free_one_page()`` makes them in 7.2).
    """
    how: dict[int, str] = {}
    u = feat[:, C_UNMOVABLE]
    mv = feat[:, C_MOVABLE]
    if counts is None:
        # no pagetypeinfo: unmovable kernel memory and no more movable pages -> Unmovable;
        # everything else stays Movable
        plain: dict[int, int] = {}
        for b in blocks:
            plain[b] = MT_UNMOVABLE if int(u[b]) > int(mv[b]) else MT_MOVABLE
            how[b] = "content" if (u[b] or mv[b]) else "default"
        return plain, how
    want = dict(counts)
    total_want = sum(want.values())
    if total_want != len(blocks):
        # pagetypeinfo counts online blocks; absorb a difference in Movable
        want[MT_MOVABLE] = max(0, want.get(MT_MOVABLE, 0) + len(blocks) - total_want)
    nonzero = [mt for mt, c in want.items() if c]
    if len(nonzero) <= 1:
        only = nonzero[0] if nonzero else MT_MOVABLE
        for b in blocks:
            how[b] = "forced"
        return {b: only for b in blocks}, how
    # units: a block, or the two blocks of a free order-10 block
    seen: set[int] = set()
    in_zone = set(blocks)
    units: list[list[int]] = []
    for b in blocks:
        if b in seen:
            continue
        mate = pairs.get(b)
        if mate is not None and mate in in_zone:
            unit = sorted((b, mate))
        else:
            unit = [b]
        seen.update(unit)
        units.append(unit)
    nu = len(units)
    slots = np.array([len(x) for x in units], dtype=np.int64)
    uu = np.array([sum(int(u[b]) for b in x) for x in units], dtype=np.float64)
    um = np.array([sum(int(mv[b]) for b in x) for x in units], dtype=np.float64)
    uz = np.array([sum(int(feat[b, C_ZERO]) for b in x) for x in units], dtype=np.float64)
    uf = np.array([free_cnt[x].sum(axis=0) for x in units], dtype=np.float64).reshape(nu, NR_PAGE_ORDERS)
    first_pfn = np.array([x[0] for x in units], dtype=np.int64)
    ntypes = len(MIGRATETYPE_NAMES)
    target = np.zeros((ntypes, NR_PAGE_ORDERS), dtype=np.float64)
    if pti_free is not None:
        target[:, :] = pti_free
    cnt = np.zeros_like(target)
    cnt[MT_MOVABLE] = uf.sum(axis=0)
    pcp_goal = float(pcp_count) if pcp_count is not None else None
    pcp_have = float(uz.sum())
    ut = np.full(nu, MT_MOVABLE, dtype=np.int64)
    left = {mt: want.get(mt, 0) for mt in range(ntypes) if mt != MT_MOVABLE}

    def content(t: int) -> npt.NDArray[np.float64]:
        r: npt.NDArray[np.float64] = (um if t in _NONMOVABLE else uu) * W_CONTENT
        return r

    def move_delta(src: int, dst: int, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Objective change of moving units ``idx`` from type src to dst (each alone)."""
        c = uf[idx]
        d: npt.NDArray[np.float64] = (np.abs(cnt[dst] - target[dst] + c)
                                      - np.abs(cnt[dst] - target[dst])).sum(axis=1)
        d += (np.abs(cnt[src] - target[src] - c) - np.abs(cnt[src] - target[src])).sum(axis=1)
        d *= W_FREE_CELL
        d += content(dst)[idx] - content(src)[idx]
        if pcp_goal is not None and ((src in _PCP_TYPES) != (dst in _PCP_TYPES)):
            sign = -1.0 if src in _PCP_TYPES else 1.0
            new = pcp_have + sign * uz[idx]
            d += W_PCP_PAGE * (np.abs(new - pcp_goal) - abs(pcp_have - pcp_goal))
        return d

    def apply(i: int, dst: int) -> None:
        nonlocal pcp_have
        src = int(ut[i])
        cnt[src] -= uf[i]
        cnt[dst] += uf[i]
        if (src in _PCP_TYPES) != (dst in _PCP_TYPES):
            pcp_have += -uz[i] if src in _PCP_TYPES else uz[i]
        ut[i] = dst

    # greedy fill, cheapest move first; ties go to the unit nearest a block of the type.
    # In a zone of more than LARGE_ZONE_UNITS units a round also takes every further unit
    # whose move gains at least STRONG_GAIN, so that thousands of slab-filled blocks take a
    # few rounds (the moves interact through the pcp and free-count terms: on the 48 real
    # snapshots taking them together costs 9 (7.2) and 18 (6.1) points of free-list
    # accuracy, hence only there).
    bulk = nu > LARGE_ZONE_UNITS
    while True:
        best: tuple[float, int, int, npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None
        pool = np.flatnonzero(ut == MT_MOVABLE)
        for t, n in left.items():
            if n <= 0 or not len(pool):
                continue
            idx = pool[slots[pool] <= n]
            if not len(idx):
                continue
            d = move_delta(MT_MOVABLE, t, idx)
            dist = _distance(first_pfn[idx], first_pfn[ut == t])
            order = np.lexsort((first_pfn[idx], dist, d))
            k = int(order[0])
            if best is None or (float(d[k]), int(dist[k])) < best[:2]:
                best = (float(d[k]), int(dist[k]), t, idx[order], d[order])
        if best is None:
            break
        _d, _dist, t, ranked, gains = best
        for j, i in enumerate(ranked.tolist()):
            if left[t] < slots[i] or (j and (not bulk or gains[j] > -STRONG_GAIN)):
                break
            apply(i, t)
            left[t] -= int(slots[i])
    # improving swaps between a non-movable unit and a movable one of the same size
    for _ in range(MAX_SWAPS):
        best_gain = -1e-9
        pick: tuple[int, int] | None = None
        for t in left:
            members = np.flatnonzero(ut == t)
            pool = np.flatnonzero(ut == MT_MOVABLE)
            if not len(members) or not len(pool):
                continue
            out_d = move_delta(t, MT_MOVABLE, members)
            in_d = move_delta(MT_MOVABLE, t, pool)
            # pair the worst member with the best outsider (an approximation of the joint
            # change; it is recomputed below before the swap is kept)
            for a in members[np.argsort(out_d)[:4]].tolist():
                for bb in pool[np.argsort(in_d)[:4]].tolist():
                    if slots[a] != slots[bb]:
                        continue
                    before = _objective(cnt, target, pcp_have, pcp_goal)
                    ca, cb = content(t)[a] + content(MT_MOVABLE)[bb], content(MT_MOVABLE)[a] + content(t)[bb]
                    apply(a, MT_MOVABLE)
                    apply(bb, t)
                    gain = _objective(cnt, target, pcp_have, pcp_goal) - before + cb - ca
                    apply(bb, MT_MOVABLE)
                    apply(a, t)
                    if gain < best_gain:
                        best_gain, pick = gain, (a, bb)
        if pick is None:
            break
        a, bb = pick
        t = int(ut[a])
        apply(a, MT_MOVABLE)
        apply(bb, t)
    types: dict[int, int] = {}
    for i, x in enumerate(units):
        t = int(ut[i])
        for b in x:
            types[b] = t
            if (t in _NONMOVABLE and u[b] > 0) or (t not in _NONMOVABLE and mv[b] > 0):
                how[b] = "content"
            else:
                how[b] = "default" if t == MT_MOVABLE else "guessed"
    # a count the units could not meet (only the two blocks of a free order-10 block were
    # left): take single Movable blocks, fewest movable pages and nearest the type first;
    # the buddy rule then splits that order-10 block (types differ, one is not mergeable)
    for t, n in left.items():
        if n <= 0:
            continue
        cands = np.array([b for b in blocks if types[b] == MT_MOVABLE], dtype=np.int64)
        if not len(cands):
            continue
        anchors = np.array([b for b in blocks if types[b] == t], dtype=np.int64)
        order = np.lexsort((cands, _distance(cands, anchors), mv[cands]))
        for b in cands[order[:n]].tolist():
            types[b] = t
            how[b] = "guessed"
    return types, how


def _objective(cnt: npt.NDArray[np.float64], target: npt.NDArray[np.float64], pcp_have: float,
               pcp_goal: float | None) -> float:
    v = W_FREE_CELL * float(np.abs(cnt - target).sum())
    if pcp_goal is not None:
        v += W_PCP_PAGE * abs(pcp_have - pcp_goal)
    return v


def _distance(pfns: npt.NDArray[np.int64], anchors: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Distance from each of ``pfns`` to the nearest anchor (all equal without anchors)."""
    if not len(anchors):
        return np.zeros(len(pfns), dtype=np.int64)
    a = np.sort(anchors)
    pos = np.searchsorted(a, pfns)
    lo = np.abs(pfns - a[np.clip(pos - 1, 0, len(a) - 1)])
    hi = np.abs(a[np.clip(pos, 0, len(a) - 1)] - pfns)
    out: npt.NDArray[np.int64] = np.minimum(lo, hi)
    return out


def infer_layout(flags: U64Array, zoneinfo: Sequence[ZoneinfoZone], *,
                 pagetypeinfo: Pagetypeinfo | None = None,
                 ram_ranges: Sequence[tuple[int, int]] | None = None,
                 kernel: str | None = None, source: str = "kpageflags") -> tuple[BuddyDump, InferenceReport]:
    """Reconstruct a dump-shaped state from kpageflags plus ``zoneinfo`` (zones, watermarks,
    pagesets) and, when given, ``pagetypeinfo`` (pageblocks per type).

    Returns the reconstruction as a :class:`BuddyDump` (free lists and pcp lists in ascending
    PFN order) and the :class:`InferenceReport`.
    """
    spans = _zone_spans(zoneinfo)
    if not spans:
        raise ValueError(f"{source}: zoneinfo has no populated zone with a start_pfn")
    if kernel is None:
        kernel = "7.2" if any(z.promo is not None for z, _a, _b in spans) else "6.1"
    n = len(flags)
    need = max(e for _z, _s, e in spans)
    if n < min(need, max(s for _z, s, _e in spans) + 1):
        raise KpageflagsFormatError(source, 8 * n, f"ends at pfn {n:#x}; the zones span up to {need:#x}")
    ram = ram_mask(flags, ram_ranges)
    cls = _classify(flags, ram)
    bud = _bit(flags, KPF_BUDDY)
    report = InferenceReport(source=source, kernel=kernel, have_pagetypeinfo=pagetypeinfo is not None)
    report.inconsistent_entries = int((bud & (flags != np.uint64(1 << KPF_BUDDY))).sum())
    zone_id = np.full(n, -1, dtype=np.int8)
    for i, (_z, s, e) in enumerate(spans):
        zone_id[s:min(e, n)] = i
    free = bud & ram & (zone_id >= 0)
    nblocks = (n + PAGEBLOCK_NR_PAGES - 1) // PAGEBLOCK_NR_PAGES
    feat = _block_features(cls, nblocks)
    pb_type = np.full(nblocks, MT_MOVABLE, dtype=np.int8)
    pb_how: dict[int, str] = {}
    zone_blocks: list[list[int]] = []
    infos: list[ZoneInference] = []
    # free blocks per order headed in each pageblock, before any type is known (types only
    # matter for non-mergeable ones, which are placed afterwards)
    free_cnt = np.zeros((nblocks, NR_PAGE_ORDERS), dtype=np.int64)
    pairs: dict[int, int] = {}
    for p, o in buddy_blocks(free, zone_id):
        free_cnt[p >> PAGEBLOCK_ORDER, o] += 1
        if o > PAGEBLOCK_ORDER:
            b = p >> PAGEBLOCK_ORDER
            pairs[b], pairs[b + 1] = b + 1, b
    for zz, s, e in spans:
        first, last = s >> PAGEBLOCK_ORDER, (min(e, n) - 1) >> PAGEBLOCK_ORDER
        blocks = [b for b in range(first, last + 1) if ram[max(b << PAGEBLOCK_ORDER, s):
                                                         min((b + 1) << PAGEBLOCK_ORDER, e)].any()]
        zi = ZoneInference(name=zz.name, pageblocks=len(blocks))
        counts: dict[int, int] | None = None
        if pagetypeinfo is not None:
            try:
                by_name = pagetypeinfo.blocks_for(zz.name, zz.node)
            except KeyError:
                by_name = None
            if by_name is not None:
                counts = {}
                for tname, c in by_name.items():
                    mt = _TYPE_BY_NAME.get(tname)
                    if mt is not None:
                        counts[mt] = counts.get(mt, 0) + c
                zi.pagetypeinfo_blocks = dict(counts)
        pti_free: npt.NDArray[np.int64] | None = None
        if pagetypeinfo is not None and counts is not None:
            pti_free = np.zeros((len(MIGRATETYPE_NAMES), NR_PAGE_ORDERS), dtype=np.int64)
            for mt, tname in enumerate(MIGRATETYPE_NAMES):
                try:
                    row = pagetypeinfo.free_row(zz.name, tname, zz.node).counts
                except KeyError:
                    continue
                pti_free[mt, :min(len(row), NR_PAGE_ORDERS)] = row[:NR_PAGE_ORDERS]
        pcp_count = sum(ps.count for ps in zz.pagesets) if zz.pagesets else None
        types, how = _assign_types(feat, blocks, counts, free_cnt, pairs, pti_free, pcp_count)
        for b, mt in types.items():
            pb_type[b] = mt
        pb_how.update(how)
        zi.pageblocks_by_type = {mt: sum(1 for b in blocks if types[b] == mt) for mt in sorted(set(types.values()))}
        zi.pageblocks_by_content = sum(1 for b in blocks if how[b] == "content")
        zi.pageblocks_guessed = sum(1 for b in blocks if how[b] == "guessed")
        zi.pageblocks_default = sum(1 for b in blocks if how[b] == "default")
        zi.pageblocks_forced = sum(1 for b in blocks if how[b] == "forced")
        zone_blocks.append(blocks)
        infos.append(zi)
    blocks_all = buddy_blocks(free, zone_id, pb_type)
    merge_guessed = {b for b, h in pb_how.items() if h == "guessed" and pb_type[b] not in _MERGEABLE}
    dzones: list[DumpZone] = []
    for i, (zz, s, e) in enumerate(spans):
        zi = infos[i]
        zfree = [(p, o) for p, o in blocks_all if s <= p < e]
        by_list: dict[tuple[int, int], list[int]] = {}
        for p, o in zfree:
            mt = int(pb_type[p >> PAGEBLOCK_ORDER])
            by_list.setdefault((o, mt), []).append(p)
            size = 1 << o
            h = pb_how.get(p >> PAGEBLOCK_ORDER, "guessed")
            if h == "forced":
                zi.pages_list_forced += size
            elif h == "content":
                zi.pages_list_from_content += size
            elif h == "default":
                zi.pages_list_default += size
            else:
                zi.pages_list_guessed += size
            # a merge at pageblock order or above was decided by the two pageblock types
            # (__free_one_page()); guessed non-mergeable types make it ambiguous
            span = set(range(p >> PAGEBLOCK_ORDER, (p + size) >> PAGEBLOCK_ORDER))
            if o == PAGEBLOCK_ORDER:
                span.add((p >> PAGEBLOCK_ORDER) ^ 1)
            if o >= PAGEBLOCK_ORDER and span & merge_guessed:
                zi.blocks_ambiguous += 1
            else:
                zi.blocks_exact += 1
        zi.free_blocks = len(zfree)
        zi.free_pages = sum(1 << o for _p, o in zfree)
        free_lines = [(o, mt, p) for (o, mt), pfns in sorted(by_list.items()) for p in pfns]
        if pagetypeinfo is not None:
            err = 0
            for mt, tname in enumerate(MIGRATETYPE_NAMES):
                try:
                    row = pagetypeinfo.free_row(zz.name, tname, zz.node).counts
                except KeyError:
                    continue
                for o in range(NR_PAGE_ORDERS):
                    want = row[o] if o < len(row) else 0
                    err += abs(len(by_list.get((o, mt), [])) - want)
            zi.pagetypeinfo_cell_error = err
        # pcp: zero-flag RAM pages of this zone in Movable/Reclaimable blocks
        limit = None
        if zz.pagesets:
            limit = 2 * sum(ps.count + ps.batch for ps in zz.pagesets)
        pcp_lists, zi.zero_pages_left_in_use = _guess_pcp(cls, pb_type, zone_blocks[i], s, min(e, n),
                                                          feat, limit)
        zi.pcp_pages_guessed = sum(1 << _pindex_order(pi) for pi, _p in pcp_lists)
        ps0 = zz.pagesets[0] if zz.pagesets else None
        zi.pcp_pages_zoneinfo = sum(ps.count for ps in zz.pagesets) if zz.pagesets else None
        pcps = []
        if ps0 is not None:
            pcps.append(DumpPcp(cpu=0, count=zi.pcp_pages_guessed, high=ps0.high, batch=ps0.batch,
                                free_factor=-1 if kernel != "6.1" else 0,
                                high_min=ps0.high_min, high_max=ps0.high_max,
                                alloc_factor=None, free_count=None, flags=None, expire=None,
                                lists=pcp_lists))
            for ps in zz.pagesets[1:]:
                pcps.append(DumpPcp(cpu=ps.cpu, count=0, high=ps.high, batch=ps.batch,
                                    free_factor=-1 if kernel != "6.1" else 0,
                                    high_min=ps.high_min, high_max=ps.high_max, alloc_factor=None,
                                    free_count=None, flags=None, expire=None, lists=[]))
        dzones.append(DumpZone(
            node=zz.node, name=zz.name, start_pfn=s, end_pfn=e, present=zz.present, managed=zz.managed,
            nr_free=zi.free_pages, wmark_min=zz.min, wmark_low=zz.low, wmark_high=zz.high, boost=zz.boost,
            reserved_highatomic=zz.reserved_highatomic or 0,
            nr_free_highatomic=None, nr_free_blocks=None, nr_free_cma=None, cma_pages=zz.cma,
            nr_free_snapshot=None,
            blocks=[(b << PAGEBLOCK_ORDER, int(pb_type[b]), 0, 0) for b in zone_blocks[i]],
            free=free_lines, pcp=pcps))
    header = {"id": "0", "pageblock_order": str(PAGEBLOCK_ORDER), "max_order": str(NR_PAGE_ORDERS),
              "nr_pcp_lists": str(NR_LOWORDER_PCP_LISTS + 2), "source": "kpageflags"}
    if kernel != "6.1":
        header.update({"kernel": "7.x", "max_page_order": str(MAX_PAGE_ORDER),
                       "nr_loworder_pcp_lists": str(NR_LOWORDER_PCP_LISTS),
                       "hpage_pmd_order": str(HPAGE_PMD_ORDER)})
    dump = BuddyDump(path=source, id=0, kernel=kernel, header=header, pageblock_order=PAGEBLOCK_ORDER,
                     nr_orders=NR_PAGE_ORDERS, zones=dzones)
    report.zones = infos
    return dump, report


def _pindex_order(pindex: int) -> int:
    return pindex // 3 if pindex < NR_LOWORDER_PCP_LISTS else HPAGE_PMD_ORDER


def _guess_pcp(cls: npt.NDArray[np.uint8], pb_type: npt.NDArray[np.int8], blocks: list[int],
               start: int, end: int, feat: npt.NDArray[np.int64], limit: int | None
               ) -> tuple[list[tuple[int, int]], int]:
    """``(pindex, pfn)`` of the guessed pcp blocks of one zone (each list ascending), and
    the zero-flag candidates left in use because of ``limit``.

    Candidates are the zero-flag pages of Movable, Reclaimable and CMA blocks
    (``free_frozen_pages()`` puts CMA pages on the MOVABLE list).  When they are more than
    ``limit`` (twice zoneinfo's pcp count plus two batches: other zero-flag pages exist, such
    as struct pages not yet initialised by deferred init), blocks still holding free pages
    go first: a pcp refill (``rmqueue_bulk()``) splits free blocks, so its pages sit beside
    the remaining free ones.
    """
    units: list[tuple[int, int, list[int]]] = []      # (block, pindex, pfns)
    for b in blocks:
        mt = int(pb_type[b])
        if mt in (MT_UNMOVABLE, MT_HIGHATOMIC, MT_ISOLATE):
            continue
        list_mt = MT_RECLAIMABLE if mt == MT_RECLAIMABLE else MT_MOVABLE
        a, e = max(b << PAGEBLOCK_ORDER, start), min((b + 1) << PAGEBLOCK_ORDER, end)
        zero = cls[a:e] == C_ZERO
        if not zero.any():
            continue
        if a == b << PAGEBLOCK_ORDER and e - a == PAGEBLOCK_NR_PAGES and zero.all():
            units.append((b, NR_LOWORDER_PCP_LISTS + (1 if list_mt == MT_MOVABLE else 0), [a]))
        else:
            units.append((b, list_mt, [a + off for off in np.flatnonzero(zero).tolist()]))
    total = sum(len(p) << (_pindex_order(pi) if pi >= NR_LOWORDER_PCP_LISTS else 0) for _b, pi, p in units)
    left = 0
    if limit is not None and total > limit:
        units.sort(key=lambda u: (-int(feat[u[0], C_FREE]), u[0]))
        kept: list[tuple[int, int, list[int]]] = []
        room = limit
        for u in units:
            size = len(u[2]) << (_pindex_order(u[1]) if u[1] >= NR_LOWORDER_PCP_LISTS else 0)
            if size <= room:
                kept.append(u)
                room -= size
            elif u[1] < NR_LOWORDER_PCP_LISTS and room > 0:
                kept.append((u[0], u[1], u[2][:room]))
                room = 0
        left = total - (limit - room)
        units = sorted(kept)
    lists: dict[int, list[int]] = {}
    for _b, pi, pfns in units:
        lists.setdefault(pi, []).extend(pfns)
    return [(pi, p) for pi in sorted(lists) for p in sorted(lists[pi])], left


# --------------------------------------------------------------------------- measurement
@dataclass(slots=True)
class ReconstructionAccuracy:
    """A reconstruction against an exact dump of (nearly) the same instant."""

    dump_blocks: int = 0
    inferred_blocks: int = 0
    #: dump free blocks found with the same (pfn, order)
    blocks_exact: int = 0
    #: of those, on the same free list
    blocks_right_list: int = 0
    #: pages free in both, and pages whose free list agrees
    pages_free_both: int = 0
    pages_right_list: int = 0
    pageblocks: int = 0
    pageblocks_right_type: int = 0
    #: guessed pcp pages that are on a pcp list in the dump; pcp pages in the dump
    pcp_guessed: int = 0
    pcp_guessed_right: int = 0
    pcp_dump: int = 0
    #: per-zone per-order block counts equal (buddyinfo)
    buddyinfo_equal: bool = False

    @property
    def exact_fraction(self) -> float:
        return self.blocks_exact / self.dump_blocks if self.dump_blocks else 1.0

    @property
    def right_list_fraction(self) -> float:
        return self.blocks_right_list / self.blocks_exact if self.blocks_exact else 1.0

    @property
    def pageblock_type_fraction(self) -> float:
        return self.pageblocks_right_type / self.pageblocks if self.pageblocks else 1.0


def _buddyinfo_counts(d: BuddyDump) -> dict[str, list[int]]:
    out = {}
    for z in d.zones:
        c = [0] * NR_PAGE_ORDERS
        for o, _mt, _p in z.free:
            c[o] += 1
        out[z.name] = c
    return out


def compare_with_dump(inferred: BuddyDump, exact: BuddyDump) -> ReconstructionAccuracy:
    """Measure ``inferred`` (from :func:`infer_layout`) against the exact dump ``exact``."""
    acc = ReconstructionAccuracy()
    ex = {z.name: z for z in exact.zones}
    for iz in inferred.zones:
        ez = ex.get(iz.name)
        if ez is None:
            continue
        dump_free = {(p, o): mt for o, mt, p in ez.free}
        inf_free = {(p, o): mt for o, mt, p in iz.free}
        acc.dump_blocks += len(dump_free)
        acc.inferred_blocks += len(inf_free)
        for key, mt in dump_free.items():
            got = inf_free.get(key)
            if got is not None:
                acc.blocks_exact += 1
                if got == mt:
                    acc.blocks_right_list += 1
        # page level list agreement
        hi = max([iz.end_pfn, ez.end_pfn])
        dmt = np.full(hi, -1, dtype=np.int8)
        imt = np.full(hi, -1, dtype=np.int8)
        for (p, o), mt in dump_free.items():
            dmt[p:p + (1 << o)] = mt
        for (p, o), mt in inf_free.items():
            imt[p:p + (1 << o)] = mt
        both = (dmt >= 0) & (imt >= 0)
        acc.pages_free_both += int(both.sum())
        acc.pages_right_list += int((both & (dmt == imt)).sum())
        etypes = {p >> PAGEBLOCK_ORDER: (MT_ISOLATE if iso else mt) for p, mt, iso, _s in ez.blocks}
        for p, mt, _iso, _s in iz.blocks:
            b = p >> PAGEBLOCK_ORDER
            if b in etypes:
                acc.pageblocks += 1
                acc.pageblocks_right_type += etypes[b] == mt
        dpcp = np.zeros(hi, dtype=bool)
        for pc in ez.pcp:
            for pi, p in pc.lists:
                dpcp[p:p + (1 << exact.pcp_order_mt(pi)[0])] = True
        acc.pcp_dump += int(dpcp.sum())
        ipcp = np.zeros(hi, dtype=bool)
        for pc in iz.pcp:
            for pi, p in pc.lists:
                ipcp[p:p + (1 << _pindex_order(pi))] = True
        acc.pcp_guessed += int(ipcp.sum())
        acc.pcp_guessed_right += int((ipcp & dpcp).sum())
    acc.buddyinfo_equal = _buddyinfo_counts(inferred) == {k: v for k, v in _buddyinfo_counts(exact).items()
                                                          if k in {z.name for z in inferred.zones}}
    return acc
