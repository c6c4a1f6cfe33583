"""Command line: ``pagealloc proc``, ``pagealloc run``, ``pagealloc info``, ``pagealloc compare``,
``pagealloc review`` and the trace commands.

Errors in the input (a bad size, an unknown knob or profile, a malformed snapshot) end
with a one-line message naming the file, line or field and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any, Sequence

from pagealloc.config import ConfigError, MachineConfig, config_from_kwargs
from pagealloc.machine import Machine
from pagealloc.mm.gfp import GfpParseError
from pagealloc.profiles import KNOBS, PROFILES, ProfileError, get_profile, with_knobs

PROC_CHOICES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "extfrag_index",
                "unusable_index", "meminfo")


class UsageError(ValueError):
    """A command-line value that cannot be used."""


def _split_knobs(items: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """Separate profile knobs (:data:`pagealloc.profiles.KNOBS`) from machine fields."""
    machine: list[str] = []
    knobs: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if key in KNOBS:
            allowed = KNOBS[key]
            if isinstance(allowed[0], bool):
                if value.lower() not in ("0", "1", "true", "false", "on", "off", "yes", "no"):
                    raise UsageError(f"--set {key}={value}: expected a boolean")
                knobs[key] = value.lower() in ("1", "true", "on", "yes")
            else:
                if value not in allowed:
                    raise UsageError(f"--set {key}={value}: not one of {', '.join(map(str, allowed))}")
                knobs[key] = value
        else:
            machine.append(item)
    return machine, knobs


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``--set knob=value`` pairs, typed by the MachineConfig field they name."""
    fields = {f.name: f for f in dataclasses.fields(MachineConfig)}
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected knob=value")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in fields:
            known = sorted(list(fields) + list(KNOBS))
            raise UsageError(f"--set {key}: unknown knob; known: {', '.join(known)}")
        default = getattr(MachineConfig(), key)
        try:
            if key in ("reserved", "ram_ranges"):
                out[key] = _parse_ranges(key, value)
            elif isinstance(default, bool):
                if value.lower() not in ("0", "1", "true", "false", "on", "off", "yes", "no"):
                    raise ValueError(value)
                out[key] = value.lower() in ("1", "true", "on", "yes")
            elif isinstance(default, tuple):
                out[key] = tuple(int(x) for x in value.replace(",", " ").split())
            elif key in ("memory", "kernel_image_size"):
                out[key] = value
            elif default is None or isinstance(default, int):
                out[key] = int(value, 0)
            else:
                out[key] = value
        except ValueError:
            raise UsageError(f"--set {key}={value}: not a valid value for {key}") from None
    return out


def _parse_ranges(key: str, value: str) -> list[tuple[int, int]]:
    """``START-END[,START-END...]`` PFN ranges (end exclusive; 0x for hex); empty: none."""
    out: list[tuple[int, int]] = []
    for part in value.replace(" ", "").split(","):
        if not part:
            continue
        if "-" not in part:
            raise UsageError(f"--set {key}={value}: {part!r} is not a START-END pfn range")
        a, b = part.split("-", 1)
        out.append((int(a, 0), int(b, 0)))
    return out


def build_machine(args: argparse.Namespace) -> Machine:
    """The machine named by --snapshot, or built from --memory/--cpus/--set."""
    machine_items, knobs = _split_knobs(getattr(args, "set", None) or [])
    profile: Any = args.profile
    if knobs:
        profile = with_knobs(get_profile(profile or "linux-7.2"), **knobs)
    if getattr(args, "snapshot", None):
        from pagealloc.workload.state import machine_from_snapshot
        return machine_from_snapshot(args.snapshot, profile)
    kwargs = _parse_set(machine_items)
    kwargs.setdefault("memory", args.memory)
    kwargs.setdefault("cpus", args.cpus)
    cfg = config_from_kwargs(**kwargs)
    return Machine(cfg, profile or "linux-7.2")


