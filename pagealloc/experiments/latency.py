"""Modelled per-request latency
------------------------------

The cost model (:mod:`pagealloc.experiments.cost`) prices counters; this module prices
*requests*: it snapshots the machine's counters (:func:`~pagealloc.experiments.cost.machine_counters`)
around each request, prices the delta with :func:`~pagealloc.experiments.cost.modelled_cost`
(so every component cost.py knows, now or later, is charged) and keeps one sample per
request, by class (``unmapped``/``mapped``).  The allocator's hot path is untouched: the
snapshots are taken by the experiment harness.

What a request's latency includes: everything the allocator did while serving it (fast
path, pcp refill, a flip with its CPA, flush and IPIs, direct reclaim and compaction, zeroing)
priced by the cost model; not what background agents (kswapd, kcompactd) did between
requests, nor the later free.  A failed request is a sample too (its time was spent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

from pagealloc.experiments.cost import CostParams, counter_delta, machine_counters, modelled_cost

if TYPE_CHECKING:
    from pagealloc.machine import Machine

__all__ = ("LatencyRecorder", "LatencyStats", "components_share", "latency_stats", "percentile",
           "recording_runner", "run_scenario_latency")

T = TypeVar("T")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 < q <= 100) by the nearest-rank method: the smallest value
    with at least ``q`` % of the samples at or below it.

    :raises ValueError: for no values or ``q`` outside (0, 100].
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q!r}: not in (0, 100]")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one class of requests, in ns."""

    n: int
    mean: float
    p50: float
    p99: float
    p999: float
    max: float

    def as_row(self, prefix: str) -> dict[str, float | int]:
        """Rows ``{prefix}_n``, ``{prefix}_mean_ns`` ... rounded to 0.1 ns."""
        return {f"{prefix}_n": self.n, f"{prefix}_mean_ns": round(self.mean, 1),
                f"{prefix}_p50_ns": round(self.p50, 1), f"{prefix}_p99_ns": round(self.p99, 1),
                f"{prefix}_p99.9_ns": round(self.p999, 1), f"{prefix}_max_ns": round(self.max, 1)}


def latency_stats(values: Sequence[float]) -> LatencyStats | None:
    """Mean, p50, p99, p99.9 and max of ``values`` (None when there are none)."""
    if not values:
        return None
    s = sorted(values)
    return LatencyStats(len(s), sum(s) / len(s), percentile(s, 50), percentile(s, 99),
                        percentile(s, 99.9), s[-1])


@dataclass
class LatencyRecorder:
    """Per-request modelled latency of one machine.

    ``measure(cls, fn)`` runs ``fn`` (one request) between two counter snapshots and keeps
    the priced delta under ``cls``; ``components[cls]`` sums each cost component over the
    class, so a report can say what the tail is made of."""

    m: Machine
    params: CostParams = field(default_factory=CostParams)
    samples: dict[str, list[float]] = field(default_factory=dict)
    components: dict[str, dict[str, float]] = field(default_factory=dict)

    def measure(self, cls: str, fn: Callable[[], T]) -> T:
        before = machine_counters(self.m)
        out = fn()
        cost = modelled_cost(counter_delta(machine_counters(self.m), before), self.params)
        self.samples.setdefault(cls, []).append(cost["total_ns"])
        comp = self.components.setdefault(cls, {})
        for k, v in cost.items():
            if k != "total_ns" and v:
                comp[k] = comp.get(k, 0.0) + v
        return out

    def stats(self, cls: str) -> LatencyStats | None:
        return latency_stats(self.samples.get(cls, []))

    def row(self, classes: Sequence[str] = ("unmapped", "mapped")) -> dict[str, float | int | None]:
        """One table column: ``{cls}_n/_mean_ns/_p50_ns/_p99_ns/_p99.9_ns/_max_ns`` per class (None
        where the class had no request)."""
        out: dict[str, float | int | None] = {}
        for c in classes:
            st = self.stats(c)
            if st is None:
                out.update({f"{c}_{k}": None for k in ("n", "mean_ns", "p50_ns", "p99_ns", "p99.9_ns",
                                                    "max_ns")})
            else:
                out.update(st.as_row(c))
        return out


def recording_runner(scn: Any, m: Machine, recorder: LatencyRecorder, *, seed: int | None,
                     scale: float, every: int, sample: Callable[[Machine, int], None] | None = None
                     ) -> Any:
    """A :class:`~pagealloc.workload.scenario.ScenarioRunner` whose every allocation request
    (``_request``: one ``alloc_pages``/``alloc_owned`` call of a source, a VM start, a
    fragmenter's split) is measured by ``recorder``, classed ``unmapped`` or ``mapped``;
    ``sample(machine, n_events)`` is its sampling hook."""
    from pagealloc.workload.scenario import ScenarioRunner

    class _Runner(ScenarioRunner):
        def _request(self, s: Any, use: Any, gfp: int, order: int, cpu: int, owner: int | None,
                     unmapped: bool, item: Any, dirty: bool) -> bool:
            sup = super()._request
            return recorder.measure("unmapped" if unmapped else "mapped",
                                    lambda: sup(s, use, gfp, order, cpu, owner, unmapped, item, dirty))

        def sample(self) -> None:
            if sample is not None:
                sample(self.m, self.n_events)

    return _Runner(scn, m, seed=seed, scale=scale, every=every)


def components_share(comp: Mapping[str, float]) -> dict[str, float]:
    """Each component's share of the class total, in % (0.1)."""
    total = sum(comp.values())
    return {k: round(100 * v / total, 1) for k, v in comp.items()} if total else {}


def run_scenario_latency(scn: Any, variant: Any, seed: int | None, scale: float,
                         overrides: Mapping[str, Any] | None, every: int,
                         params: CostParams = CostParams()
                         ) -> tuple[dict[str, Any], list[dict[str, int]], Machine, LatencyRecorder]:
    """:func:`pagealloc.experiments.compare.run_scenario_variant` with every request
    measured: the column's rows, its samples, the machine and the recorder."""
    from pagealloc.experiments.compare import measure_state, scenario_row
    from pagealloc.workload import scenario as S
    m = S.build_machine(scn, variant.profile, overrides)
    before = machine_counters(m)
    rec = LatencyRecorder(m, params)
    samples: list[dict[str, int]] = []
    res = recording_runner(scn, m, rec, seed=seed, scale=scale, every=every,
                           sample=lambda mm, n: samples.append(measure_state(mm) | {"event": n})).run()
    row: dict[str, Any] = scenario_row(scn, m, before, samples, res, params)
    return row, samples, m, rec
