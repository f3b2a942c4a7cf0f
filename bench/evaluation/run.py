"""How long ``loopml.evaluation.evaluate`` takes on 100,000 rows, side by side with
Evidently's classification report and MLflow's ``mlflow.models.evaluate``.

loopml's whole run: metrics and 1,000 bootstrap resamples, the baseline, slices
(default columns and a user slice), perturbation, calibration, latency and size, flips
against a second model, the overlap check against 100,000 training rows, and the stored
record. Then loopml with all it can leave out left out, nearer to what the rivals
compute; then Evidently's ``ClassificationPreset`` (in ``.venv-bench-evidently``) and
MLflow's default classifier evaluation (in ``.venv-bench-mlflow``), each venv the one
the data and foundation benchmarks make, with the scikit-learn of ``.venv`` added.

Two scikit-learn models, each the other's champion: a histogram gradient-boosting
classifier (100 trees) and a logistic regression, both behind a one-hot encoder. The
driver makes the rows and fits the models once, into a temporary folder (Parquet and
pickles); every tool reads those same files in a fresh process of its own, and times
its import, a first call and ``--repeats`` more (see ``_worker.py``). loopml's worker
also splits one more run by step under cProfile. Run with ``make bench-evaluation``;
prints a table and writes ``bench/results/evaluation.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
import _data

from _tools import (
    RESULTS,
    ROOT,
    BenchError,
    ensure_venv,
    load_average,
    machine,
    print_columns,
    run_checked,
    say,
)

HERE = Path(__file__).resolve().parent
ROWS = 100_000
REPEATS = 3
WORKER_TIMEOUT_S = 900
BUSY_LOAD = 0.5  # a 1-minute load average above this at the start gets a note
TOOL_NAMES = {
    "loopml": "loopml, whole run",
    "loopml-subset": "loopml, subset",
    "evidently": "Evidently ClassificationPreset",
    "mlflow": "MLflow evaluate",
}


@dataclass(frozen=True)
class Case:
    tool: str  # a key of TOOL_NAMES
    model: str  # a key of _data.MODELS

    @property
    def worker(self) -> str:
        return self.tool.removesuffix("-subset")


CASES = [Case(tool, model) for model in _data.MODELS for tool in TOOL_NAMES]


# -- the rivals' venvs: those of the other benchmarks, plus our scikit-learn ---------


def loaded(script: Path, name: str) -> ModuleType:
    """Another benchmark's driver as a module, for its pins: one venv, one set of pins."""
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rival_venvs() -> dict[str, dict[str, Any]]:
    """Each rival's venv, pins and environment. The models are pickles of this
    process's scikit-learn, so each venv gets that same version: the one fitted model
    is what every tool evaluates (refitting would not give it: the boosted trees' early
    stopping draws a random validation split). The added pin makes the venv's stamp
    differ from the other benchmark's, so whichever of the two runs next re-runs
    ``pip install``, which finds everything in place."""
    import sklearn

    same_sklearn = f"scikit-learn=={sklearn.__version__}"
    data_bench = loaded(ROOT / "bench" / "data" / "run.py", "bench_data_driver")
    foundation = loaded(ROOT / "bench" / "run.py", "bench_foundation_driver")
    return {
        "evidently": {
            "venv": data_bench.EVIDENTLY_VENV,
            "requirements": (*data_bench.EVIDENTLY_REQUIREMENTS, same_sklearn),
            "env": data_bench.EVIDENTLY_ENV,
            "probe": "import evidently, pandas, pyarrow, sklearn",
            "name": "Evidently",
        },
        "mlflow": {
            "venv": foundation.MLFLOW_VENV,
            "requirements": (*foundation.MLFLOW_REQUIREMENTS, same_sklearn),
            "env": foundation.MLFLOW_ENV,
            "probe": "import mlflow, pandas, pyarrow, sklearn",
            "name": "MLflow",
        },
    }


def pythons(rivals: dict[str, dict[str, Any]]) -> tuple[dict[str, Path], dict[str, str]]:
    """The python of each tool's venv, and why a rival has none."""
    found = {"loopml": ROOT / ".venv" / "bin" / "python"}
    missing = {}
    for tool, rival in rivals.items():
        python, why = ensure_venv(
            rival["venv"],
            rival["requirements"],
            probe=rival["probe"],
            env=rival["env"],
            name=rival["name"],
        )
        if python is None:
            missing[tool] = why
            say(why)
        else:
            found[tool] = python
    return found, missing


# -- the workers ---------------------------------------------------------------------


