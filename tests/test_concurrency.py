"""Must hold: 8 processes writing one workspace at once lose nothing and never see a lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import loopml
from loopml.store import RunStatus

WORKERS, RUNS = 8, 5
WORKER = Path(__file__).parent / "workers" / "write_workspace.py"


def test_eight_processes_write_one_workspace(any_store_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    with loopml.init(tmp_path, store_url=any_store_url):
        pass
    start = tmp_path / "start"
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(index), str(RUNS), str(start)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(WORKERS)
    ]
    time.sleep(0.5)  # let every worker import loopml and open the workspace
    start.touch()
    results = [worker.communicate(timeout=300) for worker in workers]
    errors = [err for _, err in results]
    assert [worker.returncode for worker in workers] == [0] * WORKERS, errors
    assert not any("locked" in err.lower() for err in errors), errors

    with loopml.workspace(tmp_path) as ws:
        runs = ws.store.find_runs(kind="train")
        assert len(runs) == WORKERS * RUNS
        assert {run.status for run in runs} == {RunStatus.SUCCEEDED}
        assert ws.store.info().counts["metrics"] == WORKERS * RUNS * 1000
        for run in runs:
            losses = ws.store.metrics(run.id, key="loss")
            assert [m.step for m in losses] == list(range(1000))
            assert len(ws.store.events(run_id=run.id)) == 2
        shared = ws.store.find_artifacts(name="shared")
        assert [a.version for a in shared] == list(range(1, WORKERS * RUNS + 1))
        assert len({a.digest for a in shared}) == 1
        for index in range(WORKERS):
            own = ws.store.find_artifacts(name=f"own-{index}")
            assert [a.version for a in own] == list(range(1, RUNS + 1))
        referenced = {a.digest for a in ws.store.find_artifacts()}
        assert set(ws.artifacts.digests()) == referenced
        for digest in referenced:
            ws.artifacts.verify(digest)
    assert list((tmp_path / ".loopml" / "artifacts" / "tmp").iterdir()) == []


def test_processes_adding_at_once_record_one_version_per_content(
    any_store_url: str, tmp_path: Path
) -> None:
    # Each compared its content with the latest version before staging it, then
    # recorded it whatever was written meanwhile: the same file added four times at
    # once made four versions, and a later version's profile could give the schema.
    import polars as pl

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    with loopml.init(tmp_path, store_url=any_store_url):
        pass
    for index in range(4):
        rows = pl.DataFrame({"a": list(range(index, index + 50)), "b": ["x", "y"] * 25})
        rows.write_parquet(tmp_path / f"d{index}.parquet")
    adds = [
        subprocess.Popen(
            [sys.executable, "-m", "loopml", "data", "add", file, "--name", name],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
        for file, name in ((f"d{index}.parquet", "diff"), ("d0.parquet", "same"))
    ]
    results = [add.communicate(timeout=300) for add in adds]
    assert [add.returncode for add in adds] == [0] * 8, [err for _, err in results]
    with loopml.workspace(tmp_path) as ws:
        same = ws.store.find_artifacts(kind="dataset", name="same")
        assert [a.version for a in same] == [1]
        diff = ws.store.find_artifacts(kind="dataset", name="diff")
        assert sorted(a.version for a in diff) == [1, 2, 3, 4]
        (schema,) = ws.store.find_artifacts(kind="schema", name="diff")
        assert schema.metadata["source"] == "inferred from diff@v1"
