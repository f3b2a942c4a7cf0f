"""loopml: the machine-learning lifecycle as one closed loop.

>>> import loopml
>>> loopml.__version__ == loopml._version.__version__
True
"""

from typing import Any

from loopml import errors
from loopml._version import __version__
from loopml.errors import LoopmlError

# The decorators take the names `loopml.pipeline` and `loopml.step`; the subpackage is
# still imported as `from loopml.pipeline import ...`.
from loopml.pipeline._graph import pipeline, step
from loopml.workspace import Workspace, init, workspace

_TRACKING = (
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tags",
    "start_run",
)

_TRAINING = ("baseline", "distill", "tune")

__all__ = [
    "LoopmlError",
    "Workspace",
    "__version__",
    "data",
    "errors",
    "init",
    "models",
    "pipeline",
    "progress",
    "step",
    "workspace",
    *_TRACKING,
    *_TRAINING,
]


def __getattr__(name: str) -> Any:
    # Subpackages load on first use, so that `import loopml` stays fast.
    if name in ("data", "models"):
        from importlib import import_module

        return import_module(f"loopml.{name}")
    if name == "progress":
        from loopml._progress import progress

        return progress
    if name in _TRACKING or name in _TRAINING:
        from importlib import import_module

        module = import_module("loopml.tracking" if name in _TRACKING else "loopml.training")
        value = getattr(module, name)
        globals()[name] = value  # found once; later calls skip this function
        return value
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")
