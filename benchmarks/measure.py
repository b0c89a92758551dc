"""How the benchmarks measure: wall time, memory, and how busy the rest of the machine was.

Every benchmark here times one thing at a time and reports three kinds of figure:

* seconds: the best of a few repeats (`best_seconds`), the run least disturbed by
  other work on the machine;
* memory: the resident set size of the process now (`rss_mib`) and at its peak
  (`peak_rss_mib`, ru_maxrss: everything the process ever held at once). CPU tensors
  are ordinary process memory, so the difference is what a run cost the machine;
* other processes' share of the CPUs while it ran (`cpu_mark`, then `others_share`),
  from /proc/stat, less the CPU time of the measured child processes themselves:
  timings taken while other processes use the cores are not comparable.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path


def best_seconds(run, repeats: int) -> tuple[float, object]:
    """The shortest wall time of `repeats` calls of `run()`, and what the last call returned."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def rss_mib() -> float:
    """The resident set size of this process now, in MiB (Linux; 0.0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """The largest resident set size this process has had, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores together,
    from /proc/stat (Linux); (0.0, 0.0) elsewhere."""
    try:
        ticks = [int(t) for t in Path("/proc/stat").read_text().split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def children_cpu_seconds() -> float:
    """CPU seconds used so far by this process's finished children (the measured runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_mark() -> tuple[float, float, float]:
    """Now, for `others_share`: the machine's busy and total CPU seconds, and this
    process's finished children's."""
    return (*machine_cpu_seconds(), children_cpu_seconds())


def others_share(since: tuple[float, float, float]) -> float:
    """The fraction (0 .. 1) of the machine's CPU time since `since` (a `cpu_mark`)
    that other processes used: not this one's children, which are the measurement."""
    busy, total, ours = since
    busy_after, total_after, ours_after = cpu_mark()
    others = busy_after - busy - (ours_after - ours)
    return max(0.0, others / max(total_after - total, 1e-9))
