"""MLflow's ``mlflow.models.evaluate`` on the evaluation rows; runs in
``.venv-bench-mlflow``.

Usage: ``python bench/evaluation/worker_mlflow.py FOLDER MODEL REPEATS``

Untimed, first: a SQLite tracking store and an artifact folder in a temporary folder,
the scikit-learn model logged with ``mlflow.sklearn.log_model`` and loaded back as a
pyfunc, the way a logged model is evaluated. Timed: a run started and
``mlflow.models.evaluate(model, data, targets=..., model_type="classifier")`` with the
default evaluator, which calls the model, computes its metrics, draws its plots and
logs all of them, with the data set, to the run. SHAP is not installed in the venv, so
the evaluator's explainability step is skipped; it skips it for these rows in any case,
because the label is text.

MLflow's telemetry is off: the driver sets ``MLFLOW_DISABLE_TELEMETRY`` and
``DO_NOT_TRACK`` for this process.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _data
import _worker


def store_in(folder: Path) -> None:
    """A fresh tracking store and experiment, nothing of it outside ``folder``."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    artifacts = (folder / "artifacts").as_uri()
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("bench", artifacts))


def logged(model: Any) -> Any:
    """The model logged to a run and loaded back as a pyfunc."""
    import mlflow

    with mlflow.start_run(run_name="model"):
        # MLflow's default format, skops, refuses the boosted trees' TreePredictor unless
        # told to trust it; the model came from a pickle in any case.
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle")
    return mlflow.pyfunc.load_model(info.model_uri)


def evaluated(model: Any, test: Any) -> Any:
    import mlflow

    with mlflow.start_run(run_name="evaluation"):
        return mlflow.models.evaluate(
            model,
            test,
            targets=_data.LABEL,
            model_type="classifier",
            evaluator_config={"pos_label": _data.POSITIVE},
        )


def summary(result: Any) -> dict[str, Any]:
    return {
        "metrics": sorted(result.metrics),
        "artifacts": sorted(result.artifacts),
        "accuracy": result.metrics.get("accuracy_score"),
        "roc_auc": result.metrics.get("roc_auc"),
    }


def main(argv: list[str]) -> None:
    args = _worker.arguments(argv)
    test = _data.read_frame(args.folder, "test")
    model = _data.read_model(args.folder, args.model)
    started = time.perf_counter()
    import mlflow
    import mlflow.models  # the import a user's script pays

    imported = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="mlflow-") as folder:
        store_in(Path(folder))
        pyfunc = logged(model)
        result, timing = _worker.calls(lambda: evaluated(pyfunc, test), args.repeats, imported)
        found = summary(result)
    _worker.emit(
        {**timing, "computed": found, "versions": _worker.versions(mlflow=mlflow.__version__)}
    )


if __name__ == "__main__":
    main(sys.argv[1:])
