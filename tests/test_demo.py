"""`make demo` keeps working: the demo runs end to end and its lineage is right."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).parent.parent / "examples" / "demo.py"


def test_demo_runs_and_traces_the_model_to_its_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    done = subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "dataset versions: diabetes@v1 (300 rows), diabetes@v2 (442 rows)" in out
    assert "adding unchanged data again gives diabetes@v2" in out
    assert "lineage of diabetes-sgd@v1 (champion)" in out
    assert "which read dataset diabetes@v2" in out
    assert "diabetes@v2 validates: True" in out
    assert "diabetes@v3 validates: False" in out
    # The two planted problems of the bad batch, and nothing else, are errors.
    errors = out.split("its errors:")[1].split("report:")[0]
    assert errors.count("out_of_range: ") == 1
    assert "'bmi'" in errors
    assert errors.count("missing_values: ") == 1
    assert "'bp'" in errors
    assert len(errors.strip().splitlines()) == 2
    assert (tmp_path / "demo-workspace" / "diabetes-v3-validation.html").stat().st_size > 10_000
    assert "(exit code 1)" in out  # `loopml data validate diabetes@v3` fails, as it must
    assert "checked 11 artifacts: 0 damaged" in out
    first, last = (
        float(part.split()[0].replace(",", ""))
        for part in out.split("validation MSE ")[1].split(" after epoch 1, ")
    )
    assert last < first  # training really reduced the validation error
