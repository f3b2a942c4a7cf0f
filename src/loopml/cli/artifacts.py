"""`loopml artifacts`: record files as versioned artifacts, list them, get them back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from loopml.cli._options import FORCE, JSON, example
from loopml.cli._output import Column, artifact_json, print_json, print_table

if TYPE_CHECKING:
    from loopml.errors import NotFound
    from loopml.store import MetadataStore

app = typer.Typer(
    help="Record files as versioned artifacts, list them and get them back.",
    epilog=example(
        "loopml artifacts put notes.md --name release-notes",
        "loopml artifacts get release-notes@v2 notes.md",
    ),
    no_args_is_help=True,
)

KIND = typer.Option(
    "file", "--kind", metavar="KIND", help="Artifact kind, e.g. file, report, dataset."
)
PUT_KIND = typer.Option(
    "file",
    "--kind",
    metavar="KIND",
    help="A kind of your own, e.g. file, notes; loopml's own kinds (dataset, model, "
    "report, ...) are made by their own commands.",
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="artifacts")


@app.command("put")
def put(
    path: Path = typer.Argument(..., metavar="FILE", help="File to store."),
    name: str = typer.Option(
        ..., "--name", metavar="NAME", help="Artifact name; each put adds a version."
    ),
    kind: str = PUT_KIND,
    as_json: bool = JSON,
) -> None:
    """Store a file as the next version of NAME (unless it equals the latest).

    \b
    Example:
      loopml artifacts put notes.md --name release-notes
    """
    from loopml.workspace import workspace

    with workspace() as ws:
        artifact = ws.add_file(
            path, name=name, kind=kind, metadata={"source": str(path.absolute())}
        )
    if as_json:
        print_json(artifact_json(artifact))
        return
    typer.echo(f"{kind} {artifact.ref}  {artifact.size:,} bytes  blake3:{artifact.digest[:16]}")


@app.command("get")
def get(
    ref: str = typer.Argument(..., metavar="REF", help="NAME, NAME@v3, NAME@latest, NAME@ALIAS."),
    dest: Path = typer.Argument(
        ..., metavar="DEST", help="File to write (or a folder to write into)."
    ),
    kind: str = KIND,
    force: bool = FORCE,
    as_json: bool = JSON,
) -> None:
    """Write an artifact's bytes to DEST, checked against their digest. A file there
    with other content is replaced only with --force; a link, FIFO or device never.

    \b
    Example:
      loopml artifacts get release-notes@v2 notes.md
      loopml artifacts get churn@v1 churn.html --kind report
    """
    from loopml.errors import NotFound
    from loopml.refs import resolve
    from loopml.workspace import workspace

    with workspace() as ws:
        try:
            artifact = resolve(ws.store, kind, ref)
        except NotFound as error:
            raise _with_other_kinds(ws.store, kind, ref, error) from None
        if dest.is_dir():
            dest = dest / str(artifact.metadata.get("file_name", artifact.name.split("/")[-1]))
        ws.artifacts.get_file(
            artifact.digest, dest, force=force, what=f"{artifact.kind} {artifact.ref}"
        )
    if as_json:
        print_json({**artifact_json(artifact), "path": str(dest)})
        return
    typer.echo(f"{kind} {artifact.ref} -> {dest}")


def _with_other_kinds(store: MetadataStore, kind: str, ref: str, error: NotFound) -> NotFound:
    """``error``, saying which kinds to give --kind when ``kind`` has nothing of the
    name and other kinds do (``loopml data validate`` keeps its report as a
    ``report``, not a ``file``)."""
    from loopml.errors import NotFound
    from loopml.refs import parse

    name, _ = parse(ref)
    if store.find_artifacts(kind=kind, name=name, limit=1):
        return error
    kinds = sorted({artifact.kind for artifact in store.find_artifacts(name=name)})
    if not kinds:
        return error
    if len(kinds) == 1:
        hint = f"there is a {kinds[0]} {name!r}: add --kind {kinds[0]}"
    else:
        options = [f"--kind {other}" for other in kinds]
        hint = (
            f"there are {', '.join(kinds)} artifacts {name!r}: add "
            f"{', '.join(options[:-1])} or {options[-1]}"
        )
    return NotFound(f"{error}; {hint}", field=error.field)


@app.command("list")
def list_(
    kind: str = typer.Option(None, "--kind", metavar="KIND", help="Only this kind."),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Only this name."),
    as_json: bool = JSON,
) -> None:
    """List artifact versions.

    \b
    Example:
      loopml artifacts list --kind report
    """
    from loopml.workspace import workspace

    with workspace() as ws:
        found = ws.store.find_artifacts(kind=kind, name=name)
    if as_json:
        print_json([artifact_json(artifact) for artifact in found])
        return
    if not found:
        typer.echo("no artifacts" + (" match" if kind or name else ""))
        return
    columns = [
        Column("kind"),
        Column("ref", keep=True),
        Column("size", justify="right", drop=2),
        Column("digest", drop=3),
        Column("created", drop=1),
    ]
    rows = [
        (
            artifact.kind,
            artifact.ref,
            f"{artifact.size:,}",
            artifact.digest[:16],
            artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        for artifact in found
    ]
    print_table(columns, rows)
