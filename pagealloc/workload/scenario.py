"""Scenario files: synthetic workloads described in TOML, validated, and run on a machine.

A scenario names a machine (memory, CPUs, swap, vm sysctls), a seed, *sources* of
allocations (what kind of memory, which orders, how often, how long it lives, on which
CPUs), *phases* that scale the sources' rates over model time (ramp, steady, burst, drain)
and timed *events* (``drop_caches``, ``compact_memory``, a memory-pressure burst, guest_memfd
VMs starting and stopping).  The schema, with a full example, is in ``docs/scenarios.md``;
the built-in scenarios are in :mod:`pagealloc.workload.scenario_builtins`.

Every input error is a :class:`ScenarioError` (an
:class:`~pagealloc.workload.errors.InputFormatError`) naming the file, the line and the key
path (``sources[2].lifetime.mean``); unknown keys are errors.  TOML itself is read with
:mod:`tomllib`, which keeps no positions, so the line of a key is found by scanning the
text (:func:`key_lines`).

What each source kind asks of the machine (the kernel paths it stands for):

================  ====================================================================
``anon``          an owned anonymous folio (``do_anonymous_page()``:
                  ``GFP_HIGHUSER_MOVABLE|__GFP_ZERO``): on the LRU, migratable, swapped
                  out by reclaim when the machine has swap
``file``          an owned page-cache folio (``filemap_alloc_folio()`` with the mapping's
                  ``GFP_HIGHUSER_MOVABLE``); ``dirty`` is the share written before reclaim
                  may drop it
``slab``          an owned reclaimable slab page (``allocate_slab()`` of a
                  ``SLAB_RECLAIM_ACCOUNT`` cache: ``GFP_KERNEL|__GFP_RECLAIMABLE``), given
                  back by the shrinkers
``unmovable``     pinned kernel memory (``GFP_KERNEL``; a driver buffer, a long-term pin)
``kernel-stack``  a thread's stack: with ``CONFIG_VMAP_STACK`` (Debian) four order-0
                  pages from vmalloc (``THREADINFO_GFP`` less ``__GFP_ACCOUNT``:
                  ``GFP_KERNEL|__GFP_ZERO``), pinned
``page-table``    a user page-table page (``GFP_PGTABLE_USER``:
                  ``GFP_KERNEL_ACCOUNT|__GFP_ZERO``), pinned
``thp``           an anonymous THP fault (``vma_thp_gfp_mask()`` with the default
                  ``defrag=madvise``: ``GFP_TRANSHUGE_LIGHT``, or ``GFP_TRANSHUGE`` with
                  ``madvise = true``); a failed fault falls back to order-0 anon pages
                  (``thp_fault_fallback``)
``guest_memfd``   guest memory of a VM (``kvm_gmem_get_folio()``, mapping mask
                  ``GFP_HIGHUSER``, unmovable), an unmapped user
``secretmem``     a ``memfd_secret()`` page (``secretmem_fault()``:
                  ``GFP_HIGHUSER|__GFP_ZERO``), an unmapped user
``asi-sensitive`` kernel memory holding user data that ASI keeps out of its restricted
                  address space (the planned ``__GFP_SENSITIVE``; ``GFP_KERNEL``), an
                  unmapped user
================  ====================================================================

An unmapped user's requests follow the profile: ``unmapped-v2``, ``per-folio-zap`` and
``unmapped-cache-2023`` set ``__GFP_UNMAPPED``; ``unmapped-v4`` passes ``ALLOC_UNMAPPED``
(``unmapped=True``) and drops ``__GFP_ZERO``, which v4 refuses for unmapped requests; on
``linux-7.2`` and ``linux-6.1`` they are ordinary allocations (the summary says so).  Each
unmapped source, and each VM, is its own user for the security counters (owner class
``2 + k``, :mod:`pagealloc.mm.contents`).

Time: the run advances in ticks of ``tick`` model seconds; each tick every source
requests ``rate`` (or ``share * events_per_tick``) allocations times the phase's
multiplier (a fractional part is a Bernoulli draw), the requests of all sources are
interleaved at random, lifetimes counted in events expire between requests, and the tick
ends with :meth:`Machine.tick` (kswapd naps, kcompactd's proactive compaction, vmstat
updates) and the expiry of lifetimes counted in seconds.  An *event* is one allocator
request: an allocation (successful or not) or a free.  Everything random comes from
``random.Random`` streams seeded from the scenario seed and the source's name: the same
scenario, seed, scale and profile give the same run, event for event.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from pagealloc.config import ConfigError, MachineConfig, config_from_kwargs, parse_size
from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.workload.errors import InputFormatError

#: a scenario may not ask for more ticks than this (10 ms ticks: a model day); keeps a
#: mistyped duration from running forever
MAX_TICKS = 10_000_000
#: the largest rate a source may have, in requests per tick
MAX_RATE = 1_000_000.0
MAX_ORDER = 10                   # MAX_PAGE_ORDER (x86-64)
PMD_ORDER = 9                    # HPAGE_PMD_ORDER: the THP counters of /proc/vmstat
PAGE_SHIFT = 12
# the GFP bits this module tests (plain names: a class body would mangle ``G.__GFP_*``)
_UNMAPPED_BIT = G.__GFP_UNMAPPED
_ZERO_BIT = G.__GFP_ZERO
_COMP_BIT = G.__GFP_COMP


class ScenarioError(InputFormatError):
    """A scenario file (or built-in) that cannot be used: file, line and key path named.

    ``str(err)`` reads ``<file>:<line>: field '<key path>': <problem>``.
    """


# ------------------------------------------------------------------------------ kinds


@dataclass(frozen=True, slots=True)
class Kind:
    """What a source kind allocates: its owner kind (None: pinned, unowned), default GFP
    mask, order and batch, whether it is an unmapped user and whether it is movable."""

    name: str
    owner: str | None
    gfp: int
    order: int = 0
    batch: int = 1
    unmapped: bool = False
    movable: bool = False


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("anon", "anon", G.GFP_HIGHUSER_MOVABLE | _ZERO_BIT, movable=True),
    Kind("file", "file", G.GFP_HIGHUSER_MOVABLE, movable=True),
    Kind("slab", "slab", G.GFP_KERNEL | G.__GFP_RECLAIMABLE),
    Kind("unmovable", None, G.GFP_KERNEL),
    Kind("kernel-stack", None, G.GFP_KERNEL | _ZERO_BIT, batch=4),
    Kind("page-table", None, G.GFP_KERNEL_ACCOUNT | _ZERO_BIT),
    Kind("thp", "anon", G.GFP_TRANSHUGE_LIGHT, order=9, movable=True),
    Kind("guest_memfd", None, G.GFP_HIGHUSER, unmapped=True),
    Kind("secretmem", None, G.GFP_HIGHUSER | _ZERO_BIT, unmapped=True),
    Kind("asi-sensitive", None, G.GFP_KERNEL, unmapped=True),
)}

#: the allocation a source's *movable* share uses when its kind is not movable, and the
#: *unmovable* share when its kind is movable (the ``movable`` parameter)
MOVABLE_VARIANT = KINDS["anon"]
UNMOVABLE_VARIANT = KINDS["unmovable"]

PHASE_KINDS = ("ramp", "steady", "burst", "drain")
ACTIONS = ("drop_caches", "compact_memory", "pressure", "vm_start", "vm_stop")
PRESSURE_KINDS = ("anon", "file", "slab", "unmovable")
SYSCTLS = ("min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor",
           "lowmem_reserve_ratio", "percpu_pagelist_high_fraction", "defrag_mode",
           "extfrag_threshold", "compaction_proactiveness", "swappiness", "thp",
           "init_on_alloc", "init_on_free", "gbpages")


# ------------------------------------------------------------------------------ spec


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How long an allocation lives: ``exponential`` (mean ``a``), ``fixed`` (``a``),
    ``uniform`` (``a``..``b``) or ``forever``; in ``events`` or model ``seconds``."""

    dist: str = "forever"
    a: float = 0.0
    b: float = 0.0
    unit: str = "events"

    def sample(self, rng: random.Random) -> float:
        if self.dist == "exponential":
            return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        if self.dist == "fixed":
            return self.a
        if self.dist == "uniform":
            return rng.uniform(self.a, self.b)
        return math.inf


