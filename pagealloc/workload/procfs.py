"""Parsers for the allocator-related ``/proc`` and debugfs text files.

These are the coarse views of allocator state that every kernel offers:
``/proc/buddyinfo``, ``/proc/pagetypeinfo``, ``/proc/zoneinfo``,
``/proc/meminfo``, ``/proc/vmstat`` and debugfs ``extfrag/extfrag_index`` and
``extfrag/unusable_index``.  The model uses them when a snapshot has no exact
``gt_buddydump`` (see :mod:`pagealloc.workload.snapshot`) and for cross-checks.

The parsers accept the layouts of both captured kernels (Linux 6.1 and 7.2;
traces README section 2.2): 7.2 ``pagetypeinfo`` has a CMA row, 7.2
``zoneinfo`` adds ``promo``, ``high_min``/``high_max``, ``reserved_highatomic``
and ``free_highatomic``, and zones without memory are printed in a short
form.  Malformed text raises :class:`ProcFormatError`, whose message names the
file, the 1-based line and the field.
"""
from __future__ import annotations

from pagealloc.workload.errors import InputFormatError

from dataclasses import dataclass, field

__all__ = [
    "ProcFormatError",
    "BuddyinfoZone",
    "PagetypeFreeRow",
    "PagetypeBlocks",
    "Pagetypeinfo",
    "ZoneinfoPageset",
    "ZoneinfoZone",
    "DirectMap",
    "parse_buddyinfo",
    "parse_pagetypeinfo",
    "parse_zoneinfo",
    "zoneinfo_node_stats",
    "parse_meminfo",
    "meminfo_directmap",
    "parse_vmstat",
    "parse_extfrag",
]


class ProcFormatError(InputFormatError):
    """A line of a /proc file does not follow the expected format."""


