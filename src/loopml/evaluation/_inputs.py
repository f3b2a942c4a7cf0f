"""What ``evaluate`` is given, made concrete: the model (a
:class:`~loopml.models.Predictor`, with its registered ref and signature), tables as
Polars frames, and the feature columns the model takes from them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

    from loopml.models import Predictor
    from loopml.store import Artifact
    from loopml.workspace import Workspace

WorkspaceGetter = Callable[[], "Workspace"]


class OnDemand:
    """The workspace, found only when something needs it (a model object evaluated on a
    DataFrame with ``record=False`` reads no store at all): the one given, else the
    active run's, else the active or current one."""

    def __init__(self, given: Workspace | None) -> None:
        self._ws = given

    def __call__(self) -> Workspace:
        if self._ws is None:
            from loopml._context import workspace_in_use

            self._ws = workspace_in_use()
        return self._ws


@dataclass(frozen=True)
class Table:
    """Rows handed in: as Polars, as given (for user slice functions), and its ref."""

    frame: pl.DataFrame
    given: Any
    ref: str | None
    artifact: Artifact | None
    form: str | None  # "pandas", "polars" or "arrow" when a table object was given


def load(model: Any, workspace: WorkspaceGetter, what: str = "model") -> Predictor:
    """A model object as it is, or the model a ref or an Artifact points at, with its
    stored signature, as a Predictor."""
    from loopml.models import Predictor
    from loopml.store import Artifact

    artifact: Artifact | None = None
    if isinstance(model, str):
        from loopml.refs import resolve

        artifact = resolve(workspace().store, ArtifactKind.MODEL, model, field=what)
    elif isinstance(model, Artifact):
        artifact = model
    if artifact is not None:
        loaded = Predictor.load(artifact, workspace=workspace())
        _check_predict(loaded.model, what)
        return loaded
    _check_predict(model, what)
    return Predictor(model)


def _check_predict(model: Any, what: str) -> None:
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"{what} {type(model).__qualname__} has no predict method; give a fitted "
            "model, a registered model's ref (e.g. 'churn@v3') or its Artifact",
            field=what,
        )


def read(data: Any, workspace: WorkspaceGetter, what: str = "data") -> Table:
    """A dataset ref, a DatasetVersion, or a pandas/Polars DataFrame or Arrow table."""
    from loopml.data import DatasetVersion, as_polars

    if isinstance(data, str):
        from loopml.data._api import read_version

        data = read_version(workspace(), data, field=what)
    if isinstance(data, DatasetVersion):
        frame = data.to_polars()
        return Table(frame, frame, data.ref, data.artifact, None)
    form = _table_form(data)
    if form is None:
        raise InvalidInput(
            f"{what} is a {type(data).__qualname__}; give a dataset ref (e.g. 'churn@v5'), a "
            "DatasetVersion, or a pandas or Polars DataFrame",
            field=what,
        )
    return Table(as_polars(data, what), data, None, None, form)


def read_all(train: Any, workspace: WorkspaceGetter) -> list[Table]:
    """``train=``: one table or ref, or a list of them (training, then validation)."""
    items = list(train) if isinstance(train, list | tuple) else [train]
    if not items:
        raise InvalidInput(
            "train= is an empty list; give the training data, or leave it out", field="train"
        )
    return [read(item, workspace, f"train[{i}]") for i, item in enumerate(items)]


def _table_form(data: Any) -> str | None:
    module = type(data).__module__.partition(".")[0]
    if module in ("pandas", "polars", "pyarrow") and hasattr(data, "columns"):
        return "arrow" if module == "pyarrow" else module
    return None


def check_label(frame: pl.DataFrame, label: str, what: str = "data") -> None:
    if label not in frame.columns:
        raise InvalidInput(
            f"{what} has no label column {label!r}; its columns are {_listed(frame.columns)}; "
            "pass label= naming the column that holds the true values",
            field="label",
        )
    missing = frame[label].null_count()
    if missing:
        raise InvalidInput(
            f"label column {label!r} of {what} has {missing} missing values; drop or fill those "
            "rows before evaluating",
            field="label",
        )


def labels(frame: pl.DataFrame, label: str) -> Any:
    """The label column as a NumPy array; text as fixed-width strings rather than
    Python objects, which NumPy sorts and compares without a Python call per value."""
    import numpy as np
    import polars as pl

    values = frame[label].to_numpy()
    return values.astype(np.str_) if frame.schema[label] == pl.String else values


def features(
    info: Predictor,
    frame: pl.DataFrame,
    label: str,
    *,
    extra: Collection[str] = (),
    strict: bool = True,
    what: str = "data",
) -> list[str]:
    """The columns the model takes, in its order: from its signature, else from
    scikit-learn's ``feature_names_in_``, else every column but the label.

    ``strict``: a column the model does not know (and not in ``extra``, the columns
    kept only to slice by) is an error, since the model would never see it.
    """
    known = info.features
    if known is None:
        return [name for name in frame.columns if name != label]
    missing = [name for name in known if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{what} lacks column(s) {_listed(missing)} that {info.label} takes; add them "
            f"(the model takes {_listed(known)})"
        )
    unknown = [c for c in frame.columns if c not in known and c != label and c not in extra]
    if strict and unknown:
        raise InvalidInput(
            f"{what} has column(s) {_listed(unknown)} that the signature of {info.label} does "
            f"not know (it takes {_listed(known)}); drop them, or name them in slice_columns= "
            "to slice by them without passing them to the model"
        )
    if info.signature is not None:
        try:
            info.signature.check(frame.select(known))
        except InvalidInput as error:
            raise InvalidInput(
                f"{what} does not fit {info.label}: {error}", field=error.field
            ) from None
    return known


def model_input(info: Predictor, table: Table, label: str, what: str = "data") -> Any:
    """The columns of ``table`` that the model takes, in the form it takes them; columns
    it does not know are left out rather than refused (another model's rows)."""
    names = features(info, table.frame, label, strict=False, what=what)
    return info.as_input(table.frame.select(names), info.input_form(table.form))


def _listed(names: Sequence[str], shown: int = 12) -> str:
    text = ", ".join(names[:shown])
    return f"{text}, ... ({len(names)} in all)" if len(names) > shown else text
