#!/usr/bin/env python3
"""Throughput and footprint benchmark of the pagealloc model.

Usage::

    python benchmarks/bench_alloc.py [--events N] [--seed S] [--skip-tib] [--profile] [--check]

Generates (untimed) a fixed, seeded stream of mixed alloc/free events for a 16 GiB,
4-CPU machine, then times only the replay of that stream through
``Machine.alloc_pages`` / ``Machine.free_pages`` (invariants off, no tracing sink).
Unless ``--skip-tib``, a child process (so its RSS is measured alone) builds a 1 TiB
machine and runs 10,000 order-0 GFP_KERNEL alloc/free pairs on it.

Output is ``key=value`` lines after a fixed header; only the fields whose names end in
``seconds``/``per_second`` and the ``*_rss_mib`` fields depend on the host.  See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from array import array

FORMAT_VERSION = 1
DEFAULT_EVENTS = 1_000_000
DEFAULT_SEED = 20240607
TIB_PAIRS = 10_000

# --- the stream's distribution -------------------------------------------------------
# order -> weight (percent); order 9 is THP-only (GFP_TRANSHUGE, movable, compound)
ORDER_WEIGHTS = ((0, 70), (1, 10), (2, 8), (3, 7), (9, 5))
# request kinds for orders 0-3: (weight percent, name); see _gfp_table()
MT_WEIGHTS = ((25, "unmovable"), (65, "movable"), (10, "reclaimable"))
LIVE_CAP_FRACTION = 0.60       # hard cap on live pages, as a fraction of managed pages
FREE_EXPONENT = 3              # p(free) = (live / cap) ** FREE_EXPONENT

# gfp index in the stream -> name (resolved to ints once, before timing)
GFP_KINDS = ("unmovable", "movable", "reclaimable", "thp")


def _gfp_table() -> list[int]:
    from pagealloc.mm import gfp as G
    table = {
        "unmovable": G.GFP_KERNEL,
        "movable": G.GFP_HIGHUSER_MOVABLE,
        "reclaimable": G.GFP_KERNEL | G.__GFP_RECLAIMABLE,
        "thp": G.GFP_TRANSHUGE,
    }
    return [table[k] for k in GFP_KINDS]


class Stream:
    """A pre-generated event stream, packed in flat arrays (a few bytes per event).

    Event ``i`` is an allocation if ``op[i] == 1`` (of ``1 << order[i]`` pages with
    ``GFP_KINDS[gfp[i]]`` on ``cpu[i]``, stored in ``slot[i]``) or a free if
    ``op[i] == 0`` (of the block stored in ``slot[i]``, same order, on ``cpu[i]``).
    Slots are recycled, so the replay's slot table is bounded by the peak live count.
    """

    __slots__ = ("op", "gfp", "order", "cpu", "slot", "nslots", "n_alloc", "n_free",
                 "peak_live_pages", "final_live_pages")

    def __init__(self) -> None:
        self.op = array("B")
        self.gfp = array("B")
        self.order = array("B")
        self.cpu = array("B")
        self.slot = array("I")
        self.nslots = 0
        self.n_alloc = 0
        self.n_free = 0
        self.peak_live_pages = 0
        self.final_live_pages = 0

    def __len__(self) -> int:
        return len(self.op)


def generate_stream(nevents: int, seed: int, managed_pages: int, ncpus: int) -> Stream:
    """The seeded stream: see the module docstring and README for the distribution.

    Occupancy is the stream's own count of live pages (it assumes every allocation
    succeeds).  A free happens with probability ``(live / cap) ** 3`` (``cap`` = 60% of
    managed pages), and always when the next allocation would cross ``cap``; it picks a
    uniformly random live allocation and a random CPU.
    """
    rng = random.Random(seed)
    rand = rng.random
    randrange = rng.randrange
    choices = rng.choices
    cap = int(managed_pages * LIVE_CAP_FRACTION)
    orders = [o for o, _ in ORDER_WEIGHTS]
    order_w = [w for _, w in ORDER_WEIGHTS]
    mt_idx = [GFP_KINDS.index(name) for _, name in MT_WEIGHTS]
    mt_w = [w for w, _ in MT_WEIGHTS]
    thp = GFP_KINDS.index("thp")

    # draw the request shapes in bulk (deterministic for the seed)
    order_draws = choices(orders, order_w, k=nevents)
    mt_draws = choices(mt_idx, mt_w, k=nevents)

    s = Stream()
    op, gfp, order_a, cpu_a, slot_a = s.op, s.gfp, s.order, s.cpu, s.slot
    live_slots: list[int] = []          # slots holding a live allocation (random access)
    live_order: list[int] = []          # parallel: its order
    free_slots: list[int] = []          # recycled slot ids
    live_pages = 0
    peak = 0
    nslots = 0
    n_alloc = n_free = 0
    for i in range(nevents):
        o = order_draws[i]
        size = 1 << o
        n_live = len(live_slots)
        do_free = n_live and (live_pages + size > cap or rand() < (live_pages / cap) ** FREE_EXPONENT)
        if do_free:
            j = randrange(n_live)
            sl = live_slots[j]
            fo = live_order[j]
            live_slots[j] = live_slots[-1]
            live_order[j] = live_order[-1]
            live_slots.pop()
            live_order.pop()
            free_slots.append(sl)
            live_pages -= 1 << fo
            op.append(0)
            gfp.append(0)
            order_a.append(fo)
            cpu_a.append(randrange(ncpus))
            slot_a.append(sl)
            n_free += 1
        else:
            if free_slots:
                sl = free_slots.pop()
            else:
                sl = nslots
                nslots += 1
            live_slots.append(sl)
            live_order.append(o)
            live_pages += size
            if live_pages > peak:
                peak = live_pages
            op.append(1)
            gfp.append(thp if o == 9 else mt_draws[i])
            order_a.append(o)
            cpu_a.append(randrange(ncpus))
            slot_a.append(sl)
            n_alloc += 1
    s.nslots = nslots
    s.n_alloc = n_alloc
    s.n_free = n_free
    s.peak_live_pages = peak
    s.final_live_pages = live_pages
    return s


def replay(m, stream: Stream, gfps: list[int]) -> tuple[int, int, int, int, list]:
    """Run the stream through ``m``; returns (allocs, frees, failures, skipped, slots).

    A failed allocation (None) is counted; the stream's later free of that slot is
    skipped and counted separately (``frees_skipped``).
    """
    alloc = m.alloc_pages
    free = m.free_pages
    slots: list = [None] * stream.nslots
    allocs = frees = failures = skipped = 0
    for op, g, order, cpu, sl in zip(stream.op, stream.gfp, stream.order, stream.cpu, stream.slot):
        if op:
            pfn = alloc(gfps[g], order, cpu)
            allocs += 1
            if pfn is None:
                failures += 1
            slots[sl] = pfn
        else:
            pfn = slots[sl]
            if pfn is None:
                skipped += 1
            else:
                free(pfn, order, cpu)
                frees += 1
            slots[sl] = None
    return allocs, frees, failures, skipped, slots


def peak_rss_mib() -> float:
    """``ru_maxrss`` of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(key: str, value: object) -> None:
    if isinstance(value, float):
        value = f"{value:.3f}"
    print(f"{key}={value}", flush=True)


