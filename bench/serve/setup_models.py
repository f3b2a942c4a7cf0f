"""The serving benchmark's models, request bodies and loopml workspaces; runs in
``.venv`` (loopml's), once per run, into a scratch folder:

    python setup_models.py FOLDER

Writes ``lr.joblib`` and ``rf.joblib`` (a LogisticRegression and a 100-tree
RandomForestClassifier fitted on scikit-learn's breast_cancer, as a DataFrame of 30
float columns), the request bodies of each protocol under ``bodies/`` (one row, and
1,000 rows: breast_cancer's 569 rows and the first 431 again), the answers each model
must give in ``expected.json``, and three loopml workspaces:

- ``ws-one``: deployment ``bc`` over ``bc@champion`` (the LogisticRegression);
- ``ws-rf``: ``rf`` over ``rf@champion`` (batching as the server sets it by default) and
  ``rf-off``, the same version with ``max_batch_rows=1`` (batching off);
- ``ws-three``: three versions of the LogisticRegression (C = 1, 0.5, 0.25), each served
  by a deployment of its own (``bc1``, ``bc2``, ``bc3``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from _servers import BINARY_HEADER_BYTES
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry

BATCH_ROWS = 1_000


def bodies(columns: list[str], rows: np.ndarray) -> dict[str, Any]:
    """One request body per protocol for ``rows``."""
    data = rows.tolist()
    return {
        "v2": {
            "inputs": [
                {"name": "input", "shape": list(rows.shape), "datatype": "FP64", "data": data}
            ]
        },
        "split": {"dataframe_split": {"columns": columns, "data": data}},
        "fastapi": {"inputs": data},
    }


def binary_body(rows: np.ndarray) -> bytes:
    """The Open Inference Protocol request for ``rows`` with Triton's binary tensor
    extension (what tritonclient sends by default): a JSON header naming the tensor and
    its size in bytes, then its raw little-endian float64 values."""
    raw = rows.astype("<f8").tobytes()
    tensor = {"name": "input", "shape": list(rows.shape), "datatype": "FP64"}
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}]})
    return header.ljust(BINARY_HEADER_BYTES).encode() + raw


def workspace(folder: Path, models: dict[str, tuple[Any, dict[str, int | None]]], X: Any) -> None:
    """A workspace in ``folder`` with each model registered as its champion and each
    deployment (name -> max_batch_rows) over it."""
    folder.mkdir()
    ws = loopml.init(folder)
    for name, (model, deployments) in models.items():
        registry.register(
            model,
            name,
            signature_from=X,
            alias="champion",
            force=True,
            reason="bench",
            workspace=ws,
        )
        for deployment, max_batch_rows in deployments.items():
            loopml.deploy(
                deployment,
                model=f"{name}@champion",
                max_batch_rows=max_batch_rows,
                reason="bench",
                workspace=ws,
            )


def main() -> int:
    out = Path(sys.argv[1])
    (out / "bodies").mkdir(parents=True, exist_ok=True)
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with threadpool_limits(1):
        lr = LogisticRegression(max_iter=5000).fit(X, y)
        rf = RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y)
        lrs = [LogisticRegression(C=c, max_iter=5000).fit(X, y) for c in (1.0, 0.5, 0.25)]
    joblib.dump(lr, out / "lr.joblib")
    joblib.dump(rf, out / "rf.joblib")
    rows = X.to_numpy(dtype=np.float64)
    one, many = rows[:1], np.concatenate([rows, rows])[:BATCH_ROWS]
    for size, chosen in (("1", one), ("1000", many)):
        for form, body in bodies(list(X.columns), chosen).items():
            (out / "bodies" / f"{form}-{size}.json").write_text(json.dumps(body))
        (out / "bodies" / f"v2bin-{size}.bin").write_bytes(binary_body(chosen))
    expected = {
        f"{name}-{size}": model.predict(X.iloc[np.arange(len(chosen)) % len(X)]).tolist()
        for name, model in (("lr", lr), ("rf", rf))
        for size, chosen in (("1", one), ("1000", many))
    }
    (out / "expected.json").write_text(json.dumps(expected))
    workspace(out / "ws-one", {"bc": (lr, {"bc": None})}, X)
    workspace(out / "ws-rf", {"rf": (rf, {"rf": None, "rf-off": 1})}, X)
    (out / "ws-three").mkdir()
    ws = loopml.init(out / "ws-three")
    for index, model in enumerate(lrs, start=1):
        version = registry.register(
            model,
            "bc",
            signature_from=X,
            alias="champion",
            force=True,
            reason="bench",
            workspace=ws,
        )
        loopml.deploy(f"bc{index}", model=str(version.ref), reason="bench", workspace=ws)
    print(json.dumps({"sklearn": __import__("sklearn").__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
