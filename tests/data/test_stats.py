"""The statistics against SciPy on raw data, and against what other tools get wrong."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as scipy_stats

from loopml.data import infer_schema, profile, validate_profile
from loopml.data._evidence import categorical_test, numeric_tests
from loopml.data._profile import sorted_quantiles
from loopml.data._stats import ks_statistic, wasserstein


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return np.sort(rng.normal(0, 1, 200_000)), np.sort(rng.gamma(2.0, 0.6, 150_000))


def test_distances_from_quantiles_match_scipy_on_the_raw_data(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    a, b = pair
    qa, qb = sorted_quantiles(a), sorted_quantiles(b)
    assert wasserstein(qa, qb) == pytest.approx(scipy_stats.wasserstein_distance(a, b), rel=0.01)
    assert ks_statistic(qa, qb) == pytest.approx(scipy_stats.ks_2samp(a, b).statistic, abs=0.002)


def test_chi_square_is_the_two_sample_test_of_homogeneity() -> None:
    ref, cur = [120, 80, 40, 10], [1300, 1100, 500, 100]
    expected = scipy_stats.chi2_contingency([ref, cur], correction=False)
    found = categorical_test(ref, cur)
    assert (found["chisquare"], found["chisquare_p"]) == pytest.approx(
        (expected.statistic, expected.pvalue)
    )


def test_a_small_reference_does_not_make_chi_square_cry_wolf() -> None:
    # Both tables come from the same distribution. A goodness-of-fit test that takes
    # the small reference's shares as exact rejects far more often than its level; the
    # two-sample test keeps close to it. 300 trials, bounded.
    rng = np.random.default_rng(12)
    shares = [0.4, 0.3, 0.2, 0.1]
    two_sample = one_sample = 0
    trials = 300
    for _ in range(trials):
        ref = rng.multinomial(150, shares)
        cur = rng.multinomial(20_000, shares)
        two_sample += categorical_test(list(ref), list(cur))["p"] < 0.05
        expected = ref / ref.sum() * cur.sum()
        one_sample += scipy_stats.chisquare(cur, expected).pvalue < 0.05
    assert two_sample / trials < 0.10
    assert one_sample / trials > 0.5


def test_ks_p_values_are_sized_for_the_sample_they_use() -> None:
    # 1M rows each: an untouched column's effect is far below its threshold, so it is
    # not tested at all; a shifted one is, on the stored samples, and says so.
    rng = np.random.default_rng(13)
    ref = profile(pl.DataFrame({"x": rng.normal(0, 1, 1_000_000)}))
    same = profile(pl.DataFrame({"x": rng.normal(0, 1, 1_000_000)}))
    moved = profile(pl.DataFrame({"x": rng.normal(0.2, 1, 1_000_000)}))
    (untouched,) = validate_profile(same, reference=ref).drift
    assert untouched.p_value is None
    assert not untouched.drifted
    (drift,) = validate_profile(moved, reference=ref).drift
    assert drift.measures["test_rows"] == 5000
    exact = scipy_stats.ks_2samp(ref.sample_values("x"), moved.sample_values("x"))
    assert drift.measures["ks_p"] == pytest.approx(exact.pvalue)
    assert drift.drifted


def test_new_extremes_are_not_out_of_range() -> None:
    # A fresh draw of a million rows nearly always goes past the reference's min and
    # max; that is not an anomaly, as long as few rows are outside the learned range.
    rng = np.random.default_rng(14)
    ref = profile(pl.DataFrame({"x": rng.standard_t(5, 1_000_000)}))
    cur = profile(pl.DataFrame({"x": rng.standard_t(5, 1_000_000)}))
    assert cur.column("x").min < ref.column("x").min or cur.column("x").max > ref.column("x").max
    assert validate_profile(cur, schema=infer_schema(ref), reference=ref).anomalies == ()


def test_a_missing_share_within_tolerance_is_not_an_anomaly() -> None:
    rng = np.random.default_rng(15)

    def table(missing: float) -> pl.DataFrame:
        values = pl.Series("x", rng.normal(0, 1, 50_000))
        missing_rows = pl.Series(rng.random(50_000) < missing)
        # An id column keeps the rows with a missing x from being duplicates.
        return pl.DataFrame({"id": range(50_000), "x": values.set(missing_rows, None)})

    schema = infer_schema(profile(table(0.05)))
    assert validate_profile(profile(table(0.052)), schema=schema).anomalies == ()
    (anomaly,) = validate_profile(profile(table(0.09)), schema=schema).anomalies
    assert anomaly.kind == "missing_values"
    assert anomaly.evidence["share"] == pytest.approx(0.09, abs=0.005)


def test_the_numeric_tests_are_scipys() -> None:
    """KS and Cramér-von Mises as SciPy gives them, small sizes included; with ties,
    Cramér-von Mises on the ranks with the ties broken at random."""
    from loopml.data._evidence import _untied_ranks

    rng = np.random.default_rng(12)
    for _ in range(200):
        ref = rng.normal(size=rng.integers(2, 80))
        cur = rng.normal(0.2, 1, size=rng.integers(2, 80))
        found = numeric_tests(ref, cur)
        assert found["ks_p"] == scipy_stats.ks_2samp(ref, cur).pvalue
        assert found["cvm_p"] == pytest.approx(scipy_stats.cramervonmises_2samp(ref, cur).pvalue)
        assert found["p"] == min(1.0, 2 * min(found["ks_p"], found["cvm_p"]))
        tied_ref, tied_cur = np.round(ref, 1), np.round(cur, 1)
        found = numeric_tests(tied_ref, tied_cur)
        assert found["ks_p"] == scipy_stats.ks_2samp(tied_ref, tied_cur).pvalue
        untied = _untied_ranks(np.sort(tied_ref), np.sort(tied_cur))  # ties broken in order
        assert found["cvm_p"] == scipy_stats.cramervonmises_2samp(*untied).pvalue


def test_cramer_von_mises_keeps_its_level_with_many_ties() -> None:
    """Whole numbers of few values, samples of unequal sizes (a window against its
    reference): SciPy's test on the values says p < 0.05 for nearly every pair drawn
    from one distribution; with the ties broken at random, for about 5%."""
    rng = np.random.default_rng(3)
    ours, scipys = [], []
    for _ in range(300):
        ref = np.round(rng.normal(size=5000) * 8)
        cur = np.round(rng.normal(size=365) * 8)
        ours.append(numeric_tests(ref, cur)["cvm_p"])
        scipys.append(scipy_stats.cramervonmises_2samp(ref, cur).pvalue)
    assert np.mean(np.array(scipys) < 0.05) > 0.9  # what the ties did
    assert np.mean(np.array(ours) < 0.05) <= 0.07
    shifted = [
        numeric_tests(np.round(rng.normal(size=5000) * 8), np.round(rng.normal(0.2, 1, 365) * 8))
        for _ in range(100)
    ]
    assert np.mean([found["cvm_p"] < 0.05 for found in shifted]) > 0.8  # power kept


def test_moments_of_values_whose_squares_pass_the_largest_float_are_finite() -> None:
    import warnings

    table = pl.DataFrame(
        {
            "x": [1e200, -1e200, 3e200, None],  # squares past 1e308: numpy gives inf
            "y": [1.5e308, 1.5e308, 1.5e308, 1.5e308],  # the sum passes it
            "z": [1.0, 2.0, 3.0, 4.0],  # untouched
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing said about overflow either
        columns = {c.name: c for c in profile(table).columns}
    assert columns["x"].mean == pytest.approx(1e200)
    assert columns["x"].std == pytest.approx(2e200)  # 1e200 * std([1, -1, 3])
    assert columns["y"].mean == pytest.approx(1.5e308)
    assert columns["y"].std == 0.0
    assert (columns["z"].mean, columns["z"].std) == (2.5, np.std([1.0, 2, 3, 4], ddof=1))


@pytest.mark.parametrize("width", [50, 120, 400])
def test_a_replaced_category_set_drifts_however_many_columns_are_compared(width: int) -> None:
    # The digits' 64 pixel columns, widened with more of them, and a category column
    # whose values the new batch replaces. The rows holding values never seen before
    # are tested by permutations; Holm holds the smallest p-value to 0.05 / columns,
    # so the draws must reach below it: 2,000 of them (p >= 1/2001) never could past
    # 100 columns.
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(14)
    pixels = rng.permutation(load_digits().data)  # a random split: the same rows' law
    columns = {f"p{i}": pixels[:, i % 64] + rng.normal(0, 0.01, len(pixels)) for i in range(width)}
    frame = pl.DataFrame(columns).with_columns(
        cat=pl.Series(rng.choice(["a", "b", "c"], len(pixels)))
    )
    before, after = frame[:900], frame[900:]
    after = after.with_columns(cat=pl.Series(rng.choice(["x", "y", "z"], len(after))))
    report = validate_profile(profile(after), reference=profile(before))
    (cat,) = [drift for drift in report.drift if drift.column == "cat"]
    assert cat.drifted, (cat.p_value, cat.p_adjusted)
    assert cat.p_adjusted is not None
    assert cat.p_adjusted < 0.05
    # and no pixel column, drawn from the same rows' distribution, is flagged
    assert not [d.column for d in report.drift if d.drifted and d.column != "cat"]


def test_a_permutation_p_value_is_no_smaller_than_its_draws_allow() -> None:
    # The exactness of the permutation test (the observed table counts as a draw)
    # holds at any number of draws: the floor moves with them.
    ref, cur = [40, 30, 0], [10, 12, 25]
    coarse = categorical_test(ref, cur)
    fine = categorical_test(ref, cur, strictest=0.05 / 400)
    assert coarse["p"] == pytest.approx(1 / 2001)
    assert fine["permutations"] >= 2 * 400 / 0.05
    assert fine["p"] == pytest.approx(1 / (fine["permutations"] + 1))
