"""Named kernel behaviours: which version's rules a machine follows.

A :class:`Profile` is data read at the point of decision (``DESIGN.md``: "policies are
data").  ``linux-7.2`` is upstream Linux 7.2 (Debian 7.2.13); ``linux-6.1`` is the second
profile for the real 6.1 traces.  The ``__GFP_UNMAPPED`` profiles are added on top of
``linux-7.2`` by the series model.  Each field names the kernel code it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pagealloc.mm.gfp import GFP_TABLE_6_1, GFP_TABLE_7_2, GfpTable
from pagealloc.mm.mmzone import HPAGE_PMD_ORDER, NR_LOWORDER_PCP_LISTS, PAGE_ALLOC_COSTLY_ORDER


class ProfileError(ValueError):
    """Unknown profile name or knob."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One kernel's allocator rules.

    * ``kernel``: "7.2" or "6.1" (selects output formats too).
    * ``gfp_table``: ``show_gfp_flags()`` table (include/trace/events/mmflags.h).
    * ``has_cma``: CONFIG_CMA, hence a CMA migratetype, free list and pagetypeinfo row
      (Debian 7.2: yes; Debian 6.1: no).
    * ``isolate_bit``: MIGRATE_ISOLATE is a separate pageblock bit (v6.17+, Zi Yan) rather
      than a value of the migratetype bits.
    * ``nr_pcp_lists``: NR_PCP_LISTS, the wrap point of ``free_pcppages_bulk()``.
    """

    name: str
    kernel: str
    gfp_table: GfpTable
    has_cma: bool
    isolate_bit: bool
    nr_pcp_lists: int = NR_LOWORDER_PCP_LISTS + 2

    def order_to_pindex(self, ft: int, order: int) -> int:
        """``order_to_pindex()`` with THP: 3*order+mt, PMD order on lists 12 (U/R) and 13 (M)."""
        if order > PAGE_ALLOC_COSTLY_ORDER:
            return NR_LOWORDER_PCP_LISTS + (1 if (ft & 7) == 1 else 0)
        return 3 * order + (ft & 7)

    def pindex_to_order(self, pindex: int) -> int:
        """``pindex_to_order()``."""
        if pindex >= NR_LOWORDER_PCP_LISTS:
            return HPAGE_PMD_ORDER
        return pindex // 3


LINUX_7_2 = Profile(name="linux-7.2", kernel="7.2", gfp_table=GFP_TABLE_7_2, has_cma=True,
                    isolate_bit=True)
LINUX_6_1 = Profile(name="linux-6.1", kernel="6.1", gfp_table=GFP_TABLE_6_1, has_cma=False,
                    isolate_bit=False)

PROFILES: dict[str, Profile] = {p.name: p for p in (LINUX_7_2, LINUX_6_1)}


def get_profile(name: str) -> Profile:
    """Look up a profile by name; raise :class:`ProfileError` listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None


def with_changes(profile: Profile, **changes: object) -> Profile:
    """A copy of ``profile`` with some fields replaced (variant knobs)."""
    return replace(profile, **changes)  # type: ignore[arg-type]
