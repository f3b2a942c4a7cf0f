"""`loopml data`: version datasets, look at them, validate them, compare them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from loopml.cli._output import console

if TYPE_CHECKING:
    from loopml.data import DatasetDiff, DatasetVersion, Profile, ValidationRecord

app = typer.Typer(
    help="Version datasets, validate them against their schema, find drift and skew.",
    no_args_is_help=True,
)

VALIDATION_FAILED = 1


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")


@app.command("add")
def add(
    path: Path = typer.Argument(..., help="A Parquet or CSV file, or a folder of files."),
    name: str = typer.Option(..., "--name", help="Dataset name; each add makes a version."),
    label: str = typer.Option(None, "--label", help="The label column, if there is one."),
    description: str = typer.Option(None, "--description", help="What this version is."),
    notes: Path = typer.Option(
        None, "--labelling-notes", help="A text file: the guidelines the labels were made under."
    ),
) -> None:
    """Record PATH as the next version of NAME (unless it equals the latest)."""
    from loopml.data._versions import add_version
    from loopml.errors import InvalidInput
    from loopml.workspace import workspace

    labelling_notes = None
    if notes is not None:
        try:
            labelling_notes = notes.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInput(f"cannot read labelling notes {notes}: {error}") from None
    with workspace() as ws, console().status(f"adding {path} ..."):
        version, new = add_version(
            ws,
            path,
            name=name,
            label=label,
            description=description,
            labelling_notes=labelling_notes,
        )
    typer.echo(_summary(version) + ("" if new else "  (unchanged: nothing new recorded)"))
    if new and version.tabular and version.version > 1:
        typer.echo(f"validate it with: loopml data validate {version.ref}")


def _summary(version: DatasetVersion) -> str:
    meta = version.metadata
    if version.format == "folder":
        shape = f"{meta['files']:,} files"
    else:
        shape = f"{meta['rows']:,} rows x {len(meta['columns'])} columns"
    return (
        f"dataset {version.ref}  {shape}  {version.artifact.size:,} bytes  "
        f"blake3:{version.digest[:16]}"
    )


@app.command("log")
def log(name: str = typer.Argument(..., help="Dataset name.")) -> None:
    """List a dataset's versions, oldest first."""
    from rich.table import Table

    from loopml.data._versions import list_versions
    from loopml.workspace import workspace

    with workspace() as ws:
        found = list_versions(ws, name)
    table = Table("version", "created", "by", "format", "rows", "cols", "size", "digest", "about")
    for v in found:
        meta = v.metadata
        table.add_row(
            v.ref,
            v.artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(meta.get("created_by", "")),
            v.format,
            f"{meta['rows']:,}"
            if meta.get("rows") is not None
            else f"{meta.get('files', 0):,} files",
            str(len(meta.get("columns", []))) if v.tabular else "",
            f"{v.artifact.size:,}",
            v.digest[:12],
            str(meta.get("description") or ""),
        )
    console().print(table)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME@v3, NAME@latest, NAME@blake3:PREFIX ..."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: metadata and profile."),
) -> None:
    """A version's source, notes and profile, column by column."""
    from loopml.data._versions import get_version
    from loopml.workspace import workspace

    with workspace() as ws:
        version = get_version(ws, ref)
        profile = version.profile() if version.tabular else None
    if as_json:
        data = {
            "ref": version.ref,
            "digest": version.digest,
            "created_at": version.artifact.created_at.isoformat(),
            "metadata": version.metadata,
            "profile": profile.to_json() if profile is not None else None,
        }
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    out = console()
    meta = version.metadata
    source = meta.get("source", {})
    out.print(_summary(version))
    out.print(
        f"  added {version.artifact.created_at:%Y-%m-%d %H:%M:%S} by {meta.get('created_by')}"
        f" from {source.get('path') or source.get('object')}"
    )
    for key in ("description", "label", "labelling_notes"):
        if meta.get(key):
            out.print(f"  {key.replace('_', ' ')}: {meta[key]}")
    if profile is not None:
        out.print(_profile_table(profile))
    else:
        out.print(f"  files by suffix: {meta.get('suffixes')}")


def _profile_table(profile: Profile) -> Any:
    from rich.table import Table

    table = Table("column", "type", "missing", "distinct", "min", "mean", "max", "top values")
    for c in profile.columns:
        top = (
            ", ".join(f"{v} ({n / c.count:.0%})" for v, n in (c.values or ())[:3])
            if c.count
            else ""
        )
        table.add_row(
            c.name + (" (label)" if c.name == profile.label else ""),
            c.type,
            f"{c.missing_fraction:.1%}",
            f"{c.distinct:,}",
            _num(c.min) if c.numeric else "",
            _num(c.mean),
            _num(c.max) if c.numeric else "",
            top,
        )
    return table


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


@app.command("checkout")
def checkout(
    ref: str = typer.Argument(..., help="The version to write out."),
    dest: str = typer.Argument(
        ..., help="File to write, or a folder (or a path ending in /) to write into."
    ),
) -> None:
    """Write a version's bytes to DEST, exactly as they were added."""
    from loopml.data._versions import get_version
    from loopml.workspace import workspace

    with workspace() as ws:
        version = get_version(ws, ref)
        written = version.checkout(dest)
    typer.echo(f"dataset {version.ref} -> {written}")


