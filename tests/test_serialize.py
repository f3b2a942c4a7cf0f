"""A step's return value through a real artifact store: each format round-trips exactly,
the same value gives the same digest, the pickle fallback says so, what cannot be
stored is refused with the type and the fix, and a corrupt blob is caught on load."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import math
import os
import socket
import stat
import subprocess
import sys
import threading
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Generator, Iterator
from pathlib import Path
from typing import IO, Annotated, Any, Optional

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import loopml
from loopml._serialize import (
    FORMATS,
    Saved,
    check_annotation,
    describe_unserializable,
    load,
    save,
)
from loopml.artifacts import ArtifactStore
from loopml.errors import DigestMismatch, InvalidInput


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "a")


def round_trip(value: Any, store: ArtifactStore, fmt: str) -> tuple[Any, Saved]:
    saved = save(value, store)
    assert saved.format == fmt
    assert saved.format in FORMATS
    assert saved.size == len(store.read_bytes(saved.digest))
    assert describe_unserializable(value) is None
    return load(saved.format, saved.digest, store, saved.metadata), saved


class Point:
    """A class loopml has no format for: it goes to the pickle fallback."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


# -- tables -----------------------------------------------------------------------------


def polars_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, None],
            "name": ["ø", None, "plain"],
            "score": [0.1, float("nan"), None],
            "flag": [True, None, False],
            "when": [dt.datetime(2024, 1, 1, 12), None, dt.datetime(1970, 1, 1)],
        }
    )


def test_polars_frame_round_trips_with_nulls_and_strings(store: ArtifactStore) -> None:
    df = polars_frame()
    back, saved = round_trip(df, store, "polars-parquet")
    assert isinstance(back, pl.DataFrame)
    assert back.schema == df.schema
    assert back.equals(df, null_equal=True)
    assert saved.python_type == "polars.dataframe.frame.DataFrame"
    assert saved.metadata["rows"] == 3
    assert saved.metadata["columns"] == 5
    assert saved.metadata["schema"]["name"] == "String"


def pandas_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "when": pd.to_datetime(
                ["2024-01-01 10:00", "2024-02-29 23:59:59.500", None], format="ISO8601"
            ),
            "amount": [1.5, -0.0, np.nan],
            "label": ["a", "ø", "c"],
            "count": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.Index(["x", "y", "z"], name="key"),
    )


def test_pandas_frame_round_trips_with_a_named_index_and_datetimes(store: ArtifactStore) -> None:
    df = pandas_frame()
    back, saved = round_trip(df, store, "pandas-parquet")
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert back.index.name == "key"
    assert back["when"].dtype == df["when"].dtype
    assert saved.python_type == f"{pd.DataFrame.__module__}.DataFrame"
    assert saved.metadata["rows"] == 3
    assert saved.metadata["index"] == ["key"]


def test_pandas_default_index_comes_back_as_a_range_index(store: ArtifactStore) -> None:
    df = pd.DataFrame({"x": [3, 1, 2]})
    back, _ = round_trip(df, store, "pandas-parquet")
    pd.testing.assert_frame_equal(back, df, check_exact=True, check_index_type=True)
    assert isinstance(back.index, pd.RangeIndex)


def test_pandas_mixed_object_column_falls_back_to_pickle(store: ArtifactStore) -> None:
    df = pd.DataFrame({"mixed": [1, "a", 2.5]})
    back, saved = round_trip(df, store, "pickle")
    pd.testing.assert_frame_equal(back, df)
    assert saved.metadata["fallback"] == "pickle"
    assert "pandas-parquet failed" in saved.metadata["why"]


def test_pandas_mixed_column_labels_fall_back_to_pickle(store: ArtifactStore) -> None:
    df = pd.DataFrame({1: [1.0], "b": [2.0]})
    back, saved = round_trip(df, store, "pickle")
    pd.testing.assert_frame_equal(back, df)
    assert "column labels" in saved.metadata["why"]


def test_arrow_table_round_trips(store: ArtifactStore) -> None:
    table = pa.table({"a": [1, None, 3], "b": ["x", "y", None]})
    back, saved = round_trip(table, store, "arrow-parquet")
    assert back.equals(table)
    assert saved.metadata["rows"] == 3


def test_parquet_writes_are_deterministic(store: ArtifactStore) -> None:
    for make in (polars_frame, pandas_frame, lambda: pa.table({"a": [1.5, None]})):
        first, second = save(make(), store), save(make(), store)
        assert first.digest == second.digest, first.format


