"""Whether a model version passed the gate: the latest gate decision made on it — on
the evaluation it was registered with, or with it as the candidate — and what a
promotion must be given when there is none or it failed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput, PromotionRefused

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class GateVerdict:
    """The latest gate decision on a version: its record, whether it passed, and the
    checks that failed."""

    artifact: Artifact
    passed: bool
    failed: tuple[str, ...]
    champion: str | None = None  # the champion it weighed the candidate against, if any

    def describe(self) -> str:
        from loopml.refs import describe_record

        return describe_record(self.artifact)


def latest_gate(
    ws: Workspace,
    *,
    evaluation_id: str | None = None,
    candidate: str | None = None,
    model: str | None = None,
) -> GateVerdict | None:
    """The latest gate decision made on the evaluation ``evaluation_id`` or on the model
    version ``candidate`` (``churn@v3``), if any; ``model`` is the name of the model the
    decision is for.

    Gate decisions are found by the names the gate gives them (see
    :func:`loopml.refs.record_name`), not by reading every one: ``churn.v3.gate`` for a
    candidate version, ``NAME.gate`` (or ``gate``) for an evaluation of a model not yet
    registered, named after the evaluation's model or ``model``, and the names gates
    had before (``churn``, ``model``)."""
    if evaluation_id is None and candidate is None:
        return None
    decided = [
        gate
        for name in sorted(_gate_names(ws, evaluation_id, candidate, model))
        for gate in ws.store.find_artifacts(kind=ArtifactKind.GATE, name=name)
        if (evaluation_id is not None and gate.metadata.get("evaluation_id") == evaluation_id)
        or (candidate is not None and gate.metadata.get("candidate") == candidate)
    ]
    if not decided:
        return None
    latest = max(decided, key=lambda gate: gate.created_at)
    decision = json.loads(ws.artifacts.read_bytes(latest.digest))
    failed = tuple(c["name"] for c in decision.get("checks", ()) if not c.get("passed"))
    champion = decision.get("champion")
    return GateVerdict(
        latest,
        bool(decision.get("passed")) and not failed,
        failed,
        champion if isinstance(champion, str) else None,
    )


def _gate_names(
    ws: Workspace, evaluation_id: str | None, candidate: str | None, model: str | None
) -> set[str]:
    """The names a gate decision on ``candidate`` or on the evaluation may be kept
    under."""
    from loopml.errors import NotFound
    from loopml.refs import record_owner

    names = {"gate", "model"}  # made for a model of no name, now and before
    models = {model} if model is not None else set()
    refs = {candidate} if candidate is not None else set()
    if evaluation_id is not None:
        try:
            evaluation = ws.store.get_artifact(evaluation_id)
        except NotFound:
            evaluation = None
        if evaluation is not None:
            evaluated = evaluation.metadata.get("model")
            if isinstance(evaluated, str):
                refs.add(evaluated)
            owner = record_owner(evaluation)
            if owner is not None:
                models.add(owner[0])
                if owner[1] is not None:
                    refs.add(f"{owner[0]}@v{owner[1]}")
    for ref in refs:
        name, _, selector = ref.partition("@")
        models.add(name)
        names.add(f"{name}.{selector}.gate")
    for name in models:
        names.update({f"{name}.gate", name})
    return {name for name in names if _is_name(name)}


def _is_name(text: str) -> bool:
    from loopml.store.values import check_name

    try:
        check_name(text)
    except InvalidInput:
        return False
    return True


def forced_reason(
    ref: str,
    verdict: GateVerdict | None,
    looked_at: str,
    *,
    force: bool,
    reason: str | None,
    replaced: str | None = None,
) -> str | None:
    """The reason to record for promoting ``ref`` over the champion ``replaced`` (a
    stale gate's words, from :func:`stale_gate`; None when its gate is about the
    champion now): the one given when its gate passed; with ``force``, the given one
    after what was forced. Without ``force``, a version whose gate failed, that has
    none, or whose gate weighed it against another champion than the one it would
    replace is refused, saying what failed and how to go on. ``looked_at`` says where
    a gate decision was looked for."""
    if verdict is not None and verdict.passed and replaced is None:
        return reason
    if verdict is not None and verdict.passed:
        what = f"its gate decision ({verdict.describe()}) {replaced}"
        forced = "forced past a gate against another champion"
        if not force:
            raise PromotionRefused(
                f"{ref} was not made the champion: {what}; gate it against the champion "
                "now (evaluate it with against='NAME@champion', then gate), or promote it "
                "anyway with --force --reason TEXT (in Python: force=True, reason=TEXT), "
                "which the alias history keeps"
            )
    elif verdict is None:
        what = f"it has no gate decision ({looked_at})"
        forced = "forced without a gate decision"
    else:
        checks = ", ".join(verdict.failed) or "its checks"
        what = f"its gate decision FAILED on {checks} ({verdict.describe()})"
        forced = f"forced past a failed gate ({checks})"
    if not force:
        raise PromotionRefused(
            f"{ref} was not made the champion: {what}; gate it and register it with that "
            "evaluation, or promote it anyway with --force --reason TEXT (in Python: "
            "force=True, reason=TEXT), which the alias history keeps"
        )
    if reason is None or not reason.strip():
        raise InvalidInput(
            f"--force needs --reason to promote {ref}: {what}; say why it goes out anyway "
            "(in Python: reason=TEXT), and the alias history keeps it",
            field="reason",
        )
    return f"{forced}: {reason.strip()}"


def stale_gate(ws: Workspace, verdict: GateVerdict | None, champion: Artifact | None) -> str | None:
    """Why ``verdict`` (a passed gate) weighed its candidate against another version than
    ``champion``, the one it would replace (someone promoted another version since),
    or None. A gate made when the model had no champion, or whose champion is named in
    a way this cannot read, is taken as it was: it compared the candidate with no
    champion, and is not contradicted by one (registering versions and promoting them
    in turn, each gated on its own, works as before)."""
    from loopml.refs import named_digests

    if verdict is None or not verdict.passed or champion is None or verdict.champion is None:
        return None
    weighed = named_digests(ws.store, verdict.champion)
    if not weighed or champion.digest in weighed:
        return None
    return f"weighed it against {verdict.champion}, but the champion is now {champion.ref}"


def version_gate(ws: Workspace, artifact: Artifact) -> tuple[GateVerdict | None, str]:
    """The latest gate decision on a registered version, and where it was looked for."""
    from loopml.registry._versions import EVALUATION_KEY

    evaluation_id = artifact.metadata.get(EVALUATION_KEY)
    if not isinstance(evaluation_id, str):
        evaluation_id = None
    verdict = latest_gate(
        ws, evaluation_id=evaluation_id, candidate=artifact.ref, model=artifact.name
    )
    return verdict, _looked_at(ws, evaluation_id, artifact.ref)


def evaluation_gate(
    ws: Workspace, evaluation_id: str | None, model: str | None = None
) -> tuple[GateVerdict | None, str]:
    """The latest gate decision on an evaluation a version of ``model`` is about to be
    registered with, and where it was looked for."""
    verdict = latest_gate(ws, evaluation_id=evaluation_id, model=model)
    return verdict, _looked_at(ws, evaluation_id, None)


def _looked_at(ws: Workspace, evaluation_id: str | None, ref: str | None) -> str:
    from loopml.errors import NotFound
    from loopml.refs import describe_record

    if evaluation_id is None:
        if ref is None:
            return "no evaluation was given (evaluation=) to find its gate decision by"
        return f"it was registered without an evaluation, and no gate was run on {ref}"
    try:
        evaluation = describe_record(ws.store.get_artifact(evaluation_id))
    except NotFound:
        evaluation = f"evaluation {evaluation_id}"
    return f"no gate was run on its {evaluation}" + ("" if ref is None else f" or on {ref}")