@app.command("validate")
def validate(
    ref: str = typer.Argument(..., help="The version to validate."),
    against: str = typer.Option(
        None,
        "--against",
        help="Reference version (default: the version before). Another dataset's "
        "version is compared as skew, e.g. a train split against an eval split.",
    ),
    report: Path = typer.Option(None, "--report", help="Also write the HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a version against its schema and its reference; exit 1 on any error."""
    from loopml.data._checks import validate_version
    from loopml.data._versions import get_version
    from loopml.workspace import workspace

    with workspace() as ws:
        current = get_version(ws, ref)
        reference = get_version(ws, against) if against else None
        with console().status(f"validating {current.ref} ..."):
            record = validate_version(current, against=reference)
        if report is not None:
            if report.is_dir():
                report = report / str(record.report.metadata["file_name"])
            ws.artifacts.get_file(record.report.digest, report, what=f"report {record.report.ref}")
    if as_json:
        typer.echo(json.dumps(record.validation.to_json(), indent=2, default=str))
    else:
        _print_validation(record, report)
    if not record.passed:
        raise typer.Exit(VALIDATION_FAILED)


def _print_validation(record: ValidationRecord, report: Path | None) -> None:
    from rich.table import Table

    out = console()
    validation = record.validation
    against = (
        f" against {record.reference}" if record.reference else " (first version: schema only)"
    )
    dataset, _, schema = record.schema.partition("@")
    out.print(f"{record.dataset} validated{against}, with schema {schema} of dataset {dataset}")
    if validation.anomalies:
        table = Table("severity", "anomaly", "column", "evidence")
        for a in validation.anomalies:
            table.add_row(a.severity, a.kind, a.column or "(table)", a.message)
        out.print(table)
    else:
        out.print("no anomalies")
    errors = len(validation.errors)
    warnings = len(validation.anomalies) - errors
    verdict = "FAILED" if errors else "passed"
    out.print(f"{verdict}: {errors} errors, {warnings} warnings; recorded as {record.describe()}")
    if report is not None:
        out.print(f"report: {report}")
    else:
        out.print(f"report: loopml artifacts get {record.report.ref} REPORT.html --kind report")


@app.command("diff")
def diff(
    old: str = typer.Argument(..., help="The older version."),
    new: str = typer.Argument(..., help="The newer version."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Columns, types and rows added or removed, and drift, from OLD to NEW."""
    from loopml.data._checks import diff_versions
    from loopml.data._versions import get_version
    from loopml.workspace import workspace

    with workspace() as ws:
        result = diff_versions(get_version(ws, old), get_version(ws, new))
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, default=str))
        return
    _print_diff(result)


def _print_diff(result: DatasetDiff) -> None:
    from rich.table import Table

    out = console()
    out.print(f"{result.old} -> {result.new}")
    if result.rows_old is not None:
        out.print(
            f"  rows: {result.rows_old:,} -> {result.rows_new:,} "
            f"(+{result.rows_added:,} added, -{result.rows_removed:,} removed)"
        )
    for label, items in (
        ("columns added", result.columns_added),
        ("columns removed", result.columns_removed),
        ("files added", result.files_added),
        ("files removed", result.files_removed),
        ("files changed", result.files_changed),
    ):
        if items:
            out.print(f"  {label}: {', '.join(items[:20])}" + (" ..." if len(items) > 20 else ""))
    for column, (before, after) in result.type_changes.items():
        out.print(f"  type of {column!r}: {before} -> {after}")
    if result.drift:
        table = Table("column", "method", "statistic", "threshold", "drifted")
        for d in result.drift:
            table.add_row(
                d.column,
                d.method,
                f"{d.statistic:.4g}",
                f"{d.threshold:g}",
                "yes" if d.drifted else "",
            )
        out.print(table)


@app.command("schema")
def schema(
    name: str = typer.Argument(..., help="Dataset name."),
    set_file: Path = typer.Option(
        None, "--set", help="Pin this YAML/JSON file as the dataset's schema."
    ),
    edit: bool = typer.Option(False, "--edit", help="Edit the schema in $EDITOR, then pin it."),
) -> None:
    """Print the dataset's pinned schema (YAML), or pin a new one with --set or --edit."""
    from loopml.data._versions import get_version, pinned_schema, record_schema
    from loopml.workspace import workspace

    with workspace() as ws:
        current, artifact = pinned_schema(ws, name)
        if set_file is None and not edit:
            source = artifact.metadata.get("source", "")
            typer.echo(f"# schema v{artifact.version} of dataset {name}: {source}")
            typer.echo(current.to_yaml(), nl=False)
            return
        get_version(ws, f"{name}@v1")
        new = _edited(current) if edit else _read_schema(set_file)
        if new is None:
            typer.echo("schema unchanged")
            return
        recorded = record_schema(
            ws, name, new, source="edited" if edit else f"set from {set_file.name}"
        )
    typer.echo(f"schema v{recorded.version} pinned for dataset {name}")


def _read_schema(path: Path) -> Any:
    from loopml.data import Schema
    from loopml.errors import InvalidInput

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read schema file {path}: {error}") from None
    return Schema.from_yaml(text, str(path))


def _edited(current: Any) -> Any:
    from loopml.data import Schema

    before = current.to_yaml()
    after = _edit_text(before)
    if after == before:
        return None
    return Schema.from_yaml(after, "the edited schema")


def _edit_text(text: str) -> str:
    """``text`` as the user left it in $VISUAL or $EDITOR (vi by default)."""
    import os
    import shlex
    import subprocess
    import tempfile

    from loopml.errors import InvalidInput

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "schema.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            done = subprocess.run([*shlex.split(editor), str(path)], check=False)
        except OSError as error:
            raise InvalidInput(
                f"cannot start the editor {editor!r}: {error}; set EDITOR, or use --set FILE"
            ) from None
        if done.returncode != 0:
            raise InvalidInput(f"the editor {editor!r} exited {done.returncode}; nothing pinned")
        return path.read_text(encoding="utf-8")
