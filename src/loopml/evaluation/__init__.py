"""Model analysis: metrics and the naive baselines every model is measured against
(``baseline``, ``log_baseline``, ``classification_metrics``, ``regression_metrics``); a
model evaluated on held-out rows, with metrics and their bootstrap
intervals, the naive baseline, metrics per slice, sensitivity to small input changes,
calibration, latency and size, and flips against the champion; the gate that
decides on a model from its evaluation. For the loop: the always-valid sequential A/B
test that promotes a challenger or rolls it back from live feedback (``sequential_test``,
``fold_outcomes``); off-policy estimates of what a routing policy would earn, from the
requests another one routed (``ips``, ``snips``, ``doubly_robust``,
``cross_fit_rewards``); and the performance of windows of unlabelled traffic estimated
from the model's confidence (``PerformanceEstimator``).

>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> from loopml.evaluation import evaluate
>>> rng = np.random.default_rng(0)
>>> def rows(n):
...     x = rng.uniform(0, 100, n)
...     return pd.DataFrame({"x": x, "y": np.where(x + rng.normal(0, 10, n) > 50, "yes", "no")})
>>> train, held_out = rows(400), rows(200)
>>> model = LogisticRegression().fit(train[["x"]], train["y"])
>>> result = evaluate(model, held_out, label="y", train=train, record=False)
>>> result.primary, result.metrics["accuracy"], result.baseline["accuracy"]
('accuracy', 0.9..., 0.55)
>>> result.intervals["accuracy"]
Interval(low=0.8..., high=0.9..., level=0.95)
>>> worst = result.slices[0]
>>> worst.name, worst.rows, worst.gap < 0
('x in [..., ...)', 50, True)
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.errors import OverlapWarning as OverlapWarning
    from loopml.evaluation._baseline import Baseline as Baseline
    from loopml.evaluation._baseline import baseline as baseline
    from loopml.evaluation._baseline import log_baseline as log_baseline
    from loopml.evaluation._estimate import PerformanceEstimator as PerformanceEstimator
    from loopml.evaluation._evaluate import evaluate as evaluate
    from loopml.evaluation._gate import Decision as Decision
    from loopml.evaluation._gate import Policy as Policy
    from loopml.evaluation._gate import gate as gate
    from loopml.evaluation._metrics import classification_metrics as classification_metrics
    from loopml.evaluation._metrics import regression_metrics as regression_metrics
    from loopml.evaluation._off_policy import OffPolicyEstimate as OffPolicyEstimate
    from loopml.evaluation._off_policy import doubly_robust as doubly_robust
    from loopml.evaluation._off_policy import ips as ips
    from loopml.evaluation._off_policy import snips as snips
    from loopml.evaluation._record import load_evaluation as load_evaluation
    from loopml.evaluation._records import Estimate as Estimate
    from loopml.evaluation._records import Evaluation as Evaluation
    from loopml.evaluation._records import Flips as Flips
    from loopml.evaluation._records import Interval as Interval
    from loopml.evaluation._records import SliceResult as SliceResult
    from loopml.evaluation._reward_model import cross_fit_rewards as cross_fit_rewards
    from loopml.evaluation._sequential import ArmTotals as ArmTotals
    from loopml.evaluation._sequential import SequentialState as SequentialState
    from loopml.evaluation._sequential import Verdict as Verdict
    from loopml.evaluation._sequential import fold_outcomes as fold_outcomes
    from loopml.evaluation._sequential import sequential_test as sequential_test
    from loopml.evaluation._sequential_result import SequentialResult as SequentialResult

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "loopml.errors": ("OverlapWarning",),
        "_baseline": ("Baseline", "baseline", "log_baseline"),
        "_estimate": ("PerformanceEstimator",),
        "_evaluate": ("evaluate",),
        "_gate": ("Decision", "Policy", "gate"),
        "_metrics": ("classification_metrics", "regression_metrics"),
        "_off_policy": ("OffPolicyEstimate", "doubly_robust", "ips", "snips"),
        "_record": ("load_evaluation",),
        "_records": ("Estimate", "Evaluation", "Flips", "Interval", "SliceResult"),
        "_reward_model": ("cross_fit_rewards",),
        "_sequential": (
            "ArmTotals",
            "SequentialState",
            "Verdict",
            "fold_outcomes",
            "sequential_test",
        ),
        "_sequential_result": ("SequentialResult",),
    },
)
