"""The HTML report: self-contained, escaped, in order, one chart per column."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
import polars as pl
import pytest
from planted import PLANTED, UNTOUCHED, current_table, reference_table

from loopml.data import Profile, Validation, infer_schema, profile, validate_profile
from loopml.data._report import SERIES_COLORS, render_report

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}
HOSTILE = '<script>alert(1)</script> "x"'


@dataclass
class Section:
    """What one per-column section holds."""

    id: str
    svgs: int = 0
    rects: dict[str, int] = field(default_factory=dict)  # rect class -> how many
    fills: set[str] = field(default_factory=set)
    text: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """Parses the report strictly: every end tag must close the innermost open element."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.ids: list[str] = []  # in document order
        self.sections: dict[str, Section] = {}  # data-column -> section
        self.rows: dict[str, list[list[str]]] = {}  # id of the enclosing section -> rows
        self.links: dict[str, list[list[str]]] = {}  # the same rows' link targets
        self.text: list[str] = []
        self.feed(text)
        self.close()
        assert not self.stack, f"unclosed elements: {[tag for tag, _ in self.stack]}"

    def _enclosing(self, key: str) -> str | None:
        return next((attrs[key] for _, attrs in reversed(self.stack) if key in attrs), None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        self.attributes += [(tag, k, v) for k, v in named.items()]
        if "id" in named:
            self.ids.append(named["id"])
        if "data-column" in named:
            self.sections[named["data-column"]] = Section(named.get("id", ""))
        column = self._enclosing("data-column")
        if column is not None:
            section = self.sections[column]
            section.svgs += tag == "svg"
            if tag == "rect":
                key = named.get("class", "")
                section.rects[key] = section.rects.get(key, 0) + 1
                section.fills.add(named.get("fill", ""))
        where = self._enclosing("id") or ""
        if tag == "tr":
            self.rows.setdefault(where, []).append([])
            self.links.setdefault(where, []).append([])
        elif tag in ("td", "th") and self.rows.get(where):
            self.rows[where][-1].append("")
        elif tag == "a" and self.links.get(where):
            self.links[where][-1].append(named.get("href", ""))
        if tag not in VOID:
            self.stack.append((tag, named))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        open_tags = [t for t, _ in self.stack]
        assert open_tags, f"</{tag}> closes nothing"
        assert open_tags[-1] == tag, (tag, open_tags)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        column = self._enclosing("data-column")
        if column is not None:
            self.sections[column].text.append(data)
        where = self._enclosing("id") or ""
        if self.rows.get(where) and self.rows[where][-1] and self._enclosing_tag() in ("td", "th"):
            self.rows[where][-1][-1] += data

    def _enclosing_tag(self) -> str | None:
        return next((t for t, _ in reversed(self.stack) if t in ("td", "th", "tr")), None)


@pytest.fixture(scope="module")
def planted() -> tuple[Validation, Profile, Profile]:
    reference = profile(reference_table(100_000), label="label")
    current = profile(current_table(100_000), label="label")
    validation = validate_profile(current, schema=infer_schema(reference), reference=reference)
    return validation, current, reference


@pytest.fixture(scope="module")
def page(planted: tuple[Validation, Profile, Profile]) -> str:
    validation, current, reference = planted
    return render_report(
        validation,
        title="planted@v2 validated against planted@v1",
        current=current,
        reference=reference,
        schema=infer_schema(reference),
        created_at="2025-06-01T12:00:00+00:00",
    )


def test_the_page_parses_and_fetches_nothing(page: str) -> None:
    parsed = Page(page)
    for tag, name, value in parsed.attributes:
        text = value.strip().lower()
        assert not text.startswith(("http:", "https:", "//", "javascript:")), (tag, name, value)
        assert "url(" not in text, (tag, name, value)
    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.IGNORECASE)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert len(parsed.ids) == len(set(parsed.ids))  # anchors are unique


def test_the_header_gives_title_time_verdict_and_rows(page: str) -> None:
    validation = Page(page)
    header = " ".join(" ".join(validation.text).split())
    assert "planted@v2 validated against planted@v1" in header
    assert "2025-06-01T12:00:00+00:00" in header
    assert "Failed 1 error, 6 warnings" in header
    assert "current: 100,000 rows" in header
    assert "reference: 100,000 rows" in header


