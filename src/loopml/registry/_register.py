"""``register``: a model as the next version of a name, with its signature, the run that
made it, the evaluation it was judged on and, if asked, an alias."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, NotFound
from loopml.registry._aliases import promote, set_alias
from loopml.registry._versions import (
    CHAMPION,
    EVALUATION_KEY,
    KIND,
    PREVIOUS,
    ModelVersion,
    version_of,
)
from loopml.store import Artifact, Direction
from loopml.tracking._active import workspace_in_use

if TYPE_CHECKING:
    from loopml.store import MetadataStore
    from loopml.workspace import Workspace

EVALUATION_KIND = "evaluation"
SOURCE_KEY = "registered_from"
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_VERSION_LIKE = re.compile(r"latest|v[0-9]+")


def register(
    model: Any,
    name: str,
    *,
    evaluation: Artifact | str | None = None,
    signature_from: Any = None,
    alias: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Register ``model`` as the next version of model ``name``.

    ``model`` is a model object, saved through :func:`loopml.models.save_model` (and
    so linked to the active run: a pipeline step's, a ``start_run`` block's), or an
    artifact holding a model, such as a pipeline step's output, linked to the run that
    made it. The same bytes as the latest version return that version as it is.

    ``evaluation`` is the artifact of kind ``evaluation`` the model was judged on, or
    its id; its id is kept in the version's metadata. ``signature_from`` is the
    training data (or a :class:`~loopml.models.Signature`). ``alias`` points an alias
    at the new version: ``champion`` promotes it (see
    :func:`~loopml.registry.promote`), another name (``challenger``) just moves there;
    ``reason`` and ``actor`` are recorded with the move.
    """
    ws = workspace_in_use(workspace)
    if alias is not None:
        _check_alias(alias)
    extra = {} if evaluation is None else {EVALUATION_KEY: _evaluation_id(ws.store, evaluation)}
    if isinstance(model, Artifact):
        artifact = _register_stored(ws, model, name, extra, signature_from)
    else:
        from loopml.models import save_model

        artifact = save_model(
            model, name, workspace=ws, signature_from=signature_from, metadata=extra
        )
    if alias == CHAMPION:
        return promote(artifact.ref, reason=reason, actor=actor, workspace=ws)
    if alias is not None:
        return set_alias(artifact.ref, alias, reason=reason, actor=actor, workspace=ws)
    return version_of(ws.store, artifact)


def _register_stored(
    ws: Workspace, source: Artifact, name: str, extra: dict[str, Any], signature_from: Any
) -> Artifact:
    """A model a run stored already, recorded under ``name`` without copying its bytes."""
    from loopml.refs import check_name

    check_name(name, "model name")
    meta = source.metadata
    if meta.get("format") != "model" or source.uri is not None:
        raise InvalidInput(
            f"{source.kind} {source.ref} does not hold a model loopml stored (it is "
            f"{meta.get('format', 'a file')}); give the model object, or the output of a "
            "pipeline step that returned a model"
        )
    signature = meta.get("signature")
    if signature_from is not None:
        from loopml.models import Signature, infer_signature, load_model

        if not isinstance(signature_from, Signature):
            signature_from = infer_signature(signature_from, load_model(source, workspace=ws))
        signature = signature_from.to_dict()
    made_by = [
        event.run_id
        for event in ws.store.events(artifact_id=source.id)
        if event.direction is Direction.OUTPUT
    ]
    return ws.record(
        source.digest,
        source.size,
        kind=KIND,
        name=name,
        metadata={**meta, "signature": signature, SOURCE_KEY: source.id, **extra},
        run_id=made_by[0] if made_by else None,
    )


def _evaluation_id(store: MetadataStore, evaluation: Artifact | str) -> str:
    if isinstance(evaluation, Artifact):
        evaluation = evaluation.id
    if not isinstance(evaluation, str):
        raise InvalidInput(
            f"evaluation={evaluation!r} is neither an evaluation artifact nor its id; give "
            "what loopml.evaluation recorded"
        )
    try:
        found = store.get_artifact(evaluation)
    except NotFound:
        raise NotFound(
            f"no evaluation with id {evaluation!r} in this workspace; give the artifact "
            "loopml.evaluation recorded, or its id"
        ) from None
    if found.kind != EVALUATION_KIND:
        raise InvalidInput(
            f"{found.kind} {found.ref} is not an evaluation; give an artifact of kind "
            f"{EVALUATION_KIND!r} (what loopml.evaluation records) or its id"
        )
    return found.id


def _check_alias(alias: str) -> None:
    """Refuse a bad alias before anything is registered."""
    if alias == PREVIOUS:
        raise InvalidInput(
            f"alias {alias!r} is kept by promotion and rollback; register with "
            "alias='champion' to promote, or with another alias"
        )
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or _VERSION_LIKE.fullmatch(alias):
        raise InvalidInput(
            f"alias {alias!r} cannot be used: give a name of letters, digits, '.', '_' and "
            "'-' that is not a version reference (latest, v3), such as 'challenger'"
        )
