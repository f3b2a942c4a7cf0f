"""Promotion and rollback: the ``champion`` alias moves, the one it leaves becomes
``previous``, and every move is kept in the store's alias history with who made it
and why.

A version is promoted only when its latest gate decision passed, or with ``force``
and a reason, which the history keeps. Rollback returns to the champion before, which
needed the same when it was promoted, so it asks for neither: it is the way back
when the new champion fails in production."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, NotFound
from loopml.registry._gated import forced_reason, version_gate
from loopml.registry._versions import (
    CHAMPION,
    PREVIOUS,
    ModelVersion,
    alias_target,
    require_model,
    resolve_model,
    version_of,
)

if TYPE_CHECKING:
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class AliasMove:
    """One change of an alias of a model: from which version to which (None: the alias
    was first set, or deleted), by whom, when and why."""

    alias: str
    action: str  # "set", "moved" or "deleted"
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "action": self.action,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


def promote(
    ref: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    force: bool = False,
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Make the version ``ref`` points at the champion; the champion it replaces becomes
    ``previous``, for :func:`rollback`. Promoting the champion again changes nothing.

    The version's latest gate decision — on the evaluation it was registered with, or
    with it as the candidate — must have passed: a version whose gate failed, or that
    has none, raises :class:`~loopml.errors.PromotionRefused` naming the failed checks,
    unless ``force`` is given with a ``reason``; the history then records the reason
    after what was forced (``forced past a failed gate (flips): ...``).

    ``actor`` is who decided (by default the user of this process); ``reason`` why.
    """
    ws = workspace_in_use(workspace)
    store = ws.store
    chosen = resolve_model(store, ref)
    current = alias_target(store, chosen.name, CHAMPION)
    if current != chosen.id:
        verdict, looked_at = version_gate(ws, chosen)
        reason = forced_reason(chosen.ref, verdict, looked_at, force=force, reason=reason)
        if current is not None:
            store.set_alias(PREVIOUS, current, actor=actor, reason=reason)
        store.set_alias(CHAMPION, chosen.id, actor=actor, reason=reason)
    return version_of(store, chosen)


def rollback(
    name: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Make the ``previous`` champion of model ``name`` the champion again; the
    champion it replaces becomes ``previous`` (so a second rollback undoes the first).
    Returns the new champion."""
    store = workspace_in_use(workspace).store
    require_model(store, name)
    champion = alias_target(store, name, CHAMPION)
    previous = alias_target(store, name, PREVIOUS)
    if champion is None:
        raise NotFound(
            f"model {name!r} has no champion to roll back from; promote a version first: "
            f"loopml models promote {name}@vN"
        )
    if previous is None or previous == champion:
        current = store.get_artifact(champion).ref
        why = (
            f"{current} is the only one it has had"
            if previous is None
            else f"previous is the champion, {current}, too: `loopml models history {name}`"
        )
        raise NotFound(
            f"model {name!r} has no previous champion to roll back to ({why}); promote "
            f"another version instead: loopml models promote {name}@vN"
        )
    # Champion first: a crash between the two moves leaves both aliases on the version
    # rolled back to, never the champion on the version being rolled back from.
    store.set_alias(CHAMPION, previous, actor=actor, reason=reason)
    store.set_alias(PREVIOUS, champion, actor=actor, reason=reason)
    return version_of(store, store.get_artifact(previous))


def set_alias(
    ref: str,
    alias: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Point ``alias`` (``challenger``, ``staging``...) at the version ``ref`` points
    at. ``champion`` and ``previous`` move only through :func:`promote` and
    :func:`rollback`, which keep them consistent."""
    if alias in (CHAMPION, PREVIOUS):
        raise InvalidInput(
            f"alias {alias!r} moves only by promotion and rollback; use "
            "loopml.registry.promote(ref) or rollback(name)",
            field="alias",
        )
    store = workspace_in_use(workspace).store
    chosen = resolve_model(store, ref)
    store.set_alias(alias, chosen.id, actor=actor, reason=reason)
    return version_of(store, chosen)


def history(name: str, *, workspace: Workspace | None = None) -> list[AliasMove]:
    """Every change of the aliases of model ``name``, newest first."""
    store = workspace_in_use(workspace).store
    require_model(store, name)
    events = store.alias_history(ArtifactKind.MODEL, name)
    # Read after the events, so that every version they name is here.
    number = {artifact.id: artifact.version for artifact in require_model(store, name)}
    return [
        AliasMove(
            alias=event.alias,
            action=event.action,
            from_version=None if event.from_artifact_id is None else number[event.from_artifact_id],
            to_version=None if event.to_artifact_id is None else number[event.to_artifact_id],
            actor=event.actor,
            reason=event.reason,
            at=event.created_at,
        )
        for event in events
    ]
