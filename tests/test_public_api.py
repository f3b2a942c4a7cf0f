"""The public surface is small, tested, and cheap to import."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import loopml
from loopml import errors

# Every package and module whose names are loopml's public surface.
PUBLIC = [
    "loopml",
    "loopml.artifacts",
    "loopml.cli",
    "loopml.data",
    "loopml.errors",
    "loopml.evaluation",
    "loopml.models",
    "loopml.monitor",
    "loopml.pipeline",
    "loopml.registry",
    "loopml.serve",
    "loopml.store",
    "loopml.store.query",
    "loopml.store.values",
    "loopml.testing",
    "loopml.testing.alias_contract",
    "loopml.testing.arm_stats_contract",
    "loopml.testing.change_contract",
    "loopml.testing.deployment_contract",
    "loopml.testing.lease_contract",
    "loopml.testing.review_contract",
    "loopml.testing.run_contract",
    "loopml.testing.run_query_contract",
    "loopml.testing.schedule_contract",
    "loopml.testing.store_contract",
    "loopml.testing.value_contract",
    "loopml.tracking",
    "loopml.training",
]


def test_all_is_exactly_the_public_surface() -> None:
    assert sorted(loopml.__all__) == [
        "LoopmlError",
        "Workspace",
        "__version__",
        "active_run",
        "artifacts",
        "baseline",
        "cli",
        "data",
        "deploy",
        "distill",
        "end_run",
        "errors",
        "evaluate",
        "evaluation",
        "feedback",
        "flush",
        "gate",
        "init",
        "log_artifact",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "models",
        "monitor",
        "pipeline",
        "progress",
        "register",
        "registry",
        "serve",
        "set_tags",
        "start_run",
        "step",
        "store",
        "strict_mode",
        "testing",
        "tracking",
        "training",
        "tune",
        "validated",
        "workspace",
    ]
    for name in loopml.__all__:
        assert hasattr(loopml, name)


def test_every_error_is_a_loopml_error() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    warnings = [cls for cls in classes if issubclass(cls, Warning)]
    assert len(classes) - len(warnings) >= 15
    assert all(issubclass(cls, errors.LoopmlError) for cls in classes if cls not in warnings)
    assert warnings
    assert all(issubclass(cls, errors.LoopmlWarning) for cls in warnings)
    for cls in classes:
        assert cls.__name__ in errors.__doc__, f"{cls.__name__} missing from the drawn tree"


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, loopml, loopml.store, loopml.artifacts, loopml.cli, loopml.data;"
        "from loopml.pipeline import Pipeline;"
        "heavy = {'sqlalchemy', 'alembic', 'fsspec', 'blake3', 'rich', 'psycopg', 'typer',"
        " 'numpy', 'polars', 'pyarrow', 'scipy', 'pandas', 'yaml'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"


def _python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter, where nothing else imported loopml."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def test_data_is_a_lazy_attribute() -> None:
    code = (
        "import sys, loopml;"
        "before = 'loopml.data' in sys.modules;"
        "found = loopml.data.add;"
        "print(before, found.__module__, 'loopml.data' in sys.modules)"
    )
    assert _python(code) == "False loopml.data._api True"


def test_every_public_subpackage_is_an_attribute_after_a_bare_import() -> None:
    subpackages = sorted(
        info.name
        for info in pkgutil.iter_modules(loopml.__path__)
        if info.ispkg and not info.name.startswith("_") and info.name != "pipeline"
    )
    assert len(subpackages) >= 10
    code = f"import loopml;print([getattr(loopml, name).__name__ for name in {subpackages!r}])"
    assert _python(code) == repr([f"loopml.{name}" for name in subpackages])
    # `loopml.pipeline` is the decorator; the package is imported by its full name
    assert set(subpackages) < set(loopml.__all__)


def _own_public_names(module: ModuleType) -> set[str]:
    """The public names a module shows that are its own: what it defines or takes from
    its private modules, and its public subpackages; not what it imports from elsewhere
    (``Any``, a helper of another package) nor the plain submodules the import system
    attaches."""
    names = set()
    for name in {*dir(module), *vars(module)}:
        if name.startswith("_"):
            continue
        value = getattr(module, name)
        if inspect.ismodule(value):
            own = value.__name__ == f"{module.__name__}.{name}" and hasattr(value, "__path__")
        else:
            home = getattr(value, "__module__", None) or ""
            own = home == module.__name__ or home.startswith(f"{module.__name__}.")
        if own:
            names.add(name)
    return names


@pytest.mark.parametrize("name", PUBLIC)
def test_all_names_what_the_module_really_exports(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), "a name listed twice"
    for each in exported:
        assert getattr(module, each) is not None, f"{name}.{each} does not resolve"
    public = {each for each in exported if not each.startswith("_")}
    assert _own_public_names(module) <= public, "public but not in __all__"
    if "__dir__" in vars(module):
        assert set(dir(module)) == set(exported)


def _type_checking_imports(module: ModuleType) -> dict[str, str]:
    """Each name a package imports for type checkers only, and the module it names."""
    tree = ast.parse(Path(str(module.__file__)).read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for each in ast.walk(node):
                if isinstance(each, ast.ImportFrom) and each.module:
                    found.update({alias.asname or alias.name: each.module for alias in each.names})
    return found


@pytest.mark.parametrize("name", [name for name in PUBLIC if "testing" not in name])
def test_type_checkers_see_what_runs(name: str) -> None:
    # A lazy package names its exports twice: for type checkers, and in the map it loads
    # them from at run time; the two must agree.
    module = importlib.import_module(name)
    seen = _type_checking_imports(module)
    for each, home in seen.items():
        if each in module.__all__:
            assert getattr(module, each) is getattr(importlib.import_module(home), each)
    if "__getattr__" in vars(module) and module is not loopml:
        eager = {each for each in module.__all__ if each in vars(module)}
        assert set(seen) == set(module.__all__) - eager
