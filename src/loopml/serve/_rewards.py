"""What a piece of feedback is, checked the same wherever it comes in (the server's
``/v2/feedback``, :func:`loopml.feedback`, a file imported), and what it is worth to a
bandit: a reward given, or a label scored against the prediction it is for as the
monitor counts it (see :mod:`loopml.serve._labels`): against the row it names, or, on
no row, against every row of the prediction (the share of them it matches), as the
monitor's join labels every row with it.

>>> reward_of(0.25, None, [1]), reward_of(None, "yes", ["yes"]), reward_of(None, 0, [1])
(0.25, 1.0, 0.0)
>>> reward_of(None, "0", [0]), reward_of(None, "yes", [0]) is None
(1.0, True)
>>> reward_of(None, 2, [0, 2], row=1), reward_of(None, 0, [0, 2], row=1)
(1.0, 0.0)
>>> reward_of(None, 0, [0, 2, 0, 1])
0.5
>>> reward_of(None, None, [1]) is None, reward_of(None, 1, None) is None
(True, True)
>>> checked_feedback(None, [0])
Traceback (most recent call last):
...
loopml.errors.InvalidInput: label [0] is a list; a label is one value, ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from loopml.errors import InvalidInput
from loopml.serve._labels import checked_label, label_as


def checked_feedback(reward: Any, label: Any) -> tuple[float | None, Any]:
    """``reward`` (a finite number, as a float) and ``label`` (one value: see
    :func:`~loopml.serve._labels.checked_label`), each None when not given;
    InvalidInput naming the field when one is wrong, or when both are given."""
    if reward is not None:
        if label is not None:
            raise InvalidInput(
                f"feedback gives both reward ({reward!r:.30}) and label ({label!r:.30}); give "
                "one: reward (a number) for a bandit, or label (the true answer) to be "
                "scored against the prediction; give each as feedback of its own (in a "
                "file, a row each)",
                field="reward",
            )
        if isinstance(reward, bool) or not isinstance(reward, int | float):
            raise InvalidInput(
                f"reward {reward!r:.60} is not a number; give one, such as 1 (a conversion) or 0",
                field="reward",
            )
        if not math.isfinite(reward):
            raise InvalidInput(f"reward {reward!r} is not finite; give a number", field="reward")
        return float(reward), None
    return None, checked_label(label)


def reward_of(
    reward: float | None, label: Any, predicted: Sequence[Any] | None, row: int | None = None
) -> float | None:
    """``reward`` (checked by :func:`checked_feedback`), else, for ``label``, 1.0 when
    the monitor reads it as what row ``row`` of the prediction was and 0.0 when as
    another value (on no row, the share of the prediction's rows it is); None when
    neither is given, when the label cannot be read as the prediction's type (the
    monitor leaves such a label out), or when what was ``predicted`` (its values, one a
    row) is not known: a label for a prediction not known is recorded, and rewards
    nothing."""
    if reward is not None:
        return float(reward)
    if label is None or not predicted:
        return None
    if row is not None:
        if not 0 <= row < len(predicted):
            return None
        predicted = predicted[row : row + 1]
    matches = 0
    for value in predicted:
        read = label_as(label, value)
        if read is None:
            return None
        matches += read == _plain(value)
    return matches / len(predicted)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value
