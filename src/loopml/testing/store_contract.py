"""The contract test kit every metadata store backend must pass.

Subclass :class:`StoreContract` in a test module and give it a ``store_url`` fixture
that yields, for each test, the URL of a fresh place for a store: the kit makes the
store there with ``open_store(url, create=True)``::

    class TestMyBackend(StoreContract):
        @pytest.fixture
        def store_url(self, tmp_path):
            yield f"sqlite:///{tmp_path}/loopml.db"

The rules tested are the ones in the docstring of :mod:`loopml.store._base`.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC

import pytest

from loopml.errors import AlreadyExists, InvalidInput, NotFound, StoreMissing
from loopml.store import (
    Direction,
    MetadataStore,
    MetricPoint,
    RunStatus,
    Severity,
    open_store,
)
from loopml.testing.alias_contract import AliasContract
from loopml.testing.run_query_contract import RunQueryContract
from loopml.testing.schedule_contract import ScheduleContract
from loopml.testing.value_contract import ValueContract

__all__ = ["StoreContract"]

DIGEST = "ab" * 32
OTHER = "cd" * 32


def _write_versions(url: str, name: str, count: int, barrier: object) -> None:
    """A child process: create ``count`` versions of one name once all children are ready."""
    store = open_store(url)
    barrier.wait()  # type: ignore[attr-defined]
    for _ in range(count):
        store.create_artifact(kind="dataset", name=name, digest=DIGEST, size=1)
    store.close()


class StoreContract(AliasContract, RunQueryContract, ScheduleContract, ValueContract):
    """The rules of :class:`~loopml.store.MetadataStore`, as tests (those of aliases in
    :class:`~loopml.testing.alias_contract.AliasContract`, of run queries in
    :class:`~loopml.testing.run_query_contract.RunQueryContract`, of schedules in
    :class:`~loopml.testing.schedule_contract.ScheduleContract`, of values in
    :class:`~loopml.testing.value_contract.ValueContract`)."""

    @pytest.fixture
    def store_url(self) -> Iterator[str]:
        raise NotImplementedError("a backend's test class provides store_url")

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[MetadataStore]:
        store = open_store(store_url, create=True)
        yield store
        store.close()

    # -- artifacts -------------------------------------------------------------------

    def test_versions_count_from_one_per_kind_and_name(self, store: MetadataStore) -> None:
        a1 = store.create_artifact(kind="dataset", name="churn", digest=DIGEST, size=3)
        a2 = store.create_artifact(kind="dataset", name="churn", digest=OTHER, size=4)
        b1 = store.create_artifact(kind="dataset", name="other", digest=DIGEST, size=3)
        m1 = store.create_artifact(kind="model", name="churn", digest=DIGEST, size=3)
        assert [a1.version, a2.version, b1.version, m1.version] == [1, 2, 1, 1]
        assert a2.ref == "churn@v2"
        assert store.latest_artifact("dataset", "churn") == a2
        assert store.get_artifact_version("dataset", "churn", 1) == a1
        assert store.get_artifact(m1.id) == m1

    def test_artifact_fields_round_trip(self, store: MetadataStore) -> None:
        metadata = {"rows": 10, "columns": ["a", "b"], "nested": {"ok": True, "none": None}}
        created = store.create_artifact(
            kind="file", name="notes é", digest=DIGEST, size=12, uri="s3://b/k", metadata=metadata
        )
        read = store.get_artifact(created.id)
        assert read == created
        assert read.metadata == metadata
        assert read.uri == "s3://b/k"
        assert read.created_at.tzinfo is UTC

    def test_unknown_artifacts_raise_not_found_naming_them(self, store: MetadataStore) -> None:
        store.create_artifact(kind="dataset", name="churn", digest=DIGEST, size=1)
        with pytest.raises(NotFound, match="nope"):
            store.get_artifact("nope")
        with pytest.raises(NotFound, match=r"v7.*latest is v1"):
            store.get_artifact_version("dataset", "churn", 7)
        with pytest.raises(NotFound, match="'ghost'"):
            store.latest_artifact("dataset", "ghost")
        for beyond in (0, -1, 2**63, 10**23):  # no version a store could hold
            with pytest.raises(NotFound, match=rf"v{beyond}.*latest is v1"):
                store.get_artifact_version("dataset", "churn", beyond)

    def test_limits_a_store_cannot_hold_are_refused(self, store: MetadataStore) -> None:
        store.create_artifact(kind="dataset", name="churn", digest=DIGEST, size=1)
        run = store.create_run(kind="train", name="fit")
        assert [r.id for r in store.find_runs(limit=2**63 - 1)] == [run.id]
        for call in (store.find_artifacts, store.find_runs, store.find_alerts):
            for beyond in (-1, 2**63, 10**23):
                with pytest.raises(InvalidInput, match="out of range"):
                    call(limit=beyond)

    def test_find_artifacts_filters_and_orders(self, store: MetadataStore) -> None:
        store.create_artifact(kind="model", name="b", digest=DIGEST, size=1)
        store.create_artifact(kind="dataset", name="b", digest=OTHER, size=1)
        store.create_artifact(kind="dataset", name="a", digest=DIGEST, size=1)
        store.create_artifact(kind="dataset", name="a", digest=OTHER, size=1)
        every = store.find_artifacts()
        assert [(a.kind, a.name, a.version) for a in every] == [
            ("dataset", "a", 1),
            ("dataset", "a", 2),
            ("dataset", "b", 1),
            ("model", "b", 1),
        ]
        assert [a.ref for a in store.find_artifacts(kind="dataset", digest=OTHER)] == [
            "a@v2",
            "b@v1",
        ]
        assert len(store.find_artifacts(name="a", limit=1)) == 1

    def test_output_event_is_written_with_the_artifact(self, store: MetadataStore) -> None:
        run = store.create_run(kind="step", name="featurize")
        artifact = store.create_artifact(
            kind="dataset", name="feats", digest=DIGEST, size=1, run_id=run.id, role="features"
        )
        [event] = store.events(run_id=run.id)
        assert (event.artifact_id, event.direction, event.role) == (
            artifact.id,
            Direction.OUTPUT,
            "features",
        )

    def test_artifact_for_unknown_run_is_not_created(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound, match="no run"):
            store.create_artifact(kind="dataset", name="x", digest=DIGEST, size=1, run_id="gone")
        assert store.find_artifacts() == []

    def test_bad_artifact_values_are_rejected(self, store: MetadataStore) -> None:
        with pytest.raises(InvalidInput, match="artifact name"):
            store.create_artifact(kind="dataset", name="", digest=DIGEST, size=1)
        with pytest.raises(InvalidInput, match="size"):
            store.create_artifact(kind="dataset", name="x", digest=DIGEST, size=-1)
        with pytest.raises(InvalidInput, match="'bad'"):
            store.create_artifact(
                kind="dataset", name="x", digest=DIGEST, size=1, metadata={"bad": object()}
            )
        assert store.find_artifacts() == []

    def test_records_are_frozen_snapshots(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="r", tags={"a": 1})
        with pytest.raises(dataclasses.FrozenInstanceError):
            run.status = RunStatus.FAILED  # type: ignore[misc]
        store.set_run_tags(run.id, {"b": 2})
        store.finish_run(run.id, RunStatus.SUCCEEDED)
        assert run.status is RunStatus.RUNNING
        assert run.tags == {"a": 1}

    # -- runs ------------------------------------------------------------------------

    def test_run_lifecycle(self, store: MetadataStore) -> None:
        params = {"C": 0.5, "layers": [64, 32], "opt": {"name": "adam"}, "flag": True, "x": None}
        run = store.create_run(kind="train", name="fit", params=params, fingerprint="f" * 64)
        assert run.status is RunStatus.RUNNING
        assert run.ended_at is None
        assert run.params == params
        done = store.finish_run(run.id, RunStatus.FAILED, error="boom")
        assert done.status is RunStatus.FAILED
        assert done.error == "boom"
        assert done.ended_at is not None
        assert done.ended_at >= done.started_at
        assert store.get_run(run.id) == done

    def test_a_finished_run_cannot_change(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        store.finish_run(run.id, RunStatus.SUCCEEDED)
        with pytest.raises(InvalidInput, match="already succeeded"):
            store.finish_run(run.id, RunStatus.FAILED)
        with pytest.raises(InvalidInput, match="already succeeded"):
            store.set_run_tags(run.id, {"late": True})
        read = store.get_run(run.id)
        assert read.status is RunStatus.SUCCEEDED
        assert read.tags == {}

    def test_finish_needs_a_finished_status(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        with pytest.raises(InvalidInput, match="finished status"):
            store.finish_run(run.id, RunStatus.RUNNING)
        with pytest.raises(InvalidInput, match="'done'"):
            store.finish_run(run.id, "done")  # type: ignore[arg-type]

    def test_a_run_recorded_finished_has_an_end(self, store: MetadataStore) -> None:
        run = store.create_run(kind="step", name="cached step", status=RunStatus.CACHED)
        assert run.status is RunStatus.CACHED
        assert run.ended_at == run.started_at

    def test_tags_merge_while_running(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit", tags={"a": 1, "b": 1})
        assert store.set_run_tags(run.id, {"b": 2, "c": 3}).tags == {"a": 1, "b": 2, "c": 3}

    def test_params_that_json_cannot_hold_are_rejected(self, store: MetadataStore) -> None:
        with pytest.raises(InvalidInput, match="'lr'"):
            store.create_run(kind="train", name="fit", params={"lr": math.nan})
        with pytest.raises(InvalidInput, match="'model'"):
            store.create_run(kind="train", name="fit", params={"model": object()})
        with pytest.raises(InvalidInput, match="key 3"):
            store.create_run(kind="train", name="fit", params={3: "x"})  # type: ignore[dict-item]
        assert store.find_runs() == []

    def test_child_runs_and_filters(self, store: MetadataStore) -> None:
        parent = store.create_run(kind="tune", name="study")
        kids = [store.create_run(kind="trial", name=f"t{i}", parent_id=parent.id) for i in range(3)]
        store.finish_run(kids[1].id, RunStatus.FAILED)
        assert [r.id for r in store.find_runs(parent_id=parent.id)] == [k.id for k in kids]
        assert [r.id for r in store.find_runs(status=RunStatus.FAILED)] == [kids[1].id]
        assert [r.id for r in store.find_runs(kind="tune")] == [parent.id]
        assert [r.id for r in store.find_runs(name="t2")] == [kids[2].id]
        assert len(store.find_runs(limit=2)) == 2
        with pytest.raises(NotFound, match="parent run"):
            store.create_run(kind="trial", name="orphan", parent_id="missing")

    def test_params_added_later_never_change(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit", params={"C": 0.5})
        assert store.log_params(run.id, {"layers": [64, 32], "C": 0.5}).params == {
            "C": 0.5,
            "layers": [64, 32],
        }
        with pytest.raises(InvalidInput, match=r"'C' of run \w+ is already 0.5, so it cannot"):
            store.log_params(run.id, {"new": 1, "C": 1.0})
        assert store.get_run(run.id).params == {"C": 0.5, "layers": [64, 32]}  # nothing written
        with pytest.raises(InvalidInput, match="'bad'"):
            store.log_params(run.id, {"bad": object()})
        store.finish_run(run.id, RunStatus.SUCCEEDED)
        with pytest.raises(InvalidInput, match="already succeeded"):
            store.log_params(run.id, {"late": 1})
        with pytest.raises(NotFound, match="no run"):
            store.log_params("gone", {"x": 1})

    def test_runs_newest_first_and_by_id_suffix(self, store: MetadataStore) -> None:
        runs = [store.create_run(kind="train", name=f"r{i}") for i in range(4)]
        newest = store.find_runs(newest_first=True, limit=2)
        assert [r.id for r in newest] == [runs[3].id, runs[2].id]
        assert [r.id for r in store.find_runs(id_suffix=runs[1].id[-12:])] == [runs[1].id]
        assert store.find_runs(id_suffix="%") == []  # a LIKE wildcard is only a character
        assert store.find_runs(id_suffix="_") == []

    def test_runs_record_where_they_ran(self, store: MetadataStore) -> None:
        import os

        run = store.create_run(kind="train", name="fit")
        assert run.pid == os.getpid()
        assert run.host

    def test_unknown_run_raises_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound, match="'nope'"):
            store.get_run("nope")
        with pytest.raises(NotFound, match="'nope'"):
            store.finish_run("nope", RunStatus.SUCCEEDED)

    # -- lineage ---------------------------------------------------------------------

    def test_events_link_runs_and_artifacts(self, store: MetadataStore) -> None:
        data = store.create_artifact(kind="dataset", name="raw", digest=DIGEST, size=1)
        run = store.create_run(kind="step", name="clean")
        first = store.add_event(run.id, data.id, Direction.INPUT, "raw")
        again = store.add_event(run.id, data.id, Direction.INPUT, "raw")
        assert first == again
        out = store.create_artifact(
            kind="dataset", name="clean", digest=OTHER, size=1, run_id=run.id
        )
        assert [(e.artifact_id, e.direction) for e in store.events(run_id=run.id)] == [
            (data.id, Direction.INPUT),
            (out.id, Direction.OUTPUT),
        ]
        assert [e.run_id for e in store.events(artifact_id=data.id)] == [run.id]

    def test_a_run_is_created_with_its_events_all_or_nothing(self, store: MetadataStore) -> None:
        data = store.create_artifact(kind="dataset", name="raw", digest=DIGEST, size=1)
        out = store.create_artifact(kind="dataset", name="clean", digest=OTHER, size=1)
        run = store.create_run(
            kind="step",
            name="clean",
            status=RunStatus.CACHED,
            events=[
                (data.id, Direction.INPUT, "raw"),
                (data.id, Direction.INPUT, "raw"),  # the same event once
                (out.id, Direction.OUTPUT, "output"),
            ],
        )
        assert [(e.artifact_id, e.direction, e.role) for e in store.events(run_id=run.id)] == [
            (data.id, Direction.INPUT, "raw"),
            (out.id, Direction.OUTPUT, "output"),
        ]
        before = store.find_runs(name="again")
        with pytest.raises(NotFound, match="'missing'"):
            store.create_run(kind="step", name="again", events=[("missing", Direction.INPUT, "x")])
        with pytest.raises(InvalidInput, match="sideways"):
            store.create_run(
                kind="step",
                name="again",
                events=[(data.id, "sideways", "x")],  # type: ignore[list-item]
            )
        assert store.find_runs(name="again") == before  # nothing was written

    def test_events_need_both_ends(self, store: MetadataStore) -> None:
        data = store.create_artifact(kind="dataset", name="raw", digest=DIGEST, size=1)
        run = store.create_run(kind="step", name="clean")
        with pytest.raises(NotFound, match="artifact"):
            store.add_event(run.id, "missing", Direction.INPUT, "raw")
        with pytest.raises(NotFound, match="run"):
            store.add_event("missing", data.id, Direction.INPUT, "raw")
        with pytest.raises(InvalidInput, match="sideways"):
            store.add_event(run.id, data.id, "sideways", "raw")  # type: ignore[arg-type]
        assert store.events(run_id=run.id) == []

    # -- metrics ---------------------------------------------------------------------

    def test_metrics_round_trip_in_order(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        store.log_metrics(
            run.id,
            [
                MetricPoint("loss", 0.5, step=1),
                MetricPoint("acc", 0.9, step=0),
                MetricPoint("loss", 0.9, step=0),
                MetricPoint("loss", math.nan, step=2),
                MetricPoint("loss", math.inf, step=3),
            ],
        )
        store.log_metrics(run.id, [MetricPoint("loss", 0.1, step=4)])
        points = store.metrics(run.id)
        assert [(m.key, m.step) for m in points] == [
            ("acc", 0),
            ("loss", 0),
            ("loss", 1),
            ("loss", 2),
            ("loss", 3),
            ("loss", 4),
        ]
        loss = store.metrics(run.id, key="loss")
        assert [m.value for m in loss][:2] == [0.9, 0.5]
        assert math.isnan(loss[2].value)
        assert loss[3].value == math.inf

    def test_a_bad_point_writes_nothing_of_its_batch(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        batch = [MetricPoint("loss", 1.0, step=0), MetricPoint("loss", "high", step=1)]  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="'loss'"):
            store.log_metrics(run.id, batch)
        assert store.metrics(run.id) == []
        with pytest.raises(NotFound):
            store.log_metrics("missing", [MetricPoint("loss", 1.0)])

    def test_metrics_of_a_large_batch_are_all_kept(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        store.log_metrics(run.id, [MetricPoint("loss", float(i), step=i) for i in range(20_000)])
        values = [m.value for m in store.metrics(run.id, key="loss")]
        assert values == [float(i) for i in range(20_000)]

    def test_finishing_writes_its_last_metrics_all_or_nothing(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        with pytest.raises(InvalidInput, match="is not a number"):
            store.finish_run(run.id, RunStatus.SUCCEEDED, metrics=[MetricPoint("x", "bad")])  # type: ignore[arg-type]
        assert store.get_run(run.id).status is RunStatus.RUNNING
        assert store.metrics(run.id) == []
        done = store.finish_run(run.id, RunStatus.SUCCEEDED, metrics=[MetricPoint("auc", 0.9)])
        assert done.status is RunStatus.SUCCEEDED
        assert done.ended_at is not None
        assert done == store.get_run(run.id)
        assert [(m.key, m.value) for m in store.metrics(run.id)] == [("auc", 0.9)]

    def test_runs_made_elsewhere_are_recorded_whole(self, store: MetadataStore) -> None:
        from datetime import datetime, timedelta

        parent = store.create_run(kind="tuning", name="tune/svm")
        start = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
        made = [
            dataclasses.replace(
                parent,
                id=f"{i:032x}",
                kind="trial",
                name=f"svm/trial-{i}",
                status=RunStatus.SUCCEEDED if i else RunStatus.FAILED,
                params={"C": i},
                parent_id=parent.id,
                started_at=start,
                ended_at=start + timedelta(seconds=i + 1),
                error=None if i else "ValueError: bad C",
            )
            for i in range(3)
        ]
        store.record_runs([(run, [MetricPoint("auc", 0.5 + i / 10)]) for i, run in enumerate(made)])
        for run in made:
            assert store.get_run(run.id) == run
        assert store.latest_metrics([made[2].id]) == {made[2].id: {"auc": 0.7}}
        orphan = dataclasses.replace(made[0], id="f" * 32, parent_id="gone")
        again = dataclasses.replace(made[1], params={"C": 9})
        fresh = dataclasses.replace(made[0], id="e" * 32)
        with pytest.raises(NotFound, match="no parent run"):
            store.record_runs([(fresh, []), (orphan, [])])
        with pytest.raises(AlreadyExists, match="recorded already"):
            store.record_runs([(fresh, []), (again, [])])
        with pytest.raises(InvalidInput, match="disagree"):
            store.record_runs([(dataclasses.replace(fresh, ended_at=None), [])])
        with pytest.raises(NotFound):
            store.get_run(fresh.id)  # nothing of a refused call was written

    def test_latest_metrics_of_many_runs(self, store: MetadataStore) -> None:
        a = store.create_run(kind="train", name="a")
        b = store.create_run(kind="train", name="b")
        quiet = store.create_run(kind="train", name="quiet")
        store.log_metrics(
            a.id,
            [
                MetricPoint("loss", 0.9, step=0),
                MetricPoint("loss", 0.2, step=5),
                MetricPoint("loss", 0.5, step=2),
                MetricPoint("auc", 0.7),
            ],
        )
        store.log_metrics(a.id, [MetricPoint("auc", 0.8)])  # same step, written later
        store.log_metrics(b.id, [MetricPoint("loss", math.nan, step=1)])
        latest = store.latest_metrics([a.id, b.id, quiet.id, "no-such-run"])
        assert latest[a.id] == {"loss": 0.2, "auc": 0.8}
        assert math.isnan(latest[b.id]["loss"])
        assert set(latest) == {a.id, b.id}
        many = [store.create_run(kind="train", name="m") for _ in range(3)]
        for i, run in enumerate(many):
            store.log_metrics(run.id, [MetricPoint("x", float(i))])
        assert store.latest_metrics([r.id for r in many] * 400) == {
            r.id: {"x": float(i)} for i, r in enumerate(many)
        }

    # -- alerts ----------------------------------------------------------------------

    def test_alerts_round_trip_newest_first(self, store: MetadataStore) -> None:
        run = store.create_run(kind="pipeline", name="churn")
        artifact = store.create_artifact(kind="dataset", name="d", digest=DIGEST, size=1)
        first = store.create_alert(
            kind="validation",
            severity=Severity.ERROR,
            message="2 errors in d@v1",
            evidence={"anomalies": [{"kind": "missing_values", "share": 0.1}]},
            run_id=run.id,
            artifact_id=artifact.id,
        )
        second = store.create_alert(kind="gate", severity="warning", message="slower")
        assert store.get_alert(first.id) == first
        assert first.evidence == {"anomalies": [{"kind": "missing_values", "share": 0.1}]}
        assert (first.run_id, first.artifact_id) == (run.id, artifact.id)
        assert first.created_at.tzinfo == UTC
        assert second.severity is Severity.WARNING
        assert [a.id for a in store.find_alerts()] == [second.id, first.id]
        assert store.find_alerts(kind="validation") == [first]
        assert store.find_alerts(run_id=run.id) == [first]
        assert store.find_alerts(limit=1) == [second]

    def test_bad_alerts_are_rejected(self, store: MetadataStore) -> None:
        with pytest.raises(InvalidInput, match="severity 'fatal'"):
            store.create_alert(kind="k", severity="fatal", message="m")
        with pytest.raises(InvalidInput, match="message"):
            store.create_alert(kind="k", severity=Severity.INFO, message="")
        with pytest.raises(NotFound, match="missing-run"):
            store.create_alert(kind="k", severity=Severity.INFO, message="m", run_id="missing-run")
        with pytest.raises(NotFound, match="missing-artifact"):
            store.create_alert(
                kind="k", severity=Severity.INFO, message="m", artifact_id="missing-artifact"
            )
        with pytest.raises(InvalidInput, match="evidence"):
            store.create_alert(
                kind="k", severity=Severity.INFO, message="m", evidence={"x": float("nan")}
            )
        with pytest.raises(NotFound):
            store.get_alert("missing")
        assert store.find_alerts() == []

    # -- the store itself ------------------------------------------------------------

    def test_info_counts_records(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit")
        store.create_artifact(kind="model", name="a", digest=DIGEST, size=1, run_id=run.id)
        store.log_metrics(run.id, [MetricPoint("m", 1.0), MetricPoint("m", 2.0, step=1)])
        store.create_alert(kind="validation", severity=Severity.ERROR, message="bad data")
        store.create_schedule(
            name="hourly", target="p.py:p", resolved_target="/p.py:p", every_seconds=3600
        )
        info = store.info()
        assert info.counts == {
            "artifacts": 1,
            "runs": 1,
            "events": 1,
            "metrics": 2,
            "aliases": 0,
            "alerts": 1,
            "schedules": 1,
        }
        assert info.schema_revision != "none"

    def test_a_store_that_is_not_there_is_not_made(self, store_url: str) -> None:
        for _ in range(2):  # the refused open made nothing the second one would find
            with pytest.raises(StoreMissing, match="does not exist"):
                open_store(store_url)
        with open_store(store_url, create=True) as store:
            assert store.info().counts["runs"] == 0
        with open_store(store_url) as store:
            assert store.info().counts["runs"] == 0

    def test_reopening_keeps_everything(self, store_url: str, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit", params={"C": 1})
        store.close()
        with open_store(store_url) as again:
            assert again.get_run(run.id).params == {"C": 1}

    # -- concurrency -----------------------------------------------------------------

    def test_threads_number_versions_without_gaps(self, store: MetadataStore) -> None:
        errors: list[BaseException] = []

        def create() -> None:
            try:
                for _ in range(10):
                    store.create_artifact(kind="dataset", name="shared", digest=DIGEST, size=1)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        versions = [a.version for a in store.find_artifacts(name="shared")]
        assert versions == list(range(1, 81))

    def test_processes_number_versions_without_gaps(self, store_url: str) -> None:
        open_store(store_url, create=True).close()  # the schema exists before the race starts
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(4)
        children = [
            context.Process(target=_write_versions, args=(store_url, "shared", 15, barrier))
            for _ in range(4)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=180)
        assert [child.exitcode for child in children] == [0, 0, 0, 0]
        with open_store(store_url) as store:
            versions = [a.version for a in store.find_artifacts(name="shared")]
        assert versions == list(range(1, 61))
