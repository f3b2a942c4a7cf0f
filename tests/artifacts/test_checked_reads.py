"""Every read of stored bytes is checked: damage is an error naming the record, its
digest and `loopml verify`, never wrong data.

Each read path meets the damage a disk, a person or a tool could plant in the artifact
store: one byte of a CSV changed (``3,4`` read as ``9,4``), one bit of a Parquet file
flipped (``500.0`` read as ``32768000.0``: Parquet readers do not notice) and the blob
deleted. Every test plants the damage on the store's own files or objects, the way it
happens, and reads through loopml's public calls or the ``loopml`` command.
"""

from __future__ import annotations

import io
import struct
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import loopml
from loopml.data import DatasetVersion
from loopml.errors import BlobMissing, IntegrityError, LoopmlError

DAMAGES = ["csv byte", "parquet bit", "missing"]
CSV = b"id,amount\n1,3\n2,4\n"
AMOUNTS = [1.5, 500.0, 2.5]
FLIPPED = 32768000.0  # 500.0 with the lowest bit of its exponent's top byte flipped


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    (tmp_path / "ws").mkdir()
    with loopml.init(tmp_path / "ws") as workspace:
        yield workspace


def blob_file(ws: loopml.Workspace, digest: str) -> Path:
    """The blob's file in the local store, found by layout (not through loopml's reads)."""
    return Path(ws.artifacts.location) / "blobs" / digest[:2] / digest[2:]


def parquet_bytes() -> bytes:
    table = pa.table({"id": [1, 2, 3], "amount": AMOUNTS})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="none", use_dictionary=False)
    return buffer.getvalue()


def flip_a_value(data: bytes) -> bytes:
    """``data`` with one bit flipped so that 500.0 reads as 32768000.0 and the file
    still reads: the occurrence of 500.0 in the data page, not in its statistics."""
    needle = struct.pack("<d", 500.0)
    at = data.find(needle)
    while at >= 0:
        flipped = bytearray(data)
        flipped[at + 7] ^= 0x01
        if pl.read_parquet(io.BytesIO(bytes(flipped)))["amount"].to_list()[1] == FLIPPED:
            return bytes(flipped)
        at = data.find(needle, at + 1)
    raise AssertionError("no occurrence of 500.0 reads back as the flipped value")


def damaged(data: bytes, damage: str) -> bytes | None:
    """The bytes ``damage`` leaves of a blob holding ``data``; None when it is deleted."""
    if damage == "missing":
        return None
    if damage == "csv byte":
        assert b"1,3" in data
        return data.replace(b"1,3", b"1,9", 1)
    return flip_a_value(data)


def plant(path: Path, damage: str, data: bytes | None = None) -> None:
    """Damage the file at ``path`` (a blob, or a file of a checked-out copy)."""
    data = path.read_bytes() if data is None else data
    after = damaged(data, damage)
    path.chmod(0o644)
    if after is None:
        path.unlink()
    else:
        path.write_bytes(after)


def source_file(tmp_path: Path, damage: str) -> Path:
    """A file whose blob ``damage`` applies to: CSV for a changed byte, else Parquet."""
    if damage == "csv byte":
        path = tmp_path / "sales.csv"
        path.write_bytes(CSV)
    else:
        path = tmp_path / "sales.parquet"
        path.write_bytes(parquet_bytes())
    return path


def add(ws: loopml.Workspace, tmp_path: Path, damage: str) -> DatasetVersion:
    return loopml.data.add(source_file(tmp_path, damage), name="sales", workspace=ws)


def assert_named(error: BaseException, damage: str, record: str, digest: str) -> None:
    """The error a damaged blob must give: its class, the record, the digest, the fix."""
    expected = BlobMissing if damage == "missing" else IntegrityError
    assert isinstance(error, expected), repr(error)
    message = str(error)
    assert record in message
    assert digest in message
    assert "loopml verify" in message


