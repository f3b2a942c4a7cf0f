"""CPU, wall and memory of a worker's timed work; standard library only.

Every worker of the data benchmark imports its tool first, then times its work with
``Meter``, then prints one JSON line with ``emit``. Each worker is a fresh process, so
``getrusage(RUSAGE_SELF)`` covers only it, with all its threads.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

MIB = 1024 * 1024


def rss_now_mib() -> float:
    """The process's resident set size now (VmRSS), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    """The process's peak resident set size since the last reset (ru_maxrss, KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Starts a new peak from the current RSS (Linux: ``/proc/self/clear_refs``, 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


class Meter:
    """Times a block: CPU (user + sys, all threads), wall, RSS before, peak RSS, stages.

    The peak is reset when the block starts and after every stage, so import-time
    peaks do not count and each stage has its own peak. The block's peak is the largest
    of them. Without a resettable peak, each stage's peak is the process's so far.
    """

    def __init__(self) -> None:
        self.stages: list[dict[str, float | str]] = []
        self.result: dict[str, Any] = {}

    def __enter__(self) -> Meter:
        self.peak_before = peak_rss_mib()
        self.resettable = reset_peak()
        self.rss_before = rss_now_mib()
        self._usage = resource.getrusage(resource.RUSAGE_SELF)
        self._wall = time.perf_counter()
        self._stage_usage, self._stage_wall = self._usage, self._wall
        return self

    def stage(self, name: str) -> None:
        """Closes the stage that ran since the last one (or the start)."""
        usage, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        self.stages.append(
            {
                "stage": name,
                "cpu_s": cpu_between(self._stage_usage, usage),
                "wall_s": wall - self._stage_wall,
                "peak_rss_mib": usage.ru_maxrss / 1024,
                "rss_after_mib": rss_now_mib(),
            }
        )
        reset_peak()
        self._stage_usage = resource.getrusage(resource.RUSAGE_SELF)
        self._stage_wall = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        usage, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        if not self.stages:
            self.stages.append(
                {
                    "stage": "all",
                    "cpu_s": cpu_between(self._stage_usage, usage),
                    "wall_s": wall - self._stage_wall,
                    "peak_rss_mib": usage.ru_maxrss / 1024,
                    "rss_after_mib": rss_now_mib(),
                }
            )
        peak = max(float(stage["peak_rss_mib"]) for stage in self.stages)
        read = self.stages[0]
        after_read = [float(stage["peak_rss_mib"]) for stage in self.stages[1:]]
        self.result = {
            "cpu_s": cpu_between(self._usage, usage),
            "user_s": usage.ru_utime - self._usage.ru_utime,
            "sys_s": usage.ru_stime - self._usage.ru_stime,
            "wall_s": wall - self._wall,
            "rss_before_mib": self.rss_before,
            "peak_rss_mib": peak,
            "growth_mib": peak - self.rss_before,
            # The first stage reads the tables; what the work needs beyond holding them:
            "rss_after_read_mib": read["rss_after_mib"],
            "peak_above_read_mib": max(after_read, default=peak) - float(read["rss_after_mib"]),
            "peak_before_timing_mib": self.peak_before,
            "peak_resettable": self.resettable,
            "stages": self.stages,
        }


def cpu_between(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def paths(argv: list[str]) -> tuple[str, str]:
    if len(argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} REFERENCE.parquet CURRENT.parquet")
    return argv[0], argv[1]
