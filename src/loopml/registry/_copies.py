"""The ONNX copy of a registered model, and the copy a server loads.

``register(model, name, onnx=rows)`` converts a scikit-learn model with
:func:`loopml.models.to_onnx`, checked on ``rows``, and stores the ONNX model as an
artifact of kind ``model-copy`` under the model's name (the same run made it) before
the version is recorded; the version's metadata names the copy under ``copies`` with
the figures of the check, and under ``served`` the copy loaded when the caller does
not choose one. A copy is recorded once per bytes: converting the same model again
finds it.

Which copy runs is the caller's choice (a deployment's): ``load_served(ref,
copy="onnx")`` loads the ONNX copy of any version that has one, whatever it serves by
default, and returns the version with a :class:`loopml.models.Predictor` over it.

>>> import tempfile, loopml
>>> from loopml import registry
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_iris(return_X_y=True, as_frame=True)
>>> ws = loopml.init(tempfile.mkdtemp())
>>> model = LogisticRegression(max_iter=500).fit(X, y)
>>> version = registry.register(model, "iris", signature_from=X, onnx=X, serve="native",
...                             workspace=ws)
>>> version.served, version.copies["onnx"]["label_agreement"]
('native', 1.0)
>>> served, predictor = registry.load_served("iris", copy="onnx", workspace=ws)
>>> served == version, predictor.copy, predictor.runtime, predictor.ref
(True, 'onnx', 'onnxruntime', 'iris@v1')
>>> (predictor.predict(X).predictions == model.predict(X)).all()
np.True_
>>> ws.close()
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput
from loopml.registry._versions import (
    COPIES_KEY,
    NATIVE,
    NATIVE_LATENCY_KEY,
    SERVED_KEY,
    ModelVersion,
    resolve_model,
    version_of,
)
from loopml.store import Direction

if TYPE_CHECKING:
    from loopml.models import OnnxConversion, Predictor
    from loopml.store import Artifact
    from loopml.workspace import Workspace

ONNX = "onnx"
FASTER = "faster"  # the copy with the lower measured one-row latency
SERVE_CHOICES = (NATIVE, ONNX, FASTER)


@dataclass(frozen=True)
class OnnxCopy:
    """A conversion that agreed with its model, encoded and not yet stored."""

    conversion: OnnxConversion
    data: bytes
    metadata: dict[str, Any]


def check_serve(serve: str | None, onnx: Any) -> None:
    """Refuse a ``serve=`` that names no copy, or one that no ``onnx=`` rows make,
    before anything is stored."""
    if serve is not None and serve not in SERVE_CHOICES:
        raise InvalidInput(
            f"serve={serve!r} names no copy of a model; give 'native' (the model itself), "
            "'onnx' (its ONNX copy, made with onnx= rows) or 'faster' (the one that "
            "predicts one row sooner)",
            field="serve",
        )
    if onnx is None and serve in (ONNX, FASTER):
        raise InvalidInput(
            f"serve={serve!r} needs an ONNX copy, and none is made without rows to check it "
            "on; pass onnx= the evaluation rows' features (onnx=X_eval), or serve='native'",
            field="onnx",
        )
    if onnx is not None and _dimensions(onnx) != 2:
        raise InvalidInput(
            f"onnx= takes the rows to check the ONNX copy on, a table of rows by columns "
            f"(a DataFrame, a 2-d array), not a {type(onnx).__qualname__}; pass the "
            "evaluation rows' features (onnx=X_eval)",
            field="onnx",
        )


def convert(model: Any, name: str, rows: Any, sample: Any) -> OnnxCopy:
    """``model`` converted to ONNX and checked on ``rows`` (``sample``, the training
    data, or else ``rows``, gives the input's shape); InvalidInput, with the figures,
    when it cannot be converted or does not agree."""
    from loopml.models import Signature, to_onnx
    from loopml.models._flavors import encode  # save_model's own encoding, for a copy

    if sample is None or isinstance(sample, Signature):
        sample = rows
    try:
        conversion = to_onnx(model, sample, check_on=rows)
    except InvalidInput as error:
        raise InvalidInput(
            f"model {name!r} was not registered: {error} (register it without onnx= to "
            "keep no ONNX copy)"
        ) from None
    figures = (conversion.max_abs_diff, conversion.onnx_latency_ms, conversion.sklearn_latency_ms)
    if not all(math.isfinite(figure) for figure in figures):
        raise InvalidInput(
            f"model {name!r} was not registered: its ONNX conversion predicts values that are "
            f"not numbers (largest difference {conversion.max_abs_diff}); register it "
            "without onnx= to keep no ONNX copy"
        )
    data, encoded = encode(conversion.model, ONNX)
    kind = type(conversion.model)
    metadata = {"format": "model", "python_type": f"{kind.__module__}.{kind.__qualname__}"}
    return OnnxCopy(conversion, data, {**metadata, **encoded})


def record_copy(ws: Workspace, name: str, copy: OnnxCopy, run_id: str | None) -> Artifact:
    """The copy stored as a ``model-copy`` of ``name``, made by ``run_id``; a copy of
    the same bytes recorded before is used again."""
    from loopml.artifacts import digest_bytes

    digest = digest_bytes(copy.data)
    for found in ws.store.find_artifacts(kind=ArtifactKind.MODEL_COPY, name=name, digest=digest):
        if found.uri is None:
            if run_id is not None:
                ws.store.add_event(run_id, found.id, Direction.OUTPUT, "output")
            return found
    blob = ws.artifacts.put_bytes(copy.data)
    return ws.store.create_artifact(
        kind=ArtifactKind.MODEL_COPY,
        name=name,
        digest=blob.digest,
        size=blob.size,
        metadata=copy.metadata,
        run_id=run_id,
    )


def serving_metadata(
    stored: Artifact | None, copy: OnnxCopy | None, serve: str | None
) -> dict[str, Any]:
    """What a version keeps of its copies and of the copy served: nothing without a
    copy or a ``serve``."""
    if stored is None or copy is None:
        return {} if serve is None else {SERVED_KEY: serve}
    result = copy.conversion
    if serve in (None, FASTER):
        serve = ONNX if result.onnx_latency_ms < result.sklearn_latency_ms else NATIVE
    described = {
        "artifact_id": stored.id,
        "digest": stored.digest,
        "size": stored.size,
        "rows": result.rows,
        "label_agreement": result.label_agreement,
        "ties": result.ties,
        "max_abs_diff": result.max_abs_diff,
        "latency_ms": result.onnx_latency_ms,
        "allow_nan": result.allow_nan,
    }
    return {
        COPIES_KEY: {ONNX: described},
        NATIVE_LATENCY_KEY: result.sklearn_latency_ms,
        SERVED_KEY: serve,
    }


def has_asked(metadata: Mapping[str, Any], asked: Mapping[str, Any], serve: str | None) -> bool:
    """Whether a version's ``metadata`` has the copies ``asked`` for, and serves the copy
    ``serve`` names (``faster`` takes the one it measured before)."""
    wanted = asked.get(COPIES_KEY) or {}
    kept = metadata.get(COPIES_KEY) or {}
    for form, copy in wanted.items():
        if (kept.get(form) or {}).get("digest") != copy["digest"]:
            return False
    return serve in (None, FASTER) or metadata.get(SERVED_KEY, NATIVE) == serve


def load_served(
    ref: str, *, copy: str | None = None, workspace: Workspace | None = None
) -> tuple[ModelVersion, Predictor]:
    """The version ``ref`` points at (``churn@champion``: the version the alias names
    now) and a :class:`~loopml.models.Predictor` over the copy of it ``copy`` names:
    ``"native"`` (the model itself) or ``"onnx"`` (its ONNX copy, run with
    onnxruntime); None loads the copy its metadata says it serves (``register(...,
    serve=)``). The copy's bytes are checked against their digest before anything is
    loaded."""
    from loopml.models import Predictor, load_model

    ws = workspace_in_use(workspace)
    version = version_of(ws.store, resolve_model(ws.store, ref))
    chosen = version.served if copy is None else _checked_copy(copy)
    if chosen == NATIVE:
        model = load_model(version.artifact, workspace=ws)
    else:
        stored = _stored_copy(ws, version, chosen, chosen_by_caller=copy is not None)
        model = load_model(stored, workspace=ws)
    # A copy answers NaN for a row with missing values: it takes them only when the
    # model it was made from does (recorded when it was made; not known before: no).
    takes_missing = chosen == NATIVE or bool(version.copies[chosen].get("allow_nan", False))
    return version, Predictor(
        model,
        signature=version.signature,
        artifact=version.artifact,
        copy=chosen,
        takes_missing=takes_missing,
    )


def _checked_copy(copy: Any) -> str:
    if copy not in (NATIVE, ONNX):
        raise InvalidInput(
            f"copy={copy!r} names no copy of a model; give 'native' (the model itself), "
            "'onnx' (its ONNX copy) or None (the copy the version serves by default)",
            field="copy",
        )
    return str(copy)


def _stored_copy(
    ws: Workspace, version: ModelVersion, form: str, *, chosen_by_caller: bool
) -> Artifact:
    """The artifact of the copy ``form`` of ``version``, checked against its record."""
    recorded = version.copies.get(form)
    if recorded is None:
        has = ", ".join(version.copies) or "no copies"
        if chosen_by_caller:
            raise InvalidInput(
                f"model {version.ref} has no {form!r} copy (it has {has}); load "
                f"copy='native', or register the model again with onnx= rows to make one",
                field="copy",
            )
        raise InvalidInput(
            f"model {version.ref} serves its {form!r} copy but records none (it has {has}); "
            "register the model again with onnx= rows"
        )
    stored = ws.store.get_artifact(recorded["artifact_id"])
    if stored.digest != recorded["digest"]:
        raise InvalidInput(
            f"the {form} copy of model {version.ref} is {stored.kind} {stored.ref} "
            f"with digest {stored.digest}, not the {recorded['digest']} the version "
            "recorded; register the model again with onnx= rows"
        )
    return stored


def _dimensions(rows: Any) -> int:
    import numpy as np

    found = getattr(rows, "ndim", None)
    if isinstance(found, int):
        return found
    try:
        return int(np.ndim(rows))
    except ValueError:  # ragged lists
        return 0