READS: dict[str, Callable[[DatasetVersion], Any]] = {
    "to_pandas": lambda version: version.to_pandas(),
    "to_polars": lambda version: version.to_polars(),
    "to_arrow": lambda version: version.to_arrow(),
    "path": lambda version: (
        pl.read_csv(version.path()) if version.format == "csv" else pl.read_parquet(version.path())
    ),
}


@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_dataset_is_never_read(
    ws: loopml.Workspace, tmp_path: Path, damage: str, read: str
) -> None:
    version = add(ws, tmp_path, damage)
    plant(blob_file(ws, version.digest), damage)
    fresh = loopml.data.get("sales@v1", workspace=ws)
    with pytest.raises(LoopmlError) as raised:
        READS[read](fresh)
    assert_named(raised.value, damage, "dataset sales@v1", version.digest)


@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("damage", ["csv byte", "parquet bit"])
def test_damage_after_a_good_read_is_found_by_the_next(
    ws: loopml.Workspace, tmp_path: Path, damage: str, read: str
) -> None:
    version = add(ws, tmp_path, damage)
    assert len(READS[read](version)) in (2, 3)  # makes the checked-out copy, checked
    # The copy is a hard link to the blob: damage to one is damage to the other.
    plant(blob_file(ws, version.digest), damage)
    with pytest.raises(IntegrityError) as raised:
        READS[read](version)
    assert_named(raised.value, damage, "dataset sales@v1", version.digest)


@pytest.mark.parametrize("damage", ["csv byte", "parquet bit"])
def test_a_damaged_checked_out_copy_is_made_again_from_the_blob(
    ws: loopml.Workspace, tmp_path: Path, damage: str
) -> None:
    version = add(ws, tmp_path, damage)
    expected = version.to_polars()
    copy = version.path()
    copy.unlink()  # the copy becomes a file of its own, then is damaged
    copy.write_bytes(blob_file(ws, version.digest).read_bytes())
    plant(copy, damage)
    assert version.to_polars().equals(expected)
    assert loopml.data.get("sales@v1", workspace=ws).to_polars().equals(expected)


