"""The routing policy: its JSON form round-trips, its helpers build what they say, and
every bad policy is InvalidInput naming the key (``field``), the value and the fix."""

from __future__ import annotations

import math
from typing import Any

import pytest

from loopml.errors import InvalidInput
from loopml.serve import ROUTINGS, Arm, KeySource, Policy


def stored(**changes: Any) -> dict[str, Any]:
    """A stored single-version policy, with ``changes`` to its keys."""
    return {**Policy.single("churn@champion").to_dict(), **changes}


def refused(call: Any, field: str, *fragments: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        call()
    assert raised.value.field == field, raised.value
    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))
    return raised.value


def test_the_stored_form_of_a_single_version_has_every_key() -> None:
    assert Policy.single("churn@champion").to_dict() == {
        "format": 1,
        "arms": [{"model": "churn@champion", "weight": 1.0}],
        "routing": "fixed",
        "epsilon": 0.1,
        "canary": None,
        "shadows": [],
        "fallback": None,
        "key": {"header": "X-Loopml-Key", "field": None},
        "copy": None,
        "timeout_ms": None,
        "max_batch_rows": 64,
        "max_wait_us": 1000,
    }


@pytest.mark.parametrize(
    "policy",
    [
        Policy.single("churn@v3"),
        Policy.split({"churn@champion": 0.9, "churn@challenger": 0.1}, canary="churn@challenger"),
        Policy.split({"a@v1": 0.2, "a@v2": 0.3, "b": 0.5}, key=KeySource.of_field("user_id")),
        Policy.bandit("epsilon-greedy", ["churn@v1", "churn@v2"], epsilon=0.25),
        Policy.bandit("thompson", ("churn@v1", "churn@v2", "churn@v3"), shadows=("churn@v4",)),
        Policy(
            arms=(Arm("churn@champion", 1),),
            shadows=("churn@challenger", "other@v2"),
            fallback="churn@v1",
            key=KeySource(header=None),
            copy="onnx",
            timeout_ms=25,
            max_batch_rows=1,
            max_wait_us=0,
        ),
    ],
)
def test_the_stored_form_reads_back_as_the_same_policy(policy: Policy) -> None:
    import json

    # Through JSON text, as a store keeps it.
    assert Policy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


def test_numbers_given_as_whole_numbers_are_kept_as_floats() -> None:
    # Else deploying the same policy again (1 then 1.0) would be recorded as a change.
    made = Policy(arms=(Arm("a@v1", 1),), timeout_ms=5)
    assert made.to_dict()["arms"][0]["weight"] == 1.0
    assert isinstance(made.to_dict()["arms"][0]["weight"], float)
    assert isinstance(made.to_dict()["timeout_ms"], float)
    read = Policy.from_dict(stored(arms=[{"model": "a@v1", "weight": 1}], max_batch_rows=32.0))
    assert read.max_batch_rows == 32
    assert read == Policy(arms=(Arm("a@v1", 1.0),), max_batch_rows=32)


def test_missing_keys_take_their_defaults() -> None:
    assert Policy.from_dict({"arms": [{"model": "churn@v2", "weight": 1}]}) == Policy.single(
        "churn@v2"
    )


def test_refs_names_each_ref_once_in_order() -> None:
    policy = Policy.split(
        {"churn@champion": 0.9, "churn@v4": 0.1}, shadows=("churn@v5",), fallback="churn@v4"
    )
    assert policy.refs == ("churn@champion", "churn@v4", "churn@v5")
    assert Policy.single("a@v1", fallback="a@previous").refs == (
        "a@v1",
        "a@previous",
    )


def test_a_bandit_shares_weights_equally_and_ignores_them() -> None:
    policy = Policy.bandit("ucb1", ["a@v1", "a@v2", "a@v3"])
    assert [arm.weight for arm in policy.arms] == [1 / 3] * 3
    assert policy.routing == "ucb1"
    assert set(ROUTINGS) == {"fixed", "epsilon-greedy", "ucb1", "thompson"}


