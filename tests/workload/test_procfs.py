"""Tests for pagealloc.workload.procfs against the real /proc files of every snapshot."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest

from pagealloc.workload.procfs import (
    ProcFormatError,
    meminfo_directmap,
    parse_buddyinfo,
    parse_extfrag,
    parse_meminfo,
    parse_pagetypeinfo,
    parse_vmstat,
    parse_zoneinfo,
    zoneinfo_node_stats,
)
from pagealloc.workload.snapshot import BuddyDump, load_buddydump

TYPES_72 = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"]
TYPES_61 = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"]


def snapdirs(traces: Path, kernel: str) -> list[Path]:
    return sorted((traces / f"linux-{kernel}").glob("*/snap_*"))


@functools.lru_cache(maxsize=None)
def _dump(path: str) -> BuddyDump:
    return load_buddydump(path)


def read(d: Path, name: str) -> str:
    return (d / name).read_text()


KERNELS = pytest.mark.parametrize("kernel", ["6.1", "7.2"])


# ---------------------------------------------------------------------------
# Real files


@KERNELS
def test_every_proc_file_parses(traces_dir: Path, kernel: str) -> None:
    dirs = snapdirs(traces_dir, kernel)
    assert len(dirs) == (36 if kernel == "7.2" else 12)
    zones = ["DMA", "DMA32", "Normal"] if kernel == "7.2" else ["DMA", "DMA32"]
    for d in dirs:
        for name in ("buddyinfo", "buddyinfo.after_kpageflags"):
            rows = parse_buddyinfo(read(d, name), str(d / name))
            assert [(r.node, r.zone) for r in rows] == [(0, z) for z in zones], d
            assert all(len(r.counts) == 11 for r in rows)
        pti = parse_pagetypeinfo(read(d, "pagetypeinfo"))
        assert pti.zones() == [(0, z) for z in zones]
        zi = parse_zoneinfo(read(d, "zoneinfo"))
        assert [z.name for z in zi] == ["DMA", "DMA32", "Normal", "Movable", "Device"]
        mi = parse_meminfo(read(d, "meminfo"))
        assert mi["MemTotal"] > mi["MemFree"] > 0
        vm = parse_vmstat(read(d, "vmstat"))
        assert vm[0][0] == "nr_free_pages"
        assert len({name for name, _v in vm}) == len(vm)
        for name in ("extfrag_index", "extfrag_unusable_index"):
            rows3 = parse_extfrag(read(d, name))
            assert [(n, z) for n, z, _f in rows3] == [(0, z) for z in zones]
            assert all(len(f) == 11 for _n, _z, f in rows3)


@KERNELS
def test_pagetypeinfo_structure(traces_dir: Path, kernel: str) -> None:
    types = TYPES_72 if kernel == "7.2" else TYPES_61
    for d in snapdirs(traces_dir, kernel):
        pti = parse_pagetypeinfo(read(d, "pagetypeinfo"))
        assert (pti.pageblock_order, pti.pages_per_block) == (9, 512)
        assert pti.orders == list(range(11))
        assert pti.type_names == types
        assert len(pti.free) == len(types) * len(pti.zones())
        assert not any(any(r.capped) for r in pti.free)
        assert pti.mixed_blocks == []
        dump = _dump(str(d / "gt_buddydump.xz"))
        for b in pti.blocks:
            assert list(b.counts) == types
            # Every pageblock of the zone is counted once: as many as the dump's B lines.
            assert b.total() == len(dump.zone(b.zone).blocks), (d, b.zone)
            assert b.counts["HighAtomic"] == b.counts["Isolate"] == b.counts.get("CMA", 0) == 0


def test_pagetypeinfo_values(traces_dir: Path) -> None:
    pti = parse_pagetypeinfo(read(traces_dir / "linux-7.2/anon/snap_before", "pagetypeinfo"))
    assert pti.blocks_for("DMA") == {"Unmovable": 1, "Movable": 7, "Reclaimable": 0, "HighAtomic": 0, "CMA": 0, "Isolate": 0}
    assert pti.blocks_for("DMA32")["Movable"] == 1526
    normal = pti.blocks_for("Normal")
    assert (normal["Unmovable"], normal["Reclaimable"], normal["Movable"]) == (156, 2, 1378)
    assert pti.free_row("DMA", "Movable").counts == [0] * 9 + [1, 3]
    assert pti.free_row("DMA", "Movable").free_pages() == 3584
    assert pti.free_row("DMA32", "Movable").counts[10] == 733
    pti61 = parse_pagetypeinfo(read(traces_dir / "linux-6.1/anon/snap_before", "pagetypeinfo"))
    assert pti61.blocks_for("DMA32") == {"Unmovable": 120, "Movable": 378, "Reclaimable": 6, "HighAtomic": 0, "Isolate": 0}
    with pytest.raises(KeyError):
        pti61.blocks_for("Normal")


@KERNELS
def test_buddyinfo_vs_pagetypeinfo_shape(traces_dir: Path, kernel: str) -> None:
    """Separate reads, so only shapes and zone order are compared, plus one
    file pair known to be unchanged between the reads."""
    for d in snapdirs(traces_dir, kernel):
        bi = parse_buddyinfo(read(d, "buddyinfo"))
        pti = parse_pagetypeinfo(read(d, "pagetypeinfo"))
        assert [(r.node, r.zone) for r in bi] == pti.zones()
        for r in bi:
            assert len(pti.counts_per_order(r.zone)) == len(r.counts)
    d = traces_dir / "linux-7.2/anon/snap_before"
    bi = parse_buddyinfo(read(d, "buddyinfo"))
    pti = parse_pagetypeinfo(read(d, "pagetypeinfo"))
    assert bi[0].counts == [0] * 9 + [1, 3] == pti.counts_per_order("DMA")
    assert bi[0].free_pages() == 3584


@KERNELS
def test_zoneinfo_matches_dump_statics(traces_dir: Path, kernel: str) -> None:
    """README 6.5: static Z and C fields equal those in zoneinfo."""
    for d in snapdirs(traces_dir, kernel):
        dump = _dump(str(d / "gt_buddydump.xz"))
        zi = {z.name: z for z in parse_zoneinfo(read(d, "zoneinfo"))}
        for z in dump.zones:
            q = zi[z.name]
            assert q.populated
            assert (q.present, q.managed, q.min, q.low, q.high, q.boost) == (
                z.present, z.managed, z.wmark_min, z.wmark_low, z.wmark_high, z.boost
            ), (d, z.name)
            assert q.start_pfn == z.start_pfn and q.spanned == z.end_pfn - z.start_pfn
            assert [(p.cpu, p.batch, p.high_min, p.high_max) for p in q.pagesets] == [
                (p.cpu, p.batch, p.high_min, p.high_max) for p in z.pcp
            ]
            if kernel == "7.2":
                assert q.reserved_highatomic == z.reserved_highatomic
                assert q.free_highatomic == z.nr_free_highatomic
        populated = {z.name for z in dump.zones}
        for name, q in zi.items():
            if name not in populated:
                assert not q.populated and q.present == 0 and q.pagesets == [] and q.items == {}
                assert q.start_pfn is None and q.vm_stats_threshold is None


def test_zoneinfo_fields_per_kernel(traces_dir: Path) -> None:
    zi = parse_zoneinfo(read(traces_dir / "linux-7.2/anon/snap_before", "zoneinfo"))
    dma, dma32, normal, movable, device = zi
    assert [z.promo for z in (dma, dma32, normal)] == [72, 14686, 14805]
    assert dma.protection == (0, 2951, 5914, 5914, 5914)
    assert dma32.protection == (0, 0, 2962, 2962, 2962)
    assert normal.protection == (0,) * 5
    assert dma.pagesets[0].high == 0 and (dma.pagesets[0].high_min, dma.pagesets[0].high_max) == (52, 480)
    assert [z.vm_stats_threshold for z in (dma, dma32, normal)] == [2, 12, 12]
    assert dma.pagesets[0].vm_stats_threshold == 2
    assert dma.items["nr_free_pages"] == dma.pages_free == 3584
    assert dma.items["nr_free_pages_blocks"] == 3584
    assert (dma.start_pfn, dma32.start_pfn, normal.start_pfn) == (1, 0x1000, 0x100000)
    assert (dma.reserved_highatomic, dma.free_highatomic, dma.node_unreclaimable) == (0, 0, 0)
    assert dma.cma == 0
    assert (movable.min, movable.promo, movable.populated) == (32, 32, False)
    assert device.line > movable.line > normal.line
    stats = zoneinfo_node_stats(zi)
    assert list(stats) == [0] and stats[0] is dma.node_stats
    assert stats[0]["nr_vmalloc"] == 2356
    assert dma32.node_stats is None

    zi61 = parse_zoneinfo(read(traces_dir / "linux-6.1/anon/snap_before", "zoneinfo"))
    dma, dma32, normal, _movable, _device = zi61
    assert all(z.promo is None for z in zi61)
    assert dma.protection == (0, 958, 958, 958, 958)
    assert (dma32.min, dma32.low, dma32.high) == (11088, 13860, 16632)
    assert dma32.pagesets[0].high_min is None and dma32.pagesets[0].high == 13860
    assert dma32.reserved_highatomic is None and dma32.free_highatomic is None
    assert dma32.vm_stats_threshold == 8
    assert not normal.populated and normal.spanned == 0
    assert "nr_bounce" in dma32.items and "nr_free_pages_blocks" not in dma32.items
    assert "nr_writeback_temp" in zoneinfo_node_stats(zi61)[0]


@KERNELS
def test_meminfo_directmap(traces_dir: Path, kernel: str) -> None:
    for d in snapdirs(traces_dir, kernel):
        mi = parse_meminfo(read(d, "meminfo"))
        dm = meminfo_directmap(mi)
        assert dm.kb_1g == 0 and "DirectMap1G" not in mi
        assert dm.kb_4k == mi["DirectMap4k"] > 0 and dm.kb_2m == mi["DirectMap2M"] > 0
        ram_kb = (6144 if kernel == "7.2" else 1024) * 1024
        assert ram_kb - 4096 <= dm.total_kb() <= ram_kb  # direct map covers (almost) all RAM
        assert mi["HugePages_Total"] == 0 and mi["Hugepagesize"] == 2048
        if kernel == "7.2":
            assert mi["CmaTotal"] == 0


def test_vmstat_order_and_values(traces_dir: Path) -> None:
    d = traces_dir / "linux-6.1/anon/snap_before"
    vm = parse_vmstat(read(d, "vmstat"))
    assert vm[:2] == [("nr_free_pages", 186757), ("nr_zone_inactive_anon", 342)]
    assert dict(vm)["nr_free_pages"] == 186757


# ---------------------------------------------------------------------------
# Synthetic texts

PTI = """\
Page block order: 9
Pages per block:  512

