"""Tests of pagealloc.mm.gfp: GFP bits, show_gfp_flags()/parse_gfp() on real trace
strings, the 6.1 and 7.2 tables, gfp_zone(), gfp_migratetype() and the ALLOC_* flags.

Kernel references: include/linux/gfp_types.h, include/linux/gfp.h,
include/trace/events/mmflags.h and mm/page_alloc.c (``pa.c:NNNN``) of Linux 7.2; the
6.1 table is checked against the event format file recorded on the 6.1 guest.
"""
from __future__ import annotations

import lzma
import re
from itertools import islice

import pytest

from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE
from pagealloc.mm.gfp import (
    GFP_TABLE_6_1,
    GFP_TABLE_7_2,
    GfpParseError,
    gfp_migratetype,
    gfp_to_alloc_flags,
    gfp_zone,
    parse_gfp,
    show_gfp_flags,
)

# Strings seen in the first 300k lines of the real traces (7.2 and 6.1).
TRACE_STRINGS_7_2 = [
    "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP",
    "GFP_HIGHUSER|__GFP_ACCOUNT",
    "GFP_HIGHUSER_MOVABLE|__GFP_COMP",
    "GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP",
    "GFP_TRANSHUGE|__GFP_NORETRY|__GFP_THISNODE",
    "GFP_NOWAIT",
    "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "__GFP_IO|__GFP_FS|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "__GFP_RECLAIMABLE|__GFP_IO|__GFP_FS|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "GFP_KERNEL|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "GFP_NOFS|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "GFP_NOWAIT|__GFP_RECLAIMABLE|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "GFP_NOWAIT|__GFP_HIGHMEM|__GFP_IO|__GFP_FS|__GFP_ZERO",
    "GFP_NOWAIT|__GFP_HIGHMEM|__GFP_IO|__GFP_FS|__GFP_ACCOUNT",
    "GFP_NOWAIT|__GFP_IO|__GFP_FS|__GFP_COMP|__GFP_ACCOUNT",
    "GFP_ATOMIC|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "GFP_ATOMIC|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
]
TRACE_STRINGS_6_1 = [
    "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO",
    "GFP_HIGHUSER|__GFP_ACCOUNT",
    "GFP_HIGHUSER_MOVABLE|__GFP_COMP",
    "GFP_KERNEL_ACCOUNT|__GFP_ZERO",
    "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY",
    "__GFP_IO|__GFP_FS|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "__GFP_IO|__GFP_FS|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC|__GFP_RECLAIMABLE",
    "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_RECLAIMABLE",
    "GFP_NOWAIT|__GFP_NOWARN",
    "GFP_NOFS|__GFP_NOWARN|__GFP_NORETRY",
    "GFP_USER",
    "GFP_KERNEL_ACCOUNT|__GFP_HIGHMEM|__GFP_NOWARN",
    "GFP_KERNEL_ACCOUNT|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP",
    "GFP_ATOMIC|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "GFP_ATOMIC|__GFP_NOWARN|__GFP_NORETRY",
    "GFP_ATOMIC|__GFP_NOWARN|__GFP_NORETRY|__GFP_RECLAIMABLE",
    "GFP_TRANSHUGE|__GFP_NORETRY|__GFP_THISNODE",
]

_GFP_RE = re.compile(r"gfp_flags=(\S+)")


def _trace_gfp_strings(path, lines: int = 200_000) -> set[str]:
    with lzma.open(path, "rt") as f:
        return {m.group(1) for line in islice(f, lines) for m in _GFP_RE.finditer(line)}


# ====================================================================== bits
def test_bit_values_match_gfp_types_h():
    """include/linux/gfp_types.h (7.2): enum ___GFP_*_BIT in order, bit 9 unused,
    no KASAN_HW_TAGS / LOCKDEP on Debian, so __GFP_NO_OBJ_EXT is bit 24."""
    names = ["DMA", "HIGHMEM", "DMA32", "MOVABLE", "RECLAIMABLE", "HIGH", "IO", "FS",
             "ZERO", None, "DIRECT_RECLAIM", "KSWAPD_RECLAIM", "WRITE", "NOWARN",
             "RETRY_MAYFAIL", "NOFAIL", "NORETRY", "MEMALLOC", "COMP", "NOMEMALLOC",
             "HARDWALL", "THISNODE", "ACCOUNT", "ZEROTAGS", "NO_OBJ_EXT"]
    for bit, name in enumerate(names):
        if name:
            assert getattr(G, "__GFP_" + name) == 1 << bit, name
    assert G.GFP_KERNEL == 0xCC0
    assert G.GFP_ATOMIC == 0x820 and G.GFP_ATOMIC_6_1 == 0xA20
    assert G.GFP_NOWAIT == 0x2800 and G.GFP_NOWAIT_6_1 == 0x800
    assert G.GFP_HIGHUSER_MOVABLE == 0x100CCA
    # (HIGHUSER_MOVABLE | COMP | NOMEMALLOC | NOWARN) & ~__GFP_RECLAIM, + DIRECT_RECLAIM
    assert G.GFP_TRANSHUGE_LIGHT == 0x1C20CA and G.GFP_TRANSHUGE == 0x1C24CA
    assert G.ALLOC_MIN_RESERVE == G.__GFP_HIGH and G.ALLOC_KSWAPD == G.__GFP_KSWAPD_RECLAIM


