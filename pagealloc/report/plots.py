"""Plots of a machine's state and of runs: the pageblock map, time series, profile bars.

Every plot function takes plain data (lists, dicts, numpy arrays), writes one PNG and
returns its path; :func:`plot_machine_pageblocks` is the thin entry that reads a
:class:`~pagealloc.machine.Machine`.  matplotlib is used without ``pyplot``: each plot
builds its own :class:`~matplotlib.figure.Figure` on the Agg canvas, so no global state
is touched and two plots (or threads) never interfere.  The PNGs are deterministic: fixed
figure sizes and dpi, and no ``Software`` metadata entry, so the same data gives the same
bytes with the same matplotlib and fonts.

Time series are lists of *samples*, flat ``{name: number}`` dicts as
:func:`pagealloc.experiments.compare.measure_state` records them during ``pagealloc
compare`` (plus ``event``, the allocator request count at the sample); ``pagealloc run
SCENARIO --every N --plots DIR`` records the same beside its /proc samples
(:func:`pagealloc.experiments.compare.run_scenario_measured`, :func:`plot_run`); the /proc
samples alone (:meth:`pagealloc.workload.scenario.ScenarioRunner.sample`, which carry no
TLB flush counts) are converted by :func:`flatten_scenario_samples`.  The keys read:

* ``event`` -- the x axis (the sample's index when absent);
* ``free_pages_order_0`` .. ``free_pages_order_10`` -- free pages in buddy blocks of each
  order, summed over the zones (``zone->free_area[order].nr_free << order``);
* ``directmap_4k_kb``, ``directmap_2m_kb``, ``directmap_1g_kb`` -- the DirectMap lines;
* ``flips_to_unmapped``, ``flips_to_mapped``, ``tlb_flush_ranged``, ``tlb_flush_full``
  (cumulative counters, :meth:`Machine.metrics` names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pagealloc.mm.freetype import (
    FREETYPE_UNMAPPED,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_TYPES,
    MIGRATETYPE_NAMES,
)
from pagealloc.mm.mmzone import (
    KIND_MT_MASK,
    NR_PAGE_ORDERS,
    ORDER_MASK,
    PAGEBLOCK_ORDER,
    PB_FREETYPE_FLAGS_SHIFT,
    PB_MIGRATE_ISOLATE,
    PB_MIGRATETYPE_MASK,
    PS_ALLOC,
    PS_HOLE,
    PS_MASK,
)

if TYPE_CHECKING:
    from pagealloc.machine import Machine

__all__ = ("MIGRATETYPE_COLOURS", "RUN_PLOTS", "PageblockMap", "flatten_scenario_samples",
           "pageblock_map", "plot_directmap", "plot_flips_and_flushes",
           "plot_free_pages_per_order", "plot_machine_pageblocks", "plot_metric_bars",
           "plot_pageblock_map", "plot_run", "save_figure", "default_bar_metrics",
           "machine_pageblock_map", "pageblock_image")

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
Sample = Mapping[str, Any]

#: one colour per migratetype, in the kernel's order (Unmovable, Movable, Reclaimable,
#: HighAtomic, CMA, Isolate): the colour-blind-safe Okabe-Ito palette
MIGRATETYPE_COLOURS = ("#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#7F7F7F")
#: a pageblock with no RAM in it (every PFN a hole)
NO_RAM_COLOUR = "#FFFFFF"
#: the unmapped mark (outline and diagonal of the cell)
UNMAPPED_MARK_COLOUR = "#000000"
#: how dark a fully mixed block gets: its colour is blended towards black by
#: ``MIXED_SHADE * mixed`` (0.65 keeps the migratetype's hue readable at mixed = 1)
MIXED_SHADE = 0.65
#: plot resolution; 100 dpi with the sizes below gives images about 1000 px wide
DPI = 100
#: the pageblock map image aims at this many pixels across (its cells are whole pixels)
MAP_TARGET_PX = 960

#: the files :func:`plot_run` writes, in order
RUN_PLOTS = ("free_pages_per_order.png", "directmap.png", "flips_and_flushes.png",
             "pageblocks.png")

DIRECTMAP_KEYS = (("directmap_4k_kb", "4k"), ("directmap_2m_kb", "2M"), ("directmap_1g_kb", "1G"))
FLIP_FLUSH_KEYS = ("flips_to_unmapped", "flips_to_mapped", "tlb_flush_ranged", "tlb_flush_full")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at :data:`DPI` without the ``Software`` metadata entry
    (the only varying one), creating the parent directory; return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format="png", dpi=DPI, metadata={"Software": None})
    return p


# ------------------------------------------------------------------------ pageblock map

@dataclass(frozen=True)
class PageblockMap:
    """Per-pageblock arrays of one machine, indexed by ``pfn >> pageblock_order``.

    ``migratetype``: the block's type as ``get_pfnblock_migratetype()`` reads it (Isolate
    when isolated), -1 for a block with no RAM; ``unmapped``: the block carries the series'
    FREETYPE_UNMAPPED flag (its pages are out of the direct map); ``allocated``: allocated
    pages in the block; ``mixed``: the share of those whose requested migratetype
    (``pkind & KIND_MT_MASK``) differs from the block's own type, 0 with none allocated.
    """

    migratetype: IntArray
    unmapped: BoolArray
    allocated: IntArray
    mixed: FloatArray

    def __len__(self) -> int:
        return int(self.migratetype.size)


def _block_mobility(pb: np.ndarray[Any, np.dtype[np.uint8]]) -> IntArray:
    """The migratetype a block's allocations are compared with for :attr:`PageblockMap.mixed`.

    The pageblock's migratetype bits, read under the isolate bit (Linux 7.2 keeps the type
    beside PB_migrate_isolate while a block is isolated); CMA blocks serve movable requests
    only and count as Movable; a HighAtomic block is a reserve for high-order atomic
    requests of any mobility, so its pages count as matching (its share is 0).
    """
    mt = (pb & PB_MIGRATETYPE_MASK).astype(np.int64)
    return np.where(mt == MIGRATE_CMA, MIGRATE_MOVABLE, mt)


def pageblock_map(pstate: bytes | bytearray | np.ndarray[Any, Any],
                  pkind: bytes | bytearray | np.ndarray[Any, Any],
                  pb: bytes | bytearray | np.ndarray[Any, Any]) -> PageblockMap:
    """The :class:`PageblockMap` of per-PFN state bytes, per-PFN kind bytes and pageblock
    flag bytes (``Mem.pstate``, ``Mem.pkind``, ``Mem.pb``); numpy only, no per-page loop."""
    ps = np.frombuffer(pstate, dtype=np.uint8) if not isinstance(pstate, np.ndarray) else pstate
    pk = np.frombuffer(pkind, dtype=np.uint8) if not isinstance(pkind, np.ndarray) else pkind
    flags = np.frombuffer(pb, dtype=np.uint8) if not isinstance(pb, np.ndarray) else pb
    ps = ps.astype(np.uint8, copy=False)
    flags = flags.astype(np.uint8, copy=False)
    nblocks = int(flags.size)
    block_pages = 1 << PAGEBLOCK_ORDER

    mt = np.where(flags & PB_MIGRATE_ISOLATE, MIGRATE_ISOLATE,
                  flags & PB_MIGRATETYPE_MASK).astype(np.int64)
    # a block with no RAM: every PFN of it (within max_pfn) is a hole
    pad = nblocks * block_pages - ps.size
    holes = (ps & PS_MASK) == PS_HOLE
    if pad > 0:
        holes = np.concatenate([holes, np.ones(pad, dtype=bool)])
    no_ram = holes[: nblocks * block_pages].reshape(nblocks, block_pages).all(axis=1)
    mt[no_ram] = -1
    unmapped = ((flags >> PB_FREETYPE_FLAGS_SHIFT) & FREETYPE_UNMAPPED).astype(bool) & ~no_ram

    # allocated blocks by their heads; an order > pageblock_order block spans several
    heads = np.flatnonzero((ps & PS_MASK) == PS_ALLOC)
    orders = (ps[heads] & ORDER_MASK).astype(np.int64)
    req = (pk[heads] & KIND_MT_MASK).astype(np.int64)
    blk = heads.astype(np.int64) >> PAGEBLOCK_ORDER
    pages = np.left_shift(1, orders)
    big = orders > PAGEBLOCK_ORDER
    if big.any():
        # spread each block over the pageblocks it covers, pageblock_nr_pages each
        spans = np.where(big, np.left_shift(1, np.maximum(orders - PAGEBLOCK_ORDER, 0)), 1)
        starts = np.cumsum(spans) - spans
        within = np.arange(int(spans.sum()), dtype=np.int64) - np.repeat(starts, spans)
        blk = np.repeat(blk, spans) + within
        pages = np.repeat(np.minimum(pages, block_pages), spans)
        req = np.repeat(req, spans)
    keep = blk < nblocks
    if not keep.all():
        blk, pages, req = blk[keep], pages[keep], req[keep]
    allocated = np.bincount(blk, weights=pages, minlength=nblocks).astype(np.int64)
    mob = _block_mobility(flags)
    differs = (req != mob[blk]) & (mt[blk] != MIGRATE_HIGHATOMIC)
    nmixed = np.bincount(blk, weights=pages * differs, minlength=nblocks)
    mixed = np.divide(nmixed, allocated, out=np.zeros(nblocks, dtype=np.float64),
                      where=allocated > 0)
    return PageblockMap(mt, unmapped, allocated, mixed)


def machine_pageblock_map(m: Machine) -> PageblockMap:
    """:func:`pageblock_map` of a machine's current state."""
    return pageblock_map(m.mem.pstate, m.mem.pkind, m.mem.pb)


