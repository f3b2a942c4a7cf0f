"""loopml.tune: known optima found, every trial a run, parallel processes and Ray
tasks, failing and pruned trials, a killed search resumed, and bad spaces refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest

import loopml
from loopml import tune
from loopml.errors import InvalidInput, TuningFailed
from loopml.store import RunStatus


@pytest.fixture
def ws(tmp_path: Path):
    with loopml.init(tmp_path) as ws:
        yield ws


def bowl(x: float, y: float) -> float:
    """Highest (0) at x=2, y=-1."""
    return -((x - 2) ** 2) - (y + 1) ** 2


def slow_bowl(x: float, y: float) -> dict[str, float]:
    time.sleep(0.05)
    return {"score": bowl(x, y), "pid": float(os.getpid())}


def picky(x: int) -> float:
    if x % 3 == 0:
        raise ValueError(f"x={x} is not allowed")
    return float(x)


def always_fails(x: float) -> float:
    raise RuntimeError("no data")


def curve(rate: float, trial) -> float:
    """A training curve per rate; low rates are pruned early by the median pruner."""
    value = 0.0
    for step in range(10):
        value = rate * (step + 1)
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def children(ws: loopml.Workspace, run_id: str):
    return ws.store.find_runs(parent_id=run_id)


def test_tpe_finds_a_known_optimum_and_every_trial_is_a_run(ws) -> None:
    result = tune(bowl, {"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, n_trials=60, seed=1, workspace=ws)
    assert result.best_params["x"] == pytest.approx(2, abs=0.6)
    assert result.best_params["y"] == pytest.approx(-1, abs=0.6)
    trials = children(ws, result.run_id)
    assert len(trials) == 60
    assert {t.kind for t in trials} == {"trial"}
    best = ws.store.get_run(result.best_run_id)
    assert best.params == result.best_params
    assert ws.store.latest_metrics([best.id])[best.id]["objective"] == result.best_value
    tuning = ws.store.get_run(result.run_id)
    assert tuning.kind == "tuning"
    assert tuning.tags["best_run"] == result.best_run_id
    assert tuning.params["space"]["x"] == {"float": [-5.0, 5.0], "log": False}
    assert ws.store.latest_metrics([tuning.id])[tuning.id]["best_value"] == result.best_value


def test_grid_tries_every_point_and_random_runs_in_parallel_processes(ws) -> None:
    grid = tune(bowl, {"x": [0, 1, 2, 3], "y": [-1, 0]}, method="grid", workspace=ws)
    assert sorted((t.params["x"], t.params["y"]) for t in grid.trials) == [
        (x, y) for x in (0, 1, 2, 3) for y in (-1, 0)
    ]
    assert grid.best_params == {"x": 2, "y": -1}
    parallel = tune(
        slow_bowl,
        {"x": (-5.0, 5.0), "y": (-5.0, 5.0)},
        method="random",
        n_trials=12,
        parallel=2,
        metric="score",
        seed=3,
        workspace=ws,
    )
    assert len(parallel.trials) == 12
    pids = {t.pid for t in children(ws, parallel.run_id)}
    assert len(pids) == 2
    assert os.getpid() not in pids
    params = [tuple(t.params.values()) for t in parallel.trials]
    assert len(set(params)) == 12  # the workers did not suggest the same points


UNGUARDED = """
import loopml

data = [1.0, 2.0, 3.0]  # a global the objective reads: it travels with it

def score(x: float) -> float:
    return -((x - sum(data)) ** 2)

result = loopml.tune(score, {{"x": (0.0, 10.0)}}, method="random", n_trials=6, parallel=2,
                     seed=0, workspace=loopml.workspace({root!r}))
