"""The mermap: per-mm, per-CPU windows of short-lived kernel mappings.

Models ``mm/mermap.c``, ``include/linux/mermap.h``, ``include/linux/mermap_types.h`` and
``arch/x86/include/asm/mermap.h`` of Brendan Jackman's ``__GFP_UNMAPPED`` series
(shared/spec/series.md 2.11), plus the one caller the allocator has,
``clear_page_mermap()`` in the series' ``mm/page_alloc.c``.  The series is not upstream;
the code read for this model is:

* ``linux-mm/linux-mm:mm/mermap.c@b7f5c72fae77349a14a08c7f6c7b47d6ebe8553a`` (the default
  variant, :data:`MERMAP_LINUX_MM`), with ``include/linux/mermap_types.h``,
  ``arch/x86/include/asm/mermap.h`` and ``arch/x86/include/asm/pgtable_64_types.h`` at the
  same commit;
* ``bjackman/linux:mm/mermap.c@072bc4b4f0dd9b57fbbd2221cd0f0b372fa5e80a`` (an earlier
  snapshot, :data:`MERMAP_BJACKMAN_072BC4B`);
* ``intel-lab-lkp/linux:mm/mermap.c@1e956f944b24234ed31dc280fb14f2bc677f9a18`` (a later
  posting with a dedicated reserve slot, :data:`MERMAP_INTEL_LKP_1E956F9`);
* the KUnit suite ``mm/tests/mermap_kunit.c`` (``linux-mm/linux-mm@d7720e0f``,
  ``bjackman/linux@4de1a02c``, ``intel-lab-lkp/linux@f620d5b8``).

What the model keeps
--------------------
Addresses are page indices ("vpn") counted from ``MERMAP_BASE_ADDR``; CPU ``c`` owns
``[c * region_pages, (c + 1) * region_pages)``.  The mm's page table is one dict
``vpn -> pfn`` of live PTEs (the sentinel PTE of ``set_unmapped_pte()`` is "absent").
Each CPU has a TLB model: the entries it *may* hold for this mm's mermap.  The model is
conservative: a mapping is assumed cached from the moment it is written until the next full
local flush of that CPU, so an entry survives ``mermap_put()`` (which never flushes).  That
set is exactly the comment diagram's "T" (TLB-flush-pending) space, and it is what the
security checks ask about: :meth:`Mermap.translations`, :meth:`Mermap.stale_translations`,
:meth:`Mermap.has_stale`.

Strictness
----------
``strict=True`` (the default) turns misuse into exceptions: what the kernel answers with a
WARN (``!mm->mermap.cpu``, a global pgprot, ``!in_task()``, putting a free slot), a
lockdep splat (reserved get with preemption on) or a plain NULL for an oversized request.
``strict=False`` reproduces the kernel: NULL (``None``) and a count in ``stats``.  A
failing :meth:`Mermap.get_reserved` always raises :class:`MermapReservedUnavailable`: its
callers do not check for NULL (``clear_page_mermap()`` dereferences it), so the kernel
would oops there.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Iterator

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PMD_SHIFT = 21

#: ``MERMAP_CPU_REGION_SIZE`` is ``PMD_SIZE`` (2 MiB) in
#: ``arch/x86/include/asm/pgtable_64_types.h`` (linux-mm/linux-mm@b7f5c72f,
#: intel-lab-lkp/linux@1e956f94): 512 pages per CPU.  The first mermap (bjackman/linux
#: ``mm/mermap.c`` with ``mermap_put(vaddr, size)``) used ``PAGE_SIZE << MAX_PAGECACHE_ORDER``.
MERMAP_CPU_REGION_PAGES = 1 << (PMD_SHIFT - PAGE_SHIFT)

#: ``MERMAP_BASE_ADDR`` = ``LDT_END_ADDR`` = ``MM_LOCAL_BASE_ADDR + PMD_SIZE``, with
#: ``MM_LOCAL_PGD_ENTRY = -240`` and 4-level paging (``PGDIR_SHIFT = 39``); only used to
#: print addresses (pgtable_64_types.h @b7f5c72f).
MM_LOCAL_BASE_ADDR = (-240 << 39) & ((1 << 64) - 1)
MERMAP_BASE_ADDR = MM_LOCAL_BASE_ADDR + (1 << PMD_SHIFT)

#: ``room`` when an ``unsigned long`` subtraction in ``mermap_alloc()`` goes below zero:
#: the kernel sees a huge number of bytes, so every size "fits".
_ULONG_WRAPPED_PAGES = 1 << (64 - PAGE_SHIFT)

#: Page protections the model knows, and whether each carries ``_PAGE_GLOBAL`` before
#: ``__default_kernel_pte_mask`` is applied (arch/x86/include/asm/pgtable_types.h
#: @linux-mm c0bdf236; the series adds ``__PAGE_KERNEL_NOGLOBAL``).
PGPROT_HAS_GLOBAL: dict[str, bool] = {
    "PAGE_KERNEL": True,
    "PAGE_KERNEL_RO": True,
    "PAGE_KERNEL_EXEC": True,
    "PAGE_KERNEL_NOCACHE": True,
    "PAGE_KERNEL_NOGLOBAL": False,
}


# --- errors -------------------------------------------------------------------------------
class MermapError(Exception):
    """Base of the mermap model's errors."""


