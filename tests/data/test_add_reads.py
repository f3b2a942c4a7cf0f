"""What adding and diffing versions read: the stat cache never names the wrong bytes,
an unchanged file is not opened, and diff counts rows from stored row hashes.

Opens are counted by the kernel (inotify, see ``opens.py``), not by the code."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from opens import FileOpens

import loopml
from loopml.artifacts import digest_bytes
from loopml.data import profile
from loopml.data._statcache import FINE_WINDOW_NS, StatCache


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[loopml.Workspace]:
    workspace = loopml.init(tmp_path)
    yield workspace
    workspace.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def outside_racy_window() -> None:
    time.sleep(2 * FINE_WINDOW_NS / 1e9)


def cache_of(ws: loopml.Workspace) -> Path:
    assert ws.root is not None
    return ws.root / ".loopml" / "stat-cache.db"


def table(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"x": rng.normal(size=rows), "c": rng.choice(["a", "b"], rows)})


def test_a_file_rewritten_with_its_old_size_and_mtime_is_read_again(
    ws: loopml.Workspace, data: Path
) -> None:
    path = data / "t.csv"
    table(200, seed=1).write_csv(path)
    outside_racy_window()
    v1 = loopml.data.add(path, name="t", workspace=ws)
    before = path.stat()
    # Other values of the same length, and the old mtime put back (as rsync -t or a
    # restore would): only the ctime tells.
    text = path.read_text()
    path.write_text(text.replace("a", "b").replace("1", "2"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    v2 = loopml.data.add(path, name="t", workspace=ws)
    assert v2.version == 2
    assert v2.digest == digest_bytes(path.read_bytes()) != v1.digest


def test_a_file_modified_just_before_it_was_read_is_read_again(
    ws: loopml.Workspace, data: Path
) -> None:
    """Written and added at once, it could be written again within the same timestamp
    tick: its stat would not show it, so the cache does not vouch for it."""
    path = data / "t.parquet"
    table(200, seed=2).write_parquet(path)
    loopml.data.add(path, name="t", workspace=ws)
    stat = path.stat()
    cache = StatCache(cache_of(ws))
    assert cache.lookup(path.absolute(), stat) is None
    cache.close()
    outside_racy_window()
    with FileOpens(data) as opens:
        again = loopml.data.add(path, name="t", workspace=ws)
    assert again.version == 1
    assert path in opens.files()  # read again, though its stat is the same
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    # Read again once its timestamps were old enough, it is remembered.
    cache = StatCache(cache_of(ws))
    assert cache.lookup(path.absolute(), path.stat()) == again.digest
    cache.close()
    with FileOpens(data) as opens:
        loopml.data.add(path, name="t", workspace=ws)
    assert opens.paths() == []


def plant(cache_file: Path, path: Path, digest: str) -> int:
    """Overwrite the digest of ``path``'s row in every table of the cache that has one."""
    db = sqlite3.connect(cache_file)
    changed = 0
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for name in tables:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({name})")]
        if "digest" in columns and "path" in columns:
            changed += db.execute(
                f"UPDATE {name} SET digest = ? WHERE path = ?", (digest, str(path))
            ).rowcount
    db.commit()
    db.close()
    return changed


def test_a_corrupt_stat_cache_entry_never_gives_a_wrong_digest(
    ws: loopml.Workspace, data: Path
) -> None:
    first, second = data / "a.csv", data / "b.csv"
    table(300, seed=3).write_csv(first)
    table(300, seed=3).with_columns(pl.col("c").reverse()).write_csv(second)
    assert first.stat().st_size == second.stat().st_size
    outside_racy_window()
    a = loopml.data.add(first, name="a", workspace=ws)
    b = loopml.data.add(second, name="b", workspace=ws)
    assert a.digest != b.digest
    # a's entry now names b's bytes: a stored blob of the very same size.
    assert plant(cache_of(ws), first.absolute(), b.digest) == 1
    loopml.data.add(pl.DataFrame({"z": [1]}), name="a", workspace=ws)  # a@v2, other bytes
    again = loopml.data.add(first, name="a", workspace=ws)
    assert again.version == 3
    assert again.digest == a.digest == digest_bytes(first.read_bytes())
    # And a digest that is not one is no digest either.
    assert plant(cache_of(ws), first.absolute(), "not a digest") == 1
    assert loopml.data.add(first, name="a", workspace=ws).digest == a.digest


