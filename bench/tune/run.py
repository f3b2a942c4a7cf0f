"""Tuning benchmarks: loopml.tune's per-trial overhead against plain Optuna with the
same storage type (a journal file), and TPE against random search on an objective
where the hyper-parameters matter. Run with ``make bench-tune``.

Plain Optuna runs in its own venv (``.venv-bench-optuna``, made here when missing);
loopml in ``.venv``. Prints a table and writes ``bench/results/tune.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
from _tools import BenchError, ensure_venv, machine, print_columns, run_checked, say

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench" / "results"
LOOPML_PYTHON = ROOT / ".venv" / "bin" / "python"
OPTUNA_VENV = ROOT / ".venv-bench-optuna"
OPTUNA_REQUIREMENTS = ("optuna==5.0.0",)
TRIALS = 300
REPEATS = 5
TIMEOUT_S = 1_800


def worker(python: Path, script: str, *args: str) -> dict[str, Any]:
    done = run_checked(
        [str(python), str(HERE / script), *args],
        timeout=TIMEOUT_S,
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE)},
        capture_output=True,
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> int:
    began = time.perf_counter()
    optuna_python, missing = ensure_venv(
        OPTUNA_VENV, OPTUNA_REQUIREMENTS, probe="import optuna", env={}, name="Optuna"
    )
    if optuna_python is None:
        say(f"{missing}; cannot compare")
        return 2
    say(f"per-trial time, trivial objective, {TRIALS} TPE trials, {REPEATS} rounds")
    loopml_ms, optuna_ms, memory_ms = [], [], []
    try:
        for _ in range(REPEATS):
            loopml_ms.append(worker(LOOPML_PYTHON, "worker_loopml.py", "overhead", str(TRIALS)))
            optuna_ms.append(worker(optuna_python, "worker_optuna.py", str(TRIALS)))
    except (BenchError, subprocess.TimeoutExpired) as error:
        say(f"failed: {error}")
        return 1
    loopml_trial = statistics.median(r["journal_ms"] for r in loopml_ms)
    optuna_trial = statistics.median(r["journal_ms"] for r in optuna_ms)
    memory_ms = [r["memory_ms"] for r in optuna_ms]
    say("TPE against 100 random trials, RBF SVM C and gamma, 5 seeds")
    quality = worker(LOOPML_PYTHON, "worker_loopml.py", "quality")
    seeds = quality["seeds"]
    reached = [s["tpe_trials_to_random_best"] for s in seeds]
    capped = [r if r is not None else quality["tpe_cap"] + 1 for r in reached]
    random_own = [s["random_trials_to_best"] for s in seeds]
    extra = loopml_trial - optuna_trial
    lines = [
        {
            "measure": "per trivial trial, plain Optuna, journal file",
            "value": f"{optuna_trial:.2f} ms",
            "note": f"in memory: {statistics.median(memory_ms):.2f} ms",
        },
        {
            "measure": "per trivial trial, loopml.tune (journal + a run per trial)",
            "value": f"{loopml_trial:.2f} ms",
            "note": f"+{extra:.2f} ms, {extra / optuna_trial:+.0%} of Optuna's (target +10%)",
        },
        {
            "measure": "trials for TPE to reach the best of 100 random trials",
            "value": f"mean {statistics.fmean(capped):.1f}",
            "note": f"per seed {reached} (None: not within {quality['tpe_cap']})",
        },
        {
            "measure": "trial at which random search found its own best",
            "value": f"mean {statistics.fmean(random_own):.1f}",
            "note": f"per seed {random_own}",
        },
        {
            "measure": "best accuracy, TPE / random (mean of 5 seeds)",
            "value": f"{statistics.fmean(s['tpe_best'] for s in seeds):.4f} / "
            f"{statistics.fmean(s['random_best'] for s in seeds):.4f}",
            "note": "3-fold CV, fixed folds",
        },
    ]
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 1),
        "machine": machine(),
        "trials": TRIALS,
        "repeats": REPEATS,
        "loopml": loopml_ms,
        "optuna": optuna_ms,
        "quality": quality,
        "table": lines,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tune.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns({"measure": "measure", "value": "value", "note": "note"}, lines)
    print(f"took {report['duration_s']:.0f} s; results in bench/results/tune.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
