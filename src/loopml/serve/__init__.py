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
    from loopml.serve._feedback import feedback as feedback
    from loopml.serve._log import FeedbackLog as FeedbackLog
    from loopml.serve._log import FeedbackRecord as FeedbackRecord
    from loopml.serve._log import PredictionLog as PredictionLog
    from loopml.serve._log import PredictionRecord as PredictionRecord
    from loopml.serve._read import feedback_records as feedback_records
    from loopml.serve._read import find_prediction as find_prediction
    from loopml.serve._read import predictions as predictions

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_feedback": ("feedback",),
        "_log": ("FeedbackLog", "FeedbackRecord", "PredictionLog", "PredictionRecord"),
        "_read": ("feedback_records", "find_prediction", "predictions"),
    },
)
