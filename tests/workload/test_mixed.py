"""The seeded mixed alloc/free stream (pagealloc.workload.mixed) and its replay on a Machine.

The stream is the built-in default workload and the benchmark's: it must be reproducible
from its seed, follow its order and migratetype weights, only free what it allocated, and
leave a machine whose allocator invariants hold.
"""
from __future__ import annotations

import math
from collections import Counter

import pytest

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.tracepoints import TraceRecorder
from pagealloc.profiles import UNMAPPED_CACHE_2023, with_knobs
from pagealloc.workload.mixed import (
    GFP_MOVABLE,
    GFP_RECLAIMABLE,
    GFP_THP,
    GFP_UNMOVABLE,
    OP_ALLOC,
    OP_FREE,
    MixedSpec,
    mixed_stream,
    run_mixed,
)

ORDERS = (0, 1, 2, 3, 9)
RAM_512M = sum(z.managed_pages for z in Machine(memory="512M", cpus=2).zones)


def _stream(**kw: object) -> list[tuple[int, int, int, int]]:
    spec = MixedSpec(**{"events": 20_000, "cpus": 2, **kw})  # type: ignore[arg-type]
    return list(mixed_stream(spec, RAM_512M))


def test_stream_is_deterministic_for_a_seed() -> None:
    """The same spec and RAM give the same events; another seed gives different ones."""
    a = _stream(seed=7)
    assert a == _stream(seed=7)
    assert a != _stream(seed=8)
    assert len(a) == 20_000
    # a prefix of a longer stream is the shorter stream (one RNG, consumed in order)
    assert _stream(seed=7, events=5_000) == a[:5_000]


def test_gfp_migratetypes_are_the_three_pcp_types() -> None:
    """The stream's gfp masks map to MIGRATE_UNMOVABLE, MOVABLE and RECLAIMABLE
    (gfp_migratetype(): __GFP_MOVABLE / __GFP_RECLAIMABLE bits), THP to MOVABLE."""
    assert [G.gfp_migratetype(g) for g in (GFP_UNMOVABLE, GFP_MOVABLE, GFP_RECLAIMABLE, GFP_THP)] == [0, 1, 2, 1]


@pytest.mark.parametrize("seed", [7, 42, 1234])
def test_order_and_migratetype_mix(seed: int) -> None:
    """Over 20k events the shares of orders 0/1/2/3/9 and of the unmovable/movable/
    reclaimable masks (orders 0-3) follow the spec's weights within 5 points (and within
    4 binomial standard deviations); order 9 is always GFP_TRANSHUGE."""
    spec = MixedSpec()
    ev = _stream(seed=seed)
    allocs = [e for e in ev if e[0] == OP_ALLOC]
    n = len(allocs)
    assert n > 8_000
    by_order = Counter(e[2] for e in allocs)
    assert set(by_order) == set(ORDERS)
    wsum = sum(spec.order_weights)
    for order, w in zip(ORDERS, spec.order_weights):
        p = w / wsum
        share = by_order[order] / n
        assert abs(share - p) <= 0.05, (order, share, p)
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / n), (order, share, p)
    assert all(e[1] == GFP_THP for e in allocs if e[2] == 9)
    low = [e for e in allocs if e[2] != 9]
    by_gfp = Counter(e[1] for e in low)
    assert set(by_gfp) == {GFP_UNMOVABLE, GFP_MOVABLE, GFP_RECLAIMABLE}
    msum = sum(spec.mt_weights)
    for g, w in zip((GFP_UNMOVABLE, GFP_MOVABLE, GFP_RECLAIMABLE), spec.mt_weights):
        p = w / msum
        share = by_gfp[g] / len(low)
        assert abs(share - p) <= 0.05, (hex(g), share, p)
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / len(low)), (hex(g), share, p)


def test_custom_weights_are_followed() -> None:
    """Other weights change the mix: only order 0 and 3, only reclaimable."""
    ev = _stream(seed=3, order_weights=(1, 0, 0, 1, 0), mt_weights=(0, 0, 1))
    allocs = [e for e in ev if e[0] == OP_ALLOC]
    assert {e[2] for e in allocs} == {0, 3}
    assert {e[1] for e in allocs} == {GFP_RECLAIMABLE}
    assert abs(sum(1 for e in allocs if e[2] == 3) / len(allocs) - 0.5) < 0.05


@pytest.mark.parametrize("seed", [7, 42])
def test_only_live_slots_are_freed(seed: int) -> None:
    """A free names an earlier allocation's slot (slots count allocations from 0), carries
    that allocation's order (run_mixed frees with it), and no slot is freed twice; CPUs are
    in range; the live set stays near the target occupancy and never far above it."""
    ev = _stream(seed=seed)
    target = int(RAM_512M * MixedSpec().target_occupancy)
    live: dict[int, int] = {}
    freed: set[int] = set()
    slot = 0
    live_pages = 0
    peak = 0
    tail = []
    for i, (op, a, order, cpu) in enumerate(ev):
        assert 0 <= cpu < 2
        if op == OP_ALLOC:
            assert order in ORDERS
            live[slot] = order
            slot += 1
            live_pages += 1 << order
        else:
            assert op == OP_FREE
            assert a not in freed, f"slot {a} freed twice"
            assert a in live, f"free of slot {a} that is not live"
            assert live.pop(a) == order
            freed.add(a)
            live_pages -= 1 << order
        peak = max(peak, live_pages)
        if i >= len(ev) // 2:
            tail.append(live_pages)
    assert freed and live
    assert peak <= 1.05 * target
    assert 0.85 * target <= sum(tail) / len(tail) <= 1.02 * target


