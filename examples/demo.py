"""The loopml demo, on the embedded default (SQLite and a local folder).

What exists so far is the first half of the loop: versioned and validated data, a
cached pipeline that trains a model on it, tuning, evaluation, the promotion gate and
the registry, every record in one lineage graph. The demo

1. makes a fresh workspace in ./demo-workspace,
2. versions a real dataset (scikit-learn's diabetes data): v1 with 300 rows, v2 with
   all 442; adding v2 again records nothing new. Each version is profiled once and the
   first one's schema is pinned,
3. runs the pipeline in examples/diabetes_pipeline.py (validate, split, train,
   evaluate against a baseline) on v2, then again: the second run is all cache hits,
4. evaluates the trained model on the held-out rows (against the naive baseline, by
   slice, with latency), passes it through the promotion gate and registers it as the
   champion, with an ONNX copy, calls it as a server would (``registry.load_served``:
   the version and its Predictor, on a few held-out rows given as records), then walks
   its lineage back to the dataset version,
5. tunes the model's regularisation with TPE: each trial runs the pipeline with
   another alpha, reusing the cached validation and split, and is recorded as a run;
   the model trained with the best alpha is evaluated against the champion, gated
   against it, and registered as v2 (the champion if the gate passed),
6. versions a bad batch as v3 (a unit change in one column, missing values in
   another): the pipeline stops at validation, records an alert, and never trains,
7. shows the workspace with the ``loopml`` command, each printed as a shell reads it
   (after ``cd demo-workspace``; runs, models show, diff and history, data log, status,
   alerts, data validate, info, verify), and rebuilds the
   first model from its lineage with ``loopml models reproduce``: identical, although
   ``diabetes@latest`` now means the bad v3, since it pins the version it read.

Run it with ``make demo``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import loopml
from loopml.errors import ValidationFailed
from loopml.pipeline import PipelineResult, load_pipeline
from loopml.registry import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

HERE = Path.cwd() / "demo-workspace"
PIPELINE = Path(__file__).resolve().with_name("diabetes_pipeline.py")


def version_dataset(ws: loopml.Workspace) -> None:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    v1 = loopml.data.add(frame.iloc[:300], name="diabetes", workspace=ws, description="first 300")
    v2 = loopml.data.add(frame, name="diabetes", workspace=ws, description="all 442 rows")
    again = loopml.data.add(frame, name="diabetes", workspace=ws)
    print(f"dataset versions: {v1.ref} ({v1.rows} rows), {v2.ref} ({v2.rows} rows)")
    print(f"adding unchanged data again gives {again.ref}: nothing new was recorded")


def add_bad_batch(ws: loopml.Workspace) -> None:
    import numpy as np
    from sklearn.datasets import load_diabetes

    bad = load_diabetes(as_frame=True).frame
    bad["bmi"] = bad["bmi"] * 100  # a unit change upstream
    bad.loc[np.random.default_rng(0).random(len(bad)) < 0.2, "bp"] = np.nan
    v3 = loopml.data.add(bad, name="diabetes", workspace=ws, description="a bad batch")
    print(f"added {v3.ref}: a bad batch")


def run_pipeline(ws: loopml.Workspace) -> str:
    """Run the pipeline twice on the good data; the registered model's ref."""
    pipeline = load_pipeline(f"{PIPELINE}:diabetes")
    first = pipeline.run(workspace=ws)
    metrics = first.value
    print(
        f"pipeline {pipeline.name}: "
        + ", ".join(f"{s.name} {s.status}" for s in first.steps)
        + f"; validation MSE {metrics['validation_mse']:,.0f}, "
        f"baseline (predict the mean) {metrics['baseline_mse']:,.0f}"
    )
    again = pipeline.run(workspace=ws, echo=False)
    print("again: " + ", ".join(f"{s.name} {s.status}" for s in again.steps))
    return release(ws, first, "first model")


def release(ws: loopml.Workspace, result: PipelineResult, why: str) -> str:
    """Evaluate the trained model on the held-out rows (against the champion, if there
    is one), gate it, register it with an ONNX copy, and make it the champion if the
    gate passed; the registered ref."""
    from loopml.evaluation import load_evaluation

    rows = result.output("split")
    fit = rows[rows.fold == "train"].drop(columns="fold")
    held = rows[rows.fold == "val"].drop(columns="fold")
    trained = result.step("train").output
    assert trained is not None
    champion = current_champion(ws)
    with loopml.start_run("release", workspace=ws):
        evaluation = loopml.evaluate(
            trained,
            held,
            label="target",
            train=fit,
            against=None if champion is None else champion.ref,
            name="diabetes",
            workspace=ws,
        )
        judged = None
        if champion is not None and champion.evaluation_id is not None:
            judged = load_evaluation(ws, champion.evaluation_id)
        decision = loopml.gate(
            evaluation, {"max_latency_p99_ms": 50}, champion=judged, workspace=ws, stop=False
        )
        version = loopml.register(
            trained,
            "diabetes",
            evaluation=evaluation,
            signature_from=fit.drop(columns="target"),
            onnx=held.drop(columns="target"),
            alias="champion" if decision.passed else "challenger",
            reason=f"{why}; the gate {'passed' if decision.passed else 'failed'}",
            workspace=ws,
        )
    print(decision.summary())
    role = "the champion" if decision.passed else "a challenger (the gate said no)"
    print(f"registered {version.ref} as {role}; a server would load its {version.served} copy")
    show_served(ws, version.ref, held.head(3))
    return version.ref


