"""Files into the artifact store without reading them twice, and folders as manifests.

A file whose stat the stat cache vouches for (see :mod:`loopml.data._statcache`) is not
read again. The others are hashed and stored on several threads at once, inside one
batch of the artifact store: written now, flushed once, visible when it ends.

A folder is stored as one blob per file plus a manifest: a JSON list of relative
paths, sizes and digests, whose own digest names the folder (on a local store, the
small blobs of one add share a pack file: see :mod:`loopml.artifacts._packs`). A
folder of 10,000 files where one changed reads that one file and stores one new blob
and a new manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.artifacts import digest_bytes
from loopml.data._statcache import StatCache, stat_key
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Set

    from loopml.artifacts import ArtifactStore, Blob
    from loopml.artifacts._store import BlobBatch

__all__ = ["StatCache", "store_file", "store_folder"]

MANIFEST_FORMAT = "loopml.folder/1"
SKIPPED_NAMES = {".loopml", ".git", "__pycache__", ".DS_Store"}
# Reading, hashing and writing files is mostly system calls, which free the GIL.
WORKERS = min(16, 4 * (os.cpu_count() or 1))
SMALL_FILE = 1024 * 1024  # stored without a thread of its own


def store_file(
    store: ArtifactStore, path: Path, cache: StatCache, *, batch: BlobBatch | None = None
) -> tuple[str, int]:
    """Put one file in the store (in ``batch`` if given); hashed only when the stat cache
    cannot vouch for it and its blob."""
    path = path.absolute()
    stat = path.stat()
    known = cache.lookup(path, stat)
    if known is not None and store.exists(known):
        return known, stat.st_size
    blob = _put(store, batch, path)
    _remember(cache, str(path), stat, blob)
    return blob.digest, blob.size


def cached_digest(store: ArtifactStore, path: Path, cache: StatCache) -> str | None:
    """The file's digest from the stat cache, when its blob is stored; else None."""
    path = path.absolute()
    try:
        known = cache.lookup(path, path.stat())
    except OSError:
        return None
    return known if known is not None and store.exists(known) else None


@dataclass(frozen=True)
class FolderEntry:
    path: str  # relative, with "/" separators
    digest: str
    size: int


def folder_files(root: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path, absolute path, stat) of every regular file under ``root``, in a
    stable order; no symlinks, no loopml or git folders."""
    yield from _scan(str(root.absolute()), "")


def _scan(folder: str, relative: str) -> Iterator[tuple[str, str, os.stat_result]]:
    with os.scandir(folder) as listing:
        found = sorted(listing, key=lambda entry: entry.name)
    subfolders = []
    for entry in found:
        if entry.name in SKIPPED_NAMES:
            continue
        if entry.is_file(follow_symlinks=False):
            yield relative + entry.name, entry.path, entry.stat(follow_symlinks=False)
        elif entry.is_dir(follow_symlinks=False):
            subfolders.append(entry)
    for entry in subfolders:
        yield from _scan(entry.path, f"{relative}{entry.name}/")


def store_folder(
    store: ArtifactStore,
    root: Path,
    cache: StatCache,
    *,
    batch: BlobBatch | None = None,
    last: str | None = None,
    present: Callable[[], Set[str]] = frozenset,
) -> tuple[list[FolderEntry], bytes]:
    """Every file of a folder stored (in ``batch`` if given, else in a batch of its own);
    the entries and the manifest's bytes.

    ``last`` is the digest of the folder's last manifest: when the stat cache vouches
    for every file and the manifest is that one, its blobs were stored with it and
    nothing is looked up. Otherwise the digests from the cache are looked up in the
    store, except ``present()`` ones (those of the last manifest).
    """
    if batch is None:
        with store.batch() as own:
            return store_folder(store, root, cache, batch=own, last=last, present=present)

    files = list(folder_files(root))
    if not files:
        raise InvalidInput(f"folder {root} has no files; add at least one file")
    known = cache.entries_under(root.absolute())
    entries: list[FolderEntry | None] = [None] * len(files)
    todo: list[int] = []
    for index, (relative, path, stat) in enumerate(files):
        digest = cache.digest_for(path, stat, known.get(path))
        if digest is not None:
            entries[index] = FolderEntry(relative, digest, stat.st_size)
        else:
            todo.append(index)
    if not todo and last is not None and digest_bytes(manifest_bytes(_all(entries))) == last:
        return _all(entries), manifest_bytes(_all(entries))
    stored = present()
    for index, entry in enumerate(entries):
        if entry is not None and entry.digest not in stored and not store.exists(entry.digest):
            entries[index] = None
            todo.append(index)
    for index, blob in _stored(batch, files, todo, root.name):
        relative, path, stat = files[index]
        _remember(cache, path, stat, blob)
        entries[index] = FolderEntry(relative, blob.digest, blob.size)
    cache.flush()
    done = _all(entries)
    return done, manifest_bytes(done)


def _stored(
    batch: BlobBatch, files: list[tuple[str, str, os.stat_result]], todo: list[int], name: str
) -> Iterator[tuple[int, Blob]]:
    """The files at ``todo`` stored in ``batch``. Small files one after another in this
    thread: their cost is system calls on one folder, which threads only contend for
    (measured: four times slower on two threads than on one); large ones on threads,
    where the kernel copies and blake3 hashes without the GIL."""
    from concurrent.futures import ThreadPoolExecutor

    from loopml._progress import progress_bar

    small = [i for i in todo if files[i][2].st_size <= SMALL_FILE]
    large = [i for i in todo if files[i][2].st_size > SMALL_FILE]
    with progress_bar(f"storing {name}/", len(todo)) as update:
        for index in small:
            yield index, batch.put_file(files[index][1])
            update(advance=1)
        if large:
            with ThreadPoolExecutor(min(WORKERS, len(large))) as pool:
                for index, blob in zip(
                    large, pool.map(lambda i: batch.put_file(files[i][1]), large), strict=True
                ):
                    yield index, blob
                    update(advance=1)


def _all(entries: list[FolderEntry | None]) -> list[FolderEntry]:
    return [entry for entry in entries if entry is not None]


def _put(store: ArtifactStore, batch: BlobBatch | None, path: Path) -> Blob:
    return store.put_file(path) if batch is None else batch.put_file(path)


def _remember(cache: StatCache, path: str, stat: os.stat_result, blob: Blob) -> None:
    """Remember a digest for the stat taken before the file was read, if the file still
    has it now: it did not change in between."""
    try:
        now = os.stat(path)
    except OSError:
        return
    if stat_key(now) == stat_key(stat) and blob.size == stat.st_size:
        cache.remember(path, stat, blob.digest)


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
