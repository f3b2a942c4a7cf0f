"""Handing a step its inputs in the type it asks for.

A dataset version goes to a parameter annotated ``pd.DataFrame`` as pandas, ``pl.DataFrame``
as Polars, ``pa.Table`` as Arrow and ``Path`` as its local file; a stored output of
one DataFrame library goes to a parameter of the other converted. Anything else is
passed as it is.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any


def hints(func: Any) -> dict[str, Any]:
    """The function's annotations, evaluated where they can be."""
    try:
        return inspect.get_annotations(inspect.unwrap(func), eval_str=True)
    except Exception:  # an annotation that names something undefined
        return dict(getattr(func, "__annotations__", {}))


def _kind(annotation: Any) -> str | None:
    if annotation is Path:
        return "path"
    module = getattr(annotation, "__module__", "") or ""
    name = getattr(annotation, "__name__", "")
    if module.startswith("pandas") and name == "DataFrame":
        return "pandas"
    if module.startswith("polars") and name == "DataFrame":
        return "polars"
    if module.startswith("pyarrow") and name == "Table":
        return "arrow"
    return None


def convert(value: Any, annotation: Any) -> Any:
    from loopml.pipeline._graph import is_dataset_version

    kind = _kind(annotation)
    if kind is None:
        return value
    if is_dataset_version(value):
        if kind == "path":
            return value.path()
        return {"pandas": value.to_pandas, "polars": value.to_polars, "arrow": value.to_arrow}[
            kind
        ]()
    module = type(value).__module__
    if kind == "pandas" and module.startswith("polars"):
        return value.to_pandas()
    if kind == "polars" and module.startswith("pandas"):
        import polars as pl

        return pl.from_pandas(value)
    if kind == "polars" and module.startswith("pyarrow"):
        import polars as pl

        return pl.from_arrow(value)
    return value
