"""The modelled CPU cost (pagealloc/experiments/cost.py): cited defaults, overrides,
linearity, the documented worked examples, and the counter names the model really keeps."""
from __future__ import annotations

import math
import random
import re
from dataclasses import fields

import pytest

import pagealloc.experiments.cost as cost_module
from pagealloc.experiments.cost import (
    COMPONENTS as MODULE_COMPONENTS,
    COUNTERS,
    VM_EVENT_COUNTERS,
    CostParams,
    counter_delta,
    describe,
    machine_counters,
    modelled_cost,
)

DEFAULT = CostParams()
FIELDS = [f.name for f in fields(CostParams)]
COMPONENTS = ("allocations", "frees", "flips", "tlb_full_flushes", "ipis", "invlpgb",
              "ranged_flush_pages", "cpa_calls", "cpa_splits", "pages_zeroed",
              "map_back_zeroing", "mermap_flushes", "compaction_scan", "migrate_copy",
              "migrate_remap", "reclaim_scan", "reclaim_steal", "swap_out")
ALL_COUNTERS = COUNTERS + VM_EVENT_COUNTERS + ("pgalloc_dma32", "pgalloc_normal", "pgalloc_movable")
# a URL, a spec section, a kernel file/commit or a mail Message-ID
LOCATOR = re.compile(r"https?://|\.md [A-C0-9]|arch/x86/|<[^>]+@[^>]+>")


# --- defaults and citations ---------------------------------------------------------------

@pytest.mark.parametrize("name", FIELDS)
def test_default_is_positive_and_cited(name: str) -> None:
    f = next(f for f in fields(CostParams) if f.name == name)
    assert getattr(DEFAULT, name) > 0
    assert f.metadata["unit"]
    assert LOCATOR.search(f.metadata["source"]), f.metadata["source"]
    assert isinstance(f.metadata["inferred"], bool)
    # the class docstring gives the derivation of every default
    assert f"``{name}``" in (CostParams.__doc__ or "")


def test_inferred_defaults_say_so() -> None:
    doc = CostParams.__doc__ or ""
    table = describe()
    for f in fields(CostParams):
        row = next(line for line in table.splitlines() if line.startswith(f.name + " "))
        assert ("[inferred]" in row) == f.metadata["inferred"], row
        if f.metadata["inferred"]:
            para = doc[doc.index(f"``{f.name}``"):].split("\n\n")[0]
            assert "[inferred" in para, f.name


def test_defaults_match_their_documented_derivations() -> None:
    assert DEFAULT.alloc_fast_ns == 94
    assert DEFAULT.free_fast_ns == pytest.approx(38.5)
    assert DEFAULT.buddy_op_ns == pytest.approx(166.67, abs=0.01)
    assert DEFAULT.full_flush_local_ns == 33 * DEFAULT.ranged_flush_per_page_ns == 3300
    assert DEFAULT.cpa_call_ns == pytest.approx(317.5, abs=0.05)
    assert DEFAULT.cpa_split_ns == pytest.approx(299.0, abs=0.05)
    assert DEFAULT.invlpgb_ns == pytest.approx(0.1 * 35 * DEFAULT.ipi_round_trip_ns)
    assert DEFAULT.mermap_local_flush_ns == DEFAULT.full_flush_local_ns
    # Gorman: 1148 ms per node of 256 GiB (1 TB, 4 nodes) -> per struct page
    assert DEFAULT.compact_scan_per_page_ns == pytest.approx(1148e6 / (256 * 2**30 / 4096))
    assert DEFAULT.compact_scan_per_page_ns == pytest.approx(17.1, abs=0.05)
    assert DEFAULT.reclaim_scan_per_page_ns == DEFAULT.compact_scan_per_page_ns
    # Garg: move_pages() 4K at 3.31 GB/s = copy at 11.02 GB/s + the rest
    assert DEFAULT.migrate_copy_bandwidth_bytes_per_ns == 11.02
    assert 4096 / DEFAULT.migrate_copy_bandwidth_bytes_per_ns + DEFAULT.migrate_page_ns == \
        pytest.approx(4096 / 3.31)
    assert DEFAULT.migrate_page_ns == pytest.approx(865.8, abs=0.05)
    assert DEFAULT.reclaim_steal_per_page_ns == DEFAULT.migrate_page_ns
    # Huang: 16 processes x 4096 B / 5.81 GB/s per page swapped out, scan + steal + free
    # + swap_out, each charged once
    whole = (DEFAULT.reclaim_scan_per_page_ns + DEFAULT.reclaim_steal_per_page_ns
             + DEFAULT.free_fast_ns + DEFAULT.swap_out_per_page_ns)
    assert whole == pytest.approx(16 * 4096 / 5.81)
    assert DEFAULT.swap_out_per_page_ns == pytest.approx(10_358.5, abs=0.05)


