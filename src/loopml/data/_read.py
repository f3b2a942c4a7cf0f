"""Reading what users hand in: Parquet and CSV files, and pandas/Polars/Arrow tables.

Every failure is an :class:`InvalidInput` that names the file (or the table) and the
column, and says what to do.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".tsv")
# What pandas reads as missing by default; users moving from pandas expect the same.
NULL_MARKERS = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "<NA>"]
MIXED_NUMERIC_SHARE = 0.5  # a text column whose values are mostly numbers is mixed
# Column types are guessed from the first rows: 10,000 of them, or for a wide table as
# many as hold a million values (at least 100). A later value that does not fit makes
# Polars stop, and the whole file is then read for its types.
INFER_ROWS = 10_000
INFER_ROWS_MIN = 100
INFER_VALUES = 1_000_000
SMALL_PART = 10_000  # rows: a CSV read in parts smaller than this is made one array


def file_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``folder``, from the path; InvalidInput for anything else."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise InvalidInput(
        f"cannot tell the format of {path}: loopml reads Parquet (.parquet, .pq), CSV "
        "(.csv, .tsv) and folders of files; rename it, or read it yourself and add the "
        "DataFrame with loopml.data.add(df, name=...)"
    )


def read_table(path: Path, fmt: str) -> pl.DataFrame:
    """The table in a Parquet or CSV file, checked: readable, not empty, one type per column."""
    import polars as pl

    try:
        if fmt == "parquet":
            with path.open("rb") as head:
                if head.read(4) != b"PAR1":
                    raise InvalidInput(
                        f"{path} is not a Parquet file (it does not start with PAR1); if it is "
                        "CSV, give it a .csv name"
                    )
            with _panic_output_held():
                table = pl.read_parquet(path)
        else:
            table = _read_csv(path)
    except InvalidInput:
        raise
    except BaseException as error:
        # A damaged file can make Polars' Rust code panic: pyo3 raises that as a
        # BaseException, which is about the file, not a bug to stop on.
        damaged = type(error).__name__ == "PanicException"
        if not damaged and not isinstance(error, pl.exceptions.PolarsError | OSError | ValueError):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if damaged:
            first = f"the reader stopped on damaged contents ({first[:200]})"
        if fmt == "csv":
            first += _ragged_line(path)
        raise InvalidInput(
            f"cannot read {path} as {fmt.upper()}: {first}; check that the file is whole "
            f"and really {fmt.upper()}"
        ) from None
    check_table(table, str(path))
    return table


def _ragged_line(path: Path, lines: int = 10_000) -> str:
    """Words on the first of the first ``lines`` lines of a CSV file whose number of
    fields is not the header's (what the reader's "more fields than defined" means),
    or nothing."""
    import csv
    import itertools

    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as text:
            rows = csv.reader(text)
            header = next(rows, None)
            if header is None:
                return ""
            for number, row in enumerate(itertools.islice(rows, lines), start=2):
                if row and len(row) != len(header):
                    return (
                        f" (line {number} has {len(row)} fields where the header, line 1, "
                        f"has {len(header)})"
                    )
    except (OSError, csv.Error):
        return ""
    return ""


@contextlib.contextmanager
def _panic_output_held() -> Iterator[None]:
    """Hold what native code writes to the process's stderr (file descriptor 2) while
    this block runs, and pass it on afterwards, unless the block ended in a panic.

    A damaged Parquet file can make Polars' Rust code panic; Rust prints the panic and
    a backtrace to stderr before Python sees the exception, which then becomes one
    clear error about the file.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    panicked = False
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException as error:
            panicked = type(error).__name__ == "PanicException"
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            output = held.read()
            if output and not panicked:
                os.write(2, output)


def _read_csv(path: Path) -> pl.DataFrame:
    import polars as pl

    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    header = _header(path, separator)
    _refuse_repeated_header(path, header)
    options: dict[str, Any] = {"separator": separator, "null_values": NULL_MARKERS}
    rows = inferred_rows(len(header))
    try:
        table = pl.read_csv(path, infer_schema_length=rows, **options)
        if _typed_by_nulls(table, rows):
            table = pl.read_csv(path, infer_schema_length=INFER_ROWS, **options)
    except pl.exceptions.ComputeError:
        # A value far down the file did not fit the type guessed from the first rows.
        table = pl.read_csv(path, infer_schema_length=None, **options)
    if table.n_chunks() > 1 and table.height < table.n_chunks() * SMALL_PART:
        # Many small parts per column (a wide file: Polars reads it in parts of a few
        # rows): one array per column instead, or each later step over the columns
        # (hashes, profile, sample) joins them itself, again.
        table = table.rechunk()
    _refuse_mixed_text(table, str(path))
    return table


