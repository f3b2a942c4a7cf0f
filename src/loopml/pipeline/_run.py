"""The local runner: steps in order, each cached, recorded and logged.

A pipeline run is a Run of kind ``pipeline``; each step execution is a child Run of
kind ``step`` with its parameters, cache key (``fingerprint``), code (fingerprint,
file, line, git commit and dirty flag), environment, input and output artifacts
(Events), its captured stdout/stderr as a ``log`` artifact, timings and status. A
cache hit is recorded as a run of status ``cached`` whose ``cached_from`` tag names
the run that computed the output. A process killed mid-pipeline leaves every
completed step recorded, so running the pipeline again resumes after the last one.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from loopml._env import GitSnapshot, environment, git_snapshot
from loopml._ids import short_id
from loopml._kinds import ArtifactKind
from loopml._signals import sigterm_raises
from loopml.errors import LoopmlError, NotFound, StepFailed, ValidationFailed
from loopml.pipeline._cache import cache_key, find_hit
from loopml.pipeline._capture import captured_output
from loopml.pipeline._graph import Graph, Node, Output, is_dataset_version
from loopml.pipeline._runners import RunOptions, execute
from loopml.pipeline._validation import DataInvalid, evidence
from loopml.tracking._reap import reap_dead_runs

if TYPE_CHECKING:
    from collections.abc import Iterable

    from loopml.pipeline._fingerprint import Fingerprint
    from loopml.pipeline._graph import Pipeline
    from loopml.store import Artifact, MetadataStore, Run
    from loopml.workspace import Workspace


@dataclass(frozen=True)
class StepResult:
    name: str
    status: str  # "ran", "cached" or "failed"
    run_id: str
    key: str
    output: Artifact | None
    cached_from: str | None = None
    note: str | None = None  # e.g. why a cached output was not trusted


@dataclass
class PipelineResult:
    """What a run did, step by step; outputs load on first use."""

    pipeline: str
    run_id: str
    graph: Graph
    workspace: Workspace
    steps: list[StepResult] = field(default_factory=list)

    def step(self, name: str) -> StepResult:
        """What step ``name`` did in this run; NotFound when it did not run."""
        for result in self.steps:
            if result.name == name:
                return result
        if any(node.name == name for node in self.graph.nodes):
            ran = ", ".join(result.name for result in self.steps)
            raise NotFound(
                f"step {name!r} of pipeline {self.pipeline!r} did not run in run "
                f"{short_id(self.run_id)}: it comes after --until (the steps that ran: {ran}); "
                "run the pipeline without --until to get it"
            )
        raise NotFound(
            f"pipeline {self.pipeline!r} has no step {name!r}; its steps are "
            f"{', '.join(node.name for node in self.graph.nodes)}"
        )

    def output(self, name: str) -> Any:
        """The value step ``name`` returned, loaded from the artifact store."""
        artifact = self.step(name).output
        if artifact is None:
            raise NotFound(
                f"step {name!r} of pipeline {self.pipeline!r} stored no output in run "
                f"{short_id(self.run_id)}; run the pipeline again to make it"
            )
        return load_output(self.workspace, artifact)

    @property
    def value(self) -> Any:
        """What the pipeline body returned, with step outputs loaded."""
        return self._resolve(self.graph.result)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, Output):
            return self.output(value.node.name)
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._resolve(v) for v in value)
        return value


def load_output(ws: Workspace, artifact: Artifact) -> Any:
    from loopml._serialize import load
    from loopml.data import DatasetVersion

    meta = artifact.metadata
    what = f"{artifact.kind} {artifact.ref}"
    value = load(meta["format"], artifact.digest, ws.artifacts, meta, what=what)
    if meta["format"] == "dataset-ref":
        return DatasetVersion(ws.store.get_artifact(value["artifact_id"]), ws)
    return value


def run_pipeline(
    pipeline: Pipeline,
    params: dict[str, Any],
    *,
    workspace: Workspace | None,
    options: RunOptions,
) -> PipelineResult:
    from loopml._context import workspace_in_use
    from loopml.workspace import active

    options.check(pipeline.file)
    ws = workspace_in_use(workspace)
    with active(ws), sigterm_raises():  # SIGTERM ends the runs as killed, then the process
        return _run_traced(pipeline, ws, pipeline.graph(**params), options)


def _run_traced(
    pipeline: Pipeline, ws: Workspace, graph: Graph, options: RunOptions
) -> PipelineResult:
    from loopml.pipeline._held import state_of

    forced = _forced(graph, options.force)
    nodes = graph.nodes
    if options.until is not None:
        wanted = graph.upstream({graph.node(options.until, field="until").name})
        nodes = [node for node in graph.nodes if node.name in wanted]
    store = ws.store
    reap_dead_runs(ws)
    folder = Path(pipeline.file).parent
    context = _Context(
        ws=ws,
        graph=graph,
        project_root=folder,
        environment=environment(),
        git=git_snapshot(folder),
        echo=options.echo,
    )
    files = pipeline_files(pipeline.file)
    # what the user's modules hold before any step runs (a replay checks none changed)
    state = state_of(options.remember.files) if options.remember is not None else {}
    run = store.create_run(
        kind="pipeline",
        name=pipeline.name,
        params=graph.params,
        code={
            "file": pipeline.file,
            "line": pipeline.line,
            "git": context.git_state(files),
            "files": files,
        },
        environment=context.environment,
        tags=pipeline_tags(options),
    )
    result = PipelineResult(pipeline.name, run.id, graph, ws)
    with ending(store, run):
        result.steps = execute(context, run, nodes, forced, options, pipeline.file)
        if options.remember is not None:
            from loopml.pipeline._replay import remembered

            tags = remembered(
                options.remember, pipeline, graph, result.steps, runner=options.runner, state=state
            )
            if tags:
                store.set_run_tags(run.id, tags)
    return result


def pipeline_tags(options: RunOptions) -> dict[str, Any]:
    """The tags of a pipeline run: the caller's, the runner, and ``--until``."""
    until = {"until": options.until} if options.until else {}
    return {**options.tags, "runner": options.runner, **until}