def _int(path: str, lineno: int, name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProcFormatError(path, lineno, name, f"invalid literal {text!r}") from None


def _node_zone(path: str, lineno: int, line: str) -> tuple[int, str, list[str]]:
    """Split ``Node <n>, zone <name> <rest...>`` into (n, name, rest tokens)."""
    head, comma, tail = line.partition(",")
    htoks = head.split()
    if len(htoks) != 2 or htoks[0] != "Node":
        raise ProcFormatError(path, lineno, "node", f"expected 'Node <n>,' in {line.strip()!r}")
    if not comma:
        raise ProcFormatError(path, lineno, "zone", "missing ', zone <name>'")
    node = _int(path, lineno, "node", htoks[1])
    ttoks = tail.split()
    if len(ttoks) < 2 or ttoks[0] != "zone":
        raise ProcFormatError(path, lineno, "zone", f"expected 'zone <name>' in {tail.strip()!r}")
    return node, ttoks[1].rstrip(","), ttoks[2:]


# ---------------------------------------------------------------------------
# buddyinfo


@dataclass(slots=True)
class BuddyinfoZone:
    """One ``/proc/buddyinfo`` row: free blocks per order (all free lists)."""

    node: int
    zone: str
    counts: list[int]  # index = order

    def free_pages(self) -> int:
        return sum(n << order for order, n in enumerate(self.counts))


def parse_buddyinfo(text: str, path: str = "buddyinfo") -> list[BuddyinfoZone]:
    """Parse ``/proc/buddyinfo``: one row per populated zone."""
    out: list[BuddyinfoZone] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        node, zone, rest = _node_zone(path, lineno, line)
        if not rest:
            raise ProcFormatError(path, lineno, "order 0", "missing")
        counts = [_int(path, lineno, f"order {i}", tok) for i, tok in enumerate(rest)]
        if out and len(counts) != len(out[0].counts):
            raise ProcFormatError(
                path, lineno, f"order {min(len(counts), len(out[0].counts))}",
                f"{len(counts)} orders, previous rows have {len(out[0].counts)}",
            )
        out.append(BuddyinfoZone(node, zone, counts))
    return out


# ---------------------------------------------------------------------------
# pagetypeinfo


@dataclass(slots=True)
class PagetypeFreeRow:
    """Free blocks of one (node, zone, migratetype) per order.

    The kernel stops counting a list at 100000 entries and then prints
    ``>100000``; such a value is kept as 100000 with ``capped[order]`` True.
    """

    node: int
    zone: str
    type: str
    counts: list[int]
    capped: list[bool]

    def free_pages(self) -> int:
        """Pages in these blocks (a lower bound if any count is capped)."""
        return sum(n << order for order, n in enumerate(self.counts))


@dataclass(slots=True)
class PagetypeBlocks:
    """Pageblocks per migratetype of one zone (a row of a block-count table)."""

    node: int
    zone: str
    counts: dict[str, int]  # type name -> pageblocks, in file order

    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class Pagetypeinfo:
    pageblock_order: int
    pages_per_block: int
    orders: list[int]  # the order columns of the free table
    type_names: list[str]  # migratetype names in file order
    free: list[PagetypeFreeRow]
    blocks: list[PagetypeBlocks]  # "Number of blocks type"
    # "Number of mixed blocks" (printed only with page_owner enabled); empty otherwise.
    mixed_blocks: list[PagetypeBlocks] = field(default_factory=list)

    def zones(self) -> list[tuple[int, str]]:
        """(node, zone) pairs in file order."""
        seen: list[tuple[int, str]] = []
        for row in self.free:
            key = (row.node, row.zone)
            if key not in seen:
                seen.append(key)
        return seen

    def free_row(self, zone: str, type_name: str, node: int = 0) -> PagetypeFreeRow:
        for row in self.free:
            if row.node == node and row.zone == zone and row.type == type_name:
                return row
        raise KeyError(f"no free row for node {node} zone {zone} type {type_name}")

    def blocks_for(self, zone: str, node: int = 0) -> dict[str, int]:
        for b in self.blocks:
            if b.node == node and b.zone == zone:
                return b.counts
        raise KeyError(f"no block counts for node {node} zone {zone}")

    def counts_per_order(self, zone: str, node: int = 0) -> list[int]:
        """Free blocks per order summed over the types (buddyinfo's view)."""
        total = [0] * len(self.orders)
        for row in self.free:
            if row.node == node and row.zone == zone:
                for i, n in enumerate(row.counts):
                    total[i] += n
        return total


_PTI_FREE_HEADER = "Free pages count per migrate type at order"
_PTI_BLOCKS_HEADER = "Number of blocks type"
_PTI_MIXED_HEADER = "Number of mixed blocks"


def parse_pagetypeinfo(text: str, path: str = "pagetypeinfo") -> Pagetypeinfo:
    """Parse ``/proc/pagetypeinfo``."""
    pageblock_order: int | None = None
    pages_per_block: int | None = None
    orders: list[int] | None = None
    free: list[PagetypeFreeRow] = []
    blocks: list[PagetypeBlocks] = []
    mixed: list[PagetypeBlocks] = []
    table_types: list[str] | None = None
    block_types: list[str] | None = None
    section = ""  # "free", "blocks" or "mixed"
    target = blocks

    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("Page block order:"):
            pageblock_order = _int(path, lineno, "Page block order", s.split(":", 1)[1].strip())
        elif s.startswith("Pages per block:"):
            pages_per_block = _int(path, lineno, "Pages per block", s.split(":", 1)[1].strip())
        elif s.startswith(_PTI_FREE_HEADER):
            toks = s[len(_PTI_FREE_HEADER):].split()
            orders = [_int(path, lineno, f"order column {i}", t) for i, t in enumerate(toks)]
            if not orders:
                raise ProcFormatError(path, lineno, "order column 0", "missing")
            section = "free"
        elif s.startswith(_PTI_BLOCKS_HEADER) or s.startswith(_PTI_MIXED_HEADER):
            is_mixed = s.startswith(_PTI_MIXED_HEADER)
            hdr = _PTI_MIXED_HEADER if is_mixed else _PTI_BLOCKS_HEADER
            table_types = s[len(hdr):].split()
            if not table_types:
                raise ProcFormatError(path, lineno, "type", "no type names in the table header")
            if block_types is not None and table_types != block_types:
                raise ProcFormatError(path, lineno, "type", f"type columns {table_types} differ from {block_types}")
            block_types = table_types
            section = "mixed" if is_mixed else "blocks"
            target = mixed if is_mixed else blocks
        elif s.startswith("Node"):
            node, zone, rest = _node_zone(path, lineno, s)
            if section == "free":
                assert orders is not None
                # "Node 0, zone DMA, type Unmovable n n ...": the type follows the 2nd comma
                parts = s.split(",", 2)
                if len(parts) != 3:
                    raise ProcFormatError(path, lineno, "type", "missing ', type <name>'")
                ttoks = parts[2].split()
                if len(ttoks) < 2 or ttoks[0] != "type":
                    raise ProcFormatError(path, lineno, "type", f"expected 'type <name>' in {parts[2].strip()!r}")
                tname = ttoks[1]
                vals = ttoks[2:]
                if len(vals) != len(orders):
                    missing = min(len(vals), len(orders))
                    raise ProcFormatError(
                        path, lineno, f"order {orders[missing] if missing < len(orders) else missing}",
                        f"{len(vals)} values for {len(orders)} orders",
                    )
                counts: list[int] = []
                capped: list[bool] = []
                for o, v in zip(orders, vals):
                    cap = v.startswith(">")
                    counts.append(_int(path, lineno, f"order {o}", v[1:] if cap else v))
                    capped.append(cap)
                if any(r.node == node and r.zone == zone and r.type == tname for r in free):
                    raise ProcFormatError(path, lineno, "type", f"type {tname} repeated in zone {zone}")
                free.append(PagetypeFreeRow(node, zone, tname, counts, capped))
            elif section in ("blocks", "mixed"):
                assert table_types is not None
                if len(rest) != len(table_types):
                    missing = min(len(rest), len(table_types))
                    raise ProcFormatError(
                        path, lineno, table_types[missing] if missing < len(table_types) else f"column {missing}",
                        f"{len(rest)} values for {len(table_types)} types",
                    )
                bcounts = {t: _int(path, lineno, t, v) for t, v in zip(table_types, rest)}
                target.append(PagetypeBlocks(node, zone, bcounts))
            else:
                raise ProcFormatError(path, lineno, "node", "zone row before any table header")
        else:
            raise ProcFormatError(path, lineno, "line", f"unrecognised line {s[:40]!r}")

    if pageblock_order is None:
        raise ProcFormatError(path, 1, "Page block order", "missing")
    if pages_per_block is None:
        raise ProcFormatError(path, 1, "Pages per block", "missing")
    if orders is None:
        raise ProcFormatError(path, 1, _PTI_FREE_HEADER, "missing")
    # Every zone must list the same types in the same order.
    by_zone: dict[tuple[int, str], list[str]] = {}
    for row in free:
        by_zone.setdefault((row.node, row.zone), []).append(row.type)
    free_types = next(iter(by_zone.values()), [])
    for (node, zone), names in by_zone.items():
        if names != free_types:
            raise ProcFormatError(path, 1, "type", f"node {node} zone {zone} lists types {names}, expected {free_types}")
    if block_types is not None and free_types and block_types != free_types:
        raise ProcFormatError(path, 1, "type", f"block table types {block_types} differ from {free_types}")
    type_names = free_types or (block_types or [])
    return Pagetypeinfo(
        pageblock_order=pageblock_order,
        pages_per_block=pages_per_block,
        orders=orders,
        type_names=type_names,
        free=free,
        blocks=blocks,
        mixed_blocks=mixed,
    )


# ---------------------------------------------------------------------------
# zoneinfo


@dataclass(slots=True)
class ZoneinfoPageset:
    """One CPU's pageset as printed in ``/proc/zoneinfo``."""

    cpu: int
    count: int
    high: int
    batch: int
    high_min: int | None = None  # 7.2 only
    high_max: int | None = None
    vm_stats_threshold: int | None = None  # printed after each cpu's pageset
    extra: dict[str, int] = field(default_factory=dict)  # any other "name: value"


@dataclass(slots=True)
class ZoneinfoZone:
    """One zone of ``/proc/zoneinfo``.

    Zones without memory stop after ``protection:`` (``populated`` is False);
    all fields printed after it are then empty/None.
    """

    node: int
    name: str
    pages_free: int
    boost: int
    min: int
    low: int
    high: int
    promo: int | None  # 7.2 only
    spanned: int
    present: int
    managed: int
    cma: int | None
    protection: tuple[int, ...]
    populated: bool
    items: dict[str, int]  # zone vm counters: nr_free_pages, nr_zone_*, numa_*, ...
    pagesets: list[ZoneinfoPageset]
    vm_stats_threshold: int | None  # the first cpu's
    node_unreclaimable: int | None
    start_pfn: int | None
    reserved_highatomic: int | None  # 7.2 only
    free_highatomic: int | None  # 7.2 only
    node_stats: dict[str, int] | None  # the "per-node stats" printed above this zone, if any
    extra: dict[str, int]  # unknown "name value" / "name: value" lines of the zone
    line: int  # 1-based line of the "Node n, zone name" header


_ZI_WMARK_KEYS = ("boost", "min", "low", "high", "promo", "spanned", "present", "managed", "cma")
_ZI_REQUIRED = ("pages free", "boost", "min", "low", "high", "spanned", "present", "managed")
_ZI_PCP_KEYS = ("count", "high", "batch", "high_min", "high_max")
_ZI_TAIL_KEYS = ("node_unreclaimable", "start_pfn", "reserved_highatomic", "free_highatomic")


class _ZoneBuilder:
    __slots__ = ("node", "name", "line", "vals", "protection", "items", "pagesets", "pcp",
                 "pcp_line", "node_stats", "extra", "populated", "threshold")

    def __init__(self, node: int, name: str, line: int) -> None:
        self.node = node
        self.name = name
        self.line = line
        self.vals: dict[str, int] = {}
        self.protection: tuple[int, ...] | None = None
        self.items: dict[str, int] = {}
        self.pagesets: list[ZoneinfoPageset] = []
        self.pcp: dict[str, int] | None = None
        self.pcp_line = 0  # line of the current pageset's "cpu:" line
        self.node_stats: dict[str, int] | None = None
        self.extra: dict[str, int] = {}
        self.populated = False
        self.threshold: int | None = None

    def flush_pcp(self, path: str) -> None:
        if self.pcp is None:
            return
        p = self.pcp
        for key in ("cpu", "count", "high", "batch"):
            if key not in p:
                raise ProcFormatError(path, self.pcp_line, key, f"missing in pageset of zone {self.name}")
        known = ("cpu", "count", "high", "batch", "high_min", "high_max", "vm stats threshold")
        self.pagesets.append(
            ZoneinfoPageset(
                cpu=p["cpu"],
                count=p["count"],
                high=p["high"],
                batch=p["batch"],
                high_min=p.get("high_min"),
                high_max=p.get("high_max"),
                vm_stats_threshold=p.get("vm stats threshold"),
                extra={k: v for k, v in p.items() if k not in known},
            )
        )
        self.pcp = None

    def build(self, path: str) -> ZoneinfoZone:
        self.flush_pcp(path)
        for key in _ZI_REQUIRED:
            if key not in self.vals:
                raise ProcFormatError(path, self.line, key, f"missing in zone {self.name}")
        if self.protection is None:
            raise ProcFormatError(path, self.line, "protection", f"missing in zone {self.name}")
        v = self.vals
        return ZoneinfoZone(
            node=self.node,
            name=self.name,
            pages_free=v["pages free"],
            boost=v["boost"],
            min=v["min"],
            low=v["low"],
            high=v["high"],
            promo=v.get("promo"),
            spanned=v["spanned"],
            present=v["present"],
            managed=v["managed"],
            cma=v.get("cma"),
            protection=self.protection,
            populated=self.populated,
            items=self.items,
            pagesets=self.pagesets,
            vm_stats_threshold=self.threshold,
            node_unreclaimable=v.get("node_unreclaimable"),
            start_pfn=v.get("start_pfn"),
            reserved_highatomic=v.get("reserved_highatomic"),
            free_highatomic=v.get("free_highatomic"),
            node_stats=self.node_stats,
            extra=self.extra,
            line=self.line,
        )


def parse_zoneinfo(text: str, path: str = "zoneinfo") -> list[ZoneinfoZone]:
    """Parse ``/proc/zoneinfo``: every zone of every node, in file order."""
    zones: list[ZoneinfoZone] = []
    zb: _ZoneBuilder | None = None
    # Where "name value" lines go: "node" (per-node stats), "wmark" (after
    # "pages free"), "items" (after protection), "pcp"/"tail" (colon lines only).
    section = ""
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("Node "):
            if zb is not None:
                zones.append(zb.build(path))
            node, name, rest = _node_zone(path, lineno, s)
            if rest:
                raise ProcFormatError(path, lineno, "zone", f"unexpected text after zone name: {' '.join(rest)!r}")
            zb = _ZoneBuilder(node, name, lineno)
            section = "head"
            continue
        if zb is None:
            raise ProcFormatError(path, lineno, "node", "line before the first 'Node <n>, zone <name>'")
        if s == "per-node stats":
            if zb.node_stats is not None or section != "head":
                raise ProcFormatError(path, lineno, "per-node stats", "misplaced")
            zb.node_stats = {}
            section = "node"
            continue
        if s == "pagesets":
            if section != "items":
                raise ProcFormatError(path, lineno, "pagesets", "not after the zone counters")
            zb.populated = True
            section = "pagesets"
            continue
        if s.startswith("pages free"):
            val = s[len("pages free"):].strip()
            zb.vals["pages free"] = _int(path, lineno, "pages free", val)
            section = "wmark"
            continue
        if s.startswith("protection:"):
            body = s[len("protection:"):].strip()
            if not (body.startswith("(") and body.endswith(")")):
                raise ProcFormatError(path, lineno, "protection", f"expected '(a, b, ...)', got {body!r}")
            inner = body[1:-1].strip()
            toks = [t.strip() for t in inner.split(",")] if inner else []
            zb.protection = tuple(_int(path, lineno, f"protection[{i}]", t) for i, t in enumerate(toks))
            section = "items"
            continue
        if ":" in s:
            key, _colon, val = s.partition(":")
            key = key.strip()
            val = val.strip()
            num = _int(path, lineno, key, val)
            if key == "cpu":
                if section not in ("pagesets", "pcp"):
                    raise ProcFormatError(path, lineno, "cpu", "pageset outside 'pagesets'")
                zb.flush_pcp(path)
                zb.pcp = {"cpu": num}
                zb.pcp_line = lineno
                section = "pcp"
            elif section == "pcp" and key in _ZI_PCP_KEYS:
                assert zb.pcp is not None
                if key in zb.pcp:
                    raise ProcFormatError(path, lineno, key, "repeated in pageset")
                zb.pcp[key] = num
            elif key == "vm stats threshold":
                if zb.pcp is None:
                    raise ProcFormatError(path, lineno, key, "not after a cpu's pageset")
                zb.pcp[key] = num
                if zb.threshold is None:
                    zb.threshold = num
            elif section in ("pcp", "tail"):
                zb.flush_pcp(path)
                section = "tail"
                if key in zb.vals or key in zb.extra:
                    raise ProcFormatError(path, lineno, key, "repeated")
                if key in _ZI_TAIL_KEYS:
                    zb.vals[key] = num
                else:
                    zb.extra[key] = num
            else:
                raise ProcFormatError(path, lineno, key, f"unexpected '{key}:' line here")
            continue
        toks = s.split()
        if len(toks) != 2:
            raise ProcFormatError(path, lineno, toks[0], f"expected 'name value', got {s!r}")
        key, val = toks
        num = _int(path, lineno, key, val)
        if section == "node":
            assert zb.node_stats is not None
            dest = zb.node_stats
        elif section == "wmark":
            dest = zb.vals if key in _ZI_WMARK_KEYS else zb.extra
        elif section == "items":
            dest = zb.items
        else:
            raise ProcFormatError(path, lineno, key, f"unexpected 'name value' line in section {section!r}")
        if key in dest:
            raise ProcFormatError(path, lineno, key, "repeated")
        dest[key] = num
    if zb is not None:
        zones.append(zb.build(path))
    return zones


def zoneinfo_node_stats(zones: list[ZoneinfoZone]) -> dict[int, dict[str, int]]:
    """The per-node stats blocks of a parsed zoneinfo, by node."""
    out: dict[int, dict[str, int]] = {}
    for z in zones:
        if z.node_stats is not None:
            out[z.node] = z.node_stats
    return out


# ---------------------------------------------------------------------------
# meminfo, vmstat, extfrag


def parse_meminfo(text: str, path: str = "meminfo") -> dict[str, int]:
    """Parse ``/proc/meminfo``: name -> value.

    Values are as printed: kB for lines with a ``kB`` unit, plain counts for
    the others (``HugePages_Total`` etc.).
    """
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, colon, rest = line.partition(":")
        key = key.strip()
        if not colon or not key:
            raise ProcFormatError(path, lineno, key or "name", "expected 'Name: value [kB]'")
        toks = rest.split()
        if not toks:
            raise ProcFormatError(path, lineno, key, "missing value")
        if len(toks) > 2 or (len(toks) == 2 and toks[1] != "kB"):
            raise ProcFormatError(path, lineno, key, f"unexpected unit or text {rest.strip()!r}")
        if key in out:
            raise ProcFormatError(path, lineno, key, "repeated")
        out[key] = _int(path, lineno, key, toks[0])
    return out


@dataclass(slots=True, frozen=True)
class DirectMap:
    """Kernel direct-map coverage in kB by page-table mapping size.

    A size whose line is absent (e.g. ``DirectMap1G`` on a CPU without 1 GiB
    pages) is reported as 0.
    """

    kb_4k: int
    kb_2m: int
    kb_1g: int

    def total_kb(self) -> int:
        return self.kb_4k + self.kb_2m + self.kb_1g


def meminfo_directmap(meminfo: dict[str, int]) -> DirectMap:
    """The DirectMap4k/2M/1G lines of a parsed meminfo."""
    return DirectMap(
        kb_4k=meminfo.get("DirectMap4k", 0),
        kb_2m=meminfo.get("DirectMap2M", 0),
        kb_1g=meminfo.get("DirectMap1G", 0),
    )


def parse_vmstat(text: str, path: str = "vmstat") -> list[tuple[str, int]]:
    """Parse ``/proc/vmstat`` into (name, value) pairs in file order."""
    out: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        toks = line.split()
        if not toks:
            continue
        if len(toks) != 2:
            raise ProcFormatError(path, lineno, toks[0], f"expected 'name value', got {line.strip()!r}")
        out.append((toks[0], _int(path, lineno, toks[0], toks[1])))
    return out


def parse_extfrag(text: str, path: str = "extfrag_index") -> list[tuple[int, str, list[str]]]:
    """Parse debugfs ``extfrag_index`` or ``unusable_index``.

    Returns (node, zone, fields) with one field per order, as printed (e.g.
    ``"-1.000"``, ``"0.142"``).  Each field must be a decimal number.
    """
    out: list[tuple[int, str, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        node, zone, rest = _node_zone(path, lineno, line)
        if not rest:
            raise ProcFormatError(path, lineno, "order 0", "missing")
        for i, tok in enumerate(rest):
            try:
                float(tok)
            except ValueError:
                raise ProcFormatError(path, lineno, f"order {i}", f"invalid number {tok!r}") from None
        if out and len(rest) != len(out[0][2]):
            raise ProcFormatError(path, lineno, f"order {min(len(rest), len(out[0][2]))}",
                                  f"{len(rest)} orders, previous rows have {len(out[0][2])}")
        out.append((node, zone, rest))
    return out
