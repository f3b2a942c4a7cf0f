"""`loopml feedback import FILE`: labels (or rewards) for logged predictions, from a
CSV or Parquet file (see :mod:`loopml.serve._feedback_import`)."""

from __future__ import annotations

import typer

from loopml.cli._options import JSON, example
from loopml.cli._output import print_json

app = typer.Typer(
    help="Feedback on the server's predictions: import a file of labels.",
    epilog=example("loopml feedback import labels.csv"),
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="feedback")


@app.command("import")
def import_(
    path: str = typer.Argument(
        ...,
        metavar="FILE",
        help="A CSV or Parquet file with columns id and label (or reward), and optionally "
        "row and time.",
    ),
    as_json: bool = JSON,
) -> None:
    """Record a file of feedback: one row per prediction id (the server's answer's
    prediction_id) with its label or reward, the row of the prediction it is about
    (empty: every row) and when the label was known (ISO 8601, UTC unless it gives an
    offset; empty: now). The whole file is checked first: nothing is recorded unless
    every row is right. Ids the prediction log does not hold are recorded and listed;
    they join their predictions once those are logged.

    \b
    Example:
      loopml feedback import labels.csv
      loopml feedback import labels.parquet --json
    """
    from loopml.serve import import_feedback
    from loopml.workspace import workspace

    with workspace() as ws:
        done = import_feedback(path, workspace=ws)
    if as_json:
        print_json(done.to_dict())
        return
    where = ", ".join(f"{name} {count:,}" for name, count in done.deployments.items())
    typer.echo(
        f"imported {done.imported:,} feedback record(s) from {path}: {done.matched:,} on "
        f"logged predictions{f' ({where})' if where else ''}"
    )
    if done.unknown:
        typer.echo(
            f"{len(done.unknown):,} id(s) the prediction log does not hold (recorded; "
            f"joined once they are logged), first: {done.unknown[0]}"
        )
    typer.echo(
        f"duplicates: {done.duplicates_in_file:,} in the file (the later line wins), "
        f"{done.duplicates_of_earlier:,} of earlier feedback (replaced)"
    )
    if done.rewarded:
        typer.echo(f"bandit arms rewarded: {done.rewarded:,}")