@contextmanager
def ending(store: MetadataStore, run: Run) -> Iterator[None]:
    """End a pipeline's run as the block ends: succeeded; failed, saying which step
    failed or failed validation; or killed, by Ctrl-C or SIGTERM."""
    from loopml.store import RunStatus

    try:
        yield
    except ValidationFailed as failure:
        store.finish_run(
            run.id, RunStatus.FAILED_VALIDATION, error=f"step {failure.step} failed validation"
        )
        raise
    except StepFailed as failure:
        store.finish_run(run.id, RunStatus.FAILED, error=f"step {failure.step} failed")
        raise
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (Terminated)
        end_killed(store, run, str(stop) or "interrupted")
        raise
    except BaseException as error:
        store.finish_run(run.id, RunStatus.FAILED, error=f"{type(error).__name__}: {error}")
        raise
    store.finish_run(run.id, RunStatus.SUCCEEDED)


def end_killed(store: MetadataStore, run: Run, reason: str) -> None:
    """End a stopped pipeline's run, and its steps' runs left running (a worker killed
    outright, a step stopped outside its body), as killed."""
    from loopml.store import RunStatus

    for step in store.find_runs(parent_id=run.id, status=RunStatus.RUNNING):
        try:
            store.finish_run(step.id, RunStatus.KILLED, error=reason)
        except LoopmlError:  # its worker ended it meanwhile
            continue
    store.finish_run(run.id, RunStatus.KILLED, error=reason)


@dataclass
class _Context:
    ws: Workspace
    graph: Graph
    project_root: Path
    environment: dict[str, Any]
    git: GitSnapshot | None
    echo: bool
    outputs: dict[str, Artifact] = field(default_factory=dict)
    # one fingerprint per step function and input code within a run: a step called
    # ten times is read once
    fingerprints: dict[tuple[int, tuple[str, ...]], Fingerprint] = field(default_factory=dict)

    def git_state(self, files: Iterable[str]) -> dict[str, Any] | None:
        return None if self.git is None else self.git.state(files)


def pipeline_files(file: str) -> list[str]:
    """The user's files a pipeline file reaches through its imports."""
    from loopml.pipeline._reach import reach

    return list(reach([file]).files)


def _forced(graph: Graph, force: bool | list[str]) -> set[str]:
    if force is True:
        return {node.name for node in graph.nodes}
    if not force:
        return set()
    names = {graph.node(name, field="force").name for name in force}  # unknown ones: an error
    return graph.downstream(names)


