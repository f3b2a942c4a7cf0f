"""The router of one deployment: which arm (a model version) answers a request, and how
likely that choice was. Pure, in-process, and cheap: it is on every request's path and
never touches the store (:class:`~loopml.serve.ArmSharing` shares its statistics in the
background).

Fixed routing splits traffic by weights. A request with a key (a user id, a session)
is sticky: the key, hashed with BLAKE2b and the router's salt to a number in [0, 1),
falls in one arm's slice of the cumulative weights, so one key always gets one arm, in
every process and after every restart, and keys split by the weights. A request
without a key is a fresh random draw. Bandits (``epsilon-greedy``, ``ucb1``,
``thompson``; see :mod:`loopml.serve._bandits`) ignore keys and weights and learn from
the rewards given to :meth:`Router.reward`.

The probability returned with each choice is the chance that this arm had of answering
this request, for comparing policies offline (inverse propensity weighting): the
weight's share for fixed routing (for a keyed request, the share of keys the arm gets),
exact for epsilon-greedy and UCB1, a Monte Carlo estimate for Thompson sampling.

>>> router = Router(["churn@v3", "churn@v4"], [0.9, 0.1], salt="churn")
>>> arm, probability = router.choose("user-42")
>>> router.choose("user-42") == (arm, probability), probability in (0.9, 0.1)
(True, True)
>>> router.reward(arm, 1.0)
>>> router.stats()[router.arms[arm]]
ArmStats(pulls=2, rewards=1, reward_sum=1.0)
"""

from __future__ import annotations

import bisect
import hashlib
import math
import operator
import random
import threading
from collections.abc import Mapping, Sequence

from loopml.errors import InvalidInput
from loopml.serve._bandits import UCB1, EpsilonGreedy, Policy, Thompson
from loopml.store import ArmStats

__all__ = ["ROUTINGS", "Router"]

ROUTINGS = ("fixed", "epsilon-greedy", "ucb1", "thompson")
_UNIT = 2.0**-53  # 53 bits of a hash, scaled to [0, 1): exactly representable, never 1.0


class Router:
    """Chooses the arm that answers a request of one deployment.

    ``arms`` are concrete version refs (``churn@v3``), ``weights`` their shares of
    traffic under fixed routing (any non-negative numbers, not all zero; a canary is a
    small weight). ``routing`` is one of :data:`ROUTINGS`; ``epsilon`` the exploration
    rate of epsilon-greedy. ``salt`` changes which keys go where (give each experiment
    its own, or keep it to keep users on their arm); ``seed`` makes the random draws
    repeatable. ``stats`` are totals to start from, as the store holds them.

    Safe to call from an event loop and from threads at once: each call is one step
    under a lock held for a few hundred nanoseconds (longer only when Thompson sampling
    draws a new batch).
    """

    def __init__(
        self,
        arms: Sequence[str],
        weights: Sequence[float],
        *,
        routing: str = "fixed",
        epsilon: float = 0.1,
        salt: str = "",
        seed: int | None = None,
        stats: Mapping[str, ArmStats] | None = None,
    ) -> None:
        self.arms = _check_arms(arms)
        self.routing = _check_routing(routing)
        self.weights = _check_weights(weights, len(self.arms), fixed=routing == "fixed")
        self.epsilon = _check_epsilon(epsilon)
        if not isinstance(salt, str):
            raise InvalidInput(f"salt {salt!r:.80} must be text", field="salt")
        total = math.fsum(self.weights)
        self._shares = [w / total for w in self.weights] if total else [0.0] * len(self.arms)
        cumulative, running = [], 0.0
        for weight in self.weights:
            running += weight
            cumulative.append(running / total if total else 1.0)
        cumulative[-1] = 1.0  # no rounding leaves a sliver past the last arm
        self._cumulative = cumulative
        self._salted = hashlib.blake2b(
            salt.encode("utf-8", "surrogatepass") + b"\x00", digest_size=8
        )
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        size = len(self.arms)
        # what the store held at the last merge (plus what was taken since), and what
        # this router saw and has not handed to take_delta yet
        self._base = [ArmStats()] * size
        self._pulls, self._rewards, self._sums = [0] * size, [0] * size, [0.0] * size
        self._n, self._s = [0.0] * size, [0.0] * size  # rewards and sums, base + delta
        self._policy = _policy(self.routing, self.epsilon, seed)
        if stats is not None:
            self.merge(stats)

    def __repr__(self) -> str:
        return f"Router({list(self.arms)!r}, routing={self.routing!r})"

    def choose(self, key: str | None = None) -> tuple[int, float]:
        """(index of the arm, the probability this arm had of being chosen for this
        request); ``key`` makes fixed routing sticky and is ignored by bandits."""
        if self._policy is None:
            if key is None:
                with self._lock:
                    arm = bisect.bisect_right(self._cumulative, self._random.random())
                    self._pulls[arm] += 1
                return arm, self._shares[arm]
            if not isinstance(key, str):
                raise InvalidInput(f"routing key {key!r:.80} must be text", field="key")
            hashed = self._salted.copy()
            hashed.update(key.encode("utf-8", "surrogatepass"))
            point = (int.from_bytes(hashed.digest(), "big") >> 11) * _UNIT
            arm = bisect.bisect_right(self._cumulative, point)
            with self._lock:
                self._pulls[arm] += 1
            return arm, self._shares[arm]
        with self._lock:
            arm, probability = self._policy.choose(self._n, self._s, self._random)
            self._pulls[arm] += 1
        return arm, probability

    def reward(self, arm: int, value: float) -> None:
        """Feedback for a prediction the arm made: a number from 0 (bad) to 1 (good),
        such as 1.0 for a right label and 0.0 for a wrong one."""
        try:
            index = -1 if isinstance(arm, bool) else operator.index(arm)  # NumPy's ints too
        except TypeError:
            index = -1
        if not 0 <= index < len(self.arms):
            raise InvalidInput(
                f"arm {arm!r:.80} is not an arm of this router; give an index from 0 to "
                f"{len(self.arms) - 1}, as choose() returned it",
                field="arm",
            )
        try:
            reward = float(value)
        except (TypeError, ValueError):
            reward = math.nan
        if isinstance(value, bool) or not 0.0 <= reward <= 1.0:
            raise InvalidInput(
                f"reward {value!r:.80} for arm {self.arms[index]!r} must be a number from 0 "
                "to 1; scale it (e.g. 1.0 for a right prediction, 0.0 for a wrong one)",
                field="reward",
            )
        with self._lock:
            self._rewards[index] += 1
            self._sums[index] += reward
            self._n[index] += 1.0
            self._s[index] += reward
            if self._policy is not None:
                self._policy.changed()

    def stats(self) -> dict[str, ArmStats]:
        """What this router knows now, per arm: the shared totals of its last merge and
        what it saw since."""
        with self._lock:
            return {
                arm: base + ArmStats(self._pulls[i], self._rewards[i], self._sums[i])
                for i, (arm, base) in enumerate(zip(self.arms, self._base, strict=True))
            }

    def take_delta(self) -> dict[str, ArmStats]:
        """What this router saw since the last take, for the arms where it saw
        something; from now on it counts as part of the totals (until :meth:`merge`
        replaces them with the store's)."""
        with self._lock:
            delta = {}
            for i, arm in enumerate(self.arms):
                seen = ArmStats(self._pulls[i], self._rewards[i], self._sums[i])
                if seen != ArmStats():
                    delta[arm] = seen
                    self._base[i] = self._base[i] + seen
            size = len(self.arms)
            self._pulls, self._rewards, self._sums = [0] * size, [0] * size, [0.0] * size
            return delta

    def merge(self, totals: Mapping[str, ArmStats]) -> None:
        """Take the shared totals read from the store as what is known of each arm (an
        arm they do not name: nothing yet); what was seen since the last take stays on
        top of them."""
        with self._lock:
            base = [totals.get(arm, ArmStats()) for arm in self.arms]
            if base == self._base:
                return
            self._base = base
            for i, known in enumerate(base):
                self._n[i] = float(known.rewards + self._rewards[i])
                self._s[i] = known.reward_sum + self._sums[i]
            if self._policy is not None:
                self._policy.changed()


