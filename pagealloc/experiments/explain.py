"""``pagealloc explain``: step through one allocation and name the kernel functions it ran.

Models nothing new: it watches the model's own ``mm/page_alloc.c`` functions
(:class:`pagealloc.mm.page_alloc.PageAllocator`) during one request, the way the ftrace
function-graph tracer watches the kernel.  For the one request, probes are installed as
*instance* attributes of that machine's allocator (the class and every other machine are
untouched, so the hot path costs nothing when nobody explains); each probe reads the
pre-call state with the allocator's pure helpers (``zone_page_state_free()``,
``prep_move_freepages_block(count=True)``, the free-list heads), calls the real function and
records its result.  The tracepoints of the same request (a :class:`TraceRecorder` attached
with ``Machine.attach``: ``mm_page_alloc_zone_locked``, ``mm_page_alloc_extfrag``,
``flip_direct_map``, ``mm_vmscan_wakeup_kswapd``, compaction and migration events) and the
difference of ``alloc.stats`` and ``vm_events()`` before and after supply the rest.

What is not exact is marked ``(inferred)``: the kswapd work after the request (taken
from the counters, the model runs kswapd when the request returns) and the compaction
summary (from the compaction tracepoints, not from a probe inside ``compact_zone()``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from pagealloc.machine import Machine
from pagealloc.mm import gfp as G
from pagealloc.mm.freetype import MIGRATETYPE_NAMES, freetype_idx
from pagealloc.mm.mmzone import NIL, NR_PAGE_ORDERS, PAGEBLOCK_ORDER, Zone
from pagealloc.mm.page_alloc import (FALLBACK_EMPTY, FALLBACK_NOCLAIM,
                                     PageAllocator, pcp_allowed_order)
from pagealloc.mm.tracepoints import TraceRecorder

#: try_to_claim_block(): claim when free + alike pages reach half a pageblock
CLAIM_THRESHOLD = 1 << (PAGEBLOCK_ORDER - 1)
_WMARK_NAMES = ("min", "low", "high", "promo")


def freetype_name(ft: int) -> str:
    """A freetype as ``Unmovable`` or ``Unmovable|UNMAPPED`` (series freetype flag bit 3)."""
    name = MIGRATETYPE_NAMES[ft & 7] if (ft & 7) < len(MIGRATETYPE_NAMES) else str(ft & 7)
    return name + ("|UNMAPPED" if ft >> 3 else "")


@dataclass
class Step:
    """One line of the explanation: a kernel function and what it did."""

    function: str
    text: str
    depth: int = 0
    inferred: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"function": self.function, "text": self.text, "depth": self.depth,
                "inferred": self.inferred, "data": self.data}


@dataclass
class Explanation:
    """The path of one request and its result (``pfn`` None on failure)."""

    gfp: str
    order: int
    cpu: int
    profile: str
    unmapped: bool
    steps: list[Step]
    pfn: int | None
    migratetype: str
    zone: str | None

    def result_line(self) -> str:
        if self.pfn is None:
            return "=> failed"
        return (f"=> pfn 0x{self.pfn:x} (order {self.order}, migratetype {self.migratetype}, "
                f"zone {self.zone})")

    def render(self) -> str:
        head = (f"explain: alloc_pages({self.gfp}, order={self.order}) on CPU {self.cpu}, "
                f"profile {self.profile}" + (", ALLOC_UNMAPPED" if self.unmapped else ""))
        lines = [head]
        for i, s in enumerate(self.steps, 1):
            mark = " (inferred)" if s.inferred else ""
            lines.append(f"{i:3d}. {'  ' * s.depth}{s.function}(): {s.text}{mark}")
        lines.append(self.result_line())
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {"gfp": self.gfp, "order": self.order, "cpu": self.cpu, "profile": self.profile,
                "unmapped": self.unmapped, "steps": [s.as_dict() for s in self.steps],
                "result": None if self.pfn is None else {
                    "pfn": self.pfn, "order": self.order, "migratetype": self.migratetype,
                    "zone": self.zone},
                "result_line": self.result_line()}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"


class _Probes:
    """Function-graph probes on one allocator instance, removed by :meth:`remove`."""

    def __init__(self, m: Machine, rec: TraceRecorder) -> None:
        self.m = m
        self.a = m.alloc
        self.rec = rec
        self.steps: list[Step] = []
        self.depth = 0
        self.active = True
        self.quiet = 0                 # >0: inside compaction/reclaim, low-level probes muted
        self.bulk: dict[str, int] | None = None   # rmqueue_bulk(): per-source page counts
        self.gpff_flags = -1
        self.seen: set[str] = set()
        self.in_flip = 0
        self.installed: list[str] = []

    # -------------------------------------------------------------- plumbing
    def add(self, function: str, text: str, inferred: bool = False, **data: Any) -> None:
        self.steps.append(Step(function, text, self.depth, inferred, data))

    def install(self) -> None:
        for name in ("get_page_from_freelist", "zone_watermark_fast", "rmqueue_pcplist",
                     "rmqueue_bulk", "rmqueue_buddy", "rmqueue_smallest", "rmqueue_claim",
                     "try_to_claim_block", "rmqueue_steal", "rmqueue_direct_map",
                     "alloc_pages_slowpath", "wakeup_kswapd", "alloc_pages_direct_reclaim",
                     "alloc_pages_direct_compact", "unreserve_highatomic_pageblock",
                     "alloc_pages_may_oom", "warn_alloc", "alloc_pages"):
            orig = getattr(PageAllocator, name)
            probe = getattr(self, "p_" + name)
            setattr(self.a, name, self._wrap(orig, probe))
            self.installed.append(name)

    def remove(self) -> None:
        for name in self.installed:
            delattr(self.a, name)       # the class methods show through again
        self.installed = []

    def _wrap(self, orig: Callable[..., Any], probe: Callable[..., Any]) -> Callable[..., Any]:
        a = self.a

        def call(*args: Any) -> Any:
            if not self.active:
                return orig(a, *args)
            return probe(lambda *xs: orig(a, *xs), *args)
        return call

    def nested(self, run: Callable[[], Any]) -> Any:
        self.depth += 1
        try:
            return run()
        finally:
            self.depth -= 1

    def events_since(self, n: int) -> list[tuple[str, int, tuple[int, ...]]]:
        return self.rec.events[n:]

    # -------------------------------------------------------------- probes
    def p_alloc_pages(self, orig: Callable[..., int], gfp: int, order: int, cpu: int = 0,
                      unmapped: bool = False) -> int:
        page = orig(gfp, order, cpu, unmapped)
        self.active = False             # what Machine runs afterwards (kswapd) is summarised
        return page

    def p_get_page_from_freelist(self, orig: Callable[..., int], gfp: int, order: int,
                                 alloc_flags: int, ac: Any) -> int:
        zl = ", ".join(z.name for z in ac.zonelist[ac.preferred:] if z.idx <= ac.highest_zoneidx)
        nested = "a page-table page for the direct-map split (nested allocation): " \
            if self.in_flip else ""
        self.add("get_page_from_freelist",
                 f"{nested}walk zonelist [{zl}] with {G.show_alloc_flags(alloc_flags)}",
                 alloc_flags=G.show_alloc_flags(alloc_flags), zonelist=zl)
        saved = self.gpff_flags
        self.gpff_flags = alloc_flags
        try:
            page: int = self.nested(lambda: orig(gfp, order, alloc_flags, ac))
        finally:
            self.gpff_flags = saved
        if page == NIL:
            self.nested(lambda: self.add("get_page_from_freelist", "no zone could serve it"))
        return page

    def p_zone_watermark_fast(self, orig: Callable[..., bool], z: Zone, order: int, mark: int,
                              hz: int, alloc_flags: int, gfp: int = 0) -> bool:
        if self.quiet:
            return orig(z, order, mark, hz, alloc_flags, gfp)
        if self.gpff_flags >= 0 and alloc_flags != self.gpff_flags:
            self.add("get_page_from_freelist",
                     f"no zone passed: retry the zonelist with {G.show_alloc_flags(alloc_flags)}"
                     + (" (ALLOC_NOFRAGMENT dropped)"
                        if self.gpff_flags & G.ALLOC_NOFRAGMENT
                        and not alloc_flags & G.ALLOC_NOFRAGMENT else ""))
            self.gpff_flags = alloc_flags
        a = self.a
        free = a.zone_page_state_free(z)
        unusable = a._zone_watermark_unusable_free(z, order, alloc_flags)
        boost = z.watermark_boost
        label = "?"
        if mark == z.high_wmark_pages() and not z.below_high and a.pcp_auto:
            label = "high: ZONE_BELOW_HIGH clear"
        else:
            for w, name in enumerate(_WMARK_NAMES[:3]):
                if mark == z._watermark[w] + boost:
                    label = name + (f"+boost {boost}" if boost else "")
                    break
        reserve = z.lowmem_reserve[hz]
        ok = orig(z, order, mark, hz, alloc_flags, gfp)
        self.add("zone_watermark_fast",
                 f"zone {z.name}: free {free} (unusable {unusable}) vs mark {mark} ({label}) "
                 f"+ lowmem_reserve[{G.ZONE_NAMES[hz]}] {reserve}, boost {boost}, order {order}"
                 f" -> {'ok' if ok else 'FAIL'}",
                 zone=z.name, free=free, unusable=unusable, mark=mark, mark_name=label,
                 lowmem_reserve=reserve, boost=boost, ok=ok)
        return ok

    def p_rmqueue_pcplist(self, orig: Callable[..., int], preferred: Zone, zone: Zone,
                          order: int, mt: int, alloc_flags: int) -> int:
        a = self.a
        pcp = zone.pcp[a.cpu]
        pindex = a.pindex_table[(order << 4) | mt]
        lid = pcp.list_base + pindex
        head = a.mem.lhead[lid]
        count = pcp.count
        n0 = len(self.steps)
        page: int = self.nested(lambda: orig(preferred, zone, order, mt, alloc_flags))
        fn = "rmqueue_pcplist"
        where = f"zone {zone.name} CPU {a.cpu} pcp list pindex {pindex} ({freetype_name(mt)}, order {order})"
        if head != NIL:
            text = f"pcp hit: {where} held pages (pcp count {count}); popped the head 0x{page:x}"
        elif page != NIL:
            text = f"pcp miss: {where} was empty; refilled, then popped the head 0x{page:x}"
        else:
            text = f"pcp miss: {where} was empty and the refill got nothing"
        self.steps.insert(n0, Step(fn, text, self.depth, False,
                                   {"zone": zone.name, "pindex": pindex, "hit": head != NIL,
                                    "pcp_count": count, "pfn": None if page == NIL else page}))
        return page

    def p_rmqueue_bulk(self, orig: Callable[..., int], zone: Zone, order: int, count: int,
                       lid: int, mt: int, alloc_flags: int) -> int:
        saved = self.bulk
        self.bulk = {}
        n0 = len(self.steps)
        ev0 = len(self.rec.events)
        try:
            got: int = self.nested(lambda: orig(zone, order, count, lid, mt, alloc_flags))
            sources = self.bulk
        finally:
            self.bulk = saved
        refill = sum(1 for e in self.events_since(ev0)
                     if e[0] == "mm_page_alloc_zone_locked" and e[2][3] == 1)
        how = ", ".join(f"{n} from {src}" for src, n in sources.items()) or "nothing"
        self.steps.insert(n0, Step(
            "rmqueue_bulk", f"refill: asked for {count} order-{order} {freetype_name(mt)} "
            f"blocks under one zone lock, got {got} ({got << order} pages: {how}; "
            f"{refill} mm_page_alloc_zone_locked percpu_refill=1 events)", self.depth, False,
            {"zone": zone.name, "asked": count, "got": got, "pages": got << order,
             "sources": dict(sources), "percpu_refill_events": refill}))
        return got

    def p_rmqueue_buddy(self, orig: Callable[..., int], preferred: Zone, zone: Zone,
                        order: int, alloc_flags: int, mt: int) -> int:
        self.add("rmqueue_buddy", f"zone {zone.name}: take an order-{order} block from the buddy "
                 f"free lists under the zone lock", zone=zone.name)
        page: int = self.nested(lambda: orig(preferred, zone, order, alloc_flags, mt))
        return page

    def _note_bulk(self, src: str, got: bool) -> bool:
        """Inside rmqueue_bulk(): count a page by its source; True when this is the first
        result of its kind there (or outside a refill), so worth a step of its own."""
        if self.bulk is None:
            return True
        key = src if got else "#" + src
        first = key not in self.seen
        self.seen.add(key)
        if got:
            self.bulk[src] = self.bulk.get(src, 0) + 1
        return first

    def p_rmqueue_smallest(self, orig: Callable[..., int], zone: Zone, order: int,
                           ft: int) -> int:
        if self.quiet:
            return orig(zone, order, ft)
        a = self.a
        idx = freetype_idx(ft)
        found = -1
        if idx >= 0:
            for o in range(order, NR_PAGE_ORDERS):
                if a.mem.lhead[zone.buddy_list(o, idx)] != NIL:
                    found = o
                    break
        page = orig(zone, order, ft)
        src = f"__rmqueue_smallest({freetype_name(ft)})"
        if not self._note_bulk(src, page != NIL):
            return page
        if idx < 0:
            text = f"freetype {freetype_name(ft)} has no free list: nothing"
        elif page == NIL:
            text = (f"zone {zone.name}: free_area[{order}..{NR_PAGE_ORDERS - 1}]"
                    f".free_list[{freetype_name(ft)}] all empty")
        else:
            split = f", expand() split it down to order {order}" if found > order else ""
            text = (f"zone {zone.name}: order-{found} block 0x{page:x} from "
                    f"free_area[{found}].free_list[{freetype_name(ft)}]{split}"
                    + (" (the refill's first)" if self.bulk is not None else ""))
        self.add("__rmqueue_smallest", text, zone=zone.name, order=order,
                 freetype=freetype_name(ft), found_order=found,
                 pfn=None if page == NIL else page)
        return page

    def p_rmqueue_claim(self, orig: Callable[..., int], zone: Zone, order: int, start_mt: int,
                        alloc_flags: int) -> int:
        if self.quiet:
            return orig(zone, order, start_mt, alloc_flags)
        n0 = len(self.steps)
        ev0 = len(self.rec.events)
        min_order = PAGEBLOCK_ORDER if order < PAGEBLOCK_ORDER and \
            alloc_flags & G.ALLOC_NOFRAGMENT else order
        a = self.a
        # find_suitable_fallback() is pure: evaluate it on the pre-call state, as the loop will
        plan = []
        for o in range(NR_PAGE_ORDERS - 1, min_order - 1, -1):
            fb = PageAllocator.find_suitable_fallback(a, zone, o, start_mt, True)
            if fb == FALLBACK_NOCLAIM:
                plan.append(f"should_try_claim_block(order {order}, {freetype_name(start_mt)}) "
                            f"is false: no claim")
                break
            if fb != FALLBACK_EMPTY:
                plan.append(f"order {o}: {freetype_name(fb)}")
        self.depth += 1
        self.add("find_suitable_fallback", "candidates largest first: " +
                 ("; ".join(plan) if plan else f"none at orders {NR_PAGE_ORDERS - 1}..{min_order}"))
        self.depth -= 1
        bulk, self.bulk = self.bulk, None       # the claimed page is this claim's, not smallest's
        try:
            page: int = self.nested(lambda: orig(zone, order, start_mt, alloc_flags))
        finally:
            self.bulk = bulk
        if page != NIL:
            ext = [e for e in self.events_since(ev0) if e[0] == "mm_page_alloc_extfrag"]
            if bulk is not None:
                bulk["__rmqueue_claim"] = bulk.get("__rmqueue_claim", 0) + 1
            text = f"claimed a {freetype_name(start_mt)} block for order {order}: 0x{page:x}"
            if ext:
                text += f" (mm_page_alloc_extfrag fallback_order={ext[-1][2][2]})"
        else:
            text = f"no block claimed (min_order {min_order})"
        self.steps.insert(n0, Step("__rmqueue_claim", text, self.depth, False,
                                   {"zone": zone.name, "pfn": None if page == NIL else page}))
        return page

    def p_try_to_claim_block(self, orig: Callable[..., int], zone: Zone, pfn: int,
                             current_order: int, order: int, start_type: int, block_type: int,
                             alloc_flags: int) -> int:
        a = self.a
        if current_order >= PAGEBLOCK_ORDER:
            page = orig(zone, pfn, current_order, order, start_type, block_type, alloc_flags)
            self.add("try_to_claim_block",
                     f"order-{current_order} {freetype_name(block_type)} block 0x{pfn:x} covers "
                     f"whole pageblocks: claimed them all for {freetype_name(start_type)} "
                     f"(change_pageblock_range)", claimed=True, whole=True, pfn=pfn)
            return page
        ok, start, free, movable = a.prep_move_freepages_block(zone, pfn, True)
        if (start_type & 7) == 1:
            alike = movable
            how = "movable pages"
        elif (block_type & 7) == 1:
            alike = (1 << PAGEBLOCK_ORDER) - (free + movable)
            how = "pages neither free nor movable"
        else:
            alike = 0
            how = "none counted"
        page = orig(zone, pfn, current_order, order, start_type, block_type, alloc_flags)
        if not ok:
            text = f"pageblock of 0x{pfn:x} straddles the zone: not claimed"
        else:
            verdict = "CLAIMED: pageblock retyped, its free pages moved" if page != NIL else \
                "not claimed (below the threshold): fall back to stealing"
            text = (f"order-{current_order} {freetype_name(block_type)} block 0x{pfn:x} in "
                    f"pageblock 0x{start:x}: free {free} + alike {alike} ({how}) = "
                    f"{free + alike} vs threshold {CLAIM_THRESHOLD} -> {verdict}")
        self.add("try_to_claim_block", text, pfn=pfn, pageblock=start, free=free, alike=alike,
                 threshold=CLAIM_THRESHOLD, claimed=page != NIL)
        return page

    def p_rmqueue_steal(self, orig: Callable[..., int], zone: Zone, order: int,
                        start_mt: int) -> int:
        if self.quiet:
            return orig(zone, order, start_mt)
        ev0 = len(self.rec.events)
        page: int = orig(zone, order, start_mt)
        if not self._note_bulk("__rmqueue_steal", page != NIL):
            return page
        ext = [e for e in self.events_since(ev0) if e[0] == "mm_page_alloc_extfrag"]
        if page == NIL:
            text = f"no fallback block of any order >= {order}"
        elif ext:
            _, alloc_order, fb_order, _, fb_mt, _ = ext[-1][2]
            text = (f"stole order-{fb_order} {MIGRATETYPE_NAMES[fb_mt]} block 0x{page:x} "
                    f"(find_suitable_fallback, smallest first); its pageblock keeps type "
                    f"{MIGRATETYPE_NAMES[fb_mt]} (mm_page_alloc_extfrag change_ownership=0)")
        else:
            text = f"stole block 0x{page:x}"
        self.add("__rmqueue_steal", text, pfn=None if page == NIL else page)
        return page

    def p_rmqueue_direct_map(self, orig: Callable[..., int], zone: Zone, request_order: int,
                             alloc_flags: int, ft: int) -> int:
        stats = self.a.stats
        before = dict(stats)
        ev0 = len(self.rec.events)
        other = ft ^ (1 << 3)
        self.add("__rmqueue_direct_map", f"zone {zone.name}: no {freetype_name(ft)} block: try to "
                 f"flip a whole free {freetype_name(other)} block (the series)")
        saved, self.bulk = self.bulk, None
        self.in_flip += 1
        try:
            page: int = self.nested(lambda: orig(zone, request_order, alloc_flags, ft))
        finally:
            self.bulk = saved
            self.in_flip -= 1
        d = {k: v - before.get(k, 0) for k, v in stats.items() if v != before.get(k, 0)}
        flips = [e for e in self.events_since(ev0) if e[0] == "flip_direct_map"]
        if flips:
            p, o, to_unmapped = flips[-1][2]
            text = (f"FLIPPED 0x{p:x}..0x{p + (1 << o) - 1:x} (order {o}) to "
                    f"{'unmapped' if to_unmapped else 'mapped'}: set_direct_map_valid_noflush"
                    + (", flush_tlb_kernel_range" if to_unmapped else "")
                    + ", pageblock freetype flags set")
        elif d.get("flip_noblock_refused"):
            text = "refused: ALLOC_NOBLOCK (the caller cannot block)"
        elif d.get("flip_no_block"):
            text = f"no whole free {freetype_name(other)} block: no flip"
        elif d.get("flip_cpa_error"):
            text = "set_direct_map_valid_noflush() failed: error path"
        else:
            text = "no flip"
        self.nested(lambda: self.add("__rmqueue_direct_map", text, flipped=bool(flips),
                                     stats=d))
        return page

    def p_alloc_pages_slowpath(self, orig: Callable[..., int], gfp: int, order: int,
                               ac: Any) -> int:
        self.add("__alloc_pages_slowpath", "the fast path failed: slow path")
        page: int = self.nested(lambda: orig(gfp, order, ac))
        return page

    def p_wakeup_kswapd(self, orig: Callable[..., None], zone: Zone, gfp: int, order: int,
                        hz: int) -> None:
        why = " (rmqueue(): ZONE_BOOSTED_WATERMARK, a fallback boosted the watermark)" \
            if gfp == 0 else ""
        self.add("wakeup_kswapd", f"zone {zone.name} order {order} highest_zoneidx "
                 f"{G.ZONE_NAMES[hz]}: kswapd woken{why}")
        orig(zone, gfp, order, hz)

    def p_alloc_pages_direct_reclaim(self, orig: Callable[..., tuple[int, int]], gfp: int,
                                     order: int, alloc_flags: int, ac: Any) -> tuple[int, int]:
        n0 = len(self.steps)
        self.quiet += 1
        try:
            page, progress = self.nested(lambda: orig(gfp, order, alloc_flags, ac))
        finally:
            self.quiet -= 1
        self.steps.insert(n0, Step("__alloc_pages_direct_reclaim",
                                   f"try_to_free_pages(): reclaimed {progress} pages"
                                   + ("" if page == NIL else f"; then got 0x{page:x}"),
                                   self.depth, False, {"reclaimed": progress}))
        return page, progress

    def p_alloc_pages_direct_compact(self, orig: Callable[..., tuple[int, int]], gfp: int,
                                     order: int, alloc_flags: int, ac: Any,
                                     prio: int) -> tuple[int, int]:
        from pagealloc.mm.compaction import COMPACT_RESULT_NAMES
        n0 = len(self.steps)
        ev0 = len(self.rec.events)
        captured0 = self.a.stats["compaction_captured"]
        self.quiet += 1
        try:
            page, result = self.nested(lambda: orig(gfp, order, alloc_flags, ac, prio))
        finally:
            self.quiet -= 1
        evs = self.events_since(ev0)
        migrated = sum(e[2][1] for e in evs if e[0] == "mm_compaction_migratepages")
        ends = [e for e in evs if e[0] == "mm_compaction_end"]
        captured = self.a.stats["compaction_captured"] > captured0
        text = (f"try_to_compact_pages(priority {prio}): result "
                f"{COMPACT_RESULT_NAMES.get(result, str(result))}, {migrated} pages migrated, "
                f"{len(ends)} compact_zone() run(s)")
        if page != NIL:
            text += f"; {'captured' if captured else 'then got'} 0x{page:x}"
        self.steps.insert(n0, Step("__alloc_pages_direct_compact", text, self.depth, False,
                                   {"result": COMPACT_RESULT_NAMES.get(result, str(result)),
                                    "migrated": migrated, "captured": captured}))
        return page, result

    def p_unreserve_highatomic_pageblock(self, orig: Callable[..., bool], ac: Any,
                                         force: bool) -> bool:
        ok: bool = orig(ac, force)
        if ok:
            self.add("unreserve_highatomic_pageblock", "gave a highatomic pageblock back")
        return ok

    def p_alloc_pages_may_oom(self, orig: Callable[..., tuple[int, int]], gfp: int, order: int,
                              ac: Any) -> tuple[int, int]:
        oom0 = self.a.stats["oom"]
        self.add("__alloc_pages_may_oom", "last try at the high watermark, then the OOM killer")
        page, progress = self.nested(lambda: orig(gfp, order, ac))
        if self.a.stats["oom"] > oom0:
            self.nested(lambda: self.add("out_of_memory", "no killable process: no progress"))
        return page, progress

    def p_warn_alloc(self, orig: Callable[..., None], gfp: int, order: int) -> None:
        self.add("warn_alloc", "page allocation failure")
        orig(gfp, order)


def explain_alloc(m: Machine, gfp: int | str, order: int = 0, cpu: int = 0,
                  unmapped: bool = False) -> Explanation:
    """Allocate once on ``m`` (the machine is changed, as by ``Machine.alloc_pages``) and
    return the path taken."""
    g = m.parse_gfp(gfp)
    gfp_text = gfp if isinstance(gfp, str) else G.show_gfp_flags(g, m.profile.gfp_table)
    a = m.alloc
    key = g | (1 << 40) if unmapped else g
    if not 0 <= cpu < m.ncpus:
        raise ValueError(f"cpu {cpu} out of range 0..{m.ncpus - 1}")
    if not 0 <= order < NR_PAGE_ORDERS:
        raise ValueError(f"order {order} out of range 0..{NR_PAGE_ORDERS - 1}")
    if unmapped and m.profile.unmapped != "v4":
        raise ValueError(f"--unmapped is ALLOC_UNMAPPED of profile unmapped-v4, not of "
                         f"profile {m.profile.name}")
    hz, ft, preferred, alloc_flags, ac, _ = a.prepare_alloc(key)
    steps: list[Step] = []
    zl = ", ".join(z.name for z in a.zonelist[max(preferred, 0):] if z.idx <= hz)
    steps.append(Step("prepare_alloc_pages",
                      f"gfp_zone -> highest_zoneidx {G.ZONE_NAMES[hz]}, gfp_migratetype -> "
                      f"{freetype_name(ft)}, zonelist [{zl}], alloc_flags "
                      f"{G.show_alloc_flags(alloc_flags)}"
                      + (", pcp-able order" if pcp_allowed_order(order) else ""),
                      0, False, {"highest_zoneidx": G.ZONE_NAMES[hz], "freetype": freetype_name(ft),
                                 "zonelist": zl,
                                 "alloc_flags": G.show_alloc_flags(alloc_flags)}))
    rec = TraceRecorder()
    stats0 = dict(a.stats)
    ev0 = dict(m.vm_events())
    probes = _Probes(m, rec)
    m.attach(rec)
    probes.install()
    try:
        pfn = m.alloc_pages(g, order, cpu, unmapped=unmapped)
    finally:
        probes.remove()
        m.detach(rec)
    steps.extend(probes.steps)
    ev1 = m.vm_events()
    dev = {k: v - ev0.get(k, 0) for k, v in ev1.items() if v != ev0.get(k, 0)}
    # what Machine ran after the request returned (kswapd, kcompactd): from the counters
    after = [e for e in rec.events if e[0] in ("mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep",
                                               "mm_compaction_kcompactd_wake")]
    steal_k = sum(v for k, v in dev.items() if k.startswith("pgsteal_kswapd"))
    if after or steal_k:
        names = sorted({e[0] for e in after})
        steps.append(Step("kswapd", f"after the request: kswapd ran, pgsteal_kswapd {steal_k}"
                          + (f" ({', '.join(names)})" if names else ""), 0, True,
                          {"pgsteal_kswapd": steal_k}))
    mt_name = freetype_name(ft)
    zone_name: str | None = None
    if pfn is not None:
        zone_name = a.zone_of(pfn).name
        pb = m.pageblock_migratetype(pfn)
        if pb & 7 != ft & 7:
            steps.append(Step("get_pfnblock_migratetype", f"the page's pageblock is "
                              f"{MIGRATETYPE_NAMES[pb & 7]} (a fallback page)", 0, False,
                              {"pageblock_migratetype": MIGRATETYPE_NAMES[pb & 7]}))
    d = {k: v - stats0.get(k, 0) for k, v in a.stats.items() if v != stats0.get(k, 0)}
    for s in steps:
        if s.function == "prepare_alloc_pages":
            s.data["stats_delta"] = d
            s.data["vm_events_delta"] = dev
    return Explanation(gfp_text, order, cpu, m.profile.name, unmapped, steps, pfn, mt_name,
                       zone_name)


def machine_after_scenario(name: str, events: int, profile: Any = None,
                           overrides: dict[str, Any] | None = None) -> Machine:
    """The machine of a scenario (built-in name or file) after its first ``events`` events."""
    from pagealloc.workload.scenario import build_machine, load_scenario, run_scenario
    scn = load_scenario(name)
    m = build_machine(scn, profile, overrides)
    run_scenario(scn, m, max_events=events)
    return m
