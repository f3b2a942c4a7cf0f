"""Dataset versions through the Python API, on a real workspace: add, get, read, check
out, profile, schema, folders and the stat cache, diff and recorded validations."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml
from opens import FileOpens
from planted import current_table, reference_table

import loopml
from loopml.artifacts import digest_bytes
from loopml.data import DatasetVersion, infer_schema, profile
from loopml.data._statcache import FINE_WINDOW_NS
from loopml.errors import InvalidInput, NotFound
from loopml.store import Direction, RunStatus

SOURCES = ["parquet", "csv", "pandas", "polars", "arrow"]
FILE_SOURCES = ("parquet", "csv")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    workspace = loopml.init(tmp_path)
    yield workspace
    workspace.close()


def table(rows: int, seed: int, start: int = 0) -> pl.DataFrame:
    """Unique ids, floats, a few cities and a flag: types that survive CSV unchanged."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "id": np.arange(start, start + rows, dtype=np.int64),
            "score": rng.normal(50, 10, rows),
            "city": rng.choice(["oslo", "lima", "pune"], rows),
            "flag": rng.random(rows) < 0.3,
        }
    )


def as_source(kind: str, data: pl.DataFrame, folder: Path, stem: str) -> Any:
    """``data`` in the form ``kind`` names: a file path or an in-memory table."""
    if kind == "parquet":
        path = folder / f"{stem}.parquet"
        data.write_parquet(path)
        return path
    if kind == "csv":
        path = folder / f"{stem}.csv"
        data.write_csv(path)
        return path
    if kind == "pandas":
        return data.to_pandas()
    if kind == "polars":
        return data.clone()
    assert kind == "arrow"
    return data.to_arrow()


def datasets(ws: loopml.Workspace, name: str | None = None) -> list[Any]:
    return ws.store.find_artifacts(kind="dataset", name=name)


def blobs(ws: loopml.Workspace) -> set[str]:
    return set(ws.artifacts.digests())


def read_only(path: Path) -> bool:
    return not path.stat().st_mode & 0o222


# -- adding and getting versions -----------------------------------------------------


@pytest.mark.parametrize("kind", SOURCES)
def test_each_source_makes_numbered_versions_that_refs_resolve(
    ws: loopml.Workspace, tmp_path: Path, kind: str
) -> None:
    first, second = table(200, seed=1), table(300, seed=2, start=1000)
    v1 = loopml.data.add(as_source(kind, first, tmp_path, "first"), name="d", workspace=ws)
    v2 = loopml.data.add(as_source(kind, second, tmp_path, "second"), name="d", workspace=ws)

    assert (v1.ref, v2.ref) == ("d@v1", "d@v2")
    assert v1.digest != v2.digest
    assert (v1.rows, v2.rows) == (200, 300)
    assert [v.ref for v in loopml.data.versions("d", workspace=ws)] == ["d@v1", "d@v2"]
    assert loopml.data.get("d@latest", workspace=ws).artifact == v2.artifact
    assert loopml.data.get("d", workspace=ws).artifact == v2.artifact
    assert loopml.data.get("d@v1", workspace=ws).artifact == v1.artifact
    by_digest = loopml.data.get(f"d@blake3:{v1.digest[:12]}", workspace=ws)
    assert by_digest.artifact == v1.artifact
    assert loopml.data.get(f"d@blake3:{v2.digest[:12]}", workspace=ws).artifact == v2.artifact

    # The data of each version, in each form.
    old = loopml.data.get("d@v1", workspace=ws)
    assert old.to_polars().equals(first)
    assert old.to_arrow().equals(first.to_arrow())
    import pandas.testing

    pandas.testing.assert_frame_equal(old.to_pandas(), first.to_pandas())
    assert v2.to_polars().equals(second)


@pytest.mark.parametrize("kind", SOURCES)
def test_path_is_a_read_only_copy_under_the_original_name(
    ws: loopml.Workspace, tmp_path: Path, kind: str
) -> None:
    data = table(150, seed=3)
    source = as_source(kind, data, tmp_path, "orders")
    version = loopml.data.add(source, name="orders", workspace=ws)
    path = version.path()
    assert path.is_file()
    assert read_only(path)
    assert digest_bytes(path.read_bytes()) == version.digest
    if kind in FILE_SOURCES:
        assert path.name == source.name
        assert path.read_bytes() == source.read_bytes()
    else:
        assert path.name == "data.parquet"
        assert pl.read_parquet(path).equals(data)
    # A second call gives the same file; the copy is not made twice.
    assert version.path() == path


