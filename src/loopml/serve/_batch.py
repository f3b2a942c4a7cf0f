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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._context import run_making_records, workspace_in_use
from loopml.serve import _batch_checks as checks
from loopml.serve._scoring import Plan, score_to

if TYPE_CHECKING:
    from loopml.data import DatasetVersion
    from loopml.registry import ModelVersion
    from loopml.workspace import Workspace

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
    size = checks.checked_batch_rows(batch_rows)
    asked = checks.checked_columns(columns)
    version, predictor = load_served(model, copy=copy, workspace=ws)
    source = read_version(ws, data, field="data")  # an input of the run around, if any
    _note_model_read(ws, model, version)
    names = checks.table_columns(source)
    kept = names if asked is None else checks.kept(asked, names, source)
    features = predictor.features
    checks.refuse_missing(features, names, source, version)
    checks.refuse_clashes(kept, predictor, source)
    read = list(dict.fromkeys([*(features or names), *kept]))
    plan = Plan(source, predictor, version.ref, features, kept, read, size)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="loopml-predict-") as folder:
        path = Path(folder) / f"{out}.parquet"
        rows = score_to(path, plan)
        seconds = time.perf_counter() - started
        return _record(ws, path, out, version, plan, rows, seconds)


# -- recording --------------------------------------------------------------------------


def _note_model_read(ws: Workspace, ref: str, version: ModelVersion) -> None:
    """Inside a run (a pipeline step), the model read is one of its inputs under the
    ref as given, as :func:`loopml.models.load_model` records it: a cached step that
    scored with ``churn@champion`` is used again only while the alias names the same
    version."""
    from loopml._kinds import ArtifactKind
    from loopml.refs import read_role
    from loopml.store import Direction

    around = run_making_records(ws)
    if around is not None:
        role = read_role(ArtifactKind.MODEL, ref)
        ws.store.add_event(around, version.artifact.id, Direction.INPUT, role)


def _record(
    ws: Workspace,
    path: Path,
    out: str,
    version: ModelVersion,
    plan: Plan,
    rows: int,
    seconds: float,
) -> Scoring:
    """The scored file recorded as the next version of ``out``, by a run that read the
    model version and the data version and wrote it."""
    from loopml.data._versions import add_version
    from loopml.store import Direction, MetricPoint, RunStatus

    store = ws.store
    source, copy = plan.source, plan.predictor.copy
    inputs = [
        (version.artifact.id, Direction.INPUT, "model"),
        (source.artifact.id, Direction.INPUT, "data"),
    ]
    copy_id = version.copies.get(copy, {}).get("artifact_id")
    if isinstance(copy_id, str):
        inputs.append((copy_id, Direction.INPUT, f"model {copy} copy"))
    run = store.create_run(
        kind=RUN_KIND,
        name=out,
        params={
            "model": version.ref,
            "copy": copy,
            "data": source.ref,
            "out": out,
            "columns": plan.kept,
            "batch_rows": plan.size,
        },
        parent_id=run_making_records(ws),
        events=inputs,
    )
    label = source.metadata.get("label")
    made = f"predictions of model {version.ref} ({copy}) on {source.ref}"
    try:
        written, new = add_version(
            ws,
            path,
            name=out,
            label=label if label in plan.kept else None,
            description=made,
            # what made the rows, not the temporary file they were written to
            extra={"source": {"path": None, "object": made, "rows": rows}},
        )
        store.add_event(run.id, written.artifact.id, Direction.OUTPUT, "predictions")
    except BaseException as error:
        store.finish_run(run.id, RunStatus.FAILED, f"{type(error).__name__}: {error}")
        raise
    metrics = [MetricPoint("rows", float(rows)), MetricPoint("seconds", seconds)]
    store.finish_run(run.id, RunStatus.SUCCEEDED, metrics=metrics)
    return Scoring(written, version, source, copy, rows, run.id, new, seconds)
