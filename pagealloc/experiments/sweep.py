"""``pagealloc sweep SPEC``: one run per point of a grid of scenarios, profiles, knobs,
machine fields, seeds and scales (and of real traces), in local worker processes or on a
Dask cluster, into one table.

A SPEC is a TOML file, checked like a scenario file (every error names the file, the line
and the key, :class:`SweepSpecError`)::

    name = "v2-vs-v4"
    scenarios = ["secretmem"]              # built-in names or scenario files (relative to SPEC)
    profiles = ["unmapped-v2", "unmapped-v4", "unmapped-v2+flip_mode=claim"]
    seeds = [1, 2]                         # default: [the scenario's seed]
    scale = 0.125                          # a number or an array of numbers (default 1)
    every = 1000                           # sample every N requests (compare's rows)
    traces = ["captures/anon"]             # optional: capture directories (relative to SPEC)
    what_if = ["gfp=GFP_HIGHUSER_MOVABLE:unmapped"]   # trace points only
    limit = 20000                          # trace points only: replay N requests

    [knobs]                                # optional: a grid over profile knobs
    zero_on_map_back = [false, true]

    [machine]                              # optional: a grid over MachineConfig fields
    memory = ["512M", "2G"]                # each key a value or an array of values
    cpus = [1, 4, 16]

The grid of scenario points is the product scenarios x profiles x knob values x machine
values x seeds x scales, in that order; point ``i`` is the ``i``-th element.  The knob grid
applies to every profile (after the profile's own ``+knob=value`` parts, which it
overrides); its keys, and the ``[machine]`` keys, vary in the order written, the first key
slowest.  A ``[machine]`` key is a :class:`pagealloc.config.MachineConfig` field (``memory``,
``cpus``, ``swap``, ``watermark_boost_factor``, ``min_free_kbytes``, ``thp``, ...; not
``ram_ranges``/``reserved``): sizes (``memory``, ``swap``, ``kernel_image_size``) as ``"512M"``
or bytes, booleans as booleans, ``lowmem_reserve_ratio`` as an array of 5 integers (an array
of such arrays to vary it), other fields as integers.  The values override the scenario's
machine as ``pagealloc compare --set`` does, *after* ``scale`` (so ``memory`` replaces the
scaled memory; the sources' rates and lifetimes are still scaled).  Without ``[machine]``
the points, their numbering and their rows are those of a SPEC without it.

``traces = ["capture_dir", ...]`` (relative to SPEC) adds trace points, numbered after every
scenario point: the product traces x profiles x knob values.  A trace point replays its
capture in drive mode from the capture's first dump
(:func:`pagealloc.experiments.compare.compare_trace`, one variant), with the SPEC's
``what_if = ["MATCH:ACTION", ...]`` rules (``pagealloc replay --what-if``; all of them apply
to every trace point), ``limit = N`` (replay the first N requests; 0, the default: all) and
``every``.  The trace brings its machine and its request stream, so trace points ignore
``seeds``, ``scale`` and ``[machine]`` and are not multiplied by them; a SPEC may give
``traces`` without ``scenarios`` (then it may not give ``seeds``, ``scale`` or
``[machine]``), and ``what_if``/``limit`` only with ``traces``.  Every trace point reads the
whole trace file, whatever ``limit`` (``linux-7.2/anon``: about 15 s).

Each point is one :func:`run_point`: build the scenario's machine with the variant's
profile and the point's machine fields, run the scenario
(:func:`pagealloc.experiments.compare.run_scenario_variant`) or replay the trace, and
return a flat dict: the point's parameters -- ``point``, ``scenario``, ``variant``,
``profile``, ``seed``, ``scale``, ``every`` (:data:`PARAM_KEYS`), then ``machine_<field>``
per ``[machine]`` key (sizes in bytes, ``lowmem_reserve_ratio`` as ``"256 256 32 0 0"``),
then for a trace point ``trace``, ``what_if`` (the rules joined by ``"; "``) and ``limit``
(a trace point's ``scenario``, ``seed`` and ``scale`` are null) -- followed by
:meth:`Machine.metrics` and the numeric rows of the ``pagealloc compare`` table
(``failures order=N`` become ``failures_order_N``).  A row's parameters are all
:func:`run_point` needs: re-running them gives byte-identical metrics (``pagealloc sweep
SPEC --only POINT``).  The rows go to ``sweep.csv``, ``sweep.json`` and ``sweep.parquet``
(one table, a row per point: :func:`write_table`; a parameter a row does not have is null,
a metric a scenario row lacks is 0, one a trace row lacks -- the replay records no failures
by order or kind, no ``model_seconds`` -- is null).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

from pagealloc.workload.scenario import ScenarioError, _Reader, _tname, key_lines

__all__ = ("PARAM_KEYS", "TRACE_KEYS", "SweepSpec", "SweepSpecError", "Progress", "load_spec",
           "parse_spec", "is_param", "run_point", "run_points", "summarize", "render_summary",
           "write_table")

#: the parameter columns of every row (what :func:`run_point` reads), then, with a
#: ``[machine]`` table, ``machine_<field>`` per key, and for trace points :data:`TRACE_KEYS`
PARAM_KEYS = ("point", "scenario", "variant", "profile", "seed", "scale", "every")
#: the parameter columns of a trace point (after :data:`PARAM_KEYS` and ``machine_*``)
TRACE_KEYS = ("trace", "what_if", "limit")
#: prefix of the ``[machine]`` parameter columns
MACHINE_PREFIX = "machine_"
#: metrics where a larger value is the better point (all others: smaller is better)
HIGHER_IS_BETTER = frozenset({
    "free_order9_blocks_mean", "free_order9_blocks_min", "free_order9_blocks_mapped_mean",
    "free_order9_blocks_mapped_min", "compact_success", "pgmigrate_success", "events", "allocs", "unmapped_pages_allocated"})

Row = dict[str, Any]


def is_param(col: str) -> bool:
    """A parameter column (:data:`PARAM_KEYS`, ``machine_*``, :data:`TRACE_KEYS`)."""
    return col in PARAM_KEYS or col in TRACE_KEYS or col.startswith(MACHINE_PREFIX)


class SweepSpecError(ScenarioError):
    """A sweep SPEC that cannot be used: ``<file>:<line>: field '<key>': <problem>``."""


@dataclass(frozen=True)
class SweepSpec:
    """A parsed SPEC: its name and the points of its grid (parameter dicts)."""

    name: str
    path: str
    points: list[Row]


_TOP = ("name", "description", "scenarios", "traces", "profiles", "seeds", "scale", "every",
        "what_if", "limit", "knobs", "machine")
#: MachineConfig fields given as sizes (text such as "512M", or bytes)
_SIZE_FIELDS = ("memory", "swap", "kernel_image_size")
#: MachineConfig fields a [machine] table cannot vary (lists of PFN ranges)
_NOT_SWEPT = ("ram_ranges", "reserved")


def _list(r: _Reader, data: Mapping[str, Any], key: str, kinds: tuple[type, ...],
          what: str, required: bool = True) -> list[Any]:
    v = data.get(key)
    if v is None:
        if required:
            raise _fail(r, key, "required")
        return []
    if not isinstance(v, list):
        v = [v]
    if not v:
        raise _fail(r, key, "expected a non-empty array")
    for i, x in enumerate(v):
        if isinstance(x, bool) and bool not in kinds or not isinstance(x, kinds):
            raise _fail(r, f"{key}[{i}]" if len(v) > 1 else key, f"expected {what}, got {_tname(x)}")
    return list(v)


def _fail(r: _Reader, keypath: str, problem: str) -> SweepSpecError:
    e = r.fail(keypath, problem)
    return SweepSpecError(e.path, e.lineno, e.field, e.problem)


def _machine_values(r: _Reader, key: str, vals: Any) -> list[Any]:
    """The values of ``[machine] key`` as row values (sizes in bytes, the ratio as text),
    each checked by :func:`pagealloc.config.config_from_kwargs`."""
    import dataclasses

    from pagealloc.config import ConfigError, MachineConfig, config_from_kwargs, parse_size
    fields = {f.name for f in dataclasses.fields(MachineConfig)}
    kp = f"machine.{key}"
    if key not in fields or key in _NOT_SWEPT:
        known = ", ".join(sorted(fields - set(_NOT_SWEPT)))
        why = "cannot be swept (a list of PFN ranges)" if key in _NOT_SWEPT else "unknown machine field"
        raise _fail(r, kp, f"{why}; known: {known}")
    default = getattr(MachineConfig(), key)
    if key == "lowmem_reserve_ratio":      # one value is itself an array
        vl = vals if isinstance(vals, list) and vals and all(isinstance(v, list) for v in vals) \
            else [vals]
    else:
        vl = vals if isinstance(vals, list) else [vals]
    if not vl:
        raise _fail(r, kp, "expected a value or a non-empty array")
    out: list[Any] = []
    for i, v in enumerate(vl):
        ikp = f"{kp}[{i}]" if isinstance(vals, list) and vl is vals else kp
        if key in _SIZE_FIELDS:
            ok = isinstance(v, str) or isinstance(v, int) and not isinstance(v, bool)
            what = "a size such as \"512M\" or a byte count"
        elif isinstance(default, bool):
            ok, what = isinstance(v, bool), "a boolean"
        elif isinstance(default, tuple):
            ok = isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool)
                                             for x in v)
            what = f"an array of {len(default)} integers"
        else:
            ok, what = isinstance(v, int) and not isinstance(v, bool), "an integer"
        if not ok:
            raise _fail(r, ikp, f"expected {what}, got {_tname(v)}")
        try:
            if key in _SIZE_FIELDS:
                v = parse_size(v, key)
            if isinstance(default, tuple):
                v = tuple(v)
            config_from_kwargs(**{key: v})
        except ConfigError as e:
            raise _fail(r, ikp, str(e)) from None
        out.append(" ".join(map(str, v)) if isinstance(v, tuple) else v)
    return out


def _overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """The MachineConfig overrides of a point's ``machine_*`` parameters (null: none)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k.startswith(MACHINE_PREFIX) and v is not None:
            key = k[len(MACHINE_PREFIX):]
            out[key] = tuple(int(x) for x in v.split()) if key == "lowmem_reserve_ratio" else v
    return out


