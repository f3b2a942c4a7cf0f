"""Packages whose public names load from their modules on first use, so that importing
a package costs nothing until one of its names is asked for.

>>> getattr_, dir_, exported = lazy_exports("loopml", {"loopml.errors": ("NotFound",)})
>>> exported, getattr_("NotFound").__name__
(['NotFound'], 'NotFound')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, where: Mapping[str, Iterable[str]], eager: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """A package's ``__getattr__``, ``__dir__`` and ``__all__``, from the one list of its
    lazy names: ``where`` maps each module (one of the package, ``"_evaluate"``, or a
    full name, ``"loopml.pipeline._validation"``) to the names it gives. ``eager`` names
    what the package imports itself; ``__all__`` holds both."""
    module_of = {name: module for module, names in where.items() for name in names}
    exported = sorted({*module_of, *eager})

    def getattr_(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if "." in module else f"{package}.{module}"
        try:
            loaded = import_module(full)
        except ModuleNotFoundError as error:  # an optional dependency: say which extra
            from loopml._extras import needs_extra

            missing = None if error.name is None else needs_extra(error.name)
            if missing is None:
                raise
            raise ModuleNotFoundError(f"{package}.{name}: {missing}", name=error.name) from None
        return getattr(loaded, name)

    def dir_() -> list[str]:
        return list(exported)

    return getattr_, dir_, exported
