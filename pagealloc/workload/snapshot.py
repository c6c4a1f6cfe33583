"""Parser for ``gt_buddydump`` files: exact dumps of the buddy allocator's state.

A dump lists, for every populated zone, every pageblock with its migratetype
bits, every free block on the buddy free lists (order, free list, first PFN,
in list order) and every block on the per-cpu page lists.  The text format is
not a kernel interface: it is the one written by the capture tool that took
the real-kernel traces, documented in section 6 of the traces README
(``shared/traces/README.md``).  Two variants exist, one per captured kernel:

* Linux 6.1: a short header, ``Z`` lines ending at ``reserved_highatomic``,
  ``B <pfn> <mt>`` lines in which mt 4 means Isolate, free lists 0..4 with 4
  meaning Isolate, and ``C`` lines with ``count high batch free_factor``.
* Linux 7.2: header tag ``kernel=7.x`` and more header keys, five more ``Z``
  counters, ``B <pfn> <mt> <isolate> <compact_skip>`` with mt 4 meaning CMA
  and isolation in a separate bit, free lists 0..5 (4 CMA, 5 Isolate), and
  the pcp ``high`` auto-tuning state on ``C`` lines.

The parser normalises every migratetype number to the 7.2 numbering used by
the rest of the model: 0 Unmovable, 1 Movable, 2 Reclaimable, 3 HighAtomic,
4 CMA, 5 Isolate.  ``P`` lines carry an ``<order> <mt>`` pair that is only a
decoding of ``pindex``; it is checked against the pcp list layout and then
dropped.

Malformed input raises :class:`SnapshotFormatError`, whose message names the
file, the 1-based line and the field.  :func:`check_dump` applies the
consistency rules of README section 6.5 (and a few structural ones) and
returns the problems as text instead of raising.
"""
from __future__ import annotations

from pagealloc.workload.errors import InputFormatError

import lzma
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MT_UNMOVABLE",
    "MT_MOVABLE",
    "MT_RECLAIMABLE",
    "MT_HIGHATOMIC",
    "MT_CMA",
    "MT_ISOLATE",
    "MIGRATETYPE_NAMES",
    "SnapshotFormatError",
    "DumpPcp",
    "DumpZone",
    "BuddyDump",
    "decode_pindex",
    "parse_buddydump",
    "load_buddydump",
    "find_buddydump",
    "check_dump",
]

# Migratetype numbering used by the model (the 7.2 kernel's).
MT_UNMOVABLE = 0
MT_MOVABLE = 1
MT_RECLAIMABLE = 2
MT_HIGHATOMIC = 3
MT_CMA = 4
MT_ISOLATE = 5
MIGRATETYPE_NAMES: tuple[str, ...] = (
    "Unmovable",
    "Movable",
    "Reclaimable",
    "HighAtomic",
    "CMA",
    "Isolate",
)

# 6.1 numbers Isolate as 4 (there is no CMA type in that build).
_ISOLATE_61 = 4

# Header keys every dump has; values are decimal.
_HEADER_REQUIRED = ("id", "pageblock_order", "max_order", "nr_pcp_lists")

# Z line keys: (name, base).  The first group exists in both formats.
_Z_COMMON: tuple[tuple[str, int], ...] = (
    ("start_pfn", 16),
    ("end_pfn", 16),
    ("present", 10),
    ("managed", 10),
    ("nr_free", 10),
    ("wmark_min", 10),
    ("wmark_low", 10),
    ("wmark_high", 10),
    ("boost", 10),
    ("reserved_highatomic", 10),
)
_Z_72: tuple[tuple[str, int], ...] = (
    ("nr_free_highatomic", 10),
    ("nr_free_blocks", 10),
    ("nr_free_cma", 10),
    ("cma_pages", 10),
    ("nr_free_snapshot", 10),
)
_C_COMMON: tuple[tuple[str, int], ...] = (
    ("count", 10),
    ("high", 10),
    ("batch", 10),
    ("free_factor", 10),
)
_C_72: tuple[tuple[str, int], ...] = (
    ("high_min", 10),
    ("high_max", 10),
    ("alloc_factor", 10),
    ("free_count", 10),
    ("flags", 16),
    ("expire", 10),
)


