"""loopml's pipelines side by side with Metaflow: per-step overhead and cached re-runs.

Run with ``make bench-pipeline`` (or ``python bench/pipeline/run.py [--runs N]
[--no-tables]``).

Both tools run the same trivial 10-step linear pipeline (each step adds 1 to an int),
and a variant whose steps pass a 1,000-row pandas table. loopml runs in ``.venv``,
Metaflow in ``.venv-bench-metaflow`` (made here when missing); the driver imports
neither, and only starts processes and times them. It also profiles loopml's fresh
``loopml run`` of a fully cached pipeline (``-X importtime`` and cProfile). Prints a
table, the verdicts and the profile, and writes ``bench/results/pipeline-latest.json``;
see ``docs/benchmarks.md`` for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
from _tools import (
    BenchError,
    ensure_venv,
    load_average,
    machine,
    print_columns,
    run_checked,
    say,
    short,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "bench" / "pipeline"
RESULTS = ROOT / "bench" / "results"
LOOPML_VENV = ROOT / ".venv"
METAFLOW_VENV = ROOT / ".venv-bench-metaflow"

# pandas and NumPy for the table variant, the same versions as in .venv.
METAFLOW_REQUIREMENTS = ("metaflow==2.19.39", "pandas==3.1.1", "numpy==2.4.6")
# Metaflow's local runtime with a local datastore and local metadata: no service, no
# cloud. It has no usage telemetry to switch off (its event logger and monitor default
# to the null sidecars); tracing is only on with an OTEL/Zipkin endpoint, and is
# disabled as well. USERNAME names the user Metaflow records runs under.
METAFLOW_ENV = {
    "METAFLOW_DEFAULT_DATASTORE": "local",
    "METAFLOW_DEFAULT_METADATA": "local",
    "METAFLOW_DEFAULT_EVENT_LOGGER": "nullSidecarLogger",
    "METAFLOW_DEFAULT_MONITOR": "nullSidecarMonitor",
    "DISABLE_TRACING": "1",
    "USERNAME": "bench",
}

STEPS = 10
STRIDE = 100  # x0 values this far apart share no step input (loopml caches by value)
RUNS = 5  # timed fresh-process runs per measure (after WARMUPS)
WARMUPS = 1
INPROCESS_RUNS = 10
INPROCESS_CACHED_RUNS = 20
STARTUP_WARMUPS = 2
STARTUP_RUNS = 7
IMPORTTIME_RUNS = 3
COMMAND_TIMEOUT_S = 300
WORKER_TIMEOUT_S = 600
BUSY_LOAD = 0.5

TARGET_STEP_S = 0.020  # an uncached trivial step's overhead
TARGET_CACHED_S = 0.5  # a fully cached 10-step re-run

VARIANTS = {
    "ten": {
        "loopml": "flow_loopml.py:ten",
        "metaflow": "flow_metaflow.py",
        "label": "10 steps, each adds 1 to an int",
    },
    "tables": {
        "loopml": "flow_loopml_tables.py:ten_tables",
        "metaflow": "flow_metaflow_tables.py",
        "label": "10 steps, each passes a 1,000-row pandas table",
    },
}
TOOL_NAMES = {"loopml": "loopml", "metaflow": "Metaflow"}


# -- environments --------------------------------------------------------------------


def ensure_metaflow() -> tuple[Path | None, str]:
    return ensure_venv(
        METAFLOW_VENV,
        METAFLOW_REQUIREMENTS,
        probe="import metaflow, pandas",
        env=METAFLOW_ENV,
        name="Metaflow",
    )


def base_env(scratch: Path) -> dict[str, str]:
    """The environment as it is, with the bytecode cache in the scratch folder.

    Both tools' processes write and read their ``.pyc`` files under
    ``PYTHONPYCACHEPREFIX`` (the warm-ups fill it), whatever ``PYTHONDONTWRITEBYTECODE``
    says: so neither compiles its modules from source on every run, and nothing is
    written into the source tree or the venvs.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    return env


