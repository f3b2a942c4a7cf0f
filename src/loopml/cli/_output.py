"""How every command prints: one console, tables that fit the terminal without cutting
an id or a ref, plain complete text when piped, and strict JSON.

- In a terminal, tables are drawn at its width (``COLUMNS`` when set), with a rule
  under the header. Columns marked ``keep`` (ids, refs) are never cut; the others
  wrap, and when even wrapping cannot make the table fit, the least important are
  left out (the ``drop`` order), with a line saying which; ``--json`` has everything.
- Piped, output is plain text: no colours, no lines, one line per row (at
  ``COLUMNS`` when set, else as wide as the rows are), nothing cut.
- ``--json`` prints strict JSON (RFC 8259): NaN and infinities become null, times are
  ISO 8601 strings.

Example:
    >>> import datetime, numpy
    >>> strict({"auc": float("nan"), "when": datetime.date(2030, 1, 2)})
    {'auc': None, 'when': '2030-01-02'}
    >>> strict({"scores": numpy.array([0.5, numpy.inf]), "n": numpy.int64(3)})
    {'scores': [0.5, None], 'n': 3}
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import PurePath
from typing import Any, Literal

UNLIMITED = 100_000  # piped without COLUMNS: as wide as the rows are
NARROWEST = 8  # a column that wraps is never made narrower than this (or its widest cell)
LONGEST_WORD = 16  # ... nor than its longest word, up to this: longer ones are folded
PLAIN_ROWS = 200  # piped, a longer table is written line by line, not drawn by Rich


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column. ``keep``: an id, ref or name, never cut, never left out. ``whole``:
    never wrapped, but left out when it does not fit. ``drop``: left out when the
    table does not fit, the highest first; None: never left out."""

    header: str
    keep: bool = False
    drop: int | None = None
    whole: bool = False
    justify: Literal["left", "right"] = "left"


