"""The ONNX flavor: an ``onnx.ModelProto`` stored as its own bytes, run with onnxruntime.

Saving checks the model with ``onnx.checker`` and keeps its producer and opsets in
the facts; loading gives the ModelProto back. :func:`session` runs one on the CPU
with one thread per operator (``intra_op_num_threads=1``): for one row at a time, as
a model server predicts, more threads cost more than they give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInput
from loopml.models._base import Encoded, Flavor, first_line, loaded, need


class OnnxFlavor(Flavor):
    name = "onnx"
    extra = "onnx"

    def matches(self, model: Any) -> bool:
        onnx = loaded("onnx")
        return onnx is not None and isinstance(model, onnx.ModelProto)

    def save(self, model: Any) -> Encoded:
        onnx = need("onnx", self.name, self.extra)
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as error:
            raise InvalidInput(
                f"the ONNX model cannot be saved: onnx.checker rejects it "
                f"({first_line(error)}); fix the graph or convert the model again"
            ) from None
        facts = {
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "opsets": {opset.domain or "ai.onnx": opset.version for opset in model.opset_import},
        }
        libraries = {"onnx": onnx.__version__}
        return Encoded(model.SerializeToString(), "onnx", facts, libraries)

    def load(self, data: bytes, serialization: str, facts: Mapping[str, Any]) -> Any:
        onnx = need("onnx", self.name, self.extra)
        return onnx.load_from_string(data)


def session(model: Any) -> Any:
    """An onnxruntime session for a ModelProto (or its bytes), CPU, one thread."""
    ort = need("onnxruntime", "onnx", "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
