"""Drift distances against SciPy's exact ones on the full columns: equal within 1%, or
within the bound reported with them, and that bound never smaller than the true error.

Heavy tails (Cauchy, Pareto 1.2, Student-t 2.5) with one planted extreme value, one
changed row in 200,000, and categoricals beyond the 1,000 values a profile shows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

import loopml
from loopml.data import profile, validate_profile
from loopml.data._binned import binned_distances
from loopml.data._orderstats import OrderStats, ks_bounds, sketch, wasserstein_bounds
from loopml.data._profile import Profile, sorted_quantiles
from loopml.data._stats import PSI_FLOOR, decile_edges, wasserstein

Draw = Callable[[np.random.Generator, int], np.ndarray]
HEAVY: dict[str, Draw] = {
    "cauchy": lambda rng, n: rng.standard_cauchy(n),
    "pareto_1.2": lambda rng, n: rng.pareto(1.2, n) + 1.0,
    "t_2.5": lambda rng, n: rng.standard_t(2.5, n),
}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    workspace = loopml.init(tmp_path)
    yield workspace
    workspace.close()


def exact_numeric(ref: np.ndarray, cur: np.ndarray, ref_quantiles: Any) -> dict[str, float]:
    """SciPy's distances on the full columns, and PSI and JS over every value in the
    reference's decile bins (their edges read off the reference profile's quantiles)."""
    raw = scipy_stats.wasserstein_distance(ref, cur)
    return {
        "wasserstein_raw": raw,
        "wasserstein": raw / ref.std(ddof=1),
        "ks": scipy_stats.ks_2samp(ref, cur).statistic,
        **exact_binned(ref, cur, decile_edges(ref_quantiles)),
    }


def exact_binned(ref: np.ndarray, cur: np.ndarray, edges: np.ndarray) -> dict[str, float]:
    """PSI and JS (SciPy's) of every value's share in the bins (-inf, e1], (e1, e2], ..."""
    ref_shares, cur_shares = (
        np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1) / len(x)
        for x in (ref, cur)
    )
    floored_ref, floored_cur = np.maximum(ref_shares, PSI_FLOOR), np.maximum(cur_shares, PSI_FLOOR)
    return {
        "psi": float(((floored_cur - floored_ref) * np.log(floored_cur / floored_ref)).sum()),
        "jensenshannon": float(jensenshannon(ref_shares, cur_shares, base=2)),
    }


def assert_within(measures: dict[str, Any], exact: dict[str, float], what: str) -> None:
    """Each distance within 1% of the exact one or within its bound; and the bound
    honest: the error never exceeds it (beyond float rounding)."""
    for name, truth in exact.items():
        found, bound = measures[name], measures[f"{name}_bound"]
        error = abs(found - truth)
        rounding = 1e-9 * max(abs(truth), 1.0)
        assert error <= bound + rounding, f"{what} {name}: {found} ± {bound}, exact {truth}"
        assert error <= max(0.01 * abs(truth), bound) + rounding, f"{what} {name}"


def quantiles(reference: Profile, name: str) -> list[float]:
    found = reference.column(name).quantiles
    assert found is not None
    return found


def drifts(reference: Profile, current: Profile) -> dict[str, dict[str, Any]]:
    return {d.column: d.measures for d in validate_profile(current, reference=reference).drift}


def heavy_tables(
    rng: np.random.Generator, rows: int, *, untouched: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reference and current of the same distributions, the current with one extreme
    value planted in each column (and, with ``untouched``, fresh draws of each without
    one), and a shifted normal column."""
    ref = {name: draw(rng, rows) for name, draw in HEAVY.items()}
    cur = {name: draw(rng, rows) for name, draw in HEAVY.items()}
    for values in cur.values():
        values[rng.integers(rows)] = 1e7
    for name, draw in HEAVY.items() if untouched else ():
        ref[f"{name}_untouched"], cur[f"{name}_untouched"] = draw(rng, rows), draw(rng, rows)
    ref["normal"] = rng.normal(0.0, 1.0, rows)
    cur["normal"] = rng.normal(0.2, 1.1, rows)
    return pl.DataFrame(ref), pl.DataFrame(cur)


@pytest.mark.parametrize("rows", [1_000, 100_000])
def test_numeric_distances_match_scipy_on_heavy_tails(rows: int) -> None:
    rng = np.random.default_rng(rows)
    ref, cur = heavy_tables(rng, rows, untouched=True)
    reference = profile(ref)
    found = drifts(reference, profile(cur))
    for name in ref.columns:
        exact = exact_numeric(
            ref[name].to_numpy(), cur[name].to_numpy(), quantiles(reference, name)
        )
        assert_within(found[name], exact, f"{name} at {rows:,} rows")
        if rows <= 5_000:  # the sample is the table: every value is known
            bounds = ("wasserstein", "ks", "psi", "jensenshannon")
            assert all(found[name][f"{what}_bound"] == 0.0 for what in bounds)
    # Untouched heavy tails are not drift (quantiles made them so, 19 to 356 times over).
    assert rows < 100_000 or all(found[f"{name}_untouched"]["wasserstein"] < 0.1 for name in HEAVY)


def million_row_tables(*, untouched: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The heavy-tailed tables at 1M rows: planted extremes and a shifted normal, or
    untouched fresh draws and a categorical column with every value replaced."""
    rng = np.random.default_rng(7)
    rows = 1_000_000
    if not untouched:
        return heavy_tables(rng, rows)
    ref = {name: draw(rng, rows) for name, draw in HEAVY.items()}
    cur = {name: draw(rng, rows) for name, draw in HEAVY.items()}
    codes = pl.Series(rng.integers(0, 3_000, rows)).cast(pl.String)
    return (
        pl.DataFrame(ref).with_columns(codes.alias("code")),
        pl.DataFrame(cur).with_columns(("new" + codes).alias("code")),
    )


def test_a_million_rows_with_planted_extremes() -> None:
    ref, cur = million_row_tables(untouched=False)
    reference = profile(ref)
    found = drifts(reference, profile(cur))
    for name in ref.columns:
        exact = exact_numeric(
            ref[name].to_numpy(), cur[name].to_numpy(), quantiles(reference, name)
        )
        assert_within(found[name], exact, f"{name} at 1M rows")
        assert found[name]["wasserstein_bound"] < 0.005  # of a standard deviation
        assert found[name]["ks_bound"] < 0.001
        assert found[name]["psi_bound"] < 0.005  # PSI thresholds are 0.1 to 0.25
        assert found[name]["jensenshannon_bound"] < 0.005
    assert found["normal"]["wasserstein"] > 0.1  # the shifted one drifts


def test_a_million_rows_untouched_and_a_replaced_category() -> None:
    ref, cur = million_row_tables(untouched=True)
    reference = profile(ref)
    found = drifts(reference, profile(cur))
    for name in HEAVY:
        exact = exact_numeric(
            ref[name].to_numpy(), cur[name].to_numpy(), quantiles(reference, name)
        )
        assert_within(found[name], exact, f"{name} at 1M rows")
        assert found[name]["wasserstein"] < 0.1  # no drift, as quantiles said there was
    assert found["code"]["jensenshannon"] == 1.0
    assert found["code"]["jensenshannon_bound"] == 0.0


def test_one_changed_row_in_200000_is_not_drift() -> None:
    rng = np.random.default_rng(8)
    before = rng.normal(50.0, 10.0, 200_000)
    after = before.copy()
    after[123] = 50.0 + 10.0 * 1_000  # one row, a thousand sd out
    reference = profile(pl.DataFrame({"x": before}))
    found = drifts(reference, profile(pl.DataFrame({"x": after})))
    exact = exact_numeric(before, after, quantiles(reference, "x"))
    assert_within(found["x"], exact, "one changed row")
    assert 0.004 < exact["wasserstein"] < 0.006  # what it really is
    assert found["x"]["wasserstein"] < 0.01 < 0.1  # far from the threshold
    assert found["x"]["wasserstein_bound"] < 0.002


def categories(rng: np.random.Generator, rows: int, values: int, prefix: str) -> pl.Series:
    shares = 1.0 / np.arange(1, values + 1)  # Zipf: a long tail beyond the top 1,000
    picked = rng.choice(values, size=rows, p=shares / shares.sum())
    return pl.Series("c", [f"{prefix}{i}" for i in picked])


@pytest.mark.parametrize("rows", [1_000, 100_000])
def test_jensen_shannon_counts_every_value(rows: int) -> None:
    rng = np.random.default_rng(rows + 1)
    ref = categories(rng, rows, 4_000, "v")
    cur = categories(rng, rows, 4_000, "v").shift(0).str.replace("v1", "w1")  # partly new
    found = drifts(profile(ref.to_frame()), profile(cur.to_frame()))["c"]
    joined = (
        ref.value_counts(name="r")
        .join(cur.value_counts(name="k"), on="c", how="full", coalesce=True)
        .fill_null(0)
    )
    r, k = joined["r"].to_numpy() / rows, joined["k"].to_numpy() / rows
    exact = jensenshannon(r, k, base=2)
    assert found["jensenshannon"] == pytest.approx(exact, rel=1e-9)
    floored_r, floored_k = np.maximum(r, PSI_FLOOR), np.maximum(k, PSI_FLOOR)
    psi = ((floored_k - floored_r) * np.log(floored_k / floored_r)).sum()
    assert found["psi"] == pytest.approx(psi, rel=1e-9)
    assert found["linf"] == pytest.approx(np.abs(r - k).max(), rel=1e-9)
    assert found["jensenshannon_bound"] == found["psi_bound"] == found["linf_bound"] == 0.0
    replaced = drifts(profile(ref.to_frame()), profile(("new" + ref).alias("c").to_frame()))["c"]
    assert replaced["jensenshannon"] == 1.0


def test_bounds_are_honest_for_small_sketches() -> None:
    # Few points kept of a few thousand values, so that most of each column is
    # bracketed; 300 random pairs, each's exact distances within the brackets.
    rng = np.random.default_rng(9)
    draws: list[Draw] = [
        *HEAVY.values(),
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: rng.integers(0, 7, n).astype(float),  # ties
        lambda rng, n: rng.exponential(size=n) * rng.choice([1, 100], n),
    ]
    for trial in range(300):
        first = draws[trial % len(draws)]
        second = draws[rng.integers(len(draws))]
        a = np.sort(first(rng, int(rng.integers(200, 3_000))))
        b = np.sort(second(rng, int(rng.integers(200, 3_000))) * rng.choice([1.0, 1.5]))
        kept_a = OrderStats(len(a), *sketch(a, int(rng.integers(16, 200))))
        kept_b = OrderStats(len(b), *sketch(b, int(rng.integers(16, 200))))
        low, high = wasserstein_bounds(kept_a, kept_b)
        exact = scipy_stats.wasserstein_distance(a, b)
        assert low * (1 - 1e-12) <= exact <= high * (1 + 1e-12) + 1e-12
        low, high = ks_bounds(kept_a, kept_b)
        statistic = scipy_stats.ks_2samp(a, b).statistic
        assert low - 1e-12 <= statistic <= high + 1e-12
        quantiles_a = OrderStats.from_quantiles(sorted_quantiles(a), len(a))
        low, high = wasserstein_bounds(quantiles_a, kept_b)
        assert low * (1 - 1e-12) <= exact <= high * (1 + 1e-12) + 1e-12
        edges = decile_edges(sorted_quantiles(a))
        binned = exact_binned(a, b, edges)
        for stats_a in (kept_a, quantiles_a):
            found = binned_distances(stats_a, kept_b, edges)
            for name, truth in binned.items():
                assert abs(found[name] - truth) <= found[f"{name}_bound"] + 1e-9, (trial, name)


def stored_as_before(current: Profile) -> Profile:
    """The profile as loopml stored it before order statistics were kept (format /2):
    the JSON and quantiles only."""
    blobs = current.to_stored()
    data = {**blobs.json, "format": "loopml.profile/2"}
    for column in data["columns"]:
        column.pop("order_stats", None)
        column.pop("all_values", None)
    return Profile.from_json(data, current.sample, quantiles=blobs.quantiles)


def test_profiles_stored_before_are_read_with_honest_wider_bounds() -> None:
    rng = np.random.default_rng(10)
    ref, cur = heavy_tables(rng, 20_000)
    ref = ref.with_columns(categories(rng, 20_000, 3_000, "v"))
    cur = cur.with_columns(categories(rng, 20_000, 3_000, "v"))
    old_ref, old_cur = stored_as_before(profile(ref)), stored_as_before(profile(cur))
    assert old_ref.column("cauchy").order_stats is None
    found = drifts(old_ref, old_cur)
    for name in [*HEAVY, "normal"]:
        assert found[name]["from_quantiles"] == 1.0
        as_before = wasserstein(old_ref.column(name).quantiles, old_cur.column(name).quantiles)  # type: ignore[arg-type]
        assert found[name]["wasserstein_raw"] == as_before  # verdicts on old profiles stand
        exact = exact_numeric(ref[name].to_numpy(), cur[name].to_numpy(), quantiles(old_ref, name))
        assert_within(found[name], exact, name)
    joined = (
        ref["c"]
        .value_counts(name="r")
        .join(cur["c"].value_counts(name="k"), on="c", how="full", coalesce=True)
        .fill_null(0)
    )
    exact = jensenshannon(joined["r"].to_numpy(), joined["k"].to_numpy(), base=2)
    measures = found["c"]
    assert abs(measures["jensenshannon"] - exact) <= measures["jensenshannon_bound"] + 1e-12
    assert measures["jensenshannon_bound"] > 0  # flagged as approximate


def test_a_stored_profile_keeps_its_order_statistics_and_counts(ws: loopml.Workspace) -> None:
    rng = np.random.default_rng(11)
    table = pl.DataFrame(
        {
            "x": rng.standard_cauchy(30_000),
            "y": pl.Series(np.where(np.arange(30_000) % 3, rng.normal(size=30_000), np.nan)),
        }
    ).with_columns(categories(rng, 30_000, 5_000, "v"), pl.col("y").fill_nan(None))
    version = loopml.data.add(table, name="t", workspace=ws)
    assert version.metadata["profile_order_stats"]
    stored, fresh = version.profile(), profile(table)
    for name in ("x", "y"):
        assert stored.column(name).order_stats == fresh.column(name).order_stats
        assert stored.column(name).order_stats is not None
    assert stored.column("y").order_stats.count == 20_000  # type: ignore[union-attr]
    kept = stored.column("c").all_values
    assert kept is not None
    assert kept.height == fresh.column("c").distinct
    assert kept.sort("value").equals(fresh.column("c").all_values.sort("value"))  # type: ignore[union-attr]
    assert stored == fresh
    assert drifts(stored, fresh) == drifts(fresh, fresh)


def test_a_table_within_the_sample_stores_no_order_statistics(ws: loopml.Workspace) -> None:
    table = pl.DataFrame({"x": np.arange(5_000, dtype=float)})
    version = loopml.data.add(table, name="small", workspace=ws)
    assert "profile_order_stats" not in version.metadata
    assert version.profile().column("x").order_stats is None


def test_counts_of_every_value_come_in_one_order_whatever_the_stored_order() -> None:
    # A permutation test's seeded draws fall on other values when the order moves, so
    # the same two versions must give the same p-value (and verdict) on every run.
    from loopml.data._distances import _joined_counts

    rng = np.random.default_rng(12)
    ref = pl.DataFrame({"value": [f"v{i}" for i in range(3_000)], "n": rng.integers(1, 9, 3_000)})
    cur = pl.DataFrame(
        {"value": [f"v{i}" for i in range(500, 3_500)], "n": rng.integers(1, 9, 3_000)}
    )
    first = _joined_counts(ref, cur)
    for seed in range(3):
        shuffled_ref = ref.sample(fraction=1.0, shuffle=True, seed=seed)
        shuffled_cur = cur.sample(fraction=1.0, shuffle=True, seed=seed + 10)
        assert _joined_counts(shuffled_ref, shuffled_cur) == first
