"""``pagealloc compare``: the same events through several profiles or variants, side by side.

A *variant* is a profile name, optionally with knobs: ``unmapped-v2+flip_mode=claim+
zero_on_map_back=true`` (:data:`pagealloc.profiles.KNOBS`).  A scenario (built-in name or
TOML file, :mod:`pagealloc.workload.scenario`) is run once per variant with the same seed
and scale, so every column sees the same request stream (the requests' *outcomes* differ,
and with them the frees that follow a failure).  A capture directory is replayed in drive
mode (:func:`pagealloc.workload.replay.drive`) once per variant.

Every row of the table is a measured number, by these definitions:

* ``failures order=N`` / ``failures kind=K``: failed requests of the scenario by order
  and by source kind (a failed THP fault that then falls back is one failure);
  ``spurious_unmapped_failures`` as in :meth:`Machine.metrics` (an unmapped request failed
  although the eligible zones held enough free pages above min);
* ``directmap_*_kb``: the ``DirectMap`` lines at the end and at the *worst* sample, the one
  with the most 4 KiB leaves (the first such);
* ``mixed_pageblocks``: pageblocks whose allocated pages (every page of every allocated
  block, pcp and free pages not counted) were requested with more than one migratetype
  (``pkind`` of the block head: UNMOVABLE, MOVABLE, RECLAIMABLE; an unmapped allocation is
  UNMOVABLE) -- the "polluted" pageblocks of Contiguitas.  ``polluted_movable_pageblocks``:
  pageblocks of type MOVABLE holding any UNMOVABLE or RECLAIMABLE page.  ``_max`` is the
  largest value over the samples;
* ``free_order9_blocks``: free pages in buddy blocks of order >= pageblock order
  (``NR_FREE_PAGES_BLOCKS``) in units of 512 pages, mean and minimum over the samples;
  ``_mapped`` leaves out the free unmapped blocks (which no movable request can use);
* ``extfrag`` / ``extfrag_fragmenting``: ``mm_page_alloc_extfrag`` events (all, and those
  with ``fragmenting=1``); ``steal``, ``claim_block``: the 7.2 fallbacks taken;
* compaction and reclaim work: the ``/proc/vmstat`` events ``compact_*``,
  ``pgmigrate_*``, ``pgscan_*``, ``pgsteal_*``, ``pswpout``, ``slabs_scanned`` and
  ``allocstall`` (summed over the zones);
* security events (:mod:`pagealloc.mm.contents`): ``security_exposures`` (allocations that
  handed out another user's data), ``pages_exposed`` and its two causes
  (``exposed_map_back_without_zeroing``, ``exposed_between_unmapped_users``), and unmapped
  allocations whose pages were still in the direct map (``unmapped_present_in_direct_map``)
  or reachable through a stale TLB entry (``unmapped_reachable_by_stale_tlb``);
* ``cost_*_us``: :func:`pagealloc.experiments.cost.modelled_cost` of the counters the run
  added (boot excluded), in microseconds: every component it sums
  (:data:`~pagealloc.experiments.cost.COMPONENTS`), then ``cost_total_us``.

Samples are taken every ``every`` allocator requests and at the end (scenarios only; a
trace replay gives the end-of-run counters, and the rows it cannot give read ``n/a``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pagealloc.experiments.cost import (
    COMPONENTS,
    CostParams,
    counter_delta,
    machine_counters,
    modelled_cost,
)
from pagealloc.machine import Machine
from pagealloc.mm.freetype import FREETYPE_UNMAPPED_IDX, MIGRATE_MOVABLE
from pagealloc.mm.mmzone import NR_PAGE_ORDERS, PS_ALLOC, PS_MASK
from pagealloc.profiles import KNOBS, Profile, ProfileError, get_profile, with_knobs

__all__ = ("Comparison", "Variant", "compare_scenario", "compare_trace", "measure_state",
           "mixed_pageblocks", "parquet_table", "parse_knob_value", "parse_variant", "render",
           "render_table", "run_scenario_measured", "scenario_row", "track_contents", "write_outputs",
           "write_pageblock_plot", "write_plots")

PAGEBLOCK_SHIFT = 9
Value = int | float | str | None


@dataclass(frozen=True)
class Variant:
    """A column: its label as given and the profile it stands for."""

    label: str
    profile: Profile


def parse_knob_value(key: str, value: str, where: str) -> object:
    """A knob's value from text, checked against :data:`KNOBS` (booleans: true/false/1/0)."""
    if key not in KNOBS:
        raise ProfileError(f"{where}: unknown knob {key!r}; known: {', '.join(sorted(KNOBS))}")
    allowed = KNOBS[key]
    if isinstance(allowed[0], bool):
        low = value.lower()
        if low not in ("0", "1", "true", "false", "on", "off", "yes", "no"):
            raise ProfileError(f"{where}: knob {key}={value}: expected a boolean")
        return low in ("1", "true", "on", "yes")
    if value not in allowed:
        raise ProfileError(f"{where}: knob {key}={value}: not one of "
                           f"{', '.join(map(str, allowed))}")
    return value


