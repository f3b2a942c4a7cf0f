"""A wide CSV through the CLI: ``loopml data add`` of 1,000 rows x 20,000 columns, then
``data show``, a changed second version added, ``data diff`` and ``data validate``.

Run with ``python bench/data/wide.py [--rows N] [--columns N] [--repeats N]
[--src FOLDER [--src-repeats N]]``; ``--src`` runs another copy of loopml's ``src/``
(e.g. an older commit's, from ``git archive``) on the same files first, for a
before/after in one run.

Each command is a fresh process of ``python -m loopml``; its wall time and peak RSS
(``ru_maxrss`` of the child, from ``os.wait4``) are measured from outside. The CSV
(mostly float and int columns, a few text columns, some missing values) is made once
per run with NumPy; the second version changes a tenth of the rows and shifts a few
columns. Prints a table of medians and writes ``bench/results/data-wide-latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
from _tools import BenchError, load_average, machine, say

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"
ENV = {"LOOPML_PROGRESS": "0", "COLUMNS": "120"}
TIMEOUT_S = 900
TEXT_EVERY = 2_000  # one text column in this many
TARGET_ADD_S = 5.0
TARGET_ADD_MIB = 600.0
MIB = 1024 * 1024

MAKE = """
import sys
import numpy as np, polars as pl
rows, columns, seed, path, changed = int(sys.argv[1]), int(sys.argv[2]), 7, sys.argv[3], sys.argv[4]
rng = np.random.default_rng(seed)
floats = np.round(rng.normal(size=(rows, columns)), 4)
ints = rng.integers(0, 1000, size=(rows, columns))
data = {}
for j in range(columns):
    if j % %(text)d == %(text)d - 1:
        data[f"t{j:05d}"] = rng.choice(["red", "green", "blue", "grey"], rows)
    elif j % 3 == 0:
        data[f"i{j:05d}"] = ints[:, j]
    else:
        column = floats[:, j]
        if j % 7 == 0:
            column = np.where(rng.random(rows) < 0.02, np.nan, column)
        data[f"f{j:05d}"] = column
table = pl.DataFrame(data).with_columns(pl.selectors.float().fill_nan(None))
table.write_csv(path)
# The second version: a tenth of the rows new, every 100th float column shifted.
new = rows // 10
fresh = table.sample(n=new, seed=1, shuffle=True)
shifted = [n for n in table.columns if n.startswith("f")][::100]
second = pl.concat([table.slice(new), fresh]).with_columns(pl.col(shifted) + 0.5)
second.write_csv(changed)
""".replace("%(text)d", str(TEXT_EVERY))


def run(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Wall time and peak RSS of one command, run to its end; BenchError if it fails."""
    subprocess.run(["sync", "-f", str(cwd)], check=False, timeout=TIMEOUT_S)
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err,
        )  # fmt: skip
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > TIMEOUT_S:
                child.kill()
                os.wait4(child.pid, 0)
                raise BenchError(f"{' '.join(command[2:5])} took over {TIMEOUT_S} s")
            time.sleep(0.02)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        code = child.returncode
        if code not in (0, 1):  # validate exits 1 when the version fails validation
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise BenchError(f"{' '.join(command[2:5])} exited {code}: {lines[-1:]}")
    return {
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


STEPS = (
    ("add", ["data", "add", "{first}", "--name", "wide"]),
    ("show", ["data", "show", "wide@v1"]),
    ("add changed", ["data", "add", "{second}", "--name", "wide"]),
    ("diff", ["data", "diff", "wide@v1", "wide@v2"]),
    ("validate", ["data", "validate", "wide@v2"]),
)


def measure(scratch: Path, files: dict[str, str], src: Path | None, repeats: int) -> dict[str, Any]:
    env = {**os.environ, **ENV}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name, _ in STEPS}
    for repeat in range(repeats):
        say(f"  run {repeat + 1}/{repeats}" + (f" ({src.name})" if src is not None else ""))
        repo = scratch / "repo"
        shutil.rmtree(repo, ignore_errors=True)
        repo.mkdir()
        cli = [str(PYTHON), "-m", "loopml"]
        subprocess.run([*cli, "init"], cwd=repo, env=env, check=True, capture_output=True)
        for name, words in STEPS:
            samples[name].append(run([*cli, *(w.format(**files) for w in words)], repo, env))
    return {
        name: {
            "wall_s": statistics.median(s["wall_s"] for s in found),
            "cpu_s": statistics.median(s["cpu_s"] for s in found),
            "peak_rss_mib": statistics.median(s["peak_rss_mib"] for s in found),
            "samples": found,
        }
        for name, found in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--columns", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--src", type=Path, help="another loopml src/ folder to run")
    parser.add_argument("--src-repeats", type=int, help="runs of --src (default: --repeats)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    load = load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="loopml-bench-wide-", dir=RESULTS) as tmp:
        scratch = Path(tmp)
        files = {"first": str(scratch / "wide-v1.csv"), "second": str(scratch / "wide-v2.csv")}
        say(f"making a {args.rows:,} x {args.columns:,} CSV and a changed copy")
        subprocess.run(
            [str(PYTHON), "-c", MAKE, str(args.rows), str(args.columns), *files.values()],
            check=True,
        )
        size = Path(files["first"]).stat().st_size
        try:
            if args.src is not None:
                repeats = args.src_repeats or args.repeats
                results["other"] = measure(scratch, files, args.src.resolve(), repeats)
            results["this"] = measure(scratch, files, None, args.repeats)
        except BenchError as error:
            say(f"the wide benchmark failed: {error}")
            return 1
    runs = f"{args.src_repeats or args.repeats} run(s) of --src, " if args.src else ""
    print(
        f"\n{args.rows:,} rows x {args.columns:,} columns, a {size / 1e6:.0f} MB CSV; "
        f"medians of {runs}{args.repeats} run(s) of this loopml (wall, CPU, peak RSS)"
    )
    for step, _ in STEPS:
        line = f"  {step:<12}"
        for which in ("other", "this"):
            if which in results:
                r = results[which][step]
                line += (
                    f"  {'--src' if which == 'other' else 'this'}: {r['wall_s']:6.2f} s "
                    f"{r['cpu_s']:6.2f} s CPU "
                    f"{r['peak_rss_mib']:6.0f} MiB"
                )
        print(line)
    add = results["this"]["add"]
    met = add["wall_s"] < TARGET_ADD_S and add["peak_rss_mib"] < TARGET_ADD_MIB
    print(
        f"target: add under {TARGET_ADD_S:.0f} s and {TARGET_ADD_MIB:.0f} MiB: "
        f"{'met' if met else 'missed'}"
    )
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "load_average_at_start": load},
        "rows": args.rows,
        "columns": args.columns,
        "csv_bytes": size,
        "repeats": args.repeats,
        "other_src": str(args.src) if args.src is not None else None,
        "results": results,
    }
    (RESULTS / "data-wide-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
