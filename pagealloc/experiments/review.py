"""``pagealloc review``: the review of v2 19/22 (``shared/seed``) answered with measurements.

One section per question: Vlastimil Babka's four (Q1 zeroing on map-back, Q2 failures with
no free pageblock, Q3 ``RMQUEUE_NORMAL`` vs ``RMQUEUE_CLAIM``, Q4 ``expand()`` vs the free
loop), the patch's own note on stealing before flipping, then experiments E1, E2, E3, E4,
E8, E9, E10, E11, E12, E13 and E14 of ``shared/spec/series.md`` section 5 as far as the
model can run them (what it cannot do is said in the section; E15 is not run).  E1 prices
each request on its own (:mod:`pagealloc.experiments.latency`); E11 probes the order check
before each request; E12 and E14 read the pcp lists and the mermap.  Each section states its setup, prints its
tables (a column per variant, :mod:`pagealloc.experiments.compare`) and ends with a
one-line answer computed from the numbers.

The micro setups are those of ``tests/mm/test_unmapped.py`` (the same requests on a
fresh machine); the scenario setups are built-in scenarios
(:mod:`pagealloc.workload.scenario_builtins`) at a fixed seed.  Everything is seeded:
the same ``quick`` gives byte-identical text (no wall-clock time is printed).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pagealloc.experiments.compare import (
    Comparison,
    Value,
    Variant,
    fmt,
    mixed_pageblocks,
    parse_variant,
    render_table,
    run_scenario_variant,
    table_csv,
)
from pagealloc.experiments.cost import counter_delta, machine_counters, modelled_cost
from pagealloc.experiments.latency import LatencyRecorder, components_share, run_scenario_latency
from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.debug import InvariantError
from pagealloc.mm.freetype import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, NR_FREETYPE_IDXS
from pagealloc.profiles import UNMAPPED_V2, UNMAPPED_V4, with_knobs

__all__ = ("Review", "Section", "SECTIONS", "render_markdown", "run_review", "write_review")

GFP_UNMAPPED = G.GFP_KERNEL | G.__GFP_UNMAPPED
NOWAIT_MOVABLE = (G.GFP_HIGHUSER_MOVABLE & ~(G.__GFP_DIRECT_RECLAIM | G.__GFP_KSWAPD_RECLAIM)) \
    | G.__GFP_NOWARN


@dataclass
class Section:
    """One question: setup text, tables, and the one-line measured answer."""

    id: str
    title: str
    setup: str
    tables: list[tuple[str, Comparison]] = field(default_factory=list)
    answer: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Review:
    quick: bool
    sections: list[Section]


def _table(name: str, labels: Sequence[str], cols: Sequence[Mapping[str, Value]],
           rows: Sequence[str] | None = None) -> Comparison:
    rows = list(rows if rows is not None else cols[0].keys())
    return Comparison(name, "experiment", None, 1.0, list(labels), list(labels),
                      [dict(c) for c in cols], rows)


def _unmapped(m: Machine, order: int = 0, owner: int = 7, gfp: int = GFP_UNMAPPED) -> int | None:
    if m.profile.unmapped == "v4":
        return m.alloc_pages(gfp & ~G.__GFP_UNMAPPED, order, 0, unmapped=True, owner=owner)
    return m.alloc_pages(gfp, order, 0, owner=owner)


def _cost_us(m: Machine, before: Mapping[str, int]) -> float:
    return round(modelled_cost(counter_delta(machine_counters(m), before))["total_ns"] / 1000, 1)


def _scenario_cols(scenario: str, variants: Sequence[Variant], scale: float, every: int,
                   overrides: Sequence[Mapping[str, Any] | None] | None = None
                   ) -> tuple[list[dict[str, Value]], list[list[dict[str, int]]], list[Machine]]:
    from pagealloc.workload.scenario import load_scenario
    scn = load_scenario(scenario).scaled(scale)
    cols, samples, machines = [], [], []
    for i, v in enumerate(variants):
        ov = overrides[i] if overrides is not None else None
        row, smp, m = run_scenario_variant(scn, v, None, scale, ov, every)
        cols.append(row)
        samples.append(smp)
        machines.append(m)
    return cols, samples, machines


def _scenario_cols_latency(scenario: str, variants: Sequence[Variant], scale: float, every: int,
                           overrides: Sequence[Mapping[str, Any] | None] | None = None
                           ) -> tuple[list[dict[str, Value]], list[LatencyRecorder]]:
    """:func:`_scenario_cols` with every request's modelled latency recorded."""
    from pagealloc.workload.scenario import load_scenario
    scn = load_scenario(scenario).scaled(scale)
    cols, recs = [], []
    for i, v in enumerate(variants):
        ov = overrides[i] if overrides is not None else None
        row, _, _, rec = run_scenario_latency(scn, v, None, scale, ov, every)
        cols.append(row)
        recs.append(rec)
    return cols, recs


def _pick(cols: Sequence[Mapping[str, Value]], rows: Sequence[str]) -> list[dict[str, Value]]:
    return [{r: c.get(r) for r in rows} for c in cols]


def _int(v: Value) -> int:
    return int(v) if isinstance(v, (int, float)) else 0


# ------------------------------------------------------------------------------ Q1

def q1_zeroing(quick: bool) -> Section:
    sec = Section("q1", "Q1: whole-block zeroing on map-back",
                  "Micro (tests/mm/test_unmapped.py): unmapped-v2, 256 MiB, 1 CPU; half of "
                  "memory allocated as order-0 __GFP_UNMAPPED pages by one user and freed, "
                  "then as many mapped GFP_KERNEL pages (which must flip blocks back). "
                  "Scenario: vm-host (guest_memfd VMs start and stop, a kernel burst maps "
                  "their blocks back), seed 1. Columns: v2 as posted vs zero_on_map_back=true.")
    labels = ["v2 (no zeroing)", "v2+zero_on_map_back"]
    micro = []
    for zero in (False, True):
        m = Machine(memory="256M", cpus=1, profile=with_knobs(UNMAPPED_V2, zero_on_map_back=zero),
                    thp=False)
        before = machine_counters(m)
        n = sum(z.present_pages for z in m.zones) // 2 + 1
        pages = [_unmapped(m, owner=9) for _ in range(n)]
        for p in pages:
            if p is not None:
                m.free_pages(p, 0)
        fails = sum(m.alloc_pages(G.GFP_KERNEL, 0) is None for _ in range(n))
        cst = m.contents.stats if m.contents is not None else {}
        micro.append({"mapped_requests": n, "mapped_failures": fails,
                      "flips_to_unmapped": m.alloc.stats["flip_to_unmapped"],
                      "flips_to_mapped": m.alloc.stats["flip_to_mapped"],
                      "pages_exposed_map_back": cst.get("exposed_map_back_without_zeroing", 0),
                      "pages_zeroed_map_back": m.alloc.stats["pages_zeroed_map_back"],
                      "cost_total_us": _cost_us(m, before)})
    sec.tables.append(("micro", _table("q1-micro", labels, micro)))
    scale = 0.0625 if quick else 0.5
    vs = [Variant(labels[0], UNMAPPED_V2),
          Variant(labels[1], with_knobs(UNMAPPED_V2, zero_on_map_back=True))]
    cols, _, ms = _scenario_cols("vm-host", vs, scale, 2000)
    for c, m in zip(cols, ms):
        st = m.contents.stats if m.contents is not None else {}
        c["pages_exposed_map_back"] = st.get("exposed_map_back_without_zeroing", 0)
        c["pages_exposed_between_unmapped_users"] = st.get("exposed_between_unmapped_users", 0)
        c["pages_zeroed_map_back"] = m.alloc.stats["pages_zeroed_map_back"]
    rows = ["flips_to_unmapped", "flips_to_mapped", "pages_exposed_map_back",
            "pages_exposed_between_unmapped_users", "security_exposures", "pages_zeroed_map_back",
            "cost_map_back_zeroing_us", "cost_total_us"]
    sec.tables.append((f"vm-host, scale {scale:g}", _table("q1-vm-host", labels, _pick(cols, rows), rows)))
    a, b = micro
    share = 100 * (_int(cols[1]["cost_map_back_zeroing_us"]) / max(1, _int(cols[1]["cost_total_us"])))
    leaks = _int(a["pages_exposed_map_back"]) + _int(cols[0]["pages_exposed_map_back"]) > 0
    sec.answer = (f"{'Yes, v2 leaks' if leaks else 'No leak measured'}: mapping blocks back "
                  f"unzeroed handed {a['pages_exposed_map_back']} "
                  f"pages of the unmapped user's data to mapped users in the micro setup and "
                  f"{cols[0]['pages_exposed_map_back']} in vm-host; zeroing on map-back makes "
                  f"both {b['pages_exposed_map_back']}/{cols[1]['pages_exposed_map_back']} at "
                  f"{cols[1]['pages_zeroed_map_back']} pages zeroed in vm-host "
                  f"({share:.1f} % of the modelled allocator cost).")
    sec.notes.append("exposed_between_unmapped_users (one unmapped user getting another's "
                     "pages) is not closed by map-back zeroing; guest_memfd clears folios "
                     "itself, which the model does not see (vm-host docstring).")
    return sec


# ------------------------------------------------------------------------------ Q2