def parse_variant(spec: str, common: Mapping[str, object] | None = None) -> Variant:
    """``profile[+knob=value...]``; ``common`` knobs (``--set``) apply first, the variant's
    own after them.  :raises ProfileError: naming the unknown profile or knob."""
    parts = [p.strip() for p in spec.split("+")]
    name = parts[0]
    try:
        prof = get_profile(name)
    except ProfileError as e:
        raise ProfileError(f"--profiles {spec}: {e}") from None
    knobs: dict[str, object] = dict(common or {})
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not eq:
            raise ProfileError(f"--profiles {spec}: {part!r}: expected knob=value")
        knobs[key] = parse_knob_value(key, value.strip(), f"--profiles {spec}")
    return Variant(spec, with_knobs(prof, **knobs) if knobs else prof)


# ------------------------------------------------------------------------------ measuring

def mixed_pageblocks(m: Machine) -> tuple[int, int]:
    """(mixed, polluted_movable) pageblocks by the module docstring's definitions."""
    mem = m.mem
    ps = np.frombuffer(mem.pstate, dtype=np.uint8)
    heads = np.flatnonzero((ps & PS_MASK) == PS_ALLOC)
    if heads.size == 0:
        return 0, 0
    orders = (ps[heads] & 0x0F).astype(np.int64)
    mts = (np.frombuffer(mem.pkind, dtype=np.uint8)[heads] & 0x07).astype(np.int64)
    pbs = heads >> PAGEBLOCK_SHIFT
    big = orders > PAGEBLOCK_SHIFT
    if big.any():       # an order-10 block covers two pageblocks
        extra_pb: list[np.ndarray[Any, Any]] = [pbs]
        extra_mt: list[np.ndarray[Any, Any]] = [mts]
        for h, o, mt in zip(heads[big], orders[big], mts[big]):
            n = 1 << (int(o) - PAGEBLOCK_SHIFT)
            extra_pb.append(np.arange(1, n, dtype=np.int64) + (int(h) >> PAGEBLOCK_SHIFT))
            extra_mt.append(np.full(n - 1, int(mt), dtype=np.int64))
        pbs = np.concatenate(extra_pb)
        mts = np.concatenate(extra_mt)
    codes = np.unique((pbs << 3) | mts)
    blocks, counts = np.unique(codes >> 3, return_counts=True)
    mixed = int((counts > 1).sum())
    pbtype = np.frombuffer(mem.pb, dtype=np.uint8) & 0x07
    non_movable = np.unique(codes[(codes & 7) != MIGRATE_MOVABLE] >> 3)
    polluted = int((pbtype[non_movable] == MIGRATE_MOVABLE).sum()) if non_movable.size else 0
    del blocks
    return mixed, polluted