def test_with_weight_renormalises_the_other_arms_in_proportion() -> None:
    policy = Policy.split({"a@v1": 0.8, "a@v2": 0.15, "a@v3": 0.05}, canary="a@v3")
    stepped = policy.with_weight("a@v3", 0.25)
    weights = [arm.weight for arm in stepped.arms]
    assert weights == pytest.approx([0.8 * 0.75 / 0.95, 0.15 * 0.75 / 0.95, 0.25])
    assert math.fsum(weights) == pytest.approx(1.0, abs=1e-12)
    assert stepped.canary == "a@v3"
    # "a" names a@latest; the arm is found by what it names
    two = Policy.split({"a": 0.9, "b@v1": 0.1}).with_weight("a@latest", 0.5)
    assert [arm.weight for arm in two.arms] == [0.5, 0.5]


def test_with_weight_to_zero_and_back_shares_the_rest_equally() -> None:
    policy = Policy.split({"a@v1": 0.5, "a@v2": 0.5}).with_weight("a@v1", 1.0)
    assert [arm.weight for arm in policy.arms] == [1.0, 0.0]
    three = Policy(arms=(Arm("a@v1", 1.0), Arm("a@v2", 0.0), Arm("a@v3", 0.0)))
    assert [arm.weight for arm in three.with_weight("a@v1", 0.4).arms] == [0.4, 0.3, 0.3]


def test_with_weight_refuses_what_cannot_be_stepped() -> None:
    split = Policy.split({"a@v1": 0.9, "a@v2": 0.1})
    refused(lambda: split.with_weight("a@v3", 0.2), "ref", "'a@v3'", "a@v1, a@v2")
    refused(lambda: split.with_weight("a@v2", 1.5), "weight", "1.5", "from 0 to 1")
    refused(lambda: split.with_weight("a@v2", math.nan), "weight", "nan")
    single = Policy.single("a@v1")
    refused(lambda: single.with_weight("a@v1", 0.5), "weight", "only arm", "--canary")
    assert single.with_weight("a@v1", 1.0) == single
    bandit = Policy.bandit("thompson", ["a@v1", "a@v2"])
    refused(lambda: bandit.with_weight("a@v1", 0.5), "routing", "thompson", "ignores weights")


def test_weights_must_sum_to_one() -> None:
    error = refused(
        lambda: Policy.split({"churn@v1": 0.9, "churn@v2": 0.2}),
        "split",
        "sum to 1.1, not 1",
        "churn@v1=0.9, churn@v2=0.2",
        "give weights that sum to 1",
    )
    assert error.code == "invalid_input"
    refused(lambda: Policy(arms=(Arm("a@v1", 0.5), Arm("a@v2", 0.4))), "arms", "sum to 0.9, not 1")
    # Within 1e-9 of 1 is 1: what three decimal weights sum to in floats.
    assert Policy.split({"a@v1": 0.1, "a@v2": 0.2, "a@v3": 0.7}).arms[2].weight == 0.7
    refused(lambda: Policy.split({"a@v1": 1 - 1e-6, "a@v2": 1e-9}), "split", "not 1")


@pytest.mark.parametrize("weight", [0, -0.1, 1.5, math.inf, math.nan, "0.5", True])
def test_each_split_weight_is_above_zero_and_at_most_one(weight: Any) -> None:
    refused(lambda: Policy.split({"a@v1": weight, "a@v2": 0.5}), "split", "'a@v1'", "above 0")


def test_unknown_routing_names_the_routings() -> None:
    error = refused(
        lambda: Policy(arms=(Arm("a@v1", 1.0),), routing="greedy"),
        "routing",
        "'greedy'",
        "fixed, epsilon-greedy, ucb1, thompson",
    )
    assert "policy routing" in str(error)
    refused(lambda: Policy.from_dict(stored(routing="UCB1")), "routing", "'UCB1'")
    refused(lambda: Policy.bandit("random", ["a@v1", "a@v2"]), "routing", "'random'")


def test_a_bandit_needs_two_arms() -> None:
    refused(lambda: Policy.bandit("ucb1", ["a@v1"]), "arms", "at least two", "churn@champion")


