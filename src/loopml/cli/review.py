"""`loopml review`: the human review queue — fill it from a deployment's predictions,
hand its items to reviewers, take their labels (or a filled-in file of them), see how
far they agree, and commit the reviewed rows as a dataset version (see
:mod:`loopml.monitor`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from loopml._ids import short_id
from loopml.cli._options import FORCE, JSON, example
from loopml.cli._output import Column, print_json, print_table
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.data import DatasetVersion
    from loopml.monitor import Agreement, ReviewTask
    from loopml.store import ReviewItem

app = typer.Typer(
    help="The human review queue: add, list, next, label, export, import, agreement, commit.",
    epilog=example(
        "loopml review add churn --below 0.6 --disagree shadow --audit 50",
        "loopml review next churn",
        "loopml review label 89abcdef0123 1",
        "loopml review commit churn",
    ),
    no_args_is_help=True,
)

QUEUE = typer.Argument(..., metavar="QUEUE", help="The queue (a deployment's name by default).")
REVIEWER = typer.Option(
    None, "--reviewer", metavar="NAME", help="Who reviews (default: the user running this)."
)
STATUSES = ("open", "labelled", "committed", "all")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="review")


@app.command("add")
def add(
    deployment: str = typer.Argument(
        ..., metavar="DEPLOYMENT", help="The deployment whose predictions to look at."
    ),
    queue: str = typer.Option(
        None, "--queue", metavar="QUEUE", help="The queue to add to (default: DEPLOYMENT)."
    ),
    below: float = typer.Option(
        None, "--below", metavar="CONFIDENCE", help="Rows the model is less sure of than this."
    ),
    disagree: list[str] = typer.Option(
        [],
        "--disagree",
        metavar="WITH",
        help="Rows where WITH predicts otherwise: shadow (the deployment's shadows), "
        "previous (the previous champion) or a version (churn@v2). Repeatable.",
    ),
    flagged: Path = typer.Option(
        None,
        "--flagged",
        metavar="FILE",
        help="A CSV of rows a drift check named: a prediction_id column, and a row column "
        "for one row of a prediction.",
    ),
    audit: int = typer.Option(
        0, "--audit", metavar="N", min=0, help="N rows drawn at random (an unbiased sample)."
    ),
    seed: int = typer.Option(None, "--seed", metavar="N", help="Fix the audit's draw."),
    since: str = typer.Option(
        "1d",
        "--since",
        metavar="WHEN",
        help="Predictions from when: a duration back from now (1h, 7d) or an ISO date.",
    ),
    until: str = typer.Option(
        None, "--until", metavar="WHEN", help="Until when (default: now); as --since."
    ),
    labels: int = typer.Option(
        1, "--labels", metavar="N", min=1, help="Reviewers asked to label each item."
    ),
    dataset: str = typer.Option(
        None,
        "--dataset",
        metavar="NAME",
        help="The dataset whose guidelines apply (default: the model's training data).",
    ),
    as_json: bool = JSON,
) -> None:
    """Queue for review the rows of DEPLOYMENT's predictions that a rule picks: low
    confidence, a disagreeing shadow or version, a drift check's rows, a random audit.
    Rows already labelled by feedback, and rows queued before, are left out.

    \b
    Example:
      loopml review add churn --below 0.6 --disagree shadow --audit 50 --since 7d
      loopml review add churn --flagged drifted.csv --labels 3
    """
    from loopml.cli.monitor import _moment
    from loopml.monitor import queue_for_review
    from loopml.workspace import workspace

    now = datetime.now(UTC)
    start = _moment("--since", since, now)
    end = None if until is None else _moment("--until", until, now)
    rows = None if flagged is None else _flagged(flagged)
    with workspace() as ws:
        queued = queue_for_review(
            deployment,
            queue=queue,
            below=below,
            disagree_with=disagree,
            flagged=rows,
            audit=audit,
            seed=seed,
            since=start,
            until=end,
            labels_wanted=labels,
            dataset=dataset,
            workspace=ws,
        )
    if as_json:
        print_json(queued.to_dict())
        return
    picked = ", ".join(f"{count} by {rule}" for rule, count in queued.picked.items())
    typer.echo(
        f"{len(queued.added)} item(s) added to review queue {queued.queue} "
        f"({picked or 'none picked'}; {queued.considered} unlabelled row(s) looked at)"
    )
    if queued.queued_before:
        typer.echo(f"{queued.queued_before} picked row(s) were in the queue already")
    if queued.flagged_missing:
        typer.echo(f"{queued.flagged_missing} flagged row(s) are not among those predictions")


@app.command("list")
def list_items(
    queue: str = typer.Argument(None, metavar="[QUEUE]", help="The queue (default: every one)."),
    status: str = typer.Option(
        "all", "--status", metavar="STATUS", help="open, labelled, committed or all."
    ),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """List the items of a review queue, in queue order, with their status.

    \b
    Example:
      loopml review list churn --status open
    """
    from loopml.monitor import review_items
    from loopml.monitor._review import item_dict, require_queue
    from loopml.workspace import workspace

    wanted = _status(status)
    with workspace() as ws:
        if queue is not None:
            require_queue(ws, queue)
        found = review_items(queue, status=wanted, limit=limit, workspace=ws)
    if as_json:
        print_json([item_dict(item) for item in found])
        return
    if not found:
        typer.echo("no review items" + (f" in queue {queue}" if queue else ""))
        return
    columns = [
        Column("item", keep=True),
        Column("queue", drop=4),
        Column("status"),
        Column("guess"),
        Column("confidence", justify="right", drop=2),
        Column("why", drop=3),
        Column("labels", drop=1),
    ]
    rows = [
        (
            short_id(item.id),
            item.queue,
            item.status.value,
            _text(item.guess),
            "-" if item.confidence is None else f"{item.confidence:.3f}",
            ", ".join(item.reasons),
            _labels(item),
        )
        for item in found
    ]
    print_table(columns, rows)


@app.command("next")
def next_item(
    queue: str = QUEUE,
    reviewer: str = REVIEWER,
    lease: str = typer.Option(
        "30m",
        "--lease",
        metavar="DURATION",
        help="How long the item is held for you (others get other items meanwhile).",
    ),
    as_json: bool = JSON,
) -> None:
    """Hand you the next item of QUEUE to label, with the model's guess, its confidence,
    why it was queued, its inputs and the dataset's labelling guidelines. Asking again
    before labelling gives the same item.

    \b
    Example:
      loopml review next churn --reviewer ann
    """
    from loopml._cadence import parse_every
    from loopml.monitor import next_review
    from loopml.monitor._review import require_queue
    from loopml.workspace import workspace

    try:
        seconds = parse_every(lease)
    except InvalidInput:
        raise InvalidInput(
            f"--lease {lease!r} is not a duration; give one such as 30m, 1h or 2h30m",
            field="--lease",
        ) from None
    with workspace() as ws:
        require_queue(ws, queue)
        task = next_review(queue, reviewer=reviewer, lease_seconds=seconds, workspace=ws)
    if as_json:
        print_json(None if task is None else task.to_dict())
        return
    if task is None:
        typer.echo(f"nothing left to review in queue {queue} for you")
        return
    _show(task)


@app.command("label")
def label(
    item: str = typer.Argument(
        ..., metavar="ITEM", help="The item's id (the 12 characters shown will do)."
    ),
    value: str = typer.Argument(..., metavar="LABEL", help="The true label, e.g. 1 or spam."),
    reviewer: str = REVIEWER,
    note: str = typer.Option(None, "--note", metavar="TEXT", help="Why, for the others."),
    replace: bool = typer.Option(False, "--replace", help="Change a label you gave before."),
    as_json: bool = JSON,
) -> None:
    """Record your label of an item (read as the model's guesses are typed). Once the
    item has the labels it wants, their consensus is written as feedback.

    \b
    Example:
      loopml review label 89abcdef0123 1 --note "renewed after the call"
    """
    from loopml.monitor import consensus, label_review
    from loopml.monitor._review import item_dict
    from loopml.workspace import workspace

    with workspace() as ws:
        labelled = label_review(
            item, value, reviewer=reviewer, note=note, replace=replace, workspace=ws
        )
    if as_json:
        print_json(item_dict(labelled))
        return
    agreed = consensus(labelled)
    given = len(labelled.labels)
    if agreed is not None:
        after = f"; consensus {_text(agreed)} written as feedback"
    elif given >= labelled.labels_wanted:  # as many as wanted, or more, and no majority
        votes = ", ".join(f"{_text(each.label)} by {each.reviewer}" for each in labelled.labels)
        after = (
            f"; its {given} labels tie ({votes}): no consensus, so no label of it counts as "
            "feedback (one written before is withdrawn); one more reviewer's label settles it"
        )
    else:
        after = f"; {given} of {labelled.labels_wanted} label(s)"
    typer.echo(f"labelled {short_id(labelled.id)}{after}")


@app.command("export")
def export(
    queue: str = QUEUE,
    path: Path = typer.Argument(..., metavar="FILE", help="A .csv, .parquet or .jsonl file."),
    status: str = typer.Option(
        "open", "--status", metavar="STATUS", help="open, labelled, committed or all."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
) -> None:
    """Write QUEUE's items to FILE for labelling elsewhere (a spreadsheet, a labelling
    tool): fill in its label column (and reviewer, note), then `loopml review import`.

    \b
    Example:
      loopml review export churn to-label.csv
    """
    from loopml.monitor import export_review
    from loopml.workspace import workspace

    with workspace() as ws:
        done = export_review(queue, path, status=_status(status), force=force, workspace=ws)
    if as_json:
        print_json(done.to_dict())
    elif done.written:
        typer.echo(f"wrote {done.items} item(s) of review queue {queue} to {path}")
    else:
        typer.echo(f"{path} holds these {done.items} item(s) already")


@app.command("import")
def import_labels(
    path: Path = typer.Argument(..., metavar="FILE", help="The exported file, filled in."),
    reviewer: str = typer.Option(
        None, "--reviewer", metavar="NAME", help="Who labelled the rows that name nobody."
    ),
    replace: bool = typer.Option(False, "--replace", help="Change labels given before."),
    as_json: bool = JSON,
) -> None:
    """Record the labels filled in a file `loopml review export` wrote; rows with an
    empty label are skipped. Every row is checked before any label is written.

    \b
    Example:
      loopml review import to-label.csv --reviewer ann
    """
    from loopml.monitor import import_review
    from loopml.workspace import workspace

    with workspace() as ws:
        done = import_review(path, reviewer=reviewer, replace=replace, workspace=ws)
    if as_json:
        print_json(done.to_dict())
        return
    typer.echo(
        f"{len(done.labelled)} label(s) recorded from {path} ({done.skipped} row(s) without "
        f"a label skipped; {done.feedback} consensus label(s) written as feedback)"
    )


@app.command("agreement")
def agreement(queue: str = QUEUE, as_json: bool = JSON) -> None:
    """How far QUEUE's reviewers agree on the items several of them labelled: Cohen's
    kappa for two reviewers, Fleiss' kappa for more; per reviewer (against the others)
    and per class (a class with a low kappa is one the guidelines leave unclear).

    \b
    Example:
      loopml review agreement churn
    """
    from loopml.monitor import review_agreement
    from loopml.monitor._review import require_queue
    from loopml.workspace import workspace

    with workspace() as ws:
        require_queue(ws, queue)
        found = review_agreement(queue, workspace=ws)
    if as_json:
        print_json(found.to_dict())
        return
    _print_agreement(found, queue)


@app.command("commit")
def commit(
    queue: str = QUEUE,
    dataset: str = typer.Option(
        None, "--dataset", metavar="NAME", help="The dataset (default: the one items name)."
    ),
    append: bool = typer.Option(
        False, "--append", help="Add the rows after those of the dataset's latest version."
    ),
    label_column: str = typer.Option(
        None,
        "--label-column",
        metavar="NAME",
        help="The label's column (default: the dataset's label column, else 'label').",
    ),
    as_json: bool = JSON,
) -> None:
    """Make QUEUE's labelled items a new version of the dataset: each item's inputs and
    agreed label, with lineage back to the predictions they came from.

    \b
    Example:
      loopml review commit churn
      loopml review commit churn --dataset churn-train --append
    """
    from loopml.monitor import commit_review
    from loopml.workspace import workspace

    with workspace() as ws:
        done = commit_review(
            queue, dataset=dataset, append=append, label_column=label_column, workspace=ws
        )
        before = _rows_before(done.version) if not append else None
    if as_json:
        print_json(done.to_dict())
        return
    base = f" after the rows of {done.base}" if done.base else ""
    typer.echo(
        f"{done.version.ref}: {len(done.items)} reviewed row(s) of queue {queue}{base} "
        f"({done.version.rows} rows in all)"
    )
    if before is not None and done.version.rows is not None and done.version.rows < before[1]:
        typer.echo(
            f"note: {done.version.ref} holds the reviewed rows alone, where {before[0]} held "
            f"{before[1]:,}: what reads {done.version.name}@latest (a pipeline, the loop's "
            "retraining) now trains on these only; commit with --append to add them after "
            "the rows before"
        )
    if done.tied:
        typer.echo(
            f"{done.tied} labelled item(s) left out: their reviewers tie (one more "
            "reviewer's label settles a tie)"
        )


def _rows_before(version: DatasetVersion) -> tuple[str, int] | None:
    """The ref and rows of the dataset's version before ``version``, if it has one."""
    from loopml.data import get

    if version.version <= 1:
        return None
    previous = get(f"{version.name}@v{version.version - 1}", workspace=version.workspace)
    return None if previous.rows is None else (previous.ref, previous.rows)


