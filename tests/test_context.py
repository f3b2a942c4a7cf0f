"""One rule for which workspace a call without ``workspace=`` uses, a strict mode for
servers, and process-wide hooks only where they are wanted."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import loopml
from loopml.errors import ConfigError, NotFound
from loopml.store import Direction
from loopml.workspace import active


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[loopml.Workspace, ...]]:
    """The current folder's workspace, and another one holding a dataset ``rows``."""
    (tmp_path / "here").mkdir()
    (tmp_path / "other").mkdir()
    here = loopml.init(tmp_path / "here")
    other = loopml.init(tmp_path / "other")
    monkeypatch.chdir(tmp_path / "here")
    loopml.data.add(pd.DataFrame({"x": [1, 2, 3]}), name="rows", workspace=other)
    yield here, other
    here.close()
    other.close()


@pytest.fixture
def strict() -> Iterator[None]:
    before = loopml.strict_mode(True)
    yield
    loopml.strict_mode(before)


def test_inside_a_run_data_and_models_use_the_runs_workspace(
    two: tuple[loopml.Workspace, ...],
) -> None:
    here, other = two
    with pytest.raises(NotFound):
        loopml.data.get("rows")  # the current folder's workspace has no such dataset
    with loopml.start_run("fit", workspace=other, record_origin=False) as run:
        rows = loopml.data.get("rows")
        model = LinearRegression().fit(rows.to_pandas()[["x"]], [1.0, 2.0, 3.0])
        saved = loopml.models.save_model(model, name="m")
    assert rows.workspace is other
    assert other.store.latest_artifact("model", "m").id == saved.id
    with pytest.raises(NotFound):
        here.store.latest_artifact("model", "m")
    directions = {e.direction for e in other.store.events(run_id=run.id)}
    assert directions == {Direction.INPUT, Direction.OUTPUT}


def test_an_active_block_is_used_when_no_run_is(two: tuple[loopml.Workspace, ...]) -> None:
    _, other = two
    with active(other):
        assert loopml.data.get("rows").workspace is other


def test_strict_mode_refuses_the_current_folders_workspace(
    two: tuple[loopml.Workspace, ...], strict: None
) -> None:
    _, other = two
    with pytest.raises(ConfigError, match="strict mode") as caught:
        loopml.data.get("rows")
    assert caught.value.field == "workspace"
    assert loopml.data.get("rows", workspace=other).workspace is other
    with loopml.start_run("fit", workspace=other, record_origin=False):
        assert loopml.data.get("rows").workspace is other
    with pytest.raises(ConfigError, match="strict mode"):
        loopml.start_run("fit")


def test_strict_mode_can_be_turned_off_again() -> None:
    assert loopml.strict_mode(True) is False
    assert loopml.strict_mode(False) is True


_HOOKS = """
import signal, sys, atexit, loopml
{strict}
ws = loopml.init(sys.argv[1])
with loopml.start_run("fit", workspace=ws, record_origin=False):
    pass
print(sys.excepthook is sys.__excepthook__, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
loopml.tracking.install_exit_hooks()
print(sys.excepthook is sys.__excepthook__, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
ws.close()
"""


@pytest.mark.parametrize(
    ("strict_line", "before"),
    [("", "False False"), ("loopml.strict_mode()", "True True")],
    ids=["script", "strict"],
)
def test_exit_hooks_are_installed_by_a_script_not_by_a_strict_process(
    tmp_path: Path, strict_line: str, before: str
) -> None:
    code = textwrap.dedent(_HOOKS).format(strict=strict_line)
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert out == [before, "False False"]


def test_a_run_started_beside_a_scripts_own_run_is_not_its_child(
    two: tuple[loopml.Workspace, ...],
) -> None:
    here, _ = two
    loopml.log_metric("loss", 0.5)  # starts the script's own run, in the current folder
    try:
        script = loopml.active_run()
        assert script is not None
        with loopml.start_run("fit", record_origin=False) as run:
            assert loopml.active_run() is run
        assert run.run.parent_id is None
        assert loopml.active_run() is script  # the script's run is active again after it
    finally:
        loopml.end_run()
    assert here.store.get_run(script.id).status.value == "succeeded"
