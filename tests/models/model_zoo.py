"""Models defined in a module (so a fresh process can import them) and a helper that
loads a saved model in a fresh Python process and predicts there."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


class MeanRatioModel:
    """The generic python-function flavor: anything with predict(df) -> array."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.mean_: float | None = None

    def fit(self, X: pd.DataFrame) -> MeanRatioModel:
        self.mean_ = float(X[self.column].mean())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        assert self.mean_ is not None
        return (X[self.column] / self.mean_).to_numpy()


def predict_in_fresh_process(
    ws_root: Path, ref: str, X: pd.DataFrame, call: str, tmp: Path, imports: str = ""
) -> np.ndarray:
    """Load ``ref`` from the workspace at ``ws_root`` in a new interpreter and return
    ``call`` evaluated there, after ``imports`` (``model``, ``X`` and ``np`` are
    defined; a ModelVersionWarning fails)."""
    tmp.mkdir(parents=True, exist_ok=True)
    rows, out = tmp / "X.parquet", tmp / "predicted.npy"
    X.to_parquet(rows)
    script = textwrap.dedent(
        f"""
        import warnings
        import numpy as np, pandas as pd
        import loopml, loopml.models
        {imports}
        warnings.simplefilter("error", loopml.models.ModelVersionWarning)
        ws = loopml.workspace({str(ws_root)!r})
        model = loopml.models.load_model({ref!r}, workspace=ws)
        X = pd.read_parquet({str(rows)!r})
        np.save({str(out)!r}, np.asarray({call}), allow_pickle=False)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    predicted: Any = np.load(out, allow_pickle=False)
    return predicted


def assert_bitwise_equal(got: np.ndarray, want: Any) -> None:
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.tobytes() == want.tobytes()