def _policy(routing: str, epsilon: float, seed: int | None) -> Policy | None:
    if routing == "epsilon-greedy":
        return EpsilonGreedy(epsilon)
    if routing == "ucb1":
        return UCB1()
    if routing == "thompson":
        return Thompson(seed)
    return None


def _check_arms(arms: Sequence[str]) -> tuple[str, ...]:
    if isinstance(arms, str) or not isinstance(arms, Sequence) or not arms:
        raise InvalidInput(
            f"arms {arms!r:.80} must be a non-empty list of version refs, such as "
            "['churn@v3', 'churn@v4']",
            field="arms",
        )
    for arm in arms:
        if not isinstance(arm, str) or not arm:
            raise InvalidInput(
                f"arm {arm!r:.80} must be a version ref, such as 'churn@v3'", field="arms"
            )
    if len(set(arms)) != len(arms):
        twice = sorted({arm for arm in arms if arms.count(arm) > 1})
        raise InvalidInput(
            f"arms {', '.join(twice)} are listed more than once; list each version once "
            "and give it the sum of its weights",
            field="arms",
        )
    return tuple(arms)


def _check_routing(routing: str) -> str:
    if routing not in ROUTINGS:
        raise InvalidInput(
            f"routing {routing!r:.80} is not one of {', '.join(ROUTINGS)}", field="routing"
        )
    return routing


def _check_weights(weights: Sequence[float], count: int, *, fixed: bool) -> tuple[float, ...]:
    if isinstance(weights, str) or not isinstance(weights, Sequence) or len(weights) != count:
        raise InvalidInput(
            f"weights {weights!r:.80} must be a list of {count} numbers, one per arm",
            field="weights",
        )
    checked = []
    for weight in weights:
        try:
            number = float(weight)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(weight, bool) or not 0.0 <= number < math.inf:
            raise InvalidInput(
                f"weight {weight!r:.80} must be a finite number of at least 0, such as 0.9",
                field="weights",
            )
        checked.append(number)
    if fixed and not math.fsum(checked) > 0:
        raise InvalidInput(
            f"weights {list(weights)!r:.80} are all 0, so no arm could answer; give at least "
            "one arm a positive weight",
            field="weights",
        )
    return tuple(checked)


def _check_epsilon(epsilon: float) -> float:
    try:
        number = float(epsilon)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(epsilon, bool) or not 0.0 <= number <= 1.0:
        raise InvalidInput(
            f"epsilon {epsilon!r:.80} must be a number from 0 to 1, the share of requests "
            "sent to an arm drawn at random (e.g. 0.1)",
            field="epsilon",
        )
    return number
