"""`loopml loop`: the controller that retrains, tests and promotes a deployment's model by
itself (see :mod:`loopml.monitor`); `loopml decisions`: what it decided and why."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from loopml.cli._options import JSON, example
from loopml.cli._output import Column, print_json, print_table

if TYPE_CHECKING:
    from loopml.monitor import LoopPass
    from loopml.monitor._lease import ControllerLease

app = typer.Typer(
    help="The loop controller: define loops, then run them (loopml loop --once from cron, "
    "or loopml loop to keep running).",
    epilog=example("loopml loop define loops.toml", "loopml loop --once", "loopml decisions rain"),
    invoke_without_command=True,
)

PASS_FAILED = 1


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="loop")
    root.command("decisions")(decisions)


@app.callback()
def loop(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Make one pass of every loop, then stop."),
    every: str = typer.Option(
        "1m", "--every", metavar="INTERVAL", help="Time between passes (30s, 1m, 1h)."
    ),
    name: list[str] = typer.Option(
        None, "--name", metavar="LOOP", help="Run only this loop (repeat for more)."
    ),
    lease_for: str = typer.Option(
        "15m",
        "--lease",
        metavar="INTERVAL",
        help="How long the controller's lease lasts without a renewal: after a crash, "
        "another controller takes over once it ran out.",
    ),
    as_json: bool = JSON,
) -> None:
    """Run the loops defined in the workspace: each pass judges each loop's triggers,
    retrains, gates, sends out a challenger, and promotes or rolls it back on the
    evidence of live feedback, recording every decision (`loopml decisions`). Exits 1
    when a pass of a loop failed (with --once)."""
    if ctx.invoked_subcommand is not None:
        return
    from loopml._cadence import parse_every
    from loopml._signals import sigterm_raises
    from loopml.errors import InvalidInput
    from loopml.monitor import loop_definition, loops
    from loopml.monitor._lease import ControllerLease
    from loopml.workspace import workspace

    pause = parse_every(every)
    try:
        lease_seconds = parse_every(lease_for)
    except InvalidInput as error:
        raise InvalidInput(str(error).replace("--every", "--lease"), field="lease") from None
    with sigterm_raises(), workspace() as ws:  # SIGTERM: stop, leaving the lease free
        for each in name or ():  # a typo: said before any pass, as `decisions` says it
            loop_definition(each, workspace=ws)
        wanted = list(name) if name else [spec.name for spec, _ in loops(workspace=ws)]
        if not wanted:
            typer.echo("no loops are defined here; define one with `loopml loop define FILE`")
            return
        lease = ControllerLease(ws, lease_seconds)
        waiting = False
        try:
            while True:
                if lease.acquire():
                    waiting = False
                    with lease.kept():
                        failed = _pass(ws, wanted, lease, as_json=as_json)
                    if once:
                        if failed:
                            raise typer.Exit(PASS_FAILED)
                        return
                elif once:
                    typer.echo(f"error: {lease.refusal()}", err=True)
                    raise typer.Exit(PASS_FAILED)
                elif not waiting:
                    waiting = True
                    typer.echo(f"waiting: {lease.refusal()}", err=True)
                time.sleep(pause)
        finally:
            lease.release()


def _pass(ws: Any, wanted: list[str], lease: ControllerLease, *, as_json: bool) -> int:
    """One pass of each loop in ``wanted``; how many failed."""
    from loopml.errors import LoopmlError
    from loopml.monitor import run_loop

    failed = 0
    passes: list[dict[str, Any]] = []
    for each in wanted:
        try:
            done = run_loop(each, workspace=ws, lease=lease)
        except LoopmlError as error:  # one loop's failure must not stop the others
            failed += 1
            passes.append({"loop": each, "error": str(error)})
            if not as_json:
                typer.echo(f"loop {each}: {error}", err=True)
            continue
        passes.append(done.to_dict())
        if not as_json:
            _report(done)
    if as_json:
        print_json({"passes": passes})
    return failed


@app.command("define")
def define(
    file: str = typer.Argument(..., metavar="FILE", help="A TOML file of [loop.NAME] tables."),
    as_json: bool = JSON,
) -> None:
    """Record the loops a TOML file defines (a loop defined again unchanged records
    nothing); each [loop.NAME] table names the deployment, the model, the pipeline that
    retrains it, the dataset and label, and its triggers and rollout.

    \b
    Example:
      loopml loop define loops.toml
    """
    from loopml.monitor import define_loop, read_loops
    from loopml.workspace import workspace

    specs = read_loops(file)
    with workspace() as ws:
        before = {spec.name: _latest_version(ws, spec.name) for spec in specs}
        recorded = [(spec, define_loop(spec, workspace=ws)) for spec in specs]
    shown = [
        {
            "loop": spec.name,
            "definition": artifact.ref,
            "changed": before[spec.name] != artifact.version,
            "deployment": spec.deployment,
            "model": spec.model,
        }
        for spec, artifact in recorded
    ]
    if as_json:
        print_json({"loops": shown})
        return
    for each in shown:
        what = "recorded" if each["changed"] else "unchanged"
        typer.echo(
            f"loop {each['loop']}: {what} as {each['definition']} (deployment "
            f"{each['deployment']}, model {each['model']})"
        )


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """The loops defined here, each with its last decision.

    \b
    Example:
      loopml loop list --json
    """
    from loopml.monitor import loops
    from loopml.monitor._decisions import last_decision
    from loopml.workspace import workspace

    with workspace() as ws:
        found = [
            (spec, artifact, last_decision(ws, spec.name)) for spec, artifact in loops(workspace=ws)
        ]
    if as_json:
        print_json(
            {
                "loops": [
                    {
                        "loop": spec.name,
                        "definition": artifact.ref,
                        "spec": spec.to_dict(),
                        "last_decision": None if last is None else last.to_dict(),
                    }
                    for spec, artifact, last in found
                ]
            }
        )
        return
    if not found:
        typer.echo("no loops are defined here; define one with `loopml loop define FILE`")
        return
    print_table(
        [
            Column("loop", keep=True),
            Column("deployment", keep=True),
            Column("model"),
            Column("last decision"),
        ],
        [
            [
                spec.name,
                spec.deployment,
                spec.model,
                "none yet" if last is None else f"{last.number}: {last.summary}",
            ]
            for spec, _, last in found
        ],
    )


def decisions(
    name: str = typer.Argument(..., metavar="LOOP", help="The loop whose decisions to show."),
    watch: bool = typer.Option(
        False, "--all", help="Also the looks at a challenger that decided nothing (watch)."
    ),
    as_json: bool = JSON,
) -> None:
    """What loop LOOP decided, oldest first: each trigger that started a retraining, the
    gate's verdict, each challenger sent out, promoted, rolled back or kept, with the
    numbers it was decided on (--json: all of them).

    \b
    Example:
      loopml decisions rain --all
    """
    from loopml.monitor import loop_decisions, loop_definition
    from loopml.workspace import workspace

    with workspace() as ws:
        loop_definition(name, workspace=ws)  # says when there is no such loop
        found = loop_decisions(ws, name)
    if not watch:
        found = [d for d in found if d.action != "watch"]
    if as_json:
        print_json({"loop": name, "decisions": [d.to_dict() for d in found]})
        return
    if not found:
        typer.echo(f"loop {name} has decided nothing yet")
        return
    print_table(
        [
            Column("#", keep=True, justify="right"),
            Column("when (UTC)", whole=True, drop=1),
            Column("action", keep=True),
            Column("summary"),
        ],
        [[str(d.number), d.at.strftime("%Y-%m-%d %H:%M:%S"), d.action, d.summary] for d in found],
        title=f"decisions of loop {name}",
    )


def _report(done: LoopPass) -> None:
    for decision in done.decisions:
        typer.echo(f"loop {done.loop}: decision {decision.number}: {decision.summary}")
    if not done.decisions:
        typer.echo(f"loop {done.loop}: {done.state}: {done.note}")


def _latest_version(ws: Any, name: str) -> int | None:
    from loopml._kinds import ArtifactKind
    from loopml.errors import NotFound

    try:
        return int(ws.store.latest_artifact(ArtifactKind.LOOP, name).version)
    except NotFound:
        return None
