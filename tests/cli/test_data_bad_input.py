"""Bad input to `loopml data`: one line naming the file, column or field; exit code 2;
nothing half-recorded (no new artifact, no new blob)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from test_bad_input import assert_user_error

import loopml
from loopml.errors import InvalidInput


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace holding dataset `good` (v1), and its parquet file."""
    path = tmp_path / "good.parquet"
    pl.DataFrame({"a": [1, 2, 3, 4], "b": ["x", "y", "z", "x"]}).write_parquet(path)
    with loopml.init(tmp_path) as ws:
        loopml.data.add(path, name="good", workspace=ws)
    return tmp_path


State = tuple[list[tuple[str, str, int]], set[str]]


def state(root: Path) -> State:
    """Every artifact record, and every blob, of the workspace at ``root``."""
    with loopml.workspace(root) as ws:
        records = sorted((a.kind, a.name, a.version) for a in ws.store.find_artifacts())
        return records, set(ws.artifacts.digests())


def test_the_fixture_records_what_the_checks_look_at(workspace: Path) -> None:
    records, blobs = state(workspace)
    assert records == [("dataset", "good", 1), ("schema", "good", 1)]
    # data, profile, its quantiles, profile sample, row hashes, schema
    assert len(blobs) == 6


def test_a_path_that_does_not_exist(cli, workspace: Path) -> None:
    before = state(workspace)
    result = cli("data", "add", "nope.parquet", "--name", "good")
    assert_user_error(result, "nope.parquet", "no such file")
    assert state(workspace) == before


def write_bad_file(root: Path, case: str) -> str:
    good = (root / "good.parquet").read_bytes()
    if case == "csv-named-parquet":
        (root / "table.parquet").write_text("a,b\n1,2\n")
        return "table.parquet"
    if case == "truncated-parquet":
        (root / "cut.parquet").write_bytes(good[: len(good) // 2])
        return "cut.parquet"
    if case == "parquet-without-footer":
        (root / "headless.parquet").write_bytes(good[:-8])
        return "headless.parquet"
    if case == "xlsx":
        (root / "sheet.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
        return "sheet.xlsx"
    if case == "json":
        (root / "rows.json").write_text('[{"a": 1}]')
        return "rows.json"
    if case == "header-only-csv":
        (root / "header.csv").write_text("a,b\n")
        return "header.csv"
    if case == "zero-byte-csv":
        (root / "zero.csv").write_bytes(b"")
        return "zero.csv"
    if case == "latin-1-csv":
        (root / "latin.csv").write_bytes(b"a,b\n1,caf\xe9\n")
        return "latin.csv"
    if case == "ragged-csv":  # as scikit-learn's wine_data.csv: a header of counts
        (root / "ragged.csv").write_text("3,2,a,b\n1,2,3,4,5,6\n7,8,9,10,11,12\n")
        return "ragged.csv"
    if case == "unnamed-column-csv":
        (root / "unnamed.csv").write_text(",b\n1,2\n")
        return "unnamed.csv"
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("csv-named-parquet", ("not a Parquet file", ".csv name")),
        ("truncated-parquet", ("cannot read", "PARQUET", "whole")),
        ("parquet-without-footer", ("cannot read", "PARQUET")),
        ("xlsx", ("cannot tell the format", "Parquet", "CSV")),
        ("json", ("cannot tell the format", "loopml.data.add(df")),
        ("header-only-csv", ("has no rows", "columns: a, b")),
        ("zero-byte-csv", ("cannot read", "empty")),
        ("latin-1-csv", ("cannot read", "utf-8")),
        ("unnamed-column-csv", ("empty name",)),
        ("ragged-csv", ("cannot read", "line 2 has 6 fields where the header, line 1, has 4")),
    ],
)
def test_a_file_that_cannot_be_read_as_a_table(
    cli, workspace: Path, case: str, fragments: tuple[str, ...]
) -> None:
    name = write_bad_file(workspace, case)
    before = state(workspace)
    for dataset in ("good", "fresh"):  # a new version of one, or a first version
        result = cli("data", "add", name, "--name", dataset)
        assert_user_error(result, name, *fragments)
        assert state(workspace) == before


@pytest.mark.parametrize("rows", [100, 15_000], ids=["early", "past-inference"])
def test_a_csv_column_mixing_numbers_and_text(cli, workspace: Path, rows: int) -> None:
    lines = ["id,amount,city"] + [f"{i},{i * 1.5},oslo" for i in range(rows)]
    lines[-3] = f"{rows},twelve,oslo"  # mostly numbers, then text
    (workspace / "orders.csv").write_text("\n".join(lines) + "\n")
    before = state(workspace)
    result = cli("data", "add", "orders.csv", "--name", "orders")
    assert_user_error(result, "orders.csv", "'amount'", "'twelve'", "mixes numbers and text")
    assert state(workspace) == before


def test_a_column_of_codes_mixing_numbers_and_codes_is_text(cli, workspace: Path) -> None:
    # Diagnosis codes: mostly numbers, some with letters (V45, E11): codes, not a typo.
    codes = ["401", "250", "V45", "428", "E11", "414"] * 40
    lines = ["id,diagnosis"] + [f"{i},{code}" for i, code in enumerate(codes)]
    (workspace / "visits.csv").write_text("\n".join(lines) + "\n")
    result = cli("data", "add", "visits.csv", "--name", "visits")
    assert result.code == 0, result
    shown = json.loads(cli("data", "show", "visits@v1", "--json").out)
    [diagnosis] = [c for c in shown["profile"]["columns"] if c["name"] == "diagnosis"]
    assert diagnosis["type"] == "string"
    assert diagnosis["distinct"] == 6


def test_a_text_column_with_a_few_numbers_is_text(cli, workspace: Path) -> None:
    lines = ["id,code"] + [f"{i},c{i}" for i in range(100)] + ["100,7"]
    (workspace / "codes.csv").write_text("\n".join(lines) + "\n")
    result = cli("data", "add", "codes.csv", "--name", "codes")
    assert result.code == 0, result


def test_a_pandas_column_mixing_ints_and_strings(workspace: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"id": [1, 2, 3, 4], "zip": [12345, "0451", 67890, "N/A"]})
    before = state(workspace)
    with loopml.workspace(workspace) as ws:
        with pytest.raises(InvalidInput, match=r"column 'zip'.*mixes types \(int, str\)"):
            loopml.data.add(frame, name="zips", workspace=ws)
        with pytest.raises(InvalidInput, match="column 'zip'"):
            loopml.data.add(frame, name="good", workspace=ws)
    assert state(workspace) == before


