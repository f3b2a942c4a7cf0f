"""`loopml artifacts`: record files as versioned artifacts, list them, get them back."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Record files as versioned artifacts, list them and get them back.",
    no_args_is_help=True,
)

KIND = typer.Option("file", "--kind", help="Artifact kind, e.g. file, report, dataset.")
PUT_KIND = typer.Option(
    "file",
    "--kind",
    help="A kind of your own, e.g. file, notes; loopml's own kinds (dataset, model, "
    "report, ...) are made by their own commands.",
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="artifacts")


@app.command("put")
def put(
    path: Path = typer.Argument(..., help="File to store."),
    name: str = typer.Option(..., "--name", help="Artifact name; each put adds a version."),
    kind: str = PUT_KIND,
) -> None:
    """Store a file as the next version of NAME (unless it equals the latest)."""
    from loopml.workspace import workspace

    with workspace() as ws:
        artifact = ws.add_file(
            path, name=name, kind=kind, metadata={"source": str(path.absolute())}
        )
    typer.echo(f"{kind} {artifact.ref}  {artifact.size:,} bytes  blake3:{artifact.digest[:16]}")


@app.command("get")
def get(
    ref: str = typer.Argument(..., help="NAME, NAME@v3, NAME@latest, NAME@ALIAS."),
    dest: Path = typer.Argument(..., help="File to write (or a folder to write into)."),
    kind: str = KIND,
) -> None:
    """Write an artifact's bytes to DEST, checked against their digest."""
    from loopml.refs import resolve
    from loopml.workspace import workspace

    with workspace() as ws:
        artifact = resolve(ws.store, kind, ref)
        if dest.is_dir():
            dest = dest / str(artifact.metadata.get("file_name", artifact.name.split("/")[-1]))
        ws.artifacts.get_file(artifact.digest, dest, what=f"{artifact.kind} {artifact.ref}")
    typer.echo(f"{kind} {artifact.ref} -> {dest}")


@app.command("list")
def list_(
    kind: str = typer.Option(None, "--kind", help="Only this kind."),
    name: str = typer.Option(None, "--name", help="Only this name."),
) -> None:
    """List artifact versions."""
    from rich.console import Console
    from rich.table import Table

    from loopml.workspace import workspace

    with workspace() as ws:
        found = ws.store.find_artifacts(kind=kind, name=name)
    table = Table("kind", "ref", "size", "digest", "created")
    for artifact in found:
        table.add_row(
            artifact.kind,
            artifact.ref,
            f"{artifact.size:,}",
            artifact.digest[:16],
            artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    Console().print(table)
