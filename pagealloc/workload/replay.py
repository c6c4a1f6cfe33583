"""Replay a real kernel trace through the model: follow, decide and what-if (drive) modes.

A *capture* is a directory as ``pagealloc capture`` writes it and as ``../shared/traces`` holds
them: ``trace.txt[.xz]`` plus ``snap_*/`` snapshot directories (an exact ``gt_buddydump``, else
``/proc/kpageflags`` or the ``/proc`` files) and ``summary.json`` naming which marker line each
snapshot belongs to (``gt_show: GT_BUDDYDUMP id=N`` in the shared traces,
``tracing_mark_write: GT_KPAGEFLAGS id=N BEGIN`` in a ``pagealloc capture``).  The trace is read once; it is cut into *intervals* at the
dump markers (:func:`load_intervals`).

Modes (``pagealloc replay CAPTURE --mode ...``):

``follow``
    applies the kernel's own PFNs at page level (the traces README section 9.9 "page level":
    each ``mm_page_alloc`` takes 2^order pages, each ``mm_page_free`` gives them back), starting
    from every dump's exact free set (buddy and pcp pages), and reports every inconsistency: an
    allocation of a page that is not free (and which line took it), a free of a page that is
    free.  The kernel paths without events of README section 9 are modelled and reported
    apart as *explained*: ``alloc_pages_bulk()`` taking pcp pages silently (9.1: a free of a
    page the replay holds free on a pcp list), duplicate ``mm_page_free_batched`` lines (9.6),
    isolated free pages that compaction gives back (9.4: a free of a free page inside a range
    ``mm_compaction_isolate_freepages`` scanned in the interval), migration targets that were
    isolated without an event and are later freed by their owner (9.4: a free of a free
    page, up to the pages ``mm_migrate_pages`` reported migrated so far), and at the next dump the
    migration targets compaction used without ``mm_page_alloc`` (9.4: up to the interval's
    sum of ``nr_taken``).  Only the rest counts as ``unexplained``.  At each next dump the
    replay's free set is compared with the dump's.
``decide``
    lets the model choose every allocation from the same state, on the CPU of the event, and
    compares its PFN with the kernel's, by order/migratetype and by path (pcp hit, pcp
    refill, buddy), then repairs the state to the kernel's choice and goes on
    (:func:`decide`, the engine of :class:`pagealloc.workload.decide.DecideReplay`;
    compaction's event-less free-page isolation is replayed by the model's
    ``isolate_freepages_block()`` over the traced ranges); at each next dump the model's
    allocator state (free blocks, pageblock types, pagetypeinfo cells, pcp pages) is
    compared with the dump.
``drive``
    what-if: the model makes every decision itself and the kernel's PFNs are only handles
    (an allocation maps the kernel's PFN to the model's block; a free frees the model's
    block, page by page when the kernel frees a block as pages); ``--what-if`` rules rewrite
    the requests first (:func:`parse_what_if`), e.g. ``gfp=GFP_HIGHUSER_MOVABLE:unmapped``
    replays a real workload's user memory as ``__GFP_UNMAPPED`` under the series.
"""

from __future__ import annotations

import collections
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from pagealloc.mm import gfp as G
from pagealloc.mm.gfp import GfpParseError, GfpTable
from pagealloc.mm.mmzone import KIND_COMPOUND, NIL, ORDER_MASK, PS_ALLOC, PS_MASK
from pagealloc.workload.capture import KSWAPD_EVENTS
from pagealloc.workload.errors import InputFormatError
from pagealloc.workload.ftrace import KMEM_EVENTS, TraceEvent, read_trace

KEEP = frozenset(KMEM_EVENTS) | {"gt_show", "mm_compaction_isolate_freepages", "mm_migrate_pages"}
#: kswapd's lines around its vmstat threshold switches, kept apart in :attr:`Interval.kswapd`
KSWAPD_LINES = frozenset(KSWAPD_EVENTS)
_MIGRATED = re.compile(r"nr_succeeded=(\d+)")
_RANGE = re.compile(r"range=\(0x([0-9a-f]+) ~ 0x([0-9a-f]+)\).*nr_taken=(\d+)")
MAX_REPORTED = 20


