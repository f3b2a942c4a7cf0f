"""`loopml models`: list, show, history, promote and rollback in real processes, and bad
input answered with one line naming the thing and the fix (exit code 2), changing
nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from test_bad_input import assert_user_error
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry
from loopml.evaluation import Evaluation
from loopml.store import Direction
from loopml.workspace import record_version


@pytest.fixture
def models(cli, tmp_path: Path) -> Path:
    """A workspace with dataset `flowers` and model `iris`: v1 made in a run that read
    flowers@v1 (with an evaluation and a signature), v2 and v3 saved outside runs."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    # One BLAS thread: with test workers on every core, more threads only wait.
    with loopml.init(tmp_path) as ws, threadpool_limits(1):
        flowers = loopml.data.add(X.assign(target=y), name="flowers", workspace=ws)
        blob = ws.artifacts.put_bytes(b'{"metrics": {"accuracy": 0.97}}')
        evaluation = record_version(
            ws,
            blob.digest,
            blob.size,
            kind="evaluation",
            name="iris",
            metadata={"format": "evaluation", "primary": "accuracy", "value": 0.97},
        )
        with loopml.start_run("fit-iris", workspace=ws, params={"C": 0.1}) as run:
            ws.store.add_event(run.id, flowers.artifact.id, Direction.INPUT, "training data")
            loopml.log_metric("accuracy", 0.96)
            model = LogisticRegression(C=0.1, max_iter=1000).fit(X, y)
            registry.register(model, "iris", signature_from=X, evaluation=evaluation)
        for C in (1.0, 10.0):
            model = LogisticRegression(C=C, max_iter=1000).fit(X, y)
            registry.register(model, "iris", workspace=ws)
        for version in ("iris@v1", "iris@v2", "iris@v3"):  # each passes the gate
            loopml.gate(judged(version), workspace=ws)
    cli.env["LOGNAME"] = "ana"
    return tmp_path


def judged(model: str, accuracy: float = 0.95) -> Evaluation:
    """An evaluation of a registered version of iris, for the gate to judge."""
    return Evaluation(
        task="classification",
        primary="accuracy",
        rows=150,
        metrics={"accuracy": accuracy},
        intervals={},
        baseline={"accuracy": 1 / 3},
        baseline_description="class prior over 3 classes",
        slices=[],
        perturbation={},
        calibration=None,
        latency_ms={},
        size_bytes={},
        model=model,
    )


def history(cli) -> list[dict[str, object]]:
    moves: list[dict[str, object]] = json.loads(cli("models", "history", "iris", "--json").out)
    return moves


def test_list_names_with_latest_version_and_aliases(cli, models: Path) -> None:
    cli("models", "promote", "iris@v2", check=True)
    listed = json.loads(cli("models", "list", "--json", check=True).out)
    assert listed == [
        {"name": "iris", "versions": 3, "latest": "iris@v3", "aliases": {"champion": 2}}
    ]
    table = cli("models", "list", check=True).out
    for fragment in ("iris", "champion=v2", "sklearn"):
        assert fragment in table


def test_list_a_models_versions(cli, models: Path) -> None:
    cli("models", "promote", "iris@v2", check=True)
    versions = json.loads(cli("models", "list", "iris", "--json", check=True).out)
    assert [(v["ref"], v["aliases"]) for v in versions] == [
        ("iris@v1", []),
        ("iris@v2", ["champion"]),
        ("iris@v3", []),
    ]
    table = cli("models", "list", "iris", check=True).out
    assert "iris@v1" in table
    assert "iris@v3" in table


