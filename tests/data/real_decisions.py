"""The instrument that measures loopml's data decisions on real tables: false alarms
over random splits, power on planted changes, and dated batches validated in order.

One copy serves the tests (``tests/data/test_real_decisions.py``, a few tables) and
the benchmark (``bench/data/decisions.py``, the full grid next to Evidently and
NannyML, which puts this folder on ``sys.path``). The splits are a pure function of
(seed, table, rows, trial), so every tool sees the same rows.

What is counted, from loopml's public ``profile`` and ``validate_profile`` only:

- a false alarm on a random split (two disjoint halves of one real table): the
  validation failed (an error-severity anomaly), or any drift or label_shift anomaly
  of any severity appeared;
- a planted change found: an anomaly of the kinds the change should raise, on the
  planted column only (``Planted.found``).

>>> rates = false_alarms("anes96", rows=100, trials=3)
>>> rates.trials, 0.0 <= rates.failed <= 1.0
(3, True)
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from real_tables import TABLES, RealTable

from loopml.data import infer_schema, profile, validate_profile

SEED = 20_261_206
SIZES = (100, 300, 1_000, 10_000)
ALARM_KINDS = frozenset({"drift", "label_shift"})


# -- the splits ----------------------------------------------------------------------


def _rng(*key: int | str) -> np.random.Generator:
    """A generator for one (seed, table, rows, trial, ...) key, the same on every run."""
    words = [zlib.crc32(part.encode()) if isinstance(part, str) else part for part in key]
    return np.random.default_rng(words)


def sizes_of(table: str) -> tuple[int, ...]:
    """The sizes of ``SIZES`` that fit twice, disjoint, in ``table``."""
    return tuple(rows for rows in SIZES if 2 * rows <= TABLES[table].rows)


def random_split(
    table: str, rows: int, trial: int, seed: int = SEED
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two disjoint random halves of ``rows`` rows each: (reference, current)."""
    frame = TABLES[table].load()
    if 2 * rows > frame.height:
        raise ValueError(f"{table} has {frame.height:,} rows, fewer than 2 x {rows:,}")
    picked = _rng(seed, table, rows, trial).permutation(frame.height)[: 2 * rows]
    return frame[picked[:rows]], frame[picked[rows:]]


