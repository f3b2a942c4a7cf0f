"""Every command has --json, and every command's --json is strict JSON (RFC 8259: no
NaN, no Infinity), run for real in one workspace holding data, runs, a pipeline, a
registered model with its gate decision, a schedule and an alert."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer.main
from sklearn.datasets import load_diabetes
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry
from loopml._ids import new_id
from loopml._time import now_us
from loopml.cli._app import app
from loopml.pipeline import load_pipeline
from loopml.serve import PredictionLog, PredictionRecord

FLOW = """
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

import loopml


@loopml.step
def split(table: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return table.assign(fold=np.where(rng.random(len(table)) < 0.3, "test", "train"))


@loopml.step
def train(rows: pd.DataFrame, alpha: float = 1.0) -> Ridge:
    fit = rows[rows.fold == "train"]
    return Ridge(alpha=alpha).fit(fit.drop(columns=["target", "fold"]), fit["target"])


@loopml.pipeline
def flow(data: str = "sugar@latest", alpha: float = 1.0):
    return train(split(loopml.data.get(data)), alpha=alpha)
"""

TRACED = "01a24e00921e4b786bac3f2ef755dbd8"  # a prediction's id, as the server makes them

LOOPS = """
[loop.sugar]
deployment = "sugar-api"
model = "sugar"
pipeline = "flow.py:flow"
data = "sugar"
label = "target"
task = "regression"

[loop.sugar.triggers]
new_labels = 100
"""


def command_paths() -> list[tuple[str, ...]]:
    """Every command of `loopml`, as the words that name it."""
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found.append(path)
            return
        for name, sub in subcommands.items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def options(path: tuple[str, ...]) -> set[str]:
    command: Any = typer.main.get_command(app)
    for word in path:
        command = command.commands[word]
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def project(cli, tmp_path: Path) -> Path:
    """sugar@v1, v2 (v2 drifted, so validating it raises an alert); a pipeline run that
    trained sugar's model; sugar@v1 and @v2 of the model registered with evaluations
    and passing gate decisions; a run whose metrics hold NaN and infinity."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    table = X.assign(target=y)
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "notes.txt").write_text("release notes\n")
    (tmp_path / "loops.toml").write_text(textwrap.dedent(LOOPS))
    (tmp_path / "labels.csv").write_text(f"id,label\n{new_id()},1\n")  # a prediction to come
    (tmp_path / "elsewhere").mkdir()
    table.iloc[:300].to_parquet(tmp_path / "sugar.parquet")
    with loopml.init(tmp_path) as ws, threadpool_limits(1):
        loopml.data.add(tmp_path / "sugar.parquet", name="sugar", workspace=ws)
        for alpha in (1.0, 5.0):
            result = load_pipeline(f"{tmp_path / 'flow.py'}:flow").run(
                workspace=ws, echo=False, alpha=alpha
            )
            rows = result.output("split")
            held = rows[rows.fold == "test"].drop(columns="fold")
            trained = result.step("train").output
            with loopml.start_run("release", workspace=ws):
                evaluation = loopml.evaluate(trained, held, label="target", workspace=ws)
                assert loopml.gate(evaluation, {}, workspace=ws).passed
                registry.register(trained, "sugar", evaluation=evaluation, workspace=ws)
        shifted = table.assign(bmi=table["bmi"] + 1.0)
        loopml.data.add(pd.DataFrame(shifted), name="sugar", workspace=ws)
        with PredictionLog(ws) as log:  # as the server logs an answer
            log.append(
                PredictionRecord(
                    TRACED,
                    None,
                    now_us(),
                    "sugar-api",
                    "sugar@v1",
                    0,
                    1.0,
                    {"bmi": [0.05]},
                    {"predictions": [151.0]},
                    420,
                    None,
                )
            )
        with loopml.start_run("odd-metrics", workspace=ws, params={"alpha": 1.0}):
            loopml.log_metric("loss", math.nan)
            loopml.log_metric("ratio", math.inf)
    return tmp_path


