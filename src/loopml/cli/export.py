"""`loopml export`: a pipeline as another orchestrator's definition (an Airflow DAG file)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from loopml.cli._options import JSON, example
from loopml.cli._output import print_json
from loopml.cli.pipeline import PARAM, TARGET, _params

app = typer.Typer(
    help="Write a pipeline as another orchestrator's definition.",
    epilog=example("loopml export airflow pipelines.py:churn --schedule @daily"),
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="export")


@app.command("airflow")
def airflow(
    target: str = TARGET,
    param: list[str] = PARAM,
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="The DAG file to write (default: DAG_ID.py here).",
    ),
    dag_id: str = typer.Option(
        None, "--dag-id", metavar="ID", help="The DAG's id (default: loopml_NAME)."
    ),
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
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace an output file with other content (never a link, FIFO or device).",
    ),
    as_json: bool = JSON,
) -> None:
    """Write an Airflow DAG file with one task per step. Each task runs its step with
    `loopml run --until STEP` in this workspace, so re-running a task is a cache hit.

    \b
    Example:
      loopml export airflow pipelines.py:churn --schedule @daily -o dags/churn.py
    """
    from loopml._user_files import write_user_text
    from loopml.config import find_settings
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
    name = dag_id or default_dag_id(pipeline)
    path = output if output is not None else Path(f"{name}.py")
    written = write_user_text(path, text, what=f"Airflow DAG {name}", force=force)
    steps = len(pipeline.graph(**params).nodes)
    if as_json:
        print_json(
            {"dag_id": name, "path": path, "tasks": steps, "workspace": root, "written": written}
        )
        return
    if written:
        typer.echo(f"wrote Airflow DAG {name} ({steps} tasks) to {path}")
    else:
        typer.echo(f"Airflow DAG {name} ({steps} tasks) in {path} is up to date: left as it is")
    typer.echo(f"copy it to Airflow's dags folder; each task runs its step in {root}")
