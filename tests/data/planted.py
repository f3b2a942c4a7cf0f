"""Generated tables with known changes, for the known-answer tests of drift and validation."""

from __future__ import annotations

import numpy as np
import polars as pl

CATEGORIES = ["north", "south", "east", "west"]

# column -> the change planted in the current table (None: drawn afresh, unchanged)
PLANTED = {
    "mean_shift": "mean +0.25 sd",
    "variance_change": "sd x1.5",
    "category_proportions": "25/25/25/25 -> 40/20/20/20",
    "new_category": "5% of rows take a value never seen",
    "added_nulls": "10% of rows become null",
    "label": "50/50 -> 70/30",
}
UNTOUCHED = [
    "normal",
    "lognormal",
    "uniform",
    "small_ints",
    "wide_ints",
    "region",
    "flag",
    "stable_nulls",
    "tiny_shift",
]


def reference_table(rows: int, seed: int = 1) -> pl.DataFrame:
    return _table(rows, np.random.default_rng(seed), planted=False)


def current_table(rows: int, seed: int = 2) -> pl.DataFrame:
    return _table(rows, np.random.default_rng(seed), planted=True)


def _table(rows: int, rng: np.random.Generator, *, planted: bool) -> pl.DataFrame:
    def categories(shares: list[float], values: list[str] = CATEGORIES) -> np.ndarray:
        return rng.choice(values, size=rows, p=shares)

    stable_nulls = rng.normal(10, 2, rows)
    added_nulls = rng.normal(0, 1, rows)
    data = {
        # untouched: new draws from the same distributions
        "normal": rng.normal(100, 15, rows),
        "lognormal": rng.lognormal(0, 1, rows),
        "uniform": rng.uniform(-5, 5, rows),
        "small_ints": rng.integers(0, 10, rows),
        "wide_ints": rng.integers(0, 1_000_000, rows),
        "region": categories([0.25] * 4),
        "flag": rng.random(rows) < 0.3,
        "stable_nulls": pl.Series(stable_nulls).set(pl.Series(rng.random(rows) < 0.02), None),
        # a shift of 0.01 sd: real, but far too small to matter; on 1M rows every
        # p-value calls it significant, and the verdict must not
        "tiny_shift": rng.normal(0.01 if planted else 0.0, 1, rows),
        # planted
        "mean_shift": rng.normal(0.25 if planted else 0.0, 1, rows),
        "variance_change": rng.normal(0, 1.5 if planted else 1.0, rows),
        "category_proportions": categories([0.4, 0.2, 0.2, 0.2] if planted else [0.25] * 4),
        "new_category": categories(
            [0.2375, 0.2375, 0.2375, 0.2375, 0.05] if planted else [0.25, 0.25, 0.25, 0.25, 0],
            [*CATEGORIES, "central"],
        ),
        "added_nulls": pl.Series(added_nulls).set(
            pl.Series(rng.random(rows) < (0.10 if planted else 0.0)), None
        ),
        "label": rng.random(rows) < (0.3 if planted else 0.5),
    }
    return pl.DataFrame({name: pl.Series(name, values) for name, values in data.items()})