def invocations(root: Path) -> dict[tuple[str, ...], list[str]]:
    """The arguments each command is run with, before --json."""
    from loopml.store import NewReviewItem

    with loopml.workspace(root) as ws:
        run_id = ws.store.find_runs(name="odd-metrics")[0].id
        other_id = ws.store.find_runs(name="release")[0].id
        labelled, imported = ws.store.add_review_items(
            [
                NewReviewItem(queue="sugar-api", prediction_id=f"p{n}", row=0,
                              deployment="sugar-api", ref="sugar@v2", guess=150.0 + n,
                              reasons=("audit",), inputs={"bmi": 0.05 * n})
                for n in range(2)
            ]
        )  # fmt: skip
    (root / "guide.md").write_text("# Sugar\nThe target is the disease's progress a year on.\n")
    (root / "review-labels.csv").write_text(f"item_id,label\n{imported.id},170.5\n")
    flow = "flow.py:flow"
    return {
        ("init",): [str(root / "elsewhere")],
        ("info",): [],
        ("migrate",): [],
        ("verify",): [],
        ("run",): [flow, "--param", "alpha=1.0"],
        ("status",): [flow, "--param", "alpha=1.0"],
        ("alerts",): [],
        ("artifacts", "put"): ["notes.txt", "--name", "notes"],
        ("artifacts", "get"): ["notes", "notes-copy.txt"],
        ("artifacts", "list"): [],
        ("data", "add"): ["sugar.parquet", "--name", "sugar-copy"],
        ("data", "list"): [],
        ("data", "log"): ["sugar"],
        ("data", "show"): ["sugar@v1"],
        ("data", "checkout"): ["sugar@v1", "sugar-v1.parquet"],
        ("data", "validate"): ["sugar@v2", "--report", "sugar-v2.html"],
        ("data", "diff"): ["sugar@v1", "sugar@v2"],
        ("data", "schema"): ["sugar"],
        ("data", "guidelines"): ["sugar", "guide.md"],
        ("runs", "list"): [],
        ("runs", "show"): [run_id],
        ("runs", "compare"): [run_id, other_id],
        ("models", "list"): [],
        ("models", "show"): ["sugar@v2"],
        ("models", "diff"): ["sugar@v1", "sugar@v2"],
        ("models", "reproduce"): ["sugar@v1"],
        ("models", "history"): ["sugar"],
        ("models", "promote"): ["sugar@v2", "--reason", "a passing gate"],
        ("models", "rollback"): ["sugar", "--reason", "back to the first"],
        ("deploy",): ["sugar-api", "--model", "sugar@champion", "--canary", "sugar@v2=0.1"],
        ("loop", "define"): ["loops.toml"],
        ("loop", "list"): [],
        ("decisions",): ["sugar", "--all"],
        ("deployments", "list"): [],
        ("deployments", "show"): ["sugar-api"],
        ("deployments", "history"): ["sugar-api"],
        ("deployments", "delete"): ["sugar-api", "--reason", "done"],
        ("predict",): ["sugar@v2", "sugar@v1", "--out", "sugar-scored"],
        ("monitor",): ["sugar-api", "--since", "1h"],
        ("trace",): [TRACED],
        ("review", "add"): ["sugar-api", "--audit", "3"],
        ("review", "list"): [],
        ("review", "next"): ["sugar-api", "--reviewer", "ann"],
        ("review", "label"): [labelled.id[-12:], "160", "--reviewer", "ann"],
        ("review", "export"): ["sugar-api", "review.csv", "--status", "all"],
        ("review", "import"): ["review-labels.csv", "--reviewer", "bob"],
        ("review", "agreement"): ["sugar-api"],
        ("review", "commit"): ["sugar-api", "--dataset", "sugar-reviewed"],
        ("schedule", "add"): ["nightly", flow, "--every", "1d"],
        ("schedule", "list"): [],
        ("schedule", "run-due"): ["--dry-run"],
        ("schedule", "remove"): ["nightly"],
        ("export", "airflow"): [flow, "-o", "dag.py"],
        ("feedback", "import"): ["labels.csv"],
    }


# Commands that serve until stopped: their --json line is tested where they are.
SERVERS = {("serve",)}


def test_every_command_has_json() -> None:
    missing = [" ".join(path) for path in command_paths() if "--json" not in options(path)]
    assert missing == []


