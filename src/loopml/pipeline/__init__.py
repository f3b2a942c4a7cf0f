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

from loopml._lazy import lazy_exports
from loopml.pipeline._graph import Graph, Node, Output, Pipeline, Step, pipeline, step

# The runner pulls in the stores; tracing and decorating a pipeline should not.
_LAZY = {
    "load_pipeline": "loopml.pipeline._load",
    "PipelineResult": "loopml.pipeline._run",
    "StepResult": "loopml.pipeline._run",
    "StepStatus": "loopml.pipeline._status",
}


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

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
