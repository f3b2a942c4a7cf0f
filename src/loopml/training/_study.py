"""A tuning study on disk: its journal file in the workspace, opened or resumed with
the same direction and space, its trials left running by a dead search failed, and a
progress bar of its trials."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from loopml.errors import InvalidInput
from loopml.training._trials import journal_storage, trial_run_name

if TYPE_CHECKING:
    from loopml.store import Run
    from loopml.workspace import Workspace

FINISHED = ("COMPLETE", "PRUNED", "FAIL")
SPACE_ATTR = "loopml_space"
INTERRUPTED = "loopml_interrupted"  # a trial whose process died; failed on resume


def journal_path(ws: Workspace, study: str) -> Any:
    if ws.root is None:
        raise InvalidInput(
            "tuning keeps its study in the workspace folder, and this workspace has none "
            "(it comes from LOOPML_* variables); run it in a folder made by `loopml init`"
        )
    folder = ws.root / ".loopml" / "studies"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{study.replace('/', '--')}.journal"


def open_study(journal: Any, name: str, direction: str, space: dict[str, Any]) -> Any:
    """The study ``name``, made or resumed; resuming needs the same direction and space
    (two objectives that share a function name would otherwise share one study)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name,
        storage=journal_storage(str(journal)),
        direction=cast(Any, direction),
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise InvalidInput(
            f"study {name!r} was made to {study.direction.name.lower()}, not to {direction}; "
            "give the same direction, or another name= for a new study"
        )
    made_with = study.user_attrs.get(SPACE_ATTR)
    if made_with is None:
        study.set_user_attr(SPACE_ATTR, space)
    elif made_with != space:
        raise InvalidInput(
            f"study {name!r} was made with the search space {made_with}, not {space}; "
            "give the same space to resume it, or another name= for a new study"
        )
    return study


def fail_stale_trials(ws: Workspace, study: Any) -> int:
    """Trials left running by a search whose process is gone (killed, crashed) are
    failed and marked, so that a resumed search runs them again. While a search of the
    study still runs (in another terminal, say), its trials are left alone."""
    import optuna

    from loopml.store import RunStatus
    from loopml.tracking._reap import reap_dead_runs

    reap_dead_runs(ws)  # a killed search's tuning run is marked killed
    running = ws.store.find_runs(
        kind="tuning", name=f"tune/{study.study_name}", status=RunStatus.RUNNING
    )
    if running:
        return 0
    stale = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage = study._storage  # Optuna's own way to end another process's trial
        storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        stale += 1
    return stale


def trial_run(ws: Workspace, study: str, number: int) -> Run | None:
    found = ws.store.find_runs(
        kind="trial", name=trial_run_name(study, number), newest_first=True, limit=1
    )
    return found[0] if found else None


@contextmanager
def watching(study: Any, n_trials: int, name: str) -> Iterator[None]:
    """A progress bar of the study's finished trials and best value, on a terminal."""
    from loopml._progress import enabled, progress_bar

    if not enabled():
        yield
        return
    stop = threading.Event()
    with progress_bar(f"tune {name}", n_trials) as update:

        def watch() -> None:
            while not stop.wait(0.5):
                trials = study.get_trials(deepcopy=False)
                done = [t for t in trials if t.state.name in FINISHED]
                values = [t.value for t in done if t.value is not None]
                best = study.direction.name == "MAXIMIZE"
                note = f"best {(max if best else min)(values):.6g}" if values else ""
                update(completed=min(len(done), n_trials), note=note)

        watcher = threading.Thread(target=watch, name="loopml-tune-progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join(timeout=5)
