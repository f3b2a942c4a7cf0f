"""The Open Inference Protocol over gRPC: ``inference.GRPCInferenceService`` (the
published ``grpc_predict_v2.proto``) on the server's second port, over the same
:class:`~loopml.serve._engine.Engine` as REST.

Requests are parsed here rather than by grpcio, so a message that does not parse is an
``INVALID_ARGUMENT`` naming what was wrong, like every other bad input; an unknown model
is ``NOT_FOUND``; a model that failed with no fallback ``UNAVAILABLE``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from loopml._version import __version__
from loopml.errors import InvalidInput, LoopmlError
from loopml.serve import _shapes
from loopml.serve._calling import as_columns
from loopml.serve._engine import Engine
from loopml.serve._metrics import Metrics
from loopml.serve._proto import grpc_predict_v2_pb2 as pb
from loopml.serve._v2 import version_number
from loopml.serve._v2_grpc import decode_grpc, encode_grpc, parse_request

log = logging.getLogger("loopml.serve")

SERVICE = "inference.GRPCInferenceService"
#: the largest message taken, in bytes
MAX_MESSAGE = 64 * 1024 * 1024


class InferenceService:
    """The service's methods, each taking the request's bytes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def server_live(self, data: bytes, context: Any) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, data: bytes, context: Any) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.engine.ready)

    async def model_ready(self, data: bytes, context: Any) -> pb.ModelReadyResponse:
        request = _parsed(pb.ModelReadyRequest, data)
        self.engine.served(request.name, version_number(request.version))
        return pb.ModelReadyResponse(ready=True)

    async def server_metadata(self, data: bytes, context: Any) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(
            name="loopml", version=__version__, extensions=["binary_tensor_data"]
        )

    async def model_metadata(self, data: bytes, context: Any) -> pb.ModelMetadataResponse:
        request = _parsed(pb.ModelMetadataRequest, data)
        served = self.engine.served(request.name, version_number(request.version))
        live = self.engine.deployment(request.name)
        found = _shapes.model_metadata(
            request.name,
            [str(s.number) for s in live.versions],
            served.loaded.call.predictor.signature,
            f"loopml_{served.loaded.call.predictor.runtime}",
        )
        response = pb.ModelMetadataResponse(
            name=found["name"], versions=found["versions"], platform=found["platform"]
        )
        for side in ("inputs", "outputs"):
            for tensor in found[side]:
                getattr(response, side).add(
                    name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
                )
        return response

    async def model_infer(self, data: bytes, context: Any) -> pb.ModelInferResponse:
        started = time.perf_counter()
        message = parse_request(data)
        name, version = message.model_name, version_number(message.model_version)
        request = decode_grpc(message)
        call = self.engine.served(name, version).loaded.call
        rows = _shapes.rows_from_tensors(request.inputs, call.features, call.predictor.signature)
        wanted = request.outputs
        key = request.parameters.get("key")
        answer = await self.engine.infer(
            name,
            as_columns(rows, call.features),
            version=version,
            key=None if key is None else str(key),
            request_id=request.id,
            outputs=None if wanted is None else [o.name for o in wanted],
        )
        parameters = {
            **_shapes.response_parameters(answer.prediction),
            "prediction_id": answer.prediction_id,
            "fallback": answer.fallback,
        }
        response = encode_grpc(
            request.id or answer.prediction_id,
            name,
            str(answer.version),
            _shapes.tensors_from_prediction(answer.prediction),
            wanted,
            parameters,
        )
        self.engine.metrics.request(name, answer.ref, "grpc", 200, time.perf_counter() - started)
        return response


def _parsed(kind: Any, data: bytes) -> Any:
    try:
        return kind.FromString(data)
    except Exception as error:
        raise InvalidInput(
            f"the request is not a valid inference.{kind.__name__} ({error})", field="request"
        ) from None


def _guarded(
    method: Callable[[bytes, Any], Awaitable[Any]], metrics: Metrics
) -> Callable[[bytes, Any], Awaitable[Any]]:
    """``method`` with loopml's errors turned into gRPC status codes."""

    async def call(data: bytes, context: Any) -> Any:
        try:
            return await method(data, context)
        except LoopmlError as error:
            metrics.error("grpc", error.http_status)
            await context.abort(_STATUS.get(error.http_status, _other(error)), str(error))
        except Exception:
            metrics.error("grpc", 500)
            log.exception("an unexpected error answering a gRPC request")
            await context.abort(
                grpc.StatusCode.INTERNAL, "the server failed on this request; see its log"
            )

    return call


_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    503: grpc.StatusCode.UNAVAILABLE,
}


def _other(error: LoopmlError) -> Any:
    return (
        grpc.StatusCode.INTERNAL if error.http_status >= 500 else grpc.StatusCode.INVALID_ARGUMENT
    )


def handler(engine: Engine) -> grpc.GenericRpcHandler:
    """The generic handler of the inference service over ``engine``."""
    service = InferenceService(engine)
    methods = {
        "ServerLive": service.server_live,
        "ServerReady": service.server_ready,
        "ModelReady": service.model_ready,
        "ServerMetadata": service.server_metadata,
        "ModelMetadata": service.model_metadata,
        "ModelInfer": service.model_infer,
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            name: grpc.unary_unary_rpc_method_handler(
                _guarded(method, engine.metrics), response_serializer=_serialize
            )
            for name, method in methods.items()
        },
    )


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


async def start(engine: Engine, host: str, port: int) -> Any:
    """A started ``grpc.aio`` server of the service on ``host:port``; its port is
    ``server.loopml_port`` (the one bound, when ``port`` was 0)."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
            # a port another server has is an error, not a silent share of its traffic
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers((handler(engine),))
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    server.loopml_port = bound
    return server
