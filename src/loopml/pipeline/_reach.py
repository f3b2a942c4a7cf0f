"""The user's files a module reaches through its imports, found without running them.

When the function-level reading of a step cannot prove it saw all the code the step
runs, its key falls back to the digests of every user file its module reaches: each
``import`` and ``from ... import`` statement anywhere in the file (inside functions
and ``if`` blocks too), resolved the way Python would resolve it but without importing
anything, followed through every user file found. Installed code stops the walk (see
:mod:`loopml._usercode`). A name that resolves to nothing is kept as such, so
that it appearing later changes the key too.

An import by name counts as an import statement when the name is written out
(``importlib.import_module("helpers.dyn")``, ``__import__("helpers.dyn",
fromlist=["f"])``, ``runpy.run_module("tool")``). When the name is computed as the code
runs, or code is run from text (``exec``, ``eval``, ``compile``), any module can be
reached: every user file on ``sys.path`` is (dot-folders left out).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "flow.py").write_text("import json\\nfrom . import helpers\\n")
>>> _ = (folder / "helpers.py").write_text("def clean(x):\\n    return x\\n")
>>> sorted(pathlib.Path(f).name for f in reach([str(folder / "flow.py")]).files)
['flow.py', 'helpers.py']
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from loopml._usercode import is_user_file, is_user_folder
from loopml.artifacts import digest_bytes

_SOURCE_SUFFIXES = (".py", ".pyw")
_ANY_MODULE = "*"  # in an import list: a name computed as the code runs
_BY_NAME = frozenset({"import_module", "__import__", "run_module", "run_path"})
_FROM_TEXT = frozenset({"exec", "eval", "compile"})


@dataclass(frozen=True)
class Reach:
    files: dict[str, str]  # real path -> blake3 digest of its bytes
    unresolved: tuple[str, ...]  # imported names no file was found for


def reach(roots: Iterable[str]) -> Reach:
    """The user files ``roots`` reach through their imports, with their digests."""
    files: dict[str, str] = {}
    unresolved: set[str] = set()
    todo = [os.path.realpath(root) for root in roots if is_user_file(root)]
    while todo:
        file = todo.pop()
        if file in files:
            continue
        stat = os.stat(file)
        files[file] = _digest(file, stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if not file.endswith(_SOURCE_SUFFIXES):
            continue  # an extension module built in the project: its bytes are its code
        for found in _imported_files(file, stat.st_mtime_ns, stat.st_size):
            if found == _ANY_MODULE:
                todo.extend(f for f in _files_on_path() if f not in files)
            elif found.startswith("?"):
                unresolved.add(found[1:])
            elif found not in files and is_user_file(found):
                todo.append(found)
    return Reach(dict(sorted(files.items())), tuple(sorted(unresolved)))


@functools.lru_cache(maxsize=4096)
def _digest(file: str, mtime_ns: int, size: int, inode: int) -> str:
    with open(file, "rb") as code:
        return digest_bytes(code.read())


@functools.lru_cache(maxsize=4096)
def _imported_files(file: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Every file ``file``'s import statements name; ``?name`` for one not found."""
    try:
        with open(file, "rb") as source:
            tree = ast.parse(source.read(), filename=file)
    except (OSError, SyntaxError, ValueError):
        return ()  # its bytes are in the key: an edit that fixes it changes the key
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.extend(_absolute(alias.name))
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names if alias.name != "*"]
            if node.level:
                found.extend(_relative(file, node.level, node.module, names))
            elif node.module:
                found.extend(_absolute(node.module, names))
        elif isinstance(node, ast.Call):
            found.extend(_by_name(node))
    return tuple(dict.fromkeys(found))


