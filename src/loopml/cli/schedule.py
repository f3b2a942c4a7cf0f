"""`loopml schedule`: run pipelines on an interval or a cron expression.

`run-due` is what a crontab line or the loop controller calls; it runs what is due
and records how each run went.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import typer

from loopml._ids import short_id
from loopml.cli._options import JSON, example
from loopml.cli._output import Column, print_json, print_table
from loopml.cli.pipeline import PARAM

if TYPE_CHECKING:
    from loopml.pipeline._schedule import ScheduledRun
    from loopml.store import Schedule

app = typer.Typer(
    help="Run pipelines on an interval or a cron expression: add, list, remove, run-due.",
    epilog=example(
        'loopml schedule add churn-nightly pipelines.py:churn --cron "0 3 * * *"',
        "loopml schedule run-due",
    ),
    no_args_is_help=True,
)

RUN_FAILED = 1


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="schedule")


@app.command("add")
def add(
    name: str = typer.Argument(
        ..., metavar="NAME", help="The schedule's name, e.g. churn-nightly."
    ),
    target: str = typer.Argument(
        ..., metavar="FILE.py[:NAME]", help="The pipeline, as path/to/file.py:name."
    ),
    every: str = typer.Option(
        None, "--every", metavar="SPEC", help="An interval: 30s, 15m, 1h, 1d, 2w, 1h30m."
    ),
    cron: str = typer.Option(
        None, "--cron", metavar="EXPR", help='A cron expression, e.g. "0 3 * * *".'
    ),
    param: list[str] = PARAM,
    timezone: str = typer.Option(
        "UTC", "--timezone", metavar="TZ", help="The timezone cron times are in."
    ),
    as_json: bool = JSON,
) -> None:
    """Record that a pipeline runs on a cadence, with these parameters.

    \b
    Example:
      loopml schedule add churn-nightly pipelines.py:churn --cron "0 3 * * *"
      loopml schedule add churn-hourly pipelines.py:churn --every 1h -p C=0.5
    """
    from loopml.cli.pipeline import _params
    from loopml.pipeline import load_pipeline
    from loopml.pipeline._schedule import add_schedule, check_cadence
    from loopml.refs import check_name
    from loopml.workspace import workspace

    check_name(name, "schedule name")
    check_cadence(every, cron, timezone)
    pipeline = load_pipeline(target)
    params = _params(pipeline, param)
    with workspace() as ws:
        added = add_schedule(
            name,
            target,
            every=every,
            cron=cron,
            params=params,
            timezone=timezone,
            workspace=ws,
            pipeline=pipeline,
        )
    if as_json:
        print_json(_as_dict(added))
        return
    typer.echo(
        f"schedule {added.name}: {added.target} {added.when}; next due {_local(added)}; "
        "run what is due with `loopml schedule run-due`"
    )


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """List schedules: what runs when, and how the last run went.

    \b
    Example:
      loopml schedule list
    """
    from loopml.workspace import workspace

    with workspace() as ws:
        found = ws.store.find_schedules()
    if as_json:
        print_json([_as_dict(s) for s in found])
        return
    if not found:
        typer.echo("no schedules; add one with `loopml schedule add`")
        return
    columns = [
        Column("name", keep=True),
        Column("target"),
        Column("when"),
        Column("next due", drop=2),
        Column("last run", drop=1),
        Column("last status", drop=3),
    ]
    rows = [
        (
            schedule.name,
            schedule.target + _params_text(schedule),
            schedule.when,
            _local(schedule) if schedule.enabled else "(disabled)",
            _last_run(schedule),
            "" if schedule.last_status is None else schedule.last_status.value,
        )
        for schedule in found
    ]
    print_table(columns, rows)


@app.command("remove")
def remove(
    name: str = typer.Argument(..., metavar="NAME", help="The schedule's name."),
    as_json: bool = JSON,
) -> None:
    """Remove a schedule. Its past runs are kept.

    \b
    Example:
      loopml schedule remove churn-nightly
    """
    from loopml.workspace import workspace

    with workspace() as ws:
        ws.store.delete_schedule(name)
    if as_json:
        print_json({"removed": name})
        return
    typer.echo(f"removed schedule {name}")


@app.command("run-due")
def run_due(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what is due."),
    as_json: bool = JSON,
) -> None:
    """Run each schedule that is due now, once, in turn; exit 1 if any failed. Call it
    from cron (e.g. every minute); runners at once never run one occurrence twice.

    \b
    Example (a crontab line):
      * * * * * cd /srv/ml && loopml schedule run-due
    """
    from loopml.pipeline._schedule import run_due as run_due_schedules
    from loopml.workspace import workspace

    with workspace() as ws:
        done = run_due_schedules(
            workspace=ws, dry_run=dry_run, on_done=_report_errors if as_json else _report
        )
    failed = sum(run.failed for run in done)
    if as_json:
        print_json({"dry_run": dry_run, "runs": [_run_dict(run) for run in done]})
        if failed and not dry_run:
            raise typer.Exit(RUN_FAILED)
        return
    if not done:
        typer.echo("nothing is due")
        return
    if dry_run:
        typer.echo(f"{len(done)} due (dry run: nothing ran)")
        return
    typer.echo(f"ran {len(done)}: {len(done) - failed} succeeded, {failed} failed")
    if failed:
        raise typer.Exit(RUN_FAILED)


def _report_errors(run: ScheduledRun) -> None:
    if run.traceback:
        sys.stderr.write(run.traceback)
    if run.error:
        sys.stderr.write(f"schedule {run.schedule} failed: {run.error}\n")


def _report(run: ScheduledRun) -> None:
    _report_errors(run)
    where = f"run {short_id(run.run_id)}" if run.run_id else ""
    typer.echo(f"  {run.schedule:<24} {run.status:<18} {run.target}  {where}".rstrip())


def _run_dict(run: ScheduledRun) -> dict[str, object]:
    fields = dataclasses.fields(run)
    row = {field.name: getattr(run, field.name) for field in fields if field.name != "traceback"}
    return {**row, "failed": run.failed}


def _local(schedule: Schedule, moment: datetime | None = None, *, seconds: bool = False) -> str:
    """A time in the schedule's timezone, e.g. ``2030-01-01 03:00 CET``."""
    from loopml._cadence import zone

    shown = (moment or schedule.next_due_at).astimezone(zone(schedule.timezone))
    return shown.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z")


def _last_run(schedule: Schedule) -> str:
    last = schedule.last_run_at
    return "" if last is None else _local(schedule, last, seconds=True)


def _params_text(schedule: Schedule) -> str:
    return "".join(f" {k}={json.dumps(v)}" for k, v in schedule.params.items())


def _as_dict(schedule: Schedule) -> dict[str, object]:
    row: dict[str, object] = {}
    for field in dataclasses.fields(schedule):
        value = getattr(schedule, field.name)
        row[field.name] = value.isoformat() if isinstance(value, datetime) else value
    row["when"] = schedule.when
    return row