print("trials", len(result.trials), "states", sorted({{t.state for t in result.trials}}))
"""


@pytest.mark.parametrize("how", ["script", "-c"])
def test_parallel_trials_run_from_a_script_without_a_main_guard(
    ws, tmp_path: Path, how: str
) -> None:
    """multiprocessing's spawn imported such a script again in every worker, which
    started the search again there: BrokenProcessPool and every trial failed."""
    code = textwrap.dedent(UNGUARDED.format(root=str(ws.root)))
    script = tmp_path / "search.py"
    script.write_text(code)
    command = [str(script)] if how == "script" else ["-c", code]  # -c: no file to import
    done = subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.split() == ["trials", "6", "states", "['complete']"]
    [tuning] = ws.store.find_runs(kind="tuning")
    pids = {run.pid for run in children(ws, tuning.id)}
    assert len(pids) == 2


ORPHANED = """
import os, time
import loopml

def wait(x: float) -> float:
    with open(os.path.join({folder!r}, f"worker-{{os.getpid()}}"), "w"):
        pass
    time.sleep(120)
    return x

loopml.tune(wait, {{"x": (0.0, 1.0)}}, method="random", n_trials=2, parallel=2,
            workspace=loopml.workspace({root!r}))
"""


def test_trial_workers_die_with_their_parent(ws, tmp_path: Path) -> None:
    folder = tmp_path / "workers"
    folder.mkdir()
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(ORPHANED.format(folder=str(folder), root=str(ws.root))))
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    deadline = time.monotonic() + 120
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = [int(path.name.split("-")[1]) for path in folder.iterdir()]
    assert len(pids) == 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A worker that exited but was not reaped (its parent gone) is a zombie: not running.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ")[1].startswith("Z"))


def test_an_objective_that_cannot_be_pickled_is_refused_before_any_trial(ws) -> None:
    import threading

    lock = threading.Lock()

    def holds_a_lock(x: float) -> float:
        with lock:
            return x

    with pytest.raises(InvalidInput, match=r"'holds_a_lock' cannot be sent to worker processes"):
        tune(holds_a_lock, {"x": (0.0, 1.0)}, n_trials=2, parallel=2, workspace=ws)
    assert ws.store.find_runs(kind="trial") == []


def test_failing_trials_are_recorded_and_the_search_goes_on(ws) -> None:
    result = tune(picky, {"x": [1, 2, 3, 4, 5, 6]}, method="grid", workspace=ws)
    assert result.best_params == {"x": 5}
    failed = [t for t in result.trials if t.state == "fail"]
    assert sorted(t.params["x"] for t in failed) == [3, 6]
    errors = {ws.store.get_run(t.run_id).error for t in failed}
    assert errors == {"ValueError: x=3 is not allowed", "ValueError: x=6 is not allowed"}
    with pytest.raises(TuningFailed, match="the first error: RuntimeError: no data"):
        tune(always_fails, {"x": (0.0, 1.0)}, n_trials=3, workspace=ws)


def test_the_pruner_stops_trials_whose_curves_fall_behind(ws) -> None:
    result = tune(
        curve,
        {"rate": [0.1, 0.2, 1.0, 0.9, 0.05, 0.01, 0.02, 0.03]},
        method="grid",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
        workspace=ws,
    )
    pruned = [t for t in result.trials if t.state == "pruned"]
    assert pruned  # the slow rates after the first three
    assert {ws.store.get_run(t.run_id).status for t in pruned} == {RunStatus.PRUNED}
    assert result.best_params == {"rate": 1.0}
    points = ws.store.metrics(result.best_run_id, key="objective")
    assert [p.step for p in points][:10] == list(range(10))  # reported values are metrics


RESUMABLE = """
import sys, time
import loopml
from loopml import tune

def sleepy(x: float) -> float:
    time.sleep(0.2)
    return x

ws = loopml.workspace({root!r})
result = tune(sleepy, {{"x": (0.0, 1.0)}}, method="random", n_trials=int(sys.argv[1]),
              name="resumable", seed=0, workspace=ws)
