"""The loopml demo, on the embedded default (SQLite and a local folder).

What exists so far is the start of the loop: a workspace, versioned and validated
data, and a tracked training run, joined in one lineage graph. The demo

1. makes a fresh workspace in ./demo-workspace,
2. versions a real dataset (scikit-learn's diabetes data): v1 with 300 rows, v2 with
   all 442; adding v2 again records nothing new. Each version is profiled once and the
   first one's schema is pinned,
3. versions a bad batch as v3 (a unit change in one column, missing values in
   another) and validates it: the anomalies, the evidence and an HTML report,
4. trains a linear model epoch by epoch on the last version that passed validation,
   logging params and per-epoch train/validation error as metrics, the dataset as the
   run's input and the model as its output,
5. marks the model ``champion`` and walks the lineage back from it to the data,
6. shows the workspace with the ``loopml`` command (data log, data validate, info,
   verify).

Run it with ``make demo``.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import loopml
from loopml.refs import resolve
from loopml.store import Direction, MetricPoint, RunStatus

HERE = Path.cwd() / "demo-workspace"
EPOCHS = 30
TARGET = "target"


def version_dataset(ws: loopml.Workspace) -> str:
    """Versions v1..v3 of the diabetes data; the ref of the last one that validates."""
    import numpy as np
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    v1 = loopml.data.add(frame.iloc[:300], name="diabetes", workspace=ws, description="first 300")
    v2 = loopml.data.add(frame, name="diabetes", workspace=ws, description="all 442 rows")
    again = loopml.data.add(frame, name="diabetes", workspace=ws)
    print(f"dataset versions: {v1.ref} ({v1.rows} rows), {v2.ref} ({v2.rows} rows)")
    print(f"adding unchanged data again gives {again.ref}: nothing new was recorded")
    print(f"{v2.ref} validates: {loopml.data.validate(v2.ref, workspace=ws).passed}")

    bad = frame.copy()
    bad["bmi"] = bad["bmi"] * 100  # a unit change upstream
    bad.loc[np.random.default_rng(0).random(len(bad)) < 0.2, "bp"] = np.nan
    v3 = loopml.data.add(bad, name="diabetes", workspace=ws, description="a bad batch")
    result = loopml.data.validate(v3.ref, workspace=ws)
    print(f"{v3.ref} validates: {result.passed}; its errors:")
    for anomaly in result.validation.errors:
        print(f"  {anomaly.kind}: {anomaly.message}")
    report = HERE / "diabetes-v3-validation.html"
    ws.artifacts.get_file(result.report.digest, report)
    print(f"  report: {report}")
    return v2.ref


def train(ws: loopml.Workspace, data_ref: str) -> str:
    from sklearn.linear_model import SGDRegressor
    from sklearn.metrics import mean_squared_error
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    dataset = loopml.data.get(data_ref, workspace=ws)
    params = {"alpha": 1e-4, "eta0": 0.01, "epochs": EPOCHS, "seed": 7}
    run = ws.store.create_run(kind="train", name="diabetes-sgd", params=params)
    ws.store.add_event(run.id, dataset.artifact.id, Direction.INPUT, "train-data")

    table = dataset.to_pandas()
    x_train, x_val, y_train, y_val = train_test_split(
        table.drop(columns=TARGET).to_numpy(),
        table[TARGET].to_numpy(),
        test_size=0.25,
        random_state=params["seed"],
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    model = SGDRegressor(alpha=params["alpha"], eta0=params["eta0"], random_state=params["seed"])
    for epoch in range(EPOCHS):
        model.partial_fit(x_train, y_train)
        train_mse = mean_squared_error(y_train, model.predict(x_train))
        val_mse = mean_squared_error(y_val, model.predict(x_val))
        ws.store.log_metrics(
            run.id,
            [MetricPoint("train_mse", train_mse, epoch), MetricPoint("val_mse", val_mse, epoch)],
        )
    model_path = HERE / "model.pkl"
    model_path.write_bytes(pickle.dumps({"scaler": scaler, "model": model}))
    artifact = ws.add_file(model_path, name="diabetes-sgd", kind="model", run_id=run.id)
    ws.store.finish_run(run.id, RunStatus.SUCCEEDED)
    val = ws.store.metrics(run.id, key="val_mse")
    print(
        f"trained {artifact.ref}: validation MSE {val[0].value:,.0f} after epoch 1, "
        f"{val[-1].value:,.0f} after epoch {EPOCHS}"
    )
    ws.store.set_alias("champion", artifact.id)
    return artifact.id


def show_lineage(ws: loopml.Workspace, model_id: str) -> None:
    model = ws.store.get_artifact(model_id)
    champion = resolve(ws.store, "model", "diabetes-sgd@champion")
    [made_by] = [e for e in ws.store.events(artifact_id=model.id) if e.direction == "output"]
    run = ws.store.get_run(made_by.run_id)
    inputs = [e for e in ws.store.events(run_id=run.id) if e.direction == "input"]
    print(f"lineage of {champion.ref} (champion):")
    print(f"  made by run {run.id[:12]} ({run.name}, {run.status}) with params {run.params}")
    for event in inputs:
        data = ws.store.get_artifact(event.artifact_id)
        print(f"  which read {data.kind} {data.ref} (blake3:{data.digest[:12]}) as {event.role}")


def loopml_command(*args: str, expect: int = 0) -> None:
    command = [str(Path(sys.executable).with_name("loopml")), *args]
    print(f"\n$ loopml {' '.join(args)}", flush=True)
    done = subprocess.run(command, cwd=HERE, check=False)
    if done.returncode != expect:
        raise SystemExit(f"loopml {' '.join(args)} exited {done.returncode}, not {expect}")
    if done.returncode:
        print(f"(exit code {done.returncode})")


def main() -> None:
    shutil.rmtree(HERE, ignore_errors=True)
    HERE.mkdir()
    with loopml.init(HERE) as ws:
        print(f"workspace: {HERE}")
        good = version_dataset(ws)
        model_id = train(ws, good)
        show_lineage(ws, model_id)
    loopml_command("data", "log", "diabetes")
    loopml_command("data", "validate", "diabetes@v3", expect=1)
    loopml_command("info")
    loopml_command("verify")


if __name__ == "__main__":
    main()