def track_contents(m: Machine) -> None:
    """:meth:`Machine.track_contents`: every column measures zeroing and security alike."""
    m.track_contents()


def free_unmapped_pages(m: Machine) -> int:
    """Free pages on the UNMOVABLE|UNMAPPED buddy lists (pcp lists not counted)."""
    n = 0
    for z in m.populated_zones():
        for order in range(NR_PAGE_ORDERS):
            n += m.mem.list_len(z.buddy_list(order, FREETYPE_UNMAPPED_IDX)) << order
    return n


def measure_state(m: Machine) -> dict[str, int]:
    """One sample: free memory, big free blocks, direct map, pollution, flips, TLB flushes,
    free pages per order (``free_pages_order_N``, summed over the zones)."""
    c = m.directmap.direct_pages_count
    mixed, polluted = mixed_pageblocks(m)
    blocks = sum(z.nr_free_pages_blocks for z in m.zones)
    unmapped_blocks = sum(z.nr_free_pages_blocks_unmapped for z in m.zones)
    return {
        "free_pages": m.nr_free_pages(),
        "free_unmapped_pages": free_unmapped_pages(m),
        "free_order9_blocks": blocks >> PAGEBLOCK_SHIFT,
        "free_order9_blocks_mapped": (blocks - unmapped_blocks) >> PAGEBLOCK_SHIFT,
        "directmap_4k_kb": c[1] << 2, "directmap_2m_kb": c[2] << 11,
        "directmap_1g_kb": (c[3] << 20) if m.directmap.gbpages else 0,
        "mixed_pageblocks": mixed, "polluted_movable_pageblocks": polluted,
        "flips_to_unmapped": m.alloc.stats["flip_to_unmapped"],
        "flips_to_mapped": m.alloc.stats["flip_to_mapped"],
        "steal": m.alloc.stats["steal"],
        "tlb_flush_ranged": m.tlb.stats["flush_ranged"],
        "tlb_flush_full": m.tlb.stats["flush_full"],
    } | {f"free_pages_order_{o}": sum(z.nr_free[o] for z in m.zones) << o
         for o in range(NR_PAGE_ORDERS)}


#: metrics copied from :meth:`Machine.metrics` (same names)
METRIC_ROWS = ("alloc_failures", "spurious_unmapped_failures", "oom_reports",
               "flips_to_unmapped", "flips_to_mapped", "tlb_flush_ranged", "tlb_flush_full",
               "tlb_ipis", "pagetable_pages", "directmap_splits_2m", "directmap_splits_1g",
               "compact_stall", "compact_success", "compact_fail", "compact_migrate_scanned",
               "compact_free_scanned", "pgmigrate_success", "pgscan_kswapd", "pgscan_direct",
               "pgsteal_kswapd", "pgsteal_direct", "pswpout", "pages_zeroed",
               "security_exposures", "compact_isolated", "pgmigrate_fail", "slabs_scanned")
#: the security events of :mod:`pagealloc.mm.contents` (``m.contents.stats``; 0 on a
#: machine that tracks no contents: it has no unmapped users and no init_on_alloc/free)
SECURITY_ROWS = ("pages_exposed", "exposed_map_back_without_zeroing",
                 "exposed_between_unmapped_users", "unmapped_present_in_direct_map",
                 "unmapped_reachable_by_stale_tlb")