# --- overrides ----------------------------------------------------------------------------

def test_from_mapping_overrides_only_the_named_fields() -> None:
    p = CostParams.from_mapping({"ipi_round_trip_ns": 2000, "zero_bandwidth_bytes_per_ns": "20"})
    assert p.ipi_round_trip_ns == 2000.0
    assert p.zero_bandwidth_bytes_per_ns == 20.0
    for name in FIELDS:
        if name not in ("ipi_round_trip_ns", "zero_bandwidth_bytes_per_ns"):
            assert getattr(p, name) == getattr(DEFAULT, name)
    assert CostParams.from_mapping({}) == DEFAULT
    # a second layer (e.g. --set over a JSON profile)
    q = CostParams.from_mapping({"cpa_call_ns": 1.0}, base=p)
    assert (q.cpa_call_ns, q.ipi_round_trip_ns) == (1.0, 2000.0)


def test_from_mapping_unknown_key_is_named() -> None:
    with pytest.raises(ValueError, match="ipi_rount_trip_ns"):
        CostParams.from_mapping({"ipi_rount_trip_ns": 1.0})


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan, "fast", True, None])
def test_from_mapping_rejects_bad_values(bad: object) -> None:
    with pytest.raises(ValueError, match="ipi_round_trip_ns"):
        CostParams.from_mapping({"ipi_round_trip_ns": bad})  # type: ignore[dict-item]


def test_zero_cost_allowed_but_not_zero_bandwidth() -> None:
    assert CostParams.from_mapping({"ipi_round_trip_ns": 0}).ipi_round_trip_ns == 0
    with pytest.raises(ValueError, match="zero_bandwidth_bytes_per_ns"):
        CostParams.from_mapping({"zero_bandwidth_bytes_per_ns": 0})


def test_override_changes_only_its_component() -> None:
    c = {name: 7 for name in ALL_COUNTERS}
    base = modelled_cost(c)
    p = CostParams.from_mapping({"ipi_round_trip_ns": 2 * DEFAULT.ipi_round_trip_ns})
    new = modelled_cost(c, p)
    assert new["ipis"] == 2 * base["ipis"]
    assert new["total_ns"] == pytest.approx(base["total_ns"] + base["ipis"])
    assert all(new[k] == base[k] for k in COMPONENTS if k != "ipis")


# --- the cost function --------------------------------------------------------------------

def test_components_and_total() -> None:
    out = modelled_cost({})
    assert set(out) == set(COMPONENTS) | {"total_ns"}
    assert all(v == 0 for v in out.values())
    c = {name: 3 for name in ALL_COUNTERS}
    out = modelled_cost(c)
    assert all(out[k] > 0 for k in COMPONENTS)
    assert out["total_ns"] == pytest.approx(sum(out[k] for k in COMPONENTS))


