"""The server's HTTP face: a plain ASGI app over the :class:`~loopml.serve._engine.Engine`.

Endpoints (Open Inference Protocol / KServe V2, MLflow's scoring server, and loopml's):

=====================================================  =====================================
``GET /v2``                                            server metadata
``GET /v2/health/live``, ``/v2/health/ready``          ``{"live": true}``, ``{"ready": ...}``
``GET /v2/models``                                     the deployments served
``GET /v2/models/{name}[/versions/{v}]``               model metadata (inputs, outputs)
``GET /v2/models/{name}[/versions/{v}]/ready``         ``{"name": ..., "ready": ...}``
``POST /v2/models/{name}[/versions/{v}]/infer``        a prediction (JSON or binary tensors)
``POST /v2/feedback``                                  a reward or label for a prediction
``POST /invocations``                                  MLflow's formats (JSON or CSV)
``GET /ping``, ``/health``, ``/version``               MLflow's health and version
``GET /metrics``, ``/openapi.json``                    Prometheus metrics, this API described
=====================================================  =====================================

Every answer carries ``X-Request-Id`` (the caller's, else the prediction id or a new
id) and a
prediction carries ``X-Loopml-Prediction-Id`` and ``X-Loopml-Version`` (the version
that answered). Errors are ``{"error": "..."}`` with a 4xx status naming the field and
what was expected; an unknown model is a 404; a model that failed with no fallback a 503.

A plain ASGI app rather than a framework: the request path is a dict lookup, a body
read and the engine; docs/serving.md has the measurements that chose it.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from loopml._ids import new_id
from loopml._version import __version__
from loopml.errors import InvalidInput, LoopmlError
from loopml.serve import _invocations, _shapes, _v2
from loopml.serve._calling import as_columns
from loopml.serve._engine import Answer, Engine
from loopml.serve._json import why_not_json
from loopml.serve._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger("loopml.serve")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: the largest request body taken, in bytes (a 413 past it)
MAX_BODY = 64 * 1024 * 1024
KEY_HEADER = "x-loopml-key"
DEPLOYMENT_HEADER = "x-loopml-deployment"
_JSON = b"application/json"
_MODEL_PATH = re.compile(
    r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<action>/ready|/infer)?/?"
)
_OPEN = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/health"})


class HttpError(Exception):
    """An answer other than 200, with its JSON error body."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(
        self, body: bytes, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.body = body
        self.status = status
        self.headers = headers if headers is not None else [(b"content-type", _JSON)]


def json_response(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status)


