"""The store contract's rules on values: a value either backend cannot hold is refused
at the call, as InvalidInput naming it, before anything is written; every value that is
taken comes back as it was given. Part of :class:`~loopml.testing.store_contract.StoreContract`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.store import MetadataStore, MetricPoint, RunStatus, Severity

__all__ = ["ValueContract"]

DIGEST = "ab" * 32
BIG = 2**63  # one past the largest 64-bit integer
NUL = "a\x00b"  # PostgreSQL cannot store it
SURROGATE = "a\ud800b"  # not valid Unicode: UTF-8 cannot encode it


def _nested(depth: int) -> Any:
    """A JSON value of lists nested ``depth`` deep."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


class ValueContract:
    """Values at the limits of what a store holds, refused or kept whole."""

    @pytest.fixture
    def store(self) -> Iterator[MetadataStore]:
        raise NotImplementedError("StoreContract provides the store")

    def refused(
        self, store: MetadataStore, call: Callable[[], object], *named: str
    ) -> InvalidInput:
        """``call`` raises InvalidInput whose message names ``named``, writing nothing."""
        before = store.info().counts
        with pytest.raises(InvalidInput) as raised:
            call()
        for word in named:
            assert word in str(raised.value), str(raised.value)
        assert store.info().counts == before
        return raised.value

    def test_numbers_out_of_64_bits_are_refused(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        for step in (BIG, -BIG - 1, 10**30):
            point = MetricPoint("loss", 1.0, step=step)
            self.refused(store, partial(store.log_metrics, run.id, [point]), "step", "range")
        self.refused(
            store,
            lambda: store.log_metrics(run.id, [MetricPoint("loss", 10**400)]),
            "'loss'",
            "too large",
        )
        self.refused(
            store,
            lambda: store.create_artifact(kind="file", name="f", digest=DIGEST, size=BIG),
            "artifact size",
        )
        self.refused(store, lambda: store.find_runs(limit=BIG), "limit")
        self.refused(store, lambda: store.find_artifacts(limit=-1), "limit")
        made = dataclasses.replace(store.get_run(run.id), id="f" * 32, pid=2**31)
        self.refused(store, lambda: store.record_runs([(made, [])]), "pid")

    def test_a_bad_last_point_leaves_the_run_running_and_unwritten(
        self, store: MetadataStore
    ) -> None:
        run = store.create_run(kind="train", name="fit")
        points = [MetricPoint("loss", 1.0, step=0), MetricPoint("loss", 2.0, step=BIG)]
        self.refused(store, lambda: store.finish_run(run.id, RunStatus.SUCCEEDED, metrics=points))
        assert store.get_run(run.id).status is RunStatus.RUNNING
        store.finish_run(run.id, RunStatus.SUCCEEDED, metrics=points[:1])
        assert [m.value for m in store.metrics(run.id)] == [1.0]

    def test_the_limits_themselves_come_back_whole(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit", params={"deep": _nested(64)})
        points = [
            MetricPoint("loss", 1e308, step=BIG - 1),
            MetricPoint("loss", -math.inf, step=-BIG),
            MetricPoint("loss", 5e-324, step=0),
        ]
        store.log_metrics(run.id, points)
        assert [(m.step, m.value) for m in store.metrics(run.id)] == [
            (-BIG, -math.inf),
            (0, 5e-324),
            (BIG - 1, 1e308),
        ]
        assert store.get_run(run.id).params == {"deep": _nested(64)}
        big = store.create_artifact(kind="file", name="f", digest=DIGEST, size=BIG - 1)
        assert store.get_artifact(big.id).size == BIG - 1
        text = "naïve ✓ 😀 \t\n"  # any valid Unicode but NUL is text a store holds
        tagged = store.set_run_tags(run.id, {text: text})
        assert tagged.tags == {text: text} == store.get_run(run.id).tags

    def test_text_with_nul_or_a_lone_surrogate_is_refused(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        artifact = store.create_artifact(kind="file", name="f", digest=DIGEST, size=1)
        for bad in (NUL, SURROGATE):
            artifact_with = partial(store.create_artifact, kind="file", digest=DIGEST, size=1)
            calls: list[tuple[Callable[[], object], str]] = [
                (partial(store.create_run, kind="train", name=bad), "run name"),
                (partial(store.create_run, kind=bad, name="fit"), "run kind"),
                (partial(store.create_run, kind="t", name="f", params={bad: 1}), "key"),
                (partial(store.create_run, kind="t", name="f", params={"p": bad}), "'p'"),
                (partial(store.log_params, run.id, {"p": {"inner": [bad]}}), "'p'"),
                (partial(store.set_run_tags, run.id, {"t": {bad: 1}}), "'t'"),
                (partial(store.log_metrics, run.id, [MetricPoint(bad, 1.0)]), "metric key"),
                (partial(artifact_with, name=bad), "artifact name"),
                (partial(artifact_with, name="f", uri=bad), "artifact uri"),
                (partial(artifact_with, name="f", metadata={"m": bad}), "artifact metadata"),
                (
                    partial(store.create_alert, kind="drift", severity=Severity.INFO, message=bad),
                    "alert message",
                ),
                (partial(store.set_alias, "champion", artifact.id, reason=bad), "reason"),
                (
                    partial(
                        store.create_schedule,
                        name="nightly",
                        target="p.py:p",
                        resolved_target="/p.py:p",
                        params={"x": bad},
                        every_seconds=60,
                    ),
                    "schedule params",
                ),
            ]
            for call, named in calls:
                self.refused(store, call, named)

    def test_json_that_would_change_or_not_read_back_is_refused(self, store: MetadataStore) -> None:
        self.refused(
            store,
            lambda: store.create_run(kind="t", name="f", params={"deep": _nested(65)}),
            "'deep'",
            "nested more than 64",
        )
        self.refused(  # JSON would turn the key 1 into "1"
            store, lambda: store.create_run(kind="t", name="f", tags={"t": {1: "a"}}), "key 1"
        )
        self.refused(
            store, lambda: store.create_run(kind="t", name="f", params={"p": [math.nan]}), "'p'"
        )

    def test_text_loopml_writes_itself_is_kept_escaped(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        done = store.finish_run(run.id, RunStatus.FAILED, error=f"ValueError: {NUL} {SURROGATE}")
        assert done.error == "ValueError: a\\x00b a\\ud800b" == store.get_run(run.id).error

    def test_lookups_by_values_no_record_can_have_find_nothing(self, store: MetadataStore) -> None:
        store.create_artifact(kind="file", name="f", digest=DIGEST, size=1)
        for version in (2**31, BIG, 10**30):
            with pytest.raises(NotFound, match="no version"):
                store.get_artifact_version("file", "f", version)
        for bad in (NUL, SURROGATE):  # found nothing, or refused: never a driver's error
            try:
                found: object = store.find_runs(name=bad)
            except InvalidInput as error:
                found = str(error)
            assert found == [] or "refused a value" in str(found), found
