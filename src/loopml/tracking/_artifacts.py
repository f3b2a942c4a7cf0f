"""``log_artifact``: a file, a folder or a Python object, stored and linked to a run as
one of its outputs.

A file keeps its bytes; a folder is stored as one blob per file plus a manifest (as a
folder dataset is); an object is stored by type as a step's output is (a DataFrame as
Parquet, an array as .npy, plain values as JSON, the rest as a pickle). Each is the
next version of ``RUN_NAME/NAME`` (kind ``file`` or ``object``), so the same file
logged by every run of ``train`` is ``train/confusion.png@v1``, ``@v2``, ...
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.store import Artifact
    from loopml.tracking._active import ActiveRun


def log_artifact(run: ActiveRun, value: Any, name: str | None) -> Artifact:
    from loopml.refs import check_name

    if isinstance(value, str | Path):
        path = Path(value)
        if not path.exists():
            raise InvalidInput(
                f"log_artifact: no file or folder at {path}; give the path of one, or an "
                "object other than a str (a DataFrame, an array, a dict...) to store it"
            )
        full = check_name(f"{run.name}/{name or _safe(path.name)}", "artifact name")
        if path.is_dir():
            return _folder(run, path, full)
        return run.ws.add_file(path, kind=ArtifactKind.FILE, name=full, run_id=run.id)
    if name is None:
        raise InvalidInput(
            f"log_artifact: a {type(value).__name__} needs a name to be stored under; "
            "pass name='...'"
        )
    from loopml._serialize import record_value

    full = check_name(f"{run.name}/{name}", "artifact name")
    return record_value(run.ws, value, kind=ArtifactKind.OBJECT, name=full, run_id=run.id)


def _folder(run: ActiveRun, path: Path, name: str) -> Artifact:
    from loopml.data._files import MANIFEST_FORMAT, store_folder
    from loopml.data._versions import stat_cache

    ws = run.ws
    entries, manifest = store_folder(ws.artifacts, path, stat_cache(ws))
    blob = ws.artifacts.put_bytes(manifest)
    return ws.record(
        blob.digest,
        blob.size,
        kind=ArtifactKind.FILE,
        name=name,
        metadata={
            "format": MANIFEST_FORMAT,
            "file_name": path.name,
            "files": len(entries),
            "bytes": sum(e.size for e in entries),
        },
        run_id=run.id,
    )


def _safe(file_name: str) -> str:
    """A file name as an artifact name part: other characters become '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", file_name).strip("-.") or "file"
    return cleaned if cleaned[0].isalnum() else f"f{cleaned}"
