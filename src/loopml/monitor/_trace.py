"""``loopml trace PREDICTION_ID``: the whole chain behind one prediction — the
deployment and the policy that routed it, the model version that answered, the gate's
verdict on it, the loop decisions that sent it out or promoted it, the run that trained
it (its parameters, code and environment) back through the pipeline to the dataset
versions and the log segments they were made of, and the feedback on the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loopml.errors import NotFound

if TYPE_CHECKING:
    from loopml.monitor._decisions import LoopDecision
    from loopml.registry import Lineage
    from loopml.store import DeploymentChange
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class Trace:
    """What :func:`trace` found; ``to_dict`` is what ``loopml trace --json`` prints."""

    prediction: dict[str, Any]
    policy: DeploymentChange | None  # the deployment's change in force when it answered
    gate: dict[str, Any] | None
    decisions: tuple[LoopDecision, ...]
    lineage: Lineage
    feedback: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "prediction": self.prediction,
            "policy": None
            if policy is None
            else {"revision": policy.revision, "reason": policy.reason, "policy": policy.policy},
            "gate": self.gate,
            "decisions": [d.to_dict() for d in self.decisions],
            "lineage": self.lineage.to_dict(),
            "feedback": list(self.feedback),
        }

    def render(self) -> str:
        """The chain as indented text, from the prediction back to the data."""
        p = self.prediction
        when = datetime.fromtimestamp(p["time_us"] / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
        role = " (shadow)" if p["shadow"] else (" (fallback)" if p["fallback"] else "")
        lines = [f"prediction {p['prediction_id']} at {when} UTC, deployment {p['deployment']}"]
        routed = (
            ""
            if p["arm"] is None
            else f", arm {p['arm']}"
            + ("" if p["probability"] is None else f" with probability {p['probability']:.4g}")
        )
        failed = "" if p.get("error") is None else f"; it failed: {p['error']}"
        lines.append(f"  {'asked' if failed else 'answered'} by {p['ref']}{role}{routed}{failed}")
        if self.policy is not None:
            arms = (
                ", ".join(f"{arm['model']} {arm['weight']:g}" for arm in self.policy.policy["arms"])
                if self.policy.policy
                else "deleted"
            )
            lines.append(
                f"  routed by revision {self.policy.revision} of the deployment ({arms})"
                + (f": {self.policy.reason}" if self.policy.reason else "")
            )
        if self.gate is not None:
            verdict = "passed" if self.gate.get("passed") else "failed"
            lines.append(f"  gate {self.gate['ref']}: {verdict}")
        for decision in self.decisions:
            lines.append(f"  loop {decision.loop} decision {decision.number}: {decision.summary}")
        lines += ["  " + line for line in self.lineage.render().splitlines()]
        for told in self.feedback:
            at = datetime.fromtimestamp(told["time_us"] / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
            what = (
                f"label {told['label']}"
                if told["label"] is not None
                else f"reward {told['reward']}"
            )
            row = "" if told["row"] is None else f" (row {told['row']})"
            on = f" on {p['request_id']}, the answer it shadowed" if p["shadow"] else ""
            lines.append(f"  feedback at {at} UTC{on}: {what}{row}")
        if not self.feedback:
            lines.append("  no feedback yet")
        return "\n".join(lines)


def trace(prediction_id: str, *, workspace: Workspace | None = None) -> Trace:
    """The chain behind the logged prediction ``prediction_id`` (see the module)."""
    import polars as pl

    from loopml._context import workspace_in_use
    from loopml.monitor._decisions import loop_decisions
    from loopml.monitor._definitions import loops
    from loopml.registry import get, lineage
    from loopml.registry._detail import gate_detail
    from loopml.serve import feedback_records, find_prediction

    ws = workspace_in_use(workspace)
    found = find_prediction(prediction_id, ws)
    if found is None:
        from loopml._ids import made_us

        odd = made_us(prediction_id) is None
        raise NotFound(
            f"no prediction {prediction_id!r:.60} is in the prediction log"
            + (" (nor could it be: a server's ids are 32 hex digits)" if odd else "")
            + "; give the id a server answered with (its x-loopml-prediction-id header)"
        )
    prediction = {
        "prediction_id": found.prediction_id,
        "request_id": found.request_id,
        "time_us": found.time_us,
        "deployment": found.deployment,
        "ref": found.ref,
        "arm": found.arm,
        "probability": found.probability,
        "shadow": found.shadow,
        "fallback": found.fallback,
        "error": found.error,
        "latency_us": found.latency_us,
    }
    version = get(found.ref, workspace=ws)
    decisions = tuple(
        decision
        for spec, _ in loops(workspace=ws)
        if spec.deployment == found.deployment
        for decision in loop_decisions(ws, spec.name)
        if decision.challenger == version.ref and decision.action != "watch"
    )
    told = feedback_records(found.deployment, workspace=ws)
    # a shadow's answer is judged by the feedback on the prediction it shadowed (its
    # request id), as the monitor labels it
    about = found.request_id if found.shadow and found.request_id else prediction_id
    mine = told.filter(pl.col("prediction_id") == about).sort("time_us")
    feedback = tuple(
        {
            "time_us": row["time_us"],
            "label": row["label"],
            "reward": row["reward"],
            "row": row["row"],
        }
        for row in mine.iter_rows(named=True)
    )
    return Trace(
        prediction,
        _policy_then(ws, found.deployment, found.time_us),
        gate_detail(ws, version),
        decisions,
        lineage(version.ref, workspace=ws),
        feedback,
    )


def _policy_then(ws: Workspace, deployment: str, time_us: int) -> DeploymentChange | None:
    """The deployment's last change made before ``time_us``: the policy that routed it."""
    from loopml._time import to_us

    for change in ws.store.deployment_history(deployment):  # newest first
        if to_us(change.created_at) <= time_us:
            return change
    return None
