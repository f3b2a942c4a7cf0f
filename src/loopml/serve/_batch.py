"""Batch scoring: a dataset version scored by a registered model, saved as a new
version of another dataset, with its lineage.

The model is loaded as a server loads it (:func:`loopml.registry.load_served`: the
version an alias names now, the native model or its ONNX copy, its bytes checked) and
called through its :class:`~loopml.models.Predictor`, so every batch is checked
against the model's signature and transformed as in serving. The rows are read and
scored ``batch_rows`` at a time and the result written to a Parquet file batch by
batch: a big table is never held twice. Only when every row is scored is the file
recorded as the next version of ``out`` (through :func:`loopml.data.add`'s own
code, so it is profiled like any other version), by a run of kind ``predict`` whose
inputs are the model version and the dataset version and whose output is the new
version: ``output <- run <- {model, data}``. A batch that does not fit the model is an
InvalidInput naming the column, and nothing is recorded.

>>> import tempfile, loopml
>>> from loopml import registry, serve
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_iris(return_X_y=True, as_frame=True)
>>> ws = loopml.init(tempfile.mkdtemp())
>>> flowers = loopml.data.add(X.assign(species=y), name="flowers", workspace=ws)
>>> model = LogisticRegression(max_iter=500).fit(X, y)
>>> _ = registry.register(model, "iris", signature_from=X, workspace=ws)
>>> scored = serve.predict("iris@latest", "flowers@v1", out="flowers-scored",
...                        columns=["species"], workspace=ws)
>>> scored.ref, scored.to_polars().columns
('flowers-scored@v1', ['species', 'prediction', 'probability_0', 'probability_1', 'probability_2'])
>>> (scored.to_polars()["prediction"].to_numpy() == model.predict(X)).all()
np.True_
>>> ws.close()
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._context import run_making_records, workspace_in_use
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from loopml.data import DatasetVersion
    from loopml.models import Predictor
    from loopml.registry import ModelVersion
    from loopml.workspace import Workspace

PREDICTION = "prediction"
PROBABILITY = "probability_"  # + the class, one column per class
RUN_KIND = "predict"
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Scoring:
    """What a batch scoring did: the ``dataset`` version written (``new`` False when its
    content equalled the latest version of ``out``, which is then the one given back),
    the ``model`` version that scored ``rows`` rows of ``data``, through which ``copy``,
    and the ``run_id`` of the run that records it."""

    dataset: DatasetVersion
    model: ModelVersion
    data: DatasetVersion
    copy: str
    rows: int
    run_id: str
    new: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.dataset.ref,
            "new": self.new,
            "rows": self.rows,
            "model": self.model.ref,
            "copy": self.copy,
            "data": self.data.ref,
            "run_id": self.run_id,
            "digest": self.dataset.digest,
            "seconds": self.seconds,
        }


def predict(
    model: str,
    data: str,
    *,
    out: str,
    copy: str | None = None,
    columns: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
    workspace: Workspace | None = None,
) -> DatasetVersion:
    """Score the dataset version ``data`` (``flowers@v2``, ``flowers@latest``) with the
    model version ``model`` names (``iris@champion``) and record the rows, with a
    ``prediction`` column and, for a classifier, a ``probability_<class>`` column per
    class, as the next version of dataset ``out``; that version is returned.

    ``copy`` chooses the copy of the model that runs (``"native"`` or ``"onnx"``; by
    default the one the version serves). ``columns`` are the input columns kept beside
    the predictions (all of them by default; ``[]`` for the predictions alone).
    ``batch_rows`` rows are scored at a time. A version of ``out`` is never replaced:
    a result equal to its latest version records no new one (that one is returned).
    """
    return score(
        model,
        data,
        out=out,
        copy=copy,
        columns=columns,
        batch_rows=batch_rows,
        workspace=workspace,
    ).dataset


def score(
    model: str,
    data: str,
    *,
    out: str,
    copy: str | None = None,
    columns: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
    workspace: Workspace | None = None,
) -> Scoring:
    """:func:`predict`, telling all it did (the CLI prints it)."""
    from loopml.data._api import read_version
    from loopml.registry import load_served
    from loopml.store import values

    ws = workspace_in_use(workspace)
    values.check_name(out, "dataset name", field="out")
    size = _checked_batch_rows(batch_rows)
    asked = _checked_columns(columns)
    version, predictor = load_served(model, copy=copy, workspace=ws)
    source = read_version(ws, data, field="data")
    names = _table_columns(source)
    kept = names if asked is None else _kept(asked, names, source)
    features = predictor.features
    _refuse_missing(features, names, source, version)
    _refuse_clashes(kept, predictor, source)
    read = list(dict.fromkeys([*(features or names), *kept]))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="loopml-predict-") as folder:
        path = Path(folder) / f"{out}.parquet"
        rows = _score_to(
            path,
            source,
            read,
            size,
            lambda chunk, at: _scored(chunk, at, predictor, features, kept, source, version),
        )
        seconds = time.perf_counter() - started
        return _record(ws, path, out, source, version, predictor, kept, rows, seconds, size)


# -- reading and scoring, batch by batch ------------------------------------------------


def _score_to(path: Path, source: DatasetVersion, read: list[str], size: int, scored: Any) -> int:
    """Every batch of ``source`` scored and appended to the Parquet file ``path``; the
    rows written."""
    from loopml._progress import progress_bar

    writer = None
    done = 0
    try:
        with progress_bar(f"scoring {source.ref}", source.rows) as update:
            for chunk in _chunks(source, read, size):
                table = scored(chunk, done)
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

        file = pq.ParquetFile(source.path())
        try:
            for batch in file.iter_batches(batch_size=size, columns=read):
                yield pl.DataFrame(pl.from_arrow(batch))
        finally:
            file.close()
        return
    yield from source.to_polars().select(read).iter_slices(size)


def _scored(
    chunk: pl.DataFrame,
    at: int,
    predictor: Predictor,
    features: list[str] | None,
    kept: list[str],
    source: DatasetVersion,
    version: ModelVersion,
) -> pa.Table:
    """The kept columns of ``chunk`` and its predictions, as an Arrow table."""
    import pyarrow as pa

    try:
        found = predictor.predict(chunk if features is None else chunk.select(features))
    except InvalidInput as error:
        rows = f"rows {at + 1:,} to {at + chunk.height:,}"
        raise InvalidInput(
            f"{source.what} cannot be scored by model {version.ref} ({rows}): {error}; fix "
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


# -- recording --------------------------------------------------------------------------


def _record(
    ws: Workspace,
    path: Path,
    out: str,
    source: DatasetVersion,
    version: ModelVersion,
    predictor: Predictor,
    kept: list[str],
    rows: int,
    seconds: float,
    size: int,
) -> Scoring:
    """The scored file recorded as the next version of ``out``, by a run that read the
    model version and the data version and wrote it."""
    from loopml.data._versions import add_version
    from loopml.store import Direction, MetricPoint, RunStatus

    store = ws.store
    inputs = [
        (version.artifact.id, Direction.INPUT, "model"),
        (source.artifact.id, Direction.INPUT, "data"),
    ]
    copy_id = version.copies.get(predictor.copy, {}).get("artifact_id")
    if isinstance(copy_id, str):
        inputs.append((copy_id, Direction.INPUT, f"model {predictor.copy} copy"))
    run = store.create_run(
        kind=RUN_KIND,
        name=out,
        params={
            "model": version.ref,
            "copy": predictor.copy,
            "data": source.ref,
            "out": out,
            "columns": kept,
            "batch_rows": size,
        },
        parent_id=run_making_records(ws),
        events=inputs,
    )
    label = source.metadata.get("label")
    try:
        written, new = add_version(
            ws,
            path,
            name=out,
            label=label if label in kept else None,
            description=f"predictions of model {version.ref} ({predictor.copy}) on {source.ref}",
        )
        store.add_event(run.id, written.artifact.id, Direction.OUTPUT, "predictions")
    except BaseException as error:
        store.finish_run(run.id, RunStatus.FAILED, f"{type(error).__name__}: {error}")
        raise
    metrics = [MetricPoint("rows", float(rows)), MetricPoint("seconds", seconds)]
    store.finish_run(run.id, RunStatus.SUCCEEDED, metrics=metrics)
    return Scoring(written, version, source, predictor.copy, rows, run.id, new, seconds)


# -- checks, before anything is read ----------------------------------------------------


def _checked_batch_rows(batch_rows: Any) -> int:
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInput(
            f"batch_rows={batch_rows!r}: give the number of rows scored at a time, a whole "
            f"number of at least 1 (default {BATCH_ROWS:,})",
            field="batch_rows",
        )
    return batch_rows


def _checked_columns(columns: Any) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(name, str) for name in columns):
        raise InvalidInput(
            f"columns={columns!r}: give a list of column names, e.g. columns=['id'] "
            "(None keeps every column, [] none)",
            field="columns",
        )
    return list(dict.fromkeys(columns))


def _table_columns(source: DatasetVersion) -> list[str]:
    if not source.tabular:
        raise InvalidInput(
            f"{source.what} is a folder of files, not a table: batch scoring reads a table "
            "(a Parquet or CSV version); add the rows as one with `loopml data add`",
            field="data",
        )
    return [str(column["name"]) for column in source.metadata.get("columns") or ()]


def _kept(asked: list[str], names: list[str], source: DatasetVersion) -> list[str]:
    unknown = [name for name in asked if name not in names]
    if unknown:
        raise InvalidInput(
            f"columns: {source.what} has no column {unknown[0]!r}; keep some of {_listed(names)}",
            field="columns",
        )
    return asked


def _refuse_missing(
    features: list[str] | None, names: list[str], source: DatasetVersion, version: ModelVersion
) -> None:
    missing = [name for name in features or () if name not in names]
    if missing:
        raise InvalidInput(
            f"{source.what} lacks column(s) {_listed([repr(n) for n in missing])} that model "
            f"{version.ref} takes ({_listed(features or [])}); add them to the data as a "
            "new version, or score it with a model trained without them (nothing was "
            "recorded)",
            field=missing[0],
        )


def _refuse_clashes(kept: list[str], predictor: Predictor, source: DatasetVersion) -> None:
    classes = predictor.classes
    made = [PREDICTION, *(probability_column(c) for c in (() if classes is None else classes))]
    clash = [name for name in kept if name in made]
    if clash:
        raise InvalidInput(
            f"{source.what} has a column {clash[0]!r}, which the predictions would take; "
            "keep the other columns (columns=[...], --columns a,b) or rename it in a new "
            "version of the data",
            field="columns",
        )


def _listed(names: Sequence[str], shown: int = 12) -> str:
    text = ", ".join(names[:shown])
    return f"{text}, ... ({len(names)} in all)" if len(names) > shown else text
