"""The change counter of the metadata store contract, as tests: one cheap read tells a
poller whether anything was written, for every process that reads the store.

:class:`~loopml.testing.store_contract.StoreContract` inherits them, so every backend
that runs the store kit runs these too; they use its ``store`` and ``store_url``
fixtures.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store import Direction, MetadataStore, MetricPoint, RunStatus, Severity, open_store

__all__ = ["ChangeContract"]

DIGEST = "ab" * 32


class ChangeContract:
    """The rules of ``change_counter``."""

    def test_every_kind_of_write_moves_the_counter(self, store: MetadataStore) -> None:
        seen = [store.change_counter()]
        assert isinstance(seen[0], int)

        def moves(what: str, write: Callable[[], Any]) -> Any:
            result = write()
            now = store.change_counter()
            assert now > seen[-1], f"{what} did not move the change counter"
            seen.append(now)
            return result

        run = moves("create_run", lambda: store.create_run(kind="train", name="fit"))
        data = moves(
            "create_artifact",
            lambda: store.create_artifact(kind="dataset", name="d", digest=DIGEST, size=1),
        )
        model = moves(
            "create_artifact with a run",
            lambda: store.create_artifact(
                kind="model", name="m", digest=DIGEST, size=1, run_id=run.id
            ),
        )
        moves("add_event", lambda: store.add_event(run.id, data.id, Direction.INPUT, "train"))
        moves("log_metrics", lambda: store.log_metrics(run.id, [MetricPoint("loss", 0.5)]))
        moves("log_params", lambda: store.log_params(run.id, {"C": 1.0}))
        moves("set_run_tags", lambda: store.set_run_tags(run.id, {"team": "a"}))
        moves("finish_run", lambda: store.finish_run(run.id, RunStatus.SUCCEEDED))
        made = dataclasses.replace(store.get_run(run.id), id="e" * 32, kind="trial")
        moves("record_runs", lambda: store.record_runs([(made, [MetricPoint("auc", 0.7)])]))
        moves("set_alias", lambda: store.set_alias("champion", model.id))
        moves(
            "move_aliases",
            lambda: store.move_aliases(
                "model", "m", {"challenger": model.id}, expected={"challenger": None}
            ),
        )
        moves("delete_alias", lambda: store.delete_alias("model", "m", "challenger"))
        moves(
            "create_alert",
            lambda: store.create_alert(kind="drift", severity=Severity.WARNING, message="moved"),
        )
        due = datetime(2030, 1, 1, tzinfo=UTC)
        moves(
            "create_schedule",
            lambda: store.create_schedule(
                name="nightly",
                target="p.py:p",
                resolved_target="/p.py:p",
                every_seconds=60,
                next_due_at=due,
            ),
        )
        claimed = moves("claim_due", lambda: store.claim_due(due + timedelta(seconds=1)))
        assert [s.name for s in claimed] == ["nightly"]
        moves(
            "record_schedule_run",
            lambda: store.record_schedule_run("nightly", run.id, RunStatus.SUCCEEDED),
        )
        moves("delete_schedule", lambda: store.delete_schedule("nightly"))
        assert seen == sorted(seen)

    def test_reads_and_calls_that_change_nothing_leave_it(self, store: MetadataStore) -> None:
        run = store.create_run(kind="train", name="fit", params={"C": 1.0}, tags={"t": 1})
        model = store.create_artifact(kind="model", name="m", digest=DIGEST, size=1, run_id=run.id)
        store.log_metrics(run.id, [MetricPoint("loss", 0.5)])
        store.set_alias("champion", model.id)
        store.create_alert(kind="drift", severity=Severity.INFO, message="m", run_id=run.id)
        store.create_schedule(
            name="nightly", target="p.py:p", resolved_target="/p.py:p", every_seconds=60
        )
        before = store.change_counter()

        store.get_run(run.id)
        store.find_runs()
        store.get_artifact(model.id)
        store.get_artifact_version("model", "m", 1)
        store.latest_artifact("model", "m")
        store.find_artifacts()
        store.events(run_id=run.id)
        store.metrics(run.id)
        store.latest_metrics([run.id])
        store.get_alias("model", "m", "champion")
        store.aliases()
        store.alias_history("model", "m")
        store.find_alerts()
        store.get_schedule("nightly")
        store.find_schedules()
        store.info()
        # calls that write nothing
        store.set_alias("champion", model.id)
        store.move_aliases("model", "m", {"champion": model.id}, expected={"champion": model.id})
        store.move_aliases("model", "m", {"staging": None}, expected={"staging": None})
        store.add_event(run.id, model.id, Direction.OUTPUT, "output")
        store.log_params(run.id, {"C": 1.0})
        store.set_run_tags(run.id, {"t": 1})
        store.log_metrics(run.id, [])
        store.record_runs([])
        assert store.claim_due(datetime(2000, 1, 1, tzinfo=UTC)) == []
        # calls refused
        for refused in (
            lambda: store.get_run("missing"),
            lambda: store.set_alias("champion", "missing"),
            lambda: store.delete_alias("model", "m", "missing"),
            lambda: store.move_aliases("model", "m", {"champion": None}, expected={"x": None}),
            lambda: store.move_aliases("model", "m", {"x": None}, expected={"x": model.id}),
            lambda: store.log_metrics("missing", [MetricPoint("loss", 1.0)]),
            lambda: store.create_alert(kind="k", severity="loud", message="m"),
            lambda: store.delete_schedule("missing"),
        ):
            with pytest.raises((NotFound, InvalidInput, Conflict)):
                refused()
        assert store.change_counter() == before

    def test_every_store_object_on_one_store_sees_the_same_counter(
        self, store_url: str, store: MetadataStore
    ) -> None:
        store.create_run(kind="train", name="fit")
        with open_store(store_url) as other:
            assert other.change_counter() == store.change_counter()
            other.create_run(kind="train", name="elsewhere")
            assert store.change_counter() == other.change_counter()
        reopened = store.change_counter()
        store.close()
        with open_store(store_url) as again:
            assert again.change_counter() == reopened  # kept, never back to the start

    def test_a_counter_value_always_means_the_same_records(self, store: MetadataStore) -> None:
        """A poller reading the counter, then the records, then the counter again, sees
        the same records whenever both reads give one value: a value never shows
        before the records it counts."""
        stop = threading.Event()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                for _ in range(150):
                    store.create_run(kind="train", name="fit")
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                stop.set()

        writer = threading.Thread(target=write)
        writer.start()
        runs_at: dict[int, set[int]] = {}
        readings: list[int] = []
        while not stop.is_set():
            before = store.change_counter()
            count = len(store.find_runs())
            after = store.change_counter()
            assert before <= after
            readings.append(after)
            if before == after:
                runs_at.setdefault(before, set()).add(count)
        writer.join(timeout=120)
        assert errors == []
        assert readings == sorted(readings)
        assert all(len(counts) == 1 for counts in runs_at.values()), runs_at
        final = store.change_counter()
        assert final >= max(readings, default=final)
        assert runs_at.get(final, {150}) == {150}
