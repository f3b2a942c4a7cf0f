"""The benchmark's 10-step table pipeline in loopml: each step passes a 1,000-row table.

``ten_tables``: the first step makes a 1,000-row pandas table from ``x0`` (columns
``id``, ``x`` and ``label``), and each of the other 9 adds 1 to its column ``x``. loopml
stores each output as Parquet. The same pipeline is in ``flow_metaflow_tables.py``.
Run by ``bench/pipeline/run.py`` (in its own file so that ``ten`` does not import pandas).
"""

from __future__ import annotations

import pandas as pd

import loopml

STEPS = 10
ROWS = 1_000


@loopml.step
def make_table(x0: int) -> pd.DataFrame:
    ids = range(ROWS)
    return pd.DataFrame(
        {"id": list(ids), "x": [x0 + 1 + i for i in ids], "label": [f"row-{i}" for i in ids]}
    )


@loopml.step
def add_one_to_table(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(x=table["x"] + 1)


@loopml.pipeline
def ten_tables(x0: int = 0):
    table = make_table(x0)
    for _ in range(STEPS - 1):
        table = add_one_to_table(table)
    return table
