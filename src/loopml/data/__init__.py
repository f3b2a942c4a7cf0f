"""Versioned datasets, profiles, schemas, validation, drift and skew.

>>> import tempfile, polars as pl, loopml
>>> ws = loopml.init(tempfile.mkdtemp())
>>> v1 = loopml.data.add(pl.DataFrame({"y": ["a", "b"] * 500}), name="t", label="y", workspace=ws)
>>> v2 = loopml.data.add(pl.DataFrame({"y": ["a"] * 700 + ["b"] * 300}), name="t", label="y",
...                      workspace=ws)
>>> result = loopml.data.validate("t@v2", workspace=ws)
>>> [(a.kind, a.severity) for a in result.validation.anomalies]
[('label_shift', 'warning')]
>>> ws.close()
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.data._api import (
        add,
        datasets,
        diff,
        get,
        schema,
        set_schema,
        validate,
        versions,
    )
    from loopml.data._checks import DatasetDiff, ValidationRecord
    from loopml.data._infer import infer_schema
    from loopml.data._profile import ColumnProfile, Histogram, Profile, profile
    from loopml.data._read import as_polars
    from loopml.data._schema import ColumnSchema, DriftRule, Schema
    from loopml.data._validate import Anomaly, ColumnDrift, Validation, validate_profile
    from loopml.data._versions import DatasetVersion
    from loopml.pipeline._validation import validated

# Names load on first use: a pipeline touching dataset versions need not import the
# profile, validation and report code.
_WHERE = {
    "validated": "loopml.pipeline._validation",
    "add": "_api",
    "datasets": "_api",
    "diff": "_api",
    "get": "_api",
    "schema": "_api",
    "set_schema": "_api",
    "validate": "_api",
    "versions": "_api",
    "DatasetDiff": "_checks",
    "ValidationRecord": "_checks",
    "ColumnProfile": "_profile",
    "Histogram": "_profile",
    "Profile": "_profile",
    "profile": "_profile",
    "as_polars": "_read",
    "ColumnSchema": "_schema",
    "DriftRule": "_schema",
    "Schema": "_schema",
    "infer_schema": "_infer",
    "Anomaly": "_validate",
    "ColumnDrift": "_validate",
    "Validation": "_validate",
    "validate_profile": "_validate",
    "DatasetVersion": "_versions",
}


__all__ = [
    "Anomaly",
    "ColumnDrift",
    "ColumnProfile",
    "ColumnSchema",
    "DatasetDiff",
    "DatasetVersion",
    "DriftRule",
    "Histogram",
    "Profile",
    "Schema",
    "Validation",
    "ValidationRecord",
    "add",
    "as_polars",
    "datasets",
    "diff",
    "get",
    "infer_schema",
    "profile",
    "schema",
    "set_schema",
    "validate",
    "validate_profile",
    "validated",
    "versions",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
