"""``pagealloc fidelity DIR...``: how faithfully the model reproduces real trace captures.

Built on the decide replay (:class:`pagealloc.workload.decide.DecideReplay`): for each
capture directory and each pair of consecutive dumps, the model starts from the exact dump,
predicts every allocation (decide mode, repairing to the kernel's choice after a miss) and
its state at the next dump is compared with that dump.  Per directory it reports, under
the names automation relies on:

``dir``, ``kernel``, ``profile``
    the capture, the kernel of its ``version.txt`` and the profile used (the nearest profile
    not newer than that kernel, unless ``--profile``);
``events``
    trace events walked (from the first dump to the last);
``follow_inconsistencies``
    unexplained inconsistencies of the follow replay (:func:`pagealloc.workload.replay.follow`,
    page level, each interval from its exact dump): an allocation of a page that is not
    free, a free of a page that is free, that no event-less kernel path (traces README
    section 9: bulk allocation, batched duplicates, compaction) explains; the explained ones
    are in ``follow_explained``;
``decide_pfn_match``
    share of successful allocations where the model chose the kernel's PFN (0..1);
``dump_state_agreement``
    mean over the dumps reached of the free-block agreement (Jaccard index of the (pfn,
    order) free blocks, :func:`~pagealloc.workload.decide.compare_state`) (0..1;
    ``null`` when no interval reached its next dump);
``pagetypeinfo_max_cell_error``
    the largest relative error of a /proc/pagetypeinfo free-block cell at any dump (0..1);
``extfrag_agreement``
    ``min(model, kernel) / max(model, kernel)`` of the ``mm_page_alloc_extfrag`` event
    counts (1 when neither has any).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pagealloc.profiles import PROFILES
from pagealloc.workload.errors import InputFormatError as InputError

_VERSION = re.compile(r"Linux version (\d+)\.(\d+)")


def kernel_version(capture: Path) -> tuple[int, int]:
    """(major, minor) from the capture's ``version.txt`` (``/proc/version``)."""
    path = capture / "version.txt"
    try:
        text = path.read_text()
    except OSError as e:
        raise InputError(str(path), 1, "version", f"cannot read: {e.strerror}") from None
    m = _VERSION.search(text)
    if m is None:
        raise InputError(str(path), 1, "version", "no 'Linux version X.Y' in the file")
    return int(m.group(1)), int(m.group(2))


def profile_for(version: tuple[int, int]) -> str:
    """The nearest upstream profile not newer than ``version`` (oldest one if all are)."""
    upstream = sorted((tuple(int(x) for x in p.kernel.split(".")), name)
                      for name, p in PROFILES.items() if name.startswith("linux-"))
    best = upstream[0][1]
    for v, name in upstream:
        if v <= version:
            best = name
    return best


def fidelity(capture: Path, profile: str | None = None) -> dict[str, Any]:
    """Walk every dump interval of one capture; return the summary row."""
    summary_path = capture / "summary.json"
    if summary_path.exists():          # optional (captures without dumps list use before/after)
        try:
            json.loads(summary_path.read_text())
        except OSError as e:
            raise InputError(str(summary_path), 1, "summary", f"cannot read: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise InputError(str(summary_path), e.lineno, "summary", e.msg) from None
    version = kernel_version(capture)
    prof = profile or profile_for(version)
    from pagealloc.profiles import get_profile
    from pagealloc.workload.replay import decide, dump_snapshots, follow, load_intervals
    snaps = dump_snapshots(capture)
    intervals = [iv for iv in load_intervals(capture, get_profile(prof).gfp_table)
                 if iv.next_id is not None and iv.dump_id in snaps]
    events = allocs = match = inconsistent = 0
    ext_model = ext_kernel = 0
    agreements: list[float] = []
    worst_cell = 0.0
    explained: dict[str, int] = {}
    for fr in follow(capture, prof, intervals):
        inconsistent += fr.inconsistencies
        for k, v in fr.explained.items():
            explained[k] = explained.get(k, 0) + v
    for r in decide(capture, prof, intervals):
        st: dict[str, int] = r["stats"]  # type: ignore[assignment]
        events += int(r["events"])  # type: ignore[call-overload]
        allocs += st.get("allocs", 0)
        match += st.get("match", 0)
        ext_model += st.get("extfrag_model", 0)
        ext_kernel += st.get("extfrag_kernel", 0)
        state = r.get("state_at_next_dump")
        if isinstance(state, dict):
            agreements.append(float(state["free_block_agreement"]))
            worst_cell = max(worst_cell, float(state["pagetypeinfo_max_cell_error"]))
    ext = 1.0 if not max(ext_model, ext_kernel) else min(ext_model, ext_kernel) / max(ext_model, ext_kernel)
    return {
        "dir": str(capture),
        "kernel": f"{version[0]}.{version[1]}",
        "profile": prof,
        "events": events,
        "follow_inconsistencies": inconsistent,
        "decide_pfn_match": round(match / allocs, 4) if allocs else 1.0,
        "dump_state_agreement": round(sum(agreements) / len(agreements), 4) if agreements else None,
        "pagetypeinfo_max_cell_error": round(worst_cell, 4),
        "extfrag_agreement": round(ext, 4),
        "allocs": allocs,
        "dumps": len(snaps),
        "follow_explained": explained,
    }


COLUMNS = ("dir", "profile", "events", "follow_inconsistencies", "decide_pfn_match",
           "dump_state_agreement", "pagetypeinfo_max_cell_error", "extfrag_agreement")


def render_table(rows: list[dict[str, Any]]) -> str:
    """One line per directory, fixed columns."""
    head = ("capture", "profile", "events", "follow_inc", "decide_match", "dump_agree",
            "pti_max_err", "extfrag_agree")
    lines = ["  ".join(f"{h:>14}" if i else f"{h:<32}" for i, h in enumerate(head))]
    for r in rows:
        cells = []
        for i, k in enumerate(COLUMNS):
            v = r[k]
            text = "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))
            cells.append(f"{text:<32}" if i == 0 else f"{text:>14}")
        lines.append("  ".join(cells))
    return "\n".join(lines) + "\n"
