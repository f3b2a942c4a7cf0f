"""loopml: the machine-learning lifecycle as one closed loop.

>>> import loopml
>>> loopml.__version__ == loopml._version.__version__
True
"""

from loopml import errors
from loopml._version import __version__
from loopml.errors import LoopmlError
from loopml.workspace import Workspace, init, workspace

__all__ = [
    "LoopmlError",
    "Workspace",
    "__version__",
    "errors",
    "init",
    "workspace",
]
