"""Named kernel behaviours: which version's rules a machine follows.

A :class:`Profile` is data read at the point of decision (``DESIGN.md``: "policies are
data").  ``linux-7.2`` is upstream Linux 7.2 (Debian 7.2.13); ``linux-6.1`` is the second
profile for the real 6.1 traces.  The ``__GFP_UNMAPPED`` profiles are added on top of
``linux-7.2`` by the series model.  Each field names the kernel code it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pagealloc.mm.gfp import GFP_TABLE_6_1, GFP_TABLE_7_2, GFP_TABLE_UNMAPPED_V2, GfpTable
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
    # --- allocator rules that differ between 6.1 and 7.2 (docs/profiles/linux-6.1.md) ---
    #: "claim_steal": 7.2 __rmqueue_claim()/__rmqueue_steal() with rmqueue_mode;
    #: "rmqueue_fallback": 6.1 __rmqueue_fallback()/steal_suitable_fallback() + retry
    fallback: str = "claim_steal"
    #: __free_one_page() retypes the buddy's pageblocks when merging >= pageblock_order
    #: (7.2 change_pageblock_range; 6.1 keeps both types)
    merge_retype_buddy: bool = True
    #: free_one_page() frees > pageblock_order blocks per pageblock (7.2 split_large_buddy)
    split_large_buddy: bool = True
    #: every free block sits on its pageblock's list (7.2 "freelist hygiene"); 6.1 allows mixing
    free_list_hygiene: bool = True
    #: "auto": 7.2 high_min/high_max tuning, nr_pcp_alloc(), free_count, ZONE_BELOW_HIGH,
    #: decay_pcp_high(), batched overflow frees; "fixed": 6.1 fixed high, free_factor
    pcp_model: str = "auto"
    #: pcp pages remember the migratetype of their free or refill (6.1 page->index) and
    #: drain to it (7.2 re-reads the pageblock)
    pcp_cached_migratetype: bool = False
    #: where high-order atomic reserves are taken: "rmqueue_buddy" (7.2), or
    #: "get_page_from_freelist" for any page with the 6.1 limit managed/100 + 512
    highatomic_reserve: str = "rmqueue_buddy"
    #: __zone_watermark_unusable_free() subtracts nr_free_highatomic (7.2) or
    #: nr_reserved_highatomic (6.1)
    watermark_unusable_free_highatomic: bool = True
    #: zone_watermark_fast() boost exemption keyed on ALLOC_MIN_RESERVE (7.2) or
    #: __GFP_ATOMIC (6.1)
    boost_exemption_gfp_atomic: bool = False
    #: __setup_per_zone_wmarks() caps ZONE_MOVABLE's min like highmem (7.2; 6.1 only highmem)
    movable_wmark_capped: bool = True
    # --- the __GFP_UNMAPPED series (shared/spec/series.md) ---------------------------------
    #: "" (upstream), "v2" (__GFP_UNMAPPED as posted and reviewed), "v4" (ALLOC_UNMAPPED), or
    #: "zap" (the per-folio design) or "cache" (the 2023 unmapped_alloc() cache); the last two
    #: mark unmapped requests with __GFP_UNMAPPED
    unmapped: str = ""
    #: __rmqueue_direct_map()'s __rmqueue() start mode: "normal" (as posted) or "claim"
    #: (the reviewer's question 3)
    flip_mode: str = "normal"
    #: the flip's remainder: "free_loop" (per-order __free_one_page, as posted) or "expand"
    #: (question 4)
    flip_remainder: str = "free_loop"
    #: where the flip runs relative to the fallbacks: "after_steal" (as posted), "before_steal",
    #: "before_claim" (the patch's own note on steal-before-flip)
    flip_order: str = "after_steal"
    #: zero a block when it is mapped back (question 1; v2 does not)
    zero_on_map_back: bool = False
    #: no whole free block of the other kind: "fail" (v2), "compact" (v4), "isolate_migrate" (reviewer)
    on_no_block: str = "fail"
    #: freetypes_equal() compares the flags ("flags") or only the migratetype
    #: ("migratetype", the series.md 2.1 bug)
    freetypes_equal: str = "flags"
    #: the flip's set_direct_map_valid_noflush() error path: "free_requested_ft" (v2 19/22 as
    #: posted, the seed: under the zone lock, __free_one_page() with the *requested*
    #: freetype), "free_unlocked" (mm-code: the same without the zone lock), "leak" (the
    #: bjackman v2-code snapshot: return NULL, block never freed; series.md 2.9) or
    #: "restore" (the fix: direct map put back, block freed with its pageblock's freetype)
    flip_error_path: str = "free_requested_ft"
    #: unmapped-cache-2023: unmap the whole refill block (the fix) instead of only the
    #: requested pages (as posted)
    cache_unmap_whole_block: bool = False
    #: the pcp bank for unmapped pages (series.md 2.3): "bank" (as posted,
    #: NR_UNMAPPED_PCP_LISTS = PAGE_ALLOC_COSTLY_ORDER + 1 + THP) or "none"
    #: (NR_UNMAPPED_PCP_LISTS = 0: unmapped pages bypass the pcp lists both ways; E12)
    unmapped_pcp: str = "bank"
    #: pages per refill of an unmapped pcp list: "auto" = nr_pcp_alloc() as upstream (as
    #: posted), else this many (``>> order``, at least 1; E12's "batch for unmapped"); text
    #: so that ``--set`` can name it
    unmapped_pcp_batch: str = "auto"

    def order_to_pindex(self, ft: int, order: int) -> int:
        """``order_to_pindex()`` with THP: 3*order+mt, PMD order on lists 12 (U/R) and 13 (M);
        the series' unmapped bank follows at 14.. (order 0-3, then the THP order)."""
        if ft >> 3:
            off = order if order <= PAGE_ALLOC_COSTLY_ORDER else PAGE_ALLOC_COSTLY_ORDER + 1
            return NR_LOWORDER_PCP_LISTS + 2 + off
        if order > PAGE_ALLOC_COSTLY_ORDER:
            return NR_LOWORDER_PCP_LISTS + (1 if (ft & 7) == 1 else 0)
        return 3 * order + (ft & 7)

    def pindex_to_order(self, pindex: int) -> int:
        """``pindex_to_order()`` (with the series' unmapped bank above pindex 13)."""
        if pindex >= NR_LOWORDER_PCP_LISTS + 2:
            off = pindex - NR_LOWORDER_PCP_LISTS - 2
            return off if off <= PAGE_ALLOC_COSTLY_ORDER else HPAGE_PMD_ORDER
        if pindex >= NR_LOWORDER_PCP_LISTS:
            return HPAGE_PMD_ORDER
        return pindex // 3


