"""Predictions joined with their feedback: one row per predicted row, with its label.

Feedback may arrive before its prediction's segment is written, days later, twice, or
for an id the log never held; the join is made when the logs are read, so the order in
which things arrived does not matter:

- the last label on a prediction (or on one row of it) wins, and the last reward: a
  label and a reward are facts of their own, so a later reward keeps the label and a
  later label the reward; a record with neither (a review queue's tie) withdraws the
  label; records left with nothing that wins are counted in ``duplicates``;
- feedback on one row (``row`` given) wins over feedback on the whole prediction;
- a shadow's answer is labelled by the feedback on the prediction it shadowed (its
  ``request_id``), so a shadow is judged on the same rows as the version it follows;
- feedback recorded before its prediction was logged (with no deployment: see
  :func:`loopml.feedback`) joins the deployment whose log holds the prediction now;
- feedback whose prediction is not in the log, though its id says it was made in the
  window read, is reported in ``unmatched``, never silently dropped (feedback with no
  deployment, when no deployment's log holds its prediction);
- a label that cannot be read as the predictions' type (``"yes"`` for a model that
  predicts numbers) is counted in ``unreadable`` and left out.

>>> import polars as pl
>>> answers = pl.DataFrame({
...     "prediction_id": ["a", "b"], "request_id": [None, None], "time_us": [1, 2],
...     "ref": ["m@v1", "m@v1"], "arm": [0, 0], "probability": [1.0, 1.0],
...     "latency_us": [300, 400], "fallback": [False, False], "shadow": [False, False],
...     "error": [None, None],
...     "outputs": [{"predictions": [1, 0]}, {"predictions": [1]}]})
>>> told = pl.DataFrame({"prediction_id": ["a", "b", "b"], "time_us": [5, 6, 9],
...     "reward": [None, None, None], "label": ["1", "0", "1"], "row": [0, None, None]})
>>> found = join_feedback(answers, told)
>>> found.rows.select("prediction_id", "row", "predicted", "label").rows()
[('a', 0, 1, 1), ('a', 1, 0, None), ('b', 0, 1, 1)]
>>> found.feedback, found.duplicates
(3, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from loopml.workspace import Workspace

_KEYS = ["answers", "row"]


@dataclass(frozen=True)
class Labelled:
    """Predicted rows and their labels (see the module's text)."""

    rows: pl.DataFrame
    feedback: int  # feedback records read
    duplicates: int  # records replaced by a later one on the same prediction and row
    unmatched: tuple[str, ...] = ()  # feedback ids with no prediction in the log
    unreadable: int = 0  # labels that are not of the predictions' type


def labelled(
    deployment: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    workspace: Workspace | None = None,
) -> Labelled:
    """The predictions of ``deployment`` made in ``[since, until)`` joined with every
    feedback on them (feedback may come after ``until``)."""
    from loopml._context import workspace_in_use
    from loopml._time import to_us
    from loopml.serve import feedback_records, predictions
    from loopml.serve._layouts import FEEDBACK, NO_DEPLOYMENT
    from loopml.serve._segments import concat

    ws = workspace_in_use(workspace)
    wanted = ["prediction_id", "request_id", "ref", "arm", "probability", "latency_us"]
    wanted += ["fallback", "shadow", "error", "outputs"]  # not the inputs: most of the bytes
    answers = predictions(deployment, since=since, until=until, columns=wanted, workspace=ws)
    told = feedback_records(deployment, since=since, workspace=ws)
    early = feedback_records(NO_DEPLOYMENT, since=since, workspace=ws)
    if early.height:  # (two joins of every answer's id, skipped when there is none)
        ours = early.join(answers.select("prediction_id"), on="prediction_id", how="semi")
        if ours.height:
            told = concat([told, ours], FEEDBACK)
    found = join_feedback(answers, told)
    since_us = None if since is None else to_us(since)
    until_us = None if until is None else to_us(until)
    unmatched = _unmatched(answers, told, since_us, until_us)
    others = _unmatched(answers, early, since_us, until_us) if early.height else ()
    if others:
        unmatched += _in_no_log(others, ws)
    return Labelled(found.rows, found.feedback, found.duplicates, unmatched, found.unreadable)


def join_feedback(answers: pl.DataFrame, told: pl.DataFrame) -> Labelled:
    """``answers`` (a frame of :func:`loopml.serve.predictions`) row by row, with the
    last label and the last reward of ``told`` (of
    :func:`loopml.serve.feedback_records`), and when that label was given
    (``labelled_us``)."""
    import polars as pl

    from loopml.serve._labels import labels_as

    rows = _rows(answers)
    keys = ["prediction_id", "row"]
    # a stable sort: of two records at the same time, the one logged later wins
    ordered = told.sort("time_us", maintain_order=True).with_row_index("record")
    # A label and a reward are facts of their own, the last of each kind winning: a
    # later reward keeps the label. A record with neither withdraws the label (a review
    # queue's tie): it is the last label then.
    labels = ordered.filter(pl.col("label").is_not_null() | pl.col("reward").is_null())
    labels = labels.unique(keys, keep="last", maintain_order=True)
    rewards = ordered.filter(pl.col("reward").is_not_null())
    rewards = rewards.unique(keys, keep="last", maintain_order=True)
    label = labels_as(labels["label"], rows.schema["predicted"])
    unreadable = int((labels["label"].is_not_null() & label.is_null()).sum())
    kept = pl.concat([labels["record"], rewards["record"]]).n_unique()
    last = labels.select(*keys, label.alias("label"), pl.col("time_us").alias("labelled_us"))
    last = last.join(
        rewards.select(*keys, "reward"), on=keys, how="full", coalesce=True, nulls_equal=True
    ).rename({"prediction_id": "answers"})
    whole = last.filter(pl.col("row").is_null()).drop("row")
    one = last.filter(pl.col("row").is_not_null())
    joined = rows.join(whole, on="answers", how="left")
    if one.height:  # feedback on single rows of a prediction: it wins
        joined = joined.join(one, on=_KEYS, how="left", suffix="_row")
        row_label = pl.col("label_row").is_not_null()
        joined = joined.with_columns(
            pl.coalesce("label_row", "label").alias("label"),
            pl.coalesce("reward_row", "reward").alias("reward"),
            pl.when(row_label)
            .then("labelled_us_row")
            .otherwise("labelled_us")
            .alias("labelled_us"),
        ).drop("label_row", "reward_row", "labelled_us_row")
    return Labelled(joined, told.height, told.height - kept, (), unreadable)


def _rows(answers: pl.DataFrame) -> pl.DataFrame:
    """One row per predicted row: its prediction, and its confidence and class
    probabilities when the answer held probabilities."""
    import polars as pl

    outputs = answers.schema["outputs"]
    kinds = {f.name: f.dtype for f in outputs.fields} if isinstance(outputs, pl.Struct) else {}
    fields = set(kinds)
    # answers that all held no probabilities (None) leave a field of lists of no type
    given = kinds.get("probabilities")
    probabilities = isinstance(given, pl.List) and isinstance(given.inner, pl.List)
    predicted = (
        pl.col("outputs").struct.field("predictions")
        if "predictions" in fields
        else pl.lit(None, pl.List(pl.Null))
    )
    chosen = [
        "prediction_id",
        pl.when(pl.col("shadow"))
        .then(pl.col("request_id"))
        .otherwise(pl.col("prediction_id"))
        .alias("answers"),
        "time_us",
        "ref",
        "arm",
        "probability",
        "latency_us",
        "fallback",
        "shadow",
        "error",
        predicted.alias("predicted"),
    ]
    exploded = ["predicted", "row"]
    if probabilities:  # each row's probabilities and top one, a list as long as the
        # answer's rows, exploded with them (an answer may hold none: a shadow without
        # predict_proba beside ones that do). Taking each row's from the whole list
        # after exploding held every answer's list once per row: memory grew with the
        # square of the rows in a request.
        rows_in = predicted.list.len().fill_null(1)
        per_row = _as_long(pl.col("outputs").struct.field("probabilities"), rows_in)
        chosen.append(per_row.alias("probabilities"))
        chosen.append(per_row.list.eval(pl.element().list.max()).alias("confidence"))
        exploded += ["probabilities", "confidence"]
    rows = answers.select(chosen).with_columns(
        pl.int_ranges(pl.col("predicted").list.len().fill_null(1)).alias("row")
    )
    rows = rows.with_columns(
        pl.when(pl.col("predicted").is_null())
        .then(pl.lit([None]))
        .otherwise(pl.col("predicted"))
        .alias("predicted")
    )
    rows = rows.explode(exploded)
    if probabilities:  # in the order the columns always came
        ahead = [name for name in rows.columns if name not in ("confidence", "probabilities")]
        rows = rows.select(*ahead, "confidence", "probabilities")
    return rows.with_columns(pl.col("row").cast(pl.Int64))


def _as_long(lists: pl.Expr, length: pl.Expr) -> pl.Expr:
    """Each list cut or padded with nulls to ``length`` (a missing one: all nulls)."""
    import polars as pl

    def nulls(count: pl.Expr) -> pl.Expr:
        return pl.lit(None, pl.List(pl.Null)).repeat_by(count)

    padded = pl.concat_list(lists.list.slice(0, length), nulls((length - lists.list.len()).clip(0)))
    return pl.when(lists.is_null()).then(nulls(length)).otherwise(padded)


def _unmatched(
    answers: pl.DataFrame, told: pl.DataFrame, since_us: int | None, until_us: int | None
) -> tuple[str, ...]:

    from loopml._ids import made_us

    missing = told.join(answers.select("prediction_id"), on="prediction_id", how="anti")[
        "prediction_id"
    ]
    found = []
    for prediction_id in missing.unique(maintain_order=True).to_list():
        made = made_us(prediction_id)
        inside = made is None or (
            (since_us is None or made >= since_us) and (until_us is None or made < until_us)
        )
        if inside:
            found.append(prediction_id)
    return tuple(found)


def _in_no_log(ids: tuple[str, ...], ws: Workspace) -> tuple[str, ...]:
    """Those of ``ids`` (of feedback recorded with no deployment, on none of the
    deployment read) that no deployment's log holds: read around the times the ids
    hold, the prediction ids only (the whole log when an id holds no time)."""
    import polars as pl

    from loopml._ids import made_us
    from loopml._time import from_us
    from loopml.serve import predictions
    from loopml.serve._known import AROUND_US

    made = [made_us(prediction_id) for prediction_id in ids]
    since = until = None
    if all(at is not None for at in made):
        times = [at for at in made if at is not None]
        since, until = from_us(min(times) - AROUND_US), from_us(max(times) + AROUND_US)
    held = predictions(None, since=since, until=until, columns=["prediction_id"], workspace=ws)
    wanted = pl.DataFrame({"prediction_id": list(ids)}, schema={"prediction_id": pl.String})
    missing = wanted.join(held.select("prediction_id"), on="prediction_id", how="anti")
    return tuple(missing["prediction_id"].to_list())
