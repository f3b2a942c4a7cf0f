"""What both backends take for arm statistics: the arguments of a call checked, before
anything is written (see :mod:`loopml.store._rows`).

>>> arm_deltas("churn", {"churn@v2": ArmStats(pulls=2), "churn@v1": ArmStats()})
[('churn@v2', 2, 0, 0.0)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from loopml.errors import InvalidInput
from loopml.store._deployment_rows import check_deployment_name
from loopml.store._records import ArmStats
from loopml.store.values import INT64, check_int, check_length

__all__ = ["ArmDelta", "arm_deltas"]

# (arm, pulls, rewards, reward_sum)
ArmDelta = tuple[str, int, int, float]

_COUNTS = (0, INT64[1])


def arm_deltas(deployment: str, deltas: Mapping[str, ArmStats]) -> list[ArmDelta]:
    """The deltas that add something, in arm order (the order writers lock rows in, so
    that two writers never wait for each other in a cycle)."""
    check_deployment_name(deployment)
    if not isinstance(deltas, Mapping):
        raise InvalidInput(
            f"the arm statistics of deployment {deployment!r} must be a mapping of arm to "
            f"ArmStats, not {deltas!r:.80}; give e.g. {{'churn@v3': ArmStats(pulls=1)}}",
            field="deltas",
        )
    rows: list[ArmDelta] = []
    for arm, delta in deltas.items():
        check_length(f"arm of deployment {deployment!r}", arm, 255)
        if not isinstance(delta, ArmStats):
            raise InvalidInput(
                f"the statistics of arm {arm!r} of deployment {deployment!r} must be an "
                f"ArmStats, not {delta!r:.80}",
                field="deltas",
            )
        pulls = check_int(f"pulls of arm {arm!r}", delta.pulls, _COUNTS)
        rewards = check_int(f"rewards of arm {arm!r}", delta.rewards, _COUNTS)
        reward_sum = _finite(arm, delta.reward_sum)
        if pulls or rewards or reward_sum:
            rows.append((arm, pulls, rewards, reward_sum))
    return sorted(rows)


def _finite(arm: str, value: object) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InvalidInput(
            f"reward_sum of arm {arm!r} is {value!r:.80}; give a finite number, the sum "
            "of the rewards received",
            field="deltas",
        )
    return number
