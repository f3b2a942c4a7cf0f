"""Bootstrap confidence intervals of every scalar metric, vectorised in NumPy.

1,000 resamples of the evaluation rows, drawn with a fixed seed, so the same model on
the same rows always gets the same intervals; the interval is the 2.5th to 97.5th
percentile of the metric over the resamples. A time series is resampled in blocks of
consecutive rows (``rows ** (1/3)`` long, the moving-block bootstrap), so the
intervals keep the series' autocorrelation instead of pretending rows are independent.

Resamples are drawn in chunks of about a million row positions, and each chunk is
turned once into counts: how many times each row was drawn in each resample (one
``bincount``). Every other metric is a weighted sum over rows, so a chunk's values are
one matrix product of the counts with the per-row quantities (losses, errors, the
ECE's gaps by bin) — sequential reads that BLAS does at memory speed, instead of a
random gather per metric — and ROC-AUC sums the counts over groups of rows
(``np.add.reduceat``) for a rank sum; a binary classifier's rows are put in score
order first, so those groups are runs of columns. Never a Python loop over resamples. The label
metrics (accuracy, F1...) need only the confusion matrix of each resample, drawn
directly (see ``_confusions``).

A statistic with a bias (the ECE grows on resamples) may have an interval that does not
contain its value on all rows; that is the bootstrap's answer, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from loopml.evaluation._calibration import BINS, bin_of, outcomes
from loopml.evaluation._predict import Predictions
from loopml.evaluation._records import Interval

RESAMPLES = 1_000
SEED = 20_240_917
LEVEL = 0.95
_CHUNK_CELLS = 1_000_000  # row positions per chunk: its arrays stay in cache

Draws = npt.NDArray[np.int32]  # (resamples, rows): the row positions of each resample
Counts = npt.NDArray[np.float64]  # (resamples, rows): how often each row was drawn
Values = npt.NDArray[np.float64]  # (resamples,)
Kernel = Callable[[Counts], dict[str, Values]]
Statistic = Callable[[Counts], Values]


def intervals(
    p: Predictions, metrics: dict[str, float], drawn: dict[str, Values] | None = None
) -> dict[str, Interval]:
    """An interval for each metric of ``metrics`` that the bootstrap knows; ``drawn``:
    the row-weighted metrics' :func:`replicates`, when they were drawn already."""
    if drawn is None:
        drawn = replicates(p)[0]
    found = {name: values for name, values in drawn.items() if name in metrics}
    if p.task == "classification":
        found.update({k: v for k, v in labels_of(p, _confusions(p)).items() if k in metrics})
    tail = (1 - LEVEL) / 2 * 100
    result: dict[str, Interval] = {}
    for name, values in found.items():
        values = values[np.isfinite(values)]
        if len(values):
            low, high = np.percentile(values, [tail, 100 - tail])
            result[name] = Interval(float(low), float(high), LEVEL)
    return result


def replicates(*models: Predictions) -> list[dict[str, Values]]:
    """The row-weighted metrics (log-loss, ROC-AUC, ECE, MAE, RMSE, R2, MASE) of each
    of ``models`` — predictions of the same rows — on the same ``RESAMPLES`` resamples
    of those rows: one array per metric and model, resample ``i`` at position ``i`` in
    every array, so that two models' values can be compared resample by resample (the
    paired bootstrap)."""
    rows = models[0].rows
    prepared = []
    for p in models:
        # Rows in ROC-AUC order (a binary classifier's), so its groups of rows are runs
        # of columns of the counts; a row's draws are counted at its new position.
        order = _auc_order(p)
        position = np.empty(rows, dtype=np.int32)
        position[order] = np.arange(rows, dtype=np.int32)
        prepared.append((position, _kernels(_reordered(p, order))))
    found: list[dict[str, list[Values]]] = [{} for _ in models]
    if any(kernels for _, kernels in prepared):
        for draws in resamples(rows, block=block_length(models[0])):
            for (position, kernels), kept in zip(prepared, found, strict=True):
                drawn = counts(position[draws], rows)
                for kernel in kernels:
                    for name, values in kernel(drawn).items():
                        kept.setdefault(name, []).append(values)
    return [{name: np.concatenate(parts) for name, parts in kept.items()} for kept in found]


