"""The promotion gate: whether a model may go out, and why, in plain words with the
numbers.

A candidate passes when the rows show it ahead of its naive baseline by more than a
margin, the rows do not show it worse than the champion beyond a tolerance, nor any
slice worse than the champion's same slice, it flips few rows the champion got right,
and it fits its latency and size budgets. The comparisons are paired — both models on
the same rows, row by row (:mod:`._paired`) — and one-sided tests at the policy's
``alpha`` (:mod:`._paired_checks`). The policy is data — a dict, or a YAML or JSON
file — and is stored with the decision.

The checks against the champion (champion, slices, flips) pass when there is no
champion — a first model — and say so; when the model has a champion, they fail if
the champion's evaluation or the flips against it were not given, rather than pass
unmeasured.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.errors import GateFailed, InvalidInput
from loopml.evaluation import _paired_checks as weigh
from loopml.evaluation._paired_checks import Check
from loopml.evaluation._records import Evaluation

if TYPE_CHECKING:
    from loopml.store import Artifact, MetadataStore
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class Policy:
    """What a model must meet. Margins and tolerances are fractions of the value they
    are measured against — the baseline's, the champion's, the champion's same slice —
    so one policy fits every metric (0.05: five per cent); ``None`` turns a check off."""

    baseline_margin: float = 0.0
    champion_tolerance: float = 0.0
    slice_tolerance: float | None = 0.05
    max_negative_flips: float | None = None  # a share of the rows, e.g. 0.02
    max_latency_p99_ms: float | None = None  # one row, as served
    max_size_bytes: float | None = None  # on disk
    fail_on_one_class_slices: bool = False
    primary: str | None = None  # default: the evaluation's
    # The false-alarm rate of each test: the chance of blocking a candidate no worse
    # than the champion (or of passing one tied with its baseline).
    alpha: float = 0.05

    @classmethod
    def from_any(cls, policy: Policy | dict[str, Any] | str | Path | None) -> Policy:
        if policy is None:
            return cls()
        if isinstance(policy, Policy):
            return policy
        if isinstance(policy, str | Path):
            return cls.from_dict(_read(Path(policy)), where=str(policy))
        return cls.from_dict(policy)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "the policy") -> Policy:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(
                f"{where} has unknown setting(s) {', '.join(unknown)}; the settings are "
                + ", ".join(sorted(known))
            )
        for key, value in data.items():
            if key == "fail_on_one_class_slices":
                if not isinstance(value, bool):  # "false" and "no" are true in Python
                    raise InvalidInput(f"{where}: {key} = {value!r}; give true or false")
                continue
            if value is None:
                continue
            if key == "primary":
                if not isinstance(value, str) or not value:
                    raise InvalidInput(
                        f"{where}: primary = {value!r}; give the name of a metric, such as "
                        "roc_auc, or leave it out for the evaluation's own"
                    )
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"{where}: {key} = {value!r}; give a number of 0 or more")
            if key == "max_negative_flips" and value > 1:
                raise InvalidInput(
                    f"{where}: max_negative_flips = {value!r}; give the share of the rows "
                    "the champion got right and the candidate gets wrong, from 0 to 1 "
                    "(0.02: two per cent)"
                )
            if key == "alpha" and not 0 < value < 1:
                raise InvalidInput(
                    f"{where}: alpha = {value!r}; give the false-alarm rate of each test, "
                    "between 0 and 1 (e.g. 0.05)"
                )
        return cls(**data)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InvalidInput(f"policy file {path} does not exist; give a YAML or JSON file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as error:  # json's ValueError or yaml's YAMLError
        raise InvalidInput(f"policy file {path} does not parse: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"policy file {path} must hold a mapping of settings")
    return data


@dataclass(frozen=True)
class Decision:
    passed: bool
    checks: list[Check]
    policy: dict[str, Any]
    primary: str
    candidate: str | None = None
    champion: str | None = None
    evaluation_id: str | None = None  # the candidate's stored evaluation, if it was stored
    artifact_id: str | None = field(default=None, compare=False)
    # How the stored decision reads: "gate 1 of churn@v5 (churn.v5.gate@v1)".
    recorded_as: str | None = field(default=None, compare=False)

    @property
    def reasons(self) -> list[str]:
        """Why it failed (empty when it passed)."""
        return [c.message for c in self.checks if not c.passed]

    def summary(self) -> str:
        head = "PASSED" if self.passed else "FAILED"
        lines = [f"gate {head} for {self.candidate or 'the candidate'} on {self.primary}"]
        lines += [f"  {'ok  ' if c.passed else 'FAIL'} {c.name}: {c.message}" for c in self.checks]
        if self.recorded_as is not None:
            lines.append(f"recorded as {self.recorded_as}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        kept = asdict(self)
        del kept["artifact_id"], kept["recorded_as"]
        return kept


def gate(
    candidate: Evaluation,
    policy: Policy | dict[str, Any] | str | Path | None = None,
    *,
    champion: Evaluation | None = None,
    name: str | None = None,
    workspace: Workspace | None = None,
    record: bool = True,
    stop: bool = True,
) -> Decision:
    """Decide whether ``candidate`` may go out under ``policy``, against ``champion``
    (the evaluation of the model now serving, on the same rows) when there is one.

    ``name`` is the registered model the candidate is for (default: the candidate's,
    when it was evaluated as a registered version). Without ``champion``, the gate looks
    for that model's champion in the workspace: with none, the checks against the
    champion pass as not applicable; with one, they fail, naming what to give.

    With ``record``, the decision and its policy are stored (kind ``gate``, named
    ``NAME.vN.gate`` after the candidate's version) and linked to the active run, and a
    failure records an alert. With ``stop``, a failure raises :class:`GateFailed` — in
    a pipeline step that stops the pipeline."""
    rules = Policy.from_any(policy)
    primary = rules.primary or candidate.primary
    if primary not in candidate.metrics:
        known = ", ".join(sorted(candidate.metrics))
        raise InvalidInput(f"the primary metric {primary!r} is not in the evaluation: {known}")
    if name is not None:
        from loopml.refs import check_name

        check_name(name, "model name", field="name")
    store = _StoreIfAny(workspace, record)
    model = name or _model_name(candidate, store)
    known_champion = _known_champion(champion, model, store)
    if champion is not None:
        weigh.same_rows(candidate, champion)
    checks = [weigh.baseline(candidate, primary, rules.baseline_margin, rules.alpha)]
    checks.append(_champion(candidate, known_champion, primary, rules))
    if rules.slice_tolerance is not None:
        checks.append(_slices(candidate, known_champion, primary, rules))
    checks.append(_one_class(candidate, rules.fail_on_one_class_slices))
    if rules.max_negative_flips is not None:
        checks.append(_flips(candidate, known_champion, rules.max_negative_flips))
    if rules.max_latency_p99_ms is not None:
        checks.append(_latency(candidate, rules.max_latency_p99_ms))
    if rules.max_size_bytes is not None:
        checks.append(_size(candidate, rules.max_size_bytes))
    decision = Decision(
        passed=all(c.passed for c in checks),
        checks=checks,
        policy=asdict(rules),
        primary=primary,
        candidate=candidate.model,
        champion=known_champion.ref if champion is None else champion.model,
        evaluation_id=candidate.artifact_id,
    )
    if record:
        decision = _record(decision, model, workspace)
    if stop and not decision.passed:
        raise GateFailed(
            f"the gate refused {decision.candidate or 'the candidate'}: "
            + "; ".join(decision.reasons),
            decision,
        )
    return decision


@dataclass(frozen=True)
class _KnownChampion:
    """What the gate knows of the champion: its evaluation, given; else its ref, found
    in the registry; else why there is none."""

    evaluation: Evaluation | None = None
    ref: str | None = None
    absent: str = ""
    # Every ref the champion's model goes by: the artifact a step saved and the model
    # version it was registered as hold the same bytes under two names.
    names: frozenset[str] = frozenset()

    @property
    def exists(self) -> bool:
        return self.evaluation is not None or self.ref is not None

    @property
    def called(self) -> str:
        if self.evaluation is not None:
            return self.evaluation.model or "the champion"
        return self.ref or "the champion"

    def not_applicable(self) -> str:
        return f"no champion: not applicable, as {self.absent}"

    def not_given(self, what: str) -> str:
        return (
            f"{self.ref} is the champion, but {what}; the candidate cannot be passed "
            "unmeasured against it"
        )


class _StoreIfAny:
    """The workspace's store, opened when first needed; None when no workspace can be
    found and nothing is to be recorded (a gate on evaluations alone)."""

    def __init__(self, workspace: Workspace | None, record: bool) -> None:
        self._workspace = workspace
        self._record = record

    @functools.cached_property
    def store(self) -> MetadataStore | None:
        from loopml._context import workspace_in_use
        from loopml.errors import WorkspaceNotFound

        try:
            return workspace_in_use(self._workspace).store
        except WorkspaceNotFound:
            if self._record:
                raise
            return None


def _model_name(candidate: Evaluation, found: _StoreIfAny) -> str | None:
    """The model the candidate is for: the name its stored evaluation was recorded for
    (``churn`` from ``churn.v3.evaluation`` or ``churn.evaluation``: the name given to
    evaluate, or the registered version's), else the name of the model it evaluated."""
    from loopml.errors import NotFound
    from loopml.refs import record_owner

    if candidate.artifact_id is not None and found.store is not None:
        try:
            owner = record_owner(found.store.get_artifact(candidate.artifact_id))
        except NotFound:
            owner = None
        if owner is not None:
            return owner[0]
    return None if candidate.model is None else candidate.model.partition("@")[0]


def _known_champion(
    champion: Evaluation | None, model: str | None, found: _StoreIfAny
) -> _KnownChampion:
    """The champion given, else the registry's champion of ``model``, else why none."""
    if champion is not None:
        return _KnownChampion(evaluation=champion, names=_names_of(champion.model, found))
    if model is None:
        return _KnownChampion(
            absent="none was given and the candidate is not a registered model (give "
            "name= to look up its model's champion)"
        )
    store = found.store
    if store is None:
        return _KnownChampion(absent=f"none was given and no workspace holds model {model!r}")
    for alias in store.aliases(kind=ArtifactKind.MODEL, name=model):
        if alias.alias == "champion":
            artifact = store.get_artifact(alias.artifact_id)
            same = store.find_artifacts(kind=artifact.kind, digest=artifact.digest)
            return _KnownChampion(
                ref=artifact.ref, names=frozenset({artifact.ref, *(a.ref for a in same)})
            )
    return _KnownChampion(absent=f"model {model!r} has no champion yet")


def _names_of(ref: str | None, found: _StoreIfAny) -> frozenset[str]:
    """Every ref of the bytes ``ref`` names: a model a step saved (``NAME/train@v1``)
    and the model version it was registered as (``NAME@v1``) hold the same bytes."""
    from loopml.refs import named_digests

    store = found.store
    if ref is None or "@" not in ref or store is None:
        return frozenset()
    same = [a for digest in named_digests(store, ref) for a in store.find_artifacts(digest=digest)]
    return frozenset(
        {ref, *(a.ref for a in same if a.kind in (ArtifactKind.MODEL, ArtifactKind.OUTPUT))}
    )


def _against_champion(candidate: Evaluation, known: _KnownChampion, check: str) -> Check | None:
    """A failing or not-applicable check when the candidate cannot be weighed against
    the champion row by row; None when it can."""
    paired = candidate.paired
    if paired is None:
        if not known.exists:
            return Check(check, True, known.not_applicable())
        if known.evaluation is None:
            return Check(
                check,
                False,
                known.not_given(
                    "its evaluation was not given (champion=) and the candidate was not "
                    f"compared with it row by row (evaluate with against={known.called!r})"
                ),
            )
        return Check(check, False, weigh.cannot_pair(known.called))
    expected = known.ref if known.evaluation is None else known.evaluation.model
    named = paired.against == expected or paired.against in known.names
    if expected is not None and "@" in paired.against and not named:
        return Check(
            check,
            False,
            f"the candidate was compared row by row with {paired.against}, but the champion "
            f"is {expected}; evaluate the candidate again with against={expected!r}",
        )
    return None


def _champion(candidate: Evaluation, known: _KnownChampion, primary: str, rules: Policy) -> Check:
    if not known.exists and candidate.paired is None:
        return Check("champion", True, known.not_applicable())
    refused = _against_champion(candidate, known, "champion")
    if refused is not None:
        return refused
    assert candidate.paired is not None
    named = known.evaluation.model if known.evaluation is not None else known.ref
    called = named or candidate.paired.against
    return weigh.champion(candidate, called, primary, rules.champion_tolerance, rules.alpha)


def _slices(candidate: Evaluation, known: _KnownChampion, primary: str, rules: Policy) -> Check:
    assert rules.slice_tolerance is not None
    if not known.exists and candidate.paired is None:
        # Slices differ from the overall value for reasons of their own (harder rows,
        # fewer of them); a regression needs something that was better before.
        worst = candidate.slices[0] if candidate.slices else None
        note = "" if worst is None else f"; the worst slice is {worst.name} ({worst.gap:+.4g})"
        return Check("slices", True, known.not_applicable() + note)
    refused = _against_champion(candidate, known, "slices")
    if refused is not None:
        return refused
    return weigh.slices(candidate, primary, rules.slice_tolerance, rules.alpha)


def _one_class(candidate: Evaluation, fail: bool) -> Check:
    flagged = [s.name for s in candidate.slices if s.one_class]
    if not flagged:
        return Check("one_class", True, "no slice gets one class for nearly every row")
    words = f"the model predicts one class for nearly every row of: {', '.join(flagged[:5])}"
    return Check("one_class", not fail, words)


def _flips(candidate: Evaluation, known: _KnownChampion, most: float) -> Check:
    flips = candidate.flips
    if flips is None or flips.rows == 0:
        if not known.exists:
            return Check("flips", True, known.not_applicable())
        how = f"against={known.called!r}" if "@" in known.called else "against= the champion"
        return Check(
            "flips",
            False,
            f"{known.called} is the champion, but no flips against it were measured; "
            f"evaluate the candidate with {how}",
        )
    share = flips.negative / flips.rows
    words = (
        f"{flips.negative} of {flips.rows} rows ({share:.2%}) that {flips.against} got right "
        f"are now wrong ({flips.positive} the other way)"
    )
    return Check(
        "flips", share <= most, words + ("" if share <= most else f"; at most {most:.2%} may be")
    )


def _latency(candidate: Evaluation, budget: float) -> Check:
    p99 = candidate.latency_ms.get("row_p99")
    if p99 is None:
        return Check("latency", False, "no per-row latency was measured")
    ok = p99 <= budget
    return Check(
        "latency",
        ok,
        f"p99 per row {p99:.3g} ms, budget {budget:.3g} ms" + ("" if ok else ": too slow"),
    )


def _size(candidate: Evaluation, budget: float) -> Check:
    size = candidate.size_bytes.get("disk")
    if size is None:
        return Check("size", False, "no size on disk was measured")
    ok = size <= budget
    return Check(
        "size",
        ok,
        f"{size:,.0f} bytes on disk, budget {budget:,.0f}" + ("" if ok else ": too large"),
    )


def _record(decision: Decision, model: str | None, workspace: Workspace | None) -> Decision:
    import dataclasses

    from loopml._context import run_making_records, workspace_in_use
    from loopml.refs import describe_record, record_name
    from loopml.store import Severity

    ws = workspace_in_use(workspace)
    run_id = run_making_records(ws)
    body = json.dumps(decision.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    blob = ws.artifacts.put_bytes(body)
    artifact: Artifact = ws.store.create_artifact(
        kind=ArtifactKind.GATE,
        name=record_name(decision.candidate, ArtifactKind.GATE, model),
        digest=blob.digest,
        size=blob.size,
        metadata={
            "passed": decision.passed,
            "primary": decision.primary,
            "candidate": decision.candidate,
            "evaluation_id": decision.evaluation_id,
        },
        run_id=run_id,
    )
    if not decision.passed:
        ws.store.create_alert(
            kind=ArtifactKind.GATE,
            severity=Severity.ERROR,
            message=f"the gate refused {decision.candidate or 'a model'}: "
            + "; ".join(decision.reasons),
            evidence=decision.to_dict(),
            run_id=run_id,
            artifact_id=artifact.id,
        )
    return dataclasses.replace(
        decision, artifact_id=artifact.id, recorded_as=describe_record(artifact)
    )
