"""What ``loopml feedback import`` costs: ``N`` logged one-row predictions of 20 inputs
(segments of 1,000, as a server answering 1,000 a second writes them), and a CSV of a
label for each, with the time it was known, imported ``--repeat`` times into fresh
copies of the workspace. Prints the CPU and wall time of each import, in this process
(``import_feedback``) and as the command (``loopml feedback import``, a process of its
own: Python, Polars and loopml's start included), and their medians.

    python bench/monitor/feedback_import.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import loopml
from loopml.serve import PredictionLog, PredictionRecord, import_feedback

FEATURES = 20
SEGMENT = 1_000


def made_id(time_us: int) -> str:
    """A loopml id holding ``time_us`` (to the millisecond), as the server's would."""
    return f"{time_us // 1000:012x}{os.urandom(10).hex()}"


def write(ws: loopml.Workspace, count: int, folder: Path) -> Path:
    """``count`` predictions logged over the last ``count`` seconds, and the CSV."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(count, FEATURES))
    start = time.time_ns() // 1000 - count * 1_000_000
    log = PredictionLog(ws, max_buffered=count + 1)
    ids, labels = [], []
    for n in range(count):
        at = start + n * 1_000_000
        pid = made_id(at)
        predicted = int(rows[n, 0] > 0)
        columns = {f"f{j}": rows[n : n + 1, j] for j in range(FEATURES)}
        log.append(
            PredictionRecord(
                pid,
                None,
                at,
                "churn",
                "churn@v1",
                0,
                1.0,
                columns,
                {"predictions": np.array([predicted])},
                400,
                None,
            )
        )
        if n % SEGMENT == SEGMENT - 1:
            log.flush()
        ids.append(pid)
        labels.append(predicted if rng.random() < 0.8 else 1 - predicted)
    log.close()
    path = folder / "labels.csv"
    known = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with path.open("w") as out:
        out.write("id,label,time\n")
        out.writelines(f"{pid},{label},{known}\n" for pid, label in zip(ids, labels, strict=True))
    return path


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    given = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        original = folder / "original"
        original.mkdir()
        with loopml.init(original) as ws:
            path = write(ws, given.rows, folder)
        size = path.stat().st_size
        print(f"{given.rows:,} predictions in {given.rows // SEGMENT} segments; {size:,} B of CSV")
        inside, command = [], []
        for attempt in range(given.repeat):
            copy = folder / f"copy{attempt}"
            shutil.copytree(original, copy)
            with loopml.workspace(copy) as ws:
                cpu, wall = time.process_time(), time.perf_counter()
                done = import_feedback(path, workspace=ws)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            assert done.matched == given.rows, done
            inside.append((cpu, wall))
            shutil.rmtree(copy)
            shutil.copytree(original, copy)
            before, started = children_cpu(), time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "loopml", "feedback", "import", str(path), "--json"],
                cwd=copy,
                check=True,
                capture_output=True,
            )
            command.append((children_cpu() - before, time.perf_counter() - started))
            shutil.rmtree(copy)
            print(
                f"import {attempt + 1}: in process CPU {cpu:6.2f} s wall {wall:6.2f} s;  "
                f"command CPU {command[-1][0]:6.2f} s wall {command[-1][1]:6.2f} s"
            )
        for what, times in (("import_feedback", inside), ("loopml feedback import", command)):
            print(
                f"median {what:<24} CPU {statistics.median(t[0] for t in times):6.2f} s   "
                f"wall {statistics.median(t[1] for t in times):6.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
