"""The tracking API: runs started by hand, by the first log call, and by a pipeline step;
metrics buffered and all written on a normal exit, an exception and SIGTERM."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import loopml
from loopml.errors import InvalidInput
from loopml.store import RunStatus


@pytest.fixture
def ws(tmp_path: Path):
    with loopml.init(tmp_path) as ws:
        yield ws


def values(ws: loopml.Workspace, run_id: str, key: str) -> list[float]:
    return [m.value for m in ws.store.metrics(run_id, key=key)]


def test_a_run_records_params_metrics_tags_and_its_children(ws) -> None:
    with loopml.start_run("fit", workspace=ws, params={"C": 0.5}, tags={"team": "a"}) as run:
        loopml.log_params({"layers": 2}, seed=7)
        loopml.log_param("C", 0.5)  # the same value again is fine
        for epoch in range(5):
            loopml.log_metrics({"loss": 1 / (epoch + 1), "acc": epoch / 10})
        loopml.log_metric("lr", 0.01, step=np.int64(40))
        loopml.set_tags(phase="warmup")
        with loopml.start_run("fold-1") as child:
            loopml.log_metric("auc", 0.9)
    record = ws.store.get_run(run.id)
    assert record.status is RunStatus.SUCCEEDED
    assert record.params == {"C": 0.5, "layers": 2, "seed": 7}
    assert record.tags == {"team": "a", "phase": "warmup"}
    assert [m.step for m in ws.store.metrics(run.id, key="loss")] == [0, 1, 2, 3, 4]
    assert values(ws, run.id, "acc") == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert [m.step for m in ws.store.metrics(run.id, key="lr")] == [40]
    assert ws.store.get_run(child.id).parent_id == run.id
    assert values(ws, child.id, "auc") == [0.9]
    assert values(ws, run.id, "auc") == []
    assert record.environment["python"]  # where it ran
    assert "packages" in record.environment


def test_bad_values_are_refused_at_the_call(ws) -> None:
    with loopml.start_run("fit", workspace=ws, params={"C": 0.5}) as run:
        with pytest.raises(InvalidInput, match="'acc' = 'high' is not a number"):
            loopml.log_metric("acc", "high")
        with pytest.raises(InvalidInput, match=r"step 1\.5 must be a whole number"):
            loopml.log_metric("acc", 0.5, step=1.5)
        with pytest.raises(InvalidInput, match=r"'C' of run \w+ is already 0\.5"):
            loopml.log_params(C=1.0)
        loopml.log_metric("acc", math.nan)
    assert math.isnan(values(ws, run.id, "acc")[0])
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_metric("acc", 1.0)


def test_an_exception_fails_the_run_and_keeps_its_metrics(ws) -> None:
    def diverge() -> None:
        with loopml.start_run("fit", workspace=ws) as run:
            started.append(run)
            for i in range(100):
                loopml.log_metric("loss", float(i))
            raise ZeroDivisionError("diverged")

    started: list[loopml.tracking.ActiveRun] = []
    with pytest.raises(ZeroDivisionError):
        diverge()
    run = started[0]
    record = ws.store.get_run(run.id)
    assert record.status is RunStatus.FAILED
    assert record.error == "ZeroDivisionError: diverged"
    assert values(ws, run.id, "loss") == [float(i) for i in range(100)]


def test_metrics_are_written_in_the_background_while_the_run_goes_on(ws) -> None:
    with loopml.start_run("fit", workspace=ws) as run:
        loopml.log_metric("loss", 1.0)
        deadline = time.monotonic() + 10
        while not ws.store.metrics(run.id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert values(ws, run.id, "loss") == [1.0]  # written before the run ended


def test_log_artifact_stores_files_folders_and_objects(ws, tmp_path: Path) -> None:
    report = tmp_path / "confusion matrix.txt"
    report.write_text("tp fp\nfn tn\n")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"png")
    (folder / "sub" / "b.png").write_bytes(b"png2")
    with loopml.start_run("train", workspace=ws) as run:
        file_artifact = loopml.log_artifact(report)
        folder_artifact = loopml.log_artifact(str(folder))
        table = loopml.log_artifact({"weights": [1, 2]}, name="weights")
        with pytest.raises(InvalidInput, match="no file or folder at"):
            loopml.log_artifact("no-such-file.csv")
        with pytest.raises(InvalidInput, match="needs a name"):
            loopml.log_artifact([1, 2, 3])
    assert file_artifact.name == "train/confusion-matrix.txt"
    assert ws.artifacts.read_bytes(file_artifact.digest) == b"tp fp\nfn tn\n"
    assert folder_artifact.metadata["files"] == 2
    assert (table.kind, table.name, table.metadata["format"]) == ("object", "train/weights", "json")
    outputs = {e.artifact_id for e in ws.store.events(run_id=run.id)}
    assert outputs == {file_artifact.id, folder_artifact.id, table.id}


SCRIPT = """
import os, signal, sys, time
import loopml

ws = loopml.workspace({root!r})
mode = sys.argv[1]
with loopml.start_run("outer", workspace=ws) if mode == "nested" else open(os.devnull) as _:
    for i in range(1000):
        loopml.log_metric("loss", float(i))
    print(loopml.active_run().id, flush=True)
    if mode == "raise":
        raise RuntimeError("diverged")
    if mode == "sigterm":
        print("ready", flush=True)
        time.sleep(60)
