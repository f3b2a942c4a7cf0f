"""The loop controller: one pass of a loop reads where its records say it stands and
takes the next step.

- No challenger out: judge the triggers; when one fires, record ``retrain`` and retrain
  (below). Nothing fired: nothing is recorded.
- ``retrain`` last (a controller may have been killed after it): add the labelled
  traffic, but its most recent ``holdout`` share, to the dataset as its next version;
  run the loop's pipeline on it; evaluate the new model and the champion on the held-back
  traffic (the same rows: a replay of real requests, before the new model sees any) and
  let the gate decide; record ``refuse`` or ``deploy``, then route the challenger.
- ``deploy`` or ``watch`` last: check the challenger's error rate and latency, fold its
  and the champion's outcomes labelled since into the sequential test and look; record
  ``watch`` (no verdict, new outcomes), or ``promote``, ``rollback`` or ``keep``, then
  act.

Every decision is recorded before it is acted on, and every act checks first whether it
was done already (an alias already moved, a policy already set): a controller killed
between the record and the act finishes the act on its next pass, and never makes the
decision again.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, NotFound, OverlapWarning
from loopml.monitor._decisions import (
    LoopDecision,
    last_decision,
    loop_decisions,
    record_decision,
)
from loopml.monitor._lease import ControllerLease
from loopml.monitor._triggers import Deployed, Firing

if TYPE_CHECKING:
    import polars as pl

    from loopml.evaluation import PerformanceEstimator
    from loopml.monitor._loop import Loop
    from loopml.registry import ModelVersion
    from loopml.store import Artifact
    from loopml.workspace import Workspace

MIN_HELD_ROWS = 30  # labelled rows the gate needs to compare two models on


@dataclass(frozen=True)
class LoopPass:
    """What one pass of loop ``loop`` did: the decisions it recorded (none when nothing
    was due) and a line saying where the loop stands."""

    loop: str
    state: str  # "idle", "retraining", "watching"
    note: str
    decisions: tuple[LoopDecision, ...] = ()
    triggers: tuple[Firing, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "loop": self.loop,
            "state": self.state,
            "note": self.note,
            "decisions": [d.to_dict() for d in self.decisions],
            "triggers": [t.to_dict() for t in self.triggers],
        }


def run_loop(
    name: str,
    *,
    workspace: Workspace | None = None,
    now: datetime | None = None,
    lease: ControllerLease | None = None,
) -> LoopPass:
    """One pass of the loop ``name``, as its latest definition says (see the module),
    under ``lease`` (the workspace's controller lease, held by the caller), or under the
    lease taken for this pass alone; Conflict when another controller holds it."""
    from loopml._context import workspace_in_use
    from loopml.monitor._definitions import loop_definition

    ws = workspace_in_use(workspace)
    spec, definition = loop_definition(name, workspace=ws)
    moment = now or datetime.now(UTC)
    if lease is not None:
        return _Pass(ws, spec, definition, moment, lease).run()
    own = ControllerLease(ws)
    if not own.acquire():
        raise own.refusal()
    try:
        with own.kept():
            return _Pass(ws, spec, definition, moment, own).run()
    finally:
        own.release()


@dataclass
class _Pass:
    ws: Workspace
    spec: Loop
    definition: Artifact
    now: datetime
    lease: ControllerLease
    made: list[LoopDecision] = field(default_factory=list)

    def run(self) -> LoopPass:
        last = last_decision(self.ws, self.spec.name)
        if last is not None and last.action == "retrain":
            return self._retrain(last)
        if last is not None and last.action in ("deploy", "watch"):
            return self._watch(last)
        if last is not None:
            self._finish(last)
        return self._judge_triggers()

    # -- deciding -----------------------------------------------------------------

    def _record(
        self, action: str, summary: str, evidence: dict[str, Any], challenger: str | None
    ) -> LoopDecision:
        made = record_decision(
            self.ws,
            self.spec.name,
            action,
            summary,
            champion=self._champion().ref,
            challenger=challenger,
            evidence={
                "definition": self.definition.ref,
                "lease_token": self.lease.renew(),
                **evidence,
            },
            run_id=None,
        )
        self.made.append(made)
        if "_history" in self.__dict__:
            self._history.append(made)
        return made

    @functools.cached_property
    def _labelled(self) -> pl.DataFrame:
        """The deployment's predicted rows joined with their feedback, read once a pass
        (by the triggers, then by a retraining)."""
        from loopml.monitor._join import labelled

        return labelled(self.spec.deployment, workspace=self.ws).rows

    @functools.cached_property
    def _history(self) -> list[LoopDecision]:
        """The loop's decisions, oldest first, read once a pass (``_record`` adds)."""
        return loop_decisions(self.ws, self.spec.name)

    def _done(self, state: str, note: str, triggers: tuple[Firing, ...] = ()) -> LoopPass:
        return LoopPass(self.spec.name, state, note, tuple(self.made), triggers)

    def _champion(self) -> ModelVersion:
        from loopml import registry

        try:
            return registry.get(f"{self.spec.model}@champion", workspace=self.ws)
        except NotFound:
            raise InvalidInput(
                f"loop {self.spec.name!r}: model {self.spec.model!r} has no champion; "
                f"promote a version first (`loopml models promote {self.spec.model}@vN`)",
                field="model",
            ) from None

    # -- triggers -----------------------------------------------------------------

    def _estimator(self, ref: str) -> PerformanceEstimator | None:
        """The champion's performance estimator, when decay may be judged on estimates."""
        if not self.spec.triggers.decay.estimated:
            return None
        from loopml.monitor._estimated import version_estimators

        return version_estimators([ref], self.ws).get(ref)

    def _judge_triggers(self) -> LoopPass:
        from loopml.monitor._triggers import (
            judge_decay,
            judge_new_labels,
            judge_schedule,
            last_window,
        )

        spec, champion = self.spec, self._champion()
        trained_at = self._last_training(champion)
        since_us = _us(trained_at)
        rows = self._labelled
        found: list[Firing] = []
        if spec.triggers.every is not None:
            found.append(judge_schedule(spec.triggers.every, trained_at, self.now))
        if spec.triggers.new_labels is not None:
            found.append(judge_new_labels(spec.triggers.new_labels, rows, since_us))
        if spec.triggers.new_data:
            found.append(self._judge_new_data(trained_at))
        if spec.triggers.decay.active:
            import polars as pl

            mine = rows.filter(~pl.col("shadow") & (pl.col("ref") == champion.ref))
            mine = mine.filter(pl.col("time_us") >= since_us)
            window, bounds = last_window(mine, spec.window, _us(self.now))
            baseline, skew = self._naive()
            found += judge_decay(
                spec.triggers.decay,
                window,
                task=spec.task,
                baseline=baseline,
                deployed=_deployed(self.ws, champion, spec.task),
                bounds=bounds,
                skew=skew,
                estimator=self._estimator(champion.ref),
                since_us=since_us,
            )
        if spec.triggers.drift.active:
            found.append(self._judge_drift(champion, trained_at))
        fired = [f for f in found if f.fired]
        if not fired:
            shown = "; ".join(_firing_line(f) for f in found) or "no triggers defined"
            return self._done("idle", f"no trigger fired ({shown})", tuple(found))
        summary = "retrain: " + "; ".join(_firing_line(f) for f in fired)
        evidence = {"triggers": [f.to_dict() for f in found]}
        retrain = self._record("retrain", summary, evidence, None)
        return self._retrain(retrain, tuple(found))

    def _judge_drift(self, champion: ModelVersion, trained_at: datetime) -> Firing:
        from loopml.monitor._drift import drift_windows
        from loopml.monitor._triggers import judge_drift

        drift = self.spec.triggers.drift
        windows = drift_windows(
            self.spec.deployment, every=drift.every, since=trained_at, workspace=self.ws
        )
        return judge_drift(drift, windows.table, champion.ref)

    def _last_training(self, champion: ModelVersion) -> datetime:
        """When the loop last retrained (its last ``retrain`` decision), else when the
        champion was registered."""

        retrains = [d for d in self._history if d.action == "retrain"]
        return retrains[-1].at if retrains else champion.artifact.created_at

    def _judge_new_data(self, trained_at: datetime) -> Firing:
        base = self._base
        newer = base is not None and base.created_at > trained_at
        ref = None if base is None else base.ref
        return Firing("new_data", newer, {"dataset": ref, "since": trained_at.isoformat()})

    @functools.cached_property
    def _base(self) -> Artifact | None:
        """The latest version of the loop's dataset that the loop did not make (one made
        by a run of this loop's, which its lineage shows)."""
        from loopml._kinds import ArtifactKind

        versions = self.ws.store.find_artifacts(kind=ArtifactKind.DATASET, name=self.spec.data)
        for version in reversed(versions):
            if not self._made_by_loop(version):
                return version
        return None

    def _made_by_loop(self, artifact: Artifact) -> bool:
        """Whether the loop made this dataset version: its description says so (written
        with the version) or its lineage does (an output of the loop's run, written just
        after: a controller killed in between leaves only the description)."""
        said = str(artifact.metadata.get("description") or "")
        return said.startswith(self._made_note()) or self._loop_output(artifact)

    def _made_note(self) -> str:
        return f"loop {self.spec.name}: "

    def _loop_output(self, artifact: Artifact) -> bool:
        from loopml.store import Direction

        for event in self.ws.store.events(artifact_id=artifact.id):
            if event.direction == Direction.OUTPUT:
                run = self.ws.store.get_run(event.run_id)
                if run.kind == "loop" and run.name == f"loop {self.spec.name}":
                    return True
        return False

    def _naive(self) -> tuple[Any, float | None]:
        """What the naive baseline predicts (the training labels' majority class, or
        their mean), and for a regressor the skewness of those labels."""
        import polars as pl

        base = self._base
        if base is None:
            return None, None
        from loopml.data import get

        labels = get(base.ref, workspace=self.ws).to_polars()[self.spec.label]
        if self.spec.task == "classification":
            return labels.mode().sort().first(), None
        values = labels.cast(pl.Float64).drop_nulls()
        skew = values.skew()
        return values.mean(), None if skew is None or math.isnan(skew) else float(skew)

    # -- retraining ---------------------------------------------------------------

    def _retrain(self, retrain: LoopDecision, triggers: tuple[Firing, ...] = ()) -> LoopPass:
        from loopml.errors import LoopmlError

        try:
            return self._train_and_gate(retrain, triggers)
        except LoopmlError as error:
            summary = f"failed: the retraining stopped: {error}"
            evidence = {"error": str(error), "type": type(error).__name__}
            self._record("failed", summary[:500], evidence, None)
            return self._done("idle", summary, triggers)

    def _train_and_gate(self, retrain: LoopDecision, triggers: tuple[Firing, ...]) -> LoopPass:
        import polars as pl

        from loopml import registry
        from loopml.data import add, get
        from loopml.evaluation import evaluate, gate
        from loopml.monitor._harvest import as_training_rows, labelled_traffic
        from loopml.tracking import start_run

        spec, champion = self.spec, self._champion()
        base = self._base
        if base is None:
            raise NotFound(f"loop {spec.name!r}: dataset {spec.data!r} has no version to train on")
        base_rows = get(base.ref, workspace=self.ws).to_polars()
        traffic = labelled_traffic(self.ws, spec.deployment, spec.label, self._labelled)
        held_count = math.ceil(spec.holdout * traffic.height)
        if held_count < MIN_HELD_ROWS:
            raise InvalidInput(
                f"loop {spec.name!r}: {traffic.height} labelled rows of traffic hold back "
                f"{held_count} to gate on, fewer than {MIN_HELD_ROWS}; wait for more labels "
                "or raise holdout"
            )
        if traffic.height - held_count < 1:
            raise InvalidInput(
                f"loop {spec.name!r}: all {traffic.height} labelled rows of traffic are "
                "held back to gate on: there is nothing new to train on; wait for more labels"
            )
        fresh = as_training_rows(traffic.head(traffic.height - held_count), base_rows)
        held = as_training_rows(traffic.tail(held_count), base_rows)
        rows = pl.concat([base_rows, fresh], how="vertical")
        with start_run(f"loop {spec.name}", kind="loop", workspace=self.ws) as run:
            version = add(
                rows,
                name=spec.data,
                label=spec.label,
                description=f"{self._made_note()}{base.ref} and {fresh.height} labelled rows "
                f"of deployment {spec.deployment}",
                workspace=self.ws,
            )
            self._record_reads(run.id, base, version.artifact)
            learnt: dict[str, Any] = {}
            if spec.training == "update":
                model, learnt = self._update(run.id, champion, traffic, fresh, base_rows)
                if learnt["forgetting"] > spec.max_forgetting:
                    summary = (
                        f"refuse: updated on {learnt['batch_rows']} new rows, the model forgot "
                        f"{learnt['forgetting']:.3g} of its {learnt['metric']} on the data it "
                        f"knew, more than the {spec.max_forgetting:g} allowed"
                    )
                    forgot = {"retrain": retrain.number, "run_id": run.id, **learnt}
                    self._record("refuse", summary, forgot, None)
                    return self._done("idle", summary, triggers)
            else:
                model = self._run_pipeline(version.ref)
            features = held.drop(spec.label)
            with warnings.catch_warnings():
                # a request sent again is no leak (the rows are later): the overlap is
                # kept in each evaluation's record, not printed by a process no one reads
                warnings.simplefilter("ignore", OverlapWarning)
                on_held = functools.partial(
                    evaluate,
                    data=held,
                    label=spec.label,
                    task=spec.task,
                    train=rows,
                    allow_overlap=True,
                    name=spec.model,
                    workspace=self.ws,
                )
                candidate = on_held(model, against=champion.ref)
                reigning = on_held(champion.ref)
            verdict = gate(
                candidate,
                spec.gate or None,
                champion=reigning,
                name=spec.model,
                workspace=self.ws,
                stop=False,
            )
            evidence: dict[str, Any] = {
                "retrain": retrain.number,
                "learnt_until_us": int(traffic.head(fresh.height)["labelled_us"].max()),  # type: ignore[arg-type]
                "dataset": version.ref,
                "base": base.ref,
                "labelled_rows": fresh.height,
                "held_rows": held.height,
                "run_id": run.id,
                "primary": candidate.primary,
                "candidate": candidate.metrics.get(candidate.primary),
                "champion": reigning.metrics.get(candidate.primary),
                "gate": verdict.to_dict(),
                **learnt,
            }
            if not verdict.passed:
                summary = "refuse: the gate said no: " + "; ".join(verdict.reasons)
                self._record("refuse", summary[:500], evidence, None)
                return self._done("idle", summary, triggers)
            registered = registry.register(
                model,
                spec.model,
                evaluation=candidate,
                signature_from=features,
                reason=f"retrained by loop {spec.name} (decision {retrain.number})",
                workspace=self.ws,
            )
        primary = candidate.primary
        summary = (
            f"deploy {registered.ref} as challenger ({spec.rollout.mode}): {primary} "
            f"{_shown(evidence['candidate'])} against the champion's "
            f"{_shown(evidence['champion'])} on {held.height} held-back labelled rows"
        )
        deployed = self._record("deploy", summary, evidence, registered.ref)
        self._route_challenger(deployed)
        return self._done("watching", summary, triggers)

    def _learnt_until(self, champion: ModelVersion) -> int:
        """Up to when (labelling time) the champion learnt the labelled traffic: what
        the retraining that made it was given, or, for a champion the loop did not
        make, its registration."""

        for decision in reversed(self._history):
            if decision.action == "deploy" and decision.challenger == champion.ref:
                return int(decision.evidence["learnt_until_us"])
        return _us(champion.artifact.created_at)

    def _update(
        self,
        run_id: str,
        champion: ModelVersion,
        traffic: pl.DataFrame,
        fresh: pl.DataFrame,
        base_rows: pl.DataFrame,
    ) -> tuple[Any, dict[str, Any]]:
        """Continuous mode: the champion learns the rows labelled since the last
        training (``partial_fit``), scored before and after on the last ``holdout``
        share of the dataset it was trained on, so that what it forgot shows."""
        from loopml.models import load_model
        from loopml.store import Direction
        from loopml.training import update

        spec = self.spec
        since = self._learnt_until(champion)
        labelled_at = traffic.head(fresh.height)["labelled_us"]
        batch = fresh.filter(labelled_at > since)
        if batch.is_empty():
            raise InvalidInput(
                f"loop {spec.name!r}: the champion has learnt every labelled row but the "
                "held-back ones; there is nothing new to update it on"
            )
        old = base_rows.tail(max(1, math.ceil(spec.holdout * base_rows.height)))
        self.ws.store.add_event(run_id, champion.artifact.id, Direction.INPUT, "previous")
        learnt = update(
            load_model(champion.ref, workspace=self.ws),
            [(batch.drop(spec.label).to_pandas(), batch[spec.label].to_numpy())]
            * spec.update_passes,
            old_data=(old.drop(spec.label).to_pandas(), old[spec.label].to_numpy()),
        )
        evidence = {
            "training": "update",
            "batch_rows": batch.height,
            "metric": learnt.metric,
            "old_data": learnt.old_data,
            "forgetting": learnt.forgetting,
        }
        return learnt.model, evidence

    def _record_reads(self, run_id: str, base: Artifact, made: Artifact) -> None:
        """The retraining run in the lineage graph: the dataset version it made (which
        tells the loop's versions from the ones added by hand), the version it added the
        traffic to, and the prediction and feedback log segments it read."""
        from loopml.serve._layouts import FEEDBACK, PREDICTIONS
        from loopml.serve._segments import find_segments
        from loopml.store import Direction

        store = self.ws.store
        if not self._loop_output(made):
            store.add_event(run_id, made.id, Direction.OUTPUT, "dataset")
        store.add_event(run_id, base.id, Direction.INPUT, "base")
        for layout, role in ((PREDICTIONS, "predictions"), (FEEDBACK, "feedback")):
            for segment in find_segments(self.ws, layout, self.spec.deployment):
                store.add_event(run_id, segment.id, Direction.INPUT, role)

    def _run_pipeline(self, data: str) -> Artifact:
        """Run the loop's pipeline on dataset version ``data``; the model it returned."""
        from pathlib import Path

        from loopml.pipeline import load_pipeline
        from loopml.pipeline._graph import Output

        assert self.spec.pipeline is not None  # the definition holds one for this mode
        file, _, name = self.spec.pipeline.rpartition(":")
        root = self.ws.root if self.ws.root is not None else Path.cwd()
        pipeline = load_pipeline(f"{(root / file).resolve()}:{name}")
        result = pipeline.run(workspace=self.ws, echo=False, data=data, **self.spec.params)
        if not isinstance(result.graph.result, Output):
            raise InvalidInput(
                f"loop {self.spec.name!r}: pipeline {self.spec.pipeline} must return the "
                "trained model from one of its steps (`return train(rows)`), not "
                f"{type(result.graph.result).__name__}",
                field="pipeline",
            )
        output = result.step(result.graph.result.node.name).output
        if output is None:
            raise NotFound(f"pipeline {self.spec.pipeline} stored no model")
        return output

    # -- routing ------------------------------------------------------------------

    @property
    def _actor(self) -> str:
        """Who the loop's moves of aliases and deployments are recorded as made by."""
        return f"loop {self.spec.name}"

    def _because(self, decision: LoopDecision) -> str:
        return f"loop {self.spec.name}, decision {decision.number}: {decision.summary}"[:500]

    def _route_challenger(self, deployed: LoopDecision) -> None:
        """Send the challenger its traffic, unless it has it already."""
        from loopml import serve

        spec, challenger = self.spec, deployed.challenger
        assert challenger is not None
        detail = serve.deployment(spec.deployment, workspace=self.ws)
        champion_ref = f"{spec.model}@champion"
        reason = self._because(deployed)
        if spec.rollout.mode == "shadow":
            if challenger not in detail.policy.shadows:
                serve.set_arms(
                    spec.deployment,
                    {champion_ref: 1.0},
                    shadows=(*detail.policy.shadows, challenger),
                    reason=reason,
                    actor=self._actor,
                    workspace=self.ws,
                )
            return
        if challenger not in [arm.model for arm in detail.policy.arms]:
            share = spec.rollout.share
            serve.set_arms(
                spec.deployment,
                {champion_ref: 1 - share, challenger: share},
                reason=reason,
                actor=self._actor,
                workspace=self.ws,
            )

    def _withdraw(self, decision: LoopDecision) -> None:
        """Take the challenger out of the deployment, if it is still in."""
        from loopml import serve

        spec, challenger = self.spec, decision.challenger
        detail = serve.deployment(spec.deployment, workspace=self.ws)
        arms = [arm.model for arm in detail.policy.arms]
        if challenger not in arms and challenger not in detail.policy.shadows:
            return
        serve.set_arms(
            spec.deployment,
            {f"{spec.model}@champion": 1.0},
            shadows=tuple(s for s in detail.policy.shadows if s != challenger),
            reason=self._because(decision),
            actor=self._actor,
            workspace=self.ws,
        )

    def _finish(self, last: LoopDecision) -> None:
        """Complete the act of the cycle's last decision (a controller may have been
        killed between recording it and acting on it)."""
        from loopml import registry
        from loopml.errors import PromotionRefused

        challenger = last.challenger
        if last.action == "promote" and challenger and not self._promoted(last):
            try:
                registry.promote(
                    challenger,
                    reason=self._because(last),
                    actor=self._actor,
                    workspace=self.ws,
                )
            except PromotionRefused as refused:  # someone promoted another version since
                # its gate: what the loop weighed is not what the challenger would replace
                summary = f"kept the champion: {challenger} was not promoted: {refused}"
                evidence = {"error": str(refused), "type": "PromotionRefused"}
                last = self._record("keep", summary[:500], evidence, challenger)
        withdrawing = last.action in ("promote", "rollback", "keep")
        if withdrawing and last.challenger is not None and not self._routed_since(last):
            self._withdraw(last)

    def _routed_since(self, decision: LoopDecision) -> bool:
        """Whether the loop changed the deployment since the decision was made (so its
        act was done; a change someone made after it stands)."""
        from loopml import serve

        return any(
            change.actor == self._actor and change.created_at >= decision.at
            for change in serve.deployment_history(self.spec.deployment, workspace=self.ws)
        )

    def _promoted(self, decision: LoopDecision) -> bool:
        """Whether the champion was moved to the decision's challenger since it was
        made: once done, the act is not made again, even if someone has moved the
        champion elsewhere since (their move stands)."""
        from loopml import registry

        wanted = int((decision.challenger or "@v0").rpartition("@v")[2])
        return any(
            move.alias == "champion" and move.to_version == wanted and move.at >= decision.at
            for move in registry.history(self.spec.model, workspace=self.ws)
        )

    # -- watching the challenger --------------------------------------------------

    def _watch(self, last: LoopDecision) -> LoopPass:
        from loopml.monitor._challenger import judge_challenger

        deployed = last if last.action == "deploy" else self._deploy_decision(last)
        if last.action == "deploy":
            self._route_challenger(deployed)
        assert deployed.challenger is not None
        looks = list(last.evidence.get("looks", [])) if last.action == "watch" else []
        found = judge_challenger(
            self.ws,
            self.spec,
            deployed.challenger,
            self._champion().ref,
            since=deployed.at,
            looks=looks,
        )
        if found.action == "watch":
            if not found.new_outcomes:
                return self._done("watching", found.summary)
            self._record("watch", found.summary, found.evidence, deployed.challenger)
            return self._done("watching", found.summary)
        decided = self._record(found.action, found.summary, found.evidence, deployed.challenger)
        self._finish(decided)
        return self._done("idle", found.summary)

    def _deploy_decision(self, last: LoopDecision) -> LoopDecision:

        for decision in reversed(self._history):
            if decision.action == "deploy":
                return decision
        raise NotFound(f"loop {self.spec.name!r} is watching, but has no deploy decision")


def _us(moment: datetime) -> int:
    from loopml._time import to_us

    return to_us(moment)


def _firing_line(found: Firing) -> str:
    shown = ", ".join(
        f"{key} {_shown(value)}"
        for key, value in found.evidence.items()
        if key not in ("window_us", "confidence") and value is not None
    )
    return f"{found.rule} {'fired' if found.fired else 'not fired'} ({shown})"


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _deployed(ws: Workspace, champion: ModelVersion, task: str) -> Deployed | None:
    """The champion's metric (accuracy, or RMSE) in the evaluation it was judged on."""
    if champion.evaluation_id is None:
        return None
    from loopml.evaluation import load_evaluation

    return Deployed.of(load_evaluation(ws, champion.evaluation_id), task)
