"""The rules that pick predicted rows for human review, each over the rows of
:func:`~loopml.monitor.labelled` (one per predicted row; ``key`` below is a row's
prediction id and row number):

- ``low-confidence``: the served answer's confidence (its top class probability) is
  under a threshold;
- ``disagreement``: another model's answer for the same row differs — a shadow's
  (logged beside the answer it shadowed) or a stored version's, such as the previous
  champion's, run on the row's logged inputs;
- ``drift``: the caller names the rows (a drift window's rows, or any other set);
- ``audit``: a uniform random sample of the rows, so the queue also holds rows no
  rule would pick and their labels estimate accuracy without bias.

>>> import polars as pl
>>> rows = pl.DataFrame({"prediction_id": ["a", "b", "c"], "row": [0, 0, 0],
...     "answers": ["a", "b", "c"], "time_us": [1, 2, 3], "ref": ["m@v2"] * 3,
...     "shadow": [False] * 3, "predicted": [1, 0, 1], "confidence": [0.55, 0.9, 0.62]})
>>> sorted(low_confidence(rows, 0.6))
[('a', 0)]
>>> sorted(audit_sample(rows, 2, seed=0)) == sorted(audit_sample(rows, 2, seed=0))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

Key = tuple[str, int]
Evidence = dict[str, Any]

REASONS = ("low-confidence", "disagreement", "drift", "audit")


NEEDS_PROBABILITIES = (
    "needs a classifier's probabilities (a row's confidence is its top class "
    "probability), and {why}; pick rows by disagreement, drift or an audit sample instead"
)


def low_confidence(rows: pl.DataFrame, below: float) -> dict[Key, Evidence]:
    """Rows whose confidence is under ``below``."""
    import polars as pl

    if rows.height == 0:
        return {}
    if "confidence" not in rows.columns or rows["confidence"].is_null().all():
        why = "these predictions hold none"
        raise InvalidInput(f"below={below} {NEEDS_PROBABILITIES.format(why=why)}", field="below")
    picked = rows.filter(pl.col("confidence") < below)
    return {
        (pid, row): {"confidence_below": below}
        for pid, row in picked.select("prediction_id", "row").iter_rows()
    }


def shadow_disagreement(primary: pl.DataFrame, every: pl.DataFrame) -> dict[Key, Evidence]:
    """Rows of ``primary`` whose shadows (in ``every``: the rows of every answer,
    shadows included) predicted otherwise."""
    import polars as pl

    if primary.height == 0:
        return {}
    shadows = every.filter(pl.col("shadow") & pl.col("predicted").is_not_null()).select(
        "answers", "row", pl.col("ref").alias("other_ref"), pl.col("predicted").alias("other")
    )
    if shadows.height == 0:
        raise InvalidInput(
            "disagree_with='shadow': no shadow answered these predictions; deploy a shadow "
            "(`loopml deploy NAME --model M --shadow M@v4`), or compare with a version "
            "(disagree_with='previous' or 'churn@v2')",
            field="disagree_with",
        )
    joined = primary.select("prediction_id", "answers", "row", "predicted").join(
        shadows, on=["answers", "row"], how="inner"
    )
    differ = joined.filter(pl.col("predicted") != pl.col("other"))
    found: dict[Key, Evidence] = {}
    for pid, row, ref, other in differ.select(
        "prediction_id", "row", "other_ref", "other"
    ).iter_rows():
        found.setdefault((pid, row), {"disagreeing": []})["disagreeing"].append(
            {"ref": ref, "guess": other}
        )
    return found


def model_disagreement(
    primary: pl.DataFrame, answers: Mapping[Key, Any], ref: str
) -> dict[Key, Evidence]:
    """Rows of ``primary`` where ``answers`` (version ``ref``'s predictions, by key)
    differ from the served one."""
    found: dict[Key, Evidence] = {}
    for pid, row, predicted in primary.select("prediction_id", "row", "predicted").iter_rows():
        key = (pid, row)
        if key in answers and answers[key] != predicted:
            found[key] = {"disagreeing": [{"ref": ref, "guess": answers[key]}]}
    return found


def flagged_rows(
    rows: pl.DataFrame, flagged: Iterable[str | tuple[str, int]]
) -> tuple[dict[Key, Evidence], int]:
    """The rows named by ``flagged`` (a prediction id for each of its rows, or a
    ``(prediction_id, row)`` pair), and how many names matched no row."""
    named_rows: set[Key] = set()
    named_ids: set[str] = set()
    for each in flagged:
        if isinstance(each, str):
            named_ids.add(each)
        elif (
            isinstance(each, tuple)
            and len(each) == 2
            and isinstance(each[0], str)
            and isinstance(each[1], int)
            and not isinstance(each[1], bool)
        ):
            named_rows.add((each[0], each[1]))
        else:
            raise InvalidInput(
                f"flagged row {each!r:.80} must be a prediction id, or a (prediction id, row) pair",
                field="flagged",
            )
    found: dict[Key, Evidence] = {}
    seen_ids: set[str] = set()
    for pid, row in rows.select("prediction_id", "row").iter_rows():
        if pid in named_ids or (pid, row) in named_rows:
            found[(pid, row)] = {}
            seen_ids.add(pid)
    missing = len(named_ids - seen_ids) + len(named_rows - set(found))
    return found, missing


def audit_sample(rows: pl.DataFrame, size: int, *, seed: int | None) -> dict[Key, Evidence]:
    """``size`` rows drawn uniformly at random without replacement (all of them when
    there are fewer); the same ``seed`` draws the same rows from the same rows."""
    import numpy as np

    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInput(
            f"audit {size!r} must be a whole number of rows, 0 or more", field="audit"
        )
    ordered = rows.select("time_us", "prediction_id", "row").sort("time_us", "prediction_id", "row")
    chosen = np.random.default_rng(seed).choice(
        ordered.height, size=min(size, ordered.height), replace=False
    )
    picked = ordered[sorted(int(i) for i in chosen)]
    return {
        (pid, row): {"audit_of": ordered.height}
        for pid, row in picked.select("prediction_id", "row").iter_rows()
    }
