"""``pagealloc capture -- CMD``: record a real kernel's page-allocator trace around a command.

On a Linux host (root), through tracefs (``Documentation/trace/ftrace.rst``,
``kernel/trace/trace.c``): stop tracing, size the ring buffer (``buffer_size_kb``), pick the
clock (``trace_clock``), clear the buffer (truncating ``trace``), enable the kmem page events,
the compaction and migration events and kswapd's wake and sleep
(``events/<system>/<event>/enable``), start
(``tracing_on``), snapshot the allocator's ``/proc`` views and ``/proc/kpageflags``, write a
``trace_marker`` line, run CMD, write the closing marker, snapshot again, stop, and save
the trace.  Every tracefs file it wrote is put back to its old value at the end, also when
CMD fails or the capture itself stops with an error.

The directory it writes has the layout of the real-kernel captures in ``../shared/traces``
(traces README section 2), so :mod:`pagealloc.workload.state`, ``replay`` and ``fidelity``
read it::

    trace.txt.xz            the ftrace text, from tracing on to tracing off
    summary.json            event counts, order histograms, markers with line numbers,
                            the kpageflags snapshot points ("dumps"), ring-buffer stats, and
                            what the capture did (command, exit status, tracefs writes)
    version.txt uname.txt cmdline.txt cpuinfo.txt iomem.txt
    sysctl_vm/  thp/settings.txt  event_formats/  set_event.txt
    buffer_size_kb.txt  trace_clock.txt  trace_stats.txt
    workload.log  workload_uptime.txt
    snap_before/ snap_after/    buddyinfo pagetypeinfo zoneinfo vmstat meminfo slabinfo
                                extfrag_index extfrag_unusable_index (with debugfs)
                                kpageflags.xz buddyinfo.after_kpageflags

There is no exact ``gt_buddydump`` (that needs the capture module of the shared traces):
a snapshot is loaded through the kpageflags import
(:func:`pagealloc.workload.state.machine_from_kpageflags`), which says what it inferred.
Markers: ``GT_SNAPSHOT_<name>_BEGIN``/``_END`` around each snapshot,
``GT_KPAGEFLAGS id=<n> BEGIN``/``END`` around the kpageflags read (the point the
reconstruction describes; ``summary.json`` lists them under ``dumps``), and
``GT_WORKLOAD_BEGIN <name>``/``GT_WORKLOAD_END <name>`` around CMD.

Like the shared captures (traces README section 11), the capture adds to the state it
records: the ring buffer is unmovable kernel memory, and the snapshot files are written
while tracing is on.  All paths are injectable (``tracefs``, ``proc``, ``debugfs``,
``sysfs``) so that the tests run against a fake tree.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Sequence

__all__ = [
    "DEFAULT_EVENTS",
    "KMEM_PAGE_EVENTS",
    "KSWAPD_EVENTS",
    "CaptureError",
    "CaptureConfig",
    "CaptureResult",
    "capture",
    "resolve_tracefs",
]

#: the six kmem page events of the traces README (section 1)
KMEM_PAGE_EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_free_batched",
                    "mm_page_alloc_zone_locked", "mm_page_pcpu_drain", "mm_page_alloc_extfrag")
#: kswapd's wake and sleep (include/trace/events/vmscan.h): around them kswapd switches the
#: per-CPU vmstat threshold (``set_pgdat_percpu_threshold()`` in ``kswapd_try_to_sleep()``),
#: which decide mode follows (:meth:`pagealloc.workload.decide.DecideReplay.kswapd_threshold`)
KSWAPD_EVENTS = ("mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep")
#: what the shared captures enabled (their set_event.txt): the kmem page events, every
#: compaction event and the migration summary; and kswapd's wake and sleep, which they lack
DEFAULT_EVENTS = (tuple(f"kmem:{e}" for e in KMEM_PAGE_EVENTS) + ("compaction:*", "migrate:mm_migrate_pages")
                  + tuple(f"vmscan:{e}" for e in KSWAPD_EVENTS))
#: /proc files of a snapshot, in the order the shared captures read them (README 2.2)
PROC_FILES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "slabinfo")
#: debugfs extfrag files -> snapshot file names
DEBUGFS_FILES = (("extfrag/extfrag_index", "extfrag_index"),
                 ("extfrag/unusable_index", "extfrag_unusable_index"))
TRACEFS_CANDIDATES = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
#: read size for /proc/kpageflags (a multiple of 8: kpage_read() wants whole entries)
KPF_CHUNK = 1 << 20

_LINE_RE = re.compile(r"^\s*(?P<task>.*)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?:\S+\s+)?"
                      r"(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s?(?P<body>.*)$")
_ORDER_RE = re.compile(r"\border=(\d+)")


class CaptureError(ValueError):
    """The capture cannot run or went wrong; the message names the path concerned."""


@dataclass
class CaptureConfig:
    """What to capture, and where the kernel interfaces are."""

    out: Path
    cmd: list[str]
    events: tuple[str, ...] = DEFAULT_EVENTS
    #: tracefs mount; None: /sys/kernel/tracing, else /sys/kernel/debug/tracing
    tracefs: Path | None = None
    proc: Path = Path("/proc")
    debugfs: Path = Path("/sys/kernel/debug")
    sysfs: Path = Path("/sys")
    #: per-CPU ring buffer size; the kmem events of a busy minute take tens of MiB
    buffer_size_kb: int = 65536
    #: "local" as in the shared captures: seconds since boot, per-CPU monotonic
    trace_clock: str = "local"
    #: the name in the GT_WORKLOAD markers; default: basename of CMD's program
    name: str | None = None
    kpageflags: bool = True
    #: xz preset for trace.txt.xz and kpageflags.xz (1: fast; the files compress well anyway)
    xz_preset: int = 1


@dataclass
class CaptureResult:
    """What a capture wrote and saw."""

    out: Path
    cmd_status: int
    trace_lines: int = 0
    events_total: dict[str, int] = field(default_factory=dict)
    markers: list[dict[str, Any]] = field(default_factory=list)
    #: every tracefs write in order, as (path relative to tracefs, value)
    tracefs_writes: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_tracefs(path: Path | None) -> Path:
    """The tracefs directory to use; :class:`CaptureError` naming the path when absent."""
    cands = (path,) if path is not None else TRACEFS_CANDIDATES
    for c in cands:
        if (c / "tracing_on").exists():
            return c
    where = cands[0]
    raise CaptureError(f"{where}: no tracefs here (no {where / 'tracing_on'}); "
                       f"mount it with: mount -t tracefs nodev {where}")


def _expand_events(tracefs: Path, events: Sequence[str]) -> list[tuple[str, Path]]:
    """``system:event`` / ``system:*`` -> (name, enable file) per event."""
    out: list[tuple[str, Path]] = []
    for spec in events:
        spec = spec.strip()
        if not spec:
            continue
        system, sep, name = spec.replace("/", ":").partition(":")
        if not sep or not system or not name:
            raise CaptureError(f"--events {spec!r}: expected SYSTEM:EVENT or SYSTEM:* (e.g. kmem:mm_page_alloc)")
        sysdir = tracefs / "events" / system
        if name == "*":
            if not sysdir.is_dir():
                raise CaptureError(f"{sysdir}: no such event system ({spec})")
            found = sorted(d for d in sysdir.iterdir() if (d / "enable").is_file())
            if not found:
                raise CaptureError(f"{sysdir}: no events with an enable file ({spec})")
            out.extend((f"{system}:{d.name}", d / "enable") for d in found)
        else:
            enable = sysdir / name / "enable"
            if not enable.is_file():
                raise CaptureError(f"{enable}: no such event ({spec})")
            out.append((f"{system}:{name}", enable))
    unique: dict[str, Path] = {}
    for n, p in out:
        unique.setdefault(n, p)
    return list(unique.items())


class _Tracefs:
    """Writes to tracefs files, remembering each file's first value to put it back."""

    def __init__(self, root: Path, log: list[tuple[str, str]]) -> None:
        self.root = root
        self.log = log
        self.saved: dict[Path, str] = {}

    def read(self, path: Path) -> str:
        try:
            return path.read_text().strip()
        except OSError as e:
            raise CaptureError(f"{path}: cannot read: {e.strerror or e}") from None

    def write(self, path: Path, value: str, save: bool = True) -> None:
        if save and path not in self.saved:
            self.saved[path] = self.read(path)
        try:
            with open(path, "w") as fh:
                fh.write(value)
        except OSError as e:
            raise CaptureError(f"{path}: cannot write {value!r}: {e.strerror or e}") from None
        self.log.append((str(path.relative_to(self.root)), value))

    def marker(self, text: str) -> None:
        path = self.root / "trace_marker"
        try:
            with open(path, "a") as fh:
                fh.write(text + "\n")
        except OSError as e:
            raise CaptureError(f"{path}: cannot write marker {text!r}: {e.strerror or e}") from None
        self.log.append(("trace_marker", text))

    def restore(self) -> list[str]:
        """Put every saved file back (last written first); problems as warnings."""
        problems: list[str] = []
        for path, old in reversed(list(self.saved.items())):
            value = _restorable(path.name, old)
            if value is None:
                continue
            try:
                self.write(path, value, save=False)
            except CaptureError as e:
                problems.append(str(e))
        return problems


