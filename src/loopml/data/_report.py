"""The validation report: one self-contained HTML page, readable offline.

The page holds the verdict, the anomalies (errors first, each linked to its column),
the drift table (every measure per compared column) and one section per column: its
statistics in both versions and an inline SVG chart of the reference's and the
current version's shares per bin or per value. No script, font, image or style is
fetched: the charts are drawn here, and everything the data supplies is escaped.

>>> import polars as pl
>>> from loopml.data._profile import profile
>>> from loopml.data._validate import validate_profile
>>> before = profile(pl.DataFrame({"x": [1.0, 2.0, 3.0] * 20}))
>>> after = profile(pl.DataFrame({"x": [-1.0, 2.0, 3.0] * 20}))
>>> page = render_report(validate_profile(after, reference=before), title="x@v2 against x@v1",
...                      current=after, reference=before)
>>> page.startswith("<!DOCTYPE html>"), "<svg" in page, "Failed" in page
(True, True, True)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from loopml.data._drift import P_VALUE_METHODS

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile, Profile
    from loopml.data._schema import ColumnSchema, Schema
    from loopml.data._validate import Anomaly, ColumnDrift, Validation

SERIES_COLORS = {"ref": "#a0aec0", "cur": "#2b6cb0"}  # reference grey, current blue
SERIES_NAMES = {"ref": "reference", "cur": "current"}
SEVERITY_COLORS = {"error": "#c53030", "warning": "#c05621"}
NEUTRAL_COLOR = "#718096"
PASSED_COLOR = "#2f855a"
TEXT_COLOR = "#1a202c"
MUTED_COLOR = "#4a5568"
GRID_COLOR = "#e2e8f0"
CHART_WIDTH = 520
CHART_HEIGHT = 180  # charts of numeric columns; categorical ones grow with their values
ROW_HEIGHT = 22  # per value in the chart of a categorical column
LABEL_WIDTH = 150  # room for the value names left of categorical bars
LABEL_CHARS = 22  # longer value names are cut (the full name is the bar's tooltip)
MAX_VALUES = 15  # values drawn per chart: the largest ones, the rest counted below
TOP_VALUES = 5  # values listed in the statistics table
MEASURE_ORDER = (  # the drift table's columns (space-separated), then any other measure
    "wasserstein wasserstein_raw ks ks_p ks_p_sample_rows psi jensenshannon linf chisquare "
    "chisquare_p mean_shift std_ratio"
)
NO_VALUE = "\u2013"  # an en dash
TIME_UNITS = {"ns": 1e9, "us": 1e6, "ms": 1e3}
CSS = f"""
body{{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:{TEXT_COLOR};max-width:1400px;margin:0 auto;padding:20px 24px 60px}}
h1{{font-size:22px;margin:0 0 4px;overflow-wrap:anywhere}}
h2{{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid {GRID_COLOR}}}
h3{{font-size:15px;margin:0 0 8px;overflow-wrap:anywhere}}
.meta,.note,.type{{color:{MUTED_COLOR}}} .type{{font-weight:normal;font-size:13px}}
.verdict,.sev,.tag{{display:inline-block;color:#fff;font-weight:600;border-radius:4px}}
.verdict{{padding:3px 12px;font-size:16px;margin-right:8px}}
.sev,.tag{{padding:0 6px;font-size:12px}}
table{{border-collapse:collapse;font-size:13px}}
th,td{{padding:3px 8px;border-bottom:1px solid {GRID_COLOR};text-align:left;vertical-align:top}}
th{{background:#f7fafc}} td.n{{text-align:right;white-space:nowrap;
font-variant-numeric:tabular-nums}} tr.drifted td{{background:#fff5f5}}
#drift table{{font-size:12px}} #drift th,#drift td{{padding:3px 5px}}
.scroll{{overflow-x:auto}} a{{color:{SERIES_COLORS["cur"]}}}
section.column{{border:1px solid {GRID_COLOR};border-radius:6px;padding:12px 14px;margin:12px 0}}
section.flagged{{border-left-width:6px}}
.body{{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}} .info{{flex:1 1 380px}}
ul.found{{margin:0 0 8px;padding-left:18px}}
.key{{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border-radius:2px}}
svg text{{font-size:11px;fill:{MUTED_COLOR}}}
"""


def render_report(
    validation: Validation,
    *,
    title: str,
    current: Profile,
    reference: Profile | None = None,
    schema: Schema | None = None,
    created_at: str | None = None,
) -> str:
    """The page for ``validation`` of ``current`` (against ``reference``, if any)."""
    names = list(current.names)
    if reference is not None:
        names += [name for name in reference.names if not current.has_column(name)]
    anchors = {name: _anchor(i, name) for i, name in enumerate(names)}
    found: dict[str, list[Anomaly]] = {}
    for anomaly in validation.anomalies:
        if anomaly.column is not None:
            found.setdefault(anomaly.column, []).append(anomaly)
    drifts = {drift.column: drift for drift in validation.drift}
    parts = [
        _header(validation, title, current, reference, created_at),
        _anomalies(validation, anchors),
        _drift_table(validation, anchors),
        '<h2 id="columns">Columns</h2>',
    ]
    labels = {current.label, reference.label if reference is not None else None}
    for name in names:
        cur, ref = _column(current, name), _column(reference, name)
        spec = schema.column(name) if schema is not None and schema.has_column(name) else None
        flagged = found.get(name, [])
        args = (cur, ref, spec, drifts.get(name), flagged, name in labels)
        parts.append(_section(name, anchors[name], *args))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _anchor(index: int, name: str) -> str:
    """A unique, safe id: the position, then an ASCII slug of the name for readability."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"col-{index}-{slug}" if slug else f"col-{index}"


def _column(profile: Profile | None, name: str) -> ColumnProfile | None:
    return profile.column(name) if profile is not None and profile.has_column(name) else None


def _link(name: str, anchors: dict[str, str]) -> str:
    return f'<a href="#{anchors[name]}">{_e(name)}</a>' if name in anchors else _e(name)


def _color(severity: str) -> str:
    return SEVERITY_COLORS.get(severity, NEUTRAL_COLOR)


def _badge(text: str, color: str, kind: str = "sev") -> str:
    return f'<span class="{kind}" style="background:{color}">{_e(text)}</span>'


def _plural(n: int, word: str, words: str = "") -> str:
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def _table(headers: Sequence[str], rows: Sequence[str], numeric: int = 0) -> str:
    """A table; headers from position ``numeric`` on (if > 0) are right-aligned."""
    right = ' class="n"'
    cells = "".join(
        f"<th{right if numeric and i >= numeric else ''}>{_e(h).replace('_', '_<wbr>')}</th>"
        for i, h in enumerate(headers)
    )
    return f'<div class="scroll"><table><tr>{cells}</tr>\n' + "\n".join(rows) + "</table></div>"


def _header(
    validation: Validation,
    title: str,
    current: Profile,
    reference: Profile | None,
    created_at: str | None,
) -> str:
    errors = sum(a.severity == "error" for a in validation.anomalies)
    warnings = sum(a.severity == "warning" for a in validation.anomalies)
    word, color = (
        ("Passed", PASSED_COLOR) if validation.passed else ("Failed", SEVERITY_COLORS["error"])
    )
    meta = [f"current: {current.rows:,} rows"]
    if reference is not None:
        meta.append(f"reference: {reference.rows:,} rows")
        meta.append(f"compared for {validation.comparison}")
    if created_at:
        meta.insert(0, f"created {created_at}")
    return (
        f'<header>\n<h1>{_e(title)}</h1>\n<p class="meta">{_e(" · ".join(meta))}</p>\n'
        f"<p>{_badge(word, color, 'verdict')} "
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}</p>\n</header>"
    )


def _anomalies(validation: Validation, anchors: dict[str, str]) -> str:
    head = '<section id="anomalies">\n<h2>Anomalies</h2>\n'
    if not validation.anomalies:
        return head + '<p class="note">No anomalies</p>\n</section>'
    rows = [
        f"<tr><td>{_badge(a.severity, _color(a.severity))}</td><td>{_e(a.kind)}</td>"
        f"<td>{'<i>(table)</i>' if a.column is None else _link(a.column, anchors)}</td>"
        f"<td>{_e(a.message)}</td></tr>"
        for a in validation.anomalies
    ]
    return head + _table(("severity", "kind", "column", "message"), rows) + "\n</section>"


def _drift_table(validation: Validation, anchors: dict[str, str]) -> str:
    word = "Drift" if validation.comparison == "drift" else "Skew"
    head = f'<section id="drift">\n<h2>{word}</h2>\n'
    if not validation.drift:
        why = "No reference to compare with" if validation.reference_rows is None else ""
        return head + f'<p class="note">{why or "No column could be compared"}</p>\n</section>'
    keys = [k for k in MEASURE_ORDER.split() if any(k in d.measures for d in validation.drift)]
    keys += sorted({k for d in validation.drift for k in d.measures} - set(keys))
    # a distance's bound is shown with it ("0.0055 ± 0.0005"), not in a column of its own
    keys = [k for k in keys if not (k.endswith("_bound") and k.removesuffix("_bound") in keys)]
    rows = []
    for d in validation.drift:
        measures = "".join(f'<td class="n">{_bounded(k, d.measures)}</td>' for k in keys)
        rows.append(
            f'<tr class="{"drifted" if d.drifted else "same"}"><td>{_link(d.column, anchors)}</td>'
            f'<td>{_e(d.method)}</td><td class="n">{_statistic(d)}</td>'
            f'<td class="n">{d.threshold:g}</td><td>{"<b>yes</b>" if d.drifted else "no"}</td>'
            f"{measures}</tr>"
        )
    headers = ("column", "method", "statistic", "threshold", "drifted", *keys)
    note = '<p class="note">Statistic: the judging measure; for ks and chisquare, the p-value.</p>'
    return head + _table(headers, rows, numeric=5) + f"\n{note}\n</section>"


def _statistic(drift: ColumnDrift) -> str:
    p_value = drift.method in P_VALUE_METHODS
    return _measure(f"{drift.method}_p" if p_value else drift.method, drift.statistic)


def _bounded(key: str, measures: dict[str, float]) -> str:
    """A measure, with its bound when it has one that is not 0."""
    if key not in measures:
        return ""
    bound = measures.get(f"{key}_bound", 0.0)
    shown = _measure(key, measures[key])
    return f"{shown} \u00b1 {_measure(key, bound)}" if bound else shown


def _measure(key: str, value: float) -> str:
    if math.isnan(value):
        return NO_VALUE
    if value == 0:
        return "0"
    if key.endswith("_rows"):
        return f"{value:,.0f}"
    if key.endswith("_p"):
        return f"{value:.2e}"
    return _number(value, 3)


def _number(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    size = abs(value)
    if size < 1e-3 or size >= 1e15:
        return f"{value:.{digits - 1}e}"
    return f"{value:,.0f}" if size >= 10 ** (digits - 1) else f"{value:.{digits}g}"


def _value(column: ColumnProfile, value: float | None, digits: int = 5) -> str:
    """A statistic in the column's own terms: dates and times as such."""
    if value is None:
        return NO_VALUE
    unit = re.search(r"\b(ns|us|ms)\b", column.dtype)
    per_second = TIME_UNITS[unit.group(1)] if unit else 1e6
    try:
        if column.type == "date":
            return (dt.date(1970, 1, 1) + dt.timedelta(days=value)).isoformat()
        if column.type == "datetime":
            moment = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=value / per_second)
            return moment.isoformat(sep=" ", timespec="seconds")
        if column.type == "duration":
            return str(dt.timedelta(seconds=value / per_second))
    except (OverflowError, ValueError):
        pass
    return _number(value, digits)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _section(
    name: str,
    anchor: str,
    cur: ColumnProfile | None,
    ref: ColumnProfile | None,
    spec: ColumnSchema | None,
    drift: ColumnDrift | None,
    found: list[Anomaly],
    label: bool,
) -> str:
    shown = cur or ref
    assert shown is not None
    heading = f'{_e(name)} <span class="type">{_e(shown.type)} ({_e(shown.dtype)})</span>'
    if label:
        heading += " " + _badge("label", NEUTRAL_COLOR, "tag")
    style = ""
    if found:  # sorted errors first: the first is the worst
        color = _color(found[0].severity)
        style = f' style="border-left-color:{color}"'
        heading += " " + _badge(f"⚑ {_plural(len(found), 'anomaly', 'anomalies')}", color)
    notes = []
    if cur is None:
        notes.append('<p class="note">Not in the current table; the reference is shown.</p>')
    if found:
        items = "".join(f"<li><b>{_e(a.kind)}</b>: {_e(a.message)}</li>" for a in found)
        notes.append(f'<ul class="found">{items}</ul>')
    if drift is not None:
        judged = f"{drift.method} {_statistic(drift)}, threshold {drift.threshold:g}"
        verdict = "<b>drifted</b>" if drift.drifted else "not drifted"
        notes.append(f"<p>{_e(judged)}: {verdict}</p>")
    if spec is not None:
        notes.append(f'<p class="note">Schema: {_e(_expected(spec))}</p>')
    return (
        f'<section class="column{" flagged" if found else ""}" id="{anchor}" '
        f'data-column="{_e(name)}"{style}>\n<h3>{heading}</h3>\n<div class="body">'
        f'<div class="info">{"".join(notes)}{_stats(cur, ref)}</div>'
        f'<div class="chart">{_chart(cur, ref, drift)}</div></div>\n</section>'
    )


def _expected(spec: ColumnSchema) -> str:
    parts = [spec.type, "required" if spec.required else "optional"]
    parts += [f"missing at most {spec.max_missing:.2%}"]
    if spec.min is not None or spec.max is not None:
        parts.append(f"range [{spec.min}, {spec.max}]")
    if spec.domain is not None:
        parts.append(f"domain of {_plural(len(spec.domain), 'value')}")
    if spec.drift_off:
        parts.append("drift off")
    elif spec.drift is not None:
        parts.append(f"drift by {spec.drift.method} at {spec.drift.threshold:g}")
    return ", ".join(parts)


def _stats(cur: ColumnProfile | None, ref: ColumnProfile | None) -> str:
    shown = [(word, c) for word, c in (("reference", ref), ("current", cur)) if c is not None]
    first = shown[-1][1]
    rows: list[tuple[str, Callable[[ColumnProfile], str]]] = [
        ("count", lambda c: f"{c.count:,}"),
        ("missing", lambda c: f"{c.missing_fraction:.2%}"),
        ("distinct", lambda c: f"{c.distinct:,}"),
    ]
    if first.min is not None:
        rows += [("min", lambda c: _value(c, c.min)), ("max", lambda c: _value(c, c.max))]
    if first.numeric:
        rows += [("mean", lambda c: _value(c, c.mean)), ("std", lambda c: _value(c, c.std))]
    if first.categorical:
        rows.append(("top values", _top_values))
    body = [
        f"<tr><th>{_e(label)}</th>"
        + "".join(f'<td class="n">{get(c)}</td>' for _, c in shown)
        + "</tr>"
        for label, get in rows
    ]
    return _table(("", *(word for word, _ in shown)), body, numeric=1)


def _top_values(column: ColumnProfile) -> str:
    if not column.values or not column.count:
        return NO_VALUE
    return "<br>".join(
        f"{_e(_text(v)[: LABEL_CHARS * 2])} {n / column.count:.1%}"
        for v, n in column.values[:TOP_VALUES]
    )


def _chart(cur: ColumnProfile | None, ref: ColumnProfile | None, drift: ColumnDrift | None) -> str:
    if drift is not None:
        a, b = drift.reference, drift.current
        series = [("ref", list(a["shares"])), ("cur", list(b["shares"]))]
        if "edges" in a:
            return _legend(series) + _bars(a["edges"], series, lambda v: _number(v, 4))
        return _legend(series) + _value_bars([_text(v) for v in a["values"]], series)
    column, key = (cur, "cur") if cur is not None else (ref, "ref")
    assert column is not None
    if column.histogram is not None and not column.categorical:
        total = sum(column.histogram.counts) or 1
        shares = [n / total for n in column.histogram.counts]
        return _legend([(key, shares)]) + _bars(
            column.histogram.edges, [(key, shares)], lambda v: _value(column, v, 4)
        )
    if column.values and column.count:
        values = [_text(v) for v, _ in column.values] + (["(other)"] if column.other else [])
        counts = [n for _, n in column.values] + ([column.other] if column.other else [])
        series = [(key, [n / column.count for n in counts])]
        return _legend(series) + _value_bars(values, series)
    return _svg(40, ['<text x="8" y="24">no values to draw</text>'], "no values")


def _legend(series: list[tuple[str, list[float]]]) -> str:
    keys = "".join(
        f'<span class="key" style="background:{SERIES_COLORS[k]}"></span>{SERIES_NAMES[k]}'
        for k, _ in series
    )
    return f'<div class="note">share of non-missing values:{keys}</div>'


def _rect(key: str, x: float, y: float, width: float, height: float, tip: str) -> str:
    size = f'width="{max(width, 0.0):.1f}" height="{max(height, 0.0):.1f}"'
    return (
        f'<rect class="{key}" fill="{SERIES_COLORS[key]}" x="{x:.1f}" y="{y:.1f}" {size}>'
        f"<title>{_e(tip)}</title></rect>"
    )


def _bars(
    edges: Sequence[float], series: list[tuple[str, list[float]]], fmt: Callable[[float], str]
) -> str:
    """Vertical bars per bin, the series side by side within each bin."""
    n = len(series[0][1])
    top = max((s for _, shares in series for s in shares), default=0.0) or 1.0
    left, right, above, below = 46, 10, 10, 24
    width, height = CHART_WIDTH - left - right, CHART_HEIGHT - above - below
    slot = width / max(n, 1)
    bar = slot * 0.86 / len(series)
    base = above + height
    parts = [
        f'<line x1="{left}" x2="{left + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID_COLOR}"/>'
        f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{share:.1%}</text>'
        for y, share in ((above, top), (above + height / 2, top / 2), (base, 0.0))
    ]
    for i in range(n):
        span = f"[{fmt(edges[i])}, {fmt(edges[i + 1])})" if len(edges) > i + 1 else ""
        tip = f"{span} " + ", ".join(f"{SERIES_NAMES[k]} {s[i]:.2%}" for k, s in series)
        for j, (key, shares) in enumerate(series):
            h = shares[i] / top * height
            x = left + i * slot + slot * 0.07 + j * bar
            parts.append(_rect(key, x, base - h, bar, h, tip))
    ticks = ((0, "start"), (n // 2, "middle"), (n, "end")) if len(edges) == n + 1 else ()
    for i, anchor in ticks[:: 1 if n > 1 else 2]:  # no middle tick for one bar
        at = f'x="{left + i * slot:.1f}" y="{base + 16}" text-anchor="{anchor}"'
        parts.append(f"<text {at}>{_e(fmt(edges[i]))}</text>")
    return _svg(CHART_HEIGHT, parts, "bars per bin")


def _value_bars(values: list[str], series: list[tuple[str, list[float]]]) -> str:
    """Horizontal bars per value, the largest MAX_VALUES in their given order."""
    shown = list(range(len(values)))
    if len(shown) > MAX_VALUES:
        largest = sorted(shown, key=lambda i: -max(s[i] for _, s in series))
        shown = sorted(largest[:MAX_VALUES])
    top = max((s[i] for _, s in series for i in shown), default=0.0) or 1.0
    width = CHART_WIDTH - LABEL_WIDTH - 56
    thick = (ROW_HEIGHT - 6) / len(series)
    parts = []
    for row, i in enumerate(shown):
        y = 6 + row * ROW_HEIGHT
        label = values[i] if len(values[i]) <= LABEL_CHARS else values[i][: LABEL_CHARS - 1] + "…"
        tip = f"{values[i]}: " + ", ".join(f"{SERIES_NAMES[k]} {s[i]:.2%}" for k, s in series)
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + ROW_HEIGHT / 2 + 1:.1f}" '
            f'text-anchor="end"><title>{_e(tip)}</title>{_e(label)}</text>'
        )
        for j, (key, shares) in enumerate(series):
            w = shares[i] / top * width
            parts.append(_rect(key, LABEL_WIDTH, y + j * thick, w, thick - 1, tip))
        end = LABEL_WIDTH + max(s[i] for _, s in series) / top * width + 4  # past both bars
        at = f'x="{end:.1f}" y="{y + ROW_HEIGHT / 2 + 1:.1f}"'
        parts.append(f"<text {at}>{series[-1][1][i]:.1%}</text>")
    height = 12 + len(shown) * ROW_HEIGHT
    if len(shown) < len(values):
        parts.append(
            f'<text x="{LABEL_WIDTH}" y="{height + 6}">{len(values) - len(shown):,} smaller '
            "values not drawn</text>"
        )
        height += 16
    return _svg(height, parts, "bars per value")


def _svg(height: float, parts: list[str], label: str) -> str:
    return (
        f'<svg class="chart" width="{CHART_WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {CHART_WIDTH} {height:.0f}" role="img" aria-label="{label}">'
        + "".join(parts)
        + "</svg>"
    )