# ====================================================================== print / parse
@pytest.mark.parametrize("text", TRACE_STRINGS_7_2)
def test_round_trip_7_2_trace_strings(text):
    """show_gfp_flags() (mmflags.h __def_gfpflag_names, trace_print_flags_seq()):
    parsing a real 7.2 trace string and printing it gives the same string."""
    assert show_gfp_flags(parse_gfp(text, GFP_TABLE_7_2), GFP_TABLE_7_2) == text


@pytest.mark.parametrize("text", TRACE_STRINGS_6_1)
def test_round_trip_6_1_trace_strings(text):
    """The same with the 6.1 table on real 6.1 trace strings."""
    assert show_gfp_flags(parse_gfp(text, GFP_TABLE_6_1), GFP_TABLE_6_1) == text


def test_known_values():
    """A few strings and their masks as the traces' raw fields show them."""
    assert parse_gfp("GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP") == 0x140DCA
    assert parse_gfp("GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP") == 0x440DC0
    assert parse_gfp("GFP_TRANSHUGE|__GFP_NORETRY|__GFP_THISNODE") == 0x3D24CA
    assert show_gfp_flags(0x140DCA) == "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP"
    assert show_gfp_flags(0x140DCA, GFP_TABLE_6_1) == "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO"


def test_round_trip_on_real_traces(traces_dir):
    """Every gfp_flags string in the first 200k lines of the 7.2 and 6.1 frag traces
    (plus highorder, which has GFP_ATOMIC) round-trips with its kernel's table."""
    for version, table in (("linux-7.2", GFP_TABLE_7_2), ("linux-6.1", GFP_TABLE_6_1)):
        seen: set[str] = set()
        for workload in ("frag", "highorder"):
            path = traces_dir / version / workload / "trace.txt.xz"
            if path.exists():
                seen |= _trace_gfp_strings(path)
        assert seen, version
        for text in sorted(seen):
            assert show_gfp_flags(parse_gfp(text, table), table) == text, (version, text)


def _format_table(path) -> list[tuple[int, str]]:
    """The (mask, name) entries of __print_flags() in an mm_page_alloc format file."""
    text = path.read_text()
    out = []
    for expr, name in re.findall(r'\{\( unsigned long\)(.*?), "(\w+)"\}', text):
        expr = expr.replace("( gfp_t)", "").replace("(__force gfp_t)", "")
        expr = re.sub(r"(0x[0-9a-fA-F]+)u\b", r"\1", expr)
        expr = re.sub(r"\b(\d+)UL\b", r"\1", expr)
        out.append((eval(expr, {"__builtins__": {}}) & 0xFFFFFFFF, name))  # noqa: S307
    return out


@pytest.mark.parametrize("version,table", [("linux-7.2", GFP_TABLE_7_2),
                                           ("linux-6.1", GFP_TABLE_6_1)])
def test_tables_match_recorded_event_format(traces_dir, version, table):
    """The model's print tables equal the __print_flags() table in the guest's own
    mm_page_alloc event format (order and masks), bits with value 0 excluded."""
    path = traces_dir / version / "frag" / "event_formats" / "kmem_mm_page_alloc.format"
    if not path.exists():
        cands = list((traces_dir / version / "frag" / "event_formats").glob("*mm_page_alloc.format"))
        assert cands
        path = cands[0]
    recorded = [(v, n) for v, n in _format_table(path) if v]
    assert recorded == [(v, n) for v, n in table.entries if v]


def test_show_rules_zero_leftover_and_order():
    """trace_print_flags_seq(): 0 prints "none"; entries are matched whole, in table
    order, and their bits cleared; leftover bits print as 0x%lx at the end."""
    assert show_gfp_flags(0) == "none" and parse_gfp("none") == 0
    assert show_gfp_flags(1 << 26) == "0x4000000"
    assert show_gfp_flags(G.GFP_KERNEL | 1 << 26) == "GFP_KERNEL|0x4000000"
    assert parse_gfp("GFP_KERNEL|0x4000000") == G.GFP_KERNEL | 1 << 26
    # GFP_USER contains GFP_KERNEL: the larger composite comes first in the table
    assert show_gfp_flags(G.GFP_USER) == "GFP_USER"
    assert show_gfp_flags(G.__GFP_DIRECT_RECLAIM | G.__GFP_KSWAPD_RECLAIM) == "GFP_NOIO"
    assert show_gfp_flags(G.__GFP_KSWAPD_RECLAIM) == "__GFP_KSWAPD_RECLAIM"
    assert show_gfp_flags(G.__GFP_DMA) == "GFP_DMA"
    assert show_gfp_flags(G.__GFP_RECLAIMABLE | G.__GFP_MOVABLE) == "__GFP_MOVABLE|__GFP_RECLAIMABLE"


