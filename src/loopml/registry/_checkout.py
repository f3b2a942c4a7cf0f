"""The code a pipeline ran from, found again: the recorded git commit exported into the
workspace (``.loopml/checkouts/COMMIT``) when the tree was clean and the commit is
still in the repository, else the pipeline file as it is now, with the reason."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.workspace import Workspace

GIT_TIMEOUT_S = 60


@dataclass(frozen=True)
class Source:
    """Where the pipeline file is read from, said in words, and, when that is not the
    recorded code, why not."""

    file: Path
    described: str
    caveat: str | None = None
    checkout: Path | None = None  # the folder the commit was checked out into


def recorded_source(ws: Workspace, file: str, git: dict[str, Any] | None) -> Source:
    path = Path(file)
    commit = str(git.get("commit") or "") if git else ""
    if not commit:
        return _as_it_is(path, "the pipeline was not in a git repository when it ran")
    if git and git.get("dirty"):
        uncommitted = [str(name) for name in git.get("uncommitted") or []]
        named = f" ({', '.join(uncommitted)} among the code it ran)" if uncommitted else ""
        return _as_it_is(
            path,
            f"the git tree had uncommitted changes when it ran (commit {commit[:12]}){named}; "
            "they were not recorded",
        )
    root = _repository_root(path.parent)
    if root is None:
        return _as_it_is(path, f"{path.parent} is no longer in a git repository")
    if not _has_commit(root, commit):
        return _as_it_is(path, f"commit {commit[:12]} is not in the repository at {root}")
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        return _as_it_is(path, f"{path} is not inside the repository at {root}")
    folder = _exported(ws, root, commit)
    outside = [str(name) for name in (git or {}).get("outside") or []]
    if outside:
        return Source(
            folder / relative,
            f"commit {commit[:12]}, checked out, with code from outside the repository",
            f"it ran code from outside the repository, which the commit does not hold "
            f"({', '.join(outside)}); that code is used as it is now",
            folder,
        )
    return Source(folder / relative, f"commit {commit[:12]}, checked out clean", None, folder)


def _as_it_is(path: Path, why: str) -> Source:
    if not path.is_file():
        raise InvalidInput(
            f"the pipeline file {path} no longer exists, and the recorded code cannot be "
            f"checked out ({why}); restore the file to reproduce"
        )
    return Source(path, "the pipeline file as it is now", why)


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args],
        cwd=folder,
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )


def _repository_root(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    try:
        found = _git(folder, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(found.stdout.decode().strip()).resolve() if found.returncode == 0 else None


def _has_commit(root: Path, commit: str) -> bool:
    return _git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


def _exported(ws: Workspace, root: Path, commit: str) -> Path:
    """The commit's files, exported once into the workspace (or a temporary folder for
    a workspace without a local folder) and reused."""
    base = (ws.root / ".loopml" / "checkouts") if ws.root else Path(tempfile.gettempdir())
    folder = base / commit
    if folder.is_dir():
        return folder
    archive = _git(root, "archive", "--format=tar", commit)
    if archive.returncode != 0:
        raise InvalidInput(
            f"git archive of commit {commit[:12]} failed: {archive.stderr.decode().strip()}"
        )
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=base))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(staging, filter="data")
        os.replace(staging, folder)  # whole or not at all; another process may win
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
