"""The store contract's deployments: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from loopml.store._records import Deployment, DeploymentChange


class DeploymentStore(abc.ABC):
    """Deployments: named endpoints with a routing policy, and their history."""

    @abc.abstractmethod
    def set_deployment(
        self,
        name: str,
        policy: Mapping[str, Any],
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_revision: int | None = None,
    ) -> Deployment:
        """Create the deployment ``name`` or change its policy, and record the change with
        who made it (``actor``, by default the user of this process) and why.

        ``policy`` is a JSON object, kept as it is given. ``expected_revision`` makes the
        call a compare-and-set: the deployment's current revision must be this one (0:
        the deployment must not exist), else nothing is written and
        :class:`~loopml.errors.Conflict` is raised; None checks nothing. Setting the
        policy the deployment has already changes and records nothing.
        """

    @abc.abstractmethod
    def get_deployment(self, name: str) -> Deployment:
        """The deployment called ``name``."""

    @abc.abstractmethod
    def deployments(self) -> list[Deployment]:
        """Every deployment, by name."""

    @abc.abstractmethod
    def delete_deployment(
        self,
        name: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_revision: int | None = None,
    ) -> None:
        """Remove a deployment, recording who removed it and why; removing one that is not
        there raises NotFound. ``expected_revision`` works as in :meth:`set_deployment`."""

    @abc.abstractmethod
    def deployment_history(self, name: str) -> list[DeploymentChange]:
        """The changes of the deployment ``name``, newest first; an empty list when there
        were none."""
