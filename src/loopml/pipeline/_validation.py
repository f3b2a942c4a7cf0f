"""The validation step: a dataset version checked inside a pipeline, stopping it on errors.

``loopml.validated(version)`` in a pipeline body adds a step named ``validate``
that validates the version against its dataset's pinned schema and its reference (the
version before it, or ``against``), records the validation and its report, and passes
the version on. When any anomaly is at error severity the step fails: its run and the
pipeline run are marked ``failed-validation``, an alert of kind ``validation`` records
the anomalies, and nothing after it runs. The pinned schema's digest and loopml's
version are part of the step's cache key, so editing the schema re-validates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml._version import __version__
from loopml.pipeline._graph import Output, step

if TYPE_CHECKING:
    from loopml.data import DatasetVersion, ValidationRecord


class DataInvalid(Exception):
    """Raised by the validation step; the runner turns it into an alert."""

    def __init__(self, record: ValidationRecord) -> None:
        super().__init__(f"{len(record.validation.errors)} errors in {record.dataset}")
        self.record = record


@step(name="validate")
def _validate(
    dataset: DatasetVersion, schema: str, against: str | None = None, loopml_version: str = ""
) -> DatasetVersion:
    from loopml.data._checks import validate_version
    from loopml.data._versions import get_version

    reference = get_version(dataset.workspace, against) if against else None
    record = validate_version(dataset, against=reference)
    if not record.passed:
        raise DataInvalid(record)
    return dataset


def validated(dataset: Any, *, against: str | None = None) -> Any:
    """Inside a pipeline: ``dataset`` (a version from ``loopml.data.get``), validated.

    Steps that take the result get the version (or its table, by their annotation);
    they run only if it passed.
    """
    from loopml.data._versions import DatasetVersion, pinned_schema
    from loopml.errors import PipelineError

    if isinstance(dataset, Output) or not isinstance(dataset, DatasetVersion):
        raise PipelineError(
            f"loopml.validated() takes a dataset version from loopml.data.get(...), not {dataset!r}"
        )
    _, schema = pinned_schema(dataset.workspace, dataset.name)
    return _validate(dataset, schema=schema.digest, against=against, loopml_version=__version__)


def evidence(record: ValidationRecord) -> dict[str, Any]:
    """What the alert keeps: the anomalies and where the full validation is."""
    return {
        "dataset": record.dataset,
        "reference": record.reference,
        "schema": record.schema,
        "validation": record.artifact.ref,
        "report": record.report.ref,
        "anomalies": [
            {
                "kind": a.kind,
                "column": a.column,
                "severity": a.severity,
                "message": a.message,
            }
            for a in record.validation.anomalies
        ],
    }
