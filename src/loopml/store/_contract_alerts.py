"""The store contract's alerts: see :mod:`loopml.store._base` for the rules."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from loopml.store._records import Alert, Severity


class AlertStore(abc.ABC):
    """Alerts: append-only notices about runs and data."""

    @abc.abstractmethod
    def create_alert(
        self,
        *,
        kind: str,
        severity: Severity | str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
    ) -> Alert:
        """Record an alert; the run and artifact it names must exist."""

    @abc.abstractmethod
    def get_alert(self, alert_id: str) -> Alert:
        """The alert with this id."""

    @abc.abstractmethod
    def find_alerts(
        self, *, kind: str | None = None, run_id: str | None = None, limit: int | None = None
    ) -> list[Alert]:
        """Alerts matching every filter given, newest first."""
