"""The built-in scenarios of ``pagealloc run NAME``, one function per scenario.

Each function's docstring says what real situation the scenario stands for; it returns
the scenario as TOML text in the documented schema (``docs/scenarios.md``), so that every
built-in goes through the same validation as a user's file and can be printed with
``pagealloc run NAME --show`` as a starting point for one's own.  Sizes are the default
size (``--scale 1``); ``--scale F`` multiplies memory, rates and event-counted lifetimes.
"""

from __future__ import annotations

from typing import Callable


def vm_host() -> str:
    """A KVM host running guest_memfd VMs (Firecracker-style, guest memory out of the
    direct map) beside its own page cache, slab and process churn.

    Three VMs start (their memory is unmapped: blocks flip to unmapped) while small-file
    page cache fills the rest of memory; two VMs stop, leaving their blocks free but
    unmapped; a kernel burst (a fork storm and 10 % of RAM of pinned kernel buffers)
    then needs unmovable mapped memory that only those blocks can give (flips to mapped:
    as posted, only mapped UNMOVABLE requests flip a block back, after smallest, claim
    and steal fail); two more VMs start under memory pressure, so that reclaim and
    compaction have to make room for the flips to unmapped.  Guest memory is 7 order-0
    folios to one order-9 folio by count (most bytes in 2 MiB folios); an order-9
    request that fails retries as order-0 folios.

    Watermark boosting is off (``vm.watermark_boost_factor = 0``): with the default,
    each steal from a movable block boosts the watermark and kswapd reclaims page cache
    for it, which at the default size feeds the mapped lists well enough that no block
    flips back (``--set watermark_boost_factor=15000`` shows it).  guest_memfd clears
    each new folio itself (``kvm_gmem_prepare_folio()``), which the model does not see:
    ``exposed_between_unmapped_users`` here counts what the allocator hands out
    unzeroed, not what a guest can read.
    """
    return '''
name = "vm-host"
description = "guest_memfd VMs started and stopped on a host with page cache and slab churn"
seed = 1
tick = 0.01
events_per_tick = 20

[machine]
memory = "2G"
cpus = 4
swap = "512M"

[machine.sysctls]
watermark_boost_factor = 0

[[sources]]
name = "pagecache"
kind = "file"
rate = 30
dirty = 0.1
lifetime = "forever"
touch = 0.2

[[sources]]
name = "dentries"
kind = "slab"
share = 0.3
lifetime = { dist = "exponential", mean = 30.0, unit = "seconds" }

[[sources]]
name = "vmm-anon"
kind = "anon"
share = 0.5
lifetime = { dist = "exponential", mean = 2.0, unit = "seconds" }
touch = 0.5

[[sources]]
name = "kstacks"
kind = "kernel-stack"
share = 0.1
lifetime = { dist = "exponential", mean = 3.0, unit = "seconds" }

[[sources]]
name = "pgtables"
kind = "page-table"
share = 0.1
lifetime = { dist = "exponential", mean = 3.0, unit = "seconds" }

[[sources]]
name = "guest"
kind = "guest_memfd"
rate = 0
orders = { 0 = 7, 9 = 1 }
fallback_order = 0

[[phases]]
name = "boot"
kind = "ramp"
duration = 4.0
rate = 4.0
sources = ["pagecache"]

[[phases]]
name = "fill-page-cache"
kind = "steady"
duration = 6.0
rates = { pagecache = 4.0 }

[[phases]]
name = "vms-running"
kind = "steady"
duration = 3.0

[[phases]]
name = "kernel-burst"
kind = "steady"
duration = 6.0
rates = { kstacks = 5.0, pgtables = 5.0 }

[[phases]]
name = "vms-again"
kind = "steady"
duration = 12.0

[[phases]]
name = "shutdown"
kind = "drain"
duration = 4.0
sources = ["vmm-anon", "kstacks", "pgtables"]

[[events]]
at = 1.0
action = "vm_start"
vm = "vm1"
memory = "512M"
source = "guest"

[[events]]
at = 2.0
action = "vm_start"
vm = "vm2"
memory = "512M"
source = "guest"

[[events]]
at = 3.0
action = "vm_start"
vm = "vm3"
memory = "512M"
source = "guest"

[[events]]
at = 11.0
action = "vm_stop"
vm = "vm1"

[[events]]
at = 12.0
action = "vm_stop"
vm = "vm2"

[[events]]
at = 14.0
action = "pressure"
percent = 10
kind = "unmovable"
hold = 3.0

[[events]]
at = 21.0
action = "vm_start"
vm = "vm4"
memory = "768M"
source = "guest"

[[events]]
at = 25.0
action = "vm_start"
vm = "vm5"
memory = "512M"
source = "guest"

[[events]]
at = 31.0
action = "vm_stop"
vm = "vm3"

[[events]]
at = 32.0
action = "vm_stop"
vm = "vm4"

[[events]]
at = 33.0
action = "vm_stop"
vm = "vm5"
'''