class MermapSizeError(MermapError, ValueError):
    """``size > MERMAP_CPU_REGION_SIZE`` (``__mermap_get()`` returns NULL, no WARN)."""


class MermapNotPreparedError(MermapError):
    """``mermap_get()`` before ``mermap_mm_prepare()`` (``WARN_ON_ONCE(!mm->mermap.cpu)``)."""


class MermapProtError(MermapError, ValueError):
    """A pgprot ``arch_mermap_pgprot_allowed()`` refuses (global mapping on x86)."""


class MermapContextError(MermapError):
    """Wrong context: not ``in_task()``, or a reserved get with preemption enabled."""


class MermapDoublePutError(MermapError):
    """``mermap_put()`` of an allocation that is not (or no longer) in use."""


class MermapWrongCPUError(MermapError):
    """``mermap_put()`` from a CPU other than the one that got the allocation.

    The kernel cannot see this (migration stays disabled until the put); the model can.
    """


class MermapReservedUnavailable(MermapError):
    """``mermap_get_reserved()`` returned NULL, which its callers never expect."""


class MermapInvariantError(MermapError):
    """The window broke its own rules: overlapping live mappings, a remap while a stale
    TLB entry may exist (no flush in between), or an allocation past the CPU's window."""


# --- variants -----------------------------------------------------------------------------
@dataclass(frozen=True)
class MermapVariant:
    """One stored version of ``mm/mermap.c``; each field is a rule that differs between them."""

    name: str
    source: str
    #: ``struct mermap_cpu`` has ``normal_allocs[]`` plus a ``reserve_alloc`` only
    #: ``mermap_get_reserved()`` uses (else one ``allocs[]`` array shared by both paths).
    reserve_slot: bool
    #: ``ARRAY_SIZE(allocs)`` or ``ARRAY_SIZE(normal_allocs)``.
    nr_allocs: int
    #: ``__mermap_get()`` refuses prots failing ``arch_mermap_pgprot_allowed()``.
    check_pgprot: bool
    #: the "out of space" test is ``size > cpu_end - mc->next_addr`` (unsigned: wraps when
    #: ``next_addr > cpu_end``) instead of ``mc->next_addr + size > cpu_end``.
    unsigned_space_check: bool


MERMAP_LINUX_MM = MermapVariant(
    name="linux-mm-b7f5c72",
    source="linux-mm/linux-mm:mm/mermap.c@b7f5c72fae77349a14a08c7f6c7b47d6ebe8553a",
    reserve_slot=False, nr_allocs=4, check_pgprot=True, unsigned_space_check=False)
MERMAP_BJACKMAN_072BC4B = MermapVariant(
    name="bjackman-072bc4b",
    source="bjackman/linux:mm/mermap.c@072bc4b4f0dd9b57fbbd2221cd0f0b372fa5e80a",
    reserve_slot=False, nr_allocs=4, check_pgprot=False, unsigned_space_check=True)
