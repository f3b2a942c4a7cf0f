"""`loopml serve` as a real process: what SIGTERM and SIGKILL leave in the prediction
log, feedback sent across a restart, two servers on one workspace, and what the server
imports."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.serve.serving import (
    breast_cancer,
    call,
    frame,
    logistic,
    promote,
    register,
    rows,
    wait_for,
)

import loopml
from loopml.monitor import labelled

LOOPML = [sys.executable, "-m", "loopml"]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    with loopml.init(tmp_path) as workspace:
        register(workspace, logistic(1.0))
        loopml.deploy("bc", model="bc@champion", workspace=workspace)
        yield workspace


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serving:
    """``loopml serve`` in a subprocess on free ports, ready when entered."""

    def __init__(self, root: Path, *extra: str, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [*LOOPML, "serve", "--port", str(self.port), "--no-grpc", *extra]
        self.process = subprocess.Popen(
            command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def __enter__(self) -> Serving:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stdout.read().decode())  # type: ignore[union-attr]
            try:
                return call(f"{self.url}/v2/health/ready")[0] == 200
            except OSError:
                return False

        assert wait_for(ready, 60)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)

    def stop(self, how: int) -> int:
        self.process.send_signal(how)
        return self.process.wait(timeout=60)


def _body(index: int) -> bytes:
    X = rows(1, index % 50)
    tensor = {"name": "input", "shape": [1, 30], "datatype": "FP64", "data": X.tolist()}
    return json.dumps({"inputs": [tensor], "id": f"req-{index}"}).encode()


def _send(port: int, count: int, *, per_second: float | None = None) -> list[str]:
    """The prediction ids of ``count`` requests answered (at most ``per_second``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answered = []
    started = time.monotonic()
    for index in range(count):
        if per_second is not None:
            time.sleep(max(0.0, started + index / per_second - time.monotonic()))
        try:
            connection.request("POST", "/v2/models/bc/infer", _body(index))
            response = connection.getresponse()
            response.read()
        except OSError:
            break
        if response.status == 200:
            answered.append(response.getheader("x-loopml-prediction-id"))
    return answered


def test_after_sigterm_every_answered_prediction_is_in_the_log(ws: loopml.Workspace) -> None:
    with Serving(ws.root, "--flush-seconds", "30") as server:
        answered = _send(server.port, 300)
        # uvicorn answers what is in flight, shuts the app down, then re-raises the signal
        assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    logged = loopml.serve.predictions("bc", workspace=ws)
    assert len(answered) == 300
    assert set(answered) <= set(logged["prediction_id"].to_list())
    assert set(logged["request_id"].to_list()) >= {f"req-{i}" for i in range(300)}


def test_after_sigkill_at_most_the_flush_window_is_missing(ws: loopml.Workspace) -> None:
    flush, rate = 0.5, 100.0
    with Serving(ws.root, "--flush-seconds", str(flush)) as server:
        answered = _send(server.port, 250, per_second=rate)
        time.sleep(0.05)
        server.stop(signal.SIGKILL)
    logged = set(loopml.serve.predictions("bc", workspace=ws)["prediction_id"].to_list())
    missing = [pid for pid in answered if pid not in logged]
    # the documented window: the last flush interval, plus one flush in progress (which a
    # loaded machine may stretch: a second allowed for it)
    window = rate * (flush + 1.0)
    assert len(missing) <= window
    assert len(logged) >= len(answered) - window


def _rows_body(start: int, count: int) -> bytes:
    X = rows(count, start)
    tensor = {"name": "input", "shape": [count, 30], "datatype": "FP64", "data": X.tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


class Sender:
    """Sends feedback, one request at a time on a kept-alive connection, and sends a
    request again when the connection fails: refused (the server is down: surely not
    taken) or broken after it was sent (maybe taken: counted in ``unsure``)."""

    def __init__(self, port: int, plan: list[dict[str, Any]]) -> None:
        self.port, self.plan = port, plan
        self.sent = 0  # answered with 200
        self.unsure = 0
        self.refused = 0
        self.failure: str | None = None

    def run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        deadline = time.monotonic() + 240
        for body in self.plan:
            data = json.dumps(body).encode()
            while True:
                if time.monotonic() > deadline:
                    self.failure = f"gave up at {self.sent} sent"
                    return
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    try:
                        connection.connect()
                    except ConnectionRefusedError:
                        connection = None
                        self.refused += 1
                        time.sleep(0.05)
                        continue
                try:
                    connection.request("POST", "/v2/feedback", data)
                    response = connection.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection, self.unsure = None, self.unsure + 1
                    continue
                if response.status != 200:
                    self.failure = f"{response.status}: {answer!r}"
                    return
                self.sent += 1
                break
        if connection is not None:
            connection.close()


def test_feedback_sent_across_a_restart_is_all_joined(ws: loopml.Workspace) -> None:
    """Nothing lost: 10,000 predicted rows (100 answers of 100 rows), a label for every
    row sent over HTTP while the server is stopped with SIGTERM and started again (the
    client sends again what a refused or broken connection did not take), and 1,000 of
    them labelled twice: a wrong label first, the right one later. The join finds every
    row with its right label, no feedback unmatched, and the duplicates counted."""
    _, truth = breast_cancer()
    with Serving(ws.root) as first:
        answers = []
        for n in range(100):
            start = n * 100 % 469
            status, headers, _ = call(f"{first.url}/v2/models/bc/infer", raw=_rows_body(start, 100))
            assert status == 200
            answers.append((headers["x-loopml-prediction-id"], start))
        right = {
            (pid, row): int(truth.iloc[start + row]) for pid, start in answers for row in range(100)
        }
        twice = list(right)[::10]
        plan = [{"prediction_id": p, "row": r, "label": 1 - right[p, r]} for p, r in twice]
        plan += [{"prediction_id": p, "row": r, "label": label} for (p, r), label in right.items()]
        sender = Sender(first.port, plan)
        client = threading.Thread(target=sender.run)
        client.start()
        assert wait_for(lambda: sender.sent >= 3_000 or sender.failure is not None, 120)
        first.stop(signal.SIGTERM)
        with Serving(ws.root, port=first.port) as second:
            client.join(timeout=300)
            second.stop(signal.SIGTERM)
    assert sender.failure is None, sender.failure
    assert sender.sent == len(plan) == 11_000
    assert sender.refused > 0  # the server was down while feedback was being sent

    found = labelled("bc", workspace=ws)
    joined = {(r["prediction_id"], r["row"]): r["label"] for r in found.rows.to_dicts()}
    assert joined == right  # every row, with its right label (the later one)
    assert found.unmatched == ()
    # every feedback answered is in the log; a request sent again after a broken
    # connection may have been taken twice
    assert len(plan) <= found.feedback <= len(plan) + sender.unsure
    assert found.duplicates == found.feedback - len(right)


def test_several_workers_serve_one_port_and_log_every_answer(ws: loopml.Workspace) -> None:
    with Serving(ws.root, "--workers", "2") as server:
        answered = []
        for index in range(40):  # a connection each: the workers take them as they come
            status, headers, _ = call(f"{server.url}/v2/models/bc/infer", raw=_body(index))
            assert status == 200
            answered.append(headers["x-loopml-prediction-id"])
        server.stop(signal.SIGTERM)
    logged = set(loopml.serve.predictions("bc", workspace=ws)["prediction_id"].to_list())
    assert set(answered) <= logged


def test_two_servers_on_one_workspace_follow_one_swap_and_log_apart(
    ws: loopml.Workspace,
) -> None:
    second = register(ws, logistic(0.1), alias=None)
    with Serving(ws.root, "--poll-seconds", "0.1") as one, Serving(ws.root) as two:
        for server in (one, two):
            assert (
                call(f"{server.url}/v2/models/bc/infer", raw=_body(1))[1]["x-loopml-version"]
                == "bc@v1"
            )
        promote(ws, second)
        for server in (one, two):
            assert wait_for(
                lambda s=server: (
                    call(f"{s.url}/v2/models/bc/infer", raw=_body(2))[1]["x-loopml-version"]
                    == second
                ),
                5,
            )
        one.stop(signal.SIGTERM)
        two.stop(signal.SIGTERM)
    segments = ws.store.find_artifacts(kind="predictions")
    workers = {segment.metadata["worker"] for segment in segments}
    assert len(workers) == 2


def test_the_server_imports_no_pipeline_training_evaluation_or_cli(
    ws: loopml.Workspace,
) -> None:
    script = f"""
import sys, json, urllib.request
import loopml
from loopml.serve import Running, ServeOptions, Server
ws = loopml.workspace({str(ws.root)!r})
with Running(Server(ws, ServeOptions(port=0, grpc_port=0))) as running:
    body = json.dumps({{"inputs": [{{"name": "input", "shape": [1, 30], "datatype": "FP64",
                                   "data": [[1.0] * 30]}}]}}).encode()
    urllib.request.urlopen(urllib.request.Request(running.url + "/v2/models/bc/infer", body))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("loopml"))))
"""
    found = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert found.returncode == 0, found.stderr
    modules = json.loads(found.stdout.strip().splitlines()[-1])
    assert "loopml.serve._engine" in modules
    # `import loopml` defines the @pipeline and @step decorators (pipeline._graph); the
    # runner, its cache, training, evaluation and the CLI are never loaded.
    decorators = {"loopml.pipeline", "loopml.pipeline._graph"}
    barred = [
        m
        for m in modules
        if m not in decorators
        and m.split(".")[1:2]
        and m.split(".")[1] in {"pipeline", "training", "evaluation", "cli"}
    ]
    assert barred == []


# `loopml serve` in this process, watched from a thread: the heavy libraries loaded when
# the server is ready and after its first answer has reached the log, and the cycle
# collector's state. pandas is kept out, as in a serving environment without it
# (scikit-learn imports pandas whenever it can, and pandas PyArrow).
FIRST_ANSWER = r"""
import gc, json, os, signal, sys, threading, time, urllib.request

class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ImportError("no pandas here", name=name)

sys.meta_path.insert(0, NoPandas())
port, body = sys.argv[1], sys.argv[2].encode()
HEAVY = {"pyarrow", "polars", "grpc", "pandas"}

def loaded():
    return sorted({name.partition(".")[0] for name in sys.modules} & HEAVY)

def watch():
    found = {}
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/v2/health/ready", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        found["ready"] = loaded()
        found["collector"] = {"on": gc.isenabled(), "frozen": gc.get_freeze_count()}
        asked = urllib.request.Request(
            url + "/v2/models/bc/infer", body, {"Content-Type": "application/json"}
        )
        answer = json.loads(urllib.request.urlopen(asked, timeout=30).read())
        found["answer"] = answer["outputs"][0]["data"]
        import loopml
        with loopml.workspace(os.getcwd()) as ws:
            while not ws.store.find_artifacts(kind="predictions"):
                if time.monotonic() > deadline:
                    raise TimeoutError("the prediction was not logged")
                time.sleep(0.05)
        found["logged"] = loaded()
    except BaseException as error:
        found["error"] = repr(error)
    print(json.dumps(found), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=watch, daemon=True).start()
from loopml.cli import main
main(["serve", "--port", port, "--no-grpc"])
"""


def test_serve_answers_first_without_the_logs_pyarrow_then_collects_again(
    ws: loopml.Workspace,
) -> None:
    body = json.dumps(
        {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": rows(1, 7)}]},
        default=lambda array: array.tolist(),
    )
    found = subprocess.run(
        [sys.executable, "-c", FIRST_ANSWER, str(_free_port()), body],
        cwd=ws.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    lines = found.stdout.strip().splitlines()
    assert lines, found.stderr
    said = json.loads(lines[-1])
    assert "error" not in said, found.stderr
    # Ready to answer: the models loaded, and neither the log's PyArrow (nor Polars, nor
    # gRPC when it is off) imported; the collector on again, what starting made frozen.
    assert said["ready"] == []
    assert said["collector"]["on"] is True
    assert said["collector"]["frozen"] > 10_000
    assert said["answer"] == logistic(1.0).predict(frame(rows(1, 7))).tolist()
    # The log imports PyArrow when it has a record to write, and nothing else heavy.
    assert said["logged"] == ["pyarrow"]


def test_serve_json_says_what_it_serves_in_one_line_on_start(ws: loopml.Workspace) -> None:
    with Serving(ws.root, "--json") as server:
        server.stop(signal.SIGTERM)
        first = server.process.stdout.readline()  # type: ignore[union-attr]
    assert json.loads(first) == {
        "deployments": ["bc"],
        "http": f"http://127.0.0.1:{server.port}",
        "grpc": None,
    }


def test_a_port_in_use_is_a_user_error_naming_it(ws: loopml.Workspace) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        found = subprocess.run(
            [*LOOPML, "serve", "--port", str(port), "--no-grpc"],
            cwd=ws.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert found.returncode == 2
    assert f"127.0.0.1:{port}" in found.stderr
    assert "--port" in found.stderr
    assert "Traceback" not in found.stderr
    assert "serving" not in found.stderr  # said only once the ports are known free


def test_serve_on_port_0_says_the_ports_it_listens_on(ws: loopml.Workspace) -> None:
    process = subprocess.Popen(
        [*LOOPML, "serve", "--port", "0", "--grpc-port", "0", "--json"],
        cwd=ws.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        said = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        http_port = int(said["http"].rsplit(":", 1)[1])
        grpc_port = int(said["grpc"].rsplit(":", 1)[1])
        assert 0 not in (http_port, grpc_port)
        assert http_port != grpc_port
        deadline = time.monotonic() + 60
        while True:  # the port said is the port that answers
            try:
                with urllib.request.urlopen(f"{said['http']}/v2/health/ready", timeout=5) as got:
                    assert got.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the server never answered on its port"
                time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", grpc_port), timeout=10):
            pass
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_serve_on_a_reachable_address_without_a_token_is_a_user_error(
    ws: loopml.Workspace,
) -> None:
    found = subprocess.run(
        [*LOOPML, "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=ws.root,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "LOOPML_SERVE_TOKEN"},
    )
    assert found.returncode == 2
    assert "LOOPML_SERVE_TOKEN" in found.stderr
    assert "Traceback" not in found.stderr
