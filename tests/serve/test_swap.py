"""Hot swap, refused versions, fallback and shadows on a real server over a real
workspace: what a user sees while the champion moves under load."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.serve.serving import call, logistic, promote, register, rows, start, wait_for

import loopml
from loopml import registry
from loopml.serve import Running

CLIENTS = 6
SWAPS = 10


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    with loopml.init(tmp_path) as workspace:
        yield workspace


def _body(count: int = 1, start: int = 0) -> bytes:
    X = rows(count, start)
    tensor = {"name": "input", "shape": list(X.shape), "datatype": "FP64", "data": X.tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


def _version_answering(running: Running, name: str = "bc") -> str:
    status, headers, found = call(f"{running.url}/v2/models/{name}/infer", raw=_body())
    assert status == 200, found
    return headers["x-loopml-version"]


class Load:
    """Clients sending requests on kept-alive connections until stopped, counting every
    answer that is not a 200 (bounded: each stops by itself after ``seconds``)."""

    def __init__(self, running: Running, clients: int, seconds: float = 60) -> None:
        self.port = running.port
        self.deadline = time.monotonic() + seconds
        self.stop = threading.Event()
        self.answered = 0
        self.failed: list[str] = []
        self.versions: set[str] = set()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,)) for i in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self, index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = _body(1, index)
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            try:
                connection.request(
                    "POST", "/v2/models/bc/infer", body, {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                text = response.read()
                outcome = (response.status, response.getheader("x-loopml-version"), text)
            except Exception as error:  # a dropped connection is a failed request too
                outcome = (0, None, repr(error).encode())
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self._lock:
                self.answered += 1
                if outcome[0] != 200:
                    self.failed.append(f"{outcome[0]}: {outcome[2][:200]!r}")
                elif outcome[1] is not None:
                    self.versions.add(outcome[1])


def test_ten_swaps_under_load_fail_no_request(ws: loopml.Workspace) -> None:
    register(ws, logistic(1.0))
    refs = [register(ws, logistic(0.5 + i / 10), alias=None) for i in range(SWAPS)]
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running, Load(running, CLIENTS) as load:
        for ref in refs:
            promote(ws, ref)
            assert wait_for(lambda ref=ref: _version_answering(running) == ref, 5), ref
        time.sleep(0.2)
    assert load.failed == []
    assert load.answered > SWAPS * CLIENTS
    assert set(refs) <= load.versions | {refs[-1]}


def test_a_moved_alias_is_followed_without_a_restart(ws: loopml.Workspace) -> None:
    # how soon: bench/serve/swap_memory.py measures it (within a second at the default poll)
    register(ws, logistic(1.0))
    second = register(ws, logistic(0.1), alias=None)
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws, poll_seconds=0.2) as running:
        assert _version_answering(running) == "bc@v1"
        promote(ws, second)
        assert wait_for(lambda: _version_answering(running) == second, 10)


def _corrupt(ws: loopml.Workspace, ref: str) -> None:
    path = ws.artifacts.local_path(registry.get(ref, workspace=ws).artifact.digest)
    assert path is not None
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_version_is_refused_and_the_old_one_keeps_serving(
    ws: loopml.Workspace,
) -> None:
    register(ws, logistic(1.0))
    bad = register(ws, logistic(0.2), alias=None)
    _corrupt(ws, bad)
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running, Load(running, 2) as load:
        promote(ws, bad)
        assert wait_for(lambda: bool(ws.store.find_alerts(kind="model")), 5)
        time.sleep(0.3)
        assert _version_answering(running) == "bc@v1"
    assert load.failed == []
    alert = ws.store.find_alerts(kind="model")[0]
    assert bad in alert.message
    assert "keeps the version it served" in alert.message
    assert alert.evidence["error"] == "DigestMismatch"


class Flaky:
    """A classifier that raises on rows whose first value is negative."""

    classes_ = np.array([0, 1])

    def __init__(self, tag: int = 0) -> None:
        self.tag = tag  # another tag, other bytes: another version

    def predict(self, X: Any) -> Any:
        values = np.asarray(X, dtype=float)
        if (values[:, 0] < 0).any():
            raise RuntimeError("a negative radius")
        return np.ones(len(values), dtype=int)

    def predict_proba(self, X: Any) -> Any:
        labels = self.predict(X)
        return np.column_stack([1 - labels, labels]).astype(float)


def _negative_body() -> bytes:
    X = rows(1).copy()
    X[0, 0] = -1.0
    tensor = {"name": "input", "shape": [1, 30], "datatype": "FP64", "data": X.tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


def test_a_failing_version_is_answered_by_the_fallback_and_marked(ws: loopml.Workspace) -> None:
    steady = register(ws, logistic(1.0))
    flaky = register(ws, Flaky(), alias=None)
    promote(ws, flaky)  # the first champion becomes `previous`: the default fallback
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running:
        status, headers, found = call(f"{running.url}/v2/models/bc/infer", raw=_negative_body())
        assert status == 200, found
        assert headers["x-loopml-version"] == steady
        assert headers["x-loopml-fallback"] == "true"
        assert found["parameters"]["fallback"] is True
        status, headers, _ = call(f"{running.url}/v2/models/bc/infer", raw=_body())
        assert (status, headers["x-loopml-version"]) == (200, flaky)
        assert "x-loopml-fallback" not in headers
        metrics = call(f"{running.url}/metrics")[2].decode()
        assert 'loopml_fallbacks_total{deployment="bc"} 1.0' in metrics
        running.stop()
    logged = loopml.serve.predictions("bc", workspace=ws).sort("time_us")
    assert logged.filter(logged["fallback"])["ref"].to_list() == [steady]
    # the failure is logged too, as the failing version's, so its error rate counts it
    failed = logged.filter(logged["error"].is_not_null())
    assert failed["ref"].to_list() == [flaky]
    assert "a negative radius" in failed["error"][0]
    assert failed["outputs"][0] is None
    answered = logged.filter(logged["fallback"])
    assert failed["request_id"][0] == answered["request_id"][0]
    joined = loopml.monitor.labelled("bc", workspace=ws).rows
    window = loopml.monitor.live_metrics(joined, every=1000)
    rates = dict(zip(window["ref"], window["error_rate"], strict=True))
    assert rates == {flaky: 0.5, steady: 0.0}


def test_without_a_fallback_a_failing_version_is_a_503(ws: loopml.Workspace) -> None:
    register(ws, Flaky())
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running:
        status, _, found = call(f"{running.url}/v2/models/bc/infer", raw=_negative_body())
    assert status == 503
    assert "a negative radius" in found["error"]
    assert "no fallback" in found["error"]
    (logged,) = loopml.serve.predictions("bc", workspace=ws).to_dicts()
    assert "a negative radius" in logged["error"]
    assert logged["outputs"] is None


def test_a_failing_fallback_too_is_a_503_naming_both(ws: loopml.Workspace) -> None:
    first = register(ws, Flaky(1))
    second = register(ws, Flaky(2), alias=None)
    loopml.deploy("bc", model=second, fallback=first, workspace=ws)
    with start(ws) as running:
        status, _, found = call(f"{running.url}/v2/models/bc/infer", raw=_negative_body())
    assert status == 503
    assert found["code"] == "model_failed"
    assert second in found["error"]
    assert f"and so did {first}" in found["error"]
    logged = loopml.serve.predictions("bc", workspace=ws).sort("time_us")
    assert logged["ref"].to_list() == [second, first]
    assert logged["error"].null_count() == 0
    assert logged["fallback"].to_list() == [False, True]


def test_a_shadow_is_logged_never_returned_and_cannot_fail_the_primary(
    ws: loopml.Workspace,
) -> None:
    primary = register(ws, logistic(1.0))
    shadow = register(ws, Flaky(), alias=None)
    loopml.deploy("bc", model="bc@champion", shadow=[shadow], workspace=ws)
    with start(ws) as running:
        for body in (_body(), _negative_body()):
            status, headers, found = call(f"{running.url}/v2/models/bc/infer", raw=body)
            assert (status, headers["x-loopml-version"]) == (200, primary), found
        ids = {headers["x-loopml-prediction-id"]}
        time.sleep(0.1)
        running.stop()
    logged = loopml.serve.predictions("bc", workspace=ws)
    shadows = logged.filter(logged["shadow"])
    assert shadows["ref"].to_list() == [shadow, shadow]
    assert shadows["error"].to_list()[0] is None
    assert "a negative radius" in shadows["error"].to_list()[1]
    assert set(shadows["request_id"].to_list()) >= ids
    # its trace shows the feedback on the answer it shadowed, as the monitor judges it
    (answered,) = ids
    loopml.feedback(answered, label=1, workspace=ws)
    followed = shadows.filter(shadows["request_id"] == answered)["prediction_id"][0]
    chain = loopml.monitor.trace(followed, workspace=ws)
    assert [told["label"] for told in chain.feedback] == ["1"]
    assert f"on {answered}, the answer it shadowed: label 1" in chain.render()


def test_a_changed_policy_keeps_the_versions_it_still_serves_loaded(
    ws: loopml.Workspace,
) -> None:
    register(ws, logistic(1.0))
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running:
        engine = running.server.engine
        before = engine.deployments["bc"]
        loopml.deploy("bc", model="bc@champion", timeout_ms=500, workspace=ws)
        assert wait_for(lambda: engine.deployments["bc"].revision == 2, 10)
        after = engine.deployments["bc"]
        assert after.policy.timeout_ms == 500
        assert after.arms[0].loaded is before.arms[0].loaded  # not read from disk again


def test_a_fallback_that_cannot_load_leaves_the_deployment_served_without_it(
    ws: loopml.Workspace,
) -> None:
    old = register(ws, logistic(0.2))
    new = register(ws, logistic(1.0), alias=None)
    promote(ws, new)  # the old champion becomes `previous`: the default fallback
    _corrupt(ws, old)
    loopml.deploy("bc", model="bc@champion", workspace=ws)
    with start(ws) as running:
        status, headers, _ = call(f"{running.url}/v2/models/bc/infer", raw=_body())
        assert (status, headers["x-loopml-version"]) == (200, new)
        assert call(f"{running.url}/v2/health/ready")[2] == {"ready": True}
    alerts = ws.store.find_alerts(kind="model")
    (alert,) = [a for a in alerts if "serves without its fallback" in a.message]
    assert old in alert.message
    assert "deployment 'bc' serves without its fallback" in alert.message


def test_the_server_is_not_ready_while_a_deployment_is_not_served(
    ws: loopml.Workspace,
) -> None:
    good = register(ws, logistic(1.0))
    bad = register(ws, logistic(0.2), name="other")
    _corrupt(ws, bad)
    loopml.deploy("bc", model=good, workspace=ws)
    loopml.deploy("other", model=bad, workspace=ws)
    with start(ws) as running:
        status, _, found = call(f"{running.url}/v2/health/ready")
        assert (status, found) == (503, {"ready": False})
        assert call(f"{running.url}/v2/models/bc/infer", raw=_body())[0] == 200
        loopml.deploy("other", model=good, workspace=ws)  # mended
        assert wait_for(lambda: call(f"{running.url}/v2/health/ready")[0] == 200, 10)
    (alert,) = ws.store.find_alerts(kind="model")
    assert bad in alert.message
