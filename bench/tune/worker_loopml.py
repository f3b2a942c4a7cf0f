"""loopml.tune, in .venv: per-trial time of the trivial objective (every trial a run in
a SQLite workspace, the study in a journal file), and the SVM search quality of TPE
against random search. Prints one JSON line."""

from __future__ import annotations

import json
import sys
import tempfile
import time

import optuna
from _objective import SPACE, TRIVIAL_SPACE, svm_accuracy, trivial

import loopml
from loopml import tune


def overhead(trials: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, loopml.init(folder) as ws:
        tune(trivial, TRIVIAL_SPACE, n_trials=5, seed=0, name="warm-up", workspace=ws)
        started = time.perf_counter()
        tune(trivial, TRIVIAL_SPACE, n_trials=trials, seed=0, name="trivial", workspace=ws)
        elapsed = time.perf_counter() - started
        runs = len(ws.store.find_runs(kind="trial"))
    if runs != trials + 5:
        raise SystemExit(f"loopml recorded {runs} trial runs, expected {trials + 5}")
    return {"journal_ms": elapsed / trials * 1_000, "trials": trials}


def first_reaching(values: list[float], target: float) -> int | None:
    """The 1-based trial at which the running best first reached ``target``."""
    for number, value in enumerate(values, start=1):
        if value >= target - 1e-12:
            return number
    return None


def quality(seeds: int, budget: int, tpe_cap: int) -> dict[str, object]:
    per_seed = []
    with tempfile.TemporaryDirectory() as folder, loopml.init(folder) as ws:
        for seed in range(seeds):
            random = tune(
                svm_accuracy,
                SPACE,
                method="random",
                n_trials=budget,
                seed=seed,
                name=f"random-{seed}",
                workspace=ws,
            )
            target = random.best_value
            tpe = tune(
                svm_accuracy,
                SPACE,
                method="tpe",
                n_trials=tpe_cap,
                seed=seed,
                name=f"tpe-{seed}",
                workspace=ws,
            )
            per_seed.append(
                {
                    "seed": seed,
                    "random_best": target,
                    "random_trials_to_best": first_reaching(random.values(), target),
                    "tpe_best": tpe.best_value,
                    "tpe_trials_to_random_best": first_reaching(tpe.values(), target),
                }
            )
    return {"seeds": per_seed, "budget": budget, "tpe_cap": tpe_cap}


def main(task: str) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found = overhead(int(sys.argv[2])) if task == "overhead" else quality(5, 100, 100)
    found["versions"] = {"loopml": loopml.__version__, "optuna": optuna.__version__}
    sys.stdout.write(json.dumps(found) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
