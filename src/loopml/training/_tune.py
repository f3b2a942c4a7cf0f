"""``loopml.tune``: hyper-parameter search with Optuna's samplers and pruners, each
trial a loopml run, trials in parallel processes or Ray tasks, resumable.

The study lives in a journal file in the workspace (``.loopml/studies/NAME.journal``),
which Optuna locks so that several processes add trials to it at once; the same name
later resumes it. A tuning run (kind ``tuning``) holds the trials' runs as children
and records the best value, parameters and trial.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml._ids import short_id
from loopml.errors import InvalidInput, TuningFailed
from loopml.training._space import describe, grid_of, parse_space
from loopml.training._study import (
    FINISHED,
    INTERRUPTED,
    fail_stale_trials,
    journal_path,
    open_study,
    trial_run,
    watching,
)
from loopml.training._trials import (
    METHODS,
    TrialJob,
    run_trials,
    trial_run_name,
)

if TYPE_CHECKING:
    from loopml.workspace import Workspace

RUNNERS = ("local", "ray")


@dataclass
class TrialResult:
    number: int
    params: dict[str, Any]
    value: float | None
    state: str  # complete, pruned, fail
    run_id: str | None


@dataclass
class TuneResult:
    """A finished search: the best trial, and every trial of the study so far."""

    study: str
    run_id: str
    best_value: float
    best_params: dict[str, Any]
    best_run_id: str | None
    trials: list[TrialResult] = field(default_factory=list)

    def values(self) -> list[float]:
        """The completed trials' values, in trial order (for convergence plots)."""
        return [t.value for t in self.trials if t.value is not None]


