"""Deployments: named endpoints with a routing policy over model versions, kept in the
metadata store with the history of every change (who, when, from, to, why).

A deployment names its versions by ref as given: ``churn@champion`` follows the
champion when it is promoted or rolled back, ``churn@v3`` stays. Every ref must point
at a registered version when it is deployed; :func:`deployment` says where each one
points now.

>>> import tempfile, loopml
>>> from loopml import registry, serve
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_iris(return_X_y=True, as_frame=True)
>>> ws = loopml.init(tempfile.mkdtemp())
>>> for C in (0.1, 1.0):
...     _ = registry.register(LogisticRegression(C=C, max_iter=500).fit(X, y), "iris",
...                           signature_from=X, workspace=ws)
>>> _ = registry.promote("iris@v1", force=True, reason="the first", workspace=ws)
>>> serve.deploy("iris", "iris@champion", canary=("iris@v2", 0.1), reason="try v2",
...              workspace=ws).revision
1
>>> shown = serve.deployment("iris", workspace=ws)
>>> [(arm.model, arm.weight, shown.resolved[arm.model]) for arm in shown.policy.arms]
[('iris@champion', 0.9, 'iris@v1'), ('iris@v2', 0.1, 'iris@v2')]
>>> serve.set_weight("iris", "iris@v2", 0.5, reason="no errors at 10%", workspace=ws).revision
2
>>> [(change.revision, change.action, change.reason)
...  for change in serve.deployment_history("iris", workspace=ws)]
[(2, 'updated', 'no errors at 10%'), (1, 'created', 'try v2')]
>>> ws.close()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.serve._deploy_args import check_versions, key_source, policy_of, ref_list
from loopml.serve._policy import Policy
from loopml.serve._refs import default_fallback, where_now
from loopml.store.values import check_name

if TYPE_CHECKING:
    from loopml.store import ArmStats, Deployment, DeploymentChange, MetadataStore
    from loopml.workspace import Workspace

# How many times set_weight reads again when another caller changed the deployment
# between its read and its write (each loss is someone else's progress).
SET_WEIGHT_ATTEMPTS = 20


@dataclass(frozen=True)
class DeploymentDetail:
    """A deployment as it stands: its record, its policy, and where each ref it names
    points now (``resolved``: ref to ``churn@v3``, or None with the reason in
    ``problems`` when it points nowhere now). ``fallback`` is the ref that answers when
    the chosen arm fails: the policy's, else ``<model>@previous`` of the first arm when
    that alias is set now, else None. ``stats`` are what the servers' routers learnt of
    each version (pulls, rewards), summed over every server: a bandit's evidence."""

    record: Deployment
    policy: Policy
    resolved: Mapping[str, str | None]
    problems: Mapping[str, str]
    fallback: str | None
    stats: Mapping[str, ArmStats] = dataclasses.field(default_factory=dict)

    def arm_stats(self, ref: str) -> ArmStats | None:
        """The statistics of the version ``ref`` points at now, when it has some."""
        version = self.resolved.get(ref)
        return None if version is None else self.stats.get(version)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def revision(self) -> int:
        return self.record.revision

    def to_dict(self) -> dict[str, Any]:
        """The deployment as plain JSON values."""
        return {
            "name": self.name,
            "revision": self.revision,
            "updated_at": self.record.updated_at.isoformat(),
            "actor": self.record.actor,
            "routing": self.policy.routing,
            "arms": [
                {
                    "model": arm.model,
                    "weight": arm.weight,
                    "version": self.resolved.get(arm.model),
                    "canary": arm.model == self.policy.canary,
                    **_stats_json(self.arm_stats(arm.model)),
                }
                for arm in self.policy.arms
            ],
            "shadows": [
                {"model": ref, "version": self.resolved.get(ref)} for ref in self.policy.shadows
            ],
            "fallback": None
            if self.fallback is None
            else {
                "model": self.fallback,
                "version": self.resolved.get(self.fallback),
                "default": self.policy.fallback is None,
            },
            "problems": dict(self.problems),
            "policy": self.policy.to_dict(),
        }