def test_run_mixed_512m_two_cpus_keeps_invariants() -> None:
    """run_mixed on a 512 MiB, 2-CPU machine with check_every runs the invariant checker
    throughout; the result counts match the stream, vmstat counts every page, and the
    machine passes m.check() at the end."""
    m = Machine(memory="512M", cpus=2)
    boot_pgfree = m.vmstat()["pgfree"]
    ev = _stream(seed=11)
    calls = 0
    real_check = m.check

    def counting_check() -> None:
        nonlocal calls
        calls += 1
        real_check()

    m.check = counting_check  # type: ignore[method-assign]
    res = run_mixed(m, ev, check_every=2_000)
    assert calls == 10
    m.check = real_check  # type: ignore[method-assign]
    m.check()
    n_alloc = sum(1 for e in ev if e[0] == OP_ALLOC)
    n_free = len(ev) - n_alloc
    assert res.alloc_failures == 0
    assert (res.allocs, res.frees) == (n_alloc, n_free)
    vm = m.vmstat()
    assert vm["pgalloc_dma"] + vm["pgalloc_dma32"] == sum(1 << e[2] for e in ev if e[0] == OP_ALLOC)
    assert vm["pgfree"] - boot_pgfree == sum(1 << e[2] for e in ev if e[0] == OP_FREE)


def test_run_mixed_then_free_everything_restores_the_boot_free_lists() -> None:
    """After the stream, freeing every block still held and draining the pcp lists gives
    back every page, fully merged: nr_free_pages and /proc/buddyinfo equal those at boot
    (__free_one_page() merges up to MAX_PAGE_ORDER across the pcp migratetypes)."""
    m = Machine(memory="512M", cpus=2)
    boot_free = m.nr_free_pages()
    boot_buddyinfo = m.proc("buddyinfo")
    rec = TraceRecorder()
    m.attach(rec)
    res = run_mixed(m, _stream(seed=5), check_every=5_000)
    live: dict[int, tuple[int, int]] = {}
    for name, cpu, args in rec.events:
        if name == "mm_page_alloc" and args[0] >= 0:
            live[args[0]] = (args[1], cpu)
        elif name == "mm_page_free":
            del live[args[0]]
    assert len(live) == res.allocs - res.frees
    for pfn, (order, cpu) in live.items():
        m.free_pages(pfn, order, cpu)
    m.drain_all_pages()
    m.check()
    assert m.nr_free_pages() == boot_free
    assert m.proc("buddyinfo") == boot_buddyinfo


def test_run_mixed_with_failures_skips_failed_slots() -> None:
    """Pushed past the memory (target occupancy 1.5 on 64 MiB) some allocations fail; their
    slots stay empty, frees of them are skipped, and the invariants still hold."""
    m = Machine(memory="64M", cpus=2)
    ram = sum(z.managed_pages for z in m.zones)
    ev = list(mixed_stream(MixedSpec(events=20_000, seed=3, cpus=2, target_occupancy=1.5), ram))
    res = run_mixed(m, ev, check_every=4_000)
    m.check()
    n_alloc = sum(1 for e in ev if e[0] == OP_ALLOC)
    assert res.alloc_failures > 0
    assert res.allocs + res.alloc_failures == n_alloc
    assert res.frees < len(ev) - n_alloc
    assert m.alloc.stats["alloc_fail"] == res.alloc_failures


def test_run_mixed_routes_unmapped_requests_through_the_2023_cache() -> None:
    """On unmapped-cache-2023, run_mixed sends __GFP_UNMAPPED requests to
    unmapped_pages_alloc() and frees of cache-owned pages back to the cache (never to the
    buddy allocator): the cache refills in PMD-order blocks, every unmapped request is
    served, and as posted only the requested pages leave the direct map, so the security
    counter sees unmapped pages still in it; with the whole-block fix it sees none."""
    ev = _stream(seed=5, unmapped_share=0.3)
    n_unmapped = sum(1 for e in ev if e[0] == OP_ALLOC and e[1] & G.__GFP_UNMAPPED)
    assert n_unmapped > 500
    for fixed in (False, True):
        m = Machine(memory="512M", cpus=2,
                    profile=with_knobs(UNMAPPED_CACHE_2023, cache_unmap_whole_block=fixed))
        res = run_mixed(m, ev, check_every=5_000)
        m.check()
        uc = m.unmapped_cache
        assert uc is not None and res.alloc_failures == 0
        assert uc.stats["allocs"] == n_unmapped
        assert uc.stats["refills"] >= 1 and uc.stats["refill_pages"] % 512 == 0
        assert uc.stats["frees"] > 0
        assert m.contents is not None
        present = m.contents.stats["unmapped_present_in_direct_map"]
        assert (present == 0) if fixed else (present > 0)