def cmd_proc(args: argparse.Namespace) -> int:
    m = build_machine(args)
    from pagealloc.workload.state import inference_report
    report = inference_report(m)
    if report is not None:
        # kpageflags import: first line "# pagealloc: layout inferred from ..."
        sys.stdout.write("".join(line + "\n" for line in report.summary_lines()))
    elif m.synthesized_layout:
        sys.stdout.write("# pagealloc: layout synthesized from /proc files (no gt_buddydump); "
                         "counts are exact, physical placement is not\n")
    if args.file == "meminfo":
        sys.stdout.write(m.meminfo_directmap())      # the model's part of /proc/meminfo
    else:
        sys.stdout.write(m.proc(args.file))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    m = build_machine(args)
    print(f"profile {m.profile.name}  cpus {m.ncpus}  min_free_kbytes {m.min_free_kbytes}")
    print(m.describe())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``pagealloc run [SCENARIO]``: the built-in mixed stream (the default), or a scenario:
    a built-in name or a TOML file (:mod:`pagealloc.workload.scenario`)."""
    if args.list:
        from pagealloc.workload.scenario import iter_builtins
        print(f"{'mixed':<22} the seeded mixed alloc/free stream (the default; --events N)")
        for name, doc in iter_builtins():
            print(f"{name:<22} {doc}")
        return 0
    count: int | None = None
    events_file = args.events_file
    if args.events is not None:
        if args.events.isdigit():
            count = int(args.events)
        elif events_file:
            raise UsageError("--events FILE and --events-file FILE: give one")
        else:
            events_file = args.events
    if args.scenario == "mixed":
        return _run_mixed(args, 200_000 if count is None else count, events_file)
    from pagealloc.workload.scenario import load_scenario
    scn = load_scenario(args.scenario)         # an unknown name or a bad file fails first
    if count is not None:
        raise UsageError(f"--events {args.events}: a count applies to the mixed stream; a "
                         f"scenario's length is its phases (use --scale, or --events ./{args.events} "
                         f"for a file of that name)")
    return _run_scenario(args, scn, events_file)


def _run_mixed(args: argparse.Namespace, count: int, events_file: str | None) -> int:
    """The built-in mixed stream (pagealloc.workload.mixed)."""
    from pagealloc.workload.mixed import MixedSpec, mixed_stream, run_mixed
    if args.every or args.scale != 1.0 or args.show or args.plots:
        raise UsageError("--every, --scale, --show and --plots apply to scenarios, not to the "
                         "mixed stream")
    if args.seed is None:
        args.seed = 42
    if args.memory is None:
        args.memory = "16G"
    if args.cpus is None:
        args.cpus = 4
    m = build_machine(args)
    ram_pages = sum(z.managed_pages for z in m.zones)
    spec = MixedSpec(events=count, seed=args.seed, cpus=m.ncpus,
                     unmapped_share=args.unmapped_share)
    if args.unmapped_share and not m.profile.unmapped:
        raise UsageError("--unmapped-share needs an unmapped profile (unmapped-v2, unmapped-v4, unmapped-cache-2023)")
    writer = None
    if events_file:
        from pagealloc.mm.tracepoints import TraceWriter
        fh = open(events_file, "w")
        writer = TraceWriter(fh, lambda: m.now_ns, m.profile.gfp_table)
        m.attach(writer)
    events = list(mixed_stream(spec, ram_pages))
    t0 = time.perf_counter()
    res = run_mixed(m, events, check_every=args.check_every)
    elapsed = time.perf_counter() - t0
    if writer is not None:
        writer.out.close()
    if args.check_every:
        m.check()
    summary = {
        "scenario": args.scenario, "profile": m.profile.name, "seed": args.seed,
        "events": len(events), "allocs": res.allocs, "frees": res.frees,
        "alloc_failures": res.alloc_failures, "model_stats": dict(m.alloc.stats),
        "vmstat": m.vmstat(),
        "metrics": m.metrics(),
    }
    if m.profile.unmapped:
        summary["tlb"] = dict(m.tlb.stats)
        summary["direct_map"] = {k: v for k, v in m.directmap.stats.items() if isinstance(v, int)}
        summary["direct_map_pages_count"] = list(m.directmap.direct_pages_count)
        if m.contents is not None:
            summary["contents"] = dict(m.contents.stats)
        if m.unmapped_cache is not None:
            summary["unmapped_cache"] = dict(m.unmapped_cache.stats)
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print(f"scenario {args.scenario}  profile {m.profile.name}  seed {args.seed}  "
              f"events {len(events)}")
        print(f"allocs {res.allocs}  frees {res.frees}  failures {res.alloc_failures}")
        for k, v in sorted(m.alloc.stats.items()):
            print(f"  {k} {v}")
        print("metrics " + " ".join(f"{k}={v}" for k, v in m.metrics().items()))
        print(m.proc("buddyinfo"), end="")
        if m.profile.unmapped:
            print(m.meminfo_directmap(), end="")
            print("tlb " + " ".join(f"{k}={v}" for k, v in sorted(m.tlb.stats.items())))
            if m.contents is not None:
                print("security " + " ".join(f"{k}={v}" for k, v in sorted(m.contents.stats.items())))
            if m.unmapped_cache is not None:
                print("unmapped_cache " + " ".join(
                    f"{k}={v}" for k, v in sorted(m.unmapped_cache.stats.items())))
        print(f"# replayed in {elapsed:.2f}s ({len(events) / max(elapsed, 1e-9):.0f} events/s)",
              file=sys.stderr)
    return 0


def _run_scenario(args: argparse.Namespace, scn: Any, events_file: str | None) -> int:
    """A scenario: built-in or file; the summary, or --json; progress on a terminal."""
    from pagealloc.workload import scenario as S
    if args.unmapped_share:
        raise UsageError("--unmapped-share applies to the mixed stream; a scenario's unmapped "
                         "users are its guest_memfd, secretmem and asi-sensitive sources")
    if not 0 < args.scale <= 64:
        raise UsageError(f"--scale {args.scale:g}: expected a factor in (0, 64]")
    for opt in ("every", "check_every"):
        if getattr(args, opt) < 0:
            raise UsageError(f"--{opt.replace('_', '-')} {getattr(args, opt)}: expected N >= 0")
    if args.plots and not args.every:
        raise UsageError(f"--plots {args.plots}: give --every N, the request interval of the "
                         f"samples to plot")
    if args.show:
        from pagealloc.workload.scenario_builtins import BUILTINS, builtin_text
        from pathlib import Path
        if args.scenario in BUILTINS and not Path(args.scenario).is_file():
            sys.stdout.write(builtin_text(args.scenario))
        else:
            sys.stdout.write(Path(args.scenario).read_text())     # validated: print as written
        return 0
    scn = scn.scaled(args.scale)
    machine_items, knobs = _split_knobs(args.set or [])
    overrides = _parse_set(machine_items)
    if args.memory is not None:
        overrides["memory"] = args.memory
    if args.cpus is not None:
        overrides["cpus"] = args.cpus
    profile: Any = args.profile or scn.profile or "linux-7.2"
    if knobs:
        profile = with_knobs(get_profile(profile), **knobs)
    m = S.build_machine(scn, profile, overrides, args.snapshot)
    writer = None
    if events_file:
        from pagealloc.mm.tracepoints import TraceWriter
        writer = TraceWriter(open(events_file, "w"), lambda: m.now_ns, m.profile.gfp_table)
        m.attach(writer)
    progress = _progress_printer(scn.name) if sys.stderr.isatty() else None
    t0 = time.perf_counter()
    measured: list[dict[str, int]] = []       # --plots: measure_state() at every sample
    try:
        if args.plots:
            from pagealloc.experiments.compare import run_scenario_measured
            res = run_scenario_measured(scn, m, measured, seed=args.seed, scale=args.scale,
                                        check_every=args.check_every, every=args.every,
                                        progress=progress)
        else:
            res = S.run_scenario(scn, m, seed=args.seed, scale=args.scale,
                                 check_every=args.check_every, every=args.every,
                                 progress=progress)
    finally:
        if progress is not None:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
        if writer is not None:
            writer.out.close()
    elapsed = time.perf_counter() - t0
    if args.plots:
        from pagealloc.report.plots import plot_run
        for path in plot_run(f"{scn.name} ({m.profile.name})", measured, m, args.plots):
            print(f"# wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(S.result_json(res, m), indent=1))
    else:
        sys.stdout.write(S.render_summary(res, m))
        print(f"# ran in {elapsed:.2f}s ({res.events / max(elapsed, 1e-9):.0f} events/s)",
              file=sys.stderr)
    return 0


def _progress_printer(name: str) -> Any:
    """A progress callback writing one updating stderr line, at most twice a second."""
    last = [0.0]

    def show(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or fraction >= 1.0:
            last[0] = now
            print(f"\r# {name}: {100 * fraction:5.1f} %", end="", file=sys.stderr, flush=True)
    return show


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pagealloc", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def machine_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--memory", default="16G", help="RAM size (default 16G)")
        sp.add_argument("--cpus", type=int, default=4, help="number of CPUs (default 4)")
        sp.add_argument("--profile", default=None, choices=sorted(PROFILES),
                        help="kernel profile (default linux-7.2, or the snapshot's kernel)")
        sp.add_argument("--set", action="append", metavar="KNOB=VALUE",
                        help="machine/sysctl knob, e.g. watermark_scale_factor=100")
        sp.add_argument("--snapshot", metavar="DIR",
                        help="load the state from a snapshot directory (gt_buddydump, else "
                             "kpageflags + zoneinfo, else /proc files)")

    sp = sub.add_parser("proc", help="print a /proc view of the machine's state")
    sp.add_argument("file", choices=PROC_CHOICES)
    machine_opts(sp)
    sp.set_defaults(func=cmd_proc)

    sp = sub.add_parser("info", help="describe the machine's zones and watermarks")
    machine_opts(sp)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("run", help="run a workload: the built-in mixed stream (default), "
                                     "a built-in scenario or a scenario file")
    sp.add_argument("scenario", nargs="?", default="mixed",
                    help="mixed (default), a built-in scenario (--list) or a TOML file "
                         "(docs/scenarios.md)")
    sp.add_argument("--events", metavar="FILE|N",
                    help="write tracepoint-format lines to FILE; a number N is the length "
                         "of the mixed stream (default 200000)")
    sp.add_argument("--seed", type=int, default=None,
                    help="random seed (default: the scenario's; 42 for mixed)")
    sp.add_argument("--scale", type=float, default=1.0, metavar="F",
                    help="scenario size: memory, rates and event-counted lifetimes times F")
    sp.add_argument("--json", action="store_true", help="machine-readable summary")
    sp.add_argument("--every", type=int, default=0, metavar="N",
                    help="sample buddyinfo, vmstat and DirectMap every N events (scenarios)")
    sp.add_argument("--plots", metavar="DIR",
                    help="with --every: write PNG plots of the samples to DIR (free pages per "
                         "order, DirectMap, flips and TLB flushes over time) and the final "
                         "pageblock map (scenarios)")
    sp.add_argument("--events-file", metavar="FILE", help="write tracepoint lines to FILE")
    sp.add_argument("--unmapped-share", type=float, default=0.0, metavar="F",
                    help="mixed stream: fraction of order-0..3 unmovable requests that are "
                         "unmapped (guest_memfd-like; unmapped profiles only)")
    sp.add_argument("--check-every", type=int, default=0, metavar="N",
                    help="run the invariant checker every N events")
    sp.add_argument("--list", action="store_true", help="list the built-in scenarios")
    sp.add_argument("--show", action="store_true",
                    help="print the scenario's TOML (a built-in's, to start one's own) and exit")
    machine_opts(sp)
    # a scenario brings its own machine: --memory/--cpus override it only when given
    sp.set_defaults(func=cmd_run, memory=None, cpus=None)

    sp = sub.add_parser("fidelity", help="measure the model against real trace captures")
    sp.add_argument("dirs", nargs="+", metavar="DIR", help="capture directories (traces README)")
    sp.add_argument("--profile", choices=sorted(n for n in PROFILES if n.startswith("linux-")),
                    help="override the profile chosen from the capture's version.txt")
    sp.add_argument("--json", action="store_true", help="one JSON object per directory")
    sp.set_defaults(func=cmd_fidelity)

    sp = sub.add_parser("convert", help="convert a trace to the binary form for fast re-runs")
    sp.add_argument("trace", metavar="TRACE", help="ftrace, trace-cmd report or perf script text "
                    "(plain, .xz, .gz, .bz2, .zst)")
    sp.add_argument("out", metavar="OUT", nargs="?",
                    help="the converted file to write (default: TRACE.patr, which every "
                         "reader of TRACE then uses while it matches TRACE)")
    sp.add_argument("--lenient", action="store_true",
                    help="skip malformed lines (recorded in the file) instead of stopping")
    sp.add_argument("--format", default="auto",
                    choices=("auto", "ftrace", "trace-cmd", "perf-script"),
                    help="input format (default: detected from the first lines)")
    sp.add_argument("--profile", choices=sorted(n for n in PROFILES if n.startswith("linux-")),
                    help="kernel whose GFP names to decode (default: from version.txt beside "
                         "TRACE, else linux-7.2)")
    sp.set_defaults(func=cmd_convert)

    sp = sub.add_parser("replay", help="replay a real kernel trace capture (follow/decide/drive)")
    sp.add_argument("capture", metavar="DIR", help="capture directory (trace + snapshots)")
    sp.add_argument("--mode", choices=("follow", "decide", "drive"), default=None,
                    help="follow (kernel PFNs), decide (model predicts) or drive (model decides; "
                         "the default with --what-if); default follow")
    sp.add_argument("--profile", choices=sorted(PROFILES), default=None,
                    help="profile (default: from the capture's version.txt)")
    sp.add_argument("--what-if", action="append", default=[], metavar="MATCH:ACTION",
                    help="rewrite requests, e.g. gfp=GFP_HIGHUSER_MOVABLE:unmapped (drive mode)")
    sp.add_argument("--limit", type=int, default=0, help="stop after N allocations")
    sp.add_argument("--every", type=int, default=0, metavar="N",
                    help="drive mode: sample the machine every N replayed requests and at the end "
                         "(free pages per order, order-9 blocks, DirectMap, mixed pageblocks: "
                         "the samples of pagealloc compare) into result.samples")
    sp.add_argument("--lenient", action="store_true", help="skip malformed trace lines")
    sp.add_argument("--json", action="store_true", help="machine-readable result")
    sp.set_defaults(func=cmd_replay)
    sp = sub.add_parser("capture", help="trace a command's page allocations on this Linux host (root)",
                        description="Enable the kmem page tracepoints through tracefs, snapshot the "
                        "allocator's /proc files and /proc/kpageflags before and after, run CMD, and "
                        "write a capture directory that replay, fidelity and --snapshot read "
                        "(pagealloc/workload/capture.py). Exit status: CMD's, or 2 when the capture "
                        "cannot run.")
    sp.add_argument("--out", metavar="DIR", help="capture directory (default ./capture-DATE-TIME)")
    sp.add_argument("--events", metavar="LIST",
                    help="comma-separated SYSTEM:EVENT or SYSTEM:* (default: the six kmem page "
                         "events, compaction:*, migrate:mm_migrate_pages, "
                         "vmscan:mm_vmscan_kswapd_wake/sleep)")
    sp.add_argument("--tracefs", metavar="PATH",
                    help="tracefs mount (default /sys/kernel/tracing, else /sys/kernel/debug/tracing)")
    sp.add_argument("--proc", metavar="PATH", default="/proc", help="procfs root (default /proc)")
    sp.add_argument("--debugfs", metavar="PATH", default="/sys/kernel/debug",
                    help="debugfs root, for extfrag files (default /sys/kernel/debug)")
    sp.add_argument("--sysfs", metavar="PATH", default="/sys", help="sysfs root, for THP settings")
    sp.add_argument("--buffer-kb", type=int, default=65536, metavar="N",
                    help="ring buffer per CPU in KiB (default 65536)")
    sp.add_argument("--clock", default="local", help="trace_clock (default local)")
    sp.add_argument("--name", help="workload name in the GT_WORKLOAD markers (default: CMD's basename)")
    sp.add_argument("--no-kpageflags", action="store_true", help="do not copy /proc/kpageflags")
    sp.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to trace")
    sp.set_defaults(func=cmd_capture)
    _add_experiment_parsers(sub)
    _add_explain_parser(sub, machine_opts)
    from pagealloc.experiments.sweep import add_parser as _add_sweep_parser
    _add_sweep_parser(sub)     # pagealloc sweep SPEC
    from pagealloc.workload.synth import add_parser as _add_synth_parser
    _add_synth_parser(sub)     # pagealloc synth OUT
    return p


def _add_explain_parser(sub: Any, machine_opts: Any) -> None:
    """``pagealloc explain`` (pagealloc.experiments.explain)."""
    sp = sub.add_parser("explain", help="step through one allocation and print the kernel "
                        "functions it ran, the lists, fallbacks, flips and the resulting PFN")
    sp.add_argument("gfp", metavar="GFP", help="GFP flags, e.g. GFP_KERNEL or 'GFP_HIGHUSER_MOVABLE'")
    sp.add_argument("--order", type=int, default=0, help="allocation order (default 0)")
    sp.add_argument("--cpu", type=int, default=0, help="CPU of the request (default 0)")
    sp.add_argument("--unmapped", action="store_true",
                    help="ALLOC_UNMAPPED (profile unmapped-v4; v2 uses __GFP_UNMAPPED in GFP)")
    sp.add_argument("--scenario", metavar="NAME|FILE",
                    help="start from a scenario (built-in name or file) run for --after events")
    sp.add_argument("--after", type=int, default=1000, metavar="N",
                    help="with --scenario: events to run first (default 1000)")
    sp.add_argument("--json", action="store_true", help="the steps as a JSON object")
    machine_opts(sp)
    sp.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    from pagealloc.experiments.explain import explain_alloc, machine_after_scenario
    if args.order < 0 or args.order > 10:
        raise UsageError(f"--order {args.order}: not in 0..10")
    if args.scenario:
        if args.snapshot:
            raise UsageError("--scenario and --snapshot: give one starting state")
        machine_items, knobs = _split_knobs(args.set or [])
        profile: Any = args.profile
        if knobs:
            profile = with_knobs(get_profile(profile or "linux-7.2"), **knobs)
        m = machine_after_scenario(args.scenario, args.after, profile, _parse_set(machine_items))
    else:
        m = build_machine(args)
    try:
        gfp = m.parse_gfp(args.gfp)
    except GfpParseError as e:
        raise UsageError(f"GFP: {e}") from None
    ex = explain_alloc(m, gfp if args.gfp.strip().startswith("0") else args.gfp,
                       args.order, args.cpu, args.unmapped)
    sys.stdout.write(ex.to_json() if args.json else ex.render())
    return 0


def _add_experiment_parsers(sub: Any) -> None:
    """``pagealloc compare`` and ``pagealloc review`` (pagealloc.experiments)."""
    sp = sub.add_parser("compare", help="run the same events through several profiles/variants "
                        "and print one table, a column each")
    sp.add_argument("target", metavar="SCENARIO|TRACE",
                    help="a built-in scenario (pagealloc run --list), a scenario TOML file, or a "
                         "capture directory (replayed in drive mode)")
    sp.add_argument("--profiles", required=True, metavar="A,B,...",
                    help="profiles or variants, e.g. unmapped-v2,unmapped-v2+flip_mode=claim")
    sp.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                    help="a profile knob for every column, or a machine field (memory=1G)")
    sp.add_argument("--seed", type=int, default=None, help="seed (default: the scenario's)")
    sp.add_argument("--scale", type=float, default=1.0, metavar="F", help="scenario size factor")
    sp.add_argument("--every", type=int, default=1000, metavar="N",
                    help="sample the state every N requests (default 1000)")
    sp.add_argument("--what-if", action="append", default=[], metavar="MATCH:ACTION",
                    help="trace: rewrite requests as in pagealloc replay --what-if")
    sp.add_argument("--limit", type=int, default=0, help="trace: stop after N allocations")
    sp.add_argument("--out", metavar="DIR", help="write compare.csv, compare.json, "
                    "compare.parquet and compare.html to DIR")
    sp.add_argument("--plots", metavar="DIR", help="write the plots (PNG) to DIR: metrics, "
                    "free pages per order, DirectMap, flips and flushes, a pageblock map per column")
    sp.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("review", help="the review suite: the seed's four questions, the "
                        "steal-before-flip note and experiments of series.md section 5")
    sp.add_argument("--quick", action="store_true", help="small sizes (seconds, for tests)")
    sp.add_argument("--out", metavar="DIR", help="write review.md and the tables (CSV, JSON) to DIR")
    sp.add_argument("--only", metavar="ID,...", help="run only these sections (q1,q2,...,e13)")
    sp.set_defaults(func=cmd_review)


def _command_line(args: argparse.Namespace) -> str:
    """The command line that produced an output (for the HTML reports)."""
    import shlex
    return shlex.join(["pagealloc", *getattr(args, "argv", [])])


def cmd_compare(args: argparse.Namespace) -> int:
    """``pagealloc compare SCENARIO|TRACE --profiles A,B``: pagealloc.experiments.compare."""
    from pathlib import Path

    from pagealloc.experiments import compare as C
    machine_items, knobs = _split_knobs(args.set)
    overrides = _parse_set(machine_items)
    specs = [s.strip() for s in args.profiles.split(",") if s.strip()]
    if not specs:
        raise UsageError("--profiles: give at least one profile")
    variants = [C.parse_variant(s, knobs) for s in specs]
    if len({v.label for v in variants}) != len(variants):
        raise UsageError(f"--profiles {args.profiles}: a column is named twice")
    if not 0 < args.scale <= 64:
        raise UsageError(f"--scale {args.scale:g}: expected a factor in (0, 64]")
    if args.every < 1:
        raise UsageError(f"--every {args.every}: expected N >= 1")
    target = Path(args.target)
    pageblock_plots: list[Path] = []

    def plot_pageblocks(v: C.Variant, m: Any) -> None:
        pageblock_plots.append(C.write_pageblock_plot(args.plots, len(pageblock_plots) + 1,
                                                      v.label, m))
    if target.is_dir():
        if overrides:
            raise UsageError("--set " + ",".join(machine_items) + ": a trace brings its machine")
        cmp = C.compare_trace(target, variants, limit=args.limit, what_if=args.what_if,
                              every=args.every,
                              on_machine=plot_pageblocks if args.plots else None)
        for path in pageblock_plots:
            print(f"# wrote {path}", file=sys.stderr)
    else:
        if args.what_if:
            raise UsageError("--what-if applies to a trace (capture directory)")
        cmp = C.compare_scenario(args.target, variants, seed=args.seed, scale=args.scale,
                                 overrides=overrides, every=args.every,
                                 on_machine=plot_pageblocks if args.plots else None)
        for path in pageblock_plots:
            print(f"# wrote {path}", file=sys.stderr)
    if args.out:
        for path in C.write_outputs(cmp, args.out, "compare"):
            print(f"# wrote {path}", file=sys.stderr)
    plots: list[Path] = []
    if args.plots:
        plots = C.write_plots(cmp, args.plots)
        for path in plots:
            print(f"# wrote {path}", file=sys.stderr)
    if args.out:
        from pagealloc.report.html import compare_report
        html_path = Path(args.out) / "compare.html"
        html_path.write_text(compare_report(cmp, _command_line(args), pageblock_plots + plots),
                             encoding="utf-8")
        print(f"# wrote {html_path}", file=sys.stderr)
    if args.json:
        print(json.dumps(cmp.as_dict(), indent=1, sort_keys=True))
    else:
        sys.stdout.write(C.render(cmp))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """``pagealloc review [--quick] [--out DIR]``: pagealloc.experiments.review."""
    from pagealloc.experiments import review as R
    only = [s.strip().lower() for s in args.only.split(",")] if args.only else None
    t0 = time.perf_counter()
    rep = R.run_review(quick=args.quick, only=only)
    text = R.render_markdown(rep)
    sys.stdout.write(text)
    if args.out:
        for path in R.write_review(rep, args.out, _command_line(args)):
            print(f"# wrote {path}", file=sys.stderr)
    print(f"# review ran in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """``pagealloc replay DIR``: follow, decide or what-if replay (pagealloc.workload.replay)."""
    from pathlib import Path

    from pagealloc.profiles import get_profile
    from pagealloc.workload.fidelity import kernel_version, profile_for
    from pagealloc.workload.replay import decide, drive, follow, load_intervals, parse_what_if

    cap = Path(args.capture)
    prof = args.profile or profile_for(kernel_version(cap))
    table = get_profile(prof).gfp_table
    rules = [parse_what_if(r, table) for r in args.what_if]
    mode = args.mode or ("drive" if rules else "follow")
    if rules and mode != "drive":
        raise UsageError("--what-if rewrites requests the model decides: use --mode drive")
    if args.every and mode != "drive":
        raise UsageError("--every samples the machine of a drive replay: use --mode drive")
    intervals = load_intervals(cap, table, args.lenient)
    out: dict[str, object] = {"capture": str(cap), "profile": prof, "mode": mode}
    if mode == "follow":
        rs = follow(cap, prof, intervals)
        out["intervals"] = [r.as_dict() for r in rs]
        out["unexplained"] = sum(r.inconsistencies for r in rs)
    elif mode == "decide":
        rows = decide(cap, prof, intervals, args.limit)
        stats = [dict(r["stats"]) for r in rows]  # type: ignore[call-overload]
        allocs = sum(int(st.get("allocs", 0)) for st in stats)
        match = sum(int(st.get("match", 0)) for st in stats)
        out["intervals"] = rows
        out["decide_pfn_match"] = round(match / allocs, 4) if allocs else 1.0
    else:
        if args.every < 0:
            raise UsageError(f"--every {args.every}: must be >= 0")
        sample = None
        if args.every:
            from pagealloc.experiments.compare import measure_state
            sample = measure_state
        driven = drive(cap, prof, rules, intervals, args.limit, every=args.every, sample=sample)
        result = driven.as_dict()
        if sample is not None:
            result["samples"] = driven.samples
        out["result"] = result
    if args.json:
        print(json.dumps(out, sort_keys=True))
        return 0
    print(f"# replay {cap} profile={prof} mode={mode}")
    if mode == "follow":
        for r in out["intervals"]:  # type: ignore[attr-defined]
            nd = r["at_next_dump"]
            print(f"dump {r['dump']} -> {r['next_dump']}: allocs={r['allocs']} frees={r['frees']} "
                  f"unexplained={sum(r['unexplained'].values())} "
                  f"explained={sum(r['explained'].values())}"
                  + ("" if nd is None else
                     f" at_next_dump: replay_free_not_dump={nd['replay_free_not_dump']} "
                     f"dump_free_not_replay={nd['dump_free_not_replay']} "
                     f"(compaction {nd['explained_by_compaction']})"))
            for k, v in sorted(r["explained"].items()):
                print(f"    explained {k}: {v}")
            for line in r["first_unexplained"]:
                print(f"    {line}")
        print(f"unexplained inconsistencies: {out['unexplained']}")
    elif mode == "decide":
        for r in out["intervals"]:  # type: ignore[attr-defined]
            st = r["stats"]
            print(f"dump {r['dump']}: allocs={st.get('allocs', 0)} match_rate={r['match_rate']}")
            bp = r.get("by_path", {})
            paths = sorted({k.split(":")[0] for k in bp})
            print("    by path: " + ", ".join(
                f"{q} {bp.get(q + ':match', 0)}/{bp[q + ':n']}" for q in paths))
            for line in r["first_misses"][:5]:
                print(f"    miss {line}")
            if "state_at_next_dump" in r:
                print(f"    at dump {r['next_dump']}: {r['state_at_next_dump']}")
        print(f"decide PFN match: {out['decide_pfn_match']}")
    else:
        res = out["result"]
        print(json.dumps(res, sort_keys=True, indent=1))
    return 0


def cmd_fidelity(args: argparse.Namespace) -> int:
    """``pagealloc fidelity DIR...``: one row per capture (pagealloc.workload.fidelity)."""
    from pathlib import Path

    from pagealloc.workload.fidelity import fidelity, render_table
    rows = []
    rc = 0
    for d in args.dirs:
        print(f"# fidelity: {d} ...", file=sys.stderr, flush=True)
        try:
            rows.append(fidelity(Path(d), args.profile))
        except (OSError, ValueError) as e:
            # keep what is already computed; report the bad directory and go on
            print(f"pagealloc: {d}: {e}", file=sys.stderr)
            rc = 2
    if args.json:
        for r in rows:
            print(json.dumps(r, sort_keys=True))
    else:
        print(render_table(rows), end="")
    return rc


def cmd_convert(args: argparse.Namespace) -> int:
    """``pagealloc convert TRACE OUT``: write the binary form (pagealloc.workload.tracebin)."""
    import os
    from pathlib import Path

    from pagealloc.workload.tracebin import convert_trace, default_output
    if args.out is None:
        args.out = default_output(args.trace)
    profile = args.profile
    version_txt = Path(args.trace).parent / "version.txt"
    if profile is None and version_txt.is_file():
        from pagealloc.workload.fidelity import kernel_version, profile_for
        profile = profile_for(kernel_version(version_txt.parent))
    table = get_profile(profile or "linux-7.2").gfp_table
    t0 = time.perf_counter()
    h = convert_trace(args.trace, args.out, table, lenient=args.lenient,
                      fmt=None if args.format == "auto" else args.format)
    print(f"{args.out}: {h['events']} events from {h['lines']} lines of {args.trace} "
          f"({h['source_format']}, GFP names of {h['gfp_table']}), {h['skipped']} skipped, "
          f"{os.path.getsize(args.out)} bytes, {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_capture(args: argparse.Namespace) -> int:
    """``pagealloc capture [options] -- CMD...`` (pagealloc.workload.capture): exit with CMD's
    status; 2 when the capture itself cannot run (the message names the path)."""
    from pathlib import Path

    from pagealloc.workload.capture import (
        DEFAULT_EVENTS,
        CaptureConfig,
        capture,
        default_out_dir,
    )
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("capture: no command; usage: pagealloc capture [options] -- CMD ...")
    events = tuple(e for e in args.events.split(",") if e.strip()) if args.events else DEFAULT_EVENTS
    cfg = CaptureConfig(out=Path(args.out) if args.out else default_out_dir(), cmd=cmd, events=events,
                        tracefs=Path(args.tracefs) if args.tracefs else None, proc=Path(args.proc),
                        debugfs=Path(args.debugfs), sysfs=Path(args.sysfs),
                        buffer_size_kb=args.buffer_kb, trace_clock=args.clock, name=args.name,
                        kpageflags=not args.no_kpageflags)
    res = capture(cfg)
    for w in res.warnings:
        print(f"pagealloc capture: warning: {w}", file=sys.stderr)
    counts = " ".join(f"{k}={v}" for k, v in res.events_total.items())
    print(f"pagealloc capture: wrote {res.out} ({res.trace_lines} trace lines; {counts}); "
          f"{cmd[0]} exited with status {res.cmd_status}", file=sys.stderr)
    return res.cmd_status


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    try:
        rc: int = args.func(args)
        return rc
    except (ConfigError, ProfileError, GfpParseError, UsageError) as e:
        print(f"pagealloc: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"pagealloc: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
