"""Fuzz: mutated allocator dumps and /proc files end in a result or a clear error.

Every input to the state importers (``gt_buddydump`` of the real traces, ``buddyinfo``,
``pagetypeinfo``, ``zoneinfo``, ``vmstat``, ``extfrag_index``) is taken from a real snapshot,
then mutated by Hypothesis (bytes replaced, lines dropped, duplicated or cut, digits
changed): the parser returns a result or raises an :class:`InputFormatError` (which names
the file, line and field), never any other exception.
"""
from __future__ import annotations

import lzma
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pagealloc.workload import procfs
from pagealloc.workload.errors import InputFormatError
from pagealloc.workload.snapshot import parse_buddydump

SNAP = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "linux-6.1" / "anon" / "snap_before"


def _text(name: str) -> str:
    if not SNAP.is_dir():
        pytest.skip("real traces not found")
    p = SNAP / name
    if name.endswith(".xz"):
        return lzma.decompress(p.read_bytes()).decode()
    return p.read_text()


@st.composite
def mutated(draw: st.DrawFn, text: str, max_lines: int = 400) -> str:
    lines = text.splitlines(keepends=True)[:max_lines]
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "cut", "digit", "byte", "swap"]))
        line = lines[i]
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, line)
        elif op == "cut":
            lines[i] = line[:draw(st.integers(0, max(0, len(line) - 1)))]
        elif op == "digit":
            digits = [j for j, c in enumerate(line) if c.isdigit()]
            if digits:
                j = draw(st.sampled_from(digits))
                lines[i] = line[:j] + draw(st.sampled_from("0123456789x-")) + line[j + 1:]
        elif op == "byte" and line:
            j = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:j] + draw(st.characters(codec="utf-8")) + line[j + 1:]
        elif op == "swap" and len(lines) > 1:
            k = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[k] = lines[k], lines[i]
    return "".join(lines)


PARSERS = {
    "gt_buddydump.xz": lambda t: parse_buddydump(t, "gt_buddydump"),
    "buddyinfo": lambda t: procfs.parse_buddyinfo(t, "buddyinfo"),
    "pagetypeinfo": lambda t: procfs.parse_pagetypeinfo(t, "pagetypeinfo"),
    "zoneinfo": lambda t: procfs.parse_zoneinfo(t, "zoneinfo"),
    "vmstat": lambda t: procfs.parse_vmstat(t, "vmstat"),
    "extfrag_index": lambda t: procfs.parse_extfrag(t, "extfrag_index"),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_mutated_input_ends_in_result_or_clear_error(name: str) -> None:
    text = _text(name)
    parse = PARSERS[name]
    parse(text)                                   # the real file parses

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated(text))
    def run(t: str) -> None:
        try:
            parse(t)
        except InputFormatError as e:
            assert str(e)                         # names the file/line/field

    run()
