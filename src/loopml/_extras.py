"""Which extra of loopml installs a module: the one table, kept equal to pyproject.toml's
optional-dependencies by a test, from which a missing optional module is reported as
the extra to install rather than as a bug.

Example:
    >>> extra_for("orjson")
    'serve'
    >>> extra_for("google")  # what a missing protobuf is reported as
    'serve'
    >>> needs_extra("psycopg").startswith("this needs loopml[postgres]: pip install ")
    True
    >>> extra_for("polars") is None  # a dependency of every install
    True
"""

from __future__ import annotations

# import name -> (the distribution that provides it, the extra that installs it). A
# distribution several extras list is named by the one a user would pick for it.
MODULES: dict[str, tuple[str, str]] = {
    "psycopg": ("psycopg", "postgres"),
    "s3fs": ("s3fs", "s3"),
    "pandas": ("pandas", "pandas"),
    "ray": ("ray", "ray"),
    "xgboost": ("xgboost", "xgboost"),
    "lightgbm": ("lightgbm", "lightgbm"),
    "torch": ("torch", "torch"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "skl2onnx": ("skl2onnx", "onnx"),
    "uvicorn": ("uvicorn", "serve"),
    "uvloop": ("uvloop", "serve"),
    "httptools": ("httptools", "serve"),
    "orjson": ("orjson", "serve"),
    "simdjson": ("pysimdjson", "serve"),
    "grpc": ("grpcio", "serve"),
    "google.protobuf": ("protobuf", "serve"),
    "prometheus_client": ("prometheus-client", "serve"),
    "statsmodels": ("statsmodels", "review"),
    "sklearn": ("scikit-learn", "train"),
    "optuna": ("optuna", "tune"),
    "cloudpickle": ("cloudpickle", "tune"),
}


def extra_for(module: str) -> str | None:
    """The extra that installs ``module`` (as a ModuleNotFoundError names it), or None
    when no extra does. A missing package is named by its top level: ``google`` for
    ``google.protobuf`` when there is no ``google`` at all."""
    for name, (_, extra) in MODULES.items():
        if module == name or name.startswith(module + "."):
            return extra
    return None


def needs_extra(module: str) -> str | None:
    """What to say when ``module`` is missing: the extra to install, or None."""
    extra = extra_for(module)
    if extra is None:
        return None
    return f"this needs loopml[{extra}]: {install_command(extra)} (no module named {module!r})"


def install_command(extra: str) -> str:
    """The pip command that adds ``extra`` to this install: from the source folder
    loopml was installed from (a clone's ``pip install -e .``), else from the index."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        origin = json.loads(metadata.distribution("loopml").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        origin = {}
    url = origin.get("url", "") if isinstance(origin, dict) else ""
    if "dir_info" in origin and url.startswith("file://"):
        folder = unquote(urlparse(url).path)
        editable = "-e " if origin["dir_info"].get("editable") else ""
        return f"pip install {editable}'{folder}[{extra}]'"
    return f"pip install 'loopml[{extra}]'"
