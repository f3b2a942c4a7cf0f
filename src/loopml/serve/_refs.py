"""The model versions a deployment's refs point at, with errors that say how to make a
ref point somewhere: an alias that is not set names the promotion that sets it.

A deployment keeps its refs as given (``churn@champion``), so that it follows the
alias; these functions say where each one points now.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, LoopmlError, NotFound
from loopml.refs import parse
from loopml.registry._versions import CHAMPION, PREVIOUS, alias_target, require_model, resolve_model

if TYPE_CHECKING:
    from loopml.store import Artifact, MetadataStore

_NOT_ALIAS = re.compile(r"latest|v[1-9][0-9]*|blake3:.*")


def resolve_version(store: MetadataStore, ref: str, *, field: str) -> Artifact:
    """The registered model version ``ref`` points at now. A ref loopml cannot read is
    InvalidInput, a model or alias that is not there NotFound; ``field`` (the argument
    that holds ``ref``) is set on either."""
    try:
        name, selector = parse(ref, field=field)
        require_model(store, name, ref, field=field)
        if not _NOT_ALIAS.fullmatch(selector) and alias_target(store, name, selector) is None:
            raise NotFound(_unset_alias(store, name, selector, ref))
        return resolve_model(store, ref, field=field)
    except LoopmlError as error:
        if error.field is None:
            error.field = field
        raise


def where_now(store: MetadataStore, ref: str) -> tuple[str | None, str | None]:
    """``(version ref, None)`` for the version ``ref`` points at now, or ``(None, why)``
    when it points nowhere (an alias deleted, a model not registered)."""
    try:
        return resolve_version(store, ref, field="ref").ref, None
    except (NotFound, InvalidInput) as error:
        return None, str(error)


def default_fallback(store: MetadataStore, first_arm: str) -> str | None:
    """The fallback of a policy that names none: ``<model>@previous`` of its first arm,
    when that alias is set now."""
    try:
        name = parse(first_arm).name
    except InvalidInput:
        return None
    return f"{name}@{PREVIOUS}" if alias_target(store, name, PREVIOUS) is not None else None


def _unset_alias(store: MetadataStore, name: str, alias: str, ref: str) -> str:
    latest = store.latest_artifact(ArtifactKind.MODEL, name).version
    if alias == CHAMPION:
        return (
            f"model {name!r} has no champion yet ({ref}); make one with "
            f"`loopml models promote {name}@vN` (its latest is {name}@v{latest}), or deploy "
            f"a version: {name}@v{latest}"
        )
    if alias == PREVIOUS:
        return (
            f"model {name!r} has no previous champion yet ({ref}); it is set when a version "
            f"is promoted over the champion (`loopml models promote {name}@vN`), or give a "
            f"version: {name}@v{latest}"
        )
    known = {a.alias for a in store.aliases(kind=ArtifactKind.MODEL, name=name)}
    close = difflib.get_close_matches(alias, sorted(known | {CHAMPION, PREVIOUS}), n=1)
    hint = f"did you mean {name}@{close[0]}? " if close else ""
    return (
        f"model {name!r} has no alias {alias!r} ({ref}); {hint}set it with "
        f"`loopml models promote {name}@vN` for the champion (or "
        f"loopml.registry.set_alias('{name}@vN', {alias!r}) in Python), or give a version: "
        f"{name}@v{latest}"
    )
