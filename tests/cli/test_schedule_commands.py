"""`loopml schedule add | list | remove | run-due` through the real command."""

from __future__ import annotations

import json
import sqlite3
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_bad_input import assert_user_error

import loopml
from loopml.pipeline._schedule import add_schedule

PIPELINE = """
import loopml

@loopml.step
def make(n: int) -> list:
    print(f"making {n}")
    return list(range(n))

@loopml.step
def fail(n: int) -> int:
    raise RuntimeError(f"cannot do {n}")

@loopml.pipeline
def sums(n: int = 4, scale: float = 1.0):
    return make(n)

@loopml.pipeline
def broken(n: int = 4):
    return fail(n)
"""


@pytest.fixture
def project(cli, tmp_path: Path) -> Path:
    (tmp_path / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    cli("init", check=True)
    return tmp_path


def schedules(root: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(root / ".loopml" / "loopml.db")
    try:
        return list(connection.execute("SELECT name, target, params FROM schedules"))
    finally:
        connection.close()


def make_due(root: Path, name: str, pipeline: str, **options: object) -> None:
    """A schedule of ``root/pipelines.py:pipeline`` whose first occurrence is past."""
    target = f"{root / 'pipelines.py'}:{pipeline}"
    past = datetime.now(UTC) - timedelta(days=1)
    try:
        with loopml.workspace(root) as ws:
            add_schedule(name, target, workspace=ws, now=past, **options)  # type: ignore[arg-type]
    finally:
        sys.modules.pop("loopml_user_pipelines", None)
        sys.path[:] = [p for p in sys.path if p != str(root)]


def test_add_list_remove(cli, project: Path) -> None:
    added = cli(
        "schedule", "add", "churn", "pipelines.py:sums", "--every", "1d", "--param", "n=7",
        check=True,
    )  # fmt: skip
    assert "schedule churn: pipelines.py:sums every 1d; next due" in added.out
    nightly = cli(
        "schedule", "add", "nightly", "pipelines.py:sums",
        "--cron", "0 3 * * *", "--timezone", "Europe/Berlin",
        check=True,
    )  # fmt: skip
    assert "03:00 CE" in nightly.out  # CET or CEST, by the season
    table = cli("schedule", "list", check=True).out
    assert "churn" in table
    assert "pipelines.py:sums n=7" in table
    assert "every 1d" in table
    assert "0 3 * * * Europe/Berlin" in table
    listed = json.loads(cli("schedule", "list", "--json", check=True).out)
    assert [s["name"] for s in listed] == ["churn", "nightly"]
    assert listed[0]["params"] == {"n": 7}
    assert listed[0]["resolved_target"] == f"{project}/pipelines.py:sums"
    assert listed[1]["cron"] == "0 3 * * *"
    assert "removed schedule churn" in cli("schedule", "remove", "churn", check=True).out
    assert [row[0] for row in schedules(project)] == ["nightly"]


def test_run_due_runs_what_is_due_and_records_it(cli, project: Path) -> None:
    assert "nothing is due" in cli("schedule", "run-due", check=True).out
    make_due(project, "churn", "sums", every="1h", params={"n": 3})
    cli("schedule", "add", "later", "pipelines.py:sums", "--every", "1d", check=True)
    dry = cli("schedule", "run-due", "--dry-run", check=True)
    assert "churn" in dry.out
    assert "later" not in dry.out
    assert "1 due (dry run: nothing ran)" in dry.out
    done = cli("schedule", "run-due", check=True)
    assert "making 3" in done.out  # the step's output is shown as it runs
    assert "ran 1: 1 succeeded, 0 failed" in done.out
    assert "later" not in done.out
    assert "nothing is due" in cli("schedule", "run-due", check=True).out
    [churn, _later] = json.loads(cli("schedule", "list", "--json", check=True).out)
    assert churn["last_status"] == "succeeded"
    assert churn["last_run_id"] is not None
    assert datetime.fromisoformat(churn["next_due_at"]) > datetime.now(UTC)


def test_run_due_exits_1_when_a_pipeline_fails_and_runs_the_others(cli, project: Path) -> None:
    make_due(project, "a-broken", "broken", every="1h")
    make_due(project, "b-good", "sums", every="1h")
    result = cli("schedule", "run-due")
    assert result.code == 1, result
    assert "RuntimeError: cannot do 4" in result.err  # the step's traceback
    assert "schedule a-broken failed: step fail of pipeline broken failed" in result.err
    assert "ran 2: 1 succeeded, 1 failed" in result.out
    listed = json.loads(cli("schedule", "list", "--json", check=True).out)
    assert {s["name"]: s["last_status"] for s in listed} == {
        "a-broken": "failed",
        "b-good": "succeeded",
    }


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--every", "1x"], ["--every '1x'", "1h30m"]),
        (["--every", "0s"], ["at least one second"]),
        (["--cron", "0 25 * * *"], ["--cron '0 25 * * *'", "bad hour"]),
        (["--cron", "every day"], ["five fields"]),
        (["--every", "1d", "--timezone", "Mars/Olympus"], ["'Mars/Olympus'", "Europe/Berlin"]),
        ([], ["exactly one of --every", "--cron"]),
        (["--every", "1d", "--cron", "0 3 * * *"], ["exactly one of --every"]),
        (["--every", "1d", "--param", "m=1"], ["no parameter 'm'", "n, scale"]),
        (["--every", "1d", "--param", "n=many"], ["--param n=many", "int"]),
        (["--every", "1d", "--param", "n"], ["NAME=VALUE"]),
    ],
)
def test_bad_add_is_one_error_and_records_nothing(
    cli, project: Path, args: list[str], fragments: list[str]
) -> None:
    result = cli("schedule", "add", "churn", "pipelines.py:sums", *args)
    assert_user_error(result, *fragments)
    assert schedules(project) == []


@pytest.mark.parametrize(
    ("name", "target", "fragments"),
    [
        ("churn", "missing.py:sums", ["missing.py does not exist"]),
        ("churn", "pipelines.py:ghost", ["no pipeline named 'ghost'", "broken, sums"]),
        ("churn", "pipelines.py", ["has 2 pipelines", "name one"]),
        ("no good", "pipelines.py:sums", ["schedule name 'no good'"]),
    ],
)
def test_bad_names_and_targets(
    cli, project: Path, name: str, target: str, fragments: list[str]
) -> None:
    assert_user_error(cli("schedule", "add", name, target, "--every", "1d"), *fragments)
    assert schedules(project) == []


def test_a_taken_name_and_an_unknown_one(cli, project: Path) -> None:
    cli("schedule", "add", "churn", "pipelines.py:sums", "--every", "1d", check=True)
    again = cli("schedule", "add", "churn", "pipelines.py:sums", "--every", "2d")
    assert_user_error(again, "'churn' exists already")
    assert schedules(project) == [("churn", "pipelines.py:sums", "{}")]
    assert_user_error(cli("schedule", "remove", "ghost"), "no schedule named 'ghost'")
