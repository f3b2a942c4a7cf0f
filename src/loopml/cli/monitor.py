"""`loopml monitor NAME`: a deployment's live metrics, per window and version, or with
``--drift`` the drift of its live inputs and predictions (see :mod:`loopml.monitor`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from loopml.cli._options import JSON
from loopml.cli._output import Column, print_json, print_table
from loopml.errors import InvalidInput


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)


def monitor(
    name: str = typer.Argument(..., metavar="DEPLOYMENT", help="The deployment to look at."),
    every: str = typer.Option(
        "1h",
        "--every",
        metavar="WINDOW",
        help="Window: a duration (15m, 1h, 1d, 1w) or a number of predictions (1000).",
    ),
    since: str = typer.Option(
        "1d",
        "--since",
        metavar="WHEN",
        help="From when: a duration back from now (1h, 7d) or an ISO date and time (UTC).",
    ),
    until: str = typer.Option(
        None, "--until", metavar="WHEN", help="Until when (default: now); as --since."
    ),
    task: str = typer.Option(
        None,
        "--task",
        metavar="classification|regression",
        help="How to score the labels (default: regression when the predictions are "
        "floating-point numbers, else classification).",
    ),
    baseline: str = typer.Option(
        None,
        "--baseline",
        metavar="VALUE",
        help="What the naive baseline predicts for every row (the majority class, or "
        "the mean), scored on the same rows.",
    ),
    drift: bool = typer.Option(
        False,
        "--drift",
        help="Print the drift of each window's inputs and predictions against the "
        "version's training data and the window before, instead of the metrics.",
    ),
    reference: str = typer.Option(
        None,
        "--reference",
        metavar="DATASET",
        help="With --drift: the dataset version the versions were trained on (default: "
        "found through each version's lineage).",
    ),
    as_json: bool = JSON,
) -> None:
    """Print a deployment's live metrics per window and per version that answered:
    predictions, labelled rows (from feedback) and their share, accuracy (or MAE and
    RMSE), the baseline's on the same rows when --baseline is given, a classifier's
    accuracy estimated from its confidence before the labels come (with its 95%
    interval; for versions registered with an evaluation), mean confidence, latency
    p50 and p99, and the share of errors and fallbacks. --json adds macro F1, and for
    two classes precision, recall, F1 and ROC-AUC, estimated and realised.

    With --drift, each window's inputs and predictions are compared with the
    version's training data (skew) and with the window before (drift), column by
    column, and the columns that drifted are printed; windows that closed are kept
    and read back next time.

    \b
    Example:
      loopml monitor churn --every 1h --since 1d
      loopml monitor churn --every 1000 --since 2026-12-01 --baseline 0
      loopml monitor churn --drift --every 1d --since 30d
    """
    import polars as pl

    from loopml.monitor import labelled, live_metrics
    from loopml.monitor._deployed import check_known
    from loopml.monitor._estimated import version_estimators
    from loopml.workspace import workspace

    now = datetime.now(UTC)
    start = _moment("--since", since, now)
    end = None if until is None else _moment("--until", until, now)
    window: str | int = int(every) if every.isdigit() else every
    if drift:
        _drift(name, window, start, end, reference, task, baseline, as_json)
        return
    if reference is not None:
        raise InvalidInput(
            "--reference is the training data of --drift; add --drift, or leave it out",
            field="--reference",
        )
    with workspace() as ws:
        found = labelled(name, since=start, until=end, workspace=ws)
        rows = found.rows
        if rows.is_empty():
            check_known(ws, name)
        if task is None:
            floats = rows.schema["predicted"] in (pl.Float32, pl.Float64)
            task = "regression" if floats else "classification"
        estimators = (
            version_estimators(rows["ref"].unique().to_list(), ws)
            if task == "classification" and "probabilities" in rows.columns
            else {}
        )
    given = None if baseline is None else _typed(baseline, rows.schema["predicted"])
    metrics = live_metrics(rows, every=window, task=task, baseline=given, estimators=estimators)
    if as_json:
        print_json(
            {
                "deployment": name,
                "since": start.isoformat(),
                "until": None if end is None else end.isoformat(),
                "every": window,
                "task": task,
                "feedback": found.feedback,
                "duplicates": found.duplicates,
                "unmatched": list(found.unmatched),
                "unreadable": found.unreadable,
                "windows": metrics.to_dicts(),
            }
        )
        return
    _print(metrics, task, name)
    if found.unreadable:
        typer.echo(
            f"{found.unreadable} label(s) could not be read as the predictions' type "
            "and were left out"
        )
    if found.unmatched:
        typer.echo(
            f"{len(found.unmatched)} feedback record(s) name predictions the log does not "
            f"hold (first: {found.unmatched[0]})"
        )


def _labelled(window: dict[str, Any]) -> str:
    """Labelled rows and their share; of how many rows, when requests held several (the
    predictions column counts requests)."""
    share = f"({window['coverage']:.0%})"
    rows = window.get("rows")
    if rows is None or rows == window["predictions"]:
        return f"{window['labelled']:,} {share}"
    return f"{window['labelled']:,} of {rows:,} rows {share}"


def _print(metrics: Any, task: str, name: str) -> None:
    scores = ["accuracy"] if task == "classification" else ["mae", "rmse"]
    shown = [s for s in [*scores, *("baseline_" + s for s in scores)] if s in metrics.columns]
    estimated = "estimated_accuracy" in metrics.columns
    columns = [
        Column("window (UTC)", keep=True),
        Column("version", keep=True),
        Column("predictions", justify="right"),
        Column("labelled", justify="right"),
        *(Column(s.replace("_", " "), justify="right") for s in shown),
        *([Column("estimated", justify="right")] if estimated else []),
        Column("confidence", justify="right", drop=3),
        Column("p50 ms", justify="right", drop=2),
        Column("p99 ms", justify="right", drop=2),
        Column("errors", justify="right", drop=1),
        Column("fallbacks", justify="right", drop=1),
    ]
    rows = []
    for each in metrics.to_dicts():
        start = datetime.fromtimestamp(each["window_start_us"] / 1e6, UTC)
        rows.append(
            [
                start.strftime("%Y-%m-%d %H:%M"),
                each["ref"] + (" (shadow)" if each["shadow"] else ""),
                f"{each['predictions']:,}",
                _labelled(each),
                *(_number(each[s]) for s in shown),
                *([_estimate(each)] if estimated else []),
                _number(each.get("mean_confidence")),
                _number(each["latency_p50_ms"]),
                _number(each["latency_p99_ms"]),
                f"{each['error_rate']:.1%}",
                f"{each['fallback_rate']:.1%}",
            ]
        )
    if not rows:
        typer.echo(f"no predictions of deployment {name!r} in that time")
        return
    print_table(columns, rows)


def _estimate(window: dict[str, Any]) -> str:
    """A window's accuracy as estimated from confidence, with its interval."""
    value = window.get("estimated_accuracy")
    if value is None:
        return "-"
    low, high = window["estimated_accuracy_low"], window["estimated_accuracy_high"]
    return f"{_number(value)} ({_number(low)}-{_number(high)})"


