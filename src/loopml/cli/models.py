"""`loopml models`: the model registry — versions, what each one is and where it comes
from, and the champion moved by promotion and rollback, with its history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from loopml._ids import short_id
from loopml.cli._output import console

if TYPE_CHECKING:
    from loopml.registry import AliasMove, ModelVersion, RegisteredModel
    from loopml.workspace import Workspace

app = typer.Typer(
    help="Registered models: versions, lineage, promotion and rollback.", no_args_is_help=True
)
REF = typer.Argument(..., help="NAME@v3, NAME@latest, NAME@champion, NAME@blake3:PREFIX ...")
NAME = typer.Argument(..., help="Model name.")
REASON = typer.Option(None, "--reason", help="Why: kept in the model's alias history.")
JSON = typer.Option(False, "--json", help="Print JSON.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")


@app.command("list")
def list_models(
    name: str = typer.Argument(None, help="A model name: list its versions."),
    as_json: bool = JSON,
) -> None:
    """Models with their latest version and aliases, or the versions of NAME."""
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        if name is not None:
            _print_versions(registry.versions(name, workspace=ws), as_json)
            return
        found = registry.models(workspace=ws)
    if as_json:
        rows = [
            {"name": m.name, "versions": m.count, "latest": m.latest.ref, "aliases": m.aliases}
            for m in found
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not found:
        console().print("no models; register one with loopml.registry.register(model, name)")
        return
    _print_models(found)


def _print_models(found: list[RegisteredModel]) -> None:
    from rich.table import Table

    table = Table("model", "latest", "versions", "flavor", "aliases", "registered")
    for model in found:
        table.add_row(
            model.name,
            f"v{model.latest.version}",
            str(model.count),
            model.latest.flavor or "",
            _aliases(model.aliases),
            model.latest.artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console().print(table)


def _print_versions(found: list[ModelVersion], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([version.to_dict() for version in found], indent=2))
        return
    from rich.table import Table

    table = Table("version", "registered", "flavor", "aliases", "evaluation", "size", "digest")
    for version in found:
        table.add_row(
            version.ref,
            version.artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            version.flavor or "",
            ", ".join(version.aliases),
            short_id(version.evaluation_id) if version.evaluation_id else "",
            f"{version.artifact.size:,}",
            version.artifact.digest[:12],
        )
    console().print(table)


@app.command("show")
def show(ref: str = REF, as_json: bool = JSON) -> None:
    """One version: flavor, signature, libraries, aliases, evaluation, the metrics of
    the run that made it, and its lineage back to the data."""
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        version = registry.get(ref, workspace=ws)
        lineage = registry.lineage(version.ref, workspace=ws)
        made_by = lineage.made_by
        metrics = ws.store.latest_metrics([made_by.id]).get(made_by.id, {}) if made_by else {}
        evaluation = _evaluation(ws, version.evaluation_id)
    detail = {
        **version.to_dict(),
        "evaluation": evaluation,
        "run": None if made_by is None else {"id": made_by.id, "name": made_by.name},
        "metrics": metrics,
        "datasets": lineage.datasets(),
        "lineage": lineage.to_dict(),
    }
    if as_json:
        typer.echo(json.dumps(detail, indent=2, default=str))
        return
    _print_detail(version, detail, lineage.render())


def _evaluation(ws: Workspace, evaluation_id: str | None) -> dict[str, Any] | None:
    """The evaluation's ref and, as loopml.evaluation records them, its primary metric."""
    from loopml.errors import NotFound

    if evaluation_id is None:
        return None
    try:
        found = ws.store.get_artifact(evaluation_id)
    except NotFound:  # an id written into the metadata by hand, not by register
        return {"id": evaluation_id, "ref": None, "primary": None, "value": None}
    meta = found.metadata
    return {
        "id": found.id,
        "ref": found.ref,
        "primary": meta.get("primary"),
        "value": meta.get("value"),
    }


