"""loopml's foundation benchmarks, side by side with MLflow. Run with ``make bench``.

Each tool runs in its own subprocess and its own virtualenv: loopml in ``.venv``,
MLflow in ``.venv-bench-mlflow`` (made here when missing). The driver imports
neither. Prints a table and writes ``bench/results/latest.json``; see
``docs/benchmarks.md`` for what each measure means.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from _tools import BenchError, ensure_venv, machine, print_columns, run_checked, say

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LOOPML_VENV = ROOT / ".venv"
MLFLOW_VENV = ROOT / ".venv-bench-mlflow"

# 3.18.0 is listed on PyPI, but its mlflow-skinny 3.18.0 was not yet installable when
# this was pinned; 3.17.2 is the newest release that installs whole. MLflow is given
# the same PostgreSQL driver as loopml (psycopg 3), named in its URL.
MLFLOW_REQUIREMENTS = ("mlflow==3.17.2", "psycopg[binary]==3.3.9")
# MLflow 3 sends usage telemetry unless told not to; the benchmark must not reach out.
MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
STARTUP_WARMUPS = 2
STARTUP_RUNS = 15
METRIC_REPEATS = 3  # on SQLite; once on PostgreSQL
STARTUP_TIMEOUT_S = 120
WORKER_TIMEOUT_S = 600

TARGETS_S = {
    "import": 0.150,
    "help": 0.300,
    "metrics-sqlite": 2.0,
    "calls-sqlite": 0.5,
    "calls-postgres": 0.5,
    "truns-sqlite": 0.003,
    "truns-postgres": 0.003,
    "truns-found-sqlite": 0.003,
    "truns-found-postgres": 0.003,
}

TOOLS = ("loopml", "mlflow")
TOOL_NAMES = {
    "loopml": "loopml",
    "mlflow": "MLflow",
    "mlflow-async": "MLflow, synchronous=False",
    "python": "python",
}


# -- environments --------------------------------------------------------------------


def tool_env(tool: str) -> dict[str, str]:
    env = dict(os.environ)
    if tool == "mlflow":
        env.update(MLFLOW_ENV)
    return env


def ensure_mlflow() -> tuple[Path | None, str]:
    return ensure_venv(
        MLFLOW_VENV,
        MLFLOW_REQUIREMENTS,
        probe="import mlflow, psycopg",
        env=MLFLOW_ENV,
        name="MLflow",
    )


# -- measures ------------------------------------------------------------------------


def startup_times(commands: dict[str, list[str]], scratch: Path) -> dict[str, dict[str, Any]]:
    """Wall times of fresh processes, tools interleaved; warm-ups first, then the runs."""
    samples: dict[str, list[float]] = {tool: [] for tool in commands}
    errors: dict[str, str] = {}
    for index in range(STARTUP_WARMUPS + STARTUP_RUNS):
        for tool, command in commands.items():
            if tool in errors:
                continue
            env = tool_env(tool)
            started = time.perf_counter()
            try:
                run_checked(
                    command,
                    timeout=STARTUP_TIMEOUT_S,
                    env=env,
                    cwd=scratch,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            except (BenchError, OSError, subprocess.TimeoutExpired) as error:
                errors[tool] = str(error)
                continue
            if index >= STARTUP_WARMUPS:
                samples[tool].append(time.perf_counter() - started)
    found: dict[str, dict[str, Any]] = {}
    for tool in commands:
        if tool in errors:
            found[tool] = {"error": errors[tool]}
            continue
        runs = samples[tool]
        found[tool] = {
            "value": statistics.median(runs),
            "min": min(runs),
            "max": max(runs),
            "runs": len(runs),
            "warmups": STARTUP_WARMUPS,
        }
    return found


def combine(samples: list[dict[str, Any]], error: str | None) -> dict[str, Any]:
    """Repeated metric writes as one result: the medians, and every sample."""
    if error is not None:
        raise BenchError(error)
    writes = [sample["write_s"] for sample in samples]
    opens = [sample["open_s"] for sample in samples]
    return {
        **samples[0],
        "write_s": statistics.median(writes),
        "open_s": statistics.median(opens),
        "write_s_samples": writes,
        "open_s_samples": opens,
        "repeats": len(samples),
    }


def worker(tool: str, python: Path, task: str, url: str, scratch: Path) -> dict[str, Any]:
    script = BENCH / f"worker_{tool}.py"
    try:
        done = run_checked(
            [str(python), str(script), task, url],
            timeout=WORKER_TIMEOUT_S,
            env=tool_env(tool),
            cwd=scratch,
            capture_output=True,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{tool} {task} took over {WORKER_TIMEOUT_S} s") from None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- PostgreSQL ----------------------------------------------------------------------


def plain_postgres_url(url: str) -> str:
    """``postgresql+driver://`` and ``postgres://`` as plain ``postgresql://``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def postgres_server() -> tuple[str | None, dict[str, Any]]:
    """The server URL and its facts, or None and why it is skipped."""
    url = plain_postgres_url(os.environ.get("LOOPML_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    info: dict[str, Any] = {"url": redacted(url)}
    try:
        import psycopg
    except ImportError:
        info["skipped"] = "psycopg is not installed in .venv (pip install -e '.[postgres]')"
        return None, info
    try:
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        info["skipped"] = f"cannot connect to {redacted(url)}: {first}"
        return None, info
    info["server_version"] = row[0] if row else "?"
    return url, info


@contextmanager
def fresh_database(server_url: str, tool: str) -> Iterator[str]:
    import psycopg

    name = f"bench_{tool}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, connect_timeout=5, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, connect_timeout=5, autocommit=True) as connection:
            try:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.errors.SyntaxError:  # PostgreSQL before 13
                connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


# -- the tracking API ----------------------------------------------------------------

TRACKING_CASES = (
    ("calls", "loopml", "tracking-calls"),
    ("calls", "mlflow", "tracking-calls"),
    ("calls", "mlflow-async", "tracking-calls-async"),
    ("truns", "loopml", "tracking-runs"),
    ("truns", "mlflow", "tracking-runs"),
)


def tracked(
    tool: str, python: Path, task: str, backend: str, scratch: Path, server: str | None
) -> dict[str, Any]:
    """One tracking-API workload on a fresh store of ``backend``, in a folder of its own."""
    folder = Path(tempfile.mkdtemp(prefix=f"{tool}-{task}-", dir=scratch))
    worker_tool = "mlflow" if tool == "mlflow-async" else tool
    if backend == "sqlite":
        return worker(worker_tool, python, task, f"sqlite:///{folder / 'store.db'}", folder)
    assert server is not None
    with fresh_database(server, worker_tool) as url:
        if worker_tool == "mlflow":
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        return worker(worker_tool, python, task, url, folder)


# -- the run -------------------------------------------------------------------------


def row(measure: str, tool: str, found: dict[str, Any]) -> dict[str, Any]:
    return {"measure": measure, "tool": tool, **found}


def main() -> int:
    began = time.perf_counter()
    loopml_python = LOOPML_VENV / "bin" / "python"
    if not loopml_python.exists():
        say("no .venv: run `make bench`, which makes it")
        return 2
    pythons: dict[str, Path | None] = {"loopml": loopml_python}
    mlflow_python, mlflow_missing = ensure_mlflow()
    pythons["mlflow"] = mlflow_python
    if mlflow_missing:
        say(mlflow_missing + "; measuring loopml only")
    present = [tool for tool in TOOLS if pythons[tool] is not None]

    rows: list[dict[str, Any]] = []
    versions: dict[str, Any] = {}
    if mlflow_missing:
        versions["mlflow"] = {"missing": mlflow_missing}

    def record(measure: str, tool: str, attempt: Callable[[], dict[str, Any]]) -> None:
        try:
            found = attempt()
        except (BenchError, OSError, ValueError, subprocess.TimeoutExpired) as error:
            say(f"  {TOOL_NAMES[tool]} {measure} failed: {error}")
            rows.append(row(measure, tool, {"error": str(error)}))
            return
        versions.setdefault(tool, found.pop("versions", {}))
        found.pop("versions", None)
        rows.append(row(measure, tool, found))

    with tempfile.TemporaryDirectory(prefix="loopml-bench-") as scratch_name:
        scratch = Path(scratch_name)

        def bins(tool: str, name: str) -> list[str]:
            python = pythons[tool]
            assert python is not None
            return [str(python.parent / name)]

        say(f"interpreter start, {STARTUP_WARMUPS} warm-ups + {STARTUP_RUNS} fresh processes")
        for tool, found in startup_times(
            {tool: [str(pythons[tool]), "-c", "pass"] for tool in present}, scratch
        ).items():
            rows.append(row("python", tool, found))

        say(f"import, {STARTUP_WARMUPS} warm-ups + {STARTUP_RUNS} fresh processes each")
        imports = {tool: [str(pythons[tool]), "-c", f"import {tool}"] for tool in present}
        for tool, found in startup_times(imports, scratch).items():
            rows.append(row("import", tool, found))

        say(f"--help, {STARTUP_WARMUPS} warm-ups + {STARTUP_RUNS} fresh processes each")
        helps = {tool: [*bins(tool, tool), "--help"] for tool in present}
        for tool, found in startup_times(helps, scratch).items():
            rows.append(row("help", tool, found))

        say(f"100,000 metric points into a fresh SQLite store, {METRIC_REPEATS} times each")
        samples: dict[str, list[dict[str, Any]]] = {tool: [] for tool in present}
        failed: dict[str, str] = {}
        for repeat in range(METRIC_REPEATS):
            for tool in present:
                python = pythons[tool]
                if tool in failed or python is None:
                    continue
                folder = scratch / f"metrics-{tool}-{repeat}"
                folder.mkdir()
                url = f"sqlite:///{folder / 'store.db'}"
                try:
                    samples[tool].append(worker(tool, python, "metrics", url, folder))
                except (BenchError, OSError, ValueError) as error:
                    failed[tool] = str(error)
        for tool in present:
            record(
                "metrics-sqlite",
                tool,
                lambda tool=tool: combine(samples[tool], failed.get(tool)),
            )

        postgres_url, postgres = postgres_server()
        if postgres_url is None:
            say(f"PostgreSQL skipped: {postgres['skipped']}")
        else:
            for tool in present:
                python = pythons[tool]
                assert python is not None
                say(f"{TOOL_NAMES[tool]}: 100,000 metric points into a fresh PostgreSQL database")

                def on_postgres(
                    tool: str = tool, python: Path = python, server: str = postgres_url
                ) -> dict[str, Any]:
                    with fresh_database(server, tool) as url:
                        if tool == "mlflow":  # its SQLAlchemy's default driver may differ
                            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
                        return worker(tool, python, "metrics", url, scratch)

                record("metrics-postgres", tool, on_postgres)

        for tool in present:
            python = pythons[tool]
            assert python is not None
            say(f"{TOOL_NAMES[tool]}: runs with 10 params and 1 metric on SQLite")
            folder = scratch / f"runs-{tool}"
            folder.mkdir()
            url = f"sqlite:///{folder / 'store.db'}"
            record(
                "runs-sqlite",
                tool,
                lambda tool=tool, python=python, url=url, folder=folder: worker(
                    tool, python, "runs", url, folder
                ),
            )

        for backend in ("sqlite", "postgres"):
            if backend == "postgres" and postgres_url is None:
                continue
            for measure, tool, task in TRACKING_CASES:
                python = pythons["mlflow" if tool == "mlflow-async" else tool]
                if python is None:
                    continue
                say(f"{TOOL_NAMES[tool]}: {MEASURES[f'{measure}-{backend}']}")
                record(
                    f"{measure}-{backend}",
                    tool,
                    lambda tool=tool, python=python, task=task, backend=backend: tracked(
                        tool, python, task, backend, scratch, postgres_url
                    ),
                )
                found = rows[-1].pop("found_workspace", None)  # loopml's second way
                if found is not None:
                    rows.append(row(f"{measure}-found-{backend}", tool, found))

    if mlflow_missing:
        for measure in MEASURES:
            if not any(r["measure"] == measure and r["tool"] == "mlflow" for r in rows):
                rows.append(row(measure, "mlflow", {"error": mlflow_missing}))
    table = build_table(rows)
    elapsed = time.perf_counter() - began
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "machine": machine(),
        "versions": versions,
        "postgres": postgres,
        "settings": {
            "startup_warmups": STARTUP_WARMUPS,
            "startup_runs": STARTUP_RUNS,
            "metric_repeats_sqlite": METRIC_REPEATS,
            "mlflow_requirements": list(MLFLOW_REQUIREMENTS),
            "mlflow_env": MLFLOW_ENV,
            **workload_settings(),
        },
        "targets_s": TARGETS_S,
        "results": rows,
        "table": table,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns(
        {
            "tool": "tool",
            "measure": "measure",
            "value": "value",
            "ratio": "ratio (time / loopml's)",
            "target": "loopml target",
        },
        table,
    )
    mismatch = {v.get("python") for v in versions.values() if isinstance(v, dict)} - {None}
    if len(mismatch) > 1:
        print(f"note: the venvs run different Python versions: {sorted(mismatch)}")
    if mlflow_missing:
        print(f"note: {mlflow_missing}")
    if postgres_url is None:
        print(f"note: PostgreSQL not measured: {postgres['skipped']}")
    print(f"took {elapsed:.0f} s; results in bench/results/latest.json")
    return 0


def workload_settings() -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    import _workload as w

    return {
        "metric_points": w.N_POINTS,
        "metric_batch_size": w.BATCH_SIZE,
        "metric_keys": len(w.KEYS),
        "runs": w.N_RUNS,
        "warmup_runs": w.WARMUP_RUNS,
    }


# -- the table -----------------------------------------------------------------------

MEASURES = {
    "python": "python -c pass in the tool's venv (median)",
    "import": "import <tool> (fresh process, median)",
    "help": "<tool> --help (fresh process, median)",
    "metrics-sqlite": f"write 100k metric points, SQLite (median of {METRIC_REPEATS})",
    "metrics-postgres": "write 100k metric points, PostgreSQL",
    "open-sqlite": "open a fresh SQLite store (make schema)",
    "open-postgres": "open a fresh PostgreSQL store (make schema)",
    "runs-sqlite": "run: create + 10 params + 1 metric + finish, SQLite (mean)",
    "calls-sqlite": "10,000 log_metric calls from a loop, until all stored, SQLite",
    "calls-postgres": "10,000 log_metric calls from a loop, until all stored, PostgreSQL",
    "truns-sqlite": "tracking API: start_run + 10 params + 1 metric + end, SQLite (mean)",
    "truns-found-sqlite": "the same, workspace found from the folder (no workspace=), SQLite",
    "truns-postgres": "tracking API: start_run + 10 params + 1 metric + end, PostgreSQL (mean)",
    "truns-found-postgres": "the same, workspace found from the folder, PostgreSQL",
}
TARGET_TEXT = {
    "import": "< 150 ms",
    "help": "< 300 ms",
    "metrics-sqlite": "< 2 s",
    "calls-sqlite": "< 0.5 s",
    "calls-postgres": "< 0.5 s",
    "truns-sqlite": "< 3 ms",
    "truns-postgres": "< 3 ms",
    "truns-found-sqlite": "< 3 ms",
    "truns-found-postgres": "< 3 ms",
}


def build_table(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One line per (measure, tool); ratio = the tool's time / loopml's time."""
    by_key = {(r["measure"], r["tool"]): r for r in rows}
    lines: list[dict[str, str]] = []

    def seconds_of(measure: str, tool: str) -> float | None:
        found = by_key.get((measure, tool))
        if found is None or "error" in found:
            return None
        if measure.startswith("metrics"):
            return float(found["write_s"])
        if measure.startswith("open"):
            return float(found["open_s"])
        if measure.startswith(("runs", "truns")):
            return float(found["mean_ms"]) / 1_000
        if measure.startswith("calls"):
            return float(found["total_s"])
        return float(found["value"])

    # The fresh-store opening times come out of the metrics workers.
    for (measure, tool), found in list(by_key.items()):
        if measure.startswith("metrics") and "open_s" in found:
            by_key[("open" + measure.removeprefix("metrics"), tool)] = found

    for measure, label in MEASURES.items():
        base = seconds_of(measure, "loopml")
        for tool in ("loopml", "mlflow", "mlflow-async"):
            found = by_key.get((measure, tool))
            if found is None:
                continue
            if "error" in found:
                error = str(found["error"])
                error = error if len(error) <= 110 else error[:107] + "..."
                value, ratio, met = f"not measured: {error}", "", ""
            else:
                seconds = seconds_of(measure, tool)
                assert seconds is not None
                value = format_value(measure, seconds, found)
                ratio = f"{seconds / base:.2f}x" if base else ""
                target = TARGETS_S.get(measure)
                met = (
                    ""
                    if target is None or tool != "loopml"
                    else ("met" if seconds < target else "MISSED")
                )
            lines.append(
                {
                    "tool": TOOL_NAMES[tool],
                    "measure": label.replace("<tool>", tool),
                    "value": value,
                    "ratio": ratio,
                    "target": (TARGET_TEXT.get(measure, "") + f" {met}").strip()
                    if tool == "loopml"
                    else "",
                }
            )
    return lines


def format_value(measure: str, seconds: float, found: dict[str, Any]) -> str:
    if measure.startswith("metrics"):
        return f"{seconds:.2f} s ({found['points'] / seconds:,.0f} points/s)"
    if measure.startswith(("runs", "truns")):
        spread = f"median {found['median_ms']:.1f}, p95 {found['p95_ms']:.1f}"
        return f"{seconds * 1_000:.1f} ms/run ({spread})"
    if measure.startswith("calls"):
        per_call = found["loop_s"] / found["calls"] * 1e6
        return f"{seconds:.2f} s ({per_call:.1f} us/call in the loop)"
    return f"{seconds * 1_000:.0f} ms"


if __name__ == "__main__":
    sys.exit(main())
