"""Read kmem tracepoints from ftrace text, ``trace-cmd report`` and ``perf script`` output.

Every reader yields the same :class:`TraceEvent` records: the line's task, PID, CPU, flags,
timestamp and event name, with the fields of the six kmem page events decoded to ints
(``include/trace/events/kmem.h``; ``gfp_flags`` parsed with the kernel's GFP table) and the
text of every other event kept as it is.  Markers (``tracing_mark_write``) and the dump
points of the shared traces (``gt_show: GT_BUDDYDUMP id=N``) come through as events too.

Formats (:data:`FORMATS`; :func:`detect_format` picks one per file, ``fmt=`` forces it):

``ftrace``
    ``/sys/kernel/tracing/trace`` and ``trace_pipe``: ``<task>-<pid> [<cpu>] <flags>
    <sec>.<usec>: <event>: <fields>`` (``trace_print_context()`` in
    ``kernel/trace/trace_output.c``; traces README section 7), the flags column absent when
    ``options/irq-info`` is off.  The task name may contain ``-``, ``/``, ``:`` and spaces, so
    the PID is the number after the last ``-`` before the CPU field.
``trace-cmd``
    ``trace-cmd report`` (``trace_show_data()`` in trace-cmd's ``tracecmd/trace-read.c``):
    header lines ``version = N``, ``cpus=N``, ``CPU N is empty``, ``CPU:N [EVENTS DROPPED]``;
    events as ``"%16s-%-5d [%03d]"`` then ``" %5lu.%06lu:"`` (``%6.1000d``; ``%9.1d`` with
    ``--ts-ns``, a plain integer below one second or for counter clocks), an optional
    ``(+delta)`` (``--ts-diff``) and the event name padded to 20 columns.  ``-l`` prints
    ``"%8.8s-%-5d %3d"`` (task cut to 8 characters) followed by the latency flags of
    libtraceevent's ``data_latency_format()`` (``d``/``X``, ``N``, ``h``/``s``/``H``, preempt
    depth in hex, migrate-disable depth); ``-R`` prints the record's fields raw
    (libtraceevent ``tep_print_fields()``: ``unsigned long`` as ``0x%llx``, ``int`` as
    ``%d``, no ``page=``; with ``-l`` the flags as ``-0x%x``).  Markers are the ftrace
    ``print``/``bprint`` events, printed ``print: tracing_mark_write: <text>`` (their
    ``"%ps: %s"`` format); they are renamed to the symbol, as ftrace itself prints them.
``perf-script``
    ``perf script`` (``perf_sample__fprintf_start()`` and ``process_event()`` in
    ``tools/perf/builtin-script.c``): ``"%16s "`` comm, ``"%7d "`` TID (``pid/tid`` with
    ``-F +pid``), ``"[%03d] "`` CPU, ``"%12s: "`` time (``sec.usec``; ``--ns`` gives 9
    digits), an optional ``"%10lu "`` period, then the event name with its subsystem
    (``kmem:mm_page_alloc``) right-aligned to the longest name, then the libtraceevent text
    of the record, then (``-F +ip,+sym``) `` <ip> <sym> (<dso>)`` or, with ``-g``, call-chain
    lines, which are skipped like blank lines.  A sample has no flags column.

The body of a kmem event may come from the kernel (``ftrace``) or from libtraceevent
(``trace-cmd``, ``perf``), which prints ``page=`` differently (it cannot evaluate
``vmemmap_base``); only whether the page is NULL is used from it.  A failed allocation
(NULL page, or the raw ``pfn`` ``-1UL``) gets ``pfn = -1``.  In raw bodies (no ``page=``)
``mm_page_free_batched`` has no ``order`` (its format prints a constant 0) and
``mm_page_alloc_extfrag`` lacks the two fields computed at print time: ``pageblock_order``
(:data:`PAGEBLOCK_ORDER`) and ``fragmenting = fallback_order < pageblock_order``.

Input may be plain or compressed with xz, gzip, bzip2 or zstd, recognised by its magic
bytes (else by the suffix ``.xz``/``.gz``/``.bz2``/``.zst``); a compressed stream that ends
early or is corrupt raises :class:`TraceFormatError` naming the file and the line it reached.
A file written by :func:`pagealloc.workload.tracebin.convert_trace` is read transparently
(same events, same line numbers).

A malformed line raises :class:`TraceFormatError` naming the file, line number and field;
``lenient=True`` skips such lines and counts them instead.  Each line is first matched by one
compiled pattern per format (the fast path) and, when that fails, parsed field by field (the
slow path), which accepts the same lines and names the field that is wrong.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator

from pagealloc.mm.gfp import GFP_TABLE_7_2, GfpParseError, GfpTable, parse_gfp
from pagealloc.workload.errors import InputFormatError

KMEM_EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_free_batched",
               "mm_page_alloc_zone_locked", "mm_page_pcpu_drain", "mm_page_alloc_extfrag")

#: The formats :func:`read_trace` accepts; ``binary`` is the converted form of
#: :mod:`pagealloc.workload.tracebin`.
FORMATS = ("ftrace", "trace-cmd", "perf-script", "binary")

#: ``pageblock_order`` of x86-64, for raw ``mm_page_alloc_extfrag`` records: the 7.2 and 6.1
#: format files print ``min(HPAGE_PMD_SHIFT - PAGE_SHIFT, MAX_PAGE_ORDER) = min(21 - 12, 10)``.
PAGEBLOCK_ORDER = 9

#: The first bytes of a converted trace (:mod:`pagealloc.workload.tracebin`).
BINARY_MAGIC = b"PATRBIN\x01"


class TraceFormatError(InputFormatError):
    """A trace line cannot be parsed."""


@dataclass(slots=True)
class TraceEvent:
    """One trace line: prefix fields plus the event's decoded fields.

    ``fields`` holds the decoded ints of a kmem event; ``text`` the raw field text of every
    other event (markers, dump points, compaction events) and is empty for kmem events.
    """

    lineno: int
    task: str
    pid: int
    cpu: int
    flags: str
    ts: float
    name: str
    fields: dict[str, int] = field(default_factory=dict)
    text: str = ""

    @property
    def softirq(self) -> bool:
        return len(self.flags) > 2 and self.flags[2] in "sH"


# ---------------------------------------------------------------------------- compression

_MAGIC = ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gz"), (b"\x28\xb5\x2f\xfd", "zst"))
_SUFFIX = {".xz": "xz", ".gz": "gz", ".bz2": "bz2", ".zst": "zst"}


def compression(path: str | os.PathLike[str]) -> str:
    """The compression of a file: ``xz``, ``gz``, ``bz2``, ``zst`` or ``""`` (plain).

    The magic bytes decide; a file without a known magic (an empty one, or one whose data
    is not what its suffix says) follows its suffix, so that the decompressor reports it.
    """
    p = os.fspath(path)
    with open(p, "rb") as fh:
        head = fh.read(6)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 4 and head[:3] == b"BZh" and head[3:4] in b"123456789":
        return "bz2"
    return _SUFFIX.get(os.path.splitext(p)[1], "")


class _ZstdRaw(io.RawIOBase):
    """zstd frames decoded from a file; a frame cut short raises EOFError at the end.

    ``zstandard``'s own stream reader returns what it could decode of a truncated frame
    without saying so, which would lose the tail of a trace silently.
    """

    def __init__(self, fh: IO[bytes], zstandard: Any) -> None:
        self._fh = fh
        self._zstd = zstandard
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._pending:
            chunk = self._fh.read(1 << 20)
            if not chunk:
                if self._in_frame:
                    raise EOFError("compressed file ended before the end of a zstd frame")
                return 0
            while chunk:
                self._in_frame = True
                self._pending += self._dobj.decompress(chunk)
                if not self._dobj.eof:
                    break
                self._in_frame = False
                chunk = self._dobj.unused_data
                self._dobj = self._zstd.ZstdDecompressor().decompressobj()
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open a trace file as text, decompressing xz, gzip, bzip2 or zstd (:func:`compression`)."""
    p = os.fspath(path)
    kind = compression(p)
    if kind == "xz":
        return lzma.open(p, "rt", encoding="utf-8", errors="replace")
    if kind == "gz":
        return gzip.open(p, "rt", encoding="utf-8", errors="replace")
    if kind == "bz2":
        return bz2.open(p, "rt", encoding="utf-8", errors="replace")
    if kind == "zst":
        try:
            import zstandard
        except ImportError:
            raise TraceFormatError(p, 0, "file", "reading .zst needs the 'zstandard' package") from None
        raw = _ZstdRaw(open(p, "rb"), zstandard)
        return io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding="utf-8", errors="replace")
    return open(p, encoding="utf-8", errors="replace")