"""


@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [
        ("exit", RunStatus.SUCCEEDED, None),
        ("raise", RunStatus.FAILED, "RuntimeError: diverged"),
        ("sigterm", RunStatus.KILLED, "terminated (SIGTERM)"),
        ("nested", RunStatus.SUCCEEDED, None),
    ],
)
def test_a_script_loses_no_metric_however_it_ends(ws, tmp_path: Path, mode, status, error) -> None:
    script = tmp_path / "train_script.py"
    script.write_text(textwrap.dedent(SCRIPT.format(root=str(ws.root))))
    process = subprocess.Popen(
        [sys.executable, str(script), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ws.root,  # where a run started by the first log call finds its workspace
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    if mode == "sigterm":
        assert process.stdout.readline().strip() == "ready"
        os.kill(process.pid, signal.SIGTERM)
    process.wait(timeout=60)
    run = ws.store.get_run(run_id)
    assert (run.status, run.error) == (status, error)
    assert values(ws, run_id, "loss") == [float(i) for i in range(1000)]
    if mode == "exit":
        assert run.name == "train_script"  # started by the first log call, named by the script
        assert run.code["file"] == str(script)
    if mode == "sigterm":
        assert process.returncode == -signal.SIGTERM  # the signal still ends the process


STEP_PIPELINE = """
import loopml

@loopml.step
def train(epochs: int = 3) -> float:
    for epoch in range(epochs):
        loopml.log_metric("loss", 1.0 / (epoch + 1))
    loopml.log_params(optimizer="sgd")
    return 0.5

@loopml.pipeline
def fit(epochs: int = 3):
    return train(epochs)
"""


def test_log_calls_in_a_step_write_to_the_steps_run(ws, tmp_path: Path) -> None:
    from loopml.pipeline import load_pipeline

    (tmp_path / "fit_pipeline.py").write_text(textwrap.dedent(STEP_PIPELINE))
    pipeline = load_pipeline(f"{tmp_path / 'fit_pipeline.py'}:fit")
    result = pipeline.run(workspace=ws, echo=False)
    step_run = result.steps[0].run_id
    assert values(ws, step_run, "loss") == [1.0, 0.5, 1.0 / 3]
    record = ws.store.get_run(step_run)
    assert record.params == {"epochs": 3, "optimizer": "sgd"}
    assert record.status is RunStatus.SUCCEEDED
    assert loopml.active_run() is None  # nothing left active after the step


def test_a_deferred_run_is_recorded_whole_when_it_ends(ws, tmp_path: Path) -> None:
    from loopml.errors import NotFound

    with loopml.start_run("trial", workspace=ws, deferred=True, params={"C": 1}) as run:
        loopml.log_metric("loss", 0.5)
        loopml.log_params(gamma=0.1)
        loopml.set_tags(fold=1)
        with pytest.raises(InvalidInput, match="'C' of run"):
            loopml.log_params(C=2)
        with pytest.raises(NotFound):
            ws.store.get_run(run.id)  # nothing written yet
        assert run.run.params == {"C": 1, "gamma": 0.1}
    assert run.run.status is RunStatus.SUCCEEDED  # read through the writer's queue
    record = ws.store.get_run(run.id)
    assert (record.status, record.params, record.tags) == (
        RunStatus.SUCCEEDED,
        {"C": 1, "gamma": 0.1},
        {"fold": 1},
    )
    assert values(ws, run.id, "loss") == [0.5]

    # An artifact or a child run needs the run in the store: it is written first.
    (tmp_path / "note.txt").write_text("x")
    with loopml.start_run("trial", workspace=ws, deferred=True) as parent:
        loopml.log_metric("early", 1.0)
        loopml.log_artifact(tmp_path / "note.txt")
        assert ws.store.get_run(parent.id).status is RunStatus.RUNNING
        with loopml.start_run("fold") as child:
            loopml.log_metric("auc", 0.8)
        loopml.log_metric("late", 2.0)
    assert ws.store.get_run(child.id).parent_id == parent.id
    assert ws.store.get_run(parent.id).status is RunStatus.SUCCEEDED
    assert ws.store.latest_metrics([parent.id])[parent.id] == {"early": 1.0, "late": 2.0}


DEFERRED_SCRIPT = """
import loopml
ws = loopml.workspace({root!r})
for i in range(50):
    with loopml.start_run("trial", workspace=ws, deferred=True, params={{"i": i}}):
        loopml.log_metric("x", float(i))
"""


def test_deferred_runs_are_all_written_by_the_time_a_script_exits(ws, tmp_path: Path) -> None:
    script = tmp_path / "many_runs.py"
    script.write_text(textwrap.dedent(DEFERRED_SCRIPT.format(root=str(ws.root))))
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    runs = ws.store.find_runs(name="trial")
    assert sorted(r.params["i"] for r in runs) == list(range(50))
    assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
    assert len(ws.store.latest_metrics([r.id for r in runs])) == 50


def test_a_dataset_read_in_a_run_is_one_of_its_inputs(ws) -> None:
    import polars as pl

    from loopml.store import Direction

    added = loopml.data.add(pl.DataFrame({"x": [1, 2, 3]}), name="numbers", workspace=ws)
    with loopml.start_run("train", workspace=ws, deferred=True) as run:
        got = loopml.data.get("numbers@latest", workspace=ws)
        loopml.data.get("numbers@latest", workspace=ws)  # the same read twice: one event
        loopml.data.get("numbers@v1", workspace=ws)  # by another ref: kept, with the ref
    events = ws.store.events(run_id=run.id)
    assert [(e.artifact_id, e.direction, e.role) for e in events] == [
        (added.artifact.id, Direction.INPUT, "dataset numbers@latest"),
        (added.artifact.id, Direction.INPUT, "dataset numbers@v1"),
    ]
    assert got.ref == "numbers@v1"
    loopml.data.get("numbers", workspace=ws)  # outside a run: nothing to record
    assert len(ws.store.events(artifact_id=added.artifact.id)) == 2
