"""`loopml run` and `loopml status`: run a pipeline, or say which of its steps are stale."""

from __future__ import annotations

import inspect
import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from loopml._ids import short_id
from loopml.cli._options import JSON
from loopml.cli._output import print_json

if TYPE_CHECKING:
    from loopml.pipeline import Pipeline, StepResult

PIPELINE_FAILED = 1
TARGET = typer.Argument(
    ...,
    metavar="FILE.py[:NAME]",
    help="The pipeline, as path/to/file.py:name (the name may be left out when the file "
    "has one pipeline).",
)
PARAM = typer.Option([], "--param", "-p", metavar="NAME=VALUE", help="A pipeline parameter.")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("status")(status)


def run(
    target: str = TARGET,
    param: list[str] = PARAM,
    force: bool = typer.Option(False, "--force", help="Re-run every step, cached or not."),
    force_step: list[str] = typer.Option(
        [], "--force-step", metavar="STEP", help="Re-run this step and all after it."
    ),
    until: str = typer.Option(
        None, "--until", metavar="STEP", help="Run only this step and the steps it needs."
    ),
    runner: str = typer.Option(
        "local",
        "--runner",
        metavar="local|processes|ray",
        help="local: steps one after another in this process; processes: independent "
        "steps at once in worker processes; ray: each step a Ray task (needs loopml[ray]).",
    ),
    workers: int = typer.Option(
        None, "--workers", metavar="N", min=1, help="Steps at once (default: one per core)."
    ),
    address: str = typer.Option(
        None,
        "--address",
        metavar="HOST:PORT",
        help="With --runner ray: the Ray cluster to run on ('auto': the one `ray start` "
        "started here). Default: a local Ray on 127.0.0.1 for this run.",
    ),
    as_json: bool = JSON,
) -> None:
    """Run a pipeline: each step is reused from the cache when its code, parameters and
    inputs are unchanged.

    \b
    Example:
      loopml run pipelines.py:churn --param C=0.5
      loopml run pipelines.py:churn --runner processes --force-step train
    """
    from loopml._signals import Terminated
    from loopml.errors import StepFailed
    from loopml.pipeline import load_pipeline
    from loopml.pipeline._replay import replay, run_key
    from loopml.pipeline._run import run_pipeline
    from loopml.pipeline._runners import RunOptions
    from loopml.workspace import workspace

    file_part, _, name = target.rpartition(":") if ":" in target else (target, "", "")
    key = None if force or force_step else run_key(file_part, name, param, until)
    options = RunOptions(
        force=True if force else list(force_step),
        until=until,
        runner=runner,
        workers=workers,
        address=address,
        remember=key,
    )
    if key is not None:
        options.check(key.file)
        try:
            with workspace() as ws:
                replayed = replay(ws, key, options)
        except Terminated as stop:  # SIGTERM: the run is recorded as killed by now
            sys.stderr.write(f"{stop}: pipeline {target} stopped, its run killed\n")
            raise typer.Exit(stop.exit_code) from None
        if replayed is not None:  # every step a hit, found without importing the file
            _report(replayed.pipeline, replayed.run_id, replayed.steps, as_json, replayed.memo)
            return
    pipeline = load_pipeline(target)
    params = _params(pipeline, param)
    with workspace() as ws:
        try:
            result = run_pipeline(pipeline, params, workspace=ws, options=options)
        except StepFailed as failure:
            sys.stderr.write(failure.traceback)
            sys.stderr.write(f"error: {failure}\n")
            if as_json:
                print_json(
                    {
                        "pipeline": pipeline.name,
                        "status": "failed",
                        "step": failure.step,
                        "run_id": failure.run_id,
                        "error": str(failure),
                        "code": failure.code,
                    }
                )
            raise typer.Exit(PIPELINE_FAILED) from None
        except Terminated as stop:  # SIGTERM: the runs are recorded as killed by now
            sys.stderr.write(f"{stop}: pipeline {pipeline.name} stopped, its runs killed\n")
            raise typer.Exit(stop.exit_code) from None
    _report(pipeline.name, result.run_id, result.steps, as_json)


