"""What ``evaluate`` is given, made concrete: the model (loaded, with its registered ref
and signature), tables as Polars frames, the feature columns and the form (pandas,
Polars, Arrow or NumPy) the model's ``predict`` takes them in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

    from loopml.models import Signature
    from loopml.store import Artifact
    from loopml.workspace import Workspace

WorkspaceGetter = Callable[[], "Workspace"]
FORMS = ("pandas", "polars", "arrow", "numpy")


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
class ModelInfo:
    """A model to evaluate, and what its registry entry says about it, if it has one."""

    model: Any
    artifact: Artifact | None
    signature: Signature | None

    @property
    def ref(self) -> str | None:
        return None if self.artifact is None else self.artifact.ref

    @property
    def label(self) -> str:
        """The model as people name it: its ref, else its class."""
        return self.ref or f"{type(self.model).__name__} object"


@dataclass(frozen=True)
class Table:
    """Rows handed in: as Polars, as given (for user slice functions), and its ref."""

    frame: pl.DataFrame
    given: Any
    ref: str | None
    artifact: Artifact | None
    form: str | None  # "pandas", "polars" or "arrow" when a table object was given


def load(model: Any, workspace: WorkspaceGetter, what: str = "model") -> ModelInfo:
    """A model object as it is, or the model a ref or an Artifact points at."""
    from loopml.store import Artifact

    artifact: Artifact | None = None
    if isinstance(model, str):
        from loopml.refs import resolve

        artifact = resolve(workspace().store, ArtifactKind.MODEL, model, field=what)
    elif isinstance(model, Artifact):
        artifact = model
    if artifact is not None:
        from loopml.models import Signature, load_model

        model = load_model(artifact, workspace=workspace())
        saved = artifact.metadata.get("signature")
        signature = None if saved is None else Signature.from_dict(saved)
        info = ModelInfo(model, artifact, signature)
    else:
        info = ModelInfo(model, None, None)
    if not callable(getattr(info.model, "predict", None)):
        raise InvalidInput(
            f"{what} {type(info.model).__qualname__} has no predict method; give a fitted "
            "model, a registered model's ref (e.g. 'churn@v3') or its Artifact",
            field=what,
        )
    return info


def read(data: Any, workspace: WorkspaceGetter, what: str = "data") -> Table:
    """A dataset ref, a DatasetVersion, or a pandas/Polars DataFrame or Arrow table."""
    from loopml.data import DatasetVersion
    from loopml.data._read import as_polars

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
    info: ModelInfo,
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
    known = _known_features(info)
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
            raise InvalidInput(f"{what} does not fit {info.label}: {error}") from None
    return known


def _known_features(info: ModelInfo) -> list[str] | None:
    if info.signature is not None:
        return info.signature.names
    names = getattr(info.model, "feature_names_in_", None)
    return None if names is None else [str(name) for name in names]


def input_form(info: ModelInfo, table: Table) -> str:
    """The form ``predict`` is given: the signature's source; NumPy for a scikit-learn
    model fitted without column names; else the form the data came in, pandas for a
    dataset version (what most models are trained on)."""
    if info.signature is not None and info.signature.source in FORMS:
        return info.signature.source
    model = info.model
    if hasattr(model, "n_features_in_") and not hasattr(model, "feature_names_in_"):
        return "numpy"
    if table.form is not None:
        return table.form
    try:
        import pandas  # noqa: F401
    except ImportError:
        return "polars"
    return "pandas"


def as_form(frame: pl.DataFrame, form: str) -> Any:
    """Feature columns as the model takes them."""
    if form == "pandas":
        return frame.to_pandas()
    if form == "numpy":
        return frame.to_numpy()
    if form == "arrow":
        return frame.to_arrow()
    return frame


def model_input(info: ModelInfo, table: Table, label: str, what: str = "data") -> Any:
    """The columns of ``table`` that the model takes, in the form it takes them; columns
    it does not know are left out rather than refused (another model's rows)."""
    names = features(info, table.frame, label, strict=False, what=what)
    return as_form(table.frame.select(names), input_form(info, table))


def _listed(names: Sequence[str], shown: int = 12) -> str:
    text = ", ".join(names[:shown])
    return f"{text}, ... ({len(names)} in all)" if len(names) > shown else text