def _stream_errors() -> tuple[type[BaseException], ...]:
    """What a decompressor raises on truncated or corrupt data."""
    errs: list[type[BaseException]] = [EOFError, lzma.LZMAError, zlib.error, OSError]
    try:
        import zstandard
        errs.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errs)


# ---------------------------------------------------------------------------- event bodies

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

# How each tool prints a NULL ``page=``: the kernel's %p (0000000000000000, "(nil)" before
# pointer hashing), libtraceevent's 0x0.
_NULL_PAGES = frozenset(("0000000000000000", "(nil)", "0x0", "0", "00000000"))
_PFN_NONE = (1 << 64) - 1          # -1UL, the raw pfn of a failed allocation
_INT64_MIN, _INT64_END = -(1 << 63), 1 << 63
_NUM = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+)", re.ASCII)
_WRAPPERS = frozenset(("print", "bprint", "bputs"))   # ftrace's own events ("%ps: %s")

# Fast path: the kernel's (and libtraceevent's) TP_printk layout with nothing unusual.  At
# most 15 hex digits of pfn and 9 decimal digits, so that every value fits in int64 and the
# slow path sees anything else (it range-checks and names the field).
_P = r"page=(\S+) pfn=0x([0-9a-f]{1,15}) order=([0-9]{1,9})"
_FAST_ALLOC = re.compile(_P + r" migratetype=([0-9]{1,9}) gfp_flags=(\S+)", re.ASCII)
_FAST_FREE = re.compile(_P, re.ASCII)
_FAST_LOCKED = re.compile(_P + r" migratetype=([0-9]{1,9}) percpu_refill=([0-9]{1,9})", re.ASCII)
_FAST_DRAIN = re.compile(_P + r" migratetype=([0-9]{1,9})", re.ASCII)


