"""The loopml demo, on the embedded default (SQLite and a local folder).

What exists so far is the foundation of the loop: a workspace, the metadata store and
the content-addressed artifact store, joined in one lineage graph. The demo

1. makes a fresh workspace in ./demo-workspace,
2. versions a real dataset (scikit-learn's diabetes data) as a CSV: v1, then v2 with
   new rows; adding v2 again records nothing new,
3. trains a linear model epoch by epoch on v2, logging params and per-epoch
   train/validation error as metrics, the dataset as the run's input and the model
   as its output,
4. marks the model ``champion`` and walks the lineage back from it to the data,
5. shows the workspace with the ``loopml`` command (info, artifacts list, verify).

Run it with ``make demo``.
"""

from __future__ import annotations

import csv
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


def write_csv(path: Path, rows: list[list[float]], header: list[str]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def read_csv(path: Path) -> tuple[list[str], list[list[float]]]:
    with path.open() as source:
        reader = csv.reader(source)
        header = next(reader)
        return header, [[float(value) for value in row] for row in reader]


def version_dataset(ws: loopml.Workspace) -> None:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    header = [*data.feature_names, "target"]
    rows = [[*features, target] for features, target in zip(data.data, data.target, strict=True)]
    path = HERE / "diabetes.csv"
    write_csv(path, rows[:300], header)
    v1 = ws.add_file(path, name="diabetes", kind="dataset", metadata={"rows": 300})
    write_csv(path, rows, header)
    v2 = ws.add_file(path, name="diabetes", kind="dataset", metadata={"rows": len(rows)})
    again = ws.add_file(path, name="diabetes", kind="dataset", metadata={"rows": len(rows)})
    print(f"dataset versions: {v1.ref} (300 rows), {v2.ref} ({len(rows)} rows)")
    print(f"adding unchanged data again gives {again.ref}: nothing new was recorded")


def train(ws: loopml.Workspace) -> str:
    import numpy as np
    from sklearn.linear_model import SGDRegressor
    from sklearn.metrics import mean_squared_error
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    dataset = resolve(ws.store, "dataset", "diabetes@latest")
    params = {"alpha": 1e-4, "eta0": 0.01, "epochs": EPOCHS, "seed": 7}
    run = ws.store.create_run(kind="train", name="diabetes-sgd", params=params)
    ws.store.add_event(run.id, dataset.id, Direction.INPUT, "train-data")

    local = ws.artifacts.get_file(dataset.digest, HERE / "checkout" / "diabetes.csv")
    _, table = read_csv(local)
    matrix = np.array(table)
    x_train, x_val, y_train, y_val = train_test_split(
        matrix[:, :-1], matrix[:, -1], test_size=0.25, random_state=params["seed"]
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


def loopml_command(*args: str) -> None:
    command = [str(Path(sys.executable).with_name("loopml")), *args]
    print(f"\n$ loopml {' '.join(args)}", flush=True)
    subprocess.run(command, cwd=HERE, check=True)


def main() -> None:
    shutil.rmtree(HERE, ignore_errors=True)
    HERE.mkdir()
    with loopml.init(HERE) as ws:
        print(f"workspace: {HERE}")
        version_dataset(ws)
        model_id = train(ws)
        show_lineage(ws, model_id)
    loopml_command("info")
    loopml_command("artifacts", "list")
    loopml_command("verify")


if __name__ == "__main__":
    main()
