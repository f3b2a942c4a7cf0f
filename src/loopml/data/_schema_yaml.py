"""The schema's YAML for many columns: written and read without PyYAML's node graph.

PyYAML builds a node per value, in Python, even with libyaml: a schema of 20,000
columns takes 1.4 s to write and 3 s to read. Its ``columns`` block is regular, so
this module writes it line by line, as PyYAML would write it, and reads back text
that it would have written itself:

- :func:`dump` gives PyYAML's text (``yaml.dump(..., sort_keys=False)``) for columns
  whose names and values PyYAML writes plain; None for any other, which PyYAML then
  writes as a whole.
- :func:`load` reads a schema file by lines, then writes what it read with
  :func:`dump`: only when that gives the file back, byte for byte, is the result
  used (PyYAML reads its own output back as the values it was given); else None,
  and PyYAML reads the file.

>>> data = {"min_rows": 1, "columns": {"age": {"type": "integer", "max_missing": 0.0}}}
>>> text = dump(data, header="")
>>> import yaml
>>> text == yaml.safe_dump(data, sort_keys=False), load(text, header="") == data
(True, True)
"""

from __future__ import annotations

import math
import re
from typing import Any

# Names and words PyYAML writes without quotes and reads back as the same text.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_WORDS = {  # what PyYAML would read as a boolean or null instead
    word
    for base in ("yes", "no", "true", "false", "on", "off", "null")
    for word in (base, base.capitalize(), base.upper())
}
_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(e[-+][0-9]+)?|-?\.inf|\.nan")
_COLUMNS = "columns:\n"


def dump(data: dict[str, Any], *, header: str) -> str | None:
    """``header`` and PyYAML's block-style text of ``data``, whose last key is
    ``columns``; None when a column holds anything beyond plain names and numbers."""
    import yaml

    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns or list(data)[-1] != "columns":
        return None
    lines: list[str] = []
    for name, spec in columns.items():
        if not _column(name, spec, lines):
            return None
    top = {key: value for key, value in data.items() if key != "columns"}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    head = yaml.dump(top, Dumper=dumper, sort_keys=False, allow_unicode=True) if top else ""
    return header + head + _COLUMNS + "\n".join(lines) + "\n"


def load(text: str, *, header: str) -> dict[str, Any] | None:
    """The data of a schema file :func:`dump` wrote (with ``header``); None for any
    other text."""
    import yaml

    if not text.startswith(header):
        return None
    head, found, rest = text[len(header) :].partition(_COLUMNS)
    if not found or not rest.endswith("\n"):
        return None
    try:
        top = yaml.load(head, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError:
        return None
    columns = _columns(rest[:-1].split("\n"))
    if not isinstance(top, dict) or "columns" in top or columns is None:
        return None
    data = {**top, "columns": columns}
    return data if dump(data, header=header) == text else None


def _column(name: Any, spec: Any, lines: list[str]) -> bool:
    if _plain(name) is None or not isinstance(spec, dict):
        return False
    lines.append(f"  {name}:")
    for key, value in spec.items():
        if isinstance(value, dict):
            lines.append(f"    {key}:")
            for inner, number in value.items():
                shown = _scalar(number)
                if shown is None:
                    return False
                lines.append(f"      {inner}: {shown}")
        elif isinstance(value, list):
            lines.append(f"    {key}:")
            for item in value:
                shown = _scalar(item)
                if shown is None:
                    return False
                lines.append(f"    - {shown}")
        else:
            shown = _scalar(value)
            if shown is None:
                return False
            lines.append(f"    {key}: {shown}")
    return True


def _scalar(value: Any) -> str | None:
    """A value as PyYAML's SafeDumper writes it, when it writes it plain."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        # PyYAML's fix for 1e17: a float needs its dot to read back as one.
        return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text
    return _plain(value)


def _plain(value: Any) -> str | None:
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value not in _WORDS:
        return value
    return None


def _columns(lines: list[str]) -> dict[str, Any] | None:
    """The ``columns`` block as :func:`dump` writes it; None at any other line."""
    columns: dict[str, Any] = {}
    column: dict[str, Any] = {}
    nested: dict[str, Any] | list[Any] | None = None
    for line in lines:
        if line.startswith("      ") and isinstance(nested, dict):
            key, found, value = line[6:].partition(": ")
            if not found:
                return None
            nested[key] = _value(value)
        elif line.startswith("    - ") and isinstance(nested, list):
            nested.append(_value(line[6:]))
        elif line.startswith("    ") and not line.startswith("     "):
            key, found, value = line[4:].partition(":")
            if not found:
                return None
            if not value:
                nested = [] if key == "domain" else {}
                column[key] = nested
            elif value.startswith(" "):
                column[key] = _value(value[1:])
                nested = None
            else:
                return None
        elif line.startswith("  ") and line.endswith(":") and not line.startswith("   "):
            column = columns[line[2:-1]] = {}
            nested = None
        else:
            return None
    return columns


def _value(text: str) -> Any:
    """A scalar as PyYAML reads it, for the forms :func:`_scalar` writes (any other
    text is taken as a string: then writing it back does not give the file)."""
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text.replace(".inf", "inf").replace(".nan", "nan"))
    return text
