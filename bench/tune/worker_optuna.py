"""Plain Optuna, in its own venv: per-trial time of a trivial objective with the same
storage type loopml uses (a journal file), and in memory. Prints one JSON line."""

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
    study = optuna.create_study(
        storage=storage,  # type: ignore[arg-type]
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, constant_liar=False),
    )
    started = time.perf_counter()
    study.optimize(lambda t: trivial(t.suggest_float("x", -10.0, 10.0)), n_trials=trials)
    return (time.perf_counter() - started) / trials * 1_000


def main(trials: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        journal = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(Path(folder) / "study.journal"))
        )
        result = {
            "journal_ms": per_trial_ms(journal, trials),
            "memory_ms": per_trial_ms(None, trials),
            "trials": trials,
            "versions": {"optuna": optuna.__version__},
        }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]))
