"""The run that ``loopml.log_*`` calls write to.

Inside a pipeline step it is the step's run. ``with loopml.start_run(...)`` starts one
(a child of the run around it, if any). A ``log_*`` call with no run around it starts
one for the script, ended when the process exits. Every run not ended when the
process exits — normally, by an uncaught exception, or by SIGTERM — is ended then, its
buffered metrics written first.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import dataclasses
import os
import signal
import socket
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from loopml import _context
from loopml._context import run_making_records as run_making_records
from loopml._context import workspace_in_use as workspace_in_use
from loopml._ids import short_id
from loopml.tracking._buffer import (
    MetricBuffer,
    add_finished_run,
    flush_runs,
    with_rejected,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from loopml.store import Artifact, MetricPoint, Run, RunStatus
    from loopml.workspace import Workspace

_OPEN: set[ActiveRun] = set()
_OPEN_LOCK = threading.Lock()
_SCRIPT_LOCK = threading.Lock()


class ActiveRun:
    """A run being written to: its parameters, metrics, tags and artifacts."""

    def __init__(
        self,
        ws: Workspace,
        run: Run,
        *,
        owned: bool,
        deferred: bool = False,
    ) -> None:
        self.ws = ws
        self.id = run.id
        self.name = run.name
        self._owned = owned  # started here, so ended here (a step's run is the pipeline's)
        # Deferred: the run lives here until it ends, then is recorded whole in the
        # background; anything that needs it in the store (an artifact, a child run)
        # writes it first.
        self._record: Run | None = run if deferred else None
        self._handed_over = False
        self._buffer = MetricBuffer(ws.store, run.id, held=deferred)
        self._steps: dict[str, int] = {}
        self._token: contextvars.Token[_context.RunInContext | None] | None = None
        self.ended = False
        with _OPEN_LOCK:
            _OPEN.add(self)

    def __repr__(self) -> str:
        return f"<loopml run {self.name} {short_id(self.id)}>"

    @property
    def run(self) -> Run:
        """The run's record as it is now."""
        if self._record is not None:
            return self._record
        if self._handed_over:  # an ended deferred run may still wait for the writer
            flush_runs()
        return self.ws.store.get_run(self.id)

    def materialize(self) -> None:
        """Write a deferred run to the store now, as running."""
        if self._record is not None:
            self.ws.store.record_runs([(self._record, [])])
            self._record = None
            self._buffer.release()

    # -- what a run records ---------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Buffer one point; ``step`` defaults to one more than this key's last step."""
        if step is None:
            step = self._steps.get(key, -1) + 1
        self._buffer.add(key, value, step)
        self._steps[key] = max(step, self._steps.get(key, step))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        if self._record is None:
            self.ws.store.log_params(self.id, params)
            return
        from loopml.store.values import merge_params

        merged = merge_params(self.id, self._record.params, params)
        self._record = dataclasses.replace(self._record, params=merged)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if self._record is None:
            self.ws.store.set_run_tags(self.id, tags)
            return
        from loopml.store.values import json_object

        merged = {**self._record.tags, **json_object("run tags", tags)}
        self._record = dataclasses.replace(self._record, tags=merged)

    def log_artifact(self, value: Any, name: str | None = None) -> Artifact:
        from loopml.tracking._artifacts import log_artifact

        self.materialize()
        return log_artifact(self, value, name)

    def flush(self) -> None:
        """Write the buffered metric points now."""
        self._buffer.flush()

    # -- ending ---------------------------------------------------------------------

    def end(self, status: RunStatus | str = "succeeded", error: str | None = None) -> None:
        """Write what is buffered and, for a run started here, record how it ended."""
        from loopml.store import RunStatus

        if self.ended:
            return
        self.ended = True
        with _OPEN_LOCK:
            _OPEN.discard(self)
        left = self._buffer.close()
        if self._record is not None:
            ended = dataclasses.replace(
                self._record,
                status=RunStatus(status),
                ended_at=_now(),
                error=with_rejected(error, self._buffer.rejected),
            )
            self._record = None
            add_finished_run(self.ws.store, ended, left)
            self._handed_over = True
        elif self._owned:
            self._finish(RunStatus(status), error, left)
        elif left:
            self._buffer.write_apart(left)

    def _finish(self, status: RunStatus, error: str | None, left: list[MetricPoint]) -> None:
        """Record the run's end with its last points, in one transaction; should the
        store refuse one of the points, the others are written apart and the run still
        ends, its error naming the refused ones."""
        from loopml.errors import InvalidInput

        store = self.ws.store
        if not self._buffer.rejected:
            try:
                store.finish_run(self.id, status, error=error, metrics=left)
                return
            except InvalidInput:
                if not left:
                    raise  # about the run itself (already finished, say), not a point
        self._buffer.write_apart(left)
        store.finish_run(self.id, status, error=with_rejected(error, self._buffer.rejected))

    def __enter__(self) -> ActiveRun:
        self._token = _context.enter_run(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _context.leave_run(self._token)
            self._token = None
        if error is None:
            self.end()
        elif isinstance(error, KeyboardInterrupt):
            self.end("killed", "interrupted")
        else:
            self.end("failed", f"{type(error).__name__}: {error}")


def start_run(
    name: str | None = None,
    *,
    kind: str = "training",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    parent: str | None = None,
    workspace: Workspace | None = None,
    record_origin: bool = True,
    deferred: bool = False,
) -> ActiveRun:
    """Start a run; use it as ``with loopml.start_run("fit") as run:``. Inside another
    run (or a pipeline step) it is that run's child, unless ``parent`` names another.
    ``record_origin=False`` leaves out the script, git state and installed packages,
    for many small runs (tuning trials) whose parent records them. ``deferred=True``
    writes nothing until the run ends and then records it whole in the background (at
    most 0.2 s later, and at exit): for many short runs, where two writes each would
    cost more than the work; a process killed with SIGKILL loses the deferred runs not
    yet written."""
    around = cast("ActiveRun | None", _context.entered_run())  # a script's run has no children
    ws = _context.workspace_in_use(workspace)  # one found is kept open for the process
    if parent is None and around is not None:
        parent = around.id
    if around is not None and parent == around.id:
        around.materialize()  # a child needs its parent in the store
    script = _script() if record_origin or not name else None
    fields: dict[str, Any] = {
        "kind": kind,
        "name": name or (script.stem if script else "run"),
        "params": params,
        "parent_id": parent,
        "code": _code(script) if record_origin else None,
        "environment": _environment() if record_origin else None,
        "tags": tags,
    }
    run = _local_run(**fields) if deferred else ws.store.create_run(**fields)
    if not _context.is_strict():  # a server or controller installs its own, if any
        install_exit_hooks()
    return ActiveRun(ws, run, owned=True, deferred=deferred)


def _local_run(
    *,
    kind: str,
    name: str,
    params: Mapping[str, Any] | None,
    parent_id: str | None,
    code: Mapping[str, Any] | None,
    environment: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
) -> Run:
    """A run's record made here, checked as the store would check it."""
    from loopml._ids import new_id
    from loopml.store import Run, RunStatus
    from loopml.store.values import check_length, json_object

    check_length("run kind", kind, 64)
    check_length("run name", name, 255)
    return Run(
        id=new_id(),
        kind=kind,
        name=name,
        status=RunStatus.RUNNING,
        params=json_object("run params", params),
        parent_id=parent_id,
        fingerprint=None,
        code=json_object("run code", code),
        environment=json_object("run environment", environment),
        tags=json_object("run tags", tags),
        host=_HOST,
        pid=os.getpid(),
        started_at=_now(),
        ended_at=None,
        error=None,
    )


_HOST = socket.gethostname()


def _now() -> datetime:
    return datetime.now(UTC)


def attach(ws: Workspace, run: Run) -> ActiveRun:
    """The run of a pipeline step, for ``loopml.log_*`` calls in its body; ending it
    writes the buffered metrics and leaves the run itself to the pipeline."""
    return ActiveRun(ws, run, owned=False)


def active_run() -> ActiveRun | None:
    """The run ``log_*`` calls write to now, if any."""
    return cast("ActiveRun | None", _context.active_run())


def run_for_logging() -> ActiveRun:
    """The active run, or the script's own run, started on first use."""
    found = active_run()
    if found is not None:
        return found
    with _SCRIPT_LOCK:
        script = active_run()
        if script is None:
            script = start_run()
            _context.set_script_run(script)
            install_exit_hooks()  # a script's own run is ended when the script ends
        return script


def end_run(status: str = "succeeded") -> None:
    """End the script's own run (the one ``log_*`` started), if any."""
    script = _context.script_run()
    if script is not None:
        cast("ActiveRun", script).end(status)


# -- where the run comes from ----------------------------------------------------------


def _script() -> Path | None:
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    return Path(file).absolute() if file else None


def _code(script: Path | None) -> dict[str, Any]:
    from loopml._env import recent_git_state

    folder = script.parent if script is not None else Path.cwd()
    files = [os.path.realpath(script)] if script is not None else []
    return {"file": str(script) if script else None, "git": recent_git_state(folder, files)}


def _environment() -> dict[str, Any]:
    from loopml._env import environment

    return environment()


# -- ending what is left open when the process ends ------------------------------------

_hooks_installed = False
_uncaught: list[BaseException] = []


def install_exit_hooks() -> None:
    """End every run left open when the process ends: normally (atexit), after an
    uncaught exception (recorded as failed) or on SIGTERM (recorded as killed).

    Installed once per process; a script's runs install it on first use, a process in
    strict mode (a server, a controller) only by calling this."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_end_all)
    previous_hook = sys.excepthook

    def remember(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        _uncaught.append(error)
        previous_hook(kind, error, tb)

    sys.excepthook = remember
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _end_all() -> None:
    from loopml.errors import LoopmlError

    with _OPEN_LOCK:
        left = list(_OPEN)
    for run in left:
        try:
            if _uncaught:
                error = _uncaught[-1]
                run.end("failed", f"{type(error).__name__}: {error}")
            else:
                run.end()
        except LoopmlError as error:  # the others are still ended; one line, no traceback
            print(f"loopml: run {run.name} {short_id(run.id)} not ended: {error}", file=sys.stderr)
    try:
        flush_runs()
    except LoopmlError as error:
        print(f"loopml: finished runs not recorded: {error}", file=sys.stderr)


def _on_sigterm(signum: int, frame: Any) -> None:
    with _OPEN_LOCK:
        left = list(_OPEN)
    for run in left:
        try:
            run.end("killed", "terminated (SIGTERM)")
        except Exception:  # the process is going down anyway; end the others
            continue
    with contextlib.suppress(Exception):
        flush_runs()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