def _grid(n: int) -> tuple[int, int, int]:
    """(columns, rows, pixels per cell) for ``n`` cells about 4:3 wide."""
    cols = max(1, math.ceil(math.sqrt(n * 4 / 3)))
    rows = max(1, math.ceil(n / cols))
    px = max(1, min(64, MAP_TARGET_PX // cols))
    return cols, rows, px


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def pageblock_image(pbmap: PageblockMap) -> tuple[np.ndarray[Any, np.dtype[np.uint8]], int, int]:
    """The map as an RGB uint8 image, row-major from PFN 0, and (columns, pixels per cell).

    A cell's colour is its migratetype's, blended towards black by ``MIXED_SHADE * mixed``;
    an unmapped cell gets a black outline and diagonal (cells under 3 pixels: the diagonal
    only, which at 1 pixel blackens the cell); cells of 4 pixels and more are separated
    by a white pixel.
    """
    n = len(pbmap)
    cols, rows, px = _grid(n)
    palette = np.array([_rgb(c) for c in MIGRATETYPE_COLOURS] + [_rgb(NO_RAM_COLOUR)],
                       dtype=np.float64)
    idx = np.where(pbmap.migratetype < 0, MIGRATE_TYPES, pbmap.migratetype)
    colour = palette[idx] * (1.0 - MIXED_SHADE * pbmap.mixed)[:, None]
    cells = np.full((rows * cols, 3), 255.0)
    cells[:n] = colour
    # cells of 4 pixels and more keep a white 1-pixel gap at their right and bottom edge;
    # the unmapped mark is drawn inside the rest, lines px/16 thick
    inner = px - 1 if px >= 4 else px
    t = max(1, px // 16)
    i, j = np.indices((px, px))
    border = (i < t) | (j < t) | (i >= inner - t) | (j >= inner - t)
    mark = ((np.abs(i - j) < t) | (border & (px >= 3))) & (i < inner) & (j < inner)
    gap = (i >= inner) | (j >= inner)
    img = np.repeat(np.repeat(cells.reshape(rows, cols, 3), px, axis=0), px, axis=1)
    img[np.tile(gap, (rows, cols))] = 255.0
    um = np.zeros(rows * cols, dtype=bool)
    um[:n] = pbmap.unmapped
    um_img = np.repeat(np.repeat(um.reshape(rows, cols), px, axis=0), px, axis=1)
    um_img &= np.tile(mark, (rows, cols))
    img[um_img] = _rgb(UNMAPPED_MARK_COLOUR)
    return np.rint(img).astype(np.uint8), cols, px


def plot_pageblock_map(pbmap: PageblockMap, path: str | Path, title: str = "pageblocks") -> Path:
    """One cell per pageblock, rows of PFNs left to right, top to bottom: coloured by
    migratetype, outlined with a diagonal when unmapped, darker the more mixed."""
    img, cols, px = pageblock_image(pbmap)
    h, w = img.shape[0], img.shape[1]
    fig = Figure(figsize=(12, 2.2 + 9.6 * h / max(w, 1)), dpi=DPI)
    ax = fig.add_axes((0.1, 0.17 * 2.2 / fig.get_figheight() + 0.02, 0.8,
                       1 - (0.17 * 2.2 + 0.8) / fig.get_figheight()))
    ax.imshow(img, interpolation="nearest", aspect="equal")
    ax.set_xticks([])
    rows = h // px
    ticks = sorted({int(r) for r in np.linspace(0, rows - 1, min(rows, 6))})
    ax.set_yticks([(r + 0.5) * px for r in ticks])
    ax.set_yticklabels([f"{(r * cols) << PAGEBLOCK_ORDER:#x}" for r in ticks], fontsize=8)
    ax.set_ylabel("first PFN of the row")
    n_unmapped = int(pbmap.unmapped.sum())
    n_mixed = int((pbmap.mixed > 0).sum())
    ax.set_title(f"{title}: {len(pbmap)} pageblocks of {1 << PAGEBLOCK_ORDER} pages, "
                 f"{n_unmapped} unmapped, {n_mixed} mixed", fontsize=10)
    handles = [Patch(facecolor=c, edgecolor="none", label=nm)
               for c, nm in zip(MIGRATETYPE_COLOURS, MIGRATETYPE_NAMES)]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="\\\\",
                         label="unmapped (outlined)"))
    handles.append(Patch(facecolor=(1 - MIXED_SHADE,) * 3, edgecolor="none",
                         label="darker = more mixed"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    return save_figure(fig, path)


def plot_machine_pageblocks(m: Machine, path: str | Path, title: str | None = None) -> Path:
    """:func:`plot_pageblock_map` of a machine's current state."""
    return plot_pageblock_map(machine_pageblock_map(m), path,
                              title if title is not None else f"pageblocks ({m.profile.name})")


# ------------------------------------------------------------------------ time series

def flatten_scenario_samples(samples: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    """``pagealloc run --every`` samples (nested: ``buddyinfo``, ``directmap``,
    ``metrics``) as the flat samples the time-series plots read."""
    out: list[dict[str, int]] = []
    for s in samples:
        flat: dict[str, int] = {"event": int(s.get("event", len(out)))}
        per_order = [0] * NR_PAGE_ORDERS
        for counts in s.get("buddyinfo", {}).values():
            for o, nr in enumerate(counts[:NR_PAGE_ORDERS]):
                per_order[o] += int(nr) << o
        for o, n in enumerate(per_order):
            flat[f"free_pages_order_{o}"] = n
        dm = s.get("directmap", {})
        for key, name in DIRECTMAP_KEYS:
            if f"DirectMap{name}" in dm:
                flat[key] = int(dm[f"DirectMap{name}"])
        for k, v in s.get("metrics", {}).items():
            flat[k] = int(v)
        out.append(flat)
    return out


def _xs(samples: Sequence[Sample]) -> list[float]:
    return [float(s.get("event", i)) for i, s in enumerate(samples)]


def _panels(n: int, ncols: int, panel_w: float, panel_h: float,
            extra_h: float = 0.8) -> tuple[Figure, list[Any]]:
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(panel_w * ncols, panel_h * nrows + extra_h), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes[:n]


def plot_free_pages_per_order(runs: Mapping[str, Sequence[Sample]], path: str | Path,
                              title: str = "free pages per order") -> Path:
    """A panel per run: free pages in buddy blocks of each order over time, stacked."""
    labels = list(runs) or ["(no data)"]
    fig, axes = _panels(len(labels), 2, 6.0, 3.4)
    cmap = [_viridis(o / (NR_PAGE_ORDERS - 1)) for o in range(NR_PAGE_ORDERS)]
    for ax, label in zip(axes, labels):
        samples = runs.get(label, [])
        xs = _xs(samples)
        ys = [[float(s.get(f"free_pages_order_{o}", 0)) for s in samples]
              for o in range(NR_PAGE_ORDERS)]
        if samples:
            ax.stackplot(xs, ys, colors=cmap, labels=[f"order {o}" for o in range(NR_PAGE_ORDERS)],
                         linewidth=0)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("allocator requests")
        ax.set_ylabel("free pages")
        ax.margins(x=0)
    if axes:
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            # one panel (6 inches) holds six entries a row; two and more, all eleven
            ncol = NR_PAGE_ORDERS if len(axes) > 1 else (NR_PAGE_ORDERS + 1) // 2
            fig.legend(handles, names, loc="outside lower center", ncol=ncol,
                       fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def _viridis(t: float) -> tuple[float, float, float]:
    """A point of matplotlib's viridis map (looked up once, no global registry state)."""
    from matplotlib import colormaps
    r, g, b, _ = colormaps["viridis"](t)
    return float(r), float(g), float(b)


def plot_directmap(runs: Mapping[str, Sequence[Sample]], path: str | Path,
                   title: str = "direct map composition") -> Path:
    """A panel per run: the DirectMap 4k/2M/1G lines over time, stacked (GiB)."""
    labels = list(runs) or ["(no data)"]
    fig, axes = _panels(len(labels), 2, 6.0, 3.4)
    colours = ("#D55E00", "#0072B2", "#999999")
    for ax, label in zip(axes, labels):
        samples = runs.get(label, [])
        xs = _xs(samples)
        ys = [[float(s.get(k, 0)) / (1 << 20) for s in samples] for k, _ in DIRECTMAP_KEYS]
        if samples:
            ax.stackplot(xs, ys, colors=colours, labels=[f"DirectMap{n}" for _, n in DIRECTMAP_KEYS],
                         linewidth=0)
            worst4k = max(float(s.get("directmap_4k_kb", 0)) for s in samples)
            ax.text(0.01, 0.02, f"4k max {worst4k:.0f} kB", transform=ax.transAxes, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("allocator requests")
        ax.set_ylabel("GiB")
        ax.margins(x=0)
    if axes:
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="outside lower center", ncol=3, fontsize=8,
                       frameon=False)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def plot_flips_and_flushes(runs: Mapping[str, Sequence[Sample]], path: str | Path,
                           title: str = "flips and TLB flushes") -> Path:
    """A panel per counter (flips each way, ranged and full TLB flushes), a line per run:
    the cumulative count over time."""
    fig, axes = _panels(len(FLIP_FLUSH_KEYS), 2, 6.0, 3.0)
    for ax, key in zip(axes, FLIP_FLUSH_KEYS):
        for label, samples in runs.items():
            if samples and any(key in s for s in samples):
                ax.plot(_xs(samples), [float(s.get(key, 0)) for s in samples], label=label,
                        linewidth=1.2)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("allocator requests")
        ax.set_ylabel("cumulative count")
        ax.margins(x=0)
        ax.set_ylim(bottom=0)
    handles, names = axes[0].get_legend_handles_labels()
    if not handles:
        for ax in axes[1:]:
            handles, names = ax.get_legend_handles_labels()
            if handles:
                break
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncol=min(3, len(handles)),
                   fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


# ------------------------------------------------------------------------ profile bars

def _number(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def default_bar_metrics(columns: Sequence[Mapping[str, object]],
                        rows: Sequence[str]) -> list[str]:
    """The rows worth a bar panel: numeric in every column and not equal in all of them
    (with one column: numeric and non-zero)."""
    out = []
    for r in rows:
        vals = [_number(c.get(r)) for c in columns]
        if not vals or any(v is None for v in vals):
            continue
        if (len(vals) > 1 and len(set(vals)) > 1) or (len(vals) == 1 and vals[0]):
            out.append(r)
    return out


def plot_metric_bars(labels: Sequence[str], columns: Sequence[Mapping[str, object]],
                     path: str | Path, metrics: Sequence[str] | None = None,
                     title: str = "profiles side by side") -> Path:
    """A panel per metric, a bar per profile (``columns[i]`` holds ``labels[i]``'s values);
    ``metrics`` defaults to :func:`default_bar_metrics` of the columns' keys, in order."""
    if metrics is None:
        keys: list[str] = []
        for c in columns:
            keys.extend(k for k in c if k not in keys)
        metrics = default_bar_metrics(columns, keys)
    metrics = list(metrics) or ["(no metric differs)"]
    fig, axes = _panels(len(metrics), 4, 3.6, 2.6, extra_h=1.0)
    colours = [f"C{i % 10}" for i in range(len(labels))]
    xs = np.arange(len(labels))
    for ax, metric in zip(axes, metrics):
        vals = [_number(c.get(metric)) for c in columns]
        heights = [v if v is not None else 0.0 for v in vals]
        ax.bar(xs, heights, color=colours, width=0.7)
        for x, v in zip(xs, vals):
            ax.text(float(x), heights[int(x)], "n/a" if v is None else f"{v:g}",
                    ha="center", va="bottom", fontsize=7)
        ax.set_title(metric, fontsize=8)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(i + 1) for i in range(len(labels))], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.margins(y=0.15)
    handles = [Patch(facecolor=c, label=f"{i + 1}: {lb}") for i, (c, lb) in
               enumerate(zip(colours, labels))]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(2, max(1, len(labels))),
               fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


# ------------------------------------------------------------------------ one run

def plot_run(label: str, samples: Sequence[Sample], m: Machine, out: str | Path) -> list[Path]:
    """The plots of one run (``pagealloc run SCENARIO --every N --plots DIR``) in ``out``:
    its samples over time (:func:`plot_free_pages_per_order`, :func:`plot_directmap`,
    :func:`plot_flips_and_flushes`, one panel or line labelled ``label``) and the pageblock
    map of ``m`` as the run left it (:func:`plot_machine_pageblocks`), named as in
    :data:`RUN_PLOTS`; return the paths written.  ``samples`` are flat samples
    (:func:`pagealloc.experiments.compare.run_scenario_measured` records them)."""
    free, dm, ff, pb = (Path(out) / name for name in RUN_PLOTS)
    runs = {label: list(samples)}
    return [
        plot_free_pages_per_order(runs, free, title=f"free pages per order: {label}"),
        plot_directmap(runs, dm, title=f"direct map composition: {label}"),
        plot_flips_and_flushes(runs, ff, title=f"flips and TLB flushes: {label}"),
        plot_machine_pageblocks(m, pb, f"pageblocks at the end: {label}"),
    ]