@pytest.mark.parametrize("kind", SOURCES)
def test_adding_the_same_content_again_records_nothing(
    ws: loopml.Workspace, tmp_path: Path, kind: str
) -> None:
    data = table(250, seed=4)
    first = loopml.data.add(as_source(kind, data, tmp_path, "a"), name="same", workspace=ws)
    before_blobs, before_artifacts = blobs(ws), ws.store.find_artifacts()
    # The same source object (or path) again, then an equal one made afresh.
    again = loopml.data.add(as_source(kind, data, tmp_path, "a"), name="same", workspace=ws)
    equal = loopml.data.add(
        as_source(kind, table(250, seed=4), tmp_path, "copy"), name="same", workspace=ws
    )
    assert again.artifact == first.artifact
    assert equal.artifact == first.artifact
    assert len(datasets(ws, "same")) == 1
    assert ws.store.find_artifacts() == before_artifacts
    assert blobs(ws) == before_blobs
    # Different content is a new version, and the same again after it is not.
    changed = table(251, seed=4)
    v2 = loopml.data.add(as_source(kind, changed, tmp_path, "b"), name="same", workspace=ws)
    v2_again = loopml.data.add(as_source(kind, changed, tmp_path, "b"), name="same", workspace=ws)
    assert (v2.version, v2_again.artifact) == (2, v2.artifact)
    assert len(datasets(ws, "same")) == 2


def test_the_same_dataframe_twice_from_pandas_and_polars_dedups(ws: loopml.Workspace) -> None:
    data = table(100, seed=5)
    frame = data.to_pandas()
    v1 = loopml.data.add(frame, name="frame", workspace=ws)
    assert loopml.data.add(frame, name="frame", workspace=ws).artifact == v1.artifact
    assert loopml.data.add(frame.copy(), name="frame", workspace=ws).artifact == v1.artifact
    assert len(datasets(ws, "frame")) == 1


def test_an_alias_resolves_to_its_version(ws: loopml.Workspace) -> None:
    v1 = loopml.data.add(table(10, seed=6), name="aliased", workspace=ws)
    loopml.data.add(table(11, seed=6), name="aliased", workspace=ws)
    ws.store.set_alias("golden", v1.artifact.id)
    assert loopml.data.get("aliased@golden", workspace=ws).artifact == v1.artifact


