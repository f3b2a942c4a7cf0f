"""Must hold: a writer killed by SIGKILL mid-write leaves the workspace whole and readable."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import loopml
from loopml.store import MetricPoint, RunStatus

WORKER = Path(__file__).parent / "workers" / "killed_writer.py"


def kill_mid_write(mode: str, root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    marker = root / "marker"
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(marker)],
        cwd=root,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        assert time.monotonic() < deadline, "the worker never got to mid-write"
        time.sleep(0.01)
    time.sleep(0.2)
    assert worker.poll() is None, "the worker finished before it could be killed"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL


def test_killed_mid_artifact_leaves_no_partial_blob(any_store_url: str, tmp_path: Path) -> None:
    loopml.init(tmp_path, store_url=any_store_url).close()
    kill_mid_write("artifact", tmp_path)
    # It was killed mid-write: its temporary file is there, and no blob is.
    leftovers = list((tmp_path / ".loopml" / "artifacts" / "tmp").iterdir())
    assert len(leftovers) == 1
    assert leftovers[0].stat().st_size >= 5 * 1024 * 1024
    with loopml.workspace(tmp_path) as ws:
        assert list(ws.artifacts.digests()) == []
        blob = ws.artifacts.put_bytes(b"life goes on")
        assert ws.artifacts.read_bytes(blob.digest) == b"life goes on"
        assert list(ws.artifacts.digests()) == [blob.digest]


def test_killed_mid_batch_leaves_no_blob(any_store_url: str, tmp_path: Path) -> None:
    """A batch's blobs are written, not yet visible: killed then, none of them exists."""
    loopml.init(tmp_path, store_url=any_store_url).close()
    kill_mid_write("batch", tmp_path)
    # Written into one pack, and left where nothing reads it.
    leftovers = list((tmp_path / ".loopml" / "artifacts" / "tmp").iterdir())
    assert [path.suffix for path in leftovers] == [".part"]
    assert leftovers[0].stat().st_size == sum(len(f"blob {n}") for n in range(1_000))
    with loopml.workspace(tmp_path) as ws:
        assert list(ws.artifacts.digests()) == []
        blob = ws.artifacts.put_bytes(b"blob 7")
        assert ws.artifacts.read_bytes(blob.digest) == b"blob 7"
        assert list(ws.artifacts.digests()) == [blob.digest]


def test_killed_mid_records_leaves_whole_batches(any_store_url: str, tmp_path: Path) -> None:
    loopml.init(tmp_path, store_url=any_store_url).close()
    kill_mid_write("records", tmp_path)
    if any_store_url.startswith("sqlite"):
        connection = sqlite3.connect(tmp_path / ".loopml" / "loopml.db")
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        connection.close()
    with loopml.workspace(tmp_path) as ws:
        [run] = ws.store.find_runs(name="doomed")
        assert run.status is RunStatus.RUNNING
        points = ws.store.metrics(run.id)
        assert len(points) >= 3 * 10_000
        assert len(points) % 10_000 == 0
        assert [p.step for p in points] == list(range(len(points)))
        versions = ws.store.find_artifacts(name="doomed")
        assert [a.version for a in versions] == list(range(1, len(versions) + 1))
        for artifact in versions:
            assert (
                ws.artifacts.read_bytes(artifact.digest)
                == f"version {artifact.version - 1}".encode()
            )
        # The workspace takes new writes: no lock was left behind. On SQLite a writer
        # that will not wait (timeout 0) gets the write lock, which a lock left by the
        # killed process would refuse at once ("database is locked").
        if any_store_url.startswith("sqlite"):
            bold = sqlite3.connect(tmp_path / ".loopml" / "loopml.db", timeout=0)
            bold.execute("BEGIN IMMEDIATE")
            bold.rollback()
            bold.close()
        fresh = ws.store.create_run(kind="train", name="after")
        ws.store.log_metrics(fresh.id, [MetricPoint("loss", 1.0)])
        ws.store.finish_run(fresh.id, RunStatus.SUCCEEDED)
        assert ws.store.get_run(fresh.id).status is RunStatus.SUCCEEDED
