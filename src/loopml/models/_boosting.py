"""The XGBoost and LightGBM flavors, in each library's own model format.

XGBoost: a Booster or a scikit-learn wrapper (``XGBClassifier``...) is stored as the
booster's UBJSON (``save_raw("ubj")``), which ``load_model`` reads back exactly; a
wrapper's class and its plain hyper-parameters are kept in the facts, so it comes
back as the same class with the same ``get_params()``.

LightGBM: a Booster is stored as its model string (``model_to_string``, the text
format every LightGBM reads). LightGBM has no save format for its scikit-learn
wrappers (``LGBMClassifier``...): they keep fitted state, such as the label encoder,
outside the booster. They are pickled, as LightGBM documents; the booster inside is
pickled as its model string. Save ``model.booster_`` to keep a pickle-free copy.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInput
from loopml.models._base import (
    Encoded,
    Flavor,
    import_path,
    json_params,
    loaded,
    need,
    type_path,
)
from loopml.models._pickled import library_versions, pickle_with_modules


class XGBoostFlavor(Flavor):
    name = "xgboost"
    extra = "xgboost"

    def matches(self, model: Any) -> bool:
        xgb = loaded("xgboost")
        return xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel)

    def save(self, model: Any) -> Encoded:
        xgb = need("xgboost", self.name, self.extra)
        libraries = {"xgboost": xgb.__version__}
        if isinstance(model, xgb.Booster):
            return Encoded(bytes(model.save_raw(raw_format="ubj")), "xgboost-ubj", {}, libraries)
        cls = type(model)
        if not cls.__module__.startswith("xgboost."):
            raise InvalidInput(
                f"{cls.__qualname__} subclasses an XGBoost model; loopml rebuilds only "
                "XGBoost's own classes: save model.get_booster(), or pass "
                "flavor='python-function' to pickle it"
            )
        if not model.__sklearn_is_fitted__():
            raise InvalidInput(
                f"the {cls.__qualname__} is not fitted: there is no model to save yet; call "
                "fit first"
            )
        booster = model.get_booster()
        defaults = cls().get_params()
        changed = {k: v for k, v in model.get_params().items() if defaults.get(k, v) != v}
        facts = {"class": type_path(cls), "params": json_params(changed)}
        return Encoded(bytes(booster.save_raw(raw_format="ubj")), "xgboost-ubj", facts, libraries)

    def load(self, data: bytes, serialization: str, facts: Mapping[str, Any]) -> Any:
        xgb = need("xgboost", self.name, self.extra)
        raw = bytearray(data)
        if "class" not in facts:
            booster = xgb.Booster()
            booster.load_model(raw)
            return booster
        if not str(facts["class"]).startswith("xgboost."):
            raise InvalidInput(
                f"the stored XGBoost model names class {facts['class']!r}, not one of "
                "XGBoost's; it was not saved by loopml: save it again with save_model"
            )
        cls = import_path(facts["class"], "this XGBoost model")
        model = cls(**facts.get("params", {}))
        model.load_model(raw)
        return model


class LightGBMFlavor(Flavor):
    name = "lightgbm"
    extra = "lightgbm"

    def matches(self, model: Any) -> bool:
        lgb = loaded("lightgbm")
        return lgb is not None and isinstance(model, lgb.Booster | lgb.LGBMModel)

    def save(self, model: Any) -> Encoded:
        lgb = need("lightgbm", self.name, self.extra)
        if isinstance(model, lgb.Booster):
            text = model.model_to_string()
            return Encoded(text.encode(), "lightgbm-text", {}, {"lightgbm": lgb.__version__})
        pickled = pickle_with_modules(model, self.name)
        libraries = library_versions(pickled.modules | {"lightgbm"})
        return Encoded(pickled.data, "pickle", {}, libraries, pickled.code)

    def load(self, data: bytes, serialization: str, facts: Mapping[str, Any]) -> Any:
        lgb = need("lightgbm", self.name, self.extra)
        if serialization == "pickle":
            return pickle.loads(data)
        return lgb.Booster(model_str=data.decode())
