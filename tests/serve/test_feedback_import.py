"""``loopml.serve.import_feedback``: a file of labels recorded against a real prediction
log: what it reports (matched by deployment, ids the log does not hold, duplicates in
the file and of earlier feedback, bandit rewards) is what the join then finds; a file
is written as one segment per deployment, not one per row; a bad file names the line
and column and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import loopml
from loopml.errors import InvalidInput
from loopml.monitor import labelled
from loopml.serve import (
    Arm,
    FeedbackImport,
    Policy,
    PredictionLog,
    PredictionRecord,
    feedback_records,
    import_feedback,
)
from loopml.store import ArmStats

SECOND_US = 1_000_000
START_US = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC


def made_id(time_us: int, tail: int) -> str:
    """A loopml id holding ``time_us``, as the server's id of a prediction made then."""
    return f"{time_us // 1000:012x}{tail:020x}"


def answer(
    time_us: int,
    tail: int,
    deployment: str,
    predicted: list[Any],
    *,
    ref: str | None = None,
    arm: int | None = 0,
) -> PredictionRecord:
    return PredictionRecord(
        made_id(time_us, tail), None, time_us, deployment, ref or f"{deployment}@v1", arm,
        0.5, {"x": [1.0] * len(predicted)}, {"predictions": predicted}, 300, None,
    )  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


@pytest.fixture
def logged(ws: loopml.Workspace) -> dict[str, list[str]]:
    """churn: 6 one-row answers and one of three rows; pick (a Thompson bandit over
    pick@v1 and pick@v2): 4 answers, alternately by each arm, predicting "a"."""
    policy = Policy((Arm("pick@v1", 1.0), Arm("pick@v2", 1.0)), routing="thompson")
    ws.store.set_deployment("pick", policy.to_dict())
    churn = [answer(START_US + n * SECOND_US, n, "churn", [n % 2]) for n in range(6)]
    churn.append(answer(START_US + 6 * SECOND_US, 6, "churn", [1, 0, 1]))
    pick = [
        answer(START_US + (10 + n) * SECOND_US, 10 + n, "pick", ["a"], ref=f"pick@v{n % 2 + 1}")
        for n in range(4)
    ]
    with PredictionLog(ws) as log:
        for record in churn + pick:
            log.append(record)
    return {
        "churn": [r.prediction_id for r in churn],
        "pick": [r.prediction_id for r in pick],
    }


def write_csv(path: Path, header: str, *lines: str) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_a_file_is_recorded_as_reported_and_joined_as_written(
    ws: loopml.Workspace, logged: dict[str, list[str]], tmp_path: Path
) -> None:
    churn, pick = logged["churn"], logged["pick"]
    later = made_id(START_US + 30 * SECOND_US, 99)  # a prediction not logged (yet)
    loopml.feedback(churn[0], label=0, workspace=ws)  # earlier feedback, replaced below
    path = write_csv(
        tmp_path / "labels.csv",
        "id,label,row,time",
        f"{churn[0]},1,,2026-01-02T00:00:00Z",
        f"{churn[1]},0,,2026-01-02T01:00:00+01:00",  # the same moment as the line above
        f"{churn[2]},0,,2026-01-02T00:00:00",
        f"{churn[2]},1,,2026-01-02T00:00:00",  # a duplicate: the later line wins
        f"{churn[6]},0,1,2026-01-02T00:00:00Z",  # one row of three
        f"{pick[0]},a,,2026-01-02T00:00:00Z",  # right: rewards pick@v1 with 1
        f"{pick[1]},b,,2026-01-02T00:00:00Z",  # wrong: rewards pick@v2 with 0
        f"{pick[2]},a,,",  # right, known now
        f"{later},1,,2026-01-02T00:00:00Z",
    )
    assert ws.store.arm_stats("pick") == {}
    done = import_feedback(path, workspace=ws)
    assert done == FeedbackImport(
        path=str(path),
        imported=9,
        matched=8,
        unknown=(later,),
        duplicates_in_file=1,
        duplicates_of_earlier=1,
        rewarded=3,
        deployments={"churn": 5, "pick": 3},
    )
    assert ws.store.arm_stats("pick") == {
        "pick@v1": ArmStats(pulls=0, rewards=2, reward_sum=2.0),
        "pick@v2": ArmStats(pulls=0, rewards=1, reward_sum=0.0),
    }

    found = labelled("churn", workspace=ws)
    by_key = {(r["prediction_id"], r["row"]): r for r in found.rows.to_dicts()}
    # churn[0]: the feedback given before the import was known later (now): it stays
    assert [by_key[(pid, 0)]["label"] for pid in churn[:3]] == [0, 0, 1]
    assert [by_key[(churn[6], row)]["label"] for row in range(3)] == [None, 0, None]
    day = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp()) * SECOND_US
    assert by_key[(churn[1], 0)]["labelled_us"] == day  # +01:00 read as its offset says
    assert by_key[(churn[2], 0)]["labelled_us"] == day  # no offset: UTC
    # the label on a prediction no log holds yet is reported, never dropped
    assert (found.feedback, found.duplicates, found.unmatched) == (6, 2, (later,))
    # one segment for each deployment and one for the id not logged: not one per row
    names = sorted(a.name for a in ws.store.find_artifacts(kind="feedback"))
    assert names == ["(unknown)", "churn", "churn", "pick"]  # churn: the earlier feedback too

    # the prediction logged later is joined to the label imported before it
    with PredictionLog(ws) as log:
        log.append(answer(START_US + 30 * SECOND_US, 99, "churn", [1]))
    found = labelled("churn", workspace=ws)
    assert found.rows.filter(pl.col("prediction_id") == later)["label"].to_list() == [1]
    assert found.unmatched == ()


