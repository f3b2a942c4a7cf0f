"""The hand-written floor: the same statistics in plain Polars/NumPy; runs in ``.venv``.

Usage: ``python bench/data/worker_plain.py REFERENCE.parquet CURRENT.parquet``

Timed: read both tables; per numeric column one ``np.sort`` per table, from which come
101 quantiles, min/max, mean/std, a 20-bin histogram, KS (statistic and p-value),
the Wasserstein distance and PSI on the reference's decile bins; per string column the
value counts of the non-null values, chi-square and Jensen-Shannon (base 2); null
counts; duplicate rows. Prints one JSON line with the measures and a few sanity values.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

import numpy as np
import polars as pl
import scipy
from _measure import Meter, emit, paths
from scipy import stats
from scipy.spatial.distance import jensenshannon

LEVELS = np.linspace(0.0, 1.0, 101)
HIST_BINS = 20
PSI_EPS = 1e-4
DRIFT_THRESHOLD = 0.1  # normed Wasserstein, PSI, Jensen-Shannon: the usual cut-off


def quantiles(ordered: np.ndarray[Any, Any], levels: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Linear-interpolation quantiles (NumPy's default method) of sorted values."""
    position = levels * (len(ordered) - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, len(ordered) - 1)
    fraction = position - low
    below, above = ordered[low].astype(np.float64), ordered[high].astype(np.float64)
    return below + (above - below) * fraction


def counts_in(
    ordered: np.ndarray[Any, Any], inner_edges: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """How many sorted values fall in each bin; the outer bins are open-ended."""
    cuts = np.searchsorted(ordered, inner_edges, side="left")
    return np.diff(np.concatenate(([0], cuts, [len(ordered)])))


def numeric_profile(series: pl.Series) -> dict[str, Any]:
    values = series.drop_nulls().to_numpy()
    ordered = np.sort(values)
    lowest, highest = ordered[0], ordered[-1]
    edges = np.linspace(float(lowest), float(highest), HIST_BINS + 1)
    return {
        "sorted": ordered,
        "count": len(ordered),
        "nulls": series.null_count(),
        "min": lowest.item(),
        "max": highest.item(),
        "mean": float(np.mean(ordered)),
        "std": float(np.std(ordered, ddof=1)),
        "quantiles": quantiles(ordered, LEVELS),
        "hist_edges": edges,
        "hist_counts": counts_in(ordered, edges[1:-1]),
    }


def numeric_drift(ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, float]:
    a, b = ref["sorted"], cur["sorted"]
    n, m = len(a), len(b)
    # Both are sorted, so a stable argsort of the two runs is a merge (timsort), not a
    # new sort. Counting where each merged value came from gives both empirical CDFs.
    joined = np.concatenate((a, b))
    order = np.argsort(joined, kind="stable")
    merged = joined[order]
    below_a = np.cumsum(order < n)
    below_b = np.arange(1, n + m + 1) - below_a
    gap = np.abs(below_a / n - below_b / m)
    # The CDFs are right-continuous: compare them at the last of each run of ties.
    last = np.empty(n + m, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=last[:-1])
    last[-1] = True
    ks = float(gap[last].max())
    ks_p = float(stats.kstwobign.sf(ks * np.sqrt(n * m / (n + m))))
    # Where ties sit, the step to the next value is 0, so mid-tie gaps add nothing.
    wasserstein = float(np.sum(gap[:-1] * np.diff(merged).astype(np.float64)))
    deciles = ref["quantiles"][10:100:10]
    p = np.maximum(counts_in(a, deciles) / n, PSI_EPS)
    q = np.maximum(counts_in(b, deciles) / m, PSI_EPS)
    psi = float(np.sum((q - p) * np.log(q / p)))
    normed = wasserstein / ref["std"] if ref["std"] > 0 else wasserstein
    return {"ks": ks, "ks_p": ks_p, "wasserstein": wasserstein, "w_normed": normed, "psi": psi}


def category_profile(series: pl.Series) -> dict[str, Any]:
    counts = series.drop_nulls().value_counts()
    return {
        "counts": dict(zip(counts[series.name].to_list(), counts["count"].to_list(), strict=True)),
        "nulls": series.null_count(),
        "unique": series.n_unique(),
    }


def category_drift(ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, float]:
    keys = sorted(set(ref["counts"]) | set(cur["counts"]), key=str)
    table = np.array(
        [[ref["counts"].get(k, 0) for k in keys], [cur["counts"].get(k, 0) for k in keys]]
    )
    chi2, chi2_p, _, _ = stats.chi2_contingency(table, correction=False)
    js = float(jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum(), base=2))
    return {"chi2": float(chi2), "chi2_p": float(chi2_p), "js": js}


def duplicate_rows(frame: pl.DataFrame) -> int:
    """Rows that repeat an earlier row, exactly: only rows whose hash repeats are compared."""
    candidates = frame.filter(frame.hash_rows().is_duplicated())
    return candidates.height - candidates.n_unique()


def profile(frame: pl.DataFrame) -> dict[str, Any]:
    found: dict[str, Any] = {"rows": frame.height, "duplicates": duplicate_rows(frame)}
    for name, dtype in frame.schema.items():
        series = frame.get_column(name)
        found[name] = numeric_profile(series) if dtype.is_numeric() else category_profile(series)
    return found


def main(argv: list[str]) -> None:
    ref_path, cur_path = paths(argv)
    with Meter() as meter:
        ref = pl.read_parquet(ref_path)
        cur = pl.read_parquet(cur_path)
        meter.stage("read")
        ref_profile = profile(ref)
        meter.stage("profile reference")
        cur_profile = profile(cur)
        meter.stage("profile current")
        drift: dict[str, dict[str, float]] = {}
        for name, dtype in ref.schema.items():
            compare = numeric_drift if dtype.is_numeric() else category_drift
            drift[name] = compare(ref_profile[name], cur_profile[name])
        meter.stage("compare")
    drifted = [
        name
        for name, found in drift.items()
        if max(found.get("w_normed", 0.0), found.get("psi", 0.0), found.get("js", 0.0))
        > DRIFT_THRESHOLD
    ]
    emit(
        {
            **meter.result,
            "sanity": {
                "drifted_columns": drifted,
                "drifted": len(drifted),
                "ks_p_below_0.05": sum(f.get("ks_p", 1.0) < 0.05 for f in drift.values()),
                "duplicates_current": cur_profile["duplicates"],
                "nulls_current": {
                    name: cur_profile[name]["nulls"]
                    for name in cur.columns
                    if cur_profile[name]["nulls"]
                },
            },
            "versions": {
                "python": platform.python_version(),
                "polars": pl.__version__,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
            },
        }
    )


if __name__ == "__main__":
    main(sys.argv[1:])