class _Context:
    """Per-file parsing state: the path for messages, the GFP table and its parse cache."""

    __slots__ = ("path", "table", "gfp_cache")

    def __init__(self, path: str, table: GfpTable) -> None:
        self.path = path
        self.table = table
        self.gfp_cache: dict[str, int] = {}

    def gfp(self, text: str, lineno: int) -> int:
        v = self.gfp_cache.get(text)
        if v is None:
            try:
                v = parse_gfp(text, self.table)
            except GfpParseError as e:
                raise TraceFormatError(self.path, lineno, "gfp_flags", str(e)) from None
            if not v < _INT64_END:
                raise TraceFormatError(self.path, lineno, "gfp_flags", f"out of range: {text!r}")
            if len(self.gfp_cache) < 4096:      # distinct strings are few; bound the cache
                self.gfp_cache[text] = v
        return v


def _int(ctx: _Context, lineno: int, name: str, text: str) -> int:
    """A decimal or 0x-hexadecimal integer field (strict: no sign other than '-', no '_')."""
    if _NUM.fullmatch(text) is None:
        raise TraceFormatError(ctx.path, lineno, name, f"not a number: {text!r}")
    v = int(text, 16) if "x" in text or "X" in text else int(text)
    if not _INT64_MIN <= v < _INT64_END:
        if name == "pfn" and v == _PFN_NONE:
            return -1
        raise TraceFormatError(ctx.path, lineno, name, f"out of range: {text!r}")
    return v


