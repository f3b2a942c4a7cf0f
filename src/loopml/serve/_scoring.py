"""Scoring a dataset version batch by batch: each batch read (a Parquet version
streamed, only the columns needed), checked and scored by the model's Predictor, and
appended to a Parquet file at once, so that a big table is never held twice.

>>> probability_column("setosa")
'probability_setosa'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.models._missing import Missing, RefusedValues, refused

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from loopml.data import DatasetVersion
    from loopml.models import Predictor

PREDICTION = "prediction"
PROBABILITY = "probability_"  # + the class, one column per class


@dataclass(frozen=True)
class Plan:
    """What to score: the ``source`` version's columns ``read`` (the ``features`` the
    ``predictor`` of model version ``model`` takes, None when it does not say, and
    those ``kept`` beside the predictions), ``size`` rows at a time."""

    source: DatasetVersion
    predictor: Predictor
    model: str
    features: list[str] | None
    kept: list[str]
    read: list[str]
    size: int


def score_to(path: Path, plan: Plan) -> int:
    """Every batch of ``plan.source`` scored and appended to the Parquet file ``path``;
    the rows written. A progress bar on a terminal."""
    from loopml._progress import progress_bar

    source = plan.source
    writer = None
    done = 0
    try:
        with progress_bar(f"scoring {source.ref}", source.rows) as update:
            for chunk in _chunks(source, plan.read, plan.size):
                table = _scored(chunk, done, plan)
                if writer is None:
                    writer = _writer(path, table.schema)
                writer.write_table(_same_types(table, writer.schema, source, done))
                done += chunk.height
                update(completed=done)
    finally:
        if writer is not None:
            writer.close()
    return done


def _writer(path: Path, schema: pa.Schema) -> Any:
    """A Parquet writer of ``schema``: zstd, as Polars writes a DataFrame added, and
    dictionaries only for columns that are not floats (encoding 100,000 distinct
    floats as a dictionary took five times as long as writing them plain)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    coded = [field.name for field in schema if not pa.types.is_floating(field.type)]
    return pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=coded)


def _same_types(table: pa.Table, schema: pa.Schema, source: DatasetVersion, at: int) -> pa.Table:
    """``table`` in the types of the first batch (a batch of missing values alone may
    be read as another type); InvalidInput when it cannot be."""
    import pyarrow as pa

    if table.schema == schema:
        return table
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise InvalidInput(
            f"scoring {source.what}: the batch from row {at + 1:,} has other column types "
            f"than the first ({table.schema.to_string(show_schema_metadata=False)} where "
            f"{schema.to_string(show_schema_metadata=False)} came first: {error}); score it "
            "in one batch (a larger batch_rows) so that one type is found for each column",
            field="batch_rows",
        ) from None


def _chunks(source: DatasetVersion, read: list[str], size: int) -> Iterator[pl.DataFrame]:
    """``source``'s columns ``read``, ``size`` rows at a time. Parquet is streamed; a CSV
    file is read whole by loopml's reader (the types its profile was made with)."""
    import polars as pl

    if source.format == "parquet":
        import pyarrow.parquet as pq

        # Pre-buffering reads ahead and keeps every column chunk it read: a copy of the
        # whole table, decompressed, by the end. Without it, one row group at a time.
        file = pq.ParquetFile(source.path(), pre_buffer=False)
        try:
            for batch in file.iter_batches(batch_size=size, columns=read):
                yield pl.DataFrame(pl.from_arrow(batch))
        finally:
            file.close()
        return
    yield from source.to_polars().select(read).iter_slices(size)


def _scored(chunk: pl.DataFrame, at: int, plan: Plan) -> pa.Table:
    """The kept columns of ``chunk`` and its predictions, as an Arrow table."""
    import pyarrow as pa

    features, kept, source = plan.features, plan.kept, plan.source
    try:
        found = plan.predictor.predict(chunk if features is None else chunk.select(features))
    except RefusedValues as error:
        import numpy as np

        holes = Missing(np.asarray(error.rows, dtype=np.intp), list(error.columns), error.what)
        raise InvalidInput(
            f"{source.what} cannot be scored by model {plan.model}: "
            f"{refused(plan.model, holes, first=at + 1)}; fix the data and add it as a "
            "new version (nothing was recorded)",
            field=error.field,
        ) from None
    except InvalidInput as error:
        rows = f"rows {at + 1:,} to {at + chunk.height:,}"
        raise InvalidInput(
            f"{source.what} cannot be scored by model {plan.model} ({rows}): {error}; fix "
            f"the data and add it as a new version, or score it with a model that takes "
            "these columns (nothing was recorded)",
            field=error.field,
        ) from None
    made = {PREDICTION: pa.array(found.predictions)}
    if found.probabilities is not None and found.classes is not None:
        for position, label in enumerate(found.classes):
            made[probability_column(label)] = pa.array(found.probabilities[:, position])
    if not kept:  # an Arrow table of no columns has no rows to add columns to
        return pa.table(made)
    table = chunk.select(kept).to_arrow()
    for name, values in made.items():
        table = table.append_column(name, values)
    return table


def probability_column(label: Any) -> str:
    """The column of the probability of class ``label``: ``probability_<class>``.

    >>> import numpy as np
    >>> probability_column(np.int64(1)), probability_column("setosa")
    ('probability_1', 'probability_setosa')
    """
    plain = label.item() if hasattr(label, "item") else label
    return f"{PROBABILITY}{plain}"
