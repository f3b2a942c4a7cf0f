"""`loopml deploy` and `loopml deployments` in real processes on a real workspace with
real models: what `show` resolves follows promotion, list and show agree, the history
keeps who, when, from, to and why, and bad input is one line naming the thing and
the fix (exit code 2), with nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from test_bad_input import assert_user_error
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with model iris v1..v3, v1 the champion, and dataset `flowers`."""
    root = tmp_path_factory.mktemp("deploy-template")
    X, y = load_iris(return_X_y=True, as_frame=True)
    # One BLAS thread: with test workers on every core, more threads only wait.
    with loopml.init(root) as ws, threadpool_limits(1):
        for C in (0.1, 1.0, 10.0):
            model = LogisticRegression(C=C, max_iter=1000).fit(X, y)
            registry.register(model, "iris", signature_from=X, workspace=ws)
        registry.promote("iris@v1", force=True, reason="the first", workspace=ws)
        loopml.data.add(X.assign(target=y), name="flowers", workspace=ws)
    return root


@pytest.fixture
def models(cli, template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template, where the commands run."""
    shutil.copytree(template, tmp_path, symlinks=True, dirs_exist_ok=True)
    cli.env["LOGNAME"] = "ana"
    return tmp_path


def shown(cli, name: str = "api") -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cli("deployments", "show", name, "--json", check=True).out)
    return found


def test_show_follows_the_champion(cli, models: Path) -> None:
    made = cli("deploy", "api", "--model", "iris@champion", "--reason", "first", check=True)
    assert "created deployment api (revision 1)" in made.out
    assert [(a["model"], a["weight"], a["version"]) for a in shown(cli)["arms"]] == [
        ("iris@champion", 1.0, "iris@v1")
    ]
    cli("models", "promote", "iris@v2", "--force", "--reason", "better", check=True)
    after = shown(cli)
    assert [(a["model"], a["version"]) for a in after["arms"]] == [("iris@champion", "iris@v2")]
    assert after["revision"] == 1
    assert after["fallback"] == {"model": "iris@previous", "version": "iris@v1", "default": True}
    text = cli("deployments", "show", "api", check=True).out
    for fragment in ("deployment api", "revision 1", "iris@champion", "iris@v2", "iris@previous"):
        assert fragment in text, (fragment, text)


def test_a_canary_split_and_bandit_from_the_command_line(cli, models: Path) -> None:
    cli("deploy", "api", "--model", "iris@champion", "--canary", "iris@v2=0.1", check=True)
    arms = shown(cli)["arms"]
    assert [(a["model"], a["weight"], a["canary"]) for a in arms] == [
        ("iris@champion", 0.9, False),
        ("iris@v2", 0.1, True),
    ]
    text = cli("deployments", "show", "api", check=True).out
    assert "canary" in text
    cli(
        "deploy",
        "ab",
        "--split",
        "iris@v1=0.7,iris@v2=0.2",
        "--split",
        "iris@v3=0.1",
        "--shadow",
        "iris@champion",
        "--fallback",
        "iris@v1",
        "--key-field",
        "petal width (cm)",
        "--copy",
        "native",
        "--timeout-ms",
        "25",
        "--max-batch-rows",
        "1",
        "--max-wait-us",
        "0",
        check=True,
    )
    policy = shown(cli, "ab")["policy"]
    assert policy == {
        "format": 1,
        "arms": [
            {"model": "iris@v1", "weight": 0.7},
            {"model": "iris@v2", "weight": 0.2},
            {"model": "iris@v3", "weight": 0.1},
        ],
        "routing": "fixed",
        "epsilon": 0.1,
        "canary": None,
        "shadows": ["iris@champion"],
        "fallback": "iris@v1",
        "key": {"header": None, "field": "petal width (cm)"},
        "copy": "native",
        "timeout_ms": 25.0,
        "max_batch_rows": 1,
        "max_wait_us": 0,
    }
    made = cli("deploy", "bandit", "--bandit", "thompson", "--arms", "iris@v1,iris@v2", "--json")
    assert made.code == 0, made
    printed = json.loads(made.out)
    assert (printed["routing"], printed["changed"]) == ("thompson", True)
    listed = json.loads(cli("deployments", "list", "--json", check=True).out)
    assert [d["name"] for d in listed] == ["ab", "api", "bandit"]
    assert listed == [shown(cli, name) for name in ("ab", "api", "bandit")]
    table = cli("deployments", "list", check=True).out
    for fragment in ("ab", "api", "bandit", "thompson", "iris@champion (iris@v1) 0.9"):
        assert fragment in table, (fragment, table)
    # what a bandit learnt is shown for a bandit only: fixed weights learn nothing
    assert "mean reward" in cli("deployments", "show", "bandit", check=True).out
    assert "pulls" not in cli("deployments", "show", "ab", check=True).out


def test_deploying_the_same_policy_again_says_so(cli, models: Path) -> None:
    cli("deploy", "api", "--model", "iris@v1", check=True)
    again = cli("deploy", "api", "--model", "iris@v1", "--json", check=True)
    assert json.loads(again.out)["changed"] is False
    assert "unchanged" in cli("deploy", "api", "--model", "iris@v1", check=True).out
    assert len(json.loads(cli("deployments", "history", "api", "--json").out)) == 1


def test_history_keeps_who_when_from_to_and_why(cli, models: Path) -> None:
    cli("deploy", "api", "--model", "iris@champion", "--reason", "first release", check=True)
    cli("deploy", "api", "--model", "iris@champion", "--canary", "iris@v2=0.2", check=True)
    cli.env["LOGNAME"] = "bo"
    cli("deployments", "delete", "api", "--reason", "replaced", check=True)
    changes = json.loads(cli("deployments", "history", "api", "--json", check=True).out)
    assert [(c["revision"], c["action"], c["actor"], c["reason"]) for c in changes] == [
        (3, "deleted", "bo", "replaced"),
        (2, "updated", "ana", None),
        (1, "created", "ana", "first release"),
    ]
    assert changes[2]["from"] is None
    assert changes[2]["to"]["arms"] == [{"model": "iris@champion", "weight": 1.0}]
    assert changes[1]["from"] == changes[2]["to"]
    assert changes[1]["to"]["arms"] == [
        {"model": "iris@champion", "weight": 0.8},
        {"model": "iris@v2", "weight": 0.2},
    ]
    assert (changes[0]["from"], changes[0]["to"]) == (changes[1]["to"], None)
    assert changes[0]["at"] >= changes[1]["at"] >= changes[2]["at"]
    text = cli("deployments", "history", "api", check=True).out
    for fragment in ("deleted", "replaced", "first release", "iris@champion=0.8, iris@v2=0.2"):
        assert fragment in text, (fragment, text)
    assert_user_error(cli("deployments", "show", "api"), "no deployment named 'api'")


BAD = [
    (
        ["--split", "iris@v1=0.9,iris@v2=0.2"],
        ("sum to 1.1, not 1", "iris@v1=0.9, iris@v2=0.2", "give weights that sum to 1"),
    ),
    (["--model", "nosuch@champion"], ("no model named 'nosuch'", "loopml models list")),
    (["--model", "iris@v7"], ("v7", "loopml models list iris")),
    (
        ["--model", "iris@challenger"],
        ("no alias 'challenger'", "loopml models promote iris@vN"),
    ),
    (["--model", "iris@previous"], ("no previous champion yet", "loopml models promote")),
    (["--model", "flowers"], ("not a model", "dataset")),
    (
        ["--bandit", "greedy", "--arms", "iris@v1,iris@v2"],
        ("'greedy'", "epsilon-greedy, ucb1, thompson"),
    ),
    (["--bandit", "ucb1", "--arms", "iris@v1"], ("at least two",)),
    (["--model", "iris@v1", "--split", "iris@v2=1"], ("model and split",)),
    ([], ("--model REF", "--split REF=W,REF=W", "--bandit thompson --arms REF,REF")),
    (["--model", "iris@v1", "--canary", "iris@v2"], ("'iris@v2'", "REF=WEIGHT")),
    (["--model", "iris@v1", "--canary", "iris@v2=1.5"], ("1.5", "below 1")),
    (["--model", "iris@v1", "--key-header", "X-A", "--key-field", "u"], ("not both",)),
    (["--model", "iris@v1", "--copy", "onnx"], ("no ONNX copy", "native")),
    (
        ["--model", "iris@v1", "--copy", "gpu"],
        ("--copy 'gpu'", "--copy native (the model itself) or --copy onnx", "leave --copy out"),
    ),
    (["--model", "iris@v1", "--max-batch-rows", "0"], ("max_batch_rows 0",)),
    (["--model", "iris@v1", "--shadow", "iris@v1"], ("also an arm",)),
]


def test_bad_input_is_one_line_and_writes_nothing(cli, models: Path) -> None:
    # one workspace for every case: what any of them wrote, the list would show
    for args, fragments in BAD:
        assert_user_error(cli("deploy", "api", *args), *fragments)
    assert json.loads(cli("deployments", "list", "--json", check=True).out) == []
    assert_user_error(cli("deployments", "history", "api"), "no deployment named 'api'")


def test_bad_input_leaves_a_deployment_as_it_was(cli, models: Path) -> None:
    cli("deploy", "api", "--model", "iris@v1", check=True)
    before = shown(cli)
    assert_user_error(cli("deploy", "api", "--split", "iris@v1=0.5,iris@v2=0.4"), "not 1")
    assert_user_error(cli("deploy", "bad name!", "--model", "iris@v1"), "'bad name!'")
    assert shown(cli) == before


@pytest.mark.parametrize(
    "args",
    [
        ["deployments", "show", "nope"],
        ["deployments", "history", "nope"],
        ["deployments", "delete", "nope"],
    ],
)
def test_unknown_deployments(cli, models: Path, args: list[str]) -> None:
    assert_user_error(cli(*args), "no deployment named 'nope'", "loopml deployments list")


def test_an_empty_list_says_how_to_deploy(cli, models: Path) -> None:
    assert "loopml deploy NAME --model" in cli("deployments", "list", check=True).out


def test_show_warns_of_a_ref_that_points_nowhere_now(cli, models: Path) -> None:
    with loopml.workspace(models) as ws:
        registry.set_alias("iris@v2", "challenger", workspace=ws)
    cli("deploy", "api", "--split", "iris@v1=0.9,iris@challenger=0.1", check=True)
    with loopml.workspace(models) as ws:
        ws.store.delete_alias("model", "iris", "challenger")
    text = cli("deployments", "show", "api", check=True).out
    assert "warning: iris@challenger points nowhere now" in text
    assert "no alias 'challenger'" in text
    printed = shown(cli)
    assert [a["version"] for a in printed["arms"]] == ["iris@v1", None]
    assert "no alias 'challenger'" in printed["problems"]["iris@challenger"]


def test_a_model_named_without_a_version_or_alias_is_noted(cli, models: Path) -> None:
    """`--model iris` follows the latest version, which every register changes: said,
    with the refs to give instead; a version or alias is not noted."""
    bare = cli("deploy", "api", "--model", "iris", check=True)
    assert "note: iris follows the latest version of model 'iris'" in bare.err
    assert "iris@champion" in bare.err
    pinned = cli("deploy", "api", "--model", "iris@champion", check=True)
    assert "note:" not in pinned.err
