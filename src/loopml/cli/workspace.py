"""Workspace commands: init, info, migrate, verify."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import typer

from loopml.errors import InvalidInput


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("info")(info)
    app.command("migrate")(migrate)
    app.command("verify")(verify)


def init(
    path: Path = typer.Argument(Path("."), help="Folder to make the workspace in."),
    store_url: str = typer.Option(
        None, "--store-url", help="Metadata store, e.g. postgresql://user@host/db."
    ),
    artifacts_url: str = typer.Option(
        None, "--artifacts-url", help="Artifact store, e.g. s3://bucket/prefix."
    ),
    artifacts_option: list[str] = typer.Option(
        [],
        "--artifacts-option",
        metavar="KEY=VALUE",
        help="A storage option of the artifacts URL, e.g. endpoint_url=http://host:9000 "
        "(repeatable; written to [artifacts.options]).",
    ),
) -> None:
    """Make a workspace: loopml.toml, a SQLite store and an artifacts folder in .loopml/."""
    from loopml.workspace import init as make

    options = dict(_option(text) for text in artifacts_option)
    with make(
        path, store_url=store_url, artifacts_url=artifacts_url, artifacts_options=options
    ) as ws:
        typer.echo(f"made a loopml workspace in {ws.root}")
        typer.echo(f"  store:     {ws.store.url}")
        typer.echo(f"  artifacts: {ws.artifacts.location}")


def _option(text: str) -> tuple[str, str | int | float | bool]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(
            f"--artifacts-option {text!r} is not KEY=VALUE; write it as, e.g., "
            "--artifacts-option endpoint_url=http://127.0.0.1:9000"
        )
    value: str | int | float | bool = raw
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        with contextlib.suppress(ValueError):
            value = float(raw) if "." in raw else int(raw)
    return key.strip(), value


def info(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Where the store and artifacts live, the schema version and record counts."""
    from loopml._version import __version__
    from loopml.workspace import workspace

    with workspace() as ws:
        store_info = ws.store.info()
        data = {
            "loopml": __version__,
            "settings": ws.settings.source,
            "store": store_info.url,
            "backend": store_info.backend,
            "schema": store_info.schema_revision,
            "artifacts": ws.artifacts.location,
            "counts": store_info.counts,
        }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key in ("loopml", "settings", "store", "backend", "schema", "artifacts"):
        table.add_row(key, str(data[key]))
    table.add_row("records", ", ".join(f"{n:,} {name}" for name, n in store_info.counts.items()))
    Console().print(table)


def migrate() -> None:
    """Upgrade the workspace's metadata store to this loopml's schema."""
    from loopml.store import open_store
    from loopml.workspace import workspace

    with workspace() as ws, open_store(ws.settings.store_url, migrate=True) as store:
        typer.echo(f"store {store.url} is at schema {store.info().schema_revision}")


def verify() -> None:
    """Check that every blob any record points to (its data, a dataset's profile, a
    model's copies, a folder's files) is present and matches its digest."""
    from loopml._verify import verify_workspace
    from loopml.workspace import workspace

    with workspace() as ws:
        found = verify_workspace(ws)
    for damage in found.damage:
        typer.echo(damage.message, err=True)
    damaged = found.damaged_records
    typer.echo(f"checked {found.records} artifacts: {damaged} damaged")
    if damaged:
        raise typer.Exit(1)
