"""Long piped tables are written line by line, not drawn by Rich: the same text."""

from __future__ import annotations

import contextlib
import io
import random

import pytest

from loopml.cli import _output
from loopml.cli._output import Column, print_table

CELLS = ["", "x", "12.5%", "héllo", "日本", "a b c d e", "1,234", "a-long-column-name-here"]


def printed(columns: list[Column], rows: list[list[str]]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_table(columns, rows)
    return out.getvalue()


@pytest.mark.parametrize("width", [None, "30", "200"])
def test_a_long_table_prints_as_rich_draws_it(
    monkeypatch: pytest.MonkeyPatch, width: str | None
) -> None:
    if width is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", width)
    rng = random.Random(5)
    for _ in range(150):
        columns = [
            Column(
                rng.choice(["a", "name", "value x", "top values"]),
                keep=rng.random() < 0.3,
                drop=rng.choice([None, 1, 2]),
                justify=rng.choice(["left", "right"]),
            )
            for _ in range(rng.randint(1, 5))
        ]
        rows = [[rng.choice(CELLS) for _ in columns] for _ in range(rng.randint(0, 6))]
        monkeypatch.setattr(_output, "PLAIN_ROWS", 10**9)
        drawn = printed(columns, rows)
        monkeypatch.setattr(_output, "PLAIN_ROWS", -1)
        assert printed(columns, rows) == drawn


def test_a_title_stands_at_the_left_of_a_wide_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_table([Column("#", keep=True), Column("summary")], [["1", "x" * 300]], title="t")
    assert out.getvalue().splitlines()[0].rstrip() == "t"
