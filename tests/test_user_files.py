"""The one writer of files at paths a user names: a different file is replaced only with
force, a link, FIFO, device or folder never, the bytes land whole, with the mode a new
file gets under the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from loopml._user_files import write_user_file, write_user_text
from loopml.errors import InvalidInput, NotWritable


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_a_new_file_gets_the_usual_mode_and_no_temporary_is_left(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "out" / "a.txt"
    assert write_user_text(path, "hello\n", what="the text")
    assert path.read_text() == "hello\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.umask(0o002)
    assert write_user_text(tmp_path / "b.txt", "x", what="the text")
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o664
    assert leftovers(tmp_path) == leftovers(tmp_path / "out") == []


def test_a_different_file_is_replaced_only_with_force(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("mine\n")
    with pytest.raises(InvalidInput, match=r"a\.txt: a file with other content.*--force"):
        write_user_text(path, "theirs\n", what="the text")
    assert path.read_text() == "mine\n"
    assert write_user_text(path, "theirs\n", what="the text", force=True)
    assert path.read_text() == "theirs\n"
    assert leftovers(tmp_path) == []


def test_an_identical_file_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("same\n")
    before = path.stat()
    assert not write_user_text(path, "same\n", what="the text")
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def special_files(tmp_path: Path) -> dict[str, Path]:
    """A link to a file, a link to nowhere, a FIFO, a folder, and a character device
    (like /dev/full: 1, 7) when this process may make one."""
    target = tmp_path / "target.txt"
    target.write_text("the target\n")
    made = {
        "link": tmp_path / "link.txt",
        "dangling link": tmp_path / "dangling.txt",
        "fifo": tmp_path / "fifo",
        "folder": tmp_path / "folder",
    }
    made["link"].symlink_to(target)
    made["dangling link"].symlink_to(tmp_path / "nowhere")
    os.mkfifo(made["fifo"])
    made["folder"].mkdir()
    try:
        os.mknod(tmp_path / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))
        made["device"] = tmp_path / "full"
    except OSError:  # not root, or no CAP_MKNOD here: the other kinds still run
        pass
    return made


KINDS = {
    "link": "a symbolic link",
    "dangling link": "a symbolic link",
    "fifo": "a FIFO",
    "folder": "a folder",
    "device": "a character device",
}


@pytest.mark.parametrize("force", [False, True])
def test_a_link_fifo_device_or_folder_is_never_replaced(tmp_path: Path, force: bool) -> None:
    for kind, path in special_files(tmp_path).items():
        before = os.lstat(path)
        with pytest.raises(InvalidInput, match=f"it is {KINDS[kind]}.*not even with --force"):
            write_user_text(path, "bytes\n", what="the text", force=force)
        after = os.lstat(path)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode), kind
        assert after.st_ino == before.st_ino, kind
    assert (tmp_path / "target.txt").read_text() == "the target\n"  # not written through
    assert not (tmp_path / "nowhere").exists()
    assert leftovers(tmp_path) == []


def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"

    def fill(out: BinaryIO) -> None:
        out.write(b"ours\n")
        path.write_text("someone else's\n")  # another program, meanwhile

    with pytest.raises(InvalidInput, match="other content"):
        write_user_file(path, fill, what="the text")
    assert path.read_text() == "someone else's\n"
    assert leftovers(tmp_path) == []


def test_a_link_that_appears_while_writing_is_not_replaced_even_with_force(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.txt"
    (tmp_path / "target.txt").write_text("the target\n")

    def fill(out: BinaryIO) -> None:
        out.write(b"ours\n")
        path.symlink_to(tmp_path / "target.txt")

    with pytest.raises(InvalidInput, match="symbolic link"):
        write_user_file(path, fill, what="the text", force=True)
    assert path.is_symlink()
    assert (tmp_path / "target.txt").read_text() == "the target\n"


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("mine\n")

    def fill(out: BinaryIO) -> None:
        out.write(b"half")
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError):
        write_user_file(path, fill, what="the text", force=True)
    assert path.read_text() == "mine\n"
    assert leftovers(tmp_path) == []


def test_a_path_through_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="part of that path is a file"):
        write_user_text(tmp_path / "file" / "a.txt", "x", what="the text")


def test_an_unwritable_folder_is_named(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(NotWritable, match="folder you can write to"):
            write_user_text(folder / "a.txt", "x", what="the text")
    finally:
        folder.chmod(0o755)