# -- arrays and scalars -----------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        np.array([-(2**63), 0, 2**63 - 1], dtype=np.int64),
        np.array([True, False, True]),
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        np.zeros((0, 3), dtype=np.uint8),
    ],
    ids=["float32-2d", "int64", "bool", "fortran-order", "empty"],
)
def test_numpy_array_round_trips(store: ArtifactStore, array: np.ndarray) -> None:
    back, saved = round_trip(array, store, "numpy-npy")
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array, strict=True)
    assert saved.metadata == {"shape": list(array.shape), "dtype": str(array.dtype)}
    assert save(np.array(array, order="C"), store).digest == saved.digest


def test_numpy_object_array_falls_back_to_pickle(store: ArtifactStore) -> None:
    array = np.array([{"a": 1}, None], dtype=object)
    back, saved = round_trip(array, store, "pickle")
    assert back.tolist() == array.tolist()
    assert saved.metadata["why"] == "object arrays has no loopml format"


@pytest.mark.parametrize(
    "scalar",
    [np.float32(0.1), np.float64(1e308), np.int64(-7), np.uint64(2**64 - 1), np.bool_(True)],
    ids=str,
)
def test_numpy_scalar_keeps_its_type(store: ArtifactStore, scalar: np.generic) -> None:
    back, saved = round_trip(scalar, store, "json")
    assert type(back) is type(scalar)
    assert back == scalar
    assert saved.metadata == {"numpy_dtype": str(scalar.dtype)}
    # The type is kept even without the metadata: the bytes say it.
    assert type(load("json", saved.digest, store)) is type(scalar)


# -- JSON -------------------------------------------------------------------------------

NESTED = {
    "pairs": [(1, "a"), (2, ("b", None))],
    "empty": ((), [], {}),
    "text": "ünïcødé ✓ \U0001d518 \ud800",
    "big": 2**200,
    "negative": -(2**70),
    "floats": [0.1, 1e308, 5e-324, -0.0, math.inf, -math.inf, 1 / 3],
    "flags": [True, False, None],
    "tags": {"$tuple": [1, 2]},
    "tag inside": [{"$dict": {"$numpy": 1}}],
    "metric": np.float32(0.25),
}


def test_json_round_trips_nested_values_exactly(store: ArtifactStore) -> None:
    back, saved = round_trip(NESTED, store, "json")
    assert back == NESTED
    assert back["pairs"][1] == (2, ("b", None))
    assert type(back["empty"]) is tuple
    assert type(back["metric"]) is np.float32
    assert math.copysign(1.0, back["floats"][3]) == -1.0
    assert saved.python_type == "builtins.dict"
    assert saved.metadata == {}


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -(10**40), 0.1, 1e308, "", "x", [], (), {}, (1,), [(1, 2)], {"k": (None,)}],
    ids=repr,
)
def test_json_plain_values_keep_their_type(store: ArtifactStore, value: Any) -> None:
    back, _ = round_trip(value, store, "json")
    assert back == value
    assert type(back) is type(value)


def test_json_nan_round_trips(store: ArtifactStore) -> None:
    back, _ = round_trip([math.nan, (math.nan,)], store, "json")
    assert math.isnan(back[0])
    assert math.isnan(back[1][0])


def test_json_is_canonical(store: ArtifactStore) -> None:
    first = save({"b": [1, (2, 3)], "a": 0.1}, store)
    second = save({"a": 0.1, "b": [1, (2, 3)]}, store)
    assert first.digest == second.digest
    assert store.read_bytes(first.digest) == b'{"a":0.1,"b":[1,{"$tuple":[2,3]}]}'
    assert save([1, 2], store).digest != save((1, 2), store).digest


# -- references and the pickle fallback -------------------------------------------------


def test_dataset_version_is_stored_as_a_reference(tmp_path: Path) -> None:
    ws = loopml.init(tmp_path)
    try:
        version = loopml.data.add(pl.DataFrame({"x": [1, 2]}), name="numbers", workspace=ws)
        blobs = set(ws.artifacts.digests())
        saved = save(version, ws.artifacts)
        assert saved.format == "dataset-ref"
        assert set(ws.artifacts.digests()) - blobs == {saved.digest}
        back = load(saved.format, saved.digest, ws.artifacts, saved.metadata)
        assert back == {
            "ref": "numbers@v1",
            "artifact_id": version.artifact.id,
            "digest": version.digest,
        }
        assert saved.metadata["ref"] == "numbers@v1"
    finally:
        ws.close()


def test_custom_class_goes_to_the_named_pickle_fallback(store: ArtifactStore) -> None:
    value = Point(1, 2)
    back, saved = round_trip(value, store, "pickle")
    assert back == value
    assert saved.python_type == f"{__name__}.Point"
    assert saved.metadata == {
        "fallback": "pickle",
        "why": f"{__name__}.Point has no loopml format",
        "code": [f"{__name__}:Point"],  # loading it runs this class: downstream keys count it
    }


