"""The OpenAPI 3 description of the server's HTTP API, served at ``/openapi.json``.

It describes every endpoint with the JSON bodies it takes and gives, so that a client
generator or a fuzzer (the tests run schemathesis on it) knows the API.
"""

from __future__ import annotations

from typing import Any

from loopml._version import __version__

_ERROR = {
    "description": "What was wrong and how to fix it",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
                "required": ["error"],
            }
        }
    },
}
_TENSOR = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "datatype": {
            "type": "string",
            "enum": [
                "BOOL",
                "UINT8",
                "UINT16",
                "UINT32",
                "UINT64",
                "INT8",
                "INT16",
                "INT32",
                "INT64",
                "FP16",
                "FP32",
                "FP64",
                "BYTES",
            ],
        },
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
    "required": ["name", "datatype", "shape"],
}
_INFER_REQUEST = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": _TENSOR, "minItems": 1},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}},
                "required": ["name"],
            },
        },
    },
    "required": ["inputs"],
}
_INFER_RESPONSE = {
    "type": "object",
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "outputs": {"type": "array", "items": _TENSOR},
    },
    "required": ["model_name", "outputs"],
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _get(summary: str, schema: dict[str, Any], *, errors: tuple[int, ...] = ()) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json(schema)}
    for status in errors:
        responses[str(status)] = _ERROR
    return {"get": {"summary": summary, "responses": responses}}


def _post(
    summary: str,
    body: dict[str, Any],
    schema: dict[str, Any],
    *,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content = {"application/json": {"schema": body}, **(extra or {})}
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": content},
            "responses": {
                "200": _json(schema),
                "400": _ERROR,
                "404": _ERROR,
                "413": _ERROR,
                "503": _ERROR,
            },
        }
    }


_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJECT = {"type": "object"}


def _model_paths(prefix: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    infer = _post("Predict", _INFER_REQUEST, _INFER_RESPONSE)
    paths = {
        prefix: _get("Model metadata", _OBJECT, errors=(400, 404)),
        f"{prefix}/ready": _get("Whether the model is ready", _OBJECT, errors=(400, 404)),
        f"{prefix}/infer": infer,
    }
    for item in paths.values():
        item["parameters"] = parameters
    return paths


def description(deployments: list[str] | None = None) -> dict[str, Any]:
    """The OpenAPI document of the server; ``deployments`` are the names it serves now
    (the ``name`` of a model path is one of them)."""
    name_schema: dict[str, Any] = {"type": "string"}
    if deployments:
        name_schema["enum"] = sorted(deployments)
    name = {"name": "name", "in": "path", "required": True, "schema": name_schema}
    invocations = {
        "type": "object",
        "properties": {
            "dataframe_split": {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "data": {"type": "array", "items": {"type": "array"}},
                },
            },
            "dataframe_records": {"type": "array", "items": {"type": "object"}},
            "instances": {"type": "array"},
            "inputs": {},
        },
    }
    feedback = {
        "type": "object",
        "properties": {
            "prediction_id": {"type": "string"},
            "reward": {"type": "number"},
            "label": {},
            "row": {"type": "integer", "minimum": 0},
        },
        "required": ["prediction_id"],
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "loopml model server", "version": __version__},
        "paths": {
            "/v2": _get("Server metadata", _OBJECT),
            "/v2/health/live": _get("Liveness", _OBJECT),
            "/v2/health/ready": _get("Readiness", _OBJECT, errors=(503,)),
            "/v2/models": _get("The deployments served", _OBJECT),
            **_model_paths("/v2/models/{name}", [name]),
            **_model_paths("/v2/models/{name}/versions/{version}", [name, _VERSION]),
            "/v2/feedback": _post("A reward or label for a prediction", feedback, _OBJECT),
            "/invocations": _post(
                "Predict (MLflow's scoring formats)",
                invocations,
                {"type": "object", "properties": {"predictions": {"type": "array"}}},
                extra={"text/csv": {"schema": {"type": "string"}}},
            ),
            "/ping": _get("Health (MLflow)", _OBJECT, errors=(503,)),
            "/health": _get("Health (MLflow)", _OBJECT, errors=(503,)),
            "/version": _get("The server's version", _OBJECT),
        },
    }