@pytest.mark.parametrize(
    ("changes", "field", "fragments"),
    [
        ({"routng": "ucb1"}, "routng", ("'routng'", "did you mean 'routing'?")),
        ({"shadow": []}, "shadow", ("did you mean 'shadows'?",)),
        ({"timeout": 5}, "timeout", ("did you mean 'timeout_ms'?",)),
        (
            {"arms": [{"modle": "a@v1", "weight": 1}]},
            "arms[0].modle",
            ("did you mean 'model'?",),
        ),
        ({"key": {"headr": "X-User"}}, "key.headr", ("did you mean 'header'?",)),
        ({"arms": [{"model": "a@v1"}]}, "arms[0].weight", ("no 'weight'",)),
        ({"arms": [{"model": "a@v1", "weight": "1"}]}, "arms[0].weight", ("'1'", "a number")),
        ({"arms": [{"model": 3, "weight": 1}]}, "arms[0].model", ("3", "text")),
        ({"arms": [{"model": "a@", "weight": 1}]}, "arms[0].model", ("'a@'", "ends with '@'")),
        ({"arms": []}, "arms", ("non-empty",)),
        ({"arms": "a@v1"}, "arms", ("a list",)),
        ({"arms": ["a@v1"]}, "arms[0]", ("an object",)),
        ({"format": 2}, "format", ("2", "pip install -U loopml")),
        ({"format": "1"}, "format", ("'1'", "give 1")),
        ({"epsilon": 0}, "epsilon", ("above 0 and below 1",)),
        ({"epsilon": 1.0}, "epsilon", ("1.0",)),
        ({"max_batch_rows": 0}, "max_batch_rows", ("0", "1 turns batching off")),
        ({"max_batch_rows": 1.5}, "max_batch_rows", ("1.5", "a whole number")),
        ({"max_wait_us": -1}, "max_wait_us", ("-1", "from 0")),
        ({"timeout_ms": 0}, "timeout_ms", ("0", "above 0")),
        ({"timeout_ms": "fast"}, "timeout_ms", ("'fast'", "a number")),
        ({"copy": "gpu"}, "copy", ("'gpu'", "'native'", "'onnx'")),
        ({"shadows": "a@v2"}, "shadows", ("a list",)),
        ({"shadows": ["churn@champion"]}, "shadows[0]", ("also an arm",)),
        ({"shadows": ["a@v2", "a@v2"]}, "shadows[1]", ("twice",)),
        ({"canary": "a@v2"}, "canary", ("'a@v2'", "not one of the arms")),
        ({"canary": "churn@champion"}, "canary", ("at least two arms",)),
        ({"fallback": "x@@"}, "fallback", ("'x@@'",)),
        ({"key": {"header": "X Key"}}, "key.header", ("'X Key'", "HTTP header")),
        ({"key": {"field": ""}}, "key.field", ("input field",)),
        ({"key": "X-Loopml-Key"}, "key", ("an object",)),
    ],
)
def test_a_bad_stored_policy_names_the_key_the_value_and_the_fix(
    changes: dict[str, Any], field: str, fragments: tuple[str, ...]
) -> None:
    refused(lambda: Policy.from_dict(stored(**changes)), field, *fragments)


def test_a_stored_policy_without_arms_or_not_an_object() -> None:
    refused(lambda: Policy.from_dict({"routing": "fixed"}), "arms", "no arms", "'weight'")
    refused(lambda: Policy.from_dict(["a@v1"]), "policy", "JSON object")  # type: ignore[arg-type]


def test_the_same_version_twice_is_refused_however_it_is_written() -> None:
    refused(
        lambda: Policy.split({"churn": 0.5, "churn@latest": 0.5}),
        "arms[1].model",
        "'churn' and 'churn@latest'",
        "once",
    )


def test_a_key_from_a_field_reads_no_header() -> None:
    key = KeySource.of_field("user_id")
    assert (key.header, key.field) == (None, "user_id")
    assert KeySource().header == "X-Loopml-Key"
    # a field is read instead of the header: both may be written, the field wins
    both = KeySource(field="user_id")
    assert (both.header, both.field) == ("X-Loopml-Key", "user_id")
    assert Policy.from_dict(stored(key={"header": "X-A", "field": "u"})).key.field == "u"