def test_parquet_with_typed_columns_reads_as_csv_does(
    ws: loopml.Workspace, logged: dict[str, list[str]], tmp_path: Path
) -> None:
    churn = logged["churn"]
    path = tmp_path / "labels.parquet"
    pl.DataFrame(
        {
            "prediction_id": churn[:3],
            "label": [1, 0, 1],
            "row": [None, 0, None],
            "time": [datetime(2026, 1, 2), None, datetime(2026, 1, 3, tzinfo=UTC)],
        },
        schema_overrides={"row": pl.Int32},
    ).write_parquet(path)
    done = import_feedback(path, workspace=ws)
    assert (done.imported, done.matched, done.deployments) == (3, 3, {"churn": 3})
    told = feedback_records("churn", workspace=ws).sort("prediction_id")
    assert told["label"].to_list() == ["1", "0", "1"]
    assert told["row"].to_list() == [None, 0, None]
    day = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp()) * SECOND_US
    assert told["time_us"][0] == day
    assert told["time_us"][2] == day + 24 * 3600 * SECOND_US
    assert told["time_us"][1] > day + 30 * 24 * 3600 * SECOND_US  # none given: now


def test_a_large_file_is_one_segment_per_deployment(ws: loopml.Workspace, tmp_path: Path) -> None:
    count = 20_000
    with PredictionLog(ws, max_buffered=count + 1) as log:
        for n in range(count):
            log.append(answer(START_US + n * 1000, n, "churn", [n % 2]))
            if n % 1000 == 999:
                log.flush()  # segments of 1,000, as a server writing every second
    ids = [made_id(START_US + n * 1000, n) for n in range(count)]
    labels = [f"{pid},{n % 3 % 2}" for n, pid in enumerate(ids)]
    done = import_feedback(write_csv(tmp_path / "many.csv", "id,label", *labels), workspace=ws)
    assert (done.imported, done.matched, done.unknown) == (count, count, ())
    assert len(ws.store.find_artifacts(kind="feedback")) == 1
    found = labelled("churn", workspace=ws)
    assert found.rows["label"].to_list() == [n % 3 % 2 for n in range(count)]


BAD = [
    ("id,label,note\n{0},1,x\n", ["column(s) 'note'", "id, label, reward, row and time"], "note"),
    ("label\n1\n", ["no id column"], "id"),
    ("id,prediction_id,label\n{0},{0},1\n", ["both id and prediction_id"], "id"),
    ("id,row\n{0},0\n", ["no label or reward column"], "label"),
    ("id,label\n{0},1\n,0\n", ["line 3", "no prediction id"], "id"),
    ("id,label,reward\n{0},1,\n{0},,\n", ["line 3", "neither a label nor a reward"], "label"),
    ("id,reward\n{0},1\n{0},lots\n", ["line 3", "reward 'lots' is not a number"], "reward"),
    ("id,reward\n{0},inf\n", ["line 2", "reward inf is not a finite number"], "reward"),
    ("id,label\n{0},1.5\n{0},NaN\n", ["line 3", "label nan"], "label"),
    ("id,label,row\n{0},1,-1\n", ["line 2", "row -1 is not a row number"], "row"),
    ("id,label,row\n{0},1,0\n{0},1,1.5\n", ["line 3", "row 1.5 is not a row number"], "row"),
    ("id,label,row\n{0},1,1\n", ["line 2", "row 1 is not a row of prediction", "has 1"], "row"),
    ("id,label,time\n{0},1,soon\n", ["line 2", "time 'soon' is not an ISO 8601"], "time"),
    ("id,label,time\n{0},1,2999-01-01\n", ["line 2", "is in the future"], "time"),
    ("id,label,time\n{0},1,2025-12-31\n", ["line 2", "is before prediction"], "time"),
    (
        "id,label\n{0},1\nnot-an-id,0\n",
        ["line 3", "'not-an-id' is not in the prediction log"],
        "id",
    ),
    (
        "id,reward\n{1},1\n",
        ["line 2", "a reward for prediction", "needs the prediction logged"],
        "reward",
    ),
    (
        "id,reward\n{2},5\n",
        ["line 2", "reward 5.0", "bandit deployment 'pick'", "from 0 to 1"],
        "reward",
    ),
    ("id,label\n{0},1\n{0}", ["line 3", "neither a label nor a reward"], "label"),
    (
        "id,label,reward\n{0},1,\n{2},a,1\n",
        ["line 3", "gives both reward (1.0) and label ('a')", "give one"],
        "reward",
    ),
]


