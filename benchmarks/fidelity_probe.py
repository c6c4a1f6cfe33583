"""Measure the model's PFN-choice fidelity on a real trace capture (see
pagealloc/workload/decide.py).  Usage:

    python benchmarks/fidelity_probe.py ../shared/traces/linux-7.2/anon [--dump 1] [--limit N]
"""
import sys

from pagealloc.workload.decide import main

if __name__ == "__main__":
    sys.exit(main())
