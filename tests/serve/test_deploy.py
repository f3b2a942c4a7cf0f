"""Deployments through the Python API, on a real SQLite workspace (and PostgreSQL)
with real scikit-learn models: refs follow their aliases, every bad input is refused
before anything is written, and the history keeps who, when, from, to and why."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import loopml
from loopml import registry, serve
from loopml.errors import Conflict, InvalidInput, LoopmlError, NotFound
from loopml.serve import Arm, KeySource, Policy


@pytest.fixture(scope="module")
def fitted() -> list[LogisticRegression]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    with threadpool_limits(1):  # one BLAS thread: test workers share the cores
        return [LogisticRegression(C=C, max_iter=1000).fit(X, y) for C in (0.1, 1.0, 10.0)]


def registered(ws: loopml.Workspace, fitted: list[LogisticRegression]) -> loopml.Workspace:
    """iris@v1..v3 (v3 with an ONNX copy), v1 the champion; and a dataset `flowers`."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    for index, model in enumerate(fitted):
        onnx = X if index == 2 else None
        registry.register(model, "iris", signature_from=X, onnx=onnx, workspace=ws)
    registry.promote("iris@v1", force=True, reason="the first", workspace=ws)
    loopml.data.add(X.assign(target=y), name="flowers", workspace=ws)
    return ws


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, fitted: list[LogisticRegression]) -> Path:
    """A workspace as ``registered`` leaves it, made once for the module."""
    root = tmp_path_factory.mktemp("deploy-template")
    with loopml.init(root) as workspace:
        registered(workspace, fitted)
    return root


@pytest.fixture
def ws(tmp_path: Path, template: Path) -> Iterator[loopml.Workspace]:
    """A fresh copy of the template, in ``tmp_path``."""
    shutil.copytree(template, tmp_path, symlinks=True, dirs_exist_ok=True)
    with loopml.workspace(tmp_path) as workspace:
        yield workspace


def refused(call: Callable[[], Any], error: type[LoopmlError], field: str, *fragments: str) -> None:
    with pytest.raises(error) as raised:
        call()
    assert raised.value.field == field, raised.value
    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))


def test_a_single_version_follows_its_alias(ws: loopml.Workspace) -> None:
    made = serve.deploy("api", "iris@champion", reason="first release", workspace=ws)
    assert (made.name, made.revision) == ("api", 1)
    assert made.policy == Policy.single("iris@champion").to_dict()
    assert serve.deployment("api", workspace=ws).resolved["iris@champion"] == "iris@v1"
    registry.promote("iris@v2", force=True, reason="better", workspace=ws)
    shown = serve.deployment("api", workspace=ws)
    assert shown.resolved["iris@champion"] == "iris@v2"
    assert shown.revision == 1  # the deployment did not change: the alias moved
    # with a previous champion now, the default fallback is set
    assert shown.fallback == "iris@previous"
    assert shown.resolved["iris@previous"] == "iris@v1"
    assert shown.to_dict()["fallback"] == {
        "model": "iris@previous",
        "version": "iris@v1",
        "default": True,
    }
    registry.rollback("iris", reason="slower", workspace=ws)
    assert serve.deployment("api", workspace=ws).resolved["iris@champion"] == "iris@v1"


def test_a_pinned_version_stays(ws: loopml.Workspace) -> None:
    serve.deploy("pinned", "iris@v1", workspace=ws)
    registry.promote("iris@v3", force=True, reason="newer", workspace=ws)
    assert serve.deployment("pinned", workspace=ws).resolved == {
        "iris@v1": "iris@v1",
        "iris@previous": "iris@v1",
    }


def test_a_canary_is_a_two_arm_split(ws: loopml.Workspace) -> None:
    serve.deploy("api", "iris@champion", canary=("iris@v2", 0.05), workspace=ws)
    policy = serve.deployment("api", workspace=ws).policy
    assert policy.arms == (Arm("iris@champion", 0.95), Arm("iris@v2", 0.05))
    assert policy.canary == "iris@v2"
    assert policy.routing == "fixed"


