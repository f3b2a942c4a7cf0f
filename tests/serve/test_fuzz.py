"""The server fuzzed: REST from its own OpenAPI description with schemathesis, gRPC
with random and half-valid messages. Bad input is a 4xx (INVALID_ARGUMENT, NOT_FOUND),
never a 5xx (INTERNAL, UNKNOWN). Bounded in cases and time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.serve.serving import logistic, register, start

import loopml
from loopml.serve import Running
from loopml.serve._proto import grpc_predict_v2_pb2 as pb


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with loopml.init(tmp_path_factory.mktemp("ws")) as ws:
        register(ws, logistic(1.0))
        loopml.deploy("bc", model="bc@champion", workspace=ws)
        with start(ws, flush_seconds=5) as server:
            yield server


def test_rest_fuzzed_from_its_openapi_description_gives_no_5xx(
    running: Running, tmp_path: Path
) -> None:
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command is not None, "schemathesis is in the dev extra"
    found = subprocess.run(
        [
            command,
            "run",
            f"{running.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "12",
            "--seed",
            "1",
            "--workers",
            "1",
            "--phases",
            "coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # schemathesis keeps a cache where it runs
    )
    assert found.returncode == 0, found.stdout[-4000:]
    assert "passed" in found.stdout


_DATATYPES = ["FP64", "FP32", "INT64", "INT32", "BOOL", "BYTES", "UINT8", "FP16", "", "X"]


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """A ModelInferRequest, valid in parts: names, datatypes, shapes and contents drawn
    freely, raw contents of any length."""
    message = pb.ModelInferRequest(
        model_name=draw(st.sampled_from(["bc", "nope", ""])),
        model_version=draw(st.sampled_from(["", "1", "2", "v1", "x", "99999999999"])),
        id=draw(st.text(max_size=8)),
    )
    raw = draw(st.booleans())
    for _ in range(draw(st.integers(0, 3))):
        tensor = message.inputs.add(
            name=draw(st.sampled_from(["input", "mean radius", "", "x"])),
            datatype=draw(st.sampled_from(_DATATYPES)),
            shape=draw(st.lists(st.integers(-2, 40), max_size=3)),
        )
        if raw:
            message.raw_input_contents.append(draw(st.binary(max_size=300)))
        else:
            tensor.contents.fp64_contents.extend(
                draw(st.lists(st.floats(allow_nan=True), max_size=40))
            )
    for name in draw(st.lists(st.sampled_from(["predictions", "probabilities", "x"]), max_size=2)):
        message.outputs.add(name=name)
    return bytes(message.SerializeToString())


def test_grpc_fuzzed_gives_no_internal_error(running: Running) -> None:
    channel = grpc.insecure_channel(running.grpc_target)
    infer = channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=lambda data: data,
        response_deserializer=lambda data: data,
    )
    seen: set[grpc.StatusCode] = set()
    bad: list[str] = []

    @settings(
        max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(st.one_of(requests(), st.binary(max_size=200)))
    def check(data: bytes) -> None:
        try:
            infer(data, timeout=30)
            seen.add(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            seen.add(error.code())
            if error.code() not in {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}:
                bad.append(f"{error.code()}: {error.details()}")

    try:
        check()
    finally:
        channel.close()
    assert bad == []
    assert grpc.StatusCode.INVALID_ARGUMENT in seen
