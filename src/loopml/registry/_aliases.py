"""Promotion and rollback: the ``champion`` alias moves, the one it leaves becomes
``previous``, and every move is kept in the store's alias history with who made it
and why.

A version is promoted only when its latest gate decision passed, or with ``force``
and a reason, which the history keeps. Rollback returns to the champion before, which
needed the same when it was promoted, so it asks for neither: it is the way back
when the new champion fails in production.

Both read the two aliases, decide, and move them in one compare-and-set
(:meth:`~loopml.store.MetadataStore.move_aliases`), so callers acting at once are put
in an order and the history stays one unbroken chain. A promotion that finds the
champion moved by another caller in between reads again and promotes over the new
champion (promoting is "make this the champion", whoever was champion before): of two
promotions at once, the later one is the champion and the earlier one ``previous``.
A rollback is a decision about the champion it read: if another caller moved it in
between, the rollback is not repeated over the new state (two rollbacks at once would
undo each other) — if the champion is now the version it rolled back to, it is done;
otherwise :class:`~loopml.errors.Conflict` says to look at the history and decide
again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml._kinds import ArtifactKind
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.registry._gated import forced_reason, stale_gate, version_gate
from loopml.registry._versions import (
    CHAMPION,
    PREVIOUS,
    ModelVersion,
    require_model,
    resolve_model,
    version_of,
)

if TYPE_CHECKING:
    from loopml.store import MetadataStore
    from loopml.workspace import Workspace

# How many times a promotion reads again after losing its compare-and-set: each loss
# means another caller moved the champion, so this bounds starvation, not progress.
PROMOTE_ATTEMPTS = 20


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
    Both aliases move in one transaction, and only if they are still as read; if
    another caller moved them in between, the promotion reads them again and goes on
    over the new champion (see the module's docstring), raising
    :class:`~loopml.errors.Conflict` only if it keeps losing.
    """
    ws = workspace_in_use(workspace)
    store = ws.store
    chosen = resolve_model(store, ref)
    recorded: str | None = None
    gated: str | bool | None = False  # the champion the gate was checked against
    for _ in range(PROMOTE_ATTEMPTS):
        read = champions(store, chosen.name)
        current = read[CHAMPION]
        if current == chosen.id:
            return version_of(store, chosen)
        if gated != current:  # the gate is weighed against the champion it replaces
            verdict, looked_at = version_gate(ws, chosen)
            replacing = None if current is None else store.get_artifact(current)
            stale = stale_gate(ws, verdict, replacing)
            recorded = forced_reason(
                chosen.ref, verdict, looked_at, force=force, reason=reason, replaced=stale
            )
            gated = current
        moves = {CHAMPION: chosen.id}
        if current is not None:  # previous is written first, as it always was
            moves = {PREVIOUS: current, CHAMPION: chosen.id}
        try:
            store.move_aliases(
                ArtifactKind.MODEL, chosen.name, moves, expected=read, actor=actor, reason=recorded
            )
        except Conflict:
            continue
        return version_of(store, chosen)
    raise Conflict(
        f"{chosen.ref} was not made the champion: the champion of {chosen.name!r} was moved "
        f"by other callers {PROMOTE_ATTEMPTS} times while promoting it; see `loopml models "
        f"history {chosen.name}` and promote it again if it should still go out"
    )


def rollback(
    name: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> ModelVersion:
    """Make the ``previous`` champion of model ``name`` the champion again; the
    champion it replaces becomes ``previous`` (so a second rollback undoes the first).
    Returns the new champion.

    Both aliases move in one transaction, and only if they are still as read: if
    another caller moved them in between, the rollback is done when the champion is
    now the version it rolled back to, and :class:`~loopml.errors.Conflict` otherwise
    (it is not repeated over a state it was not decided on)."""
    store = workspace_in_use(workspace).store
    require_model(store, name)
    read = champions(store, name)
    champion, previous = read[CHAMPION], read[PREVIOUS]
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
    moves = {CHAMPION: previous, PREVIOUS: champion}
    try:
        store.move_aliases(
            ArtifactKind.MODEL, name, moves, expected=read, actor=actor, reason=reason
        )
    except Conflict as error:
        if champions(store, name)[CHAMPION] != previous:
            raise Conflict(
                f"model {name!r} was not rolled back: its champion or previous was moved by "
                f"another caller meanwhile ({error}); see `loopml models history {name}` "
                "and roll back again if it is still wanted"
            ) from None
        # Another caller rolled back to the same version meanwhile: done.
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


def champions(store: MetadataStore, name: str) -> dict[str, str | None]:
    """Where ``champion`` and ``previous`` of model ``name`` point (None: absent), read
    together."""
    found = {a.alias: a.artifact_id for a in store.aliases(kind=ArtifactKind.MODEL, name=name)}
    return {CHAMPION: found.get(CHAMPION), PREVIOUS: found.get(PREVIOUS)}
