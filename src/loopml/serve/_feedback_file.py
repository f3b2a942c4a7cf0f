"""A file of feedback, read and checked whole before anything is recorded.

CSV or Parquet, one row per feedback, with the columns:

- ``id`` (or ``prediction_id``): the prediction's id, as the server answered it;
- ``label``: the true answer, one value (text, a number or true/false: a CSV's column
  is typed as a whole, numbers when every value is one), or ``reward``: a finite number
  (what a bandit learns from); each row needs one of them, and may not have both (as
  :func:`~loopml.serve._rewards.checked_feedback` says for every feedback);
- ``row`` (optional): the row of a prediction of several rows it is about (from 0;
  empty for every row);
- ``time`` (optional): when the label was known, an ISO 8601 date and time (UTC unless
  it gives an offset) or a Parquet timestamp; empty or absent for now.

Any other column, a value of the wrong type, a time in the future: InvalidInput naming
the line (CSV) or row (Parquet), the column, the value and the fix.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
>>> _ = path.write_text("id,label,time\\np1,yes,2026-05-01T12:00:00Z\\np2,no,\\n")
>>> frame = read_feedback_file(path, now_us=1_800_000_000_000_000)
>>> frame.select("prediction_id", "label", "time_us").rows()
[('p1', '"yes"', 1777636800000000), ('p2', '"no"', 1800000000000000)]
>>> _ = path.write_text("id,label,row\\np1,yes,-1\\n")
>>> read_feedback_file(path, now_us=0)
Traceback (most recent call last):
...
loopml.errors.InvalidInput: ...labels.csv, line 2: row -1 is not a row number; ...
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loopml.errors import InvalidInput
from loopml.serve._json import encode_json
from loopml.serve._labels import checked_label
from loopml.serve._rewards import checked_feedback

if TYPE_CHECKING:
    import polars as pl

ID_COLUMNS = ("id", "prediction_id")
COLUMNS = (*ID_COLUMNS, "label", "reward", "row", "time")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
# A label known up to this long after now is taken as now's (clocks differ a little).
FUTURE_SLACK_US = 60_000_000


class Place:
    """How a file's rows are named in errors: a CSV's lines, a Parquet file's rows."""

    def __init__(self, path: Path, csv: bool) -> None:
        self.path = path
        self.csv = csv

    def __call__(self, index: int) -> str:
        return f"{self.path}, line {index + 2}" if self.csv else f"{self.path}, row {index + 1}"


def read_feedback_file(path: str | Path, *, now_us: int) -> pl.DataFrame:
    """The feedback in ``path``, checked: columns ``prediction_id``, ``label`` (JSON
    text, or null), ``reward`` (Float64), ``row`` (Int64) and ``time_us`` (unix
    microseconds, ``now_us`` where none is given), in the file's order."""
    import polars as pl

    path = Path(path)
    place = Place(path, _is_csv(path))
    frame = _read(path, place.csv)
    _check_columns(frame, path)
    id_column = next(name for name in ID_COLUMNS if name in frame.columns)
    ids = _ids(frame[id_column], place)
    absent = pl.Series([None] * frame.height, dtype=pl.Null)
    columns = [
        ids.alias("prediction_id"),
        _labels(frame.get_column("label", default=absent), place),
        _rewards(frame.get_column("reward", default=absent), place),
        _rows(frame.get_column("row", default=absent), place),
        _times(frame.get_column("time", default=absent), place, now_us),
    ]
    checked = pl.DataFrame(columns)
    empty = checked["label"].is_null() & checked["reward"].is_null()
    if empty.any():
        at = int(empty.arg_true()[0])
        raise InvalidInput(
            f"{place(at)}: feedback on {checked['prediction_id'][at]!r} has neither a label "
            "nor a reward; give one, or take the row out",
            field="label",
        )
    both = checked["label"].is_not_null() & checked["reward"].is_not_null()
    if both.any():
        at = _first_bad(both)
        try:
            checked_feedback(checked["reward"][at], json.loads(checked["label"][at]))
        except InvalidInput as error:
            raise _at(place(at), error) from None
    return checked


