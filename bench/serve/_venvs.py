"""The venvs of the serving benchmark, each server's own and the load generator's, under
``bench/.venvs/``: made when missing or when their pins change."""

from __future__ import annotations

from collections.abc import Collection

import _servers as s

from _tools import BenchError, ensure_venv, say

VENV_PINS = {
    "fastapi": [
        "fastapi==0.163.2", "uvicorn==0.55.0", "uvloop==0.23.0", "httptools==0.9.0",
        "scikit-learn==1.9.1", "numpy==2.4.6", "joblib==1.6.0",
    ],
    "mlflow": ["mlflow==3.17.2", "scikit-learn==1.9.1", "numpy==2.4.6", "pandas==3.1.1"],
    "mlserver": [
        "mlserver==1.7.1", "mlserver-sklearn==1.7.1", "scikit-learn==1.9.1", "numpy==2.4.6",
        "joblib==1.6.0", "uvloop==0.21.0",
    ],
    "loadgen": ["aiohttp==3.14.5", "uvloop==0.23.0", "py-spy==0.4.3"],
    "loopml": [*s.serving_requirements(), "scikit-learn==1.9.1", "numpy==2.4.6", "joblib==1.6.0"],
}  # fmt: skip
PROBES = {
    "fastapi": "import fastapi, sklearn, uvloop",
    "mlflow": "import mlflow.sklearn",
    "mlserver": "import mlserver, mlserver_sklearn",
    "loadgen": "import aiohttp, uvloop",
    "loopml": "import uvicorn, orjson, grpc, sklearn",
}


def venvs(wanted: Collection[str] = tuple(VENV_PINS)) -> dict[str, str]:
    """Each venv of ``wanted`` made; the reason of those that could not be, or were not
    wanted (the benchmark needs loopml's, and the load generator's when it is wanted:
    without them it stops)."""
    missing = {
        name: f"{name}: not needed by the parts asked for"
        for name in VENV_PINS
        if name not in wanted
    }
    for name, pins in VENV_PINS.items():
        if name not in wanted:
            continue
        python, why = ensure_venv(s.VENVS / name, pins, probe=PROBES[name], env={}, name=name)
        if python is None:
            missing[name] = why
            say(why)
    for needed in ("loadgen", "loopml"):
        if needed in wanted and needed in missing:
            raise BenchError(missing[needed])
    return missing