@pytest.mark.parametrize("damage", DAMAGES)
def test_checkout_writes_nothing_from_a_damaged_blob(
    ws: loopml.Workspace, tmp_path: Path, damage: str
) -> None:
    version = add(ws, tmp_path, damage)
    plant(blob_file(ws, version.digest), damage)
    dest = tmp_path / "out" / "copy.bin"
    with pytest.raises(LoopmlError) as raised:
        version.checkout(dest)
    assert_named(raised.value, damage, "dataset sales@v1", version.digest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("read", ["path", "checkout"])
def test_a_damaged_file_of_a_folder_dataset(
    ws: loopml.Workspace, tmp_path: Path, damage: str, read: str
) -> None:
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    data = source_file(tmp_path, damage)
    (folder / "sub" / data.name).write_bytes(data.read_bytes())
    version = loopml.data.add(folder, name="images", workspace=ws)
    digest = loopml.artifacts.digest_bytes(data.read_bytes())
    plant(blob_file(ws, digest), damage)
    read_it = version.path if read == "path" else lambda: version.checkout(tmp_path / "out")
    with pytest.raises(LoopmlError) as raised:
        read_it()
    assert_named(raised.value, damage, "dataset images@v1", digest)


def test_a_folder_checked_out_before_is_checked_again(ws: loopml.Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.csv").write_bytes(CSV)
    (folder / "b.txt").write_text("beta")
    version = loopml.data.add(folder, name="images", workspace=ws)
    copy = version.path()
    (copy / "b.txt").unlink()
    (copy / "stray.txt").write_text("not in the version")
    plant(copy / "a.csv", "csv byte")  # a hard link: this damages the blob too
    with pytest.raises(IntegrityError, match="dataset images@v1"):
        version.path()
    blob = blob_file(ws, loopml.artifacts.digest_bytes(CSV))
    blob.unlink()
    ws.artifacts.put_bytes(CSV)  # the fix the error gives: the right bytes again
    assert version.path() == copy
    assert sorted(p.name for p in copy.iterdir()) == ["a.csv", "b.txt"]
    assert (copy / "a.csv").read_bytes() == CSV


@pytest.mark.parametrize("damage", ["csv byte", "missing"])
def test_a_damaged_profile(ws: loopml.Workspace, tmp_path: Path, damage: str) -> None:
    version = add(ws, tmp_path, "csv byte")
    digest = version.metadata["profile"]
    profile = blob_file(ws, digest)
    plant(profile, damage, data=b"1,3" + profile.read_bytes() if damage != "missing" else None)
    with pytest.raises(LoopmlError) as raised:
        loopml.data.get("sales@v1", workspace=ws).profile()
    assert_named(raised.value, damage, "profile of dataset sales@v1", digest)


PIPELINE = """
import pandas as pd
import loopml
from pathlib import Path

@loopml.step
def total(sales: {annotation}) -> float:
    frame = sales if isinstance(sales, pd.DataFrame) else pd.read_parquet(sales) \\
        if str(sales).endswith(".parquet") else pd.read_csv(sales)
    return float(frame["amount"].sum())

@loopml.pipeline
def report():
    return total(loopml.data.get("sales@v1"))
"""


@pytest.mark.parametrize("runner", ["local", "processes"])
@pytest.mark.parametrize("annotation", ["pd.DataFrame", "Path"])
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_pipeline_step_never_runs_on_damaged_input(
    ws: loopml.Workspace, tmp_path: Path, damage: str, annotation: str, runner: str
) -> None:
    from loopml.pipeline import load_pipeline

    version = add(ws, tmp_path, damage)
    file = tmp_path / f"flow_{damage.replace(' ', '_')}_{annotation[-4:]}_{runner}.py"
    file.write_text(textwrap.dedent(PIPELINE.format(annotation=annotation)))
    pipeline = load_pipeline(f"{file}:report")
    plant(blob_file(ws, version.digest), damage)
    with pytest.raises(LoopmlError) as raised:
        pipeline.run(workspace=ws, echo=False, runner=runner, workers=1)
    assert_named_anywhere(raised.value, "dataset sales@v1", version.digest)
    assert not [run for run in ws.store.find_runs(kind="step") if run.status == "succeeded"]


def assert_named_anywhere(error: BaseException, record: str, digest: str) -> None:
    """A step's error carries the reading error's message (its class may be StepFailed)."""
    text = str(error) + getattr(error, "traceback", "")
    assert record in text
    assert digest in text
    assert "loopml verify" in text


STEPS = """
import polars as pl
import loopml

@loopml.step
def make() -> pl.DataFrame:
    return pl.DataFrame({"x": [1, 2, 3]})

@loopml.pipeline
def flow():
    return make()
"""


@pytest.mark.parametrize("damage", ["parquet bit", "missing"])
def test_a_damaged_step_output(ws: loopml.Workspace, tmp_path: Path, damage: str) -> None:
    from loopml.pipeline import load_pipeline

    file = tmp_path / f"steps_{damage.replace(' ', '_')}.py"
    file.write_text(textwrap.dedent(STEPS))
    result = load_pipeline(f"{file}:flow").run(workspace=ws, echo=False)
    output = result.step("make").output
    assert output is not None
    blob = blob_file(ws, output.digest)
    blob.chmod(0o644)
    if damage == "missing":
        blob.unlink()
    else:
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x01
        blob.write_bytes(bytes(data))
    with pytest.raises(LoopmlError) as raised:
        result.output("make")
    assert_named(raised.value, damage, f"output {output.ref}", output.digest)


def flip_middle_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


@pytest.fixture
def evaluated(ws: loopml.Workspace) -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = (frame["a"] + frame["b"] > 0).astype(int)
    model = LogisticRegression().fit(frame[["a", "b"]][:100], frame["y"][:100])
    loopml.models.save_model(model, "clf", workspace=ws)
    evaluation = loopml.evaluate("clf", frame[100:], label="y", workspace=ws)
    return model, evaluation


@pytest.mark.parametrize("damage", ["bit", "missing"])
@pytest.mark.parametrize("record", ["model", "evaluation", "evaluation-rows"])
def test_damaged_models_and_evaluations(
    ws: loopml.Workspace, evaluated: tuple[Any, Any], record: str, damage: str
) -> None:
    from loopml.evaluation._record import evaluation_rows, load_evaluation

    _, evaluation = evaluated
    stored = ws.store.get_artifact(evaluation.artifact_id)
    target = {
        "model": ws.store.latest_artifact("model", "clf"),
        "evaluation": stored,
        "evaluation-rows": ws.store.get_artifact(stored.metadata["data_id"]),
    }[record]
    blob = blob_file(ws, target.digest)
    if damage == "missing":
        blob.unlink()
    else:
        flip_middle_bit(blob)
    read = {
        "model": lambda: loopml.models.load_model("clf", workspace=ws),
        "evaluation": lambda: load_evaluation(ws, stored),
        "evaluation-rows": lambda: evaluation_rows(ws, stored),
    }[record]
    with pytest.raises(LoopmlError) as raised:
        read()
    assert_named(raised.value, damage, f"{record} {target.ref}", target.digest)


@pytest.mark.parametrize("damage", ["csv byte", "missing"])
@pytest.mark.parametrize("command", ["data checkout", "artifacts get", "report"])
def test_the_cli_says_which_record_is_damaged(
    cli: Any, tmp_path: Path, command: str, damage: str
) -> None:
    cli("init", check=True)
    (tmp_path / "sales.csv").write_bytes(CSV)
    with loopml.workspace(tmp_path) as ws:
        if command == "report":
            version = loopml.data.add(tmp_path / "sales.csv", name="sales", workspace=ws)
            record = loopml.data.validate("sales@v1", workspace=ws)
            target, ref = record.report, f"report {record.report.ref}"
            args = ["artifacts", "get", record.report.ref, "out.html", "--kind", "report"]
            data = b"1,3" + blob_file(ws, target.digest).read_bytes()
        elif command == "artifacts get":
            target = ws.add_file(tmp_path / "sales.csv", name="sales")
            ref, args, data = "file sales@v1", ["artifacts", "get", "sales", "out.csv"], CSV
        else:
            version = loopml.data.add(tmp_path / "sales.csv", name="sales", workspace=ws)
            target = version.artifact
            ref, args, data = "dataset sales@v1", ["data", "checkout", "sales", "out.csv"], CSV
        plant(blob_file(ws, target.digest), damage, data=data)
    result = cli(*args)
    assert result.code == 2, result
    assert result.out == ""
    (line,) = result.err.strip().splitlines()
    assert ref in line
    assert target.digest in line
    assert "loopml verify" in line
    assert "internal error" not in line
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == []


@pytest.mark.s3
@pytest.mark.parametrize("read", ["to_polars", "path", "checkout"])
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_dataset_on_s3(
    tmp_path: Path, s3_url: str, s3_options: dict[str, Any], s3_server: Any, damage: str, read: str
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    with loopml.init(root, artifacts_url=s3_url, artifacts_options=s3_options) as ws:
        version = add(ws, tmp_path, damage)
        bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
        key = f"{prefix}/blobs/{version.digest[:2]}/{version.digest[2:]}"
        client = s3_server.client()
        after = damaged(client.get_object(Bucket=bucket, Key=key)["Body"].read(), damage)
        if after is None:
            client.delete_object(Bucket=bucket, Key=key)
        else:
            client.put_object(Bucket=bucket, Key=key, Body=after)
        fresh = loopml.data.get("sales@v1", workspace=ws)
        read_it = READS.get(read) or (lambda v: v.checkout(tmp_path / "out"))
        with pytest.raises(LoopmlError) as raised:
            read_it(fresh)
        assert_named(raised.value, damage, "dataset sales@v1", version.digest)