def inferred_rows(width: int) -> int:
    """How many rows Polars guesses the types from: 10,000 for a table of up to 100
    columns, fewer for a wider one (it looks at every value of those rows: 4.5 s for
    the 20 million of 20,000 columns), never fewer than 100.

    >>> inferred_rows(20), inferred_rows(2_000), inferred_rows(20_000)
    (10000, 500, 100)
    """
    return max(INFER_ROWS_MIN, min(INFER_ROWS, INFER_VALUES // max(width, 1)))


def _typed_by_nulls(table: pl.DataFrame, rows: int) -> bool:
    """Whether a text column was typed from missing values only: its first ``rows``
    values are all missing, which Polars reads as text whatever follows. Then the
    types are guessed again from the first 10,000 rows, as for a narrow table."""
    import polars as pl

    if rows >= INFER_ROWS or table.height <= rows:
        return False
    return any(
        column.dtype == pl.String and column.head(rows).null_count() == rows
        for column in table.get_columns()
    )


def _header(path: Path, separator: str) -> list[str]:
    import csv

    with path.open(newline="", encoding="utf-8", errors="replace") as source:
        return next(csv.reader(source, delimiter=separator), [])


def _refuse_repeated_header(path: Path, header: list[str]) -> None:
    """Polars would rename a second ``a`` to ``a_duplicated_0``; say so instead."""
    seen: set[str] = set()
    for name in header:
        if name in seen and name:
            raise InvalidInput(
                f"{path} has two columns named {name!r}; give every column its own name"
            )
        seen.add(name)


def _refuse_mixed_text(table: pl.DataFrame, where: str) -> None:
    """A CSV column that is mostly numbers with some words is a data error, not text
    (``twelve`` among amounts). A column of codes, mostly numbers but with others that
    hold digits too (ICD codes such as 401, 250 and V45), is text."""
    import polars as pl

    for name in table.columns:
        column = table[name]
        if column.dtype != pl.String:
            continue
        present = column.drop_nulls()
        if not len(present):
            continue
        numbers = present.str.strip_chars().cast(pl.Float64, strict=False)
        parsed = len(numbers) - numbers.null_count()
        if parsed == len(present) or parsed <= MIXED_NUMERIC_SHARE * len(present):
            continue
        if present.filter(numbers.is_null()).str.contains(r"\d").all():
            continue  # codes
        row = int(numbers.is_null().arg_true()[0])
        bad = present[row]
        raise InvalidInput(
            f"column {name!r} of {where} mixes numbers and text: {parsed:,} of "
            f"{len(present):,} values are numbers, but others are not, e.g. {bad!r}; fix "
            "those values (or mark them missing), or read the file yourself and add the "
            "DataFrame with the column typed as you want"
        )


def check_table(table: pl.DataFrame, where: str) -> None:
    if not table.width:
        raise InvalidInput(f"{where} has no columns; a dataset needs at least one")
    if not table.height:
        raise InvalidInput(
            f"{where} has no rows (columns: {', '.join(table.columns[:10])}); add data with "
            "at least one row"
        )
    names = [name for name in table.columns if not name.strip()]
    if names:
        raise InvalidInput(f"{where} has a column with an empty name; give every column a name")


def as_polars(obj: Any, where: str = "the DataFrame") -> pl.DataFrame:
    """A pandas or Polars DataFrame, or an Arrow table, as a Polars DataFrame."""
    import polars as pl

    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    if isinstance(obj, pl.DataFrame):
        table = obj
    elif _is_pandas(obj):
        table = _from_pandas(obj, where)
    elif type(obj).__module__.startswith("pyarrow"):
        try:
            table = pl.from_arrow(obj)  # type: ignore[assignment]
        except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
            raise InvalidInput(f"cannot use {where}: {error}") from None
    else:
        raise InvalidInput(
            f"cannot add a {type(obj).__name__}: give a file path, a pandas or Polars "
            "DataFrame, or a pyarrow Table"
        )
    check_table(table, where)
    for name, dtype in table.schema.items():
        if dtype == pl.Object:
            raise InvalidInput(
                f"column {name!r} of {where} holds Python objects loopml cannot store; "
                "convert it to numbers, text or dates first"
            )
    return table


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _from_pandas(frame: Any, where: str) -> pl.DataFrame:
    import polars as pl

    unnamed = [name for name in frame.columns if not isinstance(name, str)]
    if unnamed:
        raise InvalidInput(
            f"column {unnamed[0]!r} of {where} is not named by text; name the columns, "
            "e.g. df.columns = [str(c) for c in df.columns]"
        )
    for name in frame.columns:
        column = frame[name]
        if str(column.dtype) != "object":
            continue
        kinds = {type(v).__name__ for v in column.dropna().tolist()}
        if len(kinds) > 1:
            raise InvalidInput(
                f"column {name!r} of {where} mixes types ({', '.join(sorted(kinds))}); "
                "make it one type, e.g. df[col].astype(str) or pd.to_numeric(df[col])"
            )
    try:
        table: pl.DataFrame = pl.from_pandas(frame)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
        raise InvalidInput(f"cannot use {where}: {error}") from None
    return table