@pytest.mark.parametrize(("text", "fragments", "field"), BAD)
def test_a_bad_file_names_the_line_and_writes_nothing(
    ws: loopml.Workspace,
    logged: dict[str, list[str]],
    tmp_path: Path,
    text: str,
    fragments: list[str],
    field: str,
) -> None:
    unlogged = made_id(START_US, 12345)
    path = tmp_path / "bad.csv"
    path.write_text(text.format(logged["churn"][0], unlogged, logged["pick"][0]))
    with pytest.raises(InvalidInput) as raised:
        import_feedback(path, workspace=ws)
    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))
    assert raised.value.field == field
    assert ws.store.find_artifacts(kind="feedback") == []
    assert ws.store.arm_stats("pick") == {}


def test_a_file_that_is_not_feedback_is_refused(ws: loopml.Workspace, tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("id,label\n")
    (tmp_path / "fake.parquet").write_text("id,label\n")
    (tmp_path / "ragged.csv").write_text('id,label\n"unclosed,1\n')
    cases = [
        (tmp_path / "labels.txt", "cannot tell the format"),
        (tmp_path / "nowhere.csv", "is not a file"),
        (tmp_path, "cannot tell the format"),
        (tmp_path / "fake.parquet", "not a Parquet file"),
        (tmp_path / "ragged.csv", "cannot read .* as CSV"),
    ]
    for path, fragment in cases:
        with pytest.raises(InvalidInput, match=fragment) as raised:
            import_feedback(path, workspace=ws)
        assert raised.value.field == "path"
    assert ws.store.find_artifacts(kind="feedback") == []


def test_a_file_of_ids_from_no_time_reads_the_whole_log(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    """Ids that are not loopml's (written to the log by hand) are looked for in the
    whole log, and found."""
    with PredictionLog(ws) as log:
        log.append(
            PredictionRecord("order-17", None, START_US, "churn", "churn@v1", 0, 1.0,
                             {"x": [1.0]}, {"predictions": [1]}, 300, None)
        )  # fmt: skip
    path = write_csv(tmp_path / "orders.csv", "id,label", "order-17,0")
    done = import_feedback(path, workspace=ws)
    assert (done.matched, done.deployments) == (1, {"churn": 1})
    assert labelled("churn", workspace=ws).rows["label"].to_list() == [0]


def test_a_reward_credits_only_bandits(
    ws: loopml.Workspace, logged: dict[str, list[str]], tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "rewards.csv",
        "id,reward",
        f"{logged['churn'][0]},0.5",  # a fixed deployment: recorded, rewards no arm
        f"{logged['pick'][3]},0.25",
    )
    done = import_feedback(path, workspace=ws)
    assert (done.imported, done.rewarded) == (2, 1)
    assert ws.store.arm_stats("pick") == {"pick@v2": ArmStats(pulls=0, rewards=1, reward_sum=0.25)}


def test_an_arm_learns_once_a_prediction_however_often_it_is_imported(
    ws: loopml.Workspace, logged: dict[str, list[str]], tmp_path: Path
) -> None:
    first, second = logged["pick"][1], logged["pick"][3]  # both answered by pick@v2
    path = write_csv(
        tmp_path / "rewards.csv", "id,reward", f"{first},1", f"{first},0", f"{second},0.5"
    )
    done = import_feedback(path, workspace=ws)
    assert (done.imported, done.rewarded, done.duplicates_in_file) == (3, 2, 1)
    assert ws.store.arm_stats("pick") == {"pick@v2": ArmStats(pulls=0, rewards=2, reward_sum=1.5)}
    again = import_feedback(path, workspace=ws)  # the same file twice: recorded, credits nothing
    assert (again.rewarded, again.duplicates_of_earlier) == (0, 2)
    assert ws.store.arm_stats("pick") == {"pick@v2": ArmStats(pulls=0, rewards=2, reward_sum=1.5)}
    bad = write_csv(tmp_path / "bad.csv", "id,reward", f"{first},7")  # credited or not: refused
    with pytest.raises(InvalidInput, match="must be from 0 to 1"):
        import_feedback(bad, workspace=ws)
