"""loopml's data profiling, validation and drift, side by side with a plain Polars/NumPy
computation of the same statistics and with Evidently's data-drift preset; then
versioning data, side by side with DVC (``versioning.py``).

Run with ``make bench-data`` (or ``python bench/data/run.py [--rows N] [--repeats N]
[--part profile|versioning]``).

All three read the same two Parquet tables (a reference and a current one, made once
by ``make_tables.py`` into ``bench/results/data/``). Each run of each tool is a fresh
process: the plain computation and loopml in ``.venv``, Evidently in
``.venv-bench-evidently`` (made here when missing). The driver imports none of them.
Prints a table and writes ``bench/results/data-latest.json``; see
``docs/benchmarks.md`` for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
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
HERE = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
TABLES = RESULTS / "data"
LOOPML_VENV = ROOT / ".venv"
EVIDENTLY_VENV = ROOT / ".venv-bench-evidently"

# Evidently 0.7 needs pandas < 3. These are the newest releases that install together
# here; pyarrow reads the Parquet files into pandas (the same pyarrow as in .venv).
EVIDENTLY_REQUIREMENTS = ("evidently==0.7.23", "pandas==2.3.3", "pyarrow==26.0.1")
# Evidently's usage telemetry (iterative-telemetry) is off when DO_NOT_TRACK is set;
# ITERATIVE_DO_NOT_TRACK switches off the library underneath it as well.
EVIDENTLY_ENV = {"DO_NOT_TRACK": "true", "ITERATIVE_DO_NOT_TRACK": "true"}

DEFAULT_ROWS = 1_000_000
REPEATS = 3
SLOW_S = 60.0  # a tool whose first run takes longer than this runs once
BUSY_LOAD = 0.5  # a 1-minute load average above this at the start gets a note
WORKER_TIMEOUT_S = 900
TABLES_TIMEOUT_S = 600

TOOLS = ("plain", "loopml", "evidently")
TOOL_NAMES = {
    "plain": "plain Polars/NumPy",
    "loopml": "loopml",
    "loopml-lazy": "loopml, SciPy import timed",
    "loopml-add": "loopml data add, one table",
    "evidently": "Evidently DataDriftPreset",
}
TARGET_CPU_VS_PLAIN = 2.0  # loopml's CPU at most 2x the plain computation's
TARGET_EVIDENTLY_VS_LOOPML = 10.0  # Evidently's CPU at least 10x loopml's
TARGET_MEMORY_VS_TABLE = 2.0  # loopml's peak under 2x the table's in-memory size
MIB = 1024 * 1024


# -- the tables ----------------------------------------------------------------------


def tables(rows: int, python: Path) -> dict[str, Any]:
    """The two tables' facts; made (or remade, when make_tables.py changed) as needed."""
    maker = HERE / "make_tables.py"
    stamp = hashlib.sha256(maker.read_bytes()).hexdigest()[:16]
    facts_path = TABLES / f"tables-{rows}.json"
    if facts_path.exists():
        facts: dict[str, Any] = json.loads(facts_path.read_text())
        files = [TABLES / facts[kind]["file"] for kind in ("ref", "cur")]
        if facts.get("maker") == stamp and all(f.exists() for f in files):
            say(f"reusing the {rows:,}-row tables in bench/results/data/")
            return facts
    say(f"making two {rows:,}-row x 20-column tables in bench/results/data/")
    done = run_checked([str(python), str(maker), str(rows), str(TABLES)], timeout=TABLES_TIMEOUT_S)
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    facts["maker"] = stamp
    facts_path.write_text(json.dumps(facts, indent=2) + "\n")
    return facts


# -- Evidently's venv ----------------------------------------------------------------


def ensure_evidently() -> tuple[Path | None, str]:
    return ensure_venv(
        EVIDENTLY_VENV,
        EVIDENTLY_REQUIREMENTS,
        probe="import evidently, pandas, pyarrow",
        env=EVIDENTLY_ENV,
        name="Evidently",
    )


# -- the workers ---------------------------------------------------------------------


