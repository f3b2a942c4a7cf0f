"""Random edits to a project whose runs `loopml run` may replay without importing it,
each followed by the real command in a fresh process: no step's recorded result is ever
one its code no longer gives, and unchanged re-runs are replayed.

The project has literals in the pipeline file and in a helper module, a dataclass
default, a parameter default, a module beside the project on PYTHONPATH, an import
inside a step, and a comment that changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stale_edits import write

import loopml
from cli_forks import Forks
from loopml.pipeline._run import load_output
from loopml.refs import resolve

FILES = {
    "project/flow.py": """
        import dataclasses

        import loopml
        from helpers import LIMIT, double

        BASE = {A}
        # a note that changes nothing: {N}

        @dataclasses.dataclass(frozen=True)
        class Shape:
            width: int = {D}

        @loopml.step
        def load(n: int) -> list:
            return [v + LIMIT for v in range(n + BASE)]

        @loopml.step
        def scale(values: list) -> list:
            return [double(v) * Shape().width for v in values]

        @loopml.step
        def final(values: list) -> int:
            from beside import combine
            return combine(values)

        @loopml.pipeline
        def flow(n: int = {P}):
            return final(scale(load(n)))
    """,
    "project/helpers.py": """
        LIMIT = 5 + {L}

        def double(x):
            return x * {B}
    """,
    "shared/beside.py": """
        def combine(values):
            return sum(values) * {C}
    """,
}
SITES = "ANDPLBC"
STEPS = ("load", "scale", "final")
TRUTH = """
import json, sys
sys.path.insert(0, ".")
import flow
truth = {"load": flow.load.func(flow.flow.signature.parameters["n"].default)}
truth["scale"] = flow.scale.func(truth["load"])
truth["final"] = flow.final.func(truth["scale"])
print(json.dumps(truth))
"""

EDIT = st.tuples(st.sampled_from(SITES), st.integers(1, 2))
ROUNDS = st.lists(st.lists(EDIT, min_size=1, max_size=3), min_size=3, max_size=6)


class Project:
    def __init__(self, root: Path, forks: Forks) -> None:
        self.root = root
        self.forks = forks
        self.values = dict.fromkeys(SITES, 1)
        self.replayed = 0
        self.write()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
        self.env["PYTHONPATH"] = str(root / "shared")
        loopml.init(root / "project").close()  # the runs under test are the fresh processes

    def command(self, *args: str) -> str:
        loopml = str(Path(sys.executable).with_name("loopml"))
        return self.python([loopml, *args])

    def python(self, argv: list[str]) -> str:
        """``python ARGV`` in a fresh process (forked from one that imported loopml, not
        the project)."""
        done = self.forks.python(argv, self.root / "project", self.env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def edit(self, site: str, value: int) -> None:
        self.values[site] = value
        self.write()

    def run(self) -> None:
        """`loopml run` and the truth each in a fresh process (the code as it is on disk
        now); what the run recorded is read back from the store in this process, which
        imports none of the project's code (the outputs are lists and numbers)."""
        result = json.loads(self.command("run", "flow.py:flow", "--json"))
        truth = json.loads(self.python(["-c", TRUTH]))
        with loopml.workspace(self.root / "project") as ws:
            outputs = {
                step["name"]: load_output(ws, resolve(ws.store, "output", step["output"]))
                for step in result["steps"]
            }
            self.replayed += "replayed_from" in ws.store.get_run(result["run_id"]).tags
        for step in STEPS:
            assert outputs[step] == truth[step], (
                f"stale result of step {step!r} after the edits {self.values}: "
                f"{outputs[step]!r}, where the code now gives {truth[step]!r}"
            )

    def write(self) -> None:
        for relative, template in FILES.items():
            path = self.root / relative
            text = textwrap.dedent(template).format(**self.values)
            if not path.exists() or path.read_text() != text:
                write(path, text)


@pytest.mark.timeout(900)
@settings(
    max_examples=int(os.environ.get("LOOPML_TEST_EDIT_EXAMPLES", "3")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rounds=ROUNDS)
def test_random_edits_are_never_replayed_stale(
    cli_forks: Forks, rounds: list[list[tuple[str, int]]]
) -> None:
    root = Path(tempfile.mkdtemp(prefix="loopml-replay-"))
    try:
        project = Project(root, cli_forks)
        project.run()
        for edits in rounds:
            for site, value in edits:
                project.edit(site, value)
            project.run()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_each_edit_alone_runs_again_and_an_unchanged_rerun_is_replayed(
    cli_forks: Forks, tmp_path: Path
) -> None:
    project = Project(tmp_path, cli_forks)
    project.run()
    project.run()
    assert project.replayed == 1
    for site in SITES.replace("N", ""):
        before = project.replayed
        project.edit(site, 2)
        project.run()  # asserts no stale result
        assert project.replayed == before, f"the edit of {site} was replayed"
        project.edit(site, 1)
        project.run()
        assert project.replayed == before + 1  # the first files again: replayed
    before = project.replayed
    project.edit("N", 2)
    project.run()
    assert project.replayed == before  # a new key: the comment is in the file's bytes
    project.run()
    assert project.replayed == before + 1