def measured(
    case: Case, python: Path, inputs: Path, repeats: int, env: dict[str, str]
) -> dict[str, Any]:
    flags = ["--subset"] if case.tool.endswith("-subset") else []
    command = [str(python), str(HERE / f"worker_{case.worker}.py"), str(inputs)]
    try:
        done = run_checked(
            [*command, case.model, str(repeats), *flags],
            timeout=WORKER_TIMEOUT_S,
            env={**os.environ, **env},
            cwd=inputs,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{TOOL_NAMES[case.tool]} took over {WORKER_TIMEOUT_S} s") from None
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    found["median_s"] = statistics.median(found["seconds"])
    found["median_cpu_s"] = statistics.median(found["cpu_seconds"])
    found["import_and_first_call_s"] = found["import_s"] + found["first_call_s"]
    return found


def run_cases(
    found_pythons: dict[str, Path], rivals: dict[str, dict[str, Any]], inputs: Path, repeats: int
) -> dict[Case, dict[str, Any]]:
    results: dict[Case, dict[str, Any]] = {}
    for case in CASES:
        python = found_pythons.get(case.worker)
        if python is None:
            continue
        say(f"{TOOL_NAMES[case.tool]}: {_data.MODELS[case.model]}, 1 + {repeats} calls")
        env = rivals.get(case.worker, {}).get("env", {})
        load = load_average()  # other work on the machine shows here, case by case
        try:
            results[case] = {**measured(case, python, inputs, repeats, env), "load_before": load}
        except (BenchError, OSError, ValueError, KeyError) as error:
            say(f"  failed: {error}")
            results[case] = {"error": str(error)}
            continue
        say(f"  {results[case]['median_s']:.2f} s a call")
    return results


# -- the table -----------------------------------------------------------------------

COLUMNS = {
    "model": "model",
    "tool": "tool",
    "call": "call (median)",
    "cpu": "CPU",
    "cold": "import + 1st call",
    "vs_whole": "vs loopml whole",
    "vs_subset": "vs loopml subset",
    "note": "note",
}


def note(tool: str, found: dict[str, Any]) -> str:
    computed = found["computed"]
    if tool.startswith("loopml"):
        steps = sorted(found["steps_seconds"].items(), key=lambda item: -item[1])[:3]
        return "slowest steps " + ", ".join(f"{step} {took:.2f} s" for step, took in steps)
    if tool == "evidently":
        parts = {part: statistics.median(s[1:]) for part, s in found["parts_seconds"].items()}
        return (
            f"predictions {parts['predictions']:.2f} s + report {parts['report']:.2f} s; "
            f"{len(computed['metrics'])} metrics; HTML {found['html_s']:.2f} s more"
        )
    return f"{len(computed['metrics'])} metrics, {len(computed['artifacts'])} plots and tables"


def times(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio < 1 else f"{ratio:.1f}x"


def table(results: dict[Case, dict[str, Any]]) -> list[dict[str, str]]:
    lines = []
    for case, found in results.items():
        line = {"model": _data.MODELS[case.model], "tool": TOOL_NAMES[case.tool]}
        if "error" in found:
            lines.append({**line, "call": f"not measured: {found['error'][:110]}"})
            continue
        ratios = {}
        for column, base in (("vs_whole", "loopml"), ("vs_subset", "loopml-subset")):
            other = results.get(Case(base, case.model), {}).get("median_s")
            ratios[column] = times(found["median_s"] / other) if other else ""
        lines.append(
            {
                **line,
                "call": f"{found['median_s']:.2f} s",
                "cpu": f"{found['median_cpu_s']:.2f} s",
                "cold": f"{found['import_and_first_call_s']:.2f} s",
                **ratios,
                "note": note(case.tool, found),
            }
        )
    return lines


def agreement(results: dict[Case, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each tool's accuracy and ROC AUC for each model: the same models on the same rows
    should give the same numbers in every tool."""
    found: dict[str, dict[str, Any]] = {}
    for case, result in results.items():
        if "computed" in result:
            computed = result["computed"]
            found.setdefault(_data.MODELS[case.model], {})[case.tool] = {
                "accuracy": computed.get("accuracy"),
                "roc_auc": computed.get("roc_auc"),
            }
    return found


# -- the run -------------------------------------------------------------------------


def loopml_runs(results: dict[Case, dict[str, Any]]) -> dict[str, Any]:
    """loopml's whole runs, by model, in the form the earlier results had."""
    runs = {}
    for case, found in results.items():
        if case.tool == "loopml" and "error" not in found:
            runs[_data.MODELS[case.model]] = {
                "seconds": found["seconds"],
                "profiled_seconds": found["profiled_seconds"],
                "steps_seconds": found["steps_seconds"],
                "slices": found["computed"]["slices"],
                "latency_ms": found["computed"]["latency_ms"],
                "accuracy": found["computed"]["accuracy"],
            }
    return runs


def busy_note(load: float | None) -> list[str]:
    if load is None or load <= BUSY_LOAD:
        return []
    return [
        f"the machine was busy when the run began (load average {load:.1f} on "
        f"{os.cpu_count()} cores): the times are longer than on an idle machine"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1: the table shows their median")
    began, load_before = time.perf_counter(), load_average()
    rivals = rival_venvs()
    found_pythons, missing = pythons(rivals)
    with tempfile.TemporaryDirectory(prefix="loopml-bench-evaluation-") as folder:
        inputs = Path(folder)
        say(f"making {args.rows:,} training and {args.rows:,} evaluation rows, fitting two models")
        _data.write_inputs(inputs, args.rows)
        results = run_cases(found_pythons, rivals, inputs, args.repeats)
    lines = table(results)
    notes = busy_note(load_before)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 1),
        "machine": machine(),
        "load_average": {"before": load_before, "after": load_average()},
        "rows": args.rows,
        "repeats": args.repeats,
        "settings": {
            tool: {"requirements": list(rival["requirements"]), "env": rival["env"]}
            for tool, rival in rivals.items()
        },
        "versions": {
            case.worker: found["versions"] for case, found in results.items() if "versions" in found
        },
        "missing": missing,
        "notes": notes,
        "runs": loopml_runs(results),
        "results": [
            {"tool": case.tool, "model": _data.MODELS[case.model], **found}
            for case, found in results.items()
        ],
        "agreement": agreement(results),
        "table": lines,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns(COLUMNS, lines)
    for model, tools in report["agreement"].items():
        shown = ", ".join(f"{tool} {found['accuracy']:.4f}" for tool, found in tools.items())
        print(f"accuracy of {model}: {shown}")
    for tool, why in missing.items():
        print(f"note: {TOOL_NAMES[tool]} not measured: {why}")
    for line in notes:
        print(f"note: {line}")
    print(f"took {report['duration_s']:.0f} s; results in bench/results/evaluation.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
