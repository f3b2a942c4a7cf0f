"""Monitoring the served models: predictions joined with their feedback, live metrics
per deployment and version over windows of time or of predictions, and drift of the
live inputs and predictions per window.

Reads the server's prediction and feedback logs (:mod:`loopml.serve`); the loop
controller (to come) acts on what it finds.
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.monitor._drift import DriftWindows as DriftWindows
    from loopml.monitor._drift import drift_windows as drift_windows
    from loopml.monitor._join import Labelled as Labelled
    from loopml.monitor._join import join_feedback as join_feedback
    from loopml.monitor._join import labelled as labelled
    from loopml.monitor._windows import live_metrics as live_metrics

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_drift": ("DriftWindows", "drift_windows"),
        "_join": ("Labelled", "join_feedback", "labelled"),
        "_windows": ("live_metrics",),
    },
)
