"""Which flavor a model gets, and a model to bytes and back through it.

Flavors are tried in order; the first that matches stores the model. XGBoost and
LightGBM come before scikit-learn, whose base class their wrappers share; the generic
``python-function`` comes last and takes anything with a ``predict`` method.

>>> from loopml.models import flavor_of
>>> flavor_of(object())
Traceback (most recent call last):
  ...
loopml.errors.InvalidInput: builtins.object cannot be saved as a model: it matches none ...
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInput
from loopml.models._base import Flavor, check_versions
from loopml.models._boosting import LightGBMFlavor, XGBoostFlavor
from loopml.models._onnx import OnnxFlavor
from loopml.models._pickled import FunctionFlavor, SklearnFlavor
from loopml.models._torch import TorchFlavor

FLAVORS: tuple[Flavor, ...] = (
    XGBoostFlavor(),
    LightGBMFlavor(),
    TorchFlavor(),
    OnnxFlavor(),
    SklearnFlavor(),
    FunctionFlavor(),
)
_BY_NAME = {flavor.name: flavor for flavor in FLAVORS}
NAMES = tuple(_BY_NAME)
GENERIC = "python-function"
# The keys loopml writes into a model's metadata (each flavor's facts go under its name).
RESERVED = frozenset({"format", "flavor", "serialization", "python_type", "signature", *NAMES})


def flavor_of(model: Any) -> str:
    """The name of the flavor ``model`` is saved with; InvalidInput if none takes it."""
    for flavor in FLAVORS:
        if flavor.matches(model):
            return flavor.name
    library = ", ".join(name for name in NAMES if name != GENERIC)
    raise InvalidInput(
        f"{_type(model)} cannot be saved as a model: it matches none of the flavors "
        f"({library}) and has no predict method for the generic {GENERIC} flavor; give a "
        "scikit-learn, XGBoost, LightGBM, PyTorch or ONNX model, or an object with "
        "predict(df) -> array"
    )


def library_flavor(value: Any) -> str | None:
    """The flavor of a model of a supported library, or None (the generic flavor, which
    would take any object with ``predict``, is not guessed)."""
    for flavor in FLAVORS:
        if flavor.name != GENERIC and flavor.matches(value):
            return flavor.name
    return None


def encode(model: Any, flavor: str | None = None) -> tuple[bytes, dict[str, Any]]:
    """The model's bytes and the metadata to load them: ``flavor``, ``serialization``,
    ``libraries`` (import name to version), ``python`` and the flavor's own facts under
    its name."""
    name = flavor_of(model) if flavor is None else flavor
    if name not in _BY_NAME:
        raise InvalidInput(f"flavor={name!r} is not a flavor; use one of {', '.join(NAMES)}")
    chosen = _BY_NAME[name]
    if flavor is not None and not chosen.matches(model):
        raise InvalidInput(
            f"flavor={flavor!r} cannot save a {_type(model)}; leave flavor out to use the "
            f"one it matches ({flavor_of(model)!r})"
        )
    encoded = chosen.save(model)
    meta: dict[str, Any] = {
        "flavor": name,
        "serialization": encoded.serialization,
        "libraries": encoded.libraries,
        "python": platform.python_version(),
    }
    if encoded.facts:
        meta[name] = encoded.facts
    meta["code"] = list(encoded.code)  # the user's code loading the bytes runs
    return encoded.data, meta


def decode(data: bytes, metadata: Mapping[str, Any], what: str) -> Any:
    """The model in ``data``, saved with ``metadata`` by :func:`encode`; warns with
    ModelVersionWarning for each library whose version changed since."""
    name = metadata.get("flavor")
    if name not in _BY_NAME:
        raise InvalidInput(
            f"{what} has flavor {name!r}, which this loopml does not know ({', '.join(NAMES)});"
            " a newer loopml may have saved it: upgrade loopml"
        )
    flavor = _BY_NAME[name]
    check_versions(metadata.get("libraries") or {}, what)
    return flavor.load(data, str(metadata.get("serialization")), metadata.get(flavor.name) or {})


def _type(model: Any) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"
