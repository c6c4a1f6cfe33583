#!/usr/bin/env python3
"""Speed of the trace readers (pagealloc.workload.ftrace, pagealloc.workload.tracebin).

Usage::

    python benchmarks/bench_trace_read.py [TRACE] [--lines N] [--repeat R]

``TRACE`` defaults to ``../shared/traces/linux-7.2/frag/trace.txt.xz`` (877,727 lines).
Measures, best of ``R`` runs each:

* ``parse_<format>_lines_per_second``: the line parser alone on the first ``N`` lines held
  in memory, for the ftrace text and for the same events laid out as ``trace-cmd report``
  and ``perf script`` print them;
* ``read_trace_lines_per_second``: ``read_trace`` over the whole (compressed) file,
  decompression included, events counted and dropped;
* ``convert_seconds``, ``binary_bytes`` and ``read_binary_events_per_second``: the
  converted form of the whole file, and reading it back.

Output is ``key=value`` lines; the ``*_seconds``/``*_per_second`` fields depend on the host
(and on its load: run it on an idle machine).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pagealloc.mm.gfp import GFP_TABLE_7_2  # noqa: E402
from pagealloc.workload.ftrace import _Context, _PARSERS, open_text, read_trace  # noqa: E402
from pagealloc.workload.tracebin import convert_trace  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared/traces/linux-7.2/frag/trace.txt.xz"
_FT = re.compile(r"\s*(.*)-(\d+) +\[(\d+)\] (\S+) +(\S+): ([\w.-]+): ?(.*)")


def best(fn: Callable[[], object], repeat: int) -> float:
    t = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def relayout(lines: list[str]) -> tuple[list[str], list[str]]:
    """The same events as trace-cmd report and perf script lines."""
    tc, perf = [], []
    for line in lines:
        m = _FT.fullmatch(line)
        if m is None:
            continue
        task, pid, cpu, _flags, ts, name, body = m.groups()
        if name in ("tracing_mark_write", "gt_show"):
            body, name = f"{name}: {body}", "print" if name == "tracing_mark_write" else "bprint"
        tc.append(f"{task:>16}-{int(pid):<5} [{int(cpu):03d}] {ts:>12}: {name}: "
                  f"{' ' * max(0, 20 - len(name))}{body}")
        ev = f"ftrace:{name}" if name in ("print", "bprint") else f"kmem:{name}"
        perf.append(f"{task:>16} {int(pid):>7} [{int(cpu):03d}] {ts:>12}: {ev:>26}: {body}")
    return tc, perf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", nargs="?", default=str(DEFAULT))
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with open_text(args.trace) as fh:
        lines = [ln.rstrip("\n") for ln in itertools.islice(fh, args.lines)]
    tc, perf = relayout(lines)
    print("bench_trace_read format=1")
    print(f"trace={args.trace}")
    print(f"parse_lines={len(lines)}")
    for fmt, text in (("ftrace", lines), ("trace-cmd", tc), ("perf-script", perf)):
        parse, ctx = _PARSERS[fmt], _Context(args.trace, GFP_TABLE_7_2)

        def run(parse: Callable[..., object] = parse, text: list[str] = text,
                ctx: _Context = ctx) -> None:
            for i, ln in enumerate(text, 1):
                parse(ln, i, ctx)

        t = best(run, args.repeat)
        print(f"parse_{fmt.replace('-', '_')}_lines_per_second={len(text) / t:.0f}")
    n = 0

    def count() -> None:
        nonlocal n
        n = sum(1 for _ in read_trace(args.trace))

    t = best(count, args.repeat)
    print(f"read_trace_events={n}")
    print(f"read_trace_seconds={t:.2f}")
    print(f"read_trace_lines_per_second={n / t:.0f}")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "trace.patr")
        t0 = time.perf_counter()
        convert_trace(args.trace, out)
        print(f"convert_seconds={time.perf_counter() - t0:.2f}")
        print(f"binary_bytes={os.path.getsize(out)}")
        t = best(lambda: sum(1 for _ in read_trace(out)), args.repeat)
        print(f"read_binary_seconds={t:.2f}")
        print(f"read_binary_events_per_second={n / t:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
