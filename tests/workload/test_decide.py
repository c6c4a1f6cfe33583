"""PFN-choice fidelity on real traces: the model picks what the kernel picked.

Starting from an exact dump, every successful mm_page_alloc is predicted by the model
(pcp head, rmqueue_bulk refills in ascending PFN, __rmqueue_smallest/expand, claim/steal)
and compared with the kernel's PFN (pagealloc.workload.decide.DecideReplay).  The thresholds
are below the measured rates of the whole interval (see the session notes) so that the
tests pin the allocator rules without depending on the paths that have no trace events.
"""
from __future__ import annotations

from pathlib import Path

from pagealloc.workload.decide import DecideReplay, compare_state
from pagealloc.workload.state import machine_from_snapshot


def test_linux_6_1_anon_every_pfn_matches(traces_dir: Path) -> None:
    """6.1 profile (fixed pcp high, free_factor, page->index drains): all of the first
    30 000 allocations of linux-6.1/anon and every pcp refill match the kernel exactly."""
    r = DecideReplay(traces_dir / "linux-6.1" / "anon", 1, limit=30000).run()
    stats = r["stats"]
    assert isinstance(stats, dict)
    assert stats["allocs"] >= 30000
    assert stats["match"] == stats["allocs"]
    assert stats["refills"] == stats.get("refills_equal", 0) > 0


def test_linux_7_2_anon_matches(traces_dir: Path) -> None:
    """7.2 profile (auto-tuned pcp high, nr_pcp_alloc batches): >= 99.5% of the first
    30 000 allocations of linux-7.2/anon match, and every pcp refill pulls the kernel's pages."""
    r = DecideReplay(traces_dir / "linux-7.2" / "anon", 1, limit=30000).run()
    stats = r["stats"]
    assert isinstance(stats, dict)
    rate = r["match_rate"]
    assert isinstance(rate, float) and rate >= 0.995
    assert stats["refills"] == stats.get("refills_equal", 0) > 0


def test_state_at_the_next_dump_equals_the_kernels(traces_dir: Path) -> None:
    """linux-7.2/highorder from dump 1 to dump 2: every allocation matches, and the model's
    free lists, pageblock types and pcp page count at the next dump equal that dump's
    (compare_state), cell for cell of /proc/pagetypeinfo."""
    r = DecideReplay(traces_dir / "linux-7.2" / "highorder", 1).run()
    assert r["match_rate"] == 1.0 and r["next_dump"] == 2
    st = r["state_at_next_dump"]
    assert isinstance(st, dict)
    assert st["free_page_agreement"] == st["free_block_agreement"] == st["pageblock_agreement"] == 1.0
    assert st["pagetypeinfo_max_cell_error"] == 0.0
    assert st["pcp_pages_model"] == st["pcp_pages_kernel"] > 0


def test_compare_state_sees_a_difference(traces_dir: Path) -> None:
    """compare_state of a dump with itself is perfect; after one order-3 allocation on the
    model side the free sets, blocks and the affected pagetypeinfo cell differ."""
    snap = traces_dir / "linux-7.2" / "highorder" / "snap_before"
    m, ref = machine_from_snapshot(snap), machine_from_snapshot(snap)
    same = compare_state(m, ref)
    assert same["free_page_agreement"] == same["free_block_agreement"] == 1.0
    assert same["pagetypeinfo_max_cell_error"] == 0.0
    m.drain_all_pages()
    assert m.alloc_pages("GFP_KERNEL", 5) is not None
    diff = compare_state(m, ref)
    assert diff["free_page_agreement"] < 1.0 and diff["free_block_agreement"] < 1.0
    assert 0.0 < diff["pagetypeinfo_max_cell_error"] <= 1.0
    assert diff["pcp_pages_model"] == 0 < diff["pcp_pages_kernel"]


def test_take_page_of_a_block_the_model_holds_in_pieces() -> None:
    """The kernel hands out a block that the model holds as several free blocks (it missed
    a merge: one page sits on a pcp list): take_page takes every piece, from the buddy and
    the pcp lists, and the range becomes one allocated block; with a page of the range
    allocated in the model nothing changes."""
    from pagealloc.machine import Machine
    from pagealloc.mm.freetype import MIGRATE_MOVABLE
    from pagealloc.mm.mmzone import PS_ALLOC, PS_BUDDY
    from pagealloc.workload.decide import covering_block, take_page
    m = Machine(memory="64M", cpus=1)
    m.drain_all_pages()
    z = m.zone("DMA")
    pcp = z.pcp[0]
    assert covering_block(m, 0x100) == (0x100, 8, PS_BUDDY)
    assert take_page(m, 0x101, 0)
    m.alloc.pcp_insert(pcp, 0x101, MIGRATE_MOVABLE, 0, tail=False)
    assert covering_block(m, 0x180)[1] == 7
    free_before, pcp_before = z.nr_free_pages, pcp.count
    assert take_page(m, 0x100, 8)
    assert m.mem.pstate[0x100] == PS_ALLOC | 8
    assert pcp.count == pcp_before - 1
    assert z.nr_free_pages == free_before - 255
    assert all(covering_block(m, q)[0] == 0x100 for q in range(0x100, 0x200))
    m.check()
    assert take_page(m, 0x201, 0)
    assert not take_page(m, 0x200, 9)         # 0x201 is allocated in the model
    assert covering_block(m, 0x300)[2] == PS_BUDDY