class ReplayError(InputFormatError):
    """A capture cannot be replayed (missing file, bad marker, bad what-if rule)."""


@dataclass(slots=True)
class Interval:
    """The events between dump ``dump_id`` and the next dump (``next_id``; None: the end)."""

    dump_id: int
    next_id: int | None
    events: list[TraceEvent]
    #: allocations made before the dump and still outstanding at it: pfn -> (order, gfp)
    outstanding: dict[int, tuple[int, int]]
    #: kswapd's ``mm_vmscan_kswapd_wake`` (True) / ``_sleep`` (False) lines in the interval,
    #: as (line, woke), in line order (decide's vmstat threshold switches)
    kswapd: list[tuple[int, bool]] = field(default_factory=list)
    #: the last kswapd line before the dump was a wake: kswapd was awake at the dump
    kswapd_awake: bool = False


def trace_path(capture: Path) -> Path:
    for name in ("trace.txt.xz", "trace.txt", "trace.txt.gz", "trace.txt.zst", "trace.dat.txt"):
        p = capture / name
        if p.exists():
            return p
    raise ReplayError(str(capture), 0, "trace", "no trace.txt[.xz|.gz|.zst] in the capture")


def check_event_cpus(capture: Path, events: Iterable[TraceEvent], ncpus: int) -> None:
    """Raise :class:`ReplayError` naming the trace file and line of the first event that
    ran on a CPU the machine does not have: decide and drive run every event on its CPU
    (``[cpu]`` field), and the dump's pagesets give the machine's CPUs."""
    for ev in events:
        if ev.cpu >= ncpus:
            raise ReplayError(str(trace_path(capture)), ev.lineno, "cpu",
                              f"{ev.name} on CPU {ev.cpu}, but the dump has pagesets for "
                              f"{ncpus} CPU{'s' if ncpus != 1 else ''} (0..{ncpus - 1})")


def dump_snapshots(capture: Path) -> dict[int, str]:
    """Dump id -> snapshot directory name (summary.json, else snap_before/snap_after)."""
    summary_path = capture / "summary.json"
    dumps: list[dict[str, Any]] | None = None
    if summary_path.exists():
        try:
            dumps = json.loads(summary_path.read_text()).get("dumps")
        except json.JSONDecodeError as e:
            raise ReplayError(str(summary_path), e.lineno, "summary", e.msg) from None
    if not dumps:
        dumps = [{"id": 1, "snapshot": "snap_before"}, {"id": 2, "snapshot": "snap_after"}]
    return {int(d["id"]): str(d["snapshot"]) for d in dumps}


def load_intervals(capture: Path, table: GfpTable, lenient: bool = False) -> list[Interval]:
    """Read the capture's trace once and cut it at the dump markers."""
    out: list[Interval] = []
    outstanding: dict[int, tuple[int, int]] = {}
    cur: Interval | None = None
    kswapd_awake = False
    for ev in read_trace(trace_path(capture), table, lenient=lenient):
        name = ev.name
        if name == "tracing_mark_write" and ev.text.startswith("GT_KPAGEFLAGS id=") \
                and ev.text.rstrip().endswith("BEGIN"):
            name = "gt_show"          # a ``pagealloc capture`` snapshot point
        elif name in KSWAPD_LINES:
            kswapd_awake = name == "mm_vmscan_kswapd_wake"
            if cur is not None:
                cur.kswapd.append((ev.lineno, kswapd_awake))
            continue
        elif name not in KEEP:
            continue
        if name == "gt_show":
            try:
                n = int(ev.text.split("id=")[1].split()[0])
            except (IndexError, ValueError):
                raise ReplayError(str(capture), ev.lineno, "gt_show", f"bad marker {ev.text!r}") from None
            if cur is not None:
                cur.next_id = n
                out.append(cur)
            cur = Interval(n, None, [], dict(outstanding), [], kswapd_awake)
            continue
        f = ev.fields
        if name == "mm_page_alloc":
            if f["pfn"] >= 0:
                outstanding[f["pfn"]] = (f["order"], f["gfp_flags"])
        elif name == "mm_page_free":
            outstanding.pop(f["pfn"], None)
        if cur is not None:
            cur.events.append(ev)
    if cur is not None:
        out.append(cur)
    return out


