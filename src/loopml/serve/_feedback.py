"""``loopml.feedback``: tell loopml how a logged prediction turned out.

A reward (a number: what a bandit learns from) or the true label (one value: text, a
number or true/false; see :mod:`loopml.serve._labels`), not both, is written to the
feedback log at once. The model server's ``/v2/feedback`` endpoint writes through its
own, buffered :class:`~loopml.serve.FeedbackLog` instead, and
``loopml.serve.import_feedback`` records a file of them; all three check feedback
with :func:`~loopml.serve._rewards.checked_feedback`.

A label may come before its prediction is logged (a server writes its log every
second): it is recorded all the same, with no deployment (``matched`` is False), and
:func:`loopml.monitor.labelled` joins it to the prediction once the log has it. A
reward may not: it is credited to the bandit arm that made the prediction, which only
the logged prediction says, so it raises NotFound until then (try again).

>>> import tempfile, loopml
>>> from loopml._ids import new_id
>>> from loopml.serve import PredictionLog, PredictionRecord
>>> ws = loopml.init(tempfile.mkdtemp())
>>> with PredictionLog(ws) as log:
...     log.append(PredictionRecord("p1", None, 5, "churn", "churn@v1", 0, 1.0,
...         {"x": [1]}, {"predictions": [1]}, 300, None))
>>> feedback("p1", 1.0, workspace=ws).reward
1.0
>>> feedback("p1", label="yes", workspace=ws).matched
True
>>> early = new_id()  # a prediction the server has not logged yet
>>> feedback(early, label="yes", workspace=ws).matched
False
>>> feedback(early, 1.0, workspace=ws)
Traceback (most recent call last):
...
loopml.errors.NotFound: prediction '...' is not in the prediction log (yet): ...
>>> ws.close()
"""

from __future__ import annotations

import math
from numbers import Real
from typing import TYPE_CHECKING, Any

from loopml._ids import made_us
from loopml._time import now_us
from loopml.errors import InvalidInput, NotFound
from loopml.serve._known import logged_since
from loopml.serve._log import FeedbackLog, FeedbackRecord, PredictionRecord
from loopml.serve._read import find_prediction
from loopml.serve._rewards import checked_feedback

if TYPE_CHECKING:
    from loopml.workspace import Workspace


def feedback(
    prediction_id: str,
    reward_or_label: Any = None,
    *,
    reward: float | None = None,
    label: Any = None,
    row: int | None = None,
    workspace: Workspace | None = None,
) -> FeedbackRecord:
    """Record feedback on the prediction ``prediction_id`` (the id the server answered
    with): ``reward_or_label`` is a reward when it is a number (``True`` counts as 1),
    a label otherwise; give ``label=`` for a label that is a number. A label is one
    value (text, a number or true/false, not a list) and a reward a finite number;
    giving both, or another label, is InvalidInput. ``row`` is the row of a prediction
    of several rows the feedback is about (None: every row).

    A prediction the log does not hold yet takes a label (recorded with no deployment:
    ``matched`` False, joined once the prediction is logged) but not a reward, which
    raises NotFound until the prediction is logged (a server writes its log every
    second by default: try again). An id that is neither logged nor a loopml id is
    InvalidInput.
    """
    from loopml._context import workspace_in_use

    if reward_or_label is not None:
        if reward is not None or label is not None:
            raise InvalidInput(
                f"feedback on {prediction_id!r} got both a value ({reward_or_label!r}) and "
                "reward= or label=: give one of them",
                field="reward_or_label",
            )
        if isinstance(reward_or_label, Real):
            reward = float(reward_or_label)
        else:
            label = reward_or_label
    if reward is None and label is None:
        raise InvalidInput(
            f"feedback on {prediction_id!r} says nothing: give a reward (a number) or a "
            "label, e.g. loopml.feedback(id, 1.0) or loopml.feedback(id, label='yes')",
            field="reward_or_label",
        )
    reward, label = checked_feedback(_reward(reward), label)
    ws = workspace_in_use(workspace)
    found = find_prediction(prediction_id, ws, since=logged_since(prediction_id))
    if found is None:
        return _pending(ws, prediction_id, reward, label, row)
    _check_row(row, found.outputs, prediction_id)
    bandit = _bandit_reward(ws, found, reward, label, row)
    if bandit is not None and _had_feedback(ws, found):
        bandit = None  # an arm learns once a prediction: this one has taught it already
    record = FeedbackRecord(prediction_id, now_us(), reward, label, row, found.deployment)
    _write(ws, record)
    if bandit is not None:
        from loopml.store import ArmStats

        ws.store.add_arm_stats(
            found.deployment, {found.ref: ArmStats(rewards=1, reward_sum=bandit)}
        )
    return record


