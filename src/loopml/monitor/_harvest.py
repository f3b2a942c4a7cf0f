"""Labelled traffic as training rows: every row a deployment answered (not a shadow's
answer, not an error) whose label came back, with the request's inputs as columns and
the label under the dataset's label column, in the order the rows were predicted.

A row's label is the last label of its feedback (:func:`loopml.monitor.labelled`), so
a row counts once however often it was labelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

    from loopml.workspace import Workspace

KEYS = ["prediction_id", "row"]


def labelled_traffic(
    ws: Workspace, deployment: str, label: str, joined: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The labelled rows of ``deployment``: ``prediction_id``, ``row``, ``time_us``,
    ``labelled_us``, one column per input, and ``label`` named ``label``. ``joined``:
    the deployment's rows of :func:`~loopml.monitor.labelled`, when read already."""
    import polars as pl

    from loopml.monitor._join import labelled
    from loopml.serve import predictions

    if joined is None:
        joined = labelled(deployment, workspace=ws).rows
    told = joined.filter(
        ~pl.col("shadow") & pl.col("error").is_null() & pl.col("label").is_not_null()
    ).select(*KEYS, "time_us", "labelled_us", pl.col("label").alias(label))
    if told.is_empty():
        return told
    wanted = ["prediction_id", "shadow", "error", "inputs"]
    answers = predictions(deployment, columns=wanted, workspace=ws)
    answers = answers.filter(~pl.col("shadow") & pl.col("error").is_null())
    answers = answers.join(told.select("prediction_id").unique(), on="prediction_id")
    inputs = answers.select("prediction_id", pl.col("inputs").struct.unnest())
    columns = [name for name in inputs.columns if name != "prediction_id"]
    if label in columns:
        raise InvalidInput(
            f"deployment {deployment!r} was sent a column named {label!r}, the label's "
            "name: its requests carry the label, so the labelled traffic cannot be told "
            "from it; leave the label out of the requests",
            field="label",
        )
    rows = inputs.with_columns(pl.int_ranges(pl.col(columns[0]).list.len()).alias("row"))
    rows = rows.explode([*columns, "row"]).with_columns(pl.col("row").cast(pl.Int64))
    return told.join(rows, on=KEYS, how="inner").sort("time_us", "prediction_id", "row")


def as_training_rows(traffic: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    """``traffic``'s inputs and label as rows of a dataset shaped ``like``: its columns,
    in its order and of its types; InvalidInput naming a column the traffic lacks."""
    import polars as pl

    missing = [name for name in like.columns if name not in traffic.columns]
    if missing:
        raise InvalidInput(
            f"the labelled traffic has no column {', '.join(map(repr, missing))} that the "
            f"training data has: the requests must send every feature the dataset holds",
            field="data",
        )
    return traffic.select(pl.col(name).cast(like.schema[name]) for name in like.columns)
