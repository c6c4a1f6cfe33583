"""pagealloc/experiments/latency.py: per-request modelled latency from counter deltas."""
from __future__ import annotations

import pytest

from pagealloc.experiments.cost import CostParams
from pagealloc.experiments.latency import (
    LatencyRecorder,
    components_share,
    latency_stats,
    percentile,
    run_scenario_latency,
)
from pagealloc.experiments.compare import Variant
from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.profiles import UNMAPPED_V2
from pagealloc.workload.scenario import load_scenario


def test_percentile_nearest_rank() -> None:
    v = [float(x) for x in range(1, 101)]
    assert percentile(v, 50) == 50 and percentile(v, 99) == 99 and percentile(v, 100) == 100
    assert percentile([7.0], 99.9) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile(v, 0)
    st = latency_stats([3.0, 1.0, 2.0])
    assert st is not None and (st.n, st.mean, st.p50, st.max) == (3, 2.0, 2.0, 3.0)
    assert latency_stats([]) is None


def test_a_flip_is_priced_into_the_request_that_caused_it() -> None:
    m = Machine(memory="64M", cpus=2, profile=UNMAPPED_V2, thp=False)
    rec = LatencyRecorder(m)
    gfp = G.GFP_KERNEL | G.__GFP_UNMAPPED
    flips0 = m.alloc.stats["flip_to_unmapped"]
    first = rec.measure("unmapped", lambda: m.alloc_pages(gfp, 0, 0, owner=3))
    assert first is not None and m.alloc.stats["flip_to_unmapped"] == flips0 + 1
    for _ in range(20):
        rec.measure("unmapped", lambda: m.alloc_pages(gfp, 0, 0, owner=3))
    rec.measure("mapped", lambda: m.alloc_pages(G.GFP_KERNEL, 0, 0))
    s = rec.samples["unmapped"]
    p = CostParams()
    # the flipping request pays the flip, its CPA and the full flush; the later ones do not
    assert s[0] >= p.buddy_op_ns + p.cpa_call_ns + p.full_flush_local_ns + p.ipi_round_trip_ns
    assert max(s[1:]) < s[0]
    st = rec.stats("unmapped")
    assert st is not None and st.max == s[0] and st.p50 <= st.p99 <= st.p999 <= st.max
    row = rec.row()
    assert row["unmapped_n"] == 21 and row["mapped_n"] == 1
    assert rec.row(("none",))["none_n"] is None
    share = components_share(rec.components["unmapped"])
    assert "tlb_full_flushes" in share and abs(sum(share.values()) - 100) < 1


def test_scenario_latency_matches_the_run_totals() -> None:
    scn = load_scenario("secretmem").scaled(0.03)
    row, samples, m, rec = run_scenario_latency(scn, Variant("v2", UNMAPPED_V2), None, 0.03, None, 500)
    n = sum(len(v) for v in rec.samples.values())
    assert n == row["allocs"] + row["alloc_failures"] - sum(
        v for k, v in row.items() if k.startswith("failures kind=pressure"))
    assert rec.samples["unmapped"] and samples
    st = rec.stats("unmapped")
    assert st is not None and st.p50 <= st.p99 <= st.max
