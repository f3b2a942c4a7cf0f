"""A record of a kind loopml owns is only made by the code that owns the kind.

`loopml artifacts put --kind dataset` once wrote a dataset record with none of what
`loopml data ...` reads back ("internal error: KeyError 'format'"). The calls that
record a user's bytes now refuse loopml's kinds, naming what makes them, before
anything is stored; kinds of the user's own still work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loopml
from loopml.errors import InvalidInput

OWNED = [
    "dataset",
    "schema",
    "validation",
    "report",
    "output",
    "log",
    "model",
    "model-copy",
    "evaluation",
    "evaluation-rows",
    "gate",
    "drift",
    "summary",
    "reproduction",
    "object",
    "predictions",
    "feedback",
    "loop",
    "decision",
    "guidelines",
]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


def test_the_list_of_owned_kinds() -> None:
    from loopml._kinds import OWNED_KINDS

    assert sorted(OWNED_KINDS) == sorted(OWNED)


@pytest.mark.parametrize("kind", OWNED)
@pytest.mark.parametrize("call", ["add_file", "record"])
def test_the_library_refuses_every_owned_kind(
    ws: loopml.Workspace, tmp_path: Path, kind: str, call: str
) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"not what loopml writes")
    calls = {
        "add_file": lambda: ws.add_file(path, name="x", kind=kind),
        "record": lambda: ws.record(loopml.artifacts.digest_bytes(b"x"), 1, kind=kind, name="x"),
    }
    with pytest.raises(InvalidInput, match=f"kind '{kind}' is loopml's own") as raised:
        calls[call]()
    assert "--kind" in str(raised.value)  # the way out: a kind of the user's own
    assert ws.store.find_artifacts() == []
    assert list(ws.artifacts.digests()) == []  # refused before anything was stored


def test_artifacts_put_refuses_a_dataset_and_names_data_add(cli: Any, tmp_path: Path) -> None:
    cli("init", check=True)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    result = cli("artifacts", "put", "data.csv", "--name", "sales", "--kind", "dataset")
    assert result.code == 2
    assert result.out == ""
    (line,) = result.err.strip().splitlines()
    assert "kind 'dataset' is loopml's own" in line
    assert "loopml data add" in line
    assert "internal error" not in line
    # Nothing was recorded, so the data commands see no dataset, and adding it works.
    assert "no dataset named 'sales'" in cli("data", "log", "sales").err
    cli("data", "add", "data.csv", "--name", "sales", check=True)
    for command in (("data", "log", "sales"), ("data", "show", "sales")):
        assert cli(*command, check=True).code == 0
    assert cli("data", "validate", "sales").code == 0


def test_artifacts_put_keeps_the_users_kinds(cli: Any, tmp_path: Path) -> None:
    cli("init", check=True)
    (tmp_path / "notes.txt").write_text("hello")
    assert "file notes@v1" in cli("artifacts", "put", "notes.txt", "--name", "notes").out
    put = cli("artifacts", "put", "notes.txt", "--name", "notes", "--kind", "memo", check=True)
    assert "memo notes@v1" in put.out
    cli("artifacts", "get", "notes", "copy.txt", "--kind", "memo", check=True)
    assert (tmp_path / "copy.txt").read_text() == "hello"


def test_a_dataset_record_made_elsewhere_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    """A record an older loopml let `artifacts put` make: one line, exit 2."""
    cli("init", check=True)
    with loopml.workspace(tmp_path) as ws:
        blob = ws.artifacts.put_bytes(b"a,b\n1,2\n")
        ws.store.create_artifact(kind="dataset", name="odd", digest=blob.digest, size=blob.size)
    for command in (
        ("data", "log", "odd"),
        ("data", "show", "odd"),
        ("data", "checkout", "odd", "out.csv"),
        ("data", "validate", "odd"),
    ):
        result = cli(*command)
        assert result.code == 2, (command, result)
        assert "dataset odd@v1 was not recorded by `loopml data add`" in result.err
        assert "internal error" not in result.err


def test_each_kind_is_one_member_of_the_enum_stored_as_its_text(ws: loopml.Workspace) -> None:
    from loopml._kinds import ArtifactKind

    assert sorted(kind.value for kind in ArtifactKind) == sorted([*OWNED, "file"])
    made = ws.store.create_artifact(
        kind=ArtifactKind.MODEL_COPY, name="m", digest="ab" * 32, size=1
    )
    read = ws.store.get_artifact(made.id)
    assert type(made.kind) is str
    assert type(read.kind) is str
    assert read.kind == "model-copy" == ArtifactKind.MODEL_COPY
    assert ws.store.latest_artifact("model-copy", "m") == read
