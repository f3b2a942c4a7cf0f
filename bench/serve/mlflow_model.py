"""Save the benchmark's joblib'd models as MLflow models; runs in
``bench/.venvs/mlflow``:

    python mlflow_model.py MODEL.joblib OUT_FOLDER

``mlflow.sklearn.save_model`` with the signature inferred from breast_cancer's
DataFrame, as a user logs a scikit-learn model (MLflow 3's default skops format, with
the trees' type trusted: we made the file); ``mlflow models serve -m OUT_FOLDER`` then
serves it.
"""

import sys

import joblib
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer

model = joblib.load(sys.argv[1])
X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
signature = infer_signature(X, model.predict(X))
mlflow.sklearn.save_model(
    model, sys.argv[2], signature=signature, skops_trusted_types=["sklearn.tree._tree.Tree"]
)
print(mlflow.__version__)
