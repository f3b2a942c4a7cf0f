"""What the server's tests share: real models registered in a real workspace, and a real
server on 127.0.0.1 over it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry
from loopml.serve import Running, ServeOptions, Server

_DATA: tuple[pd.DataFrame, pd.Series] | None = None


def breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    """scikit-learn's breast_cancer: 569 rows of 30 numeric columns, a 0/1 label."""
    global _DATA
    if _DATA is None:
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        _DATA = (X, y)
    return _DATA


def logistic(C: float = 1.0) -> LogisticRegression:
    X, y = breast_cancer()
    with threadpool_limits(1):
        return LogisticRegression(C=C, max_iter=5000).fit(X, y)


def register(
    ws: loopml.Workspace, model: Any, name: str = "bc", *, alias: str | None = "champion"
) -> str:
    """Register ``model`` as a new version of ``name`` (made ``alias`` when given)."""
    X, _ = breast_cancer()
    version = registry.register(
        model,
        name,
        signature_from=X,
        alias=alias,
        force=alias is not None,
        reason="a test model" if alias is not None else None,
        workspace=ws,
    )
    return str(version.ref)


def promote(ws: loopml.Workspace, ref: str) -> None:
    registry.promote(ref, force=True, reason="a test swap", workspace=ws)


def start(ws: loopml.Workspace, **options: Any) -> Running:
    """A server over ``ws`` on free ports of 127.0.0.1, started."""
    given: dict[str, Any] = {
        "port": 0,
        "grpc_port": 0,
        "poll_seconds": 0.05,
        "flush_seconds": 0.2,
        **options,
    }
    return Running(Server(ws, ServeOptions(**given))).start()


def call(
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body) of one request; ``body`` is sent as JSON."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = {"Content-Type": "application/json", **(headers or {})} if data is not None else {}
    sent.update(headers or {})
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            status, got = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        text, status, got = error.read(), error.code, dict(error.headers)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return status, {k.lower(): v for k, v in got.items()}, parsed


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``check`` came true within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def rows(count: int, start: int = 0) -> np.ndarray:
    X, _ = breast_cancer()
    return X.iloc[start : start + count].to_numpy(dtype=np.float64)


def frame(X: np.ndarray) -> pd.DataFrame:
    """Rows of breast_cancer as the model was fitted on them (with column names)."""
    return pd.DataFrame(X, columns=breast_cancer()[0].columns)
