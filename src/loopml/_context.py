"""Which workspace a call without ``workspace=`` uses, and which run its records name.

One rule for every package: the workspace given; else the active run's (the run of a
``with loopml.start_run(...)`` block or a pipeline step, or the script's own run);
else the workspace made active for a block (:func:`loopml.workspace.active`); else the
one found from the current folder or the ``LOOPML_*`` variables.

In strict mode (:func:`loopml.strict_mode`, for servers and loop controllers, which serve
several workspaces or none in particular) the last fallback is an error: a call must
name its workspace or run inside a run or block that does. Strict mode also keeps the
process-wide exit hooks of tracking from being installed by a run: such a process
installs them itself if it wants them.

The active run lives here rather than in tracking so that data and models, below
tracking, can name the run that made a record without importing it.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Protocol

from loopml.errors import ConfigError
from loopml.workspace import Workspace, active_workspace, current


class RunInContext(Protocol):
    """What this module needs of a run being written to (tracking's ``ActiveRun``)."""

    @property
    def ws(self) -> Workspace: ...

    @property
    def id(self) -> str: ...

    @property
    def ended(self) -> bool: ...

    def materialize(self) -> None:
        """Write a run kept in memory so far to the store, so records can name it."""


_RUN: contextvars.ContextVar[RunInContext | None] = contextvars.ContextVar(
    "loopml_active_run", default=None
)
_script_run: RunInContext | None = None
_strict = False
_STRICT_LOCK = threading.Lock()


def enter_run(run: RunInContext) -> contextvars.Token[RunInContext | None]:
    """Make ``run`` the active run of this context; give the token to :func:`leave_run`."""
    return _RUN.set(run)


def leave_run(token: contextvars.Token[RunInContext | None]) -> None:
    _RUN.reset(token)


def entered_run() -> RunInContext | None:
    """The run of the innermost run block or step, if any (not the script's own run)."""
    return _RUN.get()


def set_script_run(run: RunInContext | None) -> None:
    """The run a script's ``log_*`` calls started, active wherever no other run is."""
    global _script_run
    _script_run = run


def script_run() -> RunInContext | None:
    """The script's own run, ended or not, if ``log_*`` started one."""
    return _script_run


def active_run() -> RunInContext | None:
    """The run of the innermost run block or step, else the script's own run, if any."""
    found = _RUN.get()
    if found is not None:
        return found
    script = _script_run
    return script if script is not None and not script.ended else None


def workspace_in_use(workspace: Workspace | None = None) -> Workspace:
    """``workspace`` when given; else the active run's; else the active block's; else
    (outside strict mode) the one found from the current folder or the environment."""
    if workspace is not None:
        return workspace
    around = active_run()
    if around is not None:
        return around.ws
    block = active_workspace()
    if block is not None:
        return block
    if _strict:
        raise ConfigError(
            "no workspace given, and this process is in strict mode (a server or a loop "
            "controller), where the current folder's workspace is never used; pass "
            "workspace=loopml.workspace(...) or run inside loopml.workspace.active(ws)",
            field="workspace",
        )
    return current()


def run_making_records(ws: Workspace) -> str | None:
    """The id of the active run of ``ws``, for a record made now to name as the run that
    made it (a run kept in memory is written to the store first); None outside a run."""
    around = active_run()
    if around is None or around.ws.settings != ws.settings:
        return None
    around.materialize()
    return around.id


def strict_mode(enabled: bool = True) -> bool:
    """Turn strict mode on (or off) for the whole process; returns whether it was on."""
    global _strict
    with _STRICT_LOCK:
        before, _strict = _strict, bool(enabled)
    return before


def is_strict() -> bool:
    """Whether the process is in strict mode."""
    return _strict
