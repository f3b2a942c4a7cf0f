"""Loading ``FILE.py:NAME`` for the command line: the file imported as a module, the
pipeline looked up in it, and every failure said with the file and line."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from loopml.errors import InvalidInput, PipelineError
from loopml.pipeline._graph import Pipeline


def load_pipeline(target: str) -> Pipeline:
    """The pipeline named by ``path/to/file.py:name`` (``:name`` may be left out when the
    file has exactly one pipeline)."""
    file_part, _, name = target.rpartition(":") if ":" in target else (target, "", "")
    path = Path(file_part)
    if not path.is_file():
        raise InvalidInput(
            f"pipeline file {path} does not exist; give it as path/to/file.py:pipeline_name"
        )
    module = _import(path.absolute())
    found = {value.name: value for value in vars(module).values() if isinstance(value, Pipeline)}
    if not found:
        raise InvalidInput(
            f"{path} defines no pipeline; define one with @loopml.pipeline on a function "
            "that calls its @loopml.step functions (see docs/pipelines.md)"
        )
    if not name:
        if len(found) != 1:
            listed = ", ".join(sorted(found))
            raise InvalidInput(
                f"{path} has {len(found)} pipelines ({listed}); name one as {path}:NAME"
            )
        return next(iter(found.values()))
    pipeline = getattr(module, name, None)
    if isinstance(pipeline, Pipeline):
        return pipeline
    if name in found:
        return found[name]
    listed = ", ".join(sorted(found))
    raise InvalidInput(f"{path} has no pipeline named {name!r}; its pipelines are: {listed}")


def _import(path: Path) -> object:
    module_name = f"loopml_user_{path.stem}"
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so that the file's own `import helpers` works
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"cannot import {path}: it is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        # Compiled from the file as it is now, never from __pycache__: Python trusts a
        # cached compile whose source has the same size and mtime second, so an edit
        # made within the second would run the old code.
        exec(compile(path.read_bytes(), str(path), "exec"), module.__dict__)
    except SyntaxError as error:
        sys.modules.pop(module_name, None)
        raise PipelineError(
            f"{error.filename}:{error.lineno}: the pipeline file does not import: {error.msg}"
        ) from None
    except Exception as error:
        sys.modules.pop(module_name, None)
        frames = traceback.extract_tb(error.__traceback__)
        # The line in the user's file that failed, not the library line under it.
        own = [frame for frame in frames if Path(frame.filename) == path]
        last = (own or frames)[-1] if frames else None
        at = f"{last.filename}:{last.lineno}" if last else str(path)
        raise PipelineError(
            f"{at}: the pipeline file {path.name} does not import: {type(error).__name__}: {error}"
        ) from None
    return module
