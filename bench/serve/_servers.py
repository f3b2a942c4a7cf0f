"""The servers the serving benchmark starts, each from its own venv, and how each is
asked for a prediction: its URL, its request body and how its answer holds the
predictions."""

from __future__ import annotations

import json
import os
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _procs import Process, cpu_seconds, free_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENVS = HERE.parent / ".venvs"
READY_TIMEOUT_S = 120
# The JSON part of a binary request body is padded to this length (setup_models.py):
# one Inference-Header-Content-Length for every body of the benchmark.
BINARY_HEADER_BYTES = 160


@dataclass(frozen=True)
class Endpoint:
    """How one server is asked: a POST of ``form``'s body to ``path``."""

    path: str
    form: str  # v2, split (MLflow's dataframe_split) or fastapi
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, scratch: Path, rows: str) -> Path:
        suffix = "bin" if self.form == "v2bin" else "json"
        return scratch / "bodies" / f"{self.form}-{rows}.{suffix}"


@dataclass
class Server:
    """One server to start: its command, folder and environment, and its endpoints
    (the first is the one cold start waits for)."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    endpoints: dict[str, Endpoint]
    port: int
    process: Process | None = None
    cold_cpu_s: float | None = None  # the server's CPU time up to its first answer

    def url(self, endpoint: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.endpoints[endpoint].path}"

    def start(self, scratch: Path) -> float:
        """Start the server; the seconds from spawn to its first prediction answered."""
        first = next(iter(self.endpoints))
        request = _request(self.url(first), self.endpoints[first], scratch, "1")
        self.process = Process(
            self.command, cwd=self.cwd, env=self.env, log=scratch / f"{self.name}.log"
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"{self.name} exited: {self.process.tail()}")
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if answer.status == 200:
                        answer.read()
                        took = time.perf_counter() - self.process.started
                        self.cold_cpu_s = cpu_seconds(self.process.pid)
                        return took
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer in {READY_TIMEOUT_S} s")

    def predictions(self, endpoint: str, scratch: Path, rows: str) -> list[Any]:
        """The predictions one request gets, for checking against the model's."""
        request = _request(self.url(endpoint), self.endpoints[endpoint], scratch, rows)
        with urllib.request.urlopen(request, timeout=30) as answer:
            found = json.loads(answer.read())
        if "predictions" in found:
            return list(found["predictions"])
        outputs = found["outputs"]
        chosen = next((o for o in outputs if o["name"] in ("predict", "predictions")), outputs[0])
        return [int(v) for v in chosen["data"]]

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def _request(url: str, endpoint: Endpoint, scratch: Path, rows: str) -> urllib.request.Request:
    headers = {"Content-Type": "application/json", **endpoint.headers}
    body = endpoint.body(scratch, rows).read_bytes()
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # every server keeps its .pyc caches
    return {**env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **extra}


def serving_requirements() -> list[str]:
    """What ``pip install loopml[serve]`` installs: the core requirements and the
    ``serve`` extra, as ``pyproject.toml`` lists them (so the venv follows them)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["serve"]]


def loopml(workspace: Path, deployments: list[str], *, workers: int = 1) -> Server:
    """``loopml serve`` of this tree (``src`` first on the path) in its serving venv: the
    server's requirements and scikit-learn, nothing else (no pandas: a served model
    that needs none does not pay for it)."""
    port = free_port()
    python = VENVS / "loopml" / "bin" / "python"
    command = [str(python), "-m", "loopml", "serve", "--port", str(port), "--no-grpc"]
    if workers > 1:
        command += ["--workers", str(workers)]
    endpoints = {f"v2:{d}": Endpoint(f"/v2/models/{d}/infer", "v2") for d in deployments}
    endpoints.update(
        {
            f"invocations:{d}": Endpoint("/invocations", "split", {"X-Loopml-Deployment": d})
            for d in deployments
        }
    )
    binary = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(BINARY_HEADER_BYTES),
    }
    endpoints.update(
        {f"v2bin:{d}": Endpoint(f"/v2/models/{d}/infer", "v2bin", binary) for d in deployments}
    )
    env = _env(PYTHONPATH=str(ROOT / "src"))
    return Server(f"loopml-{workspace.name}", command, workspace, env, endpoints, port)


def fastapi(model: Path, flavour: str, *, workers: int = 1) -> Server:
    """The bare endpoint (``app_fastapi.py``) under uvicorn: ``sync`` or ``async``."""
    port = free_port()
    command = [
        str(VENVS / "fastapi" / "bin" / "python"), "-m", "uvicorn", f"app_fastapi:{flavour}_app",
        "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip
    env = _env(BENCH_MODEL=str(model))
    endpoints = {"predict": Endpoint("/predict", "fastapi")}
    return Server(f"fastapi-{flavour}", command, HERE, env, endpoints, port)


def mlflow(model_folder: Path) -> Server:
    """``mlflow models serve`` of an MLflow-saved model, in MLflow's venv, no new env."""
    port = free_port()
    command = [
        str(VENVS / "mlflow" / "bin" / "mlflow"), "models", "serve", "-m", str(model_folder),
        "--host", "127.0.0.1", "--port", str(port), "--env-manager", "local", "--workers", "1",
    ]  # fmt: skip
    env = _env(PATH=f"{VENVS / 'mlflow' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    endpoints = {"invocations": Endpoint("/invocations", "split")}
    return Server("mlflow", command, model_folder.parent, env, endpoints, port)


def mlserver(model: Path, folder: Path, name: str = "bc") -> Server:
    """MLServer with its scikit-learn runtime over the joblib'd model (its defaults
    otherwise: one inference worker process beside the HTTP process)."""
    port = free_port()
    (folder / name).mkdir(parents=True, exist_ok=True)
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "host": "127.0.0.1",
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model), "version": "v1"},
    }
    (folder / name / "model-settings.json").write_text(json.dumps(model_settings))
    command = [str(VENVS / "mlserver" / "bin" / "mlserver"), "start", str(folder)]
    env = _env(PATH=f"{VENVS / 'mlserver' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    endpoints = {"v2": Endpoint(f"/v2/models/{name}/infer", "v2")}
    return Server("mlserver", command, folder, env, endpoints, port)
