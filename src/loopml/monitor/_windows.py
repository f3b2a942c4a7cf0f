"""Live metrics: a deployment's predicted rows, in windows of time or of predictions,
per version that answered.

Each window and version gets its predictions and rows, how many rows are labelled
(``coverage``), the metric on the labelled rows (accuracy and macro F1 for a
classifier, MAE and RMSE for a regressor), the same metric for the naive baseline on
the same rows (what decay is judged against), the mean confidence of a classifier, the
latency's p50 and p99, and the share of errors, fallbacks and shadow answers.

>>> import polars as pl
>>> rows = pl.DataFrame({
...     "prediction_id": ["a", "b", "c", "d"], "row": [0, 0, 0, 0],
...     "time_us": [0, 1_000_000, 3_600_000_000, 3_601_000_000],
...     "ref": ["m@v1"] * 4, "latency_us": [300, 500, 400, 400],
...     "fallback": [False] * 4, "shadow": [False] * 4, "error": [None] * 4,
...     "predicted": [1, 0, 1, 1], "label": [1, 1, None, 1]})
>>> found = live_metrics(rows, every="1h", baseline=1)
>>> found.select("window", "rows", "labelled", "accuracy", "baseline_accuracy").rows()
[(0, 2, 2, 0.5, 1.0), (1, 2, 1, 1.0, 1.0)]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

    from loopml.evaluation import PerformanceEstimator

TASKS = ("classification", "regression")


def live_metrics(
    rows: pl.DataFrame,
    *,
    every: str | int = "1h",
    task: str = "classification",
    baseline: Any = None,
    estimators: Mapping[str, PerformanceEstimator] | None = None,
) -> pl.DataFrame:
    """The metrics of ``rows`` (of :func:`~loopml.monitor.labelled`) per window and
    version, in window order. ``every`` is a Polars duration (``"1h"``, ``"1d"``,
    ``"15m"``, ``"1w"``: windows of time from the unix epoch, ``window`` their number and
    ``window_start_us`` their start) or a number of predictions (windows of that many
    of the deployment's answers, in time order). ``baseline`` is what the naive
    baseline predicts for every row (the majority class, or the mean), None for no
    baseline columns. ``estimators`` (by version, see
    :func:`~loopml.monitor._estimated.version_estimators`) add each classifier
    window's metrics estimated from its probabilities before the labels come, and
    for two classes the realised precision, recall, F1 and ROC-AUC (see
    :mod:`loopml.monitor._estimated`)."""
    import polars as pl

    if task not in TASKS:
        raise InvalidInput(f"task {task!r} is not one of {', '.join(TASKS)}", field="task")
    if rows.is_empty():
        _window(rows, every)  # the argument is checked all the same
        return pl.DataFrame(
            schema={"window": pl.Int64, "ref": pl.String, "window_start_us": pl.Int64}
        )
    rows = rows.with_columns(_window(rows, every))
    right = _scored(task, pl.col("predicted"), pl.col("label"))
    metrics = [
        pl.col("prediction_id").n_unique().alias("predictions"),
        pl.len().alias("rows"),
        pl.col("label").is_not_null().sum().alias("labelled"),
        pl.col("window_start_us").min().alias("window_start_us"),
        *right,
    ]
    if baseline is not None:
        metrics += [
            e.alias("baseline_" + (e.meta.output_name() or ""))
            for e in _scored(task, pl.lit(baseline), pl.col("label"))
        ]
    if "confidence" in rows.columns:
        metrics.append(pl.col("confidence").mean().alias("mean_confidence"))
    answers = rows.filter(pl.col("row") == 0)  # one per prediction: its latency, error, fallback
    per_answer = answers.group_by("window", "ref").agg(
        (pl.col("latency_us").quantile(0.5) / 1000).alias("latency_p50_ms"),
        (pl.col("latency_us").quantile(0.99) / 1000).alias("latency_p99_ms"),
        pl.col("error").is_not_null().mean().alias("error_rate"),
        pl.col("fallback").mean().alias("fallback_rate"),
        pl.col("shadow").any().alias("shadow"),
    )
    found = rows.group_by("window", "ref").agg(metrics)
    found = found.with_columns((pl.col("labelled") / pl.col("rows")).alias("coverage"))
    found = found.join(per_answer, on=["window", "ref"], how="left")
    if task == "classification":
        found = found.join(_f1_macro(rows), on=["window", "ref"], how="left")
    if estimators and task == "classification" and "probabilities" in rows.columns:
        from loopml.monitor._estimated import estimated_metrics

        more = estimated_metrics(rows, estimators)
        found = found.join(more, on=["window", "ref"], how="left")
    return found.sort("window", "ref")


def _f1_macro(rows: pl.DataFrame) -> pl.DataFrame:
    """Each window's F1 averaged over the classes its labelled rows hold or were
    predicted (scikit-learn's ``f1_score(average="macro")``): a class's F1 is twice its
    right predictions over its labels plus its predictions."""
    import polars as pl

    keys = ["window", "ref"]
    labelled = rows.filter(pl.col("label").is_not_null())
    truth = labelled.group_by(*keys, pl.col("label").alias("class")).agg(
        pl.len().alias("labels"), (pl.col("predicted") == pl.col("label")).sum().alias("right")
    )
    guessed = labelled.group_by(*keys, pl.col("predicted").alias("class")).agg(
        pl.len().alias("guesses")
    )
    classes = truth.join(guessed, on=[*keys, "class"], how="full", coalesce=True).fill_null(0)
    f1 = 2 * pl.col("right") / (pl.col("labels") + pl.col("guesses"))
    return classes.group_by(keys).agg(f1.mean().alias("f1_macro"))


def _window(rows: pl.DataFrame, every: str | int) -> list[pl.Expr]:
    import polars as pl

    if isinstance(every, bool) or not isinstance(every, str | int):
        raise InvalidInput(
            f"every {every!r} must be a duration such as '1h' or '1d', or a number of predictions",
            field="every",
        )
    if isinstance(every, int):
        if every < 1:
            raise InvalidInput(f"every {every} must be at least 1 prediction", field="every")
        order = rows.select("prediction_id", "time_us").unique("prediction_id").sort("time_us")
        number = dict(zip(order["prediction_id"].to_list(), range(order.height), strict=True))
        window = pl.col("prediction_id").replace_strict(number, return_dtype=pl.Int64) // every
        return [window.alias("window"), pl.col("time_us").alias("window_start_us")]
    micros = _micros(every)
    window = pl.col("time_us") // micros
    return [window.alias("window"), (window * micros).alias("window_start_us")]


def _micros(every: str, *, counts: bool = True) -> int:
    """The microseconds of an interval such as ``15m``, ``1h`` or ``1h30m``; ``counts``:
    a number of predictions would do too (said when ``every`` is neither)."""
    from loopml._cadence import is_interval, parse_every

    if not is_interval(every):
        raise InvalidInput(
            f"--every {every!r} is not a window; give a duration, a number and a unit (s m h "
            "d or w, largest first: 30s, 15m, 1h, 1d, 1h30m)"
            + (", or a number of predictions (--every 1000)" if counts else ""),
            field="every",
        )
    try:
        return parse_every(every) * 1_000_000
    except InvalidInput as error:
        raise InvalidInput(str(error), field="every") from None


def _scored(task: str, predicted: pl.Expr, label: pl.Expr) -> list[pl.Expr]:
    """The metric of ``predicted`` against ``label`` over the labelled rows."""
    import polars as pl

    labelled = label.is_not_null()
    if task == "classification":
        return [(predicted == label).filter(labelled).mean().alias("accuracy")]
    error = (predicted.cast(pl.Float64) - label.cast(pl.Float64)).filter(labelled)
    return [error.abs().mean().alias("mae"), error.pow(2).mean().sqrt().alias("rmse")]
