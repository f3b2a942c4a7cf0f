"""The columns of the prediction and feedback logs' segments, named without PyArrow.

The server makes its logs at start and writes nothing until its first answer, so the
layouts name their columns' types as words (PyArrow's names for them) and
:attr:`Layout.schema` builds the PyArrow schema on first use: the server answers its
first request without importing PyArrow (about 0.05 s of a cold start), which the
log's flusher imports when it first has records to turn into a table.

>>> PREDICTIONS.kind, PREDICTIONS.format, PREDICTIONS.nested
('predictions', 'loopml.predictions/2', ('inputs', 'outputs'))
>>> FEEDBACK.schema.field("reward").type
DataType(double)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopml._kinds import ArtifactKind

if TYPE_CHECKING:
    import pyarrow as pa

# The name of feedback segments whose deployment the writer did not know: not a name a
# deployment can take, so it cannot be mistaken for one.
NO_DEPLOYMENT = "(unknown)"


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of one kind of segment: ``columns`` the plain ones (name and PyArrow
    type name, such as ``int64``), ``nested`` the struct columns of
    :mod:`~loopml.serve._nested`, ``json_fields`` those kept as JSON text."""

    kind: str
    columns: tuple[tuple[str, str], ...]
    json_fields: frozenset[str]
    nested: tuple[str, ...] = ()
    version: int = 1

    @property
    def format(self) -> str:
        return f"loopml.{self.kind}/{self.version}"

    @property
    def names(self) -> tuple[str, ...]:
        """The plain columns' names (without PyArrow)."""
        return tuple(name for name, _ in self.columns)

    @property
    def schema(self) -> pa.Schema:
        """The plain columns as a PyArrow schema (PyArrow is imported here, once)."""
        return _schema(self.columns)


@functools.cache
def _schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, type_name)()) for name, type_name in columns])


PREDICTIONS = Layout(
    ArtifactKind.PREDICTIONS.value,
    (
        ("prediction_id", "string"),
        ("request_id", "string"),
        ("time_us", "int64"),
        ("deployment", "string"),
        ("ref", "string"),
        ("arm", "int32"),
        ("probability", "float64"),
        ("latency_us", "int64"),
        ("key", "string"),
        ("fallback", "bool_"),
        ("shadow", "bool_"),
        ("error", "string"),
    ),
    frozenset(),
    nested=("inputs", "outputs"),
    version=2,
)

FEEDBACK = Layout(
    ArtifactKind.FEEDBACK.value,
    (
        ("prediction_id", "string"),
        ("time_us", "int64"),
        ("reward", "float64"),
        ("label", "string"),
        ("row", "int64"),
        ("deployment", "string"),
    ),
    frozenset({"label"}),
)
