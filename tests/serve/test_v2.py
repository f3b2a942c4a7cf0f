"""The V2 REST codec against Triton's own HTTP client: bodies tritonclient builds decode to
the tensors it was given, in JSON and in binary, for every datatype; our responses parse
back in tritonclient to the arrays we sent; every malformed body is InvalidInput naming
the field at fault."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as httpclient
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from loopml.errors import InvalidInput
from loopml.serve._tensors import DATATYPES, Tensor, tensor_of
from loopml.serve._v2 import HEADER, RequestedOutput, decode_rest, encode_rest

Client = httpclient.InferenceServerClient

# one array per V2 datatype, with the extremes of its range
SAMPLES: dict[str, np.ndarray[Any, Any]] = {
    "BOOL": np.array([[True, False, True]]),
    "UINT8": np.array([[0, 7, 255]], dtype=np.uint8),
    "UINT16": np.array([[0, 7, 65535]], dtype=np.uint16),
    "UINT32": np.array([[0, 7, 2**32 - 1]], dtype=np.uint32),
    "UINT64": np.array([[0, 7, 2**64 - 1]], dtype=np.uint64),
    "INT8": np.array([[-128, 0, 127]], dtype=np.int8),
    "INT16": np.array([[-(2**15), 0, 2**15 - 1]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1]], dtype=np.int64),
    "FP16": np.array([[-1.5, 0.0, 65504.0]], dtype=np.float16),
    "FP32": np.array([[-1.5, 0.1, 3.4e38]], dtype=np.float32),
    "FP64": np.array([[-1.5, 0.1, 1.7e308]], dtype=np.float64),
    "BYTES": np.array([[b"", b"churn", "naïve".encode()]], dtype=object),
}


def triton_body(
    arrays: dict[str, np.ndarray[Any, Any]],
    binary: bool,
    outputs: list[Any] | None = None,
    request_id: str = "",
) -> tuple[bytes, int | None]:
    inputs = []
    for name, array in arrays.items():
        datatype = "BYTES" if array.dtype == object else _triton_datatype(array)
        tensor = httpclient.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    body, length = Client.generate_request_body(inputs, outputs=outputs, request_id=request_id)
    return bytes(body), length


def _triton_datatype(array: np.ndarray[Any, Any]) -> str:
    from tritonclient.utils import np_to_triton_dtype

    return str(np_to_triton_dtype(array.dtype))


# -- requests built by tritonclient ---------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_decodes_as_tritonclient_sent_it(datatype: str, binary: bool) -> None:
    array = SAMPLES[datatype]
    body, length = triton_body({"x": array, "y": SAMPLES["FP32"]}, binary, request_id="r-7")
    assert (length is not None) == binary
    request = decode_rest(body, length)
    assert request.id == "r-7"
    x, y = request.inputs
    assert (x.name, x.datatype, x.shape) == ("x", datatype, (1, 3))
    assert x.data.shape == (1, 3)
    if datatype == "BYTES":
        assert x.data.tolist() == array.tolist()
    else:
        assert x.data.dtype == array.dtype
        np.testing.assert_array_equal(x.data, array)
    np.testing.assert_array_equal(y.data, SAMPLES["FP32"])


def test_tritonclient_asks_for_binary_outputs_when_it_names_none() -> None:
    body, length = triton_body({"x": SAMPLES["FP32"]}, binary=True)
    request = decode_rest(body, length)
    assert request.outputs is None
    assert request.binary_outputs_default is True
    assert request.parameters == {"binary_data_output": True}


def test_requested_outputs_keep_their_binary_flag_and_order() -> None:
    outputs = [
        httpclient.InferRequestedOutput("probabilities", binary_data=False),
        httpclient.InferRequestedOutput("predictions", binary_data=True),
    ]
    body, length = triton_body({"x": SAMPLES["FP64"]}, binary=False, outputs=outputs)
    request = decode_rest(body, length)
    assert request.outputs == (
        RequestedOutput("probabilities", False),
        RequestedOutput("predictions", True),
    )
    assert request.binary_outputs_default is False


def test_nested_json_data_is_read_row_major() -> None:
    body = orjson.dumps(
        {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT32", "data": [[1, 2], [3, 4]]}]}
    )
    (x,) = decode_rest(body, None).inputs
    assert x.data.tolist() == [[1, 2], [3, 4]]
    assert x.data.dtype == np.int32


def test_binary_inputs_are_views_of_the_body_not_copies() -> None:
    body, length = triton_body({"x": np.arange(30, dtype=np.float64).reshape(1, 30)}, binary=True)
    (x,) = decode_rest(body, length).inputs
    assert not x.data.flags.owndata
    assert x.data.tolist() == [list(map(float, range(30)))]


# -- responses parsed by tritonclient -------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_encodes_so_tritonclient_reads_it_back(datatype: str, binary: bool) -> None:
    array = SAMPLES[datatype]
    outputs = [Tensor("out", datatype, array.shape, array), tensor_of("other", np.arange(3))]
    body, length = encode_rest("p-1", "churn", "3", outputs, None, binary, {"classes": "[0, 1]"})
    assert (length is not None) == binary
    result = Client.parse_response_body(body, header_length=length)
    response = result.get_response()
    assert (response["model_name"], response["model_version"], response["id"]) == (
        "churn",
        "3",
        "p-1",
    )
    assert response["parameters"] == {"classes": "[0, 1]"}
    found = result.as_numpy("out")
    assert found.shape == array.shape
    if datatype == "BYTES":
        # tritonclient gives bytes for binary BYTES, text for JSON
        expected = array.tolist() if binary else [[b.decode() for b in array[0]]]
        assert found.tolist() == expected
    else:
        np.testing.assert_array_equal(found, array)
    np.testing.assert_array_equal(result.as_numpy("other"), np.arange(3))


def test_requested_outputs_choose_the_form_of_each_and_leave_out_the_rest() -> None:
    outputs = [tensor_of("predictions", np.array([1, 0])), tensor_of("probabilities", np.eye(2))]
    requested = (RequestedOutput("probabilities", True),)
    body, length = encode_rest(None, "m", "1", outputs, requested, False, {})
    assert length is not None
    header = orjson.loads(body[:length])
    assert [o["name"] for o in header["outputs"]] == ["probabilities"]
    assert "id" not in header
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 32}
    result = Client.parse_response_body(body, header_length=length)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), np.eye(2))
    assert result.as_numpy("predictions") is None


def test_an_all_json_response_has_no_header_length() -> None:
    body, length = encode_rest(None, "m", "1", [tensor_of("p", np.array([0.5]))], None, False, {})
    assert length is None
    assert orjson.loads(body)["outputs"] == [
        {"name": "p", "datatype": "FP64", "shape": [1], "data": [0.5]}
    ]


def test_an_output_not_given_is_invalid_input_naming_what_is() -> None:
    with pytest.raises(InvalidInput, match="asks for 'scores'; the model gives predictions") as e:
        encode_rest(None, "m", "1", [tensor_of("predictions", np.array([1]))],
                    (RequestedOutput("scores", False),), False, {})  # fmt: skip
    assert e.value.field == "outputs[0].name"


# -- property: any shape and datatype survives a round trip ---------------------------------

_NUMERIC = [d for d in DATATYPES if d != "BYTES"]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray[Any, Any]:
    datatype = draw(st.sampled_from(DATATYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    if datatype == "BYTES":
        items = draw(st.lists(st.binary(max_size=8), min_size=int(np.prod(shape)),
                              max_size=int(np.prod(shape))))  # fmt: skip
        return _objects(items, shape)
    from tritonclient.utils import triton_to_np_dtype

    dtype = np.dtype(triton_to_np_dtype(datatype))
    elements = hnp.from_dtype(dtype, allow_nan=False, allow_infinity=False)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=60, deadline=None)
@given(array=arrays(), binary=st.booleans())
def test_any_tensor_round_trips_through_tritonclient(
    array: np.ndarray[Any, Any], binary: bool
) -> None:
    text_only = array.dtype == object and not binary
    if text_only:  # JSON carries BYTES as text: send hex digits
        array = _objects([b.hex().encode() for b in array.ravel()], array.shape)
    (x,) = decode_rest(*triton_body({"x": array}, binary)).inputs
    assert x.data.shape == array.shape
    assert x.data.tolist() == array.tolist()
    body, length = encode_rest(None, "m", "1", [x], None, binary, {})
    found = Client.parse_response_body(body, header_length=length).as_numpy("x")
    assert found.shape == array.shape
    if text_only:  # and tritonclient gives it back as text
        array = _objects([b.decode() for b in array.ravel()], array.shape)
    assert found.tolist() == array.tolist()


def _objects(items: list[Any], shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(shape)


# -- malformed bodies -----------------------------------------------------------------------


def _json(**request: Any) -> bytes:
    return json.dumps(request).encode()  # not orjson: it refuses integers past 64 bits


def _input(**fields: Any) -> dict[str, Any]:
    return {"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1.0, 2.0]} | fields


MALFORMED: list[tuple[str, bytes, Any, str, str]] = [
    ("bad JSON", b'{"inputs": [', None, "body", "not valid JSON"),
    ("a number past FP64", b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", '
     b'"data": [1e400]}]}', None, "body", "a number past 1.8e308"),
    ("JSON not an object", b"[1, 2]", None, "body", "JSON list"),
    ("no inputs", _json(id="a"), None, "inputs", '"inputs" is None'),
    ("empty inputs", _json(inputs=[]), None, "inputs", "give a list of tensors"),
    ("input not an object", _json(inputs=[3]), None, "inputs[0]", "inputs[0] is 3"),
    ("no name", _json(inputs=[_input(name="")]), None, "inputs[0].name", "give the tensor's"),
    ("unknown datatype", _json(inputs=[_input(datatype="FP8")]), None, "inputs[0].datatype",
     "'FP8'; give one of BOOL, UINT8"),
    ("negative dimension", _json(inputs=[_input(shape=[1, -2])]), None, "inputs[0].shape",
     "integer >= 0"),
    ("shape not a list", _json(inputs=[_input(shape="1,2")]), None, "inputs[0].shape", "'1,2'"),
    ("data shorter than shape", _json(inputs=[_input(shape=[2, 2])]), None, "inputs[0].data",
     "holds 2 value(s) where shape [2, 2] takes 4"),
    ("huge shape", _json(inputs=[_input(shape=[2**40, 2**40])]), None, "inputs[0].data",
     "takes 1208925819614629174706176"),
    ("text for numbers", _json(inputs=[_input(data=["a", "b"])]), None, "inputs[0].data",
     "holds strings where FP32 numbers are expected"),
    ("decimals for integers", _json(inputs=[_input(datatype="INT32", data=[1.5, 2])]), None,
     "inputs[0].data", "decimals where INT32"),
    ("out of range", _json(inputs=[_input(datatype="INT8", data=[1, 128])]), None,
     "inputs[0].data", "out of the range of INT8 (-128 to 127)"),
    ("negative unsigned", _json(inputs=[_input(datatype="UINT32", data=[-1, 1])]), None,
     "inputs[0].data", "out of the range of UINT32"),
    ("past INT64", _json(inputs=[_input(datatype="INT64", data=[2**63, 1])]), None,
     "inputs[0].data", "out of the range of INT64"),
    ("below INT64", _json(inputs=[_input(datatype="INT64", data=[-(10**20), 1])]), None,
     "inputs[0].data", "out of the range of INT64"),
    ("past INT32 and INT64", _json(inputs=[_input(datatype="INT32", data=[10**20, 1])]), None,
     "inputs[0].data", "out of the range of INT32"),
    ("true among numbers", _json(inputs=[_input(data=[1.5, True])]), None, "inputs[0].data",
     "holds true/false among the numbers where FP32 numbers"),
    ("false among integers", _json(inputs=[_input(datatype="INT32", shape=[2, 2],
     data=[[1, 2], [False, 4]])]), None, "inputs[0].data", "true/false among the numbers"),
    ("beyond FP32", _json(inputs=[_input(datatype="FP32", data=[1e39, 1.0])]), None,
     "inputs[0].data", "out of the range of FP32 (its largest is 3.40282e+38)"),
    ("beyond FP16", _json(inputs=[_input(datatype="FP16", data=[1.0, -70000])]), None,
     "inputs[0].data", "out of the range of FP16"),
    ("ragged", _json(inputs=[_input(data=[[1.0], [2.0, 3.0]])]), None, "inputs[0].data",
     "lists of different lengths"),
    ("null in data", _json(inputs=[_input(data=[1.0, None])]), None, "inputs[0].data",
     "mixed values (or null)"),
    ("data not a list", _json(inputs=[_input(data=1.0)]), None, "inputs[0].data",
     "data is a number (1.0), not a list; give a list of 2 numbers"),
    ("a list among values", _json(inputs=[_input(shape=[2, 2], data=[[1.0, [2.0]], [3, 4]])]),
     None, "inputs[0].data", "a list beside values"),
    ("decimals for BOOL", _json(inputs=[_input(datatype="BOOL", data=[1, 0.5])]), None,
     "inputs[0].data", "holds decimals where true/false values are expected"),
    ("no data", _json(inputs=[_input(data=None)]), None, "inputs[0].data", "has no data"),
    ("BYTES not text", _json(inputs=[_input(datatype="BYTES", data=["a", 1])]), None,
     "inputs[0].data", "BYTES data holds a number (1)"),
    ("bad id", _json(id=5, inputs=[_input()]), None, "id", '"id" is 5'),
    ("bad parameters", _json(parameters=[1], inputs=[_input()]), None, "parameters",
     "give a JSON object"),
    ("bad binary_data_output", _json(parameters={"binary_data_output": "yes"}, inputs=[_input()]),
     None, "parameters.binary_data_output", "'yes'; give true or false"),
    ("outputs not a list", _json(inputs=[_input()], outputs={"name": "p"}), None, "outputs",
     "give a list"),
    ("output without a name", _json(inputs=[_input()], outputs=[{}]), None, "outputs[0].name",
     '{"name"'),
    ("bad binary_data", _json(inputs=[_input()], outputs=[{"name": "p", "parameters":
     {"binary_data": 1}}]), None, "outputs[0].binary_data", "give true or false"),
    ("classification extension", _json(inputs=[_input()], outputs=[{"name": "p", "parameters":
     {"classification": 2}}]), None, "outputs[0].classification", "ask for probabilities"),
    ("shared memory input", _json(inputs=[_input(data=None, parameters={"shared_memory_region":
     "r", "shared_memory_byte_size": 8})]), None, "inputs[0].shared_memory_region",
     "no shared memory"),
    ("header length beyond the body", _json(inputs=[_input()]), 10_000, HEADER,
     "10000 for a body of"),
    ("negative header length", _json(inputs=[_input()]), -1, HEADER, "-1"),
    ("header length not a number", _json(inputs=[_input()]), "abc", HEADER, "'abc'"),
    ("bytes after the JSON", _json(inputs=[_input()]) + b"\0\0", "__json__", HEADER,
     "2 byte(s) after the JSON"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "header", "field", "message"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_bodies_are_invalid_input_naming_the_field(
    body: bytes, header: Any, field: str, message: str
) -> None:
    if header == "__json__":
        header = len(body) - 2
    with pytest.raises(InvalidInput) as error:
        decode_rest(body, header)
    assert error.value.field == field
    assert message in str(error.value)


def _binary(
    size: Any, raw: bytes, datatype: str = "FP32", shape: Any = (1, 2)
) -> tuple[bytes, int]:
    header = _json(
        inputs=[{"name": "x", "shape": list(shape), "datatype": datatype,
                 "parameters": {"binary_data_size": size}}]
    )  # fmt: skip
    return header + raw, len(header)


BINARY: list[tuple[str, tuple[bytes, int], str, str]] = [
    ("size beyond the body", _binary(16, b"\0" * 8), "inputs[0].binary_data_size",
     "declares 16 byte(s) of binary data but only 8 remain"),
    ("size not matching the shape", _binary(4, b"\0" * 4), "inputs[0].binary_data_size",
     "4 byte(s) of data where shape [1, 2] of FP32 takes 8"),
    ("negative size", _binary(-8, b"\0" * 8), "inputs[0].binary_data_size", "-8"),
    ("size not an integer", _binary("8", b"\0" * 8), "inputs[0].binary_data_size", "'8'"),
    ("huge shape, small data", _binary(8, b"\0" * 8, shape=(2**62, 2**62)),
     "inputs[0].binary_data_size", f"of FP32 takes {2**126} ({2**124} x 4)"),
    ("both data and size", (_json(inputs=[_input(parameters={"binary_data_size": 8})]) + b"\0" * 8,
     len(_json(inputs=[_input(parameters={"binary_data_size": 8})]))), "inputs[0].data",
     "both"),
    ("BOOL bytes not 0 or 1", _binary(2, b"\x01\x02", "BOOL"), "inputs[0].data",
     "other than 0 and 1"),
    ("BYTES count beyond the data", _binary(8, b"\1\0\0\0a\0\0\0", "BYTES", (1000,)),
     "inputs[0].binary_data_size", "cannot hold 1000 element(s)"),
    ("BYTES length beyond the data", _binary(8, b"\xff\0\0\0abcd", "BYTES", (1,)),
     "inputs[0].binary_data_size", "does not hold exactly 1 element(s)"),
    ("BYTES with bytes left over", _binary(8, b"\1\0\0\0abcd", "BYTES", (1,)),
     "inputs[0].binary_data_size", "does not hold exactly 1 element(s)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "message"), [case[1:] for case in BINARY], ids=[c[0] for c in BINARY]
)
def test_malformed_binary_inputs_are_invalid_input_naming_the_field(
    body: tuple[bytes, int], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        decode_rest(*body)
    assert error.value.field == field
    assert message in str(error.value)


def test_tritonclients_classification_request_is_refused_naming_the_output() -> None:
    outputs = [httpclient.InferRequestedOutput("predictions", class_count=3)]
    with pytest.raises(InvalidInput, match="classification extension") as error:
        decode_rest(*triton_body({"x": SAMPLES["FP32"]}, binary=True, outputs=outputs))
    assert error.value.field == "outputs[0].classification"
