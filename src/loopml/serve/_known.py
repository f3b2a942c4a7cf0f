"""What a server knows of the predictions feedback names: its own recent answers, and
those it read from the prediction log, so that feedback is matched from memory.

The engine remembers each answer it gives (:meth:`KnownPredictions.remember`, a dict
insert on the request path); feedback on a prediction it does not remember (made by
another worker, or before a restart) reads the log's segments of the minute around the
time the id holds (:func:`known_in_log`) and remembers every prediction of each segment
read, so that feedback on the rest of a segment, which tends to come together, reads
nothing. The most recent ``size`` predictions are kept.

>>> known = KnownPredictions(size=2)
>>> for n in range(3):
...     known.remember(f"p{n}", Known("churn", "churn@v1", True, n, 1))
>>> known.get("p0") is None, known.get("p2").values
(True, (2,))
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from loopml._ids import made_us
from loopml._time import from_us
from loopml.serve._layouts import PREDICTIONS

if TYPE_CHECKING:
    from datetime import datetime

    import numpy.typing as npt

    from loopml.workspace import Workspace

#: how many predictions a server keeps known for their feedback
RECENT = 100_000
#: how far from the time an id holds its prediction's record may be timed: the id is
#: made just before the record's time is taken, on the same clock
AROUND_US = 60_000_000
#: the most rows of a prediction whose predicted values are kept known (a batch of a
#: thousand rows would hold a thousand values in memory for each of RECENT predictions)
KEPT_ROWS = 16
_COLUMNS = ["prediction_id", "deployment", "ref", "arm", "fallback", "shadow", "outputs"]


class Known(NamedTuple):
    """A prediction as feedback needs it: the deployment and version that answered,
    whether a routing policy's arm chose it (not a fallback's or a shadow's answer:
    those reward no arm), what it predicted (what a label is scored against, to reward
    an arm: the value itself for one row, as most predictions are, so that a hundred
    thousand of them cost no more memory than before; a tuple of values for up to
    :data:`KEPT_ROWS` rows; None for more, whose values are not kept in memory; see
    :attr:`values`), and its number of rows (None when unknown)."""

    deployment: str
    ref: str
    chosen: bool
    predicted: Any  # the value of a prediction of one row; else a tuple of them, or None
    rows: int | None

    @property
    def values(self) -> tuple[Any, ...] | None:
        """The predicted values, one a row; None when they are not kept."""
        if self.rows == 1:
            return (self.predicted,)
        return self.predicted if isinstance(self.predicted, tuple) else None


class KnownPredictions:
    """The most recent ``size`` known predictions, by id. Used from one thread (the
    server's event loop).

    Each is kept as a plain tuple, not a :class:`Known`: the collector stops tracking a
    tuple of plain values (a subclass's instances it tracks for good), so a full
    collection does not walk the hundred thousand of them."""

    def __init__(self, size: int = RECENT) -> None:
        self.size = size
        self._known: collections.OrderedDict[str, tuple[Any, ...]] = collections.OrderedDict()
        self._credited: collections.OrderedDict[str, None] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._known)

    def remember(self, prediction_id: str, known: Known) -> None:
        self._known[prediction_id] = tuple(known)
        if len(self._known) > self.size:
            self._known.popitem(last=False)

    def remember_all(self, found: Iterable[tuple[str, Known]]) -> None:
        for prediction_id, known in found:
            self.remember(prediction_id, known)

    def get(self, prediction_id: str) -> Known | None:
        found = self._known.get(prediction_id)
        return None if found is None else Known._make(found)

    def credited(self, prediction_id: str) -> bool:
        """Whether the prediction's arm was credited already: an arm learns once from a
        prediction, however often its feedback is sent (a client's retry, a
        correction)."""
        return prediction_id in self._credited

    def credit(self, prediction_id: str) -> None:
        """Mark the prediction's arm credited (once its reward was taken: a refused one
        leaves it to be credited). The most recent ``size`` are remembered."""
        self._credited[prediction_id] = None
        if len(self._credited) > self.size:
            self._credited.popitem(last=False)


def known_in_log(ws: Workspace, prediction_id: str) -> tuple[Known | None, list[tuple[str, Known]]]:
    """The logged prediction ``prediction_id`` (a loopml id), and every prediction of
    the segments read to find it (to remember). Only the segments that overlap the
    minute either side of the id's time are read, newest first, and only their small
    columns (not the inputs): an id the log does not hold costs those few reads."""
    from loopml.serve._segments import find_segments, read_segment  # PyArrow: not at start

    made = made_us(prediction_id)
    if made is None:
        return None, []
    segments = find_segments(ws, PREDICTIONS, None, made - AROUND_US, made + AROUND_US)
    segments.sort(key=lambda segment: segment.metadata.get("last_us") or 0, reverse=True)
    read: list[tuple[str, Known]] = []
    for segment in segments:
        frame = read_segment(ws, segment, columns=_COLUMNS, typed=True)
        found = None
        for row in frame.iter_rows(named=True):
            known = _known(row)
            read.append((row["prediction_id"], known))
            if row["prediction_id"] == prediction_id:
                found = known
        if found is not None:
            return found, read
    return None, read


def _known(row: dict[str, Any]) -> Known:
    outputs = row["outputs"]
    predicted = outputs.get("predictions") if isinstance(outputs, dict) else None
    rows = len(predicted) if isinstance(predicted, list) else None
    chosen = row["arm"] is not None and not row["fallback"] and not row["shadow"]
    kept = kept_values(predicted) if isinstance(predicted, list) else None
    return Known(row["deployment"], row["ref"], chosen, kept, rows)


def kept_values(predicted: Sequence[Any] | npt.NDArray[Any]) -> Any:
    """What :class:`Known` keeps of a prediction's values (one a row: a list, or the
    answer's array)."""
    if len(predicted) == 1:
        return predicted[0]
    if not 1 < len(predicted) <= KEPT_ROWS:
        return None
    return tuple(predicted.tolist() if hasattr(predicted, "tolist") else predicted)


def logged_since(prediction_id: str) -> datetime | None:
    """The earliest a prediction with this id can be logged at (a minute before the
    time a loopml id holds); None for another id, which may be anywhere in the log."""
    made = made_us(prediction_id)
    return None if made is None else from_us(made - AROUND_US)
