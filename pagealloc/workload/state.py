"""Import a real kernel's allocator state into a :class:`~pagealloc.machine.Machine`.

Two sources, best first:

* an exact ``gt_buddydump`` (:mod:`pagealloc.workload.snapshot`): zones, every pageblock's
  flags, every free block in list order and every pcp list in list order, for 6.1 and 7.2.
  The machine then holds exactly the kernel's state at that instant, so the ``/proc``
  renderers print what the kernel would have printed.  Beside the dump, the capture's
  ``iomem.txt`` gives the RAM ranges, ``sysctl_vm/`` the vm knobs and the snapshot's
  ``kpageflags.xz`` which in-use pages are LRU (movable), reserved, or compound heads.
* ``/proc/kpageflags`` + ``/proc/zoneinfo`` (+ ``/proc/pagetypeinfo``): the free pages are
  exact (``KPF_BUDDY`` marks every page of a free block), block boundaries follow from the
  buddy rules, pageblock types, free lists and pcp pages are inferred
  (:func:`machine_from_kpageflags`, :mod:`pagealloc.workload.kpageflags`); the machine is
  flagged ``synthesized_layout`` and :func:`inference_report` says how much was inferred.
* only ``/proc/zoneinfo`` + ``/proc/pagetypeinfo`` (+ ``/proc/buddyinfo``): the counts are
  exact but the physical layout is not observable, so it is synthesized
  (:func:`machine_from_proc`) and the machine is flagged ``synthesized_layout``.
"""

from __future__ import annotations

import heapq
import lzma
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from pagealloc.config import MachineConfig
from pagealloc.machine import Machine
from pagealloc.mm.freetype import (
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_TYPES,
    MIGRATE_UNMOVABLE,
)
from pagealloc.mm.mmzone import (
    KIND_COMPOUND,
    KIND_MOVABLE,
    MAX_PAGE_ORDER,
    NR_LOWORDER_PCP_LISTS,
    NR_PAGE_ORDERS,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    PB_COMPACT_SKIP,
    PB_MIGRATE_ISOLATE,
    PS_ALLOC,
    PS_BUDDY,
    PS_HOLE,
    PS_PCP,
    PS_RESERVED,
    WMARK_HIGH,
    WMARK_LOW,
    WMARK_MIN,
)
from pagealloc.mm.page_alloc import (
    calculate_normal_threshold,
    setup_per_zone_lowmem_reserve,
)
from pagealloc.profiles import Profile, get_profile
from pagealloc.mm.mmzone import Zone
from pagealloc.workload.procfs import (
    Pagetypeinfo,
    parse_pagetypeinfo,
    parse_zoneinfo,
)
from pagealloc.workload.snapshot import BuddyDump, find_buddydump, load_buddydump

if TYPE_CHECKING:
    from pagealloc.workload.kpageflags import InferenceReport

KPF_LRU = 5
KPF_BUDDY = 10
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_NOPAGE = 20
KPF_RESERVED = 32

#: KIND bit marking an in-use page whose allocation the dump does not describe.
KIND_UNKNOWN = 0x20


class StateImportError(ValueError):
    """A snapshot cannot be turned into a machine; the message names the file and why."""


def parse_iomem_ram(text: str) -> list[tuple[int, int]]:
    """Top-level ``System RAM`` ranges of ``/proc/iomem`` as PFN ranges (partial pages dropped)."""
    out: list[tuple[int, int]] = []
    for line in text.splitlines():
        if line.startswith(" ") or ": System RAM" not in line:
            continue
        span = line.split(":", 1)[0].strip()
        a, b = (int(x, 16) for x in span.split("-"))
        start = (a + 4095) >> 12
        end = (b + 1) >> 12
        if start < end:
            out.append((start, end))
    return out


def read_sysctl_vm(capture_dir: Path) -> dict[str, str]:
    d = capture_dir / "sysctl_vm"
    out: dict[str, str] = {}
    if d.is_dir():
        for f in sorted(d.iterdir()):
            try:
                out[f.name] = f.read_text().strip()
            except OSError:
                continue
    return out


