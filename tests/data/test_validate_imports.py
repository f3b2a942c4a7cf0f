"""`loopml data validate` of a batch where nothing moved reads two stored profiles with
NumPy alone: no data-frame library and no SciPy test is imported. A batch that did
move imports SciPy's tests (so the probe can tell the two apart)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

import loopml

PROBE = """
import json, sys
from loopml.cli import main
sys.argv = ["loopml", "data", "validate", "t@v2"]
try:
    main()
except SystemExit:
    pass
heavy = ("polars", "pandas", "pyarrow", "scipy.stats", "sklearn")
print(json.dumps(sorted(set(heavy) & set(sys.modules))), file=sys.stderr)
"""


def imported_by_validate(root: Path, shift: float) -> list[str]:
    rng = np.random.default_rng(0)
    with loopml.init(root) as ws:
        for version in (1, 2):
            table = pl.DataFrame(
                {
                    "x": rng.normal(shift * (version - 1), 1.0, 400),
                    "n": rng.integers(0, 50, 400),
                    "c": rng.choice(["a", "b", "c"], 400),
                }
            )
            loopml.data.add(table, name="t", workspace=ws)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert "no anomalies" in done.stdout or shift, done.stdout + done.stderr
    found: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


def test_a_quiet_batch_is_validated_without_data_frames_or_scipy_tests(tmp_path: Path) -> None:
    assert imported_by_validate(tmp_path, shift=0.0) == []


def test_a_drifted_batch_runs_scipy_tests(tmp_path: Path) -> None:
    assert "scipy.stats" in imported_by_validate(tmp_path, shift=1.0)
