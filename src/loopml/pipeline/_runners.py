"""Where steps execute: in this process one after another (``local``), several at once
in worker processes (``processes``), or as tasks on a Ray cluster (``ray``).

Every runner records the same runs and produces the same artifacts: a worker loads
the pipeline file, traces the same graph and runs one step exactly as the local runner
would, given the artifacts of the steps before it. The parent process keeps the
pipeline run, hands out the steps whose inputs are ready, and stops handing out new
ones after the first failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from concurrent.futures import Future

    from loopml._env import GitSnapshot
    from loopml.config import Settings
    from loopml.pipeline._graph import Node
    from loopml.pipeline._replay import RunKey
    from loopml.pipeline._run import StepResult, _Context
    from loopml.store import Run

RUNNERS = ("local", "processes", "ray")

Submit = Callable[["StepTask"], "Future[StepResult]"]


@dataclass(frozen=True)
class RunOptions:
    """How to run: which steps to force, up to which step, on which runner."""

    force: bool | list[str] = False
    until: str | None = None
    runner: str = "local"
    workers: int | None = None
    address: str | None = None
    echo: bool = True
    tags: dict[str, Any] = field(default_factory=dict)  # kept with the pipeline run
    remember: RunKey | None = None  # kept with a run a later one may replay (loopml run)

    def check(self, pipeline_file: str) -> None:
        if self.runner not in RUNNERS:
            raise InvalidInput(
                f"runner {self.runner!r} is not one of {', '.join(RUNNERS)}; the default, "
                "'local', runs the steps in this process",
                field="runner",
            )
        if self.runner != "local" and not Path(pipeline_file).is_file():
            raise InvalidInput(
                f"runner {self.runner!r} starts other processes, which import the pipeline "
                f"from its file; {pipeline_file} is not a file: define the pipeline in a "
                "module, or use runner='local'",
                field="runner",
            )
        if self.workers is not None and self.workers < 1:
            raise InvalidInput(f"workers is {self.workers}; give 1 or more", field="workers")
        if self.address is not None and self.runner != "ray":
            raise InvalidInput(
                f"address {self.address!r} names a Ray cluster, but the runner is "
                f"{self.runner!r}; add runner='ray' (--runner ray), or leave the address out",
                field="address",
            )
        if self.runner == "ray":
            from loopml.pipeline._ray import check_ray

            check_ray(self.address)


@dataclass(frozen=True)
class StepTask:
    """Everything a worker process needs to run one step of a traced pipeline."""

    settings: Settings
    file: str
    pipeline: str
    params: dict[str, Any]
    node: str
    parent_run_id: str
    inputs: dict[str, str]  # upstream node name -> its output artifact id
    forced: bool
    environment: dict[str, Any]
    git: GitSnapshot | None
    echo: bool


def execute(
    context: _Context,
    parent: Run,
    nodes: list[Node],
    forced: set[str],
    options: RunOptions,
    pipeline_file: str,
) -> list[StepResult]:
    """Run ``nodes`` (in graph order, each after its inputs); results in graph order."""
    from loopml.pipeline._run import _run_node

    if options.runner == "local":
        return [_run_node(context, parent, node, node.name in forced) for node in nodes]
    with _lazy_pool(options) as submit:
        return _dispatch(context, parent, nodes, forced, pipeline_file, submit, options.workers)


@contextmanager
def _lazy_pool(options: RunOptions) -> Iterator[Submit]:
    """The pool, started only when a step must run: a pipeline whose steps are all
    cached starts no worker and no Ray."""
    with ExitStack() as stack:
        started: list[Submit] = []

        def submit(task: StepTask) -> Future[StepResult]:
            if not started:
                started.append(stack.enter_context(_pool(options)))
            return started[0](task)

        yield submit


@contextmanager
def _pool(options: RunOptions) -> Iterator[Submit]:
    workers = options.workers or os.cpu_count() or 1
    if options.runner == "ray":
        from loopml.pipeline._ray import ray_pool

        with ray_pool(
            options.address,
            workers,
            echo=options.echo,
            function=run_one,
            name_of=lambda task: f"{task.pipeline}/{task.node}",
        ) as submit:
            yield submit
        return
    import multiprocessing

    from loopml._signals import worker_pool

    # spawn, not fork: the parent holds threads and database connections.
    with worker_pool(workers, multiprocessing.get_context("spawn")) as pool:
        yield lambda task: pool.submit(run_one, task)


def _dispatch(
    context: _Context,
    parent: Run,
    nodes: list[Node],
    forced: set[str],
    pipeline_file: str,
    submit: Submit,
    limit: int | None,
) -> list[StepResult]:
    from concurrent.futures import FIRST_COMPLETED, wait

    from loopml.pipeline._run import reuse_cached

    results: dict[str, StepResult] = {}
    waiting = list(nodes)
    running: dict[Future[StepResult], str] = {}
    failure: BaseException | None = None
    while waiting or running:
        # Cache hits are recorded here, without a worker; each may make more steps ready.
        progressed = failure is None
        while progressed:
            progressed = False
            for node in [n for n in waiting if _ready(n, results)]:
                if limit is not None and len(running) >= limit:
                    break
                waiting.remove(node)
                cached = reuse_cached(context, parent, node, node.name in forced)
                if cached is not None:
                    results[node.name] = cached
                    progressed = True
                    continue
                task = _task(context, parent, node, node.name in forced, pipeline_file)
                running[submit(task)] = node.name
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            name = running.pop(future)
            try:
                result = future.result()
            except BaseException as error:
                failure = failure or error
                continue
            results[name] = result
            if result.output is not None:
                context.outputs[name] = result.output
    if failure is not None:
        raise failure
    return [results[node.name] for node in nodes]


def _ready(node: Node, results: dict[str, StepResult]) -> bool:
    return all(up.name in results for up in node.upstream())


def _task(context: _Context, parent: Run, node: Node, forced: bool, file: str) -> StepTask:
    inputs = {up.name: context.outputs[up.name].id for up in node.upstream()}
    return StepTask(
        settings=context.ws.settings,
        file=file,
        pipeline=context.graph.pipeline,
        params=context.graph.params,
        node=node.name,
        parent_run_id=parent.id,
        inputs=inputs,
        forced=forced,
        environment=context.environment,
        git=context.git,
        echo=context.echo,
    )


def run_one(task: StepTask) -> StepResult:
    """In a worker process: trace the pipeline again and run one of its steps. Stopped
    (its parent ended, or stops its workers), the step's run is recorded as killed and
    the worker exits; when the parent has died, the pipeline's run is ended too."""
    from loopml._signals import Terminated, exit_worker, parent_gone, working

    try:
        with working():
            return _run_step(task)
    except Terminated as stop:
        _end_stopped(task, parent_gone(), str(stop))
        exit_worker()


