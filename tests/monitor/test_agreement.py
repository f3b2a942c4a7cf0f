"""Reviewer agreement with known answers: Cohen's and Fleiss' kappa against values
computed by hand (the textbook examples), against scikit-learn and statsmodels on the
same labels, and on real labelled datasets (scikit-learn's digits, statsmodels'
anes96) where simulated reviewers are right at a known rate, so the kappa expected is
known; a reviewer who guesses gets a kappa near 0, and a pair of classes the
guidelines leave unclear stands out in the per-class figures."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import cohen_kappa_score
from statsmodels.datasets import anes96
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from loopml.monitor import agreement_of

SEEDS = range(30)


def ratings(labels: dict[str, np.ndarray]) -> list[tuple[str, str, object]]:
    """(item, reviewer, label) for reviewers' labels of the same items."""
    return [
        (f"i{n}", who, int(value)) for who, given in labels.items() for n, value in enumerate(given)
    ]


def reviewer(truth: np.ndarray, right: float, classes: int, rng: np.random.Generator) -> np.ndarray:
    """A reviewer right with probability ``right``, else any other class, uniformly."""
    wrong = (truth + rng.integers(1, classes, truth.size)) % classes
    return np.where(rng.random(truth.size) < right, truth, wrong)


def expected_kappa(truth: np.ndarray, right: float, classes: int) -> float:
    """The kappa two such reviewers have on average, from the class shares."""
    shares = np.bincount(truth, minlength=classes) / truth.size
    agree = right**2 + (1 - right) ** 2 / (classes - 1)
    given = right * shares + (1 - right) * (1 - shares) / (classes - 1)
    chance = float((given**2).sum())
    return (agree - chance) / (1 - chance)


def test_cohens_kappa_is_the_textbook_value() -> None:
    # 50 items: both yes 20, only the first yes 5, only the second yes 10, both no 15:
    # agreement 0.7, chance 0.5*0.6 + 0.5*0.4 = 0.5, kappa (0.7-0.5)/(1-0.5) = 0.4
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10
    pairs += [("no", "no")] * 15
    found = agreement_of(
        [(f"i{n}", "a", a) for n, (a, _) in enumerate(pairs)]
        + [(f"i{n}", "b", b) for n, (_, b) in enumerate(pairs)]
    )
    assert (found.method, found.items, found.labels_per_item) == ("cohen", 50, None)
    assert found.kappa == pytest.approx(0.4)
    assert [(r.reviewer, r.items, r.agreement) for r in found.reviewers] == [
        ("a", 50, 0.7),
        ("b", 50, 0.7),
    ]
    assert [(c.label, c.share) for c in found.classes] == [("no", 0.45), ("yes", 0.55)]


