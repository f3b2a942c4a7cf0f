"""Writing a dataset version back to a path the user names: a file, or a folder's files.

Nothing is replaced that the user did not ask to replace (see :mod:`loopml._user_files`):
every target of a folder is checked before the first file is written, so a refused
checkout leaves the destination as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from loopml._user_files import must_write
from loopml.artifacts._store import file_holds
from loopml.data._files import read_manifest, safe_target
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.data._versions import DatasetVersion


def checkout(version: DatasetVersion, dest: str | Path, *, force: bool = False) -> Path:
    """Write ``version``'s bytes, checked, to ``dest``; returns the path written.

    A file goes to ``dest`` (or into it, under its own name, when ``dest`` is a folder
    or ends with a slash). A folder's files go into ``dest``, which must be missing or
    empty unless ``force``: then files there with other content are replaced, files
    with the same bytes and files the version does not have are left as they are.
    """
    into = str(dest).endswith(("/", os.sep))
    dest = Path(dest)
    store = version.workspace.artifacts
    what = version.what
    if version.format != "folder":
        if into or dest.is_dir():
            dest = dest / str(version.metadata["file_name"])
        return store.get_file(version.digest, dest, force=force, what=what)
    if dest.exists() and (not dest.is_dir() or (not force and any(dest.iterdir()))):
        raise InvalidInput(
            f"cannot check out {what} into {dest}: it is not an empty folder; give a new "
            "or empty folder, or --force to write into it (its files with other content "
            "are replaced, others left as they are)"
        )
    entries = read_manifest(store.read_bytes(version.digest, what=what))
    pending = []
    for entry in entries:
        target = safe_target(dest, entry.path)
        if must_write(
            target,
            what=f"{what} file {entry.path}",
            force=force,
            same=lambda path, e=entry: (
                path.stat().st_size == e.size  # type: ignore[misc]
                and file_holds(path, e.digest)
            ),
        ):
            pending.append((entry, target))
    dest.mkdir(parents=True, exist_ok=True)
    for entry, target in pending:
        store.get_file(entry.digest, target, force=force, what=f"{what} file {entry.path}")
    return dest
