"""Models: saved through their flavor with library versions and a signature, loaded back.

>>> import tempfile, loopml
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_iris(return_X_y=True, as_frame=True)
>>> model = LogisticRegression(max_iter=500).fit(X, y)
>>> ws = loopml.init(tempfile.mkdtemp())
>>> saved = loopml.models.save_model(model, "iris", signature_from=X, workspace=ws)
>>> saved.ref, saved.metadata["flavor"], saved.metadata["serialization"]
('iris@v1', 'sklearn', 'pickle')
>>> back = loopml.models.load_model("iris@latest", workspace=ws)
>>> (back.predict(X) == model.predict(X)).all()
np.True_
>>> ws.close()
"""

from typing import TYPE_CHECKING

from loopml._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from loopml.errors import ModelVersionWarning
    from loopml.models._api import load_model, save_model
    from loopml.models._convert import OnnxConversion, to_onnx
    from loopml.models._flavors import flavor_of
    from loopml.models._signature import ColumnSpec, OutputSpec, Signature, infer_signature

# Names load on first use; no flavor imports its library before a model of it is
# saved or loaded.
_WHERE = {
    "load_model": "_api",
    "save_model": "_api",
    "ModelVersionWarning": "loopml.errors",
    "OnnxConversion": "_convert",
    "to_onnx": "_convert",
    "flavor_of": "_flavors",
    "ColumnSpec": "_signature",
    "OutputSpec": "_signature",
    "Signature": "_signature",
    "infer_signature": "_signature",
}


__all__ = [
    "ColumnSpec",
    "ModelVersionWarning",
    "OnnxConversion",
    "OutputSpec",
    "Signature",
    "flavor_of",
    "infer_signature",
    "load_model",
    "save_model",
    "to_onnx",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
