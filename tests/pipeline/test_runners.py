"""The processes runner: same runs and artifacts as the local one, independent steps at
once, failures stopping the rest; and running up to one step."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

import loopml
from loopml.errors import InvalidInput, StepFailed
from loopml.pipeline import load_pipeline
from loopml.store import RunStatus

# `left` and `right` each wait (bounded) for the other to start: the pipeline only
# finishes if they run at the same time.
DIAMOND = """
import os, time
from pathlib import Path
import loopml

MEETING = Path(os.environ["LOOPML_TEST_MEETING"])

def meet(me, other):
    (MEETING / me).touch()
    deadline = time.monotonic() + float(os.environ.get("LOOPML_TEST_MEETING_S", "30"))
    while not (MEETING / other).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{me} ran alone: {other} never started")
        time.sleep(0.01)

@loopml.step
def source(n: int = 4) -> list:
    return list(range(n))

@loopml.step
def left(values: list, wait: bool = False) -> int:
    if wait:
        meet("left", "right")
    return sum(values)

@loopml.step
def right(values: list, wait: bool = False) -> int:
    if wait:
        meet("right", "left")
    return max(values)

@loopml.step
def join(a: int, b: int) -> dict:
    return {"sum": a, "max": b}

@loopml.pipeline
def diamond(n: int = 4, wait: bool = False):
    values = source(n)
    return join(left(values, wait=wait), right(values, wait=wait))
"""


@pytest.fixture
def diamond(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    monkeypatch.setenv("LOOPML_TEST_MEETING", str(meeting))
    (tmp_path / "diamond.py").write_text(textwrap.dedent(DIAMOND))
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as ws:
        yield ws, load_pipeline(f"{tmp_path / 'diamond.py'}:diamond")
    sys.modules.pop("loopml_user_diamond", None)


def outputs(ws: loopml.Workspace, result) -> dict[str, str]:
    return {s.name: s.output.digest for s in result.steps}


def test_processes_run_independent_steps_at_once(diamond) -> None:
    ws, pipeline = diamond
    result = pipeline.run(workspace=ws, echo=False, runner="processes", workers=2, wait=True)
    assert result.value == {"sum": 6, "max": 3}
    runs = ws.store.find_runs(parent_id=result.run_id)
    assert sorted(r.name for r in runs) == [
        f"diamond/{s}" for s in ("join", "left", "right", "source")
    ]
    assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
    assert len({r.pid for r in runs}) >= 2  # in worker processes
    assert ws.store.get_run(result.run_id).tags["runner"] == "processes"


def test_both_runners_give_the_same_artifacts_and_share_the_cache(diamond) -> None:
    ws, pipeline = diamond
    parallel = pipeline.run(workspace=ws, echo=False, runner="processes", workers=2, n=5)
    local = pipeline.run(workspace=ws, echo=False, force=True, n=5)
    assert outputs(ws, parallel) == outputs(ws, local)
    cached = pipeline.run(workspace=ws, echo=False, runner="processes", n=5)
    assert {s.status for s in cached.steps} == {"cached"}
    # Cache hits are recorded by the parent: no worker process was started for them.
    assert {r.pid for r in ws.store.find_runs(parent_id=cached.run_id)} == {os.getpid()}


def test_only_the_steps_that_must_run_go_to_workers(diamond) -> None:
    ws, pipeline = diamond
    pipeline.run(workspace=ws, echo=False, n=5)
    result = pipeline.run(workspace=ws, echo=False, runner="processes", force=["right"], n=5)
    assert [s.status for s in result.steps] == ["cached", "cached", "ran", "ran"]
    pids = {r.name: r.pid for r in ws.store.find_runs(parent_id=result.run_id)}
    assert pids["diamond/source"] == pids["diamond/left"] == os.getpid()
    assert pids["diamond/right"] != os.getpid()
    assert pids["diamond/join"] != os.getpid()


def test_a_failure_in_a_worker_fails_the_pipeline(diamond, monkeypatch) -> None:
    ws, pipeline = diamond
    monkeypatch.setenv("LOOPML_TEST_MEETING_S", "1")
    # wait=True with one worker: left waits for right, which cannot start; it times out.
    with pytest.raises(StepFailed, match="TimeoutError") as raised:
        pipeline.run(workspace=ws, echo=False, runner="processes", workers=1, wait=True)
    run = ws.store.get_run(raised.value.run_id)
    assert run.status == RunStatus.FAILED
    assert "ran alone" in run.error
    parent = ws.store.get_run(run.parent_id)
    assert parent.status == RunStatus.FAILED
    names = {r.name for r in ws.store.find_runs(parent_id=parent.id)}
    assert "diamond/join" not in names  # nothing after the failure was started


def test_until_runs_a_step_and_what_it_needs(diamond) -> None:
    ws, pipeline = diamond
    result = pipeline.run(workspace=ws, echo=False, until="left")
    assert [s.name for s in result.steps] == ["source", "left"]
    full = pipeline.run(workspace=ws, echo=False)
    assert [s.status for s in full.steps] == ["cached", "cached", "ran", "ran"]
    with pytest.raises(InvalidInput, match="no step 'middle'"):
        pipeline.run(workspace=ws, echo=False, until="middle")


def test_bad_runner_options(diamond) -> None:
    ws, pipeline = diamond
    with pytest.raises(InvalidInput, match="runner 'threads' is not one of local, processes"):
        pipeline.run(workspace=ws, echo=False, runner="threads")
    with pytest.raises(InvalidInput, match="workers is 0"):
        pipeline.run(workspace=ws, echo=False, runner="processes", workers=0)