def test_other_objects_and_bad_notes_are_refused(workspace: Path) -> None:
    before = state(workspace)
    with loopml.workspace(workspace) as ws:
        with pytest.raises(InvalidInput, match="cannot add a dict"):
            loopml.data.add({"a": [1]}, name="d", workspace=ws)
        with pytest.raises(InvalidInput, match="description must be text"):
            loopml.data.add(workspace / "good.parquet", name="d", description=3, workspace=ws)
        with pytest.raises(InvalidInput, match="has no rows"):
            loopml.data.add(pl.DataFrame({"a": []}), name="d", workspace=ws)
    assert state(workspace) == before


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/../../b", "", "evil/..", "./x"])
def test_a_name_that_could_escape_the_artifact_folder(cli, workspace: Path, name: str) -> None:
    outside = sorted(os.listdir(workspace.parent))
    before = state(workspace)
    result = cli("data", "add", "good.parquet", "--name", name)
    assert_user_error(result, f"dataset name {name!r} cannot be used")
    assert state(workspace) == before
    assert sorted(os.listdir(workspace.parent)) == outside
    assert not Path("/abs").exists()
    for command in (("log", name), ("show", f"{name}@v1"), ("schema", name)):
        assert_user_error(cli("data", *command), f"{name!r} cannot be used")
    assert sorted(os.listdir(workspace.parent)) == outside


@pytest.mark.parametrize(
    "command",
    [
        ("show", "good@v9"),
        ("checkout", "good@v9", "out.parquet"),
        ("validate", "good@v9"),
        ("validate", "good@v1", "--against", "good@v9"),
        ("diff", "good@v1", "good@v9"),
    ],
    ids=["show", "checkout", "validate", "validate-against", "diff"],
)
def test_an_unknown_version(cli, workspace: Path, command: tuple[str, ...]) -> None:
    before = state(workspace)
    assert_user_error(cli("data", *command), "v9", "'good'", "latest is v1")
    assert state(workspace) == before
    assert not (workspace / "out.parquet").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("log", "unknown"),
        ("show", "unknown"),
        ("checkout", "unknown", "out.parquet"),
        ("validate", "unknown"),
        ("validate", "good", "--against", "unknown"),
        ("diff", "good@v1", "unknown@v1"),
        ("schema", "unknown"),
    ],
    ids=lambda c: "-".join(c[:2]),
)
def test_an_unknown_dataset(cli, workspace: Path, command: tuple[str, ...]) -> None:
    before = state(workspace)
    assert_user_error(cli("data", *command), "'unknown'")
    assert state(workspace) == before


