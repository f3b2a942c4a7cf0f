"""Evidently's classification report on the evaluation rows; runs in
``.venv-bench-evidently``.

Usage: ``python bench/evaluation/worker_evidently.py FOLDER MODEL REPEATS``

Evidently reads predictions from the data and never calls the model, so the timed call
is what a user of it runs: the model's labels and probabilities added to the rows, then
``Report([ClassificationPreset()]).run(...)`` on them as a ``Dataset`` whose data
definition names the label, the two prediction columns and the positive class. Without
reference data, as Evidently documents the preset's plain use. The seconds of each part
are kept, and rendering the snapshot to HTML is timed once, apart from the call.

Evidently's usage telemetry is off: the driver sets ``DO_NOT_TRACK`` (and
``ITERATIVE_DO_NOT_TRACK``) for this process.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _data
import _worker

PREDICTED, PROBABILITY = "predicted", "probability"


def scored(model: Any, test: Any) -> Any:
    """The rows with the model's label and positive-class probability added: one
    ``predict_proba``, the label its most likely class, as ``predict`` would give."""
    probabilities = model.predict_proba(test.drop(columns=_data.LABEL))
    rows = test.copy()
    rows[PREDICTED] = model.classes_[probabilities.argmax(axis=1)]
    rows[PROBABILITY] = probabilities[:, list(model.classes_).index(_data.POSITIVE)]
    return rows


def report_of(rows: Any) -> Any:
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    definition = DataDefinition(
        classification=[
            BinaryClassification(
                target=_data.LABEL,
                prediction_labels=PREDICTED,
                prediction_probas=PROBABILITY,
                pos_label=_data.POSITIVE,
            )
        ]
    )
    dataset = Dataset.from_pandas(rows, data_definition=definition)
    return Report([ClassificationPreset()]).run(current_data=dataset)


def summary(snapshot: Any) -> dict[str, Any]:
    """The metrics in the snapshot, by name, and the accuracy and ROC AUC among them."""
    whole = snapshot.dict()
    found: dict[str, Any] = {"metrics": [], "tests": len(whole.get("tests", []))}
    for metric in whole.get("metrics", []):
        name = str(metric.get("metric_name", ""))
        found["metrics"].append(name)
        value = metric.get("value")
        if name.startswith("Accuracy("):
            found["accuracy"] = value
        elif name.startswith("RocAuc("):
            found["roc_auc"] = value
    return found


def html_seconds(snapshot: Any) -> float:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        snapshot.save_html(str(Path(folder) / "report.html"))
        return time.perf_counter() - started


def main(argv: list[str]) -> None:
    args = _worker.arguments(argv)
    test = _data.read_frame(args.folder, "test")
    model = _data.read_model(args.folder, args.model)
    started = time.perf_counter()
    import evidently
    from evidently import Report  # noqa: F401  (the import a user's script pays)
    from evidently.presets import ClassificationPreset  # noqa: F401

    imported = time.perf_counter() - started
    parts: dict[str, list[float]] = {"predictions": [], "report": []}

    def call() -> Any:
        rows, predicting, _ = _worker.timed(lambda: scored(model, test))
        snapshot, reporting, _ = _worker.timed(lambda: report_of(rows))
        parts["predictions"].append(predicting)
        parts["report"].append(reporting)
        return snapshot

    snapshot, timing = _worker.calls(call, args.repeats, imported)
    _worker.emit(
        {
            **timing,
            "parts_seconds": parts,
            "html_s": html_seconds(snapshot),
            "computed": summary(snapshot),
            "versions": _worker.versions(evidently=evidently.__version__),
        }
    )


if __name__ == "__main__":
    main(sys.argv[1:])
