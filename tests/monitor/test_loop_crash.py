"""A controller SIGKILLed at any point of a pass, and started again, ends where one that
was never killed ends: one retraining, one challenger sent out once, no decision taken
twice, no dataset or model version made twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.monitor.looping import Client, request, send_days, set_up, wait_until_logged, weather
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
    kill_when(tmp_path, ws, exists("model", "rain", 2))  # may land after the deploy
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


def test_feedback_across_a_server_restart_and_a_killed_controller_ends_joined(
    tmp_path: Path,
) -> None:
    """Nothing lost, the whole loop at once: 10,000 days predicted by a real `loopml
    serve`, their labels sent over HTTP while the server is stopped with SIGTERM and
    started again and a controller is SIGKILLed mid-retraining and started again. Every
    row ends joined with its label, and each decision was taken once."""
    from tests.serve.test_process import Sender, Serving

    from loopml.monitor import labelled

    ws = set_up(tmp_path)
    define_loop(rain_loop(triggers={"new_labels": 2000}), workspace=ws)
    days = weather().slice(8000, 10_000)
    with Serving(tmp_path) as first:
        answers = []
        with Client(first.url) as client:
            for start in range(0, days.height, 100):
                chunk = days.slice(start, 100)
                status, headers, answer = client.post("/v2/models/rain/infer", request(chunk))
                assert status == 200, answer
                answers.append((headers["x-loopml-prediction-id"], chunk["rain"].to_list()))
        right = {(pid, row): label for pid, labels in answers for row, label in enumerate(labels)}
        plan = [{"prediction_id": p, "row": r, "label": label} for (p, r), label in right.items()]
        sender = Sender(first.port, plan)
        client_thread = threading.Thread(target=sender.run)
        client_thread.start()
        assert wait_for(lambda: sender.sent >= 2_500 or sender.failure is not None, 120)
        killed = controller(tmp_path)  # a controller starts while labels come in,
        first.stop(signal.SIGTERM)  # the server goes down under the sender,
        retrained = wait_for(
            lambda: "retrain" in [d.action for d in loop_decisions(ws, "rain")], 120
        )
        killed.send_signal(signal.SIGKILL)  # and the controller is killed mid-pass
        killed.wait()
        assert retrained, killed.stderr.read() if killed.stderr else ""
        with Serving(tmp_path, port=first.port) as second:
            time.sleep(LEASE_SECONDS + 0.2)  # the killed one's lease runs out
            finished = False
            while not finished:
                done = controller(tmp_path)
                _, err = done.communicate(timeout=180)
                finished = done.returncode == 0
                assert finished or b"holds this workspace's loop lease" in err, err
                time.sleep(0.5)
            client_thread.join(timeout=300)
            second.stop(signal.SIGTERM)
    assert sender.failure is None, sender.failure
    assert sender.sent == len(plan) == 10_000
    assert sender.refused > 0  # the server was down while labels were being sent
    found = labelled("rain", workspace=ws)
    joined = {(r["prediction_id"], r["row"]): r["label"] for r in found.rows.to_dicts()}
    assert joined == right  # every row, with its label
    assert found.unmatched == ()
    actions = [d.action for d in loop_decisions(ws, "rain") if d.action != "watch"]
    assert actions == ["retrain", "deploy"]  # once each, though killed in between
    ws.close()
