"""``register``: a model as the next version of a name, with its signature, the run that
made it, the evaluation it was judged on and, if asked, an ONNX copy and an alias."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from loopml._context import run_making_records, workspace_in_use
from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, NotFound
from loopml.registry._aliases import champions, promote, set_alias
from loopml.registry._copies import (
    OnnxCopy,
    check_serve,
    convert,
    has_asked,
    record_copy,
    serving_metadata,
)
from loopml.registry._gated import evaluation_gate, forced_reason, stale_gate
from loopml.registry._versions import (
    CHAMPION,
    EVALUATION_KEY,
    PREVIOUS,
    ModelVersion,
    version_of,
)
from loopml.store import Artifact, Direction
from loopml.workspace import record_version

if TYPE_CHECKING:
    from loopml.evaluation import Evaluation
    from loopml.store import MetadataStore
    from loopml.workspace import Workspace

SOURCE_KEY = "registered_from"
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_VERSION_LIKE = re.compile(r"latest|v[0-9]+")


def register(
    model: Any,
    name: str,
    *,
    evaluation: Evaluation | Artifact | str | None = None,
    signature_from: Any = None,
    onnx: Any = None,
    serve: str | None = None,
    alias: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
    force: bool = False,
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Register ``model`` as the next version of model ``name``.

    ``model`` is a model object, saved through :func:`loopml.models.save_model` (and
    so linked to the active run: a pipeline step's, a ``start_run`` block's), or an
    artifact holding a model, such as a pipeline step's output, linked to the run that
    made it. The same bytes as the latest version return that version as it is, unless
    it lacks the ONNX copy or the copy served asked for: then a new version of those
    bytes has them.

    ``evaluation`` is what :func:`loopml.evaluate` returned (stored), the artifact of
    kind ``evaluation`` the model was judged on, or its id; its id is kept in the
    version's metadata. ``signature_from`` is the
    training data (or a :class:`~loopml.models.Signature`).

    ``onnx`` is rows (the evaluation rows' features) to check an ONNX copy on: the
    scikit-learn model is converted with :func:`loopml.models.to_onnx`, and the copy,
    refused unless it agrees, is stored before the version, which records it under
    ``copies``. ``serve`` is the copy :func:`load_served` loads when its caller does
    not choose one: ``"native"``, ``"onnx"`` or ``"faster"`` (the default with a copy:
    the one that predicts one row sooner, as measured). The copy that runs is the
    caller's (a deployment's) choice: ``load_served(ref, copy="onnx")`` runs the ONNX
    copy of a version whatever it serves by default, with no new version.

    ``alias`` points an alias
    at the new version: ``champion`` promotes it (see
    :func:`~loopml.registry.promote`: the gate must have passed on ``evaluation``, or
    ``force`` be given with a ``reason``; else nothing is registered), another name
    (``challenger``) just moves there; ``reason`` and ``actor`` are recorded with the
    move.
    """
    ws = workspace_in_use(workspace)
    if alias is not None:
        _check_alias(alias)
    check_serve(serve, onnx)
    extra = {} if evaluation is None else {EVALUATION_KEY: _evaluation_id(ws.store, evaluation)}
    if alias == CHAMPION:  # refused before anything is stored
        verdict, looked_at = evaluation_gate(ws, extra.get(EVALUATION_KEY), name)
        current = champions(ws.store, name)[CHAMPION]
        champion = None if current is None else ws.store.get_artifact(current)
        stale = stale_gate(ws, verdict, champion)
        forced_reason(
            f"the new version of {name}",
            verdict,
            looked_at,
            force=force,
            reason=reason,
            replaced=stale,
        )
    if isinstance(model, Artifact):
        artifact = _register_stored(ws, model, name, extra, signature_from, onnx, serve)
    else:
        artifact = _register_object(ws, model, name, extra, signature_from, onnx, serve)
    if alias == CHAMPION:
        return promote(artifact.ref, reason=reason, actor=actor, force=force, workspace=ws)
    if alias is not None:
        return set_alias(artifact.ref, alias, reason=reason, actor=actor, workspace=ws)
    return version_of(ws.store, artifact)


def _register_object(
    ws: Workspace,
    model: Any,
    name: str,
    extra: dict[str, Any],
    signature_from: Any,
    onnx: Any,
    serve: str | None,
) -> Artifact:
    """A model object saved through its flavor, after its ONNX copy if one is asked for."""
    from loopml.models import Signature, infer_signature, save_model
    from loopml.refs import check_name

    if onnx is None and serve is None:
        return save_model(model, name, workspace=ws, signature_from=signature_from, metadata=extra)
    check_name(name, "model name", field="name")
    signature = signature_from  # inferred now: a bad signature_from must store no copy
    if signature_from is not None and not isinstance(signature_from, Signature):
        signature = infer_signature(signature_from, model)
    copy = None if onnx is None else convert(model, name, onnx, signature_from)
    run_id = run_making_records(ws)
    asked = {**extra, **_store_copy(ws, name, copy, serve, run_id)}
    artifact = save_model(
        model, name, workspace=ws, signature_from=signature, metadata=asked, run_id=run_id
    )
    if signature is not None:
        asked["signature"] = signature.to_dict()
    return _as_asked(ws, artifact, asked, serve, run_id)


