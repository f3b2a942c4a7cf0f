"""What a piece of feedback is worth to a bandit: a reward given, or a label scored
against the prediction it is for: against the row it names, or, on no row, against
every row of the prediction (the share of them it matches), as the monitor's join
labels every row with it.

>>> reward_of(0.25, None, [1]), reward_of(None, "yes", ["yes"]), reward_of(None, 0, [1])
(0.25, 1.0, 0.0)
>>> reward_of(None, 2, [0, 2], row=1), reward_of(None, 0, [0, 2], row=1)
(1.0, 0.0)
>>> reward_of(None, 0, [0, 2, 0, 1])
0.5
>>> reward_of(None, None, [1]) is None, reward_of(None, 1, None) is None
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from loopml.errors import InvalidInput


def reward_of(
    reward: Any, label: Any, predicted: Sequence[Any] | None, row: int | None = None
) -> float | None:
    """``reward`` (a finite number), else, for ``label``, 1.0 when it is what row
    ``row`` of the prediction was and 0.0 when not (on no row, the share of the
    prediction's rows it is); None when neither is given, or when what was
    ``predicted`` (its values, one a row) is not known: a label for a prediction not
    known is recorded, and rewards nothing."""
    if reward is not None:
        if label is not None:
            raise InvalidInput(
                "feedback gives both reward and label; give one: reward (a number) for a "
                "bandit, or label (the true answer) to be scored against the prediction",
                field="reward",
            )
        if isinstance(reward, bool) or not isinstance(reward, int | float):
            raise InvalidInput(
                f"reward {reward!r:.60} is not a number; give one, such as 1 (a conversion) or 0",
                field="reward",
            )
        if not math.isfinite(reward):
            raise InvalidInput(f"reward {reward!r} is not finite; give a number", field="reward")
        return float(reward)
    if label is None or not predicted:
        return None
    if row is not None:
        if not 0 <= row < len(predicted):
            return None
        return 1.0 if _plain(label) == _plain(predicted[row]) else 0.0
    expected = _plain(label)
    return float(sum(_plain(value) == expected for value in predicted) / len(predicted))


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
