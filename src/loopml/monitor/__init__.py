"""Monitoring the served models and closing the loop: predictions joined with their
feedback, live metrics per deployment and version over windows of time or of
predictions, drift of the live inputs and predictions per window, the human review
queue (rows picked for people to label, their agreement, and the reviewed rows made a
dataset version), and the loop controller that retrains, gates, tests and promotes (or
rolls back) a deployment's model by itself, recording each decision with its numbers.

Reads the server's prediction and feedback logs (:mod:`loopml.serve`); the controller
runs the project's pipelines, the gate and the registry.
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.monitor._agreement import Agreement as Agreement
    from loopml.monitor._agreement import ClassAgreement as ClassAgreement
    from loopml.monitor._agreement import ReviewerAgreement as ReviewerAgreement
    from loopml.monitor._agreement import agreement_of as agreement_of
    from loopml.monitor._agreement import review_agreement as review_agreement
    from loopml.monitor._controller import LoopPass as LoopPass
    from loopml.monitor._controller import run_loop as run_loop
    from loopml.monitor._decisions import LoopDecision as LoopDecision
    from loopml.monitor._decisions import loop_decisions as loop_decisions
    from loopml.monitor._definitions import define_loop as define_loop
    from loopml.monitor._definitions import loop_definition as loop_definition
    from loopml.monitor._definitions import loops as loops
    from loopml.monitor._definitions import read_loops as read_loops
    from loopml.monitor._drift import DriftWindows as DriftWindows
    from loopml.monitor._drift import drift_windows as drift_windows
    from loopml.monitor._join import Labelled as Labelled
    from loopml.monitor._join import join_feedback as join_feedback
    from loopml.monitor._join import labelled as labelled
    from loopml.monitor._loop import Decay as Decay
    from loopml.monitor._loop import Drift as Drift
    from loopml.monitor._loop import Loop as Loop
    from loopml.monitor._loop import Rollout as Rollout
    from loopml.monitor._loop import Triggers as Triggers
    from loopml.monitor._review import ReviewTask as ReviewTask
    from loopml.monitor._review import consensus as consensus
    from loopml.monitor._review import label_review as label_review
    from loopml.monitor._review import next_review as next_review
    from loopml.monitor._review import review_item as review_item
    from loopml.monitor._review import review_items as review_items
    from loopml.monitor._review_commit import Committed as Committed
    from loopml.monitor._review_commit import commit_review as commit_review
    from loopml.monitor._review_files import Exported as Exported
    from loopml.monitor._review_files import Imported as Imported
    from loopml.monitor._review_files import export_review as export_review
    from loopml.monitor._review_files import import_review as import_review
    from loopml.monitor._review_queue import Queued as Queued
    from loopml.monitor._review_queue import queue_for_review as queue_for_review
    from loopml.monitor._trace import Trace as Trace
    from loopml.monitor._trace import trace as trace
    from loopml.monitor._triggers import Firing as Firing
    from loopml.monitor._windows import live_metrics as live_metrics

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_agreement": (
            "Agreement",
            "ClassAgreement",
            "ReviewerAgreement",
            "agreement_of",
            "review_agreement",
        ),
        "_controller": ("LoopPass", "run_loop"),
        "_decisions": ("LoopDecision", "loop_decisions"),
        "_definitions": ("define_loop", "loop_definition", "loops", "read_loops"),
        "_drift": ("DriftWindows", "drift_windows"),
        "_join": ("Labelled", "join_feedback", "labelled"),
        "_loop": ("Decay", "Drift", "Loop", "Rollout", "Triggers"),
        "_review": (
            "ReviewTask",
            "consensus",
            "label_review",
            "next_review",
            "review_item",
            "review_items",
        ),
        "_review_commit": ("Committed", "commit_review"),
        "_review_files": ("Exported", "Imported", "export_review", "import_review"),
        "_review_queue": ("Queued", "queue_for_review"),
        "_trace": ("Trace", "trace"),
        "_triggers": ("Firing",),
        "_windows": ("live_metrics",),
    },
)
