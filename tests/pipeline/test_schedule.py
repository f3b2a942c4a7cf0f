"""Schedules: intervals and cron times, and run_due running what is due exactly once.

Pipelines are written as real files and scheduled by path, as `loopml schedule add`
does; time is passed in, so nothing waits for the clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loopml
from loopml._cadence import format_every, next_due, parse_every
from loopml.errors import InvalidInput, PipelineError
from loopml.pipeline._schedule import add_schedule, run_due
from loopml.store import RunStatus

PIPELINES = """
import time
import loopml

@loopml.step
def square(x: int) -> int:
    time.sleep(float(__import__("os").environ.get("SQUARE_SLEEP", "0")))
    return x * x

@loopml.step
def explode(x: int) -> int:
    raise ValueError(f"no good: {x}")

@loopml.pipeline
def squares(n: int = 3):
    return square(n)

@loopml.pipeline
def broken(n: int = 3):
    return explode(n)

@loopml.pipeline
def needs(n: int):
    return square(n)
"""

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    """The pipelines file, as a target without its ``:name``."""
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "pipelines.py"
    path.write_text(textwrap.dedent(PIPELINES))
    yield str(path)
    sys.modules.pop("loopml_user_pipelines", None)
    sys.path[:] = [p for p in sys.path if p != str(folder)]


def pipeline_runs(ws: loopml.Workspace, name: str = "squares") -> list[loopml.store.Run]:
    return ws.store.find_runs(kind="pipeline", name=name)


# -- intervals and cron times --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("1h", 3600),
        ("1d", 86_400),
        ("2w", 1_209_600),
        ("1h30m", 5400),
        ("1d12h", 129_600),
        ("1w2d3h4m5s", 788_645),
        ("90m", 5400),
    ],
)
def test_intervals(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds


def test_intervals_print_in_their_shortest_form() -> None:
    assert [format_every(s) for s in (30, 5400, 86_400, 788_645)] == [
        "30s",
        "1h30m",
        "1d",
        "1w2d3h4m5s",
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1x", "not an interval"),
        ("", "not an interval"),
        ("h", "not an interval"),
        ("1m1h", "largest first"),
        ("1.5h", "not an interval"),
        ("-1h", "not an interval"),
        ("0s", "at least one second"),
        ("1000w", "longer than ten years"),
    ],
)
def test_bad_intervals(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        parse_every(text)


def test_an_interval_skips_missed_occurrences_and_keeps_its_phase() -> None:
    assert next_due(after=T0, every_seconds=3600) == T0 + HOUR  # the first occurrence
    late = T0 + 5 * HOUR + timedelta(minutes=30)
    assert next_due(after=late, every_seconds=3600, previous=T0) == T0 + 6 * HOUR
    on_time = T0 + HOUR
    assert next_due(after=on_time, every_seconds=3600, previous=on_time) == T0 + 2 * HOUR


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cron", "timezone", "after", "expected"),
    [
        ("0 3 * * *", "UTC", utc(2024, 1, 1, 12, 0), utc(2024, 1, 2, 3, 0)),
        ("0 3 * * *", "UTC", utc(2024, 1, 2, 3, 0), utc(2024, 1, 3, 3, 0)),  # strictly after
        ("*/15 * * * *", "UTC", utc(2024, 1, 1, 10, 7), utc(2024, 1, 1, 10, 15)),
        ("0 9 * * MON-FRI", "UTC", utc(2024, 1, 5, 10, 0), utc(2024, 1, 8, 9, 0)),
        ("0 0 1 * *", "UTC", utc(2024, 1, 31, 0, 0), utc(2024, 2, 1, 0, 0)),
        ("0 3 * * *", "America/New_York", utc(2024, 1, 1, 12, 0), utc(2024, 1, 2, 8, 0)),
        # Berlin: 03:00 is 02:00 UTC in winter time, 01:00 UTC once clocks go forward.
        ("0 3 * * *", "Europe/Berlin", utc(2024, 3, 29, 12, 0), utc(2024, 3, 30, 2, 0)),
        ("0 3 * * *", "Europe/Berlin", utc(2024, 3, 30, 12, 0), utc(2024, 3, 31, 1, 0)),
        # 02:30 does not exist on 31 March 2024 in Berlin: it runs just after the change.
        ("30 2 * * *", "Europe/Berlin", utc(2024, 3, 30, 12, 0), utc(2024, 3, 31, 1, 0)),
        # 02:30 happens twice on 27 October 2024 in Berlin: it runs once, the first time,
        ("30 2 * * *", "Europe/Berlin", utc(2024, 10, 26, 12, 0), utc(2024, 10, 27, 0, 30)),
        # and next on the day after, even when asked from inside the repeated hour.
        ("30 2 * * *", "Europe/Berlin", utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)),
        ("30 2 * * *", "Europe/Berlin", utc(2024, 10, 27, 1, 10), utc(2024, 10, 28, 1, 30)),
    ],
)
def test_cron_next_occurrence(
    cron: str, timezone: str, after: datetime, expected: datetime
) -> None:
    assert next_due(after=after, cron=cron, timezone=timezone) == expected


# -- adding ----------------------------------------------------------------------------


def test_add_records_the_absolute_target_and_typed_params(
    ws: loopml.Workspace, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(target, tmp_path)
    added = add_schedule(
        "nightly",
        f"{relative}:squares",
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        params={"n": 4},
        workspace=ws,
        now=utc(2024, 3, 30, 12, 0),
    )
    assert added.target == f"{relative}:squares"
    assert added.resolved_target == f"{target}:squares"
    assert added.params == {"n": 4}
    assert added.next_due_at == utc(2024, 3, 31, 1, 0)
    # A file with several pipelines needs the name; one given by file alone is pinned.
    only = tmp_path / "only.py"
    only.write_text("import loopml\n@loopml.step\ndef s() -> int:\n    return 1\n"
                    "@loopml.pipeline\ndef solo():\n    return s()\n")  # fmt: skip
    pinned = add_schedule("solo", "only.py", every="1d", workspace=ws, now=T0)
    assert pinned.resolved_target == f"{only}:solo"
    sys.modules.pop("loopml_user_only", None)


@pytest.mark.parametrize(
    ("name", "suffix", "options", "error", "fragment"),
    [
        ("s", ":squares", {"every": "1x"}, InvalidInput, "'1x'"),
        ("s", ":squares", {"cron": "0 25 * * *"}, InvalidInput, "bad hour"),
        ("s", ":squares", {"every": "1d", "cron": "0 3 * * *"}, InvalidInput, "exactly one"),
        ("s", ":squares", {}, InvalidInput, "exactly one"),
        ("s", ":squares", {"every": "1d", "timezone": "Nowhere/City"}, InvalidInput, "timezone"),
        ("s", ":ghost", {"every": "1d"}, InvalidInput, "no pipeline named 'ghost'"),
        ("s", "", {"every": "1d"}, InvalidInput, "has 3 pipelines"),
        ("s", ":squares", {"every": "1d", "params": {"m": 1}}, InvalidInput, "parameter 'm'"),
        ("s", ":needs", {"every": "1d"}, InvalidInput, "needs a value for its parameter 'n'"),
        ("bad name", ":squares", {"every": "1d"}, InvalidInput, "schedule name"),
    ],
)
def test_add_checks_everything_before_recording(
    ws: loopml.Workspace,
    target: str,
    name: str,
    suffix: str,
    options: dict[str, object],
    error: type[Exception],
    fragment: str,
) -> None:
    with pytest.raises(error, match=fragment):
        add_schedule(name, target + suffix, workspace=ws, now=T0, **options)  # type: ignore[arg-type]
    assert ws.store.find_schedules() == []


def test_add_refuses_a_file_that_is_not_there(ws: loopml.Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        add_schedule("s", f"{tmp_path}/nope.py:churn", every="1d", workspace=ws)
    (tmp_path / "bad.py").write_text("import loopml\nthis is not python\n")
    with pytest.raises(PipelineError, match=r"bad\.py:2"):
        add_schedule("s", f"{tmp_path}/bad.py:churn", every="1d", workspace=ws)
    assert ws.store.find_schedules() == []


# -- running what is due ---------------------------------------------------------------


def test_a_due_schedule_runs_once_and_an_undue_one_does_not(
    ws: loopml.Workspace, target: str
) -> None:
    add_schedule("hourly", f"{target}:squares", every="1h", params={"n": 4}, workspace=ws, now=T0)
    add_schedule("daily", f"{target}:squares", every="1d", workspace=ws, now=T0)
    assert run_due(workspace=ws, now=T0 + timedelta(minutes=59), echo=False) == []
    [done] = run_due(workspace=ws, now=T0 + HOUR, echo=False)
    assert (done.schedule, done.status, done.error) == ("hourly", "succeeded", None)
    [run] = pipeline_runs(ws)
    assert (run.id, run.params, run.status) == (done.run_id, {"n": 4}, RunStatus.SUCCEEDED)
    assert run_due(workspace=ws, now=T0 + HOUR, echo=False) == []  # that occurrence is done
    hourly, daily = ws.store.get_schedule("hourly"), ws.store.get_schedule("daily")
    assert (hourly.last_run_id, hourly.last_status) == (run.id, RunStatus.SUCCEEDED)
    assert hourly.next_due_at == T0 + 2 * HOUR
    assert (daily.last_run_id, daily.next_due_at) == (None, T0 + 24 * HOUR)


def test_a_schedule_due_five_times_over_runs_once(ws: loopml.Workspace, target: str) -> None:
    add_schedule("hourly", f"{target}:squares", every="1h", workspace=ws, now=T0)
    now = T0 + 5 * HOUR + timedelta(minutes=30)  # due at 1h, 2h, 3h, 4h and 5h
    assert [d.schedule for d in run_due(workspace=ws, now=now, echo=False)] == ["hourly"]
    assert len(pipeline_runs(ws)) == 1
    assert ws.store.get_schedule("hourly").next_due_at == T0 + 6 * HOUR
    assert now < T0 + 6 * HOUR  # in the future


def test_a_cron_schedule_runs_at_its_wall_clock_time(ws: loopml.Workspace, target: str) -> None:
    saturday = utc(2024, 3, 30, 12, 0)
    add_schedule(
        "nightly",
        f"{target}:squares",
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        workspace=ws,
        now=saturday,
    )
    assert run_due(workspace=ws, now=utc(2024, 3, 31, 0, 59), echo=False) == []
    assert len(run_due(workspace=ws, now=utc(2024, 3, 31, 1, 0), echo=False)) == 1
    assert ws.store.get_schedule("nightly").next_due_at == utc(2024, 4, 1, 1, 0)


def test_failures_are_recorded_and_the_others_still_run(
    ws: loopml.Workspace, target: str, tmp_path: Path
) -> None:
    add_schedule("a-broken", f"{target}:broken", every="1h", workspace=ws, now=T0)
    add_schedule("b-good", f"{target}:squares", every="1h", workspace=ws, now=T0)
    gone = tmp_path / "gone.py"
    gone.write_text(textwrap.dedent(PIPELINES))
    add_schedule("c-gone", f"{gone}:squares", every="1h", workspace=ws, now=T0)
    gone.unlink()
    sys.modules.pop("loopml_user_gone", None)
    done = {d.schedule: d for d in run_due(workspace=ws, now=T0 + HOUR, echo=False)}
    assert {name: d.status for name, d in done.items()} == {
        "a-broken": "failed",
        "b-good": "succeeded",
        "c-gone": "failed",
    }
    broken = done["a-broken"]
    assert broken.error is not None
    assert "no good: 3" in broken.error
    assert broken.traceback is not None
    assert "ValueError" in broken.traceback
    [broken_run] = pipeline_runs(ws, "broken")
    assert (broken.run_id, broken_run.status) == (broken_run.id, RunStatus.FAILED)
    assert done["c-gone"].run_id is None
    assert done["c-gone"].error is not None
    assert "does not exist" in done["c-gone"].error
    recorded = {s.name: (s.last_status, s.last_run_id) for s in ws.store.find_schedules()}
    assert recorded == {
        "a-broken": (RunStatus.FAILED, broken_run.id),
        "b-good": (RunStatus.SUCCEEDED, done["b-good"].run_id),
        "c-gone": (RunStatus.FAILED, None),
    }


def test_a_dry_run_claims_and_runs_nothing(ws: loopml.Workspace, target: str) -> None:
    add_schedule("hourly", f"{target}:squares", every="1h", workspace=ws, now=T0)
    [due] = run_due(workspace=ws, now=T0 + HOUR, dry_run=True)
    assert (due.schedule, due.status, due.run_id) == ("hourly", "due", None)
    assert pipeline_runs(ws) == []
    assert ws.store.get_schedule("hourly").next_due_at == T0 + HOUR


def test_two_run_due_processes_run_each_due_schedule_exactly_once(
    ws: loopml.Workspace, target: str
) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    for n in range(6):
        add_schedule(
            f"sq{n}", f"{target}:squares", every="1h", params={"n": n}, workspace=ws, now=past
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["SQUARE_SLEEP"] = "0.3"  # so that the two runners overlap
    command = [str(Path(sys.executable).with_name("loopml")), "schedule", "run-due"]
    runners = [
        subprocess.Popen(command, cwd=ws.root, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [runner.communicate(timeout=180)[0] for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], outputs
    ran = [line.split()[0] for out in outputs for line in out.splitlines() if "succeeded" in line]
    assert sorted(name for name in ran if name.startswith("sq")) == [f"sq{n}" for n in range(6)]
    runs = pipeline_runs(ws)
    assert sorted(run.params["n"] for run in runs) == list(range(6))  # each exactly once
    for schedule in ws.store.find_schedules():
        assert schedule.last_status is RunStatus.SUCCEEDED
        assert schedule.next_due_at > datetime.now(UTC)
