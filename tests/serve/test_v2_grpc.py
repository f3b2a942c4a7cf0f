"""The V2 gRPC codec against Triton's gRPC client: our messages and tritonclient's are
the same on the wire (each parses the other's bytes); requests tritonclient builds
decode to the arrays it was given, for every datatype; our responses read back in
tritonclient; inputs sent as typed contents decode too; malformed messages are
InvalidInput naming the field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from hypothesis import given, settings
from tritonclient.grpc import service_pb2 as triton
from tritonclient.grpc._utils import _get_inference_request

from loopml.errors import InvalidInput
from loopml.serve._proto import grpc_predict_v2_pb2 as ours
from loopml.serve._tensors import DATATYPES, Tensor, tensor_of
from loopml.serve._v2 import RequestedOutput
from loopml.serve._v2_grpc import decode_grpc, encode_grpc, parse_request

from .test_v2 import SAMPLES, arrays


def triton_request(
    arrays: dict[str, np.ndarray[Any, Any]],
    outputs: list[str] | None = None,
    request_id: str = "",
    parameters: dict[str, Any] | None = None,
) -> bytes:
    from tritonclient.utils import np_to_triton_dtype

    inputs = []
    for name, array in arrays.items():
        datatype = "BYTES" if array.dtype == object else np_to_triton_dtype(array.dtype)
        tensor = grpcclient.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    message = _get_inference_request(
        model_name="churn",
        inputs=inputs,
        model_version="3",
        request_id=request_id,
        outputs=[grpcclient.InferRequestedOutput(name) for name in outputs or []],
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        parameters=parameters,
    )
    return bytes(message.SerializeToString())


def read_back(response: ours.ModelInferResponse) -> grpcclient.InferResult:
    message = triton.ModelInferResponse.FromString(response.SerializeToString())
    return grpcclient.InferResult(message)


# -- the wire -------------------------------------------------------------------------------


def test_the_messages_are_the_same_on_the_wire_both_ways() -> None:
    theirs = triton.ModelInferRequest(model_name="m", model_version="2", id="r")
    theirs.parameters["flag"].bool_param = True
    theirs.parameters["count"].int64_param = -3
    theirs.parameters["note"].string_param = "hi"
    theirs.parameters["ratio"].double_param = 0.25
    theirs.parameters["big"].uint64_param = 2**64 - 1
    tensor = theirs.inputs.add(name="x", datatype="INT64", shape=[1, 2])
    tensor.parameters["p"].int64_param = 1
    tensor.contents.int64_contents.extend([5, 6])
    theirs.outputs.add(name="predictions").parameters["classification"].int64_param = 2
    theirs.raw_input_contents.append(b"\x01\x02")
    wire = theirs.SerializeToString()
    mine = ours.ModelInferRequest.FromString(wire)
    assert mine.SerializeToString(deterministic=True) == theirs.SerializeToString(
        deterministic=True
    )
    assert mine.parameters["big"].uint64_param == 2**64 - 1
    assert mine.parameters["ratio"].double_param == 0.25
    assert list(mine.inputs[0].contents.int64_contents) == [5, 6]
    back = triton.ModelInferRequest.FromString(mine.SerializeToString())
    assert back == theirs


def test_the_service_has_the_published_methods() -> None:
    service = ours.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert ours.DESCRIPTOR.package == "inference"
    assert [m.name for m in service.methods] == [
        "ServerLive",
        "ServerReady",
        "ModelReady",
        "ServerMetadata",
        "ModelMetadata",
        "ModelInfer",
    ]
    theirs = triton.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    for method in service.methods:
        twin = theirs.methods_by_name[method.name]
        assert method.input_type.full_name == twin.input_type.full_name
        assert method.output_type.full_name == twin.output_type.full_name


def test_the_generated_service_module_imports_within_the_package() -> None:
    from loopml.serve._proto import grpc_predict_v2_pb2_grpc as service

    assert service.grpc__predict__v2__pb2 is ours
    assert hasattr(service, "add_GRPCInferenceServiceServicer_to_server")


# -- requests from tritonclient -------------------------------------------------------------


@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_decodes_as_tritonclient_sent_it(datatype: str) -> None:
    array = SAMPLES[datatype]
    wire = triton_request({"x": array, "y": SAMPLES["FP64"]}, ["predictions"], "r-1", {"k": 2})
    request = decode_grpc(parse_request(wire))
    assert request.id == "r-1"
    assert request.parameters == {"k": 2}
    assert request.outputs == (RequestedOutput("predictions", True),)
    x, y = request.inputs
    assert (x.name, x.datatype, x.shape) == ("x", datatype, (1, 3))
    assert x.data.tolist() == array.tolist()
    if datatype != "BYTES":
        assert x.data.dtype == array.dtype
    np.testing.assert_array_equal(y.data, SAMPLES["FP64"])


def test_no_outputs_named_asks_for_all() -> None:
    request = decode_grpc(parse_request(triton_request({"x": SAMPLES["FP32"]})))
    assert request.outputs is None
    assert request.id is None


CONTENTS = {
    "BOOL": ("bool_contents", [True, False, True]),
    "INT8": ("int_contents", [-128, 0, 127]),
    "INT16": ("int_contents", [-(2**15), 0, 2**15 - 1]),
    "INT32": ("int_contents", [-(2**31), 0, 2**31 - 1]),
    "INT64": ("int64_contents", [-(2**63), 0, 2**63 - 1]),
    "UINT8": ("uint_contents", [0, 7, 255]),
    "UINT16": ("uint_contents", [0, 7, 65535]),
    "UINT32": ("uint_contents", [0, 7, 2**32 - 1]),
    "UINT64": ("uint64_contents", [0, 7, 2**64 - 1]),
    "FP32": ("fp32_contents", [-1.5, 0.25, 2.0]),
    "FP64": ("fp64_contents", [-1.5, 0.1, 1.7e308]),
    "BYTES": ("bytes_contents", [b"", b"a", b"\xff"]),
}


@pytest.mark.parametrize("datatype", list(CONTENTS))
def test_typed_contents_decode(datatype: str) -> None:
    field, values = CONTENTS[datatype]
    message = triton.ModelInferRequest(model_name="m")
    tensor = message.inputs.add(name="x", datatype=datatype, shape=[3, 1])
    getattr(tensor.contents, field).extend(values)
    (x,) = decode_grpc(parse_request(message.SerializeToString())).inputs
    assert x.shape == (3, 1)
    assert x.data.ravel().tolist() == values


# -- responses read by tritonclient ---------------------------------------------------------


@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_encodes_so_tritonclient_reads_it_back(datatype: str) -> None:
    array = SAMPLES[datatype]
    outputs = [Tensor("out", datatype, array.shape, array), tensor_of("other", np.arange(3))]
    parameters = {"classes": "[0, 1]", "n": 2, "ok": True, "ratio": 0.5, "big": 2**64 - 1}
    response = encode_grpc("p-1", "churn", "3", outputs, None, parameters)
    result = read_back(response)
    found = result.as_numpy("out")
    assert found.shape == array.shape
    assert found.tolist() == array.tolist()
    np.testing.assert_array_equal(result.as_numpy("other"), np.arange(3))
    message = result.get_response()
    assert (message.model_name, message.model_version, message.id) == ("churn", "3", "p-1")
    assert message.parameters["classes"].string_param == "[0, 1]"
    assert message.parameters["n"].int64_param == 2
    assert message.parameters["ok"].bool_param is True
    assert message.parameters["ratio"].double_param == 0.5
    assert message.parameters["big"].uint64_param == 2**64 - 1


def test_only_the_requested_outputs_are_sent_in_their_order() -> None:
    outputs = [tensor_of("predictions", np.array([1])), tensor_of("probabilities", np.eye(1))]
    requested = (RequestedOutput("probabilities", True), RequestedOutput("predictions", True))
    response = encode_grpc(None, "m", "1", outputs, requested, {})
    assert [o.name for o in response.outputs] == ["probabilities", "predictions"]
    assert response.id == ""
    with pytest.raises(InvalidInput) as error:
        encode_grpc(None, "m", "1", outputs, (RequestedOutput("x", True),), {})
    assert error.value.field == "outputs[0].name"


@settings(max_examples=50, deadline=None)
@given(array=arrays())
def test_any_tensor_round_trips_through_tritonclient(array: np.ndarray[Any, Any]) -> None:
    (x,) = decode_grpc(parse_request(triton_request({"x": array}))).inputs
    assert x.data.shape == array.shape
    assert x.data.tolist() == array.tolist()
    found = read_back(encode_grpc(None, "m", "1", [x], None, {})).as_numpy("x")
    assert found.shape == array.shape
    assert found.tolist() == array.tolist()


# -- malformed messages ---------------------------------------------------------------------


def _message(**tensor: Any) -> triton.ModelInferRequest:
    message = triton.ModelInferRequest(model_name="m")
    contents = tensor.pop("contents", None)
    added = message.inputs.add(**({"name": "x", "datatype": "FP32", "shape": [1, 2]} | tensor))
    if contents is not None:
        field, values = contents
        getattr(added.contents, field).extend(values)
    return message


def _with_raw(message: triton.ModelInferRequest, *raw: bytes) -> triton.ModelInferRequest:
    message.raw_input_contents.extend(raw)
    return message


def _classification() -> triton.ModelInferRequest:
    message = _with_raw(_message(), b"\0" * 8)
    message.outputs.add(name="predictions").parameters["classification"].int64_param = 2
    return message


MALFORMED: list[tuple[str, Any, str, str]] = [
    ("not a protobuf", b"\xff\xff\xff", "request", "not a valid inference.ModelInferRequest"),
    ("no inputs", triton.ModelInferRequest(model_name="m"), "inputs", "no inputs"),
    ("unnamed input", _message(name="", contents=("fp32_contents", [1, 2])), "inputs[0].name",
     "empty"),
    ("unknown datatype", _message(datatype="FP8"), "inputs[0].datatype", "'FP8'"),
    ("negative dimension", _message(shape=[1, -2]), "inputs[0].shape", "integer >= 0"),
    ("no data", _message(), "inputs[0].contents", "has no data; send its elements in "
     "contents.fp32_contents"),
    ("wrong contents field", _message(contents=("int64_contents", [1, 2])), "inputs[0].contents",
     "FP32 but has int64_contents"),
    ("FP16 in contents", _message(datatype="FP16", contents=("fp32_contents", [1, 2])),
     "inputs[0].contents", "send its elements in raw_input_contents"),
    ("contents shorter than shape", _message(contents=("fp32_contents", [1.0])),
     "inputs[0].data", "holds 1 value(s) where shape [1, 2] takes 2"),
    ("INT8 out of range", _message(datatype="INT8", contents=("int_contents", [1, 200])),
     "inputs[0].data", "out of the range of INT8"),
    ("BYTES count", _message(datatype="BYTES", contents=("bytes_contents", [b"a"])),
     "inputs[0].contents", "holds 1 element(s) where shape [1, 2] takes 2"),
    ("raw count", _with_raw(_message(), b"\0" * 8, b"\0" * 8), "raw_input_contents",
     "2 entries for 1 input(s)"),
    ("raw size", _with_raw(_message(), b"\0" * 4), "inputs[0].binary_data_size",
     "4 byte(s) of data where shape [1, 2] of FP32 takes 8"),
    ("raw and contents", _with_raw(_message(contents=("fp32_contents", [1, 2])), b"\0" * 8),
     "inputs[0].contents", "has contents while raw_input_contents is given"),
    ("classification extension", _classification(), "outputs[0].classification",
     "ask for probabilities"),
    ("huge shape", _with_raw(_message(shape=[2**40, 2**20]), b"\0" * 8),
     "inputs[0].binary_data_size", f"takes {2**62}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("message", "field", "text"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_messages_are_invalid_input_naming_the_field(
    message: Any, field: str, text: str
) -> None:
    wire = message if isinstance(message, bytes) else message.SerializeToString()
    with pytest.raises(InvalidInput) as error:
        decode_grpc(parse_request(wire))
    assert error.value.field == field
    assert text in str(error.value)


# -- over a real channel --------------------------------------------------------------------


def test_tritonclient_calls_the_generated_service_over_a_real_channel() -> None:
    """The generated service module, in one process with tritonclient's own messages
    (the reason the messages have a descriptor pool of their own), answers its client."""
    from concurrent import futures

    import grpc

    from loopml.serve._proto import grpc_predict_v2_pb2_grpc as service

    class Echo(service.GRPCInferenceServiceServicer):
        def ModelInfer(self, request: Any, context: Any) -> ours.ModelInferResponse:
            decoded = decode_grpc(request)
            doubled = [tensor_of(t.name, t.data * 2) for t in decoded.inputs]
            return encode_grpc(decoded.id, request.model_name, "1", doubled, None, {})

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    service.add_GRPCInferenceServiceServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
        sent = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
        x = grpcclient.InferInput("x", [1, 3], "FP32")
        x.set_data_from_numpy(sent)
        result = client.infer("m", [x], request_id="r-9", client_timeout=10)
        np.testing.assert_array_equal(result.as_numpy("x"), [[3.0, -4.0, 6.5]])
        assert result.get_response().id == "r-9"
        client.close()
    finally:
        server.stop(grace=None)