FLEISS_TABLE = [  # Fleiss (1971) as Wikipedia works it: 10 items, 14 raters, 5 classes
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_is_the_textbook_value_and_per_class_by_hand() -> None:
    rated = []
    for item, counts in enumerate(FLEISS_TABLE):
        labels = [c for c, count in enumerate(counts) for _ in range(count)]
        rated += [(f"i{item}", f"r{n}", label) for n, label in enumerate(labels)]
    found = agreement_of(rated)
    assert (found.method, found.items, found.labels_per_item) == ("fleiss", 10, 14)
    assert found.kappa == pytest.approx(0.20993, abs=1e-5)
    table = np.array(FLEISS_TABLE, dtype=float)
    items, raters = table.shape[0], 14
    shares = table.sum(axis=0) / (items * raters)
    by_hand = 1 - (table * (raters - table)).sum(axis=0) / (
        items * raters * (raters - 1) * shares * (1 - shares)
    )
    assert [c.kappa for c in found.classes] == pytest.approx(by_hand.tolist())
    assert [c.share for c in found.classes] == pytest.approx(shares.tolist())


def test_two_reviewers_on_digits_agree_as_their_error_rate_says() -> None:
    truth = load_digits().target  # 1,797 real labels, 10 classes
    for right in (0.95, 0.8, 0.6):
        kappas = []
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            a, b = reviewer(truth, right, 10, rng), reviewer(truth, right, 10, rng)
            found = agreement_of(ratings({"a": a, "b": b}))
            assert found.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
            table = np.zeros((10, 10))
            np.add.at(table, (a, b), 1)
            assert found.kappa == pytest.approx(cohens_kappa(table).kappa, abs=1e-12)
            kappas.append(found.kappa)
        assert np.mean(kappas) == pytest.approx(expected_kappa(truth, right, 10), abs=0.01)


def test_a_reviewer_who_guesses_has_a_kappa_near_zero() -> None:
    truth = load_digits().target
    kappas = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        careful = reviewer(truth, 0.95, 10, rng)
        guessing = rng.integers(0, 10, truth.size)
        found = agreement_of(ratings({"careful": careful, "guessing": guessing}))
        assert abs(found.kappa) < 0.06
        kappas.append(found.kappa)
    assert abs(np.mean(kappas)) < 0.01


def test_three_reviewers_on_anes96_give_statsmodels_fleiss_kappa() -> None:
    # the party identification of 944 voters of the 1996 American election: 7 classes,
    # far from balanced
    truth = anes96.load_pandas().data["PID"].to_numpy().astype(int)
    kappas = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        given = {who: reviewer(truth, 0.8, 7, rng) for who in ("a", "b", "c")}
        found = agreement_of(ratings(given))
        counts, _ = aggregate_raters(np.column_stack(list(given.values())), n_cat=7)
        assert found.method == "fleiss"
        assert found.kappa == pytest.approx(fleiss_kappa(counts, method="fleiss"), abs=1e-12)
        kappas.append(found.kappa)
    assert np.mean(kappas) == pytest.approx(expected_kappa(truth, 0.8, 7), abs=0.01)


def test_classes_the_guidelines_leave_unclear_stand_out() -> None:
    truth = load_digits().target
    rng = np.random.default_rng(0)
    unclear = np.isin(truth, (3, 5))  # the guidelines do not say how 3 and 5 differ
    given = {
        who: np.where(unclear, rng.choice([3, 5], truth.size), reviewer(truth, 0.97, 10, rng))
        for who in ("ann", "bob", "cy")
    }
    by_class = {c.label: c.kappa for c in agreement_of(ratings(given)).classes}
    assert sorted(by_class, key=lambda c: by_class[c])[:2] in ([3, 5], [5, 3])
    assert max(by_class[3], by_class[5]) < 0.5
    assert min(k for c, k in by_class.items() if c not in (3, 5)) > 0.9


def test_a_careless_reviewer_stands_out() -> None:
    truth = load_digits().target
    rng = np.random.default_rng(1)
    given = {who: reviewer(truth, 0.9, 10, rng) for who in ("ann", "bob", "cy")}
    given["dee"] = rng.integers(0, 10, truth.size)  # labels without looking
    found = agreement_of(ratings(given))
    by_reviewer = {r.reviewer: r for r in found.reviewers}
    assert abs(by_reviewer["dee"].kappa) < 0.05
    assert min(by_reviewer[w].kappa for w in ("ann", "bob", "cy")) > 0.8
    assert by_reviewer["ann"].items < truth.size  # items where the others tie are left out
    assert by_reviewer["dee"].agreement == pytest.approx(0.1, abs=0.03)


def test_too_few_labels_or_one_class_give_no_kappa() -> None:
    assert agreement_of([]).method is None
    alone = agreement_of([("i1", "ann", 1), ("i2", "ann", 0)])
    assert (alone.method, alone.kappa, alone.items) == (None, None, 0)
    same = agreement_of([(f"i{n}", who, 1) for n in range(5) for who in ("ann", "bob")])
    assert same.kappa is None  # agreement by chance is certain: undefined
    assert [c.kappa for c in same.classes] == [None]
    # 1 and 1.0 are one class; a second label by one reviewer replaces the first
    mixed = agreement_of(
        [("i1", "ann", 1), ("i1", "bob", 1.0), ("i2", "ann", 0), ("i2", "bob", 1),
         ("i2", "bob", 0)]
    )  # fmt: skip
    assert mixed.kappa == pytest.approx(1.0)
