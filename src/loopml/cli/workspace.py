"""Workspace commands: init, info, migrate, verify."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from loopml.cli._options import JSON
from loopml.cli._output import console, print_json
from loopml.errors import InvalidInput


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("info")(info)
    app.command("migrate")(migrate)
    app.command("verify")(verify)


def init(
    path: Path = typer.Argument(
        Path("."), metavar="FOLDER", help="Folder to make the workspace in."
    ),
    store_url: str = typer.Option(
        None, "--store-url", metavar="URL", help="Metadata store, e.g. postgresql://user@host/db."
    ),
    artifacts_url: str = typer.Option(
        None, "--artifacts-url", metavar="URL", help="Artifact store, e.g. s3://bucket/prefix."
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
        "store) that the settings found from FOLDER name (loopml.toml upward, "
        "LOOPML_STORE_URL and LOOPML_ARTIFACTS_URL), if it is not there yet.",
    ),
    as_json: bool = JSON,
) -> None:
    """Make a workspace: loopml.toml, a SQLite store and an artifacts folder in .loopml/.
    Only init makes a store; every other command says when the store is missing.

    \b
    Example:
      loopml init
      loopml init --store-url postgresql://ml@db/loopml --artifacts-url s3://ml/loopml
      LOOPML_STORE_URL=postgresql://ml@db/loopml loopml init --stores-only
    """
    from loopml.workspace import init as make

    options = dict(_option(text) for text in artifacts_option)
    if stores_only:
        _make_stores(path, given=bool(store_url or artifacts_url or options), as_json=as_json)
        return
    with make(
        path, store_url=store_url, artifacts_url=artifacts_url, artifacts_options=options
    ) as ws:
        if as_json:
            print_json({"root": ws.root, "store": ws.store.url, "artifacts": ws.artifacts.location})
            return
        typer.echo(f"made a loopml workspace in {ws.root}")
        typer.echo(f"  store:     {ws.store.url}")
        typer.echo(f"  artifacts: {ws.artifacts.location}")


def _make_stores(path: Path, *, given: bool, as_json: bool) -> None:
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
        if as_json:
            print_json({"store": ws.store.url, "made": made, "artifacts": ws.artifacts.location})
            return
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


def info(as_json: bool = JSON) -> None:
    """Where the store and artifacts live, the schema version and record counts.

    \b
    Example:
      loopml info
    """
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
        print_json(data)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # a long path or URL wraps, never cut
    for key in ("loopml", "settings", "store", "backend", "schema", "artifacts"):
        table.add_row(key, Text(str(data[key])))
    table.add_row("records", ", ".join(f"{n:,} {name}" for name, n in store_info.counts.items()))
    console().print(table)


def migrate(as_json: bool = JSON) -> None:
    """Upgrade the workspace's metadata store to this loopml's schema.

    \b
    Example:
      loopml migrate
    """
    from loopml.workspace import workspace

    with workspace() as ws:  # opening a workspace's store upgrades its schema
        store = ws.store
        revision = store.info().schema_revision
        if as_json:
            print_json({"store": store.url, "schema": revision})
            return
        typer.echo(f"store {store.url} is at schema {revision}")


def verify(as_json: bool = JSON) -> None:
    """Check that every blob any record points to (its data, a dataset's profile, a
    model's copies, a folder's files) is present and matches its digest. Exit 0:
    every blob checked and whole; 1: damage found (each named on stderr); 2: could
    not check (a store unreachable, a bad setting), so the blobs are not known to be
    whole.

    \b
    Example:
      loopml verify
    """
    from loopml._verify import verify_workspace
    from loopml.workspace import workspace

    with workspace() as ws:
        found = verify_workspace(ws)
    for damage in found.damage:
        typer.echo(damage.message, err=True)
    damaged = found.damaged_records
    if as_json:
        print_json(
            {
                "checked": found.records,
                "blobs": found.blobs,
                "damaged": [
                    {
                        "record": d.record,
                        "part": d.part,
                        "digest": d.digest,
                        "problem": d.problem,
                        "error": d.message,
                    }
                    for d in found.damage
                ],
            }
        )
    else:
        typer.echo(f"checked {found.records} artifacts: {damaged} damaged")
    if damaged:
        raise typer.Exit(1)
