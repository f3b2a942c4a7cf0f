"""Writing a file at a path the user named, never over something it was not told to.

Every command that writes where the user points it (a dataset checkout, ``artifacts
get``, a validation report, an exported DAG) writes through :func:`write_user_file`:

- an existing file with other content is refused unless ``force``; a file with the
  same content is left as it is;
- a symbolic link, FIFO, socket, device or folder at the path is never replaced, not
  even with ``force``: renaming over ``/dev/full``, a FIFO another program reads or a
  link the user keeps would break what is there, and is never what was asked;
- the bytes go to a temporary file in the same folder, put in place whole (by a hard
  link, which fails if anything appeared at the path meanwhile, or, with ``force``, a
  rename), so a reader sees the old file or the new one, never half of one;
- the file gets the mode any new file gets under the umask (0644 under umask 022), not
  the 0600 of a temporary file.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> write_user_text(path, "hello\\n", what="the notes")
    True
    >>> write_user_text(path, "hello\\n", what="the notes")  # the same: left as it is
    False
    >>> write_user_text(path, "other\\n", what="the notes")
    Traceback (most recent call last):
    ...
    loopml.errors.InvalidInput: cannot write the notes to ...: a file with other content ...
    >>> write_user_text(path, "other\\n", what="the notes", force=True)
    True
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from loopml.errors import InvalidInput, NotWritable

Fill = Callable[[BinaryIO], None]
Same = Callable[[Path], bool]

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def must_write(path: Path, *, what: str, force: bool = False, same: Same | None = None) -> bool:
    """Whether ``path`` is to be written: True when nothing is there (or, with
    ``force``, a regular file), False when ``same(path)`` says the file there already
    holds these bytes. Raises InvalidInput for anything else, before a byte is written,
    so a caller writing many files can check them all first."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        raise InvalidInput(
            f"cannot write {what} to {path}: a part of that path is a file, not a folder; "
            "give another path"
        ) from None
    except OSError as error:
        raise NotWritable(f"cannot write {what} to {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(found.st_mode):
        kind = next((name for test, name in _KINDS if test(found.st_mode)), "not a regular file")
        raise InvalidInput(
            f"cannot write {what} to {path}: it is {kind}, and loopml replaces only regular "
            "files (not even with --force); give another path"
        )
    if force:
        return True
    if same is not None and same(path):
        return False
    raise InvalidInput(
        f"cannot write {what} to {path}: a file with other content is there; add --force "
        "to replace it (force=True in Python), or give another path"
    )


def write_user_file(
    path: str | Path,
    fill: Fill,
    *,
    what: str,
    force: bool = False,
    same: Same | None = None,
) -> bool:
    """Write the bytes ``fill`` writes to a binary file at ``path``, under the rules
    of this module; True when written, False when an identical file was left as it
    was. ``what`` names the thing in messages, e.g. ``"dataset churn@v2"``."""
    path = Path(path)
    if not must_write(path, what=what, force=force, same=same):
        return False
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Mode 0666 through os.open: the kernel applies the umask (and default ACLs).
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as error:
        raise _not_writable(what, path, error) from None
    try:
        with os.fdopen(handle, "wb") as out:
            fill(out)
        return _put_in_place(tmp, path, what=what, force=force, same=same)
    except OSError as error:
        raise _not_writable(what, path, error) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_user_text(path: str | Path, text: str, *, what: str, force: bool = False) -> bool:
    """:func:`write_user_file` for text, written as UTF-8."""
    data = text.encode("utf-8")

    def same(existing: Path) -> bool:
        return existing.stat().st_size == len(data) and existing.read_bytes() == data

    def fill(out: BinaryIO) -> None:
        out.write(data)

    return write_user_file(path, fill, what=what, force=force, same=same)


def _put_in_place(tmp: Path, path: Path, *, what: str, force: bool, same: Same | None) -> bool:
    if not force:
        try:
            os.link(tmp, path)  # fails if anything is at path, whatever appeared meanwhile
            return True
        except FileExistsError:
            if not must_write(path, what=what, same=same):
                return False  # the same bytes, put there by another process
        except OSError:
            pass  # a filesystem without hard links: check, then rename
    must_write(path, what=what, force=force, same=same)  # right before the rename
    os.replace(tmp, path)
    return True


def _not_writable(what: str, path: Path, error: OSError) -> NotWritable:
    return NotWritable(
        f"cannot write {what} to {path}: {error.strerror or error}; give a path in a "
        "folder you can write to"
    )
