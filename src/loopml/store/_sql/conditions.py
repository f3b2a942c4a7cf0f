"""Run conditions and orders (:mod:`loopml.store.query`) as SQL, on SQLite and
PostgreSQL.

A comparison becomes an expression that is true, false, or NULL where SQL cannot
decide exactly as Python does (a list against a list, ``x in`` a list or table held
by a run, two fields holding whole numbers beyond a double's 53 bits): SQL's
three-valued ``and``, ``or`` and ``not`` keep the NULL wherever the answer depends on
it, and the store reads those runs and decides with
:func:`loopml.store.query.matches`. A field's
value is typed at run time — number (a boolean is 1 or 0, as in Python), text, null,
list, table — and only like is compared with like, as Python does.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from loopml.errors import InvalidInput
from loopml.store._sql import schema as t
from loopml.store.query import (
    ABSENT,
    NUMBER,
    OTHER,
    TEXT,
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
)
from loopml.store.values import check_text

Expr = ColumnElement[Any]
# A truth value while it is built: True and False are known now, None is "SQL cannot
# tell" (NULL), an expression is decided by the database.
Truth = Expr | bool | None

UNDECIDED: Truth = None
_NO_NUMBER = sa.cast(sa.null(), sa.Double)  # what a run is not ordered by
_NO_TEXT = sa.cast(sa.null(), sa.Text)
SAFE_INT = 2**53  # whole numbers a double holds exactly
_SQL_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_WHOLE = "^-?[0-9]+$"
# A key SQLite's JSON path can name as '$."key"': printable ASCII but for " and \
# (JSON text is stored with every other character escaped).
_PATH_KEY = re.compile(r"[ !#-\[\]-~]*")


@dataclass
class Typed:
    """An operand in SQL: which kinds of value it may hold (``number``, ``text``,
    ``null``, ``array``, ``object``, ``nan``), a test for each kind (none needed when it
    is the only one), its number and its text, whether the run has it at all, and
    whether its number is exact."""

    kinds: frozenset[str]
    tests: Mapping[str, Expr] = field(default_factory=dict)
    num: Expr | None = None
    txt: Expr | None = None
    present: Truth = True
    sure: Truth = True
    fixed: bool = False  # a finite number given in the condition (not read from a run)

    def is_(self, kind: str) -> Truth:
        if kind not in self.kinds:
            return False
        if len(self.kinds) == 1:
            return True
        return self.tests[kind]


def sql(truth: Truth) -> Expr:
    if truth is True:
        return sa.true()
    if truth is False:
        return sa.false()
    if truth is None:
        return sa.null()
    return truth


def both(*parts: Truth) -> Truth:
    """Kleene ``and``, folding what is known now."""
    left = []
    for part in parts:
        if part is False:
            return False
        if part is not True:
            left.append(part)
    if not left:
        return True
    if all(part is None for part in left):
        return None
    return sa.and_(*(sql(part) for part in left))


def either(*parts: Truth) -> Truth:
    """Kleene ``or``, folding what is known now."""
    left = []
    for part in parts:
        if part is True:
            return True
        if part is not False:
            left.append(part)
    if not left:
        return False
    if all(part is None for part in left):
        return None
    return sa.or_(*(sql(part) for part in left))


def negated(truth: Truth) -> Truth:
    if truth is None:
        return None
    if isinstance(truth, bool):
        return not truth
    return sa.not_(truth)


def choose(branches: Iterable[tuple[Truth, Callable[[], Truth]]], default: Truth) -> Truth:
    """The first branch whose test holds gives the answer (a test that is NULL does
    not hold), else ``default``: a CASE, folded where the tests are known now. An
    answer is made only for a branch that can be taken."""
    kept: list[tuple[Expr, Truth]] = []
    for test, answer in branches:
        if test is False or test is None:
            continue
        if test is True:
            default = answer()
            break
        kept.append((test, answer()))
    if not kept:
        return default
    return sa.case(*((test, sql(answer)) for test, answer in kept), else_=sql(default))


class Translator:
    """Turns conditions and orders into SQL for one dialect; ``exact`` stays true while
    no comparison can come out NULL, so that no run needs checking in Python."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        self.exact = True

    # -- conditions --------------------------------------------------------------------

    def condition(self, node: Condition) -> Expr:
        """``node`` as an expression that is true, false, or NULL for "check in Python"."""
        return sql(self._truth(node))

    def _truth(self, node: Condition) -> Truth:
        if isinstance(node, And):
            return both(*(self._truth(part) for part in node.parts))
        if isinstance(node, Or):
            return either(*(self._truth(part) for part in node.parts))
        if isinstance(node, Not):
            return negated(self._truth(node.part))
        pairs = zip(node.operands, node.operators, node.operands[1:], strict=False)
        return both(*(self._pair(left, op, right) for left, op, right in pairs))

    def _unknown(self, *operands: Operand) -> Truth:
        """NULL (check in Python) for a run that has every field among ``operands``,
        false for one that lacks one: a comparison with a missing field is false."""
        self.exact = False
        present = [self.operand(o).present for o in operands if isinstance(o, Field)]
        return choose([(both(*present), lambda: UNDECIDED)], False)

    def _pair(self, left: Operand, op: str, right: Operand) -> Truth:
        if isinstance(left, Constant) and isinstance(right, Constant):
            return matches(Compare((left, right), (op,)), {})
        if op in ("in", "not in"):
            return self._membership(left, op, right)
        if isinstance(left, Items) or isinstance(right, Items):
            return self._unknown(left, right)
        if not (_bindable(left) and _bindable(right)):
            return self._unknown(left, right)
        fast = self._metric_against_number(left, op, right)
        if fast is not None:
            return fast
        a, b = self.operand(left), self.operand(right)
        if op == "==":
            return self._equal(a, b)
        if op == "!=":
            different = negated(self._equal(a, b))
            return choose([(both(a.present, b.present), lambda: different)], False)
        return self._ordered(a, op, b)

    def _metric_against_number(self, left: Operand, op: str, right: Operand) -> Expr | None:
        """``metrics.auc > 0.9``: one lookup of the latest value, false when there is
        none or it is NaN (stored as NULL)."""
        if op not in _SQL_OPERATORS:
            return None
        if isinstance(right, Field) and isinstance(left, Constant):
            left, right, op = right, left, _FLIPPED[op]
        if not (isinstance(left, Field) and left.scope == "metrics" and _storable(left.key)):
            return None
        if not isinstance(right, Constant) or not isinstance(right.value, int | float):
            return None
        compared = _SQL_OPERATORS[op](_latest(left.key), _number(right.value))
        return sa.func.coalesce(compared, sa.false())

    def _equal(self, a: Typed, b: Typed) -> Truth:
        return choose(
            [
                (both(a.is_("number"), b.is_("number")), lambda: self._sure(a, b, "==")),
                (both(a.is_("text"), b.is_("text")), lambda: _sql_compare(a.txt, "==", b.txt)),
                (both(a.is_("null"), b.is_("null")), lambda: True),
                (both(a.is_("array"), b.is_("array")), self._undecided),
                (both(a.is_("object"), b.is_("object")), self._undecided),
            ],
            False,
        )

    def _ordered(self, a: Typed, op: str, b: Typed) -> Truth:
        return choose(
            [
                (both(a.is_("number"), b.is_("number")), lambda: self._sure(a, b, op)),
                (both(a.is_("text"), b.is_("text")), lambda: self._text_compare(a.txt, op, b.txt)),
                (both(a.is_("array"), b.is_("array")), self._undecided),
            ],
            False,
        )

    def _membership(self, left: Operand, op: str, right: Operand) -> Truth:
        if isinstance(left, Items) or not _bindable(left):
            return self._unknown(left, right)
        a = self.operand(left)
        if isinstance(right, Items):
            if not all(isinstance(i, Constant) and _bindable(i) for i in right.items):
                return self._unknown(left, right)
            found = either(*(self._equal(a, self.operand(item)) for item in right.items))
            if op == "in":
                return found
            return choose([(a.present, lambda: negated(found))], False)
        if isinstance(right, Constant):
            if not isinstance(right.value, str):
                return False  # `x in 5`: a TypeError in Python, so no match
            if not _bindable(right):
                return self._unknown(left, right)
        b = self.operand(right)

        def inside() -> Truth:
            found = self._contains(b.txt, a.txt)
            return found if op == "in" else negated(found)

        return choose(
            [
                (both(a.is_("text"), b.is_("text")), inside),
                (both(a.present, either(b.is_("array"), b.is_("object"))), self._undecided),
            ],
            False,
        )

    def _undecided(self) -> Truth:
        """NULL: the store decides in Python."""
        self.exact = False
        return UNDECIDED

    def _sure(self, a: Typed, b: Typed, op: str) -> Truth:
        """``a op b`` on their numbers; NULL where either may not be exact. Against a
        finite constant (whose magnitude is below 2**53) it always is: a number read
        rounded is rounded away from it, never onto it or past it."""
        compared = _sql_compare(a.num, op, b.num)
        if a.fixed or b.fixed:
            return compared
        sure = both(a.sure, b.sure)
        if sure is True:
            return compared
        self.exact = False
        return choose([(sure, lambda: compared)], UNDECIDED)

    def _text_compare(self, x: Expr | None, op: str, y: Expr | None) -> Expr:
        assert x is not None
        assert y is not None
        if self.postgres and op != "==":
            x = sa.collate(x, "C")  # code point order, as Python compares text
        return _sql_compare(x, op, y)

    def _contains(self, haystack: Expr | None, needle: Expr | None) -> Expr:
        assert haystack is not None
        assert needle is not None
        if self.postgres:
            return sa.func.strpos(haystack, needle) > 0
        return sa.func.instr(haystack, needle) > 0

    # -- operands ----------------------------------------------------------------------

    def operand(self, node: Operand) -> Typed:
        if isinstance(node, Constant):
            return _constant(node.value)
        if isinstance(node, Items):
            raise AssertionError("lists are compared in Python")
        if node.scope == "run":
            return _run_field(node.key)
        if not _storable(node.key):  # no run has a key a store cannot hold
            return Typed(frozenset(), present=False)
        if node.scope == "metrics":
            latest, present = _latest(node.key), _has_metric(node.key)
            tests = {  # a NaN is stored as NULL: there, but not a number
                "number": latest.is_not(None),
                "nan": sa.and_(present, latest.is_(None)),
            }
            return Typed(frozenset({"number", "nan"}), tests, num=latest, present=present)
        return self._json(node.scope, node.key)

    def _json(self, scope: str, key: str) -> Typed:
        column = t.runs.c.params if scope == "params" else t.runs.c.tags
        kinds = frozenset({"number", "text", "null", "array", "object"})
        kind: Expr
        value: Expr
        if self.postgres:
            found = sa.func.jsonb_extract_path(column, sa.literal(key, sa.Text))
            kind = sa.func.jsonb_typeof(found)
            text = sa.func.jsonb_extract_path_text(column, sa.literal(key, sa.Text))
            tests = {
                "number": kind.in_(["number", "boolean"]),
                "text": kind == "string",
                "null": kind == "null",
                "array": kind == "array",
                "object": kind == "object",
            }
            huge = sa.and_(sa.func.length(text) > 310, text.regexp_match(_WHOLE))
            number = sa.case(
                (kind == "boolean", sa.case((text == "true", 1.0), else_=0.0)),
                (  # a whole number beyond a double's range, as the infinity it is near
                    sa.and_(kind == "number", huge),
                    sa.case((text.startswith("-"), -math.inf), else_=math.inf),
                ),
                (kind == "number", sa.cast(text, sa.Double)),
            )
            # a whole number of 16 digits or more may not fit a double exactly
            sure = sa.not_(sa.and_(kind == "number", text.regexp_match("^-?[0-9]{16,}$")))
            return Typed(kinds, tests, number, text, kind.is_not(None), sure)
        if _PATH_KEY.fullmatch(key):
            path = sa.literal(f'$."{key}"', sa.Text)
            kind = sa.func.json_type(column, path)
            value = sa.func.json_extract(column, path)
        else:  # a key a path cannot name: found by the keys json_each decodes
            each = sa.func.json_each(column).table_valued("key", "value", "type")
            kind = sa.select(each.c.type).where(each.c.key == key).scalar_subquery()
            value = sa.select(each.c.value).where(each.c.key == key).scalar_subquery()
        tests = {
            "number": kind.in_(["integer", "real", "true", "false"]),
            "text": kind == "text",
            "null": kind == "null",
            "array": kind == "array",
            "object": kind == "object",
        }
        # a whole number beyond 64 bits is read as a rounded real
        sure = sa.not_(sa.and_(kind == "integer", sa.func.typeof(value) == "real"))
        return Typed(kinds, tests, value, value, kind.is_not(None), sure)

    # -- orders ------------------------------------------------------------------------

    def order(self, order: RunOrder) -> tuple[Expr | None, Expr, Expr]:
        """The group, number and text a run is ordered by (see
        :func:`loopml.store.query.order_value`); the group is None for a metric, whose
        group is whether it has a number."""
        node = order.field
        if node.scope == "run":
            return _run_order(node.key)
        if not _storable(node.key):  # no run has it
            return sa.literal(ABSENT), _NO_NUMBER, _NO_TEXT
        if node.scope == "metrics":
            return None, _latest(node.key), _NO_TEXT
        typed = self._json(node.scope, node.key)
        grouped = choose(
            [
                (typed.is_("number"), lambda: sa.literal(NUMBER)),
                (either(typed.is_("text"), typed.is_("null")), lambda: sa.literal(TEXT)),
                (either(typed.is_("array"), typed.is_("object")), lambda: sa.literal(OTHER)),
            ],
            sa.literal(ABSENT),
        )
        assert typed.num is not None
        assert typed.txt is not None
        number = sa.case((sql(typed.is_("number")), sa.cast(typed.num, sa.Double)))
        text = sa.case(
            (sql(typed.is_("text")), sa.cast(typed.txt, sa.Text)),
            (sql(typed.is_("null")), sa.literal("None", sa.Text)),
        )
        return sql(grouped), number, text

    def text_order(self, text: Expr) -> Expr:
        return sa.collate(text, "C") if self.postgres else text


