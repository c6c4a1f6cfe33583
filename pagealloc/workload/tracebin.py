"""The converted (binary) form of a trace, for fast re-runs of the same trace.

:func:`convert_trace` parses a text trace once (any format of
:mod:`pagealloc.workload.ftrace`) and writes its events as columns;
:func:`read_converted` (and so :func:`pagealloc.workload.ftrace.read_trace`, which knows the
file by its magic) yields the very same :class:`~pagealloc.workload.ftrace.TraceEvent` stream
with the same line numbers, several times faster than parsing the text again.

File layout (all integers little-endian)::

    magic     8 bytes   b"PATRBIN\\x01" (BINARY_MAGIC; the last byte is the layout version)
    hlen      4 bytes   u32, length of the header
    header    hlen      UTF-8 JSON object (below)
    blobs               each column, zstd-compressed, at header["blobs"][name]["offset"]
                        bytes after the end of the header

Header keys: ``format`` (``"pagealloc-trace"``), ``version`` (1), ``source`` (the text file
as given), ``source_size`` and ``source_sha256`` (of the source file's bytes, as stored:
compressed if it is; absent in files written before they were added), ``source_format``
(``ftrace``, ``trace-cmd``, ``perf-script``), ``source_compression``, ``gfp_table`` (the kernel whose GFP names decoded ``gfp_flags``),
``lines`` (lines in the source), ``events``, ``skipped`` (malformed lines left out with
``lenient``) and ``skipped_lines`` (``[line, field, problem]`` each), ``names`` (the event-name
table), ``layouts`` (the key tuples of ``fields``, one per distinct shape), ``markers``
(``[line, name, text]`` of every ``tracing_mark_write`` and ``gt_show`` line, for people
reading the header) and ``blobs`` (``{name: {dtype, count, offset, size}}``).

Columns, one entry per event unless said otherwise: ``lineno``, ``pid``, ``cpu`` (int64),
``ts`` (float64, the parsed timestamp, so it compares equal), ``name``, ``task``, ``flags``,
``text`` (int32 indexes into the ``names`` table and the ``task_strings``,
``flags_strings``, ``text_strings`` blobs), ``layout`` (int32 index into ``layouts``) and ``values`` (int64, the field
values of all events concatenated in layout order).  The string blobs are their entries
joined by ``\\n`` (a trace line holds no newline).  The conversion is deterministic: the same
source gives the same bytes.

A converted file next to its text (:func:`converted_sibling`: ``TRACE.patr``, the name
``pagealloc convert TRACE`` writes by default, or for a compressed ``trace.txt.xz`` also
``trace.txt.patr``) is read by :func:`pagealloc.workload.ftrace.read_trace` in place of the text when
it is not older than the text and its header matches the text: same file name, size and
SHA-256, the format the text is detected as, the GFP table asked for, and no skipped lines
unless the read is lenient.  Anything else reads the text.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from array import array
from typing import Any, Iterator, Sequence

import numpy as np

from pagealloc.mm.gfp import GFP_TABLE_7_2, GfpTable
from pagealloc.workload.ftrace import (
    BINARY_MAGIC,
    TraceEvent,
    TraceFormatError,
    detect_format,
    iter_text,
)

FORMAT_NAME = "pagealloc-trace"
#: the suffix ``pagealloc convert TRACE`` adds by default (:func:`default_output`)
CONVERTED_SUFFIX = ".patr"
_COMPRESSED = (".xz", ".gz", ".bz2", ".zst")
FORMAT_VERSION = 1
MARKER_EVENTS = ("tracing_mark_write", "gt_show")
_ZSTD_LEVEL = 3          # zstd's default: ~10x on these columns, decompresses at ~1 GB/s

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lineno", "<i8"), ("pid", "<i8"), ("cpu", "<i8"), ("ts", "<f8"), ("name", "<i4"),
    ("task", "<i4"), ("flags", "<i4"), ("text", "<i4"), ("layout", "<i4"), ("values", "<i8"),
)
_STRINGS = ("task_strings", "flags_strings", "text_strings")


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError:
        raise TraceFormatError("zstandard", 0, "file", "the converted form needs the 'zstandard' package") from None
    return zstandard


class _Table:
    """Strings to dense indexes, in order of first appearance (deterministic)."""

    __slots__ = ("index", "items")

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.items: list[Any] = []

    def get(self, key: Any) -> int:
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.items)
            self.items.append(key)
        return i


def convert_trace(src: str | os.PathLike[str], dst: str | os.PathLike[str],
                  table: GfpTable = GFP_TABLE_7_2, lenient: bool = False,
                  fmt: str | None = None) -> dict[str, Any]:
    """Convert the text trace ``src`` to the binary form at ``dst``; return its header.

    Malformed lines raise :class:`TraceFormatError` unless ``lenient``, which leaves them
    out and records them in the header (a strict read of the converted file raises at the
    first of them, as reading the text would).  ``dst`` is written through a temporary file
    and replaced at the end, so a failed conversion leaves no partial file.
    """
    s, d = os.fspath(src), os.fspath(dst)
    kind = fmt or detect_format(s)
    if kind == "binary":
        raise TraceFormatError(s, 0, "format", "already a converted trace")
    zstd = _zstd()
    cols: dict[str, array[Any]] = {"lineno": array("q"), "pid": array("q"), "cpu": array("q"), "ts": array("d"),
            "name": array("i"), "task": array("i"), "flags": array("i"), "text": array("i"),
            "layout": array("i"), "values": array("q")}
    names, tasks, flags, texts, layouts = _Table(), _Table(), _Table(), _Table(), _Table()
    texts.get("")
    skipped: list[list[Any]] = []
    markers: list[list[Any]] = []
    stats: dict[str, Any] = {}

    def on_error(e: TraceFormatError) -> None:
        skipped.append([e.lineno, e.field, e.problem])

    c_lineno, c_pid, c_cpu, c_ts = cols["lineno"], cols["pid"], cols["cpu"], cols["ts"]
    c_name, c_task, c_flags, c_text = cols["name"], cols["task"], cols["flags"], cols["text"]
    c_layout, c_values = cols["layout"], cols["values"]
    for ev in iter_text(s, table, kind, on_error if lenient else None, stats):
        try:
            c_lineno.append(ev.lineno)
            c_pid.append(ev.pid)
            c_cpu.append(ev.cpu)
        except OverflowError:
            raise TraceFormatError(s, ev.lineno, "pid", "out of range for the converted form") from None
        c_ts.append(ev.ts)
        c_name.append(names.get(ev.name))
        c_task.append(tasks.get(ev.task))
        c_flags.append(flags.get(ev.flags))
        c_text.append(texts.get(ev.text))
        f = ev.fields
        c_layout.append(layouts.get(tuple(f)))
        if f:
            c_values.extend(f.values())
        if ev.name in MARKER_EVENTS:
            markers.append([ev.lineno, ev.name, ev.text])
    n = len(c_lineno)
    blobs: dict[str, dict[str, Any]] = {}
    payload: list[bytes] = []
    offset = 0
    cctx = zstd.ZstdCompressor(level=_ZSTD_LEVEL)

    def add(name: str, dtype: str, count: int, raw: bytes) -> None:
        nonlocal offset
        data = cctx.compress(raw)
        blobs[name] = {"dtype": dtype, "count": count, "offset": offset, "size": len(data)}
        payload.append(data)
        offset += len(data)

    for name, dtype in _COLUMNS:
        a = cols[name]
        add(name, dtype, len(a), np.frombuffer(a, dtype=np.dtype(a.typecode)).astype(dtype).tobytes())
    for name, tab in zip(_STRINGS, (tasks, flags, texts)):
        add(name, "utf-8", len(tab.items), "\n".join(tab.items).encode("utf-8", "surrogatepass"))
    header = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "source": s,
        "source_size": os.path.getsize(s), "source_sha256": file_sha256(s),
        "source_format": stats.get("format", kind), "source_compression": stats.get("compression", ""),
        "gfp_table": table.version, "lines": stats.get("lines", 0), "events": n,
        "skipped": len(skipped), "skipped_lines": skipped, "names": names.items,
        "layouts": [list(k) for k in layouts.items], "markers": markers, "blobs": blobs,
    }
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    tmp = d + ".tmp"
    with open(tmp, "wb") as out:
        out.write(BINARY_MAGIC)
        out.write(struct.pack("<I", len(head)))
        out.write(head)
        for data in payload:
            out.write(data)
    os.replace(tmp, d)
    return header


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_output(trace: str | os.PathLike[str]) -> str:
    """Where ``pagealloc convert TRACE`` writes without OUT: ``TRACE.patr``."""
    return os.fspath(trace) + CONVERTED_SUFFIX


def sibling_names(trace: str | os.PathLike[str]) -> list[str]:
    """The converted files :func:`converted_sibling` looks for next to ``trace``:
    ``TRACE.patr`` and, for a compressed trace, the name without the compression suffix
    plus ``.patr`` (``trace.txt.xz`` -> ``trace.txt.patr``)."""
    t = os.fspath(trace)
    out = [t + CONVERTED_SUFFIX]
    root, ext = os.path.splitext(t)
    if ext in _COMPRESSED:
        out.append(root + CONVERTED_SUFFIX)
    return out


def converted_sibling(trace: str | os.PathLike[str], table: GfpTable, lenient: bool = False,
                      fmt: str | None = None) -> str | None:
    """A converted file next to the text ``trace`` that reads as the text would, or None.

    Taken only when it is not older than the text (modification times) and its header
    records this source: the same file name, size and SHA-256 (files converted before the
    hash was recorded never match), the format ``fmt`` the text is read as (default:
    detected), the GFP table ``table``, and no skipped lines unless ``lenient`` (a strict
    read of the text then stops at the bad line, naming the text)."""
    t = os.fspath(trace)
    try:
        st = os.stat(t)
    except OSError:
        return None
    digest: str | None = None
    for cand in sibling_names(t):
        try:
            if os.stat(cand).st_mtime_ns < st.st_mtime_ns:
                continue
            h = read_header(cand)
        except (OSError, TraceFormatError):
            continue
        if (os.path.basename(str(h["source"])) != os.path.basename(t)
                or h.get("source_size") != st.st_size
                or h["gfp_table"] != table.version
                or (h.get("skipped") and not lenient)):
            continue
        if h.get("source_format") != (fmt or detect_format(t)):
            continue
        if digest is None:
            digest = file_sha256(t)
        if h.get("source_sha256") == digest:
            return cand
    return None


def _bad(path: str, field: str, problem: str) -> TraceFormatError:
    return TraceFormatError(path, 0, field, problem)


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a converted trace (validated)."""
    p = os.fspath(path)
    with open(p, "rb") as fh:
        return _read_header(p, fh.read(len(BINARY_MAGIC) + 4), fh)