def deploy(
    name: str,
    model: str | None = None,
    *,
    split: Mapping[str, float] | None = None,
    canary: tuple[str, float] | None = None,
    bandit: str | None = None,
    arms: Sequence[str] = (),
    epsilon: float = 0.1,
    shadow: Sequence[str] = (),
    fallback: str | None = None,
    key_header: str | None = None,
    key_field: str | None = None,
    copy: str | None = None,
    timeout_ms: float | None = None,
    max_batch_rows: int | None = None,
    max_wait_us: int | None = None,
    reason: str | None = None,
    expected_revision: int | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> Deployment:
    """Create the deployment ``name``, or replace its policy, and record why.

    Exactly one of ``model`` (one version, e.g. ``churn@champion``), ``split`` (refs to
    weights summing to 1) or ``bandit`` (``epsilon-greedy``, ``ucb1``, ``thompson``)
    with ``arms`` chooses the versions that answer. ``canary=(ref, weight)`` with
    ``model`` makes a two-arm split, the canary at ``weight`` and ``model`` at the
    rest. ``shadow`` refs get a copy of each request (answers logged, never returned);
    ``fallback`` answers when the chosen version fails (by default the first arm's
    ``@previous``). The routing key is read from the ``X-Loopml-Key`` header, or
    ``key_header`` or the input field ``key_field``. The other options are those of
    :class:`~loopml.serve.Policy`; one not given takes its default, not the
    deployment's value before: the policy is set whole.

    Every ref must point at a registered version now. ``expected_revision`` makes it
    a compare-and-set (0: the deployment must not exist yet); ``Conflict`` if it moved.
    Deploying the policy a deployment has already changes and records nothing.
    """
    check_name(name, "deployment name", field="name")
    policy = policy_of(
        model,
        split=split,
        canary=canary,
        bandit=bandit,
        arms=arms,
        epsilon=epsilon,
        shadows=tuple(ref_list(shadow, "shadow")),
        fallback=fallback,
        key=key_source(key_header, key_field),
        copy=copy,
        timeout_ms=timeout_ms,
        max_batch_rows=64 if max_batch_rows is None else max_batch_rows,
        max_wait_us=1000 if max_wait_us is None else max_wait_us,
    )
    store = workspace_in_use(workspace).store
    check_versions(store, policy, model=model, split=split, canary=canary)
    return store.set_deployment(
        name, policy.to_dict(), actor=actor, reason=reason, expected_revision=expected_revision
    )


def deployment(name: str, workspace: Workspace | None = None) -> DeploymentDetail:
    """The deployment ``name``: its record, policy, and where each of its refs points
    now."""
    store = workspace_in_use(workspace).store
    return _detail(store, _record(store, name))


def deployments(workspace: Workspace | None = None) -> list[DeploymentDetail]:
    """Every deployment, by name, as :func:`deployment` gives it."""
    store = workspace_in_use(workspace).store
    return [_detail(store, record) for record in store.deployments()]


def deployment_history(name: str, workspace: Workspace | None = None) -> list[DeploymentChange]:
    """Every change of the deployment ``name`` (also after it was deleted), newest
    first: who, when, the policy before and after, and why."""
    store = workspace_in_use(workspace).store
    check_name(name, "deployment name", field="name")
    changes = store.deployment_history(name)
    if not changes:
        _record(store, name)  # says there is no such deployment
    return changes


def undeploy(
    name: str,
    *,
    reason: str | None = None,
    expected_revision: int | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> None:
    """Remove the deployment ``name``; its history keeps who removed it and why."""
    store = workspace_in_use(workspace).store
    _record(store, name)
    store.delete_deployment(name, actor=actor, reason=reason, expected_revision=expected_revision)


def set_weight(
    name: str,
    ref: str,
    weight: float,
    *,
    reason: str | None = None,
    expected_revision: int | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> Deployment:
    """Give arm ``ref`` of the deployment ``name`` the share ``weight`` (0 to 1) of its
    traffic, the other arms sharing the rest in proportion to their weights: the step a
    canary controller makes. Without ``expected_revision``, a change made by another
    caller between the read and the write is read again and the step made over it."""
    store = workspace_in_use(workspace).store
    for _ in range(SET_WEIGHT_ATTEMPTS):
        record = _record(store, name)
        policy = _stored_policy(record).with_weight(ref, weight)
        expected = record.revision if expected_revision is None else expected_revision
        try:
            return store.set_deployment(
                name, policy.to_dict(), actor=actor, reason=reason, expected_revision=expected
            )
        except Conflict:
            if expected_revision is not None:
                raise
    raise Conflict(
        f"the weight of {ref} in deployment {name!r} was not set: the deployment was "
        f"changed by other callers {SET_WEIGHT_ATTEMPTS} times meanwhile; see "
        f"`loopml deployments history {name}` and set it again if it is still wanted"
    )


def set_arms(
    name: str,
    weights: Mapping[str, float],
    *,
    shadows: Sequence[str] | None = None,
    reason: str | None = None,
    expected_revision: int | None = None,
    actor: str | None = None,
    workspace: Workspace | None = None,
) -> Deployment:
    """Route the deployment ``name`` to the refs of ``weights`` (summing to 1) and, when
    ``shadows`` is given, shadow those refs instead of the ones it shadows now; every
    other part of its policy (routing key, fallback, batching, timeouts) stays. A
    canary whose arm is gone stops being one. The step a loop controller makes when
    a challenger goes out or comes back; ``expected_revision`` makes it a
    compare-and-set, as in :func:`deploy`."""
    store = workspace_in_use(workspace).store
    record = _record(store, name)
    policy = _stored_policy(record)
    split = dict(weights)
    arms = Policy.split(split).arms
    canary = policy.canary if policy.canary in split else None
    changed = dataclasses.replace(
        policy,
        arms=arms,
        canary=canary,
        shadows=policy.shadows if shadows is None else tuple(ref_list(shadows, "shadows")),
    )
    check_versions(store, changed, model=None, split=split, canary=None)
    expected = record.revision if expected_revision is None else expected_revision
    return store.set_deployment(
        name, changed.to_dict(), actor=actor, reason=reason, expected_revision=expected
    )


def _record(store: MetadataStore, name: str) -> Deployment:
    check_name(name, "deployment name", field="name")
    try:
        return store.get_deployment(name)
    except NotFound:
        raise NotFound(
            f"no deployment named {name!r}; `loopml deployments list` lists them, and "
            f"`loopml deploy {name} --model NAME@champion` makes it"
        ) from None


def _stored_policy(record: Deployment) -> Policy:
    try:
        return Policy.from_dict(record.policy)
    except InvalidInput as error:
        raise InvalidInput(
            f"deployment {record.name!r} holds a policy this loopml cannot read: {error}; "
            f"deploy it again (`loopml deploy {record.name} ...`) to replace it",
            field=error.field,
        ) from None


def _detail(store: MetadataStore, record: Deployment) -> DeploymentDetail:
    policy = _stored_policy(record)
    fallback = policy.fallback or default_fallback(store, policy.arms[0].model)
    resolved: dict[str, str | None] = {}
    problems: dict[str, str] = {}
    for ref in (*policy.refs, *([fallback] if fallback else [])):
        resolved[ref], why = where_now(store, ref)
        if why is not None:
            problems[ref] = why
    stats = store.arm_stats(record.name)
    return DeploymentDetail(record, policy, resolved, problems, fallback, stats)


def _stats_json(stats: ArmStats | None) -> dict[str, Any]:
    if stats is None:
        return {"pulls": 0, "rewards": 0, "mean_reward": None}
    mean = stats.reward_sum / stats.rewards if stats.rewards else None
    return {"pulls": stats.pulls, "rewards": stats.rewards, "mean_reward": mean}
