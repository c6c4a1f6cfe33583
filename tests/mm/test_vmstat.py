"""Tests for pagealloc.mm.vmstat: byte-exact /proc renderers.

The round-trip tests rebuild the views from the real files of every snapshot
of both kernels (test-side parsers below), render them, and compare with the
file text byte for byte.  One set of views per snapshot is built from
zoneinfo + pagetypeinfo + buddyinfo together, and every renderer is fed from
that same set, so a renderer that read the wrong field would fail.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pagealloc.mm.vmstat import (
    MIGRATETYPE_NAMES_6_1,
    MIGRATETYPE_NAMES_7_2,
    VMSTAT_ITEMS_6_1,
    VMSTAT_ITEMS_7_2,
    ContigPageInfo,
    NodeView,
    PcpView,
    ZoneView,
    extfrag_for_order,
    fill_contig_page_info,
    format_extfrag_index_line,
    format_unusable_index_line,
    fragmentation_index_for,
    node_stat_items,
    numa_event_items,
    render_buddyinfo,
    render_directmap,
    render_extfrag_index,
    render_pagetypeinfo,
    render_show_mem_zone,
    render_unusable_index,
    render_vmstat,
    render_zoneinfo,
    unusable_free_index,
    vmstat_items,
    zone_stat_items,
)

KERNELS = ("7.2", "6.1")
# Model numbering, independent of the module under test.
MT_INDEX = {"Unmovable": 0, "Movable": 1, "Reclaimable": 2, "HighAtomic": 3, "CMA": 4, "Isolate": 5}
N_SNAPSHOTS = {"7.2": 36, "6.1": 12}

ZoneKey = tuple[int, str]


# ---------------------------------------------------------------------------
# Test-side parsers
# ---------------------------------------------------------------------------

_ZONE_HDR = re.compile(r"^Node (\d+), zone +(\S+) ")


def parse_buddyinfo(text: str) -> dict[ZoneKey, list[int]]:
    out: dict[ZoneKey, list[int]] = {}
    for line in text.splitlines():
        m = _ZONE_HDR.match(line)
        assert m, line
        out[(int(m.group(1)), m.group(2))] = [int(x) for x in line[m.end():].split()]
    return out


def parse_pagetypeinfo(text: str) -> tuple[int, dict[ZoneKey, list[list[int]]],
                                           dict[ZoneKey, list[int]], list[str]]:
    """-> (pageblock_order, free_counts[order][mt], block_counts[mt], row names)."""
    pb_order = -1
    free: dict[ZoneKey, list[list[int]]] = {}
    blocks: dict[ZoneKey, list[int]] = {}
    block_names: list[str] = []
    row_re = re.compile(r"^Node +(\d+), zone +(\S+), type +(\S+) (.*)$")
    for line in text.splitlines():
        if line.startswith("Page block order:"):
            pb_order = int(line.split(":")[1])
        elif line.startswith(("Pages per block:", "Free pages count")) or not line:
            continue
        elif line.startswith("Number of blocks type"):
            block_names = line[len("Number of blocks type"):].split()
        elif m := row_re.match(line):
            key = (int(m.group(1)), m.group(2))
            counts = [int(tok.lstrip(">")) for tok in m.group(4).split()]
            table = free.setdefault(key, [[0] * 6 for _ in counts])
            for order, c in enumerate(counts):
                table[order][MT_INDEX[m.group(3)]] = c
        elif m := _ZONE_HDR.match(line):
            counts = [int(x) for x in line[m.end():].split()]
            row = [0] * 6
            for name, c in zip(block_names, counts, strict=True):
                row[MT_INDEX[name]] = c
            blocks[(int(m.group(1)), m.group(2))] = row
        else:
            raise AssertionError(f"unparsed pagetypeinfo line {line!r}")
    return pb_order, free, blocks, block_names


@dataclasses.dataclass
class _RawZone:
    node: int
    name: str
    fields: dict[str, int] = dataclasses.field(default_factory=dict)
    items: dict[str, int] = dataclasses.field(default_factory=dict)
    item_order: list[str] = dataclasses.field(default_factory=list)
    protection: list[int] = dataclasses.field(default_factory=list)
    pcp: list[PcpView] = dataclasses.field(default_factory=list)
    thresholds: list[int] = dataclasses.field(default_factory=list)


def parse_zoneinfo(text: str) -> tuple[dict[int, dict[str, int]], dict[int, list[str]],
                                       list[_RawZone]]:
    """-> (node items, node item order, zones in file order)."""
    node_items: dict[int, dict[str, int]] = {}
    node_order: dict[int, list[str]] = {}
    zones: list[_RawZone] = []
    mode = ""
    for line in text.splitlines():
        if m := re.match(r"^Node (\d+), zone +(\S+)$", line):
            zones.append(_RawZone(int(m.group(1)), m.group(2)))
            mode = "zone"
        elif line == "  per-node stats":
            mode = "node"
            node_items[zones[-1].node] = {}
            node_order[zones[-1].node] = []
        elif m := re.match(r"^      (\S+) +(\d+)$", line):
            if mode == "node":
                node_items[zones[-1].node][m.group(1)] = int(m.group(2))
                node_order[zones[-1].node].append(m.group(1))
            else:
                zones[-1].items[m.group(1)] = int(m.group(2))
                zones[-1].item_order.append(m.group(1))
        elif m := re.match(r"^  pages free +(\d+)$", line):
            mode = "zone"
            zones[-1].fields["free"] = int(m.group(1))
        elif m := re.match(r"^        (boost|min|low|high|promo|spanned|present|managed|cma) +(\d+)$",
                           line):
            zones[-1].fields[m.group(1)] = int(m.group(2))
        elif m := re.match(r"^        protection: \((.*)\)$", line):
            zones[-1].protection = [int(x) for x in m.group(1).split(", ")]
        elif line == "  pagesets":
            mode = "pcp"
        elif m := re.match(r"^    cpu: (\d+)$", line):
            zones[-1].pcp.append(PcpView(cpu=int(m.group(1)), count=0, high=0, batch=0))
        elif m := re.match(r"^ {14}(count|high|batch|high_min|high_max): +(-?\d+)$", line):
            setattr(zones[-1].pcp[-1], m.group(1), int(m.group(2)))
        elif m := re.match(r"^  vm stats threshold: (\d+)$", line):
            zones[-1].thresholds.append(int(m.group(1)))
        elif m := re.match(
                r"^  (node_unreclaimable|start_pfn|reserved_highatomic|free_highatomic): +(\d+)$",
                line):
            zones[-1].fields[m.group(1)] = int(m.group(2))
        else:
            raise AssertionError(f"unparsed zoneinfo line {line!r}")
    return node_items, node_order, zones


def parse_index_line(line: str) -> tuple[int, str, list[int]]:
    """Invert "%d.%03d" with C semantics: index == int_part * 1000 + frac_part."""
    m = _ZONE_HDR.match(line)
    assert m, line
    idx = []
    for tok in line[m.end():].split():
        ip, frac = tok.split(".")
        idx.append(int(ip) * 1000 + int(frac))
    return int(m.group(1)), m.group(2), idx


def load_snapshot(kernel: str, snap: Path) -> tuple[list[NodeView], int]:
    """Views of one snapshot from its zoneinfo, pagetypeinfo and buddyinfo."""
    node_items, node_order, raw = parse_zoneinfo((snap / "zoneinfo").read_text())
    pb_order, free, blocks, block_names = parse_pagetypeinfo((snap / "pagetypeinfo").read_text())
    buddy = parse_buddyinfo((snap / "buddyinfo").read_text())
    names = MIGRATETYPE_NAMES_7_2 if kernel == "7.2" else MIGRATETYPE_NAMES_6_1
    assert tuple(block_names) == names
    for order in node_order.values():
        assert tuple(order) == node_stat_items(kernel)

    nodes: dict[int, NodeView] = {}
    populated: set[ZoneKey] = set()
    for rz in raw:
        node = nodes.setdefault(rz.node, NodeView(node=rz.node, zones=[],
                                                  node_items=node_items.get(rz.node, {})))
        key = (rz.node, rz.name)
        f = rz.fields
        items = dict(rz.items)
        if f["present"]:
            populated.add(key)
            assert tuple(rz.item_order) == zone_stat_items(kernel) + numa_event_items(kernel)
            assert items["nr_free_pages"] == f["free"]
            assert len(set(rz.thresholds)) == 1
        n_orders = len(buddy[key]) if key in buddy else 11
        zone = ZoneView(
            node=rz.node, name=rz.name, zone_idx=len(node.zones),
            start_pfn=f.get("start_pfn", 0), spanned=f["spanned"], present=f["present"],
            managed=f["managed"],
            free_counts=free.get(key, [[0] * 6 for _ in range(n_orders)]),
            nr_free=buddy.get(key, [0] * n_orders),
            block_counts=blocks.get(key, [0] * 6),
            wmark_min=f["min"], wmark_low=f["low"], wmark_high=f["high"],
            wmark_promo=f.get("promo", 0), boost=f["boost"], protection=rz.protection,
            nr_free_pages=f["free"], zone_items=items, pcp=rz.pcp, cma_pages=f["cma"],
            nr_free_pages_blocks=items.pop("nr_free_pages_blocks", 0),
            nr_free_cma=items.pop("nr_free_cma", 0),
            stat_threshold=rz.thresholds[0] if rz.thresholds else 0,
            node_unreclaimable=f.get("node_unreclaimable", 0),
            reserved_highatomic=f.get("reserved_highatomic", 0),
            free_highatomic=f.get("free_highatomic", 0),
        )
        items.pop("nr_free_pages", None)  # rendered from the nr_free_pages field
        node.zones.append(zone)
    # The three files agree on which zones are populated.
    assert populated == set(buddy) == set(free) == set(blocks)
    return list(nodes.values()), pb_order


def snapshots(traces: Path) -> list[tuple[str, Path]]:
    out = [(k, s) for k in KERNELS for s in sorted((traces / f"linux-{k}").glob("*/snap_*"))]
    for k in KERNELS:
        assert sum(1 for kk, _ in out if kk == k) == N_SNAPSHOTS[k]
    return out


# ---------------------------------------------------------------------------
# Round trips on the real files
# ---------------------------------------------------------------------------


def _diff(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())):
        if x != y:
            return f"line {i + 1}: rendered {x!r} != real {y!r}"
    return f"lengths differ: {len(a)} != {len(b)}"


@pytest.fixture(scope="module")
def loaded(traces_dir: Path) -> list[tuple[str, Path, list[NodeView], int]]:
    return [(k, s, *load_snapshot(k, s)) for k, s in snapshots(traces_dir)]


def test_buddyinfo_roundtrip(loaded: list[tuple[str, Path, list[NodeView], int]]) -> None:
    for kernel, snap, nodes, _ in loaded:
        real = (snap / "buddyinfo").read_text()
        got = render_buddyinfo(nodes, kernel)
        assert got == real, f"{snap}: {_diff(got, real)}"


def test_pagetypeinfo_roundtrip(loaded: list[tuple[str, Path, list[NodeView], int]]) -> None:
    for kernel, snap, nodes, pb_order in loaded:
        real = (snap / "pagetypeinfo").read_text()
        got = render_pagetypeinfo(nodes, kernel, pageblock_order=pb_order)
        assert got == real, f"{snap}: {_diff(got, real)}"
        rows = sum(1 for line in real.splitlines() if ", type " in line)
        n_populated = sum(z.populated for n in nodes for z in n.zones)
        assert rows == n_populated * (6 if kernel == "7.2" else 5)


def test_zoneinfo_roundtrip(loaded: list[tuple[str, Path, list[NodeView], int]]) -> None:
    for kernel, snap, nodes, _ in loaded:
        real = (snap / "zoneinfo").read_text()
        got = render_zoneinfo(nodes, kernel)
        assert got == real, f"{snap}: {_diff(got, real)}"
        # Every zone type is listed, populated or not.
        assert [z.name for z in nodes[0].zones] == ["DMA", "DMA32", "Normal", "Movable", "Device"]


def test_vmstat_roundtrip(traces_dir: Path) -> None:
    for kernel, snap in snapshots(traces_dir):
        real = (snap / "vmstat").read_text()
        items = {}
        for line in real.splitlines():
            name, value = line.split(" ")
            items[name] = int(value)
        assert tuple(items) == vmstat_items(kernel)
        got = render_vmstat(items, kernel)
        assert got == real, f"{snap}: {_diff(got, real)}"


def test_extfrag_index_from_buddyinfo(
        loaded: list[tuple[str, Path, list[NodeView], int]]) -> None:
    # Every real extfrag_index is computed from the nr_free of the same
    # snapshot's buddyinfo (no file needs a fallback).
    for kernel, snap, nodes, _ in loaded:
        real = (snap / "extfrag_index").read_text()
        got = render_extfrag_index(nodes, kernel)
        assert got == real, f"{snap}: {_diff(got, real)}"


def test_unusable_index(loaded: list[tuple[str, Path, list[NodeView], int]]) -> None:
    """Computed from buddyinfo, with a per-zone fallback for zones that moved.

    /proc/buddyinfo and extfrag/unusable_index are read by different `cat`
    processes, so a zone may change in between.  A zone whose buddyinfo line is
    the same before and after the extfrag read (buddyinfo.after_kpageflags)
    must match exactly.  A zone that moved must match the computation from
    either reading; failing that (the read fell between them) the parsed
    numbers are fed through the line formatter, and this may happen only rarely.
    """
    lines = fallbacks = 0
    for kernel, snap, nodes, _ in loaded:
        real = (snap / "extfrag_unusable_index").read_text().splitlines(keepends=True)
        after = parse_buddyinfo((snap / "buddyinfo.after_kpageflags").read_text())
        zones = [z for n in nodes for z in n.zones if z.populated]
        got = render_unusable_index(nodes, kernel).splitlines(keepends=True)
        assert len(got) == len(real) == len(zones)
        for zone, g, r in zip(zones, got, real):
            lines += 1
            if g == r:
                continue
            key = (zone.node, zone.name)
            assert after[key] != zone.nr_free, f"{snap} {zone.name}: stable zone, {g!r} != {r!r}"
            moved = dataclasses.replace(zone, nr_free=after[key])
            alt = render_unusable_index([NodeView(zone.node, [moved], {})], kernel)
            if alt == r:
                continue
            node, name, idx = parse_index_line(r)
            assert all(0 <= i <= 1000 for i in idx) and idx == sorted(idx)
            assert format_unusable_index_line(node, name, idx) == r
            fallbacks += 1
    assert lines == 132
    assert fallbacks <= 3, fallbacks


def test_directmap_against_meminfo(traces_dir: Path) -> None:
    for _, snap in snapshots(traces_dir):
        dm = [line for line in (snap / "meminfo").read_text().splitlines(keepends=True)
              if line.startswith("DirectMap")]
        kb = {line.split(":")[0]: int(line.split()[1]) for line in dm}
        assert kb["DirectMap4k"] % 4 == 0 and kb["DirectMap2M"] % 2048 == 0
        gb = "DirectMap1G" in kb
        got = render_directmap(kb["DirectMap4k"] // 4, kb["DirectMap2M"] // 2048,
                               kb.get("DirectMap1G", 0) // (1 << 20), gb)
        assert got == "".join(dm)


# ---------------------------------------------------------------------------
# Unit tests (no traces needed)
# ---------------------------------------------------------------------------


def _nr(**orders: int) -> list[int]:
    nr = [0] * 11
    for k, v in orders.items():
        nr[int(k[1:])] = v
    return nr


def test_fill_contig_page_info() -> None:
    nr = _nr(o0=3, o2=1, o10=2)
    assert fill_contig_page_info(nr, 0) == ContigPageInfo(3 + 4 + 2048, 6, 3 + 4 + 2048)
    assert fill_contig_page_info(nr, 2) == ContigPageInfo(2055, 6, 1 + 2 * 256)
    assert fill_contig_page_info(nr, 3) == ContigPageInfo(2055, 6, 2 * 128)


def test_fragmentation_index_worked_examples() -> None:
    def fi(nr: list[int], order: int) -> int:
        return fragmentation_index_for(order, fill_contig_page_info(nr, order))

    # A suitable block exists: -1000, printed "-1.000".
    assert fi(_nr(o10=1), 3) == -1000
    # Nothing free: 0.
    assert fi([0] * 11, 5) == 0
    # Eight order-0 pages, order-3 request: 1000 - (1000 + 8000/8)/8 = 750.
    assert fi(_nr(o0=8), 3) == 750
    # 4 x order-0 + 2 x order-1 = 8 pages in 6 blocks, order 2: 1000 - 3000/6 = 500.
    assert fi(_nr(o0=4, o1=2), 2) == 500
    # One free page, order-1 request: 1000 - (1000 + 500) = -500.
    assert fi(_nr(o0=1), 1) == -500
    # One order-3 block, order-5 request: 1000 - (1000 + 250) = -250.
    assert fi(_nr(o3=1), 5) == -250
    # Lots of small blocks: close to 1 (fragmentation).
    assert fi(_nr(o0=1000), 10) == 1000 - (1000 + 1000 * 1000 // 1024) // 1000
    # Order above MAX_PAGE_ORDER: the kernel warns and returns 0.
    assert fi(_nr(o0=1), 11) == 0
    # Printed forms, C truncation toward zero with "%2d.%03d".
    line = format_extfrag_index_line(0, "Normal", [-1000, 0, 750, -500, -250, -5, 1000])
    assert line == "Node 0, zone   Normal -1.000  0.000  0.750  0.-500  0.-250  0.-05  1.000 \n"


def test_unusable_free_index_worked_examples() -> None:
    def ui(nr: list[int], order: int) -> int:
        return unusable_free_index(order, fill_contig_page_info(nr, order))

    dma = _nr(o9=1, o10=3)  # the 7.2 DMA zone at boot: 3584 pages
    assert [ui(dma, o) for o in range(11)] == [0] * 10 + [142]  # 512 * 1000 // 3584
    assert ui([0] * 11, 4) == 1000  # nothing free: all unusable
    assert ui(_nr(o0=1, o1=1, o2=1), 2) == 428  # (7 - 4) * 1000 // 7
    assert ui(_nr(o0=5), 1) == 1000
    assert format_unusable_index_line(0, "DMA", [0, 142, 1000]) == \
        "Node 0, zone      DMA 0.000 0.142 1.000 \n"


def test_extfrag_for_order() -> None:
    assert extfrag_for_order([0] * 11, 9) == 0
    assert extfrag_for_order(_nr(o0=1, o1=1, o2=1), 2) == 42  # 3 * 100 // 7
    assert extfrag_for_order(_nr(o9=3), 9) == 0
    assert extfrag_for_order(_nr(o8=1, o9=1), 9) == 33


def _zone(name: str = "Normal", **kw: object) -> ZoneView:
    base: dict[str, object] = dict(
        node=0, name=name, zone_idx=2, start_pfn=0x100000, spanned=4096, present=4096,
        managed=4000, free_counts=[[0] * 6 for _ in range(11)], nr_free=[0] * 11,
        block_counts=[0, 8, 0, 0, 0, 0], wmark_min=10, wmark_low=12, wmark_high=14,
        wmark_promo=16, boost=0, protection=[0, 0, 0, 0, 0], nr_free_pages=0,
        zone_items={}, pcp=[PcpView(0, 5, 100, 10, 50, 200)], stat_threshold=4)
    base.update(kw)
    return ZoneView(**base)  # type: ignore[arg-type]


def test_show_mem_zone_line() -> None:
    fc = [[0] * 6 for _ in range(11)]
    fc[0][0], fc[0][1] = 1, 2          # (UM)
    fc[2][2] = 1                       # (E)
    fc[10][1], fc[10][5] = 1, 1        # (MI)
    zone = _zone(free_counts=fc, nr_free=_nr(o0=3, o2=1, o10=2))
    expect = ("Node 0 Normal: 3*4kB (UM) 0*8kB 1*16kB (E) 0*32kB 0*64kB 0*128kB 0*256kB "
              "0*512kB 0*1024kB 0*2048kB 2*4096kB (MI) = 8220kB")
    assert render_show_mem_zone(zone, "7.2") == expect
    assert render_show_mem_zone(zone, "6.1") == expect
    # CMA and HighAtomic letters, in migratetype order (7.2 only).
    fc[10][3], fc[10][4] = 1, 1
    zone = _zone(free_counts=fc, nr_free=_nr(o0=3, o2=1, o10=4))
    assert render_show_mem_zone(zone, "7.2").endswith("4*4096kB (MHCI) = 16412kB")
    with pytest.raises(ValueError):
        render_show_mem_zone(zone, "6.1")
    # nr_free counts but empty lists: the kernel prints "() ".
    zone = _zone(nr_free=_nr(o1=1))
    assert render_show_mem_zone(zone, "7.2").startswith("Node 0 Normal: 0*4kB 1*8kB () 0*16kB")
    with pytest.raises(ValueError):
        render_show_mem_zone(_zone(present=0), "7.2")


def test_directmap_formatting() -> None:
    assert render_directmap(7639, 3057, 0, False) == (
        "DirectMap4k:       30556 kB\nDirectMap2M:     6260736 kB\n")
    assert render_directmap(1, 0, 2, True) == (
        "DirectMap4k:           4 kB\nDirectMap2M:           0 kB\nDirectMap1G:     2097152 kB\n")
    # %8lu is a minimum width.
    assert render_directmap(0, 100000, 0, False).splitlines()[1] == "DirectMap2M:    204800000 kB"


def test_pagetypeinfo_cap_and_rows() -> None:
    fc = [[0] * 6 for _ in range(11)]
    fc[0][1] = 100000
    fc[1][1] = 99999
    fc[2][5] = 3
    nodes = [NodeView(0, [_zone(free_counts=fc)], {})]
    text72 = render_pagetypeinfo(nodes, "7.2")
    movable = next(line for line in text72.splitlines() if "type      Movable" in line)
    assert movable.startswith("Node    0, zone   Normal, type      Movable >100000  99999      0 ")
    iso72 = next(line for line in text72.splitlines() if "Isolate" in line and "type" in line)
    text61 = render_pagetypeinfo(nodes, "6.1")
    iso61 = next(line for line in text61.splitlines() if "Isolate" in line and "type" in line)
    assert iso72 == iso61
    assert "CMA" not in text61 and "          CMA" in text72
    assert text61.count(", type ") == 5 and text72.count(", type ") == 6


def test_zoneinfo_padding_and_sections() -> None:
    empty = _zone("Movable", present=0, spanned=0, managed=0)
    node = NodeView(0, [_zone(), empty], {"nr_mapped": 429, "nr_file_pages": 928})
    text = render_zoneinfo([node], "7.2")
    assert "\n      nr_mapped    429\n      nr_file_pages 928\n" in text
    assert "\n  per-node stats\n" in text
    assert text.endswith("Node 0, zone  Movable\n  pages free     0\n        boost    0\n"
                         "        min      10\n        low      12\n        high     14\n"
                         "        promo    16\n        spanned  0\n        present  0\n"
                         "        managed  0\n        cma      0\n"
                         "        protection: (0, 0, 0, 0, 0)\n")
    assert "              count:    5\n              high:     100\n" in text
    text61 = render_zoneinfo([node], "6.1")
    assert "  promo  " not in text61 and "high_min" not in text61
    assert "              count: 5\n              high:  100\n              batch: 10\n" in text61
    assert text61.count("per-node stats") == 1
    # Per-node stats go before the first *populated* zone.
    node2 = NodeView(0, [empty, _zone()], {})
    text2 = render_zoneinfo([node2], "7.2")
    assert text2.index("per-node stats") > text2.index("zone   Normal")


def test_vmstat_lists() -> None:
    assert len(VMSTAT_ITEMS_7_2) == 198 and len(VMSTAT_ITEMS_6_1) == 171
    for k in KERNELS:
        names = vmstat_items(k)
        assert len(set(names)) == len(names) and names[-1] == "nr_unstable"
        head = zone_stat_items(k) + numa_event_items(k) + node_stat_items(k)
        assert names[:len(head)] == head
        text = render_vmstat({"nr_unstable": 7, "pgfree": 5}, k)
        assert text.endswith("nr_unstable 0\n") and "\npgfree 5\n" in text
        assert len(text.splitlines()) == len(names)
    assert "nr_free_pages_blocks" in zone_stat_items("7.2")
    assert "nr_bounce" in zone_stat_items("6.1")


def test_unknown_kernel_rejected() -> None:
    nodes = [NodeView(0, [_zone()], {})]
    for fn in (render_buddyinfo, render_pagetypeinfo, render_zoneinfo,
               render_extfrag_index, render_unusable_index):
        with pytest.raises(ValueError):
            fn(nodes, "6.6")
    with pytest.raises(ValueError):
        render_vmstat({}, "7.1")
    with pytest.raises(ValueError):
        render_show_mem_zone(_zone(), "")
    with pytest.raises(ValueError):
        vmstat_items("5.10")
