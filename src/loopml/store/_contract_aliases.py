"""The store contract's aliases: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc

from loopml.store._records import Alias, AliasEvent


class AliasStore(abc.ABC):
    """Aliases: movable names for one artifact version, with their history."""

    @abc.abstractmethod
    def set_alias(
        self,
        alias: str,
        artifact_id: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Alias:
        """Point ``alias`` of the artifact's ``(kind, name)`` at this artifact, and record
        the change with who made it (``actor``, by default the user of this process)
        and why."""

    @abc.abstractmethod
    def get_alias(self, kind: str, name: str, alias: str) -> Alias:
        """The alias of ``(kind, name)`` called ``alias``."""

    @abc.abstractmethod
    def delete_alias(
        self,
        kind: str,
        name: str,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Remove an alias, recording who removed it and why; removing one that is not
        there raises NotFound."""

    @abc.abstractmethod
    def aliases(self, *, kind: str | None = None, name: str | None = None) -> list[Alias]:
        """Aliases, by kind, name and alias."""

    @abc.abstractmethod
    def alias_history(self, kind: str, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The changes of the aliases of ``(kind, name)`` (or of one alias), newest
        first; an empty list when there were none."""
