"""Dataset versions held fixed for a while: inside ``pinned({"churn": "churn@v5"})``,
``loopml.data.get`` of any version of ``churn`` (``churn``, ``churn@latest``, an alias)
gives ``churn@v5``. ``loopml models reproduce`` re-runs a pipeline this way on the
data versions its model was trained on, whatever ``@latest`` means now."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

_pins: ContextVar[tuple[Mapping[str, str], dict[str, str]] | None] = ContextVar(
    "loopml_dataset_pins", default=None
)


@contextmanager
def pinned(versions: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Pin dataset ``name`` to the ref ``versions[name]``; yields what was asked for and
    what was read instead (``{"churn@latest": "churn@v5"}``), filled in as it happens."""
    swapped: dict[str, str] = {}
    token = _pins.set((dict(versions), swapped))
    try:
        yield swapped
    finally:
        _pins.reset(token)


def pinned_ref(ref: str) -> str:
    """``ref``, or the version its dataset is pinned to."""
    held = _pins.get()
    if held is None:
        return ref
    from loopml.refs import parse

    versions, swapped = held
    pin = versions.get(parse(ref).name)
    if pin is None or pin == ref:
        return ref
    swapped[ref] = pin
    return pin
