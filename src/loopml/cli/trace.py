"""`loopml trace PREDICTION_ID`: the chain behind one prediction (see
:mod:`loopml.monitor`)."""

from __future__ import annotations

import typer

from loopml.cli._options import JSON
from loopml.cli._output import print_json


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)


def trace(
    prediction_id: str = typer.Argument(
        ..., metavar="PREDICTION_ID", help="The id a server answered with."
    ),
    as_json: bool = JSON,
) -> None:
    """Print the whole chain behind a prediction: the deployment and the policy that
    routed it, the model version that answered, its gate verdict, the loop decisions
    that sent it out, the training run (params, code, environment) back to the dataset
    versions and the log segments they came from, and the feedback on the prediction.

    \b
    Example:
      loopml trace 01a24deb975f073280664dac0809bc4e
    """
    from loopml.monitor import trace as traced
    from loopml.workspace import workspace

    with workspace() as ws:
        found = traced(prediction_id, workspace=ws)
    if as_json:
        print_json(found.to_dict())
        return
    typer.echo(found.render())