def test_every_command_prints_strict_json(cli, project: Path) -> None:
    planned = invocations(project)
    assert sorted(planned) == sorted(set(command_paths()) - SERVERS), (
        "a command has no --json test here"
    )
    cli("models", "promote", "sugar@v1", "--reason", "the first", check=True)
    printed: dict[tuple[str, ...], Any] = {}
    for path, args in planned.items():  # in this order: promote before rollback, ...
        result = cli(*path, *args, "--json")
        # validate finds drift (exit 1), reproduce may find a difference (exit 1)
        assert result.code in ((0, 1) if path[-1] in ("validate", "reproduce") else (0,)), (
            path,
            result,
        )
        assert result.out.strip(), (path, result)
        printed[path] = strict_json(result.out)

    odd = printed[("runs", "show")]
    assert odd["metrics"] == {"loss": None, "ratio": None}  # NaN and Infinity: null
    assert printed[("runs", "compare")]["metrics.ratio"] == [None, None]
    assert printed[("data", "add")]["ref"] == "sugar-copy@v1"
    assert printed[("data", "add")]["new"] is True
    assert [v["ref"] for v in printed[("data", "log")]] == ["sugar@v1", "sugar@v2"]
    assert {d["ref"] for d in printed[("data", "list")]} >= {"sugar@v2", "sugar-copy@v1"}
    assert printed[("artifacts", "put")]["ref"] == "notes@v1"
    assert printed[("artifacts", "get")]["path"] == "notes-copy.txt"
    assert (project / "notes-copy.txt").read_text() == "release notes\n"
    assert any(a["ref"] == "notes@v1" for a in printed[("artifacts", "list")])
    assert printed[("verify",)]["damaged"] == []
    assert printed[("verify",)]["checked"] > 0
    assert printed[("models", "promote")] == {
        "model": "sugar",
        "champion": "sugar@v2",
        "previous": "sugar@v1",
        "changed": True,
        "forced": None,  # its gate passed: nothing forced, so no reason recorded as such
    }
    assert printed[("models", "rollback")]["champion"] == "sugar@v1"
    assert [arm["version"] for arm in printed[("deployments", "show")]["arms"]] == [
        "sugar@v1",  # the champion after the rollback
        "sugar@v2",
    ]
    assert printed[("deployments", "list")] == [printed[("deployments", "show")]]
    assert printed[("loop", "define")]["loops"][0]["definition"] == "sugar@v1"
    assert printed[("loop", "list")]["loops"][0]["spec"]["triggers"]["new_labels"] == 100
    assert printed[("decisions",)] == {"loop": "sugar", "decisions": []}
    assert printed[("trace",)]["prediction"]["ref"] == "sugar@v1"
    assert printed[("trace",)]["lineage"]["made_by"]["name"] == "flow/train"
    assert printed[("deployments", "history")][0]["action"] == "created"
    assert printed[("deployments", "delete")] == {"deleted": "sugar-api"}
    assert printed[("run",)]["status"] == "succeeded"
    assert [s["name"] for s in printed[("run",)]["steps"]] == ["split", "train"]
    assert printed[("data", "checkout")]["path"] == "sugar-v1.parquet"
    assert printed[("schedule", "remove")] == {"removed": "nightly"}
    assert printed[("export", "airflow")]["tasks"] == 2
    assert printed[("predict",)]["ref"] == "sugar-scored@v1"
    assert printed[("predict",)]["rows"] == 300
    assert (project / "dag.py").exists()
    assert printed[("feedback", "import")]["imported"] == 1
    assert len(printed[("feedback", "import")]["unknown"]) == 1
    assert printed[("review", "list")][0]["queue"] == "sugar-api"
    assert printed[("review", "next")]["guess"] == 150.0
    assert printed[("review", "label")]["labels"][0]["label"] == 160.0
    assert printed[("review", "import")]["labelled"] == 1
    assert printed[("review", "commit")]["dataset"] == "sugar-reviewed@v1"
    assert printed[("review", "commit")]["rows"] == 2
    assert printed[("data", "guidelines")]["version"] == 1


def test_a_validation_report_and_data_json_hold_no_nan(cli, project: Path) -> None:
    """data show's profile of a column with missing values has NaN-free statistics."""
    frame = pd.DataFrame({"x": [1.0, math.nan, 3.0], "y": [math.inf, 1.0, 2.0]})
    frame.to_parquet(project / "odd.parquet")
    cli("data", "add", "odd.parquet", "--name", "odd", check=True)
    shown = cli("data", "show", "odd@v1", "--json", check=True)
    strict_json(shown.out)
