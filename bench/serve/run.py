"""Serving: ``loopml serve`` next to ``mlflow models serve``, MLServer and a bare
FastAPI endpoint, serving the same scikit-learn models under the same load generator.

Each server runs from its own venv under ``bench/.venvs/`` (made here when missing or
when its pins changed). loopml's holds what ``pip install loopml[serve] scikit-learn``
installs (its requirements read from ``pyproject.toml``, scikit-learn and NumPy pinned
as for the rivals) and runs this tree's ``src``. Every
server is pinned to core 0 and the load generator (``loadgen.py``, aiohttp) to core 1
with ``taskset``; everything listens on 127.0.0.1. The models (a LogisticRegression
and a 100-tree RandomForest on breast_cancer) are fitted once, by ``setup_models.py``,
and every server loads those same files. Run with ``make bench-serve``; prints the
tables and writes ``bench/results/serve.json`` and ``bench/results/serve.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools

import _measure as m
import _servers as s
import _tables
from _procs import rss_mb
from _venvs import venvs

from _tools import RESULTS, ROOT, BenchError, load_average, machine, run_checked, say

HERE = Path(__file__).resolve().parent
COLD_STARTS = 9  # measured starts of each server, in turns
# The venvs each part of the benchmark runs in (--only runs some of them).
EVERY_VENV = ("loopml", "loadgen", "fastapi", "mlflow", "mlserver")
VENVS_OF = {
    "lr": EVERY_VENV,
    "rf": EVERY_VENV,
    "cpu": ("loopml", "loadgen", "fastapi"),
    "batching": ("loopml", "loadgen"),
    "cold": ("loopml", "fastapi"),
    "memory": ("loopml",),
    "workers": ("loopml", "loadgen", "fastapi"),
}


def prepare(scratch: Path, missing: dict[str, str]) -> dict[str, Any]:
    """The models, bodies and workspaces; the MLflow models when MLflow is there."""
    env = {**s._env(PYTHONPATH=str(ROOT / "src"))}
    run_checked([sys.executable, str(HERE / "setup_models.py"), str(scratch)], timeout=600, env=env)
    if "mlflow" not in missing:
        for model in ("lr", "rf"):
            run_checked(
                [str(s.VENVS / "mlflow" / "bin" / "python"), str(HERE / "mlflow_model.py"),
                 str(scratch / f"{model}.joblib"), str(scratch / f"mlflow-{model}")],
                timeout=600, env=s._env(),
            )  # fmt: skip
    return dict(json.loads((scratch / "expected.json").read_text()))


def checked(server: s.Server, endpoint: str, scratch: Path, expected: dict[str, Any], model: str):
    """Raise when the server's answers differ from the model's, in-process."""
    for rows in ("1", "1000"):
        found = server.predictions(endpoint, scratch, rows)
        if found != expected[f"{model}-{rows}"]:
            raise BenchError(f"{server.name} {endpoint} answered {found[:5]}... for {rows} rows")


def lr_plan(server: s.Server, endpoint: str, scratch: Path) -> dict[str, Any]:
    """Every LogisticRegression measurement of one endpoint of a running server."""
    assert server.process is not None
    found: dict[str, Any] = {}
    loads = [
        ("one", m.ONE_CLIENT, "1"),
        ("eight", m.EIGHT_CLIENTS, "1"),
        ("c64", m.SIXTY_FOUR, "1"),
        ("burst", m.BURSTY, "1"),
        ("batch", m.BATCH, "1000"),
    ]
    if endpoint.startswith("v2bin"):  # binary tensors: what they change, not every load again
        loads = [load for load in loads if load[0] in ("one", "batch")]
    for key, spec, rows in loads:
        say(f"  {server.name} {endpoint}: {key}")
        found[key] = m.load(server, endpoint, scratch, spec, rows)
    found["rss_mb"], found["pss_mb"] = rss_mb(server.process.pid)
    return found


def rf_plan(server: s.Server, endpoint: str, scratch: Path) -> dict[str, Any]:
    say(f"  {server.name} {endpoint}: RandomForest")
    return {
        "one": m.load(server, endpoint, scratch, m.RF_ONE_CLIENT),
        "c64": m.load(server, endpoint, scratch, m.RF_SIXTY_FOUR),
    }


def serving(
    server: s.Server,
    scratch: Path,
    expected: dict[str, Any],
    model: str,
    plan: Any,
    protocols: tuple[str, ...] = ("v2", "v2bin", "invocations", "predict"),
) -> dict[str, Any]:
    """Start ``server``, check its answers, run ``plan`` on each endpoint of
    ``protocols``, stop it."""
    results: dict[str, Any] = {}
    try:
        cold = server.start(scratch)
        assert server.process is not None
        say(f"{server.name}: first prediction {cold:.2f} s after spawn")
        idle = m.idle_cpu_share(server)
        for endpoint in server.endpoints:
            if endpoint.split(":")[0] not in protocols:
                continue
            try:
                checked(server, endpoint, scratch, expected, model)
                results[endpoint] = {
                    "cold_s": cold,
                    "cold_cpu_s": server.cold_cpu_s,
                    "idle_cpu": idle,
                    **plan(server, endpoint, scratch),
                }
            except (BenchError, RuntimeError, TimeoutError, OSError) as error:
                say(f"{server.name} {endpoint}: {error}")
                results[endpoint] = {"error": str(error)}
    except (RuntimeError, OSError) as error:
        say(f"{server.name}: {error}")
        results["start"] = {"error": str(error)}
    finally:
        server.stop()
    return results


def cold_starts(
    scratch: Path, missing: dict[str, str], rounds: int = COLD_STARTS
) -> dict[str, Any]:
    """Cold start to the first prediction of ``loopml serve`` over one small model and of
    the ``async def`` FastAPI endpoint over the same model, started in turns (so that a
    shared machine's drift hits both), ``rounds`` times each after a first start of each
    that writes the ``.pyc`` caches: wall and CPU seconds, and their medians."""
    servers = {"loopml": lambda: s.loopml(scratch / "ws-one", ["bc"])}
    if "fastapi" not in missing:
        servers["fastapi"] = lambda: s.fastapi(scratch / "lr.joblib", "async")
    found: dict[str, Any] = {name: {"wall_s": [], "cpu_s": []} for name in servers}
    for index in range(rounds + 1):
        for name, make in servers.items():
            server = make()
            try:
                wall = server.start(scratch)
            except (RuntimeError, OSError) as error:
                return {"error": f"{name}: {error}"}
            finally:
                server.stop()
            if index:
                found[name]["wall_s"].append(wall)
                found[name]["cpu_s"].append(server.cold_cpu_s)
    for times in found.values():
        times["wall_median_s"] = statistics.median(times["wall_s"])
        times["cpu_median_s"] = statistics.median(times["cpu_s"])
    found["rounds"] = rounds
    return found


def loopml_memory(scratch: Path) -> dict[str, Any]:
    """Resident memory of ``loopml serve`` with one and with three versions live, each
    after 200 requests."""
    found: dict[str, Any] = {}
    server = s.loopml(scratch / "ws-one", ["bc"])
    try:
        server.start(scratch)
        assert server.process is not None
        for _ in range(200):
            server.predictions("v2:bc", scratch, "1")
        found["rss_one_mb"], found["pss_one_mb"] = rss_mb(server.process.pid)
    finally:
        server.stop()
    server = s.loopml(scratch / "ws-three", ["bc1", "bc2", "bc3"])
    try:
        server.start(scratch)
        assert server.process is not None
        for name in ("bc1", "bc2", "bc3"):
            for _ in range(200):
                server.predictions(f"v2:{name}", scratch, "1")
        found["rss_three_mb"], found["pss_three_mb"] = rss_mb(server.process.pid)
    finally:
        server.stop()
    return found


def batching_p50(scratch: Path, rounds: int = 8) -> dict[str, Any]:
    """The RandomForest's p50 at one client with batching on and off, in alternating runs
    on one server (so that the machine's drift hits both), the median of each and the
    median of the rounds' differences (the figure the target is judged on)."""
    found: dict[str, Any] = {"on": [], "off": []}
    server = s.loopml(scratch / "ws-rf", ["rf", "rf-off"])
    spec = {**m.RF_ONE_CLIENT, "count": 300}
    try:
        server.start(scratch)
        for _ in range(rounds):
            for key, endpoint in (("on", "v2:rf"), ("off", "v2:rf-off")):
                found[key].append(m.load(server, endpoint, scratch, spec)["p50_ms"])
    except (RuntimeError, TimeoutError, OSError) as error:
        return {"error": str(error)}
    finally:
        server.stop()
    found["on_median_ms"] = statistics.median(found["on"])
    found["off_median_ms"] = statistics.median(found["off"])
    # each run against the one beside it: the machine's drift between rounds cancels
    found["rise_paired_ms"] = statistics.median(
        on - off for on, off in zip(found["on"], found["off"], strict=True)
    )
    return found


def alternating_cpu(scratch: Path, missing: dict[str, str], rounds: int = 9) -> dict[str, Any]:
    """Server CPU per single-row request at one client, loopml (V2 and ``/invocations``)
    and the ``async def`` FastAPI endpoint asked in turn, ``rounds`` times, both servers
    up (the idle one costs little): a shared machine's drift hits each alike. The target
    is judged on the median of the rounds' ratios (each loopml run against the FastAPI
    run of its round); the medians of each are kept too."""
    if "fastapi" in missing:
        return {"error": missing["fastapi"]}
    mine = s.loopml(scratch / "ws-one", ["bc"])
    reference = s.fastapi(scratch / "lr.joblib", "async")
    asked = (("v2", mine, "v2:bc"), ("invocations", mine, "invocations:bc"),
             ("fastapi", reference, "predict"))  # fmt: skip
    found: dict[str, Any] = {name: [] for name, _, _ in asked}
    try:
        mine.start(scratch)
        reference.start(scratch)
        for _ in range(rounds):
            for name, server, endpoint in asked:
                cpu = m.load(server, endpoint, scratch, m.ONE_CLIENT)["server_cpu_ms"]
                found[name].append(cpu)
    except (RuntimeError, TimeoutError, OSError) as error:
        return {"error": str(error)}
    finally:
        mine.stop()
        reference.stop()
    for name, _, _ in asked:
        found[f"{name}_median_ms"] = statistics.median(found[name])
    for name in ("v2", "invocations"):
        ratios = [a / b for a, b in zip(found[name], found["fastapi"], strict=True)]
        found[f"{name}_paired_ratio"] = statistics.median(ratios)
    return found


def two_workers(scratch: Path, missing: dict[str, str]) -> dict[str, Any]:
    """p50 at one client with two uvicorn workers: uvicorn#3149's Nagle floor."""
    found: dict[str, Any] = {}
    servers = [("loopml", s.loopml(scratch / "ws-one", ["bc"], workers=2), "v2:bc")]
    if "fastapi" not in missing:
        servers.append(
            ("fastapi-async", s.fastapi(scratch / "lr.joblib", "async", workers=2), "predict")
        )
    for name, server, endpoint in servers:
        try:
            server.start(scratch)
            found[name] = m.load(server, endpoint, scratch, {**m.ONE_CLIENT, "count": 1000})
        except (RuntimeError, TimeoutError, OSError) as error:
            found[name] = {"error": str(error)}
        finally:
            server.stop()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", default="", help="comma-separated parts: lr,cpu,rf,batching,cold,memory,workers"
    )
    options = parser.parse_args()
    parts = (
        set(options.only.split(",")) if options.only else {"lr", "rf", "cold", "memory", "workers"}
    )
    started = dt.datetime.now(dt.UTC)
    missing = venvs(set().union(*(VENVS_OF[part] for part in parts if part in VENVS_OF)))
    results: dict[str, Any] = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average_start": load_average(),
        "not_measured": missing,
        "lr": {},
        "rf": {},
    }
    with tempfile.TemporaryDirectory(prefix="loopml-bench-serve-") as folder:
        scratch = Path(folder)
        expected = prepare(scratch, missing)
        lr, rf = scratch / "lr.joblib", scratch / "rf.joblib"
        lr_servers = [s.loopml(scratch / "ws-one", ["bc"])]
        rf_servers = [s.loopml(scratch / "ws-rf", ["rf", "rf-off"])]
        if "fastapi" not in missing:
            lr_servers += [s.fastapi(lr, "sync"), s.fastapi(lr, "async")]
            rf_servers += [s.fastapi(rf, "sync"), s.fastapi(rf, "async")]
        if "mlflow" not in missing:
            lr_servers.append(s.mlflow(scratch / "mlflow-lr"))
            rf_servers.append(s.mlflow(scratch / "mlflow-rf"))
        if "mlserver" not in missing:
            lr_servers.append(s.mlserver(lr, scratch / "mlserver-lr"))
            rf_servers.append(s.mlserver(rf, scratch / "mlserver-rf"))
        if "lr" in parts:
            for server in lr_servers:
                for endpoint, found in serving(server, scratch, expected, "lr", lr_plan).items():
                    results["lr"][f"{server.name} {endpoint}"] = found
        if "rf" in parts:
            for server in rf_servers:
                # loopml's two deployments (batching on and off) over V2 only
                rf_protocols = (
                    ("v2", "predict")
                    if server.name.startswith("loopml")
                    else ("v2", "invocations", "predict")
                )
                for endpoint, found in serving(
                    server, scratch, expected, "rf", rf_plan, rf_protocols
                ).items():
                    results["rf"][f"{server.name} {endpoint}"] = found
        if "lr" in parts or "cpu" in parts:
            results["alternating_cpu"] = alternating_cpu(scratch, missing)
        if "rf" in parts or "batching" in parts:
            results["batching_p50"] = batching_p50(scratch)
        if "cold" in parts:
            results["cold_starts"] = cold_starts(scratch, missing)
        if "memory" in parts:
            results["loopml_memory"] = loopml_memory(scratch)
        if "workers" in parts:
            results["two_workers"] = two_workers(scratch, missing)
    results["load_average_end"] = load_average()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(results, indent=1))
    text = _tables.markdown(results)
    (RESULTS / "serve.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
