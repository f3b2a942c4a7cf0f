"""The schedule rules of the metadata store contract, as tests.

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store`` and ``shared_store_url``
fixtures.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store import MetadataStore, RunStatus, Schedule, open_store
from loopml.testing.processes import processes

__all__ = ["ScheduleContract"]

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _add(store: MetadataStore, name: str, **fields: Any) -> Schedule:
    values: dict[str, Any] = {
        "target": "pipelines.py:churn",
        "resolved_target": "/project/pipelines.py:churn",
        "every_seconds": 3600,
        "next_due_at": T0,
    }
    values.update(fields)
    return store.create_schedule(name=name, **values)


def _claim_one_by_one(store: MetadataStore, now: datetime) -> list[str]:
    names: list[str] = []
    while claimed := store.claim_due(now, limit=1):
        names.extend(schedule.name for schedule in claimed)
    return names


def _claim_in_child(url: str, barrier: object, queue: Any) -> None:
    """A child process: claim due schedules one at a time once all children are ready."""
    store = open_store(url)
    barrier.wait()  # type: ignore[attr-defined]
    queue.put(_claim_one_by_one(store, T0 + timedelta(seconds=1)))
    store.close()


class ScheduleContract:
    """Schedules: unique names, one cadence each, claimed once per occurrence."""

    def test_schedule_fields_round_trip(self, store: MetadataStore) -> None:
        created = _add(
            store,
            "team/nightly",
            params={"C": 0.5, "layers": [64, 32], "data": "churn@latest"},
            every_seconds=None,
            cron="0  3 * * *",
            timezone="Europe/Berlin",
        )
        assert store.get_schedule("team/nightly") == created
        assert created.cron == "0 3 * * *"  # spacing normalized
        assert created.every_seconds is None
        assert created.params == {"C": 0.5, "layers": [64, 32], "data": "churn@latest"}
        assert (created.target, created.resolved_target) == (
            "pipelines.py:churn",
            "/project/pipelines.py:churn",
        )
        assert created.enabled is True
        assert created.next_due_at == T0
        assert created.created_at.tzinfo is UTC
        assert (created.last_run_at, created.last_run_id, created.last_status) == (None,) * 3
        assert created.when == "0 3 * * * Europe/Berlin"
        assert _add(store, "hourly").when == "every 1h"

    def test_a_new_schedule_is_first_due_at_its_next_occurrence(self, store: MetadataStore) -> None:
        before = datetime.now(UTC)
        hourly = _add(store, "hourly", next_due_at=None)
        daily = _add(store, "daily", next_due_at=None, every_seconds=None, cron="0 3 * * *")
        after = datetime.now(UTC)
        assert before + HOUR - timedelta(seconds=1) <= hourly.next_due_at <= after + HOUR
        assert before < daily.next_due_at <= after + timedelta(days=1)
        assert (daily.next_due_at.hour, daily.next_due_at.minute) == (3, 0)

    def test_schedule_names_are_unique_and_checked(self, store: MetadataStore) -> None:
        first = _add(store, "churn")
        with pytest.raises(AlreadyExists, match="'churn'"):
            _add(store, "churn", every_seconds=60)
        for bad in ("", "two words", "/abs", "../up"):
            with pytest.raises(InvalidInput, match="schedule name"):
                _add(store, bad)
        assert store.find_schedules() == [first]

    def test_a_schedule_needs_one_good_cadence(self, store: MetadataStore) -> None:
        with pytest.raises(InvalidInput, match="exactly one"):
            _add(store, "both", cron="0 3 * * *")
        with pytest.raises(InvalidInput, match="exactly one"):
            _add(store, "neither", every_seconds=None)
        with pytest.raises(InvalidInput, match="at least one second"):
            _add(store, "zero", every_seconds=0)
        with pytest.raises(InvalidInput, match="bad minute"):
            _add(store, "cron", every_seconds=None, cron="61 * * * *")
        with pytest.raises(InvalidInput, match="five fields"):
            _add(store, "cron", every_seconds=None, cron="* * *")
        with pytest.raises(InvalidInput, match="'Mars/Olympus'"):
            _add(store, "tz", timezone="Mars/Olympus")
        with pytest.raises(InvalidInput, match="'C'"):
            _add(store, "params", params={"C": math.nan})
        assert store.find_schedules() == []

    def test_find_schedules_by_name_and_enabled(self, store: MetadataStore) -> None:
        _add(store, "b")
        _add(store, "a")
        _add(store, "c", enabled=False)
        assert [s.name for s in store.find_schedules()] == ["a", "b", "c"]
        assert [s.name for s in store.find_schedules(enabled=True)] == ["a", "b"]
        assert [s.name for s in store.find_schedules(enabled=False)] == ["c"]

    def test_schedules_are_removed_by_name(self, store: MetadataStore) -> None:
        _add(store, "churn")
        store.delete_schedule("churn")
        with pytest.raises(NotFound, match="'churn'"):
            store.get_schedule("churn")
        with pytest.raises(NotFound, match="'churn'"):
            store.delete_schedule("churn")

    def test_only_due_enabled_schedules_are_claimed_once(self, store: MetadataStore) -> None:
        _add(store, "due")
        _add(store, "later", next_due_at=T0 + timedelta(minutes=5))
        _add(store, "off", enabled=False)
        now = T0 + timedelta(seconds=10)
        [claimed] = store.claim_due(now)
        assert claimed.name == "due"
        assert claimed.next_due_at == T0 + HOUR
        assert store.get_schedule("due").next_due_at == T0 + HOUR
        assert store.claim_due(now) == []  # that occurrence is taken
        assert [s.name for s in store.claim_due(T0 + timedelta(minutes=5))] == ["later"]
        assert store.get_schedule("off").next_due_at == T0

    def test_missed_occurrences_are_claimed_once_and_skipped(self, store: MetadataStore) -> None:
        _add(store, "hourly")
        now = T0 + 5 * HOUR + timedelta(seconds=1)  # due six times over
        [claimed] = store.claim_due(now)
        assert claimed.next_due_at == T0 + 6 * HOUR  # on the hour, after now
        assert store.claim_due(now) == []

    def test_a_cron_schedule_moves_to_its_next_wall_clock_time(self, store: MetadataStore) -> None:
        # 03:00 in Berlin is 02:00 UTC on Saturday 30 March 2024, and 01:00 UTC on the
        # Sunday after, when clocks have gone forward.
        saturday = datetime(2024, 3, 30, 2, 0, tzinfo=UTC)
        _add(
            store,
            "nightly",
            every_seconds=None,
            cron="0 3 * * *",
            timezone="Europe/Berlin",
            next_due_at=saturday,
        )
        [claimed] = store.claim_due(saturday + timedelta(seconds=5))
        assert claimed.next_due_at == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)

    def test_claims_come_earliest_due_first_up_to_the_limit(self, store: MetadataStore) -> None:
        for minutes, name in ((3, "c"), (1, "a"), (2, "b")):
            _add(store, name, next_due_at=T0 + timedelta(minutes=minutes))
        now = T0 + HOUR
        assert store.claim_due(now, limit=0) == []
        assert [s.name for s in store.claim_due(now, limit=2)] == ["a", "b"]
        assert [s.name for s in store.claim_due(now, limit=2)] == ["c"]
        with pytest.raises(InvalidInput, match="limit"):
            store.claim_due(now, limit=-1)

    def test_a_schedule_records_its_last_run(self, store: MetadataStore) -> None:
        _add(store, "churn")
        run = store.create_run(kind="pipeline", name="churn")
        store.finish_run(run.id, RunStatus.FAILED, error="boom")
        recorded = store.record_schedule_run("churn", run.id, RunStatus.FAILED)
        assert (recorded.last_run_id, recorded.last_status) == (run.id, RunStatus.FAILED)
        assert recorded.last_run_at is not None
        assert recorded.last_run_at >= run.started_at
        assert store.get_schedule("churn") == recorded
        never_started = store.record_schedule_run("churn", None, "failed")
        assert (never_started.last_run_id, never_started.last_status) == (None, RunStatus.FAILED)
        with pytest.raises(NotFound, match="'ghost'"):
            store.record_schedule_run("ghost", run.id, RunStatus.SUCCEEDED)
        with pytest.raises(NotFound, match="'no-such-run'"):
            store.record_schedule_run("churn", "no-such-run", RunStatus.SUCCEEDED)
        with pytest.raises(InvalidInput, match="'done'"):
            store.record_schedule_run("churn", run.id, "done")

    def test_threads_claiming_at_once_get_disjoint_schedules(self, store: MetadataStore) -> None:
        names = [f"s{i:02d}" for i in range(40)]
        for name in names:
            _add(store, name)
        barrier = threading.Barrier(4)
        got: list[list[str]] = []
        errors: list[BaseException] = []

        def claim() -> None:
            try:
                barrier.wait()
                got.append(_claim_one_by_one(store, T0 + timedelta(seconds=1)))
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        claimed = [name for names_of_one in got for name in names_of_one]
        assert sorted(claimed) == names  # each exactly once

    def test_processes_claiming_at_once_get_disjoint_schedules(self, shared_store_url: str) -> None:
        names = [f"s{i:02d}" for i in range(30)]
        with open_store(shared_store_url, create=True) as store:
            for name in names:
                _add(store, name)
        context = processes()
        barrier = context.Barrier(3)
        queue = context.Queue()
        children = [
            context.Process(target=_claim_in_child, args=(shared_store_url, barrier, queue))
            for _ in range(3)
        ]
        for child in children:
            child.start()
        got = [queue.get(timeout=180) for _ in children]
        for child in children:
            child.join(timeout=60)
        assert [child.exitcode for child in children] == [0, 0, 0]
        assert sorted(name for names_of_one in got for name in names_of_one) == names
