"""Each flavor through a real workspace: a small model trained on a bundled dataset is
saved, loaded in a fresh Python process and predicts bit for bit what it did before;
the metadata names the flavor, the serialization and the library versions."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from model_zoo import MeanRatioModel, assert_bitwise_equal, predict_in_fresh_process
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

import loopml
from loopml.models import flavor_of, load_model, save_model


@dataclass
class Case:
    model: Any
    X: pd.DataFrame
    call: str  # evaluated with `model`, `X` and `np` (and `imports`) defined
    flavor: str
    serialization: str
    libraries: set[str]
    imports: str = ""
    signature: bool = True  # infer a signature from X when saving
    facts: dict[str, Any] = field(default_factory=dict)


def iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    return load_diabetes(return_X_y=True, as_frame=True)


def sklearn_pipeline() -> Case:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    return Case(model, X, "model.predict_proba(X)", "sklearn", "pickle", {"sklearn", "numpy"})


def sklearn_forest() -> Case:
    from sklearn.ensemble import RandomForestRegressor

    X, y = diabetes()
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    return Case(model, X, "model.predict(X)", "sklearn", "pickle", {"sklearn", "numpy"})


def xgboost_classifier() -> Case:
    import xgboost as xgb

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    facts = {"class": "xgboost.sklearn:XGBClassifier"}
    return Case(
        model, X, "model.predict_proba(X)", "xgboost", "xgboost-ubj", {"xgboost"}, facts=facts
    )


def xgboost_booster() -> Case:
    import xgboost as xgb

    X, y = diabetes()
    booster = xgb.train({"max_depth": 3, "eta": 0.3}, xgb.DMatrix(X, label=y), 10)
    call = "model.predict(xgboost.DMatrix(X))"
    return Case(booster, X, call, "xgboost", "xgboost-ubj", {"xgboost"}, "import xgboost", False)


def lightgbm_regressor() -> Case:
    import lightgbm as lgb

    X, y = diabetes()
    model = lgb.LGBMRegressor(n_estimators=20, num_leaves=7, verbose=-1).fit(X, y)
    return Case(model, X, "model.predict(X)", "lightgbm", "pickle", {"lightgbm"})


def lightgbm_booster() -> Case:
    import lightgbm as lgb

    X, y = iris()
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=10)
    return Case(booster, X, "model.predict(X)", "lightgbm", "lightgbm-text", {"lightgbm"})


def _tiny_net() -> Any:
    import torch
    from torch_zoo import TinyNet

    X, y = iris()
    torch.manual_seed(0)
    net = TinyNet(n_features=4, hidden=16)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    inputs = torch.from_numpy(X.to_numpy(np.float32, copy=True))
    target = torch.from_numpy(y.to_numpy(copy=True))
    for _ in range(20):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), target).backward()
        optimizer.step()
    return net.eval()


TORCH_CALL = "model(torch.from_numpy(X.to_numpy(np.float32, copy=True))).detach().numpy()"


def torch_state_dict() -> Case:
    facts = {"class": "torch_zoo:TinyNet", "init_kwargs": {"n_features": 4, "hidden": 16}}
    facts["init_kwargs"]["n_classes"] = 3
    net = _tiny_net()
    X, _ = iris()
    return Case(
        net, X, TORCH_CALL, "torch", "torch-state-dict", {"torch"}, "import torch", facts=facts
    )


def torchscript() -> Case:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(_tiny_net())
    X, _ = iris()
    return Case(scripted, X, TORCH_CALL, "torch", "torchscript", {"torch"}, "import torch")


def onnx_linear() -> Case:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    X, y = diabetes()
    proto = to_onnx(LinearRegression().fit(X, y), X.to_numpy(np.float32)[:1])
    call = "session(model).run(None, {'X': X.to_numpy(np.float32)})[0]"
    imports = "from loopml.models._onnx import session"
    return Case(proto, X, call, "onnx", "onnx", {"onnx"}, imports)


def python_function() -> Case:
    X, _ = diabetes()
    model = MeanRatioModel("bmi").fit(X)
    # It refers to no versioned library: numbers are plain floats, its class is local.
    return Case(model, X, "model.predict(X)", "python-function", "pickle", set())


CASES: dict[str, Callable[[], Case]] = {
    "sklearn-pipeline": sklearn_pipeline,
    "sklearn-forest": sklearn_forest,
    "xgboost-classifier": xgboost_classifier,
    "xgboost-booster": xgboost_booster,
    "lightgbm-regressor": lightgbm_regressor,
    "lightgbm-booster": lightgbm_booster,
    "torch-state-dict": torch_state_dict,
    "torchscript": torchscript,
    "onnx": onnx_linear,
    "python-function": python_function,
}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


def evaluate(case: Case, model: Any) -> Any:
    scope: dict[str, Any] = {"np": np}
    exec(case.imports, scope)
    return eval(case.call, scope | {"model": model, "X": case.X})


@pytest.mark.parametrize("name", list(CASES))
def test_saved_model_predicts_the_same_in_a_fresh_process(
    name: str, ws: loopml.Workspace, tmp_path: Path
) -> None:
    case = CASES[name]()
    assert flavor_of(case.model) == case.flavor
    saved = save_model(
        case.model, name, workspace=ws, signature_from=case.X if case.signature else None
    )
    meta = saved.metadata
    assert (saved.kind, saved.ref) == ("model", f"{name}@v1")
    assert meta["format"] == "model"
    assert (meta["flavor"], meta["serialization"]) == (case.flavor, case.serialization)
    assert case.libraries <= set(meta["libraries"])
    for library, version in meta["libraries"].items():
        assert version == str(sys.modules[library].__version__)
    for key, value in case.facts.items():
        assert meta[case.flavor][key] == value
    assert (meta["signature"] is not None) == case.signature

    got = predict_in_fresh_process(
        Path(ws.root or ""), saved.ref, case.X, case.call, tmp_path / "fresh", case.imports
    )
    assert_bitwise_equal(got, evaluate(case, case.model))


def test_loaded_in_process_it_is_the_same_class_with_the_same_params(
    ws: loopml.Workspace,
) -> None:
    case = xgboost_classifier()
    saved = save_model(case.model, "xgb", workspace=ws)
    back = load_model("xgb@v1", workspace=ws)
    assert type(back) is type(case.model)
    for param in ("n_estimators", "max_depth", "random_state"):
        assert back.get_params()[param] == case.model.get_params()[param]
    assert_bitwise_equal(back.predict_proba(case.X), case.model.predict_proba(case.X))
    assert load_model(saved, workspace=ws).n_classes_ == 2


def test_a_loaded_torch_module_is_in_eval_mode(ws: loopml.Workspace) -> None:
    net = _tiny_net().train()
    save_model(net, "net", workspace=ws)
    assert load_model("net", workspace=ws).training is False


def test_the_same_model_again_is_the_same_version(ws: loopml.Workspace) -> None:
    model = lightgbm_booster().model
    first = save_model(model, "lgb", workspace=ws)
    assert save_model(model, "lgb", workspace=ws).id == first.id


def test_import_loads_no_model_library() -> None:
    code = (
        "import sys, loopml.models;"
        "loopml.models.save_model, loopml.models.infer_signature, loopml.models.to_onnx;"
        "heavy = {'torch', 'xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'sklearn',"
        " 'skl2onnx', 'pandas'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"
