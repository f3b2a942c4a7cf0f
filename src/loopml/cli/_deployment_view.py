"""How `loopml deployments show` prints a deployment (see
:func:`loopml.serve.deployment`) and `history` its changes.

A change is told by what it changed, read from the stored policies as they are (an
old change may hold a policy this loopml would refuse now):

>>> changed({"arms": [{"model": "a@v1", "weight": 1.0}], "timeout_ms": None},
...         {"arms": [{"model": "a@v1", "weight": 0.9}, {"model": "a@v2", "weight": 0.1}],
...          "timeout_ms": 50.0})
'arms a@v1=1 -> a@v1=0.9, a@v2=0.1; timeout_ms none -> 50'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.cli._output import Column, console, print_table

if TYPE_CHECKING:
    from loopml.serve import DeploymentDetail
    from loopml.store import DeploymentChange


def print_deployment(detail: DeploymentDetail) -> None:
    from rich.table import Table

    out = console()
    policy, record = detail.policy, detail.record
    out.print(
        f"deployment {detail.name}  revision {detail.revision}  updated "
        f"{record.updated_at.strftime('%Y-%m-%d %H:%M:%S')} by {record.actor}",
        markup=False,
        highlight=False,
    )
    head = Table.grid(padding=(0, 2))
    head.add_column(no_wrap=True)
    head.add_column(overflow="fold")
    routing = policy.routing
    if routing == "epsilon-greedy":
        routing += f" (epsilon {policy.epsilon:g})"
    head.add_row("routing", routing)
    head.add_row("key", _key(detail))
    head.add_row("shadows", ", ".join(_now(detail, ref) for ref in policy.shadows) or "-")
    head.add_row("fallback", _fallback(detail))
    head.add_row("copy", policy.copy or "each version's default")
    timeout = "none" if policy.timeout_ms is None else f"{policy.timeout_ms:g} ms"
    head.add_row("timeout", timeout)
    batching = (
        "off"
        if policy.max_batch_rows == 1
        else f"up to {policy.max_batch_rows} rows, waiting at most {policy.max_wait_us} µs"
    )
    head.add_row("batching", batching)
    out.print(head, markup=False, highlight=False)
    fixed = policy.routing == "fixed"
    columns = [
        Column("arm", keep=True),
        Column("weight" if fixed else "weight (unused)", justify="right"),
        Column("version now", keep=True),
        Column("role"),
    ]
    if not fixed:  # what a bandit learnt; fixed weights learn nothing
        columns += [
            Column("pulls", justify="right", drop=2),
            Column("rewards", justify="right", drop=1),
            Column("mean reward", justify="right"),
        ]
    rows: list[tuple[str, ...]] = []
    for arm in policy.arms:
        stats = detail.arm_stats(arm.model)
        mean = (
            "-" if stats is None or not stats.rewards else f"{stats.reward_sum / stats.rewards:.3f}"
        )
        row = (
            arm.model,
            f"{arm.weight:g}",
            detail.resolved.get(arm.model) or "-",
            "canary" if arm.model == policy.canary else "",
        )
        learnt = (
            "0" if stats is None else str(stats.pulls),
            "0" if stats is None else str(stats.rewards),
            mean,
        )
        rows.append(row if fixed else row + learnt)
    print_table(columns, rows)
    for ref, why in detail.problems.items():
        out.print(f"warning: {ref} points nowhere now: {why}", markup=False, highlight=False)


def print_history(changes: list[DeploymentChange]) -> None:
    columns = [
        Column("when", drop=2),
        Column("revision", justify="right", drop=3),
        Column("action", keep=True),
        Column("change"),
        Column("by", drop=1),
        Column("reason"),
    ]
    rows = [
        (
            change.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(change.revision),
            change.action,
            _told(change),
            change.actor,
            change.reason or "",
        )
        for change in changes
    ]
    print_table(columns, rows)


def change_json(change: DeploymentChange) -> dict[str, Any]:
    return {
        "name": change.name,
        "revision": change.revision,
        "action": change.action,
        "actor": change.actor,
        "reason": change.reason,
        "at": change.created_at.isoformat(),
        "from": change.previous_policy,
        "to": change.policy,
    }


def changed(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What differs between two stored policies, key by key."""
    parts = []
    for key in sorted({*before, *after}, key=_order):
        old, new = before.get(key), after.get(key)
        if old != new:
            parts.append(f"{key} {_value(key, old)} -> {_value(key, new)}")
    return "; ".join(parts) or "nothing"


def _told(change: DeploymentChange) -> str:
    if change.policy is None:
        return "deleted"
    if change.previous_policy is None:
        return _value("arms", change.policy.get("arms"))
    return changed(change.previous_policy, change.policy)


def _value(key: str, value: Any) -> str:
    if key == "arms" and isinstance(value, list):
        shown = []
        for arm in value:
            if isinstance(arm, dict):
                weight = arm.get("weight")
                text = f"{weight:g}" if isinstance(weight, int | float) else repr(weight)
                shown.append(f"{arm.get('model')}={text}")
        return ", ".join(shown)
    if key == "key" and isinstance(value, dict):
        if value.get("field") is not None:
            return f"field {value['field']!r}"
        return "none" if value.get("header") is None else f"header {value['header']}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _order(key: str) -> tuple[int, str]:
    return (0 if key == "arms" else 1, key)


def _key(detail: DeploymentDetail) -> str:
    key = detail.policy.key
    if key.field is not None:
        return f"input field {key.field!r} (sticky)"
    if key.header is not None:
        return f"header {key.header} (sticky)"
    return "none: each request routed on its own"


def _now(detail: DeploymentDetail, ref: str) -> str:
    now = detail.resolved.get(ref)
    return ref if now == ref else f"{ref} ({now or 'nowhere now'})"


def _fallback(detail: DeploymentDetail) -> str:
    if detail.fallback is None:
        return "none (the first arm's @previous, once it is set)"
    default = ", the default" if detail.policy.fallback is None else ""
    return f"{_now(detail, detail.fallback)}{default}"