class SnapshotFormatError(InputFormatError):
    """A dump line does not follow the format."""


@dataclass(slots=True)
class DumpPcp:
    """One CPU's per-cpu pageset of one zone (a ``C`` line and its ``P`` lines)."""

    cpu: int
    count: int
    high: int
    batch: int
    free_factor: int  # 6.1 field; always -1 on 7.2
    high_min: int | None  # the remaining fields are None on 6.1
    high_max: int | None
    alloc_factor: int | None
    free_count: int | None
    flags: int | None
    expire: int | None
    # (pindex, pfn) in file order: each list head to tail, pindex ascending.
    lists: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class DumpZone:
    """One populated zone: its counters, pageblocks, free blocks and pcp lists."""

    node: int
    name: str
    start_pfn: int
    end_pfn: int  # exclusive
    present: int
    managed: int
    nr_free: int
    wmark_min: int
    wmark_low: int
    wmark_high: int
    boost: int
    reserved_highatomic: int
    nr_free_highatomic: int | None  # this group is None on 6.1
    nr_free_blocks: int | None
    nr_free_cma: int | None
    cma_pages: int | None
    nr_free_snapshot: int | None
    # (pfn, mt, isolate, compact_skip); mt in 7.2 numbering (5 only if isolated on 6.1).
    blocks: list[tuple[int, int, int, int]] = field(default_factory=list)
    # (order, list_mt, pfn) in file order; list_mt in 7.2 numbering.
    free: list[tuple[int, int, int]] = field(default_factory=list)
    pcp: list[DumpPcp] = field(default_factory=list)

    def free_pages(self) -> int:
        """Pages on the buddy free lists (sum of the ``F`` block sizes)."""
        return sum(1 << order for order, _mt, _pfn in self.free)


@dataclass(slots=True)
class BuddyDump:
    """A whole dump file."""

    path: str
    id: int
    kernel: str  # "7.2" or "6.1"
    header: dict[str, str]
    pageblock_order: int
    nr_orders: int  # header max_order: the number of orders
    zones: list[DumpZone]

    def zone(self, name: str, node: int = 0) -> DumpZone:
        """The zone called ``name`` on ``node``; KeyError if not dumped."""
        for z in self.zones:
            if z.name == name and z.node == node:
                return z
        raise KeyError(f"{self.path}: no zone {name!r} on node {node}")

    @property
    def nr_loworder_pcp_lists(self) -> int:
        return int(self.header.get("nr_loworder_pcp_lists", "12"))

    @property
    def pcp_high_order(self) -> int:
        """Order of the blocks on the last pcp lists (THP order / pageblock order)."""
        return int(self.header.get("hpage_pmd_order", str(self.pageblock_order)))

    def pcp_order_mt(self, pindex: int) -> tuple[int, int]:
        """(order, mt) of pcp list ``pindex`` as the dump prints it."""
        return decode_pindex(pindex, self.nr_loworder_pcp_lists, self.pcp_high_order)

    def pcp_pages(self, pcp: DumpPcp) -> int:
        """Pages held on ``pcp``'s lists (blocks of order n count 2**n)."""
        total = 0
        for pindex, _pfn in pcp.lists:
            total += 1 << self.pcp_order_mt(pindex)[0]
        return total


def decode_pindex(pindex: int, nr_loworder: int = 12, high_order: int = 9) -> tuple[int, int]:
    """(order, migratetype) of pcp list ``pindex``.

    The first ``nr_loworder`` lists hold orders 0..3 for the three pcp
    migratetypes (``pindex = 3 * order + mt``); the lists after them hold
    ``high_order`` blocks, "not movable" (printed as mt 0) then movable (1).
    """
    if pindex < 0:
        raise ValueError(f"negative pcp list index {pindex}")
    if pindex < nr_loworder:
        return pindex // 3, pindex % 3
    return high_order, pindex - nr_loworder


# ---------------------------------------------------------------------------
# Parsing