def _report(
    name: str, run_id: str, steps: list[StepResult], as_json: bool, replayed_from: str | None = None
) -> None:
    if as_json:
        print_json(
            {
                "pipeline": name,
                "status": "succeeded",
                "run_id": run_id,
                "replayed_from": replayed_from,
                "steps": [
                    {
                        "name": step.name,
                        "status": step.status,
                        "run_id": step.run_id,
                        "cached_from": step.cached_from,
                        "output": None if step.output is None else step.output.ref,
                        "note": step.note,
                    }
                    for step in steps
                ],
            }
        )
        return
    for step in steps:
        detail = f"cached from run {short_id(step.cached_from)}" if step.cached_from else "ran"
        output = step.output.ref if step.output is not None else ""
        typer.echo(f"  {step.name:<24} {detail:<28} {output}")
    ran = sum(step.status == "ran" for step in steps)
    # A replay: found from run X's record, without importing the pipeline file.
    how = f", replayed from run {short_id(replayed_from)}" if replayed_from else ""
    typer.echo(
        f"pipeline {name} succeeded: {ran} ran, {len(steps) - ran} cached "
        f"(run {short_id(run_id)}{how})"
    )


def status(
    target: str = TARGET,
    param: list[str] = PARAM,
    as_json: bool = JSON,
) -> None:
    """Which steps' recorded outputs are stale (code, parameters or data changed), without
    running anything. Exit 1 when any is.

    \b
    Example:
      loopml status pipelines.py:churn --param C=0.5
    """
    from loopml.pipeline import load_pipeline
    from loopml.workspace import workspace

    pipeline = load_pipeline(target)
    params = _params(pipeline, param)
    with workspace() as ws:
        found = pipeline.status(workspace=ws, **params)
    if as_json:
        print_json([vars(s) for s in found])
    else:
        for step in found:
            state = "fresh" if step.fresh else "STALE"
            typer.echo(f"  {step.name:<24} {state:<6} {'; '.join(step.reasons)}")
    if any(not step.fresh for step in found):
        raise typer.Exit(PIPELINE_FAILED)


def _params(pipeline: Pipeline, given: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs, each value read as the parameter's annotated type."""
    from loopml.errors import InvalidInput

    params: dict[str, Any] = {}
    for text in given:
        name, sep, raw = text.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--param {text!r} is not NAME=VALUE; e.g. --param C=0.5")
        parameter = pipeline.signature.parameters.get(name)
        if parameter is None:
            known = ", ".join(pipeline.signature.parameters) or "none"
            raise InvalidInput(
                f"pipeline {pipeline.name!r} has no parameter {name!r}; its parameters are: "
                f"{known}",
                field=name,
            )
        params[name] = _value(name, raw, parameter.annotation, parameter.default)
    return params


def _value(name: str, raw: str, annotation: Any, default: Any) -> Any:
    from loopml.errors import InvalidInput

    unannotated = annotation is inspect.Parameter.empty
    kind = annotation if isinstance(annotation, type) and not unannotated else None
    if isinstance(annotation, str):
        kind = {"int": int, "float": float, "bool": bool, "str": str}.get(annotation)
    if kind is None and default is not None and not isinstance(default, type):
        kind = type(default) if type(default) in (int, float, bool, str) else None
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if kind in (int, float, str):
            return kind(raw)
        return json.loads(raw)
    except ValueError:
        if kind is None:
            return raw  # not JSON: take it as text
        example = {int: "1", float: "0.5", bool: "true", str: "text"}.get(kind, "<JSON>")
        raise InvalidInput(
            f"--param {name}={raw}: {raw!r} is not of type {kind.__name__}; give e.g. "
            f"--param {name}={example}",
            field=name,
        ) from None
