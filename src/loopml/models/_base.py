"""The flavor contract, and what every flavor shares: library versions and lazy imports.

A flavor stores one family of models in that family's own format and loads it back.
Its rules:

- ``matches(model)`` never imports a library: a model of a library exists only if
  that library is imported already, so the check looks in ``sys.modules``.
- ``save(model)`` returns the bytes, how they were written (``serialization``; any
  ``pickle`` is named so), the JSON facts needed to load them, and the
  versions of the libraries the bytes depend on (import names, as ``__version__``
  gives them). The same model gives the same bytes where the library allows it.
- ``load(data, serialization, facts)`` gives back a model that predicts exactly as the
  saved one did, with only the flavor's own library imported, and only when called.
- Errors are :class:`~loopml.errors.InvalidInput` (the model cannot be stored, and why)
  or :class:`~loopml.errors.ConfigError` (a library to install).

>>> issubclass(ModelVersionWarning, UserWarning)
True
>>> installed_version("collections") is None  # no __version__: not a versioned library
True
"""

from __future__ import annotations

import importlib
import math
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from loopml.errors import ConfigError, InvalidInput, ModelVersionWarning

# Import names whose pip package has another name, for the install hints.
_PIP_NAMES = {"sklearn": "scikit-learn"}


@dataclass(frozen=True)
class Encoded:
    """A model as bytes, the JSON ``facts`` needed to load it, the ``libraries``
    (import name to version) the bytes depend on, and the user's ``code`` they name."""

    data: bytes
    serialization: str
    facts: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    #: the user's classes and functions (``module:QualName``) loading the bytes runs
    code: tuple[str, ...] = ()


class Flavor(ABC):
    """One family of models and its storage; see the module docstring for the rules."""

    name: ClassVar[str]
    #: the pip extra that installs the library, for error messages
    extra: ClassVar[str]

    @abstractmethod
    def matches(self, model: Any) -> bool: ...

    @abstractmethod
    def save(self, model: Any) -> Encoded: ...

    @abstractmethod
    def load(self, data: bytes, serialization: str, facts: Mapping[str, Any]) -> Any: ...


def need(module: str, flavor: str, extra: str) -> Any:
    """Import ``module`` for a flavor, or say what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ConfigError(
            f"the {flavor} flavor needs {module.split('.')[0]}, which cannot be imported "
            f"({error}); install it with pip install 'loopml[{extra}]'"
        ) from None


def loaded(module: str) -> Any:
    """The module if it is imported already, else None (so a check imports nothing)."""
    return sys.modules.get(module)


def installed_version(library: str) -> str | None:
    """The ``__version__`` of an importable library, or None when it has none."""
    try:
        version = getattr(importlib.import_module(library), "__version__", None)
    except ImportError:
        return None
    return version if isinstance(version, str) else None


def check_versions(saved: Mapping[str, str], what: str) -> None:
    """Warn for each library whose installed version differs from the saved one;
    ConfigError for one that is not installed at all."""
    for library, version in sorted(saved.items()):
        try:
            importlib.import_module(library)
        except ImportError:
            raise ConfigError(
                f"{what} was saved with {library} {version}, which is not installed; "
                f"install it with pip install '{pip_name(library)}=={version}'"
            ) from None
        installed = installed_version(library)
        if installed != version:
            warnings.warn(
                f"{what} was saved with {library} {version}, but {library} {installed} is "
                f"installed: it may predict differently or fail to load; install "
                f"{pip_name(library)}=={version}, or save the model again with {installed}",
                ModelVersionWarning,
                stacklevel=4,
            )


def pip_name(library: str) -> str:
    return _PIP_NAMES.get(library, library)


def type_path(cls: type) -> str:
    """``module:QualName``, the form :func:`import_path` reads back."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_path(path: str, what: str) -> Any:
    """The object a ``module:QualName`` path names."""
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise InvalidInput(
            f"{what} needs {path}, which cannot be imported here ({error}); run it where "
            f"the module {module_name!r} is importable (installed, or on PYTHONPATH)"
        ) from None
    return target


def json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that are plain JSON values (finite numbers, text, lists, dicts)."""
    return {key: value for key, value in params.items() if _plain(value)}


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)  # PostgreSQL's JSON has no NaN
    if isinstance(value, list | tuple):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


def first_line(error: BaseException) -> str:
    """The first line of an error's message, short enough for ours."""
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
