"""Code fingerprints: what changes a step's cache key, and what leaves it alone."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fingerprint_project import HELPERS, STEP_MODULE, Project, digest

from loopml.pipeline._fingerprint import code_fingerprint


def test_the_same_code_has_the_same_digest_in_other_processes(project: Project) -> None:
    step = """
        import json
        import numpy as np
        import helpers

        KINDS = frozenset({"a", "b", "c", "d", "e"})
        WEIGHTS = {"x": (1, 2.5), "y": [True, None, b"z"]}

        def featurize(rows):
            kept = [r for r in rows if r["kind"] in KINDS or r["kind"] in {"f", "g", "h"}]
            return json.dumps(kept), np.mean([WEIGHTS["x"][0]]), helpers.clean("A ")

        exec("def by_exec(x):\\n    return x in {'p', 'q', 'r', 's'}")
    """
    folder = project.write(pipelines=step, helpers=HELPERS)
    with project.imported(folder, "pipelines") as module:
        here = (code_fingerprint(module.featurize).digest, code_fingerprint(module.by_exec).digest)
    script = (
        f"import sys; sys.path.insert(0, {str(folder)!r}); import {project.name('pipelines')} as m;"
        "from loopml.pipeline._fingerprint import code_fingerprint as f;"
        "print(f(m.featurize).digest, f(m.by_exec).digest)"
    )
    seen = set()
    for seed in ("1", "2"):  # string hashes, hence set order, differ between the two
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        seen.add(tuple(result.stdout.split()))
    assert seen == {here}


def test_comments_blank_lines_docstrings_and_formatting_do_not_count(project: Project) -> None:
    reformatted = '''
        import helpers


        def featurize(x):  # the step
            """Turn raw text into a feature."""

            # clean first
            return helpers.clean(
                x
            )
    '''
    helpers = HELPERS.replace("def clean(x):", 'def clean(x):\n        "Lowercase."  # note')
    assert digest(project, reformatted, helpers) == digest(project)


DECORATED = """
    import functools
    import helpers

    def shout(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs) + "!"
        return wrapper

    @shout
    def featurize(x):
        return helpers.clean(x)
