"""A seeded mixed alloc/free stream: the built-in default workload and the benchmark's.

Not a model of any particular application: a reproducible stress of the allocator's common
paths (pcp hits and refills, buddy splits and merges, claims and steals, THP-order pcp
lists) with the three pcp migratetypes, several CPUs, and a live set held near a target
occupancy so that the machine runs close to, but normally not into, its watermarks.

Events are plain tuples so a stream can be generated once and replayed cheaply:
``(OP_ALLOC, gfp, order, cpu)`` and ``(OP_FREE, slot, order, cpu)`` where ``slot`` is the index
of the earlier allocation to free and ``order`` its order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

from pagealloc.mm import gfp as G

OP_ALLOC = 0
OP_FREE = 1

GFP_UNMOVABLE = G.GFP_KERNEL
GFP_MOVABLE = G.GFP_HIGHUSER_MOVABLE
GFP_RECLAIMABLE = G.GFP_KERNEL | G.__GFP_RECLAIMABLE
GFP_THP = G.GFP_TRANSHUGE
#: marks an unmapped request in a stream (the __GFP_UNMAPPED bit; run_mixed turns it into
#: ALLOC_UNMAPPED on the v4 profile)
UNMAPPED_REQUEST = G.__GFP_UNMAPPED


@dataclass(frozen=True, slots=True)
class MixedSpec:
    """Parameters of :func:`mixed_stream` (defaults: the benchmark's stream)."""

    events: int = 1_000_000
    seed: int = 42
    cpus: int = 4
    #: order weights for orders 0, 1, 2, 3 and 9 (9 is THP-like and always movable)
    order_weights: tuple[float, float, float, float, float] = (70, 10, 8, 7, 5)
    #: unmovable / movable / reclaimable shares for orders 0-3
    mt_weights: tuple[float, float, float] = (25, 65, 10)
    #: target fraction of RAM held live; frees become likelier as it is approached
    target_occupancy: float = 0.6
    #: share of the unmovable order-0..3 requests that ask for unmapped pages (the series:
    #: __GFP_UNMAPPED in v2, ALLOC_UNMAPPED in v4), e.g. guest_memfd or secretmem memory
    unmapped_share: float = 0.0


def mixed_stream(spec: MixedSpec, ram_pages: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield the events of a seeded mixed stream for a machine of ``ram_pages`` pages."""
    rng = random.Random(spec.seed)
    orders = (0, 1, 2, 3, 9)
    cum_o = _cumulative(spec.order_weights)
    cum_m = _cumulative(spec.mt_weights)
    gfps = (GFP_UNMOVABLE, GFP_MOVABLE, GFP_RECLAIMABLE)
    target = max(1, int(ram_pages * spec.target_occupancy))
    live: list[tuple[int, int]] = []        # (slot, order)
    live_pages = 0
    slot = 0
    for _ in range(spec.events):
        cpu = rng.randrange(spec.cpus)
        p_free = 0.5 * (live_pages / target) ** 2 if live_pages < target else 0.95
        if live and rng.random() < p_free:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            s, o = live.pop()
            live_pages -= 1 << o
            yield (OP_FREE, s, o, cpu)
            continue
        order = orders[_pick(cum_o, rng.random())]
        gfp = GFP_THP if order == 9 else gfps[_pick(cum_m, rng.random())]
        if spec.unmapped_share and gfp == GFP_UNMOVABLE and rng.random() < spec.unmapped_share:
            gfp = GFP_UNMOVABLE | UNMAPPED_REQUEST
        yield (OP_ALLOC, gfp, order, cpu)
        live.append((slot, order))
        live_pages += 1 << order
        slot += 1


def _cumulative(weights: tuple[float, ...]) -> list[float]:
    total = float(sum(weights))
    acc = 0.0
    out = []
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def _pick(cum: list[float], x: float) -> int:
    for i, c in enumerate(cum):
        if x < c:
            return i
    return len(cum) - 1


@dataclass(slots=True)
class MixedResult:
    allocs: int = 0
    frees: int = 0
    alloc_failures: int = 0


def run_mixed(machine: object, events: list[tuple[int, int, int, int]] | Iterator[tuple[int, int, int, int]],
              check_every: int = 0) -> MixedResult:
    """Replay a stream on a machine; a failed allocation leaves its slot empty."""
    from pagealloc.machine import Machine
    assert isinstance(machine, Machine)
    alloc = machine.alloc
    v4 = machine.profile.unmapped == "v4"
    cache = machine.unmapped_cache
    res = MixedResult()
    pfns: dict[int, int] = {}
    slot = 0
    n = 0
    for op, a, order, cpu in events:
        if op == OP_ALLOC:
            if a & UNMAPPED_REQUEST and v4:
                pfn = alloc.alloc_pages(a & ~UNMAPPED_REQUEST, order, cpu, True)
            elif cache is not None:
                # the 2023 cache is routed in Machine's entry points: go through them
                got = machine.alloc_pages(a, order, cpu)
                pfn = -1 if got is None else got
            else:
                pfn = alloc.alloc_pages(a, order, cpu)
            if pfn >= 0:
                pfns[slot] = pfn
                res.allocs += 1
            else:
                res.alloc_failures += 1
            slot += 1
        else:
            pfn = pfns.pop(a, -1)
            if pfn >= 0:
                if cache is not None:
                    machine.free_pages(pfn, order, cpu)
                else:
                    alloc.free_frozen_pages(pfn, order, cpu)
                res.frees += 1
        n += 1
        if check_every and n % check_every == 0:
            machine.check()
    return res