# ---------------------------------------------------------------------- follow mode
@dataclass
class FollowResult:
    """Page-level follow of one interval."""

    dump_id: int
    next_id: int | None
    allocs: int = 0
    frees: int = 0
    explained: collections.Counter[str] = field(default_factory=collections.Counter)
    unexplained: collections.Counter[str] = field(default_factory=collections.Counter)
    first_unexplained: list[str] = field(default_factory=list)
    dump_free_not_replay: int | None = None
    replay_free_not_dump: int | None = None
    dump_diff_explained: int = 0

    @property
    def inconsistencies(self) -> int:
        return sum(self.unexplained.values())

    def as_dict(self) -> dict[str, Any]:
        return {"dump": self.dump_id, "next_dump": self.next_id, "allocs": self.allocs,
                "frees": self.frees, "explained": dict(self.explained),
                "unexplained": dict(self.unexplained),
                "first_unexplained": self.first_unexplained,
                "at_next_dump": None if self.replay_free_not_dump is None else {
                    "replay_free_not_dump": self.replay_free_not_dump,
                    "dump_free_not_replay": self.dump_free_not_replay,
                    "explained_by_compaction": self.dump_diff_explained}}


def free_pages_of(m: Any) -> tuple[bytearray, bytearray]:
    """(free, on_pcp) page bitmaps of a machine loaded from a dump: buddy and pcp pages."""
    n = m.mem.max_pfn
    free = bytearray(n)
    pcp = bytearray(n)
    for z in m.zones:
        if not z.present_pages:
            continue
        for order, _idx, pfn in m.free_blocks(z):
            free[pfn:pfn + (1 << order)] = b"\x01" * (1 << order)
        for cpu in range(m.ncpus):
            for _pindex, pfn in m.pcp_blocks(z, cpu):
                order = m.mem.pstate[pfn] & ORDER_MASK
                free[pfn:pfn + (1 << order)] = b"\x01" * (1 << order)
                pcp[pfn:pfn + (1 << order)] = b"\x01" * (1 << order)
    return free, pcp


