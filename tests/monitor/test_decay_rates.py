"""The loop's decay rules hold their false-alarm rate and find planted decay, on real
datasets over many independent random splits (the instrument: ``decay_cases.py``;
the full table: ``bench/monitor/decay_triggers.py``).

A cell is one rule at one window size, judged on one window per split, so its windows
are independent. A rule true to its 95% confidence fires in at most 5% of the windows
where it must not: where the model holds (``worse_than``, whose limit is the model's
own metric there) or has decayed to exactly the rule's edge (``baseline``, ``drop``).
The count is held under the binomial quantile that such a rule exceeds with chance
0.001, so a rule that is right fails one of these 21 assertions with chance at most
2.1% for a given set of seeds; the seeds are fixed, so every run has the same outcome.

The same splits plant decay past each rule's edge and count how often it is found:
each floor below is under the share measured here, by a margin a few binomial standard
errors wide.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import polars as pl
import pytest
from tests.monitor.decay_cases import most_false_alarms, rates, table


@dataclass(frozen=True)
class Case:
    splits: int
    sizes: tuple[int, ...]
    past: float  # the planted decay past each rule's edge (see decay_cases)
    found: dict[tuple[str, str, int], float]  # (rule, scenario, size) -> the least share


CASES = {
    # a classifier 97% right, where Wilson's bound and a drop taken as exact misfired
    "breast_cancer": Case(
        1_000,
        (30, 50),
        0.2,
        {("worse_than", "past +0.2", 50): 0.97, ("drop", "past +0.2", 50): 0.92},
    ),
    # NOAA's weather: the baseline's edge, and the real decay of the 1990s
    "rainfall": Case(
        1_000,
        (200,),
        0.1,
        {
            ("baseline", "shift", 200): 0.74,
            ("worse_than", "shift", 200): 0.97,
            ("drop", "shift", 200): 0.97,
        },
    ),
    # a regressor with light-tailed errors
    "diabetes": Case(
        1_000,
        (30, 50),
        0.5,
        {
            ("worse_than", "past +0.5", 50): 0.97,
            ("baseline", "past +0.5", 50): 0.94,
            ("drop", "past +0.5", 50): 0.97,
        },
    ),
    # doctor visits, skewness 4.8: where the normal bounds of a mean misfired
    "randhie": Case(
        400,
        (30, 500),
        0.5,
        {
            ("worse_than", "past +0.5", 500): 0.97,
            ("baseline", "past +0.5", 500): 0.95,
            ("drop", "past +0.5", 500): 0.45,
        },
    ),
}
NULLS = (("worse_than", "holds"), ("baseline", "edge"), ("drop", "edge"))


@functools.cache
def measured(name: str) -> pl.DataFrame:
    case = CASES[name]
    return rates(table((name,), range(case.splits), case.sizes, (case.past,)))


def cell(name: str, rule: str, scenario: str, size: int) -> dict[str, float]:
    found = measured(name).filter(
        (pl.col("rule") == rule) & (pl.col("scenario") == scenario) & (pl.col("size") == size)
    )
    assert found.height == 1, f"{name} has no cell {rule} {scenario} at {size} rows"
    return found.row(0, named=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_decay_rules_hold_their_false_alarms_and_find_decay(name: str) -> None:
    case = CASES[name]
    for rule, scenario in NULLS:
        for size in case.sizes:
            found = cell(name, rule, scenario, size)
            most = most_false_alarms(found["windows"])
            assert found["windows"] >= 0.9 * case.splits, found  # the edge was reached
            assert found["fired"] <= most, (
                f"{name}: {rule} fired in {found['fired']} of {found['windows']} windows "
                f"of {size} rows ({scenario}); a rule true to 95% shows at most {most}"
            )
    for (rule, scenario, size), least in case.found.items():
        found = cell(name, rule, scenario, size)
        assert found["windows"] >= 0.9 * case.splits, found
        assert found["rate"] >= least, (
            f"{name}: {rule} found {scenario} in {found['rate']:.3f} of {found['windows']} "
            f"windows of {size} rows, under {least}"
        )
