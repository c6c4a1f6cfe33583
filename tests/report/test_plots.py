"""pagealloc.report.plots: the per-pageblock arrays, every plot's PNG, determinism, and
``pagealloc compare --plots``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from pagealloc.cli import main
from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import (
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
)
from pagealloc.mm.mmzone import PAGEBLOCK_ORDER, PB_MIGRATE_ISOLATE, PS_ALLOC, PS_BUDDY, PS_HOLE
from pagealloc.report import plots as P

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BLOCK = 1 << PAGEBLOCK_ORDER


def assert_png(path: Path, width: int | None = None, height: int | None = None) -> Any:
    """``path`` is a PNG that matplotlib reads back as an RGB(A) image of the given size."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert img.shape[0] > 100 and img.shape[1] > 100
    if width is not None:
        assert img.shape[1] == width
    if height is not None:
        assert img.shape[0] == height
    return img


def samples(n: int, scale: int) -> list[dict[str, int]]:
    out = []
    for i in range(n):
        s = {"event": i * 100, "directmap_4k_kb": 4 * i * scale, "directmap_2m_kb": 2048 * (50 - i),
             "directmap_1g_kb": 1 << 20, "flips_to_unmapped": i * scale, "flips_to_mapped": i // 2,
             "tlb_flush_ranged": i, "tlb_flush_full": i * scale}
        s |= {f"free_pages_order_{o}": (o + 1) * (n - i) for o in range(11)}
        out.append(s)
    return out


# ------------------------------------------------------------------ per-pageblock arrays

def synthetic_state() -> tuple[bytearray, bytearray, bytearray]:
    """Seven pageblocks: 0 Movable holding 2 movable pages and an unmovable order-1 block;
    1 Unmovable and unmapped with one unmovable order-9 block; 2 no RAM; 3 isolated
    (Movable underneath); 4-5 Movable under one movable order-10 block; 6 Reclaimable,
    free (a buddy block)."""
    nb = 7
    ps, pk, pb = bytearray(nb * BLOCK), bytearray(nb * BLOCK), bytearray(nb)
    pb[0] = MIGRATE_MOVABLE
    ps[0] = PS_ALLOC | 0; pk[0] = MIGRATE_MOVABLE                   # noqa: E702
    ps[1] = PS_ALLOC | 0; pk[1] = MIGRATE_MOVABLE                   # noqa: E702
    ps[2] = PS_ALLOC | 1; pk[2] = MIGRATE_UNMOVABLE                 # noqa: E702
    pb[1] = MIGRATE_UNMOVABLE | (1 << 5)                            # FREETYPE_UNMAPPED flag
    ps[BLOCK] = PS_ALLOC | 9; pk[BLOCK] = MIGRATE_UNMOVABLE         # noqa: E702
    ps[2 * BLOCK:3 * BLOCK] = bytes([PS_HOLE]) * BLOCK
    pb[3] = MIGRATE_MOVABLE | PB_MIGRATE_ISOLATE
    pb[4] = pb[5] = MIGRATE_MOVABLE
    ps[4 * BLOCK] = PS_ALLOC | 10; pk[4 * BLOCK] = MIGRATE_MOVABLE  # noqa: E702
    pb[6] = MIGRATE_RECLAIMABLE
    ps[6 * BLOCK] = PS_BUDDY | 9
    return ps, pk, pb


