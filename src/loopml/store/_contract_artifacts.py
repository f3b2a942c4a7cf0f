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
        after: int | None = None,
    ) -> Artifact:
        """Record the next version of ``(kind, name)``.

        With ``run_id``, the output event ``run -> artifact`` is written in the same
        transaction. With ``after``, only as the version after that one (0: the first):
        :class:`~loopml.errors.Conflict` when another writer numbered it first, so a
        caller that looked at the latest version can look again (compare-and-set).
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
        after: str | None = None,
    ) -> list[Artifact]:
        """Artifacts matching every filter given, by kind, name and version; with
        ``after`` (an artifact's id; NotFound when there is none), only those that come
        after that artifact in this order, so that a page ends with an artifact and the
        next one starts after it, and artifacts made in between do not shift the pages.
        Names order by code point, as Python compares text."""

    @abc.abstractmethod
    def latest_artifacts(
        self, kind: str, *, after_name: str | None = None, limit: int | None = None
    ) -> list[Artifact]:
        """The highest version of every name of ``kind``, by name (in code point order);
        with ``after_name``, only the names after it: one page of a listing by name
        (the registered models, the datasets), read without reading older versions."""
