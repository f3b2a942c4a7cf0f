"""A function's or class's code as the fingerprint reads it: canonical source, or bytecode.

The source is parsed and dumped without line numbers or docstrings, so comments,
docstrings and formatting leave it unchanged; decorators are kept, since they change
what a function does. Code without a source file (``exec``, a REPL) is read from its
bytecode instead.

>>> def double(x):
...     '''Docstrings do not count.'''
...     return 2 * x  # nor comments
>>> found = source(double)
>>> found.text.startswith("FunctionDef(name='double'")
True
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import sys
import textwrap
import tokenize
import types
from typing import NamedTuple

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class Source(NamedTuple):
    text: str  # the AST dump
    line: int  # of the def or class statement, after any decorators
    decorators: tuple[str, ...]  # the names its decorators start with


# (file, mtime, size, qualname, first line) -> Source: a file edited on disk gets a new
# key, so a reloaded module is never served stale source.
_sources: dict[tuple[str, int, int, str, int], Source | None] = {}


def source(obj: types.FunctionType | type) -> Source | None:
    """The canonical source of ``obj``, or None when it cannot be had."""
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


def _parse(obj: types.FunctionType | type) -> Source | None:
    try:
        lines, start = _lines(obj)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, ValueError, IndexError, tokenize.TokenError):
        return None  # read from the bytecode instead
    node: ast.AST = tree  # a lambda: the statement it is in
    line = start
    decorators: tuple[str, ...] = ()
    if tree.body and isinstance(tree.body[0], DEFINITIONS):
        node = tree.body[0]
        line = start + node.lineno - 1
        decorators = tuple(_first_name(d) for d in node.decorator_list)
    for child in ast.walk(node):
        first = child.body[0] if isinstance(child, DEFINITIONS) and child.body else None
        if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
            child.body = child.body[1:]  # type: ignore[attr-defined]
    return Source(ast.dump(node), line, tuple(d for d in decorators if d))


def _lines(obj: types.FunctionType | type) -> tuple[list[str], int]:
    """The source lines of ``obj`` and the number of the first. A function's are read
    from its own code object: ``inspect.getsourcelines`` would follow
    ``functools.wraps`` to the function a decorator wraps (and search every loaded
    module to find the file)."""
    code = getattr(obj, "__code__", None)
    if code is None:
        return inspect.getsourcelines(obj)
    linecache.checkcache(code.co_filename)  # an edited file is read again
    lines = linecache.getlines(code.co_filename)
    if not lines:
        raise OSError(f"no source for {code.co_filename}")
    first = code.co_firstlineno  # the first decorator's line, for a decorated function
    return inspect.getblock(lines[first - 1 :]), first


def _first_name(decorator: ast.expr) -> str:
    """``helpers.register("x")`` -> ``helpers``: the global a decorator starts from."""
    while isinstance(decorator, ast.Call | ast.Attribute | ast.Subscript):
        decorator = decorator.func if isinstance(decorator, ast.Call) else decorator.value
    return decorator.id if isinstance(decorator, ast.Name) else ""


def bytecode(code: types.CodeType) -> str:
    """A code object's instructions, names and constants, the same in every process."""
    consts = ", ".join(_constant(c) for c in code.co_consts)
    names = f"{code.co_name}{code.co_varnames} {code.co_names} {code.co_freevars}"
    return f"{names} {code.co_code.hex()} [{consts}]"


def _constant(value: object) -> str:
    if isinstance(value, types.CodeType):
        return bytecode(value)
    if isinstance(value, tuple):
        return f"({', '.join(_constant(v) for v in value)})"
    if isinstance(value, frozenset):  # set order differs between processes
        return f"frozenset({sorted(_constant(v) for v in value)})"
    return repr(value)
