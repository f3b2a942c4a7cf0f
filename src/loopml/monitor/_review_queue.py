"""Filling a review queue: a deployment's logged rows picked by the rules of
:mod:`loopml.monitor._review_rules`, queued with the model's guess, its confidence,
the row's inputs and why it was picked.

Only rows worth a person's time are looked at: the answers the deployment served (not
a shadow's), without an error, and with no label yet (feedback already says what they
are). A row picked by several rules is queued once, with every reason. Queueing the
same window again adds only the rows not queued before, so it can run on a schedule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, NotFound
from loopml.monitor import _review_rules as rules
from loopml.monitor._deployed import check_known, regressors

if TYPE_CHECKING:
    import polars as pl

    from loopml.store import ReviewItem
    from loopml.workspace import Workspace

PREVIOUS = "previous"  # the previous champion of the model that answered
SHADOW = "shadow"


@dataclass(frozen=True)
class Queued:
    """What :func:`queue_for_review` did: how many rows it looked at, how many each
    rule picked, the items it queued, how many of the picked rows were queued before,
    and how many of the rows named in ``flagged`` the window does not hold."""

    queue: str
    deployment: str
    considered: int
    picked: dict[str, int]
    added: tuple[ReviewItem, ...]
    queued_before: int
    flagged_missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "deployment": self.deployment,
            "considered": self.considered,
            "picked": self.picked,
            "added": len(self.added),
            "queued_before": self.queued_before,
            "flagged_missing": self.flagged_missing,
            "items": [item.id for item in self.added],
        }


def queue_for_review(
    deployment: str,
    *,
    queue: str | None = None,
    below: float | None = None,
    disagree_with: Sequence[str] = (),
    flagged: Iterable[str | tuple[str, int]] | None = None,
    audit: int = 0,
    seed: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    labels_wanted: int = 1,
    dataset: str | None = None,
    workspace: Workspace | None = None,
) -> Queued:
    """Queue for review the rows of ``deployment``'s predictions made in ``[since,
    until)`` that a rule picks: confidence under ``below``; an answer that differs from
    each of ``disagree_with`` (``"shadow"``: the deployment's shadows; ``"previous"``:
    the previous champion of the model that answered; or a version such as
    ``"churn@v2"``); named in ``flagged`` (prediction ids, or ``(id, row)`` pairs: a
    drift window's rows); and ``audit`` rows drawn at random (``seed`` fixes the draw).

    Items go to ``queue`` (the deployment's name by default), each wanting
    ``labels_wanted`` reviewers' labels. ``dataset`` names the dataset whose
    labelling guidelines apply and which reviewed rows join (by default the one the
    answering version was trained on, found in its lineage).
    """
    import polars as pl

    from loopml._context import workspace_in_use
    from loopml.monitor._join import labelled
    from loopml.store import NewReviewItem
    from loopml.store._review_rows import MAX_LABELS_WANTED, check_queue
    from loopml.store.values import check_int

    queue = check_queue(deployment if queue is None else queue)
    _check_rules(below, disagree_with, flagged, audit)
    check_int("labels_wanted", labels_wanted, (1, MAX_LABELS_WANTED))
    ws = workspace_in_use(workspace)
    datasets = _DatasetOf(ws, dataset)
    every = labelled(deployment, since=since, until=until, workspace=ws).rows
    if every.is_empty():
        check_known(ws, deployment)
    rows = every.filter(
        ~pl.col("shadow")
        & pl.col("error").is_null()
        & pl.col("predicted").is_not_null()
        & pl.col("label").is_null()
    )
    picked: dict[str, dict[rules.Key, rules.Evidence]] = {}
    if below is not None:
        _check_confidence(ws, deployment, every, below)
        picked["low-confidence"] = rules.low_confidence(rows, below)
    inputs = None
    for other in disagree_with:
        if other == SHADOW:
            found = rules.shadow_disagreement(rows, every)
        else:
            inputs = _inputs(ws, deployment, since, until) if inputs is None else inputs
            found = _versions_disagreement(ws, rows, inputs, other)
        _merge(picked.setdefault("disagreement", {}), found)
    missing = 0
    if flagged is not None:
        picked["drift"], missing = rules.flagged_rows(rows, flagged)
    if audit:
        picked["audit"] = rules.audit_sample(rows, audit, seed=seed)
    chosen = _combined(picked)
    if not chosen:
        return Queued(queue, deployment, rows.height, _counts(picked), (), 0, missing)
    inputs = _inputs(ws, deployment, since, until) if inputs is None else inputs
    values = _row_inputs(inputs, chosen)
    selected = rows.filter(
        pl.struct("prediction_id", "row").is_in(
            [{"prediction_id": pid, "row": row} for pid, row in chosen]
        )
    )
    ordered = selected.sort(
        ["confidence", "time_us", "prediction_id", "row"]
        if "confidence" in selected.columns
        else ["time_us", "prediction_id", "row"],
        nulls_last=True,
    )
    new = []
    for each in ordered.iter_rows(named=True):
        key = (each["prediction_id"], each["row"])
        reasons, evidence = chosen[key]
        new.append(
            NewReviewItem(
                queue=queue,
                prediction_id=key[0],
                row=key[1],
                deployment=deployment,
                ref=each["ref"],
                guess=each["predicted"],
                reasons=reasons,
                confidence=each.get("confidence"),
                inputs=values.get(key, {}),
                evidence=evidence,
                dataset=datasets.of(each["ref"]),
                labels_wanted=labels_wanted,
            )
        )
    added = ws.store.add_review_items(new)
    return Queued(
        queue,
        deployment,
        rows.height,
        _counts(picked),
        tuple(added),
        len(new) - len(added),
        missing,
    )


def _check_rules(
    below: float | None,
    disagree_with: Sequence[str],
    flagged: Iterable[Any] | None,
    audit: int,
) -> None:
    if below is not None and (
        isinstance(below, bool) or not isinstance(below, int | float) or not 0 < below <= 1
    ):
        raise InvalidInput(
            f"below {below!r} must be a confidence above 0 and at most 1, e.g. 0.6",
            field="below",
        )
    if isinstance(disagree_with, str):
        raise InvalidInput(
            f"disagree_with {disagree_with!r} must be a list, e.g. ['shadow'] or ['previous']",
            field="disagree_with",
        )
    for other in disagree_with:
        if not isinstance(other, str) or not other:
            raise InvalidInput(
                f"disagree_with {other!r} must be 'shadow', 'previous' or a model version "
                "such as 'churn@v2'",
                field="disagree_with",
            )
    if below is None and not disagree_with and flagged is None and not audit:
        raise InvalidInput(
            "no rule to pick rows with: give below= (--below: a confidence), disagree_with= "
            "(--disagree: shadow, previous or a version), flagged= (--flagged: rows a drift "
            "check named), or audit= (--audit: a number of rows drawn at random)",
            field="below",
        )


def _check_confidence(ws: Workspace, deployment: str, every: pl.DataFrame, below: float) -> None:
    """InvalidInput when no row can have a confidence, whether or not the window has
    rows to pick: the deployment's answers in it hold no probabilities, or, with no
    answer in it, the versions it answers with are regressors."""
    import polars as pl

    served = every.filter(~pl.col("shadow") & pl.col("predicted").is_not_null())
    if served.height:
        if "confidence" in served.columns and not served["confidence"].is_null().all():
            return
        why = f"the answers of deployment {deployment!r} hold none"
    else:
        found = regressors(ws, deployment)
        if not found:
            return
        kind = "a regressor" if len(found) == 1 else "regressors"
        why = f"deployment {deployment!r} answers with {', '.join(found)} ({kind})"
    raise InvalidInput(f"below={below} {rules.NEEDS_PROBABILITIES.format(why=why)}", field="below")


def _versions_disagreement(
    ws: Workspace, rows: pl.DataFrame, inputs: pl.DataFrame, other: str
) -> dict[rules.Key, rules.Evidence]:
    """Rows where another stored version (``previous``: the previous champion of the
    model that answered the row) predicts otherwise on the row's logged inputs."""
    import polars as pl

    from loopml.models import Predictor

    if other == PREVIOUS:
        models = sorted({ref.split("@")[0] for ref in rows["ref"].unique().to_list()})
        groups = [
            (f"{model}@{PREVIOUS}", rows.filter(pl.col("ref").str.starts_with(f"{model}@")))
            for model in models
        ]
    else:
        groups = [(other, rows)]
    found: dict[rules.Key, rules.Evidence] = {}
    for ref, served in groups:
        try:
            predictor = Predictor.load(ref, workspace=ws)
        except NotFound as error:
            hint = (
                f"; model {ref.split('@')[0]!r} has a previous champion once a version is "
                "promoted over another"
                if other == PREVIOUS
                else ""
            )
            raise InvalidInput(
                f"disagree_with {other!r}: {error}{hint}", field="disagree_with"
            ) from None
        on = served.select("prediction_id", "row").join(inputs, on=["prediction_id", "row"])
        if on.height == 0:
            continue
        answers = predictor.predict(on.drop("prediction_id", "row")).predictions.tolist()
        keyed = dict(zip(on.select("prediction_id", "row").iter_rows(), answers, strict=True))
        _merge(found, rules.model_disagreement(served, keyed, predictor.ref or ref))
    return found


def _inputs(
    ws: Workspace, deployment: str, since: datetime | None, until: datetime | None
) -> pl.DataFrame:
    """The logged inputs of the deployment's served answers, one row per predicted row:
    ``prediction_id``, ``row`` and a column per input name. Inputs logged as rows of
    values by position (one 2-D tensor) are named by the answering version's signature
    (``x0``, ``x1``, ... when it has none)."""
    import polars as pl

    from loopml.serve import predictions

    logged = predictions(
        deployment,
        since=since,
        until=until,
        columns=["prediction_id", "ref", "shadow", "inputs"],
        workspace=ws,
    ).filter(~pl.col("shadow"))
    kind = logged.schema["inputs"]
    empty = pl.DataFrame(schema={"prediction_id": pl.String, "row": pl.Int64})
    if isinstance(kind, pl.List):  # rows by position
        exploded = logged.select(
            "prediction_id",
            "ref",
            pl.col("inputs"),
            pl.int_ranges(pl.col("inputs").list.len()).alias("row"),
        ).explode(["inputs", "row"])
        parts = []
        for ref, group in exploded.group_by("ref"):
            names = _feature_names(ws, str(ref[0]))
            longest = group.select(pl.col("inputs").list.len().max()).item()
            width = int(longest or 0)
            names = (
                names
                if names is not None and len(names) == width
                else [f"x{i}" for i in range(width)]
            )
            parts.append(
                group.select(
                    "prediction_id",
                    pl.col("row").cast(pl.Int64),
                    *(
                        pl.col("inputs").list.get(i, null_on_oob=True).alias(n)
                        for i, n in enumerate(names)
                    ),
                )
            )
        return pl.concat(parts, how="diagonal_relaxed") if parts else empty
    if not isinstance(kind, pl.Struct) or not kind.fields:
        return empty
    wide = logged.select("prediction_id", pl.col("inputs").struct.unnest())
    names = [name for name in wide.columns if name != "prediction_id"]
    listed = [name for name in names if isinstance(wide.schema[name], pl.List)]
    count = pl.col(listed[0]).list.len().fill_null(1) if listed else pl.lit(1)
    wide = wide.with_columns(pl.int_ranges(count).alias("row"))
    return wide.explode([*listed, "row"]).with_columns(pl.col("row").cast(pl.Int64))


def _feature_names(ws: Workspace, ref: str) -> list[str] | None:
    """The input names of a model version's signature, or None."""
    from loopml.errors import LoopmlError
    from loopml.models._predictor import stored_signature
    from loopml.refs import resolve

    try:
        signature = stored_signature(resolve(ws.store, "model", ref))
    except LoopmlError:
        return None
    return None if signature is None else signature.names


def _row_inputs(
    inputs: pl.DataFrame, chosen: dict[rules.Key, Any]
) -> dict[rules.Key, dict[str, Any]]:
    """Each chosen row's inputs, by name (names the row has no value for left out)."""
    import polars as pl

    wanted = inputs.filter(
        pl.struct("prediction_id", "row").is_in(
            [{"prediction_id": pid, "row": row} for pid, row in chosen]
        )
    )
    found = {}
    for each in wanted.iter_rows(named=True):
        key = (each.pop("prediction_id"), each.pop("row"))
        found[key] = {name: value for name, value in each.items() if value is not None}
    return found


def _merge(into: dict[rules.Key, rules.Evidence], found: dict[rules.Key, rules.Evidence]) -> None:
    for key, evidence in found.items():
        kept = into.setdefault(key, {"disagreeing": []})
        kept["disagreeing"] = [*kept.get("disagreeing", []), *evidence.get("disagreeing", [])]


def _combined(
    picked: dict[str, dict[rules.Key, rules.Evidence]],
) -> dict[rules.Key, tuple[tuple[str, ...], rules.Evidence]]:
    """Each picked row once: its reasons in the rules' order, and their evidence."""
    found: dict[rules.Key, tuple[list[str], rules.Evidence]] = {}
    for reason in rules.REASONS:
        for key, evidence in picked.get(reason, {}).items():
            reasons, merged = found.setdefault(key, ([], {}))
            reasons.append(reason)
            merged.update(evidence)
    return {key: (tuple(reasons), evidence) for key, (reasons, evidence) in found.items()}


def _counts(picked: dict[str, dict[rules.Key, rules.Evidence]]) -> dict[str, int]:
    return {reason: len(picked[reason]) for reason in rules.REASONS if reason in picked}


class _DatasetOf:
    """The dataset of each answering version: ``given``, or the dataset the version was
    trained on (the nearest dataset read in its lineage), or None."""

    def __init__(self, ws: Workspace, given: str | None) -> None:
        if given is not None:
            from loopml.store.values import check_name

            check_name(given, "dataset name", field="dataset")
        self.ws = ws
        self.given = given
        self.found: dict[str, str | None] = {}

    def of(self, ref: str) -> str | None:
        if self.given is not None:
            return self.given
        if ref not in self.found:
            self.found[ref] = _trained_on(self.ws, ref)
        return self.found[ref]


def _trained_on(ws: Workspace, ref: str) -> str | None:
    from loopml.errors import LoopmlError
    from loopml.registry import lineage

    try:
        datasets = lineage(ref, workspace=ws).datasets()
    except LoopmlError:
        return None
    return datasets[0].split("@")[0] if datasets else None