LINUX_7_2 = Profile(name="linux-7.2", kernel="7.2", gfp_table=GFP_TABLE_7_2, has_cma=True,
                    isolate_bit=True)
LINUX_6_1 = Profile(name="linux-6.1", kernel="6.1", gfp_table=GFP_TABLE_6_1, has_cma=False,
                    isolate_bit=False, fallback="rmqueue_fallback", merge_retype_buddy=False,
                    split_large_buddy=False, free_list_hygiene=False, pcp_model="fixed",
                    pcp_cached_migratetype=True, highatomic_reserve="get_page_from_freelist",
                    watermark_unusable_free_highatomic=False, boost_exemption_gfp_atomic=True,
                    movable_wmark_capped=False)

#: v2 as posted and reviewed (the seed): __GFP_UNMAPPED, ALLOC_NOBLOCK, the flip after the
#: steal, RMQUEUE_NORMAL, per-order remainder loop, no zeroing on map-back, fail when no
#: whole free block of the other kind exists, the seed's error path (frees the block with the
#: requested freetype).
UNMAPPED_V2 = replace(LINUX_7_2, name="unmapped-v2", gfp_table=GFP_TABLE_UNMAPPED_V2,
                      nr_pcp_lists=NR_LOWORDER_PCP_LISTS + 2 + PAGE_ALLOC_COSTLY_ORDER + 2,
                      unmapped="v2")
#: v4: ALLOC_UNMAPPED (an alloc flag), no __GFP_ZERO, pageblock-order direct compaction for
#: unmapped requests, the mm-code error path.
UNMAPPED_V4 = replace(UNMAPPED_V2, name="unmapped-v4", gfp_table=GFP_TABLE_7_2, unmapped="v4",
                      on_no_block="compact", flip_error_path="free_unlocked")

#: The design the series replaces (secretmem, guest_memfd NO_DIRECT_MAP; v4 patch 1
#: folio_{zap,restore}_direct_map()): upstream 7.2 allocation, then each folio is removed
#: from the direct map and flushed on its own, and restored and zeroed when freed.
FOLIO_ZAP = replace(LINUX_7_2, name="per-folio-zap", gfp_table=GFP_TABLE_UNMAPPED_V2, unmapped="zap")

#: Rapoport's 2023 RFC: __GFP_UNMAPPED served by unmapped_alloc(), a cache beside the
#: buddy allocator (pagealloc/mm/unmapped_cache.py), on top of upstream 7.2.
UNMAPPED_CACHE_2023 = replace(LINUX_7_2, name="unmapped-cache-2023", gfp_table=GFP_TABLE_UNMAPPED_V2,
                              unmapped="cache")

PROFILES: dict[str, Profile] = {p.name: p for p in (LINUX_7_2, LINUX_6_1, UNMAPPED_V2, UNMAPPED_V4,
                                                    FOLIO_ZAP, UNMAPPED_CACHE_2023)}

#: Knobs that ``--set``/``with_knobs`` may change on a profile, with their allowed values.
KNOBS: dict[str, tuple[object, ...]] = {
    "flip_mode": ("normal", "claim"),
    "flip_remainder": ("free_loop", "expand"),
    "flip_order": ("after_steal", "before_steal", "before_claim"),
    "zero_on_map_back": (False, True),
    "on_no_block": ("fail", "compact", "isolate_migrate"),
    "freetypes_equal": ("flags", "migratetype"),
    "flip_error_path": ("free_requested_ft", "free_unlocked", "leak", "restore"),
    "cache_unmap_whole_block": (False, True),
    "unmapped_pcp": ("bank", "none"),
    "unmapped_pcp_batch": ("auto", "1", "2", "4", "8", "16", "32", "64", "128", "256"),
}


def with_knobs(profile: Profile, **knobs: object) -> Profile:
    """A variant of ``profile``: each knob checked against :data:`KNOBS`."""
    for k, v in knobs.items():
        if k not in KNOBS:
            raise ProfileError(f"unknown knob {k!r}; known: {', '.join(sorted(KNOBS))}")
        if v not in KNOBS[k]:
            raise ProfileError(f"knob {k}: {v!r} not one of {KNOBS[k]}")
    name = profile.name + "".join(f",{k}={v}" for k, v in sorted(knobs.items()))
    return replace(profile, name=name, **knobs)  # type: ignore[arg-type]


def get_profile(name: str) -> Profile:
    """Look up a profile by name; raise :class:`ProfileError` listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None


def with_changes(profile: Profile, **changes: object) -> Profile:
    """A copy of ``profile`` with some fields replaced (variant knobs)."""
    return replace(profile, **changes)  # type: ignore[arg-type]