def follow_interval(iv: Interval, free: bytearray, on_pcp: bytearray,
                    pcp_orders: tuple[int, ...] = (0, 1, 2, 3, 9)) -> FollowResult:
    """Apply the kernel's PFNs of one interval at page level (see the module docstring)."""
    r = FollowResult(iv.dump_id, iv.next_id)
    taken_by: dict[int, tuple[int, int]] = {}
    ranges: list[tuple[int, int]] = []
    nr_taken = 0
    migrated = 0          # pages migrated so far in the interval (mm_migrate_pages)
    n = len(free)

    def note(kind: str, ev: TraceEvent, msg: str) -> None:
        r.unexplained[kind] += 1
        if len(r.first_unexplained) < MAX_REPORTED:
            r.first_unexplained.append(f"line {ev.lineno}: {msg}")

    for ev in iv.events:
        name = ev.name
        f = ev.fields
        if name == "mm_page_alloc":
            pfn = f["pfn"]
            if pfn < 0:
                continue
            order = f["order"]
            size = 1 << order
            r.allocs += 1
            if pfn + size > n:
                note("alloc_beyond_memory", ev, f"alloc of {pfn:#x} order {order} beyond memory")
                continue
            if free.find(b"\x00", pfn, pfn + size) >= 0:
                bad = free.find(b"\x00", pfn, pfn + size)
                where = None
                for o in range(11):                 # the block that took it, if traced
                    hit = taken_by.get(bad & ~((1 << o) - 1))
                    if hit is not None and hit[1] >= o:
                        where = hit[0]
                        break
                note("alloc_of_non_free", ev,
                     f"alloc of {pfn:#x} order {order}: page {bad:#x} is not free"
                     + (f" (taken at line {where})" if where else " (in use at the dump)"))
            free[pfn:pfn + size] = bytes(size)
            on_pcp[pfn:pfn + size] = bytes(size)
            taken_by[pfn] = (ev.lineno, order)
        elif name == "mm_page_free":
            pfn = f["pfn"]
            order = f["order"]
            size = 1 << order
            r.frees += 1
            if pfn + size > n:
                note("free_beyond_memory", ev, f"free of {pfn:#x} beyond memory")
                continue
            if free.find(b"\x01", pfn, pfn + size) >= 0:
                if on_pcp.find(b"\x01", pfn, pfn + size) >= 0:
                    r.explained["alloc_pages_bulk (README 9.1)"] += 1
                elif any(lo <= pfn < hi for lo, hi in ranges):
                    r.explained["compaction isolated page given back (README 9.4)"] += 1
                elif migrated >= size:
                    # a migration target taken without any event (6.1 fast_isolate_freepages()
                    # isolates with __isolate_free_page() untraced) and now freed by its owner
                    migrated -= size
                    r.explained["compaction migration target freed (README 9.4)"] += 1
                else:
                    note("free_of_free", ev, f"free of {pfn:#x} order {order}: already free")
            free[pfn:pfn + size] = b"\x01" * size
            on_pcp[pfn:pfn + size] = (b"\x01" * size) if order in pcp_orders else bytes(size)
        elif name == "mm_page_free_batched":
            r.explained["mm_page_free_batched duplicate (README 9.6)"] += 1
        elif name == "mm_page_alloc_zone_locked":
            if f["percpu_refill"]:
                pfn = f["pfn"]
                size = 1 << f["order"]
                on_pcp[pfn:pfn + size] = b"\x01" * size
        elif name == "mm_page_pcpu_drain":
            pfn = f["pfn"]
            size = 1 << f["order"]
            on_pcp[pfn:pfn + size] = bytes(size)
        elif name == "mm_migrate_pages":
            mm = _MIGRATED.search(ev.text)
            if mm:
                migrated += int(mm.group(1))
        elif name == "mm_compaction_isolate_freepages":
            mt = _RANGE.search(ev.text)
            if mt:
                lo, hi, taken = int(mt.group(1), 16), int(mt.group(2), 16), int(mt.group(3))
                ranges.append((lo, hi))
                nr_taken += taken
    r.explained["compaction_isolated_pages"] = nr_taken if nr_taken else 0
    if not nr_taken:
        del r.explained["compaction_isolated_pages"]
    return r


def follow(capture: Path, profile: str | None = None, intervals: list[Interval] | None = None,
           lenient: bool = False) -> list[FollowResult]:
    """Follow mode over every interval of a capture (each starts from its exact dump)."""
    from pagealloc.workload.state import machine_from_snapshot
    snaps = dump_snapshots(capture)
    first = machine_from_snapshot(capture / snaps[min(snaps)], profile)
    if intervals is None:
        intervals = load_intervals(capture, first.profile.gfp_table, lenient)
    results: list[FollowResult] = []
    state = {min(snaps): free_pages_of(first)}
    for iv in intervals:
        if iv.dump_id in state:
            free, on_pcp = state.pop(iv.dump_id)
        elif iv.dump_id in snaps:
            free, on_pcp = free_pages_of(machine_from_snapshot(capture / snaps[iv.dump_id], profile))
        else:
            continue
        r = follow_interval(iv, free, on_pcp)
        if iv.next_id is not None and iv.next_id in snaps:
            nfree, npcp = free_pages_of(machine_from_snapshot(capture / snaps[iv.next_id], profile))
            replay_only = _count_diff(free, nfree)
            dump_only = _count_diff(nfree, free)
            r.replay_free_not_dump = replay_only
            r.dump_free_not_replay = dump_only
            r.dump_diff_explained = min(replay_only, r.explained.get("compaction_isolated_pages", 0))
            state[iv.next_id] = (nfree, npcp)
        results.append(r)
    return results