def _decode_fast(ev: TraceEvent, body: str, ctx: _Context) -> bool:
    """Decode a kmem body laid out exactly as TP_printk prints it; False if it is not."""
    name = ev.name
    if name == "mm_page_alloc":
        m = _FAST_ALLOC.fullmatch(body)
        if m is None:
            return False
        page, pfn, order, mt, gfp = m.groups()
        ev.fields = {"pfn": -1 if page in _NULL_PAGES else int(pfn, 16), "order": int(order),
                     "migratetype": int(mt), "gfp_flags": ctx.gfp(gfp, ev.lineno)}
        return True
    if name == "mm_page_free" or name == "mm_page_free_batched":
        m = _FAST_FREE.fullmatch(body)
        if m is None:
            return False
        ev.fields = {"pfn": int(m[2], 16), "order": int(m[3])}
        return True
    if name == "mm_page_alloc_zone_locked":
        m = _FAST_LOCKED.fullmatch(body)
        if m is None:
            return False
        ev.fields = {"pfn": int(m[2], 16), "order": int(m[3]), "migratetype": int(m[4]),
                     "percpu_refill": int(m[5])}
        return True
    if name == "mm_page_pcpu_drain":
        m = _FAST_DRAIN.fullmatch(body)
        if m is None:
            return False
        ev.fields = {"pfn": int(m[2], 16), "order": int(m[3]), "migratetype": int(m[4])}
        return True
    return False


def _decode_slow(ev: TraceEvent, body: str, ctx: _Context) -> None:
    """Decode a kmem body token by token, pretty or raw; raise naming the bad field."""
    f = ev.fields = {}
    page: str | None = None
    for tok in body.split():
        k, sep, v = tok.partition("=")
        if not sep:
            raise TraceFormatError(ctx.path, ev.lineno, tok, "expected name=value")
        if k == "page":
            page = v
        elif k == "gfp_flags":
            f["gfp_flags"] = ctx.gfp(v, ev.lineno)
        else:
            f[k] = _int(ctx, ev.lineno, k, v)
    if page is None:
        # a raw record (trace-cmd report -R): the fields TP_printk computes are absent
        if ev.name == "mm_page_free_batched":
            f.setdefault("order", 0)
        elif ev.name == "mm_page_alloc_extfrag":
            f.setdefault("pageblock_order", PAGEBLOCK_ORDER)
            if "fallback_order" in f:
                f.setdefault("fragmenting", int(f["fallback_order"] < f["pageblock_order"]))
    for need in _INT_FIELDS[ev.name]:
        if need not in f:
            raise TraceFormatError(ctx.path, ev.lineno, need, "missing")
    if ev.name == "mm_page_alloc":
        if "gfp_flags" not in f:
            raise TraceFormatError(ctx.path, ev.lineno, "gfp_flags", "missing")
        if page in _NULL_PAGES:
            f["pfn"] = -1


def _make_event(ctx: _Context, lineno: int, task: str, pid: int, cpu: int, flags: str,
                ts: float, name: str, body: str) -> TraceEvent:
    """The event of one line, given its prefix and the text after ``<event>:``."""
    if name in _WRAPPERS:
        # trace-cmd and perf name ftrace's print events; their text is "%ps: %s"
        sym, sep, rest = body.partition(":")
        if sep and sym.strip():
            name, body = sym.strip(), rest
    ev = TraceEvent(lineno, task, pid, cpu, flags, ts, name)
    if name in _INT_FIELDS:
        body = body.strip()
        if not _decode_fast(ev, body, ctx):
            _decode_slow(ev, body, ctx)
    else:
        ev.text = body.strip()
    return ev


# ---------------------------------------------------------------------------- ftrace

