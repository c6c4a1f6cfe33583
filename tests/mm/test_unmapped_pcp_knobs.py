"""The unmapped pcp bank knobs (profiles.unmapped_pcp, unmapped_pcp_batch; review E12)."""
from __future__ import annotations

import random

import pytest

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.profiles import UNMAPPED_V2, ProfileError, with_knobs

GFP_UNMAPPED = G.GFP_KERNEL | G.__GFP_UNMAPPED


def _unmapped_on_pcp(m: Machine) -> int:
    n = 0
    for z in m.populated_zones():
        for cpu in range(m.ncpus):
            for pindex, pfn in m.pcp_blocks(z, cpu):
                if m.mem.get_pfnblock_freetype(pfn) >> 3:
                    n += 1 << m.profile.pindex_to_order(pindex)
    return n


def _churn(m: Machine, n: int = 3000) -> None:
    rnd = random.Random(3)
    live: list[tuple[int, int]] = []
    for _ in range(n):
        if live and rnd.random() < 0.45:
            p, o = live.pop(rnd.randrange(len(live)))
            m.free_pages(p, o, rnd.randrange(m.ncpus))
            continue
        o = rnd.choice((0, 0, 0, 1, 3))
        got = m.alloc_pages(GFP_UNMAPPED, o, rnd.randrange(m.ncpus), owner=3)
        if got is not None:
            live.append((got, o))
        if rnd.random() < 0.3:
            q = m.alloc_pages(G.GFP_KERNEL, 0, 0)
            if q is not None:
                live.append((q, 0))
    m.check()


def test_no_unmapped_bank_keeps_unmapped_pages_off_the_pcp_lists() -> None:
    bank = Machine(memory="128M", cpus=2, profile=UNMAPPED_V2, thp=False)
    none = Machine(memory="128M", cpus=2, profile=with_knobs(UNMAPPED_V2, unmapped_pcp="none"),
                   thp=False)
    _churn(bank)
    _churn(none)
    assert _unmapped_on_pcp(bank) > 0
    assert _unmapped_on_pcp(none) == 0
    assert none.alloc.stats["flip_to_unmapped"] > 0


def test_unmapped_batch_sets_the_refill_size() -> None:
    m = Machine(memory="128M", cpus=1, profile=with_knobs(UNMAPPED_V2, unmapped_pcp_batch="4"),
                thp=False)
    # the first request flips a block (the refill finds nothing); the second refills
    assert m.alloc_pages(GFP_UNMAPPED, 0, 0, owner=3) is not None
    assert m.alloc_pages(GFP_UNMAPPED, 0, 0, owner=3) is not None
    assert _unmapped_on_pcp(m) == 3        # a refill of 4, one handed out
    _churn(m, 1000)


def test_unknown_pcp_knob_value() -> None:
    with pytest.raises(ProfileError):
        with_knobs(UNMAPPED_V2, unmapped_pcp="big")