def test_anomalies_come_first_and_link_to_their_columns(
    page: str, planted: tuple[Validation, Profile, Profile]
) -> None:
    validation = planted[0]
    parsed = Page(page)
    sections = [parsed.sections[name].id for name in parsed.sections]
    assert parsed.ids.index("anomalies") < parsed.ids.index("drift")
    assert parsed.ids.index("drift") < min(parsed.ids.index(i) for i in sections)
    rows = parsed.rows["anomalies"][1:]  # after the header row
    assert len(rows) == len(validation.anomalies)
    for row, links, anomaly in zip(
        rows, parsed.links["anomalies"][1:], validation.anomalies, strict=True
    ):
        assert row[:3] == [anomaly.severity, anomaly.kind, anomaly.column]
        assert links == [f"#{parsed.sections[str(anomaly.column)].id}"]
    order = {"error": 0, "warning": 1}
    assert [row[0] for row in rows] == sorted((row[0] for row in rows), key=order.__getitem__)
    for column in PLANTED:  # every planted change is listed and its section marked
        assert any(row[2] == column for row in rows)
        assert "anomal" in "".join(parsed.sections[column].text)
    assert "anomal" not in "".join(parsed.sections["normal"].text)


def test_the_drift_table_has_every_compared_column(
    page: str, planted: tuple[Validation, Profile, Profile]
) -> None:
    validation = planted[0]
    parsed = Page(page)
    header, *rows = parsed.rows["drift"]
    assert header[:5] == ["column", "method", "statistic", "threshold", "drifted"]
    by_column = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_column) == {d.column for d in validation.drift} >= set(UNTOUCHED)
    for drift in validation.drift:
        assert by_column[drift.column]["drifted"] == ("yes" if drift.drifted else "no")
        assert by_column[drift.column]["method"] == drift.method
    p_values = [row[key] for row in by_column.values() for key in ("ks_p", "chisquare_p")]
    # One test per column whose effect reaches its threshold; the others cannot drift.
    tested = [d for d in validation.drift if d.p_value is not None]
    assert {d.column for d in tested} == {d.column for d in validation.drift if d.drifted}
    assert len([p for p in p_values if p]) == len(tested)
    for p_value in filter(None, p_values):  # in scientific notation (or exactly 0)
        assert re.fullmatch(r"\d\.\d\de[-+]\d\d|0", p_value), p_value
    shifted = by_column["mean_shift"]
    assert float(shifted["ks_p"]) < 1e-6
    distance = shifted["wasserstein"].split(" \u00b1 ")[0]  # its bound after it
    assert float(distance) == pytest.approx(0.25, abs=0.03)
    assert shifted["linf"] == ""  # a categorical measure: blank for a numeric column


def test_every_column_has_a_section_with_a_chart(
    page: str, planted: tuple[Validation, Profile, Profile]
) -> None:
    parsed = Page(page)
    assert list(parsed.sections) == planted[1].names
    for name, section in parsed.sections.items():
        assert section.svgs == 1, name
        assert sum(section.rects.values()) > 0, name


def test_compared_columns_draw_reference_and_current(page: str) -> None:
    parsed = Page(page)
    numeric = parsed.sections["mean_shift"]
    assert numeric.rects == {"ref": 30, "cur": 30}  # the 30 common bins, both versions
    assert numeric.fills == set(SERIES_COLORS.values())
    categorical = parsed.sections["category_proportions"]
    assert categorical.rects == {"ref": 4, "cur": 4}
    assert parsed.sections["new_category"].rects == {"ref": 5, "cur": 5}  # 'central' too


def test_without_a_reference_the_current_histograms_are_drawn(
    planted: tuple[Validation, Profile, Profile],
) -> None:
    _, current, reference = planted
    validation = validate_profile(current, schema=infer_schema(reference))
    page = render_report(validation, title="planted@v2", current=current)
    parsed = Page(page)
    assert "No reference to compare with" in " ".join(parsed.text)
    assert list(parsed.sections) == current.names
    for name, section in parsed.sections.items():
        assert set(section.rects) == {"cur"}, name
    histogram = current.column("normal").histogram
    assert histogram is not None
    assert parsed.sections["normal"].rects["cur"] == len(histogram.counts)
    assert parsed.sections["region"].rects["cur"] == 4
    assert parsed.rows["anomalies"][1][2] == "added_nulls"  # schema anomalies still listed


