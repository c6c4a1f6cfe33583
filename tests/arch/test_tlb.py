"""Tests of pagealloc.arch.x86.tlb: flush_tlb_kernel_range()'s ceiling rule
(Linux 7.2 arch/x86/mm/tlb.c get_flush_tlb_info(): more than
tlb_single_page_flush_ceiling = 33 pages -> full flush), IPIs of on_each_cpu(),
and the stale direct-map translations that unmaps leave until flushed."""
from __future__ import annotations

import pytest

from pagealloc.arch.x86.tlb import TLB


def test_ceiling_33_ranged_34_full() -> None:
    t = TLB(8)
    t.flush_tlb_kernel_range(1000, 1033, cpu=0)
    assert t.stats["flush_ranged"] == 1 and t.stats["flush_full"] == 0
    assert t.stats["pages_flushed_ranged"] == 33
    t.flush_tlb_kernel_range(1000, 1034, cpu=0)
    assert t.stats["flush_ranged"] == 1 and t.stats["flush_full"] == 1
    assert t.stats["pages_flushed_ranged"] == 33
    # a 2 MiB pageblock is always a full flush
    t.flush_tlb_kernel_range(0, 512, cpu=3)
    assert t.stats["flush_full"] == 2
    assert t.stats["flush_tlb_kernel_range"] == 3


def test_custom_ceiling() -> None:
    t = TLB(2, single_page_flush_ceiling=0)
    t.flush_tlb_kernel_range(5, 6, cpu=1)
    assert t.stats["flush_full"] == 1


@pytest.mark.parametrize("ncpus", [1, 2, 64])
def test_ipis_per_flush(ncpus: int) -> None:
    t = TLB(ncpus)
    t.flush_tlb_kernel_range(0, 1, cpu=0)
    assert t.stats["ipis"] == ncpus - 1
    t.flush_tlb_kernel_range(0, 512, cpu=0)
    assert t.stats["ipis"] == 2 * (ncpus - 1)
    t.flush_tlb_all(cpu=ncpus - 1)
    assert t.stats["ipis"] == 3 * (ncpus - 1)
    t.flush_tlb_local(0)
    assert t.stats["ipis"] == 3 * (ncpus - 1) and t.stats["flush_local"] == 1


def test_invlpgb_sends_no_ipis() -> None:
    t = TLB(16, invlpgb=True)
    t.unmap(0, 512)
    t.flush_tlb_kernel_range(0, 512, cpu=0)
    t.flush_tlb_kernel_range(0, 1, cpu=0)
    assert t.stats["ipis"] == 0 and t.stats["invlpgb"] == 2
    assert not t.has_stale(0, 512)


def test_unmap_sets_stale_on_every_cpu() -> None:
    t = TLB(4)
    assert t.stale(100) == [] and not t.has_stale(0, 1 << 20)
    t.unmap(512, 512)
    assert t.stale(512) == [0, 1, 2, 3] and t.stale(1023) == [0, 1, 2, 3]
    assert t.stale(511) == [] and t.stale(1024) == []
    assert t.has_stale(0, 513) and not t.has_stale(0, 512) and not t.has_stale(1024, 10)
    assert t.stale_pages() == 512


def test_ranged_flush_clears_only_its_range() -> None:
    t = TLB(4)
    t.unmap(0, 100)
    t.flush_tlb_kernel_range(10, 20, cpu=2)
    assert t.stale(9) == [0, 1, 2, 3] and t.stale(10) == [] and t.stale(19) == []
    assert t.stale(20) == [0, 1, 2, 3]
    assert t.stale_pages() == 90
    assert t.intervals() == [(0, 10, 0xF), (20, 100, 0xF)]


def test_full_flush_clears_everything() -> None:
    t = TLB(4)
    t.unmap(0, 512)
    t.unmap(10000, 1)
    t.flush_tlb_kernel_range(10000, 10034, cpu=0)   # 34 pages: full
    assert t.stale_pages() == 0
    t.unmap(0, 512)
    t.flush_tlb_all(cpu=1)
    assert not t.has_stale(0, 512)


def test_local_flush_clears_one_cpu() -> None:
    t = TLB(3)
    t.unmap(0, 512)
    t.flush_tlb_local(1)
    assert t.stale(0) == [0, 2]
    t.unmap(256, 512)             # re-unmapped part: every CPU again
    assert t.stale(0) == [0, 2] and t.stale(300) == [0, 1, 2] and t.stale(700) == [0, 1, 2]
    assert t.intervals() == [(0, 256, 0b101), (256, 768, 0b111)]
    t.flush_tlb_local(0)
    t.flush_tlb_local(2)
    assert t.stale(0) == [] and t.stale(300) == [1]
    t.flush_tlb_local(1)
    assert t.stale_pages() == 0 and t.intervals() == []


def test_stale_tracking_is_compact() -> None:
    t = TLB(8)
    for i in range(2000):
        t.unmap(i * 512, 512)
    assert len(t.intervals()) == 1 and t.stale_pages() == 2000 * 512
    for i in range(0, 2000, 2):                       # every other block, 512 > ceiling
        t.unmap(2_000_000 + i * 512, 512)
    assert len(t.intervals()) == 1 + 1000
    t.flush_tlb_kernel_range(0, 33, cpu=0)
    assert len(t.intervals()) == 1 + 1000 and t.stale(33) and not t.stale(32)


def test_bad_cpu() -> None:
    t = TLB(2)
    with pytest.raises(ValueError):
        t.flush_tlb_local(2)
    with pytest.raises(ValueError):
        TLB(0)
