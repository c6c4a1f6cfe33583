"""Loading real kernel states: every dump becomes an exact machine (pagealloc.workload.state)."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest

from pagealloc.mm.freetype import MIGRATE_ISOLATE
from pagealloc.workload.snapshot import load_buddydump
from pagealloc.workload.state import machine_from_snapshot, parse_iomem_ram


def _snapdirs(traces: Path) -> list[Path]:
    return sorted(p for p in traces.glob("linux-*/*/snap_*") if p.is_dir())


@functools.lru_cache(maxsize=None)
def _load(path: str):  # type: ignore[no-untyped-def]
    return machine_from_snapshot(path)


def _expected_buddyinfo(dump) -> str:  # type: ignore[no-untyped-def]
    """/proc/buddyinfo computed independently from the dump's F lines (frag_show_print)."""
    out = []
    for z in dump.zones:
        counts = [0] * 11
        for order, _mt, _pfn in z.free:
            counts[order] += 1
        out.append(f"Node {z.node}, zone {z.name:>8} " + "".join(f"{c:6d} " for c in counts) + "\n")
    return "".join(out)


def test_every_dump_loads_with_all_invariants(traces_dir: Path) -> None:
    """All 48 real dumps (6.1 and 7.2) import and satisfy every invariant of debug.py."""
    dirs = _snapdirs(traces_dir)
    assert len(dirs) == 48
    for d in dirs:
        m = _load(str(d))
        m.check()


def test_buddyinfo_is_what_the_kernel_printed_at_the_dump(traces_dir: Path) -> None:
    """buddyinfo of a loaded dump equals the counts of its free lists, formatted as the kernel does."""
    for d in _snapdirs(traces_dir):
        m = _load(str(d))
        dump = load_buddydump(next(d.glob("gt_buddydump*")))
        assert m.proc("buddyinfo") == _expected_buddyinfo(dump), d


def test_pagetypeinfo_counts_match_the_dump(traces_dir: Path) -> None:
    """Per-(order, type) list lengths and per-type block counts equal the dump's lines."""
    for d in _snapdirs(traces_dir):
        m = _load(str(d))
        dump = load_buddydump(next(d.glob("gt_buddydump*")))
        views = {z.name: z for z in m.node_views()[0].zones}
        for dz in dump.zones:
            v = views[dz.name]
            expect = [[0] * 6 for _ in range(11)]
            for order, mt, _pfn in dz.free:
                expect[order][mt] += 1
            assert v.free_counts == expect, (d, dz.name)
            blocks = [0] * 6
            for _pfn, mt, iso, _skip in dz.blocks:
                blocks[MIGRATE_ISOLATE if iso else mt] += 1
            assert v.block_counts == blocks, (d, dz.name)


def test_unchanged_zones_match_the_real_proc_files(traces_dir: Path) -> None:
    """In the 7.2 captures without the hog nothing happens below 4 GiB (traces README 3):
    the DMA and DMA32 lines of the real buddyinfo and pagetypeinfo equal ours byte for byte."""
    for wl in ("anon", "fork", "pagecache"):
        for d in sorted((traces_dir / "linux-7.2" / wl).glob("snap_*")):
            m = _load(str(d))
            for name in ("buddyinfo", "pagetypeinfo"):
                ours = [ln for ln in m.proc(name).splitlines() if "Normal" not in ln]
                real = [ln for ln in (d / name).read_text().splitlines() if "Normal" not in ln]
                assert ours == real, (d, name)


def test_zoneinfo_static_fields_match(traces_dir: Path) -> None:
    """Watermarks, spans, protection and pcp batch/high_min/high_max equal /proc/zoneinfo."""
    from pagealloc.workload.procfs import parse_zoneinfo
    for d in _snapdirs(traces_dir):
        m = _load(str(d))
        real = {z.name: z for z in parse_zoneinfo((d / "zoneinfo").read_text())}
        for z in m.zones:
            if not z.present_pages:
                continue
            r = real[z.name]
            assert (z.min_wmark_pages(), z.low_wmark_pages(), z.high_wmark_pages()) == (r.min, r.low, r.high)
            if r.promo is not None:
                assert z.promo_wmark_pages() == r.promo
            assert (z.spanned_pages, z.present_pages, z.managed_pages) == (r.spanned, r.present, r.managed)
            assert tuple(z.lowmem_reserve) == r.protection, (d, z.name)
            assert z.stat_threshold == r.vm_stats_threshold
            assert z.pcp[0].batch == r.pagesets[0].batch


def test_kpageflags_marks_movable_and_compound(traces_dir: Path) -> None:
    """After the hog's 2405 THP faults (7.2 frag snap_before) they are order-9 movable compound heads."""
    from pagealloc.mm.mmzone import KIND_COMPOUND, KIND_MOVABLE, PS_ALLOC
    m = _load(str(traces_dir / "linux-7.2" / "frag" / "snap_before"))
    thp = 0
    for pfn in range(0, m.mem.max_pfn, 512):
        if m.mem.pstate[pfn] == PS_ALLOC | 9:
            k = m.mem.pkind[pfn]
            assert k & KIND_COMPOUND and k & KIND_MOVABLE
            thp += 1
    # the hog holds 2405 THPs (traces README 4.2); a few other order-9 folios may exist
    assert 2405 <= thp < 2600


def test_parse_iomem() -> None:
    text = ("00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n"
            "00100000-bffd6fff : System RAM\n  01000000-0225c92f : Kernel code\n"
            "100000000-1bfffffff : System RAM\n")
    assert parse_iomem_ram(text) == [(1, 0x9F), (0x100, 0xBFFD7), (0x100000, 0x1C0000)]


def test_proc_fallback_is_synthesized_and_exact_in_counts(traces_dir: Path, tmp_path: Path) -> None:
    """Without a dump, zoneinfo+pagetypeinfo give a synthesized layout with the same counts."""
    import shutil
    src = traces_dir / "linux-7.2" / "anon" / "snap_before"
    cap = tmp_path / "cap"
    snap = cap / "snap_x"
    snap.mkdir(parents=True)
    for f in ("zoneinfo", "pagetypeinfo", "buddyinfo"):
        shutil.copy(src / f, snap / f)
    m = machine_from_snapshot(snap)
    assert m.synthesized_layout
    m.check()
    real = (src / "pagetypeinfo").read_text()
    assert m.proc("pagetypeinfo") == real
    assert m.proc("buddyinfo") == (src / "buddyinfo").read_text()


def test_missing_snapshot_files_error(tmp_path: Path) -> None:
    from pagealloc.workload.state import StateImportError
    with pytest.raises(StateImportError, match="no gt_buddydump"):
        machine_from_snapshot(tmp_path)


def test_proc_fallback_on_every_real_snapshot(traces_dir: Path, tmp_path: Path) -> None:
    """From only zoneinfo + pagetypeinfo, every real snapshot synthesizes a machine whose
    invariants hold and whose pagetypeinfo equals the kernel's file byte for byte."""
    import shutil
    for i, d in enumerate(_snapdirs(traces_dir)):
        snap = tmp_path / f"cap{i}" / "snap"
        snap.mkdir(parents=True)
        for f in ("zoneinfo", "pagetypeinfo"):
            shutil.copy(d / f, snap / f)
        m = machine_from_snapshot(snap)
        assert m.synthesized_layout
        m.check()
        assert m.proc("pagetypeinfo") == (d / "pagetypeinfo").read_text(), d