# After the first " [": cpu, an optional flags column, the timestamp, the event name.
_FT_REST = re.compile(r" \[([0-9]{1,9})\] +(?:(\S*[^\s:]) +)?([0-9]{1,12}\.[0-9]{1,9}): "
                      r"([\w.-]+):(.*)", re.ASCII)
# Before it: the task (anything, not a comment) and the PID after its last '-'.
_HEAD = re.compile(r"\s*+(?!#)(.*)-([0-9]{1,9})\s*", re.ASCII)
_TS = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def _digits(ctx: _Context, lineno: int, name: str, text: str) -> int:
    if _DIGITS.fullmatch(text) is None:
        raise TraceFormatError(ctx.path, lineno, name, f"not a number: {text!r}")
    if len(text) > 18:
        raise TraceFormatError(ctx.path, lineno, name, f"out of range: {text!r}")
    return int(text)


def _timestamp(ctx: _Context, lineno: int, text: str) -> float:
    if _TS.fullmatch(text) is None:
        raise TraceFormatError(ctx.path, lineno, "timestamp", f"not a number: {text!r}")
    return float(text)


def _parse_ftrace(line: str, lineno: int, ctx: _Context) -> TraceEvent | None:
    br = line.find(" [")
    if br > 0:
        m = _FT_REST.match(line, br)
        if m is not None:
            h = _HEAD.fullmatch(line, 0, br)
            if h is not None:
                cpu, flags, ts, name, body = m.groups()
                return _make_event(ctx, lineno, h[1], int(h[2]), int(cpu), flags or "",
                                   float(ts), name, body)
    return _parse_ftrace_slow(line, lineno, ctx)


def _parse_ftrace_slow(line: str, lineno: int, ctx: _Context) -> TraceEvent | None:
    path = ctx.path
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
    pid = _digits(ctx, lineno, "pid", head[dash + 1:])
    close = line.find("]", br)
    if close < 0:
        raise TraceFormatError(path, lineno, "cpu", "unterminated '[cpu]'")
    cpu = _digits(ctx, lineno, "cpu", line[br + 2:close])
    rest = line[close + 1:].lstrip()
    parts = rest.split(None, 1)
    if len(parts) < 2:
        raise TraceFormatError(path, lineno, "timestamp", "line ends after the cpu field")
    flags, rest = parts
    if flags.endswith(":"):
        # irq-info off (options/irq-info=0): no flags column, the token is the timestamp
        ts = _timestamp(ctx, lineno, flags[:-1])
        flags = ""
        body = rest
    else:
        colon = rest.find(": ")
        if colon < 0:
            raise TraceFormatError(path, lineno, "timestamp", "no ': ' after the timestamp")
        ts = _timestamp(ctx, lineno, rest[:colon])
        body = rest[colon + 2:]
    colon2 = body.find(":")
    if colon2 < 0:
        raise TraceFormatError(path, lineno, "event", "no event name")
    name = body[:colon2].strip()
    if not name:
        raise TraceFormatError(path, lineno, "event", "empty event name")
    return _make_event(ctx, lineno, task, pid, cpu, flags, ts, name, body[colon2 + 1:])


# ---------------------------------------------------------------------------- trace-cmd report

# "[cpu]", optional flags, timestamp (sec.usec, sec.nsec or an integer), optional
# "(+delta)" of --ts-diff, then " name: " padded to 20 columns (print_event_name()).
_TC_REST = re.compile(r" \[([0-9]{1,9})\] +(?:(\S*[^\s:]) +)?([0-9]{1,12}(?:\.[0-9]{1,9})?):"
                      r"(?: +\(\+[0-9]+\))? +([\w.-]+):(.*)", re.ASCII)
# -l: "%8.8s-%-5d %3d" then the latency flags (or -0x%x with -R) with no space before them
_TC_LAT = re.compile(r"(.{8})-([0-9]{1,9}) +([0-9]{1,9})([^0-9\s]\S*) +"
                     r"([0-9]{1,12}(?:\.[0-9]{1,9})?):(?: +\(\+[0-9]+\))? +([\w.-]+):(.*)",
                     re.ASCII)
