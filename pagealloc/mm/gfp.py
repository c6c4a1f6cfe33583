"""GFP flags, their trace names, and the allocation-context flags derived from them.

Models ``include/linux/gfp_types.h``, ``include/linux/gfp.h`` (``gfp_migratetype``,
``gfp_zone``), ``include/trace/events/mmflags.h`` (``show_gfp_flags``), the
``ALLOC_*`` flags of ``mm/internal.h`` and the helpers of ``mm/page_alloc.c`` that
turn a GFP mask into allocation flags (``alloc_flags_nofragment``,
``gfp_to_alloc_flags``, ``gfp_to_alloc_flags_cma``), all as of Linux 7.2.  Linux 6.1
differs in bit 9 (``__GFP_ATOMIC``) and in the print table; both tables are kept
here and a profile picks one (:data:`GFP_TABLE_7_2`, :data:`GFP_TABLE_6_1`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pagealloc.mm.freetype import (
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
)

# --- bits (gfp_types.h, Linux 7.2, x86-64 Debian config: no KASAN_HW_TAGS, no LOCKDEP,
#     SLAB_OBJ_EXT on, hence __GFP_NO_OBJ_EXT is bit 24) ---------------------------
__GFP_DMA = 0x1
__GFP_HIGHMEM = 0x2
__GFP_DMA32 = 0x4
__GFP_MOVABLE = 0x8
__GFP_RECLAIMABLE = 0x10
__GFP_HIGH = 0x20
__GFP_IO = 0x40
__GFP_FS = 0x80
__GFP_ZERO = 0x100
__GFP_ATOMIC_6_1 = 0x200  # bit 9: __GFP_ATOMIC up to 6.2 (removed in v6.3), unused in 7.2
__GFP_DIRECT_RECLAIM = 0x400
__GFP_KSWAPD_RECLAIM = 0x800
__GFP_WRITE = 0x1000
__GFP_NOWARN = 0x2000
__GFP_RETRY_MAYFAIL = 0x4000
__GFP_NOFAIL = 0x8000
__GFP_NORETRY = 0x10000
__GFP_MEMALLOC = 0x20000
__GFP_COMP = 0x40000
__GFP_NOMEMALLOC = 0x80000
__GFP_HARDWALL = 0x100000
__GFP_THISNODE = 0x200000
__GFP_ACCOUNT = 0x400000
__GFP_ZEROTAGS = 0x800000
__GFP_NO_OBJ_EXT = 0x1000000
#: The series' v2 bit (``__GFP_UNMAPPED``, shared/spec/series.md 2.5).  Its position follows
#: ``___GFP_NO_OBJ_EXT_BIT`` in the GFP enum; on the Debian config that is bit 25 [I: the exact
#: v2 enum position was not in the stored sources].
__GFP_UNMAPPED = 0x2000000
__GFP_SKIP_ZERO = 0  # only with CONFIG_KASAN_HW_TAGS
__GFP_SKIP_KASAN = 0

__GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM
GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE
GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE
GFP_MOVABLE_SHIFT = 3

GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS
GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT
GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | __GFP_IO
GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL
GFP_DMA = __GFP_DMA
GFP_DMA32 = __GFP_DMA32
GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE | __GFP_SKIP_KASAN
GFP_TRANSHUGE_LIGHT = (
    GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN
) & ~__GFP_RECLAIM
GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM

# 6.1 composites that differ (gfp.h, Linux 6.1): GFP_ATOMIC has __GFP_ATOMIC, GFP_NOWAIT has no NOWARN.
GFP_ATOMIC_6_1 = __GFP_HIGH | __GFP_ATOMIC_6_1 | __GFP_KSWAPD_RECLAIM
GFP_NOWAIT_6_1 = __GFP_KSWAPD_RECLAIM


@dataclass(frozen=True, slots=True)
class GfpTable:
    """The ``__print_flags`` table of ``show_gfp_flags()`` for one kernel version.

    ``entries`` is in table order: the first entry whose mask is wholly contained in the
    remaining flags is printed and its bits cleared (``trace_print_flags_seq()`` in
    ``kernel/trace/trace_output.c``).  ``names`` maps every accepted name (the table's and
    the usual composite names) to its value for parsing.
    """

    version: str
    entries: tuple[tuple[int, str], ...]
    names: dict[str, int]


def _table(version: str, entries: list[tuple[int, str]], extra: dict[str, int]) -> GfpTable:
    names = {name: value for value, name in entries}
    for k, v in extra.items():
        names.setdefault(k, v)
    return GfpTable(version, tuple(entries), names)


_COMMON_EXTRA = {
    "__GFP_RECLAIM": __GFP_RECLAIM,
    "__GFP_DMA": __GFP_DMA,
    "__GFP_DMA32": __GFP_DMA32,
    "__GFP_MOVABLE": __GFP_MOVABLE,
    "__GFP_RECLAIMABLE": __GFP_RECLAIMABLE,
    "__GFP_ZERO": __GFP_ZERO,
    "__GFP_DIRECT_RECLAIM": __GFP_DIRECT_RECLAIM,
    "__GFP_KSWAPD_RECLAIM": __GFP_KSWAPD_RECLAIM,
    "GFP_HIGHUSER": GFP_HIGHUSER,
    "GFP_NOIO": GFP_NOIO,
}

#: include/trace/events/mmflags.h ``__def_gfpflag_names`` of Linux 7.2 (as in the real
#: 7.2 traces' event format): composites first, then the bits in bit order.
GFP_TABLE_7_2 = _table(
    "7.2",
    [
        (GFP_TRANSHUGE, "GFP_TRANSHUGE"),
        (GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
        (GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
        (GFP_HIGHUSER, "GFP_HIGHUSER"),
        (GFP_USER, "GFP_USER"),
        (GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
        (GFP_KERNEL, "GFP_KERNEL"),
        (GFP_NOFS, "GFP_NOFS"),
        (GFP_ATOMIC, "GFP_ATOMIC"),
        (GFP_NOIO, "GFP_NOIO"),
        (GFP_NOWAIT, "GFP_NOWAIT"),
        (GFP_DMA, "GFP_DMA"),
        (GFP_DMA32, "GFP_DMA32"),
        (__GFP_RECLAIM, "__GFP_RECLAIM"),
        (__GFP_DMA, "__GFP_DMA"),
        (__GFP_HIGHMEM, "__GFP_HIGHMEM"),
        (__GFP_DMA32, "__GFP_DMA32"),
        (__GFP_MOVABLE, "__GFP_MOVABLE"),
        (__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"),
        (__GFP_HIGH, "__GFP_HIGH"),
        (__GFP_IO, "__GFP_IO"),
        (__GFP_FS, "__GFP_FS"),
        (__GFP_ZERO, "__GFP_ZERO"),
        (__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
        (__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
        (__GFP_WRITE, "__GFP_WRITE"),
        (__GFP_NOWARN, "__GFP_NOWARN"),
        (__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
        (__GFP_NOFAIL, "__GFP_NOFAIL"),
        (__GFP_NORETRY, "__GFP_NORETRY"),
        (__GFP_MEMALLOC, "__GFP_MEMALLOC"),
        (__GFP_COMP, "__GFP_COMP"),
        (__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"),
        (__GFP_HARDWALL, "__GFP_HARDWALL"),
        (__GFP_THISNODE, "__GFP_THISNODE"),
        (__GFP_ACCOUNT, "__GFP_ACCOUNT"),
        (__GFP_ZEROTAGS, "__GFP_ZEROTAGS"),
        (__GFP_NO_OBJ_EXT, "__GFP_NO_OBJ_EXT"),
    ],
    _COMMON_EXTRA,
)

#: include/trace/events/mmflags.h of Linux 6.1 (as in the real 6.1 traces' event format).
GFP_TABLE_6_1 = _table(
    "6.1",
    [
        (GFP_TRANSHUGE, "GFP_TRANSHUGE"),
        (GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
        (GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
        (GFP_HIGHUSER, "GFP_HIGHUSER"),
        (GFP_USER, "GFP_USER"),
        (GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
        (GFP_KERNEL, "GFP_KERNEL"),
        (GFP_NOFS, "GFP_NOFS"),
        (GFP_ATOMIC_6_1, "GFP_ATOMIC"),
        (GFP_NOIO, "GFP_NOIO"),
        (GFP_NOWAIT_6_1, "GFP_NOWAIT"),
        (GFP_DMA, "GFP_DMA"),
        (__GFP_HIGHMEM, "__GFP_HIGHMEM"),
        (GFP_DMA32, "GFP_DMA32"),
        (__GFP_HIGH, "__GFP_HIGH"),
        (__GFP_ATOMIC_6_1, "__GFP_ATOMIC"),
        (__GFP_IO, "__GFP_IO"),
        (__GFP_FS, "__GFP_FS"),
        (__GFP_NOWARN, "__GFP_NOWARN"),
        (__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
        (__GFP_NOFAIL, "__GFP_NOFAIL"),
        (__GFP_NORETRY, "__GFP_NORETRY"),
        (__GFP_COMP, "__GFP_COMP"),
        (__GFP_ZERO, "__GFP_ZERO"),
        (__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"),
        (__GFP_MEMALLOC, "__GFP_MEMALLOC"),
        (__GFP_HARDWALL, "__GFP_HARDWALL"),
        (__GFP_THISNODE, "__GFP_THISNODE"),
        (__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"),
        (__GFP_MOVABLE, "__GFP_MOVABLE"),
        (__GFP_ACCOUNT, "__GFP_ACCOUNT"),
        (__GFP_WRITE, "__GFP_WRITE"),
        (__GFP_RECLAIM, "__GFP_RECLAIM"),
        (__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
        (__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
        (__GFP_ZEROTAGS, "__GFP_ZEROTAGS"),
    ],
    _COMMON_EXTRA,
)

#: 7.2 plus the series' ``__GFP_UNMAPPED`` (RFC 10/19 adds it to mmflags.h).
GFP_TABLE_UNMAPPED_V2 = _table("7.2+unmapped-v2",
                               list(GFP_TABLE_7_2.entries) + [(__GFP_UNMAPPED, "__GFP_UNMAPPED")],
                               _COMMON_EXTRA)

GFP_TABLES = {"7.2": GFP_TABLE_7_2, "6.1": GFP_TABLE_6_1}


class GfpParseError(ValueError):
    """A GFP flag string names an unknown flag or is malformed."""


def show_gfp_flags(gfp: int, table: GfpTable = GFP_TABLE_7_2) -> str:
    """Render ``gfp`` as ``show_gfp_flags()`` prints it in a tracepoint line.

    Mirrors ``trace_print_flags_seq()`` (kernel/trace/trace_output.c): table order,
    whole-mask matches only, leftover bits as ``0x%lx``, and ``none`` for zero.
    """
    if gfp == 0:
        return "none"
    parts: list[str] = []
    rest = gfp
    for mask, name in table.entries:
        if mask and (rest & mask) == mask:
            parts.append(name)
            rest &= ~mask
            if not rest:
                break
    if rest:
        parts.append(f"0x{rest:x}")
    return "|".join(parts)


def parse_gfp(text: str, table: GfpTable = GFP_TABLE_7_2) -> int:
    """Parse a kernel GFP string such as ``GFP_KERNEL|__GFP_ZERO``, ``0xcc0`` or ``none``.

    The inverse of :func:`show_gfp_flags`; numbers may be hexadecimal (``0x``) or
    decimal.  Raises :class:`GfpParseError` naming the unknown part.
    """
    s = text.strip()
    if not s:
        raise GfpParseError("empty GFP flag string")
    if s == "none":
        return 0
    value = 0
    for part in s.split("|"):
        p = part.strip()
        if not p:
            raise GfpParseError(f"empty flag in {text!r}")
        v = table.names.get(p)
        if v is None:
            try:
                v = int(p, 0)
            except ValueError:
                raise GfpParseError(
                    f"unknown GFP flag {p!r} in {text!r} (kernel {table.version})"
                ) from None
            if v < 0:
                raise GfpParseError(f"negative GFP value {p!r} in {text!r}")
        value |= v
    return value


# --- gfp.h helpers ------------------------------------------------------------------

ZONE_DMA = 0
ZONE_DMA32 = 1
ZONE_NORMAL = 2
ZONE_MOVABLE = 3
ZONE_DEVICE = 4
MAX_NR_ZONES = 5  # Debian configs have CONFIG_ZONE_DEVICE: 5 protection columns
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")

# GFP_ZONE_TABLE (include/linux/gfp.h): the zone for each DMA/HIGHMEM/DMA32/MOVABLE
# combination on x86-64 (no ZONE_HIGHMEM: HIGHMEM means NORMAL); -1 marks GFP_ZONE_BAD.
_GFP_ZONE_TABLE = (
    ZONE_NORMAL,   # 0x0
    ZONE_DMA,      # 0x1 DMA
    ZONE_NORMAL,   # 0x2 HIGHMEM
    -1,            # 0x3 DMA|HIGHMEM
    ZONE_DMA32,    # 0x4 DMA32
    -1,            # 0x5
    -1,            # 0x6
    -1,            # 0x7
    ZONE_NORMAL,   # 0x8 MOVABLE
    ZONE_DMA,      # 0x9 MOVABLE|DMA
    ZONE_MOVABLE,  # 0xa MOVABLE|HIGHMEM
    -1,            # 0xb
    ZONE_DMA32,    # 0xc MOVABLE|DMA32
    -1,
    -1,
    -1,
)


def gfp_zone(gfp: int) -> int:
    """Return the highest zone index a request may use (``gfp_zone()``, gfp.h)."""
    z = _GFP_ZONE_TABLE[gfp & GFP_ZONEMASK]
    if z < 0:
        raise GfpParseError(f"invalid zone modifier combination in GFP 0x{gfp:x} (GFP_ZONE_BAD)")
    return z


def gfp_migratetype(gfp: int) -> int:
    """Return the migratetype of a request (``gfp_migratetype()``, gfp.h, Linux 7.2).

    MOVABLE and RECLAIMABLE together is a caller bug (``VM_WARN_ON``); the kernel would
    compute 3 (HIGHATOMIC); the model rejects it.
    """
    bits = gfp & GFP_MOVABLE_MASK
    if bits == GFP_MOVABLE_MASK:
        raise GfpParseError(f"GFP 0x{gfp:x} has both __GFP_MOVABLE and __GFP_RECLAIMABLE")
    if bits == __GFP_MOVABLE:
        return MIGRATE_MOVABLE
    if bits == __GFP_RECLAIMABLE:
        return MIGRATE_RECLAIMABLE
    return MIGRATE_UNMOVABLE


# --- ALLOC_* flags (mm/internal.h, Linux 7.2) ------------------------------------------
WMARK_MIN = 0
WMARK_LOW = 1
WMARK_HIGH = 2
WMARK_PROMO = 3
ALLOC_WMARK_MIN = WMARK_MIN
ALLOC_WMARK_LOW = WMARK_LOW
ALLOC_WMARK_HIGH = WMARK_HIGH
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_OOM = 0x08
ALLOC_NON_BLOCK = 0x10
ALLOC_MIN_RESERVE = 0x20  # == __GFP_HIGH (BUILD_BUG_ON in the kernel)
ALLOC_CPUSET = 0x40
ALLOC_CMA = 0x80
ALLOC_NOFRAGMENT = 0x100  # CONFIG_ZONE_DMA32=y
ALLOC_HIGHATOMIC = 0x200
ALLOC_TRYLOCK = 0x400
ALLOC_KSWAPD = 0x800  # == __GFP_KSWAPD_RECLAIM
ALLOC_NOBLOCK = 0x1000    # series (v2 patch "introduce ALLOC_NOBLOCK"): caller cannot block, no flip
ALLOC_UNMAPPED = 0x2000   # series v4 patch 16: allocate pages absent from the direct map
ALLOC_RESERVES = ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM

ALLOC_FLAG_NAMES = (
    (ALLOC_NO_WATERMARKS, "ALLOC_NO_WATERMARKS"),
    (ALLOC_OOM, "ALLOC_OOM"),
    (ALLOC_NON_BLOCK, "ALLOC_NON_BLOCK"),
    (ALLOC_MIN_RESERVE, "ALLOC_MIN_RESERVE"),
    (ALLOC_CPUSET, "ALLOC_CPUSET"),
    (ALLOC_CMA, "ALLOC_CMA"),
    (ALLOC_NOFRAGMENT, "ALLOC_NOFRAGMENT"),
    (ALLOC_HIGHATOMIC, "ALLOC_HIGHATOMIC"),
    (ALLOC_TRYLOCK, "ALLOC_TRYLOCK"),
    (ALLOC_KSWAPD, "ALLOC_KSWAPD"),
    (ALLOC_NOBLOCK, "ALLOC_NOBLOCK"),
    (ALLOC_UNMAPPED, "ALLOC_UNMAPPED"),
)


def show_alloc_flags(flags: int) -> str:
    """Name the ``ALLOC_*`` bits of ``flags`` (watermark index first), for explanations."""
    wm = ("ALLOC_WMARK_MIN", "ALLOC_WMARK_LOW", "ALLOC_WMARK_HIGH", "?")[flags & ALLOC_WMARK_MASK]
    return "|".join([wm] + [name for bit, name in ALLOC_FLAG_NAMES if flags & bit])


def gfp_to_alloc_flags(gfp: int, order: int, has_cma: bool, defrag_mode: bool) -> int:
    """Return the slow-path allocation flags (``gfp_to_alloc_flags()``, page_alloc.c, 7.2).

    The model has no real-time tasks, so the ``rt_or_dl_task()`` branch never applies.
    """
    alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET
    alloc_flags |= gfp & (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
    if not (gfp & __GFP_DIRECT_RECLAIM):
        if not (gfp & __GFP_NOMEMALLOC):
            alloc_flags |= ALLOC_NON_BLOCK
            if order > 0 and (alloc_flags & ALLOC_MIN_RESERVE):
                alloc_flags |= ALLOC_HIGHATOMIC
        if alloc_flags & ALLOC_MIN_RESERVE:
            alloc_flags &= ~ALLOC_CPUSET
    if defrag_mode:
        alloc_flags |= ALLOC_NOFRAGMENT
    return gfp_to_alloc_flags_cma(gfp, alloc_flags, has_cma)


def gfp_to_alloc_flags_cma(gfp: int, alloc_flags: int, has_cma: bool) -> int:
    """Add ``ALLOC_CMA`` for movable requests (``gfp_to_alloc_flags_cma()``, CONFIG_CMA)."""
    if has_cma and (gfp & GFP_MOVABLE_MASK) == __GFP_MOVABLE:
        alloc_flags |= ALLOC_CMA
    return alloc_flags
