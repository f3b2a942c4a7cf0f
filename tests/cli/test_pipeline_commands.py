"""`loopml run` and `loopml status` through the real command."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from test_bad_input import assert_user_error

PIPELINE = """
import loopml

@loopml.step
def make(n: int) -> list:
    print(f"making {n}")
    return list(range(n))

@loopml.step
def total(values: list, scale: float = 1.0) -> float:
    if scale < 0:
        raise ValueError("scale must not be negative")
    return sum(values) * scale

@loopml.pipeline
def sums(n: int = 4, scale: float = 1.0, label: str = "x", on: bool = True):
    return total(make(n), scale=scale)
"""


def setup(cli, tmp_path: Path) -> None:
    (tmp_path / "pipelines.py").write_text(textwrap.dedent(PIPELINE))
    cli("init", check=True)


def test_run_then_rerun_then_status(cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    first = cli("run", "pipelines.py:sums", "--param", "n=5", check=True)
    assert "making 5" in first.out  # the step's output is shown as it runs
    assert "pipeline sums succeeded: 2 ran, 0 cached" in first.out
    again = cli("run", "pipelines.py", "-p", "n=5", check=True)  # the file's one pipeline
    assert "0 ran, 2 cached" in again.out
    assert cli("status", "pipelines.py:sums", "--param", "n=5").code == 0
    stale = cli("status", "pipelines.py:sums", "--param", "n=5", "--param", "scale=2")
    assert stale.code == 1
    assert "total" in stale.out
    assert "STALE  parameter scale changed: 1.0 -> 2.0" in stale.out
    forced = cli("run", "pipelines.py:sums", "-p", "n=5", "--force-step", "total", check=True)
    assert "1 ran, 1 cached" in forced.out


def test_until_runs_only_a_step_and_what_it_needs(cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    first = cli("run", "pipelines.py:sums", "--until", "make", check=True)
    assert "pipeline sums succeeded: 1 ran, 0 cached" in first.out
    assert "total" not in first.out
    rest = cli("run", "pipelines.py:sums", check=True)
    assert "pipeline sums succeeded: 1 ran, 1 cached" in rest.out
    assert_user_error(cli("run", "pipelines.py:sums", "--until", "nope"), "has no step 'nope'")
    assert_user_error(cli("run", "pipelines.py:sums", "--runner", "threads"), "runner 'threads'")
    assert_user_error(
        cli("run", "pipelines.py:sums", "--address", "127.0.0.1:1"), "add runner='ray'"
    )


def test_a_failing_step_shows_its_traceback_and_exits_1(cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    result = cli("run", "pipelines.py:sums", "--param", "scale=-1")
    assert result.code == 1
    assert 'raise ValueError("scale must not be negative")' in result.err
    assert "pipelines.py" in result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("error: step total of pipeline sums failed: ValueError")
    assert "loopml/pipeline/_run.py" not in result.err
    as_json = cli("run", "pipelines.py:sums", "--param", "scale=-1", "--json")
    assert as_json.code == 1
    failed = json.loads(as_json.out)
    assert (failed["status"], failed["step"], failed["code"]) == ("failed", "total", "step_failed")


def test_bad_parameters_and_targets(cli, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    assert_user_error(
        cli("run", "pipelines.py:sums", "--param", "nn=3"),
        "no parameter 'nn'",
        "n, scale, label, on",
    )
    assert_user_error(
        cli("run", "pipelines.py:sums", "--param", "n=three"), "'three' is not of type int"
    )
    assert_user_error(cli("run", "pipelines.py:sums", "--param", "on=maybe"), "type bool")
    assert_user_error(cli("run", "pipelines.py:sums", "--param", "n"), "is not NAME=VALUE")
    assert_user_error(cli("run", "missing.py:sums"), "missing.py does not exist")
    assert_user_error(cli("run", "pipelines.py:nope"), "no pipeline named 'nope'")
    (tmp_path / "plain.py").write_text("import loopml\n\nANSWER = 42\n")
    for target in ("plain.py", "plain.py:ANSWER"):
        assert_user_error(
            cli("run", target), "plain.py defines no pipeline", "define one with @loopml.pipeline"
        )
    (tmp_path / "broken.py").write_text("import loopml\nx = 1/0\n")
    assert_user_error(cli("run", "broken.py:p"), "broken.py:2", "ZeroDivisionError")


GUARDED = """
import loopml

@loopml.step
def count(table: list) -> int:
    return len(table)

@loopml.pipeline
def guarded(data: str = "letters@latest"):
    return count(loopml.validated(loopml.data.get(data)))
"""


def test_a_failed_validation_step_exits_1_and_shows_in_alerts(cli, tmp_path: Path) -> None:
    cli("init", check=True)
    (tmp_path / "guarded.py").write_text(textwrap.dedent(GUARDED))
    (tmp_path / "v1.csv").write_text("letter\n" + "a\nb\n" * 50)
    # A third of the letters missing, where none were: certainly wrong.
    (tmp_path / "v2.csv").write_text("letter\n" + "a\nb\n\n" * 50)
    cli("data", "add", "v1.csv", "--name", "letters", check=True)
    cli("data", "add", "v2.csv", "--name", "letters", check=True)
    result = cli("run", "guarded.py:guarded")
    assert result.code == 1
    assert "missing_values letter" in result.err
    assert "letters@v2 failed validation" in result.err.strip().splitlines()[-1]
    listed = cli("alerts", check=True)
    assert "validation" in listed.out
    assert "stopped at step validate" in listed.out
    (alert,) = json.loads(cli("alerts", "--json", "--kind", "validation", check=True).out)
    assert alert["severity"] == "error"
    assert alert["evidence"]["dataset"] == "letters@v2"
    assert cli("alerts", "--kind", "gate", check=True).out.strip() == "no alerts"
    stopped = json.loads(cli("run", "guarded.py:guarded", "--json").out)
    assert (stopped["step"], stopped["code"]) == ("validate", "validation_failed")
