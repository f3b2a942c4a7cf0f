"""Edits a user makes between two real `loopml run` processes are never answered from
the cache with the old result: each case was once reused stale."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import loopml
from loopml.pipeline._cache import output_of
from loopml.pipeline._run import load_output
from loopml.pipeline._status import pipeline_status


def write(path: Path, source: str) -> None:
    """Write ``source``, dated 2 s after what was there: Python's own cache of compiled
    files would otherwise serve the old code for an edit of the same size in the same
    second, whatever loopml's key says."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    after = max(path.stat().st_mtime_ns, before + 2 * 10**9)
    os.utime(path, ns=(after, after))


def value(root: Path, pipeline: str, step: str) -> Any:
    """What the latest run of ``step`` returned, read back from the workspace."""
    with loopml.workspace(root) as ws:
        runs = ws.store.find_runs(kind="step", name=f"{pipeline}/{step}")
        output = output_of(ws.store, runs[-1].id)
        assert output is not None
        return load_output(ws, output)


def test_a_helper_in_a_package_beside_the_project_on_pythonpath(cli, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write(tmp_path / "shared" / "sibling" / "__init__.py", "")
    maths = tmp_path / "shared" / "sibling" / "maths.py"
    write(maths, "def double(x):\n    return x * 2\n")
    write(
        project / "flow.py",
        """
        import loopml
        from sibling.maths import double

        @loopml.step
        def scale(x: int) -> int:
            return double(x)

        @loopml.pipeline
        def flow(x: int = 3):
            return scale(x)
        """,
    )
    cli.env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(tmp_path / "shared"), cli.env.get("PYTHONPATH")])
    )
    cli("init", cwd=project, check=True)
    assert "1 ran" in cli("run", "flow.py:flow", cwd=project, check=True).out
    assert value(project, "flow", "scale") == 6
    write(maths, "def double(x):\n    return x * 5\n")
    status = cli("status", "flow.py:flow", cwd=project)
    assert status.code == 1, status
    assert "code changed" in status.out
    assert "sibling/maths:double" in status.out  # says which part of the code
    assert "1 ran" in cli("run", "flow.py:flow", cwd=project, check=True).out
    assert value(project, "flow", "scale") == 15


DECORATED = """
    import functools
    import loopml

    def scaled(factor):
        def decorate(func):
            @functools.wraps(func)
            def wrapper(x):
                return func(x) * factor
            return wrapper
        return decorate

    @scaled(2)
    def bump(x):
        return x + 1

    @loopml.step
    def compute(x: int) -> int:
        return bump(x)

    @loopml.pipeline
    def flow(x: int = 1):
        return compute(x)
"""


def test_a_forced_run_after_an_edit_then_a_revert_gives_the_old_result(cli, tmp_path: Path) -> None:
    pipeline = tmp_path / "flow.py"
    write(pipeline, DECORATED)
    cli("init", check=True)
    cli("run", "flow.py:flow", check=True)
    assert value(tmp_path, "flow", "compute") == 4
    write(pipeline, DECORATED.replace("scaled(2)", "scaled(10)"))
    cli("run", "flow.py:flow", "--force", check=True)
    assert value(tmp_path, "flow", "compute") == 20
    write(pipeline, DECORATED)  # the edit reverted
    again = cli("run", "flow.py:flow", check=True)
    assert value(tmp_path, "flow", "compute") == 4, again.out


PICKLED = """
    import loopml
    from model import Scaler

    @loopml.step
    def make() -> Scaler:
        return Scaler(3)

    @loopml.step
    def use(scaler: Scaler, x: int = 2) -> int:
        return scaler.apply(x)

    @loopml.pipeline
    def flow():
        return use(make())
"""

MODEL = """
    class Scaler:
        def __init__(self, factor):
            self.factor = factor

        def apply(self, x):
            return x * self.factor
"""


