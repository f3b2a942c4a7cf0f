"""What every decisions worker shares: reading the split files the driver wrote, and
writing one JSON line per cell. Standard library and pyarrow only, so each tool's venv
can import it.

A cell file is one Parquet table holding all the splits of one cell: the real table's
columns plus ``__trial`` (the split's number) and ``__side`` ("reference" or
"current"). The manifest (JSON) lists the cells.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TRIAL, SIDE = "__trial", "__side"


def arguments(argv: list[str]) -> tuple[dict[str, Any], Path, int | None]:
    """The manifest, the output file, and the most splits to run per cell (or all)."""
    if len(argv) not in (2, 3):
        raise SystemExit(f"usage: {sys.argv[0]} MANIFEST.json OUT.jsonl [SPLITS]")
    manifest = json.loads(Path(argv[0]).read_text())
    return manifest, Path(argv[1]), int(argv[2]) if len(argv) == 3 else None


def pandas_splits(path: Path, limit: int | None) -> Iterator[tuple[int, Any, Any]]:
    """(trial, reference, current) as pandas DataFrames, in trial order."""
    import pyarrow.parquet as pq

    frame = pq.read_table(path).to_pandas()
    for trial, rows in frame.groupby(TRIAL, sort=True):
        if limit is not None and int(trial) >= limit:
            break
        sides = {
            side: part.drop(columns=[TRIAL, SIDE]).reset_index(drop=True)
            for side, part in rows.groupby(SIDE)
        }
        yield int(trial), sides["reference"], sides["current"]


def write(out: Any, cell: dict[str, Any], trials: list[dict[str, Any]], **extra: Any) -> None:
    out.write(json.dumps({"cell": cell["id"], "trials": trials, **extra}) + "\n")
    out.flush()


def exceedance(value: float, threshold: float, p_value: bool) -> float:
    """A column's score on one scale for every method: 1.0 at the tool's threshold,
    larger = more drift (a p-value ``p`` below threshold ``t`` scores ``t / p``)."""
    if p_value:
        return threshold / max(value, 1e-300)
    return value / threshold if threshold > 0 else (0.0 if value <= 0 else float("inf"))
