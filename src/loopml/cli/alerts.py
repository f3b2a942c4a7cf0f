"""`loopml alerts`: what a person should know — failed validations, gates, drift."""

from __future__ import annotations

import json

import typer

from loopml.cli._output import console


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts)


def alerts(
    kind: str = typer.Option(None, "--kind", help="Only this kind, e.g. validation."),
    limit: int = typer.Option(20, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON, with the evidence."),
) -> None:
    """List alerts, newest first, with what they are about."""
    from loopml.workspace import workspace

    with workspace() as ws:
        found = ws.store.find_alerts(kind=kind, limit=limit)
    if as_json:
        rows = [{**vars_of(alert), "created_at": alert.created_at.isoformat()} for alert in found]
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("created", "severity", "kind", "message")
    for alert in found:
        table.add_row(
            alert.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            alert.severity.value,
            alert.kind,
            alert.message,
        )
    console().print(table if found else "no alerts")


def vars_of(alert: object) -> dict[str, object]:
    fields = ("id", "kind", "severity", "message", "evidence", "run_id", "artifact_id")
    return {name: getattr(alert, name) for name in fields}
