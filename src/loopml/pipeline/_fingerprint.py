"""A step's code fingerprint: its code and the project code it calls, canonical.

A step's cache key includes its code, so changing a preprocessing function re-runs it
and everything downstream, while a comment, a docstring or formatting does not. The
function's source is parsed and dumped without positions, docstrings or decorators;
what it references is then followed, recursively: project functions and classes
(their source), project modules (the attributes the code uses), and constants of
simple types (their canonical repr). Code from outside the project (the standard
library, site-packages, builtins) is left out: package versions are recorded with the
run's environment. A function without source (``exec``, a REPL) falls back to its
bytecode, named ``<bytecode>module.name`` in the parts.

>>> LIMIT = 3
>>> def clip(x):
...     '''Docstrings, comments and decorators do not count.'''
...     return min(x, LIMIT)  # min is a builtin: left out
>>> fingerprint = code_fingerprint(clip)
>>> fingerprint.parts
('loopml.pipeline._fingerprint.LIMIT', 'loopml.pipeline._fingerprint.clip')
>>> len(fingerprint.digest)
64
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput

MAX_CONSTANT_REPR = 10_000
SIMPLE_TYPES = (int, float, complex, str, bytes, bool, type(None))
CONTAINER_TYPES = (tuple, list, set, frozenset)
FUNCTION_TYPES = (types.FunctionType, type)
INSTALLED_FOLDERS = ("site-packages", "dist-packages")
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# (file, mtime, size, qualname, first line) -> (normalized source, def line): a file
# edited on disk gets a new key, so a reloaded module is never served stale source.
_sources: dict[tuple[str, int, int, str, int], tuple[str, int] | None] = {}


@dataclass(frozen=True)
class Fingerprint:
    """What a step's code is, for the cache: the digest and what went into it."""

    digest: str
    parts: tuple[str, ...]
    source_file: str | None
    line: int | None


def code_fingerprint(func: Callable[..., Any], *, project_root: Path | None = None) -> Fingerprint:
    """The fingerprint of ``func``'s code and of the project code it references.

    ``project_root`` defaults to the folder of the top-level package holding ``func``
    (the folder of its file for a plain module).
    """
    from loopml.artifacts import digest_bytes

    target = _unwrap(func)
    if not isinstance(target, types.FunctionType):
        raise InvalidInput(
            f"cannot fingerprint {func!r}: a step must be a Python function (def or lambda)"
        )
    file = target.__code__.co_filename if os.path.isfile(target.__code__.co_filename) else None
    if project_root is not None:
        root: str | None = os.path.realpath(project_root)
    else:
        root = _default_root(target.__module__, file) if file else None
    walker = _Walker(root, target.__globals__)
    walker.function(target, target.__name__)
    parts = {_label(key, root): part for key, part in walker.parts.items()}
    text = "".join(f"{key}\n{len(part)}\n{part}\n" for key, part in sorted(parts.items()))
    source = _source(target)
    line = source[1] if file and source else None
    return Fingerprint(digest_bytes(text.encode()), tuple(sorted(parts)), file, line)


def _label(key: str, root: str | None) -> str:
    """A part named by its file under the project root (``steps/text:clean``), not by
    its module name, which differs between `python pipelines.py` (``__main__``) and an
    import of the same file."""
    prefix = "<bytecode>" if key.startswith("<bytecode>") else ""
    names = key[len(prefix) :].split(".")
    for cut in range(len(names) - 1, 0, -1):
        module = sys.modules.get(".".join(names[:cut]))
        file = getattr(module, "__file__", None)
        if file and root and _in_project(file, root):
            relative = Path(os.path.realpath(file)).relative_to(root).with_suffix("")
            return f"{prefix}{relative.as_posix()}:{'.'.join(names[cut:])}"
    return key


