"""The Open Inference Protocol over gRPC: ``inference.ModelInferRequest`` in,
``inference.ModelInferResponse`` out (the messages of ``_proto/grpc_predict_v2.proto``).

Inputs come as typed ``contents`` (``fp32_contents``, ``int64_contents``, ...) or as
``raw_input_contents``, one entry per input (what tritonclient sends); outputs always go
in ``raw_output_contents``. Errors are :class:`~loopml.errors.InvalidInput` as over REST.

>>> import numpy as np
>>> from loopml.serve._proto.grpc_predict_v2_pb2 import ModelInferRequest
>>> message = ModelInferRequest(model_name="churn", id="r1")
>>> tensor = message.inputs.add(name="x", datatype="FP64", shape=[1, 2])
>>> tensor.contents.fp64_contents.extend([0.5, 2.0])
>>> request = decode_grpc(parse_request(message.SerializeToString()))
>>> request.id, request.inputs[0].data.tolist()
('r1', [[0.5, 2.0]])
>>> response = encode_grpc("r1", "churn", "3", [tensor_of("predictions", np.array([1]))], None, {})
>>> response.outputs[0].name, np.frombuffer(response.raw_output_contents[0], "<i8").tolist()
('predictions', [1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from loopml.errors import InvalidInput
from loopml.serve._proto.grpc_predict_v2_pb2 import (
    InferParameter,
    InferTensorContents,
    ModelInferRequest,
    ModelInferResponse,
)
from loopml.serve._tensors import (
    DTYPES,
    Tensor,
    check_datatype,
    check_shape,
    element_count,
    from_array,
    from_raw,
    raw_bytes,
    tensor_of,
)
from loopml.serve._v2 import InferRequest, RequestedOutput, refuse_unsupported, select_outputs

__all__ = ["decode_grpc", "encode_grpc", "parse_request", "tensor_of"]

# datatype -> the field of InferTensorContents that carries it (FP16 travels raw only)
_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_INT64_MAX = 2**63 - 1
# the dtype each contents field holds, where it is not the 8-byte one of its kind
_WIDE = {"BOOL": np.dtype("?"), "FP32": np.dtype("<f4")}


def parse_request(data: bytes) -> ModelInferRequest:
    """A ``ModelInferRequest`` from its bytes (the gRPC server's deserializer); bytes
    that do not parse are InvalidInput."""
    try:
        request: ModelInferRequest = ModelInferRequest.FromString(data)
    except (DecodeError, ValueError) as error:
        raise InvalidInput(
            f"the request is not a valid inference.ModelInferRequest ({error}); send one "
            "built from grpc_predict_v2.proto",
            field="request",
        ) from None
    return request


def decode_grpc(request: ModelInferRequest) -> InferRequest:
    """The request carried by a ``ModelInferRequest``."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} input(s); "
            "give one per input, in the order of inputs",
            field="raw_input_contents",
        )
    if not request.inputs:
        raise InvalidInput("the request has no inputs; give at least one", field="inputs")
    tensors = []
    for position, given in enumerate(request.inputs):
        field = f"inputs[{position}]"
        if not given.name:
            raise InvalidInput(
                f"{field}.name is empty; give the tensor's name", field=f"{field}.name"
            )
        datatype = check_datatype(given.datatype, field)
        shape = check_shape(list(given.shape), field)
        if "shared_memory_region" in given.parameters:
            raise InvalidInput(
                f"{field} ({given.name}) names a shared-memory region; loopml's server has "
                "no shared memory: send the tensor in contents or raw_input_contents",
                field=f"{field}.shared_memory_region",
            )
        has_contents = given.HasField("contents") and bool(given.contents.ListFields())
        if raw:
            if has_contents:
                raise InvalidInput(
                    f"{field} ({given.name}) has contents while raw_input_contents is given; "
                    "send every input one way",
                    field=f"{field}.contents",
                )
            tensors.append(from_raw(given.name, datatype, shape, raw[position], field))
        else:
            tensors.append(_from_contents(given.name, datatype, shape, given.contents, field))
    parameters = _parameters(request.parameters)
    outputs = None
    if request.outputs:
        for position, output in enumerate(request.outputs):
            refuse_unsupported(output.parameters, f"outputs[{position}]")
        outputs = tuple(RequestedOutput(output.name, True) for output in request.outputs)
    return InferRequest(request.id or None, tuple(tensors), outputs, parameters, True)


def encode_grpc(
    request_id: str | None,
    model_name: str,
    model_version: str,
    outputs: Sequence[Tensor],
    requested: tuple[RequestedOutput, ...] | None,
    parameters: Mapping[str, Any],
) -> ModelInferResponse:
    """The ``ModelInferResponse`` holding ``outputs`` (those ``requested``, else all),
    their data in ``raw_output_contents``."""
    response = ModelInferResponse(
        model_name=model_name, model_version=model_version, id=request_id or ""
    )
    for key, value in parameters.items():
        _set_parameter(response.parameters[key], value)
    for tensor, _ in select_outputs(outputs, requested, True):
        response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        response.raw_output_contents.append(raw_bytes(tensor))
    return response


def _from_contents(
    name: str, datatype: str, shape: tuple[int, ...], contents: InferTensorContents, field: str
) -> Tensor:
    wanted = _CONTENTS.get(datatype)
    present = [descriptor.name for descriptor, _ in contents.ListFields()]
    empty = not present and element_count(shape) > 0
    if wanted is None or empty or any(found != wanted for found in present):
        expected = f"contents.{wanted}" if wanted else "raw_input_contents"
        raise InvalidInput(
            f"{field} ({name}) is {datatype} but has {', '.join(present) or 'no data'}; send "
            f"its elements in {expected}",
            field=f"{field}.contents",
        )
    values = getattr(contents, wanted)
    if datatype == "BYTES":
        return _bytes_tensor(name, shape, list(values), field)
    kind = DTYPES[datatype].kind
    wide = _WIDE.get(datatype) or np.dtype(f"{kind}8")
    array = np.fromiter(values, dtype=wide, count=len(values))
    return from_array(name, datatype, shape, array, field)


def _bytes_tensor(name: str, shape: tuple[int, ...], values: list[bytes], field: str) -> Tensor:
    count = element_count(shape)
    if len(values) != count:
        raise InvalidInput(
            f"{field} ({name}): contents.bytes_contents holds {len(values)} element(s) where "
            f"shape {list(shape)} takes {count}",
            field=f"{field}.contents",
        )
    data = np.empty(count, dtype=object)
    data[:] = values
    return Tensor(name, "BYTES", shape, data.reshape(shape))


def _parameters(given: Mapping[str, InferParameter]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in given.items():
        choice = value.WhichOneof("parameter_choice")
        found[key] = None if choice is None else getattr(value, choice)
    return found


def _set_parameter(target: InferParameter, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_param = value
    elif isinstance(value, int) and value > _INT64_MAX:
        target.uint64_param = value
    elif isinstance(value, int):
        target.int64_param = value
    elif isinstance(value, float):
        target.double_param = value
    else:
        target.string_param = str(value)