#: allocator stats copied from ``m.alloc.stats``
STAT_ROWS = ("extfrag", "extfrag_fragmenting", "steal", "claim_block", "flip_max_depth")
#: modelled-cost components reported: every one the total sums (plus the total)
COST_ROWS = COMPONENTS
#: row order of the table (failures by order/kind are inserted after ``alloc_failures``)
ROW_ORDER = (
    "events", "allocs", "alloc_failures", "spurious_unmapped_failures", "oom_reports",
    "flips_to_unmapped", "flips_to_mapped", "tlb_flush_ranged", "tlb_flush_full", "tlb_ipis",
    "pagetable_pages", "directmap_splits_2m", "directmap_splits_1g", "flip_max_depth",
    "directmap_4k_kb_end", "directmap_2m_kb_end", "directmap_1g_kb_end",
    "directmap_4k_kb_worst", "directmap_2m_kb_worst", "directmap_1g_kb_worst",
    "mixed_pageblocks_end", "mixed_pageblocks_max", "polluted_movable_pageblocks_end",
    "free_order9_blocks_mean", "free_order9_blocks_min", "free_order9_blocks_mapped_mean",
    "free_order9_blocks_mapped_min", "extfrag", "extfrag_fragmenting", "steal", "claim_block",
    "compact_stall", "compact_success", "compact_fail", "compact_migrate_scanned",
    "compact_free_scanned", "compact_isolated", "pgmigrate_success", "pgmigrate_fail",
    "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "pswpout",
    "slabs_scanned", "allocstall", "pages_zeroed", "security_exposures",
) + SECURITY_ROWS + tuple(f"cost_{c}_us" for c in COST_ROWS) + ("cost_total_us",)


def summarize_machine(m: Machine, before: Mapping[str, int], samples: Sequence[Mapping[str, int]],
                      params: CostParams = CostParams()) -> dict[str, Value]:
    """The table's rows for one finished run on ``m`` (``before``: the cost counters after
    boot; ``samples``: :func:`measure_state` dicts, the last taken at the end)."""
    met = m.metrics()
    row: dict[str, Value] = {k: met[k] for k in METRIC_ROWS}
    row["allocstall"] = sum(v for k, v in met.items() if k.startswith("allocstall_"))
    for k in STAT_ROWS:
        row[k] = m.alloc.stats[k]
    sec = m.contents.stats if m.contents is not None else {}
    for k in SECURITY_ROWS:
        row[k] = sec.get(k, 0)
    end = measure_state(m)
    for k in ("4k", "2m", "1g"):
        row[f"directmap_{k}_kb_end"] = end[f"directmap_{k}_kb"]
    allsamples = list(samples) + [end]
    worst = max(allsamples, key=lambda s: s["directmap_4k_kb"])
    for k in ("4k", "2m", "1g"):
        row[f"directmap_{k}_kb_worst"] = worst[f"directmap_{k}_kb"]
    row["mixed_pageblocks_end"] = end["mixed_pageblocks"]
    row["mixed_pageblocks_max"] = max(s["mixed_pageblocks"] for s in allsamples)
    row["polluted_movable_pageblocks_end"] = end["polluted_movable_pageblocks"]
    for k in ("free_order9_blocks", "free_order9_blocks_mapped"):
        vals = [s[k] for s in allsamples]
        row[f"{k}_mean"] = round(sum(vals) / len(vals), 1)
        row[f"{k}_min"] = min(vals)
    cost = modelled_cost(counter_delta(machine_counters(m), before), params)
    for c in COST_ROWS:
        row[f"cost_{c}_us"] = round(cost[c] / 1000, 1)
    row["cost_total_us"] = round(cost["total_ns"] / 1000, 1)
    return row


# ------------------------------------------------------------------------------ running

@dataclass
class Comparison:
    """One table: a column per variant, rows by name, and notes."""

    target: str
    kind: str                                   # "scenario" or "trace"
    seed: int | None
    scale: float
    labels: list[str]
    profiles: list[str]
    columns: list[dict[str, Value]]
    rows: list[str]
    notes: list[str] = field(default_factory=list)
    samples: list[list[dict[str, int]]] = field(default_factory=list)

    def value(self, label: str, row: str) -> Value:
        return self.columns[self.labels.index(label)].get(row)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "seed": self.seed, "scale": self.scale,
                "columns": [{"label": lb, "profile": p, "values": {r: c.get(r) for r in self.rows}}
                            for lb, p, c in zip(self.labels, self.profiles, self.columns)],
                "rows": self.rows, "notes": self.notes}


