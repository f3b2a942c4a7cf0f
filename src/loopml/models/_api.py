"""``save_model`` and ``load_model``: a model as the next version of ``(model, NAME)``.

Each takes ``workspace=``; without it, the active workspace (a pipeline run's) or the
one found from the current folder or the environment is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml._context import run_making_records, workspace_in_use
from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput
from loopml.models._flavors import RESERVED, decode, encode
from loopml.models._signature import Signature, infer_signature
from loopml.workspace import record_version

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace


def save_model(
    model: Any,
    name: str,
    *,
    workspace: Workspace | None = None,
    signature_from: Any = None,
    flavor: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Artifact:
    """Store ``model`` through its flavor and record it as the next version of model
    ``name``; the same bytes as the latest version return that version unchanged.

    ``signature_from`` is the training data (the signature is inferred with the model's
    predictions) or a :class:`Signature`. ``flavor`` forces a flavor, for instance
    ``"python-function"`` to pickle a wrapper class. ``metadata`` is kept with the
    model; the keys loopml writes cannot be given, except ``libraries``, whose entries
    replace the versions recorded (for a model made elsewhere). ``run_id`` links the
    version to the run that made it; by default, the active run, if any.
    """
    from loopml.refs import check_name

    check_name(name, "model name", field="name")
    extra = dict(metadata or {})
    taken = sorted(RESERVED & extra.keys())
    if taken:
        raise InvalidInput(
            f"metadata key(s) {', '.join(taken)} are written by loopml; rename them (the "
            "signature is given with signature_from=)",
            field="metadata",
        )
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"metadata must be plain JSON (text keys; numbers, text, lists, dicts): {error}; "
            "convert the values, for example with str() or float()",
            field="metadata",
        ) from None
    signature = _signature(signature_from, model)
    data, meta = encode(model, flavor)
    libraries = extra.pop("libraries", None) or {}
    if not isinstance(libraries, Mapping):
        raise InvalidInput(
            f"metadata['libraries'] must map library to version, not {libraries!r}; "
            "for example {'sklearn': '1.5.2'}",
            field="metadata",
        )
    cls = type(model)
    meta = {
        "format": "model",
        "python_type": f"{cls.__module__}.{cls.__qualname__}",
        **meta,
        "signature": None if signature is None else signature.to_dict(),
        **extra,
    }
    meta["libraries"] = {**meta["libraries"], **{str(k): str(v) for k, v in libraries.items()}}
    ws = workspace_in_use(workspace)
    if run_id is None:  # made in a run (a step, a start_run block): that run made it
        run_id = run_making_records(ws)
    blob = ws.artifacts.put_bytes(data)
    return record_version(
        ws, blob.digest, blob.size, kind=ArtifactKind.MODEL, name=name, metadata=meta, run_id=run_id
    )


def load_model(ref: str | Artifact, *, workspace: Workspace | None = None) -> Any:
    """The model a reference points at (``churn``, ``churn@v3``, ``churn@latest``, an
    alias, ``churn@blake3:1f2e3d4c``) or an :class:`~loopml.store.Artifact` holding a
    model. Its bytes are checked against their digest before anything is loaded."""
    ws = workspace_in_use(workspace)
    artifact = stored_model(ref, ws)
    meta = artifact.metadata
    if meta.get("format") != "model":
        raise InvalidInput(
            f"{artifact.kind} {artifact.ref} is not a model (it is stored as "
            f"{meta.get('format', 'a file')}); give a reference to a saved model",
            field="ref",
        )
    what = f"{artifact.kind} {artifact.ref}"
    return decode(
        ws.artifacts.read_bytes(artifact.digest, what=what), meta, f"model {artifact.ref}"
    )


def stored_model(ref: str | Artifact, ws: Workspace) -> Artifact:
    """The model artifact ``ref`` points at (an Artifact is taken as it is); inside a
    run, a reference read is recorded as one of its inputs."""
    from loopml.store import Artifact

    if isinstance(ref, Artifact):
        return ref
    from loopml.refs import resolve  # refuses anything but text, naming what it is

    artifact = resolve(ws.store, ArtifactKind.MODEL, ref, field="ref")
    _record_read(ws, artifact, ref)
    return artifact


def _record_read(ws: Workspace, artifact: Artifact, ref: str) -> None:
    """Inside a run, the model read is one of its inputs, under the ref as given: a
    cached pipeline step that loaded ``churn@champion`` is used again only while the
    alias still names the same version."""
    from loopml.refs import read_role
    from loopml.store import Direction

    run_id = run_making_records(ws)
    if run_id is not None:
        ws.store.add_event(run_id, artifact.id, Direction.INPUT, read_role(ArtifactKind.MODEL, ref))


def _signature(signature_from: Any, model: Any) -> Signature | None:
    if signature_from is None or isinstance(signature_from, Signature):
        return signature_from
    return infer_signature(signature_from, model)