def _config_from_sysctl(cfg: MachineConfig, sysctl: dict[str, str]) -> None:
    def geti(name: str) -> int | None:
        v = sysctl.get(name)
        if v is None:
            return None
        try:
            return int(v.split()[0])
        except ValueError:
            return None

    for key in ("watermark_scale_factor", "watermark_boost_factor", "percpu_pagelist_high_fraction",
                "defrag_mode", "extfrag_threshold", "compaction_proactiveness"):
        v = geti(key)
        if v is not None:
            setattr(cfg, key, v)
    v = geti("min_free_kbytes")
    if v is not None:
        cfg.min_free_kbytes = v
    r = sysctl.get("lowmem_reserve_ratio")
    if r:
        vals = [int(x) for x in r.split()]
        cfg.lowmem_reserve_ratio = tuple((vals + [0] * 5)[:5])  # type: ignore[assignment]


def _resolve_dump(path: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    p = Path(path)
    if p.is_dir():
        f = find_buddydump(p)
        if f is None:
            raise StateImportError(f"{p}: no gt_buddydump or gt_buddydump.xz in this directory")
        return f, p
    return p, p.parent


def machine_from_snapshot(path: str | os.PathLike[str], profile: str | Profile | None = None,
                          use_kpageflags: bool = True) -> Machine:
    """Load a snapshot directory (or dump file); without a dump, infer the layout from
    ``kpageflags`` (with ``zoneinfo``), else synthesize it from the /proc files."""
    p = Path(path)
    if p.is_dir() and find_buddydump(p) is None:
        from pagealloc.workload.kpageflags import find_kpageflags
        if use_kpageflags and find_kpageflags(p) is not None and (p / "zoneinfo").is_file():
            return machine_from_kpageflags(p, profile)
        return machine_from_proc(p, profile)
    dump_path, snapdir = _resolve_dump(p)
    dump = load_buddydump(dump_path)
    return machine_from_dump(dump, profile, snapdir, use_kpageflags)


def machine_from_dump(dump: BuddyDump, profile: str | Profile | None = None,
                      snapdir: Path | None = None, use_kpageflags: bool = True, *,
                      ram_ranges: Sequence[tuple[int, int]] | None = None,
                      kpageflags: "np.ndarray | None" = None) -> Machine:
    """Build the exact machine state a ``gt_buddydump`` describes.

    ``ram_ranges`` (PFN ranges) replaces the capture's ``iomem.txt``; ``kpageflags`` (the
    flags array, see :func:`pagealloc.workload.kpageflags.read_kpageflags`) replaces the
    snapshot's ``kpageflags.xz`` for classifying in-use pages.
    """
    if profile is None:
        profile = "linux-7.2" if dump.kernel == "7.2" else "linux-6.1"
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    if dump.pageblock_order != PAGEBLOCK_ORDER or dump.nr_orders != NR_PAGE_ORDERS:
        raise StateImportError(f"{dump.path}: pageblock_order {dump.pageblock_order} / "
                               f"{dump.nr_orders} orders; the model has {PAGEBLOCK_ORDER} / {NR_PAGE_ORDERS}")
    if not dump.zones:
        raise StateImportError(f"{dump.path}: no zones")
    capture_dir = snapdir.parent if snapdir is not None else None
    ram: list[tuple[int, int]] = list(ram_ranges or [])
    if not ram and capture_dir is not None and (capture_dir / "iomem.txt").is_file():
        ram = parse_iomem_ram((capture_dir / "iomem.txt").read_text())
    if not ram:
        ram = [(z.start_pfn, z.end_pfn) for z in dump.zones]
    max_pfn = max(max(b for _, b in ram), max(z.end_pfn for z in dump.zones))
    ram = [(a, min(b, max_pfn)) for a, b in ram]
    ncpus = max((pc.cpu for z in dump.zones for pc in z.pcp), default=0) + 1
    memory = sum(b - a for a, b in ram) << 12
    cfg = MachineConfig(memory=max(memory, 64 << 20), cpus=ncpus, ram_ranges=ram, reserved=[])
    if capture_dir is not None:
        _config_from_sysctl(cfg, read_sysctl_vm(capture_dir))
    m = Machine(cfg, prof, boot=False)
    _install_dump(m, dump)
    if use_kpageflags and kpageflags is not None:
        _apply_kpageflags_array(m, kpageflags)
    elif use_kpageflags and snapdir is not None:
        kpf = snapdir / "kpageflags.xz"
        if kpf.is_file():
            apply_kpageflags(m, kpf)
    m.min_free_kbytes = cfg.min_free_kbytes or 0
    m.snapshot_source = str(dump.path)
    return m


def _install_dump(m: Machine, dump: BuddyDump) -> None:
    mem = m.mem
    pstate = mem.pstate
    # every RAM PFN is in use until the dump says it is free
    for a, b in m.ram_ranges:
        pstate[a:b] = bytes([PS_ALLOC]) * (b - a)
        mem.pkind[a:b] = bytes([KIND_UNKNOWN]) * (b - a)
    by_name = {z.name: z for z in m.zones}
    isolate_bit = m.profile.isolate_bit
    for dz in dump.zones:
        z = by_name.get(dz.name)
        if z is None:
            raise StateImportError(f"{dump.path}: unknown zone {dz.name!r}")
        # zone geometry from the dump, replacing what the config layout computed
        z.zone_start_pfn = dz.start_pfn
        z.spanned_pages = dz.end_pfn - dz.start_pfn
        z.present_pages = dz.present
        z.managed_pages = dz.managed
        z.cma_pages = dz.cma_pages or 0
        for b in range(dz.start_pfn >> PAGEBLOCK_ORDER, ((dz.end_pfn - 1) >> PAGEBLOCK_ORDER) + 1):
            mem.pb_zone[b] = z.idx
        for pfn, mt, iso, skip in dz.blocks:
            b = pfn >> PAGEBLOCK_ORDER
            if iso and not isolate_bit:
                val = MIGRATE_ISOLATE
            else:
                val = (mt & 7) | (PB_MIGRATE_ISOLATE if iso else 0)
            mem.pb[b] = val | (PB_COMPACT_SKIP if skip else 0)
            if mem.get_pfnblock_migratetype(pfn) == MIGRATE_ISOLATE:
                z.nr_isolate_pageblock += 1
        # free lists, in list order (file order is head to tail)
        for order, list_mt, pfn in dz.free:
            size = 1 << order
            if pfn & (size - 1) or not dz.start_pfn <= pfn < dz.end_pfn:
                raise StateImportError(f"{dump.path}: free block {pfn:#x} order {order} misaligned or outside {dz.name}")
            _install_free_block(m, z, pfn, order, list_mt)
        # pcp lists
        cached_mt = m.profile.pcp_cached_migratetype
        for dp in dz.pcp:
            if dp.cpu >= len(z.pcp):
                raise StateImportError(f"{dump.path}: zone {dz.name} pcp of cpu {dp.cpu} but {len(z.pcp)} cpus")
            pcp = z.pcp[dp.cpu]
            for pindex, pfn in dp.lists:
                order = m.profile.pindex_to_order(pindex)
                size = 1 << order
                pstate[pfn:pfn + size] = bytes(size)
                mem.pkind[pfn:pfn + size] = bytes(size)
                pstate[pfn] = PS_PCP | order
                mem.list_add_tail(pcp.list_base + pindex, pfn)
                if cached_mt:
                    mem.pkind[pfn] = _pcp_cached_migratetype(m, pindex, pfn)
            pcp.count = dp.count
            pcp.high = dp.high
            pcp.batch = dp.batch
            if dp.high_min is not None and dp.high_max is not None:
                pcp.high_min, pcp.high_max = dp.high_min, dp.high_max
            else:                                  # 6.1: fixed high
                pcp.high_min = pcp.high_max = dp.high
            pcp.alloc_factor = dp.alloc_factor or 0
            pcp.free_count = dp.free_count or 0
            pcp.flags = dp.flags or 0
            pcp.expire = dp.expire or 0
            pcp.free_factor = max(dp.free_factor, 0)
            z.pageset_batch, z.pageset_high_min, z.pageset_high_max = pcp.batch, pcp.high_min, pcp.high_max
        # watermarks (the dump prints wmark_pages(), i.e. base + boost)
        boost = dz.boost
        z.watermark_boost = boost
        z._watermark[WMARK_MIN] = dz.wmark_min - boost
        z._watermark[WMARK_LOW] = dz.wmark_low - boost
        z._watermark[WMARK_HIGH] = dz.wmark_high - boost
        z._watermark[3] = z._watermark[WMARK_HIGH] + (z._watermark[WMARK_LOW] - z._watermark[WMARK_MIN])
        z.nr_reserved_highatomic = dz.reserved_highatomic
        z.stat_threshold = calculate_normal_threshold(z, m.ncpus)
        z.vm_nr_free_pages = dz.nr_free
        z.vm_free_diff = [0] * m.ncpus
        if dz.nr_free_snapshot is not None:
            z.vm_free_diff[0] = dz.nr_free_snapshot - dz.nr_free
        z.stat_residual = list(z.vm_free_diff)     # the dump's drift, whatever its size
    # zones the dump does not list are empty on this machine
    listed = {dz.name for dz in dump.zones}
    for z in m.zones:
        if z.name not in listed:
            z.zone_start_pfn = z.spanned_pages = z.present_pages = z.managed_pages = 0
            z.pcp = []
            if z.idx == 3 and m.profile.movable_wmark_capped:   # empty ZONE_MOVABLE: min 32
                z._watermark = [32, 32, 32, 32]
    setup_per_zone_lowmem_reserve(m.zones, m.config.lowmem_reserve_ratio)
    m.alloc.zonelist = [z for z in reversed(m.zones) if z.managed_pages > 0]
    m.alloc._gfp_cache.clear()
    # holes inside zone spans that iomem says are not RAM
    _mark_holes(m)


def _pcp_cached_migratetype(m: Machine, pindex: int, pfn: int) -> int:
    """6.1: the migratetype a page on pcp list ``pindex`` has cached in ``page->index``
    (``set_pcppage_migratetype()``), which ``free_pcppages_bulk()`` frees it back to and
    which the dump does not print.  ``rmqueue_bulk()`` caches the requested type, the list's;
    ``free_unref_page()`` caches the pageblock's type and puts HighAtomic (and CMA) pages on
    the Movable list.  So: the list's type (``pindex`` 0..11: ``3 * order + mt``), except a
    page of a HighAtomic pageblock on the Movable list (HighAtomic); on the order-9 lists,
    12 holds Unmovable and Reclaimable (the pageblock's type when it is one of them, else
    Unmovable) and 13 Movable (HighAtomic as above)."""
    block_mt = m.mem.get_pfnblock_migratetype(pfn)
    if pindex < NR_LOWORDER_PCP_LISTS:
        mt = pindex % MIGRATE_PCPTYPES
    elif pindex == NR_LOWORDER_PCP_LISTS:
        mt = block_mt if block_mt == MIGRATE_RECLAIMABLE else MIGRATE_UNMOVABLE
    else:
        mt = MIGRATE_MOVABLE
    if mt == MIGRATE_MOVABLE and block_mt == MIGRATE_HIGHATOMIC:
        mt = MIGRATE_HIGHATOMIC
    return mt


def _install_free_block(m: Machine, z: Zone, pfn: int, order: int, mt: int) -> None:
    """Put a free block at the tail of ``free_area[order].free_list[mt]`` with its counts
    (states imported from outside: the lists are built in head-to-tail order)."""
    size = 1 << order
    mem = m.mem
    mem.pstate[pfn:pfn + size] = bytes(size)
    mem.pkind[pfn:pfn + size] = bytes(size)
    mem.pstate[pfn] = PS_BUDDY | order
    m.alloc._add_to_free_list(pfn, z, order, mt, True)
    if mt != MIGRATE_ISOLATE:
        z.nr_free_pages += size
        if mt == MIGRATE_CMA:
            z.nr_free_cma_pages += size
        elif mt == MIGRATE_HIGHATOMIC:
            z.nr_free_highatomic += size


def _mark_holes(m: Machine) -> None:
    mem = m.mem
    ram = sorted(m.ram_ranges)
    cur = 0
    for a, b in ram:
        if a > cur:
            mem.pstate[cur:a] = bytes([PS_HOLE]) * (a - cur)
        cur = max(cur, b)
    if cur < mem.max_pfn:
        mem.pstate[cur:] = bytes([PS_HOLE]) * (mem.max_pfn - cur)


def apply_kpageflags(m: Machine, path: Path) -> None:
    """Classify the dump's in-use pages with ``/proc/kpageflags``.

    LRU pages become movable (``PageLRU`` for the claim heuristic), PG_reserved pages
    reserved, and runs of compound head + tails that the dump holds in use become one
    allocated compound block of the run's order.  Free and pcp pages are left as the dump
    says (kpageflags is read after the dump, so it can disagree on those).
    """
    raw = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
    _apply_kpageflags_array(m, np.frombuffer(raw, dtype="<u8"))


def _apply_kpageflags_array(m: Machine, flags: "np.ndarray") -> None:
    """:func:`apply_kpageflags` on an already read flags array."""
    mem = m.mem
    n = min(len(flags), mem.max_pfn)
    st = np.frombuffer(mem.pstate, dtype=np.uint8)[:n]
    kind = np.frombuffer(mem.pkind, dtype=np.uint8)[:n]
    f = flags[:n]
    in_use = (st == PS_ALLOC) & (kind == KIND_UNKNOWN)
    reserved = in_use & ((f >> KPF_RESERVED) & 1).astype(bool)
    lru = in_use & ((f >> KPF_LRU) & 1).astype(bool)
    new_state = st.copy()
    new_kind = kind.copy()
    new_state[reserved] = PS_RESERVED
    new_kind[reserved] = 0
    new_kind[lru & ~reserved] = KIND_UNKNOWN | KIND_MOVABLE | MIGRATE_MOVABLE
    heads = np.nonzero(in_use & ~reserved & ((f >> KPF_COMPOUND_HEAD) & 1).astype(bool))[0]
    tail = ((f >> KPF_COMPOUND_TAIL) & 1).astype(bool) & in_use
    for h in heads.tolist():
        order = 0
        for o in range(1, MAX_PAGE_ORDER + 1):
            size = 1 << o
            if h & (size - 1) or h + size > n:
                break
            if not tail[h + (size >> 1):h + size].all():
                break
            order = o
        if order:
            size = 1 << order
            new_state[h + 1:h + size] = 0
            new_kind[h + 1:h + size] = 0
            new_state[h] = PS_ALLOC | order
            new_kind[h] = new_kind[h] | KIND_COMPOUND
    mem.pstate[:n] = new_state.tobytes()
    mem.pkind[:n] = new_kind.tobytes()


# ---------------------------------------------------------------------- kpageflags import
#: attribute of a Machine built by machine_from_kpageflags that holds its InferenceReport
_INFERENCE_ATTR = "kpageflags_inference"


def machine_from_kpageflags(snapdir: str | os.PathLike[str], profile: str | Profile | None = None,
                            kpageflags: str | os.PathLike[str] | None = None) -> Machine:
    """Build a machine from ``/proc/kpageflags`` and ``zoneinfo`` (+ ``pagetypeinfo``) of a
    snapshot directory without an exact dump.

    The free pages are exact; block boundaries, pageblock types, free-list membership, list
    order and pcp pages are inferred as :mod:`pagealloc.workload.kpageflags` explains.  In-use
    pages are then classified as for a dump (:func:`apply_kpageflags`).  RAM comes from the
    capture's ``iomem.txt`` (or the snapshot's), else from kpageflags itself; vm knobs from
    ``sysctl_vm/``.  The machine is flagged ``synthesized_layout``; :func:`inference_report`
    returns what was inferred.
    """
    from pagealloc.workload.kpageflags import find_kpageflags, infer_layout, read_kpageflags
    d = Path(snapdir)
    kpf = Path(kpageflags) if kpageflags is not None else find_kpageflags(d)
    if kpf is None:
        raise StateImportError(f"{d}: no kpageflags, kpageflags.xz, .gz or .zst in this directory")
    zi_path = d / "zoneinfo"
    if not zi_path.is_file():
        raise StateImportError(f"{d}: kpageflags needs zoneinfo beside it (zones, watermarks, pagesets)")
    zoneinfo = parse_zoneinfo(zi_path.read_text(), str(zi_path))
    pti = None
    pt_path = d / "pagetypeinfo"
    if pt_path.is_file():
        pti = parse_pagetypeinfo(pt_path.read_text(), str(pt_path))
    ram: list[tuple[int, int]] = []
    for iomem in (d.parent / "iomem.txt", d / "iomem.txt", d / "iomem"):
        if iomem.is_file():
            ram = parse_iomem_ram(iomem.read_text())
            if ram:
                break
    flags = read_kpageflags(kpf)
    dump, report = infer_layout(flags, zoneinfo, pagetypeinfo=pti, ram_ranges=ram or None,
                                source=str(kpf))
    if not ram:
        from pagealloc.workload.kpageflags import ram_mask
        mask = ram_mask(flags)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
        ram = [(int(edges[i]), int(edges[i + 1])) for i in range(0, len(edges), 2)]
    m = machine_from_dump(dump, profile, d, True, ram_ranges=ram, kpageflags=flags)
    m.synthesized_layout = True
    m.snapshot_source = str(kpf)
    setattr(m, _INFERENCE_ATTR, report)
    return m


def inference_report(m: Machine) -> "InferenceReport | None":
    """What :func:`machine_from_kpageflags` inferred for ``m``; None for any other machine."""
    from pagealloc.workload.kpageflags import InferenceReport
    r = getattr(m, _INFERENCE_ATTR, None)
    return r if isinstance(r, InferenceReport) else None


# ---------------------------------------------------------------------- /proc fallback
def machine_from_proc(snapdir: Path, profile: str | Profile | None = None) -> Machine:
    """Synthesize a machine from ``zoneinfo`` and ``pagetypeinfo`` (no exact dump).

    The per-zone counts (sizes, watermarks, pagesets, pageblocks per type, free blocks per
    order and type) are exact; the physical placement is invented deterministically:
    non-movable pageblocks take the lowest blocks of the zone, every free block below
    pageblock order sits in the lower half of an otherwise allocated pair so that no two
    free buddies are left unmerged, and pcp lists are empty (their pages count as in use).
    """
    zi_path = snapdir / "zoneinfo"
    pt_path = snapdir / "pagetypeinfo"
    for need in (zi_path, pt_path):
        if not need.is_file():
            raise StateImportError(f"{snapdir}: no gt_buddydump and no {need.name} to fall back on")
    zoneinfo = parse_zoneinfo(zi_path.read_text(), str(zi_path))
    pti = parse_pagetypeinfo(pt_path.read_text(), str(pt_path))
    kernel = "7.2" if any(z.promo is not None for z in zoneinfo) else "6.1"
    if profile is None:
        profile = "linux-7.2" if kernel == "7.2" else "linux-6.1"
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    populated = [z for z in zoneinfo if z.populated and z.present]
    if not populated:
        raise StateImportError(f"{zi_path}: no populated zone")
    ncpus = max(len(z.pagesets) for z in populated) or 1
    capture_dir = snapdir.parent
    ranges: list[tuple[int, int]] = []
    if (capture_dir / "iomem.txt").is_file():
        ranges = parse_iomem_ram((capture_dir / "iomem.txt").read_text())
    if not ranges:
        # a zone's RAM is assumed contiguous from its start over as many pageblocks as
        # pagetypeinfo counts (x86: the PCI hole ends DMA32 early); this decides which
        # memory sections are online
        for zz in populated:
            start = zz.start_pfn or 0
            nblocks = pti.blocks_for(zz.name, zz.node).values()
            end = min(start + zz.spanned, ((start >> PAGEBLOCK_ORDER) + sum(nblocks)) << PAGEBLOCK_ORDER)
            ranges.append((start, end))
    cfg = MachineConfig(memory=max(sum(b - a for a, b in ranges) << 12, 64 << 20), cpus=ncpus,
                        ram_ranges=sorted(ranges), reserved=[])
    _config_from_sysctl(cfg, read_sysctl_vm(capture_dir))
    m = Machine(cfg, prof, boot=False)
    mem = m.mem
    for a, b in m.ram_ranges:
        mem.pstate[a:b] = bytes([PS_ALLOC]) * (b - a)
        mem.pkind[a:b] = bytes([KIND_UNKNOWN]) * (b - a)
    type_names = list(pti.type_names)
    by_name = {z.name: z for z in m.zones}
    for zi in populated:
        z = by_name[zi.name]
        z.zone_start_pfn = zi.start_pfn or 0
        z.spanned_pages = zi.spanned
        z.present_pages = zi.present
        z.managed_pages = zi.managed
        boost = zi.boost
        z.watermark_boost = boost
        z._watermark = [zi.min - boost, zi.low - boost, zi.high - boost,
                        (zi.promo - boost) if zi.promo is not None else zi.high - boost + (zi.low - zi.min)]
        z.nr_reserved_highatomic = zi.reserved_highatomic or 0
        for b in range(z.zone_start_pfn >> PAGEBLOCK_ORDER, ((z.zone_start_pfn + zi.spanned - 1) >> PAGEBLOCK_ORDER) + 1):
            mem.pb_zone[b] = z.idx
        _synthesize_zone(m, z, zi.node, type_names, pti)
        for cpu, ps in enumerate(zi.pagesets):
            pcp = z.pcp[cpu]
            pcp.high, pcp.batch = ps.high, ps.batch
            pcp.high_min = ps.high_min if ps.high_min is not None else ps.high
            pcp.high_max = ps.high_max if ps.high_max is not None else ps.high
        z.stat_threshold = calculate_normal_threshold(z, m.ncpus)
        z.vm_nr_free_pages = z.nr_free_pages
        z.vm_free_diff = [0] * m.ncpus
    for mz in m.zones:
        if mz.name not in {zi.name for zi in populated}:
            mz.zone_start_pfn = mz.spanned_pages = mz.present_pages = mz.managed_pages = 0
            mz.pcp = []
    setup_per_zone_lowmem_reserve(m.zones, m.config.lowmem_reserve_ratio)
    m.alloc.zonelist = [mz for mz in reversed(m.zones) if mz.managed_pages > 0]
    m.alloc._gfp_cache.clear()
    _mark_holes(m)
    m.synthesized_layout = True
    m.snapshot_source = str(snapdir)
    return m


def _good_runs(st: "np.ndarray", blocks: list[int], lo: int, hi: int) -> list[tuple[int, int]]:
    """Maximal runs of PFNs in ``blocks`` (pageblock numbers) within [lo, hi) that are RAM
    and not reserved."""
    runs: list[tuple[int, int]] = []
    for b in blocks:
        a, e = max(b << PAGEBLOCK_ORDER, lo), min((b + 1) << PAGEBLOCK_ORDER, hi)
        if a >= e:
            continue
        seg = st[a:e]
        good = (seg != PS_HOLE) & (seg != PS_RESERVED)
        if good.all():
            parts = [(a, e)]
        else:
            parts = []
            idx = np.flatnonzero(np.diff(np.concatenate(([0], good.astype(np.int8), [0]))))
            for i in range(0, len(idx), 2):
                parts.append((a + int(idx[i]), a + int(idx[i + 1])))
        for pa, pe in parts:
            if runs and runs[-1][1] == pa:
                runs[-1] = (runs[-1][0], pe)
            else:
                runs.append((pa, pe))
    return runs


def _carve(heaps: list[list[tuple[int, bool]]], order: int, placed9: set[int]) -> int:
    """Take an order-``order`` block from the region heaps (see _synthesize_zone), or -1.

    ``placed9`` holds the order-9 free blocks of every type already placed in the zone:
    mergeable types merge across pageblocks, so no two may be buddies.
    """
    h = heaps[order]
    skipped: list[tuple[int, bool]] = []
    pfn = -1
    while h:
        cand = heapq.heappop(h)
        if order == MAX_PAGE_ORDER or not (
                cand[1] or (order == PAGEBLOCK_ORDER and cand[0] ^ PAGEBLOCK_NR_PAGES in placed9)):
            pfn = cand[0]
            break
        skipped.append(cand)
    for c in skipped:
        heapq.heappush(h, c)
    if pfn >= 0:
        return pfn
    for o in range(order + 1, NR_PAGE_ORDERS):
        if heaps[o]:
            base, _ = heapq.heappop(heaps[o])
            while o > order:             # keep the lower half, leave the upper half
                o -= 1
                heapq.heappush(heaps[o], (base + (1 << o), o == order))
            return base
    return -1


def _synthesize_zone(m: Machine, z: Zone, node: int, type_names: list[str], pti: Pagetypeinfo) -> None:
    mem = m.mem
    kernel_names = type_names
    name_to_mt = {"Unmovable": 0, "Movable": 1, "Reclaimable": 2, "HighAtomic": 3, "CMA": 4, "Isolate": 5}
    blocks_per_type = pti.blocks_for(z.name, node)
    first = z.zone_start_pfn >> PAGEBLOCK_ORDER
    last = (z.zone_end_pfn - 1) >> PAGEBLOCK_ORDER
    block_ids = list(range(first, last + 1))
    # non-movable types take the lowest blocks, in migratetype order; Movable the rest
    assign: dict[int, list[int]] = {mt: [] for mt in range(MIGRATE_TYPES)}
    cursor = 0
    for tname in kernel_names:
        mt = name_to_mt[tname]
        if mt == MIGRATE_MOVABLE:
            continue
        count = blocks_per_type.get(tname, 0)
        for b in block_ids[cursor:cursor + count]:
            assign[mt].append(b)
        cursor += count
    assign[MIGRATE_MOVABLE] = block_ids[cursor:]
    for mt, blist in assign.items():
        for b in blist:
            mem.pb[b] = MIGRATE_ISOLATE if (mt == MIGRATE_ISOLATE and not m.profile.isolate_bit) else (
                (PB_MIGRATE_ISOLATE | MIGRATE_MOVABLE) if mt == MIGRATE_ISOLATE else mt)
            if mt == MIGRATE_ISOLATE:
                z.nr_isolate_pageblock += 1
    # place free blocks, per type, largest order first, like a buddy allocator over the type's
    # good pages (RAM, inside the zone, not reserved): a block is carved from the lowest
    # region of its order, else by splitting the lowest larger region; a region left beside a
    # placed block of the same order never takes another block of that order (they would be
    # unmerged buddies) but is split for smaller ones
    st = np.frombuffer(mem.pstate, dtype=np.uint8)
    placed9: set[int] = set()
    for tname in kernel_names:
        mt = name_to_mt[tname]
        counts = pti.free_row(z.name, tname, node).counts
        heaps: list[list[tuple[int, bool]]] = [[] for _ in range(NR_PAGE_ORDERS)]
        for a, e in _good_runs(st, sorted(assign[mt]), z.zone_start_pfn, z.zone_end_pfn):
            while a < e:
                o = min(MAX_PAGE_ORDER, (a & -a).bit_length() - 1) if a else MAX_PAGE_ORDER
                while a + (1 << o) > e:
                    o -= 1
                heapq.heappush(heaps[o], (a, False))
                a += 1 << o
        placements: list[tuple[int, int]] = []
        for order in range(NR_PAGE_ORDERS - 1, -1, -1):
            n = counts[order] if order < len(counts) else 0
            for _ in range(n):
                pfn = _carve(heaps, order, placed9)
                if order == PAGEBLOCK_ORDER and pfn >= 0:
                    placed9.add(pfn)
                if pfn < 0:
                    raise StateImportError(
                        f"{z.name}: cannot place {n} free order-{order} {tname} blocks in its "
                        f"{len(assign[mt])} {tname} pageblocks")
                placements.append((pfn, order))
        for pfn, order in placements:
            _install_free_block(m, z, pfn, order, mt)