def _sampling_runner(scn: Any, m: Machine, seed: int | None, scale: float, every: int,
                     out: list[dict[str, int]]) -> Any:
    """A :class:`ScenarioRunner` whose samples are :func:`measure_state` dicts in ``out``."""
    from pagealloc.workload.scenario import ScenarioRunner

    class _Runner(ScenarioRunner):
        def sample(self) -> None:
            out.append(measure_state(self.m) | {"event": self.n_events})

    return _Runner(scn, m, seed=seed, scale=scale, every=every)


def run_scenario_measured(scn: Any, m: Machine, out: list[dict[str, int]],
                          **kwargs: Any) -> Any:
    """:func:`pagealloc.workload.scenario.run_scenario` (keyword arguments of its
    :class:`ScenarioRunner`) whose ``--every`` samples, the /proc views of
    ``res.samples``, are also recorded in ``out`` as :func:`measure_state` dicts with
    ``event`` (what :mod:`pagealloc.report.plots` reads), for ``pagealloc run --plots``."""
    from pagealloc.workload.scenario import ScenarioRunner

    class _Runner(ScenarioRunner):
        def sample(self) -> None:
            super().sample()
            out.append(measure_state(self.m) | {"event": self.n_events})

    return _Runner(scn, m, **kwargs).run()


def _ordered_rows(columns: Sequence[Mapping[str, Value]]) -> list[str]:
    dyn: list[str] = []
    for prefix in ("failures order=", "failures kind="):
        keys = sorted({k for c in columns for k in c if k.startswith(prefix)},
                      key=lambda k: (len(k), k))
        dyn.extend(keys)
    rows = list(ROW_ORDER)
    i = rows.index("alloc_failures") + 1
    return rows[:i] + dyn + rows[i:]


def run_scenario_variant(scn: Any, variant: Variant, seed: int | None, scale: float,
                         overrides: Mapping[str, Any] | None, every: int,
                         params: CostParams = CostParams()) -> tuple[dict[str, Value],
                                                                     list[dict[str, int]], Machine]:
    """Run one column; return its rows, its samples and the machine as the run left it."""
    from pagealloc.workload import scenario as S
    m = S.build_machine(scn, variant.profile, overrides)
    track_contents(m)
    before = machine_counters(m)
    samples: list[dict[str, int]] = []
    res = _sampling_runner(scn, m, seed, scale, every, samples).run()
    return scenario_row(scn, m, before, samples, res, params), samples, m


def scenario_row(scn: Any, m: Machine, before: Mapping[str, int],
                 samples: Sequence[Mapping[str, int]], res: Any,
                 params: CostParams = CostParams()) -> dict[str, Value]:
    """The table's rows for a finished scenario run ``res`` on ``m``: the machine's
    (:func:`summarize_machine`; ``samples`` ends with the end sample) and the run's
    requests, failures by order and kind and unmapped pages allocated."""
    from pagealloc.workload import scenario as S
    row = summarize_machine(m, before, list(samples[:-1]) if samples else [], params)
    row["events"] = res.events
    row["allocs"] = res.allocs
    row["model_seconds"] = round(res.model_seconds, 3)
    row["unmapped_pages_allocated"] = sum(
        st.pages for s, st in zip(scn.sources, res.sources.values())
        if S.KINDS[s.kind].unmapped or (s.gfp is not None and "__GFP_UNMAPPED" in s.gfp))
    for o, n in res.failures_by_order.items():
        row[f"failures order={o}"] = n
    for k, n in res.failures_by_kind.items():
        row[f"failures kind={k}"] = n
    return row