def test_a_damaged_stat_cache_file_is_replaced(ws: loopml.Workspace, data: Path) -> None:
    path = data / "t.csv"
    table(100, seed=4).write_csv(path)
    outside_racy_window()
    v1 = loopml.data.add(path, name="t", workspace=ws)
    cache = cache_of(ws)
    for suffix in ("-wal", "-shm"):
        Path(f"{cache}{suffix}").unlink(missing_ok=True)
    cache.write_bytes(b"\x00garbage, not SQLite\xff" * 100)
    assert loopml.data.add(path, name="t", workspace=ws).artifact == v1.artifact
    with FileOpens(data) as opens:  # the cache works again
        assert loopml.data.add(path, name="t", workspace=ws).artifact == v1.artifact
    assert opens.paths() == []


def test_a_touched_file_equal_to_the_latest_version_is_not_read_as_a_table(
    ws: loopml.Workspace, data: Path
) -> None:
    path = data / "t.parquet"
    table(2_000, seed=5).write_parquet(path)
    outside_racy_window()
    v1 = loopml.data.add(path, name="t", workspace=ws)
    path.touch()
    outside_racy_window()
    with FileOpens(data) as opens:
        assert loopml.data.add(path, name="t", workspace=ws).artifact == v1.artifact
    # Opened once: hashed and compared, not parsed as a table.
    assert opens.paths() == [path]


def test_re_adding_with_another_label_reads_the_table(ws: loopml.Workspace, data: Path) -> None:
    path = data / "t.parquet"
    table(500, seed=6).write_parquet(path)
    outside_racy_window()
    v1 = loopml.data.add(path, name="t", workspace=ws)
    v2 = loopml.data.add(path, name="t", label="c", workspace=ws)
    assert (v1.version, v2.version) == (1, 2)
    assert v2.digest == v1.digest
    assert v2.profile().label == "c"


# -- diff from stored row hashes --------------------------------------------------------


def test_diff_counts_rows_without_reading_either_table(ws: loopml.Workspace) -> None:
    base = table(5_000, seed=7)
    changed = pl.concat([base.slice(100), table(300, seed=8), base.head(2)])
    v1 = loopml.data.add(base, name="d", workspace=ws)
    v2 = loopml.data.add(changed, name="d", workspace=ws)
    assert ws.root is not None
    state = ws.root / ".loopml"
    with FileOpens(state) as opens:
        result = loopml.data.diff("d@v1", "d@v2", workspace=ws)
    assert (result.rows_added, result.rows_removed) == (300, 98)
    opened = {path.name for path in opens.paths()}
    for version in (v1, v2):
        assert version.digest[2:] not in opened  # the data blobs were never opened
    assert not (state / "checkouts").exists()  # nor linked out to be read


def test_diff_reads_the_tables_when_the_columns_differ(ws: loopml.Workspace) -> None:
    base = table(1_000, seed=9)
    loopml.data.add(base, name="d", workspace=ws)
    loopml.data.add(base.select("c", "x").head(900), name="d", workspace=ws)  # reordered
    result = loopml.data.diff("d@v1", "d@v2", workspace=ws)
    assert (result.rows_added, result.rows_removed) == (0, 100)


def test_stored_row_hashes_are_the_tables_own(ws: loopml.Workspace, data: Path) -> None:
    path = data / "t.csv"
    frame = table(1_000, seed=10)
    frame = pl.concat([frame, frame.head(5)])
    frame.write_csv(path)
    version = loopml.data.add(path, name="t", workspace=ws)
    found = version.row_hashes()
    assert found is not None
    hashes, method = found
    assert hashes.dtype == np.uint64
    assert np.array_equal(hashes, np.sort(version.to_polars().hash_rows(seed=0).to_numpy()))
    assert method["function"] == "polars.DataFrame.hash_rows"
    assert method["polars"] == pl.__version__
    assert version.profile().duplicate_rows == 5


# -- wide tables --------------------------------------------------------------------------


def test_a_wide_table_is_stored_with_its_quantiles_in_one_matrix(
    ws: loopml.Workspace, data: Path
) -> None:
    rng = np.random.default_rng(11)
    wide = pl.DataFrame({f"c{i:04d}": rng.normal(size=50) for i in range(3_000)})
    wide = wide.with_columns(pl.Series("n", [None] * 10 + list(range(40))))
    path = data / "wide.parquet"
    wide.write_parquet(path)
    version = loopml.data.add(path, name="wide", workspace=ws)
    stored = ws.artifacts.read_bytes(version.metadata["profile"])
    assert b"quantiles_row" in stored
    assert len(stored) < 3_001 * 1_000  # about 0.6 kB a column without the quantiles
    matrix = np.load(
        ws.artifacts.local_path(version.metadata["profile_quantiles"]), allow_pickle=False
    )
    assert matrix.shape == (3_001, 1_001)
    assert version.profile().to_json() == profile(wide).to_json()
