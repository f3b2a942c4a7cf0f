"""`loopml deploy` and `loopml deployments`: named endpoints with a routing policy over
model versions (one version, an A/B split, a canary, a bandit; shadows and a
fallback), and the history of every change."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from loopml.cli._deployment_view import change_json, print_deployment, print_history
from loopml.cli._options import JSON, example
from loopml.cli._output import Column, print_json, print_table

if TYPE_CHECKING:
    from loopml.serve import DeploymentDetail
    from loopml.workspace import Workspace

app = typer.Typer(
    help="Deployments: list, show, history and delete (make one with `loopml deploy`).",
    epilog=example("loopml deployments list", "loopml deployments show churn"),
    no_args_is_help=True,
)
NAME = typer.Argument(..., metavar="NAME", help="The deployment's name, e.g. churn.")
REASON = typer.Option(
    None, "--reason", metavar="TEXT", help="Why: kept in the deployment's history."
)


def register(root: typer.Typer) -> None:
    root.command("deploy")(deploy)
    root.add_typer(app, name="deployments")


def deploy(
    name: str = NAME,
    model: str = typer.Option(
        None, "--model", metavar="REF", help="One version: NAME@champion follows the alias."
    ),
    split: list[str] = typer.Option(
        None,
        "--split",
        metavar="SPLIT",
        help="An A/B split by weights summing to 1: REF=W,REF=W (or --split once per arm).",
    ),
    canary: str = typer.Option(
        None,
        "--canary",
        metavar="REF=W",
        help="With --model: REF takes the share W of traffic (0 < W < 1), the model the rest.",
    ),
    bandit: str = typer.Option(
        None,
        "--bandit",
        metavar="ROUTING",
        help="A bandit over --arms, learning from feedback: thompson, ucb1, epsilon-greedy.",
    ),
    arms: list[str] = typer.Option(
        None, "--arms", metavar="REFS", help="The bandit's versions: REF,REF (at least two)."
    ),
    epsilon: float = typer.Option(
        0.1, "--epsilon", metavar="E", help="epsilon-greedy: the share of random picks."
    ),
    shadow: list[str] = typer.Option(
        None,
        "--shadow",
        metavar="REF",
        help="A version that gets a copy of each request (answer logged, never returned).",
    ),
    fallback: str = typer.Option(
        None,
        "--fallback",
        metavar="REF",
        help="Answers when the chosen version fails (default: the first arm's @previous).",
    ),
    key_header: str = typer.Option(
        None,
        "--key-header",
        metavar="HEADER",
        help="Sticky routing key from this header (default: X-Loopml-Key).",
    ),
    key_field: str = typer.Option(
        None, "--key-field", metavar="FIELD", help="Sticky routing key from this input field."
    ),
    copy: str = typer.Option(
        None, "--copy", metavar="native|onnx", help="Serve each version's model or ONNX copy."
    ),
    timeout_ms: float = typer.Option(
        None, "--timeout-ms", metavar="MS", help="Time budget of a predict before fallback."
    ),
    max_batch_rows: int = typer.Option(
        None, "--max-batch-rows", metavar="N", help="Micro-batch bound in rows (1: off)."
    ),
    max_wait_us: int = typer.Option(
        None, "--max-wait-us", metavar="US", help="The most a request waits to be batched."
    ),
    reason: str = REASON,
    as_json: bool = JSON,
) -> None:
    """Create or update a deployment: a named endpoint with a routing policy over model
    versions. The policy is set whole (an option not given takes its default).

    \b
    Example:
      loopml deploy churn --model churn@champion
      loopml deploy churn --model churn@champion --canary churn@v4=0.05
      loopml deploy churn --split churn@champion=0.9,churn@challenger=0.1
      loopml deploy churn --bandit thompson --arms churn@v3,churn@v4 --shadow churn@v5
    """
    from loopml import serve
    from loopml.errors import InvalidInput
    from loopml.serve._policy import COPIES
    from loopml.workspace import workspace

    if model is None and not split and bandit is None:
        raise InvalidInput(
            f"say which versions deployment {name!r} serves: --model REF (one version, "
            "e.g. churn@champion), --split REF=W,REF=W or --bandit thompson --arms REF,REF",
            field="--model",
        )
    if copy is not None and copy not in COPIES:
        raise InvalidInput(
            f"--copy {copy!r} names no copy of a model; give --copy native (the model "
            "itself) or --copy onnx (its checked ONNX copy), or leave --copy out for each "
            "version's own choice (`loopml models show` says which it is)",
            field="--copy",
        )
    with workspace() as ws:
        before = _revision(ws, name)
        serve.deploy(
            name,
            model,
            split=None if not split else _weights(split, "--split"),
            canary=None if canary is None else _canary(canary),
            bandit=bandit,
            arms=_listed(arms or []),
            epsilon=epsilon,
            shadow=list(shadow or []),
            fallback=fallback,
            key_header=key_header,
            key_field=key_field,
            copy=copy,
            timeout_ms=timeout_ms,
            max_batch_rows=max_batch_rows,
            max_wait_us=max_wait_us,
            reason=reason,
            workspace=ws,
        )
        found = serve.deployment(name, workspace=ws)
    changed = found.revision != before
    for ref in dict.fromkeys([*(arm.model for arm in found.policy.arms), *found.policy.shadows]):
        if "@" not in ref:  # the model's latest version: what a user may not mean
            typer.echo(
                f"note: {ref} follows the latest version of model {ref!r}: every version "
                f"registered is served at once, without a promotion; give {ref}@champion to "
                f"follow the champion, or {ref}@vN for one version",
                err=True,
            )
    if as_json:
        print_json({**found.to_dict(), "changed": changed})
        return
    if not changed:
        typer.echo(f"deployment {name} has this policy already (revision {before}); unchanged")
    else:
        made = "created" if before == 0 else "updated"
        typer.echo(f"{made} deployment {name} (revision {found.revision})")
    print_deployment(found)


@app.command("list")
def list_deployments(as_json: bool = JSON) -> None:
    """Every deployment: its routing, arms and the version each points at now.

    \b
    Example:
      loopml deployments list
    """
    from loopml import serve
    from loopml.workspace import workspace

    with workspace() as ws:
        found = serve.deployments(workspace=ws)
    if as_json:
        print_json([detail.to_dict() for detail in found])
        return
    if not found:
        typer.echo("no deployments; make one with loopml deploy NAME --model NAME@champion")
        return
    columns = [
        Column("deployment", keep=True),
        Column("routing"),
        Column("arms (version now) weight", keep=True),
        Column("revision", justify="right", drop=2),
        Column("updated", drop=1),
        Column("by", drop=3),
    ]
    rows = [
        (
            detail.name,
            detail.policy.routing,
            _arms(detail),
            str(detail.revision),
            detail.record.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            detail.record.actor,
        )
        for detail in found
    ]
    print_table(columns, rows)


@app.command("show")
def show(name: str = NAME, as_json: bool = JSON) -> None:
    """One deployment: its policy, each arm with its weight and the version it points
    at now, shadows, fallback, routing key, copy, timeout and batching.

    \b
    Example:
      loopml deployments show churn
    """
    from loopml import serve
    from loopml.workspace import workspace

    with workspace() as ws:
        found = serve.deployment(name, workspace=ws)
    if as_json:
        print_json(found.to_dict())
        return
    print_deployment(found)


@app.command("history")
def history(name: str = NAME, as_json: bool = JSON) -> None:
    """Every change of a deployment, newest first: who, when, from what to what, why.

    \b
    Example:
      loopml deployments history churn
    """
    from loopml import serve
    from loopml.workspace import workspace

    with workspace() as ws:
        changes = serve.deployment_history(name, workspace=ws)
    if as_json:
        print_json([change_json(change) for change in changes])
        return
    print_history(changes)


@app.command("delete")
def delete(name: str = NAME, reason: str = REASON, as_json: bool = JSON) -> None:
    """Remove a deployment; its history keeps who removed it and why.

    \b
    Example:
      loopml deployments delete churn --reason "replaced by churn-v2"
    """
    from loopml import serve
    from loopml.workspace import workspace

    with workspace() as ws:
        serve.undeploy(name, reason=reason, workspace=ws)
    if as_json:
        print_json({"deleted": name})
        return
    typer.echo(f"deleted deployment {name}; `loopml deployments history {name}` keeps its changes")


def _revision(ws: Workspace, name: str) -> int:
    """The deployment's revision now; 0 when there is none (or a name loopml refuses,
    which deploy then names)."""
    from loopml.errors import LoopmlError

    try:
        return ws.store.get_deployment(name).revision
    except LoopmlError:
        return 0


def _listed(given: list[str]) -> list[str]:
    """Refs given as REF,REF or one per option, in order."""
    return [part.strip() for item in given for part in item.split(",") if part.strip()]


def _weights(given: list[str], option: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in _listed(given):
        ref, weight = _pair(part, option)
        if ref in weights:
            from loopml.errors import InvalidInput

            raise InvalidInput(f"{option} names {ref} twice; give each version once", field=option)
        weights[ref] = weight
    return weights


def _canary(given: str) -> tuple[str, float]:
    return _pair(given.strip(), "--canary")


def _pair(part: str, option: str) -> tuple[str, float]:
    import math

    from loopml.errors import InvalidInput

    ref, equals, text = part.rpartition("=")
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not equals or not ref or not math.isfinite(weight):
        raise InvalidInput(
            f"{option} {part!r} is not REF=WEIGHT; give e.g. churn@challenger=0.1",
            field=option,
        )
    return ref.strip(), weight


def _arms(detail: DeploymentDetail) -> str:
    parts = []
    for arm in detail.policy.arms:
        now = detail.resolved.get(arm.model) or "nowhere now"
        weight = "" if detail.policy.routing != "fixed" else f" {arm.weight:g}"
        shown = arm.model if now == arm.model else f"{arm.model} ({now})"
        parts.append(f"{shown}{weight}")
    return ", ".join(parts)
