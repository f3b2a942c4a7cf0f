"""The bandit policies a router can follow: each picks an arm from what is known of
every arm, and says how likely that pick was.

What a policy learns from is, per arm, how many rewards came back (``n``) and their
sum (``s``); rewards are numbers in [0, 1]. It never sees pulls: with feedback that
comes late or not at all, an arm pulled often but never rewarded is still unknown.

- **epsilon-greedy**: with probability epsilon an arm drawn uniformly, else the arm of
  the best mean reward (an arm not yet rewarded counts as best, so each is tried).
- **UCB1** (Auer et al. 2002): the arm of the highest ``mean + sqrt(2 ln N / n)``,
  ``N`` all rewards; arms not yet rewarded first. Deterministic but for ties.
- **Thompson sampling**, Beta-Bernoulli: each arm's reward rate has the posterior
  Beta(1 + s, 1 + n - s); the arm whose draw is highest is chosen. A reward ``r``
  between 0 and 1 counts as a Bernoulli trial of probability ``r``, by its expected
  outcome: ``r`` of a success and ``1 - r`` of a failure (Agrawal and Goyal draw the
  trial instead; counting its expectation keeps the totals shared between workers
  exact and is the same for 0/1 rewards).

Ties are broken uniformly at random, so a probability is exact: for epsilon-greedy
``epsilon / K`` plus ``(1 - epsilon) / ties`` for a best arm, for UCB1 ``1 / ties``.
Thompson's is estimated: the share of the arm among a batch of posterior draws.

>>> import random
>>> policy = EpsilonGreedy(epsilon=0.2)
>>> policy.choose([10, 10], [1.0, 5.0], random.Random(0))  # the better arm, exploiting
(1, 0.9)
>>> UCB1().choose([3, 0, 2], [1.0, 0.0, 2.0], random.Random(0))  # the arm never rewarded
(1, 1.0)
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["THOMPSON_DRAWS", "UCB1", "EpsilonGreedy", "Policy", "Thompson"]

# Posterior draws made at once by Thompson sampling: each serves one choice, and their
# shares estimate the probability of each arm (standard error at most 0.5/sqrt(256),
# about 3 points). A batch of 256 costs 30 to 40 microseconds, made again when it is
# used up, or when rewards changed the posterior: after each of the first 100
# rewards, then once the rewards grew by a hundredth (the posterior of 10,000 rewards
# hardly moves with one more, and a batch per reward would cost every request).
THOMPSON_DRAWS = 256
THOMPSON_STALE = 0.01


class Policy(Protocol):
    """A way of choosing an arm from per-arm reward counts ``n`` and sums ``s``.

    ``changed`` is called when ``n`` or ``s`` changed, so that a policy may keep what
    it computed until then; ``choose`` is called under the router's lock."""

    def changed(self) -> None: ...

    def choose(
        self, n: Sequence[float], s: Sequence[float], rng: random.Random
    ) -> tuple[int, float]: ...


class EpsilonGreedy:
    """Explore uniformly with probability ``epsilon``, else exploit the best mean."""

    def __init__(self, epsilon: float) -> None:
        self.epsilon = epsilon
        self._best: list[int] | None = None

    def changed(self) -> None:
        self._best = None

    def choose(
        self, n: Sequence[float], s: Sequence[float], rng: random.Random
    ) -> tuple[int, float]:
        if self._best is None:
            self._best = _best_means(n, s)
        best, arms = self._best, len(n)
        explore = self.epsilon / arms
        if rng.random() < self.epsilon:
            arm = rng.randrange(arms)
        else:
            arm = best[0] if len(best) == 1 else rng.choice(best)
        return arm, explore + ((1.0 - self.epsilon) / len(best) if arm in best else 0.0)


class UCB1:
    """The arm of the highest upper confidence bound; untried arms first."""

    def __init__(self) -> None:
        self._best: list[int] | None = None

    def changed(self) -> None:
        self._best = None

    def choose(
        self, n: Sequence[float], s: Sequence[float], rng: random.Random
    ) -> tuple[int, float]:
        if self._best is None:
            untried = [i for i, count in enumerate(n) if count == 0]
            if untried:
                self._best = untried
            else:
                log_total = math.log(sum(n))
                bounds = [s[i] / n[i] + math.sqrt(2.0 * log_total / n[i]) for i in range(len(n))]
                self._best = _argmax_all(bounds)
        best = self._best
        arm = best[0] if len(best) == 1 else rng.choice(best)
        return arm, 1.0 / len(best)


class Thompson:
    """Beta-Bernoulli Thompson sampling, drawing :data:`THOMPSON_DRAWS` posterior
    samples at a time with NumPy: the ``k``-th choice after a batch is drawn is the
    winner of its ``k``-th draw, one Thompson choice from the posterior of the batch
    (the current one, or one at most :data:`THOMPSON_STALE` of the rewards behind);
    its probability is its share of winners in the batch."""

    def __init__(self, seed: int | None, draws: int = THOMPSON_DRAWS) -> None:
        import numpy as np

        self._rng = np.random.default_rng(seed)
        self._draws = draws
        self._winners: list[int] = []
        self._shares: list[float] = []
        self._next = 0
        self._changed = False
        self._rewards_drawn = 0.0  # the rewards the batch was drawn from

    def changed(self) -> None:
        self._changed = True

    def choose(
        self, n: Sequence[float], s: Sequence[float], rng: random.Random
    ) -> tuple[int, float]:
        if self._next >= len(self._winners) or (
            self._changed
            and abs(sum(n) - self._rewards_drawn) >= max(1.0, self._rewards_drawn * THOMPSON_STALE)
        ):
            self._refresh(n, s)
        arm = self._winners[self._next]
        self._next += 1
        return arm, self._shares[arm]

    def _refresh(self, n: Sequence[float], s: Sequence[float]) -> None:
        import numpy as np

        draws: Any = np.empty((len(n), self._draws))
        for arm, (count, total) in enumerate(zip(n, s, strict=True)):
            # a sum a hair outside [0, count] (float rounding) must not make beta fail
            successes = min(max(total, 0.0), count)
            draws[arm] = self._rng.beta(1.0 + successes, 1.0 + count - successes, self._draws)
        winners = draws.argmax(axis=0)
        self._winners = winners.tolist()
        self._shares = (np.bincount(winners, minlength=len(n)) / self._draws).tolist()
        self._next = 0
        self._changed = False
        self._rewards_drawn = sum(n)


def _best_means(n: Sequence[float], s: Sequence[float]) -> list[int]:
    untried = [i for i, count in enumerate(n) if count == 0]
    if untried:
        return untried
    return _argmax_all([s[i] / n[i] for i in range(len(n))])


def _argmax_all(values: Sequence[float]) -> list[int]:
    top = max(values)
    return [i for i, value in enumerate(values) if value == top]
