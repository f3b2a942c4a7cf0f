"""What both backends take and give back for deployments: the arguments of a call
checked, and the records made from rows (see :mod:`loopml.store._rows`).

>>> same_policy({"model": "churn@champion", "weight": 1}, {"weight": 1, "model": "churn@champion"})
True
>>> same_policy({"weight": 1}, {"weight": 1.0})
False
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from loopml._time import from_us
from loopml.errors import InvalidInput
from loopml.store._records import Deployment, DeploymentChange
from loopml.store._rows import MAX_REASON, Row, default_actor
from loopml.store.values import INT32, check_int, check_length, check_name, check_text, json_object

__all__ = [
    "change_actor",
    "change_reason",
    "check_deployment_name",
    "check_expected_revision",
    "check_policy",
    "deployment_change_record",
    "deployment_record",
    "lost_revision",
    "same_policy",
]


def check_deployment_name(name: str) -> str:
    """A deployment name, as artifact names are written."""
    return check_name(name, "deployment name", field="name")


def check_policy(name: str, policy: Mapping[str, Any]) -> dict[str, Any]:
    """The policy as the plain JSON object it is stored as."""
    if not isinstance(policy, Mapping):
        raise InvalidInput(
            f"the policy of deployment {name!r} must be a mapping (a JSON object), not "
            f"{policy!r:.80}; give e.g. {{'model': 'churn@champion'}}",
            field="policy",
        )
    return json_object(f"deployment {name!r} policy", policy)


def check_expected_revision(expected: int | None) -> int | None:
    """None (check nothing) or a revision: 0 for a deployment that must not exist."""
    if expected is None:
        return None
    return check_int("expected_revision", expected, (0, INT32[1]))


def change_actor(actor: str | None) -> str:
    """Who changes a deployment: ``actor``, or by default the user of this process."""
    if actor is None:
        return default_actor()
    check_length("deployment change actor", actor, 255)
    return actor


def change_reason(reason: str | None) -> str | None:
    """Why a deployment changes: text of at most :data:`MAX_REASON` characters, or None."""
    if reason is None or reason == "":
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"deployment change reason {reason!r:.80} must be text of at most {MAX_REASON} "
            "characters; say in a sentence why the deployment changes"
        )
    return check_text("deployment change reason", reason)


def same_policy(stored: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """Whether two policies are the same JSON: ``1`` and ``1.0`` or ``true`` differ,
    the order of keys does not."""
    return _canonical(stored) == _canonical(given)


def _canonical(policy: Mapping[str, Any]) -> str:
    return json.dumps(policy, sort_keys=True, ensure_ascii=False, allow_nan=False)


def lost_revision(name: str, expected: int, current: int) -> str:
    """Why a compare-and-set on a deployment was lost."""

    def described(revision: int) -> str:
        return "absent" if revision == 0 else f"at revision {revision}"

    return (
        f"deployment {name!r} is {described(current)}, not {described(expected)} as "
        "expected: it changed since it was read, and nothing was changed; read it again "
        "and decide anew"
    )


def deployment_record(row: Row) -> Deployment:
    return Deployment(
        name=row["name"],
        policy=dict(row["policy"]),
        revision=int(row["revision"]),
        updated_at=from_us(row["updated_at"]),
        actor=row["actor"],
    )


def deployment_change_record(row: Row) -> DeploymentChange:
    before, after = row["previous_policy"], row["policy"]
    return DeploymentChange(
        name=row["name"],
        revision=int(row["revision"]),
        previous_policy=None if before is None else dict(before),
        policy=None if after is None else dict(after),
        actor=row["actor"],
        reason=row["reason"],
        created_at=from_us(row["created_at"]),
    )
