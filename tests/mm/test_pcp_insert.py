"""PageAllocator.pcp_insert(): a block onto a pcp list with the pcp accounting, no vmstat event.

The state repair of a trace replay (pagealloc.workload.decide: giving back the model's pick,
taking the kernel's pcp refill) needs the list placement of ``list_add()`` (free path) or
``list_add_tail()`` (``rmqueue_bulk()``), ``pcp->count`` and the page's pcp state, but not
the ``PGFREE`` that :meth:`PageAllocator.pcp_push` counts for a real free.
"""
from __future__ import annotations

import pytest

from pagealloc.machine import Machine
from pagealloc.mm.freetype import MIGRATE_MOVABLE
from pagealloc.mm.mmzone import PS_PCP
from pagealloc.mm.page_alloc import PageStateError


def _taken(m: Machine, n: int, mt: int) -> list[int]:
    """``n`` order-0 pages taken straight from DMA's buddy lists and marked allocated."""
    z, a = m.zone("DMA"), m.alloc
    out = []
    for _ in range(n):
        p = a.rmqueue_smallest(z, 0, mt)
        a.post_alloc_hook(p, 0, 0, mt)
        out.append(p)
    return out


@pytest.mark.parametrize("profile", ["linux-7.2", "linux-6.1"])
def test_pcp_insert_head_and_tail_without_vmstat(profile: str) -> None:
    m = Machine(memory="64M", cpus=1, profile=profile)
    m.drain_all_pages()
    z, a = m.zone("DMA"), m.alloc
    pcp = z.pcp[0]
    p, q, r = _taken(m, 3, MIGRATE_MOVABLE)
    pgfree, count = m.vmstat()["pgfree"], pcp.count
    pindex = a.pcp_insert(pcp, p, MIGRATE_MOVABLE, 0, tail=False)
    assert a.pcp_insert(pcp, q, MIGRATE_MOVABLE, 0, tail=True) == pindex
    a.pcp_insert(pcp, r, MIGRATE_MOVABLE, 0, tail=False)
    assert pindex == m.profile.order_to_pindex(MIGRATE_MOVABLE, 0)
    assert m.mem.list_entries(pcp.list_base + pindex) == [r, p, q]
    assert pcp.count == count + 3
    assert all(m.mem.pstate[x] == PS_PCP | 0 for x in (p, q, r))
    assert m.vmstat()["pgfree"] == pgfree                   # no PGFREE: not a free
    if m.profile.pcp_cached_migratetype:                    # 6.1 set_pcppage_migratetype()
        assert all(m.mem.pkind[x] == MIGRATE_MOVABLE for x in (p, q, r))
    m.check()
    # __rmqueue_pcplist() hands out the head first
    assert a.rmqueue_pcplist(z, z, 0, MIGRATE_MOVABLE, 0) == r
    assert m.mem.list_entries(pcp.list_base + pindex) == [p, q]
    assert pcp.count == count + 2


def test_pcp_push_counts_pgfree_and_pcp_insert_does_not() -> None:
    m = Machine(memory="64M", cpus=1)
    m.drain_all_pages()
    a = m.alloc
    pcp = m.zone("DMA").pcp[0]
    p, q = _taken(m, 2, MIGRATE_MOVABLE)
    pgfree = m.vmstat()["pgfree"]
    a.pcp_push(pcp, p, MIGRATE_MOVABLE, 0)
    assert m.vmstat()["pgfree"] == pgfree + 1
    a.pcp_insert(pcp, q, MIGRATE_MOVABLE, 0, tail=True)
    assert m.vmstat()["pgfree"] == pgfree + 1


def test_pcp_insert_refuses_a_free_block_and_a_non_pcp_order() -> None:
    m = Machine(memory="64M", cpus=1)
    m.drain_all_pages()
    a = m.alloc
    pcp = m.zone("DMA").pcp[0]
    (p,) = _taken(m, 1, MIGRATE_MOVABLE)
    a.pcp_insert(pcp, p, MIGRATE_MOVABLE, 0, tail=False)
    with pytest.raises(PageStateError, match="already free"):
        a.pcp_insert(pcp, p, MIGRATE_MOVABLE, 0, tail=False)
    with pytest.raises(PageStateError, match="no pcp list"):
        a.pcp_insert(pcp, 0x800, MIGRATE_MOVABLE, 5, tail=False)