def test_parse_numbers_and_aliases():
    """parse_gfp(): hex and decimal numbers, the __GFP_* bit names and the composite
    names are all accepted; spaces around '|' are ignored."""
    assert parse_gfp("0xcc0") == parse_gfp("3264") == parse_gfp("GFP_KERNEL") == 0xCC0
    assert parse_gfp("__GFP_RECLAIM | __GFP_IO|__GFP_FS") == G.GFP_KERNEL
    assert parse_gfp("GFP_NOIO") == G.__GFP_RECLAIM


@pytest.mark.parametrize("text,needle", [
    ("GFP_BOGUS", "GFP_BOGUS"),
    ("GFP_KERNEL|__GFP_FOO", "__GFP_FOO"),
    ("__GFP_ATOMIC", "__GFP_ATOMIC"),          # gone since v6.3
    ("", "empty"),
    ("GFP_KERNEL|", "empty"),
    ("|", "empty"),
    ("-1", "negative"),
])
def test_parse_errors_name_the_bad_part(text, needle):
    """parse_gfp() raises GfpParseError naming the unknown flag (and the kernel)."""
    with pytest.raises(GfpParseError, match=re.escape(needle)):
        parse_gfp(text, GFP_TABLE_7_2)


def test_unknown_flag_error_names_kernel_version():
    with pytest.raises(GfpParseError, match="7.2"):
        parse_gfp("__GFP_ATOMIC", GFP_TABLE_7_2)
    assert parse_gfp("__GFP_ATOMIC", GFP_TABLE_6_1) == 0x200


def test_6_1_vs_7_2_tables():
    """6.1 GFP_ATOMIC = __GFP_HIGH|__GFP_ATOMIC|__GFP_KSWAPD_RECLAIM (0xa20), 7.2
    GFP_ATOMIC = __GFP_HIGH|__GFP_KSWAPD_RECLAIM (0x820, commit "mm: discard
    __GFP_ATOMIC", v6.3); 6.1 GFP_NOWAIT lacks __GFP_NOWARN.  So the same mask prints
    differently (7.2's GFP_ATOMIC is 6.1's GFP_NOWAIT|__GFP_HIGH), and the 6.1 table
    orders the bits differently (__GFP_COMP before __GFP_ZERO)."""
    assert parse_gfp("GFP_ATOMIC", GFP_TABLE_6_1) == 0xA20
    assert parse_gfp("GFP_ATOMIC", GFP_TABLE_7_2) == 0x820
    assert show_gfp_flags(0x820, GFP_TABLE_7_2) == "GFP_ATOMIC"
    assert show_gfp_flags(0x820, GFP_TABLE_6_1) == "GFP_NOWAIT|__GFP_HIGH"     # 6.1 NOWAIT = 0x800
    assert show_gfp_flags(0xA20, GFP_TABLE_6_1) == "GFP_ATOMIC"
    assert show_gfp_flags(0xA20, GFP_TABLE_7_2) == "GFP_ATOMIC|0x200"
    assert show_gfp_flags(0x2800, GFP_TABLE_7_2) == "GFP_NOWAIT"
    assert show_gfp_flags(0x2800, GFP_TABLE_6_1) == "GFP_NOWAIT|__GFP_NOWARN"
    s61 = "GFP_ATOMIC|__GFP_NOWARN|__GFP_NORETRY"
    assert show_gfp_flags(parse_gfp(s61, GFP_TABLE_6_1) & ~0x200, GFP_TABLE_7_2) == s61


# ====================================================================== gfp.h helpers
@pytest.mark.parametrize("bits,zone", [
    (0x0, G.ZONE_NORMAL), (0x1, G.ZONE_DMA), (0x2, G.ZONE_NORMAL), (0x4, G.ZONE_DMA32),
    (0x8, G.ZONE_NORMAL), (0x9, G.ZONE_DMA), (0xA, G.ZONE_MOVABLE), (0xC, G.ZONE_DMA32)])
