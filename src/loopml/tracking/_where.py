"""``--where`` filters on runs, such as ``metrics.auc > 0.9 and params.C < 1``, and
``--sort`` orders them by one of the same fields, such as ``-metrics.auc``.

The text is parsed by Python's own parser into a syntax tree and only a few node types
are accepted: comparisons, ``and``/``or``/``not``, parentheses, literals and the
fields below. Nothing is evaluated as code and nothing is pasted into SQL: the text
becomes a condition of :mod:`loopml.store.query`, which the store answers (and
:func:`~loopml.store.query.matches` gives the meaning of).

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
from collections.abc import Callable
from typing import Any

from loopml.errors import InvalidInput
from loopml.store.query import (
    MAPPINGS,
    ORDER_FIELDS,
    RUN_FIELDS,
    And,
    Compare,
    Condition,
    Constant,
    Field,
    Items,
    Not,
    Operand,
    Or,
    RunOrder,
    matches,
    ordered,
)

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

FIELDS = RUN_FIELDS
_WORDS = {"true": True, "false": False, "null": None}
_OPERATORS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
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
    """A predicate on a run's row (see :func:`loopml.store.query.run_row`), or
    InvalidInput naming what is wrong and the fix."""
    condition = parse_condition(text)
    return lambda row: matches(condition, row)


def parse_condition(text: str) -> Condition:
    """The condition ``text`` writes, or InvalidInput naming what is wrong and the fix."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise InvalidInput(
            f"--where {text!r} does not parse ({error.msg}); {HELP}", field="where"
        ) from None
    except (RecursionError, MemoryError):
        tree = None
    if tree is None or _depth(tree.body) > MAX_DEPTH:
        raise InvalidInput(
            f"--where {_short(text)} is nested more than {MAX_DEPTH} levels deep; "
            "write it with fewer parentheses and nots",
            field="where",
        )
    return _condition(tree.body, text)


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


def _condition(node: ast.expr, text: str) -> Condition:
    if isinstance(node, ast.BoolOp):
        parts = tuple(_condition(value, text) for value in node.values)
        return And(parts) if isinstance(node.op, ast.And) else Or(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_condition(node.operand, text))
    if isinstance(node, ast.Compare):
        return _comparison(node, text)
    raise InvalidInput(
        f"--where {text!r}: {_shown(node)} is not a comparison; {HELP}", field="where"
    )


def _comparison(node: ast.Compare, text: str) -> Compare:
    operands = tuple(_operand(part, text) for part in (node.left, *node.comparators))
    operators = []
    for op in node.ops:
        found = _OPERATORS.get(type(op))
        if found is None:
            raise InvalidInput(
                f"--where {text!r}: operator {type(op).__name__} is not allowed", field="where"
            )
        operators.append(found)
    return Compare(operands, tuple(operators))


def _operand(node: ast.expr, text: str) -> Operand:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | None):
        return Constant(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand
        if isinstance(inner, ast.Constant) and isinstance(inner.value, int | float):
            return Constant(-inner.value)
    if isinstance(node, ast.List | ast.Tuple):
        return Items(tuple(_operand(item, text) for item in node.elts))
    if isinstance(node, ast.Name) and node.id in _WORDS:
        return Constant(_WORDS[node.id])
    if isinstance(node, ast.Name) and node.id in FIELDS:
        return Field("run", node.id)
    key = _mapping_key(node)
    if key is not None:
        return Field(*key)
    raise InvalidInput(f"--where {text!r}: cannot read {_shown(node)}; {HELP}", field="where")


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


SORT_FIELDS = ORDER_FIELDS
SORT_HELP = (
    "give a field as --where names them: metrics.KEY, params.KEY, tags.KEY, "
    + ", ".join(SORT_FIELDS)
    + "; a leading - sorts high to low, e.g. --sort -metrics.auc"
)


def parse_order(text: str) -> RunOrder:
    """The order ``text`` names: a field as ``--where`` names them, low to high, or
    high to low when it starts with ``-``; or InvalidInput naming the fields."""
    field = text.strip()
    descending = field.startswith("-")
    field = field.removeprefix("-").strip()
    try:
        node = ast.parse(field, mode="eval").body
    except (SyntaxError, RecursionError, MemoryError):
        raise InvalidInput(f"--sort {text!r} is not a field; {SORT_HELP}", field="sort") from None
    key = _mapping_key(node)
    if key is not None:
        return RunOrder(Field(*key), descending)
    if isinstance(node, ast.Name) and node.id in SORT_FIELDS:
        return RunOrder(Field("run", node.id), descending)
    raise InvalidInput(f"--sort {text!r} is not a field; {SORT_HELP}", field="sort")


def sort_rows(rows: list[Row], text: str) -> list[Row]:
    """``rows`` ordered by the field ``text`` names, low to high, or high to low when it
    starts with ``-``; rows without the field come last either way, numbers before
    text (and lists and tables after text)."""
    return ordered(rows, parse_order(text))