def test_pageblock_map_of_a_synthetic_state() -> None:
    pm = P.pageblock_map(*synthetic_state())
    assert len(pm) == 7
    assert pm.migratetype.tolist() == [MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, -1, MIGRATE_ISOLATE,
                                       MIGRATE_MOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE]
    assert pm.unmapped.tolist() == [False, True, False, False, False, False, False]
    assert pm.allocated.tolist() == [4, 512, 0, 0, 512, 512, 0]
    assert pm.mixed.tolist() == [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_pageblock_image_colours_marks_and_shades() -> None:
    pm = P.pageblock_map(*synthetic_state())
    img, cols, px = P.pageblock_image(pm)
    assert px >= 4 and img.shape[1] == cols * px

    def centre(b: int, di: int = 0, dj: int = 0) -> tuple[int, int, int]:
        r, c = divmod(b, cols)
        i, j = r * px + px // 2 + di, c * px + px // 4 + dj     # off the diagonal
        return tuple(int(x) for x in img[i, j])  # type: ignore[return-value]

    movable = P._rgb(P.MIGRATETYPE_COLOURS[MIGRATE_MOVABLE])
    assert centre(4) == movable
    assert centre(3) == P._rgb(P.MIGRATETYPE_COLOURS[MIGRATE_ISOLATE])
    assert centre(2) == (255, 255, 255)
    # half mixed: darker than its type by MIXED_SHADE / 2
    assert centre(0) == tuple(round(c * (1 - P.MIXED_SHADE / 2)) for c in movable)
    # the unmapped block: its type's colour inside, black outline and diagonal
    r, c = divmod(1, cols)
    cell = img[r * px:(r + 1) * px - 1, c * px:(c + 1) * px - 1]
    assert tuple(int(x) for x in cell[0, px // 2]) == (0, 0, 0)
    assert tuple(int(x) for x in cell[px // 2, px // 2]) == (0, 0, 0)
    assert centre(1) == P._rgb(P.MIGRATETYPE_COLOURS[MIGRATE_UNMOVABLE])


def test_pageblock_map_of_unmovable_allocations_in_one_block() -> None:
    m = Machine(memory="128M", cpus=1, thp=False)
    before = P.machine_pageblock_map(m)
    pages = [m.alloc_pages(G.GFP_KERNEL, 0) for _ in range(32)]
    assert all(p is not None for p in pages)
    blocks = {p >> PAGEBLOCK_ORDER for p in pages if p is not None}
    pm = P.machine_pageblock_map(m)
    for b in blocks:
        assert pm.migratetype[b] == MIGRATE_UNMOVABLE == m.pageblock_migratetype(b << PAGEBLOCK_ORDER)
        assert pm.mixed[b] == 0.0
    assert int(pm.allocated.sum() - before.allocated.sum()) == 32
    # the kernel's view of every block agrees with the map
    for b in range(len(pm)):
        if pm.migratetype[b] >= 0:
            assert pm.migratetype[b] == m.pageblock_migratetype(b << PAGEBLOCK_ORDER)
    # a movable page placed by hand into the unmovable block: the block becomes mixed
    b = min(blocks)
    pfn = next(p for p in range((b << PAGEBLOCK_ORDER), (b + 1) << PAGEBLOCK_ORDER)
               if m.mem.pstate[p] == PS_ALLOC)
    ps, pk = bytearray(m.mem.pstate), bytearray(m.mem.pkind)
    pk[pfn] = (pk[pfn] & ~7) | MIGRATE_MOVABLE
    pm2 = P.pageblock_map(ps, pk, m.mem.pb)
    assert pm2.mixed[b] == pytest.approx(1 / pm2.allocated[b])


def test_unmapped_blocks_marked_on_unmapped_v4(tmp_path: Path) -> None:
    m = Machine(memory="128M", cpus=1, thp=False, profile="unmapped-v4")
    assert not P.machine_pageblock_map(m).unmapped.any()
    pages = [m.alloc_pages(G.GFP_KERNEL, 0, 0, unmapped=True) for _ in range(600)]
    assert all(p is not None for p in pages)
    pm = P.machine_pageblock_map(m)
    blocks = {p >> PAGEBLOCK_ORDER for p in pages if p is not None}
    assert blocks and all(pm.unmapped[b] for b in blocks)
    assert int(pm.unmapped.sum()) == sum(1 for f in m.mem.pb if f >> 5)
    assert all(pm.migratetype[b] == MIGRATE_UNMOVABLE and pm.mixed[b] == 0 for b in blocks)
    path = P.plot_machine_pageblocks(m, tmp_path / "pb.png")
    assert_png(path)


# ------------------------------------------------------------------ every plot's PNG

def test_every_plot_writes_a_png(tmp_path: Path) -> None:
    runs = {"linux-7.2": samples(12, 0), "unmapped-v2": samples(12, 3)}
    pm = P.pageblock_map(*synthetic_state())
    assert_png(P.plot_pageblock_map(pm, tmp_path / "pb.png"), width=1200)
    assert_png(P.plot_free_pages_per_order(runs, tmp_path / "free.png"), width=1200, height=420)
    assert_png(P.plot_directmap(runs, tmp_path / "dm.png"), width=1200, height=420)
    assert_png(P.plot_flips_and_flushes(runs, tmp_path / "ff.png"), width=1200, height=680)
    cols: list[dict[str, object]] = [{"flips": 0, "cost": 1.5, "label": "x", "same": 3},
                                      {"flips": 7, "cost": None, "label": "y", "same": 3}]
    assert P.default_bar_metrics(cols, ["flips", "cost", "label", "same"]) == ["flips"]
    assert_png(P.plot_metric_bars(["a", "b"], cols, tmp_path / "bars.png", ["flips", "cost"]))
    assert_png(P.plot_metric_bars(["a", "b"], cols, tmp_path / "bars2.png"))
    # empty inputs still give a figure
    assert_png(P.plot_free_pages_per_order({}, tmp_path / "empty.png"))
    assert_png(P.plot_flips_and_flushes({"a": []}, tmp_path / "empty2.png"))


def test_plots_are_byte_identical_for_the_same_data(tmp_path: Path) -> None:
    runs = {"a": samples(8, 1)}
    a = P.plot_directmap(runs, tmp_path / "a.png").read_bytes()
    b = P.plot_directmap(runs, tmp_path / "b.png").read_bytes()
    assert a == b and b"Software" not in a
    pm = P.pageblock_map(*synthetic_state())
    assert (P.plot_pageblock_map(pm, tmp_path / "c.png").read_bytes()
            == P.plot_pageblock_map(pm, tmp_path / "d.png").read_bytes())


def test_large_machine_map_is_vectorized_and_bounded() -> None:
    nb = 1 << 13                      # 16 GiB of 2 MiB pageblocks
    ps = np.full(nb * BLOCK, PS_ALLOC, dtype=np.uint8)     # every page an order-0 block
    pk = np.zeros(nb * BLOCK, dtype=np.uint8)
    pk[::2] = MIGRATE_MOVABLE
    pb = np.zeros(nb, dtype=np.uint8)
    pm = P.pageblock_map(ps, pk, pb)
    assert pm.allocated.tolist() == [BLOCK] * nb and np.allclose(pm.mixed, 0.5)
    img, cols, px = P.pageblock_image(pm)
    assert img.shape[1] <= P.MAP_TARGET_PX and img.shape[0] * img.shape[1] >= nb


def test_flatten_scenario_samples_from_run_every() -> None:
    from pagealloc.workload.scenario import ScenarioRunner, build_machine, load_scenario
    scn = load_scenario("vm-host").scaled(1 / 64)
    m = build_machine(scn, "unmapped-v2", None)
    res = ScenarioRunner(scn, m, every=400, max_events=2000).run()
    flat = P.flatten_scenario_samples(res.samples)
    assert len(flat) == len(res.samples) >= 2
    last = flat[-1]
    assert last["event"] == res.events
    assert sum(last[f"free_pages_order_{o}"] for o in range(11)) == sum(
        z.nr_free[o] << o for z in m.zones for o in range(11))
    assert last["directmap_4k_kb"] == m.directmap.direct_pages_count[1] << 2
    assert last["flips_to_unmapped"] == m.metrics()["flips_to_unmapped"]


# ------------------------------------------------------------------ pagealloc compare --plots

def test_compare_plots_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plots"
    rc = main(["compare", "vm-host", "--profiles", "linux-7.2,unmapped-v4", "--scale", "0.02",
               "--every", "300", "--plots", str(out)])
    _, err = capsys.readouterr()
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["directmap.png", "flips_and_flushes.png", "free_pages_per_order.png",
                     "metrics.png", "pageblocks_1.png", "pageblocks_2.png"]
    for n in names:
        assert_png(out / n)
        assert f"# wrote {out / n}" in err


def test_compare_samples_carry_the_plot_fields() -> None:
    from pagealloc.experiments.compare import compare_scenario, parse_variant
    seen: list[str] = []
    cmp = compare_scenario("vm-host", [parse_variant("unmapped-v2")], scale=1 / 64, every=300,
                           on_machine=lambda v, m: seen.append(v.label))
    assert seen == ["unmapped-v2"]
    s = cmp.samples[0]
    assert [x["event"] for x in s] == sorted(x["event"] for x in s)
    for key in ("free_pages_order_0", "free_pages_order_10", "directmap_4k_kb",
                "tlb_flush_ranged", "tlb_flush_full", "flips_to_unmapped"):
        assert key in s[-1]
    assert s[-1]["tlb_flush_full"] == cmp.value("unmapped-v2", "tlb_flush_full")


# ------------------------------------------------------------------ pagealloc run --plots

RUN_ARGS = ("run", "secretmem", "--profile", "unmapped-v2", "--scale", "0.03125", "--every", "500")


def test_run_plots_cli_writes_the_plots_deterministically(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    printed = []
    for out in outs:
        assert main([*RUN_ARGS, "--json", "--plots", str(out)]) == 0
        text, err = capsys.readouterr()
        printed.append(text)
        assert sorted(p.name for p in out.iterdir()) == sorted(P.RUN_PLOTS)
        for name in P.RUN_PLOTS:
            assert_png(out / name)
            assert f"# wrote {out / name}" in err
    for name in P.RUN_PLOTS:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    # the plots add files, not output: the JSON (its /proc samples included) is unchanged
    assert main([*RUN_ARGS, "--json"]) == 0
    assert capsys.readouterr().out == printed[0] == printed[1]


@pytest.mark.parametrize("argv, message", [
    (("run", "secretmem", "--plots", "DIR"), "--every"),
    (("run", "--plots", "DIR"), "--plots apply to scenarios"),
])
def test_run_plots_cli_errors(argv: tuple[str, ...], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(list(argv)) == 2
    assert message in capsys.readouterr().err


def test_run_scenario_measured_keeps_proc_samples_and_adds_the_plotted_ones() -> None:
    from pagealloc.experiments.compare import run_scenario_measured
    from pagealloc.workload.scenario import build_machine, load_scenario, run_scenario
    scn = load_scenario("secretmem").scaled(1 / 32)
    flat: list[dict[str, int]] = []
    m = build_machine(scn, "unmapped-v2", None)
    res = run_scenario_measured(scn, m, flat, every=500)
    plain = run_scenario(scn, build_machine(scn, "unmapped-v2", None), every=500)
    assert res.samples == plain.samples and len(flat) == len(res.samples) >= 2
    assert [s["event"] for s in flat] == [s["event"] for s in res.samples]
    last = flat[-1]
    assert last["tlb_flush_full"] == m.tlb.stats["flush_full"]
    assert last["tlb_flush_ranged"] == m.tlb.stats["flush_ranged"]
    assert last["flips_to_unmapped"] == m.metrics()["flips_to_unmapped"] > 0
    assert sum(last[f"free_pages_order_{o}"] for o in range(11)) == sum(
        z.nr_free[o] << o for z in m.zones for o in range(11))


def test_plot_run_writes_one_panel_per_plot(tmp_path: Path) -> None:
    m = Machine(memory="128M", cpus=1, profile="unmapped-v2")
    paths = P.plot_run("one run", samples(6, 3), m, tmp_path)
    assert [p.name for p in paths] == list(P.RUN_PLOTS)
    for p in paths:
        assert_png(p)
    # one run: the time series are one panel wide (6 inches at 100 dpi)
    assert imread(paths[0]).shape[1] == 600
