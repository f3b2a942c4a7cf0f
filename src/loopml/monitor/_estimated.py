"""A classifier's live windows estimated before their labels come, beside what the
labels give once they do.

Each version's estimator is the one its evaluation fitted on held-out rows (see
:mod:`loopml.evaluation._estimate_fit`): found through the evaluation the version was
registered with. A window's estimate reads every row whose answer held probabilities,
labelled or not; the realised metrics beside it read the labelled ones. For two
classes the estimator gives accuracy, precision, recall, F1 and ROC-AUC of the
positive class; for more, accuracy. The estimate assumes the labels follow the inputs
as they did in the evaluation rows: a realised value outside the estimate's interval
says they no longer do (concept drift), which no estimate from confidence can see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from loopml.errors import LoopmlError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

    from loopml.evaluation import PerformanceEstimator
    from loopml.workspace import Workspace


def version_estimators(refs: Iterable[str], ws: Workspace) -> dict[str, PerformanceEstimator]:
    """The estimator of each of ``refs`` (``churn@v1``) whose registered evaluation
    fitted one; versions without (a regressor, a model without probabilities, no
    evaluation, a version since deleted) are left out."""
    from loopml.evaluation import PerformanceEstimator
    from loopml.evaluation._record import load_evaluation
    from loopml.registry import get

    found: dict[str, PerformanceEstimator] = {}
    for ref in sorted(set(refs)):
        try:
            evaluation_id = get(ref, workspace=ws).evaluation_id
            if evaluation_id is None:
                continue
            stored = load_evaluation(ws, evaluation_id).estimator
        except LoopmlError:
            continue
        if stored is not None:
            found[ref] = PerformanceEstimator.from_dict(stored)
    return found


def estimated_metrics(
    rows: pl.DataFrame, estimators: Mapping[str, PerformanceEstimator]
) -> pl.DataFrame:
    """Per ``window`` and ``ref`` of ``rows`` (predicted rows with their ``window``,
    ``probabilities`` and ``label``): ``estimated_<metric>`` with its ``_low`` and
    ``_high`` ends, and the realised ``precision``, ``recall``, ``f1`` and ``roc_auc``
    of two classes on the labelled rows."""
    import numpy as np
    import polars as pl

    frames = []
    for ref, estimator in estimators.items():
        mine = rows.filter((pl.col("ref") == ref) & pl.col("probabilities").is_not_null())
        mine = mine.filter(pl.col("probabilities").list.len() == len(estimator.classes_))
        if not mine.height:
            continue
        proba = probabilities_of(mine, estimator)
        windows = mine["window"].to_numpy()
        found: dict[int, dict[str, float]] = {}
        for each in estimator.estimate(proba, window_ids=windows):
            one = found.setdefault(int(each.window), {})
            one[f"estimated_{each.metric}"] = each.value
            one[f"estimated_{each.metric}_low"] = each.low
            one[f"estimated_{each.metric}_high"] = each.high
        known = mine["label"].is_in(list(estimator.classes_))
        labelled = mine.filter(known.fill_null(False))
        if labelled.height and estimator.positive_ is not None:
            realised = estimator.realised(
                probabilities_of(labelled, estimator),
                np.asarray(labelled["label"].to_list(), dtype=object),
                window_ids=labelled["window"].to_numpy(),
            )
            for each in realised:
                if each.metric != "accuracy":  # the labelled rows' accuracy is there already
                    found[int(each.window)][each.metric] = each.value
        frames.append(
            pl.DataFrame([{"window": w, "ref": ref, **values} for w, values in found.items()])
        )
    if not frames:
        return pl.DataFrame(schema={"window": pl.Int64, "ref": pl.String})
    return pl.concat(frames, how="diagonal_relaxed").with_columns(pl.col("window").cast(pl.Int64))


def probabilities_of(
    rows: pl.DataFrame, estimator: PerformanceEstimator
) -> npt.NDArray[np.float64]:
    """The ``probabilities`` of ``rows`` (none missing) as a matrix of one column per
    class of ``estimator``; rows holding another number of them are left out."""
    import polars as pl

    classes = len(estimator.classes_)
    fitting = rows.filter(pl.col("probabilities").list.len() == classes)["probabilities"]
    return fitting.cast(pl.Array(pl.Float64, classes)).to_numpy()
