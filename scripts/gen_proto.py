"""Regenerate the Python modules of the Open Inference Protocol's gRPC service.

``make proto`` runs it (grpcio-tools is in the dev extra). From
``src/loopml/serve/_proto/grpc_predict_v2.proto`` it writes, beside it,
``grpc_predict_v2_pb2.py``, ``grpc_predict_v2_pb2.pyi`` and ``grpc_predict_v2_pb2_grpc.py``,
then adjusts two things protoc cannot be told:

- the messages go in a descriptor pool of their own, not protobuf's default one: the
  package is ``inference``, as in Triton's and KServe's own generated modules, and two
  modules defining ``inference.ModelInferRequest`` in one pool cannot both be imported
  (a server tested in-process with tritonclient's gRPC client would fail to start);
- the service module imports the messages from its own package, not as a top-level
  module.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src" / "loopml" / "serve" / "_proto"
PROTO = "grpc_predict_v2.proto"


def main() -> int:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{HERE}",
            f"--python_out={HERE}",
            f"--pyi_out={HERE}",
            f"--grpc_python_out={HERE}",
            PROTO,
        ],
        check=True,
    )
    _edit(
        HERE / "grpc_predict_v2_pb2.py",
        "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(",
        "_POOL = _descriptor_pool.DescriptorPool()  # loopml: a pool of its own\n"
        "DESCRIPTOR = _POOL.AddSerializedFile(",
    )
    _edit(
        HERE / "grpc_predict_v2_pb2_grpc.py",
        "import grpc_predict_v2_pb2 as grpc__predict__v2__pb2",
        "from . import grpc_predict_v2_pb2 as grpc__predict__v2__pb2",
    )
    return 0


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{path.name}: expected one {old!r} in protoc's output; check the script")
    path.write_text(text.replace(old, new))
    if re.search(r"^import grpc_predict_v2_pb2", path.read_text(), re.M):
        raise SystemExit(f"{path.name} still imports the messages as a top-level module")


if __name__ == "__main__":
    sys.exit(main())
