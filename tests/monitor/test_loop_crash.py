"""A controller SIGKILLed at any point of a pass, and started again, ends where one that
was never killed ends: one retraining, one challenger sent out once, no decision taken
twice, no dataset or model version made twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.monitor.looping import send_days, set_up, wait_until_logged, weather
from tests.monitor.looping import serve as serving
from tests.monitor.test_loop import rain_loop
from tests.serve.serving import wait_for

import loopml
from loopml import registry, serve
from loopml.errors import NotFound
from loopml.monitor import define_loop, loop_decisions

LEASE_SECONDS = 2.0


def controller(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "loopml", "loop", "--once", "--lease", f"{LEASE_SECONDS:.0f}s"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_when(root: Path, ws: loopml.Workspace, moment: Callable[[], bool]) -> None:
    """Start a controller and SIGKILL it the moment ``moment`` comes true (read from
    the store every 20 ms); then wait for its lease to run out."""
    process = controller(root)
    try:
        assert wait_for(moment, 120.0), process.stderr.read() if process.poll() else "no"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    time.sleep(LEASE_SECONDS + 0.2)


def test_a_controller_killed_mid_pass_resumes_and_decides_once(tmp_path: Path) -> None:
    ws = set_up(tmp_path)  # the 1949 model, which the 1990s make decay
    define_loop(rain_loop(), workspace=ws)
    with serving(ws) as running:
        send_days(running, ws, weather().slice(14600, 2500))
        wait_until_logged(ws, 2500, 2500)

    def actions() -> list[str]:
        return [d.action for d in loop_decisions(ws, "rain")]

    def exists(kind: str, name: str, version: int) -> Callable[[], bool]:
        def found() -> bool:
            try:
                ws.store.get_artifact_version(kind, name, version)
            except NotFound:
                return False
            return True

        return found

    # Killed once it decided to retrain, once it made the dataset version (its lineage
    # not yet written), and once it registered the model (not yet sent out).
    kill_when(tmp_path, ws, lambda: actions() == ["retrain"])
    assert actions() == ["retrain"]
    kill_when(tmp_path, ws, exists("dataset", "rainfall", 2))
    kill_when(tmp_path, ws, exists("model", "rain", 2))
    assert actions() == ["retrain"]
    done = controller(tmp_path)
    _, err = done.communicate(timeout=180)
    assert done.returncode == 0, err

    assert actions() == ["retrain", "deploy"]
    assert [d.number for d in loop_decisions(ws, "rain")] == [1, 2]
    assert [v.ref for v in registry.versions("rain", workspace=ws)] == ["rain@v1", "rain@v2"]
    added = [a.ref for a in ws.store.find_artifacts(kind="dataset", name="rainfall")]
    assert added == ["rainfall@v1", "rainfall@v2"]
    policy = serve.deployment("rain", workspace=ws).policy
    assert sorted((arm.model, arm.weight) for arm in policy.arms) == [
        ("rain@champion", 0.5),
        ("rain@v2", 0.5),
    ]
    changes = serve.deployment_history("rain", workspace=ws)
    assert [c.actor for c in changes].count("loop rain") == 1  # routed once
    ws.close()
