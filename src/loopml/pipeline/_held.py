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

MAX_DEPTH = 4  # how deep classes and closures are followed
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
            if is_user_file(real) or not os.path.exists(real):  # gone: whose was it?
                return f"{os.path.basename(real)} was imported, but no import statement names it"
            continue
        read = Module.read(real)
        if isinstance(read, str):
            return read
        why = _Holdings(read, module, wanted).blocker()
        if why is not None:
            return f"{os.path.basename(real)}: {why}"
    return None


def state_of(files: Iterable[str]) -> dict[str, str]:
    """What each of the user's modules among ``files`` holds, by module: which object
    each name holds, each function's code, defaults and closure, each class's
    attributes, and the contents of every other value. Taken before the steps run and
    after, it says whether a step changed what a later step's key reads. (A module
    first imported while the steps ran is judged by :func:`held_blocker` alone.)"""
    wanted = {os.path.realpath(file) for file in files}
    found = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name == "__main__" or not file or os.path.realpath(file) not in wanted:
            continue
        found[name] = "\n".join(
            f"{key} {_state(value, 0)}"
            for key, value in vars(module).items()
            if not key.startswith("__")  # __builtins__ and the like: Python's own
        )
    return found


def _state(value: object, depth: int) -> str:
    try:
        return _state_of(value, depth)
    except Exception:  # an object whose attributes raise: its identity alone
        return f"{type(value).__qualname__}#{id(value)} ?"


def _state_of(value: object, depth: int) -> str:
    held = f"{type(value).__qualname__}#{id(value)}"
    if inspect.ismodule(value) or depth > MAX_DEPTH:
        return held
    if isinstance(value, type):
        inner = ", ".join(f"{k}={_state(v, depth + 1)}" for k, v in vars(value).items())
        return f"{held}{{{inner}}}"
    function = _function(value)
    if inspect.isfunction(function):
        cells = [_state(_cell(c), depth + 1) for c in function.__closure__ or ()]
        return (
            f"{held} code#{id(function.__code__)} {_repr(function.__defaults__)} "
            f"{_repr(function.__kwdefaults__)} cells[{', '.join(cells)}]"
        )
    return held if _code(value) else f"{held} {_repr(value)}"


def _cell(cell: Any) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a value that cannot say what it holds: its identity only
        return "?"


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

    def spelled(self, name: str) -> str | None:
        """The last part of what the source binds ``name`` to: ``sum`` for
        ``from numpy import sum as total``, ``join`` for ``JOIN = os.path.join``."""
        origin = self.source.imports.get(name)
        if origin is not None:
            return origin.rpartition(".")[2]
        bound = dict(assignments(self.source.tree.body)).get(name)
        if isinstance(bound, ast.Attribute):
            return bound.attr
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
        if getattr(value, "__module__", None) != self.module.__name__:
            return _installed_blocker(name, value, self.spelled(name))
        lambdas = _lambdas(self.source.tree.body)
        if name in lambdas:
            return _function_blocker(self.source, value, name, lambdas[name], self.values)
        if node is None:
            return None
        if _renamed(value, name):
            return f"{name} holds another function or class than the one its source defines"
        if isinstance(node, ast.ClassDef) and isinstance(value, type):
            return self.class_blocker(value, node, dict(self.values))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return _function_blocker(self.source, _function(value), name, node.args, self.values)
        return None

    def class_blocker(self, cls: type, node: ast.ClassDef, env: dict[str, Any]) -> str | None:
        values = _literal_values(self.source, node.body, env)
        definitions = _definitions(node.body)
        lambdas = _lambdas(node.body)
        members = isinstance(cls, enum.EnumMeta)
        for name, value in vars(cls).items():
            if name.startswith("__") or (members and name.startswith("_") and name.endswith("_")):
                continue  # enum's own _sunder_ names
            if name in lambdas:
                why = _function_blocker(self.source, value, name, lambdas[name], env)
                if why is not None:
                    return why
                continue
            where = definitions.get(name)
            if isinstance(value, enum.Enum) and name in values:
                value = value.value  # `RED = 1` makes a member whose value is 1
            if isinstance(where, ast.FunctionDef | ast.ClassDef) and _renamed(
                value, f"{cls.__qualname__}.{name}"
            ):
                why = f"{cls.__name__}.{name} holds a {type(value).__name__} defined elsewhere"
            elif isinstance(value, type) and isinstance(where, ast.ClassDef):
                why = self.class_blocker(value, where, {**env, **values})
            elif isinstance(where, ast.FunctionDef | ast.AsyncFunctionDef):
                scope = {**env, **values}
                why = _function_blocker(self.source, _function(value), name, where.args, scope)
            elif _code(value) or (name in values and _same(value, values[name])):
                why = None
            else:
                why = f"{cls.__name__}.{name} holds {_unspelled(value)}"
            if why is not None:
                return why
        return None


def _installed_blocker(name: str, value: object, spelled: str | None) -> str | None:
    """An installed function a user's global holds must be the one its library names
    as the source spells it: not one the library picked at its import
    (``pick = _fast if ... else _slow``), whose choice the run's key would not see."""
    if not inspect.isfunction(value) or is_user_file(value.__code__.co_filename):
        return None
    if spelled is not None and value.__name__ != spelled:
        return f"{name} holds {value.__qualname__}, which its library names otherwise"
    return None


def _function_blocker(
    source: Module, func: object, name: str, args: ast.arguments, env: dict[str, Any]
) -> str | None:
    if not callable(func) or not hasattr(func, "__defaults__"):
        return None
    pairs = list(zip(args.defaults, getattr(func, "__defaults__", None) or (), strict=False))
    if len(pairs) != len(args.defaults):
        return f"the defaults of {name} are not those its source spells"
    live = getattr(func, "__kwdefaults__", None) or {}
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if default is not None:
            pairs.append((default, live.get(arg.arg, _NOTHING)))
    for expression, value in pairs:
        if _code(value):
            continue
        if not source.constant(expression) or not _same(value, _evaluate(source, expression, env)):
            return f"a default of {name} holds {_unspelled(value)}"
    for value in (getattr(func, "__annotations__", None) or {}).values():
        if not (value is None or isinstance(value, str) or _code(value)):
            return f"an annotation of {name} holds a {type(value).__name__}"
    return None


def _renamed(value: object, qualname: str) -> bool:
    """Whether a function or class held under a name its source defines is another
    one (a step re-pointed ``helpers.double = helpers.triple``)."""
    inner = _function(value)
    held = getattr(inner, "__qualname__", None)
    return (inspect.isfunction(inner) or isinstance(inner, type)) and held != qualname


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


def _lambdas(body: list[ast.stmt]) -> dict[str, ast.arguments]:
    return {name: value.args for name, value in assignments(body) if isinstance(value, ast.Lambda)}


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
