"""Values a store cannot hold are refused at the ``log_*`` call, on both backends; and a
point the store refuses later (planted in the buffer, past the call's checks) loses no
other point and still lets the run end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

import loopml
from loopml.errors import InvalidInput
from loopml.store import MetricPoint, RunStatus

BIG = 2**63


@pytest.fixture
def ws(tmp_path: Path, any_store_url: str):
    with loopml.init(tmp_path, store_url=any_store_url) as ws:
        yield ws


def points(ws: loopml.Workspace, run_id: str) -> list[tuple[str, int, float]]:
    return [(m.key, m.step, m.value) for m in ws.store.metrics(run_id)]


def test_values_a_store_cannot_hold_are_refused_at_the_call(ws) -> None:
    with loopml.start_run("fit", workspace=ws, params={"C": 0.5}) as run:
        loopml.log_metric("loss", 1.0)
        with pytest.raises(InvalidInput, match=r"'loss' step 9223372036854775808 is out of range"):
            loopml.log_metric("loss", 2.0, step=BIG)
        with pytest.raises(InvalidInput, match="too large for a 64-bit float"):
            loopml.log_metric("loss", 10**400)
        with pytest.raises(InvalidInput, match="NUL character"):
            loopml.log_metric("lo\x00ss", 2.0)
        with pytest.raises(InvalidInput, match="lone surrogate"):
            loopml.log_params(note="caf\udce9")
        with pytest.raises(InvalidInput, match="nested more than 64 levels"):
            loopml.set_tags(deep=_nested(65))
        with pytest.raises(InvalidInput, match="run name"):
            loopml.start_run("fold\x00")
        loopml.log_metric("loss", 3.0)
    record = ws.store.get_run(run.id)
    assert record.status is RunStatus.SUCCEEDED
    assert record.error is None
    assert points(ws, run.id) == [("loss", 0, 1.0), ("loss", 1, 3.0)]
    assert record.params == {"C": 0.5}


def test_a_deferred_run_refuses_at_the_call_too(ws) -> None:
    with loopml.start_run("trial", workspace=ws, deferred=True) as run:
        with pytest.raises(InvalidInput, match="'p'"):
            loopml.log_params(p="a\x00b")
        with pytest.raises(InvalidInput, match="step"):
            loopml.log_metric("score", 1.0, step=-BIG - 1)
        loopml.log_metric("score", 0.5)
    loopml.flush()
    assert ws.store.get_run(run.id).status is RunStatus.SUCCEEDED
    assert points(ws, run.id) == [("score", 0, 0.5)]


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def plant(run: loopml.tracking.ActiveRun, key: str, step: int) -> None:
    """A point past the call's checks, as if the store refused what they let through."""
    point = MetricPoint(key, 1.0, step, datetime.now(UTC))
    run._buffer._points.append(point)  # planted: a value the store refuses


# The refused points are also warned of, when the writer meets them (in its own thread).
@pytest.mark.filterwarnings("ignore:run .* metric point not stored:RuntimeWarning")
def test_a_refused_point_in_the_background_loses_no_other_point(ws) -> None:
    with loopml.start_run("fit", workspace=ws) as run:
        for step in range(3):
            loopml.log_metric("loss", float(step))
        plant(run, "bad", BIG)
        loopml.log_metric("loss", 3.0)
        run.flush()  # what the background writer does
        loopml.log_metric("loss", 4.0)
        plant(run, "worse", -BIG - 1)  # left for the run's end to write
        loopml.log_metric("loss", 5.0)
    record = ws.store.get_run(run.id)
    assert record.status is RunStatus.SUCCEEDED
    assert [value for _, _, value in points(ws, run.id)] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert record.error is not None
    assert record.error.startswith("2 metric point(s) could not be stored: bad at step")
    assert "worse at step -9223372036854775809" in record.error


@pytest.mark.filterwarnings("ignore:run .* metric point not stored:RuntimeWarning")
def test_a_refused_point_of_a_deferred_run_is_named_and_the_run_recorded(ws) -> None:
    with loopml.start_run("tune", workspace=ws):  # the deferred runs' parent
        with loopml.start_run("trial-0", deferred=True) as good:
            loopml.log_metric("score", 0.1)
        with loopml.start_run("trial-1", deferred=True) as bad:
            loopml.log_metric("score", 0.2)
            plant(bad, "score", BIG)
        loopml.flush()
    assert ws.store.get_run(good.id).status is RunStatus.SUCCEEDED
    record = ws.store.get_run(bad.id)
    assert record.status is RunStatus.SUCCEEDED
    assert record.error is not None
    assert record.error.startswith("1 metric point(s) could not be stored: score at step")
    assert points(ws, bad.id) == [("score", 0, 0.2)]
    assert points(ws, good.id) == [("score", 0, 0.1)]


def test_a_script_logging_a_step_out_of_range_keeps_every_other_metric(ws, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import loopml
            from loopml.errors import InvalidInput

            loopml.log_metric("a", 1.0)
            try:
                loopml.log_metric("b", 1.0, step=2**63)
            except InvalidInput as error:
                print("refused:", error)
            loopml.log_metric("c", 2.0)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "refused: metric 'b' step 9223372036854775808 is out of range" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    [run] = ws.store.find_runs(name="train")
    assert run.status is RunStatus.SUCCEEDED
    assert [(key, value) for key, _, value in points(ws, run.id)] == [("a", 1.0), ("c", 2.0)]