MERMAP_INTEL_LKP_1E956F9 = MermapVariant(
    name="intel-lkp-1e956f9",
    source="intel-lab-lkp/linux:mm/mermap.c@1e956f944b24234ed31dc280fb14f2bc677f9a18",
    reserve_slot=True, nr_allocs=3, check_pgprot=True, unsigned_space_check=False)

MERMAP_VARIANTS: dict[str, MermapVariant] = {
    v.name: v for v in (MERMAP_LINUX_MM, MERMAP_BJACKMAN_072BC4B, MERMAP_INTEL_LKP_1E956F9)}


# --- state --------------------------------------------------------------------------------
@dataclass
class _Slot:
    """``struct mermap_alloc`` (``need_flush`` exists in the struct but no code reads it)."""

    in_use: bool = False
    base: int = 0
    end: int = 0        # non-inclusive
    pfn: int = 0
    generation: int = 0
    reserved: bool = False
    prot: str = ""


@dataclass(frozen=True)
class MermapAlloc:
    """What ``mermap_get()`` returns: a pointer to one ``struct mermap_alloc`` slot.

    ``generation`` lets the model tell a stale handle (slot since reused) from a live one;
    the kernel's pointer cannot.
    """

    cpu: int
    slot: int
    generation: int
    base: int           # vpn: pages from MERMAP_BASE_ADDR
    nr_pages: int
    pfn: int
    reserved: bool
    prot: str

    @property
    def end(self) -> int:
        return self.base + self.nr_pages

    @property
    def addr(self) -> int:
        """``mermap_addr()``: the virtual address on x86-64 with 4-level paging."""
        return MERMAP_BASE_ADDR + self.base * PAGE_SIZE


class _MermapCPU:
    """``struct mermap_cpu`` plus the model's view of that CPU's TLB."""

    __slots__ = ("next_addr", "allocs", "reserve", "tlb_flushes", "tlb", "migrate_disabled")

    def __init__(self, base: int, nr_allocs: int, reserve_slot: bool) -> None:
        self.next_addr = base
        self.allocs = [_Slot() for _ in range(nr_allocs)]
        self.reserve: _Slot | None = _Slot(reserved=True) if reserve_slot else None
        self.tlb_flushes = 0            # CONFIG_MERMAP_KUNIT_TEST's counter
        self.tlb: dict[int, int] = {}   # vpn -> pfn this CPU may still translate
        self.migrate_disabled = 0


_STAT_KEYS = (
    "gets", "get_failures", "fail_oversize", "fail_not_ready", "fail_prot",
    "fail_not_in_task", "fail_no_space", "fail_no_slot", "fail_reserve_busy",
    "reserved_gets", "reserved_failures", "puts", "local_flushes", "external_flushes",
    "pages_mapped", "warnings", "violations",
)


