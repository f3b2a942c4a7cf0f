"""Every form of code a step can run through counts in its key: edits that change what
it returns change the key. Each case is one a reader found reused stale from the cache."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fingerprint_project import HELPERS, Project, digest

from loopml.pipeline._fingerprint import Fingerprint, code_fingerprint


def changes(project: Project, step: str, *edits: tuple[str, str], helpers: str = HELPERS) -> None:
    """Each edit, made alone to the step module or the helpers, changes the digest."""
    before = digest(project, step, helpers)
    for old, new in edits:
        assert old in step or old in helpers, old
        after = digest(project, step.replace(old, new), helpers.replace(old, new))
        assert after != before, f"{old!r} -> {new!r} left the key unchanged"
    assert digest(project, step, helpers) == before  # and the same code, the same key


INSTANCE = """
    class Scaler:
        def __init__(self, factor):
            self.factor = factor

        def apply(self, x):
            return x * self.factor

    SCALER = Scaler(2)

    def featurize(x):
        return SCALER.apply(x)
"""


def test_a_method_of_a_module_level_instance_and_its_constructor_argument(
    project: Project,
) -> None:
    changes(project, INSTANCE, ("x * self.factor", "x + self.factor"), ("Scaler(2)", "Scaler(3)"))


def test_an_instance_in_a_helper_module(project: Project) -> None:
    helpers = textwrap.dedent(INSTANCE).replace("def featurize", "def _unused")
    step = "import helpers\n\ndef featurize(x):\n    return helpers.SCALER.apply(x)\n"
    changes(
        project,
        step,
        ("x * self.factor", "x - self.factor"),
        ("Scaler(2)", "Scaler(5)"),
        helpers=helpers,
    )


def test_an_instance_with_slots_and_a_nested_dataclass(project: Project) -> None:
    step = """
        import dataclasses

        @dataclasses.dataclass(frozen=True)
        class Limits:
            low: float = 0.0
            high: float = 1.0

        class Clipper:
            __slots__ = ("limits",)

            def __init__(self, limits):
                self.limits = limits

        CLIP = Clipper(Limits(high=2.0))

        def featurize(x):
            return min(max(x, CLIP.limits.low), CLIP.limits.high)
    """
    changes(project, step, ("high=2.0", "high=3.0"), ("low: float = 0.0", "low: float = -1.0"))


def test_partial_keywords_and_the_function_it_wraps(project: Project) -> None:
    step = """
        import functools
        import helpers

        ROUND = functools.partial(round, ndigits=2)
        CLEAN = functools.partial(helpers.clean)

        def featurize(x):
            return ROUND(float(CLEAN(x)))
    """
    changes(project, step, ("ndigits=2", "ndigits=3"), (".lower()", ".upper()"))


@pytest.mark.parametrize(
    ("setup", "use", "edit"),
    [
        ("import numpy as np\nW = np.array([1.0, 2.0])", "float((W * x).sum())", ("2.0]", "3.0]")),
        ("import numpy as np\nW = np.float32(0.5)", "x * W", ("0.5", "0.25")),
        ("import pandas as pd\nT = pd.DataFrame({'a': [1, 2]})", "T['a'].sum() * x", ("2]", "3]")),
        ("import pandas as pd\nT = pd.Series([1, 2], name='a')", "T.sum() * x", ("'a'", "'b'")),
        ("import re\nP = re.compile(r'[0-9]+')", "P.sub('', str(x))", ("[0-9]", "[a-z]")),
        ("import re\nP = re.compile('x', re.I)", "P.sub('', str(x))", ("re.I", "re.M")),
        (
            "import dataclasses\n@dataclasses.dataclass(frozen=True)\nclass S:\n    t: float\n"
            "SETTINGS = S(t=0.5)",
            "x > SETTINGS.t",
            ("t=0.5", "t=0.6"),
        ),
        (
            "import datetime\nSTART = datetime.date(2024, 1, 1)",
            "(x - START).days",
            ("1, 1)", "1, 2)"),
        ),
        (
            "import enum\nclass M(enum.Enum):\n    A = 1\nMODE = M.A",
            "MODE.value * x",
            ("A = 1", "A = 2"),
        ),
    ],
    ids=[
        "numpy-array",
        "numpy-scalar",
        "pandas-frame",
        "pandas-series",
        "regex",
        "regex-flags",
        "dataclass",
        "date",
        "enum",
    ],
)
def test_library_and_dataclass_constants(
    project: Project, setup: str, use: str, edit: tuple[str, str]
) -> None:
    step = f"{setup}\n\ndef featurize(x):\n    return {use}\n"
    changes(project, step, edit)
    assert project.fingerprint(pipelines=step, helpers=HELPERS).unproven == ()


def test_a_module_imported_inside_a_helper(project: Project) -> None:
    step = """
        def helper(x):
            import helpers
            return helpers.clean(x)

        def featurize(x):
            return helper(x)
    """
    changes(project, step, (".lower()", ".upper()"), ("x.strip()", "x.lstrip()"))
    fingerprint = project.fingerprint(pipelines=step, helpers=HELPERS)
    assert any("imports helpers" in why for why in fingerprint.unproven)
    assert f"{project.name('helpers')}.py" in {Path(file).name for file in fingerprint.files}


def test_a_value_it_cannot_read_falls_back_to_the_files_it_reaches(project: Project) -> None:
    step = """
        import threading
        import helpers

        LOCK = threading.Lock()

        def featurize(x):
            with LOCK:
                return x * helpers.THRESHOLD
    """
    fingerprint = project.fingerprint(pipelines=step, helpers=HELPERS)
    assert any("LOCK" in why for why in fingerprint.unproven)
    # the whole files count now: even the helper it does not call
    changes(project, step, ("return x * 2", "return x * 3"), ("0.5", "0.7"))


@pytest.mark.parametrize(
    "body",
    [
        "return globals()['helpers'].clean(x)",
        "return getattr(helpers, 'clean')(x)",
        "return eval('helpers.clean')(x)",
        "return __import__('helpers').clean(x)",
    ],
    ids=["globals", "getattr-on-a-module", "eval", "__import__"],
)
def test_code_reached_by_a_name_in_a_string(project: Project, body: str) -> None:
    step = f"import helpers\n\ndef featurize(x):\n    {body}\n"
    changes(project, step, (".lower()", ".upper()"))
    assert project.fingerprint(pipelines=step, helpers=HELPERS).unproven


def test_a_global_assigned_as_it_runs(project: Project) -> None:
    step = """
        import helpers

        def configure():
            global MODE
            MODE = helpers.THRESHOLD

        def featurize(x):
            configure()
            return x > MODE
    """
    changes(project, step, ("0.5", "0.9"))


def test_a_class_decorator_and_a_class_attribute(project: Project) -> None:
    helpers = HELPERS + textwrap.indent(
        textwrap.dedent(
            """
            def register(cls):
                cls.SCALE = 10
                return cls
            """
        ),
        "    ",
    )
    step = """
        import helpers

        @helpers.register
        class Model:
            OFFSET = 1

            def predict(self, x):
                return x * self.SCALE + self.OFFSET

        def featurize(x):
            return Model().predict(x)
    """
    changes(
        project, step, ("SCALE = 10", "SCALE = 20"), ("OFFSET = 1", "OFFSET = 2"), helpers=helpers
    )


def test_a_helper_in_a_package_beside_the_pipeline_folder(tmp_path: Path) -> None:
    """The pipeline's folder is the project root, and a package beside it is imported
    through sys.path: its code is the user's all the same."""
    project = Project(tmp_path)
    layout = {
        "app/flow": "from sibling.maths import double\n\ndef featurize(x):\n    return double(x)\n",
        "sibling/__init__": "",
        "sibling/maths": "def double(x):\n    return x * 2\n",
    }

    def fingerprint(**modules: str) -> Fingerprint:
        folder = project.write(**modules)
        with project.imported(folder, "app.flow") as flow:
            return code_fingerprint(flow.featurize, project_root=folder / project.name("app"))

    before = fingerprint(**layout)
    assert before.parts == (
        "flow:double",
        "flow:featurize",
        f"{project.name('sibling')}/maths:double",
    )
    layout["sibling/maths"] = layout["sibling/maths"].replace("x * 2", "x * 5")
    assert fingerprint(**layout).digest != before.digest


def test_a_dataset_version_held_by_the_module_counts_by_its_digest(tmp_path: Path) -> None:
    """`DATA = loopml.data.get("nums@latest")` at the top of a module: a version read
    as the module is imported, so a new one changes the key."""
    import pandas as pd

    import loopml

    with loopml.init(tmp_path) as ws:
        v1 = loopml.data.add(pd.DataFrame({"x": [1]}), name="nums", workspace=ws)
        v2 = loopml.data.add(pd.DataFrame({"x": [2]}), name="nums", workspace=ws)

    def featurize_with(data: object) -> Fingerprint:
        namespace: dict[str, object] = {"__name__": "cell", "DATA": data}
        exec("def featurize(x):\n    return DATA.to_pandas()['x'].sum() + x\n", namespace)
        return code_fingerprint(namespace["featurize"])  # type: ignore[arg-type]

    first, again, second = featurize_with(v1), featurize_with(v1), featurize_with(v2)
    assert first.unproven == ()
    assert first.digest == again.digest
    assert first.digest != second.digest
