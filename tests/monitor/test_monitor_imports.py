"""Reading a deployment's logs (the join with feedback, drift from the segments' hour
summaries) imports no pandas: PyArrow's ``Schema.empty_table`` did, when a log had
no segment (feedback recorded before its prediction was logged, usually none), and
that cost a third of a second of CPU in every report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import loopml
from loopml._ids import new_id
from loopml.serve import PredictionLog, PredictionRecord

PROBE = """
import json, sys
import loopml
from loopml.monitor import drift_windows, labelled
with loopml.workspace(".") as ws:
    rows = labelled("churn", workspace=ws).rows
    drift = drift_windows("churn", every="1h", workspace=ws)
print(json.dumps([rows.height, drift.table.height, "pandas" in sys.modules]))
"""


def test_reading_the_logs_imports_no_pandas(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    with loopml.init(tmp_path) as ws, PredictionLog(ws) as log:
        for n in range(400):
            x = rng.normal(size=1) + (n >= 200)
            log.append(
                PredictionRecord(new_id(), None, 1_800_000_000_000_000 + n * 18_000_000,
                                 "churn", "churn@v1", 0, 1.0, {"x": x},
                                 {"predictions": (x > 0) * 1}, 300, None)
            )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    rows, compared, pandas = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows == 400
    assert compared > 0  # the second hour against the first
    assert pandas is False
