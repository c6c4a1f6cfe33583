"""PFN-choice fidelity on real traces: the model picks what the kernel picked.

Starting from an exact dump, every successful mm_page_alloc is predicted by the model
(pcp head, rmqueue_bulk refills in ascending PFN, __rmqueue_smallest/expand, claim/steal)
and compared with the kernel's PFN (pagealloc.workload.decide_probe).  The thresholds
are below the measured rates of the whole interval (see the session notes) so that the
tests pin the allocator rules without depending on the paths that have no trace events.
"""
from __future__ import annotations

from pathlib import Path

from pagealloc.workload.decide_probe import probe


def test_linux_6_1_anon_every_pfn_matches(traces_dir: Path) -> None:
    """6.1 profile (fixed pcp high, free_factor, page->index drains): all of the first
    30 000 allocations of linux-6.1/anon and every pcp refill match the kernel exactly."""
    r = probe(traces_dir / "linux-6.1" / "anon", 1, limit=30000)
    stats = r["stats"]
    assert isinstance(stats, dict)
    assert stats["allocs"] >= 30000
    assert stats["match"] == stats["allocs"]
    assert stats["refills"] == stats.get("refills_equal", 0) > 0


def test_linux_7_2_anon_matches(traces_dir: Path) -> None:
    """7.2 profile (auto-tuned pcp high, nr_pcp_alloc batches): >= 99.5% of the first
    30 000 allocations of linux-7.2/anon match, and every pcp refill pulls the kernel's pages."""
    r = probe(traces_dir / "linux-7.2" / "anon", 1, limit=30000)
    stats = r["stats"]
    assert isinstance(stats, dict)
    assert float(r["match_rate"]) >= 0.995
    assert stats["refills"] == stats.get("refills_equal", 0) > 0