def _restorable(name: str, old: str) -> str | None:
    """The value to write back into a tracefs file that read ``old``."""
    if name == "trace_clock":
        m = re.search(r"\[(\w[\w-]*)\]", old)
        return m.group(1) if m else None
    if name == "buffer_size_kb":
        m = re.match(r"\d+", old)
        return m.group(0) if m else None          # "X": per-CPU sizes differ; leave them
    if name in ("enable", "tracing_on"):
        return old if old in ("0", "1") else None
    return old


def _check_root(cfg: CaptureConfig, euid: int) -> None:
    """On the real interfaces (no injected tracefs or procfs), say plainly that root is needed."""
    if cfg.tracefs is None and cfg.proc == Path("/proc") and euid != 0:
        raise CaptureError(f"pagealloc capture needs root (euid {euid}): {TRACEFS_CANDIDATES[0]} "
                           f"and {cfg.proc / 'kpageflags'} are root-only")


def _preflight(cfg: CaptureConfig, tracefs: Path, euid: int) -> None:
    hint = f" (not root: euid {euid})" if euid != 0 else ""
    for name in ("tracing_on", "trace_marker", "buffer_size_kb"):
        p = tracefs / name
        if not p.exists():
            raise CaptureError(f"{p}: missing from tracefs")
        if not os.access(p, os.W_OK):
            raise CaptureError(f"{p}: not writable{hint}")
    if not os.access(tracefs / "trace", os.R_OK):
        raise CaptureError(f"{tracefs / 'trace'}: not readable{hint}")
    for name in ("buddyinfo", "zoneinfo", "pagetypeinfo", "version"):
        p = cfg.proc / name
        if not os.access(p, os.R_OK):
            raise CaptureError(f"{p}: not readable{hint}")
    if cfg.kpageflags and not os.access(cfg.proc / "kpageflags", os.R_OK):
        raise CaptureError(f"{cfg.proc / 'kpageflags'}: not readable{hint} (or pass --no-kpageflags)")
    if cfg.out.exists() and (not cfg.out.is_dir() or any(cfg.out.iterdir())):
        raise CaptureError(f"{cfg.out}: exists and is not an empty directory; not overwriting it")
    if cfg.buffer_size_kb <= 0:
        raise CaptureError(f"buffer_size_kb {cfg.buffer_size_kb}: expected a positive size")