def show_served(ws: loopml.Workspace, ref: str, rows: pd.DataFrame) -> None:
    """The version as a server calls it: its Predictor on a few held-out rows, as records."""
    from loopml import registry

    version, predictor = registry.load_served(ref, workspace=ws)
    records = rows.drop(columns="target").to_dict("records")
    found = predictor.predict(records)
    truth = ", ".join(f"{value:.0f}" for value in rows["target"])
    predicted = ", ".join(f"{value:.0f}" for value in found.predictions)
    print(
        f"{version.ref} called through its {predictor.copy} copy ({predictor.runtime}) on "
        f"three held-out rows: predicts {predicted} (true: {truth})"
    )


def current_champion(ws: loopml.Workspace) -> ModelVersion | None:
    from loopml import registry
    from loopml.errors import NotFound

    if ws.latest("model", "diabetes") is None:
        return None
    try:
        return registry.get("diabetes@champion", workspace=ws)
    except NotFound:  # none promoted yet
        return None


def tune_alpha(ws: loopml.Workspace) -> str:
    """Tune the regularisation: each trial a pipeline run, its steps cached where they can
    be; then release the model trained with the best alpha. Its registered ref."""
    pipeline = load_pipeline(f"{PIPELINE}:diabetes")

    def validation_mse(alpha: float) -> float:
        return float(pipeline.run(workspace=ws, echo=False, alpha=alpha).value["validation_mse"])

    result = loopml.tune(
        validation_mse,
        {"alpha": (1e-6, 1.0, "log")},
        method="tpe",
        n_trials=8,
        direction="minimize",
        seed=0,
        workspace=ws,
    )
    print(
        f"tuned alpha over {len(result.trials)} trials: best {result.best_params['alpha']:.3g} "
        f"with validation MSE {result.best_value:,.0f} (trial run {result.best_run_id[-12:]})"
    )
    best = pipeline.run(workspace=ws, echo=False, alpha=result.best_params["alpha"])
    return release(ws, best, f"alpha {result.best_params['alpha']:.3g}, tuned with TPE")


def run_on_bad_data(ws: loopml.Workspace) -> None:
    pipeline = load_pipeline(f"{PIPELINE}:diabetes")
    try:
        pipeline.run(workspace=ws, echo=False)
    except ValidationFailed as stopped:
        alert = ws.store.get_alert(stopped.alert_id)
        print(f"the pipeline stopped at step {stopped.step}; alert {alert.id[-12:]}:")
        for anomaly in alert.evidence["anomalies"]:
            if anomaly["severity"] == "error":
                print(f"  {anomaly['kind']}: {anomaly['message']}")
        pipeline_run = ws.store.get_run(stopped.run_id).parent_id
        steps = [r.name for r in ws.store.find_runs(parent_id=pipeline_run)]
        print(f"steps recorded for that run: {', '.join(steps)} (no training on bad data)")
    else:
        raise SystemExit("the pipeline ran on the bad batch: validation did not stop it")


def show_lineage(ws: loopml.Workspace, ref: str) -> None:
    """Walk the lineage graph from the model back to the dataset version."""
    from loopml import registry

    print(registry.lineage(ref, workspace=ws).render())


def shell_word(word: str) -> str:
    """``word`` as a shell reads it back: in double quotes when it holds a ``'`` and
    nothing they would expand, else as shlex.quote writes it."""
    if "'" in word and not any(c in word for c in '"$`\\!'):
        return f'"{word}"'
    return shlex.quote(word)


def shown(*words: str) -> str:
    """A command as it is printed: pasted into a shell, it runs as the demo ran it."""
    return "$ " + " ".join(shell_word(word) for word in words)


def loopml_command(*args: str, expect: int = 0) -> None:
    command = [str(Path(sys.executable).with_name("loopml")), *args]
    print(f"\n{shown('loopml', *args)}", flush=True)
    done = subprocess.run(command, cwd=HERE, check=False)
    if done.returncode != expect:
        raise SystemExit(f"{shown('loopml', *args)} exited {done.returncode}, not {expect}")
    if done.returncode:
        print(f"(exit code {done.returncode})")


def main() -> None:
    shutil.rmtree(HERE, ignore_errors=True)
    HERE.mkdir()
    with loopml.init(HERE) as ws:
        print(f"workspace: {HERE}")
        version_dataset(ws)
        first = run_pipeline(ws)
        show_lineage(ws, first)
        tuned = tune_alpha(ws)
        add_bad_batch(ws)
        run_on_bad_data(ws)
    # The commands run in the workspace: shown from where the demo was started, each
    # line after the "$ " can be pasted into a shell (with .venv/bin on its PATH).
    print(f"\nthe workspace with the loopml command:\n{shown('cd', os.path.relpath(HERE))}")
    loopml_command(
        "runs", "list", "--name", "diabetes/evaluate", "--where", "status == 'succeeded'"
    )
    loopml_command("models", "show", "diabetes@champion")
    loopml_command("models", "diff", first, tuned)
    loopml_command("models", "history", "diabetes")
    # diabetes@latest is now the bad v3: reproducing pins the version the model read.
    loopml_command("models", "reproduce", first)
    loopml_command("data", "log", "diabetes")
    loopml_command("status", f"{os.path.relpath(PIPELINE, HERE)}:diabetes", expect=1)
    loopml_command("alerts")
    loopml_command("data", "validate", "diabetes@v3", expect=1)
    loopml_command("info")
    loopml_command("verify")


if __name__ == "__main__":
    main()