def test_blake3_refs_that_match_nothing_or_are_not_hex(cli, workspace: Path) -> None:
    assert_user_error(cli("data", "show", "good@blake3:00000000"), "00000000")
    assert_user_error(cli("data", "show", "good@blake3:xyz"), "hex digits")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("columns:\n  a: {type: integer, colour: red}\n", ("column 'a'", "unknown key 'colour'")),
        ("colour: red\ncolumns: {}\n", ("unknown key 'colour'", "min_rows")),
        ("columns:\n  a: {type: int}\n", ("column 'a'", "type is 'int'", "integer")),
        (
            "columns:\n  a: {type: integer, drift: {method: magic, threshold: 0.1}}\n",
            ("column 'a'", "drift method is 'magic'", "wasserstein"),
        ),
        (
            "columns:\n  a: {type: integer, drift: {method: psi, threshold: high}}\n",
            ("column 'a'", "drift.threshold", "'high'", "number"),
        ),
        ("columns:\n  a: {type: integer, max_missing: 2}\n", ("max_missing", "between 0 and 1")),
        (
            "columns:\n  a: {type: integer, range: {min: 5, max: 1}}\n",
            ("range.min 5.0 is above range.max 1.0",),
        ),
        ("severity: {drift: fatal}\ncolumns: {}\n", ("severity of drift", "'fatal'")),
        ("severity: {drifts: error}\ncolumns: {}\n", ("'drifts'", "not an anomaly kind")),
        ("- just\n- a list\n", ("expected a mapping",)),
        ("min_rows: many\n", ("min_rows", "'many'", "number")),
        (
            "label: churn\ncolumns:\n  churned: {type: string}\n  plan: {type: string}\n",
            ("label is 'churn', which is not one of its columns", "did you mean 'churned'?"),
        ),
    ],
    ids=[
        "unknown-column-key",
        "unknown-top-key",
        "bad-type",
        "bad-drift-method",
        "bad-threshold",
        "share-above-1",
        "range-upside-down",
        "bad-severity",
        "unknown-anomaly-kind",
        "not-a-mapping",
        "bad-min-rows",
        "label-not-a-column",
    ],
)
def test_a_bad_schema_file_names_the_field(
    cli, workspace: Path, text: str, fragments: tuple[str, ...]
) -> None:
    (workspace / "schema.yaml").write_text(text)
    before = state(workspace)
    result = cli("data", "schema", "good", "--set", "schema.yaml")
    assert_user_error(result, "schema.yaml", *fragments)
    assert state(workspace) == before
    with loopml.workspace(workspace) as ws, pytest.raises(InvalidInput, match=r"schema\.yaml"):
        loopml.data.set_schema("good", workspace / "schema.yaml", workspace=ws)
    assert state(workspace) == before


def test_a_schema_file_that_does_not_exist(cli, workspace: Path) -> None:
    before = state(workspace)
    assert_user_error(cli("data", "schema", "good", "--set", "nope.yaml"), "nope.yaml")
    assert state(workspace) == before


def test_a_schema_file_that_is_not_yaml(cli, workspace: Path) -> None:
    (workspace / "schema.yaml").write_text("columns: [\n")
    before = state(workspace)
    assert_user_error(cli("data", "schema", "good", "--set", "schema.yaml"), "schema.yaml", "YAML")
    assert state(workspace) == before


def test_a_label_column_that_does_not_exist(cli, workspace: Path) -> None:
    (workspace / "other.parquet").write_bytes((workspace / "good.parquet").read_bytes())
    records, _ = state(workspace)
    result = cli("data", "add", "good.parquet", "--name", "labelled", "--label", "churned")
    assert_user_error(result, "label column 'churned'", "a, b")
    assert state(workspace)[0] == records
    # On a dataset that has versions too (the label differs, so it would be new).
    result = cli("data", "add", "good.parquet", "--name", "good", "--label", "churned")
    assert_user_error(result, "label column 'churned'")
    assert state(workspace)[0] == records


