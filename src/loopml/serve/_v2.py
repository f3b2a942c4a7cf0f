"""The Open Inference Protocol (KServe V2) on the wire: REST (JSON tensors and Triton's
binary-tensor extension) and gRPC (``inference.ModelInferRequest`` / ``ModelInferResponse``).

Pure functions: bytes or messages in, :class:`InferRequest` out; output tensors in, a
body or a message out. Everything malformed is :class:`~loopml.errors.InvalidInput`, its
``field`` a path into the request (``inputs[0].shape``), its message saying what was
given and what is expected; the server answers it with a 400 (gRPC: INVALID_ARGUMENT).

A REST body is JSON, optionally followed by raw tensors (the binary-tensor extension):
the ``Inference-Header-Content-Length`` header says where the JSON ends, and each binary
input says its size in ``parameters.binary_data_size``.

>>> import numpy as np
>>> body = b'{"id": "r1", "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32",'
>>> body += b' "data": [0.5, 2]}]}'
>>> request = decode_rest(body, None)
>>> request.id, request.inputs[0].data.tolist(), request.outputs
('r1', [[0.5, 2.0]], None)
>>> out = tensor_of("predictions", np.array([1]))
>>> encode_rest("r1", "churn", "3", [out], None, False, {})
(b'{"model_name":"churn","model_version":"3","id":"r1","outputs":[...]}', None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from loopml.errors import InvalidInput
from loopml.serve._json import why_not_json
from loopml.serve._json_tensors import loads_with_arrays
from loopml.serve._tensors import (
    Tensor,
    check_datatype,
    check_shape,
    from_array,
    from_data,
    from_raw,
    json_data,
    raw_bytes,
    tensor_of,
)

__all__ = [
    "InferRequest",
    "RequestedOutput",
    "Tensor",
    "decode_rest",
    "encode_rest",
    "refuse_unsupported",
    "select_outputs",
    "tensor_of",
]

HEADER = "Inference-Header-Content-Length"
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True)
class RequestedOutput:
    """An output the request asks for; ``binary``: send it as raw bytes after the JSON
    (Triton's ``binary_data`` parameter; over gRPC every output is raw)."""

    name: str
    binary: bool


@dataclass(frozen=True)
class InferRequest:
    """A decoded inference request. ``outputs`` None asks for every output, each in
    the form ``binary_outputs_default`` says (``parameters.binary_data_output``)."""

    id: str | None
    inputs: tuple[Tensor, ...]
    outputs: tuple[RequestedOutput, ...] | None
    parameters: dict[str, Any]
    binary_outputs_default: bool


# -- REST: the request ----------------------------------------------------------------------


def decode_rest(body: bytes, header_length: int | str | None) -> InferRequest:
    """The request in a REST ``.../infer`` body; ``header_length`` is the
    ``Inference-Header-Content-Length`` header (None when the body is all JSON)."""
    size = len(body)
    end = _header_end(header_length, size)
    view = memoryview(body)
    fast = loads_with_arrays(body) if end == size else None
    try:
        header = fast if fast is not None else orjson.loads(view[:end])
    except orjson.JSONDecodeError as error:
        raise InvalidInput(
            f"the request body is not valid JSON ({why_not_json(error, view[:end])}); send a "
            'JSON object with "inputs" (and, with binary tensors after it, the Inference-'
            "Header-Content-Length header giving the JSON's length)",
            field="body",
        ) from None
    if not isinstance(header, dict):
        raise InvalidInput(
            f"the request body is a JSON {type(header).__name__}; send an object with "
            '"inputs": [{"name", "shape", "datatype", "data"}, ...]',
            field="body",
        )
    parameters = _parameters(header.get("parameters"), "parameters")
    binary_default = parameters.get("binary_data_output", False)
    if not isinstance(binary_default, bool):
        raise InvalidInput(
            f"parameters.binary_data_output is {binary_default!r}; give true or false",
            field="parameters.binary_data_output",
        )
    # the orjson way's lists are looked through for true/false only when the text holds
    # one (simdjson's arrays hold numbers only)
    booleans = fast is None and (
        body.find(b"true", 0, end) >= 0 or body.find(b"false", 0, end) >= 0
    )
    inputs = _rest_inputs(header.get("inputs"), view, end, booleans)
    outputs = _rest_outputs(header.get("outputs"), binary_default)
    return InferRequest(_request_id(header.get("id")), inputs, outputs, parameters, binary_default)


def _header_end(header_length: int | str | None, size: int) -> int:
    if header_length is None:
        return size
    try:
        end = int(header_length)
    except (TypeError, ValueError):
        end = -1
    if end < 0 or end > size or isinstance(header_length, bool):
        raise InvalidInput(
            f"{HEADER} is {header_length!r} for a body of {size} byte(s); give the length "
            "of the JSON at the start of the body, 0 to the body's length",
            field=HEADER,
        )
    return end


def _rest_inputs(given: Any, body: memoryview, offset: int, booleans: bool) -> tuple[Tensor, ...]:
    if not isinstance(given, list) or not given:
        raise InvalidInput(
            f'"inputs" is {_shown(given)}; give a list of tensors, each '
            '{"name", "shape", "datatype", "data"}',
            field="inputs",
        )
    tensors = []
    for position, item in enumerate(given):
        field = f"inputs[{position}]"
        name, datatype, shape = _tensor_head(item, field)
        parameters = _parameters(item.get("parameters"), f"{field}.parameters")
        if "shared_memory_region" in parameters:
            raise InvalidInput(
                f"{field} ({name}) names a shared-memory region; loopml's server has no "
                'shared memory: send the tensor as "data" or as binary data',
                field=f"{field}.shared_memory_region",
            )
        size = parameters.get("binary_data_size")
        data = item.get("data")
        if size is None:
            if data is None:
                raise InvalidInput(
                    f'{field} ({name}) has no data; give "data" or send it as binary '
                    "with parameters.binary_data_size",
                    field=f"{field}.data",
                )
            if isinstance(data, np.ndarray):  # read by simdjson, see _json_tensors
                tensors.append(from_array(name, datatype, shape, data, field))
            else:
                tensors.append(from_data(name, datatype, shape, data, field, booleans=booleans))
            continue
        if data is not None:
            raise InvalidInput(
                f'{field} ({name}) has both "data" and parameters.binary_data_size; give one',
                field=f"{field}.data",
            )
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(
                f"{field}.parameters.binary_data_size is {size!r}; give the byte size of the "
                "tensor's binary data, an integer >= 0",
                field=f"{field}.binary_data_size",
            )
        if offset + size > len(body):
            raise InvalidInput(
                f"{field} ({name}) declares {size} byte(s) of binary data but only "
                f"{len(body) - offset} remain in the body; check binary_data_size and {HEADER}",
                field=f"{field}.binary_data_size",
            )
        tensors.append(from_raw(name, datatype, shape, body[offset : offset + size], field))
        offset += size
    if offset != len(body):
        raise InvalidInput(
            f"the body has {len(body) - offset} byte(s) after the JSON and the binary inputs "
            f"it declares; check {HEADER} and each input's binary_data_size",
            field=HEADER,
        )
    return tuple(tensors)


def _tensor_head(item: Any, field: str) -> tuple[str, str, tuple[int, ...]]:
    if not isinstance(item, dict):
        raise InvalidInput(
            f'{field} is {_shown(item)}; give {{"name", "shape", "datatype", "data"}}',
            field=field,
        )
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(
            f"{field}.name is {name!r}; give the tensor's name", field=f"{field}.name"
        )
    datatype = check_datatype(item.get("datatype"), field)
    return name, datatype, check_shape(item.get("shape"), field)


def _rest_outputs(given: Any, binary_default: bool) -> tuple[RequestedOutput, ...] | None:
    if given is None:
        return None
    if not isinstance(given, list):
        raise InvalidInput(
            f'"outputs" is {_shown(given)}; give a list of {{"name", "parameters"}} or leave '
            "it out for every output",
            field="outputs",
        )
    requested = []
    for position, item in enumerate(given):
        field = f"outputs[{position}]"
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise InvalidInput(
                f'{field} is {_shown(item)}; give {{"name": ..., "parameters": '
                '{"binary_data": true|false}}',
                field=f"{field}.name",
            )
        parameters = _parameters(item.get("parameters"), f"{field}.parameters")
        refuse_unsupported(parameters, field)
        binary = parameters.get("binary_data", binary_default)
        if not isinstance(binary, bool):
            raise InvalidInput(
                f"{field}.parameters.binary_data is {binary!r}; give true or false",
                field=f"{field}.binary_data",
            )
        requested.append(RequestedOutput(name, binary))
    return tuple(requested)


def refuse_unsupported(parameters: Mapping[str, Any], field: str) -> None:
    """InvalidInput for an output asking for what loopml does not give: Triton's
    classification extension (top-k labels) and shared memory."""
    if "classification" in parameters:
        raise InvalidInput(
            f"{field} asks for Triton's classification extension (top-k labels), which "
            "loopml does not give; ask for probabilities (the classes are in the response's "
            "parameters)",
            field=f"{field}.classification",
        )
    if "shared_memory_region" in parameters:
        raise InvalidInput(
            f"{field} names a shared-memory region; loopml's server has no shared memory: "
            "leave it out to get the output in the response",
            field=f"{field}.shared_memory_region",
        )


def _parameters(given: Any, field: str) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidInput(f"{field} is {_shown(given)}; give a JSON object", field=field)
    return given


def _request_id(given: Any) -> str | None:
    if given is None or isinstance(given, str):
        return given or None
    raise InvalidInput(f'"id" is {_shown(given)}; give a string', field="id")


# -- REST: the response ---------------------------------------------------------------------


def select_outputs(
    outputs: Sequence[Tensor], requested: tuple[RequestedOutput, ...] | None, binary_default: bool
) -> list[tuple[Tensor, bool]]:
    """The outputs to send, each with whether it goes as raw bytes: every output in the
    default form when ``requested`` is None, else those asked for, in that order."""
    if requested is None:
        return [(tensor, binary_default) for tensor in outputs]
    by_name = {tensor.name: tensor for tensor in outputs}
    chosen = []
    for position, wanted in enumerate(requested):
        tensor = by_name.get(wanted.name)
        if tensor is None:
            raise InvalidInput(
                f"outputs[{position}] asks for {wanted.name!r}; the model gives "
                f"{', '.join(by_name)}",
                field=f"outputs[{position}].name",
            )
        chosen.append((tensor, wanted.binary))
    return chosen


def encode_rest(
    request_id: str | None,
    model_name: str,
    model_version: str,
    outputs: Sequence[Tensor],
    requested: tuple[RequestedOutput, ...] | None,
    binary_default: bool,
    parameters: Mapping[str, Any],
) -> tuple[bytes, int | None]:
    """The response body, and the JSON's length when binary outputs follow it (then the
    server sets ``Inference-Header-Content-Length`` to it and Content-Type
    ``application/octet-stream``; else the body is all JSON, ``application/json``)."""
    described: list[dict[str, Any]] = []
    binary: list[bytes] = []
    for tensor, as_binary in select_outputs(outputs, requested, binary_default):
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": tensor.shape,
        }
        if as_binary:
            raw = raw_bytes(tensor)
            entry["parameters"] = {"binary_data_size": len(raw)}
            binary.append(raw)
        else:
            entry["data"] = json_data(tensor)
        described.append(entry)
    header: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        header["id"] = request_id
    if parameters:
        header["parameters"] = dict(parameters)
    header["outputs"] = described
    text = orjson.dumps(header, option=_JSON_OPTIONS)
    if not binary:
        return text, None
    return b"".join([text, *binary]), len(text)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def version_number(text: str | None) -> int | None:
    """The model version a request names (``3`` or ``v3``), None when it names none;
    InvalidInput (field ``model_version``) for anything else."""
    if not text:
        return None
    digits = text[1:] if text[:1] in ("v", "V") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise InvalidInput(
            f"model version {text!r} is not a version number; give one such as 3",
            field="model_version",
        )
    return int(digits)