def _auc_order(p: Predictions) -> npt.NDArray[np.intp]:
    """Rows by the positive class's probability, then by class; else as they are."""
    if p.proba is None or p.proba.shape[1] != 2:
        return np.arange(p.rows)
    return np.lexsort((p.y, p.proba[:, 1]))


def _reordered(p: Predictions, order: npt.NDArray[np.intp]) -> Predictions:
    proba = None if p.proba is None else p.proba[order]
    return Predictions(p.task, p.y[order], p.pred[order], p.classes, proba, p.scale)


def block_length(p: Predictions) -> int:
    return max(1, round(p.rows ** (1 / 3))) if p.task == "timeseries" else 1


def resamples(rows: int, *, block: int = 1, count: int = RESAMPLES) -> Iterator[Draws]:
    """Row positions of ``count`` resamples of ``rows`` rows, a chunk at a time."""
    rng = np.random.default_rng(SEED)
    chunk = max(1, _CHUNK_CELLS // rows)
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        if block == 1:
            yield rng.integers(0, rows, size=(size, rows), dtype=np.int32)
            continue
        blocks = -(-rows // block)
        starts = rng.integers(0, rows - block + 1, size=(size, blocks), dtype=np.int32)
        spans = np.add(starts[:, :, None], np.arange(block, dtype=np.int32), dtype=np.int32)
        yield spans.reshape(size, -1)[:, :rows]


def counts(draws: Draws, rows: int) -> Counts:
    """How many times each of ``rows`` rows is drawn in each resample."""
    size = draws.shape[0]
    flat = draws.astype(np.int64)
    flat += (np.arange(size, dtype=np.int64) * rows)[:, None]  # in place: no copy
    found = np.bincount(flat.ravel(), minlength=size * rows)
    return found.reshape(size, rows).astype(np.float64)


def grouper(keys: npt.NDArray[np.intp], groups: int) -> Callable[[Counts], Counts]:
    """Per resample, the rows drawn of each key (0 to ``groups``): (resamples, groups).
    The rows are put in key order once; each chunk is then summed over runs."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    present = ordered[starts]

    in_order = bool(np.array_equal(order, np.arange(len(keys))))

    def grouped(drawn: Counts) -> Counts:
        summed = np.zeros((drawn.shape[0], groups))
        runs = drawn if in_order else drawn[:, order]  # no copy when already in key order
        summed[:, present] = np.add.reduceat(runs, starts, axis=1)
        return summed

    return grouped


# -- the metrics, each on a chunk of resamples ----------------------------------------


def _kernels(p: Predictions) -> list[Kernel]:
    if p.task != "classification":
        return [_regression(p)]
    kernels: list[Kernel] = []
    if p.proba is not None:
        proba = p.proba
        given = proba[np.arange(p.rows), p.y]
        loss = -np.log(np.clip(given, np.finfo(np.float64).eps, 1 - np.finfo(np.float64).eps))
        kernels.append(lambda drawn: {"log_loss": drawn @ loss / p.rows})
        auc = _roc_auc(p.y, proba)
        kernels.append(lambda drawn: {"roc_auc": auc(drawn)})
        found = outcomes(p)
        if found is not None:
            score, outcome, _ = found
            gaps = np.zeros((p.rows, BINS))  # each row's gap, in the column of its bin
            gaps[np.arange(p.rows), bin_of(score)] = score - outcome
            kernels.append(lambda drawn: {"ece": np.abs(drawn @ gaps).sum(axis=1) / p.rows})
    return kernels


def _confusions(p: Predictions) -> npt.NDArray[np.float64]:
    """A confusion matrix per resample. The label metrics depend on the rows only
    through the counts of the (true, predicted) cells, and resampling rows draws those
    counts from the multinomial of the cells' shares: drawn here directly, it is the
    same bootstrap at the cost of the cells, not of the rows."""
    k = p.classes_count
    cells = np.bincount(p.y * k + p.pred, minlength=k * k)
    rng = np.random.default_rng(SEED)
    drawn = rng.multinomial(p.rows, cells / p.rows, size=RESAMPLES)
    return drawn.reshape(-1, k, k).astype(np.float64)


def labels_of(p: Predictions, matrix: npt.NDArray[np.float64]) -> dict[str, Values]:
    right = np.diagonal(matrix, axis1=1, axis2=2)
    support, predicted = matrix.sum(axis=2), matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = right / support
        precision = right / predicted
        f1 = 2 * right / (support + predicted)
        found = {
            "accuracy": right.sum(axis=1) / p.rows,
            "balanced_accuracy": _mean_where(recall, support > 0),
            "f1_macro": _mean_where(f1, support + predicted > 0),
        }
    for code in range(p.classes_count):
        name = p.label_of(code)
        found[f"precision.{name}"] = np.nan_to_num(precision[:, code])
        found[f"recall.{name}"] = np.nan_to_num(recall[:, code])
        found[f"f1.{name}"] = np.nan_to_num(f1[:, code])
    return found


def _mean_where(values: Values, present: npt.NDArray[np.bool_]) -> Values:
    total = np.where(present, values, 0.0).sum(axis=1)
    return np.asarray(total / present.sum(axis=1), dtype=np.float64)


def _roc_auc(y: npt.NDArray[np.intp], proba: npt.NDArray[np.float64]) -> Statistic:
    if proba.shape[1] == 2:
        return _binary_auc(y == 1, proba[:, 1])
    each = [_binary_auc(y == c, proba[:, c]) for c in range(proba.shape[1])]

    def macro(drawn: Counts) -> Values:
        areas = np.stack([area(drawn) for area in each])
        defined = np.isfinite(areas)
        with np.errstate(invalid="ignore"):
            total = np.where(defined, areas, 0.0).sum(axis=0)
            return np.asarray(total / defined.sum(axis=0), dtype=np.float64)

    return macro


def _binary_auc(positive: npt.NDArray[np.bool_], score: Values) -> Statistic:
    """The Mann-Whitney AUC of each resample, exactly, from the rows it drew.

    Rows are grouped in score order: a group is a run of rows of one class with no row
    of the other class at a score between or equal to theirs (a tie with the other class
    is a group of its own). Every positive row of a group has the same negatives below
    it, so per resample only the drawn rows of each group are counted, and a cumulative
    sum gives the negatives below each group.
    """
    order = np.argsort(score, kind="stable")
    ordered, kinds = score[order], positive[order].astype(np.int8)
    tie_starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    mixed = np.maximum.reduceat(kinds, tie_starts) != np.minimum.reduceat(kinds, tie_starts)
    kind = kinds[tie_starts]
    new = np.r_[True, mixed[1:] | mixed[:-1] | (kind[1:] != kind[:-1])]
    group_of_tie = np.cumsum(new) - 1
    groups = int(group_of_tie[-1]) + 1
    row_group = np.empty(len(score), dtype=np.int64)
    row_group[order] = np.repeat(group_of_tie, np.diff(np.r_[tie_starts, len(score)]))
    grouped = grouper(row_group * 2 + positive, 2 * groups)

    def area(drawn: Counts) -> Values:
        by_group = grouped(drawn).reshape(len(drawn), groups, 2)
        neg, pos = by_group[:, :, 0], by_group[:, :, 1]
        below = np.cumsum(neg, axis=1) - neg
        with np.errstate(divide="ignore", invalid="ignore"):
            pairs = (pos * (below + neg / 2)).sum(axis=1)
            return np.asarray(pairs / (pos.sum(axis=1) * neg.sum(axis=1)), dtype=np.float64)

    return area


def _regression(p: Predictions) -> Kernel:
    error = p.y - p.pred
    centered = p.y - p.y.mean()  # centred first: sums of squares lose no digits
    per_row = np.column_stack([np.abs(error), error**2, centered, centered**2])

    def kernel(drawn: Counts) -> dict[str, Values]:
        absolute, squared, sums, squares = (drawn @ per_row).T
        mae = absolute / p.rows
        found = {"mae": mae, "rmse": np.sqrt(squared / p.rows)}
        if p.task == "regression":
            total = squares - sums**2 / p.rows
            with np.errstate(divide="ignore", invalid="ignore"):
                found["r2"] = np.where(total > 0, 1 - squared / total, math.nan)
        elif p.scale > 0:
            found["mase"] = mae / p.scale
        return found

    return kernel