# -- the planted changes -------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """A known change planted into the current half of a random split.

    ``kind`` is one of mean_shift (``amount`` sd of the whole column added),
    replaced_categories (every value renamed), label_shift (reference resampled to
    50/50, current to ``amount``/rest), sentinel (-1 in ``amount`` of the rows) and
    new_category (a new value in ``amount`` of the rows).
    """

    name: str
    table: str
    column: str
    rows: int
    kind: str
    amount: float
    must_fail: bool = False  # the validation itself must fail (an error)

    @property
    def kinds(self) -> frozenset[str]:
        """The anomaly kinds that count as finding this change, on its column."""
        return {
            "mean_shift": frozenset({"drift", "out_of_range"}),
            "replaced_categories": frozenset({"drift", "outside_domain"}),
            "label_shift": frozenset({"label_shift"}),
            "sentinel": frozenset({"out_of_range", "drift"}),
            "new_category": frozenset({"drift", "outside_domain"}),
        }[self.kind]

    def found(self, outcome: Outcome) -> bool:
        on_column = [a for a in outcome.anomalies if a[2] == self.column and a[0] in self.kinds]
        if self.must_fail:
            return outcome.failed and any(severity == "error" for _, severity, _ in on_column)
        return bool(on_column)


PLANTED: tuple[Planted, ...] = (
    Planted("mean +0.2 sd, 10,000 rows (randhie lpi)", "randhie", "lpi", 10_000, "mean_shift", 0.2),
    Planted(
        "mean +0.2 sd, 10,000 rows (flights arr_delay)",
        "flights",
        "arr_delay",
        10_000,
        "mean_shift",
        0.2,
    ),
    Planted("mean +0.5 sd, 300 rows (anes96 age)", "anes96", "age", 300, "mean_shift", 0.5),
    Planted(
        "mean +0.5 sd, 300 rows (seattle temp_max)",
        "seattle_weather",
        "temp_max",
        300,
        "mean_shift",
        0.5,
    ),
    Planted(
        "categories replaced, 300 rows (flights carrier)",
        "flights",
        "carrier",
        300,
        "replaced_categories",
        1.0,
    ),
    Planted(
        "label 50/50 -> 70/30, 300 rows (anes96 vote)", "anes96", "vote", 300, "label_shift", 0.7
    ),
    Planted(
        "sentinel -1 in 5%, 1,000 rows (flights distance)",
        "flights",
        "distance",
        1_000,
        "sentinel",
        0.05,
        must_fail=True,
    ),
    Planted(
        "sentinel -1 in 5%, 300 rows (anes96 TVnews)",
        "anes96",
        "TVnews",
        300,
        "sentinel",
        0.05,
        must_fail=True,
    ),
    Planted(
        "new category in 5%, 300 rows (flights carrier)",
        "flights",
        "carrier",
        300,
        "new_category",
        0.05,
    ),
    Planted(
        "new category in 5%, 1,000 rows (flights carrier)",
        "flights",
        "carrier",
        1_000,
        "new_category",
        0.05,
    ),
)


def planted_split(
    case: Planted, trial: int, seed: int = SEED, *, plant: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The split of ``trial`` with ``case`` planted in its current half; without
    ``plant``, the same split untouched (for label_shift: both halves at 50/50)."""
    if case.kind == "label_shift":
        return _label_split(case, trial, seed, plant=plant)
    reference, current = random_split(case.table, case.rows, trial, seed)
    if not plant:
        return reference, current
    rng = _rng(seed, case.name, trial)
    column = current[case.column]
    if case.kind == "mean_shift":
        sd = float(TABLES[case.table].load()[case.column].std() or 0.0)
        changed = column + case.amount * sd
    elif case.kind == "replaced_categories":
        values = sorted(
            str(v) for v in TABLES[case.table].load()[case.column].drop_nulls().unique()
        )
        renamed = {value: f"code_{i:03d}" for i, value in enumerate(values)}
        changed = column.replace_strict(renamed, default=None, return_dtype=pl.String)
    elif case.kind in ("sentinel", "new_category"):
        hit = pl.Series(rng.random(current.height) < case.amount)
        new = pl.lit(-1).cast(column.dtype) if case.kind == "sentinel" else pl.lit("NEW")
        changed = current.select(
            pl.when(hit).then(new).otherwise(pl.col(case.column)).alias(case.column)
        ).to_series()
    else:
        raise ValueError(f"unknown planted kind {case.kind!r}")
    return reference, current.with_columns(changed.alias(case.column))


