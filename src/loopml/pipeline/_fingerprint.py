"""A step's code fingerprint: all the user's code it can run, and the values it reads.

A step's cache key includes its code, so that an edit to what it runs re-runs it and
everything downstream, while a comment, a docstring or formatting does not. The key is
conservative by construction: an unneeded re-run is acceptable, a stale hit never is.

The function's source is parsed and dumped without positions or docstrings, and what
it reads is followed through its bytecode: the user's functions and classes (their
source, decorators included, and their methods, bases and class attributes), the
user's modules (the attributes the code uses), wrappers and ``functools.partial``
(what they wrap and hold), and the values it reads — constants, arrays, tables,
regexes, dataclasses, instances of the user's classes — written canonically
(:mod:`loopml.pipeline._values`). Which code is the user's is decided by where its
file lives, not by the pipeline's folder (:mod:`loopml._usercode`).

When this reading cannot prove it saw everything the step can run — a global it
cannot write as a value, a global assigned at run time, an import inside a function,
a name looked up by a string — the fingerprint also holds the digest of every user
file the step's code reaches through its imports (:mod:`loopml.pipeline._reach`), and
``unproven`` says why. Installed packages are left out: their versions are recorded
with each run's environment. A function without source (``exec``, a REPL) is read
from its bytecode, named ``<bytecode>module.name`` in the parts.

>>> LIMIT = 3
>>> def clip(x):
...     '''Docstrings and comments do not count.'''
...     return min(x, LIMIT)  # min is a builtin: left out
>>> fingerprint = code_fingerprint(clip)
>>> fingerprint.parts
('loopml.pipeline._fingerprint.LIMIT', 'loopml.pipeline._fingerprint.clip')
>>> fingerprint.unproven, len(fingerprint.digest)
((), 64)
"""

from __future__ import annotations

import builtins
import inspect
import os
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml._usercode import INSTALLED_FOLDERS, is_user_file, label
from loopml.errors import InvalidInput
from loopml.pipeline._names import BY_NAME, code_names
from loopml.pipeline._source import bytecode, source
from loopml.pipeline._values import Writer

# Attributes every class has, or that its own source already says.
CLASS_HOUSEKEEPING = frozenset(
    [
        "__module__",
        "__qualname__",
        "__doc__",
        "__dict__",
        "__weakref__",
        "__annotations__",
        "__slots__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__match_args__",
        "__orig_bases__",
        "__parameters__",
        "__abstractmethods__",
        "_abc_impl",
        "__firstlineno__",
        "__static_attributes__",
        "__hash__",
        "__type_params__",
    ]
)


@dataclass(frozen=True)
class Fingerprint:
    """What a step's code is, for the cache: the digest and what went into it."""

    digest: str
    parts: tuple[str, ...]
    source_file: str | None
    line: int | None
    files: tuple[str, ...] = ()  # real paths of the user's files it read (all reached, if unproven)
    unproven: tuple[str, ...] = ()  # why the reading is not known to be complete
    pieces: dict[str, str] = field(default_factory=dict)  # part or file -> its short digest


def code_fingerprint(
    func: Callable[..., Any],
    *,
    project_root: Path | None = None,
    uses: Iterable[str] = (),
) -> Fingerprint:
    """The fingerprint of ``func`` and of the user's code and values it reads.

    ``uses`` adds the classes and functions (``module:QualName``) the step runs through
    its inputs, those a pickled input names; ``?what`` for an input whose list is not
    known. ``project_root`` (by default the folder of the top-level package holding
    ``func``) only names the parts.
    """
    from loopml.artifacts import digest_bytes
    from loopml.pipeline._reach import reach

    target = _root_function(func)
    shown_fn = inspect.unwrap(target)
    code_file = getattr(getattr(shown_fn, "__code__", None), "co_filename", "")
    file = code_file if os.path.isfile(code_file) else None
    if project_root is not None:
        root: str | None = os.path.realpath(project_root)
    else:
        root = _default_root(target.__module__, file) if file else None
    walker = _Walker(target.__globals__)
    walker.function(target, target.__name__)
    for used in sorted(set(uses)):
        walker.input_code(used)
    parts = {_label(key, root): part for key, part in walker.parts.items()}
    reached: dict[str, str] = {}  # file or unresolved import -> digest, when unproven
    files = walker.files
    if walker.unproven:
        found = reach(sorted(walker.files))
        files = set(found.files)
        reached = {f"file {label(f, root)}": d for f, d in found.files.items()}
        reached |= {f"unresolved {name}": "" for name in found.unresolved}
    text = "".join(f"{key}\n{len(part)}\n{part}\n" for key, part in sorted(parts.items()))
    text += "".join(f"{key}\n{d}\n" for key, d in sorted(reached.items()))
    pieces = {key: digest_bytes(part.encode())[:16] for key, part in parts.items()}
    pieces |= {key: d[:16] for key, d in reached.items()}
    shown = source(shown_fn) if isinstance(shown_fn, types.FunctionType) else None
    line = shown.line if file and shown else None
    return Fingerprint(
        digest_bytes(text.encode()),
        tuple(sorted(parts)),
        file,
        line,
        tuple(sorted(files)),
        tuple(dict.fromkeys(walker.unproven)),
        dict(sorted(pieces.items())),
    )