def test_each_counter_charges_its_unit_cost() -> None:
    p = DEFAULT
    one = {
        "pgalloc_normal": p.alloc_fast_ns, "pgalloc_dma32": p.alloc_fast_ns,
        "pgfree": p.free_fast_ns, "flip_to_unmapped": p.buddy_op_ns,
        "flip_to_mapped": p.buddy_op_ns, "flush_full": p.full_flush_local_ns,
        "ipis": p.ipi_round_trip_ns, "invlpgb": p.invlpgb_ns,
        "pages_flushed_ranged": p.ranged_flush_per_page_ns, "cpa_calls": p.cpa_call_ns,
        "direct_map_level2_splits": p.cpa_split_ns, "direct_map_level3_splits": p.cpa_split_ns,
        "pages_zeroed_alloc": 4096 / p.zero_bandwidth_bytes_per_ns,
        "pages_zeroed_free": 4096 / p.zero_bandwidth_bytes_per_ns,
        "pages_zeroed_mermap": 4096 / p.zero_bandwidth_bytes_per_ns,
        "pages_zeroed_map_back": 4096 / p.zero_block_bandwidth_bytes_per_ns,
        "local_flushes": p.mermap_local_flush_ns,
        "compact_migrate_scanned": p.compact_scan_per_page_ns,
        "compact_free_scanned": p.compact_scan_per_page_ns,
        "pgmigrate_success": 4096 / p.migrate_copy_bandwidth_bytes_per_ns + p.migrate_page_ns,
        "pgscan_kswapd": p.reclaim_scan_per_page_ns, "pgscan_direct": p.reclaim_scan_per_page_ns,
        "pgsteal_kswapd": p.reclaim_steal_per_page_ns,
        "pgsteal_direct": p.reclaim_steal_per_page_ns,
        "pswpout": p.swap_out_per_page_ns,
    }
    assert set(one) >= set(COUNTERS) | set(VM_EVENT_COUNTERS)
    for name, ns in one.items():
        assert modelled_cost({name: 1})["total_ns"] == pytest.approx(ns), name


def test_uncharged_and_unknown_counters_are_ignored() -> None:
    c = {"flip_pages_to_unmapped": 512, "flush_ranged": 4, "flush_local": 9,
         "nr_free_pages": 10**6, "extfrag": 5}
    assert modelled_cost(c)["total_ns"] == 0
    # counted once: kcompactd's scans are inside compact_*_scanned, the anon/file split
    # repeats pgscan/pgsteal_{kswapd,direct}, compact_isolated pages were scanned already
    again = {"compact_daemon_migrate_scanned": 100, "compact_daemon_free_scanned": 100,
             "pgscan_anon": 50, "pgscan_file": 50, "pgsteal_anon": 9, "pgsteal_file": 9,
             "compact_isolated": 30, "thp_migration_success": 1, "pgmigrate_fail": 3}
    assert modelled_cost(again)["total_ns"] == 0


def test_module_components_are_the_documented_ones() -> None:
    assert MODULE_COMPONENTS == COMPONENTS
    table = cost_module.__doc__ or ""
    for comp in COMPONENTS:
        assert re.search(rf"^{comp} ", table, re.M), comp


# --- compaction, migration and reclaim: hand-made counters --------------------------------

def test_compaction_scan_charges_both_scanners_per_page() -> None:
    out = modelled_cost({"compact_migrate_scanned": 1000, "compact_free_scanned": 2500})
    assert out["compaction_scan"] == pytest.approx(3500 * DEFAULT.compact_scan_per_page_ns)
    assert out["total_ns"] == out["compaction_scan"]


def test_migration_charges_a_4k_copy_and_the_remap_per_page() -> None:
    out = modelled_cost({"pgmigrate_success": 512})
    assert out["migrate_copy"] == pytest.approx(512 * 4096 / 11.02)
    assert out["migrate_remap"] == pytest.approx(512 * DEFAULT.migrate_page_ns)
    # per page, the two make up Garg's 4K move_pages() time: 4096 B at 3.31 GB/s
    assert out["total_ns"] == pytest.approx(512 * 4096 / 3.31)
    fast = CostParams.from_mapping({"migrate_copy_bandwidth_bytes_per_ns": 2 * 11.02})
    assert modelled_cost({"pgmigrate_success": 512}, fast)["migrate_copy"] == \
        pytest.approx(out["migrate_copy"] / 2)


