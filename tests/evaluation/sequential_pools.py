"""Real outcomes for the sequential A/B test's simulations, and the simulator.

The pools are per-row outcomes of real models on real datasets shipped in packages,
each row predicted out of fold (5-fold cross-validation), so that they are what the
model would meet live:

- ``correctness``: right (1) or wrong (0), a logistic regression telling from
  statsmodels' ``fair`` survey (6,366 women) who had an affair; 72.3% right; and
  ``rating_only_correctness``, the same model seeing one of its 8 columns, 70.3%.
- ``true_class_probability``: that model's probability of the true class, a reward in
  [0, 1] (mean 0.63, sd 0.22).
- ``accurate_correctness``: a logistic regression on scikit-learn's breast cancer
  set, 98.1% right.
- ``squared_errors``: a ridge regression's squared error on scikit-learn's diabetes
  set (442 patients), heavy-tailed (mean about 3,000, sd about 3,800); and
  ``bmi_squared_errors``, a weaker one that sees body-mass index alone.

A simulation resamples each arm's outcomes from its pool, many tests at once, and
looks at all of them after every batch through :func:`loopml.evaluation._mixture.advance`
— the code every :func:`~loopml.evaluation.fold_outcomes` runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loopml.evaluation import SequentialState
from loopml.evaluation import _mixture as mixture

Pool = npt.NDArray[np.float64]


@functools.cache
def _fair_model(columns: tuple[str, ...] | None = None) -> tuple[Pool, Pool]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from statsmodels.datasets import fair

    data = fair.load_pandas().data
    y = (data["affairs"] > 0).to_numpy()
    x = data.drop(columns="affairs") if columns is None else data[list(columns)]
    model = LogisticRegression(max_iter=1_000)
    proba = cross_val_predict(model, x, y, cv=5, method="predict_proba")[:, 1]
    right = ((proba > 0.5) == y).astype(np.float64)
    return right, np.where(y, proba, 1 - proba)


def correctness() -> Pool:
    return _fair_model()[0]


def rating_only_correctness() -> Pool:
    """The same model seeing only how happy the marriage is rated: 70.3% right."""
    return _fair_model(("rate_marriage",))[0]


def true_class_probability() -> Pool:
    return _fair_model()[1]


@functools.cache
def accurate_correctness() -> Pool:
    """A scaled logistic regression on scikit-learn's breast cancer set (569 patients):
    98.1% right, so a small arm often starts with every outcome right."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
    return (cross_val_predict(model, x, y, cv=5) == y).astype(np.float64)


@functools.cache
def _diabetes_errors(columns: tuple[int, ...] | None) -> Pool:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_predict

    x, y = load_diabetes(return_X_y=True)
    if columns is not None:
        x = x[:, list(columns)]
    predicted = cross_val_predict(Ridge(alpha=0.1), x, y, cv=5)
    return np.asarray((predicted - y) ** 2, dtype=np.float64)


def squared_errors() -> Pool:
    return _diabetes_errors(None)


def bmi_squared_errors() -> Pool:
    return _diabetes_errors((2,))  # the body-mass index column


def lifted(pool: Pool, lift: float, seed: int) -> Pool:
    """``pool`` of 0/1 outcomes with ``lift`` of its rows (rounded to whole rows),
    chosen among the wrong ones, made right: the same model, ``lift`` more accurate."""
    rng = np.random.default_rng(seed)
    wrong = np.flatnonzero(pool == 0)
    better = pool.copy()
    better[rng.choice(wrong, round(lift * len(pool)), replace=False)] = 1.0
    return better


@dataclass(frozen=True)
class Simulated:
    """Where each simulated test stood after its last look."""

    verdict: npt.NDArray[np.int8]
    decided_at: npt.NDArray[np.int64]  # the look; 0 while undecided
    low: Pool
    high: Pool

    def share(self, verdict: int) -> float:
        return float(np.mean(self.verdict == verdict))

    def decided_by(self, verdict: int, look: int) -> float:
        """The share of tests that reached ``verdict`` at or before ``look``."""
        return float(np.mean((self.verdict == verdict) & (self.decided_at <= look)))


def simulate(
    state: SequentialState,
    champion: Pool,
    challenger: Pool,
    *,
    tests: int,
    batches: int,
    champion_batch: int = 100,
    challenger_batch: int = 100,
    seed: int,
) -> Simulated:
    """``tests`` tests of ``state``'s design, each folding ``batches`` batches of
    outcomes resampled from the pools (with replacement) and looked at after each."""
    rng = np.random.default_rng(seed)
    running = mixture.Running(
        np.ones(tests),
        np.full(tests, -np.inf),
        np.full(tests, np.inf),
        np.zeros(tests, dtype=np.int8),
        np.zeros(tests, dtype=np.int64),
    )
    zeros = np.zeros(tests)
    totals = {"champion": (zeros, zeros, zeros), "challenger": (zeros, zeros, zeros)}
    arms = (("champion", champion, champion_batch), ("challenger", challenger, challenger_batch))
    for look in range(1, batches + 1):
        for arm, pool, batch in arms:
            drawn = pool[rng.integers(0, len(pool), size=(tests, batch))]
            n, total, squares = totals[arm]
            totals[arm] = (n + batch, total + drawn.sum(axis=1), squares + (drawn**2).sum(axis=1))
        running, _, _ = mixture.advance(
            state.design, totals["champion"], totals["challenger"], running, look
        )
    return Simulated(running.verdict, running.decided_at, running.low, running.high)
