"""A server's process tree as the benchmark sees it, from ``/proc``: CPU time (the
server's, its threads' and its children's: uvicorn's workers, MLServer's inference
workers, MLflow's uvicorn under its CLI), resident memory, and starting and stopping it
pinned to a core."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
SERVER_CORE = "0"
LOADGEN_CORE = "1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def tree(root: int) -> list[int]:
    """``root`` and every process descending from it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    """User and system CPU time of ``root``'s tree so far, children that ended included."""
    total = 0
    for pid in tree(root):
        fields = _stat(pid)
        if fields is None:
            continue
        utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
        total += utime + stime + cutime + cstime
    return total / TICKS


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(root: int) -> tuple[float, float]:
    """(resident MB of the largest process, proportional MB of the whole tree): shared
    pages counted once across processes in the second."""
    largest = max(_status_kb(pid, "VmRSS:") for pid in tree(root))
    pss = 0
    for pid in tree(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return largest / 1024, pss / 1024


class Process:
    """A server started pinned to the server's core, in a session of its own; its
    output goes to ``log``."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.started = time.perf_counter()
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                ["taskset", "-c", SERVER_CORE, *command],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.popen.pid  # taskset execs the command: the same process

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])[:400]

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to the server's own process group, then SIGKILL if it lingers."""
        for sent in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.pid, sent)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue
