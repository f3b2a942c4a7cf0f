"""Module-level values a step uses, written canonically for its cache key.

A step that reads a global, a default, a closure cell or a class attribute depends on
its value, not only on the code that made it: ``WEIGHTS = np.load(...)``, a compiled
regex, a frozen dataclass of settings, ``functools.partial(scale, factor=3)``, an
instance of the project's own class. Each is written as text that changes when the
value changes: simple values by ``repr`` (sets sorted, since their order differs
between processes), arrays and tables by a digest of their contents, instances of
project classes by their class and their state. Functions and classes found inside a
value are handed to ``follow`` (the fingerprint walks their code) and named by their
qualified name.

A value that cannot be written this way (an open connection, a third-party object
whose state is not plain data, or one too big to write) gives ``None``: the
fingerprint then cannot prove what the step depends on, and falls back to the digests
of the user's files.

>>> import re
>>> Writer(follow=lambda code: None).write({"pattern": re.compile("a+", re.I), "n": {3, 1}})
"dict['n': set[1, 3], 'pattern': re.Pattern('a+', 34)]"
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import logging
import pathlib
import re
import sys
import types
import uuid
from collections.abc import Callable
from typing import Any

from loopml.artifacts import digest_bytes

MAX_TEXT = 1_000_000  # characters: past this a value is too big to write, not to hash
MAX_DEPTH = 12
SIMPLE = (int, float, complex, str, bytes, bool, type(None), range, slice, type(Ellipsis))
BY_REPR = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
    decimal.Decimal,
    fractions.Fraction,
    uuid.UUID,
    pathlib.PurePath,
    bytearray,
)
CONTAINERS = (tuple, list, set, frozenset)
CODE = (types.FunctionType, type, types.BuiltinFunctionType)


class Writer:
    """Writes values canonically; ``follow`` gets each function, class and module seen,
    and says whether it is the project's own (its state then counts)."""

    def __init__(self, follow: Callable[[object], bool | None]) -> None:
        self.follow = follow

    def write(self, value: object) -> str | None:
        budget = [MAX_TEXT]
        text = self._write(value, budget, 0)
        return text if text is not None and budget[0] >= 0 else None

    def _write(self, value: object, budget: list[int], depth: int) -> str | None:
        if budget[0] < 0 or depth > MAX_DEPTH:  # too big, or a container holding itself
            return None
        text = self._text(value, budget, depth)
        if text is not None:
            budget[0] -= len(text)
        return text

    def _text(self, value: object, budget: list[int], depth: int) -> str | None:
        kind = type(value)  # exact types: a subclass may have any repr
        if kind in SIMPLE:
            return repr(value)
        if isinstance(value, BY_REPR) and kind.__module__ in sys.stdlib_module_names:
            return f"{kind.__qualname__}:{value!r}"
        if isinstance(value, dict) and kind is dict:
            return self._items(kind, value.items(), budget, depth)
        if kind in CONTAINERS:
            return self._sequence(kind, value, budget, depth)
        if isinstance(value, types.BuiltinMethodType) and not _plain_owner(value):
            owner = value.__self__  # `add = seen.add`: the set is part of what it does
            return self._call(f"builtin {value.__name__}", [owner], {}, budget, depth)
        if isinstance(value, (*CODE, types.ModuleType)):
            self.follow(value)
            name = getattr(value, "__qualname__", None) or getattr(value, "__name__", "?")
            return f"<{getattr(value, '__module__', None) or ''}.{name}>"
        if isinstance(value, types.MethodType):
            return self._call("method", [value.__func__, value.__self__], {}, budget, depth)
        if isinstance(value, staticmethod | classmethod):
            return self._call(kind.__name__, [value.__func__], {}, budget, depth)
        if isinstance(value, functools.partial):
            return self._call("partial", [value.func, *value.args], value.keywords, budget, depth)
        if isinstance(value, re.Pattern):
            return f"re.Pattern({value.pattern!r}, {value.flags})"
        if isinstance(value, logging.Logger):  # where it writes does not change a result
            return f"logging.Logger({value.name!r})"
        if isinstance(value, enum.Enum):
            self.follow(kind)
            inner = self._write(value.value, budget, depth + 1)
            return None if inner is None else f"<{kind.__module__}.{kind.__qualname__}>.{inner}"
        return self._data(value, budget, depth)

    def _data(self, value: object, budget: list[int], depth: int) -> str | None:
        """Arrays, tables, dataclasses, named tuples and the project's own objects."""
        kind = type(value)
        library = _library_text(value)
        if library is not None:
            return library
        own = self.follow(kind)
        if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a named tuple
            return self._call(f"<{kind.__module__}.{kind.__qualname__}>", value, {}, budget, depth)
        if dataclasses.is_dataclass(value):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            state = {**fields, **_state(value)} if own else fields
            return self._items(kind, state.items(), budget, depth)
        if own:
            return self._items(kind, _state(value).items(), budget, depth)
        return None

    def _items(self, kind: type, items: Any, budget: list[int], depth: int) -> str | None:
        pairs = []
        for key, item in items:
            key_text, item_text = self._write(key, budget, depth + 1), None
            if key_text is not None:
                item_text = self._write(item, budget, depth + 1)
            if item_text is None:
                return None
            pairs.append(f"{key_text}: {item_text}")
        return f"{_name(kind)}[{', '.join(sorted(pairs))}]"

    def _sequence(self, kind: type, items: Any, budget: list[int], depth: int) -> str | None:
        texts = []
        for item in items:
            text = self._write(item, budget, depth + 1)
            if text is None:
                return None
            texts.append(text)
        if kind in (set, frozenset):
            texts.sort()
        return f"{kind.__name__}[{', '.join(texts)}]"

    def _call(
        self, what: str, args: Any, kwargs: dict[str, Any], budget: list[int], depth: int
    ) -> str | None:
        inner = self._sequence(list, args, budget, depth)
        keywords = self._items(dict, kwargs.items(), budget, depth) if kwargs else "{}"
        return None if inner is None or keywords is None else f"{what}({inner}, {keywords})"


