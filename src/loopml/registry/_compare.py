"""What ``models diff`` and ``models reproduce`` both compare: parameters, installed
packages, and two models' predictions on the same rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from loopml.evaluation import Flips
    from loopml.store import Artifact
    from loopml.workspace import Workspace

MISSING = object()  # a key one side has and the other has not
SHOWN_ROWS = 20  # differing row positions kept in a report


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for every key whose value differs, in key order; a key only
    one side has shows as ``(none)`` on the other."""
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if old != new:
            lines.append(f"{key}: {_shown(old)} -> {_shown(new)}")
    return lines


def _shown(value: Any) -> str:
    return "(none)" if value is MISSING else repr(value)


def package_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Installed distributions that changed version, appeared or went away."""
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            lines.append(f"{name} {new} added")
        elif new is None:
            lines.append(f"{name} {old} removed")
        else:
            lines.append(f"{name} {old} -> {new}")
    return lines


@dataclass(frozen=True)
class PredictionChange:
    """Two models' ``predict`` on the same rows: how many rows differ at all, and by how
    much at most (numbers only)."""

    rows: int
    differing: int
    max_abs_diff: float | None
    first_rows: list[int] = field(default_factory=list)  # positions, counted from 0

    @property
    def identical(self) -> bool:
        return self.differing == 0

    def describe(self) -> str:
        if self.identical:
            return f"identical on all {self.rows:,} rows"
        most = "" if self.max_abs_diff is None else f", by up to {self.max_abs_diff:.6g}"
        return f"differ on {self.differing:,} of {self.rows:,} rows{most}"


def compare_predictions(
    ws: Workspace, first: Artifact, second: Artifact, rows: Any, label: str | None
) -> PredictionChange:
    """``first`` and ``second`` (model artifacts) predicting the same ``rows`` (a
    DatasetVersion or DataFrame), each on the columns it takes, as ``evaluate`` gives
    them."""
    from loopml.evaluation import _inputs as inputs
    from loopml.evaluation._predict import ROWS

    def workspace() -> Workspace:
        return ws

    table = inputs.read(rows, workspace, "the evaluation rows")
    found = []
    for model in (first, second):
        info = inputs.load(model, workspace)
        X = inputs.model_input(info, table, label or "")
        found.append(info.labels(X, table.frame.height, on=ROWS))
    return _difference(found[0], found[1])


def _difference(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> PredictionChange:
    numeric = a.dtype.kind in "biuf" and b.dtype.kind in "biuf"
    if numeric:
        af, bf = a.astype(np.float64), b.astype(np.float64)
        same = (af == bf) | (np.isnan(af) & np.isnan(bf))
        gaps = np.abs(af - bf)[~same]
        most = float(gaps.max()) if gaps.size else 0.0
    else:
        same = a.astype(str) == b.astype(str)
        most = None
    differing = np.flatnonzero(~same)
    return PredictionChange(len(a), len(differing), most, differing[:SHOWN_ROWS].tolist())


def flips_on(
    ws: Workspace, before: Artifact, after: Artifact, rows: Any, label: str, task: str
) -> Flips:
    """Rows ``before`` got right and ``after`` gets wrong (negative flips), and the
    reverse, as :func:`loopml.evaluate` counts them against a champion."""
    from loopml.evaluation import _inputs as inputs
    from loopml.evaluation._flips import flips
    from loopml.evaluation._predict import ROWS, predictions

    def workspace() -> Workspace:
        return ws

    table = inputs.read(rows, workspace, "the evaluation rows")
    frame = table.frame
    inputs.check_label(frame, label, "the evaluation rows")
    y = inputs.labels(frame, label)
    new, old = inputs.load(after, workspace), inputs.load(before, workspace)
    p = predictions(task, new, inputs.model_input(new, table, label), y)
    other = old.labels(inputs.model_input(old, table, label), frame.height, on=ROWS)
    return flips(p, other, before.ref)
