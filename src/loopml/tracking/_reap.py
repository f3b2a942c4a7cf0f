"""Runs left ``running`` by a process that is gone (killed, or its machine's power cut):
marked ``killed`` by whoever reads or starts runs on the machine that ran them, so that
``loopml runs list`` never shows a dead run as running. A run of another machine is
left as it is: whether its process lives cannot be told from here."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from loopml.errors import LoopmlError

if TYPE_CHECKING:
    from loopml.workspace import Workspace


def reap_dead_runs(ws: Workspace) -> list[str]:
    """Mark running runs of this machine whose process is gone as killed; their ids."""
    from loopml.store import RunStatus

    host = socket.gethostname()
    reaped = []
    for run in ws.store.find_runs(status=RunStatus.RUNNING):
        if run.host != host or run.pid == os.getpid() or _alive(run.pid):
            continue
        try:
            ws.store.finish_run(
                run.id, RunStatus.KILLED, error=f"its process ({run.pid}) ended before it finished"
            )
        except LoopmlError:
            continue  # finished meanwhile, or a store this process may not write
        reaped.append(run.id)
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
