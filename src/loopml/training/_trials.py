"""Running tuning trials: where the objective is called, in this process, in a worker
process or in a Ray task. Each worker opens the study from its journal file, asks its
own sampler for parameters and runs its share of the trials; each trial is a loopml
run (kind ``trial``), a child of the tuning run.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.tracking import ActiveRun
    from loopml.training._space import Parameter

METHODS = ("grid", "random", "tpe")


@dataclass(frozen=True)
class TrialJob:
    """One worker's share of a study: everything it needs, picklable."""

    settings: Settings
    journal: str
    study: str
    objective: Callable[..., Any]
    space: dict[str, Parameter]
    method: str
    seed: int | None
    pruner: Any
    metric: str | None
    direction: str
    tuning_run_id: str
    trials: int
    worker: int
    workers: int


class Trial:
    """What an objective that takes a ``trial`` argument gets: report intermediate
    values (each also logged as a metric of the trial's run) and ask whether to stop."""

    def __init__(self, optuna_trial: Any, run: ActiveRun, key: str) -> None:
        self._trial = optuna_trial
        self._run = run
        self._key = key
        self.number: int = optuna_trial.number
        self.run_id = run.id

    def report(self, value: float, step: int) -> None:
        self._trial.report(value, step)
        self._run.log_metric(self._key, value, step)

    def should_prune(self) -> bool:
        return bool(self._trial.should_prune())


def trial_run_name(study: str, number: int) -> str:
    return f"{study}/trial-{number}"


def journal_storage(path: str) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(path))


def sampler_for(job: TrialJob) -> Any:
    import optuna

    from loopml.training._space import grid_of

    # Each worker samples with its own seed; with one seed, workers would suggest the
    # same parameters.
    seed = None if job.seed is None else job.seed + job.worker
    if job.method == "grid":
        return optuna.samplers.GridSampler(grid_of(job.space), seed=seed)
    if job.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=job.workers > 1)


def run_trials(job: TrialJob) -> int:
    """Run ``job.trials`` trials of the study; the number that finished."""
    import optuna

    from loopml.tracking._buffer import flush_runs
    from loopml.workspace import Workspace, active

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with Workspace(job.settings) as ws, active(ws):
        study = optuna.load_study(
            study_name=job.study,
            storage=journal_storage(job.journal),
            sampler=sampler_for(job),
            pruner=job.pruner,
        )
        before = len(study.get_trials(deepcopy=False))
        try:
            study.optimize(
                lambda trial: _one(job, ws, trial), n_trials=job.trials, catch=(Exception,)
            )
        finally:
            flush_runs()  # every trial's run is in the store before the search reads them
        return len(study.get_trials(deepcopy=False)) - before


def _one(job: TrialJob, ws: Any, optuna_trial: Any) -> float:
    import optuna

    from loopml.store import RunStatus
    from loopml.tracking import start_run

    params = {name: p.suggest(optuna_trial, name) for name, p in job.space.items()}
    key = job.metric or "objective"
    # The run's name ties it to its trial; the run records the host and process.
    run = start_run(
        trial_run_name(job.study, optuna_trial.number),
        kind="trial",
        params=params,
        parent=job.tuning_run_id,
        workspace=ws,
        record_origin=False,  # the tuning run has the code, git state and packages
        deferred=True,  # recorded whole when it ends: a trivial trial costs no write
    )
    with run:
        try:
            arguments = dict(params)
            if _takes_trial(job.objective):
                arguments["trial"] = Trial(optuna_trial, run, key)
            value, metrics = objective_value(job.objective(**arguments), job.metric)
        except optuna.TrialPruned:
            run.end(RunStatus.PRUNED, "pruned: its intermediate values fell behind")
            raise
        run.log_metrics(metrics)
        return value


@functools.lru_cache(maxsize=64)
def _takes_trial(objective: Callable[..., Any]) -> bool:
    return "trial" in inspect.signature(objective).parameters


def objective_value(result: Any, metric: str | None) -> tuple[float, dict[str, float]]:
    """The value to optimise and the metrics to log, from what an objective returned: a
    number, or a dict of metrics with ``metric`` naming the one to optimise."""
    if isinstance(result, Mapping):
        if metric is None or metric not in result:
            keys = ", ".join(map(repr, result)) or "none"
            raise InvalidInput(
                f"the objective returned metrics ({keys}) and tune(metric=...) is "
                f"{metric!r}; name the one to optimise"
            )
        metrics = {str(k): _number(k, v) for k, v in result.items()}
        return metrics[metric], metrics
    value = _number(metric or "objective", result)
    return value, {metric or "objective": value}


def _number(key: Any, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"the objective returned {key!r} = {value!r}, not a number; return a float, or "
            "a dict of metrics with tune(metric=...) naming the one to optimise"
        ) from None
    if math.isnan(number):
        raise InvalidInput(f"the objective returned NaN for {key!r}")
    return number
