"""loopml's data decisions on real tables, side by side with Evidently's DataDriftPreset
and NannyML's univariate drift calculator: false alarms over random splits, power on
planted changes (at each tool's defaults and at loopml's false-alarm rate), and time
per split.

Run with ``make bench-decisions`` (or ``python bench/data/decisions.py [--splits N]
[--rival-splits N] [--tools loopml,evidently,nannyml]``): 200 splits per cell for
loopml and 50 for the rivals by default, about 90 minutes here, nearly all Evidently.

The splits come from ``tests/data/real_decisions.py`` (the instrument the tests use),
written once per cell into ``bench/results/decisions/`` as Parquet; each tool's worker
reads the same files in its own process and venv (loopml in ``.venv``, Evidently in
``.venv-bench-evidently``, NannyML in ``.venv-bench-nannyml``, made here when
missing). Prints two tables and writes ``bench/results/decisions-latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # bench/, for _tools
sys.path.insert(0, str(ROOT / "tests" / "data"))  # the instrument
from _tools import (  # noqa: E402
    BenchError,
    ensure_venv,
    load_average,
    machine,
    print_columns,
    run_checked,
    say,
)

RESULTS = ROOT / "bench" / "results"
CELLS = RESULTS / "decisions"
VENVS = {
    "loopml": ROOT / ".venv",
    "evidently": ROOT / ".venv-bench-evidently",
    "nannyml": ROOT / ".venv-bench-nannyml",
}
# The same pins as bench/data/run.py's Evidently.
EVIDENTLY_REQUIREMENTS = ("evidently==0.7.23", "pandas==2.3.3", "pyarrow==26.0.1")
# NannyML 0.13.1 imports statsmodels without declaring it; these install together here.
NANNYML_REQUIREMENTS = (
    "nannyml==0.13.1",
    "statsmodels==0.15.0",
    "pandas==3.1.1",
    "pyarrow==26.0.1",
)
# Evidently's telemetry is off with DO_NOT_TRACK; NannyML's usage logging with its own.
ENV = {
    "evidently": {"DO_NOT_TRACK": "true", "ITERATIVE_DO_NOT_TRACK": "true"},
    "nannyml": {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "true"},
    "loopml": {},
}
NAMES = {"loopml": "loopml", "evidently": "Evidently", "nannyml": "NannyML"}
WORKER_TIMEOUT_S = 6 * 3600


# -- the split files -----------------------------------------------------------------


def write_cells(splits: int) -> dict[str, Any]:
    """Every cell's splits as one Parquet file; reused while the instrument and the
    number of splits are unchanged."""
    import polars as pl
    import real_decisions as harness
    import real_tables

    stamp = hashlib.sha256()
    for source in (harness.__file__, real_tables.__file__):
        stamp.update(Path(str(source)).read_bytes())
    key = f"{stamp.hexdigest()[:16]}-{splits}"
    manifest_path = CELLS / "manifest.json"
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if manifest.get("key") == key and all(Path(c["file"]).exists() for c in manifest["cells"]):
            say(f"reusing the split files in {CELLS.relative_to(ROOT)}")
            return manifest
    CELLS.mkdir(parents=True, exist_ok=True)
    cells: list[dict[str, Any]] = []

    def save(cell_id: str, pairs: list[tuple[pl.DataFrame, pl.DataFrame]], **facts: Any) -> None:
        parts = [
            half.with_columns(pl.lit(trial).alias("__trial"), pl.lit(side).alias("__side"))
            for trial, pair in enumerate(pairs)
            for side, half in zip(("reference", "current"), pair, strict=True)
        ]
        path = CELLS / f"{cell_id}.parquet"
        pl.concat(parts).write_parquet(path)
        cells.append({"id": cell_id, "file": str(path), **facts})

    for name, table in real_tables.TABLES.items():
        for rows in harness.sizes_of(name):
            say(f"writing {splits} splits of {name} at {rows:,} rows a side")
            pairs = [harness.random_split(name, rows, t) for t in range(splits)]
            save(f"{name}-{rows}", pairs, kind="null", table=name, rows=rows, label=table.label)
    for number, case in enumerate(harness.PLANTED):
        say(f"writing {splits} splits of: {case.name}")
        label = real_tables.TABLES[case.table].label
        facts = {"table": case.table, "rows": case.rows, "label": label, "case": case.name}
        null = f"{case.table}-{case.rows}"
        if case.kind == "label_shift":
            null = f"control-{number}"
            pairs = [harness.planted_split(case, t, plant=False) for t in range(splits)]
            save(null, pairs, kind="null", **facts)
        pairs = [harness.planted_split(case, t) for t in range(splits)]
        save(f"planted-{number}", pairs, kind="planted", column=case.column, null=null, **facts)
    manifest = {"key": key, "splits": splits, "cells": cells}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# -- the workers ---------------------------------------------------------------------


def python_of(tool: str) -> tuple[Path | None, str]:
    if tool == "loopml":
        python = VENVS["loopml"] / "bin" / "python"
        return (python, "") if python.exists() else (None, "no .venv: run make bench-decisions")
    requirements = EVIDENTLY_REQUIREMENTS if tool == "evidently" else NANNYML_REQUIREMENTS
    return ensure_venv(
        VENVS[tool],
        requirements,
        probe=f"import {tool}, pyarrow",
        env=ENV[tool],
        name=NAMES[tool],
    )


def run_worker(tool: str, python: Path, manifest: Path, splits: int) -> dict[str, Any]:
    import os

    out = RESULTS / f"decisions-{tool}.jsonl"
    began = time.perf_counter()
    done = run_checked(
        [
            str(python),
            str(HERE / f"worker_decisions_{tool}.py"),
            str(manifest),
            str(out),
            str(splits),
        ],
        timeout=WORKER_TIMEOUT_S,
        env={**os.environ, **ENV[tool]},
        cwd=HERE,
    )
    cells = {}
    for line in out.read_text().splitlines():
        found = json.loads(line)
        cells[found.pop("cell")] = found
    versions = json.loads(done.stdout.strip().splitlines()[-1])
    return {"cells": cells, "versions": versions, "wall_s": time.perf_counter() - began}


# -- the rates -----------------------------------------------------------------------


def rate(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def null_scores(trials: list[dict[str, Any]]) -> list[float]:
    return [max(t["scores"].values(), default=0.0) for t in trials]


def matched_power(null: list[float], planted: list[float], target: float) -> float | None:
    """Power when the tool's score is thresholded to raise ``target`` false alarms: the
    threshold is the smallest score above which at most ``target`` of the nulls lie."""
    if not null or not planted:
        return None
    ordered = sorted(null, reverse=True)
    allowed = int(target * len(ordered) + 1e-9)
    threshold = ordered[allowed] if allowed < len(ordered) else -float("inf")
    return sum(score > threshold for score in planted) / len(planted)


def summarize(manifest: dict[str, Any], tools: dict[str, dict[str, Any]]) -> dict[str, Any]:
    import real_decisions as harness

    cases = {case.name: case for case in harness.PLANTED}
    loopml = tools.get("loopml", {}).get("cells", {})
    nulls: dict[str, dict[str, Any]] = {}
    powers: dict[str, dict[str, Any]] = {}
    for cell in manifest["cells"]:
        if cell["kind"] == "null":
            row: dict[str, Any] = {}
            for tool, found in tools.items():
                trials = found["cells"].get(cell["id"], {}).get("trials", [])
                row[tool] = {
                    "splits": len(trials),
                    "alarmed": rate([bool(t["alarms"]) for t in trials]),
                    "seconds_per_split": statistics.median(t["seconds"] for t in trials)
                    if trials
                    else None,
                }
                if tool == "loopml":
                    row[tool]["failed"] = rate([t["failed"] for t in trials])
                if tool == "evidently":
                    row[tool]["dataset_drift"] = rate([t["dataset_drift"] for t in trials])
                if "thresholds" in found["cells"].get(cell["id"], {}):
                    row[tool]["thresholds"] = found["cells"][cell["id"]]["thresholds"]
            nulls[cell["id"]] = row
            continue
        case = cases[cell["case"]]
        column = cell["column"]
        target_trials = loopml.get(cell["null"], {}).get("trials", [])
        target = rate([bool(t["alarms"]) for t in target_trials])
        row = {"null": cell["null"], "loopml_false_alarms": target}
        for tool, found in tools.items():
            trials = found["cells"].get(cell["id"], {}).get("trials", [])
            null = found["cells"].get(cell["null"], {}).get("trials", [])
            if tool == "loopml":
                outcomes = [
                    harness.Outcome(t["failed"], tuple(map(tuple, t["anomalies"])), t["seconds"])
                    for t in trials
                ]
                default = rate([case.found(o) for o in outcomes])
            else:
                default = rate([column in t["alarms"] for t in trials])
            planted = [t["scores"].get(column, 0.0) for t in trials]
            row[tool] = {
                "splits": len(trials),
                "power": default,
                "power_at_loopml_false_alarms": matched_power(
                    null_scores(null), planted, target if target is not None else 0.0
                ),
                "seconds_per_split": statistics.median(t["seconds"] for t in trials)
                if trials
                else None,
            }
        powers[cell["case"]] = row
    return {"false_alarms": nulls, "power": powers}


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}" if value in (0.0, 1.0) else f"{value:.1%}"


def tables(summary: dict[str, Any], tools: list[str]) -> tuple[list[dict[str, str]], ...]:
    nulls: list[dict[str, str]] = []
    for cell, row in summary["false_alarms"].items():
        line = {"cell": cell}
        loop = row.get("loopml", {})
        line["failed"] = percent(loop.get("failed"))
        for tool in tools:
            found = row.get(tool, {})
            line[f"{tool}_alarm"] = percent(found.get("alarmed"))
            seconds = found.get("seconds_per_split")
            line[f"{tool}_ms"] = "—" if seconds is None else f"{seconds * 1000:.0f}"
        line["evidently_dataset"] = percent(row.get("evidently", {}).get("dataset_drift"))
        nulls.append(line)
    powers: list[dict[str, str]] = []
    for case, row in summary["power"].items():
        line = {"case": case, "target": percent(row["loopml_false_alarms"])}
        for tool in tools:
            found = row.get(tool, {})
            line[f"{tool}_default"] = percent(found.get("power"))
            line[f"{tool}_matched"] = percent(found.get("power_at_loopml_false_alarms"))
        powers.append(line)
    return nulls, powers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=200, help="splits per cell (loopml)")
    parser.add_argument(
        "--rival-splits",
        type=int,
        default=50,
        help="splits per cell for Evidently and NannyML (Evidently takes 0.5-8 s a split)",
    )
    parser.add_argument(
        "--evidently-splits", type=int, default=None, help="splits per cell for Evidently"
    )
    parser.add_argument("--tools", default="loopml,evidently,nannyml")
    args = parser.parse_args(argv)
    wanted = [tool for tool in args.tools.split(",") if tool]
    began = time.perf_counter()
    load_at_start = load_average()
    manifest = write_cells(args.splits)
    manifest_path = CELLS / "manifest.json"
    tools: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for tool in wanted:
        python, missing = python_of(tool)
        if python is None:
            errors[tool] = missing
            say(missing)
            continue
        splits = {
            "loopml": args.splits,
            "nannyml": args.rival_splits or args.splits,
            "evidently": args.evidently_splits or args.rival_splits or args.splits,
        }[tool]
        say(f"{NAMES[tool]}: {len(manifest['cells'])} cells, {splits} splits each")
        try:
            tools[tool] = run_worker(tool, python, manifest_path, splits)
        except (BenchError, OSError, ValueError) as error:
            errors[tool] = str(error)
            say(f"  failed: {error}")
            continue
        say(f"  took {tools[tool]['wall_s']:.0f} s")
    summary = summarize(manifest, tools)
    measured = [tool for tool in wanted if tool in tools]
    nulls, powers = tables(summary, measured)
    elapsed = time.perf_counter() - began
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "machine": {**machine(), "load_average_at_start": load_at_start},
        "settings": {
            "splits": args.splits,
            "nannyml_splits": args.rival_splits or args.splits,
            "evidently_splits": args.evidently_splits or args.rival_splits or args.splits,
            "evidently_requirements": list(EVIDENTLY_REQUIREMENTS),
            "nannyml_requirements": list(NANNYML_REQUIREMENTS),
        },
        "versions": {tool: found["versions"] for tool, found in tools.items()},
        "errors": errors,
        **summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "decisions-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    null_headers = {"cell": "table-rows a side", "failed": "loopml failed"}
    for tool in measured:
        null_headers[f"{tool}_alarm"] = f"{NAMES[tool]} any drift"
    if "evidently" in measured:
        null_headers["evidently_dataset"] = "Evidently dataset drift"
    for tool in measured:
        null_headers[f"{tool}_ms"] = f"{NAMES[tool]} ms/split"
    print("\nfalse alarms: two random halves of one real table")
    print_columns(null_headers, nulls)
    power_headers = {"case": "planted change", "target": "loopml false alarms"}
    for tool in measured:
        power_headers[f"{tool}_default"] = f"{NAMES[tool]} default"
        if tool != "loopml":
            power_headers[f"{tool}_matched"] = f"{NAMES[tool]} at loopml's rate"
    print("power: found on the planted column")
    print_columns(power_headers, powers)
    for tool, error in errors.items():
        print(f"note: {NAMES[tool]} not measured: {error}")
    print(f"took {elapsed:.0f} s; results in bench/results/decisions-latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