class _Walker:
    """One fingerprint's walk: the parts found so far, and what was already visited."""

    def __init__(self, root: str | None, home: dict[str, Any]) -> None:
        self.root = root
        self.home = home  # code without a file (exec, REPL) is project code if it lives here
        self.parts: dict[str, str] = {}
        self.seen: set[int] = set()  # ids stay inside the walk, never in the digest
        self.seen_attributes: set[str] = set()

    def function(self, fn: types.FunctionType, alias: str) -> None:
        if id(fn) in self.seen:
            return
        self.seen.add(id(fn))
        name = f"{fn.__module__}.{fn.__qualname__}"
        if "<" in fn.__qualname__:  # lambdas share a qualname: use the name they are under
            name = f"{fn.__module__}.{alias}"
        source = _source(fn)
        key = name if source else f"<bytecode>{name}"
        while key in self.parts:  # lambdas found in one dict: numbered in the order found
            key += "'"
        self.parts[key] = (source[0] if source else _bytecode(fn.__code__)) + _defaults(fn)
        self.follow(fn, name)

    def klass(self, cls: type) -> None:
        if id(cls) in self.seen:
            return
        self.seen.add(id(cls))
        name = f"{cls.__module__}.{cls.__qualname__}"
        methods = [m for m in _methods(cls) if self.is_project_code(m)]
        source = _source(cls)
        if source is None:
            self.parts[f"<bytecode>{name}"] = "\n".join(_bytecode(m.__code__) for m in methods)
        else:
            self.parts[name] = source[0]
        for base in cls.__mro__[1:]:
            if self.is_project_class(base):
                self.klass(base)
        for method in methods:
            self.seen.add(id(method))
            self.follow(method, f"{name}.{method.__name__}")

    def follow(self, fn: types.FunctionType, owner: str) -> None:
        names = sorted({name for code in _codes(fn.__code__) for name in code.co_names})
        for name, value in sorted(_closure(fn).items()):
            self.value(f"{owner}.{name}", name, value, names)
        scope = fn.__globals__.get("__name__", "?")
        for name in names:
            if name in fn.__globals__ and not name.startswith("__"):
                self.value(f"{scope}.{name}", name, fn.__globals__[name], names)

    def value(self, key: str, name: str, value: object, names: list[str]) -> None:
        if isinstance(value, types.ModuleType):
            if self.is_project_file(getattr(value, "__file__", None)):
                self.module(value, names)
            return
        references: list[object] = []
        constant = _constant(value, references)
        if constant is not None:
            self.parts[key] = f"{name} = {constant}"
        for target in [_unwrap(value)] if constant is None else references:
            if isinstance(target, types.FunctionType) and self.is_project_code(target):
                self.function(target, name)
            elif isinstance(target, type) and self.is_project_class(target):
                self.klass(target)

    def module(self, module: types.ModuleType, names: list[str]) -> None:
        # `import helpers` then `helpers.clean(x)`: "clean" is in co_names too.
        attributes = vars(module)
        for attr in names:
            key = f"{module.__name__}.{attr}"
            if attr in attributes and not attr.startswith("__") and key not in self.seen_attributes:
                self.seen_attributes.add(key)
                self.value(key, attr, attributes[attr], names)

    def is_project_file(self, file: str | None) -> bool:
        return bool(file and self.root and _in_project(file, self.root))

    def is_project_code(self, fn: types.FunctionType) -> bool:
        file = fn.__code__.co_filename
        return self.is_project_file(file) if os.path.isfile(file) else fn.__globals__ is self.home

    def is_project_class(self, cls: type) -> bool:
        module = sys.modules.get(cls.__module__)
        file = getattr(module, "__file__", None)
        if module is None or file:
            return self.is_project_file(file)
        return vars(module) is self.home


def _default_root(module: str, file: str) -> str:
    """The folder holding the top-level package of ``module`` (or its plain file)."""
    path = Path(os.path.realpath(file))
    depth = 0 if module == "__main__" else module.count(".") + (path.name == "__init__.py")
    top = path.parents[min(depth, len(path.parents) - 1)]
    if top.name in INSTALLED_FOLDERS:  # an installed project: only its own package
        return str(path.parents[depth - 1] if depth else path)
    return str(top)


@functools.lru_cache(maxsize=8192)
def _in_project(file: str, root: str) -> bool:
    if not os.path.isfile(file):
        return False
    path = Path(os.path.realpath(file))
    if not path.is_relative_to(root):
        return False
    below = path.parts[len(Path(root).parts) :]
    if any(part in INSTALLED_FOLDERS for part in below):
        return False
    return not any(
        path.is_relative_to(lib) and not Path(root).is_relative_to(lib) for lib in _stdlib()
    )