def _count_diff(a: bytearray, b: bytearray) -> int:
    """Pages set in ``a`` and not in ``b``."""
    import numpy as np
    n = min(len(a), len(b))
    x = np.frombuffer(a, dtype=np.uint8)[:n]
    y = np.frombuffer(b, dtype=np.uint8)[:n]
    return int(np.count_nonzero(x & (1 - y)))


# ---------------------------------------------------------------------- decide mode
def decide(capture: Path, profile: str | None = None, intervals: list[Interval] | None = None,
           limit: int = 0, lenient: bool = False) -> list[dict[str, object]]:
    """Decide mode over every interval that starts at a dump and ends at the next one: one
    :class:`pagealloc.workload.decide.DecideReplay` result dict per interval."""
    from pagealloc.profiles import get_profile
    from pagealloc.workload.decide import DecideReplay
    snaps = dump_snapshots(capture)
    if intervals is None:
        table = get_profile(profile or "linux-7.2").gfp_table
        intervals = load_intervals(capture, table, lenient)
    return [DecideReplay(capture, iv.dump_id, limit, profile, iv).run() for iv in intervals
            if iv.next_id is not None and iv.dump_id in snaps]


# ---------------------------------------------------------------------- what-if rules
@dataclass(frozen=True, slots=True)
class WhatIf:
    """``MATCH:ACTION``: ``gfp=FLAGS`` matches requests carrying every bit of FLAGS,
    ``gfp==FLAGS`` exactly FLAGS, optionally ``,order=N``; actions: ``unmapped`` (the
    series' unmapped request: ``__GFP_UNMAPPED`` on v2 and the cache/zap profiles,
    ``ALLOC_UNMAPPED`` on v4; ``__GFP_MOVABLE`` and ``__GFP_RECLAIMABLE`` are dropped since
    the series only has UNMOVABLE|UNMAPPED), ``gfp=FLAGS`` (replace the mask) or ``drop``."""

    gfp: int
    exact: bool
    order: int | None
    action: str
    new_gfp: int = 0

    def matches(self, gfp: int, order: int) -> bool:
        if self.order is not None and order != self.order:
            return False
        return gfp == self.gfp if self.exact else (gfp & self.gfp) == self.gfp


def parse_what_if(text: str, table: GfpTable) -> WhatIf:
    """Parse one ``--what-if`` rule (see :class:`WhatIf`)."""
    if ":" not in text:
        raise ReplayError("--what-if", 0, "rule", f"{text!r}: expected MATCH:ACTION")
    match, action = text.rsplit(":", 1)
    gfp = -1
    exact = False
    order: int | None = None
    for part in match.split(","):
        part = part.strip()
        try:
            if part.startswith("gfp=="):
                gfp, exact = G.parse_gfp(part[5:], table), True
            elif part.startswith("gfp="):
                gfp = G.parse_gfp(part[4:], table)
            elif part.startswith("order="):
                order = int(part[6:])
            else:
                raise ReplayError("--what-if", 0, "match", f"{part!r}: expected gfp=, gfp== or order=")
        except (GfpParseError, ValueError) as e:
            raise ReplayError("--what-if", 0, "match", f"{part!r}: {e}") from None
    if gfp < 0:
        raise ReplayError("--what-if", 0, "match", f"{match!r}: no gfp= condition")
    action = action.strip()
    if action in ("unmapped", "drop"):
        return WhatIf(gfp, exact, order, action)
    if action.startswith("gfp="):
        try:
            return WhatIf(gfp, exact, order, "gfp", G.parse_gfp(action[4:], table))
        except GfpParseError as e:
            raise ReplayError("--what-if", 0, "action", str(e)) from None
    raise ReplayError("--what-if", 0, "action", f"{action!r}: expected unmapped, drop or gfp=FLAGS")


