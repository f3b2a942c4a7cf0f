"""A step's return value as an artifact: stored by type, loaded back when asked for.

``polars-parquet``, ``pandas-parquet`` (through PyArrow; a RangeIndex is kept as
metadata, any other index as columns) and ``arrow-parquet`` for tables; ``numpy-npy``
for arrays not of object dtype; ``json`` for None, bool, int, float, str, NumPy scalars
and lists, tuples and text-keyed dicts of them; ``dataset-ref`` for a DatasetVersion
(its ref, artifact id and digest only); ``model`` for a scikit-learn, XGBoost, LightGBM,
torch or ONNX model, stored through its flavor (:mod:`loopml.models`; the metadata
names the flavor and the library versions); ``pickle``, the named fallback, for the
rest, and for a model its flavor refuses (the metadata says why).

The same value gives the same bytes, so the same digest, where the writing library
allows (JSON and .npy always, Parquet for the same library versions). JSON is canonical
(sorted keys: dict order is not kept) and keeps tuples and NumPy scalar types with
small tags: ``{"$tuple": [...]}``, ``{"$numpy": [dtype, value]}``, and ``{"$dict": d}``
for a dict whose only key is a tag. Floats, NaN and infinities come back exactly.

Security: loading a pickle runs code. loopml loads pickles only from the workspace's
own artifact store, after their digest is checked; never load one you do not trust.

>>> import tempfile
>>> from collections.abc import Iterator
>>> from loopml.artifacts import ArtifactStore
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> saved = save({"rmse": 0.25, "folds": (1, 2)}, store)
>>> saved.format, saved.python_type
('json', 'builtins.dict')
>>> load(saved.format, saved.digest, store)
{'folds': (1, 2), 'rmse': 0.25}
>>> print(check_annotation(Iterator[int]))
Iterator[int] cannot be stored: it is an iterator, used up as it is read; ...
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import tempfile
import types
import typing
from collections import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.artifacts import ArtifactStore, Blob
    from loopml.store import Artifact
    from loopml.workspace import Workspace

_TABLES = ("polars-parquet", "pandas-parquet", "arrow-parquet")
FORMATS = (*_TABLES, "numpy-npy", "json", "pickle", "dataset-ref", "model")
FIX = "return plain data, a DataFrame or an array"
_TAGS = ("$tuple", "$dict", "$numpy")
_PLAIN = (bool, int, float, str)
_SMALL = 64  # column types are listed in the metadata up to this many columns
# Classes that hold live process state; looked up only in modules already loaded.
_LIVE = """_thread.LockType _thread.RLock threading.Thread threading.Condition threading.Semaphore
threading.Event socket.socket sqlite3.Connection sqlite3.Cursor subprocess.Popen types.FrameType"""
_LIVE_WHY = "it holds live process state (a lock, thread, socket or connection)"


@dataclass(frozen=True)
class Saved:
    """Where and how a value was stored; ``metadata`` holds small facts about it."""

    digest: str
    size: int
    format: str
    python_type: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    format: str
    metadata: dict[str, Any]
    data: bytes | None = None
    write: Callable[[Path], None] | None = None


def record_value(
    ws: Workspace, value: Any, *, kind: str, name: str, run_id: str | None
) -> Artifact:
    """Store ``value`` by type and record it as the next version of ``(kind, name)``."""
    from loopml.workspace import record_version

    saved = save(value, ws.artifacts)
    return record_version(
        ws,
        saved.digest,
        saved.size,
        kind=kind,
        name=name,
        metadata={"format": saved.format, "python_type": saved.python_type, **saved.metadata},
        run_id=run_id,
    )


def save(value: Any, store: ArtifactStore) -> Saved:
    """Store ``value`` in its format; InvalidInput when nothing can store it."""
    plan = _plan(value)
    blob = _put(store, plan)
    return Saved(blob.digest, blob.size, plan.format, _type_name(type(value)), plan.metadata)


def load(
    format: str,
    digest: str,
    store: ArtifactStore,
    metadata: Mapping[str, Any] | None = None,
    *,
    what: str | None = None,
) -> Any:
    """The value saved as ``digest``; its bytes are read through the store and checked.

    Nothing happens before it is called, so callers can keep a lambda around it.
    A ``dataset-ref`` comes back as its dict: resolve ``ref`` in a workspace.
    ``metadata`` (from :class:`Saved`) is needed for ``model``, whose flavor it
    names; the other formats carry all they need in their bytes. ``what`` names the
    record in the error a missing or damaged blob raises.
    """
    if format not in FORMATS:
        raise InvalidInput(f"unknown stored format {format!r}; loopml knows {', '.join(FORMATS)}")
    if format == "model":
        from loopml.models._flavors import decode

        if metadata is None:
            raise InvalidInput(f"stored model {digest} needs its metadata to load; pass it")
        model = f"the stored {metadata.get('python_type', 'model')} ({digest[:12]})"
        return decode(store.read_bytes(digest, what=what), metadata, model)
    return _decode(format, store.read_bytes(digest, what=what))


def describe_unserializable(value: Any) -> str | None:
    """None if :func:`save` can store ``value``, else a sentence saying why not."""
    try:
        plan = _plan(value)
        if plan.format == "pickle":
            _dump(value, None)
    except InvalidInput as error:
        return str(error)
    return None


def check_annotation(annotation: Any) -> str | None:
    """None if a value of this return annotation can be stored, else why not.

    ``Any``, a missing annotation and classes loopml does not know give None: their
    values are tried when the step runs. Pass resolved hints (``get_type_hints``).
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return check_annotation(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return next(filter(None, map(check_annotation, args)), None)
    if origin is not None:
        why = _why_class(origin, _show(annotation)) if isinstance(origin, type) else None
        if why is None and origin in (list, tuple, dict, set, frozenset, abc.Sequence, abc.Mapping):
            why = next(filter(None, (check_annotation(a) for a in args if a is not ...)), None)
        return why
    if isinstance(annotation, type):
        return _why_class(annotation, _show(annotation))
    threading = sys.modules.get("threading")
    if threading is not None and annotation in (threading.Lock, threading.RLock):
        name = "Lock" if annotation is threading.Lock else "RLock"
        return f"threading.{name} cannot be stored: {_LIVE_WHY}; {FIX}"
    return None


# -- choosing a format ------------------------------------------------------------------


def _plan(value: Any) -> _Plan:
    modules = sys.modules
    data = _json_bytes(value)
    if data is not None:
        np = modules.get("numpy")
        scalar = np is not None and isinstance(value, np.generic)
        return _Plan("json", {"numpy_dtype": str(value.dtype)} if scalar else {}, data=data)
    kind = type(value)
    pl, pd, pa, np = (modules.get(m) for m in ("polars", "pandas", "pyarrow", "numpy"))
    if pl is not None and kind is pl.DataFrame:
        if any(dtype == pl.Object for dtype in value.schema.values()):
            return _pickle_plan(value, "a polars DataFrame with Object columns has no Parquet form")
        facts = _table_facts(value.height, value.schema.items())
        return _Plan("polars-parquet", facts, write=value.write_parquet)
    if pd is not None and kind is pd.DataFrame:
        return _pandas_plan(value)
    if pa is not None and kind is pa.Table:
        facts = _table_facts(value.num_rows, ((f.name, f.type) for f in value.schema))
        return _Plan("arrow-parquet", facts, write=_parquet(value))
    if np is not None and kind is np.ndarray and not value.dtype.hasobject:
        facts = {"shape": list(value.shape), "dtype": str(value.dtype)}
        return _Plan("numpy-npy", facts, write=lambda path: _save_npy(value, path))
    versions = modules.get("loopml.data._versions")
    if versions is not None and isinstance(value, versions.DatasetVersion):
        ref = {"ref": value.ref, "artifact_id": value.artifact.id, "digest": value.digest}
        facts = {"ref": value.ref, "artifact_id": value.artifact.id}
        return _Plan("dataset-ref", facts, data=_canonical(ref))
    model = _model_plan(value)
    if model is not None:
        return model
    why = "object arrays" if np is not None and kind is np.ndarray else _type_name(kind)
    return _pickle_plan(value, f"{why} has no loopml format")


def _model_plan(value: Any) -> _Plan | None:
    """A model of a library loopml has a flavor for, stored through it; None for
    anything else (an object that merely has ``predict`` is not taken for a model)."""
    from loopml.models._flavors import encode, library_flavor

    flavor = library_flavor(value)
    if flavor is None:
        return None
    try:
        data, facts = encode(value, flavor)
    except InvalidInput as error:
        return _pickle_plan(value, f"the {flavor} flavor cannot store it: {error}")
    return _Plan("model", facts, data=data)


def _pandas_plan(df: Any) -> _Plan:
    columns = df.columns
    for level in getattr(columns, "levels", [columns]):
        if level.inferred_type.startswith("mixed"):
            return _pickle_plan(df, "pandas column labels of mixed types do not round-trip Parquet")
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(df, preserve_index=None)
    except Exception as error:  # mixed object columns and the like
        return _pickle_plan(df, f"pandas-parquet failed: {_short(error)}")
    facts = _table_facts(len(df), df.dtypes.items())
    facts["index"] = [None if n is None else str(n) for n in df.index.names]
    return _Plan("pandas-parquet", facts, write=_parquet(table))


def _pickle_plan(value: Any, why: str) -> _Plan:
    reason = _why_class(type(value), f"the {_show(type(value))} returned")
    if reason is not None:
        raise InvalidInput(reason)
    facts: dict[str, Any] = {"fallback": "pickle", "why": why}
    return _Plan("pickle", facts, write=lambda path: facts.update(_dump(value, path)))


def _why_class(cls: type, shown: str) -> str | None:
    try:
        if issubclass(cls, io.IOBase | typing.IO):
            why = "it is an open file or stream; return its contents or the path of a file written"
        elif issubclass(cls, abc.Awaitable | abc.AsyncIterator):
            why = "it is asynchronous; await it inside the step and return the result"
        elif issubclass(cls, abc.Iterator):
            why = "it is an iterator, used up as it is read; return a list instead"
        elif issubclass(cls, types.ModuleType):
            why = f"it is a module; {FIX}"
        elif any(issubclass(cls, live) for live in _live_classes()):
            why = f"{_LIVE_WHY}; {FIX}"
        else:
            return None
    except TypeError:  # not a class issubclass accepts
        return None
    return f"{shown} cannot be stored: {why}"


def _live_classes() -> Iterator[type]:
    for name in _LIVE.split():
        module, _, attr = name.rpartition(".")
        live = getattr(sys.modules.get(module), attr, None)
        if isinstance(live, type):
            yield live


def _show(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return _type_name(annotation).removeprefix("builtins.")
    return repr(annotation).replace("collections.abc.", "").replace("typing.", "")


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _table_facts(rows: int, columns: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    schema = {str(name): str(kind) for name, kind in columns}
    facts: dict[str, Any] = {"rows": int(rows), "columns": len(schema)}
    return facts | {"schema": schema} if len(schema) <= _SMALL else facts


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


# -- writing ----------------------------------------------------------------------------


def _put(store: ArtifactStore, plan: _Plan) -> Blob:
    if plan.data is not None:
        return store.put_bytes(plan.data)
    assert plan.write is not None
    with tempfile.TemporaryDirectory(prefix="loopml-save-") as tmp:
        path = Path(tmp) / "value"
        plan.write(path)
        return store.put_file(path)


def _parquet(table: Any) -> Callable[[Path], None]:
    import pyarrow.parquet as pq

    return lambda path: pq.write_table(table, path)


def _save_npy(array: Any, path: Path) -> None:
    import numpy as np

    # C order always, so that the same values give the same bytes.
    array = array if array.flags.c_contiguous else array.copy(order="C")
    with path.open("wb") as out:
        np.save(out, array, allow_pickle=False)


def _dump(value: Any, path: Path | None) -> dict[str, Any]:
    """Pickle ``value`` to ``path`` (with None, only check that it can be pickled);
    the user's code the pickle names, as metadata."""
    from loopml.models._pickled import Recorder

    try:
        with open(path or os.devnull, "wb") as out:
            recorder = Recorder(out)
            recorder.dump(value)
    except OSError:  # the disk, not the value
        raise
    except Exception as error:
        raise InvalidInput(
            f"the {_show(type(value))} returned cannot be stored: pickle cannot handle it "
            f"({_short(error)}); {FIX}"
        ) from None
    return {"code": sorted(recorder.code)}


# -- JSON -------------------------------------------------------------------------------


class _NotJSON(Exception):
    pass


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def _json_bytes(value: Any) -> bytes | None:
    try:
        return _canonical(_to_json(value))
    except (_NotJSON, RecursionError, ValueError):  # ValueError: an int too long to print
        return None


def _to_json(value: Any) -> Any:
    kind = type(value)
    if value is None or kind in _PLAIN:
        return value
    if kind is list:
        return [_to_json(item) for item in value]
    if kind is tuple:
        return {"$tuple": [_to_json(item) for item in value]}
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise _NotJSON
        out = {key: _to_json(item) for key, item in value.items()}
        return {"$dict": out} if len(out) == 1 and next(iter(out)) in _TAGS else out
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic) and type(item := value.item()) in _PLAIN:
        return {"$numpy": [str(value.dtype), item]}
    raise _NotJSON


def _from_json(value: Any) -> Any:
    if type(value) is list:
        return [_from_json(item) for item in value]
    if type(value) is not dict:
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$tuple":
            return tuple(_from_json(item) for item in inner)
        if tag == "$dict":
            return {key: _from_json(item) for key, item in inner.items()}
        if tag == "$numpy":
            import numpy as np

            return np.dtype(inner[0]).type(inner[1])
    return {key: _from_json(item) for key, item in value.items()}


# -- reading ----------------------------------------------------------------------------


def _decode(format: str, data: bytes) -> Any:
    if format == "json":
        return _from_json(json.loads(data))
    if format == "dataset-ref":
        return json.loads(data)
    if format == "pickle":
        return pickle.loads(data)
    if format == "numpy-npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if format == "polars-parquet":
        import polars as pl

        return pl.read_parquet(io.BytesIO(data))
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(data))
    return table.to_pandas() if format == "pandas-parquet" else table
