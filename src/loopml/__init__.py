"""loopml: the machine-learning lifecycle as one closed loop.

>>> import loopml
>>> loopml.__version__ == loopml._version.__version__
True
"""

from types import ModuleType

from loopml import errors
from loopml._version import __version__
from loopml.errors import LoopmlError

# The decorators take the names `loopml.pipeline` and `loopml.step`; the subpackage is
# still imported as `from loopml.pipeline import ...`.
from loopml.pipeline._graph import pipeline, step
from loopml.workspace import Workspace, init, workspace

__all__ = [
    "LoopmlError",
    "Workspace",
    "__version__",
    "data",
    "errors",
    "init",
    "pipeline",
    "step",
    "workspace",
]


def __getattr__(name: str) -> ModuleType:
    # Subpackages load on first use, so that `import loopml` stays fast.
    if name == "data":
        import loopml.data

        return loopml.data
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")