def loopml_env(scratch: Path) -> dict[str, str]:
    """Less any workspace override: the current folder names the workspace."""
    return {k: v for k, v in base_env(scratch).items() if not k.startswith("LOOPML_")}


def metaflow_env(scratch: Path, variant: str) -> dict[str, str]:
    env = {k: v for k, v in base_env(scratch).items() if not k.startswith("METAFLOW_")}
    env.update(METAFLOW_ENV)
    env["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = str(scratch / f"metaflow-{variant}")
    env["METAFLOW_HOME"] = str(scratch / "metaflow-home")  # no user's profile is read
    return env


def source_state() -> dict[str, Any]:
    """The commit measured, and whether loopml's source differed from it."""
    try:
        commit = run_checked(["git", "rev-parse", "HEAD"], timeout=30, cwd=ROOT).stdout.strip()
        changed = run_checked(
            ["git", "status", "--porcelain", "--", "src"], timeout=30, cwd=ROOT
        ).stdout.strip()
    except (BenchError, OSError, subprocess.TimeoutExpired) as error:
        return {"error": str(error)}
    return {"commit": commit, "src_has_uncommitted_changes": bool(changed)}


def versions(python: Path, modules: tuple[str, ...], env: dict[str, str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, platform; "
        f"print(json.dumps({{'python': platform.python_version(), "
        f"**{{n: m.version(n) for n in {list(modules)!r}}}}}))"
    )
    try:
        done = run_checked([str(python), "-c", code], timeout=60, env=env)
    except (BenchError, OSError, subprocess.TimeoutExpired) as error:
        return {"error": str(error)}
    found: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# -- timing --------------------------------------------------------------------------


def timed(
    command: list[str], *, cwd: Path, env: dict[str, str], check: str | None = None
) -> tuple[float, float, str]:
    """The wall time of a whole fresh process, spawn to exit; its CPU time (user + sys,
    with every process it started and waited for); and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        done = run_checked(command, timeout=COMMAND_TIMEOUT_S, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{short(command[1])} took over {COMMAND_TIMEOUT_S} s") from None
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = done.stdout + done.stderr
    if check is not None and check not in output:
        shown = " ".join(short(part) for part in command[1:4])
        raise BenchError(f"{shown}: expected {check!r} in its output")
    return wall, cpu, output


def summary(samples: list[tuple[float, float]], warmups: int) -> dict[str, Any]:
    """Median and range of the wall times, and the median CPU time."""
    walls = [wall for wall, _ in samples]
    cpus = [cpu for _, cpu in samples]
    return {
        "value": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "cpu": statistics.median(cpus),
        "runs": len(samples),
        "warmups": warmups,
        "samples": walls,
        "cpu_samples": cpus,
    }


def startup(pythons: dict[str, Path], scratch: Path) -> dict[str, dict[str, Any]]:
    """``python -c pass`` and ``import <tool>`` in fresh processes, tools alternating."""
    commands = {}
    for tool, python in pythons.items():
        env = loopml_env(scratch) if tool == "loopml" else metaflow_env(scratch, "startup")
        commands[("python", tool)] = ([str(python), "-c", "pass"], env)
        commands[("import", tool)] = ([str(python), "-c", f"import {tool}"], env)
        # what the table pipeline's own file pays before either tool does anything
        commands[("pandas", tool)] = ([str(python), "-c", "import pandas"], env)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in commands}
    for index in range(STARTUP_WARMUPS + STARTUP_RUNS):
        for key, (command, env) in commands.items():
            wall, cpu, _ = timed(command, cwd=scratch, env=env)
            if index >= STARTUP_WARMUPS:
                samples[key].append((wall, cpu))
    return {f"{m}/{tool}": summary(s, STARTUP_WARMUPS) for (m, tool), s in samples.items()}


def fresh_processes(
    variant: str, pythons: dict[str, Path], scratch: Path, runs: int
) -> tuple[dict[str, dict[str, Any]], dict[str, str], Path]:
    """Whole-command wall times, the two tools alternating round by round.

    Each round: ``loopml run FLOW --param x0=N`` (a new x0: all 10 steps run), Metaflow's
    ``run --x0 N``, ``loopml run FLOW`` (an x0 it has run: all 10 steps cached), and
    Metaflow's ``resume`` of the run just made (all 10 tasks cloned). Returns the
    results, an error per tool that failed, and loopml's workspace folder.
    """
    spec = VARIANTS[variant]
    loopml_bin = pythons["loopml"].parent / "loopml"
    target = str(HERE / spec["loopml"])
    workspace = scratch / f"loopml-{variant}"
    workspace.mkdir()
    env = loopml_env(scratch)
    errors: dict[str, str] = {}
    try:
        run_checked(
            [str(loopml_bin), "init", "."], timeout=COMMAND_TIMEOUT_S, env=env, cwd=workspace
        )
        # The first run: makes the package-list cache, and the outputs the cached runs reuse.
        timed(
            [str(loopml_bin), "run", target], cwd=workspace, env=env, check=f"{STEPS} ran, 0 cached"
        )
    except (BenchError, OSError) as error:
        errors["loopml"] = str(error)
        say(f"  loopml failed: {error}")

    mf_python = pythons.get("metaflow")
    mf_flow = str(HERE / spec["metaflow"])
    mf_env = metaflow_env(scratch, variant)
    mf_cwd = scratch / f"metaflow-cwd-{variant}"
    mf_cwd.mkdir()
    run_id_file = mf_cwd / "run-id"

    def loopml_uncached(x0: int) -> tuple[float, float]:
        wall, cpu, _ = timed(
            [str(loopml_bin), "run", target, "--param", f"x0={x0}"],
            cwd=workspace,
            env=env,
            check=f"{STEPS} ran, 0 cached",
        )
        return wall, cpu

    def loopml_cached(x0: int) -> tuple[float, float]:
        # Each is a replay: answered from the record of the run before, without importing
        # the pipeline file (its output says so).
        wall, cpu, output = timed(
            [str(loopml_bin), "run", target], cwd=workspace, env=env, check=f"0 ran, {STEPS} cached"
        )
        if "replayed from run" not in output:
            raise BenchError("loopml run: a cached run was not replayed")
        return wall, cpu

    def metaflow_run(x0: int) -> tuple[float, float]:
        assert mf_python is not None
        run_id_file.unlink(missing_ok=True)
        command = [str(mf_python), mf_flow, "--no-pylint", "run", "--x0", str(x0)]
        command += ["--run-id-file", str(run_id_file)]
        check = f"x = {x0 + STEPS}" if variant == "ten" else f"x[0] = {x0 + STEPS}, rows = 1000"
        wall, cpu, output = timed(command, cwd=mf_cwd, env=mf_env, check=check)
        if output.count("Task finished successfully") != STEPS:
            raise BenchError(f"Metaflow run: expected {STEPS} tasks to finish")
        return wall, cpu

    def metaflow_resume(x0: int) -> tuple[float, float]:
        assert mf_python is not None
        origin = run_id_file.read_text().strip()
        command = [str(mf_python), mf_flow, "--no-pylint", "resume", "--origin-run-id", origin]
        wall, cpu, output = timed(command, cwd=mf_cwd, env=mf_env, check=f"{origin} cloned!")
        if output.count("Cloning previously run task") != STEPS or "Task is starting" in output:
            raise BenchError(f"Metaflow resume: expected {STEPS} tasks cloned and none run")
        return wall, cpu

    measures = {
        "uncached/loopml": loopml_uncached,
        "uncached/metaflow": metaflow_run,
        "cached/loopml": loopml_cached,
        "cached/metaflow": metaflow_resume,
    }
    if mf_python is None:
        measures = {key: fn for key, fn in measures.items() if key.endswith("/loopml")}
    samples: dict[str, list[tuple[float, float]]] = {key: [] for key in measures}
    for index in range(WARMUPS + runs):
        x0 = STRIDE * (index + 1)
        for key, measure in measures.items():
            tool = key.split("/")[1]
            if tool in errors:
                continue
            try:
                sample = measure(x0)
            except (BenchError, OSError) as error:
                errors[tool] = str(error)
                say(f"  {TOOL_NAMES[tool]} failed: {error}")
                continue
            if index >= WARMUPS:
                samples[key].append(sample)
        shown = ", ".join(f"{key} {samples[key][-1][0]:.2f} s" for key in samples if samples[key])
        say(f"  round {index + 1}/{WARMUPS + runs}{' (warm-up)' if index < WARMUPS else ''}")
        if shown and index >= WARMUPS:
            say(f"    {shown}")
    found = {key: summary(s, WARMUPS) for key, s in samples.items() if s}
    return found, errors, workspace


def in_process(variant: str, python: Path, scratch: Path) -> dict[str, Any]:
    target = str(HERE / VARIANTS[variant]["loopml"])
    command = [str(python), str(HERE / "worker_loopml.py"), "inprocess", target]
    command += ["2", str(INPROCESS_RUNS), str(INPROCESS_CACHED_RUNS)]
    try:
        done = run_checked(command, timeout=WORKER_TIMEOUT_S, env=loopml_env(scratch), cwd=scratch)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the in-process worker took over {WORKER_TIMEOUT_S} s") from None
    raw: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    found = {}
    for measure, data in raw.items():
        warm = data.get("warmups_s", [])
        pairs = list(zip(data["samples_s"], data["cpu_s"], strict=True))
        found[measure] = {**summary(pairs, len(warm)), "warmup_samples": warm}
    return found


# -- the profile of a fresh, fully cached `loopml run` --------------------------------

IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def parse_importtime(text: str) -> list[tuple[int, int, int, str]]:
    """(self µs, cumulative µs, depth, module) per line of ``-X importtime``, in order."""
    rows = []
    for line in text.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            own, cumulative, indent, name = match.groups()
            rows.append((int(own), int(cumulative), (len(indent) - 1) // 2, name))
    return rows


def import_profile(rows: list[tuple[int, int, int, str]], top: int = 12) -> dict[str, Any]:
    """Self time summed by top-level package, and for each, the import chain that first
    brought it in (the lines are in post-order: a module's parent comes after it)."""
    by_package: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, (own, _, _, name) in enumerate(rows):
        root = name.split(".")[0]
        by_package[root] = by_package.get(root, 0) + own
        first.setdefault(root, index)
    packages = []
    for root, own in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        chain = []
        index, depth = first[root], rows[first[root]][2]
        chain.append(rows[index][3])
        for later in range(index + 1, len(rows)):
            if rows[later][2] < depth:
                depth = rows[later][2]
                chain.append(rows[later][3])
                if depth == 0:
                    break
        # The outermost import first; keep only where the package changes.
        names = list(reversed(chain))
        kept = [
            n
            for i, n in enumerate(names)
            if i == 0 or n.split(".")[0] != names[i - 1].split(".")[0]
        ]
        packages.append({"package": root, "self_ms": own / 1000, "first_imported_by": kept})
    top_level = sorted((r for r in rows if r[2] == 0), key=lambda r: -r[1])[:top]
    return {
        "total_ms": sum(r[0] for r in rows) / 1000,
        "modules": len(rows),
        "by_package": packages,
        "top_level": [{"module": r[3], "cumulative_ms": r[1] / 1000} for r in top_level],
    }


def profile_cli(python: Path, workspace: Path, scratch: Path) -> dict[str, Any]:
    """``-X importtime`` and cProfile of ``loopml run flow_loopml.py:ten``, fully cached."""
    loopml_bin = str(python.parent / "loopml")
    target = str(HERE / VARIANTS["ten"]["loopml"])
    env = loopml_env(scratch)
    cached = f"0 ran, {STEPS} cached"
    runs = []
    for _ in range(IMPORTTIME_RUNS):
        _, _, output = timed(
            [str(python), "-X", "importtime", loopml_bin, "run", target],
            cwd=workspace,
            env=env,
            check=cached,
        )
        runs.append(import_profile(parse_importtime(output)))
    imports = sorted(runs, key=lambda r: r["total_ms"])[(len(runs) - 1) // 2]
    imports["total_ms_of_runs"] = [r["total_ms"] for r in runs]

    # Twice, the first as a warm-up: `python -m cProfile` puts the current folder on
    # sys.path, which gives loopml's package-list cache a key of its own.
    stats_file = scratch / "loopml-run.prof"
    for _ in range(2):
        timed(
            [str(python), "-m", "cProfile", "-o", str(stats_file), loopml_bin, "run", target],
            cwd=workspace,
            env=env,
            check=cached,
        )
    done = run_checked(
        [str(python), str(HERE / "worker_loopml.py"), "summarize", str(stats_file), "25"],
        timeout=120,
        env=env,
        cwd=scratch,
    )
    calls: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"imports": imports, "cprofile": calls}


# -- the run -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per measure")
    parser.add_argument("--no-tables", action="store_true", help="skip the table variant")
    args = parser.parse_args(argv)
    runs = max(args.runs, 1)
    began = time.perf_counter()
    load_at_start = load_average()
    loopml_python = LOOPML_VENV / "bin" / "python"
    if not loopml_python.exists():
        say("no .venv: run `make bench-pipeline`, which makes it")
        return 2
    pythons: dict[str, Path] = {"loopml": loopml_python}
    mf_python, mf_missing = ensure_metaflow()
    errors: dict[str, str] = {}
    if mf_python is None:
        errors["metaflow"] = mf_missing
        say(mf_missing + "; measuring loopml only")
    else:
        pythons["metaflow"] = mf_python

    variants = ["ten"] if args.no_tables else list(VARIANTS)
    results: dict[str, dict[str, Any]] = {variant: {} for variant in variants}
    profile: dict[str, Any] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="loopml-bench-pipeline-") as scratch_name:
        scratch = Path(scratch_name)
        found_versions = {
            "loopml": versions(
                loopml_python, ("loopml", "sqlalchemy", "typer"), loopml_env(scratch)
            ),
        }
        if mf_python is not None:
            found_versions["metaflow"] = versions(
                mf_python, ("metaflow", "pandas"), metaflow_env(scratch, "versions")
            )
        say(f"interpreter start and import, {STARTUP_WARMUPS} warm-ups + {STARTUP_RUNS} runs")
        try:
            startup_found = startup(pythons, scratch)
        except (BenchError, OSError) as error:
            startup_found = {}
            say(f"  failed: {error}")
        for variant in variants:
            label = VARIANTS[variant]["label"]
            say(f"{label}: loopml in process")
            try:
                for measure, found in in_process(variant, loopml_python, scratch).items():
                    results[variant][f"inprocess-{measure}/loopml"] = found
            except (BenchError, OSError, ValueError) as error:
                say(f"  failed: {error}")
                results[variant]["inprocess-uncached_used/loopml"] = {"error": str(error)}
            say(f"{label}: fresh processes, {WARMUPS} warm-up + {runs} rounds")
            try:
                found_fresh, failed, workspace = fresh_processes(variant, pythons, scratch, runs)
            except (BenchError, OSError, subprocess.TimeoutExpired) as error:
                say(f"  failed: {error}")
                results[variant]["uncached/loopml"] = {"error": str(error)}
                continue
            results[variant].update(found_fresh)
            for tool, message in failed.items():
                results[variant][f"uncached/{tool}"] = {"error": message}
            if variant == "ten" and "cached/loopml" in found_fresh:
                say("profile of a fresh, fully cached `loopml run` (-X importtime, cProfile)")
                try:
                    profile = profile_cli(loopml_python, workspace, scratch)
                except (BenchError, OSError, ValueError, subprocess.TimeoutExpired) as error:
                    say(f"  failed: {error}")
                    profile = {"error": str(error)}

    load_at_end = load_average()  # the benchmark's own processes count here
    if load_at_start is not None and load_at_start > BUSY_LOAD:
        notes.append(
            f"the machine was busy when the run began (load average {load_at_start:.1f} on "
            f"{os.cpu_count()} cores): wall times are longer than on an idle machine; CPU "
            "times are less affected"
        )
    table = build_table(results, startup_found)
    verdicts = judge(results, startup_found)
    elapsed = time.perf_counter() - began
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "machine": {
            **machine(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": load_at_end,
        },
        "versions": found_versions,
        "source": source_state(),
        "settings": {
            "steps": STEPS,
            "runs": runs,
            "warmups": WARMUPS,
            "inprocess_runs": INPROCESS_RUNS,
            "inprocess_cached_runs": INPROCESS_CACHED_RUNS,
            "metaflow_requirements": list(METAFLOW_REQUIREMENTS),
            "metaflow_env": METAFLOW_ENV,
            "variants": {v: dict(VARIANTS[v]) for v in variants},
        },
        "startup": startup_found,
        "results": results,
        "targets": verdicts,
        "profile": profile,
        "notes": notes,
        "errors": errors,
        "table": table,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns(COLUMNS, table)
    for verdict in verdicts:
        print(f"{verdict['target']}: {verdict['verdict']} ({verdict.get('measured', '')})")
    print_profile(profile)
    for note in notes:
        print(f"note: {note}")
    for tool, message in errors.items():
        print(f"note: {TOOL_NAMES[tool]} not measured: {message}")
    print(f"took {elapsed:.0f} s; results in bench/results/pipeline-latest.json")
    return 0


# -- the verdicts, the table and the profile -----------------------------------------


def judge(
    results: dict[str, dict[str, Any]], startup_found: dict[str, dict[str, Any]]
) -> list[dict[str, str]]:
    ten = results.get("ten", {})
    tables = results.get("tables", {})
    verdicts: list[dict[str, str]] = []

    def verdict(target: str, reading: str, seconds: float | None, limit: float, per: int) -> None:
        if seconds is None:
            verdicts.append({"target": target, "reading": reading, "verdict": "not measured"})
            return
        value = seconds / per
        verdicts.append(
            {
                "target": target,
                "reading": reading,
                "verdict": "met" if value < limit else "MISSED",
                "measured": f"{reading}: {value * 1000:.1f} ms",
            }
        )

    def median(key: str) -> float | None:
        found = ten.get(key, {})
        return float(found["value"]) if "value" in found else None

    step = f"< {TARGET_STEP_S * 1000:.0f} ms per uncached step"
    for reading, key in (
        ("in process, used workspace", "inprocess-uncached_used/loopml"),
        ("in process, fresh workspace", "inprocess-uncached_fresh/loopml"),
        ("whole `loopml run` process / 10", "uncached/loopml"),
    ):
        verdict(step, reading, median(key), TARGET_STEP_S, STEPS)
    cached = f"< {TARGET_CACHED_S:.1f} s for a cached 10-step re-run"
    verdict(cached, "in process", median("inprocess-cached/loopml"), TARGET_CACHED_S, 1)
    verdict(cached, "whole `loopml run` process", median("cached/loopml"), TARGET_CACHED_S, 1)
    whole = tables.get("cached/loopml", {}).get("value")
    verdict(cached + " (tables)", "whole `loopml run` process", whole, TARGET_CACHED_S, 1)
    return verdicts


ROWS = (
    ("uncached/", "uncached 10-step run, whole fresh process", "run"),
    ("uncached/", "  the same, per step (/ 10)", "step"),
    ("inprocess-uncached_used/", "uncached run in process, used workspace, per step", "step"),
    ("inprocess-uncached_fresh/", "uncached run in process, fresh workspace, per step", "step"),
    ("cached/", "cached re-run, whole fresh process (Metaflow: resume)", "run"),
    ("inprocess-cached/", "cached re-run in process", "run"),
)


def build_table(
    results: dict[str, dict[str, Any]], startup_found: dict[str, dict[str, Any]]
) -> list[dict[str, str]]:
    lines: list[dict[str, str]] = []

    def cell(found: dict[str, Any] | None, per: int) -> str:
        if found is None:
            return "—"
        if "error" in found:
            error = str(found["error"])
            return "not measured: " + (error if len(error) <= 80 else error[:77] + "...")
        value, low, high, cpu = (found[k] / per * 1000 for k in ("value", "min", "max", "cpu"))
        return f"{value:,.1f} ms ({low:,.1f} to {high:,.1f}), CPU {cpu:,.1f}"

    def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "value") -> str:
        if not a or not b or key not in a or key not in b:
            return ""
        return f"{a[key] / b[key]:.1f}x"

    for measure, label in (
        ("python", "python -c pass"),
        ("import", "import <tool>"),
        ("pandas", "import pandas (the table pipeline's own import)"),
    ):
        mine, theirs = (
            startup_found.get(f"{measure}/loopml"),
            startup_found.get(f"{measure}/metaflow"),
        )
        lines.append(
            {
                "variant": "",
                "measure": f"{label} (fresh process)",
                "loopml": cell(mine, 1),
                "metaflow": cell(theirs, 1),
                "ratio": ratio(theirs, mine),
                "cpu_ratio": ratio(theirs, mine, "cpu"),
            }
        )
    for variant, found in results.items():
        for prefix, label, kind in ROWS:
            per = STEPS if kind == "step" else 1
            mine, theirs = found.get(prefix + "loopml"), found.get(prefix + "metaflow")
            if mine is None and theirs is None:
                continue
            inprocess = prefix.startswith("inprocess")
            lines.append(
                {
                    "variant": variant,
                    "measure": label,
                    "loopml": cell(mine, per),
                    "metaflow": "(no in-process runner)" if inprocess else cell(theirs, per),
                    "ratio": "" if inprocess else ratio(theirs, mine),
                    "cpu_ratio": "" if inprocess else ratio(theirs, mine, "cpu"),
                }
            )
    # Metaflow's whole-process figures against loopml's in-process ones.
    for variant, found in results.items():
        pairs = (
            ("uncached/metaflow", "inprocess-uncached_used/loopml", "per uncached step"),
            ("cached/metaflow", "inprocess-cached/loopml", "cached re-run"),
        )
        for theirs_key, mine_key, what in pairs:
            r = ratio(found.get(theirs_key), found.get(mine_key))
            r_cpu = ratio(found.get(theirs_key), found.get(mine_key), "cpu")
            if r:
                lines.append(
                    {
                        "variant": variant,
                        "measure": f"{what}: Metaflow (whole process) / loopml (in process)",
                        "loopml": "",
                        "metaflow": "",
                        "ratio": r,
                        "cpu_ratio": r_cpu,
                    }
                )
    return lines


COLUMNS = {
    "variant": "variant",
    "measure": "measure: median wall (min to max), median CPU",
    "loopml": "loopml",
    "metaflow": "Metaflow",
    "ratio": "Metaflow / loopml",
    "cpu_ratio": "CPU ratio",
}


def print_profile(profile: dict[str, Any]) -> None:
    if not profile:
        return
    if "error" in profile:
        print(f"profile: not measured: {profile['error']}")
        return
    imports = profile["imports"]
    print()
    print(
        f"fresh `loopml run flow_loopml.py:ten`, fully cached: {imports['modules']} modules "
        f"imported, {imports['total_ms']:.0f} ms of import time (-X importtime, median of "
        f"{IMPORTTIME_RUNS})"
    )
    for package in imports["by_package"]:
        chain = " > ".join(package["first_imported_by"])
        print(f"  {package['package']:<16} {package['self_ms']:7.1f} ms   via {chain}")
    cprofile = profile["cprofile"]
    print()
    print(f"cProfile of the same command: {cprofile['total_s'] * 1000:.0f} ms under the profiler")
    for phase in cprofile["phases"]:
        print(f"  {phase['cumtime_s'] * 1000:7.1f} ms  {phase['phase']}")
    print()


if __name__ == "__main__":
    sys.exit(main())
