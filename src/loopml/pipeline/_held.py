"""What the user's modules hold after a run, checked against their source: the other
half of proving that a run's result depends on nothing but the files' bytes.

Reading the source (:mod:`loopml.pipeline._pure`) shows what runs at import; it cannot
show what an imported name holds (``from somelib import SETTINGS``, filled by the
library from the environment) nor what a step changed as it ran (``SEEN.append(x)``).
So after a run every global of every user module, every class attribute and every
default of the user's functions must be code (a module, class, function or step) or
equal, in type and value, to the literal its source spells; and no user module may
have been imported that the run's key does not hold.
"""

from __future__ import annotations

import ast
import builtins
import enum
import functools
import inspect
import os
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from loopml._usercode import is_user_file
from loopml.pipeline._pure import PURE_BUILTINS, Module, assignments

_SAFE_BUILTINS = {name[9:]: getattr(builtins, name[9:]) for name in PURE_BUILTINS}
_NOTHING = object()


def held_blocker(files: Iterable[str]) -> str | None:
    """Why what the user's modules hold now could differ in a run of the same files;
    None when nothing can."""
    wanted = {os.path.realpath(file) for file in files}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name == "__main__":  # __main__: the program, `loopml` itself
            continue
        real = os.path.realpath(file)
        if real not in wanted:
            if is_user_file(real):
                return f"{os.path.basename(real)} was imported, but no import statement names it"
            continue
        read = Module.read(real)
        if isinstance(read, str):
            return read
        why = _Holdings(read, module, wanted).blocker()
        if why is not None:
            return f"{os.path.basename(real)}: {why}"
    return None


class _Holdings:
    def __init__(self, source: Module, module: ModuleType, files: set[str]) -> None:
        self.source = source
        self.module = module
        self.files = files
        self.values = _literal_values(source, source.tree.body, {})

    def blocker(self) -> str | None:
        definitions = _definitions(self.source.tree.body)
        for name, value in vars(self.module).items():
            if name.startswith("__"):
                continue
            if _code(value):
                why = self.code_blocker(name, value, definitions.get(name))
            elif not (self.same_literal(name, value) or self.imported_literal(name, value)):
                why = f"{name} holds {_unspelled(value)}"
            else:
                why = None
            if why is not None:
                return why
        return None

    def same_literal(self, name: str, value: object) -> bool:
        known = name in self.source.constants and name in self.values
        return known and _same(value, self.values[name])

    def imported_literal(self, name: str, value: object) -> bool:
        owner = self.source.literal_owner(name, self.files)
        if owner is None:
            return False
        values = _literal_values(owner[0], owner[0].tree.body, {})
        return owner[1] in values and _same(value, values[owner[1]])

    def code_blocker(self, name: str, value: object, node: ast.stmt | None) -> str | None:
        """A function's defaults and annotations, a class's attributes: what they hold."""
        if getattr(value, "__module__", None) != self.module.__name__ or node is None:
            return None  # imported: its own module is checked
        if isinstance(node, ast.ClassDef) and isinstance(value, type):
            return self.class_blocker(value, node, dict(self.values))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return _function_blocker(self.source, _function(value), node, self.values)
        return None

    def class_blocker(self, cls: type, node: ast.ClassDef, env: dict[str, Any]) -> str | None:
        values = _literal_values(self.source, node.body, env)
        definitions = _definitions(node.body)
        for name, value in vars(cls).items():
            if name.startswith("__"):
                continue
            where = definitions.get(name)
            if isinstance(value, enum.Enum) and name in values:
                value = value.value  # `RED = 1` makes a member whose value is 1
            if isinstance(value, type) and isinstance(where, ast.ClassDef):
                why = self.class_blocker(value, where, {**env, **values})
            elif isinstance(where, ast.FunctionDef | ast.AsyncFunctionDef):
                why = _function_blocker(self.source, _function(value), where, {**env, **values})
            elif _code(value) or (name in values and _same(value, values[name])):
                why = None
            else:
                why = f"{cls.__name__}.{name} holds {_unspelled(value)}"
            if why is not None:
                return why
        return None


def _function_blocker(
    source: Module, func: object, node: ast.FunctionDef | ast.AsyncFunctionDef, env: dict[str, Any]
) -> str | None:
    if not callable(func) or not hasattr(func, "__defaults__"):
        return None
    args = node.args
    pairs = list(zip(args.defaults, getattr(func, "__defaults__", None) or (), strict=False))
    if len(pairs) != len(args.defaults):
        return f"the defaults of {node.name} are not those its source spells"
    live = getattr(func, "__kwdefaults__", None) or {}
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if default is not None:
            pairs.append((default, live.get(arg.arg, _NOTHING)))
    for expression, value in pairs:
        if _code(value):
            continue
        if not source.constant(expression) or not _same(value, _evaluate(source, expression, env)):
            return (
                f"a default of {node.name} holds a {type(value).__name__} its source does not spell"
            )
    for value in (getattr(func, "__annotations__", None) or {}).values():
        if not (value is None or isinstance(value, str) or _code(value)):
            return f"an annotation of {node.name} holds a {type(value).__name__}"
    return None


def _function(value: object) -> object:
    """The function under a step, a pipeline or a decorator such as ``lru_cache``."""
    for attribute in ("func", "fget", "__func__"):
        inner = getattr(value, attribute, None)
        if inner is not None and callable(inner):
            return _function(inner)
    wrapped = getattr(value, "__wrapped__", None)
    return _function(wrapped) if wrapped is not None else value


def _literal_values(source: Module, body: list[ast.stmt], env: dict[str, Any]) -> dict[str, Any]:
    """The values of the block's names bound once to literals, computed in order."""
    values = dict(env)
    counts: dict[str, int] = {}
    assigned = list(assignments(body))
    for name, _ in assigned:
        counts[name] = counts.get(name, 0) + 1
    for name, expression in assigned:
        if counts[name] != 1 or not source.constant(expression, frozenset(values)):
            continue
        value = _evaluate(source, expression, values)
        if value is not _NOTHING:
            values[name] = value
    return {name: value for name, value in values.items() if name not in env or counts.get(name)}


def _evaluate(source: Module, expression: ast.expr, env: dict[str, Any]) -> Any:
    """A literal expression's value: only literals, operators, the names in ``env`` and
    a few builtins on them can be in it (:meth:`Module.constant` checked)."""
    try:
        code = compile(ast.Expression(expression), source.file, "eval")
        return eval(code, {"__builtins__": _SAFE_BUILTINS}, dict(env))
    except Exception:  # a literal that raises (1 / 0): nothing to compare with
        return _NOTHING


def _unspelled(value: object) -> str:
    return f"a {type(value).__name__} its source does not spell"


def _same(live: object, expected: object) -> bool:
    return type(live) is type(expected) and repr(live) == repr(expected)


def _definitions(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    return {
        node.name: node
        for node in body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _code(value: object) -> bool:
    from loopml.pipeline._graph import Pipeline, Step

    kind = type(value)
    return (
        inspect.ismodule(value)
        or isinstance(value, type | Step | Pipeline | property | functools.cached_property)
        or inspect.isroutine(value)
        or kind.__module__ in ("typing", "typing_extensions", "__future__")
        or (kind.__module__ == "numpy" and kind.__name__ == "ufunc")
    )
