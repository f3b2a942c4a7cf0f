"""The schema's YAML, written and read line by line for wide schemas, is PyYAML's: the
same text, and the same schema read back, for any schema a person could write."""

from __future__ import annotations

from collections.abc import Callable

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data import _schema_yaml
from loopml.data._schema import YAML_HEADER, ColumnSchema, DriftRule, Schema
from loopml.errors import InvalidInput

names = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
    st.sampled_from(["yes", "No", "null", "on", "OFF", "y", "True", "1x", "a b", "é", "-"]),
    st.text(min_size=1, max_size=8),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e17, 1e-7, 123456789.0, 0.1]),
    st.integers(-(10**20), 10**20),
)
shares = st.one_of(st.floats(0, 1), st.sampled_from([0, 1]))
values = st.one_of(names, st.integers(-5, 5), st.floats(-3, 3), st.booleans())


@st.composite
def columns(draw: st.DrawFn) -> ColumnSchema:
    kind = draw(st.sampled_from(["integer", "float", "string", "boolean", "date"]))
    column = ColumnSchema(
        name=draw(names), type=kind, required=draw(st.booleans()), max_missing=draw(shares)
    )
    if draw(st.booleans()):
        low, high = draw(st.one_of(st.none(), numbers)), draw(st.one_of(st.none(), numbers))
        column = ColumnSchema(**{**vars(column), "min": low, "max": high})
    if draw(st.booleans()):
        domain = tuple(draw(st.lists(values, min_size=1, max_size=4)))
        column = ColumnSchema(**{**vars(column), "domain": domain})
    choice = draw(st.sampled_from(["none", "off", "rule"]))
    if choice == "off":
        column = ColumnSchema(**{**vars(column), "drift_off": True})
    elif choice == "rule":
        rule = DriftRule(draw(st.sampled_from(["psi", "ks"])), draw(st.floats(0, 1)))
        column = ColumnSchema(**{**vars(column), "drift": rule})
    return column


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    found = draw(st.lists(columns(), min_size=1, max_size=6, unique_by=lambda c: c.name))
    severity = draw(st.sampled_from([{}, {"drift": "error"}]))
    label = draw(st.one_of(st.none(), names))
    return Schema(columns=tuple(found), min_rows=draw(st.integers(0, 10**6)), label=label,
                  severity=severity)  # fmt: skip


def pyyaml_text(schema: Schema) -> str:
    text = yaml.dump(schema.to_data(), Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True)
    return YAML_HEADER + text


@settings(max_examples=300, deadline=None)
@given(schemas())
def test_the_text_is_pyyamls_and_reads_back_as_pyyaml_reads_it(schema: Schema) -> None:
    text = schema.to_yaml()
    assert text == pyyaml_text(schema)
    assert read(lambda: Schema.from_yaml(text)) == read(
        lambda: Schema.from_data(yaml.safe_load(text))
    )


@settings(max_examples=100, deadline=None)
@given(schemas(), st.sampled_from(["# edited\n", "  extra: 1\n", "    - 1\n", "columns:\n"]))
def test_text_it_did_not_write_is_read_by_pyyaml(schema: Schema, added: str) -> None:
    text = schema.to_yaml() + added
    fast = _schema_yaml.load(text, header=YAML_HEADER)
    try:
        slow = yaml.safe_load(text)
    except yaml.YAMLError:
        assert fast is None
        return
    assert fast is None or fast == slow


def test_a_wide_schema_is_written_and_read_without_pyyaml_nodes() -> None:
    schema = Schema(
        columns=tuple(
            ColumnSchema(name=f"c{i:05d}", type="float", max_missing=0.01, min=-i / 7, max=i)
            for i in range(20_000)
        )
    )
    text = schema.to_yaml()
    assert _schema_yaml.load(text, header=YAML_HEADER) is not None
    assert text == pyyaml_text(schema)
    assert Schema.from_yaml(text) == schema


def read(parse: Callable[[], Schema]) -> str:
    """The schema read (NaN bounds compare equal in its repr), or the error it gave."""
    try:
        return repr(parse())
    except InvalidInput as error:
        return f"error: {error}"
