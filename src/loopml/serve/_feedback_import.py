"""``loopml feedback import FILE``: a file of labels (or rewards), days after the
predictions, recorded as :func:`loopml.feedback` records one.

The whole file is read and checked first (see :mod:`loopml.serve._feedback_file`),
then matched with the prediction log: every id the log holds must be feedback its
prediction can take (a ``row`` it has, a ``time`` not before it was made, a reward from
0 to 1 for a bandit's arm); an id the log does not hold must be a loopml id and carry a
label, not a reward (a reward goes to the arm that made the prediction, which only the
logged prediction says). Any fault is InvalidInput naming the line, and nothing is
written. Then the records are written as one feedback segment per deployment (and one
for the ids the log does not hold, which :func:`loopml.monitor.labelled` joins once
their predictions are logged), not one per row, and the bandits' arms are credited
after the last (a store failing in between leaves the segments written before it).

>>> import tempfile, pathlib, loopml
>>> from loopml.serve import PredictionLog, PredictionRecord
>>> ws = loopml.init(tempfile.mkdtemp())
>>> with PredictionLog(ws) as log:
...     for n in range(3):
...         log.append(PredictionRecord(f"p{n}", None, 5, "churn", "churn@v1", 0, 1.0,
...             {"x": [n]}, {"predictions": [1]}, 300, None))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
>>> _ = path.write_text("id,label\\np0,1\\np1,0\\np1,1\\n")
>>> done = import_feedback(path, workspace=ws)
>>> done.imported, done.deployments, done.duplicates_in_file, done.unknown
(3, {'churn': 3}, 1, ())
>>> import_feedback(path, workspace=ws).duplicates_of_earlier
2
>>> ws.close()
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._ids import made_us
from loopml._time import now_us
from loopml.errors import InvalidInput, NotFound
from loopml.serve._feedback_file import Place, read_feedback_file
from loopml.serve._known import AROUND_US
from loopml.serve._layouts import FEEDBACK, NO_DEPLOYMENT, PREDICTIONS
from loopml.serve._segments import find_segments, read_segment, write_segment

if TYPE_CHECKING:
    import polars as pl

    from loopml.workspace import Workspace

#: the most records one segment of an import holds (a larger file makes several)
SEGMENT_ROWS = 500_000
#: logged predictions read before they are matched with the file's ids, at most
MATCH_ROWS = 200_000
_LOGGED = ["prediction_id", "deployment", "ref", "arm", "fallback", "shadow", "time_us"]


def _summary_schema() -> pl.Schema:
    import polars as pl

    return pl.Schema(
        {
            "prediction_id": pl.String,
            "deployment": pl.String,
            "ref": pl.String,
            "predicted_us": pl.Int64,
            "chosen": pl.Boolean,
            "rows": pl.Int64,
            "predicted": pl.String,
        }
    )


@dataclass(frozen=True)
class FeedbackImport:
    """What :func:`import_feedback` recorded: ``imported`` records, ``matched`` of them
    on predictions the log holds, by deployment (``deployments``); the ``unknown`` ids
    (the log does not hold them: recorded all the same, joined once they are logged);
    ``duplicates_in_file`` (rows on a prediction and row an earlier line of the file is
    about: the later line wins) and ``duplicates_of_earlier`` (predictions and rows the
    log already had feedback on: the later feedback wins); ``rewarded``: records
    credited to a bandit's arm (an arm learns once a prediction: a file imported twice
    credits nothing the second time)."""

    path: str
    imported: int
    matched: int
    unknown: tuple[str, ...]
    duplicates_in_file: int
    duplicates_of_earlier: int
    rewarded: int
    deployments: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unknown": list(self.unknown)}


def import_feedback(path: str | Path, *, workspace: Workspace | None = None) -> FeedbackImport:
    """Record every feedback of the CSV or Parquet file ``path`` (columns ``id`` and
    ``label`` or ``reward``, with ``row`` and ``time`` optional: see
    :mod:`loopml.serve._feedback_file`); see the module text for what is checked.
    Nothing is written unless the whole file is right."""
    import polars as pl

    from loopml._context import workspace_in_use

    ws = workspace_in_use(workspace)
    place = Place(Path(path), Path(path).suffix.lower() == ".csv")
    told = read_feedback_file(path, now_us=now_us()).with_row_index("line")
    logged = _logged(ws, told["prediction_id"])
    told = told.join(logged, on="prediction_id", how="left", maintain_order="left")
    _check_unknown(told, place)
    _check_matched(told, place)
    keys = told.select("prediction_id", pl.col("row").fill_null(-1))
    before = _had_feedback(ws, told)
    earlier = keys.unique().join(before, on=["prediction_id", "row"], how="semi").height
    credits = _credits(ws, told, place, before["prediction_id"])
    for name, table in _segments(told):
        write_segment(ws, FEEDBACK, name, table, _worker())
    rewarded = 0
    for deployment, arms in credits.items():
        ws.store.add_arm_stats(deployment, arms)
        rewarded += sum(stats.rewards for stats in arms.values())
    matched = told.filter(pl.col("deployment").is_not_null())
    unknown = told.filter(pl.col("deployment").is_null())["prediction_id"]
    return FeedbackImport(
        path=str(path),
        imported=told.height,
        matched=matched.height,
        unknown=tuple(unknown.unique(maintain_order=True).to_list()),
        duplicates_in_file=told.height - keys.unique().height,
        duplicates_of_earlier=earlier,
        rewarded=rewarded,
        deployments=dict(sorted(matched["deployment"].value_counts().rows())),
    )


def _logged(ws: Workspace, ids: pl.Series) -> pl.DataFrame:
    """The logged predictions ``ids`` name: their deployment, version, time, whether an
    arm chose them, their rows and predicted values. Only the segments around the
    times the ids hold are read (the whole log when an id holds none), and only their
    small columns."""
    import polars as pl

    made = made_times(ids)
    since = until = None
    if ids.len() and made.null_count() == 0:
        since, until = _int(made.min()) - AROUND_US, _int(made.max()) + AROUND_US
    wanted = ids.unique().to_frame("prediction_id")
    learns: dict[str, bool] = {}
    found: list[pl.DataFrame] = []
    waiting: list[pl.DataFrame] = []
    segments = find_segments(ws, PREDICTIONS, None, since, until)
    for index, segment in enumerate(segments):
        if segment.name not in learns:
            learns[segment.name] = _learns(ws, segment.name)
        frame = read_segment(ws, segment, columns=[*_LOGGED, "outputs"])
        waiting.append(_summary(frame, first=learns[segment.name]))
        # one join for many segments: each join hashes the file's ids again
        if index == len(segments) - 1 or sum(f.height for f in waiting) >= MATCH_ROWS:
            joined = pl.concat(waiting, how="vertical_relaxed")
            found.append(joined.join(wanted, on="prediction_id", how="semi"))
            waiting = []
    if not found:
        return pl.DataFrame(schema=_summary_schema())
    # an id is logged once; were it twice (a log written by hand), the first is taken
    matched = pl.concat(found, how="vertical_relaxed")
    return matched.unique("prediction_id", keep="first", maintain_order=True)


def made_times(ids: pl.Series) -> pl.Series:
    """The time each id holds (as :func:`loopml._ids.made_us`), null for text that is
    not a loopml id."""
    import polars as pl

    ours = ids.str.contains(r"^[0-9a-f]{32}$")
    digits = ids.str.slice(0, 12).str.to_integer(base=16, strict=False) * 1000
    return pl.select(pl.when(ours).then(digits).cast(pl.Int64)).to_series()


def _int(value: Any) -> int:
    return int(value)


def _summary(frame: pl.DataFrame, *, first: bool) -> pl.DataFrame:
    """What the import needs of logged predictions: with ``first`` (for a bandit, to
    score labels against) the predicted values, one a row, as JSON text (segments
    differ in the predictions' type)."""
    import polars as pl

    outputs = frame.schema.get("outputs")
    if isinstance(outputs, pl.Struct) and "predictions" in {f.name for f in outputs.fields}:
        predicted = pl.col("outputs").struct.field("predictions")
        rows = predicted.list.len()
        firsts: list[str | None] = [None] * frame.height
        if first:
            firsts = [
                None if not values else json.dumps(values, default=str)
                for values in frame.select(predicted.alias("p"))["p"].to_list()
            ]
    else:
        rows, firsts = pl.lit(None, pl.UInt32), [None] * frame.height
    return frame.select(
        "prediction_id",
        "deployment",
        "ref",
        pl.col("time_us").alias("predicted_us"),
        (pl.col("arm").is_not_null() & ~pl.col("fallback") & ~pl.col("shadow")).alias("chosen"),
        rows.alias("rows"),
        pl.Series("predicted", firsts, pl.String),
    ).cast(_summary_schema())


def _check_unknown(told: pl.DataFrame, place: Place) -> None:
    """Feedback on ids the log does not hold: loopml ids, with labels, not rewards,
    timed after the ids were made."""
    import polars as pl

    unknown = told.filter(pl.col("deployment").is_null())
    for line, prediction_id, reward, known_us in unknown.select(
        "line", "prediction_id", "reward", "time_us"
    ).iter_rows():
        made = made_us(prediction_id)
        if made is None:
            raise InvalidInput(
                f"{place(line)}: prediction {prediction_id!r} is not in the prediction log, "
                "and is not an id loopml gives (32 hex digits): give the prediction_id of "
                "the server's answer, or take the row out",
                field="id",
            )
        if reward is not None:
            raise InvalidInput(
                f"{place(line)}: a reward for prediction {prediction_id!r}, which the "
                "prediction log does not hold: a reward goes to the arm that made the "
                "prediction, so it needs the prediction logged; import it once it is, or "
                "take the row out (a label may come before its prediction)",
                field="reward",
            )
        if known_us < made:
            raise _before(place(line), prediction_id, known_us, made)


def _check_matched(told: pl.DataFrame, place: Place) -> None:
    """Feedback on logged predictions: a row each has, a time not before each."""
    import polars as pl

    matched = told.filter(pl.col("deployment").is_not_null())
    wide = matched.filter(pl.col("row").is_not_null() & (pl.col("row") >= pl.col("rows")))
    if wide.height:
        line, prediction_id, row, rows = wide.select("line", "prediction_id", "row", "rows").row(0)
        raise InvalidInput(
            f"{place(line)}: row {row} is not a row of prediction {prediction_id!r}, which "
            f"has {rows}: give one from 0 to {rows - 1}, or leave row empty for every row",
            field="row",
        )
    early = matched.filter(pl.col("time_us") < pl.col("predicted_us"))
    if early.height:
        line, prediction_id, known_us, predicted_us = early.select(
            "line", "prediction_id", "time_us", "predicted_us"
        ).row(0)
        raise _before(place(line), prediction_id, known_us, predicted_us)


def _before(where: str, prediction_id: str, known_us: int, made_us: int) -> InvalidInput:
    from loopml._time import from_us

    return InvalidInput(
        f"{where}: time {from_us(known_us).isoformat()} is before prediction "
        f"{prediction_id!r} was made ({from_us(made_us).isoformat()}); give when the label "
        "was known, after the prediction (a time with no offset is UTC), or leave it empty",
        field="time",
    )


def _credits(
    ws: Workspace, told: pl.DataFrame, place: Place, credited: pl.Series
) -> dict[str, dict[str, Any]]:
    """What the file adds to the bandit arms that made its predictions, by deployment
    and version: a reward given, else for a label 1 when it is the row's prediction and
    0 when not (on no row, the share of the prediction's rows it is); InvalidInput for a
    reward a bandit cannot take. An arm learns once a prediction: from the file's first
    line on it, and not at all from one that had feedback before (``credited``: a file
    imported again credits nothing)."""
    import polars as pl

    from loopml.serve._rewards import reward_of
    from loopml.store import ArmStats

    chosen = told.filter(pl.col("chosen").fill_null(False))
    done = set(credited.to_list())  # predictions whose arm has learnt from them
    credits: dict[str, dict[str, Any]] = {}
    for deployment in chosen["deployment"].unique(maintain_order=True).to_list():
        if not _learns(ws, deployment):
            continue
        arms: dict[str, ArmStats] = {}
        rows = chosen.filter(pl.col("deployment") == deployment)
        for line, prediction_id, ref, reward, label, predicted, row in rows.select(
            "line", "prediction_id", "ref", "reward", "label", "predicted", "row"
        ).iter_rows():
            scored = reward_of(None, _value(label), _value(predicted), row)
            value = reward if reward is not None else scored
            if value is None:
                continue
            if not 0.0 <= value <= 1.0:
                raise InvalidInput(
                    f"{place(line)}: reward {value!r} for a prediction of bandit deployment "
                    f"{deployment!r} must be from 0 to 1; scale it (1 for a success, 0 for "
                    "a failure)",
                    field="reward",
                )
            if prediction_id not in done:
                done.add(prediction_id)
                arms[ref] = arms.get(ref, ArmStats()) + ArmStats(rewards=1, reward_sum=value)
        if arms:
            credits[deployment] = arms
    return credits


def _learns(ws: Workspace, deployment: str) -> bool:
    """Whether ``deployment`` routes by a bandit, which learns from rewards (not one
    routing by fixed weights, nor one that is gone)."""
    from loopml.serve._policy import Policy

    try:
        policy = Policy.from_dict(ws.store.get_deployment(deployment).policy)
    except (NotFound, InvalidInput):
        return False
    return policy.routing != "fixed"


def _value(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _had_feedback(ws: Workspace, told: pl.DataFrame) -> pl.DataFrame:
    """The predictions and rows (``row`` -1 for a whole prediction) of the file that
    already had feedback in the log: read from the time the earliest of them was made."""
    import polars as pl

    from loopml._time import from_us
    from loopml.serve._read import feedback_records

    if not told.height:
        return pl.DataFrame(schema={"prediction_id": pl.String, "row": pl.Int64})
    earliest = pl.concat([made_times(told["prediction_id"]), told["predicted_us"]]).min()
    since = None if earliest is None else from_us(_int(earliest) - AROUND_US)
    names = [*told["deployment"].drop_nulls().unique().to_list(), NO_DEPLOYMENT]
    frames = [
        feedback_records(name, since=since, workspace=ws).select(
            "prediction_id", pl.col("row").fill_null(-1)
        )
        for name in names
    ]
    before = pl.concat(frames).unique()
    return before.join(told.select("prediction_id").unique(), on="prediction_id", how="semi")


def _segments(told: pl.DataFrame) -> Iterator[tuple[str, Any]]:
    """The records as feedback segments: by deployment (the ids the log does not hold
    under no deployment's name), at most SEGMENT_ROWS each."""
    import polars as pl

    records = told.select(
        "prediction_id", "time_us", "reward", "label", "row", "deployment"
    ).with_columns(pl.col("deployment").fill_null(NO_DEPLOYMENT).alias("name"))
    for (name,), group in records.group_by("name", maintain_order=True):
        table = group.drop("name").to_arrow().cast(FEEDBACK.schema)
        for start in range(0, table.num_rows, SEGMENT_ROWS):
            yield str(name), table.slice(start, SEGMENT_ROWS)


def _worker() -> str:
    return f"import:{socket.gethostname()}/{os.getpid()}"