def _copy(src: Path, dst: Path) -> bool:
    """Copy one kernel file (read fully, then written); False when it cannot be read."""
    try:
        data = src.read_bytes()
    except OSError:
        return False
    dst.write_bytes(data)
    return True


def _xz_stream(src: Path, dst: Path, preset: int, chunk: int) -> int:
    """Compress ``src`` into ``dst`` chunk by chunk; bytes read."""
    comp = lzma.LZMACompressor(preset=preset)
    total = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            buf = fin.read(chunk)
            if not buf:
                break
            total += len(buf)
            fout.write(comp.compress(buf))
        fout.write(comp.flush())
    return total


def _uptime(proc: Path) -> str:
    try:
        return (proc / "uptime").read_text().split()[0]
    except (OSError, IndexError):
        return f"{time.monotonic():.2f}"


class _Capture:
    def __init__(self, cfg: CaptureConfig, tracefs: Path, stdout: IO[str]) -> None:
        self.cfg = cfg
        self.tracefs = tracefs
        self.stdout = stdout
        self.result = CaptureResult(out=cfg.out, cmd_status=0)
        self.tfs = _Tracefs(tracefs, self.result.tracefs_writes)
        self.dumps: list[dict[str, Any]] = []
        self.missing: list[str] = []

    # ---------------------------------------------------------------- static facts
    def write_static(self, events: list[tuple[str, Path]]) -> None:
        cfg, out = self.cfg, self.cfg.out
        for src, name in (("version", "version.txt"), ("cmdline", "cmdline.txt"),
                          ("iomem", "iomem.txt"), ("cpuinfo", "cpuinfo.txt")):
            if not _copy(cfg.proc / src, out / name):
                self.missing.append(str(cfg.proc / src))
        u = os.uname()
        (out / "uname.txt").write_text(f"{u.sysname} {u.nodename} {u.release} {u.version} {u.machine}\n")
        vm = cfg.proc / "sys" / "vm"
        if vm.is_dir():
            (out / "sysctl_vm").mkdir()
            for f in sorted(vm.iterdir()):
                # write-only knobs (compact_memory, drop_caches) fail to read: skipped
                if f.is_file() and os.access(f, os.R_OK):
                    _copy(f, out / "sysctl_vm" / f.name)
        thp = cfg.sysfs / "kernel" / "mm" / "transparent_hugepage"
        lines = []
        for rel in ("enabled", "defrag", "khugepaged/defrag"):
            try:
                lines.append((thp / rel).read_text().strip())
            except OSError:
                pass
        if lines:
            (out / "thp").mkdir()
            (out / "thp" / "settings.txt").write_text("\n".join(lines) + "\n")
        fmt = out / "event_formats"
        fmt.mkdir()
        for name, enable in events:
            system, ev = name.split(":", 1)
            prefix = "" if system in ("kmem", "migrate") else f"{system}_"
            _copy(enable.parent / "format", fmt / f"{prefix}{ev}.format")
        for ev in ("print", "bprint"):
            _copy(self.tracefs / "events" / "ftrace" / ev / "format", fmt / f"ftrace_{ev}.format")
        if not _copy(self.tracefs / "set_event", out / "set_event.txt"):
            (out / "set_event.txt").write_text("".join(n + "\n" for n, _p in events))
        _copy(self.tracefs / "buffer_size_kb", out / "buffer_size_kb.txt")
        _copy(self.tracefs / "trace_clock", out / "trace_clock.txt")

    # -------------------------------------------------------------------- snapshot
    def snapshot(self, name: str) -> None:
        cfg = self.cfg
        snap = cfg.out / f"snap_{name}"
        snap.mkdir()
        self.tfs.marker(f"GT_SNAPSHOT_{name}_BEGIN")
        for f in PROC_FILES:
            if not _copy(cfg.proc / f, snap / f):
                self.missing.append(str(cfg.proc / f))
        for rel, dst in DEBUGFS_FILES:
            _copy(cfg.debugfs / rel, snap / dst)
        if cfg.kpageflags:
            dump_id = len(self.dumps) + 1
            self.tfs.marker(f"GT_KPAGEFLAGS id={dump_id} BEGIN")
            src = cfg.proc / "kpageflags"
            try:
                nbytes = _xz_stream(src, snap / "kpageflags.xz", cfg.xz_preset, KPF_CHUNK)
            except OSError as e:
                raise CaptureError(f"{src}: cannot read: {e.strerror or e}") from None
            self.tfs.marker(f"GT_KPAGEFLAGS id={dump_id} END")
            self.dumps.append({"id": dump_id, "snapshot": snap.name, "kind": "kpageflags",
                               "pfns": nbytes // 8})
            _copy(cfg.proc / "buddyinfo", snap / "buddyinfo.after_kpageflags")
        self.tfs.marker(f"GT_SNAPSHOT_{name}_END")

    # ---------------------------------------------------------------------- command
    def run_cmd(self) -> int:
        cfg = self.cfg
        name = cfg.name or os.path.basename(cfg.cmd[0])
        start = _uptime(cfg.proc)
        self.tfs.marker(f"GT_WORKLOAD_BEGIN {name}")
        log = open(cfg.out / "workload.log", "wb")
        try:
            try:
                proc = subprocess.Popen(cfg.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            except OSError as e:
                msg = f"pagealloc capture: cannot run {cfg.cmd[0]!r}: {e.strerror or e}\n"
                log.write(msg.encode())
                self.result.warnings.append(msg.strip())
                status = 127           # as a shell reports a command it cannot run
            else:
                pipe = proc.stdout
                assert pipe is not None
                # os.read returns what is there: CMD's output shows as it comes
                for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
                    log.write(chunk)
                    self.stdout.write(chunk.decode(errors="replace"))
                    self.stdout.flush()
                status = proc.wait()
                if status < 0:
                    status = 128 - status      # killed by a signal: the shell's 128+N
        finally:
            log.close()
            self.tfs.marker(f"GT_WORKLOAD_END {name}")
        (cfg.out / "workload_uptime.txt").write_text(f"start={start} end={_uptime(cfg.proc)}\n")
        return status

    # ------------------------------------------------------------------------ trace
    def save_trace(self) -> dict[str, Any]:
        """Stream ``trace`` into trace.txt.xz and summarise it as summary.json does."""
        src = self.tracefs / "trace"
        comp = lzma.LZMACompressor(preset=self.cfg.xz_preset)
        kmem = {e: 0 for e in KMEM_PAGE_EVENTS}
        window = {e: 0 for e in KMEM_PAGE_EVENTS}
        hist: dict[str, dict[str, int]] = {e: {} for e in KMEM_PAGE_EVENTS if e != "mm_page_alloc_extfrag"}
        other: dict[str, int] = {}
        markers: list[dict[str, Any]] = []
        nbytes = lineno = 0
        in_window = False
        marker_lines: dict[str, int] = {}
        try:
            with open(src, "rb") as fin, open(self.cfg.out / "trace.txt.xz", "wb") as fout:
                for raw in fin:
                    lineno += 1
                    nbytes += len(raw)
                    fout.write(comp.compress(raw))
                    if raw.startswith(b"#"):
                        continue
                    m = _LINE_RE.match(raw.decode("ascii", errors="replace").rstrip("\n"))
                    if m is None:
                        continue
                    ev, body = m.group("event"), m.group("body")
                    if ev == "tracing_mark_write":
                        text = body.strip()
                        markers.append({"line": lineno, "marker": text})
                        marker_lines.setdefault(text, lineno)
                        if text.startswith("GT_WORKLOAD_BEGIN"):
                            in_window = True
                        elif text.startswith("GT_WORKLOAD_END"):
                            in_window = False
                    elif ev in kmem:
                        kmem[ev] += 1
                        if in_window:
                            window[ev] += 1
                        if ev in hist:
                            o = _ORDER_RE.search(body)
                            if o:
                                hist[ev][o.group(1)] = hist[ev].get(o.group(1), 0) + 1
                    else:
                        other[ev] = other.get(ev, 0) + 1
                fout.write(comp.flush())
        except OSError as e:
            raise CaptureError(f"{src}: cannot read the trace: {e.strerror or e}") from None
        for d in self.dumps:
            line = marker_lines.get(f"GT_KPAGEFLAGS id={d['id']} BEGIN")
            if line is not None:
                d["line"] = line
        self.result.trace_lines = lineno
        self.result.events_total = dict(kmem)
        self.result.markers = markers
        return {"trace_text_bytes": nbytes, "trace_lines": lineno, "events_total": kmem,
                "events_in_workload_window": window, "other_events_total": other,
                "order_histogram": hist, "markers": markers}

    def ring_buffer_stats(self) -> dict[str, str]:
        """per_cpu/cpu*/stats into trace_stats.txt; counters summed over CPUs, the oldest
        event's and the current timestamp as min and max."""
        percpu = self.tracefs / "per_cpu"
        cpus = sorted((d for d in percpu.glob("cpu*") if (d / "stats").is_file()),
                      key=lambda d: int(d.name[3:]) if d.name[3:].isdigit() else 0) if percpu.is_dir() else []
        text: list[str] = []
        sums: dict[str, float] = {}
        for d in cpus:
            try:
                body = (d / "stats").read_text()
            except OSError:
                continue
            text.append(body if len(cpus) == 1 else f"# {d.name}\n{body}")
            for line in body.splitlines():
                k, _, v = line.partition(":")
                k = k.strip()
                try:
                    x = float(v)
                except ValueError:
                    continue
                if k == "oldest event ts":
                    sums[k] = min(sums.get(k, x), x)
                elif k == "now ts":
                    sums[k] = max(sums.get(k, x), x)
                else:
                    sums[k] = sums.get(k, 0.0) + x
        if text:
            (self.cfg.out / "trace_stats.txt").write_text("".join(text))
        out = {k: (str(int(v)) if v == int(v) else f"{v:.6f}") for k, v in sums.items()}
        for key in ("overrun", "dropped events"):
            if sums.get(key):
                self.result.warnings.append(
                    f"ring buffer {key}: {int(sums[key])}: the trace is incomplete; raise --buffer-kb")
        return out


def capture(cfg: CaptureConfig, *, euid: int | None = None, stdout: IO[str] | None = None) -> CaptureResult:
    """Run one capture (see the module docstring); returns what it wrote and saw.

    ``euid`` (default ``os.geteuid()``) and ``stdout`` (where CMD's output is echoed; it is
    also saved in ``workload.log``) are for tests.  Raises :class:`CaptureError` before
    touching tracefs when something is missing or not accessible; once tracefs was changed,
    every change is put back before the error propagates.
    """
    if not cfg.cmd:
        raise CaptureError("no command to run (pagealloc capture [options] -- CMD ...)")
    uid = os.geteuid() if euid is None else euid
    _check_root(cfg, uid)
    tracefs = resolve_tracefs(cfg.tracefs)
    _preflight(cfg, tracefs, uid)
    events = _expand_events(tracefs, cfg.events)
    cap = _Capture(cfg, tracefs, stdout if stdout is not None else sys.stdout)
    tfs = cap.tfs
    cfg.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    status = 0
    try:
        tfs.write(tracefs / "tracing_on", "0")
        tfs.write(tracefs / "buffer_size_kb", str(cfg.buffer_size_kb))
        if (tracefs / "trace_clock").exists():
            tfs.write(tracefs / "trace_clock", cfg.trace_clock)
        try:                                    # O_TRUNC on "trace" empties the ring buffer
            open(tracefs / "trace", "w").close()
        except OSError as e:
            raise CaptureError(f"{tracefs / 'trace'}: cannot clear: {e.strerror or e}") from None
        for _name, enable in events:
            tfs.write(enable, "1")
        cap.write_static(events)
        tfs.write(tracefs / "tracing_on", "1")
        cap.snapshot("before")
        status = cap.run_cmd()
        cap.snapshot("after")
        tfs.write(tracefs / "tracing_on", "0")
        summary.update(cap.save_trace())
        summary["ring_buffer_stats"] = cap.ring_buffer_stats()
    finally:
        cap.result.warnings.extend(tfs.restore())
    cap.result.cmd_status = status
    summary["dumps"] = cap.dumps
    summary["capture"] = {
        "tool": "pagealloc capture", "cmd": list(cfg.cmd), "cmd_exit_status": status,
        "events": [n for n, _p in events], "tracefs": str(tracefs), "proc": str(cfg.proc),
        "buffer_size_kb": cfg.buffer_size_kb, "trace_clock": cfg.trace_clock,
        "kpageflags": cfg.kpageflags, "missing_files": cap.missing,
        "tracefs_writes": [list(w) for w in cap.result.tracefs_writes],
        "warnings": cap.result.warnings,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return cap.result


def default_out_dir() -> Path:
    """``capture-<date>-<time>`` in the current directory."""
    return Path(time.strftime("capture-%Y%m%d-%H%M%S"))