@pytest.mark.parametrize("via", ["cli", "dataframe"])
def test_a_label_column_that_does_not_exist_stores_no_blob(cli, workspace: Path, via: str) -> None:
    before = state(workspace)
    if via == "cli":
        pl.DataFrame({"a": [7, 8, 9]}).write_parquet(workspace / "new.parquet")
        result = cli("data", "add", "new.parquet", "--name", "new", "--label", "churned")
        assert_user_error(result, "label column 'churned'")
    else:
        with loopml.workspace(workspace) as ws, pytest.raises(InvalidInput, match="churned"):
            loopml.data.add(
                pl.DataFrame({"a": [7, 8, 9]}), name="new", label="churned", workspace=ws
            )
    assert state(workspace) == before


def test_labelling_notes_that_cannot_be_read(cli, workspace: Path) -> None:
    before = state(workspace)
    result = cli("data", "add", "good.parquet", "--name", "n", "--labelling-notes", "no.txt")
    assert_user_error(result, "labelling notes no.txt")
    assert state(workspace) == before


def test_an_empty_folder(cli, workspace: Path) -> None:
    (workspace / "empty").mkdir()
    before = state(workspace)
    assert_user_error(cli("data", "add", "empty", "--name", "files"), "empty", "no files")
    assert state(workspace) == before


def test_table_commands_on_a_folder_version(cli, workspace: Path) -> None:
    (workspace / "docs").mkdir()
    (workspace / "docs" / "a.txt").write_text("a")
    cli("data", "add", "docs", "--name", "docs", check=True)
    (workspace / "taken").mkdir()
    (workspace / "taken" / "keep.txt").write_text("keep")
    before = state(workspace)
    assert_user_error(cli("data", "validate", "docs"), "docs@v1", "folder of files")
    assert_user_error(cli("data", "diff", "good@v1", "docs@v1"), "cannot diff")
    assert_user_error(cli("data", "checkout", "docs", "taken"), "not an empty folder")
    assert os.listdir(workspace / "taken") == ["keep.txt"]
    assert state(workspace) == before


def test_checkout_below_a_file(cli, workspace: Path) -> None:
    (workspace / "afile").write_text("not a folder")
    result = cli("data", "checkout", "good", "afile/inner.parquet")
    assert_user_error(result, "afile")
    assert (workspace / "afile").read_text() == "not a folder"


def test_validate_report_into_a_folder(cli, workspace: Path) -> None:
    (workspace / "reports").mkdir()
    result = cli("data", "validate", "good", "--report", "reports")
    if result.code == 2:
        assert_user_error(result, "reports")
    else:
        assert result.code == 0, result
        [page] = os.listdir(workspace / "reports")
        assert (workspace / "reports" / page).read_text().startswith("<!DOCTYPE html")


def test_a_csv_with_a_repeated_column_name(cli, workspace: Path) -> None:
    before = state(workspace)
    (workspace / "twice.csv").write_text("a,b,a\n1,2,3\n4,5,6\n")
    result = cli("data", "add", "twice.csv", "--name", "good")
    assert_user_error(result, "twice.csv", "two columns named 'a'")
    assert state(workspace) == before


def test_checkout_to_a_path_ending_in_a_slash_writes_into_a_new_folder(
    cli, workspace: Path
) -> None:
    result = cli("data", "checkout", "good@v1", "out/inner/")
    assert result.code == 0, result
    written = workspace / "out" / "inner" / "good.parquet"
    assert written.read_bytes() == (workspace / "good.parquet").read_bytes()


def test_a_version_whose_file_is_damaged_does_not_validate(cli, workspace: Path) -> None:
    # The verdict comes from the profile made when the version was added; the file it
    # speaks for is checked too (it passed, on data no read could use).
    with loopml.workspace(workspace) as ws:
        path = ws.artifacts.local_path(ws.latest("dataset", "good").digest)
    assert path is not None
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    found = cli("data", "validate", "good@v1")
    assert found.code != 0, found
    assert "corrupt" in found.err
    assert "dataset good@v1" in found.err
    assert "Traceback" not in found.err
