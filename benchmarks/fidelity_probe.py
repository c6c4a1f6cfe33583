"""Measure the model's PFN-choice fidelity on a real trace capture (see
pagealloc/workload/decide_probe.py).  Usage:

    python benchmarks/fidelity_probe.py ../shared/traces/linux-7.2/anon [--dump 1] [--limit N]
"""
import sys

from pagealloc.workload.decide_probe import main

if __name__ == "__main__":
    sys.exit(main())
