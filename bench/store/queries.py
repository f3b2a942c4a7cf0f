"""`loopml runs list --where/--sort` over 100,000 runs: the query the store answers now
(``loopml.tracking.search_runs``) next to the Python scan it replaced (every run read,
each with its latest metrics, filtered and sorted in Python; kept here, as it was, to
be timed). Run with ``.venv/bin/python bench/store/queries.py``; prints a table.

The workspace is made once in a temporary folder (SQLite; and PostgreSQL when
``LOOPML_BENCH_POSTGRES_URL`` names a server, or one answers on 127.0.0.1:5432): runs
of kinds ``training`` and ``trial`` with params C, kernel and seed, a tag, and three
steps each of ``auc`` and ``val-loss``. Each query runs once to warm up, then
``--repeat`` times alternating old and new; the median is shown. Both must list the
same runs, or the bench stops.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import loopml
from loopml._ids import new_id
from loopml.store import MetricPoint, Run, RunStatus
from loopml.tracking import search_runs
from loopml.tracking._where import parse_where, sort_rows

SCAN = 100_000  # what the CLI read at most before
QUERIES: list[tuple[str, str | None, str | None]] = [
    ("a filter, newest first", "metrics.auc > 0.9 and params.C < 1", None),
    ("a filter and a sort", "metrics.auc > 0.9 and params.C < 1", "-metrics.auc"),
    ("a sort only", None, "-metrics.auc"),
    ("a filter on text (half the runs)", "params.kernel == 'rbf'", None),
    ("a filter few runs meet", "metrics.auc > 0.9995 and tags.team == 'risk'", None),
]
LIMIT = 20


def old_list(ws: loopml.Workspace, where: str | None, sort: str | None) -> list[str]:
    """`loopml runs list` before: up to 100,000 runs read, newest first, with their
    latest metrics in chunks of 1,000, filtered and sorted in Python."""
    from loopml.store.query import run_row

    predicate = parse_where(where) if where else None
    store = ws.store
    found = store.find_runs(newest_first=True, limit=SCAN if predicate or sort else LIMIT)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(found), 1000):
        chunk = found[start : start + 1000]
        metrics = store.latest_metrics([run.id for run in chunk])
        for run in chunk:
            row = run_row(run, metrics.get(run.id, {}))
            if predicate is None or predicate(row):
                rows.append(row)
        if len(rows) >= LIMIT and not sort:
            break
    rows = (sort_rows(rows, sort) if sort else rows)[:LIMIT]
    return [row["id"] for row in rows]


def new_list(ws: loopml.Workspace, where: str | None, sort: str | None) -> list[str]:
    page = search_runs(where, sort, limit=LIMIT, workspace=ws)
    return [found.run.id for found in page.items]


def next_page(
    ws: loopml.Workspace, where: str | None, sort: str | None, cursor: str | None
) -> list[str]:
    page = search_runs(where, sort, limit=LIMIT, cursor=cursor, workspace=ws)
    return [found.run.id for found in page.items]


def fill(ws: loopml.Workspace, count: int, seed: int = 1) -> None:
    """``count`` finished runs, recorded 5,000 at a time."""
    draw = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch: list[tuple[Run, list[MetricPoint]]] = []
    for i in range(count):
        began = start + timedelta(seconds=i)
        run = Run(
            id=new_id(),
            kind="trial" if i % 4 else "training",
            name=f"svm-{i % 50}",
            status=RunStatus.SUCCEEDED,
            params={
                "C": round(draw.uniform(0, 10), 3),
                "kernel": draw.choice(["rbf", "lin"]),
                "seed": i,
            },
            parent_id=None,
            fingerprint=None,
            code={},
            environment={},
            tags={"team": draw.choice(["risk", "growth", "core"])},
            host="bench",
            pid=1,
            started_at=began,
            ended_at=began + timedelta(seconds=draw.uniform(1, 60)),
            error=None,
        )
        auc = draw.uniform(0.5, 1.0)
        points = [
            MetricPoint(key, value * (0.9 + step / 20), step=step)
            for step in range(3)
            for key, value in (("auc", auc), ("val-loss", 1 - auc))
        ]
        batch.append((run, points))
        if len(batch) == 5_000:
            ws.store.record_runs(batch)
            batch = []
    if batch:
        ws.store.record_runs(batch)


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(ws: loopml.Workspace, repeat: int) -> list[tuple[str, float, float]]:
    results = []
    for label, where, sort in QUERIES:
        old, new = old_list(ws, where, sort), new_list(ws, where, sort)  # warm up
        if old != new:
            raise SystemExit(f"{label}: the two list different runs")
        before = median_seconds(lambda w=where, s=sort: old_list(ws, w, s), repeat)
        after = median_seconds(lambda w=where, s=sort: new_list(ws, w, s), repeat)
        results.append((label, before, after))
    label, where, sort = QUERIES[1]
    cursor = search_runs(where, sort, limit=LIMIT, workspace=ws).next_cursor
    page = median_seconds(lambda: next_page(ws, where, sort, cursor), repeat)
    results.append(("its second page (with the cursor)", float("nan"), page))
    return results


def postgres_url() -> str | None:
    import os

    url = os.environ.get(
        "LOOPML_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
    except Exception:
        return None
    return url


def run_on(label: str, folder: Path, store_url: str | None, count: int, repeat: int) -> None:
    folder.mkdir()
    with loopml.init(folder, store_url=store_url) as ws:
        started = time.perf_counter()
        fill(ws, count)
        print(f"\n{label}: {count:,} runs recorded in {time.perf_counter() - started:.0f} s")
        head = f"query (limit {LIMIT})"
        print(f"{head:<48} {'Python scan':>12} {'store':>9} {'ratio':>7}")
        for name, before, after in measure(ws, repeat):
            old = "-" if before != before else f"{before:.3f} s"
            ratio = "" if before != before else f"{before / after:.0f}x"
            print(f"{name:<48} {old:>12} {after:>7.3f} s {ratio:>7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        run_on("SQLite", root / "sqlite", None, options.runs, options.repeat)
        server = postgres_url()
        if server is None:
            print("\nPostgreSQL: no server answered; set LOOPML_BENCH_POSTGRES_URL to measure it")
            return 0
        import sqlalchemy as sa

        database = f"bench_queries_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(
            sa.make_url(server).set(drivername="postgresql+psycopg"),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {database}")
        try:
            url = sa.make_url(server).set(database=database).render_as_string(hide_password=False)
            run_on("PostgreSQL", root / "postgres", url, options.runs, options.repeat)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE {database} WITH (FORCE)")
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
