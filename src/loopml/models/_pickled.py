"""The two flavors stored by pickle: scikit-learn, and the generic Python function.

scikit-learn has no format of its own but pickle (its documentation says so), so an
estimator or a Pipeline is pickled whole, with protocol 5 as a pipeline's pickle
fallback. Anything else with a ``predict`` method is the ``python-function`` flavor,
pickled the same way. The versions recorded are those of every library the pickle
refers to (scikit-learn, NumPy, SciPy, ...), found while pickling.

Security: loading a pickle runs code. loopml loads one only from the workspace's own
artifact store after checking its digest; never load a model you do not trust.

>>> import numpy as np
>>> pickled = pickle_with_modules({"a": np.arange(3)}, "python-function")
>>> list(library_versions(pickled.modules)) == ["numpy"]
True
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from loopml._usercode import is_user_file
from loopml.errors import InvalidInput
from loopml.models._base import Encoded, Flavor, first_line, installed_version, loaded

_NAMED = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


class Recorder(pickle.Pickler):
    """A pickler that notes the module of every class and function it writes, and
    which of them are the user's own code (``module:QualName``): loading the bytes
    runs that code, so a pipeline step taking them counts it in its cache key."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, protocol=5)
        self.modules: set[str] = set()
        self.code: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        named: object = obj.__func__ if isinstance(obj, types.MethodType) else obj
        if not isinstance(obj, _NAMED):
            named = type(obj)
        module = getattr(named, "__module__", None)
        if isinstance(module, str):
            self.modules.add(module)
            qualname = getattr(named, "__qualname__", None)
            if isinstance(qualname, str) and is_user_file(_module_file(module)):
                self.code.add(f"{module}:{qualname}")
        return NotImplemented  # pickle it the usual way


@dataclass(frozen=True)
class Pickled:
    data: bytes
    modules: set[str]  # of every class and function it names
    code: tuple[str, ...]  # the user's own among them, ``module:QualName``


def pickle_with_modules(model: Any, flavor: str) -> Pickled:
    buffer = io.BytesIO()
    recorder = Recorder(buffer)
    try:
        recorder.dump(model)
    except Exception as error:
        raise InvalidInput(
            f"the {type(model).__qualname__} cannot be saved as a {flavor} model: pickle "
            f"cannot handle it ({first_line(error)}); define its classes and functions at "
            "the top level of a module, not inside a function or as a lambda"
        ) from None
    if "__main__" in recorder.modules:
        raise InvalidInput(
            f"the {type(model).__qualname__} cannot be saved as a {flavor} model: it uses "
            "classes or functions defined in __main__ (a script or notebook), which another "
            "process cannot import to load it; move them into a module and import them"
        )
    return Pickled(buffer.getvalue(), recorder.modules, tuple(sorted(recorder.code)))


def _module_file(module: str) -> str:
    return str(getattr(sys.modules.get(module), "__file__", None) or "")


def library_versions(modules: set[str]) -> dict[str, str]:
    """The versions of the non-standard libraries among ``modules``, by import name."""
    versions: dict[str, str] = {}
    for top in sorted({module.partition(".")[0] for module in modules}):
        if top in sys.stdlib_module_names or top.startswith("_") or top == "builtins":
            continue
        version = installed_version(top)
        if version is not None:
            versions[top] = version
    return versions


class _Pickled(Flavor):
    def save(self, model: Any) -> Encoded:
        pickled = pickle_with_modules(model, self.name)
        libraries = library_versions(pickled.modules)
        return Encoded(pickled.data, "pickle", libraries=libraries, code=pickled.code)

    def load(self, data: bytes, serialization: str, facts: Mapping[str, Any]) -> Any:
        return pickle.loads(data)


class SklearnFlavor(_Pickled):
    name = "sklearn"
    extra = "train"

    def matches(self, model: Any) -> bool:
        base = loaded("sklearn.base")
        return base is not None and isinstance(model, base.BaseEstimator)


class FunctionFlavor(_Pickled):
    """Anything with ``predict(df) -> array``: the caller's own class, pickled."""

    name = "python-function"
    extra = "train"

    def matches(self, model: Any) -> bool:
        return not isinstance(model, type) and callable(getattr(model, "predict", None))
