"""The stat cache: a file whose stat is unchanged since it was hashed is not read again.

Per absolute path it keeps the device, inode, size, mtime and ctime the file had when
it was hashed, and the digest it had then. It is conservative, because a stale entry
would name the wrong bytes:

- **Every field must match.** A rewrite changes the ctime even when the size and the
  mtime are put back (``touch -d``, ``os.utime``, ``rsync -t``), so the ctime catches
  what size and mtime alone would miss. A file replaced by another gets a new inode.
- **A file modified just before it was read is not remembered.** A timestamp has a
  granularity (the clock tick on Linux, a second or two on some filesystems): a file
  written again within the same tick as the read would keep its stat. So a file whose
  mtime or ctime falls within :data:`FINE_WINDOW_NS` of the moment the add began (or
  :data:`COARSE_WINDOW_NS`, when its timestamps are whole milliseconds, as on
  filesystems that keep seconds) is hashed again next time, like git's "racily clean"
  entries.
- **An entry that is not exactly as written is ignored.** Each row carries a check of
  all its fields; a row that does not match its check, an unreadable database, or a
  digest that is not one is treated as no entry: the file is hashed again.
- **A digest from the cache is used only if its blob is in the store** (the caller
  checks).

It is a small SQLite file of this machine's (paths and inodes mean nothing elsewhere),
in the workspace's ``.loopml/`` folder; losing it only costs a re-hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import time
from pathlib import Path

FINE_WINDOW_NS = 100_000_000  # 10x the coarsest Linux clock tick (HZ=100)
COARSE_WINDOW_NS = 2_000_000_000  # FAT keeps even seconds
_DIGEST = re.compile(r"[0-9a-f]{64}")
_TABLE = "files_v2"


# (dev, ino, size, mtime_ns, ctime_ns, digest, check), as stored
Entry = tuple[object, ...]


def stat_key(stat: os.stat_result) -> tuple[int, int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def racy(stat: os.stat_result, began_ns: int) -> bool:
    """Whether a file could have changed within its timestamps' granularity of
    ``began_ns`` (the moment its reading began, or earlier): then its stat proves
    nothing and it must not be remembered."""
    whole_ms = stat.st_mtime_ns % 1_000_000 == 0 and stat.st_ctime_ns % 1_000_000 == 0
    window = COARSE_WINDOW_NS if whole_ms else FINE_WINDOW_NS
    return max(stat.st_mtime_ns, stat.st_ctime_ns) >= began_ns - window


class StatCache:
    """(path, device, inode, size, mtime, ctime) -> digest, in a SQLite file; ``None``
    for no cache. Open it before reading any file: the moment it is opened is the one
    files are judged racy against.

    >>> import tempfile, os
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "a.txt").write_text("a")
    1
    >>> cache = StatCache(folder / "stat-cache.db")
    >>> stat = os.stat(folder / "a.txt")
    >>> cache.remember(folder / "a.txt", stat, "ab" * 32)  # just written: not remembered
    False
    >>> cache.lookup(folder / "a.txt", stat) is None
    True
    >>> cache.close()
    """

    def __init__(self, path: Path | None) -> None:
        self.began_ns = time.time_ns()
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, tuple[object, ...]] = {}
        if path is not None:
            self._db = _open(path)

    def lookup(self, path: Path | str, stat: os.stat_result) -> str | None:
        """The digest the file had when it had this stat, or None."""
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                f"SELECT dev, ino, size, mtime_ns, ctime_ns, digest, check_ FROM {_TABLE} "
                "WHERE path = ?",
                (str(path),),
            ).fetchone()
        except sqlite3.Error:
            return None
        return self.digest_for(str(path), stat, None if row is None else tuple(row))

    def entries_under(self, folder: Path) -> dict[str, Entry]:
        """Every entry for a path inside ``folder``, by path, in one query."""
        if self._db is None:
            return {}
        prefix = str(folder).rstrip(os.sep) + os.sep
        upper = prefix[:-1] + chr(ord(os.sep) + 1)
        try:
            rows = self._db.execute(
                f"SELECT path, dev, ino, size, mtime_ns, ctime_ns, digest, check_ FROM {_TABLE} "
                "WHERE path >= ? AND path < ?",
                (prefix, upper),
            ).fetchall()
        except sqlite3.Error:
            return {}
        return {str(row[0]): tuple(row[1:]) for row in rows}

    @staticmethod
    def digest_for(path: str, stat: os.stat_result, entry: Entry | None) -> str | None:
        """``entry``'s digest if it matches ``stat`` and its own check, else None."""
        if entry is None or len(entry) != 7:
            return None
        key = stat_key(stat)
        if entry[:5] != key:
            return None
        digest, check = entry[5], entry[6]
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            return None
        return digest if check == _check(path, key, digest) else None

    def remember(self, path: Path | str, stat: os.stat_result, digest: str) -> bool:
        """Keep ``digest`` for the file as it was at ``stat`` (taken before it was read,
        and unchanged after); False when the file is too recent to be trusted."""
        if self._db is None or racy(stat, self.began_ns):
            return False
        key = stat_key(stat)
        if not all(-(2**63) <= number < 2**63 for number in key):
            return False  # beyond SQLite's integers (some FUSE inode numbers): not kept
        self._pending[str(path)] = (str(path), *key, digest, _check(str(path), key, digest))
        return True

    def flush(self) -> None:
        """Write what was remembered, in one transaction."""
        if self._db is None or not self._pending:
            return
        rows = list(self._pending.values())
        self._pending.clear()
        # A lost cache only costs a re-hash: never fail an add over it.
        with contextlib.suppress(sqlite3.Error, OverflowError), self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def _open(path: Path) -> sqlite3.Connection | None:
    """The cache's database; a damaged one is replaced by an empty one."""
    for attempt in range(2):
        db = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=5)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost last write costs a re-hash
            with db:
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {_TABLE} (path TEXT PRIMARY KEY, dev INTEGER, "
                    "ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, "
                    "digest TEXT, check_ TEXT) WITHOUT ROWID"
                )
                db.execute("DROP TABLE IF EXISTS stats")  # loopml 0.1's, without ctime
            return db
        except sqlite3.DatabaseError:
            if db is not None:
                db.close()
            if attempt:
                return None
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{path}{suffix}").unlink()
        except (OSError, sqlite3.Error):
            if db is not None:
                db.close()
            return None
    return None


def _check(path: str, key: tuple[int, ...], digest: str) -> str:
    text = "\0".join([path, *map(str, key), digest]).encode("utf-8", "surrogateescape")
    return hashlib.blake2b(text, digest_size=8).hexdigest()