def _as_int(path: str, lineno: int, name: str, text: str, base: int = 10) -> int:
    try:
        return int(text, base)
    except ValueError:
        raise SnapshotFormatError(path, lineno, name, f"invalid literal {text!r}") from None


def _positional(
    path: str, lineno: int, parts: list[str], names: tuple[str, ...], bases: tuple[int, ...]
) -> list[int]:
    """Convert parts[1:] to ints, one per name; exact field count required."""
    values = parts[1:]
    if len(values) < len(names):
        raise SnapshotFormatError(path, lineno, names[len(values)], "missing")
    if len(values) > len(names):
        raise SnapshotFormatError(
            path, lineno, f"#{len(names) + 1}", f"unexpected extra field {values[len(names)]!r}"
        )
    return [_as_int(path, lineno, n, v, b) for n, v, b in zip(names, values, bases)]


def _keyvals(
    path: str,
    lineno: int,
    tokens: list[str],
    required: tuple[tuple[str, int], ...],
    optional: tuple[tuple[str, int], ...],
) -> dict[str, int]:
    """Parse ``key=value`` tokens; all ``required`` keys must appear."""
    bases = dict(required)
    bases.update(optional)
    out: dict[str, int] = {}
    for tok in tokens:
        key, eq, val = tok.partition("=")
        if not eq:
            raise SnapshotFormatError(path, lineno, key, f"expected key=value, got {tok!r}")
        if key not in bases:
            raise SnapshotFormatError(path, lineno, key, "unknown field")
        if key in out:
            raise SnapshotFormatError(path, lineno, key, "repeated field")
        out[key] = _as_int(path, lineno, key, val, bases[key])
    for key, _base in required:
        if key not in out:
            raise SnapshotFormatError(path, lineno, key, "missing")
    return out


def _parse_header(path: str, line: str) -> dict[str, str]:
    tokens = line.split()
    if not tokens or tokens[0] != "#":
        raise SnapshotFormatError(path, 1, "header", "first line must be the '# gt_buddydump' header")
    if len(tokens) < 2 or tokens[1] != "gt_buddydump":
        raise SnapshotFormatError(path, 1, "header", "missing 'gt_buddydump' tag")
    header: dict[str, str] = {}
    for tok in tokens[2:]:
        key, eq, val = tok.partition("=")
        if not eq or not key:
            raise SnapshotFormatError(path, 1, key or tok, f"expected key=value, got {tok!r}")
        if key in header:
            raise SnapshotFormatError(path, 1, key, "repeated field")
        header[key] = val
    for key in _HEADER_REQUIRED:
        if key not in header:
            raise SnapshotFormatError(path, 1, key, "missing")
        _as_int(path, 1, key, header[key])
    kernel = header.get("kernel")
    if kernel is not None and not kernel.startswith("7."):
        raise SnapshotFormatError(path, 1, "kernel", f"unsupported kernel tag {kernel!r}")
    return header


# Order in which line kinds may follow each other inside one zone.
_STAGE = {"Z": 0, "B": 1, "F": 2, "C": 3, "P": 3}


