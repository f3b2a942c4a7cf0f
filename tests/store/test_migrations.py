"""Schemas: migrations build exactly the tables the code uses, and every past schema opens."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from loopml.errors import SchemaOutdated, SchemaTooNew
from loopml.store import ArmStats, NewReviewItem, ReviewStatus, RunStatus, Severity, open_store
from loopml.store._sql import migrate, schema
from loopml.store._sql.engine import normalize_url
from loopml.testing.processes import processes

SAVED = Path(__file__).parent.parent / "fixtures" / "schemas"


def test_known_revisions_are_the_migration_chain() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    chain = [rev.revision for rev in scripts.walk_revisions()][::-1]
    assert tuple(chain) == schema.REVISIONS
    assert scripts.get_heads() == [schema.HEAD]


def test_every_past_schema_has_a_saved_store() -> None:
    assert sorted(p.stem for p in SAVED.glob("*.sqlite")) == list(schema.REVISIONS)


def test_migrations_build_the_tables_the_code_uses(any_store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    open_store(any_store_url, create=True).close()
    engine = sa.create_engine(normalize_url(any_store_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, schema.metadata)
    engine.dispose()
    assert differences == []


@pytest.mark.parametrize("revision", schema.REVISIONS)
def test_a_store_saved_at_each_past_schema_opens(revision: str, tmp_path: Path) -> None:
    copy = tmp_path / "old.sqlite"
    shutil.copy(SAVED / f"{revision}.sqlite", copy)
    with open_store(f"sqlite:///{copy}") as store:
        assert store.info().schema_revision == schema.HEAD
        # a store upgraded to the change counter starts it at 0; a saved one kept its count
        counted = store.change_counter()
        assert counted == 0 if revision < "0005" else counted > 0
        [run] = store.find_runs(name="saved")
        assert run.status is RunStatus.SUCCEEDED
        assert run.params == {"C": 0.5}
        assert [m.value for m in store.metrics(run.id, "loss")][:2] == [1.0, 0.5]
        model = store.latest_artifact("model", "saved")
        assert store.get_alias("model", "saved", "champion").artifact_id == model.id
        assert [e.artifact_id for e in store.events(run_id=run.id)] == [model.id]
        store.create_run(kind="train", name="new")
        alerts = store.find_alerts()
        if revision >= "0002":
            assert [(a.message, a.run_id) for a in alerts] == [("saved alert", run.id)]
        else:  # the table a 0001 store gains on upgrade is there, and empty
            assert alerts == []
        store.create_alert(kind="k", severity=Severity.INFO, message="after the upgrade")
        schedules = store.find_schedules()
        if revision >= "0003":
            [saved] = schedules
            assert (saved.name, saved.cron, saved.timezone, saved.params) == (
                "saved",
                "0 3 * * *",
                "Europe/Berlin",
                {"C": 0.5},
            )
            assert saved.next_due_at == datetime(2030, 1, 1, 2, 0, tzinfo=UTC)
            assert (saved.last_run_id, saved.last_status) == (run.id, RunStatus.SUCCEEDED)
        else:  # the table a 0001 or 0002 store gains on upgrade is there, and empty
            assert schedules == []
        store.create_schedule(
            name="after-the-upgrade", target="p.py:p", resolved_target="/p.py:p", every_seconds=60
        )
        history = store.alias_history("model", "saved")
        champion = store.get_alias("model", "saved", "champion")
        if revision >= "0004":
            assert [(e.alias, e.action, e.actor, e.reason) for e in history[:2]] == [
                ("challenger", "deleted", "saver", "done trying"),
                ("challenger", "set", "saver", "try it"),
            ]
            assert [(e.alias, e.action, e.to_artifact_id) for e in history[2:]] == [
                ("champion", "set", model.id)
            ]
        else:  # each alias set before history was kept gets the event that explains it
            [backfilled] = history
            assert (backfilled.alias, backfilled.action, backfilled.actor) == (
                "champion",
                "set",
                "loopml",
            )
            assert backfilled.to_artifact_id == model.id
            assert backfilled.created_at == champion.updated_at
        store.set_alias("challenger", model.id, actor="later", reason="after the upgrade")
        assert store.change_counter() > counted
        if revision >= "0006":
            saved_deployment = store.get_deployment("saved")
            assert saved_deployment.revision == 2
            assert saved_deployment.policy == {
                "split": {"saved@champion": 0.9, "saved@challenger": 0.1}
            }
            assert [
                (c.revision, c.action, c.actor, c.reason) for c in store.deployment_history("saved")
            ] == [
                (2, "updated", "saver", "try the challenger"),
                (1, "created", "saver", "first deployment"),
            ]
        else:  # the tables a store before 0006 gains on upgrade are there, and empty
            assert store.deployments() == []
            assert store.deployment_history("saved") == []
        if revision >= "0007":
            assert store.arm_stats("saved") == {
                "saved@challenger": ArmStats(pulls=10, rewards=9, reward_sum=1.5),
                "saved@champion": ArmStats(pulls=90, rewards=80, reward_sum=8.0),
            }
        elif revision >= "0006":  # the table a store before 0007 gains is there, and empty
            assert store.arm_stats("saved") == {}
        saved_lease, kept = store.lease("saved"), store.lease("kept")
        if revision >= "0008":
            assert saved_lease is None  # released, its token kept for the next holder
            assert kept is not None
            assert (kept.holder, kept.token) == ("saver", 1)
            assert kept.expires_at - kept.acquired_at == timedelta(seconds=1)  # long run out
            counter = store.change_counter()
            taken = store.acquire_lease("kept", "after-the-upgrade", 60)
            assert taken is not None
            assert (taken.holder, taken.token) == ("after-the-upgrade", 2)
            assert store.change_counter() > counter
        else:  # the table a store before 0008 gains is there, and empty
            assert (saved_lease, kept) == (None, None)
        after = store.acquire_lease("saved", "after-the-upgrade", 60)
        assert after is not None
        assert after.token == (3 if revision >= "0008" else 1)
        assert store.acquire_lease("saved", "another", 60) is None
        store.set_deployment("after-the-upgrade", {"model": "saved@champion"}, expected_revision=0)
        store.add_arm_stats("after-the-upgrade", {"saved@champion": ArmStats(pulls=1)})
        assert store.arm_stats("after-the-upgrade") == {"saved@champion": ArmStats(pulls=1)}
        assert store.get_deployment("after-the-upgrade").revision == 1
        items = store.find_review_items()
        if revision >= "0009":
            assert [(i.prediction_id, i.row, i.status) for i in items] == [
                ("saved-0", 0, ReviewStatus.COMMITTED),
                ("saved-1", 1, ReviewStatus.OPEN),
                ("saved-2", 2, ReviewStatus.OPEN),
            ]
            first, claimed, pair = items
            assert (first.reasons, first.inputs, first.evidence) == (
                ("audit", "drift"),
                {"x": 0.0, "plan": "basic"},
                {"threshold": 0.7},
            )
            assert [(lab.reviewer, lab.label, lab.note) for lab in first.labels] == [
                ("saver", 1, "clearly")
            ]
            assert store.get_artifact(first.committed_to or "").ref == "saved-reviewed@v1"
            assert [(c.reviewer, c.expires_at) for c in claimed.claims] == [
                ("claimer", datetime(2030, 1, 1, 1, 0, tzinfo=UTC))
            ]
            assert (pair.labels_wanted, len(pair.labels), pair.confidence) == (2, 1, 0.7)
            # the saved claim holds: the next reviewer gets the item that wants two labels
            given = store.claim_review_item(
                "saved", "after-the-upgrade", now=datetime(2030, 1, 1, tzinfo=UTC)
            )
            assert given is not None
            assert given.id == pair.id
        else:  # the tables a store before 0009 gains are there, and empty
            assert items == []
        [added] = store.add_review_items(
            [
                NewReviewItem(
                    queue="after-the-upgrade", prediction_id="p", row=0, deployment="saved",
                    ref="saved@v1", guess=1, reasons=("audit",),
                )
            ]
        )  # fmt: skip
        assert store.label_review_item(added.id, "later", 0).status is ReviewStatus.LABELLED
        newest = store.alias_history("model", "saved")[0]
        assert (newest.alias, newest.actor, newest.reason) == (
            "challenger",
            "later",
            "after the upgrade",
        )


def _stamp(url: str, revision: str) -> None:
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{revision}'")
    engine.dispose()


def test_a_newer_schema_is_refused_untouched(any_store_url: str) -> None:
    with open_store(any_store_url, create=True) as store:
        run = store.create_run(kind="train", name="kept")
    _stamp(any_store_url, "9999")
    with pytest.raises(SchemaTooNew, match=r"'9999'.*pip install -U loopml"):
        open_store(any_store_url)
    _stamp(any_store_url, schema.HEAD)
    with open_store(any_store_url) as store:
        assert store.get_run(run.id).name == "kept"


def test_an_older_schema_is_upgraded_or_explained(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(sqlite_url, create=True).close()
    # Pretend this loopml knows a later revision than the store has.
    monkeypatch.setattr(migrate, "REVISIONS", (schema.HEAD, "9000"))
    monkeypatch.setattr(migrate, "HEAD", "9000")
    with pytest.raises(SchemaOutdated, match="loopml migrate"):
        open_store(sqlite_url, migrate=False)


def _open(url: str, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    open_store(url, create=True).close()


def test_processes_opening_a_new_store_at_once_all_succeed(any_store_url: str) -> None:
    context = processes()
    barrier = context.Barrier(4)
    children = [context.Process(target=_open, args=(any_store_url, barrier)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    with open_store(any_store_url) as store:
        assert store.info().schema_revision == schema.HEAD