def _print_detail(version: ModelVersion, detail: dict[str, Any], lineage: str) -> None:
    from rich.table import Table

    out = console()
    artifact = version.artifact
    out.print(
        f"model {version.ref}  {version.flavor} ({detail['serialization']})  "
        f"{artifact.size:,} bytes  blake3:{artifact.digest[:16]}"
    )
    head = Table.grid(padding=(0, 2))
    head.add_row("registered", artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    head.add_row("type", str(detail["python_type"]))
    head.add_row("aliases", ", ".join(version.aliases) or "-")
    evaluation = detail["evaluation"]
    if evaluation is not None:
        score = ""
        if evaluation["primary"] and isinstance(evaluation["value"], int | float):
            score = f": {evaluation['primary']} {evaluation['value']:.4g}"
        where = evaluation["ref"] or "not in this workspace"
        head.add_row("evaluation", f"{where}{score} (id {evaluation['id']})")
    else:
        head.add_row("evaluation", "-")
    libraries = ", ".join(f"{k} {v}" for k, v in sorted(version.libraries.items()))
    head.add_row("libraries", libraries or "-")
    out.print(head)
    signature = version.signature
    if signature is not None:
        columns = Table("column", "type", "dtype")
        for column in signature.inputs:
            columns.add_row(column.name, column.type, column.dtype)
        out.print("signature, input:")
        out.print(columns)
        if signature.output is not None:
            output = signature.output
            classes = "" if output.classes is None else f", classes {list(output.classes)}"
            out.print(
                f"signature, output: {output.type} {list(output.shape)} ({output.dtype}){classes}"
            )
    else:
        out.print("signature: none recorded (register with signature_from=the training data)")
    if detail["metrics"]:
        run = detail["run"]
        metrics = Table("metric", "value")
        for key, value in sorted(detail["metrics"].items()):
            metrics.add_row(key, f"{value:.6g}")
        out.print(f"metrics of run {short_id(run['id'])} ({run['name']}):")
        out.print(metrics)
    out.print(lineage, markup=False, highlight=False)


@app.command("history")
def history(name: str = NAME, as_json: bool = JSON) -> None:
    """Every alias change of a model, newest first: who, when, from which version to
    which, and why."""
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        moves = registry.history(name, workspace=ws)
    if as_json:
        typer.echo(json.dumps([move.to_dict() for move in moves], indent=2))
        return
    if not moves:
        console().print(
            f"model {name!r} has no alias changes yet; promote a version with "
            f"loopml models promote {name}@vN"
        )
        return
    from rich.table import Table

    table = Table("when", "alias", "change", "by", "reason")
    for move in moves:
        table.add_row(
            move.at.strftime("%Y-%m-%d %H:%M:%S"),
            move.alias,
            _change(move),
            move.actor,
            move.reason or "",
        )
    console().print(table)


def _change(move: AliasMove) -> str:
    if move.action == "set":
        return f"set to v{move.to_version}"
    if move.action == "deleted":
        return f"deleted (was v{move.from_version})"
    return f"v{move.from_version} -> v{move.to_version}"


@app.command("promote")
def promote(ref: str = REF, reason: str = REASON) -> None:
    """Make a version the champion; the champion it replaces becomes `previous`."""
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        before = registry.get(ref, workspace=ws)
        name = before.name
        old = _champion(ws, name)
        promoted = registry.promote(before.ref, reason=reason, workspace=ws)
    if old == promoted.ref:
        typer.echo(f"{promoted.ref} is the champion already; nothing changed")
        return
    was = f" (was {old}, now previous)" if old else ""
    typer.echo(f"{promoted.ref} is now the champion of {name}{was}")


@app.command("rollback")
def rollback(name: str = NAME, reason: str = REASON) -> None:
    """Make the previous champion the champion again (the current one becomes
    `previous`, so a second rollback undoes the first)."""
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        old = _champion(ws, name)
        champion = registry.rollback(name, reason=reason, workspace=ws)
    typer.echo(f"rolled back {name}: {champion.ref} is the champion again (was {old})")


def _champion(ws: Workspace, name: str) -> str | None:
    from loopml.registry._versions import CHAMPION, alias_target

    found = alias_target(ws.store, name, CHAMPION)
    return None if found is None else ws.store.get_artifact(found).ref


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{alias}=v{version}" for alias, version in sorted(aliases.items()))
