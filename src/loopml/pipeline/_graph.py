"""Steps, pipelines, and the graph a pipeline's body traces.

A step is a plain typed function wrapped by ``@loopml.step``; called outside a
pipeline it simply runs. A pipeline is a function wrapped by ``@loopml.pipeline``
whose body calls steps: while the body is traced, each step call records a node and
returns an :class:`Output` placeholder that later steps take as input. The graph is
therefore acyclic by construction (a placeholder only exists once its step is
recorded), and it is checked before anything runs: every argument bound, every
value storable, every return type serializable, with errors naming the user's file
and line.

>>> @step
... def double(x: int) -> int:
...     return 2 * x
>>> @pipeline
... def twice(n: int = 3):
...     return double(double(n))
>>> [node.name for node in twice.graph().nodes]
['double', 'double-2']
>>> double(4)  # outside a pipeline, a step is a function
8
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from loopml.errors import InvalidInput, LoopmlError, PipelineError

if TYPE_CHECKING:
    from loopml.pipeline._run import PipelineResult
    from loopml.workspace import Workspace

P = ParamSpec("P")
R = TypeVar("R")

_BUILDER: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar(
    "loopml_pipeline_builder", default=None
)


def where(func: Callable[..., Any]) -> tuple[str, int]:
    """The file and line of a function's ``def``."""
    target = inspect.unwrap(func)
    try:
        file = inspect.getsourcefile(target) or inspect.getfile(target)
        line = inspect.getsourcelines(target)[1]
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        return (code.co_filename, code.co_firstlineno) if code else ("<unknown>", 0)
    return file, line


