"""Read kmem tracepoints from ftrace text (``trace``/``trace_pipe``), plain or compressed.

Parses lines of the form ``<task>-<pid> [<cpu>] <flags> <ts>: <event>: <fields>`` (the
task name may itself contain ``-``, so the PID is the digits after the last ``-`` before
the CPU field) into :class:`TraceEvent` records with the kmem fields decoded
(``include/trace/events/kmem.h``).  Markers (``tracing_mark_write``) and the dump points
of the shared traces (``gt_show: GT_BUDDYDUMP id=N``) come through as events too.

A malformed line raises :class:`TraceFormatError` naming the file, line number and field;
``lenient=True`` skips such lines and counts them instead.
"""

from __future__ import annotations

from pagealloc.workload.errors import InputFormatError

import bz2
import gzip
import lzma
import os
from dataclasses import dataclass, field
from typing import IO, Iterator

from pagealloc.mm.gfp import GFP_TABLE_7_2, GfpParseError, GfpTable, parse_gfp

KMEM_EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_free_batched",
               "mm_page_alloc_zone_locked", "mm_page_pcpu_drain", "mm_page_alloc_extfrag")


class TraceFormatError(InputFormatError):
    """A trace line cannot be parsed."""


@dataclass(slots=True)
class TraceEvent:
    """One trace line: prefix fields plus the event's decoded fields."""

    lineno: int
    task: str
    pid: int
    cpu: int
    flags: str
    ts: float
    name: str
    fields: dict[str, int] = field(default_factory=dict)
    text: str = ""          # the raw field text (markers, unknown events)

    @property
    def softirq(self) -> bool:
        return len(self.flags) > 2 and self.flags[2] in "sH"


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open a trace file, decompressing .xz, .gz, .bz2 (and .zst if zstandard is installed)."""
    p = os.fspath(path)
    if p.endswith(".xz"):
        return lzma.open(p, "rt", encoding="utf-8", errors="replace")
    if p.endswith(".gz"):
        return gzip.open(p, "rt", encoding="utf-8", errors="replace")
    if p.endswith(".bz2"):
        return bz2.open(p, "rt", encoding="utf-8", errors="replace")
    if p.endswith(".zst"):
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise TraceFormatError(p, 0, "file", "reading .zst needs the 'zstandard' package") from None
        import io
        fh = open(p, "rb")
        return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8",
                                errors="replace")
    return open(p, encoding="utf-8", errors="replace")


_INT_FIELDS = {
    "mm_page_alloc": ("pfn", "order", "migratetype"),
    "mm_page_free": ("pfn", "order"),
    "mm_page_free_batched": ("pfn", "order"),
    "mm_page_alloc_zone_locked": ("pfn", "order", "migratetype", "percpu_refill"),
    "mm_page_pcpu_drain": ("pfn", "order", "migratetype"),
    "mm_page_alloc_extfrag": ("pfn", "alloc_order", "fallback_order", "pageblock_order",
                              "alloc_migratetype", "fallback_migratetype", "fragmenting",
                              "change_ownership"),
}


def parse_line(line: str, lineno: int = 0, path: str = "trace",
               table: GfpTable = GFP_TABLE_7_2) -> TraceEvent | None:
    """Parse one trace line; None for comments and blank lines."""
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    br = line.find(" [")
    if br < 0:
        raise TraceFormatError(path, lineno, "cpu", "no '[cpu]' field")
    head = line[:br].strip()
    dash = head.rfind("-")
    if dash < 0:
        raise TraceFormatError(path, lineno, "pid", f"no task-pid in {head!r}")
    task = head[:dash]
    try:
        pid = int(head[dash + 1:])
    except ValueError:
        raise TraceFormatError(path, lineno, "pid", f"not a number: {head[dash + 1:]!r}") from None
    close = line.find("]", br)
    if close < 0:
        raise TraceFormatError(path, lineno, "cpu", "unterminated '[cpu]'")
    try:
        cpu = int(line[br + 2:close])
    except ValueError:
        raise TraceFormatError(path, lineno, "cpu", f"not a number: {line[br + 2:close]!r}") from None
    rest = line[close + 1:].lstrip()
    parts = rest.split(None, 1)
    if len(parts) < 2:
        raise TraceFormatError(path, lineno, "timestamp", "line ends after the cpu field")
    flags, rest = parts
    if flags.endswith(":"):
        # irq-info off (options/irq-info=0): no flags column, the token is the timestamp
        try:
            ts = float(flags[:-1])
        except ValueError:
            raise TraceFormatError(path, lineno, "timestamp", f"not a number: {flags!r}") from None
        flags = ""
        body = rest
    else:
        colon = rest.find(": ")
        if colon < 0:
            raise TraceFormatError(path, lineno, "timestamp", "no ': ' after the timestamp")
        try:
            ts = float(rest[:colon])
        except ValueError:
            raise TraceFormatError(path, lineno, "timestamp", f"not a number: {rest[:colon]!r}") from None
        body = rest[colon + 2:]
    colon2 = body.find(":")
    if colon2 < 0:
        raise TraceFormatError(path, lineno, "event", "no event name")
    name = body[:colon2].strip()
    text = body[colon2 + 1:].strip()
    ev = TraceEvent(lineno, task, pid, cpu, flags, ts, name, text=text)
    if name in _INT_FIELDS:
        _decode_fields(ev, path, table)
    return ev


def _decode_fields(ev: TraceEvent, path: str, table: GfpTable) -> None:
    f = ev.fields
    for tok in ev.text.split():
        k, sep, v = tok.partition("=")
        if not sep:
            raise TraceFormatError(path, ev.lineno, tok, "expected name=value")
        if k == "page":
            continue
        if k == "gfp_flags":
            try:
                f["gfp_flags"] = parse_gfp(v, table)
            except GfpParseError as e:
                raise TraceFormatError(path, ev.lineno, "gfp_flags", str(e)) from None
            continue
        try:
            f[k] = int(v, 0)
        except ValueError:
            raise TraceFormatError(path, ev.lineno, k, f"not a number: {v!r}") from None
    for need in _INT_FIELDS[ev.name]:
        if need not in f:
            raise TraceFormatError(path, ev.lineno, need, "missing")
    if ev.name == "mm_page_alloc":
        if "gfp_flags" not in f:
            raise TraceFormatError(path, ev.lineno, "gfp_flags", "missing")
        if "page=0000000000000000" in ev.text or "page=(nil)" in ev.text:
            f["pfn"] = -1


def read_trace(path: str | os.PathLike[str], table: GfpTable = GFP_TABLE_7_2,
               lenient: bool = False, skipped: list[int] | None = None) -> Iterator[TraceEvent]:
    """Yield every event of a trace file in order."""
    p = os.fspath(path)
    with open_text(p) as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                ev = parse_line(line.rstrip("\n"), lineno, p, table)
            except TraceFormatError:
                if not lenient:
                    raise
                if skipped is not None:
                    skipped.append(lineno)
                continue
            if ev is not None:
                yield ev
