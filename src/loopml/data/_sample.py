"""A profile's row sample: the numeric columns of at most 5,000 rows, as one float64
matrix (a missing value is NaN), for the tests that need raw values.

Stored as a ``.npy`` matrix whose columns are the profile's numeric columns, in the
table's order (the profile names them): NumPy reads it, so comparing two stored
versions needs no data-frame library. Samples stored as Arrow IPC or Parquet by
earlier versions are still read (with Polars), by the names they hold.

>>> import polars as pl
>>> sample = Sample.of(pl.DataFrame({"x": [1, None, 3], "y": [0.5, 1.5, 2.5]}))
>>> sample.height, sample.names, sample.column("x").tolist()
(3, ('x', 'y'), [1.0, nan, 3.0])
>>> Sample.read(sample.to_bytes(), sample.names) == sample
True
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, BinaryIO

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

    Floats = npt.NDArray[np.float64]


class Sample:
    """Named float64 columns of one row sample."""

    __slots__ = ("_index", "names", "values")

    def __init__(self, names: tuple[str, ...], values: Floats) -> None:
        assert values.shape == (values.shape[0], len(names))
        self.names = names
        self.values = values
        self._index = {name: j for j, name in enumerate(names)}

    @classmethod
    def of(cls, frame: pl.DataFrame) -> Sample:
        """The columns of ``frame`` (numeric ones) cast to float64, a null as NaN."""
        import polars as pl

        values = frame.select(pl.all().cast(pl.Float64)).to_numpy(order="fortran")
        return cls(tuple(frame.columns), values.reshape(frame.height, frame.width))

    @property
    def height(self) -> int:
        return int(self.values.shape[0])

    @property
    def width(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def column(self, name: str) -> Floats:
        return self.values[:, self._index[name]]

    def write(self, out: BinaryIO) -> None:
        import numpy as np

        np.save(out, self.values, allow_pickle=False)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.write(out)
        return out.getvalue()

    @classmethod
    def read(cls, data: bytes, names: tuple[str, ...]) -> Sample:
        """A stored sample of the numeric columns ``names``: ``.npy``, or the Arrow IPC
        or Parquet of earlier versions (which name their columns themselves)."""
        import numpy as np

        if data.startswith(b"\x93NUMPY"):
            values = np.load(io.BytesIO(data), allow_pickle=False)
            if values.ndim != 2 or values.shape[1] != len(names):
                raise InvalidInput(
                    f"the stored row sample has {values.shape[-1]} columns where the "
                    f"profile has {len(names)} numeric ones: it belongs to another profile"
                )
            return cls(names, values)
        import polars as pl

        frame = (
            pl.read_parquet(io.BytesIO(data))
            if data.startswith(b"PAR1")
            else pl.read_ipc(io.BytesIO(data))
        )
        return cls.of(frame)

    def __eq__(self, other: object) -> bool:
        import numpy as np

        if not isinstance(other, Sample):
            return NotImplemented
        return self.names == other.names and bool(
            np.array_equal(self.values, other.values, equal_nan=True)
        )

    def __hash__(self) -> int:
        return hash((self.names, self.values.tobytes()))

    def __repr__(self) -> str:
        return f"Sample({self.height} rows x {self.width} columns)"
