"""What a function's bytecode reads: globals, attributes, imports, and what it writes.

The fingerprint follows the globals a function reads to the project code and values
behind them. The bytecode tells them apart from attribute names (``helpers.clean``
reads the global ``helpers`` and the attribute ``clean``), and shows what a static
reading cannot follow: a global assigned at run time, an import inside a function, a
name looked up by a string (``globals()``, ``getattr`` on a module, ``eval``).

>>> def scale(x):
...     import json
...     return json.dumps(helpers.clean(x)) * FACTOR
>>> names = code_names(scale.__code__)
>>> sorted(names.globals), sorted(names.attributes), names.imports
(['FACTOR', 'helpers'], ['clean', 'dumps'], (('json', 0),))
"""

from __future__ import annotations

import dis
import functools
import types
from collections.abc import Iterator
from dataclasses import dataclass

# Builtins that reach code or values by a name held in a string: a static reading
# cannot tell what they touch.
DYNAMIC = frozenset({"eval", "exec", "compile", "globals", "locals", "vars", "__import__"})
BY_NAME = frozenset({"getattr", "setattr", "delattr", "hasattr"})
IMPORTERS = frozenset({"import_module", "__import__", "run_path", "run_module"})

_READ_GLOBAL = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_WRITE_GLOBAL = frozenset({"STORE_GLOBAL", "DELETE_GLOBAL"})
_ATTRIBUTE = frozenset(
    {"LOAD_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR", "IMPORT_FROM", "STORE_ATTR", "DELETE_ATTR"}
)


@dataclass(frozen=True)
class CodeNames:
    globals: frozenset[str]
    attributes: frozenset[str]
    imports: tuple[tuple[str, int], ...]  # (module, level) of each import statement
    writes: frozenset[str]  # globals assigned or deleted

    @property
    def dynamic(self) -> frozenset[str]:
        return (self.globals & DYNAMIC) | (self.attributes & IMPORTERS)


def code_names(code: types.CodeType) -> CodeNames:
    """The names ``code`` and the code nested in it (lambdas, comprehensions, inner
    functions) read and write."""
    found = [_one(each) for each in _codes(code)]
    return CodeNames(
        frozenset().union(*(f.globals for f in found)),
        frozenset().union(*(f.attributes for f in found)),
        tuple(dict.fromkeys(i for f in found for i in f.imports)),
        frozenset().union(*(f.writes for f in found)),
    )


@functools.lru_cache(maxsize=16384)
def _one(code: types.CodeType) -> CodeNames:
    read: set[str] = set()
    attributes: set[str] = set()
    imports: list[tuple[str, int]] = []
    writes: set[str] = set()
    constants: list[object] = []
    for instruction in dis.get_instructions(code):
        name = instruction.opname
        if name == "LOAD_CONST":
            constants.append(instruction.argval)
        elif name in _READ_GLOBAL:
            read.add(instruction.argval)
        elif name in _WRITE_GLOBAL:
            writes.add(instruction.argval)
        elif name in _ATTRIBUTE:
            attributes.add(instruction.argval)
        elif name == "IMPORT_NAME":
            level = constants[-2] if len(constants) >= 2 else 0
            imports.append((instruction.argval, level if isinstance(level, int) else 0))
    return CodeNames(frozenset(read), frozenset(attributes), tuple(imports), frozenset(writes))


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)