@functools.cache
def _stdlib() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple(sorted({os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib")}))


def _source(obj: types.FunctionType | type) -> tuple[str, int] | None:
    """(normalized source, line of the def), or None when the source cannot be had."""
    code: types.CodeType | None = getattr(obj, "__code__", None)
    file = code.co_filename if code else getattr(sys.modules.get(obj.__module__), "__file__", "")
    try:
        stat = os.stat(file or "")
    except OSError:
        return _parse(obj)  # exec, doctest, notebook: nothing to key on, cheap to redo
    line = code.co_firstlineno if code else 0
    key = (str(file), stat.st_mtime_ns, stat.st_size, obj.__qualname__, line)
    if key not in _sources:
        _sources[key] = _parse(obj)
    return _sources[key]


def _parse(obj: types.FunctionType | type) -> tuple[str, int] | None:
    import textwrap

    try:
        lines, start = inspect.getsourcelines(obj)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, ValueError):
        return None
    node: ast.AST = tree  # a lambda: the statement it is in
    line = start
    if tree.body and isinstance(tree.body[0], DEFINITIONS):
        node = tree.body[0]
        line = start + node.lineno - 1  # the def, after any decorators
        if not isinstance(node, ast.ClassDef):  # a class decorator (@dataclass) is behaviour
            node.decorator_list = []
    for child in ast.walk(node):
        first = child.body[0] if isinstance(child, DEFINITIONS) and child.body else None
        if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
            child.body = child.body[1:]  # type: ignore[attr-defined]
    return ast.dump(node), line


def _bytecode(code: types.CodeType) -> str:
    consts = [
        _bytecode(c) if isinstance(c, types.CodeType) else (_constant(c) or type(c).__name__)
        for c in code.co_consts
    ]
    names = f"{code.co_name}{code.co_varnames} {code.co_names}"
    return f"{names} {code.co_code.hex()} [{', '.join(consts)}]"


def _defaults(fn: types.FunctionType) -> str:
    values = [*(fn.__defaults__ or ()), *sorted((fn.__kwdefaults__ or {}).items())]
    return f"\ndefaults: {', '.join(_constant(v) or '?' for v in values)}" if values else ""


def _constant(value: object, references: list[object] | None = None) -> str | None:
    """A canonical repr of a simple value (sets sorted), or None for anything else.

    With ``references``, functions and classes inside containers (a dispatch table)
    are written as their names and collected there, to be followed.
    """
    budget = [MAX_CONSTANT_REPR]
    text = _canonical(value, budget, 0, references)
    return text if text is not None and budget[0] >= 0 else None


def _canonical(
    value: object, budget: list[int], depth: int, refs: list[object] | None
) -> str | None:
    if budget[0] < 0 or depth > 8:  # too big, or a container holding itself
        return None
    kind = type(value)  # exact types only: a subclass may have any repr
    if kind in SIMPLE_TYPES:
        text = repr(value)
        budget[0] -= len(text)
        return text
    if isinstance(value, dict) and kind is dict:
        pairs = [
            (_canonical(k, budget, depth + 1, refs), _canonical(v, budget, depth + 1, refs))
            for k, v in value.items()
        ]
        items = [None if None in pair else f"{pair[0]}: {pair[1]}" for pair in pairs]
    elif isinstance(value, tuple | list | set | frozenset) and kind in CONTAINER_TYPES:
        items = [_canonical(item, budget, depth + 1, refs) for item in value]
    elif refs is not None and depth and isinstance(target := _unwrap(value), FUNCTION_TYPES):
        refs.append(target)
        return f"<{target.__module__}.{target.__qualname__}>"
    else:
        return None
    texts = [item for item in items if item is not None]
    if len(texts) < len(items):
        return None
    if kind in (set, frozenset):
        texts.sort()  # set order differs between processes: string hashes are salted
    budget[0] -= 2
    return f"{kind.__name__}[{', '.join(texts)}]"


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    """The code object and those nested in it: lambdas, inner functions, comprehensions."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _closure(fn: types.FunctionType) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
    return values


def _methods(cls: type) -> Iterator[types.FunctionType]:
    for member in (vars(cls)[name] for name in sorted(vars(cls))):
        candidates: list[object]
        if isinstance(member, property):
            candidates = [member.fget, member.fset, member.fdel]
        else:
            candidates = [_unwrap(member)]
        yield from (c for c in candidates if isinstance(c, types.FunctionType))


def _unwrap(value: object) -> object:
    if isinstance(value, staticmethod | classmethod | types.MethodType):
        value = value.__func__
    if isinstance(value, type | types.ModuleType):
        return value
    try:
        return inspect.unwrap(value)  # type: ignore[arg-type]
    except Exception:  # a proxy whose __wrapped__ never ends
        return value