def _filled_machine(profile: Any, memory: str, free_num: int, free_den: int, aged: bool,
                    filler: Sequence[str] = ("anon",)) -> Machine:
    """Memory filled with order-0 movable pages (owner kinds ``filler`` in turn: anon is
    unreclaimable without swap, clean file pages are reclaimable), then ``free_num`` in
    ``free_den`` of them freed: ``aged``, spread out (the last ``free_num`` of every
    ``free_den`` pages, so no whole pageblock comes free), or fresh, the first ones
    allocated (contiguous, so whole pageblocks come free); pcp lists drained."""
    m = Machine(memory=memory, cpus=1, profile=profile)
    hs: list[int] = []
    while (h := m.alloc_owned(filler[len(hs) % len(filler)], 0, gfp=NOWAIT_MOVABLE)) is not None:
        hs.append(h)
    if aged:
        for i, h in enumerate(hs):
            if i % free_den >= free_den - free_num:
                m.free_owned(h)
    else:
        for h in hs[:len(hs) * free_num // free_den]:
            m.free_owned(h)
    m.drain_all_pages()
    return m


def _no_free_block_machine(knob: str, memory: str) -> Machine:
    """Memory three quarters free but in no whole free pageblock (tests/mm/test_unmapped.py)."""
    return _filled_machine(with_knobs(UNMAPPED_V4, on_no_block=knob), memory, 3, 4, True)


def q2_no_free_block(quick: bool) -> Section:
    memory, blocks = ("128M", 2) if quick else ("512M", 16)
    sec = Section("q2", "Q2: unmapped requests when no whole free pageblock exists",
                  f"unmapped-v4 on {memory}, 1 CPU: memory filled with movable anon pages, three "
                  f"in four freed (three quarters of memory free, none of it a whole free block); then "
                  f"{blocks * 512} order-0 unmapped GFP_KERNEL requests ({blocks} pageblocks' "
                  f"worth). on_no_block: fail (v2: no compaction for order 0), compact (v4 "
                  f"24/26: direct compaction at pageblock order), isolate_migrate (the "
                  f"reviewer's: isolate the emptiest movable block and migrate it out).")
    labels = ["fail (v2)", "compact (v4)", "isolate_migrate"]
    cols = []
    for knob in ("fail", "compact", "isolate_migrate"):
        m = _no_free_block_machine(knob, memory)
        z = max(m.zones, key=lambda z: z.managed_pages)
        free_before = z.nr_free_pages
        before_ev = dict(m.vm_events())
        before = machine_counters(m)
        before_met = m.metrics()
        n = blocks * 512
        fails = sum(_unmapped(m, 0, owner=2, gfp=G.GFP_KERNEL) is None for _ in range(n))
        met = m.metrics()
        ev = m.vm_events()
        d = {k: met[k] - before_met[k] for k in met}
        work = (d["compact_migrate_scanned"] + d["compact_free_scanned"] + d["pgmigrate_success"])
        flips = d["flips_to_unmapped"]
        cols.append({
            "free_pages_before": free_before, "requests": n, "failures": fails,
            "spurious_unmapped_failures": d["spurious_unmapped_failures"],
            "flips_to_unmapped": flips, "compact_stall": d["compact_stall"],
            "compact_success": d["compact_success"],
            "compact_migrate_scanned": d["compact_migrate_scanned"],
            "compact_free_scanned": d["compact_free_scanned"],
            "pgmigrate_success": d["pgmigrate_success"],
            "isolate_migrate_flips": m.alloc.stats["flip_isolate_migrate"],
            "pgscan_direct": ev.get("pgscan_direct", 0) - before_ev.get("pgscan_direct", 0),
            "work_pages_per_flip": round(work / flips, 1) if flips else None,
            "cost_total_us": _cost_us(m, before),
        })
    sec.tables.append(("", _table("q2", labels, cols)))
    f, c, i = cols
    sec.answer = (f"v2 fails {f['failures']}/{f['requests']} requests with "
                  f"{f['free_pages_before']} pages free ({f['spurious_unmapped_failures']} "
                  f"spurious, {f['compact_stall']} compaction stalls); v4's compaction serves "
                  f"them ({c['failures']} failures) at {c['work_pages_per_flip']} pages "
                  f"scanned+migrated per flip; isolate-and-migrate serves them "
                  f"({i['failures']} failures) at {i['work_pages_per_flip']} per flip.")
    sec.notes.append("work_pages_per_flip (compact_migrate_scanned + compact_free_scanned + "
                     "pgmigrate_success, per flip) counts the work in pages; cost_total_us "
                     "prices it with cost.py's compaction, migration and reclaim components.")
    return sec


# ------------------------------------------------------------------------------ E2

E2_PROFILES = (("v2", UNMAPPED_V2), ("v4 (compact)", UNMAPPED_V4),
               ("v4+isolate_migrate", with_knobs(UNMAPPED_V4, on_no_block="isolate_migrate")))


def e2_spurious(quick: bool) -> Section:
    memory = "96M" if quick else "256M"
    pressures = ((3, 4), (1, 16)) if quick else ((3, 4), (1, 4), (1, 16))
    n0, n9 = (256, 2) if quick else (2048, 8)
    sec = Section("e2", "E2: spurious failures of unmapped requests over pressure, "
                  "fragmentation and order",
                  f"Q2's setup as a grid, {memory}, 1 CPU: memory filled with order-0 movable "
                  f"pages (a clean file page, then two anon pages, in turn; no swap, so only "
                  f"the file third is reclaimable and no pageblock is wholly reclaimable), then a share of them freed: aged (spread out: no whole free "
                  f"pageblock) or fresh (the first allocated: whole free pageblocks); then "
                  f"{n0} order-0 or {n9} order-9 unmapped GFP_KERNEL requests. Free share: "
                  f"{', '.join(f'{100 * a // b} %' for a, b in pressures)}. Profiles: "
                  f"unmapped-v2 (no compaction for order 0), unmapped-v4 (pageblock-order "
                  f"compaction on NR_FREE_PAGES_BLOCKS_MAPPED), v4 with "
                  f"on_no_block=isolate_migrate. Spurious: failed although the zones held the "
                  f"request above their min watermarks (spurious_unmapped_failures).")
    labels = [lab for lab, _ in E2_PROFILES]
    tabs: dict[str, list[dict[str, Value]]] = {k: [{} for _ in labels] for k in
                                               ("fail", "spur", "work", "cost", "oom")}
    agg: dict[tuple[str, bool, int], list[float]] = {}
    for (num, den) in pressures:
        for aged in (True, False):
            for order, n in ((0, n0), (9, n9)):
                cell = f"{100 * num // den} % free, {'aged' if aged else 'fresh'}, order {order}"
                for j, (lab, prof) in enumerate(E2_PROFILES):
                    m = _filled_machine(prof, memory, num, den, aged, ("file", "anon", "anon"))
                    b, be, bc = m.metrics(), m.vm_events(), machine_counters(m)
                    fails = sum(_unmapped(m, order, owner=2) is None for _ in range(n))
                    a, ae = m.metrics(), m.vm_events()
                    cost = modelled_cost(counter_delta(machine_counters(m), bc))["total_ns"]
                    d = {k: a[k] - b[k] for k in a}
                    work = (d["compact_migrate_scanned"] + d["compact_free_scanned"]
                            + d["pgmigrate_success"] + d["pgscan_direct"]
                            + ae.get("pgscan_kswapd", 0) - be.get("pgscan_kswapd", 0))
                    tabs["fail"][j][cell] = round(100 * fails / n, 1)
                    tabs["spur"][j][cell] = round(100 * d["spurious_unmapped_failures"] / n, 1)
                    tabs["work"][j][cell] = round(work / n, 1)
                    tabs["cost"][j][cell] = round(cost / n / 1000, 2)
                    tabs["oom"][j][cell] = d["oom_reports"]
                    agg.setdefault((lab, aged, order), []).append(100 * fails / n)
    for key, title in (("fail", "failed requests, %"),
                       ("spur", "spurious failures (watermarks OK), % of requests"),
                       ("work", "reclaim + compaction work per request (pages scanned or "
                                "migrated: compact_*_scanned + pgmigrate_success + pgscan)"),
                       ("cost", "modelled cost per request, us (cost.py, kswapd's work included)"),
                       ("oom", "OOM reports")):
        sec.tables.append((title, _table(f"e2-{key}", labels, tabs[key])))

    def mean(lab: str, aged: bool, order: int) -> float:
        v = agg[(lab, aged, order)]
        return round(sum(v) / len(v), 1)
    v2, v4, iso = labels
    spur = {lab: sum(_int(x) for x in tabs["spur"][j].values()) for j, lab in enumerate(labels)}
    ooms = [sum(_int(x) for x in tabs["oom"][j].values()) for j in range(len(labels))]
    aged0 = [k for k in tabs["cost"][0] if k.endswith("aged, order 0")]
    aged0_cost = [f"{sum(float(tabs['cost'][j][k] or 0) for k in aged0) / len(aged0):.1f}"
                  for j in range(len(labels))]
    sec.answer = (f"On aged memory v2 fails {mean(v2, True, 0)} % of order-0 unmapped requests "
                  f"(mean over pressure levels) where v4 fails {mean(v4, True, 0)} % and "
                  f"isolate-and-migrate {mean(iso, True, 0)} %; order 9: {mean(v2, True, 9)} / "
                  f"{mean(v4, True, 9)} / {mean(iso, True, 9)} %; fresh memory: "
                  f"{mean(v2, False, 0)} / {mean(v4, False, 0)} / {mean(iso, False, 0)} % "
                  f"(order 0); {'fewer' if spur[v4] < spur[v2] else 'NOT fewer'} spurious "
                  f"failures with v4; OOM reports {ooms[0]} / {ooms[1]} / {ooms[2]}; modelled "
                  f"cost per aged order-0 request {' / '.join(aged0_cost)} us.")
    sec.notes.append("Every failed order-0 request of v2 on aged memory reaches the OOM report: "
                     "the slow path sees the watermarks met, reclaims nothing useful and gives "
                     "up (series.md 2.8). The work row counts kswapd's scan too (woken by the "
                     "requests).")
    return sec


# ------------------------------------------------------------------------------ Q3

def _pageblock_types(m: Machine) -> tuple[int, int]:
    mov = unm = 0
    for b, zi in enumerate(m.mem.pb_zone):
        if zi == 0xFF:
            continue
        mt = m.mem.pb[b] & 7
        mov += mt == MIGRATE_MOVABLE
        unm += mt == MIGRATE_UNMOVABLE
    return mov, unm


def q3_flip_mode(quick: bool) -> Section:
    sec = Section("q3", "Q3: RMQUEUE_NORMAL vs RMQUEUE_CLAIM for the flip's __rmqueue()",
                  "Micro: unmapped-v2, 256 MiB, 1 CPU, fresh machine; 16 pageblocks' worth of "
                  "order-0 unmapped pages, then 4096 mapped GFP_KERNEL pages; pageblock types "
                  "counted before and after. Scenarios: vm-host and secretmem, seed as built "
                  "in. Columns: flip_mode=normal (as posted) vs claim.")
    labels = ["normal (posted)", "claim"]
    micro = []
    for mode in ("normal", "claim"):
        m = Machine(memory="256M", cpus=1, profile=with_knobs(UNMAPPED_V2, flip_mode=mode), thp=False)
        mov0, unm0 = _pageblock_types(m)
        for _ in range(16 * 512):
            _unmapped(m, owner=5)
        claim0, steal0 = m.alloc.stats["claim_block"], m.alloc.stats["steal"]
        for _ in range(4096):
            m.alloc_pages(G.GFP_KERNEL, 0)
        mov1, unm1 = _pageblock_types(m)
        mixed, polluted = mixed_pageblocks(m)
        micro.append({"movable_pageblocks_before": mov0, "movable_pageblocks_after": mov1,
                      "unmovable_pageblocks_before": unm0, "unmovable_pageblocks_after": unm1,
                      "flips_to_unmapped": m.alloc.stats["flip_to_unmapped"],
                      "claim_block_mapped_phase": m.alloc.stats["claim_block"] - claim0,
                      "steal_mapped_phase": m.alloc.stats["steal"] - steal0,
                      "mixed_pageblocks": mixed, "polluted_movable_pageblocks": polluted})
    sec.tables.append(("micro", _table("q3-micro", labels, micro)))
    rows = ["flips_to_unmapped", "flips_to_mapped", "claim_block", "steal", "extfrag_fragmenting",
            "mixed_pageblocks_end", "mixed_pageblocks_max", "polluted_movable_pageblocks_end",
            "free_order9_blocks_mapped_mean", "alloc_failures", "cost_total_us"]
    scale = 0.0625 if quick else 0.5
    scen: dict[str, list[dict[str, Value]]] = {}
    for name in ("vm-host", "secretmem"):
        vs = [Variant(labels[0], UNMAPPED_V2),
              Variant(labels[1], with_knobs(UNMAPPED_V2, flip_mode="claim"))]
        cols, _, _ = _scenario_cols(name, vs, scale, 2000)
        scen[name] = _pick(cols, rows)
        sec.tables.append((f"{name}, scale {scale:g}", _table(f"q3-{name}", labels, scen[name], rows)))
    n, c = micro
    vn, vc = scen["vm-host"]
    sec.answer = (f"CLAIM (which skips __rmqueue_smallest()) converts more MOVABLE pageblocks "
                  f"(movable pageblocks {n['movable_pageblocks_before']} -> "
                  f"{n['movable_pageblocks_after']} with NORMAL, -> {c['movable_pageblocks_after']} "
                  f"with CLAIM); on vm-host mixed pageblocks at the end are "
                  f"{vn['mixed_pageblocks_end']} (NORMAL) vs {vc['mixed_pageblocks_end']} (CLAIM), "
                  f"fragmenting steals {vn['extfrag_fragmenting']} vs {vc['extfrag_fragmenting']}.")
    return sec


# ------------------------------------------------------------------------------ Q4

def q4_remainder(quick: bool) -> Section:
    sec = Section("q4", "Q4: expand() instead of the per-order __free_one_page() loop",
                  "Micro: unmapped-v2, 256 MiB, 1 CPU; a seeded stream of unmapped requests of "
                  "orders 0-3 (some freed) forcing flips; the free lists (every free block as "
                  "(order, list, pfn) in list order) compared after each request. Scenario: "
                  "secretmem. Columns: flip_remainder=free_loop (as posted) vs expand.")
    labels = ["free_loop (posted)", "expand"]
    n_req = 400 if quick else 4000
    states: list[list[Any]] = []
    micro = []
    for rem in ("free_loop", "expand"):
        m = Machine(memory="256M", cpus=1, profile=with_knobs(UNMAPPED_V2, flip_remainder=rem),
                    thp=False)
        rnd = random.Random(4)
        live: list[tuple[int, int]] = []
        trace: list[Any] = []
        for _ in range(n_req):
            if live and rnd.random() < 0.3:
                pfn, o = live.pop(rnd.randrange(len(live)))
                m.free_pages(pfn, o)
            else:
                o = rnd.randrange(4)
                got = _unmapped(m, o, owner=3)
                if got is not None:
                    live.append((got, o))
            trace.append([m.free_blocks(z) for z in m.zones if z.present_pages])
        m.check()
        states.append(trace)
        micro.append({"requests": n_req, "flips_to_unmapped": m.alloc.stats["flip_to_unmapped"],
                      "flips_to_mapped": m.alloc.stats["flip_to_mapped"],
                      "nr_free_pages": m.nr_free_pages(),
                      "nr_free_pages_blocks_unmapped": sum(z.nr_free_pages_blocks_unmapped
                                                           for z in m.zones)})
    same = sum(a == b for a, b in zip(*states))
    for mc in micro:
        mc["steps_with_identical_lists"] = same
    sec.tables.append(("micro", _table("q4-micro", labels, micro)))
    scale = 0.0625 if quick else 0.5
    vs = [Variant(labels[0], UNMAPPED_V2),
          Variant(labels[1], with_knobs(UNMAPPED_V2, flip_remainder="expand"))]
    cols, _, ms = _scenario_cols("secretmem", vs, scale, 2000)
    lists = [[m.free_blocks(z) for z in m.zones if z.present_pages] for m in ms]
    for c in cols:
        c["final_free_lists_identical"] = "yes" if lists[0] == lists[1] else "no"
    rows = ["events", "flips_to_unmapped", "flips_to_mapped", "alloc_failures",
            "final_free_lists_identical", "cost_total_us"]
    sec.tables.append((f"secretmem, scale {scale:g}", _table("q4-secretmem", labels, _pick(cols, rows), rows)))
    ident = same == n_req and lists[0] == lists[1]
    sec.answer = (f"{'Yes' if ident else 'No'}: expand() leaves "
                  f"{'identical' if ident else 'DIFFERENT'} free lists "
                  f"({same}/{n_req} micro steps identical, secretmem final lists "
                  f"{cols[0]['final_free_lists_identical']}) and identical counters; the saving is "
                  f"the lock-held merge attempts of the loop, which cost.py does not price "
                  f"(one flip = one buddy_op_ns either way).")
    return sec


# ------------------------------------------------------------------------------ steal note

def fragmented_after_unmapped_use(pos: str, free_every: int, blocks: int) -> tuple[Machine, int]:
    """The steal-before-flip setup: on unmapped-v2 with ``flip_order=pos``, ``blocks``
    pageblocks are flipped to unmapped by order-0 unmapped requests and freed again; MOVABLE
    memory is then filled with order-0 pages and one in ``free_every`` freed, and the pcp
    lists drained.  Returns the machine and how many unmapped pages were allocated (shared
    with tests/mm/test_unmapped.py)."""
    m = Machine(memory="256M", cpus=1, profile=with_knobs(UNMAPPED_V2, flip_order=pos), thp=False)
    ps = [_unmapped(m, 0, owner=4) for _ in range(blocks * 512)]
    for p in ps:
        if p is not None:
            m.free_pages(p, 0)
    movable = []
    while (p := m.alloc_pages(G.GFP_HIGHUSER_MOVABLE | G.__GFP_NOWARN, 0)) is not None:
        movable.append(p)
    for p in movable[::free_every]:
        m.free_pages(p, 0)
    m.drain_all_pages()
    return m, sum(p is not None for p in ps)


def _after_unmapped_use(pos: str, free_every: int, blocks: int, requests: int) -> dict[str, Value]:
    """:func:`fragmented_after_unmapped_use`, then ``requests`` mapped GFP_KERNEL pages: the
    fallback/flip counters of that phase, with pollution counts."""
    m, _ = fragmented_after_unmapped_use(pos, free_every, blocks)
    before = dict(m.alloc.stats)
    mixed0, pol0 = mixed_pageblocks(m)
    fails = sum(m.alloc_pages(G.GFP_KERNEL, 0) is None for _ in range(requests))
    mixed, pol = mixed_pageblocks(m)
    out: dict[str, Value] = {k: m.alloc.stats[k] - before[k]
                             for k in ("steal", "claim_block", "extfrag_fragmenting", "flip_to_mapped")}
    out["failures"] = fails
    out["polluted_movable_pageblocks_added"] = pol - pol0
    out["mixed_pageblocks_added"] = mixed - mixed0
    return out


def steal_note(quick: bool) -> Section:
    blocks, req = (8, 1024) if quick else (16, 4096)
    sec = Section("steal", "The patch's note: __rmqueue_steal() runs before __rmqueue_direct_map()",
                  f"unmapped-v2, 256 MiB, 1 CPU: {blocks} pageblocks flipped to unmapped and freed "
                  f"(free but unmapped); movable memory filled with order-0 pages, one in N freed "
                  f"(N=4: movable blocks a quarter free; N=2: half free); then {req} mapped "
                  f"GFP_KERNEL order-0 requests. flip_order: after_steal (as posted), "
                  f"before_steal, before_claim.")
    labels, cols = [], []
    for n in (4, 2):
        for pos in ("after_steal", "before_steal", "before_claim"):
            labels.append(f"{pos} N={n}")
            cols.append(_after_unmapped_use(pos, n, blocks, req))
    sec.tables.append(("", _table("steal", labels, cols)))
    a, b = cols[0], cols[1]
    sec.answer = (f"As posted, {req} mapped requests steal {a['steal']} pages into movable "
                  f"blocks ({a['polluted_movable_pageblocks_added']} movable pageblocks newly "
                  f"polluted) and flip {a['flip_to_mapped']} of the {blocks} idle unmapped blocks "
                  f"back; flipping before the steal steals {b['steal']}, pollutes "
                  f"{b['polluted_movable_pageblocks_added']} and flips {b['flip_to_mapped']}.")
    return sec


# ------------------------------------------------------------------------------ E1

def e1_flush(quick: bool) -> Section:
    scale = 0.125 if quick else 1.0
    sec = Section("e1", "E1: how well is the flush cost amortised?",
                  f"secretmem (processes keeping keys in memfd_secret() memory), scale {scale:g}, "
                  f"seed as built in; per-folio-zap (today's secretmem) vs the 2023 cache vs v2 "
                  f"vs v4, and v2 with 16 CPUs (IPIs scale with CPUs).")
    vs = [parse_variant(p) for p in ("per-folio-zap", "unmapped-cache-2023", "unmapped-v2",
                                     "unmapped-v4")] + [Variant("unmapped-v2 16 CPUs", UNMAPPED_V2)]
    cols, recs = _scenario_cols_latency("secretmem", vs, scale, 2000, [None] * 4 + [{"cpus": 16}])
    for c in cols:
        up = max(1, _int(c["unmapped_pages_allocated"]))
        secs = max(1e-9, float(c["model_seconds"] or 0))
        flip_cost = sum(float(c[k] or 0) for k in ("cost_flips_us", "cost_tlb_full_flushes_us",
                                                   "cost_ipis_us", "cost_cpa_calls_us",
                                                   "cost_cpa_splits_us"))
        c["flips_per_1e6_unmapped_pages"] = round(1e6 * (_int(c["flips_to_unmapped"])) / up, 1)
        c["full_flushes_per_s"] = round(_int(c["tlb_flush_full"]) / secs, 2)
        c["ipis_per_s"] = round(_int(c["tlb_ipis"]) / secs, 2)
        c["flush_and_cpa_ns_per_unmapped_page"] = round(1000 * flip_cost / up, 1)
        c["mean_cost_ns_per_alloc"] = round(1000 * float(c["cost_total_us"] or 0)
                                            / max(1, _int(c["allocs"])), 1)
    rows = ["unmapped_pages_allocated", "model_seconds", "flips_to_unmapped", "tlb_flush_ranged",
            "tlb_flush_full", "tlb_ipis", "flips_per_1e6_unmapped_pages", "full_flushes_per_s",
            "ipis_per_s", "flush_and_cpa_ns_per_unmapped_page", "mean_cost_ns_per_alloc",
            "directmap_splits_2m", "cost_total_us"]
    sec.tables.append(("", _table("e1", [v.label for v in vs], _pick(cols, rows), rows)))
    lat: list[dict[str, Value]] = []
    for rec in recs:
        row: dict[str, Value] = dict(rec.row())
        comp = components_share(rec.components.get("unmapped", {}))
        top = max(comp, key=lambda k: comp[k]) if comp else None
        row["unmapped_top_component"] = f"{top} {comp[top]} %" if top else None
        row["unmapped_requests_over_1us"] = sum(x > 1000 for x in rec.samples.get("unmapped", []))
        lat.append(row)
    sec.tables.append(("modelled latency per allocation request (ns)",
                       _table("e1-latency", [v.label for v in vs], lat)))
    z, _, v2, v4, v16 = cols
    lz, _, l2, _, l16 = lat
    # "well amortised": the flips' flush+CPA cost per unmapped page is under a tenth of
    # per-folio zapping's
    amortised = (10 * float(v2["flush_and_cpa_ns_per_unmapped_page"] or 0)
                 < float(z["flush_and_cpa_ns_per_unmapped_page"] or 0))
    sec.answer = (f"{'Well amortised' if amortised else 'Not well amortised'}: v2 flips "
                  f"{v2['flips_per_1e6_unmapped_pages']} blocks per 10^6 "
                  f"unmapped pages, {v2['flush_and_cpa_ns_per_unmapped_page']} ns of flush+CPA "
                  f"per unmapped page ({v16['flush_and_cpa_ns_per_unmapped_page']} with 16 CPUs) "
                  f"vs {z['flush_and_cpa_ns_per_unmapped_page']} ns for per-folio zapping; "
                  f"unmapped request latency mean/p99/p99.9/max {l2['unmapped_mean_ns']}/"
                  f"{l2['unmapped_p99_ns']}/{l2['unmapped_p99.9_ns']}/{l2['unmapped_max_ns']} ns "
                  f"on v2 ({l16['unmapped_max_ns']} max with 16 CPUs) vs {lz['unmapped_mean_ns']}/"
                  f"{lz['unmapped_p99_ns']}/{lz['unmapped_p99.9_ns']}/{lz['unmapped_max_ns']} "
                  f"per-folio.")
    sec.notes.append("Latency is modelled per request (pagealloc/experiments/latency.py): the "
                     "cost.py price of the counters each allocation request moved, flip, "
                     "flush, IPIs, CPA, zeroing and slow-path work included; background agents "
                     "and the later free are not in it. mean_cost_ns_per_alloc is the run's "
                     "whole modelled cost (frees and agents included) per allocation. With "
                     "about one flip per 1000 unmapped requests, p99 does not see the flip; "
                     "p99.9 and max do. v4 refuses __GFP_ZERO for unmapped pages (the caller "
                     "zeroes, outside the allocator), so its unmapped latency has no zeroing.")
    return sec


# ------------------------------------------------------------------------------ E3 / E4

def e3_ratchet(quick: bool) -> Section:
    scale = 0.0625 if quick else 0.5
    sec = Section("e3", "E3: the unmapped-pool ratchet: are free unmapped blocks given back?",
                  f"vm-host, scale {scale:g}: VMs stop (their blocks stay free and unmapped), a "
                  f"kernel burst needs mapped memory, more VMs start under pressure; samples every "
                  f"1000 requests. Columns: v2, v4, v2 flipping before the steal.")
    vs = [parse_variant(p) for p in ("unmapped-v2", "unmapped-v4", "unmapped-v2+flip_order=before_steal")]
    cols, samples, _ = _scenario_cols("vm-host", vs, scale, 1000)
    for c, smp in zip(cols, samples):
        c["free_unmapped_pages_max"] = max(s["free_unmapped_pages"] for s in smp)
        c["free_unmapped_pages_end"] = smp[-1]["free_unmapped_pages"]
        c["stranded_share_max_pct"] = round(max(100 * s["free_unmapped_pages"] / max(1, s["free_pages"])
                                                for s in smp), 1)
        c["stranded_share_end_pct"] = round(100 * smp[-1]["free_unmapped_pages"]
                                            / max(1, smp[-1]["free_pages"]), 1)
        c["steals_while_unmapped_block_free"] = sum(
            b["steal"] - a["steal"] for a, b in zip(smp, smp[1:]) if a["free_unmapped_pages"] >= 512)
    rows = ["flips_to_unmapped", "flips_to_mapped", "free_unmapped_pages_max",
            "free_unmapped_pages_end", "stranded_share_max_pct", "stranded_share_end_pct",
            "steals_while_unmapped_block_free", "steal", "alloc_failures", "pgscan_direct"]
    sec.tables.append(("", _table("e3", [v.label for v in vs], _pick(cols, rows), rows)))
    v2, _, early = cols
    back, flipped = _int(v2["flips_to_mapped"]), _int(v2["flips_to_unmapped"])
    verdict = "No" if back == 0 else ("Yes" if back >= flipped else "Partly")
    sec.answer = (f"{verdict}: v2 maps {v2['flips_to_mapped']} of {v2['flips_to_unmapped']} flipped "
                  f"blocks back, but up to {v2['stranded_share_max_pct']} % of free memory sits "
                  f"free-but-unmapped and {v2['steals_while_unmapped_block_free']} pages are stolen "
                  f"while a whole unmapped block is free (flip-before-steal: "
                  f"{early['steals_while_unmapped_block_free']}).")
    sec.notes.append("Movable requests never flip a block back (series.md 2.17 #7): only "
                     "mapped UNMOVABLE requests do, after smallest/claim/steal fail.")
    return sec


def e4_steal_order(quick: bool) -> Section:
    scale = 0.0625 if quick else 0.5
    sec = Section("e4", "E4: steal-before-flip fragmentation on a whole workload",
                  f"vm-host, scale {scale:g}, unmapped-v2 with flip_order after_steal (posted), "
                  f"before_steal, before_claim; samples every 1000 requests.")
    vs = [parse_variant(f"unmapped-v2+flip_order={p}") for p in ("after_steal", "before_steal", "before_claim")]
    cols, _, _ = _scenario_cols("vm-host", vs, scale, 1000)
    rows = ["mixed_pageblocks_end", "mixed_pageblocks_max", "polluted_movable_pageblocks_end",
            "extfrag", "extfrag_fragmenting", "steal", "claim_block", "flips_to_unmapped",
            "flips_to_mapped", "free_order9_blocks_mapped_mean", "free_order9_blocks_mapped_min",
            "failures order=9", "alloc_failures", "compact_stall"]
    for c in cols:
        c.setdefault("failures order=9", 0)
    sec.tables.append(("", _table("e4", [v.label for v in vs], _pick(cols, rows), rows)))
    a, b, c = cols
    sec.answer = (f"Fragmenting steals {a['extfrag_fragmenting']} (posted) vs "
                  f"{b['extfrag_fragmenting']} (before_steal) vs {c['extfrag_fragmenting']} "
                  f"(before_claim); mixed pageblocks at the end {a['mixed_pageblocks_end']} / "
                  f"{b['mixed_pageblocks_end']} / {c['mixed_pageblocks_end']}; order-9 "
                  f"failures {a['failures order=9']} / {b['failures order=9']} / "
                  f"{c['failures order=9']}.")
    sec.notes.append("THP success rate is read as order-9 failures and free mapped order-9 "
                     "blocks (vm-host's guest memory asks order 9); ALLOC_NOFRAGMENT/defrag_mode "
                     "variations are not run here.")
    return sec


# ------------------------------------------------------------------------------ E8 / E9

def e8_directmap(quick: bool) -> Section:
    scale = 0.125 if quick else 1.0
    sec = Section("e8", "E8: direct-map fragmentation vs the alternatives",
                  f"secretmem, scale {scale:g}: per-folio-zap (today), unmapped-cache-2023 as "
                  f"posted and fixed (whole block unmapped), unmapped-v2. TLB-reach proxy: leaf "
                  f"entries needed to cover the direct map (4k/4 + 2M/2048 + 1G/1048576 of the kB).")
    vs = [parse_variant(p) for p in ("per-folio-zap", "unmapped-cache-2023",
                                     "unmapped-cache-2023+cache_unmap_whole_block=true", "unmapped-v2")]
    cols, _, _ = _scenario_cols("secretmem", vs, scale, 1000)
    for c in cols:
        for when in ("end", "worst"):
            c[f"tlb_reach_entries_{when}"] = (_int(c[f"directmap_4k_kb_{when}"]) // 4
                                              + _int(c[f"directmap_2m_kb_{when}"]) // 2048
                                              + _int(c[f"directmap_1g_kb_{when}"]) // 1048576)
    rows = ["directmap_4k_kb_end", "directmap_2m_kb_end", "directmap_1g_kb_end",
            "directmap_4k_kb_worst", "directmap_2m_kb_worst", "directmap_1g_kb_worst",
            "directmap_splits_2m", "directmap_splits_1g", "pagetable_pages",
            "tlb_reach_entries_end", "tlb_reach_entries_worst", "tlb_flush_full", "tlb_ipis",
            "security_exposures", "cost_total_us"]
    sec.tables.append(("", _table("e8", [v.label for v in vs], _pick(cols, rows), rows)))
    z, c1, c2, v2 = cols
    sec.answer = (f"Freetype pageblocks keep the direct map intact ({v2['directmap_splits_2m']} 2M "
                  f"splits, {v2['tlb_reach_entries_worst']} leaf entries at worst) where per-folio "
                  f"zapping splits {z['directmap_splits_2m']} 2M pages ({z['tlb_reach_entries_worst']} "
                  f"entries) and the 2023 cache {c1['directmap_splits_2m']} as posted, "
                  f"{c2['directmap_splits_2m']} fixed.")
    return sec


def e9_recursion(quick: bool) -> Section:
    memory = "6G" if quick else "16G"
    sec = Section("e9", "E9: recursion of page-table allocation during a flip",
                  f"unmapped-v2 on {memory} (1G direct-map leaves), 4 CPUs: mapped memory filled "
                  f"with pinned order-9 and order-0 GFP_KERNEL blocks until allocation fails, then "
                  f"one order-9 block freed in every 1 GiB, then one order-9 unmapped request per freed block "
                  f"(each flip splits a 1G leaf and needs a page-table page from nearly "
                  f"exhausted mapped memory). Columns: error path as posted vs the fix.")
    labels, cols = [], []
    for path in ("free_requested_ft", "restore"):
        m = Machine(memory=memory, cpus=4, profile=with_knobs(UNMAPPED_V2, flip_error_path=path),
                    thp=False)
        nowait = G.GFP_NOWAIT | G.__GFP_NOWARN
        big: list[int] = []
        while (p := m.alloc_pages(nowait, 9)) is not None:
            big.append(p)
        while m.alloc_pages(nowait, 0) is not None:
            pass
        freed: dict[int, int] = {}
        for p in big:
            freed.setdefault(p >> 18, p)
        for p in freed.values():
            m.free_pages(p, 9)
        before = dict(m.alloc.stats)
        pt0 = m.directmap.stats["pgtable_pages_allocated"]
        fails = sum(_unmapped(m, 9, owner=3) is None for _ in range(len(freed)))
        flips = m.alloc.stats["flip_to_unmapped"] - before["flip_to_unmapped"]
        pt = m.directmap.stats["pgtable_pages_allocated"] - pt0
        err: str = "held"
        try:
            m.check()
        except InvariantError as e:
            err = "violated: " + str(e).split("\n")[0][:60]
        labels.append(f"error path {path}")
        cols.append({"unmapped_requests": len(freed), "failures": fails, "flips_to_unmapped": flips,
                     "flip_max_depth": m.alloc.stats["flip_max_depth"],
                     "pagetable_pages": pt, "pagetable_pages_per_flip": round(pt / flips, 2) if flips else None,
                     "directmap_splits_1g": m.directmap.stats["direct_map_level3_splits"],
                     "flip_cpa_errors": m.alloc.stats["flip_cpa_error"] - before["flip_cpa_error"],
                     "invariants": err})
    sec.tables.append(("", _table("e9", labels, cols)))
    a = cols[0]
    bounded = _int(a["flip_max_depth"]) <= 1 and float(a["pagetable_pages_per_flip"] or 0) <= 1
    sec.answer = (f"{'Bounded' if bounded else 'Not bounded by one'}: the deepest nesting of "
                  f"flip -> page-table allocation -> flip is "
                  f"{a['flip_max_depth']}, with {a['pagetable_pages_per_flip']} page-table pages "
                  f"per flip ({a['flips_to_unmapped']} flips, {a['flip_cpa_errors']} CPA errors).")
    sec.notes.append("Large-page re-collapse is not modelled (the series never re-collapses), so "
                     "its effect on the bound is not measured.")
    return sec


# ------------------------------------------------------------------------------ E10

def e10_atomic(quick: bool) -> Section:
    n = 2000 if quick else 20000
    sec = Section("e10", "E10: atomic (ALLOC_NOBLOCK) users",
                  f"unmapped-v2, 256 MiB, 2 CPUs. (a) {n} seeded order-0 unmapped requests (live "
                  f"set up to 1500, 45 % frees), a share of them GFP_ATOMIC|__GFP_UNMAPPED (no "
                  f"direct reclaim: ALLOC_NOBLOCK cannot flip). (b) 75 % of memory flipped to "
                  f"unmapped by one user and freed, then mapped GFP_ATOMIC order-0 requests for "
                  f"half of memory.")
    labels, cols = [], []
    for share in (0.1, 0.5, 1.0):
        m = Machine(memory="256M", cpus=2, profile=UNMAPPED_V2, thp=False)
        rnd = random.Random(10)
        live: list[int] = []
        att = fail = 0
        for _ in range(n):
            if len(live) >= 1500 or (live and rnd.random() < 0.45):
                m.free_pages(live.pop(rnd.randrange(len(live))), 0, 0)
                continue
            atomic = rnd.random() < share
            p = m.alloc_pages((G.GFP_ATOMIC | G.__GFP_UNMAPPED) if atomic else GFP_UNMAPPED, 0, 0,
                              owner=3)
            att += atomic
            fail += atomic and p is None
            if p is not None:
                live.append(p)
        labels.append(f"unmapped, {int(share * 100)} % atomic")
        cols.append({"atomic_requests": att, "atomic_failures": fail,
                     "atomic_failure_pct": round(100 * fail / max(1, att), 1),
                     "spurious_unmapped_failures": m.metrics()["spurious_unmapped_failures"],
                     "flips_to_unmapped": m.alloc.stats["flip_to_unmapped"],
                     "flip_noblock_refused": m.alloc.stats["flip_noblock_refused"]})
    m = Machine(memory="256M", cpus=2, profile=UNMAPPED_V2, thp=False)
    total = sum(z.present_pages for z in m.zones)
    ps = [_unmapped(m, 0, owner=6) for _ in range(total * 3 // 4)]
    for p in ps:
        if p is not None:
            m.free_pages(p, 0)
    m.drain_all_pages()
    req = total // 2
    f2 = sum(m.alloc_pages(G.GFP_ATOMIC | G.__GFP_NOWARN, 0) is None for _ in range(req))
    labels.append("mapped atomic after unmapped burst")
    cols.append({"atomic_requests": req, "atomic_failures": f2,
                 "atomic_failure_pct": round(100 * f2 / req, 1),
                 "spurious_unmapped_failures": 0,
                 "flips_to_unmapped": m.alloc.stats["flip_to_unmapped"],
                 "flip_noblock_refused": m.alloc.stats["flip_noblock_refused"]})
    sec.tables.append(("", _table("e10", labels, cols)))
    a, _, c, d = cols
    sec.answer = (f"Atomic unmapped requests fail whenever no unmapped page is free: "
                  f"{a['atomic_failure_pct']} % at 10 % atomic, {c['atomic_failure_pct']} % when all "
                  f"are atomic; mapped GFP_ATOMIC after an unmapped burst fails "
                  f"{d['atomic_failure_pct']} % although the memory is free (no flip back without "
                  f"blocking).")
    sec.notes.append("A reserve of pre-flipped blocks is not modelled, so its benefit is not "
                     "measured.")
    return sec


# ------------------------------------------------------------------------------ E11

@dataclass
class OrderCheckTally:
    """Probes of the high-order watermark check against ground truth (E11).

    One probe per order>0 unmapped request and eligible zone whose order-0 part of the
    check passes (free pages above the mark): ``check`` is the model's
    ``__zone_watermark_ok()`` answer, ``page`` whether a free UNMOVABLE|UNMAPPED block of
    at least that order is on the zone's free lists, ``flip`` whether a whole free mapped
    block (order >= max(order, pageblock_order)) is there for the flip."""

    probes: int = 0
    check_pass: int = 0
    page: int = 0
    false_pass: int = 0            # check passes, no unmapped page of that order
    false_pass_unservable: int = 0  # ... and no whole mapped block to flip either
    false_fail: int = 0            # check fails, an unmapped page of that order is free

    def add(self, check: bool, page: bool, flip: bool) -> None:
        self.probes += 1
        self.check_pass += check
        self.page += page
        self.false_pass += check and not page
        self.false_pass_unservable += check and not page and not flip
        self.false_fail += page and not check

    def row(self) -> dict[str, Value]:
        n = max(1, self.probes)
        return {"probes": self.probes, "check_pass": self.check_pass,
                "unmapped_page_free": self.page, "false_pass": self.false_pass,
                "false_pass_no_block_to_flip": self.false_pass_unservable,
                "false_fail": self.false_fail,
                "false_pass_pct": round(100 * self.false_pass / n, 1),
                "false_pass_unservable_pct": round(100 * self.false_pass_unservable / n, 1),
                "false_fail_pct": round(100 * self.false_fail / n, 1)}


def probe_order_check(m: Machine, order: int, gfp: int = GFP_UNMAPPED
                      ) -> list[tuple[str, bool, bool, bool]]:
    """For an unmapped request of ``order``: per eligible zone (zonelist order) whose
    order-0 part of ``__zone_watermark_ok()`` passes at the fast path's mark, the triple
    (check at ``order``, unmapped page of >= ``order`` free, whole mapped block free)."""
    from pagealloc.mm.freetype import FREETYPE_UNMAPPED_IDX, MIGRATE_PCPTYPES
    from pagealloc.mm.mmzone import NIL, NR_PAGE_ORDERS, PAGEBLOCK_ORDER
    from pagealloc.mm.page_alloc import UNMAPPED_KEY
    a = m.alloc
    key = ((gfp & ~G.__GFP_UNMAPPED) | UNMAPPED_KEY) if m.profile.unmapped == "v4" else gfp
    hz, _, pref, flags, _, _ = a.prepare_alloc(key)
    lhead = m.mem.lhead
    out = []
    for z in a.zonelist[max(pref, 0):]:
        if z.idx > hz or not z.managed_pages:
            continue
        mark = z._watermark[flags & G.ALLOC_WMARK_MASK] + z.watermark_boost
        free = a.zone_page_state_free(z)
        if not a._zone_watermark_ok(z, 0, mark, hz, flags, free - ((1 << order) - 1)):
            continue
        check = a._zone_watermark_ok(z, order, mark, hz, flags, free)
        page = any(lhead[z.buddy_list(o, FREETYPE_UNMAPPED_IDX)] != NIL
                   for o in range(order, NR_PAGE_ORDERS))
        flip = any(lhead[z.buddy_list(o, t)] != NIL
                   for o in range(max(order, PAGEBLOCK_ORDER), NR_PAGE_ORDERS)
                   for t in range(MIGRATE_PCPTYPES))
        out.append((z.name, check, page, flip))
    return out


def unmapped_pool_beside_full_mapped_memory(profile: Any, blocks: int = 8) -> Machine:
    """E11's constructed case, 256 MiB, 1 CPU: ``blocks`` pageblocks flipped to unmapped
    and freed (whole free unmapped blocks), mapped memory then filled with order-0 pages
    (NOWAIT movable, then GFP_ATOMIC, drained and refilled until nothing more comes:
    no mapped block is left free) and one mapped page in four freed: plenty of free
    memory, none of it a mapped block of order >= 1."""
    m = Machine(memory="256M", cpus=1, profile=profile, thp=False)
    ps = [_unmapped(m, 0, owner=4) for _ in range(blocks * 512)]
    for p in ps:
        if p is not None:
            m.free_pages(p, 0)
    m.drain_all_pages()
    mapped: list[int] = []
    while True:
        n0 = len(mapped)
        for g in (NOWAIT_MOVABLE & ~G.__GFP_HIGHMEM, G.GFP_ATOMIC | G.__GFP_NOWARN):
            while (p := m.alloc_pages(g, 0)) is not None:
                mapped.append(p)
        m.drain_all_pages()
        if len(mapped) == n0:
            break
    for p in mapped[::4]:
        m.free_pages(p, 0)
    m.drain_all_pages()
    return m


def _probing_scenario(scenario: str, variant: Variant, scale: float) -> tuple[OrderCheckTally, int]:
    """Run a scenario probing the order check before every order>0 unmapped request;
    returns the tally and the run's failed order>0 unmapped requests."""
    from pagealloc.workload import scenario as S
    scn = S.load_scenario(scenario).scaled(scale)
    m = S.build_machine(scn, variant.profile, None)
    tally = OrderCheckTally()
    failed = [0]

    class _Runner(S.ScenarioRunner):
        def _request(self, s: Any, use: Any, gfp: int, order: int, cpu: int, owner: int | None,
                     unmapped: bool, item: Any, dirty: bool) -> bool:
            if unmapped and order > 0:
                for _, check, page, flip in probe_order_check(self.m, order):
                    tally.add(check, page, flip)
            ok = bool(super()._request(s, use, gfp, order, cpu, owner, unmapped, item, dirty))
            failed[0] += unmapped and order > 0 and not ok
            return ok

    _Runner(scn, m, scale=scale).run()
    return tally, failed[0]


def _probing_stream(profile: Any, n: int) -> tuple[OrderCheckTally, int]:
    """A seeded stream on 256 MiB: order-0 movable pages and order 1-3 unmapped requests,
    half each, freed at random with the live set held at 90 % of memory (both kinds
    fragment under pressure); the order check probed before every unmapped request."""
    m = Machine(memory="256M", cpus=1, profile=profile, thp=False)
    cap = sum(z.managed_pages for z in m.zones) * 9 // 10
    rnd = random.Random(11)
    live: list[tuple[int, int, bool]] = []
    pages = 0
    tally = OrderCheckTally()
    failed = 0
    for _ in range(n):
        if live and (pages >= cap or rnd.random() < 0.2):
            pfn, o, h = live.pop(rnd.randrange(len(live)))
            if h:
                m.free_owned(pfn)
            else:
                m.free_pages(pfn, o)
            pages -= 1 << o
            continue
        if rnd.random() < 0.5:
            h2 = m.alloc_owned("anon", 0, gfp=G.GFP_HIGHUSER_MOVABLE | G.__GFP_NOWARN)
            if h2 is not None:
                live.append((h2, 0, True))
                pages += 1
            continue
        o = rnd.randrange(1, 4)
        for _, check, page, flip in probe_order_check(m, o):
            tally.add(check, page, flip)
        got = _unmapped(m, o, owner=5, gfp=GFP_UNMAPPED | G.__GFP_NOWARN)
        if got is None:
            failed += 1
        else:
            live.append((got, o, False))
            pages += 1 << o
    return tally, failed


def e11_order_check(quick: bool) -> Section:
    scale = 0.0625 if quick else 0.5
    n = 4000 if quick else 40000
    sec = Section("e11", "E11: watermark mis-signal of the high-order check for unmapped requests",
                  "For every order>0 unmapped request, before it runs, the model's "
                  "__zone_watermark_ok() (order part over the mapped lists only, series.md "
                  "2.8) is compared, per eligible zone whose free-page count passes, with "
                  "ground truth: is a free UNMOVABLE|UNMAPPED block of at least that order "
                  "on the zone's lists? (and: is a whole mapped block free for the flip?). "
                  "Constructed: 8 pageblocks flipped to unmapped and freed, mapped memory "
                  "full, one mapped page in four freed, then one unmapped request each of "
                  f"order 1, 2, 3, 9. Stream: {n} seeded requests on 256 MiB, order-0 "
                  f"movable and order 1-3 unmapped, live set at 90 % of memory. vm-host, "
                  f"scale {scale:g}: guest_memfd's order-9 requests.")
    labels = ["v2", "v4"]
    cons: list[dict[str, Value]] = []
    for prof in (UNMAPPED_V2, UNMAPPED_V4):
        m = unmapped_pool_beside_full_mapped_memory(prof)
        col: dict[str, Value] = {"free_pages": m.nr_free_pages(),
                                 "free_unmapped_pages": sum(
                                     z.nr_free_pages_blocks_unmapped for z in m.zones)}
        for o in (1, 2, 3, 9):
            pr = probe_order_check(m, o)
            before = m.metrics()
            got = _unmapped(m, o, owner=4, gfp=GFP_UNMAPPED | G.__GFP_NOWARN)
            after = m.metrics()
            col[f"order {o}: check (per zone)"] = " ".join(
                f"{zn}:{'pass' if c else 'FAIL'}" for zn, c, _, _ in pr)
            col[f"order {o}: unmapped page free"] = " ".join(
                f"{zn}:{'yes' if pg else 'no'}" for zn, _, pg, _ in pr)
            col[f"order {o}: request"] = "served" if got is not None else "failed"
            col[f"order {o}: oom_reports"] = after["oom_reports"] - before["oom_reports"]
            if got is not None:
                m.free_pages(got, o)
        cons.append(col)
    sec.tables.append(("constructed", _table("e11-constructed", labels, cons)))
    cols: list[dict[str, Value]] = []
    clabels: list[str] = []
    for lab, prof in (("v2", UNMAPPED_V2), ("v4", UNMAPPED_V4)):
        t, f = _probing_stream(prof, n)
        cols.append(t.row() | {"order>0_unmapped_failures": f})
        clabels.append(f"{lab} stream")
    for lab, prof in (("v2", UNMAPPED_V2), ("v4", UNMAPPED_V4)):
        t, f = _probing_scenario("vm-host", Variant(lab, prof), scale)
        cols.append(t.row() | {"order>0_unmapped_failures": f})
        clabels.append(f"{lab} vm-host")
    sec.tables.append(("rates", _table("e11-rates", clabels, cols)))
    a = cons[0]
    fails = sum(c[f"order {o}: request"] == "failed" for c in cons for o in (1, 2, 3, 9))
    s2, s4, h2, _ = cols
    sec.answer = (f"In the model, whose v4 keeps v2's mapped-only order check (seen in v2's "
                  f"and linux-mm's __zone_watermark_ok(); v4's page_alloc.c was not available, "
                  f"so the v4 columns are unverified), that check false-fails: with "
                  f"{a['free_unmapped_pages']} unmapped pages free in whole blocks, {fails} of 8 "
                  f"order 1/2/3/9 unmapped requests (v2 and v4) fail, orders 1-3 with an OOM "
                  f"report; in vm-host it "
                  f"false-fails {h2['false_fail_pct']} % of order-9 probes and false-passes "
                  f"{h2['false_pass_pct']} % ({h2['false_pass_unservable_pct']} % with no block "
                  f"to flip either); in the mixed stream {s2['false_fail_pct']} % / "
                  f"{s2['false_pass_pct']} % ({s2['false_pass_unservable_pct']} %) on v2, "
                  f"{s4['false_fail_pct']} % / {s4['false_pass_pct']} % on v4.")
    sec.notes.append("A false pass is mostly harmless (the flip then supplies the page) unless "
                     "no whole mapped block is free either (false_pass_no_block_to_flip): then "
                     "the request goes to the slow path as in Q2. Unmapped pages on pcp lists "
                     "are not counted as ground truth (the check does not see them either).")
    sec.notes.append("Source check: for order > 0, __zone_watermark_ok() in v2 (bjackman/linux "
                     "mm/page_alloc.c@a3c87cc7) and in linux-mm/linux-mm@f42bec43 tests only "
                     "the migrate_to_freetype(mt, 0) lists (mapped; plus CMA and HIGHATOMIC), "
                     "and zone_watermark_fast() passes it NR_FREE_PAGES. No v4 page_alloc.c is "
                     "stored (the other stored trees predate the series), so the v4 columns rest "
                     "on an unverified assumption: that v4 leaves both functions as v2 has them "
                     "for ALLOC_UNMAPPED. The one v3/v4-era use of the split counters seen is "
                     "compaction's: compaction_suit_allocation_order() (bjackman/linux "
                     "mm/compaction.c@075be59b) checks an unmapped request against "
                     "NR_FREE_PAGES_BLOCKS_MAPPED, as the model does.")
    return sec


# ------------------------------------------------------------------------------ E12

def pcp_blocked_pageblocks(m: Machine) -> dict[str, int]:
    """Pages parked on pcp lists, by kind, and the pageblocks they keep from being whole
    free blocks (every page of the block free on the buddy lists or on a pcp list, at
    least one on a pcp list: a drain would make it a block the flip could take)."""
    from pagealloc.mm.mmzone import ORDER_MASK, PB_FREETYPE_FLAGS_SHIFT, PS_BUDDY, PS_MASK, PS_PCP
    pcp_pages: dict[int, int] = {}
    for z in m.populated_zones():
        for cpu in range(m.ncpus):
            for pindex, pfn in m.pcp_blocks(z, cpu):
                b = pfn >> 9
                pcp_pages[b] = pcp_pages.get(b, 0) + (1 << m.profile.pindex_to_order(pindex))
    pstate, pb = m.mem.pstate, m.mem.pb
    out = {"pcp_pages_unmapped": 0, "pcp_pages_mapped": 0, "blocked_unmapped_blocks": 0,
           "blocked_mapped_blocks": 0}
    for b, n in pcp_pages.items():
        kind = "unmapped" if (pb[b] >> PB_FREETYPE_FLAGS_SHIFT) & 1 else "mapped"
        out[f"pcp_pages_{kind}"] += n
        p, end, free = b << 9, (b + 1) << 9, 0
        while p < end:
            st = pstate[p]
            if st & PS_MASK in (PS_BUDDY, PS_PCP):
                free += 1 << (st & ORDER_MASK)
                p += 1 << (st & ORDER_MASK)
            elif st & PS_MASK:
                p += 1 << (st & ORDER_MASK)
            else:
                p += 1
        out[f"blocked_{kind}_blocks"] += free >= 512
    return out


def _pcp_scenario(scenario: str, variant: Variant, scale: float, overrides: Mapping[str, Any] | None,
                  every: int) -> dict[str, Value]:
    """Run a scenario counting flips by the request that caused them (pcp orders: the pcp
    refill came back empty, rmqueue_buddy() flipped) and sampling pcp-parked pages."""
    from pagealloc.workload import scenario as S
    from pagealloc.mm.page_alloc import pcp_allowed_order
    scn = S.load_scenario(scenario).scaled(scale)
    m = S.build_machine(scn, variant.profile, overrides)
    st = m.alloc.stats
    c = {"unmapped_requests": 0, "unmapped_pcp_order_requests": 0, "flips_in_pcp_order_requests": 0,
         "flips_in_other_unmapped_requests": 0, "flips_to_mapped_in_mapped_requests": 0}
    smp: list[dict[str, int]] = []

    class _Runner(S.ScenarioRunner):
        def _request(self, s: Any, use: Any, gfp: int, order: int, cpu: int, owner: int | None,
                     unmapped: bool, item: Any, dirty: bool) -> bool:
            f0, b0 = st["flip_to_unmapped"], st["flip_to_mapped"]
            ok = bool(super()._request(s, use, gfp, order, cpu, owner, unmapped, item, dirty))
            if unmapped:
                c["unmapped_requests"] += 1
                pcp = pcp_allowed_order(order)
                c["unmapped_pcp_order_requests"] += pcp
                k = "flips_in_pcp_order_requests" if pcp else "flips_in_other_unmapped_requests"
                c[k] += st["flip_to_unmapped"] - f0
            else:
                c["flips_to_mapped_in_mapped_requests"] += st["flip_to_mapped"] - b0
            return ok

        def sample(self) -> None:
            smp.append(pcp_blocked_pageblocks(self.m))

    res = _Runner(scn, m, scale=scale, every=every).run()
    row: dict[str, Value] = dict(c)
    row["flips_to_unmapped"] = st["flip_to_unmapped"]
    row["flips_per_1000_pcp_order_requests"] = round(
        1000 * c["flips_in_pcp_order_requests"] / max(1, c["unmapped_pcp_order_requests"]), 2)
    for k in ("pcp_pages_unmapped", "pcp_pages_mapped", "blocked_unmapped_blocks",
              "blocked_mapped_blocks"):
        vals = [x[k] for x in smp] or [0]
        row[f"{k}_mean"] = round(sum(vals) / len(vals), 1)
        row[f"{k}_max"] = max(vals)
    row["steal"] = st["steal"]
    row["alloc_failures"] = res.alloc_failures
    return row


def e12_pcp_bank(quick: bool) -> Section:
    scale = 0.125 if quick else 1.0
    every = 500
    sec = Section("e12", "E12: pcp bank sizing for unmapped pages",
                  f"secretmem, scale {scale:g}, unmapped-v2, samples every {every} requests: "
                  f"pcp lists per CPU (1, 4, 16 CPUs, auto-tuned pcp high) and larger pcp lists "
                  f"(16 CPUs, percpu_pagelist_high_fraction=64 and 8); with 4 CPUs, the unmapped "
                  f"refill fixed at 4 pages (knob unmapped_pcp_batch) and no unmapped bank "
                  f"(unmapped_pcp=none). Flips are charged to "
                  f"the request "
                  f"that caused them: in a pcp-order (0-3) unmapped request a flip means the pcp "
                  f"refill (which never flips) came back empty. percpu_pagelist_high_fraction fixes "
                  f"pcp high at managed/fraction/CPUs (64: small lists; 8: about the auto-tuned "
                  f"maximum, from the start). Blocked blocks: pageblocks whose "
                  f"every page is free, some of them on pcp lists (a drain would make a whole "
                  f"block for the flip).")
    cfgs: list[tuple[str, Any, dict[str, Any]]] = [
        ("1 CPU", UNMAPPED_V2, {"cpus": 1}), ("4 CPUs", UNMAPPED_V2, {"cpus": 4}),
        ("16 CPUs", UNMAPPED_V2, {"cpus": 16}),
        ("16 CPUs, high_fraction=64", UNMAPPED_V2,
         {"cpus": 16, "percpu_pagelist_high_fraction": 64}),
        ("16 CPUs, high_fraction=8", UNMAPPED_V2,
         {"cpus": 16, "percpu_pagelist_high_fraction": 8}),
        ("4 CPUs, unmapped batch 4", with_knobs(UNMAPPED_V2, unmapped_pcp_batch="4"), {"cpus": 4}),
        ("4 CPUs, no unmapped bank", with_knobs(UNMAPPED_V2, unmapped_pcp="none"), {"cpus": 4})]
    cols = [_pcp_scenario("secretmem", Variant(lab, prof), scale, ov, every)
            for lab, prof, ov in cfgs]
    sec.tables.append(("", _table("e12", [lab for lab, _, _ in cfgs], cols)))
    one, four, sixteen, small, big, b4, nobank = cols
    sec.answer = (f"Flips from pcp refill misses: {one['flips_per_1000_pcp_order_requests']} / "
                  f"{four['flips_per_1000_pcp_order_requests']} / "
                  f"{sixteen['flips_per_1000_pcp_order_requests']} per 1000 pcp-order unmapped "
                  f"requests with 1 / 4 / 16 CPUs ({small['flips_per_1000_pcp_order_requests']} / "
                  f"{big['flips_per_1000_pcp_order_requests']} with small / fixed large pcp "
                  f"lists); unmapped pages parked on pcp lists peak at "
                  f"{one['pcp_pages_unmapped_max']} / {four['pcp_pages_unmapped_max']} / "
                  f"{sixteen['pcp_pages_unmapped_max']} ({small['pcp_pages_unmapped_max']} / "
                  f"{big['pcp_pages_unmapped_max']}), "
                  f"keeping up to {max(_int(c['blocked_unmapped_blocks_max']) for c in cols)} "
                  f"unmapped and {max(_int(c['blocked_mapped_blocks_max']) for c in cols)} mapped "
                  f"pageblocks from being whole free blocks; with 4 CPUs a 4-page unmapped "
                  f"batch parks at most {b4['pcp_pages_unmapped_max']} unmapped pages and no "
                  f"bank {nobank['pcp_pages_unmapped_max']} (blocked unmapped blocks "
                  f"{four['blocked_unmapped_blocks_max']} / {b4['blocked_unmapped_blocks_max']} / "
                  f"{nobank['blocked_unmapped_blocks_max']}; flips "
                  f"{four['flips_to_unmapped']} / {b4['flips_to_unmapped']} / "
                  f"{nobank['flips_to_unmapped']}).")
    sec.notes.append("Knobs: unmapped_pcp=none is NR_UNMAPPED_PCP_LISTS = 0 (unmapped pages "
                     "bypass the pcp lists both ways); unmapped_pcp_batch fixes the unmapped "
                     "refill size. The drain policy is not varied. The zone-lock traffic the bank "
                     "saves is not measured: cost.py charges a pcp hit and a buddy allocation "
                     "alike (alloc_fast_ns per page).")
    return sec


# ------------------------------------------------------------------------------ E13

def _cross_merge(flags: bool) -> str:
    """tests/mm/test_unmapped.py: an unmapped order-9 block freed next to a mapped UNMOVABLE
    buddy; does an order-10 block spanning both kinds appear?"""
    m = Machine(memory="256M", cpus=1,
                profile=with_knobs(UNMAPPED_V2, freetypes_equal="flags" if flags else "migratetype"),
                thp=False)
    a = m.alloc
    u = _unmapped(m, 9)
    if u is None:
        return "n/a"
    buddy = u ^ 512
    if m.mem.pstate[buddy] != 0x10 | 9:
        return "n/a (buddy not free)"
    a.del_page_from_free_list(buddy, a.zone_of(u), 9, m.mem.get_pfnblock_freetype(buddy))
    a.set_pageblock_migratetype(buddy, 0)
    m.mem.pstate[buddy] = 0x30 | 9
    m.free_pages(buddy, 9)
    m.free_pages(u, 9)
    return "yes" if m.mem.pstate[u & ~1023] == 0x10 | 10 else "no"


def _cross_kind_free_blocks(m: Machine) -> int:
    """Free order-10 blocks whose two pageblocks disagree on the unmapped flag."""
    n = 0
    for z in m.populated_zones():
        for idx in range(NR_FREETYPE_IDXS):
            for pfn in m.mem.list_entries(z.buddy_list(10, idx)):
                b = pfn >> 9
                n += (m.mem.pb[b] >> 5) != (m.mem.pb[b + 1] >> 5)
    return n


def e13_freetypes_equal(quick: bool) -> Section:
    scale = 0.0625 if quick else 0.5
    sec = Section("e13", "E13: freetypes_equal() comparing flags vs only the migratetype",
                  f"Micro (tests/mm/test_unmapped.py): an unmapped order-9 block freed next to its "
                  f"free mapped UNMOVABLE buddy. Scenario: vm-host, scale {scale:g}, invariants "
                  f"checked at the end.")
    labels = ["flags (correct)", "migratetype (2.1 bug)"]
    vs = [Variant(labels[0], UNMAPPED_V2),
          Variant(labels[1], with_knobs(UNMAPPED_V2, freetypes_equal="migratetype"))]
    cols, _, ms = _scenario_cols("vm-host", vs, scale, 2000)
    for c, m, flags in zip(cols, ms, (True, False)):
        c["micro_cross_kind_merge"] = _cross_merge(flags)
        st = m.contents.stats if m.contents is not None else {}
        c["unmapped_present_in_direct_map"] = st.get("unmapped_present_in_direct_map", 0)
        c["unmapped_reachable_by_stale_tlb"] = st.get("unmapped_reachable_by_stale_tlb", 0)
        c["cross_kind_order10_free_blocks_end"] = _cross_kind_free_blocks(m)
        try:
            m.check()
            c["invariants_at_end"] = "held"
        except InvariantError as e:
            c["invariants_at_end"] = "violated: " + str(e).split("\n")[0][:60]
    rows = ["micro_cross_kind_merge", "cross_kind_order10_free_blocks_end",
            "unmapped_present_in_direct_map", "unmapped_reachable_by_stale_tlb",
            "security_exposures", "flips_to_unmapped", "flips_to_mapped", "invariants_at_end"]
    sec.tables.append(("", _table("e13", labels, _pick(cols, rows), rows)))
    a, b = cols
    sec.answer = (f"Comparing only migratetypes merges across kinds: micro merge "
                  f"{a['micro_cross_kind_merge']} (flags) vs {b['micro_cross_kind_merge']} "
                  f"(migratetype); in vm-host unmapped pages reachable through the direct map: "
                  f"{a['unmapped_present_in_direct_map']} vs {b['unmapped_present_in_direct_map']}, "
                  f"invariants {a['invariants_at_end']} vs {b['invariants_at_end']}.")
    return sec


# ------------------------------------------------------------------------------ E14

def mermap_zeroing_stream(region_pages: int, variant: Any, held: int, held_pages: int,
                          orders: Mapping[int, float], n: int, kernel_pte_global: bool = True,
                          seed: int = 14) -> dict[str, Value]:
    """The mermap alone (one CPU): ``held`` mappings of ``held_pages`` pages each kept by
    another user (a preempted v4 page-cache reader, a second zeroing in progress), then
    ``n`` ``clear_page_mermap()`` calls (the mm-code caller: slow path per page, advancing)
    of sizes drawn from ``orders``.  A reserved get that fails (the kernel would oops: the
    caller does not check for NULL) is counted and that call abandoned."""
    from pagealloc.mm.mermap import (
        CLEAR_PAGE_MERMAP_MM,
        Mermap,
        MermapReservedUnavailable,
        clear_page_mermap,
    )
    mm = Mermap(1, region_pages, variant=variant, strict=False,
                kernel_pte_global=kernel_pte_global)
    mm.mm_prepare()
    for i in range(held):
        mm.get(0, 1_000_000 + i * held_pages, held_pages)
    st0 = dict(mm.stats)
    rnd = random.Random(seed)
    keys, weights = list(orders), list(orders.values())
    pages = oops = 0
    for i in range(n):
        o = rnd.choices(keys, weights)[0]
        try:
            pages += len(set(clear_page_mermap(mm, 0, 4096 * (i + 1), 1 << o, CLEAR_PAGE_MERMAP_MM)))
        except MermapReservedUnavailable:
            oops += 1
    st = {k: v - st0.get(k, 0) for k, v in mm.stats.items()}
    mb = pages * 4096 / (1 << 20)
    return {"zeroing_calls": n, "mb_zeroed": round(mb, 2),
            "mermap_get_failures": st["get_failures"],
            "get_failure_pct": round(100 * st["get_failures"] / max(1, n), 1),
            "fail_no_space": st["fail_no_space"], "fail_no_slot": st["fail_no_slot"],
            "fail_oversize": st["fail_oversize"], "fail_prot": st["fail_prot"],
            "reserved_gets": st["reserved_gets"], "reserved_get_failures_oops": oops,
            "window_overruns": st["violations"],
            "local_flushes": st["local_flushes"],
            "local_flushes_per_mb": round(st["local_flushes"] / mb, 2) if mb else None}


def e14_mermap(quick: bool) -> Section:
    from pagealloc.mm.mermap import MERMAP_BJACKMAN_072BC4B, MERMAP_INTEL_LKP_1E956F9, MERMAP_LINUX_MM
    n = 2000 if quick else 20000
    scale = 0.125 if quick else 1.0
    sec = Section("e14", "E14: the mermap window (v2's __GFP_ZERO for unmapped pages)",
                  f"(a) The allocator: secretmem (order-0 __GFP_ZERO unmapped pages, 4 CPUs), "
                  f"unmapped-v2, scale {scale:g}: the mermap's counters after the run. (b) The "
                  f"mermap alone, one CPU: {n} clear_page_mermap() calls of orders 0-3 "
                  f"(70/10/10/10 %), or {max(20, n // 50)} of order 9, with 0 or 3 mappings of "
                  f"16 pages held by another user of the CPU (a preempted holder); window 64, "
                  f"512 (x86's PMD_SIZE) or 2048 pages; the v2-era mermap (bjackman 072bc4b: "
                  f"4 shared slots, no pgprot check; the one the v2 machine uses), intel-lkp "
                  f"1e956f9 (3 slots and a reserve slot) with PTI (non-global kernel PTEs), "
                  f"and linux-mm b7f5c72 with global kernel PTEs.")
    cols, _, ms = _scenario_cols("secretmem", [Variant("v2", UNMAPPED_V2)], scale, 5000)
    m = ms[0]
    st = dict(m.mermap.stats) if m.mermap is not None else {}
    tries = st.get("gets", 0) + st.get("get_failures", 0)
    mb = st.get("pages_mapped", 0) * 4096 / (1 << 20)
    col_a: dict[str, Value] = {
        "mermap_gets": st.get("gets", 0), "mermap_get_failures": st.get("get_failures", 0),
        "get_failure_pct": round(100 * st.get("get_failures", 0) / max(1, tries), 1),
        "fail_no_space": st.get("fail_no_space", 0), "fail_no_slot": st.get("fail_no_slot", 0),
        "fail_oversize": st.get("fail_oversize", 0), "reserved_gets": st.get("reserved_gets", 0),
        "local_flushes": st.get("local_flushes", 0), "mb_mapped": round(mb, 2),
        "local_flushes_per_mb": round(st.get("local_flushes", 0) / mb, 2) if mb else None,
        "pages_zeroed_mermap": m.contents.stats.get("pages_zeroed_mermap", 0)
        if m.contents is not None else 0}
    sec.tables.append((f"(a) secretmem, unmapped-v2, scale {scale:g}",
                       _table("e14-run", ["secretmem"], [col_a])))
    small = {0: 0.7, 1: 0.1, 2: 0.1, 3: 0.1}
    big = {9: 1.0}
    n9 = max(20, n // 50)
    bj, lk, lm = MERMAP_BJACKMAN_072BC4B, MERMAP_INTEL_LKP_1E956F9, MERMAP_LINUX_MM
    grid: list[tuple[str, int, Any, int, Mapping[int, float], int, bool]] = [
        ("512, free", 512, bj, 0, small, n, True),
        ("64, free", 64, bj, 0, small, n, True),
        ("2048, free", 2048, bj, 0, small, n, True),
        ("512, 3 held", 512, bj, 3, small, n, True),
        ("512, 4 held", 512, bj, 4, small, n, True),
        ("512, 3 held, reserve slot", 512, lk, 3, small, n, False),
        ("512, order 9", 512, bj, 0, big, n9, True),
        ("2048, order 9", 2048, bj, 0, big, n9, True),
        ("512, order 9, linux-mm", 512, lm, 0, big, n9, True),
    ]
    cols_b = [mermap_zeroing_stream(r, v, h, 16, o, k, g) for _, r, v, h, o, k, g in grid]
    sec.tables.append(("(b) the mermap alone (column: window pages, held mappings, variant)",
                       _table("e14-window", [g[0] for g in grid], cols_b)))
    b512, b64, b2048, h3, h4, h3r, o9, o9big, o9lm = cols_b
    sec.answer = (f"In secretmem mermap_get fails {col_a['get_failure_pct']} % "
                  f"({col_a['local_flushes_per_mb']} local flushes per MB); alone it fails "
                  f"{b512['get_failure_pct']} % with a 512-page window ({b64['get_failure_pct']} % "
                  f"at 64, {b2048['get_failure_pct']} % at 2048; {b512['local_flushes_per_mb']} / "
                  f"{b64['local_flushes_per_mb']} / {b2048['local_flushes_per_mb']} flushes per MB), "
                  f"{h3['get_failure_pct']} % with 3 mappings held and {h4['get_failure_pct']} % "
                  f"with 4 ({h4['reserved_get_failures_oops']} reserved gets failing, an oops; "
                  f"{h3r['reserved_get_failures_oops']} with a reserve slot); an order-9 block "
                  f"never fits 512 pages: the first is mapped a page at a time through the "
                  f"reserve ({o9['reserved_gets']} reserved maps), after which the v2-era "
                  f"mermap's unsigned space check wraps and {o9['window_overruns']} of "
                  f"{o9['zeroing_calls']} blocks are placed past the CPU's window; on linux-mm "
                  f"b7f5c72 with global kernel PTEs the reserved map's PAGE_KERNEL is refused "
                  f"({o9lm['fail_prot']} refusals, {o9lm['reserved_get_failures_oops']} oopses; "
                  f"the model counts one per block, the kernel stops at the first).")
    sec.notes.append("Preemption is modelled as mappings held by another user of the same CPU "
                     "(the model is single-threaded). (b) runs the mm-code clear_page_mermap() "
                     "(its slow path advances page by page); the v2 caller's slow path maps the "
                     "first page every time (series.md 2.17 #5), which the allocator run (a) "
                     "uses.")
    sec.notes.append("Source check. 4 held: mermap_alloc() (bjackman/linux mm/mermap.c@072bc4b4, "
                     "linux-mm/linux-mm@b7f5c72f) takes the reserved map from the same "
                     "allocs[4] as mermap_get(), so it returns NULL when all four are in use, "
                     "and clear_page_mermap() (bjackman@a3c87cc7, linux-mm@f42bec43) hands that "
                     "NULL to mermap_addr() unchecked; intel-lab-lkp@1e956f94 adds reserve_alloc. "
                     "Holding four slots takes four tasks of one mm preempted inside the fast "
                     "path's clear loop on one CPU (a preemptible kernel). Order 9: 072bc4b4 (and "
                     "40bd0e25) test `size > cpu_end - mc->next_addr` in unsigned long; b7f5c72f "
                     "and 1e956f94 test `mc->next_addr + size > cpu_end`. Assumed, not seen: "
                     "that v2's zeroing ran on the 072bc4b4 mermap and that its window is 512 "
                     "pages (PMD_SIZE at b7f5c72f; the 072bc4b4 definition is not stored). "
                     "linux-mm: b7f5c72f's __mermap_get() returns NULL under "
                     "WARN_ON_ONCE(!arch_mermap_pgprot_allowed(prot)), which on x86 refuses "
                     "_PAGE_GLOBAL, and f42bec43's slow path passes PAGE_KERNEL, global unless "
                     "PTI or a CPU without PGE clears it from __default_kernel_pte_mask.")
    return sec


# ------------------------------------------------------------------------------ driver

SECTIONS: dict[str, Callable[[bool], Section]] = {
    "q1": q1_zeroing, "q2": q2_no_free_block, "e2": e2_spurious, "q3": q3_flip_mode, "q4": q4_remainder,
    "steal": steal_note, "e1": e1_flush, "e3": e3_ratchet, "e4": e4_steal_order,
    "e8": e8_directmap, "e9": e9_recursion, "e10": e10_atomic, "e11": e11_order_check,
    "e12": e12_pcp_bank, "e13": e13_freetypes_equal, "e14": e14_mermap,
}

#: experiments of series.md section 5 not run, and why
NOT_RUN = {
    "E5-E7": "are Q3, Q1 and Q4",
    "E12 (in part)": "the pcp drain policy is not varied (CPU count, pcp high, the unmapped "
                     "bank and its batch are)",
    "E15": "the model is single-threaded: no concurrent flips or scanners during the unlocked window",
}


def run_review(quick: bool = False, only: Sequence[str] | None = None) -> Review:
    """Run the sections (all, or ``only`` by id) at quick or full size."""
    ids = list(SECTIONS)
    if only is not None:
        bad = [i for i in only if i not in SECTIONS]
        if bad:
            raise ValueError(f"--only {','.join(bad)}: unknown section; known: {', '.join(ids)}")
        ids = [i for i in ids if i in only]
    return Review(quick, [SECTIONS[i](quick) for i in ids])


def render_markdown(rep: Review) -> str:
    """The review as Markdown (also the terminal output): deterministic for a given size."""
    out = [f"# Review of `__GFP_UNMAPPED` v2 19/22, measured ({'quick' if rep.quick else 'full'} size)",
           "",
           "Generated by `pagealloc review" + (" --quick" if rep.quick else "") + "` "
           "(pagealloc/experiments/review.py). Each section: the setup, the tables (a column "
           "per variant; definitions of the rows in pagealloc/experiments/compare.py), and a "
           "one-line answer computed from the numbers.", "", "## Answers", ""]
    for s in rep.sections:
        out.append(f"- **{s.title}**: {s.answer}")
    out.append("")
    for s in rep.sections:
        out += [f"## {s.title}", "", f"Setup: {s.setup}", ""]
        for name, t in s.tables:
            if name:
                out += [f"{name}:", ""]
            out += ["```", render_table(t).rstrip("\n"), "```", ""]
        out += [f"**Answer:** {s.answer}", ""]
        for n in s.notes:
            out.append(f"Note: {n}")
        if s.notes:
            out.append("")
    out += ["## Not run", ""]
    for k, why in NOT_RUN.items():
        out.append(f"- {k}: {why}")
    return "\n".join(out) + "\n"


def write_review(rep: Review, out: str | Path, command: str | None = None) -> list[Path]:
    """``review.md``, ``review.html`` (self-contained, :mod:`pagealloc.report.html`; ``command``
    is the command line it names), ``review.json`` (every table) and one CSV per table in ``out``."""
    from pagealloc.report.html import review_report
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    paths = [d / "review.md", d / "review.json", d / "review.html"]
    paths[0].write_text(render_markdown(rep))
    if command is None:
        command = "pagealloc review" + (" --quick" if rep.quick else "") + f" --out {out}"
    paths[2].write_text(review_report(rep, command), encoding="utf-8")
    data = {"quick": rep.quick, "sections": [
        {"id": s.id, "title": s.title, "setup": s.setup, "answer": s.answer, "notes": s.notes,
         "tables": [{"name": n, **t.as_dict()} for n, t in s.tables]} for s in rep.sections]}
    paths[1].write_text(json.dumps(data, indent=1, sort_keys=True, default=fmt) + "\n")
    tdir = d / "review-tables"
    tdir.mkdir(exist_ok=True)
    for s in rep.sections:
        for i, (_, t) in enumerate(s.tables):
            p = tdir / f"{s.id}-{i + 1}.csv"
            p.write_text(table_csv(t))
            paths.append(p)
    return paths

