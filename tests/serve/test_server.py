"""The server answered by real clients: Triton's HTTP client (binary and JSON) and gRPC
client, and MLflow's request formats, each getting what the model gives in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.serve.serving import breast_cancer, call, frame, logistic, register, rows, start

import loopml
from loopml.serve import Running

tritonhttp = pytest.importorskip("tritonclient.http")
tritongrpc = pytest.importorskip("tritonclient.grpc")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, object]]:
    root: Path = tmp_path_factory.mktemp("ws")
    with loopml.init(root) as ws:
        model = logistic()
        register(ws, model)
        loopml.deploy("bc", model="bc@champion", workspace=ws)
        with start(ws) as running:
            yield running, model


def test_triton_http_binary_gets_the_models_answers(served: tuple[Running, object]) -> None:
    running, model = served
    X = rows(7)
    client = tritonhttp.InferenceServerClient(running.url.removeprefix("http://"))
    given = tritonhttp.InferInput("input", list(X.shape), "FP64")
    given.set_data_from_numpy(X, binary_data=True)
    wanted = [
        tritonhttp.InferRequestedOutput("predictions", binary_data=True),
        tritonhttp.InferRequestedOutput("probabilities", binary_data=True),
    ]
    found = client.infer("bc", [given], outputs=wanted, request_id="r-7")
    assert found.get_response()["id"] == "r-7"
    assert found.as_numpy("predictions").tolist() == model.predict(frame(X)).tolist()
    np.testing.assert_allclose(found.as_numpy("probabilities"), model.predict_proba(frame(X)))
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("bc")


def test_triton_http_json_mode_sends_no_content_type_and_is_answered(
    served: tuple[Running, object],
) -> None:
    running, model = served
    X = rows(3, start=100)
    client = tritonhttp.InferenceServerClient(running.url.removeprefix("http://"))
    given = tritonhttp.InferInput("input", list(X.shape), "FP64")
    given.set_data_from_numpy(X, binary_data=False)
    found = client.infer(
        "bc", [given], outputs=[tritonhttp.InferRequestedOutput("predictions", binary_data=False)]
    )
    assert found.as_numpy("predictions").tolist() == model.predict(frame(X)).tolist()
    metadata = client.get_model_metadata("bc")
    assert [i["name"] for i in metadata["inputs"]] == list(breast_cancer()[0].columns)


def test_triton_grpc_client_gets_the_models_answers(served: tuple[Running, object]) -> None:
    running, model = served
    X = rows(5, start=200).astype(np.float32)
    client = tritongrpc.InferenceServerClient(running.grpc_target)
    given = tritongrpc.InferInput("input", list(X.shape), "FP32")
    given.set_data_from_numpy(X)
    found = client.infer("bc", [given], request_id="g-1")
    assert found.get_response().id == "g-1"
    expected = model.predict(frame(X.astype(np.float64)))
    assert found.as_numpy("predictions").tolist() == expected.tolist()
    assert client.is_server_live()
    assert client.is_model_ready("bc")
    with pytest.raises(Exception, match="no deployment is called 'nope'"):
        client.infer("nope", [given])


@pytest.mark.parametrize("form", ["dataframe_split", "dataframe_records", "inputs", "instances"])
def test_mlflow_json_formats_get_the_models_answers(
    served: tuple[Running, object], form: str
) -> None:
    running, model = served
    X, _ = breast_cancer()
    frame = X.iloc[10:16]
    body: dict[str, object] = {
        "dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()},
        "dataframe_records": frame.to_dict(orient="records"),
        "inputs": {column: frame[column].tolist() for column in frame.columns},
        "instances": frame.to_dict(orient="records"),
    }
    status, headers, found = call(f"{running.url}/invocations", {form: body[form]})
    assert status == 200, found
    assert found == {"predictions": model.predict(frame).tolist()}
    assert headers["x-loopml-version"] == "bc@v1"


def test_mlflow_csv_gets_the_models_answers(served: tuple[Running, object]) -> None:
    running, model = served
    frame = breast_cancer()[0].iloc[20:24]
    status, _, found = call(
        f"{running.url}/invocations",
        raw=frame.to_csv(index=False).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert status == 200, found
    assert found == {"predictions": model.predict(frame).tolist()}


def test_health_endpoints_answer_json_and_echo_the_request_id(
    served: tuple[Running, object],
) -> None:
    running, _ = served
    for path, expected in [
        ("/v2/health/live", {"live": True}),
        ("/v2/health/ready", {"ready": True}),
        ("/ping", {"status": "ok"}),
        ("/health", {"status": "ok"}),
    ]:
        status, headers, found = call(running.url + path, headers={"X-Request-Id": "abc"})
        assert (status, found) == (200, expected)
        assert headers["x-request-id"] == "abc"
    assert call(running.url + "/version")[2]["version"] == loopml.__version__
    for path in ("/v2/health/live", "/v2/models/nope", "/metrics"):
        assert len(call(running.url + path)[1]["x-request-id"]) == 32  # made when not sent


def test_an_unknown_model_is_a_404_naming_those_served(served: tuple[Running, object]) -> None:
    running, _ = served
    status, _, found = call(running.url + "/v2/models/nope/infer", {"inputs": []})
    assert status == 404
    assert "no deployment is called 'nope'" in found["error"]
    assert "bc" in found["error"]
    metrics = call(running.url + "/metrics")[2].decode()
    assert 'loopml_errors_total{code="404",protocol="v2"}' in metrics


def test_a_known_path_with_another_method_is_a_405(served: tuple[Running, object]) -> None:
    running, _ = served
    status, _, found = call(running.url + "/invocations")  # a GET
    assert status == 405
    assert found == {
        "error": "/invocations takes POST, not GET",
        "code": "method_not_allowed",  # every error body has a code
        "field": "method",
    }
    assert call(running.url + "/v2/models/bc/infer")[0] == 405


def test_a_missing_column_is_a_400_naming_it(served: tuple[Running, object]) -> None:
    running, _ = served
    X, _ = breast_cancer()
    records = X.iloc[:2].drop(columns=["mean radius"]).to_dict(orient="records")
    status, _, found = call(running.url + "/invocations", {"dataframe_records": records})
    assert status == 400
    assert found["field"] == "mean radius"
    assert "missing column" in found["error"]


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b'{"inputs": "x"}', b'{"inputs": [{"name": "input"}]}', b"\xff\xfe"],
)
def test_malformed_bodies_are_400s_never_500s(served: tuple[Running, object], raw: bytes) -> None:
    running, _ = served
    status, _, found = call(running.url + "/v2/models/bc/infer", raw=raw)
    assert status == 400, found
    assert isinstance(found, dict)
    assert found["error"]


def test_each_answer_names_its_version_and_a_prediction_id(
    served: tuple[Running, object],
) -> None:
    running, _ = served
    X = rows(1)
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": X.tolist()}]}
    status, headers, found = call(running.url + "/v2/models/bc/infer", body)
    assert status == 200
    assert found["model_version"] == "1"
    assert headers["x-loopml-version"] == "bc@v1"
    assert found["parameters"]["prediction_id"] == headers["x-loopml-prediction-id"]
    assert json.loads(found["parameters"]["classes"]) == [0, 1]


def test_the_onnx_copy_and_a_pipeline_with_preprocessing_are_served_as_registered(
    tmp_path: Path,
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from loopml import registry

    X, y = breast_cancer()
    scaled = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    with loopml.init(tmp_path) as ws:
        registry.register(
            scaled,
            "bc",
            signature_from=X,
            onnx=X,
            alias="champion",
            force=True,
            reason="a test model",
            workspace=ws,
        )
        loopml.deploy("native", model="bc@champion", copy="native", workspace=ws)
        loopml.deploy("onnx", model="bc@champion", copy="onnx", workspace=ws)
        rows_given = X.iloc[30:60]
        body = {
            "dataframe_split": {"columns": list(X.columns), "data": rows_given.to_numpy().tolist()}
        }
        with start(ws) as running:
            for name in ("native", "onnx"):
                status, _, found = call(
                    f"{running.url}/invocations", body, headers={"X-Loopml-Deployment": name}
                )
                assert status == 200, found
                assert found == {"predictions": scaled.predict(rows_given).tolist()}
            live = running.server.engine.deployments
            assert live["onnx"].arms[0].loaded.copy == "onnx"
            assert live["native"].arms[0].loaded.call.direct  # checked equal at load


def test_a_body_with_nan_says_json_has_none(served: tuple[Running, object]) -> None:
    """Python's json.dumps writes NaN; the 400 says to send null, on each endpoint."""
    running, _ = served
    row = ", ".join(["1.0"] * 29 + ["NaN"])
    bodies = {
        "/v2/models/bc/infer": '{"inputs": [{"name": "input", "shape": [1, 30], '
        f'"datatype": "FP64", "data": [{row}]}}]}}',
        "/invocations": f'{{"instances": [[{row}]]}}',
        "/v2/feedback": '{"prediction_id": "p", "reward": NaN}',
    }
    for path, body in bodies.items():
        status, _, found = call(running.url + path, raw=body.encode())
        assert status == 400, (path, found)
        assert "NaN and Infinity are not JSON: send null" in found["error"], path