def _status(status: str) -> str | None:
    if status not in STATUSES:
        raise InvalidInput(
            f"--status {status!r} is not one of {', '.join(STATUSES)}", field="--status"
        )
    return None if status == "all" else status


def _flagged(path: Path) -> list[str | tuple[str, int]]:
    import polars as pl

    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InvalidInput(f"cannot read --flagged {path}: {error}", field="--flagged") from None
    if "prediction_id" not in frame.columns:
        raise InvalidInput(
            f"--flagged {path} has no prediction_id column: give a CSV with a "
            "prediction_id column (and a row column to name one row of a prediction)",
            field="--flagged",
        )
    rows: list[str | tuple[str, int]] = []
    for each in frame.iter_rows(named=True):
        pid, row = each["prediction_id"], each.get("row")
        if row is None or not row.strip():
            rows.append(pid)
        elif row.strip().isdigit():
            rows.append((pid, int(row)))
        else:
            raise InvalidInput(
                f"--flagged {path}: row {row!r} of prediction {pid!r} is not a row number",
                field="--flagged",
            )
    return rows


def _show(task: ReviewTask) -> None:
    item = task.item
    confidence = "-" if item.confidence is None else f"{item.confidence:.3f}"
    lines = [
        f"item {short_id(item.id)} of queue {item.queue}: row {item.row} of prediction "
        f"{item.prediction_id} by {item.ref}",
        f"guess: {_text(item.guess)}   confidence: {confidence}   "
        f"queued for: {', '.join(item.reasons)}",
        "inputs:",
        *(f"  {name} = {_text(value)}" for name, value in item.inputs.items()),
    ]
    for key, value in item.evidence.items():
        lines.append(f"{key.replace('_', ' ')}: {_text(value)}")
    typer.echo("\n".join(lines))
    if task.guidelines is None:
        named = f"dataset {item.dataset}" if item.dataset else "the item's dataset"
        typer.echo(f"(no labelling guidelines: {named} has none)")
    else:
        typer.echo(f"--- guidelines v{task.guidelines.version} of dataset {item.dataset} ---")
        typer.echo(task.guidelines.text.rstrip("\n"))
    typer.echo(f"label it: loopml review label {short_id(item.id)} LABEL")


