"""What a run records about where it ran: Python, packages, and the git state.

Listing the installed distributions takes a good part of a second, too much for each
pipeline run, so the list is cached on disk under a key that changes whenever a
package is installed or removed (the mtimes of the install folders on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

from loopml._io import write_text_atomic
from loopml.artifacts import digest_bytes
from loopml.errors import NotWritable

GIT_TIMEOUT_S = 10


def environment(cache_folder: Path | None) -> dict[str, Any]:
    """Python, the platform and every installed distribution's version."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": _packages(cache_folder),
    }


@cache
def _packages(cache_folder: Path | None) -> dict[str, str]:
    key = digest_bytes(json.dumps([sys.version, sys.prefix, *_path_stamps()]).encode())[:16]
    cached = cache_folder / f"packages-{key}.json" if cache_folder is not None else None
    if cached is not None and cached.is_file():
        try:
            found: dict[str, str] = json.loads(cached.read_text(encoding="utf-8"))
            return found
        except (OSError, ValueError):
            pass
    from importlib import metadata

    packages = {
        str(dist.metadata["Name"]).lower(): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    packages = dict(sorted(packages.items()))
    if cached is not None:
        # A missing cache only costs time.
        with contextlib.suppress(OSError, NotWritable):
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(cached, json.dumps(packages), fix="")
    return packages


def _path_stamps() -> list[str]:
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
_recent: dict[Path, tuple[float, dict[str, Any] | None]] = {}


def recent_git_state(folder: Path) -> dict[str, Any] | None:
    """:func:`git_state`, reused for a few seconds: a script that starts a run per trial
    would otherwise spend two git processes on each."""
    now = time.monotonic()
    seen = _recent.get(folder)
    if seen is not None and now - seen[0] < GIT_STATE_MAX_AGE_S:
        return seen[1]
    state = git_state(folder)
    _recent[folder] = (now, state)
    return state


def git_state(folder: Path) -> dict[str, Any] | None:
    """The commit checked out in ``folder`` and whether the tree has changes; None
    outside a git repository (or without git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