def test_compaction_isolation_is_replayed(traces_dir: Path) -> None:
    """linux-6.1/highorder 1 -> 2 runs compact_memory: every mm_compaction_isolate_freepages
    range is isolated by the model's isolate_freepages_block() with the kernel's nr_taken
    (11 567 pages, traces README 9.4), and the model's free blocks at the next dump equal
    the dump's; without the compaction replay they do not."""
    cap = traces_dir / "linux-6.1" / "highorder"
    r = DecideReplay(cap, 1).run()
    st, stats = r["state_at_next_dump"], r["stats"]
    assert isinstance(st, dict) and isinstance(stats, dict)
    assert stats["compaction_isolated_pages"] == stats["compaction_isolated_kernel"] == 11567
    assert "compaction_isolate_mismatch" not in stats
    assert st["free_block_agreement"] == 1.0 and st["pagetypeinfo_max_cell_error"] == 0.0
    off = DecideReplay(cap, 1, replay_compaction=False).run()
    st_off = off["state_at_next_dump"]
    assert isinstance(st_off, dict) and st_off["free_block_agreement"] < 0.9
    assert off["match_rate"] == r["match_rate"]


def test_split_free_block_at_a_range_end() -> None:
    """A free block across a compaction range's end is split into aligned free blocks that
    do not cross it (expand()'s halves), free pages unchanged."""
    from pagealloc.machine import Machine
    from pagealloc.mm.mmzone import PS_BUDDY
    from pagealloc.workload.decide import _split_free_block_at, covering_block
    m = Machine(memory="64M", cpus=1)
    m.drain_all_pages()
    z = m.zone("DMA")
    free = z.nr_free_pages
    assert not _split_free_block_at(m, 0x100)              # a block starts there
    assert _split_free_block_at(m, 0x150)
    got = []
    q = 0x100
    while q < 0x200:
        head, order, st = covering_block(m, q)
        assert st == PS_BUDDY
        got.append((head, order))
        q = head + (1 << order)
    assert got == [(0x100, 6), (0x140, 4), (0x150, 4), (0x160, 5), (0x180, 7)]
    assert z.nr_free_pages == free          # (0x140 and 0x150 stay unmerged: the replay
                                            # isolates the range's side right after)


def test_softirq_frees_between_a_tasks_drains_skip_the_pcp() -> None:
    """A burst of softirq frees right between two mm_page_pcpu_drain lines, or two
    mm_page_free_batched lines, of one task ran while that task held the pcp lock: their
    pcp_spin_trylock() failed and they went to free_one_page(); a burst after another event
    is not inferred, nor one after a 6.1 batch's 32nd commit (the lock is dropped there)."""
    import collections

    from pagealloc.workload.decide import DecideReplay
    from pagealloc.workload.ftrace import parse_line

    def line(n: int, flags: str, body: str, task: str = "gtwork-370") -> object:
        return parse_line(f"{task:>16} [000] {flags}    28.0{n:05d}: {body}", n)

    drain = "mm_page_pcpu_drain: page=ffffea0000000000 pfn={:#x} order=0 migratetype=1"
    free = "mm_page_free: page=ffffea0000000000 pfn={:#x} order=0"
    evs = [line(1, "d..3.", drain.format(0x100)), line(2, ".ls3.", free.format(0x200)),
           line(3, ".ls3.", free.format(0x201)), line(4, "dl.3.", drain.format(0x101)),
           line(5, ".....", free.format(0x300)), line(6, "..s3.", free.format(0x202)),
           line(7, "d..3.", drain.format(0x102)),
           line(8, "d..3.", drain.format(0x103), task="kswapd0-42"),
           line(9, "..s3.", free.format(0x203)), line(10, "d..3.", drain.format(0x104))]
    def infer(events: list[object], kernel: str = "7.2") -> set[int]:
        import types
        dr = DecideReplay.__new__(DecideReplay)
        dr.events = events  # type: ignore[assignment]
        dr.to_buddy = set()
        dr.stats = collections.Counter()
        dr.m = types.SimpleNamespace(profile=types.SimpleNamespace(kernel=kernel))  # type: ignore[assignment]
        dr.infer_frees_under_held_pcp_lock()
        assert dr.stats["free_under_pcp_lock_inferred"] == len(dr.to_buddy)
        return dr.to_buddy

    assert infer(evs) == {id(evs[1]), id(evs[2])}
    # between two batched commits of one task (free_unref_folios / free_unref_page_list);
    # 6.1 drops the lock after every 32nd commit
    batched = "mm_page_free_batched: page=ffffea0000000000 pfn={:#x} order=0"
    run = [line(20 + q, "...2.", batched.format(0x400 + q), task="rm-278") for q in range(32)]
    burst = [line(60, ".Ns4.", free.format(0x500), task="rm-278")]
    after = [line(61, ".N.2.", batched.format(0x480), task="rm-278")]
    assert infer(run + burst + after) == {id(burst[0])}
    assert infer(run + burst + after, "6.1") == set()
    assert infer(run[1:] + burst + after, "6.1") == {id(burst[0])}