def test_split_bandit_and_every_option_are_stored(ws: loopml.Workspace) -> None:
    serve.deploy(
        "ab",
        split={"iris@champion": 0.7, "iris@v2": 0.3},
        shadow=["iris@v3"],
        fallback="iris@v1",
        key_field="petal width (cm)",
        copy="native",
        timeout_ms=40,
        max_batch_rows=8,
        max_wait_us=200,
        workspace=ws,
    )
    assert serve.deployment("ab", workspace=ws).policy == Policy(
        arms=(Arm("iris@champion", 0.7), Arm("iris@v2", 0.3)),
        shadows=("iris@v3",),
        fallback="iris@v1",
        key=KeySource.of_field("petal width (cm)"),
        copy="native",
        timeout_ms=40.0,
        max_batch_rows=8,
        max_wait_us=200,
    )
    serve.deploy(
        "bandit",
        bandit="epsilon-greedy",
        arms=["iris@v1", "iris@v2", "iris@v3"],
        epsilon=0.2,
        key_header="X-User",
        workspace=ws,
    )
    shown = serve.deployment("bandit", workspace=ws)
    assert shown.policy.routing == "epsilon-greedy"
    assert shown.policy.epsilon == 0.2
    assert shown.policy.key == KeySource(header="X-User")
    assert [arm.model for arm in shown.policy.arms] == ["iris@v1", "iris@v2", "iris@v3"]
    # list and show agree, by name
    assert [d.to_dict() for d in serve.deployments(workspace=ws)] == [
        serve.deployment(name, workspace=ws).to_dict() for name in ("ab", "bandit")
    ]


def test_the_onnx_copy_is_served_only_by_versions_that_have_one(ws: loopml.Workspace) -> None:
    serve.deploy("fast", "iris@v3", copy="onnx", workspace=ws)
    refused(
        lambda: serve.deploy("slow", "iris@v1", copy="onnx", workspace=ws),
        InvalidInput,
        "copy",
        "iris@v1",
        "no ONNX copy",
        "onnx=rows",
    )
    assert [d.name for d in serve.deployments(workspace=ws)] == ["fast"]


def test_loopml_deploy_is_serve_deploy() -> None:
    assert loopml.deploy is serve.deploy


BAD: list[tuple[dict[str, Any], type[LoopmlError], str, tuple[str, ...]]] = [
    (
        {"split": {"iris@v1": 0.6, "iris@v2": 0.6}},
        InvalidInput,
        "split",
        ("sum to 1.2, not 1", "give weights that sum to 1"),
    ),
    ({"model": "nosuch@v1"}, NotFound, "model", ("no model named 'nosuch'", "models list")),
    ({"model": "iris@v9"}, NotFound, "model", ("v9", "`loopml models list iris`")),
    ({"model": "flowers@v1"}, InvalidInput, "model", ("not a model", "dataset")),
    ({"model": "iris@"}, InvalidInput, "model", ("'iris@'",)),
    (
        {"model": "iris@challenger"},
        NotFound,
        "model",
        ("no alias 'challenger'", "loopml models promote iris@vN", "set_alias"),
    ),
    ({"model": "iris@chmpion"}, NotFound, "model", ("did you mean iris@champion?",)),
    (
        {"model": "iris@v1", "canary": ("iris@staging", 0.1)},
        NotFound,
        "canary",
        ("'staging'",),
    ),
    (
        {"model": "iris@v1", "shadow": ["iris@v7"]},
        NotFound,
        "shadow",
        ("v7",),
    ),
    ({"model": "iris@v1", "fallback": "nosuch"}, NotFound, "fallback", ("'nosuch'",)),
    (
        {"bandit": "greedy", "arms": ["iris@v1", "iris@v2"]},
        InvalidInput,
        "bandit",
        ("'greedy'", "epsilon-greedy, ucb1, thompson"),
    ),
    ({"bandit": "ucb1", "arms": ["iris@v1"]}, InvalidInput, "arms", ("at least two",)),
    ({"bandit": "ucb1", "arms": "iris@v1,iris@v2"}, InvalidInput, "arms", ("one string",)),
    ({"model": "iris@v1", "split": {"iris@v2": 1.0}}, InvalidInput, "model", ("model and split",)),
    ({}, InvalidInput, "model", ("got none",)),
    ({"model": "iris@v1", "arms": ["iris@v2"]}, InvalidInput, "arms", ("bandit='thompson'",)),
    ({"split": {"iris@v1": 1.0}, "canary": ("iris@v2", 0.1)}, InvalidInput, "canary", ()),
    ({"model": "iris@v1", "canary": ("iris@v2", 1.0)}, InvalidInput, "canary", ("below 1",)),
    ({"model": "iris@v1", "canary": ("iris@v1", 0.1)}, InvalidInput, "canary", ("the model",)),
    (
        {"model": "iris@v1", "key_header": "X-A", "key_field": "user"},
        InvalidInput,
        "key_field",
        ("not both",),
    ),
    (
        {"split": {"iris@v1": 0.5, "iris@v2": 0.5}, "key_field": "user_id"},
        InvalidInput,
        "key_field",
        ("'user_id' is not an input of iris@v1", "sepal length (cm)", "key_header"),
    ),
    ({"model": "iris@v1", "copy": "gpu"}, InvalidInput, "copy", ("'gpu'",)),
    ({"model": "iris@v1", "max_batch_rows": 0}, InvalidInput, "max_batch_rows", ("0",)),
    ({"model": "iris@v1", "timeout_ms": -5}, InvalidInput, "timeout_ms", ("-5",)),
]


