"""Known answers: every planted change is found and no untouched column is flagged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from planted import PLANTED, UNTOUCHED, current_table, reference_table

from loopml.data import DriftRule, Validation, infer_schema, profile, validate_profile

# The anomaly each planted change must raise (others may come with it).
EXPECTED = {
    "mean_shift": "drift",
    "variance_change": "drift",
    "category_proportions": "drift",
    "new_category": "outside_domain",
    "added_nulls": "missing_values",
    "label": "label_shift",
}


@pytest.fixture(scope="module", params=[100_000, 1_000_000], ids=["100k", "1M"])
def validation(request: pytest.FixtureRequest) -> Validation:
    rows = request.param
    reference = profile(reference_table(rows), label="label")
    current = profile(current_table(rows), label="label")
    return validate_profile(current, schema=infer_schema(reference), reference=reference)


@pytest.mark.parametrize("column", sorted(PLANTED))
def test_every_planted_change_is_found(validation: Validation, column: str) -> None:
    kinds = {a.kind for a in validation.anomalies if a.column == column}
    assert EXPECTED[column] in kinds, (column, PLANTED[column], validation.anomalies)


def test_no_untouched_column_is_flagged(validation: Validation) -> None:
    flagged = {a.column for a in validation.anomalies}
    assert flagged <= set(PLANTED), [a for a in validation.anomalies if a.column not in PLANTED]
    compared = {d.column for d in validation.drift}
    assert set(UNTOUCHED) <= compared  # each was compared, and passed


def test_a_tiny_shift_is_significant_but_not_drift(validation: Validation) -> None:
    # 0.01 sd: at 1M rows it is measurable, yet far below the effect-size threshold.
    tiny = next(d for d in validation.drift if d.column == "tiny_shift")
    assert tiny.method == "wasserstein"
    assert tiny.statistic < 0.05
    assert not tiny.drifted


def test_drift_anomalies_carry_their_evidence(validation: Validation) -> None:
    shifted = next(a for a in validation.anomalies if a.column == "mean_shift")
    assert shifted.evidence["method"] == "wasserstein"
    assert shifted.evidence["mean_shift"] == pytest.approx(0.25, abs=0.03)
    assert shifted.evidence["ks_p"] < 1e-6  # the p-value is evidence, not the verdict
    assert shifted.evidence["test_rows"] == 5000  # the tests ran on the stored samples
    spread = next(d for d in validation.drift if d.column == "variance_change")
    assert spread.measures["std_ratio"] == pytest.approx(1.5, abs=0.05)


def test_the_label_shift_names_the_class_shares(validation: Validation) -> None:
    shift = next(a for a in validation.anomalies if a.kind == "label_shift")
    assert shift.evidence["linf"] == pytest.approx(0.2, abs=0.02)
    assert "50.0%" in shift.message or "49.9%" in shift.message or "50.1%" in shift.message


def test_small_tables_are_judged_as_large_ones() -> None:
    rng = np.random.default_rng(5)
    same = validate_profile(
        profile(pl.DataFrame({"x": rng.normal(0, 1, 300)})),
        reference=profile(pl.DataFrame({"x": rng.normal(0, 1, 300)})),
    )
    moved = validate_profile(
        profile(pl.DataFrame({"x": rng.normal(1, 1, 300)})),
        reference=profile(pl.DataFrame({"x": rng.normal(0, 1, 300)})),
    )
    (unchanged,) = same.drift
    (shifted,) = moved.drift
    # The same verdict at every size: the test's evidence and the effect's size.
    assert unchanged.method == shifted.method == "wasserstein"
    # Under 5,000 rows the sample is the whole column: the tests see every row.
    assert shifted.measures["test_rows"] == 300
    assert not unchanged.drifted
    assert shifted.drifted
    assert shifted.p_value < 1e-6
    assert shifted.statistic > 0.5


def test_a_train_eval_split_with_different_label_shares_is_skew() -> None:
    rng = np.random.default_rng(6)
    train = profile(pl.DataFrame({"y": rng.random(20_000) < 0.5}), label="y")
    good_eval = profile(pl.DataFrame({"y": rng.random(5_000) < 0.5}), label="y")
    bad_eval = profile(pl.DataFrame({"y": rng.random(5_000) < 0.38}), label="y")
    assert validate_profile(good_eval, reference=train, comparison="skew").passed
    skewed = validate_profile(bad_eval, reference=train, comparison="skew")
    # The label is one column of the family, reported once.
    assert {a.kind for a in skewed.errors} == {"label_skew"}


def test_a_column_rule_names_its_own_test_or_falls_back_to_the_default() -> None:
    rng = np.random.default_rng(7)
    before = profile(pl.DataFrame({"x": rng.normal(0, 1, 300)}))
    after = profile(pl.DataFrame({"x": rng.normal(1, 1, 300)}))
    inferred = infer_schema(before)

    def judged(rule: DriftRule) -> tuple[str, bool]:
        column = replace(inferred.column("x"), drift=rule)
        (drift,) = validate_profile(
            after, schema=replace(inferred, columns=(column,)), reference=before
        ).drift
        return drift.method, drift.drifted

    # The KS p-value alone, as asked; a chi-square of a continuous column cannot be
    # given, so the default (evidence and effect) judges it.
    assert judged(DriftRule("ks", 0.05)) == ("ks", True)
    assert judged(DriftRule("chisquare", 0.05)) == ("wasserstein", True)
    assert judged(DriftRule("wasserstein", 5.0)) == ("wasserstein", False)  # too small an effect