def test_refill_that_fed_a_bulk_allocation(traces_dir: Path) -> None:
    """linux-7.2/fork 1 -> 2: one pcp refill whose first page is not the next allocation's
    page fed an alloc_pages_bulk() (no mm_page_alloc, traces README 9.1); applied to the
    list of its own type instead of the next request's, the model's free blocks at the
    next dump equal the dump's and the PFN match rises."""
    cap = traces_dir / "linux-7.2" / "fork"
    r = DecideReplay(cap, 1).run()
    off = DecideReplay(cap, 1, infer_bulk_refill=False).run()
    stats, st, st_off = r["stats"], r["state_at_next_dump"], off["state_at_next_dump"]
    assert isinstance(stats, dict) and isinstance(st, dict) and isinstance(st_off, dict)
    assert stats["refill_without_alloc_inferred"] == 1
    assert st["free_block_agreement"] == 1.0 > st_off["free_block_agreement"]
    rate, rate_off = r["match_rate"], off["match_rate"]
    assert isinstance(rate, float) and isinstance(rate_off, float)
    assert rate >= 0.999 and rate > rate_off


def test_bulk_allocated_pages_with_no_later_event(traces_dir: Path) -> None:
    """linux-6.1/fork: alloc_pages_bulk() takes kernel-stack pages off the pcp list without
    an event (traces README 9.1); the pages that are never freed before the next dump are
    recognised by the dump holding them allocated, and every allocation then matches."""
    r = DecideReplay(traces_dir / "linux-6.1" / "fork", 1).run()
    stats = r["stats"]
    assert isinstance(stats, dict)
    assert stats["match"] == stats["allocs"] > 80000
    assert stats["bulk_alloc_inferred"] > 0