def test_show_a_version_with_its_evaluation_metrics_and_lineage(cli, models: Path) -> None:
    shown = json.loads(cli("models", "show", "iris@v1", "--json", check=True).out)
    assert (shown["ref"], shown["flavor"]) == ("iris@v1", "sklearn")
    assert shown["evaluation"] == {
        "id": shown["evaluation_id"],
        "ref": "iris@v1",
        "primary": "accuracy",
        "value": 0.97,
        "data": None,
        "rows_recorded": False,
    }
    assert [c["name"] for c in shown["signature"]["inputs"]][:1] == ["sepal length (cm)"]
    assert "sklearn" in shown["libraries"]
    assert shown["run"]["name"] == "fit-iris"
    assert shown["metrics"] == {"accuracy": 0.96}
    assert shown["datasets"] == ["flowers@v1"]
    assert shown["lineage"]["made_by"]["params"] == {"C": 0.1}
    text = cli("models", "show", "iris@v1", check=True).out
    for fragment in (
        "model iris@v1  sklearn (pickle)",
        "evaluation  iris@v1: accuracy 0.97 (id",
        "sepal length (cm)",
        "accuracy",
        "made by run",
        "fit-iris (training, succeeded)",
        "params: C=0.1",
        "read training data: dataset flowers@v1",
    ):
        assert fragment in text, (fragment, text)


def test_a_version_made_outside_any_run_shows_so(cli, models: Path) -> None:
    text = cli("models", "show", "iris@v3", check=True).out
    assert "signature: none recorded" in text
    assert "saved outside any run" in text


def test_promote_promote_rollback_and_the_history(cli, models: Path) -> None:
    first = cli("models", "promote", "iris@v1", "--reason", "first model", check=True)
    assert first.out.strip() == "iris@v1 is now the champion of iris"
    second = cli("models", "promote", "iris@v3", "--reason", "better on May data", check=True)
    assert second.out.strip() == "iris@v3 is now the champion of iris (was iris@v1, now previous)"
    cli.env["LOGNAME"] = "bob"
    back = cli("models", "rollback", "iris", "--reason", "latency doubled", check=True)
    assert back.out.strip() == "rolled back iris: iris@v1 is the champion again (was iris@v3)"
    assert [
        (m["alias"], m["from_version"], m["to_version"], m["actor"], m["reason"])
        for m in history(cli)
    ] == [
        ("previous", 1, 3, "bob", "latency doubled"),
        ("champion", 3, 1, "bob", "latency doubled"),
        ("champion", 1, 3, "ana", "better on May data"),
        ("previous", None, 1, "ana", "better on May data"),
        ("champion", None, 1, "ana", "first model"),
    ]
    table = cli("models", "history", "iris", check=True).out
    for fragment in ("v3 -> v1", "set to v1", "bob", "latency doubled", "ana"):
        assert fragment in table, (fragment, table)
    assert json.loads(cli("models", "show", "iris@champion", "--json").out)["ref"] == "iris@v1"


def test_promoting_the_champion_again_changes_nothing(cli, models: Path) -> None:
    cli("models", "promote", "iris@v2", check=True)
    again = cli("models", "promote", "iris@v2", check=True)
    assert again.out.strip() == "iris@v2 is the champion already; nothing changed"
    assert len(history(cli)) == 1


def test_empty_workspace_and_empty_history(cli, tmp_path: Path) -> None:
    cli("init", check=True)
    said = cli("models", "list", check=True).out
    assert said.strip() == "no models; register one with loopml.register(model, name)"
    assert json.loads(cli("models", "list", "--json", check=True).out) == []


def test_a_model_without_moves_says_how_to_promote(cli, models: Path) -> None:
    out = cli("models", "history", "iris", check=True).out
    assert "no alias changes yet" in out
    assert "loopml models promote iris@vN" in out


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("show", "ghost@v1"),
        ("promote", "ghost@v1"),
        ("rollback", "ghost"),
        ("history", "ghost"),
        ("list", "ghost"),
    ],
)
def test_an_unknown_model(cli, models: Path, args: tuple[str, ...]) -> None:
    assert_user_error(
        cli("models", *args),
        "no model named 'ghost'",
        "loopml models list",
        "and loopml.register(model, name) registers one",
    )


def test_a_ref_that_is_not_a_model(cli, models: Path) -> None:
    for args in (("show", "flowers@v1"), ("promote", "flowers@v1"), ("rollback", "flowers")):
        assert_user_error(
            cli("models", *args), "is not a model", "'flowers' names a dataset", "models list"
        )


def test_an_unknown_version_or_alias(cli, models: Path) -> None:
    assert_user_error(
        cli("models", "promote", "iris@v9"), "v9", "latest is v3", "loopml models list iris"
    )
    assert_user_error(cli("models", "show", "iris@best"), "no alias 'best'", "models list iris")
    assert_user_error(cli("models", "show", "iris@"), "ends with '@'")
    assert history(cli) == []


