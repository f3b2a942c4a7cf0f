"""How the server calls a version: the direct way, with and without pandas installed."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from loopml.models import Predictor, infer_signature
from loopml.serve._calling import VersionCall, as_columns, concatenated
from loopml.serve._columns import MatrixColumns

pd = pytest.importorskip("pandas")

# run where pandas cannot be imported (as in a serving environment without it): whether
# each pickled model is called the direct way, and its answers on the rows given
WITHOUT_PANDAS = """
import pickle, sys

class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ImportError("no pandas here", name=name)

sys.meta_path.insert(0, NoPandas())
from loopml.serve._calling import VersionCall, as_columns, concatenated
from loopml.serve._columns import MatrixColumns
from loopml.models import Predictor
models, signature, rows = pickle.loads(open(sys.argv[1], "rb").read())
found = []
for model in models:
    call = VersionCall(Predictor(model, signature=signature))
    answer = call.run(as_columns(rows), probabilities=True) if call.direct else None
    found.append((call.direct, answer and answer.predictions, answer and answer.probabilities))
assert "pandas" not in sys.modules
open(sys.argv[1], "wb").write(pickle.dumps(found))
"""


def test_without_pandas_scikit_learn_models_fitted_on_a_frame_are_called_directly(tmp_path: Path):
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] - X["c"] > 0).astype(int)
    models = [
        LogisticRegression().fit(X, y),
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y),
        # code of the user's could treat a frame and an array apart: pandas is needed
        make_pipeline(FunctionTransformer(np.negative), LogisticRegression()).fit(X, y),
    ]
    rows = {name: X[name].to_numpy()[:50] for name in X.columns}
    given = tmp_path / "given.pkl"
    given.write_bytes(pickle.dumps((models, infer_signature(X), rows)))
    subprocess.run(
        [sys.executable, "-c", WITHOUT_PANDAS, str(given)],
        check=True,
        env={"PYTHONPATH": ":".join(sys.path)},
        timeout=120,
    )
    found = pickle.loads(given.read_bytes())
    assert [direct for direct, _, _ in found] == [True, True, True, False]
    for model, (_, labels, probabilities) in zip(models[:3], found[:3], strict=True):
        frame = X.iloc[:50]
        assert labels.tolist() == model.predict(frame).tolist()
        assert np.allclose(probabilities, model.predict_proba(frame), rtol=0, atol=1e-12)


def test_with_pandas_the_direct_way_is_checked_against_the_frame_call():
    X = pd.DataFrame({"a": [0.0, 1.0, 0.2, 0.9], "b": [1.0, 0.0, 0.9, 0.1]})
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    call = VersionCall(Predictor(model, signature=infer_signature(X)))
    assert call.direct
    found = call.run(as_columns({"a": [0.1, 0.8], "b": [0.9, 0.3]}), probabilities=True)
    expected = model.predict(pd.DataFrame({"a": [0.1, 0.8], "b": [0.9, 0.3]}))
    assert found.predictions.tolist() == expected.tolist()


def test_requests_that_came_as_a_matrix_are_called_and_batched_as_their_columns_are():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(200, 5)), columns=["a", "b", "c", "d", "e"])
    y = (X["a"] + X["d"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    call = VersionCall(Predictor(model, signature=infer_signature(X)))
    assert call.direct
    rows = X.to_numpy()[:7]
    by_matrix = [as_columns(rows[:3], list(X.columns)), as_columns(rows[3:], list(X.columns))]
    by_column = [dict(part) for part in by_matrix]  # the same columns, no matrix kept
    assert type(concatenated(by_matrix)) is MatrixColumns
    for parts in (by_matrix, by_column):
        batch = concatenated(parts)
        assert {k: v.tolist() for k, v in batch.items()} == {
            name: rows[:, index].tolist() for index, name in enumerate(X.columns)
        }
        found = call.run(batch, probabilities=True)
        assert found.predictions.tolist() == model.predict(X.iloc[:7]).tolist()
        assert np.allclose(found.probabilities, model.predict_proba(X.iloc[:7]), rtol=0, atol=1e-12)
    reordered = MatrixColumns(list(X.columns)[::-1], rows[:, ::-1])
    found = call.run(reordered, probabilities=True).probabilities
    assert np.allclose(found, model.predict_proba(X.iloc[:7]), rtol=0, atol=1e-12)