@dataclass(frozen=True, slots=True)
class Source:
    """One stream of allocations (``[[sources]]``); see the module docstring for kinds."""

    name: str
    kind: str
    gfp: str | None = None
    orders: tuple[tuple[int, float], ...] = ((0, 1.0),)
    rate: float | None = None
    share: float | None = None
    lifetime: Lifetime = Lifetime()
    cpus: tuple[int, ...] | None = None
    placement: str = "random"
    free_cpu: str = "same"
    movable: float | None = None
    dirty: float = 0.0
    touch: float = 0.0
    batch: int = 1
    split: bool = False
    keep: int = 1
    fallback_order: int | None = None
    stop_on_failure: bool = False
    madvise: bool = False
    context: str = "task"
    index: int = 0


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of model time scaling the sources' rates (``[[phases]]``).

    ``ramp`` goes linearly from ``start`` to ``rate``; ``steady`` and ``burst`` hold
    ``rate``; ``drain`` holds ``rate`` (default 0) and frees ``release`` (default all) of
    the live allocations of its sources, spread evenly over the phase.  ``sources``
    limits the phase to some sources (the others run at 1x); ``rates`` gives single
    sources a multiplier of their own for the whole phase."""

    kind: str
    duration: float
    rate: float
    start: float = 0.0
    sources: tuple[str, ...] | None = None
    release: float = 0.0
    name: str = ""
    rates: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """A timed event (``[[events]]``) at ``at`` model seconds from the start."""

    at: float
    action: str
    index: int
    mode: int = 3
    percent: float = 0.0
    kind: str = "anon"
    order: int = 0
    hold: float = 1.0
    vm: str = ""
    memory: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """``[machine]``: memory and swap in bytes, CPUs, and vm sysctls (MachineConfig fields)."""

    memory: int = 4 << 30
    cpus: int = 4
    swap: int = 0
    sysctls: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario; ``lines`` maps key paths to their line in ``path``."""

    name: str
    description: str
    path: str
    seed: int
    tick: float
    events_per_tick: float
    profile: str | None
    machine: MachineSpec
    sources: tuple[Source, ...]
    phases: tuple[Phase, ...]
    events: tuple[Event, ...]
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.phases)

    def error(self, keypath: str, problem: str) -> ScenarioError:
        """A :class:`ScenarioError` for ``keypath`` at its line in the scenario's text."""
        return ScenarioError(self.path, line_of(self.lines, keypath), keypath, problem)

    def scaled(self, factor: float) -> "Scenario":
        """The scenario at ``factor`` times its size: memory, swap and VM sizes, rates and
        lifetimes counted in events (so the live set scales with memory and the run keeps
        its shape in model time).  Memory is rounded to 2 MiB, at least 128 MiB."""
        if factor == 1.0:
            return self
        mach = dataclasses.replace(self.machine, memory=_scale_bytes(self.machine.memory, factor, 128 << 20),
                                   swap=_scale_bytes(self.machine.swap, factor, 0))
        srcs = []
        for s in self.sources:
            lt = s.lifetime
            if lt.unit == "events" and lt.dist != "forever":
                lt = dataclasses.replace(lt, a=lt.a * factor, b=lt.b * factor)
            srcs.append(dataclasses.replace(s, rate=None if s.rate is None else s.rate * factor,
                                            lifetime=lt))
        evs = tuple(dataclasses.replace(e, memory=_scale_bytes(e.memory, factor, 0) if e.memory else 0)
                    for e in self.events)
        return dataclasses.replace(self, machine=mach, sources=tuple(srcs), events=evs,
                                   events_per_tick=self.events_per_tick * factor)