class Mermap:
    """One mm's mermap: ``struct mermap`` and its per-CPU ``struct mermap_cpu``."""

    def __init__(self, ncpus: int, region_pages: int = MERMAP_CPU_REGION_PAGES,
                 nr_allocs: int | None = None,
                 flush_local: Callable[[int], None] | None = None, *,
                 variant: MermapVariant = MERMAP_LINUX_MM, strict: bool = True,
                 kernel_pte_global: bool = True) -> None:
        """``flush_local(cpu)`` is told of each ``arch_mermap_flush_tlb()``.

        ``nr_allocs`` defaults to the variant's array size.  ``kernel_pte_global`` is
        whether ``__default_kernel_pte_mask`` keeps ``_PAGE_GLOBAL`` (False under PTI or
        without PGE), which decides if ``PAGE_KERNEL`` passes the pgprot check.
        """
        if ncpus < 1:
            raise ValueError(f"ncpus must be >= 1, got {ncpus}")
        if region_pages < 2:
            raise ValueError(f"region_pages must be >= 2 (one is reserved), got {region_pages}")
        self.ncpus = ncpus
        self.region_pages = region_pages
        self.variant = variant
        self.nr_allocs = variant.nr_allocs if nr_allocs is None else nr_allocs
        if self.nr_allocs < 1:
            raise ValueError(f"nr_allocs must be >= 1, got {self.nr_allocs}")
        self.flush_local = flush_local
        self.strict = strict
        self.kernel_pte_global = kernel_pte_global
        self.prepared = False
        #: ``MMF_LOCAL_REGION_USED``: page tables of the mm-local region exist.
        self.local_region_used = False
        self._cpus: list[_MermapCPU] = []
        self._ptes: dict[int, int] = {}         # live PTEs of the mm: vpn -> pfn
        self.stats: dict[str, int] = {k: 0 for k in _STAT_KEYS}
        #: (kind, cpu, vpn) of each invariant violation seen with ``strict=False``
        self.violations: list[tuple[str, int, int]] = []

    # --- setup ----------------------------------------------------------------------------
    def mm_prepare(self) -> int:
        """``mermap_mm_prepare()``: allocate the per-CPU state and preallocate every
        possible CPU's page tables, so that ``mermap_get()`` never allocates.  Idempotent."""
        if self.prepared:
            return 0
        self.local_region_used = True
        self._cpus = [_MermapCPU(self.cpu_base(c), self.nr_allocs, self.variant.reserve_slot)
                      for c in range(self.ncpus)]
        self.prepared = True
        return 0

    def mm_teardown(self) -> list[MermapAlloc]:
        """``mermap_mm_teardown()``: free the per-CPU state; return what was still in use.

        The kernel WARNs for in-use slots, but it reads ``this_cpu_ptr()`` inside
        ``for_each_possible_cpu()``, so it only ever inspects the current CPU.
        """
        leaked = [self._handle(c, i, s) for c, mc in enumerate(self._cpus)
                  for i, s in self._slots(mc) if s.in_use]
        self._cpus = []
        self._ptes.clear()
        self.prepared = False
        return leaked

    def ready(self, in_task: bool = True) -> bool:
        """``mermap_ready()``: ``in_task() && current->mm && current->mm->mermap.cpu``."""
        return in_task and self.prepared

    # --- geometry -------------------------------------------------------------------------
    def cpu_base(self, cpu: int) -> int:
        """``mermap_cpu_base()``, as a vpn."""
        return cpu * self.region_pages

    def cpu_end(self, cpu: int) -> int:
        """``mermap_cpu_end()`` (non-inclusive), as a vpn."""
        return (cpu + 1) * self.region_pages

    def next_addr(self, cpu: int) -> int:
        """``mc->next_addr``: the next vpn handed out without a flush."""
        return self._cpu(cpu).next_addr

    def tlb_flushes(self, cpu: int) -> int:
        """``mc->tlb_flushes`` (kept under ``CONFIG_MERMAP_KUNIT_TEST``)."""
        return self._cpu(cpu).tlb_flushes

    def migrate_disabled(self, cpu: int) -> int:
        """Outstanding ``migrate_disable()`` calls made by successful gets on ``cpu``."""
        return self._cpu(cpu).migrate_disabled

    def in_use(self, cpu: int) -> list[MermapAlloc]:
        """The allocations currently live on ``cpu``."""
        mc = self._cpu(cpu)
        return [self._handle(cpu, i, s) for i, s in self._slots(mc) if s.in_use]

    # --- get / put ------------------------------------------------------------------------
    def get(self, cpu: int, pfn: int, nr_pages: int, prot: str = "PAGE_KERNEL_NOGLOBAL",
            in_task: bool = True) -> MermapAlloc | None:
        """``mermap_get()``: map ``nr_pages`` pages from ``pfn`` into ``cpu``'s window.

        Returns None when the window has no room or no free slot; "expected to fail very
        often" (series patch 20).  Migration stays disabled until :meth:`put`.
        """
        if nr_pages < 0:
            raise ValueError(f"nr_pages must be >= 0, got {nr_pages}")
        slot = self._mermap_get(cpu, pfn, nr_pages, prot, use_reserve=False, in_task=in_task)
        if slot is None:
            self.stats["get_failures"] += 1
            return None
        self.stats["gets"] += 1
        return self._handle(cpu, slot[0], slot[1])

    def get_reserved(self, cpu: int, pfn: int, preemption_disabled: bool = True,
                     prot: str = "PAGE_KERNEL_NOGLOBAL", in_task: bool = True) -> MermapAlloc:
        """``mermap_get_reserved()``: one page, the space the normal path keeps free at the
        window's end; "always succeeds" (mm/mermap.c comment).

        The page is not fixed: it is taken at ``next_addr`` like any other, and
        ``mermap_get()`` leaves room for it by stopping one page short of the end.  With one
        shared slot array (:data:`MERMAP_LINUX_MM`, :data:`MERMAP_BJACKMAN_072BC4B`) it
        fails when all slots are in use; :class:`MermapReservedUnavailable` is raised then.
        """
        if not preemption_disabled:
            # lockdep_assert_preemption_disabled(): a splat, then the code carries on
            self._misuse(MermapContextError(
                f"mermap_get_reserved() on cpu {cpu} with preemption enabled"))
        slot = self._mermap_get(cpu, pfn, 1, prot, use_reserve=True, in_task=in_task)
        if slot is None:
            self.stats["reserved_failures"] += 1
            busy = sum(s.in_use for s in self._cpus[cpu].allocs) if self.prepared else 0
            raise MermapReservedUnavailable(
                f"mermap_get_reserved(pfn={pfn}) on cpu {cpu} returned NULL "
                f"(variant {self.variant.name}, slots in use {busy}/{self.nr_allocs})")
        self.stats["reserved_gets"] += 1
        return self._handle(cpu, slot[0], slot[1])

    def put(self, alloc: MermapAlloc, cpu: int | None = None) -> None:
        """``mermap_put()``: sentinel PTEs over the range, slot free, ``migrate_enable()``.

        No TLB flush: the range turns "T" and the CPU may keep translating it until its
        next local flush.  ``cpu`` is the CPU the caller runs on (default: the alloc's).
        """
        if cpu is not None and cpu != alloc.cpu:
            raise MermapWrongCPUError(
                f"put of {alloc} on cpu {cpu}; it was mapped on cpu {alloc.cpu}")
        mc = self._cpu(alloc.cpu)
        slot = self._slot_at(mc, alloc.slot)
        if not slot.in_use or slot.generation != alloc.generation:
            what = "not in use" if not slot.in_use else "reused by a later get"
            self._misuse(MermapDoublePutError(f"put of {alloc}: slot {what}"))
            if not slot.in_use:
                return          # WARN_ON_ONCE(!alloc->in_use); return;
            # the kernel's pointer names the slot, so it unmaps whoever holds it now
            self._violation("stale_handle_put", alloc.cpu, slot.base)
        for i in range(slot.end - slot.base):
            vpn = slot.base + i
            self._ptes.pop(vpn, None)
            mc.tlb[vpn] = slot.pfn + i      # may have been re-filled since the last flush
        slot.in_use = False
        mc.migrate_disabled -= 1
        self.stats["puts"] += 1

    # --- TLB ------------------------------------------------------------------------------
    def note_local_flush(self, cpu: int) -> None:
        """A full local TLB flush on ``cpu`` not done by the mermap (it forgets "T" space
        only for the security view; ``next_addr`` is unchanged, as in the kernel)."""
        self._cpu(cpu).tlb.clear()
        self.stats["external_flushes"] += 1

    def translate(self, cpu: int, vpn: int) -> int | None:
        """The pfn an access to ``vpn`` on ``cpu`` reaches: a cached (maybe stale) TLB
        entry first, else a page walk (which fills the TLB), else None (fault)."""
        mc = self._cpu(cpu)
        pfn = mc.tlb.get(vpn)
        if pfn is None:
            pfn = self._ptes.get(vpn)
            if pfn is not None:
                mc.tlb[vpn] = pfn
        return pfn

    def translations(self, cpu: int) -> frozenset[int]:
        """PFNs ``cpu`` can reach through its window: live PTEs in the window, plus what
        its TLB may still hold (put but not yet flushed)."""
        mc = self._cpu(cpu)
        lo, hi = self.cpu_base(cpu), self.cpu_end(cpu)
        live = {p for v, p in self._ptes.items() if lo <= v < hi}
        return frozenset(live | set(mc.tlb.values()))

    def stale_translations(self, cpu: int) -> frozenset[int]:
        """PFNs ``cpu`` may reach only through stale TLB entries (the PTE is gone)."""
        mc = self._cpu(cpu)
        return frozenset(p for v, p in mc.tlb.items() if self._ptes.get(v) != p)

    def has_stale(self, pfn: int, nr: int) -> bool:
        """Whether any CPU may still reach a page of ``[pfn, pfn + nr)`` through a stale
        mermap TLB entry (the ``_Stale`` protocol of :mod:`pagealloc.mm.contents`)."""
        end = pfn + nr
        return any(pfn <= p < end and self._ptes.get(v) != p
                   for mc in self._cpus for v, p in mc.tlb.items())

    def is_mapped(self, pfn: int, nr: int) -> bool:
        """Whether a live mermap PTE maps a page of ``[pfn, pfn + nr)``."""
        end = pfn + nr
        return any(pfn <= p < end for p in self._ptes.values())

    def window_state(self, cpu: int) -> str:
        """The window drawn like the comment in ``mermap_alloc()``: ``A`` allocated, ``T``
        TLB-flush-pending, ``_`` free (clean)."""
        mc = self._cpu(cpu)
        out = []
        for vpn in range(self.cpu_base(cpu), self.cpu_end(cpu)):
            if vpn in self._ptes:
                out.append("A")
            elif vpn in mc.tlb:
                out.append("T")
            else:
                out.append("_")
        return "".join(out)

    # --- the allocator (mm/mermap.c) --------------------------------------------------------
    def _mermap_get(self, cpu: int, pfn: int, size: int, prot: str, use_reserve: bool,
                    in_task: bool) -> tuple[int, _Slot] | None:
        """``__mermap_get()``: checks, ``mermap_alloc()``, then the PTE writes."""
        if size > self.region_pages:
            self.stats["fail_oversize"] += 1
            self._refuse(MermapSizeError(
                f"{size} pages > MERMAP_CPU_REGION_SIZE ({self.region_pages} pages)"))
            return None
        if not self.prepared:
            self.stats["fail_not_ready"] += 1
            self.stats["warnings"] += 1
            self._refuse(MermapNotPreparedError("mermap_get() before mermap_mm_prepare()"))
            return None
        mc = self._cpu(cpu)
        if self.variant.check_pgprot and not self.pgprot_allowed(prot):
            self.stats["fail_prot"] += 1
            self.stats["warnings"] += 1
            self._refuse(MermapProtError(
                f"{prot} is global (arch_mermap_pgprot_allowed() is false)"))
            return None
        mc.migrate_disabled += 1
        found = self._mermap_alloc(cpu, mc, size, use_reserve, in_task)
        if found is None:
            mc.migrate_disabled -= 1
            return None
        idx, slot = found
        slot.pfn, slot.prot = pfn, prot
        slot.generation += 1
        self._write_ptes(cpu, slot)
        return idx, slot

    def _mermap_alloc(self, cpu: int, mc: _MermapCPU, size: int, use_reserve: bool,
                      in_task: bool) -> tuple[int, _Slot] | None:
        """``mermap_alloc()``: the in-order bump allocator of the comment diagram.

        Space is handed out upwards from ``next_addr``; freed space is "T" until the
        next local flush, which happens only when a request does not fit: ``new_next``
        becomes the end of the highest in-use allocation (or the window base), and if the
        request fits after it the CPU flushes its TLB and restarts there.
        """
        cpu_end = self.cpu_end(cpu)
        if not use_reserve:
            cpu_end -= 1                 # keep one page for mermap_get_reserved()
        if not in_task:
            self.stats["fail_not_in_task"] += 1
            self.stats["warnings"] += 1
            self._refuse(MermapContextError(f"mermap_get() on cpu {cpu} outside task context"))
            return None

        if self.variant.unsigned_space_check:
            out_of_space = size > self._room(cpu_end, mc.next_addr)
        else:
            out_of_space = mc.next_addr + size > cpu_end
        if out_of_space:
            new_next = self.cpu_base(cpu)
            for slot in mc.allocs:       # reserve_alloc is not looked at (1e956f94)
                if slot.in_use:
                    new_next = max(new_next, slot.end)
            if size > self._room(cpu_end, new_next):
                self.stats["fail_no_space"] += 1
                return None
            self._flush(cpu, mc)
            mc.next_addr = new_next

        chosen: tuple[int, _Slot] | None = None
        if mc.reserve is not None:
            if mc.reserve.in_use:        # WARN_ON_ONCE(mc->reserve_alloc.in_use)
                self.stats["fail_reserve_busy"] += 1
                self.stats["warnings"] += 1
                return None
            if use_reserve:
                chosen = (self.nr_allocs, mc.reserve)
        if chosen is None:
            for i, slot in enumerate(mc.allocs):
                if not slot.in_use:
                    chosen = (i, slot)
                    break
            if chosen is None:
                self.stats["fail_no_slot"] += 1
                return None
        slot = chosen[1]
        slot.in_use = True
        slot.reserved = use_reserve
        slot.base = mc.next_addr
        slot.end = slot.base + size
        mc.next_addr += size
        if slot.end > self.cpu_end(cpu):
            # the next CPU's window; past the last one apply_to_existing_page_range()
            # finds no page table and maps nothing, so the caller faults
            self._violation("window_overrun", cpu, slot.base)
        return chosen

    def _write_ptes(self, cpu: int, slot: _Slot) -> None:
        """``apply_to_existing_page_range(..., do_set_pte, ...)``: consecutive pfns."""
        mc = self._cpu(cpu)
        for i in range(slot.end - slot.base):
            vpn = slot.base + i
            if vpn in self._ptes:
                self._violation("overlap", cpu, vpn)
            for other in self._cpus:
                if vpn in other.tlb:
                    self._violation("remap_before_flush", cpu, vpn)
                    break
            self._ptes[vpn] = slot.pfn + i
            mc.tlb[vpn] = slot.pfn + i
        self.stats["pages_mapped"] += slot.end - slot.base

    def _flush(self, cpu: int, mc: _MermapCPU) -> None:
        """``mermap_flush_tlb()``: count, then ``arch_mermap_flush_tlb()``, a flush of the
        local TLB only ("No shootdown allowed, IRQs may be off"): ``__flush_tlb_all()`` in
        arch/x86/include/asm/mermap.h @b7f5c72f, ``flush_tlb_local()`` (non-global entries,
        which is all the mermap may create) in bjackman/linux@76f0ca39."""
        mc.tlb_flushes += 1
        mc.tlb.clear()
        self.stats["local_flushes"] += 1
        if self.flush_local is not None:
            self.flush_local(cpu)

    def pgprot_allowed(self, prot: str) -> bool:
        """``arch_mermap_pgprot_allowed()`` on x86: ``!(pgprot_val(prot) & _PAGE_GLOBAL)``
        ("Mermap is mm-local so global mappings would be a bug")."""
        try:
            has_global = PGPROT_HAS_GLOBAL[prot]
        except KeyError:
            raise ValueError(f"unknown pgprot {prot!r}; known: {sorted(PGPROT_HAS_GLOBAL)}") \
                from None
        return not (has_global and self.kernel_pte_global)

    # --- helpers --------------------------------------------------------------------------
    @staticmethod
    def _room(end: int, start: int) -> int:
        """``end - start`` as the kernel's ``unsigned long`` sees it."""
        return end - start if end >= start else _ULONG_WRAPPED_PAGES

    def _cpu(self, cpu: int) -> _MermapCPU:
        if not 0 <= cpu < self.ncpus:
            raise ValueError(f"cpu {cpu} out of range [0, {self.ncpus})")
        if not self.prepared:
            raise MermapNotPreparedError(f"cpu {cpu}: mermap_mm_prepare() not called")
        return self._cpus[cpu]

    def _slots(self, mc: _MermapCPU) -> Iterator[tuple[int, _Slot]]:
        yield from enumerate(mc.allocs)
        if mc.reserve is not None:
            yield self.nr_allocs, mc.reserve

    def _slot_at(self, mc: _MermapCPU, idx: int) -> _Slot:
        if mc.reserve is not None and idx == self.nr_allocs:
            return mc.reserve
        if not 0 <= idx < len(mc.allocs):
            raise ValueError(f"slot {idx} out of range")
        return mc.allocs[idx]

    def _handle(self, cpu: int, idx: int, slot: _Slot) -> MermapAlloc:
        return MermapAlloc(cpu=cpu, slot=idx, generation=slot.generation, base=slot.base,
                           nr_pages=slot.end - slot.base, pfn=slot.pfn,
                           reserved=slot.reserved, prot=slot.prot)

    def _refuse(self, err: MermapError) -> None:
        """A request the kernel answers with NULL: raise it when strict."""
        if self.strict:
            raise err

    def _misuse(self, err: MermapError) -> None:
        """A WARN/lockdep splat after which the kernel carries on."""
        self.stats["warnings"] += 1
        if self.strict:
            raise err

    def _violation(self, kind: str, cpu: int, vpn: int) -> None:
        self.stats["violations"] += 1
        self.violations.append((kind, cpu, vpn))
        if self.strict:
            raise MermapInvariantError(f"{kind} on cpu {cpu} at vpn {vpn}")