def parse_spec(text: str, path: str = "<sweep>") -> SweepSpec:
    """Parse and validate SPEC ``text`` read from ``path`` (relative scenario files and
    capture directories are resolved against the directory of ``path``)."""
    from pagealloc.config import ConfigError
    from pagealloc.experiments.compare import parse_knob_value, parse_variant
    from pagealloc.profiles import ProfileError
    from pagealloc.workload.replay import ReplayError, dump_snapshots, parse_what_if, trace_path
    from pagealloc.workload.scenario import load_scenario, machine_config
    from pagealloc.workload.scenario_builtins import BUILTINS
    lines = key_lines(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        import re
        m = re.search(r"\(at line (\d+)", str(e))
        raise SweepSpecError(path, int(m.group(1)) if m else 1, "(syntax)",
                             f"TOML syntax error: {e}") from None
    r = _Reader(path, lines)
    try:
        r.table(data, "", _TOP)
    except ScenarioError as e:
        raise SweepSpecError(e.path, e.lineno, e.field, e.problem) from None
    name = data.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise _fail(r, "name", f"expected a string, got {_tname(name)}")
    base = Path(path).parent
    if "scenarios" not in data and "traces" not in data:
        raise _fail(r, "scenarios", "required (scenarios, traces or both)")
    scenarios: list[str] = []
    scns: list[Any] = []
    for i, s in enumerate(_list(r, data, "scenarios", (str,), "a scenario name or file",
                                required=False)):
        kp = f"scenarios[{i}]" if isinstance(data["scenarios"], list) else "scenarios"
        target = s if (s in BUILTINS or s == "mixed") else str((base / s).resolve())
        try:
            scn = load_scenario(target)
        except (OSError, ScenarioError) as e:
            raise _fail(r, kp, str(e)) from None
        scenarios.append(target)
        scns.append(scn)
    traces: list[str] = []
    for i, t in enumerate(_list(r, data, "traces", (str,), "a capture directory",
                                required=False)):
        kp = f"traces[{i}]" if isinstance(data["traces"], list) else "traces"
        cap = (base / t).resolve()
        if not cap.is_dir():
            raise _fail(r, kp, f"{cap}: not a capture directory")
        try:
            trace_path(cap)
            snaps = dump_snapshots(cap)
        except ReplayError as e:
            raise _fail(r, kp, str(e)) from None
        if not (cap / snaps[min(snaps)]).is_dir():
            raise _fail(r, kp, f"{cap}: no first-dump snapshot {snaps[min(snaps)]!r}")
        traces.append(str(cap))
    if not scenarios:
        for key in ("seeds", "scale", "machine"):
            if key in data:
                raise _fail(r, key, "applies to scenario points only; this SPEC has no "
                                    "scenarios (a trace brings its machine and requests)")
    if not traces:
        for key in ("what_if", "limit"):
            if key in data:
                raise _fail(r, key, "applies to trace points only; this SPEC has no traces")
    profiles = _list(r, data, "profiles", (str,), "a profile or profile+knob=value")
    for i, p in enumerate(profiles):
        try:
            parse_variant(p)
        except ProfileError as e:
            raise _fail(r, f"profiles[{i}]" if isinstance(data["profiles"], list) else "profiles",
                        str(e)) from None
    seeds = _list(r, data, "seeds", (int,), "an integer seed", required=False)
    for i, sd in enumerate(seeds):
        if not 0 <= sd < 1 << 63:
            raise _fail(r, f"seeds[{i}]", f"{sd} is out of range [0, 2**63)")
    scales = _list(r, data, "scale", (int, float), "a number", required=False) or [1.0]
    for i, sc in enumerate(scales):
        if not 0 < sc <= 64:
            kp = f"scale[{i}]" if isinstance(data.get("scale"), list) else "scale"
            raise _fail(r, kp, f"{sc!r} is out of range (0, 64]")
    every = data.get("every", 1000)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise _fail(r, "every", f"expected an integer >= 1, got {_tname(every)}")
    what_if = _list(r, data, "what_if", (str,), "a what-if rule MATCH:ACTION", required=False)
    limit = data.get("limit", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise _fail(r, "limit", f"expected an integer >= 0 (0: the whole trace), got {limit!r}")
    knobs = data.get("knobs", {})
    if not isinstance(knobs, dict):
        raise _fail(r, "knobs", f"expected a table, got {_tname(knobs)}")
    grid: list[tuple[str, list[str]]] = []
    for k, vals in knobs.items():
        vl = vals if isinstance(vals, list) else [vals]
        if not vl:
            raise _fail(r, f"knobs.{k}", "expected a non-empty array")
        texts = []
        for v in vl:
            if not isinstance(v, (str, bool)):
                raise _fail(r, f"knobs.{k}", f"expected strings or booleans, got {_tname(v)}")
            t = str(v).lower() if isinstance(v, bool) else v
            try:
                parse_knob_value(k, t, "knobs")
            except ProfileError as e:
                raise _fail(r, f"knobs.{k}", str(e).removeprefix("knobs: ")) from None
            texts.append(t)
        grid.append((k, texts))
    mtable = data.get("machine", {})
    if not isinstance(mtable, dict):
        raise _fail(r, "machine", f"expected a table, got {_tname(mtable)}")
    mgrid = [(k, _machine_values(r, k, v)) for k, v in mtable.items()]
    variants = [prof + "".join(f"+{k}={v}" for (k, _), v in zip(grid, combo))
                for prof in profiles for combo in _product([vals for _, vals in grid])]
    for i, rule in enumerate(what_if):
        kp = f"what_if[{i}]" if isinstance(data["what_if"], list) else "what_if"
        if ";" in rule:
            raise _fail(r, kp, f"{rule!r}: a rule cannot contain ';'")
        for variant in variants:
            try:
                parse_what_if(rule, parse_variant(variant).profile.gfp_table)
            except ReplayError as e:
                raise _fail(r, kp, f"{rule!r}: {e.problem}") from None
    points: list[Row] = []
    for si, scn_name in enumerate(scenarios):
        for variant in variants:
            prof_name = parse_variant(variant).profile.name
            for mcombo in _product([vals for _, vals in mgrid]):
                mparams = {f"{MACHINE_PREFIX}{k}": v for (k, _), v in zip(mgrid, mcombo)}
                for seed in seeds or [scns[si].seed]:
                    for scale in scales:
                        pt: Row = {"point": len(points), "scenario": scn_name,
                                   "variant": variant, "profile": prof_name,
                                   "seed": seed, "scale": float(scale), "every": every}
                        if mparams:
                            try:        # the fields together, on this scenario's machine
                                machine_config(scns[si].scaled(float(scale)).machine,
                                               **_overrides(mparams))
                            except ConfigError as e:
                                field = str(e).split(":", 1)[0]
                                raise _fail(r, f"machine.{field}" if field in mtable else "machine",
                                            f"{e} (scenario {scns[si].name}, scale {scale:g})") \
                                    from None
                        points.append(pt | mparams)
    for cap in traces:
        for variant in variants:
            points.append({"point": len(points), "scenario": None, "variant": variant,
                           "profile": parse_variant(variant).profile.name, "seed": None,
                           "scale": None, "every": every, "trace": cap,
                           "what_if": "; ".join(what_if), "limit": limit})
    return SweepSpec(name, path, points)


def _product(lists: Sequence[Sequence[Any]]) -> Iterable[tuple[Any, ...]]:
    import itertools
    return itertools.product(*lists)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a SPEC file."""
    p = Path(path)
    return parse_spec(p.read_text(encoding="utf-8"), str(p))


# ------------------------------------------------------------------------------ one point

def run_point(params: Mapping[str, Any]) -> Row:
    """Run one grid point from its parameters (:func:`is_param` columns; the others, such
    as a row's metrics, are ignored) and return its row: parameters, then metrics."""
    from pagealloc.experiments.compare import parse_variant, run_scenario_variant
    from pagealloc.workload.scenario import load_scenario
    variant = parse_variant(str(params["variant"]))
    if params.get("trace"):
        out: Row = {k: params[k] for k in PARAM_KEYS} | {k: params[k] for k in TRACE_KEYS}
        row, metrics = _run_trace_point(params, variant)
    else:
        scale = float(params["scale"])
        scn = load_scenario(str(params["scenario"])).scaled(scale)
        overrides = _overrides(params)
        row, _samples, m = run_scenario_variant(scn, variant, int(params["seed"]), scale,
                                                overrides or None, int(params["every"]))
        out = {k: params[k] for k in PARAM_KEYS}
        out |= {k: v for k, v in params.items() if k.startswith(MACHINE_PREFIX)}
        metrics = dict(m.metrics())
        del m
    out["profile"] = variant.profile.name
    for k, v in row.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            metrics[k.replace("failures order=", "failures_order_")
                    .replace("failures kind=", "failures_kind_")] = v
    return out | metrics


def _run_trace_point(params: Mapping[str, Any], variant: Any) -> tuple[Row, Row]:
    """A trace point: the compare row of its replay and :meth:`Machine.metrics` at the end."""
    from pagealloc.experiments.compare import compare_trace
    metrics: Row = {}

    def grab(_v: Any, m: Any) -> None:
        metrics.update(m.metrics())

    rules = [x.strip() for x in str(params.get("what_if") or "").split(";") if x.strip()]
    cmp = compare_trace(str(params["trace"]), [variant], limit=int(params.get("limit") or 0),
                        what_if=rules, every=int(params["every"]), on_machine=grab)
    return dict(cmp.columns[0]), metrics


# ------------------------------------------------------------------------------ running

class Progress:
    """A progress bar on ``stream`` when it is a terminal, else a plain line per point."""

    def __init__(self, total: int, stream: TextIO | None = None, label: str = "sweep") -> None:
        self.total, self.done, self.label = total, 0, label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()

    def update(self, point: int) -> None:
        self.done += 1
        dt = time.monotonic() - self.t0
        if self.tty:
            w = 30
            fill = w * self.done // max(1, self.total)
            self.stream.write(f"\r{self.label} [{'#' * fill}{' ' * (w - fill)}] "
                              f"{self.done}/{self.total} points  {dt:.1f} s")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"{self.label}: {self.done}/{self.total} points (point {point} done)\n")
        self.stream.flush()


def run_points(points: Sequence[Mapping[str, Any]], *, workers: int | None = None,
               dask: str | Any | None = None,
               progress: Callable[[int], None] | None = None) -> list[Row]:
    """Run every point; return the rows sorted by point id.  ``workers``: local processes
    (default ``os.cpu_count()``; 1 runs in this process); ``dask``: a scheduler address
    (or a ``distributed.Client``) to run them on instead."""
    rows: list[Row] = []

    def done(row: Row) -> None:
        rows.append(row)
        if progress is not None:
            progress(int(row["point"]))

    plist = [dict(p) for p in points]
    if dask is not None:
        for row in _run_dask(plist, dask):
            done(row)
    elif (workers or os.cpu_count() or 1) <= 1 or len(plist) <= 1:
        for p in plist:
            done(run_point(p))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        ctx = multiprocessing.get_context("spawn")  # no fork of a possibly threaded parent
        with ProcessPoolExecutor(max_workers=min(workers or os.cpu_count() or 1, len(plist)),
                                 mp_context=ctx) as ex:
            futs = [ex.submit(run_point, p) for p in plist]
            for f in as_completed(futs):
                done(f.result())
    return sorted(rows, key=lambda r: int(r["point"]))


def _run_dask(points: list[Row], dask: str | Any) -> Iterable[Row]:
    import importlib
    try:
        # untyped, and optional (the ``sweep`` extra): looked up at run time only
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise SweepError("--dask needs dask's distributed scheduler: "
                           "pip install 'pagealloc[sweep]' (or 'dask[distributed]')") from None
    client = distributed.Client(dask) if isinstance(dask, str) else dask
    try:
        futs = client.map(run_point, points, pure=False)
        for f in distributed.as_completed(futs):
            yield f.result()
    finally:
        if isinstance(dask, str):
            client.close()


# ------------------------------------------------------------------------------ output

def columns(rows: Sequence[Row]) -> list[str]:
    """Parameters first (:data:`PARAM_KEYS`, ``machine_*``, :data:`TRACE_KEYS` present in
    any row), then every metric in first-seen order."""
    cols = list(PARAM_KEYS)
    seen = {k for r in rows for k in r}
    cols += list(dict.fromkeys(k for r in rows for k in r if k.startswith(MACHINE_PREFIX)))
    cols += [k for k in TRACE_KEYS if k in seen]
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def normalized(rows: Sequence[Row]) -> list[Row]:
    """Every row with every column: a parameter a row lacks is None (a trace point's
    ``machine_*``, a scenario point's ``trace``); a metric a scenario row lacks (e.g. a
    failure order) is 0, one a trace row lacks (not recorded by the replay) is None."""
    cols = columns(rows)
    return [{c: r[c] if c in r else (None if is_param(c) or r.get("trace") else 0)
             for c in cols} for r in rows]


def write_table(rows: Sequence[Row], out: str | Path, stem: str = "sweep") -> list[Path]:
    """``stem.csv``, ``stem.json`` and ``stem.parquet`` in ``out``, every row with every
    column (:func:`normalized`; Parquet infers each column's type from its values); return
    the paths written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    full = normalized(rows)
    cols = columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(full)
    paths = [d / f"{stem}.csv", d / f"{stem}.json", d / f"{stem}.parquet"]
    paths[0].write_text(buf.getvalue())
    paths[1].write_text(json.dumps(full, indent=1) + "\n")
    pq.write_table(pa.Table.from_pylist(full), paths[2])
    return paths


def summarize(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Per metric that varies over the points: min, mean, max, the best and worst point
    (smaller is better unless the metric is in :data:`HIGHER_IS_BETTER`); points where the
    metric is None (not recorded by a trace replay) are left out."""
    full = normalized(rows)
    out = []
    for c in columns(rows):
        if is_param(c):
            continue
        vals = [(r[c], int(r["point"])) for r in full if r[c] is not None]
        if len({v for v, _ in vals}) <= 1:
            continue
        lo = min(vals, key=lambda t: (t[0], t[1]))
        hi = max(vals, key=lambda t: (t[0], -t[1]))
        best, worst = (hi, lo) if c in HIGHER_IS_BETTER else (lo, hi)
        out.append({"metric": c, "min": lo[0], "mean": sum(v for v, _ in vals) / len(vals),
                    "max": hi[0], "best": best[1], "worst": worst[1]})
    return out


def _f(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.1f}" if not math.isclose(v, round(v)) or abs(v) >= 10 else f"{v:g}"
    return str(v)


def _machine_text(key: str, v: Any) -> str:
    """A machine parameter as the summary prints it (sizes in binary units)."""
    if key.removeprefix(MACHINE_PREFIX) in _SIZE_FIELDS and isinstance(v, int) and v:
        for unit, sh in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
            if v % (1 << sh) == 0:
                return f"{v >> sh}{unit}"
    return str(v)


def render_summary(spec_name: str, rows: Sequence[Row]) -> str:
    """The printed summary: the points, then a line per metric that varies."""
    lines = [f"sweep {spec_name}  {len(rows)} points"]
    for r in rows:
        if r.get("trace"):
            lines.append(f"  point {r['point']}: {r['variant']}  trace {Path(str(r['trace'])).name}"
                         f"  limit {r['limit'] or 'none'}"
                         + (f"  what-if {r['what_if']}" if r.get("what_if") else ""))
            continue
        mach = "".join(f"  {k.removeprefix(MACHINE_PREFIX)} {_machine_text(k, v)}"
                       for k, v in r.items() if k.startswith(MACHINE_PREFIX))
        lines.append(f"  point {r['point']}: {r['variant']}  scenario "
                     f"{Path(str(r['scenario'])).name}  seed {r['seed']}  scale {r['scale']:g}"
                     + mach)
    summ = summarize(rows)
    head = ["metric", "min", "mean", "max", "best", "worst"]
    cells = [[s["metric"], _f(s["min"]), f"{s['mean']:.1f}", _f(s["max"]),
              str(s["best"]), str(s["worst"])] for s in summ]
    w = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(head)]

    def fmt(c: Sequence[str]) -> str:
        return "  ".join([c[0].ljust(w[0])] + [x.rjust(w[i + 1]) for i, x in enumerate(c[1:])])
    lines += [fmt(head), "  ".join("-" * n for n in w)] + [fmt(c) for c in cells]
    nconst = sum(not is_param(c) for c in columns(rows)) - len(summ)
    lines.append(f"# {nconst} metrics equal at every point not shown; best/worst: point ids "
                 f"(smaller is better except {', '.join(sorted(HIGHER_IS_BETTER))})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ command line

class SweepError(ValueError):
    """A sweep that cannot run as asked (``pagealloc`` exits with status 2)."""


def add_parser(sub: Any) -> None:
    """The ``pagealloc sweep`` subcommand (called by :func:`pagealloc.cli.make_parser`)."""
    sp = sub.add_parser("sweep", help="run a grid of scenarios x profiles x knobs x machine "
                        "fields x seeds x scales, and of trace replays (local processes or "
                        "Dask) into one table and a summary")
    sp.add_argument("spec", metavar="SPEC", help="the sweep's TOML file")
    sp.add_argument("--workers", type=int, default=None, metavar="N",
                    help="local worker processes (default: os.cpu_count())")
    sp.add_argument("--dask", metavar="ADDRESS", default=None,
                    help="run the points on this Dask distributed scheduler")
    sp.add_argument("--out", metavar="DIR", default=None,
                    help="write sweep.csv, sweep.json and sweep.parquet to DIR "
                         "(default: ./sweep-NAME)")
    sp.add_argument("--only", type=int, default=None, metavar="POINT",
                    help="re-run one point and print its row as JSON")
    sp.add_argument("--list", action="store_true", help="print the points and exit")
    sp.set_defaults(func=cmd_sweep)


def cmd_sweep(args: Any) -> int:
    """``pagealloc sweep SPEC``."""
    spec = load_spec(args.spec)
    if args.list:
        for p in spec.points:
            print(json.dumps(p, sort_keys=True))
        return 0
    if args.only is not None:
        if not 0 <= args.only < len(spec.points):
            raise SweepError(f"--only {args.only}: {spec.path} has points 0..{len(spec.points) - 1}")
        print(json.dumps(run_point(spec.points[args.only]), indent=1))
        return 0
    if args.workers is not None and args.workers < 1:
        raise SweepError(f"--workers {args.workers}: expected N >= 1")
    prog = Progress(len(spec.points))
    t0 = time.perf_counter()
    rows = run_points(spec.points, workers=args.workers, dask=args.dask, progress=prog.update)
    out = args.out if args.out is not None else f"sweep-{spec.name}"
    for path in write_table(rows, out):
        print(f"# wrote {path}", file=sys.stderr)
    sys.stdout.write(render_summary(spec.name, rows))
    print(f"# {len(rows)} points in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0
