"""Evaluation rows that are also training rows, found by row digests.

A row is the same row when its identity matches: the declared key columns when a key
is given (``evaluate(..., key="customer_id")``), else every column the evaluation and
training tables share, the label included. That is leakage: the model was trained on
the very row it is scored on. Rows that merely have the same feature values as a
training row — two customers alike in every feature, common with few or discrete
features — are other records, not leaked ones: they are counted apart
(``duplicate_features``), since the model still never saw them.

Each row's values are hashed with Polars' ``hash_rows``: 64 bits per row computed in
Rust, about a millisecond per 100,000 rows, where a cryptographic digest of a
canonical encoding would need a Python loop over rows. Its values are not stable
across Polars versions, but both sides are hashed here, in one call, after being cast
to one schema (so ``1`` and ``1.0`` hash alike, and a categorical column as its text);
the chance that two different rows collide among 10^5 x 10^5 pairs is about
10^10 / 2^64, below one in a billion.

>>> import polars as pl
>>> rows = pl.DataFrame({"id": [1, 2, 3], "x": [1, 2, 3], "y": ["a", "b", "a"]})
>>> seen = pl.DataFrame({"id": [3, 9], "x": [3.0, 1.0], "y": ["a", "a"]})
>>> overlapping(rows, [seen], ["id", "x", "y"]).tolist()   # row 2 is training row 0
[2]
>>> overlapping(rows, [seen], ["x"]).tolist()               # rows 0 and 2 look alike
[0, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl


def overlapping(
    data: pl.DataFrame, train: Sequence[pl.DataFrame], columns: list[str]
) -> npt.NDArray[np.intp]:
    """Positions of the rows of ``data`` whose ``columns`` equal those of a row of
    one of the ``train`` frames."""
    import polars as pl

    parts = [_comparable(data.select(columns))]
    for i, frame in enumerate(train):
        missing = [name for name in columns if name not in frame.columns]
        if missing:
            raise InvalidInput(
                f"train[{i}] lacks column(s) {', '.join(missing)} of the evaluation data; give "
                "the training rows with the same feature and label columns (and key)"
            )
        parts.append(_comparable(frame.select(columns)))
    try:
        hashes = pl.concat(parts, how="vertical_relaxed").hash_rows(seed=0).to_numpy()
    except pl.exceptions.PolarsError as error:
        raise InvalidInput(
            f"the training data cannot be compared with the evaluation data ({error}); give "
            "its columns the same types"
        ) from None
    rows = data.height
    return np.flatnonzero(np.isin(hashes[:rows], hashes[rows:]))


def identity_columns(
    data: pl.DataFrame, train: Sequence[pl.DataFrame], key: Sequence[str] | None
) -> list[str]:
    """The columns that say which row a row is: ``key``, else every column of the
    evaluation data that each training table has too."""
    if key is not None:
        return list(key)
    return [name for name in data.columns if all(name in frame.columns for frame in train)]


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.Categorical or isinstance(dtype, pl.Enum)
    ]
    return frame.with_columns(pl.col(text).cast(pl.String)) if text else frame
