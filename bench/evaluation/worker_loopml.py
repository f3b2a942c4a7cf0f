"""``loopml.evaluation.evaluate`` on the evaluation rows; runs in ``.venv``.

Usage: ``python bench/evaluation/worker_loopml.py FOLDER MODEL REPEATS [--subset]``

The whole run: metrics with 1,000 bootstrap resamples, the naive baseline from the
training labels, slices (the default columns and one user slice), perturbation,
calibration, latency and size, flips against the other model, the overlap check
against the training rows, and the stored record in a fresh workspace.

``--subset``: as near to the rivals as ``evaluate`` goes, with what can be left out
left out: no training rows (so no overlap check; the baseline from the evaluation
labels), no second model (no flips), no slices, nothing stored. Bootstrap intervals,
perturbation, calibration, latency and size have no switch and stay in.

After the timed calls, one more runs under cProfile to split its time by step.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from typing import Any

import _data
import _worker

USER_SLICE = {"pro with high x0": "plan = 'pro' AND x0 > 1"}
# Where the time goes: (module file, function) of each step of evaluate().
STEPS = {
    "predictions": ("_predict.py", "predictions"),
    "bootstrap intervals": ("_bootstrap.py", "intervals"),
    "baseline": ("_naive.py", "naive"),
    "slices": ("_slices.py", "slice_results"),
    "perturbation": ("_perturb.py", "sensitivity"),
    "latency": ("_latency.py", "latency"),
    "size": ("_latency.py", "sizes"),
    "flips": ("_evaluate.py", "_against"),
    "overlap": ("_evaluate.py", "_overlap"),
    "record": ("_record.py", "store"),
}


def whole_run(model: Any, champion: Any, test: Any, train: Any, ws: Any) -> Any:
    from loopml.evaluation import evaluate

    return evaluate(
        model,
        test,
        label=_data.LABEL,
        train=train,
        against=champion,
        slices=USER_SLICE,
        workspace=ws,
    )


def subset_run(model: Any, test: Any) -> Any:
    from loopml.evaluation import evaluate

    return evaluate(model, test, label=_data.LABEL, slice_columns=[], record=False)


def profile_steps(call: Any) -> tuple[float, dict[str, float]]:
    """The seconds a call takes under cProfile, and those of each of ``STEPS`` in it."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(call)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    steps = {}
    for step, (file, function) in STEPS.items():
        steps[step] = sum(
            cumulative
            for (path, _, name), (_, _, _, cumulative, _) in stats.items()
            if name == function and path.endswith(f"evaluation/{file}")
        )
    return total, steps


def summary(result: Any) -> dict[str, Any]:
    return {
        "metrics": sorted(result.metrics),
        "intervals": len(result.intervals),
        "slices": len(result.slices),
        "perturbation": len(result.perturbation or {}),
        "calibration": result.calibration is not None,
        "flips": result.flips is not None,
        "latency_ms": result.latency_ms,
        "accuracy": result.metrics.get("accuracy"),
        "roc_auc": result.metrics.get("roc_auc"),
    }


def main(argv: list[str]) -> None:
    args = _worker.arguments(argv)
    test = _data.read_frame(args.folder, "test")
    model = _data.read_model(args.folder, args.model)
    others = [key for key in _data.MODELS if key != args.model]
    champion = _data.read_model(args.folder, others[0])
    train = None if args.subset else _data.read_frame(args.folder, "train")
    started = time.perf_counter()
    import loopml
    from loopml.evaluation import evaluate  # noqa: F401  (the import a user's script pays)

    imported = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="loopml-") as folder:
        ws = loopml.init(folder)

        def call() -> Any:
            if args.subset:
                return subset_run(model, test)
            return whole_run(model, champion, test, train, ws)

        result, timing = _worker.calls(call, args.repeats, imported)
        profiled, steps = profile_steps(call)
        ws.close()
    _worker.emit(
        {
            **timing,
            "profiled_seconds": profiled,
            "steps_seconds": steps,
            "computed": summary(result),
            "versions": _worker.versions(loopml=loopml.__version__),
        }
    )


if __name__ == "__main__":
    main(sys.argv[1:])
