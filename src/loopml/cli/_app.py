"""The Typer app. Command modules import their heavy dependencies inside the commands."""

from __future__ import annotations

from typing import Any

import typer
import typer.core
import typer.main

from loopml._version import __version__
from loopml.cli import (
    alerts,
    artifacts,
    data,
    deployments,
    export,
    feedback,
    loop,
    models,
    monitor,
    pipeline,
    predict,
    review,
    runs,
    schedule,
    serve,
    trace,
    workspace,
)
from loopml.cli._options import example


class _PlainArgument(typer.core.TyperArgument):
    """An argument shown as its word in usage lines (``PATH``, not Typer's ``{PATH}``)."""

    def make_metavar(self, ctx: Any, *, usage: bool = False) -> str:
        word = self.metavar or (self.name or "").upper()
        return f"[{word}]" if usage and not self.required and word[:1] != "[" else word


def _plain_arguments(command: Any) -> None:
    for param in command.params:
        if type(param) is typer.core.TyperArgument:
            param.__class__ = _PlainArgument
    for sub in getattr(command, "commands", {}).values():
        _plain_arguments(sub)


def _json_on_groups(command: Any) -> None:
    """A group takes --json too, and does nothing with it: main() hands it to the
    command, so ``loopml data --json`` with no command says "Missing command"."""
    subs = getattr(command, "commands", None)
    if subs is None:
        return
    if not any("--json" in getattr(param, "opts", ()) for param in command.params):
        command.params.append(
            typer.core.TyperOption(
                param_decls=["--json"], is_flag=True, expose_value=False, hidden=True
            )
        )
    for sub in subs.values():
        _json_on_groups(sub)


class _Typer(typer.Typer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        command = typer.main.get_command(self)
        _plain_arguments(command)
        _json_on_groups(command)
        return command(*args, **kwargs)


app = _Typer(
    name="loopml",
    help="loopml: the machine-learning lifecycle as one closed loop.",
    epilog=example(
        "loopml init",
        "loopml data add jan.parquet --name churn --label churned",
        "loopml data validate churn@v2 --report feb.html",
    )
    + "\n\n\bEvery command takes --json (strict JSON) and --debug (tracebacks), anywhere "
    "on the line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loopml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks of errors (also after a command)."
    ),
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
deployments.register(app)
predict.register(app)
monitor.register(app)
loop.register(app)
trace.register(app)
feedback.register(app)
review.register(app)
alerts.register(app)
schedule.register(app)
export.register(app)
serve.register(app)
