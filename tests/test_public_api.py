"""The public surface is small, tested, and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import loopml
from loopml import errors


def test_all_is_exactly_the_public_surface() -> None:
    assert sorted(loopml.__all__) == [
        "LoopmlError",
        "Workspace",
        "__version__",
        "active_run",
        "baseline",
        "data",
        "distill",
        "end_run",
        "errors",
        "evaluate",
        "evaluation",
        "flush",
        "gate",
        "init",
        "log_artifact",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "models",
        "pipeline",
        "progress",
        "register",
        "set_tags",
        "start_run",
        "step",
        "tune",
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


def test_data_is_a_lazy_attribute() -> None:
    import loopml.data

    assert loopml.data.add is not None
    assert set(loopml.data.__all__) <= set(dir(loopml.data))
