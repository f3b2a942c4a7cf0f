"""Progress bars: drawn on a terminal (or when forced), never in piped output."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

from rich.console import Console

import loopml
from loopml._progress import enabled, progress


def test_a_bar_is_drawn_on_a_terminal_and_every_item_comes_through() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    assert list(progress(range(5), "epochs", console=console)) == [0, 1, 2, 3, 4]
    drawn = screen.getvalue()
    assert "epochs" in drawn
    assert "5/5" in drawn


def test_off_a_terminal_nothing_is_drawn_unless_asked(monkeypatch) -> None:
    monkeypatch.delenv("LOOPML_PROGRESS", raising=False)
    assert not enabled(io.StringIO())
    monkeypatch.setenv("LOOPML_PROGRESS", "1")
    assert enabled(io.StringIO())
    monkeypatch.setenv("LOOPML_PROGRESS", "0")
    assert not enabled(io.StringIO())
    assert loopml.progress is progress


SEARCH = """
import time
import loopml

def slow(x: float) -> float:
    time.sleep(0.1)
    return x

with loopml.init({root!r}) as ws:
    loopml.tune(slow, {{"x": (0.0, 1.0)}}, n_trials=12, seed=0, workspace=ws)
"""


def test_tune_shows_its_trials(tmp_path: Path) -> None:
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(SEARCH.format(root=str(tmp_path))))
    env = {"LOOPML_PROGRESS": "1", "COLUMNS": "120", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "tune slow" in done.stderr
    assert "best" in done.stderr
    assert done.stdout == ""
