"""Training helpers: naive baselines that every model is measured against,
hyper-parameter tuning (``tune``) with Optuna's samplers, each trial a run, warm
starts and incremental updates (``retrain``, ``update``), and distillation.

>>> from loopml.training import baseline
>>> mean = baseline("regression", [2.0, 4.0, 6.0])
>>> mean.description, mean.metrics([4.0, 5.0])
('mean 4', {'mae': 0.5, 'rmse': 0.707..., 'r2': -1.0})
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.training._baseline import Baseline, baseline, log_baseline
    from loopml.training._continue import Retrained, Update, retrain, update
    from loopml.training._distill import Distilled, distill, soft_labels
    from loopml.training._metrics import classification_metrics, regression_metrics
    from loopml.training._space import Choice, Float, Int
    from loopml.training._trials import Trial
    from loopml.training._tune import TrialResult, TuneResult, tune

_WHERE = {
    "Baseline": "_baseline",
    "baseline": "_baseline",
    "log_baseline": "_baseline",
    "Retrained": "_continue",
    "Update": "_continue",
    "retrain": "_continue",
    "update": "_continue",
    "Distilled": "_distill",
    "distill": "_distill",
    "soft_labels": "_distill",
    "classification_metrics": "_metrics",
    "regression_metrics": "_metrics",
    "Choice": "_space",
    "Float": "_space",
    "Int": "_space",
    "Trial": "_trials",
    "TrialResult": "_tune",
    "TuneResult": "_tune",
    "tune": "_tune",
}


__all__ = [
    "Baseline",
    "Choice",
    "Distilled",
    "Float",
    "Int",
    "Retrained",
    "Trial",
    "TrialResult",
    "TuneResult",
    "Update",
    "baseline",
    "classification_metrics",
    "distill",
    "log_baseline",
    "regression_metrics",
    "retrain",
    "soft_labels",
    "tune",
    "update",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
