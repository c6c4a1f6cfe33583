"""Hypothesis stateful test of the allocator model (Linux 7.2 rules).

Random sequences of alloc (unmovable / movable / reclaimable / atomic / THP requests of
orders 0-4, 9, 10 on either CPU), free (a random live block), drain_all_pages and
vmstat ticks on a 64M-256M machine with 2 CPUs.  After every step ``m.check()`` runs
all invariants (mm/debug.py: the DEBUG_VM checks of mm/page_alloc.c plus the
accounting identities).  Model-level properties:

* no PFN is handed out twice (a page tracker, like the KUnit stress test's xarray);
* every allocated block is naturally aligned, inside one zone, and recorded as
  allocated with its order;
* freeing everything and draining the pcp lists gives back NR_FREE_PAGES of boot, and
  the free lists hold exactly the boot blocks (same PFN, same order): __free_one_page()
  (mm/page_alloc.c:936) merges every pair of free buddies below pageblock_order, and at
  pageblock_order and above merges all mergeable types (retyping the buddy), so only a
  boot order-10 block one of whose pageblocks was turned HIGHATOMIC (or ISOLATE) and
  whose other one was not may come back as two order-9 blocks.

The number of examples is small by default; PAGEALLOC_STRESS=1 runs many more.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE, migratetype_is_mergeable
from pagealloc.mm.mmzone import PS_ALLOC, PS_MASK

GFPS = {
    "unmovable": G.GFP_KERNEL,
    "movable": G.GFP_HIGHUSER_MOVABLE | G.__GFP_COMP,
    "reclaimable": G.GFP_KERNEL | G.__GFP_RECLAIMABLE,
    "atomic": G.GFP_ATOMIC,
    "thp": G.GFP_TRANSHUGE_LIGHT,
}
ORDERS = [0, 0, 1, 2, 3, 4, 9, 10]

BIG = os.environ.get("PAGEALLOC_STRESS") == "1"


def expected_free_blocks(m: Machine, boot: list[tuple[int, int, int]]) -> set[tuple[int, int]]:
    """The (order, pfn) blocks a fully freed zone must hold, given the boot blocks."""
    out: set[tuple[int, int]] = set()
    for order, _idx, pfn in boot:
        if order == 10:
            t1 = m.pageblock_migratetype(pfn)
            t2 = m.pageblock_migratetype(pfn + 512)
            if t1 != t2 and not (migratetype_is_mergeable(t1) and migratetype_is_mergeable(t2)):
                out.add((9, pfn))
                out.add((9, pfn + 512))
                continue
        out.add((order, pfn))
    return out


class AllocatorStateMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m: Machine | None = None

    @initialize(memory=st.sampled_from(["64M", "128M", "256M"]))
    def boot(self, memory: str) -> None:
        self.m = m = Machine(memory=memory, cpus=2)
        self.boot_free = m.nr_free_pages()
        self.boot_blocks = {z.name: m.free_blocks(z) for z in m.populated_zones()}
        self.owner = bytearray(m.mem.max_pfn)
        self.live: list[tuple[int, int, int]] = []

    @rule(kind=st.sampled_from(sorted(GFPS)), order=st.sampled_from(ORDERS),
          cpu=st.integers(0, 1))
    def alloc(self, kind: str, order: int, cpu: int) -> None:
        m = self.m
        pfn = m.alloc_pages(GFPS[kind], order, cpu)
        if pfn is None:
            return
        assert pfn % (1 << order) == 0, (hex(pfn), order)
        zone = m.alloc.zone_of(pfn)
        assert zone.zone_start_pfn <= pfn and pfn + (1 << order) <= zone.zone_end_pfn
        assert m.mem.pstate[pfn] == PS_ALLOC | order
        for q in range(pfn, pfn + (1 << order)):
            assert not self.owner[q], f"pfn {q:#x} handed out twice"
            self.owner[q] = 1
        self.live.append((pfn, order, cpu))

    @precondition(lambda self: self.m is not None and self.live)
    @rule(data=st.data(), cpu=st.integers(0, 1))
    def free(self, data: st.DataObject, cpu: int) -> None:
        i = data.draw(st.integers(0, len(self.live) - 1), label="victim")
        pfn, order, _ = self.live.pop(i)
        for q in range(pfn, pfn + (1 << order)):
            self.owner[q] = 0
        self.m.free_pages(pfn, order, cpu)

    @rule()
    def drain(self) -> None:
        self.m.drain_all_pages()
        assert all(p.count == 0 for z in self.m.populated_zones() for p in z.pcp)

    @rule()
    def tick(self) -> None:
        self.m.tick(1.0)

    @precondition(lambda self: self.m is not None)
    @rule()
    def free_all(self) -> None:
        self._free_all_and_compare()

    @invariant()
    def invariants(self) -> None:
        if self.m is None:
            return
        self.m.check()
        handed = sum(1 << o for _, o, _ in self.live)
        on_pcp = sum(p.count for z in self.m.populated_zones() for p in z.pcp)
        assert self.m.nr_free_pages() + on_pcp + handed == self.boot_free

    def _free_all_and_compare(self) -> None:
        m = self.m
        for pfn, order, cpu in self.live:
            m.free_pages(pfn, order, cpu)
        self.live.clear()
        self.owner = bytearray(m.mem.max_pfn)
        m.drain_all_pages()
        m.check()
        assert m.nr_free_pages() == self.boot_free
        assert not any(m.mem.pstate[p] & PS_MASK == PS_ALLOC for p in range(m.mem.max_pfn))
        for z in m.populated_zones():
            got = {(o, pfn) for o, _idx, pfn in m.free_blocks(z)}
            assert got == expected_free_blocks(m, self.boot_blocks[z.name]), z.name
            assert all(idx != MIGRATE_ISOLATE for _o, idx, _p in m.free_blocks(z))
            ha = sum(1 for b in range(z.zone_start_pfn >> 9, ((z.zone_end_pfn - 1) >> 9) + 1)
                     if m.pageblock_migratetype(b << 9) == MIGRATE_HIGHATOMIC)
            assert ha * 512 == z.nr_reserved_highatomic

    def teardown(self) -> None:
        if self.m is not None:
            self._free_all_and_compare()


AllocatorStateMachine.TestCase.settings = settings(
    max_examples=400 if BIG else 60,
    stateful_step_count=120 if BIG else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAllocatorStateMachine = AllocatorStateMachine.TestCase