def step_identity(
    context_outputs: dict[str, Artifact],
    node: Node,
    project_root: Path,
    fingerprints: dict[tuple[int, tuple[str, ...]], Fingerprint] | None = None,
) -> Any:
    """A node's parameters, input artifacts, code fingerprint and cache key."""
    from loopml.pipeline._fingerprint import code_fingerprint

    params: dict[str, Any] = {}
    inputs: dict[str, Artifact] = {}
    for name, value in node.arguments.items():
        if isinstance(value, Output):
            inputs[name] = context_outputs[value.node.name]
        elif is_dataset_version(value):
            inputs[name] = value.artifact
        else:
            params[name] = value
    uses = input_code(inputs.values())
    memo = {} if fingerprints is None else fingerprints
    seen = (id(node.step.func), uses)
    if seen not in memo:
        memo[seen] = code_fingerprint(node.step.func, project_root=project_root, uses=uses)
    fingerprint = memo[seen]
    key = cache_key(
        node.step.name, fingerprint.digest, params, {n: a.digest for n, a in inputs.items()}
    )
    return params, inputs, fingerprint, key


def input_code(inputs: Iterable[Artifact]) -> tuple[str, ...]:
    """The user's classes and functions (``module:QualName``) the pickled inputs name:
    loading them runs that code. ``?ref`` for an input stored without that list."""
    uses: set[str] = set()
    for artifact in inputs:
        meta = artifact.metadata
        if meta.get("format") in ("pickle", "model"):
            code = meta.get("code")
            uses.update(code if isinstance(code, list) else [f"?{artifact.ref}"])
    return tuple(sorted(uses))


def _run_node(context: _Context, parent: Run, node: Node, forced: bool) -> StepResult:
    """Run one step, or reuse its cached output."""
    result = _run_or_reuse(context, parent, node, forced, only_cached=False)
    assert result is not None
    return result


def reuse_cached(context: _Context, parent: Run, node: Node, forced: bool) -> StepResult | None:
    """Record a step as cached when its output can be reused; None when it must run."""
    return _run_or_reuse(context, parent, node, forced, only_cached=True)


def _run_or_reuse(
    context: _Context, parent: Run, node: Node, forced: bool, *, only_cached: bool
) -> StepResult | None:
    from loopml.store import Direction, RunStatus
    from loopml.tracking._active import attach

    store = context.ws.store
    params, inputs, fingerprint, key = step_identity(
        context.outputs, node, context.project_root, context.fingerprints
    )
    name = f"{context.graph.pipeline}/{node.name}"
    code = {
        "fingerprint": fingerprint.digest,
        "parts": fingerprint.pieces,
        "file": fingerprint.source_file,
        "line": fingerprint.line,
        "files": list(fingerprint.files),
        "git": context.git_state(fingerprint.files),
    }
    if fingerprint.unproven:
        code["unproven"] = list(fingerprint.unproven)

    def start(
        tags: dict[str, Any], status: RunStatus = RunStatus.RUNNING, output: Artifact | None = None
    ) -> Run:
        events = [(artifact.id, Direction.INPUT, role) for role, artifact in inputs.items()]
        if output is not None:
            events.append((output.id, Direction.OUTPUT, "output"))
        return store.create_run(
            kind="step",
            name=name,
            parent_id=parent.id,
            params=params,
            fingerprint=key,
            code=code,
            environment=context.environment,
            tags=tags,
            status=status,
            events=events,
        )

    note = None
    if not forced:
        hit, note = find_hit(store, context.ws.artifacts, key)
        if hit is not None:
            run = start({"cached_from": hit.run.id}, RunStatus.CACHED, hit.output)
            context.outputs[node.name] = hit.output
            return StepResult(node.name, "cached", run.id, key, hit.output, hit.run.id)
    if only_cached:
        return None
    run = start({"forced": True} if forced else ({"cache_rejected": note} if note else {}))
    try:
        arguments = _arguments(context, node, params, inputs)
    except BaseException as error:  # an input could not be loaded
        _fail(context, run, node, error, user_frames=False)
    failure: BaseException | None = None
    with captured_output(echo=context.echo) as captured:
        try:
            with attach(context.ws, run):  # loopml.log_* in the step write to its run
                value = node.step.func(**arguments)
        except BaseException as error:
            failure = error
    _store_log(context, run, name, captured.text)
    if failure is not None:
        _fail(context, run, node, failure)
    try:
        output = _store_output(context, run, name, value)
    except Exception as error:  # an unstorable value, or the store failing: the run says so
        _fail(context, run, node, error, user_frames=False)
    store.finish_run(run.id, RunStatus.SUCCEEDED)
    context.outputs[node.name] = output
    return StepResult(node.name, "ran", run.id, key, output, note=note)


