"""Wide tables (thousands of columns): added, profiled, diffed and validated, with the
same numbers as NumPy on each column and the same types as a narrow read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import loopml
from loopml.data import profile
from loopml.data._read import INFER_ROWS, NULL_MARKERS, inferred_rows, read_table

ROWS, COLUMNS = 400, 2_000
SHIFTED = ["f00010", "f00500", "f01997"]  # moved by 8 standard deviations in v2
NEW_ROWS = 40  # rows of v2 that v1 does not have


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    workspace = loopml.init(tmp_path)
    yield workspace
    workspace.close()


def wide_table(seed: int) -> pl.DataFrame:
    """Every third column integers, one in 500 text, the rest floats (one in seven
    with some missing)."""
    rng = np.random.default_rng(seed)
    data: dict[str, pl.Series] = {}
    for j in range(COLUMNS):
        if j % 500 == 499:
            name = f"t{j:05d}"
            data[name] = pl.Series(name, rng.choice(["red", "green", "blue"], ROWS))
        elif j % 3 == 0:
            name = f"i{j:05d}"
            data[name] = pl.Series(name, rng.integers(-50, 1_000, ROWS))
        else:
            name = f"f{j:05d}"
            values = np.round(rng.normal(j, 1 + j % 5, ROWS), 4)
            column = pl.Series(name, values)
            if j % 7 == 0:
                column = column.scatter(rng.choice(ROWS, 20, replace=False), None)
            data[name] = column
    return pl.DataFrame(data)


def test_a_wide_csv_is_profiled_as_numpy_computes_each_column(
    ws: loopml.Workspace, tmp_path: Path
) -> None:
    table = wide_table(seed=1)
    path = tmp_path / "wide.csv"
    table.write_csv(path)
    version = loopml.data.add(path, name="wide", workspace=ws)
    stored = version.profile()
    assert version.rows == ROWS
    assert len(version.metadata["columns"]) == COLUMNS
    assert stored.to_json() == profile(version.to_polars()).to_json()
    for name in ("i00000", "f00001", "f00007", "f00700", "i01998", "f01997"):
        column = stored.column(name)
        values = table[name].drop_nulls().to_numpy().astype(np.float64)
        assert column.type == ("integer" if name.startswith("i") else "float")
        assert column.missing == ROWS - len(values)
        assert column.min == values.min()
        assert column.max == values.max()
        assert column.distinct == len(np.unique(values))
        assert column.mean == pytest.approx(values.mean(), rel=1e-12)
        assert column.std == pytest.approx(values.std(ddof=1), rel=1e-12)
        levels = np.linspace(0, 1, 1_001)
        assert np.allclose(column.quantiles, np.quantile(values, levels), rtol=1e-12, atol=0)
        assert column.histogram is not None
        assert sum(column.histogram.counts) == len(values)
    text = stored.column("t00499")
    counts = dict(zip(*np.unique(table["t00499"].to_numpy(), return_counts=True), strict=True))
    assert text.type == "string"
    assert dict(text.values or ()) == counts
    matrix = np.load(
        ws.artifacts.local_path(version.metadata["profile_quantiles"]), allow_pickle=False
    )
    assert matrix.shape == (COLUMNS - COLUMNS // 500, 1_001)
    sample = stored.sample
    assert sample is not None
    assert sample.values.shape == (ROWS, COLUMNS - COLUMNS // 500)


def test_a_changed_wide_version_diffs_and_validates(ws: loopml.Workspace, tmp_path: Path) -> None:
    table = wide_table(seed=2)
    first, second, third = (tmp_path / f"v{n}.csv" for n in (1, 2, 3))
    table.write_csv(first)
    fresh = wide_table(seed=3).head(NEW_ROWS)
    changed = pl.concat([table.slice(NEW_ROWS), fresh])
    shifts = [pl.col(name) + 8 * table[name].std() for name in SHIFTED]
    changed.with_columns(shifts).write_csv(second)
    changed.write_csv(third)
    for path in (first, second, third):
        loopml.data.add(path, name="wide", workspace=ws)

    diff = loopml.data.diff("wide@v1", "wide@v2", workspace=ws)
    assert (diff.rows_added, diff.rows_removed) == (ROWS, ROWS)  # shifted columns: every row
    assert diff.columns_added == []
    assert diff.type_changes == {}
    drifted = {d.column for d in diff.drift if d.drifted}
    assert set(SHIFTED) <= drifted
    assert len(diff.drift) == COLUMNS  # every column compared
    rows_only = loopml.data.diff("wide@v1", "wide@v3", workspace=ws)
    assert (rows_only.rows_added, rows_only.rows_removed) == (NEW_ROWS, NEW_ROWS)

    record = loopml.data.validate("wide@v2", workspace=ws)
    # Moved by 8 sd, most values lie over a whole reference range beyond the reference's
    # own (a unit change looks like this): an error on those columns only.
    assert not record.passed
    errors = {(a.kind, a.column) for a in record.validation.errors}
    assert errors == {("out_of_range", name) for name in SHIFTED}
    warned = {a.column for a in record.validation.anomalies if a.kind == "drift"}
    assert warned == set(SHIFTED)


def test_a_wide_csv_gets_the_types_a_narrow_read_gives(tmp_path: Path) -> None:
    """Types come from fewer rows in a wide file; a column that is missing in all of them,
    or a value that does not fit further down, still gets the type of a full look."""
    rows = inferred_rows(COLUMNS) + 100
    assert rows < INFER_ROWS
    rng = np.random.default_rng(4)
    data = {f"c{j:04d}": rng.integers(0, 9, rows) for j in range(COLUMNS)}
    late = [None] * (rows - 10) + list(range(10))  # only missing in the first rows
    floats = [*(float(i) for i in range(rows - 1)), 2.5]  # integers, then a float on the last row
    table = pl.DataFrame(data).with_columns(
        pl.Series("c0001", late, dtype=pl.Int64), pl.Series("c0002", floats)
    )
    path = tmp_path / "wide.csv"
    table.write_csv(path)
    read = read_table(path, "csv")
    narrow = pl.read_csv(path, infer_schema_length=INFER_ROWS, null_values=NULL_MARKERS)
    assert read.schema == narrow.schema
    assert read["c0001"].dtype == pl.Int64
    assert read["c0002"].dtype == pl.Float64
    assert read.equals(narrow)


def test_a_sample_stored_as_parquet_or_arrow_by_an_earlier_loopml_is_read() -> None:
    import io

    from loopml.data._sample import Sample

    sample = pl.DataFrame({"x": [1.5, None, 3.0], "n": [1, 2, None]})
    expected = Sample(("x", "n"), np.array([[1.5, 1.0], [np.nan, 2.0], [3.0, np.nan]]))
    for write in (sample.write_parquet, sample.write_ipc):
        buffer = io.BytesIO()
        write(buffer)
        assert Sample.read(buffer.getvalue(), ("x", "n")) == expected
    assert Sample.read(expected.to_bytes(), ("x", "n")) == expected
