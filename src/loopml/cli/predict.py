"""`loopml predict`: score a dataset version with a registered model, into a new
dataset version whose lineage names both (see :mod:`loopml.serve._batch`)."""

from __future__ import annotations

import typer

from loopml._ids import short_id
from loopml.cli._options import JSON
from loopml.cli._output import print_json


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


def predict(
    model: str = typer.Argument(
        ...,
        metavar="MODEL_REF",
        help="The model version: NAME@champion, NAME@v3, NAME@latest ...",
    ),
    data: str = typer.Argument(
        ..., metavar="DATASET_REF", help="The dataset version to score: NAME@v2, NAME@latest ..."
    ),
    out: str = typer.Option(
        ...,
        "--out",
        metavar="NAME",
        help="Dataset the scored rows are recorded in, as its next version.",
    ),
    copy: str = typer.Option(
        None,
        "--copy",
        metavar="native|onnx",
        help="The copy of the model that runs (default: the one the version serves).",
    ),
    columns: str = typer.Option(
        None,
        "--columns",
        metavar="COLUMNS",
        help="Input columns kept beside the predictions, comma-separated (default: all; "
        "'' for none).",
    ),
    batch_rows: int = typer.Option(
        65_536, "--batch-rows", metavar="N", help="Rows scored at a time."
    ),
    as_json: bool = JSON,
) -> None:
    """Score every row of a dataset version with a model version, as a server would
    (its signature checked, its preprocessing applied), and record the rows with a
    `prediction` column (and a `probability_CLASS` column per class of a classifier)
    as the next version of --out, made by a run that read the model and the data.

    \b
    Example:
      loopml predict churn@champion customers@latest --out churn-scores
      loopml predict churn@v3 customers@v2 --out scores --copy onnx --columns id,region
    """
    from loopml.serve._batch import score
    from loopml.workspace import workspace

    kept = (
        None if columns is None else [name for name in map(str.strip, columns.split(",")) if name]
    )
    with workspace() as ws:
        done = score(
            model,
            data,
            out=out,
            copy=copy,
            columns=kept,
            batch_rows=batch_rows,
            workspace=ws,
        )
    if as_json:
        print_json(done.to_dict())
        return
    same = "" if done.new else "  (unchanged: equal to the latest version, nothing new recorded)"
    typer.echo(
        f"dataset {done.dataset.ref}  {done.rows:,} rows scored by model {done.model.ref} "
        f"({done.copy}) on {done.data.ref}  run {short_id(done.run_id)}{same}"
    )