class App:
    """The ASGI app; ``token``: the bearer token every endpoint but health requires
    (None: none required). ``on_startup``/``on_shutdown`` run in the app's lifespan."""

    def __init__(
        self,
        engine: Engine,
        *,
        token: str | None = None,
        max_body: int = MAX_BODY,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        feedback: Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = engine.metrics
        self._token = None if token is None else f"Bearer {token}".encode()
        self._max_body = max_body
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._feedback = feedback
        self._fixed: dict[tuple[str, str], Callable[..., Awaitable[Response]]] = {
            ("GET", "/v2"): self._server_metadata,
            ("GET", "/v2/health/live"): self._live,
            ("GET", "/v2/health/ready"): self._ready,
            ("GET", "/v2/models"): self._models,
            ("POST", "/v2/feedback"): self._feedback_endpoint,
            ("POST", "/invocations"): self._invocations,
            ("GET", "/ping"): self._ping,
            ("GET", "/health"): self._ping,
            ("GET", "/version"): self._version,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/openapi.json"): self._openapi,
        }

        self._paths = frozenset(path for _, path in self._fixed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        await self._on_startup()
                except Exception as error:
                    log.exception("the server could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id")
        method, path = scope["method"], scope["path"]
        try:
            if (
                self._token is not None
                and path not in _OPEN
                and not hmac.compare_digest(headers.get(b"authorization", b""), self._token)
            ):
                raise HttpError(
                    401,
                    "this server requires a bearer token: send the header "
                    "'Authorization: Bearer TOKEN' with the token it was started with",
                    "authorization",
                )
            handler = self._fixed.get((method, path))
            if handler is not None:
                body = await self._body(headers, receive) if method == "POST" else b""
                response = await handler(body, headers, request_id)
            elif path in self._paths:
                allowed = " or ".join(sorted(m for m, p in self._fixed if p == path))
                raise HttpError(405, f"{path} takes {allowed}, not {method}", "method")
            else:
                response = await self._model_path(method, path, headers, receive, request_id)
        except HttpError as error:
            response = _error(error.status, str(error), error.field)
        except LoopmlError as error:
            response = json_response(error.to_dict(), error.http_status)
        except Exception:
            log.exception("an unexpected error answering %s %s", method, path)
            response = _error(500, "the server failed on this request; see its log")
        if response.status >= 400:
            self.metrics.error(_protocol(path), response.status)
        response.headers.append((b"x-request-id", request_id or _request_id(response)))
        response.headers.append((b"content-length", b"%d" % len(response.body)))  # not chunked
        await send(
            {"type": "http.response.start", "status": response.status, "headers": response.headers}
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _body(self, headers: Mapping[bytes, bytes], receive: Receive) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise HttpError(
                413,
                f"the request body has {int(declared)} bytes, more than the {self._max_body} "
                "this server takes; send fewer rows per request",
                "body",
            )
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise HttpError(
                    413,
                    f"the request body is larger than the {self._max_body} bytes this server "
                    "takes; send fewer rows per request",
                    "body",
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # -- the V2 model paths --------------------------------------------------------------

    async def _model_path(
        self,
        method: str,
        path: str,
        headers: Mapping[bytes, bytes],
        receive: Receive,
        request_id: bytes | None,
    ) -> Response:
        match = _MODEL_PATH.fullmatch(path)
        if match is None:
            raise HttpError(404, f"no endpoint {path}; /openapi.json lists them", "path")
        name, version_text, action = match["name"], match["version"], match["action"]
        version = _v2.version_number(version_text)
        wanted = "POST" if action == "/infer" else "GET"
        if method != wanted:
            raise HttpError(405, f"{path} takes {wanted}, not {method}", "method")
        if action == "/infer":
            body = await self._body(headers, receive)
            return await self._infer(name, version, body, headers, request_id)
        served = self.engine.served(name, version)
        if action == "/ready":
            return json_response({"name": name, "ready": True})
        live = self.engine.deployment(name)
        signature = served.loaded.call.predictor.signature
        return json_response(
            _shapes.model_metadata(
                name,
                [str(s.number) for s in live.versions],
                signature,
                f"loopml_{served.loaded.call.predictor.runtime}",
            )
        )

    async def _infer(
        self,
        name: str,
        version: int | None,
        body: bytes,
        headers: Mapping[bytes, bytes],
        request_id: bytes | None,
    ) -> Response:
        started = time.perf_counter()
        call = self.engine.served(name, version).loaded.call
        length = headers.get(b"inference-header-content-length")
        request = _v2.decode_rest(body, None if length is None else length.decode("latin-1"))
        given_id = request.id if request.id is not None else _text(request_id)
        features = call.features
        rows = _shapes.rows_from_tensors(request.inputs, features, call.predictor.signature)
        columns = as_columns(rows, features)
        wanted = request.outputs
        answer = await self.engine.infer(
            name,
            columns,
            version=version,
            key=_text(headers.get(KEY_HEADER.encode())),
            request_id=given_id,
            outputs=None if wanted is None else [o.name for o in wanted],
        )
        parameters = {
            **_shapes.response_parameters(answer.prediction),
            "prediction_id": answer.prediction_id,
            "fallback": answer.fallback,
        }
        encoded, json_length = _v2.encode_rest(
            given_id or answer.prediction_id,
            name,
            str(answer.version),
            _shapes.tensors_from_prediction(answer.prediction),
            wanted,
            request.binary_outputs_default,
            parameters,
        )
        response_headers = _answer_headers(answer)
        if json_length is None:
            response_headers.append((b"content-type", _JSON))
        else:
            response_headers.append((b"content-type", b"application/octet-stream"))
            response_headers.append((b"inference-header-content-length", str(json_length).encode()))
        self.metrics.request(name, answer.ref, "v2", 200, time.perf_counter() - started)
        return Response(encoded, 200, response_headers)

    # -- MLflow's scoring server ---------------------------------------------------------

    async def _invocations(
        self, body: bytes, headers: Mapping[bytes, bytes], request_id: bytes | None
    ) -> Response:
        started = time.perf_counter()
        name = self._invoked(headers)
        call = self.engine.served(name).loaded.call
        content_type = _text(headers.get(b"content-type")) or ""
        request = _invocations.decode_invocations(
            body, content_type, call.features, call.text_columns
        )
        answer = await self.engine.infer(
            name,
            as_columns(request.rows, call.features),
            key=_text(headers.get(KEY_HEADER.encode())),
            request_id=_text(request_id),
            outputs=[_shapes.PREDICTIONS],
        )
        response_headers = _answer_headers(answer)
        response_headers.append((b"content-type", _JSON))
        self.metrics.request(name, answer.ref, "invocations", 200, time.perf_counter() - started)
        return Response(_invocations.encode_invocations(answer.prediction), 200, response_headers)

    def _invoked(self, headers: Mapping[bytes, bytes]) -> str:
        """The deployment ``/invocations`` means: the header's, else the only one."""
        named = headers.get(DEPLOYMENT_HEADER.encode())
        if named is not None:
            return named.decode("latin-1")
        served = list(self.engine.deployments)
        if len(served) == 1:
            return served[0]
        raise HttpError(
            400 if served else 404,
            f"this server serves {len(served)} deployments ({', '.join(sorted(served))}); "
            "name one in the header X-Loopml-Deployment, or use /v2/models/NAME/infer"
            if served
            else "this server serves no deployment yet; `loopml deploy NAME --model REF` makes one",
            "x-loopml-deployment",
        )

    # -- the rest ------------------------------------------------------------------------

    async def _server_metadata(self, *_: Any) -> Response:
        return json_response(
            {"name": "loopml", "version": __version__, "extensions": ["binary_tensor_data"]}
        )

    async def _live(self, *_: Any) -> Response:
        return json_response({"live": True})

    async def _ready(self, *_: Any) -> Response:
        ready = self.engine.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    async def _ping(self, *_: Any) -> Response:
        ready = self.engine.ready
        return json_response({"status": "ok" if ready else "loading"}, 200 if ready else 503)

    async def _version(self, *_: Any) -> Response:
        return json_response({"version": __version__})

    async def _models(self, *_: Any) -> Response:
        models = [
            {"name": name, "versions": [str(s.number) for s in live.versions], "ready": True}
            for name, live in sorted(self.engine.deployments.items())
        ]
        failed = [
            {"name": name, "ready": False, "error": failure.message}
            for name, failure in sorted(self.engine.failures.items())
            if name not in self.engine.deployments
        ]
        return json_response({"models": models + failed})

    async def _metrics(self, *_: Any) -> Response:
        body = self.metrics.exposition(self.engine.queues())
        return Response(body, 200, [(b"content-type", METRICS_CONTENT_TYPE.encode())])

    async def _openapi(self, *_: Any) -> Response:
        from loopml.serve._openapi import description

        return json_response(description(list(self.engine.deployments)))

    async def _feedback_endpoint(
        self, body: bytes, headers: Mapping[bytes, bytes], request_id: bytes | None
    ) -> Response:
        given = _json_object(body)
        if self._feedback is None:
            raise HttpError(404, "this server takes no feedback", "path")
        return json_response(await self._feedback(given))


def _protocol(path: str) -> str:
    if path.startswith("/v2/"):
        return "v2"
    return "invocations" if path == "/invocations" else "other"


def _request_id(response: Response) -> bytes:
    """The id of a request that came with none: its prediction's id, else a new one."""
    for name, value in response.headers:
        if name == b"x-loopml-prediction-id":
            return value
    return new_id().encode()


def _answer_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-loopml-prediction-id", answer.prediction_id.encode()),
        (b"x-loopml-version", answer.ref.encode()),
    ]
    if answer.fallback:
        headers.append((b"x-loopml-fallback", b"true"))
    return headers


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        given = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(
            f"the body is not JSON ({why_not_json(error, body)}); send a JSON object",
            field="body",
        ) from None
    if not isinstance(given, dict):
        raise InvalidInput(
            f"the body is a JSON {type(given).__name__}; send a JSON object", field="body"
        )
    return given


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


# the ``code`` of an error answered before any of loopml's own errors is raised (as
# LoopmlError.to_dict gives one: every error body has one)
_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    500: "internal_error",
}


def _error(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message, "code": _CODES.get(status, "error")}
    if field is not None:
        body["field"] = field
    return json_response(body, status)
