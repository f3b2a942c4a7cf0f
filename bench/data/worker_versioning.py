"""loopml's versioning calls, timed inside one process; runs in ``.venv``.

Usage:
- ``worker_versioning.py folder DATA WORKSPACE CHANGED``: ``loopml.data.add`` of the
  folder DATA into a new workspace, again unchanged, and again after one byte was
  appended to DATA/CHANGED (put back afterwards); then every blob of the workspace
  verified (``loopml verify``'s work) and the first version checked out into a new
  folder, each in a workspace opened anew.
- ``worker_versioning.py file PATH WORKSPACE``: ``ArtifactStore.put_file`` of PATH.
- ``worker_versioning.py table PATH WORKSPACE``: ``loopml.data.add`` of a CSV or
  Parquet file, then again unchanged.

loopml is imported and the workspace made and opened before any timer starts; each
timer covers the one call. Prints one JSON line: wall seconds per step, the CPU
seconds of each step in order (``cpu_s``, all threads), and what was made.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import loopml
import loopml.data
from loopml._verify import verify_workspace

CPU: dict[str, float] = {}


def timed(call: Any) -> tuple[float, Any]:
    """Wall seconds of one call, and its result; its CPU (all threads) goes to CPU."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = call()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    CPU[f"call{len(CPU)}"] = cpu
    return wall, result


def folder(data: Path, ws: loopml.Workspace, changed: Path) -> dict[str, Any]:
    add, v1 = timed(lambda: loopml.data.add(data, name="small", workspace=ws))
    again, same = timed(lambda: loopml.data.add(data, name="small", workspace=ws))
    original = changed.read_bytes()
    changed.write_bytes(original + b"!")
    try:
        after, v2 = timed(lambda: loopml.data.add(data, name="small", workspace=ws))
    finally:
        changed.write_bytes(original)
    assert (v1.version, same.version, v2.version) == (1, 1, 2)
    root = ws.root
    assert root is not None
    # Each in a workspace opened anew; verify first, as this process has hashed
    # nothing yet (a loose blob read once is not hashed again while unchanged).
    with loopml.workspace(root) as fresh:
        verify, found = timed(lambda: verify_workspace(fresh))
    assert found.damage == []
    with loopml.workspace(root) as fresh:
        version = loopml.data.get("small@v1", workspace=fresh)
        checkout, _ = timed(lambda: version.checkout(root / "checkout"))
    return {
        "add_s": add,
        "readd_s": again,
        "change_s": after,
        "checkout_s": checkout,
        "verify_s": verify,
        "files": v1.metadata["files"],
    }


def one_file(path: Path, ws: loopml.Workspace) -> dict[str, Any]:
    seconds, blob = timed(lambda: ws.artifacts.put_file(path))
    return {"put_s": seconds, "bytes": blob.size}


def table(path: Path, ws: loopml.Workspace) -> dict[str, Any]:
    add, v1 = timed(lambda: loopml.data.add(path, name="table", workspace=ws))
    again, same = timed(lambda: loopml.data.add(path, name="table", workspace=ws))
    assert same.version == v1.version == 1
    return {"add_s": add, "readd_s": again, "rows": v1.rows}


def main(argv: list[str]) -> None:
    mode, target, workspace = argv[0], Path(argv[1]), Path(argv[2])
    workspace.mkdir(parents=True, exist_ok=True)
    ws = loopml.init(workspace)
    ws.store.info()
    ws.artifacts.prepare()
    importlib.import_module("loopml.data._api")  # what the first add would import
    if mode == "folder":
        found = folder(target, ws, target / argv[3])
    elif mode == "file":
        found = one_file(target, ws)
    else:
        found = table(target, ws)
    ws.close()
    print(json.dumps({**found, "cpu_s": list(CPU.values())}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