def _root_function(func: Callable[..., Any]) -> types.FunctionType:
    target: object = func
    while not isinstance(target, types.FunctionType) and hasattr(target, "__wrapped__"):
        target = target.__wrapped__  # functools.lru_cache and the like: they keep results
    if not isinstance(target, types.FunctionType):
        raise InvalidInput(
            f"cannot fingerprint {func!r}: a step must be a Python function (def or lambda)"
        )
    return target


def _qualified(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{getattr(obj, '__module__', None) or '?'}.{name}"


def _label(key: str, root: str | None) -> str:
    """A part named by its file (``steps/text.py:clean``), not by its module name, which
    differs between `python pipelines.py` (``__main__``) and an import of the file."""
    prefix = "<bytecode>" if key.startswith("<bytecode>") else ""
    names = key[len(prefix) :].split(".")
    for cut in range(len(names) - 1, 0, -1):
        module = sys.modules.get(".".join(names[:cut]))
        file = getattr(module, "__file__", None)
        if file and is_user_file(file):
            where = label(file, root).removesuffix(".py")
            return f"{prefix}{where}:{'.'.join(names[cut:])}"
    return key


class _Walker:
    """One fingerprint's walk: the parts found, the files read, and what it cannot prove."""

    def __init__(self, home: dict[str, Any]) -> None:
        self.home = home  # code without a file (exec, REPL) is the user's if it lives here
        self.parts: dict[str, str] = {}
        self.files: set[str] = set()
        self.unproven: list[str] = []
        self.seen: set[int] = set()  # ids stay inside the walk, never in the digest
        self.seen_attributes: set[str] = set()
        self.writer = Writer(self.code)

    def function(self, fn: types.FunctionType, alias: str) -> None:
        if id(fn) in self.seen:
            return
        self.seen.add(id(fn))
        name = f"{fn.__module__}.{fn.__qualname__}"
        if "<" in fn.__qualname__:  # lambdas share a qualname: use the name they are under
            name = f"{fn.__module__}.{alias}"
        found = source(fn)
        key = name if found else f"<bytecode>{name}"
        while key in self.parts:  # lambdas found in one dict: numbered in the order found
            key += "'"
        self.parts[key] = (found.text if found else bytecode(fn.__code__)) + self._defaults(fn)
        self._file(fn.__code__.co_filename)
        self.follow(fn, name)

    def klass(self, cls: type) -> None:
        if id(cls) in self.seen:
            return
        self.seen.add(id(cls))
        name = f"{cls.__module__}.{cls.__qualname__}"
        methods = [m for m in _methods(cls) if self.is_project_code(m)]
        found = source(cls)
        if found is None:
            self.parts[f"<bytecode>{name}"] = "\n".join(bytecode(m.__code__) for m in methods)
        else:
            self.parts[name] = found.text
        self._file(getattr(sys.modules.get(cls.__module__), "__file__", None))
        for base in [*cls.__mro__[1:], type(cls)]:
            if self.is_project_class(base):
                self.klass(base)
        for method in methods:
            self.seen.add(id(method))
            self.follow(method, f"{name}.{method.__name__}")
        module = sys.modules.get(cls.__module__)
        scope = vars(module) if module is not None else {}
        for attr, member in sorted(vars(cls).items()):
            if attr not in CLASS_HOUSEKEEPING and not _is_method(member):
                self.value(f"{name}.{attr}", attr, member, frozenset())
        for decorator in found.decorators if found else ():
            if decorator in scope:
                self.value(f"{cls.__module__}.{decorator}", decorator, scope[decorator], set())

    def follow(self, fn: types.FunctionType, owner: str) -> None:
        names = code_names(fn.__code__)
        attributes = names.attributes | names.globals
        for name, value in sorted(_closure(fn).items()):
            self.value(f"{owner}.{name}", name, value, attributes)
        scope = fn.__globals__.get("__name__", "?")
        for name in sorted(names.globals):
            if name in fn.__globals__:
                self.value(f"{scope}.{name}", name, fn.__globals__[name], attributes)
            elif not hasattr(builtins, name):
                self.unprove(f"{owner} reads {name!r}, which is not defined when it is read")
        for name in sorted(names.writes):
            self.unprove(f"{owner} assigns the global {name!r} as it runs")
        for name in sorted(names.dynamic):
            self.unprove(f"{owner} reaches code or values by name ({name})")
        for module, level in names.imports:
            self._import(owner, module, level)
        if names.globals & BY_NAME and any(
            isinstance(fn.__globals__.get(n), types.ModuleType)
            and self.is_project_file(getattr(fn.__globals__[n], "__file__", None))
            for n in names.globals
        ):
            self.unprove(f"{owner} looks attributes up by name in a module of the project")

    def value(self, key: str, name: str, value: object, attributes: Iterable[str]) -> None:
        if isinstance(value, types.ModuleType):
            if self.is_project_file(getattr(value, "__file__", None)):
                self.module(value, attributes)
            return
        text = self.writer.write(value)
        if text is None:
            self.unprove(f"{key} is a {_kind(value)}, whose state cannot be read as a value")
        elif key != _qualified(value):  # not a function or class under its own name
            self.parts[key] = f"{name} = {text}"

    def module(self, module: types.ModuleType, attributes: Iterable[str]) -> None:
        # `import helpers` then `helpers.clean(x)`: "clean" is an attribute name.
        found = vars(module)
        for attr in sorted(attributes):
            key = f"{module.__name__}.{attr}"
            if attr in found and not attr.startswith("__") and key not in self.seen_attributes:
                self.seen_attributes.add(key)
                self.value(key, attr, found[attr], attributes)

    def code(self, obj: object) -> bool:
        """Called by the value writer for each function, class and module it meets:
        walks the project's own; True when ``obj`` is the project's."""
        if isinstance(obj, types.FunctionType):
            if self.is_project_code(obj):
                self.function(obj, obj.__name__)
                return True
            self._installed_function(obj)
        elif isinstance(obj, type) and self.is_project_class(obj):
            self.klass(obj)
            return True
        elif isinstance(obj, types.ModuleType) and self.is_project_file(
            obj.__dict__.get("__file__")
        ):
            self.unprove(f"the module {obj.__name__} is held in a value")
        return False

    def _installed_function(self, fn: types.FunctionType) -> None:
        """A library's wrapper (``@retry(3)`` over a project function): what it holds."""
        if id(fn) in self.seen:
            return
        self.seen.add(id(fn))
        held = [*_closure(fn).values(), *([fn.__wrapped__] if hasattr(fn, "__wrapped__") else [])]
        if held:
            key = f"<wraps>{fn.__module__}.{fn.__qualname__}"
            while key in self.parts:
                key += "'"
            text = self.writer.write(held)
            if text is None:
                self.unprove(f"{key[7:]} holds values that cannot be read")
            else:
                self.parts[key] = text

    def input_code(self, path: str) -> None:
        if path.startswith("?"):
            self.unprove(f"the input {path[1:]} does not say which of the user's code it names")
            return
        key = f"<input code>.{path}"
        found = _imported(path)
        if found is None:
            self.parts[key] = "cannot be imported"
        else:
            self.value(key, path, found, frozenset())

    def _import(self, owner: str, module: str, level: int) -> None:
        from loopml.pipeline._reach import _module_file

        file = _module_file(module) if not level else None
        if level or file is None or file.startswith("?") or is_user_file(file):
            shown = "." * level + module
            self.unprove(f"{owner} imports {shown} as it runs")

    def unprove(self, why: str) -> None:
        self.unproven.append(why)

    def _file(self, file: str | None) -> None:
        if file and is_user_file(file):
            self.files.add(os.path.realpath(file))

    def _defaults(self, fn: types.FunctionType) -> str:
        values = [*(fn.__defaults__ or ()), *sorted((fn.__kwdefaults__ or {}).items())]
        if not values:
            return ""
        text = self.writer.write(values)
        if text is None:
            self.unprove(f"a default of {fn.__qualname__} cannot be read as a value")
        return f"\ndefaults: {text}"

    def is_project_file(self, file: str | None) -> bool:
        return bool(file) and is_user_file(str(file))

    def is_project_code(self, fn: types.FunctionType) -> bool:
        file = fn.__code__.co_filename
        return self.is_project_file(file) if os.path.isfile(file) else fn.__globals__ is self.home

    def is_project_class(self, cls: type) -> bool:
        module = sys.modules.get(cls.__module__)
        file = getattr(module, "__file__", None)
        if module is None or file:
            return self.is_project_file(file)
        return vars(module) is self.home


def _imported(path: str) -> object | None:
    """The object a ``module:QualName`` path names, or None when it cannot be had."""
    import importlib

    module, _, qualname = path.partition(":")
    try:
        found: object = importlib.import_module(module)
        for name in qualname.split("."):
            found = getattr(found, name)
    except Exception:  # the user's module may fail in any way: the key says so instead
        return None
    return found


def _default_root(module: str, file: str) -> str:
    """The folder holding the top-level package of ``module`` (or its plain file)."""
    path = Path(os.path.realpath(file))
    depth = 0 if module == "__main__" else module.count(".") + (path.name == "__init__.py")
    top = path.parents[min(depth, len(path.parents) - 1)]
    if top.name in INSTALLED_FOLDERS:  # an installed project: only its own package
        return str(path.parents[depth - 1] if depth else path)
    return str(top)


def _kind(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _is_method(member: object) -> bool:
    return isinstance(member, types.FunctionType | staticmethod | classmethod | property)


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
        elif isinstance(member, staticmethod | classmethod):
            candidates = [member.__func__]
        else:
            candidates = [member]
        yield from (c for c in candidates if isinstance(c, types.FunctionType))
