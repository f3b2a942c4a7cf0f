"""Progress bars (Rich) on long work — epochs, trials, files — on a terminal only.

Drawn on stderr and cleared when done, so output that is piped or logged stays
clean; ``LOOPML_PROGRESS=0`` turns them off, ``=1`` forces them.

>>> list(progress(range(3), "epochs"))  # not a terminal: the items, and nothing drawn
[0, 1, 2]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def _asked() -> bool | None:
    """What ``LOOPML_PROGRESS`` asks for: bars on, off, or (unset) whatever fits."""
    from loopml._flags import env_flag

    return env_flag("LOOPML_PROGRESS")


def enabled(stream: Any = None) -> bool:
    asked = _asked()
    if asked is not None:
        return asked
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def progress_bar(
    description: str, total: int | None, *, console: Any = None
) -> Iterator[Callable[..., None]]:
    """``update(completed=N, note=...)`` moves the bar; a no-op off a terminal."""
    if console is None and not enabled():
        yield lambda **_: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
    )
    console = console or Console(stderr=True, force_terminal=_asked() or None)
    bar = Progress(*columns, console=console, transient=True)
    task = bar.add_task(description, total=total, note="")
    with bar:

        def update(completed: int | None = None, advance: int = 0, note: str | None = None) -> None:
            fields: dict[str, Any] = {} if note is None else {"note": note}
            bar.update(task, completed=completed, advance=advance, **fields)

        yield update


def progress(
    items: Iterable[T], description: str, *, total: int | None = None, console: Any = None
) -> Iterator[T]:
    """``items``, with a bar of how many have been taken: ``for epoch in
    loopml.progress(range(30), "epochs"):``."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    with progress_bar(description, total, console=console) as update:
        for item in items:
            yield item
            update(advance=1)
