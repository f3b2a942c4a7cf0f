"""`loopml data ...` as users run it: the real console script in a real workspace."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

import loopml
from loopml.artifacts import digest_bytes
from loopml.data import profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from planted import current_table, reference_table
from test_bad_input import assert_user_error

ROWS = 20_000


@pytest.fixture
def workspace(cli, tmp_path: Path) -> Path:
    cli("init", check=True)
    return tmp_path


def versions(root: Path, name: str) -> list[str]:
    with loopml.workspace(root) as ws:
        found = ws.store.find_artifacts(kind="dataset", name=name)
        return [a.ref for a in sorted(found, key=lambda a: a.version)]


def add(root: Path, file: str, name: str, **options: str) -> None:
    """Set-up: add ``root/file`` in-process (the `data add` command has tests of its own)."""
    with loopml.workspace(root) as ws:
        loopml.data.add(root / file, name=name, workspace=ws, **options)


def test_add_prints_the_version_and_shape_and_skips_unchanged(cli, workspace: Path) -> None:
    path = workspace / "sales.parquet"
    reference_table(ROWS).write_parquet(path)
    first = cli("data", "add", "sales.parquet", "--name", "sales", "--label", "label")
    assert first.code == 0, first
    digest = digest_bytes(path.read_bytes())
    assert first.out.splitlines()[0] == (
        f"dataset sales@v1  20,000 rows x 15 columns  {path.stat().st_size:,} bytes  "
        f"blake3:{digest[:16]}"
    )
    assert "validate it with" not in first.out  # a first version has nothing to compare

    again = cli("data", "add", "sales.parquet", "--name", "sales", "--label", "label")
    assert again.code == 0, again
    assert "sales@v1" in again.out
    assert "unchanged" in again.out
    assert versions(workspace, "sales") == ["sales@v1"]

    current_table(ROWS).write_csv(workspace / "feb.csv")
    second = cli("data", "add", "feb.csv", "--name", "sales", "--label", "label")
    assert second.code == 0, second
    assert "dataset sales@v2  20,000 rows x 15 columns" in second.out
    assert "loopml data validate sales@v2" in second.out
    assert versions(workspace, "sales") == ["sales@v1", "sales@v2"]


def test_add_a_folder_and_notes(cli, workspace: Path) -> None:
    folder = workspace / "images"
    folder.mkdir()
    for index in range(12):
        (folder / f"{index}.png").write_bytes(b"png %d" % index)
    (workspace / "notes.txt").write_text("cats are 1, dogs are 0\n")
    result = cli(
        "data",
        "add",
        "images",
        "--name",
        "pets",
        "--description",
        "first batch",
        "--labelling-notes",
        "notes.txt",
    )
    assert result.code == 0, result
    assert result.out.startswith("dataset pets@v1  12 files  ")
    with loopml.workspace(workspace) as ws:
        meta = loopml.data.get("pets@v1", workspace=ws).metadata
    assert meta["labelling_notes"] == "cats are 1, dogs are 0\n"
    assert meta["description"] == "first batch"
    shown = cli("data", "show", "pets")
    assert shown.code == 0, shown
    assert "12 files" in shown.out
    assert "first batch" in shown.out
    assert "'.png': 12" in shown.out
    out = cli("data", "checkout", "pets@v1", "restored")
    assert out.code == 0, out
    assert sorted(os.listdir(workspace / "restored")) == sorted(os.listdir(folder))
    for path in folder.iterdir():
        assert (workspace / "restored" / path.name).read_bytes() == path.read_bytes()


def test_log_lists_the_versions_oldest_first(cli, workspace: Path) -> None:
    reference_table(500).write_parquet(workspace / "a.parquet")
    reference_table(700, seed=5).write_parquet(workspace / "b.parquet")
    add(workspace, "a.parquet", "t", description="January")
    add(workspace, "b.parquet", "t", description="February")
    result = cli("data", "log", "t")
    assert result.code == 0, result
    lines = [line for line in result.out.splitlines() if "t@v" in line]
    assert len(lines) == 2
    for line, ref, about, rows in (
        (lines[0], "t@v1", "January", "500"),
        (lines[1], "t@v2", "February", "700"),
    ):
        assert ref in line
        assert about in line
        assert f" {rows} " in line
    digest = digest_bytes((workspace / "b.parquet").read_bytes())
    assert digest[:12] in lines[1]


def test_show_prints_the_profile_and_json(cli, workspace: Path) -> None:
    data = reference_table(ROWS)
    data.write_parquet(workspace / "sales.parquet")
    add(workspace, "sales.parquet", "sales", label="label", description="the January export")
    shown = cli("data", "show", "sales@v1")
    assert shown.code == 0, shown
    assert "dataset sales@v1  20,000 rows x 15 columns" in shown.out
    assert "the January export" in shown.out
    assert str(workspace / "sales.parquet") in shown.out.replace("\n", "")  # even if wrapped
    assert "label (label)" in shown.out
    for column in data.columns:
        assert column in shown.out

    result = cli("data", "show", "sales@latest", "--json")
    assert result.code == 0, result
    parsed = json.loads(result.out)
    assert parsed["ref"] == "sales@v1"
    assert parsed["digest"] == digest_bytes((workspace / "sales.parquet").read_bytes())
    assert parsed["metadata"]["rows"] == ROWS
    assert parsed["metadata"]["label"] == "label"
    assert parsed["profile"] == profile(data, label="label").to_json()


def test_checkout_writes_identical_bytes(cli, workspace: Path) -> None:
    source = workspace / "sales.csv"
    reference_table(2_000).write_csv(source)
    add(workspace, "sales.csv", "sales")
    reference_table(2_000, seed=9).write_csv(source)  # the file moves on; v1 does not
    add(workspace, "sales.csv", "sales")

    result = cli("data", "checkout", "sales@v1", "out/jan.csv")
    assert result.code == 0, result
    assert "sales@v1" in result.out
    written = (workspace / "out" / "jan.csv").read_bytes()
    with loopml.workspace(workspace) as ws:
        v1 = loopml.data.get("sales@v1", workspace=ws)
    assert digest_bytes(written) == v1.digest
    assert written != source.read_bytes()
    assert pl.read_csv(workspace / "out" / "jan.csv").equals(pl.read_csv(v1.path()))

    (workspace / "dest").mkdir()
    into = cli("data", "checkout", "sales@latest", "dest")
    assert into.code == 0, into
    assert (workspace / "dest" / "sales.csv").read_bytes() == source.read_bytes()


@pytest.fixture
def planted(cli, workspace: Path) -> Path:
    """Dataset `sales`: v1 a reference table, v2 the same with the planted changes."""
    reference_table(ROWS).write_parquet(workspace / "jan.parquet")
    current_table(ROWS).write_parquet(workspace / "feb.parquet")
    add(workspace, "jan.parquet", "sales", label="label")
    add(workspace, "feb.parquet", "sales", label="label")
    return workspace


def test_validate_a_clean_first_version_exits_0(cli, planted: Path) -> None:
    result = cli("data", "validate", "sales@v1")
    assert result.code == 0, result
    assert "sales@v1 validated (first version: schema only), with schema v1" in result.out
    assert "no anomalies" in result.out
    assert "passed: 0 errors, 0 warnings" in result.out


def test_validate_a_new_draw_of_the_same_data_exits_0(cli, workspace: Path) -> None:
    reference_table(ROWS).write_parquet(workspace / "a.parquet")
    reference_table(ROWS, seed=3).write_parquet(workspace / "b.parquet")
    add(workspace, "a.parquet", "s", label="label")
    add(workspace, "b.parquet", "s", label="label")
    result = cli("data", "validate", "s@v2")
    assert result.code == 0, result
    assert "s@v2 validated against s@v1" in result.out
    assert "passed: 0 errors" in result.out


def test_validate_finds_the_planted_changes_and_exits_1(cli, planted: Path) -> None:
    result = cli("data", "validate", "sales@v2", "--report", "feb.html")
    assert result.code == 1, result
    assert result.err == ""
    out = result.out
    assert "sales@v2 validated against sales@v1" in out
    table = [line for line in out.splitlines() if line.split()[:1] in (["error"], ["warning"])]
    for kind, column in (
        ("outside_domain", "new_category"),
        ("missing_values", "added_nulls"),
        ("drift", "mean_shift"),
        ("drift", "variance_change"),
        ("drift", "category_proportions"),
        ("label_shift", "label"),
    ):
        assert any(kind in line and column in line for line in table), (kind, column, out)
    # Values missing where none were is certainly wrong; a new value and a wider spread
    # are news, reported as warnings with their evidence.
    assert any(line.split()[0] == "error" and "added_nulls" in line for line in table)
    assert any(line.split()[0] == "warning" and "new_category" in line for line in table)
    assert "FAILED: 1 error, 6 warnings" in out
    assert "report: feb.html" in out
    page = (planted / "feb.html").read_text()
    assert page.lstrip().lower().startswith(("<!doctype html", "<html"))
    assert "new_category" in page
    with loopml.workspace(planted) as ws:
        [report] = ws.store.find_artifacts(kind="report", name="sales.v2.report")
        assert digest_bytes(page.encode()) == report.digest


def test_validation_records_name_the_version_they_belong_to(cli, planted: Path) -> None:
    cli("data", "validate", "sales@v2")
    out = cli("data", "validate", "sales@v2").out
    # Never "recorded as validation sales@v1", which reads as the dataset's first version.
    assert "recorded as validation 2 of sales@v2 (sales.v2.validation@v2)" in out
    assert "with schema v1 of dataset sales" in out
    assert "sales@v1" not in out.replace("against sales@v1", "")
    assert "loopml artifacts get sales.v2.report@v2 REPORT.html --kind report" in out
    got = cli(
        "artifacts", "get", "sales.v2.validation@v2", "validation.json", "--kind", "validation"
    )
    assert got.code == 0, got
    assert json.loads((planted / "validation.json").read_text())["passed"] is False


def test_validate_json(cli, planted: Path) -> None:
    failed = cli("data", "validate", "sales@v2", "--json")
    assert failed.code == 1, failed
    parsed = json.loads(failed.out)
    assert parsed["passed"] is False
    assert parsed["comparison"] == "drift"
    assert (parsed["rows"], parsed["reference_rows"]) == (ROWS, ROWS)
    errors = {(a["kind"], a["column"]) for a in parsed["anomalies"] if a["severity"] == "error"}
    assert errors == {("missing_values", "added_nulls")}
    assert {d["column"] for d in parsed["drift"]} >= {"normal", "mean_shift", "label"}

    passed = cli("data", "validate", "sales@v1", "--json")
    assert passed.code == 0, passed
    assert json.loads(passed.out)["passed"] is True


def splits(workspace: Path) -> None:
    rng = np.random.default_rng(6)

    def split(rows: int, share: float) -> pl.DataFrame:
        return pl.DataFrame({"x": rng.normal(0, 1, rows), "y": rng.random(rows) < share})

    split(ROWS, 0.5).write_parquet(workspace / "train.parquet")
    split(5_000, 0.5).write_parquet(workspace / "eval-good.parquet")
    split(5_000, 0.38).write_parquet(workspace / "eval-bad.parquet")


def test_validate_against_another_dataset_finds_label_skew(cli, workspace: Path) -> None:
    splits(workspace)
    for name in ("train", "eval-good", "eval-bad"):
        add(workspace, f"{name}.parquet", name, label="y")
    good = cli("data", "validate", "eval-good@v1", "--against", "train@v1")
    assert good.code == 0, good
    assert "eval-good@v1 validated against train@v1" in good.out
    bad = cli("data", "validate", "eval-bad@v1", "--against", "train@v1")
    assert bad.code == 1, bad
    assert "label_skew" in bad.out
    assert any("label_skew" in line and "error" in line for line in bad.out.splitlines())
    as_json = cli("data", "validate", "eval-bad@v1", "--against", "train@v1", "--json")
    parsed = json.loads(as_json.out)
    assert parsed["comparison"] == "skew"
    assert "label_skew" in {a["kind"] for a in parsed["anomalies"] if a["severity"] == "error"}


def test_diff(cli, workspace: Path) -> None:
    base = pl.DataFrame({"id": range(100), "c": range(100), "s": [f"s{k}" for k in range(100)]})
    more = pl.DataFrame(
        {"id": range(100, 125), "c": range(100, 125), "s": [f"s{k}" for k in range(100, 125)]}
    )
    base.write_parquet(workspace / "v1.parquet")
    second = pl.concat([base.slice(10), more])
    second.write_parquet(workspace / "v2.parquet")
    third = second.drop("s").with_columns(pl.col("c").cast(pl.Float64), extra=pl.lit("x"))
    third.write_parquet(workspace / "v3.parquet")
    for index in (1, 2, 3):
        add(workspace, f"v{index}.parquet", "d")

    rows = cli("data", "diff", "d@v1", "d@v2")
    assert rows.code == 0, rows
    assert "d@v1 -> d@v2" in rows.out
    assert "rows: 100 -> 115 (+25 added, -10 removed)" in rows.out
    assert "columns" not in rows.out

    columns = cli("data", "diff", "d@v2", "d@v3")
    assert columns.code == 0, columns
    assert "columns added: extra" in columns.out
    assert "columns removed: s" in columns.out
    assert "type of 'c': integer -> float" in columns.out

    parsed = json.loads(cli("data", "diff", "d@v1", "d@v2", "--json").out)
    assert (parsed["rows_added"], parsed["rows_removed"]) == (25, 10)
    assert (parsed["rows_old"], parsed["rows_new"]) == (100, 115)
    # id and c count up row by row: identifiers, which new versions extend by design.
    assert {d["column"] for d in parsed["drift"]} == {"s"}


def test_schema_prints_yaml_and_set_pins_a_new_one(cli, planted: Path) -> None:
    shown = cli("data", "schema", "sales")
    assert shown.code == 0, shown
    assert shown.out.startswith("# schema v1 of dataset sales: inferred from sales@v1")
    data = yaml.safe_load(shown.out)
    assert data["label"] == "label"
    assert data["min_rows"] == ROWS // 10
    assert set(data["columns"]) == set(reference_table(10).columns)
    assert data["columns"]["region"]["domain"] == ["east", "north", "south", "west"]
    assert data["columns"]["normal"]["type"] == "float"
    assert data["columns"]["region"]["role"] == "category"
    assert data["columns"]["small_ints"]["role"] == "count"
    assert data["columns"]["small_ints"]["range"]["min"] == 0  # never negative: 0 is a bound
    # Each column's rules come with the reason for them.
    assert "#   small_ints -- count: whole numbers, never negative" in shown.out
    assert "missing: never in 20,000 rows, so up to 0.03% (the 99% bound)" in shown.out

    # Pin a schema that allows what the planted changes did: the errors go away, and
    # validate says it used schema v2.
    data["columns"]["new_category"]["domain"].append("central")
    data["columns"]["added_nulls"]["max_missing"] = 0.2
    (planted / "schema.yaml").write_text(yaml.safe_dump(data))
    pinned = cli("data", "schema", "sales", "--set", "schema.yaml")
    assert pinned.code == 0, pinned
    assert pinned.out.strip() == "schema v2 pinned for dataset sales"

    again = cli("data", "schema", "sales")
    assert again.out.startswith("# schema v2 of dataset sales: set from schema.yaml")
    assert yaml.safe_load(again.out) == data

    result = cli("data", "validate", "sales@v2")
    assert result.code == 0, result
    assert "with schema v2" in result.out
    assert "passed: 0 errors" in result.out


def test_schema_set_refuses_a_bad_file(cli, planted: Path) -> None:
    (planted / "bad.yaml").write_text("columns:\n  normal: {type: float, colour: red}\n")
    assert_user_error(cli("data", "schema", "sales", "--set", "bad.yaml"), "colour", "bad.yaml")
    shown = cli("data", "schema", "sales")
    assert shown.out.startswith("# schema v1 ")


def test_diff_shows_the_test_that_a_large_effect_needs(cli, workspace: Path) -> None:
    """Two random halves of 89 rows of real data (scikit-learn's wine): effects over
    their thresholds, no drift; the p-values say why, and a line says how to read it."""
    from sklearn.datasets import load_wine

    wine = pl.from_pandas(load_wine(as_frame=True).frame)
    order = np.random.default_rng(1).permutation(wine.height)
    wine[order[:89]].write_parquet(workspace / "h1.parquet")
    wine[order[89:]].write_parquet(workspace / "h2.parquet")
    for index in (1, 2):
        add(workspace, f"h{index}.parquet", "wine")
    shown = cli("data", "diff", "wine@v1", "wine@v2", check=True).out
    assert "p (Holm)" in shown
    assert "drifts only when its test agrees" in shown
    parsed = json.loads(cli("data", "diff", "wine@v1", "wine@v2", "--json", check=True).out)
    assert not any(d["drifted"] for d in parsed["drift"])
