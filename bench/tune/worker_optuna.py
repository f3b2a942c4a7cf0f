"""Plain Optuna, in its own venv: per-trial time of a trivial objective with the same
storage type loopml uses (a journal file), and in memory; after a warm-up search, and
counting the making of the study. Prints one JSON line."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import optuna
from _objective import trivial

optuna.logging.set_verbosity(optuna.logging.WARNING)


def per_trial_ms(storage: object, trials: int) -> float:
    """Making the study and running its trials, per trial: what a search costs."""
    started = time.perf_counter()
    study = optuna.create_study(
        storage=storage,  # type: ignore[arg-type]
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, constant_liar=False),
    )
    study.optimize(lambda t: trivial(t.suggest_float("x", -10.0, 10.0)), n_trials=trials)
    return (time.perf_counter() - started) / trials * 1_000


def journal(folder: str, name: str) -> object:
    path = str(Path(folder) / f"{name}.journal")
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))


def main(trials: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        per_trial_ms(journal(folder, "warm-up"), 5)  # the imports a first search pays
        result = {
            "journal_ms": per_trial_ms(journal(folder, "study"), trials),
            "memory_ms": per_trial_ms(None, trials),
            "trials": trials,
            "versions": {"optuna": optuna.__version__},
        }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]))
