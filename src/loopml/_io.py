"""Writing a small text file whole or not at all."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from loopml.errors import NotWritable


def write_text_atomic(path: Path, text: str, *, fix: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a
    rename, so a reader sees the old file or the new one, never half of one. ``fix``
    ends the NotWritable message when the folder cannot be written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per writing process
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise NotWritable(f"cannot write {path}: {error.strerror or error}; {fix}") from None