_TC_INFO = re.compile(r"version = [0-9]+|cpus=[0-9]+|CPU [0-9]+ is empty|"
                      r"CPU:[0-9]+ \[(?:[0-9]+ )?EVENTS DROPPED\]|CPU:[0-9]+ \[SUBBUFFER START\].*",
                      re.ASCII)
# trace_flag_type bits in common_flags (kernel/trace/trace.h)
_TRACE_FLAG_IRQS_OFF, _TRACE_FLAG_NEED_RESCHED = 0x01, 0x04
_TRACE_FLAG_HARDIRQ, _TRACE_FLAG_SOFTIRQ = 0x08, 0x10


def _raw_flags(text: str) -> str:
    """``-0x%x`` common_flags (trace-cmd report -l -R) as latency flags ``d N s``."""
    try:
        v = int(text[1:], 16)
    except ValueError:
        return text
    hard, soft = v & _TRACE_FLAG_HARDIRQ, v & _TRACE_FLAG_SOFTIRQ
    return ("d" if v & _TRACE_FLAG_IRQS_OFF else ".") + \
           ("N" if v & _TRACE_FLAG_NEED_RESCHED else ".") + \
           ("H" if hard and soft else "h" if hard else "s" if soft else ".")


def _tc_timestamp(text: str) -> float:
    """A trace-cmd time: seconds with a fraction, else microseconds (``%12llu`` below 1 s)."""
    return float(text) if "." in text else int(text) / 1e6


def _parse_tracecmd(line: str, lineno: int, ctx: _Context) -> TraceEvent | None:
    br = line.find(" [")
    if br > 0:
        m = _TC_REST.match(line, br)
        if m is not None:
            h = _HEAD.fullmatch(line, 0, br)
            if h is not None:
                cpu, flags, ts, name, body = m.groups()
                return _make_event(ctx, lineno, h[1], int(h[2]), int(cpu), flags or "",
                                   _tc_timestamp(ts), name, body)
    else:
        m = _TC_LAT.match(line)
        if m is not None:
            task, pid, cpu, flags, ts, name, body = m.groups()
            if flags.startswith("-0x"):
                flags = _raw_flags(flags)
            return _make_event(ctx, lineno, task.lstrip(), int(pid), int(cpu), flags,
                               _tc_timestamp(ts), name, body)
    s = line.strip()
    if not s or s[0] == "#" or _TC_INFO.fullmatch(s) is not None:
        return None
    return _parse_ftrace_slow(line, lineno, ctx)


# ---------------------------------------------------------------------------- perf script

_PERF = re.compile(r"\s*+(?!#)(.*?) +(-?[0-9]{1,9})(?:/(-?[0-9]{1,9}))? +\[([0-9]{1,9})\] +"
                   r"([0-9]{1,12}(?:\.[0-9]{1,9})?): +(?:[0-9]+ +)?(\S+?):(?: +|\Z)(.*)",
                   re.ASCII)
_CALLCHAIN = re.compile(r"\s+[0-9a-f]+ ", re.ASCII)
# -F ...,ip,sym[,dso] without a call chain: " <ip> <sym+off> (<dso>)" after the record's text
_PERF_IP = re.compile(r"\s+[0-9a-f]{1,16} \S+ \([^()\s]+\)\Z", re.ASCII)
_PERF_TS = re.compile(r"(?<!\S)([0-9]+\.[0-9]+):(?:\s|\Z)", re.ASCII)


def _parse_perf(line: str, lineno: int, ctx: _Context) -> TraceEvent | None:
    m = _PERF.match(line)
    if m is not None:
        comm, pid, tid, cpu, ts, event, body = m.groups()
        name = event.rpartition(":")[2]
        if body.endswith(")"):
            ip = _PERF_IP.search(body)
            if ip is not None:
                body = body[:ip.start()]
        if name:
            return _make_event(ctx, lineno, comm, int(tid if tid is not None else pid),
                               int(cpu), "", float(ts), name, body)
    s = line.strip()
    if not s or s[0] == "#" or _CALLCHAIN.match(line) is not None:
        return None
    return _perf_error(line, lineno, ctx)


