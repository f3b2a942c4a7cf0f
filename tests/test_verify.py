"""`loopml verify` checks every blob any record points to, whatever its kind.

A workspace holds one record of every kind loopml makes (datasets of a table and of a
folder, schema, validation and report, step outputs and logs, models with an ONNX
copy, evaluations and their rows, a gate decision, a reproduction, logged objects,
files and folders). Every blob in its store must be one a record points to, and each,
deleted or changed, must be found by `verify`, which names the record that needs it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import loopml

FLOW = """
import pandas as pd
from sklearn.linear_model import LogisticRegression

import loopml


@loopml.step
def train(rows: pd.DataFrame) -> LogisticRegression:
    print("training on", len(rows), "rows")
    return LogisticRegression(max_iter=500).fit(rows[["a", "b"]], rows["y"])


@loopml.pipeline
def flow(data: str = "points@v1"):
    return train(loopml.data.get(data))
"""


def blob_file(ws: loopml.Workspace, digest: str) -> Path:
    return Path(ws.artifacts.location) / "blobs" / digest[:2] / digest[2:]


def points(seed: int, rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    return frame.assign(y=(frame["a"] + frame["b"] > 0).astype(int))


def make_every_kind(ws: loopml.Workspace, tmp_path: Path) -> None:
    """One record (at least) of every kind loopml makes, and of the user's ``file``."""
    from loopml import registry

    loopml.data.add(pl.from_pandas(points(0)), name="points", label="y", workspace=ws)
    loopml.data.add(pl.from_pandas(points(1)), name="points", label="y", workspace=ws)
    loopml.data.validate("points@v2", against="points@v1", workspace=ws)
    folder = tmp_path / "pictures"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "tom.txt").write_text("a cat")
    (folder / "dog.txt").write_text("a dog")
    loopml.data.add(folder, name="pictures", workspace=ws)

    project = tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text(textwrap.dedent(FLOW))
    from loopml.pipeline import load_pipeline

    result = load_pipeline(f"{project / 'flow.py'}:flow").run(workspace=ws, echo=False)
    trained = result.step("train").output
    held = points(2, rows=60)
    with loopml.start_run("release", workspace=ws):
        evaluation = loopml.evaluate(trained, held, label="y", name="clf", workspace=ws)
        loopml.gate(evaluation, {"baseline_margin": 0.0}, workspace=ws)
        registry.register(
            trained, "clf", evaluation=evaluation, onnx=held[["a", "b"]], workspace=ws
        )
        loopml.log_artifact({"threshold": 0.5}, name="settings")
        loopml.log_artifact(str(folder))
        (tmp_path / "notes.txt").write_text("notes")
        loopml.log_artifact(str(tmp_path / "notes.txt"))
    registry.reproduce("clf@v1", workspace=ws)
    # what a server logs: a prediction, and feedback on it
    from loopml.serve import PredictionLog, PredictionRecord

    with PredictionLog(ws) as log:
        log.append(
            PredictionRecord(
                "p1",
                None,
                1_700_000_000_000_000,
                "api",
                "clf@v1",
                0,
                1.0,
                {"a": [0.5], "b": [1.5]},
                {"predictions": [1]},
                300,
                None,
            )
        )
    loopml.feedback("p1", 1.0, workspace=ws)
    # the drift of its window, kept (the window closed long ago), and the summary of
    # its hour (a log this quiet is read from its rows unless told otherwise)
    import loopml.monitor._drift as drift
    from loopml.monitor import drift_windows

    quiet, drift.SUMMARY_ROWS_PER_HOUR = drift.SUMMARY_ROWS_PER_HOUR, 0
    try:
        assert drift_windows("api", every="1d", workspace=ws).saved == 1
    finally:
        drift.SUMMARY_ROWS_PER_HOUR = quiet
    # the labelling guidelines of a dataset
    loopml.data.set_guidelines("points", text="# Points\n\ny is 1 when a > b.\n", workspace=ws)
    # a loop's definition, and a decision of its controller
    from loopml.monitor import Loop, define_loop
    from loopml.monitor._decisions import record_decision

    spec = Loop("api", deployment="api", model="clf", data="points", label="y", training="update")
    loopml.deploy("api", "clf@v1", workspace=ws)
    define_loop(spec, workspace=ws)
    record_decision(
        ws,
        "api",
        "retrain",
        "retrain: a test",
        champion="clf@v1",
        challenger=None,
        evidence={"triggers": []},
        run_id=None,
    )


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[loopml.Workspace]:
    tmp_path = tmp_path_factory.mktemp("every-kind")
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as ws:
        make_every_kind(ws, tmp_path)
        yield ws


def test_the_workspace_has_every_kind(every_kind: loopml.Workspace) -> None:
    from loopml._kinds import OWNED_KINDS

    kinds = {artifact.kind for artifact in every_kind.store.find_artifacts()}
    assert kinds == {*OWNED_KINDS, "file"}


