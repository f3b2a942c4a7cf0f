"""`make demo` keeps working: the demo runs end to end and its lineage is right."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).parent.parent / "examples" / "demo.py"


def test_demo_runs_and_traces_the_model_to_its_data(tmp_path: Path) -> None:
    # As `make demo` runs it: no LOOPML_ settings, and no COLUMNS (pytest-xdist sets 80)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LOOPML_") and k not in ("COLUMNS", "LINES")
    }
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
    assert "validate ran, split ran, train ran, evaluate ran" in out
    assert "again: validate cached, split cached, train cached, evaluate cached" in out
    model_mse, baseline_mse = (
        float(out.split(label)[1].split()[0].strip(",").replace(",", ""))
        for label in ("validation MSE ", "baseline (predict the mean) ")
    )
    assert model_mse < 0.7 * baseline_mse  # the model really learned something
    # The model was evaluated on the held-out rows, passed the gate, and is the champion.
    assert "gate PASSED for diabetes/train@v1 on rmse" in out
    assert "ok   baseline: rmse" in out
    assert "registered diabetes@v1 as the champion" in out
    shown = out.split("$ loopml models show diabetes@champion")[1].split("$ loopml")[0]
    assert "aliases     champion" in shown
    assert "gate        PASSED on rmse" in shown
    assert "onnx copy" in shown
    assert "read dataset diabetes@v2" in shown  # the lineage reaches the data
    # Tuning: eight trials, each a pipeline run that reused the cached validation and split.
    assert "tuned alpha over 8 trials: best " in out
    tuned = float(
        out.split("tuned alpha over 8 trials: best ")[1]
        .split(" with validation MSE ")[1]
        .split()[0]
        .replace(",", "")
    )
    assert tuned < 0.7 * baseline_mse  # the best trial's model beats the mean baseline
    # Every command it shows runs as shown when pasted into a shell, in the workspace.
    shown = [shlex.split(line[2:]) for line in out.splitlines() if line.startswith("$ ")]
    assert shown[0] == ["cd", "demo-workspace"]
    where = ["loopml", "runs", "list", "--name", "diabetes/evaluate"]
    assert [*where, "--where", "status == 'succeeded'"] in shown
    assert "$ loopml runs list --name diabetes/evaluate --where \"status == 'succeeded'\"" in out
    # The evaluation step's run has the model's metrics next to its baseline's.
    runs = out.split("$ loopml runs list --name diabetes/evaluate")[1].split("$ loopml")[0]
    assert "r2=" in runs
    assert "baseline.r2=" in runs or "(+" in runs  # the table shows four, then a count
    # The lineage walk reaches the dataset version the model was trained on.
    lineage = out.split("\nmodel diabetes@v1\n")[1].split("tuned alpha")[0]
    assert "made by run" in lineage
    assert lineage.strip().endswith("read dataset diabetes@v2")
    # The tuned model was gated against the champion and registered as v2.
    assert "ok   champion: rmse" in out or "FAIL champion: rmse" in out
    assert "registered diabetes@v2 as " in out
    diff = out.split("$ loopml models diff diabetes@v1 diabetes@v2")[1].split("$ loopml")[0]
    assert "diabetes/train: alpha: 0.0001 -> " in diff
    assert "metrics (evaluations on the same rows):" in diff
    assert "flips on " in diff
    # Rebuilt from its lineage after @latest moved on to the bad v3: identical.
    rebuilt = out.split("$ loopml models reproduce diabetes@v1")[1].split("$ loopml")[0]
    assert "reproduce diabetes@v1: IDENTICAL" in rebuilt
    assert "data: diabetes@v2" in rebuilt
    assert "predictions on the evaluation rows: identical on all" in rebuilt
    # The bad batch stops the pipeline at validation, for its two planted problems only.
    assert "the pipeline stopped at step validate" in out
    errors = out.split("the pipeline stopped at step validate")[1].split("steps recorded")[0]
    lines = errors.strip().splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == ["out_of_range", "missing_values"]
    assert "'bmi'" in lines[0]
    assert "'bp'" in lines[1]
    assert "steps recorded for that run: diabetes/validate (no training on bad data)" in out
    assert "input dataset changed (dataset: diabetes@v2 -> diabetes@v3)" in out
    assert out.count("(exit code 1)") == 2  # `status` and `data validate` both say so
    assert "stopped at step validate" in out.split("$ loopml alerts")[1]
    assert " 0 damaged" in out