@pytest.mark.parametrize(("given", "error", "field", "fragments"), BAD)
def test_bad_input_is_refused_with_nothing_written(
    ws: loopml.Workspace,
    given: dict[str, Any],
    error: type[LoopmlError],
    field: str,
    fragments: tuple[str, ...],
) -> None:
    refused(lambda: serve.deploy("api", workspace=ws, **given), error, field, *fragments)
    assert ws.store.deployments() == []
    assert ws.store.deployment_history("api") == []


def test_bad_input_leaves_a_deployment_as_it_was(ws: loopml.Workspace) -> None:
    serve.deploy("api", "iris@champion", workspace=ws)
    refused(
        lambda: serve.deploy("api", "iris@previous", workspace=ws),
        NotFound,
        "model",
        "no previous champion yet",
        "loopml models promote iris@vN",
    )
    refused(lambda: serve.deploy("bad name!", "iris@v1", workspace=ws), InvalidInput, "name")
    assert serve.deployment("api", workspace=ws).revision == 1
    assert len(serve.deployment_history("api", workspace=ws)) == 1


def test_history_keeps_who_when_from_to_and_why(ws: loopml.Workspace) -> None:
    started = datetime.now(UTC)
    serve.deploy("api", "iris@champion", reason="first release", actor="ana", workspace=ws)
    serve.deploy("api", "iris@champion", canary=("iris@v2", 0.1), reason="try v2", workspace=ws)
    serve.set_weight("api", "iris@v2", 0.5, reason="no errors", actor="controller", workspace=ws)
    serve.undeploy("api", reason="replaced", actor="bo", workspace=ws)
    changes = serve.deployment_history("api", workspace=ws)
    assert [(c.revision, c.action, c.actor, c.reason) for c in changes] == [
        (4, "deleted", "bo", "replaced"),
        (3, "updated", "controller", "no errors"),
        (2, "updated", changes[2].actor, "try v2"),
        (1, "created", "ana", "first release"),
    ]
    assert changes[2].actor  # the user of this process, as the OS names it
    single = Policy.single("iris@champion").to_dict()
    canary = Policy.split({"iris@champion": 0.9, "iris@v2": 0.1}, canary="iris@v2").to_dict()
    half = Policy.split({"iris@champion": 0.5, "iris@v2": 0.5}, canary="iris@v2").to_dict()
    assert [(c.previous_policy, c.policy) for c in reversed(changes)] == [
        (None, single),
        (single, canary),
        (canary, half),
        (half, None),
    ]
    times = [c.created_at for c in reversed(changes)]
    assert started <= times[0] <= times[1] <= times[2] <= times[3] <= datetime.now(UTC)
    refused(lambda: serve.deployment("api", workspace=ws), NotFound, None, "no deployment")


def test_deploying_the_same_policy_again_changes_nothing(ws: loopml.Workspace) -> None:
    serve.deploy("api", "iris@champion", timeout_ms=50, workspace=ws)
    again = serve.deploy("api", "iris@champion", timeout_ms=50.0, workspace=ws)
    assert again.revision == 1
    assert len(serve.deployment_history("api", workspace=ws)) == 1


def test_expected_revision_is_a_compare_and_set(ws: loopml.Workspace) -> None:
    serve.deploy("api", "iris@v1", expected_revision=0, workspace=ws)
    with pytest.raises(Conflict):
        serve.deploy("api", "iris@v2", expected_revision=0, workspace=ws)
    serve.deploy("api", "iris@v1", canary=("iris@v2", 0.1), expected_revision=1, workspace=ws)
    with pytest.raises(Conflict):
        serve.set_weight("api", "iris@v2", 0.3, expected_revision=1, workspace=ws)
    with pytest.raises(Conflict):
        serve.undeploy("api", expected_revision=1, workspace=ws)
    shown = serve.deployment("api", workspace=ws)
    assert shown.revision == 2
    assert [arm.weight for arm in shown.policy.arms] == [0.9, 0.1]
    assert serve.set_weight("api", "iris@v2", 0.3, expected_revision=2, workspace=ws).revision == 3


