"""Schedules: a pipeline recorded with a cadence, and the runner that runs what is due.

``add_schedule`` checks everything before it records anything: the cadence, the
timezone, that the file holds the pipeline, and the parameters against its signature.
``run_due`` claims due schedules one at a time and runs each in turn, so several
runners at once (two cron entries, two machines on one PostgreSQL store) share the
work and never run one occurrence twice. A schedule missed several times runs once,
and its next due time is its next occurrence after now.

>>> import tempfile, textwrap, loopml
>>> from datetime import UTC, datetime, timedelta
>>> folder = tempfile.mkdtemp()
>>> with open(f"{folder}/pipelines.py", "w") as file:
...     _ = file.write(textwrap.dedent('''
...         import loopml
...         @loopml.step
...         def square(x: int) -> int:
...             return x * x
...         @loopml.pipeline
...         def squares(n: int = 3):
...             return square(n)
...     '''))
>>> ws = loopml.init(folder)
>>> now = datetime(2030, 1, 1, tzinfo=UTC)
>>> added = add_schedule("hourly", f"{folder}/pipelines.py:squares", every="1h",
...                      params={"n": 4}, workspace=ws, now=now)
>>> added.next_due_at - now
datetime.timedelta(seconds=3600)
>>> run_due(workspace=ws, now=now, echo=False)
[]
>>> [(r.schedule, r.status) for r in run_due(workspace=ws, now=now + timedelta(hours=1),
...                                            echo=False)]
[('hourly', 'succeeded')]
>>> ws.close()
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml import _cadence
from loopml.errors import InvalidInput, LoopmlError, NotFound, StepFailed

if TYPE_CHECKING:
    from loopml.pipeline._graph import Pipeline
    from loopml.store import MetadataStore, Schedule
    from loopml.workspace import Workspace

DUE = "due"  # the status a dry run reports


@dataclass(frozen=True)
class ScheduledRun:
    """What ``run_due`` did with one schedule: the pipeline run it made (None when the
    pipeline failed before a run began) and that run's status."""

    schedule: str
    target: str
    status: str  # a run status, or "due" in a dry run
    run_id: str | None
    error: str | None = None
    traceback: str | None = None

    @property
    def failed(self) -> bool:
        return self.status not in ("succeeded", DUE)


def check_cadence(
    every: str | None, cron: str | None, timezone: str = "UTC"
) -> tuple[int | None, str | None]:
    """``(every_seconds, cron)`` from ``--every`` or ``--cron`` (exactly one), with the
    timezone checked too."""
    if (every is None) == (cron is None):
        raise InvalidInput(
            'give exactly one of --every (e.g. --every 1d) or --cron (e.g. --cron "0 3 * * *")'
        )
    every_seconds = None if every is None else _cadence.parse_every(every)
    cron = None if cron is None else _cadence.check_cron(cron)
    _cadence.zone(timezone)
    return every_seconds, cron


def resolved_target(target: str, pipeline: Pipeline) -> str:
    """``target`` with its file made absolute and its pipeline named."""
    file_part, _, name = target.rpartition(":") if ":" in target else (target, "", "")
    return f"{Path(file_part).absolute()}:{name or pipeline.name}"


