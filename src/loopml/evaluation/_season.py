"""The season of a time series, found from its autocorrelation or checked when given.

>>> import numpy as np
>>> steps = np.arange(120)
>>> detect_season(np.sin(2 * np.pi * steps / 12) + 0.05 * steps)
12
"""

from __future__ import annotations

import operator
from statistics import NormalDist
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.evaluation._metrics import Numbers, Vector, as_numbers

SEASON_ALPHA = 0.05  # family-wise chance of finding a season in a series that has none


def checked_season(season: Any, length: int) -> int:
    """``season`` as an int, if a seasonal naive forecast of ``length`` values can use it."""
    try:
        if isinstance(season, bool):
            raise TypeError
        steps = operator.index(season)
    except TypeError:
        raise InvalidInput(f"season={season!r} must be a whole number of steps, like 12") from None
    if steps < 2:
        raise InvalidInput(
            f"season={steps} is too short: a season is at least 2 steps; for 1 use strategy='last'"
        )
    if steps > length // 2:
        raise InvalidInput(
            f"season={steps} is longer than half of y_train ({length} values); seasonal naive "
            f"needs two full seasons: pass a season of at most {length // 2} or a longer y_train"
        )
    return steps


def detect_season(y_train: Vector) -> int:
    """The season of a series: the lag of the highest significant peak of the
    autocorrelation of the linearly detrended series, between 2 and half its length.

    A peak is significant above Bartlett's bound, with the level split over all the
    peaks tried (so white noise of any length rarely shows a season).
    """
    series = as_numbers(y_train, "y_train")
    length, longest = len(series), len(series) // 2
    if longest < 2:
        raise InvalidInput(
            f"y_train has {length} values; finding a season needs at least 4; pass season= "
            "or use strategy='last'"
        )
    acf = _autocorrelation(series)
    lags = np.arange(2, longest + 1)
    peaks = lags[(acf[lags] > acf[lags - 1]) & (acf[lags] >= acf[np.minimum(lags + 1, length - 1)])]
    if len(peaks):
        # Bartlett: var(r_k) = (1 + 2 * sum of r_j^2 for j < k) / n
        spread = np.concatenate([[0.0], np.cumsum(acf[1:longest] ** 2)])
        bound = np.sqrt((1 + 2 * spread[peaks - 1]) / length)
        z = NormalDist().inv_cdf(1 - SEASON_ALPHA / len(peaks))
        significant = peaks[acf[peaks] > z * bound]
        if len(significant):
            return int(significant[np.argmax(acf[significant])])
    raise InvalidInput(
        f"no season found in y_train: no autocorrelation peak between lags 2 and {longest} "
        "is significant; pass season= if you know it (12 for monthly data with a yearly "
        "cycle), or use strategy='last'"
    )


def _autocorrelation(series: Numbers) -> Numbers:
    """r_0 .. r_{n-1} of the series less its least-squares line (r_0 is NaN if that is 0)."""
    steps = np.arange(len(series), dtype=np.float64)
    residual = series - np.polyval(np.polyfit(steps, series, 1), steps)
    spectrum = np.fft.rfft(residual, 2 * len(series))  # zero-padded: no wrap-around
    covariance = np.fft.irfft(spectrum * np.conj(spectrum))[: len(series)]
    if covariance[0] <= 1e-12 * max(float(np.sum(series**2)), 1.0):
        return np.full(len(series), np.nan)
    return np.asarray(covariance / covariance[0], dtype=np.float64)
