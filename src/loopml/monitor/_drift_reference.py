"""The training reference of a served version: the rows its live inputs and predictions
are compared with (train/serve skew).

What a model records of the data it was trained on is its lineage: the runs that
made it and the dataset versions they read (:func:`loopml.registry.lineage`). A
version made in a pipeline step or a ``start_run`` block that read a dataset leads
back to that dataset version; the nearest one read is taken. A signature
(``signature_from=``) keeps only the columns' names and types, not their values, so
it cannot serve. A version saved outside any run has no lineage: its rows are given
with ``reference=`` (a dataset version, or the training rows as a DataFrame).

The reference is the training rows' input columns and the version's own predictions
on those rows (in-sample: what the model answered for the data it learned from), so
that a window's predictions are compared with predictions, not with labels: a model
that predicts the rarer class less often than it occurs would otherwise look skewed
from its first window. A DataFrame given with a column of the predictions' name
(``predictions``) keeps it as the predictions instead. At most
:data:`REFERENCE_ROWS` rows are used (a seeded sample of larger ones): the tests read
5,000-row samples, and the distances' sampling error at that size is far below the
thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, LoopmlError

if TYPE_CHECKING:
    import polars as pl

    from loopml.workspace import Workspace

REFERENCE_ROWS = 200_000
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Reference:
    """The rows a version is compared with: ``frame`` (input columns, and the
    predictions when known), ``source`` in words (``"dataset rain@v1"``), ``key``
    naming it for the stored windows (a dataset version's id, or the digest of the
    given rows), and ``notes`` on what could not be had (its predictions)."""

    frame: pl.DataFrame
    source: str
    key: str
    notes: tuple[str, ...] = ()


def given_key(reference: Any, ws: Workspace) -> str:
    """What names the ``reference=`` argument in the stored windows' key: "lineage"
    when none was given, else the dataset version's id or the rows' digest."""
    if reference is None:
        return "lineage"
    if isinstance(reference, str):
        from loopml.data._versions import get_version

        return "dataset:" + get_version(ws, reference, field="reference").artifact.id
    return "rows:" + _digest(_as_frame(reference))


def find_reference(
    ref: str, reference: Any, inputs: list[str], predictions: str | None, ws: Workspace
) -> Reference | str:
    """The reference of the served version ``ref`` for ``inputs`` (and ``predictions``,
    the name the window frames give them, when the log has them), or why there is none."""
    if reference is not None and not isinstance(reference, str):
        frame = _as_frame(reference)
        source, key = "the rows given", "rows:" + _digest(frame)
    else:
        found = _dataset(ref, reference, ws)
        if isinstance(found, str):
            return found
        frame, source, key = found
    return _with_predictions(ref, frame, source, key, inputs, predictions, ws)


GIVE_REFERENCE = (
    "give a reference: a dataset version (--reference in `loopml monitor`, reference= "
    "in Python) or the training rows (reference= a DataFrame)"
)


def _dataset(ref: str, given: str | None, ws: Workspace) -> tuple[pl.DataFrame, str, str] | str:
    from loopml.data._versions import get_version

    if given is None:
        from loopml.registry import lineage

        try:
            trail = lineage(ref, workspace=ws)
        except LoopmlError as error:
            return (
                f"{ref} is not a model version of this workspace's registry, so its training "
                f"data is not known ({error}); {GIVE_REFERENCE}"
            )
        read = trail.datasets()
        if not read:
            how = "was saved outside any run" if trail.made_by is None else "read no dataset"
            return f"{ref} {how}, so its training data is not known: {GIVE_REFERENCE}"
        given = read[0]
    version = get_version(ws, given, field="reference")
    if not version.tabular:
        raise InvalidInput(
            f"reference {given!r} is a folder of files, not rows; give a dataset version "
            "of a table",
            field="reference",
        )
    return version.to_polars(), f"dataset {version.ref}", "dataset:" + version.artifact.id


def _with_predictions(
    ref: str,
    frame: pl.DataFrame,
    source: str,
    key: str,
    inputs: list[str],
    predictions: str | None,
    ws: Workspace,
) -> Reference:
    import polars as pl

    if frame.height > REFERENCE_ROWS:
        frame = frame.sample(REFERENCE_ROWS, seed=SAMPLE_SEED)
        source += f" (a sample of {REFERENCE_ROWS:,} of its rows)"
    notes: list[str] = []
    kept = [name for name in inputs if name in frame.columns]
    missing = [name for name in inputs if name not in frame.columns]
    if missing:
        notes.append(
            f"{ref}: input column(s) {', '.join(missing)} are not in {source}, so they "
            "are compared only with the previous window"
        )
    columns = frame.select(kept)
    if predictions is not None and predictions in frame.columns:
        columns = columns.with_columns(frame[predictions])
    elif predictions is not None:
        predicted = _predicted(ref, frame, ws)
        if isinstance(predicted, str):
            notes.append(
                f"{ref}: its predictions are compared only with the previous window: {predicted}"
            )
        else:
            columns = columns.with_columns(pl.Series(predictions, predicted))
    return Reference(columns, source, key, tuple(notes))


def _predicted(ref: str, frame: pl.DataFrame, ws: Workspace) -> Any:
    """The served version's predictions on the training rows, or why there are none."""
    from loopml.models import Predictor

    try:
        predictor = Predictor.load(ref, workspace=ws)
        features = predictor.features
        rows = frame.select(features) if features else frame
        return predictor.predict(rows).predictions
    except LoopmlError as error:
        return f"{ref} could not predict the training rows ({error})"


def _as_frame(reference: Any) -> pl.DataFrame:
    from loopml.data import as_polars

    try:
        return as_polars(reference)
    except LoopmlError as error:
        raise InvalidInput(
            f"reference: {error}; give a dataset version (name@vN) or the training rows as "
            "a DataFrame",
            field="reference",
        ) from None


def _digest(frame: pl.DataFrame) -> str:
    """The rows' content, as a digest of their Arrow IPC bytes."""
    import io

    from loopml.artifacts import digest_bytes

    sink = io.BytesIO()
    frame.write_ipc(sink, compression="uncompressed")
    return digest_bytes(sink.getvalue())
