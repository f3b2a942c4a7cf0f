"""A digest of the rows an evaluation was made on, so that two evaluations can be
told to be on the same rows before their numbers are compared.

The digest does not depend on the order of the rows, nor of the columns: two
evaluations of the same rows, read in another order, compare as equal, since every
metric but a time series' is a sum over rows, and the row-by-row pairing of two
models is made inside one ``evaluate(..., against=)`` call, where both predict the
same frame. A time series is digested in order (its forecasts depend on it).

It must also stay the same across Polars versions, since a champion's evaluation is
read back months later: so it is not ``hash_rows`` (whose values may change between
versions) but blake3 over a canonical encoding — the rows sorted by every column, then
each column's name, type, missing values and values, numbers as their bytes and
everything else as text.

>>> import polars as pl
>>> a = pl.DataFrame({"x": [1, 2, 3], "y": ["a", "b", None]})
>>> rows_digest(a) == rows_digest(a.reverse().select("y", "x"))
True
>>> rows_digest(a) == rows_digest(a.head(2))
False
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


def rows_digest(frame: pl.DataFrame, *, ordered: bool = False) -> str:
    import blake3
    import polars as pl

    names = sorted(frame.columns)
    table = frame.select(names).with_columns(
        [_as_text(frame[name]) for name in names if not _plain(frame.schema[name])]
    )
    if not ordered and names and table.height:
        table = table.sort(names, nulls_last=True)
    digest = blake3.blake3(b"ordered\0" if ordered else b"unordered\0")
    digest.update(f"{table.height}\0".encode())
    for name in names:
        column = table[name]
        digest.update(f"{name}\0{frame.schema[name]}\0".encode())
        digest.update(column.is_null().to_numpy().tobytes())
        if column.dtype.is_numeric() or column.dtype == pl.Boolean:
            filled = column.fill_null(0) if column.dtype != pl.Boolean else column.fill_null(False)
            digest.update(filled.to_numpy().tobytes())
        else:
            text = column.fill_null("")
            digest.update(text.str.len_bytes().to_numpy().tobytes())
            digest.update("".join(text.to_list()).encode())
    return digest.hexdigest()


def _plain(dtype: pl.DataType) -> bool:
    import polars as pl

    return dtype.is_numeric() or dtype in (pl.Boolean, pl.String)


def _as_text(column: pl.Series) -> pl.Series:
    import polars as pl

    try:
        return column.cast(pl.String)
    except pl.exceptions.PolarsError:  # nested values: their text, one by one
        return pl.Series(column.name, [None if v is None else repr(v) for v in column.to_list()])