print("done", len(result.trials), flush=True)
"""


def test_a_killed_search_resumes_where_it_stopped(ws, tmp_path: Path) -> None:
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(RESUMABLE.format(root=str(ws.root))))
    process = subprocess.Popen([sys.executable, str(script), "12"], cwd=tmp_path)
    journal = ws.root / ".loopml" / "studies" / "resumable.journal"
    deadline = time.monotonic() + 60
    study = None
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if journal.exists():
            study = optuna.load_study(
                study_name="resumable",
                storage=optuna.storages.JournalStorage(
                    optuna.storages.journal.JournalFileBackend(str(journal))
                ),
            )
            if sum(t.state.name == "COMPLETE" for t in study.trials) >= 3:
                break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert study is not None
    done = subprocess.run(
        [sys.executable, str(script), "12"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    final = optuna.load_study(study_name="resumable", storage=study._storage)
    states = [t.state.name for t in final.trials]
    interrupted = [t for t in final.trials if t.user_attrs.get("loopml_interrupted")]
    assert states.count("COMPLETE") == 12  # the interrupted trial did not count
    assert states.count("FAIL") == len(interrupted) <= 1
    assert "RUNNING" not in states
    assert done.stdout.split() == ["done", str(len(final.trials))]
    tunings = ws.store.find_runs(kind="tuning")
    assert len(tunings) == 2
    assert tunings[1].tags["resumed_after"] >= 3
    assert tunings[1].tags["stale_trials_failed"] == len(interrupted)


def test_bad_searches_are_refused_before_anything_runs(ws) -> None:
    with pytest.raises(InvalidInput, match="'C' has an empty range"):
        tune(bowl, {"C": (1.0, 1.0)}, n_trials=3, workspace=ws)
    with pytest.raises(InvalidInput, match="'k' has an empty list of choices"):
        tune(bowl, {"k": []}, n_trials=3, workspace=ws)
    with pytest.raises(InvalidInput, match="log-scale range must be above 0"):
        tune(bowl, {"C": (0.0, 1.0, "log")}, n_trials=3, workspace=ws)
    with pytest.raises(InvalidInput, match="grid search cannot enumerate the float range 'x'"):
        tune(bowl, {"x": (0.0, 1.0)}, method="grid", workspace=ws)
    with pytest.raises(InvalidInput, match="method 'bayes' is not one of grid, random, tpe"):
        tune(bowl, {"x": (0.0, 1.0)}, method="bayes", n_trials=3, workspace=ws)
    with pytest.raises(InvalidInput, match="needs n_trials"):
        tune(bowl, {"x": (0.0, 1.0)}, workspace=ws)
    with pytest.raises(InvalidInput, match=r"search space .* is empty"):
        tune(bowl, {}, n_trials=3, workspace=ws)
    assert ws.store.find_runs() == []
    # A study is resumed only with the space it was made with.
    tune(bowl, {"x": (0.0, 1.0), "y": (0.0, 1.0)}, n_trials=1, name="shared", workspace=ws)
    with pytest.raises(InvalidInput, match="'shared' was made with the search space"):
        tune(bowl, {"x": (0.0, 2.0), "y": (0.0, 1.0)}, n_trials=2, name="shared", workspace=ws)
    with pytest.raises(InvalidInput, match="made to maximize, not to minimize"):
        tune(
            bowl,
            {"x": (0.0, 1.0), "y": (0.0, 1.0)},
            n_trials=2,
            name="shared",
            direction="minimize",
            workspace=ws,
        )


@pytest.mark.ray
def test_trials_run_as_ray_tasks(ws) -> None:
    pytest.importorskip("ray")
    result = tune(
        slow_bowl,
        {"x": (-5.0, 5.0), "y": (-5.0, 5.0)},
        method="random",
        n_trials=8,
        parallel=2,
        runner="ray",
        metric="score",
        seed=5,
        workspace=ws,
    )
    assert len(result.trials) == 8
    assert all(t.state == "complete" for t in result.trials)
    pids = {t.pid for t in children(ws, result.run_id)}
    assert len(pids) == 2
    assert os.getpid() not in pids