# --- the allocator's caller (mm/page_alloc.c) ----------------------------------------------
@dataclass(frozen=True)
class ClearPageMermap:
    """One version of ``clear_page_mermap()``, the ``__GFP_ZERO`` path for unmapped pages."""

    name: str
    source: str
    fast_prot: str
    slow_prot: str
    #: the slow path maps ``page + i`` (else ``page`` every time: series.md 2.17 #5)
    slow_path_advances: bool


CLEAR_PAGE_MERMAP_V2 = ClearPageMermap(
    name="v2", source="bjackman/linux:mm/page_alloc.c@a3c87cc761be6cddf92a9e301a74d7aab4116949",
    fast_prot="PAGE_KERNEL", slow_prot="PAGE_KERNEL", slow_path_advances=False)
CLEAR_PAGE_MERMAP_MM = ClearPageMermap(
    name="mm", source="linux-mm/linux-mm:mm/page_alloc.c@f42bec4385a481f1d942251d83f19fab0b5d3157",
    fast_prot="PAGE_KERNEL_NOGLOBAL", slow_prot="PAGE_KERNEL", slow_path_advances=True)


def clear_page_mermap(mermap: Mermap, cpu: int, pfn: int, nr_pages: int,
                      caller: ClearPageMermap = CLEAR_PAGE_MERMAP_MM) -> list[int]:
    """``clear_page_mermap()``: zero ``nr_pages`` from ``pfn`` through the mermap; return
    the pfns cleared, in order (repeats included).

    Fast path: one ``mermap_get()`` of the whole range.  Slow path: with IRQs off, one
    ``mermap_get_reserved()`` per page.  ``kernel_init_pages()`` calls this for each
    unmapped pageblock with the allocation's first page and *total* size (both versions),
    so an order-``pageblock_order`` request (512 pages) never fits the 511 usable pages
    and always takes the slow path.
    """
    try:
        alloc = mermap.get(cpu, pfn, nr_pages, caller.fast_prot)
    except MermapSizeError:
        alloc = None                    # the kernel returns NULL here, without a WARN
    if alloc is not None:
        mermap.put(alloc)
        return list(range(pfn, pfn + nr_pages))
    cleared = []
    for i in range(nr_pages):
        target = pfn + i if caller.slow_path_advances else pfn
        reserved = mermap.get_reserved(cpu, target, preemption_disabled=True,
                                       prot=caller.slow_prot)
        cleared.append(target)
        mermap.put(reserved)
    return cleared
