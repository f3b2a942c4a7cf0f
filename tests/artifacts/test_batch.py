"""Batched writes to a local artifact store: invisible until the block ends, all or
nothing, each blob exactly its bytes; and files put by the kernel's copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loopml.artifacts import ArtifactStore, digest_bytes
from loopml.artifacts._write import SMALL
from loopml.errors import InvalidInput


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    made = ArtifactStore(tmp_path / "artifacts")
    made.prepare()
    return made


def leftovers(store: ArtifactStore) -> list[str]:
    return sorted(os.listdir(Path(store.location) / "tmp"))


def test_a_batch_is_visible_only_when_it_ends(store: ArtifactStore, tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(b"a small file")
    large.write_bytes(os.urandom(SMALL + 12_345))
    with store.batch() as batch:
        blobs = [batch.put_bytes(b"bytes"), batch.put_file(small), batch.put_file(large)]
        for blob in blobs:
            assert not store.exists(blob.digest)
    assert [store.read_bytes(b.digest) for b in blobs] == [
        b"bytes",
        small.read_bytes(),
        large.read_bytes(),
    ]
    assert [b.digest for b in blobs[1:]] == [
        digest_bytes(small.read_bytes()),
        digest_bytes(large.read_bytes()),
    ]
    assert [b.size for b in blobs] == [5, 12, SMALL + 12_345]
    assert leftovers(store) == []
    for blob in blobs:
        path = store.local_path(blob.digest)
        assert path is not None
        assert path.stat().st_mode & 0o222 == 0


def test_a_failed_batch_stores_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    large = tmp_path / "large"
    large.write_bytes(os.urandom(SMALL * 2))

    def fail_midway() -> None:
        with store.batch() as batch:
            batch.put_bytes(b"one")
            batch.put_file(large)
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        fail_midway()
    assert list(store.digests()) == []
    assert leftovers(store) == []


def test_a_batch_stores_the_same_bytes_once(store: ArtifactStore, tmp_path: Path) -> None:
    first = store.put_bytes(b"already there")
    copy = tmp_path / "copy"
    copy.write_bytes(b"twice in the batch")
    with store.batch() as batch:
        assert batch.put_bytes(b"already there") == first
        one, two = batch.put_file(copy), batch.put_bytes(b"twice in the batch")
    assert one == two
    assert sorted(store.digests()) == sorted({first.digest, one.digest})
    assert leftovers(store) == []


def test_a_batch_refuses_what_is_not_a_readable_file(store: ArtifactStore, tmp_path: Path) -> None:
    with store.batch() as batch:
        with pytest.raises(InvalidInput, match="it is a folder"):
            batch.put_file(tmp_path)
        with pytest.raises(InvalidInput, match="missing"):
            batch.put_file(tmp_path / "nothing")
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        with pytest.raises(InvalidInput, match="not a file"):
            batch.put_file(fifo)
    assert list(store.digests()) == []


def test_a_large_file_stored_alone_is_its_bytes(store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(3 * SMALL + 1)
    source = tmp_path / "big"
    source.write_bytes(data)
    blob = store.put_file(source)
    assert (blob.digest, blob.size) == (digest_bytes(data), len(data))
    assert store.read_bytes(blob.digest) == data
    assert store.put_file(source) == blob  # stored once; the copy is dropped
    assert leftovers(store) == []
    assert list(store.digests()) == [blob.digest]


def test_a_damaged_blob_of_the_right_size_is_kept_until_discarded(
    store: ArtifactStore, tmp_path: Path
) -> None:
    """A put trusts a blob of the right size (as before); discard_if_damaged, then a
    put, repairs it."""
    source = tmp_path / "f"
    source.write_bytes(b"the right bytes")
    blob = store.put_file(source)
    path = store.local_path(blob.digest)
    assert path is not None
    path.chmod(0o644)
    path.write_bytes(b"the wrong bytes")
    assert store.discard_if_damaged(blob.digest)
    with store.batch() as batch:
        assert batch.put_file(source) == blob
    assert store.read_bytes(blob.digest) == b"the right bytes"
