"""Rows with missing values: an ONNX copy answers NaN for them where its model refuses
them, so a copy of a model that does not take them refuses them too, naming the rows
and columns, in process, in a batch scored from a dataset and over HTTP; a copy of a
model that imputes them predicts them as the model does. Rows with an infinity, or with
a category the model was not trained on, that the model fails on are named the same
way: the rows are at fault, not the model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.datasets import load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from tests.serve.serving import call, start

import loopml
from loopml import registry, serve
from loopml.models._missing import RefusedValues
from loopml.serve._batching import Batcher
from loopml.serve._calling import VersionCall, as_columns

HOLES = [2, 7, 30]  # rows whose bp is missing


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[loopml.Workspace]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with loopml.init(tmp_path_factory.mktemp("missing")) as workspace:
        for name, model in (
            ("ridge", Ridge()),
            ("imputed", make_pipeline(SimpleImputer(), Ridge())),
        ):
            model.fit(X, y)
            registry.register(
                model, name, signature_from=X, onnx=X, serve="onnx", workspace=workspace
            )
        yield workspace


def planted(column: str, value: float | None) -> pl.DataFrame:
    """The first 40 diabetes rows with ``value`` for ``column`` in rows :data:`HOLES`."""
    X, _ = load_diabetes(return_X_y=True, as_frame=True)
    frame = pl.from_pandas(X).head(40)
    hits = pl.int_range(pl.len()).is_in(HOLES)
    return frame.with_columns(pl.when(hits).then(value).otherwise(pl.col(column)).alias(column))


def holed() -> pl.DataFrame:
    return planted("bp", None)


def infinite() -> pl.DataFrame:
    return planted("bmi", float("-inf"))


def test_a_copy_records_whether_its_model_takes_missing_values(ws: loopml.Workspace) -> None:
    assert registry.get("ridge@v1", workspace=ws).copies["onnx"]["allow_nan"] is False
    assert registry.get("imputed@v1", workspace=ws).copies["onnx"]["allow_nan"] is True


PLANTED = [
    (holed, "missing values", "bp", "fill them in"),
    (infinite, "infinite values", "bmi", "send finite numbers"),
]


@pytest.mark.parametrize("copy", ["onnx", "native"])
@pytest.mark.parametrize(("rows", "what", "column", "fix"), PLANTED, ids=["missing", "infinite"])
def test_rows_a_model_refuses_are_named_not_answered(
    ws: loopml.Workspace, copy: str, rows: Any, what: str, column: str, fix: str
) -> None:
    """Missing values and infinities: the native model refuses them; its ONNX copy, which
    would answer them (NaN, or a number), refuses them too, naming the rows."""
    _, predictor = registry.load_served("ridge@v1", copy=copy, workspace=ws)
    with pytest.raises(RefusedValues) as refused:
        predictor.predict(rows())
    assert refused.value.rows == tuple(HOLES)
    assert refused.value.columns == (column,)
    assert f"row(s) 3, 8, 31 have {what} (in {column})" in str(refused.value)
    assert fix in str(refused.value)
    full = holed().drop_nulls()
    assert not np.isnan(predictor.predict(full).predictions).any()


def test_a_copy_of_a_model_that_imputes_predicts_them_as_the_model(ws: loopml.Workspace) -> None:
    _, copy = registry.load_served("imputed@v1", copy="onnx", workspace=ws)
    _, native = registry.load_served("imputed@v1", copy="native", workspace=ws)
    got, expected = copy.predict(holed()).predictions, native.predict(holed()).predictions
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_a_batch_names_the_rows_of_the_whole_dataset(ws: loopml.Workspace, cli) -> None:
    loopml.data.add(holed(), name="patients", workspace=ws)
    scored = cli("predict", "ridge@v1", "patients@v1", "--out", "scores", cwd=ws.root)
    assert scored.code == 2, scored
    assert "row(s) 3, 8, 31 have missing values (in bp)" in scored.err
    assert "Traceback" not in scored.err


@pytest.mark.parametrize("copy", ["onnx", "native"])
def test_the_server_answers_400_naming_the_row(ws: loopml.Workspace, copy: str) -> None:
    serve.deploy(f"sugar-{copy}", "ridge@v1", copy=copy, workspace=ws)
    record = holed().row(HOLES[0], named=True)
    with start(ws, grpc_port=None) as running:
        status, _, body = call(
            f"{running.url}/invocations", {"dataframe_records": [record]},
            headers={"X-Loopml-Deployment": f"sugar-{copy}"},
        )  # fmt: skip
    assert status == 400, body
    assert "missing values (in bp)" in body["error"]


def test_a_request_with_missing_values_fails_alone_in_its_batch(ws: loopml.Workspace) -> None:
    _, predictor = registry.load_served("ridge@v1", copy="native", workspace=ws)
    call_ = VersionCall(predictor)
    good, bad = holed().row(0, named=True), holed().row(HOLES[0], named=True)
    sizes: list[int] = []

    async def three() -> list[object]:
        batcher = Batcher(call_, on_batch=lambda rows, requests: sizes.append(requests))
        asks = [as_columns([row]) for row in (good, bad, good)]
        return await asyncio.gather(
            *(batcher.submit(ask, 1, probabilities=False) for ask in asks), return_exceptions=True
        )

    first, second, third = asyncio.run(three())
    assert sizes == [1, 2]  # the first alone (the thread was idle), then the other two
    assert isinstance(second, RefusedValues)
    assert second.rows == (0,)
    for answered in (first, third):
        assert not isinstance(answered, BaseException), answered
        expected = predictor.predict(holed().head(1)).predictions
        np.testing.assert_allclose(answered.predictions, expected)


def test_an_infinity_in_a_binary_tensor_is_a_400_not_the_versions_failure(
    ws: loopml.Workspace,
) -> None:
    import tritonclient.http as httpclient

    serve.deploy("sugar-inf", "ridge@v1", copy="native", workspace=ws)
    record = infinite().row(HOLES[0], named=True)
    tensors = []
    for name, value in record.items():
        tensor = httpclient.InferInput(name, [1], "FP64")
        tensor.set_data_from_numpy(np.array([value], dtype=np.float64), binary_data=True)
        tensors.append(tensor)
    body, length = httpclient.InferenceServerClient.generate_request_body(tensors)
    with start(ws, grpc_port=None) as running:
        status, _, answer = call(
            f"{running.url}/v2/models/sugar-inf/infer", raw=bytes(body),
            headers={"Inference-Header-Content-Length": str(length)},
        )  # fmt: skip
    assert status == 400, answer
    assert "row(s) 1 have infinite values (in bmi)" in answer["error"]


def sized() -> pl.DataFrame:
    """The diabetes rows with a text column, ``size``, from their bmi."""
    X, _ = load_diabetes(return_X_y=True, as_frame=True)
    frame = pl.from_pandas(X)
    size = pl.when(pl.col("bmi") < 0).then(pl.lit("small")).otherwise(pl.lit("large"))
    return frame.with_columns(size.alias("size"))


def test_a_category_the_model_never_saw_is_the_rows_fault(ws: loopml.Workspace, cli) -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    X = sized().to_pandas()
    _, y = load_diabetes(return_X_y=True)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="error"), ["size"]), remainder="passthrough"
    )
    registry.register(make_pipeline(encode, Ridge()).fit(X, y), "sized", signature_from=X,
                      workspace=ws)  # fmt: skip
    stored = registry.get("sized@v1", workspace=ws).signature
    assert stored is not None
    assert {c.name: c.values for c in stored.inputs}["size"] == ("large", "small")

    third = pl.int_range(pl.len()) == 3
    huge = pl.when(third).then(pl.lit("huge")).otherwise("size").alias("size")
    rows = sized().head(5).with_columns(huge)
    _, predictor = registry.load_served("sized@v1", copy="native", workspace=ws)
    with pytest.raises(RefusedValues) as refused:
        predictor.predict(rows)
    assert refused.value.rows == (3,)
    assert refused.value.columns == ("size",)
    assert "row(s) 4 have values not seen in training (in size)" in str(refused.value)
    assert len(predictor.predict(rows.filter(pl.col("size") != "huge")).predictions) == 4

    serve.deploy("sized", "sized@v1", copy="native", workspace=ws)
    with start(ws, grpc_port=None) as running:
        status, _, body = call(
            f"{running.url}/invocations", {"dataframe_records": rows.tail(2).to_dicts()},
            headers={"X-Loopml-Deployment": "sized"},
        )  # fmt: skip
    assert status == 400, body
    assert "row(s) 1 have values not seen in training (in size)" in body["error"]

    shown = cli("models", "show", "sized@v1", cwd=ws.root)
    assert shown.code == 0, shown
    assert "large, small" in shown.out