def _perf_error(line: str, lineno: int, ctx: _Context) -> TraceEvent | None:
    """Name the first field of a perf script line that is not as perf prints it."""
    path = ctx.path
    br = line.find(" [")
    if br < 0:
        raise TraceFormatError(path, lineno, "cpu", "no '[cpu]' field")
    head = line[:br].split()
    if len(head) < 2:
        raise TraceFormatError(path, lineno, "pid", "no 'comm tid' before the cpu field")
    for part in head[-1].split("/"):
        _int(ctx, lineno, "pid", part)
    close = line.find("]", br)
    if close < 0:
        raise TraceFormatError(path, lineno, "cpu", "unterminated '[cpu]'")
    _digits(ctx, lineno, "cpu", line[br + 2:close])
    rest = line[close + 1:]
    t = _PERF_TS.search(rest)
    if t is None or rest[:t.start()].strip():
        raise TraceFormatError(path, lineno, "timestamp", f"no '<sec>.<usec>:' in {rest.strip()[:40]!r}")
    after = rest[t.end():].split()
    if after and after[0].isdigit():
        after = after[1:]
    if not after or not after[0].endswith(":"):
        raise TraceFormatError(path, lineno, "event", "no '<subsystem>:<event>:' after the time")
    raise TraceFormatError(path, lineno, "event", f"bad event name {after[0]!r}")


# ---------------------------------------------------------------------------- reading

_PARSERS: dict[str, Callable[[str, int, _Context], TraceEvent | None]] = {
    "ftrace": _parse_ftrace,
    "trace-cmd": _parse_tracecmd,
    "perf-script": _parse_perf,
}


def parse_line(line: str, lineno: int = 0, path: str = "trace",
               table: GfpTable = GFP_TABLE_7_2, fmt: str = "ftrace") -> TraceEvent | None:
    """Parse one trace line of format ``fmt``; None for comments, headers and blank lines."""
    try:
        parse = _PARSERS[fmt]
    except KeyError:
        raise TraceFormatError(path, lineno, "format", f"unknown trace format {fmt!r}; "
                               f"known: {', '.join(_PARSERS)}") from None
    return parse(line.rstrip("\r\n"), lineno, _Context(path, table))


def _classify(line: str) -> str | None:
    """The format one line shows: a name, ``"?"`` (ftrace or trace-cmd) or None (nothing)."""
    s = line.strip()
    if not s:
        return None
    if s.startswith("# tracer:") or s.startswith("# entries-in-buffer"):
        return "ftrace"
    if s[0] == "#":
        return None
    if _TC_INFO.fullmatch(s) is not None:
        return "trace-cmd"
    m = _PERF.match(line)
    if m is not None and ":" in m[6]:
        return "perf-script"               # only perf prefixes event names with a subsystem
    br = line.find(" [")
    if br > 0:
        mt = _TC_REST.match(line, br)
        if mt is not None:
            if mt[4] in _WRAPPERS or mt[5][:2] == "  " or "." not in mt[3]:
                return "trace-cmd"           # ftrace events, names padded to 20, integer time
            return "ftrace" if mt[2] else "?"
    elif _TC_LAT.match(line) is not None:
        return "trace-cmd"
    return None


