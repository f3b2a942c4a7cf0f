"""`loopml models`: the model registry — versions, what each one is and where it comes
from, and the champion moved by promotion and rollback, with its history."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from loopml._ids import short_id
from loopml.cli._model_detail import print_detail
from loopml.cli._options import JSON, example
from loopml.cli._output import Column, console, print_json, print_table

if TYPE_CHECKING:
    from loopml.registry import AliasMove, ModelVersion, RegisteredModel
    from loopml.workspace import Workspace

app = typer.Typer(
    help="Registered models: versions, lineage, promotion and rollback.",
    epilog=example("loopml models list churn", "loopml models promote churn@v3 --reason TEXT"),
    no_args_is_help=True,
)
REF = typer.Argument(
    ...,
    metavar="REF",
    help="A version: NAME@v3, NAME@latest, NAME@champion, NAME@blake3:PREFIX ...",
)
NAME = typer.Argument(..., metavar="NAME", help="Model name.")
REASON = typer.Option(
    None, "--reason", metavar="TEXT", help="Why: kept in the model's alias history."
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")


@app.command("list")
def list_models(
    name: str = typer.Argument(None, metavar="[NAME]", help="A model name: list its versions."),
    as_json: bool = JSON,
) -> None:
    """Models with their latest version and aliases, or the versions of NAME.

    \b
    Example:
      loopml models list
      loopml models list churn
    """
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
        print_json(rows)
        return
    if not found:
        typer.echo("no models; register one with loopml.register(model, name)")
        return
    _print_models(found)


def _print_models(found: list[RegisteredModel]) -> None:
    columns = [
        Column("model", keep=True),
        Column("latest", keep=True),
        Column("versions", justify="right", drop=2),
        Column("flavor", drop=3),
        Column("aliases"),
        Column("registered", drop=1),
    ]
    rows = [
        (
            model.name,
            f"v{model.latest.version}",
            str(model.count),
            model.latest.flavor or "",
            _aliases(model.aliases),
            model.latest.artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        for model in found
    ]
    print_table(columns, rows)


def _print_versions(found: list[ModelVersion], as_json: bool) -> None:
    if as_json:
        print_json([version.to_dict() for version in found])
        return
    columns = [
        Column("version", keep=True),
        Column("registered", drop=3),
        Column("flavor", drop=4),
        Column("aliases"),
        Column("evaluation", keep=True),
        Column("size", justify="right", drop=2),
        Column("digest", drop=5),
    ]
    rows = [
        (
            version.ref,
            version.artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            version.flavor or "",
            ", ".join(version.aliases),
            short_id(version.evaluation_id) if version.evaluation_id else "",
            f"{version.artifact.size:,}",
            version.artifact.digest[:12],
        )
        for version in found
    ]
    print_table(columns, rows)


@app.command("show")
def show(ref: str = REF, as_json: bool = JSON) -> None:
    """One version: flavor, signature, libraries, aliases, evaluation, the metrics of
    the run that made it, and its lineage back to the data.

    \b
    Example:
      loopml models show churn@champion
    """
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        found = registry.model_detail(ref, workspace=ws)
    detail = found.to_dict()
    if as_json:
        print_json(detail)
        return
    print_detail(found.version, detail, found.lineage.render())


@app.command("diff")
def diff(
    before: str = typer.Argument(..., metavar="REF", help="The version to compare from: NAME@v2."),
    after: str = typer.Argument(..., metavar="REF", help="The version to compare with: NAME@v3."),
    as_json: bool = JSON,
) -> None:
    """What changed between two versions: data versions, params, code, environment,
    evaluation metrics and slices, and the rows one gets right and the other wrong.

    \b
    Example:
      loopml models diff churn@v2 churn@v3
    """
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        found = registry.diff(before, after, workspace=ws)
    if as_json:
        print_json(found.to_dict())
        return
    console().print(found.render(), markup=False, highlight=False)


@app.command("reproduce")
def reproduce(
    ref: str = REF,
    data: list[str] = typer.Option(
        None,
        "--data",
        metavar="REF",
        help="Use this dataset version in place of the recorded one: NAME@vN.",
    ),
    on: str = typer.Option(
        None,
        "--on",
        metavar="REF",
        help="Compare predictions on this dataset version (default: the rows "
        "the model was evaluated on).",
    ),
    as_json: bool = JSON,
) -> None:
    """Rebuild a model from its lineage (recorded code, params and data versions, every
    step run again) and report whether its predictions are identical, or what differed.
    Exit 0 when identical, 1 when not.

    \b
    Example:
      loopml models reproduce churn@v3
      loopml models reproduce churn@v3 --data churn@v5 --on churn-eval@v2
    """
    from loopml import registry
    from loopml.refs import parse
    from loopml.workspace import workspace

    given = {parse(item).name: item for item in data or []}
    with workspace() as ws:
        found = registry.reproduce(ref, data=given, on=on, workspace=ws)
    if as_json:
        print_json(found.to_dict())
    else:
        console().print(found.render(), markup=False, highlight=False)
    if not found.identical:
        raise typer.Exit(1)


@app.command("history")
def history(name: str = NAME, as_json: bool = JSON) -> None:
    """Every alias change of a model, newest first: who, when, from which version to
    which, and why.

    \b
    Example:
      loopml models history churn
    """
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        moves = registry.history(name, workspace=ws)
    if as_json:
        print_json([move.to_dict() for move in moves])
        return
    if not moves:
        typer.echo(
            f"model {name!r} has no alias changes yet; promote a version with "
            f"loopml models promote {name}@vN"
        )
        return
    columns = [
        Column("when", drop=2),
        Column("alias", keep=True),
        Column("change", keep=True),
        Column("by", drop=1),
        Column("reason"),
    ]
    rows = [
        (
            move.at.strftime("%Y-%m-%d %H:%M:%S"),
            move.alias,
            _change(move),
            move.actor,
            move.reason or "",
        )
        for move in moves
    ]
    print_table(columns, rows)


def _change(move: AliasMove) -> str:
    if move.action == "set":
        return f"set to v{move.to_version}"
    if move.action == "deleted":
        return f"deleted (was v{move.from_version})"
    return f"v{move.from_version} -> v{move.to_version}"


@app.command("promote")
def promote(
    ref: str = REF,
    reason: str = REASON,
    force: bool = typer.Option(
        False,
        "--force",
        help="Promote a version whose gate failed, or that has none; needs --reason.",
    ),
    as_json: bool = JSON,
) -> None:
    """Make a version the champion; the champion it replaces becomes `previous`.

    The version's latest gate decision must have passed; otherwise give --force and
    --reason, which the alias history keeps.

    \b
    Example:
      loopml models promote churn@v3 --reason "beats v2 on May data"
    """
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        before = registry.get(ref, workspace=ws)
        name = before.name
        old = _champion(ws, name)
        promoted = registry.promote(before.ref, reason=reason, force=force, workspace=ws)
        moved = force and old != promoted.ref
        recorded = registry.history(name, workspace=ws)[0].reason if moved else None
    if as_json:
        print_json({**_moved(name, promoted.ref, old), "forced": recorded})
        return
    if old == promoted.ref:
        typer.echo(f"{promoted.ref} is the champion already; nothing changed")
        return
    was = f" (was {old}, now previous)" if old else ""
    typer.echo(f"{promoted.ref} is now the champion of {name}{was}")
    if recorded:
        typer.echo(f"recorded in the history: {recorded}")


@app.command("rollback")
def rollback(name: str = NAME, reason: str = REASON, as_json: bool = JSON) -> None:
    """Make the previous champion the champion again (the current one becomes
    `previous`, so a second rollback undoes the first).

    \b
    Example:
      loopml models rollback churn --reason "v3 errs on Sunday traffic"
    """
    from loopml import registry
    from loopml.workspace import workspace

    with workspace() as ws:
        old = _champion(ws, name)
        champion = registry.rollback(name, reason=reason, workspace=ws)
    if as_json:
        print_json(_moved(name, champion.ref, old))
        return
    typer.echo(f"rolled back {name}: {champion.ref} is the champion again (was {old})")


def _moved(name: str, champion: str, was: str | None) -> dict[str, object]:
    return {
        "model": name,
        "champion": champion,
        "previous": was if was != champion else None,
        "changed": was != champion,
    }


def _champion(ws: Workspace, name: str) -> str | None:
    from loopml.registry._versions import CHAMPION, alias_target

    found = alias_target(ws.store, name, CHAMPION)
    return None if found is None else ws.store.get_artifact(found).ref


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{alias}=v{version}" for alias, version in sorted(aliases.items()))
