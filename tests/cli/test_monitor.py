"""`loopml monitor` in real processes: the planted accuracy of each window printed and
in --json; bad settings are one line naming the option and the fix (exit 2)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import loopml
from cli_checks import assert_user_error
from loopml._ids import new_id
from loopml.serve import FeedbackLog, FeedbackRecord, PredictionLog, PredictionRecord

HOUR_US = 3_600_000_000


@pytest.fixture
def project(cli, tmp_path: Path) -> Path:
    """Deployment `churn`: 3 hours of answers ending now, 40 an hour, 30 labelled an
    hour; right in 24, 15 and 30 of them; and feedback on a prediction never logged."""
    now = time.time_ns() // 1000
    start = (now // HOUR_US - 3) * HOUR_US
    with loopml.init(tmp_path) as ws:
        answers, told = PredictionLog(ws), FeedbackLog(ws)
        for hour, right in enumerate((24, 15, 30)):
            for n in range(40):
                pid = new_id()
                answers.append(
                    PredictionRecord(pid, None, start + hour * HOUR_US + n * 1_000_000,
                                     "churn", "churn@v1", 0, 1.0, {"x": np.array([1.0])},
                                     {"predictions": np.array([1])}, 400, None)
                )  # fmt: skip
                if n < 30:
                    told.append(FeedbackRecord(pid, now, None, int(n < right), None, "churn"))
        told.append(FeedbackRecord(new_id(), now, None, 1, None, "churn"))
        answers.flush()
        told.flush()
    return tmp_path


def test_each_window_shows_its_planted_accuracy(cli, project: Path) -> None:
    result = cli("monitor", "churn", "--every", "1h", "--since", "1d", "--baseline", "0")
    assert result.code == 0, result
    lines = [line for line in result.out.splitlines() if "churn@v1" in line]
    assert len(lines) == 3
    for line, accuracy in zip(lines, ("0.800", "0.500", "1.000"), strict=True):
        assert f" {accuracy} " in line
        assert "30 (75%)" in line
    assert "1 feedback record(s) name predictions the log does not hold" in result.out
    shown = json.loads(cli("monitor", "churn", "--every", "40", "--json", check=True).out)
    assert [w["accuracy"] for w in shown["windows"]] == [0.8, 0.5, 1.0]
    assert [w["predictions"] for w in shown["windows"]] == [40, 40, 40]
    assert len(shown["unmatched"]) == 1
    assert shown["feedback"] == 91


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--every", "1x"], ["every '1x'", "15m", "or a number of predictions (--every 1000)"]),
        (["--every", "0"], ["every 0", "at least 1"]),
        (["--since", "yesterday"], ["--since 'yesterday'", "ISO"]),
        (["--task", "ranking"], ["task 'ranking'", "classification"]),
        (["--baseline", "yes"], ["--baseline 'yes'", "number"]),
    ],
)
def test_bad_settings_are_named(cli, project: Path, args: list[str], fragments: list[str]):
    assert_user_error(cli("monitor", "churn", *args), *fragments)


@pytest.fixture
def drifting(cli, tmp_path: Path) -> Path:
    """Deployment `churn`: three closed hours of answers, the last with `x` moved by
    1.5 standard deviations; dataset `train@v1`, the rows it was trained on."""
    now = time.time_ns() // 1000
    start = (now // HOUR_US - 4) * HOUR_US
    rng = np.random.default_rng(0)
    with loopml.init(tmp_path) as ws:
        x = rng.normal(size=1000)
        loopml.data.add(pl.DataFrame({"x": x, "predictions": (x > 0).astype(int)}),
                        name="train", workspace=ws)  # fmt: skip
        with PredictionLog(ws) as answers:
            for hour in range(3):
                for n in range(200):
                    value = rng.normal() + (1.5 if hour == 2 else 0.0)
                    answers.append(
                        PredictionRecord(new_id(), None, start + hour * HOUR_US + n * 1_000_000,
                                         "churn", "churn@v1", 0, 1.0, {"x": np.array([value])},
                                         {"predictions": np.array([int(value > 0)])}, 400, None)
                    )  # fmt: skip
    return tmp_path


def test_drift_prints_the_columns_that_moved(cli, drifting: Path) -> None:
    result = cli("monitor", "churn", "--drift", "--since", "1d", "--reference", "train@v1")
    assert result.code == 0, result
    lines = [line for line in result.out.splitlines() if "churn@v1" in line and "200" in line]
    assert len(lines) == 3
    assert lines[0].split()[-2:] == ["none", "-"]  # nothing moved; no window before it
    assert lines[1].split()[-2:] == ["none", "none"]
    assert "x, predictions" in lines[2]
    assert "compared with: churn@v1: dataset train@v1" in result.out
    shown = json.loads(
        cli("monitor", "churn", "--drift", "--reference", "train@v1", "--json", check=True).out
    )
    assert (shown["computed"], shown["read_back"]) == (0, 3)  # kept by the first run
    assert shown["references"] == {"churn@v1": "dataset train@v1"}
    moved = {(w["comparison"], w["column"]) for w in shown["windows"] if w["drifted"]}
    assert moved == {(c, k) for c in ("training", "previous") for k in ("x", "predictions")}
    without = cli("monitor", "churn", "--drift", check=True)  # no lineage: it says so
    assert "churn@v1 is not a model version" in without.out


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--drift", "--every", "100"], ["--every 100", "duration"]),
        (["--drift", "--every", "1x"], ["--every '1x' is not a window", "1h30m)"]),
        (["--drift", "--baseline", "1"], ["--baseline", "--drift"]),
        (["--reference", "train@v1"], ["--reference", "--drift"]),
        (["--drift", "--reference", "nothing@v2"], ["dataset 'nothing'"]),
    ],
)
def test_bad_drift_settings_are_named(
    cli, drifting: Path, args: list[str], fragments: list[str]
) -> None:
    assert_user_error(cli("monitor", "churn", *args), *fragments)


@pytest.mark.parametrize("more", [[], ["--every", "1000"], ["--json"], ["--drift"]])
def test_a_deployment_never_heard_of_is_named(cli, project: Path, more: list[str]) -> None:
    shown = cli("monitor", "nosuch", *more)
    assert shown.code == 2, shown
    assert "no deployment 'nosuch'" in shown.err
    assert "loopml deployments list" in shown.err


@pytest.mark.parametrize("more", [[], ["--every", "1000"]])
def test_a_window_with_no_predictions_says_so(cli, project: Path, more: list[str]) -> None:
    quiet = cli("monitor", "churn", "--since", "2020-01-01", "--until", "2020-01-02", *more)
    assert quiet.code == 0, quiet
    assert "no predictions of deployment 'churn' in that time" in quiet.out
    as_json = cli("monitor", "churn", "--since", "2020-01-01", "--until", "2020-01-02", "--json")
    assert json.loads(as_json.out)["windows"] == []


def test_drift_with_nothing_to_compare_says_why_and_the_option(cli, tmp_path: Path) -> None:
    """One window of predictions and no reference: the predictions are there (not "no
    predictions"), and the command names --reference (exit 2)."""
    hour = (time.time_ns() // 1000 // HOUR_US - 1) * HOUR_US
    with loopml.init(tmp_path) as ws, PredictionLog(ws) as answers:
        for n in range(50):
            answers.append(
                PredictionRecord(new_id(), None, hour + n * 1_000_000, "churn", "churn@v1", 0,
                                 1.0, {"x": np.array([float(n)])},
                                 {"predictions": np.array([n % 2])}, 400, None)
            )  # fmt: skip
    shown = cli("monitor", "churn", "--drift", "--every", "1h", "--since", "1d")
    assert_user_error(shown, "1 window(s) of deployment 'churn' hold predictions", "--reference")
    assert "no predictions" not in shown.err + shown.out


def test_labelled_rows_are_counted_against_rows_when_requests_hold_several(
    cli, tmp_path: Path
) -> None:
    """5 requests of two rows, 3 rows labelled: "3 of 10 rows (30%)", not "3 (30%)"
    beside 5 predictions."""
    now = time.time_ns() // 1000
    hour = (now // HOUR_US - 1) * HOUR_US
    with loopml.init(tmp_path) as ws, PredictionLog(ws) as answers, FeedbackLog(ws) as told:
        for n in range(5):
            pid = new_id()
            answers.append(
                PredictionRecord(pid, None, hour + n * 1_000_000, "churn", "churn@v1", 0, 1.0,
                                 {"x": np.array([1.0, 2.0])}, {"predictions": np.array([1, 0])},
                                 400, None)
            )  # fmt: skip
            if n < 3:
                told.append(FeedbackRecord(pid, now, None, 1, 0, "churn"))
    shown = cli("monitor", "churn", "--every", "1h", "--since", "1d", check=True)
    line = next(line for line in shown.out.splitlines() if "churn@v1" in line)
    assert "3 of 10 rows (30%)" in line