class Step(Generic[P, R]):
    """A function that, inside a pipeline, becomes a cached, recorded step."""

    def __init__(self, func: Callable[P, R], *, name: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.signature = inspect.signature(func)
        self.file, self.line = where(func)
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<loopml step {self.name} ({Path(self.file).name}:{self.line})>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        builder = _BUILDER.get()
        if builder is None:
            return self.func(*args, **kwargs)
        return builder.add(self, args, kwargs)  # type: ignore[return-value]


@overload
def step(func: Callable[P, R], *, name: str | None = None) -> Step[P, R]: ...
@overload
def step(*, name: str | None = None) -> Callable[[Callable[P, R]], Step[P, R]]: ...
def step(
    func: Callable[P, R] | None = None, *, name: str | None = None
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step: ``@loopml.step`` or ``@loopml.step(name=...)``."""
    if func is None:
        return lambda f: Step(f, name=name)
    return Step(func, name=name)


@dataclass
class Node:
    """One step call in a traced pipeline."""

    index: int
    name: str  # unique in the graph: the step's name, then name-2, name-3...
    step: Step[..., Any]
    arguments: dict[str, Any]  # by parameter name, defaults filled in
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def upstream(self) -> list[Node]:
        return [value.node for value in self.arguments.values() if isinstance(value, Output)]


@dataclass(frozen=True)
class Output:
    """What a step call returns while a pipeline is traced: a placeholder for its output."""

    node: Node

    def __repr__(self) -> str:
        return f"<output of step {self.node.name}>"

    def _misuse(self, what: str) -> PipelineError:
        file, line = _call_site()
        at = f"{file}:{line}" if line else self.node.where
        return PipelineError(
            f"{at}: the output of step {self.node.name!r} (called at line {self.node.line}) "
            f"is used with {what} inside the pipeline body; there it is a placeholder, so "
            "pass it to another step and do the work inside that step"
        )

    def __bool__(self) -> bool:
        raise self._misuse("`if`/`and`/`or`")

    def __iter__(self) -> Any:
        raise self._misuse("iteration or unpacking")

    def __getitem__(self, key: Any) -> Any:
        raise self._misuse("indexing")

    def __len__(self) -> int:
        raise self._misuse("len()")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probe these
            raise AttributeError(name)
        raise self._misuse(f"an attribute (.{name})")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._misuse("a call")

    def __contains__(self, item: Any) -> bool:
        raise self._misuse("`in`")

    def __index__(self) -> int:
        raise self._misuse("a conversion to a number")

    __int__ = __float__ = __complex__ = __round__ = __index__


def _misused_by(symbol: str) -> Callable[..., Any]:
    def operator(self: Output, *other: Any) -> Any:
        raise self._misuse(f"`{symbol}`")

    return operator


# Arithmetic and ordering on a placeholder: each says where, instead of a TypeError.
for _names, _symbol in (
    (("add", "radd"), "+"),
    (("sub", "rsub"), "-"),
    (("mul", "rmul"), "*"),
    (("truediv", "rtruediv"), "/"),
    (("floordiv", "rfloordiv"), "//"),
    (("mod", "rmod"), "%"),
    (("pow", "rpow"), "**"),
    (("matmul", "rmatmul"), "@"),
    (("and", "rand"), "&"),
    (("or", "ror"), "|"),
    (("xor", "rxor"), "^"),
    (("lshift", "rlshift"), "<<"),
    (("rshift", "rrshift"), ">>"),
    (("lt",), "<"),
    (("le",), "<="),
    (("gt",), ">"),
    (("ge",), ">="),
    (("neg",), "unary -"),
    (("pos",), "unary +"),
    (("abs",), "abs()"),
    (("invert",), "~"),
):
    for _name in _names:
        setattr(Output, f"__{_name}__", _misused_by(_symbol))


@dataclass
class Graph:
    pipeline: str
    params: dict[str, Any]
    nodes: list[Node] = field(default_factory=list)
    result: Any = None  # what the pipeline body returned (placeholders inside)
    reads: list[tuple[str, str, str]] = field(default_factory=list)  # by ref, as traced

    def node(self, name: str, *, field: str | None = None) -> Node:
        """The step called ``name``; InvalidInput naming ``field`` (the option that
        gave the name, such as ``until``) when there is none."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise InvalidInput(
            f"pipeline {self.pipeline!r} has no step {name!r}; its steps are "
            f"{', '.join(n.name for n in self.nodes)}",
            field=field,
        )

    def upstream(self, names: set[str]) -> set[str]:
        """``names`` and every step they depend on."""
        found = set(names)
        for node in reversed(self.nodes):
            if node.name in found:
                found.update(up.name for up in node.upstream())
        return found

    def downstream(self, names: set[str]) -> set[str]:
        """``names`` and every step that depends on them."""
        found = set(names)
        for node in self.nodes:
            if any(up.name in found for up in node.upstream()):
                found.add(node.name)
        return found


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.counts: dict[str, int] = {}

    def add(self, step_: Step[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Output:
        file, line = _call_site()
        try:
            bound = step_.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise PipelineError(f"{file}:{line}: step {step_.name}(): {error}") from None
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for name, value in arguments.items():
            _check_argument(step_, name, value, file, line)
        self.counts[step_.name] = self.counts.get(step_.name, 0) + 1
        count = self.counts[step_.name]
        node = Node(
            index=len(self.graph.nodes),
            name=step_.name if count == 1 else f"{step_.name}-{count}",
            step=step_,
            arguments=arguments,
            file=file,
            line=line,
        )
        self.graph.nodes.append(node)
        return Output(node)


def _call_site() -> tuple[str, int]:
    """The first frame outside loopml: the line of the pipeline body that called a step."""
    frame = sys._getframe(1)
    package = str(Path(__file__).resolve().parent.parent)
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "<unknown>", 0
    return frame.f_code.co_filename, frame.f_lineno


def _check_argument(step_: Step[..., Any], name: str, value: Any, file: str, line: int) -> None:
    if isinstance(value, Output) or is_dataset_version(value):
        return
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        raise PipelineError(
            f"{file}:{line}: argument {name!r} of step {step_.name} is a "
            f"{type(value).__name__}; a step takes outputs of other steps, dataset "
            "versions (loopml.data.get) and plain values (numbers, text, lists, dicts)"
        ) from None


def is_dataset_version(value: Any) -> bool:
    """Whether ``value`` is a dataset version, without importing the data package: if
    its module was never imported, nothing can be one."""
    module = sys.modules.get("loopml.data._versions")
    return module is not None and isinstance(value, module.DatasetVersion)


class Pipeline:
    """A traced graph of steps; ``run()`` executes it with caching and lineage."""

    def __init__(self, func: Callable[..., Any], *, name: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.signature = inspect.signature(func)
        self.file, self.line = where(func)
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<loopml pipeline {self.name} ({Path(self.file).name}:{self.line})>"

    def params(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The pipeline's parameters: its defaults, overridden by ``given``."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.signature.parameters))
        if unknown:
            known = ", ".join(self.signature.parameters) or "none"
            raise InvalidInput(
                f"pipeline {self.name!r} has no parameter {unknown[0]!r}; its parameters "
                f"are: {known}",
                field=unknown[0],
            )
        params = {}
        for name, parameter in self.signature.parameters.items():
            if name in given:
                params[name] = given[name]
            elif parameter.default is not inspect.Parameter.empty:
                params[name] = parameter.default
            else:
                raise InvalidInput(
                    f"pipeline {self.name!r} needs a value for its parameter {name!r} "
                    f"(--param {name}=VALUE)",
                    field=name,
                )
        return params

    def graph(self, **given: Any) -> Graph:
        """Trace the body with these parameters, then check every step in it."""
        from loopml._serialize import check_annotation
        from loopml.refs import noting_reads

        graph = Graph(self.name, self.params(given))
        token = _BUILDER.set(_Builder(graph))
        try:
            with noting_reads() as graph.reads:
                graph.result = self.func(**graph.params)
        except LoopmlError:
            raise
        except Exception as error:
            raise self._body_failed(error) from None
        finally:
            _BUILDER.reset(token)
        if not graph.nodes:
            raise PipelineError(f"{self.file}:{self.line}: pipeline {self.name!r} calls no steps")
        for node in graph.nodes:
            annotation = node.step.signature.return_annotation
            if isinstance(annotation, str):
                annotation = _resolve(node.step, annotation)
            why = check_annotation(annotation)
            if why is not None:
                raise PipelineError(
                    f"{node.step.file}:{node.step.line}: step {node.step.name} returns "
                    f"{getattr(annotation, '__name__', annotation)}, which cannot be stored: {why}"
                )
        return graph

    def _body_failed(self, error: Exception) -> PipelineError:
        """The user's line that failed while the body was traced, not the library's."""
        frames = traceback.extract_tb(error.__traceback__)
        own = [frame for frame in frames if frame.filename == self.file]
        last = (own or frames)[-1] if frames else None
        at = f"{last.filename}:{last.lineno}" if last else f"{self.file}:{self.line}"
        return PipelineError(
            f"{at}: the body of pipeline {self.name!r} raised {type(error).__name__}: "
            f"{error}; the body only wires steps together (there their outputs are "
            "placeholders): do the work inside a step"
        )

    def run(
        self,
        *,
        workspace: Workspace | None = None,
        force: bool | list[str] = False,
        until: str | None = None,
        runner: str = "local",
        workers: int | None = None,
        address: str | None = None,
        echo: bool = True,
        tags: dict[str, Any] | None = None,
        **params: Any,
    ) -> PipelineResult:
        """Run the pipeline: each step cached on its code, parameters and inputs.

        ``force=True`` re-runs every step, ``force=["featurize"]`` that step and
        everything after it; ``until="featurize"`` runs only that step and those it
        needs. ``runner="processes"`` runs independent steps at once in ``workers``
        processes (default: one per core); ``runner="ray"`` runs each step as a Ray task
        on the cluster at ``address`` (``"auto"``: the one started on this machine with
        ``ray start``), or on a local Ray bound to 127.0.0.1 started for this run.
        ``tags`` are kept with the pipeline run.
        """
        from loopml.pipeline._run import run_pipeline
        from loopml.pipeline._runners import RunOptions

        options = RunOptions(
            force=force,
            until=until,
            runner=runner,
            workers=workers,
            address=address,
            echo=echo,
            tags=dict(tags or {}),
        )
        return run_pipeline(self, params, workspace=workspace, options=options)

    def status(self, *, workspace: Workspace | None = None, **params: Any) -> Any:
        """Which steps' recorded outputs are stale, and why, without running anything."""
        from loopml.pipeline._status import pipeline_status

        return pipeline_status(self, params, workspace=workspace)


@overload
def pipeline(func: Callable[..., Any], *, name: str | None = None) -> Pipeline: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    func: Callable[..., Any] | None = None, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline: ``@loopml.pipeline`` or ``@loopml.pipeline(name=...)``."""
    if func is None:
        return lambda f: Pipeline(f, name=name)
    return Pipeline(func, name=name)


def _resolve(step_: Step[..., Any], annotation: str) -> Any:
    """A string annotation (``from __future__ import annotations``), evaluated if it can be."""
    try:
        hints = inspect.get_annotations(step_.func, eval_str=True)
    except Exception:  # an annotation naming something undefined: judge it at run time
        return Any
    return hints.get("return", Any)