def secretmem() -> str:
    """Processes keeping keys and credentials in ``memfd_secret()`` memory (ssh-agent,
    TLS terminators, password managers) on a general-purpose machine.

    Every secretmem page is an unmapped user's page of its own; a login storm (burst)
    starts many such processes at once.  Under ``per-folio-zap`` each page splits the
    direct map down to 4K where it lands; under the series whole pageblocks flip.
    """
    return '''
name = "secretmem"
description = "memfd_secret() users (key agents, TLS terminators) on a general-purpose machine"
seed = 2
tick = 0.01
events_per_tick = 30

[machine]
memory = "1G"
cpus = 4
swap = "256M"

[[sources]]
name = "secrets"
kind = "secretmem"
share = 0.15
lifetime = { dist = "exponential", mean = 4.0, unit = "seconds" }

[[sources]]
name = "anon"
kind = "anon"
share = 0.6
lifetime = { dist = "exponential", mean = 3.0, unit = "seconds" }
touch = 0.3

[[sources]]
name = "slab"
kind = "slab"
share = 0.25
lifetime = { dist = "exponential", mean = 20.0, unit = "seconds" }

[[sources]]
name = "pagecache"
kind = "file"
rate = 30
orders = { 0 = 50, 2 = 30, 4 = 20 }
dirty = 0.05
lifetime = "forever"
touch = 0.2

[[phases]]
kind = "ramp"
duration = 3.0

[[phases]]
kind = "steady"
duration = 7.0

[[phases]]
name = "login-storm"
kind = "burst"
duration = 3.0
rate = 6.0
sources = ["secrets"]

[[phases]]
kind = "steady"
duration = 5.0

[[phases]]
kind = "drain"
duration = 2.0
sources = ["secrets", "anon"]

[[events]]
at = 15.0
action = "drop_caches"
mode = 1
'''


def asi_server() -> str:
    """A request-serving machine with Address Space Isolation: the kernel memory that
    holds user data (socket buffers, pipe and request buffers) is *sensitive* and kept
    out of ASI's restricted address space.

    Short-lived sensitive allocations of order 0-3 come from every CPU, some of them in
    softirq context with ``GFP_ATOMIC`` (which the series cannot serve by flipping a
    block: ``ALLOC_NOBLOCK``; v2 also refuses unmapped requests outside a task), beside
    request handlers' anon memory, page cache and slab; a traffic spike triples the rate.
    ASI's planned ``__GFP_SENSITIVE`` is modelled with the series' unmapped request.
    """
    return '''
name = "asi-server"
description = "a server under ASI: short-lived sensitive kernel buffers from every CPU, some atomic"
seed = 3
tick = 0.01
events_per_tick = 40

[machine]
memory = "1G"
cpus = 8
swap = "256M"

[[sources]]
name = "sensitive"
kind = "asi-sensitive"
share = 0.45
orders = { 0 = 80, 1 = 10, 2 = 7, 3 = 3 }
lifetime = { dist = "exponential", mean = 400, unit = "events" }
free_cpu = "random"

[[sources]]
name = "sensitive-rx"
kind = "asi-sensitive"
gfp = "GFP_ATOMIC|__GFP_NOWARN"
context = "irq"
share = 0.15
orders = { 0 = 90, 3 = 10 }
lifetime = { dist = "exponential", mean = 200, unit = "events" }
free_cpu = "random"

[[sources]]
name = "handlers"
kind = "anon"
share = 0.3
lifetime = { dist = "exponential", mean = 1.0, unit = "seconds" }
touch = 0.5

[[sources]]
name = "slab"
kind = "slab"
share = 0.1
lifetime = { dist = "exponential", mean = 10.0, unit = "seconds" }

[[sources]]
name = "pagecache"
kind = "file"
rate = 30
orders = { 0 = 50, 2 = 30, 4 = 20 }
lifetime = "forever"
touch = 0.2

[[phases]]
kind = "ramp"
duration = 2.0

[[phases]]
kind = "steady"
duration = 6.0

[[phases]]
name = "traffic-spike"
kind = "burst"
duration = 3.0
rate = 3.0
sources = ["sensitive", "sensitive-rx", "handlers"]

[[phases]]
kind = "steady"
duration = 5.0

[[phases]]
kind = "drain"
duration = 2.0
sources = ["sensitive", "sensitive-rx", "handlers"]
'''


