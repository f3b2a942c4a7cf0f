"""Checks of what a CLI command did, shared by the tests that run it: one line of error,
and every file below a folder, compared before and after."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any


def assert_user_error(result: Any, *fragments: str) -> None:
    """Exit 2 and one line on stderr, starting ``error:``, holding every fragment."""
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("error: "), result
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def tree(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[Any, ...]]:
    """Every entry below ``root`` (not following links): its type, mode and content
    digest (a link's target, a folder's nothing). ``skip`` names relative paths whose
    whole subtree is left out."""
    entries: dict[str, tuple[Any, ...]] = {}
    for folder, folders, files in os.walk(root):
        here = Path(folder)
        kept = [name for name in folders if str((here / name).relative_to(root)) not in skip]
        folders[:] = kept  # os.walk does not go into links to folders, nor skipped ones
        for name in (*kept, *files):
            path = here / name
            relative = str(path.relative_to(root))
            if relative not in skip:
                entries[relative] = _entry(path)
    return entries


def _entry(path: Path) -> tuple[Any, ...]:
    info = path.lstat()
    kind = stat.S_IFMT(info.st_mode)
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return (kind, mode, os.readlink(path))
    if stat.S_ISREG(info.st_mode):
        return (kind, mode, info.st_size, hashlib.blake2b(path.read_bytes()).hexdigest())
    return (kind, mode)