def test_gfp_zone(bits, zone):
    """gfp_zone() (gfp.h:156, GFP_ZONE_TABLE): x86-64 has no HIGHMEM, so __GFP_HIGHMEM
    alone means NORMAL but __GFP_MOVABLE|__GFP_HIGHMEM means ZONE_MOVABLE."""
    assert gfp_zone(bits | G.GFP_KERNEL) == zone


@pytest.mark.parametrize("bits", [0x3, 0x5, 0x6, 0x7, 0xB, 0xD, 0xE, 0xF])
def test_gfp_zone_bad(bits):
    """GFP_ZONE_BAD (gfp.h:145): these combinations are a VM_BUG_ON."""
    with pytest.raises(GfpParseError):
        gfp_zone(bits)


def test_gfp_migratetype():
    """gfp_migratetype() (gfp.h:24): (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT;
    both bits is a VM_WARN_ON that the model rejects."""
    assert gfp_migratetype(G.GFP_KERNEL) == MIGRATE_UNMOVABLE
    assert gfp_migratetype(G.GFP_HIGHUSER_MOVABLE) == MIGRATE_MOVABLE
    assert gfp_migratetype(G.GFP_KERNEL | G.__GFP_RECLAIMABLE) == MIGRATE_RECLAIMABLE
    with pytest.raises(GfpParseError):
        gfp_migratetype(G.__GFP_MOVABLE | G.__GFP_RECLAIMABLE)


@pytest.mark.parametrize("gfp,order,expected", [
    # ALLOC_WMARK_MIN | ALLOC_CPUSET | (gfp & (__GFP_HIGH | __GFP_KSWAPD_RECLAIM))
    (G.GFP_KERNEL, 0, G.ALLOC_CPUSET | G.ALLOC_KSWAPD),
    (G.GFP_KERNEL, 3, G.ALLOC_CPUSET | G.ALLOC_KSWAPD),
    # no direct reclaim: ALLOC_NON_BLOCK; __GFP_HIGH drops ALLOC_CPUSET
    (G.GFP_ATOMIC, 0, G.ALLOC_MIN_RESERVE | G.ALLOC_KSWAPD | G.ALLOC_NON_BLOCK),
    (G.GFP_ATOMIC, 1, G.ALLOC_MIN_RESERVE | G.ALLOC_KSWAPD | G.ALLOC_NON_BLOCK | G.ALLOC_HIGHATOMIC),
    (G.GFP_NOWAIT, 2, G.ALLOC_CPUSET | G.ALLOC_KSWAPD | G.ALLOC_NON_BLOCK),
    # __GFP_NOMEMALLOC: no ALLOC_NON_BLOCK/HIGHATOMIC, but CPUSET still dropped
    (G.GFP_ATOMIC | G.__GFP_NOMEMALLOC, 2, G.ALLOC_MIN_RESERVE | G.ALLOC_KSWAPD),
    # movable: ALLOC_CMA (gfp_to_alloc_flags_cma, CONFIG_CMA=y)
    (G.GFP_HIGHUSER_MOVABLE, 0, G.ALLOC_CPUSET | G.ALLOC_KSWAPD | G.ALLOC_CMA),
    (G.GFP_TRANSHUGE_LIGHT, 9, G.ALLOC_CPUSET | G.ALLOC_CMA),
])
def test_gfp_to_alloc_flags(gfp, order, expected):
    """gfp_to_alloc_flags() (pa.c:4533), ALLOC_WMARK_MIN = 0."""
    assert gfp_to_alloc_flags(gfp, order, True, False) == expected


def test_gfp_to_alloc_flags_defrag_mode_and_no_cma():
    """gfp_to_alloc_flags() (pa.c:4578): defrag_mode adds ALLOC_NOFRAGMENT; without
    CONFIG_CMA (Debian 6.1) there is no ALLOC_CMA."""
    assert gfp_to_alloc_flags(G.GFP_KERNEL, 0, True, True) & G.ALLOC_NOFRAGMENT
    assert not gfp_to_alloc_flags(G.GFP_HIGHUSER_MOVABLE, 0, False, False) & G.ALLOC_CMA


def test_alloc_flag_values_match_internal_h():
    """mm/internal.h (7.2): the ALLOC_* values (CONFIG_ZONE_DMA32: NOFRAGMENT 0x100)."""
    assert (G.ALLOC_NO_WATERMARKS, G.ALLOC_OOM, G.ALLOC_NON_BLOCK, G.ALLOC_MIN_RESERVE,
            G.ALLOC_CPUSET, G.ALLOC_CMA, G.ALLOC_NOFRAGMENT, G.ALLOC_HIGHATOMIC,
            G.ALLOC_TRYLOCK, G.ALLOC_KSWAPD) == \
        (0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800)
    assert G.ALLOC_RESERVES == 0x10 | 0x20 | 0x200 | 0x8
    assert G.ALLOC_WMARK_MASK == 3
