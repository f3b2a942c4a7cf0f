"""Training helpers: hyper-parameter tuning (``tune``) with Optuna's samplers, each
trial a run, warm starts and incremental updates (``retrain``, ``update``), and
distillation.

The naive baselines every model is measured against, and their metrics, live in
:mod:`loopml.evaluation`; they are here too, as they always were:

>>> from loopml.training import baseline
>>> mean = baseline("regression", [2.0, 4.0, 6.0])
>>> mean.description, mean.metrics([4.0, 5.0])
('mean 4', {'mae': 0.5, 'rmse': 0.707..., 'r2': -1.0})
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.evaluation import Baseline as Baseline
    from loopml.evaluation import baseline as baseline
    from loopml.evaluation import classification_metrics as classification_metrics
    from loopml.evaluation import log_baseline as log_baseline
    from loopml.evaluation import regression_metrics as regression_metrics
    from loopml.training._continue import Retrained as Retrained
    from loopml.training._continue import Update as Update
    from loopml.training._continue import retrain as retrain
    from loopml.training._continue import update as update
    from loopml.training._distill import Distilled as Distilled
    from loopml.training._distill import distill as distill
    from loopml.training._distill import soft_labels as soft_labels
    from loopml.training._space import Choice as Choice
    from loopml.training._space import Float as Float
    from loopml.training._space import Int as Int
    from loopml.training._trials import Trial as Trial
    from loopml.training._tune import TrialResult as TrialResult
    from loopml.training._tune import TuneResult as TuneResult
    from loopml.training._tune import tune as tune

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        # Metrics and baselines live in evaluation; training gives them too, as before.
        "loopml.evaluation._baseline": ("Baseline", "baseline", "log_baseline"),
        "_continue": ("Retrained", "Update", "retrain", "update"),
        "_distill": ("Distilled", "distill", "soft_labels"),
        "loopml.evaluation._metrics": ("classification_metrics", "regression_metrics"),
        "_space": ("Choice", "Float", "Int"),
        "_trials": ("Trial",),
        "_tune": ("TrialResult", "TuneResult", "tune"),
    },
)