def test_reclaim_charges_scan_steal_and_swap_out_per_page() -> None:
    c = {"pgscan_kswapd": 300, "pgscan_direct": 100, "pgsteal_kswapd": 120,
         "pgsteal_direct": 40, "pswpout": 25}
    out = modelled_cost(c)
    assert out["reclaim_scan"] == pytest.approx(400 * DEFAULT.reclaim_scan_per_page_ns)
    assert out["reclaim_steal"] == pytest.approx(160 * DEFAULT.reclaim_steal_per_page_ns)
    assert out["swap_out"] == pytest.approx(25 * DEFAULT.swap_out_per_page_ns)
    assert out["total_ns"] == pytest.approx(out["reclaim_scan"] + out["reclaim_steal"]
                                            + out["swap_out"])


def test_one_page_swapped_out_costs_huangs_figure() -> None:
    """A page scanned, swapped out, stolen and freed: 16 x 4096 / 5.81 = 11,279.9 ns."""
    out = modelled_cost({"pgscan_kswapd": 1, "pswpout": 1, "pgsteal_kswapd": 1, "pgfree": 1})
    assert out["total_ns"] == pytest.approx(11_279.9, abs=0.05)


def test_zero_migrate_bandwidth_rejected() -> None:
    with pytest.raises(ValueError, match="migrate_copy_bandwidth_bytes_per_ns"):
        CostParams.from_mapping({"migrate_copy_bandwidth_bytes_per_ns": 0})


def test_negative_counter_is_an_error() -> None:
    with pytest.raises(ValueError, match="ipis"):
        modelled_cost({"ipis": -1})


def test_cost_is_linear_in_the_counters() -> None:
    rng = random.Random(20260513)
    p = CostParams.from_mapping({"ipi_round_trip_ns": 1234.5})
    for _ in range(50):
        a = {n: rng.randrange(0, 10**6) for n in ALL_COUNTERS if rng.random() < 0.7}
        b = {n: rng.randrange(0, 10**6) for n in ALL_COUNTERS if rng.random() < 0.7}
        k = rng.randrange(0, 100)
        ab = {n: a.get(n, 0) + b.get(n, 0) for n in set(a) | set(b)}
        ca, cb, cab = modelled_cost(a, p), modelled_cost(b, p), modelled_cost(ab, p)
        cka = modelled_cost({n: k * v for n, v in a.items()}, p)
        for key in cab:
            assert cab[key] == pytest.approx(ca[key] + cb[key], rel=1e-12, abs=1e-6)
            assert cka[key] == pytest.approx(k * ca[key], rel=1e-12, abs=1e-6)


# --- worked examples (documented in the module docstring) ---------------------------------

def test_worked_example_full_flush_on_four_cpus() -> None:
    """flush_tlb_kernel_range() over a 2 MiB block on 4 CPUs: one local full flush and an
    IPI to each of the 3 other CPUs = 3,300 + 3 x 1,500 = 7,800 ns."""
    out = modelled_cost({"flush_full": 1, "ipis": 3})
    assert out["tlb_full_flushes"] == 3300
    assert out["ipis"] == 4500
    assert out["total_ns"] == 7800


def test_worked_example_one_flip_to_unmapped() -> None:
    """The docstring's flip: buddy 166.7 + CPA 317.5 + 3,300 + 3 x 1,500 = 8,284.2 ns."""
    out = modelled_cost({"flip_to_unmapped": 1, "cpa_calls": 1, "flush_full": 1, "ipis": 3})
    assert out["total_ns"] == pytest.approx(8284.2, abs=0.05)


