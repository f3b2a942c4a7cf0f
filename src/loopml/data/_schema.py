"""The schema a dataset is held to: inferred from its first version, then edited by hand.

It is a YAML file (JSON is YAML too) that a person can read and change:

    min_rows: 10000                # too_few_rows below this
    max_duplicate_fraction: 0.01
    label: churned                 # its class shares are checked on their own
    label_tolerance: 0.05          # largest change in any class's share
    severity: {drift: warning}     # per anomaly kind: error, warning or ignore
    columns:
      age:
        type: integer              # integer, float, string, boolean, date, datetime, ...
        required: true             # missing_column when absent
        max_missing: 0.01          # share of missing values allowed
        range: {min: -9.9, max: 108.9, max_outside: 0.01}
      plan:
        type: string
        domain: [basic, pro]
        max_outside_domain: 0.01
        drift: {method: psi, threshold: 0.2}   # or `drift: off`

>>> import polars as pl
>>> from loopml.data._profile import profile
>>> schema = infer_schema(profile(pl.DataFrame({"plan": ["basic", "pro"] * 50})))
>>> schema.column("plan").domain
('basic', 'pro')
>>> Schema.from_yaml(schema.to_yaml()) == schema
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.data._profile import ColumnProfile, Profile, Value

TYPES = ("integer", "float", "string", "boolean", "date", "datetime", "duration", "other")
DRIFT_METHODS = ("wasserstein", "ks", "psi", "jensenshannon", "chisquare", "linf")
SEVERITIES = ("error", "warning", "ignore")
ANOMALY_KINDS = (
    "missing_column",
    "unexpected_column",
    "wrong_type",
    "out_of_range",
    "outside_domain",
    "missing_values",
    "too_few_rows",
    "duplicate_rows",
    "drift",
    "skew",
    "label_shift",
    "label_skew",
)
DEFAULT_SEVERITY = {
    "unexpected_column": "warning",
    "duplicate_rows": "warning",
    "drift": "warning",
    "label_shift": "warning",
}

YAML_HEADER = (
    "# loopml dataset schema. Edit it, then record it with\n"
    "# `loopml data schema NAME --set FILE` (or `--edit`). Fields: docs/data.md.\n"
)
DOMAIN_MAX = 100  # string columns with at most this many values get a domain
RANGE_QUANTILES = (1, 999)  # bounds from the 0.1% and 99.9% quantiles...
RANGE_PADDING = 0.1  # ...widened by 10% of the distance between them on each side
MISSING_TOLERANCE = 0.01
SHARE_OUTSIDE = 0.01


@dataclass(frozen=True)
class DriftRule:
    """How one column's drift is judged: a method and its threshold (a distance at or
    above it, or a p-value below it, is drift)."""

    method: str
    threshold: float


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: str
    required: bool = True
    max_missing: float = 0.0
    min: float | None = None
    max: float | None = None
    max_outside_range: float = SHARE_OUTSIDE
    domain: tuple[Value, ...] | None = None
    max_outside_domain: float = SHARE_OUTSIDE
    drift: DriftRule | None = None  # None: chosen by type and size
    drift_off: bool = False


@dataclass(frozen=True)
class Schema:
    columns: tuple[ColumnSchema, ...]
    min_rows: int = 1
    max_duplicate_fraction: float = 0.01
    label: str | None = None
    label_tolerance: float = 0.05
    severity: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> ColumnSchema:
        return self.columns[self._positions[name]]

    def has_column(self, name: str) -> bool:
        return name in self._positions

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {column.name: index for index, column in enumerate(self.columns)}

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def severity_of(self, kind: str) -> str:
        return self.severity.get(kind, DEFAULT_SEVERITY.get(kind, "error"))

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "min_rows": self.min_rows,
            "max_duplicate_fraction": self.max_duplicate_fraction,
            "label": self.label,
            "label_tolerance": self.label_tolerance,
        }
        if self.severity:
            data["severity"] = dict(self.severity)
        data["columns"] = {column.name: _column_data(column) for column in self.columns}
        return data

    def to_yaml(self) -> str:
        import yaml

        from loopml.data import _schema_yaml

        data = self.to_data()
        fast = _schema_yaml.dump(data, header=YAML_HEADER)  # PyYAML's text, line by line
        if fast is not None:
            return fast
        # libyaml's emitter when PyYAML has it: 20,000 columns take 1 s instead of 20.
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        return YAML_HEADER + yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str, source: str = "schema") -> Schema:
        import yaml

        from loopml.data import _schema_yaml

        known = _schema_yaml.load(text, header=YAML_HEADER)  # a file loopml wrote, as it was
        if known is not None:
            return cls.from_data(known, source)
        try:
            # libyaml's parser when PyYAML has it; on an error, PyYAML's own says where.
            try:
                data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            except yaml.YAMLError:
                data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "it cannot be parsed"
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise InvalidInput(
                f"{source} is not valid YAML or JSON: {problem}{where}; fix it and try again"
            ) from None
        return cls.from_data(data, source)

    @classmethod
    def from_data(cls, data: Any, source: str = "schema") -> Schema:
        return _parse_schema(data, source)


def infer_schema(profile: Profile) -> Schema:
    """The schema a first version implies: what it has, with tolerances around it."""
    rows = profile.rows
    return Schema(
        columns=tuple(_infer_column(column) for column in profile.columns),
        min_rows=max(1, rows // 10),
        max_duplicate_fraction=min(
            1.0, _round_up((profile.duplicate_rows / rows if rows else 0.0) + MISSING_TOLERANCE)
        ),
        label=profile.label,
    )


def _infer_column(column: ColumnProfile) -> ColumnSchema:
    share = column.missing_fraction
    # Wide enough for the sampling noise of the reference's own missing share.
    noise = 4 * math.sqrt(share * (1 - share) / column.rows) if column.rows else 0.0
    schema = ColumnSchema(
        name=column.name,
        type=column.type,
        max_missing=min(1.0, _round_up(share + max(MISSING_TOLERANCE, noise))),
    )
    if column.numeric and column.quantiles is not None:
        steps = len(column.quantiles) - 1
        low = column.quantiles[steps * RANGE_QUANTILES[0] // 1000]
        high = column.quantiles[steps * RANGE_QUANTILES[1] // 1000]
        pad = RANGE_PADDING * (high - low)
        schema = replace(schema, min=_round(low - pad), max=_round(high + pad))
    if column.categorical and column.values is not None and column.distinct <= DOMAIN_MAX:
        schema = replace(schema, domain=tuple(sorted((v for v, _ in column.values), key=str)))
    return schema


def _round(value: float) -> float:
    """Six significant digits: readable in the file, and tolerances absorb the rest."""
    return float(f"{value:.6g}") if math.isfinite(value) else value


def _round_up(value: float) -> float:
    return math.ceil(value * 10_000) / 10_000


def _column_data(column: ColumnSchema) -> dict[str, Any]:
    data: dict[str, Any] = {"type": column.type}
    if not column.required:
        data["required"] = False
    data["max_missing"] = column.max_missing
    if column.min is not None or column.max is not None:
        data["range"] = {
            "min": column.min,
            "max": column.max,
            "max_outside": column.max_outside_range,
        }
    if column.domain is not None:
        data["domain"] = list(column.domain)
        data["max_outside_domain"] = column.max_outside_domain
    if column.drift_off:
        data["drift"] = "off"
    elif column.drift is not None:
        data["drift"] = {"method": column.drift.method, "threshold": column.drift.threshold}
    return data


# -- reading a schema a person wrote ------------------------------------------------


def _parse_schema(data: Any, source: str) -> Schema:
    top = _mapping(data, source)
    _only(
        top,
        {
            "min_rows",
            "max_duplicate_fraction",
            "label",
            "label_tolerance",
            "severity",
            "columns",
        },
        source,
    )
    columns = _mapping(top.get("columns", {}), f"{source}: columns")
    severity = _mapping(top.get("severity") or {}, f"{source}: severity")
    for kind, level in severity.items():
        if kind not in ANOMALY_KINDS:
            raise InvalidInput(
                f"{source}: severity names {kind!r}, which is not an anomaly kind; use one "
                f"of {', '.join(ANOMALY_KINDS)}"
            )
        if level not in SEVERITIES:
            raise InvalidInput(
                f"{source}: severity of {kind} is {level!r}; use error, warning or ignore"
            )
    label = top.get("label")
    if label is not None and not isinstance(label, str):
        raise InvalidInput(f"{source}: label is {label!r}; give a column name or null")
    return Schema(
        columns=tuple(
            _parse_column(str(name), spec, f"{source}: column {name!r}")
            for name, spec in columns.items()
        ),
        min_rows=_count(top.get("min_rows", 1), f"{source}: min_rows"),
        max_duplicate_fraction=_share(
            top.get("max_duplicate_fraction", 0.01), f"{source}: max_duplicate_fraction"
        ),
        label=label,
        label_tolerance=_share(top.get("label_tolerance", 0.05), f"{source}: label_tolerance"),
        severity={str(k): str(v) for k, v in severity.items()},
    )


def _parse_column(name: str, spec: Any, where: str) -> ColumnSchema:
    fields = _mapping(spec, where)
    _only(
        fields,
        {"type", "required", "max_missing", "range", "domain", "max_outside_domain", "drift"},
        where,
    )
    kind = fields.get("type")
    if kind not in TYPES:
        raise InvalidInput(f"{where}: type is {kind!r}; use one of {', '.join(TYPES)}")
    required = fields.get("required", True)
    if not isinstance(required, bool):
        raise InvalidInput(f"{where}: required is {required!r}; use true or false")
    column = ColumnSchema(
        name=name,
        type=kind,
        required=required,
        max_missing=_share(fields.get("max_missing", 0.0), f"{where}: max_missing"),
    )
    if "range" in fields:
        bounds = _mapping(fields["range"], f"{where}: range")
        _only(bounds, {"min", "max", "max_outside"}, f"{where}: range")
        low = bounds.get("min")
        high = bounds.get("max")
        column = replace(
            column,
            min=None if low is None else _number(low, f"{where}: range.min"),
            max=None if high is None else _number(high, f"{where}: range.max"),
            max_outside_range=_share(
                bounds.get("max_outside", SHARE_OUTSIDE), f"{where}: range.max_outside"
            ),
        )
        if column.min is not None and column.max is not None and column.min > column.max:
            raise InvalidInput(f"{where}: range.min {column.min} is above range.max {column.max}")
    if "domain" in fields:
        domain = fields["domain"]
        if not isinstance(domain, list) or not domain:
            raise InvalidInput(f"{where}: domain is {domain!r}; give a list of allowed values")
        column = replace(
            column,
            domain=tuple(domain),
            max_outside_domain=_share(
                fields.get("max_outside_domain", SHARE_OUTSIDE), f"{where}: max_outside_domain"
            ),
        )
    drift = fields.get("drift")
    if drift in ("off", False):
        column = replace(column, drift_off=True)
    elif drift is not None:
        rule = _mapping(drift, f"{where}: drift")
        _only(rule, {"method", "threshold"}, f"{where}: drift")
        method = rule.get("method")
        if method not in DRIFT_METHODS:
            raise InvalidInput(
                f"{where}: drift method is {method!r}; use one of {', '.join(DRIFT_METHODS)}"
            )
        threshold = _number(rule.get("threshold"), f"{where}: drift.threshold", low=0.0)
        column = replace(column, drift=DriftRule(method, threshold))
    return column


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} is {type(value).__name__}, expected a mapping of keys")
    return value


def _only(fields: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(allowed))}"
        )


def _number(value: Any, where: str, low: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where} is {value!r}; give a number")
    if isinstance(value, float) and math.isnan(value):
        raise InvalidInput(f"{where} is not a number (.nan); give a number")
    if low is not None and value < low:
        raise InvalidInput(f"{where} is {value!r}; it cannot be below {low}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidInput(f"{where} is {value}; give a number below 1e308") from None


def _count(value: Any, where: str) -> int:
    """A whole number of rows, 0 or more (YAML's 1e3 is a float: whole ones are taken)."""
    number = _number(value, where, low=0)
    if not math.isfinite(number) or number != int(number):
        raise InvalidInput(f"{where} is {value!r}; give a whole number of rows, e.g. 1000")
    return int(value)


def _share(value: Any, where: str) -> float:
    number = _number(value, where, low=0.0)
    if number > 1:
        raise InvalidInput(f"{where} is {value!r}; give a share between 0 and 1")
    return number
