"""Pipelines: typed steps, content-addressed caching, lineage, stale detection.

>>> import tempfile, loopml
>>> @loopml.step
... def square(x: int) -> int:
...     return x * x
>>> @loopml.pipeline
... def squares(n: int = 3):
...     return square(n)
>>> ws = loopml.init(tempfile.mkdtemp())
>>> first = squares.run(workspace=ws, echo=False)
>>> again = squares.run(workspace=ws, echo=False)
>>> first.value, [s.status for s in first.steps], [s.status for s in again.steps]
(9, ['ran'], ['cached'])
>>> ws.close()
"""

from typing import Any

from loopml.pipeline._graph import Graph, Node, Output, Pipeline, Step, pipeline, step

_LAZY = {
    "load_pipeline": "loopml.pipeline._load",
    "PipelineResult": "loopml.pipeline._run",
    "StepResult": "loopml.pipeline._run",
    "StepStatus": "loopml.pipeline._status",
}


def __getattr__(name: str) -> Any:
    # The runner pulls in the stores; tracing and decorating a pipeline should not.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'loopml.pipeline' has no attribute {name!r}")


__all__ = [
    "Graph",
    "Node",
    "Output",
    "Pipeline",
    "PipelineResult",
    "Step",
    "StepResult",
    "StepStatus",
    "load_pipeline",
    "pipeline",
    "step",
]
