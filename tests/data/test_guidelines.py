"""Labelling guidelines kept with a dataset: each text a version, the same text keeping
the one in force, refused when empty, unreadable or for a dataset that is not there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import loopml
from loopml.errors import InvalidInput, NotFound


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        loopml.data.add(
            pl.DataFrame({"text": ["hi"], "spam": [0]}), name="mail", workspace=workspace
        )
        yield workspace


def test_guidelines_are_versioned_with_their_dataset(ws: loopml.Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="loopml data guidelines mail FILE"):
        loopml.data.guidelines("mail", workspace=ws)
    path = tmp_path / "spam.md"
    path.write_text("# Spam\n\nAn offer nobody asked for.\n", encoding="utf-8")
    first = loopml.data.set_guidelines("mail", path, workspace=ws)
    assert (first.dataset, first.version, first.source) == ("mail", 1, "spam.md")
    same = loopml.data.set_guidelines("mail", text=path.read_text(), workspace=ws)
    assert same.version == 1  # the same text keeps the version in force
    second = loopml.data.set_guidelines("mail", text="# Spam\n\nNow with examples: ...\n",
                                        workspace=ws)  # fmt: skip
    assert (second.version, second.source) == (2, None)
    found = loopml.data.guidelines("mail", workspace=ws)
    assert (found.version, found.text) == (2, "# Spam\n\nNow with examples: ...\n")
    assert found.artifact.kind == "guidelines"
    assert ws.artifacts.read_bytes(first.artifact.digest) == path.read_bytes()


def test_bad_guidelines_are_refused_and_nothing_is_kept(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    (tmp_path / "blank.md").write_text("\n \n")
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00")
    cases = [
        ({"file": tmp_path / "blank.md"}, InvalidInput, "are empty"),
        ({"file": tmp_path / "binary.md"}, InvalidInput, "UTF-8"),
        ({"file": tmp_path / "missing.md"}, InvalidInput, "missing.md"),
        ({}, InvalidInput, "one of the two"),
        ({"file": tmp_path / "blank.md", "text": "x"}, InvalidInput, "one of the two"),
    ]
    for given, error, message in cases:
        with pytest.raises(error, match=message):
            loopml.data.set_guidelines("mail", workspace=ws, **given)
    with pytest.raises(NotFound, match="'letters'"):
        loopml.data.set_guidelines("letters", text="# Letters", workspace=ws)
    with pytest.raises(InvalidInput, match="dataset name"):
        loopml.data.set_guidelines("../mail", text="# Mail", workspace=ws)
    assert ws.store.find_artifacts(kind="guidelines") == []