def _register_stored(
    ws: Workspace,
    source: Artifact,
    name: str,
    extra: dict[str, Any],
    signature_from: Any,
    onnx: Any,
    serve: str | None,
) -> Artifact:
    """A model a run stored already, recorded under ``name`` without copying its bytes."""
    from loopml.models import Signature, infer_signature, load_model
    from loopml.refs import check_name

    check_name(name, "model name", field="name")
    meta = source.metadata
    if meta.get("format") != "model" or source.uri is not None:
        raise InvalidInput(
            f"{source.kind} {source.ref} does not hold a model loopml stored (it is "
            f"{meta.get('format', 'a file')}); give the model object, or the output of a "
            "pipeline step that returned a model",
            field="model",
        )
    inferring = signature_from is not None and not isinstance(signature_from, Signature)
    model = load_model(source, workspace=ws) if inferring or onnx is not None else None
    signature = meta.get("signature")
    if signature_from is not None:
        if not isinstance(signature_from, Signature):
            signature_from = infer_signature(signature_from, model)
        signature = signature_from.to_dict()
    copy = None if onnx is None else convert(model, name, onnx, signature_from)
    made_by = [
        event.run_id
        for event in ws.store.events(artifact_id=source.id)
        if event.direction is Direction.OUTPUT
    ]
    run_id = made_by[0] if made_by else None
    asked = {"signature": signature, SOURCE_KEY: source.id, **extra}
    asked.update(_store_copy(ws, name, copy, serve, run_id))
    artifact = record_version(
        ws,
        source.digest,
        source.size,
        kind=ArtifactKind.MODEL,
        name=name,
        metadata={**meta, **asked},
        run_id=run_id,
    )
    return _as_asked(ws, artifact, asked, serve, run_id)


def _store_copy(
    ws: Workspace, name: str, copy: OnnxCopy | None, serve: str | None, run_id: str | None
) -> dict[str, Any]:
    """The copy stored, if any, and what the version keeps of it and of the copy served."""
    stored = None if copy is None else record_copy(ws, name, copy, run_id)
    return serving_metadata(stored, copy, serve)


def _as_asked(
    ws: Workspace, artifact: Artifact, asked: dict[str, Any], serve: str | None, run_id: str | None
) -> Artifact:
    """``artifact``; or, when it is a version recorded before (the same bytes) that lacks
    the copy or the serving asked for, a new version of its bytes with them, since a
    version's record never changes."""
    if has_asked(artifact.metadata, asked, serve):
        return artifact
    return ws.store.create_artifact(
        kind=ArtifactKind.MODEL,
        name=artifact.name,
        digest=artifact.digest,
        size=artifact.size,
        metadata={**artifact.metadata, **asked},
        run_id=run_id,
    )


def _evaluation_id(store: MetadataStore, evaluation: Evaluation | Artifact | str) -> str:
    from loopml.evaluation import Evaluation

    if isinstance(evaluation, Evaluation):
        if evaluation.artifact_id is None:
            raise InvalidInput(
                "evaluation= was not stored (evaluate ran with record=False); evaluate with "
                "record=True, or leave evaluation= out",
                field="evaluation",
            )
        evaluation = evaluation.artifact_id
    if isinstance(evaluation, Artifact):
        evaluation = evaluation.id
    if not isinstance(evaluation, str):
        raise InvalidInput(
            f"evaluation={evaluation!r} is neither an evaluation artifact nor its id; give "
            "what loopml.evaluation recorded",
            field="evaluation",
        )
    try:
        found = store.get_artifact(evaluation)
    except NotFound:
        raise NotFound(
            f"no evaluation with id {evaluation!r} in this workspace; give the artifact "
            "loopml.evaluation recorded, or its id"
        ) from None
    if found.kind != ArtifactKind.EVALUATION:
        raise InvalidInput(
            f"{found.kind} {found.ref} is not an evaluation; give an artifact of kind "
            f"{ArtifactKind.EVALUATION.value!r} (what loopml.evaluation records) or its id",
            field="evaluation",
        )
    return found.id


def _check_alias(alias: str) -> None:
    """Refuse a bad alias before anything is registered."""
    if alias == PREVIOUS:
        raise InvalidInput(
            f"alias {alias!r} is kept by promotion and rollback; register with "
            "alias='champion' to promote, or with another alias",
            field="alias",
        )
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or _VERSION_LIKE.fullmatch(alias):
        raise InvalidInput(
            f"alias {alias!r} cannot be used: give a name of letters, digits, '.', '_' and "
            "'-' that is not a version reference (latest, v3), such as 'challenger'",
            field="alias",
        )
