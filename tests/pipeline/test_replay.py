"""A cached `loopml run` answered from the last run's record without importing the
pipeline file: the same records as a cached run, and never a stale result. Each case
runs the real command twice with something changed in between."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_stale_edits import value, write

import loopml
from loopml.pipeline._pure import blocker
from loopml.pipeline._replay import KEY_TAG

FLOW = """
    from __future__ import annotations

    import loopml
    from helpers import double

    OFFSET = 10

    @loopml.step
    def load(n: int) -> list:
        return list(range(n))

    @loopml.step
    def scale(values: list) -> list:
        return [double(v) + OFFSET for v in values]

    @loopml.step
    def total(values: list) -> int:
        return sum(values)

    @loopml.pipeline
    def flow(n: int = 4):
        return total(scale(load(n)))
"""
HELPERS = "def double(x):\n    return x * 2\n"


def pipeline_runs(root: Path) -> list[Any]:
    with loopml.workspace(root) as ws:
        return ws.store.find_runs(kind="pipeline")


def run(cli: Any, *args: str) -> dict[str, Any]:
    done = cli("run", "flow.py:flow", "--json", *args, check=True)
    result: dict[str, Any] = json.loads(done.out)
    return result


def add_rows(cli: Any, project: Path, count: int) -> None:
    """A new version of the dataset `rows`, of ``count`` rows."""
    (project / "rows.csv").write_text("x\n" + "".join(f"{i}\n" for i in range(1, count + 1)))
    cli("data", "add", "rows.csv", "--name", "rows", check=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "flow.py", FLOW)
    write(tmp_path / "helpers.py", HELPERS)
    loopml.init(tmp_path).close()  # what is under test is `loopml run`, in its own process
    return tmp_path


def test_a_cached_run_is_replayed_with_the_records_a_cached_run_makes(
    cli: Any, project: Path
) -> None:
    first = run(cli)
    assert [s["status"] for s in first["steps"]] == ["ran"] * 3
    again = run(cli)
    assert [s["status"] for s in again["steps"]] == ["cached"] * 3
    assert [s["cached_from"] for s in again["steps"]] == [s["run_id"] for s in first["steps"]]
    assert [s["output"] for s in again["steps"]] == [s["output"] for s in first["steps"]]
    runs = pipeline_runs(project)
    assert runs[-1].tags["replayed_from"] == again["replayed_from"] == runs[0].id
    assert first["replayed_from"] is None
    said = cli("run", "flow.py:flow", check=True).out
    assert f"replayed from run {runs[-1].id[-12:]}" in said, said
    assert runs[-1].params == runs[0].params == {"n": 4}
    # the same records the in-process path makes for an all-cached run
    with loopml.workspace(project) as ws:
        from loopml.pipeline import load_pipeline

        os.chdir(project)
        result = load_pipeline("flow.py:flow").run(workspace=ws, echo=False)
        ordinary = {s.name: ws.store.get_run(s.run_id) for s in result.steps}
        for step in again["steps"]:
            replayed = ws.store.get_run(step["run_id"])
            same = ordinary[step["name"]]
            assert replayed.status == same.status == "cached"
            assert replayed.fingerprint == same.fingerprint
            assert replayed.params == same.params
            assert replayed.tags == same.tags
            assert replayed.code == same.code
            as_events = [(e.direction, e.role) for e in ws.store.events(run_id=replayed.id)]
            assert sorted(as_events) == sorted(
                (e.direction, e.role) for e in ws.store.events(run_id=same.id)
            )
    assert value(project, "flow", "total") == 52


def test_an_edit_to_an_imported_file_is_run_not_replayed(cli: Any, project: Path) -> None:
    run(cli)
    write(project / "helpers.py", HELPERS.replace("x * 2", "x * 5"))
    again = run(cli)
    assert [s["status"] for s in again["steps"]] == ["cached", "ran", "ran"]
    assert value(project, "flow", "total") == 70
    assert "replayed_from" not in pipeline_runs(project)[-1].tags


def test_other_parameters_are_run_and_the_same_ones_replayed(cli: Any, project: Path) -> None:
    run(cli)
    assert [s["status"] for s in run(cli, "--param", "n=5")["steps"]] == ["ran"] * 3
    assert value(project, "flow", "total") == 70
    run(cli, "--param", "n=5")
    assert pipeline_runs(project)[-1].tags["replayed_from"] == pipeline_runs(project)[1].id


def test_a_module_on_pythonpath_that_moves_is_run_not_replayed(
    cli: Any, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    write(project / "helpers.py", "from sibling import double\n")
    shared = [tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")]
    write(shared[0] / "sibling.py", "def double(x):\n    return x * 2\n")
    write(shared[1] / "sibling.py", "def double(x):\n    return x * 3\n")
    cli.env["PYTHONPATH"] = str(shared[0])
    run(cli)
    run(cli)
    assert "replayed_from" in pipeline_runs(project)[-1].tags
    cli.env["PYTHONPATH"] = str(shared[1])
    run(cli)
    assert "replayed_from" not in pipeline_runs(project)[-1].tags
    assert value(project, "flow", "total") == 58


def test_a_dataset_read_by_latest_inside_a_step_is_run_again_when_it_moves(
    cli: Any, project: Path
) -> None:
    add_rows(cli, project, 2)
    write(
        project / "flow.py",
        FLOW.replace(
            "return list(range(n))",
            "return list(range(n + len(loopml.data.get('rows@latest').to_pandas())))",
        ),
    )
    run(cli)
    run(cli)
    assert "replayed_from" in pipeline_runs(project)[-1].tags
    add_rows(cli, project, 3)
    again = run(cli)
    assert again["steps"][0]["status"] == "ran"
    assert value(project, "flow", "load") == list(range(7))


def test_a_damaged_cached_output_is_run_again_not_replayed(cli: Any, project: Path) -> None:
    run(cli)
    with loopml.workspace(project) as ws:
        total = ws.store.find_runs(kind="step", name="flow/total")[-1]
        output = next(e for e in ws.store.events(run_id=total.id) if e.role == "output")
        digest = ws.store.get_artifact(output.artifact_id).digest
    blob = next((project / ".loopml").rglob(f"blobs/{digest[:2]}/{digest[2:]}"))
    blob.chmod(0o644)
    blob.write_bytes(b"not the output")
    again = run(cli)
    assert [s["status"] for s in again["steps"]] == ["cached", "cached", "ran"]
    assert value(project, "flow", "total") == 52


def test_a_module_that_reads_a_file_at_import_is_never_replayed(cli: Any, project: Path) -> None:
    (project / "settings.json").write_text('{"offset": 10}')
    write(
        project / "flow.py",
        FLOW.replace(
            "OFFSET = 10",
            "import json\n    OFFSET = json.loads(open('settings.json').read())['offset']",
        ),
    )
    run(cli)
    assert KEY_TAG not in pipeline_runs(project)[-1].tags
    (project / "settings.json").write_text('{"offset": 100}')
    again = run(cli)
    assert again["steps"][1]["status"] == "ran"
    assert value(project, "flow", "total") == 412


def test_library_state_held_at_module_level_is_never_replayed(cli: Any, project: Path) -> None:
    write(project / "helpers.py", "from os import environ\n\ndef double(x):\n    return x * 2\n")
    run(cli)
    assert KEY_TAG not in pipeline_runs(project)[-1].tags


def test_a_file_edited_while_the_run_runs_is_not_remembered(cli: Any, project: Path) -> None:
    write(
        project / "flow.py",
        FLOW.replace(
            "return sum(values)",
            "open('helpers.py', 'a').write('# touched\\n')\n        return sum(values)",
        ),
    )
    run(cli)
    assert KEY_TAG not in pipeline_runs(project)[-1].tags
    run(cli)  # every step cached, so nothing is edited: this one is remembered
    assert KEY_TAG in pipeline_runs(project)[-1].tags
    assert "replayed_from" not in pipeline_runs(project)[-1].tags
    run(cli)
    assert "replayed_from" in pipeline_runs(project)[-1].tags


PURE = {
    "literals and declarations": """
        from __future__ import annotations
        import dataclasses, functools, typing
        import loopml
        from loopml import step
        T = typing.TypeVar("T")
        N = 3
        NAMES = ("a", "b") + ("c",)
        LIMIT = N * 2 if N > 1 else 0
        @dataclasses.dataclass(frozen=True)
        class Settings:
            size: int = N
            tags: list = dataclasses.field(default_factory=list)
        @functools.lru_cache(maxsize=8)
        def helper(x: int) -> int:
            return x * N
        @step(name="one")
        def one(x: int) -> int:
            return helper(x)
        @loopml.pipeline
        def flow(x: int = N, names: tuple = NAMES):
            out = [one(i) for i in range(x)]
            return one(len(names)), out
        if __name__ == "__main__":
            print(flow)
    """,
}
IMPURE = {
    "a call at import": ("import os\nHOME = os.getcwd()\n", "binds a name"),
    "an environment read": ("import os\nHOME = os.environ['HOME']\n", "binds a name"),
    "arithmetic on a library value": ("import math\nTAU = math.pi * 2\n", "binds a name"),
    "a user decorator": (
        "def deco(f):\n    return f\n@deco\ndef g():\n    pass\n",
        "has a decorator",
    ),
    "a loop at import": ("for i in range(3):\n    pass\n", "for statement"),
    "an assignment into an object": ("import sys\nsys.path.append('x')\n", "runs code"),
    "a default computed": ("import os\ndef f(x=os.getcwd()):\n    pass\n", "default"),
    "a branch on the environment": ("import os\nif os.environ:\n    X = 1\n", "branches"),
    "a star import": ("from os import *\n", "imports *"),
    "builtins replaced": ("import helpers\n__builtins__ = helpers\n", "__builtins__"),
    "a module __getattr__": ("def __getattr__(name):\n    return 1\n", "__getattr__"),
    "a metaclass": ("import abc\nclass C(metaclass=abc.ABCMeta):\n    pass\n", "metaclass"),
    "a library base": ("import threading\nclass T(threading.Thread):\n    pass\n", "base"),
    "a base with a hook": (
        "class Base:\n    def __init_subclass__(cls):\n        pass\nclass C(Base):\n    pass\n",
        "base",
    ),
}


@pytest.mark.parametrize("source", PURE.values(), ids=PURE.keys())
def test_pure_modules_and_pipeline_bodies_pass(tmp_path: Path, source: str) -> None:
    file = tmp_path / "flow.py"
    write(file, source)
    line = next(i for i, text in enumerate(file.read_text().splitlines(), 1) if "pipeline" in text)
    assert blocker([str(file)], str(file), line) is None


@pytest.mark.parametrize(("source", "why"), IMPURE.values(), ids=IMPURE.keys())
def test_modules_that_compute_at_import_are_refused(tmp_path: Path, source: str, why: str) -> None:
    file = tmp_path / "flow.py"
    write(file, source)
    found = blocker([str(file)], str(file), 1)
    assert found is not None
    assert why in found, found


BODIES = {
    "a set, whose order the hash seed decides": "[one(c) for c in {1, 2}]",
    "a helper called": "helper(x)",
    "data read from another workspace": "one(loopml.data.get('x', workspace=None))",
    "a library called": "os.getcwd()",
    "a library value passed": "one(os.environ)",
    "a lambda": "one((lambda: 1)())",
    "an attribute read": "one(x.real)",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_pipeline_bodies_that_do_more_than_wire_steps_are_refused(
    tmp_path: Path, body: str
) -> None:
    file = tmp_path / "flow.py"
    write(
        file,
        "import os\nimport loopml\ndef helper(x):\n    return x\n"
        "@loopml.step\ndef one(x: int) -> int:\n    return x\n"
        f"@loopml.pipeline\ndef flow(x: int = 1):\n    return {body}\n",
    )
    found = blocker([str(file)], str(file), 8)
    assert found is not None
    assert "flow.py:10" in found, found


def test_a_dataset_the_body_reads_by_latest_is_replayed_until_it_moves(
    cli: Any, project: Path
) -> None:
    add_rows(cli, project, 2)
    write(
        project / "flow.py",
        FLOW.replace(
            "def load(n: int) -> list:",
            "def load(n: int, rows: loopml.data.DatasetVersion) -> list:",
        )
        .replace("return list(range(n))", "return list(range(n + len(rows.to_pandas())))")
        .replace("def flow(n: int = 4):", "def flow(n: int = 4, data: str = 'rows@latest'):")
        .replace("total(scale(load(n)))", "total(scale(load(n, loopml.data.get(data))))"),
    )
    run(cli)
    run(cli)
    assert "replayed_from" in pipeline_runs(project)[-1].tags
    add_rows(cli, project, 3)
    again = run(cli)
    assert again["steps"][0]["status"] == "ran"
    assert "replayed_from" not in pipeline_runs(project)[-1].tags
    assert value(project, "flow", "load") == list(range(7))
    run(cli)
    assert "replayed_from" in pipeline_runs(project)[-1].tags
    assert value(project, "flow", "load") == list(range(7))


def test_a_file_rewritten_with_the_same_bytes_during_the_run_is_not_remembered(
    cli: Any, project: Path
) -> None:
    """An edit made and undone while the run ran leaves the same bytes: its ctime says so."""
    write(
        project / "flow.py",
        FLOW.replace(
            "return sum(values)",
            "import pathlib\n        helpers = pathlib.Path('helpers.py')\n"
            "        helpers.write_text(helpers.read_text())\n        return sum(values)",
        ),
    )
    run(cli)
    assert KEY_TAG not in pipeline_runs(project)[-1].tags


LIBRARY = "import os\nLEVEL = int(os.environ.get('LEVEL', '1'))\n"
HELD = {
    "a library value as a step's default": """
        import loopml
        import settings

        @loopml.step
        def load(n: int, level: int = settings.LEVEL) -> list:
            return list(range(n * level))
    """,
    "a library value as a class attribute": """
        import loopml
        import settings

        class Config:
            LEVEL = settings.LEVEL

        @loopml.step
        def load(n: int) -> list:
            return list(range(n * Config.LEVEL))
    """,
    "a module list a step appends to": """
        import loopml

        SEEN = []

        @loopml.step
        def load(n: int) -> list:
            SEEN.append(n)
            return list(range(n))
    """,
}
# (A module a step imports by name is no longer among them: the key reaches it, see
# test_stale_edits.py's test_a_module_a_step_imports_by_name_is_in_its_key.)
TAIL = """
    @loopml.step
    def total(values: list) -> int:
        return sum(values)

    @loopml.pipeline
    def flow(n: int = 4):
        return total(load(n))
