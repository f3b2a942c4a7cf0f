"""The Typer app. Command modules import their heavy dependencies inside the commands."""

from __future__ import annotations

import typer

from loopml._version import __version__
from loopml.cli import (
    alerts,
    artifacts,
    data,
    export,
    models,
    pipeline,
    runs,
    schedule,
    workspace,
)

app = typer.Typer(
    name="loopml",
    help="loopml: the machine-learning lifecycle as one closed loop.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loopml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """loopml: the machine-learning lifecycle as one closed loop."""


workspace.register(app)
artifacts.register(app)
data.register(app)
pipeline.register(app)
runs.register(app)
models.register(app)
alerts.register(app)
schedule.register(app)
export.register(app)
