"""What the human review queue costs: queueing the unsure rows of ``N`` logged one-row
predictions of 20 inputs (``queue_for_review`` with a confidence threshold and an
audit); then, on a queue of ``ITEMS`` items all but ``K`` of them labelled already,
``K`` claims and labels one after the other (what ``loopml review next`` and ``label``
do each time), on SQLite or PostgreSQL. Prints CPU and wall time, and the median CPU
time of a claim and of a label.

    python bench/monitor/review.py [--predictions N] [--items ITEMS] [--claims K]
                                   [--store URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

import loopml
from loopml._ids import new_id
from loopml.monitor import queue_for_review
from loopml.serve import PredictionLog, PredictionRecord
from loopml.store import NewReviewItem

T0 = 1_767_225_600_000_000
FEATURES = 20


def timed(what: str, work: Any) -> Any:
    cpu, wall = time.process_time(), time.perf_counter()
    found = work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{what:<52} CPU {cpu:7.2f} s   wall {wall:7.2f} s")
    return found


def write(ws: loopml.Workspace, count: int) -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(count, FEATURES))
    scores = rng.random(count)
    log = PredictionLog(ws, max_buffered=count + 1)
    for n in range(count):
        columns = {f"f{j}": rows[n : n + 1, j] for j in range(FEATURES)}
        outputs = {
            "predictions": np.array([int(scores[n] > 0.5)]),
            "probabilities": np.array([[1 - scores[n], scores[n]]]),
        }
        log.append(
            PredictionRecord(
                new_id(), None, T0 + n * 1000, "churn", "churn@v1", 0, 1.0, columns, outputs,
                400, None,
            )
        )  # fmt: skip
    log.flush()
    log.close()


def claims(ws: loopml.Workspace, items: int, count: int) -> None:
    """A queue of ``items`` items, all but the last ``count`` labelled; then ``count``
    claims and labels one after the other, each timed."""
    store = ws.store
    queued = store.add_review_items(
        [
            NewReviewItem(queue="bench", prediction_id=f"p{n}", row=0, deployment="churn",
                          ref="churn@v1", guess=1, reasons=("audit",), confidence=0.5,
                          inputs={f"f{j}": 0.5 for j in range(FEATURES)})
            for n in range(items)
        ]
    )  # fmt: skip
    for item in queued[: items - count]:
        store.label_review_item(item.id, "earlier", 1)
    spent: dict[str, list[float]] = {"claim": [], "label": []}
    for _ in range(count):
        started = time.process_time()
        item = store.claim_review_item("bench", "ann")
        spent["claim"].append(time.process_time() - started)
        assert item is not None
        started = time.process_time()
        store.label_review_item(item.id, "ann", 1)
        spent["label"].append(time.process_time() - started)
    for what, times in spent.items():
        print(f"  {what}: median CPU {statistics.median(times) * 1000:.2f} ms per call")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--predictions", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--store", default=None, help="a store URL (default: SQLite)")
    given = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        loopml.init(folder, store_url=given.store) as ws,
    ):
        count = given.predictions
        timed(f"write {count:,} predictions", lambda: write(ws, count))
        queued = timed(
            "queue_for_review(below=0.6, audit=100)",
            lambda: queue_for_review("churn", below=0.6, audit=100, seed=0, workspace=ws),
        )
        print(f"  {len(queued.added):,} items queued of {queued.considered:,} rows")
        timed(
            f"a queue of {given.items:,} items, {given.claims} claims and labels",
            lambda: claims(ws, given.items, given.claims),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