def _drift(
    name: str,
    every: str | int,
    start: datetime,
    end: datetime | None,
    reference: str | None,
    task: str | None,
    baseline: str | None,
    as_json: bool,
) -> None:
    from loopml.monitor import drift_windows
    from loopml.monitor._deployed import check_known
    from loopml.workspace import workspace

    for option, value in (("--task", task), ("--baseline", baseline)):
        if value is not None:
            raise InvalidInput(
                f"{option} scores live metrics, which --drift does not print; leave it out",
                field=option,
            )
    if isinstance(every, int):
        raise InvalidInput(
            f"--every {every}: with --drift, give a duration (1h, 1d): drift is judged on "
            "windows of time",
            field="--every",
        )
    with workspace() as ws:
        found = drift_windows(name, every=every, since=start, until=end, reference=reference,
                              workspace=ws)  # fmt: skip
        if found.table.is_empty():
            check_known(ws, name)
            if found.computed:  # predictions there were, but nothing to compare them with
                raise InvalidInput(
                    f"{found.computed} window(s) of deployment {name!r} hold predictions, "
                    f"but none could be compared: {'; '.join(found.notes)}",
                    field="--reference",
                )
    if as_json:
        print_json(
            {
                "deployment": name,
                "since": start.isoformat(),
                "until": None if end is None else end.isoformat(),
                "every": every,
                "references": found.references,
                "notes": list(found.notes),
                "computed": found.computed,
                "read_back": found.read_back,
                "saved": found.saved,
                "left_out": found.left_out,
                "windows": found.table.to_dicts(),
            }
        )
        return
    _print_drift(found, name)


def _print_drift(found: Any, name: str) -> None:
    """One line per window and version: the columns that drifted in each comparison."""
    import polars as pl

    table = found.table
    if not table.height:
        typer.echo(f"no predictions of deployment {name!r} in that time")
    else:
        keys = table.select("window", "window_start_us", "ref", "rows", "final").unique(
            ["window", "ref"], keep="first", maintain_order=True
        )
        rows = []
        for each in keys.to_dicts():
            part = table.filter(
                (pl.col("window") == each["window"]) & (pl.col("ref") == each["ref"])
            )
            start = datetime.fromtimestamp(each["window_start_us"] / 1e6, UTC)
            rows.append(
                [
                    start.strftime("%Y-%m-%d %H:%M") + ("" if each["final"] else " (open)"),
                    each["ref"],
                    f"{each['rows']:,}",
                    *(_drifted(part, comparison) for comparison in ("training", "previous")),
                ]
            )
        print_table(
            [
                Column("window (UTC)", keep=True),
                Column("version", keep=True),
                Column("rows", justify="right"),
                Column("drifted from training"),
                Column("drifted from previous window"),
            ],
            rows,
        )
        typer.echo(
            "compared with: "
            + ("; ".join(f"{ref}: {source}" for ref, source in found.references.items()) or "-")
        )
    for note in found.notes:
        typer.echo(note)
    if found.left_out:
        typer.echo(f"{found.left_out:,} answer(s) left out: failed, or rows of unequal lengths")


def _drifted(part: Any, comparison: str) -> str:
    """The columns of one comparison that drifted, or "none", or "-" when not compared."""
    import polars as pl

    rows = part.filter(pl.col("comparison") == comparison)
    if not rows.height:
        return "-"
    drifted = rows.filter(pl.col("drifted"))["column"].to_list()
    return ", ".join(drifted) if drifted else "none"


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _moment(option: str, text: str, now: datetime) -> datetime:
    """An interval back from ``now`` (``7d``) or an ISO date and time (UTC if naive)."""
    from loopml._cadence import parse_every

    try:
        return now - timedelta(seconds=parse_every(text))
    except InvalidInput:
        pass  # not an interval: a date and time, then
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r} is neither a duration back from now (30m, 1h, 7d, 2w) nor "
            "an ISO date and time (2026-12-01 or 2026-12-01T08:00)",
            field=option,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _typed(text: str, predicted: Any) -> Any:
    """The --baseline value as the predictions' type."""
    if predicted.is_numeric():
        try:
            return float(text) if predicted.is_float() else int(text)
        except ValueError:
            raise InvalidInput(
                f"--baseline {text!r} is not a number, and the predictions are numbers",
                field="--baseline",
            ) from None
    return text
