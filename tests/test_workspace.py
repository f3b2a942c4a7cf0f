"""The Python API of a workspace: init, find, add files as versions, refs."""

from __future__ import annotations

from pathlib import Path

import pytest

import loopml
from loopml.errors import InvalidInput, NotFound, WorkspaceExists
from loopml.refs import parse, resolve
from loopml.store import Direction


@pytest.fixture
def ws(tmp_path: Path) -> loopml.Workspace:
    workspace = loopml.init(tmp_path)
    yield workspace
    workspace.close()


def test_add_file_makes_versions_and_skips_unchanged(ws: loopml.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("<p>one</p>")
    v1 = ws.add_file(path, name="report", kind="page")
    again = ws.add_file(path, name="report", kind="page")
    path.write_text("<p>two</p>")
    v2 = ws.add_file(path, name="report", kind="page")
    assert (v1.version, again.version, v2.version) == (1, 1, 2)
    assert again == v1
    assert v2.metadata["file_name"] == "report.html"
    assert ws.artifacts.read_bytes(v2.digest) == b"<p>two</p>"


def test_add_file_links_the_run(ws: loopml.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(b"model")
    first = ws.store.create_run(kind="train", name="a")
    second = ws.store.create_run(kind="train", name="b")
    artifact = ws.add_file(path, name="m", kind="weights", run_id=first.id)
    assert ws.add_file(path, name="m", kind="weights", run_id=second.id) == artifact
    for run in (first, second):
        [event] = ws.store.events(run_id=run.id)
        assert (event.artifact_id, event.direction) == (artifact.id, Direction.OUTPUT)


def test_refs_resolve_every_form(ws: loopml.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    versions = []
    for content in ("a\n1\n", "a\n2\n", "a\n3\n"):
        path.write_text(content)
        versions.append(ws.add_file(path, name="team/d", kind="table"))
    ws.store.set_alias("good", versions[0].id)
    store = ws.store
    assert resolve(store, "table", "team/d") == versions[2]
    assert resolve(store, "table", "team/d@latest") == versions[2]
    assert resolve(store, "table", "team/d@v2") == versions[1]
    assert resolve(store, "table", "team/d@good") == versions[0]
    prefix = versions[1].digest[:10]
    assert resolve(store, "table", f"team/d@blake3:{prefix}") == versions[1]
    with pytest.raises(NotFound, match="no alias 'bad'"):
        resolve(store, "table", "team/d@bad")
    with pytest.raises(InvalidInput, match="hex digits"):
        resolve(store, "table", "team/d@blake3:xyz")
    with pytest.raises(InvalidInput, match="ends with '@'"):
        parse("team/d@")


@pytest.mark.parametrize("bad", ["", "../x", "/abs", "a/../b", "a b", "a@b@c", "é", "x" * 256])
def test_names_that_could_escape_or_confuse_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"cannot be used|is not a version"):
        parse(bad)


def test_init_refuses_an_existing_workspace(ws: loopml.Workspace, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceExists):
        loopml.init(tmp_path)


def test_init_in_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(loopml.errors.NotWritable, match="no such folder"):
        loopml.init(tmp_path / "nope")