def _end_stopped(task: StepTask, parent_gone: str | None, reason: str) -> None:
    """The runs a stopped worker leaves: its step's, if still running (stopped outside
    the step's body), and the pipeline's when no parent is left to end it."""
    from loopml.errors import LoopmlError
    from loopml.store import RunStatus
    from loopml.workspace import Workspace

    with Workspace(task.settings) as ws:
        store = ws.store
        mine = store.find_runs(parent_id=task.parent_run_id, status=RunStatus.RUNNING)
        ended = [(run.id, reason) for run in mine if run.pid == os.getpid()]
        if parent_gone is not None:
            ended.append((task.parent_run_id, f"{parent_gone} while step {task.node} ran"))
        for run_id, error in ended:
            try:  # another worker may have ended the pipeline's run first
                store.finish_run(run_id, RunStatus.KILLED, error=error)
            except LoopmlError:
                continue


def _run_step(task: StepTask) -> StepResult:
    from loopml.pipeline._load import load_pipeline
    from loopml.pipeline._run import _Context, _run_node
    from loopml.workspace import Workspace, active

    with Workspace(task.settings) as ws, active(ws):
        pipeline = load_pipeline(f"{task.file}:{task.pipeline}")
        graph = pipeline.graph(**task.params)
        context = _Context(
            ws=ws,
            graph=graph,
            project_root=Path(task.file).parent,
            environment=task.environment,
            git=task.git,
            echo=task.echo,
        )
        context.outputs = {name: ws.store.get_artifact(i) for name, i in task.inputs.items()}
        parent = ws.store.get_run(task.parent_run_id)
        return _run_node(context, parent, graph.node(task.node), task.forced)