def _read_header(p: str, start: bytes, fh: Any) -> dict[str, Any]:
    if start[:len(BINARY_MAGIC)] != BINARY_MAGIC:
        raise _bad(p, "magic", "not a converted trace (pagealloc convert writes one)")
    if len(start) < len(BINARY_MAGIC) + 4:
        raise _bad(p, "header", "file ends inside the header length")
    (hlen,) = struct.unpack("<I", start[len(BINARY_MAGIC):])
    raw = fh.read(hlen)
    if len(raw) != hlen:
        raise _bad(p, "header", f"file ends inside the header ({len(raw)} of {hlen} bytes)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _bad(p, "header", f"not JSON: {e}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise _bad(p, "format", f"not a {FORMAT_NAME} header")
    if header.get("version") != FORMAT_VERSION:
        raise _bad(p, "version", f"layout version {header.get('version')!r}; this reader knows {FORMAT_VERSION}")
    for key, typ in (("blobs", dict), ("names", list), ("layouts", list), ("skipped_lines", list),
                     ("gfp_table", str), ("source", str), ("events", int), ("lines", int)):
        if not isinstance(header.get(key), typ):
            raise _bad(p, key, f"missing or not a {typ.__name__}")
    header["_data_offset"] = len(BINARY_MAGIC) + 4 + hlen
    return header


def _strings(p: str, items: Sequence[Any], name: str) -> list[str]:
    if not all(isinstance(x, str) for x in items):
        raise _bad(p, name, "entries must be strings")
    return list(items)


def read_converted(path: str | os.PathLike[str], table: GfpTable | None = GFP_TABLE_7_2,
                   lenient: bool = False, skipped: list[int] | None = None) -> Iterator[TraceEvent]:
    """Yield the events of a converted trace, as reading its source would.

    ``table`` must be the GFP table the file was converted with (``None``: any).  Lines the
    conversion skipped raise :class:`TraceFormatError` at their place unless ``lenient``,
    which appends their numbers to ``skipped`` instead.  A damaged file raises
    :class:`TraceFormatError` naming the part that is wrong.
    """
    p = os.fspath(path)
    zstd = _zstd()
    with open(p, "rb") as fh:
        header = _read_header(p, fh.read(len(BINARY_MAGIC) + 4), fh)
        data = fh.read()
    if table is not None and header["gfp_table"] != table.version:
        raise _bad(p, "gfp_table", f"converted with the {header['gfp_table']} GFP table, "
                   f"read with {table.version}; convert again with that profile")
    dctx = zstd.ZstdDecompressor()
    blobs = header["blobs"]

    def blob(name: str) -> tuple[bytes, int, str]:
        b = blobs.get(name)
        if not isinstance(b, dict):
            raise _bad(p, name, "column missing")
        try:
            off, size, count, dtype = int(b["offset"]), int(b["size"]), int(b["count"]), str(b["dtype"])
        except (KeyError, TypeError, ValueError):
            raise _bad(p, name, "column entry incomplete") from None
        if off < 0 or size < 0 or count < 0 or off + size > len(data):
            raise _bad(p, name, "column lies outside the file (truncated?)")
        try:
            raw = dctx.decompress(data[off:off + size], max_output_size=1 << 34)
        except zstd.ZstdError as e:
            raise _bad(p, name, f"column data corrupt: {e}") from None
        return raw, count, dtype

    cols: dict[str, list[Any]] = {}
    for name, dtype in _COLUMNS:
        raw, count, got = blob(name)
        if got != dtype or len(raw) != count * np.dtype(dtype).itemsize:
            raise _bad(p, name, f"column has {len(raw)} bytes of {got}; expected {count} x {dtype}")
        cols[name] = np.frombuffer(raw, dtype=dtype).tolist()
    strings: dict[str, list[str]] = {}
    for name in _STRINGS:
        raw, count, _ = blob(name)
        try:
            items = raw.decode("utf-8", "surrogatepass").split("\n") if count else []
        except UnicodeDecodeError:
            raise _bad(p, name, "strings are not UTF-8") from None
        if len(items) != count:
            raise _bad(p, name, f"{len(items)} strings; expected {count}")
        strings[name] = items
    n = header["events"]
    names = _strings(p, header["names"], "names")
    layouts: list[tuple[str, ...]] = []
    for lay in header["layouts"]:
        if not isinstance(lay, list):
            raise _bad(p, "layouts", "entries must be lists")
        layouts.append(tuple(_strings(p, lay, "layouts")))
    lineno, pid, cpu, ts = cols["lineno"], cols["pid"], cols["cpu"], cols["ts"]
    name_i, task_i, flags_i, text_i = cols["name"], cols["task"], cols["flags"], cols["text"]
    layout_i, values = cols["layout"], cols["values"]
    if any(len(cols[c]) != n for c, _ in _COLUMNS if c != "values"):
        raise _bad(p, "events", f"columns do not all hold {n} events")
    tasks, flagstrs, texts = (strings[k] for k in _STRINGS)
    for idx, tab, what in ((name_i, names, "name"), (task_i, tasks, "task"),
                           (flags_i, flagstrs, "flags"), (text_i, texts, "text"),
                           (layout_i, layouts, "layout")):
        if idx and (min(idx) < 0 or max(idx) >= len(tab)):
            raise _bad(p, what, "index outside its table")
    if sum(len(layouts[i]) for i in layout_i) != len(values):
        raise _bad(p, "values", "value count does not match the layouts")
    pending: list[tuple[int, str, str]] = []
    for item in header["skipped_lines"]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], int)):
            raise _bad(p, "skipped_lines", "entries must be [line, field, problem]")
        pending.append((item[0], str(item[1]), str(item[2])))
    pending.sort()
    source = header["source"]
    lay_len = [len(k) for k in layouts]
    si = 0
    next_skip = pending[0][0] if pending else -1
    off = 0
    for ln, ti, pi, ci, fi, t, ni, li, xi in zip(lineno, task_i, pid, cpu, flags_i, ts,
                                                  name_i, layout_i, text_i):
        if 0 <= next_skip < ln:
            while si < len(pending) and pending[si][0] < ln:
                _skip(p, source, pending[si], lenient, skipped)
                si += 1
            next_skip = pending[si][0] if si < len(pending) else -1
        k = lay_len[li]
        if k:
            f = dict(zip(layouts[li], values[off:off + k]))
            off += k
        else:
            f = {}
        yield TraceEvent(ln, tasks[ti], pi, ci, flagstrs[fi], t, names[ni], f, texts[xi])
    while si < len(pending):
        _skip(p, source, pending[si], lenient, skipped)
        si += 1


def _skip(p: str, source: str, item: tuple[int, str, str], lenient: bool,
          skipped: list[int] | None) -> None:
    if not lenient:
        raise TraceFormatError(p, item[0], item[1],
                               f"{item[2]} (line of {source}, left out by a lenient conversion)")
    if skipped is not None:
        skipped.append(item[0])
