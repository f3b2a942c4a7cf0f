"""What joining the prediction log with its feedback and computing live metrics costs:
``N`` logged one-row predictions of 20 inputs (a classifier's label and probabilities),
feedback on four in five of them, read back with ``loopml.monitor.labelled`` and cut into
hourly windows by ``live_metrics``. Prints the CPU and wall time of each part.

    python bench/monitor/join.py [--predictions N]

Writing the logs is timed too (the server does it in the background, a few records at
a time), but it is not what is measured: reading is.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

import loopml
from loopml._ids import new_id
from loopml.monitor import labelled, live_metrics
from loopml.serve import FeedbackLog, FeedbackRecord, PredictionLog, PredictionRecord

T0 = 1_767_225_600_000_000
FEATURES = 20


def timed(what: str, work):
    cpu, wall = time.process_time(), time.perf_counter()
    found = work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{what:<40} CPU {cpu:7.2f} s   wall {wall:7.2f} s")
    return found


def write(ws: loopml.Workspace, count: int) -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(count, FEATURES))
    scores = rng.random(count)
    predictions = PredictionLog(ws, max_buffered=count + 1)
    feedback = FeedbackLog(ws, max_buffered=count + 1)
    step = 3_600_000_000 * 24 * 30 // count  # a month of traffic
    for n in range(count):
        pid = new_id()
        label = int(scores[n] > 0.5)
        columns = {f"f{j}": rows[n : n + 1, j] for j in range(FEATURES)}
        outputs = {
            "predictions": np.array([label]),
            "probabilities": np.array([[1 - scores[n], scores[n]]]),
        }
        predictions.append(
            PredictionRecord(
                pid, None, T0 + n * step, "churn", "churn@v1", 0, 1.0, columns, outputs, 400, None
            )
        )
        if n % 5:
            truth = label if rng.random() < 0.8 else 1 - label
            feedback.append(FeedbackRecord(pid, T0 + n * step + 1, None, truth, None, "churn"))
        if n % 50_000 == 49_999:
            predictions.flush()
            feedback.flush()
    predictions.flush()
    feedback.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    count = parser.parse_args().predictions
    with tempfile.TemporaryDirectory() as folder, loopml.init(folder) as ws:
        timed(f"write {count:,} predictions and feedback", lambda: write(ws, count))
        found = timed("labelled (read both logs, join)", lambda: labelled("churn", workspace=ws))
        metrics = timed("live_metrics, hourly", lambda: live_metrics(found.rows, every="1h"))
        print(f"{found.rows.height:,} rows, {found.feedback:,} feedback, {metrics.height} windows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
