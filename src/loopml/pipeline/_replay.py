"""A cached ``loopml run`` answered from the record of the last one, without importing
the pipeline's file: importing it (and pandas, torch... with it) would cost more than
everything else a cached run does.

The run's key is a digest of loopml's version, the interpreter, the install folders'
stamps, ``sys.path``, the working folder and the environment variables, the target, the
parameters as given, ``--until``, and the bytes of every user file the pipeline file
reaches through its imports. A pipeline run keeps its key (a tag) only when it
succeeded on the local runner, its files were untouched while it ran (their ctime), a
reading of them shows that their import and the pipeline's body depend on nothing but
their bytes (:mod:`loopml.pipeline._pure`), and what the modules hold after the run is
code or the literals their source spells, as it was before the steps ran
(:mod:`loopml.pipeline._held`): then the same key means the same steps with the same
cache keys. A later run with that key resolves again what the body read by reference,
checks each step as a cached step is checked (:func:`~loopml.pipeline._cache.find_hit`:
the newest run with its key, its output intact, its reads by reference unmoved) and
records the same cached runs; when anything differs it returns None, and the run takes
the ordinary path.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.artifacts import digest_bytes
from loopml.pipeline._cache import KEY_FORMAT as STEP_KEY_FORMAT
from loopml.pipeline._cache import find_hit

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from loopml.pipeline._graph import Graph, Pipeline
    from loopml.pipeline._run import StepResult
    from loopml.pipeline._runners import RunOptions
    from loopml.store import Artifact, Direction, MetadataStore, Run
    from loopml.workspace import Workspace

KEY_FORMAT = "loopml.run-key/1"
KEY_TAG = "run_key"
STEPS_TAG = "run_steps"
READS_TAG = "run_reads"  # what the body read by reference: [kind, ref as given, artifact id]
SCAN = 50  # the newest pipeline runs searched for a key
# Variables a shell or terminal changes from command to command; every other one is in
# the key, since code run at import (a library's own) may read any.
_SHELL = "PWD OLDPWD SHLVL _ COLUMNS LINES TERM_SESSION_ID WINDOWID TMUX_PANE"
VOLATILE = frozenset(f"{_SHELL} SSH_CLIENT SSH_CONNECTION SSH_TTY".split())


@dataclass(frozen=True)
class RunKey:
    digest: str
    file: str  # the pipeline file's real path
    files: tuple[str, ...]  # the user files it reaches
    given: tuple[Any, ...]  # what the digest was made of, the process's settings included
    stamps: tuple[tuple[int, ...], ...]  # each file's inode, size, mtime and ctime

    def still_holds(self) -> bool:
        """Whether the files are as they were when the key was made, and were never
        touched since: an edit made and undone while the run ran leaves the same bytes
        but a later ctime, which no one can set back. Read again, past any in-process
        cache."""
        from loopml.pipeline import _reach

        _reach._digest.cache_clear()
        _reach._imported_files.cache_clear()
        again = run_key(*self.given)
        return again is not None and (again.digest, again.stamps) == (self.digest, self.stamps)


@dataclass(frozen=True)
class Replayed:
    pipeline: str
    run_id: str
    steps: list[StepResult]
    memo: str  # the run replayed


def run_key(
    file_part: str,
    name: str,
    params: Sequence[str],
    until: str | None,
    process: tuple[str, dict[str, str]] | None = None,
) -> RunKey | None:
    """The key of running ``file_part:name`` with these ``--param`` values, in this
    folder with these environment variables (``process``: as the process started, since
    libraries set some as they are imported); None for a file that is not the user's
    own. Puts the file's folder on ``sys.path`` first, as loading the pipeline does, so
    that its imports resolve as they will."""
    from loopml._env import path_stamps
    from loopml._version import __version__
    from loopml.pipeline._reach import reach

    path = Path(file_part).absolute()
    if not path.is_file():
        return None
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    found = reach([str(path)])
    real = os.path.realpath(path)
    if real not in found.files:
        return None
    if process is None:
        process = (os.getcwd(), {k: v for k, v in os.environ.items() if k not in VOLATILE})
    made_of = {
        "format": [KEY_FORMAT, STEP_KEY_FORMAT, __version__],
        "python": [sys.version, sys.prefix, sys.path, path_stamps()],
        "process": process,
        "target": [real, name, list(params), until],
        "files": found.files,
        "unresolved": found.unresolved,
    }
    digest = digest_bytes(json.dumps(made_of, sort_keys=True).encode())
    given = (file_part, name, tuple(params), until, process)
    return RunKey(digest, real, tuple(found.files), given, _stamps(found.files))


def _stamps(files: Iterable[str]) -> tuple[tuple[int, ...], ...]:
    stamps: list[tuple[int, ...]] = []
    for file in files:
        try:
            stat = os.stat(file)
        except OSError:
            stamps.append(())
            continue
        stamps.append((stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    return tuple(stamps)


def remembered(
    key: RunKey,
    pipeline: Pipeline,
    graph: Graph,
    steps: Sequence[StepResult],
    *,
    runner: str,
    state: dict[str, str],
) -> dict[str, Any]:
    """The tags that let a later run with ``key`` be replayed from this one; none when
    it may not be. ``state`` is what the modules held before the steps ran
    (:func:`~loopml.pipeline._held.state_of`): a step that changed it (re-pointed a
    function, filled a list) may have made its own key differ from a fresh process's."""
    from loopml.pipeline._held import held_blocker, state_of
    from loopml.pipeline._pure import blocker

    if runner != "local":  # steps ran in workers, whose modules are not seen here
        return {}
    if os.path.realpath(pipeline.file) != key.file or not steps:
        return {}
    after = state_of(key.files)
    if any(after.get(module) != held for module, held in state.items()):
        return {}
    if any(step.status not in ("ran", "cached") for step in steps):
        return {}
    try:
        if blocker(key.files, pipeline.file, pipeline.line) or held_blocker(key.files):
            return {}
    except RecursionError:  # an expression nested deeper than the reading follows
        return {}
    if not key.still_holds():
        return {}
    return {
        KEY_TAG: key.digest,
        STEPS_TAG: [step.name for step in steps],
        READS_TAG: [list(read) for read in graph.reads],
    }


