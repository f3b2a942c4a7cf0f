"""Commands that write where the user points them (`data checkout`, `artifacts get`,
`data validate --report`, `export airflow`) never replace what they were not told to:
a file with other content only with --force, a link, FIFO or device never; checked-out
files get the usual mode."""

from __future__ import annotations

import os
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_bad_input import assert_user_error

import loopml

CSV = "a,b\n1,2\n3,4\n"


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the command inherits it
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def workspace(cli, tmp_path: Path) -> Path:
    """Dataset table@v1 (a CSV) and @v2, folder files@v1 (two files), artifact notes@v1."""
    cli("init", check=True)
    (tmp_path / "table.csv").write_text(CSV)
    (tmp_path / "table2.csv").write_text(CSV + "5,6\n")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "x.txt").write_text("x\n")
    (tmp_path / "files" / "sub").mkdir()
    (tmp_path / "files" / "sub" / "y.txt").write_text("y\n")
    (tmp_path / "notes.md").write_text("notes\n")
    with loopml.workspace(tmp_path) as ws:
        loopml.data.add(tmp_path / "table.csv", name="table", workspace=ws)
        loopml.data.add(tmp_path / "table2.csv", name="table", workspace=ws)
        loopml.data.add(tmp_path / "files", name="files", workspace=ws)
        ws.add_file(tmp_path / "notes.md", name="notes")
    (tmp_path / "out").mkdir()
    return tmp_path


def write_commands(dest: str) -> dict[str, list[str]]:
    """Each command that writes a file, writing to ``dest``."""
    return {
        "data checkout": ["data", "checkout", "table@v1", dest],
        "artifacts get": ["artifacts", "get", "notes", dest],
        "data validate --report": ["data", "validate", "table@v2", "--report", dest],
        "export airflow": ["export", "airflow", "flow.py:flow", "-o", dest],
    }


FLOW = """
import loopml

@loopml.step
def one() -> int:
    return 1

@loopml.pipeline
def flow():
    return one()
"""


def special(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Paths holding what is never replaced, with how the error names each. A
    character device (made like /dev/full) only where this process may make one."""
    (tmp_path / "target.txt").write_text("the target\n")
    made = {
        "link": (tmp_path / "link", "a symbolic link"),
        "fifo": (tmp_path / "fifo", "a FIFO"),
    }
    made["link"][0].symlink_to(tmp_path / "target.txt")
    os.mkfifo(made["fifo"][0])
    try:
        os.mknod(tmp_path / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))
        made["device"] = (tmp_path / "full", "a character device")
    except OSError:
        pass
    return made


@pytest.mark.parametrize("command", list(write_commands("")))
def test_a_file_with_other_content_is_replaced_only_with_force(
    cli, workspace: Path, command: str, umask_022: None
) -> None:
    (workspace / "flow.py").write_text(textwrap.dedent(FLOW))
    dest = workspace / "out" / "taken"
    dest.write_text("someone's work\n")
    dest.chmod(0o600)
    args = write_commands(str(dest))[command]
    assert_user_error(cli(*args), str(dest), "other content", "--force")
    assert dest.read_text() == "someone's work\n"
    replaced = cli(*args, "--force")
    assert replaced.code in (0, 1), replaced  # validate exits 1 on errors it finds
    assert dest.read_text() != "someone's work\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644  # the usual mode, not 0600
    assert [p.name for p in (workspace / "out").iterdir()] == ["taken"]  # no temporary


@pytest.mark.parametrize("command", list(write_commands("")))
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_links_fifos_and_devices_are_never_replaced(
    cli, workspace: Path, command: str, force: list[str]
) -> None:
    (workspace / "flow.py").write_text(textwrap.dedent(FLOW))
    for kind, (path, named) in special(workspace / "out").items():
        before = os.lstat(path)
        result = cli(*write_commands(str(path))[command], *force)
        assert_user_error(result, str(path), named, "not even with --force")
        after = os.lstat(path)
        assert (stat.S_IFMT(after.st_mode), after.st_ino) == (
            stat.S_IFMT(before.st_mode),
            before.st_ino,
        ), kind
    assert (workspace / "out" / "target.txt").read_text() == "the target\n"


def test_checkout_gives_the_usual_mode_and_leaves_an_identical_file(
    cli, workspace: Path, umask_022: None
) -> None:
    dest = workspace / "out" / "t.csv"
    cli("data", "checkout", "table@v1", str(dest), check=True)
    assert dest.read_text() == CSV
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    before = dest.stat()
    again = cli("data", "checkout", "table@v1", str(dest))
    assert again.code == 0, again  # the same bytes: nothing to refuse, nothing written
    after = dest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    got = cli("artifacts", "get", "notes", str(workspace / "out" / "n.md"), check=True)
    assert got.code == 0
    assert stat.S_IMODE((workspace / "out" / "n.md").stat().st_mode) == 0o644


def test_a_folder_checkout_replaces_nothing_it_was_not_told_to(
    cli, workspace: Path, umask_022: None
) -> None:
    dest = workspace / "out" / "files"
    cli("data", "checkout", "files", str(dest), check=True)
    assert (dest / "sub" / "y.txt").read_text() == "y\n"
    assert stat.S_IMODE((dest / "x.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "sub").stat().st_mode) == 0o755

    (dest / "x.txt").write_text("edited\n")
    (dest / "mine.txt").write_text("mine\n")
    assert_user_error(cli("data", "checkout", "files", str(dest)), "not an empty folder")
    assert (dest / "x.txt").read_text() == "edited\n"

    # With --force: a file with other content is replaced, the user's own file stays.
    cli("data", "checkout", "files", str(dest), "--force", check=True)
    assert (dest / "x.txt").read_text() == "x\n"
    assert (dest / "mine.txt").read_text() == "mine\n"

    # A link where a file goes is refused even with --force, before a byte is written.
    (dest / "x.txt").write_text("edited again\n")
    (dest / "sub" / "y.txt").unlink()
    (dest / "sub" / "y.txt").symlink_to(workspace / "out" / "elsewhere.txt")
    result = cli("data", "checkout", "files", str(dest), "--force")
    assert_user_error(result, "sub/y.txt", "a symbolic link")
    assert (dest / "x.txt").read_text() == "edited again\n"
    assert not (workspace / "out" / "elsewhere.txt").exists()  # nothing written through


def test_a_folder_link_inside_the_destination_is_not_followed_out(cli, workspace: Path) -> None:
    dest = workspace / "out" / "files"
    dest.mkdir()
    outside = workspace / "outside"
    outside.mkdir()
    (dest / "sub").symlink_to(outside)
    result = cli("data", "checkout", "files", str(dest), "--force")
    assert_user_error(result, "points outside")
    assert list(outside.iterdir()) == []
