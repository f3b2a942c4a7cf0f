"""The load generator of the serving benchmark: one script for every server. Runs in
``bench/.venvs/loadgen`` (aiohttp), pinned by the driver to a core of its own.

    python loadgen.py SPEC_JSON

``SPEC_JSON`` is a JSON object: ``url``, ``body`` (a file holding the request body),
``headers``, ``mode`` (``closed`` or ``open``) and the mode's bounds:

- ``closed``: ``clients`` keep-alive connections, each sending its next request when
  its answer arrives, until ``count`` requests are answered or ``seconds`` pass;
- ``open``: requests are sent on a fixed schedule, ``rate`` per second during bursts of
  ``burst_s`` seconds with ``idle_s`` seconds of silence between, ``cycles`` times,
  whatever the server's speed; each latency is measured from the request's scheduled
  time, not from when it could be sent (no coordinated omission). Requests still
  unanswered ``seconds`` after the last was due count as errors.

First ``warmup`` requests are sent (on as many connections as the run will use, so the
pool is open); then the script prints ``warm`` and waits for a line on stdin, so that the
driver can read the server's CPU time just before the measured requests. At the end it
prints one JSON line: requests answered, errors, the first error, wall time, throughput,
latency percentiles (ms) and this process's own CPU time (to tell when the load
generator, not the server, was the limit).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from typing import Any

import aiohttp


def percentile(ordered: list[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted values (None when there are none)."""
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


class Load:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.url = spec["url"]
        with open(spec["body"], "rb") as given:
            self.body = given.read()
        self.headers = {"Content-Type": "application/json", **spec.get("headers", {})}
        self.spec = spec
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None

    async def one(self, session: aiohttp.ClientSession, since: float | None = None) -> None:
        started = time.perf_counter() if since is None else since
        try:
            async with session.post(self.url, data=self.body, headers=self.headers) as answer:
                await answer.read()
                ok = answer.status == 200
                if not ok:
                    self.fail(f"HTTP {answer.status}: {(await answer.text())[:200]}")
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            ok = False
            self.fail(f"{type(error).__name__}: {error}"[:200])
        if ok:
            self.latencies.append(time.perf_counter() - started)

    def fail(self, why: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = why

    async def warm(self, session: aiohttp.ClientSession, connections: int) -> None:
        total = self.spec.get("warmup", 0)
        rounds = max(1, total // max(1, connections))
        for _ in range(rounds):
            await asyncio.gather(*(self.one(session) for _ in range(connections)))
        self.latencies.clear()
        self.errors, self.first_error = 0, None

    async def closed(self, session: aiohttp.ClientSession) -> float:
        count, deadline_s = self.spec["count"], self.spec["seconds"]
        sent = 0
        started = time.perf_counter()
        deadline = started + deadline_s

        async def client() -> None:
            nonlocal sent
            while sent < count and time.perf_counter() < deadline:
                sent += 1
                await self.one(session)

        await asyncio.gather(*(client() for _ in range(self.spec["clients"])))
        return time.perf_counter() - started

    async def open(self, session: aiohttp.ClientSession) -> float:
        rate, burst, idle = self.spec["rate"], self.spec["burst_s"], self.spec["idle_s"]
        per_burst = round(rate * burst)
        started = time.perf_counter() + 0.01
        due = [
            started + cycle * (burst + idle) + index / rate
            for cycle in range(self.spec["cycles"])
            for index in range(per_burst)
        ]
        tasks: list[asyncio.Task[None]] = []
        for when in due:
            wait = when - time.perf_counter()
            if wait > 0.0005:
                await asyncio.sleep(wait)
            tasks.append(asyncio.ensure_future(self.one(session, since=when)))
        _, pending = await asyncio.wait(tasks, timeout=self.spec["seconds"])
        for task in pending:
            task.cancel()
            self.fail("no answer in time")
        return time.perf_counter() - started

    async def run(self) -> dict[str, Any]:
        mode = self.spec["mode"]
        connections = self.spec["clients"] if mode == "closed" else self.spec.get("pool", 64)
        connector = aiohttp.TCPConnector(limit=0 if mode == "open" else connections)
        timeout = aiohttp.ClientTimeout(total=self.spec.get("request_timeout_s", 30))
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await self.warm(session, connections)
            print("warm", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            cpu_before = time.process_time()
            wall = await (self.closed(session) if mode == "closed" else self.open(session))
            cpu = time.process_time() - cpu_before
        ordered = sorted(self.latencies)
        return {
            "ok": len(ordered),
            "errors": self.errors,
            "first_error": self.first_error,
            "wall_s": wall,
            "throughput": len(ordered) / wall if wall > 0 else None,
            "p50_ms": _ms(percentile(ordered, 0.50)),
            "p90_ms": _ms(percentile(ordered, 0.90)),
            "p99_ms": _ms(percentile(ordered, 0.99)),
            "max_ms": _ms(ordered[-1] if ordered else None),
            "loadgen_cpu_s": cpu,
            "loadgen_cpu_share": cpu / wall if wall > 0 else None,
            "loadgen_core": sorted(os.sched_getaffinity(0)),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def main() -> int:
    spec = json.loads(sys.argv[1])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    found = asyncio.run(Load(spec).run())
    print(json.dumps(found), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