"""


@pytest.mark.parametrize("source", HELD.values(), ids=HELD.keys())
def test_what_the_modules_hold_after_the_run_is_checked(
    cli: Any,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    """Each passes the reading of the source; what the run left in the modules does not."""
    library = tmp_path_factory.mktemp("lib") / "site-packages"
    monkeypatch.syspath_prepend(str(library))  # as PYTHONPATH does for `loopml run`
    write(library / "settings.py", LIBRARY)
    write(tmp_path / "extra.py", "LEVEL = 1\n")
    write(tmp_path / "flow.py", textwrap.dedent(source) + textwrap.dedent(TAIL))
    cli.env["PYTHONPATH"] = str(library)
    cli("init", check=True)
    line = next(
        i
        for i, t in enumerate((tmp_path / "flow.py").read_text().splitlines(), 1)
        if "@loopml.pipeline" in t
    )
    assert blocker([str(tmp_path / "flow.py")], str(tmp_path / "flow.py"), line) is None
    run(cli)
    assert KEY_TAG not in pipeline_runs(tmp_path)[-1].tags


CHANGED_IN_A_RUN = {
    "a step re-points a module's function": """
        import loopml
        import helpers

        @loopml.step
        def load(n: int) -> list:
            helpers.double = helpers.triple
            return list(range(n))

        @loopml.step
        def total(values: list) -> int:
            return helpers.double(sum(values))
    """,
    "a step fills a lambda's default": """
        import loopml

        count = lambda x, seen=[]: seen.append(x) or len(seen)

        @loopml.step
        def load(n: int) -> list:
            count(n)
            return list(range(n))

        @loopml.step
        def total(values: list) -> int:
            return sum(values) * count(0)
    """,
}
PIPELINE = """
    @loopml.pipeline
    def flow(n: int = 4):
        return total(load(n))
