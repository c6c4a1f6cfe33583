"""The old name of :mod:`pagealloc.workload.decide` (``benchmarks/fidelity_probe.py`` still
imports :func:`main` from here); new code uses :class:`~pagealloc.workload.decide.DecideReplay`."""

from pagealloc.workload.decide import main

__all__ = ["main"]