def thpchallenge() -> str:
    """mmtests' ``thpchallenge``: a background fragmenter (``fio`` reading many small
    files inefficiently, filling memory with order-0 page cache and their inodes and
    dentries) and then a workload faulting in THPs with ``MADV_HUGEPAGE`` while the
    fragmenter keeps going; the figure of merit is the share of THP faults that got a
    huge page (``thp_fault_alloc`` against ``thp_fault_fallback``).
    """
    return '''
name = "thpchallenge"
description = "mmtests thpchallenge: fio page-cache fragmenter, then MADV_HUGEPAGE THP faults"
seed = 4
tick = 0.01

[machine]
memory = "512M"
cpus = 4
swap = "128M"

[[sources]]
name = "fio-pagecache"
kind = "file"
rate = 100
dirty = 0.02
lifetime = "forever"

[[sources]]
name = "fio-inodes"
kind = "slab"
rate = 12
lifetime = "forever"

[[sources]]
name = "thp-faults"
kind = "thp"
madvise = true
rate = 0.25
lifetime = { dist = "exponential", mean = 8.0, unit = "seconds" }

[[phases]]
name = "fragment"
kind = "steady"
duration = 14.0
rates = { thp-faults = 0 }

[[phases]]
name = "thp-faults"
kind = "steady"
duration = 8.0

[[phases]]
name = "thp-faults-only"
kind = "steady"
duration = 3.0
rates = { fio-pagecache = 0, fio-inodes = 0 }
'''


def split_thp_fragmenter() -> str:
    """The community's THP-split fragmenter (David Hildenbrand's 2024 tool, and
    ``tools/testing/selftests/mm/transhuge-stress.c``): fault in THPs, split them and free
    all but one 4K page of each, until no THP can be had; then THP faults measure what
    is left.  The kept pages are anon (movable), so compaction can undo the damage;
    ``movable`` on the fragmenter source lowers that share (pinned kernel pages instead).
    """
    return '''
name = "split-thp-fragmenter"
description = "fault THPs, split them, free all but one subpage; then THP faults"
seed = 5
tick = 0.01

[machine]
memory = "1G"
cpus = 4
swap = "256M"

[[sources]]
name = "fragmenter"
kind = "thp"
split = true
keep = 1
movable = 1.0
rate = 5
stop_on_failure = true
lifetime = "forever"

[[sources]]
name = "thp-faults"
kind = "thp"
madvise = true
rate = 0.5
lifetime = "forever"

[[sources]]
name = "background"
kind = "anon"
rate = 5
lifetime = { dist = "exponential", mean = 1.0, unit = "seconds" }

[[phases]]
name = "fragment"
kind = "steady"
duration = 2.0
rates = { thp-faults = 0 }

[[phases]]
name = "thp-faults"
kind = "steady"
duration = 4.0

[[phases]]
name = "release"
kind = "drain"
duration = 1.0
sources = ["fragmenter", "thp-faults"]
'''


