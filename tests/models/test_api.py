"""save_model and load_model around the flavors: version warnings, refusals with the
fix in the message, references, metadata rules, and a damaged blob caught on load."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from model_zoo import MeanRatioModel
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import loopml
from loopml.errors import ConfigError, DigestMismatch, InvalidInput, NotFound
from loopml.models import ModelVersionWarning, Signature, flavor_of, load_model, save_model


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


@pytest.fixture(scope="module")
def iris_model() -> tuple[LogisticRegression, pd.DataFrame]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=500).fit(X, y), X


def test_another_library_version_warns_naming_both(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, X = iris_model
    saved = save_model(model, "old", workspace=ws, metadata={"libraries": {"sklearn": "0.24.2"}})
    assert saved.metadata["libraries"]["sklearn"] == "0.24.2"
    assert saved.metadata["libraries"]["numpy"] == np.__version__  # the others are kept
    with pytest.warns(ModelVersionWarning) as caught:
        back = load_model("old@v1", workspace=ws)
    (warning,) = [w for w in caught if w.category is ModelVersionWarning]
    message = str(warning.message)
    assert "model old@v1 was saved with sklearn 0.24.2" in message
    assert f"sklearn {sklearn.__version__} is installed" in message
    assert "scikit-learn==0.24.2" in message
    assert (back.predict(X) == model.predict(X)).all()


def test_the_same_versions_load_without_a_warning(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    import warnings

    save_model(iris_model[0], "now", workspace=ws)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelVersionWarning)
        load_model("now", workspace=ws)


def test_a_library_not_installed_is_named_with_its_version(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    libraries = {"loopml_no_such_library": "1.2.3"}
    save_model(iris_model[0], "gone", workspace=ws, metadata={"libraries": libraries})
    with pytest.raises(ConfigError, match=r"loopml_no_such_library 1\.2\.3, which is not"):
        load_model("gone", workspace=ws)


def test_an_unsupported_object_names_the_flavors(ws: loopml.Workspace) -> None:
    expected = (
        r"builtins\.dict cannot be saved as a model: it matches none of the flavors "
        r"\(xgboost, lightgbm, torch, onnx, sklearn\) and has no predict method for the "
        r"generic python-function flavor"
    )
    with pytest.raises(InvalidInput, match=expected):
        flavor_of({"weights": [1, 2]})
    with pytest.raises(InvalidInput, match=expected):
        save_model({"weights": [1, 2]}, "nope", workspace=ws)
    assert ws.latest("model", "nope") is None
    with pytest.raises(InvalidInput, match="python-function"):
        flavor_of(MeanRatioModel)  # a class, not a model


def test_flavor_can_be_forced_and_must_fit(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    saved = save_model(iris_model[0], "generic", workspace=ws, flavor="python-function")
    assert saved.metadata["flavor"] == "python-function"
    with pytest.raises(InvalidInput, match=r"flavor='torch' cannot save a .*LogisticRegression"):
        save_model(iris_model[0], "m", workspace=ws, flavor="torch")
    with pytest.raises(InvalidInput, match=r"flavor='tensorflow' is not a flavor; use one of"):
        save_model(iris_model[0], "m", workspace=ws, flavor="tensorflow")


def test_metadata_is_kept_but_cannot_take_loopmls_keys(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    saved = save_model(iris_model[0], "m", workspace=ws, metadata={"team": "churn"})
    assert saved.metadata["team"] == "churn"
    assert saved.metadata["python_type"] == "sklearn.linear_model._logistic.LogisticRegression"
    with pytest.raises(InvalidInput, match="flavor, signature are written by loopml"):
        save_model(iris_model[0], "m2", workspace=ws, metadata={"flavor": "x", "signature": 1})
    with pytest.raises(InvalidInput, match="metadata must be plain JSON"):
        save_model(iris_model[0], "m2", workspace=ws, metadata={"when": object()})
    with pytest.raises(InvalidInput, match="must map library to version"):
        save_model(iris_model[0], "m2", workspace=ws, metadata={"libraries": ["sklearn"]})


def test_the_signature_is_stored_with_the_model(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, X = iris_model
    saved = save_model(model, "signed", workspace=ws, signature_from=X)
    signature = Signature.from_dict(saved.metadata["signature"])
    assert signature.names == list(X.columns)
    assert signature.output is not None
    assert signature.output.classes == (0, 1, 2)
    signature.check(X.head(1))


def test_references_resolve_and_a_non_model_is_refused(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, X = iris_model
    save_model(model, "team/iris", workspace=ws)
    v2 = save_model(
        LogisticRegression(C=0.1, max_iter=500).fit(X, model.predict(X)), "team/iris", workspace=ws
    )
    assert v2.ref == "team/iris@v2"
    assert load_model("team/iris@v1", workspace=ws).C == 1.0
    assert load_model("team/iris@latest", workspace=ws).C == 0.1
    digest = v2.digest.removeprefix("blake3:")[:12]
    assert load_model(f"team/iris@blake3:{digest}", workspace=ws).C == 0.1
    with pytest.raises(NotFound):
        load_model("team/iris@v3", workspace=ws)
    with pytest.raises(InvalidInput, match="model name"):
        save_model(model, "../up", workspace=ws)
    data = tmp_file(ws, "notes.txt")
    artifact = ws.add_file(data, name="notes")
    with pytest.raises(InvalidInput, match="file notes@v1 is not a model"):
        load_model(artifact, workspace=ws)


def tmp_file(ws: loopml.Workspace, name: str) -> Path:
    path = Path(ws.root or ".") / name
    path.write_text("not a model")
    return path


def test_a_damaged_blob_is_caught_before_loading(
    ws: loopml.Workspace, iris_model: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    saved = save_model(iris_model[0], "m", workspace=ws)
    path = ws.artifacts.local_path(saved.digest)
    assert path is not None
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch):
        load_model("m", workspace=ws)


def test_torch_module_that_cannot_be_rebuilt_is_refused(ws: loopml.Workspace) -> None:
    from torch_zoo import OpaqueNet

    with pytest.raises(InvalidInput, match=r"constructor argument\(s\) width; keep each as"):
        save_model(OpaqueNet(3), "opaque", workspace=ws)

    import torch

    class Local(torch.nn.Module):
        pass

    with pytest.raises(InvalidInput, match="define the class at the top level of a module"):
        save_model(Local(), "local", workspace=ws)


def test_a_model_class_from_main_is_refused(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import loopml, loopml.models
        from loopml.errors import InvalidInput
        class Rule:
            def predict(self, df):
                return df
        ws = loopml.init({str(tmp_path)!r})
        try:
            loopml.models.save_model(Rule(), "rule", workspace=ws)
        except InvalidInput as error:
            print(error)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert "defined in __main__" in done.stdout, done.stderr
    assert "move them into a module" in done.stdout


def test_a_model_saved_in_a_run_is_that_runs_output(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with loopml.init(tmp_path) as ws:
        # a deferred run is written first, so that the model can point at it
        with loopml.start_run("train", workspace=ws, deferred=True) as run:
            saved = save_model(model, "iris", signature_from=X)
        events = ws.store.events(artifact_id=saved.id)
        assert [(e.run_id, e.direction.value) for e in events] == [(run.id, "output")]
        assert saved.metadata["flavor"] == "sklearn"
        assert np.array_equal(load_model("iris@v1", workspace=ws).predict(X), model.predict(X))