# ---------------------------------------------------------------------- drive mode
@dataclass
class DriveResult:
    """A what-if replay: the model's own decisions under the rewritten requests."""

    events: int = 0
    allocs: int = 0
    failures: int = 0
    frees: int = 0
    rewritten: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    metrics: dict[str, int] = field(default_factory=dict)
    #: ``sample(machine) | {"event": events}`` every ``every`` replayed requests and at
    #: the end (:func:`drive`); empty without a ``sample`` function
    samples: list[dict[str, Any]] = field(default_factory=list)
    #: the machine as the replay left it (not in :meth:`as_dict`)
    machine: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "allocs": self.allocs, "alloc_failures": self.failures,
                "frees": self.frees, "rewritten": dict(self.rewritten),
                "skipped": dict(self.skipped), "metrics": self.metrics}


def first_dump_machine(capture: Path, profile: Any = None) -> Any:
    """The machine loaded from the capture's first dump, as :func:`drive` starts from it
    (``profile``: a name, a :class:`~pagealloc.profiles.Profile` or None)."""
    from pagealloc.workload.state import machine_from_snapshot
    snaps = dump_snapshots(capture)
    return machine_from_snapshot(capture / snaps[min(snaps)], profile)


def drive(capture: Path, profile: Any = None, rules: list[WhatIf] | None = None,
          intervals: list[Interval] | None = None, limit: int = 0,
          lenient: bool = False, *, machine: Any = None, every: int = 0,
          sample: Callable[[Any], Mapping[str, Any]] | None = None) -> DriveResult:
    """Drive mode from the first dump to the end of the trace (see the module docstring).

    Blocks outstanding at the first dump keep the kernel's PFNs (they are the dump's); a
    free of a PFN the replay never saw allocated is skipped and counted.  A kernel block
    freed page by page (README 9.7) is split in the model first (``split_page()``).  Each
    allocation and free runs on the CPU of its trace line (its pcp lists, its vmstat
    delta); a line on a CPU the first dump has no pageset for is a :class:`ReplayError`.

    ``machine``: start from this machine (from :func:`first_dump_machine`, e.g. to read its
    counters first) instead of loading the first dump.  ``sample``: called with the machine
    every ``every`` replayed requests (``mm_page_alloc`` and ``mm_page_free`` lines, as
    :attr:`DriveResult.events` counts them; with ``every=0`` only at the end) and once at
    the end; each result, with ``"event"`` set to the request count, goes to
    :attr:`DriveResult.samples`, so the last sample is the end state.  The machine is
    returned in :attr:`DriveResult.machine`."""
    m = machine if machine is not None else first_dump_machine(capture, profile)
    if intervals is None:
        intervals = load_intervals(capture, m.profile.gfp_table, lenient)
    rules = rules or []
    unmapped_mode = m.profile.unmapped
    res = DriveResult()
    res.machine = m
    next_sample = every if sample is not None and every > 0 else -1
    # kernel pfn -> (model pfn, order) for blocks allocated during the replay
    handle: dict[int, tuple[int, int]] = {}
    # kernel pfn of a page inside a handled block -> the block's kernel head
    inner: dict[int, int] = {}
    owner_of_unmapped = 2
    first = True
    for iv in intervals:
        if first:
            first = False
            for pfn, (order, _gfp) in iv.outstanding.items():
                handle.setdefault(pfn, (pfn, order))
        check_event_cpus(capture, (e for e in iv.events
                                   if e.name in ("mm_page_alloc", "mm_page_free")), m.ncpus)
        for ev in iv.events:
            if 0 <= next_sample <= res.events and sample is not None:
                # the state after the request that reached the cadence (branches below
                # may ``continue``, so the check runs before the next event)
                next_sample += every
                res.samples.append(dict(sample(m)) | {"event": res.events})
            name = ev.name
            f = ev.fields
            if name == "mm_page_alloc":
                if f["pfn"] < 0:
                    continue
                res.events += 1
                gfp, order = f["gfp_flags"], f["order"]
                unmapped = False
                drop = False
                for rule in rules:
                    if rule.matches(gfp, order):
                        res.rewritten[rule.action] += 1
                        if rule.action == "drop":
                            drop = True
                        elif rule.action == "gfp":
                            gfp = rule.new_gfp
                        else:
                            gfp &= ~(G.__GFP_MOVABLE | G.__GFP_RECLAIMABLE)
                            if unmapped_mode == "v4":
                                unmapped = True
                                gfp &= ~G.__GFP_ZERO
                            elif unmapped_mode:
                                gfp |= G.__GFP_UNMAPPED
                        break
                if drop:
                    continue
                res.allocs += 1
                p = m.alloc_pages(gfp, order, ev.cpu, unmapped=unmapped,
                                  owner=owner_of_unmapped if (unmapped or gfp & G.__GFP_UNMAPPED) else None)
                if p is None:
                    res.failures += 1
                    continue
                handle[f["pfn"]] = (p, order)
                for q in range(1, 1 << order):
                    inner[f["pfn"] + q] = f["pfn"]
            elif name == "mm_page_free":
                res.events += 1
                kpfn, order = f["pfn"], f["order"]
                if kpfn in handle:
                    p, horder = handle.pop(kpfn)
                    if horder > order:
                        _split(m, p, horder)
                        for q in range(1 << order, 1 << horder):
                            handle[kpfn + q] = (p + q, 0)
                            inner.pop(kpfn + q, None)
                        for q in range(1, 1 << order):
                            inner.pop(kpfn + q, None)
                        _free(m, p, order, res, ev.cpu)
                    else:
                        for q in range(1, 1 << horder):
                            inner.pop(kpfn + q, None)
                        _free(m, p, horder, res, ev.cpu)
                elif kpfn in inner:
                    head = inner.pop(kpfn)
                    p, horder = handle.pop(head)
                    _split(m, p, horder)
                    for q in range(1 << horder):
                        if head + q != kpfn:
                            handle[head + q] = (p + q, 0)
                        inner.pop(head + q, None)
                    _free(m, p + (kpfn - head), 0, res, ev.cpu)
                else:
                    res.skipped["free_of_unknown_pfn"] += 1
            if limit and res.allocs >= limit:
                break
        if limit and res.allocs >= limit:
            break
    if sample is not None:
        res.samples.append(dict(sample(m)) | {"event": res.events})
    res.metrics = m.metrics()
    return res


def _split(m: Any, pfn: int, order: int) -> None:
    mem = m.mem
    if mem.pstate[pfn] != PS_ALLOC | order:
        return
    kind = mem.pkind[pfn] & ~KIND_COMPOUND
    mem.pkind[pfn] = kind
    for q in range(pfn, pfn + (1 << order)):
        mem.pstate[q] = PS_ALLOC
        mem.pkind[q] = kind


def _free(m: Any, pfn: int, order: int, res: DriveResult, cpu: int = 0) -> None:
    if m.mem.pstate[pfn] & PS_MASK != PS_ALLOC or m.mem.pstate[pfn] & ORDER_MASK != order:
        res.skipped["free_of_model_non_allocated"] += 1
        return
    m.free_pages(pfn, order, cpu)
    res.frees += 1


__all__ = ["Interval", "FollowResult", "DriveResult", "WhatIf", "ReplayError", "load_intervals",
           "follow", "follow_interval", "decide", "drive", "first_dump_machine", "parse_what_if", "dump_snapshots",
           "check_event_cpus", "NIL"]
