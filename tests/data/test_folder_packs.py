"""A folder of many small files is stored as one pack of the artifact store: it comes
back byte for byte through checkout and ``path()``, damage inside the pack is found
and named by file, and a pack a crash left without its index is stored again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml._verify import verify_workspace
from loopml.artifacts import digest_bytes
from loopml.artifacts._write import SMALL
from loopml.errors import DigestMismatch

SUBFOLDERS, PER_FOLDER = 6, 50


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


def write_folder(root: Path) -> dict[str, bytes]:
    """300 files of 0 bytes to 5 KiB in subfolders (two with the same bytes), and one
    file too large for a pack; relative path -> bytes."""
    files = {}
    for folder in range(SUBFOLDERS):
        for index in range(PER_FOLDER):
            number = folder * PER_FOLDER + index
            files[f"part-{folder}/item-{index:02d}.bin"] = os.urandom(number * 17 % 5_000)
    files["part-0/copy.bin"] = files["part-1/item-01.bin"]
    files["large.bin"] = os.urandom(SMALL + 100)
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return files


def store_files(ws: loopml.Workspace, kind: str) -> list[Path]:
    """The store's pack files of ``kind`` ("pack" or "idx"), or its loose blobs."""
    blobs = Path(ws.artifacts.location) / "blobs"
    if kind == "loose":
        return sorted(blobs.glob("??/*"))
    return sorted((blobs / "packs").glob(f"*.{kind}"))


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".complete"
    }


def test_a_folder_of_small_files_round_trips_through_one_pack(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    files = write_folder(tmp_path / "pics")
    version = loopml.data.add(tmp_path / "pics", name="pics", workspace=ws)
    assert version.metadata["files"] == len(files)
    # One pack with every small file once, and the manifest; the large file is loose.
    [pack] = store_files(ws, "pack")
    small = {digest_bytes(d): d for p, d in files.items() if p != "large.bin"}
    manifest = ws.artifacts.read_bytes(version.digest)
    assert pack.stat().st_size == sum(len(d) for d in small.values()) + len(manifest)
    assert [p.parent.name + p.name for p in store_files(ws, "loose")] == [
        digest_bytes(files["large.bin"])
    ]

    assert files_under(version.checkout(tmp_path / "out")) == files
    assert files_under(loopml.data.get("pics@v1", workspace=ws).path()) == files
    found = verify_workspace(ws)
    assert found.damage == []
    assert found.blobs == len(small) + 2  # the small files, the large one, the manifest


def test_a_flipped_byte_in_the_pack_is_found_and_named_by_file(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    files = write_folder(tmp_path / "pics")
    loopml.data.add(tmp_path / "pics", name="pics", workspace=ws)
    [pack] = store_files(ws, "pack")
    target = files["part-3/item-07.bin"]
    at = pack.read_bytes().index(target) + len(target) // 2
    pack.chmod(0o644)
    with pack.open("r+b") as stream:
        stream.seek(at)
        stream.write(bytes([target[len(target) // 2] ^ 0x80]))

    found = verify_workspace(ws)
    assert [(d.record, d.part, d.problem) for d in found.damage] == [
        ("dataset pics@v1", "file part-3/item-07.bin", "corrupt")
    ]
    assert digest_bytes(target) in found.damage[0].message
    with pytest.raises(DigestMismatch, match=r"part-3/item-07\.bin"):
        loopml.data.get("pics@v1", workspace=ws).checkout(tmp_path / "out")
    with pytest.raises(DigestMismatch, match=r"part-3/item-07\.bin"):
        loopml.data.get("pics@v1", workspace=ws).path()


def test_a_pack_left_without_its_index_is_not_trusted_and_a_re_add_repairs_it(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    files = write_folder(tmp_path / "pics")
    loopml.data.add(tmp_path / "pics", name="pics", workspace=ws)
    [index] = store_files(ws, "idx")
    # What a writer killed between the pack's rename and its index's leaves: the pack
    # in place, its index among the temporary files.
    index.rename(Path(ws.artifacts.location) / "tmp" / index.name)

    with loopml.workspace(ws.root) as other:  # another process: it reads the folder anew
        found = verify_workspace(other)
        assert {d.problem for d in found.damage} == {"missing"}
        assert len(found.damage) == 1  # the manifest: its files are not looked at then
        # The same files added again (the stat cache knows them; the store does not).
        again = loopml.data.add(tmp_path / "pics", name="pics-again", workspace=other)
        assert files_under(again.checkout(tmp_path / "out")) == files
        assert verify_workspace(other).damage == []
        assert files_under(loopml.data.get("pics@v1", workspace=other).path()) == files