def test_buddy_allocation_decided_at_its_zone_locked_line() -> None:
    """__rmqueue_smallest() traces mm_page_alloc_zone_locked under zone->lock as it takes
    the block; mm_page_alloc fires at the end of the allocator, after post_alloc_hook()
    (init_on_alloc clearing), where the task can be preempted: the allocation is decided
    at the zone_locked line, with that line's time and CPU.  Interrupt lines in the task's
    context do not stop the move; another line of the task, a different PFN or a
    compaction isolation before the allocation do."""
    import collections

    from pagealloc.workload.ftrace import TraceEvent, parse_line

    def line(n: int, flags: str, body: str, task: str = "dd-400") -> TraceEvent:
        ev = parse_line(f"{task:>16} [000] {flags}    22.{n:06d}: {body}", n)
        assert ev is not None
        return ev

    zl = "mm_page_alloc_zone_locked: page=ffffea0000000000 pfn={:#x} order=8 migratetype=1 percpu_refill=0"
    alloc = ("mm_page_alloc: page=ffffea0000000000 pfn={:#x} order=8 migratetype=1 "
             "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_WRITE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP")
    free = "mm_page_free: page=ffffea0000000000 pfn={:#x} order=8"
    sfree = "mm_page_free: page=ffffea0000000000 pfn={:#x} order=0"
    a = [line(1, "dl.1.", zl.format(0x1000)), line(2, ".....", free.format(0x2000), "kswapd0-42"),
         line(3, "..s1.", sfree.format(0x3000)), line(4, ".....", alloc.format(0x1000))]
    b = [line(5, "d..1.", zl.format(0x1100)), line(6, ".....", alloc.format(0x1100))]
    c = [line(7, "dl.1.", zl.format(0x1200)), line(8, ".....", free.format(0x2100), "kswapd0-42"),
         line(9, ".....", sfree.format(0x3100)), line(10, ".....", alloc.format(0x1200))]
    d = [line(11, "dl.1.", zl.format(0x1300)), line(12, ".....", free.format(0x2200), "kswapd0-42"),
         line(13, ".....", alloc.format(0x1400))]
    e = [line(14, "dl.1.", zl.format(0x1500)), line(15, ".....", free.format(0x2300), "kswapd0-42"),
         line(16, ".....", alloc.format(0x1500))]

    def order(events: list[TraceEvent], isolated: tuple[TraceEvent, ...] = ()) -> list[int]:
        dr = DecideReplay.__new__(DecideReplay)
        dr.events = list(events)
        dr.stats = collections.Counter()
        dr.decided_at = {}
        dr.isolations = {id(x): [] for x in isolated}
        dr.decide_buddy_allocs_at_zone_locked()
        assert dr.stats["alloc_decided_at_zone_locked"] == len(dr.decided_at)
        assert all(dr.events[dr.events.index(zl_ev) + 1] is next(
            x for x in events if id(x) == k) for k, zl_ev in dr.decided_at.items())
        return [x.lineno for x in dr.events]

    assert order(a + b + c + d) == [1, 4, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert order(e) == [14, 16, 15]
    assert order(e, isolated=(e[2],)) == [14, 15, 16]
    # a pcp refill run: __rmqueue_pcplist() pops its first page under the same pcp lock
    refill = "mm_page_alloc_zone_locked: page=ffffea0000000000 pfn={:#x} order=9 migratetype=1 percpu_refill=1"
    alloc9 = "mm_page_alloc: page=ffffea0000000000 pfn={:#x} order=9 migratetype=1 gfp_flags=GFP_NOFS"
    f = [line(20, "dl.3.", refill.format(0x2000), "cat-447"), line(21, "dl.3.", refill.format(0x2200), "cat-447"),
         line(22, ".....", free.format(0x3000), "kswapd0-42"), line(23, ".....", alloc9.format(0x2000), "cat-447"),
         line(24, ".....", alloc9.format(0x2200), "cat-447")]
    assert order(f) == [20, 21, 23, 22, 24]
    g = [f[0], f[1], f[2], f[4]]              # the second refill page is not the one popped
    assert order(g) == [20, 21, 22, 24]


def test_reclaim_preempted_allocations_decide_exactly(traces_dir: Path) -> None:
    """linux-7.2/reclaim 2 -> 3: dd is preempted by kswapd0 between the zone_locked line
    of its order-8 page-cache folio (gfp 0x153cca) and its mm_page_alloc line; kswapd's
    frees in between lift DMA32 over its low watermark (plus lowmem_reserve), so deciding
    at mm_page_alloc takes a DMA32 block where the kernel, at the zone_locked line, had
    failed both zones' low marks and took Normal in the slow path's min-mark pass.
    Decided at the zone_locked line, every allocation of the interval matches.  In 4 -> 5
    cat is preempted (dl.3.) after the pcp refill of its order-9 readahead folio: the
    kernel popped the refill's first page before kswapd0 ran, and the interval decides
    exactly (its pcp pages at the next dump too) only with the allocation moved there."""
    cap = traces_dir / "linux-7.2" / "reclaim"
    for dump in (2, 4):
        r = DecideReplay(cap, dump).run()
        off = DecideReplay(cap, dump, decide_at_zone_locked=False).run()
        stats = r["stats"]
        assert isinstance(stats, dict) and stats["alloc_decided_at_zone_locked"] >= 5
        assert r["match_rate"] == 1.0 and r["first_misses"] == []
        rate_off = off["match_rate"]
        assert isinstance(rate_off, float) and rate_off < 1.0
    st = r["state_at_next_dump"]
    assert isinstance(st, dict) and st["free_page_agreement"] == 1.0
    assert st["pcp_pages_model"] == st["pcp_pages_kernel"]


def test_outstanding_block_layout_from_the_trace_not_from_later_kpageflags(traces_dir: Path) -> None:
    """linux-7.2/reclaim 4 -> 5: the order-2 vmalloc block 0x61dc0 (gfp 0x29c2, no
    __GFP_COMP) allocated before dump 4 is still outstanding at the dump, but kpageflags,
    read after the dump (traces README 11), already shows the order-2 compound slab page
    allocated there later.  The trace's layout wins: a non-compound order-2 block, whose
    vfree (4 order-0 frees) returns it whole to the order-2 pcp list, where the kernel's
    next two order-2 allocations find it."""
    from pagealloc.mm.mmzone import KIND_COMPOUND, PS_ALLOC

    cap = traces_dir / "linux-7.2" / "reclaim"
    dr = DecideReplay(cap, 4)
    assert dr.interval.outstanding[0x61dc0][0] == 2
    assert dr.m.mem.pstate[0x61dc0] == PS_ALLOC | 2
    assert not dr.m.mem.pkind[0x61dc0] & KIND_COMPOUND
    r = dr.run()
    misses = r["first_misses"]
    assert isinstance(misses, list)
    assert not any(x.startswith(("line 90518:", "line 98633:")) for x in misses)
