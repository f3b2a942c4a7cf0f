"""The timings the tests leave out, as they depend on the machine and its load: how
long measuring a model's latency takes (a slow model must be measured in seconds, not
minutes), what a fast model's one-row latency comes to, and how much faster a distilled
student answers than its teacher.

The tests assert what is certain whatever the load (the calls a model received, the
lower bound a sleeping model sets); this says how fast it is here. Run with
``.venv/bin/python bench/evaluation/latency.py``; prints a table and writes
``bench/results/latency.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
from _tools import RESULTS, load_average, machine, print_columns, say
from loopml.evaluation._latency import latency

REPEATS = 3
SLEEPS_S = (0.0, 0.01, 0.15, 1.0)  # seconds a model takes per predict call


class Sleeper:
    """Predicts zeros after ``seconds``, counting its calls."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def predict(self, X: Any) -> np.ndarray:
        self.calls += 1
        time.sleep(self.seconds)
        return np.zeros(len(X))


def measuring(seconds: float) -> dict[str, Any]:
    """How long ``latency`` takes on a model needing ``seconds`` a call (median of
    REPEATS), with the calls it made and the figures it found."""
    rows = pl.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0)})
    took: list[float] = []
    for _ in range(REPEATS):
        model = Sleeper(seconds)
        started = time.perf_counter()
        figures, _ = latency(model, rows, "numpy")
        took.append(time.perf_counter() - started)
    return {
        "sleep_s": seconds,
        "took_s": statistics.median(took),
        "calls": model.calls,
        "row_p50_ms": figures["row_p50"],
        "row_p99_ms": figures["row_p99"],
    }


def distilled() -> dict[str, float]:
    """The one-row latencies `distill` reports for the forest and tree of
    tests/training/test_distill.py."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    from loopml.training._distill import distill

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    teacher = RandomForestClassifier(n_estimators=300, random_state=0).fit(X_train, y_train)
    student = DecisionTreeClassifier(max_depth=4, random_state=0)
    report = distill(teacher, student, X_train, X_eval=X_test, y_eval=y_test).report
    return {key: report[key] for key in ("teacher.latency_ms_p50", "student.latency_ms_p50")}


def main() -> int:
    load = load_average()
    say(f"latency(), {REPEATS} times for each of {len(SLEEPS_S)} model speeds")
    measured = [measuring(seconds) for seconds in SLEEPS_S]
    say("distill: a 300-tree forest and a depth-4 tree")
    distill = distilled()
    lines = [
        {
            "what": f"latency() of a model taking {m['sleep_s'] * 1000:g} ms a call",
            "value": f"{m['took_s']:.2f} s, {m['calls']} calls, row p50 {m['row_p50_ms']:.2f} ms",
        }
        for m in measured
    ]
    teacher, student = distill["teacher.latency_ms_p50"], distill["student.latency_ms_p50"]
    lines.append(
        {
            "what": "distill: one-row p50, teacher / student",
            "value": f"{teacher:.2f} / {student:.3f} ms ({teacher / student:.0f}x)",
        }
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load,
        "latency": measured,
        "distill": distill,
    }
    (RESULTS / "latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print_columns({"what": "measure", "value": "value"}, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