Free pages count per migrate type at order       0      1      2 
Node    0, zone   Normal, type    Unmovable >100000      5      0 
Node    0, zone   Normal, type      Movable      1      0      2 

Number of blocks type     Unmovable      Movable 
Node 0, zone   Normal            3            4 
Number of mixed blocks    Unmovable      Movable 
Node 0, zone   Normal            1            0 
"""


def test_pagetypeinfo_capped_and_mixed() -> None:
    pti = parse_pagetypeinfo(PTI)
    row = pti.free_row("Normal", "Unmovable")
    assert row.counts == [100000, 5, 0] and row.capped == [True, False, False]
    assert pti.free_row("Normal", "Movable").capped == [False] * 3
    assert pti.type_names == ["Unmovable", "Movable"]
    assert pti.blocks_for("Normal") == {"Unmovable": 3, "Movable": 4}
    assert pti.mixed_blocks[0].counts == {"Unmovable": 1, "Movable": 0}
    assert pti.counts_per_order("Normal") == [100001, 5, 2]


def _bad(text: str, lineno: int, new: str) -> str:
    lines = text.splitlines()
    lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


def test_pagetypeinfo_errors() -> None:
    with pytest.raises(ProcFormatError, match=r"^pti:5: field 'order 1': invalid literal '5x'$"):
        parse_pagetypeinfo(_bad(PTI, 5, "Node    0, zone   Normal, type    Unmovable 1 5x 0"), "pti")
    with pytest.raises(ProcFormatError, match=r"^pti:6: field 'order 2': 2 values for 3 orders$"):
        parse_pagetypeinfo(_bad(PTI, 6, "Node    0, zone   Normal, type      Movable      1      0"), "pti")
    with pytest.raises(ProcFormatError, match=r"^pti:9: field 'Movable': invalid literal 'x'$"):
        parse_pagetypeinfo(_bad(PTI, 9, "Node 0, zone   Normal            3            x"), "pti")
    with pytest.raises(ProcFormatError, match=r"^pti:1: field 'Page block order': missing$"):
        parse_pagetypeinfo("\n".join(PTI.splitlines()[1:]), "pti")
    with pytest.raises(ProcFormatError, match=r"^pti:6: field 'type': type Unmovable repeated"):
        parse_pagetypeinfo(_bad(PTI, 6, "Node    0, zone   Normal, type    Unmovable 1 0 2"), "pti")
    with pytest.raises(ProcFormatError, match=r"^pti:2: field 'line': unrecognised line"):
        parse_pagetypeinfo(_bad(PTI, 2, "Bogus line"), "pti")


def test_buddyinfo_and_extfrag_errors(tmp_path: Path) -> None:
    text = "Node 0, zone      DMA      0      1\nNode 0, zone    DMA32      2     x3\n"
    with pytest.raises(ProcFormatError, match=r"^buddyinfo:2: field 'order 1': invalid literal 'x3'$"):
        parse_buddyinfo(text)
    with pytest.raises(ProcFormatError, match=r"^bi:1: field 'node'"):
        parse_buddyinfo("Nod 0, zone DMA 1 2\n", "bi")
    with pytest.raises(ProcFormatError, match=r"^bi:1: field 'zone'"):
        parse_buddyinfo("Node 0, zon DMA 1 2\n", "bi")
    with pytest.raises(ProcFormatError, match=r"^bi:2: field 'order 1': 1 orders, previous rows have 2$"):
        parse_buddyinfo("Node 0, zone DMA 1 2\nNode 0, zone DMA32 1\n", "bi")
    assert parse_extfrag("Node 0, zone   Normal -1.000 0.142\n") == [(0, "Normal", ["-1.000", "0.142"])]
    with pytest.raises(ProcFormatError, match=r"^extfrag_index:1: field 'order 1': invalid number 'abc'$"):
        parse_extfrag("Node 0, zone   Normal -1.000 abc\n")


ZONEINFO = """\
Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 1
  pages free     3584
        boost    0
        min      42
        low      52
        high     62
        spanned  4095
        present  3998
        managed  3840
        protection: (0, 2951)
      nr_free_pages 3584
  pagesets
    cpu: 0
              count:    0
              high:     0
              batch:    1
  vm stats threshold: 2
    cpu: 1
              count:    5
              high:     7
              batch:    1
  vm stats threshold: 3
  node_unreclaimable:  0
  start_pfn:           1
  some_new_field:      9