def test_a_passed_validation_says_so() -> None:
    table = reference_table(2_000)
    same = profile(table)
    page = render_report(
        validate_profile(same, reference=same),
        title="same@v1 against itself",
        current=same,
        reference=same,
    )
    text = " ".join(" ".join(Page(page).text).split())
    assert "Passed 0 errors, 0 warnings" in text
    assert "No anomalies" in text
    assert "Failed" not in text


def test_hostile_names_and_values_are_escaped() -> None:
    rng = np.random.default_rng(3)
    names = [HOSTILE, "a b", "a-b", "naïve ünïcode", "&amp;"]
    before = pl.DataFrame({name: rng.normal(0, 1, 2_000) for name in names}).with_columns(
        pl.Series("values", rng.choice(["<b>bold</b>", "x' onmouseover='y"], 2_000))
    )
    after = before.with_columns(pl.col(HOSTILE) + 1)
    reference, current = profile(before), profile(after)
    validation = validate_profile(current, reference=reference)
    assert any(a.column == HOSTILE for a in validation.anomalies)
    page = render_report(
        validation, title=f"{HOSTILE} report", current=current, reference=reference
    )
    assert "<script" not in page.lower()
    assert "<b>bold" not in page
    assert "x' on" not in page
    assert html.escape(HOSTILE) in page
    parsed = Page(page)
    assert set(parsed.sections) == {*names, "values"}  # the raw names, after unescaping
    assert HOSTILE in " ".join(parsed.text)
    assert "<b>bold</b>" in " ".join(parsed.text)
    for tag, name, value in parsed.attributes:
        if name == "id":
            assert re.fullmatch(r"[a-z][a-z0-9-]*", value), value
        assert not name.startswith("on"), (tag, name)
    row = next(r for r in parsed.rows["anomalies"][1:] if r[1] == "drift")
    assert row[2] == HOSTILE
    assert HOSTILE in row[3]
    assert parsed.links["anomalies"][parsed.rows["anomalies"].index(row)] == [
        f"#{parsed.sections[HOSTILE].id}"
    ]


def test_unusual_columns_still_get_a_section() -> None:
    """Empty, temporal and reference-only columns: a section and an SVG each."""
    before = pl.DataFrame(
        {
            "gone": [1.0, 2.0, 3.0, 4.0],
            "empty": pl.Series([None, None, None, None], dtype=pl.Float64),
            "day": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 1, 4), eager=True),
            "flag": [True, False, True, True],
        }
    )
    after = before.drop("gone")
    reference, current = profile(before), profile(after)
    page = render_report(
        validate_profile(current, reference=reference),
        title="odd",
        current=current,
        reference=reference,
    )
    parsed = Page(page)
    assert set(parsed.sections) == {"gone", "empty", "day", "flag"}
    assert all(section.svgs == 1 for section in parsed.sections.values())
    assert "Not in the current table" in "".join(parsed.sections["gone"].text)
    assert set(parsed.sections["gone"].rects) == {"ref"}  # its reference histogram
    assert "2024-01-01" in "".join(parsed.sections["day"].text)
    assert "no values to draw" in "".join(parsed.sections["empty"].text)
    assert parsed.rows["anomalies"][1][:3] == ["error", "missing_column", "gone"]


def test_a_bounded_distance_is_shown_with_its_bound() -> None:
    rng = np.random.default_rng(21)
    before = profile(pl.DataFrame({"x": rng.standard_t(2.5, 50_000)}))
    after = profile(pl.DataFrame({"x": rng.standard_t(2.5, 50_000) + 0.3}))
    validation = validate_profile(after, reference=before)
    page = render_report(validation, title="t", current=after, reference=before)
    header, row = Page(page).rows["drift"]
    shown = dict(zip(header, row, strict=True))
    assert "wasserstein_bound" not in shown  # shown with the distance, not on its own
    value, bound = (float(part) for part in shown["wasserstein"].split(" \u00b1 "))
    (drift,) = validation.drift
    assert value == pytest.approx(drift.measures["wasserstein"], rel=0.01)
    assert bound == pytest.approx(drift.measures["wasserstein_bound"], rel=0.01)
