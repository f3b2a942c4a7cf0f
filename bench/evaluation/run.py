"""How long ``loopml.evaluation.evaluate`` takes on 100,000 rows, with everything on:
metrics and 1,000 bootstrap resamples, the baseline, slices (default columns and a user
slice), perturbation, calibration, latency and size, flips against a second model, the
overlap check against 100,000 training rows, and the stored record.

Two scikit-learn models, each the other's champion: a histogram gradient-boosting
classifier (100 trees) and a logistic regression, both behind a one-hot encoder.
Each is evaluated ``--repeats`` times; one more run under cProfile splits the time by
step. Run with ``python bench/evaluation/run.py``; prints a table and writes
``bench/results/evaluation.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
from _tools import RESULTS, load_average, machine, print_columns, say

ROWS = 100_000
REPEATS = 3
# Where the time goes: (module file, function) of each step of evaluate().
STEPS = {
    "predictions": ("_predict.py", "predictions"),
    "bootstrap intervals": ("_bootstrap.py", "intervals"),
    "baseline": ("_naive.py", "naive"),
    "slices": ("_slices.py", "slice_results"),
    "perturbation": ("_perturb.py", "sensitivity"),
    "latency": ("_latency.py", "latency"),
    "size": ("_latency.py", "sizes"),
    "flips": ("_evaluate.py", "_against"),
    "overlap": ("_evaluate.py", "_overlap"),
    "record": ("_record.py", "store"),
}


def churn(rows: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(8)})
    frame["plan"] = rng.choice(["basic", "pro", "team"], size=rows)
    frame["region"] = rng.choice(["eu", "us", "apac", "latam"], size=rows)
    logit = 2 * frame["x0"] - frame["x1"] + np.where(frame["plan"] == "pro", 1.5, 0.0)
    frame["churn"] = np.where(rng.uniform(size=rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame


def models(train: Any) -> dict[str, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = train.drop(columns="churn"), train["churn"]

    def encoded(rest: Any) -> Any:
        return ColumnTransformer([("cat", OneHotEncoder(), ["plan", "region"])], remainder=rest)

    boosted = make_pipeline(encoded("passthrough"), HistGradientBoostingClassifier(max_iter=100))
    logistic = make_pipeline(encoded(StandardScaler()), LogisticRegression())
    return {
        "gradient boosting (100 trees)": boosted.fit(X, y),
        "logistic regression": logistic.fit(X, y),
    }


def run_once(model: Any, champion: Any, test: Any, train: Any, ws: Any) -> Any:
    from loopml.evaluation import evaluate

    return evaluate(
        model,
        test,
        label="churn",
        train=train,
        against=champion,
        slices={"pro with high x0": "plan = 'pro' AND x0 > 1"},
        workspace=ws,
    )


def profile_steps(call: Any, *args: Any) -> tuple[float, dict[str, float]]:
    """The seconds a call takes under cProfile, and those of each of ``STEPS`` in it."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(call, *args)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    steps = {}
    for step, (file, function) in STEPS.items():
        steps[step] = sum(
            cumulative
            for (path, _, name), (_, _, _, cumulative, _) in stats.items()
            if name == function and path.endswith(f"evaluation/{file}")
        )
    return total, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    began, load_before = time.perf_counter(), load_average()
    import loopml

    say(f"making {args.rows:,} training and {args.rows:,} evaluation rows, fitting two models")
    train, test = churn(args.rows, seed=1), churn(args.rows, seed=2)
    fitted = models(train)
    names = list(fitted)
    lines, runs = [], {}
    with tempfile.TemporaryDirectory() as folder:
        ws = loopml.init(folder)
        for name in names:
            model = fitted[name]
            champion = fitted[names[1 - names.index(name)]]
            say(f"evaluating {name}, {args.repeats} runs and one profiled")
            seconds = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                result = run_once(model, champion, test, train, ws)
                seconds.append(time.perf_counter() - started)
            profiled, steps = profile_steps(run_once, model, champion, test, train, ws)
            runs[name] = {
                "seconds": seconds,
                "profiled_seconds": profiled,
                "steps_seconds": steps,
                "slices": len(result.slices),
                "latency_ms": result.latency_ms,
                "accuracy": result.metrics["accuracy"],
            }
            biggest = sorted(steps.items(), key=lambda item: -item[1])[:3]
            lines.append(
                {
                    "model": name,
                    "evaluate()": f"{statistics.median(seconds):.2f} s",
                    "note": f"median of {args.repeats}; slowest steps "
                    + ", ".join(f"{step} {took:.2f} s" for step, took in biggest),
                }
            )
        ws.close()
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 1),
        "machine": machine(),
        "load_average": {"before": load_before, "after": load_average()},
        "rows": args.rows,
        "repeats": args.repeats,
        "runs": runs,
        "table": lines,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns({"model": "model", "evaluate()": "evaluate()", "note": "note"}, lines)
    for name, run in runs.items():
        steps = ", ".join(f"{step} {took:.2f}" for step, took in run["steps_seconds"].items())
        print(f"{name} (profiled run, {run['profiled_seconds']:.2f} s): {steps}")
    print(f"took {report['duration_s']:.0f} s; results in bench/results/evaluation.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
