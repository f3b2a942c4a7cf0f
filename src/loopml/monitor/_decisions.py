"""The loop controller's decisions: each a record (kind ``decision``, named after its
loop, numbered by the store: ``rain`` v7 is the seventh decision of loop ``rain``) with
the numbers it was made on, written *before* the controller acts on it. So the records
are the controller's log: a controller killed mid-way reads the last decision and
finishes what it started, and a decision is never made twice.

The actions, in the order a cycle takes them:

- ``retrain``: a trigger fired (its rule and the numbers that fired it);
- ``failed``: the retraining raised (the error), or ``refuse``: the gate said no (its
  reasons and the metrics of both models on the held-out traffic);
- ``deploy``: the retrained model goes out as challenger (the gate's numbers);
- ``watch``: the sequential test looked and did not decide (its statistic);
- ``promote``, ``rollback`` or ``keep``: the test (or a budget) decided; ``keep`` is no
  verdict after the most outcomes the rollout allows, the champion staying.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loopml._formats import check_format
from loopml._kinds import ArtifactKind

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace

FORMAT = 1
ACTIONS = ("retrain", "failed", "refuse", "deploy", "watch", "promote", "rollback", "keep")
ENDS_A_CYCLE = frozenset({"failed", "refuse", "promote", "rollback", "keep"})


@dataclass(frozen=True)
class LoopDecision:
    """One decision of loop ``loop``: ``number`` counts them from 1."""

    loop: str
    number: int
    action: str
    summary: str
    champion: str | None  # the champion's version when it was made (``rain@v1``)
    challenger: str | None  # the challenger's version, once there is one
    evidence: dict[str, Any]
    at: datetime
    id: str
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "loop": self.loop,
            "number": self.number,
            "action": self.action,
            "summary": self.summary,
            "champion": self.champion,
            "challenger": self.challenger,
            "evidence": self.evidence,
            "at": self.at.isoformat(),
            "id": self.id,
            "run_id": self.run_id,
        }


def record_decision(
    ws: Workspace,
    loop: str,
    action: str,
    summary: str,
    *,
    champion: str | None,
    challenger: str | None,
    evidence: dict[str, Any],
    run_id: str | None,
) -> LoopDecision:
    """Store the next decision of ``loop`` (its evidence as a JSON blob)."""
    body = json.dumps(
        {"format": FORMAT, "evidence": evidence}, sort_keys=True, separators=(",", ":")
    )
    blob = ws.artifacts.put_bytes(body.encode())
    artifact = ws.store.create_artifact(
        kind=ArtifactKind.DECISION,
        name=loop,
        digest=blob.digest,
        size=blob.size,
        metadata={
            "format": FORMAT,
            "action": action,
            "summary": summary,
            "champion": champion,
            "challenger": challenger,
        },
        run_id=run_id,
    )
    return LoopDecision(
        loop,
        artifact.version,
        action,
        summary,
        champion,
        challenger,
        evidence,
        artifact.created_at,
        artifact.id,
        run_id,
    )


def loop_decisions(ws: Workspace, loop: str) -> list[LoopDecision]:
    """Every decision of ``loop``, oldest first, each read back and checked."""
    found = ws.store.find_artifacts(kind=ArtifactKind.DECISION, name=loop)
    return [read_decision(ws, artifact) for artifact in found]


def last_decision(ws: Workspace, loop: str) -> LoopDecision | None:
    """The latest decision of ``loop``, or None before its first."""
    from loopml.errors import NotFound

    try:
        artifact = ws.store.latest_artifact(ArtifactKind.DECISION, loop)
    except NotFound:
        return None
    return read_decision(ws, artifact)


def read_decision(ws: Workspace, artifact: Artifact) -> LoopDecision:
    meta = artifact.metadata
    check_format(meta.get("format"), FORMAT, f"decision {artifact.name} v{artifact.version}")
    body = json.loads(ws.artifacts.read_bytes(artifact.digest, what=f"decision {artifact.ref}"))
    check_format(body.get("format"), FORMAT, f"decision {artifact.ref}")
    runs = [e.run_id for e in ws.store.events(artifact_id=artifact.id)]
    return LoopDecision(
        artifact.name,
        artifact.version,
        str(meta["action"]),
        str(meta["summary"]),
        meta.get("champion"),
        meta.get("challenger"),
        dict(body["evidence"]),
        artifact.created_at,
        artifact.id,
        runs[0] if runs else None,
    )
