"""`loopml export`: a pipeline as another orchestrator's definition (an Airflow DAG file)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from loopml.cli.pipeline import PARAM, TARGET, _params

app = typer.Typer(
    help="Write a pipeline as another orchestrator's definition.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="export")


@app.command("airflow")
def airflow(
    target: str = TARGET,
    param: list[str] = PARAM,
    output: Path = typer.Option(
        None, "--output", "-o", help="The DAG file to write (default: DAG_ID.py here)."
    ),
    dag_id: str = typer.Option(None, "--dag-id", help="The DAG's id (default: loopml_NAME)."),
    schedule: str = typer.Option(
        None,
        "--schedule",
        metavar="CRON",
        help="A cron expression or a preset such as @daily (default: none, run when triggered).",
    ),
    loopml_command: str = typer.Option(
        None,
        "--loopml-command",
        metavar="COMMAND",
        help="How the tasks start loopml (default: this install's loopml, by absolute path).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite the output file."),
) -> None:
    """Write an Airflow DAG file with one task per step. Each task runs its step with
    `loopml run --until STEP` in this workspace, so re-running a task is a cache hit."""
    from loopml._io import write_text_atomic
    from loopml.config import find_settings
    from loopml.errors import InvalidInput
    from loopml.pipeline import load_pipeline
    from loopml.pipeline._airflow import default_dag_id, export_airflow

    pipeline = load_pipeline(target)
    params = _params(pipeline, param)
    settings = find_settings()  # the tasks run in this workspace; say so now if there is none
    root = settings.root if settings.root is not None else Path.cwd()
    command = loopml_command or shlex.quote(str(Path(sys.executable).with_name("loopml")))
    text = export_airflow(
        pipeline,
        params,
        workspace_root=root,
        loopml_command=command,
        dag_id=dag_id,
        schedule=schedule,
    )
    path = output if output is not None else Path(f"{dag_id or default_dag_id(pipeline)}.py")
    if path.exists() and not force:
        raise InvalidInput(f"{path} exists already; give --force to overwrite it, or --output FILE")
    write_text_atomic(path, text, fix="give --output a path in a folder you can write to")
    steps = len(pipeline.graph(**params).nodes)
    typer.echo(f"wrote Airflow DAG {dag_id or default_dag_id(pipeline)} ({steps} tasks) to {path}")
    typer.echo(f"copy it to Airflow's dags folder; each task runs its step in {root}")
