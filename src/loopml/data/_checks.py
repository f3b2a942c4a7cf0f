"""Validating and diffing stored dataset versions, with the results recorded.

A validation is a run (kind ``validate``) that read the version, its reference and
the schema, and wrote a ``validation`` artifact (the anomalies and measures, JSON) and
a ``report`` artifact (the HTML page). Both are named after the dataset version:
``churn.v2.validation@v3`` is the third validation of churn@v2, never a version of
churn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._kinds import ArtifactKind
from loopml.data._validate import Validation, validate_profile
from loopml.data._versions import DatasetVersion, pinned_schema, previous_version
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.data._validate import ColumnDrift
    from loopml.store import Artifact


@dataclass(frozen=True)
class ValidationRecord:
    """A recorded validation: the result, and the artifacts it was stored as."""

    validation: Validation
    dataset: str
    reference: str | None
    schema: str
    artifact: Artifact
    report: Artifact

    @property
    def passed(self) -> bool:
        return self.validation.passed

    def describe(self) -> str:
        """``validation 3 of churn@v2 (churn.v2.validation@v3)``."""
        from loopml.refs import describe_record

        return describe_record(self.artifact)


def validate_version(
    current: DatasetVersion, *, against: DatasetVersion | None = None
) -> ValidationRecord:
    """Validate a version against its dataset's schema and a reference: ``against``, or
    else the version before it. A reference from another dataset is compared as skew."""
    from loopml.data._report import render_report
    from loopml.refs import record_name
    from loopml.store import Direction, RunStatus

    ws = current.workspace
    _need_table(current)
    # The verdict is read from the profile made when the version was added; the data it
    # speaks for must still be there as it was: a damaged file is an error, not a pass.
    ws.artifacts.verify(current.artifact.digest, what=f"dataset {current.ref}")
    reference = against if against is not None else previous_version(current)
    if reference is not None:
        _need_table(reference)
    comparison = "drift" if reference is None or reference.name == current.name else "skew"
    schema, schema_artifact = pinned_schema(ws, current.name)
    current_profile = current.profile()
    reference_profile = reference.profile() if reference is not None else None
    validation = validate_profile(
        current_profile, schema=schema, reference=reference_profile, comparison=comparison
    )
    title = f"{current.ref} validated" + (
        f" against {reference.ref}" if reference is not None else ""
    )
    store = ws.store
    run = store.create_run(
        kind="validate",
        name=current.name,
        params={"dataset": current.ref, "reference": reference and reference.ref},
    )
    store.add_event(run.id, current.artifact.id, Direction.INPUT, "dataset")
    store.add_event(run.id, schema_artifact.id, Direction.INPUT, "schema")
    if reference is not None:
        store.add_event(run.id, reference.artifact.id, Direction.INPUT, "reference")
    page = render_report(
        validation,
        title=title,
        current=current_profile,
        reference=reference_profile,
        schema=schema,
        created_at=run.started_at.isoformat(timespec="seconds"),
    )
    report_blob = ws.artifacts.put_bytes(page.encode())
    report = store.create_artifact(
        kind=ArtifactKind.REPORT,
        name=record_name(current.ref, ArtifactKind.REPORT),
        digest=report_blob.digest,
        size=report_blob.size,
        metadata={"dataset": current.ref, "file_name": f"{current.name}-v{current.version}.html"},
        run_id=run.id,
        role="report",
    )
    result_blob = ws.artifacts.put_bytes(
        json.dumps(validation.to_json(), separators=(",", ":"), default=str).encode()
    )
    artifact = store.create_artifact(
        kind=ArtifactKind.VALIDATION,
        name=record_name(current.ref, ArtifactKind.VALIDATION),
        digest=result_blob.digest,
        size=result_blob.size,
        metadata={
            "dataset": current.ref,
            "reference": reference.ref if reference is not None else None,
            "schema": schema_artifact.ref,
            "comparison": comparison,
            "passed": validation.passed,
            "errors": len(validation.errors),
            "warnings": len(validation.anomalies) - len(validation.errors),
            "report": report.ref,
        },
        run_id=run.id,
        role="validation",
    )
    store.finish_run(
        run.id, RunStatus.SUCCEEDED if validation.passed else RunStatus.FAILED_VALIDATION
    )
    return ValidationRecord(
        validation=validation,
        dataset=current.ref,
        reference=reference.ref if reference is not None else None,
        schema=schema_artifact.ref,
        artifact=artifact,
        report=report,
    )


def _need_table(version: DatasetVersion) -> None:
    if not version.tabular:
        raise InvalidInput(
            f"{version.ref} is a folder of files; validation needs a table (Parquet, CSV or "
            "a DataFrame)"
        )


@dataclass(frozen=True)
class DatasetDiff:
    """What changed from ``old`` to ``new``."""

    old: str
    new: str
    columns_added: list[str]
    columns_removed: list[str]
    type_changes: dict[str, tuple[str, str]]
    rows_old: int | None
    rows_new: int | None
    rows_added: int | None  # rows of new not in old (as a multiset)
    rows_removed: int | None
    drift: list[ColumnDrift]
    files_added: list[str]
    files_removed: list[str]
    files_changed: list[str]

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k != "drift"}
        data["drift"] = [vars(d) for d in self.drift]
        return data


def diff_versions(old: DatasetVersion, new: DatasetVersion) -> DatasetDiff:
    if old.tabular != new.tabular:
        raise InvalidInput(f"cannot diff {old.ref} ({old.format}) with {new.ref} ({new.format})")
    if not old.tabular:
        return _diff_folders(old, new)
    old_profile, new_profile = old.profile(), new.profile()
    old_types = {c.name: c.type for c in old_profile.columns}
    new_types = {c.name: c.type for c in new_profile.columns}
    added, removed = _rows_added_removed(old, new)
    comparison = validate_profile(new_profile, reference=old_profile)
    return DatasetDiff(
        old=old.ref,
        new=new.ref,
        columns_added=[n for n in new_types if n not in old_types],
        columns_removed=[n for n in old_types if n not in new_types],
        type_changes={
            n: (old_types[n], new_types[n])
            for n in new_types
            if n in old_types and old_types[n] != new_types[n]
        },
        rows_old=old_profile.rows,
        rows_new=new_profile.rows,
        rows_added=added,
        rows_removed=removed,
        drift=list(comparison.drift),
        files_added=[],
        files_removed=[],
        files_changed=[],
    )


def _rows_added_removed(old: DatasetVersion, new: DatasetVersion) -> tuple[int | None, int | None]:
    """Rows counted by their values over the shared columns, as multisets.

    From the row hashes stored with each version when both have the same columns, in
    the same order, with the same types, hashed the same way: then neither table is
    read. Otherwise both tables are read and hashed over the columns they share.
    """
    import polars as pl

    from loopml.data._profile import multiset_difference

    if old.metadata.get("columns") == new.metadata.get("columns"):
        old_hashes, new_hashes = old.row_hashes(), new.row_hashes()
        if old_hashes is not None and new_hashes is not None and old_hashes[1] == new_hashes[1]:
            return multiset_difference(old_hashes[0], new_hashes[0])
    old_table, new_table = old.to_polars(), new.to_polars()
    shared = [n for n in new_table.columns if n in old_table.columns]
    if not shared:
        return new_table.height, old_table.height
    old_counts = old_table.select(shared).hash_rows(seed=0).value_counts(name="old")
    new_counts = new_table.select(shared).hash_rows(seed=0).value_counts(name="new")
    key = old_counts.columns[0]
    joined = old_counts.join(
        new_counts.rename({new_counts.columns[0]: key}), on=key, how="full", coalesce=True
    ).fill_null(0)
    difference = joined["new"].cast(pl.Int64) - joined["old"].cast(pl.Int64)
    return int(difference.clip(lower_bound=0).sum()), int((-difference).clip(lower_bound=0).sum())


def _diff_folders(old: DatasetVersion, new: DatasetVersion) -> DatasetDiff:
    from loopml.data._files import read_manifest

    store = old.workspace.artifacts
    before = {e.path: e.digest for e in read_manifest(store.read_bytes(old.digest, what=old.what))}
    after = {e.path: e.digest for e in read_manifest(store.read_bytes(new.digest, what=new.what))}
    return DatasetDiff(
        old=old.ref,
        new=new.ref,
        columns_added=[],
        columns_removed=[],
        type_changes={},
        rows_old=None,
        rows_new=None,
        rows_added=None,
        rows_removed=None,
        drift=[],
        files_added=sorted(set(after) - set(before)),
        files_removed=sorted(set(before) - set(after)),
        files_changed=sorted(p for p in set(after) & set(before) if after[p] != before[p]),
    )
