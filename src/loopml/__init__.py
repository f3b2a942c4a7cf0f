"""loopml: the machine-learning lifecycle as one closed loop.

>>> import loopml
>>> loopml.__version__ == loopml._version.__version__
True

Every public subpackage is an attribute from the start (``loopml.registry``,
``loopml.store``, ...); it and the functions below it load on first use.
"""

from typing import Any

from loopml import errors
from loopml._version import __version__
from loopml.errors import LoopmlError

# The decorators take the names `loopml.pipeline` and `loopml.step`; the subpackage is
# still imported as `from loopml.pipeline import ...`.
from loopml.pipeline import pipeline, step
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
# Each lazily loaded name, and the module it comes from.
_LAZY = {
    **dict.fromkeys(_TRACKING, "loopml.tracking"),
    **dict.fromkeys(("distill", "tune"), "loopml.training"),
    "baseline": "loopml.evaluation",
    "deploy": "loopml.serve",
    "register": "loopml.registry",
    "validated": "loopml.pipeline",
    "evaluate": "loopml.evaluation",
    "feedback": "loopml.serve",
    "gate": "loopml.evaluation",
    "progress": "loopml._progress",
    "strict_mode": "loopml._context",
}
# Every public subpackage but `pipeline`, whose name the decorator holds.
_SUBPACKAGES = (
    "artifacts",
    "cli",
    "data",
    "evaluation",
    "models",
    "monitor",
    "registry",
    "serve",
    "store",
    "testing",
    "tracking",
    "training",
)

__all__ = [
    "LoopmlError",
    "Workspace",
    "__version__",
    "errors",
    "init",
    "pipeline",
    "step",
    "workspace",
    *_SUBPACKAGES,
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    # Subpackages and their functions load on first use, so that `import loopml` stays fast.
    from importlib import import_module

    if name in _SUBPACKAGES:
        return import_module(f"loopml.{name}")
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # found once; later calls skip this function
        return value
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
