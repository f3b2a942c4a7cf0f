"""The performance estimator an evaluation leaves for the monitor: fitted on the
evaluation's held-out rows, with the probability columns in the model's own order (the
order its answers are logged in), so that the live windows of the version it evaluated
can be estimated before their labels come (see :mod:`loopml.monitor`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy.typing as npt

    from loopml.evaluation._predict import Predictions


def fitted_estimator(
    p: Predictions, known: npt.NDArray[Any] | None
) -> tuple[dict[str, Any] | None, str]:
    """The estimator of ``p``'s model as JSON (:meth:`PerformanceEstimator.to_dict`),
    ``known`` being the model's classes in its probability columns' order; or None and
    why there is none."""
    import numpy as np

    from loopml.evaluation._estimate import PerformanceEstimator
    from loopml.evaluation._estimate_inputs import python_value

    if p.task != "classification" or p.proba is None or known is None or p.classes is None:
        return None, "the model gives no probabilities"
    columns = np.searchsorted(p.classes, known)
    if not np.isin(p.y, columns).all():
        return None, "some labels are classes the model never predicts"
    classes = [python_value(each) for each in known]
    try:
        estimator = PerformanceEstimator().fit(p.proba[:, columns], p.classes[p.y], classes=classes)
    except InvalidInput as error:  # too few rows of a class to cross-fit calibration
        return None, str(error)
    return estimator.to_dict(), f"fitted on the {p.rows:,} evaluation rows"
