"""Packages whose public names load from their modules on first use, so that importing
a package costs nothing until one of its names is asked for."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, where: Mapping[str, str], exported: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``. ``where`` maps each name to the
    module it lives in: a module of the package (``"_evaluate"``) or a full name
    (``"loopml.pipeline._validation"``)."""

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if "." in module else f"{package}.{module}"
        return getattr(import_module(full), name)

    def dir_() -> list[str]:
        return sorted(exported)

    return getattr_, dir_
