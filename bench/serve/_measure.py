"""One measurement of the serving benchmark: the load generator's run against a server,
with the server's CPU time spent on the measured requests.

A server may work for a request after answering it (loopml writes its prediction log
in the background, a second's records at a time). So each run settles before and
after: once warm, nothing is sent for :data:`SETTLE_S` (the warm-up's and the previous
run's background work is done, not counted here), the idle rate is read for
:data:`IDLE_S`, the measured requests are sent, and the server's CPU time is read
:data:`SETTLE_S` after the last answer (their background work counted), less the idle
rate over that wait."""

from __future__ import annotations

import json
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from _procs import LOADGEN_CORE, cpu_seconds
from _servers import HERE, VENVS, Server

LOADGEN = HERE / "loadgen.py"
SETTLE_S = 1.5  # longer than loopml's log flush interval (1 s)
IDLE_S = 1.0

# (clients, requests, seconds at most, warm-up requests): the closed-loop runs
ONE_CLIENT = {"mode": "closed", "clients": 1, "count": 3000, "seconds": 20, "warmup": 200}
EIGHT_CLIENTS = {"mode": "closed", "clients": 8, "count": 4000, "seconds": 20, "warmup": 400}
SIXTY_FOUR = {"mode": "closed", "clients": 64, "count": 10000, "seconds": 15, "warmup": 640}
BURSTY = {
    "mode": "open",
    "rate": 1000,
    "burst_s": 2,
    "idle_s": 2,
    "cycles": 3,
    "seconds": 10,
    "pool": 64,
    "warmup": 128,
}
BATCH = {"mode": "closed", "clients": 1, "count": 100, "seconds": 30, "warmup": 5}
RF_ONE_CLIENT = {"mode": "closed", "clients": 1, "count": 500, "seconds": 15, "warmup": 20}
RF_SIXTY_FOUR = {"mode": "closed", "clients": 64, "count": 6000, "seconds": 15, "warmup": 128}


def _read_line(stream: Any, seconds: float) -> str:
    ready, _, _ = select.select([stream], [], [], seconds)
    if not ready:
        raise TimeoutError(f"no answer from the load generator in {seconds:g} s")
    return str(stream.readline())


def load(server: Server, endpoint: str, scratch: Path, spec: dict[str, Any], rows: str = "1"):
    """The load generator's result for ``spec`` against ``endpoint``, with
    ``server_cpu_ms``: the server tree's CPU time per answered request."""
    assert server.process is not None
    point = server.endpoints[endpoint]
    given = {
        **spec,
        "url": server.url(endpoint),
        "body": str(point.body(scratch, rows)),
        "headers": point.headers,
    }
    command = [
        "taskset", "-c", LOADGEN_CORE, str(VENVS / "loadgen" / "bin" / "python"), str(LOADGEN),
        json.dumps(given),
    ]  # fmt: skip
    bound = float(spec["seconds"]) + 120
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as loadgen:
        assert loadgen.stdin is not None
        assert loadgen.stdout is not None
        try:
            line = _read_line(loadgen.stdout, bound)
            if line.strip() != "warm":
                raise RuntimeError(
                    f"load generator: {line.strip() or loadgen.stderr.read()[-300:]}"
                )
            time.sleep(SETTLE_S)
            idle = idle_cpu_share(server, IDLE_S)
            before, wall = cpu_seconds(server.process.pid), time.perf_counter()
            loadgen.stdin.write("go\n")
            loadgen.stdin.flush()
            line = _read_line(loadgen.stdout, bound)
            wall = time.perf_counter() - wall
            time.sleep(SETTLE_S)
            after = cpu_seconds(server.process.pid) - idle * SETTLE_S
        finally:
            if loadgen.poll() is None:
                loadgen.kill()
        if not line.strip():
            raise RuntimeError(f"load generator: {(loadgen.stderr.read() or '')[-300:]}")
    found: dict[str, Any] = json.loads(line)
    found["server_cpu_s"] = after - before
    found["server_cpu_ms"] = (after - before) / found["ok"] * 1000 if found["ok"] else None
    found["server_cpu_share"] = (after - before) / wall
    return found


def idle_cpu_share(server: Server, seconds: float = 3.0) -> float:
    """The server's CPU time per second when nothing asks it anything (its background
    work: following changes, flushing the log)."""
    assert server.process is not None
    before = cpu_seconds(server.process.pid)
    time.sleep(seconds)
    return (cpu_seconds(server.process.pid) - before) / seconds
