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
    stores_only: bool = typer.Option(
        False,
        "--stores-only",
        help="Write no loopml.toml: make the metadata store (and check the artifact "
        "store) that the settings found from PATH name (loopml.toml upward, "
        "LOOPML_STORE_URL and LOOPML_ARTIFACTS_URL), if it is not there yet.",
    ),
) -> None:
    """Make a workspace: loopml.toml, a SQLite store and an artifacts folder in .loopml/.

    Only init makes a store; every other command says when the store is missing.
    """
    from loopml.workspace import init as make

    options = dict(_option(text) for text in artifacts_option)
    if stores_only:
        _make_stores(path, given=bool(store_url or artifacts_url or options))
        return
    with make(
        path, store_url=store_url, artifacts_url=artifacts_url, artifacts_options=options
    ) as ws:
        typer.echo(f"made a loopml workspace in {ws.root}")
        typer.echo(f"  store:     {ws.store.url}")
        typer.echo(f"  artifacts: {ws.artifacts.location}")


def _make_stores(path: Path, *, given: bool) -> None:
    from loopml.errors import StoreMissing
    from loopml.workspace import workspace

    if given:
        raise InvalidInput(
            "--stores-only makes the stores the settings already name; give the URLs in "
            "loopml.toml or LOOPML_STORE_URL / LOOPML_ARTIFACTS_URL, not as options"
        )
    try:
        with workspace(path) as ws:
            ws.store.info()
            made = False
    except StoreMissing:
        made = True
    with workspace(path, create=True) as ws:
        ws.store.info()
        ws.artifacts.prepare()
        if made:
            typer.echo(f"made store {ws.store.url}")
        else:
            typer.echo(f"store {ws.store.url} exists already: left as it was")
        typer.echo(f"artifacts: {ws.artifacts.location}")


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
    from loopml.workspace import workspace

    with workspace() as ws:  # opening a workspace's store upgrades its schema
        typer.echo(f"store {ws.store.url} is at schema {ws.store.info().schema_revision}")


def verify() -> None:
    """Check that every artifact's blob is present and matches its digest.

    Exit 0: every blob checked and whole; 1: damage found (each damaged artifact is
    named on stderr); 2: could not check (a store unreachable, a bad setting), so the
    blobs are not known to be whole.
    """
    from loopml.errors import BlobMissing, DigestMismatch
    from loopml.workspace import workspace

    damaged = 0
    checked = 0
    with workspace() as ws:
        for artifact in ws.store.find_artifacts():
            if artifact.uri is not None:
                continue
            checked += 1
            try:
                ws.artifacts.verify(artifact.digest)
            except (BlobMissing, DigestMismatch) as error:
                damaged += 1
                typer.echo(f"{artifact.kind} {artifact.ref}: {error}", err=True)
    typer.echo(f"checked {checked} artifacts: {damaged} damaged")
    if damaged:
        raise typer.Exit(1)
