"""Serving: deployments (named endpoints with a routing policy over model versions),
the server that answers them over the Open Inference Protocol (REST and gRPC) and
MLflow-style ``/invocations``, routing (A/B, canary, shadow, bandits), hot swap,
fallback, adaptive micro-batching, the prediction log and batch scoring.

Nothing here imports the pipelines, training, evaluation or the CLI: the server's hot
path loads only what answering a request needs (tests/layers.py holds this).
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.serve._batch import predict as predict

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_batch": ("predict",),
    },
)
