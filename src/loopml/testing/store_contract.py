"""The contract test kit every metadata store backend must pass.

Subclass :class:`StoreContract` in a test module and give it a ``store_url`` fixture
that yields, for each test, the URL of a fresh place for a store: the kit makes the
store there with ``open_store(url, create=True)``::

    class TestMyBackend(StoreContract):
        @pytest.fixture
        def store_url(self, tmp_path):
            yield f"sqlite:///{tmp_path}/loopml.db"

A backend whose stores other processes cannot open (``memory://``, which lives in one
process) says so with the ``store_capabilities`` fixture; the tests that need several
processes are then skipped, saying why::

    class TestInMemory(StoreContract):
        @pytest.fixture
        def store_url(self):
            yield f"memory://{uuid.uuid4().hex}"

        @pytest.fixture
        def store_capabilities(self):
            return StoreCapabilities(shared_between_processes=False)

The rules tested are the ones in the docstring of :mod:`loopml.store._base`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput, NotFound, StoreMissing
from loopml.store import (
    Direction,
    MetadataStore,
    MetricPoint,
    RunStatus,
    Severity,
    open_store,
)
from loopml.testing.alias_contract import AliasContract
from loopml.testing.arm_stats_contract import ArmStatsContract
from loopml.testing.change_contract import ChangeContract
from loopml.testing.deployment_contract import DeploymentContract
from loopml.testing.lease_contract import LeaseContract
from loopml.testing.processes import processes
from loopml.testing.review_contract import ReviewContract
from loopml.testing.run_contract import RunContract
from loopml.testing.run_query_contract import RunQueryContract
from loopml.testing.schedule_contract import ScheduleContract
from loopml.testing.value_contract import ValueContract

__all__ = ["StoreCapabilities", "StoreContract"]

DIGEST = "ab" * 32
OTHER = "cd" * 32


def _write_versions(url: str, name: str, count: int, barrier: object) -> None:
    """A child process: create ``count`` versions of one name once all children are ready."""
    store = open_store(url)
    barrier.wait()  # type: ignore[attr-defined]
    for _ in range(count):
        store.create_artifact(kind="dataset", name=name, digest=DIGEST, size=1)
    store.close()


@dataclass(frozen=True)
class StoreCapabilities:
    """What a backend's stores can do where the contract lets a backend choose.

    ``shared_between_processes``: other processes can open the store at a URL and see
    each other's writes, as with a database file or server. A backend whose stores live
    in one process (``memory://``) cannot keep the contract's rules on processes, so
    their tests are skipped for it.
    """

    shared_between_processes: bool = True


class StoreContract(
    RunContract,
    RunQueryContract,
    AliasContract,
    ChangeContract,
    ScheduleContract,
    DeploymentContract,
    ArmStatsContract,
    LeaseContract,
    ReviewContract,
    ValueContract,
):
    """The rules of :class:`~loopml.store.MetadataStore`, as tests (those of runs in
    :class:`~loopml.testing.run_contract.RunContract`, of run queries in
    :class:`~loopml.testing.run_query_contract.RunQueryContract`, of aliases in
    :class:`~loopml.testing.alias_contract.AliasContract`, of the change counter in
    :class:`~loopml.testing.change_contract.ChangeContract`, of schedules in
    :class:`~loopml.testing.schedule_contract.ScheduleContract`, of deployments in
    :class:`~loopml.testing.deployment_contract.DeploymentContract`, of arm statistics
    in :class:`~loopml.testing.arm_stats_contract.ArmStatsContract`, of leases in
    :class:`~loopml.testing.lease_contract.LeaseContract`, of review items in
    :class:`~loopml.testing.review_contract.ReviewContract`, of values in
    :class:`~loopml.testing.value_contract.ValueContract`)."""

    @pytest.fixture
    def store_url(self) -> Iterator[str]:
        raise NotImplementedError("a backend's test class provides store_url")

    @pytest.fixture
    def store_capabilities(self) -> StoreCapabilities:
        """What the backend's stores can do; a backend's test class narrows it."""
        return StoreCapabilities()

    @pytest.fixture
    def shared_store_url(self, store_url: str, store_capabilities: StoreCapabilities) -> str:
        """``store_url``, for a test that opens the store from other processes too."""
        if not store_capabilities.shared_between_processes:
            pytest.skip(
                "needs a store that several processes open at once; this backend's stores "
                "live in one process (StoreCapabilities.shared_between_processes is False)"
            )
        return store_url

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

    def test_a_version_given_after_another_is_recorded_only_after_it(
        self, store: MetadataStore
    ) -> None:
        first = store.create_artifact(kind="dataset", name="churn", digest=DIGEST, size=3, after=0)
        with pytest.raises(Conflict, match="was to get v1, but its latest is v1 now"):
            store.create_artifact(kind="dataset", name="churn", digest=OTHER, size=4, after=0)
        second = store.create_artifact(
            kind="dataset", name="churn", digest=OTHER, size=4, after=first.version
        )
        assert (first.version, second.version) == (1, 2)
        assert [a.version for a in store.find_artifacts(kind="dataset", name="churn")] == [1, 2]

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

    def test_artifacts_are_read_a_page_at_a_time(self, store: MetadataStore) -> None:
        # Names that sort apart by code point and by a language's collation.
        for name in ("b", "B", "a-2", "a_1", "\u00e9t\u00e9", "z"):
            for digest in (DIGEST, OTHER):
                store.create_artifact(kind="dataset", name=name, digest=digest, size=1)
        store.create_artifact(kind="model", name="m", digest=DIGEST, size=1)
        every = store.find_artifacts()
        assert [a.name for a in every[:-1]] == sorted(a.name for a in every[:-1])
        pages, after = [], None
        while True:
            page = store.find_artifacts(limit=3, after=after)
            if not page:
                break
            pages.append(page)
            after = page[-1].id
            store.create_artifact(kind="dataset", name="A", digest=DIGEST, size=1)  # before
        assert [a for page in pages for a in page] == every
        assert store.find_artifacts(kind="model", after=every[0].id) == [every[-1]]
        with pytest.raises(NotFound):
            store.find_artifacts(after="no-such-artifact")

    def test_latest_artifacts_list_names_a_page_at_a_time(self, store: MetadataStore) -> None:
        names = ["b", "B", "a-2", "a_1", "\u00e9t\u00e9", "z"]
        for count, name in enumerate(names, start=1):
            for _ in range(count):
                store.create_artifact(kind="dataset", name=name, digest=DIGEST, size=1)
        store.create_artifact(kind="model", name="c", digest=DIGEST, size=1)
        latest = store.latest_artifacts("dataset")
        assert [(a.name, a.version) for a in latest] == sorted(
            (name, count) for count, name in enumerate(names, start=1)
        )
        assert latest == [store.latest_artifact("dataset", a.name) for a in latest]
        pages, after = [], None
        while True:
            page = store.latest_artifacts("dataset", after_name=after, limit=4)
            if not page:
                break
            pages.append(page)
            after = page[-1].name
        assert [len(page) for page in pages] == [4, 2]
        assert [a for page in pages for a in page] == latest
        assert store.latest_artifacts("dataset", after_name="\uffff") == []
        assert [a.name for a in store.latest_artifacts("model")] == ["c"]
        assert store.latest_artifacts("nothing") == []
        with pytest.raises(InvalidInput):
            store.latest_artifacts("dataset", after_name="a\x00")

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
        store.set_deployment("churn", {"model": "churn@champion"})
        info = store.info()
        assert info.counts == {
            "artifacts": 1,
            "runs": 1,
            "events": 1,
            "metrics": 2,
            "aliases": 0,
            "alerts": 1,
            "schedules": 1,
            "deployments": 1,
            "review_items": 0,
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

    def test_stores_opened_on_one_url_share_their_records(
        self, store_url: str, store: MetadataStore
    ) -> None:
        with open_store(store_url) as other:
            run = other.create_run(kind="train", name="fit")
            assert store.get_run(run.id) == run
            store.finish_run(run.id, RunStatus.SUCCEEDED)
            assert other.get_run(run.id).status is RunStatus.SUCCEEDED

    def test_changing_a_returned_record_changes_nothing_stored(self, store: MetadataStore) -> None:
        params: dict[str, Any] = {"layers": [64, 32], "opt": {"name": "adam"}}
        run = store.create_run(kind="train", name="fit", params=params, tags={"t": [1]})
        artifact = store.create_artifact(
            kind="dataset", name="d", digest=DIGEST, size=1, metadata={"columns": ["a"]}
        )
        params["layers"].append(16)  # what the caller passed in, and what it got back
        run.params["layers"].append(8)
        run.params["opt"]["name"] = "sgd"
        run.tags["t"].append(2)
        artifact.metadata["columns"].append("b")
        store.get_run(run.id).tags["t"].append(3)
        read = store.get_run(run.id)
        assert (read.params, read.tags) == (
            {"layers": [64, 32], "opt": {"name": "adam"}},
            {"t": [1]},
        )
        assert store.get_artifact(artifact.id).metadata == {"columns": ["a"]}
        assert store.find_artifacts()[0].metadata == {"columns": ["a"]}

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

    def test_processes_number_versions_without_gaps(self, shared_store_url: str) -> None:
        open_store(shared_store_url, create=True).close()  # the schema exists before the race
        context = processes()
        barrier = context.Barrier(4)
        children = [
            context.Process(target=_write_versions, args=(shared_store_url, "shared", 15, barrier))
            for _ in range(4)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=180)
        assert [child.exitcode for child in children] == [0, 0, 0, 0]
        with open_store(shared_store_url) as store:
            versions = [a.version for a in store.find_artifacts(name="shared")]
        assert versions == list(range(1, 61))
