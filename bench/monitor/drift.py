"""What monitoring a month of traffic costs: loopml beside NannyML and Evidently.

The workload (``_drift_data.py``, written once into ``bench/results/monitor/`` and
reused): a million one-row predictions of 20 numeric inputs logged through loopml's
prediction log, feedback on four in five through its feedback log, drift planted from
day 20, and the training rows and the same traffic as Parquet for the rivals.

Each tool runs in a fresh process of its own venv, ``--repeats`` times (3 by default):

- loopml (``worker_drift_loopml.py``): the month's predictions joined with their
  feedback, live metrics per day, and drift per day: every input and the predictions
  against the training rows and against the day before, with p-values (Holm) and
  effect sizes. Drift reads the prediction segments' hour summaries, made once in a
  segment's life by the first drift computation that reads it: ``loopml-first`` is
  that first report, on a copy of the workspace without summaries (what making them
  costs, paid once), ``loopml`` a report on a copy that has them (what every later
  report costs);
- NannyML (``bench/.venvs/nannyml``): ``UnivariateDriftCalculator`` over the same 21
  columns with daily chunks, fitted on the same training rows: at its defaults
  (Jensen-Shannon), and with the measures loopml reports for each column
  (``nannyml-all``);
- Evidently (``bench/.venvs/evidently``): ``DataDriftPreset`` on each day against the
  same training rows.

The rivals read Parquet files and only compare with the training rows; loopml reads its
logs, joins the feedback, computes the metrics and both comparisons. Measured: the
process's CPU (user + system, every thread: the driver's ``RUSAGE_CHILDREN`` before
and after it) and wall time, the median
of the repeats; and each tool's alarms against the planted drift. Writes
``bench/results/monitor/drift.json`` and prints a table. ``make bench-monitor`` runs it.

    python bench/monitor/drift.py [--repeats 3]
        [--tools loopml-first,loopml,nannyml,nannyml-all,evidently]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
import _drift_data as data  # noqa: E402

from _tools import ROOT, BenchError, ensure_venv, load_average, machine, print_columns, say  # noqa: E402

VENVS = HERE.parent / ".venvs"
# The pins of bench/data/decisions.py's rivals.
REQUIREMENTS = {
    "nannyml": ["nannyml==0.13.1", "statsmodels==0.15.0", "pandas==3.1.1", "pyarrow==26.0.1"],
    "evidently": ["evidently==0.7.23", "pandas==2.3.3", "pyarrow==26.0.1"],
}
PROBES = {"nannyml": "import nannyml", "evidently": "from evidently.presets import DataDriftPreset"}
ENV = {
    "loopml": {},
    "loopml-first": {},
    "nannyml": {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "true"},
    "evidently": {"DO_NOT_TRACK": "true", "ITERATIVE_DO_NOT_TRACK": "true"},
}
NAMES = {
    "loopml-first": "loopml, first report: the segments' hour summaries made",
    "loopml": "loopml: join, daily metrics, drift vs training and previous day",
    "nannyml": "NannyML UnivariateDriftCalculator, daily chunks",
    "nannyml-all": "NannyML, loopml's measures (KS, Wasserstein, JS; chi2, L-inf)",
    "evidently": "Evidently DataDriftPreset, one report a day",
}
WORKERS = {"nannyml-all": ("nannyml", ["--all-measures"]), "loopml-first": ("loopml", [])}
COPY = data.RESULTS / "workspace-run"  # the workspace loopml's runs read and write
SUMMARIZED = ".summarized"  # in COPY: its segments' hour summaries are made
TIMEOUT_S = 3600


def python_of(tool: str) -> Path:
    if tool.startswith("loopml"):
        return Path(sys.executable)
    python, why = ensure_venv(
        VENVS / tool, REQUIREMENTS[tool], probe=PROBES[tool], env=ENV[tool], name=tool
    )
    if python is None:
        raise BenchError(why)
    return python


def prepared(tool: str, python: Path) -> list[str]:
    """The worker's arguments after the results folder, its workspace made for it now:
    before the run's CPU is counted (making the summaries is a process of its own)."""
    worker, extra = WORKERS.get(tool, (tool, []))
    if worker != "loopml":
        return extra
    first = tool == "loopml-first"
    return [str(fresh_copy() if first else summarized_copy(python))] + (
        ["--first"] if first else []
    )


