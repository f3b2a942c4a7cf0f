"""What a validation finds, as plain records: stored as JSON with the validation
artifact, drawn by the report, shown by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.data._profile import Value


@dataclass(frozen=True)
class Anomaly:
    """One finding: its kind, column (None for the table), severity, a sentence with
    the numbers, and the evidence those numbers came from."""

    kind: str
    column: str | None
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnDrift:
    """One column compared with the reference.

    ``method`` names the effect size judged (``statistic``, against ``threshold``);
    ``p_value`` is the column's test, ``p_adjusted`` the same after Holm's adjustment
    over every column compared (both None when the effect is below its threshold: the
    column cannot drift, and is not tested). A column drifts when both agree: the adjusted p-value
    is below the schema's ``drift_alpha`` and the effect reaches its threshold (for
    the p-value methods ``ks`` and ``chisquare``, the column's own p-value alone).
    ``kind`` is "drift" or "label_shift" (the label), ``summary`` the direction and
    size in words."""

    column: str
    method: str
    statistic: float
    threshold: float
    drifted: bool
    measures: dict[str, float]
    reference: dict[str, Any]  # what the report draws: shares per bin or per value
    current: dict[str, Any]
    p_value: float | None = None  # None: not tested, the effect below its threshold
    p_adjusted: float | None = None
    kind: str = "drift"
    summary: str = ""


@dataclass(frozen=True)
class Validation:
    rows: int
    reference_rows: int | None
    comparison: str  # "drift" or "skew"
    anomalies: tuple[Anomaly, ...]
    drift: tuple[ColumnDrift, ...]

    @property
    def errors(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.severity == "error"]

    @property
    def passed(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "loopml.validation/1",
            "passed": self.passed,
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "comparison": self.comparison,
            "anomalies": [vars(a) for a in self.anomalies],
            "drift": [vars(d) for d in self.drift],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Validation:
        return cls(
            rows=data["rows"],
            reference_rows=data["reference_rows"],
            comparison=data["comparison"],
            anomalies=tuple(Anomaly(**a) for a in data["anomalies"]),
            drift=tuple(ColumnDrift(**d) for d in data["drift"]),
        )


def anomaly(kind: str, column: str | None, message: str, **evidence: Any) -> Anomaly:
    """A finding at error severity; the schema's severities are applied afterwards."""
    return Anomaly(kind, column, "error", message, evidence)


def value_key(value: Value) -> str:
    """Values compared across profiles and schema files by their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
