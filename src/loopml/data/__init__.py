"""Versioned datasets, profiles, schemas, validation, drift and skew.

>>> import tempfile, polars as pl, loopml
>>> ws = loopml.init(tempfile.mkdtemp())
>>> v1 = loopml.data.add(pl.DataFrame({"y": ["a", "b"] * 500}), name="t", label="y", workspace=ws)
>>> v2 = loopml.data.add(pl.DataFrame({"y": ["a"] * 700 + ["b"] * 300}), name="t", label="y",
...                      workspace=ws)
>>> result = loopml.data.validate("t@v2", workspace=ws)
>>> [(a.kind, a.severity) for a in result.validation.anomalies]
[('drift', 'warning'), ('label_shift', 'warning')]
>>> ws.close()
"""

from loopml.data._api import add, diff, get, schema, set_schema, validate, versions
from loopml.data._checks import DatasetDiff, ValidationRecord
from loopml.data._profile import ColumnProfile, Histogram, Profile, profile
from loopml.data._read import as_polars
from loopml.data._schema import ColumnSchema, DriftRule, Schema, infer_schema
from loopml.data._validate import Anomaly, ColumnDrift, Validation, validate_profile
from loopml.data._versions import DatasetVersion
from loopml.pipeline._validation import validated

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