def replay(ws: Workspace, key: RunKey, options: RunOptions) -> Replayed | None:
    """Record this run as the remembered one's cached steps, if each is still a hit."""
    memo = _remembered_run(ws.store, key.digest)
    if memo is None:
        return None
    plan = _plan(ws, memo, key)
    if plan is None:
        return None
    return _record(ws, memo, key, plan, options)


def _remembered_run(store: MetadataStore, digest: str) -> Run | None:
    from loopml.store import RunStatus

    for run in store.find_runs(
        kind="pipeline", status=RunStatus.SUCCEEDED, newest_first=True, limit=SCAN
    ):
        if run.tags.get(KEY_TAG) == digest:
            return run
    return None


@dataclass(frozen=True)
class _Planned:
    node: str
    was: Run
    inputs: list[tuple[str, Direction, str]]
    hit_run: Run
    output: Artifact


def _plan(ws: Workspace, memo: Run, key: RunKey) -> list[_Planned] | None:
    """Each remembered step checked as a cached step would be; None when any differs."""
    from loopml.store import Direction

    store = ws.store
    read = _reads_unmoved(store, memo.tags.get(READS_TAG, []))
    if read is None:
        return None
    children = {run.name: run for run in store.find_runs(parent_id=memo.id)}
    covered = {os.path.realpath(file) for file in key.files}
    now_of: dict[str, Artifact] = {}  # a remembered output's id -> the one reused now
    planned = []
    for node in memo.tags.get(STEPS_TAG, []):
        was = children.get(f"{memo.name}/{node}")
        if was is None or was.kind != "step" or not was.fingerprint:
            return None
        if not {os.path.realpath(f) for f in was.code.get("files", [])} <= covered:
            return None  # the step reached code the key does not cover
        events = store.events(run_id=was.id)
        outputs = [e for e in events if e.direction == "output" and e.role == "output"]
        if len(outputs) != 1:
            return None
        inputs = []
        for event in events:
            if event.direction != "input" or " " in event.role:
                continue  # a read by reference: find_hit checks it is unmoved
            upstream = now_of.get(event.artifact_id)
            if upstream is not None:
                inputs.append((upstream.id, Direction.INPUT, event.role))
            elif event.artifact_id in read:  # a dataset the body read, still the same
                inputs.append((event.artifact_id, Direction.INPUT, event.role))
            else:
                return None
        hit, _ = find_hit(store, ws.artifacts, was.fingerprint)
        remembered_output = store.get_artifact(outputs[0].artifact_id)
        if hit is None or hit.output.digest != remembered_output.digest:
            return None
        now_of[remembered_output.id] = hit.output
        planned.append(_Planned(node, was, inputs, hit.run, hit.output))
    return planned or None


def _reads_unmoved(store: MetadataStore, reads: list[list[str]]) -> set[str] | None:
    """The artifacts the remembered body read by reference, if each reference still
    names the same one; None when any moved."""
    from loopml.data._pins import pinned_ref
    from loopml.errors import LoopmlError
    from loopml.refs import resolve

    found = set()
    for kind, ref, artifact_id in reads:
        try:
            now = resolve(store, kind, pinned_ref(ref) if kind == ArtifactKind.DATASET else ref)
        except LoopmlError:
            return None
        if now.id != artifact_id:
            return None
        found.add(artifact_id)
    return found


def _record(
    ws: Workspace, memo: Run, key: RunKey, plan: list[_Planned], options: RunOptions
) -> Replayed:
    from loopml._env import environment, git_snapshot
    from loopml._signals import sigterm_raises
    from loopml.pipeline._run import StepResult, ending, pipeline_tags
    from loopml.store import Direction, RunStatus
    from loopml.tracking._reap import reap_dead_runs

    store = ws.store
    reap_dead_runs(ws)
    git = git_snapshot(Path(key.file).parent)
    env = environment()

    def code(recorded: dict[str, Any]) -> dict[str, Any]:
        files = recorded.get("files", [])
        return {**recorded, "git": None if git is None else git.state(files)}

    with sigterm_raises():
        run = store.create_run(
            kind="pipeline",
            name=memo.name,
            params=memo.params,
            code=code(dict(memo.code)),
            environment=env,
            tags={
                **pipeline_tags(options),
                KEY_TAG: key.digest,
                STEPS_TAG: memo.tags[STEPS_TAG],
                READS_TAG: memo.tags.get(READS_TAG, []),
                "replayed_from": memo.id,
            },
        )
        steps = []
        with ending(store, run):
            for step in plan:
                record = store.create_run(
                    kind="step",
                    name=step.was.name,
                    parent_id=run.id,
                    params=step.was.params,
                    fingerprint=step.was.fingerprint,
                    code=code(dict(step.was.code)),
                    environment=env,
                    tags={"cached_from": step.hit_run.id},
                    status=RunStatus.CACHED,
                    events=[*step.inputs, (step.output.id, Direction.OUTPUT, "output")],
                )
                key_ = step.was.fingerprint or ""
                steps.append(
                    StepResult(step.node, "cached", record.id, key_, step.output, step.hit_run.id)
                )
    return Replayed(memo.name, run.id, steps, memo.id)