def tune(
    objective: Callable[..., Any],
    space: Mapping[str, Any],
    *,
    method: str = "tpe",
    n_trials: int | None = None,
    direction: str = "maximize",
    metric: str | None = None,
    parallel: int = 1,
    runner: str = "local",
    address: str | None = None,
    name: str | None = None,
    seed: int | None = None,
    pruner: Any = None,
    workspace: Workspace | None = None,
) -> TuneResult:
    """Search ``space`` for the parameters that optimise ``objective(**params)``.

    ``objective`` returns a number, or a dict of metrics with ``metric`` naming the one
    to optimise; one that takes a ``trial`` argument can ``trial.report(value, step)``
    and stop early when ``trial.should_prune()`` (raise ``optuna.TrialPruned``), for
    ``pruner`` (an Optuna pruner). ``method`` is ``grid``, ``random`` or ``tpe``
    (Optuna's TPE sampler). ``parallel`` trials run at once: in worker processes, or
    as Ray tasks with ``runner="ray"`` (at ``address``, or on a local Ray). The study
    is kept under ``name`` (default: the objective's name); running ``tune`` again with
    that name resumes it, up to ``n_trials`` in all. A trial that raises is recorded
    as failed with its error, and the search goes on.
    """
    parsed = parse_space(space)
    _check(method, direction, parallel, runner, address)
    if n_trials is None:
        if method != "grid":
            raise InvalidInput(f"method {method!r} needs n_trials, the number of trials to run")
        n_trials = _grid_size(grid_of(parsed))
    elif method == "grid":
        grid_of(parsed)  # a float range without values is an error before anything runs
    if n_trials < 1:
        raise InvalidInput(f"n_trials is {n_trials}; give 1 or more")
    study_name: str = name or str(getattr(objective, "__name__", "objective"))
    from loopml._context import workspace_in_use
    from loopml.refs import check_name
    from loopml.tracking import start_run

    check_name(study_name, "study name")
    ws = workspace_in_use(workspace)
    journal = journal_path(ws, study_name)
    study = open_study(journal, study_name, direction, describe(parsed))
    stale = fail_stale_trials(ws, study)
    # n_trials counts trials that ran to an end; an interrupted one is run again.
    # Read-only views: Optuna's default deep copy of every trial costs milliseconds.
    known = study.get_trials(deepcopy=False)
    done = sum(t.state.name in FINISHED and not t.user_attrs.get(INTERRUPTED) for t in known)
    settings = {
        "method": method,
        "n_trials": n_trials,
        "direction": direction,
        "metric": metric or "objective",
        "parallel": parallel,
        "runner": runner,
        "space": describe(parsed),
        "seed": seed,
    }
    with start_run(
        f"tune/{study_name}",
        kind="tuning",
        params=settings,
        tags={"study": study_name, "resumed_after": done, "stale_trials_failed": stale},
        workspace=ws,
    ) as run:
        remaining = max(0, n_trials - done)
        shares = [remaining // parallel + (i < remaining % parallel) for i in range(parallel)]
        jobs = [
            TrialJob(
                settings=ws.settings,
                journal=str(journal),
                study=study_name,
                objective=objective,
                space=parsed,
                method=method,
                seed=seed,
                pruner=pruner,
                metric=metric,
                direction=direction,
                tuning_run_id=run.id,
                trials=share,
                worker=done + index,
                workers=parallel,
            )
            for index, share in enumerate(shares)
            if share > 0
        ]
        with watching(study, n_trials, study_name):
            _execute(jobs, runner, address)
        result = _result(ws, study, study_name, run.id)  # its trials sync from the journal
        run.log_metrics({"best_value": result.best_value, "trials": len(result.trials)})
        run.set_tags({"best_run": result.best_run_id, "best_params": result.best_params})
    return result


def _check(method: str, direction: str, parallel: int, runner: str, address: str | None) -> None:
    if method not in METHODS:
        raise InvalidInput(f"method {method!r} is not one of {', '.join(METHODS)}")
    if direction not in ("maximize", "minimize"):
        raise InvalidInput(f"direction {direction!r} is neither 'maximize' nor 'minimize'")
    if not isinstance(parallel, int) or parallel < 1:
        raise InvalidInput(f"parallel is {parallel!r}; give 1 or more trials at once")
    if runner not in RUNNERS:
        raise InvalidInput(f"runner {runner!r} is not one of {', '.join(RUNNERS)}")
    if address is not None and runner != "ray":
        raise InvalidInput(f"address {address!r} names a Ray cluster; add runner='ray'")
    if runner == "ray":
        from loopml.pipeline._ray import check_ray

        check_ray(address)


def _grid_size(grid: dict[str, list[Any]]) -> int:
    import math

    return math.prod(len(values) for values in grid.values())


def _execute(jobs: list[TrialJob], runner: str, address: str | None) -> None:
    if not jobs:
        return
    if runner == "local" and len(jobs) == 1:
        run_trials(jobs[0])
        return
    if runner == "ray":
        from loopml.pipeline._ray import ray_pool

        with ray_pool(
            address,
            len(jobs),
            echo=True,
            function=run_trials,
            name_of=lambda job: f"{job.study}/worker-{job.worker}",
        ) as submit:
            futures = [submit(job) for job in jobs]
            for future in futures:
                future.result()
        return
    from loopml.training._workers import run_in_processes

    # Fresh processes, not fork (the parent holds threads and database connections) and
    # not multiprocessing's spawn (it imports the main script again: without a
    # __main__ guard, that starts the search again in every worker).
    run_in_processes(jobs)


def _result(ws: Workspace, study: Any, name: str, run_id: str) -> TuneResult:
    frozen = study.get_trials(deepcopy=False)
    ran_here = {r.name: r.id for r in ws.store.find_runs(kind="trial", parent_id=run_id)}

    def run_of(number: int) -> str | None:
        found = ran_here.get(trial_run_name(name, number))
        if found is None:  # a trial of an earlier, interrupted search
            earlier = trial_run(ws, name, number)
            found = earlier.id if earlier is not None else None
        return found

    trials = [
        TrialResult(
            number=t.number,
            params=dict(t.params),
            value=t.value if t.state.name == "COMPLETE" else None,
            state=t.state.name.lower(),
            run_id=run_of(t.number),
        )
        for t in frozen
    ]
    completed = [t for t in trials if t.state == "complete"]
    if not completed:
        failed = [t.run_id for t in trials if t.state == "fail" and t.run_id]
        first = ws.store.get_run(failed[0]).error if failed else None
        raise TuningFailed(
            f"no trial of study {name!r} completed ({len(trials)} failed or were pruned"
            + (f"; the first error: {first}" if first else "")
            + f"); its trials are listed by `loopml runs list --parent {short_id(run_id)}`"
        )
    pick = max if study.direction.name == "MAXIMIZE" else min
    best = pick((t for t in frozen if t.state.name == "COMPLETE"), key=lambda t: t.value)
    return TuneResult(
        study=name,
        run_id=run_id,
        best_value=float(best.value),
        best_params=dict(best.params),
        best_run_id=trials[best.number].run_id,
        trials=trials,
    )