def run_main(args: argparse.Namespace) -> int:
    from pagealloc.machine import Machine

    gfps = _gfp_table()
    t0 = time.perf_counter()
    m = Machine(memory="16G", cpus=4)
    build_s = time.perf_counter() - t0
    managed = sum(z.managed_pages for z in m.zones)
    stream = generate_stream(args.events, args.seed, managed, m.ncpus)

    profiler = None
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    allocs, frees, failures, skipped, slots = replay(m, stream, gfps)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - t0

    emit("events", len(stream))
    emit("seconds", seconds)
    emit("events_per_second", int(len(stream) / seconds) if seconds > 0 else 0)
    emit("allocs", allocs)
    emit("frees", frees)
    emit("frees_skipped", skipped)
    emit("alloc_failures", failures)
    emit("stream_peak_live_pages", stream.peak_live_pages)
    emit("final_free_pages", m.nr_free_pages())
    emit("peak_rss_mib", f"{peak_rss_mib():.1f}")
    emit("build_16g_seconds", build_s)

    if profiler is not None:
        import pstats
        print("# cProfile of the replay (top 25 by tottime)", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)

    rc = 0
    if args.check:
        # after the timing: run every invariant once on the final state
        from pagealloc.mm.debug import InvariantError
        try:
            m.check()
            emit("check", "ok")
        except InvariantError as e:
            emit("check", "FAILED")
            print(f"invariant violation: {e}", file=sys.stderr)
            rc = 1
    del slots

    if not args.skip_pressure:
        run_pressure(args.pressure_events, args.seed)

    if not args.skip_tib:
        child = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--tib-child"],
            stdout=subprocess.PIPE, text=True, check=False)
        sys.stdout.write(child.stdout)
        sys.stdout.flush()
        if child.returncode != 0:
            emit("tib_child_returncode", child.returncode)
            rc = rc or child.returncode
    return rc


