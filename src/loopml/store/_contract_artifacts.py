"""The store contract's artifacts: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from loopml.store._records import Artifact


class ArtifactStore(abc.ABC):
    """Artifacts: immutable, numbered versions of a ``(kind, name)``."""

    @abc.abstractmethod
    def create_artifact(
        self,
        *,
        kind: str,
        name: str,
        digest: str,
        size: int,
        uri: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        role: str = "output",
    ) -> Artifact:
        """Record the next version of ``(kind, name)``.

        With ``run_id``, the output event ``run -> artifact`` is written in the same
        transaction.
        """

    @abc.abstractmethod
    def get_artifact(self, artifact_id: str) -> Artifact:
        """The artifact with this id."""

    @abc.abstractmethod
    def get_artifact_version(self, kind: str, name: str, version: int) -> Artifact:
        """Version ``version`` of ``(kind, name)``."""

    @abc.abstractmethod
    def latest_artifact(self, kind: str, name: str) -> Artifact:
        """The highest version of ``(kind, name)``."""

    @abc.abstractmethod
    def find_artifacts(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        limit: int | None = None,
    ) -> list[Artifact]:
        """Artifacts matching every filter given."""