def test_containers_of_other_things_are_pickled_whole(store: ArtifactStore) -> None:
    value = {"when": dt.date(2024, 1, 1), "points": [Point(0, 0)], 1: "int key"}
    back, saved = round_trip(value, store, "pickle")
    assert back == value
    assert saved.metadata["why"] == "builtins.dict has no loopml format"


def test_a_cycle_is_pickled(store: ArtifactStore) -> None:
    value: list[Any] = [1]
    value.append(value)
    back, saved = round_trip(value, store, "pickle")
    assert back[1] is back
    assert saved.metadata["fallback"] == "pickle"


def a_generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: lambda x: x, "function"),
        (a_generator, "generator"),
        (functools.partial(open, os.devnull), "TextIOWrapper"),
        (lambda: io.BytesIO(b"x"), "BytesIO"),
        (threading.Lock, "lock"),
        (lambda: types, "module"),
        (lambda: iter([1, 2]), "list_iterator"),
        (lambda: [a_generator()], "list"),
    ],
    ids=["lambda", "generator", "open-file", "bytesio", "lock", "module", "iterator", "nested"],
)
def test_values_that_cannot_be_stored_are_refused(
    store: ArtifactStore, make: Any, named: str
) -> None:
    value = make()
    try:
        with pytest.raises(InvalidInput, match=named) as caught:
            save(value, store)
        assert "cannot be stored" in str(caught.value)
        assert "return " in str(caught.value)  # the fix
        assert describe_unserializable(value) == str(caught.value)
    finally:
        if hasattr(value, "close"):
            value.close()
    assert list(store.digests()) == []


def test_describe_unserializable_is_none_for_what_save_stores() -> None:
    for value in (1, polars_frame(), pandas_frame(), np.zeros(2), Point(1, 2), math.sqrt):
        assert describe_unserializable(value) is None


# -- loading ----------------------------------------------------------------------------


def test_a_corrupt_blob_is_caught_on_load(store: ArtifactStore) -> None:
    for value in ({"a": 1}, np.arange(4), polars_frame(), Point(3, 4)):
        saved = save(value, store)
        path = store.local_path(saved.digest)
        assert path is not None
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(DigestMismatch):
            load(saved.format, saved.digest, store, saved.metadata)


def test_unknown_format_is_refused(store: ArtifactStore) -> None:
    saved = save(1, store)
    with pytest.raises(InvalidInput, match="unknown stored format 'yaml'"):
        load("yaml", saved.digest, store)


def test_importing_the_module_loads_no_data_library() -> None:
    code = (
        "import sys, loopml._serialize;"
        "heavy = {'numpy', 'polars', 'pandas', 'pyarrow'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# -- annotations ------------------------------------------------------------------------

STORABLE = [
    pl.DataFrame,
    pd.DataFrame,
    pa.Table,
    np.ndarray,
    int,
    float,
    None,
    type(None),
    dict[str, float],
    list[int] | None,
    Optional[list[int]],  # noqa: UP045 (the typing form is what is tested)
    tuple[int, ...],
    tuple[str, pl.DataFrame],
    Annotated[dict[str, float], "metrics"],
    Any,
    Point,
    typing.Callable[[int], int],
    typing.Iterable[int],
    "Iterator[int]",  # unresolved: tried at run time
]


@pytest.mark.parametrize("annotation", STORABLE, ids=repr)
def test_storable_annotations_pass(annotation: Any) -> None:
    assert check_annotation(annotation) is None


REFUSED = [
    (Iterator[int], "iterator"),
    (typing.Iterator[int], "iterator"),
    (Generator, "iterator"),
    (typing.Generator[int, None, None], "iterator"),
    (IO, "open file"),
    (IO[str], "open file"),
    (typing.TextIO, "open file"),
    (io.TextIOWrapper, "open file"),
    (io.BytesIO, "open file"),
    (threading.Lock, "live process state"),
    (type(threading.Lock()), "live process state"),
    (threading.Thread, "live process state"),
    (socket.socket, "live process state"),
    (types.ModuleType, "module"),
    (Awaitable[int], "asynchronous"),
    (typing.Coroutine[Any, Any, int], "asynchronous"),
    (asyncio.Future, "asynchronous"),
    (AsyncIterator[int], "asynchronous"),
    (types.GeneratorType, "iterator"),
    (Iterator[int] | None, "iterator"),
    (list[Iterator[int]], "iterator"),
    (dict[str, IO[bytes]], "open file"),
    (Annotated[Generator[int, None, None], "rows"], "iterator"),
]


@pytest.mark.parametrize(("annotation", "why"), REFUSED, ids=[repr(a) for a, _ in REFUSED])
def test_unstorable_annotations_say_why(annotation: Any, why: str) -> None:
    sentence = check_annotation(annotation)
    assert sentence is not None
    assert why in sentence
    assert "cannot be stored" in sentence
