"""Tests of pagealloc.config: size parsing, validation (every error names its field),
the derived QEMU layout and reservations."""
from __future__ import annotations

import pytest

from pagealloc.config import (
    ConfigError,
    MachineConfig,
    config_from_kwargs,
    parse_size,
)
from pagealloc.machine import Machine


@pytest.mark.parametrize("text,value", [
    ("64M", 64 << 20), ("16G", 16 << 30), ("1T", 1 << 40), ("512MiB", 512 << 20),
    ("1.5G", 3 << 29), ("4096", 4096), (" 2 g ", 2 << 30), ("8KB", 8 << 10), (123, 123)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "G", "12X", "-1G", "1.2.3M", "ten"])
def test_parse_size_errors_name_field(text):
    with pytest.raises(ConfigError, match=r"^memory: "):
        parse_size(text)
    with pytest.raises(ConfigError, match=r"^kernel_image_size: "):
        parse_size(text, "kernel_image_size")


@pytest.mark.parametrize("kwargs,field", [
    ({"memory": 32 << 20}, "memory"),
    ({"memory": 1 << 45}, "memory"),
    ({"cpus": 0}, "cpus"),
    ({"cpus": 1025}, "cpus"),
    ({"cpus": 2.0}, "cpus"),
    ({"watermark_scale_factor": 0}, "watermark_scale_factor"),
    ({"watermark_scale_factor": 3001}, "watermark_scale_factor"),
    ({"watermark_boost_factor": -1}, "watermark_boost_factor"),
    ({"percpu_pagelist_high_fraction": 7}, "percpu_pagelist_high_fraction"),
    ({"percpu_pagelist_high_fraction": -1}, "percpu_pagelist_high_fraction"),
    ({"defrag_mode": 2}, "defrag_mode"),
    ({"defrag_mode": True}, "defrag_mode"),
    ({"extfrag_threshold": 1001}, "extfrag_threshold"),
    ({"compaction_proactiveness": 101}, "compaction_proactiveness"),
    ({"cpu_data_slice_kb": -5}, "cpu_data_slice_kb"),
    ({"kernel_image_size": -1}, "kernel_image_size"),
    ({"min_free_kbytes": -1}, "min_free_kbytes"),
    ({"lowmem_reserve_ratio": (256, 256, 32, 0)}, "lowmem_reserve_ratio"),
    ({"lowmem_reserve_ratio": (256, -1, 32, 0, 0)}, "lowmem_reserve_ratio"),
    ({"ram_ranges": [(0x100, 0x100)]}, r"ram_ranges\[0\]"),
    ({"ram_ranges": [(0x1000, 0x2000), (0x100, 0x800)]}, r"ram_ranges\[1\]"),
    ({"ram_ranges": [(0x100,)]}, r"ram_ranges\[0\]"),
    ({"reserved": [(5, 1)]}, r"reserved\[0\]"),
    ({"reserved": [(0, 0x100), ("a", 3)]}, r"reserved\[1\]"),
])
def test_validation_errors_name_the_field(kwargs, field):
    """MachineConfig.validate(): ConfigError whose message starts with the field."""
    with pytest.raises(ConfigError, match=rf"^{field}"):
        MachineConfig(**kwargs).validate()
    with pytest.raises(ConfigError, match=rf"^{field}"):
        Machine(MachineConfig(**kwargs), boot=False)


def test_config_from_kwargs():
    """config_from_kwargs(): size strings accepted, unknown fields named."""
    cfg = config_from_kwargs(memory="1G", cpus=2, kernel_image_size="16M")
    assert (cfg.memory, cfg.cpus, cfg.kernel_image_size) == (1 << 30, 2, 16 << 20)
    with pytest.raises(ConfigError, match=r"^dirty_ratio: unknown"):
        config_from_kwargs(dirty_ratio=20)
    with pytest.raises(ConfigError, match=r"^memory: "):
        config_from_kwargs(memory="lots")
    with pytest.raises(ConfigError, match=r"^cpus: "):
        Machine(memory="64M", cpus=0)


def test_machine_takes_config_or_kwargs_not_both():
    with pytest.raises(TypeError):
        Machine(MachineConfig(memory=64 << 20), cpus=2)


def test_defaults_are_the_kernel_defaults():
    """Documentation/admin-guide/sysctl/vm.rst defaults (7.2): watermark_scale_factor
    10, watermark_boost_factor 15000, lowmem_reserve_ratio 256 256 32 0 0,
    percpu_pagelist_high_fraction 0, extfrag_threshold 500, compaction_proactiveness 20,
    defrag_mode 0 -- also the values of the 7.2 guest (README section 3)."""
    c = MachineConfig()
    assert (c.watermark_scale_factor, c.watermark_boost_factor, c.lowmem_reserve_ratio,
            c.percpu_pagelist_high_fraction, c.extfrag_threshold,
            c.compaction_proactiveness, c.defrag_mode, c.min_free_kbytes) == \
        (10, 15000, (256, 256, 32, 0, 0), 0, 500, 20, 0, None)
    c.validate()


def test_default_reservations():
    """MachineConfig.resolved_reserved(): first MiB, the kernel image at 16 MiB, 64 MiB
    of swiotlb below the low RAM end when there is RAM above 4 GiB, and the memmap
    (64 bytes per page, rounded up to pages) at the top; merged and sorted."""
    c = config_from_kwargs(memory="6G")
    top = 0x1C0000
    memmap = -(-(top * 64) // 4096)
    assert c.resolved_reserved() == [
        (0, 0x100), (0x1000, 0x3000), (0xBFFD7 - 0x4000, 0xBFFD7), (top - memmap, top)]
    small = config_from_kwargs(memory="64M")
    assert small.resolved_reserved() == [(0, 0x100), (0x1000, 0x3000), (0x3ED7, 0x3FD7)]
    explicit = config_from_kwargs(memory="64M", reserved=[(0x2000, 0x2100), (0, 0x10)])
    assert explicit.resolved_reserved() == [(0, 0x10), (0x2000, 0x2100)]


def test_to_dict_round_trip():
    c = config_from_kwargs(memory="2G", cpus=3, thp=False)
    assert MachineConfig(**c.to_dict()) == c