def test_rollback_with_nothing_to_roll_back_to(cli, models: Path) -> None:
    assert_user_error(
        cli("models", "rollback", "iris"), "no champion to roll back from", "models promote"
    )
    cli("models", "promote", "iris@v2", check=True)
    assert_user_error(
        cli("models", "rollback", "iris"),
        "no previous champion",
        "iris@v2 is the only one",
        "loopml models promote iris@vN",
    )
    assert len(history(cli)) == 1
    assert json.loads(cli("models", "show", "iris@champion", "--json").out)["ref"] == "iris@v2"


def test_a_version_whose_gate_failed_needs_force_and_a_reason(cli, models: Path) -> None:
    with loopml.workspace(models) as ws:
        X, y = load_iris(return_X_y=True, as_frame=True)
        with threadpool_limits(1):
            model = LogisticRegression(C=0.01, max_iter=1000).fit(X, y)
        registry.register(model, "iris", workspace=ws)
        loopml.gate(judged("iris@v4", accuracy=0.2), workspace=ws, stop=False)
    assert_user_error(
        cli("models", "promote", "iris@v4"),
        "iris@v4 was not made the champion: its gate decision FAILED on baseline",
        "gate 1 of iris@v4 (iris.v4.gate@v1)",
        "--force --reason TEXT",
    )
    assert_user_error(
        cli("models", "promote", "iris@v4", "--force"), "--force needs --reason", "FAILED"
    )
    assert history(cli) == []
    forced = cli("models", "promote", "iris@v4", "--force", "--reason", "hotfix", check=True)
    assert forced.out.splitlines() == [
        "iris@v4 is now the champion of iris",
        "recorded in the history: forced past a failed gate (baseline): hotfix",
    ]
    [move] = history(cli)
    assert (move["to_version"], move["reason"]) == (
        4,
        "forced past a failed gate (baseline): hotfix",
    )
    shown = cli("models", "show", "iris@v4", check=True).out
    assert "FAILED on accuracy: iris.v4.gate@v1" in shown


def test_outside_a_workspace(cli, tmp_path: Path) -> None:
    assert_user_error(cli("models", "list"), "loopml init")


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_show_gives_a_slice_s_gap_in_the_units_of_its_metric(
    cli, tmp_path: Path, task: str
) -> None:
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.linear_model import Ridge

    if task == "regression":
        table = load_diabetes(as_frame=True).frame
        model = Ridge(alpha=0.1)
    else:  # enough rows for slices, and a model weak enough to miss some
        table = load_breast_cancer(as_frame=True).frame.iloc[:, [0, 1, 2, -1]]
        model = LogisticRegression(C=0.01, max_iter=1000)
    held = table.sample(frac=0.4, random_state=1)
    fit = table.drop(held.index)
    with loopml.init(tmp_path) as ws, threadpool_limits(1):
        model.fit(fit.drop(columns="target"), fit["target"])
        evaluation = loopml.evaluate(model, held, label="target", train=fit, name="m", workspace=ws)
        loopml.register(model, "m", evaluation=evaluation, workspace=ws)
    shown = json.loads(cli("models", "show", "m@v1", "--json", check=True).out)["evaluation"]
    primary, worst = shown["primary"], shown["slices"][0]
    overall, there = shown["metrics"][primary], worst["metrics"][primary]
    if task == "regression":
        assert primary == "rmse"
        assert there > overall  # worse: a larger error
        gap = f"{overall - there:+.4g}"  # in the target's units, below 0 as it is worse
    else:
        assert primary == "accuracy"
        assert there < overall
        gap = f"{(there - overall) * 100:+.1f} pts"  # percentage points
    text = cli("models", "show", "m@v1", check=True).out
    assert "against overall: below 0 is worse" in text
    [line] = [line for line in text.splitlines() if line.strip().startswith(worst["name"])]
    assert line.rstrip().endswith(f"  {gap}"), (line, gap)
    assert "%" not in text.split("worst slices")[1].split("gate")[0]
