"""`loopml feedback import` in real processes: what it recorded, in words and in
--json; a bad file is one line naming the line and the fix (exit 2), and writes
nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import loopml
from cli_checks import assert_user_error
from loopml.monitor import labelled
from loopml.serve import PredictionLog, PredictionRecord


def made_id(time_us: int, tail: int) -> str:
    return f"{time_us // 1000:012x}{tail:020x}"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, list[str]]:
    """Deployment churn: 5 answers made a minute ago."""
    start = time.time_ns() // 1000 - 60_000_000
    ids = [made_id(start + n * 1000, n) for n in range(5)]
    with loopml.init(tmp_path) as ws, PredictionLog(ws) as log:
        for n, pid in enumerate(ids):
            log.append(
                PredictionRecord(pid, None, start + n * 1000, "churn", "churn@v1", 0, 1.0,
                                 {"x": [1.0]}, {"predictions": [n % 2]}, 300, None)
            )  # fmt: skip
    return tmp_path, ids


def test_an_import_says_what_it_recorded(cli, project: tuple[Path, list[str]]) -> None:
    root, ids = project
    later = made_id(time.time_ns() // 1000 - 1_000_000, 77)
    lines = ["id,label", *(f"{pid},{n % 2}" for n, pid in enumerate(ids)), f"{ids[0]},1"]
    (root / "labels.csv").write_text("\n".join([*lines, f"{later},0"]) + "\n")
    result = cli("feedback", "import", "labels.csv")
    assert result.code == 0, result
    said = result.out.splitlines()
    assert (
        said[0]
        == "imported 7 feedback record(s) from labels.csv: 6 on logged predictions (churn 6)"
    )
    assert said[1] == (
        "1 id(s) the prediction log does not hold (recorded; joined once they are logged), "
        f"first: {later}"
    )
    assert "duplicates: 1 in the file (the later line wins), 0 of earlier feedback" in result.out
    shown = json.loads(cli("feedback", "import", "labels.csv", "--json", check=True).out)
    assert shown == {
        "path": "labels.csv",
        "imported": 7,
        "matched": 6,
        "unknown": [later],
        "duplicates_in_file": 1,
        "duplicates_of_earlier": 6,
        "rewarded": 0,
        "deployments": {"churn": 6},
    }
    with loopml.workspace(root) as ws:
        found = labelled("churn", workspace=ws)
    assert found.rows["label"].to_list() == [1, 1, 0, 1, 0]  # ids[0]: its last line, 1
    assert found.unmatched == (later,)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("id,label,when\n{0},1\n", ["column(s) 'when'", "rename or drop"]),
        ("id,label\n{0},1\n{0},\n", ["labels.csv, line 3", "neither a label nor a reward"]),
        ("id,label,time\n{0},1,tomorrow\n", ["line 2", "time 'tomorrow'", "ISO 8601"]),
        ("id,label\nabc,1\n", ["line 2", "'abc' is not in the prediction log"]),
    ],
)
def test_a_bad_file_is_one_line_naming_the_line_and_nothing_is_written(
    cli, project: tuple[Path, list[str]], text: str, fragments: list[str]
) -> None:
    root, ids = project
    (root / "labels.csv").write_text(text.format(ids[0]))
    assert_user_error(cli("feedback", "import", "labels.csv"), *fragments)
    with loopml.workspace(root) as ws:
        assert ws.store.find_artifacts(kind="feedback") == []