def _arguments(
    context: _Context, node: Node, params: dict[str, Any], inputs: dict[str, Artifact]
) -> dict[str, Any]:
    from loopml.data import DatasetVersion
    from loopml.pipeline._convert import convert, hints

    annotations = hints(node.step.func)
    arguments = dict(params)
    for name, artifact in inputs.items():
        value: Any
        if artifact.kind == ArtifactKind.DATASET:
            value = DatasetVersion(artifact, context.ws)
        else:
            value = load_output(context.ws, artifact)
        arguments[name] = convert(value, annotations.get(name))
    return arguments


def _store_log(context: _Context, run: Run, name: str, text: bytes) -> None:
    blob = context.ws.artifacts.put_bytes(text)
    context.ws.store.create_artifact(
        kind=ArtifactKind.LOG,
        name=name,
        digest=blob.digest,
        size=blob.size,
        metadata={"file_name": f"{name.replace('/', '-')}.log"},
        run_id=run.id,
        role="log",
    )


def _store_output(context: _Context, run: Run, name: str, value: Any) -> Artifact:
    from loopml._serialize import record_value

    return record_value(context.ws, value, kind=ArtifactKind.OUTPUT, name=name, run_id=run.id)


def _fail(
    context: _Context,
    run: Run,
    node: Node,
    error: BaseException,
    *,
    user_frames: bool = True,
) -> NoReturn:
    from loopml.store import RunStatus

    if isinstance(error, DataInvalid):
        _stop_for_invalid_data(context, run, node, error)
    text = _user_traceback(error) if user_frames else f"{type(error).__name__}: {error}\n"
    status = RunStatus.KILLED if isinstance(error, KeyboardInterrupt) else RunStatus.FAILED
    context.ws.store.finish_run(run.id, status, error=text)
    if isinstance(error, KeyboardInterrupt):
        raise error
    raise StepFailed(
        f"step {node.name} of pipeline {context.graph.pipeline} failed: "
        f"{type(error).__name__}: {error} (called at {node.where}); its traceback is kept "
        f"with run {short_id(run.id)}, and the outputs of the steps before it are kept",
        step=node.name,
        run_id=run.id,
        traceback=text,
    ) from error


def _stop_for_invalid_data(context: _Context, run: Run, node: Node, error: DataInvalid) -> NoReturn:
    from loopml.store import RunStatus, Severity

    record = error.record
    errors = record.validation.errors
    lines = [f"  {a.kind} {a.column or '(table)'}: {a.message}" for a in errors]
    text = f"{record.dataset} failed validation ({len(errors)} errors):\n" + "\n".join(lines)
    context.ws.store.finish_run(run.id, RunStatus.FAILED_VALIDATION, error=text)
    alert = context.ws.store.create_alert(
        kind="validation",
        severity=Severity.ERROR,
        message=f"pipeline {context.graph.pipeline} stopped at step {node.name}: {text}",
        evidence=evidence(record),
        run_id=run.id,
        artifact_id=record.artifact.id,
    )
    raise ValidationFailed(
        f"{record.dataset} failed validation with {len(errors)} errors, so pipeline "
        f"{context.graph.pipeline} stopped before the steps after {node.name}; alert "
        f"{short_id(alert.id)} records the anomalies, in {record.describe()}; its report: "
        f"loopml artifacts get {record.report.ref} REPORT.html --kind report",
        step=node.name,
        run_id=run.id,
        traceback=text + "\n",
        alert_id=alert.id,
    )


def _user_traceback(error: BaseException) -> str:
    """The traceback from the step function down, without loopml's own frames."""
    package = str(Path(__file__).resolve().parent.parent)
    summary = traceback.TracebackException.from_exception(error)
    frames = [f for f in summary.stack if not str(Path(f.filename).resolve()).startswith(package)]
    summary.stack = traceback.StackSummary.from_list(frames)
    return "".join(summary.format())
