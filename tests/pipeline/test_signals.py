"""Real signals to real `loopml run` processes: SIGTERM ends the pipeline's and the steps'
runs as killed, with the reason, and exits 143 (128 + 15); after SIGKILL of a
`--runner processes` run no worker survives, and the workers end the runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml.store import Run, RunStatus
from processes import alive, still_running_after

PIPELINE = """
import os, time
from pathlib import Path
import loopml

STARTED = Path(os.environ["LOOPML_TEST_STARTED"])

def wait_here(me):
    (STARTED / me).write_text(str(os.getpid()))
    time.sleep(600)  # stopped here

@loopml.step
def source(n: int = 2) -> list:
    return list(range(n))

@loopml.step
def left(values: list) -> int:
    wait_here("left")
    return sum(values)

@loopml.step
def right(values: list) -> int:
    wait_here("right")
    return max(values)

@loopml.step
def join(a: int, b: int) -> int:
    return a + b

@loopml.pipeline
def sleepy(n: int = 2):
    values = source(n)
    return join(left(values), right(values))
"""


class Started:
    """A `loopml run` of the sleepy pipeline, and the pids of the steps it started."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.folder = folder
        self.started = folder / "started"
        self.started.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
        self.stderr = folder / "stderr.txt"
        with self.stderr.open("w") as err:
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("loopml")),
                    "run",
                    "pipelines.py:sleepy",
                    *args,
                ],
                cwd=folder,
                env={**env, "LOOPML_TEST_STARTED": str(self.started)},
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def wait_for_steps(self, *names: str) -> dict[str, int]:
        """The pids of the processes running the named steps, once all have started."""
        deadline = time.monotonic() + 120
        while not all((self.started / name).exists() for name in names):
            assert self.process.poll() is None, self.stderr.read_text()
            assert time.monotonic() < deadline, f"steps {names} never all started"
            time.sleep(0.05)
        time.sleep(0.2)  # the pid is written first thing; let the write land
        return {name: int((self.started / name).read_text()) for name in names}

    def step_pids(self) -> list[int]:
        return [int(p.read_text()) for p in self.started.iterdir() if p.read_text()]

    def stop(self) -> None:
        """Leave nothing behind, whatever the test found."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        for pid in self.step_pids():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    loopml.init(tmp_path).close()
    return tmp_path


def runs(folder: Path) -> dict[str, Run]:
    with loopml.workspace(folder) as ws:
        return {run.name: run for run in ws.store.find_runs()}


@pytest.fixture
def started(project: Path) -> Iterator[list[Started]]:
    made: list[Started] = []
    yield made
    for run in made:
        run.stop()


def test_sigterm_of_loopml_run_ends_its_runs_as_killed(project: Path, started) -> None:
    run = Started(project)
    started.append(run)
    run.wait_for_steps("left")
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=60) == 143, run.stderr.read_text()
    assert "terminated by SIGTERM" in run.stderr.read_text()
    found = runs(project)
    assert found["sleepy"].status is RunStatus.KILLED
    assert found["sleepy"].error == "terminated by SIGTERM"
    assert found["sleepy/source"].status is RunStatus.SUCCEEDED
    assert found["sleepy/left"].status is RunStatus.KILLED
    assert "Terminated: terminated by SIGTERM" in (found["sleepy/left"].error or "")
    assert "sleepy/right" not in found  # never started: the pipeline stopped before it
    assert not [r.name for r in found.values() if r.status is RunStatus.RUNNING]


def test_sigterm_of_a_processes_run_stops_its_workers(project: Path, started) -> None:
    run = Started(project, "--runner", "processes", "--workers", "2")
    started.append(run)
    workers = run.wait_for_steps("left", "right")
    assert run.process.pid not in workers.values()  # the steps run in worker processes
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=60) == 143, run.stderr.read_text()
    assert still_running_after(list(workers.values()), 30) == []
    found = runs(project)
    assert found["sleepy"].status is RunStatus.KILLED
    assert found["sleepy"].error == "terminated by SIGTERM"
    for step in ("left", "right"):
        record = found[f"sleepy/{step}"]
        assert record.status is RunStatus.KILLED, record
        assert record.pid == workers[step]
        assert "Terminated: the pipeline was stopped" in (record.error or ""), record.error
    assert not [r.name for r in found.values() if r.status is RunStatus.RUNNING]


def test_no_worker_outlives_a_processes_run_killed_with_sigkill(project: Path, started) -> None:
    run = Started(project, "--runner", "processes", "--workers", "2")
    started.append(run)
    workers = run.wait_for_steps("left", "right")
    parent = run.process.pid
    run.process.send_signal(signal.SIGKILL)
    run.process.wait(timeout=30)
    assert still_running_after(list(workers.values()), 60) == [], "workers outlived their parent"
    found = runs(project)
    for step in ("left", "right"):
        record = found[f"sleepy/{step}"]
        assert record.status is RunStatus.KILLED, record
        assert f"its pipeline's process ({parent}) ended" in (record.error or "")
    pipeline = found["sleepy"]
    assert pipeline.status is RunStatus.KILLED
    assert pipeline.error is not None
    assert pipeline.error.startswith(f"its pipeline's process ({parent}) ended while step")
    assert not [r.name for r in found.values() if r.status is RunStatus.RUNNING]
