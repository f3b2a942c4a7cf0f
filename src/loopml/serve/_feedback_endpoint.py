"""``POST /v2/feedback``: a reward or label for a prediction, recorded in the server's
feedback log, and the reward given to the bandit arm that made the prediction.

The prediction is looked up in what the server knows (see :mod:`loopml.serve._known`):
its own recent answers, then the prediction log around the time its id holds. Feedback
may come before the prediction is logged (another worker answered it and has not
written its log yet): a label is then recorded all the same, with no deployment, and
the answer says ``"matched": false``; :func:`loopml.monitor.labelled` joins it to its
prediction once that is logged. A reward is not: it is credited to the arm that made
the prediction, so it needs the prediction known, and is refused with 404 (send it
again once the log has it, within the log's flush interval). An id that cannot be one
of ours is a 400.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml._ids import made_us
from loopml._time import now_us
from loopml.errors import InvalidInput, NotFound
from loopml.serve._known import Known, known_in_log, logged_since
from loopml.serve._log import FeedbackRecord
from loopml.serve._rewards import checked_feedback, reward_of

if TYPE_CHECKING:
    from loopml.serve._engine import Engine
    from loopml.serve._log import FeedbackLog
    from loopml.workspace import Workspace

FIELDS = ("prediction_id", "reward", "label", "row")


class FeedbackEndpoint:
    """Takes feedback for the predictions of ``engine``'s server; see the module text."""

    def __init__(
        self, workspace: Workspace, engine: Engine, log: FeedbackLog, flush_seconds: float
    ) -> None:
        self.workspace = workspace
        self.engine = engine
        self.log = log
        self.flush_seconds = flush_seconds
        self._reading = asyncio.Lock()  # one read of the log at a time: the next finds it known

    async def __call__(self, given: Mapping[str, Any]) -> dict[str, Any]:
        prediction_id, reward, label, row = _checked(given)
        known = self.engine.recent.get(prediction_id)
        if known is None:
            known = await self._from_log(prediction_id)
        if known is None:
            return self._pending(prediction_id, reward, label, row)
        if row is not None and known.rows is not None and row >= known.rows:
            raise InvalidInput(
                f"row {row} is not a row of prediction {prediction_id!r}, which has "
                f"{known.rows}: give one from 0 to {known.rows - 1}, or leave row out for "
                "feedback on every row",
                field="row",
            )
        # a fallback's or a shadow's answer rewards no arm; an arm learns once a prediction
        credits = (
            known.chosen
            and self.engine.learns(known.deployment)
            and not self.engine.recent.credited(prediction_id)
        )
        predicted = known.values
        if predicted is None and label is not None and credits:
            # more rows than kept known: read from the log, only when a label's reward
            # would credit an arm (a read per feedback on each row of a batch's answer
            # would cost milliseconds each)
            predicted = await self._predicted(prediction_id)
        value = reward_of(reward, label, predicted, row)
        rewarded = False
        if value is not None and credits:
            rewarded = self.engine.reward(known.deployment, known.ref, value)  # checks 0 to 1
            self.engine.recent.credit(prediction_id)
        self.log.append(
            FeedbackRecord(prediction_id, now_us(), reward, label, row, known.deployment)
        )
        return {
            "prediction_id": prediction_id,
            "matched": True,
            "deployment": known.deployment,
            "version": known.ref,
            "reward": value,
            "rewarded": rewarded,
        }

    async def _predicted(self, prediction_id: str) -> tuple[Any, ...] | None:
        """The predicted values of a logged prediction, read from the log (None when it
        is not written yet)."""
        from loopml.serve._read import find_prediction

        since = logged_since(prediction_id)
        found = await asyncio.to_thread(find_prediction, prediction_id, self.workspace, since=since)
        values = None if found is None else found.outputs.get("predictions")
        return tuple(values) if isinstance(values, list) else None

    async def _from_log(self, prediction_id: str) -> Known | None:
        async with self._reading:
            known = self.engine.recent.get(prediction_id)  # read by the one before, maybe
            if known is not None:
                return known
            found, read = await asyncio.to_thread(known_in_log, self.workspace, prediction_id)
            self.engine.recent.remember_all(read)
            return found

    def _pending(
        self, prediction_id: str, reward: float | None, label: Any, row: int | None
    ) -> dict[str, Any]:
        """Feedback on a prediction not logged (yet): a label is recorded, to be joined
        when the prediction is logged; a reward is refused, as it needs the arm."""
        if reward is not None:
            raise NotFound(
                f"no prediction {prediction_id!r} is logged yet, and a reward goes to the "
                "arm that made the prediction: send it again once the prediction is logged "
                f"(a server writes its log within {self.flush_seconds:g} s of an answer), "
                "or give the id an answer named",
                field="prediction_id",
            )
        self.log.append(FeedbackRecord(prediction_id, now_us(), None, label, row, None))
        return {
            "prediction_id": prediction_id,
            "matched": False,
            "deployment": None,
            "version": None,
            "reward": None,
            "rewarded": False,
        }


def _checked(given: Mapping[str, Any]) -> tuple[str, float | None, Any, int | None]:
    """The fields of a feedback body, checked: InvalidInput naming the one at fault."""
    prediction_id = given.get("prediction_id")
    if not isinstance(prediction_id, str) or not prediction_id:
        raise InvalidInput(
            "feedback needs prediction_id: the id a prediction's answer gave "
            "(X-Loopml-Prediction-Id, or parameters.prediction_id)",
            field="prediction_id",
        )
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise InvalidInput(
            f"feedback has unknown field(s) {', '.join(unknown)}; give prediction_id and "
            "reward (a number) or label",
            field=unknown[0],
        )
    if made_us(prediction_id) is None:
        raise InvalidInput(
            f"prediction_id {prediction_id!r:.60} is not an id this server gives: give the "
            "prediction_id of an answer (32 hex digits, in X-Loopml-Prediction-Id or "
            "parameters.prediction_id)",
            field="prediction_id",
        )
    reward, label, row = given.get("reward"), given.get("label"), given.get("row")
    if row is not None and (isinstance(row, bool) or not isinstance(row, int) or row < 0):
        raise InvalidInput(
            f"row {row!r:.40} is not a row number; give the row of the prediction the "
            "feedback is about (0 for the first), or leave it out",
            field="row",
        )
    if reward is None and label is None:
        raise InvalidInput(
            "feedback says nothing: give reward (a number, 1 for a success) or label "
            "(the true answer)" + (", not null" if "label" in given or "reward" in given else ""),
            field="label" if "label" in given else "reward",
        )
    reward, label = checked_feedback(reward, label)
    return prediction_id, reward, label, row
