"""Measuring: wall time (median of runs), peak memory, percentiles, and the machine."""

from __future__ import annotations

import gc
import os
import platform
import re
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy

T = TypeVar("T")
MiB = 1024 * 1024


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        found = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem = int(found.group(1)) * 1024 if found else None
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory": mem,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
    }


def _status_kib(name: str) -> int | None:
    try:
        found = re.search(rf"{name}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    except OSError:
        return None
    return int(found.group(1)) if found else None


class PeakMemory:
    """Peak resident memory of this process during a block, in bytes.

    On Linux the high-water mark is reset at the start (`/proc/self/clear_refs`), so the
    figure is the block's own peak, interpreter and data already loaded included. Elsewhere
    it is the process's lifetime peak (`getrusage`), which can only overstate.
    """

    def __init__(self) -> None:
        self.peak = 0
        self.method = "getrusage ru_maxrss (process lifetime)"

    def __enter__(self) -> PeakMemory:
        gc.collect()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            if _status_kib("VmHWM") is not None:
                self.method = "VmHWM (reset at start)"
        except OSError:
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = _status_kib("VmHWM") if self.method.startswith("VmHWM") else None
        if hwm is not None:
            self.peak = hwm * 1024
        else:
            scale = 1 if sys.platform == "darwin" else 1024
            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


@dataclass
class Timing:
    """Wall times of repeated runs of one measurement."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "runs": self.runs}


def timed(
    fn: Callable[[], T], *, runs: int, setup: Callable[[], None] | None = None
) -> tuple[Timing, T]:
    """Run `fn` `runs` times (each after `setup`), return the timings and the last result."""
    timing = Timing()
    result: T | None = None
    for _ in range(runs):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        result = fn()
        timing.runs.append(time.perf_counter() - start)
    assert result is not None or runs == 0
    return timing, result  # type: ignore[return-value]


@contextmanager
def stopwatch(into: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to `into[name]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        into[name] = into.get(name, 0.0) + time.perf_counter() - start


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def db_size(path: Path) -> int:
    """Bytes of an SQLite database on disk: the file, its WAL and shared memory."""
    files = [path, *path.parent.glob(path.name + "-*")]
    return sum(p.stat().st_size for p in files if p.exists())
