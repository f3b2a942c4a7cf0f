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

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports
from loopml.pipeline._graph import Graph as Graph
from loopml.pipeline._graph import Node as Node
from loopml.pipeline._graph import Output as Output
from loopml.pipeline._graph import Pipeline as Pipeline
from loopml.pipeline._graph import Step as Step
from loopml.pipeline._graph import pipeline as pipeline
from loopml.pipeline._graph import step as step

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.pipeline._load import load_pipeline as load_pipeline
    from loopml.pipeline._run import PipelineResult as PipelineResult
    from loopml.pipeline._run import StepResult as StepResult
    from loopml.pipeline._status import StepStatus as StepStatus
    from loopml.pipeline._validation import validated as validated

# The runner pulls in the stores; tracing and decorating a pipeline should not.
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_load": ("load_pipeline",),
        "_run": ("PipelineResult", "StepResult"),
        "_status": ("StepStatus",),
        "_validation": ("validated",),
    },
    eager=("Graph", "Node", "Output", "Pipeline", "Step", "pipeline", "step"),
)
