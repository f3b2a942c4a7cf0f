"""Logged bandit data made from real labelled data, with the target's true value known.

The supervised-to-bandit conversion (Dudik, Langford and Li 2011): each row of a
multiclass dataset is a request, each class an action, and the reward is 1 when the
action is the row's true class. A logging policy — softmax of a weak model's scores
mixed with uniform exploration — draws one action per request and logs its
probability; the target policy is a softmax of a stronger model. With the full labels
the target's value is known exactly: the mean over the pool of its probability of the
true class. Requests are drawn from the pool with replacement, so they are independent
draws from a population whose value is that mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]

EXPLORATION = 0.2  # the share of requests the logging policy routes uniformly


@dataclass(frozen=True)
class Policies:
    """One split of a dataset: contexts and labels of the pool, and each policy's
    probability of every action for every pool row."""

    contexts: Floats
    labels: Ints
    logging: Floats
    target: Floats
    unexplored: Floats  # the logging policy without its exploration: a wrong log

    @property
    def true_value(self) -> float:
        return float(self.target[np.arange(len(self.labels)), self.labels].mean())


@dataclass(frozen=True)
class Log:
    rows: Ints  # pool positions of the requests
    actions: Ints
    propensities: Floats
    rewards: Floats


def digits_policies(split: int, classes: int = 5, train_rows: int = 300) -> Policies:
    """scikit-learn's bundled digits (images of the digits 0 to ``classes - 1``; 901 of
    them for 5) split at random: the models are fit on ``train_rows`` rows and the rest
    is the pool."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    features, labels = load_digits(n_class=classes, return_X_y=True)
    order = np.random.default_rng(split).permutation(len(labels))
    train, pool = order[:train_rows], order[train_rows:]
    components = PCA(16, random_state=split).fit(features[train])
    reduced = components.transform(features)
    reduced /= reduced[train].std()
    weak = LogisticRegression(C=0.01, max_iter=2_000).fit(reduced[train, :4], labels[train])
    strong = LogisticRegression(max_iter=2_000).fit(reduced[train], labels[train])
    greedy_weak = softmax(weak.decision_function(reduced[pool, :4]))
    actions = greedy_weak.shape[1]
    return Policies(
        contexts=reduced[pool],
        labels=labels[pool].astype(np.intp),
        logging=(1 - EXPLORATION) * greedy_weak + EXPLORATION / actions,
        target=softmax(strong.decision_function(reduced[pool]) / 2),
        unexplored=greedy_weak,
    )


def logged(policies: Policies, requests: int, seed: int) -> Log:
    """``requests`` drawn from the pool, each routed by the logging policy."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(policies.labels), requests)
    actions = draw(policies.logging[rows], rng)
    propensities = policies.logging[rows, actions]
    rewards = (actions == policies.labels[rows]).astype(np.float64)
    return Log(rows, actions, propensities, rewards)


def draw(probabilities: Floats, rng: np.random.Generator) -> Ints:
    """One action per row, drawn from that row's probabilities."""
    cumulative = probabilities.cumsum(axis=1)
    below = (rng.random(len(probabilities))[:, None] * cumulative[:, -1:] > cumulative).sum(1)
    return np.minimum(below, probabilities.shape[1] - 1).astype(np.intp)


def softmax(scores: Floats) -> Floats:
    from scipy.special import softmax as scipy_softmax

    return np.asarray(scipy_softmax(scores, axis=1), dtype=np.float64)