def _label_split(
    case: Planted, trial: int, seed: int, *, plant: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = TABLES[case.table].load()
    rng = _rng(seed, case.name, trial)
    classes = frame[case.column].value_counts(sort=True)[case.column].to_list()
    if len(classes) != 2:
        raise ValueError(f"{case.table}.{case.column} has {len(classes)} classes, not 2")
    half = case.rows // 2
    many = round(case.rows * case.amount) if plant else half
    refs, curs = [], []
    for value, wanted in zip(classes, (many, case.rows - many), strict=True):
        rows = np.flatnonzero((frame[case.column] == value).to_numpy())
        if half + wanted > rows.size:
            raise ValueError(f"{case.table} has {rows.size} rows of class {value}")
        picked = rng.permutation(rows)
        refs.append(picked[:half])
        curs.append(picked[half : half + wanted])
    reference = frame[rng.permutation(np.concatenate(refs))]
    return reference, frame[rng.permutation(np.concatenate(curs))]


# -- loopml's verdict on one split ---------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """loopml's verdict on one split: did it fail, its anomalies as (kind, severity,
    column), and the seconds it took (both profiles and the validation)."""

    failed: bool
    anomalies: tuple[tuple[str, str, str | None], ...]
    seconds: float

    @property
    def alarmed(self) -> bool:
        return any(kind in ALARM_KINDS for kind, _, _ in self.anomalies)


def judge(reference: pl.DataFrame, current: pl.DataFrame, label: str) -> Outcome:
    began = time.perf_counter()
    validation = validate_profile(
        profile(current, label=label), reference=profile(reference, label=label)
    )
    seconds = time.perf_counter() - began
    anomalies = tuple((a.kind, a.severity, a.column) for a in validation.anomalies)
    return Outcome(not validation.passed, anomalies, seconds)


@dataclass(frozen=True)
class Rates:
    """Rates over ``trials`` splits, and what raised them, most common first."""

    trials: int
    failed: float  # share of splits whose validation failed
    alarmed: float  # share with any drift or label_shift anomaly
    seconds: float  # mean seconds per split
    causes: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "failed": self.failed,
            "alarmed": self.alarmed,
            "seconds_per_split": self.seconds,
            "causes": self.causes[:10],
        }


def false_alarms(table: str, rows: int, trials: int, seed: int = SEED) -> Rates:
    """loopml on ``trials`` random splits of ``table`` (no change planted)."""
    label = TABLES[table].label
    outcomes = [judge(*random_split(table, rows, t, seed), label) for t in range(trials)]
    return _rates(outcomes)


def _rates(outcomes: list[Outcome]) -> Rates:
    causes: Counter[str] = Counter()
    for outcome in outcomes:
        causes.update({f"{k} {s} {c}" for k, s, c in outcome.anomalies if s == "error"})
        causes.update({f"{k} {s} {c}" for k, s, c in outcome.anomalies if k in ALARM_KINDS})
    n = len(outcomes)
    return Rates(
        trials=n,
        failed=sum(o.failed for o in outcomes) / n,
        alarmed=sum(o.alarmed for o in outcomes) / n,
        seconds=sum(o.seconds for o in outcomes) / n,
        causes=causes.most_common(),
    )


def power(case: Planted, trials: int, seed: int = SEED) -> float:
    """The share of ``trials`` splits in which loopml finds ``case`` on its column."""
    label = TABLES[case.table].label
    found = [case.found(judge(*planted_split(case, t, seed), label)) for t in range(trials)]
    return sum(found) / trials


# -- dated batches in order ----------------------------------------------------------


@dataclass(frozen=True)
class BatchErrors:
    """Dated batches validated in order, against the schema of the first batch and
    against the previous batch: the errors on date or id columns, and all errors."""

    period: str
    batches: int
    date_id_errors: list[str]
    other_errors: Counter[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "batches": self.batches,
            "date_id_errors": len(self.date_id_errors),
            "date_id_examples": self.date_id_errors[:10],
            "other_errors": dict(self.other_errors.most_common(10)),
        }


PERIODS = {"daily": "1d", "weekly": "1w", "monthly": "1mo"}


def batches(table: RealTable, period: str, limit: int | None = None) -> Iterator[pl.DataFrame]:
    """``table``'s rows in batches of one day, week or month, in order."""
    if table.day is None:
        raise ValueError(f"{table.name} has no dates")
    frame = table.load().with_columns(table.day.dt.truncate(PERIODS[period]).alias("__batch"))
    for count, (_, batch) in enumerate(
        frame.sort("__batch").group_by("__batch", maintain_order=True)
    ):
        if limit is not None and count >= limit:
            return
        yield batch.drop("__batch")


def dated_batches(table_name: str, period: str, limit: int | None = None) -> BatchErrors:
    table = TABLES[table_name]
    watched = set(table.dates) | set(table.ids)
    first = previous = None
    schema = None
    date_id: list[str] = []
    other: Counter[str] = Counter()
    count = 0
    for batch in batches(table, period, limit):
        count += 1
        current = profile(batch, label=table.label)
        if first is None:
            first, schema = current, infer_schema(current)
        else:
            assert previous is not None
            for against, validation in (
                ("first batch's schema", validate_profile(current, schema=schema)),
                ("previous batch", validate_profile(current, reference=previous)),
            ):
                for a in validation.errors:
                    if a.column in watched:
                        date_id.append(f"batch {count} vs {against}: {a.kind} {a.column}")
                    else:
                        other[f"{a.kind} {a.column}"] += 1
        previous = current
    return BatchErrors(period, count, date_id, other)
