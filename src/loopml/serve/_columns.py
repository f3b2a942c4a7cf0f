"""A request's columns that are the columns of one 2-D array, kept with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt


class MatrixColumns(dict[str, "npt.NDArray[Any]"]):
    """:data:`~loopml.serve._calling.Columns` that are the columns of one 2-D array (a
    request's one tensor, a frame's values), which it keeps as ``rows``: one row per
    row of the request, its columns in the dict's order, as the request held them. The
    dict's columns are views of it. The model's matrix, a batch of such requests and
    the log's lists are then made from it in one step, not a step per column, and a
    request's values are copied across, from rows to columns, only once: by the log,
    off the request's path.
    Read-only: a change would part the dict from its matrix.

    >>> import numpy as np
    >>> columns = MatrixColumns(["a", "b"], np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> columns["b"].tolist(), columns.rows.shape
    ([2.0, 4.0], (2, 2))
    >>> columns["a"] = np.zeros(2)
    Traceback (most recent call last):
    TypeError: a request's columns are read-only
    """

    __slots__ = ("rows",)

    def __init__(self, names: Sequence[str], rows: npt.NDArray[Any]) -> None:
        super().__init__(zip(names, rows.T, strict=True))
        self.rows = rows

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles: made again, not set
        return MatrixColumns, (list(self), self.rows)

    def _read_only(self, *_: Any, **__: Any) -> Any:
        raise TypeError("a request's columns are read-only")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only