def run_pressure(nevents: int, seed: int) -> None:
    """The slow path under memory pressure: owned memory on a 1 GiB, 2-CPU machine with
    256 MiB of swap.  A seeded stream (generated before timing) of page-cache reads (60 %),
    anon faults (25 %, of which 4 in 100 are order-9 THP faults with GFP_TRANSHUGE),
    reclaimable slab (10 %) and frees of a random live handle (5 %, plus whenever the
    stream's own live count passes 150 % of RAM), with a 10 ms tick every 1,000 events, so
    that kswapd, direct reclaim, compaction and kcompactd all run.  Times
    ``Machine.alloc_owned`` / ``free_owned`` / ``tick`` only."""
    from pagealloc.machine import Machine
    from pagealloc.mm import gfp as G

    rnd = random.Random(seed)
    m = Machine(memory="1G", cpus=2, swap="256M")
    managed = sum(z.managed_pages for z in m.zones)
    cap = managed * 3 // 2
    ops: list[tuple[int, int, int]] = []        # (op, order, cpu); op 0 free, 1 file, 2 anon, 3 slab
    live = 0
    sizes: list[int] = []
    for _ in range(nevents):
        r = rnd.random()
        cpu = rnd.randrange(2)
        if (r < 0.05 or live > cap) and sizes:
            i = rnd.randrange(len(sizes))
            sizes[i], sizes[-1] = sizes[-1], sizes[i]
            live -= 1 << sizes.pop()
            ops.append((0, i, cpu))
            continue
        if r < 0.65:
            op, order = 1, 0
        elif r < 0.90:
            op, order = 2, 9 if rnd.random() < 0.04 else 0
        else:
            op, order = 3, 0
        ops.append((op, order, cpu))
        sizes.append(order)
        live += 1 << order
    kinds = ("", "file", "anon", "slab")
    thp = G.GFP_TRANSHUGE
    handles: list[int | None] = []
    failures = 0
    t0 = time.perf_counter()
    for n, (op, arg, cpu) in enumerate(ops):
        if op == 0:
            i = arg
            handles[i], handles[-1] = handles[-1], handles[i]
            h = handles.pop()
            if h is not None:
                m.free_owned(h, cpu)
        else:
            h = m.alloc_owned(kinds[op], arg, cpu, thp if arg == 9 else None)
            if h is None:
                failures += 1
            handles.append(h)
        if n % 1000 == 999:
            m.tick(0.01)
    seconds = time.perf_counter() - t0
    ev = m.vm_events()
    emit("pressure_events", len(ops))
    emit("pressure_seconds", seconds)
    emit("pressure_events_per_second", int(len(ops) / seconds) if seconds > 0 else 0)
    emit("pressure_alloc_failures", failures)
    emit("pressure_slowpath", m.alloc.stats["slowpath"])
    for k in ("allocstall_movable", "allocstall_normal", "pgscan_kswapd", "pgscan_direct",
              "pgsteal_kswapd", "pgsteal_direct", "pswpout", "pageoutrun", "compact_stall",
              "compact_success", "compact_daemon_wake", "pgmigrate_success"):
        emit("pressure_" + k, ev.get(k, 0))
    emit("pressure_oom_reports", m.alloc.stats["oom"])


def run_tib_child() -> int:
    """Build a 1 TiB machine alone in this process; time it and 10k order-0 pairs."""
    from pagealloc.machine import Machine
    from pagealloc.mm import gfp as G

    t0 = time.perf_counter()
    m = Machine(memory="1T", cpus=4)
    build_s = time.perf_counter() - t0
    emit("build_1tib_seconds", build_s)
    emit("build_1tib_peak_rss_mib", f"{peak_rss_mib():.1f}")
    gfp = G.GFP_KERNEL
    alloc = m.alloc_pages
    free = m.free_pages
    ncpus = m.ncpus
    t0 = time.perf_counter()
    for i in range(TIB_PAIRS):
        cpu = i % ncpus
        pfn = alloc(gfp, 0, cpu)
        if pfn is None:
            emit("tib_alloc_failed_at", i)
            return 1
        free(pfn, 0, cpu)
    s = time.perf_counter() - t0
    emit("tib_events_per_second", int(2 * TIB_PAIRS / s) if s > 0 else 0)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="stream length (default 1,000,000)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"stream seed (default {DEFAULT_SEED})")
    p.add_argument("--skip-tib", action="store_true", help="skip the 1 TiB build in a child process")
    p.add_argument("--skip-pressure", action="store_true", help="skip the memory-pressure run")
    p.add_argument("--pressure-events", type=int, default=200_000,
                   help="length of the memory-pressure stream (default 200,000)")
    p.add_argument("--profile", action="store_true",
                   help="cProfile the replay; top 25 functions by tottime to stderr "
                        "(the timing fields then include profiler overhead)")
    p.add_argument("--check", action="store_true",
                   help="after the timed replay, run Machine.check() once (slow, untimed)")
    p.add_argument("--tib-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.tib_child:
        return run_tib_child()
    if args.events < 0:
        p.error("--events must be >= 0")
    print(f"# pagealloc benchmark v{FORMAT_VERSION} seed={args.seed} events={args.events}", flush=True)
    return run_main(args)


if __name__ == "__main__":
    sys.exit(main())
