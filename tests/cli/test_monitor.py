"""`loopml monitor` in real processes: the planted accuracy of each window printed and
in --json; bad settings are one line naming the option and the fix (exit 2)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
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
        (["--every", "1x"], ["every '1x'", "15m"]),
        (["--every", "0"], ["every 0", "at least 1"]),
        (["--since", "yesterday"], ["--since 'yesterday'", "ISO"]),
        (["--task", "ranking"], ["task 'ranking'", "classification"]),
        (["--baseline", "yes"], ["--baseline 'yes'", "number"]),
    ],
)
def test_bad_settings_are_named(cli, project: Path, args: list[str], fragments: list[str]):
    assert_user_error(cli("monitor", "churn", *args), *fragments)
