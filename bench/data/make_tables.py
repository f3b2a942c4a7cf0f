"""Write the reference and current tables of the data benchmark; runs in ``.venv``.

Usage: ``python bench/data/make_tables.py ROWS FOLDER``

Writes ``ref-ROWS.parquet``, ``cur-ROWS.parquet`` and ``tables-ROWS.json`` (what was
planted, the in-memory size of each table) into FOLDER, from a fixed seed: the same
ROWS always give the same tables. Prints the JSON facts as one line.

Twenty columns:

- ``f00`` … ``f13``: float64, normal, each with its own mean and scale. In the current
  table ``f01`` has a small mean shift (0.05 sd), ``f02`` a large one (0.5 sd), ``f03`` a
  wider spread (x1.3), ``f04`` a narrower one (x0.8), ``f06`` both (+0.2 sd, x1.1).
- ``i_low``: int64, 0..9. ``i_wide0``: int64 in [0, 1e6), shifted by 5% of its range in
  the current table. ``i_wide1``: int64 over +-2**40.
- ``c_a`` (4 categories), ``c_b`` (6), ``c_c`` (8): strings. ``c_c`` changes its
  proportions in the current table.
- About 1% nulls in ``f05``, ``i_wide1`` and ``c_b``.
- The current table repeats ROWS // 2000 of its rows (its duplicate rows).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

SEED = 20_261_122
# Bump when the tables change, so that stored tables of an older layout are remade.
LAYOUT = 1
NULL_SHARE = 0.01
NULL_COLUMNS = ("f05", "i_wide1", "c_b")
CATEGORIES = {
    "c_a": ["north", "south", "east", "west"],
    "c_b": ["red", "green", "blue", "cyan", "magenta", "yellow"],
    "c_c": ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"],
}
# Proportions in the reference table and in the current one.
SHARES = {
    "c_a": ([0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]),
    "c_b": ([0.3, 0.2, 0.2, 0.1, 0.1, 0.1], [0.3, 0.2, 0.2, 0.1, 0.1, 0.1]),
    "c_c": ([0.125] * 8, [0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]),
}
# Current table's (mean shift in sd, scale factor) per float column; the rest unchanged.
FLOAT_DRIFT = {"f01": (0.05, 1.0), "f02": (0.5, 1.0), "f03": (0.0, 1.3), "f04": (0.0, 0.8)}
FLOAT_DRIFT["f06"] = (0.2, 1.1)
WIDE_SHIFT = 50_000  # i_wide0 in the current table: [50_000, 1_050_000)


def table(rows: int, rng: np.random.Generator, *, current: bool) -> pl.DataFrame:
    columns: dict[str, pl.Series] = {}
    for index in range(14):
        name = f"f{index:02d}"
        mean, sd = index * 10.0 - 30.0, 1.0 + index / 2
        shift, scale = FLOAT_DRIFT.get(name, (0.0, 1.0)) if current else (0.0, 1.0)
        values = rng.normal(mean + shift * sd, sd * scale, rows)
        columns[name] = pl.Series(name, values, dtype=pl.Float64)
    columns["i_low"] = pl.Series("i_low", rng.integers(0, 10, rows), dtype=pl.Int64)
    low = WIDE_SHIFT if current else 0
    wide0 = rng.integers(low, low + 1_000_000, rows)
    columns["i_wide0"] = pl.Series("i_wide0", wide0, dtype=pl.Int64)
    wide1 = rng.integers(-(2**40), 2**40, rows)
    columns["i_wide1"] = pl.Series("i_wide1", wide1, dtype=pl.Int64)
    for name, names in CATEGORIES.items():
        shares = SHARES[name][1 if current else 0]
        codes = rng.choice(len(names), size=rows, p=shares).astype(np.uint32)
        columns[name] = pl.Series(name, names, dtype=pl.String).gather(pl.Series(codes))
    frame = pl.DataFrame(list(columns.values()))
    nulls = {name: pl.Series(rng.random(rows) < NULL_SHARE) for name in NULL_COLUMNS}
    frame = frame.with_columns(
        pl.when(mask).then(None).otherwise(pl.col(name)).alias(name) for name, mask in nulls.items()
    )
    if current:
        repeats = rows // 2000
        frame = pl.concat([frame.head(rows - repeats), frame.head(repeats)])
    return frame


def main(argv: list[str]) -> None:
    rows, folder = int(argv[0]), Path(argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    facts: dict[str, Any] = {
        "layout": LAYOUT,
        "seed": SEED,
        "rows": rows,
        "null_columns": list(NULL_COLUMNS),
        "null_share": NULL_SHARE,
        "float_drift": FLOAT_DRIFT,
        "i_wide0_shift": WIDE_SHIFT,
        "category_shares": SHARES,
        "duplicate_rows_current": rows // 2000,
    }
    for kind in ("ref", "cur"):
        frame = table(rows, rng, current=kind == "cur")
        path = folder / f"{kind}-{rows}.parquet"
        frame.write_parquet(path)
        facts[kind] = {
            "file": path.name,
            "columns": frame.width,
            "file_bytes": path.stat().st_size,
            "estimated_size_bytes": frame.estimated_size(),
        }
    facts["schema"] = {name: str(dtype) for name, dtype in frame.schema.items()}
    text = json.dumps(facts)
    (folder / f"tables-{rows}.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