def _pending(
    ws: Workspace, prediction_id: str, reward: float | None, label: Any, row: int | None
) -> FeedbackRecord:
    """Feedback on a prediction the log does not hold: a label recorded to be joined
    later; a reward, or an id that is not ours, refused."""
    if made_us(prediction_id) is None:
        raise InvalidInput(
            f"prediction {prediction_id!r} is not in the prediction log, and is not an id "
            "loopml gives (32 hex digits): use the prediction_id of the server's answer",
            field="prediction_id",
        )
    if reward is not None:
        error = NotFound(
            f"prediction {prediction_id!r} is not in the prediction log (yet): a reward "
            "goes to the bandit arm that made the prediction, so it needs the prediction "
            "logged; a server writes its log every second by default, so try again "
            "shortly (a label, unlike a reward, is recorded before its prediction is logged)"
        )
        error.field = "prediction_id"
        raise error
    _check_row(row, None, prediction_id)
    record = FeedbackRecord(prediction_id, now_us(), None, label, row, None)
    _write(ws, record)
    return record


def _write(ws: Workspace, record: FeedbackRecord) -> None:
    log = FeedbackLog(ws)
    log.append(record)
    log.close()


def _had_feedback(ws: Workspace, found: PredictionRecord) -> bool:
    """Whether the log holds feedback on ``found`` already (read from its time on)."""
    import polars as pl

    from loopml._time import from_us
    from loopml.serve._read import feedback_records

    since = from_us(found.time_us)
    told = feedback_records(found.deployment, since=since, workspace=ws)
    return not told.filter(pl.col("prediction_id") == found.prediction_id).is_empty()


def _bandit_reward(
    ws: Workspace, found: PredictionRecord, reward: float | None, label: Any, row: int | None
) -> float | None:
    """What the feedback adds to the statistics of the bandit arm that made the
    prediction, which every server of the deployment merges: the reward (from 0 to 1,
    else InvalidInput), or for a label 1 when it is what row ``row`` was predicted and
    0 when not (on no row, the share of the prediction's rows it is).
    None when there is no bandit to reward: a deployment routing by fixed weights, one
    that is gone, or a fallback's or shadow's answer (no arm chose it)."""
    from loopml.serve._policy import Policy
    from loopml.serve._rewards import reward_of

    if found.arm is None or found.shadow or found.fallback:
        return None
    try:
        policy = Policy.from_dict(ws.store.get_deployment(found.deployment).policy)
    except (NotFound, InvalidInput):
        return None
    if policy.routing == "fixed":
        return None
    predicted = found.outputs.get("predictions") if isinstance(found.outputs, dict) else None
    rows = predicted if isinstance(predicted, list) else None
    value = reward if reward is not None else reward_of(None, label, rows, row)
    if value is not None and not 0.0 <= value <= 1.0:
        raise InvalidInput(
            f"reward {value!r} for a prediction of bandit deployment {found.deployment!r} "
            "must be from 0 to 1; scale it (1.0 for a success, 0.0 for a failure)",
            field="reward",
        )
    return value


def _reward(reward: Any) -> float | None:
    if reward is None:
        return None
    if not isinstance(reward, Real) or not math.isfinite(float(reward)):
        raise InvalidInput(
            f"reward {reward!r} must be a finite number (1.0 for a success, 0.0 for a "
            "failure, or any real-valued reward)",
            field="reward",
        )
    return float(reward)


def _check_row(row: Any, outputs: Any, prediction_id: str) -> None:
    if row is None:
        return
    rows = outputs.get("predictions") if isinstance(outputs, dict) else None
    count = len(rows) if isinstance(rows, list) else None
    if (
        isinstance(row, bool)
        or not isinstance(row, int)
        or row < 0
        or (count is not None and row >= count)
    ):
        held = f"rows 0 to {count - 1}" if count else "its rows, from 0"
        raise InvalidInput(
            f"row {row!r} is not a row of prediction {prediction_id!r}: give one of {held}, "
            "or None for feedback on every row",
            field="row",
        )
