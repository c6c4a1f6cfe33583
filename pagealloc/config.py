"""Machine and kernel configuration: sizes, layout, CPUs and the vm sysctls.

A :class:`MachineConfig` describes one x86-64 machine (one NUMA node) the way the kernel
would see it at boot: the e820 RAM ranges, the memblock reservations that never reach
the buddy allocator, the number of CPUs and the ``/proc/sys/vm`` knobs that shape the
allocator (``min_free_kbytes``, ``watermark_scale_factor``, ``watermark_boost_factor``,
``lowmem_reserve_ratio``, ``percpu_pagelist_high_fraction``, ``defrag_mode``) plus THP.

Every field is validated by :meth:`MachineConfig.validate`; an invalid value raises
:class:`ConfigError` naming the field.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
SZ_1M = 1 << 20
SZ_1G = 1 << 30
MAX_DMA_PFN = (16 * SZ_1M) >> PAGE_SHIFT       # ZONE_DMA ends at 16 MiB (arch/x86)
MAX_DMA32_PFN = (4 * SZ_1G) >> PAGE_SHIFT      # ZONE_DMA32 ends at 4 GiB


class ConfigError(ValueError):
    """An impossible or malformed machine configuration; the message names the field."""


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def parse_size(text: str | int, field_name: str = "memory") -> int:
    """Parse ``16G``, ``512M``, ``1TiB`` or a byte count into bytes (binary units)."""
    if isinstance(text, int):
        return text
    m = _SIZE_RE.match(text)
    if not m:
        raise ConfigError(f"{field_name}: cannot parse size {text!r} (use e.g. 16G, 512M, 1T)")
    value = float(m.group(1)) * _UNITS[m.group(2).upper()]
    return int(value)


@dataclass(slots=True)
class MachineConfig:
    """One x86-64 machine and its vm sysctls (defaults: the kernel's defaults).

    ``ram_ranges`` and ``reserved`` are half-open PFN ranges; when ``ram_ranges`` is
    empty they are derived from ``memory`` the way QEMU's ``pc`` machine lays out RAM
    (below 4 GiB up to 3 GiB if the machine has at least 3.5 GiB, the rest from
    4 GiB; the BIOS keeps the last 41 pages below the low RAM end and the 640 KiB-1 MiB
    hole).  ``reserved`` defaults to what x86 boot reserves before ``memblock_free_all()``:
    the first 1 MiB, the kernel image at 16 MiB, 64 MiB of swiotlb below 4 GiB on
    machines with memory above 4 GiB, and the memmap (64 bytes per page) at the top.
    """

    memory: int = 16 * SZ_1G
    cpus: int = 4
    ram_ranges: list[tuple[int, int]] = field(default_factory=list)
    reserved: list[tuple[int, int]] | None = None
    kernel_image_size: int = 32 * SZ_1M
    # vm sysctls (Documentation/admin-guide/sysctl/vm.rst)
    min_free_kbytes: int | None = None          # None: computed as the kernel does
    watermark_scale_factor: int = 10
    watermark_boost_factor: int = 15000
    lowmem_reserve_ratio: tuple[int, int, int, int, int] = (256, 256, 32, 0, 0)
    percpu_pagelist_high_fraction: int = 0
    defrag_mode: int = 0
    extfrag_threshold: int = 500
    compaction_proactiveness: int = 20
    swap: int = 0                                # swap space in bytes (0: none, anon unreclaimable)
    swappiness: int = 60                         # vm.swappiness
    thp: bool = True                             # transparent_hugepage enabled (always/madvise)
    # hardware facts
    cpu_data_slice_kb: int = 1024                # per-CPU share of the LLC (PCPF_FREE_HIGH_BATCH)
    gbpages: bool = True                         # direct map may use 1 GiB pages
    init_on_alloc: bool = False
    init_on_free: bool = False

    def validate(self) -> None:
        """Check every field; raise :class:`ConfigError` naming the first bad one."""
        if not isinstance(self.memory, int) or self.memory < 64 * SZ_1M:
            raise ConfigError(f"memory: {self.memory!r} is below the 64 MiB minimum")
        if self.memory > (1 << 44):
            raise ConfigError(f"memory: {self.memory} bytes exceeds the 16 TiB the model supports")
        if not isinstance(self.cpus, int) or not 1 <= self.cpus <= 1024:
            raise ConfigError(f"cpus: {self.cpus!r} must be an integer in 1..1024")
        for name, (lo, hi) in (
            ("watermark_scale_factor", (1, 3000)),
            ("watermark_boost_factor", (0, 1 << 31)),
            ("percpu_pagelist_high_fraction", (0, 1 << 31)),
            ("defrag_mode", (0, 1)),
            ("extfrag_threshold", (0, 1000)),
            ("compaction_proactiveness", (0, 100)),
            ("swap", (0, 1 << 50)),
            ("swappiness", (0, 200)),
            ("cpu_data_slice_kb", (0, 1 << 31)),
            ("kernel_image_size", (0, 1 << 34)),
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ConfigError(f"{name}: {v!r} must be an integer in {lo}..{hi}")
        if self.percpu_pagelist_high_fraction and self.percpu_pagelist_high_fraction < 8:
            raise ConfigError(
                "percpu_pagelist_high_fraction: must be 0 or >= 8 (MIN_PERCPU_PAGELIST_HIGH_FRACTION)"
            )
        if self.min_free_kbytes is not None and not 0 <= self.min_free_kbytes <= 1 << 31:
            raise ConfigError(f"min_free_kbytes: {self.min_free_kbytes!r} out of range")
        if len(self.lowmem_reserve_ratio) != 5 or any(
            not isinstance(r, int) or r < 0 for r in self.lowmem_reserve_ratio
        ):
            raise ConfigError(
                f"lowmem_reserve_ratio: {self.lowmem_reserve_ratio!r} must be 5 non-negative integers"
            )
        for fname in ("ram_ranges", "reserved"):
            ranges = getattr(self, fname)
            if ranges is None:
                continue
            last = -1
            for i, r in enumerate(ranges):
                if len(r) != 2 or not all(isinstance(x, int) for x in r):
                    raise ConfigError(f"{fname}[{i}]: {r!r} is not a (start_pfn, end_pfn) pair")
                lo, hi = r
                if not 0 <= lo < hi:
                    raise ConfigError(f"{fname}[{i}]: empty or negative range {r!r}")
                if fname == "ram_ranges" and lo < last:
                    raise ConfigError(f"{fname}[{i}]: ranges must be sorted and disjoint")
                last = hi

    def resolved_ram_ranges(self) -> list[tuple[int, int]]:
        """The e820 RAM ranges in PFNs (given, or the QEMU ``pc`` layout of ``memory``)."""
        if self.ram_ranges:
            return list(self.ram_ranges)
        total = self.memory >> PAGE_SHIFT
        low = total
        if self.memory >= 0xE0000000:          # QEMU pc: gigabyte-aligned 3 GiB below 4G
            low = 0xC0000000 >> PAGE_SHIFT
        ranges = [(1, 0x9F), (0x100, low - 0x29)]
        if total > low:
            ranges.append((MAX_DMA32_PFN, MAX_DMA32_PFN + total - low))
        return ranges

    def resolved_reserved(self) -> list[tuple[int, int]]:
        """Memblock reservations that never reach the buddy allocator, sorted PFN ranges."""
        if self.reserved is not None:
            return sorted(self.reserved)
        ram = self.resolved_ram_ranges()
        max_pfn = ram[-1][1]
        res = [(0, 0x100)]                                   # first 1 MiB (x86 reserve_real_mode etc.)
        kstart = (16 * SZ_1M) >> PAGE_SHIFT
        res.append((kstart, kstart + (self.kernel_image_size >> PAGE_SHIFT)))
        if max_pfn > MAX_DMA32_PFN:                          # swiotlb below 4 GiB
            low_end = max(hi for lo, hi in ram if lo < MAX_DMA32_PFN)
            sw = (64 * SZ_1M) >> PAGE_SHIFT
            res.append((low_end - sw, low_end))
        memmap = -(-(max_pfn * 64) // PAGE_SIZE)             # vmemmap: 64 bytes per page
        res.append((max_pfn - memmap, max_pfn))
        return _merge(res)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def config_from_kwargs(**kwargs: Any) -> MachineConfig:
    """Build and validate a config, accepting size strings for ``memory``."""
    names = {f.name for f in dataclasses.fields(MachineConfig)}
    for k in kwargs:
        if k not in names:
            raise ConfigError(f"{k}: unknown machine config field")
    if "memory" in kwargs:
        kwargs["memory"] = parse_size(kwargs["memory"])
    if "swap" in kwargs:
        kwargs["swap"] = parse_size(kwargs["swap"], "swap")
    if "kernel_image_size" in kwargs:
        kwargs["kernel_image_size"] = parse_size(kwargs["kernel_image_size"], "kernel_image_size")
    cfg = MachineConfig(**kwargs)
    try:
        cfg.validate()
    except (TypeError, AttributeError) as e:
        raise ConfigError(f"invalid machine config: {e}") from None
    return cfg