def _name(kind: type) -> str:
    return kind.__name__ if kind is dict else f"<{kind.__module__}.{kind.__qualname__}>"


def _state(value: object) -> dict[str, Any]:
    """An object's attributes: its ``__dict__`` and the slots its classes declare."""
    state = dict(getattr(value, "__dict__", {}))
    for cls in type(value).__mro__:
        slots = vars(cls).get("__slots__", ())
        for slot in [slots] if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(value, slot):
                state[slot] = getattr(value, slot)
    return state


def _plain_owner(method: types.BuiltinMethodType) -> bool:
    owner = getattr(method, "__self__", None)
    return owner is None or isinstance(owner, types.ModuleType | type)


def _library_text(value: object) -> str | None:
    """A NumPy array, scalar or ufunc, or a pandas object, by a digest of its contents;
    a dataset version by its ref and digest; None for anything else (or for contents
    that cannot be hashed)."""
    versions = sys.modules.get("loopml.data._versions")
    if versions is not None and isinstance(value, versions.DatasetVersion):
        return f"dataset {value.ref} {value.digest}"  # `DATA = data.get("churn@latest")`
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.ufunc):
            return f"numpy.ufunc({value.__name__})"
        if isinstance(value, numpy.ndarray) and value.dtype != object:
            data = numpy.ascontiguousarray(value).tobytes()
            return f"ndarray({value.dtype.str}, {value.shape}, {digest_bytes(data)})"
        if isinstance(value, numpy.generic):
            return f"numpy.{value.dtype.str}:{value.item()!r}"
        if isinstance(value, numpy.dtype):
            return f"numpy.dtype({value.str})"
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series | pandas.Index):
        try:
            rows = pandas.util.hash_pandas_object(value, index=True).to_numpy().tobytes()
        except TypeError:  # unhashable cells (lists, dicts)
            return None
        if isinstance(value, pandas.DataFrame):
            columns, dtypes = list(value.columns), [str(t) for t in value.dtypes]
        else:
            columns, dtypes = [value.name], [str(value.dtype)]
        return f"pandas.{type(value).__name__}({columns!r}, {dtypes}, {digest_bytes(rows)})"
    return None
