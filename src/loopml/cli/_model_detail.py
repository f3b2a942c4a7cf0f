"""How `loopml models show` prints a version's detail (see
:func:`loopml.registry.model_detail`): its record, the evaluation it was registered with
(metrics with intervals, the baseline's, the worst slices), the gate decision made on
that evaluation, and the copy a server loads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml._ids import short_id
from loopml.cli._output import Column, console, print_table

if TYPE_CHECKING:
    from loopml.registry import ModelVersion


_VALUES_SHOWN = 8  # values of a text column listed


def print_detail(version: ModelVersion, detail: dict[str, Any], lineage: str) -> None:
    from rich.table import Table

    out = console()
    artifact = version.artifact
    out.print(
        f"model {version.ref}  {version.flavor} ({detail['serialization']})  "
        f"{artifact.size:,} bytes  blake3:{artifact.digest[:16]}",
        markup=False,
        highlight=False,
    )
    head = Table.grid(padding=(0, 2))
    head.add_column(no_wrap=True)
    head.add_column(overflow="fold")
    head.add_row("registered", artifact.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    head.add_row("type", str(detail["python_type"]))
    head.add_row("aliases", ", ".join(version.aliases) or "-")
    evaluation = detail["evaluation"]
    if evaluation is not None:
        score = ""
        if evaluation["primary"] and isinstance(evaluation["value"], int | float):
            score = f": {evaluation['primary']} {evaluation['value']:.4g}"
        where = evaluation["ref"] or "not in this workspace"
        rows = ""
        if evaluation["data"]:
            rows = f" on {evaluation['data']}"
        elif evaluation.get("rows_recorded"):
            rows = " on rows given as a table"
        head.add_row("evaluation", f"{where}{rows}{score} (id {short_id(evaluation['id'])})")
    else:
        head.add_row("evaluation", "-")
    gate = detail["gate"]
    if gate is not None:
        verdict = "PASSED" if gate["passed"] else "FAILED"
        head.add_row("gate", f"{verdict} on {gate['primary']}: {gate['ref']}")
    libraries = ", ".join(f"{k} {v}" for k, v in sorted(version.libraries.items()))
    head.add_row("libraries", libraries or "-")
    head.add_row("served", _served(version))
    out.print(head, markup=False, highlight=False)
    signature = version.signature
    if signature is not None:
        out.print("signature, input:")
        columns = [Column("column", keep=True), Column("type"), Column("dtype")]
        table = [[column.name, column.type, column.dtype] for column in signature.inputs]
        if any(column.values is not None for column in signature.inputs):
            columns.append(Column("values seen in training"))
            for row, column in zip(table, signature.inputs, strict=True):
                row.append(_values(column.values))
        print_table(columns, table)
        if signature.output is not None:
            output = signature.output
            classes = "" if output.classes is None else f", classes {list(output.classes)}"
            out.print(
                f"signature, output: {output.type} {list(output.shape)} ({output.dtype}){classes}",
                markup=False,
                highlight=False,
            )
    else:
        out.print("signature: none recorded (register with signature_from=the training data)")
    if evaluation is not None and "metrics" in evaluation:
        _print_evaluation(evaluation)
    if gate is not None:
        out.print(f"gate decision ({'PASSED' if gate['passed'] else 'FAILED'}):")
        for check in gate["checks"]:
            mark = "ok  " if check["passed"] else "FAIL"
            out.print(f"  {mark} {check['name']}: {check['message']}", markup=False)
    if detail["metrics"]:
        run = detail["run"]
        out.print(f"metrics of run {short_id(run['id'])} ({run['name']}):", markup=False)
        print_table(
            [Column("metric", keep=True), Column("value", justify="right")],
            [(key, f"{value:.6g}") for key, value in sorted(detail["metrics"].items())],
        )
    out.print(lineage, markup=False, highlight=False)


def _served(version: ModelVersion) -> str:
    """Which copy a server loads, with the one-row latencies that chose it."""
    copies = version.copies
    if not copies:
        return f"{version.served} (no copies)"
    parts = []
    if version.native_latency_ms is not None:
        parts.append(f"native {version.native_latency_ms:.3g} ms per row")
    for form, copy in sorted(copies.items()):
        agreed = copy.get("label_agreement")
        agreement = "" if agreed is None else f", {agreed:.1%} same class"
        parts.append(
            f"{form} copy {copy['latency_ms']:.3g} ms per row (max diff "
            f"{copy['max_abs_diff']:.2g}{agreement})"
        )
    return f"{version.served}: " + "; ".join(parts)


SLICES_SHOWN = 5


def _print_evaluation(evaluation: dict[str, Any]) -> None:
    out = console()
    rows = []
    for key, value in sorted(evaluation["metrics"].items()):
        interval = evaluation["intervals"].get(key)
        span = "" if interval is None else f"{interval['low']:.4g} .. {interval['high']:.4g}"
        base = evaluation["baseline"].get(key)
        rows.append((key, f"{value:.4g}", span, "" if base is None else f"{base:.4g}"))
    out.print(
        f"evaluation on {evaluation['rows']:,} rows ({evaluation['task']}); baseline: "
        f"{evaluation['baseline_description']}",
        markup=False,
    )
    print_table(
        [
            Column("metric", keep=True),
            Column("value", justify="right"),
            Column("95% interval", drop=1),
            Column("baseline", justify="right"),
        ],
        rows,
    )
    slices = evaluation["slices"]
    if not slices:
        return
    from loopml.evaluation._records import difference_text

    primary = evaluation["primary"]
    shown = min(len(slices), SLICES_SHOWN)
    out.print(f"worst slices ({shown} of {len(slices)}; against overall: below 0 is worse):")
    print_table(
        [
            Column("slice", keep=True),
            Column("rows", justify="right", drop=2),
            Column(primary, justify="right"),
            Column("against overall", justify="right"),
            Column("one class", drop=1),
        ],
        [
            (
                found["name"],
                f"{found['rows']:,}",
                f"{found['metrics'].get(primary, float('nan')):.4g}",
                difference_text(primary, found["gap"]),
                "yes" if found["one_class"] else "",
            )
            for found in slices[:SLICES_SHOWN]
        ],
    )


def _values(values: tuple[str, ...] | None) -> str:
    """The values a text column was trained on, the first few."""
    if values is None:
        return ""
    shown = ", ".join(values[:_VALUES_SHOWN])
    more = len(values) - _VALUES_SHOWN
    return f"{shown}, ... ({len(values):,} in all)" if more > 0 else shown
