"""Page migration: move a movable folio's data to a new page; the owner follows.

Models mm/migrate.c of Linux 7.2: ``migrate_pages()`` over ``migrate_pages_batch()``
(pass 1 unmaps every folio of the batch after getting its destination from
``get_new_folio`` — so all destinations are allocated before any source is freed —, pass 2
moves them with ``migrate_folios_move()``), ``migrate_folio_unmap()``'s writeback rule (a
folio under writeback migrates only in ``MIGRATE_SYNC``: -EBUSY otherwise),
``migrate_folio_done()`` (the source is released with ``folio_put()``, i.e. through
``free_frozen_pages()`` and thus mostly onto the pcp lists), ``folio_migrate_flags()``
(dirty, referenced and active follow the data), the destination going to the LRU with
``folio_add_lru()``, ``putback_movable_pages()`` and the ``pgmigrate_success`` /
``pgmigrate_fail`` / ``thp_migration_*`` counters with the ``mm_migrate_pages`` event.

Only owned folios (:mod:`pagealloc.mm.owners`) migrate: an allocated block without an
owner handle is one the model cannot follow (a plain ``alloc_pages()`` caller keeps its
PFN), so it behaves as a pinned page: ``folio_isolate_lru()`` fails.  The retry loop of
``NR_MAX_MIGRATE_PAGES_RETRY`` never matters here because nothing in the model is
transiently locked: each folio either moves, fails permanently (-EBUSY) or the batch stops
on -ENOMEM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from pagealloc.mm.mmzone import NIL, PS_ALLOC
from pagealloc.mm.owners import F_WRITEBACK, ORDER_FIELD, ORDER_SHIFT

if TYPE_CHECKING:
    from pagealloc.mm.page_alloc import PageAllocator

MIGRATE_ASYNC = 0
MIGRATE_SYNC_LIGHT = 1
MIGRATE_SYNC = 2
MIGRATE_MODE_NAMES = ("MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC")

MR_COMPACTION = 0
MR_MEMORY_FAILURE = 1
MR_MEMORY_HOTPLUG = 2
MR_SYSCALL = 3
MR_MEMPOLICY_MBIND = 4
MR_NUMA_MISPLACED = 5
MR_CONTIG_RANGE = 6
MR_LONGTERM_PIN = 7
MR_DEMOTION = 8
MR_DAMON = 9
MIGRATE_REASON_NAMES = ("compaction", "memory_failure", "memory_hotplug", "syscall_or_cpuset",
                        "mempolicy_mbind", "numa_misplaced", "contig_range", "longterm_pin",
                        "demotion", "damon")

ENOMEM = 12
EBUSY = 16
EAGAIN = 11

#: get_new_folio(src_pfn, order) -> destination head PFN or NIL
GetNewFolio = Callable[[int, int], int]
#: put_new_folio(dst_pfn, order): give back an unused destination
PutNewFolio = Callable[[int, int], None]


def folio_order_of(alloc: "PageAllocator", h: int) -> int:
    assert alloc.owners is not None
    return (alloc.owners.h_info[h] & ORDER_FIELD) >> ORDER_SHIFT


def move_to_new_folio(alloc: "PageAllocator", h: int, src: int, dst: int, order: int) -> None:
    """``move_to_new_folio()`` + ``folio_migrate_flags()``: the data, the page's mobility
    facts (pkind) and the owner move from ``src`` to ``dst``; ``dst`` joins the LRU."""
    owners = alloc.owners
    assert owners is not None
    mem = alloc.mem
    mem.pkind[dst] = mem.pkind[src]
    contents = alloc.contents
    if contents is not None:
        data = contents.data
        n = 1 << order
        data[dst:dst + n] = data[src:src + n]
    owners.move(h, dst, mem.pb_zone[dst >> 9])
    owners.folio_putback_lru(h)      # migrate_folio_move(): folio_add_lru(dst)


def migrate_pages(alloc: "PageAllocator", folios: list[int], get_new_folio: GetNewFolio,
                  put_new_folio: PutNewFolio | None, mode: int, reason: int,
                  cpu: int | None = None) -> tuple[int, int, list[int]]:
    """``migrate_pages()``: migrate the isolated folios (owner handles) in list order.

    Returns ``(rc, nr_succeeded_pages, not_migrated)``: ``rc`` is 0, or -ENOMEM when a
    destination could not be found (the batch stops; the folios not yet tried stay in
    ``not_migrated`` as the kernel leaves them on the ``from`` list), or the number of
    folios that failed permanently.  The caller puts ``not_migrated`` back
    (``putback_movable_pages()``).  Sources are freed after every destination of the batch
    was allocated, as ``migrate_pages_batch()`` does.
    """
    owners = alloc.owners
    assert owners is not None
    if cpu is None:
        cpu = alloc.cpu
    mem = alloc.mem
    unmapped: list[tuple[int, int, int, int]] = []     # (handle, src, dst, order)
    failed: list[int] = []
    rc = 0
    nr_failed = 0
    nr_failed_pages = 0
    nr_thp_failed = 0
    i = 0
    for i, h in enumerate(folios):
        src = owners.h_pfn[h]
        info = owners.h_info[h]
        order = (info & ORDER_FIELD) >> ORDER_SHIFT
        dst = get_new_folio(src, order)          # migrate_folio_unmap(): dst first
        if dst == NIL:
            rc = -ENOMEM
            nr_failed += 1
            nr_failed_pages += 1 << order
            nr_thp_failed += order >= 9
            failed.extend(folios[i:])
            break
        if info & F_WRITEBACK and mode != MIGRATE_SYNC:
            if put_new_folio is not None:
                put_new_folio(dst, order)
            else:
                alloc.free_frozen_pages(dst, order, cpu)
            nr_failed += 1
            nr_failed_pages += 1 << order
            nr_thp_failed += order >= 9
            failed.append(h)
            continue
        mem.pstate[dst] = PS_ALLOC | order
        unmapped.append((h, src, dst, order))
    succeeded = 0
    thp_succeeded = 0
    for h, src, dst, order in unmapped:          # migrate_folios_move()
        move_to_new_folio(alloc, h, src, dst, order)
        alloc.free_frozen_pages(src, order, cpu)     # migrate_folio_done(): folio_put(src)
        succeeded += 1 << order
        thp_succeeded += order >= 9
    alloc.count_vm_events("pgmigrate_success", succeeded)
    alloc.count_vm_events("pgmigrate_fail", nr_failed_pages)
    if thp_succeeded or nr_thp_failed:
        alloc.count_vm_events("thp_migration_success", thp_succeeded)
        alloc.count_vm_events("thp_migration_fail", nr_thp_failed)
    if alloc.sink is not None:
        alloc.emit("mm_migrate_pages", succeeded, nr_failed_pages, thp_succeeded, nr_thp_failed,
                   0, 0, mode, reason)
    if rc == 0:
        rc = nr_failed
    return rc, succeeded, failed


def putback_movable_pages(alloc: "PageAllocator", folios: list[int]) -> None:
    """``putback_movable_pages()``: isolated folios that did not move go back to the LRU."""
    owners = alloc.owners
    assert owners is not None
    for h in folios:
        owners.folio_putback_lru(h)