def _scale_bytes(n: int, factor: float, floor: int) -> int:
    if not n:
        return 0
    two_mib = 2 << 20
    return max(floor, two_mib, int(n * factor) // two_mib * two_mib)


# ------------------------------------------------------------------------------ key lines

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER_RE = re.compile(rf"^\s*(\[\[|\[)\s*({_DOTTED})\s*(\]\]|\])\s*(?:#.*)?$")
_KEYVAL_RE = re.compile(rf"^\s*({_DOTTED})\s*=\s*(.*)$")
_INLINE_KEY_RE = re.compile(rf"(?:^|[{{,])\s*({_KEY})\s*=")


def _split_dotted(text: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(rf"{_KEY}", text)]


def key_lines(text: str) -> dict[str, int]:
    """Map every key path of a TOML text to the line (1-based) where it is written.

    Paths look like ``machine.memory``, ``sources[2].lifetime.mean``: array-of-tables
    elements get their index; keys of an inline table on one line are children of its
    key; elements of an array of inline tables written one per line get their index.
    Multi-line strings are skipped.  Only what a validator needs to point at a line."""
    out: dict[str, int] = {}
    arr_index: dict[str, int] = {}
    table = ""
    in_ml: str | None = None
    array_path: str | None = None      # inside a multi-line array value
    array_elem = -1
    depth = 0

    def resolve(parts: list[str], new_array: bool) -> str:
        p = ""
        for i, part in enumerate(parts):
            p = f"{p}.{part}" if p else part
            last = i == len(parts) - 1
            if last and new_array:
                arr_index[p] = arr_index.get(p, -1) + 1
            if p in arr_index:
                p = f"{p}[{arr_index[p]}]"
        return p

    def inline_keys(base: str, value: str, lineno: int) -> None:
        if "{" not in value:
            return
        for m in _INLINE_KEY_RE.finditer(value[value.index("{"):]):
            out.setdefault(f"{base}.{m.group(1).strip(chr(34) + chr(39))}", lineno)

    for lineno, line in enumerate(text.splitlines(), 1):
        if in_ml is not None:
            if line.count(in_ml) % 2 == 1:
                in_ml = None
            continue
        if array_path is not None:
            s = line.strip()
            if depth == 1 and s.startswith("{"):
                array_elem += 1
                ep = f"{array_path}[{array_elem}]"
                out.setdefault(ep, lineno)
                inline_keys(ep, s, lineno)
            depth += _bracket_depth(line)
            if depth <= 0:
                array_path = None
            continue
        h = _HEADER_RE.match(line)
        if h:
            table = resolve(_split_dotted(h.group(2)), h.group(1) == "[[")
            out.setdefault(table, lineno)
            continue
        kv = _KEYVAL_RE.match(line)
        if not kv:
            continue
        path = ".".join(([table] if table else []) + _split_dotted(kv.group(1)))
        out.setdefault(path, lineno)
        value = kv.group(2)
        for q in ('"""', "'''"):
            if value.count(q) % 2 == 1:
                in_ml = q
        if in_ml is None:
            inline_keys(path, value, lineno)
            d = _bracket_depth(value)
            if value.lstrip().startswith("[") and d > 0:
                array_path, array_elem, depth = path, -1, d
    return out


def _bracket_depth(text: str) -> int:
    """Net ``[`` minus ``]`` outside strings and comments."""
    d = 0
    quote = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch == "[":
            d += 1
        elif ch == "]":
            d -= 1
    return d


def line_of(lines: Mapping[str, int], keypath: str) -> int:
    """The line of ``keypath``, else of its nearest enclosing key or table, else 1."""
    p = keypath
    while p:
        if p in lines:
            return lines[p]
        cut = max(p.rfind("."), p.rfind("["))
        if cut <= 0:
            break
        p = p[:cut]
    return lines.get(p, 1)


# ------------------------------------------------------------------------------ reading

_MISSING = object()


class _Reader:
    """Typed, path-aware access to the parsed TOML; every error names file, line, key."""

    def __init__(self, path: str, lines: Mapping[str, int]) -> None:
        self.path = path
        self.lines = lines

    def fail(self, keypath: str, problem: str) -> ScenarioError:
        return ScenarioError(self.path, line_of(self.lines, keypath), keypath, problem)

    def table(self, value: object, keypath: str, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(keypath, f"expected a table, got {_tname(value)}")
        for k in value:
            if k not in allowed:
                kp = f"{keypath}.{k}" if keypath else k
                raise self.fail(kp, f"unknown key {k!r}; known here: {', '.join(allowed)}")
        return value

    def number(self, d: Mapping[str, Any], key: str, base: str, default: object = _MISSING,
               lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False) -> float:
        kp = _kp(base, key)
        v = d.get(key, default)
        if v is _MISSING:
            raise self.fail(kp, "required")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise self.fail(kp, f"expected a number, got {_tname(v)}")
        x = float(v)
        if x < lo or x > hi or (lo_open and x == lo):
            rng = f"{'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}]"
            raise self.fail(kp, f"{v!r} is out of range {rng}")
        return x

    def integer(self, d: Mapping[str, Any], key: str, base: str, default: object = _MISSING,
                lo: int = -(1 << 62), hi: int = 1 << 62) -> int:
        kp = _kp(base, key)
        v = d.get(key, default)
        if v is _MISSING:
            raise self.fail(kp, "required")
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(kp, f"expected an integer, got {_tname(v)}")
        if not lo <= v <= hi:
            raise self.fail(kp, f"{v} is out of range [{lo}, {hi}]")
        return v

    def string(self, d: Mapping[str, Any], key: str, base: str, default: object = _MISSING,
               choices: Sequence[str] | None = None) -> str:
        kp = _kp(base, key)
        v = d.get(key, default)
        if v is _MISSING:
            raise self.fail(kp, "required")
        if not isinstance(v, str):
            raise self.fail(kp, f"expected a string, got {_tname(v)}")
        if choices is not None and v not in choices:
            raise self.fail(kp, f"{v!r} is not one of {', '.join(choices)}")
        return v

    def boolean(self, d: Mapping[str, Any], key: str, base: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(_kp(base, key), f"expected true or false, got {_tname(v)}")
        return v

    def size(self, d: Mapping[str, Any], key: str, base: str, default: object = _MISSING,
             lo: int = 0, hi: int = 1 << 44) -> int:
        kp = _kp(base, key)
        v = d.get(key, default)
        if v is _MISSING:
            raise self.fail(kp, "required")
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise self.fail(kp, f"expected a size such as \"512M\" or a byte count, got {_tname(v)}")
        try:
            n = parse_size(v, kp)
        except ConfigError as e:
            raise self.fail(kp, str(e).split(": ", 1)[-1]) from None
        if not lo <= n <= hi:
            raise self.fail(kp, f"{v!r} is out of range [{lo}, {hi}] bytes")
        return n


def _kp(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else "-inf" if x == -math.inf else f"{x:g}"


def _tname(v: object) -> str:
    if isinstance(v, bool):
        return f"boolean {str(v).lower()}"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, str):
        return f"string {v!r}"
    return f"{type(v).__name__} {v!r}"


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """Parse and validate scenario TOML ``text`` read from ``path`` (used in errors)."""
    lines = key_lines(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        lineno = int(m.group(1)) if m else 1
        if m is None:
            m2 = re.search(r"\(at end of document\)", msg)
            lineno = text.count("\n") + 1 if m2 else 1
        key = _key_on_line(text, lineno)
        problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", msg)
        raise ScenarioError(path, lineno, key, f"TOML syntax error: {problem}") from None
    return _build(data, _Reader(path, lines))


def _key_on_line(text: str, lineno: int) -> str:
    """The key path written on ``lineno`` (for syntax errors), or ``(syntax)``."""
    found = [k for k, n in key_lines(text).items() if n == lineno]
    if found:
        return max(found, key=len)
    src = text.splitlines()
    if 0 < lineno <= len(src):
        m = re.match(rf"\s*({_DOTTED})\s*=", src[lineno - 1])
        if m:
            return ".".join(_split_dotted(m.group(1)))
    return "(syntax)"


def load_scenario(spec: str | Path) -> Scenario:
    """A built-in scenario by name, or a scenario file by path."""
    from pagealloc.workload.scenario_builtins import BUILTINS, builtin_text
    name = str(spec)
    if name in BUILTINS and not Path(name).is_file():
        return parse_scenario(builtin_text(name), f"<builtin:{name}>")
    p = Path(name)
    if not p.exists():
        raise FileNotFoundError(
            f"unknown scenario {name!r}: not a built-in ({', '.join(['mixed', *BUILTINS])}) "
            f"and no such file")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = raw[:e.start].count(b"\n") + 1
        raise ScenarioError(str(p), lineno, "(encoding)", f"not UTF-8: {e.reason}") from None
    return parse_scenario(text, str(p))


_TOP = ("name", "description", "seed", "tick", "events_per_tick", "profile", "machine",
        "sources", "phases", "events")
_SOURCE_KEYS = ("name", "kind", "gfp", "orders", "rate", "share", "lifetime", "cpus",
                "placement", "free_cpu", "movable", "dirty", "touch", "batch", "split", "keep",
                "fallback_order", "stop_on_failure", "madvise", "context")


def _build(data: dict[str, Any], r: _Reader) -> Scenario:
    r.table(data, "", _TOP)
    name = r.string(data, "name", "", "scenario")
    description = r.string(data, "description", "", "")
    seed = r.integer(data, "seed", "", 42, 0, (1 << 63) - 1)
    tick = r.number(data, "tick", "", 0.01, 0.0001, 3600.0)
    ept = r.number(data, "events_per_tick", "", 0.0, 0.0, MAX_RATE)
    profile = data.get("profile")
    if profile is not None:
        from pagealloc.profiles import PROFILES
        profile = r.string(data, "profile", "", choices=sorted(PROFILES))
    machine = _build_machine(data.get("machine", {}), r)
    sources = _build_sources(data.get("sources", _MISSING), r, machine, ept)
    phases = _build_phases(data.get("phases", _MISSING), r, sources)
    total = sum(p.duration for p in phases)
    if total / tick > MAX_TICKS:
        raise r.fail("phases", f"{total:g} s of phases at tick {tick:g} s is more than "
                               f"{MAX_TICKS} ticks")
    events = _build_events(data.get("events", []), r, sources, total, machine)
    return Scenario(name=name, description=description, path=r.path, seed=seed, tick=tick,
                    events_per_tick=ept, profile=profile, machine=machine, sources=sources,
                    phases=phases, events=events, lines=r.lines)


def _build_machine(value: object, r: _Reader) -> MachineSpec:
    d = r.table(value, "machine", ("memory", "cpus", "swap", "sysctls"))
    memory = r.size(d, "memory", "machine", 4 << 30, 64 << 20, 1 << 44)
    cpus = r.integer(d, "cpus", "machine", 4, 1, 1024)
    swap = r.size(d, "swap", "machine", 0, 0, 1 << 50)
    sys_d = r.table(d.get("sysctls", {}), "machine.sysctls", SYSCTLS)
    defaults = MachineConfig()
    sysctls: list[tuple[str, Any]] = []
    for k, v in sys_d.items():
        kp = f"machine.sysctls.{k}"
        want = getattr(defaults, k)
        if k == "lowmem_reserve_ratio":
            if not isinstance(v, list) or len(v) != 5 or not all(
                    isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise r.fail(kp, "expected an array of 5 integers")
            v = tuple(v)
        elif isinstance(want, bool):
            v = r.boolean(sys_d, k, "machine.sysctls", False)
        else:
            v = r.integer(sys_d, k, "machine.sysctls", lo=0, hi=1 << 50)
        sysctls.append((k, v))
    spec = MachineSpec(memory=memory, cpus=cpus, swap=swap, sysctls=tuple(sysctls))
    try:
        machine_config(spec)
    except ConfigError as e:
        field_name = str(e).split(":", 1)[0].strip()
        kp = f"machine.sysctls.{field_name}" if field_name in SYSCTLS else f"machine.{field_name}"
        raise r.fail(kp, str(e)) from None
    return spec


def machine_config(spec: MachineSpec, **overrides: Any) -> MachineConfig:
    """The :class:`MachineConfig` of a machine spec, with ``overrides`` (``--set``) on top."""
    kw: dict[str, Any] = {"memory": spec.memory, "cpus": spec.cpus, "swap": spec.swap}
    kw.update(dict(spec.sysctls))
    kw.update(overrides)
    return config_from_kwargs(**kw)


def _orders(value: object, kp: str, r: _Reader) -> tuple[tuple[int, float], ...]:
    if isinstance(value, bool):
        raise r.fail(kp, f"expected an order, an array of orders or a table order = weight, got {_tname(value)}")
    if isinstance(value, int):
        items: list[tuple[object, object]] = [(value, 1)]
    elif isinstance(value, list):
        if not value:
            raise r.fail(kp, "empty order list")
        items = [(o, 1) for o in value]
    elif isinstance(value, dict):
        if not value:
            raise r.fail(kp, "empty order table")
        items = list(value.items())
    else:
        raise r.fail(kp, f"expected an order, an array of orders or a table order = weight, got {_tname(value)}")
    out: dict[int, float] = {}
    for o, w in items:
        try:
            order = o if isinstance(o, int) and not isinstance(o, bool) else int(str(o), 10)
        except ValueError:
            raise r.fail(kp, f"order {o!r} is not an integer") from None
        if not 0 <= order <= MAX_ORDER:
            raise r.fail(f"{kp}.{o}" if isinstance(value, dict) else kp,
                         f"order {order} is out of range [0, {MAX_ORDER}]")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < math.inf:
            raise r.fail(f"{kp}.{o}", f"weight {w!r} is not a non-negative number")
        out[order] = out.get(order, 0.0) + float(w)
    if sum(out.values()) <= 0:
        raise r.fail(kp, "the weights add up to 0")
    return tuple(sorted(out.items()))


def _lifetime(value: object, kp: str, r: _Reader) -> Lifetime:
    if value == "forever":
        return Lifetime()
    d = r.table(value, kp, ("dist", "mean", "value", "min", "max", "unit"))
    dist = r.string(d, "dist", kp, choices=("exponential", "fixed", "uniform", "forever"))
    unit = r.string(d, "unit", kp, "events", choices=("events", "seconds"))
    allowed = {"exponential": ("mean",), "fixed": ("value",), "uniform": ("min", "max"),
               "forever": ()}[dist]
    for k in ("mean", "value", "min", "max"):
        if k in d and k not in allowed:
            raise r.fail(f"{kp}.{k}", f"not a parameter of dist {dist!r} (it takes: "
                                      f"{', '.join(allowed) or 'nothing'})")
    hi = 1e12
    if dist == "exponential":
        return Lifetime(dist, r.number(d, "mean", kp, lo=0.0, hi=hi, lo_open=True), 0.0, unit)
    if dist == "fixed":
        return Lifetime(dist, r.number(d, "value", kp, lo=0.0, hi=hi), 0.0, unit)
    if dist == "uniform":
        a = r.number(d, "min", kp, lo=0.0, hi=hi)
        b = r.number(d, "max", kp, lo=0.0, hi=hi)
        if b < a:
            raise r.fail(f"{kp}.max", f"max {b:g} is below min {a:g}")
        return Lifetime(dist, a, b, unit)
    return Lifetime(unit=unit)


def _array_of_tables(value: object, key: str, r: _Reader, required: bool) -> list[dict[str, Any]]:
    if value is _MISSING:
        if required:
            raise r.fail(key, f"required: at least one [[{key}]] table")
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise r.fail(key, f"expected an array of tables ([[{key}]]), got {_tname(value)}")
    if required and not value:
        raise r.fail(key, f"required: at least one [[{key}]] table")
    return value


def _check_gfp(text: str, kp: str, r: _Reader) -> int:
    """Validate a GFP string against the 7.2 (+ __GFP_UNMAPPED) and 6.1 tables."""
    last: Exception | None = None
    for table in (G.GFP_TABLE_UNMAPPED_V2, G.GFP_TABLE_6_1):
        try:
            gfp = G.parse_gfp(text, table)
        except G.GfpParseError as e:
            last = e
            continue
        known = 0
        for mask, _ in table.entries:
            known |= mask
        if gfp & ~known:
            raise r.fail(kp, f"{text!r} has bits 0x{gfp & ~known:x} that are no GFP flag")
        try:
            G.gfp_zone(gfp)
        except G.GfpParseError as e:
            raise r.fail(kp, str(e)) from None
        return gfp
    raise r.fail(kp, str(last))


def _build_sources(value: object, r: _Reader, machine: MachineSpec, ept: float) -> tuple[Source, ...]:
    out: list[Source] = []
    names: set[str] = set()
    for i, d in enumerate(_array_of_tables(value, "sources", r, True)):
        base = f"sources[{i}]"
        r.table(d, base, _SOURCE_KEYS)
        name = r.string(d, "name", base)
        if not name or name in names:
            raise r.fail(f"{base}.name", f"{name!r} is empty or names another source too")
        names.add(name)
        gfp_text: str | None = None
        gfp = 0
        if "gfp" in d:
            gfp_text = r.string(d, "gfp", base)
            gfp = _check_gfp(gfp_text, f"{base}.gfp", r)
        kind = r.string(d, "kind", base, "unmovable" if gfp_text else _MISSING, choices=list(KINDS))
        k = KINDS[kind]
        unmapped = k.unmapped or bool(gfp & _UNMAPPED_BIT)
        if gfp & _UNMAPPED_BIT and k.owner is not None:
            raise r.fail(f"{base}.gfp", f"__GFP_UNMAPPED needs a pinned kind (unmovable, "
                                        f"guest_memfd, secretmem, asi-sensitive), not {kind!r}")
        orders = _orders(d.get("orders", k.order), f"{base}.orders", r)
        rate = share = None
        if "rate" in d and "share" in d:
            raise r.fail(f"{base}.share", "give rate or share, not both")
        if "rate" in d:
            rate = r.number(d, "rate", base, lo=0.0, hi=MAX_RATE)
        elif "share" in d:
            share = r.number(d, "share", base, lo=0.0, hi=1.0)
            if ept <= 0:
                raise r.fail(f"{base}.share", "share needs a top-level events_per_tick > 0")
        else:
            raise r.fail(base, "required: rate (requests per tick) or share (of events_per_tick)")
        lifetime = _lifetime(d.get("lifetime", "forever"), f"{base}.lifetime", r)
        cpus: tuple[int, ...] | None = None
        cv = d.get("cpus", "all")
        if cv != "all":
            if not isinstance(cv, list) or not cv or not all(
                    isinstance(c, int) and not isinstance(c, bool) for c in cv):
                raise r.fail(f"{base}.cpus", f"expected \"all\" or a non-empty array of CPU numbers, got {_tname(cv)}")
            bad = [c for c in cv if not 0 <= c < machine.cpus]
            if bad:
                raise r.fail(f"{base}.cpus", f"CPU {bad[0]} is not in 0..{machine.cpus - 1}")
            cpus = tuple(cv)
        placement = r.string(d, "placement", base, "random", choices=("random", "round-robin"))
        free_cpu = r.string(d, "free_cpu", base, "same", choices=("same", "random"))
        movable: float | None = None
        if "movable" in d:
            movable = r.number(d, "movable", base, lo=0.0, hi=1.0)
            if unmapped and movable > 0:
                raise r.fail(f"{base}.movable", "an unmapped user's memory is unmovable "
                                                "(the series forces MIGRATE_UNMOVABLE)")
        dirty = r.number(d, "dirty", base, 0.0, 0.0, 1.0)
        if "dirty" in d and kind != "file":
            raise r.fail(f"{base}.dirty", f"only page cache (kind \"file\") is dirty, not {kind!r}")
        touch = r.number(d, "touch", base, 0.0, 0.0, 1000.0)
        batch = r.integer(d, "batch", base, k.batch, 1, 4096)
        split = r.boolean(d, "split", base, False)
        keep = r.integer(d, "keep", base, 1, 1, 1 << MAX_ORDER)
        if "keep" in d and not split:
            raise r.fail(f"{base}.keep", "keep is the number of pages kept by split = true")
        if split:
            if unmapped or kind in ("file", "slab"):
                raise r.fail(f"{base}.split", f"kind {kind!r} cannot be split and freed page by page")
            small = [o for o, w in orders if w > 0 and (1 << o) <= keep]
            if small:
                raise r.fail(f"{base}.keep", f"keep = {keep} leaves nothing to free from an "
                                             f"order-{small[0]} block")
        fallback: int | None = None
        if "fallback_order" in d:
            fallback = r.integer(d, "fallback_order", base, lo=0, hi=MAX_ORDER)
        elif kind == "thp" and not split:
            fallback = 0
        stop = r.boolean(d, "stop_on_failure", base, False)
        madvise = r.boolean(d, "madvise", base, False)
        if "madvise" in d and kind != "thp":
            raise r.fail(f"{base}.madvise", "madvise (MADV_HUGEPAGE) applies to kind \"thp\"")
        context = r.string(d, "context", base, "task", choices=("task", "kthread", "irq"))
        if context != "task" and k.owner is not None:
            raise r.fail(f"{base}.context", f"owned memory ({kind}) is allocated by a task")
        out.append(Source(name=name, kind=kind, gfp=gfp_text, orders=orders, rate=rate,
                          share=share, lifetime=lifetime, cpus=cpus, placement=placement,
                          free_cpu=free_cpu, movable=movable, dirty=dirty, touch=touch,
                          batch=batch, split=split, keep=keep, fallback_order=fallback,
                          stop_on_failure=stop, madvise=madvise, context=context, index=i))
    return tuple(out)


def _build_phases(value: object, r: _Reader, sources: Sequence[Source]) -> tuple[Phase, ...]:
    names = {s.name for s in sources}
    out: list[Phase] = []
    for i, d in enumerate(_array_of_tables(value, "phases", r, True)):
        base = f"phases[{i}]"
        r.table(d, base, ("name", "kind", "duration", "rate", "from", "sources", "release", "rates"))
        kind = r.string(d, "kind", base, choices=PHASE_KINDS)
        duration = r.number(d, "duration", base, lo=0.0, hi=1e7, lo_open=True)
        default_rate = {"ramp": 1.0, "steady": 1.0, "burst": 3.0, "drain": 0.0}[kind]
        rate = r.number(d, "rate", base, default_rate, 0.0, 1e6)
        start = r.number(d, "from", base, 0.0, 0.0, 1e6)
        if "from" in d and kind != "ramp":
            raise r.fail(f"{base}.from", "from is the starting multiplier of a ramp")
        release = r.number(d, "release", base, 1.0 if kind == "drain" else 0.0, 0.0, 1.0)
        srcs: tuple[str, ...] | None = None
        if "sources" in d:
            sv = d["sources"]
            if not isinstance(sv, list) or not sv or not all(isinstance(x, str) for x in sv):
                raise r.fail(f"{base}.sources", f"expected a non-empty array of source names, got {_tname(sv)}")
            for x in sv:
                if x not in names:
                    raise r.fail(f"{base}.sources", f"no source named {x!r}")
            srcs = tuple(sv)
        pname = r.string(d, "name", base, kind)
        rates: list[tuple[str, float]] = []
        if "rates" in d:
            rd = r.table(d["rates"], f"{base}.rates", sorted(names))
            for x in rd:
                rates.append((x, r.number(rd, x, f"{base}.rates", lo=0.0, hi=1e6)))
        out.append(Phase(kind=kind, duration=duration, rate=rate, start=start, sources=srcs,
                         release=release, name=pname, rates=tuple(rates)))
    return tuple(out)


def _build_events(value: object, r: _Reader, sources: Sequence[Source], total: float,
                  machine: MachineSpec) -> tuple[Event, ...]:
    by_name = {s.name: s for s in sources}
    out: list[Event] = []
    running: dict[str, int] = {}
    allowed = {
        "drop_caches": ("mode",), "compact_memory": (),
        "pressure": ("percent", "kind", "order", "hold"),
        "vm_start": ("vm", "memory", "source"), "vm_stop": ("vm",),
    }
    tables = _array_of_tables(value, "events", r, False)
    for i, d in enumerate(tables):
        base = f"events[{i}]"
        if not isinstance(d, dict):
            raise r.fail(base, "expected a table")
        action = r.string(d, "action", base, choices=ACTIONS)
        r.table(d, base, ("at", "action", *allowed[action]))
        at = r.number(d, "at", base, lo=0.0, hi=total)
        ev = Event(at=at, action=action, index=i)
        if action == "drop_caches":
            ev = dataclasses.replace(ev, mode=r.integer(d, "mode", base, 3, 1, 3))
        elif action == "pressure":
            kind = r.string(d, "kind", base, "anon", choices=PRESSURE_KINDS)
            ev = dataclasses.replace(
                ev, percent=r.number(d, "percent", base, lo=0.0, hi=200.0, lo_open=True),
                kind=kind, order=r.integer(d, "order", base, 0, 0, MAX_ORDER),
                hold=r.number(d, "hold", base, 1.0, 0.0, 1e7))
        elif action in ("vm_start", "vm_stop"):
            vm = r.string(d, "vm", base)
            ev = dataclasses.replace(ev, vm=vm)
            if action == "vm_start":
                mem = r.size(d, "memory", base, lo=1 << PAGE_SHIFT, hi=1 << 44)
                src = r.string(d, "source", base)
                s = by_name.get(src)
                if s is None:
                    raise r.fail(f"{base}.source", f"no source named {src!r}")
                if s.kind != "guest_memfd":
                    raise r.fail(f"{base}.source", f"source {src!r} is {s.kind!r}; a VM's memory comes from a guest_memfd source")
                ev = dataclasses.replace(ev, memory=mem, source=src)
        out.append(ev)
    # VM starts and stops must pair up in time order
    for ev in sorted(out, key=lambda e: (e.at, e.index)):
        if ev.action == "vm_start":
            if ev.vm in running:
                raise r.fail(f"events[{ev.index}].vm", f"VM {ev.vm!r} is already running (started by events[{running[ev.vm]}])")
            running[ev.vm] = ev.index
        elif ev.action == "vm_stop":
            if ev.vm not in running:
                raise r.fail(f"events[{ev.index}].vm", f"VM {ev.vm!r} is not running at {ev.at:g} s")
            del running[ev.vm]
    return tuple(sorted(out, key=lambda e: (e.at, e.index)))


# ------------------------------------------------------------------------------ running

OWNED = 0
PINNED = 1


class _Item:
    """One arrival's allocations, freed together: ``(OWNED, handle, order)`` or
    ``(PINNED, pfn, order)`` blocks."""

    __slots__ = ("src", "cpu", "blocks", "pos")

    def __init__(self, src: int, cpu: int) -> None:
        self.src = src
        self.cpu = cpu
        self.blocks: list[tuple[int, int, int]] = []
        self.pos = -1


@dataclass(slots=True)
class SourceStats:
    """Per-source counters of a run."""

    requests: int = 0
    allocs: int = 0
    pages: int = 0
    failures: int = 0
    fallbacks: int = 0
    frees: int = 0
    touches: int = 0
    refault_failures: int = 0
    stopped_at: float | None = None


@dataclass(slots=True)
class ScenarioResult:
    """What a run did: counters, failures, samples, and the machine it ran on."""

    scenario: Scenario
    profile: str
    seed: int
    scale: float
    events: int = 0
    allocs: int = 0
    frees: int = 0
    alloc_failures: int = 0
    pages_allocated: int = 0
    failures_by_order: dict[int, int] = field(default_factory=dict)
    failures_by_kind: dict[str, int] = field(default_factory=dict)
    sources: dict[str, SourceStats] = field(default_factory=dict)
    vm: dict[str, int] = field(default_factory=lambda: {
        "started": 0, "start_failed": 0, "stopped": 0, "pages_peak": 0})
    pressure: dict[str, int] = field(default_factory=lambda: {
        "bursts": 0, "pages": 0, "stopped_by_failure": 0})
    samples: list[dict[str, Any]] = field(default_factory=list)
    checks: int = 0
    every: int = 0
    ticks: int = 0
    model_seconds: float = 0.0
    unmapped_as_ordinary: bool = False
    truncated: bool = False


class ScenarioRunner:
    """Drive a machine through a scenario (see the module docstring for the time model).

    ``check_every``: run :meth:`Machine.check` every that many events (and at the end);
    ``every``: sample the /proc views every that many events; ``progress(fraction)`` is
    called about every 1 % of the ticks; ``max_events`` and ``max_ticks`` stop the run
    early (for tests and fuzzing; the result says ``truncated``)."""

    def __init__(self, scenario: Scenario, machine: Machine, *, seed: int | None = None,
                 scale: float = 1.0, check_every: int = 0, every: int = 0,
                 progress: Callable[[float], None] | None = None,
                 max_events: int | None = None, max_ticks: int | None = None) -> None:
        self.scn = scenario
        self.m = machine
        self.seed = scenario.seed if seed is None else seed
        self.check_every = check_every
        self.every = every
        self.progress = progress
        self.max_events = max_events
        self.max_ticks = max_ticks
        self.mode = machine.profile.unmapped          # "", v2, v4, zap, cache
        self.res = ScenarioResult(scenario, machine.profile.name, self.seed, scale,
                                  unmapped_as_ordinary=not self.mode, every=every)
        self.ncpus = machine.ncpus
        self.ram_pages = sum(z.managed_pages for z in machine.zones)
        for s in scenario.sources:
            if s.cpus is not None and max(s.cpus) >= self.ncpus:
                raise scenario.error(f"sources[{s.index}].cpus",
                                     f"CPU {max(s.cpus)} is not in 0..{self.ncpus - 1} on this machine")
            self.res.sources[s.name] = SourceStats()
        self.rng = random.Random(f"{self.seed}/scenario")
        self.src_rng = [random.Random(f"{self.seed}/source/{s.name}") for s in scenario.sources]
        self.rr = [0] * len(scenario.sources)
        self.gfp = [self._source_gfp(s) for s in scenario.sources]
        self.order_cum = [_cumulative(s.orders) for s in scenario.sources]
        # unmapped users: one owner class per unmapped source, then one per VM
        self.owner_of: list[int | None] = []
        k = 0
        for s in scenario.sources:
            if s.kind in ("guest_memfd", "secretmem", "asi-sensitive") or (
                    self.gfp[s.index] & _UNMAPPED_BIT):
                self.owner_of.append(2 + k % 254)
                k += 1
            else:
                self.owner_of.append(None)
        self.next_user = k
        self.items: dict[int, _Item] = {}
        self.live: list[list[int]] = [[] for _ in scenario.sources]
        self.next_id = 0
        self.ev_heap: list[tuple[int, int]] = []
        self.ns_heap: list[tuple[int, int]] = []
        self.vms: dict[str, _Item] = {}
        self.vm_pages = 0
        self.stopped = [False] * len(scenario.sources)
        self.n_events = 0
        self.next_check = check_every or 0
        self.next_sample = every or 0
        self.done = False

    # ---------------------------------------------------------------- requests
    def _source_gfp(self, s: Source) -> int:
        k = KINDS[s.kind]
        gfp = k.gfp
        if s.gfp is not None:
            text = "|".join(p for p in s.gfp.split("|") if p.strip() != "__GFP_UNMAPPED")
            unm = len(text) != len(s.gfp)
            try:
                gfp = self.m.parse_gfp(text) if text.strip() else 0
            except G.GfpParseError as e:
                raise self.scn.error(f"sources[{s.index}].gfp",
                                     f"{e} (profile {self.m.profile.name})") from None
            if unm:
                gfp |= _UNMAPPED_BIT
        elif s.kind == "thp" and s.madvise:
            gfp = G.GFP_TRANSHUGE
        return gfp

    def _tick_event(self) -> bool:
        """Count one allocator request; run checks and samples; False once ``max_events``
        is reached."""
        self.n_events += 1
        n = self.n_events
        if self.check_every and n >= self.next_check:
            self.next_check += self.check_every
            self.m.check()
            self.res.checks += 1
        if self.every and n >= self.next_sample:
            self.next_sample += self.every
            self.sample()
        if self.max_events is not None and n >= self.max_events:
            self.done = True
        return not self.done

    def _alloc_pinned(self, gfp: int, order: int, cpu: int, owner: int | None, unmapped: bool,
                      context: str) -> int | None:
        m = self.m
        if unmapped:
            if self.mode == "v4":
                return m.alloc_pages(gfp & ~(_UNMAPPED_BIT | _ZERO_BIT), order, cpu,
                                     unmapped=True, owner=owner, context=context)
            if self.mode:
                return m.alloc_pages(gfp | _UNMAPPED_BIT, order, cpu, owner=owner, context=context)
        return m.alloc_pages(gfp & ~_UNMAPPED_BIT, order, cpu, owner=owner, context=context)

    def _alloc_block(self, s: Source, order: int, cpu: int, movable: bool, owner: int | None,
                     item: _Item, dirty: bool) -> bool:
        """One allocation request of source ``s`` (then its fallback); True on success.

        A THP fault that fails (or finds THP disabled) falls back to order-0 anon pages
        covering the same range, as ``do_huge_pmd_anonymous_page()`` returning
        ``VM_FAULT_FALLBACK`` leads to ``do_anonymous_page()`` for each 4K page; other
        sources with ``fallback_order`` retry at that order (``allocate_slab()``'s
        ``s->min``, a guest_memfd without huge folios)."""
        kind = KINDS[s.kind]
        st = self.res.sources[s.name]
        if movable == kind.movable:
            use, gfp = kind, self.gfp[s.index]
        else:
            use = MOVABLE_VARIANT if movable else UNMOVABLE_VARIANT
            gfp = use.gfp | (self.gfp[s.index] & _COMP_BIT)
        unmapped = kind.unmapped or bool(gfp & _UNMAPPED_BIT)
        thp_fault = s.kind == "thp" and use is kind and order > 0
        st.requests += 1
        if thp_fault and not self.m.config.thp:
            pass                              # THP disabled: straight to the order-0 path
        else:
            ok = self._request(s, use, gfp, order, cpu, owner, unmapped, item, dirty)
            more = self._tick_event()
            if thp_fault and order == PMD_ORDER:
                # mTHP sizes are counted per size in sysfs, not in /proc/vmstat
                _count_vm_event(self.m, "thp_fault_alloc" if ok else "thp_fault_fallback")
            if ok:
                return True
            self._failed(s.kind, order, st)
            if not more:
                return False
        fb = s.fallback_order
        if fb is None or fb >= order:
            return False
        st.fallbacks += 1
        if thp_fault:
            use, gfp = MOVABLE_VARIANT, MOVABLE_VARIANT.gfp
        for _ in range(1 << (order - fb)):
            ok = self._request(s, use, gfp, fb, cpu, owner, unmapped, item, dirty)
            more = self._tick_event()
            if not ok:
                self._failed(s.kind, fb, st)
                return False
            if not more:
                break
        return True

    def _request(self, s: Source, use: Kind, gfp: int, order: int, cpu: int, owner: int | None,
                 unmapped: bool, item: _Item, dirty: bool) -> bool:
        m = self.m
        st = self.res.sources[s.name]
        if s.split and order > 0:
            return self._split_request(s, use, gfp, order, cpu, item)
        if use.owner is not None:
            h = m.alloc_owned(use.owner, order, cpu, gfp, dirty=dirty and use.owner == "file")
            if h is None:
                return False
            item.blocks.append((OWNED, h, order))
        else:
            pfn = self._alloc_pinned(gfp, order, cpu, owner, unmapped, s.context)
            if pfn is None:
                return False
            item.blocks.append((PINNED, pfn, order))
        st.allocs += 1
        st.pages += 1 << order
        self.res.allocs += 1
        self.res.pages_allocated += 1 << order
        return True

    def _split_request(self, s: Source, use: Kind, gfp: int, order: int, cpu: int,
                       item: _Item) -> bool:
        """A fragmenter's request: allocate an order-``order`` block, ``split_page()`` it and
        free all but the first ``keep`` pages (``split_huge_page()`` then ``MADV_DONTNEED``
        for a THP; ``split_page()`` and ``__free_page()`` in a kernel module).  Kept pages
        of a movable block become owned anon pages on the LRU, as a split THP's subpages
        stay on it; ``__GFP_COMP`` is dropped so that the block can be split."""
        m = self.m
        st = self.res.sources[s.name]
        g = gfp & ~_COMP_BIT
        movable = use.movable
        pfn = m.alloc_pages(g, order, cpu, movable=movable)
        if pfn is None:
            return False
        st.allocs += 1
        st.pages += 1 << order
        self.res.allocs += 1
        self.res.pages_allocated += 1 << order
        m.split_page(pfn, order)
        if s.kind == "thp" and order == PMD_ORDER:
            _count_vm_event(m, "thp_split_page")
        keep = min(s.keep, 1 << order)
        for p in range(pfn, pfn + keep):
            if movable:
                item.blocks.append((OWNED, _adopt_anon_page(m, p), 0))
            else:
                item.blocks.append((PINNED, p, 0))
        for p in range(pfn + keep, pfn + (1 << order)):
            m.free_pages(p, 0, cpu)
            st.frees += 1
            self.res.frees += 1
            if not self._tick_event():
                # stopping early: the rest of the block stays allocated with the item
                for q in range(p + 1, pfn + (1 << order)):
                    item.blocks.append((PINNED, q, 0))
                break
        return True

    def _failed(self, kind: str, order: int, st: SourceStats) -> None:
        st.failures += 1
        self.res.alloc_failures += 1
        self.res.failures_by_order[order] = self.res.failures_by_order.get(order, 0) + 1
        self.res.failures_by_kind[kind] = self.res.failures_by_kind.get(kind, 0) + 1

    def _free_item(self, item: _Item) -> None:
        m = self.m
        s = self.scn.sources[item.src] if item.src >= 0 else None
        cpu = item.cpu
        if s is not None and s.free_cpu == "random":
            cpu = self.src_rng[item.src].randrange(self.ncpus)
        for typ, ref, order in item.blocks:
            if self.done:
                return
            if typ == OWNED:
                m.free_owned(ref, cpu)
            else:
                m.free_pages(ref, order, cpu)
            self.res.frees += 1
            if s is not None:
                self.res.sources[s.name].frees += 1
            self._tick_event()
        item.blocks.clear()

    # ---------------------------------------------------------------- items
    def _pick_cpu(self, s: Source) -> int:
        cpus = s.cpus
        if s.placement == "round-robin":
            i = self.rr[s.index]
            self.rr[s.index] = i + 1
            return cpus[i % len(cpus)] if cpus else i % self.ncpus
        rng = self.src_rng[s.index]
        return cpus[rng.randrange(len(cpus))] if cpus else rng.randrange(self.ncpus)

    def _pick_order(self, s: Source) -> int:
        cum = self.order_cum[s.index]
        x = self.src_rng[s.index].random()
        for o, c in cum:
            if x < c:
                return o
        return cum[-1][0]

    def _arrive(self, s: Source) -> None:
        """One request of source ``s``: a batch of allocations with one lifetime."""
        if self.stopped[s.index]:
            return
        rng = self.src_rng[s.index]
        cpu = self._pick_cpu(s)
        item = _Item(s.index, cpu)
        kind = KINDS[s.kind]
        for _ in range(s.batch):
            order = self._pick_order(s)
            movable = kind.movable if s.movable is None else rng.random() < s.movable
            dirty = s.dirty > 0 and rng.random() < s.dirty
            ok = self._alloc_block(s, order, cpu, movable, self.owner_of[s.index], item, dirty)
            if not ok and s.stop_on_failure:
                self.stopped[s.index] = True
                self.res.sources[s.name].stopped_at = self.m.now_ns / 1e9
            if not ok or self.done:
                break
        if item.blocks:
            self._add_item(item, s)
        if s.touch > 0 and not self.done:
            n = int(s.touch) + (1 if rng.random() < s.touch - int(s.touch) else 0)
            self._touch(s, n)

    def _add_item(self, item: _Item, s: Source) -> None:
        iid = self.next_id
        self.next_id += 1
        self.items[iid] = item
        lv = self.live[s.index]
        item.pos = len(lv)
        lv.append(iid)
        lt = s.lifetime.sample(self.src_rng[s.index])
        if lt == math.inf:
            return
        if s.lifetime.unit == "events":
            heapq.heappush(self.ev_heap, (self.n_events + max(1, round(lt)), iid))
        else:
            heapq.heappush(self.ns_heap, (self.m.now_ns + max(1, int(lt * 1e9)), iid))

    def _release(self, iid: int) -> None:
        item = self.items.pop(iid, None)
        if item is None:
            return
        if item.src >= 0:
            lv = self.live[item.src]
            last = lv.pop()
            if last != iid:
                lv[item.pos] = last
                self.items[last].pos = item.pos
        self._free_item(item)

    def _touch(self, s: Source, n: int) -> None:
        lv = self.live[s.index]
        rng = self.src_rng[s.index]
        st = self.res.sources[s.name]
        for _ in range(n):
            if not lv:
                return
            item = self.items[lv[rng.randrange(len(lv))]]
            for typ, ref, _order in item.blocks:
                if typ == OWNED:
                    st.touches += 1
                    if not self.m.touch(ref, item.cpu):
                        st.refault_failures += 1

    def _expire_events(self) -> None:
        h = self.ev_heap
        while h and h[0][0] <= self.n_events and not self.done:
            self._release(heapq.heappop(h)[1])

    def _expire_time(self) -> None:
        h = self.ns_heap
        now = self.m.now_ns
        while h and h[0][0] <= now and not self.done:
            self._release(heapq.heappop(h)[1])

    # ---------------------------------------------------------------- events
    def _fire(self, ev: Event) -> None:
        m = self.m
        if ev.action == "drop_caches":
            m.drop_caches(ev.mode)
        elif ev.action == "compact_memory":
            m.compact_memory()
        elif ev.action == "pressure":
            self._pressure(ev)
        elif ev.action == "vm_start":
            self._vm_start(ev)
        elif ev.action == "vm_stop":
            item = self.vms.pop(ev.vm, None)
            if item is not None:
                self.vm_pages -= sum(1 << o for _, _, o in item.blocks)
                self._free_item(item)
                self.res.vm["stopped"] += 1

    def _pressure(self, ev: Event) -> None:
        """A burst that allocates ``percent`` of RAM as ``kind`` memory at ``order``, held for
        ``hold`` seconds; it stops at its first failed allocation."""
        m = self.m
        pages = int(self.ram_pages * ev.percent / 100)
        item = _Item(-1, 0)
        kind = KINDS[ev.kind]
        got = 0
        self.res.pressure["bursts"] += 1
        i = 0
        while got < pages and not self.done:
            cpu = i % self.ncpus
            i += 1
            if kind.owner is not None:
                h = m.alloc_owned(kind.owner, ev.order, cpu)
                ok = h is not None
                if h is not None:
                    item.blocks.append((OWNED, h, ev.order))
            else:
                pfn = m.alloc_pages(kind.gfp, ev.order, cpu)
                ok = pfn is not None
                if pfn is not None:
                    item.blocks.append((PINNED, pfn, ev.order))
            self._tick_event()
            if not ok:
                self.res.alloc_failures += 1
                self.res.failures_by_order[ev.order] = self.res.failures_by_order.get(ev.order, 0) + 1
                key = f"pressure-{ev.kind}"
                self.res.failures_by_kind[key] = self.res.failures_by_kind.get(key, 0) + 1
                self.res.pressure["stopped_by_failure"] += 1
                break
            got += 1 << ev.order
            self.res.allocs += 1
            self.res.pages_allocated += 1 << ev.order
        self.res.pressure["pages"] += got
        if item.blocks:
            iid = self.next_id
            self.next_id += 1
            self.items[iid] = item
            item.src = -1
            heapq.heappush(self.ns_heap, (m.now_ns + max(1, int(ev.hold * 1e9)), iid))

    def _vm_start(self, ev: Event) -> None:
        """A VM with ``memory`` bytes of guest_memfd memory: allocated at start as the
        source's orders (an order larger than what is left is lowered), with the
        source's fallback; if the memory cannot be had the start fails and what was
        allocated is freed (``KVM_CREATE_GUEST_MEMFD`` + prefault returning -ENOMEM)."""
        s = next(x for x in self.scn.sources if x.name == ev.source)
        owner = 2 + self.next_user % 254
        self.next_user += 1
        item = _Item(-1, 0)
        remaining = ev.memory >> PAGE_SHIFT
        ok = True
        while remaining > 0 and not self.done:
            order = min(self._pick_order(s), remaining.bit_length() - 1)
            cpu = self._pick_cpu(s)
            before = len(item.blocks)
            ok = self._alloc_block(s, order, cpu, False, owner, item, False)
            remaining -= sum(1 << o for _, _, o in item.blocks[before:])
            if not ok:
                break
        if not ok:
            self.res.vm["start_failed"] += 1
            self._free_item(item)
            return
        self.vms[ev.vm] = item
        self.res.vm["started"] += 1
        self.vm_pages += sum(1 << o for _, _, o in item.blocks)
        self.res.vm["pages_peak"] = max(self.res.vm["pages_peak"], self.vm_pages)

    # ---------------------------------------------------------------- the loop
    def run(self) -> ScenarioResult:
        """Run every phase; return the result (the machine is left as the run ends)."""
        scn = self.scn
        m = self.m
        events = list(scn.events)
        ev_i = 0
        rates = [s.rate if s.rate is not None else (s.share or 0.0) * scn.events_per_tick
                 for s in scn.sources]
        total_ticks = sum(max(1, round(p.duration / scn.tick)) for p in scn.phases)
        report_every = max(1, total_ticks // 100)
        t0 = m.now_ns
        ticks = 0
        for phase in scn.phases:
            nticks = max(1, round(phase.duration / scn.tick))
            selected = [phase.sources is None or s.name in phase.sources for s in scn.sources]
            own = dict(phase.rates)
            live0 = sum(len(self.live[i]) for i, sel in enumerate(selected) if sel)
            to_release = int(round(phase.release * live0))
            released = 0
            for i in range(nticks):
                if self.done:
                    break
                now_s = (m.now_ns - t0) / 1e9
                while ev_i < len(events) and events[ev_i].at <= now_s + 1e-9 and not self.done:
                    self._fire(events[ev_i])
                    ev_i += 1
                if phase.kind == "ramp":
                    mult = phase.start + (phase.rate - phase.start) * (i + 0.5) / nticks
                else:
                    mult = phase.rate
                if to_release:
                    due = to_release * (i + 1) // nticks - released
                    released += self._release_some(selected, due)
                arrivals: list[int] = []
                for s in scn.sources:
                    x = rates[s.index] * own.get(s.name, mult if selected[s.index] else 1.0)
                    if x <= 0 or self.stopped[s.index]:
                        continue
                    n = int(x)
                    if self.src_rng[s.index].random() < x - n:
                        n += 1
                    arrivals.extend([s.index] * n)
                self.rng.shuffle(arrivals)
                for si in arrivals:
                    if self.done:
                        break
                    self._expire_events()
                    self._arrive(scn.sources[si])
                if self.done:
                    break
                m.tick(scn.tick)
                self._expire_time()
                ticks += 1
                if self.max_ticks is not None and ticks >= self.max_ticks:
                    self.done = True
                if self.progress is not None and ticks % report_every == 0:
                    self.progress(ticks / total_ticks)
        while ev_i < len(events) and not self.done:      # events at the very end
            self._fire(events[ev_i])
            ev_i += 1
        self.res.ticks = ticks
        self.res.model_seconds = (m.now_ns - t0) / 1e9
        self.res.events = self.n_events
        self.res.truncated = self.done
        if self.check_every:
            m.check()
            self.res.checks += 1
        if self.every:
            self.sample()
        return self.res

    def _release_some(self, selected: list[bool], n: int) -> int:
        """Free ``n`` random live allocations of the selected sources (a drain)."""
        done = 0
        pools = [i for i, sel in enumerate(selected) if sel]
        while done < n and not self.done:
            sizes = [len(self.live[i]) for i in pools]
            total = sum(sizes)
            if not total:
                break
            x = self.rng.randrange(total)
            for i, sz in zip(pools, sizes):
                if x < sz:
                    self._release(self.live[i][x])
                    break
                x -= sz
            done += 1
        return done

    # ---------------------------------------------------------------- samples
    def sample(self) -> None:
        """Record the /proc views now: buddyinfo, a vmstat subset, DirectMap, flips."""
        m = self.m
        vm = m.vmstat()
        met = m.metrics()
        self.res.samples.append({
            "event": self.n_events,
            "time": round(m.now_ns / 1e9, 6),
            "buddyinfo": parse_buddyinfo(m.proc("buddyinfo")),
            "vmstat": {k: vm.get(k, 0) for k in SAMPLE_VMSTAT},
            "directmap": parse_directmap(m.meminfo_directmap()),
            "metrics": {k: met[k] for k in SAMPLE_METRICS},
        })


#: the /proc/vmstat items of a ``--every`` sample
SAMPLE_VMSTAT = ("nr_free_pages", "nr_free_pages_blocks", "nr_free_pages_blocks_unmapped",
                 "nr_inactive_anon", "nr_active_anon",
                 "nr_inactive_file", "nr_active_file", "nr_slab_reclaimable", "nr_dirty",
                 "nr_swap_used")
#: the :meth:`Machine.metrics` items of a ``--every`` sample
SAMPLE_METRICS = ("flips_to_unmapped", "flips_to_mapped", "pgscan_kswapd", "pgscan_direct",
                  "compact_stall", "compact_success", "pgmigrate_success", "alloc_failures")
#: the counters of the summary's ``key counters`` line
KEY_COUNTERS = ("flips_to_unmapped", "flips_to_mapped", "tlb_flush_full", "directmap_splits_2m",
                "security_exposures", "spurious_unmapped_failures", "pgscan_kswapd",
                "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "pswpout",
                "allocstall_normal", "compact_stall", "compact_success", "compact_fail",
                "compact_daemon_wake", "pgmigrate_success", "oom_reports")


def _cumulative(orders: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    total = sum(w for _, w in orders)
    acc = 0.0
    out = []
    for o, w in orders:
        if w <= 0:
            continue
        acc += w / total
        out.append((o, acc))
    out[-1] = (out[-1][0], 1.0)
    return out


def _count_vm_event(m: Machine, name: str, n: int = 1) -> None:
    """``count_vm_event()`` for the fault-path events this layer models (THP faults and
    splits); they appear in /proc/vmstat as the kernel counts them."""
    ev = m.alloc.vm_events
    ev[name] = ev.get(name, 0) + n


def _adopt_anon_page(m: Machine, pfn: int) -> int:
    """Give the order-0 page ``pfn`` (just split from a movable block) an anon owner on
    the LRU, as ``__split_huge_page()`` leaves each subpage of a THP on the LRU."""
    from pagealloc.mm.mmzone import PAGEBLOCK_ORDER
    from pagealloc.mm.owners import OWN_ANON
    return m.owners.new(pfn, 0, OWN_ANON, m.mem.pb_zone[pfn >> PAGEBLOCK_ORDER])


def parse_buddyinfo(text: str) -> dict[str, list[int]]:
    """``/proc/buddyinfo`` as ``{zone: [free blocks of order 0..10]}``."""
    out: dict[str, list[int]] = {}
    for ln in text.splitlines():
        parts = ln.replace(",", " ").split()
        if len(parts) > 4 and parts[0] == "Node":
            out[parts[3]] = [int(x) for x in parts[4:]]
    return out


def parse_directmap(text: str) -> dict[str, int]:
    """The ``DirectMap*`` lines of /proc/meminfo as ``{name: kB}``."""
    out: dict[str, int] = {}
    for ln in text.splitlines():
        name, _, rest = ln.partition(":")
        if rest.strip():
            out[name.strip()] = int(rest.split()[0])
    return out


def parse_vmstat(text: str) -> dict[str, int]:
    """``/proc/vmstat`` text as an ordered ``{name: value}``."""
    out: dict[str, int] = {}
    for ln in text.splitlines():
        name, _, value = ln.partition(" ")
        if value:
            out[name] = int(value)
    return out


# ------------------------------------------------------------------------------ machine + output


def build_machine(scn: Scenario, profile: Any = None, overrides: Mapping[str, Any] | None = None,
                  snapshot: str | None = None) -> Machine:
    """The scenario's machine with the CLI's overrides (``--memory``, ``--cpus``, ``--set``
    fields) and the profile (``--profile`` or the scenario's ``profile``, default
    linux-7.2), or the machine of a snapshot directory; it tracks page contents
    (:meth:`Machine.track_contents`) so that zeroing is counted on every profile."""
    prof = profile if profile is not None else (scn.profile or "linux-7.2")
    if snapshot:
        from pagealloc.workload.state import machine_from_snapshot
        m = machine_from_snapshot(snapshot, prof)
    else:
        m = Machine(machine_config(scn.machine, **dict(overrides or {})), prof)
    m.track_contents()          # pages_zeroed and security counters on every profile
    return m


def run_scenario(scn: Scenario, machine: Machine, **kwargs: Any) -> ScenarioResult:
    """Run ``scn`` on ``machine`` (keyword arguments of :class:`ScenarioRunner`)."""
    return ScenarioRunner(scn, machine, **kwargs).run()


def result_json(res: ScenarioResult, machine: Machine) -> dict[str, Any]:
    """The machine-readable summary: run counters, every /proc/vmstat counter by its
    kernel name (``vmstat``), :meth:`Machine.metrics` (``metrics``), the DirectMap lines,
    buddyinfo and the ``--every`` samples.  No wall-clock time: the same inputs give
    byte-identical JSON."""
    m = machine
    vmstat = parse_vmstat(m.proc("vmstat"))
    for k, v in m.vmstat().items():
        vmstat.setdefault(k, v)
    scn = res.scenario
    out: dict[str, Any] = {
        "scenario": scn.name, "source_file": scn.path, "profile": res.profile,
        "seed": res.seed, "scale": res.scale,
        "machine": {"memory": m.config.memory, "cpus": m.ncpus, "swap": m.config.swap},
        "model_seconds": round(res.model_seconds, 6), "ticks": res.ticks,
        "events": res.events, "allocs": res.allocs, "frees": res.frees,
        "alloc_failures": res.alloc_failures, "pages_allocated": res.pages_allocated,
        "failures_by_order": {str(k): v for k, v in sorted(res.failures_by_order.items())},
        "failures_by_kind": dict(sorted(res.failures_by_kind.items())),
        "sources": {name: dataclasses.asdict(st) for name, st in res.sources.items()},
        "vms": dict(res.vm), "pressure": dict(res.pressure),
        "unmapped_as_ordinary": res.unmapped_as_ordinary and _has_unmapped(scn),
        "truncated": res.truncated, "checks": res.checks,
        "metrics": m.metrics(), "vmstat": vmstat,
        "model_stats": dict(m.alloc.stats),
        "directmap": parse_directmap(m.meminfo_directmap()),
        "buddyinfo": parse_buddyinfo(m.proc("buddyinfo")),
        "samples": res.samples,
    }
    if m.contents is not None:
        out["contents"] = dict(m.contents.stats)
    if m.profile.unmapped:
        out["tlb"] = dict(m.tlb.stats)
    if m.unmapped_cache is not None:
        out["unmapped_cache"] = dict(m.unmapped_cache.stats)
    return out


def _has_unmapped(scn: Scenario) -> bool:
    return any(KINDS[s.kind].unmapped or (s.gfp is not None and "__GFP_UNMAPPED" in s.gfp)
               for s in scn.sources)


def summary_line(res: ScenarioResult, machine: Machine) -> str:
    """One line: flips, failures, reclaim and compaction counters (for reports)."""
    met = machine.metrics()
    return (f"{res.scenario.name} {res.profile}: events {res.events} failures {res.alloc_failures} "
            f"flips {met['flips_to_unmapped']}/{met['flips_to_mapped']} "
            f"pgscan {met['pgscan_kswapd']}+{met['pgscan_direct']} "
            f"compact_stall {met['compact_stall']} compact_success {met['compact_success']} "
            f"pgmigrate {met['pgmigrate_success']} oom {met['oom_reports']}")


def render_summary(res: ScenarioResult, machine: Machine) -> str:
    """The text summary ``pagealloc run SCENARIO`` prints."""
    m = machine
    scn = res.scenario
    met = m.metrics()
    mem = m.config.memory
    lines = [
        f"scenario {scn.name}  profile {res.profile}  seed {res.seed}  scale {res.scale:g}",
        f"machine {_human(mem)}  cpus {m.ncpus}  swap {_human(m.config.swap)}  "
        f"model time {res.model_seconds:.2f} s  ticks {res.ticks}",
        f"events {res.events}  allocs {res.allocs}  frees {res.frees}  "
        f"failures {res.alloc_failures}  pages allocated {res.pages_allocated}"
        + ("  (stopped early)" if res.truncated else ""),
        "failures by order: " + (" ".join(f"{o}={n}" for o, n in sorted(res.failures_by_order.items()))
                                 or "none"),
        "failures by kind: " + (" ".join(f"{k}={n}" for k, n in sorted(res.failures_by_kind.items()))
                                or "none"),
        f"{'source':<16} {'kind':<13} {'requests':>9} {'allocs':>9} {'pages':>10} "
        f"{'failures':>8} {'fallbacks':>9} {'frees':>9}",
    ]
    for s in scn.sources:
        st = res.sources[s.name]
        lines.append(f"{s.name:<16} {s.kind:<13} {st.requests:>9} {st.allocs:>9} {st.pages:>10} "
                     f"{st.failures:>8} {st.fallbacks:>9} {st.frees:>9}"
                     + (f"  stopped at {st.stopped_at:.2f} s" if st.stopped_at is not None else ""))
    if any(e.action in ("vm_start", "vm_stop") for e in scn.events):
        v = res.vm
        lines.append(f"vms started {v['started']}  start failed {v['start_failed']}  "
                     f"stopped {v['stopped']}  peak guest memory {_human(v['pages_peak'] << PAGE_SHIFT)}")
    if res.pressure["bursts"]:
        p = res.pressure
        lines.append(f"pressure bursts {p['bursts']}  pages {p['pages']}  "
                     f"stopped by failure {p['stopped_by_failure']}")
    ev = m.vmstat()
    thp = [f"{k}={ev[k]}" for k in ("thp_fault_alloc", "thp_fault_fallback", "thp_split_page") if k in ev]
    if thp:
        lines.append("thp " + " ".join(thp))
    lines.append("key counters " + " ".join(f"{k}={met[k]}" for k in KEY_COUNTERS))
    if m.contents is not None and any(m.contents.stats.values()):
        lines.append("security " + " ".join(f"{k}={v}" for k, v in m.contents.stats.items() if v))
    if res.unmapped_as_ordinary and _has_unmapped(scn):
        users = ", ".join(s.name for s in scn.sources
                          if KINDS[s.kind].unmapped or (s.gfp and "__GFP_UNMAPPED" in s.gfp))
        lines.append(f"note: profile {res.profile} has no unmapped allocations: the unmapped "
                     f"sources ({users}) ran as ordinary allocations")
    if res.checks:
        lines.append(f"invariants checked {res.checks} times: all held")
    if res.samples:
        lines.append(f"samples (every {res.every} events, and at the end):")
        lines.append(f"  {'event':>9} {'time':>8} {'free':>9} {'free>=9':>7} {'flips u/m':>11} "
                     f"{'pgscan':>8} {'cstall':>6} {'DirectMap4k':>12} {'2M':>10} {'1G':>10}")
        for smp in res.samples:
            bi = smp["buddyinfo"]
            big = sum(c for counts in bi.values() for c in counts[9:])
            dm = smp["directmap"]
            mt = smp["metrics"]
            lines.append(
                f"  {smp['event']:>9} {smp['time']:>8.2f} {smp['vmstat']['nr_free_pages']:>9} {big:>7} "
                f"{mt['flips_to_unmapped']:>5}/{mt['flips_to_mapped']:<5} "
                f"{mt['pgscan_kswapd'] + mt['pgscan_direct']:>8} {mt['compact_stall']:>6} "
                f"{dm.get('DirectMap4k', 0):>12} {dm.get('DirectMap2M', 0):>10} {dm.get('DirectMap1G', 0):>10}")
    lines.append("metrics " + " ".join(f"{k}={v}" for k, v in met.items()))
    text = "\n".join(lines) + "\n"
    text += m.meminfo_directmap()
    text += m.proc("buddyinfo")
    return text


def _human(n: int) -> str:
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f}M"
    return f"{n}B" if n else "0"


def iter_builtins() -> Iterator[tuple[str, str]]:
    """``(name, first sentence of its docstring)`` of every built-in scenario."""
    from pagealloc.workload.scenario_builtins import BUILTINS
    for name, fn in BUILTINS.items():
        para = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        first = re.split(r"(?<=\.)\s", para.replace("``", ""), maxsplit=1)[0]
        yield name, first
