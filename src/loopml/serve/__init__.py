"""Serving: deployments (named endpoints with a routing policy over model versions),
the server that answers them over the Open Inference Protocol (REST and gRPC) and
MLflow-style ``/invocations``, routing (A/B, canary, shadow, bandits), hot swap,
fallback, adaptive micro-batching, the prediction log, feedback (one at a time or a
file of it) and batch scoring.

Nothing here imports the pipelines, training, evaluation or the CLI: the server's hot
path loads only what answering a request needs (tests/layers.py holds this).
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.serve._arms import ArmSharing as ArmSharing
    from loopml.serve._batch import predict as predict
    from loopml.serve._deploy import DeploymentDetail as DeploymentDetail
    from loopml.serve._deploy import deploy as deploy
    from loopml.serve._deploy import deployment as deployment
    from loopml.serve._deploy import deployment_history as deployment_history
    from loopml.serve._deploy import deployments as deployments
    from loopml.serve._deploy import set_arms as set_arms
    from loopml.serve._deploy import set_weight as set_weight
    from loopml.serve._deploy import undeploy as undeploy
    from loopml.serve._feedback import feedback as feedback
    from loopml.serve._feedback_import import FeedbackImport as FeedbackImport
    from loopml.serve._feedback_import import import_feedback as import_feedback
    from loopml.serve._log import FeedbackLog as FeedbackLog
    from loopml.serve._log import FeedbackRecord as FeedbackRecord
    from loopml.serve._log import PredictionLog as PredictionLog
    from loopml.serve._log import PredictionRecord as PredictionRecord
    from loopml.serve._policy import ROUTINGS as ROUTINGS
    from loopml.serve._policy import Arm as Arm
    from loopml.serve._policy import KeySource as KeySource
    from loopml.serve._policy import Policy as Policy
    from loopml.serve._read import feedback_records as feedback_records
    from loopml.serve._read import find_prediction as find_prediction
    from loopml.serve._read import predictions as predictions
    from loopml.serve._routing import Router as Router
    from loopml.serve._running import Running as Running
    from loopml.serve._server import ServeOptions as ServeOptions
    from loopml.serve._server import Server as Server

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_deploy": (
            "DeploymentDetail",
            "deploy",
            "deployment",
            "deployment_history",
            "deployments",
            "set_arms",
            "set_weight",
            "undeploy",
        ),
        "_policy": ("ROUTINGS", "Arm", "KeySource", "Policy"),
        "_feedback": ("feedback",),
        "_feedback_import": ("FeedbackImport", "import_feedback"),
        "_log": ("FeedbackLog", "FeedbackRecord", "PredictionLog", "PredictionRecord"),
        "_read": ("feedback_records", "find_prediction", "predictions"),
        "_arms": ("ArmSharing",),
        "_routing": ("Router",),
        "_running": ("Running",),
        "_server": ("ServeOptions", "Server"),
        "_batch": ("predict",),
    },
)