def parse_buddydump(text: str, path: str = "gt_buddydump") -> BuddyDump:
    """Parse the text of a dump; ``path`` is only used to name the file in errors."""
    lines = text.splitlines()
    if not lines:
        raise SnapshotFormatError(path, 1, "header", "empty file")
    header = _parse_header(path, lines[0])
    is72 = "kernel" in header
    dump_id = int(header["id"])
    pageblock_order = int(header["pageblock_order"])
    nr_orders = int(header["max_order"])
    nr_pcp_lists = int(header["nr_pcp_lists"])
    nr_loworder = int(header.get("nr_loworder_pcp_lists", "12"))
    pcp_high_order = int(header.get("hpage_pmd_order", str(pageblock_order)))
    # pindex -> (order, mt) as the P line must print it
    pindex_decoded = [decode_pindex(i, nr_loworder, pcp_high_order) for i in range(nr_pcp_lists)]
    nr_free_lists = 6 if is72 else 5
    z_required = _Z_COMMON + _Z_72 if is72 else _Z_COMMON
    c_required = _C_COMMON + _C_72 if is72 else _C_COMMON

    zones: list[DumpZone] = []
    zone: DumpZone | None = None
    pcp: DumpPcp | None = None
    stage = 0
    blocks: list[tuple[int, int, int, int]] = []
    free: list[tuple[int, int, int]] = []
    plist: list[tuple[int, int]] = []

    for lineno, line in enumerate(lines[1:], 2):
        parts = line.split()
        if not parts:
            raise SnapshotFormatError(path, lineno, "kind", "empty line")
        kind = parts[0]
        kstage = _STAGE.get(kind)
        if kstage is None:
            raise SnapshotFormatError(path, lineno, "kind", f"unknown line kind {kind!r}")
        if kind != "Z":
            if kind == "P" and pcp is None:
                raise SnapshotFormatError(path, lineno, "kind", "P line before any C line")
            if zone is None:
                raise SnapshotFormatError(path, lineno, "kind", f"{kind} line before any Z line")
            if kstage < stage:
                raise SnapshotFormatError(path, lineno, "kind", f"{kind} line out of order in zone {zone.name}")
            stage = kstage

        if kind == "F":
            # Fast path; on any error, redo field by field for the message.
            if len(parts) == 4:
                try:
                    order = int(parts[1])
                    mt = int(parts[2])
                    pfn = int(parts[3], 16)
                except ValueError:
                    pass
                else:
                    if 0 <= order < nr_orders and 0 <= mt < nr_free_lists:
                        if not is72 and mt == _ISOLATE_61:
                            mt = MT_ISOLATE
                        free.append((order, mt, pfn))
                        continue
            order, mt, pfn = _positional(path, lineno, parts, ("order", "list_mt", "pfn"), (10, 10, 16))
            if not 0 <= order < nr_orders:
                raise SnapshotFormatError(path, lineno, "order", f"{order} out of range 0..{nr_orders - 1}")
            raise SnapshotFormatError(path, lineno, "list_mt", f"{mt} out of range 0..{nr_free_lists - 1}")

        elif kind == "P":
            assert pcp is not None
            if len(parts) == 6:
                try:
                    cpu = int(parts[1])
                    pindex = int(parts[2])
                    order = int(parts[3])
                    mt = int(parts[4])
                    pfn = int(parts[5], 16)
                except ValueError:
                    pass
                else:
                    if cpu == pcp.cpu and 0 <= pindex < nr_pcp_lists and pindex_decoded[pindex] == (order, mt):
                        plist.append((pindex, pfn))
                        continue
            cpu, pindex, order, mt, pfn = _positional(
                path, lineno, parts, ("cpu", "pindex", "order", "mt", "pfn"), (10, 10, 10, 10, 16)
            )
            if cpu != pcp.cpu:
                raise SnapshotFormatError(path, lineno, "cpu", f"{cpu} differs from the C line's cpu {pcp.cpu}")
            if not 0 <= pindex < nr_pcp_lists:
                raise SnapshotFormatError(path, lineno, "pindex", f"{pindex} out of range 0..{nr_pcp_lists - 1}")
            want_order, want_mt = pindex_decoded[pindex]
            if order != want_order:
                raise SnapshotFormatError(
                    path, lineno, "order", f"{order} does not match pindex {pindex} (order {want_order})"
                )
            raise SnapshotFormatError(path, lineno, "mt", f"{mt} does not match pindex {pindex} (mt {want_mt})")

        elif kind == "B":
            if is72:
                pfn, mt, iso, skip = _positional(
                    path, lineno, parts, ("pfn", "mt", "isolate", "compact_skip"), (16, 10, 10, 10)
                )
                if not 0 <= mt <= MT_CMA:
                    raise SnapshotFormatError(path, lineno, "mt", f"{mt} out of range 0..{MT_CMA}")
                if iso not in (0, 1):
                    raise SnapshotFormatError(path, lineno, "isolate", f"{iso} is not 0 or 1")
                if skip not in (0, 1):
                    raise SnapshotFormatError(path, lineno, "compact_skip", f"{skip} is not 0 or 1")
                blocks.append((pfn, mt, iso, skip))
            else:
                pfn, mt = _positional(path, lineno, parts, ("pfn", "mt"), (16, 10))
                if not 0 <= mt <= _ISOLATE_61:
                    raise SnapshotFormatError(path, lineno, "mt", f"{mt} out of range 0..{_ISOLATE_61}")
                if mt == _ISOLATE_61:
                    blocks.append((pfn, MT_ISOLATE, 1, 0))
                else:
                    blocks.append((pfn, mt, 0, 0))

        elif kind == "C":
            assert zone is not None
            if len(parts) < 2:
                raise SnapshotFormatError(path, lineno, "cpu", "missing")
            cpu = _as_int(path, lineno, "cpu", parts[1])
            if any(p.cpu == cpu for p in zone.pcp):
                raise SnapshotFormatError(path, lineno, "cpu", f"second C line for cpu {cpu}")
            kv = _keyvals(path, lineno, parts[2:], c_required, ())
            plist = []
            pcp = DumpPcp(
                cpu=cpu,
                count=kv["count"],
                high=kv["high"],
                batch=kv["batch"],
                free_factor=kv["free_factor"],
                high_min=kv.get("high_min"),
                high_max=kv.get("high_max"),
                alloc_factor=kv.get("alloc_factor"),
                free_count=kv.get("free_count"),
                flags=kv.get("flags"),
                expire=kv.get("expire"),
                lists=plist,
            )
            zone.pcp.append(pcp)

        else:  # "Z"
            if len(parts) < 3:
                raise SnapshotFormatError(path, lineno, "node" if len(parts) < 2 else "zone", "missing")
            node = _as_int(path, lineno, "node", parts[1])
            name = parts[2]
            if "=" in name:
                raise SnapshotFormatError(path, lineno, "zone", f"missing zone name before {name!r}")
            if any(z.node == node and z.name == name for z in zones):
                raise SnapshotFormatError(path, lineno, "zone", f"zone {name} of node {node} dumped twice")
            kv = _keyvals(path, lineno, parts[3:], z_required, ())
            blocks = []
            free = []
            plist = []
            pcp = None
            stage = 0
            zone = DumpZone(
                node=node,
                name=name,
                start_pfn=kv["start_pfn"],
                end_pfn=kv["end_pfn"],
                present=kv["present"],
                managed=kv["managed"],
                nr_free=kv["nr_free"],
                wmark_min=kv["wmark_min"],
                wmark_low=kv["wmark_low"],
                wmark_high=kv["wmark_high"],
                boost=kv["boost"],
                reserved_highatomic=kv["reserved_highatomic"],
                nr_free_highatomic=kv.get("nr_free_highatomic"),
                nr_free_blocks=kv.get("nr_free_blocks"),
                nr_free_cma=kv.get("nr_free_cma"),
                cma_pages=kv.get("cma_pages"),
                nr_free_snapshot=kv.get("nr_free_snapshot"),
                blocks=blocks,
                free=free,
            )
            zones.append(zone)

    return BuddyDump(
        path=path,
        id=dump_id,
        kernel="7.2" if is72 else "6.1",
        header=header,
        pageblock_order=pageblock_order,
        nr_orders=nr_orders,
        zones=zones,
    )