def width() -> int | None:
    """The width to print at: ``COLUMNS`` when set, the terminal's, or None (piped)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns
        except OSError:  # a terminal that does not say its size
            return None
    return None


def console() -> Any:
    from rich.console import Console

    # A height too, or Rich takes a dumb terminal (TERM=dumb) to be 80 columns wide.
    # No markup: "[x]" in a name or a message is text, not a style.
    return Console(width=width() or UNLIMITED, height=25, markup=False, highlight=False)


def print_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
) -> None:
    """Print ``rows`` under ``columns`` as this module says."""
    out = console()
    available = width()
    shown = list(range(len(columns)))  # indexes of the columns shown
    dropped: list[int] = []
    cells = [[str(row[index]) for row in rows] for index in range(len(columns))]
    widths = None
    if available is not None:
        while (widths := _fit([(columns[i], cells[i]) for i in shown], available)) is None:
            candidates = [i for i in shown if columns[i].drop is not None and not columns[i].keep]
            if not candidates:
                break
            gone = max(candidates, key=lambda i: columns[i].drop or 0)
            shown.remove(gone)
            dropped.append(gone)
    fitted = widths is not None or available is None
    if widths is None:  # as wide as the rows are (when even the kept columns do not
        # fit, the terminal wraps the lines rather than an id being cut)
        widths = [_natural(columns[i], cells[i]) for i in shown]
    kept = [columns[i] for i in shown]
    lines = (
        _plain_lines(kept, widths, [[row[i] for i in shown] for row in rows])
        if len(rows) > PLAIN_ROWS and fitted and title is None and not sys.stdout.isatty()
        else None
    )
    if lines is not None:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    else:
        table = _table(kept, widths, [[row[i] for i in shown] for row in rows], title)
        out.print(table, width=max(sum(widths) + _overhead(len(shown)), out.width), crop=False)
    if dropped:
        names = ", ".join(columns[i].header.replace("\n", " ") for i in reversed(dropped))
        out.print(
            f"(left out at this width: {names}; --json shows everything)",
            markup=False,
            highlight=False,
            style="dim",
        )


def _plain_lines(
    shown: Sequence[Column], widths: Sequence[int], rows: Sequence[Sequence[str]]
) -> list[str] | None:
    """The table's lines as Rich prints them piped (every cell padded by one space each
    side, no rules), when no cell needs wrapping; else None, and Rich draws it. Rich
    takes about half a millisecond a cell: 20,000 rows would take a minute."""
    from rich.cells import cell_len

    lines = []
    for cells in ([column.header for column in shown], *rows):
        parts = []
        for column, size, cell in zip(shown, widths, cells, strict=True):
            text = str(cell)
            length = cell_len(text)
            if length > size or not text.isprintable():
                return None
            pad = " " * (size - length)
            parts.append(f" {pad}{text} " if column.justify == "right" else f" {text}{pad} ")
        lines.append("".join(parts))
    return lines


def _fit(shown: Sequence[tuple[Column, list[str]]], available: int) -> list[int] | None:
    """Widths for the shown columns (each with its cells) within ``available``
    characters, taken from the widest columns that may wrap first; None when they
    cannot fit."""
    widths = [_natural(column, cells) for column, cells in shown]
    least = [_minimum(column, cells) for column, cells in shown]
    room = available - _overhead(len(shown))
    if sum(least) > room:
        return None
    while sum(widths) > room:
        slack = [i for i in range(len(shown)) if widths[i] > least[i]]
        widest = max(slack, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _natural(column: Column, cells: list[str]) -> int:
    from rich.cells import cell_len  # a wide character takes two columns

    lines = [line for text in (column.header, *cells) for line in text.splitlines() or [""]]
    return max(cell_len(line) for line in lines)


def _minimum(column: Column, cells: list[str]) -> int:
    """The narrowest the column is drawn: all of it when it is kept whole, else wide
    enough for its longest word (up to LONGEST_WORD), so that a short word such as
    ``succeeded`` is never broken."""
    natural = _natural(column, cells)
    if column.keep or column.whole:
        return natural
    from rich.cells import cell_len

    words = [cell_len(word) for text in (column.header, *cells) for word in text.split()]
    return min(natural, max(NARROWEST, min(max(words, default=0), LONGEST_WORD)))


def _overhead(count: int) -> int:
    # A one-space pad each side of every cell; in a terminal also a (blank) rule
    # between columns, under a header line.
    return 3 * count - 1 if sys.stdout.isatty() else 2 * count


def _table(
    shown: Sequence[Column],
    widths: Sequence[int],
    rows: Sequence[Sequence[str]],
    title: str | None,
) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    ruled = sys.stdout.isatty()
    # the title at the left: centred over a table of long summaries, it stood hundreds
    # of spaces from the first column
    table = Table(
        title=title,
        title_justify="left",
        show_edge=False,
        box=box.SIMPLE_HEAD if ruled else None,
    )
    for column, size in zip(shown, widths, strict=True):
        table.add_column(
            Text(column.header),
            justify=column.justify,
            no_wrap=column.keep or column.whole,
            width=size,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    return table


def strict(data: Any) -> Any:
    """``data`` as plain JSON values: NaN and infinities as None, times and paths as
    strings, enums as their values, dataclasses as objects."""
    if isinstance(data, bool) or data is None or isinstance(data, int | str):
        return data
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, Mapping):
        return {str(key): strict(value) for key, value in data.items()}
    if isinstance(data, list | tuple | set | frozenset):
        items = sorted(data, key=str) if isinstance(data, set | frozenset) else data
        return [strict(item) for item in items]
    if isinstance(data, datetime | date):
        return data.isoformat()
    if isinstance(data, enum.Enum):
        return strict(data.value)
    if isinstance(data, PurePath):
        return str(data)
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        fields = dataclasses.fields(data)
        return {field.name: strict(getattr(data, field.name)) for field in fields}
    if callable(getattr(data, "tolist", None)):  # a NumPy scalar or array
        return strict(data.tolist())
    return str(data)


def print_json(data: Any) -> None:
    """Print ``data`` as strict, indented JSON on stdout."""
    print(json.dumps(strict(data), indent=2, allow_nan=False, ensure_ascii=False))


def artifact_json(artifact: Any) -> dict[str, Any]:
    """An :class:`~loopml.store.Artifact` as JSON, with its ``ref``."""
    fields = ("id", "kind", "name", "version", "digest", "size", "uri", "metadata")
    return {
        **{name: getattr(artifact, name) for name in fields[:4]},
        "ref": artifact.ref,
        **{name: getattr(artifact, name) for name in fields[4:]},
        "created_at": artifact.created_at,
    }


JSON_HELP = "Print strict JSON instead of text."
