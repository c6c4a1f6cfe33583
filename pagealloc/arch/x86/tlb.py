"""Kernel TLB flushes on x86-64 and the stale direct-map translations they clear.

Models, for Linux 7.2 ``arch/x86/mm/tlb.c``:

* ``flush_tlb_kernel_range()``: ``get_flush_tlb_info()`` turns a range of more
  than ``tlb_single_page_flush_ceiling`` (33) pages into a full flush; a full
  flush is ``on_each_cpu(do_flush_tlb_all)`` (``__flush_tlb_all()`` on every
  online CPU), a ranged one ``on_each_cpu(do_kernel_range_flush)`` (one
  ``invlpg`` per page on every CPU).  ``on_each_cpu()`` runs the function
  locally and IPIs every other online CPU.  With X86_FEATURE_INVLPGB (AMD,
  6.15+) both are broadcast instead (``invlpgb_flush_all()`` /
  ``invlpgb_kernel_range_flush()``) and no IPI is sent;
* ``flush_tlb_all()`` (e.g. in ``__split_large_page()`` after every CPA
  split), the same full flush;
* ``__flush_tlb_all()`` on one CPU (e.g. the mermap's local flush on wrap).

A CPU "may translate" a page after its direct-map entry was made not present
until that CPU has flushed it: x86 does not cache not-present entries, so a
stale entry only exists for present -> not-present changes (``unmap()``).

Stale state is kept as disjoint, sorted PFN intervals, each with a bitmask of
the CPUs that may still hold it; adjacent intervals with equal masks are
merged, so unmapping runs of 512-page blocks costs one interval per run.
"""
from __future__ import annotations

import bisect

__all__ = ["TLB", "TLB_SINGLE_PAGE_FLUSH_CEILING"]

TLB_SINGLE_PAGE_FLUSH_CEILING = 33   # tlb_single_page_flush_ceiling, Linux 7.2


