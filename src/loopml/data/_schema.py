"""The schema a dataset is held to: inferred from its first version, then edited by hand.

It is a YAML file (JSON is YAML too) that a person can read and change:

    rows: 10000                    # the rows the schema was inferred from
    min_rows: 1000                 # too_few_rows below this
    max_duplicate_fraction: 0.01
    label: churned                 # its class shares are checked on their own
    label_tolerance: 0.05          # smallest change in a class's share that counts
    drift_alpha: 0.05              # chance of any false drift alarm in a batch
    check_alpha: 0.005             # a share is over its limit when this sure
    severity: {drift: warning}     # per anomaly kind: error, warning or ignore
    columns:
      age:
        type: integer              # integer, float, string, boolean, date, datetime, ...
        role: count                # what the column is; see ROLES
        required: true             # missing_column when absent
        max_missing: 0.0005        # share of missing values allowed
        range: {min: 0, max: 180, max_outside: 0.0005}
        seen: {missing: 0, outside_range: 0}   # the counts the limits came from
      plan:
        type: string
        role: category
        domain: [basic, pro]
        max_outside_domain: 0.01
        drift: {method: psi, threshold: 0.2}   # or `drift: off`

Limits are shares of the population: a batch breaks one when its counts make it
certain (:mod:`loopml.data._evidence`). Inferred limits are the 99% upper bound of
the share the reference showed, so they account for the reference's size.

>>> import polars as pl
>>> from loopml.data._infer import infer_schema
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

from loopml.data._evidence import CHECK_ALPHA, DRIFT_ALPHA
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.data._profile import Value

TYPES = ("integer", "float", "string", "boolean", "date", "datetime", "duration", "other")
# What a column is, which decides its rules (the ``why`` of each is in ``_roles``).
ROLES = (
    "identifier",  # distinct in every row: no range, domain or drift
    "timestamp",  # dates or times, parsed from text too: order, gaps, freshness
    "calendar",  # a whole-number part of a date (month, day, hour): its calendar bounds
    "category",  # few values, repeated: a domain
    "text",  # many values: no domain
    "flag",  # true or false
    "count",  # whole numbers, never negative
    "measure",  # numbers, never negative
    "number",  # numbers that may be negative
    "constant",  # one value only in the reference
    "empty",  # no value in the reference
)
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
    "duplicate_ids",
    "date_order",
    "date_gap",
)
# Errors are for what is certainly wrong (a type, an impossible value, missing values
# where there were none); what merely moved is a warning, with its evidence.
DEFAULT_SEVERITY = {
    "unexpected_column": "warning",
    "duplicate_rows": "warning",
    "outside_domain": "warning",
    "drift": "warning",
    "label_shift": "warning",
    "duplicate_ids": "warning",
    "date_order": "warning",
    "date_gap": "warning",
}

YAML_HEADER = (
    "# loopml dataset schema. Edit it, then record it with\n"
    "# `loopml data schema NAME --set FILE` (or `--edit`). Fields: docs/data.md.\n"
)
DOMAIN_MAX = 100  # string columns with at most this many values may get a domain
SHARE_OUTSIDE = 0.01
SEEN_KEYS = ("missing", "outside_range", "outside_domain")


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
    role: str | None = None
    # The reference's counts the inferred limits came from: missing, outside_range,
    # outside_domain (its values seen once: Good-Turing's estimate of unseen ones).
    seen: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Schema:
    columns: tuple[ColumnSchema, ...]
    min_rows: int = 1
    max_duplicate_fraction: float = 0.01
    label: str | None = None
    label_tolerance: float = 0.05
    severity: dict[str, str] = field(default_factory=dict)
    rows: int | None = None  # the reference's rows, when inferred
    drift_alpha: float = DRIFT_ALPHA
    check_alpha: float = CHECK_ALPHA

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
        data: dict[str, Any] = {}
        if self.rows is not None:
            data["rows"] = self.rows
        data.update(
            {
                "min_rows": self.min_rows,
                "max_duplicate_fraction": self.max_duplicate_fraction,
                "label": self.label,
                "label_tolerance": self.label_tolerance,
                "drift_alpha": self.drift_alpha,
                "check_alpha": self.check_alpha,
            }
        )
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


def _column_data(column: ColumnSchema) -> dict[str, Any]:
    data: dict[str, Any] = {"type": column.type}
    if column.role is not None:
        data["role"] = column.role
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
    if column.seen:
        data["seen"] = dict(column.seen)
    return data


# -- reading a schema a person wrote ------------------------------------------------


def _parse_schema(data: Any, source: str) -> Schema:
    top = _mapping(data, source)
    _only(
        top,
        {
            "rows",
            "min_rows",
            "max_duplicate_fraction",
            "label",
            "label_tolerance",
            "drift_alpha",
            "check_alpha",
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
    if label is not None and columns and label not in columns:
        import difflib

        near = difflib.get_close_matches(label, [str(name) for name in columns], n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"the columns are {_listed(columns)}"
        raise InvalidInput(
            f"{source}: label is {label!r}, which is not one of its columns; {hint} (or "
            "null for no label)"
        )
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
        rows=None if top.get("rows") is None else _count(top["rows"], f"{source}: rows"),
        drift_alpha=_share(top.get("drift_alpha", DRIFT_ALPHA), f"{source}: drift_alpha"),
        check_alpha=_share(top.get("check_alpha", CHECK_ALPHA), f"{source}: check_alpha"),
    )


def _parse_column(name: str, spec: Any, where: str) -> ColumnSchema:
    fields = _mapping(spec, where)
    _only(
        fields,
        {
            "type",
            "role",
            "required",
            "max_missing",
            "range",
            "domain",
            "max_outside_domain",
            "drift",
            "seen",
        },
        where,
    )
    kind = fields.get("type")
    if kind not in TYPES:
        raise InvalidInput(f"{where}: type is {kind!r}; use one of {', '.join(TYPES)}")
    role = fields.get("role")
    if role is not None and role not in ROLES:
        raise InvalidInput(f"{where}: role is {role!r}; use one of {', '.join(ROLES)}")
    seen = _mapping(fields.get("seen") or {}, f"{where}: seen")
    _only(seen, set(SEEN_KEYS), f"{where}: seen")
    required = fields.get("required", True)
    if not isinstance(required, bool):
        raise InvalidInput(f"{where}: required is {required!r}; use true or false")
    column = ColumnSchema(
        name=name,
        type=kind,
        required=required,
        max_missing=_share(fields.get("max_missing", 0.0), f"{where}: max_missing"),
        role=role,
        seen={key: _count(value, f"{where}: seen.{key}") for key, value in seen.items()},
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


def _listed(names: Any, shown: int = 8) -> str:
    listed = [str(name) for name in names]
    return ", ".join(listed[:shown]) + (
        f" and {len(listed) - shown} more" if len(listed) > shown else ""
    )


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
