"""Files into the artifact store without hashing them twice, and folders as manifests.

The stat cache remembers, per absolute path, the (size, mtime, inode) a file had when
it was hashed and the digest it had then; a file whose stat is unchanged is not read
again. It is a small SQLite file of this machine's (paths and inodes mean nothing
elsewhere), kept in the workspace's ``.loopml/`` folder.

A folder is stored as one blob per file plus a manifest: a JSON list of relative
paths, sizes and digests, whose own digest names the folder. A folder of 10,000 files
where one changed stores one new blob and a new manifest.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loopml.artifacts import ArtifactStore

MANIFEST_FORMAT = "loopml.folder/1"
SKIPPED_NAMES = {".loopml", ".git", "__pycache__", ".DS_Store"}


class StatCache:
    """(path, size, mtime_ns, inode) -> digest, in a SQLite file; None means no cache."""

    def __init__(self, path: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        if path is not None:
            with contextlib.suppress(OSError, sqlite3.Error):
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS stats (path TEXT PRIMARY KEY, size INTEGER, "
                    "mtime_ns INTEGER, inode INTEGER, digest TEXT)"
                )
                self._db = db
        self._pending: list[tuple[str, int, int, int, str]] = []

    def lookup(self, path: Path, stat: os.stat_result) -> str | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT size, mtime_ns, inode, digest FROM stats WHERE path = ?", (str(path),)
            ).fetchone()
        except sqlite3.Error:
            return None
        if row is None or tuple(row[:3]) != (stat.st_size, stat.st_mtime_ns, stat.st_ino):
            return None
        return str(row[3])

    def remember(self, path: Path, stat: os.stat_result, digest: str) -> None:
        self._pending.append((str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, digest))

    def flush(self) -> None:
        if self._db is None or not self._pending:
            return
        # A lost cache only costs a re-hash: never fail an add over it.
        with contextlib.suppress(sqlite3.Error):
            self._db.executemany(
                "INSERT OR REPLACE INTO stats VALUES (?, ?, ?, ?, ?)", self._pending
            )
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def store_file(store: ArtifactStore, path: Path, cache: StatCache) -> tuple[str, int]:
    """Put one file in the store; hashed only when the stat cache cannot vouch for it."""
    path = path.absolute()
    stat = path.stat()
    known = cache.lookup(path, stat)
    if known is not None and store.exists(known):
        return known, stat.st_size
    blob = store.put_file(path)
    if blob.size == stat.st_size:
        cache.remember(path, stat, blob.digest)
    return blob.digest, blob.size


@dataclass(frozen=True)
class FolderEntry:
    path: str  # relative, with "/" separators
    digest: str
    size: int


def folder_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root``, in a stable order; no symlinks, no loopml or git folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
        for name in sorted(files):
            path = Path(folder) / name
            if name not in SKIPPED_NAMES and path.is_file() and not path.is_symlink():
                yield path


def store_folder(
    store: ArtifactStore, root: Path, cache: StatCache
) -> tuple[list[FolderEntry], bytes]:
    """Every file of a folder stored; the entries and the manifest's bytes."""
    from loopml._progress import progress

    entries = []
    paths = list(folder_files(root))
    for path in progress(paths, f"storing {root.name}/"):
        digest, size = store_file(store, path, cache)
        entries.append(FolderEntry(path.relative_to(root).as_posix(), digest, size))
    cache.flush()
    if not entries:
        raise InvalidInput(f"folder {root} has no files; add at least one file")
    return entries, manifest_bytes(entries)


def manifest_bytes(entries: list[FolderEntry]) -> bytes:
    data = {
        "format": MANIFEST_FORMAT,
        "files": [[e.path, e.digest, e.size] for e in sorted(entries, key=lambda e: e.path)],
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def read_manifest(data: bytes) -> list[FolderEntry]:
    parsed: dict[str, Any] = json.loads(data)
    if parsed.get("format") != MANIFEST_FORMAT:
        raise InvalidInput(f"folder manifest format {parsed.get('format')!r} is not known")
    return [FolderEntry(path, digest, size) for path, digest, size in parsed["files"]]


def safe_target(dest: Path, relative: str) -> Path:
    """``dest / relative``, refusing a manifest path that would land outside ``dest``.
    The last part is not resolved: a link there is the writer's to refuse, not to follow."""
    target = dest / relative
    folder = target.parent.resolve()
    if target.name in ("", ".", "..") or not folder.is_relative_to(dest.resolve()):
        raise InvalidInput(f"folder entry {relative!r} points outside {dest}; refusing it")
    return folder / target.name