"""


@pytest.mark.parametrize("source", CHANGED_IN_A_RUN.values(), ids=CHANGED_IN_A_RUN.keys())
def test_a_run_whose_steps_changed_what_the_modules_hold_is_not_remembered(
    cli: Any, tmp_path: Path, source: str
) -> None:
    write(
        tmp_path / "helpers.py",
        "def double(x):\n    return x * 2\n\ndef triple(x):\n    return x * 3\n",
    )
    write(tmp_path / "flow.py", textwrap.dedent(source) + textwrap.dedent(PIPELINE))
    cli("init", check=True)
    run(cli)
    assert KEY_TAG not in pipeline_runs(tmp_path)[-1].tags


def test_a_changed_environment_variable_is_run_not_replayed(
    cli: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A library may read the environment at its import (here: to build the function
    a step calls): the variables are in the run's key."""
    library = tmp_path_factory.mktemp("lib") / "site-packages"
    (library / "__pycache__").mkdir(parents=True)  # as pip leaves it: importing changes nothing
    write(
        library / "backend.py",
        "import os\n\ndef _make(k):\n    def scale(x):\n        return x * k\n    return scale\n\n"
        "scale = _make(int(os.environ.get('FACTOR', '2')))\n",
    )
    write(
        tmp_path / "flow.py",
        "import loopml\nfrom backend import scale\n\n@loopml.step\ndef total(n: int) -> int:\n"
        "    return scale(n)\n\n@loopml.pipeline\ndef flow(n: int = 4):\n    return total(n)\n",
    )
    cli.env["PYTHONPATH"] = str(library)
    cli("init", check=True)
    run(cli)
    run(cli)
    assert "replayed_from" in pipeline_runs(tmp_path)[-1].tags
    cli.env["FACTOR"] = "7"
    run(cli)
    assert "replayed_from" not in pipeline_runs(tmp_path)[-1].tags
    assert value(tmp_path, "flow", "total") == 28