def _is_csv(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return True
    if suffix in PARQUET_SUFFIXES:
        return False
    raise InvalidInput(
        f"cannot tell the format of {path}: feedback is read from CSV (.csv) or Parquet "
        "(.parquet, .pq) files; rename it",
        field="path",
    )


def _read(path: Path, csv: bool) -> pl.DataFrame:
    import polars as pl

    if not path.is_file():
        raise InvalidInput(
            f"{path} is not a file{' (it is a folder)' if path.is_dir() else ''}: give the "
            "path of a CSV or Parquet file of feedback",
            field="path",
        )
    kind = "CSV" if csv else "Parquet"
    try:
        if csv:
            text = dict.fromkeys((*ID_COLUMNS, "time"), pl.String)
            return pl.read_csv(path, infer_schema_length=None, schema_overrides=text)
        with path.open("rb") as head:
            if head.read(4) != b"PAR1":
                raise InvalidInput(
                    f"{path} is not a Parquet file (it does not start with PAR1); if it "
                    "is CSV, give it a .csv name",
                    field="path",
                )
        return pl.read_parquet(path)
    except InvalidInput:
        raise
    except BaseException as error:
        # A damaged file can make Polars' Rust code panic, raised as a BaseException:
        # it is about the file, not a bug.
        damaged = type(error).__name__ == "PanicException"
        if not damaged and not isinstance(error, pl.exceptions.PolarsError | OSError | ValueError):
            raise
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise InvalidInput(
            f"cannot read {path} as {kind}: {first}; check that the file is whole and "
            f"really {kind}",
            field="path",
        ) from None


def _check_columns(frame: pl.DataFrame, path: Path) -> None:
    unknown = [name for name in frame.columns if name not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"{path} has column(s) {', '.join(map(repr, unknown))}, which feedback does not "
            f"have: its columns are id, label, reward, row and time (id, and label or "
            "reward, required); rename or drop the others",
            field=unknown[0],
        )
    given = [name for name in ID_COLUMNS if name in frame.columns]
    if len(given) != 1:
        which = "both id and prediction_id" if given else "no id column"
        raise InvalidInput(
            f"{path} has {which}: give the predictions' ids in one column named id",
            field="id",
        )
    if "label" not in frame.columns and "reward" not in frame.columns:
        raise InvalidInput(
            f"{path} has no label or reward column: give the true answers in a column "
            "named label (or rewards, numbers, in one named reward)",
            field="label",
        )


def _first_bad(bad: pl.Series) -> int:
    return int(bad.arg_true()[0])


def _at(where: str, error: InvalidInput) -> InvalidInput:
    """``error``, about a value of the file, saying where in the file the value is."""
    return InvalidInput(f"{where}: {error}", field=error.field)


def _ids(column: pl.Series, place: Place) -> pl.Series:
    import polars as pl

    if column.dtype != pl.String:
        raise InvalidInput(
            f"{place.path}: column {column.name} holds {column.dtype}, not text: give the "
            "prediction_id of each answer as text",
            field=column.name,
        )
    bad = column.is_null() | (column.str.strip_chars() == "")
    if bad.any():
        raise InvalidInput(
            f"{place(_first_bad(bad))}: no prediction id; give the prediction_id the "
            "server answered with, or take the row out",
            field=column.name,
        )
    return column


def _labels(column: pl.Series, place: Place) -> pl.Series:
    """Labels as the log keeps them: JSON text of their values (null where none)."""
    import polars as pl

    if column.dtype.is_float():
        bad = column.is_nan() | column.is_infinite()
        if bad.any():
            at = _first_bad(bad)
            raise InvalidInput(
                f"{place(at)}: label {column[at]} is not a value a prediction can have; "
                "give the true answer, or leave the label empty",
                field="label",
            )
    if column.dtype.is_integer() or column.dtype in (pl.Boolean, pl.Null):
        return column.cast(pl.String).str.to_lowercase().alias("label")  # JSON: 1, true
    nested = column.dtype.is_nested() or column.dtype == pl.Object  # lists, structs
    if nested and column.is_not_null().any():
        at = _first_bad(column.is_not_null())
        try:
            checked_label(column.to_list()[at])
        except InvalidInput as error:
            raise _at(place(at), error) from None
    return pl.Series(
        "label",
        [None if value is None else encode_json(value) for value in column.to_list()],
        pl.String,
    )


def _rewards(column: pl.Series, place: Place) -> pl.Series:
    import polars as pl

    if column.dtype == pl.String:  # text: of numbers, or a value that is none
        column = _numbers(column, place, "reward", "a number (1 for a success, 0 for a failure)")
    if not (column.dtype.is_numeric() or column.dtype in (pl.Boolean, pl.Null)):
        raise InvalidInput(
            f"{place.path}: column reward holds {column.dtype}, not numbers; give numbers "
            "(1 for a success, 0 for a failure)",
            field="reward",
        )
    rewards = column.cast(pl.Float64).alias("reward")
    bad = rewards.is_nan() | rewards.is_infinite()
    if bad.any():
        at = _first_bad(bad)
        raise InvalidInput(
            f"{place(at)}: reward {rewards[at]} is not a finite number; give one, or leave "
            "it empty",
            field="reward",
        )
    return rewards


def _rows(column: pl.Series, place: Place) -> pl.Series:
    import polars as pl

    fix = "the row of the prediction the feedback is about (0 for the first)"
    if column.dtype == pl.String:
        column = _numbers(column, place, "row", fix)
    if not (column.dtype.is_numeric() or column.dtype == pl.Null):
        raise InvalidInput(
            f"{place.path}: column row holds {column.dtype}, not row numbers; give {fix}",
            field="row",
        )
    numbers = column.cast(pl.Float64)
    bad = numbers.is_not_null() & (
        numbers.is_nan() | numbers.is_infinite() | (numbers != numbers.floor()) | (numbers < 0)
    )
    if bad.any():
        at = _first_bad(bad)
        raise InvalidInput(
            f"{place(at)}: row {column[at]} is not a row number; give {fix}, or leave it empty",
            field="row",
        )
    return column.cast(pl.Int64).alias("row")


def _numbers(column: pl.Series, place: Place, name: str, fix: str) -> pl.Series:
    """A column of text as numbers; InvalidInput at the first text that is none."""
    import polars as pl

    numbers = column.str.strip_chars().cast(pl.Float64, strict=False)
    bad = column.is_not_null() & numbers.is_null()
    if bad.any():
        at = _first_bad(bad)
        raise InvalidInput(
            f"{place(at)}: {name} {column[at]!r} is not a number; give {fix}, or leave it empty",
            field=name,
        )
    return numbers


def _times(column: pl.Series, place: Place, now_us: int) -> pl.Series:
    """When each label was known, in unix microseconds: ``now_us`` where not given."""
    import polars as pl

    if column.dtype == pl.String:
        known = _parsed(column, place)
    elif isinstance(column.dtype, pl.Datetime):
        zoned = column.dt.replace_time_zone("UTC") if column.dtype.time_zone is None else column
        known = zoned.dt.convert_time_zone("UTC").dt.epoch("us")
    elif column.dtype == pl.Date:
        known = column.cast(pl.Datetime("us")).dt.epoch("us")
    elif column.dtype == pl.Null:
        known = column.cast(pl.Int64)
    else:
        raise InvalidInput(
            f"{place.path}: column time holds {column.dtype}: give when each label was known "
            "as an ISO 8601 date and time (2026-05-01T12:00:00Z) or a timestamp column",
            field="time",
        )
    late = known > now_us + FUTURE_SLACK_US
    if late.any():
        at = _first_bad(late)
        raise InvalidInput(
            f"{place(at)}: time {column[at]} is in the future; give when the label was "
            "known (a time with no offset is UTC: add one, such as +02:00, for local time)",
            field="time",
        )
    return known.fill_null(now_us).cast(pl.Int64).alias("time_us")


def _parsed(column: pl.Series, place: Place) -> pl.Series:
    """ISO 8601 text as unix microseconds (UTC unless the text gives an offset)."""
    import polars as pl

    parsed: dict[str, int] = {}
    for text in column.drop_nulls().unique().to_list():
        moment = _moment(text)
        if moment is None:
            at = _first_bad(column == text)
            raise InvalidInput(
                f"{place(at)}: time {text!r} is not an ISO 8601 date and time; give one "
                "such as 2026-05-01T12:00:00Z (UTC unless it gives an offset), or leave it "
                "empty for now",
                field="time",
            )
        parsed[text] = moment
    return column.replace_strict(parsed, default=None, return_dtype=pl.Int64)


def _moment(text: str) -> int | None:
    from loopml._time import to_us

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_us(moment)
