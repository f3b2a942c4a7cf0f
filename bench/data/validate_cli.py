"""How long `loopml data validate` takes as a whole process on a small table, next to
the shortest script that gets Evidently's drift verdict on the same two files.

A 400-row table (a number, a count, a category, a label) is added to a fresh
workspace, then two second versions, each validated against it:

- **quiet**: the same rows shuffled. Nothing moved, so no column reaches its effect
  threshold and no test runs: what a batch that passes costs.
- **moved**: the number shifted by half a standard deviation. Its effect crosses the
  threshold, so SciPy's tests run (importing ``scipy.stats`` is most of the time).

Each command runs ``--runs`` times in turn (loopml quiet, loopml moved, Evidently on
the moved files, ...), each a new process; the median wall time of each is printed
and written to ``bench/results/validate-cli-latest.json``. loopml checks the schema,
measures drift against the first version and records the validation and its HTML
report; Evidently's script (``Report([DataDriftPreset()])`` in
``.venv-bench-evidently``, the decisions benchmark's pins) prints its dataset-drift
verdict and records nothing.

Run with ``python bench/data/validate_cli.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # bench/, for _tools
from _tools import RESULTS, BenchError, ensure_venv, load_average, machine, run_checked, say  # noqa: E402

ROWS = 400
EVIDENTLY_VENV = ROOT / ".venv-bench-evidently"
EVIDENTLY_REQUIREMENTS = ("evidently==0.7.23", "pandas==2.3.3", "pyarrow==26.0.1")
EVIDENTLY_SCRIPT = """
import sys, pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref, cur = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
print(snapshot.dict()["metrics"][0]["value"])
"""


def write_tables(folder: Path) -> tuple[Path, Path, Path]:
    """The first version, the same rows shuffled, and the rows with ``x`` moved."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    first = pl.DataFrame(
        {
            "x": rng.normal(size=ROWS),
            "n": rng.integers(0, 50, ROWS),
            "c": rng.choice(["a", "b", "c"], ROWS),
            "y": rng.integers(0, 2, ROWS),
        }
    )
    tables = {
        "t1.csv": first,
        "quiet.csv": first.sample(fraction=1.0, shuffle=True, seed=1),
        "moved.csv": first.with_columns(pl.col("x") + 0.5),
    }
    for name, table in tables.items():
        table.write_csv(folder / name)
    return folder / "t1.csv", folder / "quiet.csv", folder / "moved.csv"


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    began = time.perf_counter()
    run_checked(command, timeout=120, cwd=cwd, env=env)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    env = {**os.environ, "DO_NOT_TRACK": "true", "ITERATIVE_DO_NOT_TRACK": "true"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: bytecode cached
    loopml = ROOT / ".venv" / "bin" / "loopml"
    evidently, missing = ensure_venv(
        EVIDENTLY_VENV,
        EVIDENTLY_REQUIREMENTS,
        probe="import evidently",
        env=env,
        name="Evidently",
    )
    load_at_start = load_average()
    times: dict[str, list[float]] = {"loopml quiet": [], "loopml moved": [], "evidently": []}
    with tempfile.TemporaryDirectory(prefix="loopml-bench-") as tmp:
        folder = Path(tmp)
        first, quiet, moved = write_tables(folder)
        run_checked([str(loopml), "init", "."], timeout=120, cwd=folder, env=env)
        for path, name in ((first, "t"), (quiet, "t"), (first, "m"), (moved, "m")):
            add = [str(loopml), "data", "add", path.name, "--name", name]
            run_checked(add, timeout=120, cwd=folder, env=env)
        commands = {
            "loopml quiet": [str(loopml), "data", "validate", "t@v2"],
            "loopml moved": [str(loopml), "data", "validate", "m@v2"],
        }
        if evidently is not None:
            script = [str(evidently), "-c", EVIDENTLY_SCRIPT, str(first), str(moved)]
            commands["evidently"] = script
        else:
            say(missing)
        for command in commands.values():  # one unmeasured run each: bytecode, disk cache
            run_checked(command, timeout=300, cwd=folder, env=env)
        for _ in range(args.runs):
            for tool, command in commands.items():
                try:
                    times[tool].append(timed(command, folder, env))
                except BenchError as error:
                    say(f"{tool}: {error}")
    medians = {tool: statistics.median(found) for tool, found in times.items() if found}
    for tool, found in times.items():
        if found:
            spread = f"min {min(found):.3f}, max {max(found):.3f}"
            say(f"{tool}: median {medians[tool]:.3f} s ({spread}) over {len(found)} runs")
    for case in ("loopml quiet", "loopml moved"):
        if "evidently" in medians and case in medians:
            say(f"Evidently / {case}: {medians['evidently'] / medians[case]:.1f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "load_average_at_start": load_at_start},
        "rows": ROWS,
        "runs": args.runs,
        "seconds": times,
        "median_s": medians,
    }
    (RESULTS / "validate-cli-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0 if "loopml quiet" in medians else 1


if __name__ == "__main__":
    raise SystemExit(main())