def add_schedule(
    name: str,
    target: str,
    *,
    every: str | None = None,
    cron: str | None = None,
    params: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    workspace: Workspace | None = None,
    now: datetime | None = None,
    pipeline: Pipeline | None = None,
) -> Schedule:
    """Record that pipeline ``target`` (``path/to/file.py:name``) runs ``every`` interval
    (``30s``, ``15m``, ``1h``, ``1d``, ``2w``, ``1h30m``) or at the times of a ``cron``
    expression read in ``timezone``, with ``params``. It is first due at its first
    occurrence after ``now``. ``pipeline`` is the loaded target, when the caller has it.
    """
    from loopml._context import workspace_in_use
    from loopml.pipeline._load import load_pipeline
    from loopml.refs import check_name

    check_name(name, "schedule name")
    every_seconds, cron = check_cadence(every, cron, timezone)
    if pipeline is None:
        pipeline = load_pipeline(target)
    given = dict(params or {})
    pipeline.params(given)  # unknown names, and parameters that have no default
    moment = now or datetime.now(UTC)
    ws = workspace_in_use(workspace)
    return ws.store.create_schedule(
        name=name,
        target=target,
        resolved_target=resolved_target(target, pipeline),
        params=given,
        every_seconds=every_seconds,
        cron=cron,
        timezone=timezone,
        next_due_at=_cadence.next_due(
            after=moment, every_seconds=every_seconds, cron=cron, timezone=timezone
        ),
    )


def due(store: MetadataStore, now: datetime) -> list[Schedule]:
    """The enabled schedules due at ``now``, earliest first, without claiming them."""
    found = [s for s in store.find_schedules(enabled=True) if s.next_due_at <= now]
    return sorted(found, key=lambda s: (s.next_due_at, s.name))


def run_due(
    *,
    workspace: Workspace | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    echo: bool = True,
    on_done: Callable[[ScheduledRun], None] | None = None,
) -> list[ScheduledRun]:
    """Run every schedule due at ``now`` once, earliest due first, each recorded with
    its run and status; a failing pipeline does not stop the others. ``dry_run`` only
    says what is due. ``on_done`` hears of each schedule as it is done."""
    from loopml._context import workspace_in_use

    ws = workspace_in_use(workspace)
    moment = now or datetime.now(UTC)
    report = on_done or (lambda outcome: None)
    if dry_run:
        found = [ScheduledRun(s.name, s.target, DUE, None) for s in due(ws.store, moment)]
        for outcome in found:
            report(outcome)
        return found
    done = []
    # One claim at a time, so that runners working at once share what is due.
    while claimed := ws.store.claim_due(moment, limit=1):
        done.append(_run(ws, claimed[0], echo))
        report(done[-1])
    return done


def _run(ws: Workspace, schedule: Schedule, echo: bool) -> ScheduledRun:
    from loopml.pipeline._load import load_pipeline
    from loopml.store import RunStatus

    store = ws.store
    started = datetime.now(UTC)
    pipeline_name: str | None = None
    try:
        pipeline = load_pipeline(schedule.resolved_target)
        pipeline_name = pipeline.name
        result = pipeline.run(workspace=ws, echo=echo, **schedule.params)
        outcome = ScheduledRun(
            schedule.name, schedule.target, RunStatus.SUCCEEDED.value, result.run_id
        )
    except StepFailed as failure:
        run_id = store.get_run(failure.run_id).parent_id
        status = store.get_run(run_id).status.value if run_id else RunStatus.FAILED.value
        outcome = ScheduledRun(
            schedule.name, schedule.target, status, run_id, str(failure), failure.traceback
        )
    except Exception as error:  # the pipeline's own code may raise anything
        text = str(error) if isinstance(error, LoopmlError) else f"{type(error).__name__}: {error}"
        run_id = _run_started_here(store, pipeline_name, started)
        outcome = ScheduledRun(schedule.name, schedule.target, RunStatus.FAILED.value, run_id, text)
    with contextlib.suppress(NotFound):  # removed while it ran: nothing to record on
        store.record_schedule_run(schedule.name, outcome.run_id, outcome.status)
    return outcome


def _run_started_here(store: MetadataStore, name: str | None, since: datetime) -> str | None:
    """The pipeline run this process began for ``name`` since ``since``, if it began one."""
    if name is None:
        return None
    host, pid = socket.gethostname(), os.getpid()
    runs = [
        run
        for run in store.find_runs(kind="pipeline", name=name)
        if run.pid == pid and run.host == host and run.started_at >= since
    ]
    return runs[-1].id if runs else None