Node 0, zone   Normal
  pages free     0
        boost    0
        min      0
        low      0
        high     0
        spanned  0
        present  0
        managed  0
        protection: (0, 0)
"""


def test_zoneinfo_synthetic() -> None:
    dma, normal = parse_zoneinfo(ZONEINFO)
    assert [(p.cpu, p.count, p.high, p.vm_stats_threshold) for p in dma.pagesets] == [(0, 0, 0, 2), (1, 5, 7, 3)]
    assert dma.vm_stats_threshold == 2
    assert dma.extra == {"some_new_field": 9}
    assert dma.cma is None and dma.promo is None and dma.protection == (0, 2951)
    assert dma.node_stats == {"nr_inactive_anon": 1}
    assert not normal.populated and normal.node_stats is None


def test_zoneinfo_errors() -> None:
    with pytest.raises(ProcFormatError, match=r"^zi:1: field 'managed': missing in zone DMA$"):
        parse_zoneinfo(ZONEINFO.replace("        managed  3840\n", ""), "zi")
    with pytest.raises(ProcFormatError, match=r"^zi:11: field 'present': repeated$"):
        parse_zoneinfo(_bad(ZONEINFO, 11, "        present  3998"), "zi")
    with pytest.raises(ProcFormatError, match=r"^zi:16: field 'count': invalid literal '1-'$"):
        parse_zoneinfo(_bad(ZONEINFO, 16, "              count:    1-"), "zi")
    with pytest.raises(ProcFormatError, match=r"^zi:12: field 'protection\[1\]': invalid literal 'x'$"):
        parse_zoneinfo(_bad(ZONEINFO, 12, "        protection: (0, x)"), "zi")
    with pytest.raises(ProcFormatError, match=r"^zi:1: field 'node'"):
        parse_zoneinfo("  pages free 3\n", "zi")
    with pytest.raises(ProcFormatError, match=r"^zi:15: field 'batch': missing in pageset"):
        parse_zoneinfo(_bad(ZONEINFO, 18, "              high_min: 1"), "zi")


def test_zoneinfo_error_line_numbers_are_exact() -> None:
    text = _bad(ZONEINFO, 16, "              count:    1-")
    with pytest.raises(ProcFormatError) as info:
        parse_zoneinfo(text, "zi")
    assert (info.value.path, info.value.lineno, info.value.field) == ("zi", 16, "count")


def test_meminfo_and_vmstat_errors() -> None:
    mi = parse_meminfo("MemTotal:  100 kB\nHugePages_Total:   0\n")
    assert mi == {"MemTotal": 100, "HugePages_Total": 0}
    with pytest.raises(ProcFormatError, match=r"^meminfo:2: field 'MemFree': unexpected unit or text '10 MB'$"):
        parse_meminfo("MemTotal:  100 kB\nMemFree: 10 MB\n")
    with pytest.raises(ProcFormatError, match=r"^meminfo:1: field 'MemTotal': invalid literal 'x'$"):
        parse_meminfo("MemTotal:  x kB\n")
    with pytest.raises(ProcFormatError, match=r"^meminfo:1: field 'MemTotal 100 kB': expected"):
        parse_meminfo("MemTotal 100 kB\n")
    assert parse_vmstat("b 2\na 1\n") == [("b", 2), ("a", 1)]
    with pytest.raises(ProcFormatError, match=r"^vmstat:2: field 'a': invalid literal '1.5'$"):
        parse_vmstat("b 2\na 1.5\n")
    with pytest.raises(ProcFormatError, match=r"^vm:1: field 'a': expected 'name value'"):
        parse_vmstat("a 1 2\n", "vm")