def test_set_weight_steps_a_canary_and_renormalises(ws: loopml.Workspace) -> None:
    serve.deploy("api", split={"iris@v1": 0.6, "iris@v2": 0.3, "iris@v3": 0.1}, workspace=ws)
    serve.set_weight("api", "iris@v3", 0.5, workspace=ws)
    weights = [arm.weight for arm in serve.deployment("api", workspace=ws).policy.arms]
    assert weights == pytest.approx([0.6 * 0.5 / 0.9, 0.3 * 0.5 / 0.9, 0.5])
    refused(
        lambda: serve.set_weight("api", "iris@champion", 0.2, workspace=ws),
        InvalidInput,
        "ref",
        "not an arm",
    )
    refused(lambda: serve.set_weight("nope", "iris@v1", 0.2, workspace=ws), NotFound, None, "nope")
    assert serve.deployment("api", workspace=ws).revision == 2


def test_a_ref_that_points_nowhere_any_more_is_shown_not_hidden(ws: loopml.Workspace) -> None:
    registry.set_alias("iris@v2", "challenger", workspace=ws)
    serve.deploy("api", split={"iris@v1": 0.9, "iris@challenger": 0.1}, workspace=ws)
    ws.store.delete_alias("model", "iris", "challenger")
    shown = serve.deployment("api", workspace=ws)
    assert shown.resolved["iris@challenger"] is None
    assert "no alias 'challenger'" in shown.problems["iris@challenger"]
    assert shown.to_dict()["arms"][1] == {
        "model": "iris@challenger",
        "weight": 0.1,
        "version": None,
        "canary": False,
        "pulls": 0,
        "rewards": 0,
        "mean_reward": None,
    }


def test_a_stored_policy_with_a_typo_is_an_error_naming_the_key(ws: loopml.Workspace) -> None:
    typo = {**Policy.single("iris@v1").to_dict(), "routng": "ucb1"}
    ws.store.set_deployment("api", typo)
    refused(
        lambda: serve.deployment("api", workspace=ws),
        InvalidInput,
        "routng",
        "deployment 'api'",
        "did you mean 'routing'?",
        "deploy it again",
    )
    refused(lambda: serve.deployments(workspace=ws), InvalidInput, "routng")


def test_unknown_deployments(ws: loopml.Workspace) -> None:
    for call in (serve.deployment, serve.deployment_history, serve.undeploy):
        refused(
            lambda call=call: call("nope", workspace=ws),
            NotFound,
            None,
            "no deployment named 'nope'",
            "loopml deployments list",
        )


@pytest.mark.postgres
def test_deployments_on_postgresql(
    postgres_url: str, tmp_path: Path, fitted: list[LogisticRegression]
) -> None:
    with loopml.init(tmp_path, store_url=postgres_url) as ws:
        registered(ws, fitted)
        serve.deploy("api", "iris@champion", canary=("iris@v2", 0.1), reason="try", workspace=ws)
        registry.promote("iris@v3", force=True, reason="newer", workspace=ws)
        shown = serve.deployment("api", workspace=ws)
        assert shown.resolved == {
            "iris@champion": "iris@v3",
            "iris@v2": "iris@v2",
            "iris@previous": "iris@v1",
        }
        serve.set_weight("api", "iris@v2", 0.2, reason="step", workspace=ws)
        assert [c.reason for c in serve.deployment_history("api", workspace=ws)] == ["step", "try"]


def test_set_weight_at_once_from_two_callers_loses_no_step(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    """Two controllers step two arms at once, each through its own connection: every
    step is recorded, and each is the step applied to the policy just before it (none
    was made over a policy read before another caller's step)."""
    import threading

    serve.deploy("api", split={"iris@v1": 0.5, "iris@v2": 0.3, "iris@v3": 0.2}, workspace=ws)
    steps = 15
    failures: list[BaseException] = []

    def controller(who: str, arm: str, weights: list[float]) -> None:
        try:
            with loopml.workspace(tmp_path) as own:
                for weight in weights:
                    serve.set_weight(
                        "api", arm, weight, reason=repr(weight), actor=who, workspace=own
                    )
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [
        threading.Thread(
            target=controller, args=("a", "iris@v2", [0.1 + i * 0.01 for i in range(steps)])
        ),
        threading.Thread(
            target=controller, args=("b", "iris@v3", [0.4 - i * 0.01 for i in range(steps)])
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    changes = serve.deployment_history("api", workspace=ws)
    assert [c.revision for c in changes] == list(range(2 * steps + 1, 0, -1))
    arm_of = {"a": "iris@v2", "b": "iris@v3"}
    for change in changes[:-1]:
        assert change.previous_policy is not None
        assert change.policy is not None
        before = Policy.from_dict(change.previous_policy)
        weight = float(change.reason or "nan")
        assert Policy.from_dict(change.policy) == before.with_weight(arm_of[change.actor], weight)
