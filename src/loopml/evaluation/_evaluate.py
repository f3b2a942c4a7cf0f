"""``evaluate``: a model on held-out rows, with everything the gate and people look at.

The steps, each in its own module: inputs (:mod:`._inputs`), predictions
(:mod:`._predict`), metrics (:mod:`._scores`), bootstrap intervals
(:mod:`._bootstrap`), the naive baseline (:mod:`._naive`), slices (:mod:`._slices`),
perturbation (:mod:`._perturb`), calibration (:mod:`._calibration`), latency and size
(:mod:`._latency`), flips (:mod:`._flips`), training overlap (:mod:`._overlap`) and
the stored record (:mod:`._record`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, OverlapWarning
from loopml.evaluation import _inputs as inputs
from loopml.evaluation import _record
from loopml.evaluation._bootstrap import RESAMPLES, SEED, block_length, intervals, replicates
from loopml.evaluation._calibration import calibration
from loopml.evaluation._estimate_fit import fitted_estimator
from loopml.evaluation._flips import flips
from loopml.evaluation._latency import latency, sizes
from loopml.evaluation._naive import concatenated, naive
from loopml.evaluation._overlap import identity_columns, overlapping
from loopml.evaluation._paired import aligned, compare, subset
from loopml.evaluation._perturb import sensitivity
from loopml.evaluation._predict import Predictions, predictions, resolve_task
from loopml.evaluation._records import Evaluation, Flips, Paired
from loopml.evaluation._rowdigest import rows_digest
from loopml.evaluation._scores import confusion, scores
from loopml.evaluation._slices import (
    MIN_ROWS,
    Slice,
    column_slices,
    default_columns,
    slice_results,
    user_slices,
)
from loopml.refs import check_name, record_name

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import Artifact
    from loopml.workspace import Workspace

DEFAULT_PRIMARY = {"classification": "accuracy", "regression": "rmse", "timeseries": "mase"}


def evaluate(
    model: Any,
    data: Any,
    *,
    label: str,
    task: str | None = None,
    train: Any = None,
    key: str | Sequence[str] | None = None,
    allow_overlap: bool = False,
    slices: Mapping[str, Any] | None = None,
    slice_columns: Sequence[str] | None = None,
    against: Any = None,
    primary: str | None = None,
    name: str | None = None,
    workspace: Workspace | None = None,
    record: bool = True,
) -> Evaluation:
    """Evaluate ``model`` on ``data`` (rows it was not trained on) and, with ``record``,
    store the result as an artifact of kind ``evaluation`` and log its metrics on the
    active run as ``eval.<metric>`` and ``baseline.<metric>``.

    ``model`` and ``against`` are model objects, registered refs (``churn@v3``) or
    Artifacts; ``data`` and ``train`` are dataset refs (``churn@v5``),
    DatasetVersions or pandas/Polars DataFrames (``train`` may be a list: training and
    validation). ``task`` is inferred from the model when None. ``primary`` is the
    metric the gate compares first (default: accuracy, rmse, or mase for a time
    series). The stored evaluation is named after the model: ``NAME.vN.evaluation``
    for a registered version (its ``@v2`` is that version's second evaluation),
    ``NAME.evaluation`` with ``name`` (the model's name, for a model not registered
    yet), else ``evaluation``. See docs/evaluation.md for every step.
    """
    ws = inputs.OnDemand(workspace)
    info = inputs.load(model, ws)
    if name is not None:
        check_name(name, "model name", field="name")
    stored_as = record_name(None if name else info.ref, ArtifactKind.EVALUATION, name)
    if record:  # before the work, not after it
        ws()
    table = inputs.read(data, ws)
    frame = table.frame
    inputs.check_label(frame, label)
    task = resolve_task(task, info)
    _checked_columns(slice_columns, frame)
    names = inputs.features(info, frame, label, strict=False)
    form = info.input_form(table.form)
    features = frame.select(names)
    y = inputs.labels(frame, label)

    details: dict[str, Any] = {}
    ignored = [c for c in frame.columns if c not in names and c != label]
    if ignored:
        details["ignored_columns"] = ignored
    trained = inputs.read_all(train, ws) if train is not None else []
    for i, part in enumerate(trained):
        inputs.check_label(part.frame, label, f"train[{i}]")
    if trained:
        keys = _checked_key(key, frame)
        details["overlap"] = _overlap(frame, trained, names, label, keys, allow_overlap)
    elif key is not None:
        raise InvalidInput(
            "key= is for the overlap with train=; give train= too, or leave it out", field="key"
        )
    y_train = concatenated([inputs.labels(part.frame, label) for part in trained])
    base = naive(task, y, y_train)

    p = predictions(task, info, info.as_input(features, form), y, scale=base.scale)
    metrics = scores(p)
    calibrated = calibration(p)
    if calibrated is not None:
        metrics["ece"] = calibrated["ece"]
    if task == "classification":
        details["confusion"] = confusion(p)
        estimator, details["estimator"] = fitted_estimator(p, info.classes)
    else:
        estimator = None
    primary = _primary(primary, task, metrics)

    candidates = list(_slices(frame, table.given, slice_columns, slices, names))
    found_slices, skipped = slice_results(iter(candidates), p, primary, metrics[primary])
    details["slices"] = {"min_rows": MIN_ROWS, "skipped": skipped}
    shares, how = sensitivity(info, frame, names, form, task)
    details["perturbation"] = how
    size, size_how = sizes(info.model, info.artifact)
    details["size"] = size_how
    latency_ms, details["latency"] = latency(info, features, form)
    details["bootstrap"] = {"resamples": RESAMPLES, "seed": SEED, "block": block_length(p)}
    drawn = replicates(p)[0]  # once, for the intervals and every comparison
    other = _against(against, ws, table, label, p, candidates, primary, drawn)
    base_p = base.predictions(y, p)
    versus_baseline = {}
    if base_p is not None and primary in base.metrics:
        # The primary metric only: the baseline check's, and a bootstrap less.
        mine, theirs = aligned(p, base_p)
        versus_baseline = compare(mine, theirs, only={primary}, drawn_a=_same(mine, p, drawn))

    evaluation = Evaluation(
        task=task,
        primary=primary,
        rows=p.rows,
        metrics=metrics,
        intervals=intervals(p, metrics, drawn),
        baseline={k: v for k, v in base.metrics.items() if k in metrics},
        baseline_description=base.description,
        slices=found_slices,
        perturbation=shares,
        calibration=calibrated,
        latency_ms=latency_ms,
        size_bytes=size,
        flips=other.flips,
        data=table.ref,
        model=info.ref,
        details={**details, "label": label},
        rows_digest=rows_digest(frame, ordered=task == "timeseries"),
        paired=other.paired,
        paired_baseline=versus_baseline,
        estimator=estimator,
    )
    if record:
        used = {"model": info.artifact, "data": table.artifact, "against": other.artifact}
        evaluation = _record.store(
            ws(),
            evaluation,
            name=stored_as,
            inputs={role: artifact for role, artifact in used.items() if artifact is not None},
            rows=table.given,
        )
        _record.log_to_run(evaluation)
    return evaluation


def _checked_columns(slice_columns: Sequence[str] | None, frame: pl.DataFrame) -> list[str]:
    if slice_columns is None:
        return []
    columns = [slice_columns] if isinstance(slice_columns, str) else list(slice_columns)
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"slice_columns names {', '.join(map(repr, missing))}, not in the data; its "
            f"columns are {', '.join(frame.columns[:20])}",
            field="slice_columns",
        )
    return columns


def _checked_key(key: str | Sequence[str] | None, frame: pl.DataFrame) -> list[str] | None:
    if key is None:
        return None
    keys = [key] if isinstance(key, str) else list(key)
    missing = [name for name in keys if name not in frame.columns]
    if not keys or missing:
        raise InvalidInput(
            f"key={key!r} names column(s) not in the data ({', '.join(map(repr, missing))}); "
            f"give the column(s) that identify a row, among {', '.join(frame.columns[:20])}",
            field="key",
        )
    return keys


def _overlap(
    frame: pl.DataFrame,
    trained: list[inputs.Table],
    features: list[str],
    label: str,
    key: list[str] | None,
    allowed: bool,
) -> dict[str, Any]:
    """Evaluation rows that are training rows (by ``key``, else by every shared
    column, the label included); rows that only share a training row's features are
    counted apart, as duplicate feature vectors."""
    frames = [part.frame for part in trained]
    identity = identity_columns(frame, frames, key)
    if key is None and not {*features, label} <= set(identity):
        overlapping(frame, frames, [*features, label])  # raises, naming what train lacks
    rows = overlapping(frame, frames, identity)
    alike = overlapping(frame, frames, features) if features else rows
    duplicates = int(np.setdiff1d(alike, rows).size)
    sources = [part.ref or f"train[{i}] (a DataFrame)" for i, part in enumerate(trained)]
    by = f"key ({', '.join(identity)})" if key else "values in every column, the label included"
    found = {
        "rows": len(rows),
        "allowed": allowed,
        "against": sources,
        "identity": identity,
        "duplicate_features": duplicates,
    }
    if len(rows):
        what = (
            f"{len(rows)} of {frame.height} evaluation rows also appear in the training data "
            f"({', '.join(sources)}), with the same {by}"
        )
        if not allowed:
            raise InvalidInput(
                f"{what}; evaluate on held-out rows, or pass allow_overlap=True to evaluate "
                "anyway (the overlap is recorded with the evaluation)"
            )
        warnings.warn(f"{what}: the metrics are optimistic", OverlapWarning, stacklevel=3)
        found["first_rows"] = rows[:100].tolist()
    return found


def _primary(primary: str | None, task: str, metrics: dict[str, float]) -> str:
    if primary is None:
        primary = DEFAULT_PRIMARY[task]
        return primary if primary in metrics else "mae"
    if primary not in metrics:
        raise InvalidInput(
            f"primary={primary!r} is not a metric of this evaluation; use one of "
            f"{', '.join(sorted(metrics))}",
            field="primary",
        )
    return primary


def _slices(
    frame: pl.DataFrame,
    given: Any,
    slice_columns: Sequence[str] | None,
    slices: Mapping[str, Any] | None,
    features: list[str],
) -> Iterator[Slice]:
    if slice_columns is None:
        columns = default_columns(frame, features)
    else:
        columns = [slice_columns] if isinstance(slice_columns, str) else list(slice_columns)
    for column in columns:
        yield from column_slices(frame, column)
    if slices:
        yield from user_slices(slices, frame, given)


def _same(
    aligned_p: Predictions, p: Predictions, drawn: dict[str, npt.NDArray[np.float64]]
) -> dict[str, npt.NDArray[np.float64]] | None:
    """``p``'s replicates, unless aligning it with another model recoded its classes
    (a class more can change what a metric is: ROC-AUC of two classes or of three)."""
    return drawn if aligned_p is p else None


@dataclass(frozen=True)
class _Against:
    flips: Flips | None = None
    paired: Paired | None = None
    artifact: Artifact | None = None


def _against(
    against: Any,
    ws: Callable[[], Workspace],
    table: inputs.Table,
    label: str,
    p: Predictions,
    candidates: list[Slice],
    primary: str,
    drawn: dict[str, npt.NDArray[np.float64]],
) -> _Against:
    """The other model on its own columns of the same rows: flips, and every metric
    compared row by row, overall and on each slice (the primary metric)."""
    if against is None:
        return _Against()
    other = inputs.load(against, ws, "against")
    X = inputs.model_input(other, table, label, "data (for against=)")
    y = inputs.labels(table.frame, label)
    theirs = predictions(p.task, other, X, y, scale=p.scale)
    mine, theirs = aligned(p, theirs)
    raw = theirs.pred if theirs.classes is None else theirs.classes[theirs.pred]
    found = flips(mine, raw, other.label)
    by_slice = {}
    for piece in candidates:
        rows = np.flatnonzero(piece.mask)
        if len(rows) < MIN_ROWS or piece.name in by_slice:
            continue
        compared = compare(subset(mine, rows), subset(theirs, rows), only={primary})
        if primary in compared:
            by_slice[piece.name] = compared[primary]
    paired = Paired(
        other.label, p.rows, compare(mine, theirs, drawn_a=_same(mine, p, drawn)), by_slice
    )
    return _Against(found, paired, other.artifact)