def order5_fragmenter() -> str:
    """The ``phymem_fragmenter`` kernel module (saravan2): ``alloc_pages(GFP_KERNEL, 5)``
    until it fails, ``split_page()`` each block and ``__free_page()`` all but its first
    page, so that one pinned unmovable page sits in every 128 KiB; then THP faults and
    order-5 kernel requests see what is left, and unloading the module frees the pages.
    ``movable`` on the fragmenter source makes a share of the kept pages movable anon.
    """
    return '''
name = "order5-fragmenter"
description = "phymem_fragmenter: order-5 GFP_KERNEL blocks split, all but one page freed"
seed = 6
tick = 0.01

[machine]
memory = "1G"
cpus = 4
swap = "256M"

[[sources]]
name = "fragmenter"
kind = "unmovable"
orders = 5
split = true
keep = 1
movable = 0.0
rate = 40
stop_on_failure = true
lifetime = "forever"
cpus = [0]

[[sources]]
name = "thp-faults"
kind = "thp"
madvise = true
rate = 0.5
lifetime = { dist = "exponential", mean = 2.0, unit = "seconds" }

[[sources]]
name = "order5-kernel"
kind = "unmovable"
gfp = "GFP_KERNEL|__GFP_NORETRY|__GFP_NOWARN"
orders = 5
rate = 0.5
lifetime = { dist = "exponential", mean = 1.0, unit = "seconds" }

[[phases]]
name = "fragment"
kind = "steady"
duration = 3.0
rates = { thp-faults = 0, order5-kernel = 0 }

[[phases]]
name = "measure"
kind = "steady"
duration = 4.0

[[phases]]
name = "rmmod"
kind = "drain"
duration = 1.0
sources = ["fragmenter"]

[[phases]]
name = "measure-again"
kind = "steady"
duration = 2.0
'''


def kernel_build() -> str:
    """``make -j8`` of a kernel tree: compiler processes come and go (kernel stacks, page
    tables, short-lived anon heaps), sources and headers are read into the page cache
    (long-lived) and object files written (dirty page cache), with dentry and inode slab
    churn; the build's end drains the processes.
    """
    return '''
name = "kernel-build"
description = "make -j8: short-lived compiler anon, page cache reads and dirty writes, slab"
seed = 7
tick = 0.01
events_per_tick = 140

[machine]
memory = "768M"
cpus = 8
swap = "256M"

[[sources]]
name = "cc-anon"
kind = "anon"
share = 0.45
lifetime = { dist = "exponential", mean = 0.8, unit = "seconds" }
touch = 0.3

[[sources]]
name = "sources-read"
kind = "file"
share = 0.25
orders = { 0 = 70, 2 = 20, 4 = 10 }
lifetime = "forever"
touch = 0.5

[[sources]]
name = "objects-written"
kind = "file"
share = 0.1
dirty = 0.9
lifetime = "forever"

[[sources]]
name = "dentries"
kind = "slab"
share = 0.1
lifetime = "forever"

[[sources]]
name = "kstacks"
kind = "kernel-stack"
share = 0.04
lifetime = { dist = "exponential", mean = 0.8, unit = "seconds" }

[[sources]]
name = "pgtables"
kind = "page-table"
share = 0.06
lifetime = { dist = "exponential", mean = 0.8, unit = "seconds" }

[[phases]]
kind = "ramp"
duration = 2.0

[[phases]]
kind = "steady"
duration = 12.0

[[phases]]
name = "link"
kind = "burst"
duration = 2.0
rate = 2.0
sources = ["cc-anon"]

[[phases]]
kind = "drain"
duration = 1.0
sources = ["cc-anon", "kstacks", "pgtables"]
'''


#: built-in name -> function returning its TOML text (docstring: what it stands for)
BUILTINS: dict[str, Callable[[], str]] = {
    "vm-host": vm_host,
    "secretmem": secretmem,
    "asi-server": asi_server,
    "thpchallenge": thpchallenge,
    "split-thp-fragmenter": split_thp_fragmenter,
    "order5-fragmenter": order5_fragmenter,
    "kernel-build": kernel_build,
}


def builtin_text(name: str) -> str:
    """The TOML text of built-in scenario ``name``."""
    return BUILTINS[name]().lstrip("\n")