def detect_format(path: str | os.PathLike[str], max_lines: int = 200) -> str:
    """The format of a trace file (one of :data:`FORMATS`), from its first lines.

    A converted file is known by its magic.  Text is classified by the first line that
    tells: an ftrace header or flags column (ftrace); a trace-cmd header line (``cpus=N``,
    ``version = N``), latency line, event names padded to 20 columns or ftrace's
    ``print``/``bprint`` events (trace-cmd); a subsystem-prefixed event name (perf).  Lines
    that fit both ftrace without ``irq-info`` and trace-cmd are read as trace-cmd, which
    parses them the same way; ``ftrace`` when nothing tells.
    """
    p = os.fspath(path)
    with open(p, "rb") as fh:
        if fh.read(len(BINARY_MAGIC)) == BINARY_MAGIC:
            return "binary"
    errors = (TraceFormatError,) + _stream_errors()
    undecided = False
    try:
        with open_text(p) as fh:
            for i, line in enumerate(fh):
                if i >= max_lines:
                    break
                kind = _classify(line)
                if kind == "?":
                    undecided = True
                elif kind is not None:
                    return kind
    except errors:
        pass                        # read_trace reports it with its line number
    return "trace-cmd" if undecided else "ftrace"


def _check_format(path: str, fmt: str) -> None:
    if fmt not in FORMATS:
        raise TraceFormatError(path, 0, "format", f"unknown trace format {fmt!r}; "
                               f"known: {', '.join(FORMATS)}")


def iter_text(path: str | os.PathLike[str], table: GfpTable = GFP_TABLE_7_2,
              fmt: str | None = None,
              on_error: Callable[[TraceFormatError], None] | None = None,
              stats: dict[str, Any] | None = None) -> Iterator[TraceEvent]:
    """Yield the events of a text trace; ``on_error`` receives each bad line (else raise).

    ``stats`` (if given) gets ``format``, ``compression`` and, once the file is read,
    ``lines``.  A compressed stream that ends early or is corrupt raises
    :class:`TraceFormatError` (field ``file``) whether or not ``on_error`` is set: the rest
    of the file is lost, not one line.
    """
    p = os.fspath(path)
    kind = fmt or detect_format(p)
    _check_format(p, kind)
    if kind == "binary":
        raise TraceFormatError(p, 0, "format", "a converted trace is not text; use read_trace")
    parse = _PARSERS[kind]
    ctx = _Context(p, table)
    if stats is not None:
        stats["format"] = kind
        stats["compression"] = compression(p)
    errors = _stream_errors()
    lineno = 0
    with open_text(p) as fh:
        try:
            # parse errors are ValueErrors, never among ``errors``: only the stream's land here
            for line in fh:
                lineno += 1
                try:
                    ev = parse(line.rstrip("\r\n"), lineno, ctx)
                except TraceFormatError as e:
                    if on_error is None:
                        raise
                    on_error(e)
                    continue
                if ev is not None:
                    yield ev
        except errors as e:
            raise TraceFormatError(p, lineno + 1, "file",
                                   f"compressed data truncated or corrupt: {e}") from None
    if stats is not None:
        stats["lines"] = lineno


def read_trace(path: str | os.PathLike[str], table: GfpTable = GFP_TABLE_7_2,
               lenient: bool = False, skipped: list[int] | None = None,
               fmt: str | None = None, use_converted: bool = True) -> Iterator[TraceEvent]:
    """Yield every event of a trace file in order, in any of :data:`FORMATS`.

    ``fmt`` forces the format (default: :func:`detect_format`).  With ``lenient`` a
    malformed line is skipped and its number appended to ``skipped``; otherwise it raises
    :class:`TraceFormatError`.  A text trace with an up-to-date converted file beside it
    (``pagealloc convert``; :func:`pagealloc.workload.tracebin.converted_sibling`) is read
    from that file, which yields the same events faster; ``use_converted=False`` reads the
    text.
    """
    p = os.fspath(path)
    kind = fmt or detect_format(p)
    _check_format(p, kind)
    if kind != "binary" and use_converted:
        from pagealloc.workload.tracebin import converted_sibling
        alt = converted_sibling(p, table, lenient, kind)
        if alt is not None:
            p, kind = alt, "binary"
    if kind == "binary":
        from pagealloc.workload.tracebin import read_converted
        yield from read_converted(p, table, lenient, skipped)
        return

    def skip(e: TraceFormatError) -> None:
        if skipped is not None:
            skipped.append(e.lineno)

    yield from iter_text(p, table, kind, skip if lenient else None)
