"""The gate's false-alarm rate and power, over many trials with known answers.

- accuracy (McNemar's exact test): a champion 85% right on 1,000 rows and a challenger
  that disagrees with it on 10% (or 20%) of them, 0 to 3 points worse: each row's
  correctness for both models is drawn, then compared and gated as ``evaluate`` and
  ``gate`` do;
- RMSE (the paired bootstrap): two regressors on 1,000 rows, their errors correlated,
  the challenger's error 0% or 6% larger;
- slices: a challenger 10 points worse on a 300-row segment of 1,000 rows, through
  ``evaluate(..., against=)``: how often the slice check blocks it, and names it first;
- real models on scikit-learn's breast-cancer data, over random splits: a logistic
  regression trained on 15% flipped labels against one trained on the true labels
  (blocked?), and two random forests differing only in their seed (passed?).

Run with ``.venv/bin/python bench/evaluation/gate_power.py [--trials N]``; prints a
table and writes ``bench/results/gate_power.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
# The cases the gate's tests use: one copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "evaluation"))
from evaluation_zoo import ColumnPrediction
from gate_cases import ROWS, candidate, paired_accuracy, segment_rows

from _tools import RESULTS, load_average, machine, print_columns, say
from loopml.evaluation import Evaluation, evaluate, gate
from loopml.evaluation._paired import compare
from loopml.evaluation._predict import Predictions
from loopml.evaluation._records import Paired


def blocked(evaluation: Evaluation, policy: dict[str, Any] | None = None) -> bool:
    checks = gate(evaluation, policy, record=False, stop=False).checks
    return not {c.name: c.passed for c in checks}["champion"]


def accuracy_trial(rng: np.random.Generator, drop: float, disagree: float) -> Evaluation:
    return candidate(Paired("champion", ROWS, paired_accuracy(rng, drop, disagree)), "accuracy")


def rmse_trial(rng: np.random.Generator, worse: float) -> Evaluation:
    y = rng.normal(size=ROWS) * 10
    shared = rng.normal(size=ROWS)  # the part of the error both models make
    champion = y + shared + 0.6 * rng.normal(size=ROWS)
    challenger = y + (1 + worse) * (shared + 0.6 * rng.normal(size=ROWS))
    found = compare(
        Predictions("regression", y, challenger),
        Predictions("regression", y, champion),
        only={"rmse"},
    )
    return candidate(Paired("champion", ROWS, found), "rmse")


def rate(outcomes: list[bool]) -> str:
    return f"{sum(outcomes) / len(outcomes):.1%} of {len(outcomes):,}"


def simulated(trials: int) -> list[dict[str, str]]:
    rng = np.random.default_rng(20_261_206)
    lines = []
    for disagree in (0.10, 0.20):
        for drop in (0.0, 0.01, 0.02, 0.03):
            outcomes = [blocked(accuracy_trial(rng, drop, disagree)) for _ in range(trials)]
            lines.append(
                {
                    "case": f"accuracy, {disagree:.0%} disagree, {drop * 100:g}-point drop",
                    "test": "McNemar exact, alpha 0.05",
                    "rate": ("blocked " if drop else "false alarms ") + rate(outcomes),
                }
            )
    tolerant = [
        blocked(accuracy_trial(rng, 0.01, 0.10), {"champion_tolerance": 0.02})
        for _ in range(trials)
    ]
    lines.append(
        {
            "case": "accuracy, 1-point drop, champion_tolerance 0.02 (1.7 points)",
            "test": "McNemar exact with the tolerance",
            "rate": "blocked " + rate(tolerant),
        }
    )
    say("RMSE, paired bootstrap")
    few = max(100, trials // 5)
    for worse in (0.0, 0.06):
        outcomes = [blocked(rmse_trial(rng, worse)) for _ in range(few)]
        lines.append(
            {
                "case": f"RMSE, challenger's error {worse:.0%} larger",
                "test": "paired bootstrap, alpha 0.05",
                "rate": ("blocked " if worse else "false alarms ") + rate(outcomes),
            }
        )
    return lines


def slice_trials(trials: int) -> list[dict[str, str]]:
    rng = np.random.default_rng(11)
    strict, loose, first = [], [], []
    for _ in range(trials):
        rows = segment_rows(rng)
        found = evaluate(
            ColumnPrediction("challenger"),
            rows,
            label="y",
            task="classification",
            against=ColumnPrediction("champion"),
            slice_columns=["segment", "x"],
            record=False,
        )
        for tolerance, kept in ((0.0, strict), (0.05, loose)):
            checks = gate(found, {"slice_tolerance": tolerance}, record=False, stop=False).checks
            check = {c.name: c for c in checks}["slices"]
            kept.append(not check.passed)
            if tolerance == 0.0:
                first.append("first: segment=a (300 rows)" in check.message)
    return [
        {
            "case": "a 300-row slice 10 points worse (7 slices)",
            "test": "McNemar per slice, Holm, slice_tolerance 0",
            "rate": f"blocked {rate(strict)}; named first {rate(first)}",
        },
        {
            "case": "the same, slice_tolerance 0.05 (the default)",
            "test": "McNemar with the tolerance, Holm",
            "rate": "blocked " + rate(loose),
        },
    ]


def real_trials(splits: int) -> list[dict[str, str]]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    flipped_blocked, forests_passed = [], []
    for split in range(splits):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=split)
        rng = np.random.default_rng(split)
        noisy = y_train.where(rng.random(len(y_train)) >= 0.15, 1 - y_train)
        held_out = X_test.assign(label=y_test)

        def logistic(labels: Any, rows: Any = X_train) -> Any:
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
            return model.fit(rows, labels)

        champion = logistic(y_train)
        found = evaluate(logistic(noisy), held_out, label="label", against=champion, record=False)
        flipped_blocked.append(blocked(found))
        forests = [
            RandomForestClassifier(n_estimators=100, random_state=seed).fit(X_train, y_train)
            for seed in (split, split + 1_000)
        ]
        found = evaluate(forests[1], held_out, label="label", against=forests[0], record=False)
        forests_passed.append(not blocked(found))
    return [
        {
            "case": "breast cancer: logistic on 15% flipped labels vs true labels",
            "test": "McNemar exact, 285 rows",
            "rate": "blocked " + rate(flipped_blocked),
        },
        {
            "case": "breast cancer: two random forests, other seeds",
            "test": "McNemar exact, 285 rows",
            "rate": "passed " + rate(forests_passed),
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1_000)
    args = parser.parse_args()
    load = load_average()
    started = time.perf_counter()
    say(f"accuracy: {args.trials:,} trials per case")
    lines = simulated(args.trials)
    say(f"slices: {args.trials // 5:,} trials through evaluate")
    lines += slice_trials(args.trials // 5)
    say(f"breast cancer: {args.trials // 10:,} random splits")
    lines += real_trials(args.trials // 10)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load,
        "seconds": round(time.perf_counter() - started, 1),
        "lines": lines,
    }
    (RESULTS / "gate_power.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns({"case": "case", "test": "test", "rate": "rate"}, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
