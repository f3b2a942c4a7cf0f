"""`loopml runs`: list runs with their parameters and latest metrics, filter them, show
one, and compare several side by side."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from loopml._ids import short_id
from loopml.cli._options import JSON, example
from loopml.cli._output import Column, console, print_json, print_table

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="Runs: list, show and compare.",
    epilog=example(
        'loopml runs list --where "metrics.auc > 0.9" --sort -metrics.auc',
        "loopml runs show 3f9c2a61b0d4",
    ),
    no_args_is_help=True,
)
RUN = typer.Argument(..., metavar="RUN", help="A run id, or its last characters (12 are shown).")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="runs")


@app.command("list")
def list_runs(
    kind: str = typer.Option(
        None, "--kind", metavar="KIND", help="Only this kind: training, step, trial..."
    ),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Only runs of this name."),
    status: str = typer.Option(
        None, "--status", metavar="STATUS", help="Only this status, e.g. failed."
    ),
    parent: str = typer.Option(None, "--parent", metavar="RUN", help="Only children of RUN."),
    where: str = typer.Option(
        None,
        "--where",
        metavar="EXPR",
        help='Filter, e.g. "metrics.auc > 0.9 and params.C < 1" (fields: metrics.KEY, '
        "params.KEY, tags.KEY, id, name, kind, status, parent, host).",
    ),
    sort: str = typer.Option(
        None,
        "--sort",
        metavar="FIELD",
        help="Order by this field, low to high; -FIELD high to low, e.g. -metrics.auc "
        "(fields as --where names them; runs without it come last).",
    ),
    limit: int = typer.Option(
        20, "--limit", metavar="N", min=1, help="At most this many, newest first."
    ),
    as_json: bool = JSON,
) -> None:
    """Runs, newest first (or in --sort order), with their parameters and latest metrics.

    \b
    Example:
      loopml runs list --where "metrics.auc > 0.9 and params.C < 1"
      loopml runs list --kind trial --sort -metrics.auc --limit 5
    """
    from loopml.tracking import search_runs
    from loopml.tracking._where import parse_condition, parse_order
    from loopml.workspace import workspace

    condition = parse_condition(where) if where else None  # bad input before the store
    order = parse_order(sort) if sort else None
    with workspace() as ws:
        page = search_runs(
            condition,
            order,
            kind=kind,
            name=name,
            status=status,
            parent=parent,
            limit=limit,
            workspace=ws,
        )
    rows = [found.to_dict() for found in page.items]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no runs" + (" match" if where else ""))
        return
    columns = [
        Column("run", keep=True),
        Column("name"),
        Column("kind", drop=5),
        Column("status"),
        Column("started", drop=3),
        Column("took", justify="right", drop=4),
        Column("params", drop=2),
        Column("metrics", drop=1),
    ]
    print_table(
        columns,
        [
            (
                short_id(row["id"]),
                row["name"],
                row["kind"],
                row["status"],
                row["started_at"][:19].replace("T", " "),
                _duration(row["seconds"]),
                _pairs(row["params"]),
                _pairs(row["metrics"]),
            )
            for row in rows
        ],
    )


@app.command("show")
def show(run_ref: str = RUN, as_json: bool = JSON) -> None:
    """One run: parameters, metrics, tags, inputs and outputs, code, environment.

    \b
    Example:
      loopml runs show 3f9c2a61b0d4
    """
    from loopml.tracking import run_detail
    from loopml.workspace import workspace

    with workspace() as ws:
        detail = run_detail(run_ref, workspace=ws).to_dict()
    if as_json:
        print_json(detail)
        return
    _print_detail(detail)


@app.command("compare")
def compare(
    run_refs: list[str] = typer.Argument(..., metavar="RUN...", help="Two or more runs."),
    as_json: bool = JSON,
) -> None:
    """Runs side by side: every parameter and latest metric, differing rows marked.

    \b
    Example:
      loopml runs compare 3f9c2a61b0d4 8e41d07c55aa
    """
    from loopml.errors import InvalidInput
    from loopml.tracking import compare_runs
    from loopml.tracking._detail import differ
    from loopml.workspace import workspace

    if len(run_refs) < 2:
        raise InvalidInput("runs compare needs two or more runs; give their ids")
    with workspace() as ws:
        compared = compare_runs(run_refs, workspace=ws)
    lines = [
        ("took", [_duration(s) for s in values]) if name == "seconds" else (name, values)
        for name, values in compared.fields
    ]
    if as_json:
        print_json({"runs": [summary.run.id for summary in compared.runs], **dict(lines)})
        return
    columns = [Column("", keep=True)]
    columns += [
        Column(f"{summary.run.name}\n{short_id(summary.run.id)}", keep=True)
        for summary in compared.runs
    ]
    table = []
    for name, values in lines:  # what is shown differs, not only what is stored
        cells = ["-" if v is None else _value(v) for v in values]
        table.append((f"* {name}" if differ(values) else f"  {name}", *cells))
    print_table(columns, table)
    typer.echo("* differs between the runs")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value)


def _pairs(values: dict[str, Any], most: int = 4) -> str:
    shown = [f"{k}={_value(v)}" for k, v in list(values.items())[:most]]
    more = len(values) - most
    return " ".join(shown) + (f" (+{more})" if more > 0 else "")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _print_detail(detail: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    head = Table.grid(padding=(0, 2))
    head.add_column(no_wrap=True)
    head.add_column(overflow="fold")
    for key in ("id", "name", "kind", "status", "parent", "host", "started_at"):
        head.add_row(key, str(detail[key] or "-"))
    head.add_row("took", _duration(detail["seconds"]))
    git = (detail["code"] or {}).get("git") or {}
    if git:
        head.add_row("git", f"{git.get('commit', '')[:12]}{' (dirty)' if git.get('dirty') else ''}")
    env = detail["environment"]
    if env:
        head.add_row("python", f"{env.get('python', '?')}, {detail['packages']} packages")
    if detail["error"]:
        head.add_row("error", detail["error"])
    out.print(head, markup=False, highlight=False)
    if detail["params"]:
        print_table(
            [Column("parameter", keep=True), Column("value")],
            [(key, _value(value)) for key, value in detail["params"].items()],
            title="parameters",
        )
    if detail["metric_history"]:
        print_table(
            [
                Column("metric", keep=True),
                Column("last", justify="right"),
                Column("step", justify="right", drop=4),
                Column("min", justify="right", drop=2),
                Column("max", justify="right", drop=3),
                Column("points", justify="right", drop=1),
            ],
            [
                (key, *(_value(entry[k]) for k in ("last", "step", "min", "max", "points")))
                for key, entry in sorted(detail["metric_history"].items())
            ],
            title="metrics",
        )
    if detail["tags"]:
        out.print("tags: " + _pairs(detail["tags"], most=50), markup=False, highlight=False)
    if detail["events"]:
        print_table(
            [Column(""), Column("role"), Column("artifact", keep=True), Column("kind", drop=1)],
            [
                (
                    "in" if event["direction"] == "input" else "out",
                    event["role"],
                    event["artifact"],
                    event["kind"],
                )
                for event in detail["events"]
            ],
            title="inputs and outputs",
        )
    if detail["children"]:
        out.print(
            f"{len(detail['children'])} child runs: `loopml runs list --parent "
            f"{short_id(detail['id'])}`",
            markup=False,
            highlight=False,
        )