def _latest(key: str) -> Expr:
    """A run's latest value of metric ``key`` (highest step, then last written); NULL
    when it has none or it is NaN."""
    m = t.metrics.alias("latest")
    return (
        sa.select(m.c.value)
        .where(m.c.run_id == t.runs.c.id, m.c.key == key)
        .order_by(m.c.step.desc(), m.c.at.desc(), m.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _has_metric(key: str) -> Expr:
    m = t.metrics.alias("logged")
    return sa.exists().where(m.c.run_id == t.runs.c.id, m.c.key == key)


def _run_field(key: str) -> Typed:
    if key == "parent":
        column = t.runs.c.parent_id
        tests = {"text": column.is_not(None), "null": column.is_(None)}
        return Typed(frozenset({"text", "null"}), tests, txt=column)
    return Typed(frozenset({"text"}), txt=t.runs.c[key])


def _run_order(key: str) -> tuple[Expr, Expr, Expr]:
    c = t.runs.c
    if key == "started_at":
        return sa.literal(NUMBER), c.started_at, _NO_TEXT
    if key == "seconds":
        took = sa.cast(c.ended_at - c.started_at, sa.Double) / 1_000_000.0
        return sa.case((c.ended_at.is_(None), ABSENT), else_=NUMBER), took, _NO_TEXT
    if key == "parent":
        return sa.case((c.parent_id.is_(None), ABSENT), else_=TEXT), _NO_NUMBER, c.parent_id
    return sa.literal(TEXT), _NO_NUMBER, c[key]


def _constant(value: Any) -> Typed:
    if value is None:
        return Typed(frozenset({"null"}))
    if isinstance(value, str):
        return Typed(frozenset({"text"}), txt=sa.literal(value, sa.Text))
    fixed = math.isfinite(value) and -SAFE_INT < value < SAFE_INT
    return Typed(frozenset({"number"}), num=_number(value), fixed=fixed)


def _number(value: int | float) -> Expr:
    if isinstance(value, float):
        return sa.literal(value, sa.Double)
    return sa.literal(int(value), sa.BigInteger)


def _bindable(node: Operand) -> bool:
    """Whether a constant can be given to the database as it is: not NaN, no whole
    number beyond a double's exact range, no text either database refuses."""
    if not isinstance(node, Constant):
        return True
    value = node.value
    if isinstance(value, float):
        return value == value
    if isinstance(value, int):
        return -SAFE_INT < value < SAFE_INT
    if isinstance(value, str):
        return _storable(value)
    return True


def _storable(text: str) -> bool:
    """Whether both databases take ``text`` (no NUL, no lone surrogate)."""
    try:
        check_text("text", text)
    except InvalidInput:
        return False
    return True


def _sql_compare(x: Expr | None, op: str, y: Expr | None) -> Expr:
    assert x is not None
    assert y is not None
    return _SQL_OPERATORS[op](x, y)  # type: ignore[no-any-return]