def test_every_stored_blob_is_one_a_record_points_to(every_kind: loopml.Workspace) -> None:
    from loopml._verify import verify_workspace

    found = verify_workspace(every_kind)
    assert found.damage == []
    assert found.records == len(every_kind.store.find_artifacts())
    # Every blob checked is in the store (no damage), and as many as the store holds:
    # no blob is there that no record points to (a field verify would not know).
    assert found.blobs == len(list(every_kind.artifacts.digests()))


@pytest.mark.parametrize("damage", ["deleted", "changed"])
def test_every_blob_of_every_record_is_checked(every_kind: loopml.Workspace, damage: str) -> None:
    from loopml._kinds import OWNED_KINDS
    from loopml._verify import verify_workspace

    ws = every_kind
    named_kinds: set[str] = set()
    for digest in list(ws.artifacts.digests()):
        path = blob_file(ws, digest)
        data = path.read_bytes()
        path.chmod(0o644)
        if damage == "deleted":
            path.unlink()
        else:
            path.write_bytes(data + b"\n")
        try:
            found = verify_workspace(ws)
        finally:
            path.unlink(missing_ok=True)
            ws.artifacts.put_bytes(data)
        assert found.damage, f"damage to blob {digest} was not found"
        assert {d.digest for d in found.damage} == {digest}
        problem = "missing" if damage == "deleted" else "corrupt"
        assert {d.problem for d in found.damage} == {problem}
        for found_damage in found.damage:
            assert found_damage.record in found_damage.message
            named_kinds.add(found_damage.record.split()[0])
    assert named_kinds == {*OWNED_KINDS, "file"}
    assert verify_workspace(ws).damage == []


def verify_after(cli: Any, tmp_path: Path, damage: Any) -> Any:
    cli("init", check=True)
    with loopml.workspace(tmp_path) as ws:
        damage(ws)
    return cli("verify")


def test_a_deleted_profile_is_found(cli: Any, tmp_path: Path) -> None:
    def delete_profile(ws: loopml.Workspace) -> None:
        version = loopml.data.add(pl.from_pandas(points(0)), name="points", workspace=ws)
        blob_file(ws, version.metadata["profile"]).unlink()

    result = verify_after(cli, tmp_path, delete_profile)
    assert result.code == 1
    assert "checked 2 artifacts: 1 damaged" in result.out
    assert "the profile of dataset points@v1" in result.err
    assert "missing" in result.err


def test_a_changed_profile_sample_is_found(cli: Any, tmp_path: Path) -> None:
    def change_sample(ws: loopml.Workspace) -> None:
        version = loopml.data.add(pl.from_pandas(points(0)), name="points", workspace=ws)
        sample = blob_file(ws, version.metadata["profile_sample"])
        sample.chmod(0o644)
        sample.write_bytes(sample.read_bytes()[:-1])

    result = verify_after(cli, tmp_path, change_sample)
    assert result.code == 1
    assert "the profile sample of dataset points@v1" in result.err
    assert "corrupt" in result.err


@pytest.mark.parametrize("kind", ["dataset", "logged folder"])
def test_a_deleted_file_of_a_folder_is_found(cli: Any, tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "cat.txt").write_text("a cat")
    (folder / "dog.txt").write_text("a dog")

    def delete_a_file(ws: loopml.Workspace) -> None:
        if kind == "dataset":
            loopml.data.add(folder, name="pictures", workspace=ws)
        else:
            with loopml.start_run("pictures", workspace=ws):
                loopml.log_artifact(str(folder))
        blob_file(ws, loopml.artifacts.digest_bytes(b"a dog")).unlink()

    result = verify_after(cli, tmp_path, delete_a_file)
    assert result.code == 1
    assert "the file dog.txt of" in result.err
    assert "cat.txt" not in result.err


def test_the_onnx_copy_a_model_names_is_checked(tmp_path: Path) -> None:
    from loopml import registry
    from loopml._verify import verify_workspace

    with loopml.init(tmp_path) as ws:
        frame = points(0)
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
        version = registry.register(model, "clf", onnx=frame[["a", "b"]], workspace=ws)
        copy = version.copies["onnx"]["digest"]
        blob_file(ws, copy).unlink()
        found = verify_workspace(ws)
    assert {(d.record, d.part) for d in found.damage} == {
        ("model clf@v1", "onnx copy"),
        ("model-copy clf@v1", "data"),
    }


def test_a_record_that_names_no_digest_is_damage(tmp_path: Path) -> None:
    from loopml._verify import verify_workspace

    with loopml.init(tmp_path) as ws:
        blob = ws.artifacts.put_bytes(b"x,y\n1,2\n")
        # A dataset record as an older loopml or a bad import could have left it.
        ws.store.create_artifact(
            kind="dataset",
            name="odd",
            digest=blob.digest,
            size=blob.size,
            metadata={"format": "csv", "profile": "not-a-digest"},
        )
        found = verify_workspace(ws)
    ((damage),) = found.damage
    assert (damage.record, damage.part, damage.problem) == (
        "dataset odd@v1",
        "profile",
        "not a digest",
    )
