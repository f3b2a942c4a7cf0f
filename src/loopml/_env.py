"""What a run records about where it ran: Python, packages, and the git state.

The installed distributions are listed from the head of each one's metadata file, a
few milliseconds for a hundred packages (the metadata parser of the standard library
reads the whole file and took 20 times as long), once per process for as long as no
package is installed or removed (the mtimes of the install folders on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import Distribution

GIT_TIMEOUT_S = 10


def environment() -> dict[str, Any]:
    """Python, the platform and every installed distribution's version."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": _packages(tuple(path_stamps())),
    }


@cache
def _packages(stamps: tuple[str, ...]) -> dict[str, str]:
    """Name (lower case, as the distribution spells it) to version; ``stamps`` (of
    :func:`path_stamps`) only key the cache."""
    from importlib import metadata

    packages = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist)
        if name and version:
            packages[name.lower()] = version
    return dict(sorted(packages.items()))


def _name_and_version(dist: Distribution) -> tuple[str | None, str | None]:
    """The ``Name`` and ``Version`` fields of a distribution's metadata, read from the
    headers it starts with (core metadata never folds these two)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "name" and name is None:
            name = value.strip()
        elif key == "version" and version is None:
            version = value.strip()
    return name, version


def path_stamps() -> list[str]:
    # Only the install folders: a project folder on sys.path changes with every edit.
    stamps = []
    for entry in sys.path:
        if "site-packages" not in entry and "dist-packages" not in entry:
            continue
        try:
            stamps.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            continue
    return stamps


GIT_STATE_MAX_AGE_S = 5.0
_recent: dict[Path, tuple[float, GitSnapshot | None]] = {}


def recent_git_state(folder: Path, files: Iterable[str] = ()) -> dict[str, Any] | None:
    """:func:`git_state`, with the repository read at most every few seconds: a script
    that starts a run per trial would otherwise spend two git processes on each."""
    now = time.monotonic()
    seen = _recent.get(folder)
    if seen is None or now - seen[0] >= GIT_STATE_MAX_AGE_S:
        seen = (now, git_snapshot(folder))
        _recent[folder] = seen
    return None if seen[1] is None else seen[1].state(files)


def git_state(folder: Path, files: Iterable[str] = ()) -> dict[str, Any] | None:
    """The commit checked out in ``folder``, whether the tree has changes, and which of
    ``files`` it does not hold as they are; None outside a git repository (or without
    git). See :meth:`GitSnapshot.state`."""
    snapshot = git_snapshot(folder)
    return None if snapshot is None else snapshot.state(files)


@dataclass(frozen=True)
class GitSnapshot:
    """The repository a pipeline runs in, read once: its commit, its root, and which
    paths differ from the commit (changed, new, untracked or ignored)."""

    commit: str
    root: str
    dirty: bool  # a tracked file differs from the commit
    differing: tuple[str, ...]  # real paths; a folder ends with a separator

    def state(self, files: Iterable[str]) -> dict[str, Any]:
        """The commit, and which of ``files`` (real paths of the code that ran) it does
        not hold as they are: ``uncommitted`` (changed, or never committed: checking
        the commit out would not restore them, so the tree counts as dirty) and
        ``outside`` (not in the repository at all: imported from elsewhere)."""
        root = self.root.rstrip(os.sep) + os.sep
        outside = sorted(f for f in files if not f.startswith(root))
        uncommitted = sorted(
            f
            for f in files
            if f.startswith(root)
            and any(f == d or (d.endswith(os.sep) and f.startswith(d)) for d in self.differing)
        )
        state: dict[str, Any] = {"commit": self.commit, "dirty": self.dirty or bool(uncommitted)}
        if uncommitted:
            state["uncommitted"] = [os.path.relpath(f, self.root) for f in uncommitted]
        if outside:
            state["outside"] = outside
        return state


def git_snapshot(folder: Path) -> GitSnapshot | None:
    """The repository ``folder`` is in, read with two git commands; None outside a
    git repository (or without git)."""
    try:
        head = _git(folder, "rev-parse", "--show-toplevel", "HEAD")
        if head.returncode != 0:
            return None
        status = _git(
            folder, "status", "--porcelain", "-z", "--untracked-files=normal", "--ignored=matching"
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    root, commit = head.stdout.split("\n")[:2]
    root = os.path.realpath(root)
    dirty = False
    differing = []
    entries = iter(status.stdout.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename or copy: the source path follows
            next(entries, None)
        dirty = dirty or code not in ("??", "!!")
        real = os.path.realpath(os.path.join(root, path))
        differing.append(real + os.sep if path.endswith("/") else real)
    return GitSnapshot(commit.strip(), root, dirty, tuple(sorted(differing)))


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
