"""Random edits to a small project, each followed by a run in a fresh process: a step
whose result an edit changed is never answered from the cache with the old result.

The project holds every form of code a step can reach: a decorated helper, a
module-level instance of a project class and its constructor argument, a partial, NumPy,
regex and dataclass constants, a module imported inside a helper from a package beside
the project on PYTHONPATH, and a comment that changes nothing. Hypothesis draws rounds
of edits, each followed by a run, so edits are often undone and the cache is hit; after
each run every step's output is checked against calling the step's function directly.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loopml
from cli_forks import Forks

FILES = {
    "project/flow.py": """
        import functools
        import re

        import numpy as np

        import helpers
        import loopml
        from model import SCALER, Settings

        WEIGHTS = np.array([1, {W}])
        PATTERN = re.compile(r"[0-{R}]")
        SETTINGS = Settings(offset={S})
        BUMP = functools.partial(helpers.bump, by={P})
        # a note that changes nothing: {N}

        @loopml.step
        def load(n: int) -> list:
            return helpers.make(n)

        @loopml.step
        def scale(values: list) -> list:
            return [SCALER.apply(v) for v in values]

        @loopml.step
        def shift(values: list) -> list:
            kept = [v for v in values if PATTERN.match(str(v % 10))]
            return [int(BUMP(v) + WEIGHTS.sum() + SETTINGS.offset) for v in kept]

        @loopml.step
        def final(values: list) -> int:
            return helpers.combine_all(values)

        @loopml.pipeline
        def flow(n: int = 6):
            return final(shift(scale(load(n))))
    """,
    "project/helpers.py": """
        import functools

        def times(k):
            def decorate(func):
                @functools.wraps(func)
                def wrapper(*args):
                    return [value * k for value in func(*args)]
                return wrapper
            return decorate

        @times({D})
        def make(n):
            return list(range(n + {M}))

        def bump(value, by):
            return value + by

        def combine_all(values):
            from beside import ops
            return ops.combine(values)
    """,
    "project/model.py": """
        import dataclasses

        @dataclasses.dataclass(frozen=True)
        class Settings:
            offset: int = 0

        class Scaler:
            def __init__(self, factor):
                self.factor = factor

            def apply(self, value):
                return value * self.factor + {A}

        SCALER = Scaler({F})
    """,
    "shared/beside/__init__.py": "",
    "shared/beside/ops.py": """
        def combine(values):
            return sum(values) * {C} + len(values)
    """,
}
SITES = "WRSPNDMAFC"
STEPS = ("load", "scale", "shift", "final")

DRIVER = """
import json, sys
import loopml
from loopml.pipeline import load_pipeline

pipeline = load_pipeline("flow.py:flow")
with loopml.workspace(".") as ws:
    result = pipeline.run(workspace=ws, echo=False)
    outputs = {step.name: result.output(step.name) for step in result.steps}
    statuses = {step.name: step.status for step in result.steps}
import flow
truth = {"load": flow.load(6)}
truth["scale"] = flow.scale(truth["load"])
truth["shift"] = flow.shift(truth["scale"])
truth["final"] = flow.final(truth["shift"])
print(json.dumps({"outputs": outputs, "statuses": statuses, "truth": truth}))
"""


EDIT = st.tuples(st.sampled_from(SITES), st.integers(1, 2))
# Rounds of one to three edits, each round followed by a run: values are 1 or 2, so a
# site is often set back to a value it had, and the cache is hit.
ROUNDS = st.lists(st.lists(EDIT, min_size=1, max_size=3), min_size=3, max_size=6)


class Project:
    """The project on disk, edited and run in turns, in a workspace of its own."""

    def __init__(self, root: Path, forks: Forks) -> None:
        self.root = root
        self.forks = forks
        self.values = dict.fromkeys(SITES, 1)
        self.hits = 0
        self.truth: dict[str, object] = {}
        self.write()
        loopml.init(root / "project").close()  # the runs under test are the fresh processes
        (root / "project" / "driver.py").write_text(DRIVER)

    def edit(self, site: str, value: int) -> None:
        self.values[site] = value
        self.write()

    def run(self) -> None:
        """Run the pipeline in a fresh process (forked from one that imported loopml,
        not the project); every step's output must be what its function gives now."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(self.root / "shared"), env.get("PYTHONPATH")])
        )
        done = self.forks.python(["driver.py"], self.root / "project", env, timeout=120)
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        self.truth = seen["truth"]
        for step in STEPS:
            status = seen["statuses"][step]
            self.hits += status == "cached"
            assert seen["outputs"][step] == seen["truth"][step], (
                f"stale {status} result of step {step!r} after the edits {self.values}: "
                f"{seen['outputs'][step]!r}, where the code now gives {seen['truth'][step]!r}"
            )

    def write(self) -> None:
        for relative, template in FILES.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            text = textwrap.dedent(template).format(**self.values)
            if path.exists() and path.read_text() == text:
                continue
            before = path.stat().st_mtime_ns if path.exists() else 0
            path.write_text(text)
            # Python's compiled-file cache keys on the second and the size: date each
            # edit later, or an edit of the same size would run the old bytecode.
            after = max(path.stat().st_mtime_ns, before + 2 * 10**9)
            os.utime(path, ns=(after, after))


@pytest.mark.timeout(900)
@settings(
    max_examples=int(os.environ.get("LOOPML_TEST_EDIT_EXAMPLES", "5")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rounds=ROUNDS)
def test_random_edits_never_give_a_stale_hit(
    cli_forks: Forks, rounds: list[list[tuple[str, int]]]
) -> None:
    root = Path(tempfile.mkdtemp(prefix="loopml-edits-"))
    try:
        project = Project(root, cli_forks)
        project.run()
        for edits in rounds:
            for site, value in edits:
                project.edit(site, value)
            project.run()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_each_edit_alone_is_run_and_an_unchanged_rerun_is_all_hits(
    cli_forks: Forks, tmp_path: Path
) -> None:
    """Each edit site but the comment, set alone, changes some step's result, and that
    step runs again (so the walk above tests every form); a re-run without edits is all
    cache hits, and so is the comment's edit but where the key had to fall back to whole
    files (so the walk exercises the cache)."""
    project = Project(tmp_path, cli_forks)
    project.run()
    first = project.truth
    project.run()
    assert project.hits == len(STEPS)
    for site in SITES.replace("N", ""):
        project.edit(site, 2)
        project.run()  # asserts no stale result
        assert project.truth != first, f"editing {site} changed no result"
        project.edit(site, 1)
    hits = project.hits
    project.edit("N", 2)
    project.run()
    # `final` imports a module as it runs: its key falls back to the digests of the
    # files it reaches, flow.py among them, so the comment re-runs it (conservative)
    assert project.hits == hits + len(STEPS) - 1