def test_the_same_bytes_under_two_file_names_can_both_be_read(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    data = table(20, seed=19)
    data.write_csv(tmp_path / "jan.csv")
    shutil.copy(tmp_path / "jan.csv", tmp_path / "copy.csv")
    first = loopml.data.add(tmp_path / "jan.csv", name="first", workspace=ws)
    second = loopml.data.add(tmp_path / "copy.csv", name="second", workspace=ws)
    assert first.digest == second.digest
    assert first.path().name == "jan.csv"
    assert first.to_polars().equals(data)
    path = second.path()
    assert path.name == "copy.csv"
    assert path.read_bytes() == (tmp_path / "copy.csv").read_bytes()
    assert second.to_polars().equals(data)


def test_unknown_versions_and_datasets_are_not_found(ws: loopml.Workspace) -> None:
    loopml.data.add(table(10, seed=6), name="known", workspace=ws)
    with pytest.raises(NotFound, match="v9"):
        loopml.data.get("known@v9", workspace=ws)
    with pytest.raises(NotFound, match="unknown"):
        loopml.data.get("unknown", workspace=ws)
    with pytest.raises(NotFound, match="unknown"):
        loopml.data.versions("unknown", workspace=ws)
    with pytest.raises(NotFound, match="0000000000"):
        loopml.data.get("known@blake3:0000000000", workspace=ws)


def test_bad_input_names_the_argument_that_holds_it(ws: loopml.Workspace, tmp_path: Path) -> None:
    frame = table(10, seed=6)
    loopml.data.add(frame, name="known", workspace=ws)
    calls = {
        "name": lambda: loopml.data.add(frame, name="no spaces", workspace=ws),
        "source": lambda: loopml.data.add(tmp_path / "gone.csv", name="x", workspace=ws),
        "label": lambda: loopml.data.add(frame, name="x", label="nope", workspace=ws),
        "description": lambda: loopml.data.add(frame, name="x", description=3, workspace=ws),
        "ref": lambda: loopml.data.get("known@", workspace=ws),
        "against": lambda: loopml.data.validate("known", against="known@@", workspace=ws),
        "new": lambda: loopml.data.diff("known", "known@blake3:12", workspace=ws),
    }
    for field, call in calls.items():
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field, caught.value
        assert caught.value.to_dict()["field"] == field
    with pytest.raises(InvalidInput, match="reference 3 is not text but int") as caught:
        loopml.data.get(3, workspace=ws)  # type: ignore[arg-type]
    assert caught.value.field == "ref"
    assert not ws.store.find_artifacts(kind="dataset", name="x")


def test_an_unknown_comparison_is_bad_input_naming_it() -> None:
    from loopml.data._validate import validate_profile

    current = profile(pl.DataFrame({"y": ["a", "b"] * 50}))
    with pytest.raises(InvalidInput, match="comparison is 'sideways'; use 'drift' or") as bad:
        validate_profile(current, reference=current, comparison="sideways")
    assert bad.value.field == "comparison"


# -- checkout --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SOURCES)
def test_checkout_writes_the_bytes_that_were_added(
    ws: loopml.Workspace, tmp_path: Path, kind: str
) -> None:
    data = table(400, seed=7)
    source = as_source(kind, data, tmp_path, "events")
    v1 = loopml.data.add(source, name="events", workspace=ws)
    loopml.data.add(table(20, seed=8), name="events", workspace=ws)  # a later version

    written = loopml.data.get("events@v1", workspace=ws).checkout(tmp_path / "out" / "x.bin")
    assert written == tmp_path / "out" / "x.bin"
    content = written.read_bytes()
    assert digest_bytes(content) == v1.digest
    if kind in FILE_SOURCES:
        assert content == source.read_bytes()
        assert hashlib.sha256(content).digest() == hashlib.sha256(source.read_bytes()).digest()
    else:
        assert pl.read_parquet(written).equals(data)

    folder = tmp_path / "existing"
    folder.mkdir()
    into = v1.checkout(folder)
    expected_name = source.name if kind in FILE_SOURCES else "data.parquet"
    assert into == folder / expected_name
    assert into.read_bytes() == content
    assert os.listdir(folder) == [expected_name]


# -- metadata and profiles --------------------------------------------------------------


def test_metadata_records_the_source_and_the_notes(ws: loopml.Workspace, tmp_path: Path) -> None:
    data = table(321, seed=9)
    path = tmp_path / "labelled.csv"
    data.write_csv(path)
    version = loopml.data.add(
        path,
        name="labelled",
        label="flag",
        description="March export",
        labelling_notes="flag = customer churned within 30 days",
        workspace=ws,
    )
    meta = loopml.data.get("labelled@v1", workspace=ws).metadata
    assert meta["format"] == "csv"
    assert meta["file_name"] == "labelled.csv"
    assert meta["source"] == {
        "path": str(path.absolute()),
        "size": path.stat().st_size,
        "rows": 321,
    }
    assert version.artifact.size == path.stat().st_size
    assert meta["rows"] == 321
    assert meta["columns"] == [
        {"name": "id", "type": "Int64"},
        {"name": "score", "type": "Float64"},
        {"name": "city", "type": "String"},
        {"name": "flag", "type": "Boolean"},
    ]
    assert meta["created_by"].startswith(f"{getpass.getuser()}@")
    assert meta["description"] == "March export"
    assert meta["labelling_notes"] == "flag = customer churned within 30 days"
    assert meta["label"] == "flag"
    assert version.profile().label == "flag"

    frame = loopml.data.add(data.to_pandas(), name="frame", workspace=ws)
    assert frame.metadata["source"] == {"path": None, "object": "pandas DataFrame", "rows": 321}
    assert frame.metadata["label"] is None
    assert frame.metadata["description"] is None


def test_a_different_label_on_equal_content_is_a_new_version(ws: loopml.Workspace) -> None:
    data = table(50, seed=10)
    v1 = loopml.data.add(data, name="l", workspace=ws)
    v2 = loopml.data.add(data, name="l", label="flag", workspace=ws)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.digest == v2.digest
    assert v2.profile().label == "flag"
    assert loopml.data.add(data, name="l", label="flag", workspace=ws).artifact == v2.artifact


def mixed_types(rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    score = pl.Series(rng.normal(0, 1, rows)).set(pl.Series(rng.random(rows) < 0.05), None)
    days = rng.integers(0, 365, rows)
    return pl.DataFrame(
        {
            "small": rng.integers(0, 5, rows),
            "wide": rng.integers(0, 10**9, rows),
            "score": score,
            "ratio": np.where(rng.random(rows) < 0.01, np.nan, rng.lognormal(0, 1, rows)),
            "city": rng.choice(["oslo", "lima", "pune", "kobe"], rows),
            "flag": rng.random(rows) < 0.3,
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in days],
            "at": [dt.datetime(2024, 1, 1) + dt.timedelta(seconds=int(d) * 997) for d in days],
            "y": rng.choice(["yes", "no"], rows),
        }
    )


@pytest.mark.parametrize("kind", SOURCES)
def test_stored_profile_equals_the_profile_computed_directly(
    ws: loopml.Workspace, tmp_path: Path, kind: str
) -> None:
    data = mixed_types(6_000)  # more rows than the 5,000-row sample
    if kind == "csv":  # CSV has no date types to keep
        data = data.drop("day", "at")
    source = as_source(kind, data, tmp_path, "t")
    version = loopml.data.add(source, name="t", label="y", workspace=ws)
    stored = loopml.data.get(version.ref, workspace=ws).profile()
    # pandas has no date type: its frame comes back with datetimes where dates were.
    direct = profile(pl.from_pandas(source) if kind == "pandas" else data, label="y")
    stored_json, direct_json = stored.to_json(), direct.to_json()
    assert [c["name"] for c in stored_json["columns"]] == list(data.columns)
    for got, expected in zip(stored_json["columns"], direct_json["columns"], strict=True):
        assert got == expected, got["name"]
    assert stored_json == direct_json
    assert stored.rows == 6_000
    assert stored.column("score").missing == data["score"].null_count()
    assert stored.sample is not None
    assert direct.sample is not None
    # CSV reads NaN as missing (the pandas markers): both are NaN in a sample.
    assert stored.sample == direct.sample
    assert stored.sample.height == 5_000


# -- schemas ----------------------------------------------------------------------------


def with_nulls(rows: int, seed: int, share: float = 0.05) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = pl.Series("x", rng.normal(0, 1, rows)).set(pl.Series(rng.random(rows) < share), None)
    return pl.DataFrame({"x": x, "k": rng.choice(["a", "b"], rows)})


def schema_artifacts(ws: loopml.Workspace, name: str) -> list[Any]:
    return sorted(ws.store.find_artifacts(kind="schema", name=name), key=lambda a: a.version)


def write_schema(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_first_version_pins_an_inferred_schema_later_ones_keep_it(
    ws: loopml.Workspace,
) -> None:
    first = with_nulls(4_000, seed=1)
    loopml.data.add(first, name="s", workspace=ws)
    pinned = loopml.data.schema("s", workspace=ws)
    assert pinned == infer_schema(profile(first))
    assert pinned.column("x").type == "float"
    assert pinned.column("k").domain == ("a", "b")

    # A wider, different second version does not move the schema.
    loopml.data.add(with_nulls(9_000, seed=2, share=0.2), name="s", workspace=ws)
    assert loopml.data.schema("s", workspace=ws) == pinned
    assert [a.version for a in schema_artifacts(ws, "s")] == [1]


def test_a_pinned_schema_with_a_tighter_max_missing_finds_missing_values(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    loopml.data.add(with_nulls(4_000, seed=1), name="s", workspace=ws)
    loopml.data.add(with_nulls(4_000, seed=2), name="s", workspace=ws)
    before = loopml.data.validate("s@v2", workspace=ws)
    assert before.passed, before.validation.anomalies
    assert not [a for a in before.validation.anomalies if a.kind == "missing_values"]
    assert before.schema == "s@v1"

    data = loopml.data.schema("s", workspace=ws).to_data()
    data["columns"]["x"]["max_missing"] = 0.01
    artifact = loopml.data.set_schema("s", write_schema(tmp_path / "s.yaml", data), workspace=ws)
    assert artifact.ref == "s@v2"
    assert loopml.data.schema("s", workspace=ws).column("x").max_missing == 0.01
    assert [a.version for a in schema_artifacts(ws, "s")] == [1, 2]

    after = loopml.data.validate("s@v2", workspace=ws)
    assert after.schema == "s@v2"
    assert not after.passed
    [missing] = [a for a in after.validation.anomalies if a.kind == "missing_values"]
    assert (missing.column, missing.severity) == ("x", "error")
    assert missing.evidence["limit"] == 0.01
    assert missing.evidence["share"] == pytest.approx(0.05, abs=0.015)


def test_a_schema_can_make_drift_an_error(ws: loopml.Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    loopml.data.add(pl.DataFrame({"x": rng.normal(0, 1, 5_000)}), name="m", workspace=ws)
    loopml.data.add(pl.DataFrame({"x": rng.normal(0.5, 1, 5_000)}), name="m", workspace=ws)
    warned = loopml.data.validate("m@v2", workspace=ws)
    assert [(a.kind, a.severity) for a in warned.validation.anomalies] == [("drift", "warning")]
    assert warned.passed

    data = loopml.data.schema("m", workspace=ws).to_data()
    data["severity"] = {"drift": "error"}
    loopml.data.set_schema("m", write_schema(tmp_path / "m.yaml", data), workspace=ws)
    stopped = loopml.data.validate("m@v2", workspace=ws)
    assert [(a.kind, a.severity) for a in stopped.validation.anomalies] == [("drift", "error")]
    assert not stopped.passed
    assert stopped.artifact.metadata["passed"] is False


def test_setting_the_same_schema_again_records_no_new_version(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    loopml.data.add(with_nulls(1_000, seed=3), name="s", workspace=ws)
    data = loopml.data.schema("s", workspace=ws).to_data()
    first = loopml.data.set_schema("s", write_schema(tmp_path / "a.yaml", data), workspace=ws)
    assert first.version == 1  # it equals the inferred one
    assert [a.version for a in schema_artifacts(ws, "s")] == [1]


# -- folders of files and the stat cache ------------------------------------------------


FOLDERS, FILES_PER_FOLDER = 100, 100


def write_tree(root: Path) -> list[Path]:
    paths = []
    for folder in range(FOLDERS):
        sub = root / f"part-{folder:03d}"
        sub.mkdir(parents=True)
        for index in range(FILES_PER_FOLDER):
            path = sub / f"item-{index:03d}.txt"
            path.write_bytes(b"file %d/%d\n" % (folder, index))
            paths.append(path)
    return paths


def outside_racy_window() -> None:
    """Wait until files written so far are older than the stat cache's window: a file
    modified just before it is read is hashed again next time, by design."""
    time.sleep(2 * FINE_WINDOW_NS / 1e9)


def test_a_folder_of_10000_files_stores_only_what_changed(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    root = tmp_path / "images"
    paths = write_tree(root)
    count = FOLDERS * FILES_PER_FOLDER
    start = blobs(ws)
    outside_racy_window()

    with FileOpens(root) as opens:
        v1 = loopml.data.add(root, name="images", workspace=ws)
    assert v1.ref == "images@v1"
    assert (v1.format, v1.metadata["files"], v1.metadata["suffixes"]) == (
        "folder",
        count,
        {".txt": count},
    )
    assert v1.artifact.size == sum(p.stat().st_size for p in paths)
    assert opens.files() == set(paths)
    after_v1 = blobs(ws)
    assert len(after_v1 - start) == count + 1  # every file, and the manifest
    assert v1.digest in after_v1

    # Unchanged: nothing read, nothing stored, no version.
    with FileOpens(root) as opens:
        again = loopml.data.add(root, name="images", workspace=ws)
    assert again.artifact == v1.artifact
    assert opens.paths() == []
    assert blobs(ws) == after_v1
    assert len(datasets(ws, "images")) == 1

    # One file changed: only it is read; one new blob and one new manifest.
    changed = root / "part-042" / "item-007.txt"
    old_content = changed.read_bytes()
    new_content = b"a changed file, longer than before\n"
    changed.write_bytes(new_content)
    outside_racy_window()
    with FileOpens(root) as opens:
        v2 = loopml.data.add(root, name="images", workspace=ws)
    assert v2.ref == "images@v2"
    assert opens.files() == {changed}
    after_v2 = blobs(ws)
    assert after_v2 - after_v1 == {digest_bytes(new_content), v2.digest}
    assert after_v2 >= after_v1

    with FileOpens(root) as opens:
        assert loopml.data.add(root, name="images", workspace=ws).artifact == v2.artifact
    assert opens.paths() == []
    assert len(datasets(ws, "images")) == 2

    difference = loopml.data.diff("images@v1", "images@v2", workspace=ws)
    assert difference.files_changed == ["part-042/item-007.txt"]
    assert (difference.files_added, difference.files_removed) == ([], [])
    assert difference.rows_added is None

    # Checkout reproduces every file byte for byte.
    out = tmp_path / "out"
    assert v2.checkout(out) == out
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(written) == count
    assert [p.relative_to(out) for p in written] == [p.relative_to(root) for p in sorted(paths)]
    for path in paths:
        assert (out / path.relative_to(root)).read_bytes() == path.read_bytes()
    # The old version still holds the old bytes.
    old = loopml.data.get("images@v1", workspace=ws).path()
    assert (old / "part-042" / "item-007.txt").read_bytes() == old_content
    assert (old / "part-000" / "item-000.txt").read_bytes() == b"file 0/0\n"
    assert sum(1 for p in old.rglob("*") if p.is_file() and p.name != ".complete") == count


def test_the_path_of_a_folder_version_holds_only_its_files(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    path = loopml.data.add(root, name="docs", workspace=ws).path()
    assert (path / "sub" / "b.txt").read_text() == "b"
    assert sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) == [
        "a.txt",
        "sub/b.txt",
    ]


def test_a_folder_version_refuses_table_operations(ws: loopml.Workspace, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("a")
    (root / "b.md").write_text("b")
    version = loopml.data.add(root, name="docs", workspace=ws)
    assert version.metadata["suffixes"] == {".txt": 1, ".md": 1}
    for call in (version.profile, version.to_polars):
        with pytest.raises(InvalidInput, match="folder of files"):
            call()
    with pytest.raises(InvalidInput, match="folder of files"):
        loopml.data.validate("docs@v1", workspace=ws)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        version.checkout(taken)
    assert os.listdir(taken) == ["x"]


@pytest.mark.parametrize("kind", FILE_SOURCES)
def test_the_stat_cache_spares_reading_a_file_again(
    ws: loopml.Workspace, tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = as_source(kind, table(1_000, seed=13), folder, "big")
    outside_racy_window()
    with FileOpens(folder) as opens:
        v1 = loopml.data.add(path, name="big", label="flag", workspace=ws)
    assert path in opens.files()
    # Unchanged: answered from metadata, without opening the file at all.
    with FileOpens(folder) as opens:
        again = loopml.data.add(path, name="big", label="flag", workspace=ws)
    assert again.artifact == v1.artifact
    assert opens.paths() == []
    # Rewritten with other content: the stat changed, so it is read again.
    other = as_source(kind, table(1_001, seed=13), folder, "big")
    with FileOpens(folder) as opens:
        v2 = loopml.data.add(other, name="big", label="flag", workspace=ws)
    assert path in opens.files()
    assert v2.version == 2
    assert digest_bytes(path.read_bytes()) == v2.digest


# -- diff ------------------------------------------------------------------------------


def test_diff_counts_rows_added_and_removed(ws: loopml.Workspace) -> None:
    base = table(100, seed=14)
    changed = pl.concat([base.slice(10), table(25, seed=15, start=100)])
    loopml.data.add(base, name="d", workspace=ws)
    loopml.data.add(changed, name="d", workspace=ws)
    result = loopml.data.diff("d@v1", "d@v2", workspace=ws)
    assert (result.old, result.new) == ("d@v1", "d@v2")
    assert (result.rows_old, result.rows_new) == (100, 115)
    assert (result.rows_added, result.rows_removed) == (25, 10)
    assert (result.columns_added, result.columns_removed, result.type_changes) == ([], [], {})
    # The row id is an identifier: new versions bring new ids, so it is not compared.
    assert {d.column for d in result.drift} == {"score", "city", "flag"}
    # The other way round, the counts swap.
    back = loopml.data.diff("d@v2", "d@v1", workspace=ws)
    assert (back.rows_added, back.rows_removed) == (10, 25)
    assert json.loads(json.dumps(result.to_json(), default=str))["rows_added"] == 25


def test_diff_counts_duplicate_rows_as_a_multiset(ws: loopml.Workspace) -> None:
    base = pl.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "x", "y", "z"]})
    changed = pl.DataFrame({"a": [1, 2, 2, 2, 3], "b": ["x", "y", "y", "y", "z"]})
    loopml.data.add(base, name="m", workspace=ws)
    loopml.data.add(changed, name="m", workspace=ws)
    result = loopml.data.diff("m@v1", "m@v2", workspace=ws)
    assert (result.rows_added, result.rows_removed) == (2, 1)


def test_diff_reports_columns_added_removed_and_type_changes(ws: loopml.Workspace) -> None:
    base = table(100, seed=16)
    changed = base.drop("city").with_columns(
        pl.col("id").cast(pl.Float64), pl.col("flag").cast(pl.String), source=pl.lit("web")
    )
    loopml.data.add(base, name="c", workspace=ws)
    loopml.data.add(changed, name="c", workspace=ws)
    result = loopml.data.diff("c@v1", "c@v2", workspace=ws)
    assert result.columns_added == ["source"]
    assert result.columns_removed == ["city"]
    assert result.type_changes == {"id": ("integer", "float"), "flag": ("boolean", "string")}
    assert (result.rows_old, result.rows_new) == (100, 100)


def test_diff_with_only_a_column_dropped_counts_rows_over_the_rest(ws: loopml.Workspace) -> None:
    base = table(60, seed=17)
    loopml.data.add(base, name="r", workspace=ws)
    loopml.data.add(base.drop("flag").slice(0, 50), name="r", workspace=ws)
    result = loopml.data.diff("r@v1", "r@v2", workspace=ws)
    assert result.columns_removed == ["flag"]
    assert (result.rows_added, result.rows_removed) == (0, 10)


# -- validation records -----------------------------------------------------------------


def run_of(ws: loopml.Workspace, artifact_id: str) -> str:
    [event] = ws.store.events(artifact_id=artifact_id)
    assert event.direction == Direction.OUTPUT
    return event.run_id


def test_validate_records_a_result_a_report_and_a_run(ws: loopml.Workspace) -> None:
    v1 = loopml.data.add(reference_table(20_000), name="sales", label="label", workspace=ws)
    v2 = loopml.data.add(current_table(20_000), name="sales", label="label", workspace=ws)
    [schema_artifact] = ws.store.find_artifacts(kind="schema", name="sales")

    record = loopml.data.validate("sales@v2", workspace=ws)
    assert not record.passed
    assert (record.dataset, record.reference, record.schema) == ("sales@v2", "sales@v1", "sales@v1")
    kinds = {(a.kind, a.column, a.severity) for a in record.validation.anomalies}
    # A value never seen before is news, not an error; values missing where there
    # were none are an error.
    assert ("outside_domain", "new_category", "warning") in kinds
    assert ("missing_values", "added_nulls", "error") in kinds

    assert record.artifact.kind == "validation"
    assert record.report.kind == "report"
    # Named after the version validated, counted per version: not sales@v1, a dataset ref.
    assert (record.artifact.ref, record.report.ref) == (
        "sales.v2.validation@v1",
        "sales.v2.report@v1",
    )
    assert record.describe() == "validation 1 of sales@v2 (sales.v2.validation@v1)"
    assert record.artifact.metadata["passed"] is False
    assert record.artifact.metadata["errors"] == len(record.validation.errors)
    assert record.artifact.metadata["report"] == record.report.ref
    stored = json.loads(ws.artifacts.read_bytes(record.artifact.digest))
    assert stored["passed"] is False
    assert [a["kind"] for a in stored["anomalies"]] == [a.kind for a in record.validation.anomalies]
    page = ws.artifacts.read_bytes(record.report.digest).decode()
    assert page.lstrip().lower().startswith(("<!doctype html", "<html"))
    assert "new_category" in page

    run_id = run_of(ws, record.artifact.id)
    assert run_of(ws, record.report.id) == run_id
    run = ws.store.get_run(run_id)
    assert (run.kind, run.name, run.status) == ("validate", "sales", RunStatus.FAILED_VALIDATION)
    events = {(e.direction, e.role): e.artifact_id for e in ws.store.events(run_id=run_id)}
    assert events == {
        (Direction.INPUT, "dataset"): v2.artifact.id,
        (Direction.INPUT, "schema"): schema_artifact.id,
        (Direction.INPUT, "reference"): v1.artifact.id,
        (Direction.OUTPUT, "report"): record.report.id,
        (Direction.OUTPUT, "validation"): record.artifact.id,
    }

    clean = loopml.data.validate("sales@v1", workspace=ws)
    assert clean.passed
    assert clean.reference is None
    clean_run = run_of(ws, clean.artifact.id)
    assert ws.store.get_run(clean_run).status == RunStatus.SUCCEEDED
    inputs = {e.role for e in ws.store.events(run_id=clean_run) if e.direction == "input"}
    assert inputs == {"dataset", "schema"}
    assert clean.artifact.ref == "sales.v1.validation@v1"
    again = loopml.data.validate("sales@v2", workspace=ws)
    assert again.describe() == "validation 2 of sales@v2 (sales.v2.validation@v2)"


def test_the_report_escapes_what_the_data_supplies(ws: loopml.Workspace) -> None:
    rng = np.random.default_rng(20)
    column, value = "<img src=x onerror=alert(1)>", '<script>alert("x")</script>'
    loopml.data.add(pl.DataFrame({column: rng.choice(["a", "b"], 2_000)}), name="esc", workspace=ws)
    loopml.data.add(
        pl.DataFrame({column: rng.choice(["a", value], 2_000)}), name="esc", workspace=ws
    )
    record = loopml.data.validate("esc@v2", workspace=ws)
    assert [(a.kind, a.severity) for a in record.validation.anomalies][:1] == [
        ("outside_domain", "warning")
    ]
    page = ws.artifacts.read_bytes(record.report.digest).decode()
    assert "&lt;script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()


def test_validate_against_another_dataset_is_skew(ws: loopml.Workspace) -> None:
    rng = np.random.default_rng(18)

    def split(rows: int, share: float) -> pl.DataFrame:
        return pl.DataFrame({"x": rng.normal(0, 1, rows), "y": rng.random(rows) < share})

    train = loopml.data.add(split(20_000, 0.5), name="train", label="y", workspace=ws)
    loopml.data.add(split(5_000, 0.5), name="eval-good", label="y", workspace=ws)
    loopml.data.add(split(5_000, 0.38), name="eval-bad", label="y", workspace=ws)
    good = loopml.data.validate("eval-good@v1", against="train@v1", workspace=ws)
    assert good.passed, good.validation.anomalies
    assert good.validation.comparison == "skew"
    bad = loopml.data.validate("eval-bad@v1", against="train@v1", workspace=ws)
    assert not bad.passed
    assert "label_skew" in {a.kind for a in bad.validation.errors}
    assert bad.reference == "train@v1"
    assert bad.artifact.metadata["comparison"] == "skew"
    events = ws.store.events(run_id=run_of(ws, bad.artifact.id))
    [reference] = [e for e in events if e.role == "reference"]
    assert reference.artifact_id == train.artifact.id


# -- on each metadata backend ----------------------------------------------------------


def test_add_get_validate_diff_on_each_backend(any_store_url: str, tmp_path: Path) -> None:
    with loopml.init(tmp_path, store_url=any_store_url) as ws:
        assert ws.settings.store_url == any_store_url
        path = tmp_path / "sales.parquet"
        reference_table(5_000).write_parquet(path)
        v1 = loopml.data.add(path, name="team/sales", label="label", workspace=ws)
        assert loopml.data.add(path, name="team/sales", label="label", workspace=ws) == v1
        v2 = loopml.data.add(current_table(5_000), name="team/sales", label="label", workspace=ws)
        assert v2.ref == "team/sales@v2"
        got = loopml.data.get(f"team/sales@blake3:{v1.digest[:12]}", workspace=ws)
        assert got.artifact == v1.artifact
        assert got.path().read_bytes() == path.read_bytes()
        assert got.profile().to_json() == profile(reference_table(5_000), label="label").to_json()
        record = loopml.data.validate("team/sales@latest", workspace=ws)
        assert not record.passed
        assert "missing_values" in {a.kind for a in record.validation.errors}
        assert "outside_domain" in {a.kind for a in record.validation.anomalies}
        run = ws.store.get_run(run_of(ws, record.artifact.id))
        assert run.status == RunStatus.FAILED_VALIDATION
        assert loopml.data.validate("team/sales@v1", workspace=ws).passed
        result = loopml.data.diff("team/sales@v1", "team/sales@v2", workspace=ws)
        assert (result.rows_added, result.rows_removed) == (5_000, 5_000)
        assert len(datasets(ws, "team/sales")) == 2

    # Opened again from its settings, the workspace has the same versions.
    with loopml.workspace(tmp_path) as again:
        assert [v.ref for v in loopml.data.versions("team/sales", workspace=again)] == [
            "team/sales@v1",
            "team/sales@v2",
        ]
        assert isinstance(loopml.data.get("team/sales", workspace=again), DatasetVersion)


def test_datasets_in_pages_by_name(ws: loopml.Workspace) -> None:
    for name in ("c", "a", "b"):
        loopml.data.add(pl.DataFrame({"x": [1, 2]}), name=name, workspace=ws)
    first = loopml.data.list_datasets(limit=2, workspace=ws)
    assert [(found.name, found.ref) for found in first.items] == [("a", "a@v1"), ("b", "b@v1")]
    loopml.data.add(pl.DataFrame({"x": [3]}), name="aa", workspace=ws)  # before the cursor
    loopml.data.add(pl.DataFrame({"x": [4]}), name="c", workspace=ws)
    second = loopml.data.list_datasets(limit=2, cursor=first.next_cursor, workspace=ws)
    assert [found.ref for found in second.items] == ["c@v2"]  # the latest version
    assert second.next_cursor is None
    whole = loopml.data.list_datasets(workspace=ws)
    assert [found.name for found in whole.items] == ["a", "aa", "b", "c"]
    with pytest.raises(InvalidInput) as error:
        loopml.data.list_datasets(cursor="no", workspace=ws)
    assert error.value.field == "cursor"
