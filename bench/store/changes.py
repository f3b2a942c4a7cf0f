"""What a server-like loop pays to learn whether anything changed in a workspace: one
``change_counter()`` call, on a store holding 10,000 runs and 1,000 aliases, on SQLite
and on PostgreSQL. Target: under 1 ms, median and p99.

Next to it: the same SELECT on a bare driver connection in autocommit (what the
database and the machine cost, below anything loopml can do); what the question costs
without the counter, ``info()``, which counts the records of every table; and what the
counter costs writers, a run's three writing transactions (create, one metric batch,
finish) with the counter's bump and with it left out, in alternating rounds.

Run with ``make bench`` (or ``make bench-store``), or
``.venv/bin/python bench/store/changes.py [--calls N]``; prints two tables and writes
``bench/results/changes.json``. PostgreSQL is the server ``LOOPML_BENCH_POSTGRES_URL``
names (default: ``postgresql://postgres@127.0.0.1:5432/postgres``), in a schema made for
the run and dropped after it; it is skipped, saying why, when none answers.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
from _tools import RESULTS, load_average, machine, print_columns, say
from loopml.store import MetadataStore, MetricPoint, RunStatus, open_store

RUNS = 10_000
MODELS = 500  # two versions each, aliased champion and challenger: 1,000 aliases
CALLS = 5_000
WARMUP = 200
INFO_CALLS = 50
WRITE_ROUNDS, WRITES_PER_ROUND = 10, 50
TARGET_MS = 1.0
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def fill(store: MetadataStore) -> None:
    """10,000 finished runs with one metric each, and 1,000 aliases with their history."""
    template = store.create_run(kind="train", name="bench", params={"C": 1.0})
    store.finish_run(template.id, RunStatus.SUCCEEDED)
    finished = store.get_run(template.id)
    for start in range(1, RUNS, 1_000):
        batch = [
            (dataclasses.replace(finished, id=uuid.uuid4().hex), [MetricPoint("loss", 0.5)])
            for _ in range(start, min(start + 1_000, RUNS))
        ]
        store.record_runs(batch)
    for model in range(MODELS):
        name = f"model-{model}"
        first, second = (
            store.create_artifact(kind="model", name=name, digest=f"{v:02x}" * 32, size=1)
            for v in (1, 2)
        )
        store.set_alias("champion", first.id)
        store.set_alias("challenger", second.id)


def timed_ms(call: Callable[[], object], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "calls": len(ordered),
        "median_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max_ms": ordered[-1],
    }


def write_cost(store: MetadataStore) -> dict[str, float]:
    """Median ms of a run's three writes, with the counter bumped and with the bump left
    out (by swapping the SQL backend's own function for a no-op: a measurement only)."""
    import loopml.store._sql.store as sql_store

    bump = sql_store.count_change

    def one_run() -> None:
        run = store.create_run(kind="train", name="write-cost")
        store.log_metrics(run.id, [MetricPoint("loss", 0.5)])
        store.finish_run(run.id, RunStatus.SUCCEEDED)

    rounds: dict[str, list[float]] = {"with": [], "without": []}
    try:
        for _ in range(WRITE_ROUNDS):
            for way in rounds:
                sql_store.count_change = bump if way == "with" else (lambda c: None)
                timed_ms(one_run, 5)
                rounds[way].append(statistics.median(timed_ms(one_run, WRITES_PER_ROUND)))
    finally:
        sql_store.count_change = bump
    return {f"{way}_ms": statistics.median(medians) for way, medians in rounds.items()}


@contextmanager
def bare_driver(url: str) -> Iterator[Callable[[], object]]:
    """The same read on a bare driver connection, outside loopml and SQLAlchemy, in
    autocommit: what the database and the machine cost, the floor for the counter."""
    query = "SELECT value FROM change_counter WHERE id = 1"
    if url.startswith("sqlite:///"):
        import sqlite3

        connection: Any = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    else:
        import psycopg

        connection = psycopg.connect(url, autocommit=True)

    def read() -> object:
        cursor = connection.cursor()
        cursor.execute(query)
        row = cursor.fetchone()
        cursor.close()
        return row

    try:
        yield read
    finally:
        connection.close()


def alternating(reads: dict[str, Callable[[], object]], calls: int) -> dict[str, dict[str, float]]:
    """Each read timed ``calls`` times, in 20 alternating blocks, so that a burst of
    load on the machine falls on both alike."""
    times: dict[str, list[float]] = {name: [] for name in reads}
    for read in reads.values():
        timed_ms(read, WARMUP)
    for _ in range(20):
        for name, read in reads.items():
            times[name] += timed_ms(read, max(1, calls // 20))
    return {name: summary(found) for name, found in times.items()}


def measure(url: str, calls: int) -> dict[str, Any]:
    """Fill a fresh store at ``url``, then time the counter and, for contrast, info()."""
    with open_store(url, create=True) as store:
        started = time.perf_counter()
        fill(store)
        filled_s = time.perf_counter() - started
        counts = store.info().counts
        with bare_driver(url) as bare:
            reads = alternating({"counter": store.change_counter, "bare": bare}, calls)
        counter, floor = reads["counter"], reads["bare"]
        info = summary(timed_ms(store.info, INFO_CALLS))
        writes = write_cost(store)
        # a write between two polls is seen by the next one
        before = store.change_counter()
        store.create_alert(kind="bench", severity="info", message="a change")
        seen = store.change_counter() > before
    return {
        "runs": counts["runs"],
        "aliases": counts["aliases"],
        "fill_s": round(filled_s, 1),
        "change_counter": counter,
        "info": info,
        "driver_floor": floor,
        "run_writes": writes,
        "write_seen": seen,
    }


@contextmanager
def postgres_schema() -> Iterator[tuple[str | None, str]]:
    """A store URL on a schema of its own on the bench's PostgreSQL server (dropped
    after), or None and why not."""
    server = os.environ.get("LOOPML_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    try:
        import psycopg
    except ImportError:
        yield None, "psycopg is not installed in .venv (pip install -e '.[postgres]')"
        return
    schema = f"bench_changes_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(server, connect_timeout=5, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        yield None, f"cannot use the PostgreSQL server: {first}"
        return
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options={quote(f'-csearch_path={schema}')}", ""
    finally:
        with psycopg.connect(server, connect_timeout=5, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def line(backend: str, what: str, figures: dict[str, float], target: bool) -> dict[str, str]:
    within = figures["median_ms"] < TARGET_MS and figures["p99_ms"] < TARGET_MS
    return {
        "backend": backend,
        "what": what,
        "median": f"{figures['median_ms']:.3f} ms",
        "p99": f"{figures['p99_ms']:.3f} ms",
        "target": ("under 1 ms: " + ("yes" if within else "NO")) if target else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=CALLS, help="change_counter calls timed")
    calls = parser.parse_args().calls
    load = load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        say(f"SQLite: {RUNS:,} runs and {2 * MODELS:,} aliases, then {calls:,} polls")
        results["sqlite"] = measure(f"sqlite:///{folder}/loopml.db", calls)
    with postgres_schema() as (url, why):
        if url is None:
            say(f"PostgreSQL skipped: {why}")
            results["postgresql"] = {"skipped": why}
        else:
            say(f"PostgreSQL: {RUNS:,} runs and {2 * MODELS:,} aliases, then {calls:,} polls")
            results["postgresql"] = measure(url, calls)
    lines: list[dict[str, str]] = []
    costs: list[dict[str, str]] = []
    for backend, found in results.items():
        if "skipped" in found:
            lines.append({"backend": backend, "what": f"skipped: {found['skipped']}"})
            continue
        lines.append(line(backend, "change_counter()", found["change_counter"], True))
        lines.append(line(backend, "the same SELECT, bare driver", found["driver_floor"], False))
        lines.append(line(backend, "info() (counts every table)", found["info"], False))
        writes = found["run_writes"]
        costs.append(
            {
                "backend": backend,
                "with": f"{writes['with_ms']:.3f} ms",
                "without": f"{writes['without_ms']:.3f} ms",
                "added": f"{writes['with_ms'] - writes['without_ms']:+.3f} ms",
            }
        )
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load,
        "load_average_after": load_average(),
        "settings": {"runs": RUNS, "aliases": 2 * MODELS, "calls": calls, "warmup": WARMUP},
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "changes.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns(
        {"backend": "backend", "what": "poll", "median": "median", "p99": "p99", "target": ""},
        lines,
    )
    if costs:
        print("a run's three writes (create, metrics, finish), median:")
        print_columns(
            {"backend": "backend", "with": "with the bump", "without": "without", "added": "+"},
            costs,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