def _print_agreement(found: Agreement, queue: str) -> None:
    if found.method is None:
        typer.echo(f"no item of review queue {queue} has labels from two reviewers yet")
        return
    name = "Cohen's" if found.method == "cohen" else "Fleiss'"
    each = f", {found.labels_per_item} labels each" if found.labels_per_item else ""
    typer.echo(f"{name} kappa {_kappa(found.kappa)} on {found.items} item(s){each}")
    print_table(
        [Column("reviewer", keep=True), Column("items", justify="right"),
         Column("agreed", justify="right"), Column("kappa", justify="right")],
        [
            (r.reviewer, str(r.items),
             "-" if r.agreement is None else f"{r.agreement:.0%}", _kappa(r.kappa))
            for r in found.reviewers
        ],
    )  # fmt: skip
    print_table(
        [Column("class", keep=True), Column("share", justify="right"),
         Column("kappa", justify="right")],
        [(_text(c.label), f"{c.share:.0%}", _kappa(c.kappa)) for c in found.classes],
    )  # fmt: skip


def _kappa(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _labels(item: ReviewItem) -> str:
    given = ", ".join(f"{label.reviewer}: {_text(label.label)}" for label in item.labels)
    return f"{len(item.labels)}/{item.labels_wanted}" + (f" ({given})" if given else "")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
