"""``diff``: what changed between two model versions — the input columns they take
(by their signatures), the data versions, the parameters, the code and the
environment of the runs that made them (walked back step by step through their
lineage), their evaluation metrics and slices, and the rows one gets right and the
other wrong."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from loopml._context import workspace_in_use
from loopml.evaluation._records import higher_is_better
from loopml.registry._compare import changed, flips_on, package_changes
from loopml.registry._lineage import Lineage, Origin, lineage
from loopml.registry._versions import EVALUATION_KEY, resolve_model

if TYPE_CHECKING:
    from loopml.evaluation import Evaluation, Flips
    from loopml.store import Artifact
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class MetricChange:
    """A metric of both versions; ``better`` says whether ``after`` improved on it.
    ``metric`` is the metric's own name when ``name`` says more (a slice's)."""

    name: str
    before: float
    after: float
    metric: str | None = None

    @property
    def better(self) -> bool | None:
        if self.after == self.before:
            return None
        return (self.after > self.before) == higher_is_better(self.metric or self.name)

    def describe(self) -> str:
        verdict = {None: "same", True: "better", False: "worse"}[self.better]
        return f"{self.name}: {self.before:.6g} -> {self.after:.6g} ({verdict})"


@dataclass(frozen=True)
class ModelDiff:
    """Two versions of a model compared. Each list holds lines in plain words; an empty
    list means nothing changed there."""

    before: str
    after: str
    data: list[str]
    params: list[str]
    code: list[str]
    environment: list[str]
    metrics: list[MetricChange]
    metrics_from: str  # where the metrics come from, and whether the rows were the same
    slices: list[MetricChange]
    flips: Flips | None = None
    notes: list[str] = field(default_factory=list)  # what could not be compared, and why
    # The input columns added, removed or of another type, from the two signatures;
    # None when neither version has a signature.
    inputs: list[str] | None = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["metrics"] = [{**asdict(m), "better": m.better} for m in self.metrics]
        found["slices"] = [{**asdict(m), "better": m.better} for m in self.slices]
        return found

    def render(self) -> str:
        lines = [f"diff {self.before} -> {self.after}"]
        if self.inputs is None:
            lines.append("inputs: not compared (neither version has a signature)")
        for title, found in (
            ("inputs", self.inputs),
            ("data", self.data),
            ("params", self.params),
            ("code", self.code),
            ("environment", self.environment),
        ):
            if found is None:
                continue
            lines.append(f"{title}:" + ("" if found else " unchanged"))
            lines += [f"  {line}" for line in found]
        lines.append(f"metrics ({self.metrics_from}):" + ("" if self.metrics else " none"))
        lines += [f"  {change.describe()}" for change in self.metrics]
        if self.slices:
            lines.append("slices, worst change first:")
            lines += [f"  {change.describe()}" for change in self.slices]
        if self.flips is not None:
            f = self.flips
            lines.append(
                f"flips on {f.rows:,} rows: {f.negative:,} that {self.before} got right "
                f"{self.after} gets wrong, {f.positive:,} the other way"
            )
            if f.negative_rows:
                lines.append("  negative flip rows: " + ", ".join(map(str, f.negative_rows[:20])))
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def diff(before: str, after: str, *, workspace: Workspace | None = None) -> ModelDiff:
    """Compare model version ``before`` with ``after`` (``churn@v2``, ``churn@v3``, or
    versions of two models)."""
    ws = workspace_in_use(workspace)
    old = resolve_model(ws.store, before, field="before")
    new = resolve_model(ws.store, after, field="after")
    old_lineage, new_lineage = lineage(old.ref, workspace=ws), lineage(new.ref, workspace=ws)
    old_eval, new_eval = _evaluation(ws, old), _evaluation(ws, new)
    notes: list[str] = []
    metrics, metrics_from = _metrics(ws, old_eval, new_eval, old_lineage, new_lineage)
    slices = _slices(old_eval, new_eval)
    flips = _flips(ws, old, new, new_eval or old_eval, notes)
    for ref, found in ((old.ref, old_lineage), (new.ref, new_lineage)):
        if found.made_by is None:
            notes.append(f"{ref} was saved outside any run: it has no lineage to compare")
    return ModelDiff(
        inputs=_inputs(old, new, notes),
        before=old.ref,
        after=new.ref,
        data=_data(old_lineage, new_lineage),
        params=_per_step(old_lineage, new_lineage, lambda run: run.params),
        code=_code(old_lineage, new_lineage),
        environment=_environment(ws, old_lineage, new_lineage),
        metrics=metrics,
        metrics_from=metrics_from,
        slices=slices,
        flips=flips,
        notes=notes,
    )


def _inputs(old: Artifact, new: Artifact, notes: list[str]) -> list[str] | None:
    """The input columns added, removed, or of another type, from the signatures."""
    before, after = old.metadata.get("signature"), new.metadata.get("signature")
    if not isinstance(before, dict) and not isinstance(after, dict):
        return None
    if not isinstance(before, dict) or not isinstance(after, dict):
        missing = old.ref if not isinstance(before, dict) else new.ref
        notes.append(
            f"input columns not compared: {missing} has no signature (register with "
            "signature_from=)"
        )
        return []
    from loopml.models import Signature

    was = {c.name: c.type for c in Signature.from_dict(before).inputs}
    now = {c.name: c.type for c in Signature.from_dict(after).inputs}
    lines = [f"added column {name} ({now[name]})" for name in now if name not in was]
    lines += [f"removed column {name} ({was[name]})" for name in was if name not in now]
    lines += [
        f"column {name}: type {was[name]} -> {now[name]}"
        for name in now
        if name in was and was[name] != now[name]
    ]
    return lines


def _evaluation(ws: Workspace, model: Artifact) -> tuple[Artifact, Evaluation] | None:
    from loopml.errors import NotFound
    from loopml.evaluation import load_evaluation

    evaluation_id = model.metadata.get(EVALUATION_KEY)
    if not isinstance(evaluation_id, str):
        return None
    try:
        artifact = ws.store.get_artifact(evaluation_id)
    except NotFound:
        return None
    return artifact, load_evaluation(ws, artifact)


def _data(old: Lineage, new: Lineage) -> list[str]:
    before = _by_name(old.datasets())
    after = _by_name(new.datasets())
    lines = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was != now:
            lines.append(f"{was or '(not read)'} -> {now or '(not read)'}")
    return lines


def _by_name(refs: list[str]) -> dict[str, str]:
    return {ref.split("@")[0]: ref for ref in refs}


def _steps(found: Lineage) -> dict[str, Origin]:
    return {run.name: run for run in found.runs()}


def _per_step(old: Lineage, new: Lineage, value: Any) -> list[str]:
    before, after = _steps(old), _steps(new)
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            lines.append(f"{name}: only in {'the second' if name in after else 'the first'}")
            continue
        lines += [f"{name}: {line}" for line in changed(value(before[name]), value(after[name]))]
    return lines


def _code(old: Lineage, new: Lineage) -> list[str]:
    def code(run: Origin) -> dict[str, Any]:
        git = run.git or {}
        return {
            "fingerprint": (run.fingerprint or "")[:12] or None,
            "commit": str(git.get("commit") or "")[:12] or None,
            "dirty": git.get("dirty"),
        }

    return [line for line in _per_step(old, new, code) if "only in" not in line]


def _environment(ws: Workspace, old: Lineage, new: Lineage) -> list[str]:
    if old.made_by is None or new.made_by is None:
        return []
    before = ws.store.get_run(old.made_by.id).environment
    after = ws.store.get_run(new.made_by.id).environment
    python = changed({"python": before.get("python")}, {"python": after.get("python")})
    packages = package_changes(before.get("packages") or {}, after.get("packages") or {})
    return python + packages


def _metrics(
    ws: Workspace,
    old_eval: tuple[Artifact, Evaluation] | None,
    new_eval: tuple[Artifact, Evaluation] | None,
    old: Lineage,
    new: Lineage,
) -> tuple[list[MetricChange], str]:
    if old_eval is not None and new_eval is not None:
        same_rows = _rows_digest(ws, old_eval[0]) == _rows_digest(ws, new_eval[0])
        where = "evaluations on the same rows" if same_rows else "evaluations on DIFFERENT rows"
        return _changes(old_eval[1].metrics, new_eval[1].metrics), where
    if old.made_by is None or new.made_by is None:
        return [], "no evaluations, no runs"
    found = ws.store.latest_metrics([old.made_by.id, new.made_by.id])
    before, after = found.get(old.made_by.id, {}), found.get(new.made_by.id, {})
    return _changes(before, after), "the runs that made them: not both were evaluated"


def _rows_digest(ws: Workspace, evaluation: Artifact) -> str | None:
    data_id = evaluation.metadata.get("data_id")
    if isinstance(data_id, str):
        return ws.store.get_artifact(data_id).digest
    data = evaluation.metadata.get("data")
    return data if isinstance(data, str) else None


def _changes(before: dict[str, float], after: dict[str, float]) -> list[MetricChange]:
    return [MetricChange(k, before[k], after[k]) for k in sorted(set(before) & set(after))]


def _slices(
    old_eval: tuple[Artifact, Evaluation] | None, new_eval: tuple[Artifact, Evaluation] | None
) -> list[MetricChange]:
    """The primary metric on every slice both evaluations have, the largest drop first."""
    if old_eval is None or new_eval is None:
        return []
    old, new = old_eval[1], new_eval[1]
    primary = new.primary
    before = {s.name: s.metrics[primary] for s in old.slices if primary in s.metrics}
    changes = [
        MetricChange(f"{s.name} {primary}", before[s.name], s.metrics[primary], primary)
        for s in new.slices
        if s.name in before and primary in s.metrics
    ]
    sign = 1.0 if higher_is_better(primary) else -1.0
    return sorted(changes, key=lambda c: sign * (c.after - c.before))


def _flips(
    ws: Workspace,
    old: Artifact,
    new: Artifact,
    evaluated: tuple[Artifact, Evaluation] | None,
    notes: list[str],
) -> Flips | None:
    from loopml.evaluation._record import evaluation_rows

    if evaluated is None:
        notes.append(
            "flips not counted: neither version was registered with an evaluation whose "
            "rows were recorded (register with evaluation=)"
        )
        return None
    artifact, evaluation = evaluated
    rows = evaluation_rows(ws, artifact)
    if rows is None:
        rows = evaluation.data
    label = artifact.metadata.get("label")
    if rows is None or not isinstance(label, str):
        notes.append(f"flips not counted: the rows of evaluation {artifact.ref} were not recorded")
        return None
    return flips_on(ws, old, new, rows, label, evaluation.task)
