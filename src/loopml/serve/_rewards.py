"""What a piece of feedback is worth to a bandit: a reward given, or a label scored
against the prediction it is for.

>>> reward_of(0.25, None, 1), reward_of(None, "yes", "yes"), reward_of(None, 0, 1)
(0.25, 1.0, 0.0)
>>> reward_of(None, None, 1) is None
True
"""

from __future__ import annotations

import math
from typing import Any

from loopml.errors import InvalidInput


def reward_of(reward: Any, label: Any, predicted: Any) -> float | None:
    """``reward`` (a finite number), else 1.0 when ``label`` is what was predicted and
    0.0 when it is not; None when neither is given (a label for a prediction not known
    is recorded, and rewards nothing)."""
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
    if label is None or predicted is None:
        return None
    return 1.0 if _plain(label) == _plain(predicted) else 0.0


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
