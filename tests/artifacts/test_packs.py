"""Packs in a local artifact store: a batch's many small blobs in one file plus an
index, read back checked, never trusted without their index, and stored once whether
a blob is loose or packed already. Damage is planted on the pack's own bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loopml.artifacts import ArtifactStore, digest_bytes
from loopml.artifacts._local import PACK_MIN
from loopml.artifacts._write import SMALL
from loopml.errors import BlobMissing, DigestMismatch

MANY = 3 * PACK_MIN


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    made = ArtifactStore(tmp_path / "artifacts")
    made.prepare()
    return made


def packs_folder(store: ArtifactStore) -> Path:
    return Path(store.location) / "blobs" / "packs"


def pack_files(store: ArtifactStore) -> list[str]:
    folder = packs_folder(store)
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def loose(store: ArtifactStore) -> set[str]:
    blobs = Path(store.location) / "blobs"
    return {p.parent.name + p.name for p in blobs.glob("??/*")}


def contents(count: int, tag: str = "blob") -> list[bytes]:
    """Small blobs of different sizes (a few bytes to a few KiB), one of them empty."""
    return [b""] + [f"{tag} {n} ".encode() * (1 + n * 37 % 200) for n in range(1, count)]


def flip_byte(path: Path, at: int) -> None:
    path.chmod(0o644)
    with path.open("r+b") as file:
        file.seek(at)
        byte = file.read(1)
        file.seek(at)
        file.write(bytes([byte[0] ^ 0x01]))


def only_pack(store: ArtifactStore) -> Path:
    [pack] = [name for name in pack_files(store) if name.endswith(".pack")]
    return packs_folder(store) / pack


def test_a_batch_of_many_small_blobs_is_one_pack_and_its_index(
    store: ArtifactStore, tmp_path: Path
) -> None:
    on_disk, extra = contents(MANY // 2), contents(MANY - MANY // 2, tag="bytes")[1:]
    files = []
    for number, data in enumerate(on_disk):
        files.append(tmp_path / f"f{number}")
        files[-1].write_bytes(data)
    datas = [*on_disk, *extra]
    with store.batch() as batch:
        blobs = [batch.put_file(f) for f in files] + [batch.put_bytes(d) for d in extra]
        assert not any(store.exists(b.digest) for b in blobs)  # not visible yet
    assert [b.digest for b in blobs] == [digest_bytes(d) for d in datas]
    assert loose(store) == set()
    pack = only_pack(store)
    assert pack_files(store) == sorted([pack.name, pack.with_suffix(".idx").name])
    assert pack.stat().st_mode & 0o222 == 0
    assert pack.stat().st_size == sum(len(d) for d in datas)
    assert os.listdir(Path(store.location) / "tmp") == []
    assert sorted(store.digests()) == sorted({b.digest for b in blobs})
    # Another process's view: read from the index on disk.
    fresh = ArtifactStore(store.location)
    for blob in blobs:
        assert fresh.exists(blob.digest)
        assert fresh.local_path(blob.digest) is None  # no file of its own
        assert fresh.verify(blob.digest) == blob
    assert [fresh.read_bytes(b.digest) for b in blobs[: len(files)]] == [
        f.read_bytes() for f in files
    ]
    out = fresh.get_file(blobs[5].digest, tmp_path / "out" / "five")
    assert out.read_bytes() == files[5].read_bytes()
    copy = fresh.local_copy(blobs[6].digest, tmp_path / "cache" / "six")
    assert copy.read_bytes() == files[6].read_bytes()


def test_few_small_blobs_and_large_ones_stay_loose(store: ArtifactStore, tmp_path: Path) -> None:
    large = tmp_path / "large"
    large.write_bytes(os.urandom(SMALL + 1))
    with store.batch() as batch:
        few = [batch.put_bytes(d) for d in contents(PACK_MIN - 1)]
    with store.batch() as batch:
        many = [batch.put_bytes(d) for d in contents(MANY, tag="many")]
        big = batch.put_file(large)
    assert loose(store) == {b.digest for b in few} | {big.digest}
    assert len(pack_files(store)) == 2
    assert store.read_bytes(big.digest) == large.read_bytes()
    assert {*store.digests()} == {b.digest for b in [*few, *many, big]}


def test_a_flipped_byte_in_a_pack_is_caught_on_every_read_and_by_verify(
    store: ArtifactStore, tmp_path: Path
) -> None:
    datas = contents(MANY)
    with store.batch() as batch:
        blobs = [batch.put_bytes(d) for d in datas]
    pack = only_pack(store)
    # The 10th blob's first byte: it follows the others in the order they were put.
    at = sum(len(d) for d in datas[:10])
    flip_byte(pack, at)
    damaged, intact = blobs[10].digest, blobs[11].digest
    fresh = ArtifactStore(store.location)
    for reader in (store, fresh):
        with pytest.raises(DigestMismatch, match=damaged) as caught:
            reader.read_bytes(damaged, what="dataset pics@v1 file a/10.bin")
        assert "dataset pics@v1 file a/10.bin" in str(caught.value)
        assert str(pack) in str(caught.value)
        with pytest.raises(DigestMismatch, match=damaged):
            reader.verify(damaged)
        assert reader.read_bytes(intact) == datas[11]
    with pytest.raises(DigestMismatch, match=damaged):
        store.get_file(damaged, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(DigestMismatch, match=damaged):
        store.local_copy(damaged, tmp_path / "copy")
    # Discarded, then stored again: the good bytes are read, loose this time.
    assert store.discard_if_damaged(damaged)
    assert not ArtifactStore(store.location).exists(damaged)
    assert store.put_bytes(datas[10]).digest == damaged
    assert ArtifactStore(store.location).read_bytes(damaged) == datas[10]
    assert ArtifactStore(store.location).read_bytes(intact) == datas[11]


@pytest.mark.parametrize("crash", ["index never renamed", "index damaged", "pack cut short"])
def test_a_pack_without_a_good_index_is_not_trusted_and_a_new_put_repairs_it(
    store: ArtifactStore, crash: str
) -> None:
    datas = contents(MANY)
    with store.batch() as batch:
        blobs = [batch.put_bytes(d) for d in datas]
    pack = only_pack(store)
    index = pack.with_suffix(".idx")
    if crash == "index never renamed":  # where a writer killed before that rename leaves it
        index.rename(Path(store.location) / "tmp" / index.name)
    elif crash == "index damaged":
        flip_byte(index, 40)
    else:
        pack.chmod(0o644)
        os.truncate(pack, pack.stat().st_size - 1)
    fresh = ArtifactStore(store.location)
    assert not any(fresh.exists(b.digest) for b in blobs)
    assert list(fresh.digests()) == []
    with pytest.raises(BlobMissing, match=blobs[3].digest):
        fresh.read_bytes(blobs[3].digest)
    with fresh.batch() as batch:
        again = [batch.put_bytes(d) for d in datas]
    assert again == blobs
    repaired = ArtifactStore(store.location)
    assert [repaired.read_bytes(b.digest) for b in blobs] == datas
    assert len([n for n in pack_files(store) if n.endswith(".idx")]) == 1


def test_a_blob_stored_loose_or_in_another_pack_is_not_stored_again(
    store: ArtifactStore,
) -> None:
    loose_blob = store.put_bytes(b"stored alone, as stores did before packs")
    first = contents(MANY, tag="first")
    with store.batch() as batch:
        packed = [batch.put_bytes(d) for d in first]
    first_pack = only_pack(store)
    second = contents(MANY, tag="second")
    fresh = ArtifactStore(store.location)  # knows the first pack from its index only
    with fresh.batch() as batch:
        mixed = [batch.put_bytes(b"stored alone, as stores did before packs")]
        mixed += [batch.put_bytes(d) for d in first + second]
    [second_pack] = [
        packs_folder(store) / n
        for n in pack_files(store)
        if n.endswith(".pack") and n != first_pack.name
    ]
    # Only the second lot's bytes (its empty blob is the first lot's).
    assert second_pack.stat().st_size == sum(len(d) for d in second)
    assert loose(store) == {loose_blob.digest}
    assert {*store.digests()} == {b.digest for b in [loose_blob, *packed, *mixed]}
    reader = ArtifactStore(store.location)
    assert reader.read_bytes(loose_blob.digest) == b"stored alone, as stores did before packs"
    assert [reader.read_bytes(b.digest) for b in mixed[1:]] == first + second
    with store.batch() as batch:  # everything known: nothing written at all
        for data in first + second:
            batch.put_bytes(data)
    assert len(pack_files(store)) == 4


def test_puts_from_several_threads_share_one_pack(store: ArtifactStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    datas = [os.urandom(n % 700) + bytes([n % 256]) for n in range(2_000)]
    with store.batch() as batch, ThreadPoolExecutor(4) as pool:
        blobs = list(pool.map(batch.put_bytes, datas))
    assert only_pack(store).stat().st_size == sum(len(d) for d in {*datas})
    fresh = ArtifactStore(store.location)
    assert [fresh.read_bytes(b.digest) for b in blobs] == datas


def test_two_writers_of_the_same_blobs_at_once_leave_one_good_pack(store: ArtifactStore) -> None:
    """Each writer sees the other's blobs as missing and writes the same pack; the one
    renamed last replaces the other's, byte for byte."""
    datas = contents(MANY)
    other = ArtifactStore(store.location)
    with store.batch() as first, other.batch() as second:
        blobs = [first.put_bytes(d) for d in datas]
        assert [second.put_bytes(d) for d in datas] == blobs
    assert len(pack_files(store)) == 2
    assert sorted(ArtifactStore(store.location).digests()) == sorted({b.digest for b in blobs})
    for reader in (store, other, ArtifactStore(store.location)):
        assert [reader.read_bytes(b.digest) for b in blobs] == datas
