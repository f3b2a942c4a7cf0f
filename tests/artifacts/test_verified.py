"""The per-process record of files already hashed: a file is hashed once while its stat
stays the same, and any change a stat can show makes it hashed again."""

from __future__ import annotations

import os
import time
from pathlib import Path

import polars as pl
import pytest

import loopml
from loopml.artifacts import _verified as verified
from loopml.artifacts import digest_bytes
from loopml.errors import IntegrityError


def settle() -> None:
    """Wait until files written before now count as settled."""
    time.sleep(verified.SETTLED_NS / 1e9 + 0.1)


def test_a_file_is_remembered_once_settled_and_forgotten_by_any_change(tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("kept", "written", "utimed", "replaced")}
    for path in files.values():
        path.write_bytes(b"original")
    fresh = tmp_path / "fresh"
    settle()
    fresh.write_bytes(b"original")
    for path in [*files.values(), fresh]:
        assert verified.file_digest(path) == digest_bytes(b"original")
    # Changed less than SETTLED_NS before it was hashed: its timestamps might not show
    # the next write, so it is not remembered.
    assert verified.known_digest(fresh, fresh.stat()) is None
    for path in files.values():
        assert verified.known_digest(path, path.stat()) == digest_bytes(b"original")

    files["written"].write_bytes(b"changed!")  # same size
    before = files["utimed"].stat()
    files["utimed"].write_bytes(b"changed!")
    os.utime(files["utimed"], ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back
    assert files["utimed"].stat().st_mtime_ns == before.st_mtime_ns
    other = tmp_path / "other"
    other.write_bytes(b"changed!")
    os.replace(other, files["replaced"])

    assert verified.known_digest(files["kept"], files["kept"].stat()) is not None
    for name in ("written", "utimed", "replaced"):
        path = files[name]
        assert verified.known_digest(path, path.stat()) is None, name
        assert verified.file_digest(path) == digest_bytes(b"changed!"), name
    verified.forget(files["kept"])
    assert verified.known_digest(files["kept"], files["kept"].stat()) is None


def test_a_dataset_read_many_times_is_hashed_once(tmp_path: Path) -> None:
    with loopml.init(tmp_path) as ws:
        version = loopml.data.add(pl.DataFrame({"x": [1, 2, 3]}), name="d", workspace=ws)
        copy = version.path()  # the hard link to the blob: its ctime just moved
        settle()
        assert version.to_polars()["x"].to_list() == [1, 2, 3]
        # Hashed by that read and remembered: the next reads use the record.
        assert verified.known_digest(copy, copy.stat()) == version.digest
        for _ in range(3):
            assert version.path() == copy
        blob = Path(ws.artifacts.location) / "blobs" / version.digest[:2] / version.digest[2:]
        blob.chmod(0o644)
        with blob.open("r+b") as out:  # damage in place: the same inode, a new mtime
            out.seek(-10, os.SEEK_END)
            byte = out.read(1)
            out.seek(-10, os.SEEK_END)
            out.write(bytes([byte[0] ^ 0x01]))
        assert verified.known_digest(copy, copy.stat()) is None
        with pytest.raises(IntegrityError):
            version.to_polars()

        # A blob read whole through the store is remembered too, and read again unhashed
        # while it is unchanged; a write makes the next read check it again.
        profile = Path(ws.artifacts.location) / "blobs" / version.metadata["profile"][:2]
        profile = profile / version.metadata["profile"][2:]
        first = ws.artifacts.read_bytes(version.metadata["profile"])
        assert verified.known_digest(profile, profile.stat()) == version.metadata["profile"]
        assert ws.artifacts.read_bytes(version.metadata["profile"]) == first
        profile.chmod(0o644)
        profile.write_bytes(first[:-1] + b" ")
        with pytest.raises(IntegrityError, match="profile"):
            ws.artifacts.read_bytes(version.metadata["profile"], what="the profile")