"""


def test_a_decorator_that_changes_the_result_counts(project: Project) -> None:
    plain = project.fingerprint(pipelines=STEP_MODULE, helpers=HELPERS)
    wrapped = project.fingerprint(pipelines=DECORATED, helpers=HELPERS)
    assert wrapped.digest != plain.digest
    assert digest(project, DECORATED.replace('"!"', '"?"')) != wrapped.digest
    assert wrapped.source_file is not None
    assert wrapped.line is not None
    lines = Path(wrapped.source_file).read_text().splitlines()
    assert lines[wrapped.line - 1] == "def featurize(x):"


def test_a_decorated_helper_counts_its_decorator_argument_and_body(project: Project) -> None:
    step = """
        import functools

        def scaled(factor):
            def decorate(func):
                @functools.wraps(func)
                def wrapper(x):
                    return func(x) * factor
                return wrapper
            return decorate

        @scaled(3)
        def helper(x):
            return x + 1

        def featurize(x):
            return helper(x)
    """
    before = digest(project, step)
    assert digest(project, step.replace("scaled(3)", "scaled(4)")) != before
    assert digest(project, step.replace("func(x) * factor", "func(x) + factor")) != before
    assert digest(project, step.replace("x + 1", "x + 2")) != before
    assert digest(project, step) == before


def test_changing_the_step_body_changes_the_digest(project: Project) -> None:
    changed = STEP_MODULE.replace("helpers.clean(x)", "helpers.clean(x)[:10]")
    assert digest(project, changed) != digest(project)


@pytest.mark.parametrize(
    "step",
    [
        STEP_MODULE,
        "from helpers import clean\n\ndef featurize(x):\n    return clean(x)\n",
        textwrap.dedent(HELPERS) + "\n\ndef featurize(x):\n    return clean(x)\n",
    ],
    ids=["import-module", "from-import", "same-file"],
)
def test_a_helper_it_calls_counts_and_one_it_does_not_call_does_not(
    project: Project, step: str
) -> None:
    def edited(old: str, new: str) -> str:
        return digest(project, step.replace(old, new), HELPERS.replace(old, new))

    before = digest(project, step)
    assert edited(".lower()", ".upper()") != before
    assert edited("return x * 2", "return x * 3") == before  # `unused` changed


def test_a_helper_of_a_helper_counts(project: Project) -> None:
    assert digest(project, helpers=HELPERS.replace("x.strip()", "x.strip(' ')")) != digest(project)


def test_a_helper_in_a_sibling_module_of_a_package_counts(project: Project) -> None:
    layout = {
        "pkg/__init__": "",
        "pkg/steps/__init__": "",
        "pkg/steps/text": "from pkg import util\n\ndef featurize(x):\n    return util.clean(x)\n",
        "pkg/util": "def clean(x):\n    return x.strip()\n",
    }
    before = project.fingerprint("pkg.steps.text.featurize", **layout)
    assert f"{project.name('pkg')}/util:clean" in before.parts  # named by file, not module
    layout["pkg/util"] = layout["pkg/util"].replace("strip", "lstrip")
    assert project.fingerprint("pkg.steps.text.featurize", **layout).digest != before.digest


@pytest.mark.parametrize(
    "step",
    [
        "import helpers\n\ndef featurize(x):\n    return x > helpers.THRESHOLD\n",
        "from helpers import THRESHOLD\n\ndef featurize(x):\n    return x > THRESHOLD\n",
    ],
    ids=["module-attribute", "from-import"],
)
def test_a_constant_it_uses_counts_and_one_it_does_not_use_does_not(
    project: Project, step: str
) -> None:
    before = project.fingerprint(pipelines=step, helpers=HELPERS)
    assert any(part.endswith(":THRESHOLD") for part in before.parts)
    assert digest(project, step, HELPERS.replace("0.5", "0.75")) != before.digest
    assert digest(project, step, HELPERS.replace("= 10", "= 20")) == before.digest


def test_a_default_value_counts(project: Project) -> None:
    step = "SCALE = 2\n\ndef featurize(x, scale=SCALE):\n    return x * scale\n"
    assert digest(project, step.replace("= 2", "= 3")) != digest(project, step)


def test_functions_in_a_table_it_uses_count(project: Project) -> None:
    step = """
        def double(x):
            return x * 2

        OPERATIONS = {"double": double, "square": lambda x: x * x}

        def featurize(x, op="double"):
            return OPERATIONS[op](x)
    """
    before = digest(project, step)
    assert digest(project, step.replace("x * 2", "x * 3")) != before
    assert digest(project, step.replace("x * x", "x**2")) != before


def test_a_closure_value_counts(project: Project) -> None:
    factory = """
        def make(limit):
            def featurize(x):
                return x[:limit]
            return featurize

        featurize = make(5)
    """
    assert digest(project, factory.replace("make(5)", "make(6)")) != digest(project, factory)


def test_a_method_of_a_class_it_uses_counts(project: Project) -> None:
    step = """
        class Base:
            def shift(self, x):
                return x + 1

        class Scaler(Base):
            def __init__(self, factor):
                self.factor = factor

            def apply(self, x):
                return self.shift(x) * self.factor

        def featurize(x):
            return Scaler(2).apply(x)
    """
    before = digest(project, step)
    assert digest(project, step.replace("* self.factor", "/ self.factor")) != before
    assert digest(project, step.replace("x + 1", "x + 2")) != before


def test_stdlib_and_third_party_code_is_left_out(project: Project) -> None:
    step = """
        import json
        import numpy as np
        from os.path import join

        def featurize(x):
            return json.dumps({"m": float(np.mean(x)), "p": join("a", "b")})
    """
    fingerprint = project.fingerprint(pipelines=step, helpers=HELPERS)
    # the library function it names counts by its name, not by its code
    name = project.name("pipelines")
    assert fingerprint.parts == (f"{name}:featurize", f"{name}:join")
    assert fingerprint.unproven == ()
    assert [Path(file).name for file in fingerprint.files] == [f"{name}.py"]
    assert fingerprint.digest == project.fingerprint(pipelines=step, helpers=HELPERS).digest


def test_mutual_recursion_and_self_reference_terminate(project: Project) -> None:
    step = """
        def is_even(n):
            return True if n == 0 else is_odd(n - 1)

        def is_odd(n):
            return False if n == 0 else is_even(n - 1)

        class Node:
            def child(self):
                return Node()

        def featurize(n):
            return is_even(n), Node().child()
    """
    fingerprint = project.fingerprint(pipelines=step, helpers=HELPERS)
    name = project.name("pipelines")
    assert fingerprint.parts == tuple(
        sorted(f"{name}:{part}" for part in ("featurize", "is_even", "is_odd", "Node"))
    )
    assert digest(project, step.replace("False if", "bool(0) if")) != fingerprint.digest


@pytest.mark.parametrize(
    ("step", "edit"),
    [
        ("def featurize(xs):\n    return sorted(xs, key=lambda x: -x)\n", "-x"),
        ("def featurize(xs):\n    def key(x):\n        return -x\n    return key(xs[0])", "-x"),
        ("def featurize(xs):\n    return [-x for x in xs]\n", "-x"),
        ("negate = lambda x: -x\n\ndef featurize(xs):\n    return list(map(negate, xs))\n", "-x"),
    ],
    ids=["lambda", "inner-function", "comprehension", "global-lambda"],
)
def test_a_nested_function_body_counts(project: Project, step: str, edit: str) -> None:
    assert digest(project, step.replace(edit, "abs(x)")) != digest(project, step)


@pytest.mark.parametrize(
    "step",
    [
        "import helpers\n\ndef featurize(xs):\n    return max(xs, key=lambda x: helpers.clean(x))",
        "from helpers import clean\n\ndef featurize(xs):\n    return [clean(x) for x in xs]\n",
    ],
    ids=["lambda", "comprehension"],
)
def test_a_helper_called_only_from_a_nested_function_counts(project: Project, step: str) -> None:
    changed = HELPERS.replace(".lower()", ".upper()")
    assert digest(project, step, changed) != digest(project, step)


def test_a_helper_called_by_a_method_counts(project: Project) -> None:
    step = """
        import helpers

        class Cleaner:
            def apply(self, x):
                return helpers.clean(x)

        def featurize(x):
            return Cleaner().apply(x)
    """
    changed = HELPERS.replace(".lower()", ".upper()")
    assert digest(project, step, changed) != digest(project, step)


def test_an_edited_and_reloaded_module_gets_a_new_digest(project: Project) -> None:
    folder = project.write(pipelines=STEP_MODULE, helpers=HELPERS)
    with project.imported(folder, "pipelines") as module:
        before = code_fingerprint(module.featurize).digest
        path = folder / f"{project.name('helpers')}.py"
        path.write_text(path.read_text().replace(".lower()", ".upper()"))
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
        importlib.reload(sys.modules[project.name("helpers")])
        assert code_fingerprint(module.featurize).digest != before


def define(source: str, namespace: dict[str, object]) -> object:
    exec(textwrap.dedent(source), namespace)
    return namespace["featurize"]


def test_a_function_without_source_falls_back_to_its_bytecode() -> None:
    source = """
        def scale(x):
            return x * 2

        def featurize(x):
            return scale(x).imag
    """
    fingerprint = code_fingerprint(define(source, {"__name__": "cell"}))  # type: ignore[arg-type]
    assert fingerprint.parts == ("<bytecode>cell.featurize", "<bytecode>cell.scale")
    assert (fingerprint.source_file, fingerprint.line) == (None, None)
    again = code_fingerprint(define(source, {"__name__": "cell"}))  # type: ignore[arg-type]
    assert again.digest == fingerprint.digest
    # `.imag` and `.real` compile to the same bytes: only the names differ
    for old, new in [("x * 2", "x * 3"), (".imag", ".real")]:
        changed = define(source.replace(old, new), {"__name__": "cell"})
        assert code_fingerprint(changed).digest != fingerprint.digest  # type: ignore[arg-type]


def test_source_file_and_line_point_at_the_def(project: Project) -> None:
    step = """
        import functools


        @functools.lru_cache(
            maxsize=None,
        )
        def featurize(x):
            return x
    """
    fingerprint = project.fingerprint(pipelines=step, helpers=HELPERS)
    assert fingerprint.source_file is not None
    lines = Path(fingerprint.source_file).read_text().splitlines()
    assert fingerprint.line is not None
    assert lines[fingerprint.line - 1] == "def featurize(x):"
    assert Path(fingerprint.source_file).name == f"{project.name('pipelines')}.py"


def test_run_as_a_script_or_imported_gives_the_same_digest(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    (tmp_path / "helpers.py").write_text("def clean(x):\n    return x + 1\n")
    (tmp_path / "flow.py").write_text(
        textwrap.dedent(
            """
            from helpers import clean
            from loopml.pipeline._fingerprint import code_fingerprint

            def featurize(x):
                return clean(x) * 2

            if __name__ == "__main__":
                print(code_fingerprint(featurize).digest)
            """
        )
    )
    as_script = subprocess.run(
        [sys.executable, "flow.py"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import flow; from loopml.pipeline._fingerprint import code_fingerprint; "
            "print(code_fingerprint(flow.featurize).digest)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert len(as_script) == 64
    assert as_script == imported


def test_source_that_does_not_parse_falls_back_to_the_bytecode() -> None:
    """A function exec'd under a name whose lines in linecache are not its own (a
    notebook cell, a docs runner) is read from its bytecode, never an error."""
    import linecache

    name = "<cell with other lines>"
    linecache.cache[name] = (10, None, ['x = """never closed\n'] * 3, name)
    namespace: dict[str, object] = {"__name__": "cell"}
    exec(compile("def featurize(x):\n    return x + 1\n", name, "exec"), namespace)
    try:
        fingerprint = code_fingerprint(namespace["featurize"])  # type: ignore[arg-type]
    finally:
        linecache.cache.pop(name, None)
    assert fingerprint.parts == ("<bytecode>cell.featurize",)


def test_code_run_from_text_reaches_every_user_file_and_a_regex_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopml.pipeline._reach import reach

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "other.py").write_text("X = 1\n")
    (tmp_path / "regex.py").write_text("import re\nPATTERN = re.compile('a+')\n")
    (tmp_path / "runs.py").write_text("def go(text):\n    exec(compile(text, 'x', 'exec'))\n")
    named = {Path(f).name for f in reach([str(tmp_path / "regex.py")]).files}
    assert named == {"regex.py"}
    named = {Path(f).name for f in reach([str(tmp_path / "runs.py")]).files}
    assert {"runs.py", "other.py", "regex.py"} <= named