def test_split_cross_check_against_roth() -> None:
    """The cpa_split_ns docstring: a split with its page-table page and its flush_tlb_all()
    on 64 CPUs ~ 98.2 us, against Roth's ~99.6 us more per 2 MiB split on demand."""
    out = modelled_cost({"direct_map_level2_splits": 1, "pgalloc_normal": 1,
                         "flush_full": 1, "ipis": 63})
    assert out["total_ns"] == pytest.approx(98_200, abs=50)
    roth = 2 * 2**20 * (1 / 8.0 - 1 / 12.9)
    assert roth == pytest.approx(99_600, abs=50)


# --- describe -----------------------------------------------------------------------------

def test_describe_is_a_table_of_every_field() -> None:
    lines = describe(DEFAULT).splitlines()
    assert lines[0].split() == ["field", "value", "unit", "source"]
    assert set(lines[1]) <= {"-", " "}
    assert [line.split()[0] for line in lines[2:]] == FIELDS
    assert "*" not in describe(DEFAULT)


def test_describe_marks_overrides() -> None:
    text = describe(CostParams.from_mapping({"ipi_round_trip_ns": 2000}))
    row = next(line for line in text.splitlines() if line.startswith("ipi_round_trip_ns"))
    assert "2,000.0*" in row and "default 1,500.0" in row
    assert sum("*" in line.split()[1] for line in text.splitlines()[2:]) == 1


# --- against the model --------------------------------------------------------------------

def test_model_keeps_every_counter_read_and_a_flip_costs_as_documented() -> None:
    from pagealloc.machine import Machine

    m = Machine(memory="1G", cpus=4, profile="unmapped-v2")
    before = machine_counters(m)
    missing = [n for n in COUNTERS if n not in before]
    assert not missing, f"cost model reads counters the model does not keep: {missing}"
    assert any(n.startswith("pgalloc_") for n in before)

    m.alloc_pages("GFP_KERNEL|__GFP_UNMAPPED|__GFP_ZERO", 0)
    d = counter_delta(machine_counters(m), before)
    assert (d["flip_to_unmapped"], d["flush_full"], d["ipis"]) == (1, 1, 3)
    out = modelled_cost(d)
    assert out["tlb_full_flushes"] + out["ipis"] == 7800
    assert out["flips"] == pytest.approx(DEFAULT.buddy_op_ns)
    assert out["cpa_calls"] == d["cpa_calls"] * DEFAULT.cpa_call_ns > 0
    assert out["allocations"] > 0 and out["pages_zeroed"] > 0


def test_model_keeps_the_compaction_migration_and_reclaim_counters_read() -> None:
    """A compaction (echo 1 > compact_memory) and reclaim under pressure on a real machine:
    the vm events the cost model reads are the ones the model counts, priced per page."""
    from pagealloc.machine import Machine

    m = Machine(memory="256M", cpus=2, swap="128M")
    before = machine_counters(m)
    hs = [m.alloc_owned("anon") for _ in range(20_000)]
    for h in hs[::2]:
        m.free_owned(h)
    m.compact_memory()
    for _ in range(60_000):                       # past the RAM: reclaim and swap
        m.alloc_owned("anon")
    d = counter_delta(machine_counters(m), before)
    assert all(d.get(n, 0) > 0 for n in VM_EVENT_COUNTERS), {n: d.get(n) for n in VM_EVENT_COUNTERS}
    out = modelled_cost(d)
    scanned = d["compact_migrate_scanned"] + d["compact_free_scanned"]
    assert out["compaction_scan"] == pytest.approx(scanned * DEFAULT.compact_scan_per_page_ns)
    assert out["migrate_copy"] == pytest.approx(d["pgmigrate_success"] * 4096 / 11.02)
    assert out["swap_out"] == pytest.approx(d["pswpout"] * DEFAULT.swap_out_per_page_ns)