class TLB:
    """The TLBs of ``ncpus`` online CPUs, as far as the direct map is concerned."""

    def __init__(self, ncpus: int, single_page_flush_ceiling: int = TLB_SINGLE_PAGE_FLUSH_CEILING,
                 invlpgb: bool = False) -> None:
        if ncpus < 1:
            raise ValueError("ncpus must be >= 1")
        self.ncpus = ncpus
        self.single_page_flush_ceiling = single_page_flush_ceiling
        self.invlpgb = invlpgb
        self._all = (1 << ncpus) - 1
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._masks: list[int] = []
        self.stats: dict[str, int] = {
            "flush_ranged": 0,           # ranged kernel flushes (invlpg per page, all CPUs)
            "flush_full": 0,             # full flushes on all CPUs (flush_tlb_all or > ceiling)
            "flush_local": 0,            # __flush_tlb_all() on one CPU
            "ipis": 0,                   # IPIs sent (on_each_cpu: every other online CPU)
            "pages_flushed_ranged": 0,   # pages invalidated one by one, per flush (not per CPU)
            "flush_tlb_kernel_range": 0, # calls of flush_tlb_kernel_range()
            "flush_tlb_all": 0,          # calls of flush_tlb_all() (nr_tlb_remote_flush)
            "invlpgb": 0,                # broadcast invalidations instead of IPIs
        }

    # ------------------------------------------------------------------
    # interval helpers
    # ------------------------------------------------------------------

    def _split_at(self, pfn: int) -> int:
        """Make pfn an interval boundary; return the index of the first
        interval starting at or after pfn."""
        i = bisect.bisect_right(self._starts, pfn) - 1
        if i >= 0 and self._starts[i] < pfn < self._ends[i]:
            self._starts.insert(i + 1, pfn)
            self._ends.insert(i + 1, self._ends[i])
            self._masks.insert(i + 1, self._masks[i])
            self._ends[i] = pfn
            return i + 1
        return bisect.bisect_left(self._starts, pfn)

    def _carve(self, start: int, end: int) -> tuple[int, int]:
        """Indices [i, j) of the intervals inside [start, end), after splitting."""
        i = self._split_at(start)
        j = self._split_at(end)
        return i, j

    def _coalesce(self, lo: int, hi: int) -> None:
        """Merge touching intervals with equal masks in index range [lo, hi]."""
        lo = max(lo, 1)
        k = min(hi, len(self._starts) - 1)
        while k >= lo:
            if self._ends[k - 1] == self._starts[k] and self._masks[k - 1] == self._masks[k]:
                self._ends[k - 1] = self._ends[k]
                del self._starts[k], self._ends[k], self._masks[k]
            k -= 1

    # ------------------------------------------------------------------
    # events
    # ------------------------------------------------------------------

    def unmap(self, pfn: int, nr: int) -> None:
        """The direct-map entries of [pfn, pfn + nr) were made not present:
        every CPU may still hold a translation until it flushes."""
        if nr <= 0:
            return
        i, j = self._carve(pfn, pfn + nr)
        del self._starts[i:j], self._ends[i:j], self._masks[i:j]
        self._starts.insert(i, pfn)
        self._ends.insert(i, pfn + nr)
        self._masks.insert(i, self._all)
        self._coalesce(i, i + 1)

    def _ipi_all(self) -> None:
        if self.invlpgb:
            self.stats["invlpgb"] += 1
        else:
            self.stats["ipis"] += self.ncpus - 1

    def _full(self) -> None:
        self.stats["flush_full"] += 1
        self._ipi_all()
        self._starts.clear()
        self._ends.clear()
        self._masks.clear()

    def flush_tlb_kernel_range(self, pfn_start: int, pfn_end: int, cpu: int) -> None:
        """flush_tlb_kernel_range(start, end), Linux 7.2 arch/x86/mm/tlb.c,
        called on ``cpu``: more than ``single_page_flush_ceiling`` pages is a
        full flush on every CPU, otherwise one invlpg per page on every CPU;
        every other online CPU gets an IPI (none with INVLPGB)."""
        self._check_cpu(cpu)
        self.stats["flush_tlb_kernel_range"] += 1
        nr = pfn_end - pfn_start
        if nr > self.single_page_flush_ceiling:
            self._full()
            return
        self.stats["flush_ranged"] += 1
        self._ipi_all()
        if nr <= 0:
            return
        self.stats["pages_flushed_ranged"] += nr
        i, j = self._carve(pfn_start, pfn_end)
        del self._starts[i:j], self._ends[i:j], self._masks[i:j]

    def flush_tlb_all(self, cpu: int) -> None:
        """flush_tlb_all(), Linux 7.2: __flush_tlb_all() on every CPU
        (on_each_cpu(), or invlpgb_flush_all())."""
        self._check_cpu(cpu)
        self.stats["flush_tlb_all"] += 1
        self._full()

    def flush_tlb_local(self, cpu: int) -> None:
        """__flush_tlb_all() on ``cpu`` only (global entries included: with
        PGE it toggles CR4.PGE); no IPI."""
        self._check_cpu(cpu)
        self.stats["flush_local"] += 1
        bit = 1 << cpu
        k = 0
        while k < len(self._starts):
            m = self._masks[k] & ~bit
            if m:
                self._masks[k] = m
                k += 1
            else:
                del self._starts[k], self._ends[k], self._masks[k]
        self._coalesce(1, len(self._starts) - 1)

    # ------------------------------------------------------------------
    # queries
    # ------------------------------------------------------------------

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.ncpus:
            raise ValueError(f"cpu {cpu} not online (ncpus={self.ncpus})")

    def stale(self, pfn: int) -> list[int]:
        """CPUs that may still translate pfn."""
        i = bisect.bisect_right(self._starts, pfn) - 1
        if i < 0 or pfn >= self._ends[i]:
            return []
        m = self._masks[i]
        return [c for c in range(self.ncpus) if m >> c & 1]

    def has_stale(self, pfn: int, nr: int) -> bool:
        """True if some CPU may still translate a page of [pfn, pfn + nr)."""
        if nr <= 0:
            return False
        i = bisect.bisect_right(self._starts, pfn + nr - 1) - 1
        return i >= 0 and self._ends[i] > pfn

    def stale_pages(self) -> int:
        """Pages that at least one CPU may still translate."""
        return sum(e - s for s, e in zip(self._starts, self._ends))

    def intervals(self) -> list[tuple[int, int, int]]:
        """(start, end, cpu mask) of the stale intervals."""
        return list(zip(self._starts, self._ends, self._masks))
