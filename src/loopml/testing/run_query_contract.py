"""The run query rules of the metadata store contract, as tests: ``find_runs`` with a
condition (:mod:`loopml.store.query`) on runs' fields, parameters, tags and latest
metrics, an order, and pages that start after a run.

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store`` fixture. Beside the
cases written out, many conditions and orders drawn at random (with a fixed seed) must
give exactly what :func:`loopml.store.query.select_runs` gives on the same runs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import pytest

from loopml.errors import NotFound
from loopml.store import MetadataStore, MetricPoint, Run, RunStatus
from loopml.store.query import (
    And,
    Compare,
    Condition,
    Constant,
    Field,
    Items,
    Not,
    Operand,
    Or,
    RunOrder,
    select_runs,
)

__all__ = ["RunQueryContract"]

# Keys a backend may find hard to name: a quote, a backslash, a dot, accents, a space.
ODD_KEYS = ('say "hi"', "back\\slash", "a.b", "éte", "two words")
VALUES: tuple[Any, ...] = (
    1,
    0,
    -1,
    2.5,
    0.1,
    1e-7,
    2**53 + 1,
    2**70,
    -(10**400),
    True,
    False,
    None,
    "a",
    "b",
    "ab",
    "",
    "A",
    "é",
    "1",
    [1, 2],
    [1],
    {"x": 1},
    {},
)
METRIC_VALUES = (0.5, 0.9, 0.93, 1.0, -2.0, math.nan, math.inf, 0.1)
CONSTANTS: tuple[Any, ...] = (
    0,
    1,
    -1,
    0.1,
    0.9,
    2.5,
    2**53 + 1,
    2**70,
    True,
    False,
    None,
    "a",
    "ab",
    "",
    "é",
    "1",
    "risk",
    math.inf,
)
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")


def _c(left: Operand, op: str, right: Operand) -> Compare:
    return Compare((left, right), (op,))


def _metric(key: str) -> Field:
    return Field("metrics", key)


def _param(key: str) -> Field:
    return Field("params", key)


def _names(runs: Sequence[Run]) -> list[str]:
    return [run.name for run in runs]


class RunQueryContract:
    """The rules of ``find_runs`` with ``where``, ``order_by`` and ``after``."""

    def _training(self, store: MetadataStore) -> dict[str, Run]:
        """Four runs over C, whose AUC rises with C, and one failed run without any."""
        runs = {}
        for C, auc in [(0.1, 0.71), (0.5, 0.88), (1.0, 0.93), (2.0, 0.95)]:
            run = store.create_run(kind="training", name=f"C={C}", params={"C": C}, tags={})
            store.log_metrics(run.id, [MetricPoint("auc", auc - 0.1, step=0)])
            store.log_metrics(run.id, [MetricPoint("auc", auc, step=1)])
            store.log_metrics(run.id, [MetricPoint("val-loss", 1 - auc)])
            runs[run.name] = store.finish_run(run.id, RunStatus.SUCCEEDED)
        failed = store.create_run(kind="training", name="failed", tags={"team": "risk"})
        runs["failed"] = store.finish_run(failed.id, RunStatus.FAILED, "out of memory")
        return runs

    def _mixed(self, store: MetadataStore, count: int = 40, seed: int = 7) -> list[Run]:
        """Runs with parameters, tags and metrics of every kind, some missing."""
        draw = random.Random(seed)
        parent = None
        for i in range(count):
            keys = ("C", "lr", *ODD_KEYS)
            params = {key: draw.choice(VALUES) for key in keys if draw.random() < 0.7}
            tags = {"team": draw.choice(["risk", "growth", "", None, 3])} if i % 4 else {}
            run = store.create_run(
                kind=draw.choice(["training", "trial"]),
                name=f"run-{i}",
                params=params,
                tags=tags,
                parent_id=parent if i % 5 == 1 else None,
            )
            parent = parent or run.id
            points = []
            for step in range(draw.randint(0, 3)):
                for key in ("auc", "val-loss"):
                    if draw.random() < 0.7:
                        points.append(MetricPoint(key, draw.choice(METRIC_VALUES), step=step))
            store.log_metrics(run.id, points)
            if i % 3:
                store.finish_run(run.id, draw.choice([RunStatus.SUCCEEDED, RunStatus.FAILED]))
        return store.find_runs()

    def _reference(
        self,
        store: MetadataStore,
        *,
        where: Condition | None = None,
        order_by: RunOrder | None = None,
        newest_first: bool = False,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        every = store.find_runs()
        latest = store.latest_metrics([run.id for run in every])
        pairs = [(run, latest.get(run.id, {})) for run in every]
        start = None if after is None else next(pair for pair in pairs if pair[0].id == after)
        return select_runs(
            pairs,
            where=where,
            order_by=order_by,
            newest_first=newest_first,
            after=start,
            limit=limit,
        )

    # -- conditions ------------------------------------------------------------------

    def test_where_reads_latest_metrics_params_tags_and_fields(self, store: MetadataStore) -> None:
        self._training(store)
        good = And((_c(_metric("auc"), ">", Constant(0.9)), _c(_param("C"), "<", Constant(2))))
        assert _names(store.find_runs(where=good)) == ["C=1.0"]  # the latest value counts
        lossy = _c(_metric("val-loss"), "<", Constant(0.1))
        assert _names(store.find_runs(where=lossy, newest_first=True)) == ["C=2.0", "C=1.0"]
        failed = _c(Field("run", "status"), "==", Constant("failed"))
        assert _names(store.find_runs(where=failed)) == ["failed"]
        risky = _c(Field("tags", "team"), "==", Constant("risk"))
        assert _names(store.find_runs(where=risky)) == ["failed"]
        chained = Compare((Constant(0.9), _metric("auc"), Constant(1)), ("<", "<="))
        assert _names(store.find_runs(where=chained)) == ["C=1.0", "C=2.0"]
        listed = _c(_param("C"), "in", Items((Constant(0.1), Constant(0.5))))
        assert _names(store.find_runs(where=listed)) == ["C=0.1", "C=0.5"]

    def test_a_missing_field_never_matches_but_not_of_it_does(self, store: MetadataStore) -> None:
        self._training(store)
        for op in OPERATORS:
            unknown = _c(_metric("nothing"), op, Constant(0.5))
            assert store.find_runs(where=unknown) == []
            assert len(store.find_runs(where=Not(unknown))) == 5  # `not` of it holds
        low = _c(_metric("auc"), ">=", Constant(0))
        assert _names(store.find_runs(where=Not(low))) == ["failed"]
        either = Or((_c(_param("C"), "in", Items((Constant(0.1),))), Not(low)))
        assert _names(store.find_runs(where=either)) == ["C=0.1", "failed"]

    def test_only_like_is_compared_with_like(self, store: MetadataStore) -> None:
        made = {}
        for name, value in [("two", 2), ("big", "big"), ("yes", True), ("none", None)]:
            made[name] = store.create_run(kind="training", name=name, params={"x": value})

        def found(op: str, constant: Any) -> list[str]:
            return _names(store.find_runs(where=_c(_param("x"), op, Constant(constant))))

        assert found(">", 1) == ["two"]  # text is neither more nor less than a number
        assert found("!=", 2) == ["big", "yes", "none"]
        assert found("==", 1) == ["yes"]  # True is 1, as in Python
        assert found("==", None) == ["none"]
        assert found("<", None) == []
        assert found("in", "a big one") == ["big"]  # text in text: a substring
        assert found("in", 2) == []  # `x in 2` is no match, not an error

    def test_metrics_that_are_nan_or_infinite(self, store: MetadataStore) -> None:
        for name, value in [("nan", math.nan), ("inf", math.inf), ("one", 1.0)]:
            run = store.create_run(kind="training", name=name)
            store.log_metrics(run.id, [MetricPoint("m", value)])
        assert _names(store.find_runs(where=_c(_metric("m"), ">", Constant(0)))) == ["inf", "one"]
        assert _names(store.find_runs(where=_c(_metric("m"), "!=", Constant(1)))) == ["nan", "inf"]
        assert _names(store.find_runs(where=_c(_metric("m"), "==", Constant(math.inf)))) == ["inf"]

    def test_keys_of_any_text_are_read(self, store: MetadataStore) -> None:
        for i, key in enumerate(ODD_KEYS):
            store.create_run(kind="training", name=f"r{i}", params={key: i}, tags={key: str(i)})
        for i, key in enumerate(ODD_KEYS):
            assert _names(store.find_runs(where=_c(_param(key), "==", Constant(i)))) == [f"r{i}"]
            tag = _c(Field("tags", key), "==", Constant(str(i)))
            assert _names(store.find_runs(where=tag)) == [f"r{i}"]
        for scope in ("params", "tags", "metrics"):  # a key no store holds: no run has it
            never = _c(Field(scope, "nul\x00"), ">", Constant(0))
            assert store.find_runs(where=never) == []
            assert len(store.find_runs(where=Not(never))) == len(ODD_KEYS)
            by = RunOrder(Field(scope, "\ud800"), descending=True)
            assert _names(store.find_runs(order_by=by)) == [f"r{i}" for i in range(len(ODD_KEYS))]

    def test_where_with_filters_and_limit(self, store: MetadataStore) -> None:
        runs = self._training(store)
        high = _c(_metric("auc"), ">", Constant(0.8))
        found = store.find_runs(where=high, kind="training", newest_first=True, limit=2)
        assert _names(found) == ["C=2.0", "C=1.0"]
        assert store.find_runs(where=high, status=RunStatus.FAILED) == []
        child = store.create_run(kind="trial", name="child", parent_id=runs["C=0.5"].id)
        assert store.find_runs(where=high, parent_id=runs["C=0.5"].id) == []
        parented = _c(Field("run", "parent"), "==", Constant(runs["C=0.5"].id))
        assert store.find_runs(where=parented) == [child]
        rooted = _c(Field("run", "parent"), "==", Constant(None))
        assert len(store.find_runs(where=rooted)) == 5

    def test_conditions_drawn_at_random_agree_with_the_reference(
        self, store: MetadataStore
    ) -> None:
        self._mixed(store)
        draw = random.Random(11)
        for _ in range(250):
            where = _condition(draw, depth=3)
            newest_first = draw.random() < 0.5
            found = store.find_runs(where=where, newest_first=newest_first)
            expected = self._reference(store, where=where, newest_first=newest_first)
            assert _names(found) == _names(expected), where

    # -- orders and pages ------------------------------------------------------------

    def test_order_numbers_then_text_then_other_values_then_missing(
        self, store: MetadataStore
    ) -> None:
        for name, value in [
            ("two", 2),
            ("b", "b"),
            ("list", [1]),
            ("none", None),
            ("half", 0.5),
            ("yes", True),
            ("a", "a"),
        ]:
            store.create_run(kind="training", name=name, params={"x": value})
        store.create_run(kind="training", name="without")
        up = _names(store.find_runs(order_by=RunOrder(_param("x"))))
        assert up == ["half", "yes", "two", "none", "a", "b", "list", "without"]  # None: 'None'
        down = _names(store.find_runs(order_by=RunOrder(_param("x"), descending=True)))
        assert down == ["two", "yes", "half", "b", "a", "none", "list", "without"]

    def test_ties_keep_the_default_order(self, store: MetadataStore) -> None:
        for i in range(4):
            store.create_run(kind="training", name=f"r{i}", params={"x": i % 2})
        by_x = RunOrder(_param("x"), descending=True)
        assert _names(store.find_runs(order_by=by_x)) == ["r1", "r3", "r0", "r2"]
        assert _names(store.find_runs(order_by=by_x, newest_first=True)) == [
            "r3",
            "r1",
            "r2",
            "r0",
        ]

    def test_orders_by_metrics_and_run_fields(self, store: MetadataStore) -> None:
        runs = self._training(store)
        best = store.find_runs(order_by=RunOrder(_metric("auc"), descending=True))
        assert _names(best) == ["C=2.0", "C=1.0", "C=0.5", "C=0.1", "failed"]
        assert _names(store.find_runs(order_by=RunOrder(Field("run", "name")))) == [
            "C=0.1",
            "C=0.5",
            "C=1.0",
            "C=2.0",
            "failed",
        ]
        running = store.create_run(kind="training", name="running")
        slowest = store.find_runs(order_by=RunOrder(Field("run", "seconds"), descending=True))
        assert slowest[-1] == running  # no end yet: last
        assert sorted(_names(slowest[:-1])) == sorted(runs)
        newest = store.find_runs(order_by=RunOrder(Field("run", "started_at"), descending=True))
        assert newest == store.find_runs(newest_first=True)

    def test_orders_drawn_at_random_agree_with_the_reference(self, store: MetadataStore) -> None:
        self._mixed(store)
        draw = random.Random(5)
        fields = [
            *(Field("run", key) for key in ("name", "kind", "status", "parent", "seconds")),
            *(Field("params", key) for key in ("C", "lr", "nothing", *ODD_KEYS)),
            Field("tags", "team"),
            _metric("auc"),
            _metric("val-loss"),
        ]
        for field in fields:
            for descending in (False, True):
                order = RunOrder(field, descending)
                where = _condition(draw, depth=1) if draw.random() < 0.5 else None
                newest_first = draw.random() < 0.5
                found = store.find_runs(where=where, order_by=order, newest_first=newest_first)
                expected = self._reference(
                    store, where=where, order_by=order, newest_first=newest_first
                )
                assert _names(found) == _names(expected), (order, where)

    def test_pages_after_a_run_give_every_run_once(self, store: MetadataStore) -> None:
        self._mixed(store, count=30)
        for order in (None, RunOrder(_metric("auc"), True), RunOrder(_param("C"))):
            for where in (None, _c(_metric("auc"), ">", Constant(0.5))):
                expected = self._reference(store, where=where, order_by=order, newest_first=True)
                pages: list[Run] = []
                after = None
                while True:
                    page = store.find_runs(
                        where=where, order_by=order, newest_first=True, after=after, limit=4
                    )
                    pages += page
                    if len(page) < 4:
                        break
                    after = page[-1].id
                assert _names(pages) == _names(expected), (order, where)

    def test_runs_recorded_between_pages_do_not_shift_them(self, store: MetadataStore) -> None:
        for i in range(6):
            store.create_run(kind="training", name=f"r{i}")
        first = store.find_runs(newest_first=True, limit=3)
        store.create_run(kind="training", name="later")  # before the first page now
        second = store.find_runs(newest_first=True, after=first[-1].id, limit=3)
        assert _names(first + second) == ["r5", "r4", "r3", "r2", "r1", "r0"]
        after = store.find_runs(after=first[-1].id)  # oldest first: after r3 come r4, r5
        assert _names(after) == ["r4", "r5", "later"]

    def test_after_a_run_that_does_not_match_or_does_not_exist(self, store: MetadataStore) -> None:
        runs = self._training(store)
        high = _c(_metric("auc"), ">", Constant(0.9))
        later = store.find_runs(where=high, after=runs["C=0.1"].id)
        assert _names(later) == ["C=1.0", "C=2.0"]
        with pytest.raises(NotFound, match="no run"):
            store.find_runs(after="0" * 32)
        with pytest.raises(NotFound, match="no run"):
            store.find_runs(where=high, order_by=RunOrder(_metric("auc")), after="nothing")


def _condition(draw: random.Random, depth: int) -> Condition:
    roll = draw.random()
    if depth > 0 and roll < 0.15:
        return Not(_condition(draw, depth - 1))
    if depth > 0 and roll < 0.35:
        parts = tuple(_condition(draw, depth - 1) for _ in range(draw.randint(2, 3)))
        return And(parts) if draw.random() < 0.5 else Or(parts)
    operands = [_random_field(draw), _operand(draw)]
    if draw.random() < 0.15:  # a chain: 0 < metrics.auc <= 1
        operands.insert(0, _operand(draw))
    elif draw.random() < 0.3:
        operands.reverse()
    return Compare(tuple(operands), tuple(draw.choice(OPERATORS) for _ in operands[1:]))


def _operand(draw: random.Random) -> Operand:
    roll = draw.random()
    if roll < 0.25:
        return _random_field(draw)
    if roll < 0.4:
        size = draw.randint(0, 3)
        inner = [_random_field(draw) if draw.random() < 0.1 else _constant(draw) for _ in "abc"]
        return Items(tuple(inner[:size]))
    return _constant(draw)


def _random_field(draw: random.Random) -> Field:
    scope = draw.choice(["metrics", "params", "params", "tags", "run"])
    if scope == "metrics":
        return Field(scope, draw.choice(["auc", "val-loss", "nothing"]))
    if scope == "params":
        return Field(scope, draw.choice(["C", "lr", "nothing", *ODD_KEYS]))
    if scope == "tags":
        return Field(scope, draw.choice(["team", "nothing"]))
    return Field(scope, draw.choice(["id", "name", "kind", "status", "parent", "host"]))


def _constant(draw: random.Random) -> Constant:
    return Constant(draw.choice(CONSTANTS))