def _by_name(call: ast.Call) -> Iterator[str]:
    """The files a call that imports or runs code by name may reach: the module's when
    its name is written out, any module's (``*``) when it is not."""
    func = call.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if called in _FROM_TEXT and isinstance(func, ast.Name):  # the builtins, not re.compile
        yield _ANY_MODULE
    if called not in _BY_NAME:
        return
    name = _text(call.args[0]) if call.args else None
    # __import__(name, globals, locals, fromlist, level): a level makes it relative
    relative = any(k.arg == "level" for k in call.keywords) or len(call.args) > 4
    if name is None or name.startswith(".") or relative:
        yield _ANY_MODULE
    elif called == "run_path":
        yield os.path.realpath(name) if os.path.isfile(name) else f"?{name}"
    else:
        fromlist = next((k.value for k in call.keywords if k.arg == "fromlist"), None)
        if fromlist is None and len(call.args) == 4:
            fromlist = call.args[3]
        names = [_text(item) for item in getattr(fromlist, "elts", ())]
        yield from _absolute(name, [n for n in names if n])


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _files_on_path() -> Iterator[str]:
    """Every user source file under the ``sys.path`` folders that are the user's."""
    for entry in dict.fromkeys(os.path.realpath(e or os.getcwd()) for e in sys.path):
        if not os.path.isdir(entry) or not is_user_folder(entry):
            continue
        for folder, folders, names in os.walk(entry):
            folders[:] = [
                f
                for f in folders
                if not f.startswith(".")
                and f != "__pycache__"
                and is_user_folder(os.path.join(folder, f))
            ]
            for name in names:
                path = os.path.join(folder, name)
                if name.endswith(_SOURCE_SUFFIXES) and is_user_file(path):
                    yield os.path.realpath(path)


def _absolute(module: str, names: Iterable[str] = ()) -> Iterator[str]:
    """The files of ``module``, its parent packages and any submodules among ``names``."""
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        yield _module_file(".".join(parts[:depth]))
    for name in names:
        submodule = _module_file(f"{module}.{name}", missing_ok=True)
        if submodule:
            yield submodule


def module_file(dotted: str, *, relative_to: str) -> str:
    """The file module ``dotted`` (``helpers``, ``pkg.steps``, or relative to the file
    ``relative_to``: ``.steps``) would be imported from, found without importing it;
    ``?name`` or "" when nothing is found."""
    level = len(dotted) - len(dotted.lstrip("."))
    if not level:
        return _module_file(dotted)
    folder = os.path.dirname(relative_to)
    for _ in range(level - 1):
        folder = os.path.dirname(folder)
    found = os.path.join(folder, "__init__.py")
    for part in dotted[level:].split(".") if dotted[level:] else []:
        inside = _in_folder(folder, part)
        if inside is None:
            return f"?{dotted}"
        found, folder = inside, os.path.join(folder, part)
    return found if os.path.isfile(found) else f"?{dotted}"


def _relative(file: str, level: int, module: str | None, names: list[str]) -> Iterator[str]:
    """``from .module import names`` in ``file``, resolved on the folders themselves."""
    base = os.path.dirname(file)
    for _ in range(level - 1):
        base = os.path.dirname(base)
    folder = base
    if os.path.isfile(os.path.join(folder, "__init__.py")):
        yield os.path.join(folder, "__init__.py")
    for part in (module or "").split(".") if module else []:
        found = _in_folder(folder, part)
        if found is None:
            yield f"?{'.' * level}{module}"
            return
        yield found
        folder = os.path.join(folder, part)
    for name in names:
        found = _in_folder(folder, name)
        if found is not None:
            yield found


def _in_folder(folder: str, name: str) -> str | None:
    package = os.path.join(folder, name, "__init__.py")
    if os.path.isfile(package):
        return package
    for suffix in importlib.machinery.all_suffixes():
        candidate = os.path.join(folder, name + suffix)
        if os.path.isfile(candidate):
            return candidate
    return None


def _module_file(name: str, *, missing_ok: bool = False) -> str:
    """The file ``name`` would be imported from, found without importing it; ``?name``
    when nothing is found (or "" with ``missing_ok``)."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return getattr(loaded, "__file__", None) or ""
    try:
        spec = _find_spec(name)
    except (ImportError, ValueError, AttributeError, TypeError):  # TypeError: a __path__
        spec = None  # that a module's own __getattr__ made up
    if spec is None:
        return "" if missing_ok else f"?{name}"
    return spec.origin if spec.has_location and spec.origin else ""


def _find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    parent, _, _ = name.rpartition(".")
    if not parent:
        return importlib.util.find_spec(name)  # top level: finds, never runs, the module
    if parent in sys.modules:
        return importlib.util.find_spec(name)
    # importlib.util.find_spec would import the parent package; search its folders instead
    above = _find_spec(parent)
    locations = above.submodule_search_locations if above is not None else None
    if not locations:
        return None
    return importlib.machinery.PathFinder.find_spec(name, list(locations))
