"""`loopml data`: version datasets, look at them, validate them, compare them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from loopml.cli._options import FORCE, JSON, example
from loopml.cli._output import Column, artifact_json, console, print_json, print_table

if TYPE_CHECKING:
    from loopml.data import DatasetDiff, DatasetVersion, Profile, ValidationRecord

app = typer.Typer(
    help="Version datasets, validate them against their schema, find drift and skew.",
    epilog=example(
        "loopml data add jan.parquet --name churn --label churned",
        "loopml data validate churn@v2 --report feb.html",
        "loopml data checkout churn@v1 jan-copy.parquet",
    ),
    no_args_is_help=True,
)

VALIDATION_FAILED = 1
REF = typer.Argument(
    ..., metavar="REF", help="A version: NAME@v3, NAME@latest, NAME@blake3:PREFIX, or NAME."
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")


@app.command("add")
def add(
    path: Path = typer.Argument(
        ..., metavar="PATH", help="A Parquet or CSV file, or a folder of files."
    ),
    name: str = typer.Option(
        ..., "--name", metavar="NAME", help="Dataset name; each add makes a version."
    ),
    label: str = typer.Option(
        None, "--label", metavar="COLUMN", help="The label column, if there is one."
    ),
    description: str = typer.Option(
        None, "--description", metavar="TEXT", help="What this version is."
    ),
    notes: Path = typer.Option(
        None,
        "--labelling-notes",
        metavar="FILE",
        help="A text file: the guidelines the labels were made under.",
    ),
    as_json: bool = JSON,
) -> None:
    """Record PATH as the next version of NAME (unless it equals the latest).

    \b
    Example:
      loopml data add jan.parquet --name churn --label churned
    """
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
    if as_json:
        print_json({**version_json(version), "new": new})
        return
    typer.echo(_summary(version) + ("" if new else "  (unchanged: nothing new recorded)"))
    if new and version.tabular and version.version > 1:
        typer.echo(f"validate it with: loopml data validate {version.ref}")


def version_json(version: DatasetVersion) -> dict[str, Any]:
    meta = version.metadata
    return {
        "ref": version.ref,
        "name": version.name,
        "version": version.version,
        "format": version.format,
        "rows": meta.get("rows"),
        "columns": len(meta["columns"]) if version.tabular and "columns" in meta else None,
        "files": meta.get("files"),
        "size": version.artifact.size,
        "digest": version.digest,
        "created_at": version.artifact.created_at,
        "created_by": meta.get("created_by"),
        "description": meta.get("description"),
        "label": meta.get("label"),
    }


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


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """Datasets: each name with its latest version, rows, columns and when it was added.

    \b
    Example:
      loopml data list
    """
    from loopml.data import datasets
    from loopml.workspace import workspace

    with workspace() as ws:
        found = datasets(workspace=ws)
    if as_json:
        print_json([version_json(version) for version in found])
        return
    if not found:
        console().print("no datasets; add one with `loopml data add PATH --name NAME`")
        return
    columns = [
        Column("dataset", whole=True, drop=4),  # its latest ref names it too
        Column("latest", keep=True),
        Column("rows", justify="right", drop=2),
        Column("cols", justify="right", drop=3),
        Column("added", drop=1),
    ]
    print_table(
        columns,
        [
            (
                version.name,
                version.ref,
                _rows(version),
                _cols(version),
                version.artifact.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for version in found
        ],
    )


@app.command("log")
def log(
    name: str = typer.Argument(..., metavar="NAME", help="Dataset name."),
    as_json: bool = JSON,
) -> None:
    """List a dataset's versions, oldest first.

    \b
    Example:
      loopml data log churn
    """
    from loopml.data._versions import list_versions
    from loopml.workspace import workspace

    with workspace() as ws:
        found = list_versions(ws, name)
    if as_json:
        print_json([version_json(v) for v in found])
        return
    columns = [
        Column("version", keep=True),
        Column("created", drop=3),
        Column("by", drop=6),
        Column("format", drop=5),
        Column("rows", justify="right"),
        Column("cols", justify="right", drop=4),
        Column("size", justify="right", drop=2),
        Column("digest", drop=7),
        Column("about", drop=1),
    ]
    rows = [
        (
            v.ref,
            v.artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(v.metadata.get("created_by", "")),
            v.format,
            _rows(v),
            _cols(v),
            f"{v.artifact.size:,}",
            v.digest[:12],
            str(v.metadata.get("description") or ""),
        )
        for v in found
    ]
    print_table(columns, rows)


def _rows(version: DatasetVersion) -> str:
    meta = version.metadata
    if meta.get("rows") is not None:
        return f"{meta['rows']:,}"
    return f"{meta.get('files', 0):,} files"


def _cols(version: DatasetVersion) -> str:
    return str(len(version.metadata.get("columns", []))) if version.tabular else ""


@app.command("show")
def show(ref: str = REF, as_json: bool = JSON) -> None:
    """A version's source, notes and profile, column by column.

    \b
    Example:
      loopml data show churn@v2
    """
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
        print_json(data)
        return
    out = console()
    meta = version.metadata
    source = meta.get("source", {})
    out.print(_summary(version), markup=False, highlight=False)
    out.print(
        f"  added {version.artifact.created_at:%Y-%m-%d %H:%M:%S} by {meta.get('created_by')}"
        f" from {source.get('path') or source.get('object')}",
        markup=False,
        highlight=False,
    )
    for key in ("description", "label", "labelling_notes"):
        if meta.get(key):
            out.print(f"  {key.replace('_', ' ')}: {meta[key]}", markup=False, highlight=False)
    if profile is not None:
        _print_profile(profile)
    else:
        out.print(f"  files by suffix: {meta.get('suffixes')}", markup=False, highlight=False)


def _print_profile(profile: Profile) -> None:
    columns = [
        Column("column", keep=True),
        Column("type"),
        Column("missing", justify="right", drop=3),
        Column("distinct", justify="right", drop=4),
        Column("min", justify="right", drop=5),
        Column("mean", justify="right", drop=2),
        Column("max", justify="right", drop=6),
        Column("top values", drop=1),
    ]
    rows = []
    for c in profile.columns:
        top = (
            ", ".join(f"{v} ({n / c.count:.0%})" for v, n in (c.values or ())[:3])
            if c.count
            else ""
        )
        rows.append(
            (
                c.name + (" (label)" if c.name == profile.label else ""),
                c.type,
                f"{c.missing_fraction:.1%}",
                f"{c.distinct:,}",
                _num(c.min) if c.numeric else "",
                _num(c.mean),
                _num(c.max) if c.numeric else "",
                top,
            )
        )
    print_table(columns, rows)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


@app.command("checkout")
def checkout(
    ref: str = REF,
    dest: str = typer.Argument(
        ...,
        metavar="DEST",
        help="File to write, or a folder (or a path ending in /) to write into.",
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
) -> None:
    """Write a version's bytes to DEST, exactly as they were added. A file there with
    other content is replaced only with --force; a link, FIFO or device never.

    \b
    Example:
      loopml data checkout churn@v1 jan-copy.parquet
    """
    from loopml.data._versions import get_version
    from loopml.workspace import workspace

    with workspace() as ws:
        version = get_version(ws, ref)
        written = version.checkout(dest, force=force)
    if as_json:
        print_json({"ref": version.ref, "digest": version.digest, "path": str(written)})
        return
    typer.echo(f"dataset {version.ref} -> {written}")


@app.command("validate")
def validate(
    ref: str = REF,
    against: str = typer.Option(
        None,
        "--against",
        metavar="REF",
        help="Reference version (default: the version before). Another dataset's "
        "version is compared as skew, e.g. a train split against an eval split.",
    ),
    report: Path = typer.Option(
        None, "--report", metavar="FILE", help="Also write the HTML report here."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
) -> None:
    """Check a version against its schema and its reference; exit 1 on any error.

    \b
    Example:
      loopml data validate churn@v2 --report feb.html
      loopml data validate churn-eval@v1 --against churn-train@v1
    """
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
            ws.artifacts.get_file(
                record.report.digest, report, force=force, what=f"report {record.report.ref}"
            )
    if as_json:
        print_json(record.validation.to_json())
    else:
        _print_validation(record, report)
    if not record.passed:
        raise typer.Exit(VALIDATION_FAILED)


def _print_validation(record: ValidationRecord, report: Path | None) -> None:
    out = console()
    validation = record.validation
    against = (
        f" against {record.reference}" if record.reference else " (first version: schema only)"
    )
    dataset, _, schema = record.schema.partition("@")
    out.print(
        f"{record.dataset} validated{against}, with schema {schema} of dataset {dataset}",
        markup=False,
    )
    if validation.anomalies:
        columns = [
            Column("severity"),
            Column("anomaly"),
            Column("column", keep=True),
            Column("evidence"),
        ]
        rows = [
            (a.severity, a.kind, a.column or "(table)", a.message) for a in validation.anomalies
        ]
        print_table(columns, rows)
    else:
        out.print("no anomalies")
    errors = len(validation.errors)
    warnings = len(validation.anomalies) - errors
    verdict = "FAILED" if errors else "passed"
    out.print(
        f"{verdict}: {errors} error{'' if errors == 1 else 's'}, {warnings} "
        f"warning{'' if warnings == 1 else 's'}; recorded as {record.describe()}",
        markup=False,
    )
    if report is not None:
        out.print(f"report: {report}", markup=False, highlight=False)
    else:
        out.print(
            f"report: loopml artifacts get {record.report.ref} REPORT.html --kind report",
            markup=False,
            highlight=False,
        )


@app.command("diff")
def diff(
    old: str = typer.Argument(..., metavar="OLD", help="The older version, e.g. churn@v1."),
    new: str = typer.Argument(..., metavar="NEW", help="The newer version, e.g. churn@v2."),
    as_json: bool = JSON,
) -> None:
    """Columns, types and rows added or removed, and drift, from OLD to NEW.

    \b
    Example:
      loopml data diff churn@v1 churn@v2
    """
    from loopml.data._checks import diff_versions
    from loopml.data._versions import get_version
    from loopml.workspace import workspace

    with workspace() as ws:
        result = diff_versions(get_version(ws, old), get_version(ws, new))
    if as_json:
        print_json(result.to_json())
        return
    _print_diff(result)


def _print_diff(result: DatasetDiff) -> None:
    out = console()
    out.print(f"{result.old} -> {result.new}", markup=False, highlight=False)
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
            listed = ", ".join(items[:20]) + (" ..." if len(items) > 20 else "")
            out.print(f"  {label}: {listed}", markup=False, highlight=False)
    for column, (before, after) in result.type_changes.items():
        out.print(f"  type of {column!r}: {before} -> {after}", markup=False, highlight=False)
    if result.drift:
        from loopml.data._evidence import fmt_p

        # a column drifts when its effect reaches its threshold AND its test says so:
        # an effect over the threshold on few rows is not drift without the p-value
        columns = [
            Column("column", keep=True),
            Column("method", drop=1),
            Column("statistic", justify="right"),
            Column("threshold", justify="right", drop=2),
            Column("p (Holm)", justify="right"),
            Column("drifted"),
        ]
        rows = [
            (
                d.column,
                d.method,
                f"{d.statistic:.4g}",
                f"{d.threshold:g}",
                "-" if d.p_adjusted is None else fmt_p(d.p_adjusted),
                "yes" if d.drifted else "",
            )
            for d in result.drift
        ]
        print_table(columns, rows)
        if any(d.statistic >= d.threshold and not d.drifted for d in result.drift):
            out.print(
                "a column whose statistic reaches its threshold drifts only when its test "
                "agrees (p after Holm's adjustment below the drift level, 0.05 by default): on "
                "few rows an effect that large can be chance",
                markup=False,
                highlight=False,
            )


@app.command("schema")
def schema(
    name: str = typer.Argument(..., metavar="NAME", help="Dataset name."),
    set_file: Path = typer.Option(
        None, "--set", metavar="FILE", help="Pin this YAML/JSON file as the dataset's schema."
    ),
    edit: bool = typer.Option(False, "--edit", help="Edit the schema in $EDITOR, then pin it."),
    as_json: bool = JSON,
) -> None:
    """Print the dataset's pinned schema (YAML), or pin a new one with --set or --edit.

    \b
    Example:
      loopml data schema churn > churn-schema.yaml
      loopml data schema churn --set churn-schema.yaml
    """
    from loopml.data._versions import get_version, pinned_schema, record_schema
    from loopml.workspace import workspace

    with workspace() as ws:
        current, artifact = pinned_schema(ws, name)
        if set_file is None and not edit:
            from loopml.data._why import schema_why

            source = artifact.metadata.get("source", "")
            reasons = schema_why(current)
            if as_json:
                print_json(
                    {
                        "dataset": name,
                        "version": artifact.version,
                        "source": source,
                        "schema": current.to_data(),
                        "why": reasons,
                    }
                )
                return
            typer.echo(f"# schema v{artifact.version} of dataset {name}: {source}")
            typer.echo("# why each column has its rules:")
            for column, reason in reasons.items():
                typer.echo(f"#   {column} -- {reason}")
            typer.echo(current.to_yaml(), nl=False)
            return
        get_version(ws, f"{name}@v1")
        new = _edited(current) if edit else _read_schema(set_file)
        recorded = None
        if new is not None:
            recorded = record_schema(
                ws, name, new, source="edited" if edit else f"set from {set_file.name}"
            )
    if as_json:
        print_json(
            {
                "dataset": name,
                "changed": recorded is not None,
                "version": (recorded or artifact).version,
                "record": artifact_json(recorded or artifact),
            }
        )
    elif recorded is None:
        typer.echo("schema unchanged")
    else:
        typer.echo(f"schema v{recorded.version} pinned for dataset {name}")


@app.command("guidelines")
def guidelines(
    name: str = typer.Argument(..., metavar="NAME", help="Dataset name."),
    file: Path = typer.Argument(
        None, metavar="FILE", help="A Markdown file to keep as the dataset's guidelines."
    ),
    as_json: bool = JSON,
) -> None:
    """Print the dataset's labelling guidelines, or keep FILE (Markdown) as them.

    The review queue shows them beside each item it hands a reviewer; each FILE kept
    is a new version of them (the same text keeps the current one).

    \b
    Example:
      loopml data guidelines churn labelling.md
      loopml data guidelines churn
    """
    import loopml.data
    from loopml.workspace import workspace

    with workspace() as ws:
        if file is None:
            found = loopml.data.guidelines(name, workspace=ws)
            if as_json:
                print_json(found.to_dict())
                return
            typer.echo(f"<!-- guidelines v{found.version} of dataset {name} -->")
            typer.echo(found.text, nl=not found.text.endswith("\n"))
            return
        before = ws.latest("guidelines", name)
        kept = loopml.data.set_guidelines(name, file, workspace=ws)
    changed = before is None or before.id != kept.artifact.id
    if as_json:
        print_json({**kept.to_dict(), "changed": changed})
    elif changed:
        typer.echo(f"guidelines v{kept.version} kept for dataset {name}")
    else:
        typer.echo(f"guidelines unchanged (v{kept.version})")


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
