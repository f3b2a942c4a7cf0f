"""The store contract's aliases: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping

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
    def move_aliases(
        self,
        kind: str,
        name: str,
        moves: Mapping[str, str | None],
        *,
        expected: Mapping[str, str | None],
        actor: str | None = None,
        reason: str | None = None,
    ) -> list[Alias]:
        """Move several aliases of ``(kind, name)`` at once, if they still point where
        the caller read them: a compare-and-set, in one transaction.

        ``moves`` maps each alias to the artifact id it is to point at (an artifact of
        ``(kind, name)``), or to None to delete it. ``expected`` maps each alias to the
        artifact id it must point at now, or to None if it must be absent; it must
        name every alias in ``moves``, and may name others, which are checked and left
        as they are. When any expectation does not hold, nothing is written and
        :class:`~loopml.errors.Conflict` is raised naming the alias, what was expected
        and what was found. Otherwise each move is made and recorded as an
        :class:`AliasEvent` (with ``actor`` and ``reason``), in the order of
        ``moves``, in the same transaction; a move to where the alias points already,
        or a deletion of an absent alias, changes and records nothing.

        Returns the aliases of ``moves`` that point somewhere after the call, in the
        order of ``moves``.
        """

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
