"""Page contents, as far as security needs them: whose data each page frame holds.

The series' security claims (shared/spec/series.md 2.9 item 7, 2.17 #3; the seed's
question 1) are about data: a page that held an unmapped user's data (guest memory, a
secret) must not reach a different user unzeroed, and a page of an unmapped allocation
must not be reachable through the direct map or a stale TLB entry when it is handed out.
This module keeps one byte per PFN, the *owner class* of the data in it:

* ``ZERO`` (0): zeroed, or never written;
* ``KERNEL`` (1): data of mapped kernel users (reuse among them is normal kernel behaviour);
* ``2 + k``: data of unmapped user ``k`` (``k`` chosen by the caller of the allocation).

Zeroing happens where the kernel would zero: ``__GFP_ZERO`` and ``init_on_alloc``
(``want_init_on_alloc()``, mm/page_alloc.c ``post_alloc_hook()``), ``init_on_free``
(``free_pages_prepare()``), the v2 mermap path for ``__GFP_UNMAPPED|__GFP_ZERO``, and the
zero-on-map-back variant.  Every handing-out of another user's data is counted as an
exposure with its cause, and every unmapped allocation is checked against the direct map
and the TLB.
"""

from __future__ import annotations

from typing import Callable, Protocol

from pagealloc.mm import gfp as G

ZERO = 0
KERNEL = 1
FIRST_UNMAPPED_USER = 2

_GFP_ZERO = G.__GFP_ZERO


class _Present(Protocol):
    def is_present(self, pfn: int) -> bool: ...


class _Stale(Protocol):
    def has_stale(self, pfn: int, nr: int) -> bool: ...


class Contents:
    """Owner class per PFN, zeroing, exposure and reachability accounting."""

    def __init__(self, max_pfn: int, init_on_alloc: bool = False, init_on_free: bool = False,
                 unmapped_profile: str = "", directmap: _Present | None = None,
                 tlb: _Stale | None = None) -> None:
        self.data = bytearray(max_pfn)
        self.init_on_alloc = init_on_alloc
        self.init_on_free = init_on_free
        self.unmapped_profile = unmapped_profile
        self.directmap = directmap
        self.tlb = tlb
        #: owner class the next allocation writes (set by the caller, e.g. Machine.alloc_pages)
        self.next_owner = KERNEL
        self.flipped_back: Callable[[int], bool] | None = None
        #: v2 20/22: zero unmapped pages through the mermap; returns the pfns really cleared
        self.mermap_clear: Callable[[int, int], list[int]] | None = None
        self.stats: dict[str, int] = {
            "pages_zeroed_alloc": 0, "pages_zeroed_free": 0, "pages_zeroed_mermap": 0,
            "pages_zeroed_map_back": 0, "exposures": 0, "pages_exposed": 0,
            "exposed_map_back_without_zeroing": 0, "exposed_between_unmapped_users": 0,
            "unmapped_present_in_direct_map": 0, "unmapped_reachable_by_stale_tlb": 0,
            "unmapped_init_skipped": 0,
        }
        self.events: list[tuple[str, int, int]] = []     # (cause, pfn, pages)

    def zero(self, pfn: int, nr: int, by: str) -> None:
        """Zero ``nr`` pages; ``by`` names the path (alloc, free, mermap, map_back)."""
        self.data[pfn:pfn + nr] = bytes(nr)
        key = "pages_zeroed_" + by
        self.stats[key] = self.stats.get(key, 0) + nr

    def on_alloc(self, pfn: int, order: int, gfp: int, ft: int, unmapped: bool = False) -> None:
        """``post_alloc_hook()``: check reachability, zero where the kernel would, count any
        exposure of another user's data, then the new owner's data fills the block.

        ``unmapped``: the pages are for an unmapped user even though their freetype has no
        flag (the per-folio zap design, where the caller removes them from the direct map).
        """
        nr = 1 << order
        unmapped = unmapped or bool(ft >> 3)
        owner = self.next_owner
        self.next_owner = KERNEL
        if unmapped:
            if owner < FIRST_UNMAPPED_USER:
                owner = FIRST_UNMAPPED_USER
            dm = self.directmap
            if dm is not None and any(dm.is_present(p) for p in (pfn, pfn + nr - 1)) \
                    and any(dm.is_present(p) for p in range(pfn, pfn + nr)):
                self.stats["unmapped_present_in_direct_map"] += 1
                self.events.append(("unmapped_present_in_direct_map", pfn, nr))
            if self.tlb is not None and self.tlb.has_stale(pfn, nr):
                self.stats["unmapped_reachable_by_stale_tlb"] += 1
                self.events.append(("unmapped_reachable_by_stale_tlb", pfn, nr))
        else:
            owner = KERNEL if owner >= FIRST_UNMAPPED_USER else owner
        want_init = bool(gfp & _GFP_ZERO) or self.init_on_alloc
        if want_init and not self.init_on_free:
            if unmapped and self.unmapped_profile == "v4" and not gfp & _GFP_ZERO:
                # v4: ALLOC_UNMAPPED pages skip allocator-side init (should_skip_init())
                self.stats["unmapped_init_skipped"] += nr
            elif unmapped and self.mermap_clear is not None:
                # kernel_init_pages() -> clear_page_mermap(): only the pages it really
                # clears become zero (v2's slow path clears the first page n times,
                # series.md 2.17 #5)
                for p in set(self.mermap_clear(pfn, nr)):
                    self.data[p] = ZERO
                self.stats["pages_zeroed_mermap"] += nr
            else:
                self.zero(pfn, nr, "mermap" if unmapped else "alloc")
        seg = self.data[pfn:pfn + nr]
        if seg.count(0) + seg.count(KERNEL) != nr:
            exposed = sum(1 for c in seg if c >= FIRST_UNMAPPED_USER and c != owner)
            if exposed:
                cause = "exposed_map_back_without_zeroing" if not unmapped \
                    else "exposed_between_unmapped_users"
                self.stats[cause] += exposed
                self.stats["pages_exposed"] += exposed
                self.stats["exposures"] += 1
                self.events.append((cause, pfn, exposed))
        self.data[pfn:pfn + nr] = bytes([owner]) * nr

    def on_free(self, pfn: int, order: int) -> None:
        """``free_pages_prepare()``: ``init_on_free`` zeroes the block."""
        if self.init_on_free:
            self.zero(pfn, 1 << order, "free")
