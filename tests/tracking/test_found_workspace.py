"""Runs without ``workspace=`` use the workspace found from the current folder: found
once and kept open while what it was found from is unchanged (opening a store per run
cost more than the run), found anew when that changes, and never writing into a
database file that was replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import loopml
from loopml.store import RunStatus


def one_run(name: str) -> loopml.tracking.ActiveRun:
    with loopml.start_run(name) as run:
        loopml.log_metric("loss", 0.5)
    return run


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("LOOPML_STORE_URL", "LOOPML_ARTIFACTS_URL"):
        monkeypatch.delenv(variable, raising=False)
    folder = tmp_path / "project"
    folder.mkdir()
    loopml.init(folder).close()
    monkeypatch.chdir(folder)
    return folder


def test_runs_without_a_workspace_share_the_one_found(here: Path) -> None:
    first, second = one_run("a"), one_run("b")
    assert first.ws is second.ws
    assert first.ws.store is second.ws.store  # opened once, not for every run
    with loopml.workspace(here) as ws:
        assert {r.name: r.status for r in ws.store.find_runs()} == {
            "a": RunStatus.SUCCEEDED,
            "b": RunStatus.SUCCEEDED,
        }


def test_another_folder_or_setting_finds_the_workspace_anew(
    here: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = one_run("a")
    other = tmp_path / "other"
    other.mkdir()
    loopml.init(other).close()
    monkeypatch.chdir(other)
    elsewhere = one_run("b")
    assert elsewhere.ws.settings.root == other
    monkeypatch.chdir(here)
    monkeypatch.setenv("LOOPML_STORE_URL", f"sqlite:///{other}/.loopml/loopml.db")
    by_variable = one_run("c")
    assert by_variable.ws.settings.store_url == f"sqlite:///{other}/.loopml/loopml.db"
    monkeypatch.delenv("LOOPML_STORE_URL")
    back = one_run("d")
    assert back.ws.settings.root == here
    assert back.ws is not first.ws
    with loopml.workspace(here) as ws:
        assert sorted(r.name for r in ws.store.find_runs()) == ["a", "d"]
    with loopml.workspace(other) as ws:
        assert sorted(r.name for r in ws.store.find_runs()) == ["b", "c"]


def test_a_database_file_replaced_is_written_not_the_deleted_one(
    here: Path, tmp_path: Path
) -> None:
    before = one_run("before")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    loopml.init(fresh).close()
    database = here / ".loopml" / "loopml.db"
    for old in database.parent.glob("loopml.db*"):
        old.unlink()  # the old file lives on while the kept store holds it open
    shutil.copy(fresh / ".loopml" / "loopml.db", database)
    after = one_run("after")
    assert after.ws is not before.ws
    with loopml.workspace(here) as ws:
        assert [r.name for r in ws.store.find_runs()] == ["after"]
