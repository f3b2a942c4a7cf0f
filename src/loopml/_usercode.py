"""Which files are the user's code, and how a step's key names them.

The user's code is every Python file a step can run that is not installed: not the
standard library, not under ``site-packages`` or ``dist-packages``, and not loopml
itself (its version is recorded with each run's environment). Where such a file lives
does not matter — the pipeline's folder, a package beside it on ``PYTHONPATH``, a
project installed in editable mode — since an edit to any of them can change what a
step returns. Installed code changes only with its package's version, which each run
records.

A file is named in a key by its path under the pipeline's folder, or, outside it, by
its path under the ``sys.path`` entry it is imported from: both stay the same when the
project moves, and whether the pipeline file runs as ``__main__`` or is imported.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from pathlib import Path

INSTALLED_FOLDERS = frozenset({"site-packages", "dist-packages"})


@functools.lru_cache(maxsize=16384)
def is_user_file(file: str) -> bool:
    """Whether ``file`` is an existing Python file of the user's (not installed)."""
    if not file or not os.path.isfile(file):
        return False
    path = os.path.realpath(file)
    if INSTALLED_FOLDERS.intersection(Path(path).parts):
        return False
    return not any(path.startswith(folder) for folder in _installed_folders())


def is_user_folder(folder: str) -> bool:
    """Whether the folder ``folder`` is not one of installed code (nor inside one)."""
    path = os.path.realpath(folder)
    if INSTALLED_FOLDERS.intersection(Path(path).parts):
        return False
    return not any((path + os.sep).startswith(f) for f in _installed_folders())


@functools.cache
def _installed_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    folders = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib")}
    folders.add(str(Path(os.path.realpath(__file__)).parent))  # loopml itself
    return tuple(sorted(folder.rstrip(os.sep) + os.sep for folder in folders))


def label(file: str, root: str | None) -> str:
    """``file``'s name in a key: under ``root``, else under its ``sys.path`` entry."""
    path = Path(os.path.realpath(file))
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    for entry in _path_entries():
        if path.is_relative_to(entry):
            return path.relative_to(entry).as_posix()
    return path.as_posix()


def _path_entries() -> list[str]:
    """``sys.path`` as real folders, deepest first (a package folder on the path wins
    over the folder holding it)."""
    entries = {os.path.realpath(entry or os.getcwd()) for entry in sys.path}
    return sorted((e for e in entries if os.path.isdir(e)), key=lambda e: (-len(e), e))