def load_buddydump(path: str | os.PathLike[str]) -> BuddyDump:
    """Read a dump file, xz-compressed if its name ends in ``.xz``."""
    p = os.fspath(path)
    if p.endswith(".xz"):
        with lzma.open(p, "rt", encoding="ascii") as fh:
            text = fh.read()
    else:
        with open(p, encoding="ascii") as fh:
            text = fh.read()
    return parse_buddydump(text, p)


def find_buddydump(snapdir: str | os.PathLike[str]) -> Path | None:
    """The dump file of a snapshot directory, compressed or not, or None."""
    d = Path(snapdir)
    for name in ("gt_buddydump.xz", "gt_buddydump"):
        cand = d / name
        if cand.is_file():
            return cand
    return None


# ---------------------------------------------------------------------------
# Consistency checks


def check_dump(d: BuddyDump) -> list[str]:
    """Problems found in a parsed dump, as readable lines (empty when consistent).

    Checked per zone: the free block sizes against ``nr_free_snapshot`` and
    ``nr_free``; on 7.2 the pages in blocks of pageblock order or more against
    ``nr_free_blocks``; each pcp's block sizes against its ``count``.  Also
    structural facts: pageblocks ascending and aligned; free blocks aligned,
    inside the zone and grouped by (order, list); pcp blocks aligned, inside
    the zone and grouped by pindex; and no page both on a free list and a pcp
    list, or twice on either.
    """
    problems: list[str] = []
    pb_pages = 1 << d.pageblock_order
    for z in d.zones:
        where = f"{d.path}: node {z.node} zone {z.name}"
        free_pages = z.free_pages()
        if z.nr_free_snapshot is not None and free_pages != z.nr_free_snapshot:
            problems.append(f"{where}: free blocks hold {free_pages} pages, nr_free_snapshot={z.nr_free_snapshot}")
        if free_pages != z.nr_free:
            problems.append(f"{where}: free blocks hold {free_pages} pages, nr_free={z.nr_free}")
        if z.nr_free_blocks is not None:
            big = sum(1 << o for o, _mt, _pfn in z.free if o >= d.pageblock_order)
            if big != z.nr_free_blocks:
                problems.append(
                    f"{where}: free blocks of order >= {d.pageblock_order} hold {big} pages, "
                    f"nr_free_blocks={z.nr_free_blocks}"
                )

        prev = -1
        for pfn, _mt, _iso, _skip in z.blocks:
            if pfn % pb_pages:
                problems.append(f"{where}: pageblock pfn {pfn:x} not aligned to {pb_pages} pages")
            if pfn <= prev:
                problems.append(f"{where}: pageblock pfn {pfn:x} not ascending")
            if not (pfn < z.end_pfn and pfn + pb_pages > z.start_pfn):
                problems.append(f"{where}: pageblock pfn {pfn:x} outside the zone")
            prev = pfn

        extents: list[tuple[int, int, str]] = []
        prev_key = (-1, -1)
        for order, mt, pfn in z.free:
            size = 1 << order
            if (order, mt) < prev_key:
                problems.append(f"{where}: free block {pfn:x} (order {order}, list {mt}) out of list order")
            prev_key = (order, mt)
            if pfn % size:
                problems.append(f"{where}: free block {pfn:x} not aligned to order {order}")
            if pfn < z.start_pfn or pfn + size > z.end_pfn:
                problems.append(f"{where}: free block {pfn:x} order {order} outside the zone")
            extents.append((pfn, pfn + size, f"free block {pfn:x}/{order}"))

        for pcp in z.pcp:
            pcp_pages = 0
            prev_pindex = -1
            for pindex, pfn in pcp.lists:
                order = d.pcp_order_mt(pindex)[0]
                size = 1 << order
                pcp_pages += size
                if pindex < prev_pindex:
                    problems.append(f"{where}: cpu {pcp.cpu} pcp block {pfn:x} (list {pindex}) out of list order")
                prev_pindex = pindex
                if pfn % size:
                    problems.append(f"{where}: cpu {pcp.cpu} pcp block {pfn:x} not aligned to order {order}")
                if pfn < z.start_pfn or pfn + size > z.end_pfn:
                    problems.append(f"{where}: cpu {pcp.cpu} pcp block {pfn:x} outside the zone")
                extents.append((pfn, pfn + size, f"cpu {pcp.cpu} pcp block {pfn:x}/{order}"))
            if pcp_pages != pcp.count:
                problems.append(f"{where}: cpu {pcp.cpu} pcp lists hold {pcp_pages} pages, count={pcp.count}")

        extents.sort()
        reach, reach_what = -1, ""
        for start, end, what in extents:
            if start < reach:
                problems.append(f"{where}: {what} overlaps {reach_what}")
            if end > reach:
                reach, reach_what = end, what
    return problems
