"""register(onnx=rows): the ONNX copy checked on the rows and stored with the version,
the copy served chosen (the faster by default), load_served giving it back with the
version (or the copy its caller chooses); bad input and a conversion that disagrees
store nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

import loopml
from loopml import registry
from loopml.errors import DigestMismatch, InvalidInput
from loopml.models import save_model
from loopml.models._onnx import session

Fit = Callable[[float], LogisticRegression]
Iris = tuple[pd.DataFrame, pd.Series]


class Doubler:
    """A python-function model: anything with predict."""

    def predict(self, X: pd.DataFrame) -> Any:
        return np.asarray(X)[:, 0] * 2


def onnx_run(model: onnx.ModelProto, X: pd.DataFrame) -> list[Any]:
    runner = session(model)
    return list(runner.run(None, {runner.get_inputs()[0].name: X.to_numpy("float32")}))


def count(ws: loopml.Workspace) -> int:
    return len(ws.store.find_artifacts())


def test_the_onnx_copy_is_stored_and_the_faster_one_served(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    model = fit(1.0)
    version = registry.register(model, "iris", signature_from=X, onnx=X, workspace=ws)
    copy = version.copies["onnx"]
    stored = ws.store.get_artifact(copy["artifact_id"])
    assert (stored.kind, stored.name, stored.metadata["flavor"]) == ("model-copy", "iris", "onnx")
    assert (copy["digest"], copy["size"]) == (stored.digest, stored.size)
    ws.artifacts.verify(stored.digest)  # what `loopml verify` checks for each artifact
    assert (copy["rows"], copy["label_agreement"], copy["ties"]) == (len(X), 1.0, 0)
    assert copy["max_abs_diff"] < 1e-4
    assert version.native_latency_ms is not None
    faster = "onnx" if copy["latency_ms"] < version.native_latency_ms else "native"
    assert version.served == faster
    assert version.to_dict()["copies"] == version.copies
    assert version.to_dict()["served"] == faster
    assert registry.get("iris@v1", workspace=ws) == version


def test_the_served_onnx_copy_predicts_the_classes_of_the_model(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    model = fit(1.0)
    registry.register(model, "iris", onnx=X, serve="onnx", workspace=ws)
    version, predictor = registry.load_served("iris@latest", workspace=ws)
    assert (version.ref, predictor.copy, predictor.ref) == ("iris@v1", "onnx", "iris@v1")
    assert isinstance(predictor.model, onnx.ModelProto)
    labels, proba = onnx_run(predictor.model, X)
    assert (labels == model.predict(X)).all()
    assert np.allclose(proba, model.predict_proba(X), atol=1e-4)


def test_serving_native_keeps_the_copy_but_loads_the_model(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    version = registry.register(fit(1.0), "iris", onnx=X, serve="native", workspace=ws)
    assert version.served == "native"
    assert set(version.copies) == {"onnx"}
    served, predictor = registry.load_served(version.ref, workspace=ws)
    assert served == version
    assert isinstance(predictor.model, LogisticRegression)
    assert predictor.copy == "native"


def test_a_version_without_a_copy_serves_the_model(ws: loopml.Workspace, fit: Fit) -> None:
    version = registry.register(fit(1.0), "iris", workspace=ws)
    assert (version.copies, version.served, version.native_latency_ms) == ({}, "native", None)
    assert version.to_dict()["served"] == "native"
    served, predictor = registry.load_served("iris", workspace=ws)
    assert served == version
    assert isinstance(predictor.model, LogisticRegression)
    assert [a.kind for a in ws.store.find_artifacts()] == ["model"]


def test_a_regressor_gets_a_copy_too(ws: loopml.Workspace) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge().fit(X[:300], y[:300])
    version = registry.register(model, "diabetes", onnx=X[300:], serve="onnx", workspace=ws)
    copy = version.copies["onnx"]
    assert (copy["rows"], copy["label_agreement"], copy["ties"]) == (len(X) - 300, None, 0)
    assert copy["max_abs_diff"] < 1e-4
    [predicted] = onnx_run(registry.load_served("diabetes", workspace=ws)[1].model, X[300:])
    assert np.allclose(predicted.ravel(), model.predict(X[300:]), rtol=1e-4)


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ("onnx", r"serve='onnx' needs an ONNX copy.*pass onnx="),
        ("faster", r"serve='faster' needs an ONNX copy"),
        ("bogus", r"serve='bogus' names no copy.*'native'.*'onnx'.*'faster'"),
    ],
)
def test_a_bad_serve_stores_nothing(
    ws: loopml.Workspace, fit: Fit, serve: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        registry.register(fit(1.0), "iris", serve=serve, workspace=ws)
    assert count(ws) == 0


def test_rows_that_are_not_a_table_store_nothing(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    with pytest.raises(InvalidInput, match=r"onnx= takes the rows .* not a Series"):
        registry.register(fit(1.0), "iris", onnx=X.iloc[:, 0], workspace=ws)
    assert count(ws) == 0


def test_a_model_that_is_not_scikit_learn_stores_nothing(ws: loopml.Workspace, iris: Iris) -> None:
    X, _ = iris
    with pytest.raises(InvalidInput, match=r"'doubler' was not registered.*not a Doubler"):
        registry.register(Doubler(), "doubler", onnx=X, workspace=ws)
    assert count(ws) == 0


def test_a_conversion_that_disagrees_or_fails_stores_nothing(ws: loopml.Workspace) -> None:
    # 1e8 + i is not exact in float32, which ONNX computes in: predictions move by ~1
    X = pd.DataFrame({"x": np.arange(40.0) + 1e8})
    drifting = LinearRegression().fit(X, np.arange(40.0))
    with pytest.raises(InvalidInput, match=r"'drift' was not registered.*does not agree"):
        registry.register(drifting, "drift", onnx=X, workspace=ws)
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with pytest.raises(InvalidInput, match=r"skl2onnx cannot convert the KernelRidge"):
        registry.register(KernelRidge().fit(X, y), "kernel", onnx=X, workspace=ws)
    assert count(ws) == 0


def test_the_same_model_with_the_same_copy_is_the_same_version(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    model = fit(1.0)
    first = registry.register(model, "iris", onnx=X, workspace=ws)
    again = registry.register(model, "iris", onnx=X, workspace=ws)  # measured anew: no matter
    assert again == first
    assert registry.register(model, "iris", workspace=ws) == first
    assert count(ws) == 2  # the model and its copy


def test_the_same_model_asking_for_more_is_a_new_version_of_the_same_bytes(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    model = fit(1.0)
    plain = registry.register(model, "iris", signature_from=X, workspace=ws)
    copied = registry.register(model, "iris", onnx=X, serve="onnx", workspace=ws)
    assert (copied.ref, copied.artifact.digest) == ("iris@v2", plain.artifact.digest)
    assert (copied.served, copied.signature) == ("onnx", plain.signature)
    native = registry.register(model, "iris", onnx=X, serve="native", workspace=ws)
    assert (native.ref, native.served) == ("iris@v3", "native")
    assert native.copies["onnx"]["artifact_id"] == copied.copies["onnx"]["artifact_id"]
    assert [a.kind for a in ws.store.find_artifacts(kind="model-copy")] == ["model-copy"]
    assert registry.register(model, "iris", serve="native", workspace=ws) == native


def test_the_copy_is_made_by_the_run_that_made_the_version(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    with loopml.start_run("fit-iris", workspace=ws) as run:
        version = registry.register(fit(0.5), "iris", onnx=X, workspace=ws)
    made_by = registry.lineage(version.ref, workspace=ws).made_by
    assert made_by is not None
    assert made_by.id == run.id
    events = ws.store.events(artifact_id=version.copies["onnx"]["artifact_id"])
    assert [(e.run_id, e.direction) for e in events] == [(run.id, "output")]


def test_a_stored_model_gets_a_copy(ws: loopml.Workspace, fit: Fit, iris: Iris) -> None:
    X, _ = iris
    saved = save_model(fit(1.0), "trained", workspace=ws)
    version = registry.register(saved, "iris", onnx=X, serve="onnx", workspace=ws)
    assert (version.artifact.digest, version.served) == (saved.digest, "onnx")
    assert version.artifact.metadata["registered_from"] == saved.id
    assert isinstance(registry.load_served("iris", workspace=ws)[1].model, onnx.ModelProto)
    again = registry.register(version.artifact, "iris", onnx=X, serve="native", workspace=ws)
    assert (again.ref, again.served, again.artifact.digest) == ("iris@v2", "native", saved.digest)


def test_a_damaged_copy_is_caught_before_loading(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    version = registry.register(fit(1.0), "iris", onnx=X, serve="onnx", workspace=ws)
    path = ws.artifacts.local_path(version.copies["onnx"]["digest"])
    assert path is not None
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch):
        registry.load_served("iris", workspace=ws)


def test_load_served_returns_the_version_the_alias_points_at(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    first = registry.register(fit(1.0), "iris", signature_from=X, workspace=ws)
    registry.promote(first.ref, force=True, reason="the first model", workspace=ws)
    second = registry.register(fit(0.1), "iris", signature_from=X, workspace=ws)
    version, predictor = registry.load_served("iris@champion", workspace=ws)
    assert (version.ref, version.aliases) == ("iris@v1", ("champion",))
    assert (predictor.ref, predictor.version, predictor.digest) == (
        "iris@v1",
        1,
        first.artifact.digest,
    )
    assert predictor.artifact == first.artifact
    latest, _ = registry.load_served("iris", workspace=ws)
    assert latest.ref == second.ref == "iris@v2"


def test_the_caller_chooses_the_copy_without_a_new_version(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    model = fit(1.0)
    version = registry.register(
        model, "iris", signature_from=X, onnx=X, serve="native", workspace=ws
    )
    before = count(ws)
    onnx_version, onnx_copy = registry.load_served("iris", copy="onnx", workspace=ws)
    native_version, native = registry.load_served("iris", copy="native", workspace=ws)
    assert onnx_version == native_version == version
    assert (onnx_copy.copy, onnx_copy.runtime) == ("onnx", "onnxruntime")
    assert isinstance(onnx_copy.model, onnx.ModelProto)
    assert (native.copy, native.runtime) == ("native", "python")
    assert count(ws) == before  # choosing a copy records nothing
    assert registry.get("iris", workspace=ws).served == "native"
    by_onnx, by_model = onnx_copy.predict(X), native.predict(X)
    assert (by_onnx.predictions == model.predict(X)).all()
    assert (by_model.predictions == model.predict(X)).all()
    assert by_onnx.probabilities is not None
    assert np.allclose(by_onnx.probabilities, model.predict_proba(X), atol=1e-4)


def test_choosing_a_copy_that_is_not_there_is_refused(ws: loopml.Workspace, fit: Fit) -> None:
    registry.register(fit(1.0), "iris", workspace=ws)
    with pytest.raises(InvalidInput, match=r"iris@v1 has no 'onnx' copy.*copy='native'") as found:
        registry.load_served("iris", copy="onnx", workspace=ws)
    assert found.value.field == "copy"
    with pytest.raises(InvalidInput, match=r"copy='faster' names no copy") as found:
        registry.load_served("iris", copy="faster", workspace=ws)
    assert found.value.field == "copy"


def test_a_damaged_copy_chosen_by_the_caller_is_caught_before_loading(
    ws: loopml.Workspace, fit: Fit, iris: Iris
) -> None:
    X, _ = iris
    version = registry.register(fit(1.0), "iris", onnx=X, serve="native", workspace=ws)
    path = ws.artifacts.local_path(version.copies["onnx"]["digest"])
    assert path is not None
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF
    path.write_bytes(bytes(data))
    registry.load_served("iris", workspace=ws)  # the native copy is whole
    with pytest.raises(DigestMismatch):
        registry.load_served("iris", copy="onnx", workspace=ws)