def worker(
    tool: str, python: Path, ref: Path, cur: Path, scratch: Path, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    script = HERE / f"worker_{tool}.py"
    env = dict(os.environ)
    if tool == "evidently":
        env.update(EVIDENTLY_ENV)
    try:
        done = run_checked(
            [str(python), str(script), *extra, str(ref), str(cur)],
            timeout=WORKER_TIMEOUT_S,
            env=env,
            cwd=scratch,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{tool} took over {WORKER_TIMEOUT_S} s") from None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def combine(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs of one tool as one row: medians of each measure, and every sample."""
    keys = ("cpu_s", "wall_s", "peak_rss_mib", "growth_mib", "rss_before_mib")
    keys += ("rss_after_read_mib", "peak_above_read_mib")
    found: dict[str, Any] = {key: statistics.median(s[key] for s in samples) for key in keys}
    found["runs"] = len(samples)
    found["samples"] = [{key: s[key] for key in keys} for s in samples]
    middle = sorted(samples, key=lambda s: s["cpu_s"])[(len(samples) - 1) // 2]
    found["stages_of_median_run"] = middle["stages"]
    found["sanity"] = samples[-1].get("sanity", {})
    return found


# -- the run -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows per table")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per tool")
    parser.add_argument(
        "--part", choices=("all", "profile", "versioning"), default="all", help="what to run"
    )
    args = parser.parse_args(argv)
    status = 0
    if args.part in ("all", "profile"):
        status = profile_bench(args)
    if args.part in ("all", "versioning"):
        status = max(status, versioning_bench(args))
    return status


def versioning_bench(args: argparse.Namespace) -> int:
    import versioning

    began = time.perf_counter()
    load_at_start = load_average()
    loopml_python = LOOPML_VENV / "bin" / "python"
    if not loopml_python.exists():
        say("no .venv: run `make bench-data`, which makes it")
        return 2
    say("versioning data: loopml and DVC on the same files")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="loopml-bench-versioning-", dir=RESULTS) as scratch:
        try:
            results = versioning.run(Path(scratch), loopml_python, args.repeats)
        except (BenchError, OSError, ValueError, subprocess.TimeoutExpired) as error:
            say(f"the versioning benchmark failed: {error}")
            return 1
    lines, verdicts = versioning.report(results)
    elapsed = time.perf_counter() - began
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "machine": {**machine(), "load_average_at_start": load_at_start},
        "settings": {
            "dvc_requirements": list(versioning.DVC_REQUIREMENTS),
            "dvc_env": versioning.DVC_ENV,
        },
        "results": results,
        "targets": verdicts,
        "table": lines,
    }
    (RESULTS / "data-versioning-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nversioning data, medians of {args.repeats} runs (the CSV and diff: one run)")
    print_columns(versioning.COLUMNS, lines)
    for verdict in verdicts:
        print(f"{verdict['target']}: {verdict['verdict']} ({verdict['measured']})")
    if results.get("dvc_missing"):
        print(f"note: DVC not measured: {results['dvc_missing']}")
    if load_at_start is not None and load_at_start > BUSY_LOAD:
        print(f"note: the machine was busy (load average {load_at_start:.1f})")
    print(f"took {elapsed:.0f} s; results in bench/results/data-versioning-latest.json")
    return 0


def profile_bench(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    load_at_start = load_average()
    loopml_python = LOOPML_VENV / "bin" / "python"
    if not loopml_python.exists():
        say("no .venv: run `make bench-data`, which makes it")
        return 2
    try:
        facts = tables(args.rows, loopml_python)
    except (BenchError, OSError, ValueError, subprocess.TimeoutExpired) as error:
        say(f"could not make the tables: {error}")
        return 1
    ref, cur = TABLES / facts["ref"]["file"], TABLES / facts["cur"]["file"]

    pythons: dict[str, Path | None] = {"plain": loopml_python, "loopml": loopml_python}
    evidently_python, evidently_missing = ensure_evidently()
    pythons["evidently"] = evidently_python
    errors: dict[str, str] = {}
    notes: list[str] = []
    if evidently_missing:
        errors["evidently"] = evidently_missing
        say(evidently_missing)

    samples: dict[str, list[dict[str, Any]]] = {
        tool: [] for tool in (*TOOLS, "loopml-lazy", "loopml-add")
    }
    versions: dict[str, Any] = {}
    runs_of = dict.fromkeys(TOOLS, args.repeats)
    with tempfile.TemporaryDirectory(prefix="loopml-bench-data-") as scratch_name:
        scratch = Path(scratch_name)
        for repeat in range(args.repeats):
            for tool in TOOLS:
                python = pythons[tool]
                if python is None or tool in errors or repeat >= runs_of[tool]:
                    continue
                say(f"run {repeat + 1}/{runs_of[tool]}: {TOOL_NAMES[tool]}")
                try:
                    found = worker(tool, python, ref, cur, scratch)
                except (BenchError, OSError, ValueError) as error:
                    errors[tool] = str(error)
                    say(f"  failed: {error}")
                    continue
                versions.setdefault(tool, found.pop("versions", {}))
                samples[tool].append(found)
                say(f"  {found['cpu_s']:.2f} s CPU, {found['wall_s']:.2f} s wall")
                if repeat == 0 and found["wall_s"] > SLOW_S and args.repeats > 1:
                    runs_of[tool] = 1
                    notes.append(
                        f"{TOOL_NAMES[tool]} took {found['wall_s']:.0f} s (over {SLOW_S:.0f} s) "
                        "on its first run, so it ran once"
                    )
        if "loopml" not in errors:
            say("once more: loopml with its lazy SciPy import inside the timed work")
            try:
                found = worker("loopml", loopml_python, ref, cur, scratch, ("--lazy-imports",))
                found.pop("versions", None)
                samples["loopml-lazy"].append(found)
            except (BenchError, OSError, ValueError) as error:
                say(f"  failed: {error}")
            say("and: loopml data add of the reference table (one table in memory)")
            try:
                found = worker("loopml", loopml_python, ref, cur, scratch, ("--add",))
                samples["loopml-add"].append(found)
            except (BenchError, OSError, ValueError) as error:
                say(f"  failed: {error}")

    if load_at_start is not None and load_at_start > BUSY_LOAD:
        notes.append(
            f"the machine was busy when the run began (load average {load_at_start:.1f} on "
            f"{os.cpu_count()} cores): wall times are longer than on an idle machine, and "
            "CPU times are less affected"
        )
    rows: dict[str, dict[str, Any]] = {}
    for tool in (*TOOLS, "loopml-lazy", "loopml-add"):
        if tool in errors:
            rows[tool] = {"error": errors[tool]}
        elif samples[tool]:
            rows[tool] = combine(samples[tool])
    table_mib = facts["ref"]["estimated_size_bytes"] / MIB
    verdicts = judge(rows, table_mib)
    lines = build_table(rows)
    elapsed = time.perf_counter() - began
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "machine": {**machine(), "load_average_at_start": load_at_start},
        "versions": versions,
        "tables": {
            **{key: value for key, value in facts.items() if key != "maker"},
            "reference": short(str(ref)),
            "current": short(str(cur)),
            "table_mib": table_mib,
        },
        "settings": {
            "repeats": args.repeats,
            "slow_s": SLOW_S,
            "evidently_requirements": list(EVIDENTLY_REQUIREMENTS),
            "evidently_env": EVIDENTLY_ENV,
        },
        "notes": notes,
        "results": rows,
        "targets": verdicts,
        "table": lines,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "data-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nprofile + validate + drift of two {args.rows:,}-row x {facts['ref']['columns']}-"
        f"column tables (one table in memory: {table_mib:,.0f} MiB); medians of the runs"
    )
    print_columns(COLUMNS, lines)
    for verdict in verdicts:
        print(f"{verdict['target']}: {verdict['verdict']} ({verdict['measured']})")
    for note in notes:
        print(f"note: {note}")
    for tool, error in errors.items():
        print(f"note: {TOOL_NAMES[tool]} not measured: {error}")
    print(f"took {elapsed:.0f} s; results in bench/results/data-latest.json")
    return 0


# -- the verdicts and the table ------------------------------------------------------


def judge(rows: dict[str, dict[str, Any]], table_mib: float) -> list[dict[str, str]]:
    plain, loopml, evidently = (rows.get(tool, {}) for tool in TOOLS)
    verdicts: list[dict[str, str]] = []

    def verdict(target: str, ok: bool | None, measured: str) -> None:
        text = "not measured" if ok is None else ("met" if ok else "MISSED")
        verdicts.append({"target": target, "verdict": text, "measured": measured})

    if "cpu_s" in plain and "cpu_s" in loopml:
        ratio = loopml["cpu_s"] / plain["cpu_s"]
        measured = f"loopml {loopml['cpu_s']:.2f} s, plain {plain['cpu_s']:.2f} s: {ratio:.2f}x"
        verdict("loopml CPU within 2x of plain", ratio <= TARGET_CPU_VS_PLAIN, measured)
    else:
        verdict("loopml CPU within 2x of plain", None, "")
    if "cpu_s" in evidently and "cpu_s" in loopml:
        ratio = evidently["cpu_s"] / loopml["cpu_s"]
        measured = f"Evidently {evidently['cpu_s']:.2f} s / loopml {loopml['cpu_s']:.2f} s"
        verdict(
            "Evidently CPU at least 10x loopml's",
            ratio >= TARGET_EVIDENTLY_VS_LOOPML,
            f"{measured} = {ratio:.1f}x",
        )
    else:
        verdict("Evidently CPU at least 10x loopml's", None, "")
    if "peak_rss_mib" in loopml:
        limit = TARGET_MEMORY_VS_TABLE * table_mib
        above = loopml["peak_above_read_mib"]
        verdict(
            "loopml's memory beyond the loaded tables under 2x one table",
            above < limit,
            f"peak {above:.0f} MiB above the RSS with both tables read; "
            f"one table is {table_mib:.0f} MiB, 2x = {limit:.0f} MiB",
        )
        growth = loopml["growth_mib"]
        both = 2 * table_mib
        verdict(
            "loopml's whole peak growth (reading both tables included) under 2x the two "
            "tables' size",
            growth < TARGET_MEMORY_VS_TABLE * both,
            f"growth {growth:.0f} MiB = {growth / both:.2f}x both tables ({both:.0f} MiB), "
            f"{growth / table_mib:.2f}x one",
        )
    added = rows.get("loopml-add", {})
    if "growth_mib" in added:
        limit = TARGET_MEMORY_VS_TABLE * table_mib
        growth = added["growth_mib"]
        verdict(
            "loopml data add of one table (read, hash, store, profile): peak growth under "
            "2x the table",
            growth < limit,
            f"growth {growth:.0f} MiB = {growth / table_mib:.2f}x the table "
            f"({table_mib:.0f} MiB), {added['cpu_s']:.2f} s CPU",
        )
    return verdicts


def build_table(rows: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    plain_cpu = rows.get("plain", {}).get("cpu_s")
    loopml_cpu = rows.get("loopml", {}).get("cpu_s")
    lines: list[dict[str, str]] = []
    for tool in (*TOOLS, "loopml-lazy", "loopml-add"):
        found = rows.get(tool)
        if found is None:
            continue
        if "error" in found:
            error = str(found["error"])
            error = error if len(error) <= 110 else error[:107] + "..."
            lines.append({"tool": TOOL_NAMES[tool], "cpu": f"not measured: {error}"})
            continue
        cpu = found["cpu_s"]
        lines.append(
            {
                "tool": TOOL_NAMES[tool],
                "runs": str(found["runs"]),
                "cpu": f"{cpu:.2f}",
                "wall": f"{found['wall_s']:.2f}",
                "peak": f"{found['peak_rss_mib']:,.0f}",
                "growth": f"{found['growth_mib']:,.0f}",
                "above": f"{found['peak_above_read_mib']:,.0f}",
                "vs_plain": f"{cpu / plain_cpu:.2f}x" if plain_cpu else "",
                "vs_loopml": f"{cpu / loopml_cpu:.2f}x" if loopml_cpu else "",
            }
        )
    return lines


COLUMNS = {
    "tool": "tool",
    "runs": "runs",
    "cpu": "CPU s",
    "wall": "wall s",
    "peak": "peak RSS MiB",
    "growth": "RSS growth MiB",
    "above": "peak above read MiB",
    "vs_plain": "CPU / plain",
    "vs_loopml": "CPU / loopml",
}


if __name__ == "__main__":
    sys.exit(main())
