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
    from loopml._paging import Page as Page
    from loopml.data._api import add as add
    from loopml.data._api import datasets as datasets
    from loopml.data._api import diff as diff
    from loopml.data._api import get as get
    from loopml.data._api import list_datasets as list_datasets
    from loopml.data._api import schema as schema
    from loopml.data._api import set_schema as set_schema
    from loopml.data._api import validate as validate
    from loopml.data._api import versions as versions
    from loopml.data._checks import DatasetDiff as DatasetDiff
    from loopml.data._checks import ValidationRecord as ValidationRecord
    from loopml.data._guidelines import Guidelines as Guidelines
    from loopml.data._guidelines import guidelines as guidelines
    from loopml.data._guidelines import set_guidelines as set_guidelines
    from loopml.data._infer import infer_schema as infer_schema
    from loopml.data._profile import ColumnProfile as ColumnProfile
    from loopml.data._profile import Histogram as Histogram
    from loopml.data._profile import Profile as Profile
    from loopml.data._profile import profile as profile
    from loopml.data._read import as_polars as as_polars
    from loopml.data._schema import ColumnSchema as ColumnSchema
    from loopml.data._schema import DriftRule as DriftRule
    from loopml.data._schema import Schema as Schema
    from loopml.data._validate import Anomaly as Anomaly
    from loopml.data._validate import ColumnDrift as ColumnDrift
    from loopml.data._validate import Validation as Validation
    from loopml.data._validate import validate_profile as validate_profile
    from loopml.data._versions import DatasetVersion as DatasetVersion

# Names load on first use: a pipeline touching dataset versions need not import the
# profile, validation and report code.
_exported_getattr, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "_api": (
            "add",
            "datasets",
            "diff",
            "get",
            "list_datasets",
            "schema",
            "set_schema",
            "validate",
            "versions",
        ),
        "loopml._paging": ("Page",),
        "_checks": ("DatasetDiff", "ValidationRecord"),
        "_guidelines": ("Guidelines", "guidelines", "set_guidelines"),
        "_infer": ("infer_schema",),
        "_profile": ("ColumnProfile", "Histogram", "Profile", "profile"),
        "_read": ("as_polars",),
        "_schema": ("ColumnSchema", "DriftRule", "Schema"),
        "_validate": ("Anomaly", "ColumnDrift", "Validation", "validate_profile"),
        "_versions": ("DatasetVersion",),
    },
)


def __getattr__(name: str) -> object:
    if name == "validated":  # a pipeline step, so it lives with the pipelines
        raise AttributeError(
            "loopml.data.validated is now loopml.validated (also "
            "`from loopml.pipeline import validated`): it adds a pipeline step"
        )
    return _exported_getattr(name)