def compare_scenario(scenario: str, variants: Sequence[Variant], *, seed: int | None = None,
                     scale: float = 1.0, overrides: Mapping[str, Any] | None = None,
                     every: int = 1000, params: CostParams = CostParams(),
                     on_machine: Callable[[Variant, Machine], None] | None = None) -> Comparison:
    """Run ``scenario`` (built-in name or TOML file) once per variant; ``on_machine`` is
    called with each variant and its machine as the run left it (e.g. to plot it)."""
    from pagealloc.workload.scenario import load_scenario
    scn = load_scenario(scenario).scaled(scale)
    cols: list[dict[str, Value]] = []
    allsamples: list[list[dict[str, int]]] = []
    for v in variants:
        row, samples, m = run_scenario_variant(scn, v, seed, scale, overrides, every, params)
        if on_machine is not None:
            on_machine(v, m)
        del m       # the next column builds its machine without this one alive
        cols.append(row)
        allsamples.append(samples)
    rows = _ordered_rows(cols)
    for c in cols:
        for r in rows:
            if r.startswith("failures "):
                c.setdefault(r, 0)
    return Comparison(scn.name, "scenario", scn.seed if seed is None else seed, scale,
                      [v.label for v in variants], [v.profile.name for v in variants], cols,
                      rows, samples=allsamples,
                      notes=[f"samples every {every} requests and at the end"])


def compare_trace(capture: str | Path, variants: Sequence[Variant], *, limit: int = 0,
                  what_if: Sequence[str] = (), every: int = 1000,
                  params: CostParams = CostParams(),
                  on_machine: Callable[[Variant, Machine], None] | None = None) -> Comparison:
    """Replay a capture directory in drive mode once per variant (``what_if`` rules as in
    ``pagealloc replay --what-if``), from the machine of its first dump, with the same rows
    as a scenario: :func:`measure_state` samples every ``every`` replayed requests (free
    order-9 blocks mean/min, DirectMap worst point, mixed pageblocks max), page contents
    tracked (zeroing, security) and the modelled cost of the replay (counters after the
    dump load as the base).  ``on_machine`` as in :func:`compare_scenario`."""
    from pagealloc.workload.replay import drive, first_dump_machine, load_intervals, parse_what_if
    cap = Path(capture)
    cols: list[dict[str, Value]] = []
    allsamples: list[list[dict[str, int]]] = []
    intervals = None
    for v in variants:
        table = v.profile.gfp_table
        rules = [parse_what_if(r, table) for r in what_if]
        if intervals is None:
            intervals = load_intervals(cap, table)
        m = first_dump_machine(cap, v.profile)
        track_contents(m)
        before = machine_counters(m)
        res = drive(cap, v.profile, rules, intervals, limit, machine=m, every=every,
                    sample=measure_state)
        samples = [dict(s) for s in res.samples]
        row = summarize_machine(m, before, samples[:-1], params)
        row["alloc_failures"] = res.failures
        row["events"] = res.events
        row["allocs"] = res.allocs
        if on_machine is not None:
            on_machine(v, m)
        del m, res
        cols.append(row)
        allsamples.append(samples)
    return Comparison(str(cap), "trace", None, 1.0, [v.label for v in variants],
                      [v.profile.name for v in variants], cols, list(ROW_ORDER),
                      samples=allsamples,
                      notes=[f"drive-mode replay from the first dump; samples every {every} "
                             "replayed requests and at the end; failures by order and kind "
                             "are not recorded by the replay (n/a)"])


# ------------------------------------------------------------------------------ output

def fmt(v: Value) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def render_table(cmp: Comparison, rows: Sequence[str] | None = None) -> str:
    """The text table: a row per measure, a column per variant."""
    rows = list(rows if rows is not None else cmp.rows)
    cells = [[r] + [fmt(c.get(r)) for c in cmp.columns] for r in rows]
    head = ["metric"] + cmp.labels
    w = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(len(head))]
    lines = ["  ".join([head[0].ljust(w[0])] + [h.rjust(w[i + 1]) for i, h in enumerate(head[1:])])]
    lines.append("  ".join("-" * n for n in w))
    for c in cells:
        lines.append("  ".join([c[0].ljust(w[0])] + [x.rjust(w[i + 1]) for i, x in enumerate(c[1:])]))
    return "\n".join(lines) + "\n"


