"""Migratetypes, freetypes and the fallback table.

Models ``include/linux/mmzone.h`` (``enum migratetype``, ``is_migrate_movable``,
``migratetype_is_mergeable``, ``migratetype_names``), the ``fallbacks[]`` table of
``mm/page_alloc.c`` (Linux 7.2), and the freetype of the ``__GFP_UNMAPPED`` series
(``include/linux/freetype.h`` of the series, see shared/spec/series.md 2.1-2.2).

A freetype is encoded as a small int: ``migratetype | flags << FREETYPE_FLAGS_SHIFT``.
Upstream kernels never set a flag, so there ``freetype == migratetype`` and every list
index equals the migratetype; the series adds ``FREETYPE_UNMAPPED`` whose only valid
combination (UNMOVABLE) gets the extra list index ``MIGRATE_TYPES``.

Numbering is the Linux 7.2 one everywhere in the model (CMA is 4, Isolate is 5).  Linux
6.1 without CMA numbers Isolate 4 in its traces and dumps; readers translate at the
boundary.
"""

from __future__ import annotations

MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_PCPTYPES = 3
MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES
MIGRATE_CMA = 4
MIGRATE_ISOLATE = 5
MIGRATE_TYPES = 6

MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")
#: Letters of ``show_migration_types()`` (mm/show_mem.c).
MIGRATETYPE_LETTERS = ("U", "M", "E", "H", "C", "I")

#: ``fallbacks[MIGRATE_PCPTYPES][MIGRATE_PCPTYPES - 1]`` (mm/page_alloc.c, Linux 7.2).
FALLBACKS: tuple[tuple[int, int], ...] = (
    (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),    # UNMOVABLE
    (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),  # MOVABLE
    (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE),      # RECLAIMABLE
)

# --- freetypes (series: include/linux/freetype.h) -----------------------------------
FREETYPE_FLAGS_SHIFT = 3
FREETYPE_UNMAPPED = 1
#: Number of free-list indices: the six migratetypes plus UNMOVABLE|UNMAPPED.
NR_FREETYPE_IDXS = MIGRATE_TYPES + 1
FREETYPE_UNMAPPED_IDX = MIGRATE_TYPES


def is_migrate_movable(mt: int) -> bool:
    """``is_migrate_movable()``: MOVABLE or CMA."""
    return mt == MIGRATE_MOVABLE or mt == MIGRATE_CMA


def migratetype_is_mergeable(mt: int) -> bool:
    """``migratetype_is_mergeable()``: only the pcp types may merge across pageblocks."""
    return mt < MIGRATE_PCPTYPES


def migrate_to_freetype(mt: int, flags: int = 0) -> int:
    """``migrate_to_freetype()``: pack a migratetype and freetype flags."""
    return mt | (flags << FREETYPE_FLAGS_SHIFT)


def free_to_migratetype(ft: int) -> int:
    """``free_to_migratetype()``: the migratetype part of a freetype."""
    return ft & 7


def freetype_flags(ft: int) -> int:
    """``freetype_flags()``: the flag part of a freetype."""
    return ft >> FREETYPE_FLAGS_SHIFT


def freetype_idx(ft: int) -> int:
    """``freetype_idx()``: the free-list index of a freetype, or -1 if it has no list.

    Only UNMOVABLE|UNMAPPED exists among the flagged freetypes (series.md 2.2).
    """
    flags = ft >> FREETYPE_FLAGS_SHIFT
    if not flags:
        return ft
    if flags == FREETYPE_UNMAPPED and (ft & 7) == MIGRATE_UNMOVABLE:
        return FREETYPE_UNMAPPED_IDX
    return -1
