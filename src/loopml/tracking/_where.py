"""``--where`` filters on runs, such as ``metrics.auc > 0.9 and params.C < 1``, and
``--sort`` orders them by one of the same fields, such as ``-metrics.auc``.

The text is parsed by Python's own parser into a syntax tree and only a few node types
are accepted: comparisons, ``and``/``or``/``not``, parentheses, literals and the
fields below. Nothing is evaluated as code and nothing is pasted into SQL.

Fields: ``metrics.KEY`` (the latest value), ``params.KEY``, ``tags.KEY``, and ``id``,
``name``, ``kind``, ``status``, ``parent``, ``host``. A key that is not a Python name
is written ``metrics["val-loss"]``. A comparison with a field a run does not have, or
of a number with text, is false for that run.

>>> where = parse_where("metrics.auc >= 0.9 and params.C in (0.5, 1) and not status == 'failed'")
>>> where({"metrics": {"auc": 0.93}, "params": {"C": 1}, "status": "succeeded"})
True
>>> where({"metrics": {}, "params": {"C": 1}, "status": "succeeded"})
False
>>> rows = [{"name": "a", "metrics": {"auc": 0.8}}, {"name": "b", "metrics": {}},
...         {"name": "c", "metrics": {"auc": 0.9}}]
>>> [row["name"] for row in sort_rows(rows, "-metrics.auc")]  # best first, missing last
['c', 'a', 'b']
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from loopml.errors import InvalidInput

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

MAPPINGS = ("metrics", "params", "tags")
FIELDS = ("id", "name", "kind", "status", "parent", "host")
_MISSING = object()
_WORDS = {"true": True, "false": False, "null": None}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
HELP = (
    "write comparisons of metrics.KEY, params.KEY, tags.KEY, "
    + ", ".join(FIELDS)
    + " with numbers, 'text', true/false or (lists), joined by and, or, not; "
    "for example: metrics.auc > 0.9 and params.C < 1"
)


# Deeper nesting than any filter a person writes; Python's own parser and these
# recursive functions fail far below a few thousand levels.
MAX_DEPTH = 32


def parse_where(text: str) -> Predicate:
    """A predicate on a run's row, or InvalidInput naming what is wrong and the fix."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise InvalidInput(f"--where {text!r} does not parse ({error.msg}); {HELP}") from None
    except (RecursionError, MemoryError):
        tree = None
    if tree is None or _depth(tree.body) > MAX_DEPTH:
        raise InvalidInput(
            f"--where {_short(text)} is nested more than {MAX_DEPTH} levels deep; "
            "write it with fewer parentheses and nots"
        )
    return _predicate(tree.body, text)


def _depth(root: ast.AST) -> int:
    """How deep the tree is, walked without recursion (it may be deep)."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _short(text: str, most: int = 80) -> str:
    return repr(text if len(text) <= most else text[: most - 3] + "...")


def _predicate(node: ast.expr, text: str) -> Predicate:
    if isinstance(node, ast.BoolOp):
        parts = [_predicate(value, text) for value in node.values]
        if isinstance(node.op, ast.And):
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _predicate(node.operand, text)
        return lambda row: not inner(row)
    if isinstance(node, ast.Compare):
        return _comparison(node, text)
    raise InvalidInput(f"--where {text!r}: {_shown(node)} is not a comparison; {HELP}")


def _comparison(node: ast.Compare, text: str) -> Predicate:
    operands = [_operand(part, text) for part in (node.left, *node.comparators)]
    tests = []
    for op in node.ops:
        compare = _COMPARE.get(type(op))
        if compare is None:
            raise InvalidInput(f"--where {text!r}: operator {type(op).__name__} is not allowed")
        tests.append(compare)

    def check(row: Row) -> bool:
        values = [operand(row) for operand in operands]
        for compare, left, right in zip(tests, values, values[1:], strict=False):
            if left is _MISSING or right is _MISSING:
                return False
            try:
                if not compare(left, right):
                    return False
            except TypeError:  # a number against text: not a match
                return False
        return True

    return check


def _operand(node: ast.expr, text: str) -> Callable[[Row], Any]:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | None):
        constant = node.value
        return lambda row: constant
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand
        if isinstance(inner, ast.Constant) and isinstance(inner.value, int | float):
            negative = -inner.value
            return lambda row: negative
    if isinstance(node, ast.List | ast.Tuple):
        items = [_operand(item, text) for item in node.elts]
        return lambda row: [item(row) for item in items]
    if isinstance(node, ast.Name) and node.id in _WORDS:
        word = _WORDS[node.id]
        return lambda row: word
    if isinstance(node, ast.Name) and node.id in FIELDS:
        field = node.id
        return lambda row: row.get(field, _MISSING)
    key = _mapping_key(node)
    if key is not None:
        mapping, name = key
        return lambda row: (row.get(mapping) or {}).get(name, _MISSING)
    raise InvalidInput(f"--where {text!r}: cannot read {_shown(node)}; {HELP}")


def _mapping_key(node: ast.expr) -> tuple[str, str] | None:
    """``metrics.auc`` and ``metrics["val-loss"]`` as ("metrics", key)."""
    key: object
    if isinstance(node, ast.Attribute):
        base, key = node.value, node.attr
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        base, key = node.value, node.slice.value
    else:
        return None
    if isinstance(base, ast.Name) and base.id in MAPPINGS and isinstance(key, str):
        return base.id, key
    return None


def _shown(node: ast.expr) -> str:
    return repr(ast.unparse(node))


SORT_FIELDS = (*FIELDS, "started_at", "seconds")
SORT_HELP = (
    "give a field as --where names them: metrics.KEY, params.KEY, tags.KEY, "
    + ", ".join(SORT_FIELDS)
    + "; a leading - sorts high to low, e.g. --sort -metrics.auc"
)


def sort_rows(rows: list[Row], text: str) -> list[Row]:
    """``rows`` ordered by the field ``text`` names, low to high, or high to low when it
    starts with ``-``; rows without the field come last either way, numbers before
    text."""
    field = text.strip()
    descending = field.startswith("-")
    field = field.removeprefix("-").strip()
    try:
        node = ast.parse(field, mode="eval").body
    except SyntaxError:
        raise InvalidInput(f"--sort {text!r} is not a field; {SORT_HELP}") from None
    key = _mapping_key(node)
    if key is not None:
        mapping, name = key

        def value(row: Row) -> Any:
            return (row.get(mapping) or {}).get(name, _MISSING)

    elif isinstance(node, ast.Name) and node.id in SORT_FIELDS:
        column = node.id

        def value(row: Row) -> Any:
            found = row.get(column, _MISSING)
            return _MISSING if found is None else found

    else:
        raise InvalidInput(f"--sort {text!r} is not a field; {SORT_HELP}")
    numbers: list[tuple[float, Row]] = []
    texts: list[tuple[str, Row]] = []
    missing: list[Row] = []
    for row in rows:
        found = value(row)
        if isinstance(found, int | float) and found == found:  # NaN sorts as missing
            numbers.append((float(found), row))
        elif found is _MISSING or isinstance(found, float):
            missing.append(row)
        else:
            texts.append((found if isinstance(found, str) else repr(found), row))
    numbers.sort(key=lambda pair: pair[0], reverse=descending)
    texts.sort(key=lambda pair: pair[0], reverse=descending)
    return [row for _, row in numbers] + [row for _, row in texts] + missing
