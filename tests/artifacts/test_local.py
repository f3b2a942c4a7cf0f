"""The artifact store on a local folder: content addressing, atomic writes, checked reads."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from loopml.artifacts import ArtifactStore, digest_bytes
from loopml.errors import BlobMissing, DigestMismatch, InvalidInput, InvalidURL


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def test_known_blake3_digest(store: ArtifactStore) -> None:
    # The BLAKE3 test vector for the empty input.
    blob = store.put_bytes(b"")
    assert blob.digest == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    assert blob.size == 0


def test_identical_content_is_stored_once(store: ArtifactStore, tmp_path: Path) -> None:
    first = store.put_bytes(b"same")
    (tmp_path / "f").write_bytes(b"same")
    assert store.put_file(tmp_path / "f") == first
    assert list(store.digests()) == [first.digest]


def test_large_file_round_trip_in_chunks(store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(11 * 1024 * 1024 + 7)  # several chunks and a ragged end
    (tmp_path / "big").write_bytes(data)
    blob = store.put_file(tmp_path / "big")
    assert blob.size == len(data)
    assert blob.digest == digest_bytes(data)
    out = store.get_file(blob.digest, tmp_path / "out" / "big")
    assert out.read_bytes() == data


def test_stream_is_read_in_bounded_chunks(store: ArtifactStore) -> None:
    sizes: list[int] = []

    class Recording(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            sizes.append(-1 if size is None else size)
            return super().read(size)

    store.put_stream(Recording(b"x" * (9 * 1024 * 1024)))
    assert sizes
    assert all(0 < size <= 4 * 1024 * 1024 for size in sizes)


def test_blobs_are_read_only_files(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"keep me")
    path = store.local_path(blob.digest)
    assert path is not None
    assert path.stat().st_mode & 0o222 == 0


def test_a_corrupt_blob_is_never_returned(store: ArtifactStore, tmp_path: Path) -> None:
    blob = store.put_bytes(b"original bytes")
    path = store.local_path(blob.digest)
    assert path is not None
    path.chmod(0o644)
    path.write_bytes(b"tampered bytes")
    with pytest.raises(DigestMismatch, match=blob.digest):
        store.read_bytes(blob.digest)
    with pytest.raises(DigestMismatch):
        store.verify(blob.digest)
    with pytest.raises(DigestMismatch):
        store.get_file(blob.digest, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_missing_blob_is_named(store: ArtifactStore) -> None:
    digest = digest_bytes(b"never stored")
    assert not store.exists(digest)
    with pytest.raises(BlobMissing, match=digest):
        store.read_bytes(digest)
    with pytest.raises(BlobMissing, match=digest):
        store.local_path(digest)


def test_a_stream_that_fails_leaves_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        calls = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("disk went away")
            return b"y" * 1024

    with pytest.raises(OSError, match="disk went away"):
        store.put_stream(Broken())  # type: ignore[arg-type]
    assert list(store.digests()) == []
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_bad_digests_and_paths(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="64 lowercase hex"):
        store.read_bytes("../../etc/passwd")
    with pytest.raises(InvalidInput, match="missing"):
        store.put_file(tmp_path / "nope")
    with pytest.raises(InvalidInput, match="folder"):
        store.put_file(tmp_path)


def test_file_urls_and_fsspec_urls(tmp_path: Path) -> None:
    local = ArtifactStore(f"file://{tmp_path}/a")
    assert local.location == str(tmp_path / "a")
    memory = ArtifactStore("memory://loopml-test/prefix")
    blob = memory.put_bytes(b"in memory")
    assert memory.read_bytes(blob.digest) == b"in memory"
    assert list(memory.digests()) == [blob.digest]
    with pytest.raises(InvalidURL, match="nosuch://x"):
        ArtifactStore("nosuch://x")
