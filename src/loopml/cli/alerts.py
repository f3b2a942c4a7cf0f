"""`loopml alerts`: what a person should know — failed validations, gates, drift."""

from __future__ import annotations

import typer

from loopml.cli._options import JSON
from loopml.cli._output import Column, print_json, print_table


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts)


def alerts(
    kind: str = typer.Option(
        None, "--kind", metavar="KIND", help="Only this kind, e.g. validation."
    ),
    limit: int = typer.Option(
        20, "--limit", metavar="N", min=1, help="At most this many, newest first."
    ),
    as_json: bool = JSON,
) -> None:
    """List alerts, newest first, with what they are about (--json: with the evidence).

    \b
    Example:
      loopml alerts --kind validation --limit 5
    """
    from loopml.workspace import workspace

    with workspace() as ws:
        found = ws.store.find_alerts(kind=kind, limit=limit)
    if as_json:
        print_json([{**vars_of(alert), "created_at": alert.created_at} for alert in found])
        return
    if not found:
        typer.echo("no alerts")
        return
    columns = [
        Column("created", drop=2),
        Column("severity", drop=1),
        Column("kind"),
        Column("message"),
    ]
    rows = [
        (
            alert.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            alert.severity.value,
            alert.kind,
            alert.message,
        )
        for alert in found
    ]
    print_table(columns, rows)


def vars_of(alert: object) -> dict[str, object]:
    fields = ("id", "kind", "severity", "message", "evidence", "run_id", "artifact_id")
    return {name: getattr(alert, name) for name in fields}
