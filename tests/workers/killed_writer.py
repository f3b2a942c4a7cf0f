"""A worker process that writes until it is killed; it touches MARKER once it is mid-write.

Usage: killed_writer.py artifact|records|batch MARKER
- artifact: streams a large blob into the artifact store, slowly.
- records: logs metric batches and creates artifact versions, as fast as it can.
- batch: puts 1,000 blobs in one batch of the artifact store, then waits inside it.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import loopml
from loopml.store import MetricPoint

BLOCK = 1024 * 1024
BATCH = 10_000


class SlowStream(io.RawIOBase):
    """Yields up to 2 GiB in 1 MiB blocks, touching the marker after the fifth."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.blocks = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.blocks += 1
        if self.blocks == 5:
            self.marker.touch()
        if self.blocks > 5:
            time.sleep(0.02)
        return b"x" * BLOCK if self.blocks <= 2048 else b""


def write_artifact(ws: loopml.Workspace, marker: Path) -> None:
    ws.artifacts.put_stream(SlowStream(marker))  # type: ignore[arg-type]


def write_records(ws: loopml.Workspace, marker: Path) -> None:
    run = ws.store.create_run(kind="train", name="doomed")
    for number in range(10_000):
        ws.store.log_metrics(
            run.id, [MetricPoint("loss", float(i), step=number * BATCH + i) for i in range(BATCH)]
        )
        blob = ws.artifacts.put_bytes(f"version {number}".encode())
        ws.store.create_artifact(
            kind="file", name="doomed", digest=blob.digest, size=blob.size, run_id=run.id
        )
        if number == 2:
            marker.touch()


def write_batch(ws: loopml.Workspace, marker: Path) -> None:
    with ws.artifacts.batch() as batch:
        for number in range(1_000):
            batch.put_bytes(f"blob {number}".encode())
        marker.touch()
        time.sleep(600)


def main() -> None:
    mode, marker = sys.argv[1], Path(sys.argv[2])
    with loopml.workspace() as ws:
        {"artifact": write_artifact, "records": write_records, "batch": write_batch}[mode](
            ws, marker
        )


if __name__ == "__main__":
    main()
