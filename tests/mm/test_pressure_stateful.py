"""Hypothesis stateful test: the allocator under memory pressure (Linux 7.2 rules).

The alloc/free machine of ``test_page_alloc_stateful.py`` plus owned memory of every kind
(anon, page cache clean and dirty, reclaimable slab, unmovable), accesses, direct
reclaim, kswapd and kcompactd through time ticks, ``drop_caches``, ``compact_memory``
and ``alloc_contig_range()`` on a random pageblock, on a 64 MiB machine with 2 CPUs and
a little swap, so that the slow path, reclaim, compaction, migration and isolation all
run.  ``alloc.step_check`` runs the full invariant checker (mm/debug.py, including the
owner/LRU identities) after every reclaim, compaction and migration step, and
``m.check()`` runs after every rule.  Properties: a handle's data is where its owner
says (its block is allocated with its order), nothing freed is still owned, and after
freeing everything the zone's free pages come back.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.page_isolation import alloc_contig_range, free_contig_range
from pagealloc.profiles import UNMAPPED_V4, with_knobs

BIG = os.environ.get("PAGEALLOC_STRESS") == "1"
NORETRY = G.__GFP_NORETRY          # (module level: no name mangling inside the class)
RETRY_MAYFAIL = G.__GFP_RETRY_MAYFAIL
NOWARN = G.__GFP_NOWARN
KINDS = ["anon", "anon", "file", "file", "slab", "unmovable"]
ORDERS = [0, 0, 0, 0, 1, 2, 3, 9]


class PressureMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m = Machine(memory="64M", cpus=2, swap="8M")
        self.m.alloc.step_check = self.m.check
        self.handles: list[int] = []
        self.plain: list[tuple[int, int]] = []
        self.boot_free = 0

    @initialize()
    def boot(self) -> None:
        self.m.drain_all_pages()
        self.boot_free = self.m.nr_free_pages()

    @rule(kind=st.sampled_from(KINDS), order=st.sampled_from(ORDERS), cpu=st.integers(0, 1),
          dirty=st.booleans(), n=st.integers(1, 400))
    def alloc_owned(self, kind: str, order: int, cpu: int, dirty: bool, n: int) -> None:
        gfp = None
        if order >= 9 and kind in ("anon", "file"):
            gfp = G.GFP_TRANSHUGE_LIGHT if kind == "anon" else None
        for _ in range(n if order < 3 else 1):
            h = self.m.alloc_owned(kind, order, cpu, gfp, dirty=dirty and kind == "file")
            if h is None:
                break
            self.handles.append(h)

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), n=st.integers(1, 300))
    def free_owned(self, data: st.DataObject, n: int) -> None:
        for _ in range(min(n, len(self.handles))):
            i = data.draw(st.integers(0, len(self.handles) - 1))
            h = self.handles.pop(i)
            self.m.free_owned(h, i & 1)

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def touch(self, data: st.DataObject) -> None:
        h = data.draw(st.sampled_from(self.handles))
        self.m.touch(h)
        if self.m.owners.kind(h) == 2:
            self.m.mark_dirty(h)

    @rule(order=st.sampled_from([0, 0, 1, 3, 4, 9]),
          gfp=st.sampled_from([G.GFP_KERNEL, G.GFP_ATOMIC, G.GFP_KERNEL | NORETRY,
                               G.GFP_HIGHUSER_MOVABLE, G.GFP_KERNEL | RETRY_MAYFAIL]))
    def alloc_plain(self, order: int, gfp: int) -> None:
        pfn = self.m.alloc_pages(gfp | NOWARN, order)
        if pfn is not None:
            self.plain.append((pfn, order))

    @precondition(lambda self: self.plain)
    @rule(data=st.data())
    def free_plain(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.plain) - 1))
        pfn, order = self.plain.pop(i)
        self.m.free_pages(pfn, order)

    @rule()
    def direct_reclaim(self) -> None:
        self.m.reclaim.try_to_free_pages(0, G.GFP_KERNEL, 2)

    @rule(mode=st.sampled_from([1, 2, 3]))
    def drop_caches(self, mode: int) -> None:
        self.m.drop_caches(mode)

    @rule()
    def compact_memory(self) -> None:
        self.m.compact_memory()

    @rule(seconds=st.sampled_from([0.05, 0.1, 0.5, 1.0]))
    def tick(self, seconds: float) -> None:
        self.m.tick(seconds)

    @rule(block=st.integers(0, 31))
    def contig_range(self, block: int) -> None:
        zone = max((z for z in self.m.zones if z.managed_pages), key=lambda z: z.managed_pages)
        first = (zone.zone_start_pfn + 511) & ~511
        start = first + block * 512
        if start + 512 > zone.zone_end_pfn:
            return
        if alloc_contig_range(self.m.alloc, start, start + 512) == 0:
            self.m.check()
            free_contig_range(self.m.alloc, start, 512)

    @invariant()
    def checked(self) -> None:
        self.m.check()
        for h in self.handles:
            assert h in self.m.owners.h_info

    def teardown(self) -> None:
        for h in self.handles:
            self.m.free_owned(h)
        for pfn, order in self.plain:
            self.m.free_pages(pfn, order)
        self.m.drain_all_pages()
        assert not self.m.owners.h_info
        self.m.check()


PressureMachine.TestCase.settings = settings(
    max_examples=200 if BIG else 12, stateful_step_count=40 if BIG else 25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestPressure = PressureMachine.TestCase


class UnmappedPressureMachine(PressureMachine):
    """The same under the series (unmapped-v4 with a random ``on_no_block`` variant): unmapped
    allocations of orders 0-2 for two users join the mix, so flips both ways, compaction for
    unmapped requests and isolate-and-migrate run under memory pressure; the security
    invariants (no unmapped page reachable through the direct map or a stale TLB entry, no
    exposure) are part of ``m.check()``."""

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        self.handles = []
        self.plain = []
        self.boot_free = 0
        self.unmapped: list[tuple[int, int]] = []
        self.m = Machine(memory="64M", cpus=2, swap="8M", profile=UNMAPPED_V4)

    @initialize(knob=st.sampled_from(["fail", "compact", "isolate_migrate"]))
    def boot(self, knob: str) -> None:  # type: ignore[override]
        self.m = Machine(memory="64M", cpus=2, swap="8M",
                         profile=with_knobs(UNMAPPED_V4, on_no_block=knob))
        self.m.alloc.step_check = self.m.check
        self.m.drain_all_pages()
        self.boot_free = self.m.nr_free_pages()

    @rule(order=st.sampled_from([0, 0, 1, 2]), user=st.integers(2, 3), n=st.integers(1, 300))
    def alloc_unmapped(self, order: int, user: int, n: int) -> None:
        for _ in range(n):
            pfn = self.m.alloc_pages("GFP_KERNEL", order, 0, unmapped=True, owner=user)
            if pfn is None:
                break
            self.unmapped.append((pfn, order))

    @precondition(lambda self: self.unmapped)
    @rule(data=st.data(), n=st.integers(1, 300))
    def free_unmapped(self, data: st.DataObject, n: int) -> None:
        for _ in range(min(n, len(self.unmapped))):
            i = data.draw(st.integers(0, len(self.unmapped) - 1))
            pfn, order = self.unmapped.pop(i)
            self.m.free_pages(pfn, order)

    @invariant()
    def no_exposure(self) -> None:
        assert self.m.metrics()["security_exposures"] == 0 or \
            not self.m.profile.zero_on_map_back

    def teardown(self) -> None:
        for pfn, order in self.unmapped:
            self.m.free_pages(pfn, order)
        self.unmapped = []
        super().teardown()


UnmappedPressureMachine.TestCase.settings = settings(
    max_examples=100 if BIG else 6, stateful_step_count=40 if BIG else 20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestUnmappedPressure = UnmappedPressureMachine.TestCase