def test_an_attribute_read_through_a_class_of_the_project_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading it may run the project's code (a property on the class) at import."""
    monkeypatch.syspath_prepend(str(tmp_path))  # as `loopml run` puts the file's folder
    write(tmp_path / "helpers.py", "class Choice:\n    pick = 1\n")
    write(
        tmp_path / "flow.py",
        "from helpers import Choice\nimport helpers\nA = helpers.Choice\nB = Choice.pick\n",
    )
    found = blocker([str(tmp_path / "flow.py")], str(tmp_path / "flow.py"), 1)
    assert found is not None
    assert "flow.py:4" in found, found


def test_runs_on_worker_processes_are_not_remembered(cli: Any, project: Path) -> None:
    """Their steps changed the workers' modules, which this process cannot see."""
    run(cli, "--runner", "processes", "--workers", "1")
    assert KEY_TAG not in pipeline_runs(project)[-1].tags


def test_enums_and_dataclasses_in_the_project_are_replayed(cli: Any, project: Path) -> None:
    write(
        project / "helpers.py",
        HELPERS
        + "import dataclasses, enum\n\nclass Color(enum.Enum):\n    RED = 1\n    BLUE = 2\n\n"
        "@dataclasses.dataclass(frozen=True)\nclass Shape:\n    width: int = 3\n",
    )
    run(cli)
    run(cli)
    assert "replayed_from" in pipeline_runs(project)[-1].tags
