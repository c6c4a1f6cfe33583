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
