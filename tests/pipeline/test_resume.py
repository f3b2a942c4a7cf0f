"""A pipeline killed with SIGKILL resumes from its last completed step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import loopml
from loopml.store import RunStatus

PIPELINE = """
import os, time
import loopml

@loopml.step
def first(n: int = 3) -> list:
    return list(range(n))

@loopml.step
def second(values: list) -> int:
    marker = os.environ.get("LOOPML_TEST_MARKER")
    if marker:
        open(marker, "w").close()
        time.sleep(60)  # killed here
    return sum(values)

@loopml.step
def third(total: int) -> int:
    return total * 10

@loopml.pipeline
def resumable(n: int = 3):
    return third(second(first(n)))
"""


def test_a_killed_pipeline_resumes_after_its_last_completed_step(tmp_path: Path) -> None:
    (tmp_path / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    loopml.init(tmp_path).close()
    marker = tmp_path / "second-started"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    command = [str(Path(sys.executable).with_name("loopml")), "run", "pipelines.py:resumable"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**env, "LOOPML_TEST_MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, "the pipeline ended before the step it was to die in"
            assert time.monotonic() < deadline, "step `second` never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    with loopml.workspace(tmp_path) as ws:
        running = ws.store.find_runs(status=RunStatus.RUNNING)
        assert sorted(r.name for r in running) == ["resumable", "resumable/second"]

    again = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0, again.stderr
    lines = {line.split()[0]: line for line in again.stdout.splitlines() if line.startswith("  ")}
    assert "cached from run" in lines["first"]
    assert "ran" in lines["second"].split()[1]
    assert "ran" in lines["third"].split()[1]
    with loopml.workspace(tmp_path) as ws:
        killed = ws.store.find_runs(status=RunStatus.KILLED)
        assert sorted(r.name for r in killed) == ["resumable", "resumable/second"]
        assert all("ended before it finished" in (r.error or "") for r in killed)
        assert ws.store.find_runs(status=RunStatus.RUNNING) == []
        (last,) = [r for r in ws.store.find_runs(kind="pipeline") if r.status == "succeeded"]
        third = next(r for r in ws.store.find_runs(parent_id=last.id) if r.name.endswith("third"))
        output = next(e for e in ws.store.events(run_id=third.id) if e.role == "output")
        digest = ws.store.get_artifact(output.artifact_id).digest
        assert ws.artifacts.read_bytes(digest) == b"30"
