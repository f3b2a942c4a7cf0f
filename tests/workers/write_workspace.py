"""A worker process: writes runs, metric batches and artifacts into the workspace from env.

Usage: write_workspace.py WORKER_INDEX RUNS START_FILE
Waits for START_FILE so that every worker starts writing at the same moment.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import loopml
from loopml.store import MetricPoint, RunStatus

SHARED = b"the same bytes from every worker" * 1000
BATCHES, POINTS = 5, 200


def main() -> None:
    index, runs, start = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    deadline = time.monotonic() + 60
    while not start.exists():
        if time.monotonic() > deadline:
            raise SystemExit("start file never appeared")
        time.sleep(0.005)
    with loopml.workspace() as ws:
        for number in range(runs):
            run = ws.store.create_run(
                kind="train", name=f"w{index}-r{number}", params={"worker": index, "run": number}
            )
            for batch in range(BATCHES):
                ws.store.log_metrics(
                    run.id,
                    [
                        MetricPoint("loss", 1.0 / (1 + step), step=batch * POINTS + step)
                        for step in range(POINTS)
                    ],
                )
            shared = ws.artifacts.put_bytes(SHARED)
            ws.store.create_artifact(
                kind="file", name="shared", digest=shared.digest, size=shared.size, run_id=run.id
            )
            own = ws.artifacts.put_bytes(os.urandom(256 * 1024))
            ws.store.create_artifact(
                kind="file", name=f"own-{index}", digest=own.digest, size=own.size, run_id=run.id
            )
            ws.store.finish_run(run.id, RunStatus.SUCCEEDED)


if __name__ == "__main__":
    main()