def test_a_method_of_a_class_an_input_holds_counts_in_the_step_that_calls_it(
    cli, tmp_path: Path
) -> None:
    """`make` stores the same pickle before and after the edit (a pickle names the
    class, it does not hold its code): `use` runs the edited method all the same."""
    write(tmp_path / "flow.py", PICKLED)
    write(tmp_path / "model.py", MODEL)
    cli("init", check=True)
    cli("run", "flow.py:flow", check=True)
    assert value(tmp_path, "flow", "use") == 6
    write(tmp_path / "model.py", MODEL.replace("x * self.factor", "x + self.factor"))
    rerun = cli("run", "flow.py:flow", check=True)
    assert value(tmp_path, "flow", "use") == 5, rerun.out


READS = """
    import loopml

    @loopml.step
    def total() -> float:
        return float(loopml.data.get("nums@latest").to_pandas()["x"].sum())

    @loopml.step
    def predict() -> float:
        return round(float(loopml.models.load_model("doubler@latest").predict([[2.0]])[0]), 6)

    @loopml.pipeline
    def flow():
        return total(), predict()
"""


def test_a_step_reading_a_moving_reference_runs_again_when_it_moves(tmp_path: Path) -> None:
    """`loopml.data.get("nums@latest")` and `load_model("doubler@latest")` inside a step
    are read as the step runs, after its key was made: a hit is used again only while
    each reference still names the version it read."""
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from loopml.pipeline import load_pipeline

    def doubler(factor: float) -> LinearRegression:
        return LinearRegression().fit([[0.0], [1.0]], [0.0, factor])

    write(tmp_path / "flow.py", READS)
    with loopml.init(tmp_path) as ws:
        loopml.data.add(pd.DataFrame({"x": [1, 2]}), name="nums", workspace=ws)
        loopml.models.save_model(doubler(2.0), "doubler", workspace=ws)
        flow = load_pipeline(f"{tmp_path / 'flow.py'}:flow")
        assert flow.run(workspace=ws, echo=False).value == (3.0, 4.0)
        again = flow.run(workspace=ws, echo=False)
        assert [step.status for step in again.steps] == ["cached", "cached"]

        loopml.data.add(pd.DataFrame({"x": [10, 20]}), name="nums", workspace=ws)
        [status] = [s for s in pipeline_status(flow, {}, workspace=ws) if s.name == "total"]
        assert not status.fresh
        assert "it read dataset nums@latest, which is nums@v2 now" in status.reasons[0]
        moved = flow.run(workspace=ws, echo=False)
        assert moved.value == (30.0, 4.0)
        assert [step.status for step in moved.steps] == ["ran", "cached"]

        loopml.models.save_model(doubler(3.0), "doubler", workspace=ws)
        assert flow.run(workspace=ws, echo=False).value == (30.0, 6.0)


BY_NAME = {
    "import_module": 'importlib.import_module("helpers.dyn").f(x)',
    "__import__": '__import__("helpers.dyn", fromlist=["f"]).f(x)',
    "a computed name": 'importlib.import_module(".".join(["helpers", "dyn"])).f(x)',
}


@pytest.mark.parametrize("call", BY_NAME.values(), ids=BY_NAME.keys())
def test_a_module_a_step_imports_by_name_is_in_its_key(cli, tmp_path: Path, call: str) -> None:
    write(tmp_path / "helpers" / "__init__.py", "")
    dyn = tmp_path / "helpers" / "dyn.py"
    write(dyn, "def f(x):\n    return x + 100\n")
    flow = f"""
        import importlib
        import loopml

        @loopml.step
        def s(x: int) -> int:
            return {call}

        @loopml.pipeline
        def flow(x: int = 1):
            return s(x)
        """
    write(tmp_path / "flow.py", flow)
    cli("init", check=True)
    assert "1 ran" in cli("run", "flow.py:flow", check=True).out
    assert value(tmp_path, "flow", "s") == 101
    write(dyn, "def f(x):\n    return x + 200\n")
    status = cli("status", "flow.py:flow")
    assert status.code == 1, status
    assert "1 ran" in cli("run", "flow.py:flow", check=True).out
    assert value(tmp_path, "flow", "s") == 201