def run_once(tool: str, python: Path, extra: list[str]) -> dict[str, Any]:
    """One run of a tool's worker: what it printed, and its process's CPU and wall time."""
    worker = WORKERS.get(tool, (tool, []))[0]
    env = {**os.environ, **ENV[worker]}
    if worker == "loopml":
        env["PYTHONPATH"] = str(ROOT / "src")
    command = [str(python), str(HERE / f"worker_drift_{worker}.py"), str(data.RESULTS), *extra]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise BenchError(f"{tool} took longer than {TIMEOUT_S} s") from None
    wall = time.perf_counter() - started
    if tool == "loopml-first" and process.returncode == 0:
        (COPY / SUMMARIZED).touch()
    if process.returncode != 0:
        lines = err.strip().splitlines()
        raise BenchError(f"{tool} exited {process.returncode}: {lines[-1] if lines else ''}")
    found = json.loads(out.strip().splitlines()[-1])
    found["wall_s"] = wall
    return found


def fresh_copy() -> Path:
    """:data:`COPY`, made now (not timed) from the workload's workspace: no summaries."""
    import shutil

    if COPY.exists():
        shutil.rmtree(COPY)
    shutil.copytree(data.WORKSPACE, COPY)
    return COPY


def summarized_copy(python: Path) -> Path:
    """:data:`COPY` with every segment's hour summaries (made now if it has none):
    what a later report reads."""
    if (COPY / SUMMARIZED).exists():
        return COPY
    fresh_copy()
    code = (
        "import loopml; from loopml.monitor import drift_windows; "
        f"drift_windows('churn', store=True, workspace=loopml.workspace({str(COPY)!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([str(python), "-c", code], env=env, check=True, timeout=TIMEOUT_S)
    (COPY / SUMMARIZED).touch()
    return COPY


def measured(tool: str, repeats: int) -> dict[str, Any]:
    import resource

    python = python_of(WORKERS.get(tool, (tool, []))[0])
    runs = []
    for _ in range(repeats):
        extra = prepared(tool, python)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        found = run_once(tool, python, extra)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        found["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        found["load"] = load_average()
        runs.append(found)
        say(f"  {tool}: CPU {found['cpu_s']:.2f} s, wall {found['wall_s']:.2f} s")
    return {
        "runs": runs,
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "work_cpu_s": statistics.median(r["work_cpu_s"] for r in runs),
        "alerts": runs[-1]["alerts"],
        "version": runs[-1]["version"],
    }


def planted() -> set[tuple[int, str]]:
    """The (day, input) pairs drift was planted in."""
    shifted = {(d, f"f{j}") for d in range(data.SHIFT_DAY, data.DAYS) for j in range(data.SHIFTED)}
    return shifted | {(d, f"f{data.SHIFTED}") for d in range(data.SPREAD_DAY, data.DAYS)}


def scored(alerts: list[list[Any]]) -> dict[str, int]:
    """Alarms on inputs: of the planted pairs, found; and on unchanged inputs."""
    inputs = {(int(day), column) for day, column in alerts if column != "predictions"}
    return {
        "planted": len(planted()),
        "found": len(inputs & planted()),
        "false_alarms": len(inputs - planted()),
        "prediction_alarms": sum(1 for _, column in alerts if column == "predictions"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--tools",
        default="loopml-first,loopml,nannyml,nannyml-all,evidently",
        help="comma-separated",
    )
    args = parser.parse_args()
    if not data.ready():
        say("writing the workload: a million predictions through the logs (a few minutes)")
        data.make(say)
    out = data.RESULTS / "drift.json"
    # the tools not run now keep their last results (Evidently's runs take minutes)
    earlier = json.loads(out.read_text()).get("results", {}) if out.exists() else {}
    results: dict[str, Any] = {t: earlier[t] for t in NAMES if t in earlier}
    for tool in args.tools.split(","):
        say(f"{NAMES[tool]} ({args.repeats} runs)")
        try:
            results[tool] = measured(tool, args.repeats)
            results[tool]["alarms"] = scored(results[tool]["alerts"])
            results[tool]["when"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        except BenchError as error:
            say(f"  {tool}: {error}")
            results[tool] = {"error": str(error)}
    base = results.get("loopml", {}).get("cpu_s")
    lines = []
    for tool, found in results.items():
        if "error" in found:
            lines.append({"tool": NAMES[tool], "error": found["error"]})
            continue
        alarms = found["alarms"]
        lines.append(
            {
                "tool": NAMES[tool],
                "cpu": f"{found['cpu_s']:.1f}",
                "wall": f"{found['wall_s']:.1f}",
                "ratio": f"{found['cpu_s'] / base:.1f}x" if base else "-",
                "found": f"{alarms['found']}/{alarms['planted']}",
                "false": str(alarms["false_alarms"]),
            }
        )
    print_columns(
        {
            "tool": "tool",
            "cpu": "CPU s",
            "wall": "wall s",
            "ratio": "CPU / loopml's",
            "found": "planted found",
            "false": "other input alarms",
        },
        lines,
    )
    out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "workload": data.settings(),
                "repeats": args.repeats,
                "results": results,
            },
            indent=2,
        )
    )
    say(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
