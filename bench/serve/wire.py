"""What the wire formats cost per request: decoding a single-row request of 30 features
and encoding its answer, for each protocol the server speaks. Timings only; run with
``python bench/serve/wire.py`` (from the repository, with ``src`` importable).

Each line is the median of 5,000 calls after 500 of warm-up, one core, in microseconds:
decode (body to tensors, then to the rows a Predictor takes) and encode (a classifier's
prediction and probabilities to the response body). The request bodies are the ones
tritonclient builds (JSON and binary) and MLflow's formats.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from loopml.models import Prediction
from loopml.serve._invocations import decode_invocations, encode_invocations
from loopml.serve._shapes import response_parameters, rows_from_tensors, tensors_from_prediction
from loopml.serve._v2 import decode_rest, encode_rest
from loopml.serve._v2_grpc import decode_grpc, encode_grpc, parse_request

CALLS = 5_000
WARMUP = 500
FEATURES = [f"f{i}" for i in range(30)]


def median_us(work: Callable[[], Any]) -> float:
    for _ in range(WARMUP):
        work()
    times = []
    for _ in range(CALLS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def v2_bodies(row: np.ndarray[Any, Any]) -> dict[str, tuple[bytes, int | None]]:
    import tritonclient.http as httpclient

    bodies = {}
    for name, binary in (("JSON", False), ("binary", True)):
        tensor = httpclient.InferInput("input-0", [1, 30], "FP64")
        tensor.set_data_from_numpy(row, binary_data=binary)
        outputs = [
            httpclient.InferRequestedOutput(o, binary_data=binary)
            for o in ("predictions", "probabilities")
        ]
        body, length = httpclient.InferenceServerClient.generate_request_body(
            [tensor], outputs=outputs
        )
        bodies[name] = (bytes(body), length)
    return bodies


def grpc_body(row: np.ndarray[Any, Any]) -> bytes:
    from loopml.serve._proto.grpc_predict_v2_pb2 import ModelInferRequest

    message = ModelInferRequest(model_name="m", id="r1")
    message.inputs.add(name="input-0", datatype="FP64", shape=[1, 30])
    message.raw_input_contents.append(row.tobytes())
    return bytes(message.SerializeToString())


def main() -> int:
    row = np.random.default_rng(0).normal(size=(1, 30))
    prediction = Prediction(np.array([1]), np.array([[0.2, 0.8]]), np.array([0, 1]))
    results: dict[str, tuple[float, float]] = {}

    for name, (body, length) in v2_bodies(row).items():

        def decode(body: bytes = body, length: int | None = length) -> Any:
            request = decode_rest(body, length)
            return request, rows_from_tensors(request.inputs, FEATURES, None)

        request, _ = decode()

        def encode(request: Any = request) -> Any:
            tensors = tensors_from_prediction(prediction)
            return encode_rest(
                "p-1", "m", "1", tensors, request.outputs, request.binary_outputs_default,
                response_parameters(prediction),
            )  # fmt: skip

        results[f"V2 REST, {name}"] = (median_us(decode), median_us(encode))

    wire = grpc_body(row)

    def decode_g() -> Any:
        request = decode_grpc(parse_request(wire))
        return request, rows_from_tensors(request.inputs, FEATURES, None)

    def encode_g() -> bytes:
        tensors = tensors_from_prediction(prediction)
        response = encode_grpc("p-1", "m", "1", tensors, None, response_parameters(prediction))
        return bytes(response.SerializeToString())

    results["V2 gRPC, raw"] = (median_us(decode_g), median_us(encode_g))

    values = row[0].tolist()
    mlflow = {
        "dataframe_split": {"dataframe_split": {"columns": FEATURES, "data": [values]}},
        "dataframe_records": {"dataframe_records": [dict(zip(FEATURES, values, strict=True))]},
        "inputs (rows)": {"inputs": [values]},
    }
    for name, request_json in mlflow.items():
        body = orjson.dumps(request_json)

        def decode_m(body: bytes = body) -> Any:
            return decode_invocations(body, "application/json", FEATURES)

        def encode_m() -> bytes:
            return encode_invocations(prediction)

        results[f"/invocations, {name}"] = (median_us(decode_m), median_us(encode_m))
    csv = (",".join(FEATURES) + "\n" + ",".join(map(str, row[0].tolist())) + "\n").encode()
    results["/invocations, CSV"] = (
        median_us(lambda: decode_invocations(csv, "text/csv")),
        median_us(lambda: encode_invocations(prediction)),
    )

    print(f"One row of 30 features; median of {CALLS:,} calls, microseconds")
    print(f"  {'format':<34} {'decode':>8} {'encode':>8} {'total':>8}")
    for name, (decode_us, encode_us) in results.items():
        print(f"  {name:<34} {decode_us:8.1f} {encode_us:8.1f} {decode_us + encode_us:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
