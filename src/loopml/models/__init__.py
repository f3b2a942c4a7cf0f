"""Models: saved through their flavor with library versions and a signature, loaded back,
and called through a :class:`Predictor`.

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
    from loopml.errors import ModelVersionWarning as ModelVersionWarning
    from loopml.models._api import load_model as load_model
    from loopml.models._api import save_model as save_model
    from loopml.models._convert import OnnxConversion as OnnxConversion
    from loopml.models._convert import to_onnx as to_onnx
    from loopml.models._flavors import flavor_of as flavor_of
    from loopml.models._predictor import Prediction as Prediction
    from loopml.models._predictor import Predictor as Predictor
    from loopml.models._signature import ColumnSpec as ColumnSpec
    from loopml.models._signature import OutputSpec as OutputSpec
    from loopml.models._signature import Signature as Signature
    from loopml.models._signature import infer_signature as infer_signature

# Names load on first use; no flavor imports its library before a model of it is
# saved or loaded.
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "loopml.errors": ("ModelVersionWarning",),
        "_api": ("load_model", "save_model"),
        "_convert": ("OnnxConversion", "to_onnx"),
        "_flavors": ("flavor_of",),
        "_predictor": ("Prediction", "Predictor"),
        "_signature": ("ColumnSpec", "OutputSpec", "Signature", "infer_signature"),
    },
)