def render(cmp: Comparison) -> str:
    """The whole ``pagealloc compare`` text: a header, the table, the notes."""
    head = f"compare {cmp.kind} {cmp.target}"
    if cmp.kind == "scenario":
        head += f"  seed {cmp.seed}  scale {cmp.scale:g}"
    lines = [head]
    for lb, p in zip(cmp.labels, cmp.profiles):
        if lb != p:
            lines.append(f"  {lb} = profile {p}")
    return "\n".join(lines) + "\n" + render_table(cmp) + "".join(f"# {n}\n" for n in cmp.notes)


def table_csv(cmp: Comparison, rows: Sequence[str] | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["metric"] + cmp.labels)
    for r in (rows if rows is not None else cmp.rows):
        w.writerow([r] + ["" if c.get(r) is None else c.get(r) for c in cmp.columns])
    return buf.getvalue()


def write_plots(cmp: Comparison, out: str | Path) -> list[Path]:
    """The plots of :mod:`pagealloc.report.plots` in ``out``: ``metrics.png`` (a bar per
    column for each metric that differs) and, for a scenario, the time series of the
    samples (``free_pages_per_order.png``, ``directmap.png``, ``flips_and_flushes.png``);
    return the paths written.  The pageblock maps: :func:`write_pageblock_plot`."""
    from pagealloc.report import plots as P
    d = Path(out)
    paths = [P.plot_metric_bars(cmp.labels, cmp.columns, d / "metrics.png",
                                P.default_bar_metrics(cmp.columns, cmp.rows),
                                title=f"compare {cmp.target}")]
    if cmp.samples:
        runs = dict(zip(cmp.labels, cmp.samples))
        paths.append(P.plot_free_pages_per_order(runs, d / "free_pages_per_order.png"))
        paths.append(P.plot_directmap(runs, d / "directmap.png"))
        paths.append(P.plot_flips_and_flushes(runs, d / "flips_and_flushes.png"))
    return paths


def write_pageblock_plot(out: str | Path, column: int, label: str, m: Machine) -> Path:
    """``pageblocks_N.png`` in ``out``: the pageblock map of column ``N`` (1-based) as its
    run left the machine (called from ``compare_scenario(on_machine=...)``, so no machine
    outlives its column)."""
    from pagealloc.report.plots import plot_machine_pageblocks
    return plot_machine_pageblocks(m, Path(out) / f"pageblocks_{column}.png",
                                   f"pageblocks at the end: {label}")


def parquet_table(cmp: Comparison) -> Any:
    """The table as a :class:`pyarrow.Table` shaped like the CSV: a ``metric`` column, then
    a column per variant.  A variant's column is float64 when every value is a number or
    n/a (integers below 2**53 are exact; n/a is null), text as the CSV writes it otherwise."""
    import pyarrow as pa

    data: dict[str, Any] = {"metric": pa.array(cmp.rows, type=pa.string())}
    for lb, c in zip(cmp.labels, cmp.columns):
        vals = [c.get(r) for r in cmp.rows]
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
               for v in vals):
            data[lb] = pa.array([None if v is None else float(v) for v in vals],
                                type=pa.float64())
        else:
            data[lb] = pa.array(["" if v is None else str(v) for v in vals], type=pa.string())
    return pa.table(data)


def write_outputs(cmp: Comparison, out: str | Path, stem: str) -> list[Path]:
    """``stem.csv``, ``stem.json`` and ``stem.parquet`` (:func:`parquet_table`) in ``out``;
    return the paths written."""
    import pyarrow.parquet as pq

    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    paths = [d / f"{stem}.csv", d / f"{stem}.json", d / f"{stem}.parquet"]
    paths[0].write_text(table_csv(cmp))
    paths[1].write_text(json.dumps(cmp.as_dict(), indent=1, sort_keys=True) + "\n")
    pq.write_table(parquet_table(cmp), paths[2])
    return paths
